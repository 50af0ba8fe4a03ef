/*
 * tls.c - the TLS transport: BearSSL's client engine run over any struct mote_transport,
 * non-blocking, in the caller's memory. Also the certificate checker that sits between BearSSL's
 * engine and its X.509 validator (to read names and dates, pin a key, check IP hosts and the
 * clock), and the reader of raw incoming records (record sizes, ServerHello extensions).
 */
#include "tls_internal.h"

static const uint16_t suites[] = {
    /* ChaCha20 first: fast and small in software, which is what most devices have. */
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
};

static struct mote_tls *tls_of(const br_x509_class *const *ctx)
{
    return (struct mote_tls *)(void *)((char *)(uintptr_t)ctx - offsetof(struct mote_tls, x509));
}

/* BearSSL's own validator behind our checker: the minimal one, or the pinned key. */
static const br_x509_class **inner_x509(struct mote_tls *t)
{
#ifdef MOTE_TLS_PIN_ONLY
    return &t->x.known.vtable;
#else
    return t->cfg.pin ? &t->x.known.vtable : &t->x.minimal.vtable;
#endif
}

/* ---------------------------------------------------------------------------------------------
 * The certificate checker (a br_x509_class wrapped around BearSSL's)
 * ------------------------------------------------------------------------------------------- */

static void check_start_chain(const br_x509_class **ctx, const char *server_name)
{
    struct mote_tls *t = tls_of(ctx);
    const char *name = t->cfg.host;

    (void)server_name; /* the engine's copy of what we gave it; we know better (IP, skip) */
    t->verdict = MOTE_TLS_VERDICT_NONE;
    mote__tls_scan_chain(t);
#ifndef MOTE_TLS_PIN_ONLY
    if (t->cfg.pin == NULL) {
        if (t->clock_known)
            br_x509_minimal_set_time(&t->x.minimal, t->detail.now_days, t->detail.now_seconds);
        else if (t->cfg.allow_no_clock)
            br_x509_minimal_set_time(&t->x.minimal, 1, 0); /* moved per certificate, below */
        else
            br_x509_minimal_set_time(&t->x.minimal, 0, 0); /* "unknown": decided at the end */
        if (t->cfg.skip_host_check || t->host_ip_len)
            name = NULL; /* BearSSL matches DNS names only; IP hosts are ours to check */
    }
#endif
    (*inner_x509(t))->start_chain(inner_x509(t), name);
}

static void check_start_cert(const br_x509_class **ctx, uint32_t length)
{
    struct mote_tls *t = tls_of(ctx);

    mote__tls_scan_cert(t);
    (*inner_x509(t))->start_cert(inner_x509(t), length);
}

static void check_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
    struct mote_tls *t = tls_of(ctx);

    /* Our reader goes first, so it has seen a date before BearSSL compares it to the clock. */
    mote__tls_scan_bytes(t, buf, len);
#ifndef MOTE_TLS_PIN_ONLY
    if (t->cfg.pin == NULL && !t->clock_known && t->cfg.allow_no_clock && t->scan.have_nb)
        /* No clock, and the caller accepts that: the moment each certificate starts to be
         * valid is a moment inside its validity, so BearSSL's date check passes. */
        br_x509_minimal_set_time(&t->x.minimal, t->scan.nb_days, t->scan.nb_secs);
#endif
    (*inner_x509(t))->append(inner_x509(t), buf, len);
}

static void check_end_cert(const br_x509_class **ctx)
{
    struct mote_tls *t = tls_of(ctx);

    mote__tls_scan_cert_end(t);
    (*inner_x509(t))->end_cert(inner_x509(t));
}

