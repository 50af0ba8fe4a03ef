/*
 * test_props.c - MQTT 5.0 properties (section 2.2.2): every identifier of table 2-4 round-tripped
 * in every packet that may carry it, placement, duplicates, unknown identifiers, forbidden values,
 * properties in 3.1.1, and forwarding decoded properties verbatim.
 */
#include "harness.h"

#define WILL MOTE_IN_WILL
#define IN(t) MOTE_IN(MOTE_##t)
#define ACKS (IN(PUBACK) | IN(PUBREC) | IN(PUBREL) | IN(PUBCOMP))

/* MQTT 5.0 table 2-4, written out from the spec. */
static const struct {
    uint8_t id, type;
    uint32_t allowed;
    const char *name;
} spec[] = {
    {0x01, MOTE_PROP_BYTE, IN(PUBLISH) | WILL, "Payload Format Indicator"},
    {0x02, MOTE_PROP_U32, IN(PUBLISH) | WILL, "Message Expiry Interval"},
    {0x03, MOTE_PROP_STRING, IN(PUBLISH) | WILL, "Content Type"},
    {0x08, MOTE_PROP_STRING, IN(PUBLISH) | WILL, "Response Topic"},
    {0x09, MOTE_PROP_BINARY, IN(PUBLISH) | WILL, "Correlation Data"},
    {0x0B, MOTE_PROP_VARINT, IN(PUBLISH) | IN(SUBSCRIBE), "Subscription Identifier"},
    {0x11, MOTE_PROP_U32, IN(CONNECT) | IN(CONNACK) | IN(DISCONNECT), "Session Expiry Interval"},
    {0x12, MOTE_PROP_STRING, IN(CONNACK), "Assigned Client Identifier"},
    {0x13, MOTE_PROP_U16, IN(CONNACK), "Server Keep Alive"},
    {0x15, MOTE_PROP_STRING, IN(CONNECT) | IN(CONNACK) | IN(AUTH), "Authentication Method"},
    {0x16, MOTE_PROP_BINARY, IN(CONNECT) | IN(CONNACK) | IN(AUTH), "Authentication Data"},
    {0x17, MOTE_PROP_BYTE, IN(CONNECT), "Request Problem Information"},
    {0x18, MOTE_PROP_U32, WILL, "Will Delay Interval"},
    {0x19, MOTE_PROP_BYTE, IN(CONNECT), "Request Response Information"},
    {0x1A, MOTE_PROP_STRING, IN(CONNACK), "Response Information"},
    {0x1C, MOTE_PROP_STRING, IN(CONNACK) | IN(DISCONNECT), "Server Reference"},
    {0x1F, MOTE_PROP_STRING,
     IN(CONNACK) | ACKS | IN(SUBACK) | IN(UNSUBACK) | IN(DISCONNECT) | IN(AUTH), "Reason String"},
    {0x21, MOTE_PROP_U16, IN(CONNECT) | IN(CONNACK), "Receive Maximum"},
    {0x22, MOTE_PROP_U16, IN(CONNECT) | IN(CONNACK), "Topic Alias Maximum"},
    {0x23, MOTE_PROP_U16, IN(PUBLISH), "Topic Alias"},
    {0x24, MOTE_PROP_BYTE, IN(CONNACK), "Maximum QoS"},
    {0x25, MOTE_PROP_BYTE, IN(CONNACK), "Retain Available"},
    {0x26, MOTE_PROP_PAIR,
     IN(CONNECT) | IN(CONNACK) | IN(PUBLISH) | WILL | ACKS | IN(SUBSCRIBE) | IN(SUBACK) |
         IN(UNSUBSCRIBE) | IN(UNSUBACK) | IN(DISCONNECT) | IN(AUTH),
     "User Property"},
    {0x27, MOTE_PROP_U32, IN(CONNECT) | IN(CONNACK), "Maximum Packet Size"},
    {0x28, MOTE_PROP_BYTE, IN(CONNACK), "Wildcard Subscription Available"},
    {0x29, MOTE_PROP_BYTE, IN(CONNACK), "Subscription Identifier Available"},
    {0x2A, MOTE_PROP_BYTE, IN(CONNACK), "Shared Subscription Available"},
};

/* The places a property can be: packet types with properties, and 0 for the will. */
static const uint8_t contexts[] = {0,
                                   MOTE_CONNECT,
                                   MOTE_CONNACK,
                                   MOTE_PUBLISH,
                                   MOTE_PUBACK,
                                   MOTE_PUBREC,
                                   MOTE_PUBREL,
                                   MOTE_PUBCOMP,
                                   MOTE_SUBSCRIBE,
                                   MOTE_SUBACK,
                                   MOTE_UNSUBSCRIBE,
                                   MOTE_UNSUBACK,
                                   MOTE_DISCONNECT,
                                   MOTE_AUTH};

static const char *ctx_name(uint8_t ctx)
{
    return ctx == 0 ? "will properties" : mote_packet_name(ctx);
}

static int spec_index(uint8_t id)
{
    size_t i;

    for (i = 0; i < HARNESS_ARRAY_LEN(spec); i++)
        if (spec[i].id == id)
            return (int)i;
    return -1;
}

/* A valid encoding of property @p id (as its type allows; value 1, 5 or a one-byte string). */
static size_t valid_prop_bytes(uint8_t id, uint8_t *out)
{
    size_t n = 0;

    out[n++] = id;
    switch (spec[spec_index(id)].type) {
    case MOTE_PROP_BYTE:
        out[n++] = 1;
        break;
    case MOTE_PROP_U16:
        out[n++] = 0;
        out[n++] = 5;
        break;
    case MOTE_PROP_U32:
        out[n++] = 0;
        out[n++] = 0;
        out[n++] = 0;
        out[n++] = 5;
        break;
    case MOTE_PROP_VARINT:
        out[n++] = 5;
        break;
    case MOTE_PROP_STRING:
        out[n++] = 0;
        out[n++] = 1;
        out[n++] = 'x';
        break;
    case MOTE_PROP_BINARY:
        out[n++] = 0;
        out[n++] = 1;
        out[n++] = 0;
        break;
    case MOTE_PROP_PAIR:
        out[n++] = 0;
        out[n++] = 1;
        out[n++] = 'k';
        out[n++] = 0;
        out[n++] = 1;
        out[n++] = 'v';
        break;
    }
    return n;
}

/* The same property as a struct. */
static struct mote_prop valid_prop(uint8_t id)
{
    switch (spec[spec_index(id)].type) {
    case MOTE_PROP_BYTE:
        return prop_num(id, 1);
    case MOTE_PROP_U16:
    case MOTE_PROP_U32:
    case MOTE_PROP_VARINT:
        return prop_num(id, 5);
    case MOTE_PROP_STRING:
        return prop_str(id, "x");
    case MOTE_PROP_BINARY: {
        struct mote_prop p = prop_num(id, 0);

        p.v.str = harness_slice_of("\0", 1);
        return p;
    }
    default:
        return prop_pair("k", "v");
    }
}

