/*
 * gateway/s3_internal.h - what the gateway's own files share: the request
 * context, the handler table, reply helpers.  Not included outside
 * gateway/.
 *
 * Life of a request (http.c):
 *   1. libmicrohttpd hands over the raw request target; a struct s3_req is
 *      made for it (http.c: on_uri).
 *   2. first call of the access handler: the target is split into bucket,
 *      key and query (s3_router.c), the request is authenticated
 *      (s3_auth.c; a CORS preflight, OPTIONS, is the one S3 request that
 *      is not: s3_cors.h), and a handler is chosen; handler->begin runs
 *      and may reply at once (errors, bodiless requests answered on the
 *      spot).
 *   3. body pieces are decoded (aws-chunked framing, SHA-256 of a signed
 *      payload) and go to handler->body, or are collected into r->body
 *      (capped) for handlers that take an XML document.
 *   4. at the end of the body the payload checks are done, then
 *      handler->end replies.  An error found while the body streamed is
 *      kept in r->err and answered here, after the whole body was read,
 *      so the client gets the error instead of a reset connection.
 *   5. handler->cleanup frees the handler's state (always called).
 * Every reply goes out through s3_reply_response, which adds the bucket's
 * Access-Control-* headers when the request has a matching Origin.
 */
#ifndef CAIRN_GATEWAY_S3_INTERNAL_H
#define CAIRN_GATEWAY_S3_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <microhttpd.h>

#include "common/aws_chunked.h"
#include "common/buf.h"
#include "common/hash.h"
#include "common/sigv4.h"
#include "common/xml.h"
#include "common/uri.h"
#include "gateway/gateway.h"
#include "gateway/s3_error.h"

#define S3_MAX_XML_BODY (2u << 20)   /* DeleteObjects of 1000 long keys fits */
#define S3_MAX_HEADER_BYTES (16u << 10)
#define S3_MAX_USER_META 2048        /* bytes of x-amz-meta-* names + values */

struct gateway {
    struct gateway_config cfg;
    char *listen_host, *domain, *region, *root_access_key, *root_secret_key;
    struct objlayer *ol;
    struct meta *meta;
    struct MHD_Daemon *mhd;
    uint16_t port;
    pthread_t gc_thread;
    int gc_running;
    pthread_mutex_t gc_lock;
    pthread_cond_t gc_cond;
    int stopping;
    atomic_int draining;             /* SIGTERM: long polls answer at once */
    pthread_mutex_t maint_lock;      /* one scrub / gc pass at a time */
    int sse_s3_ready;                /* a master key was given (--sse-key-file) */
    struct sse_domain sse_s3;        /* the SSE-S3 key domain, derived from it */
    atomic_uint_fast64_t requests, errors, bytes_in, bytes_out, active;
    struct lifecycle_worker *lifecycle; /* NULL when off */
};

enum payload_mode {
    PAYLOAD_UNSIGNED = 0,           /* UNSIGNED-PAYLOAD, presigned, anonymous */
    PAYLOAD_SIGNED,                 /* hex SHA-256 in x-amz-content-sha256 */
    PAYLOAD_STREAMING,              /* aws-chunked (any of its variants) */
};

struct s3_req;

struct s3_handler {
    const char *op;   /* S3 operation name for logs and metrics */
    /* Headers are in; may reply (then no body is read).  Returns 0 to go
     * on, or an error code (s3_err_from) to answer with. */
    int (*begin)(struct s3_req *r);
    /* A decoded body piece.  NULL: the body is collected into r->body. */
    int (*body)(struct s3_req *r, const uint8_t *p, size_t n);
    /* Whole body in and verified: reply. */
    void (*end)(struct s3_req *r);
    /* Free r->hstate; always called, may be NULL. */
    void (*cleanup)(struct s3_req *r);
};

struct s3_req {
    struct gateway *gw;
    struct MHD_Connection *conn;
    char id[17];                 /* x-amz-request-id */
    int64_t start_ms;
    char *target;                /* raw request target as received */
    const char *method;
    char *raw_path;              /* target up to '?' (still %-encoded) */
    const char *raw_query;       /* after '?', "" if none (points into target copy) */
    struct uri_query query;      /* decoded query parameters */
    char *bucket;                /* decoded; NULL for service-level requests */
    char *key;                   /* decoded; NULL for bucket-level requests */
    int vhost;                   /* bucket came from the Host header */

    /* authentication */
    int anonymous;
    int is_root;
    char user[META_NAME_MAX];
    char access_key[130];
    struct sigv4_auth auth;
    uint8_t signing_key[32];
    char seed_signature[65];

    /* body */
    enum payload_mode payload;
    char payload_sha256[65];     /* PAYLOAD_SIGNED: expected hash, hex */
    struct cksum body_sha;       /* running SHA-256 for PAYLOAD_SIGNED */
    struct aws_chunked *chunked; /* PAYLOAD_STREAMING decoder */
    int64_t content_length;      /* decoded length announced, -1 unknown */
    uint64_t body_len;           /* decoded bytes seen */
    struct buf body;             /* collected body (handler->body == NULL) */

