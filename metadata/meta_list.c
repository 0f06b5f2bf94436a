/*
 * metadata/meta_list.c - listing the current versions of a bucket.
 *
 * The objects database holds bucket NUL key NUL ~seq, so one key's
 * versions are adjacent, latest first, and keys come in byte order.  The
 * walk visits one entry per key: it always lands on a key's first
 * (latest) version, and leaves the key by stepping once and, if it is
 * still on the same key (older versions), seeking to bucket NUL key 0x01,
 * the first string past all of them.  With a delimiter, the first live key
 * under a common prefix emits the prefix and the walk seeks to the
 * successor of bucket NUL prefix (lkv_prefix_successor), so the keys under
 * it are never visited: the cost follows the page, not the bucket.
 *
 * Semantics (the unit tests compare against a brute-force model):
 *   - current keys: keys whose latest version is not a delete marker;
 *   - each current key with prefix P rolls up to P + (its remainder up to
 *     and including the first delimiter) when the remainder contains the
 *     delimiter, else stands for itself;
 *   - the distinct entries strictly greater than start_after, in byte
 *     order, are emitted, at most max_keys of them; truncated says whether
 *     another one exists.
 * So a common prefix appears only if one of its keys is current, and a
 * common prefix equal to (or below) start_after is not repeated: feeding
 * the last entry of a page back as start_after resumes exactly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metadata/lkv.h"
#include "metadata/meta_internal.h"
#include "metadata/record.h"

static _Thread_local uint64_t list_steps;

uint64_t meta_debug_list_steps(void)
{
    return list_steps;
}

void meta_list_res_release(struct meta_list_res *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->entries[i].key);
    free(r->entries);
    memset(r, 0, sizeof *r);
}

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static const uint8_t *find_bytes(const uint8_t *h, size_t hl, const uint8_t *n, size_t nl)
{
    if (nl == 0 || hl < nl)
        return NULL;
    return memmem(h, hl, n, nl);
}

struct list_state {
    struct meta_list_res res;
    size_t cap;
    size_t max;
    int full; /* a further entry was found after max */
};

/* Emit an entry (or note that the page is full).  1: stop the walk. */
static int emit(struct list_state *st, const uint8_t *key, size_t len, int is_prefix,
                const struct rec_object_head *h, int *err)
{
    if (st->res.n == st->max) {
        st->full = 1;
        return 1;
    }
    if (st->res.n == st->cap) {
        size_t nc = st->cap ? st->cap * 2 : 64;
        if (nc > st->max)
            nc = st->max;
        struct meta_list_entry *ne = realloc(st->res.entries, nc * sizeof *ne);
        if (!ne) {
            *err = -ENOMEM;
            return 1;
        }
        st->res.entries = ne;
        st->cap = nc;
    }
    struct meta_list_entry *e = &st->res.entries[st->res.n];
    memset(e, 0, sizeof *e);
    e->key = strndup((const char *)key, len);
    if (!e->key) {
        *err = -ENOMEM;
        return 1;
    }
    e->is_prefix = is_prefix;
    if (h) {
        e->size = h->size;
        e->mtime_ms = h->mtime_ms;
        memcpy(e->etag, h->etag, sizeof e->etag);
    }
    st->res.n++;
    return 0;
}

