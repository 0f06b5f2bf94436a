/*
 * common/sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256): the server
 * side (parse what a client sent, rebuild the canonical request, verify)
 * and the client side (sign headers, presign URLs) of cairn's own tools.
 *
 * Server calling sequence (header authentication):
 *   1. sigv4_parse_authorization(value of "Authorization", &auth)
 *   2. sigv4_auth_set_date(&auth, x-amz-date header, Date header)
 *   3. sigv4_check_time(auth.amz_date, now, 0, 0, 0)
 *   4. the gateway checks auth.region / auth.service ("s3") and looks up
 *      the secret of auth.access_key
 *   5. sigv4_verify(&auth, &req, secret, key, seed) with req.payload_hash
 *      = the x-amz-content-sha256 header value (a hex SHA-256,
 *      "UNSIGNED-PAYLOAD" or one of the "STREAMING-..." values).  On
 *      SIGV4_EMISMATCH, sigv4_explain() gives the CanonicalRequest and
 *      StringToSign texts for the SignatureDoesNotMatch error body.
 *   6. for aws-chunked bodies, key and seed (the header signature) start
 *      the chunk signature chain (common/aws_chunked.h); sigv4_scope()
 *      gives the scope string it needs.  For a hex payload hash, the
 *      gateway hashes the body as it streams and compares at the end.
 *
 * Server calling sequence (presigned URL, "?X-Amz-Algorithm=..."):
 *   1. uri_query_parse(raw query) then sigv4_parse_presigned(&q, &auth)
 *      (this also fills auth.amz_date and auth.expires)
 *   2. sigv4_check_time(auth.amz_date, now, 0, auth.expires, 1)
 *   3. as above, with req.payload_hash = "UNSIGNED-PAYLOAD" (or the
 *      X-Amz-Content-Sha256 query value if the client put one there).
 *
 * Which scheme applies is the gateway's call: an Authorization header
 * means header auth, an X-Amz-Algorithm query parameter presigned; both at
 * once is an error S3 answers with InvalidArgument.  x-amz-* headers that
 * the client sent but did not sign (S3: AccessDenied "There were headers
 * present in the request which were not signed") are also the gateway's
 * check, since it alone can list the request's headers.
 *
 * Canonicalization is S3's flavour: the canonical URI is the raw request
 * path decoded once and re-encoded once (no "." / ".." / "//" removal, no
 * double encoding); the canonical query decodes every pair ('+' as space,
 * see uri.h), re-encodes it, and sorts by name then value; header values
 * are trimmed and inner runs of spaces/tabs collapse to one space
 * (botocore's rule).  Header names in SignedHeaders are taken in the order
 * the client listed them (clients list them sorted).
 *
 * Client calling sequence: sigv4_format_amz_date(now) goes into an
 * x-amz-date header; sigv4_sign_headers() over the headers to send gives
 * the Authorization value; or sigv4_presign_url() gives a whole URL.
 *
 * Ownership: every string parameter is borrowed for the call only; struct
 * sigv4_auth holds copies (fixed-size arrays, no pointers), so it may be
 * copied and kept.  Output bufs are appended to; on failure a buf is
 * restored to the length it had on entry.
 *
 * Thread rules: all functions are reentrant; nothing here keeps state.
 */
#ifndef CAIRN_COMMON_SIGV4_H
#define CAIRN_COMMON_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/uri.h"

/* Error codes: -32000..-32049.  Negative errno values (-ENOMEM, -ENOSPC
 * from a caller's buf) pass through unchanged.  The S3 error each maps to
 * is noted; the gateway's single mapping table is the authority. */
