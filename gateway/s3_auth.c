/*
 * gateway/s3_auth.c - who is asking, and is the body what they signed.
 *
 * Header authentication and presigned URLs (common/sigv4.h) decide the
 * user; the x-amz-content-sha256 value decides how the body is checked:
 * a hex SHA-256 is recomputed while the body streams and compared before
 * anything is committed; UNSIGNED-PAYLOAD is taken as is; the STREAMING-*
 * values mean aws-chunked framing, every chunk signature (and the trailer
 * signature) verified by common/aws_chunked.c.
 */
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/sigv2.h"
#include "gateway/s3_internal.h"

static const char *header_get(void *arg, const char *lname)
{
    return s3_header(arg, lname);
}

/* The S3 error for a sigv4 error code. */
static enum s3_err sigv4_s3_err(int rc, const char **msg)
{
    *msg = NULL;
    switch (rc) {
    case SIGV4_EMALFORMED:
    case SIGV4_ETOOLONG:
        return S3E_AUTH_HEADER_MALFORMED;
    case SIGV4_ESCOPEDATE:
        *msg = "The credential scope date does not match the request date.";
        return S3E_AUTH_HEADER_MALFORMED;
    case SIGV4_EQUERYMALFORMED:
    case SIGV4_EEXPIRES:
        *msg = "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, "
               "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters, "
               "with X-Amz-Expires between 1 and 604800 seconds.";
        return S3E_AUTH_QUERY_ERROR;
    case SIGV4_EALGORITHM:
        *msg = "Only AWS4-HMAC-SHA256 (Signature Version 4) is supported.";
        return S3E_INVALID_ARGUMENT;
    case SIGV4_EMISSINGDATE:
    case SIGV4_EBADDATE:
        *msg = "AWS authentication requires a valid Date or x-amz-date header";
        return S3E_ACCESS_DENIED;
    case SIGV4_ESKEW:
        return S3E_REQUEST_TIME_SKEWED;
    case SIGV4_EEXPIRED:
        return S3E_EXPIRED_PRESIGN;
    case SIGV4_ENOTYETVALID:
        *msg = "Request is not valid yet";
        return S3E_ACCESS_DENIED;
    case SIGV4_EMISSINGHEADER:
    case SIGV4_EMISMATCH:
        return S3E_SIGNATURE_MISMATCH;
    case SIGV4_EINVAL:
        return S3E_INVALID_URI;
    default:
        return S3E_INTERNAL;
    }
}

static int reply_sigv4_or_internal(struct s3_req *r, int rc)
{
    const char *msg;
    enum s3_err e = sigv4_s3_err(rc, &msg);
    if (e == S3E_AUTH_HEADER_MALFORMED && r->auth.presigned)
        e = S3E_AUTH_QUERY_ERROR;
    if (e == S3E_INTERNAL)
        log_msg(LOG_ERROR, r->id, "auth: %s", sigv4_strerror(rc));
    s3_reply_error(r, e, msg);
    return -1;
}

/* Secret of access_key and the user it belongs to. */
static int lookup_secret(struct s3_req *r, const char *access_key, char *secret, size_t cap)
{
    struct gateway *gw = r->gw;
    if (gw->root_access_key && strcmp(access_key, gw->root_access_key) == 0) {
        snprintf(secret, cap, "%s", gw->root_secret_key);
        snprintf(r->user, sizeof r->user, "root");
        r->is_root = 1;
        return 0;
    }
    struct meta_user u;
    int rc = meta_user_get_by_key(gw->meta, access_key, &u);
    if (rc)
        return rc;
    snprintf(secret, cap, "%s", u.secret_key);
    snprintf(r->user, sizeof r->user, "%s", u.name);
    memset(&u, 0, sizeof u);
    return 0;
}

/* lookup_secret, answering InvalidAccessKeyId (or the lookup's error).
 * 0, or replies and returns -1. */
static int secret_or_reply(struct s3_req *r, const char *access_key, char *secret, size_t cap)
{
    int rc = lookup_secret(r, access_key, secret, cap);
    if (rc == META_ENOTFOUND)
        s3_reply_error(r, S3E_INVALID_ACCESS_KEY, NULL);
    else if (rc)
        s3_reply_rc(r, rc);
    return rc ? -1 : 0;
}

