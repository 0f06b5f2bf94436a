/* metadata/meta_cmd.c - command record encoders and the decoder, side by
 * side so that the two cannot drift apart.  See meta_cmd.h. */
#include "metadata/meta_cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define META_PARTS_MAX 10000

static void cmd_begin(struct rec_w *w, uint8_t op, int64_t now)
{
    rec_put_header(w, REC_COMMAND);
    rec_put_u8(w, op);
    rec_put_ivar(w, now);
}

static void put_opt_str(struct rec_w *w, const char *s)
{
    rec_put_u8(w, s != NULL);
    if (s)
        rec_put_str(w, s);
}

static int get_opt_str(struct rec_r *r, char *dst, size_t cap)
{
    uint8_t present = rec_get_u8(r);
    dst[0] = 0;
    if (present > 1)
        rec_r_fail(r);
    if (present == 1)
        rec_get_str(r, dst, cap);
    return present == 1;
}

static void put_precond(struct rec_w *w, const struct meta_precond *pc)
{
    uint8_t f = 0;
    if (pc)
        f = (uint8_t)((pc->if_none_match_star ? META_PC_NONE_MATCH_STAR : 0) |
                      (pc->if_match_etag ? META_PC_IF_MATCH : 0) |
                      (pc->if_version_id ? META_PC_IF_VERSION : 0) |
                      (pc->if_match_star ? META_PC_IF_MATCH_STAR : 0) |
                      (pc->has_if_size ? META_PC_IF_SIZE : 0) |
                      (pc->has_if_mtime ? META_PC_IF_MTIME : 0));
    rec_put_u8(w, f);
    if (f & META_PC_IF_MATCH)
        rec_put_str(w, pc->if_match_etag);
    if (f & META_PC_IF_VERSION)
        rec_put_str(w, pc->if_version_id);
    if (f & META_PC_IF_SIZE)
        rec_put_uvar(w, pc->if_size);
    if (f & META_PC_IF_MTIME)
        rec_put_ivar(w, pc->if_mtime_s);
}

static void get_precond(struct rec_r *r, struct meta_cmd *c)
{
    uint8_t f = rec_get_u8(r);
    memset(&c->pc, 0, sizeof c->pc);
    if (f & ~META_PC_ALL)
        rec_r_fail(r); /* unknown flag */
    c->pc.if_none_match_star = !!(f & META_PC_NONE_MATCH_STAR);
    c->pc.if_match_star = !!(f & META_PC_IF_MATCH_STAR);
    if (f & META_PC_IF_MATCH) {
        rec_get_str(r, c->pc_etag, sizeof c->pc_etag);
        c->pc.if_match_etag = c->pc_etag;
    }
    if (f & META_PC_IF_VERSION) {
        rec_get_str(r, c->pc_version, sizeof c->pc_version);
        c->pc.if_version_id = c->pc_version;
    }
    if (f & META_PC_IF_SIZE) {
        c->pc.has_if_size = 1;
        c->pc.if_size = rec_get_uvar(r);
    }
    if (f & META_PC_IF_MTIME) {
        c->pc.has_if_mtime = 1;
        c->pc.if_mtime_s = rec_get_ivar(r);
    }
}

/* ------------------------------------------------------------------ */
/* Encoders                                                            */

void meta_cmd_user_add(struct rec_w *w, int64_t now, const struct meta_user *u)
{
    cmd_begin(w, META_CMD_USER_ADD, now);
    rec_put_str(w, u->name);
    rec_put_str(w, u->access_key);
    rec_put_str(w, u->secret_key);
    rec_put_ivar(w, u->created_ms);
}

void meta_cmd_user_remove(struct rec_w *w, int64_t now, const char *name)
{
    cmd_begin(w, META_CMD_USER_REMOVE, now);
    rec_put_str(w, name);
}

void meta_cmd_bucket_create(struct rec_w *w, int64_t now, const struct meta_bucket *b)
{
    cmd_begin(w, META_CMD_BUCKET_CREATE, now);
    rec_put_str(w, b->name);
    rec_put_str(w, b->owner);
    rec_put_ivar(w, b->created_ms);
    rec_put_u8(w, b->versioning);
    rec_put_str(w, b->region);
}

