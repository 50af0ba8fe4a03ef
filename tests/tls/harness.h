/*
 * harness.h - what the TLS tests share: the certificates (made by make_certs.sh), real servers
 * started on 127.0.0.1 (mosquitto, openssl s_server, a BearSSL server that ignores
 * max_fragment_length), a plain socket transport of our own (lib/port is not used on purpose),
 * and a few raw MQTT packets.
 */
#ifndef MOTE_TESTS_TLS_HARNESS_H
#define MOTE_TESTS_TLS_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mote/tls.h"

/* Makes the certificates into a fresh temporary directory (once); returns it. */
const char *harness_certs(void);
/* Reads certs/NAME into buf; returns its length (aborts the program when it cannot). */
size_t harness_file(const char *name, uint8_t *buf, size_t cap);

struct server {
    pid_t pid;
    int port;
};

/* openssl s_server -rev with CERT/KEY (names in the certificate directory), then extra args. */
void server_s_server(struct server *s, const char *cert, const char *key, const char *const *extra);
/* mosquitto with a TLS listener; cafile (may be NULL) and require_certificate for mutual TLS. */
void server_mosquitto(struct server *s, const char *certfile, const char *keyfile,
                      const char *cafile, int require_certificate);
/* moted (binary @moted) with a TLS listener on 127.0.0.1 and every log line (log_type all) in
 * certs/moted-PORT.log (harness_server_log). */
void server_moted(struct server *s, const char *moted, const char *certfile, const char *keyfile);
/* Whether the log of a server started as @log_name ("moted", "mosquitto") contains @needle. */
int harness_server_log_has(const struct server *s, const char *log_name, const char *needle);
/* A BearSSL server (forked) that does not honour max_fragment_length: RSA chain rsa_server_chain,
 * answers the first byte it receives with @p reply_len bytes in one record. */
void server_no_mfl(struct server *s, size_t reply_len);
void server_stop(struct server *s);
/* Stops every server still running (a failed test leaves its own behind). */
void harness_stop_all(void);

/* A blocking TCP socket as a struct mote_transport; recv waits at most 100 ms, then returns 0.
 * stutter: every other call moves nothing, and the others at most 7 bytes (partial I/O). */
struct sock {
    int fd;
    int stutter;
    unsigned calls;
};
int sock_connect(struct sock *k, int port);
struct mote_transport sock_transport(struct sock *k);
void sock_close(struct sock *k);

/* Runs mote_tls_handshake() until done or failed (10 s at most). */
int harness_handshake(struct mote_tls *t);
/* Writes all of buf / reads exactly len bytes through t (5 s at most); MOTE_OK or the error. */
int harness_write(const struct mote_transport *t, const uint8_t *buf, size_t len);
int harness_read(const struct mote_transport *t, uint8_t *buf, size_t len);

/* MQTT 3.1.1 packets, in raw bytes. Each returns the packet's length in buf. */
size_t mqtt_connect(uint8_t *buf, const char *client_id);
size_t mqtt_subscribe(uint8_t *buf, const char *topic);
size_t mqtt_publish(uint8_t *buf, const char *topic, const uint8_t *payload, size_t len);
/* Reads one packet (first byte, remaining length, body into buf); returns its body length or
 * a negative error. */
int mqtt_read(const struct mote_transport *t, uint8_t *type, uint8_t *buf, size_t cap);

int64_t clock_now(void *ctx);
int64_t clock_unknown(void *ctx);

#endif