/* The S3 error for a malformed POST form signature field. */
static void reply_post_field_error(struct s3_req *r, int rc)
{
    const char *name = "x-amz-credential", *msg;
    switch (rc) {
    case SIGV4_EALGORITHM:
        name = "x-amz-algorithm";
        msg = "Only AWS4-HMAC-SHA256 (Signature Version 4) is supported.";
        break;
    case SIGV4_EBADDATE:
        name = "x-amz-date";
        msg = "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"";
        break;
    case SIGV4_ESCOPEDATE:
        msg = "The credential scope date does not match the x-amz-date field.";
        break;
    default:
        msg = "Error parsing the X-Amz-Credential or X-Amz-Signature field.";
        break;
    }
    s3_add_error_detail(r, "ArgumentName", name);
    s3_reply_error(r, S3E_INVALID_ARGUMENT, msg);
}

int s3_post_authenticate_or_reply(struct s3_req *r, const struct s3_post_auth *a)
{
    char secret[256], sig[65];
    int rc = -1, v4 = !a->v2_access_key;
    const char *access_key = a->v2_access_key;
    struct sigv4_auth auth;

    if (v4) {
        int prc = sigv4_parse_post_form(a->algorithm, a->credential, a->date, a->signature, &auth);
        if (prc) {
            reply_post_field_error(r, prc);
            return -1;
        }
        if (strcmp(auth.service, "s3") != 0 || strcmp(auth.region, r->gw->region) != 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "Error parsing the X-Amz-Credential parameter; the %s '%s' "
                     "is wrong; expecting '%s'", strcmp(auth.service, "s3") ? "service" : "region",
                     strcmp(auth.service, "s3") ? auth.service : auth.region,
                     strcmp(auth.service, "s3") ? "s3" : r->gw->region);
            s3_add_header(r, "x-amz-bucket-region", r->gw->region);
            s3_reply_error(r, S3E_AUTH_QUERY_ERROR, msg);
            return -1;
        }
        access_key = auth.access_key;
    } else if (!a->v2_signature) {
        s3_add_error_detail(r, "ArgumentName", "signature");
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Bucket POST must contain a field named "
                                                "'signature'.  If it is specified, please check "
                                                "the order of the fields.");
        return -1;
    }
    if (secret_or_reply(r, access_key, secret, sizeof secret) != 0)
        goto out;
    int match;
    if (v4) {
        uint8_t key[32];
        sigv4_signing_key(secret, auth.date, auth.region, auth.service, key);
        sigv4_signature(key, a->policy, strlen(a->policy), sig);
        memset(key, 0, sizeof key);
        match = sigv4_signature_equal(sig, auth.signature);
    } else {
        sigv2_signature(secret, a->policy, strlen(a->policy), sig);
        match = strlen(sig) == strlen(a->v2_signature) &&
                CRYPTO_memcmp(sig, a->v2_signature, strlen(sig)) == 0;
    }
    if (!match) {
        r->is_root = 0;
        r->user[0] = 0;
        s3_reply_error(r, S3E_SIGNATURE_MISMATCH, NULL);
        goto out;
    }
    r->anonymous = 0;
    snprintf(r->access_key, sizeof r->access_key, "%s", access_key);
    rc = 0;
out:
    memset(secret, 0, sizeof secret);
    return rc;
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int content_length_or_reply(struct s3_req *r, const char *name)
{
    const char *v = s3_header(r, name);
    if (!v)
        return 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end || *v == '-') {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Content-Length is not a valid number.");
        return -1;
    }
    r->content_length = (int64_t)n;
    return 0;
}

struct amz_headers {
    char *lines[64];
    size_t n;
    int overflow;
};

