/*
 * test_varint_utf8.c - the building blocks: variable byte integers (MQTT 5.0 section 1.5.5,
 * 3.1.1 section 2.2.3) and UTF-8 strings (section 1.5.3 / 1.5.4), alone and inside packets.
 */
#include "harness.h"

static void varint_size_at_every_boundary(void **state)
{
    (void)state;
    assert_int_equal(mote_varint_size(0), 1);
    assert_int_equal(mote_varint_size(127), 1);
    assert_int_equal(mote_varint_size(128), 2);
    assert_int_equal(mote_varint_size(16383), 2);
    assert_int_equal(mote_varint_size(16384), 3);
    assert_int_equal(mote_varint_size(2097151), 3);
    assert_int_equal(mote_varint_size(2097152), 4);
    assert_int_equal(mote_varint_size(MOTE_VARINT_MAX), 4);
    assert_int_equal(mote_varint_size(MOTE_VARINT_MAX + 1u), 0);
    assert_int_equal(mote_varint_size(0xFFFFFFFFu), 0);
}

static void varint_decode_reads_only_its_own_bytes(void **state)
{
    static const uint8_t v[] = {0xC1, 0x02, 0x55, 0x66}; /* 321, then other data */
    uint32_t value = 0;
    size_t used = 0;

    (void)state;
    assert_rc(mote_varint_decode(guard_in(v, sizeof v), sizeof v, &value, &used), MOTE_OK);
    assert_int_equal(value, 321);
    assert_int_equal(used, 2);
}

static void varint_decode_needs_more_on_partial_input(void **state)
{
    static const uint8_t v[] = {0x80, 0x80, 0x80};
    uint32_t value;
    size_t used, n;

    (void)state;
    for (n = 0; n <= sizeof v; n++)
        assert_rc(mote_varint_decode(guard_in(v, n), n, &value, &used), MOTE_NEED_MORE);
}

