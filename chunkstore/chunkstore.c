/*
 * chunkstore/chunkstore.c - chunks over k+m shard stores.
 *
 * Threads.  One worker per store ("cs-drive-N") owns that store's write
 * queue: it takes everything queued and hands it to the store as one
 * shard_write_batch, so the concurrent cs_put calls of many threads cost
 * one fdatasync per drive per round, and a slow drive only delays the
 * chunks that have a shard on it.  Reads do not go through the workers:
 * cs_get and cs_repair read from the calling thread, so a read never
 * queues behind a write batch's fdatasync, and read concurrency is that of
 * the callers.
 *
 * Errors.  Fan-out operations fill one error slot per shard and one helper
 * (cs_reduce_errors) turns them into the call's result.  Writes need all
 * k+m shards (there is no write quorum below that: a chunk stored with a
 * missing shard would start life degraded).
 *
 * Same-id exclusion.  cs_put undoes a failed write by deleting the shards
 * it wrote; if another cs_put of the same chunk had just succeeded, that
 * would delete its shards too.  So put, delete and repair of one id are
 * serialised by a striped lock (reads are not).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkstore/chunkstore.h"
#include "common/bufpool.h"
#include "common/hash.h"
#include "common/log.h"

#define WORKER_BATCH 64
#define ID_LOCKS 256
#define CS_SCRATCH_KEEP 8

struct cs_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int remaining;
};

struct cs_job {
    struct cs_job *next;
    struct shard_write w;
    struct cs_wait *wait;
};

struct cs_worker {
    struct chunkstore *cs;
    int index;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct cs_job *head, *tail;
    int stop;
};

struct chunkstore {
    int k, m, nstores;
    struct shard_store **stores;
    struct cs_worker *workers;
    int nworkers; /* started */
    struct ec_codec *codec;
    /* Scratch for encoding and decoding: k+m shards of the largest chunk,
     * kept resident between uses. */
    struct bufpool *scratch;
    pthread_mutex_t id_locks[ID_LOCKS];
};

/* ------------------------------------------------------------------ */
/* Workers                                                             */

static void cs_wait_init(struct cs_wait *w, int count)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->remaining = count;
}

static void cs_wait_all(struct cs_wait *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->remaining > 0)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

/* After this the job (and the waiter's frame) may be gone. */
static void cs_job_done(struct cs_job *job)
{
    struct cs_wait *w = job->wait;
    pthread_mutex_lock(&w->mu);
    if (--w->remaining == 0)
        pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *cs_worker_main(void *arg)
{
    struct cs_worker *wk = arg;
    struct shard_store *store = wk->cs->stores[wk->index];
    struct shard_write ws[WORKER_BATCH];
    struct cs_job *jobs[WORKER_BATCH];

    pthread_mutex_lock(&wk->mu);
    for (;;) {
        while (!wk->head && !wk->stop)
            pthread_cond_wait(&wk->cv, &wk->mu);
        if (!wk->head)
            break; /* stopping, queue drained */
        int n = 0;
        while (wk->head && n < WORKER_BATCH) {
            jobs[n++] = wk->head;
            wk->head = wk->head->next;
        }
        if (!wk->head)
            wk->tail = NULL;
        pthread_mutex_unlock(&wk->mu);

        for (int i = 0; i < n; i++)
            ws[i] = jobs[i]->w;
        shard_write_batch(store, ws, n);
        for (int i = 0; i < n; i++) {
            jobs[i]->w.err = ws[i].err;
            cs_job_done(jobs[i]);
        }
        pthread_mutex_lock(&wk->mu);
    }
    pthread_mutex_unlock(&wk->mu);
    return NULL;
}

static void cs_submit(struct chunkstore *cs, int store, struct cs_job *job)
{
    struct cs_worker *wk = &cs->workers[store];
    job->next = NULL;
    pthread_mutex_lock(&wk->mu);
    if (wk->tail)
        wk->tail->next = job;
    else
        wk->head = job;
    wk->tail = job;
    pthread_cond_signal(&wk->cv);
    pthread_mutex_unlock(&wk->mu);
}

/* Run jobs[0..n-1] (job i on store stores[i]) on the workers and wait. */
static void cs_run_jobs(struct chunkstore *cs, struct cs_job *jobs, const int *stores, int n)
{
    struct cs_wait wait;
    if (n == 0)
        return;
    cs_wait_init(&wait, n);
    for (int i = 0; i < n; i++) {
        jobs[i].wait = &wait;
        cs_submit(cs, stores[i], &jobs[i]);
    }
    cs_wait_all(&wait);
}

/* The one reducer for fan-out error slots: 0 if all are 0; otherwise
 * -ENOSPC if any store was full (the cause an operator can act on), else
 * the first error. */
static int cs_reduce_errors(const int *errs, int n)
{
    int first = 0;
    for (int i = 0; i < n; i++) {
        if (errs[i] == -ENOSPC)
            return -ENOSPC;
        if (errs[i] && !first)
            first = errs[i];
    }
    return first;
}

static pthread_mutex_t *cs_id_lock(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN])
{
    return &cs->id_locks[id[0] % ID_LOCKS];
}

