/*
 * tls.c - TLS listeners (OpenSSL 3), tuned so that tiny clients succeed: small records when the
 * client asks for them (RFC 6066 max_fragment_length, honoured by OpenSSL's server side for the
 * whole handshake, certificate flight included), ECDSA-first cipher suites, session resumption
 * (cache and tickets), buffers released while a connection is idle. Every failed handshake is one
 * log line: who, what happened, and what to do. The rest of moted sees only a transport table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "broker.h"
#include "tls_record.h"

/* What small stacks support first (BearSSL, mbedTLS on an ESP8266), then the rest; no RSA key
 * exchange, no SHA-1 MACs, no 3DES/RC4. AES-CBC-SHA256 stays for old stacks. */
#define DEFAULT_CIPHERS                                                                            \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256"

/* Per connection while it shakes hands; freed when the handshake is done. */
struct hs_info {
    char offered[200];   /* the client's cipher suites, summarised */
    int offered_count;
    char sni[64];        /* the host name the client asked for, if it said */
    int max_version;     /* highest version the client offered */
    int mfl;             /* max_fragment_length asked for (bytes), 0 if none */
    int alert_received;  /* TLS alert from the client, -1 if none */
    const char *state;   /* last handshake state OpenSSL reported */
    int sent_certificate;
    struct moted_tls_secrets secrets; /* TLS 1.3 traffic secrets (the key log callback) */
    uint8_t *written;    /* what we wrote during the handshake (tls_record.c counts records) */
    size_t written_len, written_cap;
};

/* After the handshake a connection runs on moted's record layer (rl, the SSL object freed:
 * tls_record.h) or, for suites it does not take, on OpenSSL (ssl). */
struct moted_tls_conn {
    SSL *ssl;
    struct moted_tls_rl *rl;
    struct hs_info *hs; /* NULL once the handshake is done */
    uint8_t handshaking;
    uint8_t checked_first_byte;
};

#define HS_WRITTEN_MAX (64 * 1024) /* more than any handshake flight moted sends */

static int conn_index = -1; /* SSL ex_data slot holding the struct moted_conn */

/* ---------------------------------------------------------------------------------------------
 * Contexts
 * ------------------------------------------------------------------------------------------- */

static void fingerprint(X509 *x, char *out, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    size_t o = 0;
    out[0] = 0;
    if (!X509_digest(x, EVP_sha256(), md, &n))
        return;
    for (unsigned int i = 0; i < n && o + 3 < len; i++)
        o += (size_t)snprintf(out + o, len - o, i ? ":%02X" : "%02X", md[i]);
}

static void name_line(const X509_NAME *name, char *out, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    int n;
    out[0] = 0;
    if (!b)
        return;
    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
    n = BIO_read(b, out, (int)len - 1);
    out[n > 0 ? n : 0] = 0;
    BIO_free(b);
}

/* The CA a device must trust: the top of our chain, looked up in cafile when we have it. */
static void describe_ca(struct moted_tls_listener *tl, SSL_CTX *ctx, const char *cafile)
{
    X509 *leaf = SSL_CTX_get0_certificate(ctx), *top = leaf;
    STACK_OF(X509) *chain = NULL;
    const X509_NAME *issuer;

    tl->chain_bytes = 0;
    tl->ca_subject[0] = tl->ca_fingerprint[0] = 0;
    if (!leaf)
        return;
    tl->chain_bytes = (size_t)i2d_X509(leaf, NULL);
    SSL_CTX_get0_chain_certs(ctx, &chain);
    for (int i = 0; chain && i < sk_X509_num(chain); i++) {
        top = sk_X509_value(chain, i);
        tl->chain_bytes += (size_t)i2d_X509(top, NULL);
    }
    {
        EVP_PKEY *pk = X509_get0_pubkey(leaf);
        int bits = pk ? EVP_PKEY_get_bits(pk) : 0;
        tl->is_rsa = pk && EVP_PKEY_is_a(pk, "RSA");
        snprintf(tl->key_desc, sizeof tl->key_desc, "%s %d",
                 pk && EVP_PKEY_is_a(pk, "EC") ? "ECDSA" : tl->is_rsa ? "RSA" : "key", bits);
    }
    issuer = X509_get_issuer_name(top);
    name_line(issuer, tl->ca_subject, sizeof tl->ca_subject);
    if (X509_check_issued(top, top) == X509_V_OK) { /* the chain ends in the root itself */
        fingerprint(top, tl->ca_fingerprint, sizeof tl->ca_fingerprint);
        return;
    }
    if (cafile) {
        BIO *b = BIO_new_file(cafile, "r");
        X509 *x;
        while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
            if (!X509_NAME_cmp(X509_get_subject_name(x), issuer))
                fingerprint(x, tl->ca_fingerprint, sizeof tl->ca_fingerprint);
            X509_free(x);
        }
        BIO_free(b);
        ERR_clear_error();
    }
}

