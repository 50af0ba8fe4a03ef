/*
 * mote/codec.h - the MQTT 3.1, 3.1.1 and 5.0 packet codec shared by libmote, moted and mote.
 *
 * Zero allocation and freestanding. Encoding is two steps: mote_codec_size() says how many bytes
 * a packet needs, mote_codec_encode() writes it into the caller's buffer. Decoding first frames a
 * packet with mote_codec_frame() (which says how many more bytes a partial read needs), then
 * mote_codec_decode() validates the whole packet and fills a struct whose slices point into the
 * input; the input must outlive the decoded packet. Conventions: docs/conventions.md.
 *
 * @code
 * // Framing and decoding bytes as they arrive from the network.
 * struct mote_frame f;
 * int rc = mote_codec_frame(buf, have, max_packet, &f);
 * if (rc == MOTE_NEED_MORE) { read at least f.need more bytes; }
 * else if (rc == MOTE_OK) {
 *     struct mote_packet p;
 *     rc = mote_codec_decode(buf, f.total, MOTE_V5, &p);
 *     if (rc == MOTE_OK && p.type == MOTE_PUBLISH) use(p.u.publish.topic, p.u.publish.payload);
 *     consume f.total bytes;
 * } else { the peer sent a malformed packet: mote_strerror(rc) says why; }
 *
 * // Encoding a QoS 1 PUBLISH.
 * struct mote_packet p = { .type = MOTE_PUBLISH };
 * p.u.publish.qos = 1;
 * p.u.publish.packet_id = 7;
 * p.u.publish.topic = MOTE_SLICE_STR("sensors/t1");
 * p.u.publish.payload = MOTE_SLICE_STR("21.5");
 * size_t need, used;
 * mote_codec_size(&p, MOTE_V311, &need);           // need <= sizeof out?
 * mote_codec_encode(&p, MOTE_V311, out, sizeof out, &used);
 * @endcode
 */
#ifndef MOTE_CODEC_H
#define MOTE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "mote/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Protocol levels as CONNECT carries them. */
enum mote_version {
    MOTE_V31 = 3,  /**< MQTT 3.1 ("MQIsdp"); otherwise handled as 3.1.1 */
    MOTE_V311 = 4, /**< MQTT 3.1.1 */
    MOTE_V5 = 5,   /**< MQTT 5.0 */
};

/** Control packet types (fixed header, high nibble). */
enum mote_packet_type {
    MOTE_CONNECT = 1,
    MOTE_CONNACK = 2,
    MOTE_PUBLISH = 3,
    MOTE_PUBACK = 4,
    MOTE_PUBREC = 5,
    MOTE_PUBREL = 6,
    MOTE_PUBCOMP = 7,
    MOTE_SUBSCRIBE = 8,
    MOTE_SUBACK = 9,
    MOTE_UNSUBSCRIBE = 10,
    MOTE_UNSUBACK = 11,
    MOTE_PINGREQ = 12,
    MOTE_PINGRESP = 13,
    MOTE_DISCONNECT = 14,
    MOTE_AUTH = 15, /**< MQTT 5 only */
};

/** Largest value of a variable byte integer, and so of a packet's remaining length. */
#define MOTE_VARINT_MAX 268435455u
/** Largest packet: 1 type byte + 4 length bytes + MOTE_VARINT_MAX. */
#define MOTE_PACKET_MAX (MOTE_VARINT_MAX + 5u)

/** A run of bytes owned by someone else: the input of a decode, or the caller of an encode. */
struct mote_slice {
    const uint8_t *ptr;
    size_t len;
};

/** A slice over a string literal. */
#define MOTE_SLICE_STR(s) ((struct mote_slice){(const uint8_t *)(s), sizeof(s) - 1})

/* ---------------------------------------------------------------------------------------------
 * Properties (MQTT 5)
 * ------------------------------------------------------------------------------------------- */