static unsigned check_end_chain(const br_x509_class **ctx)
{
    struct mote_tls *t = tls_of(ctx);
    unsigned r = (*inner_x509(t))->end_chain(inner_x509(t));

    if (t->cfg.pin) {
        if (!mote__tls_scan_pin_ok(t)) {
            t->verdict = MOTE_TLS_VERDICT_PIN_MISMATCH;
            return BR_ERR_X509_NOT_TRUSTED;
        }
        return r;
    }
    if (r == BR_ERR_X509_NOT_TRUSTED && t->detail.anchor_name)
        t->verdict = MOTE_TLS_VERDICT_ANCHOR_KEY;
    if (r == 0 && t->host_ip_len && !t->cfg.skip_host_check && !t->scan.ip_match) {
        t->verdict = MOTE_TLS_VERDICT_HOSTNAME_IP;
        return BR_ERR_X509_BAD_SERVER_NAME;
    }
    /* Without a clock BearSSL uses the OS time where it has one, and fails elsewhere: either
     * way the dates were not checked against a time the caller vouched for. */
    if (!t->clock_known && !t->cfg.allow_no_clock &&
        (r == 0 || r == BR_ERR_X509_EXPIRED || r == BR_ERR_X509_TIME_UNKNOWN)) {
        t->verdict = MOTE_TLS_VERDICT_NO_CLOCK;
        return BR_ERR_X509_TIME_UNKNOWN;
    }
    return r;
}

static const br_x509_pkey *check_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
    struct mote_tls *t = tls_of(ctx);
    const br_x509_class *const *in = (const br_x509_class *const *)inner_x509(t);

    return (*in)->get_pkey(in, usages);
}

static const br_x509_class checker_vtable = {
    sizeof(struct mote_tls), check_start_chain, check_start_cert, check_append,
    check_end_cert,          check_end_chain,   check_get_pkey,
};

/* ---------------------------------------------------------------------------------------------
 * The reader of incoming records (before BearSSL decrypts them)
 * ------------------------------------------------------------------------------------------- */

/* One byte of the ServerHello body, at offset @p off. */
static void server_hello_byte(struct mote_tls *t, uint8_t b, uint16_t off)
{
    struct mote_tls_rec *r = &t->rec;
    uint16_t rel, k;

    if (off < 2) {
        t->detail.version = (uint16_t)(t->detail.version << 8 | b);
        return;
    }
    if (off == 34) { /* after version and random: session id length */
        r->sh_next = (uint16_t)(35 + b);
        return;
    }
    if (off < 35 || off < r->sh_next)
        return;
    rel = (uint16_t)(off - r->sh_next);
    if (rel < 2) {
        t->detail.cipher_suite = (uint16_t)(t->detail.cipher_suite << 8 | b);
        return;
    }
    if (rel < 5) /* compression, then the length of the extensions */
        return;
    if (rel == 5)
        r->ext_at = off;
    if (off < r->ext_at)
        return;
    k = (uint16_t)(off - r->ext_at);
    if (k == 0)
        r->ext_type = b;
    else if (k == 1)
        r->ext_type = (uint16_t)(r->ext_type << 8 | b);
    else if (k == 2)
        r->ext_len_hi = b;
    else if (k == 3) {
        if (r->ext_type == 0x0001) /* max_fragment_length, echoed: the server honours it */
            t->detail.mfl_accepted = 1;
        r->ext_at = (uint16_t)(off + 1 + ((uint16_t)r->ext_len_hi << 8 | b));
    }
}

/* One byte of a plaintext handshake record. */
static void handshake_byte(struct mote_tls *t, uint8_t b)
{
    struct mote_tls_rec *r = &t->rec;

    if (r->hs_hdr_have < 4) {
        r->hs_hdr[r->hs_hdr_have++] = b;
        if (r->hs_hdr_have == 4) {
            r->hs_type = r->hs_hdr[0];
            r->hs_left = (uint32_t)r->hs_hdr[1] << 16 | (uint32_t)r->hs_hdr[2] << 8 | r->hs_hdr[3];
            r->hs_off = 0;
            if (r->hs_type == 2)
                t->detail.server_hello = 1;
            else if (r->hs_type == 13)
                t->detail.cert_requested = 1;
            if (r->hs_left == 0)
                r->hs_hdr_have = 0;
        }
        return;
    }
    if (r->hs_type == 2)
        server_hello_byte(t, b, r->hs_off);
    if (r->hs_off < 0xffff)
        r->hs_off++;
    if (--r->hs_left == 0)
        r->hs_hdr_have = 0;
}

