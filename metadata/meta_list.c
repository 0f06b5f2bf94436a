/*
 * metadata/meta_list.c - listing a bucket: its current versions
 * (meta_object_list) and all of them (meta_object_list_versions).
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
 *
 * The version listing walks the same database, but every record is an
 * entry (delete markers too), so it steps through a key's versions instead
 * of seeking past them; common prefixes are rolled up and sought past the
 * same way.  It resumes inside a key after the record of the version named
 * by the marker: bucket NUL key NUL ~seq plus one zero byte is the first
 * full key after it.
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

/* Emit an entry (or note that the page is full): a key's version (h) or
 * a common prefix (h NULL).  1: stop the walk. */
static int emit(struct list_state *st, const uint8_t *key, size_t len,
                const struct rec_object_head *h, int is_latest, int *err)
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
    e->is_prefix = h == NULL;
    if (h) {
        e->size = h->size;
        e->mtime_ms = h->mtime_ms;
        memcpy(e->etag, h->etag, sizeof e->etag);
        memcpy(e->version_id, h->version_id, sizeof e->version_id);
        e->flags = h->flags;
        e->is_latest = is_latest;
    }
    st->res.n++;
    return 0;
}

/* The parts of a listing walk both listings share. */
struct walk {
    struct meta *m;
    MDB_txn *txn;
    struct lkv_cursor *cur;
    uint8_t fp[META_KEYBUF]; /* bucket NUL prefix */
    size_t bl, pl, fpl;      /* lengths of bucket NUL, prefix, both */
    const char *delim;
    size_t dl;
    const uint8_t *key;      /* the record's object key (in the cursor's key) */
    size_t kl;
    struct list_state st;
};

/* Check the arguments, begin the read transaction, check the bucket,
 * open the cursor.  On failure nothing is left to end. */
static int walk_begin(struct walk *w, struct meta *m, const char *bucket, const char *prefix,
                      const char *delim, size_t max)
{
    memset(w, 0, sizeof *w);
    if (!meta_valid_bucket_name(bucket) || max < 1 || strlen(prefix) > META_KEY_MAX ||
        strlen(delim) > META_KEY_MAX)
        return META_EINVAL;
    w->m = m;
    w->st.max = max;
    w->delim = delim;
    w->dl = strlen(delim);
    w->pl = strlen(prefix);
    w->bl = meta_key_bucket(w->fp, bucket);
    w->fpl = w->bl + w->pl;
    memcpy(w->fp + w->bl, prefix, w->pl);
    int rc = meta_db_read_begin(&m->db, &w->txn);
    if (rc)
        return rc;
    MDB_val bk = {strlen(bucket), (void *)bucket}, v;
    rc = mdb_get(w->txn, m->db.buckets, &bk, &v);
    if (rc == MDB_NOTFOUND)
        rc = META_ENOBUCKET;
    if (rc == 0)
        rc = lkv_cursor_open(w->txn, m->db.objects, &w->cur);
    if (rc) {
        meta_db_read_end(&m->db, w->txn);
        return meta_err_from_mdb(rc);
    }
    return 0;
}

/* End the walk: the result into *out on success (rc 0), freed otherwise. */
static int walk_end(struct walk *w, int rc, struct meta_list_res *out)
{
    if (rc == MDB_NOTFOUND)
        rc = 0;
    list_steps = lkv_cursor_steps(w->cur);
    lkv_cursor_close(w->cur);
    meta_db_read_end(&w->m->db, w->txn);
    rc = meta_err_from_mdb(rc);
    if (rc) {
        meta_list_res_release(&w->st.res);
        return rc;
    }
    w->st.res.truncated = w->st.full;
    *out = w->st.res;
    return 0;
}

/* The record at k, if it is under bucket NUL prefix: 1 with w->key and
 * w->kl set; 0 past the prefix; META_ECORRUPT for a malformed key. */
static int walk_record(struct walk *w, const MDB_val *k)
{
    const uint8_t *kd = k->mv_data;
    if (k->mv_size < w->fpl || memcmp(kd, w->fp, w->fpl) != 0)
        return 0;
    if (k->mv_size < w->bl + 1 + 1 + 8 || kd[k->mv_size - 9] != 0)
        return META_ECORRUPT;
    w->key = kd + w->bl;
    w->kl = k->mv_size - 9 - w->bl;
    return 1;
}