/** Property identifiers (MQTT 5.0 section 2.2.2.2). */
enum mote_prop_id {
    MOTE_PROP_PAYLOAD_FORMAT = 0x01,
    MOTE_PROP_MESSAGE_EXPIRY = 0x02,
    MOTE_PROP_CONTENT_TYPE = 0x03,
    MOTE_PROP_RESPONSE_TOPIC = 0x08,
    MOTE_PROP_CORRELATION_DATA = 0x09,
    MOTE_PROP_SUBSCRIPTION_ID = 0x0B,
    MOTE_PROP_SESSION_EXPIRY = 0x11,
    MOTE_PROP_ASSIGNED_CLIENT_ID = 0x12,
    MOTE_PROP_SERVER_KEEP_ALIVE = 0x13,
    MOTE_PROP_AUTH_METHOD = 0x15,
    MOTE_PROP_AUTH_DATA = 0x16,
    MOTE_PROP_REQUEST_PROBLEM_INFO = 0x17,
    MOTE_PROP_WILL_DELAY = 0x18,
    MOTE_PROP_REQUEST_RESPONSE_INFO = 0x19,
    MOTE_PROP_RESPONSE_INFO = 0x1A,
    MOTE_PROP_SERVER_REFERENCE = 0x1C,
    MOTE_PROP_REASON_STRING = 0x1F,
    MOTE_PROP_RECEIVE_MAXIMUM = 0x21,
    MOTE_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
    MOTE_PROP_TOPIC_ALIAS = 0x23,
    MOTE_PROP_MAXIMUM_QOS = 0x24,
    MOTE_PROP_RETAIN_AVAILABLE = 0x25,
    MOTE_PROP_USER_PROPERTY = 0x26,
    MOTE_PROP_MAXIMUM_PACKET_SIZE = 0x27,
    MOTE_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
    MOTE_PROP_SUBSCRIPTION_ID_AVAILABLE = 0x29,
    MOTE_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};

/** How a property's value is encoded. */
enum mote_prop_type {
    MOTE_PROP_BYTE = 1,
    MOTE_PROP_U16,
    MOTE_PROP_U32,
    MOTE_PROP_VARINT,
    MOTE_PROP_STRING, /**< UTF-8 encoded string */
    MOTE_PROP_BINARY,
    MOTE_PROP_PAIR, /**< UTF-8 string pair (user property) */
};

/**
 * Where a property may appear: one bit per packet type (1 << MOTE_CONNECT, ...), and bit 0 for
 * the will properties inside CONNECT (packet type 0 is reserved, so the bit is free).
 */
#define MOTE_IN(type) (1u << (type))
#define MOTE_IN_WILL (1u << 0)

/** One property, decoded or to be encoded. Which member is used follows mote_prop_type_of(id). */
struct mote_prop {
    uint8_t id;
    union {
        uint32_t num;          /**< BYTE, U16, U32, VARINT */
        struct mote_slice str; /**< STRING, BINARY */
        struct {
            struct mote_slice key, value;
        } pair; /**< PAIR */
    } v;
};

/**
 * The properties of one packet. A decode sets `raw` to the validated property bytes (without the
 * length prefix) and leaves `list` NULL. An encode writes `raw` verbatim first (so a broker can
 * forward what it received) and then each of `list`. Either may be empty.
 */
struct mote_props {
    struct mote_slice raw;
    const struct mote_prop *list;
    size_t count;
};

/** Walks the properties of a decoded packet (its `raw` bytes). */
struct mote_prop_iter {
    const uint8_t *pos, *end;
};

/** Static facts about a property identifier. */
struct mote_prop_info {
    uint8_t id;
    uint8_t type;     /**< enum mote_prop_type */
    uint8_t repeat;   /**< 1 if it may appear more than once (see mote_prop_may_repeat) */
    uint32_t allowed; /**< MOTE_IN() bits of the packets that may carry it */
    const char *name; /**< the spec's name, e.g. "Session Expiry Interval" */
};

/** Facts about property @p id, or NULL if MQTT 5 defines no such property. */
const struct mote_prop_info *mote_prop_info(uint8_t id);

/**
 * Whether property @p id may appear more than once in packet @p type (MOTE_IN_WILL's type is 0).
 * User properties always may; a subscription identifier may repeat in PUBLISH only.
 */
int mote_prop_may_repeat(uint8_t id, uint8_t type);

/** Starts walking @p props (a decoded packet's properties). */
void mote_props_iter(const struct mote_props *props, struct mote_prop_iter *it);

/**
 * Reads the next property into @p out. Returns 1 when one was read, 0 at the end. The bytes were
 * validated by the decode, so walking never fails.
 */
int mote_props_next(struct mote_prop_iter *it, struct mote_prop *out);

