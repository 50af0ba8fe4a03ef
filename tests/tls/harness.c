/*
 * harness.c - servers, sockets and MQTT bytes for the TLS tests (see harness.h). Servers are
 * child processes of the test, stopped by their pid; their output goes to a log file in the
 * certificate directory, which is removed at exit unless MOTE_TLS_KEEP is set.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MOTE_TLS_MAKE_CERTS
#error "MOTE_TLS_MAKE_CERTS must name tests/tls/make_certs.sh"
#endif
#ifndef MOTE_MOSQUITTO
#define MOTE_MOSQUITTO "/usr/sbin/mosquitto"
#endif

static char certs_dir[256];
static pid_t running[16]; /* servers started and not yet stopped */

static void track(pid_t pid)
{
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++)
        if (running[i] == 0) {
            running[i] = pid;
            return;
        }
}

static void untrack(pid_t pid)
{
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++)
        if (running[i] == pid)
            running[i] = 0;
}

void harness_stop_all(void)
{
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++)
        if (running[i] > 0) {
            struct server s = {running[i], 0};
            server_stop(&s);
        }
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "harness: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(2);
}

static void remove_certs(void)
{
    char cmd[PATH_MAX + 16];

    if (certs_dir[0] == 0 || getenv("MOTE_TLS_KEEP"))
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", certs_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "harness: could not remove %s\n", certs_dir);
}

const char *harness_certs(void)
{
    char cmd[2048];

    if (certs_dir[0])
        return certs_dir;
    snprintf(certs_dir, sizeof certs_dir, "%s/mote-tls-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(certs_dir) == NULL)
        die("mkdtemp %s failed", certs_dir);
    atexit(remove_certs);
    atexit(harness_stop_all);
    snprintf(cmd, sizeof cmd, "bash '%s' '%s' >'%s/make_certs.log' 2>&1", MOTE_TLS_MAKE_CERTS,
             certs_dir, certs_dir);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "cat '%s/make_certs.log' >&2", certs_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "harness: no log\n");
        die("%s failed (is the openssl command installed?)", MOTE_TLS_MAKE_CERTS);
    }
    return certs_dir;
}

size_t harness_file(const char *name, uint8_t *buf, size_t cap)
{
    char path[PATH_MAX];
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "%s/%s", harness_certs(), name);
    f = fopen(path, "rb");
    if (f == NULL)
        die("cannot open %s", path);
    n = fread(buf, 1, cap, f);
    if (!feof(f))
        die("%s does not fit the test's buffer", path);
    fclose(f);
    return n;
}

int64_t clock_now(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

int64_t clock_unknown(void *ctx)
{
    (void)ctx;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Servers
 * ------------------------------------------------------------------------------------------- */

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("cannot find a free port: %s", strerror(errno));
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Waits until something accepts on the port (10 s), or the server died. */
static void wait_ready(struct server *s, const char *what)
{
    for (int i = 0; i < 1000; i++) {
        struct sock k;
        int status;

        if (sock_connect(&k, s->port) == 0) {
            sock_close(&k);
            return;
        }
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            untrack(s->pid);
            s->pid = 0;
            die("%s exited before it listened: see its log in the certificate directory", what);
        }
        usleep(10000);
    }
    die("%s did not listen within 10 s", what);
}

static void spawn(struct server *s, const char *log_name, char *const argv[])
{
    char log_path[PATH_MAX];

    snprintf(log_path, sizeof log_path, "%s/%s-%d.log", harness_certs(), log_name, s->port);
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0)
        die("fork: %s", strerror(errno));
    if (s->pid == 0) {
        int out = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0 || chdir(harness_certs()) != 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    track(s->pid);
    wait_ready(s, argv[0]);
}

void server_s_server(struct server *s, const char *cert, const char *key, const char *const *extra)
{
    char accept[32];
    char *argv[32];
    int n = 0;

    s->port = free_port();
    snprintf(accept, sizeof accept, "127.0.0.1:%d", s->port);
    argv[n++] = "openssl";
    argv[n++] = "s_server";
    argv[n++] = "-accept";
    argv[n++] = accept;
    argv[n++] = "-cert";
    argv[n++] = (char *)cert;
    argv[n++] = "-key";
    argv[n++] = (char *)key;
    argv[n++] = "-rev";
    for (; extra && *extra && n < 31; extra++)
        argv[n++] = (char *)*extra;
    argv[n] = NULL;
    spawn(s, "s_server", argv);
}

void server_mosquitto(struct server *s, const char *certfile, const char *keyfile,
                      const char *cafile, int require_certificate)
{
    char conf[PATH_MAX];
    char *argv[4];
    FILE *f;

    s->port = free_port();
    snprintf(conf, sizeof conf, "%s/mosquitto-%d.conf", harness_certs(), s->port);
    f = fopen(conf, "w");
    if (f == NULL)
        die("cannot write %s", conf);
    /* as root, mosquitto would switch to its own user, which cannot read our 0700 directory */
    fprintf(f, "%s", getuid() == 0 ? "user root\n" : "");
    fprintf(f,
            "persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n"
            "listener %d 127.0.0.1\nallow_anonymous true\ntls_version tlsv1.2\n"
            "certfile %s/%s\nkeyfile %s/%s\n",
            s->port, harness_certs(), certfile, harness_certs(), keyfile);
    if (cafile)
        fprintf(f, "cafile %s/%s\n", harness_certs(), cafile);
    fprintf(f, "require_certificate %s\n", require_certificate ? "true" : "false");
    fclose(f);
    argv[0] = MOTE_MOSQUITTO;
    argv[1] = "-c";
    argv[2] = conf;
    argv[3] = NULL;
    spawn(s, "mosquitto", argv);
}

void server_moted(struct server *s, const char *moted, const char *certfile, const char *keyfile)
{
    char conf[PATH_MAX];
    char *argv[4];
    FILE *f;

    s->port = free_port();
    snprintf(conf, sizeof conf, "%s/moted-%d.conf", harness_certs(), s->port);
    f = fopen(conf, "w");
    if (f == NULL)
        die("cannot write %s", conf);
    fprintf(f,
            "listener %d 127.0.0.1\nallow_anonymous true\ncertfile %s/%s\nkeyfile %s/%s\n"
            "log_dest stderr\nlog_type all\n",
            s->port, harness_certs(), certfile, harness_certs(), keyfile);
    fclose(f);
    argv[0] = (char *)moted;
    argv[1] = "-c";
    argv[2] = conf;
    argv[3] = NULL;
    spawn(s, "moted", argv);
}

int harness_server_log_has(const struct server *s, const char *log_name, const char *needle)
{
    static char text[1 << 20];
    char path[PATH_MAX];
    size_t n;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s-%d.log", harness_certs(), log_name, s->port);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    return strstr(text, needle) != NULL;
}

void server_stop(struct server *s)
{
    int status;

    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, &status, 0);
        untrack(s->pid);
    }
    s->pid = 0;
}