/* ------------------------------------------------------------------ */
/* Open / close                                                        */

static void cs_stop_workers(struct chunkstore *cs)
{
    for (int i = 0; i < cs->nworkers; i++) {
        struct cs_worker *wk = &cs->workers[i];
        pthread_mutex_lock(&wk->mu);
        wk->stop = 1;
        pthread_cond_signal(&wk->cv);
        pthread_mutex_unlock(&wk->mu);
    }
    for (int i = 0; i < cs->nworkers; i++) {
        pthread_join(cs->workers[i].thread, NULL);
        pthread_mutex_destroy(&cs->workers[i].mu);
        pthread_cond_destroy(&cs->workers[i].cv);
    }
    cs->nworkers = 0;
}

static void cs_free(struct chunkstore *cs)
{
    for (int i = 0; i < ID_LOCKS; i++)
        pthread_mutex_destroy(&cs->id_locks[i]);
    ec_codec_free(cs->codec);
    bufpool_free(cs->scratch);
    free(cs->workers);
    free(cs->stores);
    free(cs);
}

int cs_open(struct shard_store **stores, int nstores, int k, int m, struct chunkstore **out)
{
    struct chunkstore *cs = NULL;
    int rc = 0;

    if (!stores || !out || k < 1 || m < 0 || k + m > CS_MAX_SHARDS || k + m > nstores ||
        nstores > UINT16_MAX + 1)
        return CS_EINVAL;
    for (int i = 0; i < nstores; i++)
        if (!stores[i] || !stores[i]->ops)
            return CS_EINVAL;
    cs = calloc(1, sizeof *cs);
    if (!cs)
        return -ENOMEM;
    for (int i = 0; i < ID_LOCKS; i++)
        pthread_mutex_init(&cs->id_locks[i], NULL);
    cs->k = k;
    cs->m = m;
    cs->nstores = nstores;
    cs->stores = malloc((size_t)nstores * sizeof *cs->stores);
    cs->workers = calloc((size_t)nstores, sizeof *cs->workers);
    cs->codec = ec_codec_new(k, m);
    cs->scratch = bufpool_new((size_t)(k + m) * cs_shard_len(CS_MAX_CHUNK, k), CS_SCRATCH_KEEP);
    if (!cs->stores || !cs->workers || !cs->codec || !cs->scratch) {
        rc = -ENOMEM;
        goto fail;
    }
    memcpy(cs->stores, stores, (size_t)nstores * sizeof *cs->stores);
    for (int i = 0; i < nstores; i++) {
        struct cs_worker *wk = &cs->workers[i];
        char name[16];
        wk->cs = cs;
        wk->index = i;
        pthread_mutex_init(&wk->mu, NULL);
        pthread_cond_init(&wk->cv, NULL);
        rc = -pthread_create(&wk->thread, NULL, cs_worker_main, wk);
        if (rc) {
            pthread_mutex_destroy(&wk->mu);
            pthread_cond_destroy(&wk->cv);
            goto fail;
        }
        cs->nworkers++;
        snprintf(name, sizeof name, "cs-drive-%d", i);
        pthread_setname_np(wk->thread, name);
    }
    *out = cs;
    return 0;
fail:
    cs_stop_workers(cs);
    cs_free(cs);
    return rc;
}

void cs_close(struct chunkstore *cs)
{
    if (!cs)
        return;
    cs_stop_workers(cs);
    for (int i = 0; i < cs->nstores; i++)
        cs->stores[i]->ops->close(cs->stores[i]);
    cs_free(cs);
}

int cs_k(const struct chunkstore *cs)
{
    return cs->k;
}

int cs_m(const struct chunkstore *cs)
{
    return cs->m;
}

