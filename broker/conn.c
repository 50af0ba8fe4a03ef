/*
 * conn.c - a client connection's bytes: reads land in the worker's buffer and are framed in
 * place, so only a partial packet is ever kept per connection; output is encoded into a
 * per-connection buffer and written once per loop turn, then the buffer is released. An idle
 * connection therefore holds no buffer at all.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"

#define MAX_PENDING_OUT (64u * 1024u * 1024u) /* per connection; QoS 0 is dropped past it */

/* ---- plain TCP transport ---- */

static long tcp_read(struct moted_conn *c, void *buf, size_t len)
{
    ssize_t n = read(c->fd, buf, len);
    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return -1; /* 0 bytes: the peer closed; never reported as "try again" */
}

static long tcp_write(struct moted_conn *c, const void *buf, size_t len)
{
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    return -1;
}

static void tcp_close(struct moted_conn *c)
{
    close(c->fd);
}

const struct moted_transport moted__tcp_transport = {"tcp", tcp_read, tcp_write, tcp_close, NULL,
                                                     NULL};

/* ---- lifecycle ---- */

/* Time a new connection has for its TLS handshake and its CONNECT (handshake_timeout). */
static uint64_t connect_timeout_ms(const struct moted_worker *w)
{
    int s = moted__cfg(w->b)->handshake_timeout;
    return (uint64_t)(s > 0 ? s : 10) * 1000u;
}

static void on_io(struct moted_loop *loop, int fd, void *data, int mask);

void moted__addr_set(struct moted_addr *a, const void *sockaddr)
{
    const struct sockaddr *sa = sockaddr;
    memset(a, 0, sizeof *a);
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = sockaddr;
        memcpy(a->ip, &in->sin_addr, 4);
        a->port = ntohs(in->sin_port);
        a->family = AF_INET;
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = sockaddr;
        memcpy(a->ip, &in6->sin6_addr, 16);
        a->port = ntohs(in6->sin6_port);
        a->family = AF_INET6;
    }
}

const char *moted__peer(const struct moted_conn *c)
{
    static _Thread_local char bufs[4][56];
    static _Thread_local unsigned next;
    char *out = bufs[next++ % 4], host[INET6_ADDRSTRLEN] = "?";
    const struct moted_addr *a = &c->addr;
    if (a->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a->ip)) {
        inet_ntop(AF_INET, a->ip + 12, host, sizeof host);
        snprintf(out, 56, "%s:%u", host, a->port);
    } else if (a->family == AF_INET6) {
        inet_ntop(AF_INET6, a->ip, host, sizeof host);
        snprintf(out, 56, "[%s]:%u", host, a->port);
    } else if (a->family == AF_INET) {
        inet_ntop(AF_INET, a->ip, host, sizeof host);
        snprintf(out, 56, "%s:%u", host, a->port);
    } else {
        snprintf(out, 56, "unknown peer");
    }
    return out;
}

static void list_add(struct moted_worker *w, struct moted_conn *c)
{
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->conn_count++;
}

static void list_del(struct moted_worker *w, struct moted_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    w->conn_count--;
}

void moted__conn_accept(struct moted_worker *w, int fd, struct moted_listener_rt *l,
                        const void *sockaddr)
{
    struct moted_conn *c = moted__calloc(1, sizeof *c);
    if (!c) {
        moted__log(MOTED_LOG_WARNING, "a connection on port %u refused: out of memory "
                                      "(memory_limit)", l->cfg->port);
        close(fd);
        return;
    }
    c->fd = fd;
    c->w = w;
    c->tp = &moted__tcp_transport;
    c->listener = l;
    c->state = CONN_NEW;
    moted__addr_set(&c->addr, sockaddr);
    c->last_rx_ms = w->loop.now_ms;
    c->ka_timer.kind = MOTED_TIMER_CONN;
    if (moted__loop_add(&w->loop, fd, MOTED_READABLE, on_io, c)) {
        moted__log(MOTED_LOG_WARNING, "%s refused: %s", moted__peer(c), strerror(errno));
        close(fd);
        moted__free(c);
        return;
    }
    if (l->tls && moted__tls_conn_start(c)) {
        moted__log(MOTED_LOG_WARNING, "%s refused: cannot start TLS (out of memory)",
                   moted__peer(c));
        moted__loop_del(&w->loop, fd, MOTED_READABLE);
        close(fd);
        moted__free(c);
        return;
    }
    moted__timer_set(&w->loop, &c->ka_timer, w->loop.now_ms + connect_timeout_ms(w));
    list_add(w, c);
    atomic_fetch_add(&l->connections, 1);
    atomic_fetch_add(&w->b->connections, 1);
    moted__log(MOTED_LOG_DEBUG, "new connection from %s on port %u", moted__peer(c),
               l->cfg->port);
}