static void info_cb(const SSL *ssl, int where, int ret);
static int hello_cb(SSL *ssl, int *alert, void *arg);
static void keylog_cb(const SSL *ssl, const char *line);

static int tls_min_version(const char *v, int *out)
{
    if (!v || !strcmp(v, "tlsv1.2")) {
        *out = TLS1_2_VERSION;
        return 0;
    }
    if (!strcmp(v, "tlsv1.3")) {
        *out = TLS1_3_VERSION;
        return 0;
    }
    return -1; /* tlsv1.1 and older are weak: refused */
}

static int ssl_fail(char *err, size_t errlen, const char *what, const char *file)
{
    unsigned long e = ERR_peek_last_error();
    snprintf(err, errlen, "%s %s: %s", what, file ? file : "",
             e ? ERR_reason_error_string(e) : strerror(errno));
    ERR_clear_error();
    return -1;
}

/* Builds a context from a listener's settings; NULL with err set when something is wrong. */
static SSL_CTX *make_ctx(const struct moted_listener *l, struct moted_tls_listener *tl, char *err,
                         size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int minv;

    if (!ctx) {
        ssl_fail(err, errlen, "cannot create a TLS context", NULL);
        return NULL;
    }
    if (tls_min_version(l->tls_version, &minv)) {
        snprintf(err, errlen, "tls_version %s: use tlsv1.2 or tlsv1.3", l->tls_version);
        goto fail;
    }
    SSL_CTX_set_min_proto_version(ctx, minv);
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    /* NO_AUTO_CHAIN: send the chain certfile holds, never the root from cafile too (a device
     * that has the CA needs only the leaf: 441 bytes with ECDSA, not 861). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_NO_AUTO_CHAIN);
    /* TLS 1.3 traffic secrets go to the connection (never to a file): tls_record.c. */
    SSL_CTX_set_keylog_callback(ctx, keylog_cb);
    if (!SSL_CTX_set_cipher_list(ctx, l->ciphers ? l->ciphers : DEFAULT_CIPHERS)) {
        ssl_fail(err, errlen, "ciphers", l->ciphers);
        goto fail;
    }
    if (l->ciphers_tls13 && !SSL_CTX_set_ciphersuites(ctx, l->ciphers_tls13)) {
        ssl_fail(err, errlen, "ciphers_tls1.3", l->ciphers_tls13);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, l->certfile) != 1) {
        if (ERR_GET_LIB(ERR_peek_last_error()) == ERR_LIB_PEM) {
            ERR_clear_error();
            snprintf(err, errlen, "certfile %s: no PEM certificate in it (-----BEGIN "
                                  "CERTIFICATE-----)", l->certfile);
        } else {
            ssl_fail(err, errlen, "certfile", l->certfile);
        }
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, l->keyfile, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            snprintf(err, errlen, "keyfile %s does not belong to certfile %s", l->keyfile,
                     l->certfile);
        } else {
            ssl_fail(err, errlen, "keyfile", l->keyfile);
        }
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "keyfile %s does not belong to certfile %s", l->keyfile, l->certfile);
        goto fail;
    }
    if (l->cafile || l->capath) {
        if (SSL_CTX_load_verify_locations(ctx, l->cafile, l->capath) != 1) {
            ssl_fail(err, errlen, "cafile/capath", l->cafile ? l->cafile : l->capath);
            goto fail;
        }
    }
    if (l->require_certificate) {
        if (!l->cafile && !l->capath) {
            snprintf(err, errlen, "require_certificate needs cafile or capath: the CA that "
                                  "signed the clients' certificates");
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        if (l->cafile) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(l->cafile);
            if (names)
                SSL_CTX_set_client_CA_list(ctx, names);
        }
    }
    if (l->crlfile) {
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
        if (!lookup || X509_load_crl_file(lookup, l->crlfile, X509_FILETYPE_PEM) < 1) {
            ssl_fail(err, errlen, "crlfile", l->crlfile);
            goto fail;
        }
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    /* Resumption: a server-side cache and tickets, so a reconnecting device skips ECDHE. */
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"moted", 5);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, 20000);
    SSL_CTX_set_timeout(ctx, 24 * 3600);
    SSL_CTX_set_info_callback(ctx, info_cb);
    SSL_CTX_set_client_hello_cb(ctx, hello_cb, NULL);
    describe_ca(tl, ctx, l->cafile);
    snprintf(tl->ciphers, sizeof tl->ciphers, "%s", l->ciphers ? l->ciphers : DEFAULT_CIPHERS);
    tl->min_version = minv;
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int moted__tls_listener_init(struct moted_listener_rt *rt, char *err, size_t errlen)
{
    struct moted_tls_listener *tl;
    if (conn_index < 0)
        conn_index = SSL_get_ex_new_index(0, "moted conn", NULL, NULL, NULL);
    tl = moted__calloc(1, sizeof *tl);
    if (!tl) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&tl->lock, NULL);
    tl->ctx = make_ctx(rt->cfg, tl, err, errlen);
    if (!tl->ctx) {
        pthread_mutex_destroy(&tl->lock);
        moted__free(tl);
        return -1;
    }
    rt->tls = tl;
    return 0;
}

