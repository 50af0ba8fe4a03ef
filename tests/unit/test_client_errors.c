/*
 * test_client_errors.c - how a connection ends, and what mote_client_error() then says: keep
 * alive timing and its timeout, the CONNACK timeout, every CONNACK refusal of 3.1.1 and 5.0, a
 * server DISCONNECT, protocol violations by the broker, a packet larger than rx, and transport
 * failures with the layer they belong to.
 */
#include "client_script.h"

static int poll_at(uint32_t t, uint32_t *wait)
{
    NOW = t;
    return mote_client_poll(&C, NOW, wait);
}

static void keep_alive_pings_and_times_out(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    uint32_t wait;

    (void)state;
    cfg.keep_alive_s = 10;
    start(&cfg, 0); /* at 1000 */
    assert_rc(poll_at(1000, &wait), MOTE_OK);
    assert_int_equal(wait, 10000);
    assert_rc(poll_at(10999, &wait), MOTE_OK);
    assert_int_equal(wait, 1);
    EXPECT_NOTHING_SENT();
    assert_rc(poll_at(11000, &wait), MOTE_OK);
    EXPECT_SENT(0xC0, 0x00);
    assert_int_equal(wait, 10000);
    FEED(0xD0, 0x00);
    assert_rc(poll_at(12000, &wait), MOTE_OK);
    assert_int_equal(wait, 9000); /* 10 s after the PINGREQ went out */
    assert_rc(poll_at(20999, &wait), MOTE_OK);
    EXPECT_NOTHING_SENT();
    assert_rc(poll_at(21000, &wait), MOTE_OK);
    EXPECT_SENT(0xC0, 0x00);
    assert_rc(poll_at(30999, &wait), MOTE_OK);
    assert_int_equal(wait, 1);
    assert_rc(poll_at(31000, &wait), MOTE_ERR_KEEPALIVE_TIMEOUT);
    assert_int_equal(mote_client_error(&C)->layer, MOTE_LAYER_MQTT);
    assert_int_equal(mote_client_error(&C)->need, 10000);
    EXPECT_EVENT(1, MOTE_EV_DISCONNECTED);
    assert_int_equal(R.ev[1].err_code, MOTE_ERR_KEEPALIVE_TIMEOUT);
    assert_int_equal(mote_client_state(&C), MOTE_STATE_DISCONNECTED);
}

/* Any packet shows the broker is there; sending alone does not (a silent broker is noticed). */
static void keep_alive_counts_any_packet_and_silence(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_publish m = pub("t", "x", 0);
    uint32_t wait;

    (void)state;
    cfg.keep_alive_s = 10;
    start(&cfg, 0);
    assert_rc(poll_at(11000, &wait), MOTE_OK);
    EXPECT_SENT(0xC0, 0x00);
    FEED(0x30, 0x04, 0x00, 0x01, 'a', 'b');
    assert_rc(poll_at(15000, &wait), MOTE_OK);
    assert_int_equal(C.ping_outstanding, 0);
    /* publishing every few seconds, but the broker says nothing: ping 10 s after its last packet */
    for (uint32_t t = 16000; t < 25000; t += 3000) {
        assert_rc(poll_at(t, &wait), MOTE_OK);
        assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    }
    S.out_seen = S.out_len;
    assert_rc(poll_at(25000, &wait), MOTE_OK);
    EXPECT_SENT(0xC0, 0x00);
}

static void server_keep_alive_replaces_ours(void **state)
{
    static const uint8_t connack[] = {0x20, 0x06, 0x00, 0x00, 0x03, 0x13, 0x00, 0x02};
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_packet p;
    uint32_t wait;

    (void)state;
    cfg.keep_alive_s = 600;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    assert_rc(poll_all(), MOTE_OK);
    next_sent(MOTE_V5, &p);
    feed(connack, sizeof connack);
    assert_rc(poll_at(1000, &wait), MOTE_OK);
    assert_int_equal(wait, 2000);
    assert_rc(poll_at(3000, &wait), MOTE_OK);
    EXPECT_SENT(0xC0, 0x00);
    assert_rc(poll_at(5000, &wait), MOTE_ERR_KEEPALIVE_TIMEOUT);
}

