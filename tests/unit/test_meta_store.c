/* Unit tests for the metadata store (metadata/meta.h): users, buckets,
 * chunks, objects, preconditions, versioning, change feed, statistics,
 * persistence, map growth and concurrent use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metadata/meta.h"
#include "metadata/meta_internal.h"

/* ---- helpers ---- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int64_t fake_now = 1000;
static int64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

static struct meta *store_open(char dir[64], int nosync, uint64_t mapsize)
{
    struct meta *m;
    struct meta_open_opts o = {.mapsize = mapsize, .nosync = nosync};
    if (!dir[0]) {
        snprintf(dir, 64, "/tmp/cairn-meta-XXXXXX");
        assert_non_null(mkdtemp(dir));
    }
    assert_int_equal(meta_open_ex(dir, &o, &m), 0);
    meta_set_clock(m, fake_clock, NULL);
    return m;
}

static void store_destroy(struct meta *m, const char *dir)
{
    meta_close(m);
    nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void mkid(uint8_t id[META_CHUNK_ID_LEN], uint32_t n)
{
    memset(id, 0, META_CHUNK_ID_LEN);
    id[0] = (uint8_t)(n >> 24);
    id[1] = (uint8_t)(n >> 16);
    id[2] = (uint8_t)(n >> 8);
    id[3] = (uint8_t)n;
    id[31] = 0x5a;
}

static void add_chunk(struct meta *m, uint32_t n, uint32_t len)
{
    struct meta_chunk c = {.len = len, .zero_since_ms = fake_now, .placement_len = 2, .placement = {1, 2}};
    mkid(c.id, n);
    assert_int_equal(meta_chunk_add(m, &c), 0);
}

static uint64_t refcount(struct meta *m, uint32_t n)
{
    struct meta_chunk c;
    uint8_t id[META_CHUNK_ID_LEN];
    mkid(id, n);
    assert_int_equal(meta_chunk_get(m, id, &c), 0);
    return c.refcount;
}

static void make_user(struct meta_user *u, const char *name, const char *ak)
{
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", name);
    snprintf(u->access_key, sizeof u->access_key, "%s", ak);
    snprintf(u->secret_key, sizeof u->secret_key, "secret-%s", name);
    u->created_ms = 5;
}

static void make_bucket(struct meta *m, const char *name, const char *owner, uint8_t versioning)
{
    struct meta_bucket b;
    memset(&b, 0, sizeof b);
    snprintf(b.name, sizeof b.name, "%s", name);
    snprintf(b.owner, sizeof b.owner, "%s", owner);
    snprintf(b.region, sizeof b.region, "us-east-1");
    b.created_ms = 10;
    b.versioning = versioning;
    assert_int_equal(meta_bucket_create(m, &b), 0);
}

/* Put key with chunks numbered c[0..n-1] (n may be 0: inline "data"). */
static int put_obj(struct meta *m, const char *bucket, const char *key, const char *etag,
                   const char *version, const uint32_t *c, uint32_t n,
                   const struct meta_precond *pc, struct meta_object *replaced)
{
    struct meta_chunk_ref refs[16];
    struct meta_object o;
    memset(&o, 0, sizeof o);
    o.key = (char *)key;
    snprintf(o.version_id, sizeof o.version_id, "%s", version ? version : "");
    snprintf(o.etag, sizeof o.etag, "%s", etag);
    o.mtime_ms = fake_now;
    for (uint32_t i = 0; i < n; i++) {
        mkid(refs[i].id, c[i]);
        refs[i].len = 100;
    }
    if (n) {
        o.chunks = refs;
        o.nchunks = n;
        o.size = 100ull * n;
    } else {
        o.inline_data = (uint8_t *)"data";
        o.inline_len = 4;
        o.size = 4;
    }
    return meta_object_put(m, bucket, &o, pc, replaced);
}

/* ---- users ---- */

