/*
 * chunkstore/chunkstore.h - erasure-coded, content-addressed chunk storage.
 *
 * The only header other layers include from chunkstore/.  The chunkstore
 * knows chunks (byte strings named by their SHA-256) and nothing of
 * buckets, keys or objects.
 *
 * Two levels:
 *
 *  - A shard store holds shards (one erasure-coded piece of one chunk) on
 *    one drive.  struct shard_store is an interface: a local drive folder
 *    (segment files + LMDB index, drive_open()), an in-memory store for
 *    tests (mem_store_new()), and later a remote storage node all implement
 *    it, so the layers above do not change when shards move off the box.
 *
 *  - A chunkstore (struct chunkstore) spreads each chunk over k+m shard
 *    stores with isa-l Reed-Solomon (systematic Cauchy matrix), chooses the
 *    stores by rendezvous hashing, writes the shards in parallel through
 *    one worker queue per store (one slow drive does not stall the others),
 *    and reconstructs from parity when shards are missing or corrupt.
 *
 * Calling sequence: drive_open() each drive -> cs_open() (takes the
 * stores) -> cs_put()/cs_get()/cs_delete()/cs_repair() from any number of
 * threads -> cs_close().
 *
 * Errors: functions return 0 or a negative code: errno values passed
 * through unchanged (-ENOSPC, -EIO, -ENOMEM ...) or one of enum cs_error.
 * cs_strerror() names both.
 */
#ifndef CAIRN_CHUNKSTORE_H
#define CAIRN_CHUNKSTORE_H

#include <stddef.h>
#include <stdint.h>

#define CHUNK_ID_LEN 32     /* SHA-256 of the chunk's bytes */
#define CS_MAX_SHARDS 32    /* k + m never exceeds this */
#define CS_MAX_CHUNK (8u << 20) /* largest chunk accepted (FastCDC max is 4 MiB) */

enum cs_error {
    CS_ENOTFOUND = -30000, /* shard or chunk not present */
    CS_ECORRUPT = -30001,  /* shard present but its CRC32C (or header) is wrong */
    CS_EUNAVAIL = -30002,  /* fewer than k good shards: chunk unreadable now */
    CS_EINVAL = -30003,    /* bad argument (k/m out of range, chunk too big...) */
    CS_EHASH = -30004,     /* reconstructed bytes do not hash to the chunk id */
    CS_ECLOSED = -30005,   /* store shutting down */
};

/* Name of any code this layer returns (including negated errno values).
 * Returns a static string. */
const char *cs_strerror(int err);

/* ------------------------------------------------------------------ */
/* Shard stores                                                        */

struct shard_store;

/* Called by shard_store_ops.iterate for each live shard.  Return 0 to go
 * on, nonzero to stop (that value is returned by iterate).  The id pointer
 * is borrowed for the duration of the call. */
typedef int (*shard_iter_fn)(void *arg, const uint8_t chunk_id[CHUNK_ID_LEN],
                             uint8_t shard_idx, uint32_t len, int64_t written_unix);

struct shard_store_stat {
    uint64_t bytes_total;  /* capacity of the file system holding the drive */
    uint64_t bytes_free;   /* free bytes there */
    uint64_t shards;       /* live shards */
    uint64_t bytes_live;   /* payload bytes of live shards */
    uint64_t bytes_dead;   /* bytes in segments held by deleted shards */
    /* Counters since the store was opened (0 where a store has no such
     * thing, e.g. the in-memory store): */
    uint64_t writes;       /* records appended (shard puts and tombstones) */
    uint64_t write_batches; /* group commits: each made >= 1 write durable */
    uint64_t syncs;        /* fsync/fdatasync calls (segments, folder, index) */
    uint64_t index_checkpoints; /* index commits made durable (see drive_opts) */
};

/* One write of a batch (shard_write_batch): a put when data is non-NULL,
 * a delete when data is NULL.  Everything is borrowed for the call. */
