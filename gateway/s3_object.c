/*
 * gateway/s3_object.c - PutObject, GetObject, HeadObject, DeleteObject,
 * CopyObject, and the body handling PutObject shares with UploadPart.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "common/log.h"
#include "common/xml.h"
#include "gateway/s3_internal.h"

void s3_new_version_id(char out[META_VERSION_MAX])
{
    uint8_t rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
        memset(rnd, 0, sizeof rnd);
    /* Leading time so ids of one key sort roughly by age in logs. */
    uint64_t t = (uint64_t)ol_now_ms();
    for (int i = 0; i < 6; i++)
        rnd[i] = (uint8_t)(t >> (8 * (5 - i)));
    hex_encode(rnd, 16, out);
}

int s3_version_id_valid(const char *v)
{
    if (strcmp(v, "null") == 0)
        return 1;
    size_t n = 0;
    for (; v[n]; n++)
        if (!((v[n] >= '0' && v[n] <= '9') || (v[n] >= 'a' && v[n] <= 'f')))
            return 0;
    return n == 32;
}

int s3_version_param_or_reply(struct s3_req *r, const char **out)
{
    *out = NULL;
    if (!s3_has_param(r, "versionId"))
        return 0;
    const char *v = s3_param(r, "versionId");
    if (!s3_version_id_valid(v)) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Invalid version id specified");
        return -1;
    }
    *out = v;
    return 0;
}

int s3_version_or_reply(struct s3_req *r, const char *bucket, const char *key,
                        const char *version_id, int copy_source, struct meta_object *out)
{
    struct meta_object o;
    int rc = meta_object_get(r->gw->meta, bucket, key, version_id, &o);
    if (rc) {
        if (rc == META_ENOTFOUND && version_id)
            s3_reply_error(r, S3E_NO_SUCH_VERSION, NULL);
        else
            s3_reply_rc(r, rc);
        return -1;
    }
    if (!(o.flags & META_OBJ_DELETE_MARKER)) {
        *out = o;
        return 0;
    }
    if (copy_source) {
        s3_reply_error(r, version_id ? S3E_INVALID_REQUEST : S3E_NO_SUCH_KEY,
                       version_id ? "The source of a copy request may not specifically refer to "
                                    "a delete marker by version id."
                                  : NULL);
    } else if (version_id) {
        char lm[40];
        s3_time_http(o.mtime_ms, lm);
        s3_add_header(r, "x-amz-delete-marker", "true");
        s3_add_header(r, "x-amz-version-id", o.version_id);
        s3_add_header(r, "Last-Modified", lm);
        s3_add_header(r, "Allow", "DELETE");
        s3_add_error_detail(r, "Method", r->method);
        s3_add_error_detail(r, "ResourceType", "DeleteMarker");
        s3_reply_error(r, S3E_METHOD_NOT_ALLOWED, NULL);
    } else {
        s3_add_header(r, "x-amz-delete-marker", "true");
        s3_add_header(r, "x-amz-version-id", o.version_id);
        s3_reply_error(r, S3E_NO_SUCH_KEY, NULL);
    }
    meta_object_release(&o);
    return -1;
}

const char *s3_stored_version_id(uint8_t versioning, const char *version_id)
{
    return versioning == META_VERSIONING_ENABLED ? version_id : "null";
}

void s3_version_header(struct s3_req *r, uint8_t versioning, const char *version_id)
{
    if (versioning != META_VERSIONING_OFF || strcmp(version_id, "null") != 0)
        s3_add_header(r, "x-amz-version-id", version_id);
}

/* ------------------------------------------------------------------ */
/* Body handling shared with UploadPart                                */

/* The checksum algorithm a PUT asks for, and its value when it came in a
 * header.  S3 accepts the value in x-amz-checksum-ALG, or announced in
 * x-amz-trailer and sent after an aws-chunked body. */
static int checksum_request_or_reply(struct s3_req *r, struct s3_put *p)
{
    static const enum cksum_alg algs[] = {CKSUM_CRC32, CKSUM_CRC32C, CKSUM_CRC64NVME,
                                          CKSUM_SHA1, CKSUM_SHA256};
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++) {
        char name[40];
        snprintf(name, sizeof name, "x-amz-checksum-%s", cksum_name(algs[i]));
        const char *v = s3_header(r, name);
        if (v) {
            if (p->alg != CKSUM_NONE) {
                s3_reply_error(r, S3E_INVALID_REQUEST,
                               "Expecting a single x-amz-checksum- header. Multiple checksum "
                               "Types are not allowed.");
                return -1;
            }
            p->alg = algs[i];
            snprintf(p->checksum_expect, sizeof p->checksum_expect, "%s", v);
        }
    }
    const char *trailer = s3_header(r, "x-amz-trailer");
    if (trailer && p->alg == CKSUM_NONE) {
        size_t tl = strlen(trailer);
        while (tl && trailer[tl - 1] == ' ')
            tl--;
        while (*trailer == ' ')
            trailer++, tl--;
        if (tl > 15 && strncasecmp(trailer, "x-amz-checksum-", 15) == 0)
            p->alg = cksum_from_name(trailer + 15, tl - 15);
        if (p->alg == CKSUM_NONE) {
            s3_reply_error(r, S3E_INVALID_ARGUMENT, "The value specified in the x-amz-trailer "
                                                    "header is not supported");
            return -1;
        }
        p->checksum_in_trailer = 1;
    }
    const char *sdk = s3_header(r, "x-amz-sdk-checksum-algorithm");
    if (sdk && p->alg == CKSUM_NONE) {
        p->alg = cksum_from_name(sdk, strlen(sdk));
        if (p->alg == CKSUM_NONE || p->alg == CKSUM_MD5) {
            s3_reply_error(r, S3E_INVALID_REQUEST, "Value for x-amz-sdk-checksum-algorithm "
                                                   "header is invalid.");
            return -1;
        }
        /* the value itself was not sent: computed and stored only */
    }
    return 0;
}

