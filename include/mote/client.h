/*
 * mote/client.h - the device's MQTT client engine: 3.1.1 and 5.0, QoS 0/1/2 both ways, keep
 * alive, wills, persistent sessions with resend, reconnect backoff, a bounded offline queue.
 *
 * Sans-I/O and allocation-free. The caller owns every byte: the client struct, the receive and
 * transmit buffers, the message store and the in-flight slots (struct mote_client_mem);
 * mote_client_init() checks each size and says exactly how many bytes are missing. The caller
 * connects a transport (mote/transport.h) and drives the engine with mote_client_poll(now_ms),
 * from a super-loop, an RTOS task or a thread; a blocking POSIX wrapper is in mote/posix.h.
 *
 * @code
 * static struct mote_client mc;
 * static uint8_t rx[512], tx[512], store[1024];
 * static struct mote_inflight slots[8];
 * struct mote_client_mem mem = { rx, sizeof rx, tx, sizeof tx, store, sizeof store,
 *                                slots, 8 };
 * struct mote_client_config cfg = { .version = MOTE_V311, .client_id = MOTE_SLICE_STR("dev1"),
 *                                   .keep_alive_s = 60, .clean_start = 1 };
 * struct mote_client_callbacks cb = { .on_message = got_message, .on_event = got_event };
 * if (mote_client_init(&mc, &cfg, &mem, &cb) != MOTE_OK)
 *     print(mote_client_error(&mc));      // e.g. "receive buffer: 12 bytes missing"
 * mote_client_connect(&mc, &transport, now_ms());
 * for (;;) {
 *     uint32_t wait;
 *     int rc = mote_client_poll(&mc, now_ms(), &wait);
 *     if (rc < 0) { explain(mote_client_error(&mc)); reconnect after mote_client_backoff_ms(); }
 *     sleep_or_wait_for_socket(wait);
 * }
 * @endcode
 */
#ifndef MOTE_CLIENT_H
#define MOTE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "mote/codec.h"
#include "mote/error.h"
#include "mote/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Errors that explain themselves
 * ------------------------------------------------------------------------------------------- */

/** Which layer failed. */
enum mote_layer {
    MOTE_LAYER_NONE = 0,
    MOTE_LAYER_CONFIG, /**< what the caller handed in: sizes, settings */
    MOTE_LAYER_DNS,    /**< name resolution */
    MOTE_LAYER_TCP,    /**< connecting, or the byte stream */
    MOTE_LAYER_TLS,    /**< handshake, certificates, records */
    MOTE_LAYER_MQTT,   /**< the broker's answers, or its protocol violations */
};

/**
 * Everything known about the last failure, kept next to the code so that a device can print
 * a sentence a person can act on (mote_error_explain()).
 */
struct mote_error {
    int code;       /**< enum mote_err */
    uint8_t layer;  /**< enum mote_layer */
    uint8_t reason; /**< MQTT: CONNACK return code / reason code, DISCONNECT reason */
    uint8_t packet; /**< MQTT: the packet type involved, 0 if none */
    int32_t raw;    /**< the lower layer's own code: errno, BearSSL error, ... */
    uint32_t need;  /**< buffers: bytes needed ... */
    uint32_t have;  /**< ... and bytes given */
    const char *what; /**< CONFIG: which buffer or setting ("receive buffer"), else NULL */
};

/** Layer name: "config", "dns", "tcp", "tls", "mqtt" (or "none"). */
const char *mote_layer_name(uint8_t layer);

/**
 * Writes one line explaining @p e into @p buf (always NUL-terminated, cut to @p len): the layer,
 * what happened, the details (reason name, bytes missing, raw code) and what to do.
 * Returns @p buf.
 */
char *mote_error_explain(const struct mote_error *e, char *buf, size_t len);

/* ---------------------------------------------------------------------------------------------
 * Configuration and memory
 * ------------------------------------------------------------------------------------------- */

/** The will message, published by the broker if the device drops off without DISCONNECT. */
struct mote_will {
    struct mote_slice topic;
    struct mote_slice payload;
    uint8_t qos;
    uint8_t retain;
    struct mote_props props; /**< 5.0 will properties (Will Delay Interval, ...) */
};

