/*
 * loop.c - epoll backend, timer heap and wake-up of moted's per-thread event loop.
 */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"

uint64_t moted__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_wakefd(struct moted_loop *loop, int fd, void *data, int mask)
{
    uint64_t n;
    (void)data;
    (void)mask;
    while (read(fd, &n, sizeof n) == (ssize_t)sizeof n)
        ;
    if (loop->on_wake)
        loop->on_wake(loop, loop->on_wake_data);
}

int moted__loop_init(struct moted_loop *loop, int setsize)
{
    memset(loop, 0, sizeof *loop);
    loop->epfd = loop->wakefd = -1;
    loop->setsize = setsize;
    loop->files = moted__calloc((size_t)setsize, sizeof *loop->files);
    loop->heap_cap = 64;
    loop->heap = moted__calloc(loop->heap_cap + 1, sizeof *loop->heap);
    if (!loop->files || !loop->heap)
        goto fail;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto fail;
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0 || moted__loop_add(loop, loop->wakefd, MOTED_READABLE, on_wakefd, NULL))
        goto fail;
    loop->now_ms = moted__now_ms();
    return 0;
fail:
    moted__loop_free(loop);
    errno = errno ? errno : ENOMEM;
    return -1;
}

void moted__loop_free(struct moted_loop *loop)
{
    if (loop->epfd >= 0)
        close(loop->epfd);
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    moted__free(loop->files);
    moted__free(loop->heap);
    loop->files = NULL;
    loop->heap = NULL;
    loop->epfd = loop->wakefd = -1;
}

static int epoll_events(int mask)
{
    return ((mask & MOTED_READABLE) ? EPOLLIN : 0) | ((mask & MOTED_WRITABLE) ? EPOLLOUT : 0);
}

