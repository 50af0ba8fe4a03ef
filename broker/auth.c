/*
 * auth.c - Mosquitto 2's password file (PBKDF2-SHA512 "$7$" and salted SHA-512 "$6$" entries)
 * and ACL file, read into immutable tables that any worker may check against at once.
 * docs/auth.md describes the formats and the rules; auth.h the functions.
 */
#include "auth.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "alloc.h"
#include "mote/codec.h"

#define HASH_LEN 64 /* SHA-512 */
#define SALT_MAX 64 /* mosquitto_passwd writes 12 bytes */
#define FILE_MAX (64u * 1024u * 1024u)

/* ---------------------------------------------------------------------------------------------
 * Shared by both files
 * ------------------------------------------------------------------------------------------- */

static void say(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void say(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!err || !errlen)
        return;
    if (line)
        snprintf(err, errlen, "%s:%d: %s", name, line, msg);
    else
        snprintf(err, errlen, "%s: %s", name, msg);
}

/* Reads a whole file, NUL-terminated; NULL with a message on error. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t cap = 0, n = 0;

    if (!f) {
        say(err, errlen, path, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - n < 4096) {
            char *more;
            if (cap >= FILE_MAX) {
                say(err, errlen, path, 0, "larger than 64 MB: not a password or ACL file");
                goto fail;
            }
            more = moted__realloc(text, cap ? cap * 2 : 16384);
            if (!more) {
                say(err, errlen, path, 0, "out of memory");
                goto fail;
            }
            text = more;
            cap = cap ? cap * 2 : 16384;
        }
        size_t got = fread(text + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        say(err, errlen, path, 0, "cannot read: %s", strerror(errno));
        goto fail;
    }
    fclose(f);
    text[n] = 0;
    *len = n;
    return text;
fail:
    fclose(f);
    moted__free(text);
    return NULL;
}

/* The next line of text (without "\r\n"), blanks trimmed at both ends. 0 at the end. */
struct lines {
    const char *p, *end;
    int number;
};

static int next_line(struct lines *ls, const char **start, size_t *len)
{
    const char *s, *e, *eol;
    if (ls->p >= ls->end)
        return 0;
    eol = memchr(ls->p, '\n', (size_t)(ls->end - ls->p));
    if (!eol)
        eol = ls->end;
    s = ls->p;
    e = eol;
    ls->p = eol < ls->end ? eol + 1 : eol;
    ls->number++;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    *start = s;
    *len = (size_t)(e - s);
    return 1;
}

static int blank_or_comment(const char *s, size_t len)
{
    return len == 0 || s[0] == '#';
}

/* Standard base64, '=' padding optional. The number of bytes, or -1 if it is not base64. */
static long base64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0, pad = 0;

    while (len && s[len - 1] == '=') {
        len--;
        pad++;
    }
    if (pad > 2 || (pad && (len + pad) % 4) || len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i], v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1)) /* stray low bits: not what an encoder makes */
        return -1;
    return (long)n;
}

/* ---------------------------------------------------------------------------------------------
 * Password file
 * ------------------------------------------------------------------------------------------- */

struct pw_entry {
    char *user;
    size_t user_len;
    int line;
    int iterations; /* 0: "$6$" salted SHA-512 */
    size_t salt_len;
    uint8_t salt[SALT_MAX];
    uint8_t hash[HASH_LEN];
};

struct moted_passwd {
    struct pw_entry *entries; /* sorted by user name, one per user */
    size_t count;
};

