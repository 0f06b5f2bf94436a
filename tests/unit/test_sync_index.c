/* Unit tests for sync-client/sync_index: round trips, long paths and their
 * order, many entries, atomic multi-updates, the cursor, reopening,
 * corrupt records, a full map, and kill -9 in the middle of commits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sync-client/sync_index.h"

/* ---- helpers ---- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void folder_make(char dir[64])
{
    snprintf(dir, 64, "/tmp/cairn-sync-ix-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void folder_remove(const char *dir)
{
    nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static struct sync_index *ix_open(const char *dir)
{
    struct sync_index *ix = NULL;
    assert_int_equal(sync_index_open(dir, NULL, &ix), 0);
    assert_non_null(ix);
    return ix;
}

/* An entry for path whose fields (and n chunks) derive from seed. */
static void entry_make(struct sync_entry *e, const char *path, uint32_t seed, uint32_t n)
{
    sync_entry_init(e);
    assert_int_equal(sync_entry_set_path(e, path, strlen(path)), 0);
    e->st.kind = (uint8_t)(SYNC_KIND_FILE + seed % 3);
    e->st.mode = 0644 + seed % 8;
    e->st.size = 1000ull * seed + 7;
    e->st.mtime_ns = -5 + (int64_t)seed * 1000000007LL;
    e->st.inode = 0xfedcba9876543210ull ^ seed;
    e->indexed_ns = (int64_t)seed * 3;
    snprintf(e->etag, sizeof e->etag, "\"%08x-%u\"", seed, n);
    snprintf(e->version_id, sizeof e->version_id, seed % 2 ? "null" : "v%u", seed);
    e->nchunks = n;
    e->chunks = n ? calloc(n, sizeof *e->chunks) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        for (int b = 0; b < SYNC_CHUNK_ID_LEN; b++)
            e->chunks[i].id[b] = (uint8_t)(seed * 31 + i * 7 + (uint32_t)b);
        e->chunks[i].len = 262144 + seed + i;
    }
}

static void entry_assert_equal(const struct sync_entry *a, const struct sync_entry *b)
{
    assert_int_equal(a->path_len, b->path_len);
    assert_string_equal(a->path, b->path);
    assert_int_equal(a->st.kind, b->st.kind);
    assert_int_equal(a->st.mode, b->st.mode);
    assert_int_equal(a->st.size, b->st.size);
    assert_int_equal(a->st.mtime_ns, b->st.mtime_ns);
    assert_int_equal(a->st.inode, b->st.inode);
    assert_int_equal(a->indexed_ns, b->indexed_ns);
    assert_string_equal(a->etag, b->etag);
    assert_string_equal(a->version_id, b->version_id);
    assert_int_equal(a->nchunks, b->nchunks);
    if (a->nchunks)
        assert_memory_equal(a->chunks, b->chunks, a->nchunks * sizeof *a->chunks);
}

static void put_simple(struct sync_index *ix, struct sync_index_txn *t, const char *path,
                       uint32_t seed)
{
    struct sync_entry e;
    entry_make(&e, path, seed, seed % 4);
    assert_int_equal(sync_index_put(ix, t, &e), 0);
    sync_entry_release(&e);
}

static int present(struct sync_index *ix, struct sync_index_txn *t, const char *path)
{
    struct sync_entry e;
    int rc = sync_index_get(ix, t, path, strlen(path), &e);
    if (rc == 0)
        sync_entry_release(&e);
    assert_true(rc == 0 || rc == SYNC_ENOTFOUND);
    return rc == 0;
}

/* Iteration collector. */
struct collect {
    char **paths;
    size_t n, cap;
    int stop_at; /* return 42 at that entry (1-based), 0: never */
};

static int collect_cb(void *arg, const struct sync_entry *e)
{
    struct collect *c = arg;
    assert_int_equal(strlen(e->path), e->path_len);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->paths = realloc(c->paths, c->cap * sizeof *c->paths);
        assert_non_null(c->paths);
    }
    c->paths[c->n++] = strdup(e->path);
    if (c->stop_at && (int)c->n == c->stop_at)
        return 42;
    return 0;
}

static void collect_release(struct collect *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->paths[i]);
    free(c->paths);
    memset(c, 0, sizeof *c);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- tests ---- */

