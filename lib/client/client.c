/*
 * client.c - the sans-I/O MQTT 3.1.1 / 5.0 client engine of mote/client.h: one connection at a
 * time, QoS 0/1/2 both ways, keep alive, resend after reconnect and the offline queue, all in the
 * caller's memory. No allocation and no OS call: it builds with -ffreestanding.
 *
 * Memory: rx holds whole incoming packets (read greedily, handled in place, the rest moved down);
 * tx holds encoded bytes for the transport; the store keeps each unacknowledged QoS 1/2 PUBLISH
 * encoded, contiguous and in publish order (a freed message is closed up with memmove); a slot
 * names each packet identifier in flight. Design notes: docs/client.md.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mote/client.h"

/* What a slot holds (mote_inflight.kind). */
enum { SLOT_FREE = 0, SLOT_PUB_OUT, SLOT_SUB, SLOT_UNSUB, SLOT_PUB_IN };

/* States of an outgoing QoS 1/2 message (mote_inflight.state, kind SLOT_PUB_OUT). */
enum {
    OUT_NEW = 1,  /* stored, never sent in this session */
    OUT_RESEND,   /* sent on an earlier connection of this session: resend with DUP = 1 */
    OUT_SENT,     /* awaiting PUBACK (QoS 1) or PUBREC (QoS 2) */
    OUT_REL,      /* PUBREC received: PUBREL to send */
    OUT_REL_SENT, /* awaiting PUBCOMP */
    OUT_DONE,     /* finished while reconnecting: report MOTE_EV_PUBLISHED (reason in offset) */
};

/* Internal result of handling one packet: stop here (tx has no room, or a callback ended or
 * restarted the connection). Positive, so it never looks like an error. */
#define STOP 2

#define DEFAULT_CONNACK_TIMEOUT_MS 10000u
#define DEFAULT_BACKOFF_MIN_MS 1000u
#define DEFAULT_BACKOFF_MAX_MS 60000u
/* The largest acknowledgement the client writes: 5.0 PUBACK/PUBREC/PUBREL/PUBCOMP with a reason. */
#define ACK_ROOM 5u
/* Rounds of read-and-handle per poll, so that a busy broker cannot keep poll from returning. */
#define READ_ROUNDS 32

static const char what_rx[] = "receive buffer (mem.rx)";
static const char what_tx[] = "transmit buffer (mem.tx)";
static const char what_store[] = "message store (mem.store)";
static const char what_slots[] = "in-flight slots (mem.slots)";
static const char what_broker_max[] = "the broker's Maximum Packet Size";
static const char what_connect[] = "CONNECT (client id, will, user name, password, properties)";
static const char what_config[] = "configuration";

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

static uint32_t since(uint32_t now, uint32_t then)
{
    return now - then; /* wraps correctly every 49 days */
}

static int seq_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static uint16_t receive_max_sent(const struct mote_client *c)
{
    return c->mem.slot_count > 65535u ? 65535u : (uint16_t)c->mem.slot_count;
}

static uint32_t max_packet_sent(const struct mote_client *c)
{
    return c->mem.rx_len > MOTE_PACKET_MAX ? MOTE_PACKET_MAX : (uint32_t)c->mem.rx_len;
}

static void err_set(struct mote_client *c, int code, uint8_t layer)
{
    memset(&c->err, 0, sizeof c->err);
    c->err.code = code;
    c->err.layer = layer;
}

static int err_size(struct mote_client *c, int code, uint8_t layer, const char *what, size_t need,
                    size_t have)
{
    err_set(c, code, layer);
    c->err.what = what;
    c->err.need = need > UINT32_MAX ? UINT32_MAX : (uint32_t)need;
    c->err.have = have > UINT32_MAX ? UINT32_MAX : (uint32_t)have;
    return code;
}

static void emit(struct mote_client *c, const struct mote_event *e)
{
    if (c->cb.on_event)
        c->cb.on_event(c->cb.ctx, e);
}

static void emit_published(struct mote_client *c, uint16_t id, uint8_t reason)
{
    struct mote_event e;

    memset(&e, 0, sizeof e);
    e.type = MOTE_EV_PUBLISHED;
    e.packet_id = id;
    e.reason = reason;
    emit(c, &e);
}

/* ---------------------------------------------------------------------------------------------
 * Slots and the store
 * ------------------------------------------------------------------------------------------- */

static struct mote_inflight *slot_find(struct mote_client *c, uint8_t kind, uint16_t id)
{
    for (size_t i = 0; i < c->mem.slot_count; i++)
        if (c->mem.slots[i].kind == kind && c->mem.slots[i].packet_id == id)
            return &c->mem.slots[i];
    return NULL;
}

static struct mote_inflight *slot_alloc(struct mote_client *c)
{
    for (size_t i = 0; i < c->mem.slot_count; i++)
        if (c->mem.slots[i].kind == SLOT_FREE)
            return &c->mem.slots[i];
    return NULL;
}

static size_t slot_count_kind(const struct mote_client *c, uint8_t kind)
{
    size_t n = 0;

    for (size_t i = 0; i < c->mem.slot_count; i++)
        n += c->mem.slots[i].kind == kind;
    return n;
}

/* Outgoing QoS 1/2 messages the broker counts against its Receive Maximum. */
static size_t inflight_out(const struct mote_client *c)
{
    size_t n = 0;

    for (size_t i = 0; i < c->mem.slot_count; i++) {
        const struct mote_inflight *s = &c->mem.slots[i];
        n += s->kind == SLOT_PUB_OUT && s->state != OUT_NEW && s->state != OUT_DONE;
    }
    return n;
}

/* The packet identifier of the next outgoing packet: never 0, never one in flight. */
static uint16_t id_next(struct mote_client *c)
{
    for (uint32_t tries = 0; tries < 65536u; tries++) {
        uint16_t id = c->next_id ? c->next_id : 1;
        size_t i;

        c->next_id = (uint16_t)(id + 1);
        for (i = 0; i < c->mem.slot_count; i++) {
            const struct mote_inflight *s = &c->mem.slots[i];
            if (s->kind != SLOT_FREE && s->kind != SLOT_PUB_IN && s->packet_id == id)
                break;
        }
        if (i == c->mem.slot_count)
            return id;
    }
    return 1; /* unreachable: fewer than 65535 slots exist, so a free id does */
}

/* Frees a message's bytes in the store and closes the gap, so the store never fragments. */
static void store_release(struct mote_client *c, struct mote_inflight *s)
{
    uint32_t off = s->offset, len = s->length;

    if (len == 0)
        return;
    memmove(c->mem.store + off, c->mem.store + off + len, c->store_used - off - len);
    c->store_used -= len;
    for (size_t i = 0; i < c->mem.slot_count; i++) {
        struct mote_inflight *o = &c->mem.slots[i];
        if (o->kind == SLOT_PUB_OUT && o->length && o->offset > off)
            o->offset -= len;
    }
    s->offset = 0;
    s->length = 0;
}

static void slot_free(struct mote_client *c, struct mote_inflight *s)
{
    if (s->kind == SLOT_PUB_OUT)
        store_release(c, s);
    memset(s, 0, sizeof *s);
}

static uint8_t stored_qos(const struct mote_client *c, const struct mote_inflight *s)
{
    return s->length ? (uint8_t)((c->mem.store[s->offset] >> 1) & 3) : 2;
}

/* ---------------------------------------------------------------------------------------------
 * Transmit buffer
 * ------------------------------------------------------------------------------------------- */

static size_t tx_free(const struct mote_client *c)
{
    return c->mem.tx_len - (c->tx_have - c->tx_sent);
}

