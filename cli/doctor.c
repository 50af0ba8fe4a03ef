/*
 * doctor.c - `mote doctor URL`: connects to a broker step by step the way a device does (the
 * POSIX port, lib/tls on BearSSL with a device's record buffer, the client engine), times each
 * step, measures what the server does for small devices (max_fragment_length, resumption, its
 * chain), works out the RAM a device needs for it, and ends with one verdict: "a device with N KB
 * free will connect", or the first thing that will fail, in plain words, with the fix.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "conn.h"

#define PROG "mote doctor"
#define MAX_ADDRS 8
#define MAX_CERTS 8
#define DEFAULT_RAM 20480
#define EPOCH_DAYS 719528u /* 1970-01-01 in lib/tls's day count (days since 0000-01-01) */

static const unsigned mfl_sizes[4] = {512, 1024, 2048, 4096};

/* One certificate as the report shows it. */
struct cert_info {
    char subject[256], issuer[256];
    char key[64], sig[64];
    char not_before[16], not_after[16];
    char san[512];
    int der_len; /* 0: unknown */
    int expired, not_yet_valid;
};

/* One step of MQTT, as the report shows it. */
struct step {
    int tried, ok;
    double ms;
    char text[1200];
};

struct doctor {
    struct cli_opts o;
    int json;
    size_t budget;
    unsigned mfl; /* --mfl, 0: the smallest the server honours */
    uint32_t step_ms;
    struct cli_trust trust;
    int trust_loaded;

    /* name resolution and TCP */
    int dns_ok;
    double dns_ms;
    char addrs[MAX_ADDRS][INET6_ADDRSTRLEN];
    int naddrs;
    char dns_error[256];
    int tcp_ok;
    double tcp_ms;
    char addr[INET6_ADDRSTRLEN]; /* the one that connected */
    char tcp_error[1200];
    char tcp_notes[512];

    /* TLS, as the device does it */
    int tls_tried, tls_ok, tls_timeout;
    double tls_ms;
    unsigned rec; /* record size of the device's buffer in the main handshake */
    struct mote_error tls_err;
    struct mote_tls_detail tls_d;
    char tls_error[1200];
    int mfl_known[4], mfl_ok[4];
    int resume_tried, resumed;
    double resume_ms;
    char resume_error[600];

    /* what OpenSSL sees */
    struct cli_probe probe; /* any version: the chain, and what the server prefers */
    int probe12_tried;
    struct cli_probe probe12; /* TLS 1.2 and every suite: for "no cipher in common" */
    struct cert_info certs[MAX_CERTS];
    int ncerts, chain_bytes;
    const char *chain_source, *probe_source;
    int plain_probe_tried, plain_is_mqtt;
    int tls_as_plain; /* mqtt:// given, and the port speaks TLS */

    /* RAM */
    size_t tls_state, record_buf, ram_total;
    unsigned ram_rec;
    int no_mfl; /* the server honoured none of the sizes */

    /* MQTT */
    char topic[40];
    struct step connect, subscribe, roundtrip;
    uint8_t connack_reason, granted;

    /* the verdict */
    int ok;
    const char *failed; /* the step that fails: "dns", "tcp", "tls", "ram", "mqtt", or NULL */
    char verdict[2048];
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: mote doctor mqtts://HOST[:PORT] [--cafile FILE] [--ram SIZE | --mfl BYTES]\n"
            "                   [-u USER -P PASSWORD] [--cert FILE --key FILE] [-V 311|5]\n"
            "                   [-W SECONDS] [--json]\n"
            "       mote doctor mqtt://HOST[:PORT] ...   (plain MQTT)\n"
            "\n"
            "Connects to the broker step by step as a device would, with libmote: the POSIX port,\n"
            "lib/tls (BearSSL, TLS 1.2) with a device's record buffer, and the client engine. It\n"
            "times each step and reports what the server does for small devices, then one\n"
            "verdict: \"a device with N KB free will connect\", or the first thing that will\n"
            "fail, in plain words, with the fix.\n"
            "\n"
            "  name resolution and TCP, each timed\n"
            "  TLS: the version and cipher suite negotiated; whether the server honours\n"
            "       max_fragment_length 512, 1024, 2048 and 4096 (one handshake each); the\n"
            "       certificate chain it sends (read with OpenSSL on a separate connection) and\n"
            "       whether the CA file verifies it; whether a second handshake resumes the\n"
            "       session\n"
            "  RAM: sizeof(struct mote_tls) + MOTE_TLS_IOBUF_MONO(record size), for the\n"
            "       smallest record size the server honours\n"
            "  MQTT: CONNECT and the CONNACK, then a publish/subscribe round trip on\n"
            "       mote/doctor/<random>\n"
            "\n"
            "  --cafile FILE   the CA certificates the device trusts (PEM); default\n"
            "                  " CLI_DEFAULT_CAFILE "\n"
            "  --ram SIZE      RAM the device has free for TLS (default 20k; 6144, 6k, 1m ...)\n"
            "  --mfl BYTES     the device's record size (512, 1024, 2048, 4096, 16384) instead of\n"
            "                  the smallest the server honours\n"
            "  --cert, --key   a client certificate, for brokers that require one\n"
            "  -u, -P, -i, -k, -V 311|5, -D connect ...   as for mote pub\n"
            "  -W SECONDS      the longest wait of each step (default 5)\n"
            "  --json          the same report as one JSON object\n"
            "\n"
            "Exit status: 0 a device will connect, 1 it will not (the verdict says why), 2 usage\n"
            "error.\n");
}

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

/* lib/tls's day count (days since 0000-01-01) as YYYY-MM-DD. */
static const char *day_text(uint32_t days, char buf[16])
{
    time_t t;
    struct tm tm;

    if (days < EPOCH_DAYS) {
        snprintf(buf, 16, "(unknown)");
        return buf;
    }
    t = (time_t)(days - EPOCH_DAYS) * 86400;
    gmtime_r(&t, &tm);
    strftime(buf, 16, "%Y-%m-%d", &tm);
    return buf;
}

static const char *today(char buf[16])
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, 16, "%Y-%m-%d", &tm);
    return buf;
}

static const char *kb(size_t bytes, char buf[24])
{
    if (bytes % 1024 == 0)
        snprintf(buf, 24, "%zu KB", bytes / 1024);
    else
        snprintf(buf, 24, "%.1f KB", bytes / 1024.0);
    return buf;
}

/* "20k", "20K", "20kb", "20480", "1m". 0 on error. */
static size_t parse_size(const char *s)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || v <= 0)
        return 0;
    if (!strcasecmp(end, "k") || !strcasecmp(end, "kb") || !strcasecmp(end, "kib"))
        v *= 1024;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib"))
        v *= 1024 * 1024;
    else if (*end && strcasecmp(end, "b"))
        return 0;
    return v < 1 || v > 1e12 ? 0 : (size_t)v;
}

static const char *key_text(const struct mote_tls_detail *d, char buf[48])
{
    switch (d->key_type) {
    case MOTE_TLS_KEY_RSA:
        snprintf(buf, 48, "RSA %u", d->key_bits);
        break;
    case MOTE_TLS_KEY_EC:
        snprintf(buf, 48, "EC %s",
                 d->curve == 23   ? "P-256"
                 : d->curve == 24 ? "P-384"
                 : d->curve == 25 ? "P-521"
                                  : "(other curve)");
        break;
    case MOTE_TLS_KEY_ED25519:
        snprintf(buf, 48, "Ed25519");
        break;
    case MOTE_TLS_KEY_ED448:
        snprintf(buf, 48, "Ed448");
        break;
    default:
        snprintf(buf, 48, "unknown");
        break;
    }
    return buf;
}

