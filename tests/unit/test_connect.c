/*
 * test_connect.c - CONNECT and CONNACK in MQTT 3.1, 3.1.1 and 5.0: round trips of every field,
 * protocol name and level, connect flags, CONNACK flags and return codes.
 */
#include "harness.h"

static void connect_minimal(struct mote_packet *p, uint8_t version)
{
    memset(p, 0, sizeof *p);
    p->type = MOTE_CONNECT;
    p->u.connect.version = version;
    p->u.connect.clean_start = 1;
    p->u.connect.keep_alive = 60;
    p->u.connect.client_id = MOTE_SLICE_STR("mote-1");
}

static void connect_full(struct mote_packet *p, uint8_t version)
{
    connect_minimal(p, version);
    p->u.connect.clean_start = 0;
    p->u.connect.keep_alive = 65535;
    p->u.connect.will = 1;
    p->u.connect.will_qos = 2;
    p->u.connect.will_retain = 1;
    p->u.connect.will_topic = MOTE_SLICE_STR("devices/mote-1/status");
    p->u.connect.will_payload = MOTE_SLICE_STR("offline\0\xFF");
    p->u.connect.has_username = 1;
    p->u.connect.username = MOTE_SLICE_STR("user \xC3\xA9");
    p->u.connect.has_password = 1;
    p->u.connect.password = MOTE_SLICE_STR("\x00\x01pass\xFE");
}

static void connect_minimal_round_trips_in_every_version(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    size_t v;

    (void)state;
    for (v = 0; v < sizeof harness_versions; v++) {
        connect_minimal(&p, harness_versions[v]);
        roundtrip(&p, harness_versions[v], &r);
        assert_int_equal(r.pkt.u.connect.version, harness_versions[v]);
        assert_int_equal(r.pkt.u.connect.will, 0);
        assert_int_equal(r.pkt.u.connect.has_username, 0);
        assert_int_equal(r.pkt.u.connect.has_password, 0);
    }
}

static void connect_with_will_username_password_round_trips_in_every_version(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    size_t v;

    (void)state;
    for (v = 0; v < sizeof harness_versions; v++) {
        connect_full(&p, harness_versions[v]);
        roundtrip(&p, harness_versions[v], &r);
        /* flags: username, password, will retain, will QoS 2, will; clean start off */
        assert_int_equal(r.wire[r.frame.header_len + (harness_versions[v] == MOTE_V31 ? 9 : 7)],
                         0xF4);
    }
}

static void connect_will_qos_0_and_1_and_empty_will_payload_round_trip(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    uint8_t qos;
    size_t v;

    (void)state;
    for (v = 0; v < sizeof harness_versions; v++) {
        for (qos = 0; qos < 2; qos++) {
            connect_minimal(&p, harness_versions[v]);
            p.u.connect.will = 1;
            p.u.connect.will_qos = qos;
            p.u.connect.will_topic = MOTE_SLICE_STR("w");
            roundtrip(&p, harness_versions[v], &r);
            assert_int_equal(r.pkt.u.connect.will_payload.len, 0);
        }
    }
}

static void connect_v31_is_mqisdp_level_3(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    static const uint8_t head[] = {0x00, 0x06, 'M',  'Q',  'I',  's',
                                   'd',  'p',  0x03, 0x02, 0x00, 0x3C};

    (void)state;
    connect_minimal(&p, MOTE_V31);
    roundtrip(&p, MOTE_V31, &r);
    assert_memory_equal(r.wire + 2, head, sizeof head);
    assert_int_equal(r.pkt.u.connect.version, MOTE_V31);
}

static void connect_v311_and_v5_are_mqtt_level_4_and_5(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    static const uint8_t head4[] = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C};
    static const uint8_t head5[] = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C, 0x00};

    (void)state;
    connect_minimal(&p, MOTE_V311);
    roundtrip(&p, MOTE_V311, &r);
    assert_memory_equal(r.wire + 2, head4, sizeof head4);
    connect_minimal(&p, MOTE_V5);
    roundtrip(&p, MOTE_V5, &r);
    assert_memory_equal(r.wire + 2, head5, sizeof head5);
}

