/*
 * test_frame.c - the fixed header: framing of partial input, reserved flags, the remaining
 * length's variable byte integer at every boundary the spec lists, and the size limit.
 */
#define HARNESS_OUT_MAX 16400
#define HARNESS_IN_ARENA 16600
#include "harness.h"

/* Source of large payloads (read-only, zeros: the content does not matter here). */
static const uint8_t big_payload[16384];

/* The remaining length boundaries of MQTT 3.1.1 table 2.4 / MQTT 5.0 section 1.5.5. */
static const struct {
    uint32_t value;
    uint8_t len;
    uint8_t bytes[4];
} boundaries[] = {
    {0, 1, {0x00}},
    {127, 1, {0x7F}},
    {128, 2, {0x80, 0x01}},
    {16383, 2, {0xFF, 0x7F}},
    {16384, 3, {0x80, 0x80, 0x01}},
    {2097151, 3, {0xFF, 0xFF, 0x7F}},
    {2097152, 4, {0x80, 0x80, 0x80, 0x01}},
    {268435455, 4, {0xFF, 0xFF, 0xFF, 0x7F}},
};

static void frame_reads_type_flags_and_lengths_of_a_whole_packet(void **state)
{
    static const uint8_t pkt[] = {0x3B, 0x07, 0x00, 0x01, 't', 0x00, 0x05, 'h', 'i'};
    struct mote_frame f;

    (void)state;
    memset(&f, 0, sizeof f);
    assert_rc(frame_guarded(pkt, sizeof pkt, 0, &f), MOTE_OK);
    assert_int_equal(f.type, MOTE_PUBLISH);
    assert_int_equal(f.flags, 0x0B);
    assert_int_equal(f.header_len, 2);
    assert_int_equal(f.remaining, 7);
    assert_int_equal(f.total, 9);
}

static void frame_needs_one_byte_while_the_header_is_incomplete(void **state)
{
    /* PUBLISH with a 2-byte remaining length (200). */
    static const uint8_t hdr[] = {0x30, 0xC8, 0x01};
    struct mote_frame f;
    size_t n;

    (void)state;
    for (n = 0; n < sizeof hdr; n++) {
        memset(&f, 0, sizeof f);
        assert_rc(frame_guarded(hdr, n, 0, &f), MOTE_NEED_MORE);
        assert_int_equal(f.need, 1);
    }
    memset(&f, 0, sizeof f);
    assert_rc(frame_guarded(hdr, sizeof hdr, 0, &f), MOTE_NEED_MORE);
    assert_int_equal(f.need, 200);
}

static void frame_needs_the_missing_body_bytes_for_every_prefix(void **state)
{
    uint8_t pkt[2 + 100];
    struct mote_frame f;
    size_t n;

    (void)state;
    memset(pkt, 'x', sizeof pkt);
    pkt[0] = 0x30;
    pkt[1] = 100;
    pkt[2] = 0x00;
    pkt[3] = 0x01;
    for (n = 2; n < sizeof pkt; n++) {
        memset(&f, 0, sizeof f);
        assert_rc(frame_guarded(pkt, n, 0, &f), MOTE_NEED_MORE);
        assert_int_equal(f.need, sizeof pkt - n);
    }
    assert_rc(frame_guarded(pkt, sizeof pkt, 0, &f), MOTE_OK);
    assert_int_equal(f.total, sizeof pkt);
}

static void frame_of_a_stream_delimits_only_the_first_packet(void **state)
{
    static const uint8_t two[] = {0xC0, 0x00, 0xD0, 0x00};
    struct mote_frame f;

    (void)state;
    assert_rc(frame_guarded(two, sizeof two, 0, &f), MOTE_OK);
    assert_int_equal(f.type, MOTE_PINGREQ);
    assert_int_equal(f.total, 2);
    assert_rc(frame_guarded(two + 2, 2, 0, &f), MOTE_OK);
    assert_int_equal(f.type, MOTE_PINGRESP);
}

