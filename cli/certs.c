/*
 * certs.c - `mote certs`: a private CA, a broker certificate and device certificates sized for
 * small devices (ECDSA P-256, a one-certificate chain of about 440 bytes), and a C header that
 * carries the CA as a BearSSL trust anchor so a device never parses PEM. OpenSSL 3's C API only;
 * docs/certs.md says what is made and why.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli.h"

#define DEFAULT_DIR "mote-certs"
#define CA_DAYS 3652     /* ten years */
#define SERVER_DAYS 825  /* the longest validity Apple's TLS clients accept from a private CA */
#define DEVICE_DAYS 3652 /* a device in a wall is hard to reach: as long as the CA, at most */
#define MAX_DAYS 36525
#define MAX_NAMES 32
#define MAX_ANCHORS 16
#define CLOCK_SKEW 3600 /* notBefore is backdated by this much, for devices whose clock lags */

/* ---- Errors: one line, what failed and what to do ---------------------------------------- */

/* The reason of the last OpenSSL error, or NULL; clears the queue. */
static const char *openssl_reason(void)
{
    static char buf[160];
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    if (!r)
        return NULL;
    snprintf(buf, sizeof buf, "%s", r);
    return buf;
}

/* Prints "mote certs: MESSAGE" on stderr, with OpenSSL's reason when it has one; returns 1. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    const char *reason = openssl_reason();
    fputs("mote certs: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (reason)
        fprintf(stderr, " (OpenSSL: %s)", reason);
    fputc('\n', stderr);
    return 1;
}

/* ---- Options ----------------------------------------------------------------------------- */

enum {
    O_DIR = 1 << 0,
    O_HOST = 1 << 1,
    O_IP = 1 << 2,
    O_RSA = 1 << 3,
    O_DAYS = 1 << 4,
    O_CA_DAYS = 1 << 5,
    O_FORCE = 1 << 6,
    O_OUT = 1 << 7,
    O_CERT = 1 << 8,
    O_NEW_KEY = 1 << 9,
    O_DEVICE = 1 << 10,
    O_PIN = 1 << 11,
};

struct option_def {
    const char *name;  /* long form */
    const char *alias; /* short form, or NULL */
    unsigned bit;
    bool has_value;
};

static const struct option_def option_defs[] = {
    {"--dir", NULL, O_DIR, true},       {"--host", NULL, O_HOST, true},
    {"--ip", NULL, O_IP, true},         {"--rsa", NULL, O_RSA, true},
    {"--days", NULL, O_DAYS, true},     {"--ca-days", NULL, O_CA_DAYS, true},
    {"--force", "-f", O_FORCE, false},  {"--output", "-o", O_OUT, true},
    {"--cert", NULL, O_CERT, true},     {"--new-key", NULL, O_NEW_KEY, false},
    {"--device", NULL, O_DEVICE, true}, {"--pin", NULL, O_PIN, true},
};

struct opts {
    const char *sub;
    const char *dir;
    const char *hosts[MAX_NAMES];
    int nhosts;
    const char *ips[MAX_NAMES];
    int nips;
    int rsa_bits; /* 0: ECDSA P-256 */
    long days;    /* 0: the default of the subcommand */
    long ca_days;
    bool force;
    bool new_key;
    const char *out;
    const char *cert;
    const char *device;
    const char *pin;
    const char *name; /* device: NAME; embed: the certificate file */
};

/* Usage error: "mote certs SUB: MESSAGE (see ...)"; returns 2. */
static int usage_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *sub, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mote certs%s%s: ", sub ? " " : "", sub ? sub : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see `mote certs%s%s --help`)\n", sub ? " " : "", sub ? sub : "");
    return 2;
}

static int parse_number(const char *sub, const char *opt, const char *s, long min, long max,
                        long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return usage_error(sub, "%s wants a number from %ld to %ld, not '%s'", opt, min, max, s);
    *out = v;
    return 0;
}

/* A DNS name a certificate may carry: letters, digits, '-' and '.', labels of 1..63 bytes, and
 * "*." in front for a wildcard (BearSSL and OpenSSL match it against one label). */
static bool valid_dns_name(const char *s)
{
    size_t len = strlen(s), label = 0;
    if (!strncmp(s, "*.", 2))
        s += 2, len -= 2;
    if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (; *s; s++) {
        if (*s == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                   (*s >= '0' && *s <= '9') || *s == '-') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return true;
}

static bool is_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Device names become file names and the certificate's CN. */
static bool valid_device_name(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 64 || s[0] == '.' || s[0] == '-')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

enum positional { NO_ARG, NEEDS_ARG, MAY_HAVE_ARG };

/* Parses argv[1..] for the subcommand `sub`, which accepts the options in `allowed` and, as
 * `positional` says, one more argument (o->name). Returns 0, 2 on a usage error, or -1 for --help.
 */
static int parse_options(int argc, char **argv, const char *sub, unsigned allowed,
                         enum positional positional, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
            return -1;
        if (arg[0] != '-' || !arg[1]) {
            if (positional == NO_ARG || o->name)
                return usage_error(sub, "unexpected argument '%s'", arg);
            o->name = arg;
            continue;
        }
        const struct option_def *d = NULL;
        const char *value = NULL;
        for (size_t k = 0; k < sizeof option_defs / sizeof option_defs[0] && !d; k++) {
            size_t n = strlen(option_defs[k].name);
            if (!strcmp(arg, option_defs[k].name) ||
                (option_defs[k].alias && !strcmp(arg, option_defs[k].alias)))
                d = &option_defs[k];
            else if (option_defs[k].has_value && !strncmp(arg, option_defs[k].name, n) &&
                     arg[n] == '=')
                d = &option_defs[k], value = arg + n + 1;
        }
        if (!d || !(d->bit & allowed))
            return usage_error(sub, "unknown option '%s'", arg);
        if (d->has_value && !value) {
            if (i + 1 >= argc)
                return usage_error(sub, "%s needs a value", d->name);
            value = argv[++i];
        } else if (!d->has_value && value) {
            return usage_error(sub, "%s takes no value", d->name);
        }
        long n = 0;
        switch (d->bit) {
        case O_DIR:
            if (!*value)
                return usage_error(sub, "--dir needs a directory");
            o->dir = value;
            break;
        case O_HOST:
            if (is_ip(value))
                return usage_error(sub, "'%s' is an address: give it with --ip %s", value, value);
            if (!valid_dns_name(value))
                return usage_error(sub, "--host '%s' is not a DNS name (letters, digits, '-', '.')",
                                   value);
            if (o->nhosts == MAX_NAMES)
                return usage_error(sub, "at most %d --host names", MAX_NAMES);
            o->hosts[o->nhosts++] = value;
            break;
        case O_IP:
            if (!is_ip(value))
                return usage_error(sub, "--ip '%s' is not an IPv4 or IPv6 address", value);
            if (o->nips == MAX_NAMES)
                return usage_error(sub, "at most %d --ip addresses", MAX_NAMES);
            o->ips[o->nips++] = value;
            break;
        case O_RSA:
            if (strcmp(value, "2048") && strcmp(value, "3072"))
                return usage_error(sub, "--rsa wants 2048 or 3072, not '%s'", value);
            o->rsa_bits = atoi(value);
            break;
        case O_DAYS:
            if (parse_number(sub, "--days", value, 1, MAX_DAYS, &n))
                return 2;
            o->days = n;
            break;
        case O_CA_DAYS:
            if (parse_number(sub, "--ca-days", value, 1, MAX_DAYS, &n))
                return 2;
            o->ca_days = n;
            break;
        case O_FORCE:
            o->force = true;
            break;
        case O_NEW_KEY:
            o->new_key = true;
            break;
        case O_OUT:
            o->out = value;
            break;
        case O_CERT:
            o->cert = value;
            break;
        case O_DEVICE:
            o->device = value;
            break;
        case O_PIN:
            o->pin = value;
            break;
        }
    }
    if (positional == NEEDS_ARG && !o->name)
        return usage_error(sub, "which device? give its NAME");
    return 0;
}

