/*
 * test_errors.c - the error table (names and messages), packet and reason code names, the
 * reason code tables of MQTT 3.1.1 and 5.0 applied by decode and encode, argument checks, and
 * lengths beyond what a string or a packet can hold.
 */
#include "harness.h"

#define ERR(code)                                                                                  \
    {                                                                                              \
        code, #code                                                                                \
    }

static const struct {
    int code;
    const char *name;
} errors[] = {
    ERR(MOTE_OK),
    ERR(MOTE_NEED_MORE),
    ERR(MOTE_ERR_BAD_ARG),
    ERR(MOTE_ERR_BUFFER_TOO_SMALL),
    ERR(MOTE_ERR_PACKET_TYPE),
    ERR(MOTE_ERR_HEADER_FLAGS),
    ERR(MOTE_ERR_VARINT_TOO_LONG),
    ERR(MOTE_ERR_VARINT_NOT_MINIMAL),
    ERR(MOTE_ERR_PACKET_TOO_LARGE),
    ERR(MOTE_ERR_TRUNCATED),
    ERR(MOTE_ERR_TRAILING_BYTES),
    ERR(MOTE_ERR_STRING_TOO_LONG),
    ERR(MOTE_ERR_UTF8_ILL_FORMED),
    ERR(MOTE_ERR_UTF8_NULL),
    ERR(MOTE_ERR_UTF8_SURROGATE),
    ERR(MOTE_ERR_TOPIC_EMPTY),
    ERR(MOTE_ERR_TOPIC_WILDCARD),
    ERR(MOTE_ERR_FILTER_PLUS),
    ERR(MOTE_ERR_FILTER_HASH),
    ERR(MOTE_ERR_SHARE_SYNTAX),
    ERR(MOTE_ERR_TOPIC_LEVELS),
    ERR(MOTE_ERR_TOPIC_ALIAS_ZERO),
    ERR(MOTE_ERR_PROPERTY_UNKNOWN),
    ERR(MOTE_ERR_PROPERTY_DUPLICATE),
    ERR(MOTE_ERR_PROPERTY_NOT_ALLOWED),
    ERR(MOTE_ERR_PROPERTY_VALUE),
    ERR(MOTE_ERR_PROPERTIES_IN_V3),
    ERR(MOTE_ERR_QOS),
    ERR(MOTE_ERR_PACKET_ID_ZERO),
    ERR(MOTE_ERR_PROTOCOL_NAME),
    ERR(MOTE_ERR_PROTOCOL_LEVEL),
    ERR(MOTE_ERR_CONNECT_FLAGS),
    ERR(MOTE_ERR_CONNACK_FLAGS),
    ERR(MOTE_ERR_REASON_CODE),
    ERR(MOTE_ERR_NO_TOPICS),
    ERR(MOTE_ERR_SUBSCRIBE_OPTIONS),
    ERR(MOTE_ERR_SHARED_NO_LOCAL),
    ERR(MOTE_ERR_PUBLISH_DUP),
    ERR(MOTE_ERR_VERSION),
};

static void err_name_is_the_identifier_of_every_code(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(errors); i++) {
        const char *name = mote_err_name(errors[i].code);

        if (name == NULL)
            fail_msg("mote_err_name(%d) is NULL", errors[i].code);
        if (strcmp(name, errors[i].name) != 0)
            fail_msg("mote_err_name(%d) is \"%s\", expected \"%s\"", errors[i].code, name,
                     errors[i].name);
    }
}

static void strerror_is_a_distinct_sentence_for_every_code(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(errors); i++) {
        const char *msg = mote_strerror(errors[i].code);

        if (msg == NULL || msg[0] == 0)
            fail_msg("mote_strerror(%s) is empty", errors[i].name);
        if (strcmp(msg, errors[i].name) == 0)
            fail_msg("mote_strerror(%s) only repeats the name", errors[i].name);
        for (j = 0; j < i; j++)
            if (strcmp(msg, mote_strerror(errors[j].code)) == 0)
                fail_msg("%s and %s share the message \"%s\"", errors[i].name, errors[j].name, msg);
    }
}

