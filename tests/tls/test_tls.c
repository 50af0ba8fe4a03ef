/*
 * test_tls.c - lib/tls against real TLS servers on 127.0.0.1, with certificates made at test time
 * (make_certs.sh): verified handshakes and MQTT through mosquitto, and every error provoked for
 * real, each checked for its code, BearSSL's raw code, and the facts the explanation needs.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "harness.h"

/* ---------------------------------------------------------------------------------------------
 * Fixtures
 * ------------------------------------------------------------------------------------------- */

static struct mote_tls tls;
static uint8_t iobuf[MOTE_TLS_IOBUF_MONO(512)]; /* 837 bytes: 512-byte records */

/* Trust anchors, built at run time from the CA certificates. */
static br_x509_trust_anchor ca_anchor, rsa_anchor, both_anchors[2];
static uint8_t ca_work[512], rsa_work[1024];
/* Keys to pin, read from SubjectPublicKeyInfo DER files. */
static uint8_t pub_server[256], pub_other[256], pub_rsa[512];
static br_x509_pkey pin_server, pin_other, pin_rsa;
/* The client certificate for mutual TLS. */
static uint8_t client_der[2048], client_key_pem[1024], client_key_der[512];
static br_x509_certificate client_chain;
static br_skey_decoder_context client_key;

static int setup_all(void **state)
{
    static uint8_t pem[4096], der[4096];
    struct mote_error err;
    size_t n, der_len;

    (void)state;
    harness_certs();
    n = harness_file("ca.pem", pem, sizeof pem);
    assert_int_equal(mote_tls_anchor_from_pem(pem, n, ca_work, sizeof ca_work, &ca_anchor, &err),
                     MOTE_OK);
    n = harness_file("rsa_root.der", der, sizeof der);
    assert_int_equal(mote_tls_anchor_from_der(der, n, rsa_work, sizeof rsa_work, &rsa_anchor, &err),
                     MOTE_OK);
    assert_true(ca_anchor.flags & BR_X509_TA_CA);
    assert_int_equal(ca_anchor.pkey.key_type, BR_KEYTYPE_EC);
    assert_int_equal(rsa_anchor.pkey.key_type, BR_KEYTYPE_RSA);
    both_anchors[0] = ca_anchor;
    both_anchors[1] = rsa_anchor;

    n = harness_file("server.pub.der", pub_server, sizeof pub_server);
    assert_int_equal(mote_tls_pin_from_der(pub_server, n, &pin_server, &err), MOTE_OK);
    n = harness_file("other_server.pub.der", pub_other, sizeof pub_other);
    assert_int_equal(mote_tls_pin_from_der(pub_other, n, &pin_other, &err), MOTE_OK);
    n = harness_file("rsa_server.pub.der", pub_rsa, sizeof pub_rsa);
    assert_int_equal(mote_tls_pin_from_der(pub_rsa, n, &pin_rsa, &err), MOTE_OK);
    assert_int_equal(pin_rsa.key_type, BR_KEYTYPE_RSA);

    client_chain.data = client_der;
    client_chain.data_len = harness_file("client.der", client_der, sizeof client_der);
    n = harness_file("client.key", client_key_pem, sizeof client_key_pem);
    assert_int_equal(mote_tls_pem_to_der(client_key_pem, n, client_key_der, sizeof client_key_der,
                                         &der_len, &err),
                     MOTE_OK);
    br_skey_decoder_init(&client_key);
    br_skey_decoder_push(&client_key, client_key_der, der_len);
    assert_non_null(br_skey_decoder_get_ec(&client_key));
    return 0;
}

/* A configuration that trusts ca.pem (our EC CA) and uses the real clock. */
static struct mote_tls_config ca_config(const char *host)
{
    struct mote_tls_config c = {
        .host = host, .anchors = &ca_anchor, .anchor_count = 1, .unix_time = clock_now};
    return c;
}

struct session {
    struct sock sock;
    struct mote_transport tcp, tls;
};

