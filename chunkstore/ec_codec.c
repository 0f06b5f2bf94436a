/*
 * chunkstore/ec_codec.c - Reed-Solomon k+m over GF(2^8) with isa-l.
 *
 * The generator is isa-l's systematic Cauchy matrix: rows 0..k-1 are the
 * identity (data shards are the chunk's bytes), rows k..k+m-1 give the
 * parity.  Every k x k submatrix of it is invertible, so any k surviving
 * shards rebuild the rest.  The matrix is part of the on-disk format: a
 * parity shard written today must decode with tomorrow's build.
 *
 * A codec is immutable after ec_codec_new(), so one codec serves any number
 * of threads; reconstruct keeps its scratch on the stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/erasure_code.h>

#include "chunkstore/chunkstore.h"

struct ec_codec {
    int k, m;
    unsigned char matrix[CS_MAX_SHARDS * CS_MAX_SHARDS]; /* (k+m) x k */
    unsigned char *enc_tables;                           /* 32*k*m, m > 0 */
};

struct ec_codec *ec_codec_new(int k, int m)
{
    struct ec_codec *c = NULL;
    if (k < 1 || m < 0 || k + m > CS_MAX_SHARDS)
        return NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->k = k;
    c->m = m;
    gf_gen_cauchy1_matrix(c->matrix, k + m, k);
    if (m > 0) {
        c->enc_tables = malloc((size_t)32 * k * m);
        if (!c->enc_tables) {
            free(c);
            return NULL;
        }
        ec_init_tables(k, m, c->matrix + k * k, c->enc_tables);
    }
    return c;
}

void ec_codec_free(struct ec_codec *c)
{
    if (!c)
        return;
    free(c->enc_tables);
    free(c);
}

void ec_codec_encode(struct ec_codec *c, size_t shard_len, uint8_t **data,
                     uint8_t **parity)
{
    if (c->m == 0 || shard_len == 0)
        return;
    ec_encode_data((int)shard_len, c->k, c->m, c->enc_tables, data, parity);
}

int ec_codec_reconstruct(struct ec_codec *c, size_t shard_len, uint8_t **shards,
                         const uint8_t *present)
{
    const int k = c->k, n = c->k + c->m;
    int src_rows[CS_MAX_SHARDS], lost_rows[CS_MAX_SHARDS];
    int nsrc = 0, nlost = 0;
    unsigned char sub[CS_MAX_SHARDS * CS_MAX_SHARDS];
    unsigned char inv[CS_MAX_SHARDS * CS_MAX_SHARDS];
    unsigned char dec[CS_MAX_SHARDS * CS_MAX_SHARDS];
    unsigned char tables[32 * CS_MAX_SHARDS * CS_MAX_SHARDS] __attribute__((aligned(64)));
    uint8_t *src[CS_MAX_SHARDS], *dst[CS_MAX_SHARDS];

    for (int i = 0; i < n; i++) {
        if (present[i]) {
            if (nsrc < k)
                src_rows[nsrc++] = i;
        } else {
            lost_rows[nlost++] = i;
        }
    }
    if (nsrc < k)
        return CS_EUNAVAIL;
    if (nlost == 0 || shard_len == 0)
        return 0;

    /* The k survivors are (rows src_rows of the generator) x data; invert
     * that submatrix to get data = inv x survivors. */
    for (int r = 0; r < k; r++)
        memcpy(sub + r * k, c->matrix + src_rows[r] * k, (size_t)k);
    if (gf_invert_matrix(sub, inv, k) != 0)
        return CS_EUNAVAIL; /* cannot happen with a Cauchy generator */

    /* A lost data row is its row of inv; a lost parity row is its
     * generator row times inv. */
    for (int l = 0; l < nlost; l++) {
        int row = lost_rows[l];
        unsigned char *out = dec + l * k;
        if (row < k) {
            memcpy(out, inv + row * k, (size_t)k);
        } else {
            const unsigned char *g = c->matrix + row * k;
            for (int j = 0; j < k; j++) {
                unsigned char acc = 0;
                for (int t = 0; t < k; t++)
                    acc ^= gf_mul(g[t], inv[t * k + j]);
                out[j] = acc;
            }
        }
        dst[l] = shards[row];
    }
    for (int r = 0; r < k; r++)
        src[r] = shards[src_rows[r]];
    ec_init_tables(k, nlost, dec, tables);
    ec_encode_data((int)shard_len, k, nlost, tables, src, dst);
    return 0;
}
