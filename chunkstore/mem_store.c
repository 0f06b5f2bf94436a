/*
 * chunkstore/mem_store.c - a complete shard store in memory.
 *
 * The test double for struct shard_store: same contracts as a drive (CRC32C
 * kept per shard and checked on read, replace on put, delete of an absent
 * shard is 0, optional capacity that yields -ENOSPC), nothing durable.
 * A chained hash table under one rwlock: gets run in parallel.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunkstore/chunkstore.h"
#include "common/hash.h"

struct mem_shard {
    struct mem_shard *next;
    uint8_t id[CHUNK_ID_LEN];
    uint8_t idx;
    uint32_t len;
    uint32_t crc;
    int64_t written;
    uint8_t data[];
};

struct mem_store {
    struct shard_store base;
    pthread_rwlock_t lock;
    struct mem_shard **buckets;
    size_t nbuckets; /* power of two */
    uint64_t count;
    uint64_t bytes;    /* payload bytes held */
    uint64_t dead;     /* payload bytes replaced or deleted (for stat) */
    uint64_t capacity; /* 0 = unlimited */
};

static const struct shard_store_ops mem_ops;

static size_t mem_hash(const uint8_t id[CHUNK_ID_LEN], uint8_t idx)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (int i = 0; i < CHUNK_ID_LEN; i++)
        h = (h ^ id[i]) * 0x100000001b3ull;
    h = (h ^ idx) * 0x100000001b3ull;
    return (size_t)(h ^ (h >> 32));
}

static struct mem_shard **mem_find(struct mem_store *ms, const uint8_t id[CHUNK_ID_LEN],
                                   uint8_t idx)
{
    struct mem_shard **pp = &ms->buckets[mem_hash(id, idx) & (ms->nbuckets - 1)];
    while (*pp && ((*pp)->idx != idx || memcmp((*pp)->id, id, CHUNK_ID_LEN) != 0))
        pp = &(*pp)->next;
    return pp;
}

/* Double the table when it is full; failure to grow only costs speed. */
static void mem_grow(struct mem_store *ms)
{
    size_t nb = ms->nbuckets * 2;
    struct mem_shard **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < ms->nbuckets; i++) {
        struct mem_shard *e = ms->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            size_t h = mem_hash(e->id, e->idx) & (nb - 1);
            e->next = b[h];
            b[h] = e;
        }
    }
    free(ms->buckets);
    ms->buckets = b;
    ms->nbuckets = nb;
}

static int mem_put(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx,
                   const void *data, uint32_t len)
{
    struct mem_store *ms = (struct mem_store *)s;
    struct mem_shard *e = NULL, **pp;
    int rc = 0;

    if (len > CS_MAX_CHUNK)
        return CS_EINVAL;
    e = malloc(sizeof *e + len);
    if (!e)
        return -ENOMEM;
    memcpy(e->id, id, CHUNK_ID_LEN);
    e->idx = idx;
    e->len = len;
    if (len)
        memcpy(e->data, data, len);
    e->crc = crc32c(0, e->data, len);
    e->written = (int64_t)time(NULL);

    pthread_rwlock_wrlock(&ms->lock);
    pp = mem_find(ms, id, idx);
    uint64_t old = *pp ? (*pp)->len : 0;
    if (ms->capacity && ms->bytes - old + len > ms->capacity) {
        rc = -ENOSPC;
        goto out;
    }
    if (*pp) {
        struct mem_shard *victim = *pp;
        e->next = victim->next;
        *pp = e;
        ms->dead += victim->len;
        free(victim);
    } else {
        e->next = NULL;
        *pp = e;
        ms->count++;
    }
    ms->bytes = ms->bytes - old + len;
    e = NULL;
    if (ms->count > ms->nbuckets)
        mem_grow(ms);
out:
    pthread_rwlock_unlock(&ms->lock);
    free(e);
    return rc;
}

static int mem_get(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx,
                   void *buf, uint32_t cap, uint32_t *len)
{
    struct mem_store *ms = (struct mem_store *)s;
    int rc = 0;

    pthread_rwlock_rdlock(&ms->lock);
    struct mem_shard *e = *mem_find(ms, id, idx);
    if (!e) {
        rc = CS_ENOTFOUND;
        goto out;
    }
    if (e->len > cap) {
        rc = CS_EINVAL;
        goto out;
    }
    if (e->len)
        memcpy(buf, e->data, e->len);
    if (crc32c(0, buf, e->len) != e->crc) {
        rc = CS_ECORRUPT;
        goto out;
    }
    *len = e->len;
out:
    pthread_rwlock_unlock(&ms->lock);
    return rc;
}