/*
 * A minimal valid MQTT 5.0 packet of context @p ctx whose property block (or will property
 * block) is @p props; returns its length. Remaining lengths stay below 128.
 */
static size_t build_v5(uint8_t ctx, const uint8_t *props, size_t plen, uint8_t *out)
{
    static const uint8_t connect_head[] = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05};
    size_t n = 2;

#define PUT(b) (out[n++] = (uint8_t)(b))
#define PUT_PROPS()                                                                                \
    do {                                                                                           \
        PUT(plen);                                                                                 \
        memcpy(out + n, props, plen);                                                              \
        n += plen;                                                                                 \
    } while (0)

    switch (ctx) {
    case 0:
    case MOTE_CONNECT:
        out[0] = 0x10;
        memcpy(out + n, connect_head, sizeof connect_head);
        n += sizeof connect_head;
        PUT(ctx == 0 ? 0x06 : 0x02); /* clean start, and the will flag for ctx 0 */
        PUT(0);
        PUT(60);
        if (ctx == 0) {
            PUT(0);
        } else {
            PUT_PROPS();
        }
        PUT(0);
        PUT(1);
        PUT('c');
        if (ctx == 0) {
            PUT_PROPS();
            PUT(0);
            PUT(1);
            PUT('t');
            PUT(0);
            PUT(1);
            PUT('p');
        }
        break;
    case MOTE_CONNACK:
        out[0] = 0x20;
        PUT(0);
        PUT(0);
        PUT_PROPS();
        break;
    case MOTE_PUBLISH:
        out[0] = 0x30;
        PUT(0);
        PUT(1);
        PUT('t');
        PUT_PROPS();
        PUT('p');
        break;
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP:
        out[0] = (uint8_t)(ctx << 4 | (ctx == MOTE_PUBREL ? 2 : 0));
        PUT(0);
        PUT(1);
        PUT(0);
        PUT_PROPS();
        break;
    case MOTE_SUBSCRIBE:
    case MOTE_UNSUBSCRIBE:
        out[0] = (uint8_t)(ctx << 4 | 2);
        PUT(0);
        PUT(1);
        PUT_PROPS();
        PUT(0);
        PUT(1);
        PUT('t');
        if (ctx == MOTE_SUBSCRIBE)
            PUT(1);
        break;
    case MOTE_SUBACK:
    case MOTE_UNSUBACK:
        out[0] = (uint8_t)(ctx << 4);
        PUT(0);
        PUT(1);
        PUT_PROPS();
        PUT(0);
        break;
    case MOTE_DISCONNECT:
    case MOTE_AUTH:
        out[0] = (uint8_t)(ctx << 4);
        PUT(0);
        PUT_PROPS();
        break;
    }
#undef PUT
#undef PUT_PROPS
    if (n - 2 > 127)
        fail_msg("build_v5: body too long");
    out[1] = (uint8_t)(n - 2);
    return n;
}

static int decode_with_props(uint8_t ctx, const uint8_t *props, size_t plen)
{
    uint8_t pkt[160];
    size_t n = build_v5(ctx, props, plen, pkt);
    struct mote_packet p;

    return decode_guarded(pkt, n, MOTE_V5, &p);
}

/* A minimal valid packet struct of context @p ctx; returns where its properties go. */
static const uint8_t suback_code[] = {0};
static struct mote_subscription one_sub;
static struct mote_slice one_filter;

static struct mote_props *build_struct(uint8_t ctx, struct mote_packet *p)
{
    memset(p, 0, sizeof *p);
    p->type = ctx == 0 ? MOTE_CONNECT : ctx;
    switch (ctx) {
    case 0:
    case MOTE_CONNECT:
        p->u.connect.version = MOTE_V5;
        p->u.connect.clean_start = 1;
        p->u.connect.keep_alive = 60;
        p->u.connect.client_id = MOTE_SLICE_STR("c");
        if (ctx == 0) {
            p->u.connect.will = 1;
            p->u.connect.will_topic = MOTE_SLICE_STR("t");
            p->u.connect.will_payload = MOTE_SLICE_STR("p");
            return &p->u.connect.will_props;
        }
        return &p->u.connect.props;
    case MOTE_CONNACK:
        return &p->u.connack.props;
    case MOTE_PUBLISH:
        p->u.publish.topic = MOTE_SLICE_STR("t");
        p->u.publish.payload = MOTE_SLICE_STR("p");
        return &p->u.publish.props;
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP:
        p->u.ack.packet_id = 1;
        return &p->u.ack.props;
    case MOTE_SUBSCRIBE:
        memset(&one_sub, 0, sizeof one_sub);
        one_sub.filter = MOTE_SLICE_STR("t");
        one_sub.qos = 1;
        p->u.subscribe.packet_id = 1;
        p->u.subscribe.list = &one_sub;
        p->u.subscribe.count = 1;
        return &p->u.subscribe.props;
    case MOTE_UNSUBSCRIBE:
        one_filter = MOTE_SLICE_STR("t");
        p->u.unsubscribe.packet_id = 1;
        p->u.unsubscribe.list = &one_filter;
        p->u.unsubscribe.count = 1;
        return &p->u.unsubscribe.props;
    case MOTE_SUBACK:
    case MOTE_UNSUBACK:
        p->u.suback.packet_id = 1;
        p->u.suback.codes = suback_code;
        p->u.suback.count = 1;
        return &p->u.suback.props;
    default:
        return &p->u.reason.props;
    }
}

/* Where the decoded properties of context @p ctx are. */
static const struct mote_props *decoded_props(uint8_t ctx, const struct mote_packet *p)
{
    switch (ctx) {
    case 0:
        return &p->u.connect.will_props;
    case MOTE_CONNECT:
        return &p->u.connect.props;
    case MOTE_CONNACK:
        return &p->u.connack.props;
    case MOTE_PUBLISH:
        return &p->u.publish.props;
    case MOTE_SUBSCRIBE:
        return &p->u.subscribe.props;
    case MOTE_UNSUBSCRIBE:
        return &p->u.unsubscribe.props;
    case MOTE_SUBACK:
    case MOTE_UNSUBACK:
        return &p->u.suback.props;
    case MOTE_DISCONNECT:
    case MOTE_AUTH:
        return &p->u.reason.props;
    default:
        return &p->u.ack.props;
    }
}

