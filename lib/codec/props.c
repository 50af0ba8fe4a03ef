/*
 * props.c - MQTT 5 properties and reason codes: which exist, their types, which packets may
 * carry them, and the validation shared by the decoder and the encoder.
 */
#include "codec_internal.h"

#define IN_CONNECT MOTE_IN(MOTE_CONNECT)
#define IN_CONNACK MOTE_IN(MOTE_CONNACK)
#define IN_PUBLISH MOTE_IN(MOTE_PUBLISH)
#define IN_PUBACK MOTE_IN(MOTE_PUBACK)
#define IN_PUBREC MOTE_IN(MOTE_PUBREC)
#define IN_PUBREL MOTE_IN(MOTE_PUBREL)
#define IN_PUBCOMP MOTE_IN(MOTE_PUBCOMP)
#define IN_SUBSCRIBE MOTE_IN(MOTE_SUBSCRIBE)
#define IN_SUBACK MOTE_IN(MOTE_SUBACK)
#define IN_UNSUBSCRIBE MOTE_IN(MOTE_UNSUBSCRIBE)
#define IN_UNSUBACK MOTE_IN(MOTE_UNSUBACK)
#define IN_DISCONNECT MOTE_IN(MOTE_DISCONNECT)
#define IN_AUTH MOTE_IN(MOTE_AUTH)
#define IN_WILL MOTE_IN_WILL
#define IN_ACKS (IN_PUBACK | IN_PUBREC | IN_PUBREL | IN_PUBCOMP)

/* MQTT 5.0 section 2.2.2.2, indexed by identifier. */
static const struct mote_prop_info prop_table[] = {
    {0x01, MOTE_PROP_BYTE, 0, IN_PUBLISH | IN_WILL, "Payload Format Indicator"},
    {0x02, MOTE_PROP_U32, 0, IN_PUBLISH | IN_WILL, "Message Expiry Interval"},
    {0x03, MOTE_PROP_STRING, 0, IN_PUBLISH | IN_WILL, "Content Type"},
    {0x08, MOTE_PROP_STRING, 0, IN_PUBLISH | IN_WILL, "Response Topic"},
    {0x09, MOTE_PROP_BINARY, 0, IN_PUBLISH | IN_WILL, "Correlation Data"},
    {0x0B, MOTE_PROP_VARINT, 1, IN_PUBLISH | IN_SUBSCRIBE, "Subscription Identifier"},
    {0x11, MOTE_PROP_U32, 0, IN_CONNECT | IN_CONNACK | IN_DISCONNECT, "Session Expiry Interval"},
    {0x12, MOTE_PROP_STRING, 0, IN_CONNACK, "Assigned Client Identifier"},
    {0x13, MOTE_PROP_U16, 0, IN_CONNACK, "Server Keep Alive"},
    {0x15, MOTE_PROP_STRING, 0, IN_CONNECT | IN_CONNACK | IN_AUTH, "Authentication Method"},
    {0x16, MOTE_PROP_BINARY, 0, IN_CONNECT | IN_CONNACK | IN_AUTH, "Authentication Data"},
    {0x17, MOTE_PROP_BYTE, 0, IN_CONNECT, "Request Problem Information"},
    {0x18, MOTE_PROP_U32, 0, IN_WILL, "Will Delay Interval"},
    {0x19, MOTE_PROP_BYTE, 0, IN_CONNECT, "Request Response Information"},
    {0x1A, MOTE_PROP_STRING, 0, IN_CONNACK, "Response Information"},
    {0x1C, MOTE_PROP_STRING, 0, IN_CONNACK | IN_DISCONNECT, "Server Reference"},
    {0x1F, MOTE_PROP_STRING, 0,
     IN_CONNACK | IN_ACKS | IN_SUBACK | IN_UNSUBACK | IN_DISCONNECT | IN_AUTH, "Reason String"},
    {0x21, MOTE_PROP_U16, 0, IN_CONNECT | IN_CONNACK, "Receive Maximum"},
    {0x22, MOTE_PROP_U16, 0, IN_CONNECT | IN_CONNACK, "Topic Alias Maximum"},
    {0x23, MOTE_PROP_U16, 0, IN_PUBLISH, "Topic Alias"},
    {0x24, MOTE_PROP_BYTE, 0, IN_CONNACK, "Maximum QoS"},
    {0x25, MOTE_PROP_BYTE, 0, IN_CONNACK, "Retain Available"},
    {0x26, MOTE_PROP_PAIR, 1,
     IN_CONNECT | IN_CONNACK | IN_PUBLISH | IN_WILL | IN_ACKS | IN_SUBSCRIBE | IN_SUBACK |
         IN_UNSUBSCRIBE | IN_UNSUBACK | IN_DISCONNECT | IN_AUTH,
     "User Property"},
    {0x27, MOTE_PROP_U32, 0, IN_CONNECT | IN_CONNACK, "Maximum Packet Size"},
    {0x28, MOTE_PROP_BYTE, 0, IN_CONNACK, "Wildcard Subscription Available"},
    {0x29, MOTE_PROP_BYTE, 0, IN_CONNACK, "Subscription Identifier Available"},
    {0x2A, MOTE_PROP_BYTE, 0, IN_CONNACK, "Shared Subscription Available"},
};

