/*
 * tests/unit/harness.h - what every codec unit test shares: cmocka (minicmocka on the Cortex-M3
 * target), guard bytes around every encoder output buffer, a PROT_NONE page right after every
 * decoder input, and helpers that round-trip a packet and compare it field by field.
 *
 * Include it first: on the host it asks libc for the POSIX declarations it needs.
 * A test program may set HARNESS_OUT_MAX (largest encode buffer) and HARNESS_IN_ARENA (embedded
 * input copies) before including it. Static memory stays well under 64 KB by default.
 */
#ifndef MOTE_TEST_HARNESS_H
#define MOTE_TEST_HARNESS_H

#if !defined(MOTE_EMBEDDED_TEST) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE 1 /* mmap's MAP_ANONYMOUS and sysconf under -std=c11 */
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef MOTE_EMBEDDED_TEST
#include "minicmocka.h"
#else
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "mote/mote.h"

#define HARNESS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * What a loop is testing right now (e.g. a property name), printed with every failure the
 * helpers below report, so that a failure in a table-driven test names its row.
 */
static const char *harness_context = "";

/* Sets the context to "a in b" (b may be NULL); "" clears it. */
static inline void harness_set_context(const char *a, const char *b)
{
    static char buf[96];
    size_t n = 0;

    while (*a && n < sizeof buf - 1)
        buf[n++] = *a++;
    if (b) {
        const char *in = " in ";

        while (*in && n < sizeof buf - 1)
            buf[n++] = *in++;
        while (*b && n < sizeof buf - 1)
            buf[n++] = *b++;
    }
    buf[n] = 0;
    harness_context = buf;
}

/* Fails the current test with file:line of the caller and the context. */
#define harness_fail(file, line, fmt, ...)                                                         \
    fail_msg("%s:%d: %s%s" fmt, (file), (line), harness_context, *harness_context ? ": " : "",     \
             __VA_ARGS__)

/* ---------------------------------------------------------------------------------------------
 * Result codes
 * ------------------------------------------------------------------------------------------- */

/* Fails with both codes' names, so a wrong code reads as "MOTE_ERR_X, expected MOTE_ERR_Y". */
#define assert_rc(got, want) harness_assert_rc((got), (want), #got, __FILE__, __LINE__)

static inline void harness_assert_rc(int got, int want, const char *what, const char *file,
                                     int line)
{
    if (got != want)
        harness_fail(file, line, "%s returned %s (%d), expected %s (%d)", what, mote_err_name(got),
                     got, mote_err_name(want), want);
}

/* ---------------------------------------------------------------------------------------------
 * Output guards (coreMQTT's BUFFER_PADDING_BYTE, with a position-dependent pattern so that a
 * shifted or repeated write is seen too). Every byte of the buffer, inside and outside
 * [buf, buf + cap), holds the pattern before the encode; afterwards only [buf, buf + written)
 * may differ.
 * ------------------------------------------------------------------------------------------- */

#ifndef HARNESS_OUT_MAX
#define HARNESS_OUT_MAX 2048
#endif
#define HARNESS_GUARD_LEN 16

static uint8_t harness_out_mem[HARNESS_GUARD_LEN + HARNESS_OUT_MAX + HARNESS_GUARD_LEN];

static inline uint8_t harness_pattern(size_t i)
{
    return (uint8_t)(0xA5u ^ (uint8_t)(i * 29u));
}

/* A fresh guarded output buffer of @p cap bytes (at most HARNESS_OUT_MAX). */
static inline uint8_t *out_buf(size_t cap)
{
    size_t i;

    if (cap > HARNESS_OUT_MAX)
        fail_msg("out_buf(%lu): raise HARNESS_OUT_MAX (%lu)", (unsigned long)cap,
                 (unsigned long)HARNESS_OUT_MAX);
    for (i = 0; i < sizeof harness_out_mem; i++)
        harness_out_mem[i] = harness_pattern(i);
    return harness_out_mem + HARNESS_GUARD_LEN;
}

/* Fails unless every byte outside [buf, buf + written) still holds the pattern. */
#define out_check(written) harness_out_check((written), __FILE__, __LINE__)

