/*
 * metadata/meta_apply.c - perform one command inside a write transaction.
 *
 * This is the only code that modifies the store.  It must stay
 * deterministic: every input comes from the command (times included) or
 * from the database; no clocks, no randomness, nothing done outside the
 * transaction except log lines.  Errors return early without undoing
 * earlier writes of the same command: the caller aborts the transaction
 * (meta_internal.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "metadata/lkv.h"
#include "metadata/meta_cmd.h"
#include "metadata/meta_internal.h"
#include "metadata/record.h"

#define META_PART_NUMBER_MAX 10000

struct apply {
    const struct meta_db *db;
    MDB_txn *txn;
    const struct meta_cmd *c;
    struct meta_result out; /* moved to the caller's result on success */
};

static const char ctr_vseq[] = "vseq";
static const char ctr_objects[] = "stat.objects";
static const char ctr_versions[] = "stat.versions";
static const char ctr_uploads[] = "stat.uploads";
static const char ctr_chunk_bytes[] = "stat.chunk_bytes";

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static int mdb_rc(int rc)
{
    return meta_err_from_mdb(rc);
}

/* Counter in the meta db: 8 bytes big-endian, absent = 0. */
static int ctr_get(struct apply *a, const void *name, size_t nlen, uint64_t *v)
{
    MDB_val k = {nlen, (void *)name}, d;
    int rc = mdb_get(a->txn, a->db->meta, &k, &d);
    if (rc == MDB_NOTFOUND) {
        *v = 0;
        return 0;
    }
    if (rc)
        return mdb_rc(rc);
    if (d.mv_size != 8)
        return META_ECORRUPT;
    *v = meta_be64_get(d.mv_data);
    return 0;
}

static int ctr_set(struct apply *a, const void *name, size_t nlen, uint64_t v)
{
    uint8_t b[8];
    meta_be64_put(b, v);
    MDB_val k = {nlen, (void *)name}, d = {8, b};
    return mdb_rc(mdb_put(a->txn, a->db->meta, &k, &d, 0));
}

static int ctr_add(struct apply *a, const char *name, int64_t delta)
{
    if (delta == 0)
        return 0;
    uint64_t v;
    int rc = ctr_get(a, name, strlen(name), &v);
    if (rc)
        return rc;
    if (delta < 0 && v < (uint64_t)-delta) {
        log_warn("metadata: counter %s would go below zero", name);
        v = 0;
    } else {
        v += (uint64_t)delta;
    }
    return ctr_set(a, name, strlen(name), v);
}

/* ++counter, returning the new value. */
static int ctr_next(struct apply *a, const void *name, size_t nlen, uint64_t *out)
{
    uint64_t v;
    int rc = ctr_get(a, name, nlen, &v);
    if (rc)
        return rc;
    v++;
    rc = ctr_set(a, name, nlen, v);
    if (rc == 0)
        *out = v;
    return rc;
}

static int put_rec(struct apply *a, MDB_dbi dbi, const void *key, size_t klen, struct rec_w *w)
{
    int rc = rec_w_error(w);
    if (rc)
        return rc;
    MDB_val k = {klen, (void *)key}, v = {rec_w_len(w), (void *)rec_w_data(w)};
    return mdb_rc(mdb_put(a->txn, dbi, &k, &v, 0));
}

static int lkv_put_rec(struct apply *a, MDB_dbi dbi, const void *key, size_t klen, struct rec_w *w)
{
    int rc = rec_w_error(w);
    if (rc)
        return rc;
    return mdb_rc(lkv_put(a->txn, dbi, key, klen, rec_w_data(w), rec_w_len(w)));
}

static int bucket_load(struct apply *a, const char *name, struct meta_bucket *b)
{
    if (!meta_valid_bucket_name(name))
        return META_EINVAL;
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(a->txn, a->db->buckets, &k, &v);
    if (rc == MDB_NOTFOUND)
        return META_ENOBUCKET;
    if (rc)
        return mdb_rc(rc);
    return rec_bucket_decode(v.mv_data, v.mv_size, b);
}

