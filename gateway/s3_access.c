/*
 * gateway/s3_access.c - may this requester do this to this bucket or
 * object?  The one place that decides (docs/policies.md):
 *
 *   1. an explicit Deny in the bucket policy refuses, the owner and root
 *      included - except that the owner and cairn's root user may always
 *      read, set and delete the policy (no policy locks them out);
 *   2. the bucket's owner and cairn's root user are allowed;
 *   3. an Allow in the bucket policy allows;
 *   4. a canned ACL of the bucket, or of the object version read, allows
 *      what it grants;
 *   5. anything else is AccessDenied.
 *
 * The policy is read from the metadata store on every request, so every
 * gateway of a cluster sees a change at once; reading and parsing a
 * policy costs a few microseconds (docs/policies.md has the numbers).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/s3_internal.h"
#include "gateway/s3_policy.h"

/* Operations whose IAM action is not "s3:" + their name, with the action
 * asked for when the request names a version. */
static const struct {
    const char *op, *action, *versioned;
} op_actions[] = {
    {"GetObject", "s3:GetObject", "s3:GetObjectVersion"},
    {"HeadObject", "s3:GetObject", "s3:GetObjectVersion"},
    {"HeadBucket", "s3:ListBucket", NULL},
    {"ListObjects", "s3:ListBucket", NULL},
    {"ListObjectsV2", "s3:ListBucket", NULL},
    {"ListObjectVersions", "s3:ListBucketVersions", NULL},
    {"CopyObject", "s3:PutObject", NULL},
    {"UploadPart", "s3:PutObject", NULL},
    {"UploadPartCopy", "s3:PutObject", NULL},
    {"CreateMultipartUpload", "s3:PutObject", NULL},
    {"CompleteMultipartUpload", "s3:PutObject", NULL},
    {"DeleteObject", "s3:DeleteObject", "s3:DeleteObjectVersion"},
    {"DeleteObjects", "s3:DeleteObject", NULL},
    {"ListMultipartUploads", "s3:ListBucketMultipartUploads", NULL},
    {"ListParts", "s3:ListMultipartUploadParts", NULL},
    {"GetObjectTagging", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"},
    {"PutObjectTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"},
    {"DeleteObjectTagging", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"},
    {"PostObject", "s3:PutObject", NULL}, /* the key is the form's: s3_post.c */
    {"PutObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration", NULL},
    {"GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration", NULL},
    /* cairn's sync extension, for users the owner lets in */
    {"SyncMissing", "s3:PutObject", NULL},
    {"SyncPutChunk", "s3:PutObject", NULL},
    {"SyncCommit", "s3:PutObject", NULL},
    {"SyncGetChunks", "s3:GetObject", NULL},
    {"SyncChanges", "s3:ListBucket", NULL},
};

/* GET ?<config> answered by the generic handler (s3_bucket.c). */
static const struct {
    const char *param, *action;
} config_actions[] = {
    {"accelerate", "s3:GetAccelerateConfiguration"},
    {"logging", "s3:GetBucketLogging"},
    {"notification", "s3:GetBucketNotification"},
    {"requestPayment", "s3:GetBucketRequestPayment"},
    {"cors", "s3:GetBucketCORS"},
    {"encryption", "s3:GetEncryptionConfiguration"},
    {"lifecycle", "s3:GetLifecycleConfiguration"},
    {"object-lock", "s3:GetBucketObjectLockConfiguration"},
    {"ownershipControls", "s3:GetBucketOwnershipControls"},
    {"policyStatus", "s3:GetBucketPolicyStatus"},
    {"policy", "s3:GetBucketPolicy"},
    {"publicAccessBlock", "s3:GetBucketPublicAccessBlock"},
    {"replication", "s3:GetReplicationConfiguration"},
    {"tagging", "s3:GetBucketTagging"},
    {"website", "s3:GetBucketWebsite"},
};

const char *s3_request_action(struct s3_req *r)
{
    const char *op = r->h ? r->h->op : NULL;
    int versioned = s3_param(r, "versionId") != NULL;
    if (!op)
        return NULL;
    for (size_t i = 0; i < sizeof op_actions / sizeof *op_actions; i++)
        if (strcmp(op, op_actions[i].op) == 0)
            return versioned && op_actions[i].versioned ? op_actions[i].versioned
                                                        : op_actions[i].action;
    if (strcmp(op, "GetAcl") == 0)
        return !r->key ? "s3:GetBucketAcl" : versioned ? "s3:GetObjectVersionAcl" : "s3:GetObjectAcl";
    if (strcmp(op, "PutAcl") == 0)
        return !r->key ? "s3:PutBucketAcl" : versioned ? "s3:PutObjectVersionAcl" : "s3:PutObjectAcl";
    if (strcmp(op, "GetBucketConfig") == 0) {
        for (size_t i = 0; i < sizeof config_actions / sizeof *config_actions; i++)
            if (s3_has_param(r, config_actions[i].param))
                return config_actions[i].action;
        return NULL;
    }
    return s3_policy_action(op);
}

static int is_policy_management(const char *action)
{
    return strcmp(action, "s3:GetBucketPolicy") == 0 || strcmp(action, "s3:PutBucketPolicy") == 0 ||
           strcmp(action, "s3:DeleteBucketPolicy") == 0;
}

int s3_anonymous_or_reply(struct s3_req *r)
{
    static const struct s3_handler *const signed_only[] = {
        &h_admin, &h_create_bucket, &h_list_buckets, &h_sync_info, &h_sync_missing, &h_sync_chunk,
        &h_sync_changes, &h_sync_commit, &h_sync_chunks,
    };
    int ok = r->bucket != NULL && s3_request_action(r) != NULL;
    for (size_t i = 0; ok && i < sizeof signed_only / sizeof *signed_only; i++)
        if (r->h == signed_only[i])
            ok = 0;
    if (!ok) {
        s3_reply_error(r, S3E_ACCESS_DENIED, NULL);
        return -1;
    }
    return 0;
}

int s3_bucket_policy_load(struct s3_req *r, const char *bucket, struct s3_policy **out)
{
    void *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = meta_bucket_config_get(r->gw->meta, bucket, S3_CONFIG_POLICY, &data, &len);
    if (rc == META_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    /* Checked when it was set (s3_bucket_policy.c) */
    rc = s3_policy_load(data, len, out);
    free(data);
    if (rc == S3_POLICY_EMALFORMED) {
        log_msg(LOG_ERROR, r->id, "bucket %s: stored policy unreadable", bucket);
        rc = META_ECORRUPT;
    }
    return rc;
}

/* The client's address as text, "" if unknown. */
static void client_ip(struct s3_req *r, char out[INET6_ADDRSTRLEN])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = 0;
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, INET6_ADDRSTRLEN);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, INET6_ADDRSTRLEN);
}

