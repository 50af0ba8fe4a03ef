/*
 * fuzz/fuzz_decode.c - libFuzzer harness for mote_codec_decode and mote_codec_decode_opts. The
 * first input byte picks the protocol version, the rest is framed and decoded, strictly and with
 * MOTE_DECODE_LENIENT_FILTERS. Whatever decodes must obey the spec, walk cleanly (properties,
 * subscriptions), and survive encode -> decode -> encode unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mote/codec.h"

/* Round trips of SUBSCRIBE/UNSUBSCRIBE rebuild the list here; longer ones skip the round trip. */
#define MAX_FILTERS 64
/* Bytes past an encode's output that must stay as they were. */
#define GUARD 16
#define GUARD_BYTE 0xA5

struct ctx {
    uint8_t version;    /* the version decode was given */
    uint8_t type;       /* of the packet being checked, for messages */
    const uint8_t *buf; /* the exact-size copy the packet was decoded from */
    size_t len;
    int lenient;        /* decoded with MOTE_DECODE_LENIENT_FILTERS */
    size_t bad_filters; /* that many filters break the wildcard/share rules (lenient only) */
};

static const char *name(const struct ctx *c)
{
    return mote_packet_name(c->type);
}

static void check_in(const struct ctx *c, struct mote_slice s, const char *what)
{
    FUZZ_CHECK(fuzz_slice_in(s, c->buf, c->len), "v%u %s: %s (%zu bytes) points outside the packet",
               c->version, name(c), what, s.len);
}

static void check_utf8(const struct ctx *c, struct mote_slice s, const char *what)
{
    check_in(c, s, what);
    int rc = mote_utf8_check(s.ptr, s.len);
    FUZZ_CHECK(rc == MOTE_OK, "v%u %s: %s decoded although %s", c->version, name(c), what,
               mote_err_name(rc));
}

/* ---------------------------------------------------------------------------------------------
 * Properties
 * ------------------------------------------------------------------------------------------- */

/* Walks @p props (of packet c->type, or of the will when @p where is 0) and checks each against
 * the spec; also that the walk accounts for every raw byte and that mote_props_find agrees. */
static void check_props(const struct ctx *c, const struct mote_props *props, uint8_t where)
{
    const char *what = where ? "properties" : "will properties";
    check_in(c, props->raw, what);
    FUZZ_CHECK(props->list == NULL, "v%u %s: decode left %s list set", c->version, name(c), what);
    if (c->version < MOTE_V5) {
        FUZZ_CHECK(props->raw.len == 0, "v%u %s: %zu bytes of %s before MQTT 5", c->version,
                   name(c), props->raw.len, what);
        return;
    }

    unsigned seen[256] = {0};
    size_t walked = 0, n = 0;
    struct mote_prop_iter it;
    struct mote_prop p;
    mote_props_iter(props, &it);
    while (mote_props_next(&it, &p)) {
        FUZZ_CHECK(++n <= props->raw.len, "v%u %s: %s walk does not end", c->version, name(c),
                   what);
        const struct fuzz_prop_ref *ref = fuzz_prop_ref(p.id);
        FUZZ_CHECK(ref != NULL, "v%u %s: unknown property 0x%02X decoded", c->version, name(c),
                   p.id);
        FUZZ_CHECK(ref->allowed & (1u << where), "v%u %s: property 0x%02X not allowed in %s",
                   c->version, name(c), p.id, what);
        FUZZ_CHECK(++seen[p.id] == 1 || fuzz_prop_repeats(p.id, where),
                   "v%u %s: property 0x%02X appears %u times in %s", c->version, name(c), p.id,
                   seen[p.id], what);
        walked += 1; /* every defined identifier is below 0x80: a 1-byte variable byte integer */
        switch (ref->type) {
        case MOTE_PROP_BYTE:
        case MOTE_PROP_U16:
        case MOTE_PROP_U32: {
            static const uint32_t top[] = {
                [MOTE_PROP_BYTE] = 0xFF, [MOTE_PROP_U16] = 0xFFFF, [MOTE_PROP_U32] = 0xFFFFFFFF};
            static const size_t width[] = {
                [MOTE_PROP_BYTE] = 1, [MOTE_PROP_U16] = 2, [MOTE_PROP_U32] = 4};
            FUZZ_CHECK(p.v.num <= top[ref->type], "property 0x%02X value %u too large", p.id,
                       p.v.num);
            walked += width[ref->type];
            break;
        }
        case MOTE_PROP_VARINT:
            FUZZ_CHECK(p.v.num <= MOTE_VARINT_MAX, "property 0x%02X value %u", p.id, p.v.num);
            walked += mote_varint_size(p.v.num);
            break;
        case MOTE_PROP_STRING:
            check_utf8(c, p.v.str, "a string property");
            walked += 2 + p.v.str.len;
            break;
        case MOTE_PROP_BINARY:
            check_in(c, p.v.str, "a binary property");
            walked += 2 + p.v.str.len;
            break;
        case MOTE_PROP_PAIR:
            check_utf8(c, p.v.pair.key, "a user property name");
            check_utf8(c, p.v.pair.value, "a user property value");
            walked += 4 + p.v.pair.key.len + p.v.pair.value.len;
            break;
        }
        if (p.id == MOTE_PROP_RESPONSE_TOPIC) /* a topic name: MQTT-3.3.2-14, 4.7.3 */
            FUZZ_CHECK(mote_topic_check_name(p.v.str.ptr, p.v.str.len) == MOTE_OK,
                       "v%u %s: response topic with a wildcard, or empty, decoded", c->version,
                       name(c));
        if (ref->type <= MOTE_PROP_VARINT)
            FUZZ_CHECK(fuzz_prop_value_ok(p.id, p.v.num),
                       "v%u %s: property 0x%02X with value %u decoded, the spec forbids it",
                       c->version, name(c), p.id, p.v.num);

        if (seen[p.id] == 1) {
            struct mote_prop found;
            memset(&found, 0, sizeof found);
            FUZZ_CHECK(mote_props_find(props, p.id, &found) == 1 && found.id == p.id,
                       "mote_props_find does not find property 0x%02X the walk found", p.id);
            int same = ref->type == MOTE_PROP_PAIR
                           ? fuzz_slice_eq(found.v.pair.key, p.v.pair.key) &&
                                 fuzz_slice_eq(found.v.pair.value, p.v.pair.value)
                       : ref->type >= MOTE_PROP_STRING ? fuzz_slice_eq(found.v.str, p.v.str)
                                                       : found.v.num == p.v.num;
            FUZZ_CHECK(same, "mote_props_find(0x%02X) gives another value than the walk", p.id);
        }
    }
    FUZZ_CHECK(!seen[MOTE_PROP_AUTH_DATA] || seen[MOTE_PROP_AUTH_METHOD],
               "v%u %s: authentication data without a method decoded (3.1.2.11.10)", c->version,
               name(c));
    FUZZ_CHECK(walked == props->raw.len, "v%u %s: walking %s covers %zu of %zu bytes", c->version,
               name(c), what, walked, props->raw.len);
    struct mote_prop none;
    FUZZ_CHECK(mote_props_find(props, 0x00, &none) == 0, "mote_props_find found property 0x00");
    if (!seen[MOTE_PROP_USER_PROPERTY])
        FUZZ_CHECK(mote_props_find(props, MOTE_PROP_USER_PROPERTY, &none) == 0,
                   "mote_props_find found a user property the walk did not");
}

