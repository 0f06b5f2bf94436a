/* common/uri.c - SigV4 percent-encoding and the query splitter. */
#include "common/uri.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int uri_is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

int uri_encode(struct buf *out, const char *in, size_t len, int flags)
{
    static const char hexdigits[] = "0123456789ABCDEF";
    size_t i = 0;
    while (i < len) {
        /* copy the longest run of bytes that stay as they are in one append */
        size_t run = i;
        while (run < len && (uri_is_unreserved((unsigned char)in[run]) ||
                             (in[run] == '/' && (flags & URI_KEEP_SLASH))))
            run++;
        if (run > i) {
            int rc = buf_append(out, in + i, run - i);
            if (rc < 0)
                return rc;
            i = run;
            continue;
        }
        unsigned char c = (unsigned char)in[i++];
        char esc[3] = {'%', hexdigits[c >> 4], hexdigits[c & 0xf]};
        int rc = buf_append(out, esc, 3);
        if (rc < 0)
            return rc;
    }
    /* an empty input still leaves out a valid (possibly empty) C string */
    if (len == 0 && out->data == NULL)
        return buf_append(out, "", 0);
    return 0;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long uri_decode(const char *in, size_t len, char *out, size_t outcap, int flags)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (len - i < 3)
                return -EINVAL;
            int hi = hexval((unsigned char)in[i + 1]);
            int lo = hexval((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && (flags & URI_PLUS_SPACE)) {
            c = ' ';
        }
        if (o >= outcap)
            return -ENOSPC;
        out[o++] = (char)c;
    }
    if (o < outcap)
        out[o] = '\0';
    return (long)o;
}

int uri_query_parse(const char *raw, size_t len, struct uri_query *q)
{
    struct uri_query_pair *pairs = NULL;
    char *storage = NULL;
    size_t count = 0;
    int rc = 0;

    if (len > URI_QUERY_MAX_LEN)
        return -ENOSPC;
    /* A decoded string is never longer than its raw form; add one NUL for
     * the name and one for the value of every segment. */
    size_t segments = 1;
    for (size_t i = 0; i < len; i++)
        if (raw[i] == '&')
            segments++;

    storage = malloc(len + 2 * segments + 1);
    pairs = calloc(segments < URI_QUERY_MAX_PAIRS ? segments : URI_QUERY_MAX_PAIRS,
                   sizeof *pairs);
    if (!storage || !pairs) {
        rc = -ENOMEM;
        goto out;
    }

    size_t pos = 0, used = 0;
    while (pos <= len) {
        size_t end = pos;
        while (end < len && raw[end] != '&')
            end++;
        if (end > pos) {
            if (count == URI_QUERY_MAX_PAIRS) {
                rc = -ENOSPC;
                goto out;
            }
            size_t eq = pos;
            while (eq < end && raw[eq] != '=')
                eq++;
            struct uri_query_pair *p = &pairs[count];
            long n = uri_decode(raw + pos, eq - pos, storage + used, eq - pos + 1, URI_PLUS_SPACE);
            if (n < 0) {
                rc = (int)n;
                goto out;
            }
            p->name = storage + used;
            p->name_len = (size_t)n;
            used += (size_t)n + 1;
            if (eq < end) {
                size_t vlen = end - eq - 1;
                n = uri_decode(raw + eq + 1, vlen, storage + used, vlen + 1, URI_PLUS_SPACE);
                if (n < 0) {
                    rc = (int)n;
                    goto out;
                }
                p->value = storage + used;
                p->value_len = (size_t)n;
                p->has_value = 1;
                used += (size_t)n + 1;
            } else {
                storage[used] = '\0';
                p->value = storage + used;
                p->value_len = 0;
                p->has_value = 0;
                used += 1;
            }
            count++;
        }
        pos = end + 1;
    }

    q->pairs = pairs;
    q->count = count;
    q->storage = storage;
    pairs = NULL;
    storage = NULL;
out:
    free(pairs);
    free(storage);
    return rc;
}

const struct uri_query_pair *uri_query_find(const struct uri_query *q, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < q->count; i++)
        if (q->pairs[i].name_len == nlen && memcmp(q->pairs[i].name, name, nlen) == 0)
            return &q->pairs[i];
    return NULL;
}

void uri_query_release(struct uri_query *q)
{
    free(q->pairs);
    free(q->storage);
    q->pairs = NULL;
    q->storage = NULL;
    q->count = 0;
}