/* ---- Files -------------------------------------------------------------------------------- */

static int path_join(char *out, const char *dir, const char *name)
{
    if ((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        return fail("path too long: %s/%s", dir, name);
    return 0;
}

/* mkdir -p, mode 0755 for what it creates. */
static int make_dirs(const char *dir)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s", dir) >= sizeof path)
        return fail("path too long: %s", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return fail("cannot create directory %s: %s", path, strerror(errno));
        *p = c;
        if (!c)
            break;
    }
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return fail("%s is not a directory", dir);
    return 0;
}

/* Reads a whole (small) file. */
static int read_file(const char *path, unsigned char **data, size_t *len, const char *hint)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail("cannot read %s: %s%s", path, strerror(errno), hint ? hint : "");
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || cap >= (1u << 24))
            break;
        unsigned char *bigger = realloc(buf, cap *= 2);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    bool err = ferror(f);
    fclose(f);
    if (!buf)
        return fail("out of memory reading %s", path);
    if (err) {
        free(buf);
        return fail("cannot read %s: %s", path, strerror(errno));
    }
    *data = buf;
    *len = n;
    return 0;
}

/* A file to write: its contents are built first, so nothing is written unless all of it is. */
struct out_file {
    char path[PATH_MAX];
    mode_t mode;
    bool secret; /* wipe the buffer afterwards */
    bool is_ca;  /* replacing it breaks the devices that embed it */
    char *data;
    size_t len;
};

static void out_file_free(struct out_file *f)
{
    if (f->data && f->secret)
        OPENSSL_cleanse(f->data, f->len);
    free(f->data);
    f->data = NULL;
}

static int refuse_existing(const struct out_file *f)
{
    return fail("%s already exists; add --force to replace it%s", f->path,
                f->is_ca ? " (devices that embed the current CA would no longer trust the broker)"
                         : "");
}

/* Without `replace` the file must not exist (O_EXCL: no race). With it, a temporary file in the
 * same directory is renamed over the old one, so a reader never sees half a key. */
static int write_file(struct out_file *f, bool replace)
{
    char tmp[PATH_MAX];
    const char *target = f->path;
    if (replace) {
        if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld", f->path, (long)getpid()) >= sizeof tmp)
            return fail("path too long: %s", f->path);
        target = tmp;
    }
    int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, f->mode);
    if (fd < 0) {
        if (errno == EEXIST && !replace)
            return refuse_existing(f);
        return fail("cannot create %s: %s", target, strerror(errno));
    }
    /* The umask may only have removed bits; certificates are public, keys are not. */
    if (fchmod(fd, f->mode) < 0) {
        close(fd);
        unlink(target);
        return fail("cannot set the mode of %s: %s", target, strerror(errno));
    }
    size_t done = 0;
    while (done < f->len) {
        ssize_t n = write(fd, f->data + done, f->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            unlink(target);
            return fail("cannot write %s: %s", target, strerror(e));
        }
        done += (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(target);
        return fail("cannot write %s: %s", target, strerror(e));
    }
    if (replace && rename(tmp, f->path) < 0) {
        int e = errno;
        unlink(tmp);
        return fail("cannot replace %s: %s", f->path, strerror(e));
    }
    return 0;
}

/* Refuses at once when any file exists (without --force), writes all, and on a failure removes
 * what this run created when it replaced nothing. */
static int write_files(struct out_file *files, int n, bool force)
{
    struct stat st;
    if (!force)
        for (int i = 0; i < n; i++)
            if (lstat(files[i].path, &st) == 0)
                return refuse_existing(&files[i]);
    for (int i = 0; i < n; i++) {
        if (write_file(&files[i], force)) {
            for (int k = 0; k < i && !force; k++)
                unlink(files[k].path);
            return 1;
        }
    }
    return 0;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int pem_to_file(struct out_file *f, X509 *cert, EVP_PKEY *key)
{
    BIO *mem = BIO_new(key ? BIO_s_secmem() : BIO_s_mem()); /* secmem: wiped when freed */
    int ok = mem && (cert ? PEM_write_bio_X509(mem, cert)
                          : PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL));
    char *p = NULL;
    long n = ok ? BIO_get_mem_data(mem, &p) : 0;
    if (n > 0 && (f->data = malloc((size_t)n))) {
        memcpy(f->data, p, (size_t)n);
        f->len = (size_t)n;
    }
    if (n > 0 && key)
        OPENSSL_cleanse(p, (size_t)n);
    BIO_free(mem);
    return f->data ? 0 : fail("cannot encode %s", f->path);
}

/* ---- Keys and certificates --------------------------------------------------------------- */

static EVP_PKEY *new_key(int rsa_bits)
{
    EVP_PKEY *k = rsa_bits ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)rsa_bits)
                           : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!k)
        fail("cannot generate a key");
    return k;
}

/* "ECDSA P-256", "RSA 2048", ... */
static const char *key_desc(EVP_PKEY *k, char *buf, size_t cap)
{
    char group[64];
    if (EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_group_name(k, group, sizeof group, NULL)) {
        const char *nist = !strcmp(group, "prime256v1")  ? "P-256"
                           : !strcmp(group, "secp384r1") ? "P-384"
                           : !strcmp(group, "secp521r1") ? "P-521"
                                                         : group;
        snprintf(buf, cap, "ECDSA %s", nist);
    } else if (EVP_PKEY_is_a(k, "RSA")) {
        snprintf(buf, cap, "RSA %d", EVP_PKEY_get_bits(k));
    } else {
        snprintf(buf, cap, "%s", EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "?");
    }
    ERR_clear_error();
    return buf;
}

/* The names a server certificate is valid for: DNS names and IP addresses. */
struct names {
    const char *dns[MAX_NAMES + 2];
    int ndns;
    const char *ip[MAX_NAMES + 2];
    int nip;
};

static void add_dns(struct names *n, const char *name)
{
    for (int i = 0; i < n->ndns; i++)
        if (!strcasecmp(n->dns[i], name))
            return;
    n->dns[n->ndns++] = name;
}

static void add_ip(struct names *n, const char *ip)
{
    unsigned char a[16], b[16];
    int fa = strchr(ip, ':') ? AF_INET6 : AF_INET;
    inet_pton(fa, ip, a);
    for (int i = 0; i < n->nip; i++) {
        int fb = strchr(n->ip[i], ':') ? AF_INET6 : AF_INET;
        if (fa == fb && inet_pton(fb, n->ip[i], b) == 1 && !memcmp(a, b, fa == AF_INET ? 4 : 16))
            return;
    }
    n->ip[n->nip++] = ip;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = e && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : fail("cannot add the extension %s = %s", OBJ_nid2sn(nid), value);
}

static int add_san(X509 *x, const struct names *n)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int ok = gens != NULL;
    for (int i = 0; ok && i < n->ndns; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        ok = g && s && ASN1_STRING_set(s, n->dns[i], -1);
        if (ok) {
            GENERAL_NAME_set0_value(g, GEN_DNS, s);
            s = NULL;
            ok = sk_GENERAL_NAME_push(gens, g) > 0;
        }
        if (!ok)
            GENERAL_NAME_free(g);
        ASN1_IA5STRING_free(s);
    }
    for (int i = 0; ok && i < n->nip; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(n->ip[i]);
        ok = g && ip;
        if (ok) {
            GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
            ip = NULL;
            ok = sk_GENERAL_NAME_push(gens, g) > 0;
        }
        if (!ok)
            GENERAL_NAME_free(g);
        ASN1_OCTET_STRING_free(ip);
    }
    ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    return ok ? 0 : fail("cannot add the subjectAltName extension");
}