/* ---------------------------------------------------------------------------------------------
 * A BearSSL server that does not honour max_fragment_length
 * ------------------------------------------------------------------------------------------- */

static int io_read(void *ctx, unsigned char *buf, size_t len)
{
    ssize_t r = read(*(int *)ctx, buf, len);
    return r > 0 ? (int)r : -1;
}

static int io_write(void *ctx, const unsigned char *buf, size_t len)
{
    ssize_t r = write(*(int *)ctx, buf, len);
    return r > 0 ? (int)r : -1;
}

static void no_mfl_serve(int lfd, size_t reply_len)
{
    static uint8_t leaf[4096], inter[4096], pem[8192], der[8192], iobuf[BR_SSL_BUFSIZE_BIDI];
    static uint8_t reply[16384];
    static br_ssl_server_context sc;
    static br_skey_decoder_context kd;
    br_x509_certificate chain[2];
    size_t der_len;

    chain[0].data = leaf;
    chain[0].data_len = harness_file("rsa_server.der", leaf, sizeof leaf);
    chain[1].data = inter;
    chain[1].data_len = harness_file("rsa_inter.der", inter, sizeof inter);
    if (mote_tls_pem_to_der(pem, harness_file("rsa_server.key", pem, sizeof pem), der, sizeof der,
                            &der_len, NULL) != MOTE_OK)
        _exit(3);
    br_skey_decoder_init(&kd);
    br_skey_decoder_push(&kd, der, der_len);
    if (br_skey_decoder_get_rsa(&kd) == NULL)
        _exit(4);
    memset(reply, 'r', sizeof reply);
    if (reply_len > sizeof reply)
        reply_len = sizeof reply;

    for (;;) {
        br_sslio_context io;
        unsigned char b;
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0)
            continue;
        br_ssl_server_init_full_rsa(&sc, chain, 2, br_skey_decoder_get_rsa(&kd));
        br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof iobuf, 1);
        /*
         * The misbehaviour under test. BearSSL, like OpenSSL, honours a client's
         * max_fragment_length when it is below its own; telling the engine its own limit is
         * already 512 bytes makes it neither confirm the extension nor reduce its records (still
         * up to 16384 bytes): what a server without the extension (Go, AWS IoT) does.
         */
        sc.eng.log_max_frag_len = 9;
        if (br_ssl_server_reset(&sc)) {
            br_sslio_init(&io, &sc.eng, io_read, &fd, io_write, &fd);
            if (br_sslio_read(&io, &b, 1) == 1) {
                br_sslio_write_all(&io, reply, reply_len);
                br_sslio_flush(&io);
            }
        }
        close(fd);
    }
}

void server_no_mfl(struct server *s, size_t reply_len)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1, lfd;

    harness_certs();
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 8) != 0)
        die("no_mfl server: %s", strerror(errno));
    {
        socklen_t len = sizeof a;
        getsockname(lfd, (struct sockaddr *)&a, &len);
        s->port = ntohs(a.sin_port);
    }
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0)
        die("fork: %s", strerror(errno));
    if (s->pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        no_mfl_serve(lfd, reply_len);
        _exit(0);
    }
    track(s->pid);
    close(lfd);
}

