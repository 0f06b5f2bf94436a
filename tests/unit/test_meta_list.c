/* Unit tests for meta_object_list and meta_object_list_versions: results
 * against a brute-force model on random key sets (delete markers, several
 * versions, long keys, UTF-8), paging by start_after / the version markers,
 * and cost that follows the page, not the bucket nor a key's versions. */
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

#define MKEY_VERSIONS 8

struct mkey {
    char *key;
    int live;
    char etag[META_ETAG_MAX];
    /* every version, newest first ("m..." ids are delete markers) */
    char vids[MKEY_VERSIONS][16];
    int nv;
};

/* Record a new (newest) version of k. */
static void mkey_push(struct mkey *k, const char *vid)
{
    assert_true(k->nv < MKEY_VERSIONS);
    memmove(k->vids[1], k->vids[0], (size_t)k->nv * sizeof k->vids[0]);
    snprintf(k->vids[0], sizeof k->vids[0], "%s", vid);
    k->nv++;
}

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
        char vid[16];
        for (int v = 0; v < versions; v++) {
            snprintf(keys[i].etag, sizeof keys[i].etag, "etag-%zu-%d", i, v);
            assert_int_equal(put_version(m, bucket, keys[i].key, keys[i].etag, ++vnum), 0);
            snprintf(vid, sizeof vid, "v%d", vnum);
            mkey_push(&keys[i], vid);
        }
        keys[i].live = 1;
        unsigned r = (unsigned)(rnd() % 8);
        if (r < 2) { /* a delete marker on top */
            snprintf(vid, sizeof vid, "m%d", ++vnum);
            assert_int_equal(meta_object_delete(m, bucket, keys[i].key, NULL, vid, 1, NULL, NULL), 0);
            mkey_push(&keys[i], vid);
            keys[i].live = 0;
            if (r == 1) { /* and a put after it */
                snprintf(keys[i].etag, sizeof keys[i].etag, "etag-%zu-again", i);
                assert_int_equal(put_version(m, bucket, keys[i].key, keys[i].etag, ++vnum), 0);
                snprintf(vid, sizeof vid, "v%d", vnum);
                mkey_push(&keys[i], vid);
                keys[i].live = 1;
            }
        }
    }
    qsort(keys, n, sizeof *keys, mkey_cmp);
    return n;
}

static void keyset_free(struct mkey *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i].key);
    free(keys);
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

    keyset_free(keys, nkeys);
    free(model);
    store_destroy(m, dir);
}

/* ---- version listings ---- */

struct ventry {
    char *key;
    int is_prefix;
    const char *vid;
    int is_latest;
};

/* Every entry of the version listing (no max), in order. */
static size_t model_versions(const struct mkey *keys, size_t n, const char *prefix,
                             const char *delim, const char *kmarker, const char *vmarker,
                             struct ventry *out)
{
    size_t cnt = 0, pl = strlen(prefix), dl = strlen(delim);
    for (size_t i = 0; i < n; i++) {
        const char *k = keys[i].key;
        if (strncmp(k, prefix, pl) != 0)
            continue;
        const char *d = dl ? strstr(k + pl, delim) : NULL;
        if (d) {
            char *cp = strndup(k, (size_t)(d - k) + dl);
            if (strcmp(cp, kmarker) <= 0 ||
                (cnt && out[cnt - 1].is_prefix && strcmp(out[cnt - 1].key, cp) == 0)) {
                free(cp);
                continue;
            }
            out[cnt++] = (struct ventry){cp, 1, NULL, 0};
            continue;
        }
        int c = strcmp(k, kmarker), from = 0;
        if (c < 0 || (c == 0 && !vmarker[0]))
            continue;
        if (c == 0) {
            while (from < keys[i].nv && strcmp(keys[i].vids[from], vmarker) != 0)
                from++;
            from++; /* past the marker (or past all: not found) */
        }
        for (int j = from; j < keys[i].nv; j++)
            out[cnt++] = (struct ventry){strdup(k), 0, keys[i].vids[j], j == 0};
    }
    return cnt;
}

static void ventry_free(struct ventry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].key);
}

static void check_version_entry(const struct meta_list_entry *got, const struct ventry *want)
{
    assert_string_equal(got->key, want->key);
    assert_int_equal(got->is_prefix, want->is_prefix);
    if (want->is_prefix)
        return;
    assert_string_equal(got->version_id, want->vid);
    assert_int_equal(got->is_latest, want->is_latest);
    assert_int_equal(!!(got->flags & META_OBJ_DELETE_MARKER), want->vid[0] == 'm');
}

