/*
 * gateway/s3_attrs.c - the headers an object keeps.
 *
 * An object's attrs blob (opaque to the metadata layer) is a sequence of
 * "name\0value\0" pairs with lower-case names: the standard headers S3
 * stores (Content-Type, Cache-Control, Content-Disposition,
 * Content-Encoding, Content-Language, Expires), every x-amz-meta-* header,
 * x-amz-checksum-<alg> values (base64) with x-amz-checksum-type, and
 * cairn's own "x-cairn-*" entries, which are never sent as headers (the
 * part sizes of a multipart object, S3_ATTR_PART_SIZES; the tags,
 * S3_ATTR_TAGS, sent as their count x-amz-tagging-count).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/s3_internal.h"

static const char *const stored_headers[] = {
    "content-type", "cache-control", "content-disposition", "content-encoding",
    "content-language", "expires", NULL,
};

struct attrs_ctx {
    struct s3_req *r;
    struct buf *out;
    size_t meta_bytes;
    int err;
};

int s3_attrs_add(struct buf *out, const char *name, const char *value)
{
    char lname[256];
    size_t n = strlen(name), before = out->len;
    if (n >= sizeof lname)
        return -ENAMETOOLONG;
    for (size_t i = 0; i <= n; i++)
        lname[i] = (char)tolower((unsigned char)name[i]);
    int rc = buf_append(out, lname, n + 1);
    if (rc == 0 && (rc = buf_append(out, value, strlen(value) + 1)) != 0)
        out->len = before;
    return rc;
}

/* Content-Encoding without the aws-chunked framing token, which describes
 * the request body, not the object. */
static void strip_aws_chunked(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = in;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        size_t tl = len;
        while (tl && p[tl - 1] == ' ')
            tl--;
        if (tl && !(tl == 11 && strncasecmp(p, "aws-chunked", 11) == 0) && o + tl + 2 < cap) {
            if (o) {
                out[o++] = ',';
            }
            memcpy(out + o, p, tl);
            o += tl;
        }
        p += len;
    }
    out[o] = 0;
}