static void frame_type_0_is_packet_type_error(void **state)
{
    static const uint8_t zero[] = {0x00, 0x00};
    static const uint8_t zero_flags[] = {0x02, 0x00};
    struct mote_frame f;
    struct mote_packet p;

    (void)state;
    assert_rc(frame_guarded(zero, sizeof zero, 0, &f), MOTE_ERR_PACKET_TYPE);
    assert_rc(frame_guarded(zero_flags, sizeof zero_flags, 0, &f), MOTE_ERR_PACKET_TYPE);
    assert_rc(decode_guarded(zero, sizeof zero, MOTE_V311, &p), MOTE_ERR_PACKET_TYPE);
    assert_rc(decode_guarded(zero, sizeof zero, MOTE_V5, &p), MOTE_ERR_PACKET_TYPE);
}

/* What the fixed header flags of @p type must be (MQTT 3.1.1 table 2.2, MQTT 5.0 table 2-2). */
static int flags_rule(unsigned type, unsigned flags)
{
    switch (type) {
    case MOTE_PUBLISH:
        return (flags & 6) == 6 ? MOTE_ERR_QOS : MOTE_OK;
    case MOTE_PUBREL:
    case MOTE_SUBSCRIBE:
    case MOTE_UNSUBSCRIBE:
        return flags == 2 ? MOTE_OK : MOTE_ERR_HEADER_FLAGS;
    default:
        return flags == 0 ? MOTE_OK : MOTE_ERR_HEADER_FLAGS;
    }
}

static void frame_reserved_flag_bits_of_every_type(void **state)
{
    unsigned type, flags;
    uint8_t pkt[2];
    struct mote_frame f;

    (void)state;
    for (type = 1; type <= 15; type++) {
        for (flags = 0; flags <= 15; flags++) {
            int want = flags_rule(type, flags), rc;

            pkt[0] = (uint8_t)(type << 4 | flags);
            pkt[1] = 0;
            memset(&f, 0, sizeof f);
            rc = frame_guarded(pkt, 2, 0, &f);
            if (rc != want)
                fail_msg("frame of %s with flags 0x%x: %s, expected %s", mote_packet_name(type),
                         flags, mote_err_name(rc), mote_err_name(want));
            if (rc == MOTE_OK) {
                assert_int_equal(f.type, type);
                assert_int_equal(f.flags, flags);
            }
        }
    }
}

static void decode_reports_reserved_flag_bits_as_frame_does(void **state)
{
    (void)state;
    expect_decode(MOTE_V311, MOTE_ERR_HEADER_FLAGS, 0xC1, 0x00);             /* PINGREQ */
    expect_decode(MOTE_V311, MOTE_ERR_HEADER_FLAGS, 0x60, 0x02, 0x00, 0x01); /* PUBREL 0 */
    expect_decode(MOTE_V311, MOTE_ERR_HEADER_FLAGS, 0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a',
                  0x00); /* SUBSCRIBE 0 */
    expect_decode(MOTE_V5, MOTE_ERR_HEADER_FLAGS, 0xA0, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01,
                  'a');                                        /* UNSUBSCRIBE 0 */
    expect_decode(MOTE_V5, MOTE_ERR_HEADER_FLAGS, 0xE8, 0x00); /* DISCONNECT 8 */
    expect_decode(MOTE_V5, MOTE_ERR_QOS, 0x36, 0x03, 0x00, 0x01, 't');
}

