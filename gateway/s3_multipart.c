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

static void create_mpu_end(struct s3_req *r)
{
    struct meta_upload u;
    struct buf attrs;
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    buf_init(&attrs, 8192);
    if (s3_attrs_from_request_or_reply(r, &attrs) != 0) {
        buf_release(&attrs);
        return;
    }
    const char *alg = s3_header(r, "x-amz-checksum-algorithm");
    if (alg) {
        enum cksum_alg a = cksum_from_name(alg, strlen(alg));
        if (a == CKSUM_NONE || a == CKSUM_MD5) {
            buf_release(&attrs);
            s3_reply_error(r, S3E_INVALID_REQUEST, "Checksum algorithm provided is unsupported.");
            return;
        }
        buf_append(&attrs, "x-amz-checksum-algorithm", 25);
        buf_append(&attrs, cksum_name(a), strlen(cksum_name(a)) + 1);
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
        s3_reply_rc(r, rc);
        return;
    }
    struct s3_doc d;
    s3_doc_begin(&d, "InitiateMultipartUploadResult", 16384);
    xmlw_elem(&d.w, "Bucket", r->bucket);
    xmlw_elem(&d.w, "Key", r->key);
    xmlw_elem(&d.w, "UploadId", u.upload_id);
    xmlw_close(&d.w);
    if (alg)
        s3_add_header(r, "x-amz-checksum-algorithm", alg);
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
    if (buf_append(out, name, strlen(name) + 1) ||
        buf_append(out, p->checksum_b64, strlen(p->checksum_b64) + 1))
        return -1;
    return 0;
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
    hex_encode(ol_writer_md5(ps->put.w), 16, part->etag);
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
    uint8_t *tmp = NULL;
    memset(&src, 0, sizeof src);
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
    if (s3_copy_source_or_reply(r, &src) != 0)
        return;
    const struct meta_object *so = ol_reader_object(src.rd);
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
    struct ol_writer_opts o = {0, CKSUM_NONE, OL_MAX_PUT_SIZE};
    buf_init(&ps->put.attrs, 4096);
    int rc = ol_writer_new(r->gw->ol, &o, &ps->put.w);
    if (rc == 0 && !(tmp = malloc(1u << 20)))
        rc = -ENOMEM;
    /* Copy through the chunker: chunks that cut the same as the source's
     * are deduplicated, so an aligned copy stores nothing new. */
    for (uint64_t done = 0; rc == 0 && done < len;) {
        size_t want = len - done < (1u << 20) ? (size_t)(len - done) : (1u << 20);
        long n = ol_reader_read(src.rd, first + done, tmp, want);
        if (n <= 0) {
            rc = n ? (int)n : CS_EUNAVAIL;
            break;
        }
        rc = ol_writer_write(ps->put.w, tmp, (size_t)n);
        done += (uint64_t)n;
    }
    free(tmp);
    s3_copy_src_release(&src);
    if (rc == 0)
        rc = ol_writer_finish(ps->put.w);
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
    xmlw_close(&d.w);
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

static void complete_mpu_end(struct s3_req *r)
{
    struct meta_upload u;
    struct xml_doc *doc = NULL;
    struct meta_part *stored = NULL;
    size_t nstored = 0, nreq = 0;
    uint32_t *numbers = NULL;
    uint64_t *sizes = NULL;
    char (*etags)[META_ETAG_MAX] = NULL;
    const char **etag_ptrs = NULL;
    struct buf attrs;
    int have_upload = 0;
    enum s3_err err = S3E_NONE;
    const char *err_msg = NULL;

    buf_init(&attrs, META_ATTRS_MAX);
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        goto out;
    if (upload_or_reply(r, &u) != 0)
        goto out;
    have_upload = 1;
    if (xml_parse(r->body.data ? r->body.data : "", r->body.len, &doc) != 0 ||
        strcmp(xml_root(doc)->name, "CompleteMultipartUpload") != 0) {
        err = S3E_MALFORMED_XML;
        goto out;
    }
    struct xml_node *root = xml_root(doc);
    for (struct xml_node *p = xml_child(root, "Part"); p; p = xml_next_named(p, "Part"))
        nreq++;
    if (nreq == 0 || nreq > OL_MAX_PARTS) {
        err = S3E_MALFORMED_XML;
        goto out;
    }
    numbers = calloc(nreq, sizeof *numbers);
    sizes = calloc(nreq, sizeof *sizes);
    etags = calloc(nreq, sizeof *etags);
    etag_ptrs = calloc(nreq, sizeof *etag_ptrs);
    if (!numbers || !sizes || !etags || !etag_ptrs) {
        err = S3E_INTERNAL;
        goto out;
    }
    size_t i = 0;
    for (struct xml_node *p = xml_child(root, "Part"); p; p = xml_next_named(p, "Part"), i++) {
        const char *num = xml_child_text(p, "PartNumber", NULL);
        const char *etag = xml_child_text(p, "ETag", NULL);
        char *end;
        long v = num ? strtol(num, &end, 10) : 0;
        if (!num || !*num || *end || v < 1 || v > OL_MAX_PARTS || !etag) {
            err = S3E_MALFORMED_XML;
            goto out;
        }
        numbers[i] = (uint32_t)v;
        strip_quotes(etag, etags[i], META_ETAG_MAX);
        etag_ptrs[i] = etags[i];
        if (i > 0 && numbers[i] <= numbers[i - 1]) {
            err = S3E_INVALID_PART_ORDER;
            goto out;
        }
    }
    int rc = all_parts(r, u.upload_id, &stored, &nstored);
    if (rc) {
        s3_reply_rc(r, rc);
        goto out;
    }
    /* Check every named part, compute the multipart ETag and size. */
    struct cksum etag_md5, sum;
    enum cksum_alg alg = upload_alg(&u);
    char alg_header[40] = "", alg_elem[40] = "";
    int composite_ok = alg != CKSUM_NONE;
    uint64_t size = 0;
    cksum_init(&etag_md5, CKSUM_MD5);
    if (alg != CKSUM_NONE) {
        cksum_init(&sum, alg);
        snprintf(alg_header, sizeof alg_header, "x-amz-checksum-%s", cksum_name(alg));
        checksum_elem_name(alg, alg_elem);
    }
    const struct xml_node *pn = xml_child(root, "Part");
    for (i = 0; i < nreq; i++, pn = xml_next_named(pn, "Part")) {
        const struct meta_part *p = find_part(stored, nstored, numbers[i]);
        uint8_t bin[16];
        if (!p || strcmp(p->etag, etags[i]) != 0) {
            err = S3E_INVALID_PART;
            break;
        }
        /* A part checksum named in the request must be the stored one. */
        const char *given = alg != CKSUM_NONE ? xml_child_text(pn, alg_elem, NULL) : NULL;
        const char *have = given ? s3_attrs_get(p->attrs, p->attrs_len, alg_header) : NULL;
        if (given && (!have || strcmp(given, have) != 0)) {
            err = S3E_INVALID_PART;
            break;
        }
        if (i + 1 < nreq && p->size < OL_MIN_PART_SIZE) {
            err = S3E_ENTITY_TOO_SMALL;
            break;
        }
        hex_decode(p->etag, 32, bin, 16);
        cksum_update(&etag_md5, bin, 16);
        size += p->size;
        sizes[i] = p->size;
        if (alg != CKSUM_NONE) {
            const char *v = s3_attrs_get(p->attrs, p->attrs_len, alg_header);
            uint8_t raw[64];
            long n = v ? base64_decode(v, strlen(v), raw) : -1;
            if (n > 0)
                cksum_update(&sum, raw, (size_t)n);
            else
                composite_ok = 0;
        }
    }
    uint8_t md5_out[CKSUM_MAX_LEN], sum_out[CKSUM_MAX_LEN];
    cksum_final(&etag_md5, md5_out);
    size_t sum_len = alg != CKSUM_NONE ? cksum_final(&sum, sum_out) : 0;
    if (err != S3E_NONE)
        goto out;

    /* The object keeps the upload's headers plus a composite checksum. */
    if (buf_append(&attrs, u.attrs, u.attrs_len) != 0) {
        err = S3E_INTERNAL;
        goto out;
    }
    char composite[96] = "";
    if (composite_ok) {
        base64_encode(sum_out, sum_len, composite);
        snprintf(composite + strlen(composite), sizeof composite - strlen(composite), "-%zu", nreq);
        buf_append(&attrs, alg_header, strlen(alg_header) + 1);
        buf_append(&attrs, composite, strlen(composite) + 1);
    }
    /* ... and its part sizes, for GetObject ?partNumber */
    rc = s3_attrs_add_part_sizes(&attrs, sizes, nreq);
    if (rc == -ENOSPC)
        log_msg(LOG_INFO, r->id, "%zu part sizes too varied to keep: no ?partNumber reads", nreq);
    else if (rc) {
        err = S3E_INTERNAL;
        goto out;
    }
    struct meta_object o;
    memset(&o, 0, sizeof o);
    o.key = r->key;
    s3_new_version_id(o.version_id);
    o.mtime_ms = ol_now_ms();
    o.size = size;
    hex_encode(md5_out, 16, o.etag);
    snprintf(o.etag + 32, META_ETAG_MAX - 32, "-%zu", nreq);
    o.attrs = (uint8_t *)attrs.data;
    o.attrs_len = (uint32_t)attrs.len;
    struct meta_precond pc;
    char if_match[META_ETAG_MAX];
    if (s3_write_precond_or_reply(r, &pc, if_match) != 0)
        goto out;
    rc = meta_upload_complete(r->gw->meta, r->bucket, r->key, u.upload_id, numbers, etag_ptrs, nreq,
                              &o, &pc, NULL);
    if (rc) {
        s3_reply_rc(r, rc);
        goto out;
    }
    struct s3_doc d;
    char etag[META_ETAG_MAX + 3], location[2048];
    const char *host = s3_header(r, "Host");
    s3_quote_etag(o.etag, etag);
    snprintf(location, sizeof location, "http://%s%s", host ? host : "localhost", r->raw_path);
    s3_doc_begin(&d, "CompleteMultipartUploadResult", 16384);
    xmlw_elem(&d.w, "Location", location);
    xmlw_elem(&d.w, "Bucket", r->bucket);
    xmlw_elem(&d.w, "Key", r->key);
    xmlw_elem(&d.w, "ETag", etag);
    if (composite_ok)
        xmlw_elem(&d.w, alg_elem, composite);
    xmlw_close(&d.w);
    s3_doc_reply(r, &d);
out:
    if (err != S3E_NONE)
        s3_reply_error(r, err, err_msg);
    if (have_upload)
        meta_upload_release(&u);
    meta_part_array_free(stored, nstored);
    xml_doc_free(doc);
    free(numbers);
    free(sizes);
    free(etags);
    free(etag_ptrs);
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
        snprintf(upper, sizeof upper, "%s", cksum_name(alg));
        for (char *c = upper; *c; c++)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)(*c - 'a' + 'A');
        xmlw_elem(&d.w, "ChecksumAlgorithm", upper);
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
