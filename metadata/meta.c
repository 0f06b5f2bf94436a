/*
 * metadata/meta.c - open/close, error names, and the public mutators: each
 * checks its arguments, encodes a command record (meta_cmd.c) stamped with
 * the clock, and submits it to the store's command log.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metadata/meta_cmd.h"
#include "metadata/meta_internal.h"
#include "metadata/meta_log.h"

const char *meta_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case META_ENOTFOUND: return "not found";
    case META_ENOBUCKET: return "no such bucket";
    case META_EEXISTS: return "already exists";
    case META_EOWNED: return "bucket already owned by you";
    case META_ENOTEMPTY: return "bucket not empty";
    case META_EPRECOND: return "precondition failed";
    case META_ENOUPLOAD: return "no such upload";
    case META_ENOCHUNK: return "referenced chunk has no record";
    case META_EINVAL: return "invalid argument";
    case META_ECORRUPT: return "corrupt metadata record";
    case META_EFULL: return "metadata map full";
    case META_ENOPART: return "invalid part";
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown metadata error";
}

static int64_t meta_wall_clock(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int meta_open_ex(const char *dir, const struct meta_open_opts *o, struct meta **out)
{
    if (!dir || !out)
        return META_EINVAL;
    struct meta *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    int rc = meta_db_open(&m->db, dir, o);
    if (rc) {
        free(m);
        return rc;
    }
    m->log = meta_log_local_new(&m->db);
    if (!m->log) {
        meta_db_close(&m->db);
        free(m);
        return -ENOMEM;
    }
    m->clock = meta_wall_clock;
    *out = m;
    return 0;
}

int meta_open(const char *dir, struct meta **out)
{
    return meta_open_ex(dir, NULL, out);
}

void meta_close(struct meta *m)
{
    if (!m)
        return;
    meta_log_free(m->log);
    meta_db_close(&m->db);
    free(m);
}

void meta_set_clock(struct meta *m, int64_t (*clock)(void *arg), void *arg)
{
    m->clock = clock ? clock : meta_wall_clock;
    m->clock_arg = arg;
}

static int64_t meta_now(struct meta *m)
{
    return m->clock(m->clock_arg);
}

/* Encode with fn's output already in w; submit; release w. */
static int meta_submit(struct meta *m, struct rec_w *w, struct meta_result *res)
{
    int rc = rec_w_error(w);
    if (rc == 0)
        rc = meta_log_submit(m->log, rec_w_data(w), rec_w_len(w), res);
    rec_w_release(w);
    return rc;
}

/* s is a C string shorter than cap bytes. */
static int str_ok(const char *s, size_t cap)
{
    return s && strnlen(s, cap) < cap;
}

static int opt_str_ok(const char *s, size_t cap)
{
    return !s || strnlen(s, cap) < cap;
}

static int precond_ok(const struct meta_precond *pc)
{
    return !pc || (opt_str_ok(pc->if_match_etag, META_ETAG_MAX) &&
                   opt_str_ok(pc->if_version_id, META_VERSION_MAX));
}

static int object_fields_ok(const struct meta_object *o)
{
    return str_ok(o->version_id, META_VERSION_MAX) && str_ok(o->etag, META_ETAG_MAX) &&
           o->attrs_len <= META_ATTRS_MAX && (o->attrs || !o->attrs_len) &&
           o->inline_len <= META_INLINE_MAX && (o->inline_data || !o->inline_len) &&
           (o->chunks || !o->nchunks);
}

/* Hand a result's object to *dst (or zero it when there is none). */
static void meta_result_move(struct meta_result *r, struct meta_object *dst)
{
    if (dst) {
        if (r->has_obj)
            *dst = r->obj;
        else
            memset(dst, 0, sizeof *dst);
    } else {
        meta_object_release(&r->obj);
    }
    r->has_obj = 0;
    memset(&r->obj, 0, sizeof r->obj);
}

/* ------------------------------------------------------------------ */

int meta_user_add(struct meta *m, const struct meta_user *u)
{
    if (!u || !str_ok(u->name, sizeof u->name) || !u->name[0] ||
        !str_ok(u->access_key, sizeof u->access_key) || !u->access_key[0] ||
        !str_ok(u->secret_key, sizeof u->secret_key))
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_user_add(&w, meta_now(m), u);
    return meta_submit(m, &w, NULL);
}