    const struct s3_handler *h;
    void *hstate;
    int err;                     /* error met while the body streamed */
    enum s3_err err_s3;          /* or an S3 error named directly */
    const char *err_msg;         /* message overriding the table's (static) */
    int in_body;                 /* a body piece is being handled: an error reply asked
                                    for now is kept in err_s3 and sent at the end */
    char *deferred_msg;          /* err_msg of such a reply (owned) */
    int started, responded;
    unsigned status;             /* status sent, for the log */
    struct buf hdrs;             /* extra response headers: "name\0value\0"... */
    struct buf err_details;      /* extra elements of an error body, same form */
};

/* ---- http.c: replies ------------------------------------------------ */

/* Look up a request header (case-insensitive); NULL if absent. */
const char *s3_header(struct s3_req *r, const char *name);
/* A query parameter's decoded value, NULL if absent ("" if no '='). */
const char *s3_param(struct s3_req *r, const char *name);
int s3_has_param(struct s3_req *r, const char *name);
/* The integrity values sent with r's collected body: Content-MD5 and any
 * x-amz-checksum-* (header, or trailer of an aws-chunked body) must match
 * it (InvalidDigest: a malformed Content-MD5; BadDigest: a mismatch).
 * required: at least one must be there (InvalidRequest), as S3 demands of
 * some calls.  0, or replies and returns -1. */
int s3_body_digest_or_reply(struct s3_req *r, int required);
/* r's collected body as an XML document whose root element is root, its
 * digests checked (s3_body_digest_or_reply, none required).  Returns the
 * document (owned: xml_doc_free), or replies (InvalidDigest, BadDigest,
 * MalformedXML) and returns NULL. */
struct xml_doc *s3_xml_body_or_reply(struct s3_req *r, const char *root);

/* Queue a header for the reply that will be sent (copied). */
void s3_add_header(struct s3_req *r, const char *name, const char *value);
/* Same, replacing any header of that name queued before. */
void s3_set_header(struct s3_req *r, const char *name, const char *value);

/* An element S3 adds to an error body beside Code and Message
 * ("HeadersNotSigned", "ActualPartCount"...), for the error reply that
 * follows (copied; capped: one that does not fit is dropped). */
void s3_add_error_detail(struct s3_req *r, const char *elem, const char *value);
/* Reply with the S3 XML error for e; msg (may be NULL) overrides the
 * table's message.  HEAD requests get the status and no body.  Called
 * while a body piece is handled (handler->body, so from any _or_reply
 * helper there), the error is kept (the first one wins, msg copied) and
 * answered once the body has been read. */
void s3_reply_error(struct s3_req *r, enum s3_err e, const char *msg);
/* Reply with the error for a lower-layer code (s3_err_from). */
void s3_reply_rc(struct s3_req *r, int rc);
/* Reply with status and body xml (taken: freed after sending). */
void s3_reply_xml(struct s3_req *r, unsigned status, struct buf *xml);
void s3_reply_json(struct s3_req *r, unsigned status, char *json);
/* Reply with obj as JSON (taken: deleted; NULL, or a failed print, is an
 * InternalError). */
struct cJSON;
void s3_reply_cjson(struct s3_req *r, unsigned status, struct cJSON *obj);
void s3_reply_empty(struct s3_req *r, unsigned status);

/* An S3 XML reply.  s3_doc_begin sets up a buffer of at most cap bytes and
 * a writer, writes the declaration and opens root in S3's namespace; the
 * handler writes the rest (closing root); s3_doc_reply sends it with 200,
 * or InternalError if writing failed (past the cap). */
struct s3_doc {
    struct buf buf;
    struct xml_writer w;
};
void s3_doc_begin(struct s3_doc *d, const char *root, size_t cap);
void s3_doc_reply(struct s3_req *r, struct s3_doc *d);
/* Reply with a response libmicrohttpd already holds (taken). */
void s3_reply_response(struct s3_req *r, unsigned status, struct MHD_Response *resp);

/* Format ms since the epoch for XML (2006-02-03T16:45:09.000Z) and HTTP
 * (Fri, 03 Feb 2006 16:45:09 GMT). */
void s3_time_iso(int64_t ms, char out[32]);
void s3_time_http(int64_t ms, char out[40]);
/* Parse an HTTP date (RFC 1123, RFC 850, asctime) or an ISO 8601 UTC time
 * (2006-02-03T16:45:09Z, any fraction of a second accepted and dropped)
 * into ms since the epoch, a whole number of seconds; -1 if malformed. */
int64_t s3_parse_http_time(const char *s);

/* ---- s3_auth.c ------------------------------------------------------ */

/* Authenticate r from its headers or presigned query; set payload mode.
 * Returns 0 or replies and returns -1. */
int s3_authenticate_or_reply(struct s3_req *r);
/* The fields of a browser POST form that sign its policy (s3_post.c), each
 * borrowed, NULL when absent: SigV4 (x-amz-algorithm, x-amz-credential,
 * x-amz-date, x-amz-signature) or SigV2 (AWSAccessKeyId, signature: what
 * boto3's generate_presigned_post makes unless told s3v4). */
struct s3_post_auth {
    const char *policy; /* the base64 text as sent */
    const char *algorithm, *credential, *date, *signature;
    const char *v2_access_key, *v2_signature;
};
/* A browser POST (h_post_object) comes without an Authorization header:
 * s3_authenticate_or_reply lets it in as anonymous, and once its form
 * fields are read this checks the policy's signature with the secret of
 * the credential's access key and makes that key's user r's user.
 * Returns 0, or replies (InvalidArgument for malformed fields,
 * InvalidAccessKeyId, SignatureDoesNotMatch) and returns -1. */
