/*
 * metadata/meta.h - bucket, object, version, upload, chunk and user
 * metadata.  The only header other layers include from metadata/.
 *
 * Storage is LMDB (schema, byte by byte, in docs/on-disk-format-metadata.md).
 * Every mutation is a command record: the public mutators below encode a
 * command and hand it to the store's command log (struct meta_log); the log
 * applies it to LMDB with meta_apply().  A single-node store (meta_open)
 * group-commits: the commands of concurrent callers are applied in queue
 * order inside one LMDB write transaction, committed durably (fsync)
 * before any of those mutators returns, so an acknowledged write survives
 * kill -9 and power loss (metadata/meta_log.h).  A Raft-replicated store will agree on
 * the log first, then apply the same commands on every replica.
 * Everything an apply needs (times, version ids, upload ids) is decided by
 * the caller and carried in the command, so apply is deterministic.  Each
 * command is all-or-nothing: a mutator that fails has changed nothing.
 * Reads go straight to the local LMDB, each in its own read transaction (a
 * consistent snapshot for that one call).
 *
 * Keys: S3 keys are up to 1024 bytes, LMDB keys at most 511.  Object and
 * upload keys are stored through an order-preserving long-key map
 * (metadata/lkv.c) so that listing order is exactly byte order of the full
 * key, whatever its length.  Object keys are C strings (no NUL inside);
 * bucket names are 1..63 characters of [a-z0-9.-] (the gateway applies the
 * stricter S3 rules); user names 1..63 bytes.
 *
 * Calling sequence: meta_open() -> any calls, from any thread -> meta_close().
 *
 * Thread rules: a struct meta is shared by all threads; every call is
 * thread-safe and may block on LMDB's single writer lock (mutators) or on a
 * map resize (rare).  meta_close() only after every other call returned.
 *
 * Ownership: every struct a getter fills is a deep copy owned by the
 * caller (release with the matching _release function); nothing points
 * into LMDB after a call returns.  Inputs are borrowed for the call only.
 * A call that fails leaves its out-parameters untouched.
 *
 * Time: every mutator stamps its command with the wall clock (ms since the
 * epoch) except meta_object_delete, which uses its now_ms.  That time
 * becomes zero_since_ms of chunks whose last reference the command drops.
 *
 * Errors: 0 or a negative code: errno values passed through (-ENOMEM,
 * -EIO, -ENOSPC when a command would exceed the 256 MiB record cap ...),
 * or enum meta_error.  meta_strerror() names both.
 */
#ifndef CAIRN_META_H
#define CAIRN_META_H

#include <stddef.h>
#include <stdint.h>

enum meta_error {
    META_ENOTFOUND = -31000,   /* object / version / user / chunk absent */
    META_ENOBUCKET = -31001,   /* bucket absent */
    META_EEXISTS = -31002,     /* bucket (or user, key) exists, other owner */
    META_EOWNED = -31003,      /* bucket exists and belongs to the caller */
    META_ENOTEMPTY = -31004,   /* bucket still has objects or uploads */
    META_EPRECOND = -31005,    /* a precondition of the command failed */
    META_ENOUPLOAD = -31006,   /* multipart upload absent */
    META_ENOCHUNK = -31007,    /* a referenced chunk has no record (collected):
                                  the caller writes the chunk again and retries */
    META_EINVAL = -31008,      /* malformed argument */
    META_ECORRUPT = -31009,    /* a stored record does not decode */
    META_EFULL = -31010,       /* LMDB map full */
    META_ENOPART = -31011,     /* complete: a named part is absent or its ETag differs */
};

/* Static string naming err (a meta_error, a negated errno, or 0). */
const char *meta_strerror(int err);

#define META_NAME_MAX 64      /* user and bucket names (bucket <= 63 chars) */
#define META_KEY_MAX 1024     /* S3 object key, bytes */
#define META_ETAG_MAX 48      /* "<32 hex>-<parts>" without quotes */
#define META_VERSION_MAX 40   /* version id text ("null" or 32 hex) */
#define META_UPLOAD_ID_MAX 40
#define META_PLACEMENT_MAX 96 /* opaque shard placement blob */
#define META_ATTRS_MAX 65536  /* opaque attrs blobs (object, upload, part) */
#define META_INLINE_MAX (1u << 20) /* inline object data */

