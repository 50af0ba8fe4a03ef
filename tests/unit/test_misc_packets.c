/*
 * test_misc_packets.c - PINGREQ, PINGRESP, DISCONNECT and AUTH, every one of the 15 packet types
 * round-tripped in both protocol versions, and the protocol version argument.
 */
#include "harness.h"

static const uint8_t one_code[] = {0x01};
static struct mote_subscription one_sub;
static struct mote_slice one_filter;

/* A typical packet of each type, for @p version. */
static void sample(uint8_t type, uint8_t version, struct mote_packet *p)
{
    memset(p, 0, sizeof *p);
    p->type = type;
    switch (type) {
    case MOTE_CONNECT:
        p->u.connect.version = version;
        p->u.connect.clean_start = 1;
        p->u.connect.keep_alive = 30;
        p->u.connect.client_id = MOTE_SLICE_STR("c1");
        p->u.connect.has_username = 1;
        p->u.connect.username = MOTE_SLICE_STR("u");
        break;
    case MOTE_CONNACK:
        p->u.connack.session_present = 1;
        break;
    case MOTE_PUBLISH:
        p->u.publish.qos = 1;
        p->u.publish.packet_id = 2;
        p->u.publish.topic = MOTE_SLICE_STR("a/b");
        p->u.publish.payload = MOTE_SLICE_STR("x");
        break;
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP:
        p->u.ack.packet_id = 3;
        break;
    case MOTE_SUBSCRIBE:
        memset(&one_sub, 0, sizeof one_sub);
        one_sub.filter = MOTE_SLICE_STR("a/+");
        one_sub.qos = 1;
        p->u.subscribe.packet_id = 4;
        p->u.subscribe.list = &one_sub;
        p->u.subscribe.count = 1;
        break;
    case MOTE_SUBACK:
        p->u.suback.packet_id = 4;
        p->u.suback.codes = one_code;
        p->u.suback.count = 1;
        break;
    case MOTE_UNSUBSCRIBE:
        one_filter = MOTE_SLICE_STR("a/+");
        p->u.unsubscribe.packet_id = 5;
        p->u.unsubscribe.list = &one_filter;
        p->u.unsubscribe.count = 1;
        break;
    case MOTE_UNSUBACK:
        p->u.suback.packet_id = 5;
        if (version == MOTE_V5) {
            p->u.suback.codes = (const uint8_t *)"\x00";
            p->u.suback.count = 1;
        }
        break;
    case MOTE_AUTH:
        p->u.reason.reason = MOTE_RC_CONTINUE_AUTH;
        break;
    default:
        break;
    }
}

static void every_packet_type_round_trips_in_mqtt_3_1_1_and_5(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    uint8_t type;
    size_t v;

    (void)state;
    for (v = 0; v < sizeof harness_versions; v++) {
        for (type = MOTE_CONNECT; type <= MOTE_AUTH; type++) {
            if (type == MOTE_AUTH && harness_versions[v] != MOTE_V5)
                continue;
            harness_set_context(mote_packet_name(type), harness_versions[v] == MOTE_V5     ? "5.0"
                                                        : harness_versions[v] == MOTE_V311 ? "3.1.1"
                                                                                           : "3.1");
            sample(type, harness_versions[v], &p);
            roundtrip(&p, harness_versions[v], &r);
        }
    }
    harness_set_context("", NULL);
}

static void auth_before_mqtt_5_is_a_packet_type_error(void **state)
{
    struct mote_packet p;
    struct mote_frame f;
    static const uint8_t auth[] = {0xF0, 0x00};

    (void)state;
    /* Framing does not know the version; decoding does. */
    assert_rc(frame_guarded(auth, sizeof auth, 0, &f), MOTE_OK);
    expect_decode(MOTE_V311, MOTE_ERR_PACKET_TYPE, 0xF0, 0x00);
    expect_decode(MOTE_V31, MOTE_ERR_PACKET_TYPE, 0xF0, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_PACKET_TYPE, 0xF0, 0x02, 0x18, 0x00);
    sample(MOTE_AUTH, MOTE_V311, &p);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_PACKET_TYPE);
    assert_encode_rc(&p, MOTE_V31, MOTE_ERR_PACKET_TYPE);
}

