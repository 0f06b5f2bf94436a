/*
 * chunkstore/shard_store.c - the shard_* wrappers every caller goes
 * through (fault injection lives here; metrics will), and cs_strerror.
 */
#include <errno.h>
#include <string.h>

#include "chunkstore/chunkstore.h"

static const char *const cs_error_names[] = {
    [0] = "shard or chunk not found",          /* CS_ENOTFOUND */
    [1] = "shard corrupt (CRC32C mismatch)",   /* CS_ECORRUPT */
    [2] = "chunk unavailable (fewer than k good shards)", /* CS_EUNAVAIL */
    [3] = "invalid argument",                  /* CS_EINVAL */
    [4] = "reconstructed chunk does not match its hash", /* CS_EHASH */
    [5] = "chunk store closed",                /* CS_ECLOSED */
};

const char *cs_strerror(int err)
{
    if (err == 0)
        return "success";
    if (err <= CS_ENOTFOUND && err >= CS_ECLOSED)
        return cs_error_names[CS_ENOTFOUND - err];
    if (err < 0 && err > -4096) {
        /* strerrordesc_np returns a static string (strerror may not). */
        const char *s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown error";
}

static int fault_of(struct shard_store *s)
{
    return __atomic_load_n(&s->fault, __ATOMIC_RELAXED);
}

void shard_store_set_fault(struct shard_store *s, int err)
{
    __atomic_store_n(&s->fault, err, __ATOMIC_RELAXED);
}

int shard_put(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx,
              const void *data, uint32_t len)
{
    int f = fault_of(s);
    if (f)
        return f;
    return s->ops->put(s, id, idx, data, len);
}

int shard_get(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx,
              void *buf, uint32_t cap, uint32_t *len)
{
    int f = fault_of(s);
    if (f)
        return f;
    return s->ops->get(s, id, idx, buf, cap, len);
}

int shard_del(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx)
{
    int f = fault_of(s);
    if (f)
        return f;
    return s->ops->del(s, id, idx);
}

int shard_write_batch(struct shard_store *s, struct shard_write *w, int n)
{
    int first = 0;
    int f = fault_of(s);
    if (f) {
        for (int i = 0; i < n; i++)
            w[i].err = f;
        return n > 0 ? f : 0;
    }
    if (s->ops->write_batch)
        return s->ops->write_batch(s, w, n);
    for (int i = 0; i < n; i++) {
        if (w[i].data)
            w[i].err = s->ops->put(s, w[i].chunk_id, w[i].shard_idx, w[i].data, w[i].len);
        else
            w[i].err = s->ops->del(s, w[i].chunk_id, w[i].shard_idx);
        if (w[i].err && !first)
            first = w[i].err;
    }
    return first;
}

int shard_compact(struct shard_store *s, uint64_t *freed)
{
    *freed = 0;
    int f = fault_of(s);
    if (f)
        return f;
    return s->ops->compact ? s->ops->compact(s, freed) : 0;
}
