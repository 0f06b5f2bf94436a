/*
 * metadata/meta_read.c - the getters: each opens a read transaction,
 * copies what it needs out of LMDB, and ends the transaction before it
 * returns (nothing returned points into the map).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metadata/lkv.h"
#include "metadata/meta_internal.h"
#include "metadata/record.h"

#define META_FOREACH_BATCH 256

/* Grow *arr (elements of size sz) so that it holds at least n+1. */
static int bucket_exists(struct meta *m, MDB_txn *txn, const char *bucket)
{
    MDB_val k = {strlen(bucket), (void *)bucket}, v;
    int rc = mdb_get(txn, m->db.buckets, &k, &v);
    if (rc == MDB_NOTFOUND)
        return META_ENOBUCKET;
    return meta_err_from_mdb(rc);
}

/* ------------------------------------------------------------------ */
/* Users                                                               */

int meta_user_get_by_key(struct meta *m, const char *access_key, struct meta_user *out)
{
    if (!access_key || !access_key[0] || strlen(access_key) > 128 || !out)
        return META_EINVAL;
    MDB_txn *txn;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    MDB_val k = {strlen(access_key), (void *)access_key}, v;
    rc = mdb_get(txn, m->db.users, &k, &v);
    if (rc == 0)
        rc = rec_user_decode(v.mv_data, v.mv_size, out);
    meta_db_read_end(&m->db, txn);
    return meta_err_from_mdb(rc);
}