int cs_nstores(const struct chunkstore *cs)
{
    return cs->nstores;
}

struct shard_store *cs_store(struct chunkstore *cs, int i)
{
    return i >= 0 && i < cs->nstores ? cs->stores[i] : NULL;
}

uint32_t cs_shard_len(size_t len, int k)
{
    if (k < 1)
        return 0;
    size_t per = (len + (size_t)k - 1) / (size_t)k;
    return (uint32_t)((per + 63) & ~(size_t)63);
}

/* Scratch of len bytes: from the pool when it fits (it does for every
 * chunk under the configured k+m), else allocated; cs_scratch_put() takes
 * either back. */
static void *cs_scratch_get(struct chunkstore *cs, size_t len)
{
    void *p = NULL;
    if (len <= bufpool_size(cs->scratch))
        return bufpool_get(cs->scratch);
    if (posix_memalign(&p, 64, len) != 0)
        return NULL;
    return p;
}

/* Give back scratch from cs_scratch_get(cs, len) (p may be NULL). */
static void cs_scratch_put(struct chunkstore *cs, void *p, size_t len)
{
    if (len <= bufpool_size(cs->scratch))
        bufpool_put(cs->scratch, p);
    else
        free(p);
}

/* ------------------------------------------------------------------ */
/* Put / delete                                                        */

static int cs_check_placement(const struct chunkstore *cs, const struct cs_placement *pl)
{
    if (!pl || pl->k < 1 || pl->k + pl->m > CS_MAX_SHARDS)
        return CS_EINVAL;
    for (int i = 0; i < pl->k + pl->m; i++)
        if (pl->drive[i] >= cs->nstores)
            return CS_EINVAL;
    return 0;
}

int cs_put(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN], const void *data, size_t len,
           struct cs_placement *out)
{
    struct cs_placement pl;
    struct cs_job jobs[CS_MAX_SHARDS];
    int stores[CS_MAX_SHARDS] = {0}, errs[CS_MAX_SHARDS] = {0};
    uint8_t *shards[CS_MAX_SHARDS];
    uint8_t *buf = NULL;
    int rc;

    if (!cs || !id || !data || !out || len == 0 || len > CS_MAX_CHUNK)
        return CS_EINVAL;
    const int k = cs->k, m = cs->m, n = k + m;
    const size_t sl = cs_shard_len(len, k);
    const int full = (int)(len / sl); /* data shards lying wholly inside data */

    cs_place(cs, id, &pl);
    /* Whole data shards are encoded and written straight from the caller's
     * buffer; only the partial one, any all-padding ones and the parity
     * need memory. */
    if (!(buf = cs_scratch_get(cs, (size_t)(n - full) * sl)))
        return -ENOMEM;
    for (int i = 0; i < n; i++)
        shards[i] = i < full ? (uint8_t *)data + (size_t)i * sl : buf + (size_t)(i - full) * sl;
    if (full < k) {
        size_t tail = len - (size_t)full * sl;
        memcpy(shards[full], (const uint8_t *)data + (size_t)full * sl, tail);
        memset(shards[full] + tail, 0, (size_t)(k - full) * sl - tail);
    }
    ec_codec_encode(cs->codec, sl, shards, shards + k);

    for (int i = 0; i < n; i++) {
        jobs[i].w = (struct shard_write){.chunk_id = id, .shard_idx = (uint8_t)i,
                                         .data = shards[i], .len = (uint32_t)sl};
        stores[i] = pl.drive[i];
    }
    pthread_mutex_lock(cs_id_lock(cs, id));
    cs_run_jobs(cs, jobs, stores, n);
    for (int i = 0; i < n; i++)
        errs[i] = jobs[i].w.err;
    rc = cs_reduce_errors(errs, n);
    if (rc) {
        /* Take back what did land, so a failed put leaves nothing. */
        struct cs_job undo[CS_MAX_SHARDS];
        int undo_stores[CS_MAX_SHARDS], nundo = 0;
        for (int i = 0; i < n; i++) {
            if (errs[i])
                continue;
            undo[nundo].w = (struct shard_write){.chunk_id = id, .shard_idx = (uint8_t)i};
            undo_stores[nundo++] = pl.drive[i];
        }
        cs_run_jobs(cs, undo, undo_stores, nundo);
        for (int i = 0; i < nundo; i++)
            if (undo[i].w.err)
                log_warn("chunkstore: cannot remove shard %u of a failed put from %s: %s",
                         undo[i].w.shard_idx, cs->stores[undo_stores[i]]->name,
                         cs_strerror(undo[i].w.err));
    }
    pthread_mutex_unlock(cs_id_lock(cs, id));
    cs_scratch_put(cs, buf, (size_t)(n - full) * sl);
    if (rc == 0)
        *out = pl;
    return rc;
}

