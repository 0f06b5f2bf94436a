/*
 * metadata/meta_internal.h - what the metadata layer's files share (private
 * to metadata/ and its unit tests).
 *
 * struct meta_db is the LMDB environment and its named databases (schema:
 * docs/on-disk-format-metadata.md).  Every transaction is bracketed by
 * meta_db_read_begin/_end or meta_db_write_begin/_end: they hold
 * db->resize_lock shared, so that meta_db_grow() (exclusive) can change the
 * map size while no transaction is active, as LMDB requires.  A thread must
 * not begin a second transaction while it holds one (the lock is not
 * recursive for a writer waiting on it).
 */
#ifndef CAIRN_METADATA_META_INTERNAL_H
#define CAIRN_METADATA_META_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>

#include "metadata/meta.h"

#define META_FORMAT_VERSION 1
#define META_MAPSIZE_DEFAULT (64ull << 30)  /* sparse; grows on MDB_MAP_FULL */
#define META_MAPSIZE_MAX (4ull << 40)

struct meta_db {
    MDB_env *env;
    MDB_dbi buckets, configs, objects, chunks, unused, uploads, parts, changes, users, usernames, meta;
    pthread_rwlock_t resize_lock;
    uint64_t mapsize;
};

struct meta_open_opts {
    uint64_t mapsize;  /* initial map size; 0: META_MAPSIZE_DEFAULT */
    int nosync;        /* tests only: MDB_NOSYNC (not durable!) */
};

int meta_db_open(struct meta_db *db, const char *dir, const struct meta_open_opts *o);
void meta_db_close(struct meta_db *db);
int meta_db_read_begin(struct meta_db *db, MDB_txn **txn);
void meta_db_read_end(struct meta_db *db, MDB_txn *txn);
int meta_db_write_begin(struct meta_db *db, MDB_txn **txn);
/* Commit (commit != 0) or abort, and drop the shared lock.  Returns the
 * commit's result (meta_err_from_mdb applied). */
int meta_db_write_end(struct meta_db *db, MDB_txn *txn, int commit);
/* Double the map size (up to META_MAPSIZE_MAX; META_EFULL beyond), unless
 * it already grew past seen (the size the caller saw fill up: read
 * db->mapsize before the transaction).  Call with no transaction held by
 * this thread. */
int meta_db_grow(struct meta_db *db, uint64_t seen);

/* Map an LMDB return code to this layer's: MDB_MAP_FULL -> META_EFULL,
 * corruption -> META_ECORRUPT, MDB_NOTFOUND -> META_ENOTFOUND, positive
 * errno -> -errno, negative values pass through. */
int meta_err_from_mdb(int rc);

/* Make room for element n of *arr (elements of sz bytes, *cap of them
 * allocated), doubling the allocation when full.  0 or -ENOMEM (then *arr
 * and *cap are unchanged). */
int meta_grow(void **arr, size_t *cap, size_t n, size_t sz);

/* ---- the command log (metadata/meta_log.h has the interface) ---- */

/* What an applied command hands back to the submitter. */
struct meta_result {
    int has_obj;
    struct meta_object obj; /* replaced / removed / added version (owned) */
};
void meta_result_release(struct meta_result *r);

/*
 * Apply one command record (metadata/meta_cmd.c) inside the write
 * transaction txn.  Deterministic: the outcome depends only on the
 * database state and the command bytes.  res may be NULL (replicas that
 * did not submit the command).  Returns 0 or an error; after an error the
 * transaction may hold partial changes, so the caller aborts it (or ran
 * the command in a nested transaction and aborts that).
 */
int meta_apply(const struct meta_db *db, MDB_txn *txn, const void *cmd, size_t len,
               struct meta_result *res);

struct meta_log;

struct meta {
    struct meta_db db;
    struct meta_log *log;
    int64_t (*clock)(void *arg);
    void *clock_arg;
};

/* Open with options; meta_open() is this with defaults. */
int meta_open_ex(const char *dir, const struct meta_open_opts *o, struct meta **out);
/* Replace the clock that stamps commands (tests). */
void meta_set_clock(struct meta *m, int64_t (*clock)(void *arg), void *arg);

/* LMDB cursor steps taken by this thread's last meta_object_list() call. */
uint64_t meta_debug_list_steps(void);

/* ---- key helpers ---- */

static inline void meta_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t meta_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void meta_be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t meta_be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* objects / uploads key prefix "bucket NUL key NUL" and friends.  Buffers
 * for these keys hold META_KEYBUF bytes. */
#define META_KEYBUF (META_NAME_MAX + 1 + META_KEY_MAX + 1 + META_UPLOAD_ID_MAX + 8 + 8)

/* bucket NUL (returns length) */
size_t meta_key_bucket(uint8_t *out, const char *bucket);
/* bucket NUL key NUL */
size_t meta_key_object_prefix(uint8_t *out, const char *bucket, const char *key);
/* configs: bucket NUL name (out holds META_NAME_MAX + META_CONFIG_NAME_MAX) */
size_t meta_key_config(uint8_t *out, const char *bucket, const char *name);
/* a bucket configuration name: 1..META_CONFIG_NAME_MAX-1 of [a-z0-9-] */
int meta_valid_config_name(const char *name);
/* bucket NUL key NUL ~seq (8 bytes BE) */
size_t meta_key_object(uint8_t *out, const char *bucket, const char *key, uint64_t seq);
/* bucket NUL key NUL upload_id */
size_t meta_key_upload(uint8_t *out, const char *bucket, const char *key, const char *upload_id);
/* upload_id NUL part (4 bytes BE) */
size_t meta_key_part(uint8_t *out, const char *upload_id, uint32_t part);
/* bucket NUL seq (8 bytes BE) */
size_t meta_key_change(uint8_t *out, const char *bucket, uint64_t seq);

/* Name rules shared by mutators and apply. */
int meta_valid_bucket_name(const char *s);
int meta_valid_key(const char *s);

#endif
