/*
 * gateway/s3_list.c - ListObjects (V1), ListObjectsV2, ListObjectVersions.
 *
 * The metadata layer walks keys and common prefixes in order and seeks past
 * rolled-up prefixes; this file only turns S3's parameters into a
 * meta_list_req and the result into S3's XML, with each version's quirks
 * (NextMarker only with a delimiter in V1; KeyCount and opaque
 * continuation tokens in V2; Owner only with fetch-owner in V2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xml.h"
#include "gateway/s3_internal.h"

#define LIST_MAX_KEYS 1000

/* Write text as an element, URL-encoded when encoding-type=url. */
static void elem_maybe_encoded(struct xml_writer *w, const char *name, const char *text, int url)
{
    if (!url) {
        xmlw_elem(w, name, text);
        return;
    }
    struct buf b;
    buf_init(&b, 16384);
    if (uri_encode(&b, text, strlen(text), URI_KEEP_SLASH) == 0)
        xmlw_elem(w, name, b.data ? b.data : "");
    buf_release(&b);
}

/* encoding-type: absent or "url". */
static int encoding_or_reply(struct s3_req *r, int *url)
{
    const char *enc = s3_param(r, "encoding-type");
    if (enc && strcmp(enc, "url") != 0) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Invalid Encoding Method specified in Request");
        return -1;
    }
    *url = enc != NULL;
    return 0;
}

/* S3 lists the rolled-up prefixes after the keys. */
static void write_common_prefixes(struct xml_writer *w, const struct meta_list_res *res, int url)
{
    for (size_t i = 0; i < res->n; i++) {
        if (!res->entries[i].is_prefix)
            continue;
        xmlw_open(w, "CommonPrefixes");
        elem_maybe_encoded(w, "Prefix", res->entries[i].key, url);
        xmlw_close(w);
    }
}

static int max_keys_or_reply(struct s3_req *r, size_t *out)
{
    const char *mk = s3_param(r, "max-keys");
    *out = LIST_MAX_KEYS;
    if (!mk)
        return 0;
    char *end;
    long v = strtol(mk, &end, 10);
    if (!*mk || *end || v < 0) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Provided max-keys not an integer or within integer range");
        return -1;
    }
    if (v < LIST_MAX_KEYS)
        *out = (size_t)v;
    return 0;
}

