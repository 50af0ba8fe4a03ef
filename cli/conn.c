/*
 * conn.c - the connection options, certificates and connection shared by `mote pub`, `mote sub`
 * and `mote doctor` (see conn.h). Not a subcommand: a helper of those three. The connection is
 * libmote's (lib/port/posix.c, lib/tls, lib/client), so every failure reads as the library
 * explains it; OpenSSL is used only to look at a server without trusting it (cli_probe_tls).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "conn.h"

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

/* see conn.h */
double cli_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* see conn.h */
void cli_json_string(FILE *f, const void *s, size_t len)
{
    const unsigned char *p = s;

    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = p[i];
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch == '\r')
            fputs("\\r", f);
        else if (ch == '\t')
            fputs("\\t", f);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* see conn.h */
void cli_base64(FILE *f, const uint8_t *d, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < len)
            v |= d[i + 2];
        fputc(b64[v >> 18 & 63], f);
        fputc(b64[v >> 12 & 63], f);
        fputc(i + 1 < len ? b64[v >> 6 & 63] : '=', f);
        fputc(i + 2 < len ? b64[v & 63] : '=', f);
    }
}

/* see conn.h */
int cli_is_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* see conn.h */
void cli_random(void *out, size_t len)
{
    uint8_t *p = out;

    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n <= 0) { /* cannot happen on Linux >= 3.17; client ids and topics only */
            for (size_t i = 0; i < len; i++)
                p[i] = (uint8_t)(rand() ^ getpid());
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

/* see conn.h */
int cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see `%s --help`)\n", prog);
    return 2;
}

/* Reads all of @p f. NULL with errno on failure. */
static uint8_t *read_stream(FILE *f, size_t *len)
{
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;

    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap ? cap * 2 : 8192);
            if (!nb) {
                free(buf);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap = cap ? cap * 2 : 8192;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        errno = e ? e : EIO;
        return NULL;
    }
    *len = n;
    return buf;
}

/* see conn.h */
uint8_t *cli_read_file(const char *path, size_t *len)
{
    FILE *f;
    uint8_t *data;
    int e;

    if (!strcmp(path, "-"))
        return read_stream(stdin, len);
    f = fopen(path, "rb");
    if (!f)
        return NULL;
    data = read_stream(f, len);
    e = errno;
    fclose(f);
    errno = e;
    return data;
}

/* ---------------------------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------------------------- */

const char cli_opts_help[] =
    "Connection:\n"
    "  -h HOST         the broker (default localhost)\n"
    "  -p PORT         its port (default 1883, or 8883 with TLS)\n"
    "  -L URL          mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC: all of it at once;\n"
    "                  mqtts:// means TLS\n"
    "  -i ID           client identifier (default mote-pub-<random> or mote-sub-<random>)\n"
    "  -u USER         user name\n"
    "  -P PASSWORD     password\n"
    "  -k SECONDS      keep alive (default 60; 0: off)\n"
    "  -V 311|5        MQTT version (default 311; also mqttv311, mqttv5)\n"
    "  -c              a persistent session (clean session / clean start off); needs -i\n"
    "  -x SECONDS      MQTT 5 session expiry interval\n"
    "  -d              print every packet and event on stderr\n"
    "  --will-topic TOPIC, --will-payload TEXT, --will-qos 0|1|2, --will-retain\n"
    "                  the will the broker publishes if the connection drops\n"
    "  -D connect|will PROPERTY VALUE\n"
    "                  an MQTT 5 property of CONNECT or of the will, by the spec's name in\n"
    "                  lower case with dashes: user-property KEY VALUE, content-type,\n"
    "                  will-delay-interval, session-expiry-interval, ...\n"
    "\n"
    "TLS (lib/tls: BearSSL, TLS 1.2, as a device does it):\n"
    "  --cafile FILE   the CA certificates (PEM) that must have signed the broker's; means TLS.\n"
    "                  mqtts:// without --cafile uses " CLI_DEFAULT_CAFILE "\n"
    "  --cert FILE     client certificate (PEM, leaf first) for mutual TLS, with --key\n"
    "  --key FILE      its private key (PEM or DER, EC or RSA, not encrypted)\n"
    "  --insecure      verify nothing: accept whatever key the broker shows (a warning says\n"
    "                  so); anyone on the path can then read and change the connection\n";

/* see conn.h */
void cli_opts_init(struct cli_opts *o, const char *prog)
{
    memset(o, 0, sizeof *o);
    o->prog = prog;
    o->host = "localhost";
    o->keepalive = 60;
    o->version = MOTE_V311;
    o->clean = 1;
    o->timeout_ms = 10000;
}

