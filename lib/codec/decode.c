/*
 * decode.c - validates one whole packet and describes it with slices into the input.
 * Every rule of the specifications that a single packet can break is checked here, each as its
 * own error code; rules that need a session's state (topic alias ranges, packet ids in use)
 * belong to the broker and the client.
 */
#include "codec_internal.h"

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != MOTE_OK)                                                                        \
            return rc_;                                                                            \
    } while (0)

static int rd_packet_id(struct rd *r, uint16_t *id)
{
    TRY(rd_u16(r, id));
    return *id ? MOTE_OK : MOTE_ERR_PACKET_ID_ZERO;
}

static int slice_is(struct mote_slice s, const char *lit, size_t n)
{
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static int decode_connect(struct rd *r, struct mote_connect *c)
{
    struct mote_slice name;
    uint8_t level, flags;

    TRY(rd_bin(r, &name));
    if (!slice_is(name, "MQTT", 4) && !slice_is(name, "MQIsdp", 6))
        return MOTE_ERR_PROTOCOL_NAME;
    TRY(rd_u8(r, &level));
    if (name.len == 4 ? (level != MOTE_V311 && level != MOTE_V5) : level != MOTE_V31)
        return MOTE_ERR_PROTOCOL_LEVEL;
    c->version = level;

    TRY(rd_u8(r, &flags));
    c->clean_start = (flags >> 1) & 1;
    c->will = (flags >> 2) & 1;
    c->will_qos = (flags >> 3) & 3;
    c->will_retain = (flags >> 5) & 1;
    c->has_password = (flags >> 6) & 1;
    c->has_username = (flags >> 7) & 1;
    if (flags & 1) /* reserved (MQTT-3.1.2-3) */
        return MOTE_ERR_CONNECT_FLAGS;
    if (c->will_qos == 3)
        return MOTE_ERR_QOS;
    if (!c->will && (c->will_qos || c->will_retain)) /* MQTT-3.1.2-11, -13, -15 */
        return MOTE_ERR_CONNECT_FLAGS;
    if (level != MOTE_V5 && c->has_password && !c->has_username) /* 3.1.1: MQTT-3.1.2-22 */
        return MOTE_ERR_CONNECT_FLAGS;
    TRY(rd_u16(r, &c->keep_alive));
    if (level == MOTE_V5)
        TRY(mote__props_decode(r, MOTE_CONNECT, &c->props, NULL));

    TRY(rd_str(r, &c->client_id));
    if (c->will) {
        if (level == MOTE_V5)
            TRY(mote__props_decode(r, 0, &c->will_props, NULL));
        TRY(rd_str(r, &c->will_topic));
        TRY(mote_topic_check_name(c->will_topic.ptr, c->will_topic.len));
        TRY(rd_bin(r, &c->will_payload));
    }
    if (c->has_username)
        TRY(rd_str(r, &c->username));
    if (c->has_password)
        TRY(rd_bin(r, &c->password));
    return MOTE_OK;
}

static int decode_connack(struct rd *r, uint8_t version, struct mote_connack *c)
{
    uint8_t flags;
    TRY(rd_u8(r, &flags));
    TRY(rd_u8(r, &c->reason));
    if (flags & 0xFE)
        return MOTE_ERR_CONNACK_FLAGS;
    c->session_present = flags & 1;
    if (!mote_reason_allowed(version, MOTE_CONNACK, c->reason))
        return MOTE_ERR_REASON_CODE;
    if (c->session_present && c->reason != 0) /* MQTT-3.2.2-4 (3.1.1), MQTT-3.2.2-6 (5.0) */
        return MOTE_ERR_CONNACK_FLAGS;
    if (version == MOTE_V5)
        TRY(mote__props_decode(r, MOTE_CONNACK, &c->props, NULL));
    return MOTE_OK;
}

static int decode_publish(struct rd *r, uint8_t version, uint8_t flags, struct mote_publish *p)
{
    int has_alias = 0;
    p->dup = (flags >> 3) & 1;
    p->qos = (flags >> 1) & 3;
    p->retain = flags & 1;
    if (p->dup && p->qos == 0) /* MQTT-3.3.1-2 */
        return MOTE_ERR_PUBLISH_DUP;
    TRY(rd_str(r, &p->topic));
    if (p->qos)
        TRY(rd_packet_id(r, &p->packet_id));
    if (version == MOTE_V5)
        TRY(mote__props_decode(r, MOTE_PUBLISH, &p->props, &has_alias));
    if (!(p->topic.len == 0 && has_alias)) /* 5.0: a topic alias stands in for the name */
        TRY(mote_topic_check_name(p->topic.ptr, p->topic.len));
    p->payload.ptr = r->pos;
    p->payload.len = rd_left(r);
    r->pos = r->end;
    return MOTE_OK;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP. In 5.0 the reason code and properties may be left out. */
static int decode_ack(struct rd *r, uint8_t version, uint8_t type, struct mote_ack *a)
{
    TRY(rd_packet_id(r, &a->packet_id));
    if (version != MOTE_V5 || rd_left(r) == 0)
        return MOTE_OK;
    TRY(rd_u8(r, &a->reason));
    if (!mote_reason_allowed(version, type, a->reason))
        return MOTE_ERR_REASON_CODE;
    if (rd_left(r) == 0)
        return MOTE_OK;
    return mote__props_decode(r, type, &a->props, NULL);
}

/* `check` 0: the filter's wildcard and share syntax is left to the caller. */
static int read_subscription(struct rd *r, uint8_t version, int check,
                             struct mote_subscription *s)
{
    uint8_t opts;
    TRY(rd_str(r, &s->filter));
    if (check)
        TRY(mote_topic_check_filter(s->filter.ptr, s->filter.len));
    TRY(rd_u8(r, &opts));
    s->qos = opts & 3;
    s->no_local = (opts >> 2) & 1;
    s->retain_as_published = (opts >> 3) & 1;
    s->retain_handling = (opts >> 4) & 3;
    if (s->qos == 3)
        return MOTE_ERR_QOS;
    if (version != MOTE_V5) {
        if (opts & 0xFC) /* MQTT-3.8.3-4 (3.1.1) */
            return MOTE_ERR_SUBSCRIBE_OPTIONS;
        s->no_local = s->retain_as_published = s->retain_handling = 0;
        return MOTE_OK;
    }
    if ((opts & 0xC0) || s->retain_handling == 3) /* MQTT-3.8.3-5 */
        return MOTE_ERR_SUBSCRIBE_OPTIONS;
    if (s->no_local && mote_topic_share(s->filter, NULL, NULL)) /* MQTT-3.8.3-4 (5.0) */
        return MOTE_ERR_SHARED_NO_LOCAL;
    return MOTE_OK;
}

static int read_unsubscription(struct rd *r, int check, struct mote_slice *filter)
{
    TRY(rd_str(r, filter));
    return check ? mote_topic_check_filter(filter->ptr, filter->len) : MOTE_OK;
}

static int decode_subscribe(struct rd *r, uint8_t version, int check, struct mote_subscribe *s)
{
    TRY(rd_packet_id(r, &s->packet_id));
    if (version == MOTE_V5)
        TRY(mote__props_decode(r, MOTE_SUBSCRIBE, &s->props, NULL));
    s->raw.ptr = r->pos;
    s->raw.len = rd_left(r);
    while (rd_left(r)) {
        struct mote_subscription sub;
        TRY(read_subscription(r, version, check, &sub));
        s->count++;
    }
    return s->count ? MOTE_OK : MOTE_ERR_NO_TOPICS; /* MQTT-3.8.3-3 */
}

static int decode_unsubscribe(struct rd *r, uint8_t version, int check,
                              struct mote_unsubscribe *u)
{
    TRY(rd_packet_id(r, &u->packet_id));
    if (version == MOTE_V5)
        TRY(mote__props_decode(r, MOTE_UNSUBSCRIBE, &u->props, NULL));
    u->raw.ptr = r->pos;
    u->raw.len = rd_left(r);
    while (rd_left(r)) {
        struct mote_slice filter;
        TRY(read_unsubscription(r, check, &filter));
        u->count++;
    }
    return u->count ? MOTE_OK : MOTE_ERR_NO_TOPICS; /* MQTT-3.10.3-2 */
}

/* SUBACK, and UNSUBACK (which has no payload before 5.0). */
static int decode_suback(struct rd *r, uint8_t version, uint8_t type, struct mote_suback *s)
{
    TRY(rd_packet_id(r, &s->packet_id));
    if (type == MOTE_UNSUBACK && version != MOTE_V5)
        return MOTE_OK;
    if (version == MOTE_V5)
        TRY(mote__props_decode(r, type, &s->props, NULL));
    s->codes = r->pos;
    s->count = rd_left(r);
    r->pos = r->end;
    if (s->count == 0)
        return MOTE_ERR_NO_TOPICS;
    for (size_t i = 0; i < s->count; i++)
        if (!mote_reason_allowed(version, type, s->codes[i]))
            return MOTE_ERR_REASON_CODE;
    return MOTE_OK;
}

/* DISCONNECT and AUTH: in 5.0 both reason code and properties may be left out. */
static int decode_reason_packet(struct rd *r, uint8_t version, uint8_t type,
                                struct mote_reason_packet *d)
{
    if (version != MOTE_V5 || rd_left(r) == 0)
        return MOTE_OK;
    TRY(rd_u8(r, &d->reason));
    if (!mote_reason_allowed(version, type, d->reason))
        return MOTE_ERR_REASON_CODE;
    if (rd_left(r) == 0)
        return MOTE_OK;
    return mote__props_decode(r, type, &d->props, NULL);
}

static int decode_body(struct rd *r, uint8_t version, uint8_t flags, unsigned opts,
                       struct mote_packet *out)
{
    int check_filters = !(opts & MOTE_DECODE_LENIENT_FILTERS);
    switch (out->type) {
    case MOTE_CONNECT:
        return decode_connect(r, &out->u.connect);
    case MOTE_CONNACK:
        return decode_connack(r, version, &out->u.connack);
    case MOTE_PUBLISH:
        return decode_publish(r, version, flags, &out->u.publish);
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP:
        return decode_ack(r, version, out->type, &out->u.ack);
    case MOTE_SUBSCRIBE:
        return decode_subscribe(r, version, check_filters, &out->u.subscribe);
    case MOTE_SUBACK:
    case MOTE_UNSUBACK:
        return decode_suback(r, version, out->type, &out->u.suback);
    case MOTE_UNSUBSCRIBE:
        return decode_unsubscribe(r, version, check_filters, &out->u.unsubscribe);
    case MOTE_PINGREQ:
    case MOTE_PINGRESP:
        return MOTE_OK;
    case MOTE_DISCONNECT:
    case MOTE_AUTH:
        return decode_reason_packet(r, version, out->type, &out->u.reason);
    default:
        return MOTE_ERR_PACKET_TYPE;
    }
}

/* see mote/codec.h */
/* see mote/codec.h */
int mote_codec_decode(const uint8_t *buf, size_t len, uint8_t version, struct mote_packet *out)
{
    return mote_codec_decode_opts(buf, len, version, 0, out);
}

/* see mote/codec.h */
int mote_codec_decode_opts(const uint8_t *buf, size_t len, uint8_t version, unsigned opts,
                           struct mote_packet *out)
{
    struct mote_frame f;
    struct rd r;
    int rc;

    if (!buf || !out)
        return MOTE_ERR_BAD_ARG;
    memset(out, 0, sizeof *out);
    rc = mote_codec_frame(buf, len, 0, &f);
    if (rc != MOTE_OK)
        return rc;
    if (len > f.total)
        return MOTE_ERR_TRAILING_BYTES;
    out->type = f.type;
    out->flags = f.flags;
    if (f.type != MOTE_CONNECT && version != MOTE_V31 && version != MOTE_V311 &&
        version != MOTE_V5)
        return MOTE_ERR_VERSION;
    if (f.type == MOTE_AUTH && version != MOTE_V5)
        return MOTE_ERR_PACKET_TYPE;
    r.pos = buf + f.header_len;
    r.end = buf + f.total;
    rc = decode_body(&r, version, f.flags, opts, out);
    if (rc != MOTE_OK)
        return rc;
    return r.pos == r.end ? MOTE_OK : MOTE_ERR_TRAILING_BYTES;
}

/* see mote/codec.h */
void mote_codec_iter(struct mote_slice raw, struct mote_iter *it)
{
    it->pos = raw.ptr;
    it->end = raw.ptr ? raw.ptr + raw.len : NULL;
}

/* see mote/codec.h */
int mote_codec_subscribe_next(struct mote_iter *it, uint8_t version, struct mote_subscription *out)
{
    struct rd r = {it->pos, it->end};
    if (!it->pos || it->pos >= it->end)
        return 0;
    if (read_subscription(&r, version, 0, out) != MOTE_OK) {
        it->pos = it->end;
        return 0;
    }
    it->pos = r.pos;
    return 1;
}

/* see mote/codec.h */
int mote_codec_unsubscribe_next(struct mote_iter *it, struct mote_slice *filter)
{
    struct rd r = {it->pos, it->end};
    if (!it->pos || it->pos >= it->end)
        return 0;
    if (read_unsubscription(&r, 0, filter) != MOTE_OK) {
        it->pos = it->end;
        return 0;
    }
    it->pos = r.pos;
    return 1;
}

/* see mote/codec.h */
const char *mote_packet_name(uint8_t type)
{
    static const char *const names[16] = {
        "reserved",    "CONNECT", "CONNACK",  "PUBLISH",    "PUBACK",     "PUBREC",
        "PUBREL",      "PUBCOMP", "SUBSCRIBE", "SUBACK",    "UNSUBSCRIBE", "UNSUBACK",
        "PINGREQ",     "PINGRESP", "DISCONNECT", "AUTH",
    };
    return type < 16 ? names[type] : "reserved";
}