static void test_users(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    struct meta_user u, got;
    make_user(&u, "zed", "AKZED");
    assert_int_equal(meta_user_add(m, &u), 0);
    make_user(&u, "alice", "AKALICE");
    assert_int_equal(meta_user_add(m, &u), 0);
    make_user(&u, "alice", "AKOTHER");
    assert_int_equal(meta_user_add(m, &u), META_EEXISTS);   /* name taken */
    make_user(&u, "carol", "AKZED");
    assert_int_equal(meta_user_add(m, &u), META_EEXISTS);   /* key taken */
    make_user(&u, "", "AKX");
    assert_int_equal(meta_user_add(m, &u), META_EINVAL);

    assert_int_equal(meta_user_get_by_key(m, "AKALICE", &got), 0);
    assert_string_equal(got.name, "alice");
    assert_string_equal(got.secret_key, "secret-alice");
    assert_int_equal(got.created_ms, 5);
    assert_int_equal(meta_user_get_by_key(m, "AKNOPE", &got), META_ENOTFOUND);

    struct meta_user *list;
    size_t n;
    assert_int_equal(meta_user_list(m, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "alice"); /* by name */
    assert_string_equal(list[1].name, "zed");
    free(list);

    assert_int_equal(meta_user_remove(m, "alice"), 0);
    assert_int_equal(meta_user_remove(m, "alice"), META_ENOTFOUND);
    assert_int_equal(meta_user_get_by_key(m, "AKALICE", &got), META_ENOTFOUND);
    /* name and key are free again */
    make_user(&u, "alice", "AKALICE");
    assert_int_equal(meta_user_add(m, &u), 0);
    store_destroy(m, dir);
}

/* ---- buckets ---- */

static void test_buckets(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    make_bucket(m, "photos", "alice", 0);
    make_bucket(m, "docs", "alice", 0);
    make_bucket(m, "bobs", "bob", 0);
    struct meta_bucket b;
    memset(&b, 0, sizeof b);
    strcpy(b.name, "photos");
    strcpy(b.owner, "alice");
    assert_int_equal(meta_bucket_create(m, &b), META_EOWNED);
    strcpy(b.owner, "bob");
    assert_int_equal(meta_bucket_create(m, &b), META_EEXISTS);
    strcpy(b.name, "Upper");
    assert_int_equal(meta_bucket_create(m, &b), META_EINVAL);
    strcpy(b.name, "a_b");
    assert_int_equal(meta_bucket_create(m, &b), META_EINVAL);

    assert_int_equal(meta_bucket_get(m, "photos", &b), 0);
    assert_string_equal(b.owner, "alice");
    assert_string_equal(b.region, "us-east-1");
    assert_int_equal(b.created_ms, 10);
    assert_int_equal(meta_bucket_get(m, "nope", &b), META_ENOBUCKET);

    struct meta_bucket *list;
    size_t n;
    assert_int_equal(meta_bucket_list(m, "alice", &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "docs");
    assert_string_equal(list[1].name, "photos");
    free(list);
    assert_int_equal(meta_bucket_list(m, NULL, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "bobs");
    free(list);
    assert_int_equal(meta_bucket_list(m, "nobody", &list, &n), 0);
    assert_int_equal(n, 0);
    free(list);

    /* not empty: an object, then an upload */
    assert_int_equal(put_obj(m, "photos", "cat.jpg", "e1", NULL, NULL, 0, NULL, NULL), 0);
    assert_int_equal(meta_bucket_delete(m, "photos"), META_ENOTEMPTY);
    assert_int_equal(meta_object_delete(m, "photos", "cat.jpg", NULL, NULL, fake_now, NULL, NULL), 0);
    struct meta_upload up = {.key = "big.bin", .initiated_ms = 1};
    strcpy(up.upload_id, "u1");
    assert_int_equal(meta_upload_create(m, "photos", &up), 0);
    assert_int_equal(meta_bucket_delete(m, "photos"), META_ENOTEMPTY);
    assert_int_equal(meta_upload_abort(m, "photos", "big.bin", "u1"), 0);
    /* a bucket whose name is a prefix of another's is not confused with it */
    make_bucket(m, "photos2", "alice", 0);
    assert_int_equal(put_obj(m, "photos2", "x", "e1", NULL, NULL, 0, NULL, NULL), 0);
    assert_int_equal(meta_bucket_delete(m, "photos"), 0);
    assert_int_equal(meta_bucket_delete(m, "photos"), META_ENOBUCKET);
    assert_int_equal(meta_bucket_get(m, "photos", &b), META_ENOBUCKET);
    assert_int_equal(put_obj(m, "photos", "x", "e1", NULL, NULL, 0, NULL, NULL), META_ENOBUCKET);
    store_destroy(m, dir);
}

/* ---- chunks ---- */

static int count_cb(void *arg, const struct meta_chunk *c)
{
    size_t *n = arg;
    (void)c;
    (*n)++;
    return 0;
}

static int stop_cb(void *arg, const struct meta_chunk *c)
{
    size_t *n = arg;
    (void)c;
    return ++(*n) == 300 ? 42 : 0;
}

static void test_chunks(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    uint8_t id[META_CHUNK_ID_LEN];
    struct meta_chunk c;
    fake_now = 1000;
    add_chunk(m, 1, 4096);
    mkid(id, 1);
    assert_int_equal(meta_chunk_get(m, id, &c), 0);
    assert_int_equal(c.len, 4096);
    assert_int_equal(c.refcount, 0);
    assert_int_equal(c.zero_since_ms, 1000);
    assert_int_equal(c.placement_len, 2);
    /* adding again changes nothing */
    struct meta_chunk again = {.len = 1, .zero_since_ms = 5, .placement_len = 1, .placement = {9}};
    memcpy(again.id, id, sizeof id);
    assert_int_equal(meta_chunk_add(m, &again), 0);
    assert_int_equal(meta_chunk_get(m, id, &c), 0);
    assert_int_equal(c.len, 4096);
    assert_int_equal(c.zero_since_ms, 1000);
    /* placement */
    assert_int_equal(meta_chunk_set_placement(m, id, (const uint8_t *)"abc", 3), 0);
    assert_int_equal(meta_chunk_get(m, id, &c), 0);
    assert_int_equal(c.placement_len, 3);
    assert_memory_equal(c.placement, "abc", 3);
    mkid(id, 999);
    assert_int_equal(meta_chunk_set_placement(m, id, (const uint8_t *)"abc", 3), META_ENOTFOUND);
    assert_int_equal(meta_chunk_get(m, id, &c), META_ENOTFOUND);

    /* 600 chunks with zero_since 1000..1599 */
    for (uint32_t i = 2; i <= 600; i++) {
        fake_now = 1000 + i - 1;
        add_chunk(m, i, 10);
    }
    size_t cnt = 0;
    assert_int_equal(meta_chunk_foreach(m, count_cb, &cnt), 0);
    assert_int_equal(cnt, 600);
    cnt = 0;
    assert_int_equal(meta_chunk_foreach(m, stop_cb, &cnt), 42);
    assert_int_equal(cnt, 300);

    /* unused with cutoff, paged by id */
    struct meta_chunk *arr;
    size_t n, total = 0;
    const uint8_t *after = NULL;
    uint8_t last[META_CHUNK_ID_LEN];
    for (;;) {
        assert_int_equal(meta_chunk_unused(m, 1099, after, 32, &arr, &n), 0);
        for (size_t i = 0; i < n; i++) {
            assert_true(arr[i].zero_since_ms <= 1099);
            assert_int_equal(arr[i].refcount, 0);
            if (after)
                assert_true(memcmp(arr[i].id, after, META_CHUNK_ID_LEN) > 0);
        }
        total += n;
        if (n)
            memcpy(last, arr[n - 1].id, sizeof last);
        free(arr);
        if (n < 32)
            break;
        after = last;
    }
    assert_int_equal(total, 100); /* chunks 1..100 */

    /* a referenced chunk is not unused and cannot be removed */
    make_bucket(m, "b", "alice", 0);
    uint32_t ch[1] = {5};
    fake_now = 5000;
    assert_int_equal(put_obj(m, "b", "k", "e", NULL, ch, 1, NULL, NULL), 0);
    mkid(id, 5);
    assert_int_equal(meta_chunk_remove_unused(m, id, INT64_MAX), META_EPRECOND);
    assert_int_equal(meta_chunk_unused(m, 1099, NULL, 1000, &arr, &n), 0);
    assert_int_equal(n, 99);
    free(arr);
    /* too young */
    mkid(id, 200);
    assert_int_equal(meta_chunk_remove_unused(m, id, 1100), META_EPRECOND);
    assert_int_equal(meta_chunk_remove_unused(m, id, 1199), 0);
    assert_int_equal(meta_chunk_get(m, id, &c), META_ENOTFOUND);
    assert_int_equal(meta_chunk_remove_unused(m, id, 1199), META_ENOTFOUND);
    /* dropping the reference restarts the clock */
    assert_int_equal(meta_object_delete(m, "b", "k", NULL, NULL, 7000, NULL, NULL), 0);
    mkid(id, 5);
    assert_int_equal(meta_chunk_get(m, id, &c), 0);
    assert_int_equal(c.refcount, 0);
    assert_int_equal(c.zero_since_ms, 7000); /* the delete command's time */
    assert_int_equal(meta_chunk_remove_unused(m, id, 6999), META_EPRECOND);
    assert_int_equal(meta_chunk_remove_unused(m, id, 7000), 0);

    struct meta_stats st;
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.chunks, 598);
    assert_int_equal(st.unused_chunks, 598);
    assert_int_equal(st.chunk_bytes, 4096 + 597 * 10);
    store_destroy(m, dir);
}

/* ---- objects ---- */

static void test_objects(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    fake_now = 2000;
    make_bucket(m, "b", "alice", 0);
    for (uint32_t i = 1; i <= 6; i++)
        add_chunk(m, i, 100);
    struct meta_object o, rep;
    uint32_t c12[] = {1, 2, 2}, c34[] = {3, 4, 1};

    assert_int_equal(put_obj(m, "b", "k", "etag1", NULL, c12, 3, NULL, &rep), 0);
    assert_null(rep.key); /* nothing replaced */
    assert_int_equal(refcount(m, 1), 1);
    assert_int_equal(refcount(m, 2), 2); /* one reference per list entry */
    assert_int_equal(meta_object_get(m, "b", "k", NULL, &o), 0);
    assert_string_equal(o.key, "k");
    assert_string_equal(o.version_id, "null");
    assert_string_equal(o.etag, "etag1");
    assert_int_equal(o.nchunks, 3);
    assert_int_equal(o.size, 300);
    meta_object_release(&o);
    assert_int_equal(meta_object_get(m, "b", "k", "null", &o), 0);
    meta_object_release(&o);
    assert_int_equal(meta_object_get(m, "b", "k", "v9", &o), META_ENOTFOUND);
    assert_int_equal(meta_object_get(m, "b", "kk", NULL, &o), META_ENOTFOUND);
    assert_int_equal(meta_object_get(m, "b", "", NULL, &o), META_EINVAL);
    assert_int_equal(meta_object_get(m, "nob", "k", NULL, &o), META_ENOBUCKET);

    /* replace: old references dropped, shared chunk 1 never hits zero */
    fake_now = 3000;
    assert_int_equal(put_obj(m, "b", "k", "etag2", NULL, c34, 3, NULL, &rep), 0);
    assert_string_equal(rep.key, "k");
    assert_string_equal(rep.etag, "etag1");
    assert_int_equal(rep.nchunks, 3);
    meta_object_release(&rep);
    assert_int_equal(refcount(m, 1), 1);
    assert_int_equal(refcount(m, 2), 0);
    assert_int_equal(refcount(m, 3), 1);
    struct meta_chunk ch;
    uint8_t id[META_CHUNK_ID_LEN];
    mkid(id, 2);
    assert_int_equal(meta_chunk_get(m, id, &ch), 0);
    assert_int_equal(ch.zero_since_ms, 3000);
    mkid(id, 1);
    assert_int_equal(meta_chunk_get(m, id, &ch), 0);
    assert_int_equal(ch.zero_since_ms, 2000); /* untouched: never reached 0 */

    /* preconditions */
    struct meta_precond pc = {.if_none_match_star = 1};
    assert_int_equal(put_obj(m, "b", "k", "x", NULL, NULL, 0, &pc, NULL), META_EPRECOND);
    assert_int_equal(put_obj(m, "b", "new", "x", NULL, NULL, 0, &pc, NULL), 0);
    pc = (struct meta_precond){.if_match_etag = "etag1"};
    assert_int_equal(put_obj(m, "b", "k", "x", NULL, NULL, 0, &pc, NULL), META_EPRECOND);
    assert_int_equal(put_obj(m, "b", "absent", "x", NULL, NULL, 0, &pc, NULL), META_EPRECOND);
    pc.if_match_etag = "etag2";
    assert_int_equal(put_obj(m, "b", "k", "etag3", NULL, c12, 2, &pc, NULL), 0);
    pc = (struct meta_precond){.if_version_id = ""};
    assert_int_equal(put_obj(m, "b", "k", "x", NULL, NULL, 0, &pc, NULL), META_EPRECOND);
    assert_int_equal(put_obj(m, "b", "k2", "x", NULL, NULL, 0, &pc, NULL), 0);
    pc.if_version_id = "null";
    assert_int_equal(put_obj(m, "b", "k", "etag4", NULL, NULL, 0, &pc, NULL), 0);
    pc.if_version_id = "v1";
    assert_int_equal(put_obj(m, "b", "k", "x", NULL, NULL, 0, &pc, NULL), META_EPRECOND);
    assert_int_equal(meta_object_get(m, "b", "k", NULL, &o), 0);
    assert_string_equal(o.etag, "etag4");
    assert_int_equal(o.inline_len, 4);
    assert_memory_equal(o.inline_data, "data", 4);
    meta_object_release(&o);
    /* the failed puts left no references behind */
    assert_int_equal(refcount(m, 1), 0);
    assert_int_equal(refcount(m, 2), 0);

    /* a chunk without record: META_ENOCHUNK and nothing changed */
    uint32_t bad[] = {5, 6, 77};
    assert_int_equal(put_obj(m, "b", "k", "bad", NULL, bad, 3, NULL, NULL), META_ENOCHUNK);
    assert_int_equal(refcount(m, 5), 0);
    assert_int_equal(refcount(m, 6), 0);
    assert_int_equal(meta_object_get(m, "b", "k", NULL, &o), 0);
    assert_string_equal(o.etag, "etag4");
    meta_object_release(&o);

    /* delete */
    struct meta_object rem;
    assert_int_equal(meta_object_delete(m, "b", "k", NULL, NULL, 4000, NULL, &rem), 0);
    assert_string_equal(rem.key, "k");
    assert_string_equal(rem.etag, "etag4");
    meta_object_release(&rem);
    assert_int_equal(meta_object_get(m, "b", "k", NULL, &o), META_ENOTFOUND);
    assert_int_equal(meta_object_delete(m, "b", "k", NULL, NULL, 4000, NULL, NULL), META_ENOTFOUND);
    assert_int_equal(meta_object_delete(m, "b", "k", "v1", NULL, 4000, NULL, NULL), META_ENOTFOUND);

    /* long keys, multi-byte UTF-8, limits */
    char key[META_KEY_MAX + 2];
    size_t kl = 0;
    while (kl + 3 <= META_KEY_MAX) {
        memcpy(key + kl, "\xe2\x82\xac", 3); /* EURO SIGN */
        kl += 3;
    }
    while (kl < META_KEY_MAX)
        key[kl++] = 'z';
    key[kl] = 0;
    assert_int_equal(put_obj(m, "b", key, "long", NULL, c34, 1, NULL, NULL), 0);
    assert_int_equal(meta_object_get(m, "b", key, NULL, &o), 0);
    assert_string_equal(o.key, key);
    assert_string_equal(o.etag, "long");
    meta_object_release(&o);
    key[kl - 1] = 'y'; /* a sibling sharing 1023 bytes */
    assert_int_equal(meta_object_get(m, "b", key, NULL, &o), META_ENOTFOUND);
    key[kl] = 'z';
    key[kl + 1] = 0;
    assert_int_equal(put_obj(m, "b", key, "x", NULL, NULL, 0, NULL, NULL), META_EINVAL);
    key[kl] = 0;
    key[kl - 1] = 'z';
    assert_int_equal(meta_object_delete(m, "b", key, NULL, NULL, 5000, NULL, NULL), 0);
    assert_int_equal(refcount(m, 3), 0);

    /* a put may not create a delete marker or carry unknown flags */
    struct meta_object dm = {.key = "dm", .flags = META_OBJ_DELETE_MARKER};
    assert_int_equal(meta_object_put(m, "b", &dm, NULL, NULL), META_EINVAL);
    store_destroy(m, dir);
}

/* ---- versioning ---- */

static void test_versioning(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    fake_now = 100;
    make_bucket(m, "vb", "alice", META_VERSIONING_ENABLED);
    for (uint32_t i = 1; i <= 5; i++)
        add_chunk(m, i, 100);
    uint32_t c1[] = {1}, c2[] = {2}, c3[] = {3}, c4[] = {4}, c5[] = {5};
    struct meta_object o, rep;

    assert_int_equal(put_obj(m, "vb", "k", "e1", "v1", c1, 1, NULL, &rep), 0);
    assert_null(rep.key);
    assert_int_equal(put_obj(m, "vb", "k", "e2", "v2", c2, 1, NULL, &rep), 0);
    assert_null(rep.key); /* versions accumulate */
    assert_int_equal(put_obj(m, "vb", "k", "e", "", c2, 1, NULL, NULL), META_EINVAL);
    assert_int_equal(put_obj(m, "vb", "k", "e", "null", c2, 1, NULL, NULL), META_EINVAL);
    assert_int_equal(meta_object_get(m, "vb", "k", NULL, &o), 0);
    assert_string_equal(o.version_id, "v2");
    meta_object_release(&o);
    assert_int_equal(meta_object_get(m, "vb", "k", "v1", &o), 0);
    assert_string_equal(o.etag, "e1");
    meta_object_release(&o);
    assert_int_equal(refcount(m, 1), 1);
    assert_int_equal(refcount(m, 2), 1);

    struct meta_precond pc = {.if_version_id = "v1"};
    assert_int_equal(put_obj(m, "vb", "k", "e", "vx", NULL, 0, &pc, NULL), META_EPRECOND);

    /* delete without version id: a delete marker */
    struct meta_object rem;
    assert_int_equal(meta_object_delete(m, "vb", "k", NULL, NULL, 200, NULL, NULL), META_EINVAL);
    assert_int_equal(meta_object_delete(m, "vb", "k", NULL, "m1", 200, NULL, &rem), 0);
    assert_true(rem.flags & META_OBJ_DELETE_MARKER);
    assert_string_equal(rem.version_id, "m1");
    assert_int_equal(rem.mtime_ms, 200);
    meta_object_release(&rem);
    assert_int_equal(meta_object_get(m, "vb", "k", NULL, &o), 0);
    assert_true(o.flags & META_OBJ_DELETE_MARKER); /* returned as such */
    meta_object_release(&o);
    assert_int_equal(refcount(m, 1), 1);
    assert_int_equal(refcount(m, 2), 1);
    struct meta_list_req lr = {.bucket = "vb", .max_keys = 10};
    struct meta_list_res res;
    assert_int_equal(meta_object_list(m, &lr, &res), 0);
    assert_int_equal(res.n, 0); /* hidden */
    meta_list_res_release(&res);
    /* the key is absent for preconditions */
    pc = (struct meta_precond){.if_none_match_star = 1};
    assert_int_equal(put_obj(m, "vb", "k", "e3", "v3", c3, 1, &pc, NULL), 0);
    assert_int_equal(meta_object_delete(m, "vb", "k", NULL, "m2", 300, NULL, NULL), 0);

    /* delete by version id: exactly that version, references dropped */
    assert_int_equal(meta_object_delete(m, "vb", "k", "v1", NULL, 400, NULL, &rem), 0);
    assert_string_equal(rem.version_id, "v1");
    assert_string_equal(rem.etag, "e1");
    meta_object_release(&rem);
    assert_int_equal(refcount(m, 1), 0);
    assert_int_equal(meta_object_get(m, "vb", "k", "v1", &o), META_ENOTFOUND);
    /* removing the latest marker uncovers v3 */
    assert_int_equal(meta_object_delete(m, "vb", "k", "m2", NULL, 500, NULL, NULL), 0);
    assert_int_equal(meta_object_get(m, "vb", "k", NULL, &o), 0);
    assert_string_equal(o.version_id, "v3");
    assert_false(o.flags & META_OBJ_DELETE_MARKER);
    meta_object_release(&o);

    /* suspended: "null" versions replace each other, others stay */
    assert_int_equal(meta_bucket_set_versioning(m, "vb", META_VERSIONING_OFF), META_EINVAL);
    assert_int_equal(meta_bucket_set_versioning(m, "vb", META_VERSIONING_SUSPENDED), 0);
    struct meta_bucket b;
    assert_int_equal(meta_bucket_get(m, "vb", &b), 0);
    assert_int_equal(b.versioning, META_VERSIONING_SUSPENDED);
    assert_int_equal(put_obj(m, "vb", "k", "n1", "ignored", c4, 1, NULL, &rep), 0);
    assert_null(rep.key);
    assert_int_equal(meta_object_get(m, "vb", "k", NULL, &o), 0);
    assert_string_equal(o.version_id, "null");
    meta_object_release(&o);
    assert_int_equal(put_obj(m, "vb", "k", "n2", NULL, c5, 1, NULL, &rep), 0);
    assert_string_equal(rep.version_id, "null");
    assert_string_equal(rep.etag, "n1");
    meta_object_release(&rep);
    assert_int_equal(refcount(m, 4), 0);
    assert_int_equal(refcount(m, 5), 1);
    assert_int_equal(meta_object_get(m, "vb", "k", "v2", &o), 0);
    meta_object_release(&o);
    assert_int_equal(meta_object_get(m, "vb", "k", "v3", &o), 0);
    meta_object_release(&o);
    /* suspended delete: the null version gives way to a null marker */
    assert_int_equal(meta_object_delete(m, "vb", "k", NULL, NULL, 600, NULL, &rem), 0);
    assert_true(rem.flags & META_OBJ_DELETE_MARKER);
    assert_string_equal(rem.version_id, "null");
    meta_object_release(&rem);
    assert_int_equal(refcount(m, 5), 0);
    assert_int_equal(meta_object_get(m, "vb", "k", "null", &o), 0);
    assert_true(o.flags & META_OBJ_DELETE_MARKER);
    meta_object_release(&o);
    assert_int_equal(meta_object_get(m, "vb", "k", "v3", &o), 0);
    meta_object_release(&o);

    /* back on */
    assert_int_equal(meta_bucket_set_versioning(m, "vb", META_VERSIONING_ENABLED), 0);
    assert_int_equal(put_obj(m, "vb", "k", "e6", "v6", NULL, 0, NULL, NULL), 0);
    assert_int_equal(meta_object_get(m, "vb", "k", NULL, &o), 0);
    assert_string_equal(o.version_id, "v6");
    meta_object_release(&o);

    struct meta_stats st;
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.objects, 1);
    assert_int_equal(st.versions, 5); /* v2, m1, v3, null marker, v6 */

    /* a bucket without versioning keeps exactly one version */
    make_bucket(m, "plain", "alice", 0);
    assert_int_equal(put_obj(m, "plain", "k", "a", "v1", NULL, 0, NULL, NULL), 0);
    assert_int_equal(put_obj(m, "plain", "k", "b", "v2", NULL, 0, NULL, NULL), 0);
    assert_int_equal(meta_object_get(m, "plain", "k", "v1", &o), META_ENOTFOUND);
    assert_int_equal(meta_object_get(m, "plain", "k", "null", &o), 0);
    assert_string_equal(o.etag, "b");
    meta_object_release(&o);
    assert_int_equal(meta_object_delete(m, "plain", "k", NULL, "m", 1, NULL, &rem), 0);
    assert_false(rem.flags & META_OBJ_DELETE_MARKER);
    meta_object_release(&rem);
    assert_int_equal(meta_object_get(m, "plain", "k", NULL, &o), META_ENOTFOUND);
    store_destroy(m, dir);
}

/* ---- conditional deletes ---- */

/* The key's latest version has etag (NULL: the key has no version). */
static void assert_latest(struct meta *m, const char *bucket, const char *key, const char *etag)
{
    struct meta_object o;
    int rc = meta_object_get(m, bucket, key, NULL, &o);
    if (!etag) {
        assert_int_equal(rc, META_ENOTFOUND);
        return;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(o.etag, etag);
    meta_object_release(&o);
}

static void test_conditional_delete(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    make_bucket(m, "b", "alice", 0);
    for (uint32_t i = 1; i <= 3; i++)
        add_chunk(m, i, 100);
    uint32_t c1[] = {1}, c2[] = {2}, c3[] = {3};
    struct meta_object rem;
    struct meta_stats st;
    uint64_t seq, seq_after;

    fake_now = 2999; /* mtime 2.999 s: second 2 */
    assert_int_equal(put_obj(m, "b", "k", "e1", NULL, c1, 1, NULL, NULL), 0);
    assert_int_equal(meta_change_last(m, "b", &seq), 0);

    /* each condition alone, and all together, must hold; a failure
     * removes nothing, drops no reference, records no change */
    const struct meta_precond fails[] = {
        {.if_match_etag = "e2"},
        {.if_match_etag = ""},
        {.has_if_size = 1, .if_size = 99},
        {.has_if_mtime = 1, .if_mtime_s = 3},
        {.has_if_mtime = 1, .if_mtime_s = 2999},
        {.if_match_etag = "e1", .has_if_size = 1, .if_size = 100, .has_if_mtime = 1, .if_mtime_s = 1},
        {.if_match_star = 1, .if_match_etag = "E1"},
        {.if_none_match_star = 1},
    };
    for (size_t i = 0; i < sizeof fails / sizeof *fails; i++) {
        assert_int_equal(meta_object_delete(m, "b", "k", NULL, NULL, 4000, &fails[i], &rem),
                         META_EPRECOND);
        assert_latest(m, "b", "k", "e1");
    }
    assert_int_equal(refcount(m, 1), 1);
    assert_int_equal(meta_change_last(m, "b", &seq_after), 0);
    assert_int_equal(seq_after, seq);

    /* matching: removed like an unconditional delete */
    struct meta_precond pc = {.if_match_etag = "e1", .has_if_size = 1, .if_size = 100,
                              .has_if_mtime = 1, .if_mtime_s = 2};
    assert_int_equal(meta_object_delete(m, "b", "k", NULL, NULL, 4000, &pc, &rem), 0);
    assert_string_equal(rem.etag, "e1");
    meta_object_release(&rem);
    assert_latest(m, "b", "k", NULL);
    assert_int_equal(refcount(m, 1), 0);
    assert_int_equal(meta_change_last(m, "b", &seq_after), 0);
    assert_int_equal(seq_after, seq + 1);

    /* absent key: a condition on it is META_ENOTFOUND (S3's NoSuchKey) */
    assert_int_equal(meta_object_delete(m, "b", "k", NULL, NULL, 4000, &pc, NULL), META_ENOTFOUND);
    pc = (struct meta_precond){.if_match_star = 1};
    assert_int_equal(meta_object_delete(m, "b", "k", NULL, NULL, 4000, &pc, NULL), META_ENOTFOUND);
    pc = (struct meta_precond){.has_if_size = 1, .if_size = 0};
    assert_int_equal(meta_object_delete(m, "never", "k", NULL, NULL, 4000, &pc, NULL),
                     META_ENOBUCKET);

    /* "*": any current version; an empty precondition is none */
    assert_int_equal(put_obj(m, "b", "k", "e2", NULL, c2, 1, NULL, NULL), 0);
    pc = (struct meta_precond){.if_match_star = 1};
    assert_int_equal(meta_object_delete(m, "b", "k", NULL, NULL, 4000, &pc, NULL), 0);
    assert_latest(m, "b", "k", NULL);
    assert_int_equal(put_obj(m, "b", "k", "e2", NULL, c2, 1, NULL, NULL), 0);
    pc = (struct meta_precond){0};
    assert_int_equal(meta_object_delete(m, "b", "k", NULL, NULL, 4000, &pc, NULL), 0);
    assert_int_equal(meta_object_delete(m, "b", "k", NULL, NULL, 4000, &pc, NULL), META_ENOTFOUND);
    assert_int_equal(refcount(m, 2), 0);

    /* versioning: a marker is written only if the condition holds */
    make_bucket(m, "vb", "alice", META_VERSIONING_ENABLED);
    fake_now = 5000;
    assert_int_equal(put_obj(m, "vb", "k", "e1", "v1", c1, 1, NULL, NULL), 0);
    assert_int_equal(put_obj(m, "vb", "k", "e2", "v2", c2, 1, NULL, NULL), 0);
    assert_int_equal(meta_change_last(m, "vb", &seq), 0);
    pc = (struct meta_precond){.if_match_etag = "e1"}; /* a noncurrent version's */
    assert_int_equal(meta_object_delete(m, "vb", "k", NULL, "m1", 6000, &pc, NULL), META_EPRECOND);
    assert_latest(m, "vb", "k", "e2");
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.versions, 2);
    assert_int_equal(meta_change_last(m, "vb", &seq_after), 0);
    assert_int_equal(seq_after, seq);
    pc.if_match_etag = "e2";
    assert_int_equal(meta_object_delete(m, "vb", "k", NULL, "m1", 6000, &pc, &rem), 0);
    assert_true(rem.flags & META_OBJ_DELETE_MARKER);
    assert_string_equal(rem.version_id, "m1");
    meta_object_release(&rem);
    assert_int_equal(refcount(m, 2), 1); /* a marker keeps the version */

    /* latest is a marker: no current version, so every condition fails
     * (S3: 412), and no second marker is written */
    const struct meta_precond on_marker[] = {
        {.if_match_star = 1}, {.if_match_etag = "e2"}, {.has_if_size = 1, .if_size = 0},
    };
    for (size_t i = 0; i < sizeof on_marker / sizeof *on_marker; i++)
        assert_int_equal(meta_object_delete(m, "vb", "k", NULL, "m2", 7000, &on_marker[i], NULL),
                         META_EPRECOND);
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.versions, 3);

    /* with a version id the condition is still on the current version */
    assert_int_equal(put_obj(m, "vb", "k", "e3", "v3", c3, 1, NULL, NULL), 0);
    pc.if_match_etag = "e1";
    assert_int_equal(meta_object_delete(m, "vb", "k", "v1", NULL, 8000, &pc, NULL), META_EPRECOND);
    assert_int_equal(refcount(m, 1), 1);
    pc.if_match_etag = "e3";
    assert_int_equal(meta_object_delete(m, "vb", "k", "v1", NULL, 8000, &pc, &rem), 0);
    assert_string_equal(rem.version_id, "v1");
    meta_object_release(&rem);
    assert_int_equal(refcount(m, 1), 0);
    assert_latest(m, "vb", "k", "e3");

    /* a key without versions: META_ENOTFOUND, and no marker appears */
    assert_int_equal(meta_object_delete(m, "vb", "gone", NULL, "m3", 9000, &pc, NULL),
                     META_ENOTFOUND);
    assert_latest(m, "vb", "gone", NULL);
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.versions, 3); /* v2, m1, v3 */
    store_destroy(m, dir);
}