/* Whether canned ACL acl grants action to r: a bucket's (of_object 0)
 * reads and lists its objects, and with public-read-write writes and
 * deletes them; an object's (of_object 1) only reads that object. */
static int canned_grants(const char *acl, int anonymous, const char *action, int of_object)
{
    int read = strcmp(acl, "public-read") == 0 || strcmp(acl, "public-read-write") == 0 ||
               (!anonymous && strcmp(acl, "authenticated-read") == 0);
    int write = !of_object && strcmp(acl, "public-read-write") == 0;
    if (read && (strcmp(action, "s3:GetObject") == 0 || strcmp(action, "s3:GetObjectVersion") == 0))
        return 1;
    if (read && !of_object &&
        (strcmp(action, "s3:ListBucket") == 0 || strcmp(action, "s3:ListBucketVersions") == 0))
        return 1;
    return write && (strcmp(action, "s3:PutObject") == 0 || strcmp(action, "s3:DeleteObject") == 0 ||
                     strcmp(action, "s3:DeleteObjectVersion") == 0);
}

/* The bucket's canned ACL into out ("private" when none). */
static int bucket_acl(struct s3_req *r, const char *bucket, char out[32])
{
    void *data = NULL;
    size_t len = 0;
    snprintf(out, 32, "private");
    int rc = meta_bucket_config_get(r->gw->meta, bucket, S3_CONFIG_ACL, &data, &len);
    if (rc == META_ENOTFOUND)
        return 0;
    if (rc == 0)
        snprintf(out, 32, "%.*s", (int)(len < 31 ? len : 31), (const char *)data);
    free(data);
    return rc;
}

/* The canned ACL of one object version ("private" when none or absent). */
static void object_acl(struct s3_req *r, const char *bucket, const char *key,
                       const char *version_id, char out[32])
{
    struct meta_object o;
    snprintf(out, 32, "private");
    if (meta_object_get(r->gw->meta, bucket, key, version_id, &o) != 0)
        return;
    const char *v = s3_attrs_get(o.attrs, o.attrs_len, S3_ATTR_ACL);
    if (v)
        snprintf(out, 32, "%s", v);
    meta_object_release(&o);
}

