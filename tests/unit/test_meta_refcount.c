/* Unit test for chunk reference counting: after a long random sequence of
 * puts, overwrites, deletes (versioned and not), multipart parts,
 * completes and aborts, garbage collection and failed commands, every
 * chunk's refcount equals a recount from the surviving object versions and
 * parts, the unused index holds exactly the chunks at zero, and the
 * statistics counters match a recount. */
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
#include "metadata/meta.h"
#include "metadata/meta_internal.h"
#include "metadata/record.h"

#define NCHUNKS 150
#define NKEYS 25

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int64_t fake_now = 1;
static int64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void mkid(uint8_t id[META_CHUNK_ID_LEN], uint32_t n)
{
    memset(id, 0x11, META_CHUNK_ID_LEN);
    id[0] = (uint8_t)n;
}

static void add_chunk(struct meta *m, uint32_t n)
{
    struct meta_chunk c = {.len = 100 + n, .zero_since_ms = fake_now};
    mkid(c.id, n);
    assert_int_equal(meta_chunk_add(m, &c), 0);
}

static uint32_t random_refs(struct meta_chunk_ref *refs, int allow_missing)
{
    uint32_t n = (uint32_t)(rnd() % 4);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)(rnd() % NCHUNKS);
        if (allow_missing && rnd() % 40 == 0)
            c = 200; /* never has a record */
        mkid(refs[i].id, c);
        refs[i].len = 100 + c;
    }
    return n;
}

static int expect_ok_or(int rc, const int *allowed, size_t n)
{
    if (rc == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (rc == allowed[i])
            return rc;
    fail_msg("unexpected error %d (%s)", rc, meta_strerror(rc));
    return rc;
}

struct recount {
    uint64_t refs[256];
    uint64_t versions, objects, uploads, upload_refs;
};

static void do_recount(struct meta *m, struct recount *rc)
{
    memset(rc, 0, sizeof *rc);
    MDB_txn *txn;
    assert_int_equal(meta_db_read_begin(&m->db, &txn), 0);
    struct lkv_cursor *cur;
    MDB_val k, v;
    assert_int_equal(lkv_cursor_open(txn, m->db.objects, &cur), 0);
    uint8_t last[META_KEYBUF];
    size_t lastlen = 0;
    int r;
    for (r = lkv_cursor_seek_ge(cur, "", 0, &k, &v); r == 0; r = lkv_cursor_next(cur, &k, &v)) {
        struct meta_object o;
        assert_int_equal(rec_object_decode(v.mv_data, v.mv_size, &o), 0);
        for (uint32_t i = 0; i < o.nchunks; i++)
            rc->refs[o.chunks[i].id[0]]++;
        rc->versions++;
        size_t pl = k.mv_size - 8;
        if (pl != lastlen || memcmp(last, k.mv_data, pl) != 0) { /* first = latest */
            if (!(o.flags & META_OBJ_DELETE_MARKER))
                rc->objects++;
            memcpy(last, k.mv_data, pl);
            lastlen = pl;
        }
        meta_object_release(&o);
    }
    assert_int_equal(r, MDB_NOTFOUND);
    lkv_cursor_close(cur);
    assert_int_equal(lkv_cursor_open(txn, m->db.uploads, &cur), 0);
    for (r = lkv_cursor_seek_ge(cur, "", 0, &k, &v); r == 0; r = lkv_cursor_next(cur, &k, &v))
        rc->uploads++;
    lkv_cursor_close(cur);
    MDB_cursor *mc;
    assert_int_equal(mdb_cursor_open(txn, m->db.parts, &mc), 0);
    while ((r = mdb_cursor_get(mc, &k, &v, MDB_NEXT)) == 0) {
        if (meta_be32_get((const uint8_t *)k.mv_data + k.mv_size - 4) == 0) {
            rc->upload_refs++; /* the upload's reference entry */
            continue;
        }
        struct meta_part p;
        assert_int_equal(rec_part_decode(v.mv_data, v.mv_size, &p), 0);
        for (uint32_t i = 0; i < p.nchunks; i++)
            rc->refs[p.chunks[i].id[0]]++;
        meta_part_release(&p);
    }
    mdb_cursor_close(mc);
    meta_db_read_end(&m->db, txn);
}

struct chunk_seen {
    struct recount *rc;
    uint64_t count, bytes, zero;
    int present[256];
};

static int check_chunk(void *arg, const struct meta_chunk *c)
{
    struct chunk_seen *s = arg;
    uint8_t id[META_CHUNK_ID_LEN];
    mkid(id, c->id[0]);
    assert_memory_equal(id, c->id, META_CHUNK_ID_LEN);
    if (c->refcount != s->rc->refs[c->id[0]])
        fail_msg("chunk %u: refcount %llu, recount %llu", c->id[0], (unsigned long long)c->refcount,
                 (unsigned long long)s->rc->refs[c->id[0]]);
    if (c->refcount == 0) {
        assert_true(c->zero_since_ms <= fake_now);
        s->zero++;
    }
    s->present[c->id[0]] = 1;
    s->count++;
    s->bytes += c->len;
    return 0;
}

static void verify(struct meta *m)
{
    struct recount rc;
    do_recount(m, &rc);
    struct chunk_seen s;
    memset(&s, 0, sizeof s);
    s.rc = &rc;
    assert_int_equal(meta_chunk_foreach(m, check_chunk, &s), 0);
    /* no reference to a chunk without a record */
    for (int i = 0; i < 256; i++)
        if (rc.refs[i])
            assert_true(s.present[i]);
    /* the unused index holds exactly the chunks at zero */
    struct meta_chunk *un;
    size_t n;
    assert_int_equal(meta_chunk_unused(m, INT64_MAX, NULL, 1000, &un, &n), 0);
    assert_int_equal(n, s.zero);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rc.refs[un[i].id[0]], 0);
    free(un);
    struct meta_stats st;
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.chunks, s.count);
    assert_int_equal(st.chunk_bytes, s.bytes);
    assert_int_equal(st.unused_chunks, s.zero);
    assert_int_equal(st.versions, rc.versions);
    assert_int_equal(st.objects, rc.objects);
    assert_int_equal(st.uploads, rc.uploads);
    assert_int_equal(rc.upload_refs, rc.uploads);
}

