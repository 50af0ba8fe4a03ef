/*
 * error.c - the table behind mote_err_name() and mote_strerror(): one row per code, so a code
 * never has two descriptions (BearSSL's tools/errors.c does the same).
 */
#include <stddef.h>

#include "mote/error.h"

struct err_row {
    int code;
    const char *name;
    const char *message;
};

#define ROW(code, message) {code, #code, message}

static const struct err_row err_table[] = {
    ROW(MOTE_OK, "success"),
    ROW(MOTE_NEED_MORE, "the packet is incomplete: read more bytes and call again"),
    ROW(MOTE_ERR_BAD_ARG, "invalid argument: a NULL pointer or a value out of range"),
    ROW(MOTE_ERR_BUFFER_TOO_SMALL, "the output buffer is too small for the packet"),
    ROW(MOTE_ERR_PACKET_TYPE, "malformed packet: reserved packet type (0, or AUTH before MQTT 5)"),
    ROW(MOTE_ERR_HEADER_FLAGS, "malformed packet: reserved flag bits of the fixed header are wrong"),
    ROW(MOTE_ERR_VARINT_TOO_LONG, "malformed packet: a variable byte integer is longer than 4 bytes"),
    ROW(MOTE_ERR_VARINT_NOT_MINIMAL,
        "malformed packet: a variable byte integer is not encoded in the fewest bytes"),
    ROW(MOTE_ERR_PACKET_TOO_LARGE, "the packet is larger than the maximum packet size"),
    ROW(MOTE_ERR_TRUNCATED, "malformed packet: a field runs past the end of the packet"),
    ROW(MOTE_ERR_TRAILING_BYTES, "malformed packet: bytes left over after the last field"),
    ROW(MOTE_ERR_STRING_TOO_LONG, "a string or binary field is longer than 65535 bytes"),
    ROW(MOTE_ERR_UTF8_ILL_FORMED, "malformed packet: a string is not well-formed UTF-8"),
    ROW(MOTE_ERR_UTF8_NULL, "malformed packet: a string contains the null character U+0000"),
    ROW(MOTE_ERR_UTF8_SURROGATE,
        "malformed packet: a string encodes a UTF-16 surrogate (U+D800..U+DFFF)"),
    ROW(MOTE_ERR_TOPIC_EMPTY, "a topic name or filter is empty"),
    ROW(MOTE_ERR_TOPIC_WILDCARD, "a topic name contains a wildcard ('+' or '#')"),
    ROW(MOTE_ERR_FILTER_PLUS, "a topic filter has '+' that does not take a whole level"),
    ROW(MOTE_ERR_FILTER_HASH, "a topic filter has '#' somewhere other than as its whole last level"),
    ROW(MOTE_ERR_SHARE_SYNTAX,
        "a shared subscription is not \"$share/NAME/FILTER\" with a name free of '/', '+', '#'"),
    ROW(MOTE_ERR_TOPIC_LEVELS, "the topic has more levels than allowed"),
    ROW(MOTE_ERR_TOPIC_ALIAS_ZERO, "a Topic Alias of 0: aliases start at 1"),
    ROW(MOTE_ERR_PROPERTY_UNKNOWN, "malformed packet: unknown property identifier"),
    ROW(MOTE_ERR_PROPERTY_DUPLICATE, "protocol error: a property that may appear once appears twice"),
    ROW(MOTE_ERR_PROPERTY_NOT_ALLOWED, "protocol error: a property this packet may not carry"),
    ROW(MOTE_ERR_PROPERTY_VALUE, "protocol error: a property has a value the specification forbids"),
    ROW(MOTE_ERR_PROPERTIES_IN_V3, "properties exist only in MQTT 5, not in MQTT 3.1/3.1.1"),
    ROW(MOTE_ERR_QOS, "malformed packet: QoS 3 does not exist"),
    ROW(MOTE_ERR_PACKET_ID_ZERO, "protocol error: packet identifier 0 where one is required"),
    ROW(MOTE_ERR_PROTOCOL_NAME, "CONNECT names a protocol other than MQTT (or MQIsdp for 3.1)"),
    ROW(MOTE_ERR_PROTOCOL_LEVEL, "CONNECT asks for a protocol version other than 3.1, 3.1.1 or 5.0"),
    ROW(MOTE_ERR_CONNECT_FLAGS,
        "malformed CONNECT: reserved flag set, or will/user name/password flags inconsistent"),
    ROW(MOTE_ERR_CONNACK_FLAGS,
        "malformed CONNACK: reserved flags set, or session present with a refusal"),
    ROW(MOTE_ERR_REASON_CODE, "a reason code this packet may not carry"),
    ROW(MOTE_ERR_NO_TOPICS, "SUBSCRIBE, UNSUBSCRIBE or their ack carries no topic filter or code"),
    ROW(MOTE_ERR_SUBSCRIBE_OPTIONS,
        "malformed SUBSCRIBE: reserved option bits set, or retain handling 3"),
    ROW(MOTE_ERR_SHARED_NO_LOCAL, "protocol error: no local set on a shared subscription"),
    ROW(MOTE_ERR_PUBLISH_DUP, "malformed PUBLISH: DUP set on a QoS 0 message"),
    ROW(MOTE_ERR_VERSION, "protocol version must be 3 (3.1), 4 (3.1.1) or 5 (5.0)"),
    ROW(MOTE_ERR_CLOSED, "the connection was closed by the other side"),
    ROW(MOTE_ERR_IO, "the connection failed"),
    ROW(MOTE_ERR_DNS, "the broker's host name could not be resolved"),
    ROW(MOTE_ERR_TCP_REFUSED, "connection refused: nothing listens on that address and port"),
    ROW(MOTE_ERR_TCP_TIMEOUT, "the TCP connection timed out: the broker did not answer"),
    ROW(MOTE_ERR_TCP_UNREACHABLE, "no route to the broker's network or host"),
    ROW(MOTE_ERR_NOT_CONNECTED, "not connected to the broker"),
    ROW(MOTE_ERR_QUEUE_FULL, "no room to keep the message: nothing was dropped, try again later"),
    ROW(MOTE_ERR_CONNACK_TIMEOUT, "the broker did not answer CONNECT in time"),
    ROW(MOTE_ERR_CONNECT_REFUSED, "the broker refused the connection"),
    ROW(MOTE_ERR_SERVER_DISCONNECT, "the broker ended the connection"),
    ROW(MOTE_ERR_PROTOCOL, "the broker broke the MQTT protocol"),
    ROW(MOTE_ERR_KEEPALIVE_TIMEOUT, "the broker stopped answering (keep alive timeout)"),
    /* TLS (lib/tls) */
    ROW(MOTE_ERR_TLS_UNTRUSTED,
        "TLS: the server's certificate chain is not signed by any trusted CA"),
    ROW(MOTE_ERR_TLS_HOSTNAME, "TLS: the server's certificate is not for the host name asked"),
    ROW(MOTE_ERR_TLS_EXPIRED, "TLS: a certificate of the server's chain has expired"),
    ROW(MOTE_ERR_TLS_NOT_YET_VALID, "TLS: a certificate of the server's chain is not valid yet"),
    ROW(MOTE_ERR_TLS_NO_CLOCK, "TLS: no clock to check the certificate dates with"),
    ROW(MOTE_ERR_TLS_BAD_SIGNATURE, "TLS: a signature in the handshake does not verify"),
    ROW(MOTE_ERR_TLS_UNSUPPORTED_KEY,
        "TLS: the server uses a key type or signature algorithm this device does not support"),
    ROW(MOTE_ERR_TLS_NO_COMMON_CIPHER,
        "TLS: no protocol version or cipher suite in common with the server"),
    ROW(MOTE_ERR_TLS_ALERT, "TLS: the server sent a fatal alert"),
    ROW(MOTE_ERR_TLS_RECORD_TOO_LARGE,
        "TLS: record larger than our buffer: the server ignored max_fragment_length"),
    ROW(MOTE_ERR_TLS_CHAIN_TOO_LARGE,
        "TLS: a certificate of the chain is too large for the verifier's buffers"),
    ROW(MOTE_ERR_TLS_PIN_MISMATCH, "TLS: the server's public key is not the pinned one"),
    ROW(MOTE_ERR_TLS_NO_ENTROPY, "TLS: no random source to seed the TLS engine"),
    ROW(MOTE_ERR_TLS_OTHER, "TLS: the handshake or a record failed"),
};

static const struct err_row *err_find(int code)
{
    for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].code == code)
            return &err_table[i];
    return NULL;
}

/* see mote/error.h */
const char *mote_err_name(int code)
{
    const struct err_row *row = err_find(code);
    return row ? row->name : "MOTE_ERR_UNKNOWN";
}

/* see mote/error.h */
const char *mote_strerror(int code)
{
    const struct err_row *row = err_find(code);
    return row ? row->message : "unknown error code";
}
