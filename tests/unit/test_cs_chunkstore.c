/* Unit tests for chunkstore/chunkstore.c: chunks over 6 in-memory stores
 * and over 6 real drive folders (EC 4+2): sizes, ranges, losing and
 * corrupting shards, repair, concurrency, full drives.  Also prints the
 * put/get throughput of 4 MiB chunks over 6 drive folders. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "chunkstore/chunkstore.h"
#include "common/hash.h"

#define NST 6
#define MIB (1u << 20)

static char tmpdir[256];
static int dir_seq;

static uint64_t rng_state = 0x0123456789abcdefull;
static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;

static void fill_random(uint8_t *p, size_t n)
{
    pthread_mutex_lock(&rng_lock);
    uint64_t x = rng_state;
    for (size_t i = 0; i < n; i += 8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t v = x * 0x2545f4914f6cdd1dull;
        size_t k = n - i < 8 ? n - i : 8;
        memcpy(p + i, &v, k);
    }
    rng_state = x;
    pthread_mutex_unlock(&rng_lock);
}

static uint64_t rnd(void)
{
    uint64_t v;
    fill_random((uint8_t *)&v, sizeof v);
    return v;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cs-chunk-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_rf(tmpdir);
    return 0;
}

/* A chunkstore over NST stores: in memory (dirs NULL) or drive folders
 * dirs[i] (created fresh when *fresh). */
struct fixture {
    struct chunkstore *cs;
    int drives;
    char dirs[NST][300];
};

static void fx_open(struct fixture *fx, int drives, int k, int m, const struct drive_opts *o)
{
    struct shard_store *st[NST];
    if (drives && !fx->dirs[0][0]) {
        int seq = ++dir_seq;
        for (int i = 0; i < NST; i++)
            snprintf(fx->dirs[i], sizeof fx->dirs[i], "%s/set%d/drive%d", tmpdir, seq, i);
    }
    fx->drives = drives;
    for (int i = 0; i < NST; i++) {
        if (drives) {
            assert_int_equal(drive_open_opts(fx->dirs[i], o, &st[i]), 0);
        } else {
            char name[32];
            snprintf(name, sizeof name, "mem%d", i);
            st[i] = mem_store_new(name);
            assert_non_null(st[i]);
        }
    }
    assert_int_equal(cs_open(st, NST, k, m, &fx->cs), 0);
}

static void fx_close(struct fixture *fx)
{
    cs_close(fx->cs);
    fx->cs = NULL;
}

struct chunk {
    uint8_t id[CHUNK_ID_LEN];
    uint8_t *data;
    size_t len;
    struct cs_placement pl;
};

static void chunk_make(struct chunk *c, size_t len)
{
    c->len = len;
    c->data = malloc(len);
    assert_non_null(c->data);
    fill_random(c->data, len);
    sha256(c->data, len, c->id);
    memset(&c->pl, 0xff, sizeof c->pl);
}

static void chunk_free(struct chunk *c)
{
    free(c->data);
    c->data = NULL;
}

static void chunk_put(struct chunkstore *cs, struct chunk *c)
{
    assert_int_equal(cs_put(cs, c->id, c->data, c->len, &c->pl), 0);
    uint32_t seen = 0;
    for (int i = 0; i < c->pl.k + c->pl.m; i++) {
        assert_false(seen & (1u << c->pl.drive[i])); /* distinct stores */
        seen |= 1u << c->pl.drive[i];
    }
}

/* Read [off, off+n) and compare; check what the report says about the
 * healthy/degraded path. */
static void check_range(struct chunkstore *cs, const struct chunk *c, size_t off, size_t n,
                        int want_reconstructed)
{
    /* one buffer for all checks (main thread only): fresh multi-MiB
     * buffers cost mostly page faults, which hurts under ASan */
    static uint8_t *buf;
    struct cs_report rep;
    if (!buf)
        buf = malloc(CS_MAX_CHUNK);
    assert_non_null(buf);
    assert_int_equal(cs_get(cs, c->id, &c->pl, c->len, off, n, buf, &rep), 0);
    if (n)
        assert_memory_equal(buf, c->data + off, n);
    if (want_reconstructed >= 0)
        assert_int_equal(rep.reconstructed, want_reconstructed);
}

