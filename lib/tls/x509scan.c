/*
 * x509scan.c - reads the server's certificates byte by byte as BearSSL receives them, next to
 * BearSSL's own checker, and keeps what an error message needs: subject and issuer CN, the first
 * SAN, the dates, the key type and size, the signature algorithm. It also compares the key with
 * a pinned one and the SAN iPAddress entries with an IP host. A few dozen bytes of state, no
 * copy of the certificate: a DER walker that only descends into the parts it wants.
 */
#include "tls_internal.h"

/* Containers we descend into (mote_tls_der_level.kind). */
enum {
    K_TOP = 0,
    K_CERT,
    K_TBS,
    K_SIGALG,
    K_NAME,
    K_RDN,
    K_ATV,
    K_VALIDITY,
    K_SPKI,
    K_SPKI_ALG,
    K_RSA_BITS,
    K_RSA_KEY,
    K_EXT_WRAP,
    K_EXTS,
    K_EXT,
    K_SAN_OCTETS,
    K_SAN,
    K_SKIP,
};

/* Primitive values we read (mote_tls_scan.prim). */
enum {
    P_NONE = 0,
    P_ATV_OID,
    P_ATV_VALUE,
    P_TIME_NB,
    P_TIME_NA,
    P_KEY_OID,
    P_CURVE_OID,
    P_EC_POINT,
    P_RSA_N,
    P_RSA_E,
    P_EXT_OID,
    P_SAN_DNS,
    P_SAN_IP,
    P_SIG_OID,
};

enum { DN_ISSUER = 1, DN_SUBJECT = 2 };

static const uint8_t oid_cn[] = {0x55, 0x04, 0x03};
static const uint8_t oid_san[] = {0x55, 0x1d, 0x11};

struct oid_row {
    uint8_t len;
    uint8_t value;
    uint8_t bytes[9];
};

static const struct oid_row key_oids[] = {
    {9, MOTE_TLS_KEY_RSA, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}},
    {7, MOTE_TLS_KEY_EC, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}},
    {3, MOTE_TLS_KEY_ED25519, {0x2b, 0x65, 0x70}},
    {3, MOTE_TLS_KEY_ED448, {0x2b, 0x65, 0x71}},
};

/* value: BearSSL's curve id (the TLS one); 0 for curves BearSSL does not verify. */
static const struct oid_row curve_oids[] = {
    {8, BR_EC_secp256r1, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}},
    {5, BR_EC_secp384r1, {0x2b, 0x81, 0x04, 0x00, 0x22}},
    {5, BR_EC_secp521r1, {0x2b, 0x81, 0x04, 0x00, 0x23}},
};

static const struct oid_row sig_oids[] = {
    {9, MOTE_TLS_SIG_RSA_SHA1, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05}},
    {9, MOTE_TLS_SIG_RSA_PSS, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a}},
    {9, MOTE_TLS_SIG_RSA_SHA256, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b}},
    {9, MOTE_TLS_SIG_RSA_SHA384, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c}},
    {9, MOTE_TLS_SIG_RSA_SHA512, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d}},
    {9, MOTE_TLS_SIG_RSA_SHA224, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0e}},
    {7, MOTE_TLS_SIG_ECDSA_SHA1, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01}},
    {8, MOTE_TLS_SIG_ECDSA_SHA224, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x01}},
    {8, MOTE_TLS_SIG_ECDSA_SHA256, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}},
    {8, MOTE_TLS_SIG_ECDSA_SHA384, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}},
    {8, MOTE_TLS_SIG_ECDSA_SHA512, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}},
    {3, MOTE_TLS_SIG_ED25519, {0x2b, 0x65, 0x70}},
    {3, MOTE_TLS_SIG_ED448, {0x2b, 0x65, 0x71}},
};

static int cap_is(const struct mote_tls_scan *s, const uint8_t *oid, size_t len)
{
    return s->cap_len == len && memcmp(s->cap, oid, len) == 0;
}

