/*
 * sync-client/sync_index.c - see sync_index.h.
 *
 * Two named databases: "paths" (key: the path, or its first 479 bytes +
 * SHA-256 when longer; value: the record below) and "meta" ("format" ->
 * u32 SYNC_INDEX_FORMAT, "cursor" -> the change-feed cursor).
 *
 * Record (big-endian), exactly this long:
 *   0 u8 format (1)     1 u8 kind        2 u16 path_len   4 u32 mode
 *   8 u64 size         16 i64 mtime_ns  24 u64 inode     32 i64 indexed_ns
 *  40 u32 nchunks      44 u8 etag_len   45 u8 version_len
 *  46 path, etag, version_id, then nchunks x (32-byte id, u32 len)
 */
#include "sync-client/sync_index.h"
#include "sync-client/sync_folder.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/hash.h"
#include "sync-client/sync_path.h"

#define IX_KEY_MAX 511
#define IX_REC_HDR 46
#define IX_CHUNK_REC (SYNC_CHUNK_ID_LEN + 4)

struct sync_index {
    MDB_env *env;
    MDB_dbi paths, meta;
};

struct sync_index_txn {
    struct sync_index *ix;
    MDB_txn *txn;
    int write;
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static void be_put(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t be_get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static int ix_err(int rc)
{
    if (rc <= 0 && (rc < MDB_KEYEXIST || rc > MDB_LAST_ERRCODE))
        return rc; /* 0, -errno, or one of ours */
    switch (rc) {
    case MDB_NOTFOUND:
        return SYNC_ENOTFOUND;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
        return SYNC_EFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_BAD_VALSIZE:
        return SYNC_ECORRUPT;
    case MDB_READERS_FULL:
        return -EAGAIN;
    }
    return rc > 0 ? -rc : -EIO;
}

/* The LMDB key of a (checked) path; returns its length. */
static size_t ix_key(const char *path, size_t len, uint8_t key[IX_KEY_MAX])
{
    if (len <= SYNC_INDEX_KEY_PREFIX) {
        memcpy(key, path, len);
        return len;
    }
    memcpy(key, path, SYNC_INDEX_KEY_PREFIX);
    sha256(path, len, key + SYNC_INDEX_KEY_PREFIX);
    return IX_KEY_MAX;
}

void sync_entry_init(struct sync_entry *e)
{
    memset(e, 0, sizeof *e);
}

void sync_entry_release(struct sync_entry *e)
{
    if (!e)
        return;
    free(e->chunks);
    sync_entry_init(e);
}

int sync_entry_set_path(struct sync_entry *e, const char *path, size_t len)
{
    int rc = e ? sync_path_check(path, len) : SYNC_EINVAL;
    if (rc)
        return rc;
    memcpy(e->path, path, len);
    e->path[len] = 0;
    e->path_len = len;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Records                                                             */

static int entry_check(const struct sync_entry *e)
{
    if (!e || e->path_len > SYNC_PATH_MAX || e->path[e->path_len] != 0)
        return SYNC_EINVAL;
    int rc = sync_path_check(e->path, e->path_len);
    if (rc)
        return rc;
    if (e->st.kind < SYNC_KIND_FILE || e->st.kind > SYNC_KIND_DIR)
        return SYNC_EINVAL;
    if (!memchr(e->etag, 0, sizeof e->etag) || !memchr(e->version_id, 0, sizeof e->version_id))
        return SYNC_ETOOLONG;
    if (e->nchunks > SYNC_CHUNKS_MAX)
        return SYNC_ETOOLONG;
    if (e->nchunks && !e->chunks)
        return SYNC_EINVAL;
    return 0;
}

static size_t rec_size(const struct sync_entry *e)
{
    return IX_REC_HDR + e->path_len + strlen(e->etag) + strlen(e->version_id) +
           (size_t)e->nchunks * IX_CHUNK_REC;
}

static void rec_encode(const struct sync_entry *e, uint8_t *p)
{
    size_t etag_len = strlen(e->etag), ver_len = strlen(e->version_id);
    p[0] = SYNC_INDEX_FORMAT;
    p[1] = e->st.kind;
    be_put(p + 2, e->path_len, 2);
    be_put(p + 4, e->st.mode, 4);
    be_put(p + 8, e->st.size, 8);
    be_put(p + 16, (uint64_t)e->st.mtime_ns, 8);
    be_put(p + 24, e->st.inode, 8);
    be_put(p + 32, (uint64_t)e->indexed_ns, 8);
    be_put(p + 40, e->nchunks, 4);
    p[44] = (uint8_t)etag_len;
    p[45] = (uint8_t)ver_len;
    p += IX_REC_HDR;
    memcpy(p, e->path, e->path_len);
    p += e->path_len;
    memcpy(p, e->etag, etag_len);
    p += etag_len;
    memcpy(p, e->version_id, ver_len);
    p += ver_len;
    for (uint32_t i = 0; i < e->nchunks; i++, p += IX_CHUNK_REC) {
        memcpy(p, e->chunks[i].id, SYNC_CHUNK_ID_LEN);
        be_put(p + SYNC_CHUNK_ID_LEN, e->chunks[i].len, 4);
    }
}

/* The path stored in record v (checked for length only). */
static int rec_path(const MDB_val *v, const char **path, size_t *len)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < IX_REC_HDR || p[0] != SYNC_INDEX_FORMAT)
        return SYNC_ECORRUPT;
    size_t n = (size_t)be_get(p + 2, 2);
    if (n == 0 || n > SYNC_PATH_MAX || IX_REC_HDR + n > v->mv_size)
        return SYNC_ECORRUPT;
    *path = (const char *)p + IX_REC_HDR;
    *len = n;
    return 0;
}

/*
 * Decode record v into e.  *chunk_cap is the capacity of e->chunks (which
 * is grown with realloc when needed; pass 0 and NULL chunks for a fresh
 * array).  On error e->chunks is still the caller's to free.
 */
static int rec_decode(const MDB_val *v, struct sync_entry *e, uint32_t *chunk_cap)
{
    const uint8_t *p = v->mv_data;
    const char *path;
    size_t path_len;
    if (rec_path(v, &path, &path_len) != 0)
        return SYNC_ECORRUPT;
    size_t etag_len = p[44], ver_len = p[45];
    uint32_t n = (uint32_t)be_get(p + 40, 4);
    if (etag_len > SYNC_ETAG_MAX || ver_len > SYNC_VERSION_MAX || n > SYNC_CHUNKS_MAX ||
        v->mv_size != IX_REC_HDR + path_len + etag_len + ver_len + (size_t)n * IX_CHUNK_REC)
        return SYNC_ECORRUPT;
    if (p[1] < SYNC_KIND_FILE || p[1] > SYNC_KIND_DIR)
        return SYNC_ECORRUPT;
    if (n > *chunk_cap) {
        struct sync_chunk_ref *c = realloc(e->chunks, (size_t)n * sizeof *c);
        if (!c)
            return -ENOMEM;
        e->chunks = c;
        *chunk_cap = n;
    }
    memcpy(e->path, path, path_len);
    e->path[path_len] = 0;
    e->path_len = path_len;
    e->st.kind = p[1];
    e->st.mode = (uint32_t)be_get(p + 4, 4);
    e->st.size = be_get(p + 8, 8);
    e->st.mtime_ns = (int64_t)be_get(p + 16, 8);
    e->st.inode = be_get(p + 24, 8);
    e->indexed_ns = (int64_t)be_get(p + 32, 8);
    e->nchunks = n;
    p += IX_REC_HDR + path_len;
    memcpy(e->etag, p, etag_len);
    e->etag[etag_len] = 0;
    p += etag_len;
    memcpy(e->version_id, p, ver_len);
    e->version_id[ver_len] = 0;
    p += ver_len;
    for (uint32_t i = 0; i < n; i++, p += IX_CHUNK_REC) {
        memcpy(e->chunks[i].id, p, SYNC_CHUNK_ID_LEN);
        e->chunks[i].len = (uint32_t)be_get(p + SYNC_CHUNK_ID_LEN, 4);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Opening                                                             */

/* mkdir dir inside parent; when new, make the entry durable. */
static int mkdir_durable(const char *parent, const char *dir)
{
    if (mkdir(dir, 0700) != 0)
        return errno == EEXIST ? 0 : -errno;
    int rc = file_fsync_dir(dir);
    return rc ? rc : file_fsync_dir(parent);
}

/* Open the databases; write or check the format marker. */
static int ix_open_dbis(struct sync_index *ix)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "paths", MDB_CREATE, &ix->paths);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ix->meta);
    if (rc)
        goto out;
    uint8_t fv[4];
    MDB_val k = {6, "format"}, v;
    rc = mdb_get(txn, ix->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        be_put(fv, SYNC_INDEX_FORMAT, 4);
        v.mv_size = sizeof fv;
        v.mv_data = fv;
        rc = mdb_put(txn, ix->meta, &k, &v, 0);
    } else if (rc == 0 && (v.mv_size != 4 || be_get(v.mv_data, 4) != SYNC_INDEX_FORMAT)) {
        rc = SYNC_ECORRUPT;
    }
    if (rc)
        goto out;
    rc = mdb_txn_commit(txn);
    txn = NULL;
out:
    if (txn)
        mdb_txn_abort(txn);
    return ix_err(rc);
}

