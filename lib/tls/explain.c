/*
 * explain.c - from BearSSL's error code (and what our readers saw) to one enum mote_err, and from
 * there to a sentence that says what happened and what to do. Names of TLS alerts and of
 * BearSSL's codes, for the raw values kept in struct mote_error.
 */
#include "tls_internal.h"

/* ---------------------------------------------------------------------------------------------
 * A bounded string builder (no stdio: this file builds freestanding)
 * ------------------------------------------------------------------------------------------- */

/* see tls_internal.h */
void mote__tls_put_n(struct mote__tls_out *o, const char *s, size_t n)
{
    if (o->len == 0)
        return;
    for (size_t i = 0; i < n && s[i] != 0 && o->used + 1 < o->len; i++)
        o->buf[o->used++] = s[i];
    o->buf[o->used] = 0;
}

/* see tls_internal.h */
void mote__tls_put(struct mote__tls_out *o, const char *s)
{
    mote__tls_put_n(o, s, (size_t)-1);
}

/* see tls_internal.h */
void mote__tls_put_u(struct mote__tls_out *o, uint32_t v)
{
    char d[10];
    size_t n = 0;

    do {
        d[sizeof d - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    mote__tls_put_n(o, d + sizeof d - n, n);
}

static void put_2(struct mote__tls_out *o, uint32_t v)
{
    char d[2] = {(char)('0' + v / 10 % 10), (char)('0' + v % 10)};
    mote__tls_put_n(o, d, 2);
}

/* see tls_internal.h */
void mote__tls_put_date(struct mote__tls_out *o, uint32_t days)
{
    uint32_t y, m, d;

    if (days == 0) {
        mote__tls_put(o, "(unknown)");
        return;
    }
    mote__tls_civil_from_days(days, &y, &m, &d);
    mote__tls_put_u(o, y);
    mote__tls_put(o, "-");
    put_2(o, m);
    mote__tls_put(o, "-");
    put_2(o, d);
}

static void put_hex16(struct mote__tls_out *o, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    char d[6] = {'0', 'x', hex[v >> 12 & 15], hex[v >> 8 & 15], hex[v >> 4 & 15], hex[v & 15]};
    mote__tls_put_n(o, d, 6);
}

/* ---------------------------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------------------------- */

struct name_row {
    int code;
    const char *name;
};

static const struct name_row alert_names[] = {
    {0, "close_notify"},
    {10, "unexpected_message"},
    {20, "bad_record_mac"},
    {21, "decryption_failed"},
    {22, "record_overflow"},
    {30, "decompression_failure"},
    {40, "handshake_failure"},
    {41, "no_certificate"},
    {42, "bad_certificate"},
    {43, "unsupported_certificate"},
    {44, "certificate_revoked"},
    {45, "certificate_expired"},
    {46, "certificate_unknown"},
    {47, "illegal_parameter"},
    {48, "unknown_ca"},
    {49, "access_denied"},
    {50, "decode_error"},
    {51, "decrypt_error"},
    {60, "export_restriction"},
    {70, "protocol_version"},
    {71, "insufficient_security"},
    {80, "internal_error"},
    {86, "inappropriate_fallback"},
    {90, "user_canceled"},
    {100, "no_renegotiation"},
    {109, "missing_extension"},
    {110, "unsupported_extension"},
    {112, "unrecognized_name"},
    {113, "bad_certificate_status_response"},
    {115, "unknown_psk_identity"},
    {116, "certificate_required"},
    {120, "no_application_protocol"},
};

#define BR_ROW(x)                                                                                  \
    {                                                                                              \
        x, #x                                                                                      \
    }

static const struct name_row bearssl_names[] = {
    BR_ROW(BR_ERR_OK),
    BR_ROW(BR_ERR_BAD_PARAM),
    BR_ROW(BR_ERR_BAD_STATE),
    BR_ROW(BR_ERR_UNSUPPORTED_VERSION),
    BR_ROW(BR_ERR_BAD_VERSION),
    BR_ROW(BR_ERR_BAD_LENGTH),
    BR_ROW(BR_ERR_TOO_LARGE),
    BR_ROW(BR_ERR_BAD_MAC),
    BR_ROW(BR_ERR_NO_RANDOM),
    BR_ROW(BR_ERR_UNKNOWN_TYPE),
    BR_ROW(BR_ERR_UNEXPECTED),
    BR_ROW(BR_ERR_BAD_CCS),
    BR_ROW(BR_ERR_BAD_ALERT),
    BR_ROW(BR_ERR_BAD_HANDSHAKE),
    BR_ROW(BR_ERR_OVERSIZED_ID),
    BR_ROW(BR_ERR_BAD_CIPHER_SUITE),
    BR_ROW(BR_ERR_BAD_COMPRESSION),
    BR_ROW(BR_ERR_BAD_FRAGLEN),
    BR_ROW(BR_ERR_BAD_SECRENEG),
    BR_ROW(BR_ERR_EXTRA_EXTENSION),
    BR_ROW(BR_ERR_BAD_SNI),
    BR_ROW(BR_ERR_BAD_HELLO_DONE),
    BR_ROW(BR_ERR_LIMIT_EXCEEDED),
    BR_ROW(BR_ERR_BAD_FINISHED),
    BR_ROW(BR_ERR_RESUME_MISMATCH),
    BR_ROW(BR_ERR_INVALID_ALGORITHM),
    BR_ROW(BR_ERR_BAD_SIGNATURE),
    BR_ROW(BR_ERR_WRONG_KEY_USAGE),
    BR_ROW(BR_ERR_NO_CLIENT_AUTH),
    BR_ROW(BR_ERR_IO),
    BR_ROW(BR_ERR_X509_INVALID_VALUE),
    BR_ROW(BR_ERR_X509_TRUNCATED),
    BR_ROW(BR_ERR_X509_EMPTY_CHAIN),
    BR_ROW(BR_ERR_X509_INNER_TRUNC),
    BR_ROW(BR_ERR_X509_BAD_TAG_CLASS),
    BR_ROW(BR_ERR_X509_BAD_TAG_VALUE),
    BR_ROW(BR_ERR_X509_INDEFINITE_LENGTH),
    BR_ROW(BR_ERR_X509_EXTRA_ELEMENT),
    BR_ROW(BR_ERR_X509_UNEXPECTED),
    BR_ROW(BR_ERR_X509_NOT_CONSTRUCTED),
    BR_ROW(BR_ERR_X509_NOT_PRIMITIVE),
    BR_ROW(BR_ERR_X509_PARTIAL_BYTE),
    BR_ROW(BR_ERR_X509_BAD_BOOLEAN),
    BR_ROW(BR_ERR_X509_OVERFLOW),
    BR_ROW(BR_ERR_X509_BAD_DN),
    BR_ROW(BR_ERR_X509_BAD_TIME),
    BR_ROW(BR_ERR_X509_UNSUPPORTED),
    BR_ROW(BR_ERR_X509_LIMIT_EXCEEDED),
    BR_ROW(BR_ERR_X509_WRONG_KEY_TYPE),
    BR_ROW(BR_ERR_X509_BAD_SIGNATURE),
    BR_ROW(BR_ERR_X509_TIME_UNKNOWN),
    BR_ROW(BR_ERR_X509_EXPIRED),
    BR_ROW(BR_ERR_X509_DN_MISMATCH),
    BR_ROW(BR_ERR_X509_BAD_SERVER_NAME),
    BR_ROW(BR_ERR_X509_CRITICAL_EXTENSION),
    BR_ROW(BR_ERR_X509_NOT_CA),
    BR_ROW(BR_ERR_X509_FORBIDDEN_KEY_USAGE),
    BR_ROW(BR_ERR_X509_WEAK_PUBLIC_KEY),
    BR_ROW(BR_ERR_X509_NOT_TRUSTED),
};

static const char *find_name(const struct name_row *rows, size_t n, int code)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].code == code)
            return rows[i].name;
    return NULL;
}

