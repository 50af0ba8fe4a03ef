/*
 * frame.c - variable byte integers and the fixed header: how long a packet is, and whether all
 * of it has arrived. A network loop calls mote_codec_frame() on what it has read so far.
 */
#include "codec_internal.h"

/* see mote/codec.h */
size_t mote_varint_size(uint32_t value)
{
    if (value < 128u)
        return 1;
    if (value < 16384u)
        return 2;
    if (value < 2097152u)
        return 3;
    if (value <= MOTE_VARINT_MAX)
        return 4;
    return 0;
}

/* see mote/codec.h */
int mote_varint_decode(const uint8_t *buf, size_t len, uint32_t *value, size_t *used)
{
    uint32_t v = 0;
    if ((!buf && len) || !value || !used)
        return MOTE_ERR_BAD_ARG;
    for (size_t i = 0; i < 4; i++) {
        if (i >= len)
            return MOTE_NEED_MORE;
        v |= (uint32_t)(buf[i] & 0x7F) << (7 * i);
        if (!(buf[i] & 0x80)) {
            /* A longer form than needed always ends in a zero byte (MQTT-1.5.5-1). */
            if (i > 0 && buf[i] == 0)
                return MOTE_ERR_VARINT_NOT_MINIMAL;
            *value = v;
            *used = i + 1;
            return MOTE_OK;
        }
    }
    return MOTE_ERR_VARINT_TOO_LONG;
}

/* The fixed-header flags each packet type must carry (MQTT 5.0 section 2.1.3). */
static int check_first_byte(uint8_t type, uint8_t flags)
{
    switch (type) {
    case 0:
        return MOTE_ERR_PACKET_TYPE;
    case MOTE_PUBLISH:
        return ((flags >> 1) & 3) == 3 ? MOTE_ERR_QOS : MOTE_OK;
    case MOTE_PUBREL:
    case MOTE_SUBSCRIBE:
    case MOTE_UNSUBSCRIBE:
        return flags == 2 ? MOTE_OK : MOTE_ERR_HEADER_FLAGS;
    default:
        return flags == 0 ? MOTE_OK : MOTE_ERR_HEADER_FLAGS;
    }
}

/* see mote/codec.h */
int mote_codec_frame(const uint8_t *buf, size_t len, size_t max_size, struct mote_frame *f)
{
    uint32_t remaining;
    size_t used;
    int rc;

    if (!f || (!buf && len))
        return MOTE_ERR_BAD_ARG;
    memset(f, 0, sizeof *f);
    if (len < 1) {
        f->need = 1;
        return MOTE_NEED_MORE;
    }
    f->type = buf[0] >> 4;
    f->flags = buf[0] & 0x0F;
    rc = check_first_byte(f->type, f->flags);
    if (rc != MOTE_OK)
        return rc;
    rc = mote_varint_decode(buf + 1, len - 1, &remaining, &used);
    if (rc == MOTE_NEED_MORE) {
        f->need = 1;
        return rc;
    }
    if (rc != MOTE_OK)
        return rc;
    f->header_len = (uint8_t)(1 + used);
    f->remaining = remaining;
    f->total = f->header_len + (size_t)remaining;
    if (max_size && f->total > max_size)
        return MOTE_ERR_PACKET_TOO_LARGE;
    if (len < f->total) {
        f->need = f->total - len;
        return MOTE_NEED_MORE;
    }
    return MOTE_OK;
}