static void conn_free(struct moted_conn *c)
{
    for (int i = 0; c->aliases && i <= MOTED_TOPIC_ALIAS_MAX; i++)
        moted__free(c->aliases->topic[i]);
    moted__free(c->aliases);
    moted__free(c->rbuf);
    moted__free(c->wbuf);
    moted__free(c->username);
    moted__free(c);
}

void moted__conn_reap(struct moted_worker *w)
{
    while (w->dead_list) {
        struct moted_conn *c = w->dead_list;
        w->dead_list = c->next;
        conn_free(c);
    }
}

void moted__conn_close_all(struct moted_worker *w)
{
    while (w->conns)
        moted__conn_disconnect(w->conns, MOTE_RC_SERVER_SHUTTING_DOWN, "broker shutting down");
    moted__conn_reap(w);
}

void moted__conn_close(struct moted_conn *c, const char *why)
{
    struct moted_worker *w = c->w;
    if (c->closed)
        return;
    c->closed = 1;
    if (c->session)
        moted__log(MOTED_LOG_NOTICE, "client %s (%s) disconnected: %s", c->session->client_id,
                   moted__peer(c), why);
    else
        moted__log(c->explained ? MOTED_LOG_DEBUG : MOTED_LOG_NOTICE,
                   "connection from %s closed: %s", moted__peer(c), why);
    moted__loop_del(&w->loop, c->fd, MOTED_READABLE | MOTED_WRITABLE);
    moted__timer_cancel(&w->loop, &c->ka_timer);
    /* One last try at what is queued (a CONNACK before a DISCONNECT in the same read), unless
     * it acknowledges writes not yet on disk: then it is not sent (the client sends again). */
    if (c->wlen > c->woff && !moted__tls_handshaking(c) && !moted__store_holds(c))
        (void)c->tp->write(c, c->wbuf + c->woff, c->wlen - c->woff);
    c->tp->close(c);
    list_del(w, c);
    atomic_fetch_sub(&c->listener->connections, 1);
    atomic_fetch_sub(&w->b->connections, 1);
    moted__proto_conn_gone(c);
    c->next = w->dead_list; /* off the open list now: `next` links the dead list */
    w->dead_list = c;
}

void moted__conn_disconnect(struct moted_conn *c, uint8_t reason, const char *why)
{
    if (c->closed)
        return;
    if (c->version == MOTE_V5 && c->state != CONN_NEW && reason) {
        struct mote_packet p = {.type = MOTE_DISCONNECT};
        p.u.reason.reason = reason;
        moted__conn_send(c, &p);
    }
    moted__conn_flush(c);
    moted__conn_close(c, why);
}

void moted__conn_store_failed(struct moted_conn *c)
{
    /* What is unsent waits for writes that failed: it must not go. Whole packets only (a
     * partly written one is cut by the close itself). */
    int aligned = c->woff == 0;
    c->wlen = c->woff;
    c->hold_seq = 0;
    if (aligned)
        moted__conn_disconnect(c, MOTE_RC_QUOTA_EXCEEDED,
                               "the store cannot write: what this client sent is not "
                               "acknowledged (it sends it again when it reconnects)");
    else
        moted__conn_close(c, "the store cannot write: what this client sent is not "
                             "acknowledged (it sends it again when it reconnects)");
}

int moted__conn_handover(struct moted_conn *c, int to)
{
    struct moted_worker *w = c->w;
    struct moted_post *p = moted__calloc(1, sizeof *p);
    if (!p) { /* closed the usual way: the caller still holds c until the turn ends */
        moted__conn_close(c, "out of memory: cannot hand the connection to its worker");
        return -1;
    }
    moted__loop_del(&w->loop, c->fd, MOTED_READABLE | MOTED_WRITABLE);
    moted__timer_cancel(&w->loop, &c->ka_timer);
    list_del(w, c);
    p->kind = POST_ADOPT;
    p->conn = c;
    moted__worker_post(w, to, p);
    return 0;
}

/* see broker.h */
void moted__conn_discard(struct moted_conn *c)
{
    c->tp->close(c);
    atomic_fetch_sub(&c->listener->connections, 1);
    atomic_fetch_sub(&c->w->b->connections, 1);
    conn_free(c);
}

/* ---- input ---- */

static void process(struct moted_conn *c, uint8_t *buf, size_t have);