struct meta;

/* Open (creating if needed) a single-node metadata store in directory dir
 * (created if absent; its parent must exist).  The LMDB map starts at
 * 64 GiB (sparse) and doubles on MDB_MAP_FULL up to 4 TiB; META_EFULL
 * beyond.  META_ECORRUPT if dir holds a store of another format version.
 * *out is owned: meta_close(). */
int meta_open(const char *dir, struct meta **out);
void meta_close(struct meta *m); /* NULL ok */

/* ------------------------------------------------------------------ */
/* Users                                                               */

struct meta_user {
    char name[META_NAME_MAX];
    char access_key[129];
    char secret_key[129];
    int64_t created_ms;
};

/* META_EEXISTS if the name or the access key is taken; META_EINVAL for an
 * empty name or access key.  Removing a user does not touch its buckets. */
int meta_user_add(struct meta *m, const struct meta_user *u);
/* META_ENOTFOUND if no user has that access key. */
int meta_user_get_by_key(struct meta *m, const char *access_key, struct meta_user *out);
/* META_ENOTFOUND if no user has that name. */
int meta_user_remove(struct meta *m, const char *name);
/* All users sorted by name.  *out is a malloc'd array of *n users (free()). */
int meta_user_list(struct meta *m, struct meta_user **out, size_t *n);

/* ------------------------------------------------------------------ */
/* Buckets                                                             */

enum meta_versioning { META_VERSIONING_OFF = 0, META_VERSIONING_ENABLED, META_VERSIONING_SUSPENDED };

struct meta_bucket {
    char name[META_NAME_MAX];
    char owner[META_NAME_MAX]; /* user name */
    int64_t created_ms;
    uint8_t versioning;        /* enum meta_versioning */
    char region[32];
};

/* META_EOWNED if it exists with the same owner, META_EEXISTS otherwise.
 * META_EINVAL for a bad name, an empty owner or a bad versioning value.
 * The owner is not checked against the users. */
int meta_bucket_create(struct meta *m, const struct meta_bucket *b);
/* META_ENOBUCKET if absent. */
int meta_bucket_get(struct meta *m, const char *name, struct meta_bucket *out);
/* META_ENOTEMPTY while any object version (delete markers included) or
 * multipart upload remains; META_ENOBUCKET if absent.  The bucket's change
 * feed is deleted with it, but its sequence counter is kept: a bucket
 * created again under the name continues the numbering, so a sync
 * client's cursor never sees a sequence number twice. */
int meta_bucket_delete(struct meta *m, const char *name);
/* Buckets of owner (NULL: all), sorted by name.  *out malloc'd, free(). */
int meta_bucket_list(struct meta *m, const char *owner, struct meta_bucket **out, size_t *n);
/* Change the versioning state (enum meta_versioning).  OFF -> ENABLED ->
 * SUSPENDED <-> ENABLED; going back to OFF once versioning was on is
 * META_EINVAL (as in S3); setting the current state is a no-op (0).
 * META_ENOBUCKET if absent.  (Addition to the original interface.) */
int meta_bucket_set_versioning(struct meta *m, const char *name, uint8_t versioning);

/*
 * Bucket configurations: named blobs the gateway keeps beside a bucket
 * (CORS rules, policy, lifecycle rules, tags, default encryption, object
 * lock).  This layer does not interpret them; names are the gateway's
 * ("cors", "policy", ...: 1..META_CONFIG_NAME_MAX-1 bytes of [a-z0-9-]).
 * A bucket's configurations are deleted with it.
 *
 * Set: store data (borrowed, len 1..META_CONFIG_MAX bytes) under name,
 * replacing what was there; len 0 deletes the configuration (0 also when
 * there was none, as S3's Delete* calls answer 204 either way).  One
 * command, so a replicated store applies it everywhere.
 * META_ENOBUCKET if the bucket is absent, META_EINVAL for a bad name or
 * length.
 *
 * Get: *data receives a malloc'd copy (free()) of *len bytes.
 * META_ENOTFOUND if the bucket has no such configuration, META_ENOBUCKET
 * if the bucket is absent; out-parameters untouched on failure.
 */