static int bucket_store(struct apply *a, const struct meta_bucket *b)
{
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_bucket_encode(&w, b);
    int rc = put_rec(a, a->db->buckets, b->name, strlen(b->name), &w);
    rec_w_release(&w);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Chunks and references                                               */

static int chunk_load(struct apply *a, const uint8_t *id, struct meta_chunk *c)
{
    MDB_val k = {META_CHUNK_ID_LEN, (void *)id}, v;
    int rc = mdb_get(a->txn, a->db->chunks, &k, &v);
    if (rc == MDB_NOTFOUND)
        return META_ENOTFOUND;
    if (rc)
        return mdb_rc(rc);
    memcpy(c->id, id, META_CHUNK_ID_LEN);
    return rec_chunk_decode(v.mv_data, v.mv_size, c);
}

static int chunk_store(struct apply *a, const struct meta_chunk *c)
{
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_chunk_encode(&w, c);
    int rc = put_rec(a, a->db->chunks, c->id, META_CHUNK_ID_LEN, &w);
    rec_w_release(&w);
    return rc;
}

/* The unused index: id -> zero_since_ms (8 bytes BE, two's complement),
 * present exactly while refcount is 0. */
static int unused_put(struct apply *a, const struct meta_chunk *c)
{
    uint8_t b[8];
    meta_be64_put(b, (uint64_t)c->zero_since_ms);
    MDB_val k = {META_CHUNK_ID_LEN, (void *)c->id}, v = {8, b};
    return mdb_rc(mdb_put(a->txn, a->db->unused, &k, &v, 0));
}

static int unused_del(struct apply *a, const uint8_t *id)
{
    MDB_val k = {META_CHUNK_ID_LEN, (void *)id};
    int rc = mdb_del(a->txn, a->db->unused, &k, NULL);
    if (rc == MDB_NOTFOUND) {
        log_warn("metadata: chunk with refcount 0 missing from the unused index");
        rc = 0;
    }
    return mdb_rc(rc);
}

static int refs_add(struct apply *a, const struct meta_chunk_ref *refs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct meta_chunk c;
        int rc = chunk_load(a, refs[i].id, &c);
        if (rc == META_ENOTFOUND)
            return META_ENOCHUNK;
        if (rc)
            return rc;
        if (c.refcount == 0) {
            rc = unused_del(a, c.id);
            if (rc)
                return rc;
        }
        c.refcount++;
        rc = chunk_store(a, &c);
        if (rc)
            return rc;
    }
    return 0;
}

