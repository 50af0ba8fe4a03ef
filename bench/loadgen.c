/*
 * bench/loadgen.c - an MQTT 3.1.1 / 5.0 load generator for comparing brokers: one process, one
 * epoll loop, non-blocking sockets, packets written and read with the mote codec. Publishers stamp
 * a sequence number and a CLOCK_MONOTONIC time into each payload; subscribers in the same process
 * turn them into latency, loss and duplicate counts. See bench/README.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mote/codec.h"

#include "hist.h"
#include "transport.h"

#define MAX_DURATION_S 300.0
#define MAX_PAYLOAD (1u << 20)
#define MAX_PACKET (MAX_PAYLOAD + 4096u)
#define WBUF_HIGH (256u * 1024u) /* a publisher stops producing while this much is unsent */
#define READ_CHUNK (64u * 1024u) /* read size of a subscriber */
#define READS_PER_EVENT 16       /* then let the other connections have a turn */
#define PUB_BATCH 64             /* messages a publisher writes per turn when unpaced */
#define PACED_BUDGET 4096        /* messages sent per loop turn when paced and behind */
#define MSG_HDR 24               /* payload header: run id, publisher, sequence, send time */
#define TRACK_BITS 1024          /* how far back the duplicate detector remembers */
#define SETUP_TIMEOUT_NS (60ull * 1000000000ull)
/* A full window that makes no progress for 10 typical latencies (within these bounds) has lost
 * its tail: it is reopened. */
#define STALL_MIN_NS (50000000ull)
#define STALL_MAX_NS (1000000000ull)
#define DRAIN_IDLE_NS (1500000000ull)
#define DRAIN_MAX_NS (10ull * 1000000000ull)
#define CLOSE_WAIT_NS (2000000000ull)
#define MAX_LOGGED_ERRORS 10
#define MAX_PROCS 64
#define PROC_INDEX_SHIFT 24 /* churn client ids of process p start at p << 24 */

enum topic_mode { MODE_FANIN, MODE_FANOUT, MODE_FLEET };
enum role { ROLE_PUB, ROLE_SUB, ROLE_IDLE, ROLE_CHURN, ROLE_COUNT };
enum state {
    ST_FREE,      /* slot unused */
    ST_TCP,       /* connect() in progress */
    ST_HANDSHAKE, /* transport handshake (TLS) */
    ST_CONNACK,   /* CONNECT sent */
    ST_SUBACK,    /* SUBSCRIBE sent */
    ST_READY,
    ST_CLOSING, /* DISCONNECT sent, waiting for the broker to close */
    ST_CLOSED,
};

static const char *const role_name[ROLE_COUNT] = {"publisher", "subscriber", "idle", "churn"};
static const char *const mode_name[] = {"fanin", "fanout", "fleet"};

struct options {
    const char *host;
    int port;
    uint8_t version;
    int pubs, subs, qos;
    enum topic_mode mode;
    size_t size;
    double rate;
    int rate_given;
    double duration;
    int idle;
    int connect_rate;
    int json;
    int window;
    int keepalive;
    int connect_window;
    long broker_pid;
    int tls;
    const char *cafile;
    int tls_version; /* 12, 13, or 0: the broker's choice */
    int tls_resume, tls_no_ticket, tls_pin;
    int procs; /* processes sharing the --connect-rate churn */
    int persistent_subs; /* subscribers keep a session (the broker stores their queues) */
};

/* What one subscriber has seen of one publisher. */
struct track {
    uint64_t hi;   /* highest sequence seen + 1 */
    uint64_t uniq; /* distinct messages */
    uint64_t dups;
    uint64_t bits[TRACK_BITS / 64]; /* seen flags of sequences [hi - TRACK_BITS, hi) */
};

struct conn {
    struct bench_link link;
    enum role role;
    enum state state;
    int index;
    int out_armed; /* EPOLLOUT is registered */
    int more;      /* input may be waiting that epoll will not report (read budget, TLS buffer) */
    uint8_t *rbuf;
    size_t rlen, rcap;
    uint8_t *wbuf;
    size_t wpos, wlen, wcap;
    uint64_t started_ns, last_tx_ns, closing_ns;
    uint32_t recv_max; /* the broker's Receive Maximum (5.0), else 65535 */
    /* publisher */
    char topic[128];
    size_t topic_len;
    uint8_t *payload;
    uint64_t sent;
    uint64_t window_base; /* messages given up on by a stalled window */
    uint64_t stall_since, stall_seen;
    uint16_t next_id;
    uint32_t unacked;
    uint64_t *await_ack;  /* packet ids waiting for PUBACK / PUBREC (bitmap of 65536) */
    uint64_t *await_comp; /* packet ids waiting for PUBCOMP */
    int dirty;
    /* subscriber */
    struct track *track; /* one per publisher */
};

struct broker_sample {
    int ok;
    double cpu_s;      /* process CPU clock (utime + stime at ns resolution) */
    double tick_cpu_s; /* utime + stime of /proc/PID/stat, in clock ticks */
    long rss_kb;
};

static struct options opt = {
    .host = "127.0.0.1",
    .port = 1883,
    .version = MOTE_V311,
    .pubs = -1, /* 1, or 0 with --idle / --connect-rate */
    .subs = -1,
    .qos = 0,
    .mode = MODE_FANIN,
    .size = 64,
    .rate = 0,
    .duration = 10,
    .window = 100,
    .keepalive = 60,
    .connect_window = 64,
    .broker_pid = 0,
    .procs = 1,
};

static const struct bench_transport *tp = &bench_transport_tcp;
static struct sockaddr_storage peer;
static socklen_t peer_len;
static int epfd = -1;
static uint32_t run_id;
static clockid_t broker_clock;
static int broker_clock_ok;
static uint64_t stall_ns = STALL_MAX_NS / 4;

static struct conn *pubs, *subs, *idles, *churns;
static struct conn **more_list;
static size_t more_count, more_cap;
static struct conn **dirty_list;
static size_t dirty_count;

static struct {
    int ready[ROLE_COUNT], failed[ROLE_COUNT];
    int inprogress;
    uint64_t errors_logged;
    uint64_t sent, uniq, dups, reordered, foreign, stalls, acks, paced_skipped;
    uint64_t *pub_hi_sum; /* per publisher: sum over subscribers of track.hi */
    uint64_t last_delivery_ns, last_progress;
    uint64_t churn_done, churn_failed;
    uint64_t tls_handshakes, tls_resumed;
    struct bench_hist lat, connect_lat;
    uint64_t unacked_total;
    uint64_t
        max_outstanding; /* most messages a publisher had on the way to the average subscriber */
} st;

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("loadgen: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void note(const char *fmt, ...)
{
    va_list ap;
    fputs("loadgen: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (!p)
        die("out of memory (%zu bytes)", size);
    return p;
}

static int bit_test(const uint64_t *bits, uint32_t i)
{
    return (int)((bits[i / 64] >> (i % 64)) & 1u);
}

static void bit_set(uint64_t *bits, uint32_t i)
{
    bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static void bit_clear(uint64_t *bits, uint32_t i)
{
    bits[i / 64] &= ~((uint64_t)1 << (i % 64));
}

static void on_watchdog(int sig)
{
    static const char msg[] = "loadgen: watchdog expired, giving up\n";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing left to do */
    }
    _exit(3);
}

/* ---------------------------------------------------------------------------------------------
 * The broker process, seen from /proc
 * ------------------------------------------------------------------------------------------- */

static void broker_sample(struct broker_sample *s)
{
    char path[64], buf[1024];
    FILE *f;
    memset(s, 0, sizeof *s);
    if (opt.broker_pid <= 0)
        return;

    snprintf(path, sizeof path, "/proc/%ld/stat", opt.broker_pid);
    f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(buf, sizeof buf, f)) {
        /* Fields after the command name, which may hold spaces: state is field 3, utime 14. */
        char *p = strrchr(buf, ')');
        unsigned long long utime = 0, stime = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                        &stime) == 2) {
            s->tick_cpu_s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
            s->ok = 1;
        }
    }
    fclose(f);

    s->cpu_s = s->tick_cpu_s;
    if (broker_clock_ok) {
        struct timespec ts;
        if (clock_gettime(broker_clock, &ts) == 0)
            s->cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }

    snprintf(path, sizeof path, "/proc/%ld/status", opt.broker_pid);
    f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(buf, sizeof buf, f))
        if (sscanf(buf, "VmRSS: %ld kB", &s->rss_kb) == 1)
            break;
    fclose(f);
}

/* ---------------------------------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------------------------------- */

static void set_out(struct conn *c, int on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u), .data.ptr = c};
    if (c->out_armed == on)
        return;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->link.fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->out_armed = on;
}