static void unknown_codes_get_a_generic_text(void **state)
{
    static const int unknown[] = {-3, -9, -15, -29, -47, -55, -72, -130, -999, 2, 7, 1000};
    size_t i, j;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(unknown); i++) {
        const char *name = mote_err_name(unknown[i]);
        const char *msg = mote_strerror(unknown[i]);

        assert_non_null(name);
        assert_non_null(msg);
        assert_true(msg[0] != 0);
        for (j = 0; j < HARNESS_ARRAY_LEN(errors); j++) {
            if (strcmp(name, errors[j].name) == 0)
                fail_msg("mote_err_name(%d) is %s", unknown[i], name);
            if (strcmp(msg, mote_strerror(errors[j].code)) == 0)
                fail_msg("mote_strerror(%d) is the message of %s", unknown[i], errors[j].name);
        }
    }
}

static void packet_name_of_every_type(void **state)
{
    static const char *const names[] = {"CONNECT",  "CONNACK",     "PUBLISH",  "PUBACK",
                                        "PUBREC",   "PUBREL",      "PUBCOMP",  "SUBSCRIBE",
                                        "SUBACK",   "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
                                        "PINGRESP", "DISCONNECT",  "AUTH"};
    uint8_t type;

    (void)state;
    for (type = 1; type <= 15; type++)
        assert_string_equal(mote_packet_name(type), names[type - 1]);
    assert_string_equal(mote_packet_name(0), "reserved");
    assert_string_equal(mote_packet_name(16), "reserved");
    assert_string_equal(mote_packet_name(255), "reserved");
}