static void frame_varint_of_five_bytes_is_too_long(void **state)
{
    static const uint8_t max5[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    static const uint8_t one5[] = {0x30, 0x80, 0x80, 0x80, 0x80, 0x01};
    struct mote_frame f;
    struct mote_packet p;

    (void)state;
    assert_rc(frame_guarded(max5, sizeof max5, 0, &f), MOTE_ERR_VARINT_TOO_LONG);
    assert_rc(frame_guarded(one5, sizeof one5, 0, &f), MOTE_ERR_VARINT_TOO_LONG);
    assert_rc(decode_guarded(max5, sizeof max5, MOTE_V311, &p), MOTE_ERR_VARINT_TOO_LONG);
}

static void frame_varint_too_long_is_known_from_the_fourth_byte(void **state)
{
    /* The 4th length byte has its continuation bit set: no 5th byte can make this valid. */
    static const uint8_t four[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF};
    struct mote_frame f;

    (void)state;
    assert_rc(frame_guarded(four, sizeof four, 0, &f), MOTE_ERR_VARINT_TOO_LONG);
}

static void frame_varint_with_needless_bytes_is_not_minimal(void **state)
{
    static const uint8_t v[][5] = {
        {0x30, 0x80, 0x00},             /* 0 in two bytes */
        {0x30, 0xFF, 0x00},             /* 127 in two bytes */
        {0x30, 0x80, 0x80, 0x00},       /* 0 in three bytes */
        {0x30, 0x81, 0x80, 0x00},       /* 1 in three bytes */
        {0x30, 0xFF, 0xFF, 0x00},       /* 16383 in three bytes */
        {0x30, 0x80, 0x80, 0x80, 0x00}, /* 0 in four bytes */
        {0x30, 0xFF, 0xFF, 0xFF, 0x00}, /* 2097151 in four bytes */
    };
    static const uint8_t lens[] = {3, 3, 4, 4, 4, 5, 5};
    struct mote_frame f;
    struct mote_packet p;
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(lens); i++) {
        assert_rc(frame_guarded(v[i], lens[i], 0, &f), MOTE_ERR_VARINT_NOT_MINIMAL);
        assert_rc(decode_guarded(v[i], lens[i], MOTE_V5, &p), MOTE_ERR_VARINT_NOT_MINIMAL);
    }
}

static void frame_remaining_length_boundaries_from_the_spec(void **state)
{
    uint8_t hdr[5];
    struct mote_frame f;
    uint32_t value;
    size_t used, i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(boundaries); i++) {
        hdr[0] = 0x30;
        memcpy(hdr + 1, boundaries[i].bytes, boundaries[i].len);
        memset(&f, 0, sizeof f);
        if (boundaries[i].value == 0) {
            /* A QoS 0 PUBLISH cannot be empty, but framing does not look at the body. */
            assert_rc(frame_guarded(hdr, 2, 0, &f), MOTE_OK);
            assert_int_equal(f.total, 2);
            assert_int_equal(f.header_len, 2);
        } else {
            assert_rc(frame_guarded(hdr, 1u + boundaries[i].len, 0, &f), MOTE_NEED_MORE);
            assert_int_equal(f.need, boundaries[i].value);
        }
        assert_rc(mote_varint_decode(guard_in(boundaries[i].bytes, boundaries[i].len),
                                     boundaries[i].len, &value, &used),
                  MOTE_OK);
        assert_int_equal(value, boundaries[i].value);
        assert_int_equal(used, boundaries[i].len);
        assert_int_equal(mote_varint_size(boundaries[i].value), boundaries[i].len);
    }
}

