/*
 * metadata/record.h - the compact, versioned binary encoding of every value
 * the metadata layer stores in LMDB and of every command record (private to
 * metadata/).
 *
 * A record is: one type byte (enum rec_type), one format version byte
 * (REC_VERSION), then the record's fields in a fixed order.  Field kinds:
 *   u8      one byte
 *   uvar    unsigned LEB128 varint (1..10 bytes; overlong or overflowing
 *           encodings are rejected)
 *   ivar    signed integer, zigzag-mapped then uvar
 *   raw N   exactly N bytes
 *   bytes   uvar length, then that many bytes
 *   str     bytes that contain no NUL byte (decoded into a C string)
 * The byte-by-byte layout of each record type is in
 * docs/on-disk-format-metadata.md.
 *
 * Writing: rec_w_init(), rec_put_*() (errors are sticky: the first failure
 * is remembered and later puts do nothing), rec_w_error(), then take the
 * bytes (rec_w_data/rec_w_len) and rec_w_release().
 *
 * Reading: rec_r_init() over borrowed bytes, rec_get_*() (errors sticky;
 * a failed get returns 0 / NULL and leaves the destination zeroed or
 * empty), then rec_r_end(), which returns META_ECORRUPT if any get ran past
 * the end or met a malformed field, or if bytes are left over; -ENOMEM if
 * an allocation failed.  Views returned by rec_get_bytes() point into the
 * input and live as long as it does.
 *
 * Thread rules: a writer or reader belongs to one thread; no global state.
 */
#ifndef CAIRN_METADATA_RECORD_H
#define CAIRN_METADATA_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "metadata/meta.h"

#define REC_VERSION 1

enum rec_type {
    REC_USER = 'U',
    REC_BUCKET = 'B',
    REC_CHUNK = 'K',
    REC_OBJECT = 'O',
    REC_UPLOAD = 'M',
    REC_UPLOAD_REF = 'R',
    REC_PART = 'P',
    REC_CHANGE = 'F',
    REC_COMMAND = 'C',
};

/* Largest encoded record or command this layer writes or accepts. */
#define REC_MAX (256u << 20)

struct rec_w {
    struct buf b;
    int err;
};

void rec_w_init(struct rec_w *w, size_t max);
void rec_w_release(struct rec_w *w);
static inline const uint8_t *rec_w_data(const struct rec_w *w) { return (const uint8_t *)w->b.data; }
static inline size_t rec_w_len(const struct rec_w *w) { return w->b.len; }
/* 0, or the first error of any put (-ENOSPC past max, -ENOMEM). */
static inline int rec_w_error(const struct rec_w *w) { return w->err; }

void rec_put_header(struct rec_w *w, enum rec_type type);
void rec_put_u8(struct rec_w *w, uint8_t v);
void rec_put_uvar(struct rec_w *w, uint64_t v);
void rec_put_ivar(struct rec_w *w, int64_t v);
void rec_put_raw(struct rec_w *w, const void *p, size_t n);
void rec_put_bytes(struct rec_w *w, const void *p, size_t n);
void rec_put_str(struct rec_w *w, const char *s); /* NULL is written as "" */

struct rec_r {
    const uint8_t *p;
    size_t len, off;
    int err;
};

void rec_r_init(struct rec_r *r, const void *p, size_t len);
/* Fails (META_ECORRUPT) unless the next two bytes are type, REC_VERSION. */
void rec_get_header(struct rec_r *r, enum rec_type type);
uint8_t rec_get_u8(struct rec_r *r);
uint64_t rec_get_uvar(struct rec_r *r);
int64_t rec_get_ivar(struct rec_r *r);
void rec_get_raw(struct rec_r *r, void *dst, size_t n);
/* View of a bytes field of at most max bytes (NULL with *n = 0 on error
 * or when empty). */
const uint8_t *rec_get_bytes(struct rec_r *r, size_t *n, size_t max);
/* Copy a str field into dst (cap bytes including the NUL): fails if it is
 * cap bytes or longer or contains a NUL. */
void rec_get_str(struct rec_r *r, char *dst, size_t cap);
/* A str field of at most max bytes as a malloc'd C string (NULL on error). */
char *rec_get_strdup(struct rec_r *r, size_t max);
/* Copy of a bytes field of at most max bytes: *out malloc'd (NULL if
 * empty), *n its length. */
void rec_get_blob(struct rec_r *r, uint8_t **out, uint32_t *n, size_t max);
int rec_r_end(const struct rec_r *r);
/* Mark the input malformed (a field decoded but its value is invalid). */
void rec_r_fail(struct rec_r *r);

/* ---- typed records (layouts in docs/on-disk-format-metadata.md) ---- */

/* Chunk reference lists: uvar count, then count x (raw 32 id, uvar len). */
void rec_put_chunks(struct rec_w *w, const struct meta_chunk_ref *c, uint32_t n);
/* *out malloc'd (NULL when n is 0). */
void rec_get_chunks(struct rec_r *r, struct meta_chunk_ref **out, uint32_t *n);

void rec_user_encode(struct rec_w *w, const struct meta_user *u);
int rec_user_decode(const void *p, size_t len, struct meta_user *out);

void rec_bucket_encode(struct rec_w *w, const struct meta_bucket *b);
int rec_bucket_decode(const void *p, size_t len, struct meta_bucket *out);

void rec_chunk_encode(struct rec_w *w, const struct meta_chunk *c);
/* The id is the LMDB key, not part of the record: out->id is left alone. */
int rec_chunk_decode(const void *p, size_t len, struct meta_chunk *out);

/* Object version: the key is part of the LMDB key, not of the record. */
void rec_object_body_encode(struct rec_w *w, const struct meta_object *o);
void rec_object_body_decode(struct rec_r *r, struct meta_object *out);
void rec_object_encode(struct rec_w *w, const struct meta_object *o);
/* Deep copy into *out (out->key NULL).  On failure *out is untouched. */
int rec_object_decode(const void *p, size_t len, struct meta_object *out);

/* The leading fields of an object record, enough for listing and for the
 * version bookkeeping of apply, decoded without allocation. */
struct rec_object_head {
    char version_id[META_VERSION_MAX];
    uint32_t flags;
    int64_t mtime_ms;
    uint64_t size;
    char etag[META_ETAG_MAX];
};
int rec_object_decode_head(const void *p, size_t len, struct rec_object_head *out);

/* Upload record (key part of the LMDB key). */
void rec_upload_encode(struct rec_w *w, const struct meta_upload *u);
int rec_upload_decode(const void *p, size_t len, struct meta_upload *out);

/* Upload reference (parts db, part number 0): which bucket and key own an
 * upload id.  key is a buffer of META_KEY_MAX + 1 bytes. */
void rec_upload_ref_encode(struct rec_w *w, const char *bucket, const char *key);
int rec_upload_ref_decode(const void *p, size_t len, char bucket[META_NAME_MAX], char *key);

void rec_part_body_encode(struct rec_w *w, const struct meta_part *p);
void rec_part_body_decode(struct rec_r *r, struct meta_part *out);
void rec_part_encode(struct rec_w *w, const struct meta_part *p);
int rec_part_decode(const void *p, size_t len, struct meta_part *out);

/* Change record (bucket and seq are the LMDB key). */
void rec_change_encode(struct rec_w *w, const struct meta_change *c);
int rec_change_decode(const void *p, size_t len, struct meta_change *out);

#endif
