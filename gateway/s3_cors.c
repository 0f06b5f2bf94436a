/*
 * gateway/s3_cors.c - CORS requests: Put/Get/DeleteBucketCors, the OPTIONS
 * preflight and the headers on actual responses.  The rules themselves
 * (validation, stored form, matching) are s3_cors_rules.c; see s3_cors.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/s3_cors.h"
#include "gateway/s3_internal.h"

/* ---- requests ---------------------------------------------------------- */

/* The bucket's stored rules (*blob malloc'd, free()); a meta code. */
static int cors_load(struct s3_req *r, char **blob, size_t *len)
{
    void *data = NULL;
    int rc = meta_bucket_config_get(r->gw->meta, r->bucket, S3_CORS_CONFIG, &data, len);
    if (rc == 0)
        *blob = data;
    return rc;
}

static int put_cors_begin(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return 0;
    r->body.max = S3_CORS_MAX_BODY;
    if (r->content_length > (int64_t)S3_CORS_MAX_BODY)
        s3_reply_error(r, S3E_MAX_MESSAGE_LENGTH, NULL);
    return 0;
}

static void put_cors_end(struct s3_req *r)
{
    struct buf blob;
    char msg[512];
    if (r->body.len == 0) {
        s3_reply_error(r, S3E_MISSING_REQUEST_BODY, NULL);
        return;
    }
    if (s3_body_digest_or_reply(r, 1) != 0) /* S3 requires one for PutBucketCors */
        return;
    buf_init(&blob, r->body.len + 16);
    enum s3_err e = s3_cors_parse(r->body.data, r->body.len, &blob, msg, sizeof msg);
    if (e != S3E_NONE) {
        s3_reply_error(r, e, msg[0] ? msg : NULL);
    } else {
        int rc = meta_bucket_config_set(r->gw->meta, r->bucket, S3_CORS_CONFIG, blob.data, blob.len);
        if (rc)
            s3_reply_rc(r, rc);
        else
            s3_reply_empty(r, 200);
    }
    buf_release(&blob);
}

static void get_cors_end(struct s3_req *r)
{
    char *blob = NULL;
    size_t len = 0;
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    int rc = cors_load(r, &blob, &len);
    if (rc == META_ENOTFOUND) {
        s3_reply_error(r, S3E_NO_SUCH_CORS, NULL);
        return;
    }
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    struct s3_doc d;
    s3_doc_begin(&d, "CORSConfiguration", 2 * S3_CORS_MAX_BODY + 4096);
    s3_cors_write_xml(blob, len, &d.w);
    xmlw_close(&d.w);
    free(blob);
    s3_doc_reply(r, &d);
}

static void delete_cors_end(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    int rc = meta_bucket_config_set(r->gw->meta, r->bucket, S3_CORS_CONFIG, NULL, 0);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    s3_reply_empty(r, 204);
}

static const struct s3_handler h_put_bucket_cors = {"PutBucketCors", put_cors_begin, NULL,
                                                    put_cors_end, NULL};
static const struct s3_handler h_get_bucket_cors = {"GetBucketCors", NULL, NULL, get_cors_end,
                                                    NULL};
static const struct s3_handler h_delete_bucket_cors = {"DeleteBucketCors", NULL, NULL,
                                                       delete_cors_end, NULL};

const struct s3_handler *s3_cors_route(struct s3_req *r)
{
    if (strcmp(r->method, "GET") == 0)
        return &h_get_bucket_cors;
    if (strcmp(r->method, "PUT") == 0)
        return &h_put_bucket_cors;
    if (strcmp(r->method, "DELETE") == 0)
        return &h_delete_bucket_cors;
    return NULL;
}

/* OPTIONS: S3's answers, in the order it checks. */
static void preflight_end(struct s3_req *r)
{
    const char *origin = s3_header(r, "Origin");
    const char *method = s3_header(r, "Access-Control-Request-Method");
    const char *request_headers = s3_header(r, "Access-Control-Request-Headers");
    char *blob = NULL;
    size_t len = 0;
    if (!origin || !*origin) {
        s3_reply_error(r, S3E_BAD_REQUEST, "Insufficient information. Origin request header needed.");
        return;
    }
    if (!method || !s3_cors_method_valid(method)) {
        char msg[320];
        method = method ? method : "null";
        snprintf(msg, sizeof msg, "Invalid Access-Control-Request-Method: %.*s",
                 s3_cors_utf8_prefix(method, 256), method);
        s3_reply_error(r, S3E_BAD_REQUEST, msg);
        return;
    }
    int rc = cors_load(r, &blob, &len);
    if (rc && rc != META_ENOTFOUND && rc != META_ENOBUCKET && rc != META_EINVAL) {
        s3_reply_rc(r, rc);
        return;
    }
    struct s3_cors_match m;
    if (rc == 0 && s3_cors_match(blob, len, origin, method, request_headers, &m)) {
        if (s3_cors_headers(&m, origin, request_headers, &r->hdrs) != 0)
            s3_reply_error(r, S3E_INTERNAL, NULL);
        else
            s3_reply_empty(r, 200);
        free(blob);
        return;
    }
    free(blob);
    s3_add_error_detail(r, "Method", method);
    s3_add_error_detail(r, "ResourceType", r->key ? "OBJECT" : "BUCKET");
    s3_reply_error(r, S3E_CORS_FORBIDDEN,
                   rc == META_ENOTFOUND ? "CORSResponse: CORS is not enabled for this bucket."
                   : rc                 ? "CORSResponse: Bucket not found"
                                        : NULL);
}

const struct s3_handler h_cors_preflight = {"PreflightCors", NULL, NULL, preflight_end, NULL};

void s3_cors_reply_headers(struct s3_req *r)
{
    char *blob = NULL;
    size_t len = 0;
    if (!r->bucket || !r->method || strcmp(r->method, "OPTIONS") == 0)
        return;
    const char *origin = s3_header(r, "Origin");
    if (!origin || !*origin)
        return;
    const char *method = s3_header(r, "Access-Control-Request-Method");
    if (!method)
        method = r->method;
    if (cors_load(r, &blob, &len) != 0)
        return;
    struct s3_cors_match m;
    if (s3_cors_match(blob, len, origin, method, NULL, &m)) {
        size_t before = r->hdrs.len;
        if (s3_cors_headers(&m, origin, NULL, &r->hdrs) != 0)
            r->hdrs.len = before; /* all or none */
    }
    free(blob);
}