/* A part of an upload made with a checksum algorithm carries that
 * algorithm's checksum: computed here when the request names none, as S3
 * does; another algorithm is refused as S3 refuses it. */
static int part_checksum_alg_or_reply(struct s3_req *r, struct s3_put *p)
{
    if (p->upload_alg == CKSUM_NONE || p->alg == p->upload_alg)
        return 0;
    if (p->alg == CKSUM_NONE) {
        p->alg = p->upload_alg;
        return 0;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "Checksum Type mismatch occurred, expected checksum Type: %s, "
                              "actual checksum Type: %s", cksum_name(p->upload_alg), cksum_name(p->alg));
    s3_reply_error(r, S3E_INVALID_REQUEST, msg);
    return -1;
}

int s3_put_begin_or_reply(struct s3_req *r, struct s3_put *p, int allow_inline, uint64_t max_size)
{
    buf_init(&p->attrs, 8192 + S3_TAGS_ATTR_MAX);
    if (r->content_length < 0 && !r->chunked) {
        s3_reply_error(r, S3E_MISSING_CONTENT_LENGTH, NULL);
        return -1;
    }
    if (r->content_length >= 0 && (uint64_t)r->content_length > max_size) {
        s3_reply_error(r, S3E_ENTITY_TOO_LARGE, NULL);
        return -1;
    }
    const char *md5h = s3_header(r, "Content-MD5");
    if (md5h) {
        uint8_t tmp[64];
        if (strlen(md5h) > 40 || base64_decode(md5h, strlen(md5h), tmp) != 16) {
            s3_reply_error(r, S3E_INVALID_DIGEST, NULL);
            return -1;
        }
        memcpy(p->content_md5, tmp, 16);
        p->has_md5 = 1;
    }
    if (checksum_request_or_reply(r, p) != 0 || part_checksum_alg_or_reply(r, p) != 0)
        return -1;
    if (s3_attrs_from_request_or_reply(r, &p->attrs) != 0)
        return -1;
    struct ol_writer_opts o = {allow_inline, p->alg, max_size, s3_sse_domain(&p->sse)};
    int rc = ol_writer_new(r->gw->ol, &o, &p->w);
    if (rc) {
        s3_reply_rc(r, rc);
        return -1;
    }
    return 0;
}

int s3_put_body(struct s3_req *r, const uint8_t *data, size_t n)
{
    struct s3_put *p = r->hstate;
    return ol_writer_write(p->w, data, n);
}

int s3_put_finish_or_reply(struct s3_req *r, struct s3_put *p)
{
    int rc = ol_writer_finish(p->w);
    if (rc) {
        s3_reply_rc(r, rc);
        return -1;
    }
    if (r->content_length >= 0 && ol_writer_size(p->w) != (uint64_t)r->content_length) {
        s3_reply_error(r, S3E_INCOMPLETE_BODY, NULL);
        return -1;
    }
    if (p->has_md5 && memcmp(p->content_md5, ol_writer_md5(p->w), 16) != 0) {
        s3_reply_error(r, S3E_BAD_DIGEST, NULL);
        return -1;
    }
    if (p->alg != CKSUM_NONE) {
        size_t len;
        const uint8_t *sum = ol_writer_checksum(p->w, &len);
        char b64[64];
        base64_encode(sum, len, b64);
        const char *expect = p->checksum_expect[0] ? p->checksum_expect : NULL;
        char tname[40];
        snprintf(tname, sizeof tname, "x-amz-checksum-%s", cksum_name(p->alg));
        if (p->checksum_in_trailer) {
            expect = s3_trailer(r, tname);
            if (!expect) {
                s3_reply_error(r, S3E_INVALID_REQUEST,
                               "The x-amz-trailer checksum was announced but not sent.");
                return -1;
            }
        }
        if (expect && strcmp(expect, b64) != 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "The %s you specified did not match the calculated checksum.",
                     cksum_name(p->alg));
            for (char *c = msg + 4; *c && *c != ' '; c++)
                if (*c >= 'a' && *c <= 'z')
                    *c = (char)(*c - 'a' + 'A');
            p->mismatch_msg = strdup(msg);
            s3_reply_error(r, S3E_BAD_DIGEST, p->mismatch_msg);
            return -1;
        }
        if (s3_attrs_add(&p->attrs, tname, b64) ||
            s3_attrs_add(&p->attrs, "x-amz-checksum-type", "FULL_OBJECT")) {
            s3_reply_error(r, S3E_INTERNAL, NULL);
            return -1;
        }
        snprintf(p->checksum_b64, sizeof p->checksum_b64, "%s", b64);
    }
    return 0;
}

void s3_put_release(struct s3_put *p)
{
    ol_writer_free(p->w);
    p->w = NULL;
    buf_release(&p->attrs);
    free(p->mismatch_msg);
    p->mismatch_msg = NULL;
    s3_sse_release(&p->sse);
}

void s3_put_free(struct s3_put *p)
{
    if (!p)
        return;
    s3_put_release(p);
    free(p);
}

