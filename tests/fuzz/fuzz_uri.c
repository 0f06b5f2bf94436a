/*
 * tests/fuzz/fuzz_uri.c - the percent-decoder and the query splitter, on
 * the raw bytes a client puts after '?' (and in the path).
 *
 * The whole input is used three ways:
 *   1. uri_query_parse(), checked against a straightforward model of the
 *      documented rules (split at '&', skip empty segments, split at the
 *      first '=', decode with URI_PLUS_SPACE, caps, error order) and for
 *      "on failure q is untouched";
 *   2. uri_decode() with and without URI_PLUS_SPACE: the length bound, the
 *      NUL rule, exact outcap limits, decoding in place;
 *   3. round trip: for both encode flags, decode(encode(x)) == x, with and
 *      without URI_PLUS_SPACE (the encoder never emits '+'), and the
 *      encoding holds only unreserved bytes, "%XX" with upper-case hex and,
 *      with URI_KEEP_SLASH, '/'.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/uri.h"
#include "tests/fuzz/fuzz_check.h"

static int is_upper_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* Decode in[0..len) into a fresh allocation; returns the length or the
 * error, *out malloc'd (NULL on error). */
static long decode_dup(const char *in, size_t len, int flags, char **out)
{
    char *d = malloc(len + 1);
    FUZZ_CHECK(d != NULL);
    long n = uri_decode(in, len, d, len + 1, flags);
    if (n < 0) {
        free(d);
        d = NULL;
    }
    *out = d;
    return n;
}

static void check_query(const char *raw, size_t len)
{
    struct uri_query q;
    memset(&q, 0xa5, sizeof q);
    struct uri_query before = q;
    int rc = uri_query_parse(raw, len, &q);

    /* the model */
    int want = 0;
    size_t count = 0;
    if (len > URI_QUERY_MAX_LEN)
        want = -ENOSPC;
    for (size_t pos = 0; want == 0 && pos <= len;) {
        size_t end = pos;
        while (end < len && raw[end] != '&')
            end++;
        if (end > pos) {
            if (count == URI_QUERY_MAX_PAIRS) {
                want = -ENOSPC;
                break;
            }
            size_t eq = pos;
            while (eq < end && raw[eq] != '=')
                eq++;
            char *name = NULL, *value = NULL;
            long nn = decode_dup(raw + pos, eq - pos, URI_PLUS_SPACE, &name);
            long vn = 0;
            if (nn >= 0 && eq < end)
                vn = decode_dup(raw + eq + 1, end - eq - 1, URI_PLUS_SPACE, &value);
            if (nn < 0 || vn < 0) {
                FUZZ_CHECK(nn == -EINVAL || vn == -EINVAL);
                want = -EINVAL;
            } else if (rc == 0) {
                FUZZ_CHECK(count < q.count);
                const struct uri_query_pair *p = &q.pairs[count];
                FUZZ_CHECK(p->name_len == (size_t)nn && memcmp(p->name, name, (size_t)nn) == 0);
                FUZZ_CHECK(p->name[p->name_len] == '\0');
                FUZZ_CHECK(p->has_value == (eq < end));
                if (p->has_value)
                    FUZZ_CHECK(p->value_len == (size_t)vn &&
                               memcmp(p->value, value, (size_t)vn) == 0);
                else
                    FUZZ_CHECK(p->value_len == 0);
                FUZZ_CHECK(p->value != NULL && p->value[p->value_len] == '\0');
            }
            free(name);
            free(value);
            count++;
        }
        pos = end + 1;
    }
    FUZZ_CHECK(rc == want);
    if (rc != 0) {
        FUZZ_CHECK(memcmp(&q, &before, sizeof q) == 0);
        return;
    }
    FUZZ_CHECK(q.count == count && q.count <= URI_QUERY_MAX_PAIRS);
    for (size_t i = 0; i < q.count; i++) {
        const struct uri_query_pair *p = &q.pairs[i];
        if (memchr(p->name, 0, p->name_len))
            continue;
        const struct uri_query_pair *f = uri_query_find(&q, p->name);
        FUZZ_CHECK(f != NULL && f <= p && f->name_len == p->name_len &&
                   memcmp(f->name, p->name, p->name_len) == 0);
        for (const struct uri_query_pair *e = q.pairs; e < f; e++)
            FUZZ_CHECK(!(e->name_len == p->name_len && memcmp(e->name, p->name, p->name_len) == 0));
    }
    uri_query_release(&q);
    FUZZ_CHECK(q.count == 0 && q.pairs == NULL && q.storage == NULL);
    uri_query_release(&q); /* twice is fine */
}