static void encoding_packet_type_0_or_16_is_a_packet_type_error(void **state)
{
    struct mote_packet p;

    (void)state;
    memset(&p, 0, sizeof p);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_PACKET_TYPE);
    p.type = 16;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PACKET_TYPE);
}

static void pingreq_and_pingresp_are_two_bytes_in_every_version(void **state)
{
    struct mote_packet p;
    size_t v;

    (void)state;
    for (v = 0; v < sizeof harness_versions; v++) {
        memset(&p, 0, sizeof p);
        p.type = MOTE_PINGREQ;
        assert_encodes_to(&p, harness_versions[v], 0xC0, 0x00);
        p.type = MOTE_PINGRESP;
        assert_encodes_to(&p, harness_versions[v], 0xD0, 0x00);
    }
}

static void ping_with_a_body_has_trailing_bytes(void **state)
{
    (void)state;
    expect_decode(MOTE_V311, MOTE_ERR_TRAILING_BYTES, 0xC0, 0x01, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_TRAILING_BYTES, 0xD0, 0x01, 0x00);
}

static void disconnect_v311_is_empty(void **state)
{
    struct mote_packet p;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_DISCONNECT;
    assert_encodes_to(&p, MOTE_V311, 0xE0, 0x00);
    assert_encodes_to(&p, MOTE_V31, 0xE0, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_TRAILING_BYTES, 0xE0, 0x01, 0x00);
    p.u.reason.reason = MOTE_RC_UNSPECIFIED;
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_REASON_CODE);
}

static void disconnect_v5_every_reason_round_trips(void **state)
{
    static const uint8_t codes[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8C,
                                    0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
                                    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
    struct mote_prop props[4];
    struct mote_packet p;
    struct roundtrip r;
    size_t i;

    (void)state;
    props[0] = prop_num(MOTE_PROP_SESSION_EXPIRY, 0);
    props[1] = prop_str(MOTE_PROP_REASON_STRING, "bye");
    props[2] = prop_str(MOTE_PROP_SERVER_REFERENCE, "other.example:8883");
    props[3] = prop_pair("k", "v");
    for (i = 0; i < sizeof codes; i++) {
        memset(&p, 0, sizeof p);
        p.type = MOTE_DISCONNECT;
        p.u.reason.reason = codes[i];
        roundtrip(&p, MOTE_V5, &r);
        p.u.reason.props = props_of(props, 4);
        roundtrip(&p, MOTE_V5, &r);
    }
}

static void disconnect_and_auth_v5_short_forms_decode(void **state)
{
    struct mote_packet p;
    const uint8_t *in;
    int rc;

    (void)state;
    /* Remaining length 0: normal disconnection / success, no properties. */
    in = decode_body(0xE0, NULL, 0, MOTE_V5, &p, &rc);
    (void)in;
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.u.reason.reason, 0);
    assert_int_equal(p.u.reason.props.raw.len, 0);
    decode_body(0xF0, NULL, 0, MOTE_V5, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.type, MOTE_AUTH);
    assert_int_equal(p.u.reason.reason, 0);
    /* Remaining length 1: a reason code without a property length. */
    decode_body(0xE0, (const uint8_t *)"\x8E", 1, MOTE_V5, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.u.reason.reason, 0x8E);
    decode_body(0xF0, (const uint8_t *)"\x19", 1, MOTE_V5, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.u.reason.reason, 0x19);
}