#define META_CONFIG_NAME_MAX 32
#define META_CONFIG_MAX (256u << 10)
int meta_bucket_config_set(struct meta *m, const char *bucket, const char *name,
                           const void *data, size_t len);
int meta_bucket_config_get(struct meta *m, const char *bucket, const char *name,
                           void **data, size_t *len);

/* ------------------------------------------------------------------ */
/* Chunks                                                              */

#define META_CHUNK_ID_LEN 32

struct meta_chunk_ref {
    uint8_t id[META_CHUNK_ID_LEN];
    uint32_t len;
};

struct meta_chunk {
    uint8_t id[META_CHUNK_ID_LEN];
    uint32_t len;
    uint64_t refcount;
    int64_t zero_since_ms;     /* when refcount last became 0 (or creation) */
    uint16_t placement_len;
    uint8_t placement[META_PLACEMENT_MAX]; /* opaque to this layer */
};

/* META_ENOTFOUND if the chunk has no record. */
int meta_chunk_get(struct meta *m, const uint8_t id[META_CHUNK_ID_LEN], struct meta_chunk *out);
/* Record a chunk whose shards are durable, with refcount 0 and
 * zero_since_ms = c->zero_since_ms (c->refcount is ignored).  If the chunk
 * already has a record, nothing changes and 0 is returned. */
int meta_chunk_add(struct meta *m, const struct meta_chunk *c);
/* Replace the placement of an existing chunk (after repair moved shards).
 * META_ENOTFOUND if the chunk has no record. */
int meta_chunk_set_placement(struct meta *m, const uint8_t id[META_CHUNK_ID_LEN],
                             const uint8_t *placement, uint16_t len);
/* Up to max chunks with refcount 0 and zero_since_ms <= cutoff_ms, whose id
 * sorts after *after (NULL: from the start), in id order.  Feed the last
 * id back as after to page.  Cost follows the number of unused chunks (an
 * index keeps them), not of all chunks.  *out malloc'd, free(). */
int meta_chunk_unused(struct meta *m, int64_t cutoff_ms, const uint8_t *after,
                      size_t max, struct meta_chunk **out, size_t *n);
/* In one transaction: if the chunk still has refcount 0 and
 * zero_since_ms <= cutoff_ms, delete its record (0); else META_EPRECOND;
 * META_ENOTFOUND if it has no record (already collected).
 * The collector deletes the shards only after this succeeded. */
int meta_chunk_remove_unused(struct meta *m, const uint8_t id[META_CHUNK_ID_LEN], int64_t cutoff_ms);
/* Visit every chunk record in id order, in batches: no transaction is held
 * while fn runs, so fn may do disk or network I/O.  fn returns 0 to go on;
 * a nonzero value stops the walk and is returned. */
int meta_chunk_foreach(struct meta *m, int (*fn)(void *arg, const struct meta_chunk *c), void *arg);

/* ------------------------------------------------------------------ */
/* Objects                                                             */

#define META_OBJ_DELETE_MARKER 0x1
/* The version's data (inline bytes and chunks) is sealed by the object
 * layer (server-side encryption, docs/encryption.md); chunk lengths are
 * the sealed lengths.  This layer stores the flag and does not interpret
 * it. */
#define META_OBJ_ENCRYPTED 0x2

/* One version of one object.  As an output it is a deep copy: release with
 * meta_object_release().  As an input every pointer is borrowed. */
