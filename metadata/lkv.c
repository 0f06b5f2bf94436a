/* metadata/lkv.c - see lkv.h. */
#include "metadata/lkv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metadata/meta.h"

#define LKV_LEAF 0x00
#define LKV_GROUP 0x01
#define LKV_HDR 8

static const uint8_t lkv_counter_key[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          'n', 'e', 'x', 't', '-', 'i', 'd'};

static void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Build parent + seg + type into out (LKV_HDR + LKV_SEG + 1 bytes). */
static size_t lkv_make(uint8_t *out, uint64_t parent, const uint8_t *seg, size_t n, uint8_t type)
{
    be64_put(out, parent);
    if (n)
        memcpy(out + LKV_HDR, seg, n);
    out[LKV_HDR + n] = type;
    return LKV_HDR + n + 1;
}

static int lkv_child_id(const MDB_val *v, uint64_t *id)
{
    if (v->mv_size != 8)
        return META_ECORRUPT;
    *id = be64_get(v->mv_data);
    if (*id == 0 || *id == UINT64_MAX)
        return META_ECORRUPT;
    return 0;
}

static int lkv_alloc_id(MDB_txn *txn, MDB_dbi dbi, uint64_t *id)
{
    MDB_val k = {sizeof lkv_counter_key, (void *)lkv_counter_key}, v;
    uint64_t next = 1;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0) {
        if (v.mv_size != 8)
            return META_ECORRUPT;
        next = be64_get(v.mv_data);
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    if (next == 0 || next >= UINT64_MAX - 1)
        return META_ECORRUPT;
    uint8_t nb[8];
    be64_put(nb, next + 1);
    v.mv_size = 8;
    v.mv_data = nb;
    rc = mdb_put(txn, dbi, &k, &v, 0);
    if (rc)
        return rc;
    *id = next;
    return 0;
}

int lkv_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (klen > LKV_KEY_MAX)
        return -EINVAL;
    const uint8_t *r = key;
    uint64_t parent = 0;
    uint8_t kb[LKV_HDR + LKV_SEG + 1];
    MDB_val k, v;
    int rc;
    while (klen > LKV_SEG) {
        k.mv_size = lkv_make(kb, parent, r, LKV_SEG, LKV_GROUP);
        k.mv_data = kb;
        rc = mdb_get(txn, dbi, &k, &v);
        if (rc == 0) {
            rc = lkv_child_id(&v, &parent);
            if (rc)
                return rc;
        } else if (rc == MDB_NOTFOUND) {
            uint64_t id;
            rc = lkv_alloc_id(txn, dbi, &id);
            if (rc)
                return rc;
            uint8_t ib[8];
            be64_put(ib, id);
            v.mv_size = 8;
            v.mv_data = ib;
            rc = mdb_put(txn, dbi, &k, &v, 0);
            if (rc)
                return rc;
            parent = id;
        } else {
            return rc;
        }
        r += LKV_SEG;
        klen -= LKV_SEG;
    }
    k.mv_size = lkv_make(kb, parent, r, klen, LKV_LEAF);
    k.mv_data = kb;
    v.mv_size = vlen;
    v.mv_data = (void *)val;
    return mdb_put(txn, dbi, &k, &v, 0);
}

/* Follow the group entries of key.  Fills parents[0..depth] (parents[0] is
 * the root) and returns the depth, or a negative/LMDB error, MDB_NOTFOUND
 * when a group is missing. */
static int lkv_walk(MDB_txn *txn, MDB_dbi dbi, const uint8_t *r, size_t klen,
                    uint64_t parents[LKV_DEPTH_MAX + 1], int *depth)
{
    uint8_t kb[LKV_HDR + LKV_SEG + 1];
    MDB_val k, v;
    int d = 0;
    parents[0] = 0;
    while (klen > LKV_SEG) {
        k.mv_size = lkv_make(kb, parents[d], r, LKV_SEG, LKV_GROUP);
        k.mv_data = kb;
        int rc = mdb_get(txn, dbi, &k, &v);
        if (rc)
            return rc;
        rc = lkv_child_id(&v, &parents[d + 1]);
        if (rc)
            return rc;
        d++;
        r += LKV_SEG;
        klen -= LKV_SEG;
    }
    *depth = d;
    return 0;
}

