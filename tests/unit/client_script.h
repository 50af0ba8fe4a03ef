/*
 * client_script.h - what the client engine's unit tests share: a scripted in-memory transport
 * (the test feeds the broker's exact bytes, captures what the client sends, moves as few as one
 * byte per call and fails on demand), a clock the test sets, the events and messages the client
 * reported, and the client's buffers with guard bytes on both sides.
 *
 * Include it after harness.h, in one test program. Everything is static and small, so the same
 * tests run on the emulated Cortex-M3.
 */
#ifndef MOTE_TEST_CLIENT_SCRIPT_H
#define MOTE_TEST_CLIENT_SCRIPT_H

#include "harness.h"

/* ---------------------------------------------------------------------------------------------
 * The scripted transport
 * ------------------------------------------------------------------------------------------- */

struct script {
    uint8_t in[1024]; /* what the broker sends */
    size_t in_len, in_pos;
    uint8_t out[2048]; /* what the client sent */
    size_t out_len, out_seen;
    size_t chunk;     /* most bytes moved per call, 0 = no limit */
    size_t send_room; /* bytes send takes before it says "would block" (SIZE_MAX: no limit) */
    int32_t recv_err; /* returned by recv once the input is used up, 0 = "would block" */
    int32_t send_err; /* returned by send when set */
    unsigned recv_calls, send_calls;
};

static struct script S;

static int32_t script_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct script *s = ctx;
    size_t n = len;

    s->send_calls++;
    if (s->send_err)
        return s->send_err;
    if (s->chunk && n > s->chunk)
        n = s->chunk;
    if (n > s->send_room)
        n = s->send_room;
    if (n > sizeof s->out - s->out_len)
        fail_msg("script: the client sent more than %lu bytes", (unsigned long)sizeof s->out);
    memcpy(s->out + s->out_len, buf, n);
    s->out_len += n;
    if (s->send_room != SIZE_MAX)
        s->send_room -= n;
    return (int32_t)n;
}

static int32_t script_recv(void *ctx, uint8_t *buf, size_t len)
{
    struct script *s = ctx;
    size_t n = s->in_len - s->in_pos;

    s->recv_calls++;
    if (n == 0)
        return s->recv_err;
    if (n > len)
        n = len;
    if (s->chunk && n > s->chunk)
        n = s->chunk;
    memcpy(buf, s->in + s->in_pos, n);
    s->in_pos += n;
    return (int32_t)n;
}

static const struct mote_transport T = {&S, script_send, script_recv};

/* Queues bytes the broker sends. */
static inline void feed(const uint8_t *b, size_t n)
{
    if (S.in_pos == S.in_len)
        S.in_pos = S.in_len = 0;
    if (n > sizeof S.in - S.in_len)
        fail_msg("feed: script input full");
    memcpy(S.in + S.in_len, b, n);
    S.in_len += n;
}

#define FEED(...)                                                                                  \
    do {                                                                                           \
        static const uint8_t feed_[] = {__VA_ARGS__};                                              \
        feed(feed_, sizeof feed_);                                                                 \
    } while (0)

/* The next bytes the client sent are exactly these. */
#define EXPECT_SENT(...)                                                                           \
    do {                                                                                           \
        static const uint8_t want_[] = {__VA_ARGS__};                                              \
        expect_sent(want_, sizeof want_, __FILE__, __LINE__);                                      \
    } while (0)

static inline void expect_sent(const uint8_t *want, size_t n, const char *file, int line)
{
    size_t i;

    if (S.out_len - S.out_seen < n)
        fail_msg("%s:%d: the client sent %lu new bytes, expected %lu", file, line,
                 (unsigned long)(S.out_len - S.out_seen), (unsigned long)n);
    for (i = 0; i < n; i++)
        if (S.out[S.out_seen + i] != want[i])
            fail_msg("%s:%d: sent byte %lu is 0x%02x, expected 0x%02x", file, line,
                     (unsigned long)i, S.out[S.out_seen + i], want[i]);
    S.out_seen += n;
}

#define EXPECT_NOTHING_SENT()                                                                      \
    do {                                                                                           \
        if (S.out_len != S.out_seen)                                                               \
            fail_msg("%s:%d: the client sent %lu unexpected bytes (first 0x%02x)", __FILE__,       \
                     __LINE__, (unsigned long)(S.out_len - S.out_seen), S.out[S.out_seen]);        \
    } while (0)

/* Decodes the next packet the client sent (slices point into S.out). Returns its length. */
static inline size_t next_sent(uint8_t version, struct mote_packet *p)
{
    struct mote_frame f;
    int rc = mote_codec_frame(S.out + S.out_seen, S.out_len - S.out_seen, 0, &f);

    if (rc != MOTE_OK)
        fail_msg("next_sent: no whole packet sent (%s, %lu bytes)", mote_err_name(rc),
                 (unsigned long)(S.out_len - S.out_seen));
    rc = mote_codec_decode(S.out + S.out_seen, f.total, version, p);
    if (rc != MOTE_OK)
        fail_msg("next_sent: the client sent a packet the codec refuses: %s", mote_err_name(rc));
    S.out_seen += f.total;
    return f.total;
}