/* Parses "$7$ITER$SALT$HASH" or "$6$SALT$HASH" into e; NULL, or what is wrong. */
static const char *parse_hash(const char *h, size_t len, struct pw_entry *e)
{
    const char *end = h + len, *salt, *hash, *dollar;
    long n;

    if (len >= 3 && !memcmp(h, "$7$", 3)) {
        const char *it = h + 3;
        long long iter = 0;
        dollar = memchr(it, '$', (size_t)(end - it));
        if (!dollar || dollar == it)
            return "a $7$ entry needs $ITERATIONS$SALT$HASH after it";
        for (const char *p = it; p < dollar; p++) {
            if (*p < '0' || *p > '9')
                return "the iteration count of a $7$ entry is not a number";
            iter = iter * 10 + (*p - '0');
            if (iter > INT_MAX)
                return "the iteration count of a $7$ entry is too large";
        }
        if (iter < 1)
            return "the iteration count of a $7$ entry must be at least 1";
        e->iterations = (int)iter;
        salt = dollar + 1;
    } else if (len >= 3 && !memcmp(h, "$6$", 3)) {
        e->iterations = 0;
        salt = h + 3;
    } else if (len == 0) {
        return "no password hash after ':' (set one with: mote passwd FILE USER)";
    } else {
        return "unknown password hash: expected $7$ (PBKDF2-SHA512) or $6$ (SHA-512), as "
               "mosquitto_passwd or mote passwd write them (a plain-text password is not "
               "accepted)";
    }
    dollar = memchr(salt, '$', (size_t)(end - salt));
    if (!dollar)
        return "a password entry needs $SALT$HASH";
    hash = dollar + 1;
    if (memchr(hash, '$', (size_t)(end - hash)))
        return "too many '$' fields in the password hash";
    n = base64_decode(salt, (size_t)(dollar - salt), e->salt, sizeof e->salt);
    if (n < 1)
        return "the salt is not base64 of 1 to 64 bytes";
    e->salt_len = (size_t)n;
    n = base64_decode(hash, (size_t)(end - hash), e->hash, sizeof e->hash);
    if (n != HASH_LEN)
        return "the hash is not base64 of 64 bytes (SHA-512)";
    return NULL;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct pw_entry *x = a, *y = b;
    size_t n = x->user_len < y->user_len ? x->user_len : y->user_len;
    int c = memcmp(x->user, y->user, n);
    if (c)
        return c;
    if (x->user_len != y->user_len)
        return x->user_len < y->user_len ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

struct moted_passwd *moted__passwd_parse(const char *name, const char *text, size_t len, char *err,
                                         size_t errlen)
{
    struct moted_passwd *pf = moted__calloc(1, sizeof *pf);
    struct lines ls = {text, text + len, 0};
    size_t cap = 0, kept = 0;
    const char *s;
    size_t n;

    if (!pf) {
        say(err, errlen, name, 0, "out of memory");
        return NULL;
    }
    while (next_line(&ls, &s, &n)) {
        const char *colon, *u, *h;
        size_t ulen, hlen;
        struct pw_entry *e;
        const char *why;

        if (blank_or_comment(s, n))
            continue;
        if (memchr(s, 0, n)) {
            say(err, errlen, name, ls.number, "contains a NUL byte: not a password file");
            goto fail;
        }
        colon = memchr(s, ':', n);
        if (!colon) {
            say(err, errlen, name, ls.number,
                "no ':' in the line: expected USER:$7$... (make entries with mote passwd)");
            goto fail;
        }
        /* Mosquitto trims blanks around the user name and the hash. */
        u = s;
        ulen = (size_t)(colon - s);
        while (ulen && (u[ulen - 1] == ' ' || u[ulen - 1] == '\t'))
            ulen--;
        h = colon + 1;
        hlen = (size_t)(s + n - h);
        while (hlen && (*h == ' ' || *h == '\t'))
            h++, hlen--;
        if (ulen == 0) {
            say(err, errlen, name, ls.number, "empty user name before ':'");
            goto fail;
        }
        if (ulen > 65535) {
            say(err, errlen, name, ls.number, "user name longer than MQTT allows (65535 bytes)");
            goto fail;
        }
        if (pf->count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct pw_entry *more = moted__realloc(pf->entries, ncap * sizeof *more);
            if (!more) {
                say(err, errlen, name, ls.number, "out of memory");
                goto fail;
            }
            pf->entries = more;
            cap = ncap;
        }
        e = &pf->entries[pf->count];
        memset(e, 0, sizeof *e);
        why = parse_hash(h, hlen, e);
        if (why) {
            say(err, errlen, name, ls.number, "user '%.*s': %s", (int)(ulen > 64 ? 64 : ulen), u,
                why);
            goto fail;
        }
        e->user = moted__strndup(u, ulen);
        if (!e->user) {
            say(err, errlen, name, ls.number, "out of memory");
            goto fail;
        }
        e->user_len = ulen;
        e->line = ls.number;
        pf->count++;
    }

    /* One entry per user: the last line wins, as in Mosquitto. */
    if (pf->count)
        qsort(pf->entries, pf->count, sizeof *pf->entries, entry_cmp);
    for (size_t i = 0; i < pf->count; i++) {
        struct pw_entry *e = &pf->entries[i];
        if (i + 1 < pf->count && e->user_len == e[1].user_len &&
            !memcmp(e->user, e[1].user, e->user_len)) {
            moted__free(e->user);
            continue;
        }
        pf->entries[kept++] = *e;
    }
    pf->count = kept;
    return pf;

fail:
    moted__passwd_free(pf);
    return NULL;
}

struct moted_passwd *moted__passwd_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = read_file(path, &len, err, errlen);
    struct moted_passwd *pf;
    if (!text)
        return NULL;
    pf = moted__passwd_parse(path, text, len, err, errlen);
    moted__free(text);
    return pf;
}