static void record_bytes(struct mote_tls *t, const uint8_t *buf, size_t len)
{
    struct mote_tls_rec *r = &t->rec;
    size_t i = 0;

    while (i < len) {
        if (r->hdr_have < 5) {
            r->hdr[r->hdr_have++] = buf[i++];
            if (r->hdr_have == 5) {
                r->body_left = (uint16_t)(r->hdr[3] << 8 | r->hdr[4]);
                /* BearSSL takes a protected record only if it fits whole in its buffer */
                if (r->encrypted && (size_t)r->body_left + 5 > t->sc.eng.ibuf_len)
                    t->detail.record_len = r->body_left;
                if (r->body_left == 0)
                    r->hdr_have = 0;
            }
            continue;
        }
        if (r->hdr[0] == 22 && !r->encrypted) {
            handshake_byte(t, buf[i]);
            i++;
            r->body_left--;
        } else { /* not ours to read: skip the rest of the record body */
            size_t n = len - i < r->body_left ? len - i : r->body_left;
            i += n;
            r->body_left = (uint16_t)(r->body_left - n);
        }
        if (r->body_left == 0) {
            if (r->hdr[0] == 20) /* ChangeCipherSpec: what follows is encrypted */
                r->encrypted = 1;
            r->hdr_have = 0;
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Running the engine over the inner transport
 * ------------------------------------------------------------------------------------------- */

static int32_t inner_failed(struct mote_tls *t, int32_t rc)
{
    mote__tls_error(&t->err, rc, MOTE_LAYER_TCP, 0);
    return rc;
}

/*
 * Our write failed during the handshake. A server that rejects us (no client certificate, say)
 * sends its alert and closes, and our next write meets the reset while the alert still waits
 * unread: BearSSL, half duplex, will not read while it has bytes to send. So read that one
 * plaintext alert record (5 + 2 bytes) ourselves, and report it rather than the reset.
 */
static int32_t send_failed(struct mote_tls *t, int32_t rc)
{
    uint8_t rec[7];
    size_t have = 0;

    if (!t->detail.handshake_done && !t->rec.encrypted && t->rec.hdr_have == 0) {
        while (have < sizeof rec) {
            int32_t r = t->inner.recv(t->inner.ctx, rec + have, sizeof rec - have);
            if (r <= 0)
                break;
            have += (size_t)r;
        }
        if (have == sizeof rec && rec[0] == 21 && rec[3] == 0 && rec[4] == 2 && rec[5] == 2) {
            mote__tls_set_error(t, BR_ERR_RECV_FATAL_ALERT + rec[6]);
            return t->err.code;
        }
    }
    return inner_failed(t, rc);
}

static int32_t engine_failed(struct mote_tls *t)
{
    int e = br_ssl_engine_last_error(&t->sc.eng);

    if (e == BR_ERR_OK) { /* close_notify from the server */
        mote__tls_error(&t->err, MOTE_ERR_CLOSED, MOTE_LAYER_TLS, 0);
        return MOTE_ERR_CLOSED;
    }
    mote__tls_set_error(t, e);
    return t->err.code;
}

static void handshake_done(struct mote_tls *t)
{
    br_ssl_session_parameters p;

    t->detail.handshake_done = 1;
    br_ssl_engine_get_session_parameters(&t->sc.eng, &p);
    t->detail.version = p.version;
    t->detail.cipher_suite = p.cipher_suite;
    /* A server resumes by echoing the session id we offered. */
    t->detail.resumed =
        (uint8_t)(t->have_session && p.session_id_len > 0 &&
                  p.session_id_len == t->session.session_id_len &&
                  memcmp(p.session_id, t->session.session_id, p.session_id_len) == 0);
    t->session = p;
    t->have_session = p.session_id_len > 0;
}

/* Writes pending records to the inner transport. 1: all out, 0: it would block, < 0: error. */
static int32_t flush_records(struct mote_tls *t)
{
    br_ssl_engine_context *eng = &t->sc.eng;

    while (br_ssl_engine_current_state(eng) & BR_SSL_SENDREC) {
        size_t n;
        unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &n);
        int32_t r = t->inner.send(t->inner.ctx, buf, n);

        if (r < 0)
            return send_failed(t, r);
        if (r == 0)
            return 0;
        br_ssl_engine_sendrec_ack(eng, (size_t)r);
    }
    return 1;
}

/*
 * Moves records between the engine and the inner transport until the engine can do @p want
 * (BR_SSL_SENDAPP or BR_SSL_RECVAPP). 1: it can; 0: the inner transport would block; < 0: error.
 */
static int32_t pump(struct mote_tls *t, unsigned want)
{
    br_ssl_engine_context *eng = &t->sc.eng;

    if (t->inner.send == NULL)
        return MOTE_ERR_NOT_CONNECTED;
    if (t->err.code < 0)
        return t->err.code; /* a failed session stays failed: call mote_tls_transport() */
    for (;;) {
        unsigned st = br_ssl_engine_current_state(eng);

        if (st & BR_SSL_CLOSED)
            return engine_failed(t);
        if (!t->detail.handshake_done && (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)))
            handshake_done(t);
        if (st & BR_SSL_SENDREC) {
            size_t n;
            unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &n);
            int32_t r = t->inner.send(t->inner.ctx, buf, n);

            if (r < 0)
                return send_failed(t, r);
            if (r > 0) {
                br_ssl_engine_sendrec_ack(eng, (size_t)r);
                continue;
            }
            return (st & want) ? 1 : 0;
        }
        if (st & want)
            return 1;
        /* Once the session is open, sending never waits for incoming records. */
        if ((st & BR_SSL_RECVREC) && !(want == BR_SSL_SENDAPP && t->detail.handshake_done)) {
            size_t n;
            unsigned char *buf = br_ssl_engine_recvrec_buf(eng, &n);
            int32_t r = t->inner.recv(t->inner.ctx, buf, n);

            if (r < 0)
                return inner_failed(t, r);
            if (r == 0)
                return 0;
            record_bytes(t, buf, (size_t)r);
            br_ssl_engine_recvrec_ack(eng, (size_t)r);
            continue;
        }
        return 0;
    }
}

