/* bench/bench_hist.c - the log-linear latency histogram (see bench.h). */
#include "bench/bench.h"

#include <math.h>

/* Bucket of v: values below SUB are their own bucket; above, the top
 * SUB_BITS+1 significant bits pick the bucket (leading 1 implied). */
static unsigned hist_index(uint64_t v)
{
    if (v < BENCH_HIST_SUB)
        return (unsigned)v;
    unsigned top = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
    unsigned shift = top - BENCH_HIST_SUB_BITS;
    return (shift + 1) * BENCH_HIST_SUB + (unsigned)((v >> shift) - BENCH_HIST_SUB);
}

/* Smallest and largest value that land in bucket i. */
static void hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi)
{
    if (i < BENCH_HIST_SUB) {
        *lo = *hi = i;
        return;
    }
    unsigned shift = i / BENCH_HIST_SUB - 1;
    uint64_t m = i % BENCH_HIST_SUB + BENCH_HIST_SUB;
    *lo = m << shift;
    *hi = *lo + ((1ull << shift) - 1);
}

void bench_hist_add(struct bench_hist *h, uint64_t value)
{
    h->buckets[hist_index(value)]++;
    h->count++;
    if (value > h->max)
        h->max = value;
}

void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank == 0)
        rank = 1;
    if (rank >= h->count)
        return h->max; /* the largest value is known exactly */
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            hist_bounds(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo) / 2;
            return mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}