struct shard_write {
    const uint8_t *chunk_id; /* CHUNK_ID_LEN bytes */
    uint8_t shard_idx;
    const void *data;        /* NULL: delete this shard */
    uint32_t len;
    int err;                 /* out: this write's result, as put/del return */
};

struct shard_store_ops {
    /* Store one shard durably: it is on disk (fdatasync'd, group-committed
     * with concurrent puts) when this returns 0.  data is borrowed.
     * Replaces an existing shard of the same (chunk_id, shard_idx). */
    int (*put)(struct shard_store *s, const uint8_t chunk_id[CHUNK_ID_LEN],
               uint8_t shard_idx, const void *data, uint32_t len);
    /* Read one shard into buf (capacity cap) and set *len.  Verifies the
     * shard's CRC32C: CS_ECORRUPT on mismatch, CS_ENOTFOUND if absent,
     * CS_EINVAL if cap is too small.  Never waits behind a write batch's
     * fdatasync. */
    int (*get)(struct shard_store *s, const uint8_t chunk_id[CHUNK_ID_LEN],
               uint8_t shard_idx, void *buf, uint32_t cap, uint32_t *len);
    /* Remove a shard (durable on return).  Removing an absent shard is 0. */
    int (*del)(struct shard_store *s, const uint8_t chunk_id[CHUNK_ID_LEN],
               uint8_t shard_idx);
    /* Visit every live shard (order unspecified). */
    int (*iterate)(struct shard_store *s, shard_iter_fn fn, void *arg);
    int (*stat)(struct shard_store *s, struct shard_store_stat *out);
    /* Release everything; s is invalid afterwards.  No call may be running
     * on s. */
    void (*close)(struct shard_store *s);
    /* Optional (NULL: shard_write_batch() loops over put/del).  Apply the n
     * writes in order with one group commit: when it returns, every write
     * whose w[i].err is 0 is durable.  Returns 0 if all succeeded, else
     * the first nonzero w[i].err. */
    int (*write_batch)(struct shard_store *s, struct shard_write *w, int n);
    /* Optional (NULL: nothing to reclaim).  Give back the space of deleted
     * and superseded shards; *freed gets the bytes returned to the file
     * system.  Runs alongside every other call (they are delayed, not
     * stopped).  Returns 0 or the error that stopped it (-ENOSPC when
     * there is no room to move live shards: what it freed stays freed). */
    int (*compact)(struct shard_store *s, uint64_t *freed);
};

/* Every implementation embeds this as its first member (zeroed, then ops
 * and name set). */
struct shard_store {
    const struct shard_store_ops *ops;
    char name[128]; /* for logs and metrics: the drive path or node address */
    int fault;      /* fault injection, see shard_store_set_fault(); 0 = off */
};

/* Thin wrappers: the single place for metrics and fault injection.  Same
 * contracts as the ops they call.  Thread rules: every shard store accepts
 * concurrent calls from any number of threads (except close). */
int shard_put(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx,
              const void *data, uint32_t len);
int shard_get(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx,
              void *buf, uint32_t cap, uint32_t *len);
int shard_del(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx);
/* Apply n writes (puts and deletes) in order, group-committed when the
 * store supports it; see shard_store_ops.write_batch. */
int shard_write_batch(struct shard_store *s, struct shard_write *w, int n);
/* Reclaim space (shard_store_ops.compact); *freed is 0 for stores that
 * have nothing to reclaim. */
int shard_compact(struct shard_store *s, uint64_t *freed);

/* Fault injection (tests, fault drills): while err is nonzero, every call
 * through the shard_* wrappers above fails with err without reaching the
 * store (as a dead drive or unreachable node would).  0 turns it off.
 * Thread-safe. */
void shard_store_set_fault(struct shard_store *s, int err);

/*
 * Open (creating if needed) the drive folder at path: append-only segment
 * files (every shard record self-describing, so the index can be rebuilt by
 * scanning) and an LMDB index shard -> (segment, offset, length, CRC32C).
 * A missing or emptied folder is recreated empty: its shards are then
 * simply absent and the chunkstore reconstructs them from the others.
 * On success *out is an owned store (close with ->close or cs_close).
 */
