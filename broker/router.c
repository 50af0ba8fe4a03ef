/*
 * router.c - who gets a message. Each worker matches every message against its own sessions'
 * subscriptions (no lock: see broker.h), keeps its own replica of the retained messages, and
 * picks the member of each share group that is homed on it.
 */
#include <string.h>

#include "broker.h"

/* ---- sessions by client id (this worker's) ---- */

static uint32_t hash_bytes(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

int moted__home_of(int count, const uint8_t *id, size_t len)
{
    return count > 1 ? (int)(hash_bytes(id, len) % (uint32_t)count) : 0;
}

int moted__home_worker(const struct moted_broker *b, const uint8_t *id, size_t len)
{
    return moted__home_of(b->worker_count, id, len);
}

struct moted_session *moted__sessions_find(struct moted_worker *w, const uint8_t *id, size_t len)
{
    struct moted_session *s;
    if (!w->session_cap)
        return NULL;
    s = w->sessions[hash_bytes(id, len) & (w->session_cap - 1)];
    for (; s; s = s->hash_next)
        if (s->client_id_len == len && !memcmp(s->client_id, id, len))
            return s;
    return NULL;
}

int moted__sessions_add(struct moted_worker *w, struct moted_session *s)
{
    if (w->session_count + 1 > w->session_cap) {
        size_t cap = w->session_cap ? w->session_cap * 2 : 64;
        struct moted_session **t = moted__calloc(cap, sizeof *t);
        if (!t)
            return -1;
        for (size_t i = 0; i < w->session_cap; i++) {
            for (struct moted_session *x = w->sessions[i], *next; x; x = next) {
                next = x->hash_next;
                size_t b = hash_bytes((const uint8_t *)x->client_id, x->client_id_len) & (cap - 1);
                x->hash_next = t[b];
                t[b] = x;
            }
        }
        moted__free(w->sessions);
        w->sessions = t;
        w->session_cap = cap;
    }
    size_t b = hash_bytes((const uint8_t *)s->client_id, s->client_id_len) & (w->session_cap - 1);
    s->hash_next = w->sessions[b];
    w->sessions[b] = s;
    s->owner = w;
    w->session_count++;
    return 0;
}

void moted__sessions_remove(struct moted_worker *w, struct moted_session *s)
{
    size_t b = hash_bytes((const uint8_t *)s->client_id, s->client_id_len) & (w->session_cap - 1);
    for (struct moted_session **pp = &w->sessions[b]; *pp; pp = &(*pp)->hash_next) {
        if (*pp == s) {
            *pp = s->hash_next;
            w->session_count--;
            return;
        }
    }
}

/* ---- matching ---- */

static struct moted_delivery *delivery_for(struct moted_worker *w, struct moted_session *s)
{
    struct moted_delivery *d;
    if (s->match_mark == w->match_gen)
        return &w->scratch[s->match_slot];
    if (w->scratch_len == w->scratch_cap) {
        size_t cap = w->scratch_cap ? w->scratch_cap * 2 : 64;
        d = moted__realloc(w->scratch, cap * sizeof *d);
        if (!d)
            return NULL;
        w->scratch = d;
        w->scratch_cap = cap;
    }
    s->match_mark = w->match_gen;
    s->match_slot = (uint32_t)w->scratch_len;
    d = &w->scratch[w->scratch_len++];
    memset(d, 0, sizeof *d);
    d->s = s;
    return d;
}

struct match_ctx {
    struct moted_worker *w;
    struct moted_msg *m;
};

static uint8_t granted(const struct moted_broker *b, uint8_t sub_qos, uint8_t msg_qos)
{
    if (moted__cfg(b)->upgrade_outgoing_qos)
        return sub_qos;
    return sub_qos < msg_qos ? sub_qos : msg_qos;
}

static void on_sub(void *ctx, const struct moted_sub *sub)
{
    struct match_ctx *mc = ctx;
    struct moted_session *s = sub->owner;
    struct moted_delivery *d;
    uint8_t qos;

    if (sub->no_local && mc->m->origin == s)
        return;
    d = delivery_for(mc->w, s);
    if (!d) {
        atomic_fetch_add(&mc->w->b->dropped, 1);
        return;
    }
    /* Overlapping subscriptions: one delivery, the highest QoS, every identifier (5.0 3.3.4). */
    qos = granted(mc->w->b, sub->qos, mc->m->qos);
    if (qos > d->qos)
        d->qos = qos;
    if (sub->retain_as_published && mc->m->retain)
        d->retain = 1;
    if (sub->id && d->sub_id_count < MOTED_MAX_SUB_IDS)
        d->sub_ids[d->sub_id_count++] = sub->id;
}

/* A share group member, as the group's home worker knows it. */
struct share_member {
    uint8_t *client_id;
    size_t client_id_len;
    int worker;
    uint64_t sid; /* its session's store row when it subscribed, 0: not stored */
};

static void share_member_release(void *owner)
{
    struct share_member *sm = owner;
    moted__free(sm->client_id);
    moted__free(sm);
}

static void deliver_to_client(struct moted_worker *w, const struct share_member *sm,
                              struct moted_msg *m, uint8_t qos, uint32_t sub_id)
{
    const uint8_t *id = sm->client_id;
    size_t len = sm->client_id_len;
    if (sm->worker == w->index) {
        struct moted_session *s = moted__sessions_find(w, id, len);
        if (s)
            moted__proto_deliver(s, m, qos, 0, &sub_id, sub_id ? 1 : 0);
        return;
    }
    struct moted_post *p = moted__calloc(1, sizeof *p);
    if (!p || !(p->key = moted__malloc(len ? len : 1))) {
        moted__free(p);
        atomic_fetch_add(&w->b->dropped, 1);
        return;
    }
    memcpy(p->key, id, len);
    p->key_len = len;
    p->kind = POST_DELIVER;
    moted__msg_ref(m);
    p->msg = m;
    p->qos = qos;
    p->sub_id = sub_id;
    /* A stored member's row is written here, with this worker's record of having matched m:
     * a crash before the member's worker writes anything then loses nothing (store.c). */
    p->sid = sm->sid;
    p->row = moted__store_queue_put_for(w, sm->sid, m, qos, &sub_id, sub_id ? 1 : 0);
    moted__worker_post(w, sm->worker, p);
}

static void on_share(void *ctx, struct moted_share *g)
{
    struct match_ctx *mc = ctx;
    struct moted_sub *pick = g->members;
    size_t n = g->next_pick++ % (g->count ? g->count : 1);
    for (size_t i = 0; pick && i < n; i++)
        pick = pick->next;
    if (!pick)
        return;
    struct share_member *sm = pick->owner;
    deliver_to_client(mc->w, sm, mc->m, granted(mc->w->b, pick->qos, mc->m->qos), pick->id);
}

static void retained_release(void *owner)
{
    moted__msg_unref(owner);
}

static void store_retained(struct moted_worker *w, struct moted_msg *m)
{
    const uint8_t *topic = moted__msg_topic(m);
    if (m->payload_len == 0) { /* an empty retained message clears (MQTT-3.3.1-6) */
        moted__tree_remove(&w->retained, topic, m->topic_len, 1);
        return;
    }
    struct moted_sub entry = {.key = 1, .owner = m};
    moted__msg_ref(m);
    if (moted__tree_add(&w->retained, topic, m->topic_len, &entry) < 0) {
        moted__msg_unref(m);
        moted__log(MOTED_LOG_WARNING, "out of memory: retained message on %.*s not stored",
                   (int)m->topic_len, topic);
    }
}

void moted__router_retain(struct moted_worker *w, struct moted_msg *m)
{
    store_retained(w, m);
}

void moted__router_local(struct moted_worker *w, struct moted_msg *m)
{
    struct match_ctx mc = {w, m};
    struct moted_match_cb cb = {on_sub, on_share, &mc};

    if (m->retain && moted__cfg(w->b)->retain_available)
        store_retained(w, m);
    w->match_gen++;
    w->scratch_len = 0;
    moted__tree_match(&w->tree, moted__msg_topic(m), m->topic_len, &cb);
    moted__tree_match(&w->shares, moted__msg_topic(m), m->topic_len, &cb);
    for (size_t i = 0; i < w->scratch_len; i++) {
        struct moted_delivery *d = &w->scratch[i];
        moted__proto_deliver(d->s, m, d->qos, d->retain, d->sub_ids, d->sub_id_count);
    }
}

void moted__router_publish(struct moted_worker *w, struct moted_msg *m)
{
    /* Stored before anything refers to it (local queue rows do at once). The origin is a
     * session of this worker: here, and only here, it may be followed. */
    moted__store_published(w, m, (const struct moted_session *)m->origin);
    if (m->retain && moted__cfg(w->b)->retain_available)
        moted__store_retained(w, m);
    moted__router_local(w, m);
    for (int i = 0; i < w->b->worker_count; i++) {
        if (i == w->index)
            continue;
        struct moted_post *p = moted__calloc(1, sizeof *p);
        if (!p) {
            atomic_fetch_add(&w->b->dropped, 1);
            continue;
        }
        p->kind = POST_MSG;
        moted__msg_ref(m);
        p->msg = m;
        moted__worker_post(w, i, p);
    }
}

/* ---- subscriptions ---- */

static int share_home(const struct moted_broker *b, struct mote_slice filter)
{
    return moted__home_worker(b, filter.ptr, filter.len);
}

/* see broker.h */
void moted__router_share_apply(struct moted_worker *w, struct moted_post *p)
{
    /* A member is known by its session's address: sessions never move between workers, and a
     * session posts SHARE_DEL before it is freed, so an address is never reused while listed. */
    uintptr_t key = p->member;
    if (p->kind == POST_SHARE_DEL) {
        moted__tree_remove(&w->shares, p->key, p->key_len, key);
        return;
    }
    struct share_member *sm = moted__calloc(1, sizeof *sm);
    if (!sm || !(sm->client_id = moted__malloc(p->client_id_len ? p->client_id_len : 1))) {
        moted__free(sm);
        moted__log(MOTED_LOG_WARNING, "out of memory: shared subscription not added");
        return;
    }
    memcpy(sm->client_id, p->client_id, p->client_id_len);
    sm->client_id_len = p->client_id_len;
    sm->worker = p->from;
    sm->sid = p->sid;
    struct moted_sub sub = {.key = key,
                            .owner = sm,
                            .qos = p->opts.qos,
                            .retain_as_published = p->opts.retain_as_published,
                            .id = p->sub_id};
    if (moted__tree_add(&w->shares, p->key, p->key_len, &sub) < 0)
        share_member_release(sm);
}

static void share_change(struct moted_session *s, enum moted_post_kind kind,
                         const struct mote_subscription *sub, struct mote_slice filter,
                         uint32_t sub_id)
{
    struct moted_worker *w = s->owner;
    struct moted_post *p = moted__calloc(1, sizeof *p);
    if (!p)
        goto oom;
    p->kind = kind;
    p->key = moted__malloc(filter.len);
    p->client_id = moted__malloc(s->client_id_len ? s->client_id_len : 1);
    if (!p->key || !p->client_id)
        goto oom;
    memcpy(p->key, filter.ptr, filter.len);
    p->key_len = filter.len;
    memcpy(p->client_id, s->client_id, s->client_id_len);
    p->client_id_len = s->client_id_len;
    p->from = w->index;
    p->member = (uintptr_t)s;
    p->sid = s->sid;
    p->sub_id = sub_id;
    if (sub)
        p->opts = *sub;
    int home = share_home(w->b, filter);
    if (home == w->index) {
        moted__router_share_apply(w, p);
        moted__free(p->key);
        moted__free(p->client_id);
        moted__free(p);
    } else {
        moted__worker_post(w, home, p);
    }
    return;
oom:
    if (p) {
        moted__free(p->key);
        moted__free(p->client_id);
        moted__free(p);
    }
    moted__log(MOTED_LOG_WARNING, "out of memory: shared subscription change lost");
}

static struct moted_session_sub **session_sub_find(struct moted_session *s,
                                                   struct mote_slice filter)
{
    struct moted_session_sub **pp;
    for (pp = &s->subs; *pp; pp = &(*pp)->next)
        if ((*pp)->filter_len == filter.len && !memcmp((*pp)->filter, filter.ptr, filter.len))
            return pp;
    return pp;
}

int moted__router_subscribe(struct moted_session *s, const struct mote_subscription *sub,
                            uint32_t sub_id)
{
    struct moted_session_sub **pp = session_sub_find(s, sub->filter);
    int existed = *pp != NULL;

    if (!existed) {
        struct moted_session_sub *ss = moted__calloc(1, sizeof *ss);
        if (!ss || !(ss->filter = moted__malloc(sub->filter.len))) {
            moted__free(ss);
            return -1;
        }
        memcpy(ss->filter, sub->filter.ptr, sub->filter.len);
        ss->filter_len = sub->filter.len;
        *pp = ss;
        s->sub_count++;
    }
    moted__store_sub(s, sub, sub_id, !existed);
    if (mote_topic_share(sub->filter, NULL, NULL)) {
        share_change(s, POST_SHARE_ADD, sub, sub->filter, sub_id);
        return existed;
    }
    struct moted_sub entry = {.key = (uintptr_t)s,
                              .owner = s,
                              .qos = sub->qos,
                              .no_local = sub->no_local,
                              .retain_as_published = sub->retain_as_published,
                              .retain_handling = sub->retain_handling,
                              .id = sub_id};
    if (moted__tree_add(&s->owner->tree, sub->filter.ptr, sub->filter.len, &entry) < 0) {
        if (!existed) {
            moted__store_unsub(s, sub->filter.ptr, sub->filter.len);
            struct moted_session_sub *ss = *pp;
            *pp = ss->next;
            moted__free(ss->filter);
            moted__free(ss);
            s->sub_count--;
        }
        return -1;
    }
    return existed;
}

static void unsubscribe_one(struct moted_session *s, struct mote_slice filter)
{
    if (mote_topic_share(filter, NULL, NULL))
        share_change(s, POST_SHARE_DEL, NULL, filter, 0);
    else
        moted__tree_remove(&s->owner->tree, filter.ptr, filter.len, (uintptr_t)s);
}

int moted__router_unsubscribe(struct moted_session *s, struct mote_slice filter)
{
    struct moted_session_sub **pp = session_sub_find(s, filter), *ss = *pp;
    if (!ss)
        return 0;
    moted__store_unsub(s, filter.ptr, filter.len);
    unsubscribe_one(s, filter);
    *pp = ss->next;
    moted__free(ss->filter);
    moted__free(ss);
    s->sub_count--;
    return 1;
}

void moted__router_unsubscribe_all(struct moted_session *s)
{
    while (s->subs)
        moted__router_unsubscribe(s, (struct mote_slice){s->subs->filter, s->subs->filter_len});
}

struct retained_ctx {
    struct moted_session *s;
    uint8_t qos;
    uint32_t sub_id;
    uint64_t now;
};

static void on_retained(void *ctx, const struct moted_sub *entry)
{
    struct retained_ctx *rc = ctx;
    struct moted_msg *m = entry->owner;
    int expired;
    moted__msg_expiry_left(m, rc->now, &expired);
    if (expired)
        return;
    moted__proto_deliver(rc->s, m, granted(rc->s->owner->b, rc->qos, m->qos), 1, &rc->sub_id,
                         rc->sub_id ? 1 : 0);
}

void moted__router_send_retained(struct moted_session *s, const struct mote_subscription *sub,
                                 uint32_t sub_id)
{
    struct retained_ctx rc = {s, sub->qos, sub_id, s->owner->loop.now_ms};
    struct moted_match_cb cb = {on_retained, NULL, &rc};
    if (mote_topic_share(sub->filter, NULL, NULL))
        return; /* retained messages are not sent to shared subscriptions */
    moted__tree_match_filter(&s->owner->retained, sub->filter.ptr, sub->filter.len, &cb);
}

/* see broker.h */
int moted__router_init_worker(struct moted_worker *w)
{
    if (moted__tree_init(&w->tree) || moted__tree_init(&w->retained) ||
        moted__tree_init(&w->shares))
        return -1;
    w->retained.release = retained_release;
    w->shares.release = share_member_release;
    return 0;
}

/* see broker.h */
void moted__router_free_worker(struct moted_worker *w)
{
    moted__tree_free(&w->tree);
    moted__tree_free(&w->retained);
    moted__tree_free(&w->shares);
    moted__free(w->scratch);
    w->scratch = NULL;
}
