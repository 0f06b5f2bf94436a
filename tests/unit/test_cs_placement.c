/* Unit tests for chunkstore/placement.c (rendezvous hashing) and the small
 * chunkstore helpers: shard length, argument checks, error names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chunkstore/chunkstore.h"
#include "common/hash.h"

#define NIDS 10000

static struct chunkstore *open_mem(int nstores, int k, int m)
{
    struct shard_store *st[64];
    struct chunkstore *cs = NULL;
    for (int i = 0; i < nstores; i++) {
        char name[32];
        snprintf(name, sizeof name, "mem%d", i);
        st[i] = mem_store_new(name);
        assert_non_null(st[i]);
    }
    assert_int_equal(cs_open(st, nstores, k, m, &cs), 0);
    return cs;
}

static void make_id(int i, uint8_t id[CHUNK_ID_LEN])
{
    char s[32];
    int n = snprintf(s, sizeof s, "chunk-%d", i);
    sha256(s, (size_t)n, id);
}

static void test_deterministic_distinct_balanced_6(void **state)
{
    (void)state;
    struct chunkstore *a = open_mem(6, 4, 2), *b = open_mem(6, 4, 2);
    static int count[6][6]; /* [store][shard position] */
    memset(count, 0, sizeof count);
    for (int i = 0; i < NIDS; i++) {
        uint8_t id[CHUNK_ID_LEN];
        struct cs_placement p1, p2;
        make_id(i, id);
        cs_place(a, id, &p1);
        cs_place(b, id, &p2); /* another instance: same answer */
        assert_memory_equal(&p1, &p2, sizeof p1);
        assert_int_equal(p1.k, 4);
        assert_int_equal(p1.m, 2);
        int seen = 0;
        for (int s = 0; s < 6; s++) {
            assert_true(p1.drive[s] < 6);
            assert_false(seen & (1 << p1.drive[s])); /* distinct */
            seen |= 1 << p1.drive[s];
            count[p1.drive[s]][s]++;
        }
    }
    /* Every store holds one shard of every chunk; which shard must be
     * spread evenly (data vs parity load): expect 10000/6 = 1667 each. */
    for (int st = 0; st < 6; st++)
        for (int pos = 0; pos < 6; pos++) {
            assert_in_range(count[st][pos], 1667 * 85 / 100, 1667 * 115 / 100);
        }
    cs_close(a);
    cs_close(b);
}

static void test_balanced_12_and_minimal_movement(void **state)
{
    (void)state;
    struct chunkstore *c12 = open_mem(12, 4, 2), *c13 = open_mem(13, 4, 2);
    int per_store[13] = {0}, moved_to_new = 0;
    for (int i = 0; i < NIDS; i++) {
        uint8_t id[CHUNK_ID_LEN];
        struct cs_placement p12, p13;
        make_id(i, id);
        cs_place(c12, id, &p12);
        cs_place(c13, id, &p13);
        uint32_t set12 = 0, set13 = 0;
        for (int s = 0; s < 6; s++) {
            set12 |= 1u << p12.drive[s];
            set13 |= 1u << p13.drive[s];
            per_store[p12.drive[s]]++;
        }
        assert_int_equal(__builtin_popcount(set12), 6);
        /* Adding store 12 only ever moves a shard onto store 12. */
        assert_int_equal(set13 & ~(1u << 12) & ~set12, 0);
        if (set13 & (1u << 12)) {
            moved_to_new++;
            assert_int_equal(__builtin_popcount(set12 & ~set13), 1);
        } else {
            assert_int_equal(set12, set13);
        }
    }
    /* 6 of 12 stores per chunk: 5000 shards per store. */
    for (int s = 0; s < 12; s++)
        assert_in_range(per_store[s], 4500, 5500);
    /* The new store takes its fair share, 6/13 of the chunks. */
    assert_in_range(moved_to_new, NIDS * 6 / 13 * 90 / 100, NIDS * 6 / 13 * 110 / 100);
    cs_close(c12);
    cs_close(c13);
}

static void test_shard_len(void **state)
{
    (void)state;
    assert_int_equal(cs_shard_len(1, 4), 64);
    assert_int_equal(cs_shard_len(256, 4), 64);
    assert_int_equal(cs_shard_len(257, 4), 128);
    assert_int_equal(cs_shard_len(4u << 20, 4), 1u << 20);
    assert_int_equal(cs_shard_len((4u << 20) + 1, 4), (1u << 20) + 64);
    assert_int_equal(cs_shard_len(1000, 3), 384); /* ceil(1000/3)=334 -> 384 */
    assert_int_equal(cs_shard_len(8u << 20, 1), 8u << 20);
}

static void test_open_checks(void **state)
{
    (void)state;
    struct shard_store *st[3];
    struct chunkstore *cs = NULL;
    for (int i = 0; i < 3; i++)
        st[i] = mem_store_new("m");
    assert_int_equal(cs_open(st, 3, 2, 2, &cs), CS_EINVAL); /* k+m > stores */
    assert_int_equal(cs_open(st, 3, 0, 1, &cs), CS_EINVAL);
    assert_int_equal(cs_open(st, 3, 2, -1, &cs), CS_EINVAL);
    assert_null(cs);
    /* the stores are still ours after a failed open */
    assert_int_equal(cs_open(st, 3, 2, 1, &cs), 0);
    assert_int_equal(cs_k(cs), 2);
    assert_int_equal(cs_m(cs), 1);
    assert_int_equal(cs_nstores(cs), 3);
    assert_ptr_equal(cs_store(cs, 2), st[2]);
    assert_null(cs_store(cs, 3));
    cs_close(cs);
    cs_close(NULL);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(cs_strerror(0), "success");
    assert_non_null(strstr(cs_strerror(CS_ENOTFOUND), "not found"));
    assert_non_null(strstr(cs_strerror(CS_ECORRUPT), "corrupt"));
    assert_non_null(strstr(cs_strerror(CS_EHASH), "hash"));
    assert_non_null(strstr(cs_strerror(CS_ECLOSED), "closed"));
    assert_string_equal(cs_strerror(-ENOSPC), "No space left on device");
    assert_string_equal(cs_strerror(-29999), "unknown error");
    assert_string_equal(cs_strerror(12345), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic_distinct_balanced_6),
        cmocka_unit_test(test_balanced_12_and_minimal_movement),
        cmocka_unit_test(test_shard_len),
        cmocka_unit_test(test_open_checks),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
