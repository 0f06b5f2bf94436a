/*
 * gateway/s3_policy.c - parse, check and evaluate bucket policies; see
 * s3_policy.h.
 *
 * The parsed form is the cJSON tree itself, checked once by
 * s3_policy_parse: evaluation walks it and may rely on every shape the
 * checks allow (strings or arrays of strings where IAM allows both).  A
 * policy is at most 20 KB, so a walk costs microseconds.
 */
#include "gateway/s3_policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

struct s3_policy {
    cJSON *doc;
    int vars; /* Version 2012-10-17: ${...} policy variables are expanded */
};

/* ---- the actions S3 knows, with the kind of resource each acts on ---- */

static const struct action {
    const char *name; /* canonical spelling */
    int object;
} actions[] = {
    {"s3:AbortMultipartUpload", 1}, {"s3:BypassGovernanceRetention", 1}, {"s3:CreateBucket", 0},
    {"s3:DeleteBucket", 0}, {"s3:DeleteBucketOwnershipControls", 0}, {"s3:DeleteBucketPolicy", 0},
    {"s3:DeleteBucketWebsite", 0}, {"s3:DeleteObject", 1}, {"s3:DeleteObjectTagging", 1},
    {"s3:DeleteObjectVersion", 1}, {"s3:DeleteObjectVersionTagging", 1},
    {"s3:GetAccelerateConfiguration", 0}, {"s3:GetAnalyticsConfiguration", 0}, {"s3:GetBucketAcl", 0},
    {"s3:GetBucketCORS", 0}, {"s3:GetBucketLocation", 0}, {"s3:GetBucketLogging", 0},
    {"s3:GetBucketNotification", 0}, {"s3:GetBucketObjectLockConfiguration", 0},
    {"s3:GetBucketOwnershipControls", 0}, {"s3:GetBucketPolicy", 0}, {"s3:GetBucketPolicyStatus", 0},
    {"s3:GetBucketPublicAccessBlock", 0}, {"s3:GetBucketRequestPayment", 0}, {"s3:GetBucketTagging", 0},
    {"s3:GetBucketVersioning", 0}, {"s3:GetBucketWebsite", 0}, {"s3:GetEncryptionConfiguration", 0},
    {"s3:GetIntelligentTieringConfiguration", 0}, {"s3:GetInventoryConfiguration", 0},
    {"s3:GetLifecycleConfiguration", 0}, {"s3:GetMetricsConfiguration", 0}, {"s3:GetObject", 1},
    {"s3:GetObjectAcl", 1}, {"s3:GetObjectAttributes", 1}, {"s3:GetObjectLegalHold", 1},
    {"s3:GetObjectRetention", 1}, {"s3:GetObjectTagging", 1}, {"s3:GetObjectTorrent", 1},
    {"s3:GetObjectVersion", 1}, {"s3:GetObjectVersionAcl", 1}, {"s3:GetObjectVersionAttributes", 1},
    {"s3:GetObjectVersionForReplication", 1}, {"s3:GetObjectVersionTagging", 1},
    {"s3:GetObjectVersionTorrent", 1}, {"s3:GetReplicationConfiguration", 0}, {"s3:ListBucket", 0},
    {"s3:ListBucketMultipartUploads", 0}, {"s3:ListBucketVersions", 0},
    {"s3:ListMultipartUploadParts", 1}, {"s3:ObjectOwnerOverrideToBucketOwner", 1},
    {"s3:PutAccelerateConfiguration", 0}, {"s3:PutAnalyticsConfiguration", 0}, {"s3:PutBucketAcl", 0},
    {"s3:PutBucketCORS", 0}, {"s3:PutBucketLogging", 0}, {"s3:PutBucketNotification", 0},
    {"s3:PutBucketObjectLockConfiguration", 0}, {"s3:PutBucketOwnershipControls", 0},
    {"s3:PutBucketPolicy", 0}, {"s3:PutBucketPublicAccessBlock", 0}, {"s3:PutBucketRequestPayment", 0},
    {"s3:PutBucketTagging", 0}, {"s3:PutBucketVersioning", 0}, {"s3:PutBucketWebsite", 0},
    {"s3:PutEncryptionConfiguration", 0}, {"s3:PutIntelligentTieringConfiguration", 0},
    {"s3:PutInventoryConfiguration", 0}, {"s3:PutLifecycleConfiguration", 0},
    {"s3:PutMetricsConfiguration", 0}, {"s3:PutObject", 1}, {"s3:PutObjectAcl", 1},
    {"s3:PutObjectLegalHold", 1}, {"s3:PutObjectRetention", 1}, {"s3:PutObjectTagging", 1},
    {"s3:PutObjectVersionAcl", 1}, {"s3:PutObjectVersionTagging", 1}, {"s3:PutReplicationConfiguration", 0},
    {"s3:ReplicateDelete", 1}, {"s3:ReplicateObject", 1}, {"s3:ReplicateTags", 1}, {"s3:RestoreObject", 1},
};
#define N_ACTIONS (sizeof actions / sizeof actions[0])

