/*
 * bench/hist.h - a latency histogram with logarithmic buckets (HDR-style): 32 linear sub-buckets
 * per power of two, so any percentile is within about 3% of the true value; fixed size, no
 * allocation, values in nanoseconds.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 5
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
/* Values below BENCH_HIST_SUB have one bucket each; then 32 per power of two up to 2^63. */
#define BENCH_HIST_BUCKETS (BENCH_HIST_SUB + (64 - BENCH_HIST_SUB_BITS) * BENCH_HIST_SUB)

struct bench_hist {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint64_t bucket[BENCH_HIST_BUCKETS];
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_add(struct bench_hist *h, uint64_t value);
/* Adds every value of @from into @into (histograms of several processes). */
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from);
/* The value at percentile @pct (0-100): the middle of its bucket, never above the maximum seen.
 * 0 when the histogram is empty. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double pct);

#endif /* BENCH_HIST_H */