static void check_chunk(struct chunkstore *cs, const struct chunk *c, int want_reconstructed)
{
    const size_t len = c->len, sl = cs_shard_len(len, c->pl.k);
    check_range(cs, c, 0, len, want_reconstructed);
    check_range(cs, c, 0, 1, -1);
    check_range(cs, c, len - 1, 1, -1);
    check_range(cs, c, len / 2, len - len / 2, -1);
    check_range(cs, c, 0, 0, 0);
    if (len > sl + 1)
        check_range(cs, c, sl - 1, 2, -1); /* across a shard boundary */
    for (int i = 0; i < 4; i++) {
        size_t off = (size_t)(rnd() % len);
        size_t n = 1 + (size_t)(rnd() % (len - off));
        check_range(cs, c, off, n, -1);
    }
}

static const size_t sizes[] = {1, 63, 64, 65, 1000, MIB, 4 * MIB, 4 * MIB + 1};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void run_sizes(int drives)
{
    struct fixture fx = {0};
    struct chunk c[NSIZES];
    fx_open(&fx, drives, 4, 2, NULL);
    for (size_t i = 0; i < NSIZES; i++) {
        chunk_make(&c[i], sizes[i]);
        chunk_put(fx.cs, &c[i]);
    }
    for (size_t i = 0; i < NSIZES; i++)
        check_chunk(fx.cs, &c[i], 0);
    /* every shard really is where the placement says, with the right size */
    for (size_t i = 0; i < NSIZES; i++) {
        uint32_t sl = cs_shard_len(c[i].len, 4), got;
        uint8_t *buf = malloc(sl);
        for (int s = 0; s < 6; s++) {
            assert_int_equal(shard_get(cs_store(fx.cs, c[i].pl.drive[s]), c[i].id, (uint8_t)s, buf,
                                       sl, &got), 0);
            assert_int_equal(got, sl);
            if (s < 4 && (size_t)(s + 1) * sl <= c[i].len)
                assert_memory_equal(buf, c[i].data + (size_t)s * sl, sl); /* systematic */
        }
        free(buf);
    }
    if (drives) { /* survives a restart */
        fx_close(&fx);
        fx_open(&fx, drives, 4, 2, NULL);
        for (size_t i = 0; i < NSIZES; i++)
            check_chunk(fx.cs, &c[i], 0);
    }
    /* bad arguments */
    uint8_t b[8];
    struct cs_placement pl;
    assert_int_equal(cs_put(fx.cs, c[0].id, c[0].data, 0, &pl), CS_EINVAL);
    assert_int_equal(cs_put(fx.cs, c[0].id, c[0].data, CS_MAX_CHUNK + 1, &pl), CS_EINVAL);
    assert_int_equal(cs_get(fx.cs, c[1].id, &c[1].pl, c[1].len, 60, 4, b, NULL), CS_EINVAL);
    pl = c[1].pl;
    pl.drive[0] = NST;
    assert_int_equal(cs_get(fx.cs, c[1].id, &pl, c[1].len, 0, 1, b, NULL), CS_EINVAL);
    /* delete: everything goes; twice is fine */
    for (size_t i = 0; i < NSIZES; i++) {
        assert_int_equal(cs_delete(fx.cs, c[i].id, &c[i].pl), 0);
        assert_int_equal(cs_delete(fx.cs, c[i].id, &c[i].pl), 0);
        struct cs_report rep;
        assert_int_equal(cs_get(fx.cs, c[i].id, &c[i].pl, c[i].len, 0, 1, b, &rep), CS_EUNAVAIL);
        assert_int_equal(rep.bad_shards, 6);
    }
    for (int s = 0; s < NST; s++) {
        struct shard_store_stat st;
        assert_int_equal(cs_store(fx.cs, s)->ops->stat(cs_store(fx.cs, s), &st), 0);
        assert_int_equal(st.shards, 0);
    }
    for (size_t i = 0; i < NSIZES; i++)
        chunk_free(&c[i]);
    fx_close(&fx);
}

static void test_mem_sizes(void **state)
{
    (void)state;
    run_sizes(0);
}

static void test_drive_sizes(void **state)
{
    (void)state;
    run_sizes(1);
}

static void lose_shard(struct fixture *fx, const struct chunk *c, int shard)
{
    assert_int_equal(shard_del(cs_store(fx->cs, c->pl.drive[shard]), c->id, (uint8_t)shard), 0);
}

