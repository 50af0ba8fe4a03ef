/*
 * mote/error.h - the one error enumeration of the device library, and its table.
 *
 * Every function of libmote that can fail returns an `int` that is MOTE_OK, one of the "not done
 * yet" states (positive), or one of the errors below (negative). One table backs both
 * mote_err_name() and mote_strerror(), so a code never has two descriptions.
 */
#ifndef MOTE_ERROR_H
#define MOTE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Result codes. MOTE_OK is zero; states that mean "not done yet" are positive and are never
 * errors; errors are negative and each names one cause.
 */
enum mote_err {
    MOTE_OK = 0,

    /* States (positive): call again when the condition is met. */
    MOTE_NEED_MORE = 1, /**< the input holds only part of a packet: read more bytes */

    /* Caller errors */
    MOTE_ERR_BAD_ARG = -1,          /**< a NULL pointer or an out-of-range argument */
    MOTE_ERR_BUFFER_TOO_SMALL = -2, /**< the output buffer cannot hold the encoded packet */

    /* Fixed header */
    MOTE_ERR_PACKET_TYPE = -10,      /**< packet type 0, or AUTH before MQTT 5 */
    MOTE_ERR_HEADER_FLAGS = -11,     /**< reserved bits of the fixed header are not as required */
    MOTE_ERR_VARINT_TOO_LONG = -12,  /**< a variable byte integer runs past 4 bytes */
    MOTE_ERR_VARINT_NOT_MINIMAL = -13, /**< a variable byte integer uses more bytes than needed */
    MOTE_ERR_PACKET_TOO_LARGE = -14, /**< the packet is larger than the maximum allowed */

    /* Lengths */
    MOTE_ERR_TRUNCATED = -20,        /**< a field's length points past the end of the packet */
    MOTE_ERR_TRAILING_BYTES = -21,   /**< the packet has bytes after its last field */
    MOTE_ERR_STRING_TOO_LONG = -22,  /**< a string or binary field is longer than 65535 bytes */

    /* UTF-8 */
    MOTE_ERR_UTF8_ILL_FORMED = -30,  /**< not well-formed UTF-8 (overlong, truncated, > U+10FFFF) */
    MOTE_ERR_UTF8_NULL = -31,        /**< the string holds U+0000 */
    MOTE_ERR_UTF8_SURROGATE = -32,   /**< the string encodes a UTF-16 surrogate (U+D800..U+DFFF) */

    /* Topics */
    MOTE_ERR_TOPIC_EMPTY = -40,      /**< a topic name or filter of zero length */
    MOTE_ERR_TOPIC_WILDCARD = -41,   /**< a topic name contains '+' or '#' */
    MOTE_ERR_FILTER_PLUS = -42,      /**< '+' does not take a whole level of the filter */
    MOTE_ERR_FILTER_HASH = -43,      /**< '#' is not alone in the last level of the filter */
    MOTE_ERR_SHARE_SYNTAX = -44,     /**< "$share/" without a valid share name and filter */
    MOTE_ERR_TOPIC_LEVELS = -45,     /**< more topic levels than the limit allows */
    MOTE_ERR_TOPIC_ALIAS_ZERO = -46, /**< Topic Alias 0: aliases start at 1 (MQTT-3.3.2-8) */

    /* Properties (MQTT 5) */
    MOTE_ERR_PROPERTY_UNKNOWN = -50,   /**< a property identifier the spec does not define */
    MOTE_ERR_PROPERTY_DUPLICATE = -51, /**< a property that may appear once appears again */
    MOTE_ERR_PROPERTY_NOT_ALLOWED = -52, /**< a property this packet may not carry */
    MOTE_ERR_PROPERTY_VALUE = -53,     /**< a property value the spec forbids (e.g. 0, or > 1) */
    MOTE_ERR_PROPERTIES_IN_V3 = -54,   /**< properties given for an MQTT 3.1/3.1.1 packet */