/* Page through the whole version listing by feeding back the last entry;
 * compare with model[0..mn).  Returns the number of pages. */
static size_t page_versions(struct meta *m, const char *bucket, const char *prefix,
                            const char *delim, size_t max, const struct ventry *model, size_t mn)
{
    char kmarker[META_KEY_MAX + 1] = "", vmarker[META_VERSION_MAX] = "";
    size_t got = 0, pages = 0;
    for (;; pages++) {
        assert_true(pages <= mn + 1);
        struct meta_version_list_req req = {bucket, prefix, delim, kmarker, vmarker, max};
        struct meta_list_res res;
        assert_int_equal(meta_object_list_versions(m, &req, &res), 0);
        assert_true(res.n <= max);
        for (size_t i = 0; i < res.n; i++, got++) {
            assert_true(got < mn);
            check_version_entry(&res.entries[i], &model[got]);
        }
        int more = res.truncated;
        if (res.n) {
            const struct meta_list_entry *last = &res.entries[res.n - 1];
            snprintf(kmarker, sizeof kmarker, "%s", last->key);
            snprintf(vmarker, sizeof vmarker, "%s", last->is_prefix ? "" : last->version_id);
        }
        meta_list_res_release(&res);
        if (!more)
            break;
    }
    assert_int_equal(got, mn);
    return pages + 1;
}

static void test_versions_against_model(void **state)
{
    (void)state;
    char dir[64];
    struct meta *m = store_open(dir);
    make_bucket(m, "vb", META_VERSIONING_ENABLED);
    make_bucket(m, "vb-neighbour", META_VERSIONING_ENABLED);
    assert_int_equal(put_version(m, "vb-neighbour", "a/b", "n", 1), 0);
    size_t nkeys = 400;
    struct mkey *keys = calloc(nkeys, sizeof *keys);
    nkeys = build_keyset(m, "vb", keys, nkeys);
    struct ventry *model = calloc(nkeys * MKEY_VERSIONS + 1, sizeof *model);

    static const char *delims[] = {"", "", "/", "b", "a/", "\xc3\xa9"};
    for (int round = 0; round < 1200; round++) {
        char prefix[META_KEY_MAX + 1] = "", kmarker[META_KEY_MAX + 1] = "";
        const char *vmarker = "";
        const struct mkey *src = &keys[rnd() % nkeys];
        switch (rnd() % 3) {
        case 0: break;
        case 1: snprintf(prefix, sizeof prefix, "%.*s", (int)(rnd() % (strlen(src->key) + 1)), src->key); break;
        default: snprintf(prefix, sizeof prefix, "%s", pick((const char *const[]){"a", "a/", "b", "\xc3"}, 4)); break;
        }
        const char *delim = pick(delims, sizeof delims / sizeof delims[0]);
        const struct mkey *mk = &keys[rnd() % nkeys];
        switch (rnd() % 5) {
        case 0: break;
        case 1: snprintf(kmarker, sizeof kmarker, "%s", mk->key); break;
        case 2: snprintf(kmarker, sizeof kmarker, "%.*s", (int)(rnd() % (strlen(mk->key) + 1)), mk->key); break;
        default: /* inside a key's versions, or a version it does not have */
            snprintf(kmarker, sizeof kmarker, "%s", mk->key);
            vmarker = rnd() % 6 == 0 ? "v999999" : mk->vids[rnd() % (uint64_t)mk->nv];
            break;
        }
        size_t max = 1 + rnd() % 20;
        size_t mn = model_versions(keys, nkeys, prefix, delim, kmarker, vmarker, model);
        struct meta_version_list_req req = {"vb", prefix, delim, kmarker, vmarker, max};
        struct meta_list_res res;
        assert_int_equal(meta_object_list_versions(m, &req, &res), 0);
        assert_int_equal(res.n, mn < max ? mn : max);
        assert_int_equal(res.truncated, mn > max);
        for (size_t i = 0; i < res.n; i++)
            check_version_entry(&res.entries[i], &model[i]);
        meta_list_res_release(&res);
        ventry_free(model, mn);
    }

    for (int round = 0; round < 30; round++) {
        const char *delim = pick(delims, sizeof delims / sizeof delims[0]);
        const char *prefix = round % 3 == 0 ? "a" : "";
        size_t mn = model_versions(keys, nkeys, prefix, delim, "", "", model);
        page_versions(m, "vb", prefix, delim, 1 + rnd() % 7, model, mn);
        ventry_free(model, mn);
    }

    /* argument checks */
    struct meta_version_list_req bad = {.bucket = "vb", .max_keys = 0};
    struct meta_list_res res;
    assert_int_equal(meta_object_list_versions(m, &bad, &res), META_EINVAL);
    bad = (struct meta_version_list_req){.bucket = "vb", .key_marker = "a",
                                         .version_id_marker = "0123456789012345678901234567890123456789",
                                         .max_keys = 1};
    assert_int_equal(meta_object_list_versions(m, &bad, &res), META_EINVAL);
    bad = (struct meta_version_list_req){.bucket = "nope", .max_keys = 1};
    assert_int_equal(meta_object_list_versions(m, &bad, &res), META_ENOBUCKET);

    keyset_free(keys, nkeys);
    free(model);
    store_destroy(m, dir);
}

