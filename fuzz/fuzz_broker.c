/*
 * fuzz/fuzz_broker.c - libFuzzer harness for moted's input path: a live broker (one or two
 * workers, driven turn by turn from this thread) with up to four clients on socketpairs, each
 * input a script of connects, writes, closes, clock jumps and memory limits. What the broker sends
 * back must be well-formed MQTT that keeps the server's rules, its own lists and counters must
 * agree, it must settle after every step, and once it is torn down every byte it counted and every
 * descriptor it was given must be back. Input format and checks: fuzz/README.md.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "fuzz.h"

#define SLOTS 4
#define MAX_WORKERS 2
#define MAX_OPENS 256      /* connections per input; later opens are ignored */
#define SETSIZE 1024       /* descriptors a worker's loop can watch */
#define MAX_ROUNDS 20000   /* turns per worker before "the broker does not settle" */
#define BROKER_SNDBUF 2048 /* small, so the broker meets short writes and EPOLLOUT */

/* Script operations: bits 2-4 of an op byte; bits 0-1 pick the client slot, bits 5-7 are flags. */
enum op {
    OP_OPEN,   /* new connection in the slot, accepted by worker (flag & 1) */
    OP_WRITE,  /* 1-byte length, then the bytes; the broker runs unless flag & 1 (hold) */
    OP_WRITE2, /* the same with a 2-byte big-endian length */
    OP_CLOSE,  /* flag & 1: close outright; else send EOF and read what is left */
    OP_PAUSE,  /* flag & 1: stop reading the slot (the broker's writes back up); else resume */
    OP_TIME,   /* 1 byte: move the clock forward (timers, keep alive, expiry), see time_steps */
    OP_RUN,    /* let the broker settle (after held writes); flag > 0: then limit its memory to
                  what it uses now plus budget_steps[flag] (7: no limit) */
    OP_STOP,   /* shut the broker down now, as SIGTERM does, whatever is in flight; flag & 1:
                  after one turn of each worker, as when a turn was under way */
};

static const size_t budget_steps[8] = {0, 0, 64, 256, 1024, 4096, 16384, 0};
static const uint64_t time_steps[8] = {1000,   5000,    11000,    60000,
                                       600000, 3600000, 86400000, UINT64_MAX};

struct client {
    int fd;          /* our end, -1 when the slot is free */
    int paused;      /* not reading */
    int shut;        /* we sent EOF, and read until the broker closes */
    int eof;         /* the broker closed its end */
    uint8_t version; /* from the CONNACK: MOTE_V311 or MOTE_V5; 0 before it */
    int finished;    /* a refusing CONNACK or a DISCONNECT came: nothing may follow */
    uint8_t *in;     /* what the broker sent that is not a whole packet yet */
    size_t in_len, in_cap;

    /*
     * What we sent, read as the broker reads it: the CONNECT's limits, and the acknowledgements
     * that free packet ids. An id counts as free from the moment we write its acknowledgement,
     * before the broker reads it, so the checks below can only under-count the broker's
     * outstanding messages, never over-count them. Once our stream stops decoding (the broker
     * then closes, or reads it differently), `untracked` turns those checks off.
     */
    uint8_t *out; /* what we sent that is not a whole packet yet */
    size_t out_len, out_cap;
    int connect_seen, untracked;
    uint8_t client_version; /* from our CONNECT */
    uint32_t max_packet;    /* 5.0 Maximum Packet Size we asked for, 0: none */
    uint32_t receive_max;   /* 5.0 Receive Maximum we asked for, 0: 3.x (no such limit) */
    uint8_t *in_use;        /* bitmap of packet ids of QoS 1/2 PUBLISHes not yet acknowledged */
    uint32_t in_use_count;
};

static struct moted_config configs[8];
static struct moted_listener_rt listener;
static struct moted_broker broker;
static struct moted_worker workers[MAX_WORKERS];
static struct client clients[SLOTS];
static int fds_seen[2 * MAX_OPENS]; /* every descriptor handed out, for the leak check */
static size_t fds_count, opens;
static const uint8_t *in_pos, *in_end;

static int verbose(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("MOTE_FUZZ_VERBOSE") != NULL;
    return on;
}

