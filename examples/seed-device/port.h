/*
 * port.h - what the seed device needs from the board it runs on, and nothing more: a TCP
 * connection as a struct mote_transport, a millisecond clock, the time of day, a way to wait,
 * random numbers and entropy, and one line of output. device.c uses only this and libmote.
 * main_posix.c (Linux, macOS, BSD), main_bare.c (a firmware stub) and main_mps2.c (the emulated
 * Cortex-M3 with an in-memory broker) each fill one in.
 */
#ifndef SEED_PORT_H
#define SEED_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "mote/client.h"
#include "mote/transport.h"

struct seed_port {
    void *ctx; /* handed to every function below */

    /*
     * Opens a TCP connection to host:port and fills *out with its transport (transport.h's
     * contract: non-blocking, 0 = try again). On failure returns the error and fills *err with
     * its layer (dns or tcp) and raw code, for mote_error_explain().
     */
    int (*open)(void *ctx, const char *host, uint16_t port, struct mote_transport *out,
                struct mote_error *err);
    /* Closes the connection open() made (safe when none is open). */
    void (*close)(void *ctx);

    /* Milliseconds of a monotonic clock (wrapping is fine). */
    uint32_t (*now_ms)(void *ctx);
    /* Seconds since 1970-01-01 UTC (SNTP, an RTC), or <= 0 while unknown: lib/tls's clock. */
    int64_t (*unix_time)(void *ctx);
    /*
     * Waits at most @p ms for the open connection to become readable (or writable when
     * @p want_write), or for *stop; with no connection open, just waits.
     */
    void (*wait)(void *ctx, uint32_t ms, int want_write);
    /* A random number, for the reconnect backoff's jitter. */
    uint32_t (*random)(void *ctx);
    /* Writes one line (no newline at its end) where a person can read it: stderr, a UART. */
    void (*print)(void *ctx, const char *line);

    /* Set (by a signal handler, a button) to say "offline", disconnect and return. May be NULL. */
    const volatile int *stop;
    /* At least 32 bytes from a hardware RNG for TLS; NULL where BearSSL reads the OS's source. */
    const uint8_t *seed;
    size_t seed_len;
};

#endif /* SEED_PORT_H */
