/* Unit tests for meta_object_list: results against a brute-force model on
 * random key sets (delete markers, several versions, long keys, UTF-8),
 * paging by start_after, and cost that follows the page, not the bucket. */
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
#include <time.h>
#include <unistd.h>

#include "metadata/meta.h"
#include "metadata/meta_cmd.h"
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
    snprintf(dir, 64, "/tmp/cairn-list-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(meta_open_ex(dir, &o, &m), 0);
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

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void make_bucket(struct meta *m, const char *name, uint8_t versioning)
{
    struct meta_bucket b;
    memset(&b, 0, sizeof b);
    snprintf(b.name, sizeof b.name, "%s", name);
    snprintf(b.owner, sizeof b.owner, "alice");
    b.versioning = versioning;
    assert_int_equal(meta_bucket_create(m, &b), 0);
}

/* ---- the model ---- */

struct mkey {
    char *key;
    int live;
    char etag[META_ETAG_MAX];
};

static int str_cmp_bytes(const char *a, const char *b)
{
    return strcmp(a, b); /* strcmp compares as unsigned char: byte order */
}

static int mkey_cmp(const void *a, const void *b)
{
    return str_cmp_bytes(((const struct mkey *)a)->key, ((const struct mkey *)b)->key);
}

struct mentry {
    char *key;
    int is_prefix;
    const char *etag;
};

/* Every entry of the listing (no max), in order. */
static size_t model_list(const struct mkey *keys, size_t n, const char *prefix, const char *delim,
                         const char *after, struct mentry *out)
{
    size_t cnt = 0, pl = strlen(prefix), dl = strlen(delim);
    for (size_t i = 0; i < n; i++) {
        const char *k = keys[i].key;
        if (!keys[i].live || strncmp(k, prefix, pl) != 0)
            continue;
        const char *d = dl ? strstr(k + pl, delim) : NULL;
        char *e = d ? strndup(k, (size_t)(d - k) + dl) : strdup(k);
        if (str_cmp_bytes(e, after) <= 0 || (cnt && strcmp(out[cnt - 1].key, e) == 0)) {
            free(e);
            continue;
        }
        out[cnt].key = e;
        out[cnt].is_prefix = d != NULL;
        out[cnt].etag = keys[i].etag;
        cnt++;
    }
    return cnt;
}

static void model_free(struct mentry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].key);
}

/* ---- random key sets ---- */

static const char *pieces[] = {"a", "b", "/", "a/", "b/", "\xc3\xa9", "\xe2\x82\xac", "z", "0", "-", ".", "ab"};

static char *random_key(const char *longbase)
{
    char buf[META_KEY_MAX + 1];
    size_t len = 0;
    if (rnd() % 10 == 0) {
        /* long keys sharing a ~1000 byte prefix */
        len = 990 + rnd() % 20;
        memcpy(buf, longbase, len);
    }
    int parts = 1 + (int)(rnd() % 6);
    for (int i = 0; i < parts; i++) {
        const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
        size_t pl = strlen(p);
        if (len + pl > META_KEY_MAX)
            break;
        memcpy(buf + len, p, pl);
        len += pl;
    }
    if (rnd() % 8 == 0) { /* pad some to exactly 1024 bytes */
        while (len < META_KEY_MAX)
            buf[len++] = 'x';
    }
    buf[len] = 0;
    return strdup(buf);
}

static int put_version(struct meta *m, const char *bucket, const char *key, const char *etag, int vnum)
{
    struct meta_object o;
    memset(&o, 0, sizeof o);
    o.key = (char *)key;
    snprintf(o.version_id, sizeof o.version_id, "v%d", vnum);
    snprintf(o.etag, sizeof o.etag, "%s", etag);
    o.size = strlen(key);
    return meta_object_put(m, bucket, &o, NULL, NULL);
}

