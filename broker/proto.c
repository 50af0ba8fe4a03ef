/*
 * proto.c - what moted does with each packet a client sends, and how messages reach sessions.
 * The codec has already checked every rule one packet can break; this file keeps the rules that
 * need state: sessions, packet identifiers in flight, topic aliases, limits, and wills.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "broker.h"

/* The reason a 5.0 client gets for a packet the codec refused. */
static uint8_t reason_for(int rc)
{
    switch (rc) {
    case MOTE_ERR_PROPERTY_DUPLICATE:
    case MOTE_ERR_PROPERTY_NOT_ALLOWED:
    case MOTE_ERR_PROPERTY_VALUE:
    case MOTE_ERR_SHARED_NO_LOCAL:
    case MOTE_ERR_PACKET_ID_ZERO:
    case MOTE_ERR_TOPIC_EMPTY:
    case MOTE_ERR_PACKET_TYPE:
        return MOTE_RC_PROTOCOL_ERROR;
    case MOTE_ERR_TOPIC_WILDCARD:
        return MOTE_RC_TOPIC_NAME_INVALID;
    case MOTE_ERR_TOPIC_ALIAS_ZERO:
        return MOTE_RC_TOPIC_ALIAS_INVALID;
    case MOTE_ERR_PACKET_TOO_LARGE:
        return MOTE_RC_PACKET_TOO_LARGE;
    default:
        return MOTE_RC_MALFORMED_PACKET;
    }
}

static int protocol_error(struct moted_conn *c, uint8_t reason, const char *what)
{
    char why[200];
    snprintf(why, sizeof why, "protocol violation: %s", what);
    moted__conn_disconnect(c, reason, why);
    return -1;
}

static const struct moted_config *cfg_of(const struct moted_conn *c)
{
    return moted__cfg(c->w->b);
}

/* Levels a topic or filter may have: max_topic_levels, and never more than moted routes. */
static size_t max_levels(const struct moted_config *cfg)
{
    return cfg->max_topic_levels > 0 && cfg->max_topic_levels < MOTED_TOPIC_LEVELS_MAX
               ? (size_t)cfg->max_topic_levels
               : MOTED_TOPIC_LEVELS_MAX;
}

/* The receive maximum we grant clients: QoS 2 messages they may have in flight towards us. */
static uint16_t receive_max_in(const struct moted_config *cfg)
{
    return cfg->max_inflight_messages > 0 ? (uint16_t)cfg->max_inflight_messages : 65535;
}

/* ---------------------------------------------------------------------------------------------
 * Sending PUBLISH
 * ------------------------------------------------------------------------------------------- */

/* Encodes and queues one PUBLISH of m. Returns 0 sent, 1 too large for the client, -1 failed. */
static int send_publish(struct moted_session *s, struct moted_msg *m, uint8_t qos, uint8_t retain,
                        uint8_t dup, uint16_t packet_id, const uint32_t *sub_ids, uint8_t nsub)
{
    struct moted_conn *c = s->conn;
    struct mote_prop extra[1 + MOTED_MAX_SUB_IDS];
    struct mote_packet p = {.type = MOTE_PUBLISH};
    size_t n = 0, size;
    int expired;
    uint32_t left = moted__msg_expiry_left(m, c->w->loop.now_ms, &expired);

    p.u.publish.qos = qos;
    p.u.publish.retain = retain;
    p.u.publish.dup = dup;
    p.u.publish.packet_id = packet_id;
    p.u.publish.topic = (struct mote_slice){moted__msg_topic(m), m->topic_len};
    p.u.publish.payload = (struct mote_slice){moted__msg_payload(m), m->payload_len};
    if (c->version == MOTE_V5) {
        p.u.publish.props.raw = (struct mote_slice){moted__msg_props(m), m->props_len};
        if (m->expire_at_ms) {
            extra[n].id = MOTE_PROP_MESSAGE_EXPIRY;
            extra[n++].v.num = left ? left : 1;
        }
        for (uint8_t i = 0; i < nsub; i++) {
            extra[n].id = MOTE_PROP_SUBSCRIPTION_ID;
            extra[n++].v.num = sub_ids[i];
        }
        p.u.publish.props.list = extra;
        p.u.publish.props.count = n;
    }
    if (mote_codec_size(&p, c->version, &size) != MOTE_OK)
        return -1;
    if (c->max_packet_out && size > c->max_packet_out)
        return 1; /* the client cannot take it: discard as if delivered (MQTT-3.1.2-25) */
    return moted__conn_send(c, &p);
}

/* Puts a delivery at the end of the session's queue, within the configured bounds; `row`: its
 * store row when one was written already. */
static void enqueue(struct moted_session *s, struct moted_msg *m, uint8_t qos, uint8_t retain,
                    const uint32_t *sub_ids, uint8_t nsub, uint64_t row)
{
    const struct moted_config *cfg = moted__cfg(s->owner->b);
    struct moted_queued *q;
    size_t bytes = m->topic_len + m->payload_len;

    if ((cfg->max_queued_messages && s->queue_count >= (size_t)cfg->max_queued_messages) ||
        (cfg->max_queued_bytes && s->queue_bytes + bytes > (size_t)cfg->max_queued_bytes)) {
        atomic_fetch_add(&s->owner->b->dropped, 1);
        /* Never silent: the first drop and every 1000th after it are a notice. */
        if (s->queue_dropped++ % 1000 == 0)
            moted__log(MOTED_LOG_NOTICE,
                       "queue of %s is full (%zu messages, max_queued_messages %ld, "
                       "max_queued_bytes %ld): QoS %u message on %.*s dropped (%u so far)",
                       s->client_id, s->queue_count, cfg->max_queued_messages,
                       cfg->max_queued_bytes, qos, (int)m->topic_len, moted__msg_topic(m),
                       s->queue_dropped);
        moted__store_row_del(s->owner, row);
        return;
    }
    q = moted__session_queue_add(s, m, qos, retain, sub_ids, nsub, row);
    if (!q) {
        atomic_fetch_add(&s->owner->b->dropped, 1);
        moted__store_row_del(s->owner, row);
        return;
    }
    if (!row)
        q->row = moted__store_queue_put(s, m, qos, retain, sub_ids, nsub, 0, 0);
}

