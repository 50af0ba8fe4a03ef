/*
 * test_client_init.c - the client engine before and around a connection: mote_client_init()'s
 * checks with exact byte counts, the CONNECT each configuration produces (3.1.1 and 5.0, wills
 * with properties, our own 5.0 properties merged with the caller's), the reconnect backoff, and
 * the sentences mote_error_explain() writes.
 */
#include "client_script.h"

static const struct mote_will WILL_V311 = {{(const uint8_t *)"dev1/status", 11},
                                           {(const uint8_t *)"offline", 7},
                                           1,
                                           1,
                                           {{NULL, 0}, NULL, 0}};

static void init_refuses_null_and_versions(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);

    (void)state;
    assert_rc(mote_client_init(NULL, &cfg, &MEM, &CB), MOTE_ERR_BAD_ARG);
    assert_rc(mote_client_init(&C, NULL, &MEM, &CB), MOTE_ERR_BAD_ARG);
    assert_rc(mote_client_init(&C, &cfg, NULL, &CB), MOTE_ERR_BAD_ARG);
    cfg.version = MOTE_V31;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_ERR_VERSION);
    assert_int_equal(mote_client_error(&C)->layer, MOTE_LAYER_CONFIG);
    cfg.version = 6;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_ERR_VERSION);
    cfg = config(MOTE_V311);
    cfg.client_id.len = 0;
    cfg.clean_start = 0;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_ERR_BAD_ARG);
    assert_non_null(strstr(mote_client_error(&C)->what, "clean_start"));
    cfg.clean_start = 1;
    assert_rc(mote_client_init(&C, &cfg, &MEM, NULL), MOTE_OK); /* callbacks are optional */
    /* the client works without callbacks */
    connect_ok(0);
    assert_non_null(mote_client_error(NULL));
    assert_int_equal(mote_client_error(NULL)->code, MOTE_ERR_BAD_ARG);
}

static void init_says_how_many_rx_bytes_are_missing(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    const struct mote_error *e;

    (void)state;
    mem_layout(MOTE_CLIENT_RX_MIN - 3, 256, 256, 4);
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_ERR_BUFFER_TOO_SMALL);
    e = mote_client_error(&C);
    assert_int_equal(e->code, MOTE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(e->layer, MOTE_LAYER_CONFIG);
    assert_int_equal(e->need, MOTE_CLIENT_RX_MIN);
    assert_int_equal(e->have, MOTE_CLIENT_RX_MIN - 3);
    assert_non_null(strstr(e->what, "receive buffer"));
    mem_layout(MOTE_CLIENT_RX_MIN, 256, 256, 4);
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
}

static void init_needs_a_slot(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);

    (void)state;
    mem_layout(64, 64, 0, 0);
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mote_client_error(&C)->need, 1);
    assert_int_equal(mote_client_error(&C)->have, 0);
    assert_non_null(strstr(mote_client_error(&C)->what, "slots"));
}

/* The 3.1.1 CONNECT with will, user name and password, counted by hand. */
static void init_tx_must_hold_the_connect_with_its_will(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    /* 2 fixed header + 10 variable header + client id 2+4 + will topic 2+11 + payload 2+7
     * + user name 2+5 + password 2+6 */
    const size_t connect_size = 2 + 10 + 6 + 13 + 9 + 7 + 8;
    struct mote_packet p;

    (void)state;
    cfg.will = &WILL_V311;
    cfg.has_username = cfg.has_password = 1;
    cfg.username = MOTE_SLICE_STR("alice");
    cfg.password = MOTE_SLICE_STR("secret");
    mem_layout(64, connect_size - 1, 0, 1);
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mote_client_error(&C)->need, connect_size);
    assert_int_equal(mote_client_error(&C)->have, connect_size - 1);
    assert_non_null(strstr(mote_client_error(&C)->what, "transmit buffer"));

    mem_layout(64, connect_size, 0, 1);
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    assert_rc(poll_now(), MOTE_OK);
    assert_int_equal(next_sent(MOTE_V311, &p), connect_size);
    assert_int_equal(p.u.connect.will, 1);
    assert_int_equal(p.u.connect.will_qos, 1);
    assert_int_equal(p.u.connect.will_retain, 1);
    assert_int_equal(p.u.connect.keep_alive, 0);
    assert_memory_equal(p.u.connect.will_topic.ptr, "dev1/status", 11);
    assert_memory_equal(p.u.connect.password.ptr, "secret", 6);
}

