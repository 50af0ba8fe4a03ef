/*
 * store.c - moted's durable state in SQLite (WAL mode): retained messages, persistent sessions
 * with their subscriptions, queued and in-flight QoS 1/2 deliveries, and the QoS 2 packet ids
 * received. docs/persistence.md explains the design; the short form:
 *
 * - Workers never touch SQLite while they handle packets. Each records operations in its own
 *   batch (struct store_op records in a byte buffer) and commits the batch in one transaction
 *   at the end of its loop turn, before its posts and its output leave: group commit, and an
 *   acknowledgement never precedes what it acknowledges.
 * - A QoS 1/2 message is stored by the worker it was published on, before the PUBACK/PUBREC,
 *   whenever some stored session has a subscription (durable_subs). The other workers match it
 *   after that commit and store their own queue rows in their own batches. Each records, per
 *   source worker, the newest stored message it has matched (table routed): after a crash, a
 *   message a worker had not matched yet is matched again against that worker's sessions
 *   only. Nothing acknowledged is lost and nothing is queued twice.
 * - Rows are keyed by numbers drawn from atomic counters (message ids, queue rows, session
 *   ids), so recording an operation needs no lock and no round trip.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

#define STORE_FORMAT 1          /* PRAGMA user_version of the schema below */
#define STORE_APP_ID 0x4D4F5445 /* PRAGMA application_id: "MOTE" */
#define RETRY_MS 1000           /* a failed commit is tried again after this */

static const char *const schema =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;"
    /* QoS 1/2 messages queued or in flight somewhere; src: the worker that stored it as it was
     * published (NULL: every worker has matched it); origin: the publisher's client id. */
    "CREATE TABLE msgs(id INTEGER PRIMARY KEY, src INTEGER, origin BLOB, topic BLOB NOT NULL,"
    " props BLOB, payload BLOB, qos INTEGER NOT NULL, retain INTEGER NOT NULL,"
    " expire_at INTEGER NOT NULL);"
    /* per (source worker, worker): the newest stored message of src that dst has matched */
    "CREATE TABLE routed(src INTEGER, dst INTEGER, upto INTEGER NOT NULL,"
    " PRIMARY KEY(src, dst)) WITHOUT ROWID;"
    "CREATE TABLE sessions(sid INTEGER PRIMARY KEY, client_id BLOB NOT NULL,"
    " version INTEGER NOT NULL, expiry INTEGER NOT NULL, offline_since INTEGER NOT NULL,"
    " username BLOB);"
    /* options: the 5.0 subscription options byte (QoS, no local, retain as published, ...) */
    "CREATE TABLE subs(sid INTEGER, filter BLOB, options INTEGER NOT NULL,"
    " sub_id INTEGER NOT NULL, PRIMARY KEY(sid, filter)) WITHOUT ROWID;"
    /* state 0: queued; 1, 2, 3: in flight waiting for PUBACK, PUBREC, PUBCOMP */
    "CREATE TABLE queue(id INTEGER PRIMARY KEY, sid INTEGER NOT NULL, msg INTEGER,"
    " qos INTEGER NOT NULL, retain INTEGER NOT NULL, packet_id INTEGER NOT NULL,"
    " state INTEGER NOT NULL, sub_ids BLOB);"
    "CREATE INDEX queue_sid ON queue(sid);"
    "CREATE TABLE qos2_in(sid INTEGER, packet_id INTEGER, PRIMARY KEY(sid, packet_id))"
    " WITHOUT ROWID;"
    "CREATE TABLE retained(topic BLOB PRIMARY KEY, qos INTEGER NOT NULL, props BLOB,"
    " payload BLOB NOT NULL, expire_at INTEGER NOT NULL) WITHOUT ROWID;";

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_MSG_PUT,
    ST_MSG_DEL,
    ST_SESS_PUT,
    ST_SESS_DEL,
    ST_SESS_DEL_SUBS,
    ST_SESS_DEL_QUEUE,
    ST_SESS_DEL_QOS2,
    ST_SUB_PUT,
    ST_SUB_DEL,
    ST_Q_PUT,
    ST_Q_SET,
    ST_Q_DEL,
    ST_QOS2_ADD,
    ST_QOS2_DEL,
    ST_RET_PUT,
    ST_RET_DEL,
    ST_ROUTED,
    ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_MSG_PUT] = "INSERT OR IGNORE INTO msgs(id, src, origin, topic, props, payload, qos,"
                   " retain, expire_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_MSG_DEL] = "DELETE FROM msgs WHERE id = ?1",
    [ST_SESS_PUT] = "INSERT OR REPLACE INTO sessions(sid, client_id, version, expiry,"
                    " offline_since, username) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_SESS_DEL] = "DELETE FROM sessions WHERE sid = ?1",
    [ST_SESS_DEL_SUBS] = "DELETE FROM subs WHERE sid = ?1",
    [ST_SESS_DEL_QUEUE] = "DELETE FROM queue WHERE sid = ?1",
    [ST_SESS_DEL_QOS2] = "DELETE FROM qos2_in WHERE sid = ?1",
    [ST_SUB_PUT] = "INSERT OR REPLACE INTO subs(sid, filter, options, sub_id)"
                   " VALUES(?1, ?2, ?3, ?4)",
    [ST_SUB_DEL] = "DELETE FROM subs WHERE sid = ?1 AND filter = ?2",
    [ST_Q_PUT] = "INSERT OR REPLACE INTO queue(id, sid, msg, qos, retain, packet_id, state,"
                 " sub_ids) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_Q_SET] = "UPDATE queue SET packet_id = ?2, state = ?3 WHERE id = ?1",
    [ST_Q_DEL] = "DELETE FROM queue WHERE id = ?1",
    [ST_QOS2_ADD] = "INSERT OR IGNORE INTO qos2_in(sid, packet_id) VALUES(?1, ?2)",
    [ST_QOS2_DEL] = "DELETE FROM qos2_in WHERE sid = ?1 AND packet_id = ?2",
    [ST_RET_PUT] = "INSERT OR REPLACE INTO retained(topic, qos, props, payload, expire_at)"
                   " VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_RET_DEL] = "DELETE FROM retained WHERE topic = ?1",
    [ST_ROUTED] = "INSERT OR REPLACE INTO routed(src, dst, upto) VALUES(?1, ?2, ?3)",
};

struct moted_store {
    sqlite3 *db; /* the store thread's alone once it runs */
    pthread_t thread;
    int running, stop;        /* stop: under lock */
    pthread_mutex_t lock;     /* guards the batches' pending flags and stop */
    pthread_cond_t cond;      /* wakes the store thread */
    pthread_cond_t done_cond; /* a commit ended (moted__store_sync waits for it) */
    atomic_int failing;
    sqlite3_stmt *st[ST_COUNT];
    char path[PATH_MAX];
    int fsync_periodic; /* 0: every commit is synced (always) */
    int old_workers;    /* worker count of the run that wrote the store */
    _Atomic uint64_t next_msg, next_row, next_sid;
    uint64_t next_checkpoint_ms; /* persistence_fsync periodic: the store thread's */
    int unsynced;                /* commits since the last checkpoint (periodic) */
    struct moted_worker **take;  /* the store thread's list of batches being written */
};

enum op_kind {
    OP_MSG,
    OP_MSG_DEL,
    OP_SESS,
    OP_SESS_DEL,
    OP_SUB,
    OP_UNSUB,
    OP_QPUT,
    OP_QSET,
    OP_QDEL,
    OP_QOS2_ADD,
    OP_QOS2_DEL,
    OP_RET,
};

/* One recorded write; len1 + len2 bytes follow it (client id and user name, or a filter). */
struct store_op {
    uint8_t kind, qos, retain, state, nsub, version, skip;
    uint16_t packet_id;
    uint32_t num;  /* session expiry, subscription options */
    uint32_t num2; /* subscription identifier */
    uint32_t len1, len2;
    int32_t src;
    uint64_t id, sid, msg_id;
    int64_t when;
    struct moted_msg *m; /* a reference, held until the commit */
    uint32_t sub_ids[MOTED_MAX_SUB_IDS];
};

#define OP_SIZE(o) ((sizeof(struct store_op) + (o)->len1 + (o)->len2 + 7u) & ~(size_t)7u)

static __thread struct moted_worker *bound; /* the worker this thread records for */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wall-clock deadline of a message's expiry (0: none), from its monotonic one. */
static int64_t expire_wall(const struct moted_msg *m)
{
    if (!m->expire_at_ms)
        return 0;
    uint64_t now = moted__now_ms();
    int64_t left = m->expire_at_ms > now ? (int64_t)(m->expire_at_ms - now) : 0;
    return wall_ms() + left;
}

/* ---------------------------------------------------------------------------------------------
 * Recording
 * ------------------------------------------------------------------------------------------- */