int meta_user_list(struct meta *m, struct meta_user **out, size_t *n)
{
    if (!out || !n)
        return META_EINVAL;
    MDB_txn *txn;
    MDB_cursor *mc = NULL;
    struct meta_user *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    MDB_val k, ak, v;
    rc = mdb_cursor_open(txn, m->db.usernames, &mc);
    if (rc)
        goto out;
    for (rc = mdb_cursor_get(mc, &k, &ak, MDB_FIRST); rc == 0; rc = mdb_cursor_get(mc, &k, &ak, MDB_NEXT)) {
        rc = mdb_get(txn, m->db.users, &ak, &v);
        if (rc == MDB_NOTFOUND)
            continue; /* a dangling name entry; apply logs these */
        if (rc)
            goto out;
        rc = meta_grow((void **)&arr, &cap, cnt, sizeof *arr);
        if (rc)
            goto out;
        rc = rec_user_decode(v.mv_data, v.mv_size, &arr[cnt]);
        if (rc)
            goto out;
        cnt++;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    if (mc)
        mdb_cursor_close(mc);
    meta_db_read_end(&m->db, txn);
    if (rc) {
        free(arr);
        return meta_err_from_mdb(rc);
    }
    *out = arr;
    *n = cnt;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Buckets                                                             */

int meta_bucket_get(struct meta *m, const char *name, struct meta_bucket *out)
{
    if (!meta_valid_bucket_name(name) || !out)
        return META_EINVAL;
    MDB_txn *txn;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    MDB_val k = {strlen(name), (void *)name}, v;
    rc = mdb_get(txn, m->db.buckets, &k, &v);
    if (rc == MDB_NOTFOUND)
        rc = META_ENOBUCKET;
    else if (rc == 0)
        rc = rec_bucket_decode(v.mv_data, v.mv_size, out);
    meta_db_read_end(&m->db, txn);
    return meta_err_from_mdb(rc);
}

int meta_bucket_config_get(struct meta *m, const char *bucket, const char *name,
                           void **data, size_t *len)
{
    if (!meta_valid_bucket_name(bucket) || !meta_valid_config_name(name) || !data || !len)
        return META_EINVAL;
    MDB_txn *txn;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    uint8_t kb[META_NAME_MAX + META_CONFIG_NAME_MAX];
    MDB_val k = {strlen(bucket), (void *)bucket}, v;
    rc = mdb_get(txn, m->db.buckets, &k, &v);
    if (rc == MDB_NOTFOUND) {
        rc = META_ENOBUCKET;
        goto out;
    }
    if (rc)
        goto out;
    k.mv_size = meta_key_config(kb, bucket, name);
    k.mv_data = kb;
    rc = mdb_get(txn, m->db.configs, &k, &v);
    if (rc)
        goto out;
    void *copy = malloc(v.mv_size ? v.mv_size : 1);
    if (!copy) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(copy, v.mv_data, v.mv_size);
    *data = copy;
    *len = v.mv_size;
out:
    meta_db_read_end(&m->db, txn);
    return meta_err_from_mdb(rc);
}

int meta_bucket_list(struct meta *m, const char *owner, struct meta_bucket **out, size_t *n)
{
    if (!out || !n)
        return META_EINVAL;
    MDB_txn *txn;
    MDB_cursor *mc = NULL;
    struct meta_bucket *arr = NULL, b;
    size_t cnt = 0, cap = 0;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    MDB_val k, v;
    rc = mdb_cursor_open(txn, m->db.buckets, &mc);
    if (rc)
        goto out;
    for (rc = mdb_cursor_get(mc, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT)) {
        rc = rec_bucket_decode(v.mv_data, v.mv_size, &b);
        if (rc)
            goto out;
        if (owner && strcmp(owner, b.owner) != 0)
            continue;
        rc = meta_grow((void **)&arr, &cap, cnt, sizeof *arr);
        if (rc)
            goto out;
        arr[cnt++] = b;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    if (mc)
        mdb_cursor_close(mc);
    meta_db_read_end(&m->db, txn);
    if (rc) {
        free(arr);
        return meta_err_from_mdb(rc);
    }
    *out = arr;
    *n = cnt;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Chunks                                                              */

static int chunk_read(struct meta *m, MDB_txn *txn, const uint8_t *id, struct meta_chunk *out)
{
    MDB_val k = {META_CHUNK_ID_LEN, (void *)id}, v;
    int rc = mdb_get(txn, m->db.chunks, &k, &v);
    if (rc)
        return meta_err_from_mdb(rc);
    struct meta_chunk c;
    memcpy(c.id, id, META_CHUNK_ID_LEN);
    rc = rec_chunk_decode(v.mv_data, v.mv_size, &c);
    if (rc == 0)
        *out = c;
    return rc;
}

int meta_chunk_get(struct meta *m, const uint8_t id[META_CHUNK_ID_LEN], struct meta_chunk *out)
{
    if (!id || !out)
        return META_EINVAL;
    MDB_txn *txn;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    rc = chunk_read(m, txn, id, out);
    meta_db_read_end(&m->db, txn);
    return rc;
}

int meta_chunk_unused(struct meta *m, int64_t cutoff_ms, const uint8_t *after,
                      size_t max, struct meta_chunk **out, size_t *n)
{
    if (!out || !n)
        return META_EINVAL;
    MDB_txn *txn;
    MDB_cursor *mc = NULL;
    struct meta_chunk *arr = NULL;
    size_t cnt = 0;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    if (max) {
        arr = malloc((max < 1024 ? max : 1024) * sizeof *arr);
        if (!arr) {
            rc = -ENOMEM;
            goto out;
        }
    }
    size_t cap = max < 1024 ? max : 1024;
    rc = mdb_cursor_open(txn, m->db.unused, &mc);
    if (rc)
        goto out;
    MDB_val k, v;
    if (after) {
        k.mv_size = META_CHUNK_ID_LEN;
        k.mv_data = (void *)after;
        rc = mdb_cursor_get(mc, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == META_CHUNK_ID_LEN && memcmp(k.mv_data, after, META_CHUNK_ID_LEN) == 0)
            rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT);
    } else {
        rc = mdb_cursor_get(mc, &k, &v, MDB_FIRST);
    }
    for (; rc == 0 && cnt < max; rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT)) {
        if (k.mv_size != META_CHUNK_ID_LEN || v.mv_size != 8) {
            rc = META_ECORRUPT;
            goto out;
        }
        if ((int64_t)meta_be64_get(v.mv_data) > cutoff_ms)
            continue;
        struct meta_chunk c;
        rc = chunk_read(m, txn, k.mv_data, &c);
        if (rc == META_ENOTFOUND)
            continue; /* stale index entry */
        if (rc)
            goto out;
        if (c.refcount != 0 || c.zero_since_ms > cutoff_ms)
            continue;
        if (cnt == cap) {
            size_t nc = cap * 2 < max ? cap * 2 : max;
            struct meta_chunk *na = realloc(arr, nc * sizeof *arr);
            if (!na) {
                rc = -ENOMEM;
                goto out;
            }
            arr = na;
            cap = nc;
        }
        arr[cnt++] = c;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    if (mc)
        mdb_cursor_close(mc);
    meta_db_read_end(&m->db, txn);
    rc = meta_err_from_mdb(rc);
    if (rc) {
        free(arr);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

int meta_chunk_foreach(struct meta *m, int (*fn)(void *arg, const struct meta_chunk *c), void *arg)
{
    if (!fn)
        return META_EINVAL;
    struct meta_chunk *batch = malloc(META_FOREACH_BATCH * sizeof *batch);
    if (!batch)
        return -ENOMEM;
    uint8_t last[META_CHUNK_ID_LEN];
    int have_last = 0, rc = 0;
    for (;;) {
        size_t cnt = 0;
        MDB_txn *txn;
        MDB_cursor *mc = NULL;
        rc = meta_db_read_begin(&m->db, &txn);
        if (rc)
            break;
        MDB_val k, v;
        rc = mdb_cursor_open(txn, m->db.chunks, &mc);
        if (rc == 0) {
            if (have_last) {
                k.mv_size = META_CHUNK_ID_LEN;
                k.mv_data = last;
                rc = mdb_cursor_get(mc, &k, &v, MDB_SET_RANGE);
                if (rc == 0 && memcmp(k.mv_data, last, META_CHUNK_ID_LEN) == 0)
                    rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT);
            } else {
                rc = mdb_cursor_get(mc, &k, &v, MDB_FIRST);
            }
            for (; rc == 0 && cnt < META_FOREACH_BATCH; rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT)) {
                if (k.mv_size != META_CHUNK_ID_LEN) {
                    rc = META_ECORRUPT;
                    break;
                }
                memcpy(batch[cnt].id, k.mv_data, META_CHUNK_ID_LEN);
                rc = rec_chunk_decode(v.mv_data, v.mv_size, &batch[cnt]);
                if (rc)
                    break;
                cnt++;
            }
            if (rc == MDB_NOTFOUND || (rc == 0 && cnt == META_FOREACH_BATCH))
                rc = 0;
            mdb_cursor_close(mc);
        }
        meta_db_read_end(&m->db, txn);
        rc = meta_err_from_mdb(rc);
        if (rc)
            break;
        /* no transaction is held while fn runs */
        for (size_t i = 0; i < cnt && rc == 0; i++)
            rc = fn(arg, &batch[i]);
        if (rc || cnt < META_FOREACH_BATCH)
            break;
        memcpy(last, batch[cnt - 1].id, META_CHUNK_ID_LEN);
        have_last = 1;
    }
    free(batch);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Objects                                                             */

int meta_object_get(struct meta *m, const char *bucket, const char *key,
                    const char *version_id, struct meta_object *out)
{
    if (!meta_valid_bucket_name(bucket) || !meta_valid_key(key) || !out ||
        (version_id && (!version_id[0] || strlen(version_id) >= META_VERSION_MAX)))
        return META_EINVAL;
    uint8_t pfx[META_KEYBUF];
    size_t plen = meta_key_object_prefix(pfx, bucket, key);
    MDB_txn *txn;
    struct lkv_cursor *cur = NULL;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    rc = bucket_exists(m, txn, bucket);
    if (rc)
        goto out;
    rc = lkv_cursor_open(txn, m->db.objects, &cur);
    if (rc)
        goto out;
    MDB_val k, v;
    for (rc = lkv_cursor_seek_ge(cur, pfx, plen, &k, &v); rc == 0; rc = lkv_cursor_next(cur, &k, &v)) {
        if (k.mv_size != plen + 8 || memcmp(k.mv_data, pfx, plen) != 0) {
            rc = MDB_NOTFOUND;
            break;
        }
        if (version_id) {
            struct rec_object_head h;
            rc = rec_object_decode_head(v.mv_data, v.mv_size, &h);
            if (rc)
                break;
            if (strcmp(h.version_id, version_id) != 0)
                continue;
        }
        struct meta_object o;
        rc = rec_object_decode(v.mv_data, v.mv_size, &o);
        if (rc)
            break;
        o.key = strdup(key);
        if (!o.key) {
            meta_object_release(&o);
            rc = -ENOMEM;
            break;
        }
        *out = o;
        break;
    }
out:
    lkv_cursor_close(cur);
    meta_db_read_end(&m->db, txn);
    return meta_err_from_mdb(rc);
}

/* ------------------------------------------------------------------ */
/* Multipart uploads                                                   */

static int upload_read(struct meta *m, MDB_txn *txn, const char *bucket, const char *key,
                       const char *upload_id, struct meta_upload *out)
{
    uint8_t kb[META_KEYBUF];
    size_t kl = meta_key_upload(kb, bucket, key, upload_id);
    MDB_val v;
    int rc = lkv_get(txn, m->db.uploads, kb, kl, &v);
    if (rc == MDB_NOTFOUND)
        return META_ENOUPLOAD;
    if (rc)
        return meta_err_from_mdb(rc);
    if (!out)
        return 0;
    struct meta_upload u;
    rc = rec_upload_decode(v.mv_data, v.mv_size, &u);
    if (rc)
        return rc;
    u.key = strdup(key);
    if (!u.key) {
        meta_upload_release(&u);
        return -ENOMEM;
    }
    *out = u;
    return 0;
}

static int upload_args_ok(const char *bucket, const char *key, const char *upload_id)
{
    return meta_valid_bucket_name(bucket) && meta_valid_key(key) && upload_id && upload_id[0] &&
           strlen(upload_id) < META_UPLOAD_ID_MAX;
}

int meta_upload_get(struct meta *m, const char *bucket, const char *key,
                    const char *upload_id, struct meta_upload *out)
{
    if (!upload_args_ok(bucket, key, upload_id) || !out)
        return META_EINVAL;
    MDB_txn *txn;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    rc = bucket_exists(m, txn, bucket);
    if (rc == 0)
        rc = upload_read(m, txn, bucket, key, upload_id, out);
    meta_db_read_end(&m->db, txn);
    return rc;
}

int meta_part_list(struct meta *m, const char *bucket, const char *key,
                   const char *upload_id, uint32_t after, size_t max,
                   struct meta_part **out, size_t *n, int *truncated)
{
    if (!upload_args_ok(bucket, key, upload_id) || !out || !n)
        return META_EINVAL;
    MDB_txn *txn;
    MDB_cursor *mc = NULL;
    struct meta_part *arr = NULL;
    size_t cnt = 0, cap = 0;
    int more = 0;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    rc = bucket_exists(m, txn, bucket);
    if (rc == 0)
        rc = upload_read(m, txn, bucket, key, upload_id, NULL);
    if (rc || after >= UINT32_MAX)
        goto out;
    uint8_t pk[META_UPLOAD_ID_MAX + 5];
    size_t pl = meta_key_part(pk, upload_id, after + 1);
    size_t plen = pl - 4;
    rc = mdb_cursor_open(txn, m->db.parts, &mc);
    if (rc)
        goto out;
    MDB_val k = {pl, pk}, v;
    for (rc = mdb_cursor_get(mc, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT)) {
        if (k.mv_size != pl || memcmp(k.mv_data, pk, plen) != 0)
            break;
        if (cnt == max) {
            more = 1;
            break;
        }
        rc = meta_grow((void **)&arr, &cap, cnt, sizeof *arr);
        if (rc)
            goto out;
        rc = rec_part_decode(v.mv_data, v.mv_size, &arr[cnt]);
        if (rc)
            goto out;
        cnt++;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    if (mc)
        mdb_cursor_close(mc);
    meta_db_read_end(&m->db, txn);
    rc = meta_err_from_mdb(rc);
    if (rc) {
        meta_part_array_free(arr, cnt);
        return rc;
    }
    *out = arr;
    *n = cnt;
    if (truncated)
        *truncated = more;
    return 0;
}

/* memcmp order of byte strings, shorter first on a common prefix */
static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

int meta_upload_list(struct meta *m, const struct meta_upload_list_req *req,
                     struct meta_upload **out, size_t *n, int *truncated)
{
    if (!req || !meta_valid_bucket_name(req->bucket) || !out || !n ||
        (req->prefix && strlen(req->prefix) > META_KEY_MAX) ||
        (req->key_marker && strlen(req->key_marker) > META_KEY_MAX) ||
        (req->upload_id_marker && strlen(req->upload_id_marker) >= META_UPLOAD_ID_MAX))
        return META_EINVAL;
    const char *prefix = req->prefix ? req->prefix : "";
    /* where to start: bucket NUL prefix, or just past the markers */
    uint8_t start[META_KEYBUF], pfx[META_KEYBUF];
    size_t bl = meta_key_bucket(pfx, req->bucket);
    size_t pl = bl + strlen(prefix);
    memcpy(pfx + bl, prefix, pl - bl);
    memcpy(start, pfx, pl);
    size_t sl = pl;
    if (req->key_marker && req->key_marker[0]) {
        uint8_t mk[META_KEYBUF];
        size_t ml;
        if (req->upload_id_marker && req->upload_id_marker[0]) {
            /* bucket NUL key NUL id NUL: just past (key, id) itself */
            ml = meta_key_upload(mk, req->bucket, req->key_marker, req->upload_id_marker);
            mk[ml++] = 0;
        } else {
            /* bucket NUL key 0x01: past every upload of key */
            ml = meta_key_object_prefix(mk, req->bucket, req->key_marker);
            mk[ml - 1] = 1;
        }
        if (bytes_cmp(mk, ml, start, sl) > 0) {
            memcpy(start, mk, ml);
            sl = ml;
        }
    }
    MDB_txn *txn;
    struct lkv_cursor *cur = NULL;
    struct meta_upload *arr = NULL;
    size_t cnt = 0, cap = 0;
    int more = 0;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    rc = bucket_exists(m, txn, req->bucket);
    if (rc)
        goto out;
    rc = lkv_cursor_open(txn, m->db.uploads, &cur);
    if (rc)
        goto out;
    MDB_val k, v;
    for (rc = lkv_cursor_seek_ge(cur, start, sl, &k, &v); rc == 0; rc = lkv_cursor_next(cur, &k, &v)) {
        const uint8_t *kd = k.mv_data;
        if (k.mv_size < pl || memcmp(kd, pfx, pl) != 0)
            break;
        const uint8_t *nul = memchr(kd + bl, 0, k.mv_size - bl);
        if (!nul) {
            rc = META_ECORRUPT;
            goto out;
        }
        size_t keylen = (size_t)(nul - (kd + bl));
        if (cnt == req->max) {
            more = 1;
            break;
        }
        rc = meta_grow((void **)&arr, &cap, cnt, sizeof *arr);
        if (rc)
            goto out;
        struct meta_upload u;
        rc = rec_upload_decode(v.mv_data, v.mv_size, &u);
        if (rc)
            goto out;
        u.key = strndup((const char *)kd + bl, keylen);
        if (!u.key) {
            meta_upload_release(&u);
            rc = -ENOMEM;
            goto out;
        }
        arr[cnt++] = u;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    lkv_cursor_close(cur);
    meta_db_read_end(&m->db, txn);
    rc = meta_err_from_mdb(rc);
    if (rc) {
        meta_upload_array_free(arr, cnt);
        return rc;
    }
    *out = arr;
    *n = cnt;
    if (truncated)
        *truncated = more;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Change feed                                                         */

int meta_change_list(struct meta *m, const char *bucket, uint64_t after, size_t max,
                     struct meta_change **out, size_t *n)
{
    if (!meta_valid_bucket_name(bucket) || !out || !n)
        return META_EINVAL;
    MDB_txn *txn;
    MDB_cursor *mc = NULL;
    struct meta_change *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    rc = bucket_exists(m, txn, bucket);
    if (rc || after == UINT64_MAX)
        goto out;
    uint8_t kb[META_NAME_MAX + 9];
    size_t kl = meta_key_change(kb, bucket, after + 1);
    size_t plen = kl - 8;
    rc = mdb_cursor_open(txn, m->db.changes, &mc);
    if (rc)
        goto out;
    MDB_val k = {kl, kb}, v;
    for (rc = mdb_cursor_get(mc, &k, &v, MDB_SET_RANGE); rc == 0 && cnt < max;
         rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT)) {
        if (k.mv_size != kl || memcmp(k.mv_data, kb, plen) != 0)
            break;
        rc = meta_grow((void **)&arr, &cap, cnt, sizeof *arr);
        if (rc)
            goto out;
        arr[cnt].seq = meta_be64_get((const uint8_t *)k.mv_data + plen);
        rc = rec_change_decode(v.mv_data, v.mv_size, &arr[cnt]);
        if (rc)
            goto out;
        cnt++;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    if (mc)
        mdb_cursor_close(mc);
    meta_db_read_end(&m->db, txn);
    rc = meta_err_from_mdb(rc);
    if (rc) {
        meta_change_array_free(arr, cnt);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

int meta_change_last(struct meta *m, const char *bucket, uint64_t *seq)
{
    if (!meta_valid_bucket_name(bucket) || !seq)
        return META_EINVAL;
    MDB_txn *txn;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    rc = bucket_exists(m, txn, bucket);
    if (rc == 0) {
        /* the counter change_append bumps: "cseq" NUL bucket */
        uint8_t ck[5 + META_NAME_MAX];
        size_t bl = strlen(bucket);
        memcpy(ck, "cseq", 5);
        memcpy(ck + 5, bucket, bl);
        MDB_val k = {5 + bl, ck}, d;
        rc = mdb_get(txn, m->db.meta, &k, &d);
        if (rc == 0 && d.mv_size != 8)
            rc = META_ECORRUPT;
        if (rc == 0)
            *seq = meta_be64_get(d.mv_data);
        else if (rc == MDB_NOTFOUND) {
            *seq = 0;
            rc = 0;
        }
    }
    meta_db_read_end(&m->db, txn);
    return meta_err_from_mdb(rc);
}

/* ------------------------------------------------------------------ */
/* Statistics                                                          */

static int read_ctr(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *v)
{
    MDB_val k = {strlen(name), (void *)name}, d;
    int rc = mdb_get(txn, dbi, &k, &d);
    *v = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (d.mv_size != 8)
        return META_ECORRUPT;
    *v = meta_be64_get(d.mv_data);
    return 0;
}

int meta_stats(struct meta *m, struct meta_stats *out)
{
    if (!out)
        return META_EINVAL;
    MDB_txn *txn;
    struct meta_stats s;
    MDB_stat st;
    memset(&s, 0, sizeof s);
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    rc = mdb_stat(txn, m->db.buckets, &st);
    if (rc)
        goto out;
    s.buckets = st.ms_entries;
    rc = mdb_stat(txn, m->db.chunks, &st);
    if (rc)
        goto out;
    s.chunks = st.ms_entries;
    rc = mdb_stat(txn, m->db.unused, &st);
    if (rc)
        goto out;
    s.unused_chunks = st.ms_entries;
    rc = read_ctr(txn, m->db.meta, "stat.objects", &s.objects);
    if (rc == 0)
        rc = read_ctr(txn, m->db.meta, "stat.versions", &s.versions);
    if (rc == 0)
        rc = read_ctr(txn, m->db.meta, "stat.uploads", &s.uploads);
    if (rc == 0)
        rc = read_ctr(txn, m->db.meta, "stat.chunk_bytes", &s.chunk_bytes);
out:
    meta_db_read_end(&m->db, txn);
    rc = meta_err_from_mdb(rc);
    if (rc == 0)
        *out = s;
    return rc;
}