static void mark_more(struct conn *c)
{
    if (c->more)
        return;
    if (more_count == more_cap) {
        more_cap = more_cap ? more_cap * 2 : 64;
        more_list = xrealloc(more_list, more_cap * sizeof *more_list);
    }
    more_list[more_count++] = c;
    c->more = 1;
}

/* Closes the socket; the slot keeps its buffers for the next connection. */
static void conn_release(struct conn *c)
{
    if (c->state == ST_FREE || c->state == ST_CLOSED)
        return;
    if (c->state < ST_READY)
        st.inprogress--;
    if (c->role == ROLE_PUB)
        st.unacked_total -= c->unacked;
    c->unacked = 0;
    tp->close(&c->link);
    c->state = ST_CLOSED;
    c->rlen = c->wlen = c->wpos = 0;
    c->out_armed = 0;
}

static void conn_fail(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    if (c->state == ST_CLOSED || c->state == ST_FREE)
        return;
    if (c->role == ROLE_CHURN)
        st.churn_failed++;
    else
        st.failed[c->role]++;
    if (c->state == ST_READY && c->role != ROLE_CHURN)
        st.ready[c->role]--;
    if (st.errors_logged++ < MAX_LOGGED_ERRORS) {
        fprintf(stderr, "loadgen: %s %d: ", role_name[c->role], c->index);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    conn_release(c);
}

/* Makes room for @n more bytes at the end of the write buffer. */
static uint8_t *wbuf_reserve(struct conn *c, size_t n)
{
    if (c->wpos == c->wlen)
        c->wpos = c->wlen = 0;
    if (c->wcap - c->wlen < n && c->wpos) {
        memmove(c->wbuf, c->wbuf + c->wpos, c->wlen - c->wpos);
        c->wlen -= c->wpos;
        c->wpos = 0;
    }
    if (c->wcap - c->wlen < n) {
        size_t cap = c->wcap ? c->wcap : 256;
        while (cap - c->wlen < n)
            cap *= 2;
        c->wbuf = xrealloc(c->wbuf, cap);
        c->wcap = cap;
    }
    return c->wbuf + c->wlen;
}

static void queue_packet(struct conn *c, const struct mote_packet *p)
{
    size_t need, used;
    int rc = mote_codec_size(p, opt.version, &need);
    if (rc == MOTE_OK)
        rc = mote_codec_encode(p, opt.version, wbuf_reserve(c, need), need, &used);
    if (rc != MOTE_OK)
        die("cannot encode %s: %s (%s)", mote_packet_name(p->type), mote_err_name(rc),
            mote_strerror(rc));
    c->wlen += used;
}

/* Writes what is queued. Returns -1 when the connection failed (and is closed). */
static int conn_flush(struct conn *c, uint64_t now)
{
    while (c->wpos < c->wlen) {
        ssize_t n = tp->send(&c->link, c->wbuf + c->wpos, c->wlen - c->wpos);
        if (n == BENCH_IO_AGAIN) {
            set_out(c, 1);
            return 0;
        }
        if (n < 0 && c->state == ST_CLOSING) {
            conn_release(c); /* the broker closed first: what DISCONNECT asked for */
            return -1;
        }
        if (n < 0) {
            conn_fail(c, "%s", c->link.err[0] ? c->link.err : "connection closed by the broker");
            return -1;
        }
        c->wpos += (size_t)n;
        c->last_tx_ns = now;
    }
    c->wpos = c->wlen = 0;
    set_out(c, c->link.want_write);
    return 0;
}

static void send_connect(struct conn *c)
{
    static const char tag[ROLE_COUNT] = {'p', 's', 'i', 'c'};
    char id[48];
    struct mote_packet p = {.type = MOTE_CONNECT};
    int n = snprintf(id, sizeof id, "mb%08" PRIx32 "-%c%d", run_id, tag[c->role], c->index);
    struct mote_prop expiry = {.id = MOTE_PROP_SESSION_EXPIRY, .v.num = 3600};
    p.u.connect.version = opt.version;
    p.u.connect.clean_start = 1;
    if (opt.persistent_subs && c->role == ROLE_SUB) {
        /* A session the broker keeps: 3.1.1 clean session 0, 5.0 one hour of expiry. */
        p.u.connect.clean_start = 0;
        if (opt.version == MOTE_V5) {
            p.u.connect.props.list = &expiry;
            p.u.connect.props.count = 1;
        }
    }
    p.u.connect.keep_alive = (uint16_t)opt.keepalive;
    p.u.connect.client_id = (struct mote_slice){(const uint8_t *)id, (size_t)n};
    queue_packet(c, &p);
}

static void send_subscribe(struct conn *c)
{
    char filter[128];
    int n;
    struct mote_subscription sub = {.qos = (uint8_t)opt.qos};
    struct mote_packet p = {.type = MOTE_SUBSCRIBE};
    switch (opt.mode) {
    case MODE_FANIN:
        n = snprintf(filter, sizeof filter, "mb/%08" PRIx32 "/in/+", run_id);
        break;
    case MODE_FANOUT:
        n = snprintf(filter, sizeof filter, "mb/%08" PRIx32 "/out", run_id);
        break;
    default:
        n = snprintf(filter, sizeof filter, "mb/%08" PRIx32 "/fleet/+/telemetry", run_id);
        break;
    }
    sub.filter = (struct mote_slice){(const uint8_t *)filter, (size_t)n};
    p.u.subscribe.packet_id = 1;
    p.u.subscribe.list = &sub;
    p.u.subscribe.count = 1;
    queue_packet(c, &p);
}

static void send_simple(struct conn *c, uint8_t type)
{
    struct mote_packet p = {.type = type};
    queue_packet(c, &p);
}

static void send_ack(struct conn *c, uint8_t type, uint16_t id)
{
    struct mote_packet p = {.type = type};
    p.u.ack.packet_id = id;
    queue_packet(c, &p);
}

static void set_topic(struct conn *c)
{
    int n;
    switch (opt.mode) {
    case MODE_FANIN:
        n = snprintf(c->topic, sizeof c->topic, "mb/%08" PRIx32 "/in/%d", run_id, c->index);
        break;
    case MODE_FANOUT:
        n = snprintf(c->topic, sizeof c->topic, "mb/%08" PRIx32 "/out", run_id);
        break;
    default:
        n = snprintf(c->topic, sizeof c->topic, "mb/%08" PRIx32 "/fleet/%d/telemetry", run_id,
                     c->index);
        break;
    }
    c->topic_len = (size_t)n;
}

static void conn_start(struct conn *c, enum role role, int index, uint64_t now)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT};
    int fd, one = 1;

    c->role = role;
    c->index = index;
    c->rlen = c->wlen = c->wpos = 0;
    c->more = 0;
    c->recv_max = 65535;
    c->started_ns = c->last_tx_ns = now;
    c->link.fd = -1;
    c->link.tls = NULL;
    c->link.err[0] = 0;
    c->state = ST_TCP;
    st.inprogress++;

    fd = socket(peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        c->state = ST_TCP;
        c->link.fd = -1;
        conn_fail(c, "socket: %s%s", strerror(errno),
                  errno == EMFILE ? " (raise the open file limit: ulimit -n)" : "");
        return;
    }
    c->link.fd = fd;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)&peer, peer_len) < 0 && errno != EINPROGRESS) {
        conn_fail(c, "connect to %s:%d: %s", opt.host, opt.port, strerror(errno));
        return;
    }
    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->out_armed = 1;
}

static void conn_ready(struct conn *c, uint64_t now)
{
    st.inprogress--;
    c->state = ST_READY;
    if (c->role == ROLE_CHURN) {
        bench_hist_add(&st.connect_lat, now - c->started_ns);
        st.churn_done++;
        send_simple(c, MOTE_DISCONNECT);
        c->state = ST_CLOSING;
        c->closing_ns = now;
        return;
    }
    st.ready[c->role]++;
    if (c->role == ROLE_IDLE)
        bench_hist_add(&st.connect_lat, now - c->started_ns);
}

/* ---------------------------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------------------------- */

static uint16_t take_packet_id(struct conn *c)
{
    for (;;) {
        uint16_t id = c->next_id++;
        if (c->next_id == 0)
            c->next_id = 1;
        if (id && !bit_test(c->await_ack, id) && !bit_test(c->await_comp, id)) {
            bit_set(c->await_ack, id);
            return id;
        }
    }
}