static void prop_info_matches_table_2_4_of_the_spec(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(spec); i++) {
        const struct mote_prop_info *info = mote_prop_info(spec[i].id);

        if (!info)
            fail_msg("mote_prop_info(0x%02x) is NULL", spec[i].id);
        assert_int_equal(info->id, spec[i].id);
        if (info->type != spec[i].type)
            fail_msg("%s: type %d, expected %d", spec[i].name, info->type, spec[i].type);
        if (info->allowed != spec[i].allowed)
            fail_msg("%s: allowed 0x%lx, expected 0x%lx", spec[i].name,
                     (unsigned long)info->allowed, (unsigned long)spec[i].allowed);
        assert_non_null(info->name);
        assert_string_equal(info->name, spec[i].name);
        if (spec[i].id == MOTE_PROP_USER_PROPERTY)
            assert_int_equal(info->repeat, 1);
        else if (spec[i].id != MOTE_PROP_SUBSCRIPTION_ID)
            assert_int_equal(info->repeat, 0);
    }
}

static void prop_info_is_null_for_every_undefined_identifier(void **state)
{
    unsigned id;

    (void)state;
    for (id = 0; id <= 255; id++)
        if (spec_index((uint8_t)id) < 0 && mote_prop_info((uint8_t)id) != NULL)
            fail_msg("mote_prop_info(0x%02x) is not NULL", id);
}

static void prop_may_repeat_only_user_property_and_subscription_id_in_publish(void **state)
{
    size_t i, c;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(spec); i++) {
        for (c = 0; c < HARNESS_ARRAY_LEN(contexts); c++) {
            uint8_t ctx = contexts[c];
            int want;

            if (!(spec[i].allowed & MOTE_IN(ctx)))
                continue;
            want = spec[i].id == MOTE_PROP_USER_PROPERTY ||
                   (spec[i].id == MOTE_PROP_SUBSCRIPTION_ID && ctx == MOTE_PUBLISH);
            if (!!mote_prop_may_repeat(spec[i].id, ctx) != want)
                fail_msg("mote_prop_may_repeat(%s, %s) should be %d", spec[i].name, ctx_name(ctx),
                         want);
        }
    }
}

static void every_property_round_trips_in_every_packet_that_allows_it(void **state)
{
    size_t i, c;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(spec); i++) {
        for (c = 0; c < HARNESS_ARRAY_LEN(contexts); c++) {
            uint8_t ctx = contexts[c];
            struct mote_packet p;
            struct mote_props *props;
            struct mote_prop list[2], found;
            struct roundtrip r;
            size_t n = 0;

            if (!(spec[i].allowed & MOTE_IN(ctx)))
                continue;
            props = build_struct(ctx, &p);
            if (spec[i].id == MOTE_PROP_AUTH_DATA) /* data without a method is a protocol error */
                list[n++] = prop_str(MOTE_PROP_AUTH_METHOD, "SCRAM-SHA-1");
            list[n++] = valid_prop(spec[i].id);
            *props = props_of(list, n);
            harness_set_context(spec[i].name, ctx_name(ctx));
            roundtrip(&p, MOTE_V5, &r);
            memset(&found, 0, sizeof found);
            assert_int_equal(mote_props_find(decoded_props(ctx, &r.pkt), spec[i].id, &found), 1);
            harness_prop(&found, &list[n - 1], r.wire, r.len, __FILE__, __LINE__);
        }
    }
    harness_set_context("", NULL);
}

