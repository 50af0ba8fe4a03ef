/*
 * fuzz/fuzz_topic.c - libFuzzer harness for the UTF-8 check and the topic functions. The input is
 * "FILTER\0NAME" (no NUL: the input is both). Each function is held against a reference written
 * from the spec (MQTT 5.0 1.5.4, 4.7, 4.8.2), and each string sits in a heap block of its exact
 * size, so a read past either end traps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mote/codec.h"

/* --- references ------------------------------------------------------------------------------ */

/* Well-formed UTF-8 (RFC 3629: no overlongs, nothing past U+10FFFF), no U+0000, no surrogates. */
static int ref_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b == 0)
            return MOTE_ERR_UTF8_NULL;
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if (b >= 0xC2 && b <= 0xDF)
            k = 2, cp = b & 0x1F, min = 0x80;
        else if (b >= 0xE0 && b <= 0xEF)
            k = 3, cp = b & 0x0F, min = 0x800;
        else if (b >= 0xF0 && b <= 0xF4)
            k = 4, cp = b & 0x07, min = 0x10000;
        else
            return MOTE_ERR_UTF8_ILL_FORMED;
        if (n - i < k)
            return MOTE_ERR_UTF8_ILL_FORMED;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return MOTE_ERR_UTF8_ILL_FORMED;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF)
            return MOTE_ERR_UTF8_ILL_FORMED;
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return MOTE_ERR_UTF8_SURROGATE;
        i += k;
    }
    return MOTE_OK;
}

static int ref_name(const uint8_t *s, size_t n)
{
    if (n == 0)
        return MOTE_ERR_TOPIC_EMPTY;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '+' || s[i] == '#')
            return MOTE_ERR_TOPIC_WILDCARD;
    return MOTE_OK;
}

#define E_EMPTY 1u
#define E_PLUS 2u
#define E_HASH 4u
#define E_SHARE 8u

/* The rules a plain (not shared) filter breaks, as E_* bits; 0 when it is valid. */
static unsigned ref_plain_filter(const uint8_t *s, size_t n)
{
    unsigned errs = 0;
    if (n == 0)
        return E_EMPTY;
    for (size_t a = 0; a <= n;) {
        size_t b = a;
        while (b < n && s[b] != '/')
            b++;
        for (size_t i = a; i < b; i++) {
            if (s[i] == '+' && b - a != 1)
                errs |= E_PLUS;
            if (s[i] == '#' && (b - a != 1 || b != n))
                errs |= E_HASH;
        }
        a = b + 1;
    }
    return errs;
}

static int is_share(const uint8_t *s, size_t n)
{
    return n >= 7 && memcmp(s, "$share/", 7) == 0;
}

/* "$share/GROUP/FILTER": GROUP non-empty without '/', '+', '#'; FILTER a valid plain filter. */
static unsigned ref_filter(const uint8_t *s, size_t n)
{
    if (!is_share(s, n))
        return ref_plain_filter(s, n);
    size_t g = 7;
    while (g < n && s[g] != '/' && s[g] != '+' && s[g] != '#')
        g++;
    if (g == 7 || g == n || s[g] != '/')
        return E_SHARE;
    unsigned inner = ref_plain_filter(s + g + 1, n - g - 1);
    return inner ? E_SHARE | inner : 0;
}

static unsigned err_bit(int rc)
{
    switch (rc) {
    case MOTE_ERR_TOPIC_EMPTY:
        return E_EMPTY;
    case MOTE_ERR_FILTER_PLUS:
        return E_PLUS;
    case MOTE_ERR_FILTER_HASH:
        return E_HASH;
    case MOTE_ERR_SHARE_SYNTAX:
        return E_SHARE;
    default:
        return 0;
    }
}

static size_t ref_levels(const uint8_t *s, size_t n)
{
    size_t levels = 1;
    for (size_t i = 0; i < n; i++)
        levels += s[i] == '/';
    return levels;
}

/* Level by level: '+' takes one level (empty ones too), '#' this level and all below, and the
 * parent ("a/#" matches "a"); a filter starting with a wildcard does not match "$..." names. */
static int ref_match(const uint8_t *f, size_t fn, const uint8_t *n, size_t nn)
{
    if (nn > 0 && n[0] == '$' && fn > 0 && (f[0] == '+' || f[0] == '#'))
        return 0;
    size_t fi = 0, ni = 0;
    for (;;) {
        size_t fe = fi, ne = ni;
        while (fe < fn && f[fe] != '/')
            fe++;
        if (fe - fi == 1 && f[fi] == '#')
            return 1;
        while (ne < nn && n[ne] != '/')
            ne++;
        if (!(fe - fi == 1 && f[fi] == '+') &&
            (fe - fi != ne - ni || memcmp(f + fi, n + ni, fe - fi) != 0))
            return 0;
        if (ne == nn)
            return fe == fn || (fn - fe == 2 && f[fe + 1] == '#');
        if (fe == fn)
            return 0;
        fi = fe + 1;
        ni = ne + 1;
    }
}

/* --- checks ---------------------------------------------------------------------------------- */

struct topic {
    uint8_t *s;
    size_t n;
    int utf8, name; /* mote_utf8_check, mote_topic_check_name */
    int filter;     /* mote_topic_check_filter */
    int shared;     /* passes as a filter and is "$share/..." */
    struct mote_slice group, inner;
};