static void connack_timeout(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    uint32_t wait;
    char line[256];

    (void)state;
    cfg.connack_timeout_ms = 500;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_connect(&C, &T, 1000), MOTE_OK);
    assert_rc(poll_at(1000, &wait), MOTE_OK);
    assert_int_equal(wait, 500);
    assert_rc(poll_at(1499, &wait), MOTE_OK);
    assert_int_equal(wait, 1);
    assert_rc(poll_at(1500, &wait), MOTE_ERR_CONNACK_TIMEOUT);
    EXPECT_EVENT(0, MOTE_EV_DISCONNECTED);
    mote_error_explain(mote_client_error(&C), line, sizeof line);
    assert_non_null(strstr(line, "mqtt: the broker did not answer CONNECT in time (500 ms)"));
    /* the default is 10 s */
    cfg.connack_timeout_ms = 0;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_connect(&C, &T, 2000), MOTE_OK);
    assert_rc(poll_at(11999, &wait), MOTE_OK);
    assert_rc(poll_at(12000, &wait), MOTE_ERR_CONNACK_TIMEOUT);
}

static void refused(uint8_t version, uint8_t code)
{
    struct mote_client_config cfg = config(version);
    uint8_t connack[5] = {0x20, 0x02, 0x00, code, 0x00};
    const struct mote_error *e;
    char line[256];

    reset(NULL);
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    if (version == MOTE_V5)
        connack[1] = 3;
    feed(connack, version == MOTE_V5 ? 5 : 4);
    assert_rc(poll_all(), MOTE_ERR_CONNECT_REFUSED);
    e = mote_client_error(&C);
    assert_int_equal(e->code, MOTE_ERR_CONNECT_REFUSED);
    assert_int_equal(e->layer, MOTE_LAYER_MQTT);
    assert_int_equal(e->reason, code);
    assert_int_equal(e->packet, MOTE_CONNACK);
    EXPECT_EVENT(0, MOTE_EV_DISCONNECTED);
    assert_int_equal(R.ev[0].reason, code);
    assert_int_equal(mote_client_state(&C), MOTE_STATE_DISCONNECTED);
    mote_error_explain(e, line, sizeof line);
    assert_non_null(strstr(line, mote_reason_name(version, MOTE_CONNACK, code)));
    assert_null(strstr(line, "Unknown"));
}

static void every_connack_refusal_v311(void **state)
{
    (void)state;
    for (uint8_t code = 1; code <= 5; code++)
        refused(MOTE_V311, code);
}

static void every_connack_refusal_v5(void **state)
{
    unsigned n = 0;

    (void)state;
    for (unsigned code = 0x80; code <= 0xFF; code++) {
        if (!mote_reason_allowed(MOTE_V5, MOTE_CONNACK, (uint8_t)code))
            continue;
        refused(MOTE_V5, (uint8_t)code);
        n++;
    }
    assert_true(n >= 20);
}

static void server_disconnect_with_reason(void **state)
{
    struct mote_client_config cfg = config(MOTE_V5);
    char line[256];

    (void)state;
    start(&cfg, 0);
    /* DISCONNECT 0x8B Server shutting down, Reason String "bye" */
    FEED(0xE0, 0x08, 0x8B, 0x06, 0x1F, 0x00, 0x03, 'b', 'y', 'e');
    assert_rc(poll_all(), MOTE_ERR_SERVER_DISCONNECT);
    assert_int_equal(mote_client_error(&C)->reason, 0x8B);
    assert_int_equal(mote_client_error(&C)->packet, MOTE_DISCONNECT);
    EXPECT_EVENT(1, MOTE_EV_DISCONNECTED);
    assert_int_equal(R.ev[1].reason, 0x8B);
    mote_error_explain(mote_client_error(&C), line, sizeof line);
    assert_string_equal(line, "mqtt: the broker ended the connection: Server shutting down (0x8b): "
                              "the broker cannot serve now: reconnect after "
                              "mote_client_backoff_ms()");
    EXPECT_NOTHING_SENT(); /* no DISCONNECT back */
}

/* Runs @p bytes (the broker's) on a connected client and expects MOTE_ERR_PROTOCOL. */
static void violation(uint8_t version, const uint8_t *bytes, size_t n, int raw, uint8_t reason,
                      uint8_t packet)
{
    struct mote_client_config cfg = config(version);
    const struct mote_error *e;

    reset(NULL);
    start(&cfg, 0);
    feed(bytes, n);
    assert_rc(poll_all(), MOTE_ERR_PROTOCOL);
    e = mote_client_error(&C);
    assert_int_equal(e->layer, MOTE_LAYER_MQTT);
    assert_int_equal(e->raw, raw);
    assert_int_equal(e->reason, reason);
    assert_int_equal(e->packet, packet);
    if (version == MOTE_V5) { /* a 5.0 broker is told why */
        uint8_t disconnect[3] = {0xE0, 0x01, 0x00};

        disconnect[2] = reason;
        expect_sent(disconnect, sizeof disconnect, __FILE__, __LINE__);
    }
    EXPECT_NOTHING_SENT();
}

