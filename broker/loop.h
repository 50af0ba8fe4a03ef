/*
 * loop.h - moted's event loop: one per worker thread, Redis ae style. File events live in an
 * array indexed by fd; timers live in a binary min-heap of intrusive nodes, so 100k keepalive
 * deadlines cost O(log n) each to set, move or cancel. A before-sleep hook runs once per turn,
 * before the loop waits: that is where batched writes are flushed (and, later, the store commits
 * before acknowledgements leave). After each wait the on_wake hook runs before any file event,
 * so what other threads posted is handled before the sockets of that turn.
 */
#ifndef MOTED_LOOP_H
#define MOTED_LOOP_H

#include <stddef.h>
#include <stdint.h>

#define MOTED_READABLE 1
#define MOTED_WRITABLE 2

struct moted_loop;

struct moted_timer;

typedef void moted_file_fn(struct moted_loop *loop, int fd, void *data, int mask);
/* A timer's owner finds itself from the timer's address (moted__container_of). */
typedef void moted_timer_fn(struct moted_loop *loop, struct moted_timer *t);
typedef void moted_hook_fn(struct moted_loop *loop, void *data);

#define MOTED_TIMER_KINDS 4

/*
 * A timer node, embedded in its owner: 16 bytes, as there is one per connection and two per
 * session. `kind` picks the loop's handler for it (moted__loop_on_timer); heap_index is 0 while
 * the timer is not armed.
 */
struct moted_timer {
    uint64_t when_ms;
    uint32_t heap_index;
    uint32_t kind;
};

#define moted__container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct moted_file {
    int mask;
    moted_file_fn *fn;
    void *data;
};

struct moted_loop {
    int epfd;
    int wakefd; /* eventfd: another thread asks this loop to run its hook */
    int setsize;
    int stop;
    struct moted_file *files; /* indexed by fd */
    struct moted_timer **heap; /* 1-based binary heap */
    size_t heap_len, heap_cap;
    moted_timer_fn *timer_fns[MOTED_TIMER_KINDS];
    moted_hook_fn *before_sleep;
    void *before_sleep_data;
    moted_hook_fn *on_wake;
    void *on_wake_data;
    uint64_t now_ms; /* monotonic clock, read once per turn */
};

/* Creates the loop for fds below setsize. Returns 0, or -1 with errno set. */
int moted__loop_init(struct moted_loop *loop, int setsize);
void moted__loop_free(struct moted_loop *loop);

/* Adds mask to what fd is watched for; fn and data replace earlier ones. Returns 0 or -1. */
int moted__loop_add(struct moted_loop *loop, int fd, int mask, moted_file_fn *fn, void *data);
/* Stops watching fd for mask (both bits: forget the fd). */
void moted__loop_del(struct moted_loop *loop, int fd, int mask);

/* Sets the handler of timers of this kind (0 .. MOTED_TIMER_KINDS - 1). */
void moted__loop_on_timer(struct moted_loop *loop, uint32_t kind, moted_timer_fn *fn);
/* Arms (or moves) timer t to fire at when_ms on the monotonic clock. */
void moted__timer_set(struct moted_loop *loop, struct moted_timer *t, uint64_t when_ms);
void moted__timer_cancel(struct moted_loop *loop, struct moted_timer *t);

/* Wakes the loop from any thread; its on_wake hook runs in the loop's thread. */
void moted__loop_wake(struct moted_loop *loop);

/* Runs one turn: waits at most max_wait_ms (-1: until the next timer or event). */
void moted__loop_turn(struct moted_loop *loop, int max_wait_ms);
/* Runs turns until moted__loop_stop(). */
void moted__loop_run(struct moted_loop *loop);
void moted__loop_stop(struct moted_loop *loop);

uint64_t moted__now_ms(void);

#endif /* MOTED_LOOP_H */
