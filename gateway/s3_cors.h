/*
 * gateway/s3_cors.h - cross-origin resource sharing (CORS) as S3 does it:
 * a bucket's rules (PutBucketCors / GetBucketCors / DeleteBucketCors), the
 * anonymous OPTIONS preflight answered from them, and the
 * Access-Control-* headers on every other response to a browser.  Used
 * only inside gateway/.
 *
 * STORED FORM.  PutBucketCors validates the XML once and stores the rules
 * under the bucket configuration "cors" (meta_bucket_config_set) in a
 * compact form that a request walks without a parser or an allocation:
 *
 *     "cors1" NUL                      magic and version
 *     then for each rule, in order:
 *     "R" NUL                          a rule starts
 *     <tag><value> NUL ...             its fields, grouped by tag in this
 *                                      order: I ID (at most one),
 *                                      M AllowedMethod, O AllowedOrigin,
 *                                      H AllowedHeader, A MaxAgeSeconds
 *                                      (decimal, at most one),
 *                                      E ExposeHeader
 *
 * Values are the XML text as sent (XML cannot carry NUL, so NUL ends
 * them).  GetBucketCors writes the rules back from this form, elements in
 * the order S3 answers them.  A blob that does not start with the magic
 * holds no rules; a torn last field ends the walk.
 *
 * MATCHING (S3's rules).  The first rule wins that allows the origin (an
 * exact, case-sensitive match, or a pattern with one '*' standing for any
 * run of characters), the method (exactly as listed) and, for a
 * preflight, every name in Access-Control-Request-Headers (case-insensitive,
 * AllowedHeader patterns may hold one '*').  A rule whose origins include
 * the literal "*" answers "Access-Control-Allow-Origin: *" and no
 * Access-Control-Allow-Credentials; any other match echoes the origin and
 * allows credentials.
 *
 * Files: s3_cors_rules.c (the rules, no request; common/ only) and
 * s3_cors.c (the handlers and the reply hook).
 *
 * Thread rules: everything here is reentrant.
 */
#ifndef CAIRN_GATEWAY_S3_CORS_H
#define CAIRN_GATEWAY_S3_CORS_H

#include <stddef.h>

#include "common/buf.h"
#include "common/xml.h"
#include "gateway/s3_error.h"

#define S3_CORS_CONFIG "cors"           /* meta_bucket_config_* name */
#define S3_CORS_MAX_RULES 100           /* CORSRule elements, as S3 */
#define S3_CORS_MAX_BODY (64u << 10)    /* PutBucketCors document, as S3 */
#define S3_CORS_ID_MAX 255              /* bytes of a rule's ID, as S3 */
#define S3_CORS_MAX_AGE 2147483647L     /* MaxAgeSeconds is an int32 */

/*
 * Validate a CORSConfiguration document (xml[0..len), borrowed) and append
 * its compact form to out (a buf the caller made, capped; it never needs
 * more than len + 16 bytes).  Returns S3E_NONE; S3E_MALFORMED_XML for a
 * document that is not well-formed or not S3's schema (no rule or more
 * than S3_CORS_MAX_RULES, a rule without AllowedMethod or AllowedOrigin,
 * an unknown element, an ID of more than S3_CORS_ID_MAX bytes, a
 * MaxAgeSeconds that is not a decimal 0..2^31-1, a repeated ID or
 * MaxAgeSeconds); S3E_INVALID_REQUEST with S3's message in msg (NUL-
 * terminated, cut to msg_cap) for a method other than GET, PUT, HEAD,
 * POST, DELETE, an AllowedOrigin or AllowedHeader with more than one '*',
 * an ExposeHeader with any; S3E_INTERNAL if out is full or memory ran out.
 * Structure is checked over the whole document before values, and the
 * first bad value (rule by rule; methods, origins, headers, then expose
 * headers) is the one reported, as S3 does.  out is unchanged on failure.
 */
enum s3_err s3_cors_parse(const char *xml, size_t len, struct buf *out, char *msg,
                          size_t msg_cap);

/* Write the CORSRule elements of a stored blob (borrowed) with w, inside
 * the CORSConfiguration element the caller opened.  Errors are the
 * writer's (sticky; see xmlw_finish). */
void s3_cors_write_xml(const char *blob, size_t len, struct xml_writer *w);

/* The rule a request matched: pointers into the blob (valid while it is). */
struct s3_cors_match {
    const char *rule; /* first field of the rule */
    const char *end;  /* just past its last field */
    int any_origin;   /* the rule allows the literal "*" */
};

/*
 * Find the first rule of blob (borrowed) that allows origin and method;
 * request_headers (a comma-separated Access-Control-Request-Headers
 * value, NULL for a request that is not a preflight) must all be allowed
 * too.  Returns 1 and fills *m, or 0 (m untouched).
 */
int s3_cors_match(const char *blob, size_t len, const char *origin, const char *method,
                  const char *request_headers, struct s3_cors_match *m);

/*
 * Append the response headers for a match to out as "name\0value\0"
 * pairs (the form of struct s3_req's hdrs), in S3's order:
 * Access-Control-Allow-Origin, -Allow-Methods, -Allow-Headers (the
 * requested names, lower case, when request_headers names any),
 * -Expose-Headers, -Max-Age, -Allow-Credentials, Vary.  0, or a buf error
 * (out may hold some of the pairs).
 */
int s3_cors_headers(const struct s3_cors_match *m, const char *origin,
                    const char *request_headers, struct buf *out);

/* Whether method is one a rule may allow (GET, PUT, HEAD, POST, DELETE). */
int s3_cors_method_valid(const char *method);

/* Bytes of s to print so that at most max are shown and no UTF-8
 * sequence is cut (for messages that quote a value), as an int for
 * printf's "%.*s". */
int s3_cors_utf8_prefix(const char *s, size_t max);

/* ---- the request side (s3_cors.c, with struct s3_req) ----------------- */

struct s3_req;
struct s3_handler;

/* GET / PUT / DELETE ?cors on a bucket: the handler for r's method, or
 * NULL (then the router answers MethodNotAllowed). */
const struct s3_handler *s3_cors_route(struct s3_req *r);

/* OPTIONS on a bucket or object URL.  It is the one handler that runs
 * without authentication (http.c: request_begin): browsers send preflights
 * without credentials; it reads nothing but the bucket's CORS rules. */
extern const struct s3_handler h_cors_preflight;

/* Before a reply to a request that is not a preflight goes out: when it
 * carries Origin and the bucket's rules allow that origin for the method,
 * queue the Access-Control-* headers (S3 takes the method from
 * Access-Control-Request-Method when the request has one).  Errors and
 * anonymous requests included, as S3. */
void s3_cors_reply_headers(struct s3_req *r);

#endif