/* Connects to the port and runs the handshake; returns its result. */
static int handshake(struct session *s, int port)
{
    assert_int_equal(sock_connect(&s->sock, port), 0);
    s->tcp = sock_transport(&s->sock);
    assert_int_equal(mote_tls_transport(&tls, &s->tcp, &s->tls), MOTE_OK);
    return harness_handshake(&tls);
}

static void end(struct session *s)
{
    mote_tls_close(&tls);
    sock_close(&s->sock);
}

/* Prints the explanation (so the test log shows what a user would read) and checks it. */
static void explained(const char *want)
{
    char line[768];

    mote_tls_explain_detail(&tls, line, sizeof line);
    printf("    explain: %s\n", line);
    if (want && strstr(line, want) == NULL)
        fail_msg("the explanation lacks \"%s\"", want);
}

/* One handshake that must fail with @p code and BearSSL's @p raw (0: any). */
static void expect_failure(struct server *srv, const struct mote_tls_config *cfg, int code, int raw)
{
    struct session s;
    struct mote_error err;
    int rc;

    assert_int_equal(mote_tls_init(&tls, cfg, iobuf, sizeof iobuf, &err), MOTE_OK);
    rc = handshake(&s, srv->port);
    end(&s);
    if (rc != code)
        fail_msg("handshake gave %s (raw %d %s), expected %s", mote_err_name(rc),
                 (int)mote_tls_error(&tls)->raw,
                 mote_tls_bearssl_name((int)mote_tls_error(&tls)->raw), mote_err_name(code));
    assert_int_equal(mote_tls_error(&tls)->code, code);
    assert_int_equal(mote_tls_error(&tls)->layer, MOTE_LAYER_TLS);
    if (raw)
        assert_int_equal(mote_tls_error(&tls)->raw, raw);
}

/* CONNECT, and the broker's CONNACK accepting it. */
static void mqtt_connack(const struct mote_transport *t, const char *id)
{
    uint8_t pkt[128], type;

    assert_int_equal(harness_write(t, pkt, mqtt_connect(pkt, id)), MOTE_OK);
    assert_int_equal(mqtt_read(t, &type, pkt, sizeof pkt), 2);
    assert_int_equal(type, 0x20);
    assert_int_equal(pkt[1], 0); /* accepted */
}

/* ---------------------------------------------------------------------------------------------
 * Set-up errors
 * ------------------------------------------------------------------------------------------- */

static void init_checks_buffer_and_trust(void **state)
{
    struct mote_tls_config c = ca_config("localhost");
    struct mote_error err;
    char line[256];

    (void)state;
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, 836, &err), MOTE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(err.need, 837);
    assert_int_equal(err.have, 836);
    assert_string_equal(err.what, "TLS record buffer");
    c.bidi = 1;
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, &err), MOTE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(err.need, 837 + 597);
    c.bidi = 0;
    c.pin = &pin_server; /* both anchors and a pin */
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, &err), MOTE_ERR_BAD_ARG);
    c = ca_config(NULL); /* anchors but no host to check */
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, &err), MOTE_ERR_BAD_ARG);
    c.skip_host_check = 1;
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, &err), MOTE_OK);
    assert_int_equal(mote_tls_init(NULL, &c, iobuf, sizeof iobuf, &err), MOTE_ERR_BAD_ARG);
    /* the record size we will ask for */
    c = ca_config("localhost");
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, &err), MOTE_OK);
    printf("    sizeof(struct mote_tls) = %zu, record buffer = %zu\n", sizeof tls, sizeof iobuf);
    mote_tls_explain(&(struct mote_error){.code = MOTE_ERR_TLS_RECORD_TOO_LARGE,
                                          .need = 2050,
                                          .have = 837,
                                          .raw = BR_ERR_TOO_LARGE},
                     line, sizeof line);
    assert_non_null(strstr(line, "record larger than our buffer: the server ignored "
                                 "max_fragment_length; use a broker that honours it (moted) "
                                 "or give the device 16709 bytes of buffer"));
}