/* A value for each property that is not the trivial one: extremes and multi-byte strings. */
static void many_properties_keep_their_typed_values(void **state)
{
    static const uint8_t corr[] = {0x00, 0xFF, 0x80, 0x01};
    struct mote_prop pub[10], con[16], wil[8], found;
    struct mote_packet p;
    struct roundtrip r;
    size_t n = 0, i;

    (void)state;
    /* PUBLISH: every property it may carry, subscription identifiers and user properties twice */
    pub[n++] = prop_num(MOTE_PROP_PAYLOAD_FORMAT, 1);
    pub[n++] = prop_num(MOTE_PROP_MESSAGE_EXPIRY, 0xFFFFFFFFu);
    pub[n++] = prop_str(MOTE_PROP_CONTENT_TYPE, "application/json; charset=\xC3\xA9");
    pub[n++] = prop_str(MOTE_PROP_RESPONSE_TOPIC, "reply/to/me");
    pub[n] = prop_num(MOTE_PROP_CORRELATION_DATA, 0);
    pub[n++].v.str = harness_slice_of(corr, sizeof corr);
    pub[n++] = prop_num(MOTE_PROP_SUBSCRIPTION_ID, 1);
    pub[n++] = prop_num(MOTE_PROP_SUBSCRIPTION_ID, MOTE_VARINT_MAX);
    pub[n++] = prop_num(MOTE_PROP_TOPIC_ALIAS, 65535);
    pub[n++] = prop_pair("key", "");
    pub[n++] = prop_pair("", "value \xF0\xAA\x9B\x94");
    build_struct(MOTE_PUBLISH, &p);
    p.u.publish.qos = 2;
    p.u.publish.packet_id = 65535;
    p.u.publish.props = props_of(pub, n);
    roundtrip(&p, MOTE_V5, &r);
    for (i = 0; i < n; i++) {
        assert_int_equal(mote_props_find(&r.pkt.u.publish.props, pub[i].id, &found), 1);
        if (i != 6 && i != 9) /* repeated ones: find returns the first */
            harness_prop(&found, &pub[i], r.wire, r.len, __FILE__, __LINE__);
    }
    assert_int_equal(mote_props_find(&r.pkt.u.publish.props, MOTE_PROP_SUBSCRIPTION_ID, &found), 1);
    assert_int_equal(found.v.num, 1);
    assert_int_equal(mote_props_find(&r.pkt.u.publish.props, MOTE_PROP_WILL_DELAY, &found), 0);

    /* CONNECT and its will */
    n = 0;
    con[n++] = prop_num(MOTE_PROP_SESSION_EXPIRY, 0xFFFFFFFFu);
    con[n++] = prop_str(MOTE_PROP_AUTH_METHOD, "SCRAM-SHA-1");
    con[n] = prop_num(MOTE_PROP_AUTH_DATA, 0);
    con[n++].v.str = harness_slice_of(corr, sizeof corr);
    con[n++] = prop_num(MOTE_PROP_REQUEST_PROBLEM_INFO, 0);
    con[n++] = prop_num(MOTE_PROP_REQUEST_RESPONSE_INFO, 1);
    con[n++] = prop_num(MOTE_PROP_RECEIVE_MAXIMUM, 65535);
    con[n++] = prop_num(MOTE_PROP_TOPIC_ALIAS_MAXIMUM, 0);
    con[n++] = prop_pair("a", "b");
    con[n++] = prop_num(MOTE_PROP_MAXIMUM_PACKET_SIZE, MOTE_PACKET_MAX);
    con[n++] = prop_pair("a", "b");
    i = 0;
    wil[i++] = prop_num(MOTE_PROP_WILL_DELAY, 3600);
    wil[i++] = prop_num(MOTE_PROP_PAYLOAD_FORMAT, 0);
    wil[i++] = prop_num(MOTE_PROP_MESSAGE_EXPIRY, 0);
    wil[i++] = prop_str(MOTE_PROP_CONTENT_TYPE, "text/plain");
    wil[i++] = prop_str(MOTE_PROP_RESPONSE_TOPIC, "r");
    wil[i] = prop_num(MOTE_PROP_CORRELATION_DATA, 0);
    wil[i++].v.str = harness_slice_of(corr, 0);
    wil[i++] = prop_pair("w", "1");
    build_struct(0, &p);
    p.u.connect.props = props_of(con, n);
    p.u.connect.will_props = props_of(wil, i);
    roundtrip(&p, MOTE_V5, &r);
    assert_int_equal(mote_props_find(&r.pkt.u.connect.will_props, MOTE_PROP_WILL_DELAY, &found), 1);
    assert_int_equal(found.v.num, 3600);
    assert_int_equal(mote_props_find(&r.pkt.u.connect.props, MOTE_PROP_WILL_DELAY, &found), 0);
    assert_int_equal(mote_props_find(&r.pkt.u.connect.props, MOTE_PROP_MAXIMUM_PACKET_SIZE, &found),
                     1);
    assert_int_equal(found.v.num, MOTE_PACKET_MAX);

    /* CONNACK: everything it may carry */
    n = 0;
    con[n++] = prop_num(MOTE_PROP_SESSION_EXPIRY, 0);
    con[n++] = prop_str(MOTE_PROP_ASSIGNED_CLIENT_ID, "auto-3F2A");
    con[n++] = prop_num(MOTE_PROP_SERVER_KEEP_ALIVE, 0);
    con[n++] = prop_str(MOTE_PROP_AUTH_METHOD, "m");
    con[n] = prop_num(MOTE_PROP_AUTH_DATA, 0);
    con[n++].v.str = harness_slice_of(corr, 3);
    con[n++] = prop_str(MOTE_PROP_RESPONSE_INFO, "resp/");
    con[n++] = prop_str(MOTE_PROP_SERVER_REFERENCE, "other:1883");
    con[n++] = prop_str(MOTE_PROP_REASON_STRING, "welcome");
    con[n++] = prop_num(MOTE_PROP_RECEIVE_MAXIMUM, 1);
    con[n++] = prop_num(MOTE_PROP_TOPIC_ALIAS_MAXIMUM, 10);
    con[n++] = prop_num(MOTE_PROP_MAXIMUM_QOS, 0);
    con[n++] = prop_num(MOTE_PROP_RETAIN_AVAILABLE, 0);
    con[n++] = prop_pair("x", "y");
    con[n++] = prop_num(MOTE_PROP_MAXIMUM_PACKET_SIZE, 1);
    con[n++] = prop_num(MOTE_PROP_WILDCARD_SUB_AVAILABLE, 1);
    con[n++] = prop_num(MOTE_PROP_SUBSCRIPTION_ID_AVAILABLE, 0);
    assert_true(n <= HARNESS_ARRAY_LEN(con));
    build_struct(MOTE_CONNACK, &p);
    p.u.connack.props = props_of(con, n);
    roundtrip(&p, MOTE_V5, &r);
    con[0] = prop_num(MOTE_PROP_SHARED_SUB_AVAILABLE, 1);
    p.u.connack.props = props_of(con, 1);
    roundtrip(&p, MOTE_V5, &r);
}

static void iterator_walks_decoded_properties_in_order(void **state)
{
    /* PUBLISH "t" with Message Expiry 16, User Property (k, v), Subscription Identifier 300 */
    static const uint8_t body[] = {0x00, 0x01, 't', 0x0F, 0x02, 0x00, 0x00, 0x00, 0x10, 0x26,
                                   0x00, 0x01, 'k', 0x00, 0x01, 'v',  0x0B, 0xAC, 0x02, 'x'};
    struct mote_packet p;
    struct mote_prop_iter it;
    struct mote_prop prop;
    const uint8_t *in;
    int rc;

    (void)state;
    in = decode_body(0x30, body, sizeof body, MOTE_V5, &p, &rc);
    assert_rc(rc, MOTE_OK);
    assert_ptr_equal(p.u.publish.props.raw.ptr, in + 6);
    assert_int_equal(p.u.publish.props.raw.len, 15);
    assert_null(p.u.publish.props.list);
    mote_props_iter(&p.u.publish.props, &it);
    assert_int_equal(mote_props_next(&it, &prop), 1);
    assert_int_equal(prop.id, MOTE_PROP_MESSAGE_EXPIRY);
    assert_int_equal(prop.v.num, 16);
    assert_int_equal(mote_props_next(&it, &prop), 1);
    assert_int_equal(prop.id, MOTE_PROP_USER_PROPERTY);
    assert_ptr_equal(prop.v.pair.key.ptr, in + 2 + 10 + 2);
    assert_int_equal(prop.v.pair.key.len, 1);
    assert_ptr_equal(prop.v.pair.value.ptr, in + 2 + 13 + 2);
    assert_int_equal(mote_props_next(&it, &prop), 1);
    assert_int_equal(prop.id, MOTE_PROP_SUBSCRIPTION_ID);
    assert_int_equal(prop.v.num, 300);
    assert_int_equal(mote_props_next(&it, &prop), 0);
    assert_int_equal(mote_props_next(&it, &prop), 0);
    assert_slice(p.u.publish.payload, MOTE_SLICE_STR("x"), in, sizeof body + 2);
}

static void iterator_and_find_on_empty_properties(void **state)
{
    struct mote_props none;
    struct mote_prop_iter it;
    struct mote_prop prop;

    (void)state;
    memset(&none, 0, sizeof none);
    mote_props_iter(&none, &it);
    assert_int_equal(mote_props_next(&it, &prop), 0);
    assert_int_equal(mote_props_find(&none, MOTE_PROP_USER_PROPERTY, &prop), 0);
}