static const struct action *action_find(const char *name)
{
    if (strncasecmp(name, "s3:", 3) == 0)
        name += 3;
    for (size_t i = 0; i < N_ACTIONS; i++)
        if (strcasecmp(actions[i].name + 3, name) == 0)
            return &actions[i];
    return NULL;
}

const char *s3_policy_action(const char *name)
{
    const struct action *a = action_find(name);
    return a ? a->name : NULL;
}

int s3_policy_action_is_object(const char *action)
{
    const struct action *a = action_find(action);
    return a && a->object;
}

/* ---- glob matching -------------------------------------------------- */

static int char_eq(char a, char b, int nocase)
{
    if (nocase) {
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
    }
    return a == b;
}

int s3_policy_match(const char *p, const char *s, int nocase)
{
    const char *star = NULL, *retry = NULL;
    while (*s) {
        if (*p == '*') {
            star = ++p;
            retry = s;
        } else if (*p && (*p == '?' || char_eq(*p, *s, nocase))) {
            p++;
            s++;
        } else if (star) {
            p = star;
            s = ++retry;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == 0;
}

/* Whether p can match some string that starts with prefix: once prefix is
 * used up, whatever is left of the pattern matches some continuation, and
 * a '*' met on the way can swallow the rest of the prefix. */
static int match_prefix(const char *p, const char *prefix)
{
    for (; *prefix; prefix++, p++) {
        if (*p == '*')
            return 1;
        if (!*p || (*p != '?' && *p != *prefix))
            return 0;
    }
    return 1;
}

/* ---- condition operators and keys ------------------------------------ */

enum cond_op {
    OP_STR_EQ, OP_STR_NE, OP_STR_EQ_IC, OP_STR_NE_IC, OP_STR_LIKE, OP_STR_NOT_LIKE,
    OP_NUM_EQ, OP_NUM_NE, OP_NUM_LT, OP_NUM_LE, OP_NUM_GT, OP_NUM_GE,
    OP_BOOL, OP_IP, OP_NOT_IP, OP_NULL,
};

static const struct {
    const char *name;
    enum cond_op op;
    int negated;
} ops[] = {
    {"StringEquals", OP_STR_EQ, 0}, {"StringNotEquals", OP_STR_NE, 1},
    {"StringEqualsIgnoreCase", OP_STR_EQ_IC, 0}, {"StringNotEqualsIgnoreCase", OP_STR_NE_IC, 1},
    {"StringLike", OP_STR_LIKE, 0}, {"StringNotLike", OP_STR_NOT_LIKE, 1},
    {"NumericEquals", OP_NUM_EQ, 0}, {"NumericNotEquals", OP_NUM_NE, 1},
    {"NumericLessThan", OP_NUM_LT, 0}, {"NumericLessThanEquals", OP_NUM_LE, 0},
    {"NumericGreaterThan", OP_NUM_GT, 0}, {"NumericGreaterThanEquals", OP_NUM_GE, 0},
    {"Bool", OP_BOOL, 0}, {"IpAddress", OP_IP, 0}, {"NotIpAddress", OP_NOT_IP, 1},
    {"Null", OP_NULL, 0},
};

struct op_info {
    enum cond_op op;
    int negated, if_exists, for_all, for_any;
};

/* Split "ForAnyValue:StringLikeIfExists" into its parts; -1 if unknown. */
static int op_parse(const char *name, struct op_info *o)
{
    memset(o, 0, sizeof *o);
    if (strncmp(name, "ForAnyValue:", 12) == 0) {
        o->for_any = 1;
        name += 12;
    } else if (strncmp(name, "ForAllValues:", 13) == 0) {
        o->for_all = 1;
        name += 13;
    }
    size_t n = strlen(name);
    if (n > 8 && strcmp(name + n - 8, "IfExists") == 0) {
        o->if_exists = 1;
        n -= 8;
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strlen(ops[i].name) == n && strncmp(ops[i].name, name, n) == 0) {
            if (ops[i].op == OP_NULL && (o->if_exists || o->for_all || o->for_any))
                return -1;
            o->op = ops[i].op;
            o->negated = ops[i].negated;
            return 0;
        }
    }
    return -1;
}

enum cond_key {
    KEY_SOURCE_IP, KEY_SECURE_TRANSPORT, KEY_REFERER, KEY_USER_AGENT, KEY_USERNAME, KEY_USERID,
    KEY_PRINCIPAL_TYPE, KEY_PREFIX, KEY_DELIMITER, KEY_MAX_KEYS, KEY_ACL,
};

static const struct {
    const char *name;
    enum cond_key key;
} keys[] = {
    {"aws:SourceIp", KEY_SOURCE_IP}, {"aws:SecureTransport", KEY_SECURE_TRANSPORT},
    {"aws:Referer", KEY_REFERER}, {"aws:UserAgent", KEY_USER_AGENT},
    {"aws:username", KEY_USERNAME}, {"aws:userid", KEY_USERID},
    {"aws:PrincipalType", KEY_PRINCIPAL_TYPE}, {"s3:prefix", KEY_PREFIX},
    {"s3:delimiter", KEY_DELIMITER}, {"s3:max-keys", KEY_MAX_KEYS}, {"s3:x-amz-acl", KEY_ACL},
};

/* Condition keys are case-insensitive, as in IAM. */
static int key_parse(const char *name, enum cond_key *k)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcasecmp(keys[i].name, name) == 0) {
            *k = keys[i].key;
            return 0;
        }
    }
    return -1;
}

