/*
 * test_client_qos.c - the client engine's message flows in exact bytes: QoS 0, 1 and 2 in both
 * directions for 3.1.1 and 5.0, reason codes on every acknowledgement, SUBSCRIBE/UNSUBSCRIBE,
 * a transport that moves one byte at a time or none, the broker's Receive Maximum and Maximum
 * Packet Size, and a full store or full slots (MOTE_ERR_QUEUE_FULL, nothing dropped).
 */
#include "client_script.h"

/* Connects an initialised client, answering CONNECT with @p connack (the broker's bytes). */
static void connect_answer(const struct mote_client_config *cfg, const uint8_t *connack, size_t n)
{
    struct mote_packet p;

    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    assert_rc(poll_all(), MOTE_OK);
    next_sent(cfg->version, &p);
    feed(connack, n);
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(mote_client_state(&C), MOTE_STATE_CONNECTED);
}

static void connect_with(const struct mote_client_config *cfg, const uint8_t *connack, size_t n)
{
    assert_rc(mote_client_init(&C, cfg, &MEM, &CB), MOTE_OK);
    connect_answer(cfg, connack, n);
}

static void qos0_goes_out_at_once_and_only_while_connected(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_publish m = pub("t", "hi", 0);
    uint16_t id = 77;

    (void)state;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_NOT_CONNECTED);
    connect_ok(0);
    m.retain = 1;
    assert_rc(mote_client_publish(&C, &m, &id), MOTE_OK);
    assert_int_equal(id, 0);
    EXPECT_SENT(0x31, 0x05, 0x00, 0x01, 't', 'h', 'i');
    m = pub("a/+", "x", 0);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_TOPIC_WILDCARD);
    m = pub("t", "x", 3);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_QOS);
    EXPECT_NOTHING_SENT();
}

static void qos1_out_v311(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_publish m = pub("t", "hi", 1);
    uint16_t id = 0;

    (void)state;
    start(&cfg, 0);
    assert_rc(mote_client_publish(&C, &m, &id), MOTE_OK);
    assert_int_equal(id, 1);
    EXPECT_SENT(0x32, 0x07, 0x00, 0x01, 't', 0x00, 0x01, 'h', 'i');
    assert_int_equal(C.store_used, 9);
    FEED(0x40, 0x02, 0x00, 0x01);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_EVENT(1, MOTE_EV_PUBLISHED);
    assert_int_equal(R.ev[1].packet_id, 1);
    assert_int_equal(R.ev[1].reason, 0);
    assert_int_equal(C.store_used, 0);
    /* a PUBACK for an identifier not in flight is ignored */
    FEED(0x40, 0x02, 0x00, 0x01);
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(R.nev, 2);
    assert_rc(mote_client_publish(&C, &m, &id), MOTE_OK);
    assert_int_equal(id, 2);
}

static void qos1_out_v5_reports_the_reason_code(void **state)
{
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_publish m = pub("t", "hi", 1);

    (void)state;
    start(&cfg, 0);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    EXPECT_SENT(0x32, 0x08, 0x00, 0x01, 't', 0x00, 0x01, 0x00, 'h', 'i');
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    EXPECT_SENT(0x32, 0x08, 0x00, 0x01, 't', 0x00, 0x02, 0x00, 'h', 'i');
    FEED(0x40, 0x03, 0x00, 0x02, 0x10,        /* No matching subscribers */
         0x40, 0x04, 0x00, 0x01, 0x87, 0x00); /* Not authorized */
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_EVENT(1, MOTE_EV_PUBLISHED);
    assert_int_equal(R.ev[1].packet_id, 2);
    assert_int_equal(R.ev[1].reason, 0x10);
    EXPECT_EVENT(2, MOTE_EV_PUBLISHED);
    assert_int_equal(R.ev[2].packet_id, 1);
    assert_int_equal(R.ev[2].reason, 0x87);
    assert_int_equal(C.store_used, 0);
}