/**
 * Finds the first property @p id in @p props (its raw bytes, then its list). Returns 1 and fills
 * @p out when found, 0 otherwise.
 */
int mote_props_find(const struct mote_props *props, uint8_t id, struct mote_prop *out);

/* ---------------------------------------------------------------------------------------------
 * Reason codes
 * ------------------------------------------------------------------------------------------- */

/** MQTT 5 reason codes (section 2.4) and the MQTT 3.1.1 CONNACK return codes. */
enum mote_reason {
    MOTE_RC_SUCCESS = 0x00, /**< also Normal disconnection, Granted QoS 0 */
    MOTE_RC_GRANTED_QOS1 = 0x01,
    MOTE_RC_GRANTED_QOS2 = 0x02,
    MOTE_RC_DISCONNECT_WITH_WILL = 0x04,
    MOTE_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    MOTE_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    MOTE_RC_CONTINUE_AUTH = 0x18,
    MOTE_RC_REAUTHENTICATE = 0x19,
    MOTE_RC_UNSPECIFIED = 0x80,
    MOTE_RC_MALFORMED_PACKET = 0x81,
    MOTE_RC_PROTOCOL_ERROR = 0x82,
    MOTE_RC_IMPLEMENTATION_SPECIFIC = 0x83,
    MOTE_RC_UNSUPPORTED_VERSION = 0x84,
    MOTE_RC_CLIENT_ID_NOT_VALID = 0x85,
    MOTE_RC_BAD_USERNAME_OR_PASSWORD = 0x86,
    MOTE_RC_NOT_AUTHORIZED = 0x87,
    MOTE_RC_SERVER_UNAVAILABLE = 0x88,
    MOTE_RC_SERVER_BUSY = 0x89,
    MOTE_RC_BANNED = 0x8A,
    MOTE_RC_SERVER_SHUTTING_DOWN = 0x8B,
    MOTE_RC_BAD_AUTH_METHOD = 0x8C,
    MOTE_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    MOTE_RC_SESSION_TAKEN_OVER = 0x8E,
    MOTE_RC_TOPIC_FILTER_INVALID = 0x8F,
    MOTE_RC_TOPIC_NAME_INVALID = 0x90,
    MOTE_RC_PACKET_ID_IN_USE = 0x91,
    MOTE_RC_PACKET_ID_NOT_FOUND = 0x92,
    MOTE_RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93,
    MOTE_RC_TOPIC_ALIAS_INVALID = 0x94,
    MOTE_RC_PACKET_TOO_LARGE = 0x95,
    MOTE_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
    MOTE_RC_QUOTA_EXCEEDED = 0x97,
    MOTE_RC_ADMINISTRATIVE_ACTION = 0x98,
    MOTE_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    MOTE_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    MOTE_RC_QOS_NOT_SUPPORTED = 0x9B,
    MOTE_RC_USE_ANOTHER_SERVER = 0x9C,
    MOTE_RC_SERVER_MOVED = 0x9D,
    MOTE_RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
    MOTE_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    MOTE_RC_MAXIMUM_CONNECT_TIME = 0xA0,
    MOTE_RC_SUBSCRIPTION_IDS_NOT_SUPPORTED = 0xA1,
    MOTE_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
};

/** MQTT 3.1 / 3.1.1 CONNACK return codes. */
enum mote_connack_v3 {
    MOTE_V3_ACCEPTED = 0,
    MOTE_V3_REFUSED_PROTOCOL_VERSION = 1,
    MOTE_V3_REFUSED_IDENTIFIER = 2,
    MOTE_V3_REFUSED_SERVER_UNAVAILABLE = 3,
    MOTE_V3_REFUSED_BAD_CREDENTIALS = 4,
    MOTE_V3_REFUSED_NOT_AUTHORIZED = 5,
};

/** MQTT 3.1.1 SUBACK failure return code. */
#define MOTE_V3_SUBACK_FAILURE 0x80

/**
 * Whether packet @p type of protocol @p version may carry reason (or return) code @p code.
 * Returns 1 or 0.
 */
int mote_reason_allowed(uint8_t version, uint8_t type, uint8_t code);

/**
 * The spec's name of @p code as packet @p type of @p version uses it, e.g. "Session taken over",
 * or "Connection Refused, not authorized" for a 3.1.1 CONNACK. Never NULL.
 */