void meta_cmd_bucket_delete(struct rec_w *w, int64_t now, const char *name)
{
    cmd_begin(w, META_CMD_BUCKET_DELETE, now);
    rec_put_str(w, name);
}

void meta_cmd_bucket_set_versioning(struct rec_w *w, int64_t now, const char *name, uint8_t v)
{
    cmd_begin(w, META_CMD_BUCKET_SET_VERSIONING, now);
    rec_put_str(w, name);
    rec_put_u8(w, v);
}

void meta_cmd_chunk_add(struct rec_w *w, int64_t now, const struct meta_chunk *c)
{
    cmd_begin(w, META_CMD_CHUNK_ADD, now);
    rec_put_raw(w, c->id, META_CHUNK_ID_LEN);
    rec_put_uvar(w, c->len);
    rec_put_ivar(w, c->zero_since_ms);
    rec_put_bytes(w, c->placement, c->placement_len);
}

void meta_cmd_chunk_set_placement(struct rec_w *w, int64_t now, const uint8_t *id,
                                  const uint8_t *placement, uint16_t len)
{
    cmd_begin(w, META_CMD_CHUNK_SET_PLACEMENT, now);
    rec_put_raw(w, id, META_CHUNK_ID_LEN);
    rec_put_bytes(w, placement, len);
}

void meta_cmd_chunk_remove_unused(struct rec_w *w, int64_t now, const uint8_t *id, int64_t cutoff_ms)
{
    cmd_begin(w, META_CMD_CHUNK_REMOVE_UNUSED, now);
    rec_put_raw(w, id, META_CHUNK_ID_LEN);
    rec_put_ivar(w, cutoff_ms);
}

void meta_cmd_object_put(struct rec_w *w, int64_t now, const char *bucket,
                         const struct meta_object *o, const struct meta_precond *pc)
{
    cmd_begin(w, META_CMD_OBJECT_PUT, now);
    rec_put_str(w, bucket);
    rec_put_str(w, o->key);
    rec_object_body_encode(w, o);
    put_precond(w, pc);
}

void meta_cmd_object_delete(struct rec_w *w, int64_t now, const char *bucket, const char *key,
                            const char *version_id, const char *marker_version_id,
                            const struct meta_precond *pc)
{
    cmd_begin(w, META_CMD_OBJECT_DELETE, now);
    rec_put_str(w, bucket);
    rec_put_str(w, key);
    put_opt_str(w, version_id);
    put_opt_str(w, marker_version_id);
    put_precond(w, pc);
}

void meta_cmd_upload_create(struct rec_w *w, int64_t now, const char *bucket,
                            const struct meta_upload *u)
{
    cmd_begin(w, META_CMD_UPLOAD_CREATE, now);
    rec_put_str(w, bucket);
    rec_put_str(w, u->key);
    rec_put_str(w, u->upload_id);
    rec_put_ivar(w, u->initiated_ms);
    rec_put_bytes(w, u->attrs, u->attrs_len);
}

void meta_cmd_part_put(struct rec_w *w, int64_t now, const char *bucket, const char *key,
                       const char *upload_id, const struct meta_part *p)
{
    cmd_begin(w, META_CMD_PART_PUT, now);
    rec_put_str(w, bucket);
    rec_put_str(w, key);
    rec_put_str(w, upload_id);
    rec_part_body_encode(w, p);
}

void meta_cmd_upload_complete(struct rec_w *w, int64_t now, const char *bucket, const char *key,
                              const char *upload_id, const uint32_t *part_numbers,
                              const char *const *part_etags, size_t nparts,
                              const struct meta_object *obj, const struct meta_precond *pc)
{
    cmd_begin(w, META_CMD_UPLOAD_COMPLETE, now);
    rec_put_str(w, bucket);
    rec_put_str(w, key);
    rec_put_str(w, upload_id);
    rec_put_uvar(w, nparts);
    for (size_t i = 0; i < nparts; i++) {
        rec_put_uvar(w, part_numbers[i]);
        rec_put_str(w, part_etags[i]);
    }
    struct meta_object o = *obj; /* the chunk list comes from the parts */
    o.inline_data = NULL;
    o.inline_len = 0;
    o.chunks = NULL;
    o.nchunks = 0;
    rec_object_body_encode(w, &o);
    put_precond(w, pc);
}