static inline void harness_out_check(size_t written, const char *file, int line)
{
    size_t i;

    for (i = 0; i < sizeof harness_out_mem; i++) {
        if (i >= HARNESS_GUARD_LEN && i < HARNESS_GUARD_LEN + written)
            continue;
        if (harness_out_mem[i] != harness_pattern(i))
            harness_fail(file, line, "encoder wrote at buf[%ld] (written %lu)",
                         (long)i - HARNESS_GUARD_LEN, (unsigned long)written);
    }
}

/*
 * Encodes @p p into a guarded buffer of @p cap bytes and checks the guards: on MOTE_OK nothing
 * past *written may change, on MOTE_ERR_BUFFER_TOO_SMALL nothing at all, on any other error
 * nothing outside [buf, buf + cap). *out points at the bytes (valid until the next encode).
 */
#define encode_guarded(p, v, cap, out, written)                                                    \
    harness_encode((p), (v), (cap), (out), (written), __FILE__, __LINE__)

static inline int harness_encode(const struct mote_packet *p, uint8_t version, size_t cap,
                                 const uint8_t **out, size_t *written, const char *file, int line)
{
    uint8_t *buf = out_buf(cap);
    size_t used = 0;
    int rc = mote_codec_encode(p, version, buf, cap, &used);

    if (rc == MOTE_OK) {
        if (used > cap)
            harness_fail(file, line, "encode says it wrote %lu bytes into %lu", (unsigned long)used,
                         (unsigned long)cap);
        harness_out_check(used, file, line);
    } else if (rc == MOTE_ERR_BUFFER_TOO_SMALL) {
        harness_out_check(0, file, line);
    } else {
        harness_out_check(cap, file, line);
    }
    if (out)
        *out = buf;
    if (written)
        *written = rc == MOTE_OK ? used : 0;
    return rc;
}

/* mote_codec_size() and mote_codec_encode() must agree on the validation error. */
#define assert_encode_rc(p, v, want) harness_assert_encode_rc((p), (v), (want), __FILE__, __LINE__)

static inline void harness_assert_encode_rc(const struct mote_packet *p, uint8_t version, int want,
                                            const char *file, int line)
{
    size_t size = 0;
    int rc = mote_codec_size(p, version, &size);

    harness_assert_rc(rc, want, "mote_codec_size", file, line);
    rc = harness_encode(p, version, HARNESS_OUT_MAX, NULL, NULL, file, line);
    harness_assert_rc(rc, want, "mote_codec_encode", file, line);
}

/* ---------------------------------------------------------------------------------------------
 * Input guard (picohttpparser's guard page): guard_in() copies decoder input so that its last
 * byte sits right before a PROT_NONE page, and makes the copy read-only, so an over-read (or a
 * write) crashes at once. A small ring of mappings keeps the last few copies alive, because
 * decoded slices point into them; each mapping is unmapped when its slot is reused.
 * On the embedded target there is no MMU: the copy goes into a static arena, followed by
 * guard bytes, and only the output guards really apply.
 * ------------------------------------------------------------------------------------------- */

#ifndef MOTE_EMBEDDED_TEST

#define HARNESS_IN_SLOTS 8

struct harness_mapping {
    uint8_t *base;
    size_t size;
};

static struct harness_mapping harness_in_slot[HARNESS_IN_SLOTS];
static unsigned harness_in_next;

static inline size_t harness_page(void)
{
    long page = sysconf(_SC_PAGESIZE);

    return page > 0 ? (size_t)page : 4096u;
}

/*
 * Maps @p body writable bytes followed by one PROT_NONE page into @p slot (unmapping what the
 * slot held, unless it has the same size: then it is reused). Returns the base.
 */