void moted__conn_adopt(struct moted_worker *w, struct moted_conn *c)
{
    uint8_t *buf = c->rbuf;
    size_t have = c->rlen;
    c->w = w;
    c->hold_seq = 0; /* batch numbers are per worker (and nothing was stored for it yet) */
    c->rbuf = NULL;
    c->rlen = c->rcap = 0;
    list_add(w, c);
    if (moted__loop_add(&w->loop, c->fd, MOTED_READABLE, on_io, c)) {
        moted__free(buf);
        moted__conn_close(c, "cannot watch the socket");
        return;
    }
    if (!buf) {
        moted__conn_close(c, "out of memory: the CONNECT was lost handing the connection over");
        return;
    }
    moted__timer_set(&w->loop, &c->ka_timer, w->loop.now_ms + connect_timeout_ms(w));
    /* Copy into the worker's buffer so `process` sees the usual layout. */
    if (have <= w->rbuf_cap) {
        memcpy(w->rbuf, buf, have);
        moted__free(buf);
        process(c, w->rbuf, have);
    } else {
        c->rbuf = buf;
        c->rlen = c->rcap = (uint32_t)have;
        process(c, c->rbuf, have);
    }
}

static uint32_t max_in(const struct moted_conn *c)
{
    uint32_t m = moted__cfg(c->w->b)->max_packet_size;
    return m ? m : MOTE_PACKET_MAX;
}

/* Frames and handles every whole packet in buf; keeps the partial rest in c->rbuf. */
static void process(struct moted_conn *c, uint8_t *buf, size_t have)
{
    size_t off = 0, want = 0;
    struct mote_frame f;

    while (off < have && !c->closed) {
        int rc = mote_codec_frame(buf + off, have - off, max_in(c), &f);
        if (rc == MOTE_NEED_MORE) {
            want = (have - off) + f.need;
            break;
        }
        if (rc == MOTE_ERR_PACKET_TOO_LARGE) {
            moted__log(MOTED_LOG_NOTICE, "%s sent a packet of %zu bytes, over max_packet_size %u",
                       moted__peer(c), f.total, max_in(c));
            moted__conn_disconnect(c, MOTE_RC_PACKET_TOO_LARGE, "packet too large");
            return;
        }
        if (rc != MOTE_OK) {
            moted__conn_disconnect(c, MOTE_RC_MALFORMED_PACKET, mote_strerror(rc));
            return;
        }
        rc = moted__proto_packet(c, buf + off, f.total);
        if (rc < 0)
            return;
        if (rc == 1) { /* handed to another worker: the bytes travel with it */
            uint8_t *rest = moted__malloc(have - off);
            if (rest)
                memcpy(rest, buf + off, have - off);
            if (buf == c->rbuf)
                moted__free(c->rbuf);
            c->rbuf = rest;
            c->rlen = (uint32_t)(have - off); /* with rbuf NULL: lost, moted__conn_adopt closes */
            c->rcap = rest ? (uint32_t)(have - off) : 0;
            return;
        }
        off += f.total;
    }
    if (c->closed)
        return;
    if (off == have) {
        if (buf == c->rbuf) {
            moted__free(c->rbuf);
            c->rbuf = NULL;
            c->rcap = 0;
        }
        c->rlen = 0;
        return;
    }
    /*
     * Keep the partial packet. One larger than the worker's buffer gets a buffer of its own,
     * grown as its bytes arrive (never sized from the length the client claims: a client that
     * announces 256 MB and trickles bytes must not make us allocate 256 MB up front).
     */
    size_t rest = have - off, cap = rest;
    if (want > c->w->rbuf_cap) {
        cap = rest * 2 > c->w->rbuf_cap * 2 ? rest * 2 : c->w->rbuf_cap * 2;
        if (cap > want)
            cap = want;
    }
    c->rwant = (uint32_t)want;
    if (buf == c->rbuf) {
        memmove(c->rbuf, c->rbuf + off, rest);
        if (cap > c->rcap) {
            uint8_t *nb = moted__realloc(c->rbuf, cap);
            if (!nb) {
                moted__conn_disconnect(c, MOTE_RC_SERVER_BUSY, "out of memory for a packet");
                return;
            }
            c->rbuf = nb;
            c->rcap = (uint32_t)cap;
        }
    } else {
        moted__free(c->rbuf);
        c->rbuf = moted__malloc(cap);
        if (!c->rbuf) {
            c->rcap = 0;
            moted__conn_disconnect(c, MOTE_RC_SERVER_BUSY, "out of memory for a packet");
            return;
        }
        c->rcap = (uint32_t)cap;
        memcpy(c->rbuf, buf + off, rest);
    }
    c->rlen = (uint32_t)rest;
}

