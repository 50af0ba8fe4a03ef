/*
 * test_moted.c - the proof: libmote's BearSSL client with 512-byte record buffers
 * completes a verified handshake with moted although moted's chain (RSA-2048 leaf + intermediate)
 * is far larger than 512 bytes, then carries MQTT both ways with messages larger than one record.
 * A recording transport under TLS reads every record header moted sends, so "no record exceeded
 * the buffer" is measured on the wire, not inferred. Usage: tls_moted PATH_TO_MOTED.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "harness.h"

static const char *moted_path;
static struct mote_tls tls;
static uint8_t iobuf[MOTE_TLS_IOBUF_MONO(512)]; /* 837 bytes: 512-byte records, half duplex */

/* The records moted sent, read from their 5-byte headers as the bytes arrive. */
struct wire {
    struct mote_transport inner;
    uint8_t hdr[5];
    size_t hdr_have;
    size_t body_left;
    int encrypted;        /* moted's ChangeCipherSpec has gone by */
    unsigned records;     /* every record */
    unsigned hs_records;  /* plaintext handshake records (ServerHello .. ServerHelloDone) */
    size_t hs_bytes;      /* their total length: the certificate chain is most of it */
    size_t max_plain;     /* longest plaintext record (handshake, CCS, alerts) */
    size_t max_record;    /* longest record of any kind, header excluded */
    unsigned app_records; /* application data records */
};

static void wire_scan(struct wire *w, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (w->body_left > 0) {
            size_t k = n < w->body_left ? n : w->body_left;
            w->body_left -= k;
            p += k;
            n -= k;
            continue;
        }
        w->hdr[w->hdr_have++] = *p++;
        n--;
        if (w->hdr_have < sizeof w->hdr)
            continue;
        w->hdr_have = 0;
        w->body_left = (size_t)w->hdr[3] << 8 | w->hdr[4];
        w->records++;
        if (w->body_left > w->max_record)
            w->max_record = w->body_left;
        if (!w->encrypted) {
            if (w->body_left > w->max_plain)
                w->max_plain = w->body_left;
            if (w->hdr[0] == 22) {
                w->hs_records++;
                w->hs_bytes += w->body_left;
            }
        }
        if (w->hdr[0] == 23)
            w->app_records++;
        if (w->hdr[0] == 20) /* ChangeCipherSpec: what follows is encrypted */
            w->encrypted = 1;
    }
}

static int32_t wire_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct wire *w = ctx;
    return w->inner.send(w->inner.ctx, buf, len);
}

static int32_t wire_recv(void *ctx, uint8_t *buf, size_t len)
{
    struct wire *w = ctx;
    int32_t r = w->inner.recv(w->inner.ctx, buf, len);
    if (r > 0)
        wire_scan(w, buf, (size_t)r);
    return r;
}

static int setup(void **state)
{
    (void)state;
    harness_certs();
    return 0;
}

static int stop_servers(void **state)
{
    (void)state;
    harness_stop_all();
    return 0;
}

/* Reads one packet; fails the test unless it is of @type. Returns its body length. */
static int expect_packet(const struct mote_transport *t, uint8_t type, uint8_t *buf, size_t cap)
{
    uint8_t got;
    int n = mqtt_read(t, &got, buf, cap);

    if (n < 0)
        fail_msg("reading a packet: %s (%s)", mote_err_name(n), mote_strerror(n));
    if (got != type)
        fail_msg("expected packet 0x%02x, got 0x%02x", type, got);
    return n;
}