/* Room for @p n more bytes at the end of tx (moving the unsent bytes down if needed), or NULL. */
static uint8_t *tx_reserve(struct mote_client *c, size_t n)
{
    if (tx_free(c) < n)
        return NULL;
    if (c->mem.tx_len - c->tx_have < n) {
        memmove(c->mem.tx, c->mem.tx + c->tx_sent, c->tx_have - c->tx_sent);
        c->tx_have -= c->tx_sent;
        c->tx_sent = 0;
    }
    return c->mem.tx + c->tx_have;
}

static int encoded_size(const struct mote_client *c, const struct mote_packet *p, size_t *size)
{
    return mote_codec_size(p, c->cfg.version, size);
}

/* Encodes @p p at the end of tx. MOTE_ERR_BUFFER_TOO_SMALL when it does not fit now. */
static int tx_packet(struct mote_client *c, const struct mote_packet *p)
{
    size_t size, used;
    uint8_t *dst;
    int rc = encoded_size(c, p, &size);

    if (rc != MOTE_OK)
        return rc;
    dst = tx_reserve(c, size);
    if (!dst)
        return MOTE_ERR_BUFFER_TOO_SMALL;
    rc = mote_codec_encode(p, c->cfg.version, dst, size, &used);
    if (rc == MOTE_OK)
        c->tx_have += used;
    return rc;
}

static int tx_ack(struct mote_client *c, uint8_t type, uint16_t id, uint8_t reason)
{
    struct mote_packet p;

    memset(&p, 0, sizeof p);
    p.type = type;
    p.u.ack.packet_id = id;
    p.u.ack.reason = c->cfg.version == MOTE_V5 ? reason : 0;
    return tx_packet(c, &p);
}

/* Writes what the transport takes now. Returns MOTE_OK or the transport's error. */
static int flush(struct mote_client *c)
{
    if (c->io_err)
        return c->io_err;
    while (c->tx_sent < c->tx_have) {
        size_t left = c->tx_have - c->tx_sent;
        int32_t n = c->t->send(c->t->ctx, c->mem.tx + c->tx_sent, left);

        if (n < 0)
            return c->io_err = n;
        if (n == 0)
            break;
        c->tx_sent += (size_t)n > left ? left : (size_t)n;
        c->last_tx_ms = c->now_ms;
    }
    if (c->tx_sent == c->tx_have)
        c->tx_sent = c->tx_have = 0;
    return MOTE_OK;
}

/* Room for an acknowledgement, writing first if needed. */
static int ack_room(struct mote_client *c)
{
    if (tx_free(c) >= ACK_ROOM)
        return 1;
    (void)flush(c); /* a failure is reported by poll */
    return tx_free(c) >= ACK_ROOM;
}

/* ---------------------------------------------------------------------------------------------
 * Ending a connection
 * ------------------------------------------------------------------------------------------- */

/* Forgets the connection (not the session): what was half sent or half read, pending
 * subscriptions. Outgoing messages and incoming QoS 2 identifiers stay for the next one. */
static void drop_connection(struct mote_client *c)
{
    c->state = MOTE_STATE_DISCONNECTED;
    c->gen++;
    c->rx_have = 0;
    c->tx_have = c->tx_sent = 0;
    c->ping_outstanding = 0;
    c->io_err = 0;
    for (size_t i = 0; i < c->mem.slot_count; i++) {
        struct mote_inflight *s = &c->mem.slots[i];
        if (s->kind == SLOT_SUB || s->kind == SLOT_UNSUB)
            memset(s, 0, sizeof *s);
    }
}

/* Ends the connection with the error already in c->err; returns its code. */
static int fail_now(struct mote_client *c)
{
    struct mote_event e;

    drop_connection(c);
    memset(&e, 0, sizeof e);
    e.type = MOTE_EV_DISCONNECTED;
    e.reason = c->err.reason;
    e.err = &c->err;
    emit(c, &e);
    return c->err.code;
}

static uint8_t transport_layer(int code)
{
    if (code == MOTE_ERR_DNS)
        return MOTE_LAYER_DNS;
    if (code <= -100 && code >= -119) /* lib/tls's codes (MOTE_ERR_TLS_*) */
        return MOTE_LAYER_TLS;
    return MOTE_LAYER_TCP;
}

static int fail_transport(struct mote_client *c, int code)
{
    err_set(c, code, transport_layer(code));
    return fail_now(c);
}

/*
 * The broker broke the protocol: @p raw is the codec's error (0 when the packet was well formed
 * but not allowed now), @p reason the 5.0 reason code that names it. A 5.0 broker is told why.
 */
static int fail_protocol(struct mote_client *c, uint8_t packet, int raw, uint8_t reason)
{
    err_set(c, MOTE_ERR_PROTOCOL, MOTE_LAYER_MQTT);
    c->err.packet = packet;
    c->err.raw = raw;
    c->err.reason = reason;
    if (c->cfg.version == MOTE_V5 && c->state == MOTE_STATE_CONNECTED) {
        struct mote_packet p;

        memset(&p, 0, sizeof p);
        p.type = MOTE_DISCONNECT;
        p.u.reason.reason = reason;
        if (tx_packet(c, &p) == MOTE_OK)
            (void)flush(c);
    }
    return fail_now(c);
}

/* ---------------------------------------------------------------------------------------------
 * CONNECT
 * ------------------------------------------------------------------------------------------- */

/* Our CONNECT properties, and room to merge them with the caller's (see build_connect). */
struct connect_work {
    uint8_t raw[16];
    struct mote_prop list[3];
};