static const struct pw_entry *find_user(const struct moted_passwd *pf, const char *user,
                                        size_t ulen)
{
    size_t lo = 0, hi = pf ? pf->count : 0;
    struct pw_entry key = {.user = (char *)user, .user_len = ulen, .line = INT_MIN};
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = entry_cmp(&pf->entries[mid], &key);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < (pf ? pf->count : 0) && pf->entries[lo].user_len == ulen &&
        !memcmp(pf->entries[lo].user, user, ulen))
        return &pf->entries[lo];
    return NULL;
}

/* The hash the entry's scheme makes of pw; 0 on failure. */
static int hash_password(const struct pw_entry *e, const uint8_t *pw, size_t pwlen,
                         uint8_t out[HASH_LEN])
{
    const char *pass = pwlen ? (const char *)pw : "";
    if (pwlen > INT_MAX)
        return 0;
    if (e->iterations) {
        return PKCS5_PBKDF2_HMAC(pass, (int)pwlen, e->salt, (int)e->salt_len, e->iterations,
                                 EVP_sha512(), HASH_LEN, out) == 1;
    }
    /* Mosquitto 1.x: SHA-512 over the password, then the salt. */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, pass, pwlen) == 1 &&
             EVP_DigestUpdate(ctx, e->salt, e->salt_len) == 1 &&
             EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == HASH_LEN;
    EVP_MD_CTX_free(ctx);
    return ok;
}

int moted__passwd_check(const struct moted_passwd *pf, const char *user, size_t ulen,
                        const uint8_t *pw, size_t pwlen)
{
    const struct pw_entry *e = user ? find_user(pf, user, ulen) : NULL;
    uint8_t out[HASH_LEN];
    int ok;

    if (!e) {
        /* As much work as a real entry, so that timing does not reveal who exists. */
        static const struct pw_entry dummy = {.iterations = 101, .salt_len = 12};
        hash_password(&dummy, pw, pwlen, out);
        OPENSSL_cleanse(out, sizeof out);
        return 0;
    }
    ok = hash_password(e, pw, pwlen, out) && CRYPTO_memcmp(out, e->hash, HASH_LEN) == 0;
    OPENSSL_cleanse(out, sizeof out);
    return ok;
}

size_t moted__passwd_count(const struct moted_passwd *pf)
{
    return pf ? pf->count : 0;
}

void moted__passwd_free(struct moted_passwd *pf)
{
    if (!pf)
        return;
    for (size_t i = 0; i < pf->count; i++)
        moted__free(pf->entries[i].user);
    moted__free(pf->entries);
    moted__free(pf);
}

/* ---------------------------------------------------------------------------------------------
 * Topic filter algebra
 * ------------------------------------------------------------------------------------------- */

struct level {
    const uint8_t *p;
    size_t len;
};

/* The level at *pos, moving past it; 0 once the filter has no more. */
static int next_level(const uint8_t *f, size_t flen, size_t *pos, struct level *l)
{
    size_t e = *pos;
    if (*pos > flen)
        return 0;
    while (e < flen && f[e] != '/')
        e++;
    l->p = f + *pos;
    l->len = e - *pos;
    *pos = e + 1; /* past the end when this was the last level */
    return 1;
}

static int is_plus(struct level l)
{
    return l.len == 1 && l.p[0] == '+';
}
static int is_hash(struct level l)
{
    return l.len == 1 && l.p[0] == '#';
}
static int is_wild(struct level l)
{
    return is_plus(l) || is_hash(l);
}
static int is_dollar(struct level l)
{
    return l.len && l.p[0] == '$';
}
static int same(struct level a, struct level b)
{
    return a.len == b.len && !memcmp(a.p, b.p, a.len);
}