/* ---------------------------------------------------------------------------------------------
 * Sockets
 * ------------------------------------------------------------------------------------------- */

int sock_connect(struct sock *k, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;

    memset(k, 0, sizeof *k);
    k->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (k->fd < 0)
        return -1;
    if (connect(k->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(k->fd);
        k->fd = -1;
        return -1;
    }
    setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

void sock_close(struct sock *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
}

static int32_t sock_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct sock *k = ctx;
    ssize_t r;

    if (k->stutter) {
        if (k->calls++ % 2 == 0)
            return 0;
        if (len > 7)
            len = 7;
    }
    r = send(k->fd, buf, len, MSG_NOSIGNAL);
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : MOTE_ERR_IO;
    return (int32_t)r;
}

static int32_t sock_recv(void *ctx, uint8_t *buf, size_t len)
{
    struct sock *k = ctx;
    struct pollfd p = {.fd = k->fd, .events = POLLIN};
    ssize_t r;

    if (k->stutter) {
        if (k->calls++ % 2 == 0)
            return 0;
        if (len > 3)
            len = 3;
    }
    if (poll(&p, 1, 100) == 0)
        return 0;
    r = recv(k->fd, buf, len, 0);
    if (r == 0)
        return MOTE_ERR_CLOSED;
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : MOTE_ERR_IO;
    return (int32_t)r;
}

struct mote_transport sock_transport(struct sock *k)
{
    struct mote_transport t = {k, sock_send, sock_recv};
    return t;
}

/* ---------------------------------------------------------------------------------------------
 * Driving a TLS transport
 * ------------------------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int harness_handshake(struct mote_tls *t)
{
    double end = now_s() + 10;

    while (now_s() < end) {
        int rc = mote_tls_handshake(t);
        if (rc != MOTE_NEED_MORE)
            return rc;
    }
    return MOTE_ERR_TCP_TIMEOUT;
}

int harness_write(const struct mote_transport *t, const uint8_t *buf, size_t len)
{
    double end = now_s() + 5;

    while (len > 0) {
        int32_t r = t->send(t->ctx, buf, len);
        if (r < 0)
            return r;
        if (r == 0 && now_s() > end)
            return MOTE_ERR_TCP_TIMEOUT;
        if (r == 0)
            usleep(1000);
        buf += r;
        len -= (size_t)r;
    }
    return MOTE_OK;
}

int harness_read(const struct mote_transport *t, uint8_t *buf, size_t len)
{
    double end = now_s() + 5;

    while (len > 0) {
        int32_t r = t->recv(t->ctx, buf, len);
        if (r < 0)
            return r;
        if (r == 0 && now_s() > end)
            return MOTE_ERR_TCP_TIMEOUT;
        buf += r;
        len -= (size_t)r;
    }
    return MOTE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * MQTT 3.1.1 in raw bytes
 * ------------------------------------------------------------------------------------------- */

static size_t put_varint(uint8_t *p, size_t v)
{
    size_t n = 0;
    do {
        p[n] = (uint8_t)(v % 128);
        v /= 128;
        if (v)
            p[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

static size_t put_str(uint8_t *p, const char *s)
{
    size_t len = strlen(s);
    p[0] = (uint8_t)(len >> 8);
    p[1] = (uint8_t)len;
    memcpy(p + 2, s, len);
    return len + 2;
}

size_t mqtt_connect(uint8_t *buf, const char *client_id)
{
    static const uint8_t head[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60};
    size_t n = 0, body = sizeof head + 2 + strlen(client_id);

    buf[n++] = 0x10;
    n += put_varint(buf + n, body);
    memcpy(buf + n, head, sizeof head);
    n += sizeof head;
    n += put_str(buf + n, client_id);
    return n;
}

size_t mqtt_subscribe(uint8_t *buf, const char *topic)
{
    size_t n = 0;

    buf[n++] = 0x82;
    n += put_varint(buf + n, 2 + 2 + strlen(topic) + 1);
    buf[n++] = 0;
    buf[n++] = 1;
    n += put_str(buf + n, topic);
    buf[n++] = 0;
    return n;
}

size_t mqtt_publish(uint8_t *buf, const char *topic, const uint8_t *payload, size_t len)
{
    size_t n = 0;

    buf[n++] = 0x30;
    n += put_varint(buf + n, 2 + strlen(topic) + len);
    n += put_str(buf + n, topic);
    memcpy(buf + n, payload, len);
    return n + len;
}

int mqtt_read(const struct mote_transport *t, uint8_t *type, uint8_t *buf, size_t cap)
{
    size_t len = 0, mult = 1;
    uint8_t b;
    int rc = harness_read(t, type, 1);

    for (int i = 0; rc == MOTE_OK && i < 4; i++) {
        rc = harness_read(t, &b, 1);
        len += (size_t)(b & 0x7f) * mult;
        mult *= 128;
        if (!(b & 0x80))
            break;
    }
    if (rc != MOTE_OK)
        return rc;
    if (len > cap)
        return MOTE_ERR_BUFFER_TOO_SMALL;
    rc = harness_read(t, buf, len);
    return rc == MOTE_OK ? (int)len : rc;
}