int cs_delete(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN], const struct cs_placement *pl)
{
    struct cs_job jobs[CS_MAX_SHARDS];
    int stores[CS_MAX_SHARDS], errs[CS_MAX_SHARDS];
    int rc;

    if (!cs || !id)
        return CS_EINVAL;
    rc = cs_check_placement(cs, pl);
    if (rc)
        return rc;
    const int n = pl->k + pl->m;
    for (int i = 0; i < n; i++) {
        jobs[i].w = (struct shard_write){.chunk_id = id, .shard_idx = (uint8_t)i};
        stores[i] = pl->drive[i];
    }
    pthread_mutex_lock(cs_id_lock(cs, id));
    cs_run_jobs(cs, jobs, stores, n);
    pthread_mutex_unlock(cs_id_lock(cs, id));
    for (int i = 0; i < n; i++)
        errs[i] = jobs[i].w.err == CS_ENOTFOUND ? 0 : jobs[i].w.err;
    return cs_reduce_errors(errs, n);
}

/* ------------------------------------------------------------------ */
/* Get / repair                                                        */

/* Read shard i of the chunk into dst (sl bytes); a shard of the wrong
 * length is as good as corrupt. */
static int cs_read_shard(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN],
                         const struct cs_placement *pl, int i, uint8_t *dst, uint32_t sl)
{
    uint32_t got = 0;
    int rc = shard_get(cs->stores[pl->drive[i]], id, (uint8_t)i, dst, sl, &got);
    if (rc == CS_EINVAL || (rc == 0 && got != sl))
        rc = CS_ECORRUPT;
    return rc;
}

/* The codec for a placement's k+m: ours, or (for chunks written under an
 * older configuration) a temporary one the caller frees. */
static struct ec_codec *cs_codec_for(struct chunkstore *cs, const struct cs_placement *pl,
                                     struct ec_codec **tmp)
{
    *tmp = NULL;
    if (pl->k == cs->k && pl->m == cs->m)
        return cs->codec;
    *tmp = ec_codec_new(pl->k, pl->m);
    return *tmp;
}

/*
 * The degraded path: read every shard not already known bad
 * (rep->shard_err) into bufs (k+m shards of sl bytes), rebuild the missing
 * ones from the first k good (data shards preferred), and verify the
 * rebuilt chunk against id.  Reading all of them, not just k, costs at
 * most m-1 extra reads on a rare path and gives repair the full picture.
 */
static int cs_rebuild(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN],
                      const struct cs_placement *pl, size_t len, uint32_t sl, uint8_t *bufs,
                      struct cs_report *rep)
{
    const int k = pl->k, n = pl->k + pl->m;
    uint8_t present[CS_MAX_SHARDS] = {0};
    uint8_t *ptrs[CS_MAX_SHARDS];
    uint8_t digest[32];
    struct ec_codec *tmp = NULL, *codec;
    int good = 0, missing = 0, rc = 0;

    for (int i = 0; i < n; i++) {
        ptrs[i] = bufs + (size_t)i * sl;
        if (rep->shard_err[i])
            continue;
        rep->shard_err[i] = cs_read_shard(cs, id, pl, i, ptrs[i], sl);
        if (rep->shard_err[i] == 0) {
            present[i] = 1;
            good++;
        }
    }
    for (int i = 0; i < n; i++)
        if (rep->shard_err[i])
            rep->bad_shards++;
    if (good < k)
        return CS_EUNAVAIL;
    for (int i = 0; i < n; i++)
        missing += !present[i];
    if (missing == 0)
        return 0;
    codec = cs_codec_for(cs, pl, &tmp);
    if (!codec)
        return -ENOMEM;
    rc = ec_codec_reconstruct(codec, sl, ptrs, present);
    ec_codec_free(tmp);
    if (rc)
        return rc;
    rep->reconstructed = 1;
    if (pl->flags & CS_PL_SEALED)
        return 0; /* no plaintext hash to check: see CS_PL_SEALED */
    sha256(bufs, len, digest); /* data shards are contiguous: the chunk */
    if (memcmp(digest, id, CHUNK_ID_LEN) != 0) {
        char hex[2 * CHUNK_ID_LEN + 1];
        hex_encode(id, CHUNK_ID_LEN, hex);
        log_error("chunkstore: chunk %s rebuilt from parity does not match its hash", hex);
        return CS_EHASH;
    }
    return 0;
}