static void qos2_out_pubrec_pubrel_pubcomp(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_publish m = pub("t", "hi", 2);

    (void)state;
    start(&cfg, 0);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    EXPECT_SENT(0x34, 0x07, 0x00, 0x01, 't', 0x00, 0x01, 'h', 'i');
    FEED(0x50, 0x02, 0x00, 0x01);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x62, 0x02, 0x00, 0x01);
    assert_int_equal(C.store_used, 0); /* after PUBREC the PUBLISH is never sent again */
    assert_int_equal(R.nev, 1);
    FEED(0x50, 0x02, 0x00, 0x01); /* PUBREC again: PUBREL again */
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x62, 0x02, 0x00, 0x01);
    FEED(0x70, 0x02, 0x00, 0x01);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_EVENT(1, MOTE_EV_PUBLISHED);
    assert_int_equal(R.ev[1].packet_id, 1);
    /* PUBREC for an identifier we do not know: PUBREL, so the broker can finish */
    FEED(0x50, 0x02, 0x01, 0x00);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x62, 0x02, 0x01, 0x00);
    EXPECT_NOTHING_SENT();
}

static void qos2_out_v5_refused_at_pubrec_and_unknown_ids(void **state)
{
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_publish m = pub("t", "hi", 2);

    (void)state;
    start(&cfg, 0);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    S.out_seen = S.out_len;
    FEED(0x50, 0x03, 0x00, 0x01, 0x97); /* Quota exceeded: the flow ends here */
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_NOTHING_SENT();
    EXPECT_EVENT(1, MOTE_EV_PUBLISHED);
    assert_int_equal(R.ev[1].reason, 0x97);
    FEED(0x50, 0x02, 0x00, 0x09); /* not ours: PUBREL "Packet Identifier not found" */
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x62, 0x03, 0x00, 0x09, 0x92);
    FEED(0x62, 0x02, 0x00, 0x0A); /* PUBREL of nothing we received: PUBCOMP 0x92 */
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x70, 0x03, 0x00, 0x0A, 0x92);
}

static void incoming_qos1_and_qos2_are_delivered_once(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);

    (void)state;
    start(&cfg, 0);
    FEED(0x30, 0x04, 0x00, 0x01, 'a', '0');                  /* QoS 0 */
    FEED(0x33, 0x07, 0x00, 0x01, 'a', 0x00, 0x05, 'h', 'i'); /* QoS 1 retained */
    FEED(0x34, 0x07, 0x00, 0x01, 'b', 0x00, 0x06, 'q', '2'); /* QoS 2 */
    FEED(0x3C, 0x07, 0x00, 0x01, 'b', 0x00, 0x06, 'q', '2'); /* its resend, DUP */
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(R.nmsg, 3);
    assert_string_equal(R.msg[0].topic, "a");
    assert_int_equal(R.msg[0].qos, 0);
    assert_int_equal(R.msg[1].qos, 1);
    assert_int_equal(R.msg[1].retain, 1);
    assert_int_equal(R.msg[1].packet_id, 5);
    assert_memory_equal(R.msg[1].payload, "hi", 2);
    assert_int_equal(R.msg[1].has_props, 0);
    assert_string_equal(R.msg[2].topic, "b");
    assert_int_equal(R.msg[2].qos, 2);
    EXPECT_SENT(0x40, 0x02, 0x00, 0x05, 0x50, 0x02, 0x00, 0x06, 0x50, 0x02, 0x00, 0x06);
    FEED(0x62, 0x02, 0x00, 0x06);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x70, 0x02, 0x00, 0x06);
    /* the identifier is free again: the same id is a new message */
    FEED(0x34, 0x07, 0x00, 0x01, 'b', 0x00, 0x06, 'n', 'w');
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(R.nmsg, 4);
    EXPECT_SENT(0x50, 0x02, 0x00, 0x06);
}

