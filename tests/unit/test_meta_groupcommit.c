/* Unit tests for group commit in the single-node command log
 * (metadata/meta_log_local.c, contract in metadata/meta_log.h):
 *   - a batch held open by a test hook: commands that fail (precondition,
 *     META_ENOCHUNK, missing upload, ...) get their own error and leave no
 *     trace, the others commit, and every result is what applying the
 *     commands one by one in queue order gives (change feed order too);
 *   - a batch of nothing but failures;
 *   - MDB_MAP_FULL in the middle of a batch (the map grows, every command
 *     lands exactly once);
 *   - close while submitters are queued: close waits for them, later
 *     submits are refused;
 *   - 16 threads of puts, deletes, part puts and compare-and-swap updates
 *     of shared keys: the final state equals the threads' own models, the
 *     shared counter lost no update, refcounts equal a recount;
 *   - default environment flags are durable, and acknowledged writes
 *     survive kill -9 of a writer process (run as a child of this test);
 *   - durable put rates with 1, 16 and 64 threads (printed, not asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "metadata/lkv.h"
#include "metadata/meta.h"
#include "metadata/meta_internal.h"
#include "metadata/meta_log.h"
#include "metadata/record.h"

/* ---- helpers ---- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static struct meta *store_open(char dir[64], int nosync, uint64_t mapsize)
{
    struct meta *m;
    struct meta_open_opts o = {.mapsize = mapsize, .nosync = nosync};
    if (!dir[0]) {
        snprintf(dir, 64, "/tmp/cairn-gc-XXXXXX");
        assert_non_null(mkdtemp(dir));
    }
    assert_int_equal(meta_open_ex(dir, &o, &m), 0);
    return m;
}

static void store_destroy(struct meta *m, const char *dir)
{
    meta_close(m);
    nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Chunk n (1..255): id[0] = n, the rest 0x22.  200 never gets a record. */
#define MISSING_CHUNK 200
static void mkid(uint8_t id[META_CHUNK_ID_LEN], uint32_t n)
{
    memset(id, 0x22, META_CHUNK_ID_LEN);
    id[0] = (uint8_t)n;
}

static void add_chunk(struct meta *m, uint32_t n)
{
    struct meta_chunk c = {.len = 1000 + n, .zero_since_ms = 1000};
    mkid(c.id, n);
    assert_int_equal(meta_chunk_add(m, &c), 0);
}

static void make_bucket(struct meta *m, const char *name, uint8_t versioning)
{
    struct meta_bucket b;
    memset(&b, 0, sizeof b);
    snprintf(b.name, sizeof b.name, "%s", name);
    snprintf(b.owner, sizeof b.owner, "alice");
    b.versioning = versioning;
    assert_int_equal(meta_bucket_create(m, &b), 0);
}

static void log_stats(struct meta *m, struct meta_log_local_stats *s)
{
    meta_log_local_stats(m->log, s);
}

/* Wait until n submitters are queued behind the running batch. */
static void wait_waiting(struct meta_log *log, uint64_t n)
{
    double t0 = now_s();
    for (;;) {
        struct meta_log_local_stats s;
        meta_log_local_stats(log, &s);
        if (s.waiting == n)
            return;
        if (now_s() - t0 > 20)
            fail_msg("timed out waiting for %llu queued submitters (have %llu)",
                     (unsigned long long)n, (unsigned long long)s.waiting);
        sleep_ms(1);
    }
}

/* ---- a gate that holds the first batch open (meta_log_local_set_hook) ---- */

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int armed, held, open;
    size_t first_n;
};

static void gate_init(struct gate *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->armed = 1;
}