struct meta_object {
    char *key;                        /* NUL-terminated, <= META_KEY_MAX bytes */
    char version_id[META_VERSION_MAX];/* "null" when versioning never enabled */
    int64_t mtime_ms;
    uint64_t size;
    char etag[META_ETAG_MAX];         /* without quotes */
    uint32_t flags;                   /* META_OBJ_* */
    uint8_t *attrs;                   /* opaque header blob from the gateway */
    uint32_t attrs_len;               /* <= META_ATTRS_MAX */
    uint8_t *inline_data;             /* small objects: the bytes themselves */
    uint32_t inline_len;              /* <= META_INLINE_MAX */
    struct meta_chunk_ref *chunks;    /* large objects: ordered chunk list */
    uint32_t nchunks;
};

/* Free what o holds and zero it.  NULL ok; safe on a zeroed struct. */
void meta_object_release(struct meta_object *o);

/* Preconditions checked inside the write transaction against the key's
 * current (latest, non-delete-marker) version.  Failure: META_EPRECOND.
 * A key whose latest version is a delete marker has no current version.
 * Fields left zero / NULL ask nothing; every condition set must hold. */
struct meta_precond {
    int if_none_match_star;      /* fail if the key exists */
    int if_match_star;           /* fail unless the key exists */
    const char *if_match_etag;   /* fail unless it exists with this ETag */
    const char *if_version_id;   /* fail unless the latest version has this id
                                    ("" means: fail unless the key is absent) */
    int has_if_size;             /* fail unless it exists with size if_size */
    uint64_t if_size;
    int has_if_mtime;            /* fail unless it exists and its mtime_ms,
                                    in whole seconds (rounded down), is
                                    if_mtime_s: HTTP dates carry seconds */
    int64_t if_mtime_s;
};

/*
 * Create a version of o->key in bucket, in one transaction: check the
 * bucket exists and the preconditions hold, check every chunk in o->chunks
 * has a record (META_ENOCHUNK otherwise) and add one reference per list
 * entry, replace the key's "null" version if the bucket is not versioning
 * (dropping the old version's references), store the record, append a
 * change.  The stored version id is o->version_id when the bucket has
 * versioning enabled, "null" otherwise.  replaced (may be NULL) receives a
 * copy of the version it overwrote (key NULL if none).
 *
 * Details: o->flags must be 0 or META_OBJ_ENCRYPTED (delete markers come from
 * deletes) and, on a
 * versioning-enabled bucket, o->version_id must be non-empty and not
 * "null" (META_EINVAL); the caller makes version ids unique per key (not
 * checked).  "Not versioning" covers OFF and SUSPENDED: SUSPENDED replaces
 * the "null" version wherever it is in the key's history and keeps the
 * others.  o->inline_data and o->chunks may both be set; this layer does
 * not interpret them.
 */
int meta_object_put(struct meta *m, const char *bucket, const struct meta_object *o,
                    const struct meta_precond *pc, struct meta_object *replaced);

/* Latest version (version_id NULL) or a given one.  A latest version that is
 * a delete marker is returned as such (flags) - the caller maps it to 404.
 * META_ENOTFOUND if the key (or that version) does not exist,
 * META_ENOBUCKET if the bucket does not.  Finding a version by id walks
 * the key's versions. */
int meta_object_get(struct meta *m, const char *bucket, const char *key,
                    const char *version_id, struct meta_object *out);

/*
 * Delete: with version_id NULL on a bucket without versioning, remove the
 * "null" version (META_ENOTFOUND if absent - S3 answers 204 anyway).  With
 * a version_id, remove exactly that version.  On a versioning bucket and
 * version_id NULL, add a delete marker with id marker_version_id.
 * Chunk references of a removed version are dropped in the same
 * transaction.  removed (may be NULL) receives what was removed/added.
 *
 * Conditional delete: pc (NULL: none) is checked in the same transaction
 * as for meta_object_put, against the key's current version - also when
 * version_id names another version, as S3 evaluates conditional deletes
 * against the current version only.  A failed condition is META_EPRECOND
 * and nothing is removed or added (no marker either).  A condition that
 * needs a current version (if_match_*, has_if_*, a non-empty
 * if_version_id) on a key that has no version at all is META_ENOTFOUND
 * instead (S3 answers NoSuchKey); a key whose latest version is a delete
 * marker fails with META_EPRECOND (S3: 412).
 *
 * Details: versioning ENABLED with version_id NULL needs a non-empty
 * marker_version_id other than "null" (META_EINVAL).  Versioning SUSPENDED
 * with version_id NULL follows S3: the "null" version (if any) is removed
 * and a delete marker with id "null" is added; removed receives the
 * marker.  Removing a version by id (a delete marker too) may uncover an
 * older version as the latest.  The marker's mtime is now_ms; now_ms is
 * also the command's time.  Every successful delete appends a
 * META_CHANGE_DELETE change with the removed version's (or the marker's)
 * id.
 */