const char *mote_reason_name(uint8_t version, uint8_t type, uint8_t code);

/* ---------------------------------------------------------------------------------------------
 * Packets
 * ------------------------------------------------------------------------------------------- */

/** Subscription options (MQTT 5 section 3.8.3.1); in 3.1.1 only qos is used. */
struct mote_subscription {
    struct mote_slice filter;
    uint8_t qos;
    uint8_t no_local;
    uint8_t retain_as_published;
    uint8_t retain_handling; /**< 0: send retained, 1: only if new, 2: never */
};

struct mote_connect {
    uint8_t version;     /**< enum mote_version; decode sets it from the packet */
    uint8_t clean_start; /**< clean session (3.1.1) / clean start (5.0) */
    uint16_t keep_alive; /**< seconds, 0 = off */
    struct mote_props props;
    struct mote_slice client_id;
    uint8_t will;        /**< 1 if a will message follows */
    uint8_t will_qos;
    uint8_t will_retain;
    struct mote_props will_props;
    struct mote_slice will_topic;
    struct mote_slice will_payload;
    uint8_t has_username;
    uint8_t has_password;
    struct mote_slice username;
    struct mote_slice password;
};

struct mote_connack {
    uint8_t session_present;
    uint8_t reason; /**< 5.0 reason code, or 3.1.1 return code (enum mote_connack_v3) */
    struct mote_props props;
};

struct mote_publish {
    uint8_t dup, qos, retain;
    struct mote_slice topic; /**< may be empty in 5.0 when a topic alias is given */
    uint16_t packet_id;      /**< QoS 1 and 2 only */
    struct mote_props props;
    struct mote_slice payload;
};

/** PUBACK, PUBREC, PUBREL, PUBCOMP: the packet type says which. */
struct mote_ack {
    uint16_t packet_id;
    uint8_t reason; /**< 5.0; 0 (success) in 3.1.1 */
    struct mote_props props;
};

/**
 * SUBSCRIBE. To encode, point `list` at `count` subscriptions. A decode sets `count` and `raw`
 * (the validated payload) and leaves `list` NULL; walk it with mote_codec_subscribe_next().
 */
struct mote_subscribe {
    uint16_t packet_id;
    struct mote_props props;
    const struct mote_subscription *list;
    size_t count;
    struct mote_slice raw;
};

/** UNSUBSCRIBE: as SUBSCRIBE, with filters only; walk a decoded one with mote_codec_unsubscribe_next(). */
struct mote_unsubscribe {
    uint16_t packet_id;
    struct mote_props props;
    const struct mote_slice *list;
    size_t count;
    struct mote_slice raw;
};

/** SUBACK and UNSUBACK: one reason code per filter (UNSUBACK in 3.1.1 has none). */
struct mote_suback {
    uint16_t packet_id;
    struct mote_props props;
    const uint8_t *codes;
    size_t count;
};

/** DISCONNECT and AUTH (5.0): a reason code and properties. DISCONNECT in 3.1.1 is empty. */
struct mote_reason_packet {
    uint8_t reason;
    struct mote_props props;
};

/** Any control packet. `flags` is the low nibble of the fixed header (set by decode only). */
struct mote_packet {
    uint8_t type; /**< enum mote_packet_type */
    uint8_t flags;
    union {
        struct mote_connect connect;
        struct mote_connack connack;
        struct mote_publish publish;
        struct mote_ack ack;                 /**< PUBACK, PUBREC, PUBREL, PUBCOMP */
        struct mote_subscribe subscribe;
        struct mote_unsubscribe unsubscribe;
        struct mote_suback suback;           /**< SUBACK, UNSUBACK */
        struct mote_reason_packet reason;    /**< DISCONNECT, AUTH */
    } u;                                     /**< PINGREQ, PINGRESP: nothing */
};

/** Iterates over the filters of a decoded SUBSCRIBE or UNSUBSCRIBE. */
struct mote_iter {
    const uint8_t *pos, *end;
};

/* ---------------------------------------------------------------------------------------------
 * Framing
 * ------------------------------------------------------------------------------------------- */

/** The fixed header of a packet and how far the packet reaches. */
struct mote_frame {
    uint8_t type;        /**< enum mote_packet_type */
    uint8_t flags;       /**< low nibble of the first byte */
    uint8_t header_len;  /**< 2 to 5 */
    uint32_t remaining;  /**< remaining length */
    size_t total;        /**< header_len + remaining; valid when MOTE_OK */
    size_t need;         /**< with MOTE_NEED_MORE: bytes to read at least before calling again */
};