static const char *key_value(const struct s3_policy_req *q, enum cond_key k)
{
    switch (k) {
    case KEY_SOURCE_IP: return q->source_ip;
    case KEY_SECURE_TRANSPORT: return q->secure_transport ? "true" : "false";
    case KEY_REFERER: return q->referer;
    case KEY_USER_AGENT: return q->user_agent;
    case KEY_USERNAME: return q->anonymous || q->is_root ? NULL : q->user;
    case KEY_USERID: return q->anonymous ? "anonymous" : q->access_key;
    case KEY_PRINCIPAL_TYPE: return q->anonymous ? "Anonymous" : q->is_root ? "Account" : "User";
    case KEY_PREFIX: return q->prefix;
    case KEY_DELIMITER: return q->delimiter;
    case KEY_MAX_KEYS: return q->max_keys;
    case KEY_ACL: return q->acl;
    }
    return NULL;
}

/* An address with an optional prefix length, as 16 bytes (IPv4 mapped into
 * ::ffff:0:0/96) and a prefix length over those 128 bits. */
static int ip_parse(const char *s, uint8_t addr[16], int *bits)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    int max, off;
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, buf, addr + 12) == 1) {
        addr[10] = addr[11] = 0xff;
        max = 32;
        off = 96;
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        max = 128;
        off = 0;
    } else {
        return -1;
    }
    int len = max;
    if (slash) {
        const char *d = slash + 1;
        if (!*d || strlen(d) > 3)
            return -1;
        len = 0;
        for (; *d; d++) {
            if (*d < '0' || *d > '9')
                return -1;
            len = len * 10 + (*d - '0');
        }
        if (len > max)
            return -1;
    }
    *bits = off + len;
    return 0;
}

static int ip_in(const char *ip, const char *cidr)
{
    uint8_t a[16], net[16];
    int abits, bits;
    if (ip_parse(ip, a, &abits) != 0 || ip_parse(cidr, net, &bits) != 0)
        return 0;
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)whole) != 0)
        return 0;
    if (rest) {
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        if ((a[whole] & mask) != (net[whole] & mask))
            return 0;
    }
    return 1;
}

/* A condition value as text (strings, numbers and booleans are allowed). */
static const char *value_text(const cJSON *v, char *buf, size_t cap)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v)) {
        snprintf(buf, cap, "%.17g", v->valuedouble);
        return buf;
    }
    return NULL;
}

static int number(const char *s, double *out)
{
    char *end;
    if (!*s)
        return 0;
    *out = strtod(s, &end);
    return *end == 0;
}

/* Whether one policy value matches the request's value (positive form). */
static int value_matches(enum cond_op op, const char *want, const char *got)
{
    double a, b;
    switch (op) {
    case OP_STR_EQ:
    case OP_STR_NE:
        return strcmp(want, got) == 0;
    case OP_STR_EQ_IC:
    case OP_STR_NE_IC:
        return strcasecmp(want, got) == 0;
    case OP_STR_LIKE:
    case OP_STR_NOT_LIKE:
        return s3_policy_match(want, got, 0);
    case OP_BOOL:
        return strcasecmp(want, got) == 0;
    case OP_IP:
    case OP_NOT_IP:
        return ip_in(got, want);
    case OP_NULL:
        return 0; /* handled by the caller */
    default:
        break;
    }
    if (!number(want, &a) || !number(got, &b))
        return 0;
    switch (op) {
    case OP_NUM_EQ:
    case OP_NUM_NE: return b == a;
    case OP_NUM_LT: return b < a;
    case OP_NUM_LE: return b <= a;
    case OP_NUM_GT: return b > a;
    case OP_NUM_GE: return b >= a;
    default: return 0;
    }
}