/*
 * MOTE_FUZZ_SKIP="max-packet receive-max" turns off the checks named, so fuzzing can go past a
 * fault already known (kept in fuzz/crashes/broker-*.bin) until it is fixed.
 */
static int skipped(const char *check)
{
    const char *skip = getenv("MOTE_FUZZ_SKIP");
    return skip && strstr(skip, check);
}

#define SAY(...)                                                                                   \
    do {                                                                                           \
        if (verbose())                                                                             \
            fprintf(stderr, "fuzz_broker: " __VA_ARGS__);                                          \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * Configurations: header bits 1-3 pick one. Each makes a different set of limits reachable.
 * ------------------------------------------------------------------------------------------- */

static void make_configs(void)
{
    char err[256];
    for (int i = 0; i < 8; i++) {
        struct moted_config *c = &configs[i];
        moted__config_defaults(c);
        FUZZ_CHECK(moted__config_finish(c, err, sizeof err) == 0, "config: %s", err);
        c->log_type = verbose() ? MOTED_LOG_ALL : 0;
        c->log_dest = MOTED_LOGDEST_STDERR;
        c->allow_anonymous = 1;
        switch (i) {
        case 1: /* small windows and queues, QoS 0 queued, keep alive capped */
            c->max_inflight_messages = 2;
            c->max_queued_messages = 4;
            c->queue_qos0_messages = 1;
            c->max_keepalive = 30;
            break;
        case 2:
            c->max_qos = 1;
            c->retain_available = 0;
            c->upgrade_outgoing_qos = 1;
            break;
        case 3: /* sizes and counts */
            c->max_packet_size = 200;
            c->message_size_limit = 32;
            c->max_topic_levels = 4;
            c->max_subscriptions = 3;
            break;
        case 4:
            c->allow_zero_length_clientid = 0;
            c->persistent_client_expiration = 100;
            c->max_queued_messages = 0;
            c->max_queued_bytes = 100;
            break;
        case 5: /* every CONNECT refused */
            c->allow_anonymous = 0;
            break;
        case 6:
            c->max_qos = 0;
            c->max_inflight_messages = 1;
            c->max_queued_messages = 1;
            c->max_keepalive = 0;
            break;
        case 7: /* no limits */
            c->max_inflight_messages = 0;
            c->max_queued_messages = 0;
            c->upgrade_outgoing_qos = 1;
            c->queue_qos0_messages = 1;
            break;
        }
    }
    moted__log_setup(&configs[0]);
}

/* ---------------------------------------------------------------------------------------------
 * What the broker sends: whole packets, decodable in the version its CONNACK shows, only types a
 * server sends, CONNACK first and once, nothing after a refusal or a DISCONNECT.
 * ------------------------------------------------------------------------------------------- */

static void dump(const char *what, const uint8_t *p, size_t n)
{
    fprintf(stderr, "fuzz_broker: %s (%zu bytes):", what, n);
    for (size_t i = 0; i < n && i < 512; i++)
        fprintf(stderr, " %02x", p[i]);
    fputc('\n', stderr);
}

static void check_server_packet(struct client *cl, int slot, const uint8_t *pkt,
                                const struct mote_frame *f)
{
    struct mote_packet p;
    uint8_t *copy = fuzz_copy(pkt, f->total);

    if (!cl->version) {
        if (f->type != MOTE_CONNACK)
            dump("first packet", pkt, f->total);
        FUZZ_CHECK(f->type == MOTE_CONNACK,
                   "slot %d: first packet from the broker is %s, not CONNACK (MQTT-3.2.0-1)", slot,
                   mote_packet_name(f->type));
        /* 3.1.1 has exactly 2 bytes after the header; 5.0 adds a property length. */
        cl->version = f->remaining == 2 ? MOTE_V311 : MOTE_V5;
    } else if (f->type == MOTE_CONNACK) {
        dump("second CONNACK", pkt, f->total);
        FUZZ_CHECK(0, "slot %d: a second CONNACK on one connection", slot);
    }
    if (cl->finished)
        dump("late packet", pkt, f->total);
    FUZZ_CHECK(!cl->finished, "slot %d: %s after a refusing CONNACK or a DISCONNECT", slot,
               mote_packet_name(f->type));

    int rc = mote_codec_decode(copy, f->total, cl->version, &p);
    if (rc != MOTE_OK)
        dump("undecodable packet", pkt, f->total);
    FUZZ_CHECK(rc == MOTE_OK, "slot %d: the broker sent a v%u %s that does not decode: %s", slot,
               cl->version, mote_packet_name(f->type), mote_err_name(rc));
    SAY("slot %d <- %s (%zu bytes)\n", slot, mote_packet_name(p.type), f->total);
    static int skip_size = -1, skip_window = -1;
    if (skip_size < 0) {
        skip_size = skipped("max-packet");
        skip_window = skipped("receive-max");
    }
    FUZZ_CHECK(!cl->max_packet || f->total <= cl->max_packet ||
                   (skip_size && p.type != MOTE_PUBLISH),
               "slot %d: the broker sent a %s of %zu bytes to a client whose Maximum Packet Size "
               "is %u (MQTT-3.1.2-24)",
               slot, mote_packet_name(p.type), f->total, cl->max_packet);
    if (p.type == MOTE_PUBLISH && p.u.publish.qos && !cl->untracked) {
        uint16_t id = p.u.publish.packet_id;
        int used = cl->in_use[id >> 3] >> (id & 7) & 1;
        FUZZ_CHECK(
            !used || p.u.publish.dup,
            "slot %d: the broker sent a new QoS %u PUBLISH with packet id %u, which is still "
            "in flight (MQTT-2.2.1-3)",
            slot, p.u.publish.qos, id);
        if (!used) {
            cl->in_use[id >> 3] |= (uint8_t)(1u << (id & 7));
            cl->in_use_count++;
        }
        FUZZ_CHECK(!cl->receive_max || cl->in_use_count <= cl->receive_max || skip_window,
                   "slot %d: %u QoS 1/2 PUBLISHes unacknowledged, the client's Receive Maximum "
                   "is %u (MQTT-3.3.4-9)",
                   slot, cl->in_use_count, cl->receive_max);
    }
    switch (p.type) {
    case MOTE_CONNACK:
        cl->finished = p.u.connack.reason != 0;
        break;
    case MOTE_DISCONNECT:
        FUZZ_CHECK(cl->version == MOTE_V5, "slot %d: DISCONNECT sent to a 3.1.1 client", slot);
        cl->finished = 1;
        break;
    case MOTE_PUBLISH:
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP:
    case MOTE_SUBACK:
    case MOTE_UNSUBACK:
    case MOTE_PINGRESP:
        break;
    default:
        FUZZ_CHECK(0, "slot %d: the broker sent %s, which only a client sends", slot,
                   mote_packet_name(p.type));
    }
    free(copy);
}

static void take_output(struct client *cl, int slot, const uint8_t *buf, size_t n)
{
    if (cl->in_len + n > cl->in_cap) {
        size_t cap = cl->in_cap ? cl->in_cap : 4096;
        while (cap < cl->in_len + n)
            cap *= 2;
        cl->in = realloc(cl->in, cap);
        FUZZ_CHECK(cl->in != NULL, "out of memory");
        cl->in_cap = cap;
    }
    memcpy(cl->in + cl->in_len, buf, n);
    cl->in_len += n;

    size_t off = 0;
    while (off < cl->in_len) {
        struct mote_frame f;
        int rc = mote_codec_frame(cl->in + off, cl->in_len - off, 0, &f);
        if (rc == MOTE_NEED_MORE)
            break;
        if (rc != MOTE_OK)
            dump("unframeable output", cl->in + off, cl->in_len - off);
        FUZZ_CHECK(rc == MOTE_OK, "slot %d: the broker sent bytes that do not frame: %s", slot,
                   mote_err_name(rc));
        check_server_packet(cl, slot, cl->in + off, &f);
        off += f.total;
    }
    memmove(cl->in, cl->in + off, cl->in_len - off);
    cl->in_len -= off;
}

/* Follows what slot @p cl sends, as the broker will read it (see struct client). */
static void take_input(struct client *cl, const uint8_t *buf, size_t n)
{
    if (cl->untracked)
        return;
    if (cl->out_len + n > cl->out_cap) {
        size_t cap = cl->out_cap ? cl->out_cap : 4096;
        while (cap < cl->out_len + n)
            cap *= 2;
        cl->out = realloc(cl->out, cap);
        FUZZ_CHECK(cl->out != NULL, "out of memory");
        cl->out_cap = cap;
    }
    memcpy(cl->out + cl->out_len, buf, n);
    cl->out_len += n;

    size_t off = 0;
    while (off < cl->out_len && !cl->untracked) {
        struct mote_frame f;
        struct mote_packet p;
        struct mote_prop prop;
        int rc = mote_codec_frame(cl->out + off, cl->out_len - off, 0, &f);
        if (rc == MOTE_NEED_MORE)
            break;
        if (rc != MOTE_OK) {
            cl->untracked = 1;
            break;
        }
        uint8_t *copy = fuzz_copy(cl->out + off, f.total);
        if (!cl->connect_seen) {
            rc = mote_codec_decode(copy, f.total, 0, &p);
            cl->connect_seen = 1;
            cl->untracked = rc != MOTE_OK || p.type != MOTE_CONNECT;
            if (!cl->untracked) {
                cl->client_version = p.u.connect.version;
                if (p.u.connect.version == MOTE_V5) {
                    cl->receive_max = 65535;
                    if (mote_props_find(&p.u.connect.props, MOTE_PROP_RECEIVE_MAXIMUM, &prop))
                        cl->receive_max = prop.v.num;
                    if (mote_props_find(&p.u.connect.props, MOTE_PROP_MAXIMUM_PACKET_SIZE, &prop))
                        cl->max_packet = prop.v.num;
                }
            }
        } else {
            rc = mote_codec_decode_opts(copy, f.total, cl->client_version,
                                        MOTE_DECODE_LENIENT_FILTERS, &p);
            cl->untracked = rc != MOTE_OK;
            if (rc == MOTE_OK && (p.type == MOTE_PUBACK || p.type == MOTE_PUBCOMP ||
                                  (p.type == MOTE_PUBREC && p.u.ack.reason >= 0x80))) {
                uint16_t id = p.u.ack.packet_id;
                if (cl->in_use[id >> 3] >> (id & 7) & 1) {
                    cl->in_use[id >> 3] &= (uint8_t) ~(1u << (id & 7));
                    cl->in_use_count--;
                }
            }
        }
        free(copy);
        off += f.total;
    }
    memmove(cl->out, cl->out + off, cl->out_len - off);
    cl->out_len -= off;
}

/* Reads what the broker sent to every slot that reads. Returns 1 if anything came. */
static int drain(void)
{
    int got = 0;
    for (int i = 0; i < SLOTS; i++) {
        struct client *cl = &clients[i];
        uint8_t buf[4096];
        if (cl->fd < 0 || cl->paused || cl->eof)
            continue;
        for (;;) {
            ssize_t n = read(cl->fd, buf, sizeof buf);
            if (n > 0) {
                take_output(cl, i, buf, (size_t)n);
                got = 1;
                continue;
            }
            FUZZ_CHECK(n == 0 || errno != EBADF, "slot %d: our descriptor %d was closed under us",
                       i, cl->fd);
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                cl->eof = 1; /* the broker closed (ECONNRESET: with unread input) */
                got = 1;
            }
            break;
        }
    }
    return got;
}

