/* Unit tests for multipart uploads in the metadata store: parts, part
 * replacement, part listing, complete (references moved, unused parts'
 * references dropped), abort, failures that change nothing, upload
 * listing order and markers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metadata/meta.h"
#include "metadata/meta_internal.h"

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static struct meta *store_open(char dir[64])
{
    struct meta *m;
    struct meta_open_opts o = {.nosync = 1};
    snprintf(dir, 64, "/tmp/cairn-mpu-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(meta_open_ex(dir, &o, &m), 0);
    return m;
}

static void store_destroy(struct meta *m, const char *dir)
{
    meta_close(m);
    nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static void mkid(uint8_t id[META_CHUNK_ID_LEN], uint32_t n)
{
    memset(id, 0, META_CHUNK_ID_LEN);
    memcpy(id, &n, sizeof n);
    id[31] = 0xc7;
}

static uint64_t refcount(struct meta *m, uint32_t n)
{
    struct meta_chunk c;
    uint8_t id[META_CHUNK_ID_LEN];
    mkid(id, n);
    assert_int_equal(meta_chunk_get(m, id, &c), 0);
    return c.refcount;
}

static void setup(struct meta *m)
{
    struct meta_bucket b;
    memset(&b, 0, sizeof b);
    strcpy(b.name, "mp");
    strcpy(b.owner, "alice");
    assert_int_equal(meta_bucket_create(m, &b), 0);
    strcpy(b.name, "other");
    assert_int_equal(meta_bucket_create(m, &b), 0);
    for (uint32_t i = 1; i <= 30; i++) {
        struct meta_chunk c = {.len = 1000 + i};
        mkid(c.id, i);
        assert_int_equal(meta_chunk_add(m, &c), 0);
    }
}

static int create_upload(struct meta *m, const char *bucket, const char *key, const char *id)
{
    struct meta_upload u;
    memset(&u, 0, sizeof u);
    u.key = (char *)key;
    snprintf(u.upload_id, sizeof u.upload_id, "%s", id);
    u.initiated_ms = 77;
    u.attrs = (uint8_t *)"content-type: x";
    u.attrs_len = 15;
    return meta_upload_create(m, bucket, &u);
}

static int put_part(struct meta *m, const char *key, const char *upload, uint32_t num,
                    const char *etag, const uint32_t *c, uint32_t n)
{
    struct meta_chunk_ref refs[8];
    struct meta_part p;
    memset(&p, 0, sizeof p);
    p.part_number = num;
    snprintf(p.etag, sizeof p.etag, "%s", etag);
    p.size = 5u << 20;
    p.mtime_ms = 9;
    for (uint32_t i = 0; i < n; i++) {
        mkid(refs[i].id, c[i]);
        refs[i].len = 1000 + c[i];
    }
    p.chunks = n ? refs : NULL;
    p.nchunks = n;
    return meta_part_put(m, "mp", key, upload, &p);
}

static int complete(struct meta *m, const char *key, const char *upload, const uint32_t *nums,
                    const char *const *etags, size_t n, const struct meta_precond *pc,
                    struct meta_object *replaced)
{
    struct meta_object o;
    memset(&o, 0, sizeof o);
    o.key = (char *)key;
    strcpy(o.etag, "abcdef-2");
    o.size = 12345;
    o.mtime_ms = 99;
    return meta_upload_complete(m, "mp", key, upload, nums, etags, n, &o, pc, replaced);
}

static void test_parts_and_complete(void **state)
{
    (void)state;
    char dir[64];
    struct meta *m = store_open(dir);
    setup(m);

    assert_int_equal(create_upload(m, "mp", "big", "u1"), 0);
    assert_int_equal(create_upload(m, "mp", "big", "u1"), META_EEXISTS);
    assert_int_equal(create_upload(m, "other", "x", "u1"), META_EEXISTS); /* ids are global */
    assert_int_equal(create_upload(m, "nope", "x", "u7"), META_ENOBUCKET);
    struct meta_upload u;
    assert_int_equal(meta_upload_get(m, "mp", "big", "u1", &u), 0);
    assert_string_equal(u.key, "big");
    assert_string_equal(u.upload_id, "u1");
    assert_int_equal(u.initiated_ms, 77);
    assert_int_equal(u.attrs_len, 15);
    assert_memory_equal(u.attrs, "content-type: x", 15);
    meta_upload_release(&u);
    assert_int_equal(meta_upload_get(m, "mp", "bigger", "u1", &u), META_ENOUPLOAD);
    assert_int_equal(meta_upload_get(m, "mp", "big", "u2", &u), META_ENOUPLOAD);

    uint32_t p1[] = {1, 2}, p2[] = {3}, p3[] = {4, 5}, p2b[] = {6}, bad[] = {7, 99};
    assert_int_equal(put_part(m, "big", "u1", 1, "e1", p1, 2), 0);
    assert_int_equal(put_part(m, "big", "u1", 2, "e2", p2, 1), 0);
    assert_int_equal(put_part(m, "big", "u1", 3, "e3", p3, 2), 0);
    assert_int_equal(put_part(m, "big", "u1", 0, "e", p3, 2), META_EINVAL);
    assert_int_equal(put_part(m, "big", "u1", 10001, "e", p3, 2), META_EINVAL);
    assert_int_equal(put_part(m, "big", "u9", 1, "e", p3, 2), META_ENOUPLOAD);
    assert_int_equal(put_part(m, "small", "u1", 1, "e", p3, 2), META_ENOUPLOAD);
    assert_int_equal(put_part(m, "big", "u1", 4, "e4", bad, 2), META_ENOCHUNK);
    assert_int_equal(refcount(m, 7), 0); /* nothing changed */
    for (uint32_t i = 1; i <= 5; i++)
        assert_int_equal(refcount(m, i), 1);

    /* replace part 2 */
    assert_int_equal(put_part(m, "big", "u1", 2, "e2b", p2b, 1), 0);
    assert_int_equal(refcount(m, 3), 0);
    assert_int_equal(refcount(m, 6), 1);

    /* list parts, paged */
    struct meta_part *parts;
    size_t n;
    int trunc;
    assert_int_equal(meta_part_list(m, "mp", "big", "u1", 0, 2, &parts, &n, &trunc), 0);
    assert_int_equal(n, 2);
    assert_true(trunc);
    assert_int_equal(parts[0].part_number, 1);
    assert_int_equal(parts[1].part_number, 2);
    assert_string_equal(parts[1].etag, "e2b");
    assert_int_equal(parts[1].nchunks, 1);
    meta_part_array_free(parts, n);
    assert_int_equal(meta_part_list(m, "mp", "big", "u1", 2, 2, &parts, &n, &trunc), 0);
    assert_int_equal(n, 1);
    assert_false(trunc);
    assert_int_equal(parts[0].part_number, 3);
    meta_part_array_free(parts, n);
    assert_int_equal(meta_part_list(m, "mp", "big", "u1", 3, 2, &parts, &n, &trunc), 0);
    assert_int_equal(n, 0);
    assert_false(trunc);
    meta_part_array_free(parts, n);
    assert_int_equal(meta_part_list(m, "mp", "big", "u1", UINT32_MAX, 2, &parts, &n, &trunc), 0);
    assert_int_equal(n, 0);
    meta_part_array_free(parts, n);
    assert_int_equal(meta_part_list(m, "mp", "big", "zz", 0, 2, &parts, &n, &trunc), META_ENOUPLOAD);

    /* failures leave everything as it was */
    uint32_t nums[] = {1, 3};
    const char *etags[] = {"e1", "e3"};
    const char *wrong[] = {"e1", "e2"};
    uint32_t missing[] = {1, 4};
    uint32_t unordered[] = {3, 1};
    assert_int_equal(complete(m, "big", "u1", nums, wrong, 2, NULL, NULL), META_ENOPART);
    assert_int_equal(complete(m, "big", "u1", missing, etags, 2, NULL, NULL), META_ENOPART);
    assert_int_equal(complete(m, "big", "u1", unordered, etags, 2, NULL, NULL), META_EINVAL);
    assert_int_equal(complete(m, "big", "u9", nums, etags, 2, NULL, NULL), META_ENOUPLOAD);
    struct meta_precond pc = {.if_match_etag = "anything"};
    assert_int_equal(complete(m, "big", "u1", nums, etags, 2, &pc, NULL), META_EPRECOND);
    assert_int_equal(meta_upload_get(m, "mp", "big", "u1", &u), 0);
    meta_upload_release(&u);
    assert_int_equal(refcount(m, 6), 1);
    assert_int_equal(refcount(m, 1), 1);

    /* an existing object will be replaced */
    struct meta_object o, rep;
    memset(&o, 0, sizeof o);
    o.key = "big";
    strcpy(o.etag, "old");
    struct meta_chunk_ref oldref = {.len = 1};
    mkid(oldref.id, 20);
    o.chunks = &oldref;
    o.nchunks = 1;
    assert_int_equal(meta_object_put(m, "mp", &o, NULL, NULL), 0);
    assert_int_equal(refcount(m, 20), 1);

    assert_int_equal(complete(m, "big", "u1", nums, etags, 2, NULL, &rep), 0);
    assert_string_equal(rep.etag, "old");
    meta_object_release(&rep);
    assert_int_equal(refcount(m, 20), 0);
    /* references moved from parts 1 and 3, part 2's dropped */
    for (uint32_t i = 1; i <= 5; i++)
        assert_int_equal(refcount(m, i), i == 3 ? 0 : 1);
    assert_int_equal(refcount(m, 6), 0);
    assert_int_equal(meta_object_get(m, "mp", "big", NULL, &o), 0);
    assert_string_equal(o.etag, "abcdef-2");
    assert_int_equal(o.size, 12345);
    assert_int_equal(o.nchunks, 4);
    uint32_t order[] = {1, 2, 4, 5};
    for (int i = 0; i < 4; i++) {
        uint8_t id[META_CHUNK_ID_LEN];
        mkid(id, order[i]);
        assert_memory_equal(o.chunks[i].id, id, META_CHUNK_ID_LEN);
        assert_int_equal(o.chunks[i].len, 1000 + order[i]);
    }
    meta_object_release(&o);
    assert_int_equal(meta_upload_get(m, "mp", "big", "u1", &u), META_ENOUPLOAD);
    assert_int_equal(meta_part_list(m, "mp", "big", "u1", 0, 10, &parts, &n, &trunc), META_ENOUPLOAD);
    /* the id is free again */
    assert_int_equal(create_upload(m, "other", "x", "u1"), 0);

    /* abort */
    uint32_t q[] = {10, 11};
    assert_int_equal(create_upload(m, "mp", "gone", "u2"), 0);
    assert_int_equal(put_part(m, "gone", "u2", 1, "e", q, 2), 0);
    assert_int_equal(put_part(m, "gone", "u2", 7, "e", q, 1), 0);
    assert_int_equal(refcount(m, 10), 2);
    assert_int_equal(meta_upload_abort(m, "mp", "gone", "u2"), 0);
    assert_int_equal(refcount(m, 10), 0);
    assert_int_equal(refcount(m, 11), 0);
    assert_int_equal(meta_upload_abort(m, "mp", "gone", "u2"), META_ENOUPLOAD);
    assert_int_equal(meta_upload_abort(m, "mp", "big", "u1"), META_ENOUPLOAD);

    struct meta_stats st;
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.uploads, 1); /* other/x/u1 */
    assert_int_equal(st.objects, 1);
    store_destroy(m, dir);
}