static void init_reports_an_invalid_will(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_will w = WILL_V311;

    (void)state;
    w.topic = MOTE_SLICE_STR("dev1/#");
    cfg.will = &w;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_ERR_TOPIC_WILDCARD);
    assert_non_null(strstr(mote_client_error(&C)->what, "CONNECT"));
    w = WILL_V311;
    w.qos = 3;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_ERR_QOS);
}

static void connect_v311_bytes(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);

    (void)state;
    cfg.keep_alive_s = 60;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_int_equal(mote_client_state(&C), MOTE_STATE_IDLE);
    assert_rc(mote_client_poll(&C, NOW, NULL), MOTE_ERR_NOT_CONNECTED);
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    assert_int_equal(mote_client_state(&C), MOTE_STATE_CONNECTING);
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_ERR_BAD_ARG); /* already */
    EXPECT_NOTHING_SENT();                                         /* connect only queues */
    assert_rc(poll_now(), MOTE_OK);
    EXPECT_SENT(0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x04, 'd',
                'e', 'v', '1');
    FEED(0x20, 0x02, 0x00, 0x00);
    assert_rc(poll_now(), MOTE_OK);
    assert_int_equal(mote_client_state(&C), MOTE_STATE_CONNECTED);
    EXPECT_EVENT(0, MOTE_EV_CONNECTED);
    assert_int_equal(R.ev[0].session_present, 0);
}

/*
 * 5.0: Session Expiry, Receive Maximum (the slot count) and Maximum Packet Size (rx) are ours;
 * the caller's properties come as a list (ours go in raw bytes) or as raw bytes (ours in the list).
 */
static void connect_v5_carries_our_properties_and_the_callers(void **state)
{
    struct mote_client_config cfg = config(MOTE_V5);
    struct mote_prop user[1];
    struct mote_prop will_props[1];
    struct mote_will w;
    struct mote_packet p;
    struct mote_prop got;
    static const uint8_t raw_user[] = {0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'};

    (void)state;
    user[0] = prop_pair("site", "lab");
    will_props[0] = prop_num(MOTE_PROP_WILL_DELAY, 30);
    memset(&w, 0, sizeof w);
    w.topic = MOTE_SLICE_STR("dev1/status");
    w.payload = MOTE_SLICE_STR("gone");
    w.props = props_of(will_props, 1);
    cfg.will = &w;
    cfg.session_expiry_s = 3600;
    cfg.clean_start = 0;
    cfg.connect_props = props_of(user, 1);
    mem_layout(300, 256, 256, 3);
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    assert_rc(poll_now(), MOTE_OK);
    next_sent(MOTE_V5, &p);
    assert_int_equal(p.u.connect.version, MOTE_V5);
    assert_true(mote_props_find(&p.u.connect.props, MOTE_PROP_SESSION_EXPIRY, &got));
    assert_int_equal(got.v.num, 3600);
    assert_true(mote_props_find(&p.u.connect.props, MOTE_PROP_RECEIVE_MAXIMUM, &got));
    assert_int_equal(got.v.num, 3);
    assert_true(mote_props_find(&p.u.connect.props, MOTE_PROP_MAXIMUM_PACKET_SIZE, &got));
    assert_int_equal(got.v.num, 300);
    assert_true(mote_props_find(&p.u.connect.props, MOTE_PROP_USER_PROPERTY, &got));
    assert_memory_equal(got.v.pair.key.ptr, "site", 4);
    assert_false(mote_props_find(&p.u.connect.props, MOTE_PROP_TOPIC_ALIAS_MAXIMUM, &got));
    assert_true(mote_props_find(&p.u.connect.will_props, MOTE_PROP_WILL_DELAY, &got));
    assert_int_equal(got.v.num, 30);

    /* the caller's properties as raw bytes: ours go in the list */
    memset(&S, 0, sizeof S);
    S.send_room = SIZE_MAX;
    cfg.connect_props.list = NULL;
    cfg.connect_props.count = 0;
    cfg.connect_props.raw.ptr = raw_user;
    cfg.connect_props.raw.len = sizeof raw_user;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    assert_rc(poll_now(), MOTE_OK);
    next_sent(MOTE_V5, &p);
    assert_true(mote_props_find(&p.u.connect.props, MOTE_PROP_USER_PROPERTY, &got));
    assert_memory_equal(got.v.pair.key.ptr, "k", 1);
    assert_true(mote_props_find(&p.u.connect.props, MOTE_PROP_RECEIVE_MAXIMUM, &got));
    assert_int_equal(got.v.num, 3);

    /* both halves given: refused, so that nothing is silently left out */
    cfg.connect_props.list = user;
    cfg.connect_props.count = 1;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_ERR_BAD_ARG);
    /* our Receive Maximum again from the caller: the codec refuses the duplicate */
    user[0] = prop_num(MOTE_PROP_RECEIVE_MAXIMUM, 9);
    cfg.connect_props = props_of(user, 1);
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_ERR_PROPERTY_DUPLICATE);
}