/* The batch a session's writes go to, or NULL when nothing is recorded (no store, restore,
 * shutdown after the last commit). */
static struct moted_worker *recording(struct moted_worker *w)
{
    return w && w->b->store && bound == w ? w : NULL;
}

static struct store_op *op_new(struct moted_worker *w, enum op_kind kind, size_t len1, size_t len2)
{
    struct moted_batch *bt = &w->batch;
    size_t need = (sizeof(struct store_op) + len1 + len2 + 7u) & ~(size_t)7u;
    struct store_op *o;
    if (bt->len + need > bt->cap) {
        size_t cap = bt->cap ? bt->cap * 2 : 16384;
        while (cap < bt->len + need)
            cap *= 2;
        uint8_t *buf = moted__realloc(bt->buf, cap);
        if (!buf)
            return NULL;
        bt->buf = buf;
        bt->cap = cap;
    }
    o = (struct store_op *)(bt->buf + bt->len);
    memset(o, 0, sizeof *o);
    o->kind = (uint8_t)kind;
    o->len1 = (uint32_t)len1;
    o->len2 = (uint32_t)len2;
    bt->len += need;
    return o;
}

static uint8_t *op_data(struct store_op *o)
{
    return (uint8_t *)(o + 1);
}

/* The output of s's connection waits for this batch. */
static void hold(struct moted_session *s)
{
    if (s->conn)
        s->conn->hold_seq = s->owner->batch.seq;
}

/* Out of memory for the batch: the write is lost, so say it (and it is counted as dropped). */
static void op_oom(struct moted_worker *w, const char *what)
{
    atomic_fetch_add(&w->b->dropped, 1);
    moted__log(MOTED_LOG_WARNING, "out of memory: %s not written to the store", what);
}

/* Gives m a row (once, whoever comes first) and records its write. */
static uint64_t ensure_stored(struct moted_worker *w, struct moted_msg *m,
                              const struct moted_session *origin)
{
    struct moted_store *st = w->b->store;
    uint64_t id = atomic_load_explicit(&m->store_id, memory_order_acquire), mine;
    size_t olen = origin ? origin->client_id_len : 0;
    struct store_op *o;
    if (id)
        return id;
    mine = atomic_fetch_add(&st->next_msg, 1);
    if (!atomic_compare_exchange_strong(&m->store_id, &id, mine))
        return id; /* another worker stored it a moment ago */
    o = op_new(w, OP_MSG, olen, 0);
    if (!o) {
        op_oom(w, "a message");
        return mine;
    }
    o->id = mine;
    o->src = m->store_src;
    o->qos = m->qos;
    o->retain = m->retain;
    o->when = expire_wall(m);
    o->m = m;
    moted__msg_ref(m);
    if (olen)
        memcpy(op_data(o), origin->client_id, olen);
    return mine;
}

void moted__store_published(struct moted_worker *w, struct moted_msg *m,
                            const struct moted_session *origin)
{
    if (!recording(w) || m->qos == 0 || atomic_load(&w->b->durable_subs) <= 0)
        return;
    m->store_src = (int16_t)w->index; /* before anyone else sees it: posts go after the commit */
    ensure_stored(w, m, origin);
    if (origin && origin->conn)
        origin->conn->hold_seq = w->batch.seq;
}

void moted__store_routed(struct moted_worker *w, const struct moted_msg *m)
{
    uint64_t id;
    if (!recording(w) || m->store_src < 0)
        return;
    id = atomic_load_explicit(&((struct moted_msg *)m)->store_id, memory_order_acquire);
    if (id > w->batch.routed[m->store_src])
        w->batch.routed[m->store_src] = id;
}

void moted__store_session(struct moted_session *s, int online)
{
    struct moted_worker *w = recording(s->owner);
    size_t ulen = s->username ? strlen(s->username) : 0;
    struct store_op *o;
    if (!w)
        return;
    if (!s->expiry_interval) { /* it ends with its connection: nothing to keep */
        moted__store_session_del(s);
        return;
    }
    if (!s->sid)
        s->sid = atomic_fetch_add(&w->b->store->next_sid, 1);
    o = op_new(w, OP_SESS, s->client_id_len, ulen);
    if (!o)
        return op_oom(w, "a session");
    o->sid = s->sid;
    o->version = s->version;
    o->num = s->expiry_interval;
    o->when = online ? 0 : wall_ms();
    memcpy(op_data(o), s->client_id, s->client_id_len);
    if (ulen)
        memcpy(op_data(o) + s->client_id_len, s->username, ulen);
    hold(s);
}

void moted__store_session_del(struct moted_session *s)
{
    struct moted_worker *w = recording(s->owner);
    struct store_op *o;
    if (!w || !s->sid)
        return;
    atomic_fetch_sub(&w->b->durable_subs, (long)s->sub_count);
    o = op_new(w, OP_SESS_DEL, 0, 0);
    if (!o)
        return op_oom(w, "a session's end");
    o->sid = s->sid;
    s->sid = 0;
    hold(s);
}

void moted__store_sub(struct moted_session *s, const struct mote_subscription *sub, uint32_t sub_id,
                      int is_new)
{
    struct moted_worker *w = recording(s->owner);
    struct store_op *o;
    if (!w || !s->sid)
        return;
    if (is_new)
        atomic_fetch_add(&w->b->durable_subs, 1);
    o = op_new(w, OP_SUB, sub->filter.len, 0);
    if (!o)
        return op_oom(w, "a subscription");
    o->sid = s->sid;
    o->num = (uint32_t)(sub->qos | sub->no_local << 2 | sub->retain_as_published << 3 |
                        sub->retain_handling << 4);
    o->num2 = sub_id;
    memcpy(op_data(o), sub->filter.ptr, sub->filter.len);
    hold(s);
}

void moted__store_unsub(struct moted_session *s, const uint8_t *filter, size_t len)
{
    struct moted_worker *w = recording(s->owner);
    struct store_op *o;
    if (!w || !s->sid)
        return;
    atomic_fetch_sub(&w->b->durable_subs, 1);
    o = op_new(w, OP_UNSUB, len, 0);
    if (!o)
        return op_oom(w, "an unsubscribe");
    o->sid = s->sid;
    memcpy(op_data(o), filter, len);
    hold(s);
}

/* A delivery row of stored session `sid`, written in w's batch: its row number, 0 if none. */
static uint64_t queue_put(struct moted_worker *w, uint64_t sid, struct moted_msg *m, uint8_t qos,
                          uint8_t retain, const uint32_t *sub_ids, uint8_t nsub, uint16_t packet_id,
                          uint8_t state)
{
    struct store_op *o;
    uint64_t msg_id, row;
    if (!recording(w) || !sid || qos == 0)
        return 0;
    msg_id = ensure_stored(w, m, NULL);
    row = atomic_fetch_add(&w->b->store->next_row, 1);
    o = op_new(w, OP_QPUT, 0, 0);
    if (!o) {
        op_oom(w, "a queued message");
        return 0;
    }
    o->id = row;
    o->sid = sid;
    o->msg_id = msg_id;
    o->qos = qos;
    o->retain = retain;
    o->packet_id = packet_id;
    o->state = state;
    o->nsub = nsub;
    memcpy(o->sub_ids, sub_ids, nsub * sizeof *sub_ids);
    return row;
}

uint64_t moted__store_queue_put(struct moted_session *s, struct moted_msg *m, uint8_t qos,
                                uint8_t retain, const uint32_t *sub_ids, uint8_t nsub,
                                uint16_t packet_id, uint8_t state)
{
    uint64_t row = queue_put(s->owner, s->sid, m, qos, retain, sub_ids, nsub, packet_id, state);
    if (row && qos == 2 && packet_id) /* exactly once: its packet id is on disk before it is sent */
        hold(s);
    return row;
}

uint64_t moted__store_queue_put_for(struct moted_worker *w, uint64_t sid, struct moted_msg *m,
                                    uint8_t qos, const uint32_t *sub_ids, uint8_t nsub)
{
    return queue_put(w, sid, m, qos, 0, sub_ids, nsub, 0, 0);
}

void moted__store_row_del(struct moted_worker *w, uint64_t row)
{
    struct store_op *o;
    if (!recording(w) || !row)
        return;
    o = op_new(w, OP_QDEL, 0, 0);
    if (!o)
        return op_oom(w, "a delivery's end");
    o->id = row;
}

void moted__store_queue_set(struct moted_session *s, uint64_t row, uint16_t packet_id,
                            uint8_t state)
{
    struct moted_worker *w = recording(s->owner);
    struct store_op *o;
    if (!w || !s->sid || !row)
        return;
    o = op_new(w, OP_QSET, 0, 0);
    if (!o)
        return op_oom(w, "an in-flight state");
    o->id = row;
    o->packet_id = packet_id;
    o->state = state;
    if (state != OUT_WAIT_PUBACK) /* QoS 2: its packet id and state are on disk first */
        hold(s);
}