#define PROP_ID_MAX 0x2A

/* see mote/codec.h */
const struct mote_prop_info *mote_prop_info(uint8_t id)
{
    for (size_t i = 0; i < sizeof prop_table / sizeof prop_table[0]; i++)
        if (prop_table[i].id == id)
            return &prop_table[i];
    return NULL;
}

/* see mote/codec.h */
int mote_prop_may_repeat(uint8_t id, uint8_t type)
{
    if (id == MOTE_PROP_USER_PROPERTY)
        return 1;
    return id == MOTE_PROP_SUBSCRIPTION_ID && type == MOTE_PUBLISH;
}

/*
 * Reads one property (identifier and value). Errors are those of a malformed property; whether
 * it is allowed where it stands is prop_check()'s business.
 */
static int prop_read(struct rd *r, struct mote_prop *out, const struct mote_prop_info **info)
{
    uint32_t id;
    uint8_t b = 0;
    uint16_t h = 0;
    int rc = rd_varint(r, &id);
    if (rc != MOTE_OK)
        return rc;
    *info = id <= PROP_ID_MAX ? mote_prop_info((uint8_t)id) : NULL;
    if (!*info)
        return MOTE_ERR_PROPERTY_UNKNOWN;
    out->id = (uint8_t)id;
    switch ((*info)->type) {
    case MOTE_PROP_BYTE:
        rc = rd_u8(r, &b);
        out->v.num = b;
        return rc;
    case MOTE_PROP_U16:
        rc = rd_u16(r, &h);
        out->v.num = h;
        return rc;
    case MOTE_PROP_U32:
        return rd_u32(r, &out->v.num);
    case MOTE_PROP_VARINT:
        return rd_varint(r, &out->v.num);
    case MOTE_PROP_STRING:
        return rd_str(r, &out->v.str);
    case MOTE_PROP_BINARY:
        return rd_bin(r, &out->v.str);
    default: /* MOTE_PROP_PAIR */
        rc = rd_str(r, &out->v.pair.key);
        if (rc != MOTE_OK)
            return rc;
        return rd_str(r, &out->v.pair.value);
    }
}