enum role { ROLE_CA, ROLE_SERVER, ROLE_CLIENT };

/* Issues a certificate for `key` with subject CN=cn, valid from an hour ago to `not_after`,
 * signed by `ca_key` (self-signed when `ca` is NULL). Extensions by role:
 *   CA:     basicConstraints critical CA:TRUE, keyUsage critical keyCertSign cRLSign, SKI, AKI
 *   server: basicConstraints critical CA:FALSE, keyUsage critical digitalSignature
 *           (+keyEncipherment for RSA), extendedKeyUsage serverAuth, subjectAltName, AKI
 *   client: the same with extendedKeyUsage clientAuth and no subjectAltName
 * A leaf carries no subjectKeyIdentifier: nothing looks it up, and every byte of the leaf is sent
 * to the device in every full handshake. */
static X509 *issue(enum role role, const char *cn, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key,
                   time_t not_after, const struct names *san)
{
    X509 *x = X509_new();
    X509_NAME *subject = X509_NAME_new();
    BIGNUM *serial = NULL;
    unsigned char rnd[16];
    time_t now = time(NULL);
    X509V3_CTX ctx;
    bool ok =
        x && subject && X509_set_version(x, X509_VERSION_3) && RAND_bytes(rnd, sizeof rnd) == 1;
    if (ok) {
        rnd[0] = (rnd[0] & 0x7f) | 0x40; /* positive, always 16 bytes (RFC 5280: <= 20) */
        serial = BN_bin2bn(rnd, sizeof rnd, NULL);
        ok = serial && BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x));
    }
    ok = ok &&
         X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                    0) &&
         X509_set_subject_name(x, subject) &&
         X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : subject) &&
         ASN1_TIME_set(X509_getm_notBefore(x), now - CLOCK_SKEW) &&
         ASN1_TIME_set(X509_getm_notAfter(x), not_after) && X509_set_pubkey(x, key);
    BN_free(serial);
    X509_NAME_free(subject);
    if (!ok) {
        fail("cannot build the certificate for %s", cn);
        X509_free(x);
        return NULL;
    }

    X509V3_set_ctx(&ctx, ca ? ca : x, x, NULL, NULL, 0);
    int err = 0;
    if (role == ROLE_CA) {
        err = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") ||
              add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
              add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
              add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
    } else {
        err = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
              add_ext(x, &ctx, NID_key_usage,
                      EVP_PKEY_is_a(key, "RSA") ? "critical,digitalSignature,keyEncipherment"
                                                : "critical,digitalSignature") ||
              add_ext(x, &ctx, NID_ext_key_usage,
                      role == ROLE_SERVER ? "serverAuth" : "clientAuth") ||
              (san && add_san(x, san)) ||
              add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
    }
    if (err) {
        X509_free(x);
        return NULL;
    }
    if (!X509_sign(x, ca_key, EVP_sha256())) {
        fail("cannot sign the certificate for %s", cn);
        X509_free(x);
        return NULL;
    }
    return x;
}

/* "2025-06-01 12:00 UTC" */
static const char *time_str(const ASN1_TIME *t, char *buf, size_t cap)
{
    struct tm tm;
    if (!ASN1_TIME_to_tm(t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M UTC", &tm))
        snprintf(buf, cap, "?");
    return buf;
}

static time_t asn1_to_time_t(const ASN1_TIME *t)
{
    struct tm tm;
    return ASN1_TIME_to_tm(t, &tm) ? timegm(&tm) : 0;
}

/* "AB:CD:..." as `openssl x509 -fingerprint -sha256` prints it. */
static int fingerprint(X509 *x, char out[96])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!X509_digest(x, EVP_sha256(), md, &n) || n != 32)
        return fail("cannot hash the certificate");
    for (unsigned i = 0; i < n; i++)
        sprintf(out + 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
    return 0;
}

static char *subject_cn(X509 *x, char *buf, size_t cap)
{
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, (int)cap) < 0) {
        X509_NAME_oneline(X509_get_subject_name(x), buf, (int)cap);
        ERR_clear_error();
    }
    return buf;
}

static int der_size(X509 *x)
{
    return i2d_X509(x, NULL);
}

/* Certificates from a PEM file (a bundle is fine) or one DER certificate. */
static int load_certs(const char *path, X509 **certs, int max, int *n, const char *hint)
{
    unsigned char *data;
    size_t len;
    if (read_file(path, &data, &len, hint))
        return 1;
    *n = 0;
    if (len > 0 && data[0] == 0x30) {
        const unsigned char *p = data;
        certs[0] = d2i_X509(NULL, &p, (long)len);
        *n = certs[0] ? 1 : 0;
    } else {
        BIO *mem = BIO_new_mem_buf(data, (int)len);
        X509 *x;
        while (mem && (x = PEM_read_bio_X509(mem, NULL, NULL, NULL))) {
            if (*n == max) {
                X509_free(x);
                free(data);
                BIO_free(mem);
                for (int i = 0; i < *n; i++)
                    X509_free(certs[i]);
                return fail("%s holds more than %d certificates", path, max);
            }
            certs[(*n)++] = x;
        }
        BIO_free(mem);
        ERR_clear_error(); /* the end of the file */
    }
    free(data);
    if (*n == 0)
        return fail("%s holds no certificate (PEM or DER)", path);
    return 0;
}

static EVP_PKEY *load_key(const char *path)
{
    unsigned char *data;
    size_t len;
    if (read_file(path, &data, &len, NULL))
        return NULL;
    BIO *mem = BIO_new_mem_buf(data, (int)len);
    EVP_PKEY *k = mem ? PEM_read_bio_PrivateKey(mem, NULL, NULL, NULL) : NULL;
    BIO_free(mem);
    OPENSSL_cleanse(data, len);
    free(data);
    if (!k)
        fail("%s holds no private key this tool can read (PEM, unencrypted)", path);
    return k;
}

struct ca {
    X509 *cert;
    EVP_PKEY *key;
    char cert_path[PATH_MAX];
    char key_path[PATH_MAX];
};

static void ca_free(struct ca *ca)
{
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
}