int meta_user_remove(struct meta *m, const char *name)
{
    if (!str_ok(name, META_NAME_MAX) || !name[0])
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_user_remove(&w, meta_now(m), name);
    return meta_submit(m, &w, NULL);
}

int meta_bucket_create(struct meta *m, const struct meta_bucket *b)
{
    if (!b || !meta_valid_bucket_name(b->name) || !str_ok(b->owner, sizeof b->owner) ||
        !b->owner[0] || !str_ok(b->region, sizeof b->region) ||
        b->versioning > META_VERSIONING_SUSPENDED)
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_bucket_create(&w, meta_now(m), b);
    return meta_submit(m, &w, NULL);
}

int meta_bucket_delete(struct meta *m, const char *name)
{
    if (!meta_valid_bucket_name(name))
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_bucket_delete(&w, meta_now(m), name);
    return meta_submit(m, &w, NULL);
}

int meta_bucket_set_versioning(struct meta *m, const char *name, uint8_t versioning)
{
    if (!meta_valid_bucket_name(name) || versioning > META_VERSIONING_SUSPENDED)
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_bucket_set_versioning(&w, meta_now(m), name, versioning);
    return meta_submit(m, &w, NULL);
}

int meta_bucket_config_set(struct meta *m, const char *bucket, const char *name,
                           const void *data, size_t len)
{
    if (!meta_valid_bucket_name(bucket) || !meta_valid_config_name(name) ||
        len > META_CONFIG_MAX || (len && !data))
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_bucket_set_config(&w, meta_now(m), bucket, name, data, (uint32_t)len);
    return meta_submit(m, &w, NULL);
}

int meta_chunk_add(struct meta *m, const struct meta_chunk *c)
{
    if (!c || c->placement_len > META_PLACEMENT_MAX)
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_chunk_add(&w, meta_now(m), c);
    return meta_submit(m, &w, NULL);
}

int meta_chunk_set_placement(struct meta *m, const uint8_t id[META_CHUNK_ID_LEN],
                             const uint8_t *placement, uint16_t len)
{
    if (!id || len > META_PLACEMENT_MAX || (len && !placement))
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_chunk_set_placement(&w, meta_now(m), id, placement, len);
    return meta_submit(m, &w, NULL);
}

int meta_chunk_remove_unused(struct meta *m, const uint8_t id[META_CHUNK_ID_LEN], int64_t cutoff_ms)
{
    if (!id)
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_chunk_remove_unused(&w, meta_now(m), id, cutoff_ms);
    return meta_submit(m, &w, NULL);
}

int meta_object_put(struct meta *m, const char *bucket, const struct meta_object *o,
                    const struct meta_precond *pc, struct meta_object *replaced)
{
    if (!meta_valid_bucket_name(bucket) || !o || !meta_valid_key(o->key) || !object_fields_ok(o) ||
        !precond_ok(pc))
        return META_EINVAL;
    struct rec_w w;
    struct meta_result r = {0};
    rec_w_init(&w, REC_MAX);
    meta_cmd_object_put(&w, meta_now(m), bucket, o, pc);
    int rc = meta_submit(m, &w, &r);
    if (rc == 0)
        meta_result_move(&r, replaced);
    return rc;
}

int meta_object_delete(struct meta *m, const char *bucket, const char *key,
                       const char *version_id, const char *marker_version_id,
                       int64_t now_ms, const struct meta_precond *pc,
                       struct meta_object *removed)
{
    if (!meta_valid_bucket_name(bucket) || !meta_valid_key(key) ||
        !opt_str_ok(version_id, META_VERSION_MAX) ||
        !opt_str_ok(marker_version_id, META_VERSION_MAX) || !precond_ok(pc))
        return META_EINVAL;
    struct rec_w w;
    struct meta_result r = {0};
    rec_w_init(&w, REC_MAX);
    meta_cmd_object_delete(&w, now_ms, bucket, key, version_id, marker_version_id, pc);
    int rc = meta_submit(m, &w, &r);
    if (rc == 0)
        meta_result_move(&r, removed);
    return rc;
}

