/*
 * bench/transport_tls.c - TLS over the load generator's TCP sockets, with OpenSSL. All of OpenSSL
 * lives in this file; without BENCH_TLS it builds to a stub that says how to get TLS.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "transport.h"

#ifndef BENCH_TLS

const struct bench_transport *bench_transport_tls(const struct bench_tls_options *o, char *err,
                                                  size_t errlen)
{
    (void)o;
    snprintf(err, errlen,
             "this loadgen was built without TLS: rebuild with -DBENCH_TLS -lssl -lcrypto");
    return NULL;
}

int bench_tls_info(struct bench_tls_info *info)
{
    memset(info, 0, sizeof *info);
    return 0;
}

#else

#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static SSL_CTX *tls_ctx;
static char tls_host[256];
static struct bench_tls_options tls_opt;
static SSL_SESSION *kept;           /* --tls-resume: the session offered on every new connection */
static X509 *pinned;                /* --tls-pin: the leaf verified in full once */
static struct bench_tls_info first; /* the first completed handshake */

/* Chain verification: in full, or (pin) only a comparison with the leaf verified before. */
static int verify_chain(X509_STORE_CTX *x, void *arg)
{
    X509 *leaf = X509_STORE_CTX_get0_cert(x);
    int ok;

    (void)arg;
    if (pinned && leaf && X509_cmp(leaf, pinned) == 0) {
        X509_STORE_CTX_set_error(x, X509_V_OK);
        return 1;
    }
    ok = X509_verify_cert(x);
    if (ok == 1 && tls_opt.pin && !pinned && leaf && X509_up_ref(leaf))
        pinned = leaf;
    return ok;
}

/* The first error on OpenSSL's queue, or errno's text for a failed system call. */
static void tls_error(struct bench_link *l, const char *what, int ssl_err)
{
    unsigned long e = ERR_get_error();
    if (e) {
        char buf[120];
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(l->err, sizeof l->err, "%s: %s", what, buf);
    } else if (ssl_err == SSL_ERROR_SYSCALL && errno) {
        snprintf(l->err, sizeof l->err, "%s: %s", what, strerror(errno));
    } else {
        snprintf(l->err, sizeof l->err, "%s: TLS error %d (connection closed?)", what, ssl_err);
    }
    ERR_clear_error();
}

static int tls_open(struct bench_link *l, int fd)
{
    SSL *ssl = SSL_new(tls_ctx);
    unsigned char addr[16];

    l->fd = fd;
    l->tls = NULL;
    l->want_write = 0;
    l->err[0] = 0;
    if (!ssl || !SSL_set_fd(ssl, fd)) {
        tls_error(l, "SSL_new", 0);
        SSL_free(ssl);
        return -1;
    }
    /* Check the certificate against the host we dial: an IP address or a DNS name. */
    if (inet_pton(AF_INET, tls_host, addr) == 1 || inet_pton(AF_INET6, tls_host, addr) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), tls_host);
    } else {
        SSL_set_tlsext_host_name(ssl, tls_host);
        SSL_set1_host(ssl, tls_host);
    }
    if (kept)
        SSL_set_session(ssl, kept);
    SSL_set_connect_state(ssl);
    l->tls = ssl;
    l->resumed = 0;
    return 0;
}

static int tls_handshake(struct bench_link *l)
{
    int rc = SSL_do_handshake(l->tls), e;
    if (rc == 1) {
        l->want_write = 0;
        l->resumed = SSL_session_reused(l->tls) == 1;
        if (!first.version[0]) {
            snprintf(first.version, sizeof first.version, "%s", SSL_get_version(l->tls));
            snprintf(first.cipher, sizeof first.cipher, "%s", SSL_get_cipher_name(l->tls));
        }
        return 1;
    }
    e = SSL_get_error(l->tls, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        l->want_write = e == SSL_ERROR_WANT_WRITE;
        return 0;
    }
    tls_error(l, "TLS handshake", e);
    if (SSL_get_verify_result(l->tls) != X509_V_OK) {
        size_t n = strlen(l->err);
        snprintf(l->err + n, sizeof l->err - n, " (certificate: %s)",
                 X509_verify_cert_error_string(SSL_get_verify_result(l->tls)));
    }
    return -1;
}

