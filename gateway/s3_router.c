/*
 * gateway/s3_router.c - from a request target to a handler.
 *
 * Path-style (/bucket/key) and virtual-hosted style (bucket.DOMAIN/key)
 * addressing; sub-resources in the query pick the operation.  cairn's own
 * endpoints live under /_cairn/, a path no bucket can have (bucket names
 * never start with '_').
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "gateway/s3_cors.h"
#include "gateway/s3_internal.h"

/* Sub-resources cairn does not implement yet: answered NotImplemented with
 * the name, instead of being mistaken for a plain GET/PUT. */
static const char *const unsupported[] = {
    "analytics", "attributes", "intelligent-tiering", "inventory", "metrics", "restore",
    "select", "torrent", NULL,
};

/* Bucket configurations cairn does not store: reading one answers what
 * S3 answers for a bucket without it (s3_bucket.c; ownershipControls and
 * policyStatus have readers of their own); writing one is NotImplemented. */
static const char *const bucket_configs[] = {
    "accelerate", "logging", "notification", "ownershipControls", "policyStatus",
    "publicAccessBlock", "replication", "requestPayment", "website", NULL,
};

static const char *find_param(struct s3_req *r, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (s3_has_param(r, names[i]))
            return names[i];
    return NULL;
}

static const char *unsupported_subresource(struct s3_req *r)
{
    const char *name = find_param(r, unsupported);
    if (name)
        return name;
    if (r->key)
        return NULL;
    name = find_param(r, bucket_configs);
    if (name && strcmp(r->method, "GET") != 0)
        return name;
    return NULL;
}

/* Valid UTF-8 without NUL or C0/DEL control characters other than those
 * S3 keys may carry (S3 allows them; XML 1.0 cannot carry them, and
 * responses escape what XML allows). */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        unsigned cp;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Bucket from a virtual-hosted Host header, or NULL. */