static void publish_one(struct conn *c, uint64_t now)
{
    struct mote_packet p = {.type = MOTE_PUBLISH};
    uint32_t pub = (uint32_t)c->index;
    size_t need, used;
    int rc;

    memcpy(c->payload, &run_id, 4);
    memcpy(c->payload + 4, &pub, 4);
    memcpy(c->payload + 8, &c->sent, 8);
    memcpy(c->payload + 16, &now, 8);
    p.u.publish.qos = (uint8_t)opt.qos;
    p.u.publish.topic = (struct mote_slice){(const uint8_t *)c->topic, c->topic_len};
    p.u.publish.payload = (struct mote_slice){c->payload, opt.size};
    if (opt.qos) {
        p.u.publish.packet_id = take_packet_id(c);
        c->unacked++;
        st.unacked_total++;
    }
    /* Every PUBLISH of a run has the same size: mote_codec_size() once, then encode. */
    need = c->topic_len + opt.size + 16;
    rc = mote_codec_encode(&p, opt.version, wbuf_reserve(c, need), need, &used);
    if (rc != MOTE_OK)
        die("cannot encode PUBLISH: %s", mote_strerror(rc));
    c->wlen += used;
    c->sent++;
    st.sent++;
    if (opt.subs) {
        uint64_t out = c->sent - st.pub_hi_sum[c->index] / (uint64_t)opt.subs;
        if (out > st.max_outstanding)
            st.max_outstanding = out;
    }
    if (!c->dirty) {
        c->dirty = 1;
        dirty_list[dirty_count++] = c;
    }
}

static int can_send(struct conn *c, uint64_t now)
{
    uint64_t seen, base;
    if (c->state != ST_READY || c->wlen - c->wpos >= WBUF_HIGH)
        return 0;
    if (opt.qos && c->unacked >= (uint32_t)opt.window)
        return 0;
    if (opt.qos && c->unacked >= c->recv_max)
        return 0;
    if (!opt.subs)
        return 1;
    /* End to end: at most `window` messages between this publisher and the average subscriber,
     * so no broker queue overflows and latency is not queueing we caused. */
    seen = st.pub_hi_sum[c->index] / (uint64_t)opt.subs;
    base = seen > c->window_base ? seen : c->window_base;
    if (c->sent - base < (uint64_t)opt.window) {
        c->stall_since = 0;
        return 1;
    }
    if (!c->stall_since || seen != c->stall_seen) {
        c->stall_since = now;
        c->stall_seen = seen;
    } else if (now - c->stall_since > stall_ns && c->unacked == 0) {
        /* The broker accepted all of it (QoS > 0) or we cannot tell (QoS 0), yet nothing came
         * through: the tail of the window was dropped. Count it lost and go on. */
        c->window_base = c->sent;
        c->stall_since = 0;
        st.stalls++;
        if (getenv("LOADGEN_DEBUG"))
            note("publisher %d: window stalled at %" PRIu64 " sent, %" PRIu64 " seen, unacked %u",
                 c->index, c->sent, seen, c->unacked);
        return 1;
    }
    return 0;
}

static void flush_dirty(uint64_t now)
{
    for (size_t i = 0; i < dirty_count; i++) {
        struct conn *c = dirty_list[i];
        c->dirty = 0;
        if (c->state == ST_READY)
            conn_flush(c, now);
    }
    dirty_count = 0;
}

static void on_message(const struct mote_publish *pub, struct conn *c, uint64_t now)
{
    const uint8_t *d = pub->payload.ptr;
    uint32_t run, from;
    uint64_t seq, sent_at;
    struct track *t;

    if (pub->payload.len < MSG_HDR) {
        st.foreign++;
        return;
    }
    memcpy(&run, d, 4);
    memcpy(&from, d + 4, 4);
    memcpy(&seq, d + 8, 8);
    memcpy(&sent_at, d + 16, 8);
    if (run != run_id || from >= (uint32_t)opt.pubs) {
        st.foreign++;
        return;
    }
    t = &c->track[from];
    if (seq >= t->hi) {
        if (seq - t->hi >= TRACK_BITS)
            memset(t->bits, 0, sizeof t->bits);
        else
            for (uint64_t s = t->hi; s < seq; s++)
                bit_clear(t->bits, (uint32_t)(s % TRACK_BITS));
        bit_set(t->bits, (uint32_t)(seq % TRACK_BITS));
        st.pub_hi_sum[from] += seq + 1 - t->hi;
        t->hi = seq + 1;
    } else if (t->hi - seq > TRACK_BITS || bit_test(t->bits, (uint32_t)(seq % TRACK_BITS))) {
        /* Seen before, or too old to tell: counted as a duplicate either way. */
        t->dups++;
        st.dups++;
        return;
    } else {
        bit_set(t->bits, (uint32_t)(seq % TRACK_BITS));
        st.reordered++;
    }
    t->uniq++;
    st.uniq++;
    st.last_progress++;
    if (now >= sent_at)
        bench_hist_add(&st.lat, now - sent_at);
    st.last_delivery_ns = now;
}

static void pub_acked(struct conn *c, uint16_t id, uint64_t *bits)
{
    if (!bits || !bit_test(bits, id)) {
        conn_fail(c, "acknowledgement for packet id %u, which is not in flight", id);
        return;
    }
    bit_clear(bits, id);
    c->unacked--;
    st.unacked_total--;
    st.acks++;
    st.last_progress++;
}

/* Returns -1 when the connection was closed. */
static int handle_packet(struct conn *c, const struct mote_packet *p, uint64_t now)
{
    struct mote_prop prop;
    switch (p->type) {
    case MOTE_CONNACK:
        if (c->state != ST_CONNACK)
            break;
        if (p->u.connack.reason != 0) {
            conn_fail(c, "the broker refused the connection: %s",
                      mote_reason_name(opt.version, MOTE_CONNACK, p->u.connack.reason));
            return -1;
        }
        if (opt.version == MOTE_V5 &&
            mote_props_find(&p->u.connack.props, MOTE_PROP_RECEIVE_MAXIMUM, &prop))
            c->recv_max = prop.v.num;
        if (c->role == ROLE_SUB) {
            send_subscribe(c);
            c->state = ST_SUBACK;
        } else {
            conn_ready(c, now);
        }
        return 0;
    case MOTE_SUBACK:
        if (c->state != ST_SUBACK)
            break;
        if (p->u.suback.count < 1 || p->u.suback.codes[0] >= 0x80) {
            conn_fail(c, "the broker refused the subscription: %s",
                      p->u.suback.count
                          ? mote_reason_name(opt.version, MOTE_SUBACK, p->u.suback.codes[0])
                          : "no reason code");
            return -1;
        }
        conn_ready(c, now);
        return 0;
    case MOTE_PUBLISH:
        if (c->role != ROLE_SUB)
            break;
        on_message(&p->u.publish, c, now);
        if (p->u.publish.qos == 1)
            send_ack(c, MOTE_PUBACK, p->u.publish.packet_id);
        else if (p->u.publish.qos == 2)
            send_ack(c, MOTE_PUBREC, p->u.publish.packet_id);
        return 0;
    case MOTE_PUBACK:
        if (c->role != ROLE_PUB || opt.qos != 1)
            break;
        pub_acked(c, p->u.ack.packet_id, c->await_ack);
        return c->state == ST_CLOSED ? -1 : 0;
    case MOTE_PUBREC:
        if (c->role != ROLE_PUB || opt.qos != 2 || !bit_test(c->await_ack, p->u.ack.packet_id))
            break;
        bit_clear(c->await_ack, p->u.ack.packet_id);
        bit_set(c->await_comp, p->u.ack.packet_id);
        send_ack(c, MOTE_PUBREL, p->u.ack.packet_id);
        return 0;
    case MOTE_PUBCOMP:
        if (c->role != ROLE_PUB || opt.qos != 2)
            break;
        pub_acked(c, p->u.ack.packet_id, c->await_comp);
        return c->state == ST_CLOSED ? -1 : 0;
    case MOTE_PUBREL:
        if (c->role != ROLE_SUB)
            break;
        send_ack(c, MOTE_PUBCOMP, p->u.ack.packet_id);
        return 0;
    case MOTE_PINGRESP:
        return 0;
    case MOTE_DISCONNECT:
        conn_fail(c, "the broker sent DISCONNECT: %s",
                  mote_reason_name(opt.version, MOTE_DISCONNECT, p->u.reason.reason));
        return -1;
    default:
        break;
    }
    conn_fail(c, "unexpected %s from the broker", mote_packet_name(p->type));
    return -1;
}

/* Frames and handles what is in the read buffer. Returns -1 when the connection was closed. */
static int process_input(struct conn *c, uint64_t now)
{
    size_t off = 0, need = 0;
    while (off < c->rlen) {
        struct mote_frame f;
        struct mote_packet p;
        int rc = mote_codec_frame(c->rbuf + off, c->rlen - off, MAX_PACKET, &f);
        if (rc == MOTE_NEED_MORE) {
            need = f.total;
            break;
        }
        if (rc == MOTE_OK)
            rc = mote_codec_decode(c->rbuf + off, f.total, opt.version, &p);
        if (rc != MOTE_OK) {
            conn_fail(c, "the broker sent a bad %s: %s (%s)", mote_packet_name(f.type),
                      mote_err_name(rc), mote_strerror(rc));
            return -1;
        }
        if (handle_packet(c, &p, now) < 0)
            return -1;
        off += f.total;
    }
    if (off) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    if (need > c->rcap) {
        c->rbuf = xrealloc(c->rbuf, need);
        c->rcap = need;
    }
    return 0;
}