/* see mote/tls.h */
const char *mote_tls_alert_name(unsigned alert)
{
    const char *s = find_name(alert_names, sizeof alert_names / sizeof alert_names[0], (int)alert);
    return s ? s : "unknown alert";
}

/* see mote/tls.h */
const char *mote_tls_bearssl_name(int raw)
{
    const char *s;

    if (raw >= BR_ERR_SEND_FATAL_ALERT && raw < BR_ERR_SEND_FATAL_ALERT + 256)
        return "BR_ERR_SEND_FATAL_ALERT";
    if (raw >= BR_ERR_RECV_FATAL_ALERT && raw < BR_ERR_RECV_FATAL_ALERT + 256)
        return "BR_ERR_RECV_FATAL_ALERT";
    s = find_name(bearssl_names, sizeof bearssl_names / sizeof bearssl_names[0], raw);
    return s ? s : "BR_ERR_UNKNOWN";
}

static const char *key_name(uint8_t type)
{
    switch (type) {
    case MOTE_TLS_KEY_RSA:
        return "RSA";
    case MOTE_TLS_KEY_EC:
        return "EC";
    case MOTE_TLS_KEY_ED25519:
        return "Ed25519";
    case MOTE_TLS_KEY_ED448:
        return "Ed448";
    case MOTE_TLS_KEY_OTHER:
        return "an unknown type of";
    default:
        return "no";
    }
}