static void store_zero_means_qos0_only(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    struct mote_publish m = pub("t", "x", 1);
    const struct mote_error *e;
    char line[256];

    (void)state;
    mem_layout(64, 64, 0, 1);
    start(&cfg, 0);
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_ERR_QUEUE_FULL);
    e = mote_client_error(&C);
    assert_non_null(strstr(e->what, "message store"));
    assert_int_equal(e->need, 2 + 2 + 1 + 2 + 1);
    assert_int_equal(e->have, 0);
    mote_error_explain(e, line, sizeof line);
    assert_non_null(strstr(line, "the store is 0 bytes"));
    m.qos = 0;
    assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    EXPECT_SENT(0x30, 0x04, 0x00, 0x01, 't', 'x');
}

static void backoff_doubles_with_full_jitter_and_resets(void **state)
{
    struct mote_client_config cfg = config(MOTE_V311);
    uint32_t d;

    (void)state;
    cfg.backoff_min_ms = 100;
    cfg.backoff_max_ms = 1000;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_int_equal(mote_client_backoff_ms(&C, 12345), 100); /* the first delay */
    assert_int_equal(mote_client_backoff_ms(&C, 0), 100);     /* then within [100, 200] */
    assert_int_equal(mote_client_backoff_ms(&C, 100), 200);   /* [100, 400]: 100 + 100 % 301 */
    d = mote_client_backoff_ms(&C, 700);                      /* [100, 800]: 700 % 701 */
    assert_int_equal(d, 800);
    d = mote_client_backoff_ms(&C, 900); /* [100, 1000] from now on: 900 % 901 */
    assert_int_equal(d, 1000);
    for (uint32_t r = 0; r < 3000; r += 7)
        assert_in_range(mote_client_backoff_ms(&C, r * 2654435761u), 100, 1000);
    connect_ok(0); /* an accepted CONNACK resets it */
    assert_int_equal(mote_client_backoff_ms(&C, 999), 100);

    cfg.backoff_min_ms = 0; /* defaults: 1 s to 60 s */
    cfg.backoff_max_ms = 0;
    assert_rc(mote_client_init(&C, &cfg, &MEM, &CB), MOTE_OK);
    assert_int_equal(mote_client_backoff_ms(&C, 5), 1000);
    for (int i = 0; i < 20; i++)
        assert_in_range(mote_client_backoff_ms(&C, 0xFFFFFFFFu), 1000, 60000);
    assert_int_equal(mote_client_backoff_ms(NULL, 1), 0);
}

static void explain(const struct mote_error *e, char *line, size_t len)
{
    assert_ptr_equal(mote_error_explain(e, line, len), line);
}

