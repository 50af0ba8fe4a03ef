/*
 * test_spec_vectors.c - the non-normative examples of the MQTT 3.1.1 and 5.0 specifications,
 * byte for byte: each packet is encoded and compared whole, then decoded back.
 */
#include "harness.h"

/*
 * MQTT 3.1.1 section 3.1.2.10, figure 3.6: protocol name "MQTT", level 4, connect flags 0xCE
 * (user name, password, will QoS 1, will flag, clean session), keep alive 10. The payload (client
 * id "id", will topic "w", will message "p", user name "u", password "pw") is ours.
 */
static void spec_v311_connect_variable_header_example(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    static const uint8_t vector[] = {0x10, 0x1B, 0x00, 0x04, 'M', 'Q',  'T',  'T',  0x04, 0xCE,
                                     0x00, 0x0A, 0x00, 0x02, 'i', 'd',  0x00, 0x01, 'w',  0x00,
                                     0x01, 'p',  0x00, 0x01, 'u', 0x00, 0x02, 'p',  'w'};

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_CONNECT;
    p.u.connect.version = MOTE_V311;
    p.u.connect.clean_start = 1;
    p.u.connect.keep_alive = 10;
    p.u.connect.client_id = MOTE_SLICE_STR("id");
    p.u.connect.will = 1;
    p.u.connect.will_qos = 1;
    p.u.connect.will_topic = MOTE_SLICE_STR("w");
    p.u.connect.will_payload = MOTE_SLICE_STR("p");
    p.u.connect.has_username = 1;
    p.u.connect.username = MOTE_SLICE_STR("u");
    p.u.connect.has_password = 1;
    p.u.connect.password = MOTE_SLICE_STR("pw");
    harness_encodes_to(&p, MOTE_V311, vector, sizeof vector, __FILE__, __LINE__);

    /* and the spec's bytes decode to the same fields */
    r.wire = guard_in(vector, sizeof vector);
    assert_rc(mote_codec_decode(r.wire, sizeof vector, MOTE_V311, &r.pkt), MOTE_OK);
    assert_packet(&r.pkt, &p, MOTE_V311, r.wire, sizeof vector);
}

/*
 * MQTT 5.0 section 3.1.2.11, figure 3-7: level 5, flags 0xCE, keep alive 10, property length 5,
 * Session Expiry Interval (0x11) 10. Payload as above, with an empty will property block.
 */
static void spec_v5_connect_variable_header_example(void **state)
{
    struct mote_packet p;
    struct mote_prop expiry = prop_num(MOTE_PROP_SESSION_EXPIRY, 10);
    struct roundtrip r;
    static const uint8_t vector[] = {0x10, 0x22, 0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05,
                                     0xCE, 0x00, 0x0A, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A,
                                     0x00, 0x02, 'i',  'd',  0x00, 0x00, 0x01, 'w',  0x00,
                                     0x01, 'p',  0x00, 0x01, 'u',  0x00, 0x02, 'p',  'w'};

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_CONNECT;
    p.u.connect.version = MOTE_V5;
    p.u.connect.clean_start = 1;
    p.u.connect.keep_alive = 10;
    p.u.connect.props = props_of(&expiry, 1);
    p.u.connect.client_id = MOTE_SLICE_STR("id");
    p.u.connect.will = 1;
    p.u.connect.will_qos = 1;
    p.u.connect.will_topic = MOTE_SLICE_STR("w");
    p.u.connect.will_payload = MOTE_SLICE_STR("p");
    p.u.connect.has_username = 1;
    p.u.connect.username = MOTE_SLICE_STR("u");
    p.u.connect.has_password = 1;
    p.u.connect.password = MOTE_SLICE_STR("pw");
    harness_encodes_to(&p, MOTE_V5, vector, sizeof vector, __FILE__, __LINE__);

    r.wire = guard_in(vector, sizeof vector);
    assert_rc(mote_codec_decode(r.wire, sizeof vector, MOTE_V5, &r.pkt), MOTE_OK);
    assert_packet(&r.pkt, &p, MOTE_V5, r.wire, sizeof vector);
}