int s3_access_allowed(struct s3_req *r, const struct meta_bucket *b, const struct s3_policy *pol,
                      const char *action, const char *key, const char *version_id)
{
    char resource[META_NAME_MAX + META_KEY_MAX + 32], ip[INET6_ADDRSTRLEN];
    int owner = !r->anonymous && (r->is_root || strcmp(b->owner, r->user) == 0);
    if (!action)
        return owner ? S3_ALLOWED : S3_DENIED; /* nothing a policy can grant */
    int object_level = s3_policy_action_is_object(action);
    if (object_level && key)
        snprintf(resource, sizeof resource, S3_POLICY_S3_ARN "%s/%s", b->name, key);
    else
        snprintf(resource, sizeof resource, S3_POLICY_S3_ARN "%s", b->name);
    client_ip(r, ip);
    int listing = strcmp(action, "s3:ListBucket") == 0 || strcmp(action, "s3:ListBucketVersions") == 0;
    struct s3_policy_req q = {
        .action = action,
        .resource = object_level && !key ? NULL : resource,
        .anonymous = r->anonymous,
        .is_root = r->is_root,
        .user = r->anonymous ? NULL : r->user,
        .access_key = r->anonymous ? NULL : r->access_key,
        .source_ip = ip[0] ? ip : NULL,
        .secure_transport = 0, /* cairn serves plain HTTP (TLS ends in front of it) */
        .referer = s3_header(r, "Referer"),
        .user_agent = s3_header(r, "User-Agent"),
        .prefix = listing ? s3_param(r, "prefix") : NULL,
        .delimiter = listing ? s3_param(r, "delimiter") : NULL,
        .max_keys = listing ? s3_param(r, "max-keys") : NULL,
        .acl = s3_header(r, "x-amz-acl"),
    };
    if (listing && !q.prefix)
        q.prefix = ""; /* S3 sets s3:prefix to "" on a listing without one */
    enum s3_policy_effect e = s3_policy_evaluate(pol, &q);
    if (is_policy_management(action)) {
        if (owner)
            return S3_ALLOWED;
        /* S3 answers others that a policy allows with 405 */
        return e == S3_POLICY_ALLOW ? S3_NOT_OWNER : S3_DENIED;
    }
    if (e == S3_POLICY_DENY)
        return S3_DENIED;
    if (owner || e == S3_POLICY_ALLOW)
        return S3_ALLOWED;
    if (object_level && !key && pol) /* DeleteObjects: each key is judged later */
        return S3_ALLOWED;
    char acl[32];
    if (bucket_acl(r, b->name, acl) == 0 && canned_grants(acl, r->anonymous, action, 0))
        return S3_ALLOWED;
    if (key && (strcmp(action, "s3:GetObject") == 0 || strcmp(action, "s3:GetObjectVersion") == 0)) {
        object_acl(r, b->name, key, version_id, acl);
        if (canned_grants(acl, r->anonymous, action, 1))
            return S3_ALLOWED;
    }
    return S3_DENIED;
}

int s3_access_or_reply(struct s3_req *r, const char *bucket, const char *key, const char *action,
                       const char *version_id, struct meta_bucket *out)
{
    struct meta_bucket b;
    struct s3_policy *pol = NULL;
    int rc = meta_bucket_get(r->gw->meta, bucket, &b);
    if (rc == META_EINVAL) {
        s3_reply_error(r, S3E_INVALID_BUCKET_NAME, NULL);
        return -1;
    }
    if (rc == 0)
        rc = s3_bucket_policy_load(r, bucket, &pol);
    if (rc) {
        s3_reply_rc(r, rc);
        return -1;
    }
    int verdict = s3_access_allowed(r, &b, pol, action, key, version_id);
    s3_policy_free(pol);
    if (verdict == S3_NOT_OWNER) {
        s3_reply_error(r, S3E_METHOD_NOT_ALLOWED, NULL);
        return -1;
    }
    if (verdict != S3_ALLOWED) {
        s3_reply_error(r, S3E_ACCESS_DENIED, NULL);
        return -1;
    }
    if (out)
        *out = b;
    return 0;
}

int s3_bucket_access_or_reply(struct s3_req *r, struct meta_bucket *out)
{
    return s3_access_or_reply(r, r->bucket, r->key, s3_request_action(r), s3_param(r, "versionId"),
                              out);
}