static void test_upload_list(void **state)
{
    (void)state;
    char dir[64];
    struct meta *m = store_open(dir);
    setup(m);
    char longkey[1025];
    memset(longkey, 'a', 1024);
    longkey[1024] = 0;
    /* (key, id) pairs, created out of order */
    static const char *const pairs[][2] = {
        {"b", "u2"}, {"a", "u3"}, {"a/x", "u9"}, {"a", "u1"}, {"c", "u5"}, {NULL, "u6"}, {NULL, "u4"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        assert_int_equal(create_upload(m, "mp", pairs[i][0] ? pairs[i][0] : longkey, pairs[i][1]), 0);
    assert_int_equal(create_upload(m, "other", "a", "u0"), 0);
    /* expected order: a/u1 a/u3 a/x/u9 long/u4 long/u6 b/u2 c/u5 */
    static const char *const want_ids[] = {"u1", "u3", "u9", "u4", "u6", "u2", "u5"};
    struct meta_upload *u;
    size_t n;
    int trunc;
    struct meta_upload_list_req req = {.bucket = "mp", .max = 100};
    assert_int_equal(meta_upload_list(m, &req, &u, &n, &trunc), 0);
    assert_int_equal(n, 7);
    assert_false(trunc);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(u[i].upload_id, want_ids[i]);
    assert_string_equal(u[0].key, "a");
    assert_string_equal(u[2].key, "a/x");
    assert_string_equal(u[3].key, longkey);
    assert_int_equal(u[0].attrs_len, 15);
    meta_upload_array_free(u, n);

    /* page through with markers */
    size_t seen = 0;
    char km[1100] = "", um[64] = "";
    for (;;) {
        req = (struct meta_upload_list_req){.bucket = "mp", .key_marker = km, .upload_id_marker = um, .max = 2};
        assert_int_equal(meta_upload_list(m, &req, &u, &n, &trunc), 0);
        for (size_t i = 0; i < n; i++, seen++)
            assert_string_equal(u[i].upload_id, want_ids[seen]);
        if (n) {
            snprintf(km, sizeof km, "%s", u[n - 1].key);
            snprintf(um, sizeof um, "%s", u[n - 1].upload_id);
        }
        meta_upload_array_free(u, n);
        if (!trunc)
            break;
    }
    assert_int_equal(seen, 7);

    /* key marker alone: keys strictly after it */
    req = (struct meta_upload_list_req){.bucket = "mp", .key_marker = "a", .max = 100};
    assert_int_equal(meta_upload_list(m, &req, &u, &n, &trunc), 0);
    assert_int_equal(n, 5);
    assert_string_equal(u[0].upload_id, "u9");
    meta_upload_array_free(u, n);
    /* prefix */
    req = (struct meta_upload_list_req){.bucket = "mp", .prefix = "a/", .max = 100};
    assert_int_equal(meta_upload_list(m, &req, &u, &n, &trunc), 0);
    assert_int_equal(n, 1);
    assert_string_equal(u[0].key, "a/x");
    meta_upload_array_free(u, n);
    /* prefix with a marker before it, and after it */
    req = (struct meta_upload_list_req){.bucket = "mp", .prefix = "a", .key_marker = "0", .max = 100};
    assert_int_equal(meta_upload_list(m, &req, &u, &n, &trunc), 0);
    assert_int_equal(n, 5);
    meta_upload_array_free(u, n);
    req = (struct meta_upload_list_req){.bucket = "mp", .prefix = "a", .key_marker = "a", .upload_id_marker = "u1", .max = 1};
    assert_int_equal(meta_upload_list(m, &req, &u, &n, &trunc), 0);
    assert_int_equal(n, 1);
    assert_string_equal(u[0].upload_id, "u3");
    assert_true(trunc);
    meta_upload_array_free(u, n);
    req = (struct meta_upload_list_req){.bucket = "nope", .max = 1};
    assert_int_equal(meta_upload_list(m, &req, &u, &n, &trunc), META_ENOBUCKET);
    store_destroy(m, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_and_complete),
        cmocka_unit_test(test_upload_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