static char *bucket_from_host(struct s3_req *r)
{
    const char *domain = r->gw->domain;
    const char *host = s3_header(r, "Host");
    if (!domain || !host)
        return NULL;
    size_t hl = strcspn(host, ":");
    if (host[0] == '[') /* IPv6 literal: never virtual-hosted */
        return NULL;
    size_t dl = strlen(domain);
    if (hl <= dl + 1 || host[hl - dl - 1] != '.' || strncasecmp(host + hl - dl, domain, dl) != 0)
        return NULL;
    char *b = strndup(host, hl - dl - 1);
    for (char *p = b; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return b;
}

static char *decode_component(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    long len = uri_decode(s, n, out, n + 1, 0);
    if (len < 0 || !valid_utf8((unsigned char *)out, (size_t)len)) {
        free(out);
        return NULL;
    }
    return out;
}

/* cairn's sync extension calls (docs/sync-protocol.md), picked by a query
 * parameter of their own; level 0 service, 1 bucket, 2 object. */
static const struct sync_call {
    const char *param, *method;
    int level;
    const struct s3_handler *h;
} sync_calls[] = {
    {"cairn-sync", "GET", 0, &h_sync_info},
    {"cairn-missing", "POST", 1, &h_sync_missing},
    {"cairn-chunk", "PUT", 1, &h_sync_chunk},
    {"cairn-changes", "GET", 1, &h_sync_changes},
    {"cairn-commit", "PUT", 2, &h_sync_commit},
    {"cairn-chunks", "GET", 2, &h_sync_chunks},
};

/* The sync call r makes, NULL if none; *is_sync says whether r names one
 * at all (then a NULL answer is a wrong method or level). */
static const struct s3_handler *route_sync(struct s3_req *r, int *is_sync)
{
    int level = !r->bucket ? 0 : !r->key ? 1 : 2;
    *is_sync = 0;
    for (size_t i = 0; i < sizeof sync_calls / sizeof sync_calls[0]; i++) {
        const struct sync_call *c = &sync_calls[i];
        if (!s3_has_param(r, c->param))
            continue;
        *is_sync = 1;
        if (c->level == level && strcmp(r->method, c->method) == 0)
            return c->h;
    }
    return NULL;
}

static const struct s3_handler *route_service(struct s3_req *r)
{
    return strcmp(r->method, "GET") == 0 ? &h_list_buckets : NULL;
}

/* ?tagging on a bucket or an object (s3_tagging.c). */
static const struct s3_handler *route_tagging(struct s3_req *r)
{
    static const struct {
        const char *method;
        const struct s3_handler *bucket, *object;
    } calls[] = {
        {"GET", &h_get_bucket_tagging, &h_get_object_tagging},
        {"PUT", &h_put_bucket_tagging, &h_put_object_tagging},
        {"DELETE", &h_delete_bucket_tagging, &h_delete_object_tagging},
    };
    for (size_t i = 0; i < sizeof calls / sizeof *calls; i++)
        if (strcmp(r->method, calls[i].method) == 0)
            return r->key ? calls[i].object : calls[i].bucket;
    return NULL;
}

static const struct s3_handler *route_bucket(struct s3_req *r)
{
    const char *m = r->method;
    if (s3_has_param(r, "cors"))
        return s3_cors_route(r);
    if (s3_has_param(r, "encryption"))
        return &h_bucket_encryption;
    if (s3_has_param(r, "tagging"))
        return route_tagging(r);
    if (s3_has_param(r, "lifecycle"))
        return strcmp(m, "GET") == 0      ? &h_get_lifecycle
               : strcmp(m, "PUT") == 0    ? &h_put_lifecycle
               : strcmp(m, "DELETE") == 0 ? &h_delete_lifecycle
                                          : NULL;
    if (strcmp(m, "GET") == 0) {
        if (s3_has_param(r, "location"))
            return &h_get_bucket_location;
        if (s3_has_param(r, "uploads"))
            return &h_list_mpu;
        if (s3_has_param(r, "acl"))
            return &h_get_acl;
        if (s3_has_param(r, "versioning"))
            return &h_get_bucket_versioning;
        if (s3_has_param(r, "versions"))
            return &h_list_versions;
        if (s3_has_param(r, "policyStatus"))
            return &h_get_bucket_policy_status;
        if (s3_has_param(r, "policy"))
            return &h_get_bucket_policy;
        if (s3_has_param(r, "ownershipControls"))
            return &h_get_ownership_controls;
        if (s3_has_param(r, "object-lock"))
            return &h_get_object_lock_config;
        if (find_param(r, bucket_configs))
            return &h_bucket_config;
        return &h_list_objects;
    }
    if (strcmp(m, "HEAD") == 0)
        return &h_head_bucket;
    if (strcmp(m, "PUT") == 0 && s3_has_param(r, "acl"))
        return &h_put_acl;
    if (strcmp(m, "PUT") == 0 && s3_has_param(r, "policy"))
        return &h_put_bucket_policy;
    if (strcmp(m, "DELETE") == 0 && s3_has_param(r, "policy"))
        return &h_delete_bucket_policy;
    if (strcmp(m, "PUT") == 0 && s3_has_param(r, "object-lock"))
        return &h_put_object_lock_config;
    if (strcmp(m, "PUT") == 0 && s3_has_param(r, "versioning"))
        return &h_put_bucket_versioning;
    if (strcmp(m, "PUT") == 0 && r->query.count == 0)
        return &h_create_bucket;
    if (strcmp(m, "DELETE") == 0 && r->query.count == 0)
        return &h_delete_bucket;
    if (strcmp(m, "POST") == 0 && s3_has_param(r, "delete"))
        return &h_delete_objects;
    if (strcmp(m, "POST") == 0 && r->query.count == 0)
        return &h_post_object; /* an HTML form upload (s3_post.c) */
    return NULL;
}

static const struct s3_handler *route_object(struct s3_req *r)
{
    const char *m = r->method;
    int has_upload = s3_has_param(r, "uploadId");
    if (s3_has_param(r, "tagging"))
        return route_tagging(r);
    if (strcmp(m, "GET") == 0) {
        if (has_upload)
            return &h_list_parts;
        if (s3_has_param(r, "acl"))
            return &h_get_acl;
        if (s3_has_param(r, "retention"))
            return &h_get_object_retention;
        if (s3_has_param(r, "legal-hold"))
            return &h_get_object_legal_hold;
        return &h_get_object;
    }
    if (strcmp(m, "HEAD") == 0)
        return &h_head_object;
    if (strcmp(m, "PUT") == 0) {
        if (s3_has_param(r, "acl"))
            return &h_put_acl;
        if (s3_has_param(r, "retention"))
            return &h_put_object_retention;
        if (s3_has_param(r, "legal-hold"))
            return &h_put_object_legal_hold;
        if (has_upload || s3_has_param(r, "partNumber"))
            return s3_header(r, "x-amz-copy-source") ? &h_upload_part_copy : &h_upload_part;
        return s3_header(r, "x-amz-copy-source") ? &h_copy_object : &h_put_object;
    }
    if (strcmp(m, "DELETE") == 0)
        return has_upload ? &h_abort_mpu : &h_delete_object;
    if (strcmp(m, "POST") == 0) {
        if (s3_has_param(r, "uploads"))
            return &h_create_mpu;
        if (has_upload)
            return &h_complete_mpu;
    }
    return NULL;
}

int s3_route_or_reply(struct s3_req *r)
{
    char *q = strchr(r->target, '?');
    size_t path_len = q ? (size_t)(q - r->target) : strlen(r->target);
    r->raw_path = strndup(r->target, path_len);
    r->raw_query = q ? q + 1 : "";
    if (!r->raw_path || r->raw_path[0] != '/') {
        s3_reply_error(r, S3E_INVALID_URI, NULL);
        return -1;
    }
    if (uri_query_parse(r->raw_query, strlen(r->raw_query), &r->query) != 0) {
        s3_reply_error(r, S3E_INVALID_URI, "The query string could not be parsed.");
        return -1;
    }

    if (strncmp(r->raw_path, "/_cairn/", 8) == 0) {
        if (strcmp(r->raw_path, "/_cairn/metrics") == 0) {
            r->h = &h_metrics;
            return 0;
        }
        r->h = &h_admin;
        return 0;
    }

    const char *path = r->raw_path + 1;
    char *vhost_bucket = bucket_from_host(r);
    if (vhost_bucket) {
        r->bucket = vhost_bucket;
        r->vhost = 1;
        if (*path && !(r->key = decode_component(path, strlen(path))))
            goto bad_key;
    } else if (*path) {
        size_t bl = strcspn(path, "/");
        r->bucket = decode_component(path, bl);
        if (!r->bucket)
            goto bad_key;
        if (path[bl] == '/' && path[bl + 1] &&
            !(r->key = decode_component(path + bl + 1, strlen(path + bl + 1))))
            goto bad_key;
    }
    if (r->key && strlen(r->key) > META_KEY_MAX) {
        s3_reply_error(r, S3E_KEY_TOO_LONG, NULL);
        return -1;
    }
    if (r->bucket && strcmp(r->method, "OPTIONS") == 0) {
        r->h = &h_cors_preflight; /* whatever the query names, as S3 */
        return 0;
    }

    const char *sub = unsupported_subresource(r);
    if (sub) {
        char msg[160];
        snprintf(msg, sizeof msg, "cairn does not implement the '%s' sub-resource yet.", sub);
        /* static storage is not needed: the reply is built at once */
        s3_reply_error(r, S3E_NOT_IMPLEMENTED, msg);
        return -1;
    }
    int is_sync;
    r->h = route_sync(r, &is_sync);
    if (is_sync)
        ; /* a sync call, or a wrong method for one */
    else if (!r->bucket)
        r->h = route_service(r);
    else if (!r->key)
        r->h = route_bucket(r);
    else
        r->h = route_object(r);
    if (!r->h) {
        s3_reply_error(r, S3E_METHOD_NOT_ALLOWED, NULL);
        return -1;
    }
    return 0;
bad_key:
    s3_reply_error(r, S3E_INVALID_URI, "The object key is not valid UTF-8 or has a bad %-escape.");
    return -1;
}

int s3_key_valid(const char *key)
{
    size_t n = strlen(key);
    return n > 0 && n <= META_KEY_MAX && valid_utf8((const unsigned char *)key, n);
}
