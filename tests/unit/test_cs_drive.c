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
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
    while (!__atomic_load_n(a->stop, __ATOMIC_ACQUIRE)) {
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
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
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


/* ------------------------------------------------------------------ */
/* Index sync policy: the index lags the segments; crashes must not lose
 * an acknowledged write, and nothing wrong may ever be returned. */

static void crash_data(int i, uint8_t *out, uint32_t len)
{
    for (uint32_t b = 0; b < len; b++)
        out[b] = (uint8_t)(i * 37 + b * 11 + (b >> 8));
}

static uint32_t crash_len(int i)
{
    return 100 + (uint32_t)(i * 97 % 1900);
}

/* Op i of the crash workload: every 4th op deletes the shard op i-2 put,
 * the others put key i. */
static int crash_is_delete(int i)
{
    return i % 4 == 3;
}

/* Run ops [0, n) on s, publishing the count of acknowledged ops in *acked
 * after each one.  Returns 0, or the op that failed + 1. */
static int crash_run(struct shard_store *s, int n, volatile int *acked)
{
    uint8_t data[2048];
    for (int i = 0; i < n; i++) {
        uint8_t id[CHUNK_ID_LEN];
        int rc;
        if (crash_is_delete(i)) {
            make_id(i - 2, id);
            rc = shard_del(s, id, (uint8_t)((i - 2) % 6));
        } else {
            make_id(i, id);
            crash_data(i, data, crash_len(i));
            rc = shard_put(s, id, (uint8_t)(i % 6), data, crash_len(i));
        }
        if (rc != 0)
            return i + 1;
        __atomic_store_n(acked, i + 1, __ATOMIC_RELEASE);
    }
    return 0;
}

/* What must hold after recovery when exactly the ops before `acked` were
 * acknowledged (op `acked` may have been in flight, later ones never
 * started): acknowledged puts are there with their bytes unless an
 * acknowledged delete removed them; the in-flight op may or may not have
 * happened; nothing else is there; no read returns other bytes.  Returns
 * the number of shards that must be live. */
static int crash_check(struct shard_store *s, int acked, int upto)
{
    uint8_t data[2048], buf[2048];
    int live = 0;
    for (int i = 0; i < upto; i++) {
        uint8_t id[CHUNK_ID_LEN];
        uint32_t got = 0;
        if (crash_is_delete(i))
            continue;
        make_id(i, id);
        int rc = shard_get(s, id, (uint8_t)(i % 6), buf, sizeof buf, &got);
        int del = crash_is_delete(i + 2) ? i + 2 : -1;
        int must = i < acked && !(del >= 0 && del < acked) && !(del == acked);
        int may = i <= acked && !(del >= 0 && del < acked);
        crash_data(i, data, crash_len(i));
        if (rc == 0) {
            /* whatever is returned is exactly what was put */
            assert_true(may);
            assert_int_equal(got, crash_len(i));
            assert_memory_equal(buf, data, got);
            live++;
        } else {
            assert_int_equal(rc, CS_ENOTFOUND);
            assert_false(must);
        }
        /* never a shard under another index */
        assert_int_equal(shard_get(s, id, (uint8_t)(i % 6 + 1), buf, sizeof buf, &got), CS_ENOTFOUND);
    }
    return live;
}

/* Child process: open the drive and run the workload until killed (or, when
 * quit_at > 0, leave with _exit after quit_at ops: no close, so nothing
 * after the last automatic checkpoint reaches the index).  Never returns. */
static void crash_child(const char *p, const struct drive_opts *o, int n, volatile int *acked,
                        volatile int *failed)
{
    struct shard_store *s = NULL;
    if (drive_open_opts(p, o, &s) != 0) {
        *failed = -1;
        _exit(1);
    }
    *failed = crash_run(s, n, acked);
    _exit(0); /* a crash as far as the index is concerned */
}

/* kill -9 of a writer at arbitrary moments (with small segments and
 * frequent checkpoints, so the kill lands between checkpoints, across
 * rollovers, inside batches): reopen and check. */
static void test_crash_kill_writer(void **state)
{
    (void)state;
    struct drive_opts o = {.segment_bytes = 32 << 10, .checkpoint_records = 16};
    volatile int *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(shm != MAP_FAILED);
    /* kill once the writer has acknowledged this many ops (and a little
     * later, so the kill lands anywhere in a batch) */
    const int after_ops[] = {3, 17, 40, 75};
    for (unsigned r = 0; r < sizeof after_ops / sizeof after_ops[0]; r++) {
        char p[512], name[32];
        struct shard_store *s = NULL;
        snprintf(name, sizeof name, "kill%u", r);
        drive_path(p, sizeof p, name);
        shm[0] = 0;
        shm[1] = 0;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            crash_child(p, &o, 100000, &shm[0], &shm[1]);
        for (int waited = 0; waited < 10000 && __atomic_load_n(&shm[0], __ATOMIC_ACQUIRE) <
                                                    after_ops[r]; waited++)
            usleep(1000);
        usleep((useconds_t)(rnd() % 4000));
        kill(pid, SIGKILL);
        int wst;
        assert_int_equal(waitpid(pid, &wst, 0), pid);
        assert_int_equal(shm[1], 0); /* the writer saw no error */
        int acked = __atomic_load_n(&shm[0], __ATOMIC_ACQUIRE);
        assert_int_equal(drive_open_opts(p, &o, &s), 0);
        int live = crash_check(s, acked, acked + 8);
        struct shard_store_stat st;
        assert_int_equal(s->ops->stat(s, &st), 0);
        assert_int_equal(st.shards, (uint64_t)live);
        print_message("kill -9 after >= %d ops: %d ops acknowledged, %d shards live, %d segments\n",
                      after_ops[r], acked, live, count_segments(p, NULL, 0));
        assert_true(acked >= after_ops[r]);
        /* and the recovered drive goes on working */
        uint8_t id[CHUNK_ID_LEN], data[300];
        make_id(-1, id);
        fill_random(data, sizeof data);
        assert_int_equal(shard_put(s, id, 0, data, sizeof data), 0);
        s->ops->close(s);
        assert_int_equal(drive_open_opts(p, &o, &s), 0);
        expect_shard(s, id, 0, data, sizeof data);
        assert_int_equal(crash_check(s, acked, acked + 8), live);
        s->ops->close(s);
    }
    munmap((void *)shm, 4096);
}

/* The index is never synced after open (the writer exits before any
 * checkpoint and without closing): open replays everything from the
 * segments, across rollovers, with the same counts. */
static void test_crash_before_any_checkpoint(void **state)
{
    (void)state;
    char p[512];
    struct shard_store *s = NULL;
    struct drive_opts o = {.segment_bytes = 16 << 10, .checkpoint_records = 1u << 20,
                           .checkpoint_ms = 3600000};
    volatile int *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(shm != MAP_FAILED);
    drive_path(p, sizeof p, "nockpt");
    /* some history that did reach the index */
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    workload(s);
    s->ops->close(s);

    shm[0] = shm[1] = 0;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        crash_child(p, &o, 160, &shm[0], &shm[1]);
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_int_equal(shm[1], 0);
    assert_int_equal(shm[0], 160);
    assert_true(count_segments(p, NULL, 0) > 4); /* the replay crosses rollovers */

    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    struct shard_store_stat st;
    int live = crash_check(s, 160, 170);
    assert_int_equal(s->ops->stat(s, &st), 0);
    /* crash ids 0..159 and workload ids 0..29 overlap in names but not in
     * (id, index) pairs only where i % 6 differs; count instead by
     * re-checking the workload, which the crash ops partly replaced */
    assert_true(st.shards >= (uint64_t)live);
    uint64_t live_before = st.bytes_live, dead_before = st.bytes_dead;
    s->ops->close(s);
    /* a full rebuild from the segments agrees with the replay */
    char ip[600];
    snprintf(ip, sizeof ip, "%s/index", p);
    rm_rf(ip);
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    struct shard_store_stat st2;
    assert_int_equal(s->ops->stat(s, &st2), 0);
    assert_int_equal(st2.shards, st.shards);
    assert_int_equal(st2.bytes_live, live_before);
    assert_int_equal(st2.bytes_dead, dead_before);
    assert_int_equal(crash_check(s, 160, 170), live);
    s->ops->close(s);
    munmap((void *)shm, 4096);
}

static void copy_tree(const char *from, const char *to)
{
    DIR *d = opendir(from);
    struct dirent *de;
    assert_non_null(d);
    mkdir(to, 0755);
    while ((de = readdir(d)) != NULL) {
        char a[1024], b[1024];
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            !strcmp(de->d_name, "lock.mdb"))
            continue;
        snprintf(a, sizeof a, "%s/%s", from, de->d_name);
        snprintf(b, sizeof b, "%s/%s", to, de->d_name);
        if (stat(a, &st) != 0)
            continue; /* gone meanwhile */
        if (S_ISDIR(st.st_mode))
            copy_tree(a, b);
        else
            copy_file(a, b);
    }
    closedir(d);
}

