/*
 * gateway/s3_error.h - the S3 errors cairn answers, and the one table that
 * maps every lower-layer error to them.
 *
 * No handler writes an S3 error code or status itself: it names an
 * enum s3_err (or passes a lower-layer code through s3_err_from()) and the
 * reply is built from the table in s3_error.c.
 */
#ifndef CAIRN_GATEWAY_S3_ERROR_H
#define CAIRN_GATEWAY_S3_ERROR_H

enum s3_err {
    S3E_NONE = 0,
    S3E_ACCESS_DENIED,
    S3E_AUTH_HEADER_MALFORMED,
    S3E_BAD_DIGEST,
    S3E_BUCKET_EXISTS,
    S3E_BUCKET_OWNED,
    S3E_BUCKET_NOT_EMPTY,
    S3E_CONDITIONAL_CONFLICT,
    S3E_ENTITY_TOO_LARGE,
    S3E_ENTITY_TOO_SMALL,
    S3E_EXPIRED_PRESIGN,
    S3E_INCOMPLETE_BODY,
    S3E_INCOMPLETE_SIGNATURE,
    S3E_INTERNAL,
    S3E_INVALID_ACCESS_KEY,
    S3E_AUTH_QUERY_ERROR,
    S3E_INVALID_ARGUMENT,
    S3E_INVALID_BUCKET_NAME,
    S3E_INVALID_DIGEST,
    S3E_INVALID_PART,
    S3E_INVALID_PART_ORDER,
    S3E_INVALID_PART_NUMBER,
    S3E_INVALID_RANGE,
    S3E_INVALID_REQUEST,
    S3E_INVALID_URI,
    S3E_ILLEGAL_VERSIONING,
    S3E_KEY_TOO_LONG,
    S3E_MALFORMED_XML,
    S3E_MAX_MESSAGE_LENGTH,
    S3E_METADATA_TOO_LARGE,
    S3E_METHOD_NOT_ALLOWED,
    S3E_MISSING_CONTENT_LENGTH,
    S3E_MISSING_SECURITY_HEADER,
    S3E_NO_SUCH_BUCKET,
    S3E_NO_SUCH_KEY,
    S3E_NO_SUCH_UPLOAD,
    S3E_NO_SUCH_VERSION,
    S3E_NOT_IMPLEMENTED,
    S3E_NOT_MODIFIED,
    S3E_PRECONDITION_FAILED,
    S3E_REQUEST_TIME_SKEWED,
    S3E_SIGNATURE_MISMATCH,
    S3E_SHA256_MISMATCH,
    S3E_SLOW_DOWN,
    S3E_STORAGE_FULL,
    S3E_HEADERS_TOO_LARGE,
    S3E_SERVICE_UNAVAILABLE,
    S3E_MISSING_CHUNKS,        /* sync commit names chunks the store lacks */
    /* "this bucket has no such configuration" answers */
    S3E_NO_SUCH_BUCKET_POLICY,
    S3E_NO_SUCH_CORS,
    S3E_NO_SUCH_LIFECYCLE,
    S3E_NO_SUCH_ENCRYPTION,
    S3E_NO_SUCH_WEBSITE,
    S3E_NO_SUCH_TAG_SET,
    S3E_NO_SUCH_OBJECT_LOCK,
    S3E_NO_OBJECT_RETENTION,
    S3E_OBJECT_LOCKED,
    S3E_INVALID_BUCKET_STATE,
    S3E_NO_SUCH_REPLICATION,
    S3E_NO_SUCH_PUBLIC_ACCESS_BLOCK,
    S3E_NO_SUCH_OWNERSHIP_CONTROLS,
    S3E_ACL_NOT_SUPPORTED,
    S3E_MALFORMED_POLICY,
    /* browser POST uploads (s3_post.c) */
    S3E_MALFORMED_POST,
    S3E_MAX_POST_PRE_DATA,
    S3E_INVALID_POLICY_DOCUMENT,
    /* CORS (s3_cors.c) */
    S3E_BAD_REQUEST,
    S3E_CORS_FORBIDDEN,
    S3E_INVALID_TAG,
    S3E_MISSING_REQUEST_BODY,
    S3E_INVALID_ENCRYPTION_ALGORITHM,
    S3E_COUNT
};

struct s3_err_info {
    const char *code;     /* S3's error code, e.g. "NoSuchKey" */
    unsigned status;      /* HTTP status */
    const char *message;  /* default message (clients print it) */
};

/* Table row of e (never NULL; out-of-range maps to InternalError). */
const struct s3_err_info *s3_err_info(enum s3_err e);

/* Map a code from the layers below (enum ol_error, meta_error, cs_error,
 * sigv4 errors, negated errno) to the S3 error a client sees. */
enum s3_err s3_err_from(int rc);

#endif
