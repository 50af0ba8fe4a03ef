/*
 * device.c - the seed device's super-loop: MQTT over verified TLS through libmote, on whatever
 * board fills in a struct seed_port. The same file builds for POSIX, Cortex-M3 and the ESP8266.
 * Its RAM is the static objects below, nothing else: `make size` measures them.
 */
#include <string.h>

#include "device.h"
#include "mote/mote.h"

/* The session: TLS context and record buffer (512-byte records), client, its buffers. */
static struct mote_tls tls;
static uint8_t iobuf[MOTE_TLS_IOBUF_MONO(512)];
static struct mote_client client;
static uint8_t rx[SEED_RX], tx[SEED_TX], store[SEED_STORE];
static struct mote_inflight slots[SEED_SLOTS];

/* The device's own state. */
static struct seed_state {
    const struct seed_settings *s;
    const struct seed_port *p;
    struct mote_will will;
    char status_topic[SEED_ID_MAX + 16]; /* devices/<id>/status */
    char ping_topic[SEED_ID_MAX + 14];   /* devices/<id>/ping */
    uint32_t now_ms;
    uint32_t next_ping_ms;
    uint32_t leave_deadline_ms;
    uint32_t pings_sent, pings_acked;
    uint16_t status_id, offline_id;
    uint8_t connected, was_up, ever_connected, leaving, left; /* was_up: this connection */
} st;

#define SEED_LEAVE_MS 5000u /* how long "offline" may take to be acknowledged at the end */

/* ---------------------------------------------------------------------------------------------
 * Lines for the person watching (no printf: a firmware may not link one)
 * ------------------------------------------------------------------------------------------- */

/* A line being written into the caller's buffer: short ones for news, a long one for errors. */
struct line {
    char *buf;
    size_t cap, used;
};