static void check_decode(const char *in, size_t len, int flags)
{
    char *out = malloc(len + 1);
    FUZZ_CHECK(out != NULL);
    long n = uri_decode(in, len, out, len + 1, flags);
    FUZZ_CHECK(n != -ENOSPC);
    if (n < 0) {
        FUZZ_CHECK(n == -EINVAL);
        free(out);
        return;
    }
    FUZZ_CHECK((size_t)n <= len);
    FUZZ_CHECK(out[n] == '\0');
    /* every escape turns 3 bytes into 1 */
    size_t escapes = 0;
    for (size_t i = 0; i < len; i++)
        if (in[i] == '%')
            escapes++;
    FUZZ_CHECK((size_t)n == len - 2 * escapes);

    /* exactly n bytes of room: succeeds, writes no NUL */
    char *exact = malloc((size_t)n + 1);
    FUZZ_CHECK(exact != NULL);
    exact[n] = 'Z';
    FUZZ_CHECK(uri_decode(in, len, exact, (size_t)n, flags) == n);
    FUZZ_CHECK(memcmp(exact, out, (size_t)n) == 0 && exact[n] == 'Z');
    if (n > 0)
        FUZZ_CHECK(uri_decode(in, len, exact, (size_t)n - 1, flags) == -ENOSPC);
    free(exact);

    /* in place */
    char *inplace = malloc(len + 1);
    FUZZ_CHECK(inplace != NULL);
    if (len)
        memcpy(inplace, in, len);
    FUZZ_CHECK(uri_decode(inplace, len, inplace, len + 1, flags) == n);
    FUZZ_CHECK(memcmp(inplace, out, (size_t)n) == 0);
    free(inplace);

    /* without URI_PLUS_SPACE, '+' survives; with it, no '+' is left
     * except from "%2B" */
    if (!(flags & URI_PLUS_SPACE)) {
        size_t plus_in = 0, plus_out = 0;
        for (size_t i = 0; i < len; i++)
            plus_in += in[i] == '+';
        for (long i = 0; i < n; i++)
            plus_out += out[i] == '+';
        FUZZ_CHECK(plus_out >= plus_in);
    }
    free(out);
}

static void check_round_trip(const char *x, size_t len, int flags)
{
    struct buf e;
    buf_init(&e, 3 * len + 1);
    FUZZ_CHECK(uri_encode(&e, x, len, flags) == 0);
    FUZZ_CHECK(e.data != NULL && e.data[e.len] == '\0');
    size_t want = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)x[i];
        want += (uri_is_unreserved(c) || (c == '/' && (flags & URI_KEEP_SLASH))) ? 1 : 3;
    }
    FUZZ_CHECK(e.len == want);
    for (size_t i = 0; i < e.len; i++) {
        char c = e.data[i];
        if (c == '%') {
            FUZZ_CHECK(i + 2 < e.len && is_upper_hex(e.data[i + 1]) && is_upper_hex(e.data[i + 2]));
            /* only bytes that must be escaped are */
            unsigned v = (unsigned)strtoul((char[]){e.data[i + 1], e.data[i + 2], 0}, NULL, 16);
            FUZZ_CHECK(!uri_is_unreserved((unsigned char)v));
            FUZZ_CHECK(!(v == '/' && (flags & URI_KEEP_SLASH)));
            i += 2;
        } else {
            FUZZ_CHECK(uri_is_unreserved((unsigned char)c) || (c == '/' && (flags & URI_KEEP_SLASH)));
        }
    }
    for (int df = 0; df <= URI_PLUS_SPACE; df += URI_PLUS_SPACE) {
        char *d = malloc(e.len + 1);
        FUZZ_CHECK(d != NULL);
        long n = uri_decode(e.data, e.len, d, e.len + 1, df);
        FUZZ_CHECK(n >= 0 && (size_t)n == len && memcmp(d, x, len) == 0);
        free(d);
    }
    /* a cap one byte short fails with -ENOSPC */
    if (e.len > 0) {
        struct buf small;
        buf_init(&small, e.len - 1);
        FUZZ_CHECK(uri_encode(&small, x, len, flags) == -ENOSPC);
        FUZZ_CHECK(small.len <= e.len - 1);
        buf_release(&small);
    }
    buf_release(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy so that reads past the end are caught at the exact
     * byte (libFuzzer's own buffer is exact too, but const) */
    char *in = malloc(size ? size : 1);
    FUZZ_CHECK(in != NULL);
    if (size)
        memcpy(in, data, size);

    check_query(size ? in : NULL, size);
    check_decode(in, size, 0);
    check_decode(in, size, URI_PLUS_SPACE);
    check_round_trip(in, size, 0);
    check_round_trip(in, size, URI_KEEP_SLASH);

    free(in);
    return 0;
}