static void incoming_v5_carries_properties(void **state)
{
    struct mote_client_config cfg = config(MOTE_V5);

    (void)state;
    start(&cfg, 0);
    /* QoS 1 with a Content Type "x" */
    FEED(0x32, 0x0B, 0x00, 0x01, 'a', 0x00, 0x07, 0x04, 0x03, 0x00, 0x01, 'x', 'p');
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(R.nmsg, 1);
    assert_int_equal(R.msg[0].has_props, 1);
    assert_memory_equal(R.msg[0].payload, "p", 1);
    EXPECT_SENT(0x40, 0x02, 0x00, 0x07);
}

/* All slots hold our own messages when the broker sends QoS 2: 5.0 refuses it openly. */
static void incoming_qos2_without_a_free_slot(void **state)
{
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_publish m = pub("t", "x", 1);

    (void)state;
    mem_layout(128, 128, 128, 1);
    start(&cfg, 0);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    S.out_seen = S.out_len;
    FEED(0x34, 0x07, 0x00, 0x01, 'b', 0x00, 0x06, 0x00, 'q');
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(R.nmsg, 0);
    EXPECT_SENT(0x50, 0x03, 0x00, 0x06, 0x97);

    /* 3.1.1 has no way to refuse: delivered, acknowledged, not remembered */
    cfg = config(MOTE_V311);
    reset(NULL);
    mem_layout(128, 128, 128, 1);
    start(&cfg, 0);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    S.out_seen = S.out_len;
    FEED(0x34, 0x06, 0x00, 0x01, 'b', 0x00, 0x06, 'q');
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(R.nmsg, 1);
    EXPECT_SENT(0x50, 0x02, 0x00, 0x06);
    FEED(0x62, 0x02, 0x00, 0x06);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x70, 0x02, 0x00, 0x06);
}

static void subscribe_and_unsubscribe(void **state)
{
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_subscription subs[2];
    struct mote_slice filters[1] = {MOTE_SLICE_STR("a/#")};
    struct mote_packet p;
    struct mote_prop id_prop;
    uint16_t id = 0;

    (void)state;
    memset(subs, 0, sizeof subs);
    subs[0].filter = MOTE_SLICE_STR("a/#");
    subs[0].qos = 1;
    subs[1].filter = MOTE_SLICE_STR("b");
    subs[1].qos = 2;
    subs[1].no_local = 1;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_subscribe(&C, subs, 2, 0, NULL), MOTE_ERR_NOT_CONNECTED);
    connect_ok(0);
    assert_rc(mote_client_subscribe(&C, subs, 2, 42, &id), MOTE_OK);
    assert_int_equal(id, 1);
    next_sent(MOTE_V5, &p);
    assert_int_equal(p.type, MOTE_SUBSCRIBE);
    assert_int_equal(p.u.subscribe.count, 2);
    assert_true(mote_props_find(&p.u.subscribe.props, MOTE_PROP_SUBSCRIPTION_ID, &id_prop));
    assert_int_equal(id_prop.v.num, 42);
    FEED(0x90, 0x05, 0x00, 0x01, 0x00, 0x01, 0x87);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_EVENT(1, MOTE_EV_SUBSCRIBED);
    assert_int_equal(R.ev[1].packet_id, 1);
    assert_int_equal(R.ev[1].count, 2);
    assert_int_equal(R.ev[1].codes[0], 0x01);
    assert_int_equal(R.ev[1].codes[1], 0x87);

    assert_rc(mote_client_unsubscribe(&C, filters, 1, &id), MOTE_OK);
    assert_int_equal(id, 2);
    EXPECT_SENT(0xA2, 0x08, 0x00, 0x02, 0x00, 0x00, 0x03, 'a', '/', '#');
    FEED(0xB0, 0x04, 0x00, 0x02, 0x00, 0x11);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_EVENT(2, MOTE_EV_UNSUBSCRIBED);
    assert_int_equal(R.ev[2].count, 1);
    assert_int_equal(R.ev[2].codes[0], 0x11);

    /* a SUBACK with a code per filter is required: one missing is a protocol error */
    assert_rc(mote_client_subscribe(&C, subs, 2, 0, &id), MOTE_OK);
    FEED(0x90, 0x04, 0x00, 0x03, 0x00, 0x01);
    assert_rc(poll_all(), MOTE_ERR_PROTOCOL);
    assert_int_equal(mote_client_error(&C)->packet, MOTE_SUBACK);
    assert_rc(mote_client_subscribe(&C, subs, 2, 0, &id), MOTE_ERR_NOT_CONNECTED);
    assert_rc(mote_client_subscribe(&C, NULL, 2, 0, &id), MOTE_ERR_BAD_ARG);
    assert_rc(mote_client_unsubscribe(&C, filters, 0, &id), MOTE_ERR_BAD_ARG);
}