static void gate_release(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_hook(void *arg, size_t n)
{
    struct gate *g = arg;
    pthread_mutex_lock(&g->mu);
    if (g->armed) {
        g->armed = 0;
        g->held = 1;
        g->first_n = n;
        pthread_cond_broadcast(&g->cv);
        while (!g->open)
            pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait_held(struct gate *g)
{
    double t0 = now_s();
    pthread_mutex_lock(&g->mu);
    while (!g->held) {
        pthread_mutex_unlock(&g->mu);
        if (now_s() - t0 > 20)
            fail_msg("the first batch never reached the hook");
        sleep_ms(1);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* ---- one mutation run on its own thread ---- */

enum op_kind { OP_PUT, OP_DELETE, OP_PART, OP_CHUNK_RM };

struct op {
    struct meta *m;
    enum op_kind kind;
    const char *bucket;
    const char *key;
    const char *etag;            /* OP_PUT, OP_PART */
    uint32_t refs[4];            /* chunk numbers */
    uint32_t nrefs;
    int if_none_match;           /* OP_PUT preconditions */
    const char *if_match;
    const char *upload_id;       /* OP_PART */
    uint32_t part;
    uint32_t chunk;              /* OP_CHUNK_RM */
    int64_t cutoff;
    int rc;
    struct meta_object out;      /* replaced / removed */
    pthread_t t;
};

static int op_run(struct op *o)
{
    struct meta_chunk_ref refs[4];
    for (uint32_t i = 0; i < o->nrefs; i++) {
        mkid(refs[i].id, o->refs[i]);
        refs[i].len = 1000 + o->refs[i];
    }
    switch (o->kind) {
    case OP_PUT: {
        struct meta_object obj;
        memset(&obj, 0, sizeof obj);
        obj.key = (char *)o->key;
        snprintf(obj.etag, sizeof obj.etag, "%s", o->etag);
        obj.chunks = o->nrefs ? refs : NULL;
        obj.nchunks = o->nrefs;
        obj.size = 1000 * o->nrefs;
        struct meta_precond pc = {.if_none_match_star = o->if_none_match, .if_match_etag = o->if_match};
        int use_pc = o->if_none_match || o->if_match;
        return meta_object_put(o->m, o->bucket, &obj, use_pc ? &pc : NULL, &o->out);
    }
    case OP_DELETE:
        return meta_object_delete(o->m, o->bucket, o->key, NULL, NULL, 5000, NULL, &o->out);
    case OP_PART: {
        struct meta_part p;
        memset(&p, 0, sizeof p);
        p.part_number = o->part;
        snprintf(p.etag, sizeof p.etag, "%s", o->etag);
        p.chunks = o->nrefs ? refs : NULL;
        p.nchunks = o->nrefs;
        return meta_part_put(o->m, o->bucket, o->key, o->upload_id, &p);
    }
    case OP_CHUNK_RM: {
        uint8_t id[META_CHUNK_ID_LEN];
        mkid(id, o->chunk);
        return meta_chunk_remove_unused(o->m, id, o->cutoff);
    }
    }
    return META_EINVAL;
}

static void *op_main(void *arg)
{
    struct op *o = arg;
    o->rc = op_run(o);
    return NULL;
}

/* Start ops[0] and hold its batch at the gate; then queue ops[1..n) one
 * by one, each after the previous is queued (so queue order is index
 * order); open the gate and join them all.  ops[1..n) form one batch. */
static void run_held_batch(struct meta *m, struct op *ops, size_t n, struct gate *g)
{
    gate_init(g);
    meta_log_local_set_hook(m->log, gate_hook, g);
    assert_int_equal(pthread_create(&ops[0].t, NULL, op_main, &ops[0]), 0);
    gate_wait_held(g);
    for (size_t i = 1; i < n; i++) {
        assert_int_equal(pthread_create(&ops[i].t, NULL, op_main, &ops[i]), 0);
        wait_waiting(m->log, i);
    }
    gate_open(g);
    for (size_t i = 0; i < n; i++)
        pthread_join(ops[i].t, NULL);
    meta_log_local_set_hook(m->log, NULL, NULL);
    gate_release(g);
}

static uint64_t chunk_refcount(struct meta *m, uint32_t n)
{
    uint8_t id[META_CHUNK_ID_LEN];
    struct meta_chunk c;
    mkid(id, n);
    assert_int_equal(meta_chunk_get(m, id, &c), 0);
    return c.refcount;
}

/* ---- recount: every refcount, the unused index and the counters ---- */

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
        if (pl != lastlen || memcmp(last, k.mv_data, pl) != 0) { /* a key's latest */
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
            rc->upload_refs++;
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
    const struct recount *rc;
    uint64_t count, bytes, zero, mismatches;
    int present[256];
};

static int check_chunk(void *arg, const struct meta_chunk *c)
{
    struct chunk_seen *s = arg;
    if (c->refcount != s->rc->refs[c->id[0]]) {
        fprintf(stderr, "chunk %u: stored refcount %llu, recount %llu\n", c->id[0],
                (unsigned long long)c->refcount, (unsigned long long)s->rc->refs[c->id[0]]);
        s->mismatches++;
    }
    if (c->refcount == 0)
        s->zero++;
    s->present[c->id[0]] = 1;
    s->count++;
    s->bytes += c->len;
    return 0;
}

static void verify_bookkeeping(struct meta *m)
{
    struct recount rc;
    do_recount(m, &rc);
    struct chunk_seen s;
    memset(&s, 0, sizeof s);
    s.rc = &rc;
    assert_int_equal(meta_chunk_foreach(m, check_chunk, &s), 0);
    assert_int_equal(s.mismatches, 0);
    for (int i = 0; i < 256; i++)
        if (rc.refs[i])
            assert_true(s.present[i]);
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

/* ---- one batch, mixed outcomes ---- */

static void test_failures_stay_in_their_command(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    make_bucket(m, "b", META_VERSIONING_OFF);
    add_chunk(m, 1);
    add_chunk(m, 2);
    struct meta_upload u;
    memset(&u, 0, sizeof u);
    snprintf(u.upload_id, sizeof u.upload_id, "u1");
    u.key = "mp";
    assert_int_equal(meta_upload_create(m, "b", &u), 0);

    struct meta_log_local_stats s0, s1;
    log_stats(m, &s0);
    struct op ops[] = {
        /* 0: held alone in the first batch */
        {.kind = OP_PUT, .key = "hold", .etag = "eh"},
        /* 1..: one batch, applied in this order */
        {.kind = OP_PUT, .key = "x", .etag = "e1", .refs = {1}, .nrefs = 1},
        {.kind = OP_PUT, .key = "x", .etag = "e2", .if_none_match = 1},        /* x exists (1) */
        {.kind = OP_PUT, .key = "y", .etag = "e3", .refs = {1, MISSING_CHUNK}, .nrefs = 2},
        {.kind = OP_PUT, .key = "y", .etag = "e4", .if_match = "e1"},          /* y absent */
        {.kind = OP_DELETE, .key = "nokey"},
        {.kind = OP_PUT, .key = "x", .etag = "e6", .refs = {1}, .nrefs = 1, .if_match = "e1"},
        {.kind = OP_PART, .key = "mp", .upload_id = "u1", .part = 1, .etag = "p1", .refs = {1}, .nrefs = 1},
        {.kind = OP_PART, .key = "mp", .upload_id = "nope", .part = 1, .etag = "p1"},
        {.kind = OP_CHUNK_RM, .chunk = 2, .cutoff = 2000},
        {.kind = OP_PUT, .key = "z", .etag = "e10", .refs = {2}, .nrefs = 1},  /* 2 collected (9) */
        {.kind = OP_DELETE, .key = "hold"},
        {.kind = OP_PUT, .key = "w", .etag = "e12"},
        {.kind = OP_PUT, .key = "x", .etag = "e13", .if_none_match = 1},
    };
    static const int want[] = {
        0, 0, META_EPRECOND, META_ENOCHUNK, META_EPRECOND, META_ENOTFOUND, 0, 0,
        META_ENOUPLOAD, 0, META_ENOCHUNK, 0, 0, META_EPRECOND,
    };
    const size_t n = sizeof ops / sizeof ops[0];
    for (size_t i = 0; i < n; i++) {
        ops[i].m = m;
        ops[i].bucket = "b";
    }
    struct gate g;
    run_held_batch(m, ops, n, &g);
    for (size_t i = 0; i < n; i++)
        if (ops[i].rc != want[i])
            fail_msg("command %zu: %s, want %s", i, meta_strerror(ops[i].rc), meta_strerror(want[i]));

    /* two batches, two commits: one of 1 and one of everything else */
    log_stats(m, &s1);
    assert_int_equal(g.first_n, 1);
    assert_int_equal(s1.batches - s0.batches, 2);
    assert_int_equal(s1.commits - s0.commits, 2);
    assert_int_equal(s1.commands - s0.commands, n);
    assert_int_equal(s1.max_batch, n - 1);
    /* the second batch met failures after successes: applied again with a
     * nested transaction per command */
    assert_int_equal(s1.nested_batches - s0.nested_batches, 1);

    /* results handed to each submitter */
    assert_null(ops[1].out.key);                  /* nothing replaced */
    assert_non_null(ops[6].out.key);              /* replaced version 1 */
    assert_string_equal(ops[6].out.etag, "e1");
    assert_int_equal(ops[6].out.nchunks, 1);
    assert_non_null(ops[11].out.key);             /* removed "hold" */
    assert_string_equal(ops[11].out.key, "hold");
    assert_string_equal(ops[11].out.etag, "eh");
    for (size_t i = 0; i < n; i++)
        meta_object_release(&ops[i].out);

    /* the store: what sequential application gives */
    struct meta_object o;
    assert_int_equal(meta_object_get(m, "b", "x", NULL, &o), 0);
    assert_string_equal(o.etag, "e6");
    meta_object_release(&o);
    assert_int_equal(meta_object_get(m, "b", "y", NULL, &o), META_ENOTFOUND);
    assert_int_equal(meta_object_get(m, "b", "z", NULL, &o), META_ENOTFOUND);
    assert_int_equal(meta_object_get(m, "b", "hold", NULL, &o), META_ENOTFOUND);
    assert_int_equal(meta_object_get(m, "b", "w", NULL, &o), 0);
    meta_object_release(&o);
    /* chunk 1: x (once: the replaced version's ref dropped) + part 1; the
     * ENOCHUNK put's increment was rolled back with its nested txn */
    assert_int_equal(chunk_refcount(m, 1), 2);
    uint8_t id2[META_CHUNK_ID_LEN];
    struct meta_chunk c;
    mkid(id2, 2);
    assert_int_equal(meta_chunk_get(m, id2, &c), META_ENOTFOUND);
    struct meta_part *parts;
    size_t np;
    assert_int_equal(meta_part_list(m, "b", "mp", "u1", 0, 10, &parts, &np, NULL), 0);
    assert_int_equal(np, 1);
    assert_string_equal(parts[0].etag, "p1");
    meta_part_array_free(parts, np);

    /* the change feed is in queue order */
    struct meta_change *ch;
    size_t nch;
    assert_int_equal(meta_change_list(m, "b", 0, 100, &ch, &nch), 0);
    static const struct {
        uint8_t op;
        const char *key, *etag;
    } feed[] = {
        {META_CHANGE_PUT, "hold", "eh"}, {META_CHANGE_PUT, "x", "e1"}, {META_CHANGE_PUT, "x", "e6"},
        {META_CHANGE_DELETE, "hold", "eh"}, {META_CHANGE_PUT, "w", "e12"},
    };
    assert_int_equal(nch, sizeof feed / sizeof feed[0]);
    for (size_t i = 0; i < nch; i++) {
        assert_int_equal(ch[i].seq, i + 1);
        assert_int_equal(ch[i].op, feed[i].op);
        assert_string_equal(ch[i].key, feed[i].key);
        assert_string_equal(ch[i].etag, feed[i].etag);
    }
    meta_change_array_free(ch, nch);
    verify_bookkeeping(m);
    struct meta_stats st;
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.objects, 2);
    assert_int_equal(st.chunks, 1);
    store_destroy(m, dir);
}

/* ---- a batch in which every command fails ---- */

static void test_batch_of_failures(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    make_bucket(m, "b", META_VERSIONING_OFF);
    add_chunk(m, 1);
    struct meta_stats before, after;
    struct op ops[] = {
        {.kind = OP_PUT, .key = "a", .etag = "ea", .refs = {1}, .nrefs = 1},
        {.kind = OP_PUT, .key = "a", .etag = "x", .if_none_match = 1},
        {.kind = OP_PUT, .key = "b", .etag = "x", .refs = {1, 1, MISSING_CHUNK}, .nrefs = 3},
        {.kind = OP_DELETE, .key = "b"},
        {.kind = OP_PUT, .key = "a", .etag = "x", .if_match = "nope"},
        {.kind = OP_PUT, .key = "a", .etag = "x", .bucket = "nobucket"},
    };
    static const int want[] = {0, META_EPRECOND, META_ENOCHUNK, META_ENOTFOUND, META_EPRECOND,
                               META_ENOBUCKET};
    const size_t n = sizeof ops / sizeof ops[0];
    for (size_t i = 0; i < n; i++) {
        ops[i].m = m;
        if (!ops[i].bucket)
            ops[i].bucket = "b";
    }
    struct meta_log_local_stats s0, s1;
    log_stats(m, &s0);
    struct gate g;
    run_held_batch(m, ops, n, &g);
    log_stats(m, &s1);
    /* each command of the second batch fails first in its transaction,
     * which is its own result: no nested transactions, nothing to commit */
    assert_int_equal(s1.batches - s0.batches, 2);
    assert_int_equal(s1.nested_batches - s0.nested_batches, 0);
    assert_int_equal(s1.commits - s0.commits, 1);
    for (size_t i = 0; i < n; i++) {
        if (ops[i].rc != want[i])
            fail_msg("command %zu: %s, want %s", i, meta_strerror(ops[i].rc), meta_strerror(want[i]));
        meta_object_release(&ops[i].out);
    }
    assert_int_equal(meta_stats(m, &before), 0);
    assert_int_equal(before.objects, 1);
    assert_int_equal(before.versions, 1);
    assert_int_equal(chunk_refcount(m, 1), 1);
    struct meta_object o;
    assert_int_equal(meta_object_get(m, "b", "a", NULL, &o), 0);
    assert_string_equal(o.etag, "ea");
    meta_object_release(&o);
    verify_bookkeeping(m);
    /* and the store still takes writes */
    struct op more = {.m = m, .kind = OP_PUT, .bucket = "b", .key = "c", .etag = "ec"};
    assert_int_equal(op_run(&more), 0);
    assert_int_equal(meta_stats(m, &after), 0);
    assert_int_equal(after.objects, 2);
    store_destroy(m, dir);
}

/* ---- MDB_MAP_FULL in the middle of a batch ---- */

#define BIG_LEN (64 * 1024)

static void *big_put_main(void *arg)
{
    struct op *o = arg;
    uint8_t *blob = malloc(BIG_LEN);
    if (!blob) {
        o->rc = -ENOMEM;
        return NULL;
    }
    memset(blob, o->key[1], BIG_LEN);
    struct meta_object obj;
    memset(&obj, 0, sizeof obj);
    obj.key = (char *)o->key;
    snprintf(obj.etag, sizeof obj.etag, "%s", o->etag);
    obj.inline_data = blob;
    obj.inline_len = BIG_LEN;
    obj.size = BIG_LEN;
    o->rc = meta_object_put(o->m, o->bucket, &obj, NULL, NULL);
    free(blob);
    return NULL;
}

static void test_map_full_mid_batch(void **state)
{
    (void)state;
    char dir[64] = "";
    /* 1 MiB map; one batch of 16 x 64 KiB inline objects cannot fit */
    struct meta *m = store_open(dir, 1, 1u << 20);
    uint64_t map_before = m->db.mapsize;
    make_bucket(m, "b", META_VERSIONING_OFF);
    enum { N = 16 };
    struct op ops[N];
    char keys[N][8];
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%c", 'a' + i);
        ops[i] = (struct op){.m = m, .kind = OP_PUT, .bucket = "b", .key = keys[i], .etag = keys[i]};
    }
    struct meta_log_local_stats s0, s1;
    log_stats(m, &s0);
    struct gate g;
    gate_init(&g);
    meta_log_local_set_hook(m->log, gate_hook, &g);
    assert_int_equal(pthread_create(&ops[0].t, NULL, big_put_main, &ops[0]), 0);
    gate_wait_held(&g);
    for (int i = 1; i < N; i++) {
        assert_int_equal(pthread_create(&ops[i].t, NULL, big_put_main, &ops[i]), 0);
        wait_waiting(m->log, (uint64_t)i);
    }
    gate_open(&g);
    for (int i = 0; i < N; i++) {
        pthread_join(ops[i].t, NULL);
        assert_int_equal(ops[i].rc, 0);
    }
    meta_log_local_set_hook(m->log, NULL, NULL);
    gate_release(&g);
    log_stats(m, &s1);
    assert_true(m->db.mapsize > map_before);
    /* the big batch was cut where the map filled up (or retried after a
     * commit ran out of room): more than one commit for two batches */
    assert_int_equal(s1.batches - s0.batches, 2);
    assert_true(s1.commits - s0.commits > 2);
    assert_int_equal(s1.nested_batches - s0.nested_batches, 1);
    printf("map full: %llu commits for 2 batches of %d commands, map %llu -> %llu bytes\n",
           (unsigned long long)(s1.commits - s0.commits), N, (unsigned long long)map_before,
           (unsigned long long)m->db.mapsize);

    /* each object is there exactly once, whole */
    struct meta_stats st;
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.objects, N);
    assert_int_equal(st.versions, N);
    for (int i = 0; i < N; i++) {
        struct meta_object o;
        assert_int_equal(meta_object_get(m, "b", keys[i], NULL, &o), 0);
        assert_int_equal(o.inline_len, BIG_LEN);
        assert_int_equal(o.inline_data[0], (uint8_t)keys[i][1]);
        assert_int_equal(o.inline_data[BIG_LEN - 1], (uint8_t)keys[i][1]);
        meta_object_release(&o);
    }
    struct meta_change *ch;
    size_t nch;
    assert_int_equal(meta_change_list(m, "b", 0, 100, &ch, &nch), 0);
    assert_int_equal(nch, N);
    for (int i = 0; i < N; i++) /* queue order, each once */
        assert_string_equal(ch[i].key, keys[i]);
    meta_change_array_free(ch, nch);
    store_destroy(m, dir);
}

/* ---- close while submitters are queued ---- */

struct closer {
    struct meta *m;
    pthread_mutex_t mu;
    int closed;
};

static void *closer_main(void *arg)
{
    struct closer *c = arg;
    meta_close(c->m);
    pthread_mutex_lock(&c->mu);
    c->closed = 1;
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static int closer_done(struct closer *c)
{
    pthread_mutex_lock(&c->mu);
    int d = c->closed;
    pthread_mutex_unlock(&c->mu);
    return d;
}

static void test_close_with_queued_submitters(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 1, 0);
    make_bucket(m, "b", META_VERSIONING_OFF);
    struct meta_log *log = m->log;
    enum { N = 6 };
    struct op ops[N];
    char keys[N][8];
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "q%d", i);
        ops[i] = (struct op){.m = m, .kind = OP_PUT, .bucket = "b", .key = keys[i], .etag = keys[i]};
    }
    struct gate g;
    gate_init(&g);
    meta_log_local_set_hook(log, gate_hook, &g);
    assert_int_equal(pthread_create(&ops[0].t, NULL, op_main, &ops[0]), 0);
    gate_wait_held(&g);
    for (int i = 1; i < N; i++) {
        assert_int_equal(pthread_create(&ops[i].t, NULL, op_main, &ops[i]), 0);
        wait_waiting(log, (uint64_t)i);
    }

    /* close now: against the contract, but it must not pull the store out
     * from under the queued submitters */
    struct closer c = {.m = m};
    pthread_mutex_init(&c.mu, NULL);
    pthread_t ct;
    assert_int_equal(pthread_create(&ct, NULL, closer_main, &c), 0);
    double t0 = now_s();
    for (;;) {
        struct meta_log_local_stats s;
        meta_log_local_stats(log, &s);
        if (s.closing)
            break;
        if (now_s() - t0 > 20)
            fail_msg("close never started");
        sleep_ms(1);
    }
    /* a submit arriving during the close is refused, not queued */
    struct op late = {.m = m, .kind = OP_PUT, .bucket = "b", .key = "late", .etag = "l"};
    assert_int_equal(op_run(&late), -ESHUTDOWN);
    sleep_ms(50);
    assert_false(closer_done(&c)); /* still waiting for the queued ones */

    gate_open(&g);
    for (int i = 0; i < N; i++) {
        pthread_join(ops[i].t, NULL);
        assert_int_equal(ops[i].rc, 0);
        meta_object_release(&ops[i].out);
    }
    pthread_join(ct, NULL);
    assert_true(closer_done(&c));
    pthread_mutex_destroy(&c.mu);
    gate_release(&g);

    /* everything acknowledged is in the store, the refused write is not */
    m = store_open(dir, 1, 0);
    for (int i = 0; i < N; i++) {
        struct meta_object o;
        assert_int_equal(meta_object_get(m, "b", keys[i], NULL, &o), 0);
        meta_object_release(&o);
    }
    struct meta_object o;
    assert_int_equal(meta_object_get(m, "b", "late", NULL, &o), META_ENOTFOUND);
    struct meta_stats st;
    assert_int_equal(meta_stats(m, &st), 0);
    assert_int_equal(st.objects, N);
    store_destroy(m, dir);
}

/* ---- many threads: final state equals sequential application ---- */

#define ST_THREADS 16
#define ST_OPS 30
#define ST_KEYS 3
#define ST_POOL 20 /* chunks 1..20 exist */
#define ST_INCS 2
#define ST_PARTS 3

struct model_obj {
    int present;
    char etag[24];
    uint32_t refs[4];
    uint32_t nrefs;
};

struct stress {
    struct meta *m;
    int id;
    uint64_t rng;
    int errors;
    int first_ok;
    int cas_retries;
    struct model_obj keys[ST_KEYS];
    struct model_obj parts[ST_PARTS];
    char upload_id[16];
    char upload_key[16];
    pthread_t t;
};

#define EXPECT(s, cond, ...)                                                          \
    do {                                                                              \
        if (!(cond)) {                                                                \
            (s)->errors++;                                                            \
            fprintf(stderr, "thread %d: ", (s)->id);                                  \
            fprintf(stderr, __VA_ARGS__);                                             \
            fprintf(stderr, "\n");                                                    \
        }                                                                             \
    } while (0)

static uint64_t st_rnd(struct stress *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

static uint32_t st_refs(struct stress *s, uint32_t *refs, int *missing)
{
    uint32_t n = (uint32_t)(st_rnd(s) % 4);
    *missing = 0;
    for (uint32_t i = 0; i < n; i++) {
        refs[i] = 1 + (uint32_t)(st_rnd(s) % ST_POOL);
        if (st_rnd(s) % 12 == 0) {
            refs[i] = MISSING_CHUNK;
            *missing = 1;
        }
    }
    return n;
}

/* Add one to the counter kept in the ETag of "shared/counter": read it,
 * then put with if-match the ETag read; lose the race, read again. */
static void st_increment(struct stress *s)
{
    for (int round = 0; round < 10000; round++) {
        struct meta_object cur;
        struct op o = {.m = s->m, .kind = OP_PUT, .bucket = "s", .key = "shared/counter"};
        char etag[24];
        int rc = meta_object_get(s->m, "s", "shared/counter", NULL, &cur);
        if (rc == META_ENOTFOUND) {
            o.if_none_match = 1;
            snprintf(etag, sizeof etag, "c1");
        } else if (rc == 0) {
            unsigned long v = strtoul(cur.etag + 1, NULL, 10);
            snprintf(etag, sizeof etag, "c%lu", v + 1);
            o.if_match = strdup(cur.etag);
            meta_object_release(&cur);
        } else {
            EXPECT(s, 0, "counter get: %s", meta_strerror(rc));
            return;
        }
        o.etag = etag;
        o.refs[0] = 1 + (uint32_t)(st_rnd(s) % ST_POOL);
        o.nrefs = 1;
        rc = op_run(&o);
        free((char *)o.if_match);
        meta_object_release(&o.out);
        if (rc == 0)
            return;
        EXPECT(s, rc == META_EPRECOND, "counter put: %s", meta_strerror(rc));
        if (rc != META_EPRECOND)
            return;
        s->cas_retries++;
    }
    EXPECT(s, 0, "counter: no progress");
}

static void *stress_main(void *arg)
{
    struct stress *s = arg;
    struct meta *m = s->m;
    snprintf(s->upload_id, sizeof s->upload_id, "up-%d", s->id);
    snprintf(s->upload_key, sizeof s->upload_key, "t%d/mp", s->id);
    struct meta_upload u;
    memset(&u, 0, sizeof u);
    snprintf(u.upload_id, sizeof u.upload_id, "%s", s->upload_id);
    u.key = s->upload_key;
    int rc = meta_upload_create(m, "s", &u);
    EXPECT(s, rc == 0, "upload create: %s", meta_strerror(rc));

    /* everyone tries to create the same key; exactly one may win */
    struct op first = {.m = m, .kind = OP_PUT, .bucket = "s", .key = "shared/first", .etag = "f",
                       .if_none_match = 1};
    rc = op_run(&first);
    meta_object_release(&first.out);
    EXPECT(s, rc == 0 || rc == META_EPRECOND, "first: %s", meta_strerror(rc));
    s->first_ok = rc == 0;

    for (int i = 0; i < ST_OPS; i++) {
        if (i % (ST_OPS / ST_INCS) == ST_OPS / ST_INCS / 2)
            st_increment(s);
        int j = (int)(st_rnd(s) % ST_KEYS);
        struct model_obj *k = &s->keys[j];
        char key[24], etag[24];
        snprintf(key, sizeof key, "t%d/k%d", s->id, j);
        snprintf(etag, sizeof etag, "t%d-%d", s->id, i);
        struct op o = {.m = m, .bucket = "s", .key = key, .etag = etag};
        unsigned what = (unsigned)(st_rnd(s) % 100);
        int missing = 0, want;
        if (what < 40) { /* put, with one of four preconditions */
            o.kind = OP_PUT;
            o.nrefs = st_refs(s, o.refs, &missing);
            int pc_fails = 0;
            switch (st_rnd(s) % 4) {
            case 1:
                o.if_match = k->present ? k->etag : "absent";
                pc_fails = !k->present;
                break;
            case 2:
                o.if_match = "bogus";
                pc_fails = 1;
                break;
            case 3:
                o.if_none_match = 1;
                pc_fails = k->present;
                break;
            }
            want = pc_fails ? META_EPRECOND : missing ? META_ENOCHUNK : 0;
            rc = op_run(&o);
            EXPECT(s, rc == want, "put %s: %s, want %s", key, meta_strerror(rc), meta_strerror(want));
            if (rc == 0) {
                if (k->present)
                    EXPECT(s, o.out.key && strcmp(o.out.etag, k->etag) == 0,
                           "put %s replaced the wrong version", key);
                else
                    EXPECT(s, o.out.key == NULL, "put %s replaced a version of an absent key", key);
                k->present = 1;
                snprintf(k->etag, sizeof k->etag, "%s", etag);
                memcpy(k->refs, o.refs, sizeof k->refs);
                k->nrefs = o.nrefs;
            }
        } else if (what < 60) { /* delete */
            o.kind = OP_DELETE;
            want = k->present ? 0 : META_ENOTFOUND;
            rc = op_run(&o);
            EXPECT(s, rc == want, "delete %s: %s, want %s", key, meta_strerror(rc), meta_strerror(want));
            if (rc == 0) {
                EXPECT(s, o.out.key && strcmp(o.out.etag, k->etag) == 0, "delete %s removed the wrong version",
                       key);
                k->present = 0;
            }
        } else if (what < 85) { /* part put (replaces the part) */
            uint32_t p = (uint32_t)(st_rnd(s) % ST_PARTS);
            o.kind = OP_PART;
            o.key = s->upload_key;
            o.upload_id = s->upload_id;
            o.part = p + 1;
            o.nrefs = st_refs(s, o.refs, &missing);
            want = missing ? META_ENOCHUNK : 0;
            rc = op_run(&o);
            EXPECT(s, rc == want, "part %u: %s, want %s", p + 1, meta_strerror(rc), meta_strerror(want));
            if (rc == 0) {
                s->parts[p].present = 1;
                snprintf(s->parts[p].etag, sizeof s->parts[p].etag, "%s", etag);
                memcpy(s->parts[p].refs, o.refs, sizeof o.refs);
                s->parts[p].nrefs = o.nrefs;
            }
        } else { /* read back */
            struct meta_object got;
            rc = meta_object_get(m, "s", key, NULL, &got);
            want = k->present ? 0 : META_ENOTFOUND;
            EXPECT(s, rc == want, "get %s: %s, want %s", key, meta_strerror(rc), meta_strerror(want));
            if (rc == 0) {
                EXPECT(s, strcmp(got.etag, k->etag) == 0, "get %s: etag %s, want %s", key, got.etag, k->etag);
                meta_object_release(&got);
            }
        }
        meta_object_release(&o.out);
    }
    return NULL;
}

static void test_threads_match_sequential(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 0, 0); /* durable, as in production */
    make_bucket(m, "s", META_VERSIONING_OFF);
    for (uint32_t i = 1; i <= ST_POOL; i++)
        add_chunk(m, i);
    struct meta_log_local_stats s0, s1;
    log_stats(m, &s0);
    static struct stress th[ST_THREADS];
    memset(th, 0, sizeof th);
    double t0 = now_s();
    for (int i = 0; i < ST_THREADS; i++) {
        th[i].m = m;
        th[i].id = i;
        th[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
        assert_int_equal(pthread_create(&th[i].t, NULL, stress_main, &th[i]), 0);
    }
    int first = 0, retries = 0;
    for (int i = 0; i < ST_THREADS; i++) {
        pthread_join(th[i].t, NULL);
        assert_int_equal(th[i].errors, 0);
        first += th[i].first_ok;
        retries += th[i].cas_retries;
    }
    double dt = now_s() - t0;
    log_stats(m, &s1);
    uint64_t cmds = s1.commands - s0.commands, commits = s1.commits - s0.commits;
    printf("stress: %d threads, %llu commands in %llu commits (%.1f per commit, max %llu, "
           "%llu batches redone nested), %d lost CAS rounds, %.2f s\n",
           ST_THREADS, (unsigned long long)cmds, (unsigned long long)commits,
           commits ? (double)cmds / (double)commits : 0.0, (unsigned long long)s1.max_batch,
           (unsigned long long)(s1.nested_batches - s0.nested_batches), retries, dt);
    assert_true(s1.max_batch > 1); /* commands did share commits */
    assert_true(commits < cmds);

    /* exactly one creator; no lost update on the counter */
    assert_int_equal(first, 1);
    struct meta_object o;
    assert_int_equal(meta_object_get(m, "s", "shared/counter", NULL, &o), 0);
    char want[24];
    snprintf(want, sizeof want, "c%d", ST_THREADS * ST_INCS);
    assert_string_equal(o.etag, want);
    meta_object_release(&o);

    /* each thread's keys and parts are what its own sequence implies */
    for (int i = 0; i < ST_THREADS; i++) {
        for (int j = 0; j < ST_KEYS; j++) {
            char key[24];
            snprintf(key, sizeof key, "t%d/k%d", i, j);
            const struct model_obj *k = &th[i].keys[j];
            int rc = meta_object_get(m, "s", key, NULL, &o);
            assert_int_equal(rc, k->present ? 0 : META_ENOTFOUND);
            if (rc)
                continue;
            assert_string_equal(o.etag, k->etag);
            assert_int_equal(o.nchunks, k->nrefs);
            for (uint32_t c = 0; c < k->nrefs; c++)
                assert_int_equal(o.chunks[c].id[0], k->refs[c]);
            meta_object_release(&o);
        }
        struct meta_part *parts;
        size_t np, at = 0;
        assert_int_equal(meta_part_list(m, "s", th[i].upload_key, th[i].upload_id, 0, 100, &parts, &np, NULL), 0);
        for (uint32_t p = 0; p < ST_PARTS; p++) {
            const struct model_obj *mp = &th[i].parts[p];
            if (!mp->present)
                continue;
            assert_true(at < np);
            assert_int_equal(parts[at].part_number, p + 1);
            assert_string_equal(parts[at].etag, mp->etag);
            assert_int_equal(parts[at].nchunks, mp->nrefs);
            for (uint32_t c = 0; c < mp->nrefs; c++)
                assert_int_equal(parts[at].chunks[c].id[0], mp->refs[c]);
            at++;
        }
        assert_int_equal(at, np);
        meta_part_array_free(parts, np);
    }
    /* refcounts, unused index and counters equal a recount */
    verify_bookkeeping(m);
    store_destroy(m, dir);
}

/* ---- durability ---- */

static void test_default_flags_durable(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 0, 0);
    unsigned flags = 0;
    assert_int_equal(mdb_env_get_flags(m->db.env, &flags), 0);
    assert_int_equal(flags & (MDB_NOSYNC | MDB_NOMETASYNC | MDB_MAPASYNC | MDB_WRITEMAP), 0);
    store_destroy(m, dir);
}

#define K9_THREADS 8
#define K9_ACKS 300

struct k9_ack {
    uint32_t thread, seq;
};

struct k9_writer {
    struct meta *m;
    uint32_t id;
};

static void *k9_writer_main(void *arg)
{
    struct k9_writer *w = arg;
    for (uint32_t i = 0; i < 100000; i++) {
        char key[32];
        snprintf(key, sizeof key, "t%u/k%06u", w->id, i);
        struct meta_object o;
        memset(&o, 0, sizeof o);
        o.key = key;
        snprintf(o.etag, sizeof o.etag, "e");
        if (meta_object_put(w->m, "k9", &o, NULL, NULL) != 0)
            _exit(3);
        struct k9_ack a = {w->id, i}; /* acknowledged: tell the parent */
        if (write(3, &a, sizeof a) != (ssize_t)sizeof a)
            _exit(4);
    }
    return NULL;
}

/* The child process: durable writers that report each acknowledged put
 * on fd 3 until they are killed. */
static int k9_child(const char *dir)
{
    struct meta *m;
    if (meta_open(dir, &m) != 0)
        return 2;
    static struct k9_writer w[K9_THREADS];
    pthread_t t[K9_THREADS];
    for (uint32_t i = 0; i < K9_THREADS; i++) {
        w[i] = (struct k9_writer){m, i};
        pthread_create(&t[i], NULL, k9_writer_main, &w[i]);
    }
    for (int i = 0; i < K9_THREADS; i++)
        pthread_join(t[i], NULL);
    meta_close(m);
    return 0;
}

static void test_acked_writes_survive_kill9(void **state)
{
    (void)state;
    char dir[64] = "";
    struct meta *m = store_open(dir, 0, 0);
    make_bucket(m, "k9", META_VERSIONING_OFF);
    meta_close(m);

    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(fds[1], 3) != 3)
            _exit(5);
        execl("/proc/self/exe", "test_meta_groupcommit", "--kill9-child", dir, (char *)NULL);
        _exit(6);
    }
    close(fds[1]);
    static struct k9_ack acks[K9_THREADS * 100000 / 16];
    size_t nacks = 0, cap = sizeof acks / sizeof acks[0];
    size_t partial = 0;
    int killed = 0;
    double t0 = now_s();
    for (;;) {
        if (!killed && (nacks >= K9_ACKS || now_s() - t0 > 20)) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        if (nacks >= cap)
            break;
        ssize_t r = read(fds[0], (char *)&acks[nacks] + partial, sizeof acks[0] - partial);
        if (r <= 0)
            break; /* EOF: the child is gone */
        partial += (size_t)r;
        if (partial == sizeof acks[0]) {
            nacks++;
            partial = 0;
        }
    }
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(nacks >= K9_ACKS);

    m = store_open(dir, 0, 0);
    for (size_t i = 0; i < nacks; i++) {
        char key[32];
        snprintf(key, sizeof key, "t%u/k%06u", acks[i].thread, acks[i].seq);
        struct meta_object o;
        int rc = meta_object_get(m, "k9", key, NULL, &o);
        if (rc)
            fail_msg("acknowledged %s lost after kill -9: %s", key, meta_strerror(rc));
        meta_object_release(&o);
    }
    struct meta_stats st;
    assert_int_equal(meta_stats(m, &st), 0);
    assert_true(st.objects >= nacks);
    printf("kill -9: %zu acknowledged puts, all present (%llu in the store)\n", nacks,
           (unsigned long long)st.objects);
    store_destroy(m, dir);
}