static void protocol_violations_by_the_broker(void **state)
{
    static const uint8_t qos3[] = {0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01};
    static const uint8_t bad_flags[] = {0x41, 0x02, 0x00, 0x01};
    static const uint8_t subscribe[] = {0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x00};
    static const uint8_t connack[] = {0x20, 0x02, 0x00, 0x00};
    static const uint8_t alias[] = {0x30, 0x07, 0x00, 0x01, 'a', 0x03, 0x23, 0x00, 0x01};
    static const uint8_t trailing[] = {0xD0, 0x01, 0x00};
    static const uint8_t varint[] = {0x30, 0x80, 0x80, 0x80, 0x80, 0x01};
    struct mote_publish m = pub("t", "x", 2);
    char line[256];

    (void)state;
    violation(MOTE_V311, qos3, sizeof qos3, MOTE_ERR_QOS, MOTE_RC_MALFORMED_PACKET, MOTE_PUBLISH);
    violation(MOTE_V5, qos3, sizeof qos3, MOTE_ERR_QOS, MOTE_RC_MALFORMED_PACKET, MOTE_PUBLISH);
    violation(MOTE_V5, bad_flags, sizeof bad_flags, MOTE_ERR_HEADER_FLAGS, MOTE_RC_MALFORMED_PACKET,
              MOTE_PUBACK);
    violation(MOTE_V311, trailing, sizeof trailing, MOTE_ERR_TRAILING_BYTES,
              MOTE_RC_MALFORMED_PACKET, MOTE_PINGRESP);
    violation(MOTE_V311, varint, sizeof varint, MOTE_ERR_VARINT_TOO_LONG, MOTE_RC_MALFORMED_PACKET,
              MOTE_PUBLISH);
    violation(MOTE_V5, subscribe, sizeof subscribe, MOTE_ERR_PACKET_TYPE, MOTE_RC_PROTOCOL_ERROR,
              MOTE_SUBSCRIBE);
    violation(MOTE_V311, connack, sizeof connack, MOTE_ERR_PACKET_TYPE, MOTE_RC_PROTOCOL_ERROR,
              MOTE_CONNACK);
    violation(MOTE_V5, alias, sizeof alias, 0, MOTE_RC_TOPIC_ALIAS_INVALID, MOTE_PUBLISH);
    mote_error_explain(mote_client_error(&C), line, sizeof line);
    assert_non_null(strstr(line, "PUBLISH: Topic Alias invalid (0x94)"));

    /* PUBACK for a QoS 2 message */
    reset(NULL);
    {
        struct mote_client_config cfg = config(MOTE_V311);
        start(&cfg, 0);
    }
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    FEED(0x40, 0x02, 0x00, 0x01);
    assert_rc(poll_all(), MOTE_ERR_PROTOCOL);
    assert_int_equal(mote_client_error(&C)->packet, MOTE_PUBACK);
}

static void protocol_violations_before_connack(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);

    (void)state;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    FEED(0x30, 0x04, 0x00, 0x01, 'a', 'b');
    assert_rc(poll_all(), MOTE_ERR_PROTOCOL);
    assert_int_equal(mote_client_error(&C)->packet, MOTE_PUBLISH);
    /* a 3.1.1 return code that does not exist */
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    FEED(0x20, 0x02, 0x00, 0x06);
    assert_rc(poll_all(), MOTE_ERR_PROTOCOL);
    assert_int_equal(mote_client_error(&C)->raw, MOTE_ERR_REASON_CODE);
    /* session present although we asked for a clean start */
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    FEED(0x20, 0x02, 0x01, 0x00);
    assert_rc(poll_all(), MOTE_ERR_PROTOCOL);
    assert_int_equal(mote_client_error(&C)->raw, MOTE_ERR_CONNACK_FLAGS);
}