static void connect_v5_with_properties_and_will_properties_round_trips(void **state)
{
    struct mote_prop props[4], will_props[3];
    struct mote_packet p;
    struct roundtrip r;

    (void)state;
    props[0] = prop_num(MOTE_PROP_SESSION_EXPIRY, 120);
    props[1] = prop_num(MOTE_PROP_RECEIVE_MAXIMUM, 20);
    props[2] = prop_pair("region", "eu");
    props[3] = prop_num(MOTE_PROP_MAXIMUM_PACKET_SIZE, 4096);
    will_props[0] = prop_num(MOTE_PROP_WILL_DELAY, 30);
    will_props[1] = prop_str(MOTE_PROP_CONTENT_TYPE, "text/plain");
    will_props[2] = prop_num(MOTE_PROP_PAYLOAD_FORMAT, 1);
    connect_full(&p, MOTE_V5);
    p.u.connect.props = props_of(props, 4);
    p.u.connect.will_props = props_of(will_props, 3);
    roundtrip(&p, MOTE_V5, &r);
}

static void connect_version_comes_from_the_packet_not_the_argument(void **state)
{
    struct mote_packet p, q;
    const uint8_t *out;
    size_t s4, s5, written;

    (void)state;
    connect_minimal(&p, MOTE_V5);
    assert_rc(mote_codec_size(&p, MOTE_V5, &s5), MOTE_OK);
    assert_rc(mote_codec_size(&p, MOTE_V311, &s4), MOTE_OK);
    assert_int_equal(s4, s5);
    assert_rc(encode_guarded(&p, MOTE_V311, s5, &out, &written), MOTE_OK);
    assert_int_equal(written, s5);
    assert_int_equal(out[2 + 6], 5);
    /* Decoding a CONNECT ignores the version argument. */
    assert_rc(decode_guarded(out, written, MOTE_V311, &q), MOTE_OK);
    assert_int_equal(q.u.connect.version, MOTE_V5);
    connect_minimal(&p, MOTE_V311);
    assert_rc(encode_guarded(&p, MOTE_V5, 64, &out, &written), MOTE_OK);
    assert_rc(decode_guarded(out, written, MOTE_V5, &q), MOTE_OK);
    assert_int_equal(q.u.connect.version, MOTE_V311);
}

static void connect_empty_client_id_round_trips(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    size_t v;

    (void)state;
    for (v = 0; v < sizeof harness_versions; v++) {
        connect_minimal(&p, harness_versions[v]);
        p.u.connect.client_id.len = 0;
        roundtrip(&p, harness_versions[v], &r);
    }
}

static void connect_password_without_username_only_in_v5(void **state)
{
    struct mote_packet p;
    struct roundtrip r;

    (void)state;
    connect_minimal(&p, MOTE_V5);
    p.u.connect.has_password = 1;
    p.u.connect.password = MOTE_SLICE_STR("secret");
    roundtrip(&p, MOTE_V5, &r);
    connect_minimal(&p, MOTE_V311);
    p.u.connect.has_password = 1;
    p.u.connect.password = MOTE_SLICE_STR("secret");
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_CONNECT_FLAGS);
    connect_minimal(&p, MOTE_V31);
    p.u.connect.has_password = 1;
    p.u.connect.password = MOTE_SLICE_STR("secret");
    assert_encode_rc(&p, MOTE_V31, MOTE_ERR_CONNECT_FLAGS);

    /* Decoded: flags 0x42 (password, clean session). */
    expect_body(MOTE_V311, MOTE_ERR_CONNECT_FLAGS, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x42,
                0x00, 0x3C, 0x00, 0x01, 'c', 0x00, 0x01, 'p');
    expect_body(MOTE_V31, MOTE_ERR_CONNECT_FLAGS, 0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p',
                0x03, 0x42, 0x00, 0x3C, 0x00, 0x01, 'c', 0x00, 0x01, 'p');
    expect_body(MOTE_V5, MOTE_OK, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x42, 0x00, 0x3C,
                0x00, 0x00, 0x01, 'c', 0x00, 0x01, 'p');
}