static void conn_read(struct moted_conn *c)
{
    struct moted_worker *w = c->w;
    uint8_t *buf;
    size_t have, cap;
    long n;

    if (c->rbuf && c->rcap > w->rbuf_cap) { /* a packet larger than the worker's buffer */
        if (c->rlen == c->rcap && c->rwant > c->rcap) { /* full: grow towards the packet */
            uint32_t grow = c->rcap * 2 < c->rwant ? c->rcap * 2 : c->rwant;
            uint8_t *nb = moted__realloc(c->rbuf, grow);
            if (!nb) {
                moted__conn_disconnect(c, MOTE_RC_SERVER_BUSY, "out of memory for a packet");
                return;
            }
            c->rbuf = nb;
            c->rcap = grow;
        }
        buf = c->rbuf;
        cap = c->rcap;
    } else {
        buf = w->rbuf;
        cap = w->rbuf_cap;
        if (c->rlen)
            memcpy(buf, c->rbuf, c->rlen);
        moted__free(c->rbuf);
        c->rbuf = NULL;
        c->rcap = 0;
    }
    have = c->rlen;
    c->rlen = 0;
    n = c->tp->read(c, buf + have, cap - have);
    if (c->closed)
        return; /* the transport closed it (a failed handshake, explained) */
    if (n < 0) {
        moted__conn_close(c, c->state == CONN_NEW ? "closed before CONNECT"
                                                  : "connection closed by the client");
        return;
    }
    if (n == 0) {
        if (have && buf == w->rbuf) { /* nothing new: put the partial packet back */
            c->rbuf = moted__malloc(have);
            if (c->rbuf) {
                memcpy(c->rbuf, buf, have);
                c->rlen = c->rcap = (uint32_t)have;
            }
        } else if (buf == c->rbuf) {
            c->rlen = (uint32_t)have;
        }
        return;
    }
    c->last_rx_ms = w->loop.now_ms;
    process(c, buf, have + (size_t)n);
}

/*
 * Reads and handles, without waiting, what a connection still has in its socket (and TLS)
 * buffers: before its session is taken over, so that a DISCONNECT the client sent before its new
 * CONNECT still counts (its will and session expiry), whatever order the two sockets are served
 * in. Uses buffers of its own: the worker's may hold the CONNECT being handled.
 */
void moted__conn_read_pending(struct moted_conn *c)
{
    enum { CHUNK = 16384 };
    for (int round = 0; round < 16 && !c->closed; round++) {
        uint8_t *chunk = moted__malloc(CHUNK), *buf;
        size_t have = c->rlen;
        long n;
        if (!chunk)
            return;
        n = c->tp->read(c, chunk, CHUNK);
        if (n <= 0) {
            moted__free(chunk);
            if (n < 0)
                moted__conn_close(c, "connection closed by the client");
            return;
        }
        buf = moted__malloc(have + (size_t)n);
        if (!buf) {
            moted__free(chunk);
            return;
        }
        if (have)
            memcpy(buf, c->rbuf, have);
        memcpy(buf + have, chunk, (size_t)n);
        moted__free(chunk);
        moted__free(c->rbuf);
        c->rbuf = NULL;
        c->rlen = c->rcap = 0;
        c->last_rx_ms = c->w->loop.now_ms;
        process(c, buf, have + (size_t)n);
        moted__free(buf);
        if (n < CHUNK)
            return; /* the socket had no more */
    }
}

void moted__conn_want_write(struct moted_conn *c)
{
    if (!c->want_write) {
        c->want_write = 1;
        moted__loop_add(&c->w->loop, c->fd, MOTED_WRITABLE, on_io, c);
    }
}

static void on_io(struct moted_loop *loop, int fd, void *data, int mask)
{
    struct moted_conn *c = data;
    (void)loop;
    (void)fd;
    if (c->tp->step && moted__tls_handshaking(c)) {
        int rc = c->tp->step(c);
        if (rc <= 0)
            return; /* in progress, or failed and closed */
        moted__conn_flush(c); /* drops the writable interest the handshake may have left */
        if (c->closed)
            return;
    }
    if (mask & MOTED_WRITABLE)
        moted__conn_flush(c);
    /* Decoded bytes the transport holds raise no socket event: read until none are left. */
    if ((mask & MOTED_READABLE) && !c->closed) {
        conn_read(c);
        while (!c->closed && c->tp->pending && c->tp->pending(c))
            conn_read(c);
    }
}