/*
 * Both walk the filters level by level. One trap: '#' also matches its parent level, but when
 * that parent is the root, or one empty level (as in "/#"), the parent is the empty topic,
 * which nobody can publish; there '#' means at least one more level, as "+/#" does.
 */

/* see auth.h */
int moted__filter_overlap(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t pa = 0, pb = 0, depth = 0;
    struct level la, lb;
    int ha = next_level(a, alen, &pa, &la), hb = next_level(b, blen, &pb, &lb);
    int empty_root = 0; /* the first level of every common topic is "" */

    /* Topics starting with '$' are not matched by a first-level wildcard (MQTT-4.7.2-1). */
    if (ha && hb && ((is_wild(la) && is_dollar(lb)) || (is_wild(lb) && is_dollar(la))))
        return 0;
    for (;;) {
        if ((ha && is_hash(la)) || (hb && is_hash(lb))) {
            /* '#' takes whatever the other has left, even nothing, unless that is "" */
            return !(depth == 1 && empty_root && (!ha || !hb));
        }
        if (!ha || !hb)
            return !ha && !hb;
        if (!is_plus(la) && !is_plus(lb) && !same(la, lb))
            return 0;
        if (depth++ == 0)
            empty_root = la.len == 0 || lb.len == 0;
        ha = next_level(a, alen, &pa, &la);
        hb = next_level(b, blen, &pb, &lb);
    }
}

/* see auth.h */
int moted__filter_covers(const uint8_t *outer, size_t olen, const uint8_t *inner, size_t ilen)
{
    size_t po = 0, pi = 0, depth = 0;
    struct level lo, li;
    int ho = next_level(outer, olen, &po, &lo), hi = next_level(inner, ilen, &pi, &li);
    int empty_root = 0; /* inner's first level is "" */

    if (ho && hi && is_wild(lo) && is_dollar(li))
        return 0;
    for (;;) {
        if (ho && is_hash(lo))
            return 1;
        if (hi && is_hash(li)) {
            /* Where inner's '#' cannot match its parent, outer's "+/#" is enough. */
            if ((depth == 0 || (depth == 1 && empty_root)) && ho && is_plus(lo)) {
                ho = next_level(outer, olen, &po, &lo);
                return ho && is_hash(lo);
            }
            return 0; /* inner goes deeper than any outer without '#' */
        }
        if (!ho || !hi)
            return !ho && !hi;
        if (!is_plus(lo) && (is_plus(li) || !same(lo, li)))
            return 0;
        if (depth++ == 0)
            empty_root = li.len == 0;
        ho = next_level(outer, olen, &po, &lo);
        hi = next_level(inner, ilen, &pi, &li);
    }
}

/* ---------------------------------------------------------------------------------------------
 * ACL file
 * ------------------------------------------------------------------------------------------- */

struct acl_rule {
    char *topic;
    size_t len;
    uint8_t access;         /* MOTED_ACL_READ | MOTED_ACL_WRITE; 0: deny */
    uint8_t uses_c, uses_u; /* pattern with %c / %u */
};

/* Rules in file order, denials moved first (they are all checked before any grant). */
struct acl_list {
    struct acl_rule *rules;
    size_t count, cap, denies;
};

struct acl_user {
    char *name;
    size_t len;
    size_t order; /* first appearance, to merge sections of the same user in file order */
    struct acl_list list;
};

struct moted_acl {
    struct acl_list anon;     /* `topic` lines before any `user` */
    struct acl_list patterns; /* every `pattern` line */
    struct acl_user *users;   /* sorted by name, one per user */
    size_t user_count, user_cap;
    size_t rule_count;
};

static void list_free(struct acl_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        moted__free(l->rules[i].topic);
    moted__free(l->rules);
    memset(l, 0, sizeof *l);
}

static int list_add(struct acl_list *l, const struct acl_rule *r)
{
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        struct acl_rule *more = moted__realloc(l->rules, ncap * sizeof *more);
        if (!more)
            return -1;
        l->rules = more;
        l->cap = ncap;
    }
    l->rules[l->count++] = *r;
    return 0;
}