int drive_open(const char *path, struct shard_store **out);

/*
 * Drive engine details (chunkstore/drive_segment.c; the byte layout is in
 * docs/on-disk-format-chunkstore.md):
 *
 *  - put/del append a record (a tombstone for del) to the active segment
 *    (seg-NNNNNNNN.dat, rolled over at segment_bytes).  Concurrent writers
 *    are group-committed: one of them becomes the batch leader, appends
 *    every queued record and issues ONE fdatasync of the segment, then
 *    wakes the others.  put returns only after that fdatasync: the segment
 *    record (self-describing, with CRCs) is the durable truth.
 *  - The LMDB index is a cache of the segments that may lag behind them.
 *    A batch's index changes go to an in-memory overlay (readers consult it
 *    before LMDB); every checkpoint_records records or checkpoint_ms, and
 *    at close, one LMDB transaction applies the overlay together with the
 *    segment position up to which the index is complete, and is synced.
 *    open replays every record after that position (shards and
 *    tombstones, across segment rollovers), so an acknowledged write is
 *    never lost.  The index also stores a checksum of its entries and a
 *    check of that position against the segment bytes; an index that is
 *    missing, unreadable, from an older format, or fails either check is
 *    rebuilt from the segments (a rebuild is always correct); entries of
 *    segment files that disappeared are dropped.  A torn (or all-zero) tail of the last segment
 *    is truncated.
 *  - get looks in the overlay, else does an LMDB read txn, then a preadv;
 *    it never takes the writer's lock, so it does not wait for a batch's
 *    fdatasync.  The record header (magic, CRC, chunk id, shard index,
 *    length) and the payload CRC32C are checked on every read: a stale or
 *    damaged index entry gives CS_ECORRUPT, never wrong bytes.
 *  - A missing or emptied folder opens empty.  If the folder (or the
 *    active segment) disappears while open, reads of the lost shards
 *    return CS_ENOTFOUND, and the next write re-opens the drive in place
 *    (empty, or with whatever segments are still there).
 *  - Write errors: -ENOSPC (or any write error) fails that record only and
 *    truncates its partial bytes away.  A failed fdatasync fails the batch
 *    and makes the drive refuse writes (-EIO) until it is re-opened, as
 *    the page cache can no longer be trusted.
 *  - Dead space (replaced/deleted records, tombstones) is counted in
 *    stat.bytes_dead; compaction is not implemented yet.
 *  - iterate first checkpoints the index (so it sees every write that
 *    returned before it started), then walks LMDB.
 */
struct drive_opts {
    uint64_t segment_bytes;  /* roll over past this size; 0 = 256 MiB */
    /* 0 = no limit.  Otherwise the drive behaves like a file system of
     * this many bytes (segment files only): a record that does not fit is
     * partly written, then fails with -ENOSPC and is truncated away, the
     * same path a real full disk takes.  Used by tests; also usable as a
     * quota. */
    uint64_t capacity_bytes;
    /* Index checkpoint policy: the overlay is committed to LMDB and synced
     * once it holds this many records (0 = 8192; at most 1<<20) ... */
    uint32_t checkpoint_records;
    /* ... or this many milliseconds after the last checkpoint, checked
     * after each batch (0 = 2000).  More means fewer syncs and more to
     * replay after a crash (never more than 256 MiB of records). */
    uint32_t checkpoint_ms;
};

/* drive_open() with options (opts may be NULL: defaults). */
int drive_open_opts(const char *path, const struct drive_opts *opts,
                    struct shard_store **out);

/* A complete in-memory shard store (tests and benchmarks).  Owned.
 * Returns NULL if out of memory.  Thread-safe (reads in parallel). */
struct shard_store *mem_store_new(const char *name);