/* ---------------------------------------------------------------------------------------------
 * Driving the broker: turns on each worker until none has anything to do.
 * ------------------------------------------------------------------------------------------- */

static int worker_busy(struct moted_worker *w)
{
    struct epoll_event ev;
    if (w->flush_list || w->dead_list || w->inbox_head)
        return 1;
    for (int i = 0; i < broker.worker_count; i++)
        if (w->out_head[i])
            return 1;
    if (w->loop.heap_len && w->loop.heap[1]->when_ms <= moted__now_ms())
        return 1;
    /* Level-triggered: looking does not consume the readiness. */
    return epoll_wait(w->loop.epfd, &ev, 1, 0) > 0;
}

/* One loop turn of worker i, recording its store writes as its own thread would. */
static void turn(int i)
{
    moted__store_bind(&workers[i]);
    moted__loop_turn(&workers[i].loop, 0);
    moted__store_bind(NULL);
}

/* With a store, a batch on its way to the disk holds output back: wait for the store thread. */
static int store_busy(void)
{
    int busy = 0;
    if (!broker.store)
        return 0;
    for (int i = 0; i < broker.worker_count; i++) {
        struct moted_batch *bt = &workers[i].batch;
        if (bt->submitted && atomic_load(&bt->done) != bt->submitted) {
            busy = 1;
            usleep(50);
        }
    }
    return busy;
}

