/*
 * tests/fuzz/fuzz_fastcdc.c - the streaming chunker against the one-shot
 * cut function: whatever the piece sizes, cdc_stream_feed/finish emit
 * exactly the chunks that cdc_next_cut gives on the whole data.
 *
 * Input layout:
 *   b0   parameters: 0xff = the defaults (CDC_MIN/AVG/MAX); otherwise
 *        avg = 128 << (b0 & 7), min = avg >> (1 + (b0 >> 3 & 3)) (at least
 *        CDC_MIN_LIMIT), max = avg * (2 + (b0 >> 5 & 3)).  Small sizes so
 *        that a fuzz input holds many chunks; avg >= 4096 makes max a
 *        whole number of pages, so the stream's mmap'd buffer ends at a
 *        page boundary and a read past it faults.
 *   b1..b3  piece sizes of the first pass: byte * 7 (0 is a valid, empty
 *        feed);
 *   b4   the second pass reuses the same stream (after finish) with pieces
 *        of b4 * 13 + 1 bytes; if b4 & 0x80, emit fails at chunk b4 & 7 of
 *        that pass instead, and the error must stick;
 *   the rest is the data.
 * Also checked: the one-shot cuts obey the documented bounds (every chunk
 * <= max, all but the last >= min, eof = 0 answers "need more" only below
 * max), and cdc_params_init on a triple taken from the data accepts it
 * exactly when the documented requirements hold, with the documented mask
 * bit counts.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/fastcdc.h"
#include "tests/fuzz/fuzz_check.h"

struct expect {
    const uint8_t *data;
    size_t len;
    const size_t *cuts;
    size_t ncuts;
    size_t next;   /* index of the next expected chunk */
    size_t off;    /* its offset in data */
    size_t fail_at; /* emit returns an error at this chunk; SIZE_MAX: never */
};

#define EMIT_FAILED 42

static int emit_check(void *arg, const uint8_t *chunk, size_t len)
{
    struct expect *e = arg;
    FUZZ_CHECK(e->next < e->ncuts);
    FUZZ_CHECK(len == e->cuts[e->next]);
    FUZZ_CHECK(e->off + len <= e->len);
    FUZZ_CHECK(memcmp(chunk, e->data + e->off, len) == 0);
    if (e->next == e->fail_at)
        return EMIT_FAILED;
    e->next++;
    e->off += len;
    return 0;
}

