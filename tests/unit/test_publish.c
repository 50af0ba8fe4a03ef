/*
 * test_publish.c - PUBLISH in MQTT 3.1, 3.1.1 and 5.0: every combination of QoS, retain and DUP,
 * packet identifiers, topics, payloads and properties, and the rules a PUBLISH can break.
 */
#include "harness.h"

static void publish(struct mote_packet *p, uint8_t qos, uint8_t retain, uint8_t dup)
{
    memset(p, 0, sizeof *p);
    p->type = MOTE_PUBLISH;
    p->u.publish.qos = qos;
    p->u.publish.retain = retain;
    p->u.publish.dup = dup;
    p->u.publish.packet_id = qos ? 4711 : 0;
    p->u.publish.topic = MOTE_SLICE_STR("sensors/t1");
    p->u.publish.payload = MOTE_SLICE_STR("21.5");
}

static void publish_every_qos_retain_and_dup_round_trips_in_every_version(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    uint8_t qos, retain, dup;
    size_t v;

    (void)state;
    for (v = 0; v < sizeof harness_versions; v++) {
        for (qos = 0; qos <= 2; qos++) {
            for (retain = 0; retain <= 1; retain++) {
                for (dup = 0; dup <= (qos ? 1 : 0); dup++) {
                    publish(&p, qos, retain, dup);
                    roundtrip(&p, harness_versions[v], &r);
                    assert_int_equal(r.pkt.flags, dup << 3 | qos << 1 | retain);
                    assert_int_equal(r.len, 2 + 12 + (qos ? 2 : 0) +
                                                (harness_versions[v] == MOTE_V5 ? 1 : 0) + 4);
                }
            }
        }
    }
}

static void publish_packet_id_extremes_round_trip(void **state)
{
    struct mote_packet p;
    struct roundtrip r;

    (void)state;
    publish(&p, 1, 0, 0);
    p.u.publish.packet_id = 1;
    roundtrip(&p, MOTE_V311, &r);
    p.u.publish.packet_id = 65535;
    roundtrip(&p, MOTE_V5, &r);
    assert_int_equal(r.pkt.u.publish.packet_id, 65535);
}

static void publish_qos_0_carries_no_packet_id(void **state)
{
    struct mote_packet p;
    struct roundtrip r;

    (void)state;
    publish(&p, 0, 0, 0);
    p.u.publish.packet_id = 99; /* ignored at QoS 0 */
    roundtrip(&p, MOTE_V311, &r);
    assert_int_equal(r.len, 2 + 12 + 4);
    assert_memory_equal(r.wire + 14, "21.5", 4);
}

static void publish_empty_and_binary_payloads_round_trip(void **state)
{
    static const uint8_t binary[] = {0x00, 0xFF, 0xC0, 0x80, 0xED, 0xA0, 0x80, 0x00};
    struct mote_packet p;
    struct roundtrip r;
    size_t v;

    (void)state;
    for (v = 0; v < sizeof harness_versions; v++) {
        publish(&p, 1, 0, 0);
        p.u.publish.payload.len = 0;
        roundtrip(&p, harness_versions[v], &r);
        assert_int_equal(r.pkt.u.publish.payload.len, 0);
        p.u.publish.payload = harness_slice_of(binary, sizeof binary);
        roundtrip(&p, harness_versions[v], &r);
    }
}

static void publish_topic_levels_and_utf8_round_trip(void **state)
{
    static const char *const topics[] = {
        "/", "a//b", "/finance", "$SYS/broker/load", "t\xC3\xA9st/\xF0\xAA\x9B\x94", "with space"};
    struct mote_packet p;
    struct roundtrip r;
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(topics); i++) {
        publish(&p, 2, 1, 0);
        p.u.publish.topic = slice_str(topics[i]);
        roundtrip(&p, MOTE_V311, &r);
        roundtrip(&p, MOTE_V5, &r);
    }
}

static void publish_v5_with_properties_round_trips(void **state)
{
    struct mote_prop props[5];
    struct mote_packet p;
    struct roundtrip r;

    (void)state;
    props[0] = prop_num(MOTE_PROP_PAYLOAD_FORMAT, 1);
    props[1] = prop_num(MOTE_PROP_MESSAGE_EXPIRY, 60);
    props[2] = prop_str(MOTE_PROP_RESPONSE_TOPIC, "replies/1");
    props[3] = prop_pair("unit", "celsius");
    props[4] = prop_num(MOTE_PROP_TOPIC_ALIAS, 3);
    publish(&p, 1, 1, 1);
    p.u.publish.props = props_of(props, 5);
    roundtrip(&p, MOTE_V5, &r);
}

static void publish_qos_3_is_a_qos_error(void **state)
{
    struct mote_packet p;

    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_QOS, 0x36, 0x00, 0x01, 't', 0x00, 0x01);
    expect_body(MOTE_V5, MOTE_ERR_QOS, 0x3F, 0x00, 0x01, 't', 0x00, 0x01, 0x00);
    publish(&p, 3, 0, 0);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_QOS);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_QOS);
}

static void publish_dup_on_qos_0(void **state)
{
    struct mote_packet p;
    struct mote_frame f;
    static const uint8_t dup0[] = {0x38, 0x04, 0x00, 0x01, 't', 'x'};

    (void)state;
    /* Framing lets it through: the rule is about the packet, not the header's reserved bits. */
    assert_rc(frame_guarded(dup0, sizeof dup0, 0, &f), MOTE_OK);
    expect_body(MOTE_V311, MOTE_ERR_PUBLISH_DUP, 0x38, 0x00, 0x01, 't', 'x');
    expect_body(MOTE_V311, MOTE_ERR_PUBLISH_DUP, 0x39, 0x00, 0x01, 't', 'x');
    expect_body(MOTE_V5, MOTE_ERR_PUBLISH_DUP, 0x38, 0x00, 0x01, 't', 0x00, 'x');
    publish(&p, 0, 0, 1);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_PUBLISH_DUP);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PUBLISH_DUP);
}