void moted__tls_listener_reload(struct moted_listener_rt *rt, const struct moted_listener *l)
{
    struct moted_tls_listener *tl = rt->tls, fresh = {0};
    char err[300] = "";
    SSL_CTX *ctx, *old;
    if (!tl)
        return;
    ctx = make_ctx(l, &fresh, err, sizeof err);
    if (!ctx) {
        moted__log(MOTED_LOG_WARNING,
                   "SIGHUP: TLS listener on port %u keeps its certificate: %s", rt->cfg->port, err);
        return;
    }
    pthread_mutex_lock(&tl->lock);
    old = tl->ctx;
    tl->ctx = ctx;
    memcpy(tl->ca_subject, fresh.ca_subject, sizeof tl->ca_subject);
    memcpy(tl->ca_fingerprint, fresh.ca_fingerprint, sizeof tl->ca_fingerprint);
    memcpy(tl->key_desc, fresh.key_desc, sizeof tl->key_desc);
    memcpy(tl->ciphers, fresh.ciphers, sizeof tl->ciphers);
    tl->min_version = fresh.min_version;
    tl->is_rsa = fresh.is_rsa;
    tl->chain_bytes = fresh.chain_bytes;
    pthread_mutex_unlock(&tl->lock);
    SSL_CTX_free(old); /* connections made with it hold their own reference */
    moted__log(MOTED_LOG_NOTICE, "SIGHUP: TLS listener on port %u reloaded %s (%s, chain %zu bytes)",
               rt->cfg->port, l->certfile, tl->key_desc, tl->chain_bytes);
}

