/* metadata/meta_db.c - the LMDB environment: open, transactions, map growth,
 * error mapping, key layouts.  See meta_internal.h. */
#include "metadata/meta_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"

int meta_err_from_mdb(int rc)
{
    if (rc <= 0 && (rc < MDB_KEYEXIST || rc > MDB_LAST_ERRCODE))
        return rc; /* 0, -errno, or already one of ours */
    switch (rc) {
    case MDB_NOTFOUND:
        return META_ENOTFOUND;
    case MDB_MAP_FULL:
        return META_EFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_BAD_VALSIZE:
        return META_ECORRUPT;
    case MDB_READERS_FULL:
        return -EAGAIN;
    }
    if (rc > 0)
        return -rc;
    return -EIO;
}

static int meta_db_open_dbis(struct meta_db *db)
{
    static const struct {
        const char *name;
        size_t off;
    } dbs[] = {
        {"buckets", offsetof(struct meta_db, buckets)},
        {"configs", offsetof(struct meta_db, configs)},
        {"objects", offsetof(struct meta_db, objects)},
        {"chunks", offsetof(struct meta_db, chunks)},
        {"unused", offsetof(struct meta_db, unused)},
        {"uploads", offsetof(struct meta_db, uploads)},
        {"parts", offsetof(struct meta_db, parts)},
        {"changes", offsetof(struct meta_db, changes)},
        {"users", offsetof(struct meta_db, users)},
        {"usernames", offsetof(struct meta_db, usernames)},
        {"meta", offsetof(struct meta_db, meta)},
    };
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc)
        goto out;
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        MDB_dbi *dbi = (MDB_dbi *)((char *)db + dbs[i].off);
        rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbi);
        if (rc)
            goto out;
    }
    MDB_val k = {6, "format"}, v;
    rc = mdb_get(txn, db->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint8_t fv[4];
        meta_be32_put(fv, META_FORMAT_VERSION);
        v.mv_size = 4;
        v.mv_data = fv;
        rc = mdb_put(txn, db->meta, &k, &v, 0);
    } else if (rc == 0) {
        if (v.mv_size != 4 || meta_be32_get(v.mv_data) != META_FORMAT_VERSION) {
            log_error("metadata: unsupported format version in store");
            rc = META_ECORRUPT;
        }
    }
    if (rc)
        goto out;
    rc = mdb_txn_commit(txn);
    txn = NULL;
out:
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

int meta_db_open(struct meta_db *db, const char *dir, const struct meta_open_opts *o)
{
    int rc;
    int created = 0;
    memset(db, 0, sizeof *db);
    if (mkdir(dir, 0750) == 0)
        created = 1;
    else if (errno != EEXIST)
        return -errno;
    rc = pthread_rwlock_init(&db->resize_lock, NULL);
    if (rc)
        return -rc;
    uint64_t mapsize = o && o->mapsize ? o->mapsize : META_MAPSIZE_DEFAULT;
    rc = mdb_env_create(&db->env);
    if (rc)
        goto out;
    rc = mdb_env_set_maxdbs(db->env, 16);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(db->env, 1024);
    if (rc == 0)
        rc = mdb_env_set_mapsize(db->env, (size_t)mapsize);
    if (rc)
        goto out;
    /* MDB_NOTLS: read transactions are not tied to threads.  Durable
     * commits: no MDB_NOSYNC / MDB_NOMETASYNC outside tests. */
    unsigned flags = MDB_NOTLS | (o && o->nosync ? MDB_NOSYNC : 0);
    rc = mdb_env_open(db->env, dir, flags, 0640);
    if (rc)
        goto out;
    MDB_envinfo info;
    mdb_env_info(db->env, &info);
    db->mapsize = info.me_mapsize;
    rc = meta_db_open_dbis(db);
    /* a new store's files (and folder) must be durable before its first
     * acknowledged write: LMDB fsyncs the files, not the directories */
    if (rc == 0)
        rc = file_fsync_dir(dir);
    if (rc == 0 && created)
        rc = file_fsync_parent(dir);
out:
    if (rc) {
        if (db->env)
            mdb_env_close(db->env);
        db->env = NULL;
        pthread_rwlock_destroy(&db->resize_lock);
        return meta_err_from_mdb(rc);
    }
    return 0;
}

void meta_db_close(struct meta_db *db)
{
    if (!db->env)
        return;
    mdb_env_close(db->env);
    db->env = NULL;
    pthread_rwlock_destroy(&db->resize_lock);
}