static void connect_protocol_name_other_than_mqtt_or_mqisdp(void **state)
{
    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_PROTOCOL_NAME, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'X', 0x04, 0x02,
                0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V311, MOTE_ERR_PROTOCOL_NAME, 0x10, 0x00, 0x04, 'm', 'q', 't', 't', 0x04, 0x02,
                0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V311, MOTE_ERR_PROTOCOL_NAME, 0x10, 0x00, 0x03, 'M', 'Q', 'T', 0x04, 0x02,
                0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V311, MOTE_ERR_PROTOCOL_NAME, 0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'P',
                0x03, 0x02, 0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V311, MOTE_ERR_PROTOCOL_NAME, 0x10, 0x00, 0x00, 0x04, 0x02, 0x00, 0x3C, 0x00,
                0x01, 'c');
}

static void connect_protocol_level_must_match_the_name(void **state)
{
    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_PROTOCOL_LEVEL, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x03,
                0x02, 0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V311, MOTE_ERR_PROTOCOL_LEVEL, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x06,
                0x02, 0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V311, MOTE_ERR_PROTOCOL_LEVEL, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x00,
                0x02, 0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V311, MOTE_ERR_PROTOCOL_LEVEL, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x84,
                0x02, 0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V311, MOTE_ERR_PROTOCOL_LEVEL, 0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p',
                0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V311, MOTE_ERR_PROTOCOL_LEVEL, 0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p',
                0x05, 0x02, 0x00, 0x3C, 0x00, 0x01, 'c');
    /* and the right pairs decode */
    expect_body(MOTE_V311, MOTE_OK, 0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03, 0x02,
                0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V311, MOTE_OK, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C,
                0x00, 0x01, 'c');
}

static void connect_reserved_flag_bit_0(void **state)
{
    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_CONNECT_FLAGS, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x03,
                0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V5, MOTE_ERR_CONNECT_FLAGS, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x01,
                0x00, 0x3C, 0x00, 0x00, 0x01, 'c');
    expect_body(MOTE_V31, MOTE_ERR_CONNECT_FLAGS, 0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p',
                0x03, 0x03, 0x00, 0x3C, 0x00, 0x01, 'c');
}

static void connect_will_qos_or_retain_without_will_flag(void **state)
{
    (void)state;
    /* will QoS 1 (0x08), will flag clear */
    expect_body(MOTE_V311, MOTE_ERR_CONNECT_FLAGS, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x0A,
                0x00, 0x3C, 0x00, 0x01, 'c');
    /* will QoS 2 (0x10) */
    expect_body(MOTE_V5, MOTE_ERR_CONNECT_FLAGS, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x12,
                0x00, 0x3C, 0x00, 0x00, 0x01, 'c');
    /* will retain (0x20) */
    expect_body(MOTE_V311, MOTE_ERR_CONNECT_FLAGS, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x22,
                0x00, 0x3C, 0x00, 0x01, 'c');
    expect_body(MOTE_V5, MOTE_ERR_CONNECT_FLAGS, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x22,
                0x00, 0x3C, 0x00, 0x00, 0x01, 'c');
}

static void connect_will_qos_3_is_a_qos_error(void **state)
{
    struct mote_packet p;

    (void)state;
    /* flags 0x1E: will QoS 3, will, clean session */
    expect_body(MOTE_V311, MOTE_ERR_QOS, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x1E, 0x00,
                0x3C, 0x00, 0x01, 'c', 0x00, 0x01, 'w', 0x00, 0x00);
    expect_body(MOTE_V5, MOTE_ERR_QOS, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x1E, 0x00, 0x3C,
                0x00, 0x00, 0x01, 'c', 0x00, 0x00, 0x01, 'w', 0x00, 0x00);
    connect_minimal(&p, MOTE_V311);
    p.u.connect.will = 1;
    p.u.connect.will_qos = 3;
    p.u.connect.will_topic = MOTE_SLICE_STR("w");
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_QOS);
}