static int has_prop(const struct mote_props *props, uint8_t id)
{
    struct mote_prop p;
    struct mote_prop_iter it;
    mote_props_iter(props, &it);
    while (mote_props_next(&it, &p))
        if (p.id == id)
            return 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Subscriptions
 * ------------------------------------------------------------------------------------------- */

/* Walks a decoded SUBSCRIBE; copies up to MAX_FILTERS entries into @p out. Returns the count. */
static size_t walk_subscribe(const struct ctx *c, const struct mote_subscribe *s,
                             struct mote_subscription *out)
{
    struct mote_iter it;
    struct mote_subscription sub;
    size_t n = 0;
    mote_codec_iter(s->raw, &it);
    while (mote_codec_subscribe_next(&it, c->version, &sub)) {
        FUZZ_CHECK(++n <= s->raw.len / 3, "v%u SUBSCRIBE: walk does not end", c->version);
        if (out && n <= MAX_FILTERS)
            out[n - 1] = sub;
    }
    return n;
}

static size_t walk_unsubscribe(const struct ctx *c, const struct mote_unsubscribe *u,
                               struct mote_slice *out)
{
    struct mote_iter it;
    struct mote_slice filter;
    size_t n = 0;
    mote_codec_iter(u->raw, &it);
    while (mote_codec_unsubscribe_next(&it, &filter)) {
        FUZZ_CHECK(++n <= u->raw.len / 2, "v%u UNSUBSCRIBE: walk does not end", c->version);
        if (out && n <= MAX_FILTERS)
            out[n - 1] = filter;
    }
    return n;
}

static void check_subscribe(struct ctx *c, const struct mote_subscribe *s)
{
    struct mote_iter it;
    struct mote_subscription sub;
    size_t n = 0;
    check_in(c, s->raw, "subscribe payload");
    FUZZ_CHECK(s->list == NULL, "decoded SUBSCRIBE has a list");
    FUZZ_CHECK(s->raw.len > 0 && s->raw.ptr + s->raw.len == c->buf + c->len,
               "SUBSCRIBE payload does not end the packet");
    mote_codec_iter(s->raw, &it);
    while (mote_codec_subscribe_next(&it, c->version, &sub)) {
        FUZZ_CHECK(++n <= s->raw.len / 3, "v%u SUBSCRIBE: walk does not end", c->version);
        check_utf8(c, sub.filter, "a topic filter");
        int rc = mote_topic_check_filter(sub.filter.ptr, sub.filter.len);
        FUZZ_CHECK(rc == MOTE_OK || c->lenient, "v%u SUBSCRIBE: filter decoded although %s",
                   c->version, mote_err_name(rc));
        c->bad_filters += rc != MOTE_OK;
        FUZZ_CHECK(sub.qos <= 2 && sub.retain_handling <= 2 && sub.no_local <= 1 &&
                       sub.retain_as_published <= 1,
                   "v%u SUBSCRIBE: options qos %u nl %u rap %u rh %u", c->version, sub.qos,
                   sub.no_local, sub.retain_as_published, sub.retain_handling);
        if (c->version < MOTE_V5)
            FUZZ_CHECK(!sub.no_local && !sub.retain_as_published && !sub.retain_handling,
                       "v%u SUBSCRIBE: MQTT 5 options decoded", c->version);
        struct mote_slice group, inner;
        if (c->version >= MOTE_V5 && rc == MOTE_OK && mote_topic_share(sub.filter, &group, &inner))
            FUZZ_CHECK(!sub.no_local, "v5 SUBSCRIBE: no local on a shared subscription decoded");
    }
    FUZZ_CHECK(n >= 1, "SUBSCRIBE without filters decoded");
    FUZZ_CHECK(n == s->count, "SUBSCRIBE count %zu, the walk finds %zu", s->count, n);
}

static void check_unsubscribe(struct ctx *c, const struct mote_unsubscribe *u)
{
    struct mote_iter it;
    struct mote_slice filter;
    size_t n = 0;
    check_in(c, u->raw, "unsubscribe payload");
    FUZZ_CHECK(u->list == NULL, "decoded UNSUBSCRIBE has a list");
    FUZZ_CHECK(u->raw.len > 0 && u->raw.ptr + u->raw.len == c->buf + c->len,
               "UNSUBSCRIBE payload does not end the packet");
    mote_codec_iter(u->raw, &it);
    while (mote_codec_unsubscribe_next(&it, &filter)) {
        FUZZ_CHECK(++n <= u->raw.len / 2, "v%u UNSUBSCRIBE: walk does not end", c->version);
        check_utf8(c, filter, "a topic filter");
        int rc = mote_topic_check_filter(filter.ptr, filter.len);
        FUZZ_CHECK(rc == MOTE_OK || c->lenient, "v%u UNSUBSCRIBE: filter decoded although %s",
                   c->version, mote_err_name(rc));
        c->bad_filters += rc != MOTE_OK;
    }
    FUZZ_CHECK(n >= 1, "UNSUBSCRIBE without filters decoded");
    FUZZ_CHECK(n == u->count, "UNSUBSCRIBE count %zu, the walk finds %zu", u->count, n);
}

/* ---------------------------------------------------------------------------------------------
 * What the spec says about a packet that decoded
 * ------------------------------------------------------------------------------------------- */

static void check_reason(const struct ctx *c, uint8_t code)
{
    int ok = fuzz_reason_ok(c->version, c->type, code);
    FUZZ_CHECK(ok != 0, "v%u %s: reason code 0x%02X decoded, the spec does not allow it",
               c->version, name(c), code);
}

static void check_packet(struct ctx *c, const struct mote_packet *p, uint8_t flags)
{
    c->type = p->type;
    FUZZ_CHECK(p->type >= 1 && p->type <= 15, "decoded type %u", p->type);
    FUZZ_CHECK(p->flags == flags, "%s: flags %u, the header has %u", name(c), p->flags, flags);
    if (p->type == MOTE_AUTH)
        FUZZ_CHECK(c->version == MOTE_V5, "AUTH decoded as v%u", c->version);

    switch (p->type) {
    case MOTE_CONNECT: {
        const struct mote_connect *k = &p->u.connect;
        c->version = k->version; /* what the packet asked for rules the rest of it */
        FUZZ_CHECK(k->version >= MOTE_V31 && k->version <= MOTE_V5, "CONNECT version %u",
                   k->version);
        FUZZ_CHECK(k->clean_start <= 1 && k->will <= 1 && k->has_username <= 1 &&
                       k->has_password <= 1 && k->will_retain <= 1 && k->will_qos <= 2,
                   "CONNECT flags out of range");
        check_props(c, &k->props, MOTE_CONNECT);
        check_utf8(c, k->client_id, "client identifier");
        if (k->will) {
            check_props(c, &k->will_props, 0);
            check_utf8(c, k->will_topic, "will topic");
            check_in(c, k->will_payload, "will payload");
        } else {
            FUZZ_CHECK(!k->will_qos && !k->will_retain, "CONNECT: will QoS/retain without a will");
        }
        if (k->has_username)
            check_utf8(c, k->username, "user name");
        if (k->has_password)
            check_in(c, k->password, "password");
        if (k->version < MOTE_V5)
            FUZZ_CHECK(!k->has_password || k->has_username,
                       "v%u CONNECT: password without user name decoded", k->version);
        break;
    }
    case MOTE_CONNACK: {
        const struct mote_connack *k = &p->u.connack;
        FUZZ_CHECK(k->session_present <= 1, "CONNACK session present %u", k->session_present);
        check_reason(c, k->reason);
        FUZZ_CHECK(!k->session_present || k->reason == 0,
                   "v%u CONNACK: session present with refusal 0x%02X", c->version, k->reason);
        check_props(c, &k->props, MOTE_CONNACK);
        break;
    }
    case MOTE_PUBLISH: {
        const struct mote_publish *k = &p->u.publish;
        FUZZ_CHECK(k->qos <= 2 && k->dup <= 1 && k->retain <= 1, "PUBLISH flags out of range");
        FUZZ_CHECK(flags == (k->dup << 3 | k->qos << 1 | k->retain), "PUBLISH fields vs flags");
        FUZZ_CHECK(k->qos > 0 || !k->dup, "QoS 0 PUBLISH with DUP decoded");
        if (k->qos > 0)
            FUZZ_CHECK(k->packet_id != 0, "QoS %u PUBLISH with packet id 0 decoded", k->qos);
        check_props(c, &k->props, MOTE_PUBLISH);
        check_utf8(c, k->topic, "topic name");
        if (k->topic.len > 0 || c->version < MOTE_V5) {
            int rc = mote_topic_check_name(k->topic.ptr, k->topic.len);
            FUZZ_CHECK(rc == MOTE_OK, "v%u PUBLISH: topic decoded although %s", c->version,
                       mote_err_name(rc));
        } else {
            FUZZ_CHECK(has_prop(&k->props, MOTE_PROP_TOPIC_ALIAS),
                       "v5 PUBLISH: empty topic without a topic alias decoded");
        }
        check_in(c, k->payload, "payload");
        FUZZ_CHECK(k->payload.len == 0 || k->payload.ptr + k->payload.len == c->buf + c->len,
                   "PUBLISH payload does not end the packet");
        break;
    }
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP: {
        const struct mote_ack *k = &p->u.ack;
        FUZZ_CHECK(k->packet_id != 0, "%s with packet id 0 decoded", name(c));
        if (c->version >= MOTE_V5)
            check_reason(c, k->reason);
        else
            FUZZ_CHECK(k->reason == 0, "v%u %s: reason %u", c->version, name(c), k->reason);
        check_props(c, &k->props, p->type);
        break;
    }
    case MOTE_SUBSCRIBE:
        FUZZ_CHECK(p->u.subscribe.packet_id != 0, "SUBSCRIBE with packet id 0 decoded");
        check_props(c, &p->u.subscribe.props, MOTE_SUBSCRIBE);
        check_subscribe(c, &p->u.subscribe);
        break;
    case MOTE_UNSUBSCRIBE:
        FUZZ_CHECK(p->u.unsubscribe.packet_id != 0, "UNSUBSCRIBE with packet id 0 decoded");
        check_props(c, &p->u.unsubscribe.props, MOTE_UNSUBSCRIBE);
        check_unsubscribe(c, &p->u.unsubscribe);
        break;
    case MOTE_SUBACK:
    case MOTE_UNSUBACK: {
        const struct mote_suback *k = &p->u.suback;
        FUZZ_CHECK(k->packet_id != 0, "%s with packet id 0 decoded", name(c));
        check_props(c, &k->props, p->type);
        struct mote_slice codes = {k->codes, k->count};
        check_in(c, codes, "reason codes");
        FUZZ_CHECK(k->count == 0 || k->codes + k->count == c->buf + c->len,
                   "%s codes do not end the packet", name(c));
        if (p->type == MOTE_UNSUBACK && c->version < MOTE_V5)
            FUZZ_CHECK(k->count == 0, "v%u UNSUBACK with %zu codes", c->version, k->count);
        else
            for (size_t i = 0; i < k->count; i++)
                check_reason(c, k->codes[i]);
        break;
    }
    case MOTE_DISCONNECT:
    case MOTE_AUTH:
        if (c->version >= MOTE_V5) {
            check_reason(c, p->u.reason.reason);
            check_props(c, &p->u.reason.props, p->type);
        }
        break;
    default: /* PINGREQ, PINGRESP */
        break;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Structural equality: every field the packet type gives meaning to, slices by content
 * ------------------------------------------------------------------------------------------- */

static int props_eq(const struct mote_props *a, const struct mote_props *b)
{
    return fuzz_slice_eq(a->raw, b->raw);
}

static int subscribe_eq(uint8_t version, const struct mote_subscribe *a,
                        const struct mote_subscribe *b)
{
    struct mote_iter ia, ib;
    struct mote_subscription sa, sb;
    if (a->packet_id != b->packet_id || !props_eq(&a->props, &b->props) || a->count != b->count)
        return 0;
    mote_codec_iter(a->raw, &ia);
    mote_codec_iter(b->raw, &ib);
    for (;;) {
        int ra = mote_codec_subscribe_next(&ia, version, &sa);
        int rb = mote_codec_subscribe_next(&ib, version, &sb);
        if (ra != rb)
            return 0;
        if (!ra)
            return 1;
        if (!fuzz_slice_eq(sa.filter, sb.filter) || sa.qos != sb.qos ||
            sa.no_local != sb.no_local || sa.retain_as_published != sb.retain_as_published ||
            sa.retain_handling != sb.retain_handling)
            return 0;
    }
}

static int unsubscribe_eq(const struct mote_unsubscribe *a, const struct mote_unsubscribe *b)
{
    struct mote_iter ia, ib;
    struct mote_slice fa, fb;
    if (a->packet_id != b->packet_id || !props_eq(&a->props, &b->props) || a->count != b->count)
        return 0;
    mote_codec_iter(a->raw, &ia);
    mote_codec_iter(b->raw, &ib);
    for (;;) {
        int ra = mote_codec_unsubscribe_next(&ia, &fa);
        int rb = mote_codec_unsubscribe_next(&ib, &fb);
        if (ra != rb)
            return 0;
        if (!ra)
            return 1;
        if (!fuzz_slice_eq(fa, fb))
            return 0;
    }
}

/* Returns NULL when equal, else the name of the first field that differs. */
static const char *packet_diff(uint8_t version, const struct mote_packet *a,
                               const struct mote_packet *b)
{
    if (a->type != b->type)
        return "type";
    if (a->flags != b->flags)
        return "flags";
    switch (a->type) {
    case MOTE_CONNECT: {
        const struct mote_connect *x = &a->u.connect, *y = &b->u.connect;
        if (x->version != y->version)
            return "connect.version";
        if (x->clean_start != y->clean_start || x->keep_alive != y->keep_alive)
            return "connect.clean_start/keep_alive";
        if (!props_eq(&x->props, &y->props))
            return "connect.props";
        if (!fuzz_slice_eq(x->client_id, y->client_id))
            return "connect.client_id";
        if (x->will != y->will)
            return "connect.will";
        if (x->will && (x->will_qos != y->will_qos || x->will_retain != y->will_retain ||
                        !props_eq(&x->will_props, &y->will_props) ||
                        !fuzz_slice_eq(x->will_topic, y->will_topic) ||
                        !fuzz_slice_eq(x->will_payload, y->will_payload)))
            return "connect.will_*";
        if (x->has_username != y->has_username ||
            (x->has_username && !fuzz_slice_eq(x->username, y->username)))
            return "connect.username";
        if (x->has_password != y->has_password ||
            (x->has_password && !fuzz_slice_eq(x->password, y->password)))
            return "connect.password";
        return NULL;
    }
    case MOTE_CONNACK: {
        const struct mote_connack *x = &a->u.connack, *y = &b->u.connack;
        if (x->session_present != y->session_present || x->reason != y->reason)
            return "connack.session_present/reason";
        return props_eq(&x->props, &y->props) ? NULL : "connack.props";
    }
    case MOTE_PUBLISH: {
        const struct mote_publish *x = &a->u.publish, *y = &b->u.publish;
        if (x->dup != y->dup || x->qos != y->qos || x->retain != y->retain)
            return "publish.dup/qos/retain";
        if (!fuzz_slice_eq(x->topic, y->topic))
            return "publish.topic";
        if (x->qos && x->packet_id != y->packet_id)
            return "publish.packet_id";
        if (!props_eq(&x->props, &y->props))
            return "publish.props";
        return fuzz_slice_eq(x->payload, y->payload) ? NULL : "publish.payload";
    }
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP: {
        const struct mote_ack *x = &a->u.ack, *y = &b->u.ack;
        if (x->packet_id != y->packet_id)
            return "ack.packet_id";
        if (version >= MOTE_V5 && x->reason != y->reason)
            return "ack.reason";
        return props_eq(&x->props, &y->props) ? NULL : "ack.props";
    }
    case MOTE_SUBSCRIBE:
        return subscribe_eq(version, &a->u.subscribe, &b->u.subscribe) ? NULL : "subscribe";
    case MOTE_UNSUBSCRIBE:
        return unsubscribe_eq(&a->u.unsubscribe, &b->u.unsubscribe) ? NULL : "unsubscribe";
    case MOTE_SUBACK:
    case MOTE_UNSUBACK: {
        const struct mote_suback *x = &a->u.suback, *y = &b->u.suback;
        struct mote_slice cx = {x->codes, x->count}, cy = {y->codes, y->count};
        if (x->packet_id != y->packet_id)
            return "suback.packet_id";
        if (!props_eq(&x->props, &y->props))
            return "suback.props";
        return fuzz_slice_eq(cx, cy) ? NULL : "suback.codes";
    }
    case MOTE_DISCONNECT:
    case MOTE_AUTH:
        if (version < MOTE_V5)
            return NULL;
        if (a->u.reason.reason != b->u.reason.reason)
            return "reason";
        return props_eq(&a->u.reason.props, &b->u.reason.props) ? NULL : "reason.props";
    default:
        return NULL;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Round trip
 * ------------------------------------------------------------------------------------------- */

/*
 * Where re-encoding a decoded packet may legitimately give other bytes than the input: MQTT 5
 * PUBACK/PUBREC/PUBREL/PUBCOMP may omit the reason code when it is 0 and there are no properties,
 * and omit the property length when there are none (3.4.2.1); DISCONNECT and AUTH likewise
 * (3.14.2.1, 3.15.2.1). An encoder picks one spelling, so an input in another one comes back
 * shorter or longer; its structure must not change. Everywhere else the spec gives one spelling
 * for each structure (variable byte integers must be minimal, flags and lengths are fixed), so the
 * bytes must come back identical.
 */
static int may_respell(uint8_t version, const struct mote_packet *p)
{
    if (version < MOTE_V5)
        return 0;
    switch (p->type) {
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP:
        return p->u.ack.props.raw.len == 0;
    case MOTE_DISCONNECT:
    case MOTE_AUTH:
        return p->u.reason.props.raw.len == 0;
    default:
        return 0;
    }
}

/* A decoded packet as the encoder takes it: a decoded SUBSCRIBE/UNSUBSCRIBE carries raw, the
 * encoder takes a list, rebuilt here into @p subs or @p filters. Returns 0 when it has more than
 * MAX_FILTERS filters. */
static int encodable(const struct ctx *c, const struct mote_packet *p, struct mote_packet *q,
                     struct mote_subscription *subs, struct mote_slice *filters)
{
    *q = *p;
    if (p->type == MOTE_SUBSCRIBE) {
        size_t n = walk_subscribe(c, &p->u.subscribe, subs);
        if (n > MAX_FILTERS)
            return 0;
        q->u.subscribe.list = subs;
        q->u.subscribe.count = n;
        q->u.subscribe.raw = (struct mote_slice){NULL, 0};
    } else if (p->type == MOTE_UNSUBSCRIBE) {
        size_t n = walk_unsubscribe(c, &p->u.unsubscribe, filters);
        if (n > MAX_FILTERS)
            return 0;
        q->u.unsubscribe.list = filters;
        q->u.unsubscribe.count = n;
        q->u.unsubscribe.raw = (struct mote_slice){NULL, 0};
    }
    return 1;
}

/* Encodes @p p with mote_codec_size + mote_codec_encode, checking the size is exact, nothing past
 * the output is touched, and a buffer one byte short is refused untouched. Returns a heap buffer of
 * exactly *out_len bytes, or NULL when the packet has too many filters to rebuild. */
static uint8_t *encode(const struct ctx *c, const struct mote_packet *p, size_t *out_len)
{
    struct mote_packet q;
    struct mote_subscription subs[MAX_FILTERS];
    struct mote_slice filters[MAX_FILTERS];
    if (!encodable(c, p, &q, subs, filters))
        return NULL;

    size_t need = 0;
    int rc = mote_codec_size(&q, c->version, &need);
    FUZZ_CHECK(rc == MOTE_OK, "v%u %s decoded, but mote_codec_size refuses it: %s", c->version,
               name(c), mote_err_name(rc));
    FUZZ_CHECK(need >= 2 && need <= MOTE_PACKET_MAX, "v%u %s: size %zu", c->version, name(c), need);

    uint8_t *out = malloc(need + GUARD);
    FUZZ_CHECK(out != NULL, "out of memory");
    memset(out, GUARD_BYTE, need + GUARD);
    size_t used = 0;
    rc = mote_codec_encode(&q, c->version, out, need + GUARD, &used);
    FUZZ_CHECK(rc == MOTE_OK, "v%u %s decoded, sized, but encode refuses it: %s", c->version,
               name(c), mote_err_name(rc));
    FUZZ_CHECK(used == need, "v%u %s: mote_codec_size says %zu, encode wrote %zu", c->version,
               name(c), need, used);
    for (size_t i = used; i < need + GUARD; i++)
        FUZZ_CHECK(out[i] == GUARD_BYTE, "v%u %s: encode wrote byte %zu past its %zu", c->version,
                   name(c), i, used);

    /* One byte short: refused, and not a byte written. */
    uint8_t *small = malloc(need - 1);
    FUZZ_CHECK(small != NULL, "out of memory");
    memset(small, GUARD_BYTE, need - 1);
    size_t wrote = 12345;
    rc = mote_codec_encode(&q, c->version, small, need - 1, &wrote);
    FUZZ_CHECK(rc == MOTE_ERR_BUFFER_TOO_SMALL, "v%u %s into %zu of %zu bytes: %s", c->version,
               name(c), need - 1, need, mote_err_name(rc));
    for (size_t i = 0; i < need - 1; i++)
        FUZZ_CHECK(small[i] == GUARD_BYTE, "v%u %s: a refused encode wrote byte %zu", c->version,
                   name(c), i);
    free(small);

    *out_len = used;
    return out;
}

static size_t first_diff(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t i = 0;
    while (i < alen && i < blen && a[i] == b[i])
        i++;
    return i;
}

/* A packet only a lenient decode accepts (a filter breaks the wildcard or share rules): the
 * encoder, which refuses what a strict decoder would, must refuse it. */
static void check_encoder_refuses(const struct ctx *c, const struct mote_packet *p)
{
    struct mote_packet q;
    struct mote_subscription subs[MAX_FILTERS];
    struct mote_slice filters[MAX_FILTERS];
    size_t need = 0;
    if (!encodable(c, p, &q, subs, filters))
        return;
    int rc = mote_codec_size(&q, c->version, &need);
    FUZZ_CHECK(rc == MOTE_ERR_TOPIC_EMPTY || rc == MOTE_ERR_FILTER_PLUS ||
                   rc == MOTE_ERR_FILTER_HASH || rc == MOTE_ERR_SHARE_SYNTAX,
               "v%u %s with %zu bad filters: mote_codec_size says %s", c->version, name(c),
               c->bad_filters, mote_err_name(rc));
}

static void round_trip(const struct ctx *c, const struct mote_packet *p, const uint8_t *orig,
                       size_t orig_len)
{
    size_t len1 = 0, len2 = 0;
    uint8_t *enc1 = encode(c, p, &len1);
    if (!enc1)
        return;
    if (len1 != orig_len || memcmp(enc1, orig, len1) != 0)
        FUZZ_CHECK(may_respell(c->version, p),
                   "v%u %s re-encodes to other bytes (%zu, was %zu; first differing byte %zu)",
                   c->version, name(c), len1, orig_len, first_diff(enc1, len1, orig, orig_len));

    uint8_t *copy = fuzz_copy(enc1, len1);
    struct mote_packet r;
    memset(&r, 0, sizeof r);
    int rc = mote_codec_decode_opts(copy, len1, c->version,
                                    c->lenient ? MOTE_DECODE_LENIENT_FILTERS : 0, &r);
    FUZZ_CHECK(rc == MOTE_OK, "v%u %s: its own encoding does not decode: %s", c->version, name(c),
               mote_err_name(rc));
    const char *diff = packet_diff(c->version, p, &r);
    FUZZ_CHECK(diff == NULL, "v%u %s: %s differs after encode + decode", c->version, name(c), diff);

    /* Encoding is a function of the structure: the second encoding is the first. */
    uint8_t *enc2 = encode(c, &r, &len2);
    FUZZ_CHECK(enc2 != NULL && len2 == len1 && memcmp(enc1, enc2, len1) == 0,
               "v%u %s: encode(decode(encode(p))) != encode(p)", c->version, name(c));
    free(enc2);
    free(copy);
    free(enc1);
}

/* ---------------------------------------------------------------------------------------------
 * Entry point
 * ------------------------------------------------------------------------------------------- */

/* MOTE_FUZZ_VERBOSE=1 prints what each input decodes to (for replaying a corpus by hand). */
static int verbose(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("MOTE_FUZZ_VERBOSE") != NULL;
    return on;
}

/*
 * Decodes c->buf (exactly c->len bytes, framed as @p f) with @p opts, into a struct full of zeros
 * and one full of ones: the result may not depend on what the struct held before. A strict decode
 * goes once through each entry point. When it decodes, checks the packet. Returns the result.
 */
static int decode(struct ctx *c, const struct mote_frame *f, unsigned opts, struct mote_packet *p)
{
    struct mote_packet p1;
    memset(p, 0x00, sizeof *p);
    memset(&p1, 0xFF, sizeof p1);
    int rc = opts ? mote_codec_decode_opts(c->buf, c->len, c->version, opts, p)
                  : mote_codec_decode(c->buf, c->len, c->version, p);
    int rc1 = mote_codec_decode_opts(c->buf, c->len, c->version, opts, &p1);
    FUZZ_CHECK(rc == rc1, "decode (opts %u) gives %s, then %s", opts, mote_err_name(rc),
               mote_err_name(rc1));
    FUZZ_CHECK(rc <= 0, "decode of a whole framed packet says %s", mote_err_name(rc));
    FUZZ_CHECK(rc != MOTE_ERR_BAD_ARG && rc != MOTE_ERR_BUFFER_TOO_SMALL && rc != MOTE_ERR_VERSION,
               "decode says %s", mote_err_name(rc));
    if (rc != MOTE_OK)
        return rc;

    struct ctx c1 = *c;
    FUZZ_CHECK(p->type == f->type, "decode type %u, frame type %u", p->type, f->type);
    check_packet(c, p, f->flags);
    check_packet(&c1, &p1, f->flags);
    const char *diff = packet_diff(c->version, p, &p1);
    FUZZ_CHECK(diff == NULL, "v%u %s: %s depends on the struct's old contents", c->version, name(c),
               diff);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_check_tables();

    /* 3, 4 and 5 as themselves, so corpus files read plainly; other bytes map onto them. */
    uint8_t asked = data[0];
    uint8_t version =
        asked >= MOTE_V31 && asked <= MOTE_V5 ? asked : (uint8_t)(MOTE_V31 + asked % 3);
    const uint8_t *in = data + 1;
    size_t len = size - 1;

    struct mote_frame f;
    struct mote_packet p, lp;
    int rc = mote_codec_frame(in, len, 0, &f);
    if (rc != MOTE_OK) {
        /* The decoder frames the same way: what the framer cannot delimit does not decode. */
        int drc = mote_codec_decode(in, len, version, &p);
        if (verbose())
            fprintf(stderr, "v%u frame: %s, decode: %s\n", version, mote_err_name(rc),
                    mote_err_name(drc));
        if (rc == MOTE_NEED_MORE)
            FUZZ_CHECK(drc == MOTE_NEED_MORE, "frame needs more, decode says %s",
                       mote_err_name(drc));
        else
            FUZZ_CHECK(drc < 0, "frame says %s, decode says %s", mote_err_name(rc),
                       mote_err_name(drc));
        return 0;
    }

    /* Decode exactly f.total bytes, from a buffer of that size: strictly, and leniently. */
    uint8_t *pkt = fuzz_copy(in, f.total);
    struct ctx c = {version, 0, pkt, f.total, 0, 0}, lc = c;
    lc.lenient = 1;
    rc = decode(&c, &f, 0, &p);
    int lrc = decode(&lc, &f, MOTE_DECODE_LENIENT_FILTERS, &lp);
    if (verbose())
        fprintf(stderr, "v%u %s (%zu bytes): %s, lenient: %s\n", version, mote_packet_name(f.type),
                f.total, mote_err_name(rc), mote_err_name(lrc));

    /* Lenient accepts exactly what strict does, plus packets whose only fault is a filter. */
    if (rc == MOTE_OK) {
        FUZZ_CHECK(lrc == MOTE_OK, "v%u %s: strict decode accepts, lenient says %s", version,
                   name(&c), mote_err_name(lrc));
        const char *diff = packet_diff(c.version, &p, &lp);
        FUZZ_CHECK(diff == NULL, "v%u %s: %s differs between strict and lenient decode", version,
                   name(&c), diff);
    } else if (lrc == MOTE_OK) {
        FUZZ_CHECK(lc.bad_filters > 0,
                   "v%u %s: lenient decode accepts, with valid filters, what a "
                   "strict one refuses: %s",
                   version, name(&lc), mote_err_name(rc));
        check_encoder_refuses(&lc, &lp);
    }
    if (rc != MOTE_OK) {
        free(pkt);
        return 0;
    }

    /* One byte short needs more; more bytes than the packet are trailing bytes. */
    struct mote_packet scratch;
    uint8_t *shorter = fuzz_copy(pkt, f.total - 1);
    rc = mote_codec_decode(shorter, f.total - 1, version, &scratch);
    FUZZ_CHECK(rc == MOTE_NEED_MORE, "%s one byte short: %s", name(&c), mote_err_name(rc));
    free(shorter);
    if (len > f.total) {
        rc = mote_codec_decode(in, len, version, &scratch);
        FUZZ_CHECK(rc == MOTE_ERR_TRAILING_BYTES, "%s with %zu bytes more: %s", name(&c),
                   len - f.total, mote_err_name(rc));
    }
    /* A version argument that is not 3, 4 or 5 (only CONNECT ignores it). */
    if (asked != version && p.type != MOTE_CONNECT) {
        rc = mote_codec_decode(pkt, f.total, asked, &scratch);
        FUZZ_CHECK(rc == MOTE_ERR_VERSION, "%s decoded with version %u: %s", name(&c), asked,
                   mote_err_name(rc));
    }

    round_trip(&c, &p, pkt, f.total);
    free(pkt);
    return 0;
}