enum sigv4_error {
    SIGV4_EMALFORMED = -32000,      /* Authorization header malformed: AuthorizationHeaderMalformed */
    SIGV4_EQUERYMALFORMED = -32001, /* presigned X-Amz-* parameters malformed or missing:
                                       AuthorizationQueryParametersError */
    SIGV4_EALGORITHM = -32002,      /* not AWS4-HMAC-SHA256 (SigV2 "AWS ", SigV4a...):
                                       InvalidArgument / "unsupported authorization type" */
    SIGV4_EMISSINGDATE = -32003,    /* neither x-amz-date nor Date: AccessDenied
                                       ("AWS authentication requires a valid Date or x-amz-date header") */
    SIGV4_EBADDATE = -32004,        /* date not parseable: AccessDenied (header) /
                                       AuthorizationQueryParametersError (presigned) */
    SIGV4_ESCOPEDATE = -32005,      /* credential scope day != request day:
                                       AuthorizationHeaderMalformed / AuthorizationQueryParametersError */
    SIGV4_ESKEW = -32006,           /* request time too far from now: RequestTimeTooSkewed */
    SIGV4_EEXPIRED = -32007,        /* presigned URL past X-Amz-Date + X-Amz-Expires:
                                       AccessDenied "Request has expired" */
    SIGV4_ENOTYETVALID = -32008,    /* presigned X-Amz-Date in the future beyond the skew:
                                       AccessDenied "Request is not valid yet" */
    SIGV4_EEXPIRES = -32009,        /* X-Amz-Expires not an integer in 1..604800:
                                       AuthorizationQueryParametersError */
    SIGV4_EMISSINGHEADER = -32010,  /* a signed header is absent from the request:
                                       SignatureDoesNotMatch (AccessDenied also seen) */
    SIGV4_EMISMATCH = -32011,       /* signature differs: SignatureDoesNotMatch */
    SIGV4_ETOOLONG = -32012,        /* an input exceeds a cap below: AuthorizationHeaderMalformed /
                                       RequestHeaderSectionTooLarge */
    SIGV4_EINVAL = -32013,          /* bad argument, or raw path/query not valid percent-encoding:
                                       InvalidURI (400) for the latter */
};

/* Text for any code returned here (including -errno values). */
const char *sigv4_strerror(int err);

/* Caps (bytes, excluding the NUL). */
#define SIGV4_ACCESS_KEY_MAX 128
#define SIGV4_REGION_MAX 64
#define SIGV4_SERVICE_MAX 32
#define SIGV4_SIGNED_HEADERS_MAX 2048   /* the "a;b;c" list */
#define SIGV4_SIGNED_HEADER_COUNT_MAX 64
#define SIGV4_HEADER_VALUE_MAX 8192     /* one signed header's value */
#define SIGV4_CANONICAL_MAX 65536       /* canonical request text */
#define SIGV4_SCOPE_MAX (8 + 1 + SIGV4_REGION_MAX + 1 + SIGV4_SERVICE_MAX + 1 + 12)
#define SIGV4_EXPIRES_MAX 604800        /* 7 days, S3's limit for presigned URLs */
#define SIGV4_DEFAULT_SKEW 900          /* 15 minutes, S3's RequestTimeTooSkewed */

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* What a client's signature claims.  No pointers: safe to copy. */
struct sigv4_auth {
    char access_key[SIGV4_ACCESS_KEY_MAX + 1];
    char date[9];                   /* credential scope day, YYYYMMDD */
    char region[SIGV4_REGION_MAX + 1];
    char service[SIGV4_SERVICE_MAX + 1];
    /* The SignedHeaders list exactly as it enters the canonical request
     * (lower-cased), and each name's place in it. */
    char signed_headers[SIGV4_SIGNED_HEADERS_MAX + 1];
    uint16_t header_off[SIGV4_SIGNED_HEADER_COUNT_MAX];
    uint16_t header_len[SIGV4_SIGNED_HEADER_COUNT_MAX];
    unsigned header_count;
    char signature[65];             /* 64 lower-case hex digits */
    char amz_date[17];              /* "20130524T000000Z"; "" until set */
    long expires;                   /* presigned: X-Amz-Expires seconds; else 0 */
    int presigned;                  /* 1 if from sigv4_parse_presigned */
    int has_security_token;         /* X-Amz-Security-Token was present (presigned only;
                                       for headers the gateway sees x-amz-security-token
                                       itself).  cairn issues no session tokens, so the
                                       gateway should refuse such requests (InvalidToken). */
};

/* A request as the server received it, for verification. */
struct sigv4_request {
    const char *method;     /* "GET", "PUT"... as on the request line */
    const char *raw_path;   /* exactly as on the request line, before '?', NOT
                               decoded (libmicrohttpd: install an unescape callback
                               that leaves the URL alone).  "" counts as "/". */
    const char *raw_query;  /* bytes after '?', not decoded; NULL or "" if none */
    /* Value of a header by lower-case name, or NULL if absent.  A header
     * that occurs several times must be returned as its values joined with
     * "," in arrival order.  The pointer need only live until the next call. */
    const char *(*get_header)(void *arg, const char *lowercase_name);
    void *header_arg;
    const char *payload_hash; /* last line of the canonical request, see above */
};

/* ---- parsing --------------------------------------------------------- */