/* ---- change feed ---- */

/* ---- bucket configurations and attrs updates ---- */

static void test_configs_and_attrs(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    make_bucket(m, "cb", "alice", META_VERSIONING_ENABLED);
    void *d = NULL;
    size_t n = 0;
    assert_int_equal(meta_bucket_config_get(m, "cb", "cors", &d, &n), META_ENOTFOUND);
    assert_int_equal(meta_bucket_config_get(m, "nob", "cors", &d, &n), META_ENOBUCKET);
    assert_int_equal(meta_bucket_config_set(m, "nob", "cors", "x", 1), META_ENOBUCKET);
    assert_int_equal(meta_bucket_config_set(m, "cb", "Bad_Name", "x", 1), META_EINVAL);
    assert_int_equal(meta_bucket_config_set(m, "cb", "", "x", 1), META_EINVAL);
    assert_int_equal(meta_bucket_config_set(m, "cb", "cors", "x", META_CONFIG_MAX + 1), META_EINVAL);
    assert_int_equal(meta_bucket_config_set(m, "cb", "cors", "rules-1", 7), 0);
    assert_int_equal(meta_bucket_config_set(m, "cb", "policy", "{}", 2), 0);
    assert_int_equal(meta_bucket_config_set(m, "cb", "cors", "rules-two", 9), 0); /* replaces */
    assert_int_equal(meta_bucket_config_get(m, "cb", "cors", &d, &n), 0);
    assert_int_equal(n, 9);
    assert_memory_equal(d, "rules-two", 9);
    free(d);
    d = NULL;
    /* a name is not a prefix match of another */
    assert_int_equal(meta_bucket_config_get(m, "cb", "cor", &d, &n), META_ENOTFOUND);
    assert_null(d);
    assert_int_equal(meta_bucket_config_set(m, "cb", "cors", NULL, 0), 0);
    assert_int_equal(meta_bucket_config_set(m, "cb", "cors", NULL, 0), 0); /* absent: still 0 */
    assert_int_equal(meta_bucket_config_get(m, "cb", "cors", &d, &n), META_ENOTFOUND);
    assert_int_equal(meta_bucket_config_get(m, "cb", "policy", &d, &n), 0);
    free(d);

    /* attrs: compare-and-swap on the latest or a named version */
    assert_int_equal(put_obj(m, "cb", "k", "e1", "v1", NULL, 0, NULL, NULL), 0);
    assert_int_equal(put_obj(m, "cb", "k", "e2", "v2", NULL, 0, NULL, NULL), 0);
    const uint8_t a1[] = "tags=1", a2[] = "tags=2";
    assert_int_equal(meta_object_set_attrs(m, "cb", "k", NULL, NULL, 0, a1, sizeof a1), 0);
    assert_int_equal(meta_object_set_attrs(m, "cb", "k", NULL, NULL, 0, a2, sizeof a2), META_EPRECOND);
    assert_int_equal(meta_object_set_attrs(m, "cb", "k", NULL, a1, sizeof a1, a2, sizeof a2), 0);
    assert_int_equal(meta_object_set_attrs(m, "cb", "k", "v1", NULL, 0, a1, sizeof a1), 0);
    assert_int_equal(meta_object_set_attrs(m, "cb", "k", "v9", NULL, 0, a1, sizeof a1), META_ENOTFOUND);
    assert_int_equal(meta_object_set_attrs(m, "cb", "nokey", NULL, NULL, 0, a1, sizeof a1), META_ENOTFOUND);
    struct meta_object o;
    assert_int_equal(meta_object_get(m, "cb", "k", NULL, &o), 0);
    assert_string_equal(o.version_id, "v2");
    assert_string_equal(o.etag, "e2");
    assert_int_equal(o.attrs_len, sizeof a2);
    assert_memory_equal(o.attrs, a2, sizeof a2);
    assert_int_equal(o.inline_len, 4); /* data untouched */
    meta_object_release(&o);
    assert_int_equal(meta_object_get(m, "cb", "k", "v1", &o), 0);
    assert_memory_equal(o.attrs, a1, sizeof a1);
    meta_object_release(&o);
    /* the change feed does not see attrs updates */
    uint64_t seq;
    assert_int_equal(meta_change_last(m, "cb", &seq), 0);
    assert_int_equal(seq, 2);
    /* delete markers carry no attrs */
    assert_int_equal(meta_object_delete(m, "cb", "k", NULL, "m1", 300, NULL, NULL), 0);
    assert_int_equal(meta_object_set_attrs(m, "cb", "k", NULL, NULL, 0, a1, sizeof a1), META_ENOTFOUND);
    assert_int_equal(meta_object_set_attrs(m, "cb", "k", "m1", NULL, 0, a1, sizeof a1), META_EINVAL);

    /* configurations go with the bucket */
    assert_int_equal(meta_object_delete(m, "cb", "k", "m1", NULL, 301, NULL, NULL), 0);
    assert_int_equal(meta_object_delete(m, "cb", "k", "v2", NULL, 302, NULL, NULL), 0);
    assert_int_equal(meta_object_delete(m, "cb", "k", "v1", NULL, 303, NULL, NULL), 0);
    assert_int_equal(meta_bucket_delete(m, "cb"), 0);
    make_bucket(m, "cb", "alice", META_VERSIONING_OFF);
    assert_int_equal(meta_bucket_config_get(m, "cb", "policy", &d, &n), META_ENOTFOUND);
    store_destroy(m, dir);
}