/* Limit a mem store to bytes of payload (0 = unlimited): a put that would
 * go past it fails with -ENOSPC, as a full drive does.  s must come from
 * mem_store_new(); other stores are left alone. */
void mem_store_set_capacity(struct shard_store *s, uint64_t bytes);

/* ------------------------------------------------------------------ */
/* Chunkstore                                                          */

/* Where the shards of one chunk live: shard i is on store drive[i].
 * Recorded by the metadata layer with the chunk, so changing the set of
 * drives never loses track of data. */
struct cs_placement {
    uint8_t k, m;
    uint8_t flags;      /* CS_PL_*; cs_place sets 0 */
    uint16_t drive[CS_MAX_SHARDS];
};

/* The chunk's id is not the SHA-256 of its bytes (an encrypted chunk,
 * named by a keyed hash: docs/encryption.md), so a chunk rebuilt from
 * parity cannot be checked against it here: its shards' CRC32Cs vouch for
 * it, and the layer above authenticates the bytes (GCM tag) as it reads
 * them. */
#define CS_PL_SEALED 0x1

/* What a read or repair found, per shard: 0 good (or not read), else the
 * error code (CS_ENOTFOUND, CS_ECORRUPT, -EIO ...).  A healthy cs_get reads
 * only the data shards under its range; once one of those fails it reads
 * every other shard, so the report then covers all k+m.  cs_repair always
 * reads all k+m. */
struct cs_report {
    int shard_err[CS_MAX_SHARDS];
    int bad_shards;     /* shards that were missing or corrupt */
    int reconstructed;  /* 1 if parity was used to rebuild data */
    int rewritten;      /* cs_repair: shards written back */
};

/*
 * Thread rules: every cs_* function may be called from any number of
 * threads at once, except cs_close (no other call may be running or start).
 * cs_put, cs_delete and cs_repair of the same id are serialised inside
 * (a failed put's clean-up must not delete another put's shards); reads are
 * never serialised.  Writes go through one worker thread per store
 * ("cs-drive-N"), which hands everything queued for its store to
 * shard_write_batch() (group commit); reads run in the calling thread, so
 * they never wait behind a write batch.
 */
struct chunkstore;

/*
 * Build a chunkstore over nstores shard stores with EC k+m
 * (1 <= k, 0 <= m, k+m <= CS_MAX_SHARDS, k+m <= nstores).  Takes ownership
 * of stores[0..nstores-1] (the array itself is copied) and starts one
 * worker thread per store.  On failure the stores are still the caller's.
 */
int cs_open(struct shard_store **stores, int nstores, int k, int m,
            struct chunkstore **out);
/* Returns 0, CS_EINVAL (bad k/m/nstores, a NULL store), -ENOMEM or a
 * pthread_create error.  Placements of existing chunks keep working after
 * k/m change: cs_get/cs_repair/cs_delete use the k and m recorded in the
 * placement. */

/* Drain the worker queues, stop the workers, close the stores, free. NULL ok. */
void cs_close(struct chunkstore *cs);

int cs_k(const struct chunkstore *cs);
int cs_m(const struct chunkstore *cs);
int cs_nstores(const struct chunkstore *cs);
struct shard_store *cs_store(struct chunkstore *cs, int i);

/* Shard length for a chunk of len bytes under k (data padded to k shards,
 * each rounded up to a multiple of 64 for the SIMD code):
 * ceil(len / k) rounded up to a multiple of 64; 0 for len 0.  Data shard i
 * holds chunk bytes [i*L, (i+1)*L), zero-padded past len. */
uint32_t cs_shard_len(size_t len, int k);

/* Rendezvous placement of chunk id over this chunkstore's stores: k+m
 * distinct store indexes, highest score first.  Pure function of id and
 * the store count (and k+m).  Score = a fixed 64-bit mix of (id, store
 * index): see chunkstore/placement.c; it is part of the format. */
void cs_place(const struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN],
              struct cs_placement *out);

