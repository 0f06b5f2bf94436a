/*
 * gateway/s3_multipart.c - multipart uploads: Create, UploadPart,
 * UploadPartCopy, Complete, Abort, ListParts, ListMultipartUploads.
 *
 * Parts are stored like objects (chunked, deduplicated) and hold chunk
 * references while they exist; Complete hands the chosen parts' references
 * to the object and drops the rest, Abort drops them all, so neither leaves
 * stored garbage behind (the collector frees what nothing references).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/xml.h"
#include "gateway/s3_internal.h"

static void xml_initiator(struct xml_writer *w, const char *owner)
{
    xmlw_open(w, "Initiator");
    xmlw_elem(w, "ID", owner);
    xmlw_elem(w, "DisplayName", owner);
    xmlw_close(w);
    xmlw_open(w, "Owner");
    xmlw_elem(w, "ID", owner);
    xmlw_elem(w, "DisplayName", owner);
    xmlw_close(w);
}

/* "ChecksumCRC32", "ChecksumSHA256"...: the XML element for alg. */
static void checksum_elem_name(enum cksum_alg alg, char out[40])
{
    snprintf(out, 40, "Checksum%s", cksum_name(alg));
    for (char *c = out + 8; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
}

/* The checksum algorithm an upload was created with (CKSUM_NONE if none). */
static enum cksum_alg upload_alg(const struct meta_upload *u)
{
    const char *a = s3_attrs_get(u->attrs, u->attrs_len, "x-amz-checksum-algorithm");
    return a ? cksum_from_name(a, strlen(a)) : CKSUM_NONE;
}

/* Its checksum type: "FULL_OBJECT" or "COMPOSITE" (also for uploads
 * created before cairn kept the type, which were all composite). */
static const char *upload_type(const struct meta_upload *u)
{
    const char *t = s3_attrs_get(u->attrs, u->attrs_len, "x-amz-checksum-type");
    return t && strcmp(t, "FULL_OBJECT") == 0 ? "FULL_OBJECT" : "COMPOSITE";
}

/* "CRC32", "SHA256"...: S3's upper-case name of alg (out holds 16). */
static void alg_upper(enum cksum_alg alg, char out[16])
{
    snprintf(out, 16, "%s", cksum_name(alg));
    for (char *c = out; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
}

static int upload_or_reply(struct s3_req *r, struct meta_upload *u)
{
    const char *id = s3_param(r, "uploadId");
    int rc = id && *id && strlen(id) < META_UPLOAD_ID_MAX
                 ? meta_upload_get(r->gw->meta, r->bucket, r->key, id, u)
                 : META_ENOUPLOAD;
    if (rc) {
        s3_reply_rc(r, rc);
        return -1;
    }
    return 0;
}

int s3_part_number_or_reply(struct s3_req *r, uint32_t *out)
{
    const char *pn = s3_param(r, "partNumber");
    char *end;
    long v = pn ? strtol(pn, &end, 10) : 0;
    if (!pn || !*pn || *end || v < 1 || v > OL_MAX_PARTS) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT,
                       "Part number must be an integer between 1 and 10000, inclusive");
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* ---- CreateMultipartUpload -------------------------------------------- */

/* x-amz-checksum-algorithm and x-amz-checksum-type of a new upload, as
 * S3 takes them: a type only with an algorithm; FULL_OBJECT (the CRC of
 * the whole object) only for the CRCs, COMPOSITE (a checksum of the part
 * checksums) not for CRC64NVME, which defaults to FULL_OBJECT.  Both are
 * kept in the upload's attrs.  Replies and returns -1 on bad values. */
static int create_checksum_or_reply(struct s3_req *r, struct buf *attrs, enum cksum_alg *alg,
                                    const char **type)
{
    const char *a = s3_header(r, "x-amz-checksum-algorithm");
    const char *t = s3_header(r, "x-amz-checksum-type");
    char msg[128];
    *alg = a ? cksum_from_name(a, strlen(a)) : CKSUM_NONE;
    *type = NULL;
    if (a && (*alg == CKSUM_NONE || *alg == CKSUM_MD5)) {
        s3_reply_error(r, S3E_INVALID_REQUEST, "Checksum algorithm provided is unsupported.");
        return -1;
    }
    if (t && strcasecmp(t, "COMPOSITE") != 0 && strcasecmp(t, "FULL_OBJECT") != 0) {
        s3_reply_error(r, S3E_INVALID_REQUEST, "Value for x-amz-checksum-type header is invalid.");
        return -1;
    }
    if (t && !a) {
        s3_reply_error(r, S3E_INVALID_REQUEST, "The x-amz-checksum-type header can only be used "
                                               "with the x-amz-checksum-algorithm header.");
        return -1;
    }
    if (!a)
        return 0;
    int full = t ? strcasecmp(t, "FULL_OBJECT") == 0 : *alg == CKSUM_CRC64NVME;
    *type = full ? "FULL_OBJECT" : "COMPOSITE";
    if (full ? !cksum_is_crc(*alg) : *alg == CKSUM_CRC64NVME) {
        snprintf(msg, sizeof msg, "The %s checksum type cannot be used with the %s checksum algorithm.",
                 *type, cksum_name(*alg));
        s3_reply_error(r, S3E_INVALID_REQUEST, msg);
        return -1;
    }
    if (s3_attrs_add(attrs, "x-amz-checksum-algorithm", cksum_name(*alg)) ||
        s3_attrs_add(attrs, "x-amz-checksum-type", *type)) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
        return -1;
    }
    return 0;
}

static void create_mpu_end(struct s3_req *r)
{
    struct meta_upload u;
    struct buf attrs;
    enum cksum_alg alg;
    const char *type;
    struct s3_sse sse;
    if (s3_bucket_access_or_reply(r, NULL) != 0 || s3_sse_request_or_reply(r, &sse) != 0)
        return;
    buf_init(&attrs, 8192 + S3_TAGS_ATTR_MAX);
    if (s3_attrs_from_request_or_reply(r, &attrs) != 0 ||
        s3_tagging_header_or_reply(r, &attrs) != 0 ||
        create_checksum_or_reply(r, &attrs, &alg, &type) != 0 ||
        s3_lock_attrs_or_reply(r, &attrs) != 0) {
        buf_release(&attrs);
        s3_sse_release(&sse);
        return;
    }
    if (s3_sse_attrs_add(&sse, &attrs) != 0) {
        buf_release(&attrs);
        s3_sse_release(&sse);
        s3_reply_error(r, S3E_INTERNAL, NULL);
        return;
    }
    memset(&u, 0, sizeof u);
    s3_new_version_id(u.upload_id);
    u.key = r->key;
    u.initiated_ms = ol_now_ms();
    u.attrs = (uint8_t *)attrs.data;
    u.attrs_len = (uint32_t)attrs.len;
    int rc = meta_upload_create(r->gw->meta, r->bucket, &u);
    buf_release(&attrs);
    if (rc) {
        s3_sse_release(&sse);
        s3_reply_rc(r, rc);
        return;
    }
    s3_sse_reply_headers(r, &sse);
    s3_sse_release(&sse);
    struct s3_doc d;
    s3_doc_begin(&d, "InitiateMultipartUploadResult", 16384);
    xmlw_elem(&d.w, "Bucket", r->bucket);
    xmlw_elem(&d.w, "Key", r->key);
    xmlw_elem(&d.w, "UploadId", u.upload_id);
    xmlw_close(&d.w);
    if (alg != CKSUM_NONE) {
        char upper[16];
        alg_upper(alg, upper);
        s3_add_header(r, "x-amz-checksum-algorithm", upper);
        s3_add_header(r, "x-amz-checksum-type", type);
    }
    s3_doc_reply(r, &d);
}

const struct s3_handler h_create_mpu = {"CreateMultipartUpload", NULL, NULL, create_mpu_end, NULL};

/* ---- UploadPart ------------------------------------------------------- */

struct part_state {
    struct s3_put put;   /* first: s3_put_body sees hstate as a struct s3_put */
    uint32_t part_number;
    struct meta_upload upload;
    int have_upload;
};

static int upload_part_begin(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return 0;
    struct part_state *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -ENOMEM;
    r->hstate = ps;
    if (s3_part_number_or_reply(r, &ps->part_number) != 0)
        return 0;
    if (upload_or_reply(r, &ps->upload) != 0)
        return 0;
    ps->have_upload = 1;
    ps->put.upload_alg = upload_alg(&ps->upload);
    /* a part is sealed as its upload says; SSE-C parts carry its key */
    if (s3_sse_stored_or_reply(r, ps->upload.attrs, ps->upload.attrs_len, 0, &ps->put.sse) != 0)
        return 0;
    s3_put_begin_or_reply(r, &ps->put, 0, OL_MAX_PUT_SIZE);
    return 0;
}

/* The stored part's attrs are only its checksum entries. */
static int part_checksum_attrs(struct s3_put *p, struct buf *out)
{
    if (p->alg == CKSUM_NONE)
        return 0;
    char name[40];
    snprintf(name, sizeof name, "x-amz-checksum-%s", cksum_name(p->alg));
    return s3_attrs_add(out, name, p->checksum_b64);
}

static int store_part(struct s3_req *r, struct part_state *ps, struct meta_part *part)
{
    struct meta_object tmp;
    struct buf attrs;
    buf_init(&attrs, 4096);
    memset(part, 0, sizeof *part);
    memset(&tmp, 0, sizeof tmp);
    ol_writer_object(ps->put.w, &tmp);
    part->part_number = ps->part_number;
    part->size = tmp.size;
    s3_sse_etag(&ps->put.sse, ol_writer_md5(ps->put.w), part->etag);
    part->mtime_ms = ol_now_ms();
    part->chunks = tmp.chunks;
    part->nchunks = tmp.nchunks;
    int rc = part_checksum_attrs(&ps->put, &attrs);
    part->attrs = (uint8_t *)attrs.data;
    part->attrs_len = (uint32_t)attrs.len;
    if (rc == 0)
        rc = meta_part_put(r->gw->meta, r->bucket, r->key, ps->upload.upload_id, part);
    buf_release(&attrs);
    part->attrs = NULL;
    part->chunks = NULL;
    return rc;
}

static void upload_part_end(struct s3_req *r)
{
    struct part_state *ps = r->hstate;
    struct meta_part part;
    if (s3_put_finish_or_reply(r, &ps->put) != 0)
        return;
    int rc = store_part(r, ps, &part);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    char etag[META_ETAG_MAX + 3];
    s3_quote_etag(part.etag, etag);
    s3_add_header(r, "ETag", etag);
    if (ps->put.alg != CKSUM_NONE) {
        char name[40];
        snprintf(name, sizeof name, "x-amz-checksum-%s", cksum_name(ps->put.alg));
        s3_add_header(r, name, ps->put.checksum_b64);
    }
    s3_sse_reply_headers(r, &ps->put.sse);
    s3_reply_empty(r, 200);
}

static void part_cleanup(struct s3_req *r)
{
    struct part_state *ps = r->hstate;
    if (!ps)
        return;
    s3_put_release(&ps->put);
    if (ps->have_upload)
        meta_upload_release(&ps->upload);
    free(ps);
    r->hstate = NULL;
}

const struct s3_handler h_upload_part = {"UploadPart", upload_part_begin, s3_put_body,
                                         upload_part_end, part_cleanup};

/* ---- UploadPartCopy --------------------------------------------------- */

static void upload_part_copy_end(struct s3_req *r)
{
    struct part_state *ps = NULL;
    struct s3_copy_src src;
    struct s3_sse src_sse;
    memset(&src, 0, sizeof src);
    memset(&src_sse, 0, sizeof src_sse);
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    ps = calloc(1, sizeof *ps);
    if (!ps) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
        return;
    }
    r->hstate = ps;
    if (s3_part_number_or_reply(r, &ps->part_number) != 0 || upload_or_reply(r, &ps->upload) != 0)
        return;
    ps->have_upload = 1;
    if (s3_sse_stored_or_reply(r, ps->upload.attrs, ps->upload.attrs_len, 0, &ps->put.sse) != 0 ||
        s3_copy_source_or_reply(r, &src) != 0)
        return;
    if (s3_sse_reader_or_reply(r, src.rd, 1, &src_sse) != 0) {
        s3_copy_src_release(&src);
        return;
    }
    s3_sse_release(&src_sse); /* the reader keeps what it needs */
    const struct meta_object *so = ol_reader_object(src.rd);
    s3_copy_source_version_header(r, &src);
    uint64_t first = 0, last = so->size ? so->size - 1 : 0;
    const char *range = s3_header(r, "x-amz-copy-source-range");
    if (range) {
        unsigned long long a, b;
        char extra;
        if (sscanf(range, "bytes=%llu-%llu%c", &a, &b, &extra) != 2 || a > b || b >= so->size) {
            char msg[128];
            snprintf(msg, sizeof msg, "Range specified is not valid for source object of size: %" PRIu64,
                     so->size);
            s3_copy_src_release(&src);
            s3_reply_error(r, S3E_INVALID_ARGUMENT, msg);
            return;
        }
        first = a;
        last = b;
    }
    uint64_t len = so->size ? last - first + 1 : 0;
    if (len > OL_MAX_PUT_SIZE) {
        s3_copy_src_release(&src);
        s3_reply_error(r, S3E_INVALID_REQUEST,
                       "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120");
        return;
    }
    /* the copy gets the upload's checksum, as an uploaded part would */
    ps->put.alg = upload_alg(&ps->upload);
    struct ol_writer_opts o = {0, ps->put.alg, OL_MAX_PUT_SIZE, s3_sse_domain(&ps->put.sse)};
    buf_init(&ps->put.attrs, 4096);
    int rc = ol_writer_new(r->gw->ol, &o, &ps->put.w);
    /* Copy through the chunker: chunks that cut the same as the source's
     * are deduplicated, so an aligned copy stores nothing new. */
    if (rc == 0)
        rc = s3_copy_stream(src.rd, first, len, ps->put.w);
    s3_copy_src_release(&src);
    if (rc == 0)
        rc = ol_writer_finish(ps->put.w);
    if (rc == 0 && ps->put.alg != CKSUM_NONE) {
        size_t sum_len;
        const uint8_t *sum = ol_writer_checksum(ps->put.w, &sum_len);
        base64_encode(sum, sum_len, ps->put.checksum_b64);
    }
    struct meta_part part;
    if (rc == 0)
        rc = store_part(r, ps, &part);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    struct s3_doc d;
    char etag[META_ETAG_MAX + 3], t[32];
    s3_quote_etag(part.etag, etag);
    s3_time_iso(part.mtime_ms, t);
    s3_doc_begin(&d, "CopyPartResult", 4096);
    xmlw_elem(&d.w, "LastModified", t);
    xmlw_elem(&d.w, "ETag", etag);
    if (ps->put.alg != CKSUM_NONE) {
        char elem[40];
        checksum_elem_name(ps->put.alg, elem);
        xmlw_elem(&d.w, elem, ps->put.checksum_b64);
    }
    xmlw_close(&d.w);
    s3_sse_reply_headers(r, &ps->put.sse);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_upload_part_copy = {"UploadPartCopy", NULL, NULL, upload_part_copy_end,
                                              part_cleanup};

/* ---- CompleteMultipartUpload ------------------------------------------ */

/* All stored parts of the upload, ascending. */
static int all_parts(struct s3_req *r, const char *upload_id, struct meta_part **out, size_t *n)
{
    struct meta_part *all = NULL;
    size_t count = 0;
    uint32_t after = 0;
    int truncated = 1, rc = 0;
    while (truncated) {
        struct meta_part *page = NULL;
        size_t pn = 0;
        rc = meta_part_list(r->gw->meta, r->bucket, r->key, upload_id, after, 1000, &page, &pn, &truncated);
        if (rc)
            break;
        void *p = realloc(all, (count + pn + 1) * sizeof *all);
        if (!p) {
            meta_part_array_free(page, pn);
            rc = -ENOMEM;
            break;
        }
        all = p;
        memcpy(all + count, page, pn * sizeof *page);
        count += pn;
        free(page); /* the entries moved into all */
        if (pn == 0)
            break;
        after = all[count - 1].part_number;
    }
    if (rc) {
        meta_part_array_free(all, count);
        return rc;
    }
    *out = all;
    *n = count;
    return 0;
}

static const struct meta_part *find_part(const struct meta_part *parts, size_t n, uint32_t num)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (parts[mid].part_number < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && parts[lo].part_number == num ? &parts[lo] : NULL;
}

static void strip_quotes(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);
    while (n && (*in == '"' || *in == ' ')) {
        in++;
        n--;
    }
    while (n && (in[n - 1] == '"' || in[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, in, n);
    out[n] = 0;
}

/* The parts a CompleteMultipartUpload names, in request order. */
struct complete_list {
    struct xml_doc *doc;
    size_t n;
    uint32_t *numbers;
    uint64_t *sizes;                 /* filled by complete_check_parts */
    char (*etags)[META_ETAG_MAX];
    const char **etag_ptrs;
};

static void complete_list_release(struct complete_list *l)
{
    xml_doc_free(l->doc);
    free(l->numbers);
    free(l->sizes);
    free(l->etags);
    free(l->etag_ptrs);
    memset(l, 0, sizeof *l);
}

/* Parse the request body into l (released by the caller either way). */
static enum s3_err complete_list_parse(struct s3_req *r, struct complete_list *l)
{
    memset(l, 0, sizeof *l);
    if (xml_parse(r->body.data ? r->body.data : "", r->body.len, &l->doc) != 0 ||
        strcmp(xml_root(l->doc)->name, "CompleteMultipartUpload") != 0)
        return S3E_MALFORMED_XML;
    struct xml_node *root = xml_root(l->doc);
    for (struct xml_node *p = xml_child(root, "Part"); p; p = xml_next_named(p, "Part"))
        l->n++;
    if (l->n == 0 || l->n > OL_MAX_PARTS)
        return S3E_MALFORMED_XML;
    l->numbers = calloc(l->n, sizeof *l->numbers);
    l->sizes = calloc(l->n, sizeof *l->sizes);
    l->etags = calloc(l->n, sizeof *l->etags);
    l->etag_ptrs = calloc(l->n, sizeof *l->etag_ptrs);
    if (!l->numbers || !l->sizes || !l->etags || !l->etag_ptrs)
        return S3E_INTERNAL;
    size_t i = 0;
    for (struct xml_node *p = xml_child(root, "Part"); p; p = xml_next_named(p, "Part"), i++) {
        const char *num = xml_child_text(p, "PartNumber", NULL);
        const char *etag = xml_child_text(p, "ETag", NULL);
        char *end;
        long v = num ? strtol(num, &end, 10) : 0;
        if (!num || !*num || *end || v < 1 || v > OL_MAX_PARTS || !etag)
            return S3E_MALFORMED_XML;
        l->numbers[i] = (uint32_t)v;
        strip_quotes(etag, l->etags[i], META_ETAG_MAX);
        l->etag_ptrs[i] = l->etags[i];
        if (i > 0 && l->numbers[i] <= l->numbers[i - 1])
            return S3E_INVALID_PART_ORDER;
    }
    return S3E_NONE;
}

/*
 * The checksum of a completed object, built part by part from the parts'
 * stored checksums (every part of an upload with an algorithm has one).
 * COMPOSITE: the checksum of the concatenated binary part checksums,
 * written "<base64>-N".  FULL_OBJECT: the CRC of the whole object, each
 * part's CRC combined in over the part's length (cksum_crc_combine).  A
 * part stored without its checksum (by a cairn before parts got the
 * upload's) leaves the object without one.
 */
struct mpu_sum {
    enum cksum_alg alg;          /* CKSUM_NONE: the upload named none */
    int full_object;
    int missing;                 /* a part had no checksum */
    struct cksum composite;
    uint8_t full[CKSUM_MAX_LEN]; /* running CRC, from the CRC of nothing (0) */
    char header[40];             /* "x-amz-checksum-crc32" */
    char elem[40];               /* "ChecksumCRC32" */
    const char *type;            /* "FULL_OBJECT" / "COMPOSITE" */
    char value[96];              /* after mpu_sum_finish; "" if none */
};

static void mpu_sum_begin(struct mpu_sum *s, const struct meta_upload *u)
{
    memset(s, 0, sizeof *s);
    s->alg = upload_alg(u);
    if (s->alg == CKSUM_NONE)
        return;
    s->type = upload_type(u);
    s->full_object = strcmp(s->type, "FULL_OBJECT") == 0 && cksum_is_crc(s->alg);
    snprintf(s->header, sizeof s->header, "x-amz-checksum-%s", cksum_name(s->alg));
    checksum_elem_name(s->alg, s->elem);
    if (!s->full_object && cksum_init(&s->composite, s->alg) != 0)
        s->missing = 1;
}

static void mpu_sum_add(struct mpu_sum *s, const struct meta_part *p)
{
    if (s->alg == CKSUM_NONE || s->missing)
        return;
    const char *v = s3_attrs_get(p->attrs, p->attrs_len, s->header);
    uint8_t raw[64];
    long n = v && strlen(v) <= 84 ? base64_decode(v, strlen(v), raw) : -1;
    if (n != (long)cksum_len(s->alg))
        s->missing = 1;
    else if (s->full_object)
        cksum_crc_combine(s->alg, s->full, raw, p->size);
    else
        cksum_update(&s->composite, raw, (size_t)n);
}

/* Always called once (it releases what begin took). */
static void mpu_sum_finish(struct mpu_sum *s, size_t nparts)
{
    uint8_t out[CKSUM_MAX_LEN];
    size_t n = 0;
    if (s->alg == CKSUM_NONE)
        return;
    if (!s->full_object)
        n = cksum_final(&s->composite, out);
    if (s->missing)
        return;
    if (s->full_object) {
        base64_encode(s->full, cksum_len(s->alg), s->value);
        return;
    }
    base64_encode(out, n, s->value);
    size_t l = strlen(s->value);
    snprintf(s->value + l, sizeof s->value - l, "-%zu", nparts);
}

/* Check every named part against the stored ones (ETag, a part checksum
 * named in the request, the 5 MiB minimum but for the last) and fold it
 * into the multipart ETag's MD5, the size and the checksum. */
static enum s3_err complete_check_parts(struct complete_list *l, const struct meta_part *stored,
                                        size_t nstored, struct mpu_sum *sum, struct cksum *etag_md5,
                                        uint64_t *size)
{
    const struct xml_node *pn = xml_child(xml_root(l->doc), "Part");
    for (size_t i = 0; i < l->n; i++, pn = xml_next_named(pn, "Part")) {
        const struct meta_part *p = find_part(stored, nstored, l->numbers[i]);
        uint8_t bin[16];
        if (!p || strcmp(p->etag, l->etags[i]) != 0)
            return S3E_INVALID_PART;
        /* A part checksum named in the request must be the stored one. */
        const char *given = sum->alg != CKSUM_NONE ? xml_child_text(pn, sum->elem, NULL) : NULL;
        const char *have = given ? s3_attrs_get(p->attrs, p->attrs_len, sum->header) : NULL;
        if (given && (!have || strcmp(given, have) != 0))
            return S3E_INVALID_PART;
        if (i + 1 < l->n && p->size < OL_MIN_PART_SIZE)
            return S3E_ENTITY_TOO_SMALL;
        hex_decode(p->etag, 32, bin, 16);
        cksum_update(etag_md5, bin, 16);
        *size += p->size;
        l->sizes[i] = p->size;
        mpu_sum_add(sum, p);
    }
    return S3E_NONE;
}

/* What the client says the object is: x-amz-mp-object-size its size,
 * x-amz-checksum-type the upload's type, x-amz-checksum-<alg> its
 * checksum (a composite one with or without its "-N").  Replies and
 * returns -1 when one does not hold. */
static int complete_expect_or_reply(struct s3_req *r, const struct mpu_sum *s, uint64_t size)
{
    char msg[192];
    const char *ms = s3_header(r, "x-amz-mp-object-size");
    if (ms) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(ms, &end, 10);
        if (!*ms || *end || *ms == '-' || errno) {
            snprintf(msg, sizeof msg, "Value for x-amz-mp-object-size header is invalid: '%.64s'", ms);
            s3_reply_error(r, S3E_INVALID_REQUEST, msg);
            return -1;
        }
        if (v != size) {
            snprintf(msg, sizeof msg, "The provided 'x-amz-mp-object-size' header value %llu does not "
                                      "match what was computed: %llu", v, (unsigned long long)size);
            s3_reply_error(r, S3E_INVALID_REQUEST, msg);
            return -1;
        }
    }
    if (s->alg == CKSUM_NONE)
        return 0; /* nothing to compare with */
    const char *t = s3_header(r, "x-amz-checksum-type");
    if (t && strcasecmp(t, s->type) != 0) {
        snprintf(msg, sizeof msg, "The upload was created using the %s checksum mode. The complete "
                                  "request must use the same checksum mode.", s->type);
        s3_reply_error(r, S3E_INVALID_REQUEST, msg);
        return -1;
    }
    const char *v = s3_header(r, s->header);
    size_t vl = strcspn(s->value, "-");
    if (v && s->value[0] && strcmp(v, s->value) != 0 &&
        (s->full_object || strlen(v) != vl || strncmp(v, s->value, vl) != 0)) {
        char upper[16];
        alg_upper(s->alg, upper);
        snprintf(msg, sizeof msg, "The %s you specified did not match the calculated checksum.", upper);
        s3_reply_error(r, S3E_BAD_DIGEST, msg);
        return -1;
    }
    return 0;
}

/* The completed object's attrs: the upload's headers (not its checksum
 * settings), the object's checksum and type, the part sizes. */
static int complete_attrs(struct s3_req *r, const struct meta_upload *u, const struct mpu_sum *s,
                          const struct complete_list *l, struct buf *attrs)
{
    int rc = s3_attrs_copy(u->attrs, u->attrs_len, "x-amz-checksum-", 0, attrs);
    if (rc == 0 && s->value[0] && (rc = s3_attrs_add(attrs, s->header, s->value)) == 0)
        rc = s3_attrs_add(attrs, "x-amz-checksum-type", s->type);
    if (rc)
        return rc;
    rc = s3_attrs_add_part_sizes(attrs, l->sizes, l->n);
    if (rc == -ENOSPC) {
        log_msg(LOG_INFO, r->id, "%zu part sizes too varied to keep: no ?partNumber reads", l->n);
        rc = 0;
    }
    return rc;
}

static void complete_reply(struct s3_req *r, const struct meta_object *o, const struct mpu_sum *s,
                           uint8_t versioning)
{
    struct s3_doc d;
    char etag[META_ETAG_MAX + 3], location[2048];
    const char *host = s3_header(r, "Host");
    s3_quote_etag(o->etag, etag);
    snprintf(location, sizeof location, "http://%s%s", host ? host : "localhost", r->raw_path);
    s3_doc_begin(&d, "CompleteMultipartUploadResult", 16384);
    xmlw_elem(&d.w, "Location", location);
    xmlw_elem(&d.w, "Bucket", r->bucket);
    xmlw_elem(&d.w, "Key", r->key);
    xmlw_elem(&d.w, "ETag", etag);
    if (s->value[0]) {
        xmlw_elem(&d.w, s->elem, s->value);
        xmlw_elem(&d.w, "ChecksumType", s->type);
    }
    xmlw_close(&d.w);
    s3_version_header(r, versioning, s3_stored_version_id(versioning, o->version_id));
    s3_doc_reply(r, &d);
}

static void complete_mpu_end(struct s3_req *r)
{
    struct meta_upload u;
    struct meta_bucket b;
    struct complete_list l;
    struct meta_part *stored = NULL;
    size_t nstored = 0;
    struct buf attrs;
    struct mpu_sum sum;
    struct cksum etag_md5;
    uint8_t md5_out[CKSUM_MAX_LEN];
    uint64_t size = 0;
    int have_upload = 0, rc;
    enum s3_err err = S3E_NONE;

    memset(&l, 0, sizeof l);
    buf_init(&attrs, META_ATTRS_MAX);
    if (s3_bucket_access_or_reply(r, &b) != 0 || upload_or_reply(r, &u) != 0)
        goto out;
    have_upload = 1;
    if ((err = complete_list_parse(r, &l)) != S3E_NONE)
        goto out;
    if ((rc = all_parts(r, u.upload_id, &stored, &nstored)) != 0) {
        s3_reply_rc(r, rc);
        goto out;
    }
    mpu_sum_begin(&sum, &u);
    cksum_init(&etag_md5, CKSUM_MD5);
    err = complete_check_parts(&l, stored, nstored, &sum, &etag_md5, &size);
    cksum_final(&etag_md5, md5_out);
    mpu_sum_finish(&sum, l.n);
    if (err != S3E_NONE || complete_expect_or_reply(r, &sum, size) != 0)
        goto out;
    if (complete_attrs(r, &u, &sum, &l, &attrs) != 0) {
        err = S3E_INTERNAL;
        goto out;
    }
    struct meta_object o;
    memset(&o, 0, sizeof o);
    o.key = r->key;
    s3_new_version_id(o.version_id);
    o.mtime_ms = ol_now_ms();
    o.size = size;
    struct s3_sse sse;
    memset(&sse, 0, sizeof sse);
    sse.mode = s3_sse_attrs_mode(u.attrs, u.attrs_len);
    if (sse.mode != S3_SSE_NONE)
        o.flags = META_OBJ_ENCRYPTED; /* its parts were sealed */
    hex_encode(md5_out, 16, o.etag);
    snprintf(o.etag + 32, META_ETAG_MAX - 32, "-%zu", l.n);
    o.attrs = (uint8_t *)attrs.data;
    o.attrs_len = (uint32_t)attrs.len;
    struct meta_precond pc;
    char if_match[META_ETAG_MAX];
    if (s3_write_precond_or_reply(r, &pc, if_match) != 0)
        goto out;
    rc = meta_upload_complete(r->gw->meta, r->bucket, r->key, u.upload_id, l.numbers, l.etag_ptrs, l.n,
                              &o, &pc, NULL);
    rc = s3_write_precond_rc(r, rc, &pc);
    if (rc) {
        s3_reply_rc(r, rc);
        goto out;
    }
    s3_sse_reply_headers(r, &sse);
    complete_reply(r, &o, &sum, b.versioning);
out:
    if (err != S3E_NONE)
        s3_reply_error(r, err, NULL);
    if (have_upload)
        meta_upload_release(&u);
    meta_part_array_free(stored, nstored);
    complete_list_release(&l);
    buf_release(&attrs);
}

const struct s3_handler h_complete_mpu = {"CompleteMultipartUpload", NULL, NULL, complete_mpu_end,
                                          NULL};

/* ---- AbortMultipartUpload --------------------------------------------- */

static void abort_mpu_end(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    const char *id = s3_param(r, "uploadId");
    int rc = id && *id && strlen(id) < META_UPLOAD_ID_MAX
                 ? meta_upload_abort(r->gw->meta, r->bucket, r->key, id)
                 : META_ENOUPLOAD;
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    s3_reply_empty(r, 204);
}

const struct s3_handler h_abort_mpu = {"AbortMultipartUpload", NULL, NULL, abort_mpu_end, NULL};

/* ---- ListParts -------------------------------------------------------- */

static long int_param(struct s3_req *r, const char *name, long def, long min, long max, int *bad)
{
    const char *v = s3_param(r, name);
    if (!v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < min) {
        *bad = 1;
        return def;
    }
    return n > max ? max : n;
}

static void list_parts_end(struct s3_req *r)
{
    struct meta_bucket b;
    struct meta_upload u;
    int bad = 0;
    if (s3_bucket_access_or_reply(r, &b) != 0)
        return;
    if (upload_or_reply(r, &u) != 0)
        return;
    long max = int_param(r, "max-parts", 1000, 0, 1000, &bad);
    long marker = int_param(r, "part-number-marker", 0, 0, OL_MAX_PARTS, &bad);
    if (bad) {
        meta_upload_release(&u);
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "max-parts and part-number-marker must be non-negative integers.");
        return;
    }
    struct meta_part *parts = NULL;
    size_t n = 0;
    int truncated = 0;
    int rc = max ? meta_part_list(r->gw->meta, r->bucket, r->key, u.upload_id, (uint32_t)marker,
                                  (size_t)max, &parts, &n, &truncated)
                 : 0;
    if (rc) {
        meta_upload_release(&u);
        s3_reply_rc(r, rc);
        return;
    }
    struct s3_doc d;
    s3_doc_begin(&d, "ListPartsResult", 16u << 20);
    xmlw_elem(&d.w, "Bucket", r->bucket);
    xmlw_elem(&d.w, "Key", r->key);
    xmlw_elem(&d.w, "UploadId", u.upload_id);
    xml_initiator(&d.w, b.owner);
    xmlw_elem(&d.w, "StorageClass", "STANDARD");
    xmlw_elemf(&d.w, "PartNumberMarker", "%ld", marker);
    xmlw_elemf(&d.w, "NextPartNumberMarker", "%u", n ? parts[n - 1].part_number : 0);
    xmlw_elemf(&d.w, "MaxParts", "%ld", max);
    xmlw_elem(&d.w, "IsTruncated", truncated ? "true" : "false");
    enum cksum_alg alg = upload_alg(&u);
    char alg_header[40], alg_elem[40];
    if (alg != CKSUM_NONE) {
        char upper[16];
        alg_upper(alg, upper);
        xmlw_elem(&d.w, "ChecksumAlgorithm", upper);
        xmlw_elem(&d.w, "ChecksumType", upload_type(&u));
        snprintf(alg_header, sizeof alg_header, "x-amz-checksum-%s", cksum_name(alg));
        checksum_elem_name(alg, alg_elem);
    }
    for (size_t i = 0; i < n; i++) {
        char t[32], etag[META_ETAG_MAX + 3];
        s3_time_iso(parts[i].mtime_ms, t);
        s3_quote_etag(parts[i].etag, etag);
        xmlw_open(&d.w, "Part");
        xmlw_elemf(&d.w, "PartNumber", "%u", parts[i].part_number);
        xmlw_elem(&d.w, "LastModified", t);
        xmlw_elem(&d.w, "ETag", etag);
        xmlw_elemf(&d.w, "Size", "%llu", (unsigned long long)parts[i].size);
        const char *sum = alg != CKSUM_NONE ? s3_attrs_get(parts[i].attrs, parts[i].attrs_len, alg_header) : NULL;
        if (sum)
            xmlw_elem(&d.w, alg_elem, sum);
        xmlw_close(&d.w);
    }
    xmlw_close(&d.w);
    meta_part_array_free(parts, n);
    meta_upload_release(&u);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_list_parts = {"ListParts", NULL, NULL, list_parts_end, NULL};

/* ---- ListMultipartUploads --------------------------------------------- */

/* One entry of the listing: an upload, or a common prefix (upload NULL). */
struct mpu_entry {
    struct meta_upload *upload;
    char *prefix;
};

static void list_mpu_end(struct s3_req *r)
{
    struct meta_bucket b;
    int bad = 0;
    if (s3_bucket_access_or_reply(r, &b) != 0)
        return;
    long max = int_param(r, "max-uploads", 1000, 0, 1000, &bad);
    if (bad) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "max-uploads must be a non-negative integer.");
        return;
    }
    const char *prefix = s3_param(r, "prefix");
    const char *delim = s3_param(r, "delimiter");
    const char *key_marker = s3_param(r, "key-marker");
    /* S3 ignores upload-id-marker without key-marker. */
    const char *id_marker = key_marker ? s3_param(r, "upload-id-marker") : NULL;
    size_t plen = prefix ? strlen(prefix) : 0;
    if (delim && !*delim)
        delim = NULL;

    /* Walk uploads in (key, id) order; keys under prefix that contain the
     * delimiter after it roll up into one common prefix, and the walk jumps
     * past everything under that prefix. */
    struct mpu_entry *ents = calloc((size_t)max + 1, sizeof *ents);
    size_t nents = 0;
    int truncated = 0, rc = 0;
    char *cursor_key = key_marker ? strdup(key_marker) : NULL;
    char *cursor_id = id_marker ? strdup(id_marker) : NULL;
    while (ents && max > 0) {
        struct meta_upload_list_req req = {r->bucket, prefix, cursor_key, cursor_id, 100};
        struct meta_upload *ups = NULL;
        size_t n = 0;
        int more = 0;
        rc = meta_upload_list(r->gw->meta, &req, &ups, &n, &more);
        if (rc)
            break;
        size_t used = 0;
        int jumped = 0;
        /* where the next page starts, unless a common prefix jumps ahead
         * (taken now: entries are moved out of ups below) */
        char *page_key = n ? strdup(ups[n - 1].key) : NULL;
        char *page_id = n ? strdup(ups[n - 1].upload_id) : NULL;
        for (; used < n && !jumped; used++) {
            struct meta_upload *u = &ups[used];
            const char *rest = u->key + plen;
            const char *d = delim ? strstr(rest, delim) : NULL;
            if ((size_t)nents == (size_t)max) {
                truncated = 1;
                break;
            }
            if (d) {
                size_t cpl = (size_t)(d - u->key) + strlen(delim);
                char *cp = strndup(u->key, cpl);
                if (!cp || (key_marker && strcmp(cp, key_marker) <= 0)) {
                    free(cp);
                    continue;
                }
                ents[nents++].prefix = cp;
                /* resume after every key that starts with cp */
                free(cursor_key);
                free(cursor_id);
                cursor_id = NULL;
                cursor_key = malloc(cpl + 2);
                if (cursor_key) {
                    memcpy(cursor_key, cp, cpl);
                    cursor_key[cpl] = (char)0xff;
                    cursor_key[cpl + 1] = 0;
                }
                jumped = 1;
            } else {
                ents[nents].upload = malloc(sizeof *u);
                if (ents[nents].upload) {
                    *ents[nents].upload = *u;
                    memset(u, 0, sizeof *u); /* moved */
                    nents++;
                }
            }
        }
        if (!jumped && n > 0 && used == n) {
            free(cursor_key);
            free(cursor_id);
            cursor_key = page_key;
            cursor_id = page_id;
            page_key = page_id = NULL;
        }
        free(page_key);
        free(page_id);
        meta_upload_array_free(ups, n);
        if (truncated || (!jumped && !more))
            break;
        if (!jumped && n == 0)
            break;
    }
    free(cursor_key);
    free(cursor_id);
    if (!ents || rc) {
        for (size_t i = 0; ents && i < nents; i++) {
            if (ents[i].upload)
                meta_upload_release(ents[i].upload);
            free(ents[i].upload);
            free(ents[i].prefix);
        }
        free(ents);
        s3_reply_rc(r, rc ? rc : -ENOMEM);
        return;
    }

    struct s3_doc d;
    s3_doc_begin(&d, "ListMultipartUploadsResult", 16u << 20);
    xmlw_elem(&d.w, "Bucket", r->bucket);
    xmlw_elem(&d.w, "KeyMarker", key_marker ? key_marker : "");
    xmlw_elem(&d.w, "UploadIdMarker", id_marker ? id_marker : "");
    const struct mpu_entry *last = nents ? &ents[nents - 1] : NULL;
    xmlw_elem(&d.w, "NextKeyMarker", !last ? "" : last->upload ? last->upload->key : last->prefix);
    xmlw_elem(&d.w, "NextUploadIdMarker", last && last->upload ? last->upload->upload_id : "");
    if (prefix)
        xmlw_elem(&d.w, "Prefix", prefix);
    if (delim)
        xmlw_elem(&d.w, "Delimiter", delim);
    xmlw_elemf(&d.w, "MaxUploads", "%ld", max);
    xmlw_elem(&d.w, "IsTruncated", truncated ? "true" : "false");
    for (size_t i = 0; i < nents; i++) {
        const struct meta_upload *u = ents[i].upload;
        if (!u)
            continue;
        char t[32];
        s3_time_iso(u->initiated_ms, t);
        xmlw_open(&d.w, "Upload");
        xmlw_elem(&d.w, "Key", u->key);
        xmlw_elem(&d.w, "UploadId", u->upload_id);
        xml_initiator(&d.w, b.owner);
        xmlw_elem(&d.w, "StorageClass", "STANDARD");
        xmlw_elem(&d.w, "Initiated", t);
        xmlw_close(&d.w);
    }
    for (size_t i = 0; i < nents; i++) {
        if (!ents[i].prefix)
            continue;
        xmlw_open(&d.w, "CommonPrefixes");
        xmlw_elem(&d.w, "Prefix", ents[i].prefix);
        xmlw_close(&d.w);
    }
    xmlw_close(&d.w);
    for (size_t i = 0; i < nents; i++) {
        if (ents[i].upload)
            meta_upload_release(ents[i].upload);
        free(ents[i].upload);
        free(ents[i].prefix);
    }
    free(ents);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_list_mpu = {"ListMultipartUploads", NULL, NULL, list_mpu_end, NULL};
