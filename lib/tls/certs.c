/*
 * certs.c - certificates and keys at run time, into the caller's memory: PEM to DER, a trust
 * anchor from a CA certificate, a key to pin from a SubjectPublicKeyInfo. What `mote certs embed`
 * does at build time, for devices that receive their CA later (provisioning, a config file).
 */
#include "tls_internal.h"

static int fail(struct mote_error *err, int code, int32_t raw, uint32_t need, uint32_t have,
                const char *what)
{
    if (err) {
        mote__tls_error(err, code,
                        code == MOTE_ERR_BUFFER_TOO_SMALL || code == MOTE_ERR_BAD_ARG
                            ? MOTE_LAYER_CONFIG
                            : MOTE_LAYER_TLS,
                        raw);
        err->need = need;
        err->have = have;
        err->what = what;
    }
    return code;
}

static void ok(struct mote_error *err)
{
    if (err)
        mote__tls_error(err, MOTE_OK, MOTE_LAYER_NONE, 0);
}

/* ---------------------------------------------------------------------------------------------
 * PEM
 * ------------------------------------------------------------------------------------------- */

/* Where decoded bytes go: a buffer (counting what would not fit), or an X.509 decoder. */
struct sink {
    uint8_t *out;
    size_t cap, len;
    br_x509_decoder_context *x509;
};

static void sink_write(void *ctx, const void *src, size_t len)
{
    struct sink *k = ctx;

    if (k->x509) {
        br_x509_decoder_push(k->x509, src, len);
        return;
    }
    if (k->len <= k->cap && len <= k->cap - k->len)
        memcpy(k->out + k->len, src, len);
    k->len += len;
}

/* Decodes the first PEM object into @p k. 1 done, 0 none found or malformed. */
static int pem_first(const uint8_t *pem, size_t len, struct sink *k)
{
    br_pem_decoder_context pc;
    int in_object = 0, pass;

    br_pem_decoder_init(&pc);
    /* Two passes: the text, then one newline in case the text does not end with one. */
    for (pass = 0; pass < 2; pass++) {
        const uint8_t *p = pass == 0 ? pem : (const uint8_t *)"\n";
        size_t left = pass == 0 ? len : 1;

        while (left > 0) {
            size_t n = br_pem_decoder_push(&pc, p, left);
            p += n;
            left -= n;
            switch (br_pem_decoder_event(&pc)) {
            case BR_PEM_BEGIN_OBJ:
                br_pem_decoder_setdest(&pc, sink_write, k);
                in_object = 1;
                break;
            case BR_PEM_END_OBJ:
                return in_object;
            case BR_PEM_ERROR:
                return 0;
            default:
                break;
            }
        }
    }
    return 0;
}

