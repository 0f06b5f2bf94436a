/*
 * gateway/objlayer.c - objects made of chunks; see objlayer.h.
 *
 * The order of a PUT is the durability argument: every chunk is durable in
 * the chunkstore and recorded in the chunks table (refcount 0) before the
 * one metadata transaction that makes the version visible adds the
 * references.  A crash at any point leaves either the old state or the new
 * one, plus unreferenced chunks the collector removes after the grace
 * period.  The collector in turn removes a chunk's record (re-checking it is
 * still unreferenced, in one transaction) before its shards, and a commit
 * re-checks every referenced chunk still has a record: a chunk can never be
 * referenced and collected at once.
 *
 * The PUT pipeline.  The thread that receives a body cuts it and hashes it
 * (the x-amz-checksum as it arrives, MD5 and SHA-256 a chunk at a time);
 * storing a new chunk (erasure coding, k+m shard writes and their
 * fdatasync, the chunk record) is a job for the store threads, so one
 * upload receives and hashes its next chunks while the previous ones
 * become durable.  In flight: at most
 * OL_WRITER_DEPTH jobs per writer and OL_STORE_SLOTS in all (each holds a
 * copy of its chunk), so memory stays bounded however many uploads run.
 * A writer waits for all its jobs before finish returns: the commit that
 * references the chunks still comes after every one of them is durable.
 */
#include "gateway/objlayer.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/bufpool.h"
#include "common/fastcdc.h"
#include "common/log.h"

#define OL_STORE_THREADS 8
#define OL_STORE_SLOTS 16
#define OL_WRITER_DEPTH 3
#define OL_CHUNK_BUFS_KEEP 16
#define OL_CHUNK_LOCKS 64
#define OL_PIN_BUCKETS 256

struct objlayer {
    struct meta *meta;
    struct chunkstore *cs;
    struct ol_config cfg;
    struct cdc_params cdc;
    /* Store jobs queued or running, across all writers: each holds a copy
     * of its chunk (from chunk_bufs) and, while running, k+m shard
     * scratch, so this bounds the server's memory however many uploads
     * run (64 uploads wait their turn here, holding only their partial
     * chunk). */
    sem_t store_slots;
    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_cv;
    struct store_job *jobs_head, *jobs_tail;
    int jobs_stop;
    pthread_t store_threads[OL_STORE_THREADS];
    int nstore_threads;
    /* Chunk-sized buffers (CS_MAX_CHUNK), kept resident between uses:
     * readers' chunk caches and store jobs' copies. */
    struct bufpool *chunk_bufs;
    /* Chunks are guarded by stripes (by the id's first byte):
     *  - two uploads of the same new chunk must not both write it (a failed
     *    second write would remove shards the first one recorded): the
     *    check for the chunk and its write happen under the stripe lock;
     *  - every chunk a live writer uses is pinned (counted in the stripe's
     *    table) from that moment until the writer is freed, committed or
     *    not; the collector, under the same lock, never touches a pinned
     *    chunk or its shards.  So even `gc --grace 0` cannot collect what
     *    an upload in flight is about to reference. */
    struct chunk_stripe {
        pthread_mutex_t lock;
        struct chunk_pin *pins[OL_PIN_BUCKETS];
    } stripes[OL_CHUNK_LOCKS];
};

static void *store_main(void *arg);

struct chunk_pin {
    uint8_t id[32];
    uint32_t count;
    struct chunk_pin *next;
};

static struct chunk_stripe *stripe_of(struct objlayer *ol, const uint8_t id[32])
{
    return &ol->stripes[id[0] % OL_CHUNK_LOCKS];
}