static void connect_encoder_refuses_inconsistent_will_fields(void **state)
{
    struct mote_packet p;

    (void)state;
    connect_minimal(&p, MOTE_V311);
    p.u.connect.will_qos = 1;
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_CONNECT_FLAGS);
    connect_minimal(&p, MOTE_V5);
    p.u.connect.will_retain = 1;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_CONNECT_FLAGS);
}

static void connect_encoder_refuses_an_unknown_protocol_level(void **state)
{
    struct mote_packet p;

    (void)state;
    connect_minimal(&p, 6);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_VERSION);
    connect_minimal(&p, 0);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_VERSION);
}

static void connect_fields_missing_from_the_payload_are_truncated(void **state)
{
    (void)state;
    /* protocol name cut */
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x10, 0x00, 0x04, 'M', 'Q');
    /* no keep alive */
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02);
    /* no client id */
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02,
                0x00, 0x3C);
    /* client id longer than the packet */
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02,
                0x00, 0x3C, 0x00, 0x05, 'c');
    /* will flag, but no will topic */
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x06,
                0x00, 0x3C, 0x00, 0x01, 'c');
    /* will topic, but no will payload */
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x06,
                0x00, 0x3C, 0x00, 0x01, 'c', 0x00, 0x01, 'w');
    /* username flag, no username */
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x82,
                0x00, 0x3C, 0x00, 0x01, 'c');
    /* password flag, no password */
    expect_body(MOTE_V311, MOTE_ERR_TRUNCATED, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xC2,
                0x00, 0x3C, 0x00, 0x01, 'c', 0x00, 0x01, 'u');
    /* 5.0: property length missing */
    expect_body(MOTE_V5, MOTE_ERR_TRUNCATED, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00,
                0x3C);
    /* 5.0: will property length missing */
    expect_body(MOTE_V5, MOTE_ERR_TRUNCATED, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x06, 0x00,
                0x3C, 0x00, 0x00, 0x01, 'c');
}

static void connect_bytes_after_the_last_field_are_trailing(void **state)
{
    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_TRAILING_BYTES, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
                0x02, 0x00, 0x3C, 0x00, 0x01, 'c', 0x00);
    /* a username that the flags do not announce */
    expect_body(MOTE_V311, MOTE_ERR_TRAILING_BYTES, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
                0x02, 0x00, 0x3C, 0x00, 0x01, 'c', 0x00, 0x01, 'u');
    expect_body(MOTE_V5, MOTE_ERR_TRAILING_BYTES, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0xC2,
                0x00, 0x3C, 0x00, 0x00, 0x01, 'c', 0x00, 0x01, 'u', 0x00, 0x01, 'p', 'x');
}

static void connack_round_trips_in_every_version(void **state)
{
    struct mote_packet p;
    struct roundtrip r;
    size_t v;
    uint8_t code;

    (void)state;
    for (v = 0; v < sizeof harness_versions; v++) {
        memset(&p, 0, sizeof p);
        p.type = MOTE_CONNACK;
        roundtrip(&p, harness_versions[v], &r);
        p.u.connack.session_present = 1;
        roundtrip(&p, harness_versions[v], &r);
        p.u.connack.session_present = 0;
        if (harness_versions[v] != MOTE_V5) {
            for (code = 1; code <= 5; code++) {
                p.u.connack.reason = code;
                roundtrip(&p, harness_versions[v], &r);
            }
        }
    }
}

static void connack_v311_is_four_bytes(void **state)
{
    struct mote_packet p;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_CONNACK;
    p.u.connack.session_present = 1;
    assert_encodes_to(&p, MOTE_V311, 0x20, 0x02, 0x01, 0x00);
    p.u.connack.session_present = 0;
    p.u.connack.reason = MOTE_V3_REFUSED_NOT_AUTHORIZED;
    assert_encodes_to(&p, MOTE_V311, 0x20, 0x02, 0x00, 0x05);
}