/* Every flow again with a transport that moves one byte per call in both directions. */
static void one_byte_at_a_time(void **state)
{
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_publish m1 = pub("t", "one", 1), m2 = pub("t", "two", 2);
    int polls = 0;

    (void)state;
    S.chunk = 1;
    start(&cfg, 0);
    assert_rc(mote_client_publish(&C, &m1, NULL), MOTE_OK);
    assert_rc(mote_client_publish(&C, &m2, NULL), MOTE_OK);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x32, 0x09, 0x00, 0x01, 't', 0x00, 0x01, 0x00, 'o', 'n', 'e');
    EXPECT_SENT(0x34, 0x09, 0x00, 0x01, 't', 0x00, 0x02, 0x00, 't', 'w', 'o');
    FEED(0x40, 0x02, 0x00, 0x01, 0x50, 0x02, 0x00, 0x02);
    FEED(0x34, 0x08, 0x00, 0x01, 'b', 0x00, 0x06, 0x00, 'h', 'i');
    while (S.in_pos < S.in_len && polls++ < 100)
        assert_rc(poll_now(), MOTE_OK);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x50, 0x02, 0x00, 0x06, 0x62, 0x02, 0x00, 0x02);
    assert_int_equal(R.nmsg, 1);
    assert_memory_equal(R.msg[0].payload, "hi", 2);
    FEED(0x70, 0x02, 0x00, 0x02, 0x62, 0x02, 0x00, 0x06);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x70, 0x02, 0x00, 0x06);
    EXPECT_EVENT(1, MOTE_EV_PUBLISHED);
    EXPECT_EVENT(2, MOTE_EV_PUBLISHED);
    assert_int_equal(R.ev[1].packet_id, 1);
    assert_int_equal(R.ev[2].packet_id, 2);
    assert_true(S.recv_calls > 30);
}

/* send says "would block": bytes wait in tx, the client asks for writability, nothing is lost. */
static void a_blocked_transport_keeps_the_bytes(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_publish m = pub("t", "0123456789", 0);

    (void)state;
    mem_layout(64, 40, 64, 2);
    start(&cfg, 0);
    S.send_room = 0;
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK); /* 15 bytes */
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK); /* 30 */
    assert_true(mote_client_wants_write(&C));
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_QUEUE_FULL); /* tx: 10 free */
    assert_int_equal(mote_client_error(&C)->need, 15);
    assert_int_equal(mote_client_error(&C)->have, 10);
    assert_non_null(strstr(mote_client_error(&C)->what, "transmit buffer"));
    /* an incoming QoS 1 needs room for its PUBACK: it waits, unhandled, until there is */
    FEED(0x32, 0x06, 0x00, 0x01, 'a', 0x00, 0x05, 'x');
    S.send_room = 4;
    assert_rc(poll_now(), MOTE_OK);
    assert_rc(poll_now(), MOTE_OK);
    assert_int_equal(R.nmsg, 1);
    S.send_room = SIZE_MAX;
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x30, 0x0D, 0x00, 0x01, 't', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9');
    EXPECT_SENT(0x30, 0x0D, 0x00, 0x01, 't', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9');
    EXPECT_SENT(0x40, 0x02, 0x00, 0x05);
    assert_false(mote_client_wants_write(&C));
}