int s3_post_authenticate_or_reply(struct s3_req *r, const struct s3_post_auth *a);
/* Decode body bytes per the payload mode and pass them to sink. */
int s3_body_feed(struct s3_req *r, const uint8_t *p, size_t n,
                 int (*sink)(void *arg, const uint8_t *p, size_t n), void *arg);
/* End of body: check framing / payload hash.  0 or an S3 error. */
enum s3_err s3_body_finish(struct s3_req *r);
/* A trailer value of an aws-chunked body ("x-amz-checksum-crc32"), or NULL. */
const char *s3_trailer(struct s3_req *r, const char *name);
void s3_auth_release(struct s3_req *r);

/* ---- s3_router.c ---------------------------------------------------- */

/* Split the target, pick the handler.  Returns 0 or replies, -1. */
int s3_route_or_reply(struct s3_req *r);
/* Whether key (a C string) is a key S3 accepts: 1..META_KEY_MAX bytes of
 * valid UTF-8, as the router requires of keys in a path. */
int s3_key_valid(const char *key);

/* ---- s3_access.c: who may do what (bucket policies, canned ACLs) ------ */

/* Names of the bucket configurations (meta_bucket_config_*) and of the
 * attrs entry these rules read. */
#define S3_CONFIG_POLICY "policy" /* the policy document as sent (JSON) */
#define S3_CONFIG_ACL "acl"       /* a bucket's canned ACL, when not private */
#define S3_ATTR_ACL "x-cairn-acl" /* an object version's canned ACL, when not private */

/* The IAM action r asks for ("s3:GetObject"), from its handler's op and
 * the request (versionId, the sub-resource); NULL when none exists (then
 * only the owner and root may go on). */
const char *s3_request_action(struct s3_req *r);
/* An anonymous request goes on only to an S3 call on a bucket, where the
 * bucket's policy and ACLs decide; the rest (ListBuckets, CreateBucket,
 * sync calls, admin) is AccessDenied.  0, or replies and returns -1. */
int s3_anonymous_or_reply(struct s3_req *r);
/* The policy of bucket into *out (owned, s3_policy_free; NULL when the
 * bucket has none).  0 or a metadata error. */
struct s3_policy;
int s3_bucket_policy_load(struct s3_req *r, const char *bucket, struct s3_policy **out);
/* s3_access_allowed's verdicts. */
enum { S3_DENIED = 0, S3_ALLOWED = 1, S3_NOT_OWNER = 2 /* policy calls of others: 405 */ };
/* The verdict for r doing action to key (NULL: the bucket) of bucket b
 * under policy pol (NULL: none), in the order docs/policies.md gives.  An
 * object action without a key (DeleteObjects) is allowed when some key
 * may be: each key is then judged on its own. */
int s3_access_allowed(struct s3_req *r, const struct meta_bucket *b, const struct s3_policy *pol,
                      const char *action, const char *key, const char *version_id);
/* Whether r may do action to key (NULL: the bucket) of bucket.  Replies
 * NoSuchBucket, AccessDenied or MethodNotAllowed and returns -1 if not;
 * out (may be NULL) receives the bucket's record. */
int s3_access_or_reply(struct s3_req *r, const char *bucket, const char *key, const char *action,
                       const char *version_id, struct meta_bucket *out);
/* s3_access_or_reply for what r itself asks (s3_request_action). */
int s3_bucket_access_or_reply(struct s3_req *r, struct meta_bucket *out);

/* ---- s3_acl.c: canned ACLs -------------------------------------------- */

/* The canned ACL a write names (x-amz-acl) into *acl: "private" (also
 * for bucket-owner-full-control and bucket-owner-read, the same thing in
 * cairn), "public-read", "public-read-write" or "authenticated-read";
 * "private" without the header.  x-amz-grant-* headers and the other
 * canned ACLs are AccessControlListNotSupported, an unknown value
 * InvalidArgument: replies and returns -1. */
int s3_acl_canned_or_reply(struct s3_req *r, const char **acl);
/* Set the S3_ATTR_ACL entry of the attrs being written to what the
 * request's x-amz-acl names (dropping one copied from elsewhere).  Any
 * ACL but private also needs s3:PutObjectAcl on r's key, as on S3.
 * Replies and returns -1 on a bad header, a refusal or a full buffer. */
int s3_acl_apply_or_reply(struct s3_req *r, struct buf *attrs);

/* ---- handler tables (one file each) --------------------------------- */

extern const struct s3_handler h_list_buckets, h_create_bucket, h_delete_bucket, h_head_bucket,
    h_get_bucket_location, h_get_bucket_versioning, h_put_bucket_versioning, h_list_objects,
    h_list_versions, h_delete_objects, h_get_acl, h_put_acl, h_bucket_config;
extern const struct s3_handler h_put_bucket_policy, h_get_bucket_policy, h_delete_bucket_policy,
    h_get_bucket_policy_status, h_get_ownership_controls;
extern const struct s3_handler h_get_object_tagging, h_put_object_tagging, h_delete_object_tagging,
    h_get_bucket_tagging, h_put_bucket_tagging, h_delete_bucket_tagging;