/* The row's value for the captured OID, or @p other when none matches. */
static uint8_t cap_lookup(const struct mote_tls_scan *s, const struct oid_row *rows, size_t n,
                          uint8_t other)
{
    for (size_t i = 0; i < n; i++)
        if (cap_is(s, rows[i].bytes, rows[i].len))
            return rows[i].value;
    return other;
}

/* The pinned key's integer without its leading zero bytes (DER INTEGERs may carry one). */
static const uint8_t *strip_zeros(const uint8_t *p, size_t *len)
{
    while (*len > 0 && *p == 0) {
        p++;
        (*len)--;
    }
    return p;
}

/* Where the value of the CN being read goes, or NULL when this certificate's is not kept. */
static char *name_target(struct mote_tls *t)
{
    struct mote_tls_scan *s = &t->scan;

    if (s->dn == DN_SUBJECT)
        return s->cert == 0 ? t->detail.subject_cn : NULL;
    return s->cert == 0 ? t->detail.issuer_cn : t->detail.top_issuer_cn;
}

/* ---------------------------------------------------------------------------------------------
 * Calendar and addresses
 * ------------------------------------------------------------------------------------------- */

/* see tls_internal.h; the civil-from-days algorithms on a March-based year */
uint32_t mote__tls_days_from_civil(uint32_t y, uint32_t m, uint32_t d)
{
    uint32_t era, yoe, doy, doe;

    if (m <= 2)
        y--;
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    /* days since 0000-03-01, made days since 0000-01-01 (Jan + Feb of year 0, a leap year) */
    return era * 146097 + doe + 60;
}

/* see tls_internal.h */
void mote__tls_civil_from_days(uint32_t days, uint32_t *y, uint32_t *m, uint32_t *d)
{
    uint32_t z, era, doe, yoe, doy, mp;

    z = days >= 60 ? days - 60 : 0;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int digits(const uint8_t *p, size_t n, uint32_t *out)
{
    uint32_t v = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (uint32_t)(p[i] - '0');
    }
    *out = v;
    return 1;
}

/* UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, as DER requires them. */
static int parse_time(const struct mote_tls_scan *s, uint32_t *days, uint32_t *secs)
{
    const uint8_t *p = s->cap;
    uint32_t y, mo, d, h, mi, sec;
    size_t yl = s->prim_tag == 0x17 ? 2 : 4;

    if (s->cap_len != yl + 11 || p[yl + 10] != 'Z')
        return 0;
    if (!digits(p, yl, &y) || !digits(p + yl, 2, &mo) || !digits(p + yl + 2, 2, &d) ||
        !digits(p + yl + 4, 2, &h) || !digits(p + yl + 6, 2, &mi) || !digits(p + yl + 8, 2, &sec))
        return 0;
    if (yl == 2)
        y += y < 50 ? 2000 : 1900;
    if (y == 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return 0;
    *days = mote__tls_days_from_civil(y, mo, d);
    *secs = h * 3600 + mi * 60 + sec;
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t parse_ipv4(const char *s, uint8_t out[4])
{
    for (int i = 0; i < 4; i++) {
        uint32_t v = 0;
        int n = 0;

        while (*s >= '0' && *s <= '9' && n < 4) {
            v = v * 10 + (uint32_t)(*s++ - '0');
            n++;
        }
        if (n == 0 || n > 3 || v > 255)
            return 0;
        out[i] = (uint8_t)v;
        if (i < 3 && *s++ != '.')
            return 0;
    }
    return *s == 0 ? 4 : 0;
}

static size_t parse_ipv6(const char *s, uint8_t out[16])
{
    uint8_t tail[16];
    size_t head = 0, tl = 0;
    int gap = 0;

    if (s[0] == ':') {
        if (s[1] != ':')
            return 0;
        gap = 1;
        s += 2;
    }
    while (*s) {
        uint32_t v = 0;
        int n = 0, h;

        if (head + tl >= 16)
            return 0;
        /* an embedded IPv4 tail (::ffff:1.2.3.4) */
        for (const char *q = s; *q && *q != ':'; q++) {
            if (*q == '.') {
                if (head + tl + 4 > 16 || parse_ipv4(s, gap ? tail + tl : out + head) != 4)
                    return 0;
                if (gap)
                    tl += 4;
                else
                    head += 4;
                s += strlen(s);
                goto done;
            }
        }
        while ((h = hexval(*s)) >= 0 && n < 5) {
            v = (v << 4) | (uint32_t)h;
            s++;
            n++;
        }
        if (n == 0 || n > 4)
            return 0;
        if (gap) {
            tail[tl++] = (uint8_t)(v >> 8);
            tail[tl++] = (uint8_t)v;
        } else {
            out[head++] = (uint8_t)(v >> 8);
            out[head++] = (uint8_t)v;
        }
        if (*s == ':') {
            s++;
            if (*s == ':') {
                if (gap)
                    return 0;
                gap = 1;
                s++;
            } else if (*s == 0) {
                return 0;
            }
        } else if (*s != 0) {
            return 0;
        }
    }
done:
    if (head + tl > 16 || (!gap && head + tl != 16) || (gap && head + tl == 16))
        return 0;
    memset(out + head, 0, 16 - head - tl);
    memcpy(out + 16 - tl, tail, tl);
    return 16;
}

/* see tls_internal.h */
size_t mote__tls_parse_ip(const char *s, uint8_t out[16])
{
    if (s == NULL || *s == 0)
        return 0;
    if (strchr(s, ':') != NULL)
        return parse_ipv6(s, out);
    return parse_ipv4(s, out);
}

/* The captured iPAddress as text, into the SAN name field. */
static void ip_to_name(struct mote_tls *t)
{
    struct mote__tls_out o = {t->detail.name, sizeof t->detail.name, 0};
    const uint8_t *a = t->scan.cap;

    if (t->scan.cap_len == 4) {
        for (int i = 0; i < 4; i++) {
            if (i)
                mote__tls_put(&o, ".");
            mote__tls_put_u(&o, a[i]);
        }
    } else if (t->scan.cap_len == 16) {
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 16; i += 2) {
            char g[5];
            uint32_t v = (uint32_t)a[i] << 8 | a[i + 1];
            int n = 0, started = 0;

            for (int sh = 12; sh >= 0; sh -= 4) {
                uint32_t x = (v >> sh) & 15;
                if (x || started || sh == 0) {
                    g[n++] = hex[x];
                    started = 1;
                }
            }
            if (i)
                mote__tls_put(&o, ":");
            mote__tls_put_n(&o, g, (size_t)n);
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * The DER walker
 * ------------------------------------------------------------------------------------------- */

static void prim_start(struct mote_tls *t)
{
    struct mote_tls_scan *s = &t->scan;
    char *target;

    s->cap_len = 0;
    s->key_started = 0;
    s->pin_pos = 0;
    s->name_len = 0;
    switch (s->prim) {
    case P_ATV_VALUE:
        target = name_target(t);
        if (target)
            target[0] = 0;
        break;
    case P_SAN_DNS:
        if (t->detail.name[0] != 0)
            s->prim = P_NONE; /* keep only the first SAN */
        break;
    case P_EC_POINT:
        s->pin_n_ok = 1;
        break;
    case P_RSA_N:
        s->pin_n_ok = 1;
        break;
    case P_RSA_E:
        s->pin_e_ok = 1;
        break;
    default:
        break;
    }
}

/* Compares one byte of the server's key with the pinned key; *ok drops to 0 on a difference. */
static void pin_byte(struct mote_tls *t, const uint8_t *want, size_t want_len, uint8_t b,
                     uint8_t *ok)
{
    struct mote_tls_scan *s = &t->scan;

    if (want == NULL || s->pin_pos >= want_len || want[s->pin_pos] != b)
        *ok = 0;
    if (s->pin_pos < 0xffff)
        s->pin_pos++;
}

static void prim_byte(struct mote_tls *t, uint8_t b)
{
    struct mote_tls_scan *s = &t->scan;
    const br_x509_pkey *pin = t->cfg.pin;
    const uint8_t *want = NULL;
    size_t want_len = 0;
    char *target;

    switch (s->prim) {
    case P_ATV_VALUE:
    case P_SAN_DNS:
        target = s->prim == P_SAN_DNS ? t->detail.name : name_target(t);
        if (target && s->name_len < MOTE_TLS_NAME_LEN - 1) {
            target[s->name_len++] = (char)(b < 0x20 || b == 0x7f ? '?' : b);
            target[s->name_len] = 0;
        }
        return;
    case P_EC_POINT:
        if (!s->key_started) { /* the BIT STRING's unused-bits count */
            s->key_started = 1;
            return;
        }
        if (pin && pin->key_type == BR_KEYTYPE_EC) {
            want = pin->key.ec.q;
            want_len = pin->key.ec.qlen;
        }
        pin_byte(t, want, want_len, b, &s->pin_n_ok);
        return;
    case P_RSA_N:
    case P_RSA_E:
        if (!s->key_started && b == 0)
            return; /* leading zeros are not part of the number */
        if (!s->key_started) {
            s->key_started = 1;
            if (s->prim == P_RSA_N) { /* bits of the modulus: its first byte tells */
                uint16_t bits = 8;
                while (bits > 1 && !(b & (1u << (bits - 1))))
                    bits--;
                t->detail.key_bits = bits;
            }
        } else if (s->prim == P_RSA_N && t->detail.key_bits < 0xfff8) {
            t->detail.key_bits += 8;
        }
        if (pin && pin->key_type == BR_KEYTYPE_RSA) {
            want_len = s->prim == P_RSA_N ? pin->key.rsa.nlen : pin->key.rsa.elen;
            want = strip_zeros(s->prim == P_RSA_N ? pin->key.rsa.n : pin->key.rsa.e, &want_len);
        }
        pin_byte(t, want, want_len, b, s->prim == P_RSA_N ? &s->pin_n_ok : &s->pin_e_ok);
        return;
    default:
        if (s->cap_len < sizeof s->cap)
            s->cap[s->cap_len++] = b;
        else
            s->cap_len = 0xff; /* too long for anything we look for */
        return;
    }
}

static void prim_done(struct mote_tls *t)
{
    struct mote_tls_scan *s = &t->scan;
    const br_x509_pkey *pin = t->cfg.pin;
    size_t want_len;

    switch (s->prim) {
    case P_ATV_OID:
        s->atv_cn = (uint8_t)cap_is(s, oid_cn, sizeof oid_cn);
        break;
    case P_ATV_VALUE:
        s->name_done = 1; /* the first CN of a name is the one people read */
        break;
    case P_TIME_NB:
        s->have_nb = (uint8_t)parse_time(s, &s->nb_days, &s->nb_secs);
        break;
    case P_TIME_NA:
        s->have_na = (uint8_t)parse_time(s, &s->na_days, &s->na_secs);
        break;
    case P_KEY_OID:
        t->detail.key_type =
            cap_lookup(s, key_oids, sizeof key_oids / sizeof key_oids[0], MOTE_TLS_KEY_OTHER);
        if (t->detail.key_type == MOTE_TLS_KEY_ED25519)
            t->detail.key_bits = 256;
        else if (t->detail.key_type == MOTE_TLS_KEY_ED448)
            t->detail.key_bits = 448;
        break;
    case P_CURVE_OID:
        t->detail.curve = cap_lookup(s, curve_oids, sizeof curve_oids / sizeof curve_oids[0], 0);
        t->detail.key_bits = t->detail.curve == BR_EC_secp256r1   ? 256
                             : t->detail.curve == BR_EC_secp384r1 ? 384
                             : t->detail.curve == BR_EC_secp521r1 ? 521
                                                                  : 0;
        s->pin_curve_ok = (uint8_t)(pin && pin->key_type == BR_KEYTYPE_EC && t->detail.curve != 0 &&
                                    pin->key.ec.curve == t->detail.curve);
        break;
    case P_EC_POINT:
        want_len = pin && pin->key_type == BR_KEYTYPE_EC ? pin->key.ec.qlen : 0;
        if (s->pin_pos != want_len)
            s->pin_n_ok = 0;
        break;
    case P_RSA_N:
    case P_RSA_E:
        want_len = 0;
        if (pin && pin->key_type == BR_KEYTYPE_RSA) {
            want_len = s->prim == P_RSA_N ? pin->key.rsa.nlen : pin->key.rsa.elen;
            strip_zeros(s->prim == P_RSA_N ? pin->key.rsa.n : pin->key.rsa.e, &want_len);
        }
        if (s->pin_pos != want_len || want_len == 0) {
            if (s->prim == P_RSA_N)
                s->pin_n_ok = 0;
            else
                s->pin_e_ok = 0;
        }
        break;
    case P_EXT_OID:
        s->ext_san = (uint8_t)cap_is(s, oid_san, sizeof oid_san);
        break;
    case P_SAN_IP:
        if ((s->cap_len == 4 || s->cap_len == 16) && s->cap_len == t->host_ip_len &&
            memcmp(s->cap, t->host_ip, s->cap_len) == 0)
            s->ip_match = 1;
        if (t->detail.name[0] == 0)
            ip_to_name(t);
        break;
    case P_SIG_OID:
        t->detail.sig_alg =
            cap_lookup(s, sig_oids, sizeof sig_oids / sizeof sig_oids[0], MOTE_TLS_SIG_OTHER);
        break;
    default:
        break;
    }
    s->prim = P_NONE;
}

/*
 * The issuer name is compared, byte for byte, with the name of every CA anchor (BearSSL finds an
 * anchor by the hash of these same bytes). When one has this exact name and the chain is still
 * not trusted, the certificate's signature did not verify with that anchor's key: a CA made
 * again under the same name, or a forgery, rather than an unknown CA.
 */
static void dn_start(struct mote_tls *t)
{
    struct mote_tls_scan *s = &t->scan;
    uint8_t hdr[5];
    size_t hdr_len = 0, n = t->cfg.pin ? 0 : t->cfg.anchor_count;

    /* the header we just read, as DER writes it */
    hdr[hdr_len++] = s->tag;
    if (s->hlen >= 0x10000) {
        hdr[hdr_len++] = 0x83;
        hdr[hdr_len++] = (uint8_t)(s->hlen >> 16);
    } else if (s->hlen >= 0x100) {
        hdr[hdr_len++] = 0x82;
    } else if (s->hlen >= 0x80) {
        hdr[hdr_len++] = 0x81;
    }
    if (s->hlen >= 0x100)
        hdr[hdr_len++] = (uint8_t)(s->hlen >> 8);
    hdr[hdr_len++] = (uint8_t)s->hlen;

    s->dn_mask = 0;
    for (size_t k = 0; k < n && k < 32; k++) {
        const br_x509_trust_anchor *ta = &t->cfg.anchors[k];
        if ((ta->flags & BR_X509_TA_CA) && ta->dn.len == hdr_len + s->hlen &&
            memcmp(ta->dn.data, hdr, hdr_len) == 0)
            s->dn_mask |= (uint32_t)1 << k;
    }
    s->dn_pos = (uint16_t)hdr_len;
    s->dn_end = s->pos + s->hlen;
    s->dn_on = s->hlen > 0;
    s->issuer_match = s->dn_mask != 0 && s->hlen == 0;
}

static void dn_byte(struct mote_tls *t, uint8_t b)
{
    struct mote_tls_scan *s = &t->scan;

    for (uint32_t k = 0, m = s->dn_mask; m; k++, m >>= 1)
        if ((m & 1) && t->cfg.anchors[k].dn.data[s->dn_pos] != b)
            s->dn_mask &= ~((uint32_t)1 << k);
    if (s->dn_pos < 0xffff)
        s->dn_pos++;
}

/* Decides what a new element is from where it sits, and descends, reads or skips it. */
static void header_done(struct mote_tls *t)
{
    struct mote_tls_scan *s = &t->scan;
    struct mote_tls_der_level *up = s->depth ? &s->stack[s->depth - 1] : NULL;
    uint32_t end = s->pos + s->hlen;
    uint8_t parent = up ? up->kind : K_TOP;
    uint8_t idx = 0, tag = s->tag, kind = K_SKIP, prim = P_NONE;
    int leaf = s->cert == 0;

    s->hstate = 0;
    if (end < s->pos || (up && end > up->end)) {
        s->broken = 1; /* longer than what holds it: BearSSL will say what is wrong */
        return;
    }
    if (up) {
        idx = up->index;
        if (up->index < 0xff)
            up->index++;
    }
    switch (parent) {
    case K_TOP:
        if (tag == 0x30)
            kind = K_CERT;
        break;
    case K_CERT:
        if (idx == 0 && tag == 0x30)
            kind = K_TBS;
        else if (idx == 1 && tag == 0x30 && leaf)
            kind = K_SIGALG;
        break;
    case K_SIGALG:
        if (idx == 0 && tag == 0x06)
            prim = P_SIG_OID;
        break;
    case K_TBS:
        if (idx == 0 && tag == 0xa0) {
            s->tbs_shift = 1; /* explicit version: the fields below move by one */
            break;
        }
        switch (idx - s->tbs_shift) {
        case 2:
        case 4:
            if (tag == 0x30) {
                kind = K_NAME;
                s->dn = idx - s->tbs_shift == 2 ? DN_ISSUER : DN_SUBJECT;
                s->name_done = 0;
            }
            break;
        case 3:
            if (tag == 0x30)
                kind = K_VALIDITY;
            break;
        case 5:
            if (tag == 0x30 && leaf)
                kind = K_SPKI;
            break;
        default:
            if (tag == 0xa3 && leaf)
                kind = K_EXT_WRAP;
            break;
        }
        break;
    case K_NAME:
        if (tag == 0x31)
            kind = K_RDN;
        break;
    case K_RDN:
        if (tag == 0x30) {
            kind = K_ATV;
            s->atv_cn = 0;
        }
        break;
    case K_ATV:
        if (idx == 0 && tag == 0x06)
            prim = P_ATV_OID;
        else if (idx == 1 && s->atv_cn && !s->name_done && (leaf || s->dn == DN_ISSUER))
            prim = P_ATV_VALUE;
        break;
    case K_VALIDITY:
        if ((tag == 0x17 || tag == 0x18) && idx < 2)
            prim = idx == 0 ? P_TIME_NB : P_TIME_NA;
        break;
    case K_SPKI:
        if (idx == 0 && tag == 0x30) {
            kind = K_SPKI_ALG;
        } else if (idx == 1 && tag == 0x03) {
            if (t->detail.key_type == MOTE_TLS_KEY_RSA) {
                kind = K_RSA_BITS;
                s->skip_byte = 1; /* the unused-bits count before the DER inside */
            } else if (t->detail.key_type == MOTE_TLS_KEY_EC) {
                prim = P_EC_POINT;
            }
        }
        break;
    case K_SPKI_ALG:
        if (idx == 0 && tag == 0x06)
            prim = P_KEY_OID;
        else if (idx == 1 && tag == 0x06 && t->detail.key_type == MOTE_TLS_KEY_EC)
            prim = P_CURVE_OID;
        break;
    case K_RSA_BITS:
        if (idx == 0 && tag == 0x30)
            kind = K_RSA_KEY;
        break;
    case K_RSA_KEY:
        if (tag == 0x02 && idx < 2)
            prim = idx == 0 ? P_RSA_N : P_RSA_E;
        break;
    case K_EXT_WRAP:
        if (tag == 0x30)
            kind = K_EXTS;
        break;
    case K_EXTS:
        if (tag == 0x30) {
            kind = K_EXT;
            s->ext_san = 0;
        }
        break;
    case K_EXT:
        if (idx == 0 && tag == 0x06)
            prim = P_EXT_OID;
        else if (tag == 0x04 && s->ext_san)
            kind = K_SAN_OCTETS; /* extnValue holds the GeneralNames, DER inside */
        break;
    case K_SAN_OCTETS:
        if (tag == 0x30)
            kind = K_SAN;
        break;
    case K_SAN:
        if (tag == 0x82)
            prim = P_SAN_DNS;
        else if (tag == 0x87)
            prim = P_SAN_IP;
        break;
    default:
        break;
    }

    if (kind == K_NAME && s->dn == DN_ISSUER)
        dn_start(t);
    if (kind != K_SKIP) {
        if (s->depth >= sizeof s->stack / sizeof s->stack[0]) {
            s->broken = 1;
            return;
        }
        s->stack[s->depth].end = end;
        s->stack[s->depth].kind = kind;
        s->stack[s->depth].index = 0;
        s->depth++;
    } else if (prim != P_NONE) {
        s->prim = prim;
        s->prim_tag = tag;
        prim_start(t);
        if (s->hlen == 0)
            prim_done(t);
        else
            s->prim_end = end;
    } else if (s->hlen > 0) {
        s->skip_end = end;
    }
}

static void header_byte(struct mote_tls *t, uint8_t b)
{
    struct mote_tls_scan *s = &t->scan;

    switch (s->hstate) {
    case 0:
        if ((b & 0x1f) == 0x1f) { /* multi-byte tags do not occur in certificates */
            s->broken = 1;
            return;
        }
        s->tag = b;
        s->hstate = 1;
        return;
    case 1:
        if (b < 0x80) {
            s->hlen = b;
            header_done(t);
        } else if (b == 0x80 || b > 0x83) { /* indefinite, or 16 MB and more */
            s->broken = 1;
        } else {
            s->lenlen = b & 0x7f;
            s->hlen = 0;
            s->hstate = 2;
        }
        return;
    default:
        s->hlen = (s->hlen << 8) | b;
        if (--s->lenlen == 0)
            header_done(t);
        return;
    }
}

/* see tls_internal.h */
void mote__tls_scan_bytes(struct mote_tls *t, const uint8_t *buf, size_t len)
{
    struct mote_tls_scan *s = &t->scan;
    size_t i = 0;

    while (i < len && !s->broken) {
        if (s->skip_end && !s->dn_on) { /* jump over what we do not read */
            size_t n = s->skip_end - s->pos;
            if (n > len - i)
                n = len - i;
            s->pos += (uint32_t)n;
            i += n;
            if (s->pos == s->skip_end)
                s->skip_end = 0;
        } else {
            uint8_t b = buf[i++];
            if (s->dn_on) {
                dn_byte(t, b);
                if (s->pos + 1 >= s->dn_end) {
                    s->dn_on = 0;
                    s->issuer_match = s->dn_mask != 0;
                }
            }
            s->pos++;
            if (s->skip_end) {
                if (s->pos == s->skip_end)
                    s->skip_end = 0;
            } else if (s->prim_end) {
                prim_byte(t, b);
                if (s->pos == s->prim_end) {
                    s->prim_end = 0;
                    prim_done(t);
                }
            } else if (s->skip_byte) {
                s->skip_byte = 0;
            } else {
                header_byte(t, b);
            }
        }
        while (s->depth && s->pos >= s->stack[s->depth - 1].end && !s->skip_end && !s->prim_end &&
               s->hstate == 0)
            s->depth--;
    }
}

/* see tls_internal.h */
void mote__tls_scan_chain(struct mote_tls *t)
{
    memset(&t->scan, 0, sizeof t->scan);
    t->detail.subject_cn[0] = 0;
    t->detail.issuer_cn[0] = 0;
    t->detail.top_issuer_cn[0] = 0;
    t->detail.name[0] = 0;
    t->detail.chain_len = 0;
}

/* see tls_internal.h */
void mote__tls_scan_cert(struct mote_tls *t)
{
    struct mote_tls_scan *s = &t->scan;
    uint8_t cert = s->cert, date_bad = s->date_bad, ip_match = s->ip_match;
    uint8_t curve_ok = s->pin_curve_ok, n_ok = s->pin_n_ok, e_ok = s->pin_e_ok;

    /* per certificate: the walker; per chain: the certificate count and the verdicts */
    memset(s, 0, sizeof *s);
    s->cert = cert;
    s->date_bad = date_bad;
    s->ip_match = ip_match;
    s->pin_curve_ok = curve_ok;
    s->pin_n_ok = n_ok;
    s->pin_e_ok = e_ok;
    if (cert > 0)
        t->detail.top_issuer_cn[0] = 0;
}

/* BearSSL's comparison: valid from notBefore to notAfter, both included. */
static int before(uint32_t d1, uint32_t s1, uint32_t d2, uint32_t s2)
{
    return d1 < d2 || (d1 == d2 && s1 < s2);
}

/* see tls_internal.h */
void mote__tls_scan_cert_end(struct mote_tls *t)
{
    struct mote_tls_scan *s = &t->scan;
    struct mote_tls_detail *d = &t->detail;
    uint8_t bad = MOTE_TLS_DATES_OK;

    if (t->clock_known && s->have_nb && before(d->now_days, d->now_seconds, s->nb_days, s->nb_secs))
        bad = MOTE_TLS_DATES_NOT_YET_VALID;
    else if (t->clock_known && s->have_na &&
             before(s->na_days, s->na_secs, d->now_days, d->now_seconds))
        bad = MOTE_TLS_DATES_EXPIRED;

    /* Keep the server's own dates, unless a certificate above it is the one that failed. */
    if ((s->cert == 0 || (bad && !s->date_bad)) && (s->have_nb || s->have_na)) {
        d->not_before_days = s->have_nb ? s->nb_days : 0;
        d->not_after_days = s->have_na ? s->na_days : 0;
        d->cert_index = s->cert;
    }
    if (bad && !s->date_bad)
        s->date_bad = bad;
    if (s->cert == 0)
        memcpy(d->top_issuer_cn, d->issuer_cn, sizeof d->top_issuer_cn);
    d->anchor_name = s->issuer_match; /* the last certificate's counts */
    if (s->cert < 0xff)
        s->cert++;
    d->chain_len = s->cert;
}

/* see tls_internal.h */
int mote__tls_scan_pin_ok(const struct mote_tls *t)
{
    const br_x509_pkey *pin = t->cfg.pin;
    const struct mote_tls_scan *s = &t->scan;

    if (pin == NULL || t->detail.chain_len == 0)
        return 0;
    if (pin->key_type == BR_KEYTYPE_EC)
        return t->detail.key_type == MOTE_TLS_KEY_EC && s->pin_curve_ok && s->pin_n_ok;
    if (pin->key_type == BR_KEYTYPE_RSA)
        return t->detail.key_type == MOTE_TLS_KEY_RSA && s->pin_n_ok && s->pin_e_ok;
    return 0;
}