/*
 * Sends a QoS 1/2 message now in a new in-flight slot; `row` is its queue row in the store when
 * it comes from the queue. Returns 0, or -1 when the window is full.
 */
static int send_in_flight(struct moted_session *s, struct moted_msg *m, uint8_t qos,
                          uint8_t retain, const uint32_t *sub_ids, uint8_t nsub, uint64_t row)
{
    struct moted_out *o = moted__session_out_add(s);
    int rc;
    if (!o)
        return -1;
    moted__msg_ref(m);
    o->msg = m;
    o->qos = qos;
    o->retain = retain;
    o->state = qos == 1 ? OUT_WAIT_PUBACK : OUT_WAIT_PUBREC;
    /* The store knows its packet id before the PUBLISH leaves (exactly once after a crash). */
    if (row)
        moted__store_queue_set(s, row, o->packet_id, o->state);
    else
        row = moted__store_queue_put(s, m, qos, retain, sub_ids, nsub, o->packet_id, o->state);
    o->row = row;
    o->sub_id_count = nsub;
    memcpy(o->sub_ids, sub_ids, nsub * sizeof *sub_ids);
    rc = send_publish(s, m, qos, retain, 0, o->packet_id, sub_ids, nsub);
    if (rc == 1)
        moted__session_out_del(s, o); /* too large for this client: done with it */
    return 0;
}

void moted__proto_deliver(struct moted_session *s, struct moted_msg *m, uint8_t qos,
                          uint8_t retain, const uint32_t *sub_ids, uint8_t nsub)
{
    moted__proto_deliver_row(s, m, qos, retain, sub_ids, nsub, 0);
}

void moted__proto_deliver_row(struct moted_session *s, struct moted_msg *m, uint8_t qos,
                              uint8_t retain, const uint32_t *sub_ids, uint8_t nsub, uint64_t row)
{
    const struct moted_config *cfg = moted__cfg(s->owner->b);
    struct moted_conn *c = s->conn;
    int expired;

    moted__msg_expiry_left(m, s->owner->loop.now_ms, &expired);
    /* acl_file: the receiver must be allowed to read the topic (retained messages too). */
    int denied = cfg->acl && !moted__acl_check(cfg->acl, s->username, s->client_id,
                                               moted__msg_topic(m), m->topic_len, MOTED_ACL_READ);
    if (expired || denied || qos == 0) {
        moted__store_row_del(s->owner, row); /* a row written for it is not used */
        row = 0;
        if (expired || denied)
            return;
    }
    if (c && c->state != CONN_ACTIVE)
        c = NULL;
    if (qos == 0) {
        if (c) {
            if (moted__conn_pending(c) > 16u * 1024u * 1024u) { /* slow reader: drop QoS 0 */
                atomic_fetch_add(&s->owner->b->dropped, 1);
                return;
            }
            send_publish(s, m, 0, retain, 0, 0, sub_ids, nsub);
        } else if (cfg->queue_qos0_messages && s->expiry_interval) {
            enqueue(s, m, 0, retain, sub_ids, nsub, 0);
        }
        return;
    }
    /* QoS 1/2: keep order, so go behind anything already queued. */
    if (c && !s->queue_head && send_in_flight(s, m, qos, retain, sub_ids, nsub, row) == 0)
        return;
    if (!c && !s->expiry_interval) {
        moted__store_row_del(s->owner, row);
        return; /* a session that ends with its connection queues nothing */
    }
    enqueue(s, m, qos, retain, sub_ids, nsub, row);
}

static void resend_marked(struct moted_session *s);

void moted__proto_drain(struct moted_session *s)
{
    struct moted_conn *c = s->conn;
    if (!c || c->state != CONN_ACTIVE)
        return;
    if (s->resend_pending) {
        resend_marked(s);
        if (s->resend_pending)
            return; /* older messages first: the queue waits */
    }
    while (s->queue_head) {
        struct moted_queued *q = s->queue_head;
        int expired;
        moted__msg_expiry_left(q->msg, s->owner->loop.now_ms, &expired);
        if (!expired) {
            if (q->qos == 0)
                send_publish(s, q->msg, 0, q->retain, 0, 0, q->sub_ids, q->sub_id_count);
            else if (send_in_flight(s, q->msg, q->qos, q->retain, q->sub_ids, q->sub_id_count,
                                    q->row))
                return; /* window full: the next acknowledgement drains more */
        } else {
            moted__store_queue_del(s, q->row);
        }
        s->queue_head = q->next;
        if (!s->queue_head)
            s->queue_tail = NULL;
        s->queue_count--;
        s->queue_bytes -= q->msg->topic_len + q->msg->payload_len;
        moted__msg_unref(q->msg);
        moted__free(q);
    }
}

/* After a reconnect: resend what was in flight, oldest first, with DUP (MQTT-4.4.0-1). */
/*
 * After a reconnect: resend what was in flight, oldest first, with DUP (MQTT-4.4.0-1), but no
 * more than the client's new Receive Maximum allows (MQTT-3.3.4-9): the rest is marked and goes
 * out as acknowledgements free the window (resend_marked). A PUBREL always goes: the client
 * already counts that message.
 */