static int32_t tls_recv(void *ctx, uint8_t *buf, size_t len)
{
    struct mote_tls *t = ctx;
    unsigned char *app;
    size_t n;
    int32_t r;

    if (t == NULL || (buf == NULL && len > 0))
        return MOTE_ERR_BAD_ARG;
    if (len == 0)
        return 0;
    r = pump(t, BR_SSL_RECVAPP);
    if (r <= 0)
        return r;
    app = br_ssl_engine_recvapp_buf(&t->sc.eng, &n);
    if (n > len)
        n = len;
    if (n > INT32_MAX)
        n = INT32_MAX;
    memcpy(buf, app, n);
    br_ssl_engine_recvapp_ack(&t->sc.eng, n);
    return (int32_t)n;
}

static int32_t tls_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct mote_tls *t = ctx;
    unsigned char *app;
    size_t n;
    int32_t r;

    if (t == NULL || (buf == NULL && len > 0))
        return MOTE_ERR_BAD_ARG;
    if (len == 0)
        return 0;
    r = pump(t, BR_SSL_SENDAPP);
    if (r <= 0)
        return r;
    app = br_ssl_engine_sendapp_buf(&t->sc.eng, &n);
    if (n > len)
        n = len;
    if (n > INT32_MAX)
        n = INT32_MAX;
    memcpy(app, buf, n);
    br_ssl_engine_sendapp_ack(&t->sc.eng, n);
    br_ssl_engine_flush(&t->sc.eng, 0);
    /* The bytes are ours now; the record goes out here or at the next send/recv. */
    r = flush_records(t);
    if (r < 0)
        return r;
    return (int32_t)n;
}