static void varint_decode_rejects_a_fifth_byte(void **state)
{
    static const uint8_t v[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    static const uint8_t w[] = {0x80, 0x80, 0x80, 0x80, 0x00};
    uint32_t value;
    size_t used;

    (void)state;
    assert_rc(mote_varint_decode(guard_in(v, sizeof v), sizeof v, &value, &used),
              MOTE_ERR_VARINT_TOO_LONG);
    assert_rc(mote_varint_decode(guard_in(w, sizeof w), sizeof w, &value, &used),
              MOTE_ERR_VARINT_TOO_LONG);
    assert_rc(mote_varint_decode(guard_in(v, 4), 4, &value, &used), MOTE_ERR_VARINT_TOO_LONG);
}

static void varint_decode_rejects_a_needless_zero_byte(void **state)
{
    static const uint8_t a[] = {0x80, 0x00};
    static const uint8_t b[] = {0xFF, 0x80, 0x00};
    static const uint8_t c[] = {0x80, 0x80, 0x80, 0x00};
    uint32_t value;
    size_t used;

    (void)state;
    assert_rc(mote_varint_decode(guard_in(a, sizeof a), sizeof a, &value, &used),
              MOTE_ERR_VARINT_NOT_MINIMAL);
    assert_rc(mote_varint_decode(guard_in(b, sizeof b), sizeof b, &value, &used),
              MOTE_ERR_VARINT_NOT_MINIMAL);
    assert_rc(mote_varint_decode(guard_in(c, sizeof c), sizeof c, &value, &used),
              MOTE_ERR_VARINT_NOT_MINIMAL);
}

struct utf8_case {
    const char *what;
    const char *bytes;
    size_t len;
    int rc;
};

#define U8(what, s, rc)                                                                            \
    {                                                                                              \
        what, s, sizeof(s) - 1, rc                                                                 \
    }

static const struct utf8_case utf8_cases[] = {
    U8("empty", "", MOTE_OK),
    U8("ASCII", "sensors/t1", MOTE_OK),
    U8("control character U+0001 (allowed, not recommended)", "\x01", MOTE_OK),
    U8("the spec's example U+0041 U+2A6D4", "A\xF0\xAA\x9B\x94", MOTE_OK),
    U8("U+0080", "\xC2\x80", MOTE_OK),
    U8("U+07FF", "\xDF\xBF", MOTE_OK),
    U8("U+0800", "\xE0\xA0\x80", MOTE_OK),
    U8("U+D7FF, last before the surrogates", "\xED\x9F\xBF", MOTE_OK),
    U8("U+E000, first after the surrogates", "\xEE\x80\x80", MOTE_OK),
    U8("U+FEFF byte order mark is kept, not rejected", "\xEF\xBB\xBF", MOTE_OK),
    U8("U+FFFD", "\xEF\xBF\xBD", MOTE_OK),
    U8("U+10000", "\xF0\x90\x80\x80", MOTE_OK),
    U8("U+10FFFF, the last code point", "\xF4\x8F\xBF\xBF", MOTE_OK),
    U8("overlong U+0000 C0 80", "\xC0\x80", MOTE_ERR_UTF8_ILL_FORMED),
    U8("overlong C1 BF", "\xC1\xBF", MOTE_ERR_UTF8_ILL_FORMED),
    U8("overlong E0 80 80", "\xE0\x80\x80", MOTE_ERR_UTF8_ILL_FORMED),
    U8("overlong E0 9F BF", "\xE0\x9F\xBF", MOTE_ERR_UTF8_ILL_FORMED),
    U8("overlong F0 80 80 80", "\xF0\x80\x80\x80", MOTE_ERR_UTF8_ILL_FORMED),
    U8("overlong F0 8F BF BF", "\xF0\x8F\xBF\xBF", MOTE_ERR_UTF8_ILL_FORMED),
    U8("beyond U+10FFFF F4 90 80 80", "\xF4\x90\x80\x80", MOTE_ERR_UTF8_ILL_FORMED),
    U8("lead byte F5", "\xF5\x80\x80\x80", MOTE_ERR_UTF8_ILL_FORMED),
    U8("lead byte F8", "\xF8\x88\x80\x80\x80", MOTE_ERR_UTF8_ILL_FORMED),
    U8("lead byte FE", "\xFE", MOTE_ERR_UTF8_ILL_FORMED),
    U8("byte FF", "a\xFF", MOTE_ERR_UTF8_ILL_FORMED),
    U8("lone continuation byte 80", "\x80", MOTE_ERR_UTF8_ILL_FORMED),
    U8("lone continuation byte BF after ASCII", "ab\xBF", MOTE_ERR_UTF8_ILL_FORMED),
    U8("2-byte sequence cut at the end", "a\xC3", MOTE_ERR_UTF8_ILL_FORMED),
    U8("3-byte sequence cut at the end", "\xE2\x82", MOTE_ERR_UTF8_ILL_FORMED),
    U8("4-byte sequence cut at the end", "\xF0\x9F\x98", MOTE_ERR_UTF8_ILL_FORMED),
    U8("2-byte sequence cut by ASCII", "\xC3\x41", MOTE_ERR_UTF8_ILL_FORMED),
    U8("3-byte sequence cut by ASCII", "\xE2\x28\xA1", MOTE_ERR_UTF8_ILL_FORMED),
    U8("4-byte sequence cut by ASCII", "\xF0\x9F\x28\x8C", MOTE_ERR_UTF8_ILL_FORMED),
    U8("U+0000 alone", "\x00", MOTE_ERR_UTF8_NULL),
    U8("U+0000 inside",
       "a\x00"
       "b",
       MOTE_ERR_UTF8_NULL),
    U8("surrogate U+D800 ED A0 80", "\xED\xA0\x80", MOTE_ERR_UTF8_SURROGATE),
    U8("surrogate U+DC00 ED B0 80", "\xED\xB0\x80", MOTE_ERR_UTF8_SURROGATE),
    U8("surrogate U+DFFF ED BF BF", "\xED\xBF\xBF", MOTE_ERR_UTF8_SURROGATE),
    U8("surrogate after ASCII", "ab\xED\xA0\x80", MOTE_ERR_UTF8_SURROGATE),
};

static void utf8_check_accepts_and_rejects_per_section_1_5_4(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(utf8_cases); i++) {
        const struct utf8_case *c = &utf8_cases[i];
        int rc = mote_utf8_check(guard_in(c->bytes, c->len), c->len);

        if (rc != c->rc)
            fail_msg("utf8 %s: %s, expected %s", c->what, mote_err_name(rc), mote_err_name(c->rc));
    }
}

/* A 3.1.1 PUBLISH whose topic is @p topic (no wildcard bytes in the cases). */
static int decode_publish_topic(const char *topic, size_t len, uint8_t version)
{
    uint8_t body[64];
    struct mote_packet p;
    size_t n = 0;
    int rc;

    body[n++] = 0;
    body[n++] = (uint8_t)len;
    memcpy(body + n, topic, len);
    n += len;
    if (version == MOTE_V5)
        body[n++] = 0;
    decode_body(0x30, body, n, version, &p, &rc);
    return rc;
}