extern const struct s3_handler h_put_object, h_get_object, h_head_object, h_delete_object,
    h_copy_object;
extern const struct s3_handler h_create_mpu, h_upload_part, h_upload_part_copy, h_complete_mpu,
    h_abort_mpu, h_list_parts, h_list_mpu;
extern const struct s3_handler h_sync_info, h_sync_missing, h_sync_chunk, h_sync_changes,
    h_sync_commit, h_sync_chunks;
extern const struct s3_handler h_put_object_lock_config, h_get_object_lock_config,
    h_put_object_retention, h_get_object_retention, h_put_object_legal_hold, h_get_object_legal_hold;
extern const struct s3_handler h_post_object;
extern const struct s3_handler h_bucket_encryption;
extern const struct s3_handler h_get_lifecycle, h_put_lifecycle, h_delete_lifecycle;
extern const struct s3_handler h_admin;
extern const struct s3_handler h_metrics;

/* ---- shared helpers for object handlers (s3_object.c) ----------------- */

/* How one object's data is (to be) encrypted (s3_sse.c, below). */
enum s3_sse_mode { S3_SSE_NONE = 0, S3_SSE_S3, S3_SSE_C };

/* Holds key material: wipe with s3_sse_release. */
struct s3_sse {
    enum s3_sse_mode mode;
    struct sse_domain dom;                /* SSE-S3 / SSE-C key domain */
    uint8_t customer_key[SSE_KEY_LEN];    /* SSE-C, as the request gave it */
    char key_md5[32];                     /* SSE-C: base64 MD5 of the key, echoed */
};

/* A body being stored: PutObject and UploadPart. */
struct s3_put {
    struct ol_writer *w;
    struct buf attrs;              /* headers to keep (s3_attrs.c format) */
    enum cksum_alg upload_alg;     /* in, UploadPart: the upload's algorithm, which the
                                      part must use (computed when the request names
                                      none); CKSUM_NONE for PutObject */
    enum cksum_alg alg;            /* x-amz-checksum-* requested (or the upload's) */
    char checksum_expect[96];      /* its value from a header (base64), or "" */
    int checksum_in_trailer;       /* value comes in the aws-chunked trailer */
    char checksum_b64[64];         /* computed value, after finish */
    uint8_t content_md5[16];
    int has_md5;
    char *mismatch_msg;
    struct meta_precond pc;
    char if_match[META_ETAG_MAX];
    uint8_t versioning;            /* PutObject: the bucket's versioning state
                                      when the request began */
    struct s3_sse sse;             /* in: how to encrypt the body (s3_sse.c) */
};

/* Set up p for the request's body (Content-Length, Content-MD5, checksum
 * headers, metadata).  Replies and returns -1 on bad input (a checksum
 * algorithm other than p->upload_alg: InvalidRequest, as S3). */
int s3_put_begin_or_reply(struct s3_req *r, struct s3_put *p, int allow_inline, uint64_t max_size);
/* handler->body for a request whose hstate is a struct s3_put. */
int s3_put_body(struct s3_req *r, const uint8_t *data, size_t n);
/* Finish the body and check length, Content-MD5 and checksum; the checksum
 * (with x-amz-checksum-type FULL_OBJECT) is added to p->attrs.  Replies and
 * returns -1 on mismatch. */
int s3_put_finish_or_reply(struct s3_req *r, struct s3_put *p);
void s3_put_release(struct s3_put *p); /* what p holds */
void s3_put_free(struct s3_put *p);    /* and p itself; NULL ok */

/* Read If-Match / If-None-Match of a write (PutObject, CopyObject,
 * CompleteMultipartUpload) into pc; etag_buf holds the If-Match value.
 * Replies and returns -1 on a value cairn cannot honour. */
int s3_write_precond_or_reply(struct s3_req *r, struct meta_precond *pc, char *etag_buf);
/* Store what the finished writer w holds as a new version of key in r's
 * bucket (a new version id, now, the MD5 ETag, attrs borrowed), under the
 * preconditions pc (NULL: none), and queue its ETag and x-amz-version-id
 * headers (versioning: the bucket's state when the request began);
 * sse says how w encrypted the data: its ETag form, attrs entries
 * (appended to attrs) and response headers.  etag_out (may be NULL)
 * receives the ETag without quotes.
 * Returns 0, or the error code to reply with. */
int s3_put_commit(struct s3_req *r, struct ol_writer *w, const char *key, struct buf *attrs,
                  const struct meta_precond *pc, uint8_t versioning, const struct s3_sse *sse,
                  char etag_out[META_ETAG_MAX]);
/* The error a write of r's key with conditions pc answers for rc (the
 * store's result): an If-Match on a key without a current version is
 * NoSuchKey (META_ENOTFOUND) in S3, not 412; others pass through.  The
 * check and the write are one metadata transaction, so S3's 409
 * ConditionalRequestConflict (a write racing the check) cannot happen. */
int s3_write_precond_rc(struct s3_req *r, int rc, const struct meta_precond *pc);

