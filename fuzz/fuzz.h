/*
 * fuzz/fuzz.h - what the libFuzzer harnesses of mote share: the check macro, exact-size copies,
 * and reference facts transcribed from the MQTT 5.0 spec (property table 2-4, reason code
 * table 2-6) that the codec's own tables and its decodes are held against.
 */
#ifndef MOTE_FUZZ_H
#define MOTE_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mote/codec.h"

/* One entry point per harness; replay.c calls it without libFuzzer. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the codec does not hold: say which and where, then abort so libFuzzer (or the
 * replay test) stops on the input that showed it. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: %s:%d: check failed: %s\nfuzz: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A heap copy of exactly @p len bytes, so ASan flags a read one byte past the end. The caller
 * frees it. malloc(0) under ASan returns a zero-byte block, which also traps any read. */
static inline uint8_t *fuzz_copy(const uint8_t *src, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    FUZZ_CHECK(p != NULL, "out of memory copying %zu bytes", len);
    if (len)
        memcpy(p, src, len);
    return p;
}

static inline int fuzz_slice_eq(struct mote_slice a, struct mote_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Whether slice @p s lies inside [buf, buf + len). An empty slice may point anywhere. */
static inline int fuzz_slice_in(struct mote_slice s, const uint8_t *buf, size_t len)
{
    uintptr_t lo = (uintptr_t)buf, p = (uintptr_t)s.ptr;
    return s.len == 0 || (s.ptr != NULL && p >= lo && p - lo <= len && s.len <= len - (p - lo));
}

/* --- MQTT 5.0 table 2-4: property identifiers, their types and the packets that may carry them */

struct fuzz_prop_ref {
    uint8_t id;
    uint8_t type;     /* enum mote_prop_type */
    uint32_t allowed; /* MOTE_IN() bits, MOTE_IN_WILL for the will properties */
};

#define FUZZ_ACKS                                                                                  \
    (MOTE_IN(MOTE_PUBACK) | MOTE_IN(MOTE_PUBREC) | MOTE_IN(MOTE_PUBREL) | MOTE_IN(MOTE_PUBCOMP))
#define FUZZ_PUB_WILL (MOTE_IN(MOTE_PUBLISH) | MOTE_IN_WILL)

static inline const struct fuzz_prop_ref *fuzz_prop_ref(uint8_t id)
{
    static const struct fuzz_prop_ref table[] = {
        {0x01, MOTE_PROP_BYTE, FUZZ_PUB_WILL},
        {0x02, MOTE_PROP_U32, FUZZ_PUB_WILL},
        {0x03, MOTE_PROP_STRING, FUZZ_PUB_WILL},
        {0x08, MOTE_PROP_STRING, FUZZ_PUB_WILL},
        {0x09, MOTE_PROP_BINARY, FUZZ_PUB_WILL},
        {0x0B, MOTE_PROP_VARINT, MOTE_IN(MOTE_PUBLISH) | MOTE_IN(MOTE_SUBSCRIBE)},
        {0x11, MOTE_PROP_U32,
         MOTE_IN(MOTE_CONNECT) | MOTE_IN(MOTE_CONNACK) | MOTE_IN(MOTE_DISCONNECT)},
        {0x12, MOTE_PROP_STRING, MOTE_IN(MOTE_CONNACK)},
        {0x13, MOTE_PROP_U16, MOTE_IN(MOTE_CONNACK)},
        {0x15, MOTE_PROP_STRING,
         MOTE_IN(MOTE_CONNECT) | MOTE_IN(MOTE_CONNACK) | MOTE_IN(MOTE_AUTH)},
        {0x16, MOTE_PROP_BINARY,
         MOTE_IN(MOTE_CONNECT) | MOTE_IN(MOTE_CONNACK) | MOTE_IN(MOTE_AUTH)},
        {0x17, MOTE_PROP_BYTE, MOTE_IN(MOTE_CONNECT)},
        {0x18, MOTE_PROP_U32, MOTE_IN_WILL},
        {0x19, MOTE_PROP_BYTE, MOTE_IN(MOTE_CONNECT)},
        {0x1A, MOTE_PROP_STRING, MOTE_IN(MOTE_CONNACK)},
        {0x1C, MOTE_PROP_STRING, MOTE_IN(MOTE_CONNACK) | MOTE_IN(MOTE_DISCONNECT)},
        {0x1F, MOTE_PROP_STRING,
         MOTE_IN(MOTE_CONNACK) | FUZZ_ACKS | MOTE_IN(MOTE_SUBACK) | MOTE_IN(MOTE_UNSUBACK) |
             MOTE_IN(MOTE_DISCONNECT) | MOTE_IN(MOTE_AUTH)},
        {0x21, MOTE_PROP_U16, MOTE_IN(MOTE_CONNECT) | MOTE_IN(MOTE_CONNACK)},
        {0x22, MOTE_PROP_U16, MOTE_IN(MOTE_CONNECT) | MOTE_IN(MOTE_CONNACK)},
        {0x23, MOTE_PROP_U16, MOTE_IN(MOTE_PUBLISH)},
        {0x24, MOTE_PROP_BYTE, MOTE_IN(MOTE_CONNACK)},
        {0x25, MOTE_PROP_BYTE, MOTE_IN(MOTE_CONNACK)},
        {0x26, MOTE_PROP_PAIR,
         MOTE_IN(MOTE_CONNECT) | MOTE_IN(MOTE_CONNACK) | FUZZ_PUB_WILL | FUZZ_ACKS |
             MOTE_IN(MOTE_SUBSCRIBE) | MOTE_IN(MOTE_SUBACK) | MOTE_IN(MOTE_UNSUBSCRIBE) |
             MOTE_IN(MOTE_UNSUBACK) | MOTE_IN(MOTE_DISCONNECT) | MOTE_IN(MOTE_AUTH)},
        {0x27, MOTE_PROP_U32, MOTE_IN(MOTE_CONNECT) | MOTE_IN(MOTE_CONNACK)},
        {0x28, MOTE_PROP_BYTE, MOTE_IN(MOTE_CONNACK)},
        {0x29, MOTE_PROP_BYTE, MOTE_IN(MOTE_CONNACK)},
        {0x2A, MOTE_PROP_BYTE, MOTE_IN(MOTE_CONNACK)},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].id == id)
            return &table[i];
    return NULL;
}

