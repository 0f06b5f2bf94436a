/*
 * gateway/objlayer.h - the object layer: objects made of chunks.
 *
 * Below the S3 handlers and above metadata/ and chunkstore/.  It composes
 * the two: a PUT body is cut by FastCDC, every chunk is named by its
 * SHA-256, chunks the store already has are not written again (global
 * dedup), new chunks are erasure-coded into the chunkstore, and only when
 * every chunk is durable does one metadata transaction make the version
 * visible.  Small bodies are kept inline in the metadata record.
 *
 * The S3 handlers see only this header (and meta.h's record structs); they
 * never call the chunkstore directly.
 *
 * Errors: 0 or a negative code: enum ol_error, enum meta_error and
 * enum cs_error codes passed through from below, or -errno.  The gateway's
 * one error table (s3_error.c) maps every one of them to an S3 error.
 *
 * Threads: every function may be called from any number of threads at once,
 * except that one ol_writer / ol_reader belongs to one thread at a time.
 */
#ifndef CAIRN_GATEWAY_OBJLAYER_H
#define CAIRN_GATEWAY_OBJLAYER_H

#include <stddef.h>
#include <stdint.h>

#include "chunkstore/chunkstore.h"
#include "common/hash.h"
#include "common/sse_crypto.h"
#include "metadata/meta.h"

enum ol_error {
    OL_EBADDIGEST = -33000,     /* Content-MD5 did not match */
    OL_ECHECKSUM = -33002,      /* x-amz-checksum-* did not match */
    OL_ETOOLARGE = -33003,      /* body over the object / part size limit */
    OL_EINCOMPLETE = -33004,    /* body shorter than Content-Length */
    OL_EINVALIDPART = -33005,   /* complete: unknown part or wrong ETag */
    OL_EPARTORDER = -33006,     /* complete: parts not ascending */
    OL_ETOOSMALL = -33007,      /* complete: a non-last part under 5 MiB */
    OL_ERANGE = -33008,         /* range not satisfiable */
    OL_ELOCKED = -33009,        /* the version is under object lock (the gateway's check) */
    OL_ENOKEY = -33010,         /* read of an encrypted object without its key */
    OL_EDECRYPT = -33011,       /* sealed data did not authenticate: corrupt */
};

const char *ol_strerror(int err);

#define OL_MAX_OBJECT_SIZE (5ULL << 40) /* 5 TiB, as S3 */
#define OL_MAX_PUT_SIZE (5ULL << 30)    /* single PUT / part: 5 GiB */
#define OL_MIN_PART_SIZE (5u << 20)     /* every part but the last */
#define OL_MAX_PARTS 10000

struct ol_config {
    size_t inline_max;      /* bodies below this many bytes stay inline (128 KiB) */
    int64_t gc_grace_ms;    /* unreferenced chunks older than this are collected */
};

struct objlayer;

/* Borrow m and cs (they must outlive the object layer). *out is owned. */
int ol_open(struct meta *m, struct chunkstore *cs, const struct ol_config *cfg,
            struct objlayer **out);
void ol_close(struct objlayer *ol); /* NULL ok */
struct meta *ol_meta(struct objlayer *ol);
struct chunkstore *ol_chunkstore(struct objlayer *ol);
int64_t ol_gc_grace_ms(const struct objlayer *ol);
size_t ol_inline_max(const struct objlayer *ol);

/* ------------------------------------------------------------------ */
/* Writing                                                             */

/*
 * A writer takes a body as it streams in and turns it into chunks.
 * Calling sequence: ol_writer_new -> ol_writer_write* -> ol_writer_finish
 * -> ol_writer_object (fills the record) -> commit through ol_put /
 * meta_part_put -> ol_writer_free.  Chunks written by a writer whose
 * commit never happens stay unreferenced and are collected after the grace
 * period: nothing half-written is ever visible.
 */
struct ol_writer;

struct ol_writer_opts {
    int allow_inline;          /* 0 for multipart parts */
    enum cksum_alg checksum;   /* an x-amz-checksum-* to compute, or CKSUM_NONE */
    uint64_t max_size;         /* refuse bodies longer than this (OL_ETOOLARGE) */
    /* Server-side encryption: the key domain to seal the body in, or NULL
     * for plaintext.  Copied by ol_writer_new.  Chunks are then named by
     * sse_chunk_id and stored sealed (plaintext length + SSE_TAG_LEN, the
     * length their refs carry); an inline body is stored as
     * seed || sealed bytes (SSE_SEED_LEN + size + SSE_TAG_LEN) under a
     * random seed; ol_writer_object sets META_OBJ_ENCRYPTED.  MD5 and
     * checksums are of the plaintext.  docs/encryption.md. */
    const struct sse_domain *sse;
};

int ol_writer_new(struct objlayer *ol, const struct ol_writer_opts *opts, struct ol_writer **out);
/* Feed body bytes (borrowed).  May block while chunks are made durable. */
int ol_writer_write(struct ol_writer *w, const void *data, size_t len);
/* End of body: cut and store the tail chunk. */
int ol_writer_finish(struct ol_writer *w);
uint64_t ol_writer_size(const struct ol_writer *w);
const uint8_t *ol_writer_md5(const struct ol_writer *w);    /* 16 bytes, after finish */
/* The x-amz-checksum value computed (raw bytes, *len set), if asked. */
const uint8_t *ol_writer_checksum(const struct ol_writer *w, size_t *len);
/* Point o's size and inline_data or chunks at the writer's result
 * (borrowed: valid until ol_writer_free), and set or clear
 * META_OBJ_ENCRYPTED in o->flags. */