void moted__tls_listener_free(struct moted_listener_rt *rt)
{
    if (!rt->tls)
        return;
    SSL_CTX_free(rt->tls->ctx);
    pthread_mutex_destroy(&rt->tls->lock);
    moted__free(rt->tls);
    rt->tls = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Handshake diagnosis
 * ------------------------------------------------------------------------------------------- */

static struct moted_conn *conn_of(const SSL *ssl)
{
    return SSL_get_ex_data(ssl, conn_index);
}

static int hello_cb(SSL *ssl, int *alert, void *arg)
{
    struct moted_conn *c = conn_of(ssl);
    struct moted_tls_conn *t = c ? c->tls : NULL;
    const unsigned char *p;
    size_t n, o = 0;
    (void)alert;
    (void)arg;
    if (!t || !t->hs)
        return SSL_CLIENT_HELLO_SUCCESS;
    n = SSL_client_hello_get0_ciphers(ssl, &p);
    for (size_t i = 0; i + 1 < n; i += 2) {
        /* Signalling values are not suites: renegotiation info (00FF), fallback (5600). */
        if ((p[i] == 0x00 && p[i + 1] == 0xFF) || (p[i] == 0x56 && p[i + 1] == 0x00))
            continue;
        t->hs->offered_count++;
        const SSL_CIPHER *ci = SSL_CIPHER_find(ssl, p + i);
        const char *name = ci ? SSL_CIPHER_standard_name(ci) : NULL;
        if (!name || o + strlen(name) + 40 > sizeof t->hs->offered)
            continue;
        o += (size_t)snprintf(t->hs->offered + o, sizeof t->hs->offered - o, "%s%s",
                              o ? ", " : "", name);
    }
    t->hs->max_version = SSL_client_hello_get0_legacy_version(ssl);
    /* supported_versions lists what the client really speaks (TLS 1.3 clients send it). */
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &p, &n) && n >= 1) {
        for (size_t i = 1; i + 1 < n && i + 1 <= p[0]; i += 2) {
            int v = p[i] << 8 | p[i + 1];
            if ((v & 0x0F0F) != 0x0A0A && v > t->hs->max_version) /* skip GREASE values */
                t->hs->max_version = v;
        }
    }
    /* server_name: list length (2), type (1), name length (2), name. */
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &n) && n > 5 && p[2] == 0) {
        size_t len = (size_t)(p[3] << 8 | p[4]);
        if (len <= n - 5 && len < sizeof t->hs->sni) {
            memcpy(t->hs->sni, p + 5, len);
            t->hs->sni[len] = 0;
        }
    }
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_max_fragment_length, &p, &n) && n == 1 &&
        p[0] >= 1 && p[0] <= 4)
        t->hs->mfl = 256 << p[0];
    return SSL_CLIENT_HELLO_SUCCESS;
}

static int unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    for (; s[0] && s[1] && n < max; s += 2) {
        int hi = s[0] <= '9' ? s[0] - '0' : (s[0] | 0x20) - 'a' + 10;
        int lo = s[1] <= '9' ? s[1] - '0' : (s[1] | 0x20) - 'a' + 10;
        if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | lo);
    }
    return *s ? -1 : (int)n;
}

/* "LABEL <client random> <secret>": keeps the TLS 1.3 application traffic secrets. */
static void keylog_cb(const SSL *ssl, const char *line)
{
    struct moted_conn *c = conn_of(ssl);
    struct moted_tls_conn *t = c ? c->tls : NULL;
    const char *secret = strrchr(line, ' ');
    int n;
    if (!t || !t->hs || !secret)
        return;
    if (!strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24)) {
        n = unhex(secret + 1, t->hs->secrets.client, sizeof t->hs->secrets.client);
        t->hs->secrets.client_len = n > 0 ? (uint8_t)n : 0;
    } else if (!strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24)) {
        n = unhex(secret + 1, t->hs->secrets.server, sizeof t->hs->secrets.server);
        t->hs->secrets.server_len = n > 0 ? (uint8_t)n : 0;
    }
}

/* Keeps a copy of what the handshake writes (to count the records sealed with traffic keys). */
static long capture_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
                       int ret, size_t *processed)
{
    struct moted_tls_conn *t = (struct moted_tls_conn *)BIO_get_callback_arg(b);
    (void)len, (void)argi, (void)argl;
    if (oper != (BIO_CB_WRITE | BIO_CB_RETURN) || ret <= 0 || !t || !t->hs || !processed)
        return ret;
    struct hs_info *hs = t->hs;
    size_t n = *processed;
    if (hs->written_len + n > HS_WRITTEN_MAX) {
        hs->written_len = SIZE_MAX; /* too much: this connection stays with OpenSSL */
        return ret;
    }
    if (hs->written_len == SIZE_MAX)
        return ret;
    if (hs->written_len + n > hs->written_cap) {
        size_t cap = hs->written_cap ? hs->written_cap * 2 : 4096;
        while (cap < hs->written_len + n)
            cap *= 2;
        uint8_t *nb = moted__realloc(hs->written, cap);
        if (!nb) {
            hs->written_len = SIZE_MAX;
            return ret;
        }
        hs->written = nb;
        hs->written_cap = cap;
    }
    memcpy(hs->written + hs->written_len, argp, n);
    hs->written_len += n;
    return ret;
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    struct moted_conn *c = conn_of(ssl);
    struct moted_tls_conn *t = c ? c->tls : NULL;
    if (!t || !t->hs)
        return;
    if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT && t->hs->alert_received < 0)
        t->hs->alert_received = ret & 0xFF;
    if (where & SSL_CB_LOOP) {
        t->hs->state = SSL_state_string_long(ssl);
        if (SSL_get_state(ssl) == TLS_ST_SW_CERT)
            t->hs->sent_certificate = 1;
    }
}

