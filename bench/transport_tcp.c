/*
 * bench/transport_tcp.c - plain TCP for the load generator's connections. The socket is already
 * connected and non-blocking; there is no handshake of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

static int tcp_open(struct bench_link *l, int fd)
{
    l->fd = fd;
    l->tls = NULL;
    l->want_write = 0;
    l->resumed = 0;
    l->err[0] = 0;
    return 0;
}

static int tcp_handshake(struct bench_link *l)
{
    (void)l;
    return 1;
}

static ssize_t tcp_recv(struct bench_link *l, void *buf, size_t len)
{
    ssize_t n = recv(l->fd, buf, len, 0);
    if (n > 0)
        return n;
    if (n == 0)
        return BENCH_IO_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return BENCH_IO_AGAIN;
    snprintf(l->err, sizeof l->err, "recv: %s", strerror(errno));
    return BENCH_IO_ERROR;
}

static ssize_t tcp_send(struct bench_link *l, const void *buf, size_t len)
{
    ssize_t n = send(l->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) {
        l->want_write = n == 0;
        return n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        l->want_write = 1;
        return BENCH_IO_AGAIN;
    }
    snprintf(l->err, sizeof l->err, "send: %s", strerror(errno));
    return BENCH_IO_ERROR;
}

static int tcp_pending(const struct bench_link *l)
{
    (void)l;
    return 0;
}

static void tcp_close(struct bench_link *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

const struct bench_transport bench_transport_tcp = {
    .name = "tcp",
    .open = tcp_open,
    .handshake = tcp_handshake,
    .recv = tcp_recv,
    .send = tcp_send,
    .pending = tcp_pending,
    .close = tcp_close,
};