static void test_random_bookkeeping(void **state)
{
    (void)state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/cairn-refs-XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct meta *m;
    struct meta_open_opts oo = {.nosync = 1};
    assert_int_equal(meta_open_ex(dir, &oo, &m), 0);
    meta_set_clock(m, fake_clock, NULL);
    static const char *buckets[] = {"plain", "ver"};
    for (int i = 0; i < 2; i++) {
        struct meta_bucket b;
        memset(&b, 0, sizeof b);
        strcpy(b.name, buckets[i]);
        strcpy(b.owner, "alice");
        b.versioning = i ? META_VERSIONING_ENABLED : META_VERSIONING_OFF;
        assert_int_equal(meta_bucket_create(m, &b), 0);
    }
    for (uint32_t i = 0; i < NCHUNKS; i++)
        add_chunk(m, i);

    int vnum = 0, unum = 0;
    char open_uploads[64][3][48]; /* bucket, key, id */
    int nopen = 0;
    int ok_ops = 0, removed_chunks = 0;
    for (int step = 0; step < 4000; step++) {
        fake_now++;
        const char *bucket = buckets[rnd() % 2];
        char key[32], vid[40];
        snprintf(key, sizeof key, "k%02d", (int)(rnd() % NKEYS));
        struct meta_chunk_ref refs[8];
        int rc = 0;
        unsigned op = (unsigned)(rnd() % 100);
        if (op < 35) { /* put, sometimes with a precondition */
            struct meta_object o;
            memset(&o, 0, sizeof o);
            o.key = key;
            snprintf(o.version_id, sizeof o.version_id, "v%d", ++vnum);
            snprintf(o.etag, sizeof o.etag, "e%d", vnum);
            o.nchunks = random_refs(refs, 1);
            o.chunks = refs;
            o.mtime_ms = fake_now;
            struct meta_precond pc = {.if_none_match_star = 1};
            struct meta_object rep;
            static const int allowed[] = {META_ENOCHUNK, META_EPRECOND};
            rc = expect_ok_or(meta_object_put(m, bucket, &o, rnd() % 5 == 0 ? &pc : NULL, &rep), allowed, 2);
            if (rc == 0)
                meta_object_release(&rep);
        } else if (op < 50) { /* delete latest / marker, sometimes if-match the latest ETag or a guess */
            snprintf(vid, sizeof vid, "m%d", ++vnum);
            struct meta_object rem, cur;
            char etag[META_ETAG_MAX];
            snprintf(etag, sizeof etag, "e%d", (int)(rnd() % (unsigned)vnum) + 1);
            if (rnd() % 2 == 0 && meta_object_get(m, bucket, key, NULL, &cur) == 0) {
                snprintf(etag, sizeof etag, "%s", cur.etag);
                meta_object_release(&cur);
            }
            struct meta_precond pc = {.if_match_etag = etag};
            static const int allowed[] = {META_ENOTFOUND, META_EPRECOND};
            rc = expect_ok_or(meta_object_delete(m, bucket, key, NULL, vid, fake_now,
                                                 rnd() % 3 == 0 ? &pc : NULL, &rem),
                              allowed, 2);
            if (rc == 0)
                meta_object_release(&rem);
        } else if (op < 62) { /* delete a specific version: the latest, or a guess */
            struct meta_object cur;
            snprintf(vid, sizeof vid, "%c%d", rnd() % 2 ? 'v' : 'm', vnum ? (int)(rnd() % (unsigned)vnum) + 1 : 1);
            if (rnd() % 4 == 0)
                strcpy(vid, "null");
            if (rnd() % 4 != 0 && meta_object_get(m, bucket, key, NULL, &cur) == 0) {
                snprintf(vid, sizeof vid, "%s", cur.version_id);
                meta_object_release(&cur);
            }
            static const int allowed[] = {META_ENOTFOUND};
            rc = expect_ok_or(meta_object_delete(m, bucket, key, vid, NULL, fake_now, NULL, NULL), allowed, 1);
        } else if (op < 64) { /* versioning changes on the versioned bucket */
            uint8_t to = rnd() % 2 ? META_VERSIONING_ENABLED : META_VERSIONING_SUSPENDED;
            assert_int_equal(meta_bucket_set_versioning(m, "ver", to), 0);
        } else if (op < 67 && nopen < 64) { /* create upload */
            struct meta_upload u;
            memset(&u, 0, sizeof u);
            u.key = key;
            snprintf(u.upload_id, sizeof u.upload_id, "up%d", ++unum);
            assert_int_equal(meta_upload_create(m, bucket, &u), 0);
            snprintf(open_uploads[nopen][0], 48, "%s", bucket);
            snprintf(open_uploads[nopen][1], 48, "%s", key);
            snprintf(open_uploads[nopen][2], 48, "%s", u.upload_id);
            nopen++;
        } else if (op < 85 && nopen) { /* part put (maybe replacing) */
            int i = (int)(rnd() % (unsigned)nopen);
            struct meta_part p;
            memset(&p, 0, sizeof p);
            p.part_number = 1 + (uint32_t)(rnd() % 5);
            snprintf(p.etag, sizeof p.etag, "p%u", (unsigned)(rnd() % 2));
            p.nchunks = random_refs(refs, 1);
            p.chunks = refs;
            static const int allowed[] = {META_ENOCHUNK};
            rc = expect_ok_or(meta_part_put(m, open_uploads[i][0], open_uploads[i][1], open_uploads[i][2], &p),
                              allowed, 1);
        } else if (op < 92 && nopen) { /* complete with a random subset */
            int i = (int)(rnd() % (unsigned)nopen);
            uint32_t nums[5];
            const char *etags[5];
            size_t n = 0;
            for (uint32_t pn = 1; pn <= 5; pn++) {
                if (rnd() % 2) {
                    nums[n] = pn;
                    etags[n] = rnd() % 2 ? "p0" : "p1";
                    n++;
                }
            }
            if (n == 0) {
                nums[0] = 1;
                etags[0] = "p0";
                n = 1;
            }
            struct meta_object o;
            memset(&o, 0, sizeof o);
            o.key = open_uploads[i][1];
            snprintf(o.version_id, sizeof o.version_id, "v%d", ++vnum);
            strcpy(o.etag, "mpu-1");
            struct meta_object rep;
            static const int allowed[] = {META_ENOPART};
            rc = expect_ok_or(meta_upload_complete(m, open_uploads[i][0], open_uploads[i][1], open_uploads[i][2],
                                                   nums, etags, n, &o, NULL, &rep), allowed, 1);
            if (rc == 0) {
                meta_object_release(&rep);
                memmove(open_uploads[i], open_uploads[nopen - 1], sizeof open_uploads[i]);
                nopen--;
            }
        } else if (op < 95 && nopen) { /* abort */
            int i = (int)(rnd() % (unsigned)nopen);
            assert_int_equal(meta_upload_abort(m, open_uploads[i][0], open_uploads[i][1], open_uploads[i][2]), 0);
            memmove(open_uploads[i], open_uploads[nopen - 1], sizeof open_uploads[i]);
            nopen--;
        } else { /* the collector: remove an unused chunk, then it is written again */
            uint8_t id[META_CHUNK_ID_LEN];
            uint32_t c = (uint32_t)(rnd() % NCHUNKS);
            mkid(id, c);
            static const int allowed[] = {META_EPRECOND};
            rc = expect_ok_or(meta_chunk_remove_unused(m, id, fake_now - 5), allowed, 1);
            if (rc == 0) {
                removed_chunks++;
                add_chunk(m, c);
            }
        }
        if (rc == 0)
            ok_ops++;
        if (step % 500 == 499)
            verify(m);
    }
    /* enough of the operations really happened */
    assert_true(ok_ops > 2000);
    assert_true(removed_chunks > 20); /* chunks really went back to zero */
    verify(m);
    meta_close(m);
    nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_bookkeeping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