static void test_round_trip(void **state)
{
    (void)state;
    char dir[64];
    folder_make(dir);
    struct sync_index *ix = ix_open(dir);
    char sub[128];
    struct stat st;
    snprintf(sub, sizeof sub, "%s/.cairn-sync/index", dir);
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);

    struct sync_entry e, got;
    entry_make(&e, "docs/report.docx", 5, 3);
    assert_int_equal(sync_index_put(ix, NULL, &e), 0);
    assert_int_equal(sync_index_get(ix, NULL, "docs/report.docx", 16, &got), 0);
    entry_assert_equal(&e, &got);
    sync_entry_release(&got);
    /* replace: fewer chunks, other fields */
    sync_entry_release(&e);
    entry_make(&e, "docs/report.docx", 6, 0);
    e.etag[0] = 0;
    e.version_id[0] = 0;
    assert_int_equal(sync_index_put(ix, NULL, &e), 0);
    assert_int_equal(sync_index_get(ix, NULL, "docs/report.docx", 16, &got), 0);
    entry_assert_equal(&e, &got);
    assert_null(got.chunks);
    sync_entry_release(&got);
    /* the largest fields */
    sync_entry_release(&e);
    entry_make(&e, "big", 9, 1000);
    memset(e.etag, 'e', SYNC_ETAG_MAX);
    e.etag[SYNC_ETAG_MAX] = 0;
    memset(e.version_id, 'v', SYNC_VERSION_MAX);
    e.version_id[SYNC_VERSION_MAX] = 0;
    e.st.mtime_ns = INT64_MIN;
    e.indexed_ns = INT64_MAX;
    e.st.size = UINT64_MAX;
    assert_int_equal(sync_index_put(ix, NULL, &e), 0);
    assert_int_equal(sync_index_get(ix, NULL, "big", 3, &got), 0);
    entry_assert_equal(&e, &got);
    sync_entry_release(&got);
    sync_entry_release(&e);
    uint64_t n = 0;
    assert_int_equal(sync_index_count(ix, NULL, &n), 0);
    assert_int_equal(n, 2);
    /* delete */
    assert_int_equal(sync_index_delete(ix, NULL, "big", 3), 0);
    assert_int_equal(sync_index_delete(ix, NULL, "big", 3), SYNC_ENOTFOUND);
    memset(&got, 0x5a, sizeof got);
    assert_int_equal(sync_index_get(ix, NULL, "big", 3, &got), SYNC_ENOTFOUND);
    assert_int_equal(got.path_len, 0x5a5a5a5a5a5a5a5aull); /* untouched */
    assert_int_equal(sync_index_count(ix, NULL, &n), 0);
    assert_int_equal(n, 1);
    sync_index_close(ix);
    folder_remove(dir);
}