/* ---------------------------------------------------------------------------------------------
 * The certificate chain, as OpenSSL reads it (or as lib/tls captured it)
 * ------------------------------------------------------------------------------------------- */

static void name_of(const X509_NAME *n, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    int r;

    buf[0] = 0;
    if (!b)
        return;
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
    r = BIO_read(b, buf, (int)len - 1);
    buf[r > 0 ? r : 0] = 0;
    BIO_free(b);
}

static void asn1_day(const ASN1_TIME *t, char buf[16])
{
    struct tm tm;

    if (!t || !ASN1_TIME_to_tm(t, &tm)) {
        snprintf(buf, 16, "(unknown)");
        return;
    }
    strftime(buf, 16, "%Y-%m-%d", &tm);
}

static void openssl_cert(X509 *x, struct cert_info *c)
{
    EVP_PKEY *k = X509_get0_pubkey(x);
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int nid = X509_get_signature_nid(x);

    memset(c, 0, sizeof *c);
    name_of(X509_get_subject_name(x), c->subject, sizeof c->subject);
    name_of(X509_get_issuer_name(x), c->issuer, sizeof c->issuer);
    if (!k) {
        snprintf(c->key, sizeof c->key, "unreadable");
    } else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
        char group[40] = "";
        size_t glen = 0;
        EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen);
        snprintf(c->key, sizeof c->key, "EC %s",
                 !strcmp(group, "prime256v1")  ? "P-256"
                 : !strcmp(group, "secp384r1") ? "P-384"
                 : !strcmp(group, "secp521r1") ? "P-521"
                                               : group);
    } else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
        snprintf(c->key, sizeof c->key, "RSA %d", EVP_PKEY_get_bits(k));
    } else {
        snprintf(c->key, sizeof c->key, "%s %d", OBJ_nid2sn(EVP_PKEY_get_base_id(k)),
                 EVP_PKEY_get_bits(k));
    }
    snprintf(c->sig, sizeof c->sig, "%s", nid != NID_undef ? OBJ_nid2ln(nid) : "unknown");
    asn1_day(X509_get0_notBefore(x), c->not_before);
    asn1_day(X509_get0_notAfter(x), c->not_after);
    c->expired = X509_cmp_current_time(X509_get0_notAfter(x)) < 0;
    c->not_yet_valid = X509_cmp_current_time(X509_get0_notBefore(x)) > 0;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        char item[80] = "";
        size_t used = strlen(c->san);

        if (g->type == GEN_DNS) {
            snprintf(item, sizeof item, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        } else if (g->type == GEN_IPADD) {
            char ip[INET6_ADDRSTRLEN] = "?";
            int n = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *p = ASN1_STRING_get0_data(g->d.iPAddress);
            if (n == 4 || n == 16)
                inet_ntop(n == 4 ? AF_INET : AF_INET6, p, ip, sizeof ip);
            snprintf(item, sizeof item, "IP:%s", ip);
        } else {
            continue;
        }
        snprintf(c->san + used, sizeof c->san - used, "%s%s", used ? ", " : "", item);
    }
    GENERAL_NAMES_free(sans);
    c->der_len = i2d_X509(x, NULL);
}

static void collect_chain(struct doctor *d)
{
    d->probe_source = "read with OpenSSL on a separate connection";
    if (d->probe.ok && d->probe.chain) {
        d->chain_source = d->probe_source;
        for (int i = 0; i < sk_X509_num(d->probe.chain) && d->ncerts < MAX_CERTS; i++) {
            openssl_cert(sk_X509_value(d->probe.chain, i), &d->certs[d->ncerts]);
            d->chain_bytes += d->certs[d->ncerts++].der_len;
        }
        return;
    }
    if (d->tls_d.chain_len > 0) { /* what lib/tls captured: names, key, dates; no sizes */
        struct cert_info *c = &d->certs[0];
        d->chain_source = "as lib/tls captured it (the server's own certificate only)";
        memset(c, 0, sizeof *c);
        snprintf(c->subject, sizeof c->subject, "CN=%s", d->tls_d.subject_cn);
        snprintf(c->issuer, sizeof c->issuer, "CN=%s", d->tls_d.issuer_cn);
        key_text(&d->tls_d, c->key);
        snprintf(c->sig, sizeof c->sig, "%s", mote_tls_sig_name(d->tls_d.sig_alg));
        if (d->tls_d.cert_index == 0) {
            day_text(d->tls_d.not_before_days, c->not_before);
            day_text(d->tls_d.not_after_days, c->not_after);
        } else {
            snprintf(c->not_before, sizeof c->not_before, "(unknown)");
            snprintf(c->not_after, sizeof c->not_after, "(unknown)");
        }
        if (d->tls_d.name[0])
            snprintf(c->san, sizeof c->san, "%s (the first)", d->tls_d.name);
        d->ncerts = 1;
    }
}

/* ---------------------------------------------------------------------------------------------
 * The steps
 * ------------------------------------------------------------------------------------------- */