static void frame_largest_packet_fits_the_protocol_limit(void **state)
{
    static const uint8_t hdr[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
    struct mote_frame f;

    (void)state;
    assert_rc(frame_guarded(hdr, sizeof hdr, 0, &f), MOTE_NEED_MORE);
    assert_int_equal(f.need, MOTE_VARINT_MAX);
    assert_rc(frame_guarded(hdr, sizeof hdr, MOTE_PACKET_MAX, &f), MOTE_NEED_MORE);
    assert_rc(frame_guarded(hdr, sizeof hdr, MOTE_PACKET_MAX - 1, &f), MOTE_ERR_PACKET_TOO_LARGE);
}

static void frame_packet_too_large_is_known_from_the_header_alone(void **state)
{
    /* Remaining length 128: a 131-byte packet, of which only the header has arrived. */
    static const uint8_t hdr[] = {0x30, 0x80, 0x01};
    static const uint8_t ping[] = {0xC0, 0x00};
    struct mote_frame f;

    (void)state;
    assert_rc(frame_guarded(hdr, sizeof hdr, 130, &f), MOTE_ERR_PACKET_TOO_LARGE);
    assert_rc(frame_guarded(hdr, sizeof hdr, 100, &f), MOTE_ERR_PACKET_TOO_LARGE);
    memset(&f, 0, sizeof f);
    assert_rc(frame_guarded(hdr, sizeof hdr, 131, &f), MOTE_NEED_MORE);
    assert_int_equal(f.need, 128);
    /* A limit equal to the packet's size accepts it. */
    assert_rc(frame_guarded(ping, sizeof ping, 2, &f), MOTE_OK);
    assert_rc(frame_guarded(ping, sizeof ping, 1, &f), MOTE_ERR_PACKET_TOO_LARGE);
}

static void frame_rejects_null_arguments(void **state)
{
    static const uint8_t ping[] = {0xC0, 0x00};
    struct mote_frame f;

    (void)state;
    assert_rc(mote_codec_frame(guard_in(ping, 2), 2, 0, NULL), MOTE_ERR_BAD_ARG);
    assert_rc(mote_codec_frame(NULL, 2, 0, &f), MOTE_ERR_BAD_ARG);
}

/* A QoS 0 PUBLISH to "t" whose remaining length is @p remaining. */
static void publish_with_remaining(uint32_t remaining, struct mote_packet *p)
{
    memset(p, 0, sizeof *p);
    p->type = MOTE_PUBLISH;
    p->u.publish.topic = MOTE_SLICE_STR("t");
    p->u.publish.payload.ptr = big_payload;
    p->u.publish.payload.len = remaining - 3;
}

static void encode_remaining_length_at_each_varint_boundary_that_fits(void **state)
{
    static const uint32_t values[] = {127, 128, 16383, 16384};
    struct mote_packet p;
    struct roundtrip r;
    size_t i, k;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(values); i++) {
        size_t b;

        for (b = 0; boundaries[b].value != values[i]; b++)
            ;
        publish_with_remaining(values[i], &p);
        roundtrip(&p, MOTE_V311, &r);
        assert_int_equal(r.len, 1 + boundaries[b].len + values[i]);
        assert_int_equal(r.wire[0], 0x30);
        for (k = 0; k < boundaries[b].len; k++)
            assert_int_equal(r.wire[1 + k], boundaries[b].bytes[k]);
        assert_int_equal(r.frame.remaining, values[i]);
        assert_int_equal(r.frame.header_len, 1 + boundaries[b].len);
    }
}

static void encode_remaining_length_zero_for_pingreq(void **state)
{
    struct mote_packet p;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_PINGREQ;
    assert_encodes_to(&p, MOTE_V311, 0xC0, 0x00);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_reads_type_flags_and_lengths_of_a_whole_packet),
        cmocka_unit_test(frame_needs_one_byte_while_the_header_is_incomplete),
        cmocka_unit_test(frame_needs_the_missing_body_bytes_for_every_prefix),
        cmocka_unit_test(frame_of_a_stream_delimits_only_the_first_packet),
        cmocka_unit_test(frame_type_0_is_packet_type_error),
        cmocka_unit_test(frame_reserved_flag_bits_of_every_type),
        cmocka_unit_test(decode_reports_reserved_flag_bits_as_frame_does),
        cmocka_unit_test(frame_varint_of_five_bytes_is_too_long),
        cmocka_unit_test(frame_varint_too_long_is_known_from_the_fourth_byte),
        cmocka_unit_test(frame_varint_with_needless_bytes_is_not_minimal),
        cmocka_unit_test(frame_remaining_length_boundaries_from_the_spec),
        cmocka_unit_test(frame_largest_packet_fits_the_protocol_limit),
        cmocka_unit_test(frame_packet_too_large_is_known_from_the_header_alone),
        cmocka_unit_test(frame_rejects_null_arguments),
        cmocka_unit_test(encode_remaining_length_at_each_varint_boundary_that_fits),
        cmocka_unit_test(encode_remaining_length_zero_for_pingreq),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