/*
 * pattern with its policy variables (${aws:username}, any condition key
 * this file knows) replaced by the request's values.  Returns pattern
 * itself when there is nothing to expand, out when there was, or NULL
 * when a variable has no value in this request or its value holds a
 * wildcard (it would stand for more than itself) or the result is too
 * long: then the pattern matches nothing, as IAM has it.  ${...} naming
 * no key stays as written.
 */
static const char *expand(const char *pattern, const struct s3_policy_req *q, int vars, char *out,
                          size_t cap)
{
    size_t o = 0;
    if (!vars || !strstr(pattern, "${"))
        return pattern;
    for (const char *p = pattern; *p;) {
        const char *end = p[0] == '$' && p[1] == '{' ? strchr(p + 2, '}') : NULL;
        char name[64];
        enum cond_key k;
        const char *val = NULL;
        size_t n = 1;
        if (end && (size_t)(end - p - 2) < sizeof name) {
            memcpy(name, p + 2, (size_t)(end - p - 2));
            name[end - p - 2] = 0;
            if (key_parse(name, &k) == 0) {
                val = key_value(q, k);
                if (!val || strpbrk(val, "*?"))
                    return NULL;
                n = strlen(val);
                p = end + 1;
            }
        }
        if (!val) {
            val = p;
            p++;
        }
        if (o + n >= cap)
            return NULL;
        memcpy(out + o, val, n);
        o += n;
    }
    out[o] = 0;
    return out;
}

/* Whether some value of values (one, or an array) matches got; for Null,
 * whether some value says rightly that the key is absent ("true") or
 * present ("false"). */
static int any_value(const cJSON *values, enum cond_op op, const char *got,
                     const struct s3_policy_req *q, int vars)
{
    const cJSON *v = cJSON_IsArray(values) ? values->child : values;
    for (; v; v = cJSON_IsArray(values) ? v->next : NULL) {
        char buf[64], expanded[2048];
        const char *t = value_text(v, buf, sizeof buf);
        if (t)
            t = expand(t, q, vars, expanded, sizeof expanded);
        if (t && (op == OP_NULL ? (strcasecmp(t, "true") == 0) == (got == NULL)
                                : value_matches(op, t, got)))
            return 1;
    }
    return 0;
}

/* One "key": values entry under an operator.  An absent key fails a
 * positive operator and satisfies a negated one (IAM's rule), unless
 * ...IfExists or a set operator says otherwise. */
static int cond_holds(const struct op_info *o, enum cond_key k, const cJSON *values,
                      const struct s3_policy_req *q, int vars)
{
    const char *got = key_value(q, k);
    if (o->op == OP_NULL)
        return any_value(values, OP_NULL, got, q, 0);
    if (!got) {
        if (o->if_exists || o->for_all)
            return 1;
        if (o->for_any)
            return 0;
        return o->negated;
    }
    int any = any_value(values, o->op, got, q, vars);
    return o->negated ? !any : any;
}

static int conditions_hold(const cJSON *cond, const struct s3_policy_req *q, int vars)
{
    const cJSON *opj, *kj;
    if (!cJSON_IsObject(cond))
        return 0;
    cJSON_ArrayForEach(opj, cond) {
        struct op_info o;
        if (op_parse(opj->string, &o) != 0)
            return 0; /* never stored: parse refuses it */
        cJSON_ArrayForEach(kj, opj) {
            enum cond_key k;
            if (key_parse(kj->string, &k) != 0 || !cond_holds(&o, k, kj, q, vars))
                return 0;
        }
    }
    return 1;
}

/* ---- principals, actions, resources ----------------------------------- */

/* Call fn for each string of v (a string or an array of strings) until it
 * returns non-zero; that value, or 0. */
