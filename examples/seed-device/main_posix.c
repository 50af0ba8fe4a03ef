/*
 * main_posix.c - the seed device on Linux, macOS and the BSDs: command line, the CA file (or a
 * pinned key) loaded at run time, and a struct seed_port over lib/port/posix.c's TCP and poll(2).
 *   seed-device -h HOST -p PORT --cafile CA.pem [-i ID] [-n PINGS] [-u USER -P PASS]
 */
#define _XOPEN_SOURCE 700 /* random(), sigaction(), gethostname() */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "device.h"
#include "mote/posix.h"

#define MAX_ANCHORS 16
#define FILE_MAX (256 * 1024)

static struct mote_posix_tcp tcp = {-1, 0, {0}};
static volatile int stop_flag;

static void usage(FILE *to)
{
    fputs("usage: seed-device -h HOST [-p PORT] (--cafile CA.pem | --pin KEY) [-i ID] [-n PINGS]\n"
          "                   [-u USER -P PASS]\n"
          "\n"
          "The device of mote's founding story: connects over verified TLS, registers itself\n"
          "(retained \"online\" on devices/ID/status, a will that sets \"offline\"), publishes a\n"
          "ping every second on devices/ID/ping, and explains every error.\n"
          "\n"
          "  -h, --host HOST     the broker, as its certificate names it\n"
          "  -p, --port PORT     TLS port (default 8883)\n"
          "      --cafile FILE   CA certificates to trust (PEM)\n"
          "      --pin FILE      or: the broker's public key alone (PEM or DER, as\n"
          "                      `openssl pkey -pubout` writes it): no chain, name or date check\n"
          "  -i, --id ID         client id (default seed-HOSTNAME), 1 to 32 bytes\n"
          "  -n, --pings N       exit 0 after N delivered pings (default: until SIGINT/SIGTERM)\n"
          "  -u, --username USER\n"
          "  -P, --password PASS\n"
          "      --help          this text\n"
          "\n"
          "Exit status: 0 done, 1 an error (explained on stderr), 2 usage.\n",
          to);
}

/* ---------------------------------------------------------------------------------------------
 * The port
 * ------------------------------------------------------------------------------------------- */

static int port_open(void *ctx, const char *host, uint16_t port, struct mote_transport *out,
                     struct mote_error *err)
{
    int rc = mote_posix_connect(host, port, 10000, &tcp, err);

    (void)ctx;
    if (rc == MOTE_OK)
        *out = tcp.transport;
    return rc;
}

static void port_close(void *ctx)
{
    (void)ctx;
    mote_posix_close(&tcp);
}

static uint32_t port_now_ms(void *ctx)
{
    (void)ctx;
    return mote_posix_now_ms();
}

static int64_t port_unix_time(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

static void port_wait(void *ctx, uint32_t ms, int want_write)
{
    struct pollfd p = {tcp.fd, (short)(POLLIN | (want_write ? POLLOUT : 0)), 0};

    (void)ctx;
    if (stop_flag)
        return;
    /* a signal interrupts poll (no SA_RESTART): the loop sees the stop flag at once */
    (void)poll(&p, tcp.fd >= 0 ? 1 : 0, ms > 60000 ? 60000 : (int)ms);
}

static uint32_t port_random(void *ctx)
{
    (void)ctx;
    return (uint32_t)random();
}

static void port_print(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "seed-device: %s\n", line);
}

/* ---------------------------------------------------------------------------------------------
 * Trust, from files
 * ------------------------------------------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;

    if (f == NULL) {
        fprintf(stderr, "seed-device: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    buf = malloc(FILE_MAX);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, FILE_MAX, f);
    fclose(f);
    if (*len == FILE_MAX) {
        fprintf(stderr, "seed-device: %s: larger than %d bytes\n", path, FILE_MAX);
        free(buf);
        return NULL;
    }
    return buf;
}

static void say_error(const char *path, const struct mote_error *e)
{
    char line[400];

    if (e->code <= MOTE_ERR_TLS_UNTRUSTED && e->code >= MOTE_ERR_TLS_OTHER)
        mote_tls_explain(e, line, sizeof line);
    else
        mote_error_explain(e, line, sizeof line);
    fprintf(stderr, "seed-device: %s: %s\n", path, line);
}

/* Every CERTIFICATE of a PEM file becomes a trust anchor (a CA bundle works). */
static int load_anchors(const char *path, br_x509_trust_anchor *anchors, size_t *count)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static uint8_t work[MAX_ANCHORS][1024];
    struct mote_error err;
    size_t len, n = 0;
    uint8_t *pem = read_file(path, &len);
    const uint8_t *at, *end;

    if (pem == NULL)
        return -1;
    end = pem + len;
    for (at = pem; at < end; at++) {
        if ((size_t)(end - at) < sizeof begin - 1 || memcmp(at, begin, sizeof begin - 1) != 0)
            continue;
        if (n == MAX_ANCHORS) {
            fprintf(stderr, "seed-device: %s: more than %d certificates\n", path, MAX_ANCHORS);
            free(pem);
            return -1;
        }
        if (mote_tls_anchor_from_pem(at, (size_t)(end - at), work[n], sizeof work[n], &anchors[n],
                                     &err) != MOTE_OK) {
            say_error(path, &err);
            free(pem);
            return -1;
        }
        n++;
        at += sizeof begin - 2;
    }
    free(pem); /* the anchors point into work[], not into the file */
    if (n == 0) {
        fprintf(stderr, "seed-device: %s: no PEM certificate in it (is it a CA file?)\n", path);
        return -1;
    }
    *count = n;
    return 0;
}