static void expect_report(struct chunkstore *cs, const struct chunk *c, int bad1, int bad2)
{
    struct cs_report rep;
    uint8_t *buf = malloc(c->len);
    assert_int_equal(cs_get(cs, c->id, &c->pl, c->len, 0, c->len, buf, &rep), 0);
    assert_memory_equal(buf, c->data, c->len);
    assert_int_equal(rep.reconstructed, 1);
    assert_int_equal(rep.bad_shards, 2);
    assert_int_not_equal(rep.shard_err[bad1], 0);
    assert_int_not_equal(rep.shard_err[bad2], 0);
    free(buf);
}

/* Lose two shards, read, repair, lose two others, read; lose three. */
static void test_mem_lose_two_and_repair(void **state)
{
    (void)state;
    struct fixture fx = {0};
    struct chunk c[3];
    const size_t lens[3] = {65, MIB, 3 * MIB + 5};
    fx_open(&fx, 0, 4, 2, NULL);
    for (int i = 0; i < 3; i++) {
        chunk_make(&c[i], lens[i]);
        chunk_put(fx.cs, &c[i]);
    }
    for (int i = 0; i < 3; i++) {
        lose_shard(&fx, &c[i], 0);
        lose_shard(&fx, &c[i], 5);
        expect_report(fx.cs, &c[i], 0, 5);
        check_chunk(fx.cs, &c[i], -1);

        struct cs_report rep;
        assert_int_equal(cs_repair(fx.cs, c[i].id, &c[i].pl, c[i].len, &rep), 0);
        assert_int_equal(rep.bad_shards, 2);
        assert_int_equal(rep.rewritten, 2);
        assert_int_equal(rep.shard_err[0], CS_ENOTFOUND);
        check_chunk(fx.cs, &c[i], 0); /* healthy again */
        assert_int_equal(cs_repair(fx.cs, c[i].id, &c[i].pl, c[i].len, &rep), 0);
        assert_int_equal(rep.bad_shards, 0);
        assert_int_equal(rep.rewritten, 0);

        lose_shard(&fx, &c[i], 1);
        lose_shard(&fx, &c[i], 2); /* needs the rewritten 0 and 5 */
        expect_report(fx.cs, &c[i], 1, 2);
        lose_shard(&fx, &c[i], 3);
        uint8_t *b = malloc(c[i].len);
        assert_int_equal(cs_get(fx.cs, c[i].id, &c[i].pl, c[i].len, 0, c[i].len, b, &rep), CS_EUNAVAIL);
        assert_int_equal(rep.bad_shards, 3);
        free(b);
        assert_int_equal(cs_repair(fx.cs, c[i].id, &c[i].pl, c[i].len, &rep), CS_EUNAVAIL);
        assert_int_equal(rep.rewritten, 0);
    }
    /* A read only touching healthy data shards never notices (and never
     * decodes): shard 1 of a 4 MiB chunk covers [1 MiB, 2 MiB). */
    struct chunk e;
    struct cs_report rep;
    uint8_t buf[1000];
    chunk_make(&e, 4 * MIB);
    chunk_put(fx.cs, &e);
    lose_shard(&fx, &e, 0);
    assert_int_equal(cs_get(fx.cs, e.id, &e.pl, e.len, MIB + 5, sizeof buf, buf, &rep), 0);
    assert_memory_equal(buf, e.data + MIB + 5, sizeof buf);
    assert_int_equal(rep.reconstructed, 0);
    assert_int_equal(rep.bad_shards, 0);
    check_range(fx.cs, &e, MIB - 5, 10, 1); /* touches shard 0: decodes */
    chunk_free(&e);
    for (int i = 0; i < 3; i++)
        chunk_free(&c[i]);
    fx_close(&fx);
}

/* Flip a byte in whichever segment file of dir holds needle. */
static int flip_in_dir(const char *dir, const void *needle, size_t nlen, long delta)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = -1;
    assert_non_null(d);
    while (rc != 0 && (de = readdir(d)) != NULL) {
        char p[600];
        if (strncmp(de->d_name, "seg-", 4) != 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        FILE *f = fopen(p, "r+b");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc((size_t)size + 1);
        assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
        uint8_t *hit = memmem(buf, (size_t)size, needle, nlen);
        if (hit) {
            long at = (long)(hit - buf) + delta;
            uint8_t b = buf[at] ^ 0x01;
            fseek(f, at, SEEK_SET);
            fwrite(&b, 1, 1, f);
            rc = 0;
        }
        free(buf);
        fclose(f);
    }
    closedir(d);
    return rc;
}