static void find_looks_in_raw_bytes_then_in_the_list(void **state)
{
    static const uint8_t raw[] = {0x23, 0x00, 0x07, 0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b'};
    struct mote_prop list[2], found;
    struct mote_props props;

    (void)state;
    list[0] = prop_pair("c", "d");
    list[1] = prop_num(MOTE_PROP_MESSAGE_EXPIRY, 9);
    props.raw = harness_slice_of(guard_in(raw, sizeof raw), sizeof raw);
    props.list = list;
    props.count = 2;
    assert_int_equal(mote_props_find(&props, MOTE_PROP_TOPIC_ALIAS, &found), 1);
    assert_int_equal(found.v.num, 7);
    assert_int_equal(mote_props_find(&props, MOTE_PROP_USER_PROPERTY, &found), 1);
    assert_slice(found.v.pair.key, MOTE_SLICE_STR("a"), props.raw.ptr, sizeof raw);
    assert_int_equal(mote_props_find(&props, MOTE_PROP_MESSAGE_EXPIRY, &found), 1);
    assert_int_equal(found.v.num, 9);
    assert_int_equal(mote_props_find(&props, MOTE_PROP_CONTENT_TYPE, &found), 0);
    props.raw.len = 0;
    assert_int_equal(mote_props_find(&props, MOTE_PROP_USER_PROPERTY, &found), 1);
    assert_slice(found.v.pair.key, MOTE_SLICE_STR("c"), NULL, 0);
}

static void authentication_data_needs_an_authentication_method(void **state)
{
    /* MQTT 5.0 3.1.2.11.10: Authentication Data without a method is a protocol error. */
    static const uint8_t data_only[] = {MOTE_PROP_AUTH_DATA, 0x00, 0x01, 'x'};
    struct mote_prop p = {.id = MOTE_PROP_AUTH_DATA, .v.str = MOTE_SLICE_STR("x")};
    struct mote_packet pkt = {.type = MOTE_AUTH};

    (void)state;
    expect_decode(MOTE_V5, MOTE_ERR_PROPERTY_NOT_ALLOWED, 0xF0, 0x06, 0x18, 0x04,
                  MOTE_PROP_AUTH_DATA, 0x00, 0x01, 'x');
    assert_rc(decode_with_props(MOTE_CONNECT, data_only, sizeof data_only),
              MOTE_ERR_PROPERTY_NOT_ALLOWED);
    pkt.u.reason.reason = MOTE_RC_CONTINUE_AUTH;
    pkt.u.reason.props.list = &p;
    pkt.u.reason.props.count = 1;
    assert_encode_rc(&pkt, MOTE_V5, MOTE_ERR_PROPERTY_NOT_ALLOWED);
}

static void decoded_property_in_a_packet_that_may_not_carry_it_is_not_allowed(void **state)
{
    size_t i, c;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(spec); i++) {
        for (c = 0; c < HARNESS_ARRAY_LEN(contexts); c++) {
            uint8_t ctx = contexts[c], props[32];
            size_t n = 0;
            int want = (spec[i].allowed & MOTE_IN(ctx)) ? MOTE_OK : MOTE_ERR_PROPERTY_NOT_ALLOWED;
            int rc;

            if (spec[i].id == MOTE_PROP_AUTH_DATA)
                n += valid_prop_bytes(MOTE_PROP_AUTH_METHOD, props);
            n += valid_prop_bytes(spec[i].id, props + n);
            rc = decode_with_props(ctx, props, n);
            if (rc != want)
                fail_msg("decode %s in %s: %s, expected %s", spec[i].name, ctx_name(ctx),
                         mote_err_name(rc), mote_err_name(want));
        }
    }
}

static void encoded_property_in_a_packet_that_may_not_carry_it_is_not_allowed(void **state)
{
    size_t i, c;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(spec); i++) {
        for (c = 0; c < HARNESS_ARRAY_LEN(contexts); c++) {
            uint8_t ctx = contexts[c];
            int want = (spec[i].allowed & MOTE_IN(ctx)) ? MOTE_OK : MOTE_ERR_PROPERTY_NOT_ALLOWED;
            struct mote_packet p;
            struct mote_prop list[2];
            size_t n = 0, size;
            int rc;

            if (spec[i].id == MOTE_PROP_AUTH_DATA)
                list[n++] = prop_str(MOTE_PROP_AUTH_METHOD, "m");
            list[n++] = valid_prop(spec[i].id);
            *build_struct(ctx, &p) = props_of(list, n);
            rc = mote_codec_size(&p, MOTE_V5, &size);
            if (rc != want)
                fail_msg("size of %s in %s: %s, expected %s", spec[i].name, ctx_name(ctx),
                         mote_err_name(rc), mote_err_name(want));
            rc = encode_guarded(&p, MOTE_V5, 256, NULL, NULL);
            if (rc != want)
                fail_msg("encode %s in %s: %s, expected %s", spec[i].name, ctx_name(ctx),
                         mote_err_name(rc), mote_err_name(want));
        }
    }
}

static void property_given_twice_is_duplicate_unless_it_may_repeat(void **state)
{
    size_t i, c;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(spec); i++) {
        for (c = 0; c < HARNESS_ARRAY_LEN(contexts); c++) {
            uint8_t ctx = contexts[c], props[32];
            struct mote_packet p;
            struct mote_prop list[3];
            size_t n = 0, k = 0;
            int may = spec[i].id == MOTE_PROP_USER_PROPERTY ||
                      (spec[i].id == MOTE_PROP_SUBSCRIPTION_ID && ctx == MOTE_PUBLISH);
            int want = may ? MOTE_OK : MOTE_ERR_PROPERTY_DUPLICATE, rc;

            if (!(spec[i].allowed & MOTE_IN(ctx)))
                continue;
            if (spec[i].id == MOTE_PROP_AUTH_DATA) {
                n += valid_prop_bytes(MOTE_PROP_AUTH_METHOD, props);
                list[k++] = prop_str(MOTE_PROP_AUTH_METHOD, "m");
            }
            n += valid_prop_bytes(spec[i].id, props + n);
            n += valid_prop_bytes(spec[i].id, props + n);
            list[k++] = valid_prop(spec[i].id);
            list[k++] = valid_prop(spec[i].id);
            rc = decode_with_props(ctx, props, n);
            if (rc != want)
                fail_msg("decode %s twice in %s: %s, expected %s", spec[i].name, ctx_name(ctx),
                         mote_err_name(rc), mote_err_name(want));
            *build_struct(ctx, &p) = props_of(list, k);
            rc = encode_guarded(&p, MOTE_V5, 256, NULL, NULL);
            if (rc != want)
                fail_msg("encode %s twice in %s: %s, expected %s", spec[i].name, ctx_name(ctx),
                         mote_err_name(rc), mote_err_name(want));
        }
    }
}

static void duplicate_is_found_when_not_adjacent(void **state)
{
    (void)state;
    /* PUBLISH: Payload Format 1, User Property, Payload Format 0 */
    expect_body(MOTE_V5, MOTE_ERR_PROPERTY_DUPLICATE, 0x30, 0x00, 0x01, 't', 0x0A, 0x01, 0x01, 0x26,
                0x00, 0x01, 'k', 0x00, 0x00, 0x01, 0x00);
}

