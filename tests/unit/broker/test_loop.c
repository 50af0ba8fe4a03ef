/* test_loop.c - moted's event loop: timers fire in order, move, cancel; fds and wake-ups. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "loop.h"

static int fired[1000], nfired;

static struct moted_timer t[1000];

static void on_timer(struct moted_loop *loop, struct moted_timer *timer)
{
    (void)loop;
    fired[nfired++] = (int)(timer - t);
}

static void timers_fire_in_deadline_order(void **state)
{
    struct moted_loop loop;
    (void)state;
    assert_int_equal(moted__loop_init(&loop, 64), 0);
    moted__loop_on_timer(&loop, 0, on_timer);
    nfired = 0;
    /* Deadlines in a scrambled order, all already due. */
    for (int i = 0; i < 1000; i++) {
        int k = (i * 7919) % 1000;
        moted__timer_set(&loop, &t[k], (uint64_t)k);
    }
    /* Move one later (still due), cancel another. */
    moted__timer_set(&loop, &t[3], 999);
    moted__timer_cancel(&loop, &t[500]);
    moted__loop_turn(&loop, 0);
    assert_int_equal(nfired, 999);
    for (int i = 1; i < nfired; i++)
        assert_true(t[fired[i - 1]].when_ms <= t[fired[i]].when_ms);
    assert_int_equal(fired[nfired - 1] == 3 || fired[nfired - 2] == 3, 1);
    for (int i = 0; i < nfired; i++)
        assert_int_not_equal(fired[i], 500);
    moted__loop_free(&loop);
}

static void future_timer_waits(void **state)
{
    struct moted_loop loop;
    (void)state;
    assert_int_equal(moted__loop_init(&loop, 64), 0);
    moted__loop_on_timer(&loop, 0, on_timer);
    nfired = 0;
    memset(&t[7], 0, sizeof t[7]);
    moted__timer_set(&loop, &t[7], moted__now_ms() + 30);
    moted__loop_turn(&loop, 0);
    assert_int_equal(nfired, 0);
    uint64_t start = moted__now_ms();
    while (!nfired && moted__now_ms() - start < 2000)
        moted__loop_turn(&loop, -1);
    assert_int_equal(nfired, 1);
    assert_true(moted__now_ms() - start >= 20);
    moted__loop_free(&loop);
}

static int readable, woken, order[8], norder;

static void on_read(struct moted_loop *loop, int fd, void *data, int mask)
{
    char c;
    (void)loop;
    (void)data;
    if (mask & MOTED_READABLE && read(fd, &c, 1) == 1) {
        readable++;
        order[norder++ % 8] = 'r';
    }
}

static void on_wake(struct moted_loop *loop, void *data)
{
    (void)loop;
    (void)data;
    woken++;
    order[norder++ % 8] = 'w';
}

static void *wake_later(void *arg)
{
    usleep(50 * 1000);
    moted__loop_wake(arg);
    return NULL;
}

static void fd_events_reach_their_handlers_after_the_wake_hook(void **state)
{
    struct moted_loop loop;
    int p[2];
    (void)state;
    assert_int_equal(moted__loop_init(&loop, 64), 0);
    assert_int_equal(pipe(p), 0);
    readable = woken = norder = 0;
    loop.on_wake = on_wake;
    assert_int_equal(moted__loop_add(&loop, p[0], MOTED_READABLE, on_read, NULL), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    moted__loop_turn(&loop, 1000);
    assert_int_equal(readable, 1);
    /* Mailboxes before sockets: the hook ran before the read handler of the same turn. */
    assert_int_equal(order[0], 'w');
    assert_int_equal(order[1], 'r');
    moted__loop_del(&loop, p[0], MOTED_READABLE);
    assert_int_equal(write(p[1], "y", 1), 1);
    moted__loop_turn(&loop, 0);
    assert_int_equal(readable, 1);
    assert_int_equal(moted__loop_add(&loop, 64, MOTED_READABLE, on_read, NULL), -1);
    close(p[0]);
    close(p[1]);
    moted__loop_free(&loop);
}

static void a_wake_from_another_thread_ends_the_wait(void **state)
{
    struct moted_loop loop;
    pthread_t th;
    (void)state;
    assert_int_equal(moted__loop_init(&loop, 64), 0);
    woken = norder = 0;
    loop.on_wake = on_wake;
    uint64_t start = moted__now_ms();
    assert_int_equal(pthread_create(&th, NULL, wake_later, &loop), 0);
    moted__loop_turn(&loop, 5000); /* nothing else to wait for: only the wake can end it */
    uint64_t took = moted__now_ms() - start;
    pthread_join(th, NULL);
    assert_true(took < 2000);
    assert_true(woken >= 1);
    moted__loop_free(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_fire_in_deadline_order),
        cmocka_unit_test(future_timer_waits),
        cmocka_unit_test(fd_events_reach_their_handlers_after_the_wake_hook),
        cmocka_unit_test(a_wake_from_another_thread_ends_the_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