/* On real drives: one drive's shard bit-rots, another drive's folder is
 * deleted while running.  Reads still return the right bytes; repair
 * rewrites both; after that two other drives can go. */
static void test_drive_corrupt_and_lost_folder(void **state)
{
    (void)state;
    struct fixture fx = {0};
    struct chunk c[2];
    fx_open(&fx, 1, 4, 2, NULL);
    chunk_make(&c[0], 4 * MIB);
    chunk_make(&c[1], MIB + 100);
    chunk_put(fx.cs, &c[0]);
    chunk_put(fx.cs, &c[1]);
    const uint32_t sl = cs_shard_len(c[0].len, 4);

    /* shard 1 of c[0]: a bit flips in the middle of its payload */
    assert_int_equal(flip_in_dir(fx.dirs[c[0].pl.drive[1]], c[0].data + sl, 64, 5000), 0);
    /* the folder holding shard 3 of c[0] disappears */
    rm_rf(fx.dirs[c[0].pl.drive[3]]);

    struct cs_report rep;
    expect_report(fx.cs, &c[0], 1, 3);
    /* a range inside shard 1 only: goes degraded, reports shard 1 corrupt */
    uint8_t buf[100];
    assert_int_equal(cs_get(fx.cs, c[0].id, &c[0].pl, c[0].len, sl + 10, 100, buf, &rep), 0);
    assert_memory_equal(buf, c[0].data + sl + 10, 100);
    assert_int_equal(rep.shard_err[1], CS_ECORRUPT);
    assert_int_equal(rep.reconstructed, 1);
    /* c[1] lost its shard on the deleted folder too */
    int lost_idx = -1;
    for (int s = 0; s < 6; s++)
        if (c[1].pl.drive[s] == c[0].pl.drive[3])
            lost_idx = s;
    assert_true(lost_idx >= 0);
    check_chunk(fx.cs, &c[1], -1);

    assert_int_equal(cs_repair(fx.cs, c[0].id, &c[0].pl, c[0].len, &rep), 0);
    assert_int_equal(rep.shard_err[1], CS_ECORRUPT);
    assert_true(rep.shard_err[3] == CS_ENOTFOUND || rep.shard_err[3] == -EIO);
    assert_int_equal(rep.rewritten, 2);
    assert_int_equal(cs_repair(fx.cs, c[1].id, &c[1].pl, c[1].len, &rep), 0);
    assert_int_equal(rep.rewritten, 1);
    assert_int_not_equal(rep.shard_err[lost_idx], 0);
    check_chunk(fx.cs, &c[0], 0);
    check_chunk(fx.cs, &c[1], 0);

    /* restart: the repaired shards are durable; then lose two others */
    fx_close(&fx);
    fx_open(&fx, 1, 4, 2, NULL);
    check_chunk(fx.cs, &c[0], 0);
    rm_rf(fx.dirs[c[0].pl.drive[0]]);
    rm_rf(fx.dirs[c[0].pl.drive[5]]);
    expect_report(fx.cs, &c[0], 0, 5);
    check_chunk(fx.cs, &c[1], 1);
    fx_close(&fx);
    chunk_free(&c[0]);
    chunk_free(&c[1]);
}

/* A chunk written under 4+2 stays readable (healthy and degraded) by a
 * chunkstore configured 3+2 later: the placement carries k and m. */
static void test_drive_old_scheme(void **state)
{
    (void)state;
    struct fixture fx = {0};
    struct chunk c;
    fx_open(&fx, 1, 4, 2, NULL);
    chunk_make(&c, 3 * MIB + 7);
    chunk_put(fx.cs, &c);
    fx_close(&fx);
    fx_open(&fx, 1, 3, 2, NULL);
    check_chunk(fx.cs, &c, 0);
    lose_shard(&fx, &c, 0);
    lose_shard(&fx, &c, 3);
    expect_report(fx.cs, &c, 0, 3);
    fx_close(&fx);
    chunk_free(&c);
}