static struct chunk_pin **pin_slot(struct chunk_stripe *s, const uint8_t id[32])
{
    struct chunk_pin **pp = &s->pins[(id[1] << 8 | id[2]) % OL_PIN_BUCKETS];
    while (*pp && memcmp((*pp)->id, id, 32) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* Stripe lock held for all three. */
static int pin_locked(struct chunk_stripe *s, const uint8_t id[32])
{
    struct chunk_pin **pp = pin_slot(s, id);
    if (!*pp) {
        struct chunk_pin *p = calloc(1, sizeof *p);
        if (!p)
            return -ENOMEM;
        memcpy(p->id, id, 32);
        *pp = p;
    }
    (*pp)->count++;
    return 0;
}

static void unpin_locked(struct chunk_stripe *s, const uint8_t id[32])
{
    struct chunk_pin **pp = pin_slot(s, id);
    struct chunk_pin *p = *pp;
    if (p && --p->count == 0) {
        *pp = p->next;
        free(p);
    }
}

static int pinned_locked(struct chunk_stripe *s, const uint8_t id[32])
{
    return *pin_slot(s, id) != NULL;
}

const char *ol_strerror(int err)
{
    switch (err) {
    case OL_EBADDIGEST: return "Content-MD5 mismatch";
    case OL_ECHECKSUM: return "checksum mismatch";
    case OL_ETOOLARGE: return "body too large";
    case OL_EINCOMPLETE: return "body incomplete";
    case OL_EINVALIDPART: return "invalid part";
    case OL_EPARTORDER: return "parts out of order";
    case OL_ETOOSMALL: return "part too small";
    case OL_ERANGE: return "range not satisfiable";
    case OL_ELOCKED: return "version under object lock";
    case OL_ENOKEY: return "encrypted object read without its key";
    case OL_EDECRYPT: return "encrypted data does not authenticate (corrupt)";
    }
    if (err <= -31000 && err > -32000)
        return meta_strerror(err);
    return cs_strerror(err);
}

int64_t ol_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ol_open(struct meta *m, struct chunkstore *cs, const struct ol_config *cfg,
            struct objlayer **out)
{
    struct objlayer *ol = calloc(1, sizeof *ol);
    if (!ol)
        return -ENOMEM;
    ol->meta = m;
    ol->cs = cs;
    ol->cfg = *cfg;
    cdc_params_default(&ol->cdc);
    ol->chunk_bufs = bufpool_new(CS_MAX_CHUNK, OL_CHUNK_BUFS_KEEP);
    if (!ol->chunk_bufs) {
        free(ol);
        return -ENOMEM;
    }
    sem_init(&ol->store_slots, 0, OL_STORE_SLOTS);
    for (int i = 0; i < OL_CHUNK_LOCKS; i++)
        pthread_mutex_init(&ol->stripes[i].lock, NULL);
    pthread_mutex_init(&ol->jobs_lock, NULL);
    pthread_cond_init(&ol->jobs_cv, NULL);
    for (int i = 0; i < OL_STORE_THREADS; i++) {
        char name[16];
        int rc = pthread_create(&ol->store_threads[i], NULL, store_main, ol);
        if (rc) {
            ol_close(ol);
            return -rc;
        }
        ol->nstore_threads++;
        snprintf(name, sizeof name, "ol-store-%d", i);
        pthread_setname_np(ol->store_threads[i], name);
    }
    *out = ol;
    return 0;
}

void ol_close(struct objlayer *ol)
{
    if (!ol)
        return;
    pthread_mutex_lock(&ol->jobs_lock);
    ol->jobs_stop = 1;
    pthread_cond_broadcast(&ol->jobs_cv);
    pthread_mutex_unlock(&ol->jobs_lock);
    for (int i = 0; i < ol->nstore_threads; i++)
        pthread_join(ol->store_threads[i], NULL);
    pthread_mutex_destroy(&ol->jobs_lock);
    pthread_cond_destroy(&ol->jobs_cv);
    sem_destroy(&ol->store_slots);
    bufpool_free(ol->chunk_bufs);
    for (int i = 0; i < OL_CHUNK_LOCKS; i++) {
        for (int b = 0; b < OL_PIN_BUCKETS; b++) {
            while (ol->stripes[i].pins[b]) { /* writers still alive: a caller bug */
                struct chunk_pin *p = ol->stripes[i].pins[b];
                ol->stripes[i].pins[b] = p->next;
                free(p);
            }
        }
        pthread_mutex_destroy(&ol->stripes[i].lock);
    }
    free(ol);
}

struct meta *ol_meta(struct objlayer *ol)
{
    return ol->meta;
}

struct chunkstore *ol_chunkstore(struct objlayer *ol)
{
    return ol->cs;
}

int64_t ol_gc_grace_ms(const struct objlayer *ol)
{
    return ol->cfg.gc_grace_ms;
}

size_t ol_inline_max(const struct objlayer *ol)
{
    return ol->cfg.inline_max;
}

uint16_t ol_placement_encode(const struct cs_placement *pl, uint8_t *out)
{
    int n = pl->k + pl->m;
    out[0] = (uint8_t)(pl->k | (pl->flags & CS_PL_SEALED ? 0x80 : 0));
    out[1] = pl->m;
    for (int i = 0; i < n; i++) {
        out[2 + 2 * i] = (uint8_t)(pl->drive[i] >> 8);
        out[3 + 2 * i] = (uint8_t)pl->drive[i];
    }
    return (uint16_t)(2 + 2 * n);
}

int ol_placement_decode(const uint8_t *in, uint16_t len, struct cs_placement *pl)
{
    if (len < 2)
        return META_ECORRUPT;
    int k = in[0] & 0x7f, n = k + in[1];
    if (k == 0 || n > CS_MAX_SHARDS || len != 2 + 2 * n)
        return META_ECORRUPT;
    pl->k = (uint8_t)k;
    pl->m = in[1];
    pl->flags = in[0] & 0x80 ? CS_PL_SEALED : 0;
    for (int i = 0; i < n; i++)
        pl->drive[i] = (uint16_t)(in[2 + 2 * i] << 8 | in[3 + 2 * i]);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */

struct ol_writer {
    struct objlayer *ol;
    struct ol_writer_opts opts;
    struct cdc_stream cdc;
    struct cksum md5, checksum;
    uint8_t md5_out[CKSUM_MAX_LEN], checksum_out[CKSUM_MAX_LEN];
    size_t checksum_len;
    uint64_t size;
    /* The first inline_max bytes are kept here too, so that a small body
     * can be stored inline without ever becoming a chunk. */
    uint8_t *inline_buf;
    int chunked;            /* the body outgrew the inline buffer */
    int sealed;             /* encrypt under dom (opts.sse was set) */
    struct sse_domain dom;
    uint8_t *sealed_inline; /* sealed: seed || ciphertext || tag, after finish */
    struct meta_chunk_ref *chunks;
    uint32_t nchunks, cap;
    int err;                /* sticky */
    int finished;
    /* Store jobs of this writer not yet done, and the first one's error;
     * guarded by mu, signalled on cv as jobs finish. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
    int job_err;
};

/* One new chunk to store: a copy of its bytes, owned by the job. */
struct store_job {
    struct store_job *next;
    struct ol_writer *w;
    uint8_t id[32];
    uint8_t *data;
    size_t len;             /* plaintext length when sealed */
    int sealed;             /* seal data in place (under w->dom) first */
};

int ol_writer_new(struct objlayer *ol, const struct ol_writer_opts *opts, struct ol_writer **out)
{
    struct ol_writer *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->ol = ol;
    w->opts = *opts;
    w->opts.sse = NULL;
    if (opts->sse) {
        w->sealed = 1;
        w->dom = *opts->sse;
    }
    if (!w->opts.max_size)
        w->opts.max_size = OL_MAX_PUT_SIZE;
    cdc_stream_init(&w->cdc, &ol->cdc);
    cksum_init(&w->md5, CKSUM_MD5);
    if (opts->checksum != CKSUM_NONE)
        cksum_init(&w->checksum, opts->checksum);
    if (!opts->allow_inline || ol->cfg.inline_max == 0)
        w->chunked = 1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    *out = w;
    return 0;
}

/* Write a chunk unless the store has it by now (another job of the same
 * chunk may have run first), and record it; *stored (may be NULL) says
 * whether it was written now.  The stripe lock makes the check and the
 * write one step for that id. */
static int store_now(struct objlayer *ol, const uint8_t id[32], const uint8_t *data, size_t len,
                     int sealed, int *stored)
{
    struct chunk_stripe *st = stripe_of(ol, id);
    struct meta_chunk rec;
    pthread_mutex_lock(&st->lock);
    int rc = meta_chunk_get(ol->meta, id, &rec);
    if (stored)
        *stored = rc == META_ENOTFOUND;
    if (rc == META_ENOTFOUND) {
        struct cs_placement pl;
        rc = cs_put(ol->cs, id, data, len, &pl);
        if (rc == 0) {
            if (sealed)
                pl.flags |= CS_PL_SEALED;
            memset(&rec, 0, sizeof rec);
            memcpy(rec.id, id, 32);
            rec.len = (uint32_t)len;
            rec.zero_since_ms = ol_now_ms();
            rec.placement_len = ol_placement_encode(&pl, rec.placement);
            rc = meta_chunk_add(ol->meta, &rec);
        }
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static void *store_main(void *arg)
{
    struct objlayer *ol = arg;
    for (;;) {
        pthread_mutex_lock(&ol->jobs_lock);
        while (!ol->jobs_head && !ol->jobs_stop)
            pthread_cond_wait(&ol->jobs_cv, &ol->jobs_lock);
        struct store_job *job = ol->jobs_head;
        if (job && !(ol->jobs_head = job->next))
            ol->jobs_tail = NULL;
        pthread_mutex_unlock(&ol->jobs_lock);
        if (!job)
            return NULL; /* stopping, queue empty */

        struct ol_writer *w = job->w;
        size_t len = job->len;
        int rc = 0;
        /* Sealing runs here, in parallel over the store threads, rather
         * than in the thread receiving the body. */
        if (job->sealed) {
            rc = sse_seal(&w->dom, job->id, job->data, len, job->data);
            len += SSE_TAG_LEN;
        }
        if (rc == 0)
            rc = store_now(ol, job->id, job->data, len, job->sealed, NULL);
        bufpool_put(ol->chunk_bufs, job->data);
        free(job);
        sem_post(&ol->store_slots);
        pthread_mutex_lock(&w->mu);
        if (rc && !w->job_err)
            w->job_err = rc;
        w->inflight--;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

/* Wait until at most max of w's jobs are in flight; their first error. */
static int writer_drain(struct ol_writer *w, int max)
{
    pthread_mutex_lock(&w->mu);
    while (w->inflight > max)
        pthread_cond_wait(&w->cv, &w->mu);
    int rc = w->job_err;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Queue a copy of a new chunk for the store threads. */
static int store_later(struct ol_writer *w, const uint8_t id[32], const uint8_t *data, size_t len)
{
    struct objlayer *ol = w->ol;
    int rc = writer_drain(w, OL_WRITER_DEPTH - 1);
    if (rc)
        return rc;
    struct store_job *job = malloc(sizeof *job);
    if (!job)
        return -ENOMEM;
    while (sem_wait(&ol->store_slots) != 0 && errno == EINTR)
        ;
    if (!(job->data = bufpool_get(ol->chunk_bufs))) {
        sem_post(&ol->store_slots);
        free(job);
        return -ENOMEM;
    }
    memcpy(job->data, data, len);
    memcpy(job->id, id, 32);
    job->len = len;
    job->sealed = w->sealed;
    job->w = w;
    job->next = NULL;
    pthread_mutex_lock(&w->mu);
    w->inflight++;
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_lock(&ol->jobs_lock);
    if (ol->jobs_tail)
        ol->jobs_tail->next = job;
    else
        ol->jobs_head = job;
    ol->jobs_tail = job;
    pthread_cond_signal(&ol->jobs_cv);
    pthread_mutex_unlock(&ol->jobs_lock);
    return 0;
}

/* The chunker's emit: name the chunk, pin it, and have it stored unless
 * the store already has it; append it to the writer's list. */
static int store_chunk(void *arg, const uint8_t *data, size_t len)
{
    struct ol_writer *w = arg;
    struct objlayer *ol = w->ol;
    struct meta_chunk rec;
    uint8_t id[32];

    /* Chunks come in order and cover the body: the ETag's MD5 is taken
     * here, a whole chunk per update, which gives the shared MD5 lanes
     * (common/md5.h) long jobs from many uploads at once. */
    cksum_update(&w->md5, data, len);
    sha256(data, len, id);
    if (w->sealed) {
        uint8_t plain_id[32];
        memcpy(plain_id, id, 32);
        sse_chunk_id(&w->dom, plain_id, id);
        if (len + SSE_TAG_LEN > CS_MAX_CHUNK)
            return OL_ETOOLARGE; /* FastCDC cuts at 4 MiB: never */
    }
    if (w->nchunks == w->cap) {
        uint32_t cap = w->cap ? 2 * w->cap : 16;
        void *p = realloc(w->chunks, cap * sizeof *w->chunks);
        if (!p)
            return -ENOMEM;
        w->chunks = p;
        w->cap = cap;
    }
    struct chunk_stripe *st = stripe_of(ol, id);
    pthread_mutex_lock(&st->lock);
    int rc = pin_locked(st, id);
    if (rc == 0) {
        rc = meta_chunk_get(ol->meta, id, &rec);
        if (rc && rc != META_ENOTFOUND)
            unpin_locked(st, id);
    }
    pthread_mutex_unlock(&st->lock);
    if (rc == META_ENOTFOUND) {
        /* Pinned from here on (unpinned by ol_writer_free, as it is now
         * in the list), so the collector leaves its shards alone even
         * before its record exists. */
        rc = store_later(w, id, data, len);
    } else if (rc) {
        return rc;
    }
    memcpy(w->chunks[w->nchunks].id, id, 32);
    w->chunks[w->nchunks].len = (uint32_t)(len + (w->sealed ? SSE_TAG_LEN : 0));
    w->nchunks++;
    return rc;
}

/* A sealed writer's inline body: seed || sealed bytes, under a random
 * seed (small objects are not deduplicated, so nothing ties two equal
 * ones together). */
static int seal_inline(struct ol_writer *w)
{
    size_t n = (size_t)w->size;
    if (!w->sealed || w->chunked || n == 0)
        return 0;
    if (!(w->sealed_inline = malloc(SSE_SEED_LEN + n + SSE_TAG_LEN)))
        return -ENOMEM;
    if (getrandom(w->sealed_inline, SSE_SEED_LEN, 0) != SSE_SEED_LEN)
        return -EIO;
    return sse_seal(&w->dom, w->sealed_inline, w->inline_buf, n, w->sealed_inline + SSE_SEED_LEN);
}

int ol_writer_write(struct ol_writer *w, const void *data, size_t len)
{
    if (w->err)
        return w->err;
    if (len > w->opts.max_size - w->size)
        return w->err = OL_ETOOLARGE;
    if (w->opts.checksum != CKSUM_NONE)
        cksum_update(&w->checksum, data, len);

    size_t inline_max = w->ol->cfg.inline_max;
    if (!w->chunked && w->size + len < inline_max) {
        if (!w->inline_buf && !(w->inline_buf = malloc(inline_max)))
            return w->err = -ENOMEM;
        memcpy(w->inline_buf + w->size, data, len);
    } else if (!w->chunked) {
        /* Outgrew inline: everything buffered so far goes to the chunker. */
        w->chunked = 1;
        if (w->size) {
            int rc = cdc_stream_feed(&w->cdc, w->inline_buf, w->size, store_chunk, w);
            if (rc)
                return w->err = rc;
        }
        free(w->inline_buf);
        w->inline_buf = NULL;
    }
    w->size += len;
    if (w->chunked) {
        int rc = cdc_stream_feed(&w->cdc, data, len, store_chunk, w);
        if (rc)
            return w->err = rc;
    }
    return 0;
}

int ol_writer_finish(struct ol_writer *w)
{
    if (w->err)
        return w->err;
    if (w->finished)
        return 0;
    if (w->chunked) {
        int rc = cdc_stream_finish(&w->cdc, store_chunk, w);
        if (rc == 0)
            rc = writer_drain(w, 0);
        if (rc)
            return w->err = rc;
    }
    if (!w->chunked)
        cksum_update(&w->md5, w->inline_buf, (size_t)w->size);
    int rc = seal_inline(w);
    if (rc)
        return w->err = rc;
    cksum_final(&w->md5, w->md5_out);
    if (w->opts.checksum != CKSUM_NONE)
        w->checksum_len = cksum_final(&w->checksum, w->checksum_out);
    w->finished = 1;
    return 0;
}

uint64_t ol_writer_size(const struct ol_writer *w)
{
    return w->size;
}

const uint8_t *ol_writer_md5(const struct ol_writer *w)
{
    return w->md5_out;
}

const uint8_t *ol_writer_checksum(const struct ol_writer *w, size_t *len)
{
    *len = w->checksum_len;
    return w->checksum_out;
}

void ol_writer_object(struct ol_writer *w, struct meta_object *o)
{
    o->size = w->size;
    o->flags &= ~(uint32_t)META_OBJ_ENCRYPTED;
    if (w->sealed)
        o->flags |= META_OBJ_ENCRYPTED;
    if (w->sealed && !w->chunked) {
        o->inline_data = w->sealed_inline;
        o->inline_len = w->size ? (uint32_t)(SSE_SEED_LEN + w->size + SSE_TAG_LEN) : 0;
        o->chunks = NULL;
        o->nchunks = 0;
    } else if (w->chunked) {
        o->inline_data = NULL;
        o->inline_len = 0;
        o->chunks = w->chunks;
        o->nchunks = w->nchunks;
    } else {
        o->inline_data = w->inline_buf;
        o->inline_len = (uint32_t)w->size;
        o->chunks = NULL;
        o->nchunks = 0;
    }
}

void ol_writer_free(struct ol_writer *w)
{
    if (!w)
        return;
    writer_drain(w, 0); /* jobs point at w */
    for (uint32_t i = 0; i < w->nchunks; i++) {
        struct chunk_stripe *st = stripe_of(w->ol, w->chunks[i].id);
        pthread_mutex_lock(&st->lock);
        unpin_locked(st, w->chunks[i].id);
        pthread_mutex_unlock(&st->lock);
    }
    cdc_stream_release(&w->cdc);
    cksum_release(&w->md5);
    cksum_release(&w->checksum);
    free(w->inline_buf);
    free(w->sealed_inline);
    sse_domain_wipe(&w->dom);
    free(w->chunks);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

int ol_chunk_put(struct objlayer *ol, const uint8_t id[32], const void *data, size_t len,
                 int *stored)
{
    uint8_t got[32];
    if (len == 0 || len > CS_MAX_CHUNK)
        return OL_ETOOLARGE;
    sha256(data, len, got);
    if (memcmp(got, id, 32) != 0)
        return OL_EBADDIGEST;
    int s = 0;
    int rc = store_now(ol, id, data, len, 0, &s);
    if (rc == 0)
        *stored = s;
    return rc;
}

int ol_chunk_has(struct objlayer *ol, const uint8_t id[32])
{
    struct meta_chunk rec;
    int rc = meta_chunk_get(ol->meta, id, &rec);
    if (rc == META_ENOTFOUND)
        return 0;
    return rc ? rc : 1;
}

void *ol_chunk_buf_get(struct objlayer *ol)
{
    return bufpool_get(ol->chunk_bufs);
}

void ol_chunk_buf_put(struct objlayer *ol, void *buf)
{
    bufpool_put(ol->chunk_bufs, buf);
}

int ol_put(struct objlayer *ol, const char *bucket, const struct meta_object *o,
           const struct meta_precond *pc, struct meta_object *replaced)
{
    return meta_object_put(ol->meta, bucket, o, pc, replaced);
}

/* ------------------------------------------------------------------ */
/* Reader                                                              */

struct ol_reader {
    struct objlayer *ol;
    struct meta_object obj;
    uint64_t *chunk_off;        /* start offset of each chunk */
    /* One chunk's bytes cached: reads come in order from HTTP responses. */
    uint8_t *cache;
    uint32_t cache_idx;         /* chunk held in cache, or UINT32_MAX */
    uint64_t cache_off;         /* object offset of cache[0] */
    size_t cache_len;
    /* Encrypted version: chunks hold SSE_TAG_LEN bytes more than their
     * plaintext; nothing reads until the key domain is given. */
    int sealed, have_key;
    struct sse_domain dom;
    uint8_t *plain_inline;      /* sealed inline data, opened */
};

/* Plaintext length of chunk ref i. */
static uint32_t plain_len(const struct ol_reader *r, uint32_t i)
{
    return r->obj.chunks[i].len - (r->sealed ? SSE_TAG_LEN : 0);
}

int ol_reader_open(struct objlayer *ol, const char *bucket, const char *key,
                   const char *version_id, struct ol_reader **out)
{
    struct meta_object o;
    int rc = meta_object_get(ol->meta, bucket, key, version_id, &o);
    if (rc)
        return rc;
    if ((o.flags & META_OBJ_DELETE_MARKER) && !version_id) {
        meta_object_release(&o);
        return META_ENOTFOUND;
    }
    rc = ol_reader_open_object(ol, &o, out);
    meta_object_release(&o);
    return rc;
}

int ol_reader_open_object(struct objlayer *ol, struct meta_object *o, struct ol_reader **out)
{
    int sealed = (o->flags & META_OBJ_ENCRYPTED) != 0;
    for (uint32_t i = 0; sealed && i < o->nchunks; i++)
        if (o->chunks[i].len <= SSE_TAG_LEN)
            return META_ECORRUPT;
    struct ol_reader *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->ol = ol;
    r->cache_idx = UINT32_MAX;
    r->sealed = sealed;
    r->obj = *o; /* taken only on success (below) */
    if (o->nchunks) {
        r->chunk_off = malloc(o->nchunks * sizeof *r->chunk_off);
        if (!r->chunk_off) {
            free(r);
            return -ENOMEM;
        }
        uint64_t off = 0;
        for (uint32_t i = 0; i < o->nchunks; i++) {
            r->chunk_off[i] = off;
            off += plain_len(r, i);
        }
    }
    memset(o, 0, sizeof *o);
    *out = r;
    return 0;
}

int ol_reader_set_sse(struct ol_reader *r, const struct sse_domain *d)
{
    if (!r->sealed || r->have_key)
        return 0;
    const struct meta_object *o = &r->obj;
    if (!o->nchunks && o->size) {
        if (o->inline_len != SSE_SEED_LEN + o->size + SSE_TAG_LEN)
            return META_ECORRUPT;
        uint8_t *p = malloc((size_t)o->size);
        if (!p)
            return -ENOMEM;
        int rc = sse_open(d, o->inline_data, o->inline_data + SSE_SEED_LEN,
                          o->inline_len - SSE_SEED_LEN, p);
        if (rc) {
            free(p);
            return rc == SSE_EAUTH ? OL_EDECRYPT : rc;
        }
        r->plain_inline = p;
    }
    r->dom = *d;
    r->have_key = 1;
    return 0;
}

const struct meta_object *ol_reader_object(const struct ol_reader *r)
{
    return &r->obj;
}

/* Index of the chunk holding object offset off (binary search). */
static uint32_t chunk_at(const struct ol_reader *r, uint64_t off)
{
    uint32_t lo = 0, hi = r->obj.nchunks - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (r->chunk_off[mid] <= off)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Load the part of chunk idx that holds object offset off into the cache.
 * Sequential readers (HTTP responses) get the whole chunk at once; a short
 * read gets the data shards covering [off, off+want) only.  Either way the
 * range is whole shards, so the chunkstore reads straight into the cache
 * with no bounce buffer. */
static int load_chunk(struct ol_reader *r, uint32_t idx, uint64_t off, size_t want)
{
    const struct meta_chunk_ref *ref = &r->obj.chunks[idx];
    struct meta_chunk rec;
    struct cs_placement pl;
    int rc = meta_chunk_get(r->ol->meta, ref->id, &rec);
    if (rc == META_ENOTFOUND)
        rc = CS_EUNAVAIL;
    if (rc)
        return rc;
    rc = ol_placement_decode(rec.placement, rec.placement_len, &pl);
    if (rc)
        return rc;
    if (!r->cache && !(r->cache = bufpool_get(r->ol->chunk_bufs)))
        return -ENOMEM;
    size_t from = 0, to = ref->len;
    size_t in_chunk = (size_t)(off - r->chunk_off[idx]);
    if (r->sealed) {
        /* The tag covers the whole chunk: read it all, open it in place. */
        struct cs_report rep;
        pl.flags |= CS_PL_SEALED;
        rc = cs_get(r->ol->cs, ref->id, &pl, ref->len, 0, ref->len, r->cache, &rep);
        if (rep.bad_shards)
            log_warn("chunk read found %d bad shard(s); scrub will repair", rep.bad_shards);
        if (rc == 0)
            rc = sse_open(&r->dom, ref->id, r->cache, ref->len, r->cache);
        if (rc == SSE_EAUTH) {
            char hex[65];
            hex_encode(ref->id, 32, hex);
            log_error("encrypted chunk %s does not authenticate: corrupt", hex);
            rc = OL_EDECRYPT;
        }
        if (rc) {
            r->cache_idx = UINT32_MAX;
            return rc;
        }
        r->cache_idx = idx;
        r->cache_off = r->chunk_off[idx];
        r->cache_len = ref->len - SSE_TAG_LEN;
        return 0;
    }
    if (want < ref->len / 2) {
        size_t sl = cs_shard_len(ref->len, pl.k);
        from = in_chunk / sl * sl;
        to = (in_chunk + want + sl - 1) / sl * sl;
        if (to > ref->len)
            to = ref->len;
    }
    struct cs_report rep;
    rc = cs_get(r->ol->cs, ref->id, &pl, ref->len, from, to - from, r->cache, &rep);
    if (rep.bad_shards)
        log_warn("chunk read found %d bad shard(s); scrub will repair", rep.bad_shards);
    if (rc)
        return rc;
    r->cache_idx = idx;
    r->cache_off = r->chunk_off[idx] + from;
    r->cache_len = to - from;
    return 0;
}

long ol_reader_read(struct ol_reader *r, uint64_t off, void *buf, size_t n)
{
    if (off >= r->obj.size)
        return 0;
    if (n > r->obj.size - off)
        n = (size_t)(r->obj.size - off);
    if (r->sealed && !r->have_key)
        return OL_ENOKEY;
    if (!r->obj.nchunks) {
        memcpy(buf, (r->sealed ? r->plain_inline : r->obj.inline_data) + off, n);
        return (long)n;
    }
    size_t done = 0;
    while (done < n) {
        uint64_t pos = off + done;
        if (r->cache_idx == UINT32_MAX || pos < r->cache_off || pos >= r->cache_off + r->cache_len) {
            int rc = load_chunk(r, chunk_at(r, pos), pos, n - done);
            if (rc)
                return done ? (long)done : rc;
        }
        size_t avail = (size_t)(r->cache_off + r->cache_len - pos);
        size_t take = n - done < avail ? n - done : avail;
        memcpy((uint8_t *)buf + done, r->cache + (pos - r->cache_off), take);
        done += take;
    }
    return (long)done;
}

int ol_reader_prefetch(struct ol_reader *r, uint64_t off, size_t n)
{
    if (r->sealed && !r->have_key)
        return OL_ENOKEY;
    if (off >= r->obj.size || !r->obj.nchunks)
        return 0;
    if (r->cache_idx != UINT32_MAX && off >= r->cache_off && off < r->cache_off + r->cache_len)
        return 0;
    return load_chunk(r, chunk_at(r, off), off, n);
}

void ol_reader_free(struct ol_reader *r)
{
    if (!r)
        return;
    meta_object_release(&r->obj);
    free(r->chunk_off);
    free(r->plain_inline);
    sse_domain_wipe(&r->dom);
    bufpool_put(r->ol->chunk_bufs, r->cache);
    free(r);
}

/* ------------------------------------------------------------------ */
/* Scrub and garbage collection                                        */

struct scrub_ctx {
    struct objlayer *ol;
    struct ol_scrub_report *rep;
};

static int scrub_one(void *arg, const struct meta_chunk *c)
{
    struct scrub_ctx *s = arg;
    struct cs_placement pl;
    struct cs_report rep;
    s->rep->chunks++;
    if (ol_placement_decode(c->placement, c->placement_len, &pl)) {
        s->rep->chunks_lost++;
        return 0;
    }
    memset(&rep, 0, sizeof rep);
    int rc = cs_repair(s->ol->cs, c->id, &pl, c->len, &rep);
    s->rep->shards_checked += (uint64_t)(pl.k + pl.m);
    s->rep->shards_bad += (uint64_t)rep.bad_shards;
    s->rep->shards_rewritten += (uint64_t)rep.rewritten;
    if (rc) {
        char hex[65];
        int lost = rc == CS_EUNAVAIL || rc == CS_EHASH;
        hex_encode(c->id, 32, hex);
        log_error("scrub: chunk %s %s: %s", hex, lost ? "is lost" : "could not be fully repaired",
                  cs_strerror(rc));
        if (lost)
            s->rep->chunks_lost++;
        else
            s->rep->chunks_unrepaired++;
    }
    return 0;
}

int ol_scrub(struct objlayer *ol, struct ol_scrub_report *rep)
{
    struct scrub_ctx s = {ol, rep};
    memset(rep, 0, sizeof *rep);
    return meta_chunk_foreach(ol->meta, scrub_one, &s);
}

struct orphan_ctx {
    struct objlayer *ol;
    struct shard_store *store;
    int64_t cutoff_unix;
    uint8_t (*ids)[33];
    size_t n, cap;
};

static int note_orphan(void *arg, const uint8_t id[CHUNK_ID_LEN], uint8_t idx, uint32_t len,
                       int64_t written_unix)
{
    struct orphan_ctx *o = arg;
    struct meta_chunk rec;
    (void)len;
    if (written_unix > o->cutoff_unix)
        return 0;
    if (meta_chunk_get(o->ol->meta, id, &rec) != META_ENOTFOUND)
        return 0;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 64;
        void *p = realloc(o->ids, cap * sizeof *o->ids);
        if (!p)
            return -ENOMEM;
        o->ids = p;
        o->cap = cap;
    }
    memcpy(o->ids[o->n], id, 32);
    o->ids[o->n][32] = idx;
    o->n++;
    return 0;
}

int ol_gc(struct objlayer *ol, int64_t now_ms, struct ol_gc_report *rep)
{
    int64_t cutoff = now_ms - ol->cfg.gc_grace_ms;
    uint8_t after[32];
    int have_after = 0;
    int rc = 0;
    memset(rep, 0, sizeof *rep);
    for (;;) {
        struct meta_chunk *batch = NULL;
        size_t n = 0;
        rc = meta_chunk_unused(ol->meta, cutoff, have_after ? after : NULL, 256, &batch, &n);
        if (rc || n == 0) {
            free(batch);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            struct cs_placement pl;
            struct chunk_stripe *st = stripe_of(ol, batch[i].id);
            /* Record and shards go under the stripe lock: an upload cannot
             * write this chunk anew between the two, and a pinned chunk
             * (an upload in flight uses it) is left alone. */
            pthread_mutex_lock(&st->lock);
            int removed = !pinned_locked(st, batch[i].id) &&
                          meta_chunk_remove_unused(ol->meta, batch[i].id, cutoff) == 0;
            if (removed && ol_placement_decode(batch[i].placement, batch[i].placement_len, &pl) == 0)
                cs_delete(ol->cs, batch[i].id, &pl);
            pthread_mutex_unlock(&st->lock);
            if (!removed)
                continue; /* in use, or referenced again meanwhile */
            rep->chunks_removed++;
            rep->bytes_removed += batch[i].len;
        }
        memcpy(after, batch[n - 1].id, 32);
        have_after = 1;
        free(batch);
    }
    if (rc)
        return rc;

    /* Shards no chunk record names: a crash came between cs_put and
     * meta_chunk_add.  Only those older than the grace period, so a PUT in
     * flight never loses its fresh shards. */
    for (int d = 0; d < cs_nstores(ol->cs); d++) {
        struct orphan_ctx o = {ol, cs_store(ol->cs, d), cutoff / 1000, NULL, 0, 0};
        struct shard_store *st = o.store;
        rc = st->ops->iterate(st, note_orphan, &o);
        for (size_t i = 0; rc == 0 && i < o.n; i++) {
            struct meta_chunk rec;
            struct chunk_stripe *cst = stripe_of(ol, o.ids[i]);
            /* An upload between cs_put and meta_chunk_add holds the stripe
             * lock and a pin: re-check both under the lock. */
            pthread_mutex_lock(&cst->lock);
            if (!pinned_locked(cst, o.ids[i]) &&
                meta_chunk_get(ol->meta, o.ids[i], &rec) == META_ENOTFOUND &&
                shard_del(st, o.ids[i], o.ids[i][32]) == 0)
                rep->orphan_shards_removed++;
            pthread_mutex_unlock(&cst->lock);
        }
        free(o.ids);
        if (rc)
            return rc;
    }

    /* What the removals above left dead on the drives goes back to the
     * file system.  One store failing (full, broken) does not stop the
     * others. */
    for (int d = 0; d < cs_nstores(ol->cs); d++) {
        uint64_t freed = 0;
        int crc = shard_compact(cs_store(ol->cs, d), &freed);
        rep->disk_bytes_freed += freed;
        if (crc)
            log_warn("gc: compacting %s: %s", cs_store(ol->cs, d)->name, cs_strerror(crc));
    }
    return 0;
}
