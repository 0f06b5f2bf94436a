/* Unit tests for chunkstore/drive_segment.c: the local drive engine, on
 * real folders under /tmp (crash states are made by copying, truncating
 * and flipping bytes in the real files). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>
#include <cmocka.h>

#include "chunkstore/chunkstore.h"
#include "common/hash.h"

static char tmpdir[256];

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
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

/* Remove what is inside dir, keep dir. */
static void empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char p[1024];
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        rm_rf(p);
    }
    closedir(d);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cs-drive-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_rf(tmpdir);
    return 0;
}

static void drive_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void make_id(int i, uint8_t id[CHUNK_ID_LEN])
{
    char s[32];
    int n = snprintf(s, sizeof s, "id-%d", i);
    sha256(s, (size_t)n, id);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static int count_segments(const char *dir, char *last, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    char best[256] = "";
    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "seg-", 4) == 0) {
            n++;
            if (strcmp(de->d_name, best) > 0)
                snprintf(best, sizeof best, "%s", de->d_name);
        }
    }
    closedir(d);
    if (last)
        snprintf(last, cap, "%s/%s", dir, best);
    return n;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* Flip one byte at `delta` bytes past the first occurrence of needle in
 * the file at path.  Returns 0, or -1 if the needle is not there. */
static int flip_after(const char *path, const void *needle, size_t nlen, long delta)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    uint8_t *hit = memmem(buf, (size_t)size, needle, nlen);
    int rc = -1;
    if (hit) {
        long at = (long)(hit - buf) + delta;
        uint8_t b = buf[at] ^ 0x40;
        fseek(f, at, SEEK_SET);
        fwrite(&b, 1, 1, f);
        rc = 0;
    }
    free(buf);
    fclose(f);
    return rc;
}

static void expect_shard(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx,
                         const uint8_t *data, uint32_t len)
{
    uint8_t *buf = malloc(len + 1);
    uint32_t got = 0;
    assert_int_equal(shard_get(s, id, idx, buf, len + 1, &got), 0);
    assert_int_equal(got, len);
    assert_memory_equal(buf, data, len);
    free(buf);
}

static void expect_absent(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx)
{
    uint8_t buf[64];
    uint32_t got = 12345;
    assert_int_equal(shard_get(s, id, idx, buf, sizeof buf, &got), CS_ENOTFOUND);
    assert_int_equal(got, 12345); /* untouched on failure */
}

/* ------------------------------------------------------------------ */
/* A workload whose expected final state the tests know: 30 shards put,
 * shards 0..4 deleted, 5..7 replaced with new contents. */

#define WL_N 30
static uint8_t wl_data[WL_N][3000];
static uint32_t wl_len[WL_N];

static void workload(struct shard_store *s)
{
    for (int i = 0; i < WL_N; i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(i, id);
        wl_len[i] = 64 + (uint32_t)(rnd() % 2900);
        fill_random(wl_data[i], wl_len[i]);
        assert_int_equal(shard_put(s, id, (uint8_t)(i % 6), wl_data[i], wl_len[i]), 0);
    }
    for (int i = 0; i < 5; i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(i, id);
        assert_int_equal(shard_del(s, id, (uint8_t)(i % 6)), 0);
    }
    for (int i = 5; i < 8; i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(i, id);
        wl_len[i] = 128;
        fill_random(wl_data[i], wl_len[i]);
        assert_int_equal(shard_put(s, id, (uint8_t)(i % 6), wl_data[i], wl_len[i]), 0);
    }
}

static void workload_check(struct shard_store *s)
{
    struct shard_store_stat st;
    uint64_t live = 0;
    for (int i = 0; i < WL_N; i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(i, id);
        if (i < 5) {
            expect_absent(s, id, (uint8_t)(i % 6));
        } else {
            expect_shard(s, id, (uint8_t)(i % 6), wl_data[i], wl_len[i]);
            live += wl_len[i];
        }
        expect_absent(s, id, (uint8_t)(i % 6 + 1)); /* other shard index */
    }
    assert_int_equal(s->ops->stat(s, &st), 0);
    assert_int_equal(st.shards, WL_N - 5);
    assert_int_equal(st.bytes_live, live);
    assert_true(st.bytes_dead > 0);
}