/* The values the specification forbids for each property (MQTT 5.0 section 3). */
static int prop_value_check(const struct mote_prop *p)
{
    switch (p->id) {
    case MOTE_PROP_PAYLOAD_FORMAT:
    case MOTE_PROP_REQUEST_PROBLEM_INFO:
    case MOTE_PROP_REQUEST_RESPONSE_INFO:
    case MOTE_PROP_MAXIMUM_QOS:
    case MOTE_PROP_RETAIN_AVAILABLE:
    case MOTE_PROP_WILDCARD_SUB_AVAILABLE:
    case MOTE_PROP_SUBSCRIPTION_ID_AVAILABLE:
    case MOTE_PROP_SHARED_SUB_AVAILABLE:
        return p->v.num <= 1 ? MOTE_OK : MOTE_ERR_PROPERTY_VALUE;
    case MOTE_PROP_SUBSCRIPTION_ID:
        return p->v.num >= 1 && p->v.num <= MOTE_VARINT_MAX ? MOTE_OK : MOTE_ERR_PROPERTY_VALUE;
    case MOTE_PROP_RECEIVE_MAXIMUM:
    case MOTE_PROP_MAXIMUM_PACKET_SIZE:
        return p->v.num != 0 ? MOTE_OK : MOTE_ERR_PROPERTY_VALUE;
    case MOTE_PROP_TOPIC_ALIAS: /* its own code: the answer to it is 0x94, Topic Alias invalid */
        return p->v.num != 0 ? MOTE_OK : MOTE_ERR_TOPIC_ALIAS_ZERO;
    case MOTE_PROP_RESPONSE_TOPIC: /* a topic name: no wildcards (MQTT-3.3.2-14) */
        return mote_topic_check_name(p->v.str.ptr, p->v.str.len);
    default:
        return MOTE_OK;
    }
}

/* Whether `p` may stand in packet `type` (0: will properties), given the ids seen before it. */
static int prop_check(const struct mote_prop *p, const struct mote_prop_info *info, uint8_t type,
                      uint64_t *seen)
{
    uint64_t bit = (uint64_t)1 << p->id;
    if (!(info->allowed & MOTE_IN(type)))
        return MOTE_ERR_PROPERTY_NOT_ALLOWED;
    if ((*seen & bit) && !mote_prop_may_repeat(p->id, type))
        return MOTE_ERR_PROPERTY_DUPLICATE;
    *seen |= bit;
    return prop_value_check(p);
}

/* Authentication Data without an Authentication Method is a protocol error (5.0 3.1.2.11.10). */
static int props_check_set(uint64_t seen)
{
    if ((seen >> MOTE_PROP_AUTH_DATA & 1) && !(seen >> MOTE_PROP_AUTH_METHOD & 1))
        return MOTE_ERR_PROPERTY_NOT_ALLOWED;
    return MOTE_OK;
}

/* Validates property bytes (without their length prefix) for packet `type`. */
static int props_check_raw(struct mote_slice raw, uint8_t type, uint64_t *seen)
{
    struct rd r = {raw.ptr, raw.ptr + raw.len};
    while (r.pos < r.end) {
        struct mote_prop p;
        const struct mote_prop_info *info;
        int rc = prop_read(&r, &p, &info);
        if (rc != MOTE_OK)
            return rc;
        rc = prop_check(&p, info, type, seen);
        if (rc != MOTE_OK)
            return rc;
    }
    return MOTE_OK;
}

/* see codec_internal.h */
int mote__props_decode(struct rd *r, uint8_t type, struct mote_props *out, int *has_alias)
{
    uint32_t len;
    uint64_t seen = 0;
    int rc = rd_varint(r, &len);
    if (rc != MOTE_OK)
        return rc;
    if (rd_left(r) < len)
        return MOTE_ERR_TRUNCATED;
    out->raw.ptr = r->pos;
    out->raw.len = len;
    out->list = NULL;
    out->count = 0;
    r->pos += len;
    rc = props_check_raw(out->raw, type, &seen);
    if (rc == MOTE_OK)
        rc = props_check_set(seen);
    if (has_alias)
        *has_alias = (seen >> MOTE_PROP_TOPIC_ALIAS) & 1;
    return rc;
}

/* The encoded size of one property, identifier included. */
static size_t prop_size(const struct mote_prop *p, const struct mote_prop_info *info)
{
    size_t n = 1; /* every identifier defined so far fits one varint byte */
    switch (info->type) {
    case MOTE_PROP_BYTE:
        return n + 1;
    case MOTE_PROP_U16:
        return n + 2;
    case MOTE_PROP_U32:
        return n + 4;
    case MOTE_PROP_VARINT:
        return n + mote_varint_size(p->v.num);
    case MOTE_PROP_STRING:
    case MOTE_PROP_BINARY:
        return n + 2 + p->v.str.len;
    default:
        return n + 4 + p->v.pair.key.len + p->v.pair.value.len;
    }
}