static size_t put_prop(uint8_t *b, uint8_t id, uint32_t v, unsigned bytes)
{
    b[0] = id;
    for (unsigned i = 0; i < bytes; i++)
        b[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    return 1 + bytes;
}

/*
 * The CONNECT the configuration produces. The client's own 5.0 properties (Session Expiry,
 * Receive Maximum, Maximum Packet Size) take whichever half of struct mote_props the caller's
 * connect_props leave empty: raw bytes when the caller gave a list, a list when it gave raw bytes.
 */
static void build_connect(const struct mote_client *c, struct mote_packet *p,
                          struct connect_work *w)
{
    const struct mote_client_config *cfg = &c->cfg;
    struct mote_connect *k = &p->u.connect;

    memset(p, 0, sizeof *p);
    p->type = MOTE_CONNECT;
    k->version = cfg->version;
    k->clean_start = cfg->clean_start ? 1 : 0;
    k->keep_alive = cfg->keep_alive_s;
    k->client_id = cfg->client_id;
    if (cfg->client_id.len == 0 && c->assigned_len) {
        k->client_id.ptr = c->assigned_id;
        k->client_id.len = c->assigned_len;
    }
    k->has_username = cfg->has_username ? 1 : 0;
    k->username = cfg->username;
    k->has_password = cfg->has_password ? 1 : 0;
    k->password = cfg->password;
    if (cfg->will) {
        k->will = 1;
        k->will_qos = cfg->will->qos;
        k->will_retain = cfg->will->retain ? 1 : 0;
        k->will_topic = cfg->will->topic;
        k->will_payload = cfg->will->payload;
        k->will_props = cfg->will->props;
    }
    if (cfg->version != MOTE_V5)
        return;

    size_t n = 0, raw_len = 0;
    uint16_t rm = receive_max_sent(c);
    uint32_t mps = max_packet_sent(c);

    if (cfg->session_expiry_s)
        w->list[n++] =
            (struct mote_prop){.id = MOTE_PROP_SESSION_EXPIRY, .v.num = cfg->session_expiry_s};
    if (rm < 65535u)
        w->list[n++] = (struct mote_prop){.id = MOTE_PROP_RECEIVE_MAXIMUM, .v.num = rm};
    if (mps < MOTE_PACKET_MAX)
        w->list[n++] = (struct mote_prop){.id = MOTE_PROP_MAXIMUM_PACKET_SIZE, .v.num = mps};

    if (cfg->connect_props.raw.len) {
        k->props.raw = cfg->connect_props.raw;
        k->props.list = w->list;
        k->props.count = n;
        return;
    }
    for (size_t i = 0; i < n; i++)
        raw_len += put_prop(w->raw + raw_len, w->list[i].id, w->list[i].v.num,
                            w->list[i].id == MOTE_PROP_RECEIVE_MAXIMUM ? 2 : 4);
    k->props.raw.ptr = raw_len ? w->raw : NULL;
    k->props.raw.len = raw_len;
    k->props.list = cfg->connect_props.list;
    k->props.count = cfg->connect_props.count;
}

/* ---------------------------------------------------------------------------------------------
 * Sending stored messages
 * ------------------------------------------------------------------------------------------- */

/* The outgoing message that should go out next: the oldest with something to send. */
static struct mote_inflight *next_to_send(struct mote_client *c)
{
    struct mote_inflight *best = NULL;

    for (size_t i = 0; i < c->mem.slot_count; i++) {
        struct mote_inflight *s = &c->mem.slots[i];
        if (s->kind != SLOT_PUB_OUT ||
            (s->state != OUT_NEW && s->state != OUT_RESEND && s->state != OUT_REL))
            continue;
        if (!best || seq_before(s->seq, best->seq))
            best = s;
    }
    return best;
}

/*
 * Copies stored PUBLISH packets (and PUBREL) into tx in their original order while there is room
 * and the broker's Receive Maximum allows. Never calls back, so any API function may call it.
 */
static void pump(struct mote_client *c)
{
    struct mote_inflight *s;

    if (c->state != MOTE_STATE_CONNECTED)
        return;
    while ((s = next_to_send(c)) != NULL) {
        if (s->state == OUT_REL) {
            if (tx_ack(c, MOTE_PUBREL, s->packet_id, 0) != MOTE_OK)
                return;
            s->state = OUT_REL_SENT;
            continue;
        }
        if (s->state == OUT_NEW && inflight_out(c) >= c->broker_receive_max)
            return;
        uint8_t *dst = tx_reserve(c, s->length);
        if (!dst)
            return;
        memcpy(dst, c->mem.store + s->offset, s->length);
        if (s->state == OUT_RESEND)
            dst[0] |= 0x08;
        else
            dst[0] &= (uint8_t)~0x08;
        c->tx_have += s->length;
        s->state = OUT_SENT;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Incoming packets
 * ------------------------------------------------------------------------------------------- */

static int connack(struct mote_client *c, const struct mote_connack *a)
{
    struct mote_event e;
    uint8_t gen;

    if (a->reason != 0) {
        err_set(c, MOTE_ERR_CONNECT_REFUSED, MOTE_LAYER_MQTT);
        c->err.reason = a->reason;
        c->err.packet = MOTE_CONNACK;
        return fail_now(c);
    }
    if (a->session_present && c->cfg.clean_start)
        return fail_protocol(c, MOTE_CONNACK, MOTE_ERR_CONNACK_FLAGS, MOTE_RC_PROTOCOL_ERROR);

    c->state = MOTE_STATE_CONNECTED;
    c->session_present = a->session_present;
    c->backoff_ms = 0;
    if (c->cfg.version == MOTE_V5) {
        struct mote_prop_iter it;
        struct mote_prop pr;

        mote_props_iter(&a->props, &it);
        while (mote_props_next(&it, &pr)) {
            switch (pr.id) {
            case MOTE_PROP_RECEIVE_MAXIMUM:
                c->broker_receive_max = (uint16_t)pr.v.num;
                break;
            case MOTE_PROP_MAXIMUM_PACKET_SIZE:
                c->broker_max_packet = pr.v.num;
                break;
            case MOTE_PROP_SERVER_KEEP_ALIVE:
                c->keep_alive_s = (uint16_t)pr.v.num;
                break;
            case MOTE_PROP_TOPIC_ALIAS_MAXIMUM:
                c->broker_alias_max = (uint16_t)pr.v.num;
                break;
            case MOTE_PROP_ASSIGNED_CLIENT_ID:
                /* Kept for reconnects only if it fits here and the CONNECT with it fits tx. */
                if (pr.v.str.len <= MOTE_CLIENT_ID_MAX) {
                    struct mote_packet k;
                    struct connect_work w;
                    size_t size;

                    memcpy(c->assigned_id, pr.v.str.ptr, pr.v.str.len);
                    c->assigned_len = (uint16_t)pr.v.str.len;
                    build_connect(c, &k, &w);
                    if (encoded_size(c, &k, &size) != MOTE_OK || size > c->mem.tx_len)
                        c->assigned_len = 0;
                }
                break;
            default:
                break;
            }
        }
    }

    /*
     * The session: with session_present the broker still has our in-flight messages, so resend
     * them with DUP and resend PUBREL, in the original order. Without it the broker has forgotten
     * them: send the unacknowledged ones again as new messages (nothing is lost; a QoS 1 message
     * whose PUBACK was lost may arrive twice), and count a QoS 2 message that got its PUBREC as
     * published (the broker had taken it over). Incoming QoS 2 identifiers die with the session.
     */
    for (size_t i = 0; i < c->mem.slot_count; i++) {
        struct mote_inflight *s = &c->mem.slots[i];

        if (s->kind == SLOT_PUB_IN && !a->session_present) {
            memset(s, 0, sizeof *s);
        } else if (s->kind == SLOT_PUB_OUT) {
            if (c->broker_max_packet && s->length > c->broker_max_packet) {
                store_release(c, s);
                s->state = OUT_DONE;
                s->offset = MOTE_RC_PACKET_TOO_LARGE;
            } else if (s->state == OUT_SENT || s->state == OUT_RESEND) {
                s->state = a->session_present ? OUT_RESEND : OUT_NEW;
            } else if (s->state == OUT_REL || s->state == OUT_REL_SENT) {
                s->state = a->session_present ? OUT_REL : OUT_DONE;
                if (s->state == OUT_DONE)
                    s->offset = MOTE_RC_SUCCESS;
            }
        }
    }
    pump(c);

    gen = c->gen;
    memset(&e, 0, sizeof e);
    e.type = MOTE_EV_CONNECTED;
    e.session_present = a->session_present;
    emit(c, &e);
    if (c->gen != gen)
        return STOP;
    for (size_t i = 0; i < c->mem.slot_count; i++) {
        struct mote_inflight *s = &c->mem.slots[i];
        if (s->kind == SLOT_PUB_OUT && s->state == OUT_DONE) {
            uint16_t id = s->packet_id;
            uint8_t reason = (uint8_t)s->offset;

            memset(s, 0, sizeof *s);
            emit_published(c, id, reason);
            if (c->gen != gen)
                return STOP;
        }
    }
    return MOTE_OK;
}

static int deliver(struct mote_client *c, const struct mote_publish *p)
{
    struct mote_message m;
    uint8_t gen = c->gen;

    memset(&m, 0, sizeof m);
    m.topic = p->topic;
    m.payload = p->payload;
    m.qos = p->qos;
    m.retain = p->retain;
    m.dup = p->dup;
    m.packet_id = p->packet_id;
    m.props = c->cfg.version == MOTE_V5 ? &p->props : NULL;
    if (c->cb.on_message)
        c->cb.on_message(c->cb.ctx, &m);
    return c->gen == gen ? MOTE_OK : STOP;
}

static int incoming_publish(struct mote_client *c, const struct mote_publish *p)
{
    struct mote_prop pr;
    struct mote_inflight *s;

    /* We grant no Topic Alias Maximum, so the broker may not use aliases (MQTT-3.3.2-9). */
    if (c->cfg.version == MOTE_V5 && mote_props_find(&p->props, MOTE_PROP_TOPIC_ALIAS, &pr))
        return fail_protocol(c, MOTE_PUBLISH, 0, MOTE_RC_TOPIC_ALIAS_INVALID);
    if (p->qos == 0)
        return deliver(c, p);
    /* The acknowledgement goes into tx before the callback runs, so that nothing the callback
     * queues can take its room; it reaches the transport only after the callback returns. */
    if (!ack_room(c))
        return STOP;
    if (p->qos == 1) {
        (void)tx_ack(c, MOTE_PUBACK, p->packet_id, 0);
        return deliver(c, p);
    }
    s = slot_find(c, SLOT_PUB_IN, p->packet_id);
    if (s) { /* a resend of one we have delivered: acknowledge again, deliver once */
        (void)tx_ack(c, MOTE_PUBREC, p->packet_id, 0);
        return MOTE_OK;
    }
    if (slot_count_kind(c, SLOT_PUB_IN) >= receive_max_sent(c))
        return fail_protocol(c, MOTE_PUBLISH, 0, MOTE_RC_RECEIVE_MAXIMUM_EXCEEDED);
    s = slot_alloc(c);
    if (!s) {
        /* Every slot holds one of our own messages. 5.0 can refuse this one openly; 3.1.1
         * cannot, so it is delivered without remembering its identifier (docs/client.md). */
        if (c->cfg.version == MOTE_V5) {
            (void)tx_ack(c, MOTE_PUBREC, p->packet_id, MOTE_RC_QUOTA_EXCEEDED);
            return MOTE_OK;
        }
    } else {
        memset(s, 0, sizeof *s);
        s->kind = SLOT_PUB_IN;
        s->packet_id = p->packet_id;
    }
    (void)tx_ack(c, MOTE_PUBREC, p->packet_id, 0);
    return deliver(c, p);
}

static int incoming_ack(struct mote_client *c, uint8_t type, const struct mote_ack *a)
{
    struct mote_inflight *s;
    uint8_t reason = a->reason;

    switch (type) {
    case MOTE_PUBACK:
        s = slot_find(c, SLOT_PUB_OUT, a->packet_id);
        if (!s || (s->state != OUT_SENT && s->state != OUT_RESEND))
            return MOTE_OK; /* not ours (any more): harmless, ignored */
        if (stored_qos(c, s) != 1)
            return fail_protocol(c, type, 0, MOTE_RC_PROTOCOL_ERROR);
        slot_free(c, s);
        emit_published(c, a->packet_id, reason);
        return MOTE_OK;
    case MOTE_PUBREC:
        s = slot_find(c, SLOT_PUB_OUT, a->packet_id);
        if (!s) {
            if (!ack_room(c))
                return STOP;
            (void)tx_ack(c, MOTE_PUBREL, a->packet_id, MOTE_RC_PACKET_ID_NOT_FOUND);
            return MOTE_OK;
        }
        if (s->state == OUT_REL || s->state == OUT_REL_SENT) {
            s->state = OUT_REL; /* PUBREL lost on the way: send it again */
            return MOTE_OK;
        }
        if (s->state != OUT_SENT && s->state != OUT_RESEND)
            return MOTE_OK;
        if (stored_qos(c, s) != 2)
            return fail_protocol(c, type, 0, MOTE_RC_PROTOCOL_ERROR);
        if (reason >= 0x80) { /* refused: the flow ends here */
            slot_free(c, s);
            emit_published(c, a->packet_id, reason);
            return MOTE_OK;
        }
        store_release(c, s); /* only the identifier matters from now on */
        s->state = OUT_REL;
        return MOTE_OK;
    case MOTE_PUBCOMP:
        s = slot_find(c, SLOT_PUB_OUT, a->packet_id);
        if (!s || (s->state != OUT_REL && s->state != OUT_REL_SENT))
            return MOTE_OK;
        slot_free(c, s);
        emit_published(c, a->packet_id, reason);
        return MOTE_OK;
    default: /* MOTE_PUBREL */
        if (!ack_room(c))
            return STOP;
        s = slot_find(c, SLOT_PUB_IN, a->packet_id);
        if (s)
            memset(s, 0, sizeof *s);
        (void)tx_ack(c, MOTE_PUBCOMP, a->packet_id, s ? 0 : MOTE_RC_PACKET_ID_NOT_FOUND);
        return MOTE_OK;
    }
}

static int incoming_suback(struct mote_client *c, uint8_t type, const struct mote_suback *a)
{
    struct mote_event e;
    struct mote_inflight *s =
        slot_find(c, type == MOTE_SUBACK ? SLOT_SUB : SLOT_UNSUB, a->packet_id);

    if (!s)
        return MOTE_OK;
    if ((type == MOTE_SUBACK || c->cfg.version == MOTE_V5) && a->count != s->length)
        return fail_protocol(c, type, 0, MOTE_RC_PROTOCOL_ERROR);
    memset(s, 0, sizeof *s);
    memset(&e, 0, sizeof e);
    e.type = type == MOTE_SUBACK ? MOTE_EV_SUBSCRIBED : MOTE_EV_UNSUBSCRIBED;
    e.packet_id = a->packet_id;
    e.codes = a->codes;
    e.count = a->count;
    emit(c, &e);
    return MOTE_OK;
}

/* Handles the whole packet at the start of rx. MOTE_OK, STOP, or the error that ended it. */
static int handle_packet(struct mote_client *c, size_t len)
{
    struct mote_packet p;
    uint8_t gen = c->gen;
    int rc = mote_codec_decode(c->mem.rx, len, c->cfg.version, &p);

    if (rc != MOTE_OK)
        return fail_protocol(c, (uint8_t)(c->mem.rx[0] >> 4), rc, MOTE_RC_MALFORMED_PACKET);
    c->last_rx_ms = c->now_ms;
    c->ping_outstanding = 0; /* any packet shows the broker is there */

    if (c->state == MOTE_STATE_CONNECTING) {
        if (p.type != MOTE_CONNACK)
            return fail_protocol(c, p.type, MOTE_ERR_PACKET_TYPE, MOTE_RC_PROTOCOL_ERROR);
        return connack(c, &p.u.connack);
    }
    switch (p.type) {
    case MOTE_PUBLISH:
        rc = incoming_publish(c, &p.u.publish);
        break;
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP:
        rc = incoming_ack(c, p.type, &p.u.ack);
        break;
    case MOTE_SUBACK:
    case MOTE_UNSUBACK:
        rc = incoming_suback(c, p.type, &p.u.suback);
        break;
    case MOTE_PINGRESP:
        rc = MOTE_OK;
        break;
    case MOTE_DISCONNECT:
        /* 3.1.1 gives the server no DISCONNECT; treat one as a plain close with reason 0. */
        err_set(c, MOTE_ERR_SERVER_DISCONNECT, MOTE_LAYER_MQTT);
        c->err.reason = p.u.reason.reason;
        c->err.packet = MOTE_DISCONNECT;
        return fail_now(c);
    default: /* CONNACK twice, and what only a client sends; AUTH without our asking for it */
        return fail_protocol(c, p.type, MOTE_ERR_PACKET_TYPE, MOTE_RC_PROTOCOL_ERROR);
    }
    if (rc == MOTE_OK && c->gen != gen)
        rc = STOP;
    return rc;
}

/* Reads what has arrived and handles each whole packet. MOTE_OK, STOP, or the ending error. */
static int read_and_handle(struct mote_client *c)
{
    for (int round = 0; round < READ_ROUNDS; round++) {
        struct mote_frame f;
        int rc;

        for (;;) {
            rc = mote_codec_frame(c->mem.rx, c->rx_have, max_packet_sent(c), &f);
            if (rc == MOTE_NEED_MORE)
                break;
            if (rc == MOTE_ERR_PACKET_TOO_LARGE) {
                err_size(c, rc, MOTE_LAYER_MQTT, what_rx, f.total, c->mem.rx_len);
                c->err.packet = f.type;
                return fail_now(c);
            }
            if (rc != MOTE_OK)
                return fail_protocol(c, f.type, rc, MOTE_RC_MALFORMED_PACKET);
            rc = handle_packet(c, f.total);
            if (rc != MOTE_OK)
                return rc;
            c->rx_have -= f.total;
            memmove(c->mem.rx, c->mem.rx + f.total, c->rx_have);
        }
        if (c->rx_have == c->mem.rx_len)
            return MOTE_OK; /* cannot happen: frame refuses what rx cannot hold */
        int32_t n = c->t->recv(c->t->ctx, c->mem.rx + c->rx_have, c->mem.rx_len - c->rx_have);
        if (n < 0)
            return fail_transport(c, n);
        if (n == 0)
            return MOTE_OK;
        c->rx_have +=
            (size_t)n > c->mem.rx_len - c->rx_have ? c->mem.rx_len - c->rx_have : (size_t)n;
    }
    return MOTE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------------------------------- */

/* see mote/client.h */
int mote_client_init(struct mote_client *c, const struct mote_client_config *cfg,
                     const struct mote_client_mem *mem, const struct mote_client_callbacks *cb)
{
    struct mote_packet p;
    struct connect_work w;
    size_t size;
    int rc;

    if (!c)
        return MOTE_ERR_BAD_ARG;
    memset(c, 0, sizeof *c);
    if (!cfg || !mem)
        return err_size(c, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG, what_config, 0, 0);
    if (cfg->version != MOTE_V311 && cfg->version != MOTE_V5)
        return err_size(c, MOTE_ERR_VERSION, MOTE_LAYER_CONFIG, what_config, 0, 0);
    if ((!mem->rx && mem->rx_len) || (!mem->tx && mem->tx_len) || (!mem->store && mem->store_len) ||
        (!mem->slots && mem->slot_count))
        return err_size(c, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG, what_config, 0, 0);
    if (cfg->connect_props.raw.len && cfg->connect_props.count)
        return err_size(c, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG,
                        "connect_props: give raw bytes or a list, not both", 0, 0);
    if (cfg->version != MOTE_V5 && cfg->client_id.len == 0 && !cfg->clean_start)
        return err_size(c, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG,
                        "client_id: MQTT 3.1.1 needs clean_start with an empty client id", 0, 0);

    c->cfg = *cfg;
    c->mem = *mem;
    if (cb)
        c->cb = *cb;
    if (!c->cfg.connack_timeout_ms)
        c->cfg.connack_timeout_ms = DEFAULT_CONNACK_TIMEOUT_MS;
    if (!c->cfg.backoff_min_ms)
        c->cfg.backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
    if (!c->cfg.backoff_max_ms)
        c->cfg.backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
    if (c->cfg.backoff_max_ms < c->cfg.backoff_min_ms)
        c->cfg.backoff_max_ms = c->cfg.backoff_min_ms;

    if (mem->rx_len < MOTE_CLIENT_RX_MIN)
        return err_size(c, MOTE_ERR_BUFFER_TOO_SMALL, MOTE_LAYER_CONFIG, what_rx,
                        MOTE_CLIENT_RX_MIN, mem->rx_len);
    if (mem->slot_count < MOTE_CLIENT_SLOTS_MIN)
        return err_size(c, MOTE_ERR_BUFFER_TOO_SMALL, MOTE_LAYER_CONFIG, what_slots,
                        MOTE_CLIENT_SLOTS_MIN, mem->slot_count);
    build_connect(c, &p, &w);
    rc = encoded_size(c, &p, &size);
    if (rc != MOTE_OK)
        return err_size(c, rc, MOTE_LAYER_CONFIG, what_connect, 0, 0);
    if (size > mem->tx_len)
        return err_size(c, MOTE_ERR_BUFFER_TOO_SMALL, MOTE_LAYER_CONFIG, what_tx, size,
                        mem->tx_len);
    memset(mem->slots, 0, mem->slot_count * sizeof mem->slots[0]);
    c->state = MOTE_STATE_IDLE;
    c->next_id = 1;
    return MOTE_OK;
}

/* see mote/client.h */
int mote_client_connect(struct mote_client *c, const struct mote_transport *t, uint32_t now_ms)
{
    struct mote_packet p;
    struct connect_work w;
    int rc;

    if (!c)
        return MOTE_ERR_BAD_ARG;
    if (!t || !t->send || !t->recv)
        return err_size(c, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG, "transport", 0, 0);
    if (c->state == MOTE_STATE_CONNECTING || c->state == MOTE_STATE_CONNECTED)
        return err_size(c, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG,
                        "mote_client_connect: already connected", 0, 0);
    if (!c->mem.tx) /* init failed or never ran */
        return err_size(c, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG, what_config, 0, 0);

    c->t = t;
    c->now_ms = now_ms;
    c->rx_have = c->tx_have = c->tx_sent = 0;
    c->io_err = 0;
    c->ping_outstanding = 0;
    c->session_present = 0;
    c->keep_alive_s = c->cfg.keep_alive_s;
    c->broker_receive_max = 65535;
    c->broker_max_packet = 0;
    c->broker_alias_max = 0;
    build_connect(c, &p, &w);
    rc = tx_packet(c, &p);
    if (rc != MOTE_OK) { /* an assigned client id that no longer fits: start afresh */
        c->assigned_len = 0;
        build_connect(c, &p, &w);
        rc = tx_packet(c, &p);
        if (rc != MOTE_OK)
            return err_size(c, rc, MOTE_LAYER_CONFIG, what_connect, 0, 0);
    }
    c->state = MOTE_STATE_CONNECTING;
    c->gen++;
    c->connect_ms = c->last_tx_ms = c->last_rx_ms = now_ms;
    return MOTE_OK;
}

static uint32_t until(uint32_t now, uint32_t start, uint32_t period)
{
    uint32_t gone = since(now, start);
    return gone >= period ? 0 : period - gone;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Sends PINGREQ when due, ends the connection when CONNACK or PINGRESP is late. */
static int timers(struct mote_client *c, uint32_t *wait)
{
    uint32_t now = c->now_ms;

    *wait = UINT32_MAX;
    if (c->state == MOTE_STATE_CONNECTING) {
        if (since(now, c->connect_ms) >= c->cfg.connack_timeout_ms) {
            err_set(c, MOTE_ERR_CONNACK_TIMEOUT, MOTE_LAYER_MQTT);
            c->err.need = c->cfg.connack_timeout_ms;
            return fail_now(c);
        }
        *wait = until(now, c->connect_ms, c->cfg.connack_timeout_ms);
        return MOTE_OK;
    }
    if (!c->keep_alive_s)
        return MOTE_OK;
    uint32_t ka = (uint32_t)c->keep_alive_s * 1000u;
    if (c->ping_outstanding) {
        if (since(now, c->ping_ms) >= ka) {
            err_set(c, MOTE_ERR_KEEPALIVE_TIMEOUT, MOTE_LAYER_MQTT);
            c->err.need = ka;
            c->err.packet = MOTE_PINGREQ;
            return fail_now(c);
        }
        *wait = until(now, c->ping_ms, ka);
        return MOTE_OK;
    }
    if (since(now, c->last_tx_ms) >= ka || since(now, c->last_rx_ms) >= ka) {
        struct mote_packet p;

        memset(&p, 0, sizeof p);
        p.type = MOTE_PINGREQ;
        if (tx_packet(c, &p) == MOTE_OK) {
            c->ping_outstanding = 1;
            c->ping_ms = now;
            *wait = ka;
            return MOTE_OK;
        }
        /* tx is full and the transport takes nothing: give it one more keep alive */
        if (since(now, c->last_tx_ms) >= 2 * ka) {
            err_set(c, MOTE_ERR_KEEPALIVE_TIMEOUT, MOTE_LAYER_MQTT);
            c->err.need = ka;
            c->err.packet = MOTE_PINGREQ;
            return fail_now(c);
        }
        *wait = 100;
        return MOTE_OK;
    }
    *wait = min_u32(until(now, c->last_tx_ms, ka), until(now, c->last_rx_ms, ka));
    return MOTE_OK;
}

/* see mote/client.h */
int mote_client_poll(struct mote_client *c, uint32_t now_ms, uint32_t *wait_ms)
{
    uint32_t wait = UINT32_MAX;
    uint8_t gen;
    int rc;

    if (wait_ms)
        *wait_ms = UINT32_MAX;
    if (!c)
        return MOTE_ERR_BAD_ARG;
    if (c->state != MOTE_STATE_CONNECTING && c->state != MOTE_STATE_CONNECTED)
        return MOTE_ERR_NOT_CONNECTED;
    c->now_ms = now_ms;
    gen = c->gen;

    rc = flush(c);
    if (rc < 0)
        return fail_transport(c, rc);
    rc = read_and_handle(c);
    if (rc < 0)
        return rc;
    if (c->gen != gen) /* a callback ended the connection, or ended it and connected again */
        return c->state == MOTE_STATE_CONNECTING ? MOTE_OK : MOTE_ERR_NOT_CONNECTED;
    pump(c);
    rc = flush(c);
    if (rc < 0)
        return fail_transport(c, rc);
    rc = timers(c, &wait);
    if (rc < 0)
        return rc;
    rc = flush(c);
    if (rc < 0)
        return fail_transport(c, rc);
    if (c->rx_have) { /* a whole packet waiting for room in tx: try again soon */
        struct mote_frame f;
        if (mote_codec_frame(c->mem.rx, c->rx_have, 0, &f) == MOTE_OK)
            wait = min_u32(wait, c->tx_sent < c->tx_have ? 10 : 0);
    }
    if (wait_ms)
        *wait_ms = wait;
    return MOTE_OK;
}

/* Checks a packet the caller wants sent against tx and the broker's Maximum Packet Size. */
static int check_out_size(struct mote_client *c, size_t size)
{
    if (size > c->mem.tx_len)
        return err_size(c, MOTE_ERR_BUFFER_TOO_SMALL, MOTE_LAYER_CONFIG, what_tx, size,
                        c->mem.tx_len);
    if (c->state == MOTE_STATE_CONNECTED && c->broker_max_packet && size > c->broker_max_packet)
        return err_size(c, MOTE_ERR_PACKET_TOO_LARGE, MOTE_LAYER_MQTT, what_broker_max, size,
                        c->broker_max_packet);
    return MOTE_OK;
}

/* Puts a packet the caller asked for into tx now (writing first if needed), or says why not. */
static int send_now(struct mote_client *c, const struct mote_packet *p, size_t size)
{
    if (tx_free(c) < size)
        (void)flush(c);
    if (tx_free(c) < size)
        return err_size(c, MOTE_ERR_QUEUE_FULL, MOTE_LAYER_MQTT, what_tx, size, tx_free(c));
    (void)tx_packet(c, p);
    (void)flush(c);
    return MOTE_OK;
}

/* see mote/client.h */
int mote_client_publish(struct mote_client *c, const struct mote_publish *msg, uint16_t *packet_id)
{
    struct mote_packet p;
    struct mote_inflight *s;
    struct mote_prop alias;
    size_t size, used;
    int rc;

    if (!c)
        return MOTE_ERR_BAD_ARG;
    if (!msg || !c->mem.tx)
        return err_size(c, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG, "mote_client_publish", 0, 0);
    memset(&p, 0, sizeof p);
    p.type = MOTE_PUBLISH;
    p.u.publish = *msg;
    p.u.publish.dup = 0;
    p.u.publish.packet_id = msg->qos ? 1 : 0; /* the real one is chosen below */
    rc = encoded_size(c, &p, &size);
    if (rc != MOTE_OK)
        return err_size(c, rc, MOTE_LAYER_CONFIG, "the message (topic, QoS or properties)", 0, 0);
    /* Aliases die with the connection, so only a QoS 0 message may use one the broker allows. */
    if (mote_props_find(&msg->props, MOTE_PROP_TOPIC_ALIAS, &alias) &&
        (msg->qos || c->state != MOTE_STATE_CONNECTED || alias.v.num > c->broker_alias_max))
        return err_size(c, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG,
                        "Topic Alias: QoS 0 only, within the broker's Topic Alias Maximum",
                        alias.v.num, c->broker_alias_max);
    rc = check_out_size(c, size);
    if (rc != MOTE_OK)
        return rc;

    if (msg->qos == 0) {
        if (c->state != MOTE_STATE_CONNECTED) {
            err_set(c, MOTE_ERR_NOT_CONNECTED, MOTE_LAYER_MQTT);
            return MOTE_ERR_NOT_CONNECTED;
        }
        if (packet_id)
            *packet_id = 0;
        return send_now(c, &p, size);
    }

    if (c->mem.store_len == 0 || size > c->mem.store_len) {
        /* A store that can never hold it: 0 bytes is a choice (QUEUE_FULL), a short one a bug. */
        rc = c->mem.store_len == 0 ? MOTE_ERR_QUEUE_FULL : MOTE_ERR_BUFFER_TOO_SMALL;
        return err_size(c, rc, MOTE_LAYER_CONFIG, what_store, size, c->mem.store_len);
    }
    if (size > c->mem.store_len - c->store_used)
        return err_size(c, MOTE_ERR_QUEUE_FULL, MOTE_LAYER_MQTT, what_store, size,
                        c->mem.store_len - c->store_used);
    s = slot_alloc(c);
    if (!s)
        return err_size(c, MOTE_ERR_QUEUE_FULL, MOTE_LAYER_MQTT, what_slots, 1, 0);
    p.u.publish.packet_id = id_next(c);
    rc = mote_codec_encode(&p, c->cfg.version, c->mem.store + c->store_used, size, &used);
    if (rc != MOTE_OK)
        return err_size(c, rc, MOTE_LAYER_CONFIG, "the message (topic, QoS or properties)", 0, 0);
    memset(s, 0, sizeof *s);
    s->kind = SLOT_PUB_OUT;
    s->state = OUT_NEW;
    s->packet_id = p.u.publish.packet_id;
    s->offset = (uint32_t)c->store_used;
    s->length = (uint32_t)used;
    s->seq = c->seq++;
    c->store_used += used;
    if (packet_id)
        *packet_id = s->packet_id;
    pump(c);
    if (c->state == MOTE_STATE_CONNECTED)
        (void)flush(c);
    return MOTE_OK;
}

/* SUBSCRIBE and UNSUBSCRIBE: a slot for the identifier, the packet straight into tx. */
static int send_with_id(struct mote_client *c, struct mote_packet *p, uint16_t *id_out,
                        uint8_t kind, size_t count)
{
    struct mote_inflight *s;
    size_t size;
    int rc;

    if (c->state != MOTE_STATE_CONNECTED) {
        err_set(c, MOTE_ERR_NOT_CONNECTED, MOTE_LAYER_MQTT);
        return MOTE_ERR_NOT_CONNECTED;
    }
    s = slot_alloc(c);
    if (!s)
        return err_size(c, MOTE_ERR_QUEUE_FULL, MOTE_LAYER_MQTT, what_slots, 1, 0);
    rc = encoded_size(c, p, &size);
    if (rc != MOTE_OK)
        return err_size(c, rc, MOTE_LAYER_CONFIG, "the topic filters or properties", 0, 0);
    rc = check_out_size(c, size);
    if (rc != MOTE_OK)
        return rc;
    uint16_t id = id_next(c);
    if (kind == SLOT_SUB)
        p->u.subscribe.packet_id = id;
    else
        p->u.unsubscribe.packet_id = id;
    rc = send_now(c, p, size);
    if (rc != MOTE_OK)
        return rc;
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->packet_id = id;
    s->length = (uint32_t)count;
    if (id_out)
        *id_out = id;
    return MOTE_OK;
}

/* see mote/client.h */
int mote_client_subscribe(struct mote_client *c, const struct mote_subscription *subs, size_t count,
                          uint32_t sub_id, uint16_t *packet_id)
{
    struct mote_packet p;
    struct mote_prop id_prop;

    if (!c)
        return MOTE_ERR_BAD_ARG;
    if (!subs || !count)
        return err_size(c, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG, "mote_client_subscribe", 0, 0);
    memset(&p, 0, sizeof p);
    p.type = MOTE_SUBSCRIBE;
    p.u.subscribe.packet_id = 1;
    p.u.subscribe.list = subs;
    p.u.subscribe.count = count;
    if (sub_id) {
        memset(&id_prop, 0, sizeof id_prop);
        id_prop.id = MOTE_PROP_SUBSCRIPTION_ID;
        id_prop.v.num = sub_id;
        p.u.subscribe.props.list = &id_prop;
        p.u.subscribe.props.count = 1;
    }
    return send_with_id(c, &p, packet_id, SLOT_SUB, count);
}

/* see mote/client.h */
int mote_client_unsubscribe(struct mote_client *c, const struct mote_slice *filters, size_t count,
                            uint16_t *packet_id)
{
    struct mote_packet p;

    if (!c)
        return MOTE_ERR_BAD_ARG;
    if (!filters || !count)
        return err_size(c, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG, "mote_client_unsubscribe", 0, 0);
    memset(&p, 0, sizeof p);
    p.type = MOTE_UNSUBSCRIBE;
    p.u.unsubscribe.packet_id = 1;
    p.u.unsubscribe.list = filters;
    p.u.unsubscribe.count = count;
    return send_with_id(c, &p, packet_id, SLOT_UNSUB, count);
}

/* see mote/client.h */
int mote_client_disconnect(struct mote_client *c, uint32_t now_ms)
{
    struct mote_event e;

    if (!c)
        return MOTE_ERR_BAD_ARG;
    if (c->state != MOTE_STATE_CONNECTING && c->state != MOTE_STATE_CONNECTED)
        return MOTE_ERR_NOT_CONNECTED;
    c->now_ms = now_ms;
    if (c->state == MOTE_STATE_CONNECTED) {
        struct mote_packet p;

        memset(&p, 0, sizeof p);
        p.type = MOTE_DISCONNECT;
        if (tx_packet(c, &p) != MOTE_OK) {
            (void)flush(c);
            (void)tx_packet(c, &p);
        }
        (void)flush(c); /* best effort: the transport takes what it can now */
    }
    err_set(c, MOTE_OK, MOTE_LAYER_NONE);
    drop_connection(c);
    memset(&e, 0, sizeof e);
    e.type = MOTE_EV_DISCONNECTED;
    e.err = &c->err;
    emit(c, &e);
    return MOTE_OK;
}

/* see mote/client.h */
uint32_t mote_client_backoff_ms(struct mote_client *c, uint32_t random)
{
    uint32_t lo, hi, ceiling, delay;

    if (!c)
        return 0;
    lo = c->cfg.backoff_min_ms ? c->cfg.backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
    hi = c->cfg.backoff_max_ms > lo ? c->cfg.backoff_max_ms : lo;
    ceiling = c->backoff_ms ? c->backoff_ms : lo;
    if (ceiling > hi)
        ceiling = hi;
    /* Full jitter above the floor: anywhere in [lo, ceiling]; the ceiling doubles each time. */
    delay = lo + (ceiling > lo ? random % (ceiling - lo + 1u) : 0);
    c->backoff_ms = ceiling > hi / 2 ? hi : ceiling * 2;
    return delay;
}

/* see mote/client.h */
const struct mote_error *mote_client_error(const struct mote_client *c)
{
    static const struct mote_error bad_arg = {MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG, 0, 0, 0, 0, 0,
                                              "client (NULL)"};
    return c ? &c->err : &bad_arg;
}

/* see mote/client.h */
int mote_client_state(const struct mote_client *c)
{
    return c ? c->state : MOTE_STATE_IDLE;
}

/* see mote/client.h */
int mote_client_wants_write(const struct mote_client *c)
{
    return c && c->tx_sent < c->tx_have;
}

/* ---------------------------------------------------------------------------------------------
 * Explaining errors
 * ------------------------------------------------------------------------------------------- */

/* see mote/client.h */
const char *mote_layer_name(uint8_t layer)
{
    switch (layer) {
    case MOTE_LAYER_CONFIG:
        return "config";
    case MOTE_LAYER_DNS:
        return "dns";
    case MOTE_LAYER_TCP:
        return "tcp";
    case MOTE_LAYER_TLS:
        return "tls";
    case MOTE_LAYER_MQTT:
        return "mqtt";
    default:
        return "none";
    }
}

/* A string being written into the caller's buffer, cut to its length. */
struct line {
    char *buf;
    size_t len, pos;
};

static void put(struct line *l, const char *s)
{
    while (*s && l->pos + 1 < l->len)
        l->buf[l->pos++] = *s++;
    l->buf[l->pos] = 0;
}

static void put_u(struct line *l, uint32_t v)
{
    char d[11];
    size_t n = sizeof d - 1;

    d[n] = 0;
    do {
        d[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(l, d + n);
}

static void put_i(struct line *l, int32_t v)
{
    if (v < 0) {
        put(l, "-");
        put_u(l, (uint32_t)0 - (uint32_t)v);
    } else {
        put_u(l, (uint32_t)v);
    }
}

static void put_hex(struct line *l, uint8_t v)
{
    static const char hex[] = "0123456789abcdef";
    char d[5] = {'0', 'x', hex[v >> 4], hex[v & 15], 0};
    put(l, d);
}

/* "Not authorized (0x87)", or "Connection Refused, not authorized (5)" for 3.1.1. */
static void put_reason(struct line *l, uint8_t packet, uint8_t reason)
{
    /* 3.1.1 return codes are 1-5 and 5.0 refusals 0x80 and up: the code says the version. */
    uint8_t version = packet == MOTE_CONNACK && reason < 0x80 ? MOTE_V311 : MOTE_V5;

    put(l, mote_reason_name(version, packet, reason));
    put(l, " (");
    if (version == MOTE_V5)
        put_hex(l, reason);
    else
        put_u(l, reason);
    put(l, ")");
}

/* What to do about a CONNACK refusal or a server DISCONNECT. */
static const char *reason_advice(uint8_t packet, uint8_t r)
{
    if (packet == MOTE_CONNACK && r < 0x80) /* 3.1.1: map to the 5.0 code of the same meaning */
        r = r == 1 ? 0x84 : r == 2 ? 0x85 : r == 3 ? 0x88 : r == 4 ? 0x86 : 0x87;
    switch (r) {
    case MOTE_RC_UNSUPPORTED_VERSION:
        return "the broker does not speak this MQTT version: set version to MOTE_V311";
    case MOTE_RC_CLIENT_ID_NOT_VALID:
        return "use a client id of 1 to 23 letters and digits, or one the broker accepts";
    case MOTE_RC_BAD_USERNAME_OR_PASSWORD:
        return "check the user name and password";
    case MOTE_RC_NOT_AUTHORIZED:
        return "check the user name, password or client certificate, and the broker's ACL";
    case MOTE_RC_SERVER_UNAVAILABLE:
    case MOTE_RC_SERVER_BUSY:
    case MOTE_RC_SERVER_SHUTTING_DOWN:
        return "the broker cannot serve now: reconnect after mote_client_backoff_ms()";
    case MOTE_RC_BANNED:
        return "the broker's administrator banned this client";
    case MOTE_RC_SESSION_TAKEN_OVER:
        return "another connection uses the same client id: give each device its own";
    case MOTE_RC_KEEP_ALIVE_TIMEOUT:
        return "the broker heard nothing within 1.5 keep alive: poll more often";
    case MOTE_RC_PACKET_TOO_LARGE:
        return "a packet was larger than the broker accepts: send smaller messages";
    case MOTE_RC_QUOTA_EXCEEDED:
    case MOTE_RC_MESSAGE_RATE_TOO_HIGH:
    case MOTE_RC_CONNECTION_RATE_EXCEEDED:
        return "slow down: publish or reconnect less often";
    case MOTE_RC_USE_ANOTHER_SERVER:
    case MOTE_RC_SERVER_MOVED:
        return "connect to the server the broker names in its Server Reference";
    case MOTE_RC_QOS_NOT_SUPPORTED:
    case MOTE_RC_RETAIN_NOT_SUPPORTED:
        return "publish with the QoS and retain the broker allows";
    case MOTE_RC_SUCCESS:
        return "reconnect after mote_client_backoff_ms()";
    default:
        return "see the broker's log for the reason, then reconnect";
    }
}

static const char *transport_advice(int code)
{
    switch (code) {
    case MOTE_ERR_DNS:
        return "check the host name and the device's DNS server";
    case MOTE_ERR_TCP_REFUSED:
        return "check the port and that the broker runs and listens on that address";
    case MOTE_ERR_TCP_TIMEOUT:
        return "check the address, the network and any firewall between device and broker";
    case MOTE_ERR_TCP_UNREACHABLE:
        return "check the device's network connection and the broker's address";
    case MOTE_ERR_CLOSED:
        return "the broker's log says why (limits, authentication, a protocol error); "
               "reconnect after mote_client_backoff_ms()";
    default:
        return "reconnect after mote_client_backoff_ms()";
    }
}

static void put_bytes_missing(struct line *l, const struct mote_error *e, const char *unit)
{
    put(l, ": ");
    put(l, e->what);
    put(l, " needs ");
    put_u(l, e->need);
    put(l, unit);
    put(l, ", has ");
    put_u(l, e->have);
}

/* see mote/client.h */
char *mote_error_explain(const struct mote_error *e, char *buf, size_t len)
{
    struct line l = {buf, len, 0};

    if (!buf || !len)
        return buf;
    buf[0] = 0;
    if (!e) {
        put(&l, "no error given");
        return buf;
    }
    put(&l, mote_layer_name(e->layer));
    put(&l, ": ");
    put(&l, mote_strerror(e->code));

    switch (e->code) {
    case MOTE_OK:
        if (e->layer == MOTE_LAYER_NONE)
            put(&l, ": the connection was closed on request");
        return buf;
    case MOTE_ERR_CONNECT_REFUSED:
    case MOTE_ERR_SERVER_DISCONNECT:
        put(&l, ": ");
        put_reason(&l, e->packet ? e->packet : MOTE_CONNACK, e->reason);
        put(&l, ": ");
        put(&l, reason_advice(e->packet, e->reason));
        return buf;
    case MOTE_ERR_PROTOCOL:
        put(&l, ": ");
        put(&l, mote_packet_name(e->packet));
        put(&l, ": ");
        if (e->raw) {
            put(&l, mote_strerror(e->raw));
            put(&l, " (");
            put(&l, mote_err_name(e->raw));
            put(&l, ")");
        } else {
            put_reason(&l, MOTE_DISCONNECT, e->reason);
        }
        put(&l, ": the broker's log or a packet capture shows more; report it to its maintainers");
        return buf;
    case MOTE_ERR_CONNACK_TIMEOUT:
        put(&l, " (");
        put_u(&l, e->need);
        put(&l, " ms): check that the port speaks plain MQTT (not TLS, not WebSocket) and that "
                "the broker is not overloaded");
        return buf;
    case MOTE_ERR_KEEPALIVE_TIMEOUT:
        put(&l, ": no packet within ");
        put_u(&l, e->need);
        put(&l, " ms after PINGREQ: the connection is dead or half-open; reconnect after "
                "mote_client_backoff_ms()");
        return buf;
    case MOTE_ERR_PACKET_TOO_LARGE:
        if (e->what == what_rx) {
            put(&l, ": a ");
            put(&l, mote_packet_name(e->packet));
            put(&l, " of ");
            put_u(&l, e->need);
            put(&l, " bytes does not fit the ");
            put(&l, e->what);
            put(&l, " of ");
            put_u(&l, e->have);
            put(&l, " bytes: raise rx to at least ");
            put_u(&l, e->need);
            put(&l, " bytes (5.0 brokers are told rx's size and skip larger messages)");
        } else if (e->what) {
            put(&l, ": the packet has ");
            put_u(&l, e->need);
            put(&l, " bytes, ");
            put(&l, e->what);
            put(&l, " is ");
            put_u(&l, e->have);
            put(&l, ": send a smaller message");
        }
        return buf;
    case MOTE_ERR_BUFFER_TOO_SMALL:
    case MOTE_ERR_QUEUE_FULL:
        if (!e->what)
            break;
        if (e->what == what_slots) {
            put_bytes_missing(&l, e, e->need == 1 ? " free slot" : " slots");
            put(&l, e->code == MOTE_ERR_QUEUE_FULL
                        ? ": poll until acknowledgements free one, or give more slots"
                        : ": give mem.slots at least that many");
            return buf;
        }
        if (e->code == MOTE_ERR_QUEUE_FULL && e->what == what_store &&
            e->layer == MOTE_LAYER_CONFIG) {
            put_bytes_missing(&l, e, " bytes");
            put(&l, ": the store is 0 bytes, so only QoS 0 can be published; give mem.store room "
                    "for the QoS 1/2 messages kept until acknowledged");
            return buf;
        }
        if (e->code == MOTE_ERR_QUEUE_FULL) {
            put_bytes_missing(&l, e, " bytes");
            put(&l, e->what == what_tx
                        ? " free: nothing was sent; poll until the transport takes the bytes "
                          "waiting, then try again"
                        : " free: poll until acknowledgements free room, or give it more bytes");
            return buf;
        }
        put(&l, ": ");
        put(&l, e->what);
        put(&l, ": ");
        put_u(&l, e->need - (e->have < e->need ? e->have : e->need));
        put(&l, " bytes missing (needs ");
        put_u(&l, e->need);
        put(&l, ", has ");
        put_u(&l, e->have);
        put(&l, "): give it at least ");
        put_u(&l, e->need);
        put(&l, " bytes");
        return buf;
    case MOTE_ERR_NOT_CONNECTED:
        put(&l, ": call mote_client_connect() and wait for MOTE_EV_CONNECTED");
        return buf;
    default:
        break;
    }
    if (e->what) {
        put(&l, ": ");
        put(&l, e->what);
    }
    if (e->layer == MOTE_LAYER_DNS || e->layer == MOTE_LAYER_TCP || e->layer == MOTE_LAYER_TLS) {
        if (e->raw) {
            put(&l, e->layer == MOTE_LAYER_DNS ? " (resolver code " : " (code ");
            put_i(&l, e->raw);
            put(&l, ")");
        }
        put(&l, ": ");
        put(&l, transport_advice(e->code));
    }
    return buf;
}