/* The source of a copy (x-amz-copy-source), opened for reading. */
struct s3_copy_src {
    char bucket[META_NAME_MAX];
    char *key;
    char version_id[META_VERSION_MAX]; /* the version opened */
    int version_named;                 /* the header named it (?versionId=) */
    struct ol_reader *rd;
};
/* Parse x-amz-copy-source, check access and x-amz-copy-source-if-*,
 * open the source (a version as s3_version_or_reply finds it for a copy).
 * Replies and returns -1 on failure. */
int s3_copy_source_or_reply(struct s3_req *r, struct s3_copy_src *src);
void s3_copy_src_release(struct s3_copy_src *src);
/* x-amz-copy-source-version-id for a copy from src, as S3 sends it: when
 * the source is a version of a versioning bucket or was named by id. */
void s3_copy_source_version_header(struct s3_req *r, const struct s3_copy_src *src);

/* ---- versions (s3_object.c) -------------------------------------------
 *
 * cairn's version ids are "null" (a version stored while the bucket was
 * not versioning) or 32 lowercase hex digits (s3_new_version_id); any
 * other ?versionId is S3's 400 InvalidArgument "Invalid version id
 * specified". */

/* ---- object lock (s3_lock.c) ------------------------------------------
 * Which versions may not be deleted yet, and the bucket's default
 * retention; formats in s3_lock.c's header comment. */
struct s3_lock_config {
    char mode[16];   /* default retention mode, "" for none */
    int days, years; /* its period (one of them) */
};
/* The bucket's object-lock configuration: 0, META_ENOTFOUND if the bucket
 * has no object lock, META_ENOBUCKET, META_ECORRUPT. */
int s3_lock_config_get(struct gateway *gw, const char *bucket, struct s3_lock_config *out);
int s3_lock_enabled(struct gateway *gw, const char *bucket);
/* Whether a version with these attrs is protected at now_ms: a legal hold,
 * or a retention in force (governance yields to bypass_governance). */
int s3_lock_version_locked(const uint8_t *attrs, uint32_t len, int64_t now_ms, int bypass_governance);
/* x-amz-bypass-governance-retention: true on r. */
int s3_lock_bypass_requested(struct s3_req *r);
/* 0 if r may delete version_id of key (NULL: a delete marker is added,
 * always allowed), OL_ELOCKED if the version is protected, or a metadata
 * error. */
int s3_lock_check_delete(struct s3_req *r, const char *key, const char *version_id);
/* Replace the lock entries of a new version's attrs (in/out) with the
 * ones r asks for (x-amz-object-lock-* headers) or the bucket's default
 * retention; replies with S3's error for bad or unexpected headers. */
int s3_lock_attrs_or_reply(struct s3_req *r, struct buf *attrs);
/* The x-amz-object-lock-* response headers of a version. */
void s3_lock_headers(struct s3_req *r, const uint8_t *attrs, uint32_t len);

/* A fresh version id (32 hex). */
void s3_new_version_id(char out[META_VERSION_MAX]);
/* Whether v is a well-formed version id. */
int s3_version_id_valid(const char *v);
/* ?versionId of r into *out: NULL when absent, else a well-formed id.
 * Replies InvalidArgument and returns -1 for a malformed (or empty) one. */
int s3_version_param_or_reply(struct s3_req *r, const char **out);
/* The version of bucket/key a read names (version_id NULL: the latest)
 * into *out (release with meta_object_release), or the reply S3 gives and
 * -1: NoSuchKey for an absent key; NoSuchVersion for an absent version;
 * for a latest version that is a delete marker NoSuchKey with
 * x-amz-delete-marker: true and the marker's x-amz-version-id; for a
 * delete marker named by id 405 MethodNotAllowed with those headers,
 * Last-Modified and Allow: DELETE.  copy_source: the read is the source
 * of a copy, which S3 answers NoSuchKey for a latest delete marker and
 * InvalidRequest for one named by id, without the marker headers. */
int s3_version_or_reply(struct s3_req *r, const char *bucket, const char *key,
                        const char *version_id, int copy_source, struct meta_object *out);
/* s3_version_or_reply for r's key and ?versionId (as the read sub-resources
 * ?acl and ?tagging take it).  out may be NULL. */
int s3_object_or_reply(struct s3_req *r, struct meta_object *out);
/* x-amz-version-id: version_id, unless it is "null". */
void s3_version_id_header(struct s3_req *r, const char *version_id);
/* Edit of a version's attrs for s3_object_attrs_update_or_reply: fill out
 * (empty, capped at META_ATTRS_MAX) with the new attrs made from the
 * current ones (attrs, len: borrowed), or return the S3 error to answer
 * (S3E_NONE to go on).  Called again after a lost race, on fresh attrs. */
typedef enum s3_err s3_attrs_edit_fn(void *arg, const uint8_t *attrs, uint32_t len,
                                     struct buf *out);
#define S3_ATTRS_UPDATE_TRIES 8
/* Change the attrs of r's object version (?versionId, else the latest;
 * s3_object_or_reply's answers when there is none) with edit, a
 * compare-and-swap retried while other writers get in between (tags,
 * ACL, retention and legal hold of one version never overwrite each
 * other), then answer status with x-amz-version-id.  After
 * S3_ATTRS_UPDATE_TRIES lost races: 409 ConditionalRequestConflict. */
void s3_object_attrs_update_or_reply(struct s3_req *r, s3_attrs_edit_fn *edit, void *arg,
                                     unsigned status);