/* ------------------------------------------------------------------ */

static void test_roundtrip(void **state)
{
    (void)state;
    char p[512];
    struct shard_store *s = NULL;
    uint8_t id[CHUNK_ID_LEN], data[1000], data2[500], buf[1000];
    uint32_t got;
    struct shard_store_stat st;

    drive_path(p, sizeof p, "rt");
    assert_int_equal(drive_open(p, &s), 0);
    struct shard_store *twice = NULL;
    assert_int_equal(drive_open(p, &twice), -EBUSY); /* one owner per folder */
    assert_null(twice);
    make_id(1, id);
    fill_random(data, sizeof data);
    fill_random(data2, sizeof data2);
    expect_absent(s, id, 0);
    assert_int_equal(shard_put(s, id, 0, data, sizeof data), 0);
    expect_shard(s, id, 0, data, sizeof data);
    expect_absent(s, id, 1);
    assert_int_equal(shard_get(s, id, 0, buf, sizeof data - 1, &got), CS_EINVAL);
    /* replace */
    assert_int_equal(shard_put(s, id, 0, data2, sizeof data2), 0);
    expect_shard(s, id, 0, data2, sizeof data2);
    assert_int_equal(s->ops->stat(s, &st), 0);
    assert_int_equal(st.shards, 1);
    assert_int_equal(st.bytes_live, sizeof data2);
    assert_int_equal(st.bytes_dead, 64 + sizeof data); /* the replaced record */
    assert_true(st.bytes_total > 0);
    /* delete, twice */
    assert_int_equal(shard_del(s, id, 0), 0);
    expect_absent(s, id, 0);
    assert_int_equal(shard_del(s, id, 0), 0);
    assert_int_equal(s->ops->stat(s, &st), 0);
    assert_int_equal(st.shards, 0);
    assert_int_equal(st.bytes_live, 0);
    assert_int_equal(st.bytes_dead, 64 + sizeof data + 64 + sizeof data2 + 64 + 12);
    /* an empty shard is a shard */
    assert_int_equal(shard_put(s, id, 7, data, 0), 0);
    assert_int_equal(shard_get(s, id, 7, buf, 0, &got), 0);
    assert_int_equal(got, 0);
    /* oversize */
    assert_int_equal(shard_put(s, id, 0, data, CS_MAX_CHUNK + 1), CS_EINVAL);
    s->ops->close(s);
}

static void test_reopen_keeps_data(void **state)
{
    (void)state;
    char p[512];
    struct shard_store *s = NULL;
    drive_path(p, sizeof p, "reopen");
    assert_int_equal(drive_open(p, &s), 0);
    workload(s);
    workload_check(s);
    s->ops->close(s);
    assert_int_equal(drive_open(p, &s), 0);
    workload_check(s);
    /* and it still takes writes after reopening */
    uint8_t id[CHUNK_ID_LEN], data[100];
    make_id(999, id);
    fill_random(data, sizeof data);
    assert_int_equal(shard_put(s, id, 3, data, sizeof data), 0);
    s->ops->close(s);
    assert_int_equal(drive_open(p, &s), 0);
    expect_shard(s, id, 3, data, sizeof data);
    s->ops->close(s);
}