/* ---- numbers (printed, not asserted) ---- */

struct rate_worker {
    struct meta *m;
    int id, n, done;
    double deadline; /* stop early on a slow disk or under sanitizers */
    int errors;
    pthread_t t;
};

static void *rate_main(void *arg)
{
    struct rate_worker *w = arg;
    uint8_t blob[4096];
    memset(blob, w->id, sizeof blob);
    for (int i = 0; i < w->n && now_s() < w->deadline; i++, w->done++) {
        char key[48];
        snprintf(key, sizeof key, "w%03d/object-%06d", w->id, i);
        struct meta_object o;
        memset(&o, 0, sizeof o);
        o.key = key;
        snprintf(o.etag, sizeof o.etag, "d41d8cd98f00b204e9800998ecf8427e");
        o.inline_data = blob;
        o.inline_len = sizeof blob;
        o.size = sizeof blob;
        if (meta_object_put(w->m, "bench", &o, NULL, NULL) != 0)
            w->errors++;
    }
    return NULL;
}

static uint64_t rate_run(int threads, int per_thread)
{
    char dir[64] = "";
    struct meta *m = store_open(dir, 0, 0); /* durable */
    make_bucket(m, "bench", META_VERSIONING_OFF);
    struct meta_log_local_stats s0, s1;
    log_stats(m, &s0);
    struct rate_worker *w = calloc((size_t)threads, sizeof *w);
    assert_non_null(w);
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        w[i] = (struct rate_worker){.m = m, .id = i, .n = per_thread, .deadline = t0 + 2.0};
        assert_int_equal(pthread_create(&w[i].t, NULL, rate_main, &w[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].t, NULL);
        assert_int_equal(w[i].errors, 0);
        total += w[i].done;
    }
    double dt = now_s() - t0;
    log_stats(m, &s1);
    uint64_t commits = s1.commits - s0.commits;
    assert_int_equal(s1.commands - s0.commands, total);
    printf("meta: %2d threads: %5d durable 4 KiB puts in %.2f s: %6.0f puts/s, %llu commits "
           "(%.1f puts per commit, max %llu)\n",
           threads, total, dt, total / dt, (unsigned long long)commits,
           commits ? (double)total / (double)commits : 0.0, (unsigned long long)s1.max_batch);
    free(w);
    store_destroy(m, dir);
    return s1.max_batch;
}

static void test_put_rates(void **state)
{
    (void)state;
    rate_run(1, 150);
    /* with 16 durable writers, commits must be shared */
    assert_true(rate_run(16, 60) > 1);
    rate_run(64, 24);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--kill9-child") == 0)
        return k9_child(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failures_stay_in_their_command),
        cmocka_unit_test(test_batch_of_failures),
        cmocka_unit_test(test_map_full_mid_batch),
        cmocka_unit_test(test_close_with_queued_submitters),
        cmocka_unit_test(test_threads_match_sequential),
        cmocka_unit_test(test_default_flags_durable),
        cmocka_unit_test(test_acked_writes_survive_kill9),
        cmocka_unit_test(test_put_rates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