static int each_string(const cJSON *v, int (*fn)(const char *s, const void *arg), const void *arg)
{
    if (cJSON_IsString(v))
        return fn(v->valuestring, arg);
    const cJSON *e, *list = cJSON_IsArray(v) ? v : NULL;
    cJSON_ArrayForEach(e, list) {
        int rc = cJSON_IsString(e) ? fn(e->valuestring, arg) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

static int names_requester(const char *s, const void *arg)
{
    const struct s3_policy_req *q = arg;
    if (strcmp(s, "*") == 0)
        return 1;
    if (q->anonymous)
        return 0;
    if (strcmp(s, S3_POLICY_ROOT_ARN) == 0)
        return q->is_root;
    if (strncmp(s, S3_POLICY_USER_ARN, strlen(S3_POLICY_USER_ARN)) == 0)
        s += strlen(S3_POLICY_USER_ARN);
    return (q->user && strcmp(s, q->user) == 0) || (q->access_key && strcmp(s, q->access_key) == 0);
}

static int principal_matches(const cJSON *pr, const struct s3_policy_req *q)
{
    if (cJSON_IsString(pr))
        return 1; /* "*": the only string parse allows */
    const cJSON *e, *kinds = cJSON_IsObject(pr) ? pr : NULL;
    cJSON_ArrayForEach(e, kinds) {
        if ((strcmp(e->string, "AWS") == 0 || strcmp(e->string, "CanonicalUser") == 0) &&
            each_string(e, names_requester, q))
            return 1;
    }
    return 0;
}

static int action_matches(const char *pattern, const void *arg)
{
    return s3_policy_match(pattern, arg, 1);
}

struct resource_arg {
    const struct s3_policy_req *q;
    int vars;
};

static int resource_matches(const char *pattern, const void *arg)
{
    const struct resource_arg *a = arg;
    char expanded[2048];
    const char *p = expand(pattern, a->q, a->vars, expanded, sizeof expanded);
    return p && s3_policy_match(p, a->q->resource, 0);
}

static int statement_applies(const cJSON *st, const struct s3_policy_req *q, int vars)
{
    const struct resource_arg ra = {q, vars};
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(st, "Principal")) && !principal_matches(v, q))
        return 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(st, "NotPrincipal")) && principal_matches(v, q))
        return 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(st, "Action")) &&
        !each_string(v, action_matches, q->action))
        return 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(st, "NotAction")) &&
        each_string(v, action_matches, q->action))
        return 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(st, "Resource")) &&
        !each_string(v, resource_matches, &ra))
        return 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(st, "NotResource")) &&
        each_string(v, resource_matches, &ra))
        return 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(st, "Condition")) && !conditions_hold(v, q, vars))
        return 0;
    return 1;
}

/* The statements: the array, or the one object (parse allows both). */
static const cJSON *statements(const struct s3_policy *p, const cJSON **single)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(p->doc, "Statement");
    *single = cJSON_IsObject(s) ? s : NULL;
    return cJSON_IsArray(s) ? s : NULL;
}

#define FOR_EACH_STATEMENT(st, p, arr, single)                                             \
    for (arr = statements(p, &single), st = single ? single : arr ? arr->child : NULL; st; \
         st = single ? NULL : st->next)

enum s3_policy_effect s3_policy_evaluate(const struct s3_policy *p, const struct s3_policy_req *q)
{
    const cJSON *st, *arr, *single;
    int allow = 0;
    if (!p || !q->action || !q->resource)
        return S3_POLICY_NONE;
    FOR_EACH_STATEMENT(st, p, arr, single) {
        const cJSON *eff = cJSON_GetObjectItemCaseSensitive(st, "Effect");
        if (!cJSON_IsString(eff) || !statement_applies(st, q, p->vars))
            continue;
        if (strcmp(eff->valuestring, "Deny") == 0)
            return S3_POLICY_DENY;
        if (strcmp(eff->valuestring, "Allow") == 0)
            allow = 1;
    }
    return allow ? S3_POLICY_ALLOW : S3_POLICY_NONE;
}

/* ---- public or not ---------------------------------------------------- */

static int is_star(const char *s, const void *arg)
{
    (void)arg;
    return strcmp(s, "*") == 0;
}

static int grants_everyone(const cJSON *st)
{
    if (cJSON_GetObjectItemCaseSensitive(st, "NotPrincipal"))
        return 1;
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(st, "Principal");
    if (cJSON_IsString(pr))
        return 1;
    const cJSON *aws = cJSON_GetObjectItemCaseSensitive(pr, "AWS");
    return aws && each_string(aws, is_star, NULL);
}

/* Whether one value pins requests down: a fixed string, or an address
 * range no wider than /8 (IPv4) or /32 (IPv6). */
static int narrow_value(const char *s, const void *arg)
{
    const enum cond_key *k = arg;
    if (*k != KEY_SOURCE_IP)
        return !strchr(s, '*') && !strchr(s, '?') ? 0 : 1;
    uint8_t a[16];
    int bits;
    if (ip_parse(s, a, &bits) != 0)
        return 1;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    int v4 = bits >= 96 && memcmp(a, mapped, sizeof mapped) == 0;
    return v4 ? bits - 96 < 8 : bits < 32;
}