static const char *version_name(int v)
{
    switch (v) {
    case TLS1_3_VERSION:
        return "TLS 1.3";
    case TLS1_2_VERSION:
        return "TLS 1.2";
    case TLS1_1_VERSION:
        return "TLS 1.1";
    case TLS1_VERSION:
        return "TLS 1.0";
    default:
        return "SSL 3 or older";
    }
}

/* One line for a failed handshake: the peer, what happened, what to do. */
static void explain_failure(struct moted_conn *c, const char *what)
{
    struct moted_tls_conn *t = c->tls;
    struct hs_info *hs = t->hs;
    struct moted_tls_listener *tl = c->listener->tls;
    unsigned long e = ERR_peek_last_error();
    int reason = ERR_GET_REASON(e);
    char ca[400];

    snprintf(ca, sizeof ca, "%s%s%s", tl->ca_subject[0] ? tl->ca_subject : "(unknown)",
             tl->ca_fingerprint[0] ? ", SHA-256 " : " (set cafile to it to log its fingerprint)",
             tl->ca_fingerprint);

    /* A name the certificate does not cover is a different fix from an untrusted CA. */
    if (hs && hs->sni[0] && hs->alert_received >= 0 && hs->alert_received != SSL_AD_CLOSE_NOTIFY) {
        X509 *leaf = SSL_get_certificate(t->ssl);
        if (leaf && X509_check_host(leaf, hs->sni, 0, 0, NULL) != 1 &&
            X509_check_ip_asc(leaf, hs->sni, 0) != 1) {
            moted__log(MOTED_LOG_NOTICE,
                       "%s: TLS handshake failed: the client asked for host '%s', which this "
                       "broker's certificate does not name (alert %s): connect with a name the "
                       "certificate lists, or issue one with it (mote certs server --host %s)",
                       moted__peer(c), hs->sni, SSL_alert_desc_string_long(hs->alert_received),
                       hs->sni);
            return;
        }
    }

    if (hs && hs->alert_received >= 0 && hs->alert_received != SSL_AD_CLOSE_NOTIFY) {
        const char *alert = SSL_alert_desc_string_long(hs->alert_received);
        int cert_alert = hs->alert_received == SSL_AD_UNKNOWN_CA ||
                         hs->alert_received == SSL_AD_BAD_CERTIFICATE ||
                         hs->alert_received == SSL_AD_CERTIFICATE_EXPIRED ||
                         hs->alert_received == SSL_AD_CERTIFICATE_UNKNOWN ||
                         hs->alert_received == SSL_AD_UNSUPPORTED_CERTIFICATE ||
                         hs->alert_received == SSL_AD_DECRYPT_ERROR ||
                         hs->alert_received == SSL_AD_CERTIFICATE_REVOKED;
        if (cert_alert)
            moted__log(MOTED_LOG_NOTICE,
                       "%s: TLS handshake failed: the client rejected our certificate (alert "
                       "%s): give the device the CA that signed this broker's certificate: %s; "
                       "check its clock too if the alert is about dates",
                       moted__peer(c), alert, ca);
        else
            moted__log(MOTED_LOG_NOTICE, "%s: TLS handshake failed: the client sent alert %s%s%s",
                       moted__peer(c), alert, hs->offered_count ? "; it offered " : "",
                       hs->offered_count ? hs->offered : "");
        return;
    }
    switch (reason) {
    case SSL_R_NO_SHARED_CIPHER:
        moted__log(MOTED_LOG_NOTICE,
                   "%s: TLS handshake failed: no cipher suite in common: the client offered %d "
                   "(%s); this listener allows %s with an %s key: enable one of the client's "
                   "suites in `ciphers`, or use a certificate type the client supports",
                   moted__peer(c), hs ? hs->offered_count : 0,
                   hs && hs->offered[0] ? hs->offered : "none", tl->ciphers, tl->key_desc);
        return;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_UNKNOWN_PROTOCOL:
        moted__log(MOTED_LOG_NOTICE,
                   "%s: TLS handshake failed: protocol version mismatch: the client offers at most "
                   "%s, this listener needs %s or later (tls_version): update the client's TLS "
                   "stack",
                   moted__peer(c), hs ? version_name(hs->max_version) : "an older version",
                   version_name(tl->min_version));
        return;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        moted__log(MOTED_LOG_NOTICE,
                   "%s: TLS handshake failed: the client sent no certificate and this listener "
                   "requires one (require_certificate true): give the device a certificate signed "
                   "by the listener's cafile (mote certs device NAME)",
                   moted__peer(c));
        return;
    case SSL_R_CERTIFICATE_VERIFY_FAILED: {
        long v = SSL_get_verify_result(t->ssl);
        X509 *peer = SSL_get0_peer_certificate(t->ssl);
        char subject[200] = "", until[40] = "";
        if (peer) {
            name_line(X509_get_subject_name(peer), subject, sizeof subject);
            BIO *b = BIO_new(BIO_s_mem());
            if (b && ASN1_TIME_print(b, X509_get0_notAfter(peer))) {
                int n = BIO_read(b, until, (int)sizeof until - 1);
                until[n > 0 ? n : 0] = 0;
            }
            BIO_free(b);
        }
        moted__log(MOTED_LOG_NOTICE,
                   "%s: TLS handshake failed: the client's certificate %s%s%s%swas not accepted: %s: "
                   "issue the device a certificate from the CA in this listener's cafile (mote "
                   "certs device NAME)%s",
                   moted__peer(c), subject, until[0] ? ", valid until " : "", until[0] ? until : "",
                   subject[0] ? " " : "", X509_verify_cert_error_string(v),
                   v == X509_V_ERR_CERT_HAS_EXPIRED || v == X509_V_ERR_CERT_NOT_YET_VALID
                       ? ", or check the clocks"
                       : "");
        return;
    }
    default:
        break;
    }
    /* The peer went away (OpenSSL 3 reports it as an error, 1.1 did not). */
    if (!e || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        if (hs && hs->sent_certificate)
            moted__log(MOTED_LOG_NOTICE,
                       "%s: TLS handshake failed: the client closed the connection after we sent "
                       "our certificate chain (%zu bytes, %s), the typical sign of a device that "
                       "ran out of memory verifying it; it %s: %s",
                       moted__peer(c), tl->chain_bytes, tl->key_desc,
                       hs->mfl ? "asked for small records"
                               : "did not ask for small records (max_fragment_length)",
                       tl->is_rsa ? "use an ECDSA certificate (mote certs init), small records, "
                                    "or give the device more memory"
                                  : hs->mfl ? "give the device more memory for the handshake"
                                            : "make the device ask for small records, or give it "
                                              "more memory");
        else if (hs && hs->offered_count)
            moted__log(MOTED_LOG_NOTICE,
                       "%s: TLS handshake failed: the client closed the connection during the "
                       "handshake (at: %s): it gave up or ran out of memory before our certificate",
                       moted__peer(c), hs->state ? hs->state : "after ClientHello");
        else
            moted__log(MOTED_LOG_NOTICE,
                       "%s: TLS handshake failed: the client closed the connection before its "
                       "ClientHello was complete: a port scanner, or a client that gave up",
                       moted__peer(c));
        return;
    }
    moted__log(MOTED_LOG_NOTICE,
               "%s: TLS handshake failed: not a valid TLS handshake (%s: %s): a port scanner, or "
               "a broken TLS stack on the client",
               moted__peer(c), what, ERR_reason_error_string(e));
}