static void every_undefined_property_identifier_is_unknown(void **state)
{
    unsigned id;

    (void)state;
    for (id = 0; id < 0x80; id++) {
        uint8_t props[3] = {(uint8_t)id, 0x00, 0x00};
        int rc;

        if (spec_index((uint8_t)id) >= 0)
            continue;
        rc = decode_with_props(MOTE_PUBLISH, props, sizeof props);
        if (rc != MOTE_ERR_PROPERTY_UNKNOWN)
            fail_msg("decode property 0x%02x: %s, expected MOTE_ERR_PROPERTY_UNKNOWN", id,
                     mote_err_name(rc));
        rc = decode_with_props(MOTE_CONNECT, props, sizeof props);
        if (rc != MOTE_ERR_PROPERTY_UNKNOWN)
            fail_msg("decode property 0x%02x in CONNECT: %s", id, mote_err_name(rc));
    }
}

static void encoding_an_undefined_property_identifier_is_unknown(void **state)
{
    static const uint8_t ids[] = {0x00, 0x04, 0x0A, 0x10, 0x14, 0x1B, 0x20, 0x2B, 0x7F, 0xFF};
    struct mote_packet p;
    struct mote_prop prop;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof ids; i++) {
        prop = prop_num(ids[i], 1);
        *build_struct(MOTE_PUBLISH, &p) = props_of(&prop, 1);
        assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PROPERTY_UNKNOWN);
    }
}

/* The values the spec forbids (it calls them a Protocol Error), decoded and encoded. */
static const struct {
    uint8_t ctx;
    uint8_t bytes[6];
    uint8_t len;
    uint32_t num;
    int rc;
} value_cases[] = {
    {MOTE_PUBLISH, {0x01, 0x02}, 2, 2, MOTE_ERR_PROPERTY_VALUE},   /* payload format 2 */
    {MOTE_PUBLISH, {0x01, 0xFF}, 2, 255, MOTE_ERR_PROPERTY_VALUE}, /* payload format 255 */
    {0, {0x01, 0x02}, 2, 2, MOTE_ERR_PROPERTY_VALUE},              /* ... in the will */
    {MOTE_PUBLISH, {0x01, 0x00}, 2, 0, MOTE_OK},                   /* payload format 0 */
    {MOTE_CONNECT, {0x17, 0x02}, 2, 2, MOTE_ERR_PROPERTY_VALUE},   /* request problem info */
    {MOTE_CONNECT, {0x17, 0x00}, 2, 0, MOTE_OK},
    {MOTE_CONNECT, {0x19, 0x02}, 2, 2, MOTE_ERR_PROPERTY_VALUE},       /* request response info */
    {MOTE_CONNECT, {0x21, 0x00, 0x00}, 3, 0, MOTE_ERR_PROPERTY_VALUE}, /* receive maximum 0 */
    {MOTE_CONNACK, {0x21, 0x00, 0x00}, 3, 0, MOTE_ERR_PROPERTY_VALUE},
    {MOTE_CONNECT, {0x27, 0x00, 0x00, 0x00, 0x00}, 5, 0, MOTE_ERR_PROPERTY_VALUE}, /* max size 0 */
    {MOTE_CONNACK, {0x27, 0x00, 0x00, 0x00, 0x00}, 5, 0, MOTE_ERR_PROPERTY_VALUE},
    {MOTE_CONNECT, {0x22, 0x00, 0x00}, 3, 0, MOTE_OK},           /* alias maximum 0 is fine */
    {MOTE_PUBLISH, {0x0B, 0x00}, 2, 0, MOTE_ERR_PROPERTY_VALUE}, /* subscription id 0 */
    {MOTE_SUBSCRIBE, {0x0B, 0x00}, 2, 0, MOTE_ERR_PROPERTY_VALUE},
    {MOTE_SUBSCRIBE, {0x0B, 0xFF, 0xFF, 0xFF, 0x7F}, 5, MOTE_VARINT_MAX, MOTE_OK},
    {MOTE_PUBLISH, {0x23, 0x00, 0x00}, 3, 0, MOTE_ERR_TOPIC_ALIAS_ZERO}, /* topic alias 0 */
    {MOTE_CONNACK, {0x24, 0x02}, 2, 2, MOTE_ERR_PROPERTY_VALUE},       /* maximum QoS 2 */
    {MOTE_CONNACK, {0x24, 0x00}, 2, 0, MOTE_OK},
    {MOTE_CONNACK, {0x25, 0x02}, 2, 2, MOTE_ERR_PROPERTY_VALUE}, /* retain available 2 */
    {MOTE_CONNACK, {0x28, 0x02}, 2, 2, MOTE_ERR_PROPERTY_VALUE}, /* wildcard sub avail. */
    {MOTE_CONNACK, {0x29, 0x02}, 2, 2, MOTE_ERR_PROPERTY_VALUE}, /* sub id available */
    {MOTE_CONNACK, {0x2A, 0x02}, 2, 2, MOTE_ERR_PROPERTY_VALUE}, /* shared sub available */
    {MOTE_CONNACK, {0x13, 0x00, 0x00}, 3, 0, MOTE_OK},           /* server keep alive 0 */
};

static void decoded_property_values_the_spec_forbids(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(value_cases); i++) {
        int rc = decode_with_props(value_cases[i].ctx, value_cases[i].bytes, value_cases[i].len);

        if (rc != value_cases[i].rc)
            fail_msg("decode property 0x%02x = %lu in %s: %s, expected %s", value_cases[i].bytes[0],
                     (unsigned long)value_cases[i].num, ctx_name(value_cases[i].ctx),
                     mote_err_name(rc), mote_err_name(value_cases[i].rc));
    }
}

static void encoded_property_values_the_spec_forbids(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(value_cases); i++) {
        struct mote_packet p;
        struct mote_prop prop = prop_num(value_cases[i].bytes[0], value_cases[i].num);
        size_t size;
        int rc;

        *build_struct(value_cases[i].ctx, &p) = props_of(&prop, 1);
        rc = mote_codec_size(&p, MOTE_V5, &size);
        if (rc != value_cases[i].rc)
            fail_msg("size with property 0x%02x = %lu in %s: %s, expected %s",
                     value_cases[i].bytes[0], (unsigned long)value_cases[i].num,
                     ctx_name(value_cases[i].ctx), mote_err_name(rc),
                     mote_err_name(value_cases[i].rc));
        rc = encode_guarded(&p, MOTE_V5, 256, NULL, NULL);
        if (rc != value_cases[i].rc)
            fail_msg("encode with property 0x%02x = %lu in %s: %s, expected %s",
                     value_cases[i].bytes[0], (unsigned long)value_cases[i].num,
                     ctx_name(value_cases[i].ctx), mote_err_name(rc),
                     mote_err_name(value_cases[i].rc));
    }
}

