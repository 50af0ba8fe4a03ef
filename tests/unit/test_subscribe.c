/*
 * test_subscribe.c - SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK in MQTT 3.1, 3.1.1 and 5.0:
 * round trips, subscription options, the filter iterators, and the rules these packets can break.
 */
#include "harness.h"

static struct mote_subscription subs[4];
static struct mote_slice filters[3];

static void subscribe(struct mote_packet *p, size_t count)
{
    memset(p, 0, sizeof *p);
    memset(subs, 0, sizeof subs);
    subs[0].filter = MOTE_SLICE_STR("sport/tennis/+");
    subs[0].qos = 0;
    subs[1].filter = MOTE_SLICE_STR("sport/#");
    subs[1].qos = 1;
    subs[2].filter = MOTE_SLICE_STR("$share/g/a/+/#");
    subs[2].qos = 2;
    subs[3].filter = MOTE_SLICE_STR("/");
    subs[3].qos = 1;
    p->type = MOTE_SUBSCRIBE;
    p->u.subscribe.packet_id = 42;
    p->u.subscribe.list = subs;
    p->u.subscribe.count = count;
}

static void unsubscribe(struct mote_packet *p, size_t count)
{
    memset(p, 0, sizeof *p);
    filters[0] = MOTE_SLICE_STR("sport/tennis/+");
    filters[1] = MOTE_SLICE_STR("$share/g/#");
    filters[2] = MOTE_SLICE_STR("a//b");
    p->type = MOTE_UNSUBSCRIBE;
    p->u.unsubscribe.packet_id = 43;
    p->u.unsubscribe.list = filters;
    p->u.unsubscribe.count = count;
}

static void subscribe_round_trips_in_every_version(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    size_t v, n;

    (void)state;
    for (v = 0; v < sizeof harness_versions; v++) {
        for (n = 1; n <= 4; n++) {
            subscribe(&p, n);
            roundtrip(&p, harness_versions[v], &r);
        }
    }
}

static void subscribe_v5_every_option_combination_round_trips(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    uint8_t qos, nl, rap, rh;

    (void)state;
    for (qos = 0; qos <= 2; qos++)
        for (nl = 0; nl <= 1; nl++)
            for (rap = 0; rap <= 1; rap++)
                for (rh = 0; rh <= 2; rh++) {
                    subscribe(&p, 1);
                    subs[0].qos = qos;
                    subs[0].no_local = nl;
                    subs[0].retain_as_published = rap;
                    subs[0].retain_handling = rh;
                    roundtrip(&p, MOTE_V5, &r);
                    /* options byte: after packet id, property length, filter */
                    assert_int_equal(r.wire[r.len - 1], qos | nl << 2 | rap << 3 | rh << 4);
                }
}

static void subscribe_v5_with_properties_round_trips(void **state)
{
    struct mote_prop props[3];
    struct mote_packet p;
    struct roundtrip r;

    (void)state;
    props[0] = prop_num(MOTE_PROP_SUBSCRIPTION_ID, 268435455);
    props[1] = prop_pair("a", "b");
    props[2] = prop_pair("a", "c");
    subscribe(&p, 4);
    p.u.subscribe.props = props_of(props, 3);
    roundtrip(&p, MOTE_V5, &r);
}