static void settle(void)
{
    for (int round = 0;; round++) {
        int busy = 0;
        FUZZ_CHECK(round < MAX_ROUNDS, "the broker does not settle after %d turns", round);
        for (int i = 0; i < broker.worker_count; i++) {
            if (worker_busy(&workers[i])) {
                turn(i);
                busy = 1;
            }
        }
        busy |= drain();
        busy |= store_busy();
        if (!busy)
            return;
    }
}

/* Messages whose expiry the clock jump has moved already (they are shared by reference). */
static struct moted_msg **jumped;
static size_t jumped_len, jumped_cap;

static void jump_msg(struct moted_msg *m, uint64_t ms)
{
    if (!m || !m->expire_at_ms)
        return;
    for (size_t i = 0; i < jumped_len; i++)
        if (jumped[i] == m)
            return;
    if (jumped_len == jumped_cap) {
        jumped_cap = jumped_cap ? jumped_cap * 2 : 64;
        jumped = realloc(jumped, jumped_cap * sizeof *jumped);
        FUZZ_CHECK(jumped != NULL, "out of memory");
    }
    jumped[jumped_len++] = m;
    /* 0 means "never expires": 1 is long past. */
    m->expire_at_ms = m->expire_at_ms > ms + 1 ? m->expire_at_ms - ms : 1;
}