/* Thousands of versions of one key between other keys, paged with small
 * and large pages: every version once, newest first, in key order. */
static void test_versions_many_of_one_key(void **state)
{
    (void)state;
    char dir[64];
    struct meta *m = store_open(dir);
    make_bucket(m, "deep", META_VERSIONING_ENABLED);
    static const char *names[] = {"a", "k", "k/x", "k0", "z"};
    static const int counts[] = {3, 2500, 4, 1, 2};
    struct mkey keys[5];
    memset(keys, 0, sizeof keys);
    int vnum = 0;
    size_t total = 0;
    for (int i = 0; i < 5; i++)
        keys[i].key = (char *)names[i];
    /* interleave the puts so that the keys' versions are not contiguous in time */
    struct ventry *model = calloc(2600, sizeof *model);
    char (*vids)[16] = calloc(2600, sizeof *vids);
    int *owner = calloc(2600, sizeof *owner);
    for (int round = 0; round < 2500; round++) {
        for (int i = 0; i < 5; i++) {
            if (round >= counts[i])
                continue;
            ++vnum;
            if (i == 1 && round % 100 == 99) { /* some delete markers among them */
                snprintf(vids[total], sizeof vids[total], "m%d", vnum);
                assert_int_equal(meta_object_delete(m, "deep", names[i], NULL, vids[total], 1, NULL, NULL), 0);
            } else {
                assert_int_equal(put_version(m, "deep", names[i], "e", vnum), 0);
                snprintf(vids[total], sizeof vids[total], "v%d", vnum);
            }
            owner[total++] = i;
        }
    }
    /* the model by hand: keys in order, versions newest first */
    size_t mn = 0;
    for (int i = 0; i < 5; i++) {
        int first = 1;
        for (size_t j = total; j-- > 0;) {
            if (owner[j] != i)
                continue;
            model[mn++] = (struct ventry){strdup(names[i]), 0, vids[j], first};
            first = 0;
        }
    }
    assert_int_equal(mn, 2510);
    double t0 = now_s();
    size_t pages = page_versions(m, "deep", "", "", 7, model, mn);
    double t1 = now_s();
    printf("meta: 2510 versions in %zu pages of 7: %.0f ms\n", pages, (t1 - t0) * 1e3);
    assert_int_equal(pages, (mn + 6) / 7);
    assert_int_equal(page_versions(m, "deep", "", "", 1000, model, mn), 3);
    /* a page after a marker in the middle of k's versions costs its page
     * plus the walk to the marker, not the bucket */
    struct meta_version_list_req req = {"deep", "", "", "k", model[1000].vid, 5};
    struct meta_list_res res;
    assert_int_equal(meta_object_list_versions(m, &req, &res), 0);
    assert_int_equal(res.n, 5);
    check_version_entry(&res.entries[0], &model[1001]);
    assert_false(res.entries[0].is_latest);
    assert_true(meta_debug_list_steps() < 1000 + 50);
    meta_list_res_release(&res);
    /* with a delimiter "k/x" rolls up: k's versions after the marker
     * (model[3..2502] are k's), then "k/", then k0's one version */
    req = (struct meta_version_list_req){"deep", "k", "/", "k", model[3 + 2000].vid, 3000};
    assert_int_equal(meta_object_list_versions(m, &req, &res), 0);
    assert_int_equal(res.n, 499 + 1 + 1);
    check_version_entry(&res.entries[0], &model[3 + 2001]);
    assert_string_equal(res.entries[499].key, "k/");
    assert_true(res.entries[499].is_prefix);
    assert_string_equal(res.entries[500].key, "k0");
    assert_true(res.entries[500].is_latest);
    assert_false(res.truncated);
    meta_list_res_release(&res);
    ventry_free(model, mn);
    free(model);
    free(vids);
    free(owner);
    store_destroy(m, dir);
}