static void anchor_and_pin_helpers_check_their_input(void **state)
{
    uint8_t pem[2048], der[2048], small[16];
    br_x509_trust_anchor ta;
    br_x509_pkey pk;
    struct mote_error err;
    size_t n, len;

    (void)state;
    n = harness_file("ca.pem", pem, sizeof pem);
    assert_int_equal(mote_tls_anchor_from_pem(pem, n, small, sizeof small, &ta, &err),
                     MOTE_ERR_BUFFER_TOO_SMALL);
    assert_true(err.need > sizeof small);
    assert_int_equal(err.have, sizeof small);
    assert_int_equal(mote_tls_pem_to_der(pem, n, small, sizeof small, &len, &err),
                     MOTE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mote_tls_pem_to_der(pem, n, der, sizeof der, &len, &err), MOTE_OK);
    assert_int_equal(len, harness_file("ca.der", pem, sizeof pem));
    assert_memory_equal(der, pem, len);
    /* the last byte of the PEM (its newline) missing: still decoded */
    n = harness_file("ca.pem", pem, sizeof pem);
    assert_int_equal(mote_tls_pem_to_der(pem, n - 1, der, sizeof der, &len, &err), MOTE_OK);
    assert_int_equal(
        mote_tls_pem_to_der((const uint8_t *)"nothing", 7, der, sizeof der, &len, &err),
        MOTE_ERR_BAD_ARG);
    /* a certificate is not a SubjectPublicKeyInfo */
    n = harness_file("ca.der", der, sizeof der);
    assert_int_equal(mote_tls_pin_from_der(der, n, &pk, &err), MOTE_ERR_BAD_ARG);
    assert_int_equal(mote_tls_anchor_from_der(der, n / 2, ca_work, 0, &ta, &err),
                     MOTE_ERR_TLS_OTHER);
}

/* ---------------------------------------------------------------------------------------------
 * Successful sessions
 * ------------------------------------------------------------------------------------------- */

static void mosquitto_verified_connack_ec(void **state)
{
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;
    struct session s;
    const struct mote_tls_detail *d;

    (void)state;
    server_mosquitto(&srv, "server.pem", "server.key", NULL, 0);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    mqtt_connack(&s.tls, "mote-tls-ec");
    d = mote_tls_detail(&tls);
    assert_int_equal(d->version, 0x0303);
    assert_string_equal(d->subject_cn, "mote-test-server");
    assert_string_equal(d->issuer_cn, "Mote Test CA");
    assert_string_equal(d->name, "localhost");
    assert_int_equal(d->key_type, MOTE_TLS_KEY_EC);
    assert_int_equal(d->curve, BR_EC_secp256r1);
    assert_int_equal(d->sig_alg, MOTE_TLS_SIG_ECDSA_SHA256);
    assert_int_equal(d->max_fragment, 512);
    assert_int_equal(d->mfl_accepted, 1); /* OpenSSL 3 honours max_fragment_length */
    assert_int_equal(d->chain_len, 1);
    printf("    mosquitto: suite 0x%04x, records of %u bytes accepted\n", d->cipher_suite,
           d->max_fragment);
    end(&s);
    server_stop(&srv);
}

static void mosquitto_ip_host_matches_san_ip(void **state)
{
    struct mote_tls_config c = ca_config("127.0.0.1");
    struct server srv;
    struct session s;

    (void)state;
    server_mosquitto(&srv, "server.pem", "server.key", NULL, 0);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    mqtt_connack(&s.tls, "mote-tls-ip");
    assert_string_equal(mote_tls_detail(&tls)->name, "localhost");
    end(&s);
    server_stop(&srv);
}

/* Partial reads and writes and "try again" on every other call: the engine resumes. */
static void mosquitto_over_a_stuttering_transport(void **state)
{
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;
    struct session s;

    (void)state;
    server_mosquitto(&srv, "server.pem", "server.key", NULL, 0);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(sock_connect(&s.sock, srv.port), 0);
    s.sock.stutter = 1;
    s.tcp = sock_transport(&s.sock);
    assert_int_equal(mote_tls_transport(&tls, &s.tcp, &s.tls), MOTE_OK);
    /* no explicit handshake: send and recv run it */
    mqtt_connack(&s.tls, "mote-tls-stutter");
    end(&s);
    server_stop(&srv);
}