struct mote_client_config {
    uint8_t version;             /**< MOTE_V311 or MOTE_V5 */
    struct mote_slice client_id; /**< empty: 5.0 lets the broker assign one; 3.1.1 needs clean */
    uint16_t keep_alive_s;       /**< 0 = off; a 5.0 broker may lower it (Server Keep Alive) */
    uint8_t clean_start;         /**< 3.1.1 clean session / 5.0 clean start */
    uint32_t session_expiry_s;   /**< 5.0 only; 3.1.1 sessions last while clean_start is 0 */
    uint8_t has_username, has_password;
    struct mote_slice username, password;
    const struct mote_will *will; /**< NULL: no will */
    struct mote_props connect_props; /**< extra 5.0 CONNECT properties (user properties, ...) */
    uint32_t connack_timeout_ms; /**< how long to wait for CONNACK; 0 = 10000 */
    uint32_t backoff_min_ms;     /**< first reconnect delay; 0 = 1000 */
    uint32_t backoff_max_ms;     /**< reconnect delay ceiling; 0 = 60000 */
};

/** One in-flight packet identifier (either direction). The caller provides an array of them. */
struct mote_inflight {
    uint16_t packet_id;
    uint8_t kind;    /**< private */
    uint8_t state;   /**< private */
    uint32_t offset; /**< private: where its PUBLISH sits in the store */
    uint32_t length; /**< private */
    uint32_t seq;    /**< private: order of sending */
};

/**
 * The memory the client works in, all of it the caller's.
 * - rx: one incoming packet at a time; its size is the largest packet the device accepts (sent
 *   to 5.0 brokers as Maximum Packet Size).
 * - tx: encoded bytes waiting for the transport; the largest packet the device sends must fit.
 * - store: QoS 1 and 2 PUBLISH packets kept until acknowledged (resent after a reconnect), and
 *   messages published while offline; when it is full, publish says MOTE_ERR_QUEUE_FULL.
 * - slots: in-flight packet identifiers, outgoing (QoS 1/2, SUBSCRIBE, UNSUBSCRIBE) and incoming
 *   (QoS 2 awaiting PUBREL); their number is the Receive Maximum sent to 5.0 brokers.
 */
struct mote_client_mem {
    uint8_t *rx;
    size_t rx_len;
    uint8_t *tx;
    size_t tx_len;
    uint8_t *store;
    size_t store_len;
    struct mote_inflight *slots;
    size_t slot_count;
};

/** Smallest sizes mote_client_init() accepts (it checks more, from the configuration). */
#define MOTE_CLIENT_RX_MIN 16u
#define MOTE_CLIENT_SLOTS_MIN 1u

/* ---------------------------------------------------------------------------------------------
 * Callbacks
 * ------------------------------------------------------------------------------------------- */

/** A message the broker delivered. Slices point into the receive buffer: copy what you keep. */
struct mote_message {
    struct mote_slice topic;
    struct mote_slice payload;
    uint8_t qos, retain, dup;
    uint16_t packet_id;
    const struct mote_props *props; /**< 5.0 properties (NULL in 3.1.1) */
};

enum mote_event_type {
    MOTE_EV_CONNECTED = 1, /**< CONNACK accepted; session_present says if state was kept */
    MOTE_EV_DISCONNECTED,  /**< the connection ended; err says why (code 0: we asked) */
    MOTE_EV_PUBLISHED,     /**< a QoS 1/2 publish was acknowledged (reason: 5.0 code; 0x95
                                when a stored message is over a new broker's maximum size) */
    MOTE_EV_SUBSCRIBED,    /**< SUBACK: codes/count, one per filter */
    MOTE_EV_UNSUBSCRIBED,  /**< UNSUBACK (5.0: codes/count) */
};

struct mote_event {
    uint8_t type; /**< enum mote_event_type */
    uint8_t session_present;
    uint8_t reason;
    uint16_t packet_id;
    const uint8_t *codes;
    size_t count;
    const struct mote_error *err; /**< MOTE_EV_DISCONNECTED */
};

struct mote_client_callbacks {
    void (*on_message)(void *ctx, const struct mote_message *m);
    void (*on_event)(void *ctx, const struct mote_event *e);
    void *ctx;
};

/* ---------------------------------------------------------------------------------------------
 * The client
 * ------------------------------------------------------------------------------------------- */

