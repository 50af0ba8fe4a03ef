/*
 * fuzz/fuzz_frame.c - libFuzzer harness for the framer (mote_codec_frame) and the variable byte
 * integer decoder (mote_varint_decode). Both are held against a reference written from the spec
 * (MQTT 5.0 2.1, 1.5.5), on the whole input and on its short prefixes, under several size limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mote/codec.h"

/* Spec reading of a variable byte integer: at most 4 bytes, and minimal (a last byte of 0 after
 * a first byte is a longer spelling of a shorter number). */
static int ref_varint(const uint8_t *b, size_t len, uint32_t *value, size_t *used)
{
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        if (i == len)
            return MOTE_NEED_MORE;
        v |= (uint32_t)(b[i] & 0x7f) << (7 * i);
        if (!(b[i] & 0x80)) {
            if (i > 0 && b[i] == 0)
                return MOTE_ERR_VARINT_NOT_MINIMAL;
            *value = v;
            *used = i + 1;
            return MOTE_OK;
        }
    }
    return MOTE_ERR_VARINT_TOO_LONG;
}

static size_t put_varint(uint32_t v, uint8_t out[4])
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        out[n++] = v ? (uint8_t)(b | 0x80) : b;
    } while (v && n < 4);
    return n;
}

static size_t ref_varint_size(uint32_t v)
{
    return v < 128u ? 1 : v < 16384u ? 2 : v < 2097152u ? 3 : v <= MOTE_VARINT_MAX ? 4 : 0;
}

static void check_varint(const uint8_t *buf, size_t len)
{
    uint32_t value = 0xdeadbeef, rv = 0;
    size_t used = 99, ru = 0;
    int rc = mote_varint_decode(buf, len, &value, &used);
    int ref = ref_varint(buf, len, &rv, &ru);
    if (len == 0) {
        FUZZ_CHECK(rc == MOTE_NEED_MORE || rc == MOTE_ERR_BAD_ARG, "varint of 0 bytes: %s",
                   mote_err_name(rc));
        return;
    }
    FUZZ_CHECK(rc == ref, "varint %02X.. (%zu bytes): %s, the spec says %s", buf[0], len,
               mote_err_name(rc), mote_err_name(ref));
    if (rc != MOTE_OK)
        return;
    FUZZ_CHECK(value == rv && used == ru, "varint value %u used %zu, the spec says %u used %zu",
               value, used, rv, ru);
    FUZZ_CHECK(value <= MOTE_VARINT_MAX && mote_varint_size(value) == used,
               "mote_varint_size(%u) = %zu, decode used %zu", value, mote_varint_size(value), used);
    uint8_t again[4];
    FUZZ_CHECK(put_varint(value, again) == used && memcmp(again, buf, used) == 0,
               "varint %u does not re-encode to its %zu input bytes", value, used);
}