static void receive_maximum_limits_what_is_in_flight(void **state)
{
    static const uint8_t connack[] = {0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x02};
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_publish m = pub("t", "x", 1);
    struct mote_packet p;

    (void)state;
    connect_with(&cfg, connack, sizeof connack);
    assert_int_equal(C.broker_receive_max, 2);
    for (int i = 0; i < 4; i++)
        assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    assert_rc(poll_all(), MOTE_OK);
    next_sent(MOTE_V5, &p);
    assert_int_equal(p.u.publish.packet_id, 1);
    next_sent(MOTE_V5, &p);
    assert_int_equal(p.u.publish.packet_id, 2);
    EXPECT_NOTHING_SENT();
    FEED(0x40, 0x02, 0x00, 0x02);
    assert_rc(poll_all(), MOTE_OK);
    next_sent(MOTE_V5, &p);
    assert_int_equal(p.u.publish.packet_id, 3);
    EXPECT_NOTHING_SENT();
    FEED(0x40, 0x02, 0x00, 0x01, 0x40, 0x02, 0x00, 0x03);
    assert_rc(poll_all(), MOTE_OK);
    next_sent(MOTE_V5, &p);
    assert_int_equal(p.u.publish.packet_id, 4);
}

static void maximum_packet_size_is_refused_locally(void **state)
{
    /* Maximum Packet Size 20, Topic Alias Maximum 3 */
    static const uint8_t connack[] = {0x20, 0x0B, 0x00, 0x00, 0x08, 0x27, 0x00,
                                      0x00, 0x00, 0x14, 0x22, 0x00, 0x03};
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_publish m = pub("t", "0123456789", 1); /* 18 bytes */
    struct mote_prop alias[1];
    char line[256];

    (void)state;
    connect_with(&cfg, connack, sizeof connack);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    m = pub("t", "0123456789abc", 1); /* 21 bytes */
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_PACKET_TOO_LARGE);
    assert_int_equal(mote_client_error(&C)->need, 21);
    assert_int_equal(mote_client_error(&C)->have, 20);
    mote_error_explain(mote_client_error(&C), line, sizeof line);
    assert_non_null(
        strstr(line, "the packet has 21 bytes, the broker's Maximum Packet Size is 20"));
    m = pub("t", "0123456789abcde", 0); /* 21 bytes */
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_PACKET_TOO_LARGE);
    /* Topic Alias: QoS 0 within the broker's maximum only */
    m = pub("t", "x", 0);
    alias[0] = prop_num(MOTE_PROP_TOPIC_ALIAS, 3);
    m.props = props_of(alias, 1);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    alias[0] = prop_num(MOTE_PROP_TOPIC_ALIAS, 4);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_BAD_ARG);
    alias[0] = prop_num(MOTE_PROP_TOPIC_ALIAS, 1);
    m.qos = 1;
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_BAD_ARG);
}

/* A message stored offline that is larger than the broker then allows is reported, not lost. */
static void a_stored_message_too_large_for_the_broker_is_reported(void **state)
{
    static const uint8_t connack[] = {0x20, 0x08, 0x00, 0x00, 0x05, 0x27, 0x00, 0x00, 0x00, 0x0A};
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_publish big = pub("t", "0123456789", 1), small = pub("t", "", 1);
    uint16_t id_big, id_small;

    (void)state;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_publish(&C, &big, &id_big), MOTE_OK);
    assert_rc(mote_client_publish(&C, &small, &id_small), MOTE_OK);
    R.nev = 0;
    connect_answer(&cfg, connack, sizeof connack);
    EXPECT_EVENT(0, MOTE_EV_CONNECTED);
    EXPECT_EVENT(1, MOTE_EV_PUBLISHED);
    assert_int_equal(R.ev[1].packet_id, id_big);
    assert_int_equal(R.ev[1].reason, MOTE_RC_PACKET_TOO_LARGE);
    assert_int_equal(id_small, 2);
    EXPECT_SENT(0x32, 0x06, 0x00, 0x01, 't', 0x00, 0x02, 0x00);
}

