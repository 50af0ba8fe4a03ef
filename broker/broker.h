/*
 * broker.h - moted's private header, shared by the files of broker/: messages, sessions,
 * connections, workers, and the functions they call across files (moted__ prefix).
 *
 * Ownership in one paragraph: a message (struct moted_msg) is immutable once made and counted
 * by references, so every session that must deliver it holds one reference and no copy. A
 * session belongs to one worker at a time; only that worker's thread touches it. A connection
 * belongs to the worker that accepted it. The subscription tree, the retained store and the
 * client-id table are shared; each guards itself (see router.c).
 */
#ifndef MOTED_BROKER_H
#define MOTED_BROKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "config.h"
#include "loop.h"
#include "mote/codec.h"
#include "topictree.h"

#define MOTED_VERSION "0.1.0"

/* What we grant a 5.0 client that does not ask (and the most we hold per connection). */
#define MOTED_TOPIC_ALIAS_MAX 10
#define MOTED_MAX_SUB_IDS 8 /* subscription identifiers carried on one delivery */
/*
 * Topic levels moted routes at most, whatever max_topic_levels says: matching walks one level
 * per call, so this bounds the stack it takes (about 100 bytes a level; workers have 8 MB).
 */
#define MOTED_TOPIC_LEVELS_MAX 1024

/* ---------------------------------------------------------------------------------------------
 * Logging (log.c)
 * ------------------------------------------------------------------------------------------- */