/* User properties may always repeat; a subscription identifier only in PUBLISH
 * (3.3.2.3.8, 3.8.2.1.2). */
static inline int fuzz_prop_repeats(uint8_t id, uint8_t where)
{
    return id == MOTE_PROP_USER_PROPERTY ||
           (id == MOTE_PROP_SUBSCRIPTION_ID && where == MOTE_PUBLISH);
}

/* Property values the spec forbids: these may only be 0 or 1, those may not be 0. */
static inline int fuzz_prop_value_ok(uint8_t id, uint32_t num)
{
    switch (id) {
    case MOTE_PROP_PAYLOAD_FORMAT:
    case MOTE_PROP_REQUEST_PROBLEM_INFO:
    case MOTE_PROP_REQUEST_RESPONSE_INFO:
    case MOTE_PROP_MAXIMUM_QOS:
    case MOTE_PROP_RETAIN_AVAILABLE:
    case MOTE_PROP_WILDCARD_SUB_AVAILABLE:
    case MOTE_PROP_SUBSCRIPTION_ID_AVAILABLE:
    case MOTE_PROP_SHARED_SUB_AVAILABLE:
        return num <= 1;
    case MOTE_PROP_RECEIVE_MAXIMUM:
    case MOTE_PROP_MAXIMUM_PACKET_SIZE:
    case MOTE_PROP_TOPIC_ALIAS:
    case MOTE_PROP_SUBSCRIPTION_ID:
        return num != 0;
    default:
        return 1;
    }
}

/* --- MQTT 5.0 table 2-6 (reason codes), MQTT 3.1.1 CONNACK and SUBACK return codes ---------- */

/* Whether the spec lets packet @p type of @p version carry @p code. Types without a reason
 * code answer -1: the spec says nothing, so neither does the harness. */