/* Full duplex: one buffer split into input (records of 512 bytes) and output. */
static void mosquitto_full_duplex_buffer(void **state)
{
    static uint8_t bidi[MOTE_TLS_IOBUF_BIDI(512)];
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;
    struct session s;

    (void)state;
    c.bidi = 1;
    server_mosquitto(&srv, "server.pem", "server.key", NULL, 0);
    assert_int_equal(mote_tls_init(&tls, &c, bidi, sizeof bidi, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    assert_int_equal(mote_tls_detail(&tls)->max_fragment, 512);
    mqtt_connack(&s.tls, "mote-tls-bidi");
    end(&s);
    server_stop(&srv);
}

/*
 * An RSA-2048 leaf and intermediate (1778 bytes of chain) into 512-byte records, and a
 * 2000-byte message back from the broker: mosquitto (OpenSSL) keeps every record to 512 bytes.
 */
static void mosquitto_rsa_chain_and_large_message_in_512_byte_records(void **state)
{
    struct mote_tls_config c = {
        .host = "localhost", .anchors = &rsa_anchor, .anchor_count = 1, .unix_time = clock_now};
    static uint8_t payload[2000], pkt[2100];
    struct server srv;
    struct session s;
    const struct mote_tls_detail *d;
    uint8_t type;
    int n;

    (void)state;
    server_mosquitto(&srv, "rsa_server_chain.pem", "rsa_server.key", NULL, 0);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    d = mote_tls_detail(&tls);
    assert_int_equal(d->chain_len, 2);
    assert_int_equal(d->key_type, MOTE_TLS_KEY_RSA);
    assert_int_equal(d->key_bits, 2048);
    assert_string_equal(d->subject_cn, "mote-rsa-server");
    assert_string_equal(d->issuer_cn, "Mote Test RSA Intermediate");
    assert_string_equal(d->top_issuer_cn, "Mote Test RSA Root");
    assert_int_equal(d->mfl_accepted, 1);

    mqtt_connack(&s.tls, "mote-tls-rsa");
    assert_int_equal(harness_write(&s.tls, pkt, mqtt_subscribe(pkt, "mote/big")), MOTE_OK);
    assert_int_equal(mqtt_read(&s.tls, &type, pkt, sizeof pkt), 3);
    assert_int_equal(type, 0x90);
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i;
    assert_int_equal(
        harness_write(&s.tls, pkt, mqtt_publish(pkt, "mote/big", payload, sizeof payload)),
        MOTE_OK);
    n = mqtt_read(&s.tls, &type, pkt, sizeof pkt);
    assert_int_equal(n, 2 + 8 + (int)sizeof payload);
    assert_int_equal(type, 0x30);
    assert_memory_equal(pkt + 10, payload, sizeof payload);
    assert_int_equal(d->record_len, 0); /* no record ever exceeded the buffer */
    end(&s);
    server_stop(&srv);
}

static void mosquitto_mutual_tls(void **state)
{
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;
    struct session s;

    (void)state;
    server_mosquitto(&srv, "server.pem", "server.key", "ca.pem", 1);
    c.client_chain = &client_chain;
    c.client_chain_len = 1;
    c.client_ec_key = br_skey_decoder_get_ec(&client_key);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    assert_int_equal(mote_tls_detail(&tls)->cert_requested, 1);
    mqtt_connack(&s.tls, "mote-tls-mutual");
    end(&s);

    /* without a client certificate: the broker says so with an alert */
    c = ca_config("localhost");
    expect_failure(&srv, &c, MOTE_ERR_TLS_ALERT, 0);
    printf("    no client certificate: alert %u\n", mote_tls_error(&tls)->reason);
    assert_true(mote_tls_detail(&tls)->has_alert);
    assert_int_equal(mote_tls_detail(&tls)->cert_requested, 1);
    assert_int_equal(mote_tls_error(&tls)->raw,
                     BR_ERR_RECV_FATAL_ALERT + mote_tls_error(&tls)->reason);
    explained("client certificate");
    server_stop(&srv);
}

static void s_server_resumes_the_session(void **state)
{
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;
    struct session s;
    uint8_t line[6];
    br_ssl_session_parameters kept;

    (void)state;
    server_s_server(&srv, "server.pem", "server.key", NULL);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    assert_false(mote_tls_resumed(&tls));
    assert_int_equal(mote_tls_detail(&tls)->chain_len, 1);
    /* bytes both ways: s_server -rev answers a line reversed */
    assert_int_equal(harness_write(&s.tls, (const uint8_t *)"mote\n", 5), MOTE_OK);
    assert_int_equal(harness_read(&s.tls, line, 5), MOTE_OK);
    assert_memory_equal(line, "etom\n", 5);
    end(&s);
    assert_int_equal(mote_tls_get_session(&tls, &kept), 1);

    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    assert_true(mote_tls_resumed(&tls));
    assert_int_equal(mote_tls_detail(&tls)->chain_len, 0); /* no certificate was sent */
    end(&s);

    /* a session kept elsewhere (deep sleep) and handed to a fresh context */
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    mote_tls_set_session(&tls, &kept);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    assert_true(mote_tls_resumed(&tls));
    end(&s);

    mote_tls_forget_session(&tls);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    assert_false(mote_tls_resumed(&tls));
    end(&s);
    server_stop(&srv);
}

static void mosquitto_resumption(void **state)
{
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;
    struct session s;

    (void)state;
    server_mosquitto(&srv, "server.pem", "server.key", NULL, 0);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    mqtt_connack(&s.tls, "mote-tls-resume");
    end(&s);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    mqtt_connack(&s.tls, "mote-tls-resume");
    printf("    mosquitto 2.0.11 resumed the session: %s\n", mote_tls_resumed(&tls) ? "yes" : "no");
    end(&s);
    server_stop(&srv);
}

static void pinned_keys_are_accepted(void **state)
{
    struct mote_tls_config c = {.host = "localhost", .pin = &pin_server};
    struct server srv;
    struct session s;

    (void)state;
    server_s_server(&srv, "server.pem", "server.key", NULL);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    assert_string_equal(mote_tls_detail(&tls)->subject_cn, "mote-test-server");
    end(&s);
    server_stop(&srv);

    c.pin = &pin_rsa;
    server_s_server(&srv, "rsa_server.pem", "rsa_server.key", NULL);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    end(&s);
    server_stop(&srv);
}

static void no_clock_allowed_accepts_any_dates(void **state)
{
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;
    struct session s;

    (void)state;
    server_s_server(&srv, "expired.pem", "expired.key", NULL);
    c.unix_time = NULL;
    c.allow_no_clock = 1;
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    end(&s);
    server_stop(&srv);
}

/* ---------------------------------------------------------------------------------------------
 * Every error, for real
 * ------------------------------------------------------------------------------------------- */

static void untrusted_names_subject_and_issuer(void **state)
{
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;
    const struct mote_tls_detail *d = mote_tls_detail(&tls);

    (void)state;
    server_s_server(&srv, "other_server.pem", "other_server.key", NULL);
    expect_failure(&srv, &c, MOTE_ERR_TLS_UNTRUSTED, BR_ERR_X509_NOT_TRUSTED);
    assert_string_equal(d->subject_cn, "mote-other-server");
    assert_string_equal(d->issuer_cn, "Mote Other CA");
    assert_string_equal(d->top_issuer_cn, "Mote Other CA");
    explained("issued by \"Mote Other CA\"");
    server_stop(&srv);
}

static void wrong_host_name(void **state)
{
    struct mote_tls_config c = ca_config("broker.example");
    struct server srv;

    (void)state;
    server_s_server(&srv, "server.pem", "server.key", NULL);
    expect_failure(&srv, &c, MOTE_ERR_TLS_HOSTNAME, BR_ERR_X509_BAD_SERVER_NAME);
    assert_string_equal(mote_tls_detail(&tls)->name, "localhost");
    explained("the device asked for \"broker.example\"");

    c = ca_config("10.1.2.3"); /* an IP the certificate does not list */
    expect_failure(&srv, &c, MOTE_ERR_TLS_HOSTNAME, BR_ERR_X509_BAD_SERVER_NAME);
    c = ca_config("::1");
    expect_failure(&srv, &c, MOTE_ERR_TLS_HOSTNAME, BR_ERR_X509_BAD_SERVER_NAME);
    server_stop(&srv);
}

/*
 * s_server shows its trusted certificate only to a client that sends "localhost" as SNI (others
 * get one from a CA we do not trust), and refuses other names: proof that SNI goes out.
 */
static void sni_carries_the_host_name(void **state)
{
    static const char *const sni[] = {"-servername", "localhost", "-servername_fatal", "-cert2",
                                      "server.pem",  "-key2",     "server.key",        NULL};
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;
    struct session s;

    (void)state;
    server_s_server(&srv, "other_server.pem", "other_server.key", sni);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    assert_string_equal(mote_tls_detail(&tls)->subject_cn, "mote-test-server");
    end(&s);
    c = ca_config("broker.example");
    expect_failure(&srv, &c, MOTE_ERR_TLS_ALERT, BR_ERR_RECV_FATAL_ALERT + 112);
    explained("unrecognized_name");
    server_stop(&srv);
}

static void expired_and_not_yet_valid(void **state)
{
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;
    const struct mote_tls_detail *d = mote_tls_detail(&tls);

    (void)state;
    server_s_server(&srv, "expired.pem", "expired.key", NULL);
    expect_failure(&srv, &c, MOTE_ERR_TLS_EXPIRED, BR_ERR_X509_EXPIRED);
    assert_int_equal(d->not_before_days, 719528 + 18262); /* 2020-01-01 */
    assert_int_equal(d->not_after_days, 719528 + 18628);  /* 2021-01-01 */
    assert_int_equal(d->cert_index, 0);
    assert_true(d->now_days > d->not_after_days);
    explained("valid from 2020-01-01 to 2021-01-01");
    server_stop(&srv);

    server_s_server(&srv, "future.pem", "future.key", NULL);
    expect_failure(&srv, &c, MOTE_ERR_TLS_NOT_YET_VALID, BR_ERR_X509_EXPIRED);
    explained("valid from 2040-01-01 to 2041-01-01");
    server_stop(&srv);
}

static void no_clock(void **state)
{
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;

    (void)state;
    server_s_server(&srv, "server.pem", "server.key", NULL);
    c.unix_time = NULL;
    expect_failure(&srv, &c, MOTE_ERR_TLS_NO_CLOCK, BR_ERR_X509_TIME_UNKNOWN);
    explained("allow_no_clock");
    c.unix_time = clock_unknown; /* a clock that is not set yet (no SNTP answer) */
    expect_failure(&srv, &c, MOTE_ERR_TLS_NO_CLOCK, BR_ERR_X509_TIME_UNKNOWN);
    assert_int_equal(mote_tls_detail(&tls)->now_days, 0);
    server_stop(&srv);
}

static void pin_mismatch(void **state)
{
    struct mote_tls_config c = {.host = "localhost", .pin = &pin_other};
    struct server srv;

    (void)state;
    server_s_server(&srv, "server.pem", "server.key", NULL);
    expect_failure(&srv, &c, MOTE_ERR_TLS_PIN_MISMATCH, BR_ERR_X509_NOT_TRUSTED);
    explained("pin");
    c.pin = &pin_rsa; /* another key type altogether */
    expect_failure(&srv, &c, MOTE_ERR_TLS_PIN_MISMATCH, BR_ERR_X509_NOT_TRUSTED);
    server_stop(&srv);
}

/*
 * A server that ignores max_fragment_length: the 1778-byte chain still passes (BearSSL reads
 * plaintext handshake records in pieces of any size), but the first protected record larger
 * than the buffer ends the session with RECORD_TOO_LARGE, never with a certificate error.
 */
static void server_ignoring_max_fragment_length(void **state)
{
    struct mote_tls_config c = {
        .host = "localhost", .anchors = &rsa_anchor, .anchor_count = 1, .unix_time = clock_now};
    struct server srv;
    struct session s;
    const struct mote_error *e = mote_tls_error(&tls);
    const struct mote_tls_detail *d = mote_tls_detail(&tls);
    uint8_t buf[64];
    int rc;

    (void)state;
    server_no_mfl(&srv, 3000);
    assert_int_equal(mote_tls_init(&tls, &c, iobuf, sizeof iobuf, NULL), MOTE_OK);
    assert_int_equal(handshake(&s, srv.port), MOTE_OK);
    assert_int_equal(d->chain_len, 2);
    assert_int_equal(d->mfl_accepted, 0);
    assert_int_equal(harness_write(&s.tls, (const uint8_t *)"x", 1), MOTE_OK);
    rc = harness_read(&s.tls, buf, sizeof buf);
    end(&s);
    assert_int_equal(rc, MOTE_ERR_TLS_RECORD_TOO_LARGE);
    assert_int_equal(e->layer, MOTE_LAYER_TLS);
    assert_int_equal(e->raw, BR_ERR_TOO_LARGE);
    assert_true(d->record_len > 3000);
    assert_int_equal(e->need, d->record_len + 5u);
    assert_int_equal(e->have, sizeof iobuf);
    explained("the broker did not confirm");

    /* the same server, with a buffer for 16 KB records: fine */
    {
        static uint8_t big[MOTE_TLS_IOBUF_FULL];
        static uint8_t reply[3000];

        assert_int_equal(mote_tls_init(&tls, &c, big, sizeof big, NULL), MOTE_OK);
        assert_int_equal(handshake(&s, srv.port), MOTE_OK);
        assert_int_equal(d->max_fragment, 0); /* nothing to ask for */
        assert_int_equal(harness_write(&s.tls, (const uint8_t *)"x", 1), MOTE_OK);
        assert_int_equal(harness_read(&s.tls, reply, sizeof reply), MOTE_OK);
        end(&s);
    }
    server_stop(&srv);
}

static void no_common_version_or_cipher(void **state)
{
    static const char *const tls13[] = {"-tls1_3", NULL};
    static const char *const dhe[] = {"-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256", NULL};
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;

    (void)state;
    server_s_server(&srv, "server.pem", "server.key", tls13);
    expect_failure(&srv, &c, MOTE_ERR_TLS_NO_COMMON_CIPHER, BR_ERR_RECV_FATAL_ALERT + 70);
    assert_int_equal(mote_tls_error(&tls)->reason, 70);
    explained("protocol_version");
    server_stop(&srv);

    c.anchors = &rsa_anchor;
    server_s_server(&srv, "rsa_server.pem", "rsa_server.key", dhe);
    expect_failure(&srv, &c, MOTE_ERR_TLS_NO_COMMON_CIPHER, BR_ERR_RECV_FATAL_ALERT + 40);
    explained("handshake_failure");
    server_stop(&srv);
}

static void bad_signature(void **state)
{
    static const char *const chain[] = {"-cert_chain", "rsa_inter.pem", NULL};
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;

    (void)state;
    /* signed (supposedly) by a trusted CA: BearSSL says "not trusted", we know better */
    server_s_server(&srv, "badsig.pem", "badsig.key", NULL);
    expect_failure(&srv, &c, MOTE_ERR_TLS_BAD_SIGNATURE, BR_ERR_X509_NOT_TRUSTED);
    assert_int_equal(mote_tls_detail(&tls)->anchor_name, 1);
    explained("signed with ECDSA-SHA256");
    server_stop(&srv);

    /* the CA made again under the same name: the usual way to get here */
    server_s_server(&srv, "rekeyed.pem", "rekeyed.key", NULL);
    expect_failure(&srv, &c, MOTE_ERR_TLS_BAD_SIGNATURE, BR_ERR_X509_NOT_TRUSTED);
    explained("made again under the same name");
    server_stop(&srv);

    /* signed by the intermediate above it in the chain */
    c.anchors = &rsa_anchor;
    server_s_server(&srv, "badsig_rsa.pem", "badsig_rsa.key", chain);
    expect_failure(&srv, &c, MOTE_ERR_TLS_BAD_SIGNATURE, BR_ERR_X509_BAD_SIGNATURE);
    assert_int_equal(mote_tls_detail(&tls)->chain_len, 2);
    server_stop(&srv);

    /* an unknown CA of another name stays UNTRUSTED */
    c.anchors = &ca_anchor;
    server_s_server(&srv, "other_server.pem", "other_server.key", NULL);
    expect_failure(&srv, &c, MOTE_ERR_TLS_UNTRUSTED, BR_ERR_X509_NOT_TRUSTED);
    assert_int_equal(mote_tls_detail(&tls)->anchor_name, 0);
    server_stop(&srv);
}

static void unsupported_signature_algorithm(void **state)
{
    struct mote_tls_config c = {
        .host = "localhost", .anchors = both_anchors, .anchor_count = 2, .unix_time = clock_now};
    struct server srv;

    (void)state;
    server_s_server(&srv, "pss.pem", "pss.key", NULL);
    expect_failure(&srv, &c, MOTE_ERR_TLS_UNSUPPORTED_KEY, BR_ERR_X509_UNSUPPORTED);
    assert_int_equal(mote_tls_detail(&tls)->sig_alg, MOTE_TLS_SIG_RSA_PSS);
    explained("signed with RSA-PSS");
    server_stop(&srv);
}

static void key_too_large_for_the_verifier(void **state)
{
    struct mote_tls_config c = ca_config("localhost");
    struct server srv;

    (void)state;
    server_s_server(&srv, "big.pem", "big.key", NULL);
    expect_failure(&srv, &c, MOTE_ERR_TLS_CHAIN_TOO_LARGE, BR_ERR_X509_LIMIT_EXCEEDED);
    assert_int_equal(mote_tls_detail(&tls)->key_bits, 4200);
    explained("RSA 4200 bits");
    server_stop(&srv);
}

/* A too-small buffer never looks like a trust problem (the founding bug of this project). */
static void small_buffers_never_read_as_untrusted(void **state)
{
    struct mote_tls_config c = {
        .host = "localhost", .anchors = &rsa_anchor, .anchor_count = 1, .unix_time = clock_now};
    struct server srv;
    struct session s;
    uint8_t buf[16];

    (void)state;
    server_no_mfl(&srv, 16000);
    for (size_t len = MOTE_TLS_IOBUF_MIN; len < 5000; len += 997) {
        static uint8_t small[5000];
        int rc;

        assert_int_equal(mote_tls_init(&tls, &c, small, len, NULL), MOTE_OK);
        rc = handshake(&s, srv.port);
        if (rc == MOTE_OK) {
            assert_int_equal(harness_write(&s.tls, (const uint8_t *)"x", 1), MOTE_OK);
            rc = harness_read(&s.tls, buf, sizeof buf);
        }
        end(&s);
        assert_int_equal(rc, MOTE_ERR_TLS_RECORD_TOO_LARGE);
    }
    server_stop(&srv);
}

static int stop_servers(void **state)
{
    (void)state;
    harness_stop_all();
    return 0;
}

#define TEST(f) cmocka_unit_test_teardown(f, stop_servers)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(init_checks_buffer_and_trust),
        TEST(anchor_and_pin_helpers_check_their_input),
        TEST(mosquitto_verified_connack_ec),
        TEST(mosquitto_ip_host_matches_san_ip),
        TEST(mosquitto_over_a_stuttering_transport),
        TEST(mosquitto_full_duplex_buffer),
        TEST(mosquitto_rsa_chain_and_large_message_in_512_byte_records),
        TEST(mosquitto_mutual_tls),
        TEST(s_server_resumes_the_session),
        TEST(mosquitto_resumption),
        TEST(pinned_keys_are_accepted),
        TEST(no_clock_allowed_accepts_any_dates),
        TEST(untrusted_names_subject_and_issuer),
        TEST(wrong_host_name),
        TEST(sni_carries_the_host_name),
        TEST(expired_and_not_yet_valid),
        TEST(no_clock),
        TEST(pin_mismatch),
        TEST(server_ignoring_max_fragment_length),
        TEST(no_common_version_or_cipher),
        TEST(bad_signature),
        TEST(unsupported_signature_algorithm),
        TEST(key_too_large_for_the_verifier),
        TEST(small_buffers_never_read_as_untrusted),
    };
    return cmocka_run_group_tests_name("tls", tests, setup_all, NULL);
}