static void jump_retained(void *ctx, const struct moted_sub *entry)
{
    jump_msg(entry->owner, *(const uint64_t *)ctx);
}

/*
 * Moves the clock forward by @p ms for everything the broker times: timers, keep alive, and the
 * expiry of messages queued, in flight, retained (but under '$' topics, which '#' cannot reach)
 * or held as wills. A uniform (saturating) shift keeps the timer heap ordered.
 */
static void jump(uint64_t ms)
{
    jumped_len = 0;
    for (int i = 0; i < broker.worker_count; i++) {
        struct moted_worker *w = &workers[i];
        struct moted_loop *loop = &w->loop;
        struct moted_match_cb cb = {jump_retained, NULL, &ms};
        for (size_t t = 1; t <= loop->heap_len; t++)
            loop->heap[t]->when_ms = loop->heap[t]->when_ms > ms ? loop->heap[t]->when_ms - ms : 0;
        for (struct moted_conn *c = w->conns; c; c = c->next)
            c->last_rx_ms = c->last_rx_ms > ms ? c->last_rx_ms - ms : 0;
        for (size_t b = 0; b < w->session_cap; b++) {
            for (struct moted_session *s = w->sessions[b]; s; s = s->hash_next) {
                for (struct moted_queued *q = s->queue_head; q; q = q->next)
                    jump_msg(q->msg, ms);
                for (uint32_t k = 0; k < s->out_len; k++)
                    jump_msg(moted__session_out_at(s, k)->msg, ms);
                jump_msg(s->will, ms);
            }
        }
        moted__tree_match_filter(&w->retained, (const uint8_t *)"#", 1, &cb);
    }
}