int meta_object_delete(struct meta *m, const char *bucket, const char *key,
                       const char *version_id, const char *marker_version_id,
                       int64_t now_ms, const struct meta_precond *pc,
                       struct meta_object *removed);

/*
 * Replace the attrs blob of one version (version_id NULL: the latest) of
 * bucket/key, if its attrs are still expect (expect_len bytes, borrowed):
 * a compare-and-swap, so two read-modify-write updates of one version
 * (tags, retention, legal hold) never lose each other's change.  On
 * META_EPRECOND the caller reads the version again and retries.  The
 * version keeps its id, ETag, mtime and data; no change-feed entry is
 * appended (the content did not change).
 *
 * META_ENOTFOUND if the key or the version does not exist, or (version_id
 * NULL) the latest version is a delete marker; META_EINVAL if the version
 * named is a delete marker (S3 refuses those calls with 405) or attrs_len
 * exceeds META_ATTRS_MAX; META_ENOBUCKET if the bucket is absent.
 */
int meta_object_set_attrs(struct meta *m, const char *bucket, const char *key,
                          const char *version_id, const uint8_t *expect, uint32_t expect_len,
                          const uint8_t *attrs, uint32_t attrs_len);

struct meta_list_req {
    const char *bucket;
    const char *prefix;      /* NULL or "" for none */
    const char *delimiter;   /* NULL or "" for none */
    const char *start_after; /* emit only keys/prefixes strictly greater */
    size_t max_keys;         /* entries (keys + common prefixes), >= 1 */
};

struct meta_list_entry {
    char *key;               /* the key, or the common prefix */
    int is_prefix;
    uint64_t size;           /* keys only (0 for prefixes) */
    int64_t mtime_ms;
    char etag[META_ETAG_MAX];
    char version_id[META_VERSION_MAX]; /* keys only */
    uint32_t flags;          /* META_OBJ_DELETE_MARKER (version listings only) */
    int is_latest;           /* the key's latest version (always so in
                                meta_object_list) */
};

struct meta_list_res {
    struct meta_list_entry *entries; /* in key order, keys and prefixes mixed */
    size_t n;
    int truncated;           /* more entries exist after the last one */
};

/*
 * List the current versions (delete markers hidden).  With a delimiter,
 * keys sharing prefix+...+delimiter roll up into one common prefix and the
 * cursor seeks past them (cost follows the page, not the bucket).
 * *out is owned: meta_list_res_release().
 *
 * Exactly: take the keys whose latest version is not a delete marker and
 * that start with prefix; map each to prefix + (the rest up to and
 * including the first delimiter) when the rest contains the delimiter,
 * else to itself; emit the distinct results strictly greater than
 * start_after in byte order, at most max_keys.  So a common prefix shows
 * only if one of its keys is current, and passing the last entry of a
 * page (key or prefix) as the next start_after resumes exactly after it
 * (use it as NextMarker / ContinuationToken).  META_ENOBUCKET if absent;
 * META_EINVAL for max_keys 0 or strings longer than META_KEY_MAX.
 */
int meta_object_list(struct meta *m, const struct meta_list_req *req, struct meta_list_res *out);
/* Free what r holds and zero it.  NULL ok. */
void meta_list_res_release(struct meta_list_res *r);

struct meta_version_list_req {
    const char *bucket;
    const char *prefix;            /* NULL or "" for none */
    const char *delimiter;         /* NULL or "" for none */
    const char *key_marker;        /* NULL or "": from the start */
    const char *version_id_marker; /* NULL or "": none; only with a key_marker */
    size_t max_keys;               /* entries (versions, delete markers and
                                      common prefixes), >= 1 */
};