/* Encodes @p p as the broker would send it and feeds it. */
static inline void feed_packet(const struct mote_packet *p, uint8_t version)
{
    uint8_t buf[512];
    size_t used;

    assert_rc(mote_codec_encode(p, version, buf, sizeof buf, &used), MOTE_OK);
    feed(buf, used);
}

/* ---------------------------------------------------------------------------------------------
 * What the client reported
 * ------------------------------------------------------------------------------------------- */

struct seen_event {
    uint8_t type, session_present, reason;
    uint16_t packet_id;
    size_t count;
    uint8_t codes[8];
    int err_code;
};

struct seen_message {
    char topic[48];
    uint8_t payload[160];
    size_t payload_len;
    uint8_t qos, retain, dup;
    uint16_t packet_id;
    int has_props;
};

struct seen {
    struct seen_event ev[24];
    size_t nev;
    struct seen_message msg[12];
    size_t nmsg;
    int disconnect_in_message; /* on_message calls mote_client_disconnect() */
    int publish_in_connected;  /* on_event(CONNECTED) publishes a QoS 0 message */
};

static struct seen R;
static struct mote_client C;
static uint32_t NOW;

static void on_event(void *ctx, const struct mote_event *e)
{
    struct seen_event *s;

    (void)ctx;
    if (R.nev == HARNESS_ARRAY_LEN(R.ev))
        fail_msg("on_event: more than %lu events", (unsigned long)HARNESS_ARRAY_LEN(R.ev));
    s = &R.ev[R.nev++];
    memset(s, 0, sizeof *s);
    s->type = e->type;
    s->session_present = e->session_present;
    s->reason = e->reason;
    s->packet_id = e->packet_id;
    s->count = e->count;
    if (e->count && e->count <= sizeof s->codes)
        memcpy(s->codes, e->codes, e->count);
    s->err_code = e->err ? e->err->code : 1;
    if (e->type == MOTE_EV_CONNECTED && R.publish_in_connected) {
        struct mote_publish m;

        memset(&m, 0, sizeof m);
        m.topic = MOTE_SLICE_STR("hello");
        assert_rc(mote_client_publish(&C, &m, NULL), MOTE_OK);
    }
}

static void on_message(void *ctx, const struct mote_message *m)
{
    struct seen_message *s;

    (void)ctx;
    if (R.nmsg == HARNESS_ARRAY_LEN(R.msg))
        fail_msg("on_message: more than %lu messages", (unsigned long)HARNESS_ARRAY_LEN(R.msg));
    s = &R.msg[R.nmsg++];
    memset(s, 0, sizeof *s);
    if (m->topic.len >= sizeof s->topic || m->payload.len > sizeof s->payload)
        fail_msg("on_message: message too large for the test");
    memcpy(s->topic, m->topic.ptr, m->topic.len);
    if (m->payload.len)
        memcpy(s->payload, m->payload.ptr, m->payload.len);
    s->payload_len = m->payload.len;
    s->qos = m->qos;
    s->retain = m->retain;
    s->dup = m->dup;
    s->packet_id = m->packet_id;
    s->has_props = m->props != NULL;
    if (R.disconnect_in_message)
        assert_rc(mote_client_disconnect(&C, NOW), MOTE_OK);
}

static const struct mote_client_callbacks CB = {on_message, on_event, NULL};

static inline const struct seen_event *last_event(void)
{
    if (!R.nev)
        fail_msg("no event was reported");
    return &R.ev[R.nev - 1];
}