static void test_changes(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    make_bucket(m, "cf", "alice", 0);
    make_bucket(m, "other", "alice", 0);
    fake_now = 10;
    assert_int_equal(put_obj(m, "cf", "a", "ea", NULL, NULL, 0, NULL, NULL), 0);
    assert_int_equal(put_obj(m, "other", "z", "ez", NULL, NULL, 0, NULL, NULL), 0);
    fake_now = 20;
    assert_int_equal(put_obj(m, "cf", "b", "eb", NULL, NULL, 0, NULL, NULL), 0);
    assert_int_equal(meta_object_delete(m, "cf", "a", NULL, NULL, 30, NULL, NULL), 0);
    fake_now = 40;
    assert_int_equal(put_obj(m, "cf", "a", "ea2", NULL, NULL, 0, NULL, NULL), 0);
    /* a failed command leaves no change behind */
    struct meta_precond pc = {.if_none_match_star = 1};
    assert_int_equal(put_obj(m, "cf", "a", "x", NULL, NULL, 0, &pc, NULL), META_EPRECOND);

    struct meta_change *c;
    size_t n;
    assert_int_equal(meta_change_list(m, "cf", 0, 100, &c, &n), 0);
    assert_int_equal(n, 4);
    static const char *keys[] = {"a", "b", "a", "a"};
    static const uint8_t ops[] = {META_CHANGE_PUT, META_CHANGE_PUT, META_CHANGE_DELETE, META_CHANGE_PUT};
    static const int64_t times[] = {10, 20, 30, 40};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(c[i].seq, i + 1);
        assert_string_equal(c[i].key, keys[i]);
        assert_int_equal(c[i].op, ops[i]);
        assert_int_equal(c[i].mtime_ms, times[i]);
        assert_string_equal(c[i].version_id, "null");
    }
    assert_string_equal(c[3].etag, "ea2");
    assert_string_equal(c[2].etag, "ea"); /* the removed version */
    meta_change_array_free(c, n);
    assert_int_equal(meta_change_list(m, "cf", 2, 1, &c, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].seq, 3);
    meta_change_array_free(c, n);
    assert_int_equal(meta_change_list(m, "cf", 4, 10, &c, &n), 0);
    assert_int_equal(n, 0);
    meta_change_array_free(c, n);
    assert_int_equal(meta_change_list(m, "other", 0, 10, &c, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].key, "z");
    meta_change_array_free(c, n);
    assert_int_equal(meta_change_list(m, "nope", 0, 10, &c, &n), META_ENOBUCKET);
    uint64_t last = 99;
    assert_int_equal(meta_change_last(m, "cf", &last), 0);
    assert_int_equal(last, 4);
    assert_int_equal(meta_change_last(m, "other", &last), 0);
    assert_int_equal(last, 1);
    assert_int_equal(meta_change_last(m, "nope", &last), META_ENOBUCKET);
    make_bucket(m, "quiet", "alice", 0);
    assert_int_equal(meta_change_last(m, "quiet", &last), 0);
    assert_int_equal(last, 0);

    /* a bucket deleted and created again never reuses a sequence number */
    assert_int_equal(meta_object_delete(m, "cf", "a", NULL, NULL, 50, NULL, NULL), 0);
    assert_int_equal(meta_object_delete(m, "cf", "b", NULL, NULL, 50, NULL, NULL), 0);
    assert_int_equal(meta_bucket_delete(m, "cf"), 0);
    make_bucket(m, "cf", "bob", 0);
    assert_int_equal(meta_change_list(m, "cf", 0, 10, &c, &n), 0);
    assert_int_equal(n, 0); /* the old feed is gone with the bucket */
    meta_change_array_free(c, n);
    assert_int_equal(put_obj(m, "cf", "new", "e", NULL, NULL, 0, NULL, NULL), 0);
    assert_int_equal(meta_change_list(m, "cf", 0, 10, &c, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].seq, 7);
    meta_change_array_free(c, n);
    store_destroy(m, dir);
}