#define LINE(name, bytes)                                                                          \
    char name##_buf[bytes];                                                                        \
    struct line name = {name##_buf, sizeof name##_buf, 0};                                         \
    name##_buf[0] = 0

static void put(struct line *l, const char *s)
{
    while (*s && l->used + 1 < l->cap)
        l->buf[l->used++] = *s++;
    l->buf[l->used] = 0;
}

/* Writes @p v in decimal at @p out (room for 10 digits); returns the digits written. */
static size_t decimal(char *out, uint32_t v)
{
    char digits[10];
    size_t n = 0, i = 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        out[i++] = digits[--n];
    return i;
}

static void put_u(struct line *l, uint32_t v)
{
    char digits[11];

    digits[decimal(digits, v)] = 0;
    put(l, digits);
}

static void put_broker(struct line *l)
{
    put(l, st.s->host);
    put(l, ":");
    put_u(l, st.s->port);
}

static void say(struct line *l)
{
    st.p->print(st.p->ctx, l->buf);
}

/*
 * Prints @p e with the library's explanation. A TLS failure, and a TCP failure in the middle of
 * a handshake, get lib/tls's version: it names the certificates, dates and alert involved.
 */
static void explain(const char *when, const struct mote_error *e)
{
    LINE(l, 512); /* the error path only: lib/tls's explanations run to 400 bytes */
    const struct mote_error *te = mote_tls_error(&tls);

    put(&l, when);
    put(&l, " ");
    put_broker(&l);
    put(&l, ": ");
    if (e->code < 0 && te->code == e->code &&
        (e->layer == MOTE_LAYER_TLS || !mote_tls_detail(&tls)->handshake_done)) {
        put(&l, mote_layer_name(e->layer));
        put(&l, ": ");
        mote_tls_explain_detail(&tls, l.buf + l.used, l.cap - l.used);
    } else {
        mote_error_explain(e, l.buf + l.used, l.cap - l.used);
    }
    say(&l);
}

/* ---------------------------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------------------------- */

static size_t topic(char *out, const char *id, const char *leaf)
{
    size_t n = 0;

    memcpy(out, "devices/", 8);
    n = 8;
    for (; *id; id++)
        out[n++] = *id;
    out[n++] = '/';
    for (; *leaf; leaf++)
        out[n++] = *leaf;
    out[n] = 0;
    return n;
}

static int publish(const char *topic_name, const char *payload, size_t len, uint8_t retain,
                   uint16_t *id)
{
    struct mote_publish m;

    memset(&m, 0, sizeof m);
    m.qos = 1;
    m.retain = retain;
    m.topic.ptr = (const uint8_t *)topic_name;
    m.topic.len = strlen(topic_name);
    m.payload.ptr = (const uint8_t *)payload;
    m.payload.len = len;
    return mote_client_publish(&client, &m, id);
}

static void publish_status(const char *status, uint16_t *id)
{
    if (publish(st.status_topic, status, strlen(status), 1, id) != MOTE_OK)
        explain("status not published on", mote_client_error(&client));
}

static void publish_ping(void)
{
    char payload[10]; /* the ping's number */

    if (publish(st.ping_topic, payload, decimal(payload, st.pings_sent + 1), 0, NULL) == MOTE_OK)
        st.pings_sent++;
    else /* the store is full (the broker is slow): skip this one, nothing is lost */
        explain("ping skipped on", mote_client_error(&client));
}

/* ---------------------------------------------------------------------------------------------
 * Client events
 * ------------------------------------------------------------------------------------------- */

static void connected(void)
{
    const struct mote_tls_detail *d = mote_tls_detail(&tls);
    LINE(l, 2 * MOTE_TLS_NAME_LEN + SEED_ID_MAX + 128);

    st.connected = st.was_up = st.ever_connected = 1;
    st.next_ping_ms = st.now_ms + (st.s->interval_ms ? st.s->interval_ms : 1000u);
    publish_status("online", &st.status_id);

    put(&l, "online as ");
    put(&l, st.status_topic);
    put(&l, " at ");
    put_broker(&l);
    if (d->resumed) {
        put(&l, " (TLS session resumed");
    } else if (st.s->pin) {
        put(&l, " (TLS, pinned key");
    } else {
        put(&l, " (TLS, certificate \"");
        put(&l, d->subject_cn);
        put(&l, "\" issued by \"");
        put(&l, d->issuer_cn);
        put(&l, "\"");
    }
    if (d->max_fragment) {
        put(&l, d->mfl_accepted ? ", records of " : ", asked for records of ");
        put_u(&l, d->max_fragment);
        put(&l, " bytes");
    }
    put(&l, ")");
    say(&l);
}

static void on_event(void *ctx, const struct mote_event *e)
{
    LINE(l, 32);

    (void)ctx;
    switch (e->type) {
    case MOTE_EV_CONNECTED:
        connected();
        break;
    case MOTE_EV_PUBLISHED:
        if (st.leaving && e->packet_id == st.offline_id) {
            st.left = 1;
        } else if (e->packet_id != st.status_id) {
            st.pings_acked++;
            put(&l, "ping ");
            put_u(&l, st.pings_acked);
            put(&l, " delivered");
            say(&l);
        }
        break;
    case MOTE_EV_DISCONNECTED:
        st.connected = 0;
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------------------------------------
 * The loop
 * ------------------------------------------------------------------------------------------- */

static int stopped(void)
{
    return st.p->stop && *st.p->stop;
}

static int done(void)
{
    return stopped() || (st.s->pings && st.pings_acked >= st.s->pings);
}

/* Signed distance from now to @p t (the clock wraps). */
static int32_t until(uint32_t t)
{
    return (int32_t)(t - st.now_ms);
}

/*
 * One connection: TCP, TLS, MQTT, then pings until done or the connection fails.
 * @return MOTE_OK when the run is over (pings done or stopped), else the failure (explained).
 */
static int session(void)
{
    const struct seed_port *p = st.p;
    struct mote_transport tcp, secure;
    struct mote_error err;
    int rc;

    memset(&err, 0, sizeof err);
    rc = p->open(p->ctx, st.s->host, st.s->port, &tcp, &err);
    if (rc != MOTE_OK) {
        explain("cannot reach", &err);
        return rc;
    }
    rc = mote_tls_transport(&tls, &tcp, &secure);
    if (rc == MOTE_OK)
        rc = mote_client_connect(&client, &secure, p->now_ms(p->ctx));
    if (rc != MOTE_OK) {
        explain("cannot start a session with", mote_tls_error(&tls));
        p->close(p->ctx);
        return rc;
    }
    st.leaving = st.left = st.was_up = 0;
    for (;;) {
        uint32_t wait;
        int busy = 0;

        st.now_ms = p->now_ms(p->ctx);
        rc = mote_client_poll(&client, st.now_ms, &wait);
        if (rc < 0) {
            explain(st.was_up ? "connection lost to" : "cannot connect to",
                    mote_client_error(&client));
            break;
        }
        if (!st.connected && stopped()) { /* still in the handshake: nothing to say offline */
            rc = MOTE_OK;
            break;
        }
        if (st.connected && st.leaving) {
            if (st.left || until(st.leave_deadline_ms) <= 0) {
                mote_client_disconnect(&client, st.now_ms);
                rc = MOTE_OK;
                break;
            }
        } else if (st.connected && done()) {
            /* DISCONNECT discards the will: say "offline" ourselves first, retained as well */
            st.leaving = 1;
            st.leave_deadline_ms = st.now_ms + SEED_LEAVE_MS;
            st.offline_id = 0; /* no packet id is 0: a failed publish just waits out the deadline */
            publish_status("offline", &st.offline_id);
            busy = 1;
        } else if (st.connected && until(st.next_ping_ms) <= 0) {
            uint32_t interval = st.s->interval_ms ? st.s->interval_ms : 1000u;

            publish_ping();
            st.next_ping_ms += interval;
            if (until(st.next_ping_ms) <= 0) /* fell behind (a long stall): start again */
                st.next_ping_ms = st.now_ms + interval;
            busy = 1;
        }
        if (busy)
            continue; /* poll at once: it writes what was just published */
        if (st.connected && !st.leaving && (uint32_t)until(st.next_ping_ms) < wait)
            wait = (uint32_t)until(st.next_ping_ms);
        if (st.leaving && (uint32_t)until(st.leave_deadline_ms) < wait)
            wait = (uint32_t)until(st.leave_deadline_ms);
        p->wait(p->ctx, wait, mote_client_wants_write(&client));
    }
    mote_tls_close(&tls);
    p->close(p->ctx);
    return rc;
}

static int setup(const struct seed_settings *s, const struct seed_port *p)
{
    struct mote_tls_config tc;
    struct mote_client_config cc;
    struct mote_client_mem mem = {rx,    sizeof rx,    tx,    sizeof tx,
                                  store, sizeof store, slots, SEED_SLOTS};
    struct mote_client_callbacks cb = {NULL, on_event, NULL};
    struct mote_error err;
    LINE(l, 96);
    size_t id_len = s->id ? strlen(s->id) : 0;

    memset(&st, 0, sizeof st);
    st.s = s;
    st.p = p;
    if (id_len == 0 || id_len > SEED_ID_MAX) {
        put(&l, "the client id must have 1 to ");
        put_u(&l, SEED_ID_MAX);
        put(&l, " bytes (it is part of the topics devices/<id>/status and /ping)");
        say(&l);
        return MOTE_ERR_BAD_ARG;
    }
    topic(st.status_topic, s->id, "status");
    topic(st.ping_topic, s->id, "ping");

    memset(&tc, 0, sizeof tc);
    tc.host = s->host;
    tc.anchors = s->anchors;
    tc.anchor_count = s->anchor_count;
    tc.pin = s->pin;
    tc.unix_time = p->unix_time;
    tc.clock_ctx = p->ctx;
    tc.seed = p->seed;
    tc.seed_len = p->seed_len;
    if (mote_tls_init(&tls, &tc, iobuf, sizeof iobuf, &err) != MOTE_OK) {
        explain("TLS setup for", &err);
        return err.code;
    }

    st.will.topic.ptr = (const uint8_t *)st.status_topic;
    st.will.topic.len = strlen(st.status_topic);
    st.will.payload = MOTE_SLICE_STR("offline");
    st.will.qos = 1;
    st.will.retain = 1;
    memset(&cc, 0, sizeof cc);
    cc.version = MOTE_V311;
    cc.client_id.ptr = (const uint8_t *)s->id;
    cc.client_id.len = id_len;
    cc.keep_alive_s = 60;
    cc.clean_start = 1;
    cc.will = &st.will;
    if (s->username) {
        cc.has_username = 1;
        cc.username.ptr = (const uint8_t *)s->username;
        cc.username.len = strlen(s->username);
    }
    if (s->password) {
        cc.has_password = 1;
        cc.password.ptr = (const uint8_t *)s->password;
        cc.password.len = strlen(s->password);
    }
    if (mote_client_init(&client, &cc, &mem, &cb) != MOTE_OK) {
        explain("MQTT setup for", mote_client_error(&client));
        return mote_client_error(&client)->code;
    }
    return MOTE_OK;
}

/* see device.h */
int seed_device_run(const struct seed_settings *s, const struct seed_port *p)
{
    int rc = setup(s, p);

    while (rc == MOTE_OK && !stopped()) {
        uint32_t delay, start;

        rc = session();
        if (rc == MOTE_OK || (!st.ever_connected && !s->keep_trying))
            break;
        delay = mote_client_backoff_ms(&client, p->random(p->ctx));
        {
            LINE(l, 48);

            put(&l, "trying again in ");
            put_u(&l, delay);
            put(&l, " ms");
            say(&l);
        }
        start = p->now_ms(p->ctx);
        while (!stopped() && p->now_ms(p->ctx) - start < delay)
            p->wait(p->ctx, delay - (p->now_ms(p->ctx) - start), 0);
        rc = MOTE_OK;
    }
    return rc;
}