enum mote_client_state {
    MOTE_STATE_IDLE = 0,   /**< initialised, no transport */
    MOTE_STATE_CONNECTING, /**< CONNECT sent, waiting for CONNACK */
    MOTE_STATE_CONNECTED,
    MOTE_STATE_DISCONNECTED, /**< the last connection ended; reconnect when you like */
};

/**
 * Longest Assigned Client Identifier (5.0) the client keeps to resume its session on reconnect.
 * A longer one is used for the current connection only. Define it before including this header
 * (and when building the library) to change it.
 */
#ifndef MOTE_CLIENT_ID_MAX
#define MOTE_CLIENT_ID_MAX 64u
#endif

/** All state of one client. Declared here so it can be static; its members are private. */
struct mote_client {
    struct mote_client_config cfg;
    struct mote_client_mem mem;
    struct mote_client_callbacks cb;
    const struct mote_transport *t;
    struct mote_error err;
    uint8_t state;
    uint8_t session_present;
    uint16_t keep_alive_s; /* in force (the broker may lower it) */
    uint16_t next_id;
    uint16_t broker_receive_max; /* 5.0: the broker's window for our QoS 1/2 */
    uint32_t broker_max_packet;  /* 5.0: 0 = none */
    uint16_t broker_alias_max;   /* 5.0: Topic Alias Maximum (the client sends no alias itself) */
    uint8_t ping_outstanding;
    uint8_t gen; /* changes whenever a connection starts or ends (callbacks may do either) */
    uint32_t last_tx_ms, last_rx_ms, connect_ms, ping_ms;
    uint32_t now_ms; /* the latest time the caller gave */
    uint32_t backoff_ms; /* ceiling of the next reconnect delay, 0 = backoff_min_ms */
    int32_t io_err;      /* a send failure seen outside poll; the next poll ends the connection */
    size_t rx_have;          /* bytes in rx (whole packets and the start of the next) */
    size_t tx_have, tx_sent; /* bytes queued in tx, and already written */
    size_t store_used;       /* bytes of the store in use (kept contiguous) */
    uint32_t seq;            /* order of the next QoS 1/2 message */
    uint16_t assigned_len;
    uint8_t assigned_id[MOTE_CLIENT_ID_MAX]; /* 5.0 Assigned Client Identifier, for reconnects */
};

/**
 * Checks the configuration and every buffer size, and sets the client up. Nothing is sent.
 * Checked: rx >= MOTE_CLIENT_RX_MIN, slot_count >= MOTE_CLIENT_SLOTS_MIN, and tx holds the
 * CONNECT (will included) this configuration produces. store_len may be 0 (QoS 0 only).
 * @p cb may be NULL. For 5.0, connect_props MAY use `raw` or `list`, not both (the client adds
 * Session Expiry, Receive Maximum and Maximum Packet Size in the other half).
 * @return MOTE_OK, MOTE_ERR_BAD_ARG, MOTE_ERR_VERSION, MOTE_ERR_BUFFER_TOO_SMALL with
 *         mote_client_error(c) naming the buffer (`what`) and the bytes (slots) needed and given,
 *         or the codec's error for an invalid CONNECT field (will topic, UTF-8, properties).
 */
int mote_client_init(struct mote_client *c, const struct mote_client_config *cfg,
                     const struct mote_client_mem *mem, const struct mote_client_callbacks *cb);

/**
 * Starts the MQTT session over a transport the caller connected: queues CONNECT (the next poll
 * writes it). Allowed when IDLE or DISCONNECTED; the session (stored messages) carries over.
 * @return MOTE_OK, or MOTE_ERR_BAD_ARG (NULL, a transport without send/recv, already
 *         connected, or an init that failed).
 */
int mote_client_connect(struct mote_client *c, const struct mote_transport *t, uint32_t now_ms);