static void conn_read(struct conn *c)
{
    size_t chunk = c->role == ROLE_SUB ? READ_CHUNK : c->role == ROLE_PUB ? READ_CHUNK / 4 : 512;
    c->more = 0;
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t n;
        uint64_t now;
        if (c->rcap - c->rlen < chunk / 2 || !c->rbuf) {
            size_t cap = c->rcap ? c->rcap : chunk;
            while (cap - c->rlen < chunk / 2)
                cap *= 2;
            c->rbuf = xrealloc(c->rbuf, cap);
            c->rcap = cap;
        }
        n = tp->recv(&c->link, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (n == BENCH_IO_AGAIN)
            break;
        if (n < 0 && c->state == ST_CLOSING) {
            /* DISCONNECT sent: however the broker closes (TLS: close_notify or not) is fine */
            conn_release(c);
            return;
        }
        if (n < 0) {
            conn_fail(c, "%s",
                      n == BENCH_IO_EOF ? "the broker closed the connection" : c->link.err);
            return;
        }
        now = now_ns();
        c->rlen += (size_t)n;
        if (process_input(c, now) < 0)
            return;
        if (i == READS_PER_EVENT - 1)
            mark_more(c);
    }
    if (!c->more && tp->pending(&c->link))
        mark_more(c);
    if (c->wlen > c->wpos)
        conn_flush(c, now_ns());
}

static void on_event(struct conn *c, uint32_t events)
{
    uint64_t now;
    if (c->state == ST_TCP) {
        int err = 0;
        socklen_t len = sizeof err;
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        getsockopt(c->link.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            conn_fail(c, "connect to %s:%d: %s", opt.host, opt.port, strerror(err));
            return;
        }
        if (tp->open(&c->link, c->link.fd) < 0) {
            conn_fail(c, "%s", c->link.err);
            return;
        }
        c->state = ST_HANDSHAKE;
    }
    if (c->state == ST_HANDSHAKE) {
        int rc = tp->handshake(&c->link);
        if (rc < 0) {
            conn_fail(c, "%s", c->link.err);
            return;
        }
        if (rc == 0) {
            set_out(c, c->link.want_write);
            return;
        }
        now = now_ns();
        if (opt.tls) {
            st.tls_handshakes++;
            st.tls_resumed += (uint64_t)c->link.resumed;
        }
        send_connect(c);
        c->state = ST_CONNACK;
        conn_flush(c, now);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_read(c);
    if (c->state != ST_CLOSED && (events & EPOLLOUT))
        conn_flush(c, now_ns());
}

/* Waits up to @timeout_ns for events and handles them. */
static void poll_events(uint64_t timeout_ns)
{
    struct epoll_event evs[256];
    struct timespec ts;
    int n;
    if (more_count)
        timeout_ns = 0;
    ts.tv_sec = (time_t)(timeout_ns / 1000000000ull);
    ts.tv_nsec = (long)(timeout_ns % 1000000000ull);
    n = epoll_pwait2(epfd, evs, 256, &ts, NULL);
    if (n < 0 && errno != EINTR)
        die("epoll_pwait2: %s", strerror(errno));
    for (int i = 0; i < n; i++)
        on_event(evs[i].data.ptr, evs[i].events);
    if (more_count) {
        size_t count = more_count;
        struct conn **list = xcalloc(count, sizeof *list);
        memcpy(list, more_list, count * sizeof *list);
        more_count = 0;
        for (size_t i = 0; i < count; i++)
            if (list[i]->more && list[i]->state != ST_CLOSED)
                conn_read(list[i]);
            else
                list[i]->more = 0;
        free(list);
    }
}

/* Keepalive pings, and connections stuck closing. Runs about once a second. */
static void housekeeping(uint64_t now)
{
    static uint64_t last;
    struct conn *sets[] = {pubs, subs, idles, churns};
    int counts[] = {opt.pubs, opt.subs, opt.idle, opt.connect_rate ? opt.connect_window : 0};
    uint64_t ping_ns = (uint64_t)opt.keepalive * 1000000000ull / 2;
    if (now - last < 1000000000ull)
        return;
    last = now;
    if (st.lat.count >= 100) {
        stall_ns = 10 * bench_hist_percentile(&st.lat, 50);
        stall_ns = stall_ns < STALL_MIN_NS   ? STALL_MIN_NS
                   : stall_ns > STALL_MAX_NS ? STALL_MAX_NS
                                             : stall_ns;
    }
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        for (int i = 0; i < counts[s]; i++) {
            struct conn *c = &sets[s][i];
            if (c->state == ST_READY && opt.keepalive && now - c->last_tx_ns > ping_ns) {
                send_simple(c, MOTE_PINGREQ);
                conn_flush(c, now);
            } else if (c->state == ST_CLOSING && now - c->closing_ns > CLOSE_WAIT_NS) {
                conn_release(c);
            } else if (c->state > ST_FREE && c->state < ST_READY &&
                       now - c->started_ns > SETUP_TIMEOUT_NS) {
                conn_fail(c, "no answer from the broker within %llu s",
                          (unsigned long long)(SETUP_TIMEOUT_NS / 1000000000ull));
            }
        }
    }
}

/* Opens @n connections of @role, at most connect_window at a time, and waits for all of them. */
static int open_all(struct conn *set, enum role role, int n)
{
    int started = 0;
    uint64_t deadline = now_ns() + SETUP_TIMEOUT_NS + (uint64_t)n * 10000000ull;
    while (st.ready[role] + st.failed[role] < n) {
        uint64_t now = now_ns();
        while (started < n && st.inprogress < opt.connect_window) {
            conn_start(&set[started], role, started, now);
            started++;
        }
        if (now > deadline) {
            note("timed out: %d of %d %s connections ready", st.ready[role], n, role_name[role]);
            return -1;
        }
        poll_events(10000000ull);
        housekeeping(now_ns());
    }
    return st.failed[role] ? -1 : 0;
}

/* Handles events for @ns nanoseconds (idle connections held, acks drained). */
static void hold(uint64_t ns)
{
    uint64_t end = now_ns() + ns, now;
    while ((now = now_ns()) < end) {
        uint64_t left = end - now;
        poll_events(left < 100000000ull ? left : 100000000ull);
        housekeeping(now_ns());
    }
}

/* ---------------------------------------------------------------------------------------------
 * Phases
 * ------------------------------------------------------------------------------------------- */

static double cpu_self_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

struct results {
    /* idle */
    int idle_ready;
    double idle_connect_s;
    struct broker_sample idle_before, idle_connected, idle_after;
    /* traffic */
    int traffic;
    double elapsed_s, send_s;
    struct broker_sample run_before, run_after;
    double self_cpu_s;
    uint64_t expected;
    /* churn */
    double churn_s;
    struct broker_sample churn_before, churn_after;
    double churn_self_cpu_s; /* all load generator processes */
    int churn_procs_ok;      /* processes that reported */
};

static void traffic(struct results *r)
{
    uint64_t t0, end, now, next_global = 0, drain_start, last_seen, last_change;
    double self0;
    const uint64_t duration_ns = (uint64_t)(opt.duration * 1e9);

    broker_sample(&r->run_before);
    self0 = cpu_self_s();
    t0 = now_ns();
    end = t0 + duration_ns;
    while ((now = now_ns()) < end) {
        uint64_t timeout = 1000000ull;
        if (opt.rate > 0) {
            /* Message g is due at t0 + g / rate and goes to publisher g mod pubs, so the
             * publishers take turns and each sends at rate / pubs, phases spread evenly. */
            uint64_t due = (uint64_t)((double)(now - t0) * opt.rate / 1e9) + 1;
            int budget = PACED_BUDGET;
            while (next_global < due && budget-- > 0) {
                struct conn *c = &pubs[next_global % (uint64_t)opt.pubs];
                if (c->state != ST_READY) {
                    st.paced_skipped++;
                    next_global++;
                    continue;
                }
                if (!can_send(c, now))
                    break;
                publish_one(c, now);
                next_global++;
            }
            flush_dirty(now);
            if (next_global >= due) {
                uint64_t at = t0 + (uint64_t)((double)next_global * 1e9 / opt.rate);
                timeout = at > now ? at - now : 0;
                if (timeout > 1000000ull)
                    timeout = 1000000ull;
            }
        } else {
            /* Having sent, look again at once: on these VMs a wake-up from epoll costs more
             * than an empty poll, and waiting halves what the broker gets to do. */
            int any = 0;
            for (int i = 0; i < opt.pubs; i++) {
                struct conn *c = &pubs[i];
                for (int k = 0; k < PUB_BATCH && can_send(c, now); k++) {
                    publish_one(c, now);
                    any = 1;
                }
            }
            flush_dirty(now);
            if (any)
                timeout = 0;
        }
        poll_events(timeout);
        housekeeping(now_ns());
    }
    r->send_s = (double)(now_ns() - t0) / 1e9;

    /* Drain: wait for what is in flight, until nothing moves for a while. */
    r->expected = st.sent * (uint64_t)opt.subs;
    drain_start = last_change = now_ns();
    last_seen = st.last_progress;
    while ((opt.subs && st.uniq < r->expected) || st.unacked_total) {
        now = now_ns();
        if (st.last_progress != last_seen) {
            last_seen = st.last_progress;
            last_change = now;
        }
        if (now - last_change > DRAIN_IDLE_NS || now - drain_start > DRAIN_MAX_NS)
            break;
        poll_events(1000000ull);
        housekeeping(now_ns());
    }
    now = now_ns();
    if (opt.subs && st.last_delivery_ns > t0)
        now = st.last_delivery_ns;
    r->elapsed_s = (double)(now - t0) / 1e9;
    r->self_cpu_s = cpu_self_s() - self0;
    broker_sample(&r->run_after);
    r->traffic = 1;
}