static void test_bad_args(void **state)
{
    (void)state;
    char dir[64];
    folder_make(dir);
    struct sync_index *ix = ix_open(dir);
    struct sync_entry e, got;
    entry_make(&e, "a", 1, 2);
    e.st.kind = SYNC_KIND_NONE;
    assert_int_equal(sync_index_put(ix, NULL, &e), SYNC_EINVAL);
    e.st.kind = 4;
    assert_int_equal(sync_index_put(ix, NULL, &e), SYNC_EINVAL);
    e.st.kind = SYNC_KIND_FILE;
    memset(e.etag, 'x', sizeof e.etag);
    assert_int_equal(sync_index_put(ix, NULL, &e), SYNC_ETOOLONG);
    e.etag[0] = 0;
    memset(e.version_id, 'x', sizeof e.version_id);
    assert_int_equal(sync_index_put(ix, NULL, &e), SYNC_ETOOLONG);
    e.version_id[0] = 0;
    e.nchunks = SYNC_CHUNKS_MAX + 1;
    assert_int_equal(sync_index_put(ix, NULL, &e), SYNC_ETOOLONG);
    e.nchunks = 2;
    struct sync_chunk_ref *keep = e.chunks;
    e.chunks = NULL;
    assert_int_equal(sync_index_put(ix, NULL, &e), SYNC_EINVAL);
    e.chunks = keep;
    e.path_len = 2; /* does not match the NUL */
    assert_int_equal(sync_index_put(ix, NULL, &e), SYNC_EINVAL);
    e.path_len = 1;
    strcpy(e.path, "/");
    assert_int_equal(sync_index_put(ix, NULL, &e), SYNC_EINVAL);
    assert_int_equal(sync_index_put(ix, NULL, NULL), SYNC_EINVAL);
    assert_int_equal(sync_index_put(NULL, NULL, &e), SYNC_EINVAL);
    assert_int_equal(sync_entry_set_path(&e, "a/../b", 6), SYNC_EINVAL);
    assert_string_equal(e.path, "/"); /* untouched */
    sync_entry_release(&e);
    assert_int_equal(sync_index_get(ix, NULL, "a//b", 4, &got), SYNC_EINVAL);
    assert_int_equal(sync_index_get(ix, NULL, "a", 1, NULL), SYNC_EINVAL);
    assert_int_equal(sync_index_delete(ix, NULL, "", 0), SYNC_EINVAL);
    assert_int_equal(sync_index_iterate(ix, NULL, NULL, 0, NULL, NULL), SYNC_EINVAL);
    assert_int_equal(sync_index_iterate(ix, NULL, NULL, 3, collect_cb, NULL), SYNC_EINVAL);
    assert_int_equal(sync_index_count(ix, NULL, NULL), SYNC_EINVAL);
    struct sync_index *other = NULL;
    assert_int_equal(sync_index_open("/nonexistent/folder", NULL, &other), -ENOENT);
    assert_int_equal(sync_index_open(NULL, NULL, &other), SYNC_EINVAL);
    char file[96];
    snprintf(file, sizeof file, "%s/plain", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(sync_index_open(file, NULL, &other), -ENOTDIR);
    assert_null(other);
    /* read transactions refuse writes; transactions belong to one index */
    struct sync_index_txn *t = NULL;
    assert_int_equal(sync_index_txn_begin(ix, 0, &t), 0);
    put_simple(ix, NULL, "x", 1);
    entry_make(&e, "y", 2, 1);
    assert_int_equal(sync_index_put(ix, t, &e), SYNC_ERDONLY);
    assert_int_equal(sync_index_delete(ix, t, "x", 1), SYNC_ERDONLY);
    assert_int_equal(sync_index_cursor_set(ix, t, "1", 1), SYNC_ERDONLY);
    assert_int_equal(present(ix, t, "x"), 0); /* snapshot from before the put */
    sync_index_txn_abort(t);
    char dir2[64];
    folder_make(dir2);
    other = ix_open(dir2);
    assert_int_equal(sync_index_txn_begin(other, 1, &t), 0);
    assert_int_equal(sync_index_put(ix, t, &e), SYNC_EINVAL);
    sync_index_txn_abort(t);
    sync_index_close(other);
    folder_remove(dir2);
    sync_entry_release(&e);
    sync_index_txn_abort(NULL);
    assert_int_equal(sync_index_txn_commit(NULL), SYNC_EINVAL);
    assert_int_equal(sync_index_txn_begin(NULL, 0, &t), SYNC_EINVAL);
    sync_index_close(NULL);
    sync_entry_release(NULL);
    sync_index_close(ix);
    folder_remove(dir);
}

/* Paths up to 1024 bytes, long ones sharing their first 479 bytes and
 * more, interleaved with short ones: get, delete, iterate order, prefix. */
static void test_long_paths(void **state)
{
    (void)state;
    char dir[64];
    folder_make(dir);
    struct sync_index *ix = ix_open(dir);
    enum { N = 40 };
    char *paths[N];
    size_t np = 0;
    char stem[SYNC_PATH_MAX + 1];
    /* a 600-byte folder path made of 200-byte components */
    size_t k = 0;
    for (int c = 0; c < 3; c++) {
        memset(stem + k, 'a' + c, 199);
        k += 199;
        stem[k++] = '/';
    }
    stem[k] = 0;
    for (int i = 0; i < N; i++) {
        char p[SYNC_PATH_MAX + 1];
        switch (i % 5) {
        case 0: /* long, sharing 600 bytes, short names (hash order differs) */
            snprintf(p, sizeof p, "%.600s%c%d", stem, 'z' - i % 7, i);
            break;
        case 1: /* the longest possible */
            memcpy(p, stem, k);
            memset(p + k, 'm', 255);
            p[k + 255] = '/';
            memset(p + k + 256, 'q', SYNC_PATH_MAX - k - 256);
            p[SYNC_PATH_MAX - 1] = (char)('0' + i % 10);
            p[SYNC_PATH_MAX] = 0;
            p[SYNC_PATH_MAX - 2] = (char)('A' + i / 5);
            break;
        case 2: /* exactly 479 and 480 bytes: both sides of the key limit */
            memcpy(p, stem, 478);
            p[478] = (char)('0' + i % 10);
            p[479] = (char)('0' + i / 10);
            p[i % 2 ? 480 : 479] = 0;
            break;
        case 3: /* short ones sorting among the long */
            snprintf(p, sizeof p, "%.*s%d", 100, stem, i);
            break;
        default: /* a short path that is a prefix of long ones */
            snprintf(p, sizeof p, "%.*s", (int)(k - 1), stem);
            if (i > 4)
                snprintf(p, sizeof p, "%.*s%d", 470, stem, i);
            break;
        }
        int dup = 0;
        for (size_t j = 0; j < np; j++)
            dup |= strcmp(paths[j], p) == 0;
        if (dup)
            continue;
        paths[np++] = strdup(p);
    }
    struct sync_index_txn *t = NULL;
    assert_int_equal(sync_index_txn_begin(ix, 1, &t), 0);
    for (size_t i = 0; i < np; i++) {
        struct sync_entry e;
        entry_make(&e, paths[i], (uint32_t)i, (uint32_t)i % 3);
        assert_int_equal(sync_index_put(ix, t, &e), 0);
        sync_entry_release(&e);
    }
    assert_int_equal(sync_index_txn_commit(t), 0);
    for (size_t i = 0; i < np; i++) {
        struct sync_entry e, got;
        entry_make(&e, paths[i], (uint32_t)i, (uint32_t)i % 3);
        assert_int_equal(sync_index_get(ix, NULL, paths[i], strlen(paths[i]), &got), 0);
        entry_assert_equal(&e, &got);
        sync_entry_release(&e);
        sync_entry_release(&got);
    }
    /* a long path that shares a key prefix with stored ones is absent */
    char absent[SYNC_PATH_MAX + 1];
    snprintf(absent, sizeof absent, "%.600sabsent", stem);
    assert_int_equal(present(ix, NULL, absent), 0);
    /* iteration is in byte order of the full paths */
    qsort(paths, np, sizeof *paths, cmp_str);
    struct collect c = {0};
    assert_int_equal(sync_index_iterate(ix, NULL, NULL, 0, collect_cb, &c), 0);
    assert_int_equal(c.n, np);
    for (size_t i = 0; i < np; i++)
        assert_string_equal(c.paths[i], paths[i]);
    collect_release(&c);
    /* a prefix longer than the key part: "stem + m" */
    char pre[SYNC_PATH_MAX + 1];
    snprintf(pre, sizeof pre, "%.600sm", stem);
    size_t want = 0;
    for (size_t i = 0; i < np; i++)
        want += strncmp(paths[i], pre, strlen(pre)) == 0;
    assert_true(want >= 8);
    assert_int_equal(sync_index_iterate(ix, NULL, pre, strlen(pre), collect_cb, &c), 0);
    assert_int_equal(c.n, want);
    for (size_t i = 1; i < c.n; i++)
        assert_true(strcmp(c.paths[i - 1], c.paths[i]) < 0);
    collect_release(&c);
    /* stopping inside a run of long paths */
    c.stop_at = 3;
    assert_int_equal(sync_index_iterate(ix, NULL, pre, strlen(pre), collect_cb, &c), 42);
    assert_int_equal(c.n, 3);
    collect_release(&c);
    /* deleting long paths */
    for (size_t i = 0; i < np; i += 2)
        assert_int_equal(sync_index_delete(ix, NULL, paths[i], strlen(paths[i])), 0);
    for (size_t i = 0; i < np; i++)
        assert_int_equal(present(ix, NULL, paths[i]), i % 2);
    for (size_t i = 0; i < np; i++)
        free(paths[i]);
    sync_index_close(ix);
    folder_remove(dir);
}

/* 20000 entries in one transaction, iterate, prefix walks, reopen. */
static void test_many(void **state)
{
    (void)state;
    char dir[64];
    folder_make(dir);
    struct sync_index *ix = ix_open(dir);
    enum { N = 20000 };
    struct sync_index_txn *t = NULL;
    assert_int_equal(sync_index_txn_begin(ix, 1, &t), 0);
    char p[64];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(p, sizeof p, "d%02u/f%05u.txt", i % 37, (i * 7919u) % N);
        put_simple(ix, t, p, i);
    }
    assert_int_equal(sync_index_txn_commit(t), 0);
    sync_index_close(ix);
    ix = ix_open(dir);
    uint64_t n = 0;
    assert_int_equal(sync_index_count(ix, NULL, &n), 0);
    assert_int_equal(n, N);
    struct collect c = {0};
    assert_int_equal(sync_index_iterate(ix, NULL, NULL, 0, collect_cb, &c), 0);
    assert_int_equal(c.n, N);
    for (size_t i = 1; i < c.n; i++)
        assert_true(strcmp(c.paths[i - 1], c.paths[i]) < 0);
    collect_release(&c);
    assert_int_equal(sync_index_iterate(ix, NULL, "d07/", 4, collect_cb, &c), 0);
    size_t want = 0;
    for (uint32_t i = 0; i < N; i++)
        want += i % 37 == 7;
    assert_int_equal(c.n, want);
    collect_release(&c);
    assert_int_equal(sync_index_iterate(ix, NULL, "zz", 2, collect_cb, &c), 0);
    assert_int_equal(c.n, 0);
    collect_release(&c);
    for (uint32_t i = 0; i < N; i += 997) {
        snprintf(p, sizeof p, "d%02u/f%05u.txt", i % 37, (i * 7919u) % N);
        struct sync_entry e, got;
        entry_make(&e, p, i, i % 4);
        assert_int_equal(sync_index_get(ix, NULL, p, strlen(p), &got), 0);
        entry_assert_equal(&e, &got);
        sync_entry_release(&e);
        sync_entry_release(&got);
    }
    sync_index_close(ix);
    folder_remove(dir);
}

