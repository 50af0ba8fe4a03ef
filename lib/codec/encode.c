/*
 * encode.c - writes packets into the caller's buffer. One function per packet both counts and
 * writes (struct wr with a NULL buffer only counts), so mote_codec_size() and mote_codec_encode()
 * always agree. The encoder refuses anything a strict decoder would refuse.
 */
#include "codec_internal.h"

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != MOTE_OK)                                                                        \
            return rc_;                                                                            \
    } while (0)

static int check_bin(struct mote_slice s)
{
    if (s.len > 65535)
        return MOTE_ERR_STRING_TOO_LONG;
    return !s.ptr && s.len ? MOTE_ERR_BAD_ARG : MOTE_OK;
}

/* Properties: a section in 5.0; in 3.1/3.1.1 there must be none. */
static int put_props(struct wr *w, uint8_t version, uint8_t type, const struct mote_props *props,
                     int *has_alias)
{
    if (version != MOTE_V5)
        return mote__props_empty(props) ? MOTE_OK : MOTE_ERR_PROPERTIES_IN_V3;
    return mote__props_encode(w, type, props, has_alias);
}

static int put_packet_id(struct wr *w, uint16_t id)
{
    if (!id)
        return MOTE_ERR_PACKET_ID_ZERO;
    wr_u16(w, id);
    return MOTE_OK;
}

static int encode_connect(struct wr *w, const struct mote_connect *c)
{
    uint8_t flags = 0;
    if (c->will_qos > 2)
        return MOTE_ERR_QOS;
    if (!c->will && (c->will_qos || c->will_retain))
        return MOTE_ERR_CONNECT_FLAGS;
    if (c->version != MOTE_V5 && c->has_password && !c->has_username)
        return MOTE_ERR_CONNECT_FLAGS;
    TRY(mote__check_str(c->client_id));

    if (c->version == MOTE_V31)
        wr_bin(w, MOTE_SLICE_STR("MQIsdp"));
    else
        wr_bin(w, MOTE_SLICE_STR("MQTT"));
    wr_u8(w, c->version);
    flags |= c->clean_start ? 0x02 : 0;
    flags |= c->will ? (uint8_t)(0x04 | (c->will_qos << 3) | (c->will_retain ? 0x20 : 0)) : 0;
    flags |= c->has_password ? 0x40 : 0;
    flags |= c->has_username ? 0x80 : 0;
    wr_u8(w, flags);
    wr_u16(w, c->keep_alive);
    TRY(put_props(w, c->version, MOTE_CONNECT, &c->props, NULL));
    wr_bin(w, c->client_id);
    if (c->will) {
        TRY(put_props(w, c->version, 0, &c->will_props, NULL));
        TRY(mote__check_str(c->will_topic));
        TRY(mote_topic_check_name(c->will_topic.ptr, c->will_topic.len));
        TRY(check_bin(c->will_payload));
        wr_bin(w, c->will_topic);
        wr_bin(w, c->will_payload);
    }
    if (c->has_username) {
        TRY(mote__check_str(c->username));
        wr_bin(w, c->username);
    }
    if (c->has_password) {
        TRY(check_bin(c->password));
        wr_bin(w, c->password);
    }
    return MOTE_OK;
}

static int encode_connack(struct wr *w, uint8_t version, const struct mote_connack *c)
{
    if (!mote_reason_allowed(version, MOTE_CONNACK, c->reason))
        return MOTE_ERR_REASON_CODE;
    if (c->session_present && c->reason != 0)
        return MOTE_ERR_CONNACK_FLAGS;
    wr_u8(w, c->session_present ? 1 : 0);
    wr_u8(w, c->reason);
    return put_props(w, version, MOTE_CONNACK, &c->props, NULL);
}

