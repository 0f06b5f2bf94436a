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
    /* Release everything; s is invalid afterwards. */
    void (*close)(struct shard_store *s);
};

struct shard_store {
    const struct shard_store_ops *ops;
    char name[128]; /* for logs and metrics: the drive path or node address */
};

/* Thin wrappers: the single place for metrics and fault injection. */
int shard_put(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx,
              const void *data, uint32_t len);
int shard_get(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx,
              void *buf, uint32_t cap, uint32_t *len);
int shard_del(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx);

/*
 * Open (creating if needed) the drive folder at path: append-only segment
 * files (every shard record self-describing, so the index can be rebuilt by
 * scanning) and an LMDB index shard -> (segment, offset, length, CRC32C).
 * A missing or emptied folder is recreated empty: its shards are then
 * simply absent and the chunkstore reconstructs them from the others.
 * On success *out is an owned store (close with ->close or cs_close).
 */
int drive_open(const char *path, struct shard_store **out);

/* A complete in-memory shard store (tests and benchmarks).  Owned. */
struct shard_store *mem_store_new(const char *name);

/* ------------------------------------------------------------------ */
/* Chunkstore                                                          */

/* Where the shards of one chunk live: shard i is on store drive[i].
 * Recorded by the metadata layer with the chunk, so changing the set of
 * drives never loses track of data. */
struct cs_placement {
    uint8_t k, m;
    uint16_t drive[CS_MAX_SHARDS];
};

/* What a read or repair found, per shard: 0 good, else the error code. */
struct cs_report {
    int shard_err[CS_MAX_SHARDS];
    int bad_shards;     /* shards that were missing or corrupt */
    int reconstructed;  /* 1 if parity was used to rebuild data */
    int rewritten;      /* cs_repair: shards written back */
};

struct chunkstore;

/*
 * Build a chunkstore over nstores shard stores with EC k+m
 * (1 <= k, 0 <= m, k+m <= CS_MAX_SHARDS, k+m <= nstores).  Takes ownership
 * of stores[0..nstores-1] (the array itself is copied) and starts one
 * worker thread per store.  On failure the stores are still the caller's.
 */
int cs_open(struct shard_store **stores, int nstores, int k, int m,
            struct chunkstore **out);
/* Drain the worker queues, stop the workers, close the stores, free. NULL ok. */
void cs_close(struct chunkstore *cs);

int cs_k(const struct chunkstore *cs);
int cs_m(const struct chunkstore *cs);
int cs_nstores(const struct chunkstore *cs);
struct shard_store *cs_store(struct chunkstore *cs, int i);

/* Shard length for a chunk of len bytes under k (data padded to k shards,
 * each rounded up to a multiple of 64 for the SIMD code). */
uint32_t cs_shard_len(size_t len, int k);

/* Rendezvous placement of chunk id over this chunkstore's stores: k+m
 * distinct store indexes, highest score first.  Pure function of id and
 * the store count. */
void cs_place(const struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN],
              struct cs_placement *out);

/*
 * Store a chunk: encode into k data + m parity shards, write all k+m in
 * parallel on the placed stores.  Returns 0 only when every shard is
 * durable; then *out says where they went.  On failure (e.g. -ENOSPC from
 * one drive) the shards already written are removed again and *out is
 * untouched.  The caller has checked id == SHA-256(data); data is borrowed.
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
 */
int cs_get(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN],
           const struct cs_placement *pl, size_t len, size_t off, size_t n,
           void *out, struct cs_report *rep);

/* Remove all shards of a chunk.  Absent shards are not an error.  Returns
 * the first error from a reachable store, else 0. */
int cs_delete(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN],
              const struct cs_placement *pl);

/*
 * Verify every shard of a chunk (read + CRC) and rewrite the missing or
 * corrupt ones from the good ones, in place (same stores).  rep says what
 * was found and rewritten.  Returns 0 when all k+m shards are good
 * afterwards, CS_EUNAVAIL if the chunk cannot be rebuilt (fewer than k good).
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
 * Rebuilds every absent shard in place (all buffers shard_len bytes).
 * Returns 0, or CS_EUNAVAIL if fewer than k are present. */
int ec_codec_reconstruct(struct ec_codec *c, size_t shard_len, uint8_t **shards,
                         const uint8_t *present);

#endif