#define SNAP_PRE 60
#define SNAPS 5

struct snap_writer {
    struct shard_store *s;
    volatile int puts_acked, dels_acked;
    volatile int stop;
    int failures;
};

static void *snap_put_thread(void *p)
{
    struct snap_writer *w = p;
    uint8_t data[2048];
    for (int i = 0; !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE); i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(5000 + i, id);
        crash_data(5000 + i, data, crash_len(i));
        if (shard_put(w->s, id, 1, data, crash_len(i)) != 0)
            __atomic_add_fetch(&w->failures, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&w->puts_acked, i + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void *snap_del_thread(void *p)
{
    struct snap_writer *w = p;
    for (int i = 0; i < SNAP_PRE && !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE); i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(i, id);
        if (shard_del(w->s, id, 2) != 0)
            __atomic_add_fetch(&w->failures, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&w->dels_acked, i + 1, __ATOMIC_RELEASE);
        usleep(2000);
    }
    return NULL;
}

/* Copies of the drive folder taken at arbitrary moments while writes run
 * (a copy is what a crash leaves, only less kind: files copied at
 * different instants, the index possibly mid-checkpoint) each open and
 * serve every write acknowledged before the copy began, and nothing
 * wrong. */
static void test_copy_while_writing(void **state)
{
    (void)state;
    char p[512];
    struct shard_store *s = NULL;
    struct drive_opts o = {.segment_bytes = 64 << 10, .checkpoint_records = 8};
    struct snap_writer w = {0};
    int put_acked[SNAPS], del_acked[SNAPS];
    uint8_t data[2048], buf[2048];
    pthread_t tp, td;

    drive_path(p, sizeof p, "snap");
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    for (int i = 0; i < SNAP_PRE; i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(i, id);
        crash_data(i, data, crash_len(i));
        assert_int_equal(shard_put(s, id, 2, data, crash_len(i)), 0);
    }
    w.s = s;
    assert_int_equal(pthread_create(&tp, NULL, snap_put_thread, &w), 0);
    assert_int_equal(pthread_create(&td, NULL, snap_del_thread, &w), 0);
    for (int k = 0; k < SNAPS; k++) {
        char snap[600];
        struct timespec ts = {0, (long)(7 + 11 * k) * 1000000L};
        nanosleep(&ts, NULL);
        put_acked[k] = __atomic_load_n(&w.puts_acked, __ATOMIC_ACQUIRE);
        del_acked[k] = __atomic_load_n(&w.dels_acked, __ATOMIC_ACQUIRE);
        snprintf(snap, sizeof snap, "%s/snapcopy%d", tmpdir, k);
        copy_tree(p, snap);
    }
    __atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
    pthread_join(tp, NULL);
    pthread_join(td, NULL);
    assert_int_equal(w.failures, 0);
    s->ops->close(s);

    for (int k = 0; k < SNAPS; k++) {
        char snap[600];
        struct shard_store *c = NULL;
        int present = 0;
        snprintf(snap, sizeof snap, "%s/snapcopy%d", tmpdir, k);
        assert_int_equal(drive_open_opts(snap, &o, &c), 0);
        for (int i = 0; i < put_acked[k] + 64; i++) {
            uint8_t id[CHUNK_ID_LEN];
            uint32_t got = 0;
            make_id(5000 + i, id);
            int rc = shard_get(c, id, 1, buf, sizeof buf, &got);
            if (i < put_acked[k])
                assert_int_equal(rc, 0);
            if (rc == 0) {
                crash_data(5000 + i, data, crash_len(i));
                assert_int_equal(got, crash_len(i));
                assert_memory_equal(buf, data, got);
                present++;
            } else {
                assert_int_equal(rc, CS_ENOTFOUND);
            }
        }
        for (int i = 0; i < SNAP_PRE; i++) {
            uint8_t id[CHUNK_ID_LEN];
            uint32_t got = 0;
            make_id(i, id);
            int rc = shard_get(c, id, 2, buf, sizeof buf, &got);
            if (i < del_acked[k])
                assert_int_equal(rc, CS_ENOTFOUND);
            if (rc == 0) {
                crash_data(i, data, crash_len(i));
                assert_int_equal(got, crash_len(i));
                assert_memory_equal(buf, data, got);
            } else {
                assert_int_equal(rc, CS_ENOTFOUND);
            }
        }
        print_message("copy %d: %d puts / %d deletes acknowledged before it, %d puts found\n", k,
                      put_acked[k], del_acked[k], present);
        c->ops->close(c);
        rm_rf(snap);
    }
}

/* Overwrite bytes of the LMDB file: every occurrence of some keys gets a
 * byte of its value flipped (the entry then points elsewhere), or whole
 * pages are zeroed or filled with garbage.  The index checksum (or LMDB
 * itself) notices, the index is rebuilt from the segments, and every
 * shard is served as before. */
static void corrupt_db(const char *db, int mode)
{
    FILE *f = fopen(db, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    int hits = 0;
    for (int i = 5; i < WL_N; i += 7) {
        uint8_t key[CHUNK_ID_LEN + 1];
        make_id(i, key);
        key[CHUNK_ID_LEN] = (uint8_t)(i % 6);
        for (uint8_t *at = buf; (at = memmem(at, (size_t)(buf + size - at), key, sizeof key)) != NULL;
             at++) {
            long off = (long)(at - buf);
            hits++;
            if (mode == 0 && off + (long)sizeof key + 10 < size) {
                at[sizeof key + 9] ^= 0x01; /* the offset field of the value */
            } else if (mode == 1) {
                long page = off / 4096 * 4096;
                memset(buf + page, 0, 4096 < size - page ? 4096 : (size_t)(size - page));
            } else if (mode == 2) {
                long page = off / 4096 * 4096;
                for (long b = page + 16; b < page + 4096 && b < size; b++)
                    buf[b] = (uint8_t)(b * 131 + 7);
            }
        }
    }
    assert_true(hits > 0);
    fseek(f, 0, SEEK_SET);
    assert_int_equal(fwrite(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    free(buf);
}

static void test_corrupt_index_rebuilt(void **state)
{
    (void)state;
    char p[512], db[600];
    struct shard_store *s = NULL;
    struct drive_opts o = {.segment_bytes = 16 << 10};
    drive_path(p, sizeof p, "badindex");
    snprintf(db, sizeof db, "%s/index/data.mdb", p);
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    workload(s);
    s->ops->close(s);
    for (int mode = 0; mode < 3; mode++) {
        corrupt_db(db, mode);
        assert_int_equal(drive_open_opts(p, &o, &s), 0);
        workload_check(s);
        s->ops->close(s);
        assert_int_equal(drive_open_opts(p, &o, &s), 0); /* and the rebuilt one is fine */
        workload_check(s);
        s->ops->close(s);
    }
}

/* An index that does not belong to these segments (here: another drive's,
 * whose segment 1 is shorter) fails the position check and is rebuilt. */
static void test_foreign_index_rebuilt(void **state)
{
    (void)state;
    char p[512], q[512], from[600], to[600];
    struct shard_store *s = NULL;
    uint8_t id[CHUNK_ID_LEN], data[500];
    drive_path(p, sizeof p, "foreign-a");
    drive_path(q, sizeof q, "foreign-b");
    assert_int_equal(drive_open(p, &s), 0);
    workload(s);
    s->ops->close(s);
    assert_int_equal(drive_open(q, &s), 0);
    make_id(77, id);
    fill_random(data, sizeof data);
    assert_int_equal(shard_put(s, id, 0, data, sizeof data), 0);
    s->ops->close(s);
    snprintf(from, sizeof from, "%s/index/data.mdb", q);
    snprintf(to, sizeof to, "%s/index/data.mdb", p);
    copy_file(from, to);
    assert_int_equal(drive_open(p, &s), 0);
    workload_check(s);
    expect_absent(s, id, 0);
    s->ops->close(s);
}

/* Whatever an index entry says, a read returns only the shard asked for:
 * a valid record of another key (or another shard index of the same
 * chunk) sitting where the entry points is CS_ECORRUPT, never its bytes. */
static void test_stale_entry_never_wrong_bytes(void **state)
{
    (void)state;
    char p[512], seg[600];
    struct shard_store *s = NULL;
    uint8_t a[CHUNK_ID_LEN], b[CHUNK_ID_LEN], da[1000], db_[1000], dc[1000], buf[1000];
    uint32_t got;
    drive_path(p, sizeof p, "stale");
    make_id(1, a);
    make_id(2, b);
    fill_random(da, sizeof da);
    fill_random(db_, sizeof db_);
    fill_random(dc, sizeof dc);
    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(shard_put(s, a, 0, da, sizeof da), 0);  /* at 64 */
    assert_int_equal(shard_put(s, b, 0, db_, sizeof db_), 0); /* at 64 + 1064 */
    assert_int_equal(shard_put(s, a, 1, dc, sizeof dc), 0);  /* at 64 + 2 * 1064 */
    count_segments(p, seg, sizeof seg);
    int fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    uint8_t rec[1064];
    /* b's record where a/0's entry points */
    assert_int_equal(pread(fd, rec, sizeof rec, 64 + 1064), (ssize_t)sizeof rec);
    assert_int_equal(pwrite(fd, rec, sizeof rec, 64), (ssize_t)sizeof rec);
    assert_int_equal(shard_get(s, a, 0, buf, sizeof buf, &got), CS_ECORRUPT);
    expect_shard(s, b, 0, db_, sizeof db_);
    /* a/1's record where b's entry points: same chunk, wrong index */
    assert_int_equal(pread(fd, rec, sizeof rec, 64 + 2 * 1064), (ssize_t)sizeof rec);
    assert_int_equal(pwrite(fd, rec, sizeof rec, 64 + 1064), (ssize_t)sizeof rec);
    assert_int_equal(shard_get(s, b, 0, buf, sizeof buf, &got), CS_ECORRUPT);
    expect_shard(s, a, 1, dc, sizeof dc);
    /* two shards with the same bytes (as all-padding data shards of
     * different chunks are): the payload CRC cannot tell them apart, the
     * header's chunk id and index must */
    uint8_t c[CHUNK_ID_LEN];
    make_id(3, c);
    assert_int_equal(shard_put(s, c, 0, da, sizeof da), 0); /* at 64 + 3 * 1064 */
    assert_int_equal(shard_put(s, c, 4, da, sizeof da), 0); /* at 64 + 4 * 1064 */
    assert_int_equal(shard_put(s, b, 4, da, sizeof da), 0); /* at 64 + 5 * 1064 */
    assert_int_equal(pread(fd, rec, sizeof rec, 64 + 4 * 1064), (ssize_t)sizeof rec);
    assert_int_equal(pwrite(fd, rec, sizeof rec, 64 + 3 * 1064), (ssize_t)sizeof rec);
    assert_int_equal(shard_get(s, c, 0, buf, sizeof buf, &got), CS_ECORRUPT); /* index 4 there */
    assert_int_equal(pread(fd, rec, sizeof rec, 64 + 5 * 1064), (ssize_t)sizeof rec);
    assert_int_equal(pwrite(fd, rec, sizeof rec, 64 + 4 * 1064), (ssize_t)sizeof rec);
    assert_int_equal(shard_get(s, c, 4, buf, sizeof buf, &got), CS_ECORRUPT); /* chunk b there */
    expect_shard(s, b, 4, da, sizeof da);
    close(fd);
    /* an entry pointing past the end of its segment */
    assert_int_equal(truncate(seg, 64 + 5 * 1064 + 500), 0);
    assert_int_equal(shard_get(s, b, 4, buf, sizeof buf, &got), CS_ECORRUPT);
    s->ops->close(s);
}

/* Zeros after the last record (a file system that kept a size but not
 * the data, or a segment grown ahead of its records) are the end of the
 * records: cut off, nothing lost, the next record goes right after the
 * last one. */
static void test_zero_tail(void **state)
{
    (void)state;
    char p[512], seg[600];
    struct shard_store *s = NULL;
    uint8_t id[CHUNK_ID_LEN], data[3000];
    drive_path(p, sizeof p, "zerotail");
    fill_random(data, sizeof data);
    assert_int_equal(drive_open(p, &s), 0);
    for (int i = 0; i < 10; i++) {
        make_id(i, id);
        assert_int_equal(shard_put(s, id, 0, data, sizeof data), 0);
    }
    count_segments(p, seg, sizeof seg);
    off_t end = 64 + 10 * (64 + 3000);
    s->ops->close(s);
    assert_int_equal(file_size(seg), end);

    assert_int_equal(truncate(seg, end + (1 << 20)), 0);
    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(file_size(seg), end);
    for (int i = 0; i < 10; i++) {
        make_id(i, id);
        expect_shard(s, id, 0, data, sizeof data);
    }
    make_id(10, id);
    assert_int_equal(shard_put(s, id, 0, data, 100), 0);
    s->ops->close(s);
    assert_int_equal(file_size(seg), end + 64 + 100);
    assert_int_equal(drive_open(p, &s), 0);
    expect_shard(s, id, 0, data, 100);
    s->ops->close(s);
}

static int count_cb(void *arg, const uint8_t id[CHUNK_ID_LEN], uint8_t idx, uint32_t len,
                    int64_t written)
{
    (void)id;
    (void)idx;
    (void)len;
    (void)written;
    (*(int *)arg)++;
    return 0;
}

/* Checkpoints happen by record count, at close, and on iterate; a batch
 * costs exactly one sync. */
static void test_checkpoint_policy(void **state)
{
    (void)state;
    char p[512];
    struct shard_store *s = NULL;
    struct shard_store_stat a, b;
    struct drive_opts o = {.checkpoint_records = 10, .checkpoint_ms = 3600000};
    uint8_t id[CHUNK_ID_LEN], data[200];
    drive_path(p, sizeof p, "ckpt");
    fill_random(data, sizeof data);
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    assert_int_equal(s->ops->stat(s, &a), 0);
    for (int i = 0; i < 25; i++) {
        make_id(i, id);
        assert_int_equal(shard_put(s, id, 0, data, sizeof data), 0);
    }
    assert_int_equal(s->ops->stat(s, &b), 0);
    assert_int_equal(b.writes - a.writes, 25);
    assert_int_equal(b.write_batches - a.write_batches, 25); /* one writer: no grouping */
    assert_int_equal(b.index_checkpoints - a.index_checkpoints, 2); /* at 10 and 20 */
    assert_int_equal(b.syncs - a.syncs, 25 + 2);
    /* iterate sees the 5 records not yet checkpointed (it checkpoints) */
    int n = 0;
    assert_int_equal(s->ops->iterate(s, count_cb, &n), 0);
    assert_int_equal(n, 25);
    assert_int_equal(s->ops->stat(s, &a), 0);
    assert_int_equal(a.index_checkpoints - b.index_checkpoints, 1);
    /* a delete of an absent shard writes nothing and syncs nothing */
    make_id(999, id);
    assert_int_equal(shard_del(s, id, 0), 0);
    assert_int_equal(s->ops->stat(s, &b), 0);
    assert_int_equal(b.syncs, a.syncs);
    assert_int_equal(b.writes, a.writes);
    s->ops->close(s);
}

/* Group commit under concurrency: 8 writers, counted. */
static void test_group_commit_counts(void **state)
{
    (void)state;
    char p[512];
    struct shard_store *s = NULL;
    struct shard_store_stat a, b;
    pthread_t th[CONC_THREADS];
    struct conc_arg args[CONC_THREADS];
    drive_path(p, sizeof p, "group");
    assert_int_equal(drive_open(p, &s), 0);
    assert_int_equal(s->ops->stat(s, &a), 0);
    for (int t = 0; t < CONC_THREADS; t++) {
        args[t] = (struct conc_arg){.s = s, .thread = t};
        assert_int_equal(pthread_create(&th[t], NULL, conc_writer, &args[t]), 0);
    }
    for (int t = 0; t < CONC_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].failures, 0);
    }
    assert_int_equal(s->ops->stat(s, &b), 0);
    uint64_t writes = b.writes - a.writes, batches = b.write_batches - a.write_batches;
    uint64_t syncs = b.syncs - a.syncs, ckpts = b.index_checkpoints - a.index_checkpoints;
    print_message("%d writers x %d puts: %llu records in %llu batches (%.1f per batch), "
                  "%llu syncs (%llu index checkpoints)\n",
                  CONC_THREADS, CONC_PUTS, (unsigned long long)writes,
                  (unsigned long long)batches, (double)writes / (double)batches,
                  (unsigned long long)syncs, (unsigned long long)ckpts);
    assert_int_equal(writes, CONC_THREADS * CONC_PUTS);
    assert_true(batches < writes); /* concurrent writers shared fdatasyncs */
    assert_int_equal(syncs, batches + ckpts); /* one sync per batch, nothing else */
    s->ops->close(s);
}

/* ------------------------------------------------------------------ */
/* Compaction */

#define CP_N 96
#define CP_LEN (32u << 10)
static uint8_t cp_data[CP_N][CP_LEN];
static int cp_live[CP_N];

static uint64_t segment_bytes_on_disk(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    uint64_t sum = 0;
    char f[1024];
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "seg-", 4) != 0)
            continue;
        snprintf(f, sizeof f, "%s/%s", dir, de->d_name);
        sum += (uint64_t)file_size(f);
    }
    closedir(d);
    return sum;
}