/* MQTT 3.1.1 section 1.5.3.1 / 5.0 section 1.5.4, figure 1-1: "A\u{2A6D4}" is 00 05 41 F0 AA 9B 94.
 */
static void spec_utf8_string_example(void **state)
{
    struct mote_packet p;
    struct mote_prop ct = prop_str(MOTE_PROP_CONTENT_TYPE, "A\xF0\xAA\x9B\x94");

    (void)state;
    assert_rc(mote_utf8_check((const uint8_t *)"A\xF0\xAA\x9B\x94", 5), MOTE_OK);
    memset(&p, 0, sizeof p);
    p.type = MOTE_PUBLISH;
    p.u.publish.topic = MOTE_SLICE_STR("A\xF0\xAA\x9B\x94");
    assert_encodes_to(&p, MOTE_V311, 0x30, 0x07, 0x00, 0x05, 0x41, 0xF0, 0xAA, 0x9B, 0x94);
    /* the same string as a property value */
    p.u.publish.topic = MOTE_SLICE_STR("t");
    p.u.publish.props = props_of(&ct, 1);
    assert_encodes_to(&p, MOTE_V5, 0x30, 0x0C, 0x00, 0x01, 't', 0x08, 0x03, 0x00, 0x05, 0x41, 0xF0,
                      0xAA, 0x9B, 0x94);
}

/* MQTT 3.1.1 section 3.3.2.3, figure 3.11 / 5.0 figure 3-9: topic "a/b", packet identifier 10. */
static void spec_publish_variable_header_example(void **state)
{
    struct mote_packet p;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_PUBLISH;
    p.u.publish.qos = 1;
    p.u.publish.topic = MOTE_SLICE_STR("a/b");
    p.u.publish.packet_id = 10;
    assert_encodes_to(&p, MOTE_V311, 0x32, 0x07, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x0A);
    assert_encodes_to(&p, MOTE_V5, 0x32, 0x08, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x0A, 0x00);
}

/*
 * MQTT 3.1.1 section 3.8.3, figure 3.22 (and 5.0 figure 3-22): "a/b" QoS 1, "c/d" QoS 2, with
 * packet identifier 10 (3.1.1 figure 3.21) and in 5.0 an empty property block (figure 3-21).
 */
static void spec_subscribe_payload_example(void **state)
{
    struct mote_subscription subs[2];
    struct mote_packet p;

    (void)state;
    memset(subs, 0, sizeof subs);
    subs[0].filter = MOTE_SLICE_STR("a/b");
    subs[0].qos = 1;
    subs[1].filter = MOTE_SLICE_STR("c/d");
    subs[1].qos = 2;
    memset(&p, 0, sizeof p);
    p.type = MOTE_SUBSCRIBE;
    p.u.subscribe.packet_id = 10;
    p.u.subscribe.list = subs;
    p.u.subscribe.count = 2;
    assert_encodes_to(&p, MOTE_V311, 0x82, 0x0E, 0x00, 0x0A, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x01,
                      0x00, 0x03, 0x63, 0x2F, 0x64, 0x02);
    assert_encodes_to(&p, MOTE_V5, 0x82, 0x0F, 0x00, 0x0A, 0x00, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x01,
                      0x00, 0x03, 0x63, 0x2F, 0x64, 0x02);
}

/* MQTT 3.1.1 section 3.9.3, figure 3.26: return codes 0x00, 0x01, 0x02 and 0x80 (failure). */
static void spec_suback_return_codes_example(void **state)
{
    static const uint8_t codes[] = {0x00, 0x01, 0x02, 0x80};
    static const uint8_t figure[] = {0x00, 0x02, 0x80};
    struct mote_packet p;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_SUBACK;
    p.u.suback.packet_id = 10;
    p.u.suback.codes = codes;
    p.u.suback.count = sizeof codes;
    assert_encodes_to(&p, MOTE_V311, 0x90, 0x06, 0x00, 0x0A, 0x00, 0x01, 0x02, 0x80);
    p.u.suback.codes = figure;
    p.u.suback.count = sizeof figure;
    assert_encodes_to(&p, MOTE_V311, 0x90, 0x05, 0x00, 0x0A, 0x00, 0x02, 0x80);
    assert_encodes_to(&p, MOTE_V5, 0x90, 0x06, 0x00, 0x0A, 0x00, 0x00, 0x02, 0x80);
}