static void list_objects_end(struct s3_req *r)
{
    struct meta_bucket bucket;
    struct meta_list_res res = {0};
    struct s3_doc d;
    char *token_key = NULL;
    size_t max_keys;
    int v2 = 0;

    if (s3_bucket_access_or_reply(r, &bucket) != 0)
        return;
    const char *lt = s3_param(r, "list-type");
    if (lt) {
        if (strcmp(lt, "2") != 0) {
            s3_reply_error(r, S3E_INVALID_ARGUMENT, "Invalid list-type.");
            return;
        }
        v2 = 1;
    }
    if (max_keys_or_reply(r, &max_keys) != 0)
        return;
    int url;
    if (encoding_or_reply(r, &url) != 0)
        return;
    const char *prefix = s3_param(r, "prefix");
    const char *delim = s3_param(r, "delimiter");
    const char *marker = v2 ? NULL : s3_param(r, "marker");
    const char *start_after = v2 ? s3_param(r, "start-after") : NULL;
    const char *token = v2 ? s3_param(r, "continuation-token") : NULL;
    int fetch_owner = !v2;
    if (v2) {
        const char *fo = s3_param(r, "fetch-owner");
        fetch_owner = fo && strcmp(fo, "true") == 0;
    }

    const char *from = v2 ? start_after : marker;
    if (token) {
        /* Our tokens are the base64 of the last key or prefix returned. */
        size_t tl = strlen(token);
        token_key = malloc(tl + 1);
        long n = token_key && tl <= 4 * META_KEY_MAX ? base64_decode(token, tl, (uint8_t *)token_key) : -1;
        if (n <= 0) {
            free(token_key);
            s3_reply_error(r, S3E_INVALID_ARGUMENT, "The continuation token provided is incorrect");
            return;
        }
        token_key[n] = 0;
        from = token_key;
    }

    if (max_keys > 0) {
        struct meta_list_req req = {r->bucket, prefix, delim, from, max_keys};
        int rc = meta_object_list(r->gw->meta, &req, &res);
        if (rc) {
            free(token_key);
            s3_reply_rc(r, rc);
            return;
        }
    }

    s3_doc_begin(&d, "ListBucketResult", 64u << 20);
    xmlw_elem(&d.w, "Name", r->bucket);
    elem_maybe_encoded(&d.w, "Prefix", prefix ? prefix : "", url);
    if (v2) {
        if (token)
            xmlw_elem(&d.w, "ContinuationToken", token);
        if (start_after)
            elem_maybe_encoded(&d.w, "StartAfter", start_after, url);
        xmlw_elemf(&d.w, "KeyCount", "%zu", res.n);
    } else {
        elem_maybe_encoded(&d.w, "Marker", marker ? marker : "", url);
    }
    xmlw_elemf(&d.w, "MaxKeys", "%zu", max_keys);
    if (delim)
        elem_maybe_encoded(&d.w, "Delimiter", delim, url);
    xmlw_elem(&d.w, "IsTruncated", res.truncated ? "true" : "false");
    if (res.truncated && res.n) {
        const char *last = res.entries[res.n - 1].key;
        if (v2) {
            size_t ll = strlen(last);
            char *tok = malloc(base64_encoded_len(ll) + 1);
            if (tok) {
                base64_encode((const uint8_t *)last, ll, tok);
                xmlw_elem(&d.w, "NextContinuationToken", tok);
                free(tok);
            }
        } else if (delim) {
            elem_maybe_encoded(&d.w, "NextMarker", last, url);
        }
    }
    if (url)
        xmlw_elem(&d.w, "EncodingType", "url");
    for (size_t i = 0; i < res.n; i++) {
        const struct meta_list_entry *e = &res.entries[i];
        if (e->is_prefix)
            continue;
        char t[32], etag[META_ETAG_MAX + 3];
        s3_time_iso(e->mtime_ms, t);
        s3_quote_etag(e->etag, etag);
        xmlw_open(&d.w, "Contents");
        elem_maybe_encoded(&d.w, "Key", e->key, url);
        xmlw_elem(&d.w, "LastModified", t);
        xmlw_elem(&d.w, "ETag", etag);
        xmlw_elemf(&d.w, "Size", "%llu", (unsigned long long)e->size);
        if (fetch_owner) {
            xmlw_open(&d.w, "Owner");
            xmlw_elem(&d.w, "ID", bucket.owner);
            xmlw_elem(&d.w, "DisplayName", bucket.owner);
            xmlw_close(&d.w);
        }
        xmlw_elem(&d.w, "StorageClass", "STANDARD");
        xmlw_close(&d.w);
    }
    write_common_prefixes(&d.w, &res, url);
    xmlw_close(&d.w);
    meta_list_res_release(&res);
    free(token_key);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_list_objects = {"ListObjects", NULL, NULL, list_objects_end, NULL};

/* An entry of ListObjectVersions: a <Version> or a <DeleteMarker>. */
static void write_version(struct xml_writer *w, const struct meta_list_entry *e,
                          const char *owner, int url)
{
    char t[32], etag[META_ETAG_MAX + 3];
    int marker = (e->flags & META_OBJ_DELETE_MARKER) != 0;
    s3_time_iso(e->mtime_ms, t);
    xmlw_open(w, marker ? "DeleteMarker" : "Version");
    elem_maybe_encoded(w, "Key", e->key, url);
    xmlw_elem(w, "VersionId", e->version_id);
    xmlw_elem(w, "IsLatest", e->is_latest ? "true" : "false");
    xmlw_elem(w, "LastModified", t);
    if (!marker) {
        s3_quote_etag(e->etag, etag);
        xmlw_elem(w, "ETag", etag);
        xmlw_elemf(w, "Size", "%llu", (unsigned long long)e->size);
        xmlw_elem(w, "StorageClass", "STANDARD");
    }
    xmlw_open(w, "Owner");
    xmlw_elem(w, "ID", owner);
    xmlw_elem(w, "DisplayName", owner);
    xmlw_close(w);
    xmlw_close(w);
}

/*
 * ListObjectVersions: every version and delete marker, each key's newest
 * first (meta_object_list_versions).  A truncated page names its last
 * entry as NextKeyMarker, and its version as NextVersionIdMarker unless it
 * is a common prefix: fed back as key-marker / version-id-marker they
 * resume exactly after it, also inside the versions of one key.
 */
static void list_versions_end(struct s3_req *r)
{
    struct meta_bucket bucket;
    struct meta_list_res res = {0};
    struct s3_doc d;
    size_t max_keys;

    if (s3_bucket_access_or_reply(r, &bucket) != 0)
        return;
    if (max_keys_or_reply(r, &max_keys) != 0)
        return;
    int url;
    if (encoding_or_reply(r, &url) != 0)
        return;
    const char *prefix = s3_param(r, "prefix");
    const char *delim = s3_param(r, "delimiter");
    const char *key_marker = s3_param(r, "key-marker");
    const char *vid_marker = s3_param(r, "version-id-marker");
    if (vid_marker && !vid_marker[0])
        vid_marker = NULL;
    if (vid_marker && !(key_marker && key_marker[0])) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "A version-id marker cannot be specified without "
                                                "a key marker.");
        return;
    }
    if (vid_marker && !s3_version_id_valid(vid_marker)) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Invalid version id specified");
        return;
    }
    if (max_keys > 0) {
        struct meta_version_list_req req = {r->bucket, prefix, delim, key_marker, vid_marker,
                                            max_keys};
        int rc = meta_object_list_versions(r->gw->meta, &req, &res);
        if (rc) {
            s3_reply_rc(r, rc);
            return;
        }
    }
    s3_doc_begin(&d, "ListVersionsResult", 64u << 20);
    xmlw_elem(&d.w, "Name", r->bucket);
    elem_maybe_encoded(&d.w, "Prefix", prefix ? prefix : "", url);
    elem_maybe_encoded(&d.w, "KeyMarker", key_marker ? key_marker : "", url);
    xmlw_elem(&d.w, "VersionIdMarker", vid_marker ? vid_marker : "");
    if (res.truncated && res.n) {
        const struct meta_list_entry *last = &res.entries[res.n - 1];
        elem_maybe_encoded(&d.w, "NextKeyMarker", last->key, url);
        if (!last->is_prefix)
            xmlw_elem(&d.w, "NextVersionIdMarker", last->version_id);
    }
    xmlw_elemf(&d.w, "MaxKeys", "%zu", max_keys);
    if (delim)
        elem_maybe_encoded(&d.w, "Delimiter", delim, url);
    xmlw_elem(&d.w, "IsTruncated", res.truncated ? "true" : "false");
    if (url)
        xmlw_elem(&d.w, "EncodingType", "url");
    for (size_t i = 0; i < res.n; i++)
        if (!res.entries[i].is_prefix)
            write_version(&d.w, &res.entries[i], bucket.owner, url);
    write_common_prefixes(&d.w, &res, url);
    xmlw_close(&d.w);
    meta_list_res_release(&res);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_list_versions = {"ListObjectVersions", NULL, NULL, list_versions_end, NULL};
