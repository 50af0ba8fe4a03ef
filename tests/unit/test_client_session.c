/*
 * test_client_session.c - what the client engine keeps across connections: resend with DUP and
 * PUBREL in the original order when the broker kept the session, resend as new messages when it
 * did not, incoming QoS 2 identifiers, the offline queue, the Assigned Client Identifier, and
 * ending a connection on request (also from inside a callback).
 */
#include "client_script.h"

/* QoS 1 "A" (id 1), QoS 2 "B" (id 2, PUBREC received), QoS 2 "C" (id 3), then the broker goes. */
static void three_in_flight_then_cut(uint8_t version)
{
    struct mote_client_config cfg = config(version);
    struct mote_publish a = pub("t", "A", 1), b = pub("t", "B", 2), c = pub("t", "C", 2);
    struct mote_packet p;

    cfg.clean_start = 0;
    cfg.session_expiry_s = version == MOTE_V5 ? 600 : 0;
    start(&cfg, 0);
    assert_rc(mote_client_publish(&C, &a, NULL), MOTE_OK);
    assert_rc(mote_client_publish(&C, &b, NULL), MOTE_OK);
    assert_rc(mote_client_publish(&C, &c, NULL), MOTE_OK);
    for (int i = 0; i < 3; i++) {
        next_sent(version, &p);
        assert_int_equal(p.type, MOTE_PUBLISH);
        assert_int_equal(p.u.publish.dup, 0);
    }
    FEED(0x50, 0x02, 0x00, 0x02);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x62, 0x02, 0x00, 0x02);
    broker_closes();
    assert_rc(poll_all(), MOTE_ERR_CLOSED);
    assert_int_equal(mote_client_state(&C), MOTE_STATE_DISCONNECTED);
    EXPECT_EVENT(1, MOTE_EV_DISCONNECTED);
    assert_int_equal(R.ev[1].err_code, MOTE_ERR_CLOSED);
    assert_int_equal(mote_client_error(&C)->layer, MOTE_LAYER_TCP);
    S.recv_err = 0;
}

static void session_present_resends_with_dup_in_order(void **state)
{
    (void)state;
    three_in_flight_then_cut(MOTE_V311);
    connect_ok(1);
    EXPECT_EVENT(2, MOTE_EV_CONNECTED);
    assert_int_equal(R.ev[2].session_present, 1);
    EXPECT_SENT(0x3A, 0x06, 0x00, 0x01, 't', 0x00, 0x01, 'A'); /* DUP, original id */
    EXPECT_SENT(0x62, 0x02, 0x00, 0x02);                       /* PUBREL again */
    EXPECT_SENT(0x3C, 0x06, 0x00, 0x01, 't', 0x00, 0x03, 'C');
    EXPECT_NOTHING_SENT();
    FEED(0x40, 0x02, 0x00, 0x01, 0x70, 0x02, 0x00, 0x02, 0x50, 0x02, 0x00, 0x03);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x62, 0x02, 0x00, 0x03);
    FEED(0x70, 0x02, 0x00, 0x03);
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(R.nev, 6);
    for (int i = 3; i < 6; i++) {
        EXPECT_EVENT(i, MOTE_EV_PUBLISHED);
        assert_int_equal(R.ev[i].packet_id, i - 2);
    }
    assert_int_equal(C.store_used, 0);
}

static void session_present_resend_v5(void **state)
{
    struct mote_packet p;

    (void)state;
    three_in_flight_then_cut(MOTE_V5);
    connect_ok(1);
    next_sent(MOTE_V5, &p);
    assert_int_equal(p.type, MOTE_PUBLISH);
    assert_int_equal(p.u.publish.dup, 1);
    assert_int_equal(p.u.publish.packet_id, 1);
    next_sent(MOTE_V5, &p);
    assert_int_equal(p.type, MOTE_PUBREL);
    assert_int_equal(p.u.ack.packet_id, 2);
    next_sent(MOTE_V5, &p);
    assert_int_equal(p.u.publish.dup, 1);
    assert_int_equal(p.u.publish.packet_id, 3);
}

