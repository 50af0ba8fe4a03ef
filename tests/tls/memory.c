/*
 * memory.c - the RAM figures of docs/tls.md, measured: the size of struct mote_tls and its parts,
 * and the peak stack of a verified handshake (plus CONNECT/CONNACK) with 512-byte records,
 * against mosquitto with an ECDSA P-256 chain and with an RSA-2048 chain of two certificates,
 * and with a pinned key. Built without sanitizers (they inflate the stack); run by ctest as
 * tls.memory, which passes when every handshake succeeds.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define STACK_SIZE (256 * 1024)
#define PAINT 0xa5

static struct mote_tls tls;
static uint8_t iobuf[MOTE_TLS_IOBUF_MONO(512)];

struct job {
    const struct mote_tls_config *cfg;
    int port;
    int rc;
};

static void *run(void *arg)
{
    struct job *j = arg;
    struct sock k;
    struct mote_transport tcp, t;
    uint8_t pkt[64], type;

    j->rc = -1;
    if (j->cfg == NULL) /* the baseline: a thread that does nothing */
        return NULL;
    if (mote_tls_init(&tls, j->cfg, iobuf, sizeof iobuf, NULL) != MOTE_OK ||
        sock_connect(&k, j->port) != 0)
        return NULL;
    tcp = sock_transport(&k);
    mote_tls_transport(&tls, &tcp, &t);
    j->rc = harness_handshake(&tls);
    if (j->rc == MOTE_OK) {
        j->rc = harness_write(&t, pkt, mqtt_connect(pkt, "mote-memory"));
        if (j->rc == MOTE_OK && mqtt_read(&t, &type, pkt, sizeof pkt) != 2)
            j->rc = -2;
    }
    mote_tls_close(&tls);
    sock_close(&k);
    return NULL;
}

/* Bytes of stack the job touched, on a painted stack of its own. */
static size_t stack_peak(struct job *j)
{
    pthread_attr_t attr;
    pthread_t th;
    uint8_t *stack = malloc(STACK_SIZE);
    size_t low = 0;

    if (stack == NULL)
        exit(2);
    memset(stack, PAINT, STACK_SIZE);
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, stack, STACK_SIZE);
    if (pthread_create(&th, &attr, run, j) != 0)
        exit(2);
    pthread_join(th, NULL);
    while (low < STACK_SIZE && stack[low] == PAINT)
        low++;
    free(stack);
    return STACK_SIZE - low;
}

int main(void)
{
    static uint8_t pem[4096], der[4096], work[1024], pub[512];
    br_x509_trust_anchor ec_ta, rsa_ta;
    br_x509_pkey pin;
    struct mote_tls_config ec = {
        .host = "localhost", .anchors = &ec_ta, .anchor_count = 1, .unix_time = clock_now};
    struct mote_tls_config rsa = ec, pinned = {.host = "localhost", .pin = &pin};
    struct server mq_ec, mq_rsa;
    struct job base = {NULL, 0, 0};
    size_t n, base_peak;
    int failed = 0;
    struct {
        const char *what;
        struct mote_tls_config *cfg;
        struct server *srv;
    } runs[] = {
        {"ECDSA P-256 chain, CA anchor", &ec, &mq_ec},
        {"RSA-2048 leaf + intermediate, CA anchor", &rsa, &mq_rsa},
        {"ECDSA P-256, pinned key", &pinned, &mq_ec},
    };

    n = harness_file("ca.pem", pem, sizeof pem);
    if (mote_tls_anchor_from_pem(pem, n, work, 512, &ec_ta, NULL) != MOTE_OK)
        return 2;
    n = harness_file("rsa_root.der", der, sizeof der);
    if (mote_tls_anchor_from_der(der, n, work + 512, 512, &rsa_ta, NULL) != MOTE_OK)
        return 2;
    rsa.anchors = &rsa_ta;
    n = harness_file("server.pub.der", pub, sizeof pub);
    if (mote_tls_pin_from_der(pub, n, &pin, NULL) != MOTE_OK)
        return 2;

    printf("struct mote_tls            %6zu bytes (this host, %zu-bit pointers)\n", sizeof tls,
           sizeof(void *) * 8);
    printf("  br_ssl_client_context    %6zu\n", sizeof tls.sc);
    printf("  br_x509_minimal_context  %6zu (union with the pinned-key checker, %zu)\n",
           sizeof tls.x.minimal, sizeof tls.x.known);
    printf("  br_ssl_session_params    %6zu\n", sizeof tls.session);
    printf("  struct mote_tls_detail   %6zu\n", sizeof tls.detail);
    printf("  certificate reader       %6zu\n", sizeof tls.scan);
    printf("  record reader            %6zu\n", sizeof tls.rec);
    printf("  config, error, the rest  %6zu\n", sizeof tls - sizeof tls.sc - sizeof tls.x -
                                                    sizeof tls.session - sizeof tls.detail -
                                                    sizeof tls.scan - sizeof tls.rec);
    printf("record buffer (512-byte records, half duplex) %zu bytes\n", sizeof iobuf);

    server_mosquitto(&mq_ec, "server.pem", "server.key", NULL, 0);
    server_mosquitto(&mq_rsa, "rsa_server_chain.pem", "rsa_server.key", NULL, 0);
    base_peak = stack_peak(&base);
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        struct job j = {runs[i].cfg, runs[i].srv->port, 0};
        size_t peak = stack_peak(&j) - base_peak;

        printf("%-42s handshake + CONNACK: %s, stack peak %zu bytes; total with the struct "
               "and buffer %zu bytes\n",
               runs[i].what, j.rc == MOTE_OK ? "ok" : mote_err_name(j.rc), peak,
               peak + sizeof tls + sizeof iobuf);
        failed |= j.rc != MOTE_OK;
    }
    server_stop(&mq_ec);
    server_stop(&mq_rsa);
    printf("%d passed, %d failed\n", failed ? 0 : 1, failed ? 1 : 0);
    return failed;
}
