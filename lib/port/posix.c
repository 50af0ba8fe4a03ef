/*
 * posix.c - libmote on POSIX: TCP through getaddrinfo and a non-blocking connect with a timeout,
 * a struct mote_transport over the socket, and a poll(2) loop that keeps a client connected.
 * The client engine stays sans-I/O; everything that touches the OS is here.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mote/posix.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on the socket instead */
#endif

#define DEFAULT_TIMEOUT_MS 10000u

/* see mote/posix.h */
uint32_t mote_posix_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static int closed_errno(int e)
{
    return e == EPIPE || e == ECONNRESET || e == ENOTCONN;
}

static int32_t tcp_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct mote_posix_tcp *tcp = ctx;
    ssize_t n;

    if (tcp->fd < 0)
        return MOTE_ERR_CLOSED;
    if (len > INT32_MAX)
        len = INT32_MAX;
    do
        n = send(tcp->fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return (int32_t)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    tcp->last_errno = errno;
    return closed_errno(errno) ? MOTE_ERR_CLOSED : MOTE_ERR_IO;
}

static int32_t tcp_recv(void *ctx, uint8_t *buf, size_t len)
{
    struct mote_posix_tcp *tcp = ctx;
    ssize_t n;

    if (tcp->fd < 0)
        return MOTE_ERR_CLOSED;
    if (len == 0)
        return 0;
    if (len > INT32_MAX)
        len = INT32_MAX;
    do
        n = recv(tcp->fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return (int32_t)n;
    if (n == 0) /* EOF: never 0, which would mean "try again" */
        return MOTE_ERR_CLOSED;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    tcp->last_errno = errno;
    return closed_errno(errno) ? MOTE_ERR_CLOSED : MOTE_ERR_IO;
}

static int errno_to_code(int e)
{
    switch (e) {
    case ECONNREFUSED:
        return MOTE_ERR_TCP_REFUSED;
    case ETIMEDOUT:
        return MOTE_ERR_TCP_TIMEOUT;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
        return MOTE_ERR_TCP_UNREACHABLE;
    default:
        return MOTE_ERR_IO;
    }
}

static int fill_err(struct mote_error *err, int code, uint8_t layer, int32_t raw)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = code;
        err->layer = layer;
        err->raw = raw;
    }
    return code;
}

static uint32_t remaining(uint32_t start, uint32_t timeout)
{
    uint32_t gone = mote_posix_now_ms() - start;
    return gone >= timeout ? 0 : timeout - gone;
}

/* One address: 0 and the connected socket in *fd, or the errno of the failure. */
static int connect_one(const struct addrinfo *ai, uint32_t start, uint32_t timeout, int *fd_out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    int e = 0, one = 1;

    if (fd < 0)
        return errno;
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        e = errno;
        close(fd);
        return e;
    }
#ifdef SO_NOSIGPIPE
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            e = errno;
            close(fd);
            return e;
        }
        for (;;) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            uint32_t left = remaining(start, timeout);
            int n = poll(&p, 1, (int)(left > INT32_MAX ? INT32_MAX : left));
            socklen_t len = sizeof e;

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                e = n == 0 ? ETIMEDOUT : errno;
                close(fd);
                return e;
            }
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
                e = errno;
            if (e) {
                close(fd);
                return e;
            }
            break;
        }
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fd_out = fd;
    return 0;
}

/* see mote/posix.h */
int mote_posix_connect(const char *host, uint16_t port, uint32_t timeout_ms,
                       struct mote_posix_tcp *out, struct mote_error *err)
{
    struct addrinfo hints, *list = NULL, *ai;
    char service[8];
    uint32_t start = mote_posix_now_ms();
    int rc, e = ETIMEDOUT;

    if (!out)
        return fill_err(err, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG, 0);
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->transport.ctx = out;
    out->transport.send = tcp_send;
    out->transport.recv = tcp_recv;
    if (!host || !*host)
        return fill_err(err, MOTE_ERR_BAD_ARG, MOTE_LAYER_CONFIG, 0);
    if (!timeout_ms)
        timeout_ms = DEFAULT_TIMEOUT_MS;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(service, sizeof service, "%u", (unsigned)port);
    rc = getaddrinfo(host, service, &hints, &list);
    if (rc != 0)
        return fill_err(err, MOTE_ERR_DNS, MOTE_LAYER_DNS, rc == EAI_SYSTEM ? errno : rc);