static ssize_t tls_recv(struct bench_link *l, void *buf, size_t len)
{
    size_t got = 0;
    int rc = SSL_read_ex(l->tls, buf, len, &got), e;
    if (rc == 1)
        return (ssize_t)got;
    e = SSL_get_error(l->tls, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        l->want_write = e == SSL_ERROR_WANT_WRITE;
        return BENCH_IO_AGAIN;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return BENCH_IO_EOF;
    tls_error(l, "TLS read", e);
    return BENCH_IO_ERROR;
}

static ssize_t tls_send(struct bench_link *l, const void *buf, size_t len)
{
    size_t put = 0;
    int rc = SSL_write_ex(l->tls, buf, len, &put), e;
    if (rc == 1) {
        l->want_write = 0;
        return (ssize_t)put;
    }
    e = SSL_get_error(l->tls, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        l->want_write = e == SSL_ERROR_WANT_WRITE;
        return BENCH_IO_AGAIN;
    }
    tls_error(l, "TLS write", e);
    return BENCH_IO_ERROR;
}

static int tls_pending(const struct bench_link *l)
{
    return l->tls && SSL_pending(l->tls) > 0;
}

/* The session of the first connection that ends, once it is resumable: taken at close, so a
 * TLS 1.3 ticket (sent after the handshake, read with CONNACK) is in it. */
static void keep_session(SSL *ssl)
{
    SSL_SESSION *s;
    if (!tls_opt.resume || kept || !SSL_is_init_finished(ssl))
        return;
    s = SSL_get1_session(ssl);
    if (s && SSL_SESSION_is_resumable(s))
        kept = s;
    else
        SSL_SESSION_free(s);
}

static void tls_close(struct bench_link *l)
{
    if (l->tls) {
        keep_session(l->tls);
        SSL_shutdown(l->tls); /* best effort close_notify; the socket is non-blocking */
        SSL_free(l->tls);
        ERR_clear_error();
    }
    l->tls = NULL;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

static const struct bench_transport transport_tls = {
    .name = "tls",
    .open = tls_open,
    .handshake = tls_handshake,
    .recv = tls_recv,
    .send = tls_send,
    .pending = tls_pending,
    .close = tls_close,
};

const struct bench_transport *bench_transport_tls(const struct bench_tls_options *o, char *err,
                                                  size_t errlen)
{
    int v = o->version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (!o->cafile) {
        snprintf(err, errlen,
                 "--tls needs --cafile FILE (the CA that signed the broker's certificate)");
        return NULL;
    }
    if (strlen(o->host) >= sizeof tls_host) {
        snprintf(err, errlen, "host name too long for TLS");
        return NULL;
    }
    strcpy(tls_host, o->host);
    tls_opt = *o;
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!tls_ctx) {
        snprintf(err, errlen, "SSL_CTX_new failed: %s", ERR_reason_error_string(ERR_get_error()));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(tls_ctx, v);
    if (o->version)
        SSL_CTX_set_max_proto_version(tls_ctx, v);
    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Sessions are offered only when kept by hand (--tls-resume), never from a client cache. */
    SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
    if (o->no_ticket)
        SSL_CTX_set_options(tls_ctx, SSL_OP_NO_TICKET);
    if (SSL_CTX_load_verify_locations(tls_ctx, o->cafile, NULL) != 1) {
        snprintf(err, errlen, "cannot load CA file %s: %s", o->cafile,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(tls_ctx);
        tls_ctx = NULL;
        return NULL;
    }
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(tls_ctx, verify_chain, NULL);
    return &transport_tls;
}

int bench_tls_info(struct bench_tls_info *info)
{
    *info = first;
    if (!tls_ctx)
        return 0;
    info->have_session = kept != NULL;
    info->session_ticket = kept && SSL_SESSION_has_ticket(kept);
    return 1;
}

#endif /* BENCH_TLS */