/* What the broker's own structures must say once it has settled. */
static void check_state(void)
{
    int total = 0;
    for (int i = 0; i < broker.worker_count; i++) {
        struct moted_worker *w = &workers[i];
        size_t conns = 0, sessions = 0;
        for (struct moted_conn *c = w->conns; c; c = c->next) {
            FUZZ_CHECK(c->w == w && !c->closed, "worker %d lists a closed or foreign connection",
                       i);
            FUZZ_CHECK(!c->session || c->session->conn == c,
                       "connection %s points at a session that points elsewhere", moted__peer(c));
            conns++;
        }
        FUZZ_CHECK(conns == w->conn_count, "worker %d: conn_count %zu, list has %zu", i,
                   w->conn_count, conns);
        total += (int)conns;
        for (size_t b = 0; b < w->session_cap; b++) {
            for (struct moted_session *s = w->sessions[b]; s; s = s->hash_next) {
                size_t queued = 0, subs = 0;
                FUZZ_CHECK(s->owner == w, "session %s listed on worker %d, owned by another",
                           s->client_id, i);
                FUZZ_CHECK(!s->conn || s->conn->session == s,
                           "session %s points at a connection that points elsewhere", s->client_id);
                FUZZ_CHECK(moted__home_worker(&broker, (const uint8_t *)s->client_id,
                                              s->client_id_len) == i,
                           "session %s lives on worker %d, not its home", s->client_id, i);
                for (struct moted_queued *q = s->queue_head; q; q = q->next)
                    queued++;
                for (struct moted_session_sub *ss = s->subs; ss; ss = ss->next)
                    subs++;
                FUZZ_CHECK(queued == s->queue_count, "session %s: queue_count %zu, queue has %zu",
                           s->client_id, s->queue_count, queued);
                FUZZ_CHECK(subs == s->sub_count, "session %s: sub_count %zu, list has %zu",
                           s->client_id, s->sub_count, subs);
                FUZZ_CHECK(s->out_count <= s->out_len && s->out_len <= s->out_cap,
                           "session %s: in-flight ring count %u len %u cap %u", s->client_id,
                           s->out_count, s->out_len, s->out_cap);
                sessions++;
            }
        }
        FUZZ_CHECK(sessions == w->session_count, "worker %d: session_count %zu, table has %zu", i,
                   w->session_count, sessions);
    }
    FUZZ_CHECK(atomic_load(&broker.connections) == total &&
                   atomic_load(&listener.connections) == total,
               "connection counters %d (broker) and %d (listener), %d connections open",
               atomic_load(&broker.connections), atomic_load(&listener.connections), total);
}

/* ---------------------------------------------------------------------------------------------
 * Clients
 * ------------------------------------------------------------------------------------------- */

static void client_free(struct client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    free(cl->in);
    free(cl->out);
    free(cl->in_use);
    memset(cl, 0, sizeof *cl);
    cl->fd = -1;
}

static void client_open(int slot, int worker)
{
    struct client *cl = &clients[slot];
    int sv[2];
    /* A socketpair has no address: moted logs 127.0.0.1 and the connection's number as port. */
    struct sockaddr_in peer = {.sin_family = AF_INET};

    client_free(cl);
    if (opens >= MAX_OPENS)
        return;
    opens++;
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
               "socketpair: %s", strerror(errno));
    int small = BROKER_SNDBUF;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    fds_seen[fds_count++] = sv[0];
    fds_seen[fds_count++] = sv[1];
    cl->fd = sv[0];
    cl->in_use = calloc(65536 / 8, 1);
    FUZZ_CHECK(cl->in_use != NULL, "out of memory");
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    peer.sin_port = htons((uint16_t)opens);
    SAY("open slot %d on worker %d (127.0.0.1:%zu)\n", slot, worker, opens);
    moted__conn_accept(&workers[worker], sv[1], &listener, &peer);
}

/* Sends @p n bytes from the slot; opens it first if it is free or the broker closed it. */
static void client_write(int slot, const uint8_t *p, size_t n)
{
    struct client *cl = &clients[slot];
    if (cl->fd < 0 || cl->eof || cl->shut)
        client_open(slot, slot % broker.worker_count);
    if (cl->fd < 0)
        return;
    SAY("write %zu bytes on slot %d\n", n, slot);
    /* Not reading, we may acknowledge what the broker sent before we see it: the id checks
     * would then count a packet the broker already counts as done. */
    if (cl->paused)
        cl->untracked = 1;
    while (n) {
        ssize_t k = send(cl->fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            take_input(cl, p, (size_t)k);
            p += k;
            n -= (size_t)k;
            continue;
        }
        FUZZ_CHECK(errno != EBADF, "slot %d: our descriptor %d was closed under us", slot, cl->fd);
        if (errno != EAGAIN && errno != EINTR)
            return; /* the broker closed: the rest is lost, as on a network */
        settle();   /* our socket buffer is full: let the broker read */
    }
}