/* One ETag of an If-Match (quotes optional) into buf without its quotes;
 * -1 if it is longer than any ETag cairn stores, so it matches none. */
static int if_match_etag_copy(const char *v, char buf[META_ETAG_MAX])
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n >= META_ETAG_MAX)
        return -1;
    memcpy(buf, v, n);
    buf[n] = 0;
    return 0;
}

/* Read If-Match / If-None-Match of a write into pc. */
int s3_write_precond_or_reply(struct s3_req *r, struct meta_precond *pc, char *etag_buf)
{
    const char *inm = s3_header(r, "If-None-Match");
    const char *im = s3_header(r, "If-Match");
    memset(pc, 0, sizeof *pc);
    if (inm) {
        if (strcmp(inm, "*") != 0) {
            s3_reply_error(r, S3E_NOT_IMPLEMENTED,
                           "If-None-Match on a write takes only the value '*'.");
            return -1;
        }
        pc->if_none_match_star = 1;
    }
    if (im) {
        if (if_match_etag_copy(im, etag_buf) != 0) {
            s3_reply_error(r, S3E_PRECONDITION_FAILED, NULL);
            return -1;
        }
        pc->if_match_etag = etag_buf;
    }
    return 0;
}

static int live_object(struct s3_req *r, const char *version_id, struct meta_object *o)
{
    int rc = meta_object_get(r->gw->meta, r->bucket, r->key, version_id, o);
    if (rc == 0 && (o->flags & META_OBJ_DELETE_MARKER)) {
        meta_object_release(o);
        rc = META_ENOTFOUND;
    }
    return rc;
}

int s3_object_or_reply(struct s3_req *r, struct meta_object *out)
{
    struct meta_object o;
    const char *version_id;
    if (s3_version_param_or_reply(r, &version_id) != 0 ||
        s3_version_or_reply(r, r->bucket, r->key, version_id, 0, &o) != 0)
        return -1;
    if (out)
        *out = o;
    else
        meta_object_release(&o);
    return 0;
}

void s3_version_id_header(struct s3_req *r, const char *version_id)
{
    if (strcmp(version_id, "null") != 0)
        s3_set_header(r, "x-amz-version-id", version_id);
}

void s3_object_attrs_update_or_reply(struct s3_req *r, s3_attrs_edit_fn *edit, void *arg,
                                     unsigned status)
{
    struct buf attrs;
    int rc = META_EPRECOND;
    buf_init(&attrs, META_ATTRS_MAX);
    for (int i = 0; i < S3_ATTRS_UPDATE_TRIES && rc == META_EPRECOND; i++) {
        struct meta_object o;
        if (s3_object_or_reply(r, &o) != 0)
            goto out;
        buf_reset(&attrs);
        enum s3_err e = edit(arg, o.attrs, o.attrs_len, &attrs);
        if (e != S3E_NONE) {
            meta_object_release(&o);
            s3_reply_error(r, e, NULL);
            goto out;
        }
        if (attrs.len == o.attrs_len && (!attrs.len || memcmp(attrs.data, o.attrs, attrs.len) == 0))
            rc = 0; /* nothing changes */
        else
            rc = meta_object_set_attrs(r->gw->meta, r->bucket, r->key, o.version_id, o.attrs,
                                       o.attrs_len, (const uint8_t *)attrs.data,
                                       (uint32_t)attrs.len);
        if (rc == 0)
            s3_version_id_header(r, o.version_id);
        meta_object_release(&o);
    }
    if (rc == META_EPRECOND)
        s3_reply_error(r, S3E_CONDITIONAL_CONFLICT, NULL); /* lost every race */
    else if (rc)
        s3_reply_rc(r, rc);
    else
        s3_reply_empty(r, status);
out:
    buf_release(&attrs);
}

/* Whether r's key currently exists (latest version not a delete marker). */
static int s3_key_exists(struct s3_req *r)
{
    struct meta_object o;
    if (live_object(r, NULL, &o) != 0)
        return 0;
    meta_object_release(&o);
    return 1;
}

int s3_write_precond_rc(struct s3_req *r, int rc, const struct meta_precond *pc)
{
    if (rc == META_EPRECOND && pc->if_match_etag && !s3_key_exists(r))
        return META_ENOTFOUND;
    return rc;
}

/* ------------------------------------------------------------------ */
/* PutObject                                                           */

static int put_object_begin(struct s3_req *r)
{
    struct meta_bucket b;
    if (s3_bucket_access_or_reply(r, &b) != 0)
        return 0;
    struct s3_put *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    r->hstate = p;
    p->versioning = b.versioning;
    if (s3_write_precond_or_reply(r, &p->pc, p->if_match) != 0 ||
        s3_sse_request_or_reply(r, &p->sse) != 0)
        return 0;
    if (s3_put_begin_or_reply(r, p, 1, OL_MAX_PUT_SIZE) == 0 &&
        s3_tagging_header_or_reply(r, &p->attrs) == 0)
        s3_lock_attrs_or_reply(r, &p->attrs);
    return 0;
}

