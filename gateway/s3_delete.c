/*
 * gateway/s3_delete.c - DeleteObjects (POST /bucket?delete): up to 1000
 * keys in one XML request, quiet or verbose result.  Each <Object> may name
 * a version (<VersionId>) and may be conditional (<ETag>, <Size>,
 * <LastModifiedTime>, as DeleteObject's If-Match and x-amz-if-match-*
 * headers): a condition that fails is an <Error> for that key alone.  As
 * in S3, a key (or key and version) named twice is deleted once, and a
 * delete marker removed or added is reported with <DeleteMarker>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xml.h"
#include "gateway/s3_internal.h"
#include "gateway/s3_policy.h"

#define DELETE_MAX_KEYS 1000

static int delete_objects_begin(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return 0;
    if (r->content_length < 0 && !r->chunked)
        s3_reply_error(r, S3E_MISSING_CONTENT_LENGTH, NULL);
    return 0;
}

/* Whether an <Object> before o names the same key and version (or the
 * same key without a version). */
static int named_before(struct xml_node *root, struct xml_node *o, const char *key,
                        const char *version)
{
    for (struct xml_node *p = xml_child(root, "Object"); p != o; p = xml_next_named(p, "Object")) {
        const char *pv = xml_child_text(p, "VersionId", NULL);
        if (strcmp(xml_child_text(p, "Key", ""), key) == 0 && (!pv == !version) &&
            (!pv || strcmp(pv, version) == 0))
            return 1;
    }
    return 0;
}

/* A <Deleted> entry: the version asked for, and the delete marker removed
 * or added (gone, as s3_delete_one reports it). */
static void write_deleted(struct xml_writer *w, const char *key, const char *version,
                          const struct meta_object *gone)
{
    xmlw_open(w, "Deleted");
    xmlw_elem(w, "Key", key);
    if (version)
        xmlw_elem(w, "VersionId", version);
    if (gone->key && (gone->flags & META_OBJ_DELETE_MARKER)) {
        xmlw_elem(w, "DeleteMarker", "true");
        xmlw_elem(w, "DeleteMarkerVersionId", gone->version_id);
    }
    xmlw_close(w);
}

static void delete_objects_end(struct s3_req *r)
{
    struct xml_doc *doc = NULL;
    struct s3_policy *pol = NULL;
    struct meta_bucket b;
    struct s3_doc d;
    /* each key is judged on its own (s3:DeleteObject on bucket/key) */
    int rc = meta_bucket_get(r->gw->meta, r->bucket, &b);
    if (rc == 0)
        rc = s3_bucket_policy_load(r, r->bucket, &pol);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    if (!(doc = s3_xml_body_or_reply(r, "Delete"))) {
        s3_policy_free(pol);
        return;
    }
    struct xml_node *root = xml_root(doc);
    int quiet = strcmp(xml_child_text(root, "Quiet", "false"), "true") == 0;
    size_t count = 0;
    for (struct xml_node *o = xml_child(root, "Object"); o; o = xml_next_named(o, "Object")) {
        const char *key = xml_child_text(o, "Key", NULL);
        if (++count > DELETE_MAX_KEYS || !key || !*key || strlen(key) > META_KEY_MAX) {
            xml_doc_free(doc);
            s3_policy_free(pol);
            s3_reply_error(r, S3E_MALFORMED_XML, NULL);
            return;
        }
    }
    if (count == 0) {
        xml_doc_free(doc);
        s3_policy_free(pol);
        s3_reply_error(r, S3E_MALFORMED_XML, NULL);
        return;
    }

    s3_doc_begin(&d, "DeleteResult", 16u << 20);
    for (struct xml_node *o = xml_child(root, "Object"); o; o = xml_next_named(o, "Object")) {
        const char *key = xml_child_text(o, "Key", "");
        const char *version = xml_child_text(o, "VersionId", NULL);
        if (named_before(root, o, key, version))
            continue; /* S3 deletes (and reports) each key and version once */
        const char *etag = xml_child_text(o, "ETag", NULL);
        const char *size = xml_child_text(o, "Size", NULL);
        const char *mtime = xml_child_text(o, "LastModifiedTime", NULL);
        struct meta_precond pc;
        struct meta_object gone = {0};
        char if_match[META_ETAG_MAX];
        const char *msg = NULL;
        enum s3_err e = s3_delete_precond(etag, size, mtime, &pc, if_match);
        if (e == S3E_NONE && version && !s3_version_id_valid(version)) {
            e = S3E_INVALID_ARGUMENT;
            msg = "Invalid version id specified";
        }
        if (e == S3E_NONE &&
            s3_access_allowed(r, &b, pol, version ? "s3:DeleteObjectVersion" : "s3:DeleteObject",
                              key, version) != S3_ALLOWED)
            e = S3E_ACCESS_DENIED;
        if (e == S3E_NONE)
            e = s3_err_from(s3_delete_one(r, key, version, (etag || size || mtime) ? &pc : NULL,
                                          &gone));
        if (e == S3E_NONE) {
            if (!quiet)
                write_deleted(&d.w, key, version, &gone);
            meta_object_release(&gone);
            continue;
        }
        const struct s3_err_info *info = s3_err_info(e);
        xmlw_open(&d.w, "Error");
        xmlw_elem(&d.w, "Key", key);
        if (version)
            xmlw_elem(&d.w, "VersionId", version);
        xmlw_elem(&d.w, "Code", info->code);
        xmlw_elem(&d.w, "Message", msg ? msg : info->message);
        xmlw_close(&d.w);
    }
    xmlw_close(&d.w);
    xml_doc_free(doc);
    s3_policy_free(pol);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_delete_objects = {"DeleteObjects", delete_objects_begin, NULL,
                                            delete_objects_end, NULL};
