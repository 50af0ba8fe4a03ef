/*
 * test_acks.c - PUBACK, PUBREC, PUBREL and PUBCOMP in MQTT 3.1, 3.1.1 and 5.0: round trips,
 * the short forms 5.0 allows, packet identifier 0 and reason codes.
 */
#include "harness.h"

static const uint8_t ack_types[] = {MOTE_PUBACK, MOTE_PUBREC, MOTE_PUBREL, MOTE_PUBCOMP};

static void ack(struct mote_packet *p, uint8_t type, uint16_t id, uint8_t reason)
{
    memset(p, 0, sizeof *p);
    p->type = type;
    p->u.ack.packet_id = id;
    p->u.ack.reason = reason;
}

static void acks_round_trip_in_every_version(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    size_t t, v;

    (void)state;
    for (t = 0; t < sizeof ack_types; t++) {
        for (v = 0; v < sizeof harness_versions; v++) {
            ack(&p, ack_types[t], 1, 0);
            roundtrip(&p, harness_versions[v], &r);
            ack(&p, ack_types[t], 65535, 0);
            roundtrip(&p, harness_versions[v], &r);
        }
    }
}

static void acks_v311_are_four_bytes(void **state)
{
    struct mote_packet p;

    (void)state;
    ack(&p, MOTE_PUBACK, 10, 0);
    assert_encodes_to(&p, MOTE_V311, 0x40, 0x02, 0x00, 0x0A);
    ack(&p, MOTE_PUBREC, 10, 0);
    assert_encodes_to(&p, MOTE_V311, 0x50, 0x02, 0x00, 0x0A);
    ack(&p, MOTE_PUBREL, 10, 0);
    assert_encodes_to(&p, MOTE_V311, 0x62, 0x02, 0x00, 0x0A);
    ack(&p, MOTE_PUBCOMP, 0x1234, 0);
    assert_encodes_to(&p, MOTE_V31, 0x70, 0x02, 0x12, 0x34);
}

static void acks_v5_every_allowed_reason_round_trips_with_and_without_properties(void **state)
{
    static const uint8_t puback_codes[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
    static const uint8_t pubrel_codes[] = {0x00, 0x92};
    struct mote_prop props[3];
    struct mote_packet p;
    struct roundtrip r;
    size_t t, i;

    (void)state;
    props[0] = prop_str(MOTE_PROP_REASON_STRING, "quota");
    props[1] = prop_pair("k", "v");
    props[2] = prop_pair("k", "w");
    for (t = 0; t < sizeof ack_types; t++) {
        int first_two = ack_types[t] == MOTE_PUBACK || ack_types[t] == MOTE_PUBREC;
        const uint8_t *codes = first_two ? puback_codes : pubrel_codes;
        size_t n = first_two ? sizeof puback_codes : sizeof pubrel_codes;

        for (i = 0; i < n; i++) {
            ack(&p, ack_types[t], 77, codes[i]);
            roundtrip(&p, MOTE_V5, &r);
            if (codes[i] != 0)
                assert_in_range(r.len, 5, 6); /* reason, and maybe an empty property length */
            p.u.ack.props = props_of(props, 3);
            roundtrip(&p, MOTE_V5, &r);
        }
    }
}

static void acks_v5_short_forms_decode(void **state)
{
    struct mote_packet p;
    int rc;
    static const uint8_t two[] = {0x00, 0x05};
    static const uint8_t three[] = {0x00, 0x05, 0x10};
    static const uint8_t four[] = {0x00, 0x05, 0x92, 0x00};

    (void)state;
    /* Remaining length 2: success, no properties. */
    decode_body(0x40, two, sizeof two, MOTE_V5, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.u.ack.packet_id, 5);
    assert_int_equal(p.u.ack.reason, 0);
    assert_int_equal(p.u.ack.props.raw.len, 0);
    /* Remaining length 3: a reason code, no property length. */
    decode_body(0x50, three, sizeof three, MOTE_V5, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.u.ack.reason, 0x10);
    assert_int_equal(p.u.ack.props.raw.len, 0);
    /* Remaining length 4: reason code and an empty property block. */
    decode_body(0x62, four, sizeof four, MOTE_V5, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.u.ack.reason, 0x92);
    decode_body(0x70, four, sizeof four, MOTE_V5, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.type, MOTE_PUBCOMP);
}

static void acks_packet_id_0(void **state)
{
    struct mote_packet p;
    size_t t;

    (void)state;
    expect_decode(MOTE_V311, MOTE_ERR_PACKET_ID_ZERO, 0x40, 0x02, 0x00, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_PACKET_ID_ZERO, 0x50, 0x02, 0x00, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_PACKET_ID_ZERO, 0x62, 0x02, 0x00, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_PACKET_ID_ZERO, 0x70, 0x02, 0x00, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_PACKET_ID_ZERO, 0x40, 0x02, 0x00, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_PACKET_ID_ZERO, 0x50, 0x03, 0x00, 0x00, 0x10);
    expect_decode(MOTE_V5, MOTE_ERR_PACKET_ID_ZERO, 0x62, 0x04, 0x00, 0x00, 0x00, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_PACKET_ID_ZERO, 0x70, 0x02, 0x00, 0x00);
    for (t = 0; t < sizeof ack_types; t++) {
        ack(&p, ack_types[t], 0, 0);
        assert_encode_rc(&p, MOTE_V311, MOTE_ERR_PACKET_ID_ZERO);
        assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PACKET_ID_ZERO);
    }
}

static void acks_reason_codes_not_allowed_for_the_packet(void **state)
{
    struct mote_packet p;

    (void)state;
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0x40, 0x03, 0x00, 0x01, 0x8E); /* PUBACK */
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0x40, 0x03, 0x00, 0x01, 0x01);
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0x50, 0x03, 0x00, 0x01, 0x92); /* PUBREC */
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0x62, 0x03, 0x00, 0x01, 0x10); /* PUBREL */
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0x70, 0x03, 0x00, 0x01, 0x80); /* PUBCOMP */
    ack(&p, MOTE_PUBACK, 1, MOTE_RC_SESSION_TAKEN_OVER);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_REASON_CODE);
    ack(&p, MOTE_PUBREL, 1, MOTE_RC_UNSPECIFIED);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_REASON_CODE);
}

static void acks_v311_reason_must_be_success(void **state)
{
    struct mote_packet p;

    (void)state;
    ack(&p, MOTE_PUBACK, 1, MOTE_RC_NO_MATCHING_SUBSCRIBERS);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_REASON_CODE);
}

static void acks_length_errors(void **state)
{
    (void)state;
    expect_decode(MOTE_V311, MOTE_ERR_TRUNCATED, 0x40, 0x01, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_TRUNCATED, 0x40, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_TRUNCATED, 0x62, 0x01, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_TRAILING_BYTES, 0x40, 0x03, 0x00, 0x0A, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_TRAILING_BYTES, 0x62, 0x04, 0x00, 0x0A, 0x00, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_TRAILING_BYTES, 0x40, 0x05, 0x00, 0x0A, 0x00, 0x00, 0x00);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acks_round_trip_in_every_version),
        cmocka_unit_test(acks_v311_are_four_bytes),
        cmocka_unit_test(acks_v5_every_allowed_reason_round_trips_with_and_without_properties),
        cmocka_unit_test(acks_v5_short_forms_decode),
        cmocka_unit_test(acks_packet_id_0),
        cmocka_unit_test(acks_reason_codes_not_allowed_for_the_packet),
        cmocka_unit_test(acks_v311_reason_must_be_success),
        cmocka_unit_test(acks_length_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