/* The length of the common prefix w->key rolls up to, 0 if none. */
static size_t walk_rollup(const struct walk *w)
{
    if (!w->dl)
        return 0;
    const uint8_t *d = find_bytes(w->key + w->pl, w->kl - w->pl, (const uint8_t *)w->delim, w->dl);
    return d ? (size_t)(d - w->key) + w->dl : 0;
}

/* The record is under common prefix key[0:cpl]: emit it if it sorts after
 * marker, and seek past every key under it.  1: stop the walk (page full,
 * error in *rc, or nothing can follow); else the cursor is on the next
 * record (or *rc is MDB_NOTFOUND). */
static int walk_prefix(struct walk *w, size_t cpl, const char *marker, size_t ml, MDB_val *k,
                       MDB_val *v, int *rc)
{
    uint8_t seek[META_KEYBUF];
    if (bytes_cmp(w->key, cpl, (const uint8_t *)marker, ml) > 0 &&
        emit(&w->st, w->key, cpl, NULL, 0, rc))
        return 1;
    size_t seekl = lkv_prefix_successor((const uint8_t *)k->mv_data, w->bl + cpl, seek);
    if (seekl == 0)
        return 1;
    *rc = lkv_cursor_seek_ge(w->cur, seek, seekl, k, v);
    return 0;
}

/* bucket NUL max(prefix, from) into seek; its length. */
static size_t walk_start(const struct walk *w, const uint8_t *from, size_t froml, uint8_t *seek)
{
    const uint8_t *p = w->fp + w->bl;
    memcpy(seek, w->fp, w->bl);
    if (bytes_cmp(p, w->pl, from, froml) >= 0) {
        from = p;
        froml = w->pl;
    }
    memcpy(seek + w->bl, from, froml);
    return w->bl + froml;
}

int meta_object_list(struct meta *m, const struct meta_list_req *req, struct meta_list_res *out)
{
    if (!req || !out)
        return META_EINVAL;
    const char *after = req->start_after ? req->start_after : "";
    size_t al = strlen(after);
    if (al > META_KEY_MAX)
        return META_EINVAL;
    struct walk w;
    uint8_t seek[META_KEYBUF], cur_key[META_KEYBUF];
    MDB_val k, v;
    int rc = walk_begin(&w, m, req->bucket, req->prefix ? req->prefix : "",
                        req->delimiter ? req->delimiter : "", req->max_keys);
    if (rc)
        return rc;
    /* start at bucket NUL max(prefix, start_after) */
    size_t seekl = walk_start(&w, (const uint8_t *)after, al, seek);
    rc = lkv_cursor_seek_ge(w.cur, seek, seekl, &k, &v);
    while (rc == 0) {
        int in = walk_record(&w, &k);
        if (in <= 0) {
            rc = in;
            break; /* past the prefix */
        }
        /* this is the key's latest version */
        struct rec_object_head h;
        rc = rec_object_decode_head(v.mv_data, v.mv_size, &h);
        if (rc)
            break;
        int greater = bytes_cmp(w.key, w.kl, (const uint8_t *)after, al) > 0;
        if (!(h.flags & META_OBJ_DELETE_MARKER) && greater) {
            size_t cpl = walk_rollup(&w);
            if (cpl) {
                if (walk_prefix(&w, cpl, after, al, &k, &v, &rc))
                    break;
                continue;
            }
            if (emit(&w.st, w.key, w.kl, &h, 1, &rc))
                break;
        }
        /* leave this key: one step, and a seek if older versions follow */
        size_t ckl = w.bl + w.kl + 1;
        memcpy(cur_key, k.mv_data, ckl);
        rc = lkv_cursor_next(w.cur, &k, &v);
        if (rc == 0 && k.mv_size == ckl + 8 && memcmp(k.mv_data, cur_key, ckl) == 0) {
            cur_key[ckl - 1] = 0x01; /* bucket NUL key 0x01 */
            rc = lkv_cursor_seek_ge(w.cur, cur_key, ckl, &k, &v);
        }
    }
    return walk_end(&w, rc, out);
}

/* Where a version listing starts, into seek (its length): bucket NUL
 * prefix, or after the markers.  Walks key_marker's versions to find
 * version_id_marker; *mid_key says the walk starts inside key_marker's
 * versions (its next record is not the latest). */