/* see mote/tls.h */
const char *mote_tls_sig_name(uint8_t sig)
{
    static const char *const names[] = {
        "none",         "RSA-SHA1",     "RSA-SHA224", "RSA-SHA256",   "RSA-SHA384",
        "RSA-SHA512",   "RSA-PSS",      "ECDSA-SHA1", "ECDSA-SHA224", "ECDSA-SHA256",
        "ECDSA-SHA384", "ECDSA-SHA512", "Ed25519",    "Ed448",        "an unknown algorithm",
    };
    return sig < sizeof names / sizeof names[0] ? names[sig] : "an unknown algorithm";
}

/* ---------------------------------------------------------------------------------------------
 * From BearSSL's code to ours
 * ------------------------------------------------------------------------------------------- */

/* see tls_internal.h */
void mote__tls_error(struct mote_error *e, int code, uint8_t layer, int32_t raw)
{
    memset(e, 0, sizeof *e);
    e->code = code;
    e->layer = layer;
    e->raw = raw;
}

static int map_code(struct mote_tls *t, int br)
{
    switch (br) {
    case BR_ERR_X509_NOT_TRUSTED:
        if (t->verdict == MOTE_TLS_VERDICT_PIN_MISMATCH)
            return MOTE_ERR_TLS_PIN_MISMATCH;
        if (t->verdict == MOTE_TLS_VERDICT_ANCHOR_KEY)
            return MOTE_ERR_TLS_BAD_SIGNATURE;
        return MOTE_ERR_TLS_UNTRUSTED;
    /* A chain that leads nowhere we trust, whichever link broke. */
    case BR_ERR_X509_EMPTY_CHAIN:
    case BR_ERR_X509_DN_MISMATCH:
    case BR_ERR_X509_NOT_CA:
    case BR_ERR_X509_CRITICAL_EXTENSION:
        return MOTE_ERR_TLS_UNTRUSTED;
    case BR_ERR_X509_BAD_SERVER_NAME:
        return MOTE_ERR_TLS_HOSTNAME;
    case BR_ERR_X509_EXPIRED:
        return t->scan.date_bad == MOTE_TLS_DATES_NOT_YET_VALID ? MOTE_ERR_TLS_NOT_YET_VALID
                                                                : MOTE_ERR_TLS_EXPIRED;
    case BR_ERR_X509_TIME_UNKNOWN:
        return MOTE_ERR_TLS_NO_CLOCK;
    case BR_ERR_X509_BAD_SIGNATURE:
    case BR_ERR_BAD_SIGNATURE:
        return MOTE_ERR_TLS_BAD_SIGNATURE;
    case BR_ERR_X509_UNSUPPORTED:
    case BR_ERR_X509_WRONG_KEY_TYPE:
    case BR_ERR_X509_WEAK_PUBLIC_KEY:
    case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
    case BR_ERR_INVALID_ALGORITHM:
    case BR_ERR_WRONG_KEY_USAGE:
    case BR_ERR_LIMIT_EXCEEDED: /* the server's key exchange signature is over 4096 bits */
        return MOTE_ERR_TLS_UNSUPPORTED_KEY;
    case BR_ERR_X509_LIMIT_EXCEEDED:
        return MOTE_ERR_TLS_CHAIN_TOO_LARGE;
    case BR_ERR_TOO_LARGE:
        return MOTE_ERR_TLS_RECORD_TOO_LARGE;
    case BR_ERR_UNSUPPORTED_VERSION:
    case BR_ERR_BAD_CIPHER_SUITE:
    case BR_ERR_BAD_COMPRESSION:
        return MOTE_ERR_TLS_NO_COMMON_CIPHER;
    case BR_ERR_NO_RANDOM:
        return MOTE_ERR_TLS_NO_ENTROPY;
    default:
        return MOTE_ERR_TLS_OTHER;
    }
}