static void subscribe_decoded_raw_is_the_payload_and_iterates(void **state)
{
    /* 5.0 SUBSCRIBE id 1, no properties, "a" options 0x2D (QoS 1, NL, RAP, RH 2), "b" QoS 2 */
    static const uint8_t body[] = {0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x2D, 0x00, 0x01, 'b', 0x02};
    struct mote_packet p;
    struct mote_iter it;
    struct mote_subscription s;
    const uint8_t *in;
    int rc;

    (void)state;
    in = decode_body(0x82, body, sizeof body, MOTE_V5, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.u.subscribe.count, 2);
    assert_null(p.u.subscribe.list);
    assert_ptr_equal(p.u.subscribe.raw.ptr, in + 5);
    assert_int_equal(p.u.subscribe.raw.len, 8);
    mote_codec_iter(p.u.subscribe.raw, &it);
    assert_int_equal(mote_codec_subscribe_next(&it, MOTE_V5, &s), 1);
    assert_ptr_equal(s.filter.ptr, in + 7);
    assert_int_equal(s.filter.len, 1);
    assert_int_equal(s.qos, 1);
    assert_int_equal(s.no_local, 1);
    assert_int_equal(s.retain_as_published, 1);
    assert_int_equal(s.retain_handling, 2);
    assert_int_equal(mote_codec_subscribe_next(&it, MOTE_V5, &s), 1);
    assert_ptr_equal(s.filter.ptr, in + 11);
    assert_int_equal(s.qos, 2);
    assert_int_equal(s.no_local, 0);
    assert_int_equal(s.retain_handling, 0);
    assert_int_equal(mote_codec_subscribe_next(&it, MOTE_V5, &s), 0);

    /* The same walk by hand-set iterator bounds. */
    it.pos = p.u.subscribe.raw.ptr;
    it.end = p.u.subscribe.raw.ptr + p.u.subscribe.raw.len;
    assert_int_equal(mote_codec_subscribe_next(&it, MOTE_V5, &s), 1);
    assert_int_equal(mote_codec_subscribe_next(&it, MOTE_V5, &s), 1);
    assert_int_equal(mote_codec_subscribe_next(&it, MOTE_V5, &s), 0);
}

static void subscribe_and_unsubscribe_without_filters_have_no_topics(void **state)
{
    struct mote_packet p;

    (void)state;
    expect_decode(MOTE_V311, MOTE_ERR_NO_TOPICS, 0x82, 0x02, 0x00, 0x01);
    expect_decode(MOTE_V5, MOTE_ERR_NO_TOPICS, 0x82, 0x03, 0x00, 0x01, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_NO_TOPICS, 0xA2, 0x02, 0x00, 0x01);
    expect_decode(MOTE_V5, MOTE_ERR_NO_TOPICS, 0xA2, 0x03, 0x00, 0x01, 0x00);
    subscribe(&p, 0);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_NO_TOPICS);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_NO_TOPICS);
    unsubscribe(&p, 0);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_NO_TOPICS);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_NO_TOPICS);
}

static void subscribe_v311_option_bits_2_to_7_are_reserved(void **state)
{
    unsigned bit;

    (void)state;
    for (bit = 2; bit < 8; bit++) {
        uint8_t body[] = {0x00, 0x01, 0x00, 0x01, 'a', (uint8_t)(1u << bit | 1u)};
        struct mote_packet p;
        int rc;

        decode_body(0x82, body, sizeof body, MOTE_V311, &p, &rc);
        if (rc != MOTE_ERR_SUBSCRIBE_OPTIONS)
            fail_msg("3.1.1 options 0x%02x: %s", body[5], mote_err_name(rc));
        decode_body(0x82, body, sizeof body, MOTE_V31, &p, &rc);
        if (rc != MOTE_ERR_SUBSCRIBE_OPTIONS)
            fail_msg("3.1 options 0x%02x: %s", body[5], mote_err_name(rc));
    }
}

static void subscribe_v5_option_bits_6_and_7_are_reserved(void **state)
{
    (void)state;
    expect_body(MOTE_V5, MOTE_ERR_SUBSCRIBE_OPTIONS, 0x82, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x40);
    expect_body(MOTE_V5, MOTE_ERR_SUBSCRIBE_OPTIONS, 0x82, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x81);
    /* the error is found in the second subscription too */
    expect_body(MOTE_V5, MOTE_ERR_SUBSCRIBE_OPTIONS, 0x82, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x00,
                0x00, 0x01, 'b', 0xC0);
}

static void subscribe_v5_retain_handling_3(void **state)
{
    struct mote_packet p;

    (void)state;
    expect_body(MOTE_V5, MOTE_ERR_SUBSCRIBE_OPTIONS, 0x82, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x30);
    subscribe(&p, 1);
    subs[0].retain_handling = 3;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_SUBSCRIBE_OPTIONS);
}

static void subscribe_qos_3(void **state)
{
    struct mote_packet p;

    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_QOS, 0x82, 0x00, 0x01, 0x00, 0x01, 'a', 0x03);
    expect_body(MOTE_V5, MOTE_ERR_QOS, 0x82, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x03);
    subscribe(&p, 2);
    subs[1].qos = 3;
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_QOS);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_QOS);
}

