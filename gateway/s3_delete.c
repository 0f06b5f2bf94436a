/*
 * gateway/s3_delete.c - DeleteObjects (POST /bucket?delete): up to 1000
 * keys in one XML request, quiet or verbose result.  Each <Object> may be
 * conditional (<ETag>, <Size>, <LastModifiedTime>, as DeleteObject's
 * If-Match and x-amz-if-match-* headers): a condition that fails is an
 * <Error> for that key alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xml.h"
#include "gateway/s3_internal.h"

#define DELETE_MAX_KEYS 1000

static int delete_objects_begin(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return 0;
    if (r->content_length < 0 && !r->chunked)
        s3_reply_error(r, S3E_MISSING_CONTENT_LENGTH, NULL);
    return 0;
}

/* Content-MD5 or an x-amz-checksum-* header over the body, if sent. */
static int body_digest_ok(struct s3_req *r)
{
    const char *md5h = s3_header(r, "Content-MD5");
    if (md5h) {
        uint8_t want[64], got[16];
        if (strlen(md5h) > 40 || base64_decode(md5h, strlen(md5h), want) != 16)
            return 0;
        md5(r->body.data ? r->body.data : "", r->body.len, got);
        if (memcmp(want, got, 16) != 0)
            return 0;
    }
    return 1;
}

static void delete_objects_end(struct s3_req *r)
{
    struct xml_doc *doc = NULL;
    struct s3_doc d;
    if (!body_digest_ok(r)) {
        s3_reply_error(r, S3E_BAD_DIGEST, NULL);
        return;
    }
    if (!(doc = s3_xml_body_or_reply(r, "Delete")))
        return;
    struct xml_node *root = xml_root(doc);
    int quiet = strcmp(xml_child_text(root, "Quiet", "false"), "true") == 0;
    size_t count = 0;
    for (struct xml_node *o = xml_child(root, "Object"); o; o = xml_next_named(o, "Object")) {
        const char *key = xml_child_text(o, "Key", NULL);
        if (++count > DELETE_MAX_KEYS || !key || !*key || strlen(key) > META_KEY_MAX) {
            xml_doc_free(doc);
            s3_reply_error(r, S3E_MALFORMED_XML, NULL);
            return;
        }
    }
    if (count == 0) {
        xml_doc_free(doc);
        s3_reply_error(r, S3E_MALFORMED_XML, NULL);
        return;
    }

    s3_doc_begin(&d, "DeleteResult", 16u << 20);
    for (struct xml_node *o = xml_child(root, "Object"); o; o = xml_next_named(o, "Object")) {
        const char *key = xml_child_text(o, "Key", "");
        const char *version = xml_child_text(o, "VersionId", NULL);
        const char *etag = xml_child_text(o, "ETag", NULL);
        const char *size = xml_child_text(o, "Size", NULL);
        const char *mtime = xml_child_text(o, "LastModifiedTime", NULL);
        struct meta_precond pc;
        char if_match[META_ETAG_MAX];
        enum s3_err e = s3_delete_precond(etag, size, mtime, &pc, if_match);
        if (e == S3E_NONE)
            e = s3_err_from(s3_delete_one(r, key, version, (etag || size || mtime) ? &pc : NULL));
        if (e == S3E_NONE) {
            if (quiet)
                continue;
            xmlw_open(&d.w, "Deleted");
            xmlw_elem(&d.w, "Key", key);
            if (version)
                xmlw_elem(&d.w, "VersionId", version);
            xmlw_close(&d.w);
        } else {
            const struct s3_err_info *info = s3_err_info(e);
            xmlw_open(&d.w, "Error");
            xmlw_elem(&d.w, "Key", key);
            if (version)
                xmlw_elem(&d.w, "VersionId", version);
            xmlw_elem(&d.w, "Code", info->code);
            xmlw_elem(&d.w, "Message", info->message);
            xmlw_close(&d.w);
        }
    }
    xmlw_close(&d.w);
    xml_doc_free(doc);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_delete_objects = {"DeleteObjects", delete_objects_begin, NULL,
                                            delete_objects_end, NULL};