static void utf8_rules_apply_to_publish_topic_names(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(utf8_cases); i++) {
        const struct utf8_case *c = &utf8_cases[i];
        int want = c->len == 0 ? MOTE_ERR_TOPIC_EMPTY : c->rc;
        int rc = decode_publish_topic(c->bytes, c->len, MOTE_V311);

        if (rc != want)
            fail_msg("topic %s (3.1.1): %s, expected %s", c->what, mote_err_name(rc),
                     mote_err_name(want));
        rc = decode_publish_topic(c->bytes, c->len, MOTE_V5);
        if (rc != want)
            fail_msg("topic %s (5.0): %s, expected %s", c->what, mote_err_name(rc),
                     mote_err_name(want));
    }
}

/* A 3.1.1 CONNECT whose client id, username or will topic is @p s. */
static int decode_connect_string(int field, const char *s, size_t len)
{
    uint8_t body[96];
    struct mote_packet p;
    size_t n = 0;
    int rc;

    static const uint8_t head[] = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04};
    memcpy(body, head, sizeof head);
    n = sizeof head;
    /* flags: clean session, plus will (field 1) or username (field 2) */
    body[n++] = (uint8_t)(0x02 | (field == 1 ? 0x04 : 0) | (field == 2 ? 0x80 : 0));
    body[n++] = 0x00;
    body[n++] = 0x3C;
    body[n++] = 0;
    if (field == 0) {
        body[n++] = (uint8_t)len;
        memcpy(body + n, s, len);
        n += len;
    } else {
        body[n++] = 1;
        body[n++] = 'c';
    }
    if (field == 1) {
        body[n++] = 0;
        body[n++] = (uint8_t)len;
        memcpy(body + n, s, len);
        n += len;
        body[n++] = 0; /* will payload: empty */
        body[n++] = 0;
    }
    if (field == 2) {
        body[n++] = 0;
        body[n++] = (uint8_t)len;
        memcpy(body + n, s, len);
        n += len;
    }
    decode_body(0x10, body, n, MOTE_V311, &p, &rc);
    return rc;
}

static void utf8_rules_apply_to_client_id_will_topic_and_username(void **state)
{
    static const char *const field_name[] = {"client id", "will topic", "username"};
    size_t i;
    int field;

    (void)state;
    for (field = 0; field < 3; field++) {
        for (i = 0; i < HARNESS_ARRAY_LEN(utf8_cases); i++) {
            const struct utf8_case *c = &utf8_cases[i];
            int want = c->rc, rc;

            if (c->len == 0)
                continue; /* empty client id / will topic have rules of their own */
            rc = decode_connect_string(field, c->bytes, c->len);
            if (rc != want)
                fail_msg("%s %s: %s, expected %s", field_name[field], c->what, mote_err_name(rc),
                         mote_err_name(want));
        }
    }
}

static void utf8_rules_apply_to_subscribe_and_unsubscribe_filters(void **state)
{
    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_UTF8_ILL_FORMED, 0x82, 0x00, 0x01, 0x00, 0x02, 0xC0, 0x80,
                0x00);
    expect_body(MOTE_V311, MOTE_ERR_UTF8_NULL, 0x82, 0x00, 0x01, 0x00, 0x03, 'a', 0x00, 'b', 0x00);
    expect_body(MOTE_V5, MOTE_ERR_UTF8_SURROGATE, 0x82, 0x00, 0x01, 0x00, 0x00, 0x03, 0xED, 0xA0,
                0x80, 0x00);
    expect_body(MOTE_V311, MOTE_ERR_UTF8_ILL_FORMED, 0xA2, 0x00, 0x01, 0x00, 0x01, 0xFF);
    expect_body(MOTE_V5, MOTE_ERR_UTF8_NULL, 0xA2, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00);
}