/* ---- persistence ---- */

static void test_reopen(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 0, 0); /* durable commits */
    struct meta_user u;
    make_user(&u, "alice", "AK1");
    assert_int_equal(meta_user_add(m, &u), 0);
    make_bucket(m, "keep", "alice", META_VERSIONING_ENABLED);
    add_chunk(m, 1, 100);
    uint32_t c1[] = {1};
    char key[1100];
    memset(key, 'q', 1000);
    key[1000] = 0;
    assert_int_equal(put_obj(m, "keep", key, "e1", "v1", c1, 1, NULL, NULL), 0);
    assert_int_equal(put_obj(m, "keep", "short", "e2", "v2", NULL, 0, NULL, NULL), 0);
    meta_close(m);

    m = store_open(dir, 0, 0);
    struct meta_object o;
    assert_int_equal(meta_object_get(m, "keep", key, NULL, &o), 0);
    assert_string_equal(o.version_id, "v1");
    assert_int_equal(o.nchunks, 1);
    meta_object_release(&o);
    assert_int_equal(meta_object_get(m, "keep", "short", "v2", &o), 0);
    meta_object_release(&o);
    assert_int_equal(refcount(m, 1), 1);
    struct meta_user got;
    assert_int_equal(meta_user_get_by_key(m, "AK1", &got), 0);
    struct meta_bucket b;
    assert_int_equal(meta_bucket_get(m, "keep", &b), 0);
    assert_int_equal(b.versioning, META_VERSIONING_ENABLED);
    /* sequences continue: a new version sorts first */
    assert_int_equal(put_obj(m, "keep", "short", "e3", "v3", NULL, 0, NULL, NULL), 0);
    assert_int_equal(meta_object_get(m, "keep", "short", NULL, &o), 0);
    assert_string_equal(o.version_id, "v3");
    meta_object_release(&o);
    struct meta_stats st;
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.objects, 2);
    assert_int_equal(st.versions, 3);
    assert_int_equal(st.buckets, 1);
    store_destroy(m, dir);
}

