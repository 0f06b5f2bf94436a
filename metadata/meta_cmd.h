/*
 * metadata/meta_cmd.h - command records: the encoded form of every
 * mutation, as submitted to the command log and applied by meta_apply()
 * (private to metadata/).
 *
 * Layout: record header (REC_COMMAND, REC_VERSION), u8 op, ivar now_ms
 * (the submitter's clock: the only time an apply may use besides times
 * inside the fields), then the op's fields (see the encoders below and
 * docs/on-disk-format-metadata.md).  Commands are never stored in LMDB by
 * the single-node store, but a Raft log persists them, so the layout is a
 * format like any record's.
 *
 * Encoders append to a struct rec_w (check rec_w_error afterwards); they
 * do not validate: the mutators in meta.c check lengths first, and
 * meta_apply checks the semantics.  Inputs are borrowed.
 */
#ifndef CAIRN_METADATA_META_CMD_H
#define CAIRN_METADATA_META_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "metadata/meta.h"
#include "metadata/record.h"

enum meta_cmd_op {
    META_CMD_USER_ADD = 1,
    META_CMD_USER_REMOVE = 2,
    META_CMD_BUCKET_CREATE = 3,
    META_CMD_BUCKET_DELETE = 4,
    META_CMD_BUCKET_SET_VERSIONING = 5,
    META_CMD_CHUNK_ADD = 6,
    META_CMD_CHUNK_SET_PLACEMENT = 7,
    META_CMD_CHUNK_REMOVE_UNUSED = 8,
    META_CMD_OBJECT_PUT = 9,
    META_CMD_OBJECT_DELETE = 10,
    META_CMD_UPLOAD_CREATE = 11,
    META_CMD_PART_PUT = 12,
    META_CMD_UPLOAD_COMPLETE = 13,
    META_CMD_UPLOAD_ABORT = 14,
    META_CMD_BUCKET_SET_CONFIG = 15,
    META_CMD_OBJECT_SET_ATTRS = 16,
};

/* Precondition flags on the wire. */
#define META_PC_NONE_MATCH_STAR 0x1
#define META_PC_IF_MATCH 0x2
#define META_PC_IF_VERSION 0x4
#define META_PC_IF_MATCH_STAR 0x8
#define META_PC_IF_SIZE 0x10
#define META_PC_IF_MTIME 0x20
#define META_PC_ALL 0x3f /* any other bit is corrupt */

/* A decoded command.  Strings are copied into the fixed arrays; blobs and
 * lists are malloc'd and owned by the struct (meta_cmd_free). */
struct meta_cmd {
    uint8_t op;
    int64_t now_ms;
    char bucket[META_NAME_MAX];       /* bucket ops, object/upload ops */
    char name[META_NAME_MAX];         /* user remove */
    char key[META_KEY_MAX + 1];
    char upload_id[META_UPLOAD_ID_MAX];
    struct meta_user user;            /* user add */
    struct meta_bucket brec;          /* bucket create */
    uint8_t versioning;               /* set versioning */
    struct meta_chunk chunk;          /* chunk add; id+placement for set_placement */
    uint8_t chunk_id[META_CHUNK_ID_LEN];
    int64_t cutoff_ms;                /* chunk remove unused */
    struct meta_object obj;           /* object put, complete (key -> key[]) */
    struct meta_upload upload;        /* upload create (key -> key[]) */
    struct meta_part part;            /* part put */
    /* preconditions: object put, delete, complete (pc points at the
     * arrays below) */
    struct meta_precond pc;
    char pc_etag[META_ETAG_MAX];
    char pc_version[META_VERSION_MAX];
    /* object delete */
    int has_version_id, has_marker;
    char version_id[META_VERSION_MAX];
    char marker_version_id[META_VERSION_MAX];
    /* complete */
    size_t nparts;
    uint32_t *part_numbers;
    char (*part_etags)[META_ETAG_MAX];
    /* bucket set config (name; blob, blob_len 0 deletes); object set attrs
     * (has_version_id/version_id; expect -> blob) */
    char config_name[META_CONFIG_NAME_MAX];
    uint8_t *blob, *expect;
    uint32_t blob_len, expect_len;
};

/* Decode into a new struct (*out owned: meta_cmd_free).  META_ECORRUPT on
 * any malformed or truncated input or unknown op, -ENOMEM. */
int meta_cmd_decode(const void *p, size_t len, struct meta_cmd **out);
void meta_cmd_free(struct meta_cmd *c);

void meta_cmd_user_add(struct rec_w *w, int64_t now, const struct meta_user *u);
void meta_cmd_user_remove(struct rec_w *w, int64_t now, const char *name);
void meta_cmd_bucket_create(struct rec_w *w, int64_t now, const struct meta_bucket *b);
void meta_cmd_bucket_delete(struct rec_w *w, int64_t now, const char *name);
void meta_cmd_bucket_set_versioning(struct rec_w *w, int64_t now, const char *name, uint8_t v);
void meta_cmd_chunk_add(struct rec_w *w, int64_t now, const struct meta_chunk *c);
void meta_cmd_chunk_set_placement(struct rec_w *w, int64_t now, const uint8_t *id,
                                  const uint8_t *placement, uint16_t len);
void meta_cmd_chunk_remove_unused(struct rec_w *w, int64_t now, const uint8_t *id, int64_t cutoff_ms);
void meta_cmd_object_put(struct rec_w *w, int64_t now, const char *bucket,
                         const struct meta_object *o, const struct meta_precond *pc);
void meta_cmd_object_delete(struct rec_w *w, int64_t now, const char *bucket, const char *key,
                            const char *version_id, const char *marker_version_id,
                            const struct meta_precond *pc);
void meta_cmd_upload_create(struct rec_w *w, int64_t now, const char *bucket,
                            const struct meta_upload *u);
void meta_cmd_part_put(struct rec_w *w, int64_t now, const char *bucket, const char *key,
                       const char *upload_id, const struct meta_part *p);
void meta_cmd_upload_complete(struct rec_w *w, int64_t now, const char *bucket, const char *key,
                              const char *upload_id, const uint32_t *part_numbers,
                              const char *const *part_etags, size_t nparts,
                              const struct meta_object *obj, const struct meta_precond *pc);
void meta_cmd_upload_abort(struct rec_w *w, int64_t now, const char *bucket, const char *key,
                           const char *upload_id);
void meta_cmd_bucket_set_config(struct rec_w *w, int64_t now, const char *bucket, const char *name,
                                const void *data, uint32_t len);
void meta_cmd_object_set_attrs(struct rec_w *w, int64_t now, const char *bucket, const char *key,
                               const char *version_id, const uint8_t *expect, uint32_t expect_len,
                               const uint8_t *attrs, uint32_t attrs_len);

#endif