static void resend_marked(struct moted_session *s)
{
    uint32_t outstanding = (uint32_t)s->out_count - s->resend_pending;
    for (uint32_t i = 0; i < s->out_len && s->resend_pending && outstanding < s->window; i++) {
        struct moted_out *o = moted__session_out_at(s, i);
        if (o->state == OUT_FREE || !o->resend)
            continue;
        o->resend = 0;
        s->resend_pending--;
        outstanding++;
        send_publish(s, o->msg, o->qos, o->retain, 1, o->packet_id, o->sub_ids, o->sub_id_count);
    }
}

static void resend_in_flight(struct moted_session *s)
{
    s->resend_pending = 0;
    for (uint32_t i = 0; i < s->out_len; i++) {
        struct moted_out *o = moted__session_out_at(s, i);
        o->resend = 0;
        if (o->state == OUT_WAIT_PUBCOMP) {
            struct mote_packet p = {.type = MOTE_PUBREL};
            p.u.ack.packet_id = o->packet_id;
            moted__conn_send(s->conn, &p);
        } else if (o->state == OUT_WAIT_PUBACK || o->state == OUT_WAIT_PUBREC) {
            o->resend = 1;
            s->resend_pending++;
        }
    }
    resend_marked(s);
}

/* ---------------------------------------------------------------------------------------------
 * Sessions ending, wills
 * ------------------------------------------------------------------------------------------- */

static void publish_will(struct moted_session *s)
{
    const struct moted_acl *acl = moted__cfg(s->owner->b)->acl;
    struct moted_msg *will = s->will;
    if (!will)
        return;
    s->will = NULL;
    moted__timer_cancel(&s->owner->loop, &s->will_timer);
    if (acl && !moted__acl_check(acl, s->username, s->client_id, moted__msg_topic(will),
                                 will->topic_len, MOTED_ACL_WRITE))
        moted__log(MOTED_LOG_NOTICE, "will of %s on %.*s not published: acl_file denies write",
                   s->client_id, (int)will->topic_len, moted__msg_topic(will));
    else
        moted__router_publish(s->owner, will);
    moted__msg_unref(will);
}

static void session_end(struct moted_session *s)
{
    struct moted_worker *w = s->owner;
    publish_will(s); /* the will goes at the latest when the session ends (MQTT-3.1.3-9) */
    moted__store_session_del(s);
    moted__timer_cancel(&w->loop, &s->expiry_timer);
    moted__sessions_remove(w, s);
    moted__session_free(s);
}

void moted__proto_on_timer(struct moted_loop *loop, struct moted_timer *t)
{
    (void)loop;
    if (t->kind == MOTED_TIMER_WILL) {
        publish_will(moted__container_of(t, struct moted_session, will_timer));
        return;
    }
    struct moted_session *s = moted__container_of(t, struct moted_session, expiry_timer);
    if (!s->conn) {
        moted__log(MOTED_LOG_INFO, "session of %s expired", s->client_id);
        session_end(s);
    }
}

void moted__proto_conn_gone(struct moted_conn *c)
{
    struct moted_session *s = c->session;
    struct moted_loop *loop;
    if (!s || s->conn != c)
        return;
    loop = &s->owner->loop;
    s->conn = NULL;
    c->session = NULL;
    if (c->will_suppressed) {
        moted__msg_unref(s->will);
        s->will = NULL;
    }
    if (s->expiry_interval == 0) {
        session_end(s);
        return;
    }
    moted__store_session(s, 0); /* offline from now: its expiry counts across restarts */
    if (s->will) {
        if (s->will_delay == 0)
            publish_will(s);
        else
            moted__timer_set(loop, &s->will_timer, loop->now_ms + (uint64_t)s->will_delay * 1000u);
    }
    if (s->expiry_interval != 0xFFFFFFFFu)
        moted__timer_set(loop, &s->expiry_timer,
                         loop->now_ms + (uint64_t)s->expiry_interval * 1000u);
}

/* ---------------------------------------------------------------------------------------------
 * CONNECT
 * ------------------------------------------------------------------------------------------- */

static int send_connack(struct moted_conn *c, uint8_t version, uint8_t reason, int session_present,
                        const struct mote_prop *props, size_t nprops)
{
    struct mote_packet p = {.type = MOTE_CONNACK};
    uint8_t saved = c->version;
    int rc;
    p.u.connack.session_present = (uint8_t)session_present;
    p.u.connack.reason = reason;
    if (version == MOTE_V5) {
        p.u.connack.props.list = props;
        p.u.connack.props.count = nprops;
    }
    c->version = version;
    rc = moted__conn_send(c, &p);
    if (rc)
        c->version = saved;
    return rc;
}

/* Refuses a CONNECT: the version's code, then the connection is closed. */
static int refuse(struct moted_conn *c, uint8_t version, uint8_t v5_reason, uint8_t v3_code,
                  const char *why)
{
    char line[200];
    if (version == MOTE_V5)
        send_connack(c, MOTE_V5, v5_reason, 0, NULL, 0);
    else
        send_connack(c, version ? version : MOTE_V311, v3_code, 0, NULL, 0);
    moted__conn_flush(c);
    snprintf(line, sizeof line, "CONNECT refused: %s", why);
    moted__conn_close(c, line);
    return -1;
}

/* A client id that hashes to this worker, so the session needs no hand-over. */
static int assign_client_id(struct moted_conn *c, char *out, size_t len)
{
    struct moted_worker *w = c->w;
    for (int tries = 0; tries < 1000; tries++) {
        int n = snprintf(out, len, "%s%d-%llu", cfg_of(c)->auto_id_prefix, w->index,
                         (unsigned long long)++w->next_auto_id);
        if (n < 0 || (size_t)n >= len)
            return -1;
        if (moted__home_worker(w->b, (const uint8_t *)out, (size_t)n) == w->index &&
            !moted__sessions_find(w, (const uint8_t *)out, (size_t)n))
            return n;
    }
    return -1;
}