/* Moves the denials to the front, each group keeping file order. */
static int list_finish(struct acl_list *l)
{
    struct acl_rule *sorted;
    size_t n = 0;
    if (!l->count)
        return 0;
    sorted = moted__malloc(l->count * sizeof *sorted);
    if (!sorted)
        return -1;
    for (size_t i = 0; i < l->count; i++)
        if (!l->rules[i].access)
            sorted[n++] = l->rules[i];
    l->denies = n;
    for (size_t i = 0; i < l->count; i++)
        if (l->rules[i].access)
            sorted[n++] = l->rules[i];
    moted__free(l->rules);
    l->rules = sorted;
    l->cap = l->count;
    return 0;
}

static int user_cmp(const void *a, const void *b)
{
    const struct acl_user *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts the user sections and merges repeated ones (a second `user X` adds to the first). */
static int users_finish(struct moted_acl *acl)
{
    size_t kept = 0;
    if (acl->user_count)
        qsort(acl->users, acl->user_count, sizeof *acl->users, user_cmp);
    for (size_t i = 0; i < acl->user_count; i++) {
        struct acl_user *u = &acl->users[i];
        if (kept && acl->users[kept - 1].len == u->len &&
            !memcmp(acl->users[kept - 1].name, u->name, u->len)) {
            struct acl_user *into = &acl->users[kept - 1];
            for (size_t j = 0; j < u->list.count; j++) {
                if (list_add(&into->list, &u->list.rules[j]))
                    return -1;
                u->list.rules[j].topic = NULL; /* moved */
            }
            list_free(&u->list);
            moted__free(u->name);
            memset(u, 0, sizeof *u);
            continue;
        }
        if (kept != i) {
            acl->users[kept] = *u;
            memset(u, 0, sizeof *u); /* one owner per pointer, should a later step fail */
        }
        kept++;
    }
    acl->user_count = kept;
    for (size_t i = 0; i < acl->user_count; i++)
        if (list_finish(&acl->users[i].list))
            return -1;
    if (list_finish(&acl->anon) || list_finish(&acl->patterns))
        return -1;
    return 0;
}

static int word_is(const char *w, size_t n, const char *lit)
{
    return strlen(lit) == n && !memcmp(w, lit, n);
}

/* Splits off the first word of s (blanks separate); returns its length, *rest after it. */
static size_t first_word(const char *s, size_t n, const char **rest, size_t *rest_len)
{
    size_t w = 0, r;
    while (w < n && s[w] != ' ' && s[w] != '\t')
        w++;
    r = w;
    while (r < n && (s[r] == ' ' || s[r] == '\t'))
        r++;
    *rest = s + r;
    *rest_len = n - r;
    return w;
}

struct moted_acl *moted__acl_parse(const char *name, const char *text, size_t len, char *err,
                                   size_t errlen)
{
    struct moted_acl *acl = moted__calloc(1, sizeof *acl);
    struct lines ls = {text, text + len, 0};
    struct acl_list *cur;
    const char *s;
    size_t n;

    if (!acl) {
        say(err, errlen, name, 0, "out of memory");
        return NULL;
    }
    cur = &acl->anon;
    while (next_line(&ls, &s, &n)) {
        const char *rest, *word2, *topic;
        size_t kw, rest_len, w2, rest2_len, tlen;
        struct acl_rule r = {0};
        int pattern;

        if (blank_or_comment(s, n))
            continue;
        if (memchr(s, 0, n)) {
            say(err, errlen, name, ls.number, "contains a NUL byte: not an ACL file");
            goto fail;
        }
        kw = first_word(s, n, &rest, &rest_len);
        if (word_is(s, kw, "user")) {
            struct acl_user *u;
            if (!rest_len) {
                say(err, errlen, name, ls.number, "'user' needs a user name");
                goto fail;
            }
            if (acl->user_count == acl->user_cap) {
                size_t ncap = acl->user_cap ? acl->user_cap * 2 : 8;
                struct acl_user *more = moted__realloc(acl->users, ncap * sizeof *more);
                if (!more)
                    goto oom;
                acl->users = more;
                acl->user_cap = ncap;
            }
            u = &acl->users[acl->user_count];
            memset(u, 0, sizeof *u);
            u->name = moted__strndup(rest, rest_len);
            if (!u->name)
                goto oom;
            u->len = rest_len;
            u->order = acl->user_count++;
            cur = &u->list;
            continue;
        }
        pattern = word_is(s, kw, "pattern");
        if (!pattern && !word_is(s, kw, "topic")) {
            say(err, errlen, name, ls.number,
                "unknown keyword '%.*s': an ACL line is 'user NAME', 'topic [ACCESS] TOPIC' or "
                "'pattern [ACCESS] TOPIC'",
                (int)(kw > 40 ? 40 : kw), s);
            goto fail;
        }
        if (!rest_len) {
            say(err, errlen, name, ls.number, "'%s' needs a topic", pattern ? "pattern" : "topic");
            goto fail;
        }
        w2 = first_word(rest, rest_len, &word2, &rest2_len);
        if (!rest2_len) { /* one word: the topic, read and write (Mosquitto's default) */
            topic = rest;
            tlen = w2;
            r.access = MOTED_ACL_READ | MOTED_ACL_WRITE;
        } else {
            if (word_is(rest, w2, "read"))
                r.access = MOTED_ACL_READ;
            else if (word_is(rest, w2, "write"))
                r.access = MOTED_ACL_WRITE;
            else if (word_is(rest, w2, "readwrite"))
                r.access = MOTED_ACL_READ | MOTED_ACL_WRITE;
            else if (word_is(rest, w2, "deny"))
                r.access = 0;
            else {
                say(err, errlen, name, ls.number,
                    "unknown access '%.*s': use read, write, readwrite or deny",
                    (int)(w2 > 40 ? 40 : w2), rest);
                goto fail;
            }
            topic = word2; /* the rest of the line: a topic may contain spaces */
            tlen = rest2_len;
        }
        if (tlen > 65535 || mote_topic_check_filter((const uint8_t *)topic, tlen) != MOTE_OK) {
            say(err, errlen, name, ls.number,
                "'%.*s' is not a valid topic filter ('+' and '#' must fill a level, '#' only "
                "last)",
                (int)(tlen > 80 ? 80 : tlen), topic);
            goto fail;
        }
        r.topic = moted__strndup(topic, tlen);
        if (!r.topic)
            goto oom;
        r.len = tlen;
        if (pattern) {
            for (size_t i = 0; i + 1 < tlen; i++) {
                if (topic[i] == '%' && topic[i + 1] == 'c')
                    r.uses_c = 1, i++;
                else if (topic[i] == '%' && topic[i + 1] == 'u')
                    r.uses_u = 1, i++;
            }
        }
        if (list_add(pattern ? &acl->patterns : cur, &r)) {
            moted__free(r.topic);
            goto oom;
        }
        acl->rule_count++;
    }
    if (users_finish(acl))
        goto oom;
    return acl;

oom:
    say(err, errlen, name, ls.number, "out of memory");
fail:
    moted__acl_free(acl);
    return NULL;
}

struct moted_acl *moted__acl_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = read_file(path, &len, err, errlen);
    struct moted_acl *acl;
    if (!text)
        return NULL;
    acl = moted__acl_parse(path, text, len, err, errlen);
    moted__free(text);
    return acl;
}

