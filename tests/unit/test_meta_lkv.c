/* Unit tests for metadata/lkv: the long-key map must iterate and seek in
 * exactly memcmp order of the full keys, whatever their lengths, and leave
 * no group entries behind when keys are deleted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metadata/lkv.h"

struct env {
    char dir[64];
    MDB_env *env;
    MDB_dbi dbi;
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void env_open(struct env *e)
{
    snprintf(e->dir, sizeof e->dir, "/tmp/cairn-lkv-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    assert_int_equal(mdb_env_create(&e->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(e->env, 4), 0);
    assert_int_equal(mdb_env_set_mapsize(e->env, 1ull << 30), 0);
    assert_int_equal(mdb_env_open(e->env, e->dir, MDB_NOSYNC, 0600), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "t", MDB_CREATE, &e->dbi), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void env_close(struct env *e)
{
    mdb_env_close(e->env);
    nftw(e->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- model: a sorted array of distinct keys ---- */

struct kv {
    uint8_t *k;
    size_t len;
    uint32_t val;
    int live;
};

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static int kv_cmp(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    return bytes_cmp(x->k, x->len, y->k, y->len);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const uint8_t alphabet[] = {0x00, 0x01, 0x02, 'a', 'b', 0xfe, 0xff};

/* Keys built from a few shared bases of lengths around the segment
 * boundaries, plus random tails from a tiny alphabet (so that prefixes are
 * shared and every byte-order corner case turns up). */
static size_t make_key(uint8_t *out, uint8_t bases[][1600])
{
    static const size_t base_len[] = {0, 1, 300, 501, 502, 503, 700, 1003, 1004, 1005, 1200};
    size_t nb = sizeof base_len / sizeof base_len[0];
    size_t bi = rnd() % nb;
    size_t len = base_len[bi];
    memcpy(out, bases[bi % 3], len);
    size_t tail;
    switch (rnd() % 4) {
    case 0: tail = rnd() % 4; break;
    case 1: tail = rnd() % 20; break;
    default: tail = rnd() % (1501 - len); break;
    }
    if (len + tail > 1500)
        tail = 1500 - len;
    for (size_t i = 0; i < tail; i++)
        out[len + i] = alphabet[rnd() % sizeof alphabet];
    return len + tail;
}

/* lower bound in the sorted live model */
static size_t model_lb(struct kv *m, size_t n, const uint8_t *k, size_t kl)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (bytes_cmp(m[mid].k, m[mid].len, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t compact(struct kv *m, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].live)
            m[j++] = m[i];
        else
            free(m[i].k);
    }
    return j;
}