void moted__store_queue_del(struct moted_session *s, uint64_t row)
{
    if (s->sid)
        moted__store_row_del(s->owner, row);
}

void moted__store_qos2(struct moted_session *s, uint16_t packet_id, int add)
{
    struct moted_worker *w = recording(s->owner);
    struct store_op *o;
    if (!w || !s->sid)
        return;
    o = op_new(w, add ? OP_QOS2_ADD : OP_QOS2_DEL, 0, 0);
    if (!o)
        return op_oom(w, "a QoS 2 packet id");
    o->sid = s->sid;
    o->packet_id = packet_id;
    hold(s);
}

void moted__store_retained(struct moted_worker *w, struct moted_msg *m)
{
    struct store_op *o;
    if (!recording(w))
        return;
    o = op_new(w, OP_RET, 0, 0);
    if (!o)
        return op_oom(w, "a retained message");
    o->qos = m->qos;
    o->when = expire_wall(m);
    o->m = m;
    moted__msg_ref(m);
    if (m->origin) /* the publisher's PUBACK waits for it (a session of this worker) */
        hold((struct moted_session *)m->origin);
}

void moted__store_msg_gone(uint64_t id)
{
    struct moted_worker *w = bound;
    struct store_op *o;
    if (!w || !w->b->store)
        return;
    o = op_new(w, OP_MSG_DEL, 0, 0);
    if (o)
        o->id = id; /* else the row stays until the next start collects it */
}

/* ---------------------------------------------------------------------------------------------
 * Committing
 * ------------------------------------------------------------------------------------------- */

static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    sqlite3_bind_blob(st, i, n ? p : "", (int)n, SQLITE_STATIC);
}

static int apply(struct moted_store *st, struct store_op *o)
{
    sqlite3_stmt *q;
    const uint8_t *d = op_data(o);
    int rc;
    switch (o->kind) {
    case OP_MSG:
        q = st->st[ST_MSG_PUT];
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->id);
        if (o->src >= 0)
            sqlite3_bind_int(q, 2, o->src);
        if (o->len1)
            bind_blob(q, 3, d, o->len1);
        bind_blob(q, 4, moted__msg_topic(o->m), o->m->topic_len);
        bind_blob(q, 5, moted__msg_props(o->m), o->m->props_len);
        bind_blob(q, 6, moted__msg_payload(o->m), o->m->payload_len);
        sqlite3_bind_int(q, 7, o->qos);
        sqlite3_bind_int(q, 8, o->retain);
        sqlite3_bind_int64(q, 9, o->when);
        return run(q);
    case OP_MSG_DEL:
        q = st->st[ST_MSG_DEL];
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->id);
        return run(q);
    case OP_SESS:
        q = st->st[ST_SESS_PUT];
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->sid);
        bind_blob(q, 2, d, o->len1);
        sqlite3_bind_int(q, 3, o->version);
        sqlite3_bind_int64(q, 4, o->num);
        sqlite3_bind_int64(q, 5, o->when);
        if (o->len2)
            bind_blob(q, 6, d + o->len1, o->len2);
        return run(q);
    case OP_SESS_DEL:
        for (int i = ST_SESS_DEL; i <= ST_SESS_DEL_QOS2; i++) {
            sqlite3_bind_int64(st->st[i], 1, (sqlite3_int64)o->sid);
            if ((rc = run(st->st[i])) != SQLITE_OK)
                return rc;
        }
        return SQLITE_OK;
    case OP_SUB:
        q = st->st[ST_SUB_PUT];
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->sid);
        bind_blob(q, 2, d, o->len1);
        sqlite3_bind_int(q, 3, (int)o->num);
        sqlite3_bind_int64(q, 4, o->num2);
        return run(q);
    case OP_UNSUB:
        q = st->st[ST_SUB_DEL];
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->sid);
        bind_blob(q, 2, d, o->len1);
        return run(q);
    case OP_QPUT:
        q = st->st[ST_Q_PUT];
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->id);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)o->sid);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)o->msg_id);
        sqlite3_bind_int(q, 4, o->qos);
        sqlite3_bind_int(q, 5, o->retain);
        sqlite3_bind_int(q, 6, o->packet_id);
        sqlite3_bind_int(q, 7, o->state);
        if (o->nsub)
            bind_blob(q, 8, o->sub_ids, o->nsub * sizeof o->sub_ids[0]);
        return run(q);
    case OP_QSET:
        q = st->st[ST_Q_SET];
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->id);
        sqlite3_bind_int(q, 2, o->packet_id);
        sqlite3_bind_int(q, 3, o->state);
        return run(q);
    case OP_QDEL:
        q = st->st[ST_Q_DEL];
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->id);
        return run(q);
    case OP_QOS2_ADD:
    case OP_QOS2_DEL:
        q = st->st[o->kind == OP_QOS2_ADD ? ST_QOS2_ADD : ST_QOS2_DEL];
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->sid);
        sqlite3_bind_int(q, 2, o->packet_id);
        return run(q);
    case OP_RET:
        if (o->m->payload_len == 0) { /* an empty retained message clears the topic */
            q = st->st[ST_RET_DEL];
            bind_blob(q, 1, moted__msg_topic(o->m), o->m->topic_len);
            return run(q);
        }
        q = st->st[ST_RET_PUT];
        bind_blob(q, 1, moted__msg_topic(o->m), o->m->topic_len);
        sqlite3_bind_int(q, 2, o->qos);
        bind_blob(q, 3, moted__msg_props(o->m), o->m->props_len);
        bind_blob(q, 4, moted__msg_payload(o->m), o->m->payload_len);
        sqlite3_bind_int64(q, 5, o->when);
        return run(q);
    }
    return SQLITE_OK;
}

static const char *failure_advice(int rc)
{
    switch (rc & 0xFF) {
    case SQLITE_FULL:
        return "the disk is full: free space on it";
    case SQLITE_IOERR:
        return "the disk refused a write (full, read-only, or failing): check it and the "
               "file size limit";
    case SQLITE_READONLY:
        return "the store is read-only: check its permissions";
    default:
        return "check the disk and the store file";
    }
}

/*
 * Writes that cancel out: a delivery row put and deleted in the same batch (a subscriber that
 * acknowledged while the previous commit was on its way to the disk), a message row put and
 * deleted (nobody holds it any more), and updates of such rows. They are marked and skipped,
 * so a broker whose subscribers keep up writes little more than the messages in flight.
 */
static void cancel_pairs(struct moted_batch *bt, uint8_t *buf, size_t len)
{
    size_t n = 0, cap, off;
    for (off = 0; off < len; off += OP_SIZE((struct store_op *)(buf + off)))
        n++;
    for (cap = 16; cap < n * 2; cap *= 2)
        ;
    if (cap > bt->ht_cap) {
        uint64_t *t = moted__realloc(bt->ht, cap * 2 * sizeof *t);
        if (!t)
            return; /* no cancelling this time: every write is done */
        bt->ht = t;
        bt->ht_cap = cap;
    }
    memset(bt->ht, 0, cap * 2 * sizeof *bt->ht);
    /* key: row id, or message id | 1 << 63; value: the put's offset + 1 */
    for (off = 0; off < len; off += OP_SIZE((struct store_op *)(buf + off))) {
        struct store_op *o = (struct store_op *)(buf + off);
        uint64_t key, h;
        int is_put = o->kind == OP_QPUT || o->kind == OP_MSG;
        if (!is_put && o->kind != OP_QDEL && o->kind != OP_MSG_DEL && o->kind != OP_QSET)
            continue;
        key = o->kind == OP_MSG || o->kind == OP_MSG_DEL ? o->id | 1ull << 63 : o->id;
        for (h = (key * 0x9E3779B97F4A7C15ull) >> 40 & (cap - 1);; h = (h + 1) & (cap - 1)) {
            uint64_t *slot = &bt->ht[h * 2];
            if (slot[0] == 0) {
                if (is_put) {
                    slot[0] = key;
                    slot[1] = off + 1;
                }
                break;
            }
            if (slot[0] != key)
                continue;
            struct store_op *put = (struct store_op *)(buf + slot[1] - 1);
            if (o->kind == OP_QSET) { /* fold the new state into the put */
                put->packet_id = o->packet_id;
                put->state = o->state;
                o->skip = 1;
            } else if (!is_put) {
                put->skip = 1;
                o->skip = 1;
            }
            break;
        }
    }
}