static enum MHD_Result collect_meta(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct attrs_ctx *c = cls;
    (void)kind;
    if (strncasecmp(key, "x-amz-meta-", 11) != 0)
        return MHD_YES;
    c->meta_bytes += strlen(key) - 11 + strlen(value ? value : "");
    if (c->meta_bytes > S3_MAX_USER_META || s3_attrs_add(c->out, key, value ? value : "") != 0) {
        c->err = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

int s3_attrs_from_request_or_reply(struct s3_req *r, struct buf *out)
{
    struct attrs_ctx c = {r, out, 0, 0};
    for (int i = 0; stored_headers[i]; i++) {
        const char *v = s3_header(r, stored_headers[i]);
        if (!v)
            continue;
        if (strcmp(stored_headers[i], "content-encoding") == 0) {
            char enc[256];
            strip_aws_chunked(v, enc, sizeof enc);
            if (!enc[0])
                continue;
            s3_attrs_add(out, "content-encoding", enc);
            continue;
        }
        if (s3_attrs_add(out, stored_headers[i], v) != 0)
            c.err = 1;
    }
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_meta, &c);
    if (c.err) {
        s3_reply_error(r, S3E_METADATA_TOO_LARGE,
                       "Your metadata headers exceed the maximum allowed metadata size (2 KB).");
        return -1;
    }
    return s3_acl_apply_or_reply(r, out);
}

int s3_attrs_from_fields_or_reply(struct s3_req *r, const uint8_t *fields, uint32_t len,
                                  struct buf *out)
{
    const char *n, *v;
    size_t meta_bytes = 0;
    int err = 0;
    for (uint32_t pos = 0; !err && s3_attrs_next(fields, len, &pos, &n, &v);) {
        int stored = strncmp(n, "x-amz-meta-", 11) == 0;
        if (stored)
            meta_bytes += strlen(n) - 11 + strlen(v);
        for (int i = 0; !stored && stored_headers[i]; i++)
            stored = strcmp(n, stored_headers[i]) == 0;
        if (stored && (meta_bytes > S3_MAX_USER_META || s3_attrs_add(out, n, v) != 0))
            err = 1;
    }
    if (err) {
        s3_reply_error(r, S3E_METADATA_TOO_LARGE,
                       "Your metadata headers exceed the maximum allowed metadata size (2 KB).");
        return -1;
    }
    return 0;
}

int s3_attrs_next(const uint8_t *attrs, uint32_t len, uint32_t *pos, const char **name,
                  const char **value)
{
    const char *p = (const char *)attrs + *pos, *end = (const char *)attrs + len;
    const char *n_end = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
    const char *v = n_end ? n_end + 1 : NULL;
    const char *v_end = v && v < end ? memchr(v, 0, (size_t)(end - v)) : NULL;
    if (!v_end)
        return 0; /* the end, or a torn last entry */
    *name = p;
    *value = v;
    *pos = (uint32_t)(v_end + 1 - (const char *)attrs);
    return 1;
}

const char *s3_attrs_get(const uint8_t *attrs, uint32_t len, const char *name)
{
    const char *n, *v;
    for (uint32_t pos = 0; s3_attrs_next(attrs, len, &pos, &n, &v);)
        if (strcmp(n, name) == 0)
            return v;
    return NULL;
}

int s3_attrs_copy(const uint8_t *attrs, uint32_t len, const char *prefix, int keep,
                  struct buf *out)
{
    const char *n, *v;
    size_t pl = strlen(prefix);
    for (uint32_t pos = 0, at = 0; s3_attrs_next(attrs, len, &pos, &n, &v); at = pos) {
        int rc = 0;
        if ((strncmp(n, prefix, pl) == 0) == (keep != 0))
            rc = buf_append(out, attrs + at, pos - at);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- part sizes ------------------------------------------------------ */

static int append_run(struct buf *b, uint64_t size, size_t count)
{
    const char *sep = b->len ? "," : "";
    if (count == 1)
        return buf_printf(b, "%s%" PRIu64, sep, size);
    return buf_printf(b, "%s%" PRIu64 "*%zu", sep, size, count);
}

int s3_attrs_add_part_sizes(struct buf *attrs, const uint64_t *sizes, size_t n)
{
    struct buf list;
    int rc = 0;
    buf_init(&list, S3_PART_SIZES_MAX);
    for (size_t i = 0; i < n && rc == 0;) {
        size_t run = 1;
        while (i + run < n && sizes[i + run] == sizes[i])
            run++;
        rc = append_run(&list, sizes[i], run);
        i += run;
    }
    if (rc == 0)
        rc = s3_attrs_add(attrs, S3_ATTR_PART_SIZES, list.data ? list.data : "");
    buf_release(&list);
    return rc;
}

/* One "SIZE" or "SIZE*COUNT" run at *s; advances *s past it and a ','.
 * 0, or -1 if malformed. */
static int parse_run(const char **s, uint64_t *size, uint64_t *count)
{
    char *end;
    if (**s < '0' || **s > '9')
        return -1;
    errno = 0;
    *size = strtoull(*s, &end, 10);
    *count = 1;
    if (*end == '*') {
        if (end[1] < '0' || end[1] > '9')
            return -1;
        *count = strtoull(end + 1, &end, 10);
    }
    if (errno || *size > OL_MAX_PUT_SIZE || *count < 1 || *count > OL_MAX_PARTS ||
        (*end && *end != ','))
        return -1;
    *s = *end ? end + 1 : end;
    return 0;
}

int s3_attrs_part_range(const uint8_t *attrs, uint32_t len, uint64_t object_size, uint32_t part,
                        uint32_t *count, uint64_t *offset, uint64_t *size)
{
    const char *s = s3_attrs_get(attrs, len, S3_ATTR_PART_SIZES);
    uint64_t parts = 0, bytes = 0, part_off = 0, part_size = 0;
    if (!s || !*s)
        return 0;
    while (*s) {
        uint64_t run_size, run_count;
        if (parse_run(&s, &run_size, &run_count) != 0 || parts + run_count > OL_MAX_PARTS)
            return 0;
        if (part > parts && part <= parts + run_count) {
            part_off = bytes + (part - 1 - parts) * run_size;
            part_size = run_size;
        }
        parts += run_count;
        bytes += run_count * run_size; /* <= 10000 * 5 GiB: no overflow */
    }
    if (bytes != object_size)
        return 0;
    *count = (uint32_t)parts;
    if (part <= parts) {
        *offset = part_off;
        *size = part_size;
    }
    return 1;
}

/* Header names as S3 spells them in responses. */
static const char *canonical_name(const char *lname, char *tmp, size_t cap)
{
    static const struct {
        const char *l, *c;
    } names[] = {
        {"content-type", "Content-Type"},         {"cache-control", "Cache-Control"},
        {"content-disposition", "Content-Disposition"}, {"content-encoding", "Content-Encoding"},
        {"content-language", "Content-Language"}, {"expires", "Expires"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(lname, names[i].l) == 0)
            return names[i].c;
    snprintf(tmp, cap, "%s", lname);
    return tmp;
}

void s3_attrs_to_headers(struct s3_req *r, const uint8_t *attrs, uint32_t len, int with_checksum)
{
    const char *n, *v;
    char tmp[256];
    for (uint32_t pos = 0; s3_attrs_next(attrs, len, &pos, &n, &v);) {
        int internal = strncmp(n, S3_ATTR_INTERNAL_PREFIX, strlen(S3_ATTR_INTERNAL_PREFIX)) == 0;
        if (!internal && (strncmp(n, "x-amz-checksum-", 15) != 0 || with_checksum))
            s3_add_header(r, canonical_name(n, tmp, sizeof tmp), v);
    }
    s3_lock_headers(r, attrs, len);
    size_t ntags = s3_object_tags_count(attrs, len);
    if (ntags) {
        snprintf(tmp, sizeof tmp, "%zu", ntags);
        s3_add_header(r, "x-amz-tagging-count", tmp);
    }
}

void s3_quote_etag(const char *etag, char out[META_ETAG_MAX + 3])
{
    snprintf(out, META_ETAG_MAX + 3, "\"%s\"", etag);
}
