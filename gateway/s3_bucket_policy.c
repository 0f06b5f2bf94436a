/*
 * gateway/s3_bucket_policy.c - PutBucketPolicy, GetBucketPolicy,
 * DeleteBucketPolicy, GetBucketPolicyStatus (?policy, ?policyStatus) and
 * GetBucketOwnershipControls.
 *
 * The policy is stored as sent (the configuration S3_CONFIG_POLICY) once
 * s3_policy_parse has accepted it, and given back byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/s3_internal.h"
#include "gateway/s3_policy.h"

/* Whether name is a cairn user's name or access key. */
static int user_known(void *arg, const char *name)
{
    const struct meta_user *users = ((void **)arg)[0];
    const size_t *n = ((void **)arg)[1];
    for (size_t i = 0; i < *n; i++)
        if (strcmp(users[i].name, name) == 0 || strcmp(users[i].access_key, name) == 0)
            return 1;
    return 0;
}

static void put_policy_end(struct s3_req *r)
{
    struct meta_user *users = NULL;
    struct s3_policy *p = NULL;
    size_t n = 0;
    char msg[256];
    if (s3_bucket_access_or_reply(r, NULL) != 0 || s3_body_digest_or_reply(r, 0) != 0)
        return;
    if (r->body.len > META_CONFIG_MAX) { /* white space past what can be stored */
        s3_reply_error(r, S3E_MALFORMED_POLICY, "Policy exceeds the maximum allowed document size.");
        return;
    }
    int rc = meta_user_list(r->gw->meta, &users, &n);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    void *arg[2] = {users, &n};
    rc = s3_policy_parse(r->body.data ? r->body.data : "", r->body.len, r->bucket, user_known, arg,
                         &p, msg, sizeof msg);
    if (users) /* secrets */
        memset(users, 0, n * sizeof *users);
    free(users);
    if (rc == S3_POLICY_EMALFORMED) {
        s3_reply_error(r, S3E_MALFORMED_POLICY, msg);
        return;
    }
    s3_policy_free(p);
    if (rc == 0)
        rc = meta_bucket_config_set(r->gw->meta, r->bucket, S3_CONFIG_POLICY, r->body.data,
                                    r->body.len);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    s3_reply_empty(r, 204);
}

const struct s3_handler h_put_bucket_policy = {"PutBucketPolicy", NULL, NULL, put_policy_end, NULL};

static void get_policy_end(struct s3_req *r)
{
    void *data = NULL;
    size_t len = 0;
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    int rc = meta_bucket_config_get(r->gw->meta, r->bucket, S3_CONFIG_POLICY, &data, &len);
    if (rc == META_ENOTFOUND) {
        s3_reply_error(r, S3E_NO_SUCH_BUCKET_POLICY, NULL);
        return;
    }
    char *text = rc ? NULL : realloc(data, len + 1);
    if (!text) {
        free(data);
        s3_reply_rc(r, rc ? rc : -ENOMEM);
        return;
    }
    text[len] = 0;
    s3_reply_json(r, 200, text);
}

const struct s3_handler h_get_bucket_policy = {"GetBucketPolicy", NULL, NULL, get_policy_end, NULL};

static void delete_policy_end(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    int rc = meta_bucket_config_set(r->gw->meta, r->bucket, S3_CONFIG_POLICY, NULL, 0);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    s3_reply_empty(r, 204);
}

const struct s3_handler h_delete_bucket_policy = {"DeleteBucketPolicy", NULL, NULL,
                                                  delete_policy_end, NULL};

static void policy_status_end(struct s3_req *r)
{
    struct s3_policy *p = NULL;
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    int rc = s3_bucket_policy_load(r, r->bucket, &p);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    if (!p) {
        s3_reply_error(r, S3E_NO_SUCH_BUCKET_POLICY, NULL);
        return;
    }
    struct s3_doc d;
    s3_doc_begin(&d, "PolicyStatus", 4096);
    xmlw_elem(&d.w, "IsPublic", s3_policy_is_public(p) ? "true" : "false");
    xmlw_close(&d.w);
    s3_policy_free(p);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_get_bucket_policy_status = {"GetBucketPolicyStatus", NULL, NULL,
                                                      policy_status_end, NULL};

/* Every object belongs to the bucket's owner: BucketOwnerEnforced (the
 * canned ACLs cairn honours are its own addition, docs/policies.md). */
static void ownership_end(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    struct s3_doc d;
    s3_doc_begin(&d, "OwnershipControls", 4096);
    xmlw_open(&d.w, "Rule");
    xmlw_elem(&d.w, "ObjectOwnership", "BucketOwnerEnforced");
    xmlw_close(&d.w);
    xmlw_close(&d.w);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_get_ownership_controls = {"GetBucketOwnershipControls", NULL, NULL,
                                                    ownership_end, NULL};