/* 96 shards of 32 KiB over 1 MiB segments; two of three deleted, every
 * ninth rewritten with new bytes. */
static void cp_workload(struct shard_store *s)
{
    for (int i = 0; i < CP_N; i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(i, id);
        fill_random(cp_data[i], CP_LEN);
        assert_int_equal(shard_put(s, id, 0, cp_data[i], CP_LEN), 0);
        cp_live[i] = 1;
    }
    for (int i = 0; i < CP_N; i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(i, id);
        if (i % 3 != 0) {
            assert_int_equal(shard_del(s, id, 0), 0);
            cp_live[i] = 0;
        } else if (i % 9 == 0) {
            fill_random(cp_data[i], CP_LEN);
            assert_int_equal(shard_put(s, id, 0, cp_data[i], CP_LEN), 0);
        }
    }
}

static void cp_check(struct shard_store *s, int deleted_must_be_absent)
{
    struct shard_store_stat st;
    int live = 0;
    for (int i = 0; i < CP_N; i++) {
        uint8_t id[CHUNK_ID_LEN];
        make_id(i, id);
        if (cp_live[i]) {
            expect_shard(s, id, 0, cp_data[i], CP_LEN);
            live++;
        } else if (deleted_must_be_absent) {
            expect_absent(s, id, 0);
        }
    }
    if (deleted_must_be_absent) {
        assert_int_equal(s->ops->stat(s, &st), 0);
        assert_int_equal(st.shards, live);
        assert_int_equal(st.bytes_live, (uint64_t)live * CP_LEN);
    }
}