/* FOLDER/.cairn-sync and FOLDER/.cairn-sync/index into dir. */
static int ix_make_dirs(const char *folder, char dir[PATH_MAX])
{
    char top[PATH_MAX];
    struct stat st;
    if (stat(folder, &st) != 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    int n = snprintf(top, PATH_MAX, "%s/" SYNC_STATE_DIR, folder);
    if (n < 0 || n >= PATH_MAX)
        return -ENAMETOOLONG;
    n = snprintf(dir, PATH_MAX, "%s/index", top);
    if (n < 0 || n >= PATH_MAX)
        return -ENAMETOOLONG;
    int rc = mkdir_durable(folder, top);
    return rc ? rc : mkdir_durable(top, dir);
}

int sync_index_open(const char *folder, const struct sync_index_opts *o, struct sync_index **out)
{
    char dir[PATH_MAX];
    struct sync_index *ix = NULL;
    int dead = 0;
    int rc = SYNC_EINVAL;
    if (!folder || !out)
        goto out;
    rc = ix_make_dirs(folder, dir);
    if (rc)
        goto out;
    rc = -ENOMEM;
    ix = calloc(1, sizeof *ix);
    if (!ix)
        goto out;
    rc = mdb_env_create(&ix->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(ix->env, 4);
    if (rc == 0)
        rc = mdb_env_set_mapsize(ix->env, (size_t)(o && o->mapsize ? o->mapsize
                                                                   : SYNC_INDEX_MAPSIZE_DEFAULT));
    if (rc)
        goto out;
    /* MDB_NOTLS: read transactions are not tied to a thread.  No
     * MDB_NOSYNC / MDB_NOMETASYNC: a commit is durable when it returns. */
    rc = mdb_env_open(ix->env, dir, MDB_NOTLS, 0600);
    if (rc)
        goto out;
    rc = SYNC_ECORRUPT;
    if (mdb_env_get_maxkeysize(ix->env) < IX_KEY_MAX)
        goto out;
    mdb_reader_check(ix->env, &dead); /* slots of killed readers */
    rc = ix_open_dbis(ix);
    /* LMDB fsyncs its files, not the directory entries of new ones */
    if (rc == 0)
        rc = file_fsync_dir(dir);
out:
    if (rc) {
        sync_index_close(ix);
        return ix_err(rc);
    }
    *out = ix;
    return 0;
}

void sync_index_close(struct sync_index *ix)
{
    if (!ix)
        return;
    if (ix->env)
        mdb_env_close(ix->env);
    free(ix);
}

/* ------------------------------------------------------------------ */
/* Transactions                                                        */

int sync_index_txn_begin(struct sync_index *ix, int write, struct sync_index_txn **out)
{
    if (!ix || !out)
        return SYNC_EINVAL;
    struct sync_index_txn *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    int rc = mdb_txn_begin(ix->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc) {
        free(t);
        return ix_err(rc);
    }
    t->ix = ix;
    t->write = write != 0;
    *out = t;
    return 0;
}

int sync_index_txn_commit(struct sync_index_txn *t)
{
    if (!t)
        return SYNC_EINVAL;
    int rc = mdb_txn_commit(t->txn);
    free(t);
    return ix_err(rc);
}

void sync_index_txn_abort(struct sync_index_txn *t)
{
    if (!t)
        return;
    mdb_txn_abort(t->txn);
    free(t);
}

/*
 * The LMDB transaction for one call: txn's, or a new one (*own set) that
 * ix_leave() ends.  write: the call writes.
 */
static int ix_enter(struct sync_index *ix, struct sync_index_txn *txn, int write, MDB_txn **mt,
                    int *own)
{
    *own = 0;
    if (!ix)
        return SYNC_EINVAL;
    if (txn) {
        if (txn->ix != ix)
            return SYNC_EINVAL;
        if (write && !txn->write)
            return SYNC_ERDONLY;
        *mt = txn->txn;
        return 0;
    }
    int rc = mdb_txn_begin(ix->env, NULL, write ? 0 : MDB_RDONLY, mt);
    if (rc)
        return ix_err(rc);
    *own = 1;
    return 0;
}

/* End a transaction ix_enter() began: commit if rc is 0 (and it writes). */
static int ix_leave(MDB_txn *mt, int own, int write, int rc)
{
    if (!own)
        return rc;
    if (rc == 0 && write)
        return ix_err(mdb_txn_commit(mt));
    mdb_txn_abort(mt);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Entries                                                             */

/* Look path up: v set to its record.  The record's own path must match
 * (it always does unless two long paths share a SHA-256). */
static int ix_lookup(struct sync_index *ix, MDB_txn *mt, const char *path, size_t len,
                     MDB_val *v)
{
    uint8_t key[IX_KEY_MAX];
    MDB_val k = {ix_key(path, len, key), key};
    int rc = mdb_get(mt, ix->paths, &k, v);
    if (rc)
        return ix_err(rc);
    const char *stored;
    size_t stored_len;
    if (rec_path(v, &stored, &stored_len) != 0 || stored_len != len ||
        memcmp(stored, path, len) != 0)
        return SYNC_ECORRUPT;
    return 0;
}

int sync_index_get(struct sync_index *ix, struct sync_index_txn *txn, const char *path,
                   size_t len, struct sync_entry *out)
{
    MDB_txn *mt = NULL;
    MDB_val v;
    int own = 0;
    int rc = out ? sync_path_check(path, len) : SYNC_EINVAL;
    if (rc)
        return rc;
    rc = ix_enter(ix, txn, 0, &mt, &own);
    if (rc)
        return rc;
    struct sync_entry e; /* out untouched until success */
    uint32_t cap = 0;
    sync_entry_init(&e);
    rc = ix_lookup(ix, mt, path, len, &v);
    if (rc == 0)
        rc = rec_decode(&v, &e, &cap);
    if (rc == 0)
        *out = e;
    else
        sync_entry_release(&e);
    return ix_leave(mt, own, 0, rc);
}

int sync_index_put(struct sync_index *ix, struct sync_index_txn *txn, const struct sync_entry *e)
{
    MDB_txn *mt = NULL;
    int own = 0;
    int rc = entry_check(e);
    if (rc)
        return rc;
    rc = ix_enter(ix, txn, 1, &mt, &own);
    if (rc)
        return rc;
    uint8_t key[IX_KEY_MAX];
    MDB_val k = {ix_key(e->path, e->path_len, key), key};
    MDB_val v = {rec_size(e), NULL};
    rc = ix_err(mdb_put(mt, ix->paths, &k, &v, MDB_RESERVE));
    if (rc == 0)
        rec_encode(e, v.mv_data);
    return ix_leave(mt, own, 1, rc);
}

int sync_index_delete(struct sync_index *ix, struct sync_index_txn *txn, const char *path,
                      size_t len)
{
    MDB_txn *mt = NULL;
    MDB_val v;
    int own = 0;
    int rc = sync_path_check(path, len);
    if (rc)
        return rc;
    rc = ix_enter(ix, txn, 1, &mt, &own);
    if (rc)
        return rc;
    rc = ix_lookup(ix, mt, path, len, &v);
    if (rc == 0) {
        uint8_t key[IX_KEY_MAX];
        MDB_val k = {ix_key(path, len, key), key};
        rc = ix_err(mdb_del(mt, ix->paths, &k, NULL));
    }
    return ix_leave(mt, own, 1, rc);
}

int sync_index_count(struct sync_index *ix, struct sync_index_txn *txn, uint64_t *n)
{
    MDB_txn *mt = NULL;
    MDB_stat st;
    int own = 0;
    int rc = n ? ix_enter(ix, txn, 0, &mt, &own) : SYNC_EINVAL;
    if (rc)
        return rc;
    rc = ix_err(mdb_stat(mt, ix->paths, &st));
    if (rc == 0)
        *n = st.ms_entries;
    return ix_leave(mt, own, 0, rc);
}

/* ------------------------------------------------------------------ */
/* Iteration                                                           */

struct ix_walk {
    struct sync_index *ix;
    MDB_txn *mt;
    MDB_cursor *cur;
    const char *prefix;
    size_t prefix_len;
    sync_index_iter_fn fn;
    void *arg;
    struct sync_entry *e; /* decode buffer */
    uint32_t cap;         /* of e->chunks */
    char **run;           /* long paths sharing a key prefix, to sort */
    size_t run_n, run_cap;
};

/* Decode v and hand it to fn if its path has the prefix. */
static int walk_emit(struct ix_walk *w, const MDB_val *v)
{
    int rc = rec_decode(v, w->e, &w->cap);
    if (rc)
        return rc;
    if (w->prefix_len &&
        (w->e->path_len < w->prefix_len || memcmp(w->e->path, w->prefix, w->prefix_len) != 0))
        return 0;
    return w->fn(w->arg, w->e);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b); /* paths hold no NUL */
}

static void walk_run_clear(struct ix_walk *w)
{
    for (size_t i = 0; i < w->run_n; i++)
        free(w->run[i]);
    w->run_n = 0;
}

static int walk_run_add(struct ix_walk *w, const MDB_val *v)
{
    const char *path;
    size_t len;
    if (rec_path(v, &path, &len) != 0)
        return SYNC_ECORRUPT;
    if (w->run_n == w->run_cap) {
        size_t cap = w->run_cap ? w->run_cap * 2 : 16;
        char **r = realloc(w->run, cap * sizeof *r);
        if (!r)
            return -ENOMEM;
        w->run = r;
        w->run_cap = cap;
    }
    char *copy = strndup(path, len);
    if (!copy)
        return -ENOMEM;
    w->run[w->run_n++] = copy;
    return 0;
}

/* The cursor is on a long key k: gather every long key with the same
 * 479-byte prefix, sort their paths, emit in that order.  Leaves the
 * cursor on the first key after the run (*rc_next: its mdb result). */
static int walk_long_run(struct ix_walk *w, MDB_val *k, MDB_val *v, int *rc_next)
{
    uint8_t head[SYNC_INDEX_KEY_PREFIX];
    memcpy(head, k->mv_data, SYNC_INDEX_KEY_PREFIX);
    int rc = 0, mrc = 0;
    walk_run_clear(w);
    while (mrc == 0 && k->mv_size == IX_KEY_MAX && memcmp(k->mv_data, head, sizeof head) == 0) {
        rc = walk_run_add(w, v);
        if (rc)
            goto out;
        mrc = mdb_cursor_get(w->cur, k, v, MDB_NEXT);
    }
    qsort(w->run, w->run_n, sizeof *w->run, cmp_path);
    for (size_t i = 0; i < w->run_n && rc == 0; i++) {
        MDB_val rv;
        rc = ix_lookup(w->ix, w->mt, w->run[i], strlen(w->run[i]), &rv);
        if (rc == 0)
            rc = walk_emit(w, &rv);
    }
out:
    walk_run_clear(w);
    *rc_next = mrc;
    return rc;
}

static int walk_all(struct ix_walk *w)
{
    size_t seek_len = w->prefix_len < SYNC_INDEX_KEY_PREFIX ? w->prefix_len : SYNC_INDEX_KEY_PREFIX;
    MDB_val k = {seek_len, (void *)w->prefix}, v;
    int rc = 0;
    int mrc = mdb_cursor_get(w->cur, &k, &v, seek_len ? MDB_SET_RANGE : MDB_FIRST);
    while (mrc == 0 && rc == 0) {
        if (seek_len && (k.mv_size < seek_len || memcmp(k.mv_data, w->prefix, seek_len) != 0))
            break; /* past every key that can hold the prefix */
        if (k.mv_size == IX_KEY_MAX) {
            rc = walk_long_run(w, &k, &v, &mrc);
        } else {
            rc = walk_emit(w, &v);
            if (rc == 0)
                mrc = mdb_cursor_get(w->cur, &k, &v, MDB_NEXT);
        }
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = ix_err(mrc);
    return rc;
}

int sync_index_iterate(struct sync_index *ix, struct sync_index_txn *txn, const char *prefix,
                       size_t prefix_len, sync_index_iter_fn fn, void *arg)
{
    struct ix_walk w = {.ix = ix, .prefix = prefix, .prefix_len = prefix_len, .fn = fn,
                        .arg = arg};
    int own = 0;
    if (!fn || (prefix_len && !prefix) || prefix_len > SYNC_PATH_MAX)
        return prefix_len > SYNC_PATH_MAX ? SYNC_ETOOLONG : SYNC_EINVAL;
    int rc = ix_enter(ix, txn, 0, &w.mt, &own);
    if (rc)
        return rc;
    rc = -ENOMEM;
    w.e = malloc(sizeof *w.e);
    if (!w.e)
        goto out;
    sync_entry_init(w.e);
    rc = ix_err(mdb_cursor_open(w.mt, ix->paths, &w.cur));
    if (rc == 0)
        rc = walk_all(&w);
out:
    if (w.cur)
        mdb_cursor_close(w.cur);
    walk_run_clear(&w);
    free(w.run);
    sync_entry_release(w.e);
    free(w.e);
    return ix_leave(w.mt, own, 0, rc);
}

/* ------------------------------------------------------------------ */
/* The change-feed cursor                                              */

int sync_index_cursor_set(struct sync_index *ix, struct sync_index_txn *txn, const char *cursor,
                          size_t len)
{
    MDB_txn *mt = NULL;
    int own = 0;
    if (len > SYNC_INDEX_CURSOR_MAX)
        return SYNC_ETOOLONG;
    if (len && (!cursor || memchr(cursor, 0, len)))
        return SYNC_EINVAL;
    int rc = ix_enter(ix, txn, 1, &mt, &own);
    if (rc)
        return rc;
    MDB_val k = {6, "cursor"}, v = {len, (void *)cursor};
    if (len) {
        rc = ix_err(mdb_put(mt, ix->meta, &k, &v, 0));
    } else {
        rc = mdb_del(mt, ix->meta, &k, NULL);
        rc = rc == MDB_NOTFOUND ? 0 : ix_err(rc);
    }
    return ix_leave(mt, own, 1, rc);
}

int sync_index_cursor_get(struct sync_index *ix, struct sync_index_txn *txn, char *out,
                          size_t out_size, size_t *out_len)
{
    MDB_txn *mt = NULL;
    int own = 0;
    if (!out)
        return SYNC_EINVAL;
    int rc = ix_enter(ix, txn, 0, &mt, &own);
    if (rc)
        return rc;
    MDB_val k = {6, "cursor"}, v;
    rc = ix_err(mdb_get(mt, ix->meta, &k, &v));
    if (rc == 0 && (v.mv_size == 0 || v.mv_size > SYNC_INDEX_CURSOR_MAX))
        rc = SYNC_ECORRUPT;
    if (rc == 0 && v.mv_size >= out_size)
        rc = SYNC_ETOOLONG;
    if (rc == 0) {
        memcpy(out, v.mv_data, v.mv_size);
        out[v.mv_size] = 0;
        if (out_len)
            *out_len = v.mv_size;
    }
    return ix_leave(mt, own, 0, rc);
}