int s3_put_commit(struct s3_req *r, struct ol_writer *w, const char *key, struct buf *attrs,
                  const struct meta_precond *pc, uint8_t versioning, const struct s3_sse *sse,
                  char etag_out[META_ETAG_MAX])
{
    struct meta_object o;
    memset(&o, 0, sizeof o);
    o.key = (char *)key;
    s3_new_version_id(o.version_id);
    o.mtime_ms = ol_now_ms();
    s3_sse_etag(sse, ol_writer_md5(w), o.etag);
    if (s3_sse_attrs_add(sse, attrs) != 0)
        return -E2BIG;
    o.attrs = (uint8_t *)attrs->data;
    o.attrs_len = (uint32_t)attrs->len;
    ol_writer_object(w, &o);
    int rc = ol_put(r->gw->ol, r->bucket, &o, pc, NULL);
    if (pc)
        rc = s3_write_precond_rc(r, rc, pc);
    if (rc)
        return rc;
    char etag[META_ETAG_MAX + 3];
    s3_quote_etag(o.etag, etag);
    s3_add_header(r, "ETag", etag);
    s3_version_header(r, versioning, s3_stored_version_id(versioning, o.version_id));
    s3_sse_reply_headers(r, sse);
    if (etag_out)
        memcpy(etag_out, o.etag, META_ETAG_MAX);
    return 0;
}

static void put_object_end(struct s3_req *r)
{
    struct s3_put *p = r->hstate;
    if (s3_put_finish_or_reply(r, p) != 0)
        return;
    int rc = s3_put_commit(r, p->w, r->key, &p->attrs, &p->pc, p->versioning, &p->sse, NULL);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    if (p->alg != CKSUM_NONE) {
        char name[40];
        snprintf(name, sizeof name, "x-amz-checksum-%s", cksum_name(p->alg));
        s3_add_header(r, name, p->checksum_b64);
        s3_add_header(r, "x-amz-checksum-type", "FULL_OBJECT");
    }
    s3_reply_empty(r, 200);
}

static void put_cleanup(struct s3_req *r)
{
    s3_put_free(r->hstate);
    r->hstate = NULL;
}

const struct s3_handler h_put_object = {"PutObject", put_object_begin, s3_put_body, put_object_end,
                                        put_cleanup};

/* ------------------------------------------------------------------ */
/* GetObject / HeadObject                                              */

/* An ETag list of If-Match / If-None-Match contains etag (or "*"). */
static int etag_matches(const char *list, const char *etag)
{
    const char *p = list;
    size_t el = strlen(etag);
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ",");
        size_t tl = len;
        while (tl && p[tl - 1] == ' ')
            tl--;
        const char *t = p;
        if (tl >= 2 && strncmp(t, "W/", 2) == 0) {
            t += 2;
            tl -= 2;
        }
        if (tl >= 2 && t[0] == '"' && t[tl - 1] == '"') {
            t++;
            tl -= 2;
        }
        if ((tl == 1 && *t == '*') || (tl == el && memcmp(t, etag, el) == 0))
            return 1;
        p += len;
    }
    return 0;
}

/* RFC 7232 order, as S3 applies it.  Returns S3E_NONE, NOT_MODIFIED or
 * PRECONDITION_FAILED.  prefix is "" for GET/HEAD and
 * "x-amz-copy-source-" for copies (which answer 412 for both). */
static enum s3_err check_conditions(struct s3_req *r, const struct meta_object *o,
                                    const char *prefix)
{
    char name[64];
    int64_t mtime_s = o->mtime_ms / 1000 * 1000;
    snprintf(name, sizeof name, "%sif-match", prefix);
    const char *im = s3_header(r, name);
    snprintf(name, sizeof name, "%sif-unmodified-since", prefix);
    const char *ius = s3_header(r, name);
    snprintf(name, sizeof name, "%sif-none-match", prefix);
    const char *inm = s3_header(r, name);
    snprintf(name, sizeof name, "%sif-modified-since", prefix);
    const char *ims = s3_header(r, name);
    int copy = prefix[0] != 0;

    if (im) {
        if (!etag_matches(im, o->etag))
            return S3E_PRECONDITION_FAILED;
    } else if (ius) {
        int64_t t = s3_parse_http_time(ius);
        if (t >= 0 && mtime_s > t)
            return S3E_PRECONDITION_FAILED;
    }
    if (inm) {
        if (etag_matches(inm, o->etag))
            return copy ? S3E_PRECONDITION_FAILED : S3E_NOT_MODIFIED;
    } else if (ims) {
        int64_t t = s3_parse_http_time(ims);
        if (t >= 0 && mtime_s <= t && t <= ol_now_ms())
            return copy ? S3E_PRECONDITION_FAILED : S3E_NOT_MODIFIED;
    }
    return S3E_NONE;
}

/* Parse a single byte range against size.  Returns 1 with [*first,*last]
 * set, 0 when the header is absent or not a single valid range (serve the
 * whole object, as HTTP says), -1 when unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!h || strncmp(h, "bytes=", 6) != 0)
        return 0;
    const char *s = h + 6;
    if (strchr(s, ','))
        return 0;
    char *end;
    if (*s == '-') {
        if (s[1] < '0' || s[1] > '9')
            return 0;
        uint64_t n = strtoull(s + 1, &end, 10);
        if (*end)
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *first = n >= size ? 0 : size - n;
        *last = size - 1;
        return 1;
    }
    if (*s < '0' || *s > '9')
        return 0;
    uint64_t a = strtoull(s, &end, 10);
    if (*end != '-')
        return 0;
    s = end + 1;
    uint64_t b;
    if (*s == 0) {
        b = size ? size - 1 : 0;
    } else {
        if (*s < '0' || *s > '9')
            return 0;
        b = strtoull(s, &end, 10);
        if (*end || b < a)
            return 0;
        if (b >= size)
            b = size ? size - 1 : 0;
    }
    if (a >= size)
        return -1;
    *first = a;
    *last = b;
    return 1;
}

struct get_state {
    struct ol_reader *rd;
    uint64_t first, len; /* the bytes to send */
    struct gateway *gw;
    char id[17];
};