static int handle_connect(struct moted_conn *c, const uint8_t *pkt, size_t len)
{
    const struct moted_config *cfg = cfg_of(c);
    struct moted_worker *w = c->w;
    struct mote_packet p;
    struct mote_connect *cn = &p.u.connect;
    struct mote_prop prop, ack[8];
    size_t nack = 0;
    char assigned[96];
    struct mote_slice id;
    uint32_t expiry = 0;
    uint16_t client_receive_max = 65535;
    int rc, session_present = 0, home;
    struct moted_session *s;

    rc = mote_codec_decode(pkt, len, 0, &p);
    if (rc == MOTE_ERR_PROTOCOL_LEVEL) /* MQTT-3.1.2-2: answer in the 3.1.1 format */
        return refuse(c, MOTE_V311, 0, MOTE_V3_REFUSED_PROTOCOL_VERSION,
                      "unsupported protocol version");
    if (rc == MOTE_ERR_PROTOCOL_NAME) {
        moted__conn_close(c, "CONNECT names a protocol other than MQTT");
        return -1;
    }
    if (rc != MOTE_OK) {
        /* The level byte is at a fixed place when the name is "MQTT". */
        uint8_t level = len > 10 && pkt[2] == 0 && pkt[3] == 4 ? pkt[8] : 0;
        char why[160];
        snprintf(why, sizeof why, "malformed CONNECT: %s", mote_strerror(rc));
        if (level == MOTE_V5)
            return refuse(c, MOTE_V5, reason_for(rc), 0, why);
        moted__conn_close(c, why);
        return -1;
    }
    c->version = cn->version;

    if (cn->version == MOTE_V5) {
        if (mote_props_find(&cn->props, MOTE_PROP_AUTH_METHOD, &prop))
            return refuse(c, MOTE_V5, MOTE_RC_BAD_AUTH_METHOD, 0,
                          "enhanced authentication is not supported");
        if (mote_props_find(&cn->props, MOTE_PROP_SESSION_EXPIRY, &prop))
            expiry = prop.v.num;
        if (mote_props_find(&cn->props, MOTE_PROP_RECEIVE_MAXIMUM, &prop))
            client_receive_max = (uint16_t)prop.v.num;
        if (mote_props_find(&cn->props, MOTE_PROP_MAXIMUM_PACKET_SIZE, &prop))
            c->max_packet_out = prop.v.num;
        c->request_problem_info = 1;
        if (mote_props_find(&cn->props, MOTE_PROP_REQUEST_PROBLEM_INFO, &prop))
            c->request_problem_info = (uint8_t)prop.v.num;
    } else if (!cn->clean_start) {
        expiry = cfg->persistent_client_expiration ? (uint32_t)cfg->persistent_client_expiration
                                                   : 0xFFFFFFFFu;
    }

    /* Client identifier */
    id = cn->client_id;
    if (id.len == 0) {
        if (cn->version == MOTE_V31 || (cn->version == MOTE_V311 && !cn->clean_start) ||
            !cfg->allow_zero_length_clientid)
            return refuse(c, cn->version, MOTE_RC_CLIENT_ID_NOT_VALID, MOTE_V3_REFUSED_IDENTIFIER,
                          "empty client id");
        int n = assign_client_id(c, assigned, sizeof assigned);
        if (n < 0)
            return refuse(c, cn->version, MOTE_RC_SERVER_BUSY, MOTE_V3_REFUSED_SERVER_UNAVAILABLE,
                          "could not assign a client id");
        id = (struct mote_slice){(const uint8_t *)assigned, (size_t)n};
        if (cn->version == MOTE_V5) {
            ack[nack].id = MOTE_PROP_ASSIGNED_CLIENT_ID;
            ack[nack++].v.str = id;
        }
    } else {
        home = moted__home_worker(w->b, id.ptr, id.len);
        if (home != w->index) {
            return moted__conn_handover(c, home) ? -1 : 1;
        }
    }

    /*
     * Authentication, as Mosquitto 2 does it (docs/auth.md): a certificate's name
     * (use_identity_as_username) needs no password; with a password_file a user name must be in
     * it with its password; otherwise allow_anonymous decides, user name or not.
     */
    if (c->listener->cfg->use_identity_as_username || c->listener->cfg->use_subject_as_username) {
        if (!c->tls_identity)
            return refuse(c, cn->version, MOTE_RC_NOT_AUTHORIZED, MOTE_V3_REFUSED_NOT_AUTHORIZED,
                          "no client certificate to take the user name from");
    } else if (cn->has_username && cfg->passwd) {
        if (!cn->has_password ||
            !moted__passwd_check(cfg->passwd, (const char *)cn->username.ptr, cn->username.len,
                                 cn->password.ptr, cn->password.len)) {
            char why[160];
            snprintf(why, sizeof why, "bad user name or password for '%.*s' (password_file)",
                     (int)(cn->username.len > 64 ? 64 : cn->username.len), cn->username.ptr);
            return refuse(c, cn->version, MOTE_RC_BAD_USERNAME_OR_PASSWORD,
                          MOTE_V3_REFUSED_BAD_CREDENTIALS, why);
        }
    } else if (!c->listener->allow_anonymous) {
        return refuse(c, cn->version, MOTE_RC_NOT_AUTHORIZED, MOTE_V3_REFUSED_NOT_AUTHORIZED,
                      cn->has_username
                          ? "user name given but no password_file, and allow_anonymous false"
                          : "anonymous clients are not allowed on this listener "
                            "(allow_anonymous false)");
    }

    if (cn->will && mote_topic_levels(cn->will_topic.ptr, cn->will_topic.len) > max_levels(cfg))
        return refuse(c, cn->version, MOTE_RC_TOPIC_NAME_INVALID, MOTE_V3_REFUSED_NOT_AUTHORIZED,
                      "will topic has more levels than allowed (max_topic_levels)");
    if (cn->will && cn->will_qos > cfg->max_qos)
        return refuse(c, cn->version, MOTE_RC_QOS_NOT_SUPPORTED, MOTE_V3_REFUSED_NOT_AUTHORIZED,
                      "will QoS above max_qos");
    if (cn->will && cn->will_retain && !cfg->retain_available)
        return refuse(c, cn->version, MOTE_RC_RETAIN_NOT_SUPPORTED, MOTE_V3_REFUSED_NOT_AUTHORIZED,
                      "retained will, but retain_available is false");

    /* Session: take over, resume or start. */
    s = moted__sessions_find(w, id.ptr, id.len);
    if (s && s->conn) /* first hear what the old connection still had to say (a DISCONNECT) */
        moted__conn_read_pending(s->conn);
    s = moted__sessions_find(w, id.ptr, id.len);
    if (s && s->conn) {
        struct moted_conn *old = s->conn;
        moted__log(MOTED_LOG_NOTICE, "client %s already connected from %s: session taken over by %s",
                   s->client_id, moted__peer(old), moted__peer(c));
        moted__conn_disconnect(old, MOTE_RC_SESSION_TAKEN_OVER, "session taken over");
        s = moted__sessions_find(w, id.ptr, id.len); /* it ended if it expires at disconnect */
    }
    if (s && cn->clean_start) {
        session_end(s);
        s = NULL;
    }
    if (s) {
        session_present = 1;
        moted__timer_cancel(&w->loop, &s->expiry_timer);
        /* A new connection before the will delay passed: the old will is not sent. */
        moted__timer_cancel(&w->loop, &s->will_timer);
        moted__msg_unref(s->will);
        s->will = NULL;
    } else {
        s = moted__session_new(id.ptr, id.len);
        if (!s || moted__sessions_add(w, s)) {
            moted__session_free(s);
            return refuse(c, cn->version, MOTE_RC_SERVER_BUSY, MOTE_V3_REFUSED_SERVER_UNAVAILABLE,
                          "out of memory for the session");
        }
        s->will_timer.kind = MOTED_TIMER_WILL;
        s->expiry_timer.kind = MOTED_TIMER_EXPIRY;
    }
    s->version = cn->version;
    s->expiry_interval = expiry;
    s->window = client_receive_max < receive_max_in(cfg) ? client_receive_max
                                                        : receive_max_in(cfg);
    if (cn->will) {
        s->will = moted__msg_new(cn->will_topic, &cn->will_props, cn->will_payload, cn->will_qos,
                                 cn->will_retain, s, w->loop.now_ms);
        s->will_delay = 0;
        if (mote_props_find(&cn->will_props, MOTE_PROP_WILL_DELAY, &prop))
            s->will_delay = prop.v.num;
        if (!s->will) {
            session_end(s);
            return refuse(c, cn->version, MOTE_RC_SERVER_BUSY, MOTE_V3_REFUSED_SERVER_UNAVAILABLE,
                          "out of memory for the will");
        }
    }
    s->conn = c;
    c->session = s;
    if (cn->has_username && !c->tls_identity)
        c->username = moted__strndup((const char *)cn->username.ptr, cn->username.len);
    moted__free(s->username); /* a resumed session answers to its new connection's user */
    s->username = c->username ? moted__strndup(c->username, strlen(c->username)) : NULL;
    moted__store_session(s, 1); /* before the CONNACK leaves (session present) */

    /* Keep alive: the server may lower it (5.0 Server Keep Alive). */
    c->keep_alive = cn->keep_alive;
    if (cn->version == MOTE_V5 && cfg->max_keepalive < 65535 &&
        (cn->keep_alive == 0 || cn->keep_alive > cfg->max_keepalive)) {
        c->keep_alive = (uint16_t)cfg->max_keepalive;
        ack[nack].id = MOTE_PROP_SERVER_KEEP_ALIVE;
        ack[nack++].v.num = c->keep_alive;
    }

    if (cn->version == MOTE_V5) {
        if (receive_max_in(cfg) != 65535) {
            ack[nack].id = MOTE_PROP_RECEIVE_MAXIMUM;
            ack[nack++].v.num = receive_max_in(cfg);
        }
        if (cfg->max_packet_size) {
            ack[nack].id = MOTE_PROP_MAXIMUM_PACKET_SIZE;
            ack[nack++].v.num = cfg->max_packet_size;
        }
        ack[nack].id = MOTE_PROP_TOPIC_ALIAS_MAXIMUM;
        ack[nack++].v.num = MOTED_TOPIC_ALIAS_MAX;
        c->topic_alias_max_in = MOTED_TOPIC_ALIAS_MAX;
        if (cfg->max_qos < 2) {
            ack[nack].id = MOTE_PROP_MAXIMUM_QOS;
            ack[nack++].v.num = (uint32_t)cfg->max_qos;
        }
        if (!cfg->retain_available) {
            ack[nack].id = MOTE_PROP_RETAIN_AVAILABLE;
            ack[nack++].v.num = 0;
        }
    }
    if (send_connack(c, cn->version, 0, session_present, ack, nack)) {
        moted__conn_close(c, "cannot send CONNACK");
        return -1;
    }
    c->state = CONN_ACTIVE;
    moted__timer_cancel(&w->loop, &c->ka_timer);
    if (c->keep_alive)
        moted__timer_set(&w->loop, &c->ka_timer,
                         w->loop.now_ms + (uint64_t)c->keep_alive * 1500u);
    moted__log(MOTED_LOG_NOTICE, "client %s connected from %s (MQTT %s, keep alive %u%s%s%s%s)",
               s->client_id, moted__peer(c),
               cn->version == MOTE_V5 ? "5.0" : cn->version == MOTE_V311 ? "3.1.1" : "3.1",
               c->keep_alive, session_present ? ", session resumed" : "",
               c->username ? ", user '" : "", c->username ? c->username : "",
               c->username ? (c->tls_identity ? "' from its certificate" : "'") : "");
    if (session_present)
        resend_in_flight(s);
    moted__proto_drain(s);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * PUBLISH and its acknowledgements
 * ------------------------------------------------------------------------------------------- */

static int send_ack(struct moted_conn *c, uint8_t type, uint16_t id, uint8_t reason)
{
    struct mote_packet p = {.type = type};
    p.u.ack.packet_id = id;
    p.u.ack.reason = c->version == MOTE_V5 ? reason : 0;
    return moted__conn_send(c, &p);
}

/* Resolves a 5.0 topic alias (MQTT 5.0 3.3.2.3.4). Returns 0, or a reason code. */
static uint8_t resolve_alias(struct moted_conn *c, struct mote_publish *pub)
{
    struct mote_prop prop;
    uint16_t alias;
    if (!mote_props_find(&pub->props, MOTE_PROP_TOPIC_ALIAS, &prop))
        return 0;
    alias = (uint16_t)prop.v.num;
    if (alias == 0 || alias > c->topic_alias_max_in)
        return MOTE_RC_TOPIC_ALIAS_INVALID;
    if (pub->topic.len) {
        uint8_t *copy = moted__malloc(pub->topic.len);
        if (!c->aliases)
            c->aliases = moted__calloc(1, sizeof *c->aliases);
        if (!copy || !c->aliases) {
            moted__free(copy);
            return MOTE_RC_SERVER_BUSY;
        }
        memcpy(copy, pub->topic.ptr, pub->topic.len);
        moted__free(c->aliases->topic[alias]);
        c->aliases->topic[alias] = copy;
        c->aliases->len[alias] = (uint16_t)pub->topic.len;
        return 0;
    }
    if (!c->aliases || !c->aliases->topic[alias])
        return MOTE_RC_PROTOCOL_ERROR; /* an alias never set */
    pub->topic = (struct mote_slice){c->aliases->topic[alias], c->aliases->len[alias]};
    return 0;
}

static int handle_publish(struct moted_conn *c, const uint8_t *pkt, size_t len)
{
    const struct moted_config *cfg = cfg_of(c);
    struct moted_session *s = c->session;
    struct mote_packet p;
    struct mote_publish *pub = &p.u.publish;
    struct moted_msg *m;
    uint8_t reason = 0;
    int rc = mote_codec_decode(pkt, len, c->version, &p);

    if (rc != MOTE_OK)
        return protocol_error(c, reason_for(rc), mote_strerror(rc));
    if (pub->qos > cfg->max_qos)
        return protocol_error(c, MOTE_RC_QOS_NOT_SUPPORTED, "QoS above max_qos");
    if (pub->retain && !cfg->retain_available)
        return protocol_error(c, MOTE_RC_RETAIN_NOT_SUPPORTED, "retain is not available");
    if (c->version == MOTE_V5) {
        if (mote_props_find(&pub->props, MOTE_PROP_SUBSCRIPTION_ID, NULL))
            return protocol_error(c, MOTE_RC_PROTOCOL_ERROR,
                                  "a client PUBLISH carries a subscription identifier");
        reason = resolve_alias(c, pub);
        if (reason)
            return protocol_error(c, reason, "invalid topic alias");
    }

    if (pub->qos == 2) {
        if (moted__session_qos2_has(s, pub->packet_id)) /* a resend: acknowledge, not again */
            return send_ack(c, MOTE_PUBREC, pub->packet_id, 0) ? -1 : 0;
        if (s->in_qos2_count >= receive_max_in(cfg)) {
            if (c->version == MOTE_V5)
                return protocol_error(c, MOTE_RC_RECEIVE_MAXIMUM_EXCEEDED,
                                      "more QoS 2 messages in flight than Receive Maximum");
            moted__conn_close(c, "more QoS 2 messages in flight than max_inflight_messages");
            return -1;
        }
    }

    /* Limits that refuse one message but keep the connection. */
    if (cfg->acl && !moted__acl_check(cfg->acl, c->username, s->client_id, pub->topic.ptr,
                                      pub->topic.len, MOTED_ACL_WRITE))
        reason = MOTE_RC_NOT_AUTHORIZED;
    else if (mote_topic_levels(pub->topic.ptr, pub->topic.len) > max_levels(cfg))
        reason = MOTE_RC_TOPIC_NAME_INVALID;
    else if (cfg->message_size_limit && pub->payload.len > cfg->message_size_limit)
        reason = MOTE_RC_QUOTA_EXCEEDED;
    else if (c->version == MOTE_V5) {
        struct mote_prop pf;
        if (mote_props_find(&pub->props, MOTE_PROP_PAYLOAD_FORMAT, &pf) && pf.v.num == 1 &&
            mote_utf8_check(pub->payload.ptr, pub->payload.len) == MOTE_ERR_UTF8_ILL_FORMED)
            reason = MOTE_RC_PAYLOAD_FORMAT_INVALID;
    }

    if (!reason && pub->qos && moted__store_failing(c->w)) {
        /* Nothing is acknowledged that is not on disk: refuse it while the store cannot write. */
        if (c->version != MOTE_V5) {
            moted__conn_close(c, "store cannot write: QoS 1/2 message refused (the client will "
                                 "send it again)");
            return -1;
        }
        reason = MOTE_RC_QUOTA_EXCEEDED;
    }
    if (!reason) {
        m = moted__msg_new(pub->topic, c->version == MOTE_V5 ? &pub->props : NULL, pub->payload,
                           pub->qos, pub->retain, s, c->w->loop.now_ms);
        if (!m) {
            reason = MOTE_RC_QUOTA_EXCEEDED;
        } else {
            moted__router_publish(c->w, m);
            moted__msg_unref(m);
        }
    }
    if (reason)
        moted__log(MOTED_LOG_NOTICE, "message from %s on %.*s dropped: %s", s->client_id,
                   (int)pub->topic.len, pub->topic.ptr,
                   mote_reason_name(MOTE_V5, MOTE_PUBACK, reason));
    if (pub->qos == 1)
        return send_ack(c, MOTE_PUBACK, pub->packet_id, reason) ? -1 : 0;
    if (pub->qos == 2) {
        if (!reason && moted__session_qos2_add(s, pub->packet_id)) {
            moted__conn_disconnect(c, MOTE_RC_SERVER_BUSY, "out of memory");
            return -1;
        }
        if (!reason)
            moted__store_qos2(s, pub->packet_id, 1);
        return send_ack(c, MOTE_PUBREC, pub->packet_id, reason) ? -1 : 0;
    }
    return 0;
}

static int handle_ack(struct moted_conn *c, const struct mote_packet *p)
{
    struct moted_session *s = c->session;
    uint16_t id = p->u.ack.packet_id;
    struct moted_out *o;

    switch (p->type) {
    case MOTE_PUBREL: { /* the client's QoS 2 message: release it */
        int known = moted__session_qos2_has(s, id);
        moted__session_qos2_del(s, id);
        if (known)
            moted__store_qos2(s, id, 0);
        return send_ack(c, MOTE_PUBCOMP, id, known ? 0 : MOTE_RC_PACKET_ID_NOT_FOUND) ? -1 : 0;
    }
    case MOTE_PUBACK:
        o = moted__session_out_find(s, id);
        if (o && o->state == OUT_WAIT_PUBACK)
            moted__session_out_del(s, o);
        break;
    case MOTE_PUBREC:
        o = moted__session_out_find(s, id);
        if (!o || o->state == OUT_WAIT_PUBACK) {
            if (c->version == MOTE_V5)
                return send_ack(c, MOTE_PUBREL, id, MOTE_RC_PACKET_ID_NOT_FOUND) ? -1 : 0;
            break;
        }
        if (p->u.ack.reason >= 0x80) { /* the client refused it: done (5.0 4.3.3) */
            moted__session_out_del(s, o);
            break;
        }
        o->state = OUT_WAIT_PUBCOMP;
        moted__store_queue_set(s, o->row, id, OUT_WAIT_PUBCOMP);
        moted__msg_unref(o->msg);
        o->msg = NULL;
        return send_ack(c, MOTE_PUBREL, id, 0) ? -1 : 0;
    case MOTE_PUBCOMP:
        o = moted__session_out_find(s, id);
        if (o && o->state == OUT_WAIT_PUBCOMP)
            moted__session_out_del(s, o);
        break;
    }
    moted__proto_drain(s);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * SUBSCRIBE, UNSUBSCRIBE
 * ------------------------------------------------------------------------------------------- */

#define MAX_FILTERS_PER_PACKET 256

static int handle_subscribe(struct moted_conn *c, const struct mote_packet *p)
{
    const struct moted_config *cfg = cfg_of(c);
    struct moted_session *s = c->session;
    const struct mote_subscribe *sub = &p->u.subscribe;
    uint8_t codes[MAX_FILTERS_PER_PACKET];
    int replaced[MAX_FILTERS_PER_PACKET];
    struct mote_subscription one;
    struct mote_iter it;
    struct mote_prop prop;
    uint32_t sub_id = 0;
    size_t n = 0;

    if (sub->count > MAX_FILTERS_PER_PACKET)
        return protocol_error(c, MOTE_RC_QUOTA_EXCEEDED, "more than 256 filters in one SUBSCRIBE");
    if (mote_props_find(&sub->props, MOTE_PROP_SUBSCRIPTION_ID, &prop))
        sub_id = prop.v.num;

    mote_codec_iter(sub->raw, &it);
    while (mote_codec_subscribe_next(&it, c->version, &one)) {
        uint8_t code;
        int rc = -3;
        if (mote_topic_check_filter(one.filter.ptr, one.filter.len) != MOTE_OK)
            code = c->version == MOTE_V5 ? MOTE_RC_TOPIC_FILTER_INVALID : MOTE_V3_SUBACK_FAILURE;
        else if (mote_topic_levels(one.filter.ptr, one.filter.len) > max_levels(cfg))
            code = c->version == MOTE_V5 ? MOTE_RC_TOPIC_FILTER_INVALID : MOTE_V3_SUBACK_FAILURE;
        else if (cfg->max_subscriptions && s->sub_count >= (size_t)cfg->max_subscriptions)
            code = c->version == MOTE_V5 ? MOTE_RC_QUOTA_EXCEEDED : MOTE_V3_SUBACK_FAILURE;
        else if (cfg->acl && !moted__acl_check(cfg->acl, c->username, s->client_id,
                                               one.filter.ptr, one.filter.len,
                                               MOTED_ACL_SUBSCRIBE)) {
            code = c->version == MOTE_V5 ? MOTE_RC_NOT_AUTHORIZED : MOTE_V3_SUBACK_FAILURE;
            moted__log(MOTED_LOG_SUBSCRIBE, "%s denied %.*s (acl_file)", s->client_id,
                       (int)one.filter.len, one.filter.ptr);
        }
        else {
            if (one.qos > cfg->max_qos)
                one.qos = (uint8_t)cfg->max_qos;
            rc = moted__router_subscribe(s, &one, sub_id);
            code = rc < 0 ? (c->version == MOTE_V5 ? MOTE_RC_UNSPECIFIED : MOTE_V3_SUBACK_FAILURE)
                          : one.qos;
            moted__log(MOTED_LOG_SUBSCRIBE, "%s %u %.*s", s->client_id, one.qos,
                       (int)one.filter.len, one.filter.ptr);
        }
        replaced[n] = rc;
        codes[n++] = code;
    }

    struct mote_packet ack = {.type = MOTE_SUBACK};
    ack.u.suback.packet_id = sub->packet_id;
    ack.u.suback.codes = codes;
    ack.u.suback.count = n;
    if (moted__conn_send(c, &ack))
        return -1;

    /* Retained messages after the SUBACK, as retain handling asks (5.0 3.3.1.3). */
    mote_codec_iter(sub->raw, &it);
    for (size_t i = 0; mote_codec_subscribe_next(&it, c->version, &one); i++) {
        if (replaced[i] < 0 || codes[i] >= 0x80)
            continue;
        if (one.retain_handling == 2 || (one.retain_handling == 1 && replaced[i] == 1))
            continue;
        one.qos = codes[i];
        moted__router_send_retained(s, &one, sub_id);
    }
    return 0;
}

static int handle_unsubscribe(struct moted_conn *c, const struct mote_packet *p)
{
    struct moted_session *s = c->session;
    const struct mote_unsubscribe *un = &p->u.unsubscribe;
    uint8_t codes[MAX_FILTERS_PER_PACKET];
    struct mote_slice filter;
    struct mote_iter it;
    size_t n = 0;

    if (un->count > MAX_FILTERS_PER_PACKET)
        return protocol_error(c, MOTE_RC_PROTOCOL_ERROR, "more than 256 filters in one UNSUBSCRIBE");
    mote_codec_iter(un->raw, &it);
    while (mote_codec_unsubscribe_next(&it, &filter)) {
        if (mote_topic_check_filter(filter.ptr, filter.len) != MOTE_OK) {
            codes[n++] = MOTE_RC_TOPIC_FILTER_INVALID;
            continue;
        }
        int had = moted__router_unsubscribe(s, filter);
        codes[n++] = had ? MOTE_RC_SUCCESS : MOTE_RC_NO_SUBSCRIPTION_EXISTED;
        moted__log(MOTED_LOG_UNSUBSCRIBE, "%s %.*s", s->client_id, (int)filter.len, filter.ptr);
    }
    struct mote_packet ack = {.type = MOTE_UNSUBACK};
    ack.u.suback.packet_id = un->packet_id;
    ack.u.suback.codes = codes;
    ack.u.suback.count = n;
    return moted__conn_send(c, &ack) ? -1 : 0;
}

static int handle_disconnect(struct moted_conn *c, const struct mote_packet *p)
{
    struct moted_session *s = c->session;
    struct mote_prop prop;
    if (c->version == MOTE_V5) {
        if (mote_props_find(&p->u.reason.props, MOTE_PROP_SESSION_EXPIRY, &prop)) {
            if (s->expiry_interval == 0 && prop.v.num != 0) /* MQTT-3.14.2-2 */
                return protocol_error(c, MOTE_RC_PROTOCOL_ERROR,
                                      "DISCONNECT sets a session expiry the CONNECT had as 0");
            s->expiry_interval = prop.v.num;
        }
        if (p->u.reason.reason == MOTE_RC_DISCONNECT_WITH_WILL) {
            moted__conn_close(c, "client disconnected with its will");
            return -1;
        }
    }
    c->will_suppressed = 1; /* a normal DISCONNECT discards the will (MQTT-3.1.2-10) */
    moted__conn_close(c, "client sent DISCONNECT");
    return -1;
}

int moted__proto_packet(struct moted_conn *c, const uint8_t *pkt, size_t len)
{
    struct mote_packet p;
    uint8_t type = pkt[0] >> 4;
    int rc;

    if (c->state == CONN_NEW) {
        if (type != MOTE_CONNECT) { /* MQTT-3.1.0-1 */
            moted__conn_close(c, "first packet is not CONNECT");
            return -1;
        }
        return handle_connect(c, pkt, len);
    }
    if (type == MOTE_PUBLISH)
        return handle_publish(c, pkt, len);

    /* Bad filters are refused one by one in the SUBACK/UNSUBACK, as Mosquitto does. */
    rc = mote_codec_decode_opts(pkt, len, c->version, MOTE_DECODE_LENIENT_FILTERS, &p);
    if (rc != MOTE_OK)
        return protocol_error(c, reason_for(rc), mote_strerror(rc));
    switch (p.type) {
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP:
        return handle_ack(c, &p);
    case MOTE_SUBSCRIBE:
        return handle_subscribe(c, &p);
    case MOTE_UNSUBSCRIBE:
        return handle_unsubscribe(c, &p);
    case MOTE_PINGREQ: {
        struct mote_packet resp = {.type = MOTE_PINGRESP};
        return moted__conn_send(c, &resp) ? -1 : 0;
    }
    case MOTE_DISCONNECT:
        return handle_disconnect(c, &p);
    case MOTE_CONNECT: /* MQTT-3.1.0-2 */
        return protocol_error(c, MOTE_RC_PROTOCOL_ERROR, "second CONNECT");
    case MOTE_AUTH:
        return protocol_error(c, MOTE_RC_PROTOCOL_ERROR, "AUTH without an authentication method");
    default: /* CONNACK, SUBACK, UNSUBACK, PINGRESP go from server to client only */
        return protocol_error(c, MOTE_RC_PROTOCOL_ERROR, "a packet only a server may send");
    }
}
