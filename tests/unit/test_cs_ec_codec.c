/* Unit tests for chunkstore/ec_codec.c: encode, then rebuild under every
 * erasure pattern the code must survive, and refuse the ones it cannot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chunkstore/chunkstore.h"
#include "common/hash.h"

static uint64_t rng_state = 0x1234567887654321ull;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

/* Encode random data with k+m, then for every set of lost shards of size
 * <= m: scribble over them, rebuild, compare with the originals.  Sets of
 * size m+1 (if possible) must fail with CS_EUNAVAIL and change nothing. */
static void check_all_erasures(int k, int m, size_t shard_len)
{
    const int n = k + m;
    struct ec_codec *c = ec_codec_new(k, m);
    assert_non_null(c);
    uint8_t *orig = malloc((size_t)n * shard_len), *work = malloc((size_t)n * shard_len);
    assert_non_null(orig);
    assert_non_null(work);
    uint8_t *optr[CS_MAX_SHARDS], *wptr[CS_MAX_SHARDS];
    for (int i = 0; i < n; i++) {
        optr[i] = orig + (size_t)i * shard_len;
        wptr[i] = work + (size_t)i * shard_len;
    }
    fill_random(orig, (size_t)k * shard_len);
    memset(orig + (size_t)k * shard_len, 0xEE, (size_t)m * shard_len);
    uint8_t data_copy[64];
    memcpy(data_copy, orig, sizeof data_copy < shard_len ? sizeof data_copy : shard_len);
    ec_codec_encode(c, shard_len, optr, optr + k);
    /* systematic: data untouched; parity written */
    assert_memory_equal(orig, data_copy, sizeof data_copy < shard_len ? sizeof data_copy : shard_len);
    for (int p = 0; p < m; p++) {
        int all_ee = 1;
        for (size_t b = 0; b < shard_len; b++)
            all_ee &= optr[k + p][b] == 0xEE;
        assert_false(all_ee);
    }

    int tried = 0, refused = 0;
    for (uint32_t mask = 0; mask < (1u << n); mask++) {
        int lost = __builtin_popcount(mask);
        if (lost > m + 1)
            continue;
        uint8_t present[CS_MAX_SHARDS];
        memcpy(work, orig, (size_t)n * shard_len);
        for (int i = 0; i < n; i++) {
            present[i] = !(mask & (1u << i));
            if (!present[i])
                memset(wptr[i], (int)(0x5A + i), shard_len);
        }
        int rc = ec_codec_reconstruct(c, shard_len, wptr, present);
        if (lost <= m) {
            assert_int_equal(rc, 0);
            assert_memory_equal(work, orig, (size_t)n * shard_len);
            tried++;
        } else {
            assert_int_equal(rc, CS_EUNAVAIL);
            for (int i = 0; i < n; i++)
                if (present[i])
                    assert_memory_equal(wptr[i], optr[i], shard_len);
            refused++;
        }
    }
    assert_true(tried > 0);
    if (m + 1 <= n)
        assert_true(refused > 0);
    free(orig);
    free(work);
    ec_codec_free(c);
}

static void test_4_2(void **state)
{
    (void)state;
    check_all_erasures(4, 2, 4096);
    check_all_erasures(4, 2, 100); /* not a multiple of 64 */
}

static void test_2_1(void **state)
{
    (void)state;
    check_all_erasures(2, 1, 1024);
}

static void test_8_3(void **state)
{
    (void)state;
    check_all_erasures(8, 3, 1024);
}

static void test_6_0(void **state)
{
    (void)state;
    check_all_erasures(6, 0, 512); /* no parity: only "nothing lost" works */
}

static void test_10_4_and_1_2(void **state)
{
    (void)state;
    check_all_erasures(10, 4, 256);
    check_all_erasures(1, 2, 256); /* replication in disguise */
}

static void test_bad_params(void **state)
{
    (void)state;
    assert_null(ec_codec_new(0, 2));
    assert_null(ec_codec_new(4, -1));
    assert_null(ec_codec_new(30, 3));
    struct ec_codec *c = ec_codec_new(31, 1);
    assert_non_null(c);
    ec_codec_free(c);
    ec_codec_free(NULL);
}

/* The generator matrix is part of the on-disk format: parity written by
 * this build must decode with the next.  Pin it with a known answer. */
static void test_parity_known_answer(void **state)
{
    (void)state;
    enum { K = 4, M = 2, L = 64 };
    uint8_t shards[K + M][L];
    uint8_t *p[K + M];
    for (int i = 0; i < K + M; i++)
        p[i] = shards[i];
    for (int i = 0; i < K; i++)
        for (int b = 0; b < L; b++)
            shards[i][b] = (uint8_t)(i * 31 + b * 7 + 3);
    struct ec_codec *c = ec_codec_new(K, M);
    assert_non_null(c);
    ec_codec_encode(c, L, p, p + K);
    ec_codec_free(c);
    /* Expected values computed outside isa-l (a plain Python GF(2^8) with
     * polynomial 0x11d, parity row r column j = 1/(r ^ j), and a bitwise
     * CRC32C). */
    assert_int_equal(crc32c(0, shards[4], L), 0x7fc0a893u);
    assert_int_equal(crc32c(0, shards[5], L), 0xf59dc40du);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_4_2),
        cmocka_unit_test(test_2_1),
        cmocka_unit_test(test_8_3),
        cmocka_unit_test(test_6_0),
        cmocka_unit_test(test_10_4_and_1_2),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_parity_known_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