/* ---------------------------------------------------------------------------------------------
 * Transport
 * ------------------------------------------------------------------------------------------- */

/* Frees what only the handshake needed. */
static void hs_free(struct moted_tls_conn *t)
{
    if (t->hs) {
        if (t->hs->written) {
            OPENSSL_cleanse(t->hs->written, t->hs->written_cap);
            moted__free(t->hs->written);
        }
        OPENSSL_cleanse(&t->hs->secrets, sizeof t->hs->secrets);
        moted__free(t->hs);
        t->hs = NULL;
    }
}

static void hs_done(struct moted_conn *c)
{
    struct moted_tls_conn *t = c->tls;
    const struct moted_listener *l = c->listener->cfg;
    int mfl = t->hs ? t->hs->mfl : 0;
    const char *why = "no handshake state";
    t->handshaking = 0;
    if (l->use_identity_as_username || l->use_subject_as_username) {
        X509 *peer = SSL_get1_peer_certificate(t->ssl);
        if (peer) {
            char name[256] = "";
            if (l->use_subject_as_username)
                name_line(X509_get_subject_name(peer), name, sizeof name);
            else
                X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name,
                                          sizeof name);
            moted__free(c->username);
            c->username = moted__strndup(name, strlen(name));
            c->tls_identity = 1;
            X509_free(peer);
        }
    }
    moted__log(MOTED_LOG_DEBUG, "%s: TLS %s %s%s%s", moted__peer(c), SSL_get_version(t->ssl),
               SSL_get_cipher_name(t->ssl), SSL_session_reused(t->ssl) ? ", resumed" : "",
               mfl ? ", small records" : "");
    /* From here on moted's own record layer, and the ~13 KB SSL object goes (tls_record.h). */
    if (t->hs && t->hs->written_len != SIZE_MAX)
        t->rl = moted__tls_rl_take(t->ssl, &t->hs->secrets, t->hs->written, t->hs->written_len,
                                   &why);
    BIO_set_callback_ex(SSL_get_wbio(t->ssl), NULL);
    hs_free(t);
    if (t->rl) {
        /* Not a broken connection: without this SSL_free drops the session from the cache,
         * and a device resuming by session id (BearSSL) would pay a full handshake again. */
        SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(t->ssl);
        t->ssl = NULL;
    } else {
        moted__log(MOTED_LOG_DEBUG, "%s: TLS records stay with OpenSSL: %s", moted__peer(c), why);
    }
}