/**
 * Does all that is due: writes queued bytes, reads and handles what arrived, sends PINGREQ,
 * checks the CONNACK and keep alive deadlines. Sets *wait_ms (may be NULL) to the time until it
 * needs to run again even if no byte arrives (UINT32_MAX: only when bytes arrive); while
 * mote_client_wants_write() the caller also waits for writability. Callbacks run inside poll
 * and MAY call every other function, mote_client_disconnect() and mote_client_connect() included.
 * @return MOTE_OK while the connection lives; a negative code when it ended (the details are in
 *         mote_client_error(), and MOTE_EV_DISCONNECTED was sent): the transport's error,
 *         MOTE_ERR_CONNECT_REFUSED, MOTE_ERR_CONNACK_TIMEOUT, MOTE_ERR_KEEPALIVE_TIMEOUT,
 *         MOTE_ERR_SERVER_DISCONNECT, MOTE_ERR_PROTOCOL, MOTE_ERR_PACKET_TOO_LARGE (a packet
 *         larger than rx: need/have). MOTE_ERR_NOT_CONNECTED without a connection (nothing
 *         happens, the last error is kept), also right after a callback ended it.
 */
int mote_client_poll(struct mote_client *c, uint32_t now_ms, uint32_t *wait_ms);

/**
 * Publishes. QoS 0 goes out only while connected (else MOTE_ERR_NOT_CONNECTED); QoS 1 and 2 are
 * copied into the store and sent now or after the next CONNACK. *packet_id (may be NULL) is the
 * id MOTE_EV_PUBLISHED will carry. `dup` and `packet_id` of @p msg are ignored. A Topic Alias
 * property is accepted for QoS 0 within the broker's Topic Alias Maximum only.
 * @return MOTE_OK, MOTE_ERR_QUEUE_FULL (store or slots full, or for QoS 0 no room in tx now:
 *         nothing was dropped, try later; with a 0-byte store for any QoS 1/2),
 *         MOTE_ERR_NOT_CONNECTED, MOTE_ERR_BUFFER_TOO_SMALL (larger than tx or the store can
 *         ever hold), MOTE_ERR_PACKET_TOO_LARGE (over the 5.0 broker's Maximum Packet Size),
 *         MOTE_ERR_BAD_ARG, or a codec validation error (topic, QoS, properties). The details
 *         (what, need, have) are in mote_client_error().
 */
int mote_client_publish(struct mote_client *c, const struct mote_publish *msg,
                        uint16_t *packet_id);

/**
 * Subscribes to @p count filters (5.0: with subscription identifier @p sub_id, 0 = none). Only
 * while connected; a SUBSCRIBE still unanswered when the connection ends is forgotten (subscribe
 * again after MOTE_EV_CONNECTED with session_present 0).
 * @return MOTE_OK, MOTE_ERR_NOT_CONNECTED, MOTE_ERR_QUEUE_FULL (no free slot, or no room in tx
 *         now), MOTE_ERR_BUFFER_TOO_SMALL, MOTE_ERR_PACKET_TOO_LARGE, MOTE_ERR_BAD_ARG, or the
 *         codec's error for a filter.
 */
int mote_client_subscribe(struct mote_client *c, const struct mote_subscription *subs,
                          size_t count, uint32_t sub_id, uint16_t *packet_id);

/** Unsubscribes from @p count filters; as mote_client_subscribe(). */
int mote_client_unsubscribe(struct mote_client *c, const struct mote_slice *filters, size_t count,
                            uint16_t *packet_id);

/**
 * Sends DISCONNECT (normal: the will is discarded) as far as the transport takes it now, ends
 * the connection (MOTE_EV_DISCONNECTED with code MOTE_OK) and keeps the stored messages for the
 * next one. The caller then closes the transport.
 * @return MOTE_OK, MOTE_ERR_BAD_ARG, MOTE_ERR_NOT_CONNECTED.
 */
int mote_client_disconnect(struct mote_client *c, uint32_t now_ms);

/**
 * The delay before the next reconnect attempt: exponential from backoff_min_ms to
 * backoff_max_ms, with "full jitter" from @p random (any random number). Resets after a
 * CONNACK that accepts.
 */
uint32_t mote_client_backoff_ms(struct mote_client *c, uint32_t random);

/** The last failure, with its layer and details. Never NULL. */
const struct mote_error *mote_client_error(const struct mote_client *c);

/** enum mote_client_state of @p c (MOTE_STATE_IDLE for NULL). */
int mote_client_state(const struct mote_client *c);

/**
 * 1 when encoded bytes wait for the transport (it returned 0: the socket would block), else 0.
 * An event loop then also waits for the socket to become writable (POLLOUT), not only readable.
 */
int mote_client_wants_write(const struct mote_client *c);

#ifdef __cplusplus
}
#endif

#endif /* MOTE_CLIENT_H */
