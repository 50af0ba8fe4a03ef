/*
 * nomfl_proxy.c - a TLS front for a plain MQTT broker that ignores max_fragment_length, as Go's
 * crypto/tls and the cloud brokers built on it do: BearSSL's server engine, told that its own
 * record limit is already 512 bytes, neither confirms a client's max_fragment_length nor lowers
 * its records (they stay up to 16384 bytes). tests/cli/run.py compiles it (cc ... -lbearssl) to
 * show `mote doctor` a server that ignores the extension.
 *
 *   nomfl_proxy CERT.pem KEY.pem UPSTREAM_PORT     prints its own port, then serves (forks per
 *                                                  connection) until killed
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bearssl.h>

static unsigned char der[2][8192];
static size_t der_len[2];
static int which;

static void pem_out(void *ctx, const void *src, size_t len)
{
    (void)ctx;
    if (der_len[which] + len <= sizeof der[which])
        memcpy(der[which] + der_len[which], src, len);
    der_len[which] += len;
}

/* The first PEM object of @p path, as DER, into der[slot]. */
static int pem_file(const char *path, int slot)
{
    static unsigned char text[16384];
    FILE *f = fopen(path, "rb");
    size_t n, off = 0;
    br_pem_decoder_context pc;
    int inside = 0;

    if (!f)
        return -1;
    n = fread(text, 1, sizeof text, f);
    fclose(f);
    which = slot;
    der_len[slot] = 0;
    br_pem_decoder_init(&pc);
    while (off < n) {
        off += br_pem_decoder_push(&pc, text + off, n - off);
        switch (br_pem_decoder_event(&pc)) {
        case BR_PEM_BEGIN_OBJ:
            br_pem_decoder_setdest(&pc, pem_out, NULL);
            inside = 1;
            break;
        case BR_PEM_END_OBJ:
            return inside ? 0 : -1;
        case BR_PEM_ERROR:
            return -1;
        }
    }
    return -1;
}

static int connect_upstream(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    return fd;
}

/* Moves bytes between the TLS client on @p fd and the plain broker on @p up until either ends. */
static void relay(br_ssl_engine_context *eng, int fd, int up)
{
    for (;;) {
        unsigned st = br_ssl_engine_current_state(eng);
        unsigned char *buf;
        size_t len;
        ssize_t n;
        struct pollfd p[2] = {{.fd = fd}, {.fd = up}};

        if (st & BR_SSL_CLOSED)
            return;
        if (st & BR_SSL_SENDREC) {
            buf = br_ssl_engine_sendrec_buf(eng, &len);
            n = write(fd, buf, len);
            if (n <= 0)
                return;
            br_ssl_engine_sendrec_ack(eng, (size_t)n);
            continue;
        }
        if (st & BR_SSL_RECVAPP) {
            buf = br_ssl_engine_recvapp_buf(eng, &len);
            n = write(up, buf, len);
            if (n <= 0)
                return;
            br_ssl_engine_recvapp_ack(eng, (size_t)n);
            continue;
        }
        p[0].events = (st & BR_SSL_RECVREC) ? POLLIN : 0;
        p[1].events = (st & BR_SSL_SENDAPP) ? POLLIN : 0;
        if (poll(p, 2, 30000) <= 0)
            return;
        if (p[0].revents) {
            buf = br_ssl_engine_recvrec_buf(eng, &len);
            n = read(fd, buf, len);
            if (n <= 0)
                return;
            br_ssl_engine_recvrec_ack(eng, (size_t)n);
        }
        if (p[1].revents && (br_ssl_engine_current_state(eng) & BR_SSL_SENDAPP)) {
            buf = br_ssl_engine_sendapp_buf(eng, &len);
            n = read(up, buf, len);
            if (n <= 0) {
                br_ssl_engine_close(eng);
                continue;
            }
            br_ssl_engine_sendapp_ack(eng, (size_t)n);
            br_ssl_engine_flush(eng, 0);
        }
    }
}

int main(int argc, char **argv)
{
    static br_ssl_server_context sc;
    static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
    br_skey_decoder_context kd;
    br_x509_certificate chain;
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;
    int lfd, one = 1, upstream;

    if (argc != 4) {
        fprintf(stderr, "usage: nomfl_proxy CERT.pem KEY.pem UPSTREAM_PORT\n");
        return 2;
    }
    upstream = atoi(argv[3]);
    if (pem_file(argv[1], 0) || pem_file(argv[2], 1)) {
        fprintf(stderr, "nomfl_proxy: cannot read %s or %s\n", argv[1], argv[2]);
        return 1;
    }
    chain.data = der[0];
    chain.data_len = der_len[0];
    br_skey_decoder_init(&kd);
    br_skey_decoder_push(&kd, der[1], der_len[1]);
    if (!br_skey_decoder_get_ec(&kd)) {
        fprintf(stderr, "nomfl_proxy: %s is not an EC key\n", argv[2]);
        return 1;
    }
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 16) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
        perror("nomfl_proxy: listen");
        return 1;
    }
    printf("%u\n", ntohs(a.sin_port));
    fflush(stdout);
    signal(SIGCHLD, SIG_IGN); /* no zombies */
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int fd = accept(lfd, NULL, NULL), up;

        if (fd < 0)
            continue;
        if (fork() != 0) {
            close(fd);
            continue;
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(lfd);
        up = connect_upstream(upstream);
        if (up < 0)
            _exit(1);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        br_ssl_server_init_full_ec(&sc, &chain, 1, BR_KEYTYPE_EC, br_skey_decoder_get_ec(&kd));
        br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof iobuf, 1);
        /* The misbehaviour: its own limit "already" 512, so it ignores the client's extension
         * and still sends records of up to 16384 bytes. */
        sc.eng.log_max_frag_len = 9;
        if (br_ssl_server_reset(&sc))
            relay(&sc.eng, fd, up);
        _exit(0);
    }
}