/*
 * List every version of every key (S3's ListObjectVersions): keys in byte
 * order, each key's versions newest first, delete markers included (flags
 * META_OBJ_DELETE_MARKER, size 0, etag ""), is_latest set on each key's
 * newest version.  With a delimiter, keys sharing prefix+...+delimiter
 * roll up into one common prefix entry and the cursor seeks past them, as
 * in meta_object_list; without one the walk visits one record per entry
 * emitted, so the cost follows the page, not the bucket or the number of
 * versions of a key.  *out is owned: meta_list_res_release().
 *
 * Exactly: every version (and delete marker) of a key starting with
 * prefix is an entry, unless the key rolls up as in meta_object_list (a
 * common prefix entry stands for all the versions of all its keys, and
 * shows if any of its keys has a version at all).  The entries strictly
 * after the markers are emitted in that order, at most max_keys:
 *   - no key_marker: from the first entry;
 *   - key_marker alone: entries whose key (or common prefix) is strictly
 *     greater than key_marker;
 *   - key_marker and version_id_marker: the versions of key_marker older
 *     than the one with that id, then as with key_marker alone.  If
 *     key_marker has no version with that id (it was deleted since), the
 *     walk goes on with the next key.
 * So passing the last entry of a page back as key_marker, with its
 * version_id as version_id_marker unless it is a common prefix, resumes
 * exactly after it (S3's NextKeyMarker / NextVersionIdMarker); truncated
 * says whether another entry exists.  Finding a version_id_marker walks
 * the key's versions up to it.
 *
 * META_ENOBUCKET if the bucket is absent; META_EINVAL for max_keys 0,
 * strings longer than META_KEY_MAX, or a version_id_marker of
 * META_VERSION_MAX bytes or more.
 */
int meta_object_list_versions(struct meta *m, const struct meta_version_list_req *req,
                              struct meta_list_res *out);

/* ------------------------------------------------------------------ */
/* Multipart uploads                                                   */

struct meta_upload {
    char upload_id[META_UPLOAD_ID_MAX];
    char *key;
    int64_t initiated_ms;
    uint8_t *attrs;          /* headers for the final object (opaque) */
    uint32_t attrs_len;      /* <= META_ATTRS_MAX */
};

struct meta_part {
    uint32_t part_number;    /* 1..10000 */
    uint64_t size;
    char etag[META_ETAG_MAX];
    int64_t mtime_ms;
    uint8_t *attrs;          /* per-part checksums (opaque) */
    uint32_t attrs_len;      /* <= META_ATTRS_MAX */
    struct meta_chunk_ref *chunks;
    uint32_t nchunks;
};

void meta_upload_release(struct meta_upload *u);
void meta_part_release(struct meta_part *p);
/* Release n uploads / parts and free the array (NULL ok). */
void meta_upload_array_free(struct meta_upload *u, size_t n);
void meta_part_array_free(struct meta_part *p, size_t n);

/* Start an upload of u->key with the caller's u->upload_id (non-empty).
 * Upload ids are unique across the whole store: META_EEXISTS if the id is
 * in use by any open upload.  META_ENOBUCKET if the bucket is absent. */
int meta_upload_create(struct meta *m, const char *bucket, const struct meta_upload *u);
/* META_ENOUPLOAD unless (bucket, key, upload_id) names an open upload. */
int meta_upload_get(struct meta *m, const char *bucket, const char *key,
                    const char *upload_id, struct meta_upload *out);
/* Store a part (chunk references added, META_ENOCHUNK as for objects); an
 * existing part with the same number is replaced and its references dropped.
 * META_ENOUPLOAD if the upload is absent, META_EINVAL for a part number
 * outside 1..10000. */
int meta_part_put(struct meta *m, const char *bucket, const char *key,
                  const char *upload_id, const struct meta_part *p);
/* Parts with number > after, ascending, at most max. *out: free with
 * meta_part_array_free.  truncated (may be NULL): more parts follow.
 * META_ENOUPLOAD if the upload is absent. */