static void subscribe_v5_no_local_on_a_shared_subscription(void **state)
{
    struct mote_packet p;

    (void)state;
    expect_body(MOTE_V5, MOTE_ERR_SHARED_NO_LOCAL, 0x82, 0x00, 0x01, 0x00, 0x00, 0x0A, '$', 's',
                'h', 'a', 'r', 'e', '/', 'g', '/', 'a', 0x04);
    expect_body(MOTE_V5, MOTE_OK, 0x82, 0x00, 0x01, 0x00, 0x00, 0x0A, '$', 's', 'h', 'a', 'r', 'e',
                '/', 'g', '/', 'a', 0x00);
    /* no local on an ordinary filter first, then on the shared one */
    expect_body(MOTE_V5, MOTE_ERR_SHARED_NO_LOCAL, 0x82, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x04,
                0x00, 0x0A, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'a', 0x04);
    subscribe(&p, 3);
    subs[2].no_local = 1;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_SHARED_NO_LOCAL);
}

static void subscribe_v311_never_sends_v5_option_bits(void **state)
{
    struct mote_packet p;
    const uint8_t *out;
    size_t written;
    int rc;

    (void)state;
    subscribe(&p, 1);
    subs[0].qos = 1;
    subs[0].no_local = 1;
    subs[0].retain_as_published = 1;
    subs[0].retain_handling = 2;
    rc = encode_guarded(&p, MOTE_V311, 64, &out, &written);
    if (rc == MOTE_OK)
        assert_int_equal(out[written - 1], 1);
    else
        assert_rc(rc, MOTE_ERR_SUBSCRIBE_OPTIONS);
}

static void suback_and_unsuback_without_codes_have_no_topics(void **state)
{
    struct mote_packet p;

    (void)state;
    expect_decode(MOTE_V311, MOTE_ERR_NO_TOPICS, 0x90, 0x02, 0x00, 0x01);
    expect_decode(MOTE_V5, MOTE_ERR_NO_TOPICS, 0x90, 0x03, 0x00, 0x01, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_NO_TOPICS, 0xB0, 0x03, 0x00, 0x01, 0x00);
    memset(&p, 0, sizeof p);
    p.type = MOTE_SUBACK;
    p.u.suback.packet_id = 1;
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_NO_TOPICS);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_NO_TOPICS);
    p.type = MOTE_UNSUBACK;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_NO_TOPICS);
}

static void subscribe_and_acks_with_packet_id_0(void **state)
{
    struct mote_packet p;
    static const uint8_t code = 0;

    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_PACKET_ID_ZERO, 0x82, 0x00, 0x00, 0x00, 0x01, 'a', 0x00);
    expect_body(MOTE_V5, MOTE_ERR_PACKET_ID_ZERO, 0x82, 0x00, 0x00, 0x00, 0x00, 0x01, 'a', 0x00);
    expect_body(MOTE_V311, MOTE_ERR_PACKET_ID_ZERO, 0x90, 0x00, 0x00, 0x00);
    expect_body(MOTE_V5, MOTE_ERR_PACKET_ID_ZERO, 0x90, 0x00, 0x00, 0x00, 0x00);
    expect_body(MOTE_V311, MOTE_ERR_PACKET_ID_ZERO, 0xA2, 0x00, 0x00, 0x00, 0x01, 'a');
    expect_body(MOTE_V5, MOTE_ERR_PACKET_ID_ZERO, 0xA2, 0x00, 0x00, 0x00, 0x00, 0x01, 'a');
    expect_body(MOTE_V311, MOTE_ERR_PACKET_ID_ZERO, 0xB0, 0x00, 0x00);
    expect_body(MOTE_V5, MOTE_ERR_PACKET_ID_ZERO, 0xB0, 0x00, 0x00, 0x00, 0x00);
    subscribe(&p, 1);
    p.u.subscribe.packet_id = 0;
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_PACKET_ID_ZERO);
    unsubscribe(&p, 1);
    p.u.unsubscribe.packet_id = 0;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PACKET_ID_ZERO);
    memset(&p, 0, sizeof p);
    p.type = MOTE_SUBACK;
    p.u.suback.codes = &code;
    p.u.suback.count = 1;
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_PACKET_ID_ZERO);
    p.type = MOTE_UNSUBACK;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PACKET_ID_ZERO);
}