static ssize_t get_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    struct get_state *g = cls;
    if (pos >= g->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (max > g->len - pos)
        max = (size_t)(g->len - pos);
    long n = ol_reader_read(g->rd, g->first + pos, out, max);
    if (n <= 0) {
        log_msg(LOG_ERROR, g->id, "read failed at offset %" PRIu64 ": %s", g->first + pos,
                ol_strerror((int)n));
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    atomic_fetch_add(&g->gw->bytes_out, (uint64_t)n);
    return n;
}

static void get_free(void *cls)
{
    struct get_state *g = cls;
    ol_reader_free(g->rd);
    free(g);
}

/* ?partNumber of a GET/HEAD, 0 when absent.  A bad number, or one sent
 * with a Range header, is answered here (-1). */
static int get_part_number_or_reply(struct s3_req *r, uint32_t *part)
{
    *part = 0;
    if (!s3_has_param(r, "partNumber"))
        return 0;
    if (s3_part_number_or_reply(r, part) != 0)
        return -1;
    if (s3_header(r, "Range")) {
        s3_reply_error(r, S3E_INVALID_REQUEST,
                       "Cannot specify both Range header and partNumber query parameter");
        return -1;
    }
    return 0;
}

/* The bytes a GET/HEAD sends. */
struct get_span {
    uint64_t first, len;
    int partial;          /* 206 with a Content-Range */
    int whole;            /* exactly the object as stored: its checksum applies */
    uint32_t parts_count; /* x-amz-mp-parts-count to send, 0 for none */
};

static void reply_invalid_part_number(struct s3_req *r, uint32_t part, uint32_t count)
{
    char n[16];
    snprintf(n, sizeof n, "%u", part);
    s3_add_error_detail(r, "PartNumberRequested", n);
    snprintf(n, sizeof n, "%u", count);
    s3_add_error_detail(r, "ActualPartCount", n);
    s3_reply_error(r, S3E_INVALID_PART_NUMBER, NULL);
}

/* Part number part of o: a part of a multipart object (from the sizes its
 * attrs keep), or an object without parts, which is its own part 1.  As
 * S3, the part is sent as a range (206), with the parts count for a
 * multipart object.  Part numbers count the parts as completed (1..N),
 * whatever numbers they were uploaded with. */
static int part_span_or_reply(struct s3_req *r, const struct meta_object *o, uint32_t part,
                              struct get_span *sp)
{
    uint32_t count = 1;
    uint64_t off = 0, size = o->size;
    int listed = s3_attrs_part_range(o->attrs, o->attrs_len, o->size, part, &count, &off, &size);
    if (part > count) {
        reply_invalid_part_number(r, part, count);
        return -1;
    }
    sp->first = off;
    sp->len = size;
    sp->parts_count = listed ? count : 0;
    sp->whole = !listed;
    sp->partial = size > 0; /* no Content-Range can name an empty part */
    return 0;
}

/* The bytes to send for o: all of them, a Range, or part number part
 * (0: none).  Replies 416 and returns -1 when that cannot be satisfied. */
static int get_span_or_reply(struct s3_req *r, const struct meta_object *o, uint32_t part,
                             struct get_span *sp)
{
    memset(sp, 0, sizeof *sp);
    if (part)
        return part_span_or_reply(r, o, part, sp);
    uint64_t first = 0, last = 0;
    int ranged = parse_range(s3_header(r, "Range"), o->size, &first, &last);
    if (ranged < 0) {
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%" PRIu64, o->size);
        s3_add_header(r, "Content-Range", cr);
        s3_reply_error(r, S3E_INVALID_RANGE, NULL);
        return -1;
    }
    sp->first = ranged ? first : 0;
    sp->len = ranged ? last - first + 1 : o->size;
    sp->partial = ranged;
    sp->whole = !ranged;
    return 0;
}

/* Conditional headers: 304 / 412 answered here (-1). */
static int get_conditions_or_reply(struct s3_req *r, const struct meta_object *o,
                                   const char *etag, const char *lm)
{
    enum s3_err cond = check_conditions(r, o, "");
    if (cond == S3E_NONE)
        return 0;
    if (cond == S3E_NOT_MODIFIED) {
        s3_add_header(r, "ETag", etag);
        s3_add_header(r, "Last-Modified", lm);
        s3_reply_empty(r, 304);
        return -1;
    }
    s3_reply_error(r, cond, NULL);
    return -1;
}

/* Headers of a GET/HEAD reply: the stored ones, then response-* overrides
 * (signed requests only, as S3: an anonymous one is answered, -1). */
static int get_headers_or_reply(struct s3_req *r, const struct meta_object *o, uint8_t versioning,
                                const struct get_span *sp, const char *etag, const char *lm)
{
    static const struct {
        const char *param, *header;
    } overrides[] = {
        {"response-content-type", "Content-Type"},
        {"response-content-language", "Content-Language"},
        {"response-expires", "Expires"},
        {"response-cache-control", "Cache-Control"},
        {"response-content-disposition", "Content-Disposition"},
        {"response-content-encoding", "Content-Encoding"},
    };
    const char *checksum_mode = s3_header(r, "x-amz-checksum-mode");
    int with_checksum = sp->whole && checksum_mode && strcasecmp(checksum_mode, "ENABLED") == 0;
    s3_attrs_to_headers(r, o->attrs, o->attrs_len, with_checksum);
    if (!s3_attrs_get(o->attrs, o->attrs_len, "content-type"))
        s3_add_header(r, "Content-Type", "binary/octet-stream");
    s3_add_header(r, "ETag", etag);
    s3_add_header(r, "Last-Modified", lm);
    s3_add_header(r, "Accept-Ranges", "bytes");
    s3_version_header(r, versioning, o->version_id);
    if (sp->partial) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, sp->first,
                 sp->first + sp->len - 1, o->size);
        s3_add_header(r, "Content-Range", cr);
    }
    if (sp->parts_count) {
        char n[16];
        snprintf(n, sizeof n, "%u", sp->parts_count);
        s3_add_header(r, "x-amz-mp-parts-count", n);
    }
    for (size_t i = 0; i < sizeof overrides / sizeof *overrides; i++) {
        const char *v = s3_param(r, overrides[i].param);
        if (!v)
            continue;
        if (r->anonymous) {
            s3_reply_error(r, S3E_INVALID_REQUEST,
                           "Request specific response headers cannot be used for anonymous "
                           "GET requests.");
            return -1;
        }
        s3_set_header(r, overrides[i].header, v);
    }
    return 0;
}