static void prop_write(struct wr *w, const struct mote_prop *p, const struct mote_prop_info *info)
{
    wr_u8(w, p->id);
    switch (info->type) {
    case MOTE_PROP_BYTE:
        wr_u8(w, (uint8_t)p->v.num);
        break;
    case MOTE_PROP_U16:
        wr_u16(w, (uint16_t)p->v.num);
        break;
    case MOTE_PROP_U32:
        wr_u32(w, p->v.num);
        break;
    case MOTE_PROP_VARINT:
        wr_varint(w, p->v.num);
        break;
    case MOTE_PROP_STRING:
    case MOTE_PROP_BINARY:
        wr_bin(w, p->v.str);
        break;
    default:
        wr_bin(w, p->v.pair.key);
        wr_bin(w, p->v.pair.value);
        break;
    }
}

/* An encoder's caller handed this value in: check what a decoder would have checked. */
static int prop_check_given(const struct mote_prop *p, const struct mote_prop_info *info)
{
    int rc;
    switch (info->type) {
    case MOTE_PROP_BYTE:
        return p->v.num <= 0xFF ? MOTE_OK : MOTE_ERR_PROPERTY_VALUE;
    case MOTE_PROP_U16:
        return p->v.num <= 0xFFFF ? MOTE_OK : MOTE_ERR_PROPERTY_VALUE;
    case MOTE_PROP_STRING:
        return mote__check_str(p->v.str);
    case MOTE_PROP_BINARY:
        if (p->v.str.len > 65535)
            return MOTE_ERR_STRING_TOO_LONG;
        return !p->v.str.ptr && p->v.str.len ? MOTE_ERR_BAD_ARG : MOTE_OK;
    case MOTE_PROP_PAIR:
        rc = mote__check_str(p->v.pair.key);
        return rc != MOTE_OK ? rc : mote__check_str(p->v.pair.value);
    default:
        return MOTE_OK;
    }
}

/* see codec_internal.h */
int mote__props_encode(struct wr *w, uint8_t type, const struct mote_props *props, int *has_alias)
{
    uint64_t seen = 0;
    size_t len = props->raw.len;
    int rc;

    if (props->raw.len) {
        if (!props->raw.ptr)
            return MOTE_ERR_BAD_ARG;
        if (props->raw.len > MOTE_VARINT_MAX)
            return MOTE_ERR_PACKET_TOO_LARGE;
        rc = props_check_raw(props->raw, type, &seen);
        if (rc != MOTE_OK)
            return rc;
    }
    if (props->count && !props->list)
        return MOTE_ERR_BAD_ARG;
    for (size_t i = 0; i < props->count; i++) {
        const struct mote_prop *p = &props->list[i];
        const struct mote_prop_info *info = mote_prop_info(p->id);
        if (!info)
            return MOTE_ERR_PROPERTY_UNKNOWN;
        rc = prop_check_given(p, info);
        if (rc == MOTE_OK)
            rc = prop_check(p, info, type, &seen);
        if (rc != MOTE_OK)
            return rc;
        len += prop_size(p, info);
        if (len > MOTE_VARINT_MAX)
            return MOTE_ERR_PACKET_TOO_LARGE;
    }
    rc = props_check_set(seen);
    if (rc != MOTE_OK)
        return rc;
    if (has_alias)
        *has_alias = (seen >> MOTE_PROP_TOPIC_ALIAS) & 1;

    wr_varint(w, (uint32_t)len);
    wr_bytes(w, props->raw.ptr, props->raw.len);
    for (size_t i = 0; i < props->count; i++)
        prop_write(w, &props->list[i], mote_prop_info(props->list[i].id));
    return MOTE_OK;
}