int lkv_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *val)
{
    if (klen > LKV_KEY_MAX)
        return -EINVAL;
    uint64_t parents[LKV_DEPTH_MAX + 1];
    int d;
    int rc = lkv_walk(txn, dbi, key, klen, parents, &d);
    if (rc)
        return rc;
    uint8_t kb[LKV_HDR + LKV_SEG + 1];
    size_t off = (size_t)d * LKV_SEG;
    MDB_val k = {lkv_make(kb, parents[d], (const uint8_t *)key + off, klen - off, LKV_LEAF), kb};
    return mdb_get(txn, dbi, &k, val);
}

/* Is the child range of id empty? 1 yes, 0 no, else error. */
static int lkv_range_empty(MDB_txn *txn, MDB_dbi dbi, uint64_t id)
{
    MDB_cursor *mc;
    int rc = mdb_cursor_open(txn, dbi, &mc);
    if (rc)
        return rc;
    uint8_t kb[8];
    be64_put(kb, id);
    MDB_val k = {8, kb}, v;
    rc = mdb_cursor_get(mc, &k, &v, MDB_SET_RANGE);
    int empty;
    if (rc == MDB_NOTFOUND)
        empty = 1;
    else if (rc)
        empty = rc;
    else
        empty = !(k.mv_size >= LKV_HDR && be64_get(k.mv_data) == id);
    mdb_cursor_close(mc);
    return empty;
}

