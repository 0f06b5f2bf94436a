/*
 * Unit tests for common/fastcdc: the frozen format (gear table, masks,
 * golden cut points), the cut contract, chunk size distribution, shift
 * resistance, streaming equivalence, and a printed throughput figure.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/fastcdc.h"
#include "common/hash.h"

#define BIG (64u * 1024 * 1024)

/* Deterministic pseudo-random bytes: splitmix64 outputs, little-endian. */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = splitmix64(&s);
        for (int k = 0; k < 8; k++)
            p[i + k] = (uint8_t)(v >> (8 * k));
    }
    uint64_t v = splitmix64(&s);
    for (int k = 0; i < n; i++, k++)
        p[i] = (uint8_t)(v >> (8 * k));
}

static uint8_t *big_data; /* BIG random bytes, seed 1, shared by tests */

static int group_setup(void **state)
{
    (void)state;
    big_data = malloc(BIG);
    if (!big_data)
        return -1;
    fill_random(big_data, BIG, 1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(big_data);
    return 0;
}

/* Cut offsets of data with cdc_next_cut, one shot.  Returns the count;
 * *lens gets a malloc'd array of chunk lengths. */
static size_t chunk_all(const struct cdc_params *p, const uint8_t *d, size_t n, size_t **lens)
{
    size_t cap = n / p->min_size + 2, count = 0;
    size_t *v = malloc(cap * sizeof *v);
    assert_non_null(v);
    size_t off = 0;
    while (off < n) {
        size_t c = cdc_next_cut(p, d + off, n - off, 1);
        assert_true(c > 0);
        assert_true(c <= n - off);
        assert_true(count < cap);
        v[count++] = c;
        off += c;
    }
    *lens = v;
    return count;
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int popcount64(uint64_t x)
{
    return __builtin_popcountll(x);
}

/* ---- frozen format ---- */

static void test_gear_table_procedure(void **state)
{
    (void)state;
    /* docs/chunking.md: splitmix64, seed 0x636169726e636463 ("cairncdc"). */
    uint64_t s = UINT64_C(0x636169726e636463);
    for (int i = 0; i < 256; i++)
        assert_true(cdc_gear[i] == splitmix64(&s));
    /* and the first entries literally, in case both copies drift together */
    assert_true(cdc_gear[0] == UINT64_C(0x6403f467f085d64b));
    assert_true(cdc_gear[255] == UINT64_C(0x910b65dfe564fdf7));
}

static void test_params(void **state)
{
    (void)state;
    struct cdc_params p;
    cdc_params_default(&p);
    assert_int_equal(p.min_size, 256 * 1024);
    assert_int_equal(p.avg_size, 1024 * 1024);
    assert_int_equal(p.max_size, 4 * 1024 * 1024);
    assert_int_equal(popcount64(p.mask_s), 22);
    assert_int_equal(popcount64(p.mask_l), 18);
    /* no bits below 16, top bit always used, not one contiguous run */
    assert_true((p.mask_s & 0xffff) == 0);
    assert_true((p.mask_l & 0xffff) == 0);
    assert_true(p.mask_s >> 63);
    assert_true(p.mask_l >> 63);
    /* golden values (docs/chunking.md): spread, not one contiguous run */
    assert_true(p.mask_s == UINT64_C(0xaaa554aaa5540000));
    assert_true(p.mask_l == UINT64_C(0xa4a4a4a4a4a40000));

    struct cdc_params q = p;
    assert_int_equal(cdc_params_init(&q, 32, 256, 1024), -EINVAL);     /* min too small */
    assert_int_equal(cdc_params_init(&q, 256, 256, 1024), -EINVAL);    /* min == avg */
    assert_int_equal(cdc_params_init(&q, 64, 300, 1024), -EINVAL);     /* not power of 2 */
    assert_int_equal(cdc_params_init(&q, 64, 1024, 1024), -EINVAL);   /* avg == max */
    assert_int_equal(cdc_params_init(&q, 64, 256, CDC_MAX_LIMIT + 1), -EINVAL);
    assert_memory_equal(&q, &p, sizeof p); /* untouched on failure */
    assert_int_equal(cdc_params_init(&q, 64, 256, 1024), 0);
    assert_int_equal(popcount64(q.mask_s), 10);
    assert_int_equal(popcount64(q.mask_l), 6);
}

/* ---- the cut contract ---- */

static void test_next_cut_contract(void **state)
{
    (void)state;
    struct cdc_params p;
    cdc_params_default(&p);
    const uint8_t *d = big_data;

    assert_int_equal(cdc_next_cut(&p, d, 0, 0), 0);
    assert_int_equal(cdc_next_cut(&p, d, 0, 1), 0);
    assert_int_equal(cdc_next_cut(&p, d, 100, 0), 0);
    assert_int_equal(cdc_next_cut(&p, d, 100, 1), 100);
    assert_int_equal(cdc_next_cut(&p, d, p.min_size - 1, 0), 0);
    assert_int_equal(cdc_next_cut(&p, d, p.min_size - 1, 1), p.min_size - 1);

    size_t c = cdc_next_cut(&p, d, BIG, 0);
    assert_true(c >= p.min_size && c <= p.max_size);
    /* the same cut whatever comes after it, eof or not */
    assert_int_equal(cdc_next_cut(&p, d, c, 0), c);
    assert_int_equal(cdc_next_cut(&p, d, c, 1), c);
    assert_int_equal(cdc_next_cut(&p, d, c + 12345, 0), c);
    /* one byte short of the cut: no cut found */
    assert_int_equal(cdc_next_cut(&p, d, c - 1, 0), 0);
    assert_int_equal(cdc_next_cut(&p, d, c - 1, 1), c - 1);

    /* constant input never matches: always the forced cut at max */
    uint8_t *z = calloc(1, (16u << 20) + 5);
    assert_non_null(z);
    assert_int_equal(cdc_next_cut(&p, z, p.max_size - 1, 0), 0);
    assert_int_equal(cdc_next_cut(&p, z, p.max_size - 1, 1), p.max_size - 1);
    assert_int_equal(cdc_next_cut(&p, z, p.max_size, 0), p.max_size);
    size_t *lens;
    size_t n = chunk_all(&p, z, 16u << 20, &lens);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(lens[i], p.max_size);
    free(lens);
    /* Why: a run of byte b drives the hash to b's fixed point
     * sum_{j<64} gear[b] << j = -gear[b] (mod 2^64), which (for every b,
     * with this table and these masks) has bits in both masks. */
    for (int b = 0; b < 256; b++) {
        uint64_t fixed = (uint64_t)0 - cdc_gear[b];
        assert_true((fixed & p.mask_s) != 0 && (fixed & p.mask_l) != 0);
    }
    memset(z, 0xff, (16u << 20) + 5);
    n = chunk_all(&p, z, (16u << 20) + 5, &lens);
    assert_int_equal(n, 5); /* four at max, then the 5-byte tail */
    assert_int_equal(lens[4], 5);
    free(lens);
    free(z);
}

/* ---- distribution, determinism, shift resistance ---- */

static void test_distribution(void **state)
{
    (void)state;
    struct cdc_params p;
    cdc_params_default(&p);
    size_t *lens;
    size_t n = chunk_all(&p, big_data, BIG, &lens);
    size_t total = 0, smallest = SIZE_MAX, largest = 0, at_max = 0;
    for (size_t i = 0; i < n; i++) {
        total += lens[i];
        if (i + 1 < n) {
            assert_true(lens[i] >= p.min_size);
            assert_true(lens[i] <= p.max_size);
            if (lens[i] < smallest)
                smallest = lens[i];
        }
        if (lens[i] > largest)
            largest = lens[i];
        if (lens[i] == p.max_size)
            at_max++;
    }
    assert_int_equal(total, BIG);
    double mean = (double)BIG / (double)n;
    printf("    64 MiB random: %zu chunks, mean %.0f KiB, min %zu KiB, max %zu KiB, %zu at max\n",
           n, mean / 1024, smallest / 1024, largest / 1024, at_max);
    assert_true(mean > p.avg_size / 2.0 && mean < p.avg_size * 2.0);
    /* normalized chunking keeps forced cuts rare on random data */
    assert_true(at_max * 10 < n);

    /* Determinism: the same bytes chunk the same way again. */
    size_t *again;
    size_t n2 = chunk_all(&p, big_data, BIG, &again);
    assert_int_equal(n2, n);
    assert_memory_equal(again, lens, n * sizeof *lens);
    free(again);
    free(lens);
}

struct chunk_set {
    size_t n;
    uint8_t (*ids)[32];
    size_t *offsets; /* start offset of each chunk */
};

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static void chunk_set_build(struct chunk_set *cs, const struct cdc_params *p,
                            const uint8_t *d, size_t len)
{
    size_t *lens;
    cs->n = chunk_all(p, d, len, &lens);
    cs->ids = malloc(cs->n * 32);
    cs->offsets = malloc(cs->n * sizeof *cs->offsets);
    assert_non_null(cs->ids);
    assert_non_null(cs->offsets);
    size_t off = 0;
    for (size_t i = 0; i < cs->n; i++) {
        cs->offsets[i] = off;
        sha256(d + off, lens[i], cs->ids[i]);
        off += lens[i];
    }
    free(lens);
    qsort(cs->ids, cs->n, 32, cmp_id);
}

static size_t chunk_set_shared(const struct chunk_set *a, const struct chunk_set *b)
{
    size_t shared = 0;
    for (size_t i = 0; i < b->n; i++)
        if (bsearch(b->ids[i], a->ids, a->n, 32, cmp_id))
            shared++;
    return shared;
}

static void chunk_set_free(struct chunk_set *cs)
{
    free(cs->ids);
    free(cs->offsets);
}

/* Offsets of orig, shifted by delta when past pos, that are also offsets of
 * edited: must hold for every orig boundary past the edit's chunk + 1. */
static void check_resync(const struct chunk_set *orig, const struct chunk_set *edited,
                         size_t pos, long delta)
{
    size_t j = 0, resynced_from = SIZE_MAX, missing_after = 0;
    for (size_t i = 0; i < orig->n; i++) {
        size_t o = orig->offsets[i];
        if (o <= pos)
            continue;
        size_t want = (size_t)((long)o + delta);
        while (j < edited->n && edited->offsets[j] < want)
            j++;
        int found = j < edited->n && edited->offsets[j] == want;
        if (found && resynced_from == SIZE_MAX)
            resynced_from = i;
        if (!found && resynced_from != SIZE_MAX)
            missing_after++;
    }
    /* boundaries come back within the first two after the edit and stay */
    assert_true(resynced_from != SIZE_MAX);
    assert_true(orig->offsets[resynced_from] < pos + 2 * CDC_MAX);
    assert_int_equal(missing_after, 0);
}

static void test_shift_resistance(void **state)
{
    (void)state;
    struct cdc_params p;
    cdc_params_default(&p);
    uint8_t *ed = malloc(BIG + 1);
    assert_non_null(ed);
    struct chunk_set orig, e;
    chunk_set_build(&orig, &p, big_data, BIG);

    /* one byte inserted near the start */
    size_t pos = 1000;
    memcpy(ed, big_data, pos);
    ed[pos] = 0x5a;
    memcpy(ed + pos + 1, big_data + pos, BIG - pos);
    chunk_set_build(&e, &p, ed, BIG + 1);
    size_t shared = chunk_set_shared(&orig, &e);
    printf("    1-byte insert at %zu: %zu of %zu chunks shared\n", pos, shared, e.n);
    assert_true(shared * 10 >= e.n * 9);
    check_resync(&orig, &e, pos, 1);
    chunk_set_free(&e);

    /* one byte deleted further in */
    pos = 3 * 1024 * 1024 + 77;
    memcpy(ed, big_data, pos);
    memcpy(ed + pos, big_data + pos + 1, BIG - pos - 1);
    chunk_set_build(&e, &p, ed, BIG - 1);
    shared = chunk_set_shared(&orig, &e);
    printf("    1-byte delete at %zu: %zu of %zu chunks shared\n", pos, shared, e.n);
    assert_true(shared * 10 >= e.n * 9);
    check_resync(&orig, &e, pos, -1);
    chunk_set_free(&e);

    /* 4 KiB overwritten in the middle: at most 3 chunks change */
    memcpy(ed, big_data, BIG);
    fill_random(ed + BIG / 2, 4096, 99);
    chunk_set_build(&e, &p, ed, BIG);
    shared = chunk_set_shared(&orig, &e);
    assert_true(shared + 3 >= e.n);
    check_resync(&orig, &e, BIG / 2 + 4096, 0);
    chunk_set_free(&e);

    chunk_set_free(&orig);
    free(ed);
}

/* ---- streaming ---- */

struct expect {
    const struct cdc_params *p;
    const uint8_t *data; /* the whole stream */
    const size_t *lens;  /* expected chunk lengths (NULL: just count) */
    size_t n;            /* expected count */
    size_t idx;          /* chunks seen */
    size_t off;          /* bytes seen */
    size_t fail_at;      /* return 7 at this chunk index */
};

static int emit_check(void *arg, const uint8_t *chunk, size_t len)
{
    struct expect *x = arg;
    if (x->idx == x->fail_at)
        return 7;
    if (x->lens) {
        assert_true(x->idx < x->n);
        assert_int_equal(len, x->lens[x->idx]);
    }
    assert_memory_equal(chunk, x->data + x->off, len);
    x->idx++;
    x->off += len;
    return 0;
}

/* Piece sizes from several scales, with zeros, so every path is taken. */
static size_t random_piece(uint64_t *rng, size_t max_size)
{
    uint64_t r = splitmix64(rng);
    switch (r % 6) {
    case 0:
        return 0;
    case 1:
        return (size_t)(r >> 8) % 64 + 1;
    case 2:
        return (size_t)(r >> 8) % 65536 + 1;
    case 3:
        return (size_t)(r >> 8) % (max_size / 2) + 1;
    case 4:
        return (size_t)(r >> 8) % (3 * max_size) + 1;
    default:
        return max_size;
    }
}

static void stream_compare(const struct cdc_params *p, const uint8_t *d, size_t len,
                           uint64_t seed)
{
    size_t *lens;
    size_t n = chunk_all(p, d, len, &lens);
    struct expect x = { p, d, lens, n, 0, 0, SIZE_MAX };
    struct cdc_stream s;
    cdc_stream_init(&s, p);
    uint64_t rng = seed;
    size_t off = 0;
    while (off < len) {
        size_t k = random_piece(&rng, p->max_size);
        if (k > len - off)
            k = len - off;
        assert_int_equal(cdc_stream_feed(&s, d + off, k, emit_check, &x), 0);
        off += k;
        /* everything fed is either emitted or buffered (< max) */
        assert_int_equal(x.off + s.len, off);
        assert_true(s.len < p->max_size);
    }
    assert_int_equal(cdc_stream_finish(&s, emit_check, &x), 0);
    assert_int_equal(x.idx, n);
    assert_int_equal(x.off, len);
    cdc_stream_release(&s);
    free(lens);
}

static void test_stream_equals_one_shot(void **state)
{
    (void)state;
    struct cdc_params p;
    cdc_params_default(&p);
    stream_compare(&p, big_data, BIG, 11);
    stream_compare(&p, big_data, BIG / 4 + 3, 12);

    /* Small parameters: many chunks, piece sizes around min/avg/max. */
    struct cdc_params q;
    assert_int_equal(cdc_params_init(&q, 64, 256, 1024), 0);
    for (uint64_t seed = 1; seed <= 8; seed++)
        stream_compare(&q, big_data + seed * 1000, 1u << 20, seed);
    /* A stream of constant bytes: every cut forced, in the buffered path */
    uint8_t *z = calloc(1, 100000);
    assert_non_null(z);
    stream_compare(&q, z, 100000, 5);
    free(z);
}

static void test_stream_edges(void **state)
{
    (void)state;
    struct cdc_params p;
    cdc_params_default(&p);
    struct cdc_stream s;
    struct expect x = { &p, big_data, NULL, 0, 0, 0, SIZE_MAX };

    /* never fed: no allocation, no chunk */
    cdc_stream_init(&s, &p);
    assert_int_equal(cdc_stream_feed(&s, big_data, 0, emit_check, &x), 0);
    assert_int_equal(cdc_stream_finish(&s, emit_check, &x), 0);
    assert_null(s.buf);
    assert_int_equal(x.idx, 0);
    cdc_stream_release(&s);

    /* a piece that is exactly one chunk is emitted without buffering */
    size_t c = cdc_next_cut(&p, big_data, BIG, 0);
    cdc_stream_init(&s, &p);
    assert_int_equal(cdc_stream_feed(&s, big_data, c, emit_check, &x), 0);
    assert_int_equal(x.idx, 1);
    assert_null(s.buf);
    assert_int_equal(cdc_stream_finish(&s, emit_check, &x), 0);
    assert_int_equal(x.idx, 1);

    /* finish leaves the stream reusable; tiny tail is one short chunk */
    x = (struct expect){ &p, big_data, NULL, 0, 0, 0, SIZE_MAX };
    assert_int_equal(cdc_stream_feed(&s, big_data, 10, emit_check, &x), 0);
    assert_int_equal(x.idx, 0);
    assert_int_equal(cdc_stream_finish(&s, emit_check, &x), 0);
    assert_int_equal(x.idx, 1);
    assert_int_equal(x.off, 10);
    cdc_stream_release(&s);
    cdc_stream_release(&s); /* twice is fine */

    /* emit's error stops feed and sticks */
    x = (struct expect){ &p, big_data, NULL, 0, 0, 0, 2 };
    cdc_stream_init(&s, &p);
    int rc = 0;
    size_t off = 0;
    while (rc == 0 && off < BIG) {
        rc = cdc_stream_feed(&s, big_data + off, 100000, emit_check, &x);
        off += 100000;
    }
    assert_int_equal(rc, 7);
    assert_int_equal(x.idx, 2);
    assert_int_equal(cdc_stream_feed(&s, big_data, 10, emit_check, &x), 7);
    assert_int_equal(cdc_stream_finish(&s, emit_check, &x), 7);
    cdc_stream_release(&s);

    /* error from the tail at finish */
    x = (struct expect){ &p, big_data, NULL, 0, 0, 0, 0 };
    cdc_stream_init(&s, &p);
    assert_int_equal(cdc_stream_feed(&s, big_data, 10, emit_check, &x), 0);
    assert_int_equal(cdc_stream_finish(&s, emit_check, &x), 7);
    assert_int_equal(cdc_stream_finish(&s, emit_check, &x), 7);
    cdc_stream_release(&s);
}

/* ---- golden cut points: the on-disk format ---- */

static void test_golden(void **state)
{
    (void)state;
    /* Chunk lengths of the first 16 MiB of fill_random(seed 1) (the bytes
     * of splitmix64 outputs from seed 1, little-endian), as listed in
     * docs/chunking.md.  If this test fails, the chunk format changed:
     * existing data would stop deduplicating.  Do not "fix" the numbers. */
    static const size_t want[] = { 271808, 1138170, 1117694, 712408, 857627, 1235551,
                                   1479866, 1227905, 375691, 1245017, 1069158, 1674303,
                                   1272194, 1564111, 1484049, 51664 };
    static const size_t want_small[] = { 288, 280, 285, 395, 341, 296, 352,
                                         106, 691, 188, 289, 284, 301 };
    struct cdc_params p;
    cdc_params_default(&p);
    size_t *lens;
    size_t n = chunk_all(&p, big_data, 16u << 20, &lens);
    assert_int_equal(n, sizeof want / sizeof want[0]);
    assert_memory_equal(lens, want, sizeof want);
    free(lens);

    struct cdc_params q;
    assert_int_equal(cdc_params_init(&q, 64, 256, 1024), 0);
    n = chunk_all(&q, big_data, 4096, &lens);
    assert_int_equal(n, sizeof want_small / sizeof want_small[0]);
    assert_memory_equal(lens, want_small, sizeof want_small);
    free(lens);

    /* and the first chunk's id, hashing included */
    uint8_t id[32];
    char hex[65];
    sha256(big_data, want[0], id);
    hex_encode(id, 32, hex);
    assert_string_equal(hex, "512db694cc7e447a37b1dd42268da43bb6d385afa3bca15dc1fce0bbfb5903a0");
}

/* ---- speed (printed, not asserted) ---- */

static int emit_count(void *arg, const uint8_t *chunk, size_t len)
{
    (void)chunk;
    *(size_t *)arg += len;
    return 0;
}

static void test_throughput(void **state)
{
    (void)state;
    struct cdc_params p;
    cdc_params_default(&p);
    /* Best of three: the machine is shared, a single run is noisy. */
    double best = 1e9;
    size_t n = 0, hashed = 0;
    for (int r = 0; r < 3; r++) {
        size_t *lens;
        double t0 = now_sec();
        n = chunk_all(&p, big_data, BIG, &lens);
        double t = now_sec() - t0;
        if (t < best)
            best = t;
        hashed = 0;
        for (size_t i = 0; i < n; i++)
            hashed += lens[i] >= p.min_size ? lens[i] - (p.min_size - 64) : 0;
        free(lens);
    }
    printf("    cdc_next_cut: %.0f MB/s of input, %.0f MB/s hashed (%zu chunks in 64 MiB)\n",
           BIG / best / 1e6, hashed / best / 1e6, n);

    static const size_t pieces[] = { 16384, 65536, 1u << 20, BIG };
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        best = 1e9;
        for (int r = 0; r < 2; r++) {
            struct cdc_stream s;
            size_t seen = 0;
            cdc_stream_init(&s, &p);
            double t0 = now_sec();
            for (size_t off = 0; off < BIG; off += pieces[k])
                assert_int_equal(cdc_stream_feed(&s, big_data + off, pieces[k], emit_count, &seen),
                                 0);
            assert_int_equal(cdc_stream_finish(&s, emit_count, &seen), 0);
            double t = now_sec() - t0;
            if (t < best)
                best = t;
            cdc_stream_release(&s);
            assert_int_equal(seen, BIG);
        }
        printf("    cdc_stream, %zu-byte pieces: %.0f MB/s\n", pieces[k], BIG / best / 1e6);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gear_table_procedure),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_next_cut_contract),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_shift_resistance),
        cmocka_unit_test(test_stream_equals_one_shot),
        cmocka_unit_test(test_stream_edges),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_throughput),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
