/*
 * chunkstore/placement.c - rendezvous (highest random weight) placement.
 *
 * Every store gets a score = hash64(chunk id, store index); a chunk's k+m
 * shards go to the k+m highest-scoring stores, shard 0 on the highest.
 * Adding a store only moves the chunks for which the new store now makes
 * the top k+m; removing one only moves the chunks it held.  Placements are
 * recorded with each chunk, so the hash only has to be stable for the
 * rebalancer's sake; still, treat it as part of the format.
 */
#include <string.h>

#include "chunkstore/chunkstore.h"

/* Finaliser of SplitMix64: a bijection with full avalanche. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t place_score(const uint8_t id[CHUNK_ID_LEN], unsigned store)
{
    uint64_t h = mix64((uint64_t)store + 0x9e3779b97f4a7c15ull);
    for (int w = 0; w < CHUNK_ID_LEN / 8; w++) {
        uint64_t v = 0;
        for (int b = 0; b < 8; b++)
            v |= (uint64_t)id[w * 8 + b] << (8 * b);
        h = mix64(h ^ v) + 0x9e3779b97f4a7c15ull;
    }
    return mix64(h);
}

void cs_place(const struct chunkstore *cs, const uint8_t id[CHUNK_ID_LEN],
              struct cs_placement *out)
{
    const int k = cs_k(cs), m = cs_m(cs), n = cs_nstores(cs), want = k + m;
    uint64_t best_score[CS_MAX_SHARDS];
    uint16_t best[CS_MAX_SHARDS];
    int have = 0;

    /* Keep the top `want` in a small array sorted by descending score (ties
     * to the lower index, which comes first).  n can be large; want <= 32. */
    for (int s = 0; s < n; s++) {
        uint64_t sc = place_score(id, (unsigned)s);
        if (have == want && sc <= best_score[have - 1])
            continue;
        int pos = have < want ? have++ : want - 1;
        while (pos > 0 && best_score[pos - 1] < sc) {
            best_score[pos] = best_score[pos - 1];
            best[pos] = best[pos - 1];
            pos--;
        }
        best_score[pos] = sc;
        best[pos] = (uint16_t)s;
    }
    memset(out, 0, sizeof *out); /* padding too: placements compare by bytes */
    out->k = (uint8_t)k;
    out->m = (uint8_t)m;
    for (int i = 0; i < CS_MAX_SHARDS; i++)
        out->drive[i] = i < want ? best[i] : 0;
}
