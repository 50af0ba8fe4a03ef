/*
 * bench/transport.h - the byte transport under the load generator's connections: plain TCP now,
 * TLS (OpenSSL) when built with BENCH_TLS. One table of functions, as Redis's connection.h does,
 * so the event loop never knows which one it drives.
 */
#ifndef BENCH_TRANSPORT_H
#define BENCH_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

/* What recv/send return besides a byte count (coreMQTT's contract: 0 is "try again", never EOF). */
#define BENCH_IO_AGAIN 0
#define BENCH_IO_ERROR (-1) /* failed: errno or the TLS library says why (bench_link.err) */
#define BENCH_IO_EOF (-2)   /* the peer closed the connection */

/* One connection's transport state. */
struct bench_link {
    int fd;
    void *tls;      /* SSL *, or NULL for plain TCP */
    int want_write; /* the last call needs the socket writable before it can go on */
    int resumed;    /* TLS: the handshake resumed a session (no certificate, no key exchange) */
    char err[160];  /* why the last call failed */
};

struct bench_transport {
    const char *name;
    /* Takes over the connected, non-blocking socket @fd. Returns 0, or -1 with l->err set. */
    int (*open)(struct bench_link *l, int fd);
    /* Runs the transport's own handshake: 1 when done, 0 to call again when the socket is ready
     * (l->want_write says for which direction), -1 on failure (l->err says why). */
    int (*handshake)(struct bench_link *l);
    /* Bytes moved, BENCH_IO_AGAIN, BENCH_IO_ERROR or BENCH_IO_EOF. */
    ssize_t (*recv)(struct bench_link *l, void *buf, size_t len);
    ssize_t (*send)(struct bench_link *l, const void *buf, size_t len);
    /* Whether bytes the transport already read from the socket wait for recv (TLS records). */
    int (*pending)(const struct bench_link *l);
    /* Releases the link and closes its socket. */
    void (*close)(struct bench_link *l);
};

extern const struct bench_transport bench_transport_tcp;

/* How the TLS transport dials. */
struct bench_tls_options {
    const char *cafile; /* trust anchors: the CA that signed the broker's certificate */
    const char *host;   /* checked against the certificate: an IP address or a DNS name */
    int version;        /* 12 or 13: only that TLS version; 0: what the broker picks (1.2+) */
    /* Keep the session of the first connection that completes and offer it on every new one:
     * a TLS 1.2 ticket (or, with no_ticket, the session id), a TLS 1.3 ticket. */
    int resume;
    int no_ticket; /* send no session ticket extension: TLS 1.2 resumes by session id */
    /* Verify the first chain in full, then accept exactly that leaf certificate without building
     * the chain again (a device that pins its broker): the handshake signature is still checked.
     * Spares the load generator one ECDSA verification per handshake. */
    int pin;
};

/* What the TLS transport saw: the first completed handshake and the kept session. */
struct bench_tls_info {
    char version[16]; /* "TLSv1.2", "TLSv1.3", or "" before any handshake */
    char cipher[64];
    int have_session;   /* a session is kept for resumption */
    int session_ticket; /* ... and it carries a ticket (else: resumed by session id) */
};

/*
 * Sets up the TLS transport. Returns it, or NULL with a reason in @err (also when the load
 * generator was built without OpenSSL).
 */
const struct bench_transport *bench_transport_tls(const struct bench_tls_options *o, char *err,
                                                  size_t errlen);
/* Fills @info; returns 0 when the transport is not set up (or built without TLS). */
int bench_tls_info(struct bench_tls_info *info);

#endif /* BENCH_TRANSPORT_H */