static void test_rebuild_index(void **state)
{
    (void)state;
    char p[512], ip[600];
    struct shard_store *s = NULL;
    struct shard_store_stat before, after;
    /* small segments so the rebuild has to walk several */
    struct drive_opts o = {.segment_bytes = 16 << 10};
    drive_path(p, sizeof p, "rebuild");
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    workload(s);
    assert_int_equal(s->ops->stat(s, &before), 0);
    s->ops->close(s);
    assert_true(count_segments(p, NULL, 0) > 2);

    snprintf(ip, sizeof ip, "%s/index", p);
    rm_rf(ip);
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    workload_check(s); /* tombstones kept deleted shards deleted */
    assert_int_equal(s->ops->stat(s, &after), 0);
    assert_int_equal(after.bytes_dead, before.bytes_dead);
    s->ops->close(s);

    /* an index file that is not LMDB at all is rebuilt too */
    snprintf(ip, sizeof ip, "%s/index/data.mdb", p);
    FILE *f = fopen(ip, "wb");
    assert_non_null(f);
    fputs("this is not an lmdb file, not even close, but long enough to look", f);
    fclose(f);
    snprintf(ip, sizeof ip, "%s/index/lock.mdb", p);
    unlink(ip);
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    workload_check(s);
    s->ops->close(s);
}

/* The index commit of the last batch is lost (crash after the segment's
 * fdatasync, before LMDB made it durable): reopen finds the records past
 * the index's "applied" mark, shards and tombstones alike. */
static void test_lost_index_commit_recovered(void **state)
{
    (void)state;
    char p[512], db[600], saved[600];
    struct shard_store *s = NULL;
    uint8_t a[CHUNK_ID_LEN], b[CHUNK_ID_LEN], c[CHUNK_ID_LEN], da[700], db_[900], dc[300];
    drive_path(p, sizeof p, "lost");
    make_id(1, a);
    make_id(2, b);
    make_id(3, c);
    fill_random(da, sizeof da);
    fill_random(db_, sizeof db_);
    fill_random(dc, sizeof dc);

    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(shard_put(s, a, 0, da, sizeof da), 0);
    assert_int_equal(shard_put(s, c, 0, dc, sizeof dc), 0);
    s->ops->close(s);
    snprintf(db, sizeof db, "%s/index/data.mdb", p);
    snprintf(saved, sizeof saved, "%s/saved.mdb", tmpdir);
    copy_file(db, saved);

    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(shard_put(s, b, 1, db_, sizeof db_), 0);
    assert_int_equal(shard_del(s, a, 0), 0);
    s->ops->close(s);
    copy_file(saved, db); /* index as of before b and the delete */

    assert_int_equal(drive_open(p, &s), 0);
    expect_shard(s, b, 1, db_, sizeof db_);
    expect_absent(s, a, 0);
    expect_shard(s, c, 0, dc, sizeof dc);
    struct shard_store_stat st;
    assert_int_equal(s->ops->stat(s, &st), 0);
    assert_int_equal(st.shards, 2);
    assert_int_equal(st.bytes_live, sizeof db_ + sizeof dc);
    s->ops->close(s);
    unlink(saved);
}

/* A record torn by a crash (never acknowledged) at the end of the last
 * segment is cut off, and the drive carries on from there. */
static void test_torn_tail_truncated(void **state)
{
    (void)state;
    char p[512], db[600], saved[600], seg[600];
    struct shard_store *s = NULL;
    uint8_t a[CHUNK_ID_LEN], b[CHUNK_ID_LEN], c[CHUNK_ID_LEN], da[700], db_[5000], dc[300];
    drive_path(p, sizeof p, "torn");
    make_id(1, a);
    make_id(2, b);
    make_id(3, c);
    fill_random(da, sizeof da);
    fill_random(db_, sizeof db_);
    fill_random(dc, sizeof dc);

    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(shard_put(s, a, 0, da, sizeof da), 0);
    s->ops->close(s);
    assert_int_equal(count_segments(p, seg, sizeof seg), 1);
    off_t good = file_size(seg);
    snprintf(db, sizeof db, "%s/index/data.mdb", p);
    snprintf(saved, sizeof saved, "%s/saved.mdb", tmpdir);
    copy_file(db, saved);

    /* 1: payload cut short */
    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(shard_put(s, b, 0, db_, sizeof db_), 0);
    s->ops->close(s);
    copy_file(saved, db);
    assert_int_equal(truncate(seg, good + 64 + 2000), 0);
    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(file_size(seg), good);
    expect_shard(s, a, 0, da, sizeof da);
    expect_absent(s, b, 0);
    s->ops->close(s);

    /* 2: half a header of garbage */
    FILE *f = fopen(seg, "ab");
    assert_non_null(f);
    fwrite("SHRD\x01\x01garbage-garbage", 1, 21, f);
    fclose(f);
    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(file_size(seg), good);
    assert_int_equal(shard_put(s, c, 2, dc, sizeof dc), 0);
    s->ops->close(s);
    assert_int_equal(drive_open(p, &s), 0);
    expect_shard(s, a, 0, da, sizeof da);
    expect_shard(s, c, 2, dc, sizeof dc);
    s->ops->close(s);
    unlink(saved);
}

