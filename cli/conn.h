/*
 * conn.h - what `mote pub`, `mote sub` and `mote doctor` share: the connection options that
 * Mosquitto's clients made familiar (-h -p -u -P -i -k -V -L, --cafile, wills, -D properties),
 * certificates and keys read from files into lib/tls's structures, and a connection built from
 * libmote's own parts (POSIX TCP, lib/tls, the client engine), so that every failure is told the
 * way libmote explains it to a device.
 */
#ifndef MOTE_CLI_CONN_H
#define MOTE_CLI_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/x509.h>

#include "mote/client.h"
#include "mote/posix.h"
#include "mote/tls.h"

#define CLI_MAX_PROPS 32
#define CLI_DEFAULT_CAFILE "/etc/ssl/certs/ca-certificates.crt"

/* MQTT 5 properties given with -D, pointing into argv. */
struct cli_props {
    struct mote_prop list[CLI_MAX_PROPS];
    size_t count;
};

/* The connection options, as parsed from the command line. */
struct cli_opts {
    const char *prog; /* "mote pub": the prefix of every message */
    const char *host; /* default localhost */
    unsigned port;    /* 0: 1883, or 8883 with TLS */
    int tls;          /* mqtts://, --cafile, --cert or --insecure */
    const char *cafile, *cert, *key;
    int insecure;
    const char *username, *password;
    const char *client_id; /* NULL: "<prefix>-<random>" */
    unsigned keepalive;
    uint8_t version; /* MOTE_V311 or MOTE_V5 */
    int clean;
    uint32_t session_expiry;
    const char *will_topic, *will_payload;
    unsigned will_qos;
    int will_retain;
    struct cli_props connect_props, will_props;
    const char *url_topic; /* the topic of -L */
    int debug;
    uint32_t timeout_ms; /* for each of: DNS and TCP, the TLS handshake, the CONNACK */
};

/* Defaults for a command named @p prog ("mote pub"). */
void cli_opts_init(struct cli_opts *o, const char *prog);

/*
 * Takes argv[*i] (and its values) if it is a connection option. Returns 1 when it was (then *i
 * is at its last value), 0 when it is not one, 2 after printing a usage error.
 * @p publish receives `-D publish ...` (NULL: refused), for mote pub.
 */
int cli_opts_parse(struct cli_opts *o, int argc, char **argv, int *i, struct cli_props *publish);

/* Parses mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT][/TOPIC] into @p o. 0, or 2 (printed). */
int cli_opts_url(struct cli_opts *o, const char *url);

/* Checks what belongs together, fills the defaults. 0, or 2 after a usage error. */
int cli_opts_finish(struct cli_opts *o);

/* The --help text of the connection options. */
extern const char cli_opts_help[];

/* Prints "PROG: MESSAGE (see `PROG --help`)" on stderr; returns 2. */
int cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------------------------------
 * Trust: CA certificates, the client certificate and key, in lib/tls's structures
 * ------------------------------------------------------------------------------------------- */

struct cli_trust {
    br_x509_trust_anchor *anchors;
    size_t anchor_count;
    uint8_t **anchor_work; /* what each anchor points into */
    char **ca_names;       /* CN (or the whole subject) of each CA certificate in the file */
    size_t ca_count;       /* certificates in the file, usable or not */
    const char *cafile;
    br_x509_certificate *chain; /* client certificate chain (DER), leaf first */
    size_t chain_len;
    br_skey_decoder_context *skey; /* the client key, decoded */
    uint8_t *pin_der;              /* --insecure: the key seen on the probe connection */
    br_x509_pkey pin;
    int pinned;
};

/* Loads o->cafile (the system bundle by default), o->cert and o->key. 0, or 1 with @p err set. */
int cli_trust_load(struct cli_trust *t, const struct cli_opts *o, char *err, size_t len);

/* Pins the key of the server's certificate as an OpenSSL probe sees it (--insecure). */
int cli_trust_pin_server(struct cli_trust *t, const struct cli_opts *o, char *err, size_t len);

/* A lib/tls configuration for host @p host with this trust. */
void cli_trust_config(const struct cli_trust *t, const char *host, int skip_host_check,
                      struct mote_tls_config *cfg);

void cli_trust_free(struct cli_trust *t);

/* The clock lib/tls checks certificate dates with. */
int64_t cli_unix_time(void *ctx);

/*
 * Runs the handshake of @p t over the socket @p fd, waiting at most @p timeout_ms.
 * Returns MOTE_OK, a negative error (mote_tls_error(t)), or MOTE_NEED_MORE on time out.
 */
int cli_tls_handshake(struct mote_tls *t, int fd, uint32_t timeout_ms);