static enum MHD_Result collect_amz(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct amz_headers *h = cls;
    (void)kind;
    if (strncasecmp(key, "x-amz-", 6) != 0)
        return MHD_YES;
    if (h->n == sizeof h->lines / sizeof *h->lines) {
        h->overflow = 1;
        return MHD_NO;
    }
    size_t kl = strlen(key), vl = value ? strlen(value) : 0;
    char *line = malloc(kl + vl + 3);
    if (!line) {
        h->overflow = 1;
        return MHD_NO;
    }
    for (size_t i = 0; i < kl; i++)
        line[i] = (char)tolower((unsigned char)key[i]);
    line[kl] = ':';
    memcpy(line + kl + 1, value ? value : "", vl);
    line[kl + 1 + vl] = '\n';
    line[kl + 2 + vl] = 0;
    h->lines[h->n++] = line;
    return MHD_YES;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Signature Version 2 presigned URL (?AWSAccessKeyId&Expires&Signature),
 * the form boto3's generate_presigned_url() makes by default.
 */
static int sigv2_presigned_or_reply(struct s3_req *r)
{
    const char *ak = s3_param(r, "AWSAccessKeyId");
    const char *expires = s3_param(r, "Expires");
    const char *sig = s3_param(r, "Signature");
    char secret[256], mine[32];
    struct amz_headers h = {.n = 0};
    struct buf resource, sts;
    int rc = -1;

    buf_init(&resource, 8192);
    buf_init(&sts, 16384);
    char *end = NULL;
    long long exp = expires ? strtoll(expires, &end, 10) : 0;
    if (!ak || !sig || !expires || !*expires || *end) {
        s3_reply_error(r, S3E_ACCESS_DENIED,
                       "Query-string authentication requires the Signature, Expires and "
                       "AWSAccessKeyId parameters");
        goto out;
    }
    if ((long long)time(NULL) > exp) {
        s3_reply_error(r, S3E_EXPIRED_PRESIGN, NULL);
        goto out;
    }
    if (secret_or_reply(r, ak, secret, sizeof secret) != 0)
        goto out;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_amz, &h);
    if (h.overflow) {
        s3_reply_error(r, S3E_HEADERS_TOO_LARGE, NULL);
        goto out;
    }
    qsort(h.lines, h.n, sizeof *h.lines, cmp_lines);
    struct buf amz;
    buf_init(&amz, 16384);
    for (size_t i = 0; i < h.n; i++)
        buf_puts(&amz, h.lines[i]);
    /* virtual-hosted requests sign "/bucket" + path */
    if (r->vhost)
        buf_printf(&resource, "/%s", r->bucket);
    int brc = sigv2_canonical_resource(r->raw_path, &r->query, &resource);
    if (brc == 0)
        brc = sigv2_string_to_sign(r->method, s3_header(r, "Content-MD5"),
                                   s3_header(r, "Content-Type"), expires,
                                   amz.data ? amz.data : "", resource.data, &sts);
    buf_release(&amz);
    if (brc) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
        goto out;
    }
    sigv2_signature(secret, sts.data, sts.len, mine);
    if (strlen(sig) != strlen(mine) || CRYPTO_memcmp(sig, mine, strlen(mine)) != 0) {
        s3_reply_error(r, S3E_SIGNATURE_MISMATCH, NULL);
        goto out;
    }
    snprintf(r->access_key, sizeof r->access_key, "%s", ak);
    if (content_length_or_reply(r, "Content-Length") != 0)
        goto out;
    r->payload = PAYLOAD_UNSIGNED;
    rc = 0;
out:
    memset(secret, 0, sizeof secret);
    for (size_t i = 0; i < h.n; i++)
        free(h.lines[i]);
    buf_release(&resource);
    buf_release(&sts);
    return rc;
}

/* Whether header name (any case) is among the SignedHeaders of a. */
static int header_signed(const struct sigv4_auth *a, const char *name)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < a->header_count; i++)
        if (a->header_len[i] == n && strncasecmp(a->signed_headers + a->header_off[i], name, n) == 0)
            return 1;
    return 0;
}

struct unsigned_amz {
    const struct sigv4_auth *auth;
    unsigned count;
    struct buf names; /* "a, b", lower case; capped, so it may miss some */
};

static enum MHD_Result collect_unsigned_amz(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value)
{
    struct unsigned_amz *u = cls;
    (void)kind;
    (void)value;
    if (strncasecmp(key, "x-amz-", 6) != 0 || strcasecmp(key, "x-amz-content-sha256") == 0 ||
        header_signed(u->auth, key))
        return MHD_YES;
    u->count++;
    size_t at = u->names.len + (u->names.len ? 2 : 0);
    if (buf_printf(&u->names, "%s%s", u->names.len ? ", " : "", key) == 0)
        for (char *c = u->names.data + at; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    return MHD_YES;
}

/* Every x-amz-* header of a SigV4 request must be signed (header auth or
 * presigned alike): anyone on the way could add one that changes what the
 * request does (x-amz-copy-source, x-amz-meta-*...).  S3 answers
 * AccessDenied naming them in HeadersNotSigned.  x-amz-content-sha256 is
 * exempt, as on S3: header auth covers its value anyway (the payload hash
 * ends the canonical request) and presigned requests do not use it. */
static int amz_headers_signed_or_reply(struct s3_req *r)
{
    struct unsigned_amz u = {&r->auth, 0, {0}};
    buf_init(&u.names, 1024); /* names past that are left out: they are for people */
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_unsigned_amz, &u);
    int rc = 0;
    if (u.count) {
        if (u.names.len)
            s3_add_error_detail(r, "HeadersNotSigned", u.names.data);
        s3_reply_error(r, S3E_ACCESS_DENIED,
                       "There were headers present in the request which were not signed");
        rc = -1;
    }
    buf_release(&u.names);
    return rc;
}