/* A public key (SubjectPublicKeyInfo) in PEM or DER. */
static int load_pin(const char *path, br_x509_pkey *pin)
{
    static uint8_t der[4096];
    struct mote_error err;
    size_t len, der_len;
    uint8_t *file = read_file(path, &len);
    int rc;

    if (file == NULL)
        return -1;
    if (len > 0 && file[0] == '-')
        rc = mote_tls_pem_to_der(file, len, der, sizeof der, &der_len, &err);
    else if (len <= sizeof der) {
        memcpy(der, file, len);
        der_len = len;
        rc = MOTE_OK;
    } else {
        fprintf(stderr, "seed-device: %s: not a public key (too large)\n", path);
        rc = -1;
        err.code = 0;
    }
    free(file);
    if (rc == MOTE_OK)
        rc = mote_tls_pin_from_der(der, der_len, pin, &err);
    if (rc != MOTE_OK && err.code != 0)
        say_error(path, &err);
    return rc == MOTE_OK ? 0 : -1;
}

/* ---------------------------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1; /* the second one kills (SA_RESETHAND) */
}

static int number(const char *s, unsigned long max, unsigned long *out)
{
    char *end;

    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno == 0 && *s && *end == 0 && *s != '-' && *out <= max ? 0 : -1;
}

int main(int argc, char **argv)
{
    static br_x509_trust_anchor anchors[MAX_ANCHORS];
    static br_x509_pkey pin;
    static char id[SEED_ID_MAX + 1];
    struct seed_settings s = {.port = 8883};
    struct seed_port port = {
        .open = port_open,
        .close = port_close,
        .now_ms = port_now_ms,
        .unix_time = port_unix_time,
        .wait = port_wait,
        .random = port_random,
        .print = port_print,
        .stop = &stop_flag,
        /* seed NULL: BearSSL reads the OS's random source */
    };
    const char *cafile = NULL, *pinfile = NULL;
    struct sigaction sa;
    unsigned long v;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;

        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (val == NULL) {
            takes = 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--host")) {
            s.host = val;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--port")) {
            if (number(val, 65535, &v) != 0 || v == 0) {
                fprintf(stderr, "seed-device: -p %s: not a port number\n", val);
                return 2;
            }
            s.port = (uint16_t)v;
        } else if (!strcmp(a, "--cafile")) {
            cafile = val;
        } else if (!strcmp(a, "--pin")) {
            pinfile = val;
        } else if (!strcmp(a, "-i") || !strcmp(a, "--id")) {
            s.id = val;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--pings")) {
            if (number(val, UINT32_MAX, &v) != 0) {
                fprintf(stderr, "seed-device: -n %s: not a number\n", val);
                return 2;
            }
            s.pings = (uint32_t)v;
        } else if (!strcmp(a, "-u") || !strcmp(a, "--username")) {
            s.username = val;
        } else if (!strcmp(a, "-P") || !strcmp(a, "--password")) {
            s.password = val;
        } else {
            takes = 0;
        }
        if (!takes) {
            fprintf(stderr, "seed-device: %s: %s\n", a,
                    val == NULL ? "unknown option, or its value is missing" : "unknown option");
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (s.host == NULL || (cafile == NULL) == (pinfile == NULL)) {
        fputs("seed-device: give -h HOST and one of --cafile CA.pem or --pin KEY\n", stderr);
        usage(stderr);
        return 2;
    }
    if (s.password && !s.username) {
        fputs("seed-device: -P needs -u (MQTT 3.1.1 sends no password without a user name)\n",
              stderr);
        return 2;
    }
    if (s.id == NULL) {
        char host[256] = "";

        gethostname(host, sizeof host - 1);
        strcpy(id, "seed-");
        strncat(id, host[0] ? host : "device", SEED_ID_MAX - 5); /* cut to SEED_ID_MAX */
        s.id = id;
    }
    if (cafile && load_anchors(cafile, anchors, &s.anchor_count) != 0)
        return 1;
    if (cafile)
        s.anchors = anchors;
    if (pinfile && load_pin(pinfile, &pin) != 0)
        return 1;
    if (pinfile)
        s.pin = &pin;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* and no SA_RESTART: poll returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());

    return seed_device_run(&s, &port) == MOTE_OK ? 0 : 1;
}