static const struct acl_list *user_list(const struct moted_acl *acl, const char *user)
{
    size_t lo = 0, hi = acl->user_count, len = strlen(user);
    struct acl_user key = {.name = (char *)user, .len = len, .order = 0};
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (user_cmp(&acl->users[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < acl->user_count && acl->users[lo].len == len &&
        !memcmp(acl->users[lo].name, user, len))
        return &acl->users[lo].list;
    return NULL;
}

enum test { T_DENY, T_ALLOW };

/* Whether rule text f (already substituted) decides for this check. */
static int rule_hits(const uint8_t *f, size_t flen, const uint8_t *topic, size_t len, int access,
                     enum test test)
{
    if (access == MOTED_ACL_SUBSCRIBE)
        return test == T_DENY ? moted__filter_covers(f, flen, topic, len)
                              : moted__filter_overlap(f, flen, topic, len);
    return mote_topic_match(f, flen, topic, len);
}

/* The rule's access grants `access` (SUBSCRIBE needs read). */
static int grants(const struct acl_rule *r, int access)
{
    return r->access & (access == MOTED_ACL_SUBSCRIBE ? MOTED_ACL_READ : access);
}

/* Checks the rules [from, to) of a topic list. 1 when one hits. */
static int scan_topics(const struct acl_list *l, size_t from, size_t to, const uint8_t *topic,
                       size_t len, int access, enum test test)
{
    for (size_t i = from; i < to; i++) {
        const struct acl_rule *r = &l->rules[i];
        if (test == T_ALLOW && !grants(r, access))
            continue;
        if (rule_hits((const uint8_t *)r->topic, r->len, topic, len, access, test))
            return 1;
    }
    return 0;
}

/*
 * The pattern with %c and %u replaced, into buf (cap bytes) or a new allocation (*heap).
 * Returns its length, or -1 when the rule cannot apply (no user name for %u) or no memory.
 */
static long substitute(const struct acl_rule *r, const char *user, const char *cid, char *buf,
                       size_t cap, char **heap)
{
    size_t ulen = user ? strlen(user) : 0, clen = cid ? strlen(cid) : 0, need = 0, n = 0;
    char *out = buf;

    *heap = NULL;
    if ((r->uses_u && !user) || (r->uses_c && !cid))
        return -1;
    for (int pass = 0; pass < 2; pass++) {
        n = 0;
        for (size_t i = 0; i < r->len; i++) {
            const char *add = &r->topic[i];
            size_t alen = 1;
            if (r->topic[i] == '%' && i + 1 < r->len && r->topic[i + 1] == 'c')
                add = cid, alen = clen, i++;
            else if (r->topic[i] == '%' && i + 1 < r->len && r->topic[i + 1] == 'u')
                add = user, alen = ulen, i++;
            if (pass)
                memcpy(out + n, add, alen);
            n += alen;
        }
        if (pass == 0) {
            need = n;
            if (need > cap) {
                *heap = out = moted__malloc(need ? need : 1);
                if (!out)
                    return -1;
            }
        }
    }
    return (long)need;
}

static int scan_patterns(const struct acl_list *l, size_t from, size_t to, const char *user,
                         const char *cid, const uint8_t *topic, size_t len, int access,
                         enum test test)
{
    char buf[512], *heap;
    for (size_t i = from; i < to; i++) {
        const struct acl_rule *r = &l->rules[i];
        long n;
        int hit;
        if (test == T_ALLOW && !grants(r, access))
            continue;
        n = substitute(r, user, cid, buf, sizeof buf, &heap);
        if (n < 0)
            continue;
        hit = rule_hits((const uint8_t *)(heap ? heap : buf), (size_t)n, topic, len, access, test);
        moted__free(heap);
        if (hit)
            return 1;
    }
    return 0;
}

/* see auth.h */
int moted__acl_check(const struct moted_acl *acl, const char *user, const char *client_id,
                     const uint8_t *topic, size_t len, int access)
{
    const struct acl_list *own;
    int patterns;

    if (!acl)
        return 1;
    if (!topic || !len ||
        (access != MOTED_ACL_READ && access != MOTED_ACL_WRITE && access != MOTED_ACL_SUBSCRIBE))
        return 0;
    if (access == MOTED_ACL_SUBSCRIBE) {
        struct mote_slice full = {topic, len}, group, filter;
        if (mote_topic_share(full, &group, &filter)) {
            topic = filter.ptr;
            len = filter.len;
        }
    }
    own = user ? user_list(acl, user) : &acl->anon;
    /* A '+' or '#' in what a pattern substitutes would widen it (CVE-2017-7650). */
    patterns = !(user && strpbrk(user, "+#")) && !(client_id && strpbrk(client_id, "+#"));

    if (own && scan_topics(own, 0, own->denies, topic, len, access, T_DENY))
        return 0;
    if (patterns && scan_patterns(&acl->patterns, 0, acl->patterns.denies, user, client_id, topic,
                                  len, access, T_DENY))
        return 0;
    if (own && scan_topics(own, own->denies, own->count, topic, len, access, T_ALLOW))
        return 1;
    if (patterns && scan_patterns(&acl->patterns, acl->patterns.denies, acl->patterns.count, user,
                                  client_id, topic, len, access, T_ALLOW))
        return 1;
    return 0;
}

size_t moted__acl_users(const struct moted_acl *acl)
{
    return acl ? acl->user_count : 0;
}

size_t moted__acl_rules(const struct moted_acl *acl)
{
    return acl ? acl->rule_count : 0;
}

void moted__acl_free(struct moted_acl *acl)
{
    if (!acl)
        return;
    list_free(&acl->anon);
    list_free(&acl->patterns);
    for (size_t i = 0; i < acl->user_count; i++) {
        list_free(&acl->users[i].list);
        moted__free(acl->users[i].name);
    }
    moted__free(acl->users);
    moted__free(acl);
}