/* Closes after the failure was explained on its own line: the close itself is a debug line. */
static void close_now(struct moted_conn *c, const char *why)
{
    c->explained = 1;
    moted__conn_close(c, why);
}

/* Drives the handshake. 1: done; 0: in progress; -1: failed (the connection is closed). */
static int tls_handshake(struct moted_conn *c)
{
    struct moted_tls_conn *t = c->tls;
    int rc, err;

    if (!t->checked_first_byte) {
        uint8_t b;
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            close_now(c, "closed before the TLS handshake");
            return -1;
        }
        if (n < 0)
            return 0;
        t->checked_first_byte = 1;
        if (b != 0x16) { /* not a TLS handshake record */
            if ((b >> 4) == MOTE_CONNECT)
                moted__log(MOTED_LOG_NOTICE,
                           "%s: plaintext MQTT sent to TLS port %u: connect with TLS (mqtts://) "
                           "trusting the CA %s, or use the plain MQTT port",
                           moted__peer(c), c->listener->cfg->port, c->listener->tls->ca_subject);
            else
                moted__log(MOTED_LOG_NOTICE,
                           "%s: not TLS on TLS port %u (first byte 0x%02x): the client must "
                           "speak TLS here",
                           moted__peer(c), c->listener->cfg->port, b);
            close_now(c, "not a TLS client");
            return -1;
        }
    }
    ERR_clear_error();
    rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        hs_done(c);
        return 1;
    }
    err = SSL_get_error(t->ssl, rc);
    if (err == SSL_ERROR_WANT_READ)
        return 0;
    if (err == SSL_ERROR_WANT_WRITE) {
        moted__conn_want_write(c);
        return 0;
    }
    explain_failure(c, "handshake error");
    ERR_clear_error();
    close_now(c, "TLS handshake failed");
    return -1;
}