#define EXPECT_EVENT(i, t)                                                                         \
    do {                                                                                           \
        if (R.nev <= (size_t)(i) || R.ev[i].type != (t))                                           \
            fail_msg("%s:%d: event %d is %d (of %lu), expected %d", __FILE__, __LINE__, (int)(i),  \
                     R.nev > (size_t)(i) ? R.ev[i].type : -1, (unsigned long)R.nev, (int)(t));     \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * The client's memory, each buffer between guard bytes
 * ------------------------------------------------------------------------------------------- */

#define CS_RX_MAX 512
#define CS_TX_MAX 512
#define CS_STORE_MAX 512
#define CS_SLOTS_MAX 8
#define CS_GUARD 16

static struct {
    uint8_t g0[CS_GUARD], rx[CS_RX_MAX], g1[CS_GUARD], tx[CS_TX_MAX], g2[CS_GUARD];
    uint8_t store[CS_STORE_MAX], g3[CS_GUARD];
} M;
static struct mote_inflight SLOTS[CS_SLOTS_MAX + 1]; /* the last one is a guard */
static struct mote_client_mem MEM;

static inline uint8_t cs_pattern(size_t i)
{
    return (uint8_t)(0x5Au ^ (uint8_t)(i * 31u));
}

/*
 * Lays out rx, tx and store of the given sizes, each ending right before guard bytes (and the
 * unused start of each array holds the pattern too), and @p slots slots.
 */
static inline void mem_layout(size_t rx, size_t tx, size_t store, size_t slots)
{
    uint8_t *all = (uint8_t *)&M;

    if (rx > CS_RX_MAX || tx > CS_TX_MAX || store > CS_STORE_MAX || slots > CS_SLOTS_MAX)
        fail_msg("mem_layout: sizes above the test's arrays");
    for (size_t i = 0; i < sizeof M; i++)
        all[i] = cs_pattern(i);
    memset(SLOTS, 0xC3, sizeof SLOTS);
    memset(&MEM, 0, sizeof MEM);
    MEM.rx = M.rx + CS_RX_MAX - rx;
    MEM.rx_len = rx;
    MEM.tx = M.tx + CS_TX_MAX - tx;
    MEM.tx_len = tx;
    MEM.store = store ? M.store + CS_STORE_MAX - store : NULL;
    MEM.store_len = store;
    MEM.slots = slots ? SLOTS : NULL;
    MEM.slot_count = slots;
}

/* Fails if the client wrote outside rx, tx, store or its slots. */
static inline void mem_check(void)
{
    const uint8_t *all = (const uint8_t *)&M;
    const uint8_t *regions[3][2] = {{MEM.rx, MEM.rx + MEM.rx_len},
                                    {MEM.tx, MEM.tx + MEM.tx_len},
                                    {MEM.store, MEM.store + MEM.store_len}};
    const uint8_t *guard = (const uint8_t *)&SLOTS[MEM.slot_count];

    for (size_t i = 0; i < sizeof M; i++) {
        const uint8_t *p = all + i;
        int inside = 0;

        for (size_t r = 0; r < 3; r++)
            inside |= regions[r][0] && p >= regions[r][0] && p < regions[r][1];
        if (!inside && *p != cs_pattern(i))
            fail_msg("mem_check: the client wrote outside its buffers (offset %lu of the arena)",
                     (unsigned long)i);
    }
    for (size_t i = 0; i < sizeof SLOTS[0]; i++)
        if (guard[i] != 0xC3)
            fail_msg("mem_check: the client wrote past its %lu slots",
                     (unsigned long)MEM.slot_count);
}

/* ---------------------------------------------------------------------------------------------
 * Set-up helpers
 * ------------------------------------------------------------------------------------------- */

static inline int reset(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    S.send_room = SIZE_MAX;
    memset(&R, 0, sizeof R);
    memset(&C, 0, sizeof C);
    NOW = 1000;
    mem_layout(256, 256, 256, 4);
    return 0;
}

static inline int check_memory(void **state)
{
    (void)state;
    mem_check();
    return 0;
}

#define CLIENT_TEST(f) cmocka_unit_test_setup_teardown(f, reset, check_memory)

static inline struct mote_client_config config(uint8_t version)
{
    struct mote_client_config cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.version = version;
    cfg.client_id = MOTE_SLICE_STR("dev1");
    cfg.clean_start = 1;
    return cfg;
}

static inline int poll_now(void)
{
    uint32_t wait;

    return mote_client_poll(&C, NOW, &wait);
}

/* Polls until the script's input is used up and the client has nothing more to write. */
static inline int poll_all(void)
{
    int rc = MOTE_OK;

    for (int i = 0; i < 4096; i++) {
        rc = poll_now();
        if (rc != MOTE_OK)
            return rc;
        if (S.in_pos == S.in_len && !mote_client_wants_write(&C) && i > 0)
            break;
    }
    return rc;
}

/* Connects and answers with an accepting CONNACK: the CONNECT is consumed from the output. */
static inline void connect_ok(uint8_t session_present)
{
    struct mote_packet p;

    assert_rc(mote_client_connect(&C, &T, NOW), MOTE_OK);
    assert_rc(poll_all(), MOTE_OK);
    (void)next_sent(C.cfg.version, &p);
    assert_int_equal(p.type, MOTE_CONNECT);
    {
        uint8_t connack[5] = {0x20, 0x02, 0x00, 0x00, 0x00};

        connack[2] = session_present;
        if (C.cfg.version == MOTE_V5)
            connack[1] = 0x03;
        feed(connack, C.cfg.version == MOTE_V5 ? 5 : 4);
    }
    assert_rc(poll_all(), MOTE_OK);
    assert_int_equal(mote_client_state(&C), MOTE_STATE_CONNECTED);
}

/* init with @p cfg and the current MEM, then connect. */
static inline void start(const struct mote_client_config *cfg, uint8_t session_present)
{
    assert_rc(mote_client_init(&C, cfg, &MEM, &CB), MOTE_OK);
    connect_ok(session_present);
}

static inline struct mote_publish pub(const char *topic, const char *payload, uint8_t qos)
{
    struct mote_publish m;

    memset(&m, 0, sizeof m);
    m.topic = slice_str(topic);
    m.payload = slice_str(payload);
    m.qos = qos;
    return m;
}

/* The broker closes the connection: the next recv says so. */
static inline void broker_closes(void)
{
    S.recv_err = MOTE_ERR_CLOSED;
}

#endif /* MOTE_TEST_CLIENT_SCRIPT_H */