static void get_or_head(struct s3_req *r, int head)
{
    struct ol_reader *rd = NULL;
    struct meta_bucket b;
    struct meta_object obj;
    struct s3_sse sse;
    memset(&sse, 0, sizeof sse);
    const char *version_id;
    uint32_t part;
    if (s3_bucket_access_or_reply(r, &b) != 0 || get_part_number_or_reply(r, &part) != 0 ||
        s3_version_param_or_reply(r, &version_id) != 0 ||
        s3_version_or_reply(r, r->bucket, r->key, version_id, 0, &obj) != 0)
        return;
    int rc = ol_reader_open_object(r->gw->ol, &obj, &rd);
    if (rc) {
        meta_object_release(&obj);
        s3_reply_rc(r, rc);
        return;
    }
    if (s3_sse_reader_or_reply(r, rd, 0, &sse) != 0)
        goto out;
    const struct meta_object *o = ol_reader_object(rd);
    char etag[META_ETAG_MAX + 3], lm[40];
    struct get_span sp;
    s3_quote_etag(o->etag, etag);
    s3_time_http(o->mtime_ms, lm);
    if (get_conditions_or_reply(r, o, etag, lm) != 0 || get_span_or_reply(r, o, part, &sp) != 0)
        goto out;
    /* The first bytes are read before the status goes out: if too few
     * drives can serve them the client gets a 503 with an error body, not
     * a 200 cut short.  (A later chunk failing mid-body can only cut the
     * connection.) */
    if (!head && sp.len > 0) {
        rc = ol_reader_prefetch(rd, sp.first, sp.len < CS_MAX_CHUNK ? (size_t)sp.len : CS_MAX_CHUNK);
        if (rc) {
            s3_reply_rc(r, rc);
            goto out;
        }
    }
    if (get_headers_or_reply(r, o, b.versioning, &sp, etag, lm) != 0)
        goto out;
    s3_sse_reply_headers(r, &sse);
    struct get_state *g = calloc(1, sizeof *g);
    if (!g) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
        goto out;
    }
    g->rd = rd;
    rd = NULL; /* g owns it now */
    g->first = sp.first;
    g->len = sp.len;
    g->gw = r->gw;
    memcpy(g->id, r->id, sizeof g->id);
    /* libmicrohttpd sends no body for HEAD but keeps the Content-Length. */
    struct MHD_Response *resp =
        MHD_create_response_from_callback(g->len, 256u << 10, get_reader, g, get_free);
    if (!resp) {
        get_free(g);
        s3_reply_error(r, S3E_INTERNAL, NULL);
        goto out;
    }
    s3_reply_response(r, sp.partial ? 206 : 200, resp);
out:
    ol_reader_free(rd);
    s3_sse_release(&sse);
}

static void get_object_end(struct s3_req *r)
{
    get_or_head(r, 0);
}

static void head_object_end(struct s3_req *r)
{
    get_or_head(r, 1);
}

const struct s3_handler h_get_object = {"GetObject", NULL, NULL, get_object_end, NULL};
const struct s3_handler h_head_object = {"HeadObject", NULL, NULL, head_object_end, NULL};

/* ------------------------------------------------------------------ */
/* DeleteObject                                                        */

enum s3_err s3_delete_precond(const char *if_match, const char *size, const char *mtime,
                              struct meta_precond *pc, char etag_buf[META_ETAG_MAX])
{
    memset(pc, 0, sizeof *pc);
    if (if_match && strcmp(if_match, "*") == 0) {
        pc->if_match_star = 1;
    } else if (if_match) {
        if (if_match_etag_copy(if_match, etag_buf) != 0)
            return S3E_PRECONDITION_FAILED;
        pc->if_match_etag = etag_buf;
    }
    if (size) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(size, &end, 10);
        if (size[0] < '0' || size[0] > '9' || *end || errno == ERANGE)
            return S3E_INVALID_ARGUMENT;
        pc->has_if_size = 1;
        pc->if_size = n;
    }
    if (mtime) {
        int64_t ms = s3_parse_http_time(mtime);
        if (ms < 0)
            return S3E_INVALID_ARGUMENT;
        pc->has_if_mtime = 1;
        pc->if_mtime_s = ms / 1000;
    }
    return S3E_NONE;
}