static int mem_del(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx)
{
    struct mem_store *ms = (struct mem_store *)s;
    struct mem_shard *victim = NULL;

    pthread_rwlock_wrlock(&ms->lock);
    struct mem_shard **pp = mem_find(ms, id, idx);
    if (*pp) {
        victim = *pp;
        *pp = victim->next;
        ms->count--;
        ms->bytes -= victim->len;
        ms->dead += victim->len;
    }
    pthread_rwlock_unlock(&ms->lock);
    free(victim);
    return 0;
}

/* Visits a snapshot taken under the lock, so fn may call back into the
 * store (delete what it is shown, for example). */
static int mem_iterate(struct shard_store *s, shard_iter_fn fn, void *arg)
{
    struct mem_store *ms = (struct mem_store *)s;
    struct snap {
        uint8_t id[CHUNK_ID_LEN];
        uint8_t idx;
        uint32_t len;
        int64_t written;
    } *snap = NULL;
    size_t n = 0;
    int rc = 0;

    pthread_rwlock_rdlock(&ms->lock);
    if (ms->count) {
        snap = malloc(ms->count * sizeof *snap);
        if (!snap) {
            pthread_rwlock_unlock(&ms->lock);
            return -ENOMEM;
        }
    }
    for (size_t b = 0; b < ms->nbuckets; b++)
        for (struct mem_shard *e = ms->buckets[b]; e; e = e->next) {
            memcpy(snap[n].id, e->id, CHUNK_ID_LEN);
            snap[n].idx = e->idx;
            snap[n].len = e->len;
            snap[n].written = e->written;
            n++;
        }
    pthread_rwlock_unlock(&ms->lock);

    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(arg, snap[i].id, snap[i].idx, snap[i].len, snap[i].written);
    free(snap);
    return rc;
}

static int mem_stat(struct shard_store *s, struct shard_store_stat *out)
{
    struct mem_store *ms = (struct mem_store *)s;
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&ms->lock);
    out->shards = ms->count;
    out->bytes_live = ms->bytes;
    out->bytes_dead = ms->dead;
    out->bytes_total = ms->capacity ? ms->capacity : UINT64_MAX;
    out->bytes_free = ms->capacity ? ms->capacity - ms->bytes : UINT64_MAX;
    pthread_rwlock_unlock(&ms->lock);
    return 0;
}

static void mem_close(struct shard_store *s)
{
    struct mem_store *ms = (struct mem_store *)s;
    if (!ms)
        return;
    for (size_t b = 0; b < ms->nbuckets; b++) {
        struct mem_shard *e = ms->buckets[b], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(ms->buckets);
    pthread_rwlock_destroy(&ms->lock);
    free(ms);
}

static const struct shard_store_ops mem_ops = {
    .put = mem_put,
    .get = mem_get,
    .del = mem_del,
    .iterate = mem_iterate,
    .stat = mem_stat,
    .close = mem_close,
};

struct shard_store *mem_store_new(const char *name)
{
    struct mem_store *ms = calloc(1, sizeof *ms);
    if (!ms)
        return NULL;
    ms->nbuckets = 256;
    ms->buckets = calloc(ms->nbuckets, sizeof *ms->buckets);
    if (!ms->buckets || pthread_rwlock_init(&ms->lock, NULL) != 0) {
        free(ms->buckets);
        free(ms);
        return NULL;
    }
    ms->base.ops = &mem_ops;
    snprintf(ms->base.name, sizeof ms->base.name, "%s", name ? name : "mem");
    return &ms->base;
}

void mem_store_set_capacity(struct shard_store *s, uint64_t bytes)
{
    if (!s || s->ops != &mem_ops)
        return;
    struct mem_store *ms = (struct mem_store *)s;
    pthread_rwlock_wrlock(&ms->lock);
    ms->capacity = bytes;
    pthread_rwlock_unlock(&ms->lock);
}
