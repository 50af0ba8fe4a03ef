/*
 * bearssl_connect.c - a device's view of a header from `mote certs embed`: BearSSL's TLS 1.2
 * client, in 512-byte records, trusting only MOTE_TRUST_ANCHORS (or only MOTE_PINNED_KEY), and
 * presenting MOTE_CLIENT_CHAIN when the header has one, connects to a broker on 127.0.0.1, sends
 * an MQTT 3.1.1 CONNECT and expects CONNACK "accepted". Built by tests/certs/test.sh:
 *   cc -DMOTE_CERTS_HEADER='"mote_ca.h"' bearssl_connect.c -lbearssl
 *   bearssl_connect NAME PORT [anchors|pin]   exit 0: CONNACK accepted; 1: the reason
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include MOTE_CERTS_HEADER

static int sock_read(void *ctx, unsigned char *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(*(int *)ctx, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        return n <= 0 ? -1 : (int)n;
    }
}

static int sock_write(void *ctx, const unsigned char *buf, size_t len)
{
    for (;;) {
        ssize_t n = write(*(int *)ctx, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        return n <= 0 ? -1 : (int)n;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: bearssl_connect NAME PORT [anchors|pin]\n");
        return 2;
    }
    const char *name = argv[1];
    int use_pin = argc == 4 && !strcmp(argv[3], "pin");

    static br_ssl_client_context sc;
    static br_x509_minimal_context xc;
    /* 512-byte records, one buffer for both directions: what an ESP8266 can spare. BearSSL asks
     * the server for max_fragment_length 512 because the buffer is this small. */
    static unsigned char iobuf[512 + 325];
    br_ssl_client_init_full(&sc, &xc, MOTE_TRUST_ANCHORS, MOTE_TRUST_ANCHORS_NUM);
    br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof iobuf, 0);

#ifdef MOTE_SERVER_PIN_KEYTYPE
    static br_x509_knownkey_context kc;
    if (use_pin) {
#if MOTE_SERVER_PIN_KEYTYPE == BR_KEYTYPE_EC
        br_x509_knownkey_init_ec(&kc, &MOTE_PINNED_KEY.key.ec, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
#else
        br_x509_knownkey_init_rsa(&kc, &MOTE_PINNED_KEY.key.rsa, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
#endif
        br_ssl_engine_set_x509(&sc.eng, &kc.vtable);
    }
#else
    if (use_pin) {
        fprintf(stderr, "bearssl_connect: the header has no MOTE_PINNED_KEY\n");
        return 2;
    }
#endif

#ifdef MOTE_CLIENT_CHAIN_NUM
#if MOTE_CLIENT_KEYTYPE == BR_KEYTYPE_EC
    br_ssl_client_set_single_ec(&sc, MOTE_CLIENT_CHAIN, MOTE_CLIENT_CHAIN_NUM, &MOTE_CLIENT_EC_KEY,
                                BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN, MOTE_CLIENT_ISSUER_KEYTYPE,
                                br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
#else
    br_ssl_client_set_single_rsa(&sc, MOTE_CLIENT_CHAIN, MOTE_CLIENT_CHAIN_NUM,
                                 &MOTE_CLIENT_RSA_KEY, br_rsa_pkcs1_sign_get_default());
#endif
#endif

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("bearssl_connect: connect");
        return 1;
    }
    br_ssl_client_reset(&sc, name, 0);
    br_sslio_context io;
    br_sslio_init(&io, &sc.eng, sock_read, &fd, sock_write, &fd);

    static const unsigned char connect_pkt[] = {0x10, 27,  0,   4,   'M', 'Q', 'T', 'T', 4,   0x02,
                                                0,    60,  0,   15,  'm', 'o', 't', 'e', '-', 'c',
                                                'e',  'r', 't', 's', '-', 't', 'e', 's', 't'};
    static const unsigned char disconnect_pkt[] = {0xE0, 0};
    unsigned char connack[4];
    int ok = br_sslio_write_all(&io, connect_pkt, sizeof connect_pkt) == 0 &&
             br_sslio_flush(&io) == 0 && br_sslio_read_all(&io, connack, sizeof connack) == 0;
    int err = br_ssl_engine_last_error(&sc.eng);
    if (!ok) {
        fprintf(stderr, "bearssl_connect: %s:%s, %s: BearSSL error %d\n", name, argv[2],
                use_pin ? "pin" : "anchors", err);
        close(fd);
        return 1;
    }
    if (memcmp(connack, "\x20\x02\x00\x00", 4)) {
        fprintf(stderr, "bearssl_connect: CONNACK %02x %02x %02x %02x, not accepted\n", connack[0],
                connack[1], connack[2], connack[3]);
        close(fd);
        return 1;
    }
    br_sslio_write_all(&io, disconnect_pkt, sizeof disconnect_pkt);
    br_sslio_close(&io);
    close(fd);
    printf("bearssl_connect: TLS 1.2 (%s), 512-byte records, %s%s: CONNACK accepted\n",
           br_ssl_engine_get_version(&sc.eng) == BR_TLS12 ? "0x0303" : "?",
           use_pin ? "pinned key" : "embedded anchors",
#ifdef MOTE_CLIENT_CHAIN_NUM
           ", client certificate"
#else
           ""
#endif
    );
    return 0;
}