int s3_delete_one(struct s3_req *r, const char *key, const char *version_id,
                  const struct meta_precond *pc, struct meta_object *removed)
{
    int lrc = s3_lock_check_delete(r, key, version_id);
    if (lrc)
        return lrc;
    char marker[META_VERSION_MAX];
    s3_new_version_id(marker);
    if (removed)
        memset(removed, 0, sizeof *removed);
    int rc = meta_object_delete(r->gw->meta, r->bucket, key, version_id, marker, ol_now_ms(), pc,
                                removed);
    /* S3 deletes are idempotent - unless conditional: a condition on an
     * absent key is NoSuchKey */
    if (rc == META_ENOTFOUND && !pc)
        rc = 0;
    return rc;
}

static void delete_object_end(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    const char *im = s3_header(r, "If-Match");
    const char *size = s3_header(r, "x-amz-if-match-size");
    const char *mtime = s3_header(r, "x-amz-if-match-last-modified-time");
    struct meta_precond pc;
    char if_match[META_ETAG_MAX];
    int conditional = im || size || mtime;
    enum s3_err e = s3_delete_precond(im, size, mtime, &pc, if_match);
    if (e != S3E_NONE) {
        s3_reply_error(r, e, NULL);
        return;
    }
    const char *version_id;
    struct meta_object gone;
    if (s3_version_param_or_reply(r, &version_id) != 0)
        return;
    int rc = s3_delete_one(r, r->key, version_id, conditional ? &pc : NULL, &gone);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    /* S3 names the version deleted (as asked) or the delete marker added,
     * and says when that version is a delete marker */
    int marker = gone.key && (gone.flags & META_OBJ_DELETE_MARKER);
    if (marker)
        s3_add_header(r, "x-amz-delete-marker", "true");
    if (version_id || marker)
        s3_add_header(r, "x-amz-version-id", version_id ? version_id : gone.version_id);
    meta_object_release(&gone);
    s3_reply_empty(r, 204);
}

const struct s3_handler h_delete_object = {"DeleteObject", NULL, NULL, delete_object_end, NULL};

/* ------------------------------------------------------------------ */
/* CopyObject                                                          */

int s3_copy_source_or_reply(struct s3_req *r, struct s3_copy_src *src)
{
    const char *h = s3_header(r, "x-amz-copy-source");
    size_t n = strlen(h);
    char *dec = malloc(n + 1);
    if (!dec) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
        return -1;
    }
    const char *q = strstr(h, "?versionId=");
    size_t pl = q ? (size_t)(q - h) : n;
    long dl = uri_decode(h, pl, dec, n + 1, 0);
    const char *p = dec;
    if (dl > 0 && *p == '/')
        p++;
    const char *slash = dl > 0 ? strchr(p, '/') : NULL;
    if (!slash || slash == p || !slash[1] || strlen(slash + 1) > META_KEY_MAX ||
        (size_t)(slash - p) >= META_NAME_MAX) {
        free(dec);
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
        return -1;
    }
    memcpy(src->bucket, p, (size_t)(slash - p));
    src->bucket[slash - p] = 0;
    src->key = strdup(slash + 1);
    free(dec);
    src->version_id[0] = 0;
    src->version_named = q != NULL;
    if (q && strlen(q + 11) < sizeof src->version_id)
        snprintf(src->version_id, sizeof src->version_id, "%s", q + 11);
    /* The caller must be allowed to read the source (that version). */
    struct meta_object so;
    int answered = 0;
    int rc = src->key ? 0 : -ENOMEM;
    const char *vid = q ? src->version_id : NULL;
    if (rc == 0 && q && !s3_version_id_valid(src->version_id)) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Invalid version id specified");
        answered = 1;
    }
    if (rc == 0 && !answered)
        answered = s3_access_or_reply(r, src->bucket, src->key,
                                      vid ? "s3:GetObjectVersion" : "s3:GetObject", vid, NULL) != 0;
    if (rc == 0 && !answered)
        answered = s3_version_or_reply(r, src->bucket, src->key, vid, 1, &so) != 0;
    if (rc == 0 && !answered) {
        snprintf(src->version_id, sizeof src->version_id, "%s", so.version_id);
        rc = ol_reader_open_object(r->gw->ol, &so, &src->rd);
        if (rc)
            meta_object_release(&so);
    }
    if (rc || answered) {
        free(src->key);
        src->key = NULL;
        if (rc)
            s3_reply_rc(r, rc);
        return -1;
    }
    enum s3_err cond = check_conditions(r, ol_reader_object(src->rd), "x-amz-copy-source-");
    if (cond != S3E_NONE) {
        s3_copy_src_release(src);
        s3_reply_error(r, cond, NULL);
        return -1;
    }
    return 0;
}

void s3_copy_source_version_header(struct s3_req *r, const struct s3_copy_src *src)
{
    if (src->version_named || strcmp(src->version_id, "null") != 0)
        s3_add_header(r, "x-amz-copy-source-version-id", src->version_id);
}

void s3_copy_src_release(struct s3_copy_src *src)
{
    ol_reader_free(src->rd);
    src->rd = NULL;
    free(src->key);
    src->key = NULL;
}