/* Applies one worker's submitted batch inside the store thread's transaction. */
static int apply_batch(struct moted_store *st, struct moted_worker *w)
{
    struct moted_batch *bt = &w->batch;
    int rc = SQLITE_OK;
    if (!bt->cancelled) {
        cancel_pairs(bt, bt->sbuf, bt->slen);
        bt->cancelled = 1;
    }
    for (size_t off = 0; rc == SQLITE_OK && off < bt->slen;) {
        struct store_op *o = (struct store_op *)(bt->sbuf + off);
        if (!o->skip)
            rc = apply(st, o);
        off += OP_SIZE(o);
    }
    for (int i = 0; rc == SQLITE_OK && i < w->b->worker_count; i++) {
        if (bt->routed_sub[i] == bt->routed_done[i])
            continue;
        sqlite3_stmt *q = st->st[ST_ROUTED];
        sqlite3_bind_int(q, 1, i);
        sqlite3_bind_int(q, 2, w->index);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)bt->routed_sub[i]);
        rc = run(q);
    }
    return rc;
}

/*
 * The store thread: takes every submitted batch, writes them all in one transaction (group
 * commit across workers), and tells each worker. A failure keeps the batches and tries again
 * every RETRY_MS, with one log line when it starts failing and one when it works again.
 */
static void *store_main(void *arg)
{
    struct moted_broker *b = arg;
    struct moted_store *st = b->store;
    struct moted_worker **take = st->take;
    pthread_setname_np(pthread_self(), "moted-store");
    pthread_mutex_lock(&st->lock);
    for (;;) {
        int n = 0, rc;
        for (int i = 0; i < b->worker_count; i++)
            if (b->workers[i].batch.pending)
                take[n++] = &b->workers[i];
        if (!n) {
            if (st->stop)
                break;
            if (st->unsynced) { /* periodic: what was committed reaches the disk in time */
                uint64_t now = moted__now_ms();
                if (now >= st->next_checkpoint_ms) {
                    sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
                    st->unsynced = 0;
                    st->next_checkpoint_ms = now + (uint64_t)st->fsync_periodic * 1000u;
                    continue;
                }
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                uint64_t left = st->next_checkpoint_ms - now;
                ts.tv_sec += (time_t)(left / 1000);
                ts.tv_nsec += (long)(left % 1000) * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&st->cond, &st->lock, &ts);
                continue;
            }
            pthread_cond_wait(&st->cond, &st->lock);
            continue;
        }
        pthread_mutex_unlock(&st->lock);

        rc = run(st->st[ST_BEGIN]);
        for (int i = 0; rc == SQLITE_OK && i < n; i++)
            rc = apply_batch(st, take[i]);
        if (rc == SQLITE_OK)
            rc = run(st->st[ST_COMMIT]);
        if (rc == SQLITE_OK && st->fsync_periodic) {
            uint64_t now = moted__now_ms();
            st->unsynced = 1;
            if (now >= st->next_checkpoint_ms) {
                /* synchronous NORMAL: a checkpoint is when the data reaches the disk */
                sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
                st->unsynced = 0;
                st->next_checkpoint_ms = now + (uint64_t)st->fsync_periodic * 1000u;
            }
        }
        if (rc != SQLITE_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", sqlite3_errmsg(st->db));
            if (!sqlite3_get_autocommit(st->db))
                run(st->st[ST_ROLLBACK]);
            if (!atomic_load(&st->failing))
                moted__log(MOTED_LOG_ERROR,
                           "store %s: cannot commit (%s, SQLite error %d): clients waiting for it "
                           "are disconnected unacknowledged (5.0: 0x97), new QoS 1/2 messages "
                           "refused, retrying every second; %s",
                           st->path, why, rc, failure_advice(rc));
            atomic_store(&st->failing, 1);
        } else if (atomic_exchange(&st->failing, 0)) {
            moted__log(MOTED_LOG_NOTICE, "store %s: writing again", st->path);
        }

        pthread_mutex_lock(&st->lock);
        for (int i = 0; i < n; i++) {
            struct moted_batch *bt = &take[i]->batch;
            if (rc == SQLITE_OK) {
                bt->pending = 0;
                memcpy(bt->routed_done, bt->routed_sub,
                       (size_t)b->worker_count * sizeof *bt->routed_done);
                atomic_store_explicit(&bt->done, bt->submitted, memory_order_release);
            }
            moted__loop_wake(&take[i]->loop); /* it flushes, or drops, what waited */
        }
        pthread_cond_broadcast(&st->done_cond);
        if (rc != SQLITE_OK) {
            if (st->stop)
                break; /* shutting down on a failing disk: what is not written is not acked */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += RETRY_MS / 1000;
            pthread_cond_timedwait(&st->cond, &st->lock, &ts);
        }
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/* Takes back a batch the store thread finished: its message references go now. */
static void reap(struct moted_worker *w)
{
    struct moted_batch *bt = &w->batch;
    if (!bt->submitted || atomic_load_explicit(&bt->done, memory_order_acquire) != bt->submitted)
        return;
    for (size_t off = 0; off < bt->slen;) {
        struct store_op *o = (struct store_op *)(bt->sbuf + off);
        off += OP_SIZE(o);
        moted__msg_unref(o->m); /* may record an OP_MSG_DEL into the filling batch */
    }
    bt->slen = 0;
    bt->committed = bt->submitted;
    bt->submitted = 0;
}

int moted__store_commit(struct moted_worker *w)
{
    struct moted_store *st = w->b->store;
    struct moted_batch *bt = &w->batch;
    int dirty = 0;
    uint8_t *tmp;
    size_t tcap;

    if (!st)
        return 0;
    reap(w);
    if (bt->submitted)
        return 0; /* one batch in flight per worker: this one waits for the next turn */
    for (int i = 0; i < w->b->worker_count; i++)
        dirty |= bt->routed[i] != bt->routed_sub[i];
    if (!bt->len && !dirty) {
        bt->committed = bt->seq++; /* nothing to write: nobody waits for this batch */
        return 0;
    }
    /* Hand the filled buffer over and fill the other one meanwhile. */
    tmp = bt->sbuf;
    tcap = bt->scap;
    bt->sbuf = bt->buf;
    bt->scap = bt->cap;
    bt->slen = bt->len;
    bt->buf = tmp;
    bt->cap = tcap;
    bt->len = 0;
    bt->cancelled = 0;
    memcpy(bt->routed_sub, bt->routed, (size_t)w->b->worker_count * sizeof *bt->routed);
    bt->submitted = bt->seq++;
    pthread_mutex_lock(&st->lock);
    bt->pending = 1;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
    return 0;
}

int moted__store_sync(struct moted_worker *w)
{
    struct moted_store *st = w->b->store;
    struct moted_batch *bt = &w->batch;
    if (!st)
        return 0;
    for (int rounds = 0; rounds < 8; rounds++) { /* freeing messages may write once more */
        moted__store_commit(w);
        if (!bt->submitted)
            return 0;
        pthread_mutex_lock(&st->lock);
        while (bt->pending && !atomic_load(&st->failing))
            pthread_cond_wait(&st->done_cond, &st->lock);
        pthread_mutex_unlock(&st->lock);
        if (atomic_load(&st->failing))
            return -1;
        reap(w);
    }
    return 0;
}

int moted__store_failing(const struct moted_worker *w)
{
    return w->b->store && atomic_load(&w->b->store->failing);
}

void moted__store_bind(struct moted_worker *w)
{
    bound = w;
}

int moted__store_worker_init(struct moted_worker *w)
{
    struct moted_batch *bt = &w->batch;
    bt->seq = 1;
    atomic_init(&bt->done, 0);
    bt->routed = moted__calloc((size_t)w->b->worker_count, sizeof *bt->routed);
    bt->routed_sub = moted__calloc((size_t)w->b->worker_count, sizeof *bt->routed_sub);
    bt->routed_done = moted__calloc((size_t)w->b->worker_count, sizeof *bt->routed_done);
    return bt->routed && bt->routed_sub && bt->routed_done ? 0 : -1;
}

static void drop_refs(uint8_t *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        struct store_op *o = (struct store_op *)(buf + off);
        off += OP_SIZE(o);
        moted__msg_unref(o->m);
    }
}

void moted__store_worker_free(struct moted_worker *w)
{
    struct moted_batch *bt = &w->batch;
    drop_refs(bt->sbuf, bt->slen); /* batches that never committed */
    drop_refs(bt->buf, bt->len);
    moted__free(bt->buf);
    moted__free(bt->sbuf);
    moted__free(bt->ht);
    moted__free(bt->routed);
    moted__free(bt->routed_sub);
    moted__free(bt->routed_done);
    memset(bt, 0, sizeof *bt);
}

