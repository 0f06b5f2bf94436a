/*
 * Unit tests for the bucket policy engine (gateway/s3_policy.c): the
 * grammar and S3's MalformedPolicy messages, action and resource
 * wildcards, principals, NotAction / NotResource / NotPrincipal, every
 * condition operator family with absent keys, explicit deny winning,
 * what counts as public, and the action every handler asks for.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/s3_internal.h"
#include "gateway/s3_policy.h"

#define B "pol-bkt"
#define ARN "arn:aws:s3:::" B

/* cairn's users in these tests: alice (key AKALICE) and bob. */
static int known(void *arg, const char *name)
{
    (void)arg;
    return strcmp(name, "alice") == 0 || strcmp(name, "AKALICE") == 0 || strcmp(name, "bob") == 0;
}

static struct s3_policy *parse_ok(const char *json)
{
    struct s3_policy *p = NULL;
    char msg[256];
    int rc = s3_policy_parse(json, strlen(json), B, known, NULL, &p, msg, sizeof msg);
    if (rc != 0)
        fail_msg("policy refused (%d: %s): %s", rc, msg, json);
    return p;
}

static void parse_bad(const char *json, const char *want)
{
    struct s3_policy *p = NULL;
    char msg[256];
    int rc = s3_policy_parse(json, strlen(json), B, known, NULL, &p, msg, sizeof msg);
    if (rc != S3_POLICY_EMALFORMED)
        fail_msg("expected \"%s\", got rc %d for %s", want, rc, json);
    assert_null(p);
    assert_string_equal(msg, want);
}

static struct s3_policy_req req_anon(const char *action, const char *resource)
{
    struct s3_policy_req q;
    memset(&q, 0, sizeof q);
    q.action = action;
    q.resource = resource;
    q.anonymous = 1;
    q.source_ip = "127.0.0.1";
    return q;
}

static struct s3_policy_req req_user(const char *user, const char *key, const char *action,
                                     const char *resource)
{
    struct s3_policy_req q = req_anon(action, resource);
    q.anonymous = 0;
    q.user = user;
    q.access_key = key;
    return q;
}

/* Evaluate one statement body (wrapped into a policy) for q. */
static enum s3_policy_effect eval1(const char *statement, const struct s3_policy_req *q)
{
    char doc[4096];
    snprintf(doc, sizeof doc, "{\"Version\":\"2012-10-17\",\"Statement\":[%s]}", statement);
    struct s3_policy *p = parse_ok(doc);
    enum s3_policy_effect e = s3_policy_evaluate(p, q);
    s3_policy_free(p);
    return e;
}

static void test_grammar_errors(void **state)
{
    (void)state;
    parse_bad("", "Policies must be valid JSON and the first byte must be '{'");
    parse_bad(" {}", "Policies must be valid JSON and the first byte must be '{'");
    parse_bad("[1]", "Policies must be valid JSON and the first byte must be '{'");
    parse_bad("{\"Statement\": [", "This policy contains invalid Json");
    parse_bad("{\"Statement\": []} x", "This policy contains invalid Json");
    parse_bad("{\"Version\":\"2012-10-17\"}", "Missing required field Statement");
    parse_bad("{\"Statement\":[]}", "Could not parse the policy: Statement is empty!");
    parse_bad("{\"Version\":\"2012-10-18\",\"Statement\":[]}",
              "The policy must contain a valid version string");
    parse_bad("{\"Statment\":[]}", "Unknown field Statment");
    /* a name given twice */
    parse_bad("{\"Statement\":{\"Effect\":\"Allow\",\"Effect\":\"Deny\",\"Principal\":\"*\","
              "\"Action\":\"s3:GetObject\",\"Resource\":\"" ARN "/*\"}}",
              "This policy contains invalid Json");
    parse_bad("{\"Statement\":{\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"" ARN
              "/*\"}}",
              "Missing required field Effect");
    parse_bad("{\"Statement\":{\"Effect\":\"hello\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\","
              "\"Resource\":\"" ARN "/*\"}}",
              "Invalid effect: hello");
    parse_bad("{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"" ARN
              "/*\"}}",
              "Missing required field Principal");
    parse_bad("{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Resource\":\"" ARN "/*\"}}",
              "Missing required field Action");
    parse_bad("{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\"}}",
              "Missing required field Resource");
    parse_bad("{\"Statement\":[{\"Sid\":\"a\",\"Effect\":\"Allow\",\"Principal\":\"*\","
              "\"Action\":\"s3:GetObject\",\"Resource\":\"" ARN "/*\"},{\"Sid\":\"a\","
              "\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"" ARN
              "/*\"}]}",
              "Statement IDs (SID) in a single policy must be unique");
    parse_bad("{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\","
              "\"Resource\":\"" ARN "/*\",\"Extra\":1}}",
              "Unknown field Extra");
}