static void connack_v5_with_reason_and_properties_round_trips(void **state)
{
    static const uint8_t refusals[] = {0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                       0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95,
                                       0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
    struct mote_prop props[3];
    struct mote_packet p;
    struct roundtrip r;
    size_t i;

    (void)state;
    props[0] = prop_str(MOTE_PROP_ASSIGNED_CLIENT_ID, "auto-1");
    props[1] = prop_num(MOTE_PROP_SERVER_KEEP_ALIVE, 30);
    props[2] = prop_num(MOTE_PROP_MAXIMUM_QOS, 1);
    memset(&p, 0, sizeof p);
    p.type = MOTE_CONNACK;
    p.u.connack.session_present = 1;
    p.u.connack.props = props_of(props, 3);
    roundtrip(&p, MOTE_V5, &r);
    p.u.connack.session_present = 0;
    for (i = 0; i < sizeof refusals; i++) {
        p.u.connack.reason = refusals[i];
        p.u.connack.props = props_of(NULL, 0);
        roundtrip(&p, MOTE_V5, &r);
        assert_int_equal(r.len, 5);
        props[0] = prop_str(MOTE_PROP_REASON_STRING, "no");
        props[1] = prop_str(MOTE_PROP_SERVER_REFERENCE, "other");
        p.u.connack.props = props_of(props, 2);
        roundtrip(&p, MOTE_V5, &r);
    }
}

static void connack_reserved_flag_bits(void **state)
{
    (void)state;
    expect_decode(MOTE_V311, MOTE_ERR_CONNACK_FLAGS, 0x20, 0x02, 0x02, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_CONNACK_FLAGS, 0x20, 0x02, 0x80, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_CONNACK_FLAGS, 0x20, 0x02, 0xFE, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_CONNACK_FLAGS, 0x20, 0x03, 0x02, 0x00, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_CONNACK_FLAGS, 0x20, 0x03, 0x81, 0x00, 0x00);
}

static void connack_session_present_with_a_refusal(void **state)
{
    struct mote_packet p;

    (void)state;
    expect_decode(MOTE_V311, MOTE_ERR_CONNACK_FLAGS, 0x20, 0x02, 0x01, 0x05);
    expect_decode(MOTE_V311, MOTE_ERR_CONNACK_FLAGS, 0x20, 0x02, 0x01, 0x01);
    expect_decode(MOTE_V5, MOTE_ERR_CONNACK_FLAGS, 0x20, 0x03, 0x01, 0x87, 0x00);
    expect_decode(MOTE_V311, MOTE_OK, 0x20, 0x02, 0x01, 0x00);
    expect_decode(MOTE_V5, MOTE_OK, 0x20, 0x03, 0x01, 0x00, 0x00);
    memset(&p, 0, sizeof p);
    p.type = MOTE_CONNACK;
    p.u.connack.session_present = 1;
    p.u.connack.reason = MOTE_V3_REFUSED_IDENTIFIER;
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_CONNACK_FLAGS);
    p.u.connack.reason = MOTE_RC_NOT_AUTHORIZED;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_CONNACK_FLAGS);
}

static void connack_return_code_outside_the_version_table(void **state)
{
    struct mote_packet p;

    (void)state;
    expect_decode(MOTE_V311, MOTE_ERR_REASON_CODE, 0x20, 0x02, 0x00, 0x06);
    expect_decode(MOTE_V311, MOTE_ERR_REASON_CODE, 0x20, 0x02, 0x00, 0x80);
    expect_decode(MOTE_V31, MOTE_ERR_REASON_CODE, 0x20, 0x02, 0x00, 0xFF);
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0x20, 0x03, 0x00, 0x01, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0x20, 0x03, 0x00, 0x05, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_REASON_CODE, 0x20, 0x03, 0x00, 0x8E, 0x00);
    memset(&p, 0, sizeof p);
    p.type = MOTE_CONNACK;
    p.u.connack.reason = 6;
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_REASON_CODE);
    p.u.connack.reason = 0x04;
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_REASON_CODE);
}