int moted__store_start(struct moted_broker *b)
{
    struct moted_store *st = b->store;
    if (!st)
        return 0;
    st->take = moted__calloc((size_t)b->worker_count, sizeof *st->take);
    if (!st->take || pthread_create(&st->thread, NULL, store_main, b))
        return -1;
    st->running = 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------------------------- */

static int recovery_help(char *err, size_t errlen, const char *path, const char *what)
{
    snprintf(err, errlen,
             "store %s: %s. moted will not start on it (it would forget what it acknowledged). "
             "To keep what can be read: sqlite3 %s .recover | sqlite3 %s.recovered, then move "
             "%s.recovered to %s. To start empty instead: move %s (and its -wal file) aside",
             path, what, path, path, path, path, path);
    return -1;
}

static int exec1(sqlite3 *db, const char *q, sqlite3_int64 *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, q, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (out)
            *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int moted__store_open(struct moted_broker *b, char *err, size_t errlen)
{
    const struct moted_config *cfg = &b->cfg;
    const char *dir = cfg->persistence_location ? cfg->persistence_location : "";
    const char *file = cfg->persistence_file ? cfg->persistence_file : "moted.db";
    struct moted_store *st;
    sqlite3_int64 app = 0, version = 0, tables = 0, v = 0;
    struct stat sb;
    int rc, existed;

    if (!cfg->persistence)
        return 0;
    st = moted__calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory for the store");
        return -1;
    }
    b->store = st;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    pthread_cond_init(&st->done_cond, NULL);
    st->fsync_periodic = cfg->persistence_fsync_period;
    snprintf(st->path, sizeof st->path, "%s%s%s", dir,
             *dir && dir[strlen(dir) - 1] != '/' ? "/" : "", file);
    existed = stat(st->path, &sb) == 0;
    if (existed && !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "store %s is not a regular file", st->path);
        return -1;
    }
    /* Messages and client ids are nobody else's business: the store, its -wal and -shm files
     * (which SQLite makes and remakes as it goes) are created 0600. */
    umask(umask(0) | 077);
    if (!existed) {
        int fd = open(st->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "cannot create the store %s: %s%s", st->path, strerror(errno),
                     errno == ENOENT ? " (persistence_location must be an existing folder)"
                     : errno == EACCES || errno == EROFS
                         ? " (set persistence_location to a folder moted may write, or "
                           "persistence false to keep nothing across restarts)"
                         : "");
            return -1;
        }
        close(fd);
    }
    rc = sqlite3_open_v2(st->path, &st->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the store %s: %s", st->path,
                 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        return -1;
    }
    sqlite3_extended_result_codes(st->db, 1);
    rc = exec1(st->db, "PRAGMA application_id", &app);
    if (rc == SQLITE_OK)
        rc = exec1(st->db, "PRAGMA user_version", &version);
    if (rc == SQLITE_OK)
        rc = exec1(st->db, "SELECT count(*) FROM sqlite_schema", &tables);
    if (rc == SQLITE_NOTADB || (rc & 0xFF) == SQLITE_CORRUPT)
        return recovery_help(err, errlen, st->path, "is not a readable SQLite database");
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot read the store %s: %s", st->path, sqlite3_errmsg(st->db));
        return -1;
    }
    if (tables && app != STORE_APP_ID) {
        snprintf(err, errlen,
                 "%s is an SQLite database but not a moted store (application_id %lld): "
                 "point persistence_location/persistence_file at another file",
                 st->path, (long long)app);
        return -1;
    }
    if (tables && version > STORE_FORMAT) {
        snprintf(err, errlen,
                 "store %s has format %lld, written by a newer moted; this one reads format %d "
                 "and will not guess: run the newer moted, or move the file aside to start empty",
                 st->path, (long long)version, STORE_FORMAT);
        return -1;
    }
    if (tables && version < 1) {
        return recovery_help(err, errlen, st->path, "has moted's id but no format version");
    }
    /* WAL: readers never block the writer, and a commit is one append (plus an fsync). */
    if (exec1(st->db, "PRAGMA journal_mode=WAL", NULL) != SQLITE_OK ||
        exec1(st->db, st->fsync_periodic ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL",
              NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot set up the store %s: %s", st->path, sqlite3_errmsg(st->db));
        return -1;
    }
    if (tables) {
        /* A damaged file is found now, not as a wrong answer later. */
        sqlite3_stmt *q;
        const char *res = NULL;
        char what[300];
        if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &q, NULL) == SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW)
                res = (const char *)sqlite3_column_text(q, 0);
            snprintf(what, sizeof what, "failed its integrity check (%s)",
                     res ? res : sqlite3_errmsg(st->db));
            if (!res || strcmp(res, "ok")) {
                sqlite3_finalize(q);
                return recovery_help(err, errlen, st->path, what);
            }
            sqlite3_finalize(q);
        }
        if (exec1(st->db, "SELECT value FROM meta WHERE key = 'workers'", &v) != SQLITE_OK)
            return recovery_help(err, errlen, st->path, "lacks its tables");
        st->old_workers = v > 0 && v < 100000 ? (int)v : 0;
    } else {
        char *msg = NULL;
        char ddl[4096];
        snprintf(ddl, sizeof ddl,
                 "BEGIN; %s PRAGMA application_id=%d; PRAGMA user_version=%d; "
                 "INSERT INTO meta VALUES('workers', 0); COMMIT;",
                 schema, STORE_APP_ID, STORE_FORMAT);
        if (sqlite3_exec(st->db, ddl, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "cannot create the store %s: %s", st->path,
                     msg ? msg : "unknown error");
            sqlite3_free(msg);
            return -1;
        }
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(st->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->st[i], NULL) !=
            SQLITE_OK)
            return recovery_help(err, errlen, st->path, "does not have the expected tables");
    }
    return 0;
}