static void copy_object_end(struct s3_req *r)
{
    struct s3_copy_src src;
    struct meta_bucket b;
    struct buf attrs;
    struct s3_sse src_sse, dst_sse;
    struct ol_writer *w = NULL;
    memset(&src, 0, sizeof src);
    memset(&src_sse, 0, sizeof src_sse);
    memset(&dst_sse, 0, sizeof dst_sse);
    buf_init(&attrs, META_ATTRS_MAX);
    if (s3_bucket_access_or_reply(r, &b) != 0)
        goto out;
    if (s3_copy_source_or_reply(r, &src) != 0 ||
        s3_sse_reader_or_reply(r, src.rd, 1, &src_sse) != 0 ||
        s3_sse_request_or_reply(r, &dst_sse) != 0)
        goto out;
    const struct meta_object *so = ol_reader_object(src.rd);
    /* The same key domain on both sides: the copy shares the source's
     * (sealed) chunks.  Otherwise the bytes go through a writer. */
    int same_domain = s3_sse_same_domain(&src_sse, &dst_sse);
    const char *directive = s3_header(r, "x-amz-metadata-directive");
    int replace = directive && strcasecmp(directive, "REPLACE") == 0;
    if (directive && !replace && strcasecmp(directive, "COPY") != 0) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Unknown metadata directive.");
        goto out;
    }
    if (!replace && strcmp(src.bucket, r->bucket) == 0 && strcmp(src.key, r->key) == 0 &&
        !src.version_named && same_domain && !s3_header(r, "x-amz-server-side-encryption")) {
        s3_reply_error(r, S3E_INVALID_REQUEST,
                       "This copy request is illegal because it is trying to copy an object to "
                       "itself without changing the object's metadata, storage class, website "
                       "redirect location or encryption attributes.");
        goto out;
    }
    struct buf kept;
    buf_init(&kept, META_ATTRS_MAX); /* the source's, without its encryption */
    int arc = s3_sse_attrs_strip(so->attrs, so->attrs_len, &kept);
    if (replace) {
        if (s3_attrs_from_request_or_reply(r, &attrs) != 0) {
            buf_release(&kept);
            goto out;
        }
        /* the bytes are the same: their checksums and part sizes stay */
        if (arc == 0 &&
            (arc = s3_attrs_copy((uint8_t *)kept.data, (uint32_t)kept.len, "x-amz-checksum-", 1,
                                 &attrs)) == 0)
            arc = s3_attrs_copy((uint8_t *)kept.data, (uint32_t)kept.len,
                                S3_ATTR_INTERNAL_PREFIX, 1, &attrs);
    } else if (arc == 0) {
        arc = buf_append(&attrs, kept.data, kept.len);
    }
    buf_release(&kept);
    if (arc != 0 || s3_sse_attrs_add(&dst_sse, &attrs) != 0) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
        goto out;
    }
    if (s3_copy_tags_or_reply(r, so->attrs, so->attrs_len, &attrs) != 0 ||
        s3_lock_attrs_or_reply(r, &attrs) != 0 ||
        s3_acl_apply_or_reply(r, &attrs) != 0) /* not the source's ACL */
        goto out;
    struct meta_precond pc;
    char if_match[META_ETAG_MAX];
    if (s3_write_precond_or_reply(r, &pc, if_match) != 0)
        goto out;
    /* The copy shares the source's chunks: only references are added. */
    struct meta_object o = *so;
    o.key = r->key;
    s3_new_version_id(o.version_id);
    o.mtime_ms = ol_now_ms();
    o.flags = so->flags & META_OBJ_ENCRYPTED;
    o.attrs = (uint8_t *)attrs.data;
    o.attrs_len = (uint32_t)attrs.len;
    int rc = 0;
    if (!same_domain) {
        if (so->size > OL_MAX_PUT_SIZE) {
            s3_reply_error(r, S3E_INVALID_REQUEST,
                           "The specified copy source is larger than the maximum allowable size "
                           "for a copy source: 5368709120");
            goto out;
        }
        struct ol_writer_opts wo = {1, CKSUM_NONE, OL_MAX_PUT_SIZE, s3_sse_domain(&dst_sse)};
        rc = ol_writer_new(r->gw->ol, &wo, &w);
        if (rc == 0)
            rc = s3_copy_stream(src.rd, 0, so->size, w);
        if (rc == 0)
            rc = ol_writer_finish(w);
        if (rc == 0) {
            ol_writer_object(w, &o);
            s3_sse_etag(&dst_sse, ol_writer_md5(w), o.etag);
        }
    }
    if (rc == 0)
        rc = s3_write_precond_rc(r, ol_put(r->gw->ol, r->bucket, &o, &pc, NULL), &pc);
    if (rc) {
        s3_reply_rc(r, rc);
        goto out;
    }
    struct s3_doc d;
    char etag[META_ETAG_MAX + 3], t[32];
    s3_quote_etag(o.etag, etag);
    s3_time_iso(o.mtime_ms, t);
    s3_doc_begin(&d, "CopyObjectResult", 4096);
    xmlw_elem(&d.w, "LastModified", t);
    xmlw_elem(&d.w, "ETag", etag);
    xmlw_close(&d.w);
    s3_copy_source_version_header(r, &src);
    s3_version_header(r, b.versioning, s3_stored_version_id(b.versioning, o.version_id));
    s3_sse_reply_headers(r, &dst_sse);
    s3_doc_reply(r, &d);
out:
    ol_writer_free(w);
    s3_copy_src_release(&src);
    s3_sse_release(&src_sse);
    s3_sse_release(&dst_sse);
    buf_release(&attrs);
}

const struct s3_handler h_copy_object = {"CopyObject", NULL, NULL, copy_object_end, NULL};