/* Another process grew the map: adopt its size. */
static void meta_db_adopt_size(struct meta_db *db)
{
    pthread_rwlock_wrlock(&db->resize_lock);
    mdb_env_set_mapsize(db->env, 0);
    MDB_envinfo info;
    mdb_env_info(db->env, &info);
    db->mapsize = info.me_mapsize;
    pthread_rwlock_unlock(&db->resize_lock);
}

static int meta_db_begin(struct meta_db *db, unsigned flags, MDB_txn **txn)
{
    for (int tries = 0;; tries++) {
        pthread_rwlock_rdlock(&db->resize_lock);
        int rc = mdb_txn_begin(db->env, NULL, flags, txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&db->resize_lock);
        if (rc != MDB_MAP_RESIZED || tries >= 3)
            return meta_err_from_mdb(rc);
        meta_db_adopt_size(db);
    }
}

int meta_db_read_begin(struct meta_db *db, MDB_txn **txn)
{
    return meta_db_begin(db, MDB_RDONLY, txn);
}

void meta_db_read_end(struct meta_db *db, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&db->resize_lock);
}

int meta_db_write_begin(struct meta_db *db, MDB_txn **txn)
{
    return meta_db_begin(db, 0, txn);
}

int meta_db_write_end(struct meta_db *db, MDB_txn *txn, int commit)
{
    int rc = 0;
    if (commit)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&db->resize_lock);
    return meta_err_from_mdb(rc);
}

int meta_db_grow(struct meta_db *db, uint64_t seen)
{
    int rc = 0;
    pthread_rwlock_wrlock(&db->resize_lock);
    if (db->mapsize > seen)
        goto out; /* another thread grew it meanwhile */
    if (db->mapsize >= META_MAPSIZE_MAX) {
        rc = META_EFULL;
        goto out;
    }
    uint64_t want = db->mapsize * 2;
    if (want > META_MAPSIZE_MAX)
        want = META_MAPSIZE_MAX;
    rc = mdb_env_set_mapsize(db->env, (size_t)want);
    if (rc) {
        rc = meta_err_from_mdb(rc);
        goto out;
    }
    MDB_envinfo info;
    mdb_env_info(db->env, &info);
    db->mapsize = info.me_mapsize;
    log_info("metadata: map size grown to %llu bytes", (unsigned long long)db->mapsize);
out:
    pthread_rwlock_unlock(&db->resize_lock);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */

size_t meta_key_bucket(uint8_t *out, const char *bucket)
{
    size_t n = strlen(bucket);
    memcpy(out, bucket, n);
    out[n] = 0;
    return n + 1;
}

size_t meta_key_object_prefix(uint8_t *out, const char *bucket, const char *key)
{
    size_t n = meta_key_bucket(out, bucket);
    size_t kl = strlen(key);
    memcpy(out + n, key, kl);
    out[n + kl] = 0;
    return n + kl + 1;
}

size_t meta_key_config(uint8_t *out, const char *bucket, const char *name)
{
    size_t n = meta_key_bucket(out, bucket);
    size_t nl = strlen(name);
    memcpy(out + n, name, nl);
    return n + nl;
}

size_t meta_key_object(uint8_t *out, const char *bucket, const char *key, uint64_t seq)
{
    size_t n = meta_key_object_prefix(out, bucket, key);
    meta_be64_put(out + n, ~seq);
    return n + 8;
}

size_t meta_key_upload(uint8_t *out, const char *bucket, const char *key, const char *upload_id)
{
    size_t n = meta_key_object_prefix(out, bucket, key);
    size_t ul = strlen(upload_id);
    memcpy(out + n, upload_id, ul);
    return n + ul;
}

size_t meta_key_part(uint8_t *out, const char *upload_id, uint32_t part)
{
    size_t n = strlen(upload_id);
    memcpy(out, upload_id, n);
    out[n] = 0;
    meta_be32_put(out + n + 1, part);
    return n + 5;
}

size_t meta_key_change(uint8_t *out, const char *bucket, uint64_t seq)
{
    size_t n = meta_key_bucket(out, bucket);
    meta_be64_put(out + n, seq);
    return n + 8;
}

/* s is 1..cap-1 bytes of [a-z0-9-] and of the characters in extra. */
static int valid_name(const char *s, size_t cap, const char *extra)
{
    size_t n = s ? strnlen(s, cap) : 0;
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || strchr(extra, c)))
            return 0;
    }
    return 1;
}

int meta_valid_bucket_name(const char *s)
{
    return valid_name(s, META_NAME_MAX, ".");
}

int meta_valid_config_name(const char *s)
{
    return valid_name(s, META_CONFIG_NAME_MAX, "");
}

int meta_valid_key(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= META_KEY_MAX;
}

int meta_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, nc * sz);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = nc;
    return 0;
}