    for (ai = list; ai; ai = ai->ai_next) {
        int fd = -1;

        if (remaining(start, timeout_ms) == 0) {
            e = ETIMEDOUT;
            break;
        }
        e = connect_one(ai, start, timeout_ms, &fd);
        if (e == 0) {
            freeaddrinfo(list);
            out->fd = fd;
            return MOTE_OK;
        }
    }
    freeaddrinfo(list);
    return fill_err(err, errno_to_code(e), MOTE_LAYER_TCP, e);
}

/* see mote/posix.h */
void mote_posix_close(struct mote_posix_tcp *tcp)
{
    if (tcp && tcp->fd >= 0) {
        close(tcp->fd);
        tcp->fd = -1;
    }
}

/* A transport failure reported by the engine gets the errno the port saw. */
static void add_errno(struct mote_client *c, const struct mote_posix_tcp *tcp)
{
    if (c->err.layer == MOTE_LAYER_TCP && c->err.raw == 0)
        c->err.raw = tcp->last_errno;
}

/* see mote/posix.h */
int mote_posix_step(struct mote_client *c, struct mote_posix_tcp *tcp, uint32_t max_ms)
{
    struct pollfd p;
    uint32_t wait;
    int rc;

    if (!c || !tcp)
        return MOTE_ERR_BAD_ARG;
    rc = mote_client_poll(c, mote_posix_now_ms(), &wait);
    if (rc < 0) {
        add_errno(c, tcp);
        return rc;
    }
    if (wait > max_ms)
        wait = max_ms;
    p.fd = tcp->fd;
    p.events = (short)(POLLIN | (mote_client_wants_write(c) ? POLLOUT : 0));
    p.revents = 0;
    if (poll(&p, 1, (int)(wait > INT32_MAX ? INT32_MAX : wait)) < 0 && errno != EINTR) {
        tcp->last_errno = errno;
        return MOTE_ERR_IO;
    }
    rc = mote_client_poll(c, mote_posix_now_ms(), &wait);
    if (rc < 0)
        add_errno(c, tcp);
    return rc;
}

/* see mote/posix.h */
int mote_posix_open(struct mote_client *c, struct mote_posix_tcp *tcp, const char *host,
                    uint16_t port, uint32_t timeout_ms)
{
    struct mote_error err;
    int rc;

    if (!c || !tcp)
        return MOTE_ERR_BAD_ARG;
    rc = mote_posix_connect(host, port, timeout_ms, tcp, &err);
    if (rc != MOTE_OK) {
        c->err = err; /* so that mote_client_error() explains DNS and TCP failures too */
        return rc;
    }
    rc = mote_client_connect(c, &tcp->transport, mote_posix_now_ms());
    while (rc == MOTE_OK && mote_client_state(c) == MOTE_STATE_CONNECTING)
        rc = mote_posix_step(c, tcp, 100);
    if (rc == MOTE_OK && mote_client_state(c) != MOTE_STATE_CONNECTED)
        rc = MOTE_ERR_NOT_CONNECTED; /* a callback ended it */
    if (rc != MOTE_OK)
        mote_posix_close(tcp);
    return rc;
}

static int stopped(const struct mote_posix_run *run, uint32_t start)
{
    if (run->stop && *run->stop)
        return 1;
    return run->run_ms && mote_posix_now_ms() - start >= run->run_ms;
}

/* see mote/posix.h */
int mote_posix_run(struct mote_client *c, struct mote_posix_tcp *tcp,
                   const struct mote_posix_run *run)
{
    uint32_t start = mote_posix_now_ms();
    uint32_t random = start ^ ((uint32_t)getpid() << 16) ^ 0x9E3779B9u;

    if (!c || !tcp || !run || !run->host)
        return MOTE_ERR_BAD_ARG;
    tcp->fd = -1;
    while (!stopped(run, start)) {
        int rc = mote_posix_open(c, tcp, run->host, run->port, run->connect_timeout_ms);

        while (rc == MOTE_OK && !stopped(run, start))
            rc = mote_posix_step(c, tcp, 100);
        if (rc == MOTE_OK)
            break; /* asked to stop while connected */
        mote_posix_close(tcp);
        if (run->on_error)
            run->on_error(run->ctx, mote_client_error(c));
        random ^= random << 13; /* xorshift32: jitter only, not secrets */
        random ^= random >> 17;
        random ^= random << 5;
        uint32_t delay = mote_client_backoff_ms(c, random), slept = mote_posix_now_ms();
        while (!stopped(run, start) && mote_posix_now_ms() - slept < delay) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (mote_client_state(c) == MOTE_STATE_CONNECTED ||
        mote_client_state(c) == MOTE_STATE_CONNECTING)
        (void)mote_client_disconnect(c, mote_posix_now_ms());
    mote_posix_close(tcp);
    return MOTE_OK;
}