void moted__store_close(struct moted_broker *b)
{
    struct moted_store *st = b->store;
    if (!st)
        return;
    if (st->running) {
        pthread_mutex_lock(&st->lock);
        st->stop = 1;
        pthread_cond_signal(&st->cond);
        pthread_mutex_unlock(&st->lock);
        pthread_join(st->thread, NULL);
    }
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(st->st[i]);
    if (st->db) {
        sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(st->db);
    }
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    pthread_cond_destroy(&st->done_cond);
    moted__free(st->take);
    moted__free(st);
    b->store = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Restoring (before the workers start: this thread owns everything)
 * ------------------------------------------------------------------------------------------- */

struct rmsg { /* a stored message, while restoring */
    uint64_t id;
    int src; /* -1: matched everywhere */
    struct moted_msg *m;
    uint8_t *origin;
    size_t origin_len;
};

struct rsub {
    struct moted_session *s;
    uint8_t *filter;
    size_t len;
    uint8_t options;
    uint32_t sub_id;
};

struct restore {
    struct moted_broker *b;
    struct moted_store *st;
    int64_t now_wall;
    uint64_t now;
    struct rmsg *msgs;
    size_t nmsgs;
    struct moted_session **sess; /* by sid, ascending */
    size_t nsess;
    struct rsub *subs;
    size_t nsubs;
    size_t queued, inflight, rerouted, retained, dropped;
    char bad[200]; /* a row that cannot be what moted wrote: the store is damaged */
};

/* Records the first impossible row; the restore then fails with the recovery advice. */
static int bad_row(struct restore *r, const char *table, sqlite3_int64 key, const char *what)
{
    if (!r->bad[0])
        snprintf(r->bad, sizeof r->bad, "row %lld of table %s %s", (long long)key, table, what);
    return -1;
}

/* Whether a stored message would make a valid 5.0 PUBLISH (topic name, properties, QoS): what
 * goes to clients is checked by the codec that checks what comes from them. */
static int msg_valid(const struct moted_msg *m)
{
    struct mote_packet p = {.type = MOTE_PUBLISH}, back;
    uint8_t *buf;
    size_t size, n = 0;
    int ok;
    if (m->qos > 2)
        return 0;
    p.u.publish.qos = m->qos;
    p.u.publish.packet_id = m->qos ? 1 : 0;
    p.u.publish.topic = (struct mote_slice){moted__msg_topic(m), m->topic_len};
    p.u.publish.props.raw = (struct mote_slice){moted__msg_props(m), m->props_len};
    if (mote_codec_size(&p, MOTE_V5, &size) != MOTE_OK || !(buf = moted__malloc(size)))
        return 0;
    ok = mote_codec_encode(&p, MOTE_V5, buf, size, &n) == MOTE_OK &&
         mote_codec_decode(buf, n, MOTE_V5, &back) == MOTE_OK;
    moted__free(buf);
    return ok;
}

static int cmp_rmsg(const void *key, const void *elem)
{
    uint64_t k = *(const uint64_t *)key, id = ((const struct rmsg *)elem)->id;
    return k < id ? -1 : k > id;
}

static int cmp_sess(const void *key, const void *elem)
{
    uint64_t k = *(const uint64_t *)key, id = (*(struct moted_session *const *)elem)->sid;
    return k < id ? -1 : k > id;
}

static struct moted_session *find_sess(struct restore *r, uint64_t sid)
{
    struct moted_session **s;
    if (!r->nsess)
        return NULL;
    s = bsearch(&sid, r->sess, r->nsess, sizeof *r->sess, cmp_sess);
    return s ? *s : NULL;
}

static struct rmsg *find_msg(struct restore *r, uint64_t id)
{
    return r->nmsgs ? bsearch(&id, r->msgs, r->nmsgs, sizeof *r->msgs, cmp_rmsg) : NULL;
}

/* A monotonic deadline from a wall-clock one; 0 stays 0 (none), the past becomes 1. */
static uint64_t mono_deadline(struct restore *r, int64_t wall)
{
    if (!wall)
        return 0;
    if (wall <= r->now_wall)
        return 1;
    return r->now + (uint64_t)(wall - r->now_wall);
}

static struct moted_msg *msg_from_row(struct restore *r, sqlite3_stmt *q, int topic, int qos,
                                      int retain, int expire)
{
    const uint8_t *props = sqlite3_column_blob(q, topic + 1);
    size_t props_len = (size_t)sqlite3_column_bytes(q, topic + 1);
    const uint8_t *t = sqlite3_column_blob(q, topic);
    size_t tlen = (size_t)sqlite3_column_bytes(q, topic);
    const uint8_t *payload = sqlite3_column_blob(q, topic + 2);
    size_t plen = (size_t)sqlite3_column_bytes(q, topic + 2);
    struct moted_msg *m;
    if (tlen > 65535)
        return NULL;
    m = moted__malloc(sizeof *m + tlen + props_len + plen);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    atomic_init(&m->refs, 1);
    atomic_init(&m->store_id, 0);
    m->store_src = -1;
    m->qos = (uint8_t)sqlite3_column_int(q, qos);
    m->retain = retain >= 0 ? (uint8_t)sqlite3_column_int(q, retain) : 1;
    m->expire_at_ms = mono_deadline(r, sqlite3_column_int64(q, expire));
    m->topic_len = (uint16_t)tlen;
    m->props_len = (uint32_t)props_len;
    m->payload_len = (uint32_t)plen;
    if (tlen)
        memcpy(m->data, t, tlen);
    if (props_len)
        memcpy(m->data + tlen, props, props_len);
    if (plen)
        memcpy(m->data + tlen + props_len, payload, plen);
    return m;
}

static int load_msgs(struct restore *r)
{
    sqlite3_stmt *q;
    size_t cap = 0;
    if (sqlite3_prepare_v2(r->st->db,
                           "SELECT id, src, origin, qos, retain, expire_at, topic, props, payload"
                           " FROM msgs ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (r->nmsgs == cap) {
            cap = cap ? cap * 2 : 256;
            struct rmsg *n = moted__realloc(r->msgs, cap * sizeof *n);
            if (!n)
                goto oom;
            r->msgs = n;
        }
        struct rmsg *x = &r->msgs[r->nmsgs];
        memset(x, 0, sizeof *x);
        x->id = (uint64_t)sqlite3_column_int64(q, 0);
        x->src = sqlite3_column_type(q, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 1);
        x->m = msg_from_row(r, q, 6, 3, 4, 5);
        if (!x->m) {
            if (sqlite3_column_bytes(q, 6) > 65535)
                bad_row(r, "msgs", (sqlite3_int64)x->id, "has a topic over 65535 bytes");
            goto oom;
        }
        if (!msg_valid(x->m) || x->m->retain > 1) {
            moted__free(x->m);
            bad_row(r, "msgs", (sqlite3_int64)x->id, "is not a valid message");
            goto oom;
        }
        atomic_store(&x->m->store_id, x->id);
        x->origin_len = (size_t)sqlite3_column_bytes(q, 2);
        if (x->origin_len) {
            x->origin = moted__malloc(x->origin_len);
            if (!x->origin) {
                moted__free(x->m);
                goto oom;
            }
            memcpy(x->origin, sqlite3_column_blob(q, 2), x->origin_len);
        }
        r->nmsgs++;
    }
    return sqlite3_finalize(q) == SQLITE_OK ? 0 : -1;
oom:
    sqlite3_finalize(q);
    return -1;
}

static int exec_sid(struct moted_store *st, const char *q, uint64_t id)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, q, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
        rc = run(s);
        sqlite3_finalize(s);
    }
    return rc;
}

static int drop_session_rows(struct restore *r, uint64_t sid)
{
    for (int i = ST_SESS_DEL; i <= ST_SESS_DEL_QOS2; i++) {
        sqlite3_bind_int64(r->st->st[i], 1, (sqlite3_int64)sid);
        if (run(r->st->st[i]) != SQLITE_OK)
            return -1;
    }
    return 0;
}

