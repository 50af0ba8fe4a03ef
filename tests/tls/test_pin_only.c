/*
 * test_pin_only.c - lib/tls built with MOTE_TLS_PIN_ONLY (this program, its harness and lib/tls
 * all compiled with it): no room for BearSSL's chain validator, anchors refused, and a pinned
 * key still completes a real handshake (openssl s_server on 127.0.0.1).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "harness.h"

#ifndef MOTE_TLS_PIN_ONLY
#error "build this test with MOTE_TLS_PIN_ONLY"
#endif

static struct mote_tls tls;
static uint8_t iobuf[MOTE_TLS_IOBUF_MONO(512)];

static void the_validator_is_left_out(void **state)
{
    (void)state;
    printf("    sizeof(struct mote_tls) = %zu with MOTE_TLS_PIN_ONLY (x509 minimal: %zu)\n",
           sizeof(struct mote_tls), sizeof(br_x509_minimal_context));
    /* The union holds only the pinned-key checker now. */
    assert_true(sizeof tls.x == sizeof(br_x509_knownkey_context));
}

static void anchors_are_refused(void **state)
{
    static uint8_t pem[4096], work[512];
    br_x509_trust_anchor ta;
    struct mote_error err;
    size_t n;
    (void)state;
    harness_certs();
    n = harness_file("ca.pem", pem, sizeof pem);
    assert_int_equal(mote_tls_anchor_from_pem(pem, n, work, sizeof work, &ta, &err), MOTE_OK);
    struct mote_tls_config c = {.host = "localhost", .anchors = &ta, .anchor_count = 1};
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, &err), MOTE_ERR_BAD_ARG);
    assert_non_null(err.what);
    assert_non_null(strstr(err.what, "pin-only"));
}

static void a_pinned_key_completes_a_handshake(void **state)
{
    static uint8_t pub[256];
    br_x509_pkey pin;
    struct mote_error err;
    struct server srv;
    struct sock k;
    struct mote_transport tcp, secure;
    size_t n;
    (void)state;
    n = harness_file("server.pub.der", pub, sizeof pub);
    assert_int_equal(mote_tls_pin_from_der(pub, n, &pin, &err), MOTE_OK);
    struct mote_tls_config c = {.host = "localhost", .pin = &pin};
    server_s_server(&srv, "server.pem", "server.key", NULL);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, &err), MOTE_OK);
    assert_int_equal(sock_connect(&k, srv.port), 0);
    tcp = sock_transport(&k);
    assert_int_equal(mote_tls_transport(&tls, &tcp, &secure), MOTE_OK);
    assert_int_equal(harness_handshake(&tls), MOTE_OK);
    mote_tls_close(&tls);
    sock_close(&k);
    server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_validator_is_left_out),
        cmocka_unit_test(anchors_are_refused),
        cmocka_unit_test(a_pinned_key_completes_a_handshake),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    harness_stop_all();
    return rc;
}