/*
 * Parse an Authorization header value:
 *   AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,
 *       SignedHeaders=host;x-amz-date, Signature=<64 hex>
 * Tolerated: any run of spaces/tabs around the components and after the
 * commas (or none), the three components in any order, upper-case hex in
 * the signature and upper-case header names (both lower-cased), '/' inside
 * the access key (the scope is the last four '/'-fields).
 * Rejected with SIGV4_EMALFORMED: a missing, repeated, empty or unknown
 * component; a scope not ending in "aws4_request" or with a date that is
 * not 8 digits; a signature that is not 64 hex digits; an empty or
 * repeated header name, or a SignedHeaders list without "host".
 * SIGV4_EALGORITHM if the scheme is not AWS4-HMAC-SHA256, SIGV4_ETOOLONG
 * past the caps.  On success *out is filled (amz_date left "", presigned
 * 0); on failure *out is untouched.
 */
int sigv4_parse_authorization(const char *header_value, struct sigv4_auth *out);

/*
 * Fill auth->amz_date for header authentication from the x-amz-date
 * header (ISO 8601 basic, "20130524T000000Z") or, if that is NULL, the
 * Date header (RFC 1123, "Fri, 24 May 2013 00:00:00 GMT"), and check that
 * the credential scope day is that day.  Either argument may be NULL.
 * Returns 0, SIGV4_EMISSINGDATE, SIGV4_EBADDATE or SIGV4_ESCOPEDATE.
 */
int sigv4_auth_set_date(struct sigv4_auth *auth, const char *x_amz_date, const char *date_header);

/*
 * Parse presigned-URL authentication from the decoded query pairs:
 * X-Amz-Algorithm (must be AWS4-HMAC-SHA256, else SIGV4_EALGORITHM),
 * X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
 * X-Amz-Signature.  A missing, repeated or malformed one gives
 * SIGV4_EQUERYMALFORMED; X-Amz-Expires outside 1..604800 SIGV4_EEXPIRES;
 * a bad X-Amz-Date SIGV4_EBADDATE; a scope day other than X-Amz-Date's
 * SIGV4_ESCOPEDATE.  X-Amz-Security-Token is not interpreted (it is signed
 * like any other parameter); only its presence is recorded.  On success
 * *out is filled with presigned = 1; on failure it is untouched.
 */
int sigv4_parse_presigned(const struct uri_query *q, struct sigv4_auth *out);

/*
 * Parse the fields of a browser POST form that sign its policy (S3's POST
 * Object with Signature Version 4; each argument the field's value, NULL
 * when absent): x-amz-algorithm (AWS4-HMAC-SHA256, else SIGV4_EALGORITHM),
 * x-amz-credential ("AK/20130524/us-east-1/s3/aws4_request", parsed as in
 * an Authorization header: SIGV4_EMALFORMED, SIGV4_ETOOLONG), x-amz-date
 * ("20130524T000000Z": SIGV4_EBADDATE; its day must be the scope's,
 * SIGV4_ESCOPEDATE), x-amz-signature (64 hex digits, upper case accepted:
 * SIGV4_EMALFORMED).  A missing field is SIGV4_EMALFORMED.  On success
 * *out holds the credential, amz_date and signature (no signed headers,
 * presigned 0); on failure it is untouched.
 *
 * The signature of a POST policy is hex(HMAC-SHA256(signing key, the
 * base64 policy exactly as sent)): sigv4_signing_key(), sigv4_signature()
 * over the policy text, sigv4_signature_equal().  Whether the policy has
 * expired is the caller's check (its "expiration"); the request time is
 * not checked against the clock.
 */
int sigv4_parse_post_form(const char *algorithm, const char *credential, const char *amz_date,
                          const char *signature, struct sigv4_auth *out);

/* ---- time ------------------------------------------------------------ */

/* Parse ISO 8601 basic "YYYYMMDDTHHMMSSZ" (exactly 16 characters, valid
 * calendar date and time).  Returns 0 and sets *out, or SIGV4_EBADDATE. */
int sigv4_parse_amz_date(const char *s, time_t *out);

/* Format t as "YYYYMMDDTHHMMSSZ" (UTC) into out[17]. */
void sigv4_format_amz_date(time_t t, char out[17]);