void moted__conn_on_timer(struct moted_loop *loop, struct moted_timer *t)
{
    struct moted_conn *c = moted__container_of(t, struct moted_conn, ka_timer);
    uint64_t limit;
    if (c->state == CONN_NEW) {
        if (moted__tls_handshaking(c)) {
            moted__log(MOTED_LOG_NOTICE,
                       "%s: TLS handshake not finished within %d s (handshake_timeout): dropped; "
                       "a stalled client, or one too slow for its key exchange",
                       moted__peer(c), moted__cfg(c->w->b)->handshake_timeout);
            c->explained = 1;
            moted__conn_close(c, "TLS handshake timeout");
        } else {
            moted__conn_close(c, "no CONNECT in time (handshake_timeout)");
        }
        return;
    }
    if (!c->keep_alive)
        return;
    limit = (uint64_t)c->keep_alive * 1500u; /* one and a half times (MQTT-3.1.2-22) */
    if (loop->now_ms - c->last_rx_ms >= limit) {
        moted__conn_disconnect(c, MOTE_RC_KEEP_ALIVE_TIMEOUT, "keep alive timeout");
        return;
    }
    moted__timer_set(loop, &c->ka_timer, c->last_rx_ms + limit);
}

/* ---- output ---- */

int moted__conn_send(struct moted_conn *c, const struct mote_packet *p)
{
    size_t size, written;
    int rc;
    if (c->closed)
        return -1;
    rc = mote_codec_size(p, c->version ? c->version : MOTE_V311, &size);
    if (rc != MOTE_OK) {
        moted__log(MOTED_LOG_ERROR, "cannot encode %s for %s: %s", mote_packet_name(p->type),
                   moted__peer(c), mote_strerror(rc));
        return -1;
    }
    if (c->max_packet_out && size > c->max_packet_out) {
        /* PUBLISH is checked (and dropped as delivered) before it comes here; anything else
         * the client cannot take ends the connection (MQTT-3.1.2-24), as Mosquitto does. */
        char why[160];
        snprintf(why, sizeof why, "a %s of %zu bytes is over the client's Maximum Packet Size %u",
                 mote_packet_name(p->type), size, c->max_packet_out);
        moted__conn_close(c, why);
        return -1;
    }
    if (moted__conn_pending(c) + size > MAX_PENDING_OUT)
        return -1;
    if (c->woff && c->wlen + size > c->wcap) { /* reclaim what was written before growing */
        memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
        c->wlen -= c->woff;
        c->woff = 0;
    }
    if (c->wlen + size > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 512;
        while (cap < c->wlen + size)
            cap *= 2;
        uint8_t *nb = moted__realloc(c->wbuf, cap);
        if (!nb)
            return -1;
        c->wbuf = nb;
        c->wcap = (uint32_t)cap;
    }
    mote_codec_encode(p, c->version ? c->version : MOTE_V311, c->wbuf + c->wlen, size, &written);
    c->wlen += (uint32_t)written;
    if (!c->in_flush_list) {
        c->in_flush_list = 1;
        c->flush_next = c->w->flush_list;
        c->w->flush_list = c;
    }
    return 0;
}

int moted__conn_flush(struct moted_conn *c)
{
    struct moted_worker *w = c->w;
    if (moted__store_holds(c)) {
        /* Acknowledgements wait for their commit: before_sleep flushes after it. */
        if (c->want_write) {
            c->want_write = 0;
            moted__loop_del(&w->loop, c->fd, MOTED_WRITABLE);
        }
        if (!c->in_flush_list) {
            c->in_flush_list = 1;
            c->flush_next = w->flush_list;
            w->flush_list = c;
        }
        return 0;
    }
    while (c->woff < c->wlen) {
        long n = c->tp->write(c, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0) {
            moted__conn_close(c, "write failed: connection lost");
            return -1;
        }
        if (n == 0) {
            if (!c->want_write) {
                c->want_write = 1;
                moted__loop_add(&w->loop, c->fd, MOTED_WRITABLE, on_io, c);
            }
            return 0;
        }
        c->woff += (uint32_t)n;
    }
    /* All written: give the buffer back, an idle connection keeps none. */
    moted__free(c->wbuf);
    c->wbuf = NULL;
    c->wlen = c->woff = c->wcap = 0;
    if (c->want_write) {
        c->want_write = 0;
        moted__loop_del(&w->loop, c->fd, MOTED_WRITABLE);
    }
    return 0;
}