/* Loads DIR/ca.crt and DIR/ca.key and checks they belong together and the CA is valid now. */
static int load_ca(const char *dir, struct ca *ca)
{
    char hint[PATH_MAX + 64];
    int n;
    struct stat st;
    snprintf(hint, sizeof hint, "; create it with `mote certs init --dir %s`", dir);
    if (path_join(ca->cert_path, dir, "ca.crt") || path_join(ca->key_path, dir, "ca.key") ||
        load_certs(ca->cert_path, &ca->cert, 1, &n, hint))
        return 1;
    if (!(ca->key = load_key(ca->key_path)))
        return 1;
    if (!X509_check_private_key(ca->cert, ca->key))
        return fail("%s does not belong to %s", ca->key_path, ca->cert_path);
    if (!(X509_get_extension_flags(ca->cert) & EXFLAG_CA))
        return fail("%s is not a CA certificate (basicConstraints CA:TRUE)", ca->cert_path);
    char date[64];
    if (X509_cmp_current_time(X509_get0_notAfter(ca->cert)) <= 0)
        return fail("the CA %s expired on %s; create a new one with `mote certs init --force`",
                    ca->cert_path, time_str(X509_get0_notAfter(ca->cert), date, sizeof date));
    if (stat(ca->key_path, &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "mote certs: warning: %s is readable by others (mode %04o): chmod 600 %s\n",
                ca->key_path, (unsigned)(st.st_mode & 07777), ca->key_path);
    return 0;
}

/* The end of a leaf's validity: `days` from now, but never after its CA's. */
static time_t leaf_not_after(X509 *ca, long days, bool *capped)
{
    time_t want = time(NULL) + (time_t)days * 86400;
    time_t ca_end = asn1_to_time_t(X509_get0_notAfter(ca));
    *capped = ca_end && want > ca_end;
    return *capped ? ca_end : want;
}

/* ---- Reports ------------------------------------------------------------------------------ */

static void print_names(const struct names *n)
{
    for (int i = 0; i < n->ndns; i++)
        printf(" DNS:%s", n->dns[i]);
    for (int i = 0; i < n->nip; i++)
        printf(" IP:%s", n->ip[i]);
}

static void print_validity(X509 *x, bool capped)
{
    char a[64], b[64];
    printf("valid %s to %s%s\n", time_str(X509_get0_notBefore(x), a, sizeof a),
           time_str(X509_get0_notAfter(x), b, sizeof b), capped ? " (capped at the CA's end)" : "");
}

/* The server's certificate chain as a broker sends it: the leaf alone is all a device holding
 * the CA needs; some brokers append the CA. */
static void print_chain(X509 *server, X509 *ca)
{
    int leaf = der_size(server), root = der_size(ca);
    printf("  chain size  %d bytes (server.crt, DER: all a device that holds the CA needs)\n"
           "              %d bytes with ca.crt appended; TLS 1.2 Certificate message: %d / %d\n",
           leaf, leaf + root, 4 + 3 + 3 + leaf, 4 + 3 + 3 + leaf + 3 + root);
}

/* ---- init --------------------------------------------------------------------------------- */

/* The server certificate's names: --host (default: this machine's hostname and localhost) and
 * --ip (default: 127.0.0.1 and ::1), each list defaulted on its own. `host` gets the hostname. */
static int server_names(const struct opts *o, char *host, size_t cap, struct names *names)
{
    if (gethostname(host, cap) < 0 || !host[0])
        snprintf(host, cap, "localhost");
    host[cap - 1] = 0;
    for (int i = 0; i < o->nhosts; i++)
        add_dns(names, o->hosts[i]);
    if (!o->nhosts) {
        if (!valid_dns_name(host))
            return fail("this machine's hostname '%s' cannot be a DNS name in a certificate; "
                        "give the broker's names with --host NAME",
                        host);
        add_dns(names, host);
        add_dns(names, "localhost");
    }
    for (int i = 0; i < o->nips; i++)
        add_ip(names, o->ips[i]);
    if (!o->nips) {
        add_ip(names, "127.0.0.1");
        add_ip(names, "::1");
    }
    return 0;
}

static int cmd_init(struct opts *o)
{
    char host[256], ca_cn[128], date[16], fp[96], desc[96];
    struct names names = {0};
    struct out_file files[4] = {0};
    static const char *const file_names[4] = {"ca.crt", "ca.key", "server.crt", "server.key"};
    EVP_PKEY *ca_key = NULL, *server_key = NULL;
    X509 *ca = NULL, *server = NULL;
    int rc = 1;

    if (server_names(o, host, sizeof host, &names))
        return 1;

    for (int i = 0; i < 4; i++) {
        if (path_join(files[i].path, o->dir, file_names[i]))
            return 1;
        files[i].mode = i % 2 ? 0600 : 0644;
        files[i].secret = i % 2;
        files[i].is_ca = i < 2;
        if (!o->force && exists(files[i].path))
            return refuse_existing(&files[i]);
    }
    if (make_dirs(o->dir))
        return 1;

    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    snprintf(ca_cn, sizeof ca_cn, "mote CA %.40s %s", host, date);
    long ca_days = o->ca_days ? o->ca_days : CA_DAYS;
    long days = o->days ? o->days : SERVER_DAYS;
    bool capped = false;

    if (!(ca_key = new_key(o->rsa_bits)) || !(server_key = new_key(o->rsa_bits)))
        goto out;
    if (!(ca = issue(ROLE_CA, ca_cn, ca_key, NULL, ca_key, now + (time_t)ca_days * 86400, NULL)))
        goto out;
    if (!(server = issue(ROLE_SERVER, names.dns[0], server_key, ca, ca_key,
                         leaf_not_after(ca, days, &capped), &names)))
        goto out;
    if (pem_to_file(&files[0], ca, NULL) || pem_to_file(&files[1], NULL, ca_key) ||
        pem_to_file(&files[2], server, NULL) || pem_to_file(&files[3], NULL, server_key))
        goto out;
    bool replaced_ca = exists(files[0].path);
    if (fingerprint(ca, fp) || write_files(files, 4, o->force))
        goto out;
    if (replaced_ca)
        fprintf(stderr,
                "mote certs: replaced the CA of %s: devices that embed the old one need a "
                "new header (`mote certs embed`), device certificates a new issue\n",
                o->dir);

    printf("Created %s/ (%s keys; keys mode 0600, certificates 0644)\n", o->dir,
           key_desc(ca_key, desc, sizeof desc));
    printf("  CA          %s  \"%s\"\n", files[0].path, ca_cn);
    printf("              SHA-256 %s\n              ", fp);
    print_validity(ca, false);
    printf("  server      %s  CN=%s\n              names", files[2].path, names.dns[0]);
    print_names(&names);
    printf("\n              ");
    print_validity(server, capped);
    print_chain(server, ca);
    char crt_abs[PATH_MAX], key_abs[PATH_MAX]; /* a broker's config wants absolute paths */
    printf("Broker (moted or mosquitto):  listener 8883\n"
           "                              certfile %s\n"
           "                              keyfile %s\n",
           realpath(files[2].path, crt_abs) ? crt_abs : files[2].path,
           realpath(files[3].path, key_abs) ? key_abs : files[3].path);
    printf("Devices: `mote certs embed --dir %s -o mote_ca.h` (BearSSL); other clients: --cafile "
           "%s\n",
           o->dir, files[0].path);
    rc = 0;
out:
    for (int i = 0; i < 4; i++)
        out_file_free(&files[i]);
    X509_free(ca);
    X509_free(server);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(server_key);
    return rc;
}

/* ---- server: a new server.crt from the existing CA ---------------------------------------- */

static int cmd_server(struct opts *o)
{
    char host[256], desc[96];
    struct names names = {0};
    struct out_file files[2] = {0};
    struct ca ca = {0};
    EVP_PKEY *key = NULL;
    X509 *server = NULL;
    bool capped, keep_key;
    int rc = 1;

    if (server_names(o, host, sizeof host, &names))
        return 1;
    if (path_join(files[0].path, o->dir, "server.crt") ||
        path_join(files[1].path, o->dir, "server.key"))
        return 1;
    files[0].mode = 0644;
    files[1].mode = 0600;
    files[1].secret = true;
    /* Keeping the key keeps every device's pin of it valid. */
    keep_key = !o->new_key && exists(files[1].path);
    if (keep_key && o->rsa_bits)
        return usage_error("server", "--rsa makes a new key: add --new-key (devices that pin the "
                                     "old key then need the new header)");
    for (int i = 0; i < (keep_key ? 1 : 2); i++)
        if (!o->force && exists(files[i].path))
            return refuse_existing(&files[i]);
    if (load_ca(o->dir, &ca))
        goto out;
    if (keep_key ? !(key = load_key(files[1].path)) : !(key = new_key(o->rsa_bits)))
        goto out;
    if (!(server =
              issue(ROLE_SERVER, names.dns[0], key, ca.cert, ca.key,
                    leaf_not_after(ca.cert, o->days ? o->days : SERVER_DAYS, &capped), &names)))
        goto out;
    if (pem_to_file(&files[0], server, NULL) || (!keep_key && pem_to_file(&files[1], NULL, key)))
        goto out;
    if (write_files(files, keep_key ? 1 : 2, o->force))
        goto out;

    printf("Issued %s (CN=%s) signed by %s\n  key   %s, %s\n  names", files[0].path, names.dns[0],
           ca.cert_path, key_desc(key, desc, sizeof desc),
           keep_key ? "the same as before: pins of it stay valid"
                    : "new: devices that pin the old one need a new header");
    print_names(&names);
    printf("\n  ");
    print_validity(server, capped);
    print_chain(server, ca.cert);
    printf("Restart the broker (or reload it, if it reloads certificates) to use it.\n");
    rc = 0;
out:
    for (int i = 0; i < 2; i++)
        out_file_free(&files[i]);
    X509_free(server);
    EVP_PKEY_free(key);
    ca_free(&ca);
    return rc;
}

/* ---- device ------------------------------------------------------------------------------- */

static int cmd_device(struct opts *o)
{
    char dir[PATH_MAX], name[PATH_MAX], fp[96], desc[96], ca_cn[256];
    struct out_file files[2] = {0};
    struct ca ca = {0};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    bool capped;
    int rc = 1;

    if (!valid_device_name(o->name))
        return usage_error("device",
                           "NAME '%s' must be 1 to 64 letters, digits, '-', '_' or '.' (it "
                           "becomes a file name and the certificate's CN)",
                           o->name);
    if (path_join(dir, o->dir, "devices"))
        return 1;
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s.%s", o->name, i ? "key" : "crt");
        if (path_join(files[i].path, dir, name))
            return 1;
        files[i].mode = i ? 0600 : 0644;
        files[i].secret = i;
        if (!o->force && exists(files[i].path))
            return refuse_existing(&files[i]);
    }
    if (load_ca(o->dir, &ca) || make_dirs(dir))
        goto out;
    if (!(key = new_key(o->rsa_bits)))
        goto out;
    if (!(cert = issue(ROLE_CLIENT, o->name, key, ca.cert, ca.key,
                       leaf_not_after(ca.cert, o->days ? o->days : DEVICE_DAYS, &capped), NULL)))
        goto out;
    capped = capped && o->days; /* the default is "as long as the CA": not worth a remark */
    if (pem_to_file(&files[0], cert, NULL) || pem_to_file(&files[1], NULL, key) ||
        fingerprint(cert, fp) || write_files(files, 2, o->force))
        goto out;

    printf("Created %s and %s (%s; key mode 0600)\n", files[0].path, files[1].path,
           key_desc(key, desc, sizeof desc));
    printf("  client certificate CN=%s (extendedKeyUsage clientAuth), %d bytes DER, signed by "
           "\"%s\"\n  SHA-256 %s\n  ",
           o->name, der_size(cert), subject_cn(ca.cert, ca_cn, sizeof ca_cn), fp);
    print_validity(cert, capped);
    printf("Broker: `require_certificate true` and `cafile %s` in the TLS listener;\n"
           "        `use_identity_as_username true` makes \"%s\" the device's user name.\n",
           ca.cert_path, o->name);
    rc = 0;
out:
    for (int i = 0; i < 2; i++)
        out_file_free(&files[i]);
    X509_free(cert);
    EVP_PKEY_free(key);
    ca_free(&ca);
    return rc;
}