static inline uint8_t *harness_map(struct harness_mapping *slot, size_t body)
{
    size_t page = harness_page();
    uint8_t *base;

    if (slot->base && slot->size == body + page) {
        if (mprotect(slot->base, body, PROT_READ | PROT_WRITE) != 0)
            fail_msg("guard_in: mprotect failed");
        return slot->base;
    }
    if (slot->base)
        munmap(slot->base, slot->size);
    slot->base = NULL;
    base = mmap(NULL, body + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        fail_msg("guard_in: mmap of %lu bytes failed", (unsigned long)(body + page));
    if (mprotect(base + body, page, PROT_NONE) != 0)
        fail_msg("guard_in: mprotect failed");
    slot->base = base;
    slot->size = body + page;
    return base;
}

static inline const uint8_t *harness_guard_copy(struct harness_mapping *slot, const void *data,
                                                size_t len)
{
    size_t page = harness_page();
    size_t body = ((len ? len : 1) + page - 1) / page * page;
    uint8_t *base = harness_map(slot, body);
    uint8_t *copy = base + body - len;

    if (len)
        memcpy(copy, data, len);
    if (mprotect(base, body, PROT_READ) != 0)
        fail_msg("guard_in: mprotect failed");
    return copy;
}

/* A read-only copy of @p data whose last byte is followed by a PROT_NONE page. */
static inline const uint8_t *guard_in(const void *data, size_t len)
{
    return harness_guard_copy(&harness_in_slot[harness_in_next++ % HARNESS_IN_SLOTS], data, len);
}

/*
 * As guard_in(), in one scratch mapping of its own: for the many short-lived inputs of a round
 * trip, so that they do not push older guard_in() copies (which slices may point into) out.
 */
static struct harness_mapping harness_scratch;

static inline const uint8_t *guard_in_scratch(const void *data, size_t len)
{
    return harness_guard_copy(&harness_scratch, data, len);
}

/*
 * @p len readable bytes of value @p fill (host only, NULL on the target): a source for huge
 * slices that the codec should reject by their length. With @p fill 0 the pages stay untouched
 * and cost no memory, so even MOTE_VARINT_MAX bytes are cheap.
 */
static inline const uint8_t *harness_filled(size_t len, uint8_t fill)
{
    size_t page = harness_page();
    size_t body = (len + page - 1) / page * page;
    struct harness_mapping *slot = &harness_in_slot[harness_in_next++ % HARNESS_IN_SLOTS];
    uint8_t *base;

    if (slot->base) /* a fresh mapping, so that its pages are zero and untouched */
        munmap(slot->base, slot->size);
    slot->base = NULL;
    base = harness_map(slot, body);
    if (fill)
        memset(base, fill, len);
    if (mprotect(base, body, PROT_READ) != 0)
        fail_msg("harness_filled: mprotect failed");
    return base;
}

#else /* MOTE_EMBEDDED_TEST */

#ifndef HARNESS_IN_ARENA
#define HARNESS_IN_ARENA 4096
#endif

static uint8_t harness_in_arena[HARNESS_IN_ARENA];
static size_t harness_in_pos;
static uint8_t harness_scratch[HARNESS_OUT_MAX + 1 + HARNESS_GUARD_LEN];

static inline const uint8_t *harness_guard_copy(uint8_t *copy, const void *data, size_t len)
{
    size_t i;

    if (len)
        memcpy(copy, data, len);
    for (i = 0; i < HARNESS_GUARD_LEN; i++)
        copy[len + i] = harness_pattern(i);
    return copy;
}

static inline const uint8_t *guard_in(const void *data, size_t len)
{
    const uint8_t *copy;

    if (len + HARNESS_GUARD_LEN > HARNESS_IN_ARENA)
        fail_msg("guard_in(%lu): raise HARNESS_IN_ARENA", (unsigned long)len);
    if (harness_in_pos + len + HARNESS_GUARD_LEN > HARNESS_IN_ARENA)
        harness_in_pos = 0;
    copy = harness_guard_copy(harness_in_arena + harness_in_pos, data, len);
    harness_in_pos += len + HARNESS_GUARD_LEN;
    return copy;
}

static inline const uint8_t *guard_in_scratch(const void *data, size_t len)
{
    if (len + HARNESS_GUARD_LEN > sizeof harness_scratch)
        fail_msg("guard_in_scratch(%lu): raise HARNESS_OUT_MAX", (unsigned long)len);
    return harness_guard_copy(harness_scratch, data, len);
}

static inline const uint8_t *harness_filled(size_t len, uint8_t fill)
{
    (void)len;
    (void)fill;
    return NULL;
}

#endif /* MOTE_EMBEDDED_TEST */

/* Decodes a guarded copy of @p bytes. */
static inline int decode_guarded(const uint8_t *bytes, size_t len, uint8_t version,
                                 struct mote_packet *out)
{
    return mote_codec_decode(guard_in(bytes, len), len, version, out);
}

/* Frames a guarded copy of @p bytes. */
static inline int frame_guarded(const uint8_t *bytes, size_t len, size_t max_size,
                                struct mote_frame *f)
{
    return mote_codec_frame(guard_in(bytes, len), len, max_size, f);
}

/*
 * expect_decode(version, rc, byte...): the whole packet, fixed header included.
 * expect_body(version, rc, first_byte, body...): the remaining length (< 128) is filled in.
 */
#define expect_decode(v, want, ...)                                                                \
    do {                                                                                           \
        static const uint8_t bytes_[] = {__VA_ARGS__};                                             \
        struct mote_packet pkt_;                                                                   \
        harness_assert_rc(decode_guarded(bytes_, sizeof bytes_, (v), &pkt_), (want), "decode",     \
                          __FILE__, __LINE__);                                                     \
    } while (0)

#define expect_body(v, want, first, ...)                                                           \
    do {                                                                                           \
        static const uint8_t body_[] = {__VA_ARGS__};                                              \
        uint8_t pkt_bytes_[2 + sizeof body_];                                                      \
        struct mote_packet pkt_;                                                                   \
        pkt_bytes_[0] = (uint8_t)(first);                                                          \
        pkt_bytes_[1] = (uint8_t)sizeof body_;                                                     \
        memcpy(pkt_bytes_ + 2, body_, sizeof body_);                                               \
        harness_assert_rc(decode_guarded(pkt_bytes_, sizeof pkt_bytes_, (v), &pkt_), (want),       \
                          "decode", __FILE__, __LINE__);                                           \
    } while (0)

/* Decodes body (< 128 bytes) behind @p first into @p out; returns the guarded input. */
static inline const uint8_t *decode_body(uint8_t first, const uint8_t *body, size_t len,
                                         uint8_t version, struct mote_packet *out, int *rc)
{
    uint8_t bytes[2 + 127];
    const uint8_t *in;

    if (len > 127)
        fail_msg("decode_body: body of %lu bytes", (unsigned long)len);
    bytes[0] = first;
    bytes[1] = (uint8_t)len;
    if (len)
        memcpy(bytes + 2, body, len);
    in = guard_in(bytes, len + 2);
    *rc = mote_codec_decode(in, len + 2, version, out);
    return in;
}

/* ---------------------------------------------------------------------------------------------
 * Comparisons
 * ------------------------------------------------------------------------------------------- */

#define HARNESS_EXPECT(cond, file, line)                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            harness_fail(file, line, "expected %s", #cond);                                        \
    } while (0)