static void test_actions_resources_principals_refused(void **state)
{
    (void)state;
    const char *fmt = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":%s,\"Action\":%s,"
                      "\"Resource\":%s}}";
    static const struct {
        const char *principal, *action, *resource, *msg;
    } cases[] = {
        {"\"*\"", "\"s3:GetObjectz\"", "\"" ARN "/*\"", "Policy has invalid action"},
        {"\"*\"", "\"iam:GetUser\"", "\"" ARN "/*\"", "Policy has invalid action"},
        {"\"*\"", "\"s3:Nothing*\"", "\"" ARN "/*\"", "Policy has invalid action"},
        {"\"*\"", "[]", "\"" ARN "/*\"", "Policy has invalid action"},
        {"\"*\"", "\"s3:GetObject\"", "\"arn:aws:s3:::other/*\"", "Policy has invalid resource"},
        {"\"*\"", "\"s3:GetObject\"", "\"*\"", "Policy has invalid resource"},
        {"\"*\"", "\"s3:GetObject\"", "\"" ARN "x/*\"", "Policy has invalid resource"},
        {"\"*\"", "\"s3:GetObject\"", "\"" ARN "\"",
         "Action does not apply to any resource(s) in statement"},
        {"\"*\"", "\"s3:ListBucket\"", "\"" ARN "/*\"",
         "Action does not apply to any resource(s) in statement"},
        {"\"*\"", "[\"s3:GetObject\",\"s3:ListBucket\"]", "\"" ARN "/*\"",
         "Action does not apply to any resource(s) in statement"},
        {"\"alice\"", "\"s3:GetObject\"", "\"" ARN "/*\"", "Invalid principal in policy"},
        {"{\"AWS\":\"carol\"}", "\"s3:GetObject\"", "\"" ARN "/*\"", "Invalid principal in policy"},
        {"{\"AWS\":\"arn:aws:iam::123456789012:user/alice\"}", "\"s3:GetObject\"", "\"" ARN "/*\"",
         "Invalid principal in policy"},
        {"{\"AWS\":\"arn:aws:iam::cairn:user/carol\"}", "\"s3:GetObject\"", "\"" ARN "/*\"",
         "Invalid principal in policy"},
        {"{\"Nobody\":\"alice\"}", "\"s3:GetObject\"", "\"" ARN "/*\"", "Invalid principal in policy"},
        {"{}", "\"s3:GetObject\"", "\"" ARN "/*\"", "Invalid principal in policy"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char doc[1024];
        snprintf(doc, sizeof doc, fmt, cases[i].principal, cases[i].action, cases[i].resource);
        parse_bad(doc, cases[i].msg);
    }
    /* accepted forms */
    static const char *const ok[] = {
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"alice\",\"AKALICE\","
        "\"arn:aws:iam::cairn:user/bob\",\"arn:aws:iam::cairn:root\"]},\"Action\":\"s3:*\","
        "\"Resource\":[\"" ARN "\",\"" ARN "/*\"]}}",
        "{\"Version\":\"2008-10-17\",\"Id\":\"x\",\"Statement\":{\"Effect\":\"Deny\","
        "\"NotPrincipal\":{\"CanonicalUser\":\"bob\"},\"NotAction\":\"s3:Get*\",\"NotResource\":\"" ARN
        "/keep/*\"}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"logging.s3.amazonaws.com\"},"
        "\"Action\":\"*\",\"Resource\":\"arn:aws:s3:::pol-*\"}}",
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"S3:getobject\","
        "\"Resource\":\"" ARN "/pre?ix/*\"}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        s3_policy_free(parse_ok(ok[i]));
}

static void test_size_cap(void **state)
{
    (void)state;
    size_t cap = S3_POLICY_MAX_BYTES + 4096;
    char *doc = malloc(cap);
    assert_non_null(doc);
    /* white space does not count: a padded policy under 20 KB compact passes */
    int n = snprintf(doc, cap, "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\","
                               "\"Action\":\"s3:GetObject\",\"Resource\":\"" ARN "/*\"}");
    memset(doc + n, ' ', 22000);
    strcpy(doc + n + 22000, "}");
    s3_policy_free(parse_ok(doc));
    /* one long resource list over 20 KB compact is refused */
    n = snprintf(doc, cap, "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\","
                           "\"Action\":\"s3:GetObject\",\"Resource\":[");
    while ((size_t)n < S3_POLICY_MAX_BYTES + 100)
        n += snprintf(doc + n, cap - (size_t)n, "\"" ARN "/%05d\",", n);
    snprintf(doc + n - 1, cap - (size_t)n, "]}}");
    parse_bad(doc, "Policy exceeds the maximum allowed document size.");
    free(doc);
}

static void test_wildcards(void **state)
{
    (void)state;
    assert_true(s3_policy_match("s3:Get*", "s3:GetObject", 1));
    assert_true(s3_policy_match("s3:get*", "s3:GetObject", 1));
    assert_false(s3_policy_match("s3:get*", "s3:GetObject", 0));
    assert_true(s3_policy_match("a*b*c", "aXXbYYbc", 0));
    assert_true(s3_policy_match("a?c", "abc", 0));
    assert_false(s3_policy_match("a?c", "ac", 0));
    assert_true(s3_policy_match("*", "", 0));
    assert_false(s3_policy_match("", "x", 0));
    assert_true(s3_policy_match(ARN "/*", ARN "/dir/sub/key", 0));

    const char *st = "{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:Get*\","
                     "\"Resource\":\"" ARN "/public/*\"}";
    struct s3_policy_req q = req_anon("s3:GetObject", ARN "/public/a/b.txt");
    assert_int_equal(eval1(st, &q), S3_POLICY_ALLOW);
    q.action = "s3:GetObjectVersion";
    assert_int_equal(eval1(st, &q), S3_POLICY_ALLOW);
    q.action = "s3:PutObject";
    assert_int_equal(eval1(st, &q), S3_POLICY_NONE);
    q = req_anon("s3:GetObject", ARN "/Public/a");
    assert_int_equal(eval1(st, &q), S3_POLICY_NONE); /* resources keep case */
    q = req_anon("s3:GetObject", ARN "/private/a");
    assert_int_equal(eval1(st, &q), S3_POLICY_NONE);
    st = "{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":[\"" ARN
         "\",\"" ARN "/*\"]}";
    q = req_anon("s3:ListBucket", ARN);
    assert_int_equal(eval1(st, &q), S3_POLICY_ALLOW);
    q = req_anon("s3:DeleteObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_ALLOW);
}

static void test_principals(void **state)
{
    (void)state;
    const char *st = "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"arn:aws:iam::cairn:user/alice\"]},"
                     "\"Action\":\"s3:GetObject\",\"Resource\":\"" ARN "/*\"}";
    struct s3_policy_req q = req_user("alice", "AKALICE", "s3:GetObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_ALLOW);
    q = req_user("bob", "AKBOB", "s3:GetObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_NONE);
    q = req_anon("s3:GetObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_NONE);
    /* by plain name and by access key */
    st = "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"AKALICE\"},\"Action\":\"s3:GetObject\","
         "\"Resource\":\"" ARN "/*\"}";
    q = req_user("alice", "AKALICE", "s3:GetObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_ALLOW);
    st = "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"bob\"},\"Action\":\"s3:GetObject\","
         "\"Resource\":\"" ARN "/*\"}";
    q = req_user("bob", "AKBOB", "s3:GetObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_ALLOW);
    /* the root ARN names root only */
    st = "{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"arn:aws:iam::cairn:root\"},"
         "\"Action\":\"s3:GetObject\",\"Resource\":\"" ARN "/*\"}";
    q = req_user("root", "ROOTKEY", "s3:GetObject", ARN "/k");
    q.is_root = 1;
    assert_int_equal(eval1(st, &q), S3_POLICY_DENY);
    q = req_user("alice", "AKALICE", "s3:GetObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_NONE);
    /* {"AWS": "*"} includes anonymous requests */
    st = "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"s3:GetObject\","
         "\"Resource\":\"" ARN "/*\"}";
    q = req_anon("s3:GetObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_ALLOW);
    /* NotPrincipal: everyone but bob */
    st = "{\"Effect\":\"Deny\",\"NotPrincipal\":{\"AWS\":\"bob\"},\"Action\":\"s3:DeleteObject\","
         "\"Resource\":\"" ARN "/*\"}";
    q = req_user("alice", "AKALICE", "s3:DeleteObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_DENY);
    q = req_anon("s3:DeleteObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_DENY);
    q = req_user("bob", "AKBOB", "s3:DeleteObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_NONE);
}

static void test_not_action_not_resource(void **state)
{
    (void)state;
    const char *st = "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"NotAction\":[\"s3:Get*\","
                     "\"s3:ListBucket\"],\"Resource\":[\"" ARN "\",\"" ARN "/*\"]}";
    struct s3_policy_req q = req_user("alice", "AKALICE", "s3:PutObject", ARN "/k");
    assert_int_equal(eval1(st, &q), S3_POLICY_DENY);
    q.action = "s3:GetObject";
    assert_int_equal(eval1(st, &q), S3_POLICY_NONE);
    q.action = "s3:ListBucket";
    q.resource = ARN;
    assert_int_equal(eval1(st, &q), S3_POLICY_NONE);
    st = "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:DeleteObject\","
         "\"NotResource\":\"" ARN "/tmp/*\"}";
    q = req_user("alice", "AKALICE", "s3:DeleteObject", ARN "/tmp/x");
    assert_int_equal(eval1(st, &q), S3_POLICY_NONE);
    q.resource = ARN "/keep/x";
    assert_int_equal(eval1(st, &q), S3_POLICY_DENY);
}

static void test_deny_wins(void **state)
{
    (void)state;
    const char *doc = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\","
                      "\"Resource\":\"" ARN "/*\"},{\"Effect\":\"Deny\",\"Principal\":\"*\","
                      "\"Action\":\"s3:DeleteObject\",\"Resource\":\"" ARN "/*\"},"
                      "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"alice\"},"
                      "\"Action\":\"s3:DeleteObject\",\"Resource\":\"" ARN "/*\"}]}";
    struct s3_policy *p = parse_ok(doc);
    struct s3_policy_req q = req_user("alice", "AKALICE", "s3:DeleteObject", ARN "/k");
    assert_int_equal(s3_policy_evaluate(p, &q), S3_POLICY_DENY);
    q.action = "s3:PutObject";
    assert_int_equal(s3_policy_evaluate(p, &q), S3_POLICY_ALLOW);
    /* no action or resource: nothing applies */
    q.action = NULL;
    assert_int_equal(s3_policy_evaluate(p, &q), S3_POLICY_NONE);
    s3_policy_free(p);
    assert_int_equal(s3_policy_evaluate(NULL, &q), S3_POLICY_NONE);
}

static enum s3_policy_effect eval_cond(const char *cond, const struct s3_policy_req *q)
{
    char st[2048];
    snprintf(st, sizeof st, "{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[\"s3:ListBucket\","
                            "\"s3:GetObject\",\"s3:PutObject\"],\"Resource\":[\"" ARN "\",\"" ARN
                            "/*\"],\"Condition\":%s}",
             cond);
    return eval1(st, q);
}

static void test_conditions_strings(void **state)
{
    (void)state;
    struct s3_policy_req q = req_anon("s3:ListBucket", ARN);
    const char *eq = "{\"StringEquals\":{\"s3:prefix\":[\"home/\",\"pub/\"]}}";
    assert_int_equal(eval_cond(eq, &q), S3_POLICY_NONE); /* absent key */
    q.prefix = "pub/";
    assert_int_equal(eval_cond(eq, &q), S3_POLICY_ALLOW);
    q.prefix = "Pub/";
    assert_int_equal(eval_cond(eq, &q), S3_POLICY_NONE);
    assert_int_equal(eval_cond("{\"StringEqualsIgnoreCase\":{\"s3:prefix\":\"pub/\"}}", &q),
                     S3_POLICY_ALLOW);
    assert_int_equal(eval_cond("{\"StringNotEqualsIgnoreCase\":{\"s3:prefix\":\"pub/\"}}", &q),
                     S3_POLICY_NONE);
    /* negated: holds when no value matches, and when the key is absent */
    const char *ne = "{\"StringNotEquals\":{\"s3:prefix\":\"secret/\"}}";
    q.prefix = "pub/";
    assert_int_equal(eval_cond(ne, &q), S3_POLICY_ALLOW);
    q.prefix = "secret/";
    assert_int_equal(eval_cond(ne, &q), S3_POLICY_NONE);
    q.prefix = NULL;
    assert_int_equal(eval_cond(ne, &q), S3_POLICY_ALLOW);
    /* like / not like */
    const char *like = "{\"StringLike\":{\"s3:prefix\":\"home/*\"}}";
    q.prefix = "home/alice/";
    assert_int_equal(eval_cond(like, &q), S3_POLICY_ALLOW);
    q.prefix = "other/";
    assert_int_equal(eval_cond(like, &q), S3_POLICY_NONE);
    assert_int_equal(eval_cond("{\"StringNotLike\":{\"s3:prefix\":\"home/*\"}}", &q), S3_POLICY_ALLOW);
    /* IfExists: an absent key passes */
    q.prefix = NULL;
    assert_int_equal(eval_cond("{\"StringLikeIfExists\":{\"s3:prefix\":\"home/*\"}}", &q),
                     S3_POLICY_ALLOW);
    q.prefix = "x";
    assert_int_equal(eval_cond("{\"StringLikeIfExists\":{\"s3:prefix\":\"home/*\"}}", &q),
                     S3_POLICY_NONE);
    /* set operators on a single-valued key */
    q.prefix = NULL;
    assert_int_equal(eval_cond("{\"ForAllValues:StringEquals\":{\"s3:prefix\":\"a\"}}", &q),
                     S3_POLICY_ALLOW);
    assert_int_equal(eval_cond("{\"ForAnyValue:StringEquals\":{\"s3:prefix\":\"a\"}}", &q),
                     S3_POLICY_NONE);
    /* Null */
    assert_int_equal(eval_cond("{\"Null\":{\"s3:prefix\":\"true\"}}", &q), S3_POLICY_ALLOW);
    assert_int_equal(eval_cond("{\"Null\":{\"s3:prefix\":\"false\"}}", &q), S3_POLICY_NONE);
    /* keys are case-insensitive; operators within one block AND */
    q.prefix = "pub/";
    q.delimiter = "/";
    assert_int_equal(eval_cond("{\"StringEquals\":{\"S3:Prefix\":\"pub/\",\"s3:delimiter\":\"/\"}}", &q),
                     S3_POLICY_ALLOW);
    assert_int_equal(eval_cond("{\"StringEquals\":{\"s3:prefix\":\"pub/\"},"
                               "\"StringNotEquals\":{\"s3:delimiter\":\"/\"}}", &q),
                     S3_POLICY_NONE);
    /* user keys */
    q = req_user("alice", "AKALICE", "s3:GetObject", ARN "/k");
    assert_int_equal(eval_cond("{\"StringEquals\":{\"aws:username\":\"alice\"}}", &q), S3_POLICY_ALLOW);
    assert_int_equal(eval_cond("{\"StringEquals\":{\"aws:userid\":\"AKALICE\"}}", &q), S3_POLICY_ALLOW);
    q = req_anon("s3:GetObject", ARN "/k");
    assert_int_equal(eval_cond("{\"StringEquals\":{\"aws:username\":\"alice\"}}", &q), S3_POLICY_NONE);
    assert_int_equal(eval_cond("{\"StringEquals\":{\"aws:userid\":\"anonymous\"}}", &q), S3_POLICY_ALLOW);
    assert_int_equal(eval_cond("{\"StringEquals\":{\"aws:PrincipalType\":\"Anonymous\"}}", &q),
                     S3_POLICY_ALLOW);
}

static void test_conditions_ip_bool_numeric(void **state)
{
    (void)state;
    struct s3_policy_req q = req_anon("s3:GetObject", ARN "/k");
    const char *lo = "{\"IpAddress\":{\"aws:SourceIp\":\"127.0.0.1/32\"}}";
    const char *net10 = "{\"IpAddress\":{\"aws:SourceIp\":[\"10.0.0.0/8\",\"192.168.1.0/24\"]}}";
    assert_int_equal(eval_cond(lo, &q), S3_POLICY_ALLOW);
    assert_int_equal(eval_cond(net10, &q), S3_POLICY_NONE);
    assert_int_equal(eval_cond("{\"NotIpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}", &q),
                     S3_POLICY_ALLOW);
    q.source_ip = "10.200.3.4";
    assert_int_equal(eval_cond(net10, &q), S3_POLICY_ALLOW);
    q.source_ip = "192.168.2.1";
    assert_int_equal(eval_cond(net10, &q), S3_POLICY_NONE);
    q.source_ip = "::ffff:127.0.0.1"; /* an IPv4 client on an IPv6 socket */
    assert_int_equal(eval_cond(lo, &q), S3_POLICY_ALLOW);
    q.source_ip = "2001:db8::5";
    assert_int_equal(eval_cond("{\"IpAddress\":{\"aws:SourceIp\":\"2001:db8::/32\"}}", &q),
                     S3_POLICY_ALLOW);
    assert_int_equal(eval_cond(lo, &q), S3_POLICY_NONE);
    q.source_ip = "127.0.0.1";
    assert_int_equal(eval_cond("{\"IpAddress\":{\"aws:SourceIp\":\"127.0.0.1\"}}", &q), S3_POLICY_ALLOW);
    assert_int_equal(eval_cond("{\"IpAddress\":{\"aws:SourceIp\":\"0.0.0.0/0\"}}", &q), S3_POLICY_ALLOW);

    assert_int_equal(eval_cond("{\"Bool\":{\"aws:SecureTransport\":\"false\"}}", &q), S3_POLICY_ALLOW);
    assert_int_equal(eval_cond("{\"Bool\":{\"aws:SecureTransport\":true}}", &q), S3_POLICY_NONE);
    q.secure_transport = 1;
    assert_int_equal(eval_cond("{\"Bool\":{\"aws:SecureTransport\":\"true\"}}", &q), S3_POLICY_ALLOW);

    q = req_anon("s3:ListBucket", ARN);
    const char *le = "{\"NumericLessThanEquals\":{\"s3:max-keys\":\"100\"}}";
    assert_int_equal(eval_cond(le, &q), S3_POLICY_NONE);
    q.max_keys = "100";
    assert_int_equal(eval_cond(le, &q), S3_POLICY_ALLOW);
    q.max_keys = "101";
    assert_int_equal(eval_cond(le, &q), S3_POLICY_NONE);
    q.max_keys = "abc";
    assert_int_equal(eval_cond(le, &q), S3_POLICY_NONE);
    q.max_keys = "7";
    assert_int_equal(eval_cond("{\"NumericEquals\":{\"s3:max-keys\":7}}", &q), S3_POLICY_ALLOW);
    assert_int_equal(eval_cond("{\"NumericGreaterThan\":{\"s3:max-keys\":7}}", &q), S3_POLICY_NONE);
    assert_int_equal(eval_cond("{\"NumericNotEquals\":{\"s3:max-keys\":8}}", &q), S3_POLICY_ALLOW);
}

static void test_condition_errors(void **state)
{
    (void)state;
    const char *fmt = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\","
                      "\"Resource\":\"" ARN "/*\",\"Condition\":%s}}";
    static const struct {
        const char *cond, *msg;
    } cases[] = {
        {"{\"StringEqualz\":{\"s3:prefix\":\"a\"}}", "Invalid Condition type : StringEqualz"},
        {"{\"NullIfExists\":{\"s3:prefix\":\"true\"}}", "Invalid Condition type : NullIfExists"},
        {"{\"StringEquals\":{\"s3:prefixx\":\"a\"}}", "Policy has an invalid condition key"},
        {"{\"IpAddress\":{\"aws:SourceIp\":\"300.0.0.1/8\"}}",
         "Invalid IP address in condition: 300.0.0.1/8"},
        {"{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/33\"}}",
         "Invalid IP address in condition: 10.0.0.0/33"},
        {"{\"StringEquals\":{\"s3:prefix\":[]}}", "This policy contains invalid Json"},
        {"{\"StringEquals\":{\"s3:prefix\":{\"a\":1}}}", "This policy contains invalid Json"},
        {"[1]", "This policy contains invalid Json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char doc[1024];
        snprintf(doc, sizeof doc, fmt, cases[i].cond);
        parse_bad(doc, cases[i].msg);
    }
}

static void test_policy_variables(void **state)
{
    (void)state;
    const char *doc = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                      "\"Principal\":{\"AWS\":[\"alice\",\"bob\"]},\"Action\":\"s3:*\","
                      "\"Resource\":\"" ARN "/home/${aws:username}/*\"},"
                      "{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:ListBucket\","
                      "\"Resource\":\"" ARN "\",\"Condition\":{\"StringLike\":"
                      "{\"s3:prefix\":\"home/${aws:username}/*\"}}}]}";
    struct s3_policy *p = parse_ok(doc);
    struct s3_policy_req q = req_user("alice", "AKALICE", "s3:PutObject", ARN "/home/alice/f");
    assert_int_equal(s3_policy_evaluate(p, &q), S3_POLICY_ALLOW);
    q.resource = ARN "/home/bob/f";
    assert_int_equal(s3_policy_evaluate(p, &q), S3_POLICY_NONE);
    q = req_user("alice", "AKALICE", "s3:ListBucket", ARN);
    q.prefix = "home/alice/docs/";
    assert_int_equal(s3_policy_evaluate(p, &q), S3_POLICY_ALLOW);
    q.prefix = "home/bob/";
    assert_int_equal(s3_policy_evaluate(p, &q), S3_POLICY_NONE);
    /* no value (anonymous has no aws:username): matches nothing */
    q = req_anon("s3:ListBucket", ARN);
    q.prefix = "home//x";
    assert_int_equal(s3_policy_evaluate(p, &q), S3_POLICY_NONE);
    /* a value holding a wildcard stands for nothing */
    q = req_user("a*", "AK", "s3:ListBucket", ARN);
    q.prefix = "home/a*/x";
    assert_int_equal(s3_policy_evaluate(p, &q), S3_POLICY_NONE);
    s3_policy_free(p);
    /* before 2012-10-17, "${" is text */
    doc = "{\"Version\":\"2008-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\","
          "\"Action\":\"s3:GetObject\",\"Resource\":\"" ARN "/${aws:username}\"}}";
    p = parse_ok(doc);
    q = req_user("alice", "AKALICE", "s3:GetObject", ARN "/alice");
    assert_int_equal(s3_policy_evaluate(p, &q), S3_POLICY_NONE);
    q.resource = ARN "/${aws:username}";
    assert_int_equal(s3_policy_evaluate(p, &q), S3_POLICY_ALLOW);
    s3_policy_free(p);
}

static int public_of(const char *doc)
{
    struct s3_policy *p = parse_ok(doc);
    int pub = s3_policy_is_public(p);
    s3_policy_free(p);
    return pub;
}

static void test_is_public(void **state)
{
    (void)state;
#define ST(eff, pr, cond)                                                                 \
    "{\"Statement\":{\"Effect\":\"" eff "\",\"Principal\":" pr ",\"Action\":\"s3:GetObject\"," \
    "\"Resource\":\"" ARN "/*\"" cond "}}"
    assert_true(public_of(ST("Allow", "\"*\"", "")));
    assert_true(public_of(ST("Allow", "{\"AWS\":[\"alice\",\"*\"]}", "")));
    assert_false(public_of(ST("Allow", "{\"AWS\":\"alice\"}", "")));
    assert_false(public_of(ST("Deny", "\"*\"", "")));
    assert_false(public_of(ST("Allow", "\"*\"",
                              ",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}")));
    assert_true(public_of(ST("Allow", "\"*\"",
                             ",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/7\"}}")));
    assert_true(public_of(ST("Allow", "\"*\"",
                             ",\"Condition\":{\"NotIpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}")));
    assert_true(public_of(ST("Allow", "\"*\"",
                             ",\"Condition\":{\"StringLike\":{\"s3:prefix\":\"a\"}}")));
    assert_false(public_of(ST("Allow", "\"*\"",
                              ",\"Condition\":{\"StringEquals\":{\"aws:username\":\"alice\"}}")));
    assert_true(public_of(ST("Allow", "\"*\"",
                             ",\"Condition\":{\"StringLike\":{\"aws:username\":\"a*\"}}")));
    assert_true(public_of(ST("Allow", "\"*\"",
                             ",\"Condition\":{\"IpAddressIfExists\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}")));
#undef ST
}

static void test_action_names(void **state)
{
    (void)state;
    assert_string_equal(s3_policy_action("GetObject"), "s3:GetObject");
    assert_string_equal(s3_policy_action("s3:getobject"), "s3:GetObject");
    assert_string_equal(s3_policy_action("PutBucketCors"), "s3:PutBucketCORS");
    assert_null(s3_policy_action("HeadObject"));
    assert_null(s3_policy_action("s3:*"));
    assert_true(s3_policy_action_is_object("s3:PutObject"));
    assert_true(s3_policy_action_is_object("s3:ListMultipartUploadParts"));
    assert_false(s3_policy_action_is_object("s3:ListBucket"));
    assert_false(s3_policy_action_is_object("s3:Nothing"));
}

/* The action each handler asks for (gateway/s3_access.c), with a query. */
static const char *action_of(const struct s3_handler *h, const char *key, const char *query)
{
    static char bucket[] = "b";
    struct s3_req r;
    memset(&r, 0, sizeof r);
    r.h = h;
    r.bucket = bucket;
    r.key = (char *)key;
    assert_int_equal(uri_query_parse(query, strlen(query), &r.query), 0);
    const char *a = s3_request_action(&r);
    uri_query_release(&r.query);
    return a;
}

static void test_request_actions(void **state)
{
    (void)state;
    /* every S3 handler on a bucket names an action S3 has, on the right
     * kind of resource */
    static const struct {
        const struct s3_handler *h;
        const char *key, *query, *action;
    } cases[] = {
        {&h_create_bucket, NULL, "", "s3:CreateBucket"},
        {&h_delete_bucket, NULL, "", "s3:DeleteBucket"},
        {&h_head_bucket, NULL, "", "s3:ListBucket"},
        {&h_get_bucket_location, NULL, "location", "s3:GetBucketLocation"},
        {&h_get_bucket_versioning, NULL, "versioning", "s3:GetBucketVersioning"},
        {&h_list_objects, NULL, "list-type=2", "s3:ListBucket"},
        {&h_list_versions, NULL, "versions", "s3:ListBucketVersions"},
        {&h_delete_objects, NULL, "delete", "s3:DeleteObject"},
        {&h_get_acl, NULL, "acl", "s3:GetBucketAcl"},
        {&h_get_acl, "k", "acl", "s3:GetObjectAcl"},
        {&h_get_acl, "k", "acl&versionId=v", "s3:GetObjectVersionAcl"},
        {&h_put_acl, NULL, "acl", "s3:PutBucketAcl"},
        {&h_put_acl, "k", "acl", "s3:PutObjectAcl"},
        {&h_bucket_config, NULL, "cors", "s3:GetBucketCORS"},
        {&h_bucket_config, NULL, "lifecycle", "s3:GetLifecycleConfiguration"},
        {&h_bucket_config, NULL, "nothing", NULL},
        {&h_get_object_tagging, "k", "tagging", "s3:GetObjectTagging"},
        {&h_put_object, "k", "", "s3:PutObject"},
        {&h_get_object, "k", "", "s3:GetObject"},
        {&h_get_object, "k", "versionId=v", "s3:GetObjectVersion"},
        {&h_head_object, "k", "", "s3:GetObject"},
        {&h_delete_object, "k", "", "s3:DeleteObject"},
        {&h_delete_object, "k", "versionId=v", "s3:DeleteObjectVersion"},
        {&h_copy_object, "k", "", "s3:PutObject"},
        {&h_create_mpu, "k", "uploads", "s3:PutObject"},
        {&h_upload_part, "k", "uploadId=u&partNumber=1", "s3:PutObject"},
        {&h_upload_part_copy, "k", "uploadId=u&partNumber=1", "s3:PutObject"},
        {&h_complete_mpu, "k", "uploadId=u", "s3:PutObject"},
        {&h_abort_mpu, "k", "uploadId=u", "s3:AbortMultipartUpload"},
        {&h_list_parts, "k", "uploadId=u", "s3:ListMultipartUploadParts"},
        {&h_list_mpu, NULL, "uploads", "s3:ListBucketMultipartUploads"},
        {&h_put_bucket_policy, NULL, "policy", "s3:PutBucketPolicy"},
        {&h_get_bucket_policy, NULL, "policy", "s3:GetBucketPolicy"},
        {&h_delete_bucket_policy, NULL, "policy", "s3:DeleteBucketPolicy"},
        {&h_get_bucket_policy_status, NULL, "policyStatus", "s3:GetBucketPolicyStatus"},
        {&h_get_ownership_controls, NULL, "ownershipControls", "s3:GetBucketOwnershipControls"},
        {&h_sync_missing, NULL, "cairn-missing", "s3:PutObject"},
        {&h_sync_chunk, NULL, "cairn-chunk", "s3:PutObject"},
        {&h_sync_changes, NULL, "cairn-changes", "s3:ListBucket"},
        {&h_sync_commit, "k", "cairn-commit", "s3:PutObject"},
        {&h_sync_chunks, "k", "cairn-chunks", "s3:GetObject"},
        {&h_post_object, NULL, "", "s3:PutObject"},
        {&h_put_object_lock_config, NULL, "object-lock", "s3:PutBucketObjectLockConfiguration"},
        {&h_get_object_lock_config, NULL, "object-lock", "s3:GetBucketObjectLockConfiguration"},
        {&h_put_object_retention, "k", "retention", "s3:PutObjectRetention"},
        {&h_get_object_retention, "k", "retention&versionId=v", "s3:GetObjectRetention"},
        {&h_put_object_legal_hold, "k", "legal-hold", "s3:PutObjectLegalHold"},
        {&h_get_object_legal_hold, "k", "legal-hold", "s3:GetObjectLegalHold"},
        {&h_admin, NULL, "", NULL},
        {&h_list_buckets, NULL, "", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = action_of(cases[i].h, cases[i].key, cases[i].query);
        if (!cases[i].action) {
            if (got)
                fail_msg("%s: expected no action, got %s", cases[i].h->op, got);
            continue;
        }
        if (!got || strcmp(got, cases[i].action) != 0)
            fail_msg("%s ?%s: expected %s, got %s", cases[i].h->op, cases[i].query,
                     cases[i].action, got ? got : "(none)");
        assert_string_equal(s3_policy_action(got), got); /* one S3 has */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grammar_errors),
        cmocka_unit_test(test_actions_resources_principals_refused),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_principals),
        cmocka_unit_test(test_not_action_not_resource),
        cmocka_unit_test(test_deny_wins),
        cmocka_unit_test(test_conditions_strings),
        cmocka_unit_test(test_conditions_ip_bool_numeric),
        cmocka_unit_test(test_condition_errors),
        cmocka_unit_test(test_policy_variables),
        cmocka_unit_test(test_is_public),
        cmocka_unit_test(test_action_names),
        cmocka_unit_test(test_request_actions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
