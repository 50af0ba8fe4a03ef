/*
 * topic.c - topic names, topic filters and matching (MQTT 5.0 section 4.7, 3.1.1 section 4.7).
 * Broker and client both need these, so they live with the codec. Shared subscriptions
 * ("$share/NAME/FILTER", 5.0 section 4.8.2) are recognised in every version, as Mosquitto does.
 */
#include "codec_internal.h"

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN 7

/* see mote/codec.h */
int mote_topic_check_name(const uint8_t *name, size_t len)
{
    if (len == 0)
        return MOTE_ERR_TOPIC_EMPTY;
    if (!name)
        return MOTE_ERR_BAD_ARG;
    for (size_t i = 0; i < len; i++)
        if (name[i] == '+' || name[i] == '#')
            return MOTE_ERR_TOPIC_WILDCARD;
    return MOTE_OK;
}

static int check_plain_filter(const uint8_t *f, size_t len)
{
    if (len == 0)
        return MOTE_ERR_TOPIC_EMPTY;
    for (size_t i = 0; i < len; i++) {
        int starts_level = i == 0 || f[i - 1] == '/';
        if (f[i] == '+') {
            if (!starts_level || (i + 1 < len && f[i + 1] != '/'))
                return MOTE_ERR_FILTER_PLUS;
        } else if (f[i] == '#') {
            if (!starts_level || i + 1 != len)
                return MOTE_ERR_FILTER_HASH;
        }
    }
    return MOTE_OK;
}

static int is_share(const uint8_t *f, size_t len)
{
    return len >= SHARE_PREFIX_LEN && memcmp(f, SHARE_PREFIX, SHARE_PREFIX_LEN) == 0;
}

/* see mote/codec.h */
int mote_topic_share(struct mote_slice full, struct mote_slice *group, struct mote_slice *filter)
{
    size_t i;
    if (!full.ptr || !is_share(full.ptr, full.len))
        return 0;
    for (i = SHARE_PREFIX_LEN; i < full.len && full.ptr[i] != '/'; i++)
        ;
    if (i == full.len)
        return 0;
    if (group) {
        group->ptr = full.ptr + SHARE_PREFIX_LEN;
        group->len = i - SHARE_PREFIX_LEN;
    }
    if (filter) {
        filter->ptr = full.ptr + i + 1;
        filter->len = full.len - i - 1;
    }
    return 1;
}

/* see mote/codec.h */
int mote_topic_check_filter(const uint8_t *filter, size_t len)
{
    struct mote_slice group, rest;
    if (len == 0)
        return MOTE_ERR_TOPIC_EMPTY;
    if (!filter)
        return MOTE_ERR_BAD_ARG;
    if (!is_share(filter, len))
        return check_plain_filter(filter, len);
    if (!mote_topic_share((struct mote_slice){filter, len}, &group, &rest))
        return MOTE_ERR_SHARE_SYNTAX;
    if (group.len == 0 || rest.len == 0)
        return MOTE_ERR_SHARE_SYNTAX;
    for (size_t i = 0; i < group.len; i++)
        if (group.ptr[i] == '+' || group.ptr[i] == '#')
            return MOTE_ERR_SHARE_SYNTAX;
    return check_plain_filter(rest.ptr, rest.len);
}

/* see mote/codec.h */
size_t mote_topic_levels(const uint8_t *topic, size_t len)
{
    size_t levels = 1;
    for (size_t i = 0; i < len; i++)
        if (topic[i] == '/')
            levels++;
    return levels;
}

/* see mote/codec.h */
int mote_topic_match(const uint8_t *filter, size_t flen, const uint8_t *name, size_t nlen)
{
    size_t fi = 0, ni = 0;

    if (!filter || !name || flen == 0)
        return 0;
    /* A '$' topic is not matched by a filter that starts with a wildcard (MQTT-4.7.2-1). */
    if (nlen > 0 && name[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
        return 0;

    for (;;) {
        /* Both indexes stand at the start of a level. */
        if (fi < flen && filter[fi] == '#')
            return 1;
        if (fi < flen && filter[fi] == '+') {
            while (ni < nlen && name[ni] != '/')
                ni++;
            fi++;
        } else {
            while (fi < flen && filter[fi] != '/') {
                if (ni >= nlen || name[ni] != filter[fi])
                    return 0;
                fi++;
                ni++;
            }
            if (ni < nlen && name[ni] != '/')
                return 0;
        }
        /* Both stand at the end of the level: a '/' or the end. */
        if (fi >= flen)
            return ni >= nlen;
        if (ni >= nlen) /* "sport/#" also matches "sport" */
            return flen - fi == 2 && filter[fi + 1] == '#';
        fi++;
        ni++;
    }
}