/* The id a write stores for a new version whose caller chose version_id,
 * in a bucket in versioning state versioning (meta_object_put): the id
 * when versioning is enabled, "null" otherwise (static or version_id). */
const char *s3_stored_version_id(uint8_t versioning, const char *version_id);
/* x-amz-version-id: version_id on the reply, unless the bucket never had
 * versioning (versioning OFF and the id "null"): S3 names no versions
 * there. */
void s3_version_header(struct s3_req *r, uint8_t versioning, const char *version_id);
/* The conditions of a conditional delete into pc: if_match (If-Match, or
 * DeleteObjects' <ETag>: one ETag, quotes optional, or "*"), size
 * (x-amz-if-match-size, <Size>: decimal bytes), mtime
 * (x-amz-if-match-last-modified-time, <LastModifiedTime>: an HTTP or ISO
 * date, matched to the second); each may be NULL.  etag_buf holds the
 * ETag pc points at.  S3E_NONE, S3E_INVALID_ARGUMENT for a malformed size
 * or date, S3E_PRECONDITION_FAILED for an ETag too long to match any. */
enum s3_err s3_delete_precond(const char *if_match, const char *size, const char *mtime,
                              struct meta_precond *pc, char etag_buf[META_ETAG_MAX]);
/* Delete one key, or one version of it.  pc NULL: unconditional and
 * idempotent (absent is 0).  Else pc is checked in the delete's own
 * transaction: META_EPRECOND, or META_ENOTFOUND (NoSuchKey) for a key
 * without any version or an absent version_id.  removed (may be NULL)
 * receives the version removed or the delete marker added (release with
 * meta_object_release); its key is NULL when nothing was. */
int s3_delete_one(struct s3_req *r, const char *key, const char *version_id,
                  const struct meta_precond *pc, struct meta_object *removed);


/* ---- attrs blobs (s3_attrs.c) ----------------------------------------
 *
 * An object's attrs blob is "name\0value\0"... (format in s3_attrs.c).
 * Names starting with "x-cairn-" are cairn's own bookkeeping: they are
 * kept and copied with the object but never sent as headers. */

#define S3_ATTR_INTERNAL_PREFIX "x-cairn-"
/* Sizes of the parts of an object made by CompleteMultipartUpload, in
 * order: decimal sizes separated by ',', a run of equal sizes written
 * "SIZE*COUNT" ("8388608*12,1048576").  Absent for other objects. */
#define S3_ATTR_PART_SIZES "x-cairn-part-sizes"
/* Longest part size list kept (the value).  With the at most 8 KiB of
 * headers and 16 KiB of tags an object keeps (the cap of attrs built from
 * a request, 8192 + S3_TAGS_ATTR_MAX) it stays
 * well inside META_ATTRS_MAX; attrs buffers that may hold it are made with
 * that cap.  Holds any number of parts when sizes repeat (as clients
 * upload them), and about 4,000 parts of all-different sizes; an upload
 * whose list is longer completes without one (then its parts cannot be
 * read by ?partNumber: the object reads as a single part). */
#define S3_PART_SIZES_MAX (40u << 10)

/* Build the attrs blob (stored headers + user metadata) from the request
 * headers into out.  Replies and returns -1 on bad metadata. */
int s3_attrs_from_request_or_reply(struct s3_req *r, struct buf *out);
/* The same from the fields of a browser POST form: fields is an attrs
 * blob of the form's fields (names lower-case); the stored headers and
 * x-amz-meta-* among them are appended to out.  Replies and returns -1 on
 * bad metadata. */
int s3_attrs_from_fields_or_reply(struct s3_req *r, const uint8_t *fields, uint32_t len,
                                  struct buf *out);
/* Emit stored headers of an attrs blob as response headers. */
void s3_attrs_to_headers(struct s3_req *r, const uint8_t *attrs, uint32_t len, int with_checksum);
/* Append the entry name (lower-cased) = value to an attrs blob.  0, or a
 * buf error (out unchanged). */
int s3_attrs_add(struct buf *out, const char *name, const char *value);
/* Walk an attrs blob: *pos starts at 0; each call that returns 1 sets
 * *name and *value (pointing into attrs) and advances *pos; 0 at the end
 * (a torn last entry counts as the end). */
int s3_attrs_next(const uint8_t *attrs, uint32_t len, uint32_t *pos, const char **name,
                  const char **value);
/* Find name in an attrs blob; NULL if absent (points into attrs). */
const char *s3_attrs_get(const uint8_t *attrs, uint32_t len, const char *name);
/* Append to out the entries of attrs whose name starts with prefix (keep
 * 1) or does not (keep 0).  0, or a buf error (out may hold some). */
int s3_attrs_copy(const uint8_t *attrs, uint32_t len, const char *prefix, int keep,
                  struct buf *out);
/* Append the S3_ATTR_PART_SIZES entry for n parts of the given sizes to
 * attrs.  0; -ENOSPC when the list would be longer than S3_PART_SIZES_MAX
 * (attrs unchanged: the object goes without); -ENOMEM. */
