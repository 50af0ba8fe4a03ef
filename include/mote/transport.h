/*
 * mote/transport.h - the one thing a port must provide to libmote: moving bytes.
 * TCP on POSIX (lib/port/posix.c), TLS over any transport (lib/tls), or a UART, a modem, a test
 * double: the client engine sees only this table.
 */
#ifndef MOTE_TRANSPORT_H
#define MOTE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A connected byte stream. Both functions SHALL follow coreMQTT's contract:
 *
 * - return the number of bytes moved, from 1 to @p len;
 * - return 0 when nothing can be moved now (the socket would block): the caller tries again later;
 * - return a negative enum mote_err when the stream is unusable: MOTE_ERR_CLOSED when the peer
 *   closed it, MOTE_ERR_IO (or a more precise code) when it failed;
 * - never return 0 for a closed stream, and never block longer than the port's own timeout.
 *
 * @code
 * static int32_t uart_send(void *ctx, const uint8_t *buf, size_t len) { ... }
 * static int32_t uart_recv(void *ctx, uint8_t *buf, size_t len) { ... }
 * struct mote_transport t = { .ctx = &uart1, .send = uart_send, .recv = uart_recv };
 * @endcode
 */
struct mote_transport {
    void *ctx;
    int32_t (*send)(void *ctx, const uint8_t *buf, size_t len);
    int32_t (*recv)(void *ctx, uint8_t *buf, size_t len);
};

#ifdef __cplusplus
}
#endif

#endif /* MOTE_TRANSPORT_H */