static void test_corrupt_payload(void **state)
{
    (void)state;
    char p[512], seg[600], ip[600];
    struct shard_store *s = NULL;
    uint8_t a[CHUNK_ID_LEN], b[CHUNK_ID_LEN], c[CHUNK_ID_LEN], da[4096], db_[4096], dc[4096];
    uint8_t buf[4096];
    uint32_t got;
    drive_path(p, sizeof p, "corrupt");
    make_id(1, a);
    make_id(2, b);
    make_id(3, c);
    fill_random(da, sizeof da);
    fill_random(db_, sizeof db_);
    fill_random(dc, sizeof dc);
    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(shard_put(s, a, 0, da, sizeof da), 0);
    assert_int_equal(shard_put(s, b, 0, db_, sizeof db_), 0);
    assert_int_equal(shard_put(s, c, 0, dc, sizeof dc), 0);
    count_segments(p, seg, sizeof seg);
    /* a payload byte of a, while the drive is open */
    assert_int_equal(flip_after(seg, da, 32, 1000), 0);
    assert_int_equal(shard_get(s, a, 0, buf, sizeof buf, &got), CS_ECORRUPT);
    /* a header byte of b (its chunk id, 56 bytes before the payload) */
    assert_int_equal(flip_after(seg, db_, 32, -40), 0);
    assert_int_equal(shard_get(s, b, 0, buf, sizeof buf, &got), CS_ECORRUPT);
    expect_shard(s, c, 0, dc, sizeof dc);
    s->ops->close(s);
    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(shard_get(s, a, 0, buf, sizeof buf, &got), CS_ECORRUPT);
    s->ops->close(s);
    /* A rebuild skips the damaged records (rot in the middle, not a torn
     * tail: c after them is kept). */
    snprintf(ip, sizeof ip, "%s/index", p);
    rm_rf(ip);
    off_t size = file_size(seg);
    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(file_size(seg), size);
    expect_absent(s, a, 0);
    expect_absent(s, b, 0);
    expect_shard(s, c, 0, dc, sizeof dc);
    /* repairing a shard = putting it again */
    assert_int_equal(shard_put(s, a, 0, da, sizeof da), 0);
    expect_shard(s, a, 0, da, sizeof da);
    s->ops->close(s);
}

static void test_emptied_folder_opens_empty(void **state)
{
    (void)state;
    char p[512];
    struct shard_store *s = NULL;
    struct shard_store_stat st;
    uint8_t a[CHUNK_ID_LEN], b[CHUNK_ID_LEN], da[500], db_[600];
    drive_path(p, sizeof p, "emptied");
    make_id(1, a);
    make_id(2, b);
    fill_random(da, sizeof da);
    fill_random(db_, sizeof db_);
    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(shard_put(s, a, 0, da, sizeof da), 0);
    s->ops->close(s);

    empty_dir(p); /* rm -rf of the contents, while stopped */
    assert_int_equal(drive_open(p, &s), 0);
    expect_absent(s, a, 0);
    assert_int_equal(s->ops->stat(s, &st), 0);
    assert_int_equal(st.shards, 0);
    assert_int_equal(shard_put(s, b, 0, db_, sizeof db_), 0);
    s->ops->close(s);

    rm_rf(p); /* the folder itself */
    assert_int_equal(drive_open(p, &s), 0);
    expect_absent(s, b, 0);
    assert_int_equal(shard_put(s, b, 0, db_, sizeof db_), 0);
    s->ops->close(s);

    /* segments gone, index left behind: the index is dropped */
    char seg[600];
    count_segments(p, seg, sizeof seg);
    unlink(seg);
    assert_int_equal(drive_open(p, &s), 0);
    expect_absent(s, b, 0);
    assert_int_equal(s->ops->stat(s, &st), 0);
    assert_int_equal(st.shards, 0);
    s->ops->close(s);
}