/* ---- embed: the CA as BearSSL trust anchors, the server's key as a pin, a device's keys ---- */

/* A C array of bytes, 12 to a line, as BearSSL's `brssl ta` prints them. */
static void emit_bytes(FILE *f, const char *name, const unsigned char *p, size_t n,
                       const char *comment)
{
    fprintf(f, "\nstatic const unsigned char %s[] = {", name);
    if (comment)
        fprintf(f, " /* %s */", comment);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s0x%02X%s", i % 12 ? " " : "\n\t", p[i], i + 1 < n ? "," : "");
    fprintf(f, "\n};\n");
}

/* A big number as a C array of `pad` bytes (0: as few as it needs). */
static int emit_bn(FILE *f, const char *name, const BIGNUM *bn, int pad, const char *comment)
{
    int n = pad ? pad : BN_num_bytes(bn);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || BN_bn2binpad(bn, buf, n) != n) {
        free(buf);
        return fail("cannot encode %s", name);
    }
    emit_bytes(f, name, buf, (size_t)n, comment);
    OPENSSL_cleanse(buf, (size_t)n);
    free(buf);
    return 0;
}

/* What BearSSL needs of a public key: an EC curve and uncompressed point, or RSA n and e. */
struct pubkey {
    const char *curve; /* "BR_EC_secp256r1", ...; NULL for RSA */
    unsigned char q[133];
    size_t qlen;
    BIGNUM *n, *e;
};

static const char *br_curve(EVP_PKEY *k)
{
    char group[64];
    if (!EVP_PKEY_get_group_name(k, group, sizeof group, NULL))
        return NULL;
    return !strcmp(group, "prime256v1")  ? "BR_EC_secp256r1"
           : !strcmp(group, "secp384r1") ? "BR_EC_secp384r1"
           : !strcmp(group, "secp521r1") ? "BR_EC_secp521r1"
                                         : NULL;
}

static int get_pubkey(EVP_PKEY *k, const char *what, struct pubkey *pk)
{
    memset(pk, 0, sizeof *pk);
    if (k && EVP_PKEY_is_a(k, "EC")) {
        if (!(pk->curve = br_curve(k)))
            return fail("%s: BearSSL verifies EC keys on P-256, P-384 and P-521 only", what);
        if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pk->q, sizeof pk->q,
                                             &pk->qlen) ||
            pk->qlen < 1 || pk->q[0] != 0x04)
            return fail("%s: cannot read the EC point uncompressed", what);
        return 0;
    }
    if (k && EVP_PKEY_is_a(k, "RSA")) {
        if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &pk->n) &&
            EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &pk->e))
            return 0;
        return fail("%s: cannot read the RSA key", what);
    }
    return fail("%s: BearSSL verifies RSA and ECDSA keys only, not %s", what,
                k && EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "this type");
}

static void pubkey_free(struct pubkey *pk)
{
    BN_free(pk->n);
    BN_free(pk->e);
    pk->n = pk->e = NULL;
}

/* The arrays PREFIX_EC_Q, or PREFIX_RSA_N and PREFIX_RSA_E. */
static int emit_pubkey_arrays(FILE *f, const struct pubkey *pk, const char *prefix,
                              const char *comment)
{
    char name[64];
    if (pk->curve) {
        snprintf(name, sizeof name, "%s_EC_Q", prefix);
        emit_bytes(f, name, pk->q, pk->qlen, comment);
        return 0;
    }
    snprintf(name, sizeof name, "%s_RSA_N", prefix);
    if (emit_bn(f, name, pk->n, 0, comment))
        return 1;
    snprintf(name, sizeof name, "%s_RSA_E", prefix);
    return emit_bn(f, name, pk->e, 0, NULL);
}

/* A br_x509_pkey initializer over the arrays of emit_pubkey_arrays(). */
static void emit_pkey_init(FILE *f, const struct pubkey *pk, const char *p)
{
    if (pk->curve)
        fprintf(f, "{ BR_KEYTYPE_EC, { .ec = { %s, (unsigned char *)%s_EC_Q, sizeof %s_EC_Q } } }",
                pk->curve, p, p);
    else
        fprintf(f,
                "{ BR_KEYTYPE_RSA, { .rsa = { (unsigned char *)%s_RSA_N, sizeof %s_RSA_N, "
                "(unsigned char *)%s_RSA_E, sizeof %s_RSA_E } } }",
                p, p, p, p);
}