/* What the spec allows mote_codec_frame(buf, len, max) to answer, and then whether it did. */
static void check_frame(const uint8_t *buf, size_t len, size_t max)
{
    struct mote_frame f;
    memset(&f, 0xA5, sizeof f);
    int rc = mote_codec_frame(buf, len, max, &f);

    if (len == 0) {
        FUZZ_CHECK(rc == MOTE_ERR_BAD_ARG || (rc == MOTE_NEED_MORE && f.need == 1),
                   "frame of 0 bytes: %s need %zu", mote_err_name(rc), f.need);
        return;
    }
    uint8_t type = buf[0] >> 4, flags = buf[0] & 15;

    /* Errors the bytes at hand prove; the framer may name any one of them. */
    int errs[4], nerr = 0;
    if (type == 0)
        errs[nerr++] = MOTE_ERR_PACKET_TYPE;
    else if (type == MOTE_PUBLISH) {
        if (((flags >> 1) & 3) == 3)
            errs[nerr++] = MOTE_ERR_QOS;
    } else if (type == MOTE_PUBREL || type == MOTE_SUBSCRIBE || type == MOTE_UNSUBSCRIBE) {
        if (flags != 2)
            errs[nerr++] = MOTE_ERR_HEADER_FLAGS;
    } else if (flags != 0) {
        errs[nerr++] = MOTE_ERR_HEADER_FLAGS;
    }
    /* DUP on a QoS 0 PUBLISH: the framer may leave it to the decoder. */
    int dup_qos0 = type == MOTE_PUBLISH && (flags & 8) && ((flags >> 1) & 3) == 0;

    uint32_t remaining = 0;
    size_t used = 0;
    int vr = ref_varint(buf + 1, len - 1, &remaining, &used);
    size_t total = 0;
    if (vr == MOTE_OK) {
        total = 1 + used + remaining;
        if (total > (max ? max : MOTE_PACKET_MAX))
            errs[nerr++] = MOTE_ERR_PACKET_TOO_LARGE;
    } else if (vr != MOTE_NEED_MORE) {
        errs[nerr++] = vr;
    }

    int known = 0;
    for (int i = 0; i < nerr; i++)
        known |= rc == errs[i];
    if (dup_qos0 && rc == MOTE_ERR_PUBLISH_DUP)
        return;

    if (vr == MOTE_NEED_MORE) {
        /* Header incomplete: need 1 more byte, unless an error is already proven. */
        FUZZ_CHECK(known || (rc == MOTE_NEED_MORE && f.need == 1),
                   "frame %02X.. of %zu bytes (header incomplete): %s need %zu", buf[0], len,
                   mote_err_name(rc), f.need);
        return;
    }
    if (nerr > 0) {
        FUZZ_CHECK(known, "frame %02X.. of %zu bytes max %zu: %s, the spec says %s", buf[0], len,
                   max, mote_err_name(rc), mote_err_name(errs[0]));
        return;
    }
    if (len < total) {
        FUZZ_CHECK(rc == MOTE_NEED_MORE && f.need >= 1 && f.need <= total - len,
                   "frame %02X.. of %zu/%zu bytes: %s need %zu", buf[0], len, total,
                   mote_err_name(rc), f.need);
        return;
    }
    FUZZ_CHECK(rc == MOTE_OK, "frame %02X.. of %zu bytes, total %zu max %zu: %s", buf[0], len,
               total, max, mote_err_name(rc));
    FUZZ_CHECK(f.type == type && f.flags == flags && f.header_len == 1 + used &&
                   f.remaining == remaining && f.total == total && f.header_len >= 2 &&
                   f.header_len <= 5 && f.total <= len,
               "frame %02X..: type %u flags %u header %u remaining %u total %zu, the spec says "
               "header %zu remaining %u total %zu",
               buf[0], f.type, f.flags, f.header_len, f.remaining, f.total, 1 + used, remaining,
               total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_check_tables();
    check_varint(data, size);

    /* The size limits: none, tiny, the boundaries of 1 to 3 length bytes, the input's own size,
     * and the packet's exact size and one less (so the limit is tried on both sides). */
    size_t max[] = {0, 1, 2, 5, 129, 130, 16386, 16387, size, size + 1, 0, 0};
    size_t nmax = 10;
    uint32_t remaining;
    size_t used;
    if (size >= 2 && ref_varint(data + 1, size - 1, &remaining, &used) == MOTE_OK) {
        size_t total = 1 + used + remaining;
        max[nmax++] = total;
        max[nmax++] = total - 1;
    }
    for (size_t i = 0; i < nmax; i++)
        check_frame(data, size, max[i]);

    /* Every short prefix, each in a buffer of its exact size so a read past len traps. The
     * header is at most 5 bytes: longer prefixes differ only in how much body is there. */
    for (size_t k = 0; k <= size && k <= 7; k++) {
        uint8_t *prefix = fuzz_copy(data, k);
        check_frame(prefix, k, 0);
        check_frame(prefix, k, size);
        check_varint(prefix, k);
        free(prefix);
    }
    if (size > 8) {
        check_frame(data, size - 1, 0);
        check_frame(data, size / 2, 0);
    }

    /* mote_varint_size over the input read as little-endian numbers. */
    for (size_t i = 0; i + 4 <= size && i < 64; i += 4) {
        uint32_t v = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
                     (uint32_t)data[i + 3] << 24;
        v >>= data[i] & 31;
        FUZZ_CHECK(mote_varint_size(v) == ref_varint_size(v), "mote_varint_size(%u) = %zu, not %zu",
                   v, mote_varint_size(v), ref_varint_size(v));
    }
    return 0;
}