/* ---------------------------------------------------------------------------------------------
 * Public functions
 * ------------------------------------------------------------------------------------------- */

static int init_failed(struct mote_tls *t, struct mote_error *err, int code, uint32_t need,
                       uint32_t have, const char *what)
{
    struct mote_error e;

    mote__tls_error(&e, code, MOTE_LAYER_CONFIG, 0);
    e.need = need;
    e.have = have;
    e.what = what;
    if (t)
        t->err = e;
    if (err)
        *err = e;
    return code;
}

static void engine_setup(struct mote_tls *t)
{
    br_ssl_engine_context *eng = &t->sc.eng;
    static const struct {
        int id;
        const br_hash_class *impl;
    } hashes[] = {
        /* no MD5 or SHA-1: TLS 1.2 with ECDHE needs neither, and certificates should not */
        {br_sha224_ID, &br_sha224_vtable},
        {br_sha256_ID, &br_sha256_vtable},
        {br_sha384_ID, &br_sha384_vtable},
        {br_sha512_ID, &br_sha512_vtable},
    };

    br_ssl_client_zero(&t->sc);
    br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
    br_ssl_engine_set_suites(eng, suites, sizeof suites / sizeof suites[0]);
    br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION);
    br_ssl_engine_set_default_rsavrfy(eng);
    br_ssl_engine_set_default_ecdsa(eng); /* also the curves for ECDHE */
    br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
    br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
    br_ssl_engine_set_default_chapol(eng);
    br_ssl_engine_set_default_aes_gcm(eng);
    br_ssl_engine_set_default_aes_cbc(eng);
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++) {
        br_ssl_engine_set_hash(eng, hashes[i].id, hashes[i].impl);
#ifndef MOTE_TLS_PIN_ONLY
        if (t->cfg.pin == NULL)
            br_x509_minimal_set_hash(&t->x.minimal, hashes[i].id, hashes[i].impl);
#endif
    }
}