/* see mote/tls.h */
int mote_tls_pem_to_der(const uint8_t *pem, size_t pem_len, uint8_t *out, size_t out_cap,
                        size_t *out_len, struct mote_error *err)
{
    struct sink k = {out, out_cap, 0, NULL};

    if (pem == NULL || out_len == NULL || (out == NULL && out_cap > 0))
        return fail(err, MOTE_ERR_BAD_ARG, 0, 0, 0, "PEM input");
    if (!pem_first(pem, pem_len, &k))
        return fail(err, MOTE_ERR_BAD_ARG, 0, 0, 0, "PEM input (no complete PEM object)");
    if (k.len > out_cap)
        return fail(err, MOTE_ERR_BUFFER_TOO_SMALL, 0, (uint32_t)k.len, (uint32_t)out_cap,
                    "DER output buffer");
    *out_len = k.len;
    ok(err);
    return MOTE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Trust anchors
 * ------------------------------------------------------------------------------------------- */

/* The subject DN, copied into the work buffer as the decoder hands it over. */
static void dn_write(void *ctx, const void *src, size_t len)
{
    sink_write(ctx, src, len);
}

static int anchor_finish(br_x509_decoder_context *dc, struct sink *dn, br_x509_trust_anchor *out,
                         struct mote_error *err)
{
    const br_x509_pkey *pk;
    int e = br_x509_decoder_last_error(dc);
    size_t need, a_len, b_len;
    const unsigned char *a, *b;

    if (e != 0)
        return fail(err, MOTE_ERR_TLS_OTHER, e, 0, 0, "certificate (not a valid X.509 DER)");
    pk = br_x509_decoder_get_pkey(dc);
    if (pk == NULL)
        return fail(err, MOTE_ERR_TLS_UNSUPPORTED_KEY, BR_ERR_X509_UNSUPPORTED, 0, 0,
                    "certificate key");
    if (pk->key_type == BR_KEYTYPE_RSA) {
        a = pk->key.rsa.n;
        a_len = pk->key.rsa.nlen;
        b = pk->key.rsa.e;
        b_len = pk->key.rsa.elen;
    } else if (pk->key_type == BR_KEYTYPE_EC) {
        a = pk->key.ec.q;
        a_len = pk->key.ec.qlen;
        b = NULL;
        b_len = 0;
    } else {
        return fail(err, MOTE_ERR_TLS_UNSUPPORTED_KEY, BR_ERR_X509_UNSUPPORTED, 0, 0,
                    "certificate key");
    }
    need = dn->len + a_len + b_len;
    if (need > dn->cap)
        return fail(err, MOTE_ERR_BUFFER_TOO_SMALL, 0, (uint32_t)need, (uint32_t)dn->cap,
                    "trust anchor work buffer");
    /* The key lives in the decoder (on our stack): copy it next to the DN. */
    memcpy(dn->out + dn->len, a, a_len);
    if (b_len)
        memcpy(dn->out + dn->len + a_len, b, b_len);

    memset(out, 0, sizeof *out);
    out->dn.data = dn->out;
    out->dn.len = dn->len;
    out->flags = br_x509_decoder_isCA(dc) ? BR_X509_TA_CA : 0;
    out->pkey.key_type = pk->key_type;
    if (pk->key_type == BR_KEYTYPE_RSA) {
        out->pkey.key.rsa.n = dn->out + dn->len;
        out->pkey.key.rsa.nlen = a_len;
        out->pkey.key.rsa.e = dn->out + dn->len + a_len;
        out->pkey.key.rsa.elen = b_len;
    } else {
        out->pkey.key.ec.curve = pk->key.ec.curve;
        out->pkey.key.ec.q = dn->out + dn->len;
        out->pkey.key.ec.qlen = a_len;
    }
    ok(err);
    return MOTE_OK;
}

/* see mote/tls.h */
int mote_tls_anchor_from_der(const uint8_t *der, size_t der_len, uint8_t *work, size_t work_len,
                             br_x509_trust_anchor *out, struct mote_error *err)
{
    br_x509_decoder_context dc;
    struct sink dn = {work, work_len, 0, NULL};

    if (der == NULL || out == NULL || (work == NULL && work_len > 0))
        return fail(err, MOTE_ERR_BAD_ARG, 0, 0, 0, "certificate");
    br_x509_decoder_init(&dc, dn_write, &dn);
    br_x509_decoder_push(&dc, der, der_len);
    return anchor_finish(&dc, &dn, out, err);
}

/* see mote/tls.h */
int mote_tls_anchor_from_pem(const uint8_t *pem, size_t pem_len, uint8_t *work, size_t work_len,
                             br_x509_trust_anchor *out, struct mote_error *err)
{
    br_x509_decoder_context dc;
    struct sink dn = {work, work_len, 0, NULL};
    struct sink to_decoder = {NULL, 0, 0, &dc};

    if (pem == NULL || out == NULL || (work == NULL && work_len > 0))
        return fail(err, MOTE_ERR_BAD_ARG, 0, 0, 0, "certificate");
    br_x509_decoder_init(&dc, dn_write, &dn);
    if (!pem_first(pem, pem_len, &to_decoder))
        return fail(err, MOTE_ERR_BAD_ARG, 0, 0, 0, "certificate (no complete PEM object)");
    return anchor_finish(&dc, &dn, out, err);
}

/* ---------------------------------------------------------------------------------------------
 * Pinned keys
 * ------------------------------------------------------------------------------------------- */

/* Reads one DER element at *p (before end): its tag and value. 1 on success. */
static int der_next(const uint8_t **p, const uint8_t *end, uint8_t *tag, const uint8_t **val,
                    size_t *len)
{
    const uint8_t *q = *p;
    size_t n;

    if (end - q < 2)
        return 0;
    *tag = *q++;
    n = *q++;
    if (n & 0x80) {
        size_t k = n & 0x7f;
        if (k == 0 || k > 3 || (size_t)(end - q) < k)
            return 0;
        for (n = 0; k > 0; k--)
            n = n << 8 | *q++;
    }
    if ((size_t)(end - q) < n)
        return 0;
    *val = q;
    *len = n;
    *p = q + n;
    return 1;
}

/* see mote/tls.h */
int mote_tls_pin_from_der(const uint8_t *der, size_t der_len, br_x509_pkey *out,
                          struct mote_error *err)
{
    static const uint8_t rsa_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
    static const uint8_t ec_oid[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
    static const struct {
        int curve;
        uint8_t len;
        uint8_t oid[8];
    } curves[] = {
        {BR_EC_secp256r1, 8, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}},
        {BR_EC_secp384r1, 5, {0x2b, 0x81, 0x04, 0x00, 0x22}},
        {BR_EC_secp521r1, 5, {0x2b, 0x81, 0x04, 0x00, 0x23}},
    };
    const uint8_t *p = der, *end, *v, *alg, *alg_end, *oid, *bits;
    size_t n, oid_len, bits_len;
    uint8_t tag;

    if (der == NULL || out == NULL)
        return fail(err, MOTE_ERR_BAD_ARG, 0, 0, 0, "public key");
    end = der + der_len;
    /* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, key BIT STRING } */
    if (!der_next(&p, end, &tag, &v, &n) || tag != 0x30 || p != end)
        goto malformed;
    p = v;
    end = v + n;
    if (!der_next(&p, end, &tag, &alg, &n) || tag != 0x30)
        goto malformed;
    alg_end = alg + n;
    if (!der_next(&p, end, &tag, &bits, &bits_len) || tag != 0x03 || p != end || bits_len < 2 ||
        bits[0] != 0)
        goto malformed;
    bits++;
    bits_len--;
    if (!der_next(&alg, alg_end, &tag, &oid, &oid_len) || tag != 0x06)
        goto malformed;

    memset(out, 0, sizeof *out);
    if (oid_len == sizeof rsa_oid && memcmp(oid, rsa_oid, oid_len) == 0) {
        const uint8_t *q = bits, *qe = bits + bits_len, *seq, *num;
        size_t seq_len, num_len;

        if (!der_next(&q, qe, &tag, &seq, &seq_len) || tag != 0x30 || q != qe)
            goto malformed;
        q = seq;
        qe = seq + seq_len;
        if (!der_next(&q, qe, &tag, &num, &num_len) || tag != 0x02 || num_len == 0)
            goto malformed;
        out->key.rsa.n = (unsigned char *)(uintptr_t)num;
        out->key.rsa.nlen = num_len;
        if (!der_next(&q, qe, &tag, &num, &num_len) || tag != 0x02 || num_len == 0 || q != qe)
            goto malformed;
        out->key.rsa.e = (unsigned char *)(uintptr_t)num;
        out->key.rsa.elen = num_len;
        out->key_type = BR_KEYTYPE_RSA;
        ok(err);
        return MOTE_OK;
    }
    if (oid_len == sizeof ec_oid && memcmp(oid, ec_oid, oid_len) == 0) {
        if (!der_next(&alg, alg_end, &tag, &oid, &oid_len) || tag != 0x06)
            goto malformed;
        for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++) {
            if (oid_len == curves[i].len && memcmp(oid, curves[i].oid, oid_len) == 0) {
                if (bits[0] != 0x04) /* only uncompressed points, as in certificates */
                    goto malformed;
                out->key_type = BR_KEYTYPE_EC;
                out->key.ec.curve = curves[i].curve;
                out->key.ec.q = (unsigned char *)(uintptr_t)bits;
                out->key.ec.qlen = bits_len;
                ok(err);
                return MOTE_OK;
            }
        }
    }
    return fail(err, MOTE_ERR_TLS_UNSUPPORTED_KEY, 0, 0, 0,
                "public key (pin RSA or EC P-256, P-384, P-521)");
malformed:
    return fail(err, MOTE_ERR_BAD_ARG, 0, 0, 0, "public key (not a DER SubjectPublicKeyInfo)");
}