static void test_compact(void **state)
{
    (void)state;
    char p[512], db[600];
    struct shard_store *s = NULL;
    struct shard_store_stat before, after;
    struct drive_opts o = {.segment_bytes = 1 << 20};
    uint64_t freed = 0;
    drive_path(p, sizeof p, "compact");
    snprintf(db, sizeof db, "%s/index/data.mdb", p);
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    cp_workload(s);
    uint64_t disk0 = segment_bytes_on_disk(p);
    int segs0 = count_segments(p, NULL, 0);
    assert_true(segs0 >= 4);
    assert_int_equal(s->ops->stat(s, &before), 0);

    assert_int_equal(shard_compact(s, &freed), 0);
    uint64_t disk1 = segment_bytes_on_disk(p);
    /* two thirds were dead: most of that comes back */
    assert_true(freed > disk0 / 2);
    assert_true(disk1 < disk0 / 2);
    assert_true(disk1 + freed >= disk0); /* live shards were copied, not lost */
    assert_true(count_segments(p, NULL, 0) < segs0);
    assert_int_equal(s->ops->stat(s, &after), 0);
    assert_true(after.bytes_dead < before.bytes_dead / 4);
    cp_check(s, 1);

    /* nothing left worth compacting */
    assert_int_equal(shard_compact(s, &freed), 0);
    assert_int_equal(freed, 0);

    /* writes after compaction land and survive a re-open (replay) */
    uint8_t id[CHUNK_ID_LEN];
    make_id(1, id);
    fill_random(cp_data[1], CP_LEN);
    assert_int_equal(shard_put(s, id, 0, cp_data[1], CP_LEN), 0);
    cp_live[1] = 1;
    s->ops->close(s);
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    cp_check(s, 1);
    s->ops->close(s);

    /* A full rebuild from the segments finds every live shard at its new
     * place (deleted ones may come back as orphans: see drive_segment.c). */
    assert_int_equal(unlink(db), 0);
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    cp_check(s, 0);
    s->ops->close(s);
}