/*
 * Store a chunk: encode into k data + m parity shards, write all k+m in
 * parallel on the placed stores.  Returns 0 only when every shard is
 * durable; then *out says where they went.  On failure (e.g. -ENOSPC from
 * one drive) the shards already written are removed again and *out is
 * untouched.  The caller has checked id == SHA-256(data); data is borrowed.
 * 1 <= len <= CS_MAX_CHUNK, else CS_EINVAL (empty objects never reach the
 * chunkstore).  Returns 0, or the reduced shard errors: -ENOSPC if any
 * store was full, else the first error by shard index.
 * Putting an id that is already stored rewrites its shards (same bytes);
 * if that fails, the clean-up removes them from the stores that took the
 * write, so check for the chunk first (dedup does) and use cs_repair to
 * mend a degraded one.
 */
int cs_put(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN], const void *data,
           size_t len, struct cs_placement *out);

/*
 * Read bytes [off, off+n) of a chunk of total length len into out.
 * Reads only the data shards that cover the range on the healthy path; on a
 * missing or corrupt shard reads the others and reconstructs, then checks
 * the whole chunk's SHA-256 against id (never serves a wrong byte).
 * rep (may be NULL) tells which shards were bad, for repair.
 * Returns 0, CS_EUNAVAIL if fewer than k good shards, CS_EHASH.
 * Also CS_EINVAL (len not in 1..CS_MAX_CHUNK, range past len, a placement
 * naming a store this chunkstore does not have) and -ENOMEM.  n == 0 is a
 * successful no-op.  On the healthy path bytes are vouched for by each
 * shard's CRC32C; out may hold partial data after a failure.  Runs in the
 * calling thread.
 */
int cs_get(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN],
           const struct cs_placement *pl, size_t len, size_t off, size_t n,
           void *out, struct cs_report *rep);

/* Remove all shards of a chunk.  Absent shards are not an error.  Returns
 * the first error from a reachable store, else 0 (-ENOSPC first: a full
 * drive may have no room for the tombstone of a delete).  CS_EINVAL for a
 * bad placement. */
int cs_delete(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN],
              const struct cs_placement *pl);

/*
 * Verify every shard of a chunk (read + CRC) and rewrite the missing or
 * corrupt ones from the good ones, in place (same stores).  rep says what
 * was found and rewritten.  Returns 0 when all k+m shards are good
 * afterwards, CS_EUNAVAIL if the chunk cannot be rebuilt (fewer than k good).
 * Also CS_EHASH (the rebuilt chunk does not hash to id: nothing is
 * written), or the reduced error of the rewrites (rep->rewritten counts
 * the ones that succeeded).  Reads in the calling thread, writes through
 * the workers.
 */
int cs_repair(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN],
              const struct cs_placement *pl, size_t len, struct cs_report *rep);

/* ------------------------------------------------------------------ */
/* Erasure codec (exposed for tests and the bench tool)                */

struct ec_codec;
/* Owned codec for k+m (k >= 1, m >= 0, k+m <= CS_MAX_SHARDS); NULL on error. */
struct ec_codec *ec_codec_new(int k, int m);
void ec_codec_free(struct ec_codec *c);
/* Compute the m parity shards from the k data shards (each shard_len
 * bytes, shard_len a multiple of 64 is fastest). */
void ec_codec_encode(struct ec_codec *c, size_t shard_len, uint8_t **data,
                     uint8_t **parity);
/* shards[0..k+m-1]: present[i] says whether shards[i] holds good bytes.
 * Rebuilds every absent shard in place (all buffers shard_len bytes) from
 * the first k present ones (inverting that k x k submatrix of the Cauchy
 * generator).  Returns 0, or CS_EUNAVAIL if fewer than k are present (then
 * nothing is written).  A codec is immutable: encode and reconstruct may
 * run on one codec from many threads. */
int ec_codec_reconstruct(struct ec_codec *c, size_t shard_len, uint8_t **shards,
                         const uint8_t *present);

#endif
