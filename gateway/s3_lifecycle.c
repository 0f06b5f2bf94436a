/*
 * gateway/s3_lifecycle.c - PutBucketLifecycleConfiguration,
 * GetBucketLifecycleConfiguration, DeleteBucketLifecycle (?lifecycle on a
 * bucket; the older PutBucketLifecycle / GetBucketLifecycle use the same
 * requests with legacy top-level <Prefix> rules).
 *
 * The rules are validated by lifecycle_parse_xml() and kept as the
 * bucket configuration "lifecycle" in their compact JSON form, which the
 * worker (lifecycle_worker.c) reads on each pass; GET writes the XML
 * back from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/lifecycle.h"
#include "gateway/s3_internal.h"

/* The answer holds at most 1000 rules of a 1 KiB prefix, ten tags and an
 * ID each. */
#define LIFECYCLE_XML_MAX (8u << 20)

static void get_lifecycle_end(struct s3_req *r)
{
    void *data = NULL;
    size_t len = 0;
    struct lifecycle_config c = {NULL, 0};
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    int rc = meta_bucket_config_get(r->gw->meta, r->bucket, "lifecycle", &data, &len);
    if (rc == META_ENOTFOUND) {
        s3_reply_error(r, S3E_NO_SUCH_LIFECYCLE, NULL);
        return;
    }
    if (rc == 0 && lifecycle_from_json(data, len, &c) != 0)
        rc = META_ECORRUPT;
    free(data);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    struct s3_doc d;
    s3_doc_begin(&d, "LifecycleConfiguration", LIFECYCLE_XML_MAX);
    lifecycle_write_xml(&c, &d.w);
    xmlw_close(&d.w);
    lifecycle_config_release(&c);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_get_lifecycle = {"GetBucketLifecycleConfiguration", NULL, NULL,
                                           get_lifecycle_end, NULL};

static int put_lifecycle_begin(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return 0;
    if (r->content_length < 0 && !r->chunked)
        s3_reply_error(r, S3E_MISSING_CONTENT_LENGTH, NULL);
    return 0;
}

static void put_lifecycle_end(struct s3_req *r)
{
    struct lifecycle_config c = {NULL, 0};
    char msg[LIFECYCLE_MSG_MAX];
    struct xml_doc *doc = s3_xml_body_or_reply(r, "LifecycleConfiguration");
    if (!doc)
        return;
    enum s3_err e = lifecycle_parse_doc(doc, &c, msg);
    xml_doc_free(doc);
    if (e != S3E_NONE) {
        s3_reply_error(r, e, msg[0] ? msg : NULL);
        return;
    }
    char *json = lifecycle_to_json(&c);
    lifecycle_config_release(&c);
    if (!json) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
        return;
    }
    size_t len = strlen(json);
    int rc = len > META_CONFIG_MAX ? -1
                                   : meta_bucket_config_set(r->gw->meta, r->bucket, "lifecycle",
                                                            json, len);
    free(json);
    if (rc == -1) {
        snprintf(msg, sizeof msg,
                 "The lifecycle configuration takes %zu bytes stored; cairn keeps at most %u.", len,
                 (unsigned)META_CONFIG_MAX);
        s3_reply_error(r, S3E_INVALID_REQUEST, msg);
        return;
    }
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    s3_reply_empty(r, 200);
}

const struct s3_handler h_put_lifecycle = {"PutBucketLifecycleConfiguration", put_lifecycle_begin,
                                           NULL, put_lifecycle_end, NULL};

static void delete_lifecycle_end(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    int rc = meta_bucket_config_set(r->gw->meta, r->bucket, "lifecycle", NULL, 0);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    s3_reply_empty(r, 204);
}

const struct s3_handler h_delete_lifecycle = {"DeleteBucketLifecycle", NULL, NULL,
                                              delete_lifecycle_end, NULL};
