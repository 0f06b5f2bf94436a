/* Unit tests for common/md5: RFC 1321's test suite, every length and split
 * against OpenSSL, the sixteen-lane kernel against the scalar code, and
 * many threads hashing at once through the shared lanes. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "common/hash.h"
#include "common/md5.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 11);
}

static void fill(uint8_t *p, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)next_rand(s);
}

static void reference(const uint8_t *p, size_t n, uint8_t out[16])
{
    unsigned int l = 0;
    assert_int_equal(EVP_Digest(p, n, out, &l, EVP_md5(), NULL), 1);
}

static void test_rfc1321_suite(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct md5_ctx c;
        uint8_t out[16];
        char hex[33];
        md5_init(&c);
        md5_update(&c, cases[i][0], strlen(cases[i][0]));
        md5_final(&c, out);
        hex_encode(out, 16, hex);
        assert_string_equal(hex, cases[i][1]);
    }
}

/* Every length up to a few blocks, fed in random pieces. */
static void test_lengths_and_splits(void **state)
{
    (void)state;
    uint8_t buf[700], want[16], got[16];
    fill(buf, sizeof buf, &rng);
    for (size_t n = 0; n <= sizeof buf; n++) {
        reference(buf, n, want);
        struct md5_ctx c;
        md5_init(&c);
        size_t off = 0;
        while (off < n) {
            size_t take = 1 + next_rand(&rng) % 130;
            if (take > n - off)
                take = n - off;
            md5_update(&c, buf + off, take);
            off += take;
        }
        md5_final(&c, got);
        assert_memory_equal(got, want, 16);
    }
}

/* Large updates go through the shared lanes (alone: the scalar slice);
 * the same with the scalar path forced. */
static void test_large_alone(void **state)
{
    (void)state;
    size_t n = 3 * 1024 * 1024 + 17;
    uint8_t *buf = malloc(n), want[16], got[16];
    assert_non_null(buf);
    fill(buf, n, &rng);
    reference(buf, n, want);
    for (int scalar = 0; scalar < 2; scalar++) {
        md5_force_scalar(scalar);
        struct md5_ctx c;
        md5_init(&c);
        md5_update(&c, buf, 5);
        md5_update(&c, buf + 5, n - 5);
        md5_final(&c, got);
        assert_memory_equal(got, want, 16);
    }
    md5_force_scalar(0);
    free(buf);
}

/* The kernel: sixteen lanes from arbitrary states, against the scalar code
 * on each lane (through md5_update of a context set to the same state). */
static void test_x16_kernel(void **state)
{
    (void)state;
    if (!md5_lanes_available()) {
        skip();
        return;
    }
    enum { MAXB = 19 };
    uint8_t *bufs[16];
    for (int i = 0; i < 16; i++) {
        bufs[i] = malloc(MAXB * 64 + 1);
        assert_non_null(bufs[i]);
        fill(bufs[i], MAXB * 64 + 1, &rng);
    }
    for (size_t nb = 1; nb <= MAXB; nb += 3) {
        uint32_t h[16][4], want[16][4];
        const uint8_t *p[16];
        for (int i = 0; i < 16; i++) {
            for (int w = 0; w < 4; w++)
                h[i][w] = want[i][w] = next_rand(&rng);
            p[i] = bufs[i] + (i & 1); /* unaligned lanes too */
            struct md5_ctx c = {.len = 0};
            memcpy(c.h, want[i], sizeof c.h);
            md5_force_scalar(1);
            md5_update(&c, p[i], nb * 64);
            md5_force_scalar(0);
            memcpy(want[i], c.h, sizeof c.h);
        }
        md5_x16_blocks(h, p, nb);
        assert_memory_equal(h, want, sizeof h);
    }
    for (int i = 0; i < 16; i++)
        free(bufs[i]);
}

/* Many threads at once, each its own stream in pieces of random sizes:
 * every digest right, and the lanes really shared. */
enum { THREADS = 12, STREAM = 3 * 1024 * 1024 };
struct hasher {
    pthread_t tid;
    pthread_barrier_t *start;
    uint64_t seed;
    uint8_t *buf;
    size_t len;
    uint8_t got[16];
};

static void *hash_main(void *arg)
{
    struct hasher *t = arg;
    struct md5_ctx c;
    md5_init(&c);
    pthread_barrier_wait(t->start);
    size_t off = 0;
    while (off < t->len) {
        size_t take = 1 + next_rand(&t->seed) % (300 * 1024);
        if (take > t->len - off)
            take = t->len - off;
        md5_update(&c, t->buf + off, take);
        off += take;
    }
    md5_final(&c, t->got);
    return NULL;
}

static void test_threads_share_lanes(void **state)
{
    (void)state;
    struct hasher t[THREADS];
    pthread_barrier_t start;
    struct md5_stats before, after;
    md5_stats_get(&before);
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        t[i].start = &start;
        t[i].seed = 0x1234567ULL * (uint64_t)(i + 1);
        t[i].len = STREAM - (size_t)i * 1001; /* streams end at different points */
        t[i].buf = malloc(t[i].len);
        assert_non_null(t[i].buf);
        fill(t[i].buf, t[i].len, &rng);
        assert_int_equal(pthread_create(&t[i].tid, NULL, hash_main, &t[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        uint8_t want[16];
        pthread_join(t[i].tid, NULL);
        reference(t[i].buf, t[i].len, want);
        assert_memory_equal(t[i].got, want, 16);
        free(t[i].buf);
    }
    pthread_barrier_destroy(&start);
    md5_stats_get(&after);
    if (md5_lanes_available()) {
        uint64_t slices = after.lane_slices - before.lane_slices;
        assert_true(slices > 0);
        print_message("lane slices %llu, mean lanes %.1f, scalar slices %llu\n",
                      (unsigned long long)slices,
                      (double)(after.lanes - before.lanes) / (double)slices,
                      (unsigned long long)(after.scalar_slices - before.scalar_slices));
    }
}

/* cksum's MD5 and the one-shot helper are this implementation. */
static void test_cksum_uses_it(void **state)
{
    (void)state;
    size_t n = 200000;
    uint8_t *buf = malloc(n), want[16], got[16], got2[CKSUM_MAX_LEN];
    assert_non_null(buf);
    fill(buf, n, &rng);
    reference(buf, n, want);
    md5(buf, n, got);
    assert_memory_equal(got, want, 16);
    struct cksum c;
    assert_int_equal(cksum_init(&c, CKSUM_MD5), 0);
    cksum_update(&c, buf, 100001);
    cksum_update(&c, buf + 100001, n - 100001);
    assert_int_equal(cksum_final(&c, got2), 16);
    assert_memory_equal(got2, want, 16);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1321_suite),
        cmocka_unit_test(test_lengths_and_splits),
        cmocka_unit_test(test_large_alone),
        cmocka_unit_test(test_x16_kernel),
        cmocka_unit_test(test_threads_share_lanes),
        cmocka_unit_test(test_cksum_uses_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