static int refs_drop(struct apply *a, const struct meta_chunk_ref *refs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct meta_chunk c;
        int rc = chunk_load(a, refs[i].id, &c);
        if (rc == META_ENOTFOUND) {
            log_warn("metadata: dropping a reference to a chunk without record");
            continue;
        }
        if (rc)
            return rc;
        if (c.refcount == 0) {
            log_warn("metadata: chunk refcount already 0 when dropping a reference");
            continue;
        }
        c.refcount--;
        if (c.refcount == 0) {
            c.zero_since_ms = a->c->now_ms;
            rc = unused_put(a, &c);
            if (rc)
                return rc;
        }
        rc = chunk_store(a, &c);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Object versions                                                     */

struct vinfo {
    uint64_t seq;
    struct rec_object_head h;
};

/* Versions of bucket/key, latest first, at most max of them.  *out
 * malloc'd (free()), may be NULL when *n is 0. */
static int versions_scan(struct apply *a, const char *bucket, const char *key, size_t max,
                         struct vinfo **out, size_t *n)
{
    uint8_t pfx[META_KEYBUF];
    size_t plen = meta_key_object_prefix(pfx, bucket, key);
    struct lkv_cursor *cur = NULL;
    struct vinfo *v = NULL;
    size_t cnt = 0, cap = 0;
    MDB_val k, d;
    int rc = lkv_cursor_open(a->txn, a->db->objects, &cur);
    if (rc)
        goto out;
    for (rc = lkv_cursor_seek_ge(cur, pfx, plen, &k, &d); rc == 0 && cnt < max;
         rc = lkv_cursor_next(cur, &k, &d)) {
        if (k.mv_size != plen + 8 || memcmp(k.mv_data, pfx, plen) != 0)
            break;
        rc = meta_grow((void **)&v, &cap, cnt, sizeof *v);
        if (rc)
            goto out;
        v[cnt].seq = ~meta_be64_get((const uint8_t *)k.mv_data + plen);
        rc = rec_object_decode_head(d.mv_data, d.mv_size, &v[cnt].h);
        if (rc)
            goto out;
        cnt++;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    rc = mdb_rc(rc);
out:
    lkv_cursor_close(cur);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}

static int is_live(const struct vinfo *v, size_t n)
{
    return n > 0 && !(v[0].h.flags & META_OBJ_DELETE_MARKER);
}

static int latest_live(struct apply *a, const char *bucket, const char *key, int *live)
{
    struct vinfo *v;
    size_t n;
    int rc = versions_scan(a, bucket, key, 1, &v, &n);
    if (rc)
        return rc;
    *live = is_live(v, n);
    free(v);
    return 0;
}

static int change_append(struct apply *a, const char *bucket, uint8_t op, const char *key,
                         const char *version_id, const char *etag, uint64_t size, int64_t mtime)
{
    uint8_t ck[5 + META_NAME_MAX];
    memcpy(ck, "cseq", 5); /* includes the NUL */
    size_t cl = 5 + strlen(bucket);
    memcpy(ck + 5, bucket, cl - 5);
    uint64_t seq;
    int rc = ctr_next(a, ck, cl, &seq);
    if (rc)
        return rc;
    struct meta_change ch;
    memset(&ch, 0, sizeof ch);
    ch.op = op;
    ch.key = (char *)key;
    snprintf(ch.version_id, sizeof ch.version_id, "%s", version_id);
    snprintf(ch.etag, sizeof ch.etag, "%s", etag);
    ch.size = size;
    ch.mtime_ms = mtime;
    uint8_t kb[META_NAME_MAX + 9];
    size_t kl = meta_key_change(kb, bucket, seq);
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_change_encode(&w, &ch);
    rc = put_rec(a, a->db->changes, kb, kl, &w);
    rec_w_release(&w);
    return rc;
}

/* Remove version seq of bucket/key: drop its references, delete it, and
 * (if want) hand back a deep copy in *removed. */
static int version_remove(struct apply *a, const char *bucket, const char *key, uint64_t seq,
                          struct meta_object *removed)
{
    uint8_t kb[META_KEYBUF];
    size_t kl = meta_key_object(kb, bucket, key, seq);
    MDB_val d;
    struct meta_object o;
    int rc = lkv_get(a->txn, a->db->objects, kb, kl, &d);
    if (rc)
        return rc == MDB_NOTFOUND ? META_ECORRUPT : mdb_rc(rc);
    rc = rec_object_decode(d.mv_data, d.mv_size, &o);
    if (rc)
        return rc;
    rc = refs_drop(a, o.chunks, o.nchunks);
    if (rc == 0)
        rc = mdb_rc(lkv_del(a->txn, a->db->objects, kb, kl));
    if (rc == 0)
        rc = ctr_add(a, ctr_versions, -1);
    if (rc == 0 && removed) {
        o.key = strdup(key);
        if (!o.key)
            rc = -ENOMEM;
    }
    if (rc || !removed) {
        meta_object_release(&o);
        return rc;
    }
    *removed = o;
    return 0;
}

static int version_store(struct apply *a, const char *bucket, const struct meta_object *o)
{
    uint64_t seq;
    int rc = ctr_next(a, ctr_vseq, sizeof ctr_vseq - 1, &seq);
    if (rc)
        return rc;
    uint8_t kb[META_KEYBUF];
    size_t kl = meta_key_object(kb, bucket, o->key, seq);
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_object_encode(&w, o);
    rc = lkv_put_rec(a, a->db->objects, kb, kl, &w);
    rec_w_release(&w);
    if (rc == 0)
        rc = ctr_add(a, ctr_versions, 1);
    return rc;
}

/* Seconds since the epoch of a time in ms, rounded down (as an HTTP date). */
static int64_t ms_to_s(int64_t ms)
{
    return ms / 1000 - (ms % 1000 < 0);
}

static int precond_check(const struct meta_precond *pc, const struct vinfo *v, size_t n)
{
    int live = is_live(v, n);
    if (pc->if_none_match_star && live)
        return META_EPRECOND;
    if (pc->if_match_star && !live)
        return META_EPRECOND;
    if (pc->if_match_etag && (!live || strcmp(pc->if_match_etag, v[0].h.etag) != 0))
        return META_EPRECOND;
    if (pc->has_if_size && (!live || v[0].h.size != pc->if_size))
        return META_EPRECOND;
    if (pc->has_if_mtime && (!live || ms_to_s(v[0].h.mtime_ms) != pc->if_mtime_s))
        return META_EPRECOND;
    if (pc->if_version_id) {
        if (pc->if_version_id[0] == 0) {
            if (live)
                return META_EPRECOND;
        } else if (!live || strcmp(pc->if_version_id, v[0].h.version_id) != 0) {
            return META_EPRECOND;
        }
    }
    return 0;
}

/* pc holds only when the key has a current version. */
static int precond_needs_version(const struct meta_precond *pc)
{
    return pc->if_match_star || pc->if_match_etag || pc->has_if_size || pc->has_if_mtime ||
           (pc->if_version_id && pc->if_version_id[0]);
}

/*
 * Store a new version of o->key (meta_object_put semantics).  add_refs: add
 * one reference per chunk entry (a completed upload moves the parts'
 * references instead).
 */
static int object_store(struct apply *a, const struct meta_bucket *b, const struct meta_object *in,
                        const struct meta_precond *pc, int add_refs)
{
    struct vinfo *v = NULL;
    size_t n = 0;
    struct meta_object o = *in;
    int versioned = b->versioning == META_VERSIONING_ENABLED;
    int rc;

    /* no flag but ENCRYPTED may be set by a put (delete markers come
     * from deletes) */
    if (!meta_valid_key(o.key) || (o.flags & ~(uint32_t)META_OBJ_ENCRYPTED) != 0)
        return META_EINVAL;
    if (versioned && (o.version_id[0] == 0 || strcmp(o.version_id, "null") == 0))
        return META_EINVAL;
    rc = versions_scan(a, b->name, o.key, versioned ? 1 : SIZE_MAX, &v, &n);
    if (rc)
        return rc;
    int live_before = is_live(v, n);
    if (pc) {
        rc = precond_check(pc, v, n);
        if (rc)
            goto out;
    }
    /* add before dropping: a chunk shared with the replaced version never
     * passes through zero */
    if (add_refs) {
        rc = refs_add(a, o.chunks, o.nchunks);
        if (rc)
            goto out;
    }
    if (!versioned) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(v[i].h.version_id, "null") != 0)
                continue;
            rc = version_remove(a, b->name, o.key, v[i].seq, &a->out.obj);
            if (rc)
                goto out;
            a->out.has_obj = 1;
            break;
        }
        snprintf(o.version_id, sizeof o.version_id, "null");
    }
    rc = version_store(a, b->name, &o);
    if (rc == 0)
        rc = ctr_add(a, ctr_objects, 1 - live_before);
    if (rc == 0)
        rc = change_append(a, b->name, META_CHANGE_PUT, o.key, o.version_id, o.etag, o.size,
                           o.mtime_ms);
out:
    free(v);
    return rc;
}