/* One segment of several disappears: its shards are forgotten, the rest
 * stays. */
static void test_missing_segment(void **state)
{
    (void)state;
    char p[512], seg[600];
    struct shard_store *s = NULL;
    struct shard_store_stat st;
    struct drive_opts o = {.segment_bytes = 8 << 10};
    static uint8_t data[12][3000];
    drive_path(p, sizeof p, "missing");
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    for (int i = 0; i < 12; i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(i, id);
        fill_random(data[i], sizeof data[i]);
        assert_int_equal(shard_put(s, id, 0, data[i], sizeof data[i]), 0);
    }
    s->ops->close(s);
    /* two records per 8 KiB segment: the first segment holds 0 and 1 */
    snprintf(seg, sizeof seg, "%s/seg-00000001.dat", p);
    assert_int_equal(unlink(seg), 0);
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    for (int i = 0; i < 12; i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(i, id);
        if (i < 2)
            expect_absent(s, id, 0);
        else
            expect_shard(s, id, 0, data[i], sizeof data[i]);
    }
    assert_int_equal(s->ops->stat(s, &st), 0);
    assert_int_equal(st.shards, 10);
    assert_int_equal(st.bytes_live, 10 * 3000);
    s->ops->close(s);
}

static void test_deleted_while_running(void **state)
{
    (void)state;
    char p[512];
    struct shard_store *s = NULL;
    uint8_t a[CHUNK_ID_LEN], b[CHUNK_ID_LEN], da[500], db_[600], buf[600];
    uint32_t got;
    drive_path(p, sizeof p, "live-rm");
    make_id(1, a);
    make_id(2, b);
    fill_random(da, sizeof da);
    fill_random(db_, sizeof db_);
    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(shard_put(s, a, 0, da, sizeof da), 0);
    expect_shard(s, a, 0, da, sizeof da); /* caches the segment fd */

    rm_rf(p);
    int rc = shard_get(s, a, 0, buf, sizeof buf, &got);
    assert_true(rc == CS_ENOTFOUND || rc == -EIO);
    /* the next write notices and re-opens the drive, empty */
    assert_int_equal(shard_put(s, b, 0, db_, sizeof db_), 0);
    expect_shard(s, b, 0, db_, sizeof db_);
    expect_absent(s, a, 0);
    s->ops->close(s);
    assert_int_equal(drive_open(p, &s), 0);
    expect_shard(s, b, 0, db_, sizeof db_);
    expect_absent(s, a, 0);
    s->ops->close(s);
}