/* MQTT 5.0 section 2.4, table 2-6, by packet; and the MQTT 3.1.1 CONNACK and SUBACK codes. */
static const uint8_t rc_connack5[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                      0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                      0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
static const uint8_t rc_puback[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
static const uint8_t rc_pubrel[] = {0x00, 0x92};
static const uint8_t rc_suback5[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                     0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
static const uint8_t rc_unsuback5[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
/*
 * DISCONNECT: table 3-10 of section 3.14.2.1 does not list 0x8C (Bad authentication method), but
 * table 2-6 of section 2.4 gives it to CONNACK and DISCONNECT; we follow table 2-6.
 */
static const uint8_t rc_disconnect[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8C,
                                        0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
                                        0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
static const uint8_t rc_auth[] = {0x00, 0x18, 0x19};
static const uint8_t rc_connack3[] = {0, 1, 2, 3, 4, 5};
static const uint8_t rc_suback3[] = {0x00, 0x01, 0x02, 0x80};

static const struct {
    uint8_t version, type;
    const uint8_t *codes;
    size_t count;
} rc_tables[] = {
    {MOTE_V5, MOTE_CONNACK, rc_connack5, sizeof rc_connack5},
    {MOTE_V5, MOTE_PUBACK, rc_puback, sizeof rc_puback},
    {MOTE_V5, MOTE_PUBREC, rc_puback, sizeof rc_puback},
    {MOTE_V5, MOTE_PUBREL, rc_pubrel, sizeof rc_pubrel},
    {MOTE_V5, MOTE_PUBCOMP, rc_pubrel, sizeof rc_pubrel},
    {MOTE_V5, MOTE_SUBACK, rc_suback5, sizeof rc_suback5},
    {MOTE_V5, MOTE_UNSUBACK, rc_unsuback5, sizeof rc_unsuback5},
    {MOTE_V5, MOTE_DISCONNECT, rc_disconnect, sizeof rc_disconnect},
    {MOTE_V5, MOTE_AUTH, rc_auth, sizeof rc_auth},
    {MOTE_V311, MOTE_CONNACK, rc_connack3, sizeof rc_connack3},
    {MOTE_V311, MOTE_SUBACK, rc_suback3, sizeof rc_suback3},
    {MOTE_V31, MOTE_CONNACK, rc_connack3, sizeof rc_connack3},
    {MOTE_V31, MOTE_SUBACK, rc_suback3, sizeof rc_suback3},
};

static int in_table(size_t t, unsigned code)
{
    size_t i;

    for (i = 0; i < rc_tables[t].count; i++)
        if (rc_tables[t].codes[i] == code)
            return 1;
    return 0;
}

static void reason_allowed_matches_the_spec_tables(void **state)
{
    size_t t;
    unsigned code;

    (void)state;
    for (t = 0; t < HARNESS_ARRAY_LEN(rc_tables); t++)
        for (code = 0; code <= 255; code++)
            if (!!mote_reason_allowed(rc_tables[t].version, rc_tables[t].type, (uint8_t)code) !=
                in_table(t, code))
                fail_msg("mote_reason_allowed(%d, %s, 0x%02x) should be %d", rc_tables[t].version,
                         mote_packet_name(rc_tables[t].type), code, in_table(t, code));
}

/* The smallest packet of the table's type and version that carries @p code. */
static size_t packet_with_code(size_t t, uint8_t code, uint8_t *out)
{
    uint8_t type = rc_tables[t].type;
    int v5 = rc_tables[t].version == MOTE_V5;

    out[0] = (uint8_t)(type << 4 | (type == MOTE_PUBREL ? 2 : 0));
    switch (type) {
    case MOTE_CONNACK:
        out[1] = v5 ? 3 : 2;
        out[2] = 0;
        out[3] = code;
        out[4] = 0;
        return v5 ? 5 : 4;
    case MOTE_SUBACK:
    case MOTE_UNSUBACK:
        out[1] = v5 ? 4 : 3;
        out[2] = 0;
        out[3] = 1;
        out[4] = 0;
        out[v5 ? 5 : 4] = code;
        return v5 ? 6 : 5;
    case MOTE_DISCONNECT:
    case MOTE_AUTH:
        out[1] = 2;
        out[2] = code;
        out[3] = 0;
        return 4;
    default: /* PUBACK .. PUBCOMP */
        out[1] = 4;
        out[2] = 0;
        out[3] = 1;
        out[4] = code;
        out[5] = 0;
        return 6;
    }
}

static void decoded_reason_codes_follow_the_spec_tables(void **state)
{
    size_t t, n;
    unsigned code;

    (void)state;
    for (t = 0; t < HARNESS_ARRAY_LEN(rc_tables); t++) {
        for (code = 0; code <= 255; code++) {
            uint8_t pkt[8];
            struct mote_packet p;
            int want = in_table(t, code) ? MOTE_OK : MOTE_ERR_REASON_CODE, rc;

            n = packet_with_code(t, (uint8_t)code, pkt);
            rc = decode_guarded(pkt, n, rc_tables[t].version, &p);
            if (rc != want)
                fail_msg("decode %s level %d with code 0x%02x: %s, expected %s",
                         mote_packet_name(rc_tables[t].type), rc_tables[t].version, code,
                         mote_err_name(rc), mote_err_name(want));
        }
    }
}

static void encoded_reason_codes_follow_the_spec_tables(void **state)
{
    size_t t;
    unsigned code;

    (void)state;
    for (t = 0; t < HARNESS_ARRAY_LEN(rc_tables); t++) {
        for (code = 0; code <= 255; code++) {
            uint8_t c = (uint8_t)code;
            struct mote_packet p;
            int want = in_table(t, code) ? MOTE_OK : MOTE_ERR_REASON_CODE, rc;

            memset(&p, 0, sizeof p);
            p.type = rc_tables[t].type;
            switch (p.type) {
            case MOTE_CONNACK:
                p.u.connack.reason = c;
                break;
            case MOTE_SUBACK:
            case MOTE_UNSUBACK:
                p.u.suback.packet_id = 1;
                p.u.suback.codes = &c;
                p.u.suback.count = 1;
                break;
            case MOTE_DISCONNECT:
            case MOTE_AUTH:
                p.u.reason.reason = c;
                break;
            default:
                p.u.ack.packet_id = 1;
                p.u.ack.reason = c;
                break;
            }
            rc = encode_guarded(&p, rc_tables[t].version, 64, NULL, NULL);
            if (rc != want)
                fail_msg("encode %s level %d with code 0x%02x: %s, expected %s",
                         mote_packet_name(rc_tables[t].type), rc_tables[t].version, code,
                         mote_err_name(rc), mote_err_name(want));
        }
    }
}

static void reason_name_uses_the_spec_wording(void **state)
{
    (void)state;
    assert_string_equal(mote_reason_name(MOTE_V5, MOTE_DISCONNECT, 0x8E), "Session taken over");
    assert_string_equal(mote_reason_name(MOTE_V311, MOTE_CONNACK, 5),
                        "Connection Refused, not authorized");
    assert_string_equal(mote_reason_name(MOTE_V311, MOTE_CONNACK, 0), "Connection Accepted");
    assert_string_equal(mote_reason_name(MOTE_V311, MOTE_CONNACK, 1),
                        "Connection Refused, unacceptable protocol version");
    assert_string_equal(mote_reason_name(MOTE_V311, MOTE_CONNACK, 2),
                        "Connection Refused, identifier rejected");
    assert_string_equal(mote_reason_name(MOTE_V311, MOTE_CONNACK, 3),
                        "Connection Refused, Server unavailable");
    assert_string_equal(mote_reason_name(MOTE_V311, MOTE_CONNACK, 4),
                        "Connection Refused, bad user name or password");
    /* 0x00 has three names in 5.0, by packet */
    assert_string_equal(mote_reason_name(MOTE_V5, MOTE_PUBACK, 0), "Success");
    assert_string_equal(mote_reason_name(MOTE_V5, MOTE_DISCONNECT, 0), "Normal disconnection");
    assert_string_equal(mote_reason_name(MOTE_V5, MOTE_SUBACK, 0), "Granted QoS 0");
    assert_string_equal(mote_reason_name(MOTE_V5, MOTE_SUBACK, 1), "Granted QoS 1");
    assert_string_equal(mote_reason_name(MOTE_V5, MOTE_PUBACK, 0x10), "No matching subscribers");
}

static void reason_name_is_never_null(void **state)
{
    size_t t;
    unsigned code;

    (void)state;
    for (t = 0; t < HARNESS_ARRAY_LEN(rc_tables); t++) {
        for (code = 0; code <= 255; code++) {
            const char *name =
                mote_reason_name(rc_tables[t].version, rc_tables[t].type, (uint8_t)code);

            if (name == NULL || (in_table(t, code) && name[0] == 0))
                fail_msg("mote_reason_name(%d, %s, 0x%02x) is empty", rc_tables[t].version,
                         mote_packet_name(rc_tables[t].type), code);
        }
    }
    assert_non_null(mote_reason_name(9, 0, 0));
    assert_non_null(mote_reason_name(MOTE_V5, MOTE_PINGREQ, 0x80));
}

static void null_arguments_are_bad_args(void **state)
{
    static const uint8_t ping[] = {0xC0, 0x00};
    struct mote_packet p, q;
    uint8_t *buf;
    size_t size, written;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_PINGREQ;
    assert_rc(mote_codec_size(NULL, MOTE_V5, &size), MOTE_ERR_BAD_ARG);
    assert_rc(mote_codec_size(&p, MOTE_V5, NULL), MOTE_ERR_BAD_ARG);
    buf = out_buf(16);
    assert_rc(mote_codec_encode(NULL, MOTE_V5, buf, 16, &written), MOTE_ERR_BAD_ARG);
    assert_rc(mote_codec_encode(&p, MOTE_V5, buf, 16, NULL), MOTE_ERR_BAD_ARG);
    assert_rc(mote_codec_encode(&p, MOTE_V5, NULL, 16, &written), MOTE_ERR_BAD_ARG);
    out_check(0);
    assert_rc(mote_codec_decode(NULL, 2, MOTE_V5, &q), MOTE_ERR_BAD_ARG);
    assert_rc(mote_codec_decode(guard_in(ping, 2), 2, MOTE_V5, NULL), MOTE_ERR_BAD_ARG);
}

static void list_count_without_a_list_is_a_bad_arg(void **state)
{
    struct mote_packet p;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_SUBSCRIBE;
    p.u.subscribe.packet_id = 1;
    p.u.subscribe.count = 2;
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_BAD_ARG);
    memset(&p, 0, sizeof p);
    p.type = MOTE_PUBLISH;
    p.u.publish.topic = MOTE_SLICE_STR("t");
    p.u.publish.props.count = 1;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_BAD_ARG);
}

static void strings_longer_than_65535_bytes(void **state)
{
    const uint8_t *big = harness_filled(65536, 'a');
    struct mote_packet p;
    struct mote_prop prop;
    size_t size;

    (void)state;
    if (big == NULL) {
        print_message("no room for 64 KiB strings here: skipped\n");
        return;
    }
    memset(&p, 0, sizeof p);
    p.type = MOTE_PUBLISH;
    p.u.publish.topic = harness_slice_of(big, 65536);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_STRING_TOO_LONG);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_STRING_TOO_LONG);
    p.u.publish.topic = harness_slice_of(big, 65535);
    assert_rc(mote_codec_size(&p, MOTE_V311, &size), MOTE_OK);
    assert_int_equal(size, 1 + 3 + 2 + 65535);

    p.u.publish.topic = MOTE_SLICE_STR("t");
    prop = prop_num(MOTE_PROP_CONTENT_TYPE, 0);
    prop.v.str = harness_slice_of(big, 65536);
    p.u.publish.props = props_of(&prop, 1);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_STRING_TOO_LONG);
    prop = prop_num(MOTE_PROP_CORRELATION_DATA, 0);
    prop.v.str = harness_slice_of(big, 65536);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_STRING_TOO_LONG);
    prop = prop_pair("k", "v");
    prop.v.pair.value = harness_slice_of(big, 65536);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_STRING_TOO_LONG);

    memset(&p, 0, sizeof p);
    p.type = MOTE_CONNECT;
    p.u.connect.version = MOTE_V311;
    p.u.connect.clean_start = 1;
    p.u.connect.client_id = harness_slice_of(big, 65536);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_STRING_TOO_LONG);
    p.u.connect.client_id = MOTE_SLICE_STR("c");
    p.u.connect.has_username = 1;
    p.u.connect.username = harness_slice_of(big, 65536);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_STRING_TOO_LONG);
    p.u.connect.username = MOTE_SLICE_STR("u");
    p.u.connect.has_password = 1;
    p.u.connect.password = harness_slice_of(big, 65536);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_STRING_TOO_LONG);
    p.u.connect.password = MOTE_SLICE_STR("p");
    p.u.connect.will = 1;
    p.u.connect.will_topic = MOTE_SLICE_STR("w");
    p.u.connect.will_payload = harness_slice_of(big, 65536);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_STRING_TOO_LONG);
}