/* ---- cost ---- */

/* Load groups x per keys, each with versions versions (ids "v<n>"),
 * through meta_apply in a few big transactions. */
static void bulk_put(struct meta *m, const char *bucket, const char *fmt, size_t groups, size_t per,
                     size_t versions)
{
    char key[128];
    MDB_txn *txn = NULL;
    for (size_t n = 0; n < groups * per * versions; n++) {
        if (n % 20000 == 0) {
            if (txn)
                assert_int_equal(meta_db_write_end(&m->db, txn, 1), 0);
            assert_int_equal(meta_db_write_begin(&m->db, &txn), 0);
        }
        snprintf(key, sizeof key, fmt, n / versions / per, n / versions % per);
        struct meta_object o;
        memset(&o, 0, sizeof o);
        o.key = key;
        snprintf(o.version_id, sizeof o.version_id, "v%zu", n);
        snprintf(o.etag, sizeof o.etag, "e%zu", n);
        o.size = n;
        struct rec_w w;
        rec_w_init(&w, REC_MAX);
        meta_cmd_object_put(&w, 1, bucket, &o, NULL);
        assert_int_equal(rec_w_error(&w), 0);
        assert_int_equal(meta_apply(&m->db, txn, rec_w_data(&w), rec_w_len(&w), NULL), 0);
        rec_w_release(&w);
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
    bulk_put(m, "huge", "p%04zu/obj%03zu", 1000, 100, 1);
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

/* Current-version listing of a bucket with 100 versions per key: the walk
 * seeks past each key's older versions, so it costs about what the same
 * keys cost without versions. */
static void test_current_listing_skips_versions(void **state)
{
    (void)state;
    char dir[64];
    struct meta *m = store_open(dir);
    make_bucket(m, "flat", 0);
    make_bucket(m, "hist", META_VERSIONING_ENABLED);
    bulk_put(m, "flat", "d%zu/k%03zu", 10, 100, 1);
    bulk_put(m, "hist", "d%zu/k%03zu", 10, 100, 100);
    struct meta_list_req req = {.bucket = "hist", .max_keys = 1000};
    struct meta_list_res res;
    /* first touch of the pages, so that the times below compare walks */
    assert_int_equal(meta_object_list(m, &req, &res), 0);
    meta_list_res_release(&res);
    req.bucket = "flat";
    assert_int_equal(meta_object_list(m, &req, &res), 0);
    meta_list_res_release(&res);
    double t0 = now_s();
    assert_int_equal(meta_object_list(m, &req, &res), 0);
    double t1 = now_s();
    uint64_t flat_steps = meta_debug_list_steps();
    assert_int_equal(res.n, 1000);
    meta_list_res_release(&res);
    req.bucket = "hist";
    assert_int_equal(meta_object_list(m, &req, &res), 0);
    double t2 = now_s();
    uint64_t hist_steps = meta_debug_list_steps();
    printf("meta: 1000 keys: %llu steps %.2f ms; with 100 versions each: %llu steps %.2f ms\n",
           (unsigned long long)flat_steps, (t1 - t0) * 1e3, (unsigned long long)hist_steps,
           (t2 - t1) * 1e3);
    assert_int_equal(res.n, 1000);
    assert_false(res.truncated);
    /* each key shows its latest version: d3/k042 is key 342, version 99 */
    assert_string_equal(res.entries[342].key, "d3/k042");
    assert_string_equal(res.entries[342].etag, "e34299");
    assert_string_equal(res.entries[342].version_id, "v34299");
    assert_true(hist_steps <= 2 * flat_steps + 50); /* never the 100,000 records */
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
    bulk_put(m, "tenk", "photos/2024/%02zu/img_%05zu.jpg", 10, 1000, 1);
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
        cmocka_unit_test(test_versions_against_model),
        cmocka_unit_test(test_versions_many_of_one_key),
        cmocka_unit_test(test_cost_follows_page),
        cmocka_unit_test(test_current_listing_skips_versions),
        cmocka_unit_test(test_list_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