int meta_object_list(struct meta *m, const struct meta_list_req *req, struct meta_list_res *out)
{
    if (!req || !out || !meta_valid_bucket_name(req->bucket) || req->max_keys < 1)
        return META_EINVAL;
    const char *prefix = req->prefix ? req->prefix : "";
    const char *delim = req->delimiter ? req->delimiter : "";
    const char *after = req->start_after ? req->start_after : "";
    size_t pl = strlen(prefix), dl = strlen(delim), al = strlen(after);
    if (pl > META_KEY_MAX || dl > META_KEY_MAX || al > META_KEY_MAX)
        return META_EINVAL;

    struct list_state st;
    memset(&st, 0, sizeof st);
    st.max = req->max_keys;
    uint8_t fp[META_KEYBUF];   /* bucket NUL prefix */
    uint8_t seek[META_KEYBUF]; /* next seek target */
    uint8_t cur_key[META_KEYBUF];
    size_t bl = meta_key_bucket(fp, req->bucket);
    size_t fpl = bl + pl;
    memcpy(fp + bl, prefix, pl);

    /* start at bucket NUL max(prefix, start_after) */
    memcpy(seek, fp, bl);
    const char *from = bytes_cmp((const uint8_t *)prefix, pl, (const uint8_t *)after, al) >= 0 ? prefix : after;
    size_t froml = from == prefix ? pl : al;
    memcpy(seek + bl, from, froml);
    size_t seekl = bl + froml;

    MDB_txn *txn;
    struct lkv_cursor *cur = NULL;
    int rc = meta_db_read_begin(&m->db, &txn);
    if (rc)
        return rc;
    MDB_val bk = {strlen(req->bucket), (void *)req->bucket}, k, v;
    rc = mdb_get(txn, m->db.buckets, &bk, &v);
    if (rc == MDB_NOTFOUND)
        rc = META_ENOBUCKET;
    if (rc)
        goto out;
    rc = lkv_cursor_open(txn, m->db.objects, &cur);
    if (rc)
        goto out;

    rc = lkv_cursor_seek_ge(cur, seek, seekl, &k, &v);
    while (rc == 0) {
        const uint8_t *kd = k.mv_data;
        if (k.mv_size < fpl || memcmp(kd, fp, fpl) != 0)
            break; /* past the prefix */
        if (k.mv_size < bl + 1 + 1 + 8 || kd[k.mv_size - 9] != 0) {
            rc = META_ECORRUPT;
            goto out;
        }
        const uint8_t *key = kd + bl;
        size_t kl = k.mv_size - 9 - bl;
        /* this is the key's latest version */
        struct rec_object_head h;
        rc = rec_object_decode_head(v.mv_data, v.mv_size, &h);
        if (rc)
            goto out;
        int greater = bytes_cmp(key, kl, (const uint8_t *)after, al) > 0;
        if (!(h.flags & META_OBJ_DELETE_MARKER) && greater) {
            const uint8_t *d = dl ? find_bytes(key + pl, kl - pl, (const uint8_t *)delim, dl) : NULL;
            if (d) {
                size_t cpl = (size_t)(d - key) + dl;
                if (bytes_cmp(key, cpl, (const uint8_t *)after, al) > 0 &&
                    emit(&st, key, cpl, 1, NULL, &rc))
                    break;
                /* seek past every key under the common prefix */
                seekl = lkv_prefix_successor(kd, bl + cpl, seek);
                if (seekl == 0)
                    break;
                rc = lkv_cursor_seek_ge(cur, seek, seekl, &k, &v);
                continue;
            }
            if (emit(&st, key, kl, 0, &h, &rc))
                break;
        }
        /* leave this key: one step, and a seek if older versions follow */
        size_t ckl = bl + kl + 1;
        memcpy(cur_key, kd, ckl);
        rc = lkv_cursor_next(cur, &k, &v);
        if (rc == 0 && k.mv_size == ckl + 8 && memcmp(k.mv_data, cur_key, ckl) == 0) {
            cur_key[ckl - 1] = 0x01; /* bucket NUL key 0x01 */
            rc = lkv_cursor_seek_ge(cur, cur_key, ckl, &k, &v);
        }
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    if (cur)
        list_steps = lkv_cursor_steps(cur);
    lkv_cursor_close(cur);
    meta_db_read_end(&m->db, txn);
    rc = meta_err_from_mdb(rc);
    if (rc) {
        meta_list_res_release(&st.res);
        return rc;
    }
    st.res.truncated = st.full;
    *out = st.res;
    return 0;
}