struct cp_reader {
    struct shard_store *s;
    volatile int *stop;
    int reads, failures;
};

static void *cp_read_loop(void *arg)
{
    struct cp_reader *r = arg;
    uint8_t *buf = malloc(CP_LEN);
    for (int i = 0; !*r->stop; i = (i + 3) % CP_N) {
        uint8_t id[CHUNK_ID_LEN];
        uint32_t got = 0;
        if (!cp_live[i])
            continue;
        make_id(i, id);
        int rc = shard_get(r->s, id, 0, buf, CP_LEN, &got);
        r->reads++;
        if (rc != 0 || got != CP_LEN || memcmp(buf, cp_data[i], CP_LEN) != 0)
            r->failures++;
    }
    free(buf);
    return NULL;
}

/* Reads never miss a shard that compaction moves under them, and writes
 * made during compaction stay. */
static void test_compact_while_reading(void **state)
{
    (void)state;
    char p[512];
    struct shard_store *s = NULL;
    struct drive_opts o = {.segment_bytes = 1 << 20};
    uint64_t freed = 0;
    volatile int stop = 0;
    pthread_t t[2];
    struct cp_reader r[2];
    drive_path(p, sizeof p, "compactread");
    assert_int_equal(drive_open_opts(p, &o, &s), 0);
    cp_workload(s);
    for (int i = 0; i < 2; i++) {
        r[i] = (struct cp_reader){.s = s, .stop = &stop};
        assert_int_equal(pthread_create(&t[i], NULL, cp_read_loop, &r[i]), 0);
    }
    for (int round = 0; round < 3; round++) {
        /* new garbage each round: rewrite then delete some others */
        for (int i = 1; i < CP_N; i += 3) {
            uint8_t id[CHUNK_ID_LEN];
            uint8_t tmp[CP_LEN];
            make_id(i, id);
            fill_random(tmp, CP_LEN);
            assert_int_equal(shard_put(s, id, 0, tmp, CP_LEN), 0);
            assert_int_equal(shard_del(s, id, 0), 0);
        }
        assert_int_equal(shard_compact(s, &freed), 0);
        assert_true(freed > 0);
    }
    stop = 1;
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_true(r[i].reads > 0);
        assert_int_equal(r[i].failures, 0);
    }
    cp_check(s, 1);
    s->ops->close(s);
}