void ol_writer_object(struct ol_writer *w, struct meta_object *o);
void ol_writer_free(struct ol_writer *w); /* NULL ok */

/* Chunks by id, for sync clients (docs/sync-protocol.md).
 *
 * ol_chunk_put stores the len bytes of data (borrowed) as chunk id unless
 * the store has it already (*stored: 1 written now, 0 had it).  The bytes
 * must hash to id: OL_EBADDIGEST otherwise; OL_ETOOLARGE for len 0 or over
 * CS_MAX_CHUNK.  The chunk is durable on 0 but unreferenced: an object
 * commit (ol_put with it in the chunk list) must follow before the
 * collector's grace period runs out.
 *
 * ol_chunk_has: 1 if the store has chunk id, 0 if not, or a negative
 * error. */
int ol_chunk_put(struct objlayer *ol, const uint8_t id[32], const void *data, size_t len,
                 int *stored);
int ol_chunk_has(struct objlayer *ol, const uint8_t id[32]);

/* A CS_MAX_CHUNK-byte buffer from the objlayer's pool (kept resident
 * between uses), owned by the caller until ol_chunk_buf_put (NULL ok).
 * NULL if out of memory.  Thread-safe. */
void *ol_chunk_buf_get(struct objlayer *ol);
void ol_chunk_buf_put(struct objlayer *ol, void *buf);

/* Store a version (see meta_object_put). */
int ol_put(struct objlayer *ol, const char *bucket, const struct meta_object *o,
           const struct meta_precond *pc, struct meta_object *replaced);

/* ------------------------------------------------------------------ */
/* Reading                                                             */

struct ol_reader;

/* Open version_id (NULL: latest) of bucket/key for reading.  *out is owned.
 * META_ENOTFOUND for an absent key or when the latest version is a delete
 * marker; META_ENOBUCKET for an absent bucket.  On error *out is untouched. */
int ol_reader_open(struct objlayer *ol, const char *bucket, const char *key,
                   const char *version_id, struct ol_reader **out);
/* Open a reader on a version record the caller already read (for a
 * caller that must look at the record first: delete markers, conditions).
 * Takes what *o holds: on success *o is zeroed and the reader owns it; on
 * failure (-ENOMEM, META_ECORRUPT for an encrypted record of impossible
 * chunk lengths) *o is untouched.  A delete marker opens as an empty
 * object.  *out is owned. */
int ol_reader_open_object(struct objlayer *ol, struct meta_object *o, struct ol_reader **out);
/* An encrypted version (META_OBJ_ENCRYPTED) reads only after its key
 * domain is given (d borrowed, copied): before that, reads and prefetches
 * return OL_ENOKEY.  Inline data is decrypted here: OL_EDECRYPT when it
 * does not authenticate (wrong domain, or damaged), META_ECORRUPT for a
 * record of impossible lengths.  Chunks are decrypted whole as they are
 * read (a range reads the chunks it touches entirely): a chunk that does
 * not authenticate fails that read with OL_EDECRYPT and no byte of it is
 * returned.  0 for a plaintext version too (d is then ignored). */
int ol_reader_set_sse(struct ol_reader *r, const struct sse_domain *d);
/* The version record (borrowed, valid until ol_reader_free).  For an
 * encrypted version, chunk lengths are sealed lengths and inline_data is
 * the sealed form; size is the plaintext size. */
const struct meta_object *ol_reader_object(const struct ol_reader *r);
/* Copy up to n bytes from object offset off into buf.  Returns bytes read
 * (0 at the end) or a negative error (CS_EUNAVAIL ...). */
long ol_reader_read(struct ol_reader *r, uint64_t off, void *buf, size_t n);
/* Make sure the bytes at off are readable now (reads the chunk holding
 * them, n bytes being wanted from there), so that an HTTP handler can
 * answer an error before it commits to a 200.  0 or the read error. */
int ol_reader_prefetch(struct ol_reader *r, uint64_t off, size_t n);
void ol_reader_free(struct ol_reader *r); /* NULL ok */

/* ------------------------------------------------------------------ */
/* Maintenance                                                         */

struct ol_scrub_report {
    uint64_t chunks, shards_checked, shards_bad, shards_rewritten;
    uint64_t chunks_unrepaired; /* readable, but a bad shard could not be rewritten */
    uint64_t chunks_lost;       /* fewer than k good shards: unreadable */
};
/* Verify every shard of every chunk; rebuild missing or corrupt ones.
 * Runs in the caller's thread until done. */
int ol_scrub(struct objlayer *ol, struct ol_scrub_report *rep);

struct ol_gc_report {
    uint64_t chunks_removed, bytes_removed, orphan_shards_removed;
    uint64_t disk_bytes_freed; /* by compacting the stores afterwards */
};
/* Collect chunks unreferenced for longer than the grace period (relative
 * to now_ms), and shards that no chunk record names (left by a crash
 * between writing shards and recording the chunk) older than the grace;
 * then compact every store, so the space comes back to the file system
 * (a store that cannot compact is logged and skipped). */
int ol_gc(struct objlayer *ol, int64_t now_ms, struct ol_gc_report *rep);

/* Placement <-> metadata blob (exposed for tests). */
uint16_t ol_placement_encode(const struct cs_placement *pl, uint8_t *out);
int ol_placement_decode(const uint8_t *in, uint16_t len, struct cs_placement *pl);

int64_t ol_now_ms(void);

#endif