static void test_enospc(void **state)
{
    (void)state;
    char p[512], seg[600];
    struct shard_store *s = NULL;
    uint8_t id[6][CHUNK_ID_LEN], data[1000];
    /* room for the segment header, three 1000-byte shards and 500 bytes */
    struct drive_opts o = {.capacity_bytes = 64 + 3 * (64 + 1000) + 500};
    drive_path(p, sizeof p, "full");
    fill_random(data, sizeof data);
    for (int i = 0; i < 6; i++)
        make_id(i, id[i]);
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(shard_put(s, id[i], 0, data, sizeof data), 0);
    count_segments(p, seg, sizeof seg);
    off_t before = file_size(seg);
    assert_int_equal(before, 64 + 3 * 1064);
    assert_int_equal(shard_put(s, id[3], 0, data, sizeof data), -ENOSPC);
    assert_int_equal(file_size(seg), before); /* the partial record is gone */
    expect_absent(s, id[3], 0);
    for (int i = 0; i < 3; i++)
        expect_shard(s, id[i], 0, data, sizeof data);
    struct shard_store_stat st;
    assert_int_equal(s->ops->stat(s, &st), 0);
    assert_int_equal(st.bytes_free, 500);
    /* a smaller one still fits (264 bytes), and a delete (a 76-byte
     * tombstone) too: 160 bytes left */
    assert_int_equal(shard_put(s, id[4], 0, data, 200), 0);
    assert_int_equal(shard_del(s, id[0], 0), 0);
    /* a batch where only some records fit: 85 bytes in, 75 left */
    struct shard_write w[2] = {
        {.chunk_id = id[5], .shard_idx = 1, .data = data, .len = 21},
        {.chunk_id = id[5], .shard_idx = 2, .data = data, .len = 1000},
    };
    assert_int_equal(shard_write_batch(s, w, 2), -ENOSPC);
    assert_int_equal(w[0].err, 0);
    assert_int_equal(w[1].err, -ENOSPC);
    /* now not even a tombstone fits: the delete fails, cleanly */
    assert_int_equal(shard_del(s, id[1], 0), -ENOSPC);
    expect_shard(s, id[1], 0, data, sizeof data);
    s->ops->close(s);

    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    expect_absent(s, id[0], 0);
    expect_shard(s, id[1], 0, data, sizeof data);
    expect_shard(s, id[2], 0, data, sizeof data);
    expect_absent(s, id[3], 0);
    expect_shard(s, id[4], 0, data, 200);
    expect_shard(s, id[5], 1, data, 21);
    expect_absent(s, id[5], 2);
    s->ops->close(s);
}

struct conc_arg {
    struct shard_store *s;
    int thread;
    int failures;
    const uint8_t *hot_id;
    const uint8_t *hot_data;
    volatile int *stop;
};

#define CONC_THREADS 8
#define CONC_PUTS 40
#define CONC_LEN 4096

static void conc_data(int t, int i, uint8_t *out)
{
    for (int b = 0; b < CONC_LEN; b++)
        out[b] = (uint8_t)(t * 131 + i * 7 + b * 13);
}

static void *conc_writer(void *p)
{
    struct conc_arg *a = p;
    uint8_t data[CONC_LEN];
    for (int i = 0; i < CONC_PUTS; i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(a->thread * 1000 + i, id);
        conc_data(a->thread, i, data);
        if (shard_put(a->s, id, (uint8_t)a->thread, data, CONC_LEN) != 0)
            a->failures++;
    }
    return NULL;
}

static void *conc_reader(void *p)
{
    struct conc_arg *a = p;
    uint8_t buf[CONC_LEN];
    while (!*a->stop) {
        uint32_t got = 0;
        if (shard_get(a->s, a->hot_id, 0, buf, sizeof buf, &got) != 0 || got != CONC_LEN ||
            memcmp(buf, a->hot_data, CONC_LEN) != 0)
            a->failures++;
    }
    return NULL;
}