static void bearssl_512_byte_records_through_moted_rsa_chain(void **state)
{
    static uint8_t root_der[2048], anchor_work[1024], payload[1500], pkt[1600];
    br_x509_trust_anchor anchor;
    struct mote_tls_config c = {.host = "localhost", .unix_time = clock_now};
    const struct mote_tls_detail *d = mote_tls_detail(&tls);
    struct server srv;
    struct sock sock;
    struct wire w;
    struct mote_transport tcp, secure;
    size_t n;
    int len;

    (void)state;
    n = harness_file("rsa_root.der", root_der, sizeof root_der);
    assert_int_equal(
        mote_tls_anchor_from_der(root_der, n, anchor_work, sizeof anchor_work, &anchor, NULL),
        MOTE_OK);
    c.anchors = &anchor;
    c.anchor_count = 1;

    server_moted(&srv, moted_path, "rsa_server_chain.pem", "rsa_server.key");
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(sock_connect(&sock, srv.port), 0);
    memset(&w, 0, sizeof w);
    w.inner = sock_transport(&sock);
    tcp = (struct mote_transport){&w, wire_send, wire_recv};
    assert_int_equal(mote_tls_transport(&tls, &tcp, &secure), MOTE_OK);

    /* A verified handshake with the RSA chain: leaf and intermediate up to our root. */
    len = harness_handshake(&tls);
    if (len != MOTE_OK) {
        char line[768];
        fail_msg("handshake with moted: %s", mote_tls_explain_detail(&tls, line, sizeof line));
    }
    assert_int_equal(d->handshake_done, 1);
    assert_int_equal(d->version, 0x0303);
    assert_int_equal(d->chain_len, 2);
    assert_int_equal(d->key_type, MOTE_TLS_KEY_RSA);
    assert_int_equal(d->key_bits, 2048);
    assert_string_equal(d->subject_cn, "mote-rsa-server");
    assert_string_equal(d->issuer_cn, "Mote Test RSA Intermediate");
    assert_string_equal(d->top_issuer_cn, "Mote Test RSA Root");
    /* moted confirmed max_fragment_length, and kept to it from its first message on: the chain
     * alone is over 1500 bytes, yet no plaintext record was longer than 512 bytes */
    assert_int_equal(d->max_fragment, 512);
    assert_int_equal(d->mfl_accepted, 1);
    printf("    moted: suite 0x%04x; %u handshake records, %zu bytes, the longest %zu\n",
           d->cipher_suite, w.hs_records, w.hs_bytes, w.max_plain);
    assert_true(w.hs_bytes > 1500);
    assert_true(w.hs_records >= 4);
    assert_true(w.max_plain <= 512);

    /* MQTT: CONNECT/CONNACK, SUBSCRIBE/SUBACK, then a 1500-byte PUBLISH that comes back. */
    assert_int_equal(harness_write(&secure, pkt, mqtt_connect(pkt, "mote-tls-moted")), MOTE_OK);
    assert_int_equal(expect_packet(&secure, 0x20, pkt, sizeof pkt), 2);
    assert_int_equal(pkt[1], 0);
    assert_int_equal(harness_write(&secure, pkt, mqtt_subscribe(pkt, "mote/moted/big")), MOTE_OK);
    assert_int_equal(expect_packet(&secure, 0x90, pkt, sizeof pkt), 3);
    assert_int_equal(pkt[2], 0); /* granted QoS 0 */
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(
        harness_write(&secure, pkt, mqtt_publish(pkt, "mote/moted/big", payload, sizeof payload)),
        MOTE_OK);
    len = expect_packet(&secure, 0x30, pkt, sizeof pkt);
    assert_int_equal(len, 2 + 14 + (int)sizeof payload);
    assert_memory_equal(pkt + 2 + 14, payload, sizeof payload);

    /* No record, handshake or application data, exceeded the 837-byte buffer: BearSSL would
     * have failed with RECORD_TOO_LARGE, and the headers on the wire agree. */
    assert_int_equal(d->record_len, 0);
    assert_int_equal(mote_tls_error(&tls)->code, MOTE_OK);
    printf("    %u records from moted, the longest %zu bytes + 5 of header (buffer %zu)\n",
           w.records, w.max_record, sizeof iobuf);
    assert_true(w.max_record + 5 <= sizeof iobuf);
    /* CONNACK, SUBACK, and the 1519-byte PUBLISH in at least three records of 512 bytes */
    assert_true(w.app_records >= 5);

    mote_tls_close(&tls);
    sock_close(&sock);
    /* moted's side of the story: its debug line for the handshake says small records */
    assert_true(harness_server_log_has(&srv, "moted", ", small records"));
    server_stop(&srv);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(bearssl_512_byte_records_through_moted_rsa_chain, stop_servers),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH_TO_MOTED\n", argv[0]);
        return 2;
    }
    moted_path = argv[1];
    return cmocka_run_group_tests_name("tls.moted", tests, setup, NULL);
}