/*
 * Time checks.  amz_date: the request's "YYYYMMDDTHHMMSSZ"; now: the
 * server's clock; skew_seconds: allowed difference (<= 0 means
 * SIGV4_DEFAULT_SKEW).
 * Header auth (presigned == 0): |now - date| > skew -> SIGV4_ESKEW.
 * Presigned: expires must be 1..SIGV4_EXPIRES_MAX (else SIGV4_EEXPIRES);
 * date > now + skew -> SIGV4_ENOTYETVALID; now > date + expires ->
 * SIGV4_EEXPIRED.  A bad amz_date gives SIGV4_EBADDATE.  Returns 0 if ok.
 */
int sigv4_check_time(const char *amz_date, time_t now, long skew_seconds, long expires,
                     int presigned);

/* ---- building blocks ------------------------------------------------- */

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request").  date is YYYYMMDD.  The key is the same for every
 * request of that day, so callers may cache it per (access key, day). */
void sigv4_signing_key(const char *secret, const char *date, const char *region,
                       const char *service, uint8_t out[32]);

/* "20130524/us-east-1/s3/aws4_request" for auth, into out[outlen].
 * Returns its length, or SIGV4_ETOOLONG if outlen (>= SIGV4_SCOPE_MAX + 1
 * always suffices) is too small. */
int sigv4_scope(const struct sigv4_auth *auth, char *out, size_t outlen);

/* Append the canonical URI of raw_path[0..len) to out: decoded once
 * (strictly; '+' stays '+') and re-encoded keeping '/'.  An empty path
 * is "/".  Returns 0, SIGV4_EINVAL (bad escape), -ENOSPC, -ENOMEM. */
int sigv4_canonical_uri(const char *raw_path, size_t len, struct buf *out);

/* Append the canonical query string of raw_query[0..len) to out (nothing
 * for an empty query).  drop_signature: leave out X-Amz-Signature (for
 * presigned requests).  Returns 0, SIGV4_EINVAL (bad escape),
 * SIGV4_ETOOLONG (past uri.h's caps), -ENOSPC, -ENOMEM. */
int sigv4_canonical_query(const char *raw_query, size_t len, int drop_signature,
                          struct buf *out);

/*
 * Append the whole canonical request of req as signed per auth:
 *   method \n canonical URI \n canonical query \n
 *   (name:value\n for each signed header) \n signed headers \n payload hash
 * Returns 0, SIGV4_EMISSINGHEADER, SIGV4_ETOOLONG (a value past
 * SIGV4_HEADER_VALUE_MAX or the text past SIGV4_CANONICAL_MAX),
 * SIGV4_EINVAL (bad escape, NULL method/payload_hash, amz_date unset),
 * -ENOMEM.
 */
int sigv4_canonical_request(const struct sigv4_auth *auth, const struct sigv4_request *req,
                            struct buf *out);

/* Append "AWS4-HMAC-SHA256\n" amz_date "\n" scope "\n" hex(SHA-256 of
 * the canonical request).  Returns 0, SIGV4_EINVAL/ETOOLONG, -ENOSPC,
 * -ENOMEM. */
int sigv4_string_to_sign(const struct sigv4_auth *auth, const char *canonical_request,
                         size_t len, struct buf *out);

/* out = hex(HMAC-SHA256(key, string_to_sign)), 64 digits + NUL. */
void sigv4_signature(const uint8_t key[32], const char *string_to_sign, size_t len,
                     char out[65]);

/* Compare two 64-digit hex signatures in constant time.  1 if equal. */
int sigv4_signature_equal(const char *a, const char *b);

/* ---- verification ---------------------------------------------------- */

/*
 * Verify req against auth with the account's secret (borrowed).
 * auth->amz_date must be set (sigv4_auth_set_date or parse_presigned).
 * On success writes the day's signing key to signing_key_out and the
 * (verified) request signature to seed_signature_out (the seed of an
 * aws-chunked body), either of which may be NULL.  Both are untouched on
 * failure.  Returns 0, SIGV4_EMISMATCH, or an error of
 * sigv4_canonical_request.  Time is not checked here: call
 * sigv4_check_time as well.
 */
int sigv4_verify(const struct sigv4_auth *auth, const struct sigv4_request *req,
                 const char *secret, uint8_t signing_key_out[32], char seed_signature_out[65]);

/* Append the canonical request and the string to sign that the server
 * computed for req (either buf may be NULL) - what S3 returns in a
 * SignatureDoesNotMatch body as CanonicalRequest and StringToSign.
 * Returns 0 or an error of sigv4_canonical_request. */
int sigv4_explain(const struct sigv4_auth *auth, const struct sigv4_request *req,
                  struct buf *canonical_request, struct buf *string_to_sign);