/* see mote/tls.h */
int mote_tls_init(struct mote_tls *t, const struct mote_tls_config *cfg, uint8_t *iobuf,
                  size_t iobuf_len, struct mote_error *err)
{
    size_t min;
    int anchors, host_len = 0;

    if (t == NULL || cfg == NULL || iobuf == NULL)
        return init_failed(t, err, MOTE_ERR_BAD_ARG, 0, 0, t ? "TLS configuration" : NULL);
    memset(t, 0, sizeof *t);
    min = cfg->bidi ? MOTE_TLS_IOBUF_BIDI(512) : MOTE_TLS_IOBUF_MIN;
    if (iobuf_len < min)
        return init_failed(t, err, MOTE_ERR_BUFFER_TOO_SMALL, (uint32_t)min, (uint32_t)iobuf_len,
                           "TLS record buffer");
    anchors = cfg->anchors != NULL && cfg->anchor_count > 0;
#ifdef MOTE_TLS_PIN_ONLY
    if (anchors)
        return init_failed(t, err, MOTE_ERR_BAD_ARG, 0, 0,
                           "TLS trust anchors: this build is pin-only (MOTE_TLS_PIN_ONLY): give a "
                           "pinned key");
#endif
    if (anchors == (cfg->pin != NULL))
        return init_failed(t, err, MOTE_ERR_BAD_ARG, 0, 0,
                           "TLS trust: give either anchors or a pinned key");
    while (cfg->host && host_len < 256 && cfg->host[host_len] != 0)
        host_len++;
    if (host_len > 255)
        return init_failed(t, err, MOTE_ERR_BAD_ARG, 0, 0, "TLS host (over 255 bytes)");
    if (anchors && !cfg->skip_host_check && host_len == 0)
        return init_failed(t, err, MOTE_ERR_BAD_ARG, 0, 0,
                           "TLS host (needed to check the certificate; or set skip_host_check)");
    if (cfg->client_chain_len > 0 &&
        (cfg->client_chain == NULL ||
         (cfg->client_ec_key == NULL) == (cfg->client_rsa_key == NULL)))
        return init_failed(t, err, MOTE_ERR_BAD_ARG, 0, 0,
                           "TLS client certificate (needs a chain and one EC or RSA key)");
    if (cfg->pin && cfg->pin->key_type != BR_KEYTYPE_RSA &&
        !(cfg->pin->key_type == BR_KEYTYPE_EC &&
          (cfg->pin->key.ec.curve == BR_EC_secp256r1 || cfg->pin->key.ec.curve == BR_EC_secp384r1 ||
           cfg->pin->key.ec.curve == BR_EC_secp521r1)))
        return init_failed(t, err, MOTE_ERR_TLS_UNSUPPORTED_KEY, 0, 0, "TLS pinned key");

    t->cfg = *cfg;
    t->host_ip_len = (uint8_t)mote__tls_parse_ip(cfg->host, t->host_ip);

#ifndef MOTE_TLS_PIN_ONLY
    if (anchors)
        br_x509_minimal_init(&t->x.minimal, &br_sha256_vtable, cfg->anchors, cfg->anchor_count);
#endif
    engine_setup(t);
#ifndef MOTE_TLS_PIN_ONLY
    if (anchors) {
        br_x509_minimal_set_rsa(&t->x.minimal, br_ssl_engine_get_rsavrfy(&t->sc.eng));
        br_x509_minimal_set_ecdsa(&t->x.minimal, br_ssl_engine_get_ec(&t->sc.eng),
                                  br_ssl_engine_get_ecdsa(&t->sc.eng));
    } else
#endif
    if (cfg->pin->key_type == BR_KEYTYPE_RSA) {
        br_x509_knownkey_init_rsa(&t->x.known, &cfg->pin->key.rsa,
                                  BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
    } else {
        br_x509_knownkey_init_ec(&t->x.known, &cfg->pin->key.ec, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
    }
    t->x509 = &checker_vtable;
    br_ssl_engine_set_x509(&t->sc.eng, &t->x509);

    if (cfg->client_chain_len > 0 && cfg->client_ec_key)
        br_ssl_client_set_single_ec(&t->sc, cfg->client_chain, cfg->client_chain_len,
                                    cfg->client_ec_key, BR_KEYTYPE_SIGN, 0, br_ec_get_default(),
                                    br_ecdsa_sign_asn1_get_default());
    else if (cfg->client_chain_len > 0)
        br_ssl_client_set_single_rsa(&t->sc, cfg->client_chain, cfg->client_chain_len,
                                     cfg->client_rsa_key, br_rsa_pkcs1_sign_get_default());

    if (cfg->seed && cfg->seed_len)
        br_ssl_engine_inject_entropy(&t->sc.eng, cfg->seed, cfg->seed_len);

    br_ssl_engine_set_buffer(&t->sc.eng, iobuf, iobuf_len, cfg->bidi ? 1 : 0);
    if (br_ssl_engine_last_error(&t->sc.eng) != BR_ERR_OK) /* our size check should forbid it */
        return init_failed(t, err, MOTE_ERR_BUFFER_TOO_SMALL, (uint32_t)min, (uint32_t)iobuf_len,
                           "TLS record buffer");
    if (err)
        mote__tls_error(err, MOTE_OK, MOTE_LAYER_NONE, 0);
    return MOTE_OK;
}

/* see mote/tls.h */
int mote_tls_transport(struct mote_tls *t, const struct mote_transport *inner,
                       struct mote_transport *out)
{
    br_ssl_engine_context *eng;
    const char *sni;
    int64_t now = 0;

    if (t == NULL || inner == NULL || out == NULL || inner->send == NULL || inner->recv == NULL)
        return MOTE_ERR_BAD_ARG;
    eng = &t->sc.eng;
    t->inner = *inner;
    mote__tls_error(&t->err, MOTE_OK, MOTE_LAYER_NONE, 0);
    memset(&t->detail, 0, sizeof t->detail);
    memset(&t->scan, 0, sizeof t->scan);
    memset(&t->rec, 0, sizeof t->rec);
    t->verdict = MOTE_TLS_VERDICT_NONE;

    /* The clock is read once, as the handshake starts. */
    if (t->cfg.unix_time)
        now = t->cfg.unix_time(t->cfg.clock_ctx);
    t->clock_known = now > 0;
    if (t->clock_known) {
        t->detail.now_days = (uint32_t)(now / 86400) + MOTE_TLS_UNIX_EPOCH_DAYS;
        t->detail.now_seconds = (uint32_t)(now % 86400);
    }

    if (t->have_session)
        br_ssl_engine_set_session_parameters(eng, &t->session);
    /* SNI carries DNS names only (RFC 6066 section 3) */
    sni = t->host_ip_len || t->cfg.host == NULL || t->cfg.host[0] == 0 ? NULL : t->cfg.host;
    if (!br_ssl_client_reset(&t->sc, sni, t->have_session)) {
        mote__tls_set_error(t, br_ssl_engine_last_error(eng));
        return t->err.code;
    }
    t->detail.max_fragment =
        eng->log_max_frag_len < 14 ? (uint16_t)(1u << eng->log_max_frag_len) : 0;
    out->ctx = t;
    out->send = tls_send;
    out->recv = tls_recv;
    return MOTE_OK;
}

/* see mote/tls.h */
int mote_tls_handshake(struct mote_tls *t)
{
    int32_t r;

    if (t == NULL)
        return MOTE_ERR_BAD_ARG;
    r = pump(t, BR_SSL_SENDAPP | BR_SSL_RECVAPP);
    if (r < 0)
        return (int)r;
    return t->detail.handshake_done ? MOTE_OK : MOTE_NEED_MORE;
}

/* see mote/tls.h */
void mote_tls_close(struct mote_tls *t)
{
    if (t == NULL || t->inner.send == NULL)
        return;
    /* after a failure there is nobody to say goodbye to, and the error must stay as it is */
    if (t->err.code >= 0 && !(br_ssl_engine_current_state(&t->sc.eng) & BR_SSL_CLOSED)) {
        br_ssl_engine_close(&t->sc.eng);
        (void)flush_records(t);
    }
    t->inner.send = NULL;
    t->inner.recv = NULL;
}

/* see mote/tls.h */
void mote_tls_forget_session(struct mote_tls *t)
{
    if (t == NULL)
        return;
    t->have_session = 0;
    memset(&t->session, 0, sizeof t->session);
}

/* see mote/tls.h */
int mote_tls_get_session(const struct mote_tls *t, br_ssl_session_parameters *out)
{
    if (t == NULL || out == NULL || !t->have_session)
        return 0;
    *out = t->session;
    return 1;
}

/* see mote/tls.h */
void mote_tls_set_session(struct mote_tls *t, const br_ssl_session_parameters *in)
{
    if (t == NULL || in == NULL)
        return;
    t->session = *in;
    t->have_session = in->session_id_len > 0;
}

/* see mote/tls.h */
int mote_tls_resumed(const struct mote_tls *t)
{
    return t != NULL && t->detail.resumed;
}

/* see mote/tls.h */
const struct mote_error *mote_tls_error(const struct mote_tls *t)
{
    static const struct mote_error bad_arg = {
        MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG, 0, 0, 0, 0, 0, NULL};
    return t ? &t->err : &bad_arg;
}

/* see mote/tls.h */
const struct mote_tls_detail *mote_tls_detail(const struct mote_tls *t)
{
    static const struct mote_tls_detail none;
    return t ? &t->detail : &none;
}
