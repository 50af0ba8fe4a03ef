/*
 * worker.c - a worker thread: its event loop, the connections it accepted, and the mailbox
 * through which other workers hand it messages, deliveries and connections. Posts made during
 * a loop turn go out together before the loop sleeps: one lock and one wake-up per peer per turn.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "tls_record.h"

#define WORKER_RBUF_SIZE (64 * 1024)

void moted__worker_post(struct moted_worker *from, int to, struct moted_post *p)
{
    p->next = NULL;
    if (from->out_tail[to])
        from->out_tail[to]->next = p;
    else
        from->out_head[to] = p;
    from->out_tail[to] = p;
}

/* Hands this turn's posts to their workers. */
static void send_posts(struct moted_worker *w)
{
    for (int i = 0; i < w->b->worker_count; i++) {
        struct moted_worker *to = &w->b->workers[i];
        if (!w->out_head[i])
            continue;
        pthread_mutex_lock(&to->inbox_lock);
        if (to->inbox_tail)
            to->inbox_tail->next = w->out_head[i];
        else
            to->inbox_head = w->out_head[i];
        to->inbox_tail = w->out_tail[i];
        pthread_mutex_unlock(&to->inbox_lock);
        w->out_head[i] = w->out_tail[i] = NULL;
        moted__loop_wake(&to->loop);
    }
}

static void post_free(struct moted_post *p)
{
    moted__msg_unref(p->msg);
    moted__free(p->key);
    moted__free(p->client_id);
    moted__free(p);
}

static void on_wake(struct moted_loop *loop, void *data)
{
    struct moted_worker *w = data;
    struct moted_post *p, *next;
    (void)loop;

    pthread_mutex_lock(&w->inbox_lock);
    p = w->inbox_head;
    w->inbox_head = w->inbox_tail = NULL;
    pthread_mutex_unlock(&w->inbox_lock);

    for (; p; p = next) {
        next = p->next;
        switch (p->kind) {
        case POST_MSG:
            moted__router_local(w, p->msg);
            moted__store_routed(w, p->msg); /* committed with the queue rows it made */
            break;
        case POST_DELIVER: {
            struct moted_session *s = moted__sessions_find(w, p->key, p->key_len);
            uint64_t row = p->row;
            if (row && (!s || s->sid != p->sid)) { /* the session it was written for is gone */
                moted__store_row_del(w, row);
                row = 0;
            }
            if (s)
                moted__proto_deliver_row(s, p->msg, p->qos, 0, &p->sub_id, p->sub_id ? 1 : 0,
                                         row);
            break;
        }
        case POST_ADOPT:
            moted__conn_adopt(w, p->conn);
            break;
        case POST_SHARE_ADD:
        case POST_SHARE_DEL:
            moted__router_share_apply(w, p);
            break;
        case POST_STOP:
            moted__loop_stop(&w->loop);
            break;
        }
        post_free(p);
    }
}

static void before_sleep(struct moted_loop *loop, void *data)
{
    struct moted_worker *w = data;
    struct moted_conn *held = NULL;
    (void)loop;
    /*
     * The store first (this turn's writes go to the store thread, a finished batch comes back),
     * then the posts, then the output: once a publisher holds its PUBACK the message is on disk
     * and every worker has it in its mailbox (see moted__loop_turn). Output that waits for a
     * batch still on its way to the disk stays in the flush list; the store thread wakes this
     * loop when it is written. Other workers store their queue rows for a message in their own
     * batches; store.c explains why that loses nothing.
     */
    moted__store_commit(w);
    send_posts(w);
    /* Flush every connection that has output: one write per connection per turn. */
    while (w->flush_list) {
        struct moted_conn *c = w->flush_list;
        w->flush_list = c->flush_next;
        c->flush_next = NULL;
        if (!c->closed && moted__store_holds(c)) { /* waits for a commit that failed */
            if (moted__store_failing(w)) {
                c->in_flush_list = 0;
                moted__conn_store_failed(c);
                continue;
            }
            c->flush_next = held;
            held = c;
            continue;
        }
        c->in_flush_list = 0;
        if (!c->closed)
            moted__conn_flush(c);
    }
    w->flush_list = held;
    moted__conn_reap(w);
    /* Flushing can post and store too (a will published as a connection dies). */
    moted__store_commit(w);
    send_posts(w);
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(out, len, "%s:%d", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(out, len, "[%s]:%d", host, port);
    } else {
        snprintf(out, len, "unknown");
    }
}

