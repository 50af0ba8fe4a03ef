/*
 * alloc.c - counting allocator. Each block carries its size in a header, so free() can
 * subtract it; counters are atomic because every worker thread allocates.
 */
#include "alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The header keeps user memory aligned for any type. */
typedef union {
    size_t size;
    max_align_t align;
} header;

static atomic_size_t used, peak, limit;

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

void *moted__malloc(size_t size)
{
    header *h;
    if (size > SIZE_MAX - sizeof *h || !reserve(size))
        return NULL;
    h = malloc(sizeof *h + size);
    if (!h) {
        atomic_fetch_sub(&used, size);
        return NULL;
    }
    h->size = size;
    return h + 1;
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
    header *h, *nh;
    size_t old;
    if (!p)
        return moted__malloc(size);
    h = (header *)p - 1;
    old = h->size;
    if (size > old && !reserve(size - old))
        return NULL;
    if (size > SIZE_MAX - sizeof *h)
        return NULL;
    nh = realloc(h, sizeof *nh + size);
    if (!nh) {
        if (size > old)
            atomic_fetch_sub(&used, size - old);
        return NULL;
    }
    if (size < old)
        atomic_fetch_sub(&used, old - size);
    nh->size = size;
    return nh + 1;
}

void moted__free(void *p)
{
    header *h;
    if (!p)
        return;
    h = (header *)p - 1;
    atomic_fetch_sub(&used, h->size);
    free(h);
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