/* rx is 32 bytes; a 40-byte PUBLISH is refused from its header, before its body arrives. */
static void a_packet_larger_than_rx(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    const struct mote_error *e;
    char line[256];

    (void)state;
    mem_layout(32, 64, 64, 2);
    start(&cfg, 0);
    FEED(0x30, 0x26, 0x00, 0x01, 'a');
    assert_rc(poll_all(), MOTE_ERR_PACKET_TOO_LARGE);
    e = mote_client_error(&C);
    assert_int_equal(e->need, 40);
    assert_int_equal(e->have, 32);
    assert_int_equal(e->packet, MOTE_PUBLISH);
    assert_int_equal(e->layer, MOTE_LAYER_MQTT);
    mote_error_explain(e, line, sizeof line);
    assert_non_null(strstr(line, "a PUBLISH of 40 bytes does not fit the receive buffer (mem.rx) "
                                 "of 32 bytes: raise rx to at least 40 bytes"));
    /* a 32-byte one fits exactly */
    connect_ok(0);
    FEED(0x30, 0x1E, 0x00, 0x01, 'a', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '1',
         '2', '3', '4', '5', '6', '7', '8', '9', '0', '1', '2', '3', '4', '5', '6');
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(R.nmsg, 1);
    assert_int_equal(R.msg[0].payload_len, 27);
}

static void transport_failures_name_their_layer(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_publish m = pub("t", "x", 0);

    (void)state;
    start(&cfg, 0);
    S.recv_err = MOTE_ERR_IO;
    assert_rc(poll_all(), MOTE_ERR_IO);
    assert_int_equal(mote_client_error(&C)->layer, MOTE_LAYER_TCP);
    S.recv_err = 0;

    connect_ok(0);
    S.recv_err = -100; /* lib/tls's first code */
    assert_rc(poll_all(), -100);
    assert_int_equal(mote_client_error(&C)->layer, MOTE_LAYER_TLS);
    S.recv_err = 0;

    /* send fails inside publish: reported by the next poll */
    connect_ok(0);
    S.send_err = MOTE_ERR_CLOSED;
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    assert_rc(poll_now(), MOTE_ERR_CLOSED);
    EXPECT_EVENT(R.nev - 1, MOTE_EV_DISCONNECTED);
    S.send_err = 0;

    /* CONNECT itself cannot go out */
    S.send_err = MOTE_ERR_IO;
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    assert_rc(poll_now(), MOTE_ERR_IO);
}

static void null_arguments(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_transport half = {&S, script_send, NULL};
    uint32_t wait;

    (void)state;
    assert_rc(mote_client_poll(NULL, 0, &wait), MOTE_ERR_BAD_ARG);
    assert_int_equal(wait, UINT32_MAX);
    assert_rc(mote_client_connect(NULL, &T, 0), MOTE_ERR_BAD_ARG);
    assert_rc(mote_client_publish(NULL, NULL, NULL), MOTE_ERR_BAD_ARG);
    assert_rc(mote_client_subscribe(NULL, NULL, 0, 0, NULL), MOTE_ERR_BAD_ARG);
    assert_rc(mote_client_unsubscribe(NULL, NULL, 0, NULL), MOTE_ERR_BAD_ARG);
    assert_rc(mote_client_disconnect(NULL, 0), MOTE_ERR_BAD_ARG);
    assert_int_equal(mote_client_state(NULL), MOTE_STATE_IDLE);
    assert_false(mote_client_wants_write(NULL));
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_connect(&C, NULL, 0), MOTE_ERR_BAD_ARG);
    assert_rc(mote_client_connect(&C, &half, 0), MOTE_ERR_BAD_ARG);
    assert_rc(mote_client_publish(&C, NULL, NULL), MOTE_ERR_BAD_ARG);
    MEM.rx = NULL;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_ERR_BAD_ARG);
    /* a failed init leaves a client that refuses to connect */
    assert_rc(mote_client_connect(&C, &T, 0), MOTE_ERR_BAD_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CLIENT_TEST(keep_alive_pings_and_times_out),
        CLIENT_TEST(keep_alive_counts_any_packet_and_silence),
        CLIENT_TEST(server_keep_alive_replaces_ours),
        CLIENT_TEST(connack_timeout),
        CLIENT_TEST(every_connack_refusal_v311),
        CLIENT_TEST(every_connack_refusal_v5),
        CLIENT_TEST(server_disconnect_with_reason),
        CLIENT_TEST(protocol_violations_by_the_broker),
        CLIENT_TEST(protocol_violations_before_connack),
        CLIENT_TEST(a_packet_larger_than_rx),
        CLIENT_TEST(transport_failures_name_their_layer),
        CLIENT_TEST(null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
