/*
 * utf8.c - the UTF-8 rules of MQTT (3.1.1 section 1.5.3, 5.0 section 1.5.4): well-formed per
 * RFC 3629 (no overlong forms, nothing past U+10FFFF), no U+0000, no surrogates.
 */
#include "codec_internal.h"

/* see mote/codec.h */
int mote_utf8_check(const uint8_t *s, size_t len)
{
    size_t i = 0;
    if (!s && len)
        return MOTE_ERR_BAD_ARG;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

        if (c == 0)
            return MOTE_ERR_UTF8_NULL;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xC2) /* continuation byte, or overlong two-byte form */
            return MOTE_ERR_UTF8_ILL_FORMED;
        if (c < 0xE0) {
            n = 1;
        } else if (c < 0xF0) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
        } else if (c < 0xF5) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* past U+10FFFF */
        } else {
            return MOTE_ERR_UTF8_ILL_FORMED;
        }
        if (len - i - 1 < n)
            return MOTE_ERR_UTF8_ILL_FORMED;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return MOTE_ERR_UTF8_ILL_FORMED;
        if (c == 0xED && s[i + 1] >= 0xA0 && s[i + 1] <= 0xBF)
            return MOTE_ERR_UTF8_SURROGATE;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return MOTE_ERR_UTF8_ILL_FORMED;
        i += n + 1;
    }
    return MOTE_OK;
}

/* see codec_internal.h */
int mote__check_str(struct mote_slice s)
{
    if (s.len > 65535)
        return MOTE_ERR_STRING_TOO_LONG;
    if (!s.ptr && s.len)
        return MOTE_ERR_BAD_ARG;
    return mote_utf8_check(s.ptr, s.len);
}