static void subscribe_last_subscription_without_options_is_truncated(void **state)
{
    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x82, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b');
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x82, 0x00, 0x01, 0x00, 0x01, 'a', 0x00, 0x00);
    expect_body(MOTE_V5, MOTE_ERR_TRUNCATED, 0x82, 0x00, 0x01, 0x00, 0x00, 0x05, 'a');
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0xA2, 0x00, 0x01, 0x00, 0x01, 'a', 0x00);
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x82, 0x00);
}

static void suback_round_trips_in_every_version(void **state)
{
    static const uint8_t v3_codes[] = {0x00, 0x01, 0x02, 0x80};
    static const uint8_t v5_codes[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                       0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
    struct mote_prop props[2];
    struct mote_packet p;
    struct roundtrip r;
    size_t v;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_SUBACK;
    p.u.suback.packet_id = 9;
    for (v = 0; v < sizeof harness_versions; v++) {
        p.u.suback.codes = v3_codes;
        p.u.suback.count = sizeof v3_codes;
        roundtrip(&p, harness_versions[v], &r);
        p.u.suback.count = 1;
        roundtrip(&p, harness_versions[v], &r);
    }
    p.u.suback.codes = v5_codes;
    p.u.suback.count = sizeof v5_codes;
    roundtrip(&p, MOTE_V5, &r);
    props[0] = prop_str(MOTE_PROP_REASON_STRING, "partly");
    props[1] = prop_pair("x", "y");
    p.u.suback.props = props_of(props, 2);
    roundtrip(&p, MOTE_V5, &r);
}

static void suback_codes_outside_the_version_table(void **state)
{
    struct mote_packet p;
    static const uint8_t bad3 = 0x03, bad5 = 0x11;

    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_REASON_CODE, 0x90, 0x00, 0x01, 0x03);
    expect_body(MOTE_V311, MOTE_ERR_REASON_CODE, 0x90, 0x00, 0x01, 0x00, 0x81);
    expect_body(MOTE_V311, MOTE_ERR_REASON_CODE, 0x90, 0x00, 0x01, 0x87);
    expect_body(MOTE_V5, MOTE_ERR_REASON_CODE, 0x90, 0x00, 0x01, 0x00, 0x03);
    expect_body(MOTE_V5, MOTE_ERR_REASON_CODE, 0x90, 0x00, 0x01, 0x00, 0x11);
    memset(&p, 0, sizeof p);
    p.type = MOTE_SUBACK;
    p.u.suback.packet_id = 1;
    p.u.suback.codes = &bad3;
    p.u.suback.count = 1;
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_REASON_CODE);
    p.u.suback.codes = &bad5;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_REASON_CODE);
}

static void unsubscribe_round_trips_in_every_version(void **state)
{
    struct mote_prop prop = prop_pair("why", "done");
    struct mote_packet p;
    struct roundtrip r;
    size_t v, n;

    (void)state;
    for (v = 0; v < sizeof harness_versions; v++) {
        for (n = 1; n <= 3; n++) {
            unsubscribe(&p, n);
            roundtrip(&p, harness_versions[v], &r);
        }
    }
    unsubscribe(&p, 3);
    p.u.unsubscribe.props = props_of(&prop, 1);
    roundtrip(&p, MOTE_V5, &r);
}

static void unsubscribe_decoded_raw_iterates(void **state)
{
    static const uint8_t body[] = {0x00, 0x07, 0x00, 0x01, 'a', 0x00, 0x03, 'b', '/', '#'};
    struct mote_packet p;
    struct mote_iter it;
    struct mote_slice f;
    const uint8_t *in;
    int rc;

    (void)state;
    in = decode_body(0xA2, body, sizeof body, MOTE_V311, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.u.unsubscribe.packet_id, 7);
    assert_int_equal(p.u.unsubscribe.count, 2);
    assert_null(p.u.unsubscribe.list);
    assert_ptr_equal(p.u.unsubscribe.raw.ptr, in + 4);
    assert_int_equal(p.u.unsubscribe.raw.len, 8);
    mote_codec_iter(p.u.unsubscribe.raw, &it);
    assert_int_equal(mote_codec_unsubscribe_next(&it, &f), 1);
    assert_ptr_equal(f.ptr, in + 6);
    assert_int_equal(f.len, 1);
    assert_int_equal(mote_codec_unsubscribe_next(&it, &f), 1);
    assert_ptr_equal(f.ptr, in + 9);
    assert_int_equal(f.len, 3);
    assert_int_equal(mote_codec_unsubscribe_next(&it, &f), 0);
}