static void encoded_numbers_too_large_for_their_type_are_bad_values(void **state)
{
    struct mote_packet p;
    struct mote_prop prop;

    (void)state;
    prop = prop_num(MOTE_PROP_PAYLOAD_FORMAT, 256);
    *build_struct(MOTE_PUBLISH, &p) = props_of(&prop, 1);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PROPERTY_VALUE);
    prop = prop_num(MOTE_PROP_TOPIC_ALIAS, 65536);
    *build_struct(MOTE_PUBLISH, &p) = props_of(&prop, 1);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PROPERTY_VALUE);
    prop = prop_num(MOTE_PROP_SUBSCRIPTION_ID, MOTE_VARINT_MAX + 1u);
    *build_struct(MOTE_PUBLISH, &p) = props_of(&prop, 1);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PROPERTY_VALUE);
    prop = prop_num(MOTE_PROP_RECEIVE_MAXIMUM, 0x10001);
    *build_struct(MOTE_CONNECT, &p) = props_of(&prop, 1);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PROPERTY_VALUE);
}

static void subscription_identifier_varint_must_be_minimal_and_short(void **state)
{
    static const uint8_t not_minimal[] = {0x0B, 0x81, 0x00};
    static const uint8_t too_long[] = {0x0B, 0x80, 0x80, 0x80, 0x80, 0x01};

    (void)state;
    assert_rc(decode_with_props(MOTE_PUBLISH, not_minimal, sizeof not_minimal),
              MOTE_ERR_VARINT_NOT_MINIMAL);
    assert_rc(decode_with_props(MOTE_SUBSCRIBE, too_long, sizeof too_long),
              MOTE_ERR_VARINT_TOO_LONG);
}

static void property_lengths_that_run_past_their_block_are_truncated(void **state)
{
    (void)state;
    /* Property length 5, but only 2 bytes are left in the packet. */
    expect_body(MOTE_V5, MOTE_ERR_TRUNCATED, 0x30, 0x00, 0x01, 't', 0x05, 0x01, 0x01);
    /* Message Expiry needs 4 bytes; the block has 2; the payload must not lend the rest. */
    expect_body(MOTE_V5, MOTE_ERR_TRUNCATED, 0x30, 0x00, 0x01, 't', 0x02, 0x02, 0x00, 0x00, 0x00,
                'p');
    /* Content Type of 5 bytes in a 3-byte block. */
    expect_body(MOTE_V5, MOTE_ERR_TRUNCATED, 0x30, 0x00, 0x01, 't', 0x03, 0x03, 0x00, 0x05, 'a',
                'b', 'c', 'd', 'e');
    /* User property whose value length is cut off at the end of the block. */
    expect_body(MOTE_V5, MOTE_ERR_TRUNCATED, 0x40, 0x00, 0x01, 0x00, 0x05, 0x26, 0x00, 0x01, 'k',
                0x00);
    /* PUBACK with a property length but no properties. */
    expect_body(MOTE_V5, MOTE_ERR_TRUNCATED, 0x40, 0x00, 0x01, 0x00, 0x05);
    /* Property length varint cut at the end of the packet. */
    expect_body(MOTE_V5, MOTE_ERR_TRUNCATED, 0x20, 0x00, 0x00, 0x80);
    /* Property length in two bytes for a value below 128. */
    expect_body(MOTE_V5, MOTE_ERR_VARINT_NOT_MINIMAL, 0x30, 0x00, 0x01, 't', 0x82, 0x00, 0x01,
                0x01);
}

static void properties_given_for_mqtt_3_are_refused_by_the_encoder(void **state)
{
    static const uint8_t raw[] = {0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'};
    static const uint8_t v3_ctx[] = {0,
                                     MOTE_CONNECT,
                                     MOTE_CONNACK,
                                     MOTE_PUBLISH,
                                     MOTE_PUBACK,
                                     MOTE_PUBREC,
                                     MOTE_PUBREL,
                                     MOTE_PUBCOMP,
                                     MOTE_SUBSCRIBE,
                                     MOTE_SUBACK,
                                     MOTE_UNSUBSCRIBE,
                                     MOTE_UNSUBACK,
                                     MOTE_DISCONNECT};
    struct mote_prop user = prop_pair("k", "v");
    size_t c, v;

    (void)state;
    for (c = 0; c < sizeof v3_ctx; c++) {
        for (v = 0; v < 2; v++) {
            uint8_t version = v ? MOTE_V311 : MOTE_V31;
            struct mote_packet p;
            struct mote_props *props = build_struct(v3_ctx[c], &p);
            size_t size;
            int rc;

            if (p.type == MOTE_CONNECT)
                p.u.connect.version = version;
            *props = props_of(&user, 1);
            rc = mote_codec_size(&p, version, &size);
            if (rc != MOTE_ERR_PROPERTIES_IN_V3)
                fail_msg("%s list in level %d: %s", ctx_name(v3_ctx[c]), version,
                         mote_err_name(rc));
            assert_rc(encode_guarded(&p, version, 256, NULL, NULL), MOTE_ERR_PROPERTIES_IN_V3);
            *props = props_of(NULL, 0);
            props->raw = harness_slice_of(raw, sizeof raw);
            rc = mote_codec_size(&p, version, &size);
            if (rc != MOTE_ERR_PROPERTIES_IN_V3)
                fail_msg("%s raw in level %d: %s", ctx_name(v3_ctx[c]), version, mote_err_name(rc));
            assert_rc(encode_guarded(&p, version, 256, NULL, NULL), MOTE_ERR_PROPERTIES_IN_V3);
        }
    }
}

static void decoded_properties_are_forwarded_verbatim_with_extra_list_items(void **state)
{
    /* A 5.0 PUBLISH as a broker receives it: Content Type "json", User Property (a, 1). */
    static const uint8_t body[] = {0x00, 0x03, 'a',  '/',  'b',  0x0E, 0x03, 0x00, 0x04, 'j', 's',
                                   'o',  'n',  0x26, 0x00, 0x01, 'a',  0x00, 0x01, '1',  'h', 'i'};
    struct mote_packet in_pkt, out_pkt;
    struct mote_prop extra[2], found;
    struct roundtrip r;
    const uint8_t *in;
    int rc;

    (void)state;
    in = decode_body(0x30, body, sizeof body, MOTE_V5, &in_pkt, &rc);
    assert_rc(rc, MOTE_OK);
    assert_ptr_equal(in_pkt.u.publish.props.raw.ptr, in + 8);
    assert_int_equal(in_pkt.u.publish.props.raw.len, 14);

    /* Forward it with the subscriber's subscription identifier and one more user property. */
    extra[0] = prop_num(MOTE_PROP_SUBSCRIPTION_ID, 42);
    extra[1] = prop_pair("b", "2");
    out_pkt = in_pkt;
    out_pkt.u.publish.props.list = extra;
    out_pkt.u.publish.props.count = 2;
    assert_int_equal(mote_props_find(&out_pkt.u.publish.props, MOTE_PROP_CONTENT_TYPE, &found), 1);
    assert_int_equal(mote_props_find(&out_pkt.u.publish.props, MOTE_PROP_SUBSCRIPTION_ID, &found),
                     1);
    assert_int_equal(found.v.num, 42);
    roundtrip(&out_pkt, MOTE_V5, &r);
    /* The raw bytes come first, verbatim, then the list. */
    assert_int_equal(r.pkt.u.publish.props.raw.len, 14 + 2 + 7);
    assert_memory_equal(r.pkt.u.publish.props.raw.ptr, in + 8, 14);

    /* Raw bytes alone. */
    out_pkt.u.publish.props.list = NULL;
    out_pkt.u.publish.props.count = 0;
    roundtrip(&out_pkt, MOTE_V5, &r);
    assert_int_equal(r.len, sizeof body + 2);
    assert_memory_equal(r.wire, in, sizeof body + 2);
}

static void user_property_may_be_empty_and_repeat_with_the_same_key(void **state)
{
    struct mote_prop list[3];
    struct mote_packet p;
    struct roundtrip r;

    (void)state;
    list[0] = prop_pair("", "");
    list[1] = prop_pair("k", "1");
    list[2] = prop_pair("k", "1");
    *build_struct(MOTE_DISCONNECT, &p) = props_of(list, 3);
    roundtrip(&p, MOTE_V5, &r);
}

static void encoder_validates_forwarded_raw_properties(void **state)
{
    static const uint8_t unknown[] = {0x04, 0x00};
    static const uint8_t payload_format[] = {0x01, 0x01};
    static const uint8_t cut[] = {0x02, 0x00, 0x00};
    static const uint8_t bad_value[] = {0x23, 0x00, 0x00};
    struct mote_prop again = prop_num(MOTE_PROP_PAYLOAD_FORMAT, 0);
    struct mote_packet p;
    struct mote_props *props;

    (void)state;
    props = build_struct(MOTE_PUBLISH, &p);
    props->raw = harness_slice_of(unknown, sizeof unknown);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PROPERTY_UNKNOWN);
    props->raw = harness_slice_of(cut, sizeof cut);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_TRUNCATED);
    props->raw = harness_slice_of(bad_value, sizeof bad_value);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_TOPIC_ALIAS_ZERO);
    /* a property in the raw bytes and again in the list */
    props->raw = harness_slice_of(payload_format, sizeof payload_format);
    *props = (struct mote_props){props->raw, &again, 1};
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PROPERTY_DUPLICATE);
    /* PUBLISH properties forwarded into a packet that may not carry them */
    props = build_struct(MOTE_PUBACK, &p);
    props->raw = harness_slice_of(payload_format, sizeof payload_format);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_PROPERTY_NOT_ALLOWED);
}

