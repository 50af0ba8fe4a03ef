/*
 * alloc.c - counting allocator. The count is of what malloc really hands out
 * (malloc_usable_size), so blocks carry no header of ours: an idle connection's few small
 * blocks cost what they cost in plain malloc. Counters are atomic: every worker allocates.
 */
#define _GNU_SOURCE
#include "alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_size_t used, peak, limit;

/* Books `size` more bytes; 0 when that would pass the limit. */
static int reserve(size_t size)
{
    size_t now = atomic_fetch_add(&used, size) + size, lim = atomic_load(&limit);
    if (lim && now > lim) {
        atomic_fetch_sub(&used, size);
        return 0;
    }
    size_t old = atomic_load(&peak);
    while (now > old && !atomic_compare_exchange_weak(&peak, &old, now))
        ;
    return 1;
}

/* Replaces the booking of `booked` bytes by what block p really has. */
static void settle(void *p, size_t booked)
{
    size_t real = malloc_usable_size(p);
    if (real >= booked)
        atomic_fetch_add(&used, real - booked);
    else
        atomic_fetch_sub(&used, booked - real);
}

void *moted__malloc(size_t size)
{
    void *p;
    if (!reserve(size))
        return NULL;
    p = malloc(size ? size : 1);
    if (!p) {
        atomic_fetch_sub(&used, size);
        return NULL;
    }
    settle(p, size);
    return p;
}

void *moted__calloc(size_t n, size_t size)
{
    void *p;
    if (size && n > SIZE_MAX / size)
        return NULL;
    p = moted__malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *moted__realloc(void *p, size_t size)
{
    size_t old;
    void *np;
    if (!p)
        return moted__malloc(size);
    old = malloc_usable_size(p);
    if (size > old && !reserve(size - old))
        return NULL;
    np = realloc(p, size ? size : 1);
    if (!np) {
        if (size > old)
            atomic_fetch_sub(&used, size - old);
        return NULL;
    }
    /* Booked now: old + max(size - old, 0). Settle to the new block's real size. */
    settle(np, size > old ? size : old);
    return np;
}

void moted__free(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub(&used, malloc_usable_size(p));
    free(p);
}

char *moted__strndup(const char *s, size_t n)
{
    char *d = moted__malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

size_t moted__mem_used(void)
{
    return atomic_load(&used);
}

size_t moted__mem_peak(void)
{
    return atomic_load(&peak);
}

void moted__mem_set_limit(size_t l)
{
    atomic_store(&limit, l);
}