static int version_walk_start(struct walk *w, const char *key_marker, const char *vid_marker,
                              uint8_t *seek, size_t *seekl, int *mid_key)
{
    uint8_t mk[META_KEYBUF];
    size_t ml = strlen(key_marker);
    MDB_val k, v;
    int rc = 0;
    *mid_key = 0;
    memcpy(mk, w->fp, w->bl);
    memcpy(mk + w->bl, key_marker, ml);
    mk[w->bl + ml] = 0x01; /* bucket NUL key 0x01: past all of key's versions */
    size_t mkl = ml ? w->bl + ml + 1 : w->bl;
    if (ml && vid_marker[0]) {
        size_t plen = w->bl + ml + 1;
        mk[plen - 1] = 0;
        for (rc = lkv_cursor_seek_ge(w->cur, mk, plen, &k, &v); rc == 0;
             rc = lkv_cursor_next(w->cur, &k, &v)) {
            if (k.mv_size != plen + 8 || memcmp(k.mv_data, mk, plen) != 0) {
                rc = MDB_NOTFOUND;
                break;
            }
            struct rec_object_head h;
            rc = rec_object_decode_head(v.mv_data, v.mv_size, &h);
            if (rc)
                return rc;
            if (strcmp(h.version_id, vid_marker) == 0)
                break;
        }
        if (rc == 0) { /* just past that version's record */
            memcpy(mk, k.mv_data, k.mv_size);
            mkl = k.mv_size;
            mk[mkl++] = 0;
            *mid_key = 1;
        } else if (rc == MDB_NOTFOUND) {
            mk[plen - 1] = 0x01;
            mkl = plen;
        } else {
            return rc;
        }
    }
    *seekl = walk_start(w, mk + w->bl, mkl - w->bl, seek);
    if (*seekl != mkl || memcmp(seek, mk, mkl) != 0)
        *mid_key = 0; /* the prefix starts later */
    return 0;
}

int meta_object_list_versions(struct meta *m, const struct meta_version_list_req *req,
                              struct meta_list_res *out)
{
    if (!req || !out)
        return META_EINVAL;
    const char *marker = req->key_marker ? req->key_marker : "";
    const char *vid_marker = req->version_id_marker ? req->version_id_marker : "";
    size_t ml = strlen(marker);
    if (ml > META_KEY_MAX || strlen(vid_marker) >= META_VERSION_MAX)
        return META_EINVAL;
    struct walk w;
    uint8_t seek[META_KEYBUF], last[META_KEYBUF];
    size_t seekl, lastl = 0; /* last: bucket NUL key NUL of the previous record */
    int mid_key;
    MDB_val k, v;
    int rc = walk_begin(&w, m, req->bucket, req->prefix ? req->prefix : "",
                        req->delimiter ? req->delimiter : "", req->max_keys);
    if (rc)
        return rc;
    rc = version_walk_start(&w, marker, vid_marker, seek, &seekl, &mid_key);
    if (rc)
        return walk_end(&w, rc, out);
    if (mid_key) {
        lastl = w.bl + ml + 1;
        memcpy(last, seek, lastl);
    }
    rc = lkv_cursor_seek_ge(w.cur, seek, seekl, &k, &v);
    while (rc == 0) {
        int in = walk_record(&w, &k);
        if (in <= 0) {
            rc = in;
            break;
        }
        size_t cpl = walk_rollup(&w);
        if (cpl) {
            lastl = 0;
            if (walk_prefix(&w, cpl, marker, ml, &k, &v, &rc))
                break;
            continue;
        }
        struct rec_object_head h;
        rc = rec_object_decode_head(v.mv_data, v.mv_size, &h);
        if (rc)
            break;
        size_t kpl = w.bl + w.kl + 1; /* bucket NUL key NUL */
        int is_latest = !(lastl == kpl && memcmp(last, k.mv_data, kpl) == 0);
        if (emit(&w.st, w.key, w.kl, &h, is_latest, &rc))
            break;
        memcpy(last, k.mv_data, kpl);
        lastl = kpl;
        rc = lkv_cursor_next(w.cur, &k, &v);
    }
    return walk_end(&w, rc, out);
}