static void auth_v5_every_reason_round_trips_with_method_and_data(void **state)
{
    static const uint8_t codes[] = {0x00, 0x18, 0x19};
    struct mote_prop props[4];
    struct mote_packet p;
    struct roundtrip r;
    size_t i;

    (void)state;
    props[0] = prop_str(MOTE_PROP_AUTH_METHOD, "SCRAM-SHA-256");
    props[1] = prop_num(MOTE_PROP_AUTH_DATA, 0);
    props[1].v.str = MOTE_SLICE_STR("\x00\x01\x02\xFF");
    props[2] = prop_str(MOTE_PROP_REASON_STRING, "more");
    props[3] = prop_pair("k", "v");
    for (i = 0; i < sizeof codes; i++) {
        memset(&p, 0, sizeof p);
        p.type = MOTE_AUTH;
        p.u.reason.reason = codes[i];
        roundtrip(&p, MOTE_V5, &r);
        p.u.reason.props = props_of(props, 4);
        roundtrip(&p, MOTE_V5, &r);
    }
}

static void disconnect_and_auth_reason_codes_outside_their_tables(void **state)
{
    struct mote_packet p;

    (void)state;
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0xF0, 0x02, 0x80, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0xF0, 0x01, 0x01);
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0xE0, 0x01, 0x01);
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0xE0, 0x01, 0x18);
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0xE0, 0x02, 0x84, 0x00);
    memset(&p, 0, sizeof p);
    p.type = MOTE_AUTH;
    p.u.reason.reason = MOTE_RC_UNSPECIFIED;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_REASON_CODE);
    p.type = MOTE_DISCONNECT;
    p.u.reason.reason = MOTE_RC_CONTINUE_AUTH;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_REASON_CODE);
}

static void disconnect_and_auth_property_block_errors(void **state)
{
    (void)state;
    expect_decode(MOTE_V5, MOTE_ERR_TRUNCATED, 0xE0, 0x02, 0x00, 0x03);
    expect_decode(MOTE_V5, MOTE_ERR_TRAILING_BYTES, 0xE0, 0x03, 0x00, 0x00, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_TRAILING_BYTES, 0xF0, 0x03, 0x18, 0x00, 0x00);
}

static void version_argument_other_than_3_4_5(void **state)
{
    static const uint8_t bad[] = {0, 1, 2, 6, 255};
    static const uint8_t ping[] = {0xC0, 0x00};
    static const uint8_t puback[] = {0x40, 0x02, 0x00, 0x01};
    struct mote_packet p, q;
    size_t i, size;

    (void)state;
    for (i = 0; i < sizeof bad; i++) {
        assert_rc(decode_guarded(ping, sizeof ping, bad[i], &q), MOTE_ERR_VERSION);
        assert_rc(decode_guarded(puback, sizeof puback, bad[i], &q), MOTE_ERR_VERSION);
        sample(MOTE_PUBLISH, MOTE_V5, &p);
        assert_rc(mote_codec_size(&p, bad[i], &size), MOTE_ERR_VERSION);
        assert_rc(encode_guarded(&p, bad[i], 64, NULL, NULL), MOTE_ERR_VERSION);
        sample(MOTE_PINGREQ, MOTE_V5, &p);
        assert_rc(encode_guarded(&p, bad[i], 64, NULL, NULL), MOTE_ERR_VERSION);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_packet_type_round_trips_in_mqtt_3_1_1_and_5),
        cmocka_unit_test(auth_before_mqtt_5_is_a_packet_type_error),
        cmocka_unit_test(encoding_packet_type_0_or_16_is_a_packet_type_error),
        cmocka_unit_test(pingreq_and_pingresp_are_two_bytes_in_every_version),
        cmocka_unit_test(ping_with_a_body_has_trailing_bytes),
        cmocka_unit_test(disconnect_v311_is_empty),
        cmocka_unit_test(disconnect_v5_every_reason_round_trips),
        cmocka_unit_test(disconnect_and_auth_v5_short_forms_decode),
        cmocka_unit_test(auth_v5_every_reason_round_trips_with_method_and_data),
        cmocka_unit_test(disconnect_and_auth_reason_codes_outside_their_tables),
        cmocka_unit_test(disconnect_and_auth_property_block_errors),
        cmocka_unit_test(version_argument_other_than_3_4_5),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