static void property_identifier_is_a_minimal_variable_byte_integer(void **state)
{
    (void)state;
    /* 0x81 0x00: identifier 1 in two bytes */
    expect_body(MOTE_V5, MOTE_ERR_VARINT_NOT_MINIMAL, 0x30, 0x00, 0x01, 't', 0x03, 0x81, 0x00,
                0x01);
    /* 0x80 0x01: identifier 128, which the spec does not define */
    expect_body(MOTE_V5, MOTE_ERR_PROPERTY_UNKNOWN, 0x30, 0x00, 0x01, 't', 0x03, 0x80, 0x01, 0x00);
}

static void response_topic_is_a_topic_name(void **state)
{
    struct mote_prop prop;
    struct mote_packet p;

    (void)state;
    expect_body(MOTE_V5, MOTE_ERR_TOPIC_WILDCARD, 0x30, 0x00, 0x01, 't', 0x05, 0x08, 0x00, 0x02,
                'a', '#');
    expect_body(MOTE_V5, MOTE_ERR_TOPIC_WILDCARD, 0x30, 0x00, 0x01, 't', 0x04, 0x08, 0x00, 0x01,
                '+');
    expect_body(MOTE_V5, MOTE_ERR_TOPIC_EMPTY, 0x30, 0x00, 0x01, 't', 0x03, 0x08, 0x00, 0x00);
    prop = prop_str(MOTE_PROP_RESPONSE_TOPIC, "reply/+");
    *build_struct(MOTE_PUBLISH, &p) = props_of(&prop, 1);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_TOPIC_WILDCARD);
    prop = prop_str(MOTE_PROP_RESPONSE_TOPIC, "");
    *build_struct(0, &p) = props_of(&prop, 1);
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_TOPIC_EMPTY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prop_info_matches_table_2_4_of_the_spec),
        cmocka_unit_test(prop_info_is_null_for_every_undefined_identifier),
        cmocka_unit_test(prop_may_repeat_only_user_property_and_subscription_id_in_publish),
        cmocka_unit_test(every_property_round_trips_in_every_packet_that_allows_it),
        cmocka_unit_test(many_properties_keep_their_typed_values),
        cmocka_unit_test(iterator_walks_decoded_properties_in_order),
        cmocka_unit_test(iterator_and_find_on_empty_properties),
        cmocka_unit_test(find_looks_in_raw_bytes_then_in_the_list),
        cmocka_unit_test(decoded_property_in_a_packet_that_may_not_carry_it_is_not_allowed),
        cmocka_unit_test(authentication_data_needs_an_authentication_method),
        cmocka_unit_test(encoded_property_in_a_packet_that_may_not_carry_it_is_not_allowed),
        cmocka_unit_test(property_given_twice_is_duplicate_unless_it_may_repeat),
        cmocka_unit_test(duplicate_is_found_when_not_adjacent),
        cmocka_unit_test(every_undefined_property_identifier_is_unknown),
        cmocka_unit_test(encoding_an_undefined_property_identifier_is_unknown),
        cmocka_unit_test(decoded_property_values_the_spec_forbids),
        cmocka_unit_test(encoded_property_values_the_spec_forbids),
        cmocka_unit_test(encoded_numbers_too_large_for_their_type_are_bad_values),
        cmocka_unit_test(subscription_identifier_varint_must_be_minimal_and_short),
        cmocka_unit_test(property_lengths_that_run_past_their_block_are_truncated),
        cmocka_unit_test(properties_given_for_mqtt_3_are_refused_by_the_encoder),
        cmocka_unit_test(decoded_properties_are_forwarded_verbatim_with_extra_list_items),
        cmocka_unit_test(user_property_may_be_empty_and_repeat_with_the_same_key),
        cmocka_unit_test(encoder_validates_forwarded_raw_properties),
        cmocka_unit_test(property_identifier_is_a_minimal_variable_byte_integer),
        cmocka_unit_test(response_topic_is_a_topic_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