static int narrows(const cJSON *cond)
{
    const cJSON *opj, *kj;
    cJSON_ArrayForEach(opj, cond) {
        struct op_info o;
        if (op_parse(opj->string, &o) != 0 || o.negated || o.if_exists || o.for_all)
            continue;
        if (o.op != OP_STR_EQ && o.op != OP_STR_EQ_IC && o.op != OP_STR_LIKE && o.op != OP_IP)
            continue;
        cJSON_ArrayForEach(kj, opj) {
            enum cond_key k;
            if (key_parse(kj->string, &k) != 0)
                continue;
            if ((k == KEY_SOURCE_IP && o.op == OP_IP) ||
                ((k == KEY_USERNAME || k == KEY_USERID) && o.op != OP_IP)) {
                /* each_string over non-strings is not reached: values of
                 * these keys are strings or arrays of them */
                if ((cJSON_IsString(kj) || cJSON_IsArray(kj)) && !each_string(kj, narrow_value, &k))
                    return 1;
            }
        }
    }
    return 0;
}

int s3_policy_is_public(const struct s3_policy *p)
{
    const cJSON *st, *arr, *single;
    FOR_EACH_STATEMENT(st, p, arr, single) {
        const cJSON *eff = cJSON_GetObjectItemCaseSensitive(st, "Effect");
        if (!cJSON_IsString(eff) || strcmp(eff->valuestring, "Allow") != 0 || !grants_everyone(st))
            continue;
        const cJSON *cond = cJSON_GetObjectItemCaseSensitive(st, "Condition");
        if (!cond || !narrows(cond))
            return 1;
    }
    return 0;
}

/* ---- checking a document ---------------------------------------------- */

struct checker {
    const char *bucket;
    int (*known)(void *arg, const char *name);
    void *arg;
    char *msg;
    size_t cap;
};

static int fail(struct checker *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, c->cap, fmt, ap);
    va_end(ap);
    return S3_POLICY_EMALFORMED;
}

/* A string, or a non-empty array of strings. */
static int string_or_list(const cJSON *v)
{
    if (cJSON_IsString(v))
        return 1;
    if (!cJSON_IsArray(v) || !v->child)
        return 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsString(e))
            return 0;
    }
    return 1;
}

/* JSON allows a member name twice; a policy must not (which of the two
 * would count is up to the reader). */
static int has_duplicate_names(const cJSON *v)
{
    const cJSON *a, *b;
    cJSON_ArrayForEach(a, v) {
        if (cJSON_IsObject(v))
            for (b = a->next; b; b = b->next)
                if (strcmp(a->string, b->string) == 0)
                    return 1;
        if ((cJSON_IsObject(a) || cJSON_IsArray(a)) && has_duplicate_names(a))
            return 1;
    }
    return 0;
}

static int check_one_principal(const char *s, const void *arg)
{
    struct checker *c = (struct checker *)arg;
    if (strcmp(s, "*") == 0 || strcmp(s, S3_POLICY_ROOT_ARN) == 0)
        return 0;
    if (strncmp(s, S3_POLICY_USER_ARN, strlen(S3_POLICY_USER_ARN)) == 0)
        s += strlen(S3_POLICY_USER_ARN);
    else if (strncmp(s, "arn:", 4) == 0)
        return 1; /* another account or an IAM entity cairn does not have */
    if (!*s || (c->known && !c->known(c->arg, s)))
        return 1;
    return 0;
}

static int check_principal(struct checker *c, const cJSON *pr)
{
    if (cJSON_IsString(pr))
        return strcmp(pr->valuestring, "*") == 0 ? 0 : fail(c, "Invalid principal in policy");
    if (!cJSON_IsObject(pr) || !pr->child)
        return fail(c, "Invalid principal in policy");
    const cJSON *e;
    cJSON_ArrayForEach(e, pr) {
        if (!string_or_list(e))
            return fail(c, "Invalid principal in policy");
        if (strcmp(e->string, "AWS") == 0 || strcmp(e->string, "CanonicalUser") == 0) {
            if (each_string(e, check_one_principal, c))
                return fail(c, "Invalid principal in policy");
        } else if (strcmp(e->string, "Service") != 0 && strcmp(e->string, "Federated") != 0) {
            return fail(c, "Invalid principal in policy");
        }
    }
    return 0;
}

/* What a statement's resources can name: the bucket, objects in it. */
struct reach {
    int bucket, object;
};

static int check_one_resource(const char *s, const void *arg)
{
    const void *const *a = arg;
    const struct checker *c = a[0];
    struct reach *r = (struct reach *)a[1];
    size_t pl = strlen(S3_POLICY_S3_ARN);
    if (strncmp(s, S3_POLICY_S3_ARN, pl) != 0)
        return 1;
    s += pl;
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s/", c->bucket);
    int b = s3_policy_match(s, c->bucket, 0), o = match_prefix(s, prefix);
    if (!b && !o)
        return 1;
    r->bucket |= b;
    r->object |= o;
    return 0;
}