static void explain_says_what_to_do(void **state)
{
    struct mote_error e;
    char line[320];

    (void)state;
    assert_string_equal(mote_layer_name(MOTE_LAYER_CONFIG), "config");
    assert_string_equal(mote_layer_name(MOTE_LAYER_DNS), "dns");
    assert_string_equal(mote_layer_name(MOTE_LAYER_TCP), "tcp");
    assert_string_equal(mote_layer_name(MOTE_LAYER_TLS), "tls");
    assert_string_equal(mote_layer_name(MOTE_LAYER_MQTT), "mqtt");
    assert_string_equal(mote_layer_name(MOTE_LAYER_NONE), "none");
    assert_string_equal(mote_layer_name(200), "none");

    memset(&e, 0, sizeof e);
    e.code = MOTE_ERR_CONNECT_REFUSED;
    e.layer = MOTE_LAYER_MQTT;
    e.packet = MOTE_CONNACK;
    e.reason = MOTE_RC_NOT_AUTHORIZED;
    explain(&e, line, sizeof line);
    assert_string_equal(line, "mqtt: the broker refused the connection: Not authorized (0x87): "
                              "check the user name, password or client certificate, and the "
                              "broker's ACL");
    e.reason = MOTE_V3_REFUSED_NOT_AUTHORIZED;
    explain(&e, line, sizeof line);
    assert_string_equal(line, "mqtt: the broker refused the connection: Connection Refused, not "
                              "authorized (5): check the user name, password or client "
                              "certificate, and the broker's ACL");
    e.reason = MOTE_V3_REFUSED_BAD_CREDENTIALS;
    explain(&e, line, sizeof line);
    assert_non_null(strstr(line, "bad user name or password (4): check the user name and pass"));

    memset(&e, 0, sizeof e);
    e.code = MOTE_ERR_SERVER_DISCONNECT;
    e.layer = MOTE_LAYER_MQTT;
    e.packet = MOTE_DISCONNECT;
    e.reason = MOTE_RC_SESSION_TAKEN_OVER;
    explain(&e, line, sizeof line);
    assert_string_equal(line, "mqtt: the broker ended the connection: Session taken over (0x8e): "
                              "another connection uses the same client id: give each device its "
                              "own");

    memset(&e, 0, sizeof e);
    e.code = MOTE_ERR_BUFFER_TOO_SMALL;
    e.layer = MOTE_LAYER_CONFIG;
    e.what = "receive buffer (mem.rx)";
    e.need = 16;
    e.have = 4;
    explain(&e, line, sizeof line);
    assert_string_equal(line, "config: the output buffer is too small for the packet: receive "
                              "buffer (mem.rx): 12 bytes missing (needs 16, has 4): give it at "
                              "least 16 bytes");

    memset(&e, 0, sizeof e);
    e.code = MOTE_ERR_DNS;
    e.layer = MOTE_LAYER_DNS;
    e.raw = -2;
    explain(&e, line, sizeof line);
    assert_string_equal(line, "dns: the broker's host name could not be resolved (resolver code "
                              "-2): check the host name and the device's DNS server");

    memset(&e, 0, sizeof e);
    e.code = MOTE_ERR_PROTOCOL;
    e.layer = MOTE_LAYER_MQTT;
    e.packet = MOTE_PUBLISH;
    e.raw = MOTE_ERR_QOS;
    explain(&e, line, sizeof line);
    assert_non_null(strstr(line, "mqtt: the broker broke the MQTT protocol: PUBLISH: malformed "
                                 "packet: QoS 3 does not exist (MOTE_ERR_QOS)"));

    /* cut to the buffer, always terminated */
    explain(&e, line, 10);
    assert_int_equal(strlen(line), 9);
    assert_memory_equal(line, "mqtt: the", 9);
    line[0] = 'x';
    explain(&e, line, 1);
    assert_int_equal(line[0], 0);
    assert_null(mote_error_explain(&e, NULL, 10));
    explain(NULL, line, sizeof line);
    assert_string_equal(line, "no error given");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CLIENT_TEST(init_refuses_null_and_versions),
        CLIENT_TEST(init_says_how_many_rx_bytes_are_missing),
        CLIENT_TEST(init_needs_a_slot),
        CLIENT_TEST(init_tx_must_hold_the_connect_with_its_will),
        CLIENT_TEST(init_reports_an_invalid_will),
        CLIENT_TEST(connect_v311_bytes),
        CLIENT_TEST(connect_v5_carries_our_properties_and_the_callers),
        CLIENT_TEST(store_zero_means_qos0_only),
        CLIENT_TEST(backoff_doubles_with_full_jitter_and_resets),
        CLIENT_TEST(explain_says_what_to_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
