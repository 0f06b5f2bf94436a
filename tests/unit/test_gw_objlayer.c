/*
 * Unit tests for the object layer (gateway/objlayer.c) over real parts: an
 * LMDB metadata store in a temporary folder and six in-memory shard stores
 * (a complete shard store implementation, not a mock), EC 4+2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/objlayer.h"

struct fixture {
    char dir[64];
    struct meta *meta;
    struct chunkstore *cs;
    struct objlayer *ol;
    struct shard_store *stores[6];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-ol-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(meta_open(f->dir, &f->meta), 0);
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "mem%d", i);
        f->stores[i] = mem_store_new(name);
    }
    assert_int_equal(cs_open(f->stores, 6, 4, 2, &f->cs), 0);
    struct ol_config cfg = {128 * 1024, 3600 * 1000};
    assert_int_equal(ol_open(f->meta, f->cs, &cfg, &f->ol), 0);
    struct meta_bucket b = {.name = "bkt", .owner = "root", .created_ms = 1};
    assert_int_equal(meta_bucket_create(f->meta, &b), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    ol_close(f->ol);
    cs_close(f->cs);
    meta_close(f->meta);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Deterministic pseudo-random bytes. */
static uint8_t *make_data(size_t n, uint64_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
    return p;
}

/* PUT through a writer fed in odd-sized pieces, sealed in domain dom
 * (NULL: plaintext). */
static void put_in(struct fixture *f, const char *key, const uint8_t *data, size_t n,
                   const struct sse_domain *dom)
{
    struct ol_writer *w;
    struct ol_writer_opts o = {1, CKSUM_CRC32C, 0, dom};
    assert_int_equal(ol_writer_new(f->ol, &o, &w), 0);
    for (size_t off = 0; off < n;) {
        size_t piece = 77777 < n - off ? 77777 : n - off;
        assert_int_equal(ol_writer_write(w, data + off, piece), 0);
        off += piece;
    }
    assert_int_equal(ol_writer_finish(w), 0);
    struct meta_object o2;
    memset(&o2, 0, sizeof o2);
    o2.key = (char *)key;
    snprintf(o2.version_id, sizeof o2.version_id, "v1");
    o2.mtime_ms = 1000;
    hex_encode(ol_writer_md5(w), 16, o2.etag);
    ol_writer_object(w, &o2);
    assert_int_equal(o2.size, n);
    assert_int_equal(ol_put(f->ol, "bkt", &o2, NULL, NULL), 0);
    ol_writer_free(w);
}

static void put(struct fixture *f, const char *key, const uint8_t *data, size_t n)
{
    put_in(f, key, data, n, NULL);
}

static void expect_content_in(struct fixture *f, const char *key, const uint8_t *data, size_t n,
                              const struct sse_domain *dom)
{
    struct ol_reader *r;
    assert_int_equal(ol_reader_open(f->ol, "bkt", key, NULL, &r), 0);
    assert_int_equal(ol_reader_object(r)->size, n);
    if (dom) {
        uint8_t one;
        if (n)
            assert_int_equal(ol_reader_read(r, 0, &one, 1), OL_ENOKEY);
        assert_int_equal(ol_reader_set_sse(r, dom), 0);
    }
    uint8_t *buf = malloc(n + 1);
    size_t done = 0;
    while (done < n) {
        long got = ol_reader_read(r, done, buf + done, 300000);
        assert_true(got > 0);
        done += (size_t)got;
    }
    assert_int_equal(ol_reader_read(r, n, buf, 1), 0);
    assert_memory_equal(buf, data, n);
    /* a range that crosses chunk boundaries, read backwards */
    if (n > 3000000) {
        long got = ol_reader_read(r, n - 2500000, buf, 2000000);
        assert_int_equal(got, 2000000);
        assert_memory_equal(buf, data + n - 2500000, 2000000);
    }
    free(buf);
    ol_reader_free(r);
}

static void expect_content(struct fixture *f, const char *key, const uint8_t *data, size_t n)
{
    expect_content_in(f, key, data, n, NULL);
}

static uint64_t chunk_count(struct fixture *f)
{
    struct meta_stats s;
    assert_int_equal(meta_stats(f->meta, &s), 0);
    return s.chunks;
}

static void test_inline_and_chunked(void **state)
{
    struct fixture *f = *state;
    size_t sizes[] = {0, 1, 128 * 1024 - 1, 128 * 1024, 9 * 1024 * 1024 + 17};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char key[32];
        snprintf(key, sizeof key, "obj-%zu", i);
        uint8_t *d = make_data(sizes[i], i + 1);
        put(f, key, d, sizes[i]);
        expect_content(f, key, d, sizes[i]);
        free(d);
    }
    /* below the inline threshold nothing became a chunk */
    struct meta_object o;
    assert_int_equal(meta_object_get(f->meta, "bkt", "obj-2", NULL, &o), 0);
    assert_int_equal(o.nchunks, 0);
    assert_int_equal(o.inline_len, 128 * 1024 - 1);
    meta_object_release(&o);
    assert_int_equal(meta_object_get(f->meta, "bkt", "obj-4", NULL, &o), 0);
    assert_true(o.nchunks >= 3);
    meta_object_release(&o);
}