/* A rename (delete + put) and the cursor in one transaction: all or
 * nothing, seen by readers only after the commit, kept across reopen. */
static void test_atomic(void **state)
{
    (void)state;
    char dir[64];
    folder_make(dir);
    struct sync_index *ix = ix_open(dir);
    put_simple(ix, NULL, "old.txt", 1);
    assert_int_equal(sync_index_cursor_set(ix, NULL, "10", 2), 0);
    /* aborted: nothing changes */
    struct sync_index_txn *t = NULL;
    assert_int_equal(sync_index_txn_begin(ix, 1, &t), 0);
    assert_int_equal(sync_index_delete(ix, t, "old.txt", 7), 0);
    put_simple(ix, t, "new.txt", 1);
    assert_int_equal(sync_index_cursor_set(ix, t, "11", 2), 0);
    assert_int_equal(present(ix, t, "new.txt"), 1); /* the txn sees its own writes */
    assert_int_equal(present(ix, t, "old.txt"), 0);
    sync_index_txn_abort(t);
    assert_int_equal(present(ix, NULL, "old.txt"), 1);
    assert_int_equal(present(ix, NULL, "new.txt"), 0);
    char cur[SYNC_INDEX_CURSOR_MAX + 1];
    size_t len = 0;
    assert_int_equal(sync_index_cursor_get(ix, NULL, cur, sizeof cur, &len), 0);
    assert_string_equal(cur, "10");
    /* committed: all of it; a reader that began before still sees the old state */
    struct sync_index_txn *r = NULL;
    assert_int_equal(sync_index_txn_begin(ix, 0, &r), 0);
    assert_int_equal(sync_index_txn_begin(ix, 1, &t), 0);
    assert_int_equal(sync_index_delete(ix, t, "old.txt", 7), 0);
    put_simple(ix, t, "new.txt", 1);
    assert_int_equal(sync_index_cursor_set(ix, t, "11", 2), 0);
    assert_int_equal(present(ix, r, "new.txt"), 0);
    assert_int_equal(sync_index_txn_commit(t), 0);
    assert_int_equal(present(ix, r, "old.txt"), 1);
    assert_int_equal(sync_index_cursor_get(ix, r, cur, sizeof cur, &len), 0);
    assert_string_equal(cur, "10");
    assert_int_equal(sync_index_txn_commit(r), 0); /* ends a read txn */
    sync_index_close(ix);
    ix = ix_open(dir);
    assert_int_equal(present(ix, NULL, "old.txt"), 0);
    assert_int_equal(present(ix, NULL, "new.txt"), 1);
    assert_int_equal(sync_index_cursor_get(ix, NULL, cur, sizeof cur, &len), 0);
    assert_string_equal(cur, "11");
    assert_int_equal(len, 2);
    sync_index_close(ix);
    folder_remove(dir);
}