/* Text inside a C comment: nothing in it may end the comment. */
static char *comment_safe(char *s)
{
    for (char *c = s; *c; c++)
        if ((*c == '*' && c[1] == '/') || (unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return s;
}

static const char *comment_path(const char *path, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", path);
    return comment_safe(buf);
}

/* A device's certificate and private key for mutual TLS (br_ssl_client_set_single_ec/_rsa). */
static int emit_device(FILE *f, const char *cert_path, X509 *cert, EVP_PKEY *key,
                       EVP_PKEY *issuer_key)
{
    char cn[256], c1[PATH_MAX];
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der), rc = 1;
    bool ec = EVP_PKEY_is_a(key, "EC");
    if (len <= 0)
        return fail("cannot encode %s", cert_path);
    fprintf(f,
            "\n/* Mutual TLS: %s (CN=%s) and its private key, for lib/tls's client_chain,\n"
            " * client_chain_len and client_%s_key. SECRET: keep this header out of version "
            "control. */",
            comment_path(cert_path, c1, sizeof c1), comment_safe(subject_cn(cert, cn, sizeof cn)),
            ec ? "ec" : "rsa");
    emit_bytes(f, "MOTE_CLIENT_CERT0", der, (size_t)len, "DER");
    fprintf(f, "\nstatic const br_x509_certificate MOTE_CLIENT_CHAIN[] = {\n"
               "\t{ (unsigned char *)MOTE_CLIENT_CERT0, sizeof MOTE_CLIENT_CERT0 },\n};\n"
               "#define MOTE_CLIENT_CHAIN_NUM 1\n");
    OPENSSL_free(der);

    if (ec) {
        BIGNUM *x = NULL;
        const char *curve = br_curve(key);
        if (!curve || !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &x)) {
            BN_clear_free(x);
            return fail("cannot read the device's EC private key (P-256, P-384, P-521 only)");
        }
        rc = emit_bn(f, "MOTE_CLIENT_EC_X", x, (EVP_PKEY_get_bits(key) + 7) / 8, NULL);
        BN_clear_free(x);
        if (rc)
            return 1;
        fprintf(f,
                "static const br_ec_private_key MOTE_CLIENT_EC_KEY = { %s, (unsigned char "
                "*)MOTE_CLIENT_EC_X, sizeof MOTE_CLIENT_EC_X };\n"
                "#define MOTE_CLIENT_KEYTYPE BR_KEYTYPE_EC\n",
                curve);
    } else if (EVP_PKEY_is_a(key, "RSA")) {
        static const char *const params[5] = {
            OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
            OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
        static const char *const names[5] = {"MOTE_CLIENT_RSA_P", "MOTE_CLIENT_RSA_Q",
                                             "MOTE_CLIENT_RSA_DP", "MOTE_CLIENT_RSA_DQ",
                                             "MOTE_CLIENT_RSA_IQ"};
        for (int i = 0; i < 5; i++) {
            BIGNUM *bn = NULL;
            if (!EVP_PKEY_get_bn_param(key, params[i], &bn)) {
                BN_clear_free(bn);
                return fail("cannot read the device's RSA private key (its CRT parts)");
            }
            rc = emit_bn(f, names[i], bn, 0, NULL);
            BN_clear_free(bn);
            if (rc)
                return 1;
        }
        fprintf(f, "static const br_rsa_private_key MOTE_CLIENT_RSA_KEY = { %d,\n",
                EVP_PKEY_get_bits(key));
        for (int i = 0; i < 5; i++)
            fprintf(f, "\t(unsigned char *)%s, sizeof %s%s\n", names[i], names[i],
                    i < 4 ? "," : "");
        fprintf(f, "};\n#define MOTE_CLIENT_KEYTYPE BR_KEYTYPE_RSA\n");
    } else {
        return fail("the device's key is neither EC nor RSA");
    }
    /* BearSSL's br_ssl_client_set_single_*() want the type of the key that signed the cert. */
    fprintf(f, "#define MOTE_CLIENT_ISSUER_KEYTYPE %s\n",
            EVP_PKEY_is_a(issuer_key, "EC") ? "BR_KEYTYPE_EC" : "BR_KEYTYPE_RSA");
    return 0;
}

struct embed {
    const char *anchor_path;
    X509 *anchors[MAX_ANCHORS];
    int nanchors;
    char ca_fp[96];
    char server_path[PATH_MAX]; /* where the pin comes from */
    X509 *server;               /* its certificate, or NULL */
    EVP_PKEY *pin_key;          /* NULL: no pin; else the server's key or pin_owned */
    EVP_PKEY *pin_owned;        /* a public key read from a file */
    char device_path[PATH_MAX];
    X509 *device; /* NULL: no client credentials */
    EVP_PKEY *device_key;
    EVP_PKEY *device_issuer_key;
};

static int emit_header(FILE *f, const struct embed *e)
{
    struct pubkey pk[MAX_ANCHORS] = {0}, pin = {0};
    char name[64], cn[256], path[PATH_MAX], comment[320];
    int rc = 1;

    for (int i = 0; i < e->nanchors; i++)
        if (get_pubkey(X509_get0_pubkey(e->anchors[i]), e->anchor_path, &pk[i]))
            goto out;
    if (e->pin_key && get_pubkey(e->pin_key, e->server_path, &pin))
        goto out;

    fprintf(f, "/* generated by `mote certs embed` from %s (SHA-256 %s) */\n",
            comment_path(e->anchor_path, path, sizeof path), e->ca_fp);
    fprintf(f,
            "/* For lib/tls (include/mote/tls.h): .anchors = MOTE_TRUST_ANCHORS,\n"
            " * .anchor_count = MOTE_TRUST_ANCHORS_NUM%s.\n"
            " * The device parses no PEM. Include this header in one .c file. */\n",
            e->pin_key ? "; or .pin = &MOTE_PINNED_KEY" : "");
    fprintf(f, "#ifndef MOTE_CERTS_EMBED_H\n#define MOTE_CERTS_EMBED_H\n\n#include <bearssl.h>\n");

    for (int i = 0; i < e->nanchors; i++) {
        unsigned char *dn = NULL;
        int dnlen = i2d_X509_NAME(X509_get_subject_name(e->anchors[i]), &dn);
        if (dnlen <= 0) {
            fail("%s: cannot encode the subject of certificate %d", e->anchor_path, i + 1);
            goto out;
        }
        snprintf(comment, sizeof comment, "the subject of \"%s\", DER",
                 comment_safe(subject_cn(e->anchors[i], cn, sizeof cn)));
        snprintf(name, sizeof name, "MOTE_TA%d_DN", i);
        emit_bytes(f, name, dn, (size_t)dnlen, comment);
        OPENSSL_free(dn);
        snprintf(name, sizeof name, "MOTE_TA%d", i);
        if (emit_pubkey_arrays(f, &pk[i], name,
                               pk[i].curve ? "its public key: the uncompressed point"
                                           : "its public key: the modulus"))
            goto out;
    }
    fprintf(f, "\nstatic const br_x509_trust_anchor MOTE_TRUST_ANCHORS[] = {\n");
    for (int i = 0; i < e->nanchors; i++) {
        /* BR_X509_TA_CA for a CA; 0 trusts a self-signed leaf directly, as `brssl ta` does. */
        bool is_ca = (X509_get_extension_flags(e->anchors[i]) & EXFLAG_CA) != 0;
        snprintf(name, sizeof name, "MOTE_TA%d", i);
        fprintf(f, "\t{ { (unsigned char *)MOTE_TA%d_DN, sizeof MOTE_TA%d_DN }, %s, ", i, i,
                is_ca ? "BR_X509_TA_CA" : "0");
        emit_pkey_init(f, &pk[i], name);
        fprintf(f, " },\n");
    }
    fprintf(f, "};\n#define MOTE_TRUST_ANCHORS_NUM %d\n", e->nanchors);

    if (e->pin_key) {
        snprintf(cn, sizeof cn, "%s", "a public key");
        if (e->server) {
            char subject[200];
            snprintf(cn, sizeof cn, "CN=%s", subject_cn(e->server, subject, sizeof subject));
        }
        fprintf(f,
                "\n/* The public key of %s (%s). With .pin = &MOTE_PINNED_KEY\n"
                " * instead of the anchors, lib/tls accepts this key alone (no chain, name or "
                "date check).\n * `mote certs server` keeps the key when it renews the "
                "certificate. */",
                comment_path(e->server_path, path, sizeof path), comment_safe(cn));
        if (emit_pubkey_arrays(f, &pin, "MOTE_SERVER_PIN", NULL))
            goto out;
        if (pin.curve)
            fprintf(f,
                    "#define MOTE_SERVER_PIN_KEYTYPE BR_KEYTYPE_EC\n"
                    "#define MOTE_SERVER_PIN_CURVE %s\n",
                    pin.curve);
        else
            fprintf(f, "#define MOTE_SERVER_PIN_KEYTYPE BR_KEYTYPE_RSA\n");
        fprintf(f, "static const br_x509_pkey MOTE_PINNED_KEY = ");
        emit_pkey_init(f, &pin, "MOTE_SERVER_PIN");
        fprintf(f, ";\n");
    }
    if (e->device && emit_device(f, e->device_path, e->device, e->device_key, e->device_issuer_key))
        goto out;
    fprintf(f, "\n#define MOTE_CA_SHA256 \"%s\"\n\n#endif /* MOTE_CERTS_EMBED_H */\n", e->ca_fp);
    rc = ferror(f) ? fail("cannot write the header: %s", strerror(errno)) : 0;
out:
    for (int i = 0; i < e->nanchors; i++)
        pubkey_free(&pk[i]);
    pubkey_free(&pin);
    return rc;
}

/* True when `leaf` is signed by one of the anchors (or is one of them). */
static bool chains_to(X509 *leaf, X509 *const *anchors, int n)
{
    for (int i = 0; i < n; i++) {
        if (!X509_cmp(leaf, anchors[i]))
            return true;
        if (X509_check_issued(anchors[i], leaf) == X509_V_OK &&
            X509_verify(leaf, X509_get0_pubkey(anchors[i])) == 1)
            return true;
    }
    ERR_clear_error();
    return false;
}

/* Writes the header to `out` ("-" or NULL: standard output), replacing it whole. */
static int write_header(const char *out, const struct embed *e, mode_t mode)
{
    char tmp[PATH_MAX];
    if (!out || !strcmp(out, "-")) {
        int rc = emit_header(stdout, e);
        if (!rc && fflush(stdout))
            rc = fail("cannot write the header: %s", strerror(errno));
        return rc;
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld", out, (long)getpid()) >= sizeof tmp)
        return fail("path too long: %s", out);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    FILE *f = fd >= 0 && fchmod(fd, mode) == 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int err = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return fail("cannot create %s: %s", out, strerror(err));
    }
    int rc = emit_header(f, e);
    if (fflush(f) || fsync(fileno(f)))
        rc = rc ? rc : fail("cannot write %s: %s", tmp, strerror(errno));
    fclose(f);
    if (!rc && rename(tmp, out) < 0)
        rc = fail("cannot replace %s: %s", out, strerror(errno));
    if (rc)
        unlink(tmp);
    return rc;
}

/* The key to pin: a certificate's (PEM or DER), or a public key (PEM or DER
 * SubjectPublicKeyInfo, as `openssl pkey -pubout` writes it). */
static int load_pin(const char *path, X509 **cert, EVP_PKEY **key)
{
    unsigned char *data;
    size_t len;
    if (read_file(path, &data, &len, NULL))
        return 1;
    BIO *mem = BIO_new_mem_buf(data, (int)len);
    const unsigned char *p = data;
    if (mem && !(*cert = PEM_read_bio_X509(mem, NULL, NULL, NULL)) && BIO_reset(mem) == 1)
        *key = PEM_read_bio_PUBKEY(mem, NULL, NULL, NULL);
    if (!*cert && !*key && !(*cert = d2i_X509(NULL, &p, (long)len))) {
        p = data;
        *key = d2i_PUBKEY(NULL, &p, (long)len);
    }
    BIO_free(mem);
    free(data);
    ERR_clear_error();
    if (!*cert && !*key)
        return fail("%s holds neither a certificate nor a public key (PEM or DER)", path);
    return 0;
}

static int cmd_embed(struct opts *o)
{
    char ca_path[PATH_MAX], hint[PATH_MAX + 64] = "", file[PATH_MAX];
    struct embed e = {0};
    struct ca ca = {0};
    int rc = 1, n;

    if (o->cert && o->name)
        return usage_error("embed", "give the certificate file once (%s or --cert %s)", o->name,
                           o->cert);
    if (o->device && !valid_device_name(o->device))
        return usage_error("embed", "--device '%s' is not a device name", o->device);
    if (path_join(ca_path, o->dir, "ca.crt") || path_join(e.server_path, o->dir, "server.crt"))
        return 1;
    e.anchor_path = o->cert ? o->cert : o->name ? o->name : ca_path;
    if (e.anchor_path == ca_path)
        snprintf(hint, sizeof hint, "; create it with `mote certs init --dir %s`", o->dir);
    if (load_certs(e.anchor_path, e.anchors, MAX_ANCHORS, &e.nanchors, hint))
        return 1;
    if (fingerprint(e.anchors[0], e.ca_fp))
        goto out;

    if (o->pin) {
        /* Pinned on purpose: a certificate or a public key, trusted or not by the anchors. */
        if ((size_t)snprintf(e.server_path, sizeof e.server_path, "%s", o->pin) >=
            sizeof e.server_path) {
            fail("path too long: %s", o->pin);
            goto out;
        }
        if (load_pin(o->pin, &e.server, &e.pin_owned))
            goto out;
        e.pin_key = e.server ? X509_get0_pubkey(e.server) : e.pin_owned;
    } else if (exists(e.server_path)) {
        if (load_certs(e.server_path, &e.server, 1, &n, NULL))
            goto out;
        if (!chains_to(e.server, e.anchors, e.nanchors)) {
            fail("%s is not signed by %s: give the CA that issued it, the --dir of that CA, or "
                 "--pin %s to pin its key anyway",
                 e.server_path, e.anchor_path, e.server_path);
            goto out;
        }
        e.pin_key = X509_get0_pubkey(e.server);
    } else {
        fprintf(stderr, "mote certs: no %s, so the header has no server pin\n", e.server_path);
    }

    if (o->device) {
        snprintf(file, sizeof file, "devices/%s.crt", o->device);
        snprintf(hint, sizeof hint, "; create it with `mote certs device %s --dir %s`", o->device,
                 o->dir);
        if (path_join(e.device_path, o->dir, file) ||
            load_certs(e.device_path, &e.device, 1, &n, hint))
            goto out;
        snprintf(file, sizeof file, "devices/%s.key", o->device);
        char key_path[PATH_MAX];
        if (path_join(key_path, o->dir, file) || !(e.device_key = load_key(key_path)))
            goto out;
        if (!X509_check_private_key(e.device, e.device_key)) {
            fail("%s does not belong to %s", key_path, e.device_path);
            goto out;
        }
        /* The CA that signed the device: DIR/ca.crt, whatever the anchors are. */
        int m;
        if (load_certs(ca_path, &ca.cert, 1, &m, NULL))
            goto out;
        if (!chains_to(e.device, &ca.cert, 1)) {
            fail("%s is not signed by %s", e.device_path, ca_path);
            goto out;
        }
        e.device_issuer_key = X509_get0_pubkey(ca.cert);
    }

    /* A header with a private key is as secret as the key. */
    rc = write_header(o->out, &e, e.device ? 0600 : 0644);
    if (!rc && o->out && strcmp(o->out, "-"))
        fprintf(stderr, "Wrote %s: %d trust anchor%s (SHA-256 %s)%s%s\n", o->out, e.nanchors,
                e.nanchors > 1 ? "s" : "", e.ca_fp, e.pin_key ? ", the server's key pin" : "",
                e.device ? ", and the device's certificate and private key (mode 0600)" : "");
out:
    for (int i = 0; i < e.nanchors; i++)
        X509_free(e.anchors[i]);
    X509_free(e.server);
    EVP_PKEY_free(e.pin_owned);
    X509_free(e.device);
    EVP_PKEY_free(e.device_key);
    ca_free(&ca);
    return rc;
}

/* ---- Dispatch and help -------------------------------------------------------------------- */

struct subcommand {
    const char *name;
    int (*run)(struct opts *);
    unsigned options;
    enum positional positional;
    const char *summary;
    const char *help;
};

static const struct subcommand subcommands[] = {
    {"init", cmd_init, O_DIR | O_HOST | O_IP | O_RSA | O_DAYS | O_CA_DAYS | O_FORCE, NO_ARG,
     "create a CA and the broker's certificate",
     "Usage: mote certs init [--dir DIR] [--host NAME]... [--ip ADDR]... [--rsa 2048|3072]\n"
     "                       [--days N] [--ca-days N] [--force]\n\n"
     "Creates DIR (default ./" DEFAULT_DIR ") with a CA (ca.crt, ca.key) and a certificate for\n"
     "the broker signed by it (server.crt, server.key). ECDSA P-256 keys unless --rsa: a chain\n"
     "of about 440 bytes instead of 840 (RSA 2048), and device keys that sign 15 times faster.\n\n"
     "  --dir DIR      where to create the files (default ./" DEFAULT_DIR ")\n"
     "  --host NAME    a DNS name clients use to reach the broker (repeatable; the first is the\n"
     "                 CN). Default: this machine's hostname and localhost\n"
     "  --ip ADDR      an IPv4 or IPv6 address of the broker (repeatable). Default: 127.0.0.1 "
     "::1\n"
     "  --rsa BITS     RSA keys of 2048 or 3072 bits instead of ECDSA P-256\n"
     "  --days N       validity of server.crt (default 825 days)\n"
     "  --ca-days N    validity of the CA (default 3652 days, ten years)\n"
     "  --force        replace existing files (devices that embed the old CA stop trusting)\n\n"
     "Keys are written with mode 0600, certificates with 0644.\n"},
    {"server", cmd_server, O_DIR | O_HOST | O_IP | O_RSA | O_DAYS | O_FORCE | O_NEW_KEY, NO_ARG,
     "issue server.crt again from the existing CA (renewal, new names)",
     "Usage: mote certs server [--dir DIR] [--host NAME]... [--ip ADDR]... [--days N]\n"
     "                         [--new-key [--rsa 2048|3072]] --force\n\n"
     "Issues DIR/server.crt again, signed by DIR/ca.crt: when it is about to expire or the\n"
     "broker has new names. Devices keep trusting the broker: their CA does not change. The\n"
     "existing server.key is kept, so a device that pins it keeps working; --new-key makes a new\n"
     "one (ECDSA P-256, or RSA with --rsa). Names and --days as for `mote certs init`.\n"
     "Replacing server.crt needs --force.\n"},
    {"device", cmd_device, O_DIR | O_RSA | O_DAYS | O_FORCE, NEEDS_ARG,
     "create a client certificate for mutual TLS",
     "Usage: mote certs device NAME [--dir DIR] [--days N] [--rsa 2048|3072] [--force]\n\n"
     "Creates DIR/devices/NAME.crt and NAME.key: a client certificate for mutual TLS, CN=NAME,\n"
     "extendedKeyUsage clientAuth, signed by the CA in DIR (default ./" DEFAULT_DIR ").\n\n"
     "  --days N    validity (default 3652 days; never past the CA's end)\n"
     "  --rsa BITS  an RSA key of 2048 or 3072 bits instead of ECDSA P-256\n"
     "  --force     replace an existing certificate and key of that name\n\n"
     "The broker checks it with `require_certificate true` and `cafile DIR/ca.crt`.\n"},
    {"embed", cmd_embed, O_DIR | O_OUT | O_CERT | O_DEVICE | O_PIN, MAY_HAVE_ARG,
     "write the CA as a C header of BearSSL trust anchors",
     "Usage: mote certs embed [FILE] [--dir DIR] [-o OUT] [--cert FILE] [--pin FILE]\n"
     "                        [--device NAME]\n\n"
     "Writes a C header for a device (BearSSL, lib/tls): the CA as trust anchors\n"
     "(MOTE_TRUST_ANCHORS, MOTE_TRUST_ANCHORS_NUM), so the device parses no PEM; the public key\n"
     "of DIR/server.crt as a pin (MOTE_PINNED_KEY, MOTE_SERVER_PIN_*); the CA's SHA-256\n"
     "(MOTE_CA_SHA256).\n\n"
     "  --dir DIR      the directory of `mote certs init` (default ./" DEFAULT_DIR ")\n"
     "  -o OUT         write OUT (replaced whole if it exists) instead of standard output\n"
     "  --cert FILE    trust the certificates in FILE (PEM, several allowed, or DER) instead of\n"
     "                 DIR/ca.crt, e.g. the public CA of your broker's certificate; FILE alone\n"
     "                 says the same\n"
     "  --pin FILE     pin the key of FILE (a certificate, or a public key as `openssl pkey\n"
     "                 -pubout` writes it) instead of DIR/server.crt's\n"
     "  --device NAME  add DIR/devices/NAME.crt and its private key for mutual TLS\n"
     "                 (MOTE_CLIENT_CHAIN, MOTE_CLIENT_EC_KEY or MOTE_CLIENT_RSA_KEY): OUT is "
     "then\n"
     "                 written with mode 0600; keep it out of version control\n"},
};

static void certs_usage(FILE *out)
{
    fprintf(out, "Usage: mote certs COMMAND [OPTIONS]\n\n"
                 "A private CA and certificates sized for small devices (ECDSA P-256, one short\n"
                 "certificate), and the CA as a C header for BearSSL.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(out, "  %-7s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\n'mote certs COMMAND --help' describes each. Typical use:\n"
                 "  mote certs init --host broker.lan --ip 192.168.1.10\n"
                 "  mote certs device kitchen-sensor\n"
                 "  mote certs embed -o mote_ca.h\n");
}

/* see cli.h */
int mote_cmd_certs(int argc, char **argv)
{
    if (argc < 2) {
        certs_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        certs_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        const struct subcommand *s = &subcommands[i];
        if (strcmp(argv[1], s->name))
            continue;
        struct opts o = {.sub = s->name, .dir = DEFAULT_DIR};
        int rc = parse_options(argc - 1, argv + 1, s->name, s->options, s->positional, &o);
        if (rc < 0) {
            fputs(s->help, stdout);
            return 0;
        }
        if (rc)
            return rc;
        return s->run(&o);
    }
    return usage_error(NULL, "unknown command '%s'", argv[1]);
}
