/*
 * mote/posix.h - the POSIX port of libmote: a TCP connection (IPv4 and IPv6, non-blocking, with a
 * timeout) as a struct mote_transport, and a small blocking loop around the client engine for
 * Linux, macOS and the BSDs. Not part of a device build; not included by mote/mote.h.
 *
 * @code
 * // The whole life of a device program: connect, keep the session up, reconnect with backoff.
 * static void on_error(void *ctx, const struct mote_error *e)
 * {
 *     char line[256];
 *     fprintf(stderr, "%s\n", mote_error_explain(e, line, sizeof line));
 * }
 * struct mote_posix_tcp tcp;
 * struct mote_posix_run run = { .host = "broker.local", .port = 1883, .on_error = on_error };
 * mote_posix_run(&client, &tcp, &run);      // returns when *run.stop is set
 *
 * // Or step by step, as the tests do.
 * if (mote_posix_open(&client, &tcp, "127.0.0.1", 1883, 5000) != MOTE_OK)
 *     explain(mote_client_error(&client));   // DNS, TCP or MQTT: the layer says which
 * mote_client_publish(&client, &msg, NULL);
 * while (mote_posix_step(&client, &tcp, 100) == MOTE_OK) { ... }
 * mote_posix_close(&tcp);
 * @endcode
 */
#ifndef MOTE_POSIX_H
#define MOTE_POSIX_H

#include <stdint.h>

#include "mote/client.h"
#include "mote/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A TCP connection. Hand `&tcp->transport` to mote_client_connect(). */
struct mote_posix_tcp {
    int fd;                          /**< the socket, -1 when closed */
    int last_errno;                  /**< errno of the last failure of send or recv */
    struct mote_transport transport; /**< send/recv over fd, non-blocking (0 = would block) */
};

/**
 * Resolves @p host (getaddrinfo: IPv4 and IPv6) and connects to each address in turn until one
 * accepts, all within @p timeout_ms (0 = 10000). The socket is non-blocking, with TCP_NODELAY.
 *
 * @param err may be NULL; filled on failure with the layer (dns or tcp) and the raw code
 *        (getaddrinfo's code for DNS, errno for TCP).
 * @return MOTE_OK; MOTE_ERR_BAD_ARG; MOTE_ERR_DNS; MOTE_ERR_TCP_REFUSED; MOTE_ERR_TCP_TIMEOUT;
 *         MOTE_ERR_TCP_UNREACHABLE; MOTE_ERR_IO (any other errno). With several addresses the
 *         error is the last address's.
 */
int mote_posix_connect(const char *host, uint16_t port, uint32_t timeout_ms,
                       struct mote_posix_tcp *out, struct mote_error *err);

/** Closes the socket (if open). Safe to call twice. */
void mote_posix_close(struct mote_posix_tcp *tcp);

/** Milliseconds of the monotonic clock, for mote_client_poll() (wraps every 49 days). */
uint32_t mote_posix_now_ms(void);

/**
 * mote_posix_connect(), then mote_client_connect(), then steps until the CONNACK (the client's
 * connack_timeout_ms bounds the wait). On failure the socket is closed and mote_client_error()
 * tells why, whichever layer failed.
 * @return MOTE_OK once MOTE_EV_CONNECTED was sent; else the error.
 */
int mote_posix_open(struct mote_client *c, struct mote_posix_tcp *tcp, const char *host,
                    uint16_t port, uint32_t timeout_ms);

/**
 * One turn of the loop: mote_client_poll(), then poll(2) on the socket for at most @p max_ms (less
 * when the client has a deadline sooner; writability too when bytes wait), then
 * mote_client_poll() again. A transport failure's errno goes into mote_client_error()->raw.
 * @return what mote_client_poll() returned (negative: the connection ended; close the socket).
 */
int mote_posix_step(struct mote_client *c, struct mote_posix_tcp *tcp, uint32_t max_ms);

/** What mote_posix_run() does. */
struct mote_posix_run {
    const char *host;
    uint16_t port;
    uint32_t connect_timeout_ms; /**< TCP connect; 0 = 10000 (the CONNACK wait is the client's) */
    uint32_t run_ms;             /**< return after this long; 0 = only when *stop is set */
    volatile int *stop;          /**< set it (e.g. from a signal handler) to return; may be NULL */
    /** Called with every failure, before the backoff delay; may be NULL. */
    void (*on_error)(void *ctx, const struct mote_error *e);
    void *ctx;
};

/**
 * Keeps the client connected: mote_posix_open(), mote_posix_step() while it lives, and after any
 * failure closes the socket, reports it to on_error, sleeps mote_client_backoff_ms() and opens
 * again. On return (time up or *stop set) it sends DISCONNECT and closes the socket.
 * @return MOTE_OK, or MOTE_ERR_BAD_ARG.
 */
int mote_posix_run(struct mote_client *c, struct mote_posix_tcp *tcp,
                   const struct mote_posix_run *run);

#ifdef __cplusplus
}
#endif

#endif /* MOTE_POSIX_H */