int s3_attrs_add_part_sizes(struct buf *attrs, const uint64_t *sizes, size_t n);
/* Where part number part (1-based) of an object of object_size bytes lies,
 * from the S3_ATTR_PART_SIZES entry of its attrs.  Returns 1 when the
 * object has a well-formed list adding up to object_size: *count gets the
 * number of parts and, if part <= *count, *offset / *size its bytes.
 * Returns 0 when there is no such list (*count etc. untouched). */
int s3_attrs_part_range(const uint8_t *attrs, uint32_t len, uint64_t object_size, uint32_t part,
                        uint32_t *count, uint64_t *offset, uint64_t *size);

/* ---- tags (s3_tagging.c) ---------------------------------------------
 *
 * Object tags live in the version's attrs blob as one internal entry,
 * S3_ATTR_TAGS, whose value is the tag set in cairn's compact form: for
 * each tag in order, "<key bytes>:<key><value bytes>:<value>" with the
 * byte counts in decimal ("3:env4:prod0:4:note").  It keeps the order the
 * client gave and any UTF-8 (no byte is escaped); S3 tags never hold NUL.
 * An object without tags has no entry.  Bucket tags are the same form,
 * stored as the bucket configuration "tagging" (meta_bucket_config_set).
 *
 * Limits (S3's): at most S3_TAGS_MAX_OBJECT tags on an object,
 * S3_TAGS_MAX_BUCKET on a bucket; a key is 1..128 characters and a value
 * 0..256 (Unicode characters, not bytes) of letters, numbers and
 * separators in any script plus "+-=._:/@"; keys are unique and do not
 * start with "aws:" (any case). */
#define S3_ATTR_TAGS "x-cairn-tags"
#define S3_TAGS_MAX_OBJECT 10
#define S3_TAGS_MAX_BUCKET 50
#define S3_TAG_KEY_MAX 128     /* characters */
#define S3_TAG_VALUE_MAX 256   /* characters */
/* Longest compact form of an object's tags (10 tags of 4-byte characters:
 * 10 * (512 + 1024 + 9) bytes); attrs buffers built from a request leave
 * this much room beside the 8 KiB of headers. */
#define S3_TAGS_ATTR_MAX 16384u

/* One tag, pointing into whatever holds it (not NUL-terminated when it
 * points into a compact form: use the lengths). */
struct s3_tag {
    const char *key, *value;
    size_t key_len, value_len;
};

/* A parsed tag set.  Owns its strings: release with s3_tagset_release. */
struct s3_tagset {
    struct s3_tag tags[S3_TAGS_MAX_BUCKET];
    size_t n;
    struct buf store;              /* the compact form the tags point into */
};

/* Why a tag set was refused: the S3 error, its message (static) and the
 * TagKey / TagValue S3 adds to the error body ("" for none; copies, cut at
 * the buffer's size). */
struct s3_tag_error {
    enum s3_err err;
    const char *msg;
    char tag_key[520], tag_value[1030];
};

enum s3_tag_kind { S3_TAGS_OBJECT, S3_TAGS_BUCKET };

/* Parse a PutObjectTagging / PutBucketTagging body (a <Tagging> document)
 * into t (set up by the call; release it after a 0 return) and validate it
 * for kind.  Returns 0, or -1 with e filled: MalformedXML (not XML, another
 * root, no TagSet, a Tag without Key or Value), BadRequest (too many tags),
 * InvalidTag (a duplicate key, an "aws:" key, a key or value of bad length
 * or characters). */
int s3_tagset_parse_xml(const char *body, size_t len, enum s3_tag_kind kind, struct s3_tagset *t,
                        struct s3_tag_error *e);
/* The same for a document already parsed (borrowed; t does not point into
 * it): MalformedXML for another root or a missing TagSet, Key or Value. */
int s3_tagset_from_doc(const struct xml_doc *doc, enum s3_tag_kind kind, struct s3_tagset *t,
                       struct s3_tag_error *e);
/* Parse an x-amz-tagging header ("k1=v1&k2=v2", URL-query encoded, '+' a
 * space, a tag without '=' has an empty value) into t and validate it as
 * object tags.  Returns 0, or -1 with e filled: InvalidArgument (a bad
 * %-escape, a key that is empty, not UTF-8 or given twice), BadRequest or
 * InvalidTag as s3_tagset_parse_xml. */
int s3_tagset_parse_header(const char *header, struct s3_tagset *t, struct s3_tag_error *e);
/* Read a compact form (s, len bytes, borrowed) into t.  0, or -EINVAL if
 * it is malformed or holds more than S3_TAGS_MAX_BUCKET tags (t then owns
 * nothing), -ENOMEM. */
int s3_tagset_decode(const char *s, size_t len, struct s3_tagset *t);
void s3_tagset_release(struct s3_tagset *t);

/* For the lifecycle worker and other readers of stored objects: walk the
 * tags of an object's attrs blob (borrowed).  *pos starts at 0; each call
 * that returns 1 fills *tag (pointing into attrs, valid as long as attrs)
 * and advances *pos; 0 at the end, for an object without tags, and where
 * the stored form is malformed.  Tags come in the order they were set.
 *     struct s3_tag t;
 *     for (size_t pos = 0; s3_object_tags_next(attrs, len, &pos, &t);)
 *         if (t.key_len == 3 && memcmp(t.key, "env", 3) == 0) ...  */
