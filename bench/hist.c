/*
 * bench/hist.c - the log-bucket latency histogram (see hist.h).
 */
#include <string.h>

#include "hist.h"

static unsigned bucket_of(uint64_t v)
{
    unsigned e;
    if (v < BENCH_HIST_SUB)
        return (unsigned)v;
    e = 63u - (unsigned)__builtin_clzll(v); /* >= BENCH_HIST_SUB_BITS */
    return BENCH_HIST_SUB + (e - BENCH_HIST_SUB_BITS) * BENCH_HIST_SUB +
           (unsigned)((v >> (e - BENCH_HIST_SUB_BITS)) - BENCH_HIST_SUB);
}

/* Lowest value of bucket @b and its width. */
static void bucket_range(unsigned b, uint64_t *low, uint64_t *width)
{
    unsigned e, sub;
    if (b < BENCH_HIST_SUB) {
        *low = b;
        *width = 1;
        return;
    }
    e = (b - BENCH_HIST_SUB) / BENCH_HIST_SUB + BENCH_HIST_SUB_BITS;
    sub = (b - BENCH_HIST_SUB) % BENCH_HIST_SUB;
    *low = (uint64_t)(BENCH_HIST_SUB + sub) << (e - BENCH_HIST_SUB_BITS);
    *width = (uint64_t)1 << (e - BENCH_HIST_SUB_BITS);
}

void bench_hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void bench_hist_add(struct bench_hist *h, uint64_t value)
{
    h->bucket[bucket_of(value)]++;
    h->count++;
    h->sum += (double)value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double pct)
{
    uint64_t rank, seen = 0, low, width, v;
    if (!h->count)
        return 0;
    if (pct >= 100.0)
        return h->max;
    rank = (uint64_t)((pct / 100.0) * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    for (unsigned b = 0; b < BENCH_HIST_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen > rank) {
            bucket_range(b, &low, &width);
            v = low + width / 2;
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from)
{
    if (!from->count)
        return;
    for (unsigned b = 0; b < BENCH_HIST_BUCKETS; b++)
        into->bucket[b] += from->bucket[b];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}
