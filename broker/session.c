/*
 * session.c - the state MQTT keeps per client id: messages in flight each way, the queue of
 * deliveries waiting for the window or for the client to return, subscriptions and the will.
 */
#include <string.h>

#include "broker.h"

struct moted_session *moted__session_new(const uint8_t *id, size_t len)
{
    struct moted_session *s = moted__calloc(1, sizeof *s + len + 1);
    if (!s)
        return NULL;
    memcpy(s->id_store, id, len);
    s->client_id = s->id_store;
    s->client_id_len = len;
    s->next_id = 1;
    s->window = 20;
    return s;
}

static void drop_out(struct moted_session *s)
{
    for (uint32_t i = 0; i < s->out_len; i++) {
        struct moted_out *o = moted__session_out_at(s, i);
        if (o->state != OUT_FREE)
            moted__msg_unref(o->msg);
    }
    moted__free(s->out);
    s->out = NULL;
    s->out_cap = s->out_head = s->out_len = s->out_count = 0;
    s->resend_pending = 0;
}

static void drop_queue(struct moted_session *s)
{
    for (struct moted_queued *q = s->queue_head, *next; q; q = next) {
        next = q->next;
        moted__msg_unref(q->msg);
        moted__free(q);
    }
    s->queue_head = s->queue_tail = NULL;
    s->queue_count = s->queue_bytes = 0;
}

void moted__session_clear(struct moted_session *s)
{
    drop_out(s);
    drop_queue(s);
    moted__free(s->in_qos2);
    s->in_qos2 = NULL;
    s->in_qos2_count = s->in_qos2_cap = 0;
    moted__router_unsubscribe_all(s);
}

void moted__session_free(struct moted_session *s)
{
    if (!s)
        return;
    moted__session_clear(s);
    moted__msg_unref(s->will);
    moted__free(s->username);
    moted__free(s);
}

struct moted_queued *moted__session_queue_add(struct moted_session *s, struct moted_msg *m,
                                              uint8_t qos, uint8_t retain, const uint32_t *sub_ids,
                                              uint8_t nsub, uint64_t row)
{
    struct moted_queued *q = moted__calloc(1, sizeof *q);
    if (!q)
        return NULL;
    moted__msg_ref(m);
    q->msg = m;
    q->row = row;
    q->qos = qos;
    q->retain = retain;
    q->sub_id_count = nsub;
    memcpy(q->sub_ids, sub_ids, nsub * sizeof *sub_ids);
    if (s->queue_tail)
        s->queue_tail->next = q;
    else
        s->queue_head = q;
    s->queue_tail = q;
    s->queue_count++;
    s->queue_bytes += m->topic_len + m->payload_len;
    return q;
}

struct moted_out *moted__session_out_find(struct moted_session *s, uint16_t id)
{
    /* Acknowledgements usually come in order: the oldest slot first. */
    for (uint32_t i = 0; i < s->out_len; i++) {
        struct moted_out *o = moted__session_out_at(s, i);
        if (o->state != OUT_FREE && o->packet_id == id)
            return o;
    }
    return NULL;
}

/* Makes room for one more slot at the tail: compacts holes away, or doubles the ring. */
static int out_room(struct moted_session *s)
{
    uint32_t cap = s->out_cap;
    struct moted_out *ring;
    if (s->out_len < cap)
        return 0;
    if (s->out_count < cap / 2 + 1 && cap) {
        uint32_t j = 0;
        for (uint32_t i = 0; i < s->out_len; i++) {
            struct moted_out *o = moted__session_out_at(s, i);
            if (o->state != OUT_FREE)
                *moted__session_out_at(s, j++) = *o;
        }
        s->out_len = j;
        if (j < cap)
            return 0;
    }
    cap = cap ? cap * 2 : 8;
    ring = moted__calloc(cap, sizeof *ring);
    if (!ring)
        return -1;
    for (uint32_t i = 0; i < s->out_len; i++)
        ring[i] = *moted__session_out_at(s, i);
    moted__free(s->out);
    s->out = ring;
    s->out_cap = cap;
    s->out_head = 0;
    return 0;
}

struct moted_out *moted__session_out_add(struct moted_session *s)
{
    struct moted_out *o;
    uint16_t id;
    if (s->out_count >= s->window || out_room(s))
        return NULL;
    /* A packet id not in use (MQTT-2.2.1-3); the window is below 65535, so one exists. */
    do {
        id = s->next_id++;
        if (s->next_id == 0)
            s->next_id = 1;
    } while (moted__session_out_find(s, id));
    o = moted__session_out_at(s, s->out_len++);
    memset(o, 0, sizeof *o);
    o->packet_id = id;
    s->out_count++;
    return o;
}

struct moted_out *moted__session_out_restore(struct moted_session *s, uint16_t packet_id)
{
    struct moted_out *o;
    if (out_room(s))
        return NULL;
    o = moted__session_out_at(s, s->out_len++);
    memset(o, 0, sizeof *o);
    o->packet_id = packet_id;
    s->out_count++;
    if (packet_id >= s->next_id)
        s->next_id = packet_id == 65535 ? 1 : (uint16_t)(packet_id + 1);
    return o;
}

void moted__session_out_del(struct moted_session *s, struct moted_out *o)
{
    moted__store_queue_del(s, o->row);
    o->row = 0;
    if (o->resend) { /* acknowledged before we sent it again (a client that remembered it) */
        o->resend = 0;
        s->resend_pending--;
    }
    moted__msg_unref(o->msg);
    o->msg = NULL;
    o->state = OUT_FREE;
    s->out_count--;
    while (s->out_len && moted__session_out_at(s, 0)->state == OUT_FREE) {
        s->out_head = (s->out_head + 1) & (s->out_cap - 1);
        s->out_len--;
    }
}

int moted__session_qos2_has(const struct moted_session *s, uint16_t id)
{
    for (uint16_t i = 0; i < s->in_qos2_count; i++)
        if (s->in_qos2[i] == id)
            return 1;
    return 0;
}

int moted__session_qos2_add(struct moted_session *s, uint16_t id)
{
    if (s->in_qos2_count == s->in_qos2_cap) {
        uint16_t cap = s->in_qos2_cap ? (uint16_t)(s->in_qos2_cap * 2) : 8;
        uint16_t *ids;
        if (cap < s->in_qos2_cap) /* 65535 in flight is the protocol's end */
            return -1;
        ids = moted__realloc(s->in_qos2, cap * sizeof *ids);
        if (!ids)
            return -1;
        s->in_qos2 = ids;
        s->in_qos2_cap = cap;
    }
    s->in_qos2[s->in_qos2_count++] = id;
    return 0;
}

void moted__session_qos2_del(struct moted_session *s, uint16_t id)
{
    for (uint16_t i = 0; i < s->in_qos2_count; i++) {
        if (s->in_qos2[i] == id) {
            s->in_qos2[i] = s->in_qos2[--s->in_qos2_count];
            return;
        }
    }
}