/* MQTT 3.1.1 section 3.10.3, figure 3.30 (5.0 figure 3-29): "a/b" and "c/d". */
static void spec_unsubscribe_payload_example(void **state)
{
    struct mote_slice filters[2];
    struct mote_packet p;

    (void)state;
    filters[0] = MOTE_SLICE_STR("a/b");
    filters[1] = MOTE_SLICE_STR("c/d");
    memset(&p, 0, sizeof p);
    p.type = MOTE_UNSUBSCRIBE;
    p.u.unsubscribe.packet_id = 10;
    p.u.unsubscribe.list = filters;
    p.u.unsubscribe.count = 2;
    assert_encodes_to(&p, MOTE_V311, 0xA2, 0x0C, 0x00, 0x0A, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00,
                      0x03, 0x63, 0x2F, 0x64);
    assert_encodes_to(&p, MOTE_V5, 0xA2, 0x0D, 0x00, 0x0A, 0x00, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00,
                      0x03, 0x63, 0x2F, 0x64);
}

/* The fixed-size packets of MQTT 3.1.1 (sections 3.2, 3.4-3.7, 3.11-3.14). */
static void spec_v311_fixed_size_packets(void **state)
{
    struct mote_packet p;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_PINGREQ;
    assert_encodes_to(&p, MOTE_V311, 0xC0, 0x00);
    p.type = MOTE_PINGRESP;
    assert_encodes_to(&p, MOTE_V311, 0xD0, 0x00);
    p.type = MOTE_DISCONNECT;
    assert_encodes_to(&p, MOTE_V311, 0xE0, 0x00);
    p.type = MOTE_CONNACK;
    assert_encodes_to(&p, MOTE_V311, 0x20, 0x02, 0x00, 0x00);
    memset(&p, 0, sizeof p);
    p.type = MOTE_UNSUBACK;
    p.u.suback.packet_id = 10;
    assert_encodes_to(&p, MOTE_V311, 0xB0, 0x02, 0x00, 0x0A);
    memset(&p, 0, sizeof p);
    p.u.ack.packet_id = 10;
    p.type = MOTE_PUBACK;
    assert_encodes_to(&p, MOTE_V311, 0x40, 0x02, 0x00, 0x0A);
    p.type = MOTE_PUBREC;
    assert_encodes_to(&p, MOTE_V311, 0x50, 0x02, 0x00, 0x0A);
    p.type = MOTE_PUBREL;
    assert_encodes_to(&p, MOTE_V311, 0x62, 0x02, 0x00, 0x0A);
    p.type = MOTE_PUBCOMP;
    assert_encodes_to(&p, MOTE_V311, 0x70, 0x02, 0x00, 0x0A);
}

/* MQTT 5.0 section 3.2: a CONNACK always carries its property length. */
static void spec_v5_connack_carries_a_property_length(void **state)
{
    struct mote_packet p;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_CONNACK;
    assert_encodes_to(&p, MOTE_V5, 0x20, 0x03, 0x00, 0x00, 0x00);
    p.u.connack.session_present = 1;
    assert_encodes_to(&p, MOTE_V5, 0x20, 0x03, 0x01, 0x00, 0x00);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_v311_connect_variable_header_example),
        cmocka_unit_test(spec_v5_connect_variable_header_example),
        cmocka_unit_test(spec_utf8_string_example),
        cmocka_unit_test(spec_publish_variable_header_example),
        cmocka_unit_test(spec_subscribe_payload_example),
        cmocka_unit_test(spec_suback_return_codes_example),
        cmocka_unit_test(spec_unsubscribe_payload_example),
        cmocka_unit_test(spec_v311_fixed_size_packets),
        cmocka_unit_test(spec_v5_connack_carries_a_property_length),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