int moted__loop_add(struct moted_loop *loop, int fd, int mask, moted_file_fn *fn, void *data)
{
    struct epoll_event ev = {0};
    struct moted_file *f;
    if (fd < 0 || fd >= loop->setsize) {
        errno = ERANGE;
        return -1;
    }
    f = &loop->files[fd];
    ev.events = (uint32_t)epoll_events(f->mask | mask);
    ev.data.fd = fd;
    if (epoll_ctl(loop->epfd, f->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    f->mask |= mask;
    f->fn = fn;
    f->data = data;
    return 0;
}

void moted__loop_del(struct moted_loop *loop, int fd, int mask)
{
    struct epoll_event ev = {0};
    struct moted_file *f;
    if (fd < 0 || fd >= loop->setsize)
        return;
    f = &loop->files[fd];
    if (!f->mask)
        return;
    f->mask &= ~mask;
    ev.events = (uint32_t)epoll_events(f->mask);
    ev.data.fd = fd;
    epoll_ctl(loop->epfd, f->mask ? EPOLL_CTL_MOD : EPOLL_CTL_DEL, fd, &ev);
    if (!f->mask)
        f->fn = NULL, f->data = NULL;
}

/* ---- timer heap (1-based: children of i are 2i and 2i+1) ---- */

static void heap_place(struct moted_loop *loop, size_t i, struct moted_timer *t)
{
    loop->heap[i] = t;
    t->heap_index = (uint32_t)i;
}

void moted__loop_on_timer(struct moted_loop *loop, uint32_t kind, moted_timer_fn *fn)
{
    if (kind < MOTED_TIMER_KINDS)
        loop->timer_fns[kind] = fn;
}

static void heap_up(struct moted_loop *loop, size_t i)
{
    struct moted_timer *t = loop->heap[i];
    while (i > 1 && loop->heap[i / 2]->when_ms > t->when_ms) {
        heap_place(loop, i, loop->heap[i / 2]);
        i /= 2;
    }
    heap_place(loop, i, t);
}

static void heap_down(struct moted_loop *loop, size_t i)
{
    struct moted_timer *t = loop->heap[i];
    for (;;) {
        size_t c = 2 * i;
        if (c > loop->heap_len)
            break;
        if (c + 1 <= loop->heap_len && loop->heap[c + 1]->when_ms < loop->heap[c]->when_ms)
            c++;
        if (loop->heap[c]->when_ms >= t->when_ms)
            break;
        heap_place(loop, i, loop->heap[c]);
        i = c;
    }
    heap_place(loop, i, t);
}

void moted__timer_cancel(struct moted_loop *loop, struct moted_timer *t)
{
    size_t i = t->heap_index;
    struct moted_timer *last;
    if (!i)
        return;
    t->heap_index = 0;
    last = loop->heap[loop->heap_len--];
    if (last == t)
        return;
    heap_place(loop, i, last);
    heap_up(loop, i);
    heap_down(loop, last->heap_index);
}

void moted__timer_set(struct moted_loop *loop, struct moted_timer *t, uint64_t when_ms)
{
    if (t->heap_index) {
        t->when_ms = when_ms;
        heap_up(loop, t->heap_index);
        heap_down(loop, t->heap_index);
        return;
    }
    if (loop->heap_len == loop->heap_cap) {
        size_t cap = loop->heap_cap * 2;
        struct moted_timer **h = moted__realloc(loop->heap, (cap + 1) * sizeof *h);
        if (!h)
            abort(); /* a timer that silently never fires is worse than stopping */
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t->when_ms = when_ms;
    loop->heap_len++;
    heap_place(loop, loop->heap_len, t);
    heap_up(loop, loop->heap_len);
}

static void run_timers(struct moted_loop *loop)
{
    /* Bounded: a timer that re-arms itself for "now" runs again next turn, not forever. */
    size_t budget = loop->heap_len;
    while (budget-- && loop->heap_len && loop->heap[1]->when_ms <= loop->now_ms) {
        struct moted_timer *t = loop->heap[1];
        moted__timer_cancel(loop, t);
        if (t->kind < MOTED_TIMER_KINDS && loop->timer_fns[t->kind])
            loop->timer_fns[t->kind](loop, t);
    }
}

void moted__loop_wake(struct moted_loop *loop)
{
    uint64_t one = 1;
    ssize_t n = write(loop->wakefd, &one, sizeof one);
    (void)n; /* EAGAIN means a wake-up is already pending */
}

void moted__loop_turn(struct moted_loop *loop, int max_wait_ms)
{
    struct epoll_event events[256];
    int timeout = max_wait_ms, n;

    if (loop->before_sleep)
        loop->before_sleep(loop, loop->before_sleep_data);
    if (loop->heap_len) {
        uint64_t now = moted__now_ms(), when = loop->heap[1]->when_ms;
        int until = when <= now ? 0 : (when - now > 60000 ? 60000 : (int)(when - now));
        if (timeout < 0 || until < timeout)
            timeout = until;
    }
    n = epoll_wait(loop->epfd, events, (int)(sizeof events / sizeof events[0]), timeout);
    loop->now_ms = moted__now_ms();
    /*
     * What other threads posted goes first, before any socket of this turn: a message another
     * worker acknowledged to its publisher was posted before that acknowledgement left, so a
     * client that publishes after seeing it is served after it (causal order across workers).
     */
    if (loop->on_wake)
        loop->on_wake(loop, loop->on_wake_data);
    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd, mask = 0;
        struct moted_file *f = &loop->files[fd];
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            mask |= MOTED_READABLE;
        if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            mask |= MOTED_WRITABLE;
        mask &= f->mask;
        if (mask && f->fn)
            f->fn(loop, fd, f->data, mask);
    }
    run_timers(loop);
}

void moted__loop_run(struct moted_loop *loop)
{
    loop->stop = 0;
    while (!loop->stop)
        moted__loop_turn(loop, -1);
}

void moted__loop_stop(struct moted_loop *loop)
{
    loop->stop = 1;
}