static int popcount64(uint64_t v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static int log2u(uint32_t v)
{
    int n = 0;
    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

static void check_params_init(const uint8_t *b, size_t n)
{
    if (n < 12)
        return;
    uint32_t v[3];
    memcpy(v, b, sizeof v);
    /* keep the numbers near the interesting range */
    uint32_t min = v[0] % (CDC_MAX_LIMIT + 2), avg = v[1], max = v[2] % (CDC_MAX_LIMIT + 2);
    avg = (avg & 0x100) ? (1u << (avg % 32)) : avg % (CDC_MAX_LIMIT + 2);
    struct cdc_params p, before;
    memset(&p, 0x5a, sizeof p);
    before = p;
    int rc = cdc_params_init(&p, min, avg, max);
    int valid = CDC_MIN_LIMIT <= min && min < avg && avg < max && max <= CDC_MAX_LIMIT &&
                (avg & (avg - 1)) == 0;
    if (!valid) {
        FUZZ_CHECK(rc == -EINVAL);
        FUZZ_CHECK(memcmp(&p, &before, sizeof p) == 0);
        return;
    }
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(p.min_size == min && p.avg_size == avg && p.max_size == max);
    int bits = log2u(avg);
    FUZZ_CHECK(popcount64(p.mask_s) == bits + 2);
    FUZZ_CHECK(popcount64(p.mask_l) == bits - 2);
    FUZZ_CHECK((p.mask_s & 0xffff) == 0 && (p.mask_l & 0xffff) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 5)
        return 0;
    struct cdc_params p;
    uint8_t b0 = in[0];
    if (b0 == 0xff) {
        cdc_params_default(&p);
    } else {
        uint32_t avg = 128u << (b0 & 7);
        uint32_t min = avg >> (1 + (b0 >> 3 & 3));
        if (min < CDC_MIN_LIMIT)
            min = CDC_MIN_LIMIT;
        uint32_t max = avg * (2 + (b0 >> 5 & 3));
        FUZZ_CHECK(cdc_params_init(&p, min, avg, max) == 0);
    }
    size_t steps[3] = {(size_t)in[1] * 7, (size_t)in[2] * 7, (size_t)in[3] * 7};
    uint8_t b4 = in[4];
    const uint8_t *data = in + 5;
    size_t len = size - 5;
    check_params_init(data, len);

    /* exact-size copy so that ASan catches any read past the data */
    uint8_t *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL);
    if (len)
        memcpy(copy, data, len);
    data = copy;

    /* the reference: one-shot cuts over the whole data */
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    FUZZ_CHECK(cuts != NULL);
    size_t ncuts = 0;
    for (size_t off = 0; off < len;) {
        size_t left = len - off;
        size_t c = cdc_next_cut(&p, data + off, left, 1);
        FUZZ_CHECK(c > 0 && c <= left && c <= p.max_size);
        if (c < left)
            FUZZ_CHECK(c >= p.min_size);
        size_t c0 = cdc_next_cut(&p, data + off, left, 0);
        if (c0)
            FUZZ_CHECK(c0 == c);
        else
            FUZZ_CHECK(left < p.max_size && c == left);
        cuts[ncuts++] = c;
        off += c;
    }
    FUZZ_CHECK(cdc_next_cut(&p, data, 0, 1) == 0);
    FUZZ_CHECK(cdc_next_cut(&p, data, 0, 0) == 0);

    struct cdc_stream s;
    cdc_stream_init(&s, &p);

    /* pass 1: pieces cycling through steps[] (a zero step is an empty feed;
     * three zeros would never advance, so then the rest goes at once) */
    struct expect e = {.data = data, .len = len, .cuts = cuts, .ncuts = ncuts, .fail_at = SIZE_MAX};
    size_t pos = 0, k = 0, zeros = 0;
    while (pos < len) {
        size_t n = steps[k++ % 3];
        if (n == 0 && ++zeros > 3)
            n = len - pos;
        if (n > len - pos)
            n = len - pos;
        FUZZ_CHECK(cdc_stream_feed(&s, data + pos, n, emit_check, &e) == 0);
        pos += n;
        FUZZ_CHECK(s.len < p.max_size);
    }
    FUZZ_CHECK(cdc_stream_finish(&s, emit_check, &e) == 0);
    FUZZ_CHECK(e.next == ncuts && e.off == len);
    FUZZ_CHECK(s.len == 0);
    /* finishing an empty stream emits nothing */
    FUZZ_CHECK(cdc_stream_finish(&s, emit_check, &e) == 0);

    /* pass 2: the same stream again, fixed pieces, maybe a failing emit */
    struct expect e2 = {.data = data, .len = len, .cuts = cuts, .ncuts = ncuts, .fail_at = SIZE_MAX};
    if (b4 & 0x80)
        e2.fail_at = b4 & 7;
    size_t step = (size_t)b4 * 13 + 1;
    int rc = 0;
    for (pos = 0; rc == 0 && pos < len; pos += step) {
        size_t n = step < len - pos ? step : len - pos;
        rc = cdc_stream_feed(&s, data + pos, n, emit_check, &e2);
    }
    if (rc == 0)
        rc = cdc_stream_finish(&s, emit_check, &e2);
    if (e2.fail_at < ncuts) {
        FUZZ_CHECK(rc == EMIT_FAILED && e2.next == e2.fail_at);
        /* poisoned: both calls repeat the error, emit is not called */
        uint8_t byte = 0;
        FUZZ_CHECK(cdc_stream_feed(&s, &byte, 1, emit_check, &e2) == EMIT_FAILED);
        FUZZ_CHECK(cdc_stream_finish(&s, emit_check, &e2) == EMIT_FAILED);
        FUZZ_CHECK(e2.next == e2.fail_at);
    } else {
        FUZZ_CHECK(rc == 0 && e2.next == ncuts && e2.off == len);
    }
    cdc_stream_release(&s);
    cdc_stream_release(&s); /* twice is fine */
    free(cuts);
    free(copy);
    return 0;
}