static void test_mem_faults(void **state)
{
    (void)state;
    struct fixture fx = {0};
    struct chunk c, d;
    struct cs_report rep;
    fx_open(&fx, 0, 4, 2, NULL);
    chunk_make(&c, 300000);
    chunk_put(fx.cs, &c);

    /* a dead drive under a data shard: reads reconstruct */
    struct shard_store *dead = cs_store(fx.cs, c.pl.drive[2]);
    shard_store_set_fault(dead, -EIO);
    uint8_t *buf = malloc(c.len);
    assert_int_equal(cs_get(fx.cs, c.id, &c.pl, c.len, 0, c.len, buf, &rep), 0);
    assert_memory_equal(buf, c.data, c.len);
    assert_int_equal(rep.shard_err[2], -EIO);
    assert_int_equal(rep.reconstructed, 1);
    assert_int_equal(rep.bad_shards, 1);
    /* repair cannot write to it: reports the error, rewrites nothing */
    assert_int_equal(cs_repair(fx.cs, c.id, &c.pl, c.len, &rep), -EIO);
    assert_int_equal(rep.rewritten, 0);

    /* a put touching the dead drive fails and leaves no shard behind */
    chunk_make(&d, 200000);
    struct cs_placement pl;
    assert_int_equal(cs_put(fx.cs, d.id, d.data, d.len, &pl), -EIO);
    for (int s = 0; s < NST; s++) {
        struct shard_store_stat st;
        struct shard_store *ss = cs_store(fx.cs, s);
        if (ss == dead)
            continue;
        assert_int_equal(ss->ops->stat(ss, &st), 0);
        assert_int_equal(st.shards, 1); /* only c's shard */
    }
    shard_store_set_fault(dead, 0);
    /* ENOSPC wins over another error when both happen, even when the
     * other one is on an earlier shard */
    struct cs_placement dpl;
    cs_place(fx.cs, d.id, &dpl);
    struct shard_store *eio = cs_store(fx.cs, dpl.drive[0]);
    struct shard_store *full = cs_store(fx.cs, dpl.drive[5]);
    shard_store_set_fault(eio, -EIO);
    mem_store_set_capacity(full, 1000);
    assert_int_equal(cs_put(fx.cs, d.id, d.data, d.len, &pl), -ENOSPC);
    shard_store_set_fault(eio, 0);
    assert_int_equal(cs_put(fx.cs, d.id, d.data, d.len, &pl), -ENOSPC);
    mem_store_set_capacity(full, 0);
    chunk_put(fx.cs, &d);
    check_chunk(fx.cs, &d, 0);
    check_chunk(fx.cs, &c, 0);
    free(buf);
    chunk_free(&c);
    chunk_free(&d);
    fx_close(&fx);
}

/* Bytes that do not hash to the id are never served from parity. */
static void test_mem_hash_mismatch(void **state)
{
    (void)state;
    struct fixture fx = {0};
    struct chunk c;
    struct cs_placement pl;
    struct cs_report rep;
    uint8_t wrong_id[CHUNK_ID_LEN];
    fx_open(&fx, 0, 4, 2, NULL);
    chunk_make(&c, 5000);
    memcpy(wrong_id, c.id, sizeof wrong_id);
    wrong_id[7] ^= 1;
    assert_int_equal(cs_put(fx.cs, wrong_id, c.data, c.len, &pl), 0);
    assert_int_equal(shard_del(cs_store(fx.cs, pl.drive[0]), wrong_id, 0), 0);
    uint8_t *buf = malloc(c.len);
    assert_int_equal(cs_get(fx.cs, wrong_id, &pl, c.len, 0, c.len, buf, &rep), CS_EHASH);
    assert_int_equal(cs_repair(fx.cs, wrong_id, &pl, c.len, &rep), CS_EHASH);
    assert_int_equal(rep.rewritten, 0);
    free(buf);
    chunk_free(&c);
    fx_close(&fx);
}

static void test_drive_enospc(void **state)
{
    (void)state;
    struct fixture fx = {0};
    struct chunk c, d;
    struct cs_placement pl;
    /* each drive holds about 1.5 MiB of segments */
    struct drive_opts o = {.capacity_bytes = 3 * MIB / 2};
    fx_open(&fx, 1, 4, 2, &o);
    chunk_make(&c, 4 * MIB); /* 1 MiB shards: fits once */
    chunk_make(&d, 4 * MIB);
    chunk_put(fx.cs, &c);
    assert_int_equal(cs_put(fx.cs, d.id, d.data, d.len, &pl), -ENOSPC);
    for (int s = 0; s < NST; s++) {
        struct shard_store_stat st;
        struct shard_store *ss = cs_store(fx.cs, s);
        assert_int_equal(ss->ops->stat(ss, &st), 0);
        assert_int_equal(st.shards, 1);
        assert_int_equal(st.bytes_live, MIB);
    }
    check_chunk(fx.cs, &c, 0);
    fx_close(&fx);
    fx_open(&fx, 1, 4, 2, &o);
    check_chunk(fx.cs, &c, 0);
    uint8_t b[4];
    struct cs_report rep;
    assert_int_equal(cs_get(fx.cs, d.id, &c.pl, d.len, 0, 4, b, &rep), CS_EUNAVAIL);
    fx_close(&fx);
    chunk_free(&c);
    chunk_free(&d);
}