static inline int fuzz_reason_ok(uint8_t version, uint8_t type, uint8_t code)
{
#define B(t) (1u << MOTE_##t)
    static const struct {
        uint8_t code;
        uint16_t in;
    } v5[] = {
        {0x00, B(CONNACK) | B(PUBACK) | B(PUBREC) | B(PUBREL) | B(PUBCOMP) | B(SUBACK) |
                   B(UNSUBACK) | B(DISCONNECT) | B(AUTH)},
        {0x01, B(SUBACK)},
        {0x02, B(SUBACK)},
        {0x04, B(DISCONNECT)},
        {0x10, B(PUBACK) | B(PUBREC)},
        {0x11, B(UNSUBACK)},
        {0x18, B(AUTH)},
        {0x19, B(AUTH)},
        {0x80, B(CONNACK) | B(PUBACK) | B(PUBREC) | B(SUBACK) | B(UNSUBACK) | B(DISCONNECT)},
        {0x81, B(CONNACK) | B(DISCONNECT)},
        {0x82, B(CONNACK) | B(DISCONNECT)},
        {0x83, B(CONNACK) | B(PUBACK) | B(PUBREC) | B(SUBACK) | B(UNSUBACK) | B(DISCONNECT)},
        {0x84, B(CONNACK)},
        {0x85, B(CONNACK)},
        {0x86, B(CONNACK)},
        {0x87, B(CONNACK) | B(PUBACK) | B(PUBREC) | B(SUBACK) | B(UNSUBACK) | B(DISCONNECT)},
        {0x88, B(CONNACK)},
        {0x89, B(CONNACK) | B(DISCONNECT)},
        {0x8A, B(CONNACK)},
        {0x8B, B(DISCONNECT)},
        {0x8C, B(CONNACK) | B(DISCONNECT)},
        {0x8D, B(DISCONNECT)},
        {0x8E, B(DISCONNECT)},
        {0x8F, B(SUBACK) | B(UNSUBACK) | B(DISCONNECT)},
        {0x90, B(CONNACK) | B(PUBACK) | B(PUBREC) | B(DISCONNECT)},
        {0x91, B(PUBACK) | B(PUBREC) | B(SUBACK) | B(UNSUBACK)},
        {0x92, B(PUBREL) | B(PUBCOMP)},
        {0x93, B(DISCONNECT)},
        {0x94, B(DISCONNECT)},
        {0x95, B(CONNACK) | B(DISCONNECT)},
        {0x96, B(DISCONNECT)},
        {0x97, B(CONNACK) | B(PUBACK) | B(PUBREC) | B(SUBACK) | B(DISCONNECT)},
        {0x98, B(DISCONNECT)},
        {0x99, B(CONNACK) | B(PUBACK) | B(PUBREC) | B(DISCONNECT)},
        {0x9A, B(CONNACK) | B(DISCONNECT)},
        {0x9B, B(CONNACK) | B(DISCONNECT)},
        {0x9C, B(CONNACK) | B(DISCONNECT)},
        {0x9D, B(CONNACK) | B(DISCONNECT)},
        {0x9E, B(SUBACK) | B(DISCONNECT)},
        {0x9F, B(CONNACK) | B(DISCONNECT)},
        {0xA0, B(DISCONNECT)},
        {0xA1, B(SUBACK) | B(DISCONNECT)},
        {0xA2, B(SUBACK) | B(DISCONNECT)},
    };
    const uint16_t with_reason = B(CONNACK) | B(PUBACK) | B(PUBREC) | B(PUBREL) | B(PUBCOMP) |
                                 B(SUBACK) | B(UNSUBACK) | B(DISCONNECT) | B(AUTH);
#undef B
    if (type > 15)
        return -1;
    if (version < MOTE_V5) {
        if (type == MOTE_CONNACK)
            return code <= MOTE_V3_REFUSED_NOT_AUTHORIZED;
        if (type == MOTE_SUBACK)
            return code <= 2 || code == MOTE_V3_SUBACK_FAILURE;
        return -1;
    }
    if (!(with_reason & (1u << type)))
        return -1;
    for (size_t i = 0; i < sizeof v5 / sizeof v5[0]; i++)
        if (v5[i].code == code)
            return (v5[i].in >> type) & 1;
    return 0;
}

/* Holds the codec's static tables (mote_prop_info, mote_prop_may_repeat, mote_reason_allowed,
 * the name functions) against the spec once per process. */
static inline void fuzz_check_tables(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    for (unsigned id = 0; id < 256; id++) {
        const struct fuzz_prop_ref *ref = fuzz_prop_ref((uint8_t)id);
        const struct mote_prop_info *info = mote_prop_info((uint8_t)id);
        FUZZ_CHECK((ref == NULL) == (info == NULL), "mote_prop_info(0x%02X) is %s, the spec %s it",
                   id, info ? "set" : "NULL", ref ? "defines" : "does not define");
        if (!ref)
            continue;
        FUZZ_CHECK(info->id == id && info->type == ref->type && info->name != NULL,
                   "mote_prop_info(0x%02X): id 0x%02X type %u, the spec says type %u", id, info->id,
                   info->type, ref->type);
        FUZZ_CHECK(info->allowed == ref->allowed,
                   "mote_prop_info(0x%02X) \"%s\" allowed 0x%05X, the spec says 0x%05X", id,
                   info->name, (unsigned)info->allowed, (unsigned)ref->allowed);
        for (uint8_t t = 0; t < 16; t++) {
            if (!(ref->allowed & (1u << t)))
                continue;
            FUZZ_CHECK(!!mote_prop_may_repeat((uint8_t)id, t) == fuzz_prop_repeats((uint8_t)id, t),
                       "mote_prop_may_repeat(0x%02X, %u) says %d", id, t,
                       mote_prop_may_repeat((uint8_t)id, t));
        }
    }
    for (uint8_t v = MOTE_V31; v <= MOTE_V5; v++)
        for (uint8_t t = 1; t < 16; t++)
            for (unsigned c = 0; c < 256; c++) {
                int ref = fuzz_reason_ok(v, t, (uint8_t)c);
                FUZZ_CHECK(mote_reason_name(v, t, (uint8_t)c) != NULL, "mote_reason_name NULL");
                if (ref < 0)
                    continue;
                FUZZ_CHECK(!!mote_reason_allowed(v, t, (uint8_t)c) == ref,
                           "mote_reason_allowed(v%u, %s, 0x%02X) says %d, the spec says %d", v,
                           mote_packet_name(t), c, mote_reason_allowed(v, t, (uint8_t)c), ref);
            }
    for (int c = -128; c <= 128; c++)
        FUZZ_CHECK(mote_err_name(c) != NULL && mote_strerror(c) != NULL, "no text for code %d", c);
    for (unsigned t = 0; t < 256; t++)
        FUZZ_CHECK(mote_packet_name((uint8_t)t) != NULL, "mote_packet_name(%u) is NULL", t);
}

#endif /* MOTE_FUZZ_H */