int lkv_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
    if (klen > LKV_KEY_MAX)
        return -EINVAL;
    const uint8_t *kp = key;
    uint64_t parents[LKV_DEPTH_MAX + 1];
    int d;
    int rc = lkv_walk(txn, dbi, kp, klen, parents, &d);
    if (rc)
        return rc;
    uint8_t kb[LKV_HDR + LKV_SEG + 1];
    size_t off = (size_t)d * LKV_SEG;
    MDB_val k = {lkv_make(kb, parents[d], kp + off, klen - off, LKV_LEAF), kb};
    rc = mdb_del(txn, dbi, &k, NULL);
    if (rc)
        return rc;
    /* drop group entries whose child range is now empty, deepest first */
    for (int i = d; i > 0; i--) {
        rc = lkv_range_empty(txn, dbi, parents[i]);
        if (rc == 0)
            break;
        if (rc != 1)
            return rc;
        k.mv_size = lkv_make(kb, parents[i - 1], kp + (size_t)(i - 1) * LKV_SEG, LKV_SEG, LKV_GROUP);
        k.mv_data = kb;
        rc = mdb_del(txn, dbi, &k, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Cursor                                                              */

struct lkv_level {
    MDB_cursor *mc;
    uint64_t parent;
    size_t base; /* where this level's segment starts in the key buffer */
};

struct lkv_cursor {
    MDB_txn *txn;
    MDB_dbi dbi;
    int depth;   /* active levels */
    int valid;   /* positioned on an entry */
    uint64_t steps;
    size_t keylen;
    struct lkv_level lv[LKV_DEPTH_MAX + 1];
    uint8_t key[LKV_KEY_MAX + LKV_SEG];
};

int lkv_cursor_open(MDB_txn *txn, MDB_dbi dbi, struct lkv_cursor **out)
{
    struct lkv_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->txn = txn;
    c->dbi = dbi;
    *out = c;
    return 0;
}

void lkv_cursor_close(struct lkv_cursor *c)
{
    if (!c)
        return;
    for (int i = 0; i <= LKV_DEPTH_MAX; i++)
        if (c->lv[i].mc)
            mdb_cursor_close(c->lv[i].mc);
    free(c);
}

uint64_t lkv_cursor_steps(const struct lkv_cursor *c)
{
    return c->steps;
}

static int lkv_push(struct lkv_cursor *c, uint64_t parent, size_t base)
{
    if (c->depth > LKV_DEPTH_MAX)
        return META_ECORRUPT; /* deeper than any key we write */
    struct lkv_level *l = &c->lv[c->depth];
    if (!l->mc) {
        int rc = mdb_cursor_open(c->txn, c->dbi, &l->mc);
        if (rc)
            return rc;
    }
    l->parent = parent;
    l->base = base;
    c->depth++;
    return 0;
}

static int lkv_op(struct lkv_cursor *c, struct lkv_level *l, MDB_val *k, MDB_val *v, MDB_cursor_op op)
{
    c->steps++;
    return mdb_cursor_get(l->mc, k, v, op);
}

/*
 * The top level's cursor just made an operation with result rc and entry
 * k/v.  Move to the next leaf in full-key order: descend into groups, pop
 * levels whose range ended and step their parent.
 */
static int lkv_settle(struct lkv_cursor *c, int rc, MDB_val *k, MDB_val *v, MDB_val *ko, MDB_val *vo)
{
    for (;;) {
        struct lkv_level *l = &c->lv[c->depth - 1];
        if (rc != 0 && rc != MDB_NOTFOUND)
            goto fail;
        if (rc == MDB_NOTFOUND || k->mv_size < LKV_HDR + 1 || be64_get(k->mv_data) != l->parent) {
            if (c->depth == 1) {
                rc = MDB_NOTFOUND;
                goto fail;
            }
            c->depth--;
            l = &c->lv[c->depth - 1];
            rc = lkv_op(c, l, k, v, MDB_NEXT);
            continue;
        }
        size_t seglen = k->mv_size - LKV_HDR - 1;
        const uint8_t *kd = k->mv_data;
        uint8_t type = kd[k->mv_size - 1];
        if (seglen > LKV_SEG || l->base + seglen > LKV_KEY_MAX ||
            (type != LKV_LEAF && type != LKV_GROUP)) {
            rc = META_ECORRUPT;
            goto fail;
        }
        memcpy(c->key + l->base, kd + LKV_HDR, seglen);
        if (type == LKV_LEAF) {
            c->keylen = l->base + seglen;
            c->valid = 1;
            ko->mv_data = c->key;
            ko->mv_size = c->keylen;
            *vo = *v;
            return 0;
        }
        uint64_t child;
        rc = lkv_child_id(v, &child);
        if (rc)
            goto fail;
        rc = lkv_push(c, child, l->base + seglen);
        if (rc)
            goto fail;
        uint8_t kb[8];
        be64_put(kb, child);
        k->mv_size = 8;
        k->mv_data = kb;
        rc = lkv_op(c, &c->lv[c->depth - 1], k, v, MDB_SET_RANGE);
    }
fail:
    c->valid = 0;
    return rc;
}

int lkv_cursor_seek_ge(struct lkv_cursor *c, const void *key, size_t klen, MDB_val *ko, MDB_val *vo)
{
    if (klen > LKV_KEY_MAX)
        return -EINVAL;
    const uint8_t *r = key;
    uint8_t kb[LKV_HDR + LKV_SEG + 1];
    MDB_val k, v;
    int rc;
    c->depth = 0;
    c->valid = 0;
    rc = lkv_push(c, 0, 0);
    if (rc)
        return rc;
    for (;;) {
        struct lkv_level *l = &c->lv[c->depth - 1];
        if (klen <= LKV_SEG) {
            k.mv_size = lkv_make(kb, l->parent, r, klen, LKV_LEAF);
            k.mv_data = kb;
            rc = lkv_op(c, l, &k, &v, MDB_SET_RANGE);
            return lkv_settle(c, rc, &k, &v, ko, vo);
        }
        size_t want = lkv_make(kb, l->parent, r, LKV_SEG, LKV_GROUP);
        k.mv_size = want;
        k.mv_data = kb;
        rc = lkv_op(c, l, &k, &v, MDB_SET_RANGE);
        if (rc != 0 || k.mv_size != want || memcmp(k.mv_data, kb, want) != 0)
            return lkv_settle(c, rc, &k, &v, ko, vo);
        /* exact group: continue the seek inside it */
        uint64_t child;
        rc = lkv_child_id(&v, &child);
        if (rc) {
            c->valid = 0;
            return rc;
        }
        memcpy(c->key + l->base, r, LKV_SEG);
        rc = lkv_push(c, child, l->base + LKV_SEG);
        if (rc) {
            c->valid = 0;
            return rc;
        }
        r += LKV_SEG;
        klen -= LKV_SEG;
    }
}

int lkv_cursor_next(struct lkv_cursor *c, MDB_val *ko, MDB_val *vo)
{
    if (!c->valid || c->depth == 0)
        return MDB_NOTFOUND;
    MDB_val k, v;
    int rc = lkv_op(c, &c->lv[c->depth - 1], &k, &v, MDB_NEXT);
    return lkv_settle(c, rc, &k, &v, ko, vo);
}

size_t lkv_prefix_successor(const void *s, size_t n, uint8_t *out)
{
    const uint8_t *p = s;
    while (n > 0 && p[n - 1] == 0xff)
        n--;
    if (n == 0)
        return 0;
    memcpy(out, p, n);
    out[n - 1]++;
    return n;
}