static void test_cursor(void **state)
{
    (void)state;
    char dir[64];
    folder_make(dir);
    struct sync_index *ix = ix_open(dir);
    char cur[SYNC_INDEX_CURSOR_MAX + 1];
    size_t len = 77;
    assert_int_equal(sync_index_cursor_get(ix, NULL, cur, sizeof cur, &len), SYNC_ENOTFOUND);
    assert_int_equal(len, 77);
    char big[SYNC_INDEX_CURSOR_MAX + 1];
    memset(big, '9', sizeof big);
    assert_int_equal(sync_index_cursor_set(ix, NULL, big, sizeof big), SYNC_ETOOLONG);
    assert_int_equal(sync_index_cursor_set(ix, NULL, "1\0002", 3), SYNC_EINVAL);
    assert_int_equal(sync_index_cursor_set(ix, NULL, NULL, 3), SYNC_EINVAL);
    assert_int_equal(sync_index_cursor_set(ix, NULL, big, SYNC_INDEX_CURSOR_MAX), 0);
    assert_int_equal(sync_index_cursor_get(ix, NULL, cur, sizeof cur, &len), 0);
    assert_int_equal(len, SYNC_INDEX_CURSOR_MAX);
    assert_memory_equal(cur, big, SYNC_INDEX_CURSOR_MAX);
    assert_int_equal(sync_index_cursor_get(ix, NULL, cur, SYNC_INDEX_CURSOR_MAX, &len),
                     SYNC_ETOOLONG);
    assert_int_equal(sync_index_cursor_get(ix, NULL, NULL, 10, &len), SYNC_EINVAL);
    assert_int_equal(sync_index_cursor_set(ix, NULL, "latest-41", 9), 0);
    assert_int_equal(sync_index_cursor_get(ix, NULL, cur, sizeof cur, NULL), 0);
    assert_string_equal(cur, "latest-41");
    /* len 0 removes it; removing twice is fine */
    assert_int_equal(sync_index_cursor_set(ix, NULL, NULL, 0), 0);
    assert_int_equal(sync_index_cursor_set(ix, NULL, NULL, 0), 0);
    assert_int_equal(sync_index_cursor_get(ix, NULL, cur, sizeof cur, &len), SYNC_ENOTFOUND);
    /* the cursor is not an entry */
    uint64_t n = 9;
    assert_int_equal(sync_index_count(ix, NULL, &n), 0);
    assert_int_equal(n, 0);
    sync_index_close(ix);
    folder_remove(dir);
}