static void full_store_and_full_slots_refuse_and_drop_nothing(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_publish m = pub("t", "0123456789", 1); /* 17 bytes stored */
    const struct mote_error *e;
    char line[256];

    (void)state;
    mem_layout(64, 64, 40, 4);
    start(&cfg, 0);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_QUEUE_FULL);
    e = mote_client_error(&C);
    assert_int_equal(e->need, 17);
    assert_int_equal(e->have, 6);
    assert_non_null(strstr(e->what, "message store"));
    mote_error_explain(e, line, sizeof line);
    assert_non_null(strstr(line, "nothing was dropped"));
    FEED(0x40, 0x02, 0x00, 0x01);
    assert_rc(poll_all(), MOTE_OK);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    /* a message the store can never hold is a configuration error, not a full queue */
    m = pub("t", "0123456789012345678901234567890123456789", 1);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mote_client_error(&C)->need, 47);
    assert_int_equal(mote_client_error(&C)->have, 40);
    assert_non_null(strstr(mote_client_error(&C)->what, "message store"));

    /* slots: 2 of 2 in use */
    reset(NULL);
    mem_layout(64, 64, 200, 2);
    start(&cfg, 0);
    m = pub("t", "x", 2);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_QUEUE_FULL);
    assert_non_null(strstr(mote_client_error(&C)->what, "slots"));
    mote_error_explain(mote_client_error(&C), line, sizeof line);
    assert_non_null(strstr(line, "needs 1 free slot, has 0"));
}

/* Acknowledgements in any order: the store closes each gap and the rest stays intact. */
static void acks_out_of_order_keep_the_store_intact(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_publish m;
    static const char *const payloads[] = {"aaaa", "bb", "cccccc", "d"};

    (void)state;
    mem_layout(128, 128, 64, 4);
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    for (int i = 0; i < 4; i++) {
        m = pub("t", payloads[i], 1);
        assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    }
    connect_ok(0);
    S.out_seen = S.out_len;
    FEED(0x40, 0x02, 0x00, 0x03, 0x40, 0x02, 0x00, 0x01);
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(C.store_used, 9 + 8);
    /* cut the connection: what is left is resent intact after the reconnect */
    broker_closes();
    assert_rc(poll_all(), MOTE_ERR_CLOSED);
    S.recv_err = 0;
    connect_ok(0);
    EXPECT_SENT(0x32, 0x07, 0x00, 0x01, 't', 0x00, 0x02, 'b', 'b');
    EXPECT_SENT(0x32, 0x06, 0x00, 0x01, 't', 0x00, 0x04, 'd');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CLIENT_TEST(qos0_goes_out_at_once_and_only_while_connected),
        CLIENT_TEST(qos1_out_v311),
        CLIENT_TEST(qos1_out_v5_reports_the_reason_code),
        CLIENT_TEST(qos2_out_pubrec_pubrel_pubcomp),
        CLIENT_TEST(qos2_out_v5_refused_at_pubrec_and_unknown_ids),
        CLIENT_TEST(incoming_qos1_and_qos2_are_delivered_once),
        CLIENT_TEST(incoming_v5_carries_properties),
        CLIENT_TEST(incoming_qos2_without_a_free_slot),
        CLIENT_TEST(subscribe_and_unsubscribe),
        CLIENT_TEST(one_byte_at_a_time),
        CLIENT_TEST(a_blocked_transport_keeps_the_bytes),
        CLIENT_TEST(receive_maximum_limits_what_is_in_flight),
        CLIENT_TEST(maximum_packet_size_is_refused_locally),
        CLIENT_TEST(a_stored_message_too_large_for_the_broker_is_reported),
        CLIENT_TEST(full_store_and_full_slots_refuse_and_drop_nothing),
        CLIENT_TEST(acks_out_of_order_keep_the_store_intact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
