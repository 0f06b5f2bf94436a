/*
 * gateway/s3_policy.h - bucket policies: the AWS access policy language,
 * for one bucket's resources (docs/policies.md is the user's manual).
 *
 * This module is pure: it knows nothing of HTTP, of the metadata store or
 * of cairn's users beyond what the caller passes in, so it is unit-tested
 * on its own (tests/unit/test_s3_policy.c).  gateway/s3_access.c turns a
 * request into a struct s3_policy_req and applies the verdict.
 *
 * Calling sequence:
 *   s3_policy_parse()      checks a document and parses it (PutBucketPolicy)
 *   s3_policy_load()       parses a document checked before (every request
 *                          re-reads the stored policy and loads it)
 *   s3_policy_evaluate()   any number of times, from any threads (the
 *                          parsed policy is read-only)
 *   s3_policy_free()
 *
 * Principals.  "*" and {"AWS": "*"} are everyone, anonymous requests
 * included.  A cairn user is named "arn:aws:iam::cairn:user/NAME", by its
 * plain NAME, or by its access key; cairn's root user is
 * "arn:aws:iam::cairn:root".  {"CanonicalUser": NAME} names a user too
 * (cairn's canonical IDs, as ACLs show them, are user names).  "Service"
 * and "Federated" principals are accepted and match no cairn requester.
 */
#ifndef CAIRN_GATEWAY_S3_POLICY_H
#define CAIRN_GATEWAY_S3_POLICY_H

#include <stddef.h>

/* The largest policy S3 stores: 20 KB, counted on the document written
 * without white space (S3 measures the normalized form). */
#define S3_POLICY_MAX_BYTES 20480

/* ARN prefixes of cairn's principals and of S3 resources. */
#define S3_POLICY_USER_ARN "arn:aws:iam::cairn:user/"
#define S3_POLICY_ROOT_ARN "arn:aws:iam::cairn:root"
#define S3_POLICY_S3_ARN "arn:aws:s3:::"

enum s3_policy_effect {
    S3_POLICY_NONE = 0, /* no statement applies: the default is to deny */
    S3_POLICY_ALLOW,
    S3_POLICY_DENY,     /* an explicit Deny applies: wins over any Allow */
};

/* s3_policy_parse's error for a document S3 refuses (MalformedPolicy). */
#define S3_POLICY_EMALFORMED (-33001)

struct s3_policy;

/*
 * One request, as the policy sees it.  Every string is borrowed for the
 * call.  NULL condition values mean the key is absent from the request
 * (a positive operator then fails, a negated one holds).
 */
struct s3_policy_req {
    const char *action;      /* IAM action in its canonical spelling, "s3:GetObject" */
    const char *resource;    /* "arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key" */
    int anonymous;           /* no credentials: matches only "*" */
    int is_root;             /* cairn's root user */
    const char *user;        /* user name ("root" for the root user); NULL if anonymous */
    const char *access_key;  /* NULL if anonymous */
    /* condition keys */
    const char *source_ip;   /* aws:SourceIp, text form (IPv4 or IPv6) */
    int secure_transport;    /* aws:SecureTransport */
    const char *referer;     /* aws:Referer */
    const char *user_agent;  /* aws:UserAgent */
    const char *prefix;      /* s3:prefix (ListBucket, ListBucketVersions) */
    const char *delimiter;   /* s3:delimiter */
    const char *max_keys;    /* s3:max-keys */
    const char *acl;         /* s3:x-amz-acl (writes with a canned ACL) */
};

/*
 * Parse and check a policy document for bucket, as PutBucketPolicy does.
 * known (may be NULL: every name is taken) says whether a principal name
 * (a user name or access key, ARN prefix removed) names a cairn user: a
 * policy naming nobody is refused, as S3 refuses unknown principals.
 *
 * Returns 0 and *out (owned: s3_policy_free), or S3_POLICY_EMALFORMED with
 * S3's message for the fault in msg (always terminated, cut to cap), or
 * -ENOMEM.  *out is untouched on failure.
 */
int s3_policy_parse(const char *text, size_t len, const char *bucket,
                    int (*known)(void *arg, const char *name), void *arg,
                    struct s3_policy **out, char *msg, size_t cap);

/* Parse a document s3_policy_parse accepted before, without checking it
 * again (the checks cost several times the parse); a stored document
 * that is not a JSON object is S3_POLICY_EMALFORMED.  Evaluation copes
 * with any shape: what the checks would refuse never applies.  *out as for
 * s3_policy_parse. */
int s3_policy_load(const char *text, size_t len, struct s3_policy **out);

/* The verdict of p for q: DENY if an applicable statement denies, else
 * ALLOW if one allows, else NONE.  A statement applies when its principal,
 * action, resource and every condition match. */
enum s3_policy_effect s3_policy_evaluate(const struct s3_policy *p, const struct s3_policy_req *q);

/* Whether p is public as S3 defines it (GetBucketPolicyStatus): some Allow
 * statement grants everyone ("*", or a NotPrincipal) without a condition
 * that pins requests to fixed values of aws:SourceIp (a range no wider
 * than /8 for IPv4, /32 for IPv6), aws:username or aws:userid. */
int s3_policy_is_public(const struct s3_policy *p);

void s3_policy_free(struct s3_policy *p); /* NULL ok */

/*
 * The IAM action a name stands for, in its canonical spelling: "GetObject",
 * "s3:getobject" and "S3:GetObject" all give "s3:GetObject".  NULL when S3
 * has no such action.  The string is static.
 */
const char *s3_policy_action(const char *name);
/* Whether an action (canonical) applies to objects (arn:...:bucket/key)
 * rather than to the bucket. */
int s3_policy_action_is_object(const char *action);

/* Glob match as IAM does it: '*' any run (also '/'), '?' one character;
 * nocase compares ASCII letters without regard to case. */
int s3_policy_match(const char *pattern, const char *s, int nocase);

#endif