/* ------------------------------------------------------------------ */

#define CONC_THREADS 8

struct conc_arg {
    struct chunkstore *cs;
    struct chunk *chunks;
    int n;
    int failures;
    volatile int *stop;
    const struct chunk *hot;
};

static void *conc_put(void *p)
{
    struct conc_arg *a = p;
    for (int i = 0; i < a->n; i++)
        if (cs_put(a->cs, a->chunks[i].id, a->chunks[i].data, a->chunks[i].len, &a->chunks[i].pl) != 0)
            a->failures++;
    return NULL;
}

static void *conc_get(void *p)
{
    struct conc_arg *a = p;
    uint8_t *buf = malloc(a->hot->len);
    while (!__atomic_load_n(a->stop, __ATOMIC_ACQUIRE)) {
        if (cs_get(a->cs, a->hot->id, &a->hot->pl, a->hot->len, 0, a->hot->len, buf, NULL) != 0 ||
            memcmp(buf, a->hot->data, a->hot->len) != 0)
            a->failures++;
    }
    free(buf);
    return NULL;
}

static void run_concurrent(int drives, int per_thread, size_t max_len)
{
    struct fixture fx = {0};
    struct chunk hot;
    struct chunk *chunks = calloc((size_t)CONC_THREADS * per_thread, sizeof *chunks);
    pthread_t th[CONC_THREADS + 2];
    struct conc_arg args[CONC_THREADS + 2];
    volatile int stop = 0;
    fx_open(&fx, drives, 4, 2, NULL);
    chunk_make(&hot, 200000);
    chunk_put(fx.cs, &hot);
    for (int i = 0; i < CONC_THREADS * per_thread; i++)
        chunk_make(&chunks[i], 1 + (size_t)(rnd() % max_len));
    for (int t = 0; t < CONC_THREADS + 2; t++) {
        args[t] = (struct conc_arg){.cs = fx.cs, .chunks = chunks + t * per_thread, .n = per_thread,
                                    .stop = &stop, .hot = &hot};
        assert_int_equal(pthread_create(&th[t], NULL, t < CONC_THREADS ? conc_put : conc_get, &args[t]), 0);
    }
    for (int t = 0; t < CONC_THREADS; t++)
        pthread_join(th[t], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int t = CONC_THREADS; t < CONC_THREADS + 2; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < CONC_THREADS + 2; t++)
        assert_int_equal(args[t].failures, 0);
    for (int i = 0; i < CONC_THREADS * per_thread; i++) {
        check_range(fx.cs, &chunks[i], 0, chunks[i].len, 0);
        chunk_free(&chunks[i]);
    }
    chunk_free(&hot);
    free(chunks);
    fx_close(&fx);
}

static void test_mem_concurrent(void **state)
{
    (void)state;
    run_concurrent(0, 12, 300000);
}

static void test_drive_concurrent(void **state)
{
    (void)state;
    run_concurrent(1, 6, 300000);
}

/* Not an assertion: what 4 MiB chunks cost over 6 drive folders (EC 4+2,
 * every shard fdatasync'd before cs_put returns) on this machine, from 1,
 * 4 and 16 threads: data MB/s, and the fsyncs and group commits that the
 * six drives did per chunk (all six folders share one disk here, as the
 * default `cairn server` layout does). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sum of the drives' counters. */
static void fx_counters(struct fixture *fx, struct shard_store_stat *sum)
{
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < NST; i++) {
        struct shard_store_stat st;
        struct shard_store *s = cs_store(fx->cs, i);
        assert_int_equal(s->ops->stat(s, &st), 0);
        sum->writes += st.writes;
        sum->write_batches += st.write_batches;
        sum->syncs += st.syncs;
        sum->index_checkpoints += st.index_checkpoints;
    }
}