static int load_sessions(struct restore *r)
{
    sqlite3_stmt *q;
    size_t cap = 0;
    int rc = 0;
    if (sqlite3_prepare_v2(r->st->db,
                           "SELECT sid, client_id, version, expiry, offline_since, username"
                           " FROM sessions ORDER BY sid",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    while (rc == 0 && sqlite3_step(q) == SQLITE_ROW) {
        uint64_t sid = (uint64_t)sqlite3_column_int64(q, 0);
        const uint8_t *id = sqlite3_column_blob(q, 1);
        size_t len = (size_t)sqlite3_column_bytes(q, 1);
        uint32_t expiry = (uint32_t)sqlite3_column_int64(q, 3);
        int64_t since = sqlite3_column_int64(q, 4);
        int home = moted__home_worker(r->b, id ? id : (const uint8_t *)"", len);
        struct moted_worker *w = &r->b->workers[home];
        struct moted_session *s = moted__sessions_find(w, id ? id : (const uint8_t *)"", len);
        uint64_t left_ms = 0;
        int version = sqlite3_column_int(q, 2);

        if ((version != MOTE_V31 && version != MOTE_V311 && version != MOTE_V5) || !id ||
            len > 65535 || expiry == 0) {
            rc = bad_row(r, "sessions", (sqlite3_int64)sid, "is not a valid session");
            break;
        }
        if (expiry != 0xFFFFFFFFu) {
            /* Expiry counts from the disconnect; for a session online at a crash, from now. */
            int64_t end = (since ? since : r->now_wall) + (int64_t)expiry * 1000;
            if (end <= r->now_wall) {
                rc = drop_session_rows(r, sid);
                r->dropped++;
                continue;
            }
            left_ms = (uint64_t)(end - r->now_wall);
        }
        if (s) { /* an older row of the same client id (its delete was lost): the newer wins */
            uint64_t old = s->sid;
            moted__sessions_remove(w, s);
            moted__session_free(s);
            for (size_t i = 0; i < r->nsess; i++)
                if (r->sess[i] && r->sess[i]->sid == old)
                    r->sess[i] = NULL;
            rc = drop_session_rows(r, old);
        }
        s = moted__session_new(id ? id : (const uint8_t *)"", len);
        if (!s || moted__sessions_add(w, s)) {
            moted__session_free(s);
            rc = -1;
            break;
        }
        s->sid = sid;
        s->version = (uint8_t)version;
        s->expiry_interval = expiry;
        s->window = 65535; /* until the client says (resend_marked honours the real one) */
        s->will_timer.kind = MOTED_TIMER_WILL;
        s->expiry_timer.kind = MOTED_TIMER_EXPIRY;
        if (sqlite3_column_bytes(q, 5))
            s->username = moted__strndup((const char *)sqlite3_column_blob(q, 5),
                                         (size_t)sqlite3_column_bytes(q, 5));
        if (expiry != 0xFFFFFFFFu)
            moted__timer_set(&w->loop, &s->expiry_timer, r->now + left_ms);
        if (r->nsess == cap) {
            cap = cap ? cap * 2 : 64;
            struct moted_session **n = moted__realloc(r->sess, cap * sizeof *n);
            if (!n) {
                rc = -1;
                break;
            }
            r->sess = n;
        }
        r->sess[r->nsess++] = s;
    }
    sqlite3_finalize(q);
    /* Drop the slots of replaced sessions: bsearch needs them dense and ascending. */
    size_t j = 0;
    for (size_t i = 0; i < r->nsess; i++)
        if (r->sess[i])
            r->sess[j++] = r->sess[i];
    r->nsess = j;
    return rc;
}

static int load_subs(struct restore *r)
{
    sqlite3_stmt *q;
    size_t cap = 0;
    if (sqlite3_prepare_v2(r->st->db, "SELECT sid, filter, options, sub_id FROM subs", -1, &q,
                           NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(q) == SQLITE_ROW) {
        struct moted_session *s = find_sess(r, (uint64_t)sqlite3_column_int64(q, 0));
        const uint8_t *f = sqlite3_column_blob(q, 1);
        size_t len = (size_t)sqlite3_column_bytes(q, 1);
        uint8_t opt = (uint8_t)sqlite3_column_int(q, 2);
        struct mote_subscription sub = {
            .filter = {f, len},
            .qos = opt & 3,
            .no_local = opt >> 2 & 1,
            .retain_as_published = opt >> 3 & 1,
            .retain_handling = opt >> 4 & 3,
        };
        if (!s)
            continue; /* an orphan (its session's delete came first): collected below */
        if (!f || mote_topic_check_filter(f, len) != MOTE_OK || (opt & 3) > 2 ||
            (opt >> 4 & 3) > 2 || opt >> 6) {
            bad_row(r, "subs", sqlite3_column_int64(q, 0), "is not a valid subscription");
            goto oom;
        }
        if (moted__router_subscribe(s, &sub, (uint32_t)sqlite3_column_int64(q, 3)) < 0)
            goto oom;
        atomic_fetch_add(&r->b->durable_subs, 1);
        if (r->nsubs == cap) {
            cap = cap ? cap * 2 : 64;
            struct rsub *n = moted__realloc(r->subs, cap * sizeof *n);
            if (!n)
                goto oom;
            r->subs = n;
        }
        struct rsub *x = &r->subs[r->nsubs];
        x->filter = moted__malloc(len ? len : 1);
        if (!x->filter)
            goto oom;
        memcpy(x->filter, f, len);
        x->len = len;
        x->s = s;
        x->options = opt;
        x->sub_id = (uint32_t)sqlite3_column_int64(q, 3);
        r->nsubs++;
    }
    return sqlite3_finalize(q) == SQLITE_OK ? 0 : -1;
oom:
    sqlite3_finalize(q);
    return -1;
}

static int load_qos2(struct restore *r)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(r->st->db, "SELECT sid, packet_id FROM qos2_in", -1, &q, NULL) !=
        SQLITE_OK)
        return -1;
    while (sqlite3_step(q) == SQLITE_ROW) {
        struct moted_session *s = find_sess(r, (uint64_t)sqlite3_column_int64(q, 0));
        int pid = sqlite3_column_int(q, 1);
        if (pid < 1 || pid > 65535) {
            bad_row(r, "qos2_in", sqlite3_column_int64(q, 0), "has an invalid packet id");
            sqlite3_finalize(q);
            return -1;
        }
        if (s && moted__session_qos2_add(s, (uint16_t)pid)) {
            sqlite3_finalize(q);
            return -1;
        }
    }
    return sqlite3_finalize(q) == SQLITE_OK ? 0 : -1;
}

static int load_queue(struct restore *r)
{
    sqlite3_stmt *q;
    int rc = 0;
    if (sqlite3_prepare_v2(r->st->db,
                           "SELECT id, sid, msg, qos, retain, packet_id, state, sub_ids"
                           " FROM queue ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    while (rc == 0 && sqlite3_step(q) == SQLITE_ROW) {
        uint64_t row = (uint64_t)sqlite3_column_int64(q, 0);
        struct moted_session *s = find_sess(r, (uint64_t)sqlite3_column_int64(q, 1));
        struct rmsg *x = find_msg(r, (uint64_t)sqlite3_column_int64(q, 2));
        uint8_t state = (uint8_t)sqlite3_column_int(q, 6);
        uint32_t sub_ids[MOTED_MAX_SUB_IDS];
        size_t nb = (size_t)sqlite3_column_bytes(q, 7);
        uint8_t nsub =
            (uint8_t)(nb / sizeof sub_ids[0] > MOTED_MAX_SUB_IDS ? MOTED_MAX_SUB_IDS
                                                                 : nb / sizeof sub_ids[0]);
        int expired = 0, qos = sqlite3_column_int(q, 3), pid = sqlite3_column_int(q, 5);
        if (qos < 1 || qos > 2 || state > OUT_WAIT_PUBCOMP || (state && (pid < 1 || pid > 65535)) ||
            (state == OUT_WAIT_PUBACK && qos != 1) || (state > OUT_WAIT_PUBACK && qos != 2)) {
            rc = bad_row(r, "queue", (sqlite3_int64)row, "is not a valid delivery");
            break;
        }
        if (nsub)
            memcpy(sub_ids, sqlite3_column_blob(q, 7), nsub * sizeof sub_ids[0]);
        if (x)
            moted__msg_expiry_left(x->m, r->now, &expired);
        /*
         * A delivery's message row goes when the last reference in memory goes, which may be
         * in another worker's batch, committed before this row's last change. So a missing
         * message says how far the delivery got: QoS 1 in flight (or queued): acknowledged, the
         * row goes; QoS 2 waiting for PUBREC: the PUBREC came (the message was released only
         * then), so a PUBREL is owed. Expiry drops only what was never sent: a message in flight
         * may sit with the client, and its packet id must stay taken until the flow ends.
         */
        if (!x && state == OUT_WAIT_PUBREC) {
            state = OUT_WAIT_PUBCOMP;
            sqlite3_stmt *u = r->st->st[ST_Q_SET];
            sqlite3_bind_int64(u, 1, (sqlite3_int64)row);
            sqlite3_bind_int(u, 2, pid);
            sqlite3_bind_int(u, 3, state);
            if (run(u) != SQLITE_OK) {
                rc = -1;
                break;
            }
        }
        if (!s || (state != OUT_WAIT_PUBCOMP && !x) || (state == 0 && expired)) {
            rc = exec_sid(r->st, "DELETE FROM queue WHERE id = ?1", row) == SQLITE_OK ? 0 : -1;
            r->dropped++;
            continue;
        }
        if (state == 0) {
            rc = moted__session_queue_add(s, x->m, (uint8_t)sqlite3_column_int(q, 3),
                                          (uint8_t)sqlite3_column_int(q, 4), sub_ids, nsub, row)
                     ? 0
                     : -1;
            r->queued++;
            continue;
        }
        struct moted_out *o = moted__session_out_restore(s, (uint16_t)sqlite3_column_int(q, 5));
        if (!o) {
            rc = -1;
            break;
        }
        o->row = row;
        o->qos = (uint8_t)sqlite3_column_int(q, 3);
        o->retain = (uint8_t)sqlite3_column_int(q, 4);
        o->state = state;
        o->sub_id_count = nsub;
        memcpy(o->sub_ids, sub_ids, nsub * sizeof sub_ids[0]);
        if (state != OUT_WAIT_PUBCOMP) {
            moted__msg_ref(x->m);
            o->msg = x->m;
        }
        r->inflight++;
    }
    sqlite3_finalize(q);
    return rc;
}

/* A delivery found missing at restore: a queue row, and the entry in s's queue. */
static int requeue(struct restore *r, struct moted_session *s, struct rmsg *x, uint8_t qos,
                   uint8_t retain, const uint32_t *ids, uint8_t nsub)
{
    sqlite3_stmt *ins = r->st->st[ST_Q_PUT];
    uint64_t row = atomic_fetch_add(&r->st->next_row, 1);
    sqlite3_bind_int64(ins, 1, (sqlite3_int64)row);
    sqlite3_bind_int64(ins, 2, (sqlite3_int64)s->sid);
    sqlite3_bind_int64(ins, 3, (sqlite3_int64)x->id);
    sqlite3_bind_int(ins, 4, qos);
    sqlite3_bind_int(ins, 5, retain);
    sqlite3_bind_int(ins, 6, 0);
    sqlite3_bind_int(ins, 7, 0);
    if (nsub)
        bind_blob(ins, 8, ids, nsub * sizeof ids[0]);
    r->rerouted++;
    return run(ins) == SQLITE_OK && moted__session_queue_add(s, x->m, qos, retain, ids, nsub, row)
               ? 0
               : -1;
}

/*
 * Messages some worker had not matched when the last run ended: match them again against the
 * sessions that lived on that worker (only those), and the share groups homed there, from the
 * subscriptions on disk.
 */
static int reroute(struct restore *r)
{
    sqlite3_stmt *q;
    int old = r->st->old_workers, rc = 0;
    uint64_t *upto;

    if (old < 1)
        return 0;
    upto = moted__calloc((size_t)old * (size_t)old, sizeof *upto);
    if (!upto)
        return -1;
    if (sqlite3_prepare_v2(r->st->db, "SELECT src, dst, upto FROM routed", -1, &q, NULL) !=
        SQLITE_OK) {
        moted__free(upto);
        return -1;
    }
    while (sqlite3_step(q) == SQLITE_ROW) {
        int src = sqlite3_column_int(q, 0), dst = sqlite3_column_int(q, 1);
        if (src >= 0 && src < old && dst >= 0 && dst < old)
            upto[src * old + dst] = (uint64_t)sqlite3_column_int64(q, 2);
    }
    sqlite3_finalize(q);

    for (size_t i = 0; rc == 0 && i < r->nmsgs; i++) {
        struct rmsg *x = &r->msgs[i];
        if (x->src < 0 || x->src >= old)
            continue;
        for (size_t k = 0; rc == 0 && k < r->nsess; k++) {
            struct moted_session *s = r->sess[k];
            int dst = moted__home_of(old, (const uint8_t *)s->client_id, s->client_id_len);
            uint8_t qos = 0, retain = 0, nsub = 0, hit = 0;
            uint32_t ids[MOTED_MAX_SUB_IDS];
            int expired;
            if (dst == x->src || x->id <= upto[x->src * old + dst])
                continue; /* that worker matched it (its rows are on disk already) */
            moted__msg_expiry_left(x->m, r->now, &expired);
            if (expired)
                break;
            for (size_t j = 0; j < r->nsubs; j++) {
                struct rsub *sub = &r->subs[j];
                uint8_t sq;
                if (sub->s != s ||
                    mote_topic_share((struct mote_slice){sub->filter, sub->len}, NULL, NULL))
                    continue;
                if (!mote_topic_match(sub->filter, sub->len, moted__msg_topic(x->m),
                                      x->m->topic_len))
                    continue;
                if ((sub->options & 4) && x->origin_len == s->client_id_len &&
                    !memcmp(x->origin, s->client_id, x->origin_len))
                    continue; /* No Local */
                hit = 1;
                sq = moted__cfg(r->b)->upgrade_outgoing_qos || (sub->options & 3) < x->m->qos
                         ? sub->options & 3
                         : x->m->qos;
                if (sq > qos)
                    qos = sq;
                if ((sub->options & 8) && x->m->retain)
                    retain = 1;
                if (sub->sub_id && nsub < MOTED_MAX_SUB_IDS)
                    ids[nsub++] = sub->sub_id;
            }
            if (!hit || qos == 0)
                continue;
            rc = requeue(r, s, x, qos, retain, ids, nsub);
        }
        /* Share groups: one member gets it, if the group's home worker had not matched it. */
        for (size_t j = 0; rc == 0 && j < r->nsubs; j++) {
            struct rsub *sub = &r->subs[j];
            struct mote_slice full = {sub->filter, sub->len}, group, filter;
            int home, done = 0, expired;
            if (!mote_topic_share(full, &group, &filter))
                continue;
            home = moted__home_of(old, sub->filter, sub->len);
            if (home == x->src || x->id <= upto[x->src * old + home])
                continue;
            for (size_t k = 0; k < j && !done; k++) /* an earlier member of the same group */
                done = r->subs[k].len == sub->len &&
                       !memcmp(r->subs[k].filter, sub->filter, sub->len) &&
                       mote_topic_match(filter.ptr, filter.len, moted__msg_topic(x->m),
                                        x->m->topic_len);
            moted__msg_expiry_left(x->m, r->now, &expired);
            if (done || expired ||
                !mote_topic_match(filter.ptr, filter.len, moted__msg_topic(x->m), x->m->topic_len))
                continue;
            uint8_t qos = moted__cfg(r->b)->upgrade_outgoing_qos || (sub->options & 3) < x->m->qos
                              ? sub->options & 3
                              : x->m->qos;
            if (qos)
                rc = requeue(r, sub->s, x, qos, 0, &sub->sub_id, sub->sub_id ? 1 : 0);
        }
    }
    moted__free(upto);
    return rc;
}

static int load_retained(struct restore *r)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(r->st->db, "SELECT qos, expire_at, topic, props, payload FROM retained",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(q) == SQLITE_ROW) {
        struct moted_msg *m = msg_from_row(r, q, 2, 0, -1, 1);
        int expired;
        if (!m || !msg_valid(m)) {
            if (m || sqlite3_column_bytes(q, 2) > 65535)
                bad_row(r, "retained", 0, "is not a valid message");
            moted__free(m);
            sqlite3_finalize(q);
            return -1;
        }
        moted__msg_expiry_left(m, r->now, &expired);
        if (!expired && m->payload_len) {
            for (int w = 0; w < r->b->worker_count; w++)
                moted__router_retain(&r->b->workers[w], m);
            r->retained++;
        }
        moted__msg_unref(m);
    }
    return sqlite3_finalize(q) == SQLITE_OK ? 0 : -1;
}

int moted__store_restore(struct moted_broker *b, char *err, size_t errlen)
{
    struct moted_store *st = b->store;
    struct restore r = {.b = b, .st = st};
    sqlite3_int64 max_msg = 0, max_row = 0, max_sid = 0;
    char ddl[256];
    int rc;

    if (!st)
        return 0;
    r.now_wall = wall_ms();
    r.now = moted__now_ms();
    bound = NULL; /* the restore itself records nothing */
    rc = run(st->st[ST_BEGIN]) == SQLITE_OK ? 0 : -1;
    if (rc == 0)
        rc = exec1(st->db,
                   "SELECT max(max(coalesce((SELECT max(id) FROM msgs), 0),"
                   " coalesce((SELECT max(msg) FROM queue), 0)), 0)",
                   &max_msg);
    if (rc == 0)
        rc = exec1(st->db, "SELECT coalesce(max(id), 0) FROM queue", &max_row);
    if (rc == 0)
        rc = exec1(st->db, "SELECT coalesce(max(sid), 0) FROM sessions", &max_sid);
    atomic_init(&st->next_msg, (uint64_t)max_msg + 1);
    atomic_init(&st->next_row, (uint64_t)max_row + 1);
    atomic_init(&st->next_sid, (uint64_t)max_sid + 1);
    if (rc == 0)
        rc = load_msgs(&r);
    if (rc == 0)
        rc = load_sessions(&r);
    if (rc == 0)
        rc = load_subs(&r);
    if (rc == 0)
        rc = load_qos2(&r);
    if (rc == 0)
        rc = load_queue(&r);
    if (rc == 0)
        rc = reroute(&r);
    if (rc == 0)
        rc = load_retained(&r);
    /* Every message has now been matched everywhere; what nothing refers to goes. */
    snprintf(ddl, sizeof ddl, "UPDATE meta SET value = %d WHERE key = 'workers'", b->worker_count);
    if (rc == 0)
        rc = sqlite3_exec(st->db,
                          "DELETE FROM msgs WHERE id NOT IN (SELECT msg FROM queue WHERE msg IS NOT"
                          " NULL); UPDATE msgs SET src = NULL WHERE src IS NOT NULL;"
                          " DELETE FROM routed;"
                          " DELETE FROM subs WHERE sid NOT IN (SELECT sid FROM sessions);"
                          " DELETE FROM qos2_in WHERE sid NOT IN (SELECT sid FROM sessions);",
                          NULL, NULL, NULL) == SQLITE_OK
                 ? 0
                 : -1;
    if (rc == 0)
        rc = sqlite3_exec(st->db, ddl, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    if (rc == 0)
        rc = run(st->st[ST_COMMIT]) == SQLITE_OK ? 0 : -1;
    if (rc && r.bad[0]) {
        recovery_help(err, errlen, st->path, r.bad);
        if (!sqlite3_get_autocommit(st->db))
            run(st->st[ST_ROLLBACK]);
    } else if (rc) {
        snprintf(err, errlen, "store %s: cannot restore from it: %s", st->path,
                 sqlite3_errmsg(st->db));
        if (!sqlite3_get_autocommit(st->db))
            run(st->st[ST_ROLLBACK]);
    } else if (r.nsess || r.retained || r.queued || r.inflight) {
        moted__log(MOTED_LOG_NOTICE,
                   "store %s: restored %zu session%s, %zu queued and %zu in-flight message%s "
                   "(%zu matched again after a crash), %zu retained message%s%s",
                   st->path, r.nsess, r.nsess == 1 ? "" : "s", r.queued + r.rerouted, r.inflight,
                   r.inflight == 1 ? "" : "s", r.rerouted, r.retained, r.retained == 1 ? "" : "s",
                   r.dropped ? " (expired entries removed)" : "");
    } else {
        moted__log(MOTED_LOG_INFO, "store %s: empty", st->path);
    }
    for (size_t i = 0; i < r.nmsgs; i++) {
        moted__msg_unref(r.msgs[i].m); /* the queues hold what is still needed */
        moted__free(r.msgs[i].origin);
    }
    for (size_t i = 0; i < r.nsubs; i++)
        moted__free(r.subs[i].filter);
    moted__free(r.msgs);
    moted__free(r.sess);
    moted__free(r.subs);
    return rc;
}