int s3_authenticate_or_reply(struct s3_req *r)
{
    const char *authz = s3_header(r, "Authorization");
    int presigned = s3_has_param(r, "X-Amz-Algorithm");
    char secret[256];
    int rc;

    if (authz && presigned) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Only one auth mechanism allowed; only the "
                                                "X-Amz-Algorithm query parameter or the "
                                                "Authorization header should be specified");
        return -1;
    }
    if (!authz && !presigned && s3_has_param(r, "AWSAccessKeyId"))
        return sigv2_presigned_or_reply(r);
    if (authz && strncmp(authz, "AWS ", 4) == 0) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT,
                       "Signature Version 2 is accepted only in presigned URLs; sign requests "
                       "with AWS4-HMAC-SHA256.");
        return -1;
    }
    if (!authz && !presigned && r->h == &h_post_object) {
        /* signed by the fields of its form: s3_post_authenticate_or_reply */
        r->anonymous = 1;
        r->payload = PAYLOAD_UNSIGNED;
        return content_length_or_reply(r, "Content-Length");
    }
    if (!authz && !presigned) {
        r->anonymous = 1;
        s3_reply_error(r, S3E_ACCESS_DENIED, NULL);
        return -1;
    }
    if (authz) {
        rc = sigv4_parse_authorization(authz, &r->auth);
        if (rc == 0)
            rc = sigv4_auth_set_date(&r->auth, s3_header(r, "x-amz-date"), s3_header(r, "Date"));
    } else {
        rc = sigv4_parse_presigned(&r->query, &r->auth);
    }
    if (rc)
        return reply_sigv4_or_internal(r, rc);
    if (strcmp(r->auth.service, "s3") != 0 || strcmp(r->auth.region, r->gw->region) != 0) {
        char msg[256];
        if (strcmp(r->auth.service, "s3") != 0)
            snprintf(msg, sizeof msg, "The authorization header is malformed; incorrect service "
                                      "\"%s\". This endpoint belongs to \"s3\".", r->auth.service);
        else
            snprintf(msg, sizeof msg, "The authorization header is malformed; the region '%s' is "
                                      "wrong; expecting '%s'", r->auth.region, r->gw->region);
        s3_add_header(r, "x-amz-bucket-region", r->gw->region);
        s3_reply_error(r, r->auth.presigned ? S3E_AUTH_QUERY_ERROR : S3E_AUTH_HEADER_MALFORMED, msg);
        return -1;
    }
    if (s3_header(r, "x-amz-security-token") || r->auth.has_security_token) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "cairn issues no session tokens; "
                                                "X-Amz-Security-Token is not accepted.");
        return -1;
    }
    rc = sigv4_check_time(r->auth.amz_date, time(NULL), (long)(r->gw->cfg.clock_skew_ms / 1000),
                          r->auth.expires, r->auth.presigned);
    if (rc)
        return reply_sigv4_or_internal(r, rc);
    if (secret_or_reply(r, r->auth.access_key, secret, sizeof secret) != 0)
        return -1;
    snprintf(r->access_key, sizeof r->access_key, "%s", r->auth.access_key);

    const char *payload = presigned ? s3_param(r, "X-Amz-Content-Sha256")
                                    : s3_header(r, "x-amz-content-sha256");
    if (!payload && presigned)
        payload = SIGV4_UNSIGNED_PAYLOAD;
    if (!payload) {
        s3_reply_error(r, S3E_INVALID_REQUEST,
                       "Missing required header for this request: x-amz-content-sha256");
        return -1;
    }
    struct sigv4_request req = {r->method, r->raw_path, r->raw_query, header_get, r, payload};
    rc = sigv4_verify(&r->auth, &req, secret, r->signing_key, r->seed_signature);
    memset(secret, 0, sizeof secret);
    if (rc)
        return reply_sigv4_or_internal(r, rc);
    if (amz_headers_signed_or_reply(r) != 0)
        return -1;

    /* How the body is checked. */
    if (strncmp(payload, "STREAMING-", 10) == 0) {
        enum aws_chunked_mode mode;
        if (strcmp(payload, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") == 0)
            mode = AWS_CHUNKED_SIGNED;
        else if (strcmp(payload, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") == 0)
            mode = AWS_CHUNKED_SIGNED_TRAILER;
        else if (strcmp(payload, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") == 0)
            mode = AWS_CHUNKED_UNSIGNED_TRAILER;
        else {
            s3_reply_error(r, S3E_NOT_IMPLEMENTED, "This x-amz-content-sha256 streaming mode is not supported.");
            return -1;
        }
        if (!s3_header(r, "x-amz-decoded-content-length")) {
            s3_reply_error(r, S3E_MISSING_CONTENT_LENGTH, NULL);
            return -1;
        }
        if (content_length_or_reply(r, "x-amz-decoded-content-length") != 0)
            return -1;
        char scope[SIGV4_SCOPE_MAX + 1];
        sigv4_scope(&r->auth, scope, sizeof scope);
        r->chunked = malloc(sizeof *r->chunked);
        if (!r->chunked) {
            s3_reply_error(r, S3E_INTERNAL, NULL);
            return -1;
        }
        rc = aws_chunked_init(r->chunked, mode, r->signing_key, r->seed_signature,
                              r->auth.amz_date, scope, r->content_length);
        if (rc) {
            s3_reply_error(r, S3E_INVALID_REQUEST, aws_chunked_strerror(rc));
            return -1;
        }
        r->payload = PAYLOAD_STREAMING;
    } else {
        if (content_length_or_reply(r, "Content-Length") != 0)
            return -1;
        if (strcmp(payload, SIGV4_UNSIGNED_PAYLOAD) == 0) {
            r->payload = PAYLOAD_UNSIGNED;
        } else if (is_hex64(payload)) {
            r->payload = PAYLOAD_SIGNED;
            memcpy(r->payload_sha256, payload, 65);
            cksum_init(&r->body_sha, CKSUM_SHA256);
        } else {
            s3_reply_error(r, S3E_INVALID_ARGUMENT, "x-amz-content-sha256 must be "
                                                    "UNSIGNED-PAYLOAD, a STREAMING- value, or a "
                                                    "valid sha256 value.");
            return -1;
        }
    }
    return 0;
}

static enum s3_err chunked_s3_err(int rc)
{
    if (rc == AWS_CHUNKED_ESIGNATURE || rc == AWS_CHUNKED_ETRAILERSIG)
        return S3E_SIGNATURE_MISMATCH;
    return S3E_INCOMPLETE_BODY;
}

struct counting_sink {
    struct s3_req *r;
    int (*sink)(void *arg, const uint8_t *p, size_t n);
    void *arg;
};

static int count_and_pass(void *arg, const uint8_t *p, size_t n)
{
    struct counting_sink *c = arg;
    c->r->body_len += n;
    if (c->r->payload == PAYLOAD_SIGNED)
        cksum_update(&c->r->body_sha, p, n);
    return c->sink(c->arg, p, n);
}

int s3_body_feed(struct s3_req *r, const uint8_t *p, size_t n,
                 int (*sink)(void *arg, const uint8_t *p, size_t n), void *arg)
{
    struct counting_sink c = {r, sink, arg};
    if (r->payload != PAYLOAD_STREAMING)
        return count_and_pass(&c, p, n);
    int rc = aws_chunked_feed(r->chunked, p, n, NULL, count_and_pass, &c);
    if (rc <= -32050 && rc > -32100) {
        /* framing or signature: answered once the body is drained */
        r->err_s3 = chunked_s3_err(rc);
        return 0;
    }
    return rc;
}

enum s3_err s3_body_finish(struct s3_req *r)
{
    if (r->payload == PAYLOAD_SIGNED) {
        uint8_t sum[32];
        char hex[65];
        cksum_final(&r->body_sha, sum);
        hex_encode(sum, 32, hex);
        if (strcmp(hex, r->payload_sha256) != 0)
            return S3E_SHA256_MISMATCH;
    } else if (r->payload == PAYLOAD_STREAMING) {
        int rc = aws_chunked_finish(r->chunked);
        if (rc)
            return chunked_s3_err(rc);
    }
    return S3E_NONE;
}

const char *s3_trailer(struct s3_req *r, const char *name)
{
    return r->chunked ? aws_chunked_trailer(r->chunked, name) : NULL;
}

void s3_auth_release(struct s3_req *r)
{
    cksum_release(&r->body_sha);
    if (r->chunked) {
        aws_chunked_release(r->chunked);
        free(r->chunked);
        r->chunked = NULL;
    }
    memset(r->signing_key, 0, sizeof r->signing_key);
}