int meta_part_list(struct meta *m, const char *bucket, const char *key,
                   const char *upload_id, uint32_t after, size_t max,
                   struct meta_part **out, size_t *n, int *truncated);

/*
 * Complete: in one transaction check each (part_numbers[i], part_etags[i])
 * still matches a stored part (META_ENOPART otherwise), build the object's
 * chunk list by concatenating those parts' lists, drop the references of
 * parts not named, delete the upload, and store obj (its chunks/inline
 * fields are ignored; size and etag are the caller's) exactly as
 * meta_object_put does, including preconditions.
 *
 * Details: part numbers must be strictly ascending and within 1..10000,
 * nparts 1..10000 (META_EINVAL; S3's InvalidPartOrder).  The named parts'
 * references move to the object (no net change).  META_ENOUPLOAD if the
 * upload is absent.  On any failure the upload and its parts are intact.
 */
int meta_upload_complete(struct meta *m, const char *bucket, const char *key,
                         const char *upload_id, const uint32_t *part_numbers,
                         const char *const *part_etags, size_t nparts,
                         const struct meta_object *obj, const struct meta_precond *pc,
                         struct meta_object *replaced);
/* Delete the upload and drop all its parts' references.  META_ENOUPLOAD if
 * absent. */
int meta_upload_abort(struct meta *m, const char *bucket, const char *key, const char *upload_id);

struct meta_upload_list_req {
    const char *bucket;
    const char *prefix;
    const char *key_marker;       /* uploads with key > marker, or key == marker */
    const char *upload_id_marker; /*   and upload id > this one */
    size_t max;
};
/* Uploads in (key, upload id) order (byte order of each).  Without a
 * key_marker, upload_id_marker is ignored; with a key_marker and no
 * upload_id_marker, only keys > key_marker are listed.  truncated (may be
 * NULL): more uploads follow.  META_ENOBUCKET if absent.
 * *out: meta_upload_array_free. */
int meta_upload_list(struct meta *m, const struct meta_upload_list_req *req,
                     struct meta_upload **out, size_t *n, int *truncated);

/* ------------------------------------------------------------------ */
/* Change feed (for sync clients)                                      */

enum meta_change_op { META_CHANGE_PUT = 1, META_CHANGE_DELETE = 2 };

/* One change.  PUT: the new version's id, etag, size, mtime.  DELETE: the
 * removed version's id, etag and size, or the added delete marker's id
 * (etag "", size 0); mtime is the delete's now_ms. */
struct meta_change {
    uint64_t seq;            /* per bucket, strictly increasing from 1 */
    uint8_t op;
    char *key;
    char version_id[META_VERSION_MAX];
    char etag[META_ETAG_MAX];
    uint64_t size;
    int64_t mtime_ms;
};

/* Changes of bucket with seq > after, at most max, ascending.  Every
 * object put, delete and upload complete appends one change, in commit
 * order.  META_ENOBUCKET if absent.  *out: free each key and the array
 * (meta_change_array_free). */
int meta_change_list(struct meta *m, const char *bucket, uint64_t after, size_t max,
                     struct meta_change **out, size_t *n);
void meta_change_array_free(struct meta_change *c, size_t n);
/* The seq of bucket's newest change (0: none yet) into *seq: the cursor
 * from which a reader sees only what happens from now on.  META_ENOBUCKET
 * if absent. */
int meta_change_last(struct meta *m, const char *bucket, uint64_t *seq);

/* ------------------------------------------------------------------ */
/* Statistics                                                          */

/* Counters kept in the store (no scan):
 *   buckets        bucket records
 *   objects        keys whose latest version is not a delete marker
 *   versions       version records, delete markers included
 *   uploads        open multipart uploads
 *   chunks         chunk records; chunk_bytes the sum of their len
 *   unused_chunks  chunk records with refcount 0 */
struct meta_stats {
    uint64_t buckets, objects, versions, uploads, chunks, chunk_bytes, unused_chunks;
};
int meta_stats(struct meta *m, struct meta_stats *out);

#endif