static size_t build_keyset(struct meta *m, const char *bucket, struct mkey *keys, size_t want)
{
    static char longbase[1100];
    for (size_t i = 0; i < sizeof longbase; i++)
        longbase[i] = "ab/"[i % 3];
    size_t n = 0;
    /* fixed neighbours that often trip listings */
    static const char *fixed[] = {"a/b", "a/b/c", "a", "a/", "a/b/", "a0", "b", "\xc3\xa9/x", "\xe2\x82\xac"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        keys[n++].key = strdup(fixed[i]);
    while (n < want) {
        char *k = random_key(longbase);
        int dup = 0;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(keys[i].key, k) == 0;
        if (dup) {
            free(k);
            continue;
        }
        keys[n++].key = k;
    }
    int vnum = 0;
    for (size_t i = 0; i < n; i++) {
        int versions = 1 + (int)(rnd() % 3);
        for (int v = 0; v < versions; v++) {
            snprintf(keys[i].etag, sizeof keys[i].etag, "etag-%zu-%d", i, v);
            assert_int_equal(put_version(m, bucket, keys[i].key, keys[i].etag, ++vnum), 0);
        }
        keys[i].live = 1;
        unsigned r = (unsigned)(rnd() % 8);
        if (r < 2) { /* a delete marker on top */
            char mv[16];
            snprintf(mv, sizeof mv, "m%d", ++vnum);
            assert_int_equal(meta_object_delete(m, bucket, keys[i].key, NULL, mv, 1, NULL, NULL), 0);
            keys[i].live = 0;
            if (r == 1) { /* and a put after it */
                snprintf(keys[i].etag, sizeof keys[i].etag, "etag-%zu-again", i);
                assert_int_equal(put_version(m, bucket, keys[i].key, keys[i].etag, ++vnum), 0);
                keys[i].live = 1;
            }
        }
    }
    qsort(keys, n, sizeof *keys, mkey_cmp);
    return n;
}

static const char *pick(const char *const *opts, size_t n)
{
    return opts[rnd() % n];
}

static void check_page(const struct meta_list_res *res, const struct mentry *model, size_t mn, size_t max)
{
    size_t want = mn < max ? mn : max;
    assert_int_equal(res->n, want);
    assert_int_equal(res->truncated, mn > max);
    for (size_t i = 0; i < want; i++) {
        assert_string_equal(res->entries[i].key, model[i].key);
        assert_int_equal(res->entries[i].is_prefix, model[i].is_prefix);
        if (!model[i].is_prefix)
            assert_string_equal(res->entries[i].etag, model[i].etag);
    }
}

static void test_against_model(void **state)
{
    (void)state;
    char dir[64];
    struct meta *m = store_open(dir);
    make_bucket(m, "lb", META_VERSIONING_ENABLED);
    make_bucket(m, "lb-neighbour", 0); /* keys of another bucket must not leak in */
    assert_int_equal(put_version(m, "lb-neighbour", "a/b", "n", 1), 0);
    size_t nkeys = 500;
    struct mkey *keys = calloc(nkeys, sizeof *keys);
    nkeys = build_keyset(m, "lb", keys, nkeys);
    struct mentry *model = calloc(nkeys + 1, sizeof *model);

    static const char *delims[] = {"", "/", "/", "b", "a/", "\xc3\xa9", "x"};
    for (int round = 0; round < 1500; round++) {
        char prefix[META_KEY_MAX + 1] = "", after[META_KEY_MAX + 1] = "";
        const struct mkey *src = &keys[rnd() % nkeys];
        switch (rnd() % 4) {
        case 0: break;
        case 1: snprintf(prefix, sizeof prefix, "%.*s", (int)(rnd() % (strlen(src->key) + 1)), src->key); break;
        case 2: snprintf(prefix, sizeof prefix, "%s", pick((const char *const[]){"a", "a/", "a/b", "b", "\xc3", "ab/ab/"}, 6)); break;
        default: snprintf(prefix, sizeof prefix, "%s", src->key); break;
        }
        const char *delim = pick(delims, sizeof delims / sizeof delims[0]);
        const struct mkey *src2 = &keys[rnd() % nkeys];
        switch (rnd() % 5) {
        case 0: case 1: break;
        case 2: snprintf(after, sizeof after, "%s", src2->key); break;
        case 3: snprintf(after, sizeof after, "%.*s", (int)(rnd() % (strlen(src2->key) + 1)), src2->key); break;
        default: snprintf(after, sizeof after, "%s", pick((const char *const[]){"a/", "a/b", "a/b/", "b", "\xff", "0"}, 6)); break;
        }
        size_t max = 1 + rnd() % 20;
        size_t mn = model_list(keys, nkeys, prefix, delim, after, model);
        struct meta_list_req req = {.bucket = "lb", .prefix = prefix, .delimiter = delim,
                                    .start_after = after, .max_keys = max};
        struct meta_list_res res;
        assert_int_equal(meta_object_list(m, &req, &res), 0);
        check_page(&res, model, mn, max);
        meta_list_res_release(&res);
        model_free(model, mn);
    }

    /* paging through everything by feeding back the last entry */
    for (int round = 0; round < 40; round++) {
        const char *delim = pick(delims, sizeof delims / sizeof delims[0]);
        const char *prefix = round % 3 == 0 ? "a" : "";
        size_t max = 1 + rnd() % 7;
        size_t mn = model_list(keys, nkeys, prefix, delim, "", model);
        size_t got = 0;
        char *after = strdup("");
        for (int pages = 0;; pages++) {
            assert_true(pages <= (int)nkeys + 1);
            struct meta_list_req req = {.bucket = "lb", .prefix = prefix, .delimiter = delim,
                                        .start_after = after, .max_keys = max};
            struct meta_list_res res;
            assert_int_equal(meta_object_list(m, &req, &res), 0);
            for (size_t i = 0; i < res.n; i++, got++) {
                assert_true(got < mn);
                assert_string_equal(res.entries[i].key, model[got].key);
                assert_int_equal(res.entries[i].is_prefix, model[got].is_prefix);
            }
            int more = res.truncated;
            if (res.n) {
                free(after);
                after = strdup(res.entries[res.n - 1].key);
            }
            meta_list_res_release(&res);
            if (!more)
                break;
        }
        assert_int_equal(got, mn);
        free(after);
        model_free(model, mn);
    }

    /* argument checks */
    struct meta_list_req bad = {.bucket = "lb", .max_keys = 0};
    struct meta_list_res res;
    assert_int_equal(meta_object_list(m, &bad, &res), META_EINVAL);
    bad = (struct meta_list_req){.bucket = "nope", .max_keys = 1};
    assert_int_equal(meta_object_list(m, &bad, &res), META_ENOBUCKET);

    for (size_t i = 0; i < nkeys; i++)
        free(keys[i].key);
    free(keys);
    free(model);
    store_destroy(m, dir);
}

/* ---- cost ---- */

/* Load n keys through meta_apply in a few big transactions. */
static void bulk_put(struct meta *m, const char *bucket, const char *fmt, size_t groups, size_t per)
{
    char key[128];
    MDB_txn *txn = NULL;
    size_t done = 0;
    for (size_t g = 0; g < groups; g++) {
        for (size_t i = 0; i < per; i++, done++) {
            if (done % 20000 == 0) {
                if (txn)
                    assert_int_equal(meta_db_write_end(&m->db, txn, 1), 0);
                assert_int_equal(meta_db_write_begin(&m->db, &txn), 0);
            }
            snprintf(key, sizeof key, fmt, g, i);
            struct meta_object o;
            memset(&o, 0, sizeof o);
            o.key = key;
            snprintf(o.etag, sizeof o.etag, "e%zu", done);
            o.size = done;
            struct rec_w w;
            rec_w_init(&w, REC_MAX);
            meta_cmd_object_put(&w, 1, bucket, &o, NULL);
            assert_int_equal(rec_w_error(&w), 0);
            assert_int_equal(meta_apply(&m->db, txn, rec_w_data(&w), rec_w_len(&w), NULL), 0);
            rec_w_release(&w);
        }
    }
    assert_int_equal(meta_db_write_end(&m->db, txn, 1), 0);
}

static void test_cost_follows_page(void **state)
{
    (void)state;
    char dir[64];
    struct meta *m = store_open(dir);
    make_bucket(m, "huge", 0);
    double t0 = now_s();
    bulk_put(m, "huge", "p%04zu/obj%03zu", 1000, 100);
    double t1 = now_s();
    printf("meta: loaded 100000 keys in %.2f s\n", t1 - t0);
    struct meta_stats st;
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.objects, 100000);

    /* one page of 500 common prefixes out of 1000 */
    struct meta_list_req req = {.bucket = "huge", .delimiter = "/", .max_keys = 500};
    struct meta_list_res res;
    t0 = now_s();
    assert_int_equal(meta_object_list(m, &req, &res), 0);
    t1 = now_s();
    uint64_t steps = meta_debug_list_steps();
    printf("meta: 500 common prefixes of 100000 keys: %.2f ms, %llu cursor steps\n",
           (t1 - t0) * 1e3, (unsigned long long)steps);
    assert_int_equal(res.n, 500);
    assert_true(res.truncated);
    assert_string_equal(res.entries[0].key, "p0000/");
    assert_true(res.entries[0].is_prefix);
    assert_string_equal(res.entries[499].key, "p0499/");
    assert_true(steps < 4 * 500 + 50); /* ~2 per prefix, never the 50000 keys */
    assert_true(t1 - t0 < 0.5);
    /* the next page ends exactly at the last prefix: not truncated */
    req.start_after = "p0499/";
    meta_list_res_release(&res);
    assert_int_equal(meta_object_list(m, &req, &res), 0);
    assert_int_equal(res.n, 500);
    assert_false(res.truncated);
    assert_string_equal(res.entries[499].key, "p0999/");
    assert_true(meta_debug_list_steps() < 4 * 500 + 50);
    meta_list_res_release(&res);

    /* a page of keys inside one prefix, starting deep in the bucket */
    req = (struct meta_list_req){.bucket = "huge", .prefix = "p0700/", .delimiter = "/",
                                 .start_after = "p0700/obj049", .max_keys = 20};
    assert_int_equal(meta_object_list(m, &req, &res), 0);
    assert_int_equal(res.n, 20);
    assert_string_equal(res.entries[0].key, "p0700/obj050");
    assert_false(res.entries[0].is_prefix);
    assert_int_equal(res.entries[0].size, 70050);
    assert_true(res.truncated);
    assert_true(meta_debug_list_steps() < 4 * 20 + 20);
    meta_list_res_release(&res);

    /* no delimiter: one step per key */
    req = (struct meta_list_req){.bucket = "huge", .max_keys = 1000};
    assert_int_equal(meta_object_list(m, &req, &res), 0);
    assert_int_equal(res.n, 1000);
    assert_true(meta_debug_list_steps() < 2 * 1000 + 50);
    meta_list_res_release(&res);
    store_destroy(m, dir);
}

/* Printed: keys/s listing a 10,000 key bucket page by page. */
static void test_list_rate(void **state)
{
    (void)state;
    char dir[64];
    struct meta *m = store_open(dir);
    make_bucket(m, "tenk", 0);
    bulk_put(m, "tenk", "photos/2024/%02zu/img_%05zu.jpg", 10, 1000);
    double t0 = now_s();
    size_t total = 0;
    char after[META_KEY_MAX + 1] = "";
    for (;;) {
        struct meta_list_req req = {.bucket = "tenk", .start_after = after, .max_keys = 1000};
        struct meta_list_res res;
        assert_int_equal(meta_object_list(m, &req, &res), 0);
        total += res.n;
        if (res.n)
            snprintf(after, sizeof after, "%s", res.entries[res.n - 1].key);
        int more = res.truncated;
        meta_list_res_release(&res);
        if (!more)
            break;
    }
    double t1 = now_s();
    assert_int_equal(total, 10000);
    printf("meta: listed 10000 keys in pages of 1000 in %.1f ms: %.0f keys/s\n", (t1 - t0) * 1e3,
           total / (t1 - t0));
    store_destroy(m, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_model),
        cmocka_unit_test(test_cost_follows_page),
        cmocka_unit_test(test_list_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