void meta_cmd_upload_abort(struct rec_w *w, int64_t now, const char *bucket, const char *key,
                           const char *upload_id)
{
    cmd_begin(w, META_CMD_UPLOAD_ABORT, now);
    rec_put_str(w, bucket);
    rec_put_str(w, key);
    rec_put_str(w, upload_id);
}

void meta_cmd_bucket_set_config(struct rec_w *w, int64_t now, const char *bucket, const char *name,
                                const void *data, uint32_t len)
{
    cmd_begin(w, META_CMD_BUCKET_SET_CONFIG, now);
    rec_put_str(w, bucket);
    rec_put_str(w, name);
    rec_put_bytes(w, data, len);
}

void meta_cmd_object_set_attrs(struct rec_w *w, int64_t now, const char *bucket, const char *key,
                               const char *version_id, const uint8_t *expect, uint32_t expect_len,
                               const uint8_t *attrs, uint32_t attrs_len)
{
    cmd_begin(w, META_CMD_OBJECT_SET_ATTRS, now);
    rec_put_str(w, bucket);
    rec_put_str(w, key);
    put_opt_str(w, version_id);
    rec_put_bytes(w, expect, expect_len);
    rec_put_bytes(w, attrs, attrs_len);
}

/* ------------------------------------------------------------------ */
/* Decoder                                                             */

void meta_cmd_free(struct meta_cmd *c)
{
    if (!c)
        return;
    c->obj.key = NULL; /* points into c->key */
    meta_object_release(&c->obj);
    free(c->upload.attrs);
    meta_part_release(&c->part);
    free(c->part_numbers);
    free(c->part_etags);
    free(c->blob);
    free(c->expect);
    free(c);
}