/* ---- map growth and threads ---- */

struct worker {
    struct meta *m;
    int id;
    int errors;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char key[64];
    uint8_t blob[3000];
    memset(blob, w->id, sizeof blob);
    for (int i = 0; i < 300; i++) {
        struct meta_object o;
        memset(&o, 0, sizeof o);
        snprintf(key, sizeof key, "w%d/obj%04d", w->id, i);
        o.key = key;
        snprintf(o.etag, sizeof o.etag, "e%d", i);
        o.inline_data = blob;
        o.inline_len = sizeof blob;
        o.size = sizeof blob;
        if (meta_object_put(w->m, "grow", &o, NULL, NULL) != 0)
            w->errors++;
        struct meta_object got;
        if (meta_object_get(w->m, "grow", key, NULL, &got) != 0) {
            w->errors++;
            continue;
        }
        if (got.inline_len != sizeof blob || memcmp(got.inline_data, blob, sizeof blob) != 0)
            w->errors++;
        meta_object_release(&got);
        if (i % 50 == 0) {
            struct meta_list_req lr = {.bucket = "grow", .prefix = key, .max_keys = 5};
            struct meta_list_res res;
            lr.prefix = "w";
            if (meta_object_list(w->m, &lr, &res) != 0)
                w->errors++;
            else
                meta_list_res_release(&res);
        }
    }
    return NULL;
}