static void unsuback_v311_has_no_codes_and_v5_has_one_per_filter(void **state)
{
    static const uint8_t codes[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
    struct mote_prop prop = prop_str(MOTE_PROP_REASON_STRING, "gone");
    struct mote_packet p;
    struct roundtrip r;
    const uint8_t *out;
    size_t written;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_UNSUBACK;
    p.u.suback.packet_id = 10;
    roundtrip(&p, MOTE_V311, &r);
    assert_int_equal(r.len, 4);
    assert_int_equal(r.pkt.u.suback.count, 0);
    roundtrip(&p, MOTE_V31, &r);
    p.u.suback.codes = codes;
    p.u.suback.count = sizeof codes;
    roundtrip(&p, MOTE_V5, &r);
    p.u.suback.props = props_of(&prop, 1);
    roundtrip(&p, MOTE_V5, &r);
    expect_decode(MOTE_V311, MOTE_ERR_TRAILING_BYTES, 0xB0, 0x03, 0x00, 0x01, 0x00);
    /* A 3.1.1 UNSUBACK cannot carry codes: the encoder leaves them out. */
    p.u.suback.props = props_of(NULL, 0);
    p.u.suback.packet_id = 10;
    assert_rc(encode_guarded(&p, MOTE_V311, 16, &out, &written), MOTE_OK);
    assert_int_equal(written, 4);
    assert_memory_equal(out, "\xB0\x02\x00\x0A", 4);
}

static void unsuback_v5_codes_outside_the_table(void **state)
{
    (void)state;
    expect_body(MOTE_V5, MOTE_ERR_REASON_CODE, 0xB0, 0x00, 0x01, 0x00, 0x02);
    expect_body(MOTE_V5, MOTE_ERR_REASON_CODE, 0xB0, 0x00, 0x01, 0x00, 0x00, 0x10);
    expect_body(MOTE_V5, MOTE_ERR_REASON_CODE, 0xB0, 0x00, 0x01, 0x00, 0x97);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscribe_round_trips_in_every_version),
        cmocka_unit_test(subscribe_v5_every_option_combination_round_trips),
        cmocka_unit_test(subscribe_v5_with_properties_round_trips),
        cmocka_unit_test(subscribe_decoded_raw_is_the_payload_and_iterates),
        cmocka_unit_test(subscribe_and_unsubscribe_without_filters_have_no_topics),
        cmocka_unit_test(subscribe_v311_option_bits_2_to_7_are_reserved),
        cmocka_unit_test(subscribe_v5_option_bits_6_and_7_are_reserved),
        cmocka_unit_test(subscribe_v5_retain_handling_3),
        cmocka_unit_test(subscribe_qos_3),
        cmocka_unit_test(subscribe_v5_no_local_on_a_shared_subscription),
        cmocka_unit_test(subscribe_v311_never_sends_v5_option_bits),
        cmocka_unit_test(suback_and_unsuback_without_codes_have_no_topics),
        cmocka_unit_test(subscribe_and_acks_with_packet_id_0),
        cmocka_unit_test(subscribe_last_subscription_without_options_is_truncated),
        cmocka_unit_test(suback_round_trips_in_every_version),
        cmocka_unit_test(suback_codes_outside_the_version_table),
        cmocka_unit_test(unsubscribe_round_trips_in_every_version),
        cmocka_unit_test(unsubscribe_decoded_raw_iterates),
        cmocka_unit_test(unsuback_v311_has_no_codes_and_v5_has_one_per_filter),
        cmocka_unit_test(unsuback_v5_codes_outside_the_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