static int encode_publish(struct wr *w, uint8_t version, const struct mote_publish *p)
{
    int has_alias = 0;
    if (p->qos > 2)
        return MOTE_ERR_QOS;
    if (p->dup && p->qos == 0)
        return MOTE_ERR_PUBLISH_DUP;
    TRY(mote__check_str(p->topic));
    wr_bin(w, p->topic);
    if (p->qos)
        TRY(put_packet_id(w, p->packet_id));
    TRY(put_props(w, version, MOTE_PUBLISH, &p->props, &has_alias));
    if (!(p->topic.len == 0 && has_alias))
        TRY(mote_topic_check_name(p->topic.ptr, p->topic.len));
    if (!p->payload.ptr && p->payload.len)
        return MOTE_ERR_BAD_ARG;
    if (p->payload.len > MOTE_VARINT_MAX) /* before counting: the count must never wrap */
        return MOTE_ERR_PACKET_TOO_LARGE;
    wr_bytes(w, p->payload.ptr, p->payload.len);
    return MOTE_OK;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP: 5.0 leaves out what is default (MQTT 5.0 section 3.4.2.1). */
static int encode_ack(struct wr *w, uint8_t version, uint8_t type, const struct mote_ack *a)
{
    if (!mote_reason_allowed(version, type, a->reason))
        return MOTE_ERR_REASON_CODE;
    TRY(put_packet_id(w, a->packet_id));
    if (version != MOTE_V5)
        return put_props(w, version, type, &a->props, NULL);
    if (a->reason == 0 && mote__props_empty(&a->props))
        return MOTE_OK;
    wr_u8(w, a->reason);
    if (mote__props_empty(&a->props))
        return MOTE_OK;
    return put_props(w, version, type, &a->props, NULL);
}

static int check_filter(struct mote_slice f)
{
    TRY(mote__check_str(f));
    return mote_topic_check_filter(f.ptr, f.len);
}

static int encode_subscribe(struct wr *w, uint8_t version, const struct mote_subscribe *s)
{
    if (!s->count)
        return MOTE_ERR_NO_TOPICS;
    if (!s->list)
        return MOTE_ERR_BAD_ARG;
    TRY(put_packet_id(w, s->packet_id));
    TRY(put_props(w, version, MOTE_SUBSCRIBE, &s->props, NULL));
    for (size_t i = 0; i < s->count; i++) {
        const struct mote_subscription *sub = &s->list[i];
        uint8_t opts = sub->qos;
        TRY(check_filter(sub->filter));
        if (sub->qos > 2)
            return MOTE_ERR_QOS;
        if (version == MOTE_V5) {
            if (sub->retain_handling > 2 || sub->no_local > 1 || sub->retain_as_published > 1)
                return MOTE_ERR_SUBSCRIBE_OPTIONS;
            if (sub->no_local && mote_topic_share(sub->filter, NULL, NULL))
                return MOTE_ERR_SHARED_NO_LOCAL;
            opts |= (uint8_t)((sub->no_local << 2) | (sub->retain_as_published << 3) |
                              (sub->retain_handling << 4));
        } else if (sub->no_local || sub->retain_as_published || sub->retain_handling) {
            return MOTE_ERR_SUBSCRIBE_OPTIONS;
        }
        wr_bin(w, sub->filter);
        wr_u8(w, opts);
    }
    return MOTE_OK;
}

static int encode_unsubscribe(struct wr *w, uint8_t version, const struct mote_unsubscribe *u)
{
    if (!u->count)
        return MOTE_ERR_NO_TOPICS;
    if (!u->list)
        return MOTE_ERR_BAD_ARG;
    TRY(put_packet_id(w, u->packet_id));
    TRY(put_props(w, version, MOTE_UNSUBSCRIBE, &u->props, NULL));
    for (size_t i = 0; i < u->count; i++) {
        TRY(check_filter(u->list[i]));
        wr_bin(w, u->list[i]);
    }
    return MOTE_OK;
}

/* SUBACK, and UNSUBACK (whose codes are not sent before 5.0, so they are ignored there). */
static int encode_suback(struct wr *w, uint8_t version, uint8_t type, const struct mote_suback *s)
{
    TRY(put_packet_id(w, s->packet_id));
    TRY(put_props(w, version, type, &s->props, NULL));
    if (type == MOTE_UNSUBACK && version != MOTE_V5)
        return MOTE_OK;
    if (!s->count)
        return MOTE_ERR_NO_TOPICS;
    if (!s->codes)
        return MOTE_ERR_BAD_ARG;
    if (s->count > MOTE_VARINT_MAX)
        return MOTE_ERR_PACKET_TOO_LARGE;
    for (size_t i = 0; i < s->count; i++)
        if (!mote_reason_allowed(version, type, s->codes[i]))
            return MOTE_ERR_REASON_CODE;
    wr_bytes(w, s->codes, s->count);
    return MOTE_OK;
}

/* DISCONNECT and AUTH: empty when the reason is 0 and there are no properties. */
static int encode_reason_packet(struct wr *w, uint8_t version, uint8_t type,
                                const struct mote_reason_packet *d)
{
    if (!mote_reason_allowed(version, type, d->reason))
        return MOTE_ERR_REASON_CODE;
    if (version != MOTE_V5)
        return put_props(w, version, type, &d->props, NULL);
    if (d->reason == 0 && mote__props_empty(&d->props))
        return MOTE_OK;
    wr_u8(w, d->reason);
    if (mote__props_empty(&d->props))
        return MOTE_OK;
    return put_props(w, version, type, &d->props, NULL);
}

static int encode_body(struct wr *w, const struct mote_packet *p, uint8_t version)
{
    switch (p->type) {
    case MOTE_CONNECT:
        return encode_connect(w, &p->u.connect);
    case MOTE_CONNACK:
        return encode_connack(w, version, &p->u.connack);
    case MOTE_PUBLISH:
        return encode_publish(w, version, &p->u.publish);
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP:
        return encode_ack(w, version, p->type, &p->u.ack);
    case MOTE_SUBSCRIBE:
        return encode_subscribe(w, version, &p->u.subscribe);
    case MOTE_SUBACK:
    case MOTE_UNSUBACK:
        return encode_suback(w, version, p->type, &p->u.suback);
    case MOTE_UNSUBSCRIBE:
        return encode_unsubscribe(w, version, &p->u.unsubscribe);
    case MOTE_PINGREQ:
    case MOTE_PINGRESP:
        return MOTE_OK;
    case MOTE_DISCONNECT:
    case MOTE_AUTH:
        return encode_reason_packet(w, version, p->type, &p->u.reason);
    default:
        return MOTE_ERR_PACKET_TYPE;
    }
}

static uint8_t first_byte(const struct mote_packet *p)
{
    uint8_t flags = 0;
    if (p->type == MOTE_PUBLISH)
        flags = (uint8_t)((p->u.publish.dup ? 8 : 0) | (p->u.publish.qos << 1) |
                          (p->u.publish.retain ? 1 : 0));
    else if (p->type == MOTE_PUBREL || p->type == MOTE_SUBSCRIBE || p->type == MOTE_UNSUBSCRIBE)
        flags = 2;
    return (uint8_t)(p->type << 4 | flags);
}

/* Validates and counts the body; sets *body and *total. */
static int measure(const struct mote_packet *p, uint8_t *version, size_t *body, size_t *total)
{
    struct wr w = {NULL, 0};
    if (!p)
        return MOTE_ERR_BAD_ARG;
    if (p->type == MOTE_CONNECT)
        *version = p->u.connect.version;
    if (*version != MOTE_V31 && *version != MOTE_V311 && *version != MOTE_V5)
        return MOTE_ERR_VERSION;
    if (p->type == MOTE_AUTH && *version != MOTE_V5)
        return MOTE_ERR_PACKET_TYPE;
    TRY(encode_body(&w, p, *version));
    if (w.n > MOTE_VARINT_MAX)
        return MOTE_ERR_PACKET_TOO_LARGE;
    *body = w.n;
    *total = 1 + mote_varint_size((uint32_t)w.n) + w.n;
    return MOTE_OK;
}

/* see mote/codec.h */
int mote_codec_size(const struct mote_packet *p, uint8_t version, size_t *size)
{
    size_t body;
    if (!size)
        return MOTE_ERR_BAD_ARG;
    return measure(p, &version, &body, size);
}

/* see mote/codec.h */
int mote_codec_encode(const struct mote_packet *p, uint8_t version, uint8_t *buf, size_t cap,
                      size_t *written)
{
    size_t body, total;
    struct wr w;
    if (!buf || !written)
        return MOTE_ERR_BAD_ARG;
    TRY(measure(p, &version, &body, &total));
    if (total > cap)
        return MOTE_ERR_BUFFER_TOO_SMALL;
    w.buf = buf;
    w.n = 0;
    wr_u8(&w, first_byte(p));
    wr_varint(&w, (uint32_t)body);
    TRY(encode_body(&w, p, version));
    *written = w.n;
    return MOTE_OK;
}