static int apply_object_put(struct apply *a)
{
    struct meta_bucket b;
    int rc = bucket_load(a, a->c->bucket, &b);
    if (rc)
        return rc;
    return object_store(a, &b, &a->c->obj, &a->c->pc, 1);
}

static int add_marker(struct apply *a, const struct meta_bucket *b, const char *key,
                      const char *version_id, int live_before)
{
    struct meta_object m;
    memset(&m, 0, sizeof m);
    m.key = (char *)key;
    snprintf(m.version_id, sizeof m.version_id, "%s", version_id);
    m.mtime_ms = a->c->now_ms;
    m.flags = META_OBJ_DELETE_MARKER;
    int rc = version_store(a, b->name, &m);
    if (rc == 0)
        rc = ctr_add(a, ctr_objects, -live_before);
    if (rc == 0)
        rc = change_append(a, b->name, META_CHANGE_DELETE, key, m.version_id, "", 0, m.mtime_ms);
    if (rc)
        return rc;
    meta_object_release(&a->out.obj); /* a removed null version is not reported */
    a->out.obj = m;
    a->out.obj.key = strdup(key);
    if (!a->out.obj.key)
        return -ENOMEM;
    a->out.has_obj = 1;
    return 0;
}

static int apply_object_delete(struct apply *a)
{
    const struct meta_cmd *c = a->c;
    struct meta_bucket b;
    struct vinfo *v = NULL;
    size_t n = 0;
    int rc = bucket_load(a, c->bucket, &b);
    if (rc)
        return rc;
    if (!meta_valid_key(c->key))
        return META_EINVAL;
    const char *want = NULL; /* version to remove */
    if (c->has_version_id)
        want = c->version_id;
    else if (b.versioning == META_VERSIONING_OFF)
        want = "null";
    if (!want && b.versioning == META_VERSIONING_ENABLED &&
        (!c->has_marker || c->marker_version_id[0] == 0 || strcmp(c->marker_version_id, "null") == 0))
        return META_EINVAL;
    if (want && want[0] == 0)
        return META_EINVAL;

    rc = versions_scan(a, b.name, c->key, SIZE_MAX, &v, &n);
    if (rc)
        return rc;
    int live_before = is_live(v, n);
    /* a conditional delete judges the current version, whatever version
     * it removes (S3); a key with no version at all is S3's NoSuchKey */
    rc = n == 0 && precond_needs_version(&c->pc) ? META_ENOTFOUND : precond_check(&c->pc, v, n);
    if (rc)
        goto out;

    if (want) {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(v[i].h.version_id, want) == 0)
                break;
        if (i == n) {
            rc = META_ENOTFOUND;
            goto out;
        }
        rc = version_remove(a, b.name, c->key, v[i].seq, &a->out.obj);
        if (rc)
            goto out;
        a->out.has_obj = 1;
        int live_after;
        rc = latest_live(a, b.name, c->key, &live_after);
        if (rc == 0)
            rc = ctr_add(a, ctr_objects, live_after - live_before);
        if (rc == 0)
            rc = change_append(a, b.name, META_CHANGE_DELETE, c->key, a->out.obj.version_id,
                               a->out.obj.etag, a->out.obj.size, c->now_ms);
        goto out;
    }
    if (b.versioning == META_VERSIONING_SUSPENDED) {
        /* S3: the null version (object or marker) is replaced by a null
         * delete marker */
        for (size_t i = 0; i < n; i++) {
            if (strcmp(v[i].h.version_id, "null") != 0)
                continue;
            rc = version_remove(a, b.name, c->key, v[i].seq, NULL);
            if (rc)
                goto out;
            break;
        }
        int live_mid;
        rc = latest_live(a, b.name, c->key, &live_mid);
        if (rc == 0)
            rc = ctr_add(a, ctr_objects, live_mid - live_before);
        if (rc == 0)
            rc = add_marker(a, &b, c->key, "null", live_mid);
        goto out;
    }
    rc = add_marker(a, &b, c->key, c->marker_version_id, live_before);
out:
    free(v);
    return rc;
}