static void resolve(struct doctor *d)
{
    struct addrinfo hints = {0}, *list = NULL;
    char port[8];
    double t0 = cli_now_ms();
    int rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(port, sizeof port, "%u", d->o.port);
    rc = getaddrinfo(d->o.host, port, &hints, &list);
    d->dns_ms = cli_now_ms() - t0;
    if (rc != 0) {
        snprintf(d->dns_error, sizeof d->dns_error, "%s",
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return;
    }
    for (struct addrinfo *ai = list; ai && d->naddrs < MAX_ADDRS; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        const void *a = ai->ai_family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        int dup = 0;
        inet_ntop(ai->ai_family, a, ip, sizeof ip);
        for (int i = 0; i < d->naddrs; i++)
            dup |= !strcmp(d->addrs[i], ip);
        if (!dup)
            snprintf(d->addrs[d->naddrs++], INET6_ADDRSTRLEN, "%s", ip);
    }
    freeaddrinfo(list);
    d->dns_ok = d->naddrs > 0;
    if (!d->dns_ok)
        snprintf(d->dns_error, sizeof d->dns_error, "no address");
}

/* Connects to the address that worked (after connect_first()). */
static int tcp_to(struct doctor *d, struct mote_posix_tcp *tcp, struct mote_error *err)
{
    return mote_posix_connect(d->addr, (uint16_t)d->o.port, d->step_ms, tcp, err);
}

/* Each address in turn, as the device's port does; the first that accepts is used from then on. */
static void connect_first(struct doctor *d, struct mote_posix_tcp *tcp)
{
    struct mote_error err;

    for (int i = 0; i < d->naddrs; i++) {
        double t0 = cli_now_ms();
        int rc = mote_posix_connect(d->addrs[i], (uint16_t)d->o.port, d->step_ms, tcp, &err);
        d->tcp_ms = cli_now_ms() - t0;
        if (rc == MOTE_OK) {
            snprintf(d->addr, sizeof d->addr, "%s", d->addrs[i]);
            d->tcp_ok = 1;
            return;
        }
        mote_error_explain(&err, d->tcp_error, sizeof d->tcp_error);
        size_t used = strlen(d->tcp_notes);
        snprintf(d->tcp_notes + used, sizeof d->tcp_notes - used, "%s%s: %s", used ? "; " : "",
                 d->addrs[i], mote_strerror(err.code));
    }
}

/* A TLS context of the device's kind: half duplex, records of @p rec bytes. */
static int tls_setup(struct doctor *d, struct mote_tls *t, uint8_t *iobuf, unsigned rec)
{
    struct mote_tls_config cfg;
    struct mote_error err;

    cli_trust_config(&d->trust, d->o.host, 0, &cfg);
    if (mote_tls_init(t, &cfg, iobuf, MOTE_TLS_IOBUF_MONO(rec), &err) != MOTE_OK) {
        mote_error_explain(&err, d->tls_error, sizeof d->tls_error);
        return 1;
    }
    return 0;
}

/* A handshake on a new connection. MOTE_OK, an error, or MOTE_NEED_MORE on time out. */
static int handshake_on(struct doctor *d, struct mote_tls *t, struct mote_posix_tcp *tcp,
                        struct mote_transport *secure, double *ms)
{
    struct mote_error err;
    double t0;
    int rc;

    if (tcp_to(d, tcp, &err) != MOTE_OK) {
        t->err = err;
        return err.code;
    }
    if (mote_tls_transport(t, &tcp->transport, secure) != MOTE_OK)
        return mote_tls_error(t)->code;
    t0 = cli_now_ms();
    rc = cli_tls_handshake(t, tcp->fd, d->step_ms);
    *ms = cli_now_ms() - t0;
    return rc;
}

/* Is it plain MQTT? A CONNECT in the clear: any CONNACK says yes. */
static int speaks_plain_mqtt(struct doctor *d)
{
    struct mote_client c;
    struct mote_posix_tcp tcp;
    uint8_t rx[256], tx[256];
    struct mote_inflight slot;
    struct mote_client_config cfg = {
        .version = MOTE_V311, .clean_start = 1, .keep_alive_s = 10, .connack_timeout_ms = 3000};
    struct mote_client_mem mem = {rx, sizeof rx, tx, sizeof tx, NULL, 0, &slot, 1};
    int rc, yes;

    cfg.client_id = MOTE_SLICE_STR("mote-doctor-probe");
    if (mote_client_init(&c, &cfg, &mem, NULL) != MOTE_OK)
        return 0;
    rc = mote_posix_open(&c, &tcp, d->addr, (uint16_t)d->o.port, d->step_ms);
    yes = rc == MOTE_OK || rc == MOTE_ERR_CONNECT_REFUSED;
    if (rc == MOTE_OK)
        (void)mote_client_disconnect(&c, mote_posix_now_ms());
    mote_posix_close(&tcp);
    return yes;
}

/* The MQTT steps over a transport that is ready: CONNECT, SUBSCRIBE, a round trip. */
struct mqtt_ctx {
    struct doctor *d;
    int subscribed, received, published;
    uint8_t sub_code;
};

static void mqtt_message(void *ctx, const struct mote_message *m)
{
    struct mqtt_ctx *x = ctx;

    if (m->topic.len == strlen(x->d->topic) && !memcmp(m->topic.ptr, x->d->topic, m->topic.len))
        x->received = 1;
}

static void mqtt_event(void *ctx, const struct mote_event *e)
{
    struct mqtt_ctx *x = ctx;

    if (e->type == MOTE_EV_SUBSCRIBED) {
        x->subscribed = 1;
        x->sub_code = e->count ? e->codes[0] : 0x80;
    } else if (e->type == MOTE_EV_PUBLISHED) {
        x->published = 1;
    }
}

static int not_connecting(void *ctx)
{
    return mote_client_state(ctx) != MOTE_STATE_CONNECTING;
}

static void explain_client(struct doctor *d, struct mote_tls *t, const struct mote_error *e,
                           char *buf, size_t len)
{
    if (t && e->code <= MOTE_ERR_TLS_UNTRUSTED && e->code >= MOTE_ERR_TLS_OTHER)
        cli_tls_explain(t, buf, len);
    else
        mote_error_explain(e, buf, len);
    (void)d;
}

/* Polls the client until @p done is set, or the connection ends, or step_ms passes. */
static int run_until(struct doctor *d, struct mote_client *c, struct mote_posix_tcp *tcp, int *done)
{
    return cli_drive(c, tcp, d->step_ms, cli_flag_set, done);
}

static void mqtt_steps(struct doctor *d, struct mote_posix_tcp *tcp, const struct mote_transport *t,
                       struct mote_tls *tls)
{
    /* A device's memory: small buffers, a few slots. */
    static uint8_t rx[1024], tx[1024], store[1024];
    static struct mote_inflight slots[4];
    struct mote_client_mem mem = {rx, sizeof rx, tx, sizeof tx, store, sizeof store, slots, 4};
    struct mqtt_ctx x = {.d = d};
    struct mote_client_callbacks cb = {mqtt_message, mqtt_event, &x};
    struct mote_client_config cfg = {0};
    struct mote_client *c = calloc(1, sizeof *c);
    uint8_t r[4];
    char id[32];
    double t0;
    int rc, connected = 0;

    if (!c)
        return;
    cli_random(r, sizeof r);
    snprintf(id, sizeof id, "mote-doctor-%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
    cfg.version = d->o.version;
    cfg.client_id = (struct mote_slice){(const uint8_t *)(d->o.client_id ? d->o.client_id : id),
                                        strlen(d->o.client_id ? d->o.client_id : id)};
    cfg.keep_alive_s = (uint16_t)d->o.keepalive;
    cfg.clean_start = 1;
    if (d->o.username) {
        cfg.has_username = 1;
        cfg.username = (struct mote_slice){(const uint8_t *)d->o.username, strlen(d->o.username)};
    }
    if (d->o.password) {
        cfg.has_password = 1;
        cfg.password = (struct mote_slice){(const uint8_t *)d->o.password, strlen(d->o.password)};
    }
    cfg.connect_props.list = d->o.connect_props.list;
    cfg.connect_props.count = d->o.connect_props.count;
    cfg.connack_timeout_ms = d->step_ms;

    d->connect.tried = 1;
    if (mote_client_init(c, &cfg, &mem, &cb) != MOTE_OK) {
        mote_error_explain(mote_client_error(c), d->connect.text, sizeof d->connect.text);
        free(c);
        return;
    }
    t0 = cli_now_ms();
    rc = mote_client_connect(c, t, mote_posix_now_ms());
    if (rc == MOTE_OK) /* connack_timeout_ms (step_ms) ends the wait */
        rc = cli_drive(c, tcp, d->step_ms + 1000, not_connecting, c);
    d->connect.ms = cli_now_ms() - t0;
    if (rc != MOTE_OK || mote_client_state(c) != MOTE_STATE_CONNECTED) {
        const struct mote_error *e = mote_client_error(c);
        if (e->code == MOTE_ERR_CONNECT_REFUSED)
            d->connack_reason = e->reason;
        explain_client(d, tls, e, d->connect.text, sizeof d->connect.text);
        free(c);
        return;
    }
    connected = 1;
    d->connect.ok = 1;
    snprintf(d->connect.text, sizeof d->connect.text, "accepted (%s), MQTT %s",
             mote_reason_name(d->o.version, MOTE_CONNACK, 0),
             d->o.version == MOTE_V5 ? "5.0" : "3.1.1");

    /* SUBSCRIBE, then PUBLISH to ourselves. */
    struct mote_subscription sub = {.qos = 1};
    sub.filter = (struct mote_slice){(const uint8_t *)d->topic, strlen(d->topic)};
    d->subscribe.tried = 1;
    t0 = cli_now_ms();
    rc = mote_client_subscribe(c, &sub, 1, 0, NULL);
    if (rc == MOTE_OK)
        rc = run_until(d, c, tcp, &x.subscribed);
    d->subscribe.ms = cli_now_ms() - t0;
    if (rc != MOTE_OK) {
        if (rc == MOTE_NEED_MORE)
            snprintf(d->subscribe.text, sizeof d->subscribe.text, "no SUBACK within %u ms",
                     d->step_ms);
        else
            explain_client(d, tls, mote_client_error(c), d->subscribe.text,
                           sizeof d->subscribe.text);
        connected = rc == MOTE_NEED_MORE;
        goto out;
    }
    d->granted = x.sub_code;
    if (x.sub_code >= 0x80) {
        snprintf(d->subscribe.text, sizeof d->subscribe.text, "%s: refused: %s (0x%02x)", d->topic,
                 mote_reason_name(d->o.version, MOTE_SUBACK, x.sub_code), x.sub_code);
        goto out;
    }
    d->subscribe.ok = 1;
    snprintf(d->subscribe.text, sizeof d->subscribe.text, "%s: granted QoS %u", d->topic,
             x.sub_code);

    struct mote_publish msg = {.qos = 1};
    char payload[64];
    snprintf(payload, sizeof payload, "mote doctor %ld", (long)time(NULL));
    msg.topic = sub.filter;
    msg.payload = (struct mote_slice){(const uint8_t *)payload, strlen(payload)};
    d->roundtrip.tried = 1;
    t0 = cli_now_ms();
    rc = mote_client_publish(c, &msg, NULL);
    if (rc == MOTE_OK)
        rc = run_until(d, c, tcp, &x.received);
    d->roundtrip.ms = cli_now_ms() - t0;
    if (rc != MOTE_OK) {
        if (rc == MOTE_NEED_MORE)
            snprintf(d->roundtrip.text, sizeof d->roundtrip.text,
                     "the message did not come back within %u ms%s", d->step_ms,
                     x.published ? " (the broker acknowledged it: its ACL may hide it from us)"
                                 : "");
        else
            explain_client(d, tls, mote_client_error(c), d->roundtrip.text,
                           sizeof d->roundtrip.text);
        connected = rc == MOTE_NEED_MORE;
        goto out;
    }
    d->roundtrip.ok = 1;
    snprintf(d->roundtrip.text, sizeof d->roundtrip.text,
             "a QoS 1 message of %zu bytes went out and came back", strlen(payload));
out:
    if (connected && mote_client_state(c) == MOTE_STATE_CONNECTED) {
        (void)mote_client_disconnect(c, mote_posix_now_ms());
    }
    free(c);
}

/* ---------------------------------------------------------------------------------------------
 * TLS, the device's way, and everything measured around it
 * ------------------------------------------------------------------------------------------- */

static int tls_steps(struct doctor *d)
{
    struct mote_tls *t = calloc(1, sizeof *t), *probe = calloc(1, sizeof *probe);
    uint8_t *iobuf = malloc(MOTE_TLS_IOBUF_MONO(16384));
    uint8_t *probe_buf = malloc(MOTE_TLS_IOBUF_MONO(4096));
    struct mote_posix_tcp tcp = {.fd = -1};
    struct mote_transport secure;
    int rc;

    if (!t || !probe || !iobuf || !probe_buf) {
        free(t);
        free(probe);
        free(iobuf);
        free(probe_buf);
        snprintf(d->tls_error, sizeof d->tls_error, "out of memory");
        return 1;
    }

    /* The main handshake, with the record size the device would use (--mfl, or 512: the
     * smallest, which a device short of RAM asks for). MQTT runs over it. */
    d->rec = d->mfl ? d->mfl : 512;
    d->tls_tried = 1;
    if (tls_setup(d, t, iobuf, d->rec))
        goto done;
    rc = handshake_on(d, t, &tcp, &secure, &d->tls_ms);
    d->tls_d = *mote_tls_detail(t);
    d->tls_err = *mote_tls_error(t);
    if (rc == MOTE_NEED_MORE) {
        d->tls_timeout = 1;
        snprintf(d->tls_error, sizeof d->tls_error,
                 "tls: the server did not finish the handshake within %u ms%s", d->step_ms,
                 d->tls_d.server_hello ? " (it had sent its hello)" : " (it never answered)");
    } else if (rc != MOTE_OK) {
        cli_tls_explain(t, d->tls_error, sizeof d->tls_error);
    } else {
        d->tls_ok = 1;
        for (int i = 0; i < 4; i++)
            if (mfl_sizes[i] == d->rec) {
                d->mfl_known[i] = 1;
                d->mfl_ok[i] = d->tls_d.mfl_accepted;
            }
        mqtt_steps(d, &tcp, &secure, t);
        mote_tls_close(t);
    }
    mote_posix_close(&tcp);

    /* Resumption: the device reconnects with the session it kept. */
    if (d->tls_ok) {
        d->resume_tried = 1;
        rc = handshake_on(d, t, &tcp, &secure, &d->resume_ms);
        if (rc == MOTE_OK) {
            d->resumed = mote_tls_resumed(t);
            mote_tls_close(t);
        } else if (rc == MOTE_NEED_MORE) {
            snprintf(d->resume_error, sizeof d->resume_error, "no answer within %u ms", d->step_ms);
        } else {
            cli_tls_explain(t, d->resume_error, sizeof d->resume_error);
        }
        mote_posix_close(&tcp);
    }

    /* max_fragment_length: one handshake per size. The ServerHello says it, so this works even
     * when the certificate does not verify. */
    if (d->tls_d.server_hello) {
        for (int i = 0; i < 4; i++) {
            double ms;
            if (d->mfl_known[i])
                continue;
            if (tls_setup(d, probe, probe_buf, mfl_sizes[i]))
                break;
            (void)handshake_on(d, probe, &tcp, &secure, &ms);
            if (mote_tls_detail(probe)->server_hello) {
                d->mfl_known[i] = 1;
                d->mfl_ok[i] = mote_tls_detail(probe)->mfl_accepted;
            }
            if (mote_tls_detail(probe)->handshake_done)
                mote_tls_close(probe);
            mote_posix_close(&tcp);
        }
        if (!d->tls_ok) { /* the main handshake failed after the hello: it knows its own size */
            for (int i = 0; i < 4; i++)
                if (mfl_sizes[i] == d->rec) {
                    d->mfl_known[i] = 1;
                    d->mfl_ok[i] = d->tls_d.mfl_accepted;
                }
        }
    }
done:
    free(t);
    free(probe);
    free(iobuf);
    free(probe_buf);
    return 0;
}

/* What OpenSSL sees: the chain, and for a failed handshake what the server does accept. */
static void openssl_steps(struct doctor *d)
{
    (void)cli_probe_tls(d->o.host, d->addr, d->o.port, 0, d->step_ms, &d->probe);
    if (!d->tls_ok && d->tls_err.code == MOTE_ERR_TLS_NO_COMMON_CIPHER) {
        d->probe12_tried = 1;
        (void)cli_probe_tls(d->o.host, d->addr, d->o.port, 1, d->step_ms, &d->probe12);
    }
    collect_chain(d);
}

/* ---------------------------------------------------------------------------------------------
 * RAM and the verdict
 * ------------------------------------------------------------------------------------------- */

static void ram(struct doctor *d)
{
    d->tls_state = sizeof(struct mote_tls);
    d->no_mfl = 1;
    d->ram_rec = 16384;
    for (int i = 0; i < 4; i++)
        if (d->mfl_known[i] && d->mfl_ok[i]) {
            d->no_mfl = 0;
            if (mfl_sizes[i] < d->ram_rec)
                d->ram_rec = mfl_sizes[i];
        }
    if (d->mfl) /* the device's size is given */
        d->ram_rec = d->mfl;
    d->record_buf = MOTE_TLS_IOBUF_MONO(d->ram_rec);
    d->ram_total = d->tls_state + d->record_buf;
}

static int mfl_honoured(const struct doctor *d, unsigned size)
{
    for (int i = 0; i < 4; i++)
        if (mfl_sizes[i] == size)
            return d->mfl_known[i] && d->mfl_ok[i];
    return size == 16384;
}

#define VERDICT(...) snprintf(d->verdict, sizeof d->verdict, __VA_ARGS__)

/* The CA names of the CA file, as "CN=A, CN=B" (or a count for a bundle). */
static void ca_list(const struct doctor *d, char *buf, size_t len)
{
    buf[0] = 0;
    if (d->trust.ca_count > 6) {
        snprintf(buf, len, "%zu CA certificates", d->trust.ca_count);
        return;
    }
    for (size_t i = 0; i < d->trust.ca_count; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%sCN=%s", i ? ", " : "", d->trust.ca_names[i]);
    }
    if (!buf[0])
        snprintf(buf, len, "no certificate OpenSSL can read");
}

static void tls_verdict(struct doctor *d)
{
    const struct mote_tls_detail *t = &d->tls_d;
    char a[16], b[16], c[16], cas[600];

    d->failed = "tls";
    if (d->tls_timeout) {
        VERDICT("the server did not finish the TLS handshake within %u ms%s: check that %s:%u is "
                "the broker's TLS port, and the broker's log",
                d->step_ms, t->server_hello ? " after its hello" : "", d->o.host, d->o.port);
        return;
    }
    switch (d->tls_err.code) {
    case MOTE_ERR_TLS_UNTRUSTED:
        ca_list(d, cas, sizeof cas);
        if (d->trust.ca_count > 6)
            VERDICT("the server's certificate is issued by CN=%s; your CA file (%s) holds %s, "
                    "none of them CN=%s: give the device the CA that signed the server's "
                    "certificate",
                    t->top_issuer_cn, d->trust.cafile, cas, t->top_issuer_cn);
        else
            VERDICT("the server's certificate is issued by CN=%s; your CA file (%s) holds %s: "
                    "give the device the CA that signed the server's certificate",
                    t->top_issuer_cn, d->trust.cafile, cas);
        return;
    case MOTE_ERR_TLS_BAD_SIGNATURE:
        VERDICT("the server's certificate is issued by CN=%s, and your CA file (%s) holds a CA "
                "of that name, but with another key: the CA was made again. Give the device the "
                "CA certificate that signed the server's certificate (mote certs embed)",
                t->top_issuer_cn, d->trust.cafile);
        return;
    case MOTE_ERR_TLS_EXPIRED:
    case MOTE_ERR_TLS_NOT_YET_VALID: {
        int expired = d->tls_err.code == MOTE_ERR_TLS_EXPIRED;
        char which[200];
        if (t->cert_index == 0)
            snprintf(which, sizeof which, "the server's certificate (CN=%s)", t->subject_cn);
        else
            snprintf(which, sizeof which, "certificate %u of the chain above the server's",
                     t->cert_index);
        if (expired)
            VERDICT("%s expired on %s (valid from %s to %s; today is %s): renew it on the broker "
                    "(for a mote certs CA: mote certs server --force)",
                    which, day_text(t->not_after_days, b), day_text(t->not_before_days, a),
                    day_text(t->not_after_days, c), today(cas));
        else
            VERDICT("%s is not valid before %s (valid from %s to %s; today is %s): check the "
                    "broker's clock when it was issued, or wait",
                    which, day_text(t->not_before_days, b), day_text(t->not_before_days, a),
                    day_text(t->not_after_days, c), today(cas));
        return;
    }
    case MOTE_ERR_TLS_HOSTNAME:
        if (d->ncerts > 0 && d->certs[0].san[0] && d->chain_source == d->probe_source)
            VERDICT("the server's certificate is for %s (CN=%s), not for %s: connect with a name "
                    "it lists, or reissue it with this one (for a mote certs CA: mote certs "
                    "server --host NAME or --ip ADDRESS)",
                    d->certs[0].san, t->subject_cn, d->o.host);
        else
            VERDICT("the server's certificate is for %s (CN=%s), not for %s: connect with a name "
                    "it lists, or reissue it with this one (for a mote certs CA: mote certs "
                    "server --host NAME or --ip ADDRESS)",
                    t->name[0] ? t->name : t->subject_cn, t->subject_cn, d->o.host);
        return;
    case MOTE_ERR_TLS_NO_COMMON_CIPHER: {
        int rsa = d->ncerts > 0 && !strncmp(d->certs[0].key, "RSA", 3);
        const char *suites = rsa ? "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256 (the "
                                   "certificate is RSA)"
                                 : "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256 "
                                   "(the certificate is ECDSA)";
        if (d->probe12_tried && !d->probe12.ok && d->probe.ok &&
            !strcmp(d->probe.version, "TLSv1.3") && strstr(d->probe12.error, "version")) {
            VERDICT("no TLS version in common: the server accepts only TLS 1.3 (OpenSSL "
                    "negotiated %s with %s, and TLS 1.2 was refused: %s); the device speaks "
                    "TLS 1.2 (BearSSL): allow TLS 1.2 on the listener (mosquitto and moted: "
                    "tls_version tlsv1.2)",
                    d->probe.version, d->probe.cipher, d->probe12.error);
        } else if (d->probe12_tried && !d->probe12.ok && d->probe.ok) {
            VERDICT("no cipher suite in common: over TLS 1.2 the server refused every suite, "
                    "OpenSSL's too (%s); only its TLS 1.3 works (%s), which the device does not "
                    "speak. Its TLS 1.2 ciphers fit neither the device nor its certificate: set "
                    "the listener's ciphers to e.g. %s",
                    d->probe12.error, d->probe.cipher, suites);
        } else if (d->probe12_tried && d->probe12.ok) {
            VERDICT("no cipher suite in common: over TLS 1.2 the server chose %s for OpenSSL, "
                    "which the device lacks; the device offers ECDHE with ChaCha20-Poly1305, "
                    "AES-GCM or AES-CBC-SHA256/384: add one to the listener's ciphers, e.g. %s",
                    d->probe12.cipher, suites);
        } else {
            VERDICT("no TLS version or cipher suite in common: %s", d->tls_error);
        }
        return;
    }
    case MOTE_ERR_TLS_ALERT:
        if (t->cert_requested && !d->o.cert) {
            VERDICT("the broker requires a client certificate (mutual TLS) and the device has "
                    "none: give it one signed by the broker's CA (mote certs device NAME; here "
                    "--cert and --key). %s",
                    d->tls_error);
            return;
        }
        break;
    default:
        break;
    }
    if (!t->server_hello && !t->has_alert && d->plain_is_mqtt) {
        VERDICT("plaintext port given as TLS: %s:%u speaks plain MQTT, not TLS (it answered a "
                "CONNECT in the clear and closed the TLS hello): use mqtt://%s:%u, or the broker's "
                "TLS port (usually 8883)",
                d->o.host, d->o.port, d->o.host, d->o.port);
        return;
    }
    if (!t->server_hello && !t->has_alert) {
        VERDICT("the server did not answer the TLS hello (%s): %s:%u is probably not a TLS port; "
                "check the port, and the broker's log",
                d->tls_error, d->o.host, d->o.port);
        return;
    }
    VERDICT("%s", d->tls_error);
}

static void verdict(struct doctor *d)
{
    char k1[24], k2[24];

    d->ok = 0;
    if (!d->dns_ok) {
        d->failed = "dns";
        VERDICT("the name %s does not resolve (%s): check the name, and that the device's DNS "
                "server knows it",
                d->o.host, d->dns_error);
        return;
    }
    if (!d->tcp_ok) {
        d->failed = "tcp";
        VERDICT("%s", d->tcp_error);
        return;
    }
    if (d->o.tls && !d->tls_ok) {
        tls_verdict(d);
        return;
    }
    if (d->o.tls) {
        if (d->tls_state > d->budget) {
            d->failed = "ram";
            VERDICT("the TLS state does not fit: struct mote_tls alone takes %zu bytes (this "
                    "host's layout), more than the %s the device has; with the record buffer for "
                    "%u-byte records (%zu bytes) it needs %zu bytes (%s): free that much RAM on "
                    "the device",
                    d->tls_state, kb(d->budget, k1), d->ram_rec, d->record_buf, d->ram_total,
                    kb(d->ram_total, k2));
            return;
        }
        if (d->mfl && !mfl_honoured(d, d->mfl)) {
            d->failed = "ram";
            VERDICT("the server ignores max_fragment_length %u: it may send records of up to "
                    "16384 bytes, and the device's %zu-byte record buffer fails on the first "
                    "large message (a retained message, a burst): use a broker that honours it, "
                    "such as moted, or give the device %zu bytes of record buffer (%zu in all)",
                    d->mfl, d->record_buf, (size_t)MOTE_TLS_IOBUF_MONO(16384),
                    d->tls_state + MOTE_TLS_IOBUF_MONO(16384));
            return;
        }
        if (d->ram_total > d->budget) {
            d->failed = "ram";
            if (d->no_mfl)
                VERDICT("the server ignores max_fragment_length: the device needs %zu bytes for "
                        "record buffers (16 KB records), %zu in all with the TLS state (%s), "
                        "more than the %s it has; use %sa broker that honours "
                        "max_fragment_length, such as moted (or mosquitto on OpenSSL 3), or "
                        "raise the budget",
                        d->record_buf, d->ram_total, kb(d->ram_total, k1), kb(d->budget, k2),
                        d->ncerts > 0 && !strncmp(d->certs[0].key, "RSA", 3)
                            ? "ECDSA certificates (smaller and faster than this RSA one) and "
                            : "");
            else
                VERDICT("the record buffer does not fit: the TLS state takes %zu bytes and the "
                        "buffer for %u-byte records %zu more, %zu in all (%s), and the device has "
                        "%zu: free %zu bytes more%s",
                        d->tls_state, d->ram_rec, d->record_buf, d->ram_total, kb(d->ram_total, k1),
                        d->budget, d->ram_total - d->budget,
                        d->mfl && d->mfl > 512 && mfl_honoured(d, 512)
                            ? ", or ask for 512-byte records (the server honours them)"
                            : "");
            return;
        }
    }
    if (!d->connect.ok && d->tls_as_plain) {
        d->failed = "mqtt";
        VERDICT("TLS port given as plain MQTT: %s:%u speaks TLS (OpenSSL negotiated %s), not "
                "plain MQTT: use mqtts://%s:%u with the broker's CA (--cafile)",
                d->o.host, d->o.port, d->probe.version, d->o.host, d->o.port);
        return;
    }
    if (!d->connect.ok) {
        d->failed = "mqtt";
        VERDICT("%s", d->connect.text[0] ? d->connect.text : "MQTT CONNECT failed");
        return;
    }
    d->ok = 1;
    if (d->o.tls)
        VERDICT("a device with %s free will connect: it needs %zu bytes for TLS (%zu of TLS "
                "state + %zu of record buffer for %u-byte records)%s%s%s",
                kb(d->budget, k1), d->ram_total, d->tls_state, d->record_buf, d->ram_rec,
                d->roundtrip.ok ? "" : "; but the publish/subscribe round trip failed: ",
                d->roundtrip.ok   ? ""
                : d->subscribe.ok ? d->roundtrip.text
                                  : d->subscribe.text,
                d->resumed || !d->resume_tried
                    ? ""
                    : "; note: the server does not resume sessions, so every reconnect costs a "
                      "full handshake");
    else
        VERDICT("a device will connect, over plain MQTT: no TLS, so anyone on the network can "
                "read its messages and password%s%s",
                d->roundtrip.ok ? "" : "; but the publish/subscribe round trip failed: ",
                d->roundtrip.ok   ? ""
                : d->subscribe.ok ? d->roundtrip.text
                                  : d->subscribe.text);
}

/* ---------------------------------------------------------------------------------------------
 * The report, as text and as JSON
 * ------------------------------------------------------------------------------------------- */

static void line(const char *label, double ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line(const char *label, double ms, const char *fmt, ...)
{
    va_list ap;
    char text[2048];

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (ms >= 0)
        printf("  %-17s %s  (%.1f ms)\n", label, text, ms);
    else
        printf("  %-17s %s\n", label, text);
}

static void mfl_text(const struct doctor *d, char *buf, size_t len)
{
    buf[0] = 0;
    for (int i = 0; i < 4; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%u: %s", i ? ", " : "", mfl_sizes[i],
                 !d->mfl_known[i] ? "not known"
                 : d->mfl_ok[i]   ? "honoured"
                                  : "ignored");
    }
}

static void print_text(struct doctor *d)
{
    char v[16], s[16], k[24], buf[600];
    const struct mote_tls_detail *t = &d->tls_d;

    printf("mote doctor: %s://%s:%u, as a device with %s free would connect%s\n\n",
           d->o.tls ? "mqtts" : "mqtt", d->o.host, d->o.port, kb(d->budget, k),
           d->o.tls ? " (lib/tls: BearSSL, TLS 1.2)" : "");
    if (d->dns_ok) {
        buf[0] = 0;
        for (int i = 0; i < d->naddrs; i++) {
            size_t used = strlen(buf);
            snprintf(buf + used, sizeof buf - used, "%s%s", i ? ", " : "", d->addrs[i]);
        }
        line("name resolution", d->dns_ms, "%s: %s", d->o.host, buf);
    } else {
        line("name resolution", d->dns_ms, "FAILED: %s", d->dns_error);
    }
    if (d->tcp_ok)
        line("TCP", d->tcp_ms, "connected to %s port %u%s%s%s", d->addr, d->o.port,
             d->tcp_notes[0] ? " (" : "", d->tcp_notes, d->tcp_notes[0] ? ")" : "");
    else if (d->dns_ok)
        line("TCP", d->tcp_ms, "FAILED: %s", d->tcp_error);

    if (d->o.tls && d->tls_tried) {
        if (d->tls_ok)
            line("TLS handshake", d->tls_ms, "%s, %s, records of %u bytes asked",
                 cli_tls_version_name(t->version, v), cli_tls_suite_name(t->cipher_suite, s),
                 d->rec);
        else
            line("TLS handshake", d->tls_ms, "FAILED: %s", d->tls_error);
        if (t->server_hello && !d->tls_ok)
            line("", -1, "(the server chose %s, %s)", cli_tls_version_name(t->version, v),
                 cli_tls_suite_name(t->cipher_suite, s));
        if (d->tls_ok)
            line("verification", -1,
                 "the chain (%u certificate%s) ends at CN=%s, held in %s: "
                 "trusted; the name %s matches; the dates are valid",
                 t->chain_len, t->chain_len == 1 ? "" : "s", t->top_issuer_cn, d->trust.cafile,
                 d->o.host);
        else if (t->chain_len)
            line("verification", -1,
                 "FAILED: %s, the chain (%u certificate%s) ends at CN=%s "
                 "(see the verdict)",
                 mote_strerror(d->tls_err.code), t->chain_len, t->chain_len == 1 ? "" : "s",
                 t->top_issuer_cn);
        if (t->server_hello) {
            mfl_text(d, buf, sizeof buf);
            line("max_fragment_len", -1, "%s", buf);
        }
        if (d->resume_tried) {
            if (d->resume_error[0])
                line("resumption", d->resume_ms, "FAILED: %s", d->resume_error);
            else
                line("resumption", d->resume_ms,
                     d->resumed ? "the second handshake resumed the session"
                                : "not resumed: the second handshake was a "
                                  "full one");
        }
        if (d->ncerts) {
            printf("  certificate chain (%s)\n", d->chain_source);
            for (int i = 0; i < d->ncerts; i++) {
                const struct cert_info *c = &d->certs[i];
                printf("    [%d] subject  %s\n", i, c->subject);
                printf("        issuer   %s\n", c->issuer);
                printf("        key      %s, signed with %s\n", c->key, c->sig);
                printf("        valid    %s to %s%s\n", c->not_before, c->not_after,
                       c->expired         ? "  EXPIRED"
                       : c->not_yet_valid ? "  NOT YET VALID"
                                          : "");
                if (c->san[0])
                    printf("        SAN      %s\n", c->san);
                if (c->der_len)
                    printf("        size     %d bytes\n", c->der_len);
            }
            if (d->chain_bytes)
                printf("    total    %d bytes in %d certificate%s\n", d->chain_bytes, d->ncerts,
                       d->ncerts == 1 ? "" : "s");
        }
        if (d->probe.ok)
            line("OpenSSL's view", d->probe.ms,
                 "%s, %s (what the server prefers when the client "
                 "offers everything)",
                 d->probe.version, d->probe.cipher);
        else if (d->probe.error[0])
            line("OpenSSL's view", -1, "handshake failed: %s", d->probe.error);
        if (d->probe12_tried)
            line("TLS 1.2 only", -1, "%s%s%s", d->probe12.ok ? "the server chose " : "refused: ",
                 d->probe12.ok ? d->probe12.cipher : d->probe12.error, "");
        if (d->tls_ok || d->failed == NULL || !strcmp(d->failed, "ram"))
            line("device RAM (TLS)", -1,
                 "%zu bytes: TLS state %zu (sizeof struct mote_tls on "
                 "this host; 32-bit devices: docs/tls.md) + record buffer %zu (%u-byte records, "
                 "half duplex%s)",
                 d->ram_total, d->tls_state, d->record_buf, d->ram_rec,
                 d->no_mfl && !d->mfl ? ": the server honours no max_fragment_length" : "");
    }
    if (d->connect.tried) {
        line("MQTT CONNECT", d->connect.ms, "%s%s",
             d->connect.ok ? "" : "FAILED: ", d->connect.text);
        if (d->subscribe.tried)
            line("MQTT SUBSCRIBE", d->subscribe.ms, "%s%s",
                 d->subscribe.ok ? "" : "FAILED: ", d->subscribe.text);
        if (d->roundtrip.tried)
            line("round trip", d->roundtrip.ms, "%s%s",
                 d->roundtrip.ok ? "" : "FAILED: ", d->roundtrip.text);
    }
    printf("\nverdict: %s\n", d->verdict);
}

static void json_str(const char *key, const char *value, int comma)
{
    printf("%s\"%s\":", comma ? "," : "", key);
    if (value)
        cli_json_string(stdout, value, strlen(value));
    else
        fputs("null", stdout);
}

static void json_step(const char *key, const struct step *s)
{
    printf(",\"%s\":{\"tried\":%s,\"ok\":%s,\"ms\":%.3f", key, s->tried ? "true" : "false",
           s->ok ? "true" : "false", s->ms);
    json_str("text", s->text, 1);
    fputc('}', stdout);
}

static void print_json(struct doctor *d)
{
    const struct mote_tls_detail *t = &d->tls_d;
    char v[16], s[16];

    printf("{\"host\":");
    cli_json_string(stdout, d->o.host, strlen(d->o.host));
    printf(",\"port\":%u,\"tls\":%s,\"ram_budget\":%zu", d->o.port, d->o.tls ? "true" : "false",
           d->budget);
    printf(",\"dns\":{\"ok\":%s,\"ms\":%.3f,\"addresses\":[", d->dns_ok ? "true" : "false",
           d->dns_ms);
    for (int i = 0; i < d->naddrs; i++) {
        if (i)
            fputc(',', stdout);
        cli_json_string(stdout, d->addrs[i], strlen(d->addrs[i]));
    }
    printf("]");
    json_str("error", d->dns_ok ? NULL : d->dns_error, 1);
    printf("},\"tcp\":{\"ok\":%s,\"ms\":%.3f", d->tcp_ok ? "true" : "false", d->tcp_ms);
    json_str("address", d->tcp_ok ? d->addr : NULL, 1);
    json_str("error", d->tcp_ok || !d->dns_ok ? NULL : d->tcp_error, 1);
    printf("}");
    if (d->o.tls && d->tls_tried) {
        printf(",\"tls_handshake\":{\"ok\":%s,\"ms\":%.3f,\"record_size\":%u",
               d->tls_ok ? "true" : "false", d->tls_ms, d->rec);
        json_str("version", t->server_hello ? cli_tls_version_name(t->version, v) : NULL, 1);
        json_str("cipher_suite", t->server_hello ? cli_tls_suite_name(t->cipher_suite, s) : NULL,
                 1);
        json_str("error", d->tls_ok ? NULL : d->tls_error, 1);
        json_str("error_code", d->tls_ok ? NULL : mote_err_name(d->tls_err.code), 1);
        printf(",\"verified\":%s,\"server_hello\":%s,\"certificate_requested\":%s}",
               d->tls_ok ? "true" : "false", t->server_hello ? "true" : "false",
               t->cert_requested ? "true" : "false");
        printf(",\"max_fragment_length\":{");
        for (int i = 0; i < 4; i++)
            printf("%s\"%u\":%s", i ? "," : "", mfl_sizes[i],
                   !d->mfl_known[i] ? "null"
                   : d->mfl_ok[i]   ? "true"
                                    : "false");
        printf("}");
        printf(",\"resumption\":{\"tried\":%s,\"resumed\":%s,\"ms\":%.3f",
               d->resume_tried ? "true" : "false", d->resumed ? "true" : "false", d->resume_ms);
        json_str("error", d->resume_error[0] ? d->resume_error : NULL, 1);
        printf("}");
        printf(",\"chain\":{");
        json_str("source", d->chain_source, 0);
        printf(",\"bytes\":%d,\"certificates\":[", d->chain_bytes);
        for (int i = 0; i < d->ncerts; i++) {
            const struct cert_info *c = &d->certs[i];
            printf("%s{", i ? "," : "");
            json_str("subject", c->subject, 0);
            json_str("issuer", c->issuer, 1);
            json_str("key", c->key, 1);
            json_str("signature", c->sig, 1);
            json_str("not_before", c->not_before, 1);
            json_str("not_after", c->not_after, 1);
            json_str("san", c->san, 1);
            printf(",\"bytes\":%d,\"expired\":%s}", c->der_len, c->expired ? "true" : "false");
        }
        printf("]}");
        printf(",\"openssl\":{\"ok\":%s", d->probe.ok ? "true" : "false");
        json_str("version", d->probe.ok ? d->probe.version : NULL, 1);
        json_str("cipher", d->probe.ok ? d->probe.cipher : NULL, 1);
        json_str("error", d->probe.ok ? NULL : d->probe.error, 1);
        printf("}");
        printf(",\"ram\":{\"tls_state\":%zu,\"record_size\":%u,\"record_buffer\":%zu,"
               "\"total\":%zu,\"budget\":%zu,\"server_honours_mfl\":%s}",
               d->tls_state, d->ram_rec, d->record_buf, d->ram_total, d->budget,
               d->no_mfl ? "false" : "true");
    }
    printf(",\"mqtt\":{\"topic\":");
    cli_json_string(stdout, d->topic, strlen(d->topic));
    json_step("connect", &d->connect);
    if (d->connect.tried) /* the CONNACK's code: 0 accepted, else the refusal */
        printf(",\"connack_reason\":%u", d->connack_reason);
    json_step("subscribe", &d->subscribe);
    if (d->subscribe.tried)
        printf(",\"suback_code\":%u", d->granted);
    json_step("round_trip", &d->roundtrip);
    printf("},\"verdict\":{\"ok\":%s", d->ok ? "true" : "false");
    json_str("failed", d->failed, 1);
    json_str("text", d->verdict, 1);
    printf("}}\n");
}

/* ---------------------------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------------------------- */

/* see cli.h */
int mote_cmd_doctor(int argc, char **argv)
{
    struct doctor *d = calloc(1, sizeof *d);
    const char *url = NULL;
    int status;

    if (!d) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    cli_opts_init(&d->o, PROG);
    d->budget = DEFAULT_RAM;
    d->step_ms = 5000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc;

        if (!strcmp(a, "--help")) {
            usage(stdout);
            free(d);
            return 0;
        }
        rc = cli_opts_parse(&d->o, argc, argv, &i, NULL);
        if (rc == 2)
            goto usage_error;
        if (rc == 1)
            continue;
        if (a[0] != '-') {
            if (url) {
                cli_usage_error(PROG, "one broker at a time: '%s' and '%s'", url, a);
                goto usage_error;
            }
            url = a;
            continue;
        }
        if (!strcmp(a, "--json")) {
            d->json = 1;
            continue;
        }
        if (strcmp(a, "--ram") && strcmp(a, "--mfl") && strcmp(a, "-W")) {
            cli_usage_error(PROG, "unknown option '%s'", a);
            goto usage_error;
        }
        if (i + 1 >= argc) {
            cli_usage_error(PROG, "%s needs a value", a);
            goto usage_error;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--ram")) {
            d->budget = parse_size(v);
            if (!d->budget) {
                cli_usage_error(PROG, "--ram wants a size such as 20k, 6144 or 1m, not '%s'", v);
                goto usage_error;
            }
        } else if (!strcmp(a, "--mfl")) {
            d->mfl = (unsigned)atoi(v);
            if (d->mfl != 512 && d->mfl != 1024 && d->mfl != 2048 && d->mfl != 4096 &&
                d->mfl != 16384) {
                cli_usage_error(PROG, "--mfl wants 512, 1024, 2048, 4096 or 16384, not '%s'", v);
                goto usage_error;
            }
        } else {
            int s = atoi(v);
            if (s < 1 || s > 600) {
                cli_usage_error(PROG, "-W wants seconds from 1 to 600, not '%s'", v);
                goto usage_error;
            }
            d->step_ms = (uint32_t)s * 1000;
        }
    }
    if (url && cli_opts_url(&d->o, url))
        goto usage_error;
    if (!url && !strcmp(d->o.host, "localhost") && !d->o.port) {
        cli_usage_error(PROG, "which broker? give mqtts://HOST:PORT (or mqtt://)");
        goto usage_error;
    }
    if (d->o.insecure) {
        cli_usage_error(PROG, "--insecure: a device verifies the broker; doctor does too");
        goto usage_error;
    }
    if (d->o.will_topic) {
        cli_usage_error(PROG, "wills are not part of the diagnosis");
        goto usage_error;
    }
    d->o.timeout_ms = d->step_ms;
    if (cli_opts_finish(&d->o))
        goto usage_error;
    {
        uint8_t r[4];
        cli_random(r, sizeof r);
        snprintf(d->topic, sizeof d->topic, "mote/doctor/%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
    }

    /* The device's trust first: a file problem is not the broker's. */
    if (d->o.tls) {
        char err[1200];
        if (cli_trust_load(&d->trust, &d->o, err, sizeof err)) {
            fprintf(stderr, PROG ": %s\n", err);
            cli_trust_free(&d->trust);
            free(d);
            return 1;
        }
    }

    resolve(d);
    if (d->dns_ok) {
        struct mote_posix_tcp tcp = {.fd = -1};
        connect_first(d, &tcp);
        mote_posix_close(&tcp); /* each later step opens its own, as a device reconnects */
    }
    if (d->tcp_ok && d->o.tls) {
        tls_steps(d);
        openssl_steps(d);
        if (!d->tls_ok && !d->tls_d.server_hello) {
            d->plain_probe_tried = 1;
            d->plain_is_mqtt = speaks_plain_mqtt(d);
        }
    } else if (d->tcp_ok) {
        struct mote_posix_tcp tcp = {.fd = -1};
        struct mote_error err;
        if (tcp_to(d, &tcp, &err) == MOTE_OK)
            mqtt_steps(d, &tcp, &tcp.transport, NULL);
        mote_posix_close(&tcp);
        if (!d->connect.ok) { /* a TLS port given as plain? */
            (void)cli_probe_tls(d->o.host, d->addr, d->o.port, 0, d->step_ms, &d->probe);
            d->tls_as_plain = d->probe.ok;
        }
    }
    if (d->o.tls)
        ram(d);
    verdict(d);
    if (d->json)
        print_json(d);
    else
        print_text(d);
    status = d->ok ? 0 : 1;
    cli_probe_free(&d->probe);
    cli_probe_free(&d->probe12);
    cli_trust_free(&d->trust);
    free(d);
    return status;

usage_error:
    free(d);
    return 2;
}