int meta_cmd_decode(const void *p, size_t len, struct meta_cmd **out)
{
    struct rec_r r;
    struct meta_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    rec_r_init(&r, p, len);
    rec_get_header(&r, REC_COMMAND);
    c->op = rec_get_u8(&r);
    c->now_ms = rec_get_ivar(&r);
    size_t n;
    const uint8_t *v;
    switch (c->op) {
    case META_CMD_USER_ADD:
        rec_get_str(&r, c->user.name, sizeof c->user.name);
        rec_get_str(&r, c->user.access_key, sizeof c->user.access_key);
        rec_get_str(&r, c->user.secret_key, sizeof c->user.secret_key);
        c->user.created_ms = rec_get_ivar(&r);
        break;
    case META_CMD_USER_REMOVE:
        rec_get_str(&r, c->name, sizeof c->name);
        break;
    case META_CMD_BUCKET_CREATE:
        rec_get_str(&r, c->brec.name, sizeof c->brec.name);
        rec_get_str(&r, c->brec.owner, sizeof c->brec.owner);
        c->brec.created_ms = rec_get_ivar(&r);
        c->brec.versioning = rec_get_u8(&r);
        rec_get_str(&r, c->brec.region, sizeof c->brec.region);
        break;
    case META_CMD_BUCKET_DELETE:
        rec_get_str(&r, c->bucket, sizeof c->bucket);
        break;
    case META_CMD_BUCKET_SET_VERSIONING:
        rec_get_str(&r, c->bucket, sizeof c->bucket);
        c->versioning = rec_get_u8(&r);
        break;
    case META_CMD_CHUNK_ADD: {
        rec_get_raw(&r, c->chunk.id, META_CHUNK_ID_LEN);
        uint64_t clen = rec_get_uvar(&r);
        if (clen > UINT32_MAX)
            rec_r_fail(&r);
        c->chunk.len = (uint32_t)clen;
        c->chunk.zero_since_ms = rec_get_ivar(&r);
        v = rec_get_bytes(&r, &n, META_PLACEMENT_MAX);
        if (n)
            memcpy(c->chunk.placement, v, n);
        c->chunk.placement_len = (uint16_t)n;
        break;
    }
    case META_CMD_CHUNK_SET_PLACEMENT:
        rec_get_raw(&r, c->chunk_id, META_CHUNK_ID_LEN);
        v = rec_get_bytes(&r, &n, META_PLACEMENT_MAX);
        if (n)
            memcpy(c->chunk.placement, v, n);
        c->chunk.placement_len = (uint16_t)n;
        break;
    case META_CMD_CHUNK_REMOVE_UNUSED:
        rec_get_raw(&r, c->chunk_id, META_CHUNK_ID_LEN);
        c->cutoff_ms = rec_get_ivar(&r);
        break;
    case META_CMD_OBJECT_PUT:
        rec_get_str(&r, c->bucket, sizeof c->bucket);
        rec_get_str(&r, c->key, sizeof c->key);
        rec_object_body_decode(&r, &c->obj);
        c->obj.key = c->key;
        get_precond(&r, c);
        break;
    case META_CMD_OBJECT_DELETE:
        rec_get_str(&r, c->bucket, sizeof c->bucket);
        rec_get_str(&r, c->key, sizeof c->key);
        c->has_version_id = get_opt_str(&r, c->version_id, sizeof c->version_id);
        c->has_marker = get_opt_str(&r, c->marker_version_id, sizeof c->marker_version_id);
        get_precond(&r, c);
        break;
    case META_CMD_BUCKET_SET_CONFIG:
        rec_get_str(&r, c->bucket, sizeof c->bucket);
        rec_get_str(&r, c->config_name, sizeof c->config_name);
        rec_get_blob(&r, &c->blob, &c->blob_len, META_CONFIG_MAX);
        break;
    case META_CMD_OBJECT_SET_ATTRS:
        rec_get_str(&r, c->bucket, sizeof c->bucket);
        rec_get_str(&r, c->key, sizeof c->key);
        c->has_version_id = get_opt_str(&r, c->version_id, sizeof c->version_id);
        rec_get_blob(&r, &c->expect, &c->expect_len, META_ATTRS_MAX);
        rec_get_blob(&r, &c->blob, &c->blob_len, META_ATTRS_MAX);
        break;
    case META_CMD_UPLOAD_CREATE:
        rec_get_str(&r, c->bucket, sizeof c->bucket);
        rec_get_str(&r, c->key, sizeof c->key);
        rec_get_str(&r, c->upload.upload_id, sizeof c->upload.upload_id);
        c->upload.key = c->key;
        c->upload.initiated_ms = rec_get_ivar(&r);
        rec_get_blob(&r, &c->upload.attrs, &c->upload.attrs_len, META_ATTRS_MAX);
        break;
    case META_CMD_PART_PUT:
        rec_get_str(&r, c->bucket, sizeof c->bucket);
        rec_get_str(&r, c->key, sizeof c->key);
        rec_get_str(&r, c->upload_id, sizeof c->upload_id);
        rec_part_body_decode(&r, &c->part);
        break;
    case META_CMD_UPLOAD_COMPLETE: {
        rec_get_str(&r, c->bucket, sizeof c->bucket);
        rec_get_str(&r, c->key, sizeof c->key);
        rec_get_str(&r, c->upload_id, sizeof c->upload_id);
        uint64_t np = rec_get_uvar(&r);
        if (r.err)
            break;
        if (np > META_PARTS_MAX) {
            rec_r_fail(&r);
            break;
        }
        c->nparts = (size_t)np;
        c->part_numbers = calloc(np ? np : 1, sizeof *c->part_numbers);
        c->part_etags = calloc(np ? np : 1, sizeof *c->part_etags);
        if (!c->part_numbers || !c->part_etags) {
            meta_cmd_free(c);
            return -ENOMEM;
        }
        for (size_t i = 0; i < c->nparts; i++) {
            uint64_t num = rec_get_uvar(&r);
            if (num > UINT32_MAX)
                rec_r_fail(&r);
            c->part_numbers[i] = (uint32_t)num;
            rec_get_str(&r, c->part_etags[i], META_ETAG_MAX);
        }
        rec_object_body_decode(&r, &c->obj);
        c->obj.key = c->key;
        get_precond(&r, c);
        break;
    }
    case META_CMD_UPLOAD_ABORT:
        rec_get_str(&r, c->bucket, sizeof c->bucket);
        rec_get_str(&r, c->key, sizeof c->key);
        rec_get_str(&r, c->upload_id, sizeof c->upload_id);
        break;
    default:
        rec_r_fail(&r); /* unknown op */
        break;
    }
    int rc = rec_r_end(&r);
    if (rc) {
        meta_cmd_free(c);
        return rc;
    }
    *out = c;
    return 0;
}