static void test_concurrent_puts(void **state)
{
    (void)state;
    char p[512];
    struct shard_store *s = NULL;
    pthread_t th[CONC_THREADS + 2];
    struct conc_arg args[CONC_THREADS + 2];
    uint8_t hot[CHUNK_ID_LEN], hot_data[CONC_LEN];
    volatile int stop = 0;
    drive_path(p, sizeof p, "conc");
    assert_int_equal(drive_open(p, &s), 0);
    make_id(424242, hot);
    fill_random(hot_data, sizeof hot_data);
    assert_int_equal(shard_put(s, hot, 0, hot_data, sizeof hot_data), 0);
    for (int t = 0; t < CONC_THREADS + 2; t++) {
        args[t] = (struct conc_arg){.s = s, .thread = t, .hot_id = hot, .hot_data = hot_data, .stop = &stop};
        assert_int_equal(pthread_create(&th[t], NULL, t < CONC_THREADS ? conc_writer : conc_reader,
                                        &args[t]), 0);
    }
    for (int t = 0; t < CONC_THREADS; t++)
        pthread_join(th[t], NULL);
    stop = 1;
    for (int t = CONC_THREADS; t < CONC_THREADS + 2; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < CONC_THREADS + 2; t++)
        assert_int_equal(args[t].failures, 0);
    s->ops->close(s);
    assert_int_equal(drive_open(p, &s), 0);
    uint8_t data[CONC_LEN];
    for (int t = 0; t < CONC_THREADS; t++)
        for (int i = 0; i < CONC_PUTS; i++) {
            uint8_t id[CHUNK_ID_LEN];
            make_id(t * 1000 + i, id);
            conc_data(t, i, data);
            expect_shard(s, id, (uint8_t)t, data, CONC_LEN);
        }
    s->ops->close(s);
}

struct iter_ctx {
    int count;
    uint64_t bytes;
    int stop_after;
    struct shard_store *s;
};

static int iter_cb(void *arg, const uint8_t id[CHUNK_ID_LEN], uint8_t idx, uint32_t len,
                   int64_t written)
{
    struct iter_ctx *c = arg;
    (void)id;
    assert_int_equal(idx, 5);
    assert_true(written > 1600000000);
    c->count++;
    c->bytes += len;
    if (c->s) /* calling back into the drive from the callback is allowed */
        assert_int_equal(shard_del(c->s, id, idx), 0);
    return c->stop_after && c->count == c->stop_after ? 77 : 0;
}

static void test_iterate(void **state)
{
    (void)state;
    char p[512];
    struct shard_store *s = NULL;
    uint8_t data[200];
    uint64_t total = 0;
    drive_path(p, sizeof p, "iter");
    fill_random(data, sizeof data);
    assert_int_equal(drive_open(p, &s), 0);
    /* more than one page of the iterator; one batch */
    static struct shard_write w[600];
    static uint8_t ids[600][CHUNK_ID_LEN];
    for (int i = 0; i < 600; i++) {
        make_id(i, ids[i]);
        w[i] = (struct shard_write){.chunk_id = ids[i], .shard_idx = 5, .data = data,
                                    .len = (uint32_t)(i % 200)};
        total += (uint64_t)(i % 200);
    }
    assert_int_equal(shard_write_batch(s, w, 600), 0);
    struct iter_ctx c = {0};
    assert_int_equal(s->ops->iterate(s, iter_cb, &c), 0);
    assert_int_equal(c.count, 600);
    assert_int_equal(c.bytes, total);
    struct iter_ctx c2 = {.stop_after = 300};
    assert_int_equal(s->ops->iterate(s, iter_cb, &c2), 77);
    assert_int_equal(c2.count, 300);
    struct iter_ctx c3 = {.s = s};
    assert_int_equal(s->ops->iterate(s, iter_cb, &c3), 0);
    assert_int_equal(c3.count, 600);
    struct shard_store_stat st;
    assert_int_equal(s->ops->stat(s, &st), 0);
    assert_int_equal(st.shards, 0);
    s->ops->close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_reopen_keeps_data),
        cmocka_unit_test(test_rebuild_index),
        cmocka_unit_test(test_lost_index_commit_recovered),
        cmocka_unit_test(test_torn_tail_truncated),
        cmocka_unit_test(test_corrupt_payload),
        cmocka_unit_test(test_emptied_folder_opens_empty),
        cmocka_unit_test(test_missing_segment),
        cmocka_unit_test(test_deleted_while_running),
        cmocka_unit_test(test_enospc),
        cmocka_unit_test(test_concurrent_puts),
        cmocka_unit_test(test_iterate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