int s3_object_tags_next(const uint8_t *attrs, uint32_t len, size_t *pos, struct s3_tag *tag);
/* Number of tags of an object's attrs blob (0 if none or malformed). */
size_t s3_object_tags_count(const uint8_t *attrs, uint32_t len);

/* x-amz-tagging of a PutObject / CreateMultipartUpload: its tags, if any,
 * are added to attrs.  Replies with the S3 error and returns -1 when the
 * header is refused. */
int s3_tagging_header_or_reply(struct s3_req *r, struct buf *attrs);
/* The tagging field of a PostObject form (xml: a <Tagging> document, NULL
 * when the form has none): its tags are added to attrs.  Replies with the
 * S3 error and returns -1 when the document is refused. */
int s3_tagging_form_or_reply(struct s3_req *r, const char *xml, struct buf *attrs);
/* The tags of a CopyObject's new object, after attrs was built from the
 * source or the request: x-amz-tagging-directive COPY (default) keeps the
 * source's tags (from src_attrs), REPLACE takes x-amz-tagging instead.
 * Replies and returns -1 on a bad directive or header. */
int s3_copy_tags_or_reply(struct s3_req *r, const uint8_t *src_attrs, uint32_t src_len,
                          struct buf *attrs);
/* Whether cp is a letter, number or separator (Unicode L, N, Z), the
 * characters S3 allows in tags besides "+-=._:/@". */
int s3_tag_char_is_letter_number_space(uint32_t cp);
/* Those code points as sorted, disjoint, inclusive ranges (s3_tag_chars.c,
 * generated by scripts/gen-tag-chars.py). */
extern const uint32_t s3_tag_char_ranges[][2];
extern const size_t s3_tag_char_nranges;

/* ?partNumber as S3 takes it: an integer 1..10000, else InvalidArgument.
 * Replies and returns -1 when absent or bad. */
int s3_part_number_or_reply(struct s3_req *r, uint32_t *out);

/* ETag with quotes from a stored etag. */
void s3_quote_etag(const char *etag, char out[META_ETAG_MAX + 3]);

/* ---- s3_sse.c: server-side encryption (docs/encryption.md) ---------- */

void s3_sse_release(struct s3_sse *s);
/* The domain to seal in (ol_writer_opts.sse), NULL for plaintext. */
const struct sse_domain *s3_sse_domain(const struct s3_sse *s);
/* Whether data sealed under a reads under b unchanged (both plaintext,
 * both SSE-S3, or SSE-C with the same key). */
int s3_sse_same_domain(const struct s3_sse *a, const struct s3_sse *b);
/* The encryption a write asks for (PutObject, CopyObject's destination,
 * CreateMultipartUpload): x-amz-server-side-encryption or the SSE-C
 * headers, else the bucket's default.  Replies and returns -1 on a bad or
 * unsupported request (aws:kms, SSE-S3 without a key file). */
int s3_sse_request_or_reply(struct s3_req *r, struct s3_sse *out);
/* The same from the values themselves (what a browser POST upload sends
 * as form fields): sse is x-amz-server-side-encryption, c_alg, c_key and
 * c_key_md5 the three SSE-C values; NULL where absent (nothing at all:
 * the bucket's default). */
int s3_sse_choose_or_reply(struct s3_req *r, const char *sse, const char *c_alg,
                           const char *c_key, const char *c_key_md5, struct s3_sse *out);
/* Add what an object (or upload) keeps about s to attrs: 0 or an error. */
int s3_sse_attrs_add(const struct s3_sse *s, struct buf *attrs);
/* How stored attrs say their object is encrypted (no key checked). */
enum s3_sse_mode s3_sse_attrs_mode(const uint8_t *attrs, uint32_t len);
/* Append attrs without the encryption entries to out. */
int s3_sse_attrs_strip(const uint8_t *attrs, uint32_t len, struct buf *out);
/* The encryption of stored attrs (an object's or an upload's), with the
 * request's SSE-C headers checked against it (copy_source: the
 * x-amz-copy-source-... ones): missing key 400, wrong key 403, a key for
 * an unencrypted object 400.  Replies and returns -1 on failure. */
int s3_sse_stored_or_reply(struct s3_req *r, const uint8_t *attrs, uint32_t len, int copy_source,
                           struct s3_sse *out);
/* s3_sse_stored_or_reply for the object rd reads, then hand its key domain
 * to the reader. */
int s3_sse_reader_or_reply(struct s3_req *r, struct ol_reader *rd, int copy_source,
                           struct s3_sse *out);
/* Response headers saying how an object is encrypted. */
void s3_sse_reply_headers(struct s3_req *r, const struct s3_sse *s);
/* The ETag of a body with MD5 md5_sum: hex MD5, or for SSE-C a keyed hash
 * of it (S3's SSE-C ETags are not the MD5 either). */
void s3_sse_etag(const struct s3_sse *s, const uint8_t md5_sum[16], char out[META_ETAG_MAX]);
/* Sync extension calls: refused on a bucket with default encryption
 * (replies, -1). */
int s3_sse_sync_or_reply(struct s3_req *r);
/* Copy len bytes of rd from first into w (decrypting and encrypting as
 * the two are set up).  0 or an object-layer error. */
int s3_copy_stream(struct ol_reader *rd, uint64_t first, uint64_t len, struct ol_writer *w);

#endif