    /* Packet fields */
    MOTE_ERR_QOS = -60,              /**< QoS 3 */
    MOTE_ERR_PACKET_ID_ZERO = -61,   /**< packet identifier 0 where one is required */
    MOTE_ERR_PROTOCOL_NAME = -62,    /**< CONNECT names a protocol other than MQTT / MQIsdp */
    MOTE_ERR_PROTOCOL_LEVEL = -63,   /**< CONNECT asks for a protocol level we do not speak */
    MOTE_ERR_CONNECT_FLAGS = -64,    /**< reserved connect flag, or will/password flags inconsistent */
    MOTE_ERR_CONNACK_FLAGS = -65,    /**< reserved CONNACK flags, or session present with a refusal */
    MOTE_ERR_REASON_CODE = -66,      /**< a reason code this packet may not carry */
    MOTE_ERR_NO_TOPICS = -67,        /**< SUBSCRIBE/UNSUBSCRIBE with no topic filter */
    MOTE_ERR_SUBSCRIBE_OPTIONS = -68, /**< reserved subscription option bits, retain handling 3 */
    MOTE_ERR_SHARED_NO_LOCAL = -69,  /**< no local set on a shared subscription */
    MOTE_ERR_PUBLISH_DUP = -70,      /**< DUP set on a QoS 0 PUBLISH */
    MOTE_ERR_VERSION = -71,          /**< protocol version argument is not 3, 4 or 5 */

    /* Connections (the client, its ports) */
    MOTE_ERR_CLOSED = -80,           /**< the peer closed the connection */
    MOTE_ERR_IO = -81,               /**< the connection failed (raw: errno) */
    MOTE_ERR_DNS = -82,              /**< the broker's host name did not resolve */
    MOTE_ERR_TCP_REFUSED = -83,      /**< nothing listens on that address and port */
    MOTE_ERR_TCP_TIMEOUT = -84,      /**< the TCP connection was not established in time */
    MOTE_ERR_TCP_UNREACHABLE = -85,  /**< no route to the broker's network or host */
    MOTE_ERR_NOT_CONNECTED = -86,    /**< the operation needs a connection */
    MOTE_ERR_QUEUE_FULL = -87,       /**< no room in the store or in-flight slots: nothing dropped */

    /* The broker's answers */
    MOTE_ERR_CONNACK_TIMEOUT = -90,  /**< no CONNACK in time */
    MOTE_ERR_CONNECT_REFUSED = -91,  /**< CONNACK refused the connection (reason: which way) */
    MOTE_ERR_SERVER_DISCONNECT = -92, /**< the broker sent DISCONNECT (reason: why) */
    MOTE_ERR_PROTOCOL = -93,         /**< the broker broke the protocol (raw: the codec's error) */
    MOTE_ERR_KEEPALIVE_TIMEOUT = -94, /**< no answer to PINGREQ within the keep alive */

    /* TLS (lib/tls): raw holds BearSSL's error code; mote_tls_explain() says what to do */
    MOTE_ERR_TLS_UNTRUSTED = -100,       /**< the server's chain leads to none of our anchors */
    MOTE_ERR_TLS_HOSTNAME = -101,        /**< the certificate is not for the host we asked for */
    MOTE_ERR_TLS_EXPIRED = -102,         /**< a certificate of the chain has expired */
    MOTE_ERR_TLS_NOT_YET_VALID = -103,   /**< a certificate of the chain is not valid yet */
    MOTE_ERR_TLS_NO_CLOCK = -104,        /**< no clock to check certificate dates with */
    MOTE_ERR_TLS_BAD_SIGNATURE = -105,   /**< a certificate or key exchange signature is wrong */
    MOTE_ERR_TLS_UNSUPPORTED_KEY = -106, /**< a key type or signature algorithm we lack */
    MOTE_ERR_TLS_NO_COMMON_CIPHER = -107, /**< no TLS version or cipher suite in common */
    MOTE_ERR_TLS_ALERT = -108,           /**< the server sent a fatal alert (reason: which) */
    MOTE_ERR_TLS_RECORD_TOO_LARGE = -109, /**< a record larger than our buffer (need/have) */
    MOTE_ERR_TLS_CHAIN_TOO_LARGE = -110, /**< a certificate exceeds the verifier's fixed buffers */
    MOTE_ERR_TLS_PIN_MISMATCH = -111,    /**< the server's key is not the pinned one */
    MOTE_ERR_TLS_NO_ENTROPY = -112,      /**< no random source to seed BearSSL with */
    MOTE_ERR_TLS_OTHER = -119,           /**< another TLS failure (raw: BearSSL's code) */
};

/** Short identifier of a code, e.g. "MOTE_ERR_QOS". Never NULL. */
const char *mote_err_name(int code);

/** One sentence describing a code. Never NULL; unknown codes get a generic text. */
const char *mote_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* MOTE_ERROR_H */