int cs_get(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN], const struct cs_placement *pl,
           size_t len, size_t off, size_t n, void *out, struct cs_report *rep)
{
    struct cs_report local;
    uint8_t *tmp = NULL, *bufs = NULL;
    int rc;

    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (!cs || !id || len == 0 || len > CS_MAX_CHUNK || off > len || n > len - off || (n && !out))
        return CS_EINVAL;
    rc = cs_check_placement(cs, pl);
    if (rc || n == 0)
        return rc;

    const uint32_t sl = cs_shard_len(len, pl->k);
    const size_t first = off / sl, last = (off + n - 1) / sl;
    uint8_t *o = out;

    /* Healthy path: only the data shards under the range, no decoding. */
    for (size_t i = first; i <= last; i++) {
        size_t s_start = i * sl, s_end = s_start + sl;
        size_t from = off > s_start ? off : s_start;
        size_t to = off + n < s_end ? off + n : s_end;
        if (from == s_start && to == s_end) {
            rc = cs_read_shard(cs, id, pl, (int)i, o + (s_start - off), sl);
        } else {
            if (!tmp && !(tmp = cs_scratch_get(cs, sl))) {
                rc = -ENOMEM;
                goto out;
            }
            rc = cs_read_shard(cs, id, pl, (int)i, tmp, sl);
            if (rc == 0)
                memcpy(o + (from - off), tmp + (from - s_start), to - from);
        }
        if (rc) {
            rep->shard_err[i] = rc;
            goto degraded;
        }
    }
    rc = 0;
    goto out;

degraded:
    if (!(bufs = cs_scratch_get(cs, (size_t)(pl->k + pl->m) * sl))) {
        rc = -ENOMEM;
        goto out;
    }
    rc = cs_rebuild(cs, id, pl, len, sl, bufs, rep);
    if (rc == 0)
        memcpy(out, bufs + off, n);
out:
    cs_scratch_put(cs, tmp, sl);
    cs_scratch_put(cs, bufs, (size_t)(pl->k + pl->m) * sl);
    return rc;
}

int cs_repair(struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN], const struct cs_placement *pl,
              size_t len, struct cs_report *rep)
{
    struct cs_report local;
    struct cs_job jobs[CS_MAX_SHARDS];
    int stores[CS_MAX_SHARDS], errs[CS_MAX_SHARDS];
    uint8_t *bufs = NULL;
    int nw = 0, rc;

    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (!cs || !id || len == 0 || len > CS_MAX_CHUNK)
        return CS_EINVAL;
    rc = cs_check_placement(cs, pl);
    if (rc)
        return rc;
    const uint32_t sl = cs_shard_len(len, pl->k);
    const int n = pl->k + pl->m;
    if (!(bufs = cs_scratch_get(cs, (size_t)n * sl)))
        return -ENOMEM;

    pthread_mutex_lock(cs_id_lock(cs, id));
    rc = cs_rebuild(cs, id, pl, len, sl, bufs, rep);
    if (rc || rep->bad_shards == 0)
        goto out;
    for (int i = 0; i < n; i++) {
        if (!rep->shard_err[i])
            continue;
        jobs[nw].w = (struct shard_write){.chunk_id = id, .shard_idx = (uint8_t)i,
                                          .data = bufs + (size_t)i * sl, .len = sl};
        stores[nw++] = pl->drive[i];
    }
    cs_run_jobs(cs, jobs, stores, nw);
    for (int i = 0; i < nw; i++) {
        errs[i] = jobs[i].w.err;
        if (errs[i] == 0)
            rep->rewritten++;
        else
            log_warn("chunkstore: repair could not rewrite shard %u on %s: %s",
                     jobs[i].w.shard_idx, cs->stores[stores[i]]->name, cs_strerror(errs[i]));
    }
    rc = cs_reduce_errors(errs, nw);
out:
    pthread_mutex_unlock(cs_id_lock(cs, id));
    cs_scratch_put(cs, bufs, (size_t)n * sl);
    return rc;
}
