/*
 * common/md5.h - MD5 for ETags, with many streams hashed at once.
 *
 * An S3 PUT's ETag is the MD5 of its body, and MD5 cannot be parallelised
 * within one stream: one core hashes about 0.7 GB/s, which made MD5 the
 * largest single cost of a large PUT.  Concurrent uploads are independent
 * streams, though, and a CPU with AVX-512 can run sixteen MD5s side by
 * side, one per 32-bit lane, at several times the throughput of one.
 *
 * So a large md5_update() does not hash on its own: it queues its whole
 * blocks for a shared set of sixteen lanes and waits.  Whichever waiting
 * thread holds the combiner role runs the lanes over every queued stream,
 * a slice at a time, and hands the role to another waiter once its own
 * blocks are done (so no thread works for others past its own request).
 * With one stream alone the combiner uses the scalar code, which is faster
 * for one lane; without AVX-512 every update is scalar.  Results are
 * identical either way (tested against OpenSSL).  No Debian library
 * hashes many MD5 streams at once (OpenSSL does one; libipsec-mb's MD5 is
 * HMAC over whole messages), hence this file.
 *
 * Calling sequence: md5_init(), md5_update() any number of times,
 * md5_final() once.  A struct md5_ctx holds no resources (no release).
 *
 * Thread rules: a context belongs to one thread at a time; any number of
 * threads may update their own contexts at once (that is the point).
 */
#ifndef CAIRN_COMMON_MD5_H
#define CAIRN_COMMON_MD5_H

#include <stddef.h>
#include <stdint.h>

struct md5_ctx {
    uint32_t h[4];
    uint64_t len;     /* bytes hashed so far */
    uint8_t buf[64];  /* the partial block: len % 64 bytes */
};

void md5_init(struct md5_ctx *c);
/* Hash len more bytes of data (borrowed for the call only). */
void md5_update(struct md5_ctx *c, const void *data, size_t len);
/* Write the 16-byte digest; c must be initialised again before reuse. */
void md5_final(struct md5_ctx *c, uint8_t out[16]);

/* ---- Internals, exposed for tests and the bench tool ---------------- */

/* Whether the sixteen-lane kernel can run on this CPU (AVX-512F). */
int md5_lanes_available(void);

/* Force the scalar path (on = 1) or restore the default (on = 0), for
 * comparisons in the same process.  Not for use while hashing. */
void md5_force_scalar(int on);

/* Run the sixteen-lane kernel directly: for every lane i, hash nblocks
 * 64-byte blocks from p[i] into state h[i] (A, B, C, D).  Every p[i] must
 * point at nblocks * 64 readable bytes.  Only when md5_lanes_available(). */
void md5_x16_blocks(uint32_t h[16][4], const uint8_t *const p[16], size_t nblocks);

/* Counters since start: large updates that went through the shared lanes
 * and that hashed on their own; slices run by the sixteen-lane kernel and
 * the lanes they carried in all (lanes / lane_slices is the mean
 * occupancy); slices a combiner ran with the scalar code. */
struct md5_stats {
    uint64_t shared_updates, solo_updates, lane_slices, lanes, scalar_slices;
};
void md5_stats_get(struct md5_stats *out);

#endif