static void teardown(void);

/* What a churn process reports to the first one. */
struct churn_share {
    uint64_t done, failed, handshakes, resumed;
    double cpu_s;
    struct bench_hist lat;
};

/* Connect, CONNECT, CONNACK, DISCONNECT, close, until @end, connect_window at a time. Client ids
 * of process @proc start at proc << PROC_INDEX_SHIFT, so processes never take over each other. */
static void churn_loop(uint64_t end, int proc)
{
    uint64_t now;
    int next = proc << PROC_INDEX_SHIFT;
    while ((now = now_ns()) < end) {
        for (int i = 0; i < opt.connect_window; i++) {
            struct conn *c = &churns[i];
            if (c->state == ST_FREE || c->state == ST_CLOSED)
                conn_start(c, ROLE_CHURN, next++, now);
        }
        poll_events(1000000ull);
        housekeeping(now_ns());
    }
}

/* --tls-resume: one connection, not measured, whose session every later connection offers. */
static void prime_session(void)
{
    struct conn *c = &churns[0];
    struct bench_tls_info info;
    uint64_t deadline = now_ns() + SETUP_TIMEOUT_NS;

    conn_start(c, ROLE_CHURN, (MAX_PROCS << PROC_INDEX_SHIFT) - 1, now_ns());
    while (c->state != ST_CLOSED && now_ns() < deadline) {
        poll_events(10000000ull);
        housekeeping(now_ns());
    }
    conn_release(c);
    if (!st.churn_done || !bench_tls_info(&info) || !info.have_session)
        die("--tls-resume: the first connection %s", st.churn_done
                                                         ? "left no resumable session (the broker "
                                                           "issued no ticket and no session id)"
                                                         : "failed (see above)");
    st.churn_done = st.churn_failed = st.tls_handshakes = st.tls_resumed = 0;
    bench_hist_init(&st.connect_lat);
}

/* Forks a churn process: it runs until @end and writes its churn_share to the returned fd. */
static int churn_fork(int proc, uint64_t end, pid_t *pid)
{
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    fflush(NULL);
    *pid = fork();
    if (*pid < 0)
        die("fork: %s", strerror(errno));
    if (*pid == 0) {
        struct churn_share sh;
        double cpu0 = cpu_self_s();
        close(fd[0]);
        alarm((unsigned)opt.duration + 60);
        close(epfd); /* the parent's epoll instance: this process gets its own */
        epfd = epoll_create1(EPOLL_CLOEXEC);
        if (epfd < 0)
            die("epoll_create1: %s", strerror(errno));
        churn_loop(end, proc);
        memset(&sh, 0, sizeof sh);
        sh.done = st.churn_done;
        sh.failed = st.churn_failed;
        sh.handshakes = st.tls_handshakes;
        sh.resumed = st.tls_resumed;
        sh.cpu_s = cpu_self_s() - cpu0;
        sh.lat = st.connect_lat;
        if (write(fd[1], &sh, sizeof sh) != (ssize_t)sizeof sh)
            _exit(1);
        teardown(); /* churn connections only: --procs runs without other roles */
        _exit(0);
    }
    close(fd[1]);
    return fd[0];
}

/* Reads a churn process's share (until @deadline) and adds it in. Returns -1 if it sent none. */
static int churn_collect(int fd, uint64_t deadline, double *cpu_s)
{
    struct churn_share sh;
    size_t got = 0;
    while (got < sizeof sh) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint64_t now = now_ns();
        ssize_t n;
        if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000ull) + 1) <= 0)
            break;
        n = read(fd, (char *)&sh + got, sizeof sh - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got < sizeof sh)
        return -1;
    st.churn_done += sh.done;
    st.churn_failed += sh.failed;
    st.tls_handshakes += sh.handshakes;
    st.tls_resumed += sh.resumed;
    *cpu_s += sh.cpu_s;
    bench_hist_merge(&st.connect_lat, &sh.lat);
    return 0;
}

/* As many connections as the broker takes, for the duration, from opt.procs processes. */
static int churn(struct results *r)
{
    uint64_t t0, end;
    double cpu0;
    int fds[MAX_PROCS], failed = 0;
    pid_t pids[MAX_PROCS];

    if (opt.tls_resume)
        prime_session();
    broker_sample(&r->churn_before);
    cpu0 = cpu_self_s();
    t0 = now_ns();
    end = t0 + (uint64_t)(opt.duration * 1e9);
    for (int p = 1; p < opt.procs; p++)
        fds[p] = churn_fork(p, end, &pids[p]);
    churn_loop(end, 0);
    r->churn_self_cpu_s = cpu_self_s() - cpu0;
    r->churn_procs_ok = 1;
    for (int p = 1; p < opt.procs; p++) {
        if (churn_collect(fds[p], now_ns() + 30000000000ull, &r->churn_self_cpu_s) == 0)
            r->churn_procs_ok++;
        else
            failed = 1;
    }
    /* All processes stopped connecting: the broker's CPU over the same span. */
    r->churn_s = (double)(now_ns() - t0) / 1e9;
    broker_sample(&r->churn_after);
    for (int p = 1; p < opt.procs; p++) {
        int status;
        if (waitpid(pids[p], &status, 0) != pids[p] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            failed = 1;
    }
    if (failed)
        note("%d of %d churn processes did not report", opt.procs - r->churn_procs_ok, opt.procs);
    return failed ? -1 : 0;
}

/* Says goodbye on every connection, waits briefly for the broker to close, closes the rest. */
static void teardown(void)
{
    struct conn *sets[] = {pubs, subs, idles, churns};
    int counts[] = {opt.pubs, opt.subs, opt.idle, opt.connect_rate ? opt.connect_window : 0};
    uint64_t now = now_ns(), end = now + CLOSE_WAIT_NS;
    int closing = 0;
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++)
        for (int i = 0; i < counts[s]; i++) {
            struct conn *c = &sets[s][i];
            if (c->state == ST_READY) {
                send_simple(c, MOTE_DISCONNECT);
                c->state = ST_CLOSING;
                c->closing_ns = now;
                if (conn_flush(c, now) == 0)
                    closing++;
            } else if (c->state == ST_CLOSING) {
                closing++;
            }
        }
    while (closing && now_ns() < end) {
        poll_events(10000000ull);
        closing = 0;
        for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++)
            for (int i = 0; i < counts[s]; i++)
                closing += sets[s][i].state == ST_CLOSING;
    }
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++)
        for (int i = 0; i < counts[s]; i++)
            conn_release(&sets[s][i]);
}

/* ---------------------------------------------------------------------------------------------
 * Report
 * ------------------------------------------------------------------------------------------- */

static double per_s(double n, double s)
{
    return s > 0 ? n / s : 0;
}