static void test_dedup_and_gc(void **state)
{
    struct fixture *f = *state;
    size_t n = 6 * 1024 * 1024;
    uint8_t *d = make_data(n, 42);
    put(f, "a", d, n);
    uint64_t after_first = chunk_count(f);
    assert_true(after_first >= 2);
    put(f, "b", d, n); /* same bytes: no new chunk */
    assert_int_equal(chunk_count(f), after_first);
    expect_content(f, "b", d, n);

    /* an insertion near the start changes only the first chunk(s) */
    uint8_t *d2 = malloc(n + 1);
    memcpy(d2, d, 1000);
    d2[1000] = 0x5a;
    memcpy(d2 + 1001, d + 1000, n - 1000);
    put(f, "c", d2, n + 1);
    assert_true(chunk_count(f) <= after_first + 2);
    expect_content(f, "c", d2, n + 1);

    /* delete all: chunks become unreferenced, gc with no grace frees them */
    const char *keys[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(meta_object_delete(f->meta, "bkt", keys[i], NULL, NULL, ol_now_ms(), NULL, NULL), 0);
    struct ol_gc_report rep;
    assert_int_equal(ol_gc(f->ol, ol_now_ms(), &rep), 0);
    assert_int_equal(rep.chunks_removed, 0); /* still inside the grace period */
    assert_int_equal(ol_gc(f->ol, ol_now_ms() + 3600 * 1000 + 1, &rep), 0);
    assert_true(rep.chunks_removed >= after_first);
    assert_int_equal(chunk_count(f), 0);
    for (int i = 0; i < 6; i++) {
        struct shard_store_stat st;
        assert_int_equal(f->stores[i]->ops->stat(f->stores[i], &st), 0);
        assert_int_equal(st.shards, 0);
    }
    free(d);
    free(d2);
}

static void test_abandoned_writer_leaves_collectable_chunks(void **state)
{
    struct fixture *f = *state;
    size_t n = 5 * 1024 * 1024;
    uint8_t *d = make_data(n, 7);
    struct ol_writer *w;
    struct ol_writer_opts o = {1, CKSUM_NONE, 0, NULL};
    assert_int_equal(ol_writer_new(f->ol, &o, &w), 0);
    assert_int_equal(ol_writer_write(w, d, n), 0);
    assert_int_equal(ol_writer_finish(w), 0);
    ol_writer_free(w); /* never committed: a client that went away */
    assert_true(chunk_count(f) > 0);
    struct meta_object obj;
    assert_int_equal(meta_object_get(f->meta, "bkt", "never", NULL, &obj), META_ENOTFOUND);
    struct ol_gc_report rep;
    assert_int_equal(ol_gc(f->ol, ol_now_ms() + 3600 * 1000 + 1, &rep), 0);
    assert_int_equal(chunk_count(f), 0);
    free(d);
}

static void test_degraded_read_and_scrub(void **state)
{
    struct fixture *f = *state;
    size_t n = 7 * 1024 * 1024;
    uint8_t *d = make_data(n, 99);
    put(f, "big", d, n);
    /* lose two stores' shards: every chunk has at most two shards there */
    for (int s = 0; s < 2; s++) {
        shard_store_set_fault(f->stores[s], CS_ENOTFOUND);
    }
    expect_content(f, "big", d, n);
    struct ol_scrub_report rep;
    /* scrub cannot rewrite into failed stores: they stay bad, nothing lost */
    assert_int_equal(ol_scrub(f->ol, &rep), 0);
    assert_int_equal(rep.chunks_lost, 0);
    assert_true(rep.shards_bad > 0);
    assert_int_equal(rep.chunks_unrepaired, rep.chunks);
    /* once the stores are back, scrub rewrites what they lack */
    for (int s = 0; s < 2; s++)
        shard_store_set_fault(f->stores[s], 0);
    assert_int_equal(ol_scrub(f->ol, &rep), 0);
    assert_int_equal(rep.chunks_unrepaired, 0);
    assert_int_equal(rep.shards_bad, 0);
    /* three stores down: reads fail, never wrong bytes */
    for (int s = 0; s < 3; s++)
        shard_store_set_fault(f->stores[s], -5);
    struct ol_reader *r;
    assert_int_equal(ol_reader_open(f->ol, "bkt", "big", NULL, &r), 0);
    uint8_t *buf = malloc(n);
    long got = ol_reader_read(r, 0, buf, n);
    assert_true(got < 0);
    ol_reader_free(r);
    for (int s = 0; s < 3; s++)
        shard_store_set_fault(f->stores[s], 0);
    expect_content(f, "big", d, n);
    free(buf);
    free(d);
}

/* Encrypted objects: sealed inline data and chunks, lengths, dedup inside
 * a domain only, the key required, a wrong domain and altered bytes
 * refused (never garbage), degraded reads and scrub without a plaintext
 * hash to check against. */
static void test_sealed_objects(void **state)
{
    struct fixture *f = *state;
    uint8_t mk[32] = {1, 2, 3}, ck[32] = {9, 9, 9};
    struct sse_domain s3, c;
    assert_int_equal(sse_domain_s3(mk, &s3), 0);
    assert_int_equal(sse_domain_customer(ck, &c), 0);
    size_t sizes[] = {0, 1000, 128 * 1024 - 1, 9 * 1024 * 1024 + 17};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char key[32];
        snprintf(key, sizeof key, "sealed-%zu", i);
        uint8_t *d = make_data(sizes[i], 100 + i);
        put_in(f, key, d, sizes[i], &s3);
        expect_content_in(f, key, d, sizes[i], &s3);
        struct meta_object o;
        assert_int_equal(meta_object_get(f->meta, "bkt", key, NULL, &o), 0);
        assert_true(o.flags & META_OBJ_ENCRYPTED);
        if (sizes[i] && !o.nchunks) {
            assert_int_equal(o.inline_len, SSE_SEED_LEN + sizes[i] + SSE_TAG_LEN);
            assert_null(memmem(o.inline_data, o.inline_len, d, 32));
        }
        uint64_t total = 0;
        for (uint32_t k = 0; k < o.nchunks; k++)
            total += o.chunks[k].len - SSE_TAG_LEN;
        if (o.nchunks)
            assert_int_equal(total, sizes[i]);
        meta_object_release(&o);
        free(d);
    }
    /* dedup inside the domain, not across */
    size_t n = 6 * 1024 * 1024;
    uint8_t *d = make_data(n, 42);
    put_in(f, "s3-a", d, n, &s3);
    uint64_t c1 = chunk_count(f);
    put_in(f, "s3-b", d, n, &s3);
    assert_int_equal(chunk_count(f), c1);
    put_in(f, "c-a", d, n, &c);
    uint64_t c2 = chunk_count(f);
    assert_true(c2 > c1);
    put(f, "plain", d, n);
    assert_true(chunk_count(f) > c2);
    expect_content_in(f, "c-a", d, n, &c);

    /* the wrong domain: inline refused at set_sse, chunks at read */
    struct ol_reader *r;
    uint8_t buf[4096];
    assert_int_equal(ol_reader_open(f->ol, "bkt", "sealed-1", NULL, &r), 0);
    assert_int_equal(ol_reader_set_sse(r, &c), OL_EDECRYPT);
    ol_reader_free(r);
    assert_int_equal(ol_reader_open(f->ol, "bkt", "s3-a", NULL, &r), 0);
    assert_int_equal(ol_reader_set_sse(r, &c), 0);
    assert_int_equal(ol_reader_read(r, 0, buf, sizeof buf), OL_EDECRYPT);
    ol_reader_free(r);

    /* two stores lost: reconstructed from parity, authenticated by GCM */
    for (int s = 0; s < 2; s++)
        shard_store_set_fault(f->stores[s], CS_ENOTFOUND);
    expect_content_in(f, "s3-b", d, n, &s3);
    for (int s = 0; s < 2; s++)
        shard_store_set_fault(f->stores[s], 0);
    struct ol_scrub_report rep;
    assert_int_equal(ol_scrub(f->ol, &rep), 0);
    assert_int_equal(rep.chunks_lost, 0);

    /* altered bytes under a valid CRC: the read fails, no byte is served */
    struct meta_object o;
    struct meta_chunk rec;
    struct cs_placement pl;
    assert_int_equal(meta_object_get(f->meta, "bkt", "s3-a", NULL, &o), 0);
    assert_int_equal(meta_chunk_get(f->meta, o.chunks[0].id, &rec), 0);
    assert_int_equal(ol_placement_decode(rec.placement, rec.placement_len, &pl), 0);
    assert_true(pl.flags & CS_PL_SEALED);
    struct shard_store *st = f->stores[pl.drive[0]];
    uint8_t *shard = malloc(CS_MAX_CHUNK);
    uint32_t sl = 0;
    assert_int_equal(shard_get(st, o.chunks[0].id, 0, shard, CS_MAX_CHUNK, &sl), 0);
    shard[100] ^= 0x01;
    assert_int_equal(shard_put(st, o.chunks[0].id, 0, shard, sl), 0);
    assert_int_equal(ol_reader_open(f->ol, "bkt", "s3-a", NULL, &r), 0);
    assert_int_equal(ol_reader_set_sse(r, &s3), 0);
    memset(buf, 0, sizeof buf);
    assert_int_equal(ol_reader_read(r, 0, buf, sizeof buf), OL_EDECRYPT);
    uint8_t zero[4096] = {0};
    assert_memory_equal(buf, zero, sizeof buf);
    ol_reader_free(r);
    meta_object_release(&o);
    free(shard);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inline_and_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedup_and_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abandoned_writer_leaves_collectable_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_degraded_read_and_scrub, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed_objects, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