/* see tls_internal.h */
void mote__tls_set_error(struct mote_tls *t, int br)
{
    struct mote_error *e = &t->err;

    mote__tls_error(e, MOTE_ERR_TLS_OTHER, MOTE_LAYER_TLS, br);
    if (br >= BR_ERR_RECV_FATAL_ALERT && br < BR_ERR_RECV_FATAL_ALERT + 256) {
        uint8_t alert = (uint8_t)(br - BR_ERR_RECV_FATAL_ALERT);

        t->detail.has_alert = 1;
        t->detail.alert = alert;
        e->reason = alert;
        /* Refused before it even said hello: our ClientHello offered nothing it takes. */
        if (!t->detail.server_hello && (alert == 40 || alert == 70 || alert == 71))
            e->code = MOTE_ERR_TLS_NO_COMMON_CIPHER;
        else
            e->code = MOTE_ERR_TLS_ALERT;
        return;
    }
    if (br >= BR_ERR_SEND_FATAL_ALERT && br < BR_ERR_SEND_FATAL_ALERT + 256) {
        e->reason = (uint8_t)(br - BR_ERR_SEND_FATAL_ALERT);
        return; /* OTHER: we ended it ourselves */
    }
    e->code = map_code(t, br);
    if (e->code == MOTE_ERR_TLS_RECORD_TOO_LARGE) {
        e->need = (uint32_t)t->detail.record_len + 5;
        e->have = (uint32_t)t->sc.eng.ibuf_len;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Sentences
 * ------------------------------------------------------------------------------------------- */

static void explain_alert(struct mote__tls_out *o, unsigned alert)
{
    mote__tls_put(o, "the broker sent alert ");
    mote__tls_put_u(o, alert);
    mote__tls_put(o, " (");
    mote__tls_put(o, mote_tls_alert_name(alert));
    mote__tls_put(o, "): ");
    switch (alert) {
    case 40:
        mote__tls_put(o, "it refused the handshake; most often it requires a client certificate "
                         "(mutual TLS: set client_chain and a key) or has no algorithm in "
                         "common with us; its log says which");
        break;
    case 41:
    case 116:
        mote__tls_put(o, "it requires a client certificate: set client_chain and its key");
        break;
    case 42:
    case 43:
    case 46:
    case 48:
        mote__tls_put(o, "it rejected our client certificate: give the broker the CA that "
                         "signed it (mosquitto: cafile), or use a certificate from its CA");
        break;
    case 44:
        mote__tls_put(o, "our client certificate is revoked: issue the device a new one");
        break;
    case 45:
        mote__tls_put(o, "our client certificate has expired (or the broker's clock is wrong): "
                         "renew it");
        break;
    case 49:
        mote__tls_put(o, "the broker denies this device access: check its ACL or certificate "
                         "mapping");
        break;
    case 20:
    case 21:
    case 51:
        mote__tls_put(o, "the bytes were damaged in transit, or something between us rewrites "
                         "them: check the link and any proxy");
        break;
    case 22:
        mote__tls_put(o, "it received a record larger than allowed: report this as a bug");
        break;
    case 70:
    case 71:
        mote__tls_put(o, "it wants another TLS version or stronger algorithms: the device speaks "
                         "TLS 1.2 with ECDHE (mosquitto: tls_version tlsv1.2)");
        break;
    case 112:
        mote__tls_put(o, "it does not know the host name we sent (SNI): connect with the name "
                         "it serves");
        break;
    case 80:
        mote__tls_put(o, "it failed internally: see the broker's log");
        break;
    default:
        mote__tls_put(o, "see the broker's log for why");
        break;
    }
}

/* see mote/tls.h */
char *mote_tls_explain(const struct mote_error *e, char *buf, size_t len)
{
    struct mote__tls_out o = {buf, len, 0};

    if (buf == NULL || len == 0)
        return buf;
    buf[0] = 0;
    if (e == NULL)
        return buf;
    switch (e->code) {
    case MOTE_ERR_TLS_UNTRUSTED:
        mote__tls_put(&o, "the broker's certificate chain is not trusted: none of the device's "
                          "trust anchors signed it. Add the CA that issued the broker's "
                          "certificate to the anchors (mote certs embed ca.pem), or check that "
                          "this is the broker you meant");
        break;
    case MOTE_ERR_TLS_HOSTNAME:
        mote__tls_put(&o, "the broker's certificate is not issued for the host name the device "
                          "connects to: connect with a name the certificate lists (its "
                          "subjectAltName), or reissue it with this name (an IP address needs an "
                          "IP entry in subjectAltName)");
        break;
    case MOTE_ERR_TLS_EXPIRED:
        mote__tls_put(&o, "a certificate of the broker's chain has expired: renew it on the "
                          "broker, or check the device's clock if the date it uses is wrong");
        break;
    case MOTE_ERR_TLS_NOT_YET_VALID:
        mote__tls_put(&o, "a certificate of the broker's chain is not valid yet: the device's "
                          "clock is probably behind (set it with SNTP before connecting), or the "
                          "certificate starts in the future");
        break;
    case MOTE_ERR_TLS_NO_CLOCK:
        mote__tls_put(&o, "the device has no clock to check the certificate dates with: give "
                          "mote_tls_config.unix_time (e.g. from SNTP, and connect once it is "
                          "set), or set allow_no_clock = 1 to accept any dates knowingly");
        break;
    case MOTE_ERR_TLS_BAD_SIGNATURE:
        mote__tls_put(&o, "a signature does not verify: a certificate was not signed by the key "
                          "of the CA it names. If the broker's CA was made again under the same "
                          "name, it has a new key: embed the new CA certificate in the device "
                          "(mote certs embed ca.pem); otherwise the chain is corrupt or forged");
        break;
    case MOTE_ERR_TLS_UNSUPPORTED_KEY:
        mote__tls_put(&o, "the broker uses a key or signature algorithm the device does not "
                          "support (it has RSA 1024 to 4096 bits with PKCS#1 v1.5, and ECDSA "
                          "on P-256, P-384, P-521; keys must allow TLS server use): reissue the "
                          "certificate with ECDSA P-256, the best fit for small devices");
        break;
    case MOTE_ERR_TLS_NO_COMMON_CIPHER:
        mote__tls_put(&o, "the broker and the device share no TLS version or cipher suite: the "
                          "device speaks TLS 1.2 with ECDHE and ChaCha20-Poly1305, AES-GCM or "
                          "AES-CBC; enable TLS 1.2 on the broker (mosquitto: tls_version "
                          "tlsv1.2) and keep ECDHE suites");
        if (e->reason) {
            mote__tls_put(&o, " (alert ");
            mote__tls_put_u(&o, e->reason);
            mote__tls_put(&o, " ");
            mote__tls_put(&o, mote_tls_alert_name(e->reason));
            mote__tls_put(&o, ")");
        }
        break;
    case MOTE_ERR_TLS_ALERT:
        explain_alert(&o, e->reason);
        break;
    case MOTE_ERR_TLS_RECORD_TOO_LARGE:
        mote__tls_put(&o, "record larger than our buffer: the server ignored "
                          "max_fragment_length; use a broker that honours it (moted) or give "
                          "the device ");
        mote__tls_put_u(&o, (uint32_t)MOTE_TLS_IOBUF_FULL);
        mote__tls_put(&o, " bytes of buffer");
        if (e->need) {
            mote__tls_put(&o, " (this record needed ");
            mote__tls_put_u(&o, e->need);
            mote__tls_put(&o, ", the buffer has ");
            mote__tls_put_u(&o, e->have);
            mote__tls_put(&o, ")");
        }
        break;
    case MOTE_ERR_TLS_CHAIN_TOO_LARGE:
        mote__tls_put(&o, "a certificate of the broker's chain holds a key or signature larger "
                          "than the verifier's fixed buffers (RSA over 4096 bits): use ECDSA "
                          "P-256 or RSA up to 4096 bits");
        break;
    case MOTE_ERR_TLS_PIN_MISMATCH:
        mote__tls_put(&o, "the broker's public key is not the one the device pins: if the broker "
                          "got a new key, pin that one (mote certs embed --pin); otherwise this "
                          "is not your broker");
        break;
    case MOTE_ERR_TLS_NO_ENTROPY:
        mote__tls_put(&o, "no random source for TLS: give mote_tls_config.seed 32 bytes from "
                          "the hardware random generator");
        break;
    case MOTE_ERR_TLS_OTHER:
        mote__tls_put(&o, "TLS failed");
        if (e->raw == BR_ERR_BAD_VERSION || e->raw == BR_ERR_UNKNOWN_TYPE ||
            e->raw == BR_ERR_BAD_LENGTH)
            mote__tls_put(&o, ": the broker does not speak TLS on this port (plain MQTT is "
                              "usually 1883, TLS 8883)");
        else if (e->raw == BR_ERR_BAD_MAC)
            mote__tls_put(&o, ": a record was damaged in transit");
        break;
    default:
        mote__tls_put(&o, mote_strerror(e->code));
        break;
    }
    if (e->code <= MOTE_ERR_TLS_UNTRUSTED && e->code >= MOTE_ERR_TLS_OTHER && e->raw) {
        mote__tls_put(&o, " [");
        mote__tls_put(&o, mote_tls_bearssl_name(e->raw));
        mote__tls_put(&o, " ");
        mote__tls_put_u(&o, (uint32_t)e->raw);
        mote__tls_put(&o, "]");
    }
    return buf;
}

static void put_name(struct mote__tls_out *o, const char *label, const char *name)
{
    mote__tls_put(o, label);
    mote__tls_put(o, "\"");
    mote__tls_put(o, name);
    mote__tls_put(o, "\"");
}

/* see mote/tls.h */
char *mote_tls_explain_detail(const struct mote_tls *t, char *buf, size_t len)
{
    struct mote__tls_out o = {buf, len, 0};
    const struct mote_tls_detail *d;
    int code;

    if (buf == NULL || len == 0 || t == NULL)
        return buf;
    mote_tls_explain(&t->err, buf, len);
    o.used = strlen(buf);
    d = &t->detail;
    code = t->err.code;

    if (d->chain_len > 0 && code != MOTE_ERR_TLS_RECORD_TOO_LARGE &&
        code != MOTE_ERR_TLS_NO_ENTROPY) {
        put_name(&o, ". Server certificate: CN ", d->subject_cn);
        if (d->name[0])
            put_name(&o, ", first SAN ", d->name);
        put_name(&o, ", issued by ", d->issuer_cn);
        if (d->chain_len > 1) {
            mote__tls_put(&o, "; the server sent ");
            mote__tls_put_u(&o, d->chain_len);
            put_name(&o, " certificates, the last issued by ", d->top_issuer_cn);
        }
    }
    if (t->err.layer != MOTE_LAYER_TLS && code < 0 && !d->handshake_done) {
        /* the inner transport failed: say where in the handshake */
        mote__tls_put(&o, d->server_hello ? " (during the TLS handshake, after the broker's hello"
                                          : " (during the TLS handshake, before the broker "
                                            "answered: is this a TLS port?");
        if (d->cert_requested && t->cfg.client_chain_len == 0)
            mote__tls_put(&o, "; the broker asked for a client certificate and the device has "
                              "none: it probably requires one");
        mote__tls_put(&o, ")");
    }
    switch (code) {
    case MOTE_ERR_TLS_HOSTNAME:
        put_name(&o, "; the device asked for ", t->cfg.host ? t->cfg.host : "");
        break;
    case MOTE_ERR_TLS_EXPIRED:
    case MOTE_ERR_TLS_NOT_YET_VALID:
        mote__tls_put(&o, "; certificate ");
        mote__tls_put_u(&o, d->cert_index);
        mote__tls_put(&o, d->cert_index == 0 ? " (the server's own)" : " above the server's");
        mote__tls_put(&o, " is valid from ");
        mote__tls_put_date(&o, d->not_before_days);
        mote__tls_put(&o, " to ");
        mote__tls_put_date(&o, d->not_after_days);
        mote__tls_put(&o, ", the device's clock says ");
        mote__tls_put_date(&o, d->now_days);
        break;
    case MOTE_ERR_TLS_UNSUPPORTED_KEY:
    case MOTE_ERR_TLS_CHAIN_TOO_LARGE:
    case MOTE_ERR_TLS_BAD_SIGNATURE:
        mote__tls_put(&o, "; its key: ");
        mote__tls_put(&o, key_name(d->key_type));
        if (d->key_bits) {
            mote__tls_put(&o, " ");
            mote__tls_put_u(&o, d->key_bits);
            mote__tls_put(&o, " bits");
        }
        mote__tls_put(&o, ", signed with ");
        mote__tls_put(&o, mote_tls_sig_name(d->sig_alg));
        break;
    case MOTE_ERR_TLS_RECORD_TOO_LARGE:
        mote__tls_put(&o, d->mfl_accepted ? ". The broker had accepted records of "
                                          : ". We asked for records of ");
        mote__tls_put_u(&o, d->max_fragment);
        mote__tls_put(&o, d->mfl_accepted ? " bytes, then sent one of "
                                          : " bytes; the broker did not confirm, and sent one "
                                            "of ");
        mote__tls_put_u(&o, d->record_len);
        mote__tls_put(&o, " bytes");
        break;
    case MOTE_ERR_TLS_NO_COMMON_CIPHER:
        if (d->server_hello) {
            mote__tls_put(&o, "; the broker chose version ");
            put_hex16(&o, d->version);
            mote__tls_put(&o, ", suite ");
            put_hex16(&o, d->cipher_suite);
        }
        break;
    case MOTE_ERR_TLS_ALERT:
        if (d->cert_requested)
            mote__tls_put(&o, "; the broker had asked for a client certificate");
        break;
    default:
        break;
    }
    return buf;
}