static int check_one_action(const char *s, const void *arg)
{
    const struct reach *r = arg;
    int any = 0, applies = 0;
    if (strcmp(s, "*") != 0) {
        if (strncasecmp(s, "s3:", 3) != 0)
            return 1;
        s += 3;
    }
    for (size_t i = 0; i < N_ACTIONS; i++) {
        if (!s3_policy_match(s, actions[i].name + 3, 1))
            continue;
        any = 1;
        if (!r || (actions[i].object ? r->object : r->bucket))
            applies = 1;
    }
    return !any ? 1 : !applies ? 2 : 0;
}

static int check_condition(struct checker *c, const cJSON *cond)
{
    const cJSON *opj, *kj, *v;
    if (!cJSON_IsObject(cond))
        return fail(c, "This policy contains invalid Json");
    cJSON_ArrayForEach(opj, cond) {
        struct op_info o;
        if (op_parse(opj->string, &o) != 0)
            return fail(c, "Invalid Condition type : %s", opj->string);
        if (!cJSON_IsObject(opj))
            return fail(c, "This policy contains invalid Json");
        cJSON_ArrayForEach(kj, opj) {
            enum cond_key k;
            if (key_parse(kj->string, &k) != 0)
                return fail(c, "Policy has an invalid condition key");
            int n = 0;
            for (v = cJSON_IsArray(kj) ? kj->child : kj; v; v = cJSON_IsArray(kj) ? v->next : NULL) {
                char buf[64];
                const char *t = value_text(v, buf, sizeof buf);
                uint8_t a[16];
                int bits;
                if (!t)
                    return fail(c, "This policy contains invalid Json");
                if ((o.op == OP_IP || o.op == OP_NOT_IP) && ip_parse(t, a, &bits) != 0)
                    return fail(c, "Invalid IP address in condition: %s", t);
                n++;
            }
            if (!n)
                return fail(c, "This policy contains invalid Json");
        }
    }
    return 0;
}

static int check_statement(struct checker *c, const cJSON *st, const cJSON *const *sids,
                           size_t nsids)
{
    static const char *const fields[] = {"Sid", "Effect", "Principal", "NotPrincipal", "Action",
                                         "NotAction", "Resource", "NotResource", "Condition",
                                         NULL};
    const cJSON *e;
    int rc;
    if (!cJSON_IsObject(st))
        return fail(c, "This policy contains invalid Json");
    cJSON_ArrayForEach(e, st) {
        int ok = 0;
        for (int i = 0; fields[i]; i++)
            ok |= strcmp(e->string, fields[i]) == 0;
        if (!ok)
            return fail(c, "Unknown field %s", e->string);
    }
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(st, "Sid");
    if (sid && !cJSON_IsString(sid))
        return fail(c, "This policy contains invalid Json");
    for (size_t i = 0; sid && i < nsids; i++)
        if (strcmp(sids[i]->valuestring, sid->valuestring) == 0)
            return fail(c, "Statement IDs (SID) in a single policy must be unique");

    const cJSON *eff = cJSON_GetObjectItemCaseSensitive(st, "Effect");
    if (!eff)
        return fail(c, "Missing required field Effect");
    if (!cJSON_IsString(eff) ||
        (strcmp(eff->valuestring, "Allow") != 0 && strcmp(eff->valuestring, "Deny") != 0))
        return fail(c, "Invalid effect: %s", cJSON_IsString(eff) ? eff->valuestring : "");

    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(st, "Principal");
    const cJSON *npr = cJSON_GetObjectItemCaseSensitive(st, "NotPrincipal");
    if (!pr && !npr)
        return fail(c, "Missing required field Principal");
    if (pr && npr)
        return fail(c, "Invalid principal in policy");
    if ((rc = check_principal(c, pr ? pr : npr)) != 0)
        return rc;

    const cJSON *res = cJSON_GetObjectItemCaseSensitive(st, "Resource");
    const cJSON *nres = cJSON_GetObjectItemCaseSensitive(st, "NotResource");
    if (!res && !nres)
        return fail(c, "Missing required field Resource");
    if ((res && nres) || !string_or_list(res ? res : nres))
        return fail(c, "Policy has invalid resource");
    struct reach reach = {0, 0};
    const void *rarg[2] = {c, &reach};
    if (each_string(res ? res : nres, check_one_resource, rarg))
        return fail(c, "Policy has invalid resource");

    const cJSON *act = cJSON_GetObjectItemCaseSensitive(st, "Action");
    const cJSON *nact = cJSON_GetObjectItemCaseSensitive(st, "NotAction");
    if (!act && !nact)
        return fail(c, "Missing required field Action");
    if ((act && nact) || !string_or_list(act ? act : nact))
        return fail(c, "Policy has invalid action");
    /* Every action must act on some resource the statement names (what
     * NotResource leaves is not worked out: anything may remain). */
    int arc = each_string(act ? act : nact, check_one_action, act && res ? &reach : NULL);
    if (arc == 1)
        return fail(c, "Policy has invalid action");
    if (arc == 2)
        return fail(c, "Action does not apply to any resource(s) in statement");

    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(st, "Condition");
    if (cond && (rc = check_condition(c, cond)) != 0)
        return rc;
    return 0;
}