/* see mote/codec.h */
void mote_props_iter(const struct mote_props *props, struct mote_prop_iter *it)
{
    it->pos = props ? props->raw.ptr : NULL;
    it->end = props && props->raw.ptr ? props->raw.ptr + props->raw.len : NULL;
}

/* see mote/codec.h */
int mote_props_next(struct mote_prop_iter *it, struct mote_prop *out)
{
    struct rd r = {it->pos, it->end};
    const struct mote_prop_info *info;
    if (!it->pos || it->pos >= it->end)
        return 0;
    if (prop_read(&r, out, &info) != MOTE_OK) {
        it->pos = it->end; /* not from a decode: stop rather than read garbage */
        return 0;
    }
    it->pos = r.pos;
    return 1;
}

/* see mote/codec.h */
int mote_props_find(const struct mote_props *props, uint8_t id, struct mote_prop *out)
{
    struct mote_prop_iter it;
    struct mote_prop p;
    if (!props)
        return 0;
    mote_props_iter(props, &it);
    while (mote_props_next(&it, &p)) {
        if (p.id == id) {
            if (out)
                *out = p;
            return 1;
        }
    }
    for (size_t i = 0; props->list && i < props->count; i++) {
        if (props->list[i].id == id) {
            if (out)
                *out = props->list[i];
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Reason codes (MQTT 5.0 section 2.4; 3.1.1 sections 3.2.2.3 and 3.9.3)
 * ------------------------------------------------------------------------------------------- */

#define IN_SUCCESS_ACKS (IN_CONNACK | IN_ACKS | IN_UNSUBACK | IN_AUTH)
#define IN_ERR_COMMON (IN_CONNACK | IN_PUBACK | IN_PUBREC | IN_SUBACK | IN_UNSUBACK | IN_DISCONNECT)

struct reason_row {
    uint8_t code;
    uint32_t allowed;
    const char *name;
};

static const struct reason_row reason_table[] = {
    {0x00, IN_SUCCESS_ACKS, "Success"},
    {0x01, IN_SUBACK, "Granted QoS 1"},
    {0x02, IN_SUBACK, "Granted QoS 2"},
    {0x04, IN_DISCONNECT, "Disconnect with Will Message"},
    {0x10, IN_PUBACK | IN_PUBREC, "No matching subscribers"},
    {0x11, IN_UNSUBACK, "No subscription existed"},
    {0x18, IN_AUTH, "Continue authentication"},
    {0x19, IN_AUTH, "Re-authenticate"},
    {0x80, IN_ERR_COMMON, "Unspecified error"},
    {0x81, IN_CONNACK | IN_DISCONNECT, "Malformed Packet"},
    {0x82, IN_CONNACK | IN_DISCONNECT, "Protocol Error"},
    {0x83, IN_ERR_COMMON, "Implementation specific error"},
    {0x84, IN_CONNACK, "Unsupported Protocol Version"},
    {0x85, IN_CONNACK, "Client Identifier not valid"},
    {0x86, IN_CONNACK, "Bad User Name or Password"},
    {0x87, IN_ERR_COMMON, "Not authorized"},
    {0x88, IN_CONNACK, "Server unavailable"},
    {0x89, IN_CONNACK | IN_DISCONNECT, "Server busy"},
    {0x8A, IN_CONNACK, "Banned"},
    {0x8B, IN_DISCONNECT, "Server shutting down"},
    {0x8C, IN_CONNACK | IN_DISCONNECT, "Bad authentication method"},
    {0x8D, IN_DISCONNECT, "Keep Alive timeout"},
    {0x8E, IN_DISCONNECT, "Session taken over"},
    {0x8F, IN_SUBACK | IN_UNSUBACK | IN_DISCONNECT, "Topic Filter invalid"},
    {0x90, IN_CONNACK | IN_PUBACK | IN_PUBREC | IN_DISCONNECT, "Topic Name invalid"},
    {0x91, IN_PUBACK | IN_PUBREC | IN_SUBACK | IN_UNSUBACK, "Packet Identifier in use"},
    {0x92, IN_PUBREL | IN_PUBCOMP, "Packet Identifier not found"},
    {0x93, IN_DISCONNECT, "Receive Maximum exceeded"},
    {0x94, IN_DISCONNECT, "Topic Alias invalid"},
    {0x95, IN_CONNACK | IN_DISCONNECT, "Packet too large"},
    {0x96, IN_DISCONNECT, "Message rate too high"},
    {0x97, IN_CONNACK | IN_PUBACK | IN_PUBREC | IN_SUBACK | IN_DISCONNECT, "Quota exceeded"},
    {0x98, IN_DISCONNECT, "Administrative action"},
    {0x99, IN_CONNACK | IN_PUBACK | IN_PUBREC | IN_DISCONNECT, "Payload format invalid"},
    {0x9A, IN_CONNACK | IN_DISCONNECT, "Retain not supported"},
    {0x9B, IN_CONNACK | IN_DISCONNECT, "QoS not supported"},
    {0x9C, IN_CONNACK | IN_DISCONNECT, "Use another server"},
    {0x9D, IN_CONNACK | IN_DISCONNECT, "Server moved"},
    {0x9E, IN_SUBACK | IN_DISCONNECT, "Shared Subscriptions not supported"},
    {0x9F, IN_CONNACK | IN_DISCONNECT, "Connection rate exceeded"},
    {0xA0, IN_DISCONNECT, "Maximum connect time"},
    {0xA1, IN_SUBACK | IN_DISCONNECT, "Subscription Identifiers not supported"},
    {0xA2, IN_SUBACK | IN_DISCONNECT, "Wildcard Subscriptions not supported"},
};

static const char *const connack_v3_names[] = {
    "Connection Accepted",
    "Connection Refused, unacceptable protocol version",
    "Connection Refused, identifier rejected",
    "Connection Refused, Server unavailable",
    "Connection Refused, bad user name or password",
    "Connection Refused, not authorized",
};

static const struct reason_row *reason_find(uint8_t code)
{
    for (size_t i = 0; i < sizeof reason_table / sizeof reason_table[0]; i++)
        if (reason_table[i].code == code)
            return &reason_table[i];
    return NULL;
}

/* see mote/codec.h */
int mote_reason_allowed(uint8_t version, uint8_t type, uint8_t code)
{
    const struct reason_row *row;
    if (version != MOTE_V5) {
        if (type == MOTE_CONNACK)
            return code <= MOTE_V3_REFUSED_NOT_AUTHORIZED;
        if (type == MOTE_SUBACK)
            return code <= 2 || code == MOTE_V3_SUBACK_FAILURE;
        return code == 0;
    }
    if (type == MOTE_DISCONNECT && code == 0)
        return 1; /* Normal disconnection */
    if (type == MOTE_SUBACK && code == 0)
        return 1; /* Granted QoS 0 */
    row = reason_find(code);
    return row && type < 16 && (row->allowed & MOTE_IN(type));
}

/* see mote/codec.h */
const char *mote_reason_name(uint8_t version, uint8_t type, uint8_t code)
{
    const struct reason_row *row;
    if (version != MOTE_V5) {
        if (type == MOTE_CONNACK && code <= MOTE_V3_REFUSED_NOT_AUTHORIZED)
            return connack_v3_names[code];
        if (type == MOTE_SUBACK && code <= 2)
            return code == 0 ? "Success - Maximum QoS 0"
                             : code == 1 ? "Success - Maximum QoS 1" : "Success - Maximum QoS 2";
        if (type == MOTE_SUBACK && code == MOTE_V3_SUBACK_FAILURE)
            return "Failure";
        return code == 0 ? "Success" : "Unknown return code";
    }
    if (code == 0 && type == MOTE_DISCONNECT)
        return "Normal disconnection";
    if (code == 0 && type == MOTE_SUBACK)
        return "Granted QoS 0";
    row = reason_find(code);
    return row ? row->name : "Unknown reason code";
}