static void test_grow_and_threads(void **state)
{
    (void)state;
    char dir[64] = "";
    /* 1 MiB map: 4 x 300 x 3 KB must grow it several times, while
     * other threads read */
    struct meta *m = store_open(dir, 1, 1u << 20);
    uint64_t before = m->db.mapsize;
    make_bucket(m, "grow", "alice", 0);
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.m = m, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
    assert_true(m->db.mapsize > before);
    struct meta_stats st;
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.objects, 1200);
    store_destroy(m, dir);
}

/* ---- the apply entry point refuses malformed commands ---- */

static void test_apply_garbage(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    make_bucket(m, "b", "alice", 0);
    static const uint8_t junk[][6] = {
        {0}, {'C', 1}, {'C', 2, 9, 0}, {'C', 1, 99, 0}, {'X', 1, 9, 0}, {'C', 1, 4, 0, 2, 'b'},
    };
    static const size_t lens[] = {0, 2, 4, 4, 4, 6};
    MDB_txn *txn;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        assert_int_equal(meta_db_write_begin(&m->db, &txn), 0);
        assert_int_equal(meta_apply(&m->db, txn, junk[i], lens[i], NULL), META_ECORRUPT);
        assert_int_equal(meta_db_write_end(&m->db, txn, 0), 0);
    }
    /* a well-formed "delete bucket b" goes through the same entry point */
    static const uint8_t del[] = {'C', 1, 4, 0, 1, 'b'};
    assert_int_equal(meta_db_write_begin(&m->db, &txn), 0);
    assert_int_equal(meta_apply(&m->db, txn, del, sizeof del, NULL), 0);
    assert_int_equal(meta_db_write_end(&m->db, txn, 1), 0);
    struct meta_bucket b;
    assert_int_equal(meta_bucket_get(m, "b", &b), META_ENOBUCKET);
    store_destroy(m, dir);
}