/* The checks on one string alone; fills @p t for the pairwise ones. */
static void check_one(struct topic *t)
{
    const uint8_t *s = t->s;
    size_t n = t->n;

    t->utf8 = mote_utf8_check(s, n);
    int ru = ref_utf8(s, n);
    FUZZ_CHECK((t->utf8 == MOTE_OK) == (ru == MOTE_OK),
               "mote_utf8_check of %zu bytes: %s, the spec says %s", n, mote_err_name(t->utf8),
               mote_err_name(ru));
    FUZZ_CHECK(t->utf8 == MOTE_OK || t->utf8 == MOTE_ERR_UTF8_ILL_FORMED ||
                   t->utf8 == MOTE_ERR_UTF8_NULL || t->utf8 == MOTE_ERR_UTF8_SURROGATE,
               "mote_utf8_check says %s", mote_err_name(t->utf8));
    /* ASCII with a NUL has one fault only, and the code must name it. */
    int ascii = 1;
    for (size_t i = 0; i < n; i++)
        ascii &= s[i] < 0x80;
    if (ascii && ru == MOTE_ERR_UTF8_NULL)
        FUZZ_CHECK(t->utf8 == MOTE_ERR_UTF8_NULL, "ASCII with a NUL: %s", mote_err_name(t->utf8));

    t->name = mote_topic_check_name(s, n);
    FUZZ_CHECK(t->name == ref_name(s, n), "mote_topic_check_name: %s, the spec says %s",
               mote_err_name(t->name), mote_err_name(ref_name(s, n)));

    t->filter = mote_topic_check_filter(s, n);
    unsigned rf = ref_filter(s, n);
    if (rf == 0)
        FUZZ_CHECK(t->filter == MOTE_OK,
                   "mote_topic_check_filter refuses a valid filter (%zu bytes): %s", n,
                   mote_err_name(t->filter));
    else
        FUZZ_CHECK(err_bit(t->filter) & rf,
                   "mote_topic_check_filter (%zu bytes): %s, the spec says it breaks rules 0x%x", n,
                   mote_err_name(t->filter), rf);

    size_t levels = mote_topic_levels(s, n);
    FUZZ_CHECK(levels == ref_levels(s, n), "mote_topic_levels: %zu, not %zu", levels,
               ref_levels(s, n));

    /* Called on anything (a lenient decoder does), answering only counts for a valid filter. */
    struct mote_slice full = {s, n};
    memset(&t->group, 0, sizeof t->group);
    memset(&t->inner, 0, sizeof t->inner);
    t->shared = mote_topic_share(full, &t->group, &t->inner);
    FUZZ_CHECK(t->shared == 0 || t->shared == 1, "mote_topic_share returns %d", t->shared);
    if (t->shared)
        FUZZ_CHECK(fuzz_slice_in(t->group, s, n) && fuzz_slice_in(t->inner, s, n),
                   "mote_topic_share points outside the filter");
    if (t->filter != MOTE_OK) {
        t->shared = 0;
    } else {
        FUZZ_CHECK(t->shared == is_share(s, n), "mote_topic_share says %d", t->shared);
        if (t->shared) {
            size_t g = 7;
            while (s[g] != '/')
                g++;
            FUZZ_CHECK(t->group.ptr == s + 7 && t->group.len == g - 7 &&
                           t->inner.ptr == s + g + 1 && t->inner.len == n - g - 1,
                       "mote_topic_share splits at other places than the spec");
        }
    }

    /* A valid name is a valid filter matching itself (unless it reads as "$share/..."); "#"
     * matches it unless it starts with '$'. */
    if (t->name == MOTE_OK) {
        if (!is_share(s, n)) {
            FUZZ_CHECK(t->filter == MOTE_OK, "a valid name is not a valid filter: %s",
                       mote_err_name(t->filter));
            FUZZ_CHECK(mote_topic_match(s, n, s, n) == 1,
                       "a name does not match itself as a filter");
        }
        FUZZ_CHECK(mote_topic_match((const uint8_t *)"#", 1, s, n) == (s[0] != '$'),
                   "\"#\" %s a name starting with %02X", s[0] == '$' ? "matches" : "does not match",
                   s[0]);
    }
}

/* mote_topic_match(filter, name) on whatever it is given must not read out of bounds; its answer
 * counts only for a valid plain filter and a valid name. */
static void check_match(const struct topic *f, const struct topic *n)
{
    int got = mote_topic_match(f->s, f->n, n->s, n->n);
    FUZZ_CHECK(got == 0 || got == 1, "mote_topic_match returns %d", got);
    if (n->name != MOTE_OK || f->filter != MOTE_OK)
        return;
    if (!f->shared) {
        int want = ref_match(f->s, f->n, n->s, n->n);
        FUZZ_CHECK(got == want,
                   "mote_topic_match(filter %zu bytes, name %zu bytes) = %d, the spec says %d",
                   f->n, n->n, got, want);
    } else {
        /* The group's filter, in a block of its own exact size. */
        uint8_t *inner = fuzz_copy(f->inner.ptr, f->inner.len);
        got = mote_topic_match(inner, f->inner.len, n->s, n->n);
        int want = ref_match(inner, f->inner.len, n->s, n->n);
        FUZZ_CHECK(got == want, "mote_topic_match(shared filter, name) = %d, the spec says %d", got,
                   want);
        free(inner);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t flen = nul ? (size_t)(nul - data) : size;
    const uint8_t *name = nul ? nul + 1 : data;
    size_t nlen = nul ? size - flen - 1 : size;

    struct topic f = {fuzz_copy(data, flen), flen, 0, 0, 0, 0, {0}, {0}};
    struct topic n = {fuzz_copy(name, nlen), nlen, 0, 0, 0, 0, {0}, {0}};
    check_one(&f);
    check_one(&n);
    check_match(&f, &n);
    check_match(&n, &f);
    check_match(&f, &f);
    free(f.s);
    free(n.s);
    return 0;
}