/*
 * The broker lost the session: the unacknowledged messages go out again as new ones (DUP 0),
 * and the QoS 2 message that had its PUBREC counts as published.
 */
static void no_session_resends_as_new_messages(void **state)
{
    (void)state;
    three_in_flight_then_cut(MOTE_V311);
    connect_ok(0);
    EXPECT_EVENT(2, MOTE_EV_CONNECTED);
    EXPECT_EVENT(3, MOTE_EV_PUBLISHED);
    assert_int_equal(R.ev[3].packet_id, 2);
    assert_int_equal(R.ev[3].reason, 0);
    EXPECT_SENT(0x32, 0x06, 0x00, 0x01, 't', 0x00, 0x01, 'A');
    EXPECT_SENT(0x34, 0x06, 0x00, 0x01, 't', 0x00, 0x03, 'C');
    EXPECT_NOTHING_SENT();
}

static void incoming_qos2_ids_live_as_long_as_the_session(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);

    (void)state;
    cfg.clean_start = 0;
    start(&cfg, 0);
    FEED(0x34, 0x06, 0x00, 0x01, 'b', 0x00, 0x09, 'x');
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(R.nmsg, 1);
    EXPECT_SENT(0x50, 0x02, 0x00, 0x09);
    broker_closes();
    assert_rc(poll_all(), MOTE_ERR_CLOSED);
    S.recv_err = 0;
    connect_ok(1); /* the broker resends: delivered once, acknowledged again */
    FEED(0x3C, 0x06, 0x00, 0x01, 'b', 0x00, 0x09, 'x');
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(R.nmsg, 1);
    EXPECT_SENT(0x50, 0x02, 0x00, 0x09);
    broker_closes();
    assert_rc(poll_all(), MOTE_ERR_CLOSED);
    S.recv_err = 0;
    connect_ok(0); /* a new session: the same id is a new message */
    FEED(0x34, 0x06, 0x00, 0x01, 'b', 0x00, 0x09, 'y');
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(R.nmsg, 2);
    assert_memory_equal(R.msg[1].payload, "y", 1);
}

static void the_offline_queue_goes_out_after_connack(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_publish m1 = pub("t", "1", 1), m2 = pub("t", "2", 2), m0 = pub("t", "0", 0);
    struct mote_packet p;

    (void)state;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_publish(&C, &m1, NULL), MOTE_OK);
    assert_rc(mote_client_publish(&C, &m0, NULL), MOTE_ERR_NOT_CONNECTED);
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    assert_rc(mote_client_publish(&C, &m2, NULL), MOTE_OK); /* while CONNECTING: stored too */
    assert_rc(poll_all(), MOTE_OK);
    next_sent(MOTE_V311, &p);
    assert_int_equal(p.type, MOTE_CONNECT);
    EXPECT_NOTHING_SENT(); /* nothing before CONNACK */
    FEED(0x20, 0x02, 0x00, 0x00);
    assert_rc(poll_all(), MOTE_OK);
    EXPECT_SENT(0x32, 0x06, 0x00, 0x01, 't', 0x00, 0x01, '1');
    EXPECT_SENT(0x34, 0x06, 0x00, 0x01, 't', 0x00, 0x02, '2');
}