static void check_iteration(struct env *e, struct kv *m, size_t n)
{
    MDB_txn *txn;
    struct lkv_cursor *c;
    MDB_val k, v;
    assert_int_equal(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(lkv_cursor_open(txn, e->dbi, &c), 0);
    size_t i = 0;
    int rc;
    for (rc = lkv_cursor_seek_ge(c, "", 0, &k, &v); rc == 0; rc = lkv_cursor_next(c, &k, &v), i++) {
        assert_true(i < n);
        assert_int_equal(k.mv_size, m[i].len);
        assert_memory_equal(k.mv_data, m[i].k, m[i].len);
        assert_int_equal(v.mv_size, 4);
        assert_memory_equal(v.mv_data, &m[i].val, 4);
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    assert_int_equal(i, n);
    /* next after the end stays at the end */
    assert_int_equal(lkv_cursor_next(c, &k, &v), MDB_NOTFOUND);
    lkv_cursor_close(c);
    mdb_txn_abort(txn);
}

static void check_seeks(struct env *e, struct kv *m, size_t n, uint8_t bases[][1600], int probes)
{
    MDB_txn *txn;
    struct lkv_cursor *c;
    MDB_val k, v;
    uint8_t probe[2100];
    assert_int_equal(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(lkv_cursor_open(txn, e->dbi, &c), 0);
    for (int p = 0; p < probes; p++) {
        size_t pl;
        int kind = (int)(rnd() % 5);
        if (n == 0)
            kind = 4;
        const struct kv *src = n ? &m[rnd() % n] : NULL;
        switch (kind) {
        case 0: /* an existing key */
            pl = src->len;
            memcpy(probe, src->k, pl);
            break;
        case 1: /* a proper prefix of one */
            pl = src->len ? rnd() % src->len : 0;
            memcpy(probe, src->k, pl);
            break;
        case 2: /* an extension of one */
            pl = src->len;
            memcpy(probe, src->k, pl);
            for (int j = (int)(rnd() % 600); j >= 0; j--)
                probe[pl++] = alphabet[rnd() % sizeof alphabet];
            break;
        case 3: /* a key with its last byte bumped */
            pl = src->len;
            memcpy(probe, src->k, pl);
            if (pl)
                probe[pl - 1] = (uint8_t)(probe[pl - 1] + 1);
            break;
        default:
            pl = make_key(probe, bases);
            break;
        }
        size_t want = model_lb(m, n, probe, pl);
        int rc = lkv_cursor_seek_ge(c, probe, pl, &k, &v);
        /* walk a few steps from there as well */
        for (int step = 0; step < 3; step++, want++) {
            if (want >= n) {
                assert_int_equal(rc, MDB_NOTFOUND);
                break;
            }
            assert_int_equal(rc, 0);
            assert_int_equal(k.mv_size, m[want].len);
            assert_memory_equal(k.mv_data, m[want].k, m[want].len);
            rc = lkv_cursor_next(c, &k, &v);
        }
    }
    lkv_cursor_close(c);
    mdb_txn_abort(txn);
}

static void test_random_order_seek_delete(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    static uint8_t bases[3][1600];
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < 1600; i++)
            bases[b][i] = (uint8_t)(b == 0 ? 'x' : alphabet[rnd() % sizeof alphabet]);

    size_t n = 3000, cnt = 0;
    struct kv *m = calloc(n + 16, sizeof *m);
    uint8_t buf[2100];
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
    for (size_t i = 0; i < n; i++) {
        size_t kl = make_key(buf, bases);
        uint32_t val = (uint32_t)i;
        assert_int_equal(lkv_put(txn, e.dbi, buf, kl, &val, 4), 0);
        m[cnt].k = malloc(kl ? kl : 1);
        memcpy(m[cnt].k, buf, kl);
        m[cnt].len = kl;
        m[cnt].val = val;
        m[cnt].live = 1;
        cnt++;
    }
    /* exact boundary lengths */
    static const size_t edge[] = {LKV_SEG - 1, LKV_SEG, LKV_SEG + 1, 2 * LKV_SEG, 2 * LKV_SEG + 1, 3 * LKV_SEG};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        memset(buf, 'x', edge[i]);
        uint32_t val = (uint32_t)(n + i);
        assert_int_equal(lkv_put(txn, e.dbi, buf, edge[i], &val, 4), 0);
        m[cnt].k = malloc(edge[i]);
        memcpy(m[cnt].k, buf, edge[i]);
        m[cnt].len = edge[i];
        m[cnt].val = val;
        m[cnt].live = 1;
        cnt++;
    }
    assert_int_equal(mdb_txn_commit(txn), 0);

    /* sort by key; of duplicates the last write (largest val) wins */
    qsort(m, cnt, sizeof *m, kv_cmp);
    for (size_t i = 0; i + 1 < cnt; i++) {
        if (kv_cmp(&m[i], &m[i + 1]) == 0) {
            /* the later insert (larger val) won */
            if (m[i].val > m[i + 1].val)
                m[i + 1].val = m[i].val;
            m[i].live = 0;
        }
    }
    cnt = compact(m, cnt);
    size_t longk = 0;
    for (size_t i = 0; i < cnt; i++)
        longk += m[i].len > 2 * LKV_SEG;
    assert_true(cnt > 2500);
    assert_true(longk > 300); /* the two-group case is exercised */

    check_iteration(&e, m, cnt);
    check_seeks(&e, m, cnt, bases, 3000);

    /* get: every key, and some absent ones */
    assert_int_equal(mdb_txn_begin(e.env, NULL, MDB_RDONLY, &txn), 0);
    for (size_t i = 0; i < cnt; i++) {
        MDB_val v;
        assert_int_equal(lkv_get(txn, e.dbi, m[i].k, m[i].len, &v), 0);
        assert_memory_equal(v.mv_data, &m[i].val, 4);
    }
    for (int i = 0; i < 200; i++) {
        size_t kl = make_key(buf, bases);
        buf[kl++] = 0x03; /* 0x03 never occurs in generated keys */
        MDB_val v;
        assert_int_equal(lkv_get(txn, e.dbi, buf, kl, &v), MDB_NOTFOUND);
    }
    mdb_txn_abort(txn);

    /* delete about half, check again */
    assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
    for (size_t i = 0; i < cnt; i++) {
        if (rnd() % 2) {
            assert_int_equal(lkv_del(txn, e.dbi, m[i].k, m[i].len), 0);
            assert_int_equal(lkv_del(txn, e.dbi, m[i].k, m[i].len), MDB_NOTFOUND);
            m[i].live = 0;
        }
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    cnt = compact(m, cnt);
    check_iteration(&e, m, cnt);
    check_seeks(&e, m, cnt, bases, 1500);

    /* delete the rest: only the id counter may remain */
    assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
    for (size_t i = 0; i < cnt; i++) {
        assert_int_equal(lkv_del(txn, e.dbi, m[i].k, m[i].len), 0);
        m[i].live = 0;
    }
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, e.dbi, &st), 0);
    assert_int_equal(st.ms_entries, 1);
    assert_int_equal(mdb_txn_commit(txn), 0);
    cnt = compact(m, cnt);
    check_iteration(&e, m, 0);
    check_seeks(&e, m, 0, bases, 50);
    free(m);
    env_close(&e);
}