/* Child: the compaction workload (all acknowledged), then compaction over
 * and over with fresh garbage (keys 1000+, put then deleted) until
 * killed.  *ready is set once the known state is in place. */
static void compact_child(const char *p, const struct drive_opts *o, volatile int *ready,
                          volatile int *failed)
{
    struct shard_store *s = NULL;
    static uint8_t junk[CP_LEN];
    if (drive_open_opts(p, o, &s) != 0) {
        *failed = -1;
        _exit(1);
    }
    cp_workload(s);
    *ready = 1;
    for (int round = 0;; round++) {
        for (int i = 0; i < 24; i++) {
            uint8_t id[CHUNK_ID_LEN];
            make_id(1000 + round * 24 + i, id);
            if (shard_put(s, id, 0, junk, CP_LEN) != 0 || shard_del(s, id, 0) != 0)
                *failed = 1;
        }
        uint64_t freed;
        if (shard_compact(s, &freed) != 0)
            *failed = 2;
    }
}

/* kill -9 in the middle of compactions: every live shard survives with its
 * bytes, nothing deleted comes back, and the drive compacts on. */
static void test_crash_during_compaction(void **state)
{
    (void)state;
    struct drive_opts o = {.segment_bytes = 1 << 20, .checkpoint_records = 64};
    volatile int *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(shm != MAP_FAILED);
    const int delay_ms[] = {5, 40, 120, 300};
    for (unsigned r = 0; r < sizeof delay_ms / sizeof delay_ms[0]; r++) {
        char p[512], name[32];
        struct shard_store *s = NULL;
        uint64_t freed;
        snprintf(name, sizeof name, "compactkill%u", r);
        drive_path(p, sizeof p, name);
        rng_state = 0x1234 + r; /* the child's data, reproduced below */
        shm[0] = 0;
        shm[1] = 0;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            compact_child(p, &o, &shm[0], &shm[1]);
        for (int waited = 0; waited < 20000 && !__atomic_load_n(&shm[0], __ATOMIC_ACQUIRE);
             waited++)
            usleep(1000);
        assert_int_equal(shm[0], 1);
        usleep((useconds_t)delay_ms[r] * 1000 + (useconds_t)(rnd() % 5000));
        kill(pid, SIGKILL);
        int wst;
        assert_int_equal(waitpid(pid, &wst, 0), pid);
        assert_int_equal(shm[1], 0); /* no put, delete or compaction failed */
        /* the same data as the child's workload */
        rng_state = 0x1234 + r;
        struct shard_store *scratch = mem_store_new("scratch");
        cp_workload(scratch);
        scratch->ops->close(scratch);
        assert_int_equal(drive_open_opts(p, &o, &s), 0);
        for (int i = 0; i < CP_N; i++) {
            uint8_t id[CHUNK_ID_LEN];
            make_id(i, id);
            if (cp_live[i])
                expect_shard(s, id, 0, cp_data[i], CP_LEN);
            else
                expect_absent(s, id, 0);
        }
        print_message("kill -9 %d ms into compaction: %d segments\n", delay_ms[r],
                      count_segments(p, NULL, 0));
        assert_int_equal(shard_compact(s, &freed), 0);
        s->ops->close(s);
    }
    munmap((void *)shm, 4096);
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
        cmocka_unit_test(test_crash_kill_writer),
        cmocka_unit_test(test_crash_before_any_checkpoint),
        cmocka_unit_test(test_copy_while_writing),
        cmocka_unit_test(test_corrupt_index_rebuilt),
        cmocka_unit_test(test_foreign_index_rebuilt),
        cmocka_unit_test(test_stale_entry_never_wrong_bytes),
        cmocka_unit_test(test_zero_tail),
        cmocka_unit_test(test_checkpoint_policy),
        cmocka_unit_test(test_group_commit_counts),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_compact_while_reading),
        cmocka_unit_test(test_crash_during_compaction),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