static void connack_length_errors(void **state)
{
    (void)state;
    expect_decode(MOTE_V311, MOTE_ERR_TRUNCATED, 0x20, 0x01, 0x00);
    expect_decode(MOTE_V311, MOTE_ERR_TRAILING_BYTES, 0x20, 0x03, 0x00, 0x00, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_TRUNCATED, 0x20, 0x02, 0x00, 0x00);
    expect_decode(MOTE_V5, MOTE_ERR_TRAILING_BYTES, 0x20, 0x04, 0x00, 0x00, 0x00, 0x00);
}

/* A flag field holding 2 must not reach the neighbouring bits of the connect flags. */
static void connect_flag_fields_above_1_stay_in_their_bit(void **state)
{
    struct mote_packet p;
    const uint8_t *out;
    size_t written;
    int rc;

    (void)state;
    connect_minimal(&p, MOTE_V311);
    p.u.connect.clean_start = 2;
    p.u.connect.will = 2;
    p.u.connect.will_retain = 2;
    p.u.connect.will_topic = MOTE_SLICE_STR("w");
    p.u.connect.has_username = 2;
    p.u.connect.username = MOTE_SLICE_STR("u");
    p.u.connect.has_password = 2;
    p.u.connect.password = MOTE_SLICE_STR("p");
    rc = encode_guarded(&p, MOTE_V311, 64, &out, &written);
    if (rc == MOTE_OK)
        assert_int_equal(out[2 + 7], 0xE6);
    else
        assert_rc(rc, MOTE_ERR_BAD_ARG);
    memset(&p, 0, sizeof p);
    p.type = MOTE_CONNACK;
    p.u.connack.session_present = 2;
    rc = encode_guarded(&p, MOTE_V311, 64, &out, &written);
    if (rc == MOTE_OK)
        assert_int_equal(out[2], 0x01);
    else
        assert_rc(rc, MOTE_ERR_BAD_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_minimal_round_trips_in_every_version),
        cmocka_unit_test(connect_with_will_username_password_round_trips_in_every_version),
        cmocka_unit_test(connect_will_qos_0_and_1_and_empty_will_payload_round_trip),
        cmocka_unit_test(connect_v31_is_mqisdp_level_3),
        cmocka_unit_test(connect_v311_and_v5_are_mqtt_level_4_and_5),
        cmocka_unit_test(connect_v5_with_properties_and_will_properties_round_trips),
        cmocka_unit_test(connect_version_comes_from_the_packet_not_the_argument),
        cmocka_unit_test(connect_empty_client_id_round_trips),
        cmocka_unit_test(connect_password_without_username_only_in_v5),
        cmocka_unit_test(connect_protocol_name_other_than_mqtt_or_mqisdp),
        cmocka_unit_test(connect_protocol_level_must_match_the_name),
        cmocka_unit_test(connect_reserved_flag_bit_0),
        cmocka_unit_test(connect_will_qos_or_retain_without_will_flag),
        cmocka_unit_test(connect_will_qos_3_is_a_qos_error),
        cmocka_unit_test(connect_encoder_refuses_inconsistent_will_fields),
        cmocka_unit_test(connect_encoder_refuses_an_unknown_protocol_level),
        cmocka_unit_test(connect_fields_missing_from_the_payload_are_truncated),
        cmocka_unit_test(connect_bytes_after_the_last_field_are_trailing),
        cmocka_unit_test(connack_round_trips_in_every_version),
        cmocka_unit_test(connack_v311_is_four_bytes),
        cmocka_unit_test(connack_v5_with_reason_and_properties_round_trips),
        cmocka_unit_test(connack_reserved_flag_bits),
        cmocka_unit_test(connack_session_present_with_a_refusal),
        cmocka_unit_test(connack_return_code_outside_the_version_table),
        cmocka_unit_test(connack_length_errors),
        cmocka_unit_test(connect_flag_fields_above_1_stay_in_their_bit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
