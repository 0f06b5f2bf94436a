/* Unit tests for common/sync_proto: chunk ids, id lists and chunk lists
 * of the sync protocol, including every refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/hash.h"
#include "common/sync_proto.h"

#define ID_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define ID_B "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

static void test_ids(void **state)
{
    (void)state;
    uint8_t id[SYNC_ID_LEN], want[SYNC_ID_LEN];
    char back[2 * SYNC_ID_LEN + 1];
    sha256("test", 4, want);
    assert_int_equal(sync_id_parse(ID_A, id), 0);
    assert_memory_equal(id, want, SYNC_ID_LEN);
    sync_id_format(id, back);
    assert_string_equal(back, ID_A);
    memset(id, 7, sizeof id);
    const char *bad[] = {NULL, "", "9f86", ID_A "0", "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
                         "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g",
                         " 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sync_id_parse(bad[i], id), -EINVAL);
    assert_int_equal(id[0], 7); /* untouched */
}

static void test_id_list(void **state)
{
    (void)state;
    uint8_t (*ids)[SYNC_ID_LEN] = NULL;
    size_t n = 99;
    const char *why = NULL;
    const char *ok = "{\"chunks\": [\"" ID_A "\", \"" ID_B "\", \"" ID_A "\"], \"x\": 1}";
    assert_int_equal(sync_ids_parse(ok, strlen(ok), "chunks", 10, &ids, &n, &why), 0);
    assert_int_equal(n, 3);
    uint8_t a[SYNC_ID_LEN];
    sync_id_parse(ID_A, a);
    assert_memory_equal(ids[0], a, SYNC_ID_LEN);
    assert_memory_equal(ids[2], a, SYNC_ID_LEN);
    free(ids);
    const char *empty = "{\"missing\": []}";
    ids = NULL;
    assert_int_equal(sync_ids_parse(empty, strlen(empty), "missing", 10, &ids, &n, &why), 0);
    assert_int_equal(n, 0);
    assert_non_null(ids);
    free(ids);

    const char *bad[] = {"", "[]", "{", "{\"chunks\": 5}", "{\"chunks\": [1]}",
                         "{\"chunks\": [\"abc\"]}", "{\"other\": []}", "null",
                         "{\"chunks\": [\"" ID_A "\", \"" ID_B "\", \"" ID_A "\"]}" /* over max 2 */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ids = NULL;
        n = 42;
        why = NULL;
        assert_int_equal(sync_ids_parse(bad[i], strlen(bad[i]), "chunks", 2, &ids, &n, &why), -EINVAL);
        assert_null(ids);
        assert_int_equal(n, 42);
        assert_non_null(why);
    }
    /* never reads past len: the same text cut short is refused */
    assert_int_equal(sync_ids_parse(ok, 20, "chunks", 10, &ids, &n, &why), -EINVAL);
}

static void test_chunk_list(void **state)
{
    (void)state;
    struct sync_chunk_list l;
    const char *why = NULL;
    const char *ok = "{\"size\": 300, \"etag\": \"x\", \"chunks\": [{\"id\": \"" ID_A
                     "\", \"len\": 100}, {\"id\": \"" ID_B "\", \"len\": 200}]}";
    assert_int_equal(sync_chunk_list_parse(ok, strlen(ok), 10, 1000, 1 << 20, &l, &why), 0);
    assert_int_equal(l.size, 300);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.chunks[0].len, 100);
    assert_int_equal(l.chunks[1].len, 200);
    sync_chunk_list_release(&l);
    assert_null(l.chunks);
    const char *empty = "{\"size\": 0, \"chunks\": []}";
    assert_int_equal(sync_chunk_list_parse(empty, strlen(empty), 10, 1000, 1 << 20, &l, &why), 0);
    assert_int_equal(l.n, 0);
    assert_non_null(l.chunks);
    sync_chunk_list_release(&l);

    const char *bad[] = {
        "{\"chunks\": []}",                                             /* no size */
        "{\"size\": -1, \"chunks\": []}",                               /* negative */
        "{\"size\": 1.5, \"chunks\": []}",                              /* fraction */
        "{\"size\": 1, \"chunks\": []}",                                /* sum */
        "{\"size\": 2000000, \"chunks\": []}",                          /* over max_size */
        "{\"size\": 1, \"chunks\": {}}",                                /* not an array */
        "{\"size\": 1, \"chunks\": [{\"id\": \"" ID_A "\"}]}",          /* no len */
        "{\"size\": 0, \"chunks\": [{\"id\": \"" ID_A "\", \"len\": 0}]}",    /* len 0 */
        "{\"size\": 1001, \"chunks\": [{\"id\": \"" ID_A "\", \"len\": 1001}]}", /* > chunk_max */
        "{\"size\": 1, \"chunks\": [{\"id\": \"zz\", \"len\": 1}]}",    /* bad id */
        "{\"size\": 1, \"chunks\": [7]}",
        "{\"size\": 3, \"chunks\": [{\"id\": \"" ID_A "\", \"len\": 1}, {\"id\": \"" ID_A
        "\", \"len\": 1}, {\"id\": \"" ID_A "\", \"len\": 1}]}",       /* over max 2 */
        "{\"size\": 1e300, \"chunks\": []}",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&l, 0x5a, sizeof l);
        why = NULL;
        assert_int_equal(sync_chunk_list_parse(bad[i], strlen(bad[i]), 2, 1000, 1 << 20, &l, &why),
                         -EINVAL);
        assert_int_equal(l.n, 0x5a5a5a5a); /* untouched */
        assert_non_null(why);
    }
}

static void test_commit_etag(void **state)
{
    (void)state;
    struct sync_chunk_ref c[2];
    char etag[SYNC_COMMIT_ETAG_LEN + 1], hex[33];
    uint8_t ids[2 * SYNC_ID_LEN], md5[16];
    sync_id_parse(ID_A, c[0].id);
    sync_id_parse(ID_B, c[1].id);
    c[0].len = 5;
    c[1].len = 7;
    memcpy(ids, c[0].id, SYNC_ID_LEN);
    memcpy(ids + SYNC_ID_LEN, c[1].id, SYNC_ID_LEN);
    struct cksum m;
    cksum_init(&m, CKSUM_MD5);
    cksum_update(&m, ids, sizeof ids);
    uint8_t d[CKSUM_MAX_LEN];
    cksum_final(&m, d);
    cksum_release(&m);
    memcpy(md5, d, 16);
    hex_encode(md5, 16, hex);
    char want[64];
    snprintf(want, sizeof want, "%s-2", hex);
    sync_commit_etag(c, 2, etag);
    assert_string_equal(etag, want);
    /* lengths do not enter it; order does */
    c[0].len = 999;
    sync_commit_etag(c, 2, etag);
    assert_string_equal(etag, want);
    struct sync_chunk_ref swapped[2] = {c[1], c[0]};
    sync_commit_etag(swapped, 2, etag);
    assert_string_not_equal(etag, want);
    /* the empty list: MD5 of nothing */
    sync_commit_etag(c, 0, etag);
    assert_string_equal(etag, "d41d8cd98f00b204e9800998ecf8427e-0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_id_list),
        cmocka_unit_test(test_chunk_list),
        cmocka_unit_test(test_commit_etag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