static int check_document(struct checker *c, const cJSON *doc)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, doc) {
        if (strcmp(e->string, "Version") != 0 && strcmp(e->string, "Id") != 0 &&
            strcmp(e->string, "Statement") != 0)
            return fail(c, "Unknown field %s", e->string);
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(doc, "Version");
    if (ver && (!cJSON_IsString(ver) || (strcmp(ver->valuestring, "2012-10-17") != 0 &&
                                         strcmp(ver->valuestring, "2008-10-17") != 0)))
        return fail(c, "The policy must contain a valid version string");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "Id");
    if (id && !cJSON_IsString(id))
        return fail(c, "This policy contains invalid Json");
    const cJSON *sts = cJSON_GetObjectItemCaseSensitive(doc, "Statement");
    if (!sts)
        return fail(c, "Missing required field Statement");
    if (cJSON_IsObject(sts))
        return check_statement(c, sts, NULL, 0);
    if (!cJSON_IsArray(sts))
        return fail(c, "This policy contains invalid Json");
    int n = cJSON_GetArraySize(sts);
    if (n == 0)
        return fail(c, "Could not parse the policy: Statement is empty!");
    const cJSON **sids = calloc((size_t)n, sizeof *sids);
    size_t nsids = 0;
    int rc = 0;
    if (!sids)
        return -ENOMEM;
    cJSON_ArrayForEach(e, sts) {
        if ((rc = check_statement(c, e, sids, nsids)) != 0)
            break;
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(e, "Sid");
        if (sid)
            sids[nsids++] = sid;
    }
    free(sids);
    return rc;
}

/* Policy variables exist from Version 2012-10-17 on; before, "${" is text. */
static int uses_variables(const cJSON *doc)
{
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(doc, "Version");
    return cJSON_IsString(ver) && strcmp(ver->valuestring, "2012-10-17") == 0;
}

int s3_policy_parse(const char *text, size_t len, const char *bucket,
                    int (*known)(void *arg, const char *name), void *arg,
                    struct s3_policy **out, char *msg, size_t cap)
{
    struct checker c = {bucket, known, arg, msg, cap};
    const char *end = NULL;
    cJSON *doc = NULL;
    char *compact = NULL;
    int rc;
    if (cap)
        msg[0] = 0;
    if (len == 0 || text[0] != '{')
        return fail(&c, "Policies must be valid JSON and the first byte must be '{'");
    doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (doc && end) /* only white space may follow the document */
        for (; end < text + len; end++)
            if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n')
                break;
    if (!doc || !cJSON_IsObject(doc) || (end && end < text + len) || has_duplicate_names(doc)) {
        rc = fail(&c, "This policy contains invalid Json");
        goto out;
    }
    compact = cJSON_PrintUnformatted(doc);
    if (!compact) {
        rc = -ENOMEM;
        goto out;
    }
    if (strlen(compact) > S3_POLICY_MAX_BYTES) {
        rc = fail(&c, "Policy exceeds the maximum allowed document size.");
        goto out;
    }
    if ((rc = check_document(&c, doc)) != 0)
        goto out;
    struct s3_policy *p = malloc(sizeof *p);
    if (!p) {
        rc = -ENOMEM;
        goto out;
    }
    p->doc = doc;
    p->vars = uses_variables(doc);
    doc = NULL;
    *out = p;
out:
    free(compact);
    cJSON_Delete(doc);
    return rc;
}

int s3_policy_load(const char *text, size_t len, struct s3_policy **out)
{
    cJSON *doc = cJSON_ParseWithLength(text, len);
    struct s3_policy *p = doc && cJSON_IsObject(doc) ? malloc(sizeof *p) : NULL;
    if (!p) {
        int rc = doc && cJSON_IsObject(doc) ? -ENOMEM : S3_POLICY_EMALFORMED;
        cJSON_Delete(doc);
        return rc;
    }
    p->doc = doc;
    p->vars = uses_variables(doc);
    *out = p;
    return 0;
}

void s3_policy_free(struct s3_policy *p)
{
    if (!p)
        return;
    cJSON_Delete(p->doc);
    free(p);
}