static void report(const struct results *r, int failed)
{
    double us = 1e3;
    double lost = 0, cpu = 0, idle_cpu = 0, churn_cpu = 0, rss_per = 0, resumed_pct;
    struct bench_tls_info ti;
    const char *resume_kind = "none";
    int pubs_with_loss = 0, have_broker = r->run_before.ok && r->run_after.ok;
    uint64_t p50 = bench_hist_percentile(&st.lat, 50), p90 = bench_hist_percentile(&st.lat, 90),
             p99 = bench_hist_percentile(&st.lat, 99), p999 = bench_hist_percentile(&st.lat, 99.9);

    for (int p = 0; p < opt.pubs; p++) {
        uint64_t got = 0;
        for (int s = 0; s < opt.subs; s++)
            got += subs[s].track ? subs[s].track[p].uniq : 0;
        if (got < pubs[p].sent * (uint64_t)opt.subs) {
            lost += (double)(pubs[p].sent * (uint64_t)opt.subs - got);
            pubs_with_loss++;
        }
    }
    if (have_broker)
        cpu = r->run_after.cpu_s - r->run_before.cpu_s;
    if (r->idle_before.ok && r->idle_connected.ok)
        idle_cpu = r->idle_connected.cpu_s - r->idle_before.cpu_s;
    if (r->idle_before.ok && r->idle_after.ok && r->idle_ready)
        rss_per = (double)(r->idle_after.rss_kb - r->idle_before.rss_kb) * 1024.0 / r->idle_ready;
    if (r->churn_before.ok && r->churn_after.ok)
        churn_cpu = r->churn_after.cpu_s - r->churn_before.cpu_s;
    bench_tls_info(&ti);
    if (opt.tls_resume)
        resume_kind = opt.tls_version == 13 || !strcmp(ti.version, "TLSv1.3") ? "ticket (TLS 1.3)"
                      : ti.session_ticket                                     ? "ticket"
                                                                              : "session id";
    resumed_pct =
        st.tls_handshakes ? 100.0 * (double)st.tls_resumed / (double)st.tls_handshakes : 0.0;

    if (opt.json) {
        printf("{\"version\": %d, \"transport\": \"%s\", \"pubs\": %d, \"subs\": %d, \"qos\": %d, "
               "\"topic_mode\": \"%s\", \"size\": %zu, \"rate\": %.0f, \"duration_s\": %.3f, "
               "\"window\": %d, \"failed\": %d, \"conn_errors\": %" PRIu64,
               opt.version == MOTE_V5 ? 5 : 311, tp->name, opt.pubs, opt.subs, opt.qos,
               mode_name[opt.mode], opt.size, opt.rate, opt.duration, opt.window, failed,
               st.errors_logged);
        if (r->traffic)
            printf(", \"sent\": %" PRIu64 ", \"expected\": %" PRIu64 ", \"delivered\": %" PRIu64
                   ", \"lost\": %.0f, \"pubs_with_loss\": %d, \"duplicates\": %" PRIu64
                   ", \"reordered\": %" PRIu64 ", \"foreign\": %" PRIu64
                   ", \"window_stalls\": %" PRIu64 ", \"max_outstanding\": %" PRIu64
                   ", \"elapsed_s\": %.4f, \"sent_per_s\": %.1f"
                   ", \"delivered_per_s\": %.1f, \"lat_p50_us\": %.2f, \"lat_p90_us\": %.2f"
                   ", \"lat_p99_us\": %.2f, \"lat_p999_us\": %.2f, \"lat_max_us\": %.2f"
                   ", \"lat_mean_us\": %.2f, \"loadgen_cpu_pct\": %.1f",
                   st.sent, r->expected, st.uniq, lost, pubs_with_loss, st.dups, st.reordered,
                   st.foreign, st.stalls, st.max_outstanding, r->elapsed_s,
                   per_s((double)st.sent, r->send_s), per_s((double)st.uniq, r->elapsed_s),
                   (double)p50 / us, (double)p90 / us, (double)p99 / us, (double)p999 / us,
                   (double)st.lat.max / us,
                   st.lat.count ? st.lat.sum / (double)st.lat.count / us : 0.0,
                   100.0 * per_s(r->self_cpu_s, r->elapsed_s));
        if (r->traffic && have_broker)
            printf(", \"broker_cpu_s\": %.4f, \"broker_cpu_ticks_s\": %.2f, "
                   "\"broker_cpu_pct\": %.1f, \"msgs_per_cpu_s\": %.1f, \"broker_rss_kb\": %ld",
                   cpu, r->run_after.tick_cpu_s - r->run_before.tick_cpu_s,
                   100.0 * per_s(cpu, r->elapsed_s), per_s((double)st.uniq, cpu),
                   r->run_after.rss_kb);
        if (opt.idle)
            printf(", \"idle\": %d, \"idle_ready\": %d, \"idle_connect_s\": %.4f, "
                   "\"idle_connects_per_s\": %.1f, \"connect_p50_us\": %.1f, "
                   "\"connect_p99_us\": %.1f",
                   opt.idle, r->idle_ready, r->idle_connect_s,
                   per_s(r->idle_ready, r->idle_connect_s),
                   (double)bench_hist_percentile(&st.connect_lat, 50) / us,
                   (double)bench_hist_percentile(&st.connect_lat, 99) / us);
        if (opt.idle && r->idle_before.ok && r->idle_after.ok)
            printf(", \"broker_rss_before_kb\": %ld, \"broker_rss_after_kb\": %ld, "
                   "\"rss_per_idle_conn_bytes\": %.1f, \"broker_cpu_per_connect_us\": %.2f",
                   r->idle_before.rss_kb, r->idle_after.rss_kb, rss_per,
                   r->idle_ready ? idle_cpu * 1e6 / r->idle_ready : 0.0);
        if (opt.connect_rate)
            printf(", \"churn_connects\": %" PRIu64 ", \"churn_failed\": %" PRIu64
                   ", \"connects_per_s\": %.1f, \"connect_p50_us\": %.1f, \"connect_p99_us\": %.1f",
                   st.churn_done, st.churn_failed, per_s((double)st.churn_done, r->churn_s),
                   (double)bench_hist_percentile(&st.connect_lat, 50) / us,
                   (double)bench_hist_percentile(&st.connect_lat, 99) / us);
        if (opt.connect_rate && r->churn_before.ok && r->churn_after.ok)
            printf(", \"churn_broker_cpu_s\": %.4f, \"churn_broker_cpu_pct\": %.1f"
                   ", \"churn_broker_cpu_per_connect_us\": %.2f",
                   churn_cpu, 100.0 * per_s(churn_cpu, r->churn_s),
                   st.churn_done ? churn_cpu * 1e6 / (double)st.churn_done : 0.0);
        if (opt.connect_rate)
            printf(", \"procs\": %d, \"churn_loadgen_cpu_pct\": %.1f", opt.procs,
                   100.0 * per_s(r->churn_self_cpu_s, r->churn_s) / opt.procs);
        if (opt.tls)
            printf(", \"tls_version\": \"%s\", \"tls_cipher\": \"%s\", \"tls_resume\": \"%s\""
                   ", \"tls_pin\": %d, \"tls_handshakes\": %" PRIu64 ", \"tls_resumed\": %" PRIu64
                   ", \"tls_resumed_pct\": %.1f",
                   ti.version, ti.cipher, resume_kind, opt.tls_pin, st.tls_handshakes,
                   st.tls_resumed, resumed_pct);
        printf("}\n");
        return;
    }

    printf("loadgen: MQTT %s over %s to %s:%d, run %08" PRIx32 "\n",
           opt.version == MOTE_V5 ? "5.0" : "3.1.1", tp->name, opt.host, opt.port, run_id);
    if (opt.tls)
        printf("tls:       %s %s, %" PRIu64 " handshakes, %" PRIu64
               " resumed (%.1f%%), resumption offered: %s%s\n",
               ti.version, ti.cipher, st.tls_handshakes, st.tls_resumed, resumed_pct, resume_kind,
               opt.tls_pin ? ", leaf pinned after the first full verification" : "");
    if (opt.idle) {
        printf(
            "idle:      %d of %d connected in %.3f s (%.0f connects/s, p50 %.0f us, p99 %.0f us)\n",
            r->idle_ready, opt.idle, r->idle_connect_s, per_s(r->idle_ready, r->idle_connect_s),
            (double)bench_hist_percentile(&st.connect_lat, 50) / us,
            (double)bench_hist_percentile(&st.connect_lat, 99) / us);
        if (r->idle_before.ok && r->idle_after.ok && r->idle_ready)
            printf("           broker RSS %ld -> %ld KB: %.0f bytes per idle connection; "
                   "broker CPU %.1f us per connect\n",
                   r->idle_before.rss_kb, r->idle_after.rss_kb, rss_per,
                   r->idle_ready ? idle_cpu * 1e6 / r->idle_ready : 0.0);
    }
    if (r->traffic) {
        printf("workload:  %d pub -> %d sub, %s, QoS %d, %zu-byte payload, rate %s, window %d\n",
               opt.pubs, opt.subs, mode_name[opt.mode], opt.qos, opt.size,
               opt.rate > 0 ? "paced" : "unpaced", opt.window);
        if (opt.rate > 0)
            printf("           target %.0f msgs/s\n", opt.rate);
        printf("sent:      %" PRIu64 " in %.2f s (%.0f msgs/s)\n", st.sent, r->send_s,
               per_s((double)st.sent, r->send_s));
        printf("delivered: %" PRIu64 " of %" PRIu64 " in %.2f s: %.0f msgs/s\n", st.uniq,
               r->expected, r->elapsed_s, per_s((double)st.uniq, r->elapsed_s));
        printf("lost:      %.0f (%d publishers affected), duplicates %" PRIu64
               ", reordered %" PRIu64 ", window stalls %" PRIu64 ", most outstanding %" PRIu64 "\n",
               lost, pubs_with_loss, st.dups, st.reordered, st.stalls, st.max_outstanding);
        printf("latency:   p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
               (double)p50 / us, (double)p90 / us, (double)p99 / us, (double)p999 / us,
               (double)st.lat.max / us);
        if (have_broker)
            printf("broker:    %.3f s CPU (%.0f%%), %.0f msgs per CPU-second, RSS %ld KB\n", cpu,
                   100.0 * per_s(cpu, r->elapsed_s), per_s((double)st.uniq, cpu),
                   r->run_after.rss_kb);
        printf("loadgen:   %.0f%% CPU\n", 100.0 * per_s(r->self_cpu_s, r->elapsed_s));
    }
    if (opt.connect_rate) {
        printf("churn:     %" PRIu64 " connects in %.2f s: %.0f connects/s (%" PRIu64
               " failed), p50 %.0f us, p99 %.0f us\n",
               st.churn_done, r->churn_s, per_s((double)st.churn_done, r->churn_s), st.churn_failed,
               (double)bench_hist_percentile(&st.connect_lat, 50) / us,
               (double)bench_hist_percentile(&st.connect_lat, 99) / us);
        if (r->churn_before.ok && r->churn_after.ok)
            printf("           broker CPU %.1f us per connect (%.0f%% busy)\n",
                   st.churn_done ? churn_cpu * 1e6 / (double)st.churn_done : 0.0,
                   100.0 * per_s(churn_cpu, r->churn_s));
        printf("           loadgen: %d process%s, %.0f%% CPU each\n", opt.procs,
               opt.procs > 1 ? "es" : "",
               100.0 * per_s(r->churn_self_cpu_s, r->churn_s) / opt.procs);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Setup
 * ------------------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: loadgen [options]\n"
            "  -h HOST              broker address (127.0.0.1)\n"
            "  -p PORT              broker port (1883)\n"
            "  -V 311|5             MQTT version (311)\n"
            "  --pubs N             publishers (1; 0 with --idle or --connect-rate)\n"
            "  --subs M             subscribers (1; 0 with --idle or --connect-rate)\n"
            "  --qos 0|1|2          QoS of publications and subscriptions (0)\n"
            "  --topic-mode MODE    fanin: pub i -> in/i, subs on in/+ (default)\n"
            "                       fanout: all on one topic\n"
            "                       fleet: pub i -> fleet/i/telemetry, subs on fleet/+/telemetry;\n"
            "                       rate defaults to 1 msg/s per publisher\n"
            "  --size BYTES         payload size, at least %d (64)\n"
            "  --rate MSGS_PER_S    total publish rate, 0 = as fast as the window allows (0)\n"
            "  --window N           messages in flight per publisher, end to end (100)\n"
            "  --duration SECONDS   length of the publish phase, at most %.0f (10)\n"
            "  --idle N             open N idle connections first and hold them\n"
            "  --connect-rate       connect/CONNECT/CONNACK/DISCONNECT churn for the duration\n"
            "  --connect-window N   connections being set up at once (64)\n"
            "  --keepalive SECONDS  keep alive sent in CONNECT (60)\n"
            "  --broker-pid PID     read the broker's CPU time and RSS from /proc\n"
            "  --tls --cafile FILE  TLS, verifying the broker against FILE\n"
            "  --tls-version 1.2|1.3  only this TLS version (default: the broker's choice)\n"
            "  --tls-resume         offer the session of the first connection on every new one\n"
            "                       (TLS 1.2: ticket, or session id with --tls-no-ticket;\n"
            "                       TLS 1.3: ticket); the first connection is not measured\n"
            "  --tls-no-ticket      do not ask for session tickets\n"
            "  --tls-pin            verify the first chain in full, then accept that same leaf\n"
            "                       without verifying the chain again (saves the load\n"
            "                       generator one ECDSA verification per handshake)\n"
            "  --procs N            --connect-rate from N processes (1)\n"
            "  --persistent-subs    subscribers keep their session (clean session 0; 5.0:\n"
            "                       session expiry 3600 s), so a broker with persistence stores\n"
            "                       what it queues and sends them\n"
            "  --json               one JSON object on stdout\n"
            "  --free-port          print a free TCP port on 127.0.0.1 and exit\n"
            "  --help\n",
            MSG_HDR, MAX_DURATION_S);
}