int meta_object_set_attrs(struct meta *m, const char *bucket, const char *key,
                          const char *version_id, const uint8_t *expect, uint32_t expect_len,
                          const uint8_t *attrs, uint32_t attrs_len)
{
    if (!meta_valid_bucket_name(bucket) || !meta_valid_key(key) ||
        !opt_str_ok(version_id, META_VERSION_MAX) || expect_len > META_ATTRS_MAX ||
        attrs_len > META_ATTRS_MAX || (expect_len && !expect) || (attrs_len && !attrs))
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_object_set_attrs(&w, meta_now(m), bucket, key, version_id, expect, expect_len, attrs,
                              attrs_len);
    return meta_submit(m, &w, NULL);
}

int meta_upload_create(struct meta *m, const char *bucket, const struct meta_upload *u)
{
    if (!meta_valid_bucket_name(bucket) || !u || !meta_valid_key(u->key) ||
        !str_ok(u->upload_id, sizeof u->upload_id) || !u->upload_id[0] ||
        u->attrs_len > META_ATTRS_MAX || (u->attrs_len && !u->attrs))
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_upload_create(&w, meta_now(m), bucket, u);
    return meta_submit(m, &w, NULL);
}

static int upload_args_ok(const char *bucket, const char *key, const char *upload_id)
{
    return meta_valid_bucket_name(bucket) && meta_valid_key(key) &&
           str_ok(upload_id, META_UPLOAD_ID_MAX) && upload_id[0];
}

int meta_part_put(struct meta *m, const char *bucket, const char *key,
                  const char *upload_id, const struct meta_part *p)
{
    if (!upload_args_ok(bucket, key, upload_id) || !p || !str_ok(p->etag, sizeof p->etag) ||
        p->attrs_len > META_ATTRS_MAX || (p->attrs_len && !p->attrs) || (p->nchunks && !p->chunks))
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_part_put(&w, meta_now(m), bucket, key, upload_id, p);
    return meta_submit(m, &w, NULL);
}

int meta_upload_complete(struct meta *m, const char *bucket, const char *key,
                         const char *upload_id, const uint32_t *part_numbers,
                         const char *const *part_etags, size_t nparts,
                         const struct meta_object *obj, const struct meta_precond *pc,
                         struct meta_object *replaced)
{
    if (!upload_args_ok(bucket, key, upload_id) || !obj || !object_fields_ok(obj) ||
        !precond_ok(pc) || nparts == 0 || nparts > 10000 || !part_numbers || !part_etags)
        return META_EINVAL;
    for (size_t i = 0; i < nparts; i++)
        if (!str_ok(part_etags[i], META_ETAG_MAX))
            return META_EINVAL;
    struct rec_w w;
    struct meta_result r = {0};
    rec_w_init(&w, REC_MAX);
    meta_cmd_upload_complete(&w, meta_now(m), bucket, key, upload_id, part_numbers, part_etags,
                             nparts, obj, pc);
    int rc = meta_submit(m, &w, &r);
    if (rc == 0)
        meta_result_move(&r, replaced);
    return rc;
}

int meta_upload_abort(struct meta *m, const char *bucket, const char *key, const char *upload_id)
{
    if (!upload_args_ok(bucket, key, upload_id))
        return META_EINVAL;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    meta_cmd_upload_abort(&w, meta_now(m), bucket, key, upload_id);
    return meta_submit(m, &w, NULL);
}

/* ------------------------------------------------------------------ */
/* Release helpers                                                     */

void meta_object_release(struct meta_object *o)
{
    if (!o)
        return;
    free(o->key);
    free(o->attrs);
    free(o->inline_data);
    free(o->chunks);
    memset(o, 0, sizeof *o);
}

void meta_upload_release(struct meta_upload *u)
{
    if (!u)
        return;
    free(u->key);
    free(u->attrs);
    memset(u, 0, sizeof *u);
}

void meta_part_release(struct meta_part *p)
{
    if (!p)
        return;
    free(p->attrs);
    free(p->chunks);
    memset(p, 0, sizeof *p);
}

void meta_upload_array_free(struct meta_upload *u, size_t n)
{
    if (!u)
        return;
    for (size_t i = 0; i < n; i++)
        meta_upload_release(&u[i]);
    free(u);
}

void meta_part_array_free(struct meta_part *p, size_t n)
{
    if (!p)
        return;
    for (size_t i = 0; i < n; i++)
        meta_part_release(&p[i]);
    free(p);
}

void meta_change_array_free(struct meta_change *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++)
        free(c[i].key);
    free(c);
}