static void publish_packet_id_0_at_qos_1_and_2(void **state)
{
    struct mote_packet p;

    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_PACKET_ID_ZERO, 0x32, 0x00, 0x01, 't', 0x00, 0x00);
    expect_body(MOTE_V311, MOTE_ERR_PACKET_ID_ZERO, 0x34, 0x00, 0x01, 't', 0x00, 0x00, 'x');
    expect_body(MOTE_V5, MOTE_ERR_PACKET_ID_ZERO, 0x32, 0x00, 0x01, 't', 0x00, 0x00, 0x00);
    expect_body(MOTE_V5, MOTE_ERR_PACKET_ID_ZERO, 0x3D, 0x00, 0x01, 't', 0x00, 0x00, 0x00);
    publish(&p, 1, 0, 0);
    p.u.publish.packet_id = 0;
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_PACKET_ID_ZERO);
    publish(&p, 2, 0, 0);
    p.u.publish.packet_id = 0;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PACKET_ID_ZERO);
}

static void publish_fields_cut_short_are_truncated(void **state)
{
    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x30, 0x00);
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x30, 0x00, 0x05, 'a', 'b');
    /* QoS 1 without (all of) its packet identifier */
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x32, 0x00, 0x01, 't');
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x32, 0x00, 0x01, 't', 0x00);
    /* 5.0 without its property length */
    expect_body(MOTE_V5, MOTE_ERR_TRUNCATED, 0x30, 0x00, 0x01, 't');
    expect_body(MOTE_V5, MOTE_ERR_TRUNCATED, 0x32, 0x00, 0x01, 't', 0x00, 0x01);
    /* an empty remaining length */
    expect_decode(MOTE_V311, MOTE_ERR_TRUNCATED, 0x30, 0x00);
}

static void publish_decoded_slices_point_into_the_input(void **state)
{
    static const uint8_t body[] = {0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'h', 'e', 'l', 'l', 'o'};
    struct mote_packet p;
    const uint8_t *in;
    int rc;

    (void)state;
    in = decode_body(0x33, body, sizeof body, MOTE_V311, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.type, MOTE_PUBLISH);
    assert_int_equal(p.flags, 3);
    assert_int_equal(p.u.publish.qos, 1);
    assert_int_equal(p.u.publish.retain, 1);
    assert_int_equal(p.u.publish.dup, 0);
    assert_int_equal(p.u.publish.packet_id, 10);
    assert_ptr_equal(p.u.publish.topic.ptr, in + 4);
    assert_int_equal(p.u.publish.topic.len, 3);
    assert_ptr_equal(p.u.publish.payload.ptr, in + 9);
    assert_int_equal(p.u.publish.payload.len, 5);
    assert_int_equal(p.u.publish.props.raw.len, 0);
}

static void publish_encode_into_every_short_buffer_writes_nothing(void **state)
{
    struct mote_packet p;
    size_t size, cap;
    const uint8_t *out;
    size_t written;

    (void)state;
    publish(&p, 2, 1, 1);
    assert_rc(mote_codec_size(&p, MOTE_V5, &size), MOTE_OK);
    for (cap = 0; cap < size; cap++)
        assert_rc(encode_guarded(&p, MOTE_V5, cap, &out, &written), MOTE_ERR_BUFFER_TOO_SMALL);
    assert_rc(encode_guarded(&p, MOTE_V5, size + 10, &out, &written), MOTE_OK);
    assert_int_equal(written, size);
}

/* A flag field holding 2 must not reach the neighbouring bits of the fixed header. */
static void publish_flag_fields_above_1_stay_in_their_bit(void **state)
{
    struct mote_packet p;
    const uint8_t *out;
    size_t written;
    int rc;

    (void)state;
    publish(&p, 0, 2, 0);
    rc = encode_guarded(&p, MOTE_V311, 64, &out, &written);
    if (rc == MOTE_OK)
        assert_int_equal(out[0], 0x31);
    else
        assert_rc(rc, MOTE_ERR_BAD_ARG);
    publish(&p, 1, 0, 2);
    rc = encode_guarded(&p, MOTE_V311, 64, &out, &written);
    if (rc == MOTE_OK)
        assert_int_equal(out[0], 0x3A);
    else
        assert_rc(rc, MOTE_ERR_BAD_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(publish_every_qos_retain_and_dup_round_trips_in_every_version),
        cmocka_unit_test(publish_packet_id_extremes_round_trip),
        cmocka_unit_test(publish_qos_0_carries_no_packet_id),
        cmocka_unit_test(publish_empty_and_binary_payloads_round_trip),
        cmocka_unit_test(publish_topic_levels_and_utf8_round_trip),
        cmocka_unit_test(publish_v5_with_properties_round_trips),
        cmocka_unit_test(publish_qos_3_is_a_qos_error),
        cmocka_unit_test(publish_dup_on_qos_0),
        cmocka_unit_test(publish_packet_id_0_at_qos_1_and_2),
        cmocka_unit_test(publish_fields_cut_short_are_truncated),
        cmocka_unit_test(publish_decoded_slices_point_into_the_input),
        cmocka_unit_test(publish_encode_into_every_short_buffer_writes_nothing),
        cmocka_unit_test(publish_flag_fields_above_1_stay_in_their_bit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