/**
 * Reads the fixed header at the start of @p buf (@p len bytes available).
 *
 * @param max_size largest total packet size accepted, 0 for the protocol's limit.
 * @return MOTE_OK when the whole packet (f->total bytes) is in @p buf;
 *         MOTE_NEED_MORE when it is not (f->need says how many more bytes to read at least;
 *         while the header itself is incomplete that is 1);
 *         MOTE_ERR_PACKET_TYPE (type 0), MOTE_ERR_HEADER_FLAGS (reserved flags, QoS 3 counts as
 *         MOTE_ERR_QOS), MOTE_ERR_VARINT_TOO_LONG, MOTE_ERR_VARINT_NOT_MINIMAL,
 *         MOTE_ERR_PACKET_TOO_LARGE (checked as soon as the length is known), MOTE_ERR_BAD_ARG.
 */
int mote_codec_frame(const uint8_t *buf, size_t len, size_t max_size, struct mote_frame *f);

/* ---------------------------------------------------------------------------------------------
 * Decoding
 * ------------------------------------------------------------------------------------------- */

/**
 * Decodes and validates one whole packet: @p buf holds exactly @p len bytes, fixed header first
 * (as mote_codec_frame() delimits it). Slices in @p out point into @p buf.
 *
 * @param version protocol level the connection negotiated (MOTE_V31, MOTE_V311, MOTE_V5). For a
 *        CONNECT it is ignored: out->u.connect.version says what the packet asked for.
 * @return MOTE_OK, or the first rule the packet breaks: any error of mote_codec_frame(), and
 *         MOTE_ERR_TRUNCATED, MOTE_ERR_TRAILING_BYTES, MOTE_ERR_UTF8_*, MOTE_ERR_TOPIC_*,
 *         MOTE_ERR_FILTER_*, MOTE_ERR_SHARE_SYNTAX, MOTE_ERR_PROPERTY_*, MOTE_ERR_QOS,
 *         MOTE_ERR_PACKET_ID_ZERO, MOTE_ERR_PROTOCOL_NAME, MOTE_ERR_PROTOCOL_LEVEL,
 *         MOTE_ERR_CONNECT_FLAGS, MOTE_ERR_CONNACK_FLAGS, MOTE_ERR_REASON_CODE,
 *         MOTE_ERR_NO_TOPICS, MOTE_ERR_SUBSCRIBE_OPTIONS, MOTE_ERR_SHARED_NO_LOCAL,
 *         MOTE_ERR_PUBLISH_DUP, MOTE_ERR_VERSION. MOTE_NEED_MORE if @p len is short of the
 *         packet, MOTE_ERR_TRAILING_BYTES if it is longer.
 */
int mote_codec_decode(const uint8_t *buf, size_t len, uint8_t version, struct mote_packet *out);

/** Options of mote_codec_decode_opts(). */
enum mote_decode_opt {
    /**
     * Accept SUBSCRIBE and UNSUBSCRIBE filters that break the wildcard or "$share/" rules
     * (they must still be well-formed UTF-8 strings), so that a broker can refuse each bad filter
     * in its SUBACK (0x80 / 0x8F) as Mosquitto does, instead of closing the connection. The caller
     * MUST then check each filter with mote_topic_check_filter().
     */
    MOTE_DECODE_LENIENT_FILTERS = 1u << 0,
};

/** mote_codec_decode() with options (enum mote_decode_opt, or-ed); 0 is mote_codec_decode(). */
int mote_codec_decode_opts(const uint8_t *buf, size_t len, uint8_t version, unsigned opts,
                           struct mote_packet *out);

/**
 * Reads the next subscription of a decoded SUBSCRIBE. Start with it->pos = raw.ptr,
 * it->end = raw.ptr + raw.len (or use mote_codec_iter()). Returns 1 when one was read, 0 at the
 * end. The filter's wildcard syntax is not checked again here (see MOTE_DECODE_LENIENT_FILTERS).
 */
int mote_codec_subscribe_next(struct mote_iter *it, uint8_t version, struct mote_subscription *out);