static long parse_long(const char *s, const char *what, long lo, long hi)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        die("%s must be an integer from %ld to %ld, not '%s'", what, lo, hi, s);
    return v;
}

static double parse_double(const char *s, const char *what, double lo, double hi)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= lo && v <= hi))
        die("%s must be a number from %g to %g, not '%s'", what, lo, hi, s);
    return v;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        die("cannot find a free port: %s", strerror(errno));
    printf("%d\n", ntohs(a.sin_port));
    close(fd);
    return 0;
}

static void parse_options(int argc, char **argv)
{
    enum {
        O_PUBS = 256,
        O_SUBS,
        O_QOS,
        O_MODE,
        O_SIZE,
        O_RATE,
        O_DURATION,
        O_IDLE,
        O_CONNECT_RATE,
        O_JSON,
        O_WINDOW,
        O_KEEPALIVE,
        O_CONNECT_WINDOW,
        O_BROKER_PID,
        O_TLS,
        O_CAFILE,
        O_TLS_VERSION,
        O_TLS_RESUME,
        O_TLS_NO_TICKET,
        O_TLS_PIN,
        O_PERSISTENT_SUBS,
        O_PROCS,
        O_FREE_PORT,
        O_HELP,
    };
    static const struct option longs[] = {
        {"pubs", required_argument, NULL, O_PUBS},
        {"subs", required_argument, NULL, O_SUBS},
        {"qos", required_argument, NULL, O_QOS},
        {"topic-mode", required_argument, NULL, O_MODE},
        {"size", required_argument, NULL, O_SIZE},
        {"rate", required_argument, NULL, O_RATE},
        {"duration", required_argument, NULL, O_DURATION},
        {"idle", required_argument, NULL, O_IDLE},
        {"connect-rate", no_argument, NULL, O_CONNECT_RATE},
        {"json", no_argument, NULL, O_JSON},
        {"window", required_argument, NULL, O_WINDOW},
        {"keepalive", required_argument, NULL, O_KEEPALIVE},
        {"connect-window", required_argument, NULL, O_CONNECT_WINDOW},
        {"broker-pid", required_argument, NULL, O_BROKER_PID},
        {"tls", no_argument, NULL, O_TLS},
        {"cafile", required_argument, NULL, O_CAFILE},
        {"tls-version", required_argument, NULL, O_TLS_VERSION},
        {"tls-resume", no_argument, NULL, O_TLS_RESUME},
        {"tls-no-ticket", no_argument, NULL, O_TLS_NO_TICKET},
        {"tls-pin", no_argument, NULL, O_TLS_PIN},
        {"procs", required_argument, NULL, O_PROCS},
        {"persistent-subs", no_argument, NULL, O_PERSISTENT_SUBS},
        {"free-port", no_argument, NULL, O_FREE_PORT},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h:p:V:", longs, NULL)) != -1) {
        switch (c) {
        case 'h':
            opt.host = optarg;
            break;
        case 'p':
            opt.port = (int)parse_long(optarg, "-p", 1, 65535);
            break;
        case 'V':
            if (!strcmp(optarg, "311") || !strcmp(optarg, "4"))
                opt.version = MOTE_V311;
            else if (!strcmp(optarg, "5"))
                opt.version = MOTE_V5;
            else
                die("-V must be 311 or 5, not '%s'", optarg);
            break;
        case O_PUBS:
            opt.pubs = (int)parse_long(optarg, "--pubs", 0, 100000);
            break;
        case O_SUBS:
            opt.subs = (int)parse_long(optarg, "--subs", 0, 100000);
            break;
        case O_QOS:
            opt.qos = (int)parse_long(optarg, "--qos", 0, 2);
            break;
        case O_MODE:
            if (!strcmp(optarg, "fanin"))
                opt.mode = MODE_FANIN;
            else if (!strcmp(optarg, "fanout"))
                opt.mode = MODE_FANOUT;
            else if (!strcmp(optarg, "fleet"))
                opt.mode = MODE_FLEET;
            else
                die("--topic-mode must be fanin, fanout or fleet, not '%s'", optarg);
            break;
        case O_SIZE:
            opt.size = (size_t)parse_long(optarg, "--size", 0, MAX_PAYLOAD);
            break;
        case O_RATE:
            opt.rate = parse_double(optarg, "--rate", 0, 1e9);
            opt.rate_given = 1;
            break;
        case O_DURATION:
            opt.duration = parse_double(optarg, "--duration", 0.01, MAX_DURATION_S);
            break;
        case O_IDLE:
            opt.idle = (int)parse_long(optarg, "--idle", 0, 1000000);
            break;
        case O_CONNECT_RATE:
            opt.connect_rate = 1;
            break;
        case O_JSON:
            opt.json = 1;
            break;
        case O_WINDOW:
            opt.window = (int)parse_long(optarg, "--window", 1, 65000);
            break;
        case O_KEEPALIVE:
            opt.keepalive = (int)parse_long(optarg, "--keepalive", 0, 65535);
            break;
        case O_CONNECT_WINDOW:
            opt.connect_window = (int)parse_long(optarg, "--connect-window", 1, 100000);
            break;
        case O_BROKER_PID:
            opt.broker_pid = parse_long(optarg, "--broker-pid", 1, 1L << 30);
            break;
        case O_TLS:
            opt.tls = 1;
            break;
        case O_CAFILE:
            opt.cafile = optarg;
            break;
        case O_TLS_VERSION:
            if (!strcmp(optarg, "1.2"))
                opt.tls_version = 12;
            else if (!strcmp(optarg, "1.3"))
                opt.tls_version = 13;
            else
                die("--tls-version must be 1.2 or 1.3, not '%s'", optarg);
            break;
        case O_TLS_RESUME:
            opt.tls_resume = 1;
            break;
        case O_TLS_NO_TICKET:
            opt.tls_no_ticket = 1;
            break;
        case O_TLS_PIN:
            opt.tls_pin = 1;
            break;
        case O_PERSISTENT_SUBS:
            opt.persistent_subs = 1;
            break;
        case O_PROCS:
            opt.procs = (int)parse_long(optarg, "--procs", 1, MAX_PROCS);
            break;
        case O_FREE_PORT:
            exit(free_port());
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind < argc)
        die("unexpected argument '%s' (see --help)", argv[optind]);
    if (opt.pubs < 0)
        opt.pubs = opt.idle || opt.connect_rate ? 0 : 1;
    if (opt.subs < 0)
        opt.subs = opt.idle || opt.connect_rate ? 0 : 1;
    if (opt.size < MSG_HDR) {
        note("--size %zu is below the %d-byte sequence/timestamp header: using %d", opt.size,
             MSG_HDR, MSG_HDR);
        opt.size = MSG_HDR;
    }
    if (opt.mode == MODE_FLEET && !opt.rate_given)
        opt.rate = opt.pubs;
    if (!opt.pubs && !opt.idle && !opt.connect_rate)
        die("nothing to do: give --pubs, --idle or --connect-rate");
    if (opt.procs > 1 && (!opt.connect_rate || opt.pubs || opt.subs || opt.idle))
        die("--procs is for --connect-rate alone (no --pubs, --subs or --idle)");
    if (!opt.tls && (opt.tls_version || opt.tls_resume || opt.tls_no_ticket || opt.tls_pin))
        die("--tls-version, --tls-resume, --tls-no-ticket and --tls-pin need --tls");
}

static void raise_nofile(rlim_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
        return;
    if (rl.rlim_max < need) {
        struct rlimit want = {need, need};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            return;
        note("need %llu open files but the hard limit is %llu: connections past it will fail",
             (unsigned long long)need, (unsigned long long)rl.rlim_max);
    }
    rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void resolve(void)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    char port[8];
    int rc;
    snprintf(port, sizeof port, "%d", opt.port);
    rc = getaddrinfo(opt.host, port, &hints, &res);
    if (rc)
        die("cannot resolve %s: %s", opt.host, gai_strerror(rc));
    memcpy(&peer, res->ai_addr, res->ai_addrlen);
    peer_len = res->ai_addrlen;
    freeaddrinfo(res);
}

int main(int argc, char **argv)
{
    struct results r;
    int failed = 0;
    char err[200];

    parse_options(argc, argv);
    memset(&r, 0, sizeof r);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_watchdog);
    /* Setup, idle connects, traffic, drain, churn and teardown are each bounded; this is the
     * backstop should one of them not be. */
    alarm((unsigned)(opt.duration * 2 + 120 + (opt.idle + opt.pubs + opt.subs) / 100));
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* pacing at 10k msgs/s needs finer wakeups */

    raise_nofile((rlim_t)opt.idle + (rlim_t)opt.pubs + (rlim_t)opt.subs +
                 (rlim_t)opt.connect_window + 64);
    resolve();
    if (opt.tls) {
        struct bench_tls_options o = {.cafile = opt.cafile,
                                      .host = opt.host,
                                      .version = opt.tls_version,
                                      .resume = opt.tls_resume,
                                      .no_ticket = opt.tls_no_ticket,
                                      .pin = opt.tls_pin};
        tp = bench_transport_tls(&o, err, sizeof err);
        if (!tp)
            die("%s", err);
    }
    if (opt.broker_pid) {
        if (clock_getcpuclockid((pid_t)opt.broker_pid, &broker_clock) == 0)
            broker_clock_ok = 1;
        broker_sample(&r.run_before);
        if (!r.run_before.ok)
            die("cannot read /proc/%ld/stat: is the broker running?", opt.broker_pid);
    }
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        run_id = (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 20) ^ ((long)getpid() << 8));
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1: %s", strerror(errno));
    bench_hist_init(&st.lat);
    bench_hist_init(&st.connect_lat);

    pubs = xcalloc((size_t)opt.pubs, sizeof *pubs);
    subs = xcalloc((size_t)opt.subs, sizeof *subs);
    idles = xcalloc((size_t)opt.idle, sizeof *idles);
    churns = xcalloc((size_t)opt.connect_window, sizeof *churns);
    dirty_list = xcalloc((size_t)opt.pubs, sizeof *dirty_list);
    st.pub_hi_sum = xcalloc((size_t)opt.pubs, sizeof *st.pub_hi_sum);
    for (int i = 0; i < opt.pubs; i++) {
        struct conn *c = &pubs[i];
        struct mote_packet p = {.type = MOTE_PUBLISH};
        size_t size;
        c->index = i;
        c->next_id = 1;
        c->payload = xcalloc(opt.size, 1);
        for (size_t k = MSG_HDR; k < opt.size; k++)
            c->payload[k] = (uint8_t)('a' + k % 26);
        set_topic(c);
        if (opt.qos) {
            c->await_ack = xcalloc(65536 / 64, sizeof(uint64_t));
            c->await_comp = xcalloc(65536 / 64, sizeof(uint64_t));
        }
        p.u.publish.qos = (uint8_t)opt.qos;
        p.u.publish.packet_id = 1;
        p.u.publish.topic = (struct mote_slice){(const uint8_t *)c->topic, c->topic_len};
        p.u.publish.payload = (struct mote_slice){c->payload, opt.size};
        if (mote_codec_size(&p, opt.version, &size) != MOTE_OK ||
            size > c->topic_len + opt.size + 16)
            die("cannot size a PUBLISH to %s", c->topic);
    }
    for (int i = 0; i < opt.subs; i++)
        subs[i].track = xcalloc((size_t)opt.pubs, sizeof(struct track));

    if (opt.idle) {
        uint64_t t = now_ns();
        broker_sample(&r.idle_before);
        if (open_all(idles, ROLE_IDLE, opt.idle) < 0)
            failed = 1;
        r.idle_ready = st.ready[ROLE_IDLE];
        r.idle_connect_s = (double)(now_ns() - t) / 1e9;
        broker_sample(&r.idle_connected);
        hold(500000000ull); /* let the broker settle before reading its RSS */
        broker_sample(&r.idle_after);
    }
    if (!failed && opt.subs && open_all(subs, ROLE_SUB, opt.subs) < 0)
        failed = 1;
    if (!failed && opt.pubs && open_all(pubs, ROLE_PUB, opt.pubs) < 0)
        failed = 1;
    if (failed) {
        note("setup failed: %d of %d subscribers and %d of %d publishers ready", st.ready[ROLE_SUB],
             opt.subs, st.ready[ROLE_PUB], opt.pubs);
    } else {
        if (opt.pubs)
            traffic(&r);
        if (opt.connect_rate && churn(&r) < 0)
            failed = 1;
        if (opt.idle && !opt.pubs && !opt.connect_rate)
            hold((uint64_t)(opt.duration * 1e9));
        /* A publisher, subscriber or idle connection lost on the way spoils the figures. */
        if (st.failed[ROLE_PUB] || st.failed[ROLE_SUB] || st.failed[ROLE_IDLE]) {
            note("%d publisher, %d subscriber and %d idle connections failed during the run",
                 st.failed[ROLE_PUB], st.failed[ROLE_SUB], st.failed[ROLE_IDLE]);
            failed = 1;
        }
    }
    teardown();
    report(&r, failed);
    return failed ? 1 : 0;
}