static void utf8_rules_apply_to_property_strings(void **state)
{
    (void)state;
    /* PUBLISH "t" with a Content Type holding C0 80. */
    expect_body(MOTE_V5, MOTE_ERR_UTF8_ILL_FORMED, 0x30, 0x00, 0x01, 't', 0x05, 0x03, 0x00, 0x02,
                0xC0, 0x80);
    /* Response Topic with U+0000. */
    expect_body(MOTE_V5, MOTE_ERR_UTF8_NULL, 0x30, 0x00, 0x01, 't', 0x04, 0x08, 0x00, 0x01, 0x00);
    /* User Property key with a surrogate. */
    expect_body(MOTE_V5, MOTE_ERR_UTF8_SURROGATE, 0x30, 0x00, 0x01, 't', 0x09, 0x26, 0x00, 0x03,
                0xED, 0xA0, 0x80, 0x00, 0x01, 'v');
    /* User Property value cut short. */
    expect_body(MOTE_V5, MOTE_ERR_UTF8_ILL_FORMED, 0x30, 0x00, 0x01, 't', 0x07, 0x26, 0x00, 0x01,
                'k', 0x00, 0x01, 0xE2);
    /* Reason String of a PUBACK with FF. */
    expect_body(MOTE_V5, MOTE_ERR_UTF8_ILL_FORMED, 0x40, 0x00, 0x01, 0x00, 0x04, 0x1F, 0x00, 0x01,
                0xFF);
}

static void binary_fields_are_not_utf8_checked(void **state)
{
    struct mote_packet p;
    const uint8_t *in;
    int rc;
    /* 3.1.1 CONNECT: will payload and password hold bytes that are not UTF-8. */
    static const uint8_t connect[] = {0x00, 0x04, 'M', 'Q',  'T',  'T',  0x04, 0xC6, 0x00, 0x00,
                                      0x00, 0x01, 'c', 0x00, 0x01, 'w',  0x00, 0x02, 0xC0, 0x80,
                                      0x00, 0x01, 'u', 0x00, 0x03, 0x00, 0xED, 0xA0};
    /* 5.0 PUBLISH: Correlation Data and payload hold such bytes too. */
    static const uint8_t publish[] = {0x00, 0x01, 't',  0x05, 0x09, 0x00,
                                      0x02, 0xFF, 0x00, 0xC0, 0x80, 0x00};

    (void)state;
    in = decode_body(0x10, connect, sizeof connect, MOTE_V311, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.u.connect.will_payload.len, 2);
    assert_int_equal(p.u.connect.password.len, 3);
    assert_ptr_equal(p.u.connect.password.ptr, in + 2 + sizeof connect - 3);
    in = decode_body(0x30, publish, sizeof publish, MOTE_V5, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_int_equal(p.u.publish.payload.len, 3);
    assert_ptr_equal(p.u.publish.payload.ptr, in + 2 + sizeof publish - 3);
}

static void encoder_checks_utf8_of_every_string(void **state)
{
    struct mote_packet p;
    struct mote_prop prop;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_PUBLISH;
    p.u.publish.topic = MOTE_SLICE_STR("a\xC0\x80");
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_UTF8_ILL_FORMED);
    p.u.publish.topic = MOTE_SLICE_STR("a\x00"
                                       "b");
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_UTF8_NULL);
    p.u.publish.topic = MOTE_SLICE_STR("\xED\xBF\xBF");
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_UTF8_SURROGATE);

    p.u.publish.topic = MOTE_SLICE_STR("t");
    prop = prop_str(MOTE_PROP_CONTENT_TYPE, "\xF4\x90\x80\x80");
    p.u.publish.props = props_of(&prop, 1);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_UTF8_ILL_FORMED);

    memset(&p, 0, sizeof p);
    p.type = MOTE_CONNECT;
    p.u.connect.version = MOTE_V311;
    p.u.connect.clean_start = 1;
    p.u.connect.client_id = MOTE_SLICE_STR("c\x80");
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_UTF8_ILL_FORMED);
    p.u.connect.client_id = MOTE_SLICE_STR("c");
    p.u.connect.has_username = 1;
    p.u.connect.username = MOTE_SLICE_STR("u\x00");
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_UTF8_NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(varint_size_at_every_boundary),
        cmocka_unit_test(varint_decode_reads_only_its_own_bytes),
        cmocka_unit_test(varint_decode_needs_more_on_partial_input),
        cmocka_unit_test(varint_decode_rejects_a_fifth_byte),
        cmocka_unit_test(varint_decode_rejects_a_needless_zero_byte),
        cmocka_unit_test(utf8_check_accepts_and_rejects_per_section_1_5_4),
        cmocka_unit_test(utf8_rules_apply_to_publish_topic_names),
        cmocka_unit_test(utf8_rules_apply_to_client_id_will_topic_and_username),
        cmocka_unit_test(utf8_rules_apply_to_subscribe_and_unsubscribe_filters),
        cmocka_unit_test(utf8_rules_apply_to_property_strings),
        cmocka_unit_test(binary_fields_are_not_utf8_checked),
        cmocka_unit_test(encoder_checks_utf8_of_every_string),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