/* The value of option argv[*i]: the next argument, or what follows "=" in --name=value. */
static const char *opt_value(const char *prog, int argc, char **argv, int *i, const char *eq)
{
    if (eq)
        return eq;
    if (*i + 1 >= argc) {
        cli_usage_error(prog, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int parse_uint(const char *prog, const char *opt, const char *s, unsigned long max,
                      unsigned long *out)
{
    char *end;

    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return cli_usage_error(prog, "%s wants a number from 0 to %lu, not '%s'", opt, max, s);
    *out = v;
    return 0;
}

/* "Session Expiry Interval" -> "session-expiry-interval" equals @p name? */
static int prop_name_is(const char *spec, const char *name)
{
    for (; *spec && *name; spec++, name++) {
        char c = *spec == ' ' ? '-' : (char)(*spec >= 'A' && *spec <= 'Z' ? *spec + 32 : *spec);
        if (c != (*name >= 'A' && *name <= 'Z' ? *name + 32 : *name))
            return 0;
    }
    return *spec == 0 && *name == 0;
}

/* -D COMMAND PROPERTY VALUE [VALUE]. */
static int parse_property(struct cli_opts *o, int argc, char **argv, int *i,
                          struct cli_props *publish)
{
    const char *cmd, *name;
    struct cli_props *dst;
    uint8_t packet;
    const struct mote_prop_info *info = NULL;

    if (*i + 3 >= argc)
        return cli_usage_error(o->prog, "-D wants COMMAND PROPERTY VALUE, e.g. -D publish "
                                        "user-property KEY VALUE");
    cmd = argv[*i + 1];
    name = argv[*i + 2];
    if (!strcasecmp(cmd, "connect")) {
        dst = &o->connect_props, packet = MOTE_CONNECT;
    } else if (!strcasecmp(cmd, "will")) {
        dst = &o->will_props, packet = 0;
    } else if (!strcasecmp(cmd, "publish") && publish) {
        dst = publish, packet = MOTE_PUBLISH;
    } else {
        return cli_usage_error(o->prog, "-D %s: %s takes properties of %s", cmd, o->prog,
                               publish ? "connect, will or publish" : "connect or will");
    }
    for (unsigned id = 1; id < 0x80 && !info; id++) {
        const struct mote_prop_info *p = mote_prop_info((uint8_t)id);
        if (p && prop_name_is(p->name, name))
            info = p;
    }
    if (!info)
        return cli_usage_error(o->prog,
                               "-D %s %s: no such MQTT 5 property (names as in the "
                               "spec, lower case with dashes: user-property, "
                               "content-type, message-expiry-interval, ...)",
                               cmd, name);
    if (!(info->allowed & (packet ? MOTE_IN(packet) : MOTE_IN_WILL)))
        return cli_usage_error(o->prog, "-D %s %s: the spec does not allow %s in %s", cmd, name,
                               info->name, packet ? mote_packet_name(packet) : "a will");
    if (info->id == MOTE_PROP_TOPIC_ALIAS || info->id == MOTE_PROP_RECEIVE_MAXIMUM ||
        info->id == MOTE_PROP_MAXIMUM_PACKET_SIZE || info->id == MOTE_PROP_AUTH_METHOD ||
        info->id == MOTE_PROP_AUTH_DATA || info->id == MOTE_PROP_TOPIC_ALIAS_MAXIMUM ||
        info->id == MOTE_PROP_SUBSCRIPTION_ID)
        return cli_usage_error(o->prog,
                               "-D %s %s: libmote sets %s itself (or does not "
                               "support it)",
                               cmd, name, info->name);
    if (dst->count == CLI_MAX_PROPS)
        return cli_usage_error(o->prog, "at most %d properties per packet", CLI_MAX_PROPS);

    struct mote_prop *p = &dst->list[dst->count];
    const char *v = argv[*i + 3];
    p->id = info->id;
    switch (info->type) {
    case MOTE_PROP_PAIR:
        if (*i + 4 >= argc)
            return cli_usage_error(o->prog, "-D %s user-property wants KEY VALUE", cmd);
        p->v.pair.key = (struct mote_slice){(const uint8_t *)v, strlen(v)};
        p->v.pair.value = (struct mote_slice){(const uint8_t *)argv[*i + 4], strlen(argv[*i + 4])};
        *i += 4;
        break;
    case MOTE_PROP_STRING:
    case MOTE_PROP_BINARY:
        p->v.str = (struct mote_slice){(const uint8_t *)v, strlen(v)};
        *i += 3;
        break;
    default: {
        unsigned long n;
        unsigned long max = info->type == MOTE_PROP_BYTE     ? 255
                            : info->type == MOTE_PROP_U16    ? 65535
                            : info->type == MOTE_PROP_VARINT ? MOTE_VARINT_MAX
                                                             : 4294967295ul;
        if (parse_uint(o->prog, name, v, max, &n))
            return 2;
        p->v.num = (uint32_t)n;
        *i += 3;
        break;
    }
    }
    if (p->id == MOTE_PROP_SESSION_EXPIRY) { /* the client sends it from its configuration */
        o->session_expiry = p->v.num;
        return 1;
    }
    dst->count++;
    return 1;
}

/* see conn.h */
int cli_opts_url(struct cli_opts *o, const char *url)
{
    static char buf[1024];
    char *s, *at, *slash, *host, *port = NULL;

    if (!strncmp(url, "mqtts://", 8)) {
        o->tls = 1;
        url += 8;
    } else if (!strncmp(url, "mqtt://", 7)) {
        url += 7;
    } else {
        return cli_usage_error(o->prog, "'%s' is not an mqtt:// or mqtts:// URL", url);
    }
    if (strlen(url) >= sizeof buf)
        return cli_usage_error(o->prog, "the URL is too long");
    strcpy(buf, url);
    s = buf;
    slash = strchr(s, '/');
    if (slash) {
        *slash = 0;
        if (slash[1])
            o->url_topic = url + (slash + 1 - buf);
    }
    at = strrchr(s, '@');
    if (at) {
        char *colon;
        *at = 0;
        colon = strchr(s, ':');
        if (colon) {
            *colon = 0;
            o->password = colon + 1;
        }
        o->username = s;
        s = at + 1;
    }
    host = s;
    if (*s == '[') { /* [IPv6]:port */
        char *end = strchr(s, ']');
        if (!end)
            return cli_usage_error(o->prog, "'%s': no ']' after the IPv6 address", url);
        *end = 0;
        host = s + 1;
        if (end[1] == ':')
            port = end + 2;
        else if (end[1])
            return cli_usage_error(o->prog, "'%s': ':PORT' or '/' after ']'", url);
    } else {
        char *colon = strchr(s, ':');
        if (colon) {
            *colon = 0;
            port = colon + 1;
        }
    }
    if (!*host)
        return cli_usage_error(o->prog, "'%s' names no host", url);
    o->host = host;
    if (port) {
        unsigned long p;
        if (parse_uint(o->prog, "the URL's port", port, 65535, &p) || p == 0)
            return cli_usage_error(o->prog, "'%s': the port must be 1 to 65535", url);
        o->port = (unsigned)p;
    }
    return 0;
}

/* see conn.h */
int cli_opts_parse(struct cli_opts *o, int argc, char **argv, int *i, struct cli_props *publish)
{
    const char *arg = argv[*i], *eq = NULL, *v;
    char name[32];
    unsigned long n;

    if (!strncmp(arg, "--", 2) && strchr(arg, '=')) {
        size_t len = (size_t)(strchr(arg, '=') - arg);
        if (len >= sizeof name)
            return 0;
        memcpy(name, arg, len);
        name[len] = 0;
        eq = arg + len + 1;
        arg = name;
    }
#define IS(s) (!strcmp(arg, s))
#define VALUE()                                                                                    \
    do {                                                                                           \
        if (!(v = opt_value(o->prog, argc, argv, i, eq)))                                          \
            return 2;                                                                              \
    } while (0)
    if (IS("-h") || IS("--host")) {
        VALUE();
        o->host = v;
    } else if (IS("-p") || IS("--port")) {
        VALUE();
        if (parse_uint(o->prog, "-p", v, 65535, &n))
            return 2;
        if (n == 0)
            return cli_usage_error(o->prog, "-p wants a port from 1 to 65535");
        o->port = (unsigned)n;
    } else if (IS("-L") || IS("--url")) {
        VALUE();
        if (cli_opts_url(o, v))
            return 2;
    } else if (IS("-i") || IS("--id")) {
        VALUE();
        o->client_id = v;
    } else if (IS("-u") || IS("--username")) {
        VALUE();
        o->username = v;
    } else if (IS("-P") || IS("--pw")) {
        VALUE();
        o->password = v;
    } else if (IS("-k") || IS("--keepalive")) {
        VALUE();
        if (parse_uint(o->prog, "-k", v, 65535, &n))
            return 2;
        o->keepalive = (unsigned)n;
    } else if (IS("-V") || IS("--protocol-version")) {
        VALUE();
        if (!strcmp(v, "311") || !strcmp(v, "mqttv311") || !strcmp(v, "3.1.1"))
            o->version = MOTE_V311;
        else if (!strcmp(v, "5") || !strcmp(v, "mqttv5") || !strcmp(v, "5.0"))
            o->version = MOTE_V5;
        else
            return cli_usage_error(o->prog, "-V wants 311 or 5, not '%s'", v);
    } else if (IS("-c") || IS("--disable-clean-session")) {
        o->clean = 0;
    } else if (IS("-x") || IS("--session-expiry-interval")) {
        VALUE();
        if (parse_uint(o->prog, "-x", v, 4294967295ul, &n))
            return 2;
        o->session_expiry = (uint32_t)n;
    } else if (IS("-d") || IS("--debug")) {
        o->debug = 1;
    } else if (IS("--cafile")) {
        VALUE();
        o->cafile = v;
        o->tls = 1;
    } else if (IS("--cert")) {
        VALUE();
        o->cert = v;
        o->tls = 1;
    } else if (IS("--key")) {
        VALUE();
        o->key = v;
    } else if (IS("--insecure")) {
        o->insecure = 1;
        o->tls = 1;
    } else if (IS("--capath")) {
        return cli_usage_error(o->prog, "--capath is not supported: give the CA certificates "
                                        "in one PEM file with --cafile");
    } else if (IS("--will-topic")) {
        VALUE();
        o->will_topic = v;
    } else if (IS("--will-payload")) {
        VALUE();
        o->will_payload = v;
    } else if (IS("--will-qos")) {
        VALUE();
        if (parse_uint(o->prog, "--will-qos", v, 2, &n))
            return 2;
        o->will_qos = (unsigned)n;
    } else if (IS("--will-retain")) {
        o->will_retain = 1;
    } else if (IS("-D") || IS("--property")) {
        return parse_property(o, argc, argv, i, publish);
    } else {
        return 0;
    }
#undef IS
#undef VALUE
    return 1;
}

/* see conn.h */
int cli_opts_finish(struct cli_opts *o)
{
    if (!*o->host)
        return cli_usage_error(o->prog, "-h needs a host name");
    if (!o->port)
        o->port = o->tls ? 8883 : 1883;
    if ((o->cert == NULL) != (o->key == NULL))
        return cli_usage_error(o->prog, "--cert and --key go together");
    if (o->password && !o->username && o->version == MOTE_V311)
        return cli_usage_error(o->prog, "MQTT 3.1.1 has no password without a user name: add "
                                        "-u");
    if ((o->will_payload || o->will_qos || o->will_retain || o->will_props.count) && !o->will_topic)
        return cli_usage_error(o->prog, "the will needs --will-topic");
    if (o->version != MOTE_V5 &&
        (o->connect_props.count || o->will_props.count || o->session_expiry))
        return cli_usage_error(o->prog, "properties and -x are MQTT 5: add -V 5");
    if (!o->clean && (!o->client_id || !*o->client_id))
        return cli_usage_error(o->prog, "-c needs -i ID: a broker finds a persistent session "
                                        "again by its client id");
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Trust
 * ------------------------------------------------------------------------------------------- */

/* see conn.h */
int64_t cli_unix_time(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

/* The CN of @p name, or its whole text when it has none. */
static char *name_text(const X509_NAME *name)
{
    char buf[256];
    int n = X509_NAME_get_text_by_NID((X509_NAME *)name, NID_commonName, buf, sizeof buf);

    if (n < 0)
        X509_NAME_oneline(name, buf, sizeof buf);
    return strdup(buf);
}

/* The subjects of the CA certificates in @p path, for messages. */
static void load_ca_names(struct cli_trust *t, const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    X509 *x;
    size_t cap = 0;

    if (!b)
        return;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (t->ca_count == cap) {
            char **nn = realloc(t->ca_names, (cap ? cap * 2 : 8) * sizeof *nn);
            if (!nn) {
                X509_free(x);
                break;
            }
            t->ca_names = nn;
            cap = cap ? cap * 2 : 8;
        }
        t->ca_names[t->ca_count++] = name_text(X509_get_subject_name(x));
        X509_free(x);
    }
    ERR_clear_error();
    BIO_free(b);
}

/* Adds one trust anchor from a PEM certificate or DER. 0, or the library's error. */
static int add_anchor(struct cli_trust *t, const uint8_t *data, size_t len, int pem,
                      struct mote_error *err)
{
    size_t work_len = 1024;
    uint8_t *work = NULL;
    br_x509_trust_anchor ta;
    int rc;

    for (int attempt = 0; attempt < 2; attempt++) {
        free(work);
        work = malloc(work_len);
        if (!work)
            return MOTE_ERR_BUFFER_TOO_SMALL;
        rc = pem ? mote_tls_anchor_from_pem(data, len, work, work_len, &ta, err)
                 : mote_tls_anchor_from_der(data, len, work, work_len, &ta, err);
        if (rc != MOTE_ERR_BUFFER_TOO_SMALL)
            break;
        work_len = err->need;
    }
    if (rc != MOTE_OK) {
        free(work);
        return rc;
    }
    br_x509_trust_anchor *na = realloc(t->anchors, (t->anchor_count + 1) * sizeof *na);
    uint8_t **nw = realloc(t->anchor_work, (t->anchor_count + 1) * sizeof *nw);
    if (na)
        t->anchors = na;
    if (nw)
        t->anchor_work = nw;
    if (!na || !nw) {
        free(work);
        return MOTE_ERR_BUFFER_TOO_SMALL;
    }
    t->anchors[t->anchor_count] = ta;
    t->anchor_work[t->anchor_count++] = work;
    return MOTE_OK;
}

/* The PEM objects of @p data labelled @p label: calls @p fn on each (text from BEGIN to END). */
static size_t each_pem(const uint8_t *data, size_t len, const char *label,
                       int (*fn)(void *ctx, const uint8_t *pem, size_t len), void *ctx)
{
    char begin[64], end[64];
    const char *p = (const char *)data, *stop = p + len;
    size_t count = 0;

    snprintf(begin, sizeof begin, "-----BEGIN %s-----", label);
    snprintf(end, sizeof end, "-----END %s-----", label);
    while (p < stop) {
        const char *b = memmem(p, (size_t)(stop - p), begin, strlen(begin));
        const char *e;
        if (!b)
            break;
        e = memmem(b, (size_t)(stop - b), end, strlen(end));
        if (!e)
            break;
        e += strlen(end);
        count++;
        if (fn(ctx, (const uint8_t *)b, (size_t)(e - b)) != 0)
            break;
        p = e;
    }
    return count;
}

struct anchor_ctx {
    struct cli_trust *t;
    struct mote_error first_err;
    int failed;
};

static int anchor_cb(void *ctx, const uint8_t *pem, size_t len)
{
    struct anchor_ctx *a = ctx;
    struct mote_error err;

    if (add_anchor(a->t, pem, len, 1, &err) != MOTE_OK && !a->failed++)
        a->first_err = err;
    return 0;
}

static int chain_cb(void *ctx, const uint8_t *pem, size_t len)
{
    struct cli_trust *t = ctx;
    struct mote_error err;
    size_t der_len = 0;
    uint8_t *der = malloc(len); /* DER is shorter than its base64 */
    br_x509_certificate *nc;

    if (!der)
        return 1;
    if (mote_tls_pem_to_der(pem, len, der, len, &der_len, &err) != MOTE_OK) {
        free(der);
        return 1;
    }
    nc = realloc(t->chain, (t->chain_len + 1) * sizeof *nc);
    if (!nc) {
        free(der);
        return 1;
    }
    t->chain = nc;
    t->chain[t->chain_len].data = der;
    t->chain[t->chain_len++].data_len = der_len;
    return 0;
}

static int failf(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return 1;
}

static int load_key(struct cli_trust *t, const char *path, char *err, size_t len)
{
    size_t n = 0, der_len = 0;
    uint8_t *data = cli_read_file(path, &n), *der = NULL;
    const char *begin;
    struct mote_error e;

    if (!data)
        return failf(err, len, "--key %s: %s", path, strerror(errno));
    begin = memmem(data, n, "-----BEGIN ", 11);
    if (begin) {
        /* `openssl ecparam -genkey` writes EC PARAMETERS first: take the private key. */
        const char *k = memmem(data, n, "PRIVATE KEY-----", 16);
        if (memmem(data, n, "ENCRYPTED PRIVATE KEY", 21)) {
            explicit_bzero(data, n);
            free(data);
            return failf(err, len,
                         "--key %s: the key is encrypted: decrypt it first (openssl "
                         "pkey -in %s -out plain.key)",
                         path, path);
        }
        if (!k) {
            explicit_bzero(data, n);
            free(data);
            return failf(err, len, "--key %s: no PRIVATE KEY in this PEM file", path);
        }
        while (k > (const char *)data && memcmp(k, "-----BEGIN", 10))
            k--;
        der = malloc(n);
        if (!der || mote_tls_pem_to_der((const uint8_t *)k, n - (size_t)(k - (char *)data), der, n,
                                        &der_len, &e) != MOTE_OK) {
            free(der);
            explicit_bzero(data, n);
            free(data);
            return failf(err, len, "--key %s: not a readable PEM private key", path);
        }
        explicit_bzero(data, n);
        free(data);
    } else {
        der = data;
        der_len = n;
    }
    t->skey = calloc(1, sizeof *t->skey);
    if (!t->skey) {
        free(der);
        return failf(err, len, "out of memory");
    }
    br_skey_decoder_init(t->skey);
    br_skey_decoder_push(t->skey, der, der_len);
    explicit_bzero(der, der_len); /* the decoder keeps its own copy of the key */
    free(der);
    if (br_skey_decoder_last_error(t->skey) != 0 || br_skey_decoder_key_type(t->skey) == 0)
        return failf(err, len,
                     "--key %s: BearSSL cannot read this key (%s %d): give an EC or "
                     "RSA key, PKCS#8 or traditional, PEM or DER",
                     path, mote_tls_bearssl_name(br_skey_decoder_last_error(t->skey)),
                     br_skey_decoder_last_error(t->skey));
    return 0;
}

/* see conn.h */
int cli_trust_load(struct cli_trust *t, const struct cli_opts *o, char *err, size_t len)
{
    const char *cafile = o->cafile ? o->cafile : CLI_DEFAULT_CAFILE;
    size_t n = 0;
    uint8_t *data;

    memset(t, 0, sizeof *t);
    t->cafile = cafile;
    if (!o->insecure) {
        struct anchor_ctx a = {.t = t};
        char line[600];

        data = cli_read_file(cafile, &n);
        if (!data)
            return failf(err, len, "--cafile %s: %s%s", cafile, strerror(errno),
                         o->cafile ? "" : " (mqtts:// without --cafile uses the system's CAs)");
        if (memmem(data, n, "-----BEGIN", 10)) {
            each_pem(data, n, "CERTIFICATE", anchor_cb, &a);
            load_ca_names(t, cafile);
        } else if (add_anchor(t, data, n, 0, &a.first_err) != MOTE_OK) {
            a.failed = 1;
        }
        free(data);
        if (t->anchor_count == 0) {
            if (!a.failed)
                return failf(err, len, "--cafile %s holds no CERTIFICATE", cafile);
            return failf(err, len, "--cafile %s: %s", cafile,
                         mote_error_explain(&a.first_err, line, sizeof line));
        }
    }
    if (o->cert) {
        data = cli_read_file(o->cert, &n);
        if (!data)
            return failf(err, len, "--cert %s: %s", o->cert, strerror(errno));
        each_pem(data, n, "CERTIFICATE", chain_cb, t);
        free(data);
        if (t->chain_len == 0)
            return failf(err, len, "--cert %s holds no PEM CERTIFICATE", o->cert);
        if (load_key(t, o->key, err, len))
            return 1;
    }
    return 0;
}

/* see conn.h */
int cli_trust_pin_server(struct cli_trust *t, const struct cli_opts *o, char *err, size_t len)
{
    struct cli_probe p;
    struct mote_error e;
    unsigned char *der = NULL;
    int n;

    if (cli_probe_tls(o->host, NULL, o->port, 0, o->timeout_ms, &p) != 0) {
        failf(err, len, "--insecure: could not read the broker's key: %s", p.error);
        cli_probe_free(&p);
        return 1;
    }
    n = i2d_PUBKEY(X509_get0_pubkey(sk_X509_value(p.chain, 0)), &der);
    cli_probe_free(&p);
    if (n <= 0)
        return failf(err, len, "--insecure: the broker's certificate holds no readable key");
    t->pin_der = malloc((size_t)n);
    if (!t->pin_der) {
        OPENSSL_free(der);
        return failf(err, len, "out of memory");
    }
    memcpy(t->pin_der, der, (size_t)n);
    OPENSSL_free(der);
    if (mote_tls_pin_from_der(t->pin_der, (size_t)n, &t->pin, &e) != MOTE_OK) {
        char line[600];
        return failf(err, len, "--insecure: %s", mote_tls_explain(&e, line, sizeof line));
    }
    t->pinned = 1;
    return 0;
}

/* see conn.h */
void cli_trust_config(const struct cli_trust *t, const char *host, int skip_host_check,
                      struct mote_tls_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = host;
    cfg->skip_host_check = (uint8_t)skip_host_check;
    if (t->pinned) {
        cfg->pin = &t->pin;
    } else {
        cfg->anchors = t->anchors;
        cfg->anchor_count = t->anchor_count;
    }
    cfg->unix_time = cli_unix_time;
    if (t->chain_len) {
        cfg->client_chain = t->chain;
        cfg->client_chain_len = t->chain_len;
        if (br_skey_decoder_key_type(t->skey) == BR_KEYTYPE_EC)
            cfg->client_ec_key = br_skey_decoder_get_ec(t->skey);
        else
            cfg->client_rsa_key = br_skey_decoder_get_rsa(t->skey);
    }
}

/* see conn.h */
void cli_trust_free(struct cli_trust *t)
{
    for (size_t i = 0; i < t->anchor_count; i++)
        free(t->anchor_work[i]);
    free(t->anchor_work);
    free(t->anchors);
    for (size_t i = 0; i < t->ca_count; i++)
        free(t->ca_names[i]);
    free(t->ca_names);
    for (size_t i = 0; i < t->chain_len; i++)
        free(t->chain[i].data);
    free(t->chain);
    if (t->skey)
        explicit_bzero(t->skey, sizeof *t->skey);
    free(t->skey);
    free(t->pin_der);
    memset(t, 0, sizeof *t);
}

/* see conn.h */
int cli_tls_handshake(struct mote_tls *t, int fd, uint32_t timeout_ms)
{
    double start = cli_now_ms();

    for (;;) {
        int rc = mote_tls_handshake(t);
        double left = timeout_ms - (cli_now_ms() - start);
        struct pollfd p = {.fd = fd, .events = POLLIN};

        if (rc != MOTE_NEED_MORE)
            return rc;
        if (left <= 0)
            return MOTE_NEED_MORE;
        /* Readable, or 50 ms: a handshake that waits to write is rare and short. */
        (void)poll(&p, 1, left < 50 ? (int)left + 1 : 50);
    }
}

/* see conn.h */
char *cli_tls_explain(const struct mote_tls *t, char *buf, size_t len)
{
    size_t n;

    snprintf(buf, len, "tls: ");
    n = strlen(buf);
    mote_tls_explain_detail(t, buf + n, len - n);
    return buf;
}

/* see conn.h */
const char *cli_tls_version_name(unsigned v, char buf[16])
{
    if (v >= 0x0301 && v <= 0x0304)
        snprintf(buf, 16, "TLS 1.%u", v - 0x0301);
    else if (v == 0x0300)
        snprintf(buf, 16, "SSL 3.0");
    else
        snprintf(buf, 16, "0x%04x", v);
    return buf;
}

/* see conn.h */
const char *cli_tls_suite_name(unsigned suite, char buf[16])
{
    static const struct {
        unsigned id;
        const char *name;
    } names[] = {
        {BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
         "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
        {BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
         "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
        {BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
        {BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
        {BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
        {BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
        {BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
        {BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
        {BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
        {BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].id == suite)
            return names[i].name;
    snprintf(buf, 16, "0x%04x", suite);
    return buf;
}

/* ---------------------------------------------------------------------------------------------
 * The OpenSSL probe
 * ------------------------------------------------------------------------------------------- */

/* The reason of the last OpenSSL error (or @p fallback), and the queue cleared. */
static const char *ssl_reason(const char *fallback)
{
    static char buf[160];
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    snprintf(buf, sizeof buf, "%s", r ? r : fallback);
    return buf;
}

/* see conn.h */
int cli_probe_tls(const char *host, const char *addr, unsigned port, int tls12_only,
                  uint32_t timeout_ms, struct cli_probe *p)
{
    struct mote_posix_tcp tcp;
    struct mote_error err;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    double start = cli_now_ms();
    int rc = 1;

    memset(p, 0, sizeof *p);
    if (mote_posix_connect(addr ? addr : host, (uint16_t)port, timeout_ms, &tcp, &err) != MOTE_OK) {
        char line[400];
        snprintf(p->error, sizeof p->error, "%s", mote_error_explain(&err, line, sizeof line));
        return 1;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        goto out;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (tls12_only) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
    }
    ssl = SSL_new(ctx);
    if (!ssl || !SSL_set_fd(ssl, tcp.fd))
        goto out;
    if (!cli_is_ip(host))
        SSL_set_tlsext_host_name(ssl, host);
    for (;;) { /* the socket is non-blocking: wait for what OpenSSL wants */
        int r = SSL_connect(ssl), e;
        struct pollfd pf = {.fd = tcp.fd};
        double left = timeout_ms - (cli_now_ms() - start);

        if (r == 1)
            break;
        e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ)
            pf.events = POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE)
            pf.events = POLLOUT;
        else {
            unsigned long le = ERR_peek_last_error();
            if (e == SSL_ERROR_SYSCALL && !le)
                snprintf(p->error, sizeof p->error,
                         "the server closed the connection during "
                         "the handshake");
            else
                snprintf(p->error, sizeof p->error, "%s", ssl_reason("handshake failed"));
            goto out;
        }
        if (left <= 0) {
            snprintf(p->error, sizeof p->error, "no answer within %u ms", timeout_ms);
            goto out;
        }
        (void)poll(&pf, 1, (int)left + 1);
    }
    p->ms = cli_now_ms() - start;
    snprintf(p->version, sizeof p->version, "%s", SSL_get_version(ssl));
    {
        const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
        const char *name = c ? SSL_CIPHER_standard_name(c) : NULL;
        snprintf(p->cipher, sizeof p->cipher, "%s", name ? name : c ? SSL_CIPHER_get_name(c) : "");
    }
    {
        STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
        if (!chain || sk_X509_num(chain) == 0) {
            snprintf(p->error, sizeof p->error, "the server sent no certificate");
            goto out;
        }
        p->chain = sk_X509_new_null();
        for (int i = 0; p->chain && i < sk_X509_num(chain); i++) {
            X509 *x = sk_X509_value(chain, i);
            X509_up_ref(x);
            sk_X509_push(p->chain, x);
        }
    }
    p->ok = 1;
    rc = 0;
    (void)SSL_shutdown(ssl);
out:
    if (rc && !p->error[0])
        snprintf(p->error, sizeof p->error, "%s", ssl_reason("OpenSSL failed"));
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    mote_posix_close(&tcp);
    return rc;
}

/* see conn.h */
void cli_probe_free(struct cli_probe *p)
{
    if (p->chain)
        sk_X509_pop_free(p->chain, X509_free);
    p->chain = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * -d: a transport between the client and the wire that names each packet as it passes
 * ------------------------------------------------------------------------------------------- */

struct framer {
    uint8_t hdr[5];
    uint8_t have;
    uint8_t broken;
    uint32_t left; /* bytes of the current packet's body still to pass */
};

struct cli_debug {
    struct mote_transport self; /* what the client is given */
    struct mote_transport inner;
    const char *prog;
    struct framer in, out;
};

static void frame_bytes(struct cli_debug *d, struct framer *f, const char *dir, const uint8_t *b,
                        size_t n)
{
    while (n > 0 && !f->broken) {
        if (f->left) {
            size_t k = n < f->left ? n : f->left;
            f->left -= (uint32_t)k;
            b += k;
            n -= k;
            continue;
        }
        f->hdr[f->have++] = *b++;
        n--;
        if (f->have < 2 || (f->hdr[f->have - 1] & 0x80)) {
            if (f->have == 5) {
                fprintf(stderr, "%s: %s a malformed length: stopped naming packets\n", d->prog,
                        dir);
                f->broken = 1;
            }
            continue;
        }
        uint32_t len = 0;
        for (int i = f->have - 1; i >= 1; i--)
            len = len << 7 | (f->hdr[i] & 0x7f);
        fprintf(stderr, "%s: %s %s (%u bytes)\n", d->prog, dir, mote_packet_name(f->hdr[0] >> 4),
                (unsigned)(f->have + len));
        f->left = len;
        f->have = 0;
    }
}

static int32_t debug_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct cli_debug *d = ctx;
    int32_t r = d->inner.send(d->inner.ctx, buf, len);

    if (r > 0)
        frame_bytes(d, &d->out, "sent", buf, (size_t)r);
    return r;
}

static int32_t debug_recv(void *ctx, uint8_t *buf, size_t len)
{
    struct cli_debug *d = ctx;
    int32_t r = d->inner.recv(d->inner.ctx, buf, len);

    if (r > 0)
        frame_bytes(d, &d->in, "received", buf, (size_t)r);
    return r;
}

/* see conn.h */
void cli_debug_event(const struct cli_opts *o, const struct mote_event *e)
{
    if (!o->debug)
        return;
    switch (e->type) {
    case MOTE_EV_CONNECTED:
        fprintf(stderr, "%s: connected (session present: %u)\n", o->prog, e->session_present);
        break;
    case MOTE_EV_PUBLISHED:
        if (o->version == MOTE_V5)
            fprintf(stderr, "%s: message %u acknowledged: %s (0x%02x)\n", o->prog, e->packet_id,
                    mote_reason_name(o->version, MOTE_PUBACK, e->reason), e->reason);
        else
            fprintf(stderr, "%s: message %u acknowledged\n", o->prog, e->packet_id);
        break;
    case MOTE_EV_SUBSCRIBED:
        for (size_t i = 0; i < e->count; i++)
            fprintf(stderr, "%s: subscription %zu: %s (0x%02x)\n", o->prog, i + 1,
                    mote_reason_name(o->version, MOTE_SUBACK, e->codes[i]), e->codes[i]);
        break;
    case MOTE_EV_DISCONNECTED:
        fprintf(stderr, "%s: disconnected\n", o->prog);
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------------------------------------
 * The connection
 * ------------------------------------------------------------------------------------------- */

/* see conn.h */
const char *cli_explain(struct cli_conn *c, const struct mote_error *e)
{
    if (c->tls && e->code <= MOTE_ERR_TLS_UNTRUSTED && e->code >= MOTE_ERR_TLS_OTHER)
        return cli_tls_explain(c->tls, c->error, sizeof c->error);
    return mote_error_explain(e, c->error, sizeof c->error);
}

static void free_conn(struct cli_conn *c)
{
    mote_posix_close(&c->tcp);
    cli_trust_free(&c->trust);
    free(c->tls);
    free(c->iobuf);
    free(c->dbg);
    free(c->rx);
    free(c->tx);
    free(c->store);
    free(c->slots);
    c->tls = NULL;
    c->iobuf = NULL;
    c->dbg = NULL;
    c->rx = c->tx = c->store = NULL;
    c->slots = NULL;
}

static int conn_fail(struct cli_conn *c, const char *msg)
{
    fprintf(stderr, "%s: %s\n", c->o->prog, msg);
    free_conn(c);
    return 1;
}

/* Bytes the CONNECT of this configuration takes, so that tx can hold it. */
static size_t connect_size(const struct mote_client_config *cfg)
{
    struct mote_packet p = {.type = MOTE_CONNECT};
    size_t size = 0;

    p.u.connect.version = cfg->version;
    p.u.connect.clean_start = cfg->clean_start;
    p.u.connect.client_id = cfg->client_id;
    p.u.connect.props = cfg->connect_props;
    if (cfg->will) {
        p.u.connect.will = 1;
        p.u.connect.will_qos = cfg->will->qos;
        p.u.connect.will_retain = cfg->will->retain;
        p.u.connect.will_topic = cfg->will->topic;
        p.u.connect.will_payload = cfg->will->payload;
        p.u.connect.will_props = cfg->will->props;
    }
    p.u.connect.has_username = cfg->has_username;
    p.u.connect.has_password = cfg->has_password;
    p.u.connect.username = cfg->username;
    p.u.connect.password = cfg->password;
    if (mote_codec_size(&p, cfg->version, &size) != MOTE_OK)
        return 0;     /* mote_client_init() says what is wrong with it */
    return size + 32; /* the client adds its own 5.0 properties */
}

static struct mote_slice slice(const char *s)
{
    return (struct mote_slice){(const uint8_t *)s, s ? strlen(s) : 0};
}

static int not_connecting(void *ctx);

/* see conn.h */
int cli_connect(struct cli_conn *c, const struct cli_opts *o, const struct cli_mem *mem,
                const struct mote_client_callbacks *cb)
{
    struct mote_error err;
    struct mote_client_mem m;
    char line[1200];
    int rc;

    memset(c, 0, sizeof *c);
    c->o = o;
    c->tcp.fd = -1;

    /* What the device would be given: certificates first, so a bad file fails before the network.
     */
    if (o->tls && cli_trust_load(&c->trust, o, line, sizeof line))
        return conn_fail(c, line);

    /* The MQTT configuration: mote_client_init() checks it before anything is sent. */
    if (o->client_id) {
        c->cfg.client_id = slice(o->client_id);
    } else {
        uint8_t r[4];
        cli_random(r, sizeof r);
        snprintf(c->client_id, sizeof c->client_id, "mote-%s-%02x%02x%02x%02x",
                 strchr(o->prog, ' ') ? strchr(o->prog, ' ') + 1 : o->prog, r[0], r[1], r[2], r[3]);
        c->cfg.client_id = slice(c->client_id);
    }
    c->cfg.version = o->version;
    c->cfg.keep_alive_s = (uint16_t)o->keepalive;
    c->cfg.clean_start = (uint8_t)o->clean;
    c->cfg.session_expiry_s = o->session_expiry;
    if (o->username) {
        c->cfg.has_username = 1;
        c->cfg.username = slice(o->username);
    }
    if (o->password) {
        c->cfg.has_password = 1;
        c->cfg.password = slice(o->password);
    }
    if (o->will_topic) {
        c->will.topic = slice(o->will_topic);
        c->will.payload = slice(o->will_payload ? o->will_payload : "");
        c->will.qos = (uint8_t)o->will_qos;
        c->will.retain = (uint8_t)o->will_retain;
        c->will.props.list = o->will_props.list;
        c->will.props.count = o->will_props.count;
        c->cfg.will = &c->will;
    }
    c->cfg.connect_props.list = o->connect_props.list;
    c->cfg.connect_props.count = o->connect_props.count;
    c->cfg.connack_timeout_ms = o->timeout_ms;

    m.rx_len = mem->rx;
    m.tx_len = mem->tx;
    if (connect_size(&c->cfg) > m.tx_len)
        m.tx_len = connect_size(&c->cfg);
    m.store_len = mem->store;
    m.slot_count = mem->slots;
    c->rx = m.rx = malloc(m.rx_len);
    c->tx = m.tx = malloc(m.tx_len);
    c->store = m.store = malloc(m.store_len ? m.store_len : 1);
    c->slots = m.slots = calloc(m.slot_count, sizeof *m.slots);
    if (!m.rx || !m.tx || !m.store || !m.slots)
        return conn_fail(c, "out of memory");
    if (mote_client_init(&c->client, &c->cfg, &m, cb) != MOTE_OK)
        return conn_fail(c, cli_explain(c, mote_client_error(&c->client)));

    if (o->tls && o->insecure) {
        if (cli_trust_pin_server(&c->trust, o, line, sizeof line))
            return conn_fail(c, line);
        fprintf(stderr,
                "%s: warning: --insecure: the broker's certificate is not verified "
                "(not its CA, name or dates); anyone on the path can read and change "
                "this connection\n",
                o->prog);
    }

    /* DNS and TCP: the POSIX port. */
    rc = mote_posix_connect(o->host, (uint16_t)o->port, o->timeout_ms, &c->tcp, &err);
    if (rc != MOTE_OK)
        return conn_fail(c, cli_explain(c, &err));
    c->mqtt_t = &c->tcp.transport;

    /* TLS: lib/tls, as the device runs it, with room for full-size records both ways. */
    if (o->tls) {
        struct mote_tls_config cfg;

        c->tls = calloc(1, sizeof *c->tls);
        c->iobuf = malloc(BR_SSL_BUFSIZE_BIDI);
        if (!c->tls || !c->iobuf)
            return conn_fail(c, "out of memory");
        cli_trust_config(&c->trust, o->host, 0, &cfg);
        cfg.bidi = 1;
        if (mote_tls_init(c->tls, &cfg, c->iobuf, BR_SSL_BUFSIZE_BIDI, &err) != MOTE_OK)
            return conn_fail(c, cli_explain(c, &err));
        if (mote_tls_transport(c->tls, &c->tcp.transport, &c->secure) != MOTE_OK)
            return conn_fail(c, cli_tls_explain(c->tls, line, sizeof line));
        rc = cli_tls_handshake(c->tls, c->tcp.fd, o->timeout_ms);
        if (rc == MOTE_NEED_MORE) {
            snprintf(line, sizeof line,
                     "tls: the broker did not finish the handshake within %u "
                     "ms%s: check that %s:%u speaks TLS",
                     o->timeout_ms,
                     mote_tls_detail(c->tls)->server_hello ? " (it sent its hello)" : "", o->host,
                     o->port);
            return conn_fail(c, line);
        }
        if (rc != MOTE_OK)
            return conn_fail(c, cli_tls_explain(c->tls, line, sizeof line));
        if (o->debug) {
            const struct mote_tls_detail *d = mote_tls_detail(c->tls);
            char v[16], s[16];
            fprintf(stderr, "%s: TLS: %s, %s, server certificate CN \"%s\" issued by \"%s\"%s\n",
                    o->prog, cli_tls_version_name(d->version, v),
                    cli_tls_suite_name(d->cipher_suite, s), d->subject_cn, d->issuer_cn,
                    d->resumed ? ", resumed" : "");
        }
        c->mqtt_t = &c->secure;
    }
    if (o->debug) {
        c->dbg = calloc(1, sizeof *c->dbg);
        if (!c->dbg)
            return conn_fail(c, "out of memory");
        c->dbg->inner = *c->mqtt_t;
        c->dbg->prog = o->prog;
        c->dbg->self = (struct mote_transport){c->dbg, debug_send, debug_recv};
        c->mqtt_t = &c->dbg->self;
    }

    /* MQTT: CONNECT, and steps until the CONNACK (connack_timeout_ms bounds it). */
    rc = mote_client_connect(&c->client, c->mqtt_t, mote_posix_now_ms());
    if (rc == MOTE_OK) /* the client's connack_timeout_ms ends the wait */
        rc = cli_drive(&c->client, &c->tcp, UINT32_MAX / 2, not_connecting, &c->client);
    if (rc != MOTE_OK || mote_client_state(&c->client) != MOTE_STATE_CONNECTED)
        return conn_fail(c, cli_explain(c, mote_client_error(&c->client)));
    return 0;
}

/* see conn.h */
int cli_flag_set(void *ctx)
{
    return *(const int *)ctx != 0;
}

static int not_connecting(void *ctx)
{
    return mote_client_state(ctx) != MOTE_STATE_CONNECTING;
}

/* see conn.h */
int cli_drive(struct mote_client *client, struct mote_posix_tcp *tcp, uint32_t max_ms,
              int (*done)(void *ctx), void *ctx)
{
    double start = cli_now_ms();

    for (;;) {
        uint32_t wait;
        double left;
        struct pollfd p = {.fd = tcp->fd};
        int rc = mote_client_poll(client, mote_posix_now_ms(), &wait);

        if (rc < 0)
            return rc;
        if (done && done(ctx))
            return MOTE_OK;
        left = max_ms - (cli_now_ms() - start);
        if (left <= 0)
            return MOTE_NEED_MORE;
        if (wait > left)
            wait = (uint32_t)left + 1;
        p.events = (short)(POLLIN | (mote_client_wants_write(client) ? POLLOUT : 0));
        if (poll(&p, 1, (int)(wait > 1000 ? 1000 : wait)) < 0 && errno != EINTR)
            return MOTE_ERR_IO;
    }
}

/* see conn.h */
int cli_run(struct cli_conn *c, uint32_t max_ms, int (*done)(void *ctx), void *ctx)
{
    int rc = cli_drive(&c->client, &c->tcp, max_ms, done, ctx);

    if (rc < 0)
        cli_explain(c, mote_client_error(&c->client));
    return rc;
}

static int written(void *ctx)
{
    return !mote_client_wants_write(ctx);
}

/* see conn.h */
void cli_flush(struct cli_conn *c, uint32_t max_ms)
{
    if (mote_client_state(&c->client) == MOTE_STATE_CONNECTED)
        (void)cli_drive(&c->client, &c->tcp, max_ms, written, &c->client);
}

/* see conn.h */
void cli_close(struct cli_conn *c)
{
    int state = mote_client_state(&c->client);

    if (state == MOTE_STATE_CONNECTED || state == MOTE_STATE_CONNECTING)
        (void)mote_client_disconnect(&c->client, mote_posix_now_ms());
    if (c->tls)
        mote_tls_close(c->tls);
    if (c->tcp.fd >= 0) {
        /* Wait (briefly) for the broker to close first: closing with its bytes unread would
         * reset the connection, and a reset can discard what we sent last. */
        double start = cli_now_ms();
        uint8_t sink[512];

        shutdown(c->tcp.fd, SHUT_WR);
        while (cli_now_ms() - start < 1000) {
            struct pollfd p = {.fd = c->tcp.fd, .events = POLLIN};
            if (poll(&p, 1, 100) > 0 && recv(c->tcp.fd, sink, sizeof sink, 0) <= 0)
                break;
        }
    }
    free_conn(c);
}