/* Write raw bytes into the index's LMDB, bypassing the library. */
static void raw_put(const char *dir, const char *db, const void *k, size_t klen, const void *v,
                    size_t vlen)
{
    char path[128];
    snprintf(path, sizeof path, "%s/.cairn-sync/index", dir);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_corrupt(void **state)
{
    (void)state;
    char dir[64];
    folder_make(dir);
    struct sync_index *ix = ix_open(dir);
    put_simple(ix, NULL, "a", 1);
    put_simple(ix, NULL, "c", 2);
    sync_index_close(ix);
    uint8_t junk[60];
    memset(junk, 0, sizeof junk);
    junk[0] = SYNC_INDEX_FORMAT;
    junk[1] = SYNC_KIND_FILE;
    junk[3] = 1; /* path_len 1, path "b" */
    junk[46] = 'b';
    raw_put(dir, "paths", "b", 1, junk, sizeof junk); /* 13 bytes too many */
    raw_put(dir, "paths", "d", 1, junk, 47);          /* stored path "b" under "d" */
    ix = ix_open(dir);
    struct sync_entry e;
    assert_int_equal(sync_index_get(ix, NULL, "b", 1, &e), SYNC_ECORRUPT);
    assert_int_equal(sync_index_get(ix, NULL, "d", 1, &e), SYNC_ECORRUPT);
    assert_int_equal(sync_index_delete(ix, NULL, "d", 1), SYNC_ECORRUPT);
    struct collect c = {0};
    assert_int_equal(sync_index_iterate(ix, NULL, NULL, 0, collect_cb, &c), SYNC_ECORRUPT);
    assert_int_equal(c.n, 1); /* "a" came before */
    collect_release(&c);
    assert_int_equal(present(ix, NULL, "a"), 1);
    /* the record is replaced by a good one */
    put_simple(ix, NULL, "b", 3);
    assert_int_equal(present(ix, NULL, "b"), 1);
    /* a bad kind byte */
    sync_index_close(ix);
    junk[1] = 9;
    raw_put(dir, "paths", "b", 1, junk, 47);
    ix = ix_open(dir);
    assert_int_equal(sync_index_get(ix, NULL, "b", 1, &e), SYNC_ECORRUPT);
    sync_index_close(ix);
    /* another format */
    uint8_t fmt[4] = {0, 0, 0, 99};
    raw_put(dir, "meta", "format", 6, fmt, 4);
    ix = NULL;
    assert_int_equal(sync_index_open(dir, NULL, &ix), SYNC_ECORRUPT);
    assert_null(ix);
    folder_remove(dir);
}

/* A map too small for what is put: SYNC_EFULL, and what was committed
 * before is intact. */
static void test_full(void **state)
{
    (void)state;
    char dir[64];
    folder_make(dir);
    struct sync_index *ix = NULL;
    struct sync_index_opts o = {.mapsize = 1 << 20};
    assert_int_equal(sync_index_open(dir, &o, &ix), 0);
    int rc = 0;
    uint32_t i;
    char p[32];
    for (i = 0; i < 100 && rc == 0; i++) {
        struct sync_entry e;
        snprintf(p, sizeof p, "f%u", i);
        entry_make(&e, p, i, 2000); /* 72 KB of chunk list */
        rc = sync_index_put(ix, NULL, &e);
        sync_entry_release(&e);
    }
    assert_int_equal(rc, SYNC_EFULL);
    assert_true(i > 2);
    for (uint32_t j = 0; j + 1 < i; j++) {
        snprintf(p, sizeof p, "f%u", j);
        assert_int_equal(present(ix, NULL, p), 1);
    }
    sync_index_close(ix);
    folder_remove(dir);
}

/* ---- kill -9 ---- */

struct kill_shared {
    uint64_t committed; /* last transaction number whose commit returned */
    int failed;         /* the child saw an error */
};

#define KILL_BATCH 3 /* entries per transaction */

static void kill_child(const char *dir, struct kill_shared *sh)
{
    struct sync_index *ix = NULL;
    if (sync_index_open(dir, NULL, &ix) != 0)
        _exit(2);
    char p[64], cur[32];
    for (uint32_t i = 1;; i++) {
        struct sync_index_txn *t = NULL;
        int rc = sync_index_txn_begin(ix, 1, &t);
        for (int b = 0; b < KILL_BATCH && rc == 0; b++) {
            struct sync_entry e;
            snprintf(p, sizeof p, "t%06u/e%d", i, b);
            entry_make(&e, p, i * 10 + (uint32_t)b, (i + (uint32_t)b) % 300);
            rc = sync_index_put(ix, t, &e);
            sync_entry_release(&e);
        }
        if (rc == 0 && i > 1) { /* and a rename of an earlier entry */
            snprintf(p, sizeof p, "t%06u/e0", i - 1);
            rc = sync_index_delete(ix, t, p, strlen(p));
        }
        int n = snprintf(cur, sizeof cur, "%u", i);
        if (rc == 0)
            rc = sync_index_cursor_set(ix, t, cur, (size_t)n);
        if (rc == 0)
            rc = sync_index_txn_commit(t);
        else
            sync_index_txn_abort(t);
        if (rc != 0) {
            __atomic_store_n(&sh->failed, 1, __ATOMIC_SEQ_CST);
            _exit(3);
        }
        __atomic_store_n(&sh->committed, i, __ATOMIC_SEQ_CST);
    }
}

/* After the kill: transactions 1..k are there in full, k+1.. not at all,
 * where k is the stored cursor and committed <= k <= committed + 1. */
static void kill_verify(const char *dir, uint64_t committed)
{
    struct sync_index *ix = ix_open(dir);
    char cur[SYNC_INDEX_CURSOR_MAX + 1], p[64];
    assert_true(committed > 0);
    assert_int_equal(sync_index_cursor_get(ix, NULL, cur, sizeof cur, NULL), 0);
    uint64_t k = strtoull(cur, NULL, 10);
    assert_true(k >= committed);
    assert_true(k <= committed + 1);
    for (uint64_t i = 1; i <= k + 3; i++) {
        for (int b = 0; b < KILL_BATCH; b++) {
            snprintf(p, sizeof p, "t%06u/e%d", (unsigned)i, b);
            int want = i <= k && !(b == 0 && i < k);
            struct sync_entry e, got;
            int rc = sync_index_get(ix, NULL, p, strlen(p), &got);
            assert_int_equal(rc, want ? 0 : SYNC_ENOTFOUND);
            if (rc == 0) {
                entry_make(&e, p, (uint32_t)i * 10 + (uint32_t)b, ((uint32_t)i + (uint32_t)b) % 300);
                entry_assert_equal(&e, &got);
                sync_entry_release(&e);
                sync_entry_release(&got);
            }
        }
    }
    uint64_t n = 0;
    assert_int_equal(sync_index_count(ix, NULL, &n), 0);
    assert_int_equal(n, k * KILL_BATCH - (k - 1));
    sync_index_close(ix);
}

static void test_kill9(void **state)
{
    (void)state;
    struct kill_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    unsigned seed = 99;
    char dir[64];
    folder_make(dir);
    for (int round = 0; round < 10; round++) {
        /* a fresh folder each round: the child numbers from 1 */
        if (round) {
            folder_remove(dir);
            assert_int_equal(mkdir(dir, 0700), 0);
        }
        __atomic_store_n(&sh->committed, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&sh->failed, 0, __ATOMIC_SEQ_CST);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            kill_child(dir, sh);
        /* let it commit a few, then kill it at a random moment */
        uint64_t target = 5 + (uint64_t)(rand_r(&seed) % 20);
        for (int w = 0; w < 10000 && __atomic_load_n(&sh->committed, __ATOMIC_SEQ_CST) < target;
             w++)
            usleep(1000);
        usleep((useconds_t)(rand_r(&seed) % 3000));
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(__atomic_load_n(&sh->failed, __ATOMIC_SEQ_CST), 0);
        uint64_t committed = __atomic_load_n(&sh->committed, __ATOMIC_SEQ_CST);
        assert_true(committed >= target);
        kill_verify(dir, committed);
        /* the index is writable again (the writer lock of the dead child
         * is recovered) */
        struct sync_index *ix = ix_open(dir);
        put_simple(ix, NULL, "after", 1);
        assert_int_equal(sync_index_delete(ix, NULL, "after", 5), 0);
        sync_index_close(ix);
    }
    /* and a child killed while holding a write transaction open */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sync_index *ix = NULL;
        struct sync_index_txn *t = NULL;
        if (sync_index_open(dir, NULL, &ix) != 0 || sync_index_txn_begin(ix, 1, &t) != 0)
            _exit(2);
        put_simple(ix, t, "never", 1);
        __atomic_store_n(&sh->committed, UINT64_MAX, __ATOMIC_SEQ_CST);
        for (;;)
            pause();
    }
    for (int w = 0; w < 10000 && __atomic_load_n(&sh->committed, __ATOMIC_SEQ_CST) != UINT64_MAX;
         w++)
        usleep(1000);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    struct sync_index *ix = ix_open(dir);
    assert_int_equal(present(ix, NULL, "never"), 0);
    put_simple(ix, NULL, "after", 1); /* would hang if the lock were not recovered */
    assert_int_equal(present(ix, NULL, "after"), 1);
    sync_index_close(ix);
    folder_remove(dir);
    munmap(sh, sizeof *sh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_long_paths), cmocka_unit_test(test_many),
        cmocka_unit_test(test_atomic),     cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_corrupt),    cmocka_unit_test(test_full),
        cmocka_unit_test(test_kill9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