static void test_drive_throughput(void **state)
{
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    enum { PER_THREAD_1 = 4, PER_THREAD_4 = 2, PER_THREAD_16 = 1 }; /* numbers mean little under ASan */
#else
    enum { PER_THREAD_1 = 16, PER_THREAD_4 = 8, PER_THREAD_16 = 4 };
#endif
    const int threads[3] = {1, 4, 16}, per[3] = {PER_THREAD_1, PER_THREAD_4, PER_THREAD_16};
    int total = 0;
    for (int r = 0; r < 3; r++)
        total += threads[r] * per[r];
    struct fixture fx = {0};
    struct chunk *c = calloc((size_t)total, sizeof *c);
    uint8_t *buf = malloc(4 * MIB);
    fx_open(&fx, 1, 4, 2, NULL);
    for (int i = 0; i < total; i++)
        chunk_make(&c[i], 4 * MIB);

    print_message("cs_put, 4 MiB chunks, 6 drive folders on one disk, EC 4+2:\n");
    int next = 0;
    for (int r = 0; r < 3; r++) {
        struct shard_store_stat before, after;
        pthread_t th[16];
        struct conc_arg args[16];
        const int nt = threads[r], n = nt * per[r];
        fx_counters(&fx, &before);
        double t0 = now_s();
        for (int t = 0; t < nt; t++) {
            args[t] = (struct conc_arg){.cs = fx.cs, .chunks = c + next + t * per[r], .n = per[r]};
            assert_int_equal(pthread_create(&th[t], NULL, conc_put, &args[t]), 0);
        }
        for (int t = 0; t < nt; t++) {
            pthread_join(th[t], NULL);
            assert_int_equal(args[t].failures, 0);
        }
        double dt = now_s() - t0;
        fx_counters(&fx, &after);
        next += n;
        uint64_t writes = after.writes - before.writes;
        uint64_t batches = after.write_batches - before.write_batches;
        print_message("  %2d thread%s: %6.1f MB/s, %5.2f fsyncs/chunk, %llu shards in %llu group "
                      "commits (%.1f per commit), %llu index checkpoints\n",
                      nt, nt == 1 ? " " : "s", (double)n * 4 * MIB / dt / 1e6,
                      (double)(after.syncs - before.syncs) / n, (unsigned long long)writes,
                      (unsigned long long)batches, (double)writes / (double)(batches ? batches : 1),
                      (unsigned long long)(after.index_checkpoints - before.index_checkpoints));
        assert_int_equal(writes, (uint64_t)n * 6);
    }

    double t2 = now_s();
    for (int i = 0; i < total; i++)
        assert_int_equal(cs_get(fx.cs, c[i].id, &c[i].pl, c[i].len, 0, c[i].len, buf, NULL), 0);
    double t3 = now_s();
    /* degraded: shard 0 of every chunk gone, so every read decodes */
    for (int i = 0; i < total; i++)
        lose_shard(&fx, &c[i], 0);
    double t4 = now_s();
    for (int i = 0; i < total; i++) {
        assert_int_equal(cs_get(fx.cs, c[i].id, &c[i].pl, c[i].len, 0, c[i].len, buf, NULL), 0);
        assert_memory_equal(buf, c[i].data, c[i].len);
    }
    double t5 = now_s();
    const double mb = 4.0 * MIB * total / 1e6;
    print_message("cs_get (page cache warm, 1 thread): healthy %7.1f MB/s, degraded %7.1f MB/s\n",
                  mb / (t3 - t2), mb / (t5 - t4));
    for (int i = 0; i < total; i++)
        chunk_free(&c[i]);
    free(c);
    free(buf);
    fx_close(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem_sizes),
        cmocka_unit_test(test_drive_sizes),
        cmocka_unit_test(test_mem_lose_two_and_repair),
        cmocka_unit_test(test_drive_corrupt_and_lost_folder),
        cmocka_unit_test(test_drive_old_scheme),
        cmocka_unit_test(test_mem_faults),
        cmocka_unit_test(test_mem_hash_mismatch),
        cmocka_unit_test(test_drive_enospc),
        cmocka_unit_test(test_mem_concurrent),
        cmocka_unit_test(test_drive_concurrent),
        cmocka_unit_test(test_drive_throughput),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