static void packet_beyond_the_largest_remaining_length_is_too_large(void **state)
{
    /* Untouched zero pages: the size must come from the lengths alone. */
    const uint8_t *huge = harness_filled(MOTE_VARINT_MAX, 0);
    struct mote_packet p;
    size_t size;

    (void)state;
    if (huge == NULL) {
        print_message("no room for a 256 MiB payload here: skipped\n");
        return;
    }
    memset(&p, 0, sizeof p);
    p.type = MOTE_PUBLISH;
    p.u.publish.topic = MOTE_SLICE_STR("t");
    p.u.publish.payload = harness_slice_of(huge, MOTE_VARINT_MAX - 3);
    assert_rc(mote_codec_size(&p, MOTE_V311, &size), MOTE_OK);
    assert_int_equal(size, MOTE_PACKET_MAX);
    p.u.publish.payload.len = MOTE_VARINT_MAX - 2;
    assert_rc(mote_codec_size(&p, MOTE_V311, &size), MOTE_ERR_PACKET_TOO_LARGE);
    assert_rc(encode_guarded(&p, MOTE_V311, 64, NULL, NULL), MOTE_ERR_PACKET_TOO_LARGE);
}

static void payload_length_that_wraps_size_t_is_too_large(void **state)
{
    /* The size must be computed without overflow: a wrapped count would let encode overrun. */
    struct mote_packet p;
    size_t size = 0;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_PUBLISH;
    p.u.publish.topic = MOTE_SLICE_STR("t");
    p.u.publish.payload.ptr = (const uint8_t *)"x";
    p.u.publish.payload.len = SIZE_MAX - 2; /* + 3 bytes of topic = 0 after wrapping */
    assert_rc(mote_codec_size(&p, MOTE_V311, &size), MOTE_ERR_PACKET_TOO_LARGE);
    p.u.publish.payload.len = SIZE_MAX;
    assert_rc(mote_codec_size(&p, MOTE_V5, &size), MOTE_ERR_PACKET_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(err_name_is_the_identifier_of_every_code),
        cmocka_unit_test(strerror_is_a_distinct_sentence_for_every_code),
        cmocka_unit_test(unknown_codes_get_a_generic_text),
        cmocka_unit_test(packet_name_of_every_type),
        cmocka_unit_test(reason_allowed_matches_the_spec_tables),
        cmocka_unit_test(decoded_reason_codes_follow_the_spec_tables),
        cmocka_unit_test(encoded_reason_codes_follow_the_spec_tables),
        cmocka_unit_test(reason_name_uses_the_spec_wording),
        cmocka_unit_test(reason_name_is_never_null),
        cmocka_unit_test(null_arguments_are_bad_args),
        cmocka_unit_test(list_count_without_a_list_is_a_bad_arg),
        cmocka_unit_test(strings_longer_than_65535_bytes),
        cmocka_unit_test(packet_beyond_the_largest_remaining_length_is_too_large),
        cmocka_unit_test(payload_length_that_wraps_size_t_is_too_large),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