static void client_close(int slot, int outright)
{
    struct client *cl = &clients[slot];
    if (cl->fd < 0)
        return;
    SAY("close slot %d%s\n", slot, outright ? " outright" : "");
    if (outright) {
        client_free(cl);
        return;
    }
    cl->paused = 0;
    cl->shut = 1;
    shutdown(cl->fd, SHUT_WR);
}

/* ---------------------------------------------------------------------------------------------
 * The broker's life: one per input, so every input runs the same way from scratch.
 * ------------------------------------------------------------------------------------------- */

static size_t base_mem;
static char store_dir[64]; /* configurations 0 and 1 run with the store on, a new one per input */

static void store_remove(void)
{
    static const char *const files[] = {"moted.db", "moted.db-wal", "moted.db-shm"};
    char path[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", store_dir, files[i]);
        unlink(path);
    }
}

static void store_cleanup(void)
{
    store_remove();
    rmdir(store_dir);
}

static void store_start(void)
{
    char err[512];
    if (!store_dir[0]) {
        /* tmpfs when there is one: an fsync there costs nothing, and inputs come fast */
        snprintf(store_dir, sizeof store_dir, "%s/fuzz-broker-store-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        FUZZ_CHECK(mkdtemp(store_dir) != NULL, "mkdtemp: %s", strerror(errno));
        atexit(store_cleanup);
    }
    store_remove();
    broker.cfg.persistence = 1;
    broker.cfg.persistence_location = store_dir;
    broker.cfg.persistence_file = NULL;
    FUZZ_CHECK(moted__store_open(&broker, err, sizeof err) == 0, "store: %s", err);
    FUZZ_CHECK(moted__store_restore(&broker, err, sizeof err) == 0, "restore: %s", err);
    FUZZ_CHECK(moted__store_start(&broker) == 0, "store thread");
}

static void broker_start(uint8_t header)
{
    static const size_t rbuf_sizes[4] = {64 * 1024, 1024, 100, 16};
    static const size_t mem_budget[4] = {0, 0, 32 * 1024, 6 * 1024};
    int variant = (header >> 1) & 7;

    base_mem = moted__mem_used();
    memset(&broker, 0, sizeof broker);
    broker.cfg = configs[variant];
    atomic_store(&broker.live_cfg, &broker.cfg);
    broker.listeners = &listener;
    broker.listener_count = 0; /* no listening sockets: the harness hands connections in */
    broker.workers = workers;
    broker.worker_count = header & 1 ? 2 : 1;
    memset(&listener, 0, sizeof listener);
    listener.cfg = &configs[variant].listeners[0];
    listener.allow_anonymous = configs[variant].allow_anonymous;
    for (int i = 0; i < broker.worker_count; i++) {
        FUZZ_CHECK(moted__worker_init(&workers[i], &broker, i, SETSIZE) == 0,
                   "moted__worker_init: %s", strerror(errno));
        /* A smaller read buffer makes the "packet larger than the buffer" path reachable. */
        size_t cap = rbuf_sizes[(header >> 4) & 3];
        if (cap != workers[i].rbuf_cap) {
            moted__free(workers[i].rbuf);
            workers[i].rbuf = moted__malloc(cap);
            FUZZ_CHECK(workers[i].rbuf != NULL, "out of memory");
            workers[i].rbuf_cap = cap;
        }
    }
    broker.cfg.persistence = 0;
    if (variant <= 1)
        store_start();
    if (mem_budget[header >> 6])
        moted__mem_set_limit(moted__mem_used() + mem_budget[header >> 6]);
    for (int i = 0; i < SLOTS; i++) {
        memset(&clients[i], 0, sizeof clients[i]);
        clients[i].fd = -1;
    }
    fds_count = opens = 0;
    SAY("start: %d worker(s), config %d, read buffer %zu, memory budget %zu\n", broker.worker_count,
        variant, workers[0].rbuf_cap, mem_budget[header >> 6]);
}

/* Shuts down as main.c does after its threads stopped. Unless @p abrupt, the clients close first
 * and the broker must then hold no connection. Afterwards every byte it allocated is freed and
 * every descriptor it was handed is closed. */
static void broker_stop(int abrupt)
{
    if (!abrupt) {
        for (int i = 0; i < SLOTS; i++)
            client_close(i, 0);
        settle();
        check_state();
        for (int i = 0; i < broker.worker_count; i++)
            FUZZ_CHECK(workers[i].conn_count == 0,
                       "worker %d holds %zu connections after every client closed", i,
                       workers[i].conn_count);
    }
    SAY("stop%s\n", abrupt ? " (abrupt)" : "");
    for (int i = 0; i < broker.worker_count; i++) { /* as main.c: the store hears the closes */
        moted__store_bind(&workers[i]);
        moted__conn_close_all(&workers[i]);
        moted__store_sync(&workers[i]);
        moted__store_bind(NULL);
    }
    moted__store_close(&broker);
    for (int i = 0; i < broker.worker_count; i++)
        moted__worker_free(&workers[i]);
    moted__mem_set_limit(0);
    for (int i = 0; i < SLOTS; i++)
        client_free(&clients[i]);

    free(jumped);
    jumped = NULL;
    jumped_cap = jumped_len = 0;
    FUZZ_CHECK(moted__mem_used() == base_mem,
               "%zu bytes still allocated by the broker after shutdown (leak, or a miscount)",
               moted__mem_used() - base_mem);
    FUZZ_CHECK(atomic_load(&listener.connections) == 0 && atomic_load(&broker.connections) == 0,
               "connection counters after shutdown: listener %d, broker %d",
               atomic_load(&listener.connections), atomic_load(&broker.connections));
    for (size_t i = 0; i < fds_count; i++)
        FUZZ_CHECK(fcntl(fds_seen[i], F_GETFD) < 0 && errno == EBADF,
                   "descriptor %d still open after shutdown (a connection's socket leaked)",
                   fds_seen[i]);
}

/* ---------------------------------------------------------------------------------------------
 * Entry point
 * ------------------------------------------------------------------------------------------- */

static int next_byte(uint8_t *b)
{
    if (in_pos >= in_end)
        return 0;
    *b = *in_pos++;
    return 1;
}

static const uint8_t *take(size_t want, size_t *got)
{
    const uint8_t *p = in_pos;
    *got = (size_t)(in_end - in_pos) < want ? (size_t)(in_end - in_pos) : want;
    in_pos += *got;
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    uint8_t b, arg;
    int abrupt = 0;

    if (size < 1)
        return 0;
    if (!ready) {
        make_configs();
        ready = 1;
    }
    broker_start(data[0]);
    in_pos = data + 1;
    in_end = data + size;
    while (!abrupt && next_byte(&b)) {
        int slot = b & 3, flag = b >> 5;
        size_t n = 0, got;
        const uint8_t *p;
        switch ((enum op)((b >> 2) & 7)) {
        case OP_OPEN:
            client_open(slot, (flag & 1) % broker.worker_count);
            settle();
            break;
        case OP_WRITE:
        case OP_WRITE2:
            if (!next_byte(&arg))
                break;
            n = arg;
            if (((b >> 2) & 7) == OP_WRITE2 && next_byte(&arg))
                n = n << 8 | arg;
            p = take(n, &got);
            client_write(slot, p, got);
            if (!(flag & 1))
                settle();
            break;
        case OP_CLOSE:
            client_close(slot, flag & 1);
            settle();
            break;
        case OP_PAUSE:
            if (clients[slot].fd >= 0 && !clients[slot].shut)
                clients[slot].paused = flag & 1;
            settle();
            break;
        case OP_TIME:
            if (!next_byte(&arg))
                break;
            SAY("clock +%llu ms\n", (unsigned long long)time_steps[arg & 7]);
            settle(); /* what is in flight happens before the jump */
            jump(time_steps[arg & 7]);
            settle();
            break;
        case OP_RUN:
            settle();
            if (flag) {
                SAY("memory budget %zu\n", budget_steps[flag]);
                moted__mem_set_limit(flag == 7 ? 0 : moted__mem_used() + budget_steps[flag]);
            }
            break;
        case OP_STOP:
            if (flag & 1)
                for (int i = 0; i < broker.worker_count; i++)
                    turn(i);
            abrupt = 1;
            break;
        }
        if (!abrupt)
            check_state();
    }
    broker_stop(abrupt);
    return 0;
}
