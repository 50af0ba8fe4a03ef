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

/*
 * Sets up the TLS transport: trust anchors from @cafile, and the server's name or address checked
 * against @host. Returns the transport, or NULL with a reason in @err (also when the load
 * generator was built without OpenSSL).
 */
const struct bench_transport *bench_transport_tls(const char *cafile, const char *host, char *err,
                                                  size_t errlen);

#endif /* BENCH_TRANSPORT_H */