static void on_accept(struct moted_loop *loop, int fd, void *data, int mask)
{
    struct moted_worker *w = data;
    struct moted_listener_rt *l = NULL;
    (void)mask;
    (void)loop;
    for (size_t i = 0; i < w->b->listener_count; i++)
        if (w->b->listeners[i].fds[w->index] == fd)
            l = &w->b->listeners[i];
    if (!l)
        return;
    for (int n = 0; n < 64; n++) { /* bounded: other events get their turn */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        char peer[48];
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                moted__log(MOTED_LOG_WARNING,
                           "cannot accept: out of file descriptors (raise the limit: ulimit -n)");
            return;
        }
        peer_name(&ss, peer, sizeof peer);
        if (l->cfg->max_connections >= 0 &&
            atomic_load(&l->connections) >= l->cfg->max_connections) {
            moted__log(MOTED_LOG_NOTICE, "%s refused: listener on port %u is at max_connections %d",
                       peer, l->cfg->port, l->cfg->max_connections);
            close(cfd);
            continue;
        }
        if (moted__cfg(w->b)->set_tcp_nodelay) {
            int one = 1;
            setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        moted__conn_accept(w, cfd, l, &ss);
    }
}

static void *worker_main(void *arg)
{
    struct moted_worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "moted-w%d", w->index);
    pthread_setname_np(pthread_self(), name);
    moted__store_bind(w);
    moted__loop_run(&w->loop);
    moted__store_sync(w);
    moted__tls_rl_thread_done();
    return NULL;
}

/* see broker.h */
int moted__worker_init(struct moted_worker *w, struct moted_broker *b, int index, int setsize)
{
    memset(w, 0, sizeof *w);
    w->b = b;
    w->index = index;
    pthread_mutex_init(&w->inbox_lock, NULL);
    w->out_head = moted__calloc((size_t)b->worker_count, sizeof *w->out_head);
    w->out_tail = moted__calloc((size_t)b->worker_count, sizeof *w->out_tail);
    w->rbuf_cap = WORKER_RBUF_SIZE;
    w->rbuf = moted__malloc(w->rbuf_cap);
    if (!w->out_head || !w->out_tail || !w->rbuf || moted__loop_init(&w->loop, setsize) ||
        moted__router_init_worker(w) || moted__store_worker_init(w))
        return -1;
    w->loop.before_sleep = before_sleep;
    w->loop.before_sleep_data = w;
    w->loop.on_wake = on_wake;
    w->loop.on_wake_data = w;
    moted__loop_on_timer(&w->loop, MOTED_TIMER_CONN, moted__conn_on_timer);
    moted__loop_on_timer(&w->loop, MOTED_TIMER_WILL, moted__proto_on_timer);
    moted__loop_on_timer(&w->loop, MOTED_TIMER_EXPIRY, moted__proto_on_timer);
    return 0;
}

int moted__worker_listen(struct moted_worker *w, size_t listener)
{
    return moted__loop_add(&w->loop, w->b->listeners[listener].fds[w->index], MOTED_READABLE,
                           on_accept, w);
}

int moted__worker_start(struct moted_worker *w)
{
    /* A known stack, whatever the C library's default: topic matching recurses per level. */
    pthread_attr_t attr;
    int rc;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 8u * 1024u * 1024u);
    rc = pthread_create(&w->thread, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    return rc ? -1 : 0;
}

void moted__worker_free(struct moted_worker *w)
{
    struct moted_post *p, *next;
    moted__conn_close_all(w);
    /* Sessions go without their wills: a broker shutting down is not a client failing. */
    for (size_t i = 0; i < w->session_cap; i++) {
        for (struct moted_session *s = w->sessions[i], *sn; s; s = sn) {
            sn = s->hash_next;
            moted__timer_cancel(&w->loop, &s->will_timer);
            moted__timer_cancel(&w->loop, &s->expiry_timer);
            moted__session_free(s);
        }
    }
    moted__free(w->sessions);
    w->sessions = NULL;
    for (p = w->inbox_head; p; p = next) {
        next = p->next;
        if (p->kind == POST_ADOPT && p->conn)
            moted__conn_discard(p->conn);
        post_free(p);
    }
    w->inbox_head = w->inbox_tail = NULL;
    for (int i = 0; w->out_head && i < w->b->worker_count; i++)
        for (p = w->out_head[i]; p; p = next) {
            next = p->next;
            if (p->kind == POST_ADOPT && p->conn) /* handed over in the turn that stopped */
                moted__conn_discard(p->conn);
            post_free(p);
        }
    moted__router_free_worker(w);
    moted__store_worker_free(w);
    moted__free(w->out_head);
    moted__free(w->out_tail);
    moted__free(w->rbuf);
    moted__loop_free(&w->loop);
    pthread_mutex_destroy(&w->inbox_lock);
}