static int apply_object_set_attrs(struct apply *a)
{
    const struct meta_cmd *c = a->c;
    struct meta_bucket b;
    struct vinfo *v = NULL;
    struct meta_object o;
    size_t n = 0, i = 0;
    memset(&o, 0, sizeof o);
    int rc = bucket_load(a, c->bucket, &b);
    if (rc)
        return rc;
    if (!meta_valid_key(c->key))
        return META_EINVAL;
    rc = versions_scan(a, b.name, c->key, c->has_version_id ? SIZE_MAX : 1, &v, &n);
    if (rc)
        goto out;
    if (c->has_version_id)
        while (i < n && strcmp(v[i].h.version_id, c->version_id) != 0)
            i++;
    if (i == n || (!c->has_version_id && (v[0].h.flags & META_OBJ_DELETE_MARKER))) {
        rc = META_ENOTFOUND;
        goto out;
    }
    if (v[i].h.flags & META_OBJ_DELETE_MARKER) {
        rc = META_EINVAL;
        goto out;
    }
    uint8_t kb[META_KEYBUF];
    size_t kl = meta_key_object(kb, b.name, c->key, v[i].seq);
    MDB_val d;
    rc = lkv_get(a->txn, a->db->objects, kb, kl, &d);
    if (rc) {
        rc = rc == MDB_NOTFOUND ? META_ECORRUPT : mdb_rc(rc);
        goto out;
    }
    rc = rec_object_decode(d.mv_data, d.mv_size, &o);
    if (rc)
        goto out;
    if (o.attrs_len != c->expect_len || (o.attrs_len && memcmp(o.attrs, c->expect, o.attrs_len) != 0)) {
        rc = META_EPRECOND;
        goto out;
    }
    free(o.attrs);
    o.attrs = c->blob;
    o.attrs_len = c->blob_len;
    o.key = (char *)c->key;
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_object_encode(&w, &o);
    rc = lkv_put_rec(a, a->db->objects, kb, kl, &w);
    rec_w_release(&w);
    o.attrs = NULL; /* c->blob stays the command's */
    o.key = NULL;
out:
    meta_object_release(&o);
    free(v);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Users and buckets                                                   */

static int apply_user_add(struct apply *a)
{
    const struct meta_user *u = &a->c->user;
    if (u->name[0] == 0 || u->access_key[0] == 0)
        return META_EINVAL;
    MDB_val nk = {strlen(u->name), (void *)u->name}, ak = {strlen(u->access_key), (void *)u->access_key}, v;
    int rc = mdb_get(a->txn, a->db->usernames, &nk, &v);
    if (rc == 0)
        return META_EEXISTS;
    if (rc != MDB_NOTFOUND)
        return mdb_rc(rc);
    rc = mdb_get(a->txn, a->db->users, &ak, &v);
    if (rc == 0)
        return META_EEXISTS;
    if (rc != MDB_NOTFOUND)
        return mdb_rc(rc);
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_user_encode(&w, u);
    rc = put_rec(a, a->db->users, u->access_key, strlen(u->access_key), &w);
    rec_w_release(&w);
    if (rc == 0)
        rc = mdb_rc(mdb_put(a->txn, a->db->usernames, &nk, &ak, 0));
    return rc;
}

static int apply_user_remove(struct apply *a)
{
    const char *name = a->c->name;
    MDB_val nk = {strlen(name), (void *)name}, ak;
    int rc = mdb_get(a->txn, a->db->usernames, &nk, &ak);
    if (rc == MDB_NOTFOUND)
        return META_ENOTFOUND;
    if (rc)
        return mdb_rc(rc);
    rc = mdb_del(a->txn, a->db->users, &ak, NULL);
    if (rc == MDB_NOTFOUND)
        log_warn("metadata: user name without user record");
    else if (rc)
        return mdb_rc(rc);
    return mdb_rc(mdb_del(a->txn, a->db->usernames, &nk, NULL));
}

static int apply_bucket_create(struct apply *a)
{
    const struct meta_bucket *nb = &a->c->brec;
    struct meta_bucket b;
    if (!meta_valid_bucket_name(nb->name) || nb->owner[0] == 0 ||
        nb->versioning > META_VERSIONING_SUSPENDED)
        return META_EINVAL;
    int rc = bucket_load(a, nb->name, &b);
    if (rc == 0)
        return strcmp(b.owner, nb->owner) == 0 ? META_EOWNED : META_EEXISTS;
    if (rc != META_ENOBUCKET)
        return rc;
    return bucket_store(a, nb);
}

/* Does lkv database dbi hold any key starting with bucket NUL? */
static int bucket_has_keys(struct apply *a, MDB_dbi dbi, const char *bucket, int *has)
{
    uint8_t pfx[META_NAME_MAX + 1];
    size_t plen = meta_key_bucket(pfx, bucket);
    struct lkv_cursor *cur;
    MDB_val k, v;
    int rc = lkv_cursor_open(a->txn, dbi, &cur);
    if (rc)
        return rc;
    rc = lkv_cursor_seek_ge(cur, pfx, plen, &k, &v);
    if (rc == 0)
        *has = k.mv_size >= plen && memcmp(k.mv_data, pfx, plen) == 0;
    else if (rc == MDB_NOTFOUND)
        *has = 0, rc = 0;
    lkv_cursor_close(cur);
    return mdb_rc(rc);
}

/* Delete every key of plain database dbi that starts with bucket NUL. */
static int delete_bucket_keys(struct apply *a, MDB_dbi dbi, const char *bucket)
{
    MDB_cursor *mc;
    int rc = mdb_cursor_open(a->txn, dbi, &mc);
    if (rc)
        return mdb_rc(rc);
    uint8_t pfx[META_NAME_MAX + 1];
    size_t plen = meta_key_bucket(pfx, bucket);
    for (;;) {
        MDB_val k = {plen, pfx}, v;
        rc = mdb_cursor_get(mc, &k, &v, MDB_SET_RANGE);
        if (rc)
            break;
        if (k.mv_size < plen || memcmp(k.mv_data, pfx, plen) != 0)
            break;
        rc = mdb_cursor_del(mc, 0);
        if (rc)
            break;
    }
    mdb_cursor_close(mc);
    return rc == MDB_NOTFOUND ? 0 : mdb_rc(rc);
}

static int apply_bucket_delete(struct apply *a)
{
    const char *name = a->c->bucket;
    struct meta_bucket b;
    int has, rc = bucket_load(a, name, &b);
    if (rc)
        return rc;
    rc = bucket_has_keys(a, a->db->objects, name, &has);
    if (rc == 0 && !has)
        rc = bucket_has_keys(a, a->db->uploads, name, &has);
    if (rc)
        return rc;
    if (has)
        return META_ENOTEMPTY;
    /* the bucket's change feed and configurations go with it; its
     * sequence counter stays, so a bucket created again under the name
     * never reuses a seq */
    rc = delete_bucket_keys(a, a->db->changes, name);
    if (rc == 0)
        rc = delete_bucket_keys(a, a->db->configs, name);
    if (rc)
        return rc;
    MDB_val bk = {strlen(name), (void *)name};
    return mdb_rc(mdb_del(a->txn, a->db->buckets, &bk, NULL));
}

static int apply_bucket_set_versioning(struct apply *a)
{
    struct meta_bucket b;
    int rc = bucket_load(a, a->c->bucket, &b);
    if (rc)
        return rc;
    uint8_t to = a->c->versioning;
    if (to > META_VERSIONING_SUSPENDED)
        return META_EINVAL;
    if (to == META_VERSIONING_OFF && b.versioning != META_VERSIONING_OFF)
        return META_EINVAL; /* S3: once enabled, only suspended */
    if (to == b.versioning)
        return 0;
    b.versioning = to;
    return bucket_store(a, &b);
}

static int apply_bucket_set_config(struct apply *a)
{
    const struct meta_cmd *c = a->c;
    struct meta_bucket b;
    if (!meta_valid_config_name(c->config_name))
        return META_EINVAL;
    int rc = bucket_load(a, c->bucket, &b);
    if (rc)
        return rc;
    uint8_t kb[META_NAME_MAX + META_CONFIG_NAME_MAX];
    MDB_val k = {meta_key_config(kb, c->bucket, c->config_name), kb};
    if (c->blob_len == 0) {
        rc = mdb_del(a->txn, a->db->configs, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : mdb_rc(rc);
    }
    MDB_val v = {c->blob_len, c->blob};
    return mdb_rc(mdb_put(a->txn, a->db->configs, &k, &v, 0));
}

/* ------------------------------------------------------------------ */
/* Chunks                                                              */

static int apply_chunk_add(struct apply *a)
{
    struct meta_chunk c = a->c->chunk, old;
    int rc = chunk_load(a, c.id, &old);
    if (rc == 0)
        return 0;
    if (rc != META_ENOTFOUND)
        return rc;
    c.refcount = 0;
    rc = chunk_store(a, &c);
    if (rc == 0)
        rc = unused_put(a, &c);
    if (rc == 0)
        rc = ctr_add(a, ctr_chunk_bytes, c.len);
    return rc;
}

static int apply_chunk_set_placement(struct apply *a)
{
    struct meta_chunk c;
    int rc = chunk_load(a, a->c->chunk_id, &c);
    if (rc)
        return rc;
    c.placement_len = a->c->chunk.placement_len;
    memcpy(c.placement, a->c->chunk.placement, sizeof c.placement);
    return chunk_store(a, &c);
}

static int apply_chunk_remove_unused(struct apply *a)
{
    struct meta_chunk c;
    int rc = chunk_load(a, a->c->chunk_id, &c);
    if (rc)
        return rc;
    if (c.refcount != 0 || c.zero_since_ms > a->c->cutoff_ms)
        return META_EPRECOND;
    MDB_val k = {META_CHUNK_ID_LEN, c.id};
    rc = mdb_rc(mdb_del(a->txn, a->db->chunks, &k, NULL));
    if (rc == 0)
        rc = unused_del(a, c.id);
    if (rc == 0)
        rc = ctr_add(a, ctr_chunk_bytes, -(int64_t)c.len);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Multipart uploads                                                   */

static int upload_check(struct apply *a, const char *bucket, const char *key, const char *upload_id)
{
    if (!meta_valid_key(key) || upload_id[0] == 0)
        return META_EINVAL;
    uint8_t kb[META_KEYBUF];
    size_t kl = meta_key_upload(kb, bucket, key, upload_id);
    MDB_val v;
    int rc = lkv_get(a->txn, a->db->uploads, kb, kl, &v);
    if (rc == MDB_NOTFOUND)
        return META_ENOUPLOAD;
    return mdb_rc(rc);
}

static int apply_upload_create(struct apply *a)
{
    const struct meta_cmd *c = a->c;
    struct meta_bucket b;
    int rc = bucket_load(a, c->bucket, &b);
    if (rc)
        return rc;
    if (!meta_valid_key(c->key) || c->upload.upload_id[0] == 0)
        return META_EINVAL;
    uint8_t pk[META_UPLOAD_ID_MAX + 5];
    size_t pl = meta_key_part(pk, c->upload.upload_id, 0);
    MDB_val k = {pl, pk}, v;
    rc = mdb_get(a->txn, a->db->parts, &k, &v);
    if (rc == 0)
        return META_EEXISTS;
    if (rc != MDB_NOTFOUND)
        return mdb_rc(rc);
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_upload_ref_encode(&w, c->bucket, c->key);
    rc = put_rec(a, a->db->parts, pk, pl, &w);
    rec_w_release(&w);
    if (rc)
        return rc;
    uint8_t kb[META_KEYBUF];
    size_t kl = meta_key_upload(kb, c->bucket, c->key, c->upload.upload_id);
    rec_w_init(&w, REC_MAX);
    rec_upload_encode(&w, &c->upload);
    rc = lkv_put_rec(a, a->db->uploads, kb, kl, &w);
    rec_w_release(&w);
    if (rc == 0)
        rc = ctr_add(a, ctr_uploads, 1);
    return rc;
}

static int part_load(struct apply *a, const char *upload_id, uint32_t num, struct meta_part *p)
{
    uint8_t pk[META_UPLOAD_ID_MAX + 5];
    size_t pl = meta_key_part(pk, upload_id, num);
    MDB_val k = {pl, pk}, v;
    int rc = mdb_get(a->txn, a->db->parts, &k, &v);
    if (rc == MDB_NOTFOUND)
        return META_ENOTFOUND;
    if (rc)
        return mdb_rc(rc);
    return rec_part_decode(v.mv_data, v.mv_size, p);
}

static int apply_part_put(struct apply *a)
{
    const struct meta_cmd *c = a->c;
    struct meta_bucket b;
    int rc = bucket_load(a, c->bucket, &b);
    if (rc)
        return rc;
    rc = upload_check(a, c->bucket, c->key, c->upload_id);
    if (rc)
        return rc;
    if (c->part.part_number < 1 || c->part.part_number > META_PART_NUMBER_MAX)
        return META_EINVAL;
    rc = refs_add(a, c->part.chunks, c->part.nchunks);
    if (rc)
        return rc;
    struct meta_part old;
    rc = part_load(a, c->upload_id, c->part.part_number, &old);
    if (rc == 0) {
        rc = refs_drop(a, old.chunks, old.nchunks);
        meta_part_release(&old);
    } else if (rc == META_ENOTFOUND) {
        rc = 0;
    }
    if (rc)
        return rc;
    uint8_t pk[META_UPLOAD_ID_MAX + 5];
    size_t pl = meta_key_part(pk, c->upload_id, c->part.part_number);
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_part_encode(&w, &c->part);
    rc = put_rec(a, a->db->parts, pk, pl, &w);
    rec_w_release(&w);
    return rc;
}

/* Every stored part of upload_id (number >= 1), ascending: *out is an
 * array of deep copies (meta_part_array_free). */
static int parts_load_all(struct apply *a, const char *upload_id, struct meta_part **out, size_t *n)
{
    uint8_t pk[META_UPLOAD_ID_MAX + 5];
    size_t pl = meta_key_part(pk, upload_id, 1);
    size_t plen = pl - 4; /* upload_id NUL */
    MDB_cursor *mc = NULL;
    struct meta_part *p = NULL;
    size_t cnt = 0, cap = 0;
    MDB_val k = {pl, pk}, v;
    int rc = mdb_cursor_open(a->txn, a->db->parts, &mc);
    if (rc)
        goto out;
    for (rc = mdb_cursor_get(mc, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT)) {
        if (k.mv_size != pl || memcmp(k.mv_data, pk, plen) != 0)
            break;
        rc = meta_grow((void **)&p, &cap, cnt, sizeof *p);
        if (rc)
            goto out;
        rc = rec_part_decode(v.mv_data, v.mv_size, &p[cnt]);
        if (rc)
            goto out;
        if (p[cnt].part_number != meta_be32_get((const uint8_t *)k.mv_data + plen)) {
            meta_part_release(&p[cnt]);
            rc = META_ECORRUPT;
            goto out;
        }
        cnt++;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    rc = mdb_rc(rc);
out:
    if (mc)
        mdb_cursor_close(mc);
    if (rc) {
        meta_part_array_free(p, cnt);
        return rc;
    }
    *out = p;
    *n = cnt;
    return 0;
}

/* Delete the upload record, its parts and its reference entry. */
static int upload_remove(struct apply *a, const char *bucket, const char *key, const char *upload_id,
                         const struct meta_part *parts, size_t nparts)
{
    uint8_t pk[META_UPLOAD_ID_MAX + 5];
    int rc = 0;
    for (size_t i = 0; i <= nparts && rc == 0; i++) {
        uint32_t num = i < nparts ? parts[i].part_number : 0;
        MDB_val k = {meta_key_part(pk, upload_id, num), pk};
        rc = mdb_del(a->txn, a->db->parts, &k, NULL);
        if (rc == MDB_NOTFOUND && num == 0) {
            log_warn("metadata: upload without reference entry");
            rc = 0;
        }
        rc = mdb_rc(rc);
    }
    if (rc)
        return rc;
    uint8_t kb[META_KEYBUF];
    size_t kl = meta_key_upload(kb, bucket, key, upload_id);
    rc = mdb_rc(lkv_del(a->txn, a->db->uploads, kb, kl));
    if (rc == 0)
        rc = ctr_add(a, ctr_uploads, -1);
    return rc;
}

static int apply_upload_abort(struct apply *a)
{
    const struct meta_cmd *c = a->c;
    struct meta_bucket b;
    struct meta_part *parts = NULL;
    size_t n = 0;
    int rc = bucket_load(a, c->bucket, &b);
    if (rc == 0)
        rc = upload_check(a, c->bucket, c->key, c->upload_id);
    if (rc == 0)
        rc = parts_load_all(a, c->upload_id, &parts, &n);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = refs_drop(a, parts[i].chunks, parts[i].nchunks);
    if (rc == 0)
        rc = upload_remove(a, c->bucket, c->key, c->upload_id, parts, n);
    meta_part_array_free(parts, n);
    return rc;
}

static int apply_upload_complete(struct apply *a)
{
    const struct meta_cmd *c = a->c;
    struct meta_bucket b;
    struct meta_part *parts = NULL;
    size_t n = 0;
    struct meta_chunk_ref *list = NULL;
    int rc = bucket_load(a, c->bucket, &b);
    if (rc == 0)
        rc = upload_check(a, c->bucket, c->key, c->upload_id);
    if (rc)
        return rc;
    if (c->nparts == 0)
        return META_EINVAL;
    for (size_t i = 0; i < c->nparts; i++) {
        uint32_t num = c->part_numbers[i];
        if (num < 1 || num > META_PART_NUMBER_MAX || (i > 0 && num <= c->part_numbers[i - 1]))
            return META_EINVAL; /* S3: InvalidPartOrder */
    }
    rc = parts_load_all(a, c->upload_id, &parts, &n);
    if (rc)
        return rc;
    /* merge the two ascending lists: named parts must exist with the ETag,
     * stored parts not named lose their references */
    size_t total = 0, j = 0;
    for (size_t i = 0; i < c->nparts; i++) {
        while (j < n && parts[j].part_number < c->part_numbers[i])
            j++;
        if (j == n || parts[j].part_number != c->part_numbers[i] ||
            strcmp(parts[j].etag, c->part_etags[i]) != 0) {
            rc = META_ENOPART;
            goto out;
        }
        total += parts[j].nchunks;
    }
    if (total > UINT32_MAX) {
        rc = META_EINVAL;
        goto out;
    }
    if (total) {
        list = malloc(total * sizeof *list);
        if (!list) {
            rc = -ENOMEM;
            goto out;
        }
    }
    size_t at = 0, i = 0;
    for (j = 0; j < n; j++) {
        if (i < c->nparts && parts[j].part_number == c->part_numbers[i]) {
            if (parts[j].nchunks)
                memcpy(list + at, parts[j].chunks, parts[j].nchunks * sizeof *list);
            at += parts[j].nchunks;
            i++;
        } else {
            rc = refs_drop(a, parts[j].chunks, parts[j].nchunks);
            if (rc)
                goto out;
        }
    }
    rc = upload_remove(a, c->bucket, c->key, c->upload_id, parts, n);
    if (rc)
        goto out;
    struct meta_object o = c->obj;
    o.key = (char *)c->key;
    o.inline_data = NULL;
    o.inline_len = 0;
    o.chunks = list;
    o.nchunks = (uint32_t)total;
    rc = object_store(a, &b, &o, &c->pc, 0);
out:
    free(list);
    meta_part_array_free(parts, n);
    return rc;
}

/* ------------------------------------------------------------------ */

void meta_result_release(struct meta_result *r)
{
    if (!r)
        return;
    meta_object_release(&r->obj);
    r->has_obj = 0;
}

int meta_apply(const struct meta_db *db, MDB_txn *txn, const void *cmd, size_t len,
               struct meta_result *res)
{
    struct meta_cmd *c = NULL;
    int rc = meta_cmd_decode(cmd, len, &c);
    if (rc)
        return rc;
    struct apply a = {.db = db, .txn = txn, .c = c};
    memset(&a.out, 0, sizeof a.out);
    switch (c->op) {
    case META_CMD_USER_ADD: rc = apply_user_add(&a); break;
    case META_CMD_USER_REMOVE: rc = apply_user_remove(&a); break;
    case META_CMD_BUCKET_CREATE: rc = apply_bucket_create(&a); break;
    case META_CMD_BUCKET_DELETE: rc = apply_bucket_delete(&a); break;
    case META_CMD_BUCKET_SET_VERSIONING: rc = apply_bucket_set_versioning(&a); break;
    case META_CMD_CHUNK_ADD: rc = apply_chunk_add(&a); break;
    case META_CMD_CHUNK_SET_PLACEMENT: rc = apply_chunk_set_placement(&a); break;
    case META_CMD_CHUNK_REMOVE_UNUSED: rc = apply_chunk_remove_unused(&a); break;
    case META_CMD_OBJECT_PUT: rc = apply_object_put(&a); break;
    case META_CMD_OBJECT_DELETE: rc = apply_object_delete(&a); break;
    case META_CMD_UPLOAD_CREATE: rc = apply_upload_create(&a); break;
    case META_CMD_PART_PUT: rc = apply_part_put(&a); break;
    case META_CMD_UPLOAD_COMPLETE: rc = apply_upload_complete(&a); break;
    case META_CMD_UPLOAD_ABORT: rc = apply_upload_abort(&a); break;
    case META_CMD_BUCKET_SET_CONFIG: rc = apply_bucket_set_config(&a); break;
    case META_CMD_OBJECT_SET_ATTRS: rc = apply_object_set_attrs(&a); break;
    default: rc = META_ECORRUPT; break;
    }
    meta_cmd_free(c);
    if (rc || !res) {
        meta_result_release(&a.out);
        return rc;
    }
    *res = a.out;
    return 0;
}