static long tls_read(struct moted_conn *c, void *buf, size_t len)
{
    struct moted_tls_conn *t = c->tls;
    size_t n = 0;
    int rc, err;
    if (t->handshaking) {
        rc = tls_handshake(c);
        if (rc <= 0)
            return rc < 0 ? -2 : 0; /* -2: already closed and logged */
    }
    if (t->rl) {
        const char *why = "TLS error";
        long got = moted__tls_rl_read(t->rl, c->fd, buf, len, &why);
        if (got == -2)
            moted__conn_close(c, why);
        return got;
    }
    ERR_clear_error();
    rc = SSL_read_ex(t->ssl, buf, len, &n);
    if (rc == 1)
        return (long)n;
    err = SSL_get_error(t->ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return 0;
    if (err == SSL_ERROR_SSL &&
        ERR_GET_REASON(ERR_peek_last_error()) != SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        char why[200];
        snprintf(why, sizeof why,
                 "TLS record error (%s): the data was changed on the way, or the client's TLS "
                 "stack is broken",
                 ERR_reason_error_string(ERR_peek_last_error()));
        ERR_clear_error();
        moted__conn_close(c, why);
        return -2;
    }
    ERR_clear_error();
    return -1;
}

static long tls_write(struct moted_conn *c, const void *buf, size_t len)
{
    struct moted_tls_conn *t = c->tls;
    size_t n = 0;
    int rc, err;
    if (t->handshaking)
        return 0;
    if (t->rl)
        return moted__tls_rl_write(t->rl, c->fd, buf, len);
    ERR_clear_error();
    rc = SSL_write_ex(t->ssl, buf, len, &n);
    if (rc == 1)
        return (long)n;
    err = SSL_get_error(t->ssl, rc);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
        return 0;
    ERR_clear_error();
    return -1;
}

static int tls_pending(struct moted_conn *c)
{
    struct moted_tls_conn *t = c->tls;
    if (t->rl)
        return moted__tls_rl_pending(t->rl);
    return !t->handshaking && SSL_pending(t->ssl) > 0;
}

static int tls_step(struct moted_conn *c)
{
    struct moted_tls_conn *t = c->tls;
    return t->handshaking ? tls_handshake(c) : 1;
}

static void tls_close(struct moted_conn *c)
{
    struct moted_tls_conn *t = c->tls;
    if (t) {
        if (t->rl) {
            moted__tls_rl_close(t->rl, c->fd); /* close_notify, best effort */
        } else {
            if (!t->handshaking)
                SSL_shutdown(t->ssl); /* best effort: a close_notify if the socket takes it */
            SSL_free(t->ssl);
        }
        hs_free(t);
        moted__free(t);
        c->tls = NULL;
    }
    ERR_clear_error();
    close(c->fd);
}

const struct moted_transport moted__tls_transport = {"tls", tls_read, tls_write, tls_close,
                                                     tls_pending, tls_step};

int moted__tls_conn_start(struct moted_conn *c)
{
    struct moted_tls_listener *tl = c->listener->tls;
    struct moted_tls_conn *t = moted__calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->hs = moted__calloc(1, sizeof *t->hs);
    pthread_mutex_lock(&tl->lock);
    t->ssl = SSL_new(tl->ctx);
    pthread_mutex_unlock(&tl->lock);
    if (!t->ssl || !t->hs || !SSL_set_fd(t->ssl, c->fd)) {
        if (t->ssl)
            SSL_free(t->ssl);
        moted__free(t->hs);
        moted__free(t);
        ERR_clear_error();
        return -1;
    }
    t->hs->alert_received = -1;
    t->handshaking = 1;
    BIO_set_callback_ex(SSL_get_wbio(t->ssl), capture_cb);
    BIO_set_callback_arg(SSL_get_wbio(t->ssl), (char *)t);
    SSL_set_accept_state(t->ssl);
    SSL_set_ex_data(t->ssl, conn_index, c);
    c->tls = t;
    c->tp = &moted__tls_transport;
    return 0;
}

int moted__tls_handshaking(const struct moted_conn *c)
{
    return c->tls && ((struct moted_tls_conn *)c->tls)->handshaking;
}
