/*
 * common/bufpool.h - a small pool of same-sized, 64-byte aligned buffers.
 *
 * For buffers that are big (hundreds of KiB to MiB) and used briefly but
 * often: erasure-coding shards, a reader's chunk.  malloc serves those with
 * fresh mappings, so every use page-faults the buffer in again, and on this
 * kind of machine first touches cost more than the work done in the buffer.
 * A pool hands back buffers already resident.  It keeps at most `keep` idle
 * buffers; more may be out at once (they are allocated then, and freed
 * when returned to a full pool), so the pool never blocks.
 *
 * Calling sequence: bufpool_new() -> bufpool_get()/bufpool_put() from any
 * threads -> bufpool_free() once nothing is out.
 */
#ifndef CAIRN_COMMON_BUFPOOL_H
#define CAIRN_COMMON_BUFPOOL_H

#include <stddef.h>

struct bufpool;

/* A pool of buffers of size bytes keeping up to keep idle.  Owned; NULL if
 * out of memory. */
struct bufpool *bufpool_new(size_t size, unsigned keep);

/* A buffer of the pool's size (contents undefined), owned by the caller
 * until bufpool_put().  NULL if out of memory.  Thread-safe. */
void *bufpool_get(struct bufpool *p);

/* Give back a buffer from bufpool_get() of the same pool (NULL ok).
 * Thread-safe. */
void bufpool_put(struct bufpool *p, void *buf);

/* The pool's buffer size. */
size_t bufpool_size(const struct bufpool *p);

/* Free the pool and its idle buffers.  NULL ok. */
void bufpool_free(struct bufpool *p);

#endif