/** Reads the next filter of a decoded UNSUBSCRIBE. Returns 1 when one was read, 0 at the end. */
int mote_codec_unsubscribe_next(struct mote_iter *it, struct mote_slice *filter);

/** Sets up @p it to walk @p raw. */
void mote_codec_iter(struct mote_slice raw, struct mote_iter *it);

/* ---------------------------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------------------------- */

/**
 * Computes the encoded size of @p p for protocol @p version (for CONNECT, p->u.connect.version
 * is used). Validates what the encoder would: QoS, packet ids, string lengths and UTF-8, topic
 * rules, property types and placement, reason codes, and no properties before MQTT 5.
 *
 * @return MOTE_OK with *size set, or the error the encode would return.
 */
int mote_codec_size(const struct mote_packet *p, uint8_t version, size_t *size);

/**
 * Encodes @p p into @p buf (capacity @p cap) and sets *written. Nothing past *written is touched,
 * and nothing at all is written when the packet does not fit.
 *
 * @return MOTE_OK, MOTE_ERR_BUFFER_TOO_SMALL, or a validation error (see mote_codec_size()).
 */
int mote_codec_encode(const struct mote_packet *p, uint8_t version, uint8_t *buf, size_t cap,
                      size_t *written);

/* ---------------------------------------------------------------------------------------------
 * Building blocks
 * ------------------------------------------------------------------------------------------- */

/** Bytes needed to encode @p value as a variable byte integer (1-4), or 0 if it is too large. */
size_t mote_varint_size(uint32_t value);

/**
 * Decodes a variable byte integer from @p buf. Sets *value and *used.
 * @return MOTE_OK, MOTE_NEED_MORE, MOTE_ERR_VARINT_TOO_LONG, MOTE_ERR_VARINT_NOT_MINIMAL.
 */
int mote_varint_decode(const uint8_t *buf, size_t len, uint32_t *value, size_t *used);

/**
 * Checks an MQTT UTF-8 string: well-formed, no U+0000, no surrogates.
 * @return MOTE_OK, MOTE_ERR_UTF8_ILL_FORMED, MOTE_ERR_UTF8_NULL, MOTE_ERR_UTF8_SURROGATE.
 */
int mote_utf8_check(const uint8_t *s, size_t len);

/* ---------------------------------------------------------------------------------------------
 * Topics
 * ------------------------------------------------------------------------------------------- */

/**
 * Checks a topic name (what PUBLISH carries): at least one byte, no '+' or '#'. UTF-8 is not
 * checked here (the decoder already has). Returns MOTE_OK, MOTE_ERR_TOPIC_EMPTY,
 * MOTE_ERR_TOPIC_WILDCARD.
 */
int mote_topic_check_name(const uint8_t *name, size_t len);

/**
 * Checks a topic filter (what SUBSCRIBE carries): '+' takes a whole level, '#' only as the whole
 * last level, and "$share/NAME/FILTER" with a non-empty NAME without '/', '+', '#' and a valid
 * FILTER. Returns MOTE_OK, MOTE_ERR_TOPIC_EMPTY, MOTE_ERR_FILTER_PLUS, MOTE_ERR_FILTER_HASH,
 * MOTE_ERR_SHARE_SYNTAX.
 */
int mote_topic_check_filter(const uint8_t *filter, size_t len);

/**
 * Splits a shared subscription "$share/GROUP/FILTER". Returns 1 and sets @p group and @p filter
 * when @p full is one (it must have passed mote_topic_check_filter()), 0 otherwise.
 */
int mote_topic_share(struct mote_slice full, struct mote_slice *group, struct mote_slice *filter);

/** Number of levels of a topic name or filter ("a/b" has 2, "" and "a" have 1, "/" has 2). */
size_t mote_topic_levels(const uint8_t *topic, size_t len);

/**
 * Whether topic name @p name matches topic filter @p filter ('+' one level, '#' this level and
 * all below, including the parent). Names that start with '$' are not matched by a filter that
 * starts with a wildcard. The filter must not be a "$share/" one: split it first. Returns 1 or 0.
 */
int mote_topic_match(const uint8_t *filter, size_t flen, const uint8_t *name, size_t nlen);

/** The spec's name of a packet type ("PUBLISH"), or "reserved". */
const char *mote_packet_name(uint8_t type);

#ifdef __cplusplus
}
#endif

#endif /* MOTE_CODEC_H */
