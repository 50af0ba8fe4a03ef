/*
 * codec_internal.h - helpers shared by the files of lib/codec, never by anything outside it.
 * A reader walks a packet's bytes and reports MOTE_ERR_TRUNCATED instead of reading past the end;
 * a writer either stores bytes or, with a NULL buffer, only counts them, so that one function per
 * packet both sizes and encodes it (the two can never disagree).
 */
#ifndef MOTE_CODEC_INTERNAL_H
#define MOTE_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mote/codec.h"

struct rd {
    const uint8_t *pos, *end;
};

static inline size_t rd_left(const struct rd *r)
{
    return (size_t)(r->end - r->pos);
}

static inline int rd_u8(struct rd *r, uint8_t *v)
{
    if (rd_left(r) < 1)
        return MOTE_ERR_TRUNCATED;
    *v = r->pos[0];
    r->pos += 1;
    return MOTE_OK;
}

static inline int rd_u16(struct rd *r, uint16_t *v)
{
    if (rd_left(r) < 2)
        return MOTE_ERR_TRUNCATED;
    *v = (uint16_t)((r->pos[0] << 8) | r->pos[1]);
    r->pos += 2;
    return MOTE_OK;
}

static inline int rd_u32(struct rd *r, uint32_t *v)
{
    if (rd_left(r) < 4)
        return MOTE_ERR_TRUNCATED;
    *v = ((uint32_t)r->pos[0] << 24) | ((uint32_t)r->pos[1] << 16) | ((uint32_t)r->pos[2] << 8) |
         (uint32_t)r->pos[3];
    r->pos += 4;
    return MOTE_OK;
}

/* A variable byte integer inside a packet: running out of bytes is truncation, not "need more". */
static inline int rd_varint(struct rd *r, uint32_t *v)
{
    size_t used;
    int rc = mote_varint_decode(r->pos, rd_left(r), v, &used);
    if (rc == MOTE_NEED_MORE)
        return MOTE_ERR_TRUNCATED;
    if (rc == MOTE_OK)
        r->pos += used;
    return rc;
}

/* Binary data: two-byte length, then the bytes. */
static inline int rd_bin(struct rd *r, struct mote_slice *s)
{
    uint16_t n;
    int rc = rd_u16(r, &n);
    if (rc != MOTE_OK)
        return rc;
    if (rd_left(r) < n)
        return MOTE_ERR_TRUNCATED;
    s->ptr = r->pos;
    s->len = n;
    r->pos += n;
    return MOTE_OK;
}

/* A UTF-8 encoded string: binary data that must pass mote_utf8_check(). */
static inline int rd_str(struct rd *r, struct mote_slice *s)
{
    int rc = rd_bin(r, s);
    if (rc != MOTE_OK)
        return rc;
    return mote_utf8_check(s->ptr, s->len);
}

struct wr {
    uint8_t *buf; /* NULL: count only */
    size_t n;
};

static inline void wr_u8(struct wr *w, uint8_t v)
{
    if (w->buf)
        w->buf[w->n] = v;
    w->n += 1;
}

static inline void wr_u16(struct wr *w, uint16_t v)
{
    wr_u8(w, (uint8_t)(v >> 8));
    wr_u8(w, (uint8_t)v);
}

static inline void wr_u32(struct wr *w, uint32_t v)
{
    wr_u16(w, (uint16_t)(v >> 16));
    wr_u16(w, (uint16_t)v);
}

static inline void wr_varint(struct wr *w, uint32_t v)
{
    do {
        uint8_t b = (uint8_t)(v & 0x7F);
        v >>= 7;
        wr_u8(w, v ? (uint8_t)(b | 0x80) : b);
    } while (v);
}

static inline void wr_bytes(struct wr *w, const uint8_t *p, size_t n)
{
    if (w->buf && n)
        memcpy(w->buf + w->n, p, n);
    w->n += n;
}

/* Binary data or a string with its two-byte length; callers check the length first. */
static inline void wr_bin(struct wr *w, struct mote_slice s)
{
    wr_u16(w, (uint16_t)s.len);
    wr_bytes(w, s.ptr, s.len);
}

/* Checks a string an encoder was given: length and UTF-8. */
int mote__check_str(struct mote_slice s);

/*
 * Reads and validates a property section (length prefix included) for packet `type`
 * (0 = will properties). Sets *out to the property bytes. *has_alias is set when a Topic Alias
 * property is present (PUBLISH may then have an empty topic).
 */
int mote__props_decode(struct rd *r, uint8_t type, struct mote_props *out, int *has_alias);

/* Validates and writes (or counts) a property section, length prefix included. */
int mote__props_encode(struct wr *w, uint8_t type, const struct mote_props *props, int *has_alias);

/* Whether a property section has anything to write. */
static inline int mote__props_empty(const struct mote_props *p)
{
    return p->raw.len == 0 && p->count == 0;
}

#endif /* MOTE_CODEC_INTERNAL_H */