/* "tls: " and mote_tls_explain_detail() of @p t, into @p buf. */
char *cli_tls_explain(const struct mote_tls *t, char *buf, size_t len);

/* "TLS 1.2" for 0x0303, "0x0304" for what it does not know. */
const char *cli_tls_version_name(unsigned v, char buf[16]);
/* IANA name of a cipher suite the device may see ("TLS_ECDHE_ECDSA_WITH_..."), or hex. */
const char *cli_tls_suite_name(unsigned suite, char buf[16]);

/* ---------------------------------------------------------------------------------------------
 * An OpenSSL connection that only looks: what the server offers, and its certificate chain
 * ------------------------------------------------------------------------------------------- */

struct cli_probe {
    int ok;
    char version[16]; /* "TLSv1.3" */
    char cipher[80];  /* IANA name */
    double ms;
    STACK_OF(X509) * chain; /* as the server sent it, leaf first (owned) */
    char error[256];
};

/*
 * Handshakes with OpenSSL, without verifying anything, to @p addr (NULL: @p host) port @p port,
 * sending @p host as SNI when it is a name. @p tls12_only: offer TLS 1.2 and every suite.
 */
int cli_probe_tls(const char *host, const char *addr, unsigned port, int tls12_only,
                  uint32_t timeout_ms, struct cli_probe *p);
void cli_probe_free(struct cli_probe *p);

/* ---------------------------------------------------------------------------------------------
 * A connection of libmote's parts
 * ------------------------------------------------------------------------------------------- */

/* Sizes of the client's memory (conn.c raises tx to hold the CONNECT). */
struct cli_mem {
    size_t rx, tx, store, slots;
};

struct cli_debug;

struct cli_conn {
    const struct cli_opts *o;
    struct mote_posix_tcp tcp;
    struct cli_trust trust;
    struct mote_tls *tls; /* NULL without TLS */
    uint8_t *iobuf;
    struct mote_transport secure; /* the TLS transport */
    struct cli_debug *dbg;
    struct mote_transport *mqtt_t; /* what the client talks through */
    struct mote_client client;
    uint8_t *rx, *tx, *store;
    struct mote_inflight *slots;
    struct mote_will will;
    struct mote_client_config cfg;
    char client_id[32];
    char error[1200]; /* the last failure, explained */
};

/*
 * DNS, TCP, TLS (when asked), then CONNECT and the CONNACK. Returns 0 once connected; 1 after
 * printing why it failed (the library's explanation).
 */
int cli_connect(struct cli_conn *c, const struct cli_opts *o, const struct cli_mem *mem,
                const struct mote_client_callbacks *cb);

/*
 * Polls @p client over @p tcp's socket until @p done(@p ctx) is true (MOTE_OK), @p max_ms pass
 * (MOTE_NEED_MORE), or the connection ends (the negative code of mote_client_poll()). Unlike
 * mote_posix_step() it checks @p done after every poll of the client, so a step is timed to
 * the packet, not to the wait.
 */
int cli_drive(struct mote_client *client, struct mote_posix_tcp *tcp, uint32_t max_ms,
              int (*done)(void *ctx), void *ctx);

/* For cli_drive(): the int that @p ctx points to is not 0. */
int cli_flag_set(void *ctx);

/* cli_drive() on c until @p done: as cli_drive(); a negative code leaves c->error set. */
int cli_run(struct cli_conn *c, uint32_t max_ms, int (*done)(void *ctx), void *ctx);

/* Writes what waits in tx, at most @p max_ms. */
void cli_flush(struct cli_conn *c, uint32_t max_ms);

/* DISCONNECT, close_notify, waits briefly for the broker to close, frees everything. */
void cli_close(struct cli_conn *c);

/* Explains @p e (a client error) in c->error, with lib/tls's detail for TLS errors. */
const char *cli_explain(struct cli_conn *c, const struct mote_error *e);

/* Prints an event on stderr when -d was given. */
void cli_debug_event(const struct cli_opts *o, const struct mote_event *e);

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

/* Monotonic milliseconds, with fractions. */
double cli_now_ms(void);

/* Writes @p s as a JSON string (quotes included). */
void cli_json_string(FILE *f, const void *s, size_t len);

/* Writes @p data as base64 (no quotes). */
void cli_base64(FILE *f, const uint8_t *data, size_t len);

/* 1 if @p s is an IPv4 or IPv6 literal. */
int cli_is_ip(const char *s);

/* Reads a whole file ("-": standard input) into memory the caller frees. NULL with errno. */
uint8_t *cli_read_file(const char *path, size_t *len);

/* Fills @p out with @p len random bytes. */
void cli_random(void *out, size_t len);

#endif /* MOTE_CLI_CONN_H */