void moted__log_setup(const struct moted_config *cfg);
void moted__log(int type, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void moted__log_close(void);

/* ---------------------------------------------------------------------------------------------
 * Messages (msg.c)
 * ------------------------------------------------------------------------------------------- */

struct moted_msg {
    atomic_int refs;
    uint8_t qos;    /* as published */
    uint8_t retain; /* as published */
    uint64_t expire_at_ms; /* 0: never (MQTT 5 message expiry, monotonic clock) */
    const void *origin;    /* publishing session, for No Local; compare only, never follow */
    _Atomic uint64_t store_id; /* its row in the store (store.c), 0: not stored */
    int16_t store_src;     /* the worker that stored it as it was published, -1: later, lazily */
    uint16_t topic_len;
    uint32_t props_len; /* forwardable 5.0 properties, without alias, sub ids, expiry */
    uint32_t payload_len;
    uint8_t data[]; /* topic, props, payload */
};

static inline const uint8_t *moted__msg_topic(const struct moted_msg *m)
{
    return m->data;
}
static inline const uint8_t *moted__msg_props(const struct moted_msg *m)
{
    return m->data + m->topic_len;
}
static inline const uint8_t *moted__msg_payload(const struct moted_msg *m)
{
    return m->data + m->topic_len + m->props_len;
}

/* Makes a message from a decoded PUBLISH (or a will). NULL when out of memory. */
struct moted_msg *moted__msg_new(struct mote_slice topic, const struct mote_props *props,
                                 struct mote_slice payload, uint8_t qos, uint8_t retain,
                                 const void *origin, uint64_t now_ms);
void moted__msg_ref(struct moted_msg *m);
void moted__msg_unref(struct moted_msg *m);
/* Seconds of expiry left (rounded up), 0 if it has none; *expired set when it is past. */
uint32_t moted__msg_expiry_left(const struct moted_msg *m, uint64_t now_ms, int *expired);

/* ---------------------------------------------------------------------------------------------
 * Sessions (session.c)
 * ------------------------------------------------------------------------------------------- */

enum moted_out_state {
    OUT_FREE = 0,
    OUT_WAIT_PUBACK,  /* QoS 1 sent */
    OUT_WAIT_PUBREC,  /* QoS 2 sent */
    OUT_WAIT_PUBCOMP, /* PUBREL sent */
};

/* One outgoing QoS 1/2 message in flight, keyed by its packet id. */
struct moted_out {
    struct moted_msg *msg; /* NULL once PUBREC came (only the id matters then) */
    uint64_t row;          /* its row in the store, 0: none (session not persistent) */
    uint16_t packet_id;
    uint8_t qos;
    uint8_t state;
    uint8_t retain;
    uint8_t sub_id_count;
    uint8_t resend; /* after a resume: to be sent again (DUP) when the window allows */
    uint32_t sub_ids[MOTED_MAX_SUB_IDS];
};

/* A delivery waiting for the in-flight window or for the client to come back. */
struct moted_queued {
    struct moted_msg *msg;
    uint64_t row; /* its row in the store, 0: none */
    uint8_t qos;
    uint8_t retain;
    uint8_t sub_id_count;
    uint32_t sub_ids[MOTED_MAX_SUB_IDS];
    struct moted_queued *next;
};

/* A subscription as the session remembers it (the tree has the routing copy). */
struct moted_session_sub {
    uint8_t *filter;
    size_t filter_len;
    struct moted_session_sub *next;
};

struct moted_conn;
struct moted_worker;
struct moted_post;
struct moted_broker;
struct moted_listener_rt;

struct moted_session {
    char *client_id; /* points into id_store */
    uint64_t sid;    /* its row in the store, 0: not stored (it ends with its connection) */
    size_t client_id_len;
    struct moted_conn *conn; /* NULL while offline */
    struct moted_worker *owner;
    uint8_t version;
    uint8_t clean;              /* 3.1.1 clean session (expires at disconnect) */
    uint32_t expiry_interval;   /* seconds; 0xFFFFFFFF never */
    struct moted_timer expiry_timer;

    /*
     * Outgoing QoS 1/2 in flight, oldest first: a ring of out_len slots from out_head, some of
     * which may be free (acknowledged out of order). out_count live ones, at most `window`.
     */
    struct moted_out *out;
    uint32_t out_cap, out_head, out_len, out_count;
    uint16_t window; /* the client's receive maximum, capped by max_inflight_messages */
    uint16_t next_id;
    uint16_t resend_pending; /* in-flight entries marked `resend`, not yet sent again */

    struct moted_queued *queue_head, *queue_tail;
    size_t queue_count, queue_bytes;
    uint32_t queue_dropped; /* deliveries dropped because the queue was full (logged) */

    /* Incoming QoS 2: packet ids received (PUBREC sent) awaiting PUBREL. */
    uint16_t *in_qos2;
    uint16_t in_qos2_count, in_qos2_cap;

    struct moted_session_sub *subs;
    size_t sub_count;

    /* Will: set at CONNECT, published on an abnormal close after its delay. */
    struct moted_msg *will;
    uint32_t will_delay;
    struct moted_timer will_timer;

    char *username; /* of its latest CONNECT (NULL: none): ACL checks while it is offline */

    struct moted_session *hash_next; /* client-id table chain */
    uint64_t match_mark;             /* router.c: one delivery per message per session */
    uint32_t match_slot;
    char id_store[]; /* the client id, NUL-terminated: one allocation per session */
};

struct moted_session *moted__session_new(const uint8_t *id, size_t len);
void moted__session_free(struct moted_session *s);
/* Drops in-flight state, queue and subscriptions (clean start / clean session). */
void moted__session_clear(struct moted_session *s);
/* Appends a delivery of m (one more reference) to s's queue, with its store row; NULL: no memory. */
struct moted_queued *moted__session_queue_add(struct moted_session *s, struct moted_msg *m,
                                              uint8_t qos, uint8_t retain, const uint32_t *sub_ids,
                                              uint8_t nsub, uint64_t row);
struct moted_out *moted__session_out_find(struct moted_session *s, uint16_t id);
/* A new in-flight slot with a fresh packet id; NULL when the window is full or no memory. */
struct moted_out *moted__session_out_add(struct moted_session *s);
void moted__session_out_del(struct moted_session *s, struct moted_out *o);
/* A slot for an in-flight message read from the store, with its packet id (no window check). */
struct moted_out *moted__session_out_restore(struct moted_session *s, uint16_t packet_id);
/* The i-th slot of the ring, oldest first (may be OUT_FREE). */
static inline struct moted_out *moted__session_out_at(struct moted_session *s, uint32_t i)
{
    return &s->out[(s->out_head + i) & (s->out_cap - 1)];
}
int moted__session_qos2_has(const struct moted_session *s, uint16_t id);
int moted__session_qos2_add(struct moted_session *s, uint16_t id);
void moted__session_qos2_del(struct moted_session *s, uint16_t id);

/* ---------------------------------------------------------------------------------------------
 * Connections (conn.c): bytes in, packets out, batched writes
 * ------------------------------------------------------------------------------------------- */

/*
 * The transport seam (Redis's connection.h): plain TCP now, TLS in its own file later.
 * read/write return bytes moved, 0 = try again later, -1 = closed or failed.
 */
struct moted_transport {
    const char *name;
    long (*read)(struct moted_conn *c, void *buf, size_t len);
    long (*write)(struct moted_conn *c, const void *buf, size_t len);
    void (*close)(struct moted_conn *c);
    /* Optional: 1 when bytes already decoded wait to be read (no socket event will come). */
    int (*pending)(struct moted_conn *c);
    /* Optional: drives a handshake: 1 done, 0 in progress, -1 failed (connection closed). */
    int (*step)(struct moted_conn *c);
};

extern const struct moted_transport moted__tcp_transport;
extern const struct moted_transport moted__tls_transport;

/* TLS listeners and connections (tls.c). */
struct moted_tls_listener {
    pthread_mutex_t lock; /* guards ctx: SIGHUP swaps it */
    struct ssl_ctx_st *ctx;
    char ca_subject[256];    /* the CA devices must trust, for log lines */
    char ca_fingerprint[100];
    char key_desc[32];       /* "ECDSA 256", "RSA 2048" */
    size_t chain_bytes;      /* what we send in the certificate flight */
    int is_rsa;
    char ciphers[512];       /* the settings in force, as failure lines quote them */
    int min_version;
};
int moted__tls_listener_init(struct moted_listener_rt *rt, char *err, size_t errlen);
void moted__tls_listener_reload(struct moted_listener_rt *rt, const struct moted_listener *l);
void moted__tls_listener_free(struct moted_listener_rt *rt);
int moted__tls_conn_start(struct moted_conn *c);
int moted__tls_handshaking(const struct moted_conn *c);

enum moted_conn_state {
    CONN_NEW,       /* waiting for CONNECT */
    CONN_ACTIVE,    /* CONNACK sent */
    CONN_CLOSING,   /* flushing what is queued, then closing */
};

struct moted_listener_rt; /* a listening socket (main.c) */
struct moted_listener;

/* A peer address in 20 bytes (a sockaddr_in6 takes 28, its text up to 48). */
struct moted_addr {
    uint8_t ip[16];
    uint16_t port;
    uint8_t family; /* AF_INET or AF_INET6; 0 unknown */
};

enum moted_timer_kind { MOTED_TIMER_CONN, MOTED_TIMER_WILL, MOTED_TIMER_EXPIRY };

/* Topics a 5.0 client set for aliases 1..MOTED_TOPIC_ALIAS_MAX. */
struct moted_aliases {
    uint8_t *topic[MOTED_TOPIC_ALIAS_MAX + 1];
    uint16_t len[MOTED_TOPIC_ALIAS_MAX + 1];
};

struct moted_conn {
    int fd;
    struct moted_worker *w;
    const struct moted_transport *tp;
    struct moted_listener_rt *listener;
    struct moted_addr addr; /* the peer, for logs: moted__peer(c) formats it */
    enum moted_conn_state state;
    uint8_t version;
    uint8_t want_write;  /* registered for writable */
    uint8_t in_flush_list;
    uint8_t will_suppressed; /* normal DISCONNECT */
    uint8_t closed;
    uint8_t explained;    /* the failure already has its log line: the close is a debug line */
    uint8_t tls_identity; /* username comes from the client certificate */
    uint64_t hold_seq;    /* output waits until the store committed this batch (store.c) */
    void *tls;            /* tls.c's state, NULL on plain TCP */

    uint8_t *rbuf;
    uint32_t rlen, rcap, rwant; /* rwant: size of the partial packet held, when known */
    uint8_t *wbuf;
    uint32_t wlen, woff, wcap; /* what is queued stays under MAX_PENDING_OUT */

    uint16_t keep_alive;
    uint64_t last_rx_ms;
    struct moted_timer ka_timer;

    uint32_t max_packet_out; /* client's maximum packet size (5.0), 0: protocol maximum */
    uint16_t receive_max_out; /* client's receive maximum: our outgoing QoS>0 window */
    uint16_t topic_alias_max_in; /* what we granted */
    struct moted_aliases *aliases; /* client->server topic aliases, made at first use */
    uint8_t request_problem_info;

    struct moted_session *session;
    char *username;

    struct moted_conn *flush_next;  /* worker's list of connections with output */
    struct moted_conn *prev, *next; /* worker's open connections; `next` links the dead list */
};

/* "address:port" of the peer, in one of a few per-thread buffers (for log lines). */
const char *moted__peer(const struct moted_conn *c);
void moted__addr_set(struct moted_addr *a, const void *sockaddr);
void moted__conn_on_timer(struct moted_loop *loop, struct moted_timer *t);
void moted__proto_on_timer(struct moted_loop *loop, struct moted_timer *t);

/* Queues an encoded packet for the connection (flushed once per loop turn). 0, or -1. */
int moted__conn_send(struct moted_conn *c, const struct mote_packet *p);
/* Sends a 5.0 DISCONNECT with reason (nothing in 3.1.1), then closes after flushing. */
void moted__conn_disconnect(struct moted_conn *c, uint8_t reason, const char *why);
/* Closes now; publishes the will unless suppressed. */
void moted__conn_close(struct moted_conn *c, const char *why);
/* Handles what a connection has received but not yet read (before a takeover). */
void moted__conn_read_pending(struct moted_conn *c);
/* The store failed the commit this connection's output waits for: drop that output and close
 * (5.0: DISCONNECT 0x97), so the client sends again instead of waiting. */
void moted__conn_store_failed(struct moted_conn *c);
/* Asks for a writable event (a handshake that must send). */
void moted__conn_want_write(struct moted_conn *c);
/* Writes out what is queued; returns -1 if the connection died. */
int moted__conn_flush(struct moted_conn *c);
/* Closes every connection of the worker (shutdown), telling 5.0 clients why. */
void moted__conn_close_all(struct moted_worker *w);
/* Frees the connections closed during this turn (before_sleep). */
void moted__conn_reap(struct moted_worker *w);
/* Bytes queued for the connection and not yet written. */
static inline size_t moted__conn_pending(const struct moted_conn *c)
{
    return c->wlen - c->woff;
}
void moted__conn_accept(struct moted_worker *w, int fd, struct moted_listener_rt *l,
                        const void *sockaddr);
/* Takes over a connection another worker handed here (its CONNECT hashed to this worker). */
void moted__conn_adopt(struct moted_worker *w, struct moted_conn *c);
/* Stops reading and timers of c on its worker, to hand it to worker `to`. */
int moted__conn_handover(struct moted_conn *c, int to);
/* Closes and frees a connection still in a post (shutdown). */
void moted__conn_discard(struct moted_conn *c);

/* ---------------------------------------------------------------------------------------------
 * Protocol (proto.c): one handler per packet, and deliveries to sessions
 * ------------------------------------------------------------------------------------------- */

/* Handles one framed packet. Returns 0, or -1 when the connection was closed. */
int moted__proto_packet(struct moted_conn *c, const uint8_t *pkt, size_t len);
/* Offers message m to session s at the given QoS. Sends now, or queues, or drops (counted). */
void moted__proto_deliver(struct moted_session *s, struct moted_msg *m, uint8_t qos,
                          uint8_t retain, const uint32_t *sub_ids, uint8_t sub_id_count);
/* The same, for a delivery whose store row another worker already wrote (a share group's home
 * picked s): `row` is taken over, or deleted if the delivery is not kept. */
void moted__proto_deliver_row(struct moted_session *s, struct moted_msg *m, uint8_t qos,
                              uint8_t retain, const uint32_t *sub_ids, uint8_t sub_id_count,
                              uint64_t row);
/* Sends what the window allows from the session's queue. */
void moted__proto_drain(struct moted_session *s);
/* A connection went away: detach its session, arm will and expiry. */
void moted__proto_conn_gone(struct moted_conn *c);

/* ---------------------------------------------------------------------------------------------
 * Routing (router.c)
 *
 * No lock on the publish path. Each worker owns what its sessions subscribed to (its own tree),
 * its own replica of the retained messages, and the shared-subscription groups that hash to it.
 * A client id hashes to one home worker, so a session lives on one worker forever and a CONNECT
 * that arrives elsewhere hands its connection over. A message published on one worker is matched
 * there and posted (one reference, batched per loop turn) to every other worker, which matches
 * it against its own tree: every worker sees every message in publish order.
 * ------------------------------------------------------------------------------------------- */

/* Delivers m, published on w, everywhere (local now, other workers after this loop turn). */
void moted__router_publish(struct moted_worker *w, struct moted_msg *m);
/* Matches m against w's own subscriptions, retained replica and share groups. */
void moted__router_local(struct moted_worker *w, struct moted_msg *m);
/* Adds a subscription of s; returns 0 new, 1 replaced, -1 no memory. */
int moted__router_subscribe(struct moted_session *s, const struct mote_subscription *sub,
                            uint32_t sub_id);
/* Removes it; returns 1 if it existed. */
int moted__router_unsubscribe(struct moted_session *s, struct mote_slice filter);
void moted__router_unsubscribe_all(struct moted_session *s);
/* Sends the retained messages matching the subscription to s. */
void moted__router_send_retained(struct moted_session *s, const struct mote_subscription *sub,
                                 uint32_t sub_id);

/* On a share group's home worker: applies a POST_SHARE_ADD or POST_SHARE_DEL. */
void moted__router_share_apply(struct moted_worker *w, struct moted_post *p);
int moted__router_init_worker(struct moted_worker *w);
void moted__router_free_worker(struct moted_worker *w);

/* Sessions of a worker by client id. */
struct moted_session *moted__sessions_find(struct moted_worker *w, const uint8_t *id, size_t len);
int moted__sessions_add(struct moted_worker *w, struct moted_session *s);
void moted__sessions_remove(struct moted_worker *w, struct moted_session *s);
/* The worker a client id lives on (moted__home_of: with `count` workers). */
int moted__home_worker(const struct moted_broker *b, const uint8_t *id, size_t len);
int moted__home_of(int count, const uint8_t *id, size_t len);
/* Puts m into w's replica of the retained messages (restoring the store). */
void moted__router_retain(struct moted_worker *w, struct moted_msg *m);

/* ---------------------------------------------------------------------------------------------
 * The store (store.c): SQLite in WAL mode, so nothing acknowledged is lost
 *
 * A worker records what must outlive a crash as operations in its batch during a loop turn and
 * hands the batch to the store thread at the end of the turn; the store thread writes the
 * batches of all workers in one transaction. A connection whose output depends on an operation
 * carries the batch's number (hold_seq) and is not flushed before that batch is on disk: an
 * acknowledgement never leaves before what it acknowledges. When a commit fails (a full disk)
 * the batches are kept and retried every second, and the clients that waited are told.
 * docs/persistence.md.
 * ------------------------------------------------------------------------------------------- */

struct moted_store;

struct moted_batch {
    uint8_t *buf; /* operations being recorded (struct store_op records, store.c) */
    size_t len, cap;
    uint8_t *sbuf; /* the batch handed to the store thread (one in flight per worker) */
    size_t slen, scap;
    uint64_t seq;       /* number of the batch being filled */
    uint64_t submitted; /* number of the batch in sbuf, 0: none */
    uint64_t committed; /* the last batch on disk, as this worker knows it */
    _Atomic uint64_t done; /* set by the store thread when `submitted` is on disk */
    int pending;        /* under the store's lock: sbuf waits for the store thread */
    int cancelled;      /* the store thread marked sbuf's cancelling pairs */
    uint64_t *routed;   /* per source worker: the newest stored message of it matched here */
    uint64_t *routed_sub, *routed_done; /* ... as submitted, as on disk */
    uint64_t *ht;       /* store thread: scratch table for cancelling pairs */
    size_t ht_cap;
};

/* Opens (or creates) the store and checks it; before the workers exist. 0, or -1 with err. */
int moted__store_open(struct moted_broker *b, char *err, size_t errlen);
/* Rebuilds sessions, queues and retained messages in the workers (before they start). */
int moted__store_restore(struct moted_broker *b, char *err, size_t errlen);
void moted__store_close(struct moted_broker *b);
int moted__store_worker_init(struct moted_worker *w);
void moted__store_worker_free(struct moted_worker *w);
/* Makes w's batch the one this thread's message frees report to (NULL: none, at shutdown). */
void moted__store_bind(struct moted_worker *w);
/* Starts the store thread (after the restore). */
int moted__store_start(struct moted_broker *b);
/* Hands w's batch to the store thread when none of w's is in flight; takes back a finished one. */
int moted__store_commit(struct moted_worker *w);
/* Commits everything w recorded and waits for it (a worker stopping). -1 if the store fails. */
int moted__store_sync(struct moted_worker *w);
/* 1 while a connection's output must wait for the store. */
static inline int moted__store_holds(const struct moted_conn *c);
/* 1 while the store cannot write (new QoS 1/2 messages are refused). */
int moted__store_failing(const struct moted_worker *w);

/* What must be written: each records an operation in the owner worker's batch. */
void moted__store_published(struct moted_worker *w, struct moted_msg *m,
                            const struct moted_session *origin);
void moted__store_routed(struct moted_worker *w, const struct moted_msg *m);
void moted__store_session(struct moted_session *s, int online);
void moted__store_session_del(struct moted_session *s);
void moted__store_sub(struct moted_session *s, const struct mote_subscription *sub,
                      uint32_t sub_id, int is_new);
void moted__store_unsub(struct moted_session *s, const uint8_t *filter, size_t len);
/* A delivery of m to s: returns its row (0 when s is not stored). */
uint64_t moted__store_queue_put(struct moted_session *s, struct moted_msg *m, uint8_t qos,
                                uint8_t retain, const uint32_t *sub_ids, uint8_t nsub,
                                uint16_t packet_id, uint8_t state);
void moted__store_queue_set(struct moted_session *s, uint64_t row, uint16_t packet_id,
                            uint8_t state);
void moted__store_queue_del(struct moted_session *s, uint64_t row);
/* On a share group's home: the row of a delivery to a member stored as session `sid` elsewhere. */
uint64_t moted__store_queue_put_for(struct moted_worker *w, uint64_t sid, struct moted_msg *m,
                                    uint8_t qos, const uint32_t *sub_ids, uint8_t nsub);
/* Deletes a row w was handed and will not use. */
void moted__store_row_del(struct moted_worker *w, uint64_t row);
void moted__store_qos2(struct moted_session *s, uint16_t packet_id, int add);
void moted__store_retained(struct moted_worker *w, struct moted_msg *m);
/* A stored message was freed: its row goes (msg.c). */
void moted__store_msg_gone(uint64_t id);

/* ---------------------------------------------------------------------------------------------
 * Workers (worker.c) and the broker (main.c)
 * ------------------------------------------------------------------------------------------- */

struct moted_listener_rt {
    int *fds; /* one listening socket per worker (SO_REUSEPORT) */
    const struct moted_listener *cfg;
    struct moted_tls_listener *tls; /* NULL: plain MQTT */
    int allow_anonymous;
    atomic_int connections;
};

/* What one worker posts to another. */
enum moted_post_kind {
    POST_MSG,        /* match this message locally */
    POST_DELIVER,    /* deliver to the session with this client id (a share group's pick) */
    POST_ADOPT,      /* take over this connection (its CONNECT hashed here) */
    POST_SHARE_ADD,  /* add a member to a share group homed here */
    POST_SHARE_DEL,  /* remove one */
    POST_STOP,
};

struct moted_post {
    enum moted_post_kind kind;
    struct moted_msg *msg;
    struct moted_conn *conn;
    uint8_t qos, retain;
    uint32_t sub_id;
    uint8_t *key; /* client id (DELIVER), or filter (SHARE_*) */
    size_t key_len;
    uint8_t *client_id; /* SHARE_*: member */
    size_t client_id_len;
    int from;         /* worker index of the member (SHARE_*) */
    uintptr_t member; /* the member's identity (SHARE_*) */
    uint64_t sid;     /* the member's store row (SHARE_ADD), or the session a row is for (DELIVER) */
    uint64_t row;     /* DELIVER: the queue row the group's home wrote for it, 0: none */
    struct mote_subscription opts;
    struct moted_post *next;
};

struct moted_worker {
    struct moted_broker *b;
    int index;
    pthread_t thread;
    struct moted_loop loop;
    struct moted_conn *flush_list;
    struct moted_conn *dead_list; /* closed this turn, freed before sleeping */
    struct moted_conn *conns;     /* open connections */
    size_t conn_count;

    /* Inbox: other workers append under the lock; this worker takes the whole list. */
    pthread_mutex_t inbox_lock;
    struct moted_post *inbox_head, *inbox_tail;
    /* Outboxes to each other worker, filled during a turn, handed over before sleeping. */
    struct moted_post **out_head, **out_tail;

    /* Owned by this worker's thread alone. */
    struct moted_tree tree;     /* subscriptions of this worker's sessions */
    struct moted_tree retained; /* replica: topic -> retained message (sub.owner = msg) */
    struct moted_tree shares;   /* share groups homed here: members by client id */
    struct moted_session **sessions;
    size_t session_cap, session_count;
    uint64_t next_auto_id;

    /* router.c: the deliveries one message makes, one per session */
    struct moted_delivery *scratch;
    size_t scratch_len, scratch_cap;
    uint64_t match_gen;

    /* conn.c: every read lands here first, so an idle connection holds no buffer */
    uint8_t *rbuf;
    size_t rbuf_cap;

    struct moted_batch batch; /* store.c: this turn's writes */
};

struct moted_delivery {
    struct moted_session *s;
    uint8_t qos, retain, sub_id_count;
    uint32_t sub_ids[MOTED_MAX_SUB_IDS];
};

int moted__worker_init(struct moted_worker *w, struct moted_broker *b, int index, int setsize);
/* After the thread stopped: closes connections, frees sessions and everything else. */
void moted__worker_free(struct moted_worker *w);
/* Queues a post for worker `to` (sent when this turn ends). Takes ownership of p. */
void moted__worker_post(struct moted_worker *from, int to, struct moted_post *p);
int moted__worker_start(struct moted_worker *w);
/* Accepts on listening socket `listener` (its fd for this worker exists now). */
int moted__worker_listen(struct moted_worker *w, size_t listener);

struct moted_broker {
    struct moted_config cfg; /* as started: listeners and workers come from here */
    /*
     * The settings in force: an immutable snapshot that SIGHUP replaces whole, so workers read
     * it without a lock (moted__cfg). Replaced snapshots are kept until shutdown.
     */
    _Atomic(struct moted_config *) live_cfg;
    struct moted_config **retired;
    size_t retired_count;
    struct moted_listener_rt *listeners;
    size_t listener_count;
    struct moted_worker *workers;
    int worker_count;
    atomic_int connections;
    atomic_int stopping;
    atomic_ulong dropped; /* deliveries dropped: queue limits, expiry */
    struct moted_store *store; /* NULL: persistence false */
    atomic_long durable_subs;  /* subscriptions of stored sessions: 0 means no message is stored */
};

static inline int moted__store_holds(const struct moted_conn *c)
{
    return c->hold_seq > c->w->batch.committed;
}

static inline const struct moted_config *moted__cfg(const struct moted_broker *b)
{
    return atomic_load_explicit(&((struct moted_broker *)b)->live_cfg, memory_order_acquire);
}

#endif /* MOTED_BROKER_H */