#define HARNESS_EXPECT_EQ(got, want, file, line)                                                   \
    do {                                                                                           \
        long got_ = (long)(got), want_ = (long)(want);                                             \
        if (got_ != want_)                                                                         \
            harness_fail(file, line, "%s is %ld, expected %ld", #got, got_, want_);                \
    } while (0)

/* Whether [ptr, ptr + len) lies inside [in, in + in_len). */
static inline int harness_inside(const uint8_t *ptr, size_t len, const uint8_t *in, size_t in_len)
{
    uintptr_t p = (uintptr_t)ptr, b = (uintptr_t)in;

    return p >= b && p + len <= b + in_len;
}

/* Same bytes; and when @p in is given and the slice is not empty, it points into the input. */
#define assert_slice(got, want, in, in_len)                                                        \
    harness_slice((got), (want), (in), (in_len), #got, __FILE__, __LINE__)

static inline void harness_slice(struct mote_slice got, struct mote_slice want, const uint8_t *in,
                                 size_t in_len, const char *what, const char *file, int line)
{
    if (got.len != want.len)
        harness_fail(file, line, "%s has %lu bytes, expected %lu", what, (unsigned long)got.len,
                     (unsigned long)want.len);
    if (got.len == 0)
        return;
    if (got.ptr == NULL)
        harness_fail(file, line, "%s is NULL with %lu bytes", what, (unsigned long)got.len);
    if (memcmp(got.ptr, want.ptr, got.len) != 0)
        harness_fail(file, line, "%s differs from the expected bytes", what);
    if (in && !harness_inside(got.ptr, got.len, in, in_len))
        harness_fail(file, line, "%s does not point into the decoder input", what);
}

static inline struct mote_slice harness_slice_of(const void *ptr, size_t len)
{
    struct mote_slice s;

    s.ptr = (const uint8_t *)ptr;
    s.len = len;
    return s;
}

/* Compares two properties by the type of their identifier. */
static inline void harness_prop(const struct mote_prop *got, const struct mote_prop *want,
                                const uint8_t *in, size_t in_len, const char *file, int line)
{
    const struct mote_prop_info *info;

    HARNESS_EXPECT_EQ(got->id, want->id, file, line);
    info = mote_prop_info(want->id);
    if (!info)
        harness_fail(file, line, "mote_prop_info(0x%02x) is NULL", want->id);
    switch (info->type) {
    case MOTE_PROP_BYTE:
    case MOTE_PROP_U16:
    case MOTE_PROP_U32:
    case MOTE_PROP_VARINT:
        HARNESS_EXPECT_EQ(got->v.num, want->v.num, file, line);
        break;
    case MOTE_PROP_STRING:
    case MOTE_PROP_BINARY:
        harness_slice(got->v.str, want->v.str, in, in_len, "property value", file, line);
        break;
    case MOTE_PROP_PAIR:
        harness_slice(got->v.pair.key, want->v.pair.key, in, in_len, "property key", file, line);
        harness_slice(got->v.pair.value, want->v.pair.value, in, in_len, "property value", file,
                      line);
        break;
    default:
        harness_fail(file, line, "property 0x%02x has type %d", want->id, info->type);
    }
}

/*
 * Decoded properties @p got (raw bytes, list NULL) hold, in order, the properties of @p want's
 * raw bytes and then those of its list.
 */
#define assert_props(got, want, in, in_len)                                                        \
    harness_props((got), (want), (in), (in_len), __FILE__, __LINE__)

static inline void harness_props(const struct mote_props *got, const struct mote_props *want,
                                 const uint8_t *in, size_t in_len, const char *file, int line)
{
    struct mote_props want_raw;
    struct mote_prop_iter git, wit;
    struct mote_prop g, w;
    size_t li = 0, n = 0;

    HARNESS_EXPECT(got->list == NULL, file, line);
    if (got->raw.len)
        HARNESS_EXPECT(in == NULL || harness_inside(got->raw.ptr, got->raw.len, in, in_len), file,
                       line);
    want_raw.raw = want->raw;
    want_raw.list = NULL;
    want_raw.count = 0;
    mote_props_iter(got, &git);
    mote_props_iter(&want_raw, &wit);
    for (;; n++) {
        int has_want = mote_props_next(&wit, &w);
        int has_got;

        if (!has_want && li < want->count) {
            w = want->list[li++];
            has_want = 1;
        }
        memset(&g, 0, sizeof g);
        has_got = mote_props_next(&git, &g);
        if (has_got != has_want)
            harness_fail(file, line, "property %lu: decoded %s, expected %s", (unsigned long)n,
                         has_got ? "one more" : "none", has_want ? "one" : "none");
        if (!has_got)
            break;
        harness_prop(&g, &w, in, in_len, file, line);
    }
}

/* The fixed header flags a correct encoder sets for @p p. */
static inline uint8_t harness_flags(const struct mote_packet *p)
{
    switch (p->type) {
    case MOTE_PUBLISH:
        return (uint8_t)((p->u.publish.dup ? 8 : 0) | (p->u.publish.qos << 1) |
                         (p->u.publish.retain ? 1 : 0));
    case MOTE_PUBREL:
    case MOTE_SUBSCRIBE:
    case MOTE_UNSUBSCRIBE:
        return 2;
    default:
        return 0;
    }
}

/*
 * Decoded @p got equals @p want (as given to the encoder) field by field, for @p version, and
 * every slice of @p got points into the input [in, in + in_len).
 */
#define assert_packet(got, want, v, in, in_len)                                                    \
    harness_packet((got), (want), (v), (in), (in_len), __FILE__, __LINE__)

static inline void harness_packet(const struct mote_packet *got, const struct mote_packet *want,
                                  uint8_t version, const uint8_t *in, size_t in_len,
                                  const char *file, int line)
{
    size_t i;

    HARNESS_EXPECT_EQ(got->type, want->type, file, line);
    HARNESS_EXPECT_EQ(got->flags, harness_flags(want), file, line);
    switch (want->type) {
    case MOTE_CONNECT: {
        const struct mote_connect *g = &got->u.connect, *w = &want->u.connect;

        HARNESS_EXPECT_EQ(g->version, w->version, file, line);
        HARNESS_EXPECT_EQ(g->clean_start, w->clean_start, file, line);
        HARNESS_EXPECT_EQ(g->keep_alive, w->keep_alive, file, line);
        harness_props(&g->props, &w->props, in, in_len, file, line);
        harness_slice(g->client_id, w->client_id, in, in_len, "client_id", file, line);
        HARNESS_EXPECT_EQ(g->will, w->will, file, line);
        if (w->will) {
            HARNESS_EXPECT_EQ(g->will_qos, w->will_qos, file, line);
            HARNESS_EXPECT_EQ(g->will_retain, w->will_retain, file, line);
            harness_props(&g->will_props, &w->will_props, in, in_len, file, line);
            harness_slice(g->will_topic, w->will_topic, in, in_len, "will_topic", file, line);
            harness_slice(g->will_payload, w->will_payload, in, in_len, "will_payload", file, line);
        }
        HARNESS_EXPECT_EQ(g->has_username, w->has_username, file, line);
        HARNESS_EXPECT_EQ(g->has_password, w->has_password, file, line);
        if (w->has_username)
            harness_slice(g->username, w->username, in, in_len, "username", file, line);
        if (w->has_password)
            harness_slice(g->password, w->password, in, in_len, "password", file, line);
        break;
    }
    case MOTE_CONNACK:
        HARNESS_EXPECT_EQ(got->u.connack.session_present, want->u.connack.session_present, file,
                          line);
        HARNESS_EXPECT_EQ(got->u.connack.reason, want->u.connack.reason, file, line);
        harness_props(&got->u.connack.props, &want->u.connack.props, in, in_len, file, line);
        break;
    case MOTE_PUBLISH: {
        const struct mote_publish *g = &got->u.publish, *w = &want->u.publish;

        HARNESS_EXPECT_EQ(g->dup, w->dup, file, line);
        HARNESS_EXPECT_EQ(g->qos, w->qos, file, line);
        HARNESS_EXPECT_EQ(g->retain, w->retain, file, line);
        harness_slice(g->topic, w->topic, in, in_len, "topic", file, line);
        if (w->qos)
            HARNESS_EXPECT_EQ(g->packet_id, w->packet_id, file, line);
        harness_props(&g->props, &w->props, in, in_len, file, line);
        harness_slice(g->payload, w->payload, in, in_len, "payload", file, line);
        break;
    }
    case MOTE_PUBACK:
    case MOTE_PUBREC:
    case MOTE_PUBREL:
    case MOTE_PUBCOMP:
        HARNESS_EXPECT_EQ(got->u.ack.packet_id, want->u.ack.packet_id, file, line);
        HARNESS_EXPECT_EQ(got->u.ack.reason, want->u.ack.reason, file, line);
        harness_props(&got->u.ack.props, &want->u.ack.props, in, in_len, file, line);
        break;
    case MOTE_SUBSCRIBE: {
        const struct mote_subscribe *g = &got->u.subscribe, *w = &want->u.subscribe;
        struct mote_iter it;
        struct mote_subscription s;

        HARNESS_EXPECT_EQ(g->packet_id, w->packet_id, file, line);
        harness_props(&g->props, &w->props, in, in_len, file, line);
        HARNESS_EXPECT_EQ(g->count, w->count, file, line);
        HARNESS_EXPECT(g->list == NULL, file, line);
        HARNESS_EXPECT(harness_inside(g->raw.ptr, g->raw.len, in, in_len), file, line);
        mote_codec_iter(g->raw, &it);
        for (i = 0; i < w->count; i++) {
            memset(&s, 0xEE, sizeof s);
            HARNESS_EXPECT(mote_codec_subscribe_next(&it, version, &s) == 1, file, line);
            harness_slice(s.filter, w->list[i].filter, in, in_len, "filter", file, line);
            HARNESS_EXPECT_EQ(s.qos, w->list[i].qos, file, line);
            if (version == MOTE_V5) {
                HARNESS_EXPECT_EQ(s.no_local, w->list[i].no_local, file, line);
                HARNESS_EXPECT_EQ(s.retain_as_published, w->list[i].retain_as_published, file,
                                  line);
                HARNESS_EXPECT_EQ(s.retain_handling, w->list[i].retain_handling, file, line);
            } else {
                HARNESS_EXPECT_EQ(s.no_local, 0, file, line);
                HARNESS_EXPECT_EQ(s.retain_as_published, 0, file, line);
                HARNESS_EXPECT_EQ(s.retain_handling, 0, file, line);
            }
        }
        HARNESS_EXPECT(mote_codec_subscribe_next(&it, version, &s) == 0, file, line);
        break;
    }
    case MOTE_UNSUBSCRIBE: {
        const struct mote_unsubscribe *g = &got->u.unsubscribe, *w = &want->u.unsubscribe;
        struct mote_iter it;
        struct mote_slice f;

        HARNESS_EXPECT_EQ(g->packet_id, w->packet_id, file, line);
        harness_props(&g->props, &w->props, in, in_len, file, line);
        HARNESS_EXPECT_EQ(g->count, w->count, file, line);
        HARNESS_EXPECT(g->list == NULL, file, line);
        HARNESS_EXPECT(harness_inside(g->raw.ptr, g->raw.len, in, in_len), file, line);
        mote_codec_iter(g->raw, &it);
        for (i = 0; i < w->count; i++) {
            HARNESS_EXPECT(mote_codec_unsubscribe_next(&it, &f) == 1, file, line);
            harness_slice(f, w->list[i], in, in_len, "filter", file, line);
        }
        HARNESS_EXPECT(mote_codec_unsubscribe_next(&it, &f) == 0, file, line);
        break;
    }
    case MOTE_SUBACK:
    case MOTE_UNSUBACK: {
        const struct mote_suback *g = &got->u.suback, *w = &want->u.suback;

        HARNESS_EXPECT_EQ(g->packet_id, w->packet_id, file, line);
        harness_props(&g->props, &w->props, in, in_len, file, line);
        HARNESS_EXPECT_EQ(g->count, w->count, file, line);
        if (w->count) {
            HARNESS_EXPECT(harness_inside(g->codes, g->count, in, in_len), file, line);
            HARNESS_EXPECT(memcmp(g->codes, w->codes, w->count) == 0, file, line);
        }
        break;
    }
    case MOTE_DISCONNECT:
    case MOTE_AUTH:
        HARNESS_EXPECT_EQ(got->u.reason.reason, want->u.reason.reason, file, line);
        harness_props(&got->u.reason.props, &want->u.reason.props, in, in_len, file, line);
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Round trip
 * ------------------------------------------------------------------------------------------- */

struct roundtrip {
    struct mote_packet pkt;  /* the decoded packet */
    const uint8_t *wire;     /* the guarded copy it was decoded from */
    size_t len;              /* encoded size */
    struct mote_frame frame; /* what mote_codec_frame said about the whole packet */
};

/*
 * The full cycle for one packet: size; encode into one byte too few (MOTE_ERR_BUFFER_TOO_SMALL,
 * nothing written); encode into exactly size bytes (written == size, guards intact); frame every
 * prefix (MOTE_NEED_MORE with the right need) and the whole; decode one byte short
 * (MOTE_NEED_MORE) and one byte long (MOTE_ERR_TRAILING_BYTES); decode the exact bytes and
 * compare every field with @p p. @p r gets the decoded packet and its guarded input.
 */
#define roundtrip(p, v, r) harness_roundtrip((p), (v), (r), __FILE__, __LINE__)

static inline void harness_roundtrip(const struct mote_packet *p, uint8_t version,
                                     struct roundtrip *r, const char *file, int line)
{
    const uint8_t *buf;
    size_t size = 0, written = 0, n, header_len;
    struct mote_frame f;
    struct mote_packet tmp;
    int rc;

    memset(r, 0, sizeof *r);
    rc = mote_codec_size(p, version, &size);
    harness_assert_rc(rc, MOTE_OK, "mote_codec_size", file, line);
    if (size < 2 || size > HARNESS_OUT_MAX)
        harness_fail(file, line, "mote_codec_size says %lu", (unsigned long)size);

    rc = harness_encode(p, version, size - 1, &buf, &written, file, line);
    harness_assert_rc(rc, MOTE_ERR_BUFFER_TOO_SMALL, "encode into size - 1", file, line);

    rc = harness_encode(p, version, size, &buf, &written, file, line);
    harness_assert_rc(rc, MOTE_OK, "mote_codec_encode", file, line);
    HARNESS_EXPECT_EQ(written, size, file, line);

    /* The whole packet, then every prefix of it. */
    memset(&f, 0, sizeof f);
    rc = mote_codec_frame(guard_in_scratch(buf, size), size, 0, &f);
    harness_assert_rc(rc, MOTE_OK, "mote_codec_frame", file, line);
    HARNESS_EXPECT_EQ(f.type, p->type, file, line);
    HARNESS_EXPECT_EQ(f.flags, harness_flags(p), file, line);
    HARNESS_EXPECT_EQ(f.total, size, file, line);
    HARNESS_EXPECT_EQ(f.header_len + f.remaining, size, file, line);
    HARNESS_EXPECT_EQ(f.header_len, 1 + mote_varint_size(f.remaining), file, line);
    HARNESS_EXPECT_EQ(buf[0], (p->type << 4) | harness_flags(p), file, line);
    r->frame = f;
    header_len = f.header_len;
    for (n = 0; n < size; n++) {
        memset(&f, 0, sizeof f);
        rc = mote_codec_frame(guard_in_scratch(buf, n), n, 0, &f);
        if (rc != MOTE_NEED_MORE)
            harness_fail(file, line, "frame of %lu of %lu bytes returned %s", (unsigned long)n,
                         (unsigned long)size, mote_err_name(rc));
        if (f.need != (n < header_len ? 1 : size - n))
            harness_fail(file, line, "frame of %lu of %lu bytes needs %lu, expected %lu",
                         (unsigned long)n, (unsigned long)size, (unsigned long)f.need,
                         (unsigned long)(n < header_len ? 1 : size - n));
    }

    rc = mote_codec_decode(guard_in_scratch(buf, size - 1), size - 1, version, &tmp);
    harness_assert_rc(rc, MOTE_NEED_MORE, "decode of size - 1 bytes", file, line);
    /* The extra byte is a guard byte of the output buffer. */
    rc = mote_codec_decode(guard_in_scratch(buf, size + 1), size + 1, version, &tmp);
    harness_assert_rc(rc, MOTE_ERR_TRAILING_BYTES, "decode of size + 1 bytes", file, line);

    r->wire = guard_in(buf, size);
    r->len = size;
    memset(&r->pkt, 0xEE, sizeof r->pkt);
    rc = mote_codec_decode(r->wire, size, version, &r->pkt);
    harness_assert_rc(rc, MOTE_OK, "mote_codec_decode", file, line);
    harness_packet(&r->pkt, p, version, r->wire, size, file, line);
}

/* Encodes @p p and compares the whole packet with @p want (then decodes it back). */
#define assert_encodes_to(p, v, ...)                                                               \
    do {                                                                                           \
        static const uint8_t want_[] = {__VA_ARGS__};                                              \
        harness_encodes_to((p), (v), want_, sizeof want_, __FILE__, __LINE__);                     \
    } while (0)

static inline void harness_encodes_to(const struct mote_packet *p, uint8_t version,
                                      const uint8_t *want, size_t want_len, const char *file,
                                      int line)
{
    struct roundtrip r;
    size_t i;

    harness_roundtrip(p, version, &r, file, line);
    if (r.len != want_len)
        harness_fail(file, line, "encoded %lu bytes, the spec's packet has %lu",
                     (unsigned long)r.len, (unsigned long)want_len);
    for (i = 0; i < want_len; i++)
        if (r.wire[i] != want[i])
            harness_fail(file, line, "byte %lu is 0x%02x, the spec says 0x%02x", (unsigned long)i,
                         r.wire[i], want[i]);
}

/* Small builders. */
static inline struct mote_prop prop_num(uint8_t id, uint32_t num)
{
    struct mote_prop p;

    memset(&p, 0, sizeof p);
    p.id = id;
    p.v.num = num;
    return p;
}

static inline struct mote_prop prop_str(uint8_t id, const char *s)
{
    struct mote_prop p;

    memset(&p, 0, sizeof p);
    p.id = id;
    p.v.str = harness_slice_of(s, strlen(s));
    return p;
}

static inline struct mote_prop prop_pair(const char *k, const char *v)
{
    struct mote_prop p;

    memset(&p, 0, sizeof p);
    p.id = MOTE_PROP_USER_PROPERTY;
    p.v.pair.key = harness_slice_of(k, strlen(k));
    p.v.pair.value = harness_slice_of(v, strlen(v));
    return p;
}

static inline struct mote_props props_of(const struct mote_prop *list, size_t count)
{
    struct mote_props p;

    memset(&p, 0, sizeof p);
    p.list = list;
    p.count = count;
    return p;
}

static inline struct mote_slice slice_str(const char *s)
{
    return harness_slice_of(s, strlen(s));
}

/* The protocol versions every round trip runs in (3.1 is 3.1.1 for all but CONNECT). */
static const uint8_t harness_versions[] = {MOTE_V31, MOTE_V311, MOTE_V5};

#endif /* MOTE_TEST_HARNESS_H */
