/*
 * msg.c - published messages: one immutable, reference-counted copy per PUBLISH, however many
 * sessions deliver it. Only the properties that travel to subscribers are kept, as raw bytes
 * ready to be written again; the expiry becomes a deadline so the remaining time can be sent.
 */
#include <string.h>

#include "broker.h"

/* Properties that stay with the hop they came on, or that the broker rewrites. */
static int travels(uint8_t id)
{
    return id != MOTE_PROP_TOPIC_ALIAS && id != MOTE_PROP_SUBSCRIPTION_ID &&
           id != MOTE_PROP_MESSAGE_EXPIRY && id != MOTE_PROP_WILL_DELAY;
}

struct moted_msg *moted__msg_new(struct mote_slice topic, const struct mote_props *props,
                                 struct mote_slice payload, uint8_t qos, uint8_t retain,
                                 const void *origin, uint64_t now_ms)
{
    struct mote_prop_iter it;
    struct mote_prop p;
    size_t props_len = 0;
    uint64_t expire_at = 0;
    struct moted_msg *m;
    uint8_t *out;

    if (topic.len > 65535 || payload.len > MOTE_VARINT_MAX)
        return NULL;
    if (props) {
        const uint8_t *start;
        mote_props_iter(props, &it);
        for (start = it.pos; mote_props_next(&it, &p); start = it.pos) {
            if (travels(p.id))
                props_len += (size_t)(it.pos - start);
            else if (p.id == MOTE_PROP_MESSAGE_EXPIRY)
                expire_at = now_ms + (uint64_t)p.v.num * 1000u;
        }
    }
    m = moted__malloc(sizeof *m + topic.len + props_len + payload.len);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    atomic_init(&m->store_id, 0);
    m->store_src = -1;
    m->qos = qos;
    m->retain = retain;
    m->expire_at_ms = expire_at;
    m->origin = origin;
    m->topic_len = (uint16_t)topic.len;
    m->props_len = (uint32_t)props_len;
    m->payload_len = (uint32_t)payload.len;
    out = m->data;
    if (topic.len)
        memcpy(out, topic.ptr, topic.len);
    out += topic.len;
    if (props) {
        const uint8_t *start;
        mote_props_iter(props, &it);
        for (start = it.pos; mote_props_next(&it, &p); start = it.pos) {
            if (travels(p.id)) {
                memcpy(out, start, (size_t)(it.pos - start));
                out += it.pos - start;
            }
        }
    }
    if (payload.len)
        memcpy(out, payload.ptr, payload.len);
    return m;
}

void moted__msg_ref(struct moted_msg *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void moted__msg_unref(struct moted_msg *m)
{
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        uint64_t id = atomic_load_explicit(&m->store_id, memory_order_relaxed);
        if (id) /* nobody holds it any more: neither does the store */
            moted__store_msg_gone(id);
        moted__free(m);
    }
}

uint32_t moted__msg_expiry_left(const struct moted_msg *m, uint64_t now_ms, int *expired)
{
    *expired = 0;
    if (!m->expire_at_ms)
        return 0;
    if (now_ms >= m->expire_at_ms) {
        *expired = 1;
        return 0;
    }
    return (uint32_t)((m->expire_at_ms - now_ms + 999u) / 1000u);
}