/* ---- client side ----------------------------------------------------- */

/* Who signs.  All strings borrowed for the call. */
struct sigv4_credentials {
    const char *access_key;
    const char *secret;
    const char *region;  /* e.g. "us-east-1" */
    const char *service; /* "s3" */
};

/* One request header to sign.  name in any case (it is lower-cased). */
struct sigv4_header {
    const char *name;
    const char *value;
};

/*
 * Compute the Authorization header value for a request and append it to
 * authorization ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=...").
 *   method:  "GET", "PUT"...
 *   path:    the path exactly as it will be sent (already percent-encoded,
 *            e.g. "/bucket/my%20key"); it is canonicalized the same way
 *            the server does.
 *   query:   the query as it will be sent, without '?' (encoded); NULL or
 *            "" for none.
 *   headers: every header to sign, count of them (1..64; no name twice).
 *            Must include "host" and an "x-amz-date" whose value is
 *            sigv4_format_amz_date(now); should include
 *            "x-amz-content-sha256" (S3 requires it).  Headers the client
 *            sends but does not list here are not signed.
 *   payload_hash: hex SHA-256 of the body, "UNSIGNED-PAYLOAD", or a
 *            "STREAMING-..." value; NULL means take the value of the
 *            x-amz-content-sha256 header in the list.
 *   now:     the signing time.
 *   signature_out: if not NULL, receives the signature (the seed of an
 *            aws-chunked body).
 * Returns 0, SIGV4_EINVAL (missing host/x-amz-date, x-amz-date != now,
 * no payload hash, duplicate or empty names, bad escapes), SIGV4_ETOOLONG,
 * -ENOSPC (authorization's cap), -ENOMEM.
 */
int sigv4_sign_headers(const struct sigv4_credentials *cred, const char *method,
                       const char *path, const char *query,
                       const struct sigv4_header *headers, size_t count,
                       const char *payload_hash, time_t now,
                       struct buf *authorization, char signature_out[65]);

/*
 * Append a presigned URL to url_out:
 *   endpoint "?" [query "&"] X-Amz-Algorithm=...&X-Amz-Credential=...
 *   &X-Amz-Date=...&X-Amz-Expires=...&X-Amz-SignedHeaders=host
 *   &X-Amz-Signature=...
 *   endpoint: "http://host[:port]" or "https://..." without a trailing
 *            '/'; the signed host is its authority part, with ":80" for
 *            http and ":443" for https dropped (clients leave default
 *            ports out of the Host header).
 *   method:  "GET" to share a download, "PUT" to accept an upload (any
 *            method works the same way).
 *   path:    encoded path, "/bucket/key" (path-style).
 *   query:   extra encoded query parameters (e.g. "versionId=x") or NULL.
 *   expires: seconds, 1..604800 (else SIGV4_EEXPIRES).
 * Only "host" is signed and the payload is "UNSIGNED-PAYLOAD", as the
 * SDKs do, so a plain browser or curl can use the URL.
 * Returns 0, SIGV4_EINVAL, SIGV4_EEXPIRES, SIGV4_ETOOLONG, -ENOSPC,
 * -ENOMEM.
 */
int sigv4_presign_url(const struct sigv4_credentials *cred, const char *method,
                      const char *endpoint, const char *path, const char *query,
                      long expires, time_t now, struct buf *url_out);

/*
 * sigv4_presign_url() for the object key (raw bytes, C string) of bucket:
 * the path is "/" bucket "/" key, the key percent-encoded with its '/'
 * kept.  The tools that share objects (`cairn presign`, `cairn-sync
 * share`) build their URLs here.  Same returns as sigv4_presign_url(),
 * and SIGV4_EINVAL for an empty bucket or key.
 */
int sigv4_presign_object(const struct sigv4_credentials *cred, const char *method,
                         const char *endpoint, const char *bucket, const char *key,
                         long expires, time_t now, struct buf *url_out);

/*
 * How long a presigned URL should last, as a user writes it: whole
 * seconds ("3600", "90s"), or a number of minutes, hours or days ("15m",
 * "12h", "7d").  No sign, spaces or fractions.  Returns 0 and *seconds,
 * SIGV4_EINVAL if s is malformed, or SIGV4_EEXPIRES if it is not within
 * 1..SIGV4_EXPIRES_MAX (7 days: S3 refuses longer ones); *seconds is
 * untouched on error.
 */
int sigv4_parse_expires(const char *s, long *seconds);

#endif