/* Keys differing only after the first segment, and a short key equal to a
 * group's segment: the order must be leaf first, then the group's keys. */
static void test_boundaries(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    uint8_t a[1200];
    memset(a, 'k', sizeof a);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
    uint32_t v1 = 1, v2 = 2, v3 = 3, v4 = 4;
    assert_int_equal(lkv_put(txn, e.dbi, a, LKV_SEG + 10, &v3, 4), 0); /* group */
    assert_int_equal(lkv_put(txn, e.dbi, a, LKV_SEG, &v2, 4), 0);      /* leaf == group seg */
    assert_int_equal(lkv_put(txn, e.dbi, a, LKV_SEG - 1, &v1, 4), 0);
    a[LKV_SEG + 3] = 'a';
    assert_int_equal(lkv_put(txn, e.dbi, a, LKV_SEG + 10, &v4, 4), 0); /* sorts before v3's key */
    /* replacing keeps one entry */
    assert_int_equal(lkv_put(txn, e.dbi, a, LKV_SEG + 10, &v4, 4), 0);
    struct lkv_cursor *c;
    MDB_val k, v;
    assert_int_equal(lkv_cursor_open(txn, e.dbi, &c), 0);
    uint32_t want[] = {1, 2, 4, 3};
    int i = 0, rc;
    for (rc = lkv_cursor_seek_ge(c, "", 0, &k, &v); rc == 0; rc = lkv_cursor_next(c, &k, &v))
        assert_memory_equal(v.mv_data, &want[i++], 4);
    assert_int_equal(i, 4);
    /* seek into the middle of the group */
    assert_int_equal(lkv_cursor_seek_ge(c, a, LKV_SEG + 5, &k, &v), 0);
    assert_memory_equal(v.mv_data, &v4, 4);
    assert_int_equal(lkv_cursor_next(c, &k, &v), 0);
    assert_memory_equal(v.mv_data, &v3, 4);
    assert_int_equal(lkv_cursor_next(c, &k, &v), MDB_NOTFOUND);
    /* seek past everything inside the group resumes after it */
    uint8_t big[1200];
    memset(big, 'k', sizeof big);
    big[LKV_SEG + 3] = 'z';
    assert_int_equal(lkv_cursor_seek_ge(c, big, LKV_SEG + 4, &k, &v), MDB_NOTFOUND);
    lkv_cursor_close(c);
    /* too long */
    static uint8_t huge[LKV_KEY_MAX + 1];
    assert_int_equal(lkv_put(txn, e.dbi, huge, sizeof huge, &v1, 4), -EINVAL);
    mdb_txn_abort(txn);
    env_close(&e);
}

static void test_prefix_successor(void **state)
{
    (void)state;
    uint8_t out[8];
    assert_int_equal(lkv_prefix_successor("ab", 2, out), 2);
    assert_memory_equal(out, "ac", 2);
    assert_int_equal(lkv_prefix_successor("a\xff\xff", 3, out), 1);
    assert_memory_equal(out, "b", 1);
    assert_int_equal(lkv_prefix_successor("\xff\xff", 2, out), 0);
    assert_int_equal(lkv_prefix_successor("", 0, out), 0);
    assert_int_equal(lkv_prefix_successor("a/\0", 3, out), 3);
    assert_memory_equal(out, "a/\x01", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_order_seek_delete),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_prefix_successor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
