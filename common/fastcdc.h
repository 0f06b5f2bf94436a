/*
 * common/fastcdc.h - FastCDC content-defined chunking.
 *
 * Cuts a byte stream into chunks whose boundaries depend on the content
 * (a gear rolling hash over the last 64 bytes), so an insertion or deletion
 * changes only the chunks around it and every other chunk keeps its bytes,
 * hence its SHA-256 id: dedup works across versions, objects and the sync
 * client.  The server (PUT bodies) and cairn-sync (local files) use this
 * same code.
 *
 * ON-DISK FORMAT: the gear table, the mask construction, the cut rule and
 * the default parameters below decide where every stored chunk ends.  They
 * are frozen: changing any of them gives different chunk ids for the same
 * data, so new uploads would stop deduplicating against everything already
 * stored (nothing breaks, but every byte is stored again).  The exact rule
 * is written down in docs/chunking.md and pinned by golden values in
 * tests/unit/test_common_fastcdc.c.
 *
 * Cut rule (normalized chunking, level 2), for a chunk starting at data[0]:
 *   - the hash is h = (h << 1) + gear[byte] (mod 2^64), started at 0 at
 *     offset min_size - 64, so that from the first place a cut may happen
 *     on it depends only on the last 64 bytes, never on where the chunk
 *     began;
 *   - after byte i (chunk length L = i + 1, L >= min_size), the chunk ends
 *     if (h & mask) == 0, where mask is mask_s while L <= avg_size and
 *     mask_l after that;
 *   - a chunk never exceeds max_size: at max_size it is cut regardless;
 *   - only the last chunk of a stream may be shorter than min_size.
 *
 * Thread rules: struct cdc_params is read-only after init and may be
 * shared by any number of threads.  A struct cdc_stream belongs to one
 * thread at a time.  cdc_next_cut() is reentrant.
 */
#ifndef CAIRN_COMMON_FASTCDC_H
#define CAIRN_COMMON_FASTCDC_H

#include <stddef.h>
#include <stdint.h>

/* The defaults: part of the on-disk format (see above) and advertised to
 * sync clients. */
#define CDC_MIN (256u * 1024)
#define CDC_AVG (1024u * 1024)
#define CDC_MAX (4u * 1024 * 1024)

/* Limits cdc_params_init() accepts (not format: any valid triple works, but
 * chunks cut with other parameters will not dedup with default ones). */
#define CDC_MIN_LIMIT 64u                  /* smallest min_size */
#define CDC_MAX_LIMIT (256u * 1024 * 1024) /* largest max_size (buffer size) */

struct cdc_params {
    uint32_t min_size; /* no chunk shorter than this (except the last) */
    uint32_t avg_size; /* power of two; where the mask switches s -> l */
    uint32_t max_size; /* forced cut at this length */
    uint64_t mask_s;   /* log2(avg)+2 bits: used while length <= avg */
    uint64_t mask_l;   /* log2(avg)-2 bits: used after */
};

/*
 * Fill p for the given sizes.  Requirements: CDC_MIN_LIMIT <= min < avg <
 * max <= CDC_MAX_LIMIT and avg a power of two.  The masks get their bits
 * spread evenly over bits 16..63 of the word (see docs/chunking.md for the
 * exact positions).  Returns 0, or -EINVAL (p untouched).
 */
int cdc_params_init(struct cdc_params *p, uint32_t min, uint32_t avg, uint32_t max);

/* Fill p with the defaults CDC_MIN, CDC_AVG, CDC_MAX. */
void cdc_params_default(struct cdc_params *p);

/*
 * Length of the first chunk of data[0..len).
 *   - len >= max_size: always returns a cut in [min_size, max_size].
 *   - otherwise, if a cut point is found it is returned; if not, returns
 *     len when eof is non-zero (the tail of the stream; 0 if len is 0), and
 *     0 when eof is zero, meaning "give me more bytes" (then call again with
 *     the same start and more bytes; see cdc_stream for a helper that does
 *     not rescan what it already saw).
 * data is borrowed for the duration of the call.
 */
size_t cdc_next_cut(const struct cdc_params *p, const uint8_t *data, size_t len, int eof);

/*
 * Streaming chunker for data that arrives in pieces (PUT bodies, file
 * reads).
 *
 * Calling sequence: cdc_stream_init(), then cdc_stream_feed() any number
 * of times, then cdc_stream_finish() (emits the tail; the stream is then
 * empty and may be fed again for a new stream), and cdc_stream_release()
 * once at the end (also valid without finish, to abandon a stream).
 *
 * emit(arg, chunk, len) is called once per chunk, in order.  chunk is
 * borrowed: it points into the caller's piece or into the stream's buffer
 * and is valid only during the call.  emit returns 0 to go on; any other
 * value stops feed/finish, which return it.  After any non-zero return the
 * stream is poisoned: every later feed/finish returns the same value; only
 * release is useful.
 *
 * The pieces fed may have any sizes (including 0); the chunks are the same
 * as cdc_next_cut() applied to the concatenation.  The stream keeps one
 * buffer of max_size bytes, mapped on first need (a stream that never
 * gets data allocates nothing), and copies into it only the bytes of an
 * unfinished chunk; when it has nothing buffered it cuts straight from the
 * caller's piece.  Between chunks the buffer's pages stay resident while
 * all streams of the process together keep under 64 MiB; beyond that they
 * go back to the kernel after each chunk, so many idle or slow streams
 * hold only their partial chunks.  Thread-safe across streams (one stream
 * is used by one thread at a time).
 */
struct cdc_stream {
    struct cdc_params params; /* copy */
    uint8_t *buf;             /* max_size bytes, NULL until needed */
    size_t len;               /* bytes buffered: the start of the next
                                 chunk, holding no cut point (< max_size) */
    int err;                  /* sticky: first non-zero result */
    size_t kept;              /* buffer bytes counted as kept resident */
};

/* Set up s with a copy of params (which must have come from
 * cdc_params_init or cdc_params_default).  Allocates nothing. */
void cdc_stream_init(struct cdc_stream *s, const struct cdc_params *params);

/* Feed n bytes (borrowed for the call).  Returns 0, -ENOMEM (buffer
 * allocation), or emit's non-zero value. */
int cdc_stream_feed(struct cdc_stream *s, const uint8_t *p, size_t n,
                    int (*emit)(void *arg, const uint8_t *chunk, size_t len), void *arg);

/* End of the stream: emit what is buffered as the last chunk (nothing for
 * an empty stream).  Returns 0 or emit's non-zero value.  On 0 the stream is
 * empty again (its buffer kept for reuse). */
int cdc_stream_finish(struct cdc_stream *s,
                      int (*emit)(void *arg, const uint8_t *chunk, size_t len), void *arg);

/* Free the buffer.  Safe to call twice. */
void cdc_stream_release(struct cdc_stream *s);

/* The gear table (read-only; exposed so the test can check it against the
 * generating procedure in docs/chunking.md). */
extern const uint64_t cdc_gear[256];

#endif