static void disconnect_on_request(void **state)
{
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_subscription sub;
    struct mote_publish m = pub("t", "1", 1);
    char line[128];

    (void)state;
    memset(&sub, 0, sizeof sub);
    sub.filter = MOTE_SLICE_STR("a");
    mem_layout(128, 128, 128, 2);
    start(&cfg, 0);
    assert_rc(mote_client_subscribe(&C, &sub, 1, 0, NULL), MOTE_OK);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    S.out_seen = S.out_len;
    assert_rc(mote_client_disconnect(&C, NOW), MOTE_OK);
    EXPECT_SENT(0xE0, 0x00);
    EXPECT_EVENT(1, MOTE_EV_DISCONNECTED);
    assert_int_equal(R.ev[1].err_code, MOTE_OK);
    mote_error_explain(mote_client_error(&C), line, sizeof line);
    assert_string_equal(line, "none: success: the connection was closed on request");
    assert_rc(poll_now(), MOTE_ERR_NOT_CONNECTED);
    assert_rc(mote_client_disconnect(&C, NOW), MOTE_ERR_NOT_CONNECTED);
    /* the pending SUBSCRIBE is forgotten (its slot is free), the QoS 1 message is kept */
    connect_ok(0);
    EXPECT_SENT(0x32, 0x07, 0x00, 0x01, 't', 0x00, 0x02, 0x00, '1');
    assert_rc(mote_client_subscribe(&C, &sub, 1, 0, NULL), MOTE_OK);
}

static void a_callback_may_disconnect_or_publish(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);

    (void)state;
    R.publish_in_connected = 1;
    start(&cfg, 0);
    EXPECT_SENT(0x30, 0x07, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o');
    R.disconnect_in_message = 1;
    FEED(0x32, 0x06, 0x00, 0x01, 'a', 0x00, 0x05, '1');
    FEED(0x30, 0x04, 0x00, 0x01, 'a', '2');
    assert_rc(poll_now(), MOTE_ERR_NOT_CONNECTED);
    assert_int_equal(R.nmsg, 1);
    EXPECT_SENT(0x40, 0x02, 0x00, 0x05, 0xE0, 0x00); /* the PUBACK, then DISCONNECT */
    EXPECT_EVENT(1, MOTE_EV_DISCONNECTED);
    assert_int_equal(mote_client_state(&C), MOTE_STATE_DISCONNECTED);
}

static void assigned_client_id_and_server_keep_alive(void **state)
{
    /* Assigned Client Identifier "auto-7", Server Keep Alive 5 */
    static const uint8_t connack[] = {0x20, 0x0F, 0x00, 0x00, 0x0C, 0x12, 0x00, 0x06, 'a',
                                      'u',  't',  'o',  '-',  '7',  0x13, 0x00, 0x05};
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_packet p;

    (void)state;
    cfg.client_id.len = 0;
    cfg.client_id.ptr = NULL;
    cfg.clean_start = 0;
    cfg.session_expiry_s = 60;
    cfg.keep_alive_s = 60;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    assert_rc(poll_all(), MOTE_OK);
    next_sent(MOTE_V5, &p);
    assert_int_equal(p.u.connect.client_id.len, 0);
    assert_int_equal(p.u.connect.keep_alive, 60);
    feed(connack, sizeof connack);
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(C.keep_alive_s, 5);
    broker_closes();
    assert_rc(poll_all(), MOTE_ERR_CLOSED);
    S.recv_err = 0;
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    assert_rc(poll_all(), MOTE_OK);
    next_sent(MOTE_V5, &p);
    assert_int_equal(p.u.connect.client_id.len, 6);
    assert_memory_equal(p.u.connect.client_id.ptr, "auto-7", 6);
    assert_int_equal(p.u.connect.keep_alive, 60); /* we ask again; the broker decides */
    assert_int_equal(C.keep_alive_s, 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CLIENT_TEST(session_present_resends_with_dup_in_order),
        CLIENT_TEST(session_present_resend_v5),
        CLIENT_TEST(no_session_resends_as_new_messages),
        CLIENT_TEST(incoming_qos2_ids_live_as_long_as_the_session),
        CLIENT_TEST(the_offline_queue_goes_out_after_connack),
        CLIENT_TEST(disconnect_on_request),
        CLIENT_TEST(a_callback_may_disconnect_or_publish),
        CLIENT_TEST(assigned_client_id_and_server_keep_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