/* ---- numbers (printed, not asserted) ---- */

static void test_put_rate(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 0, 0); /* durable: fsync per commit */
    make_bucket(m, "bench", "alice", 0);
    char key[64];
    int n = 0;
    double t0 = now_s(), t1 = t0;
    /* at most ~3 s or 2000 puts */
    while (n < 2000 && (t1 = now_s()) - t0 < 3.0) {
        snprintf(key, sizeof key, "dir/object-%06d", n);
        assert_int_equal(put_obj(m, "bench", key, "d41d8cd98f00b204e9800998ecf8427e", NULL, NULL, 0, NULL, NULL), 0);
        n++;
    }
    printf("meta: %d durable small-object puts in %.2f s: %.0f puts/s (single thread)\n", n, t1 - t0,
           n / (t1 - t0));
    store_destroy(m, dir);

    /* the same without fsync: what the code path itself costs */
    dir[0] = 0;
    m = store_open(dir, 1, 0);
    make_bucket(m, "bench", "alice", 0);
    t0 = now_s();
    for (n = 0; n < 5000; n++) {
        snprintf(key, sizeof key, "dir/object-%06d", n);
        assert_int_equal(put_obj(m, "bench", key, "d41d8cd98f00b204e9800998ecf8427e", NULL, NULL, 0, NULL, NULL), 0);
    }
    t1 = now_s();
    printf("meta: %d small-object puts without fsync (test-only mode) in %.2f s: %.0f puts/s\n", n, t1 - t0,
           n / (t1 - t0));
    store_destroy(m, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_versioning),
        cmocka_unit_test(test_conditional_delete),
        cmocka_unit_test(test_configs_and_attrs),
        cmocka_unit_test(test_changes),
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_grow_and_threads),
        cmocka_unit_test(test_apply_garbage),
        cmocka_unit_test(test_put_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
