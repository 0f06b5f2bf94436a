/* gateway/s3_error.c - the one table of S3 errors; see s3_error.h. */
#include "gateway/s3_error.h"

#include <errno.h>

#include "gateway/objlayer.h"

static const struct s3_err_info table[S3E_COUNT] = {
    [S3E_NONE] = {"OK", 200, "OK"},
    [S3E_ACCESS_DENIED] = {"AccessDenied", 403, "Access Denied"},
    [S3E_AUTH_HEADER_MALFORMED] = {"AuthorizationHeaderMalformed", 400,
                                   "The authorization header is malformed."},
    [S3E_BAD_DIGEST] = {"BadDigest", 400,
                        "The Content-MD5 or checksum you specified did not match what we received."},
    [S3E_BUCKET_EXISTS] = {"BucketAlreadyExists", 409,
                           "The requested bucket name is not available. The bucket namespace is "
                           "shared by all users of the system. Please select a different name and "
                           "try again."},
    [S3E_BUCKET_OWNED] = {"BucketAlreadyOwnedByYou", 409,
                          "Your previous request to create the named bucket succeeded and you "
                          "already own it."},
    [S3E_BUCKET_NOT_EMPTY] = {"BucketNotEmpty", 409, "The bucket you tried to delete is not empty."},
    [S3E_CONDITIONAL_CONFLICT] = {"ConditionalRequestConflict", 409,
                                  "A conflicting operation occurred. Retry the request."},
    [S3E_ENTITY_TOO_LARGE] = {"EntityTooLarge", 400,
                              "Your proposed upload exceeds the maximum allowed object size."},
    [S3E_ENTITY_TOO_SMALL] = {"EntityTooSmall", 400,
                              "Your proposed upload is smaller than the minimum allowed object size."},
    [S3E_EXPIRED_PRESIGN] = {"AccessDenied", 403, "Request has expired"},
    [S3E_INCOMPLETE_BODY] = {"IncompleteBody", 400,
                             "You did not provide the number of bytes specified by the "
                             "Content-Length HTTP header."},
    [S3E_INCOMPLETE_SIGNATURE] = {"IncompleteSignature", 400,
                                  "The request signature does not conform to AWS standards."},
    [S3E_INTERNAL] = {"InternalError", 500, "We encountered an internal error. Please try again."},
    [S3E_AUTH_QUERY_ERROR] = {"AuthorizationQueryParametersError", 400,
                              "Error parsing the X-Amz-Credential parameter."},
    [S3E_INVALID_ACCESS_KEY] = {"InvalidAccessKeyId", 403,
                                "The AWS Access Key Id you provided does not exist in our records."},
    [S3E_INVALID_ARGUMENT] = {"InvalidArgument", 400, "Invalid Argument"},
    [S3E_INVALID_BUCKET_NAME] = {"InvalidBucketName", 400, "The specified bucket is not valid."},
    [S3E_INVALID_DIGEST] = {"InvalidDigest", 400, "The Content-MD5 you specified is not valid."},
    [S3E_INVALID_PART] = {"InvalidPart", 400,
                          "One or more of the specified parts could not be found. The part may "
                          "not have been uploaded, or the specified entity tag may not match the "
                          "part's entity tag."},
    [S3E_INVALID_PART_ORDER] = {"InvalidPartOrder", 400,
                                "The list of parts was not in ascending order. The parts list must "
                                "be specified in order by part number."},
    [S3E_INVALID_PART_NUMBER] = {"InvalidPartNumber", 416,
                                 "The requested partnumber is not satisfiable"},
    [S3E_INVALID_RANGE] = {"InvalidRange", 416, "The requested range is not satisfiable"},
    [S3E_INVALID_REQUEST] = {"InvalidRequest", 400, "Invalid Request"},
    [S3E_INVALID_URI] = {"InvalidURI", 400, "Couldn't parse the specified URI."},
    [S3E_ILLEGAL_VERSIONING] = {"IllegalVersioningConfigurationException", 400,
                                "The versioning configuration specified in the request is "
                                "invalid."},
    [S3E_KEY_TOO_LONG] = {"KeyTooLongError", 400, "Your key is too long"},
    [S3E_MALFORMED_XML] = {"MalformedXML", 400,
                           "The XML you provided was not well-formed or did not validate against "
                           "our published schema."},
    [S3E_METADATA_TOO_LARGE] = {"MetadataTooLarge", 400,
                                "Your metadata headers exceed the maximum allowed metadata size."},
    [S3E_MAX_MESSAGE_LENGTH] = {"MaxMessageLengthExceeded", 400, "Your request was too big."},
    [S3E_METHOD_NOT_ALLOWED] = {"MethodNotAllowed", 405,
                                "The specified method is not allowed against this resource."},
    [S3E_MISSING_CONTENT_LENGTH] = {"MissingContentLength", 411,
                                    "You must provide the Content-Length HTTP header."},
    [S3E_MISSING_SECURITY_HEADER] = {"MissingSecurityHeader", 400,
                                     "Your request is missing a required header."},
    [S3E_NO_SUCH_BUCKET] = {"NoSuchBucket", 404, "The specified bucket does not exist"},
    [S3E_NO_SUCH_KEY] = {"NoSuchKey", 404, "The specified key does not exist."},
    [S3E_NO_SUCH_UPLOAD] = {"NoSuchUpload", 404,
                            "The specified multipart upload does not exist. The upload ID might "
                            "be invalid, or the multipart upload might have been aborted or "
                            "completed."},
    [S3E_NO_SUCH_VERSION] = {"NoSuchVersion", 404, "The specified version does not exist."},
    [S3E_NOT_IMPLEMENTED] = {"NotImplemented", 501,
                             "A header or query parameter you provided implies functionality "
                             "that is not implemented."},
    [S3E_NOT_MODIFIED] = {"NotModified", 304, "Not Modified"},
    [S3E_PRECONDITION_FAILED] = {"PreconditionFailed", 412,
                                 "At least one of the pre-conditions you specified did not hold"},
    [S3E_REQUEST_TIME_SKEWED] = {"RequestTimeTooSkewed", 403,
                                 "The difference between the request time and the current time "
                                 "is too large."},
    [S3E_SIGNATURE_MISMATCH] = {"SignatureDoesNotMatch", 403,
                                "The request signature we calculated does not match the "
                                "signature you provided. Check your key and signing method."},
    [S3E_SHA256_MISMATCH] = {"XAmzContentSHA256Mismatch", 400,
                             "The provided 'x-amz-content-sha256' header does not match what "
                             "was computed."},
    [S3E_SLOW_DOWN] = {"SlowDown", 503, "Please reduce your request rate."},
    [S3E_STORAGE_FULL] = {"XCairnStorageFull", 507,
                          "A drive is full: the data was not stored. Free space or add drives, "
                          "then retry."},
    [S3E_HEADERS_TOO_LARGE] = {"RequestHeaderSectionTooLarge", 400,
                               "Your request header section exceeds the maximum allowed size."},
    [S3E_SERVICE_UNAVAILABLE] = {"ServiceUnavailable", 503,
                                 "Too few drives are readable to serve this object right now."},
    [S3E_MISSING_CHUNKS] = {"XCairnMissingChunks", 400,
                            "The store lacks chunks this commit names: upload them, then commit "
                            "again."},
    [S3E_NO_SUCH_BUCKET_POLICY] = {"NoSuchBucketPolicy", 404, "The bucket policy does not exist"},
    [S3E_NO_SUCH_CORS] = {"NoSuchCORSConfiguration", 404, "The CORS configuration does not exist"},
    [S3E_NO_SUCH_LIFECYCLE] = {"NoSuchLifecycleConfiguration", 404,
                               "The lifecycle configuration does not exist"},
    [S3E_NO_SUCH_ENCRYPTION] = {"ServerSideEncryptionConfigurationNotFoundError", 404,
                                "The server side encryption configuration was not found"},
    [S3E_NO_SUCH_WEBSITE] = {"NoSuchWebsiteConfiguration", 404,
                             "The specified bucket does not have a website configuration"},
    [S3E_NO_SUCH_TAG_SET] = {"NoSuchTagSet", 404, "The TagSet does not exist"},
    [S3E_NO_SUCH_OBJECT_LOCK] = {"ObjectLockConfigurationNotFoundError", 404,
                                 "Object Lock configuration does not exist for this bucket"},
    [S3E_NO_OBJECT_RETENTION] = {"NoSuchObjectLockConfiguration", 404,
                                 "The specified object does not have a ObjectLock configuration"},
    [S3E_OBJECT_LOCKED] = {"AccessDenied", 403, "Access Denied because object protected by object lock."},
    [S3E_INVALID_BUCKET_STATE] = {"InvalidBucketState", 409,
                                  "The request is not valid with the current state of the bucket."},
    [S3E_NO_SUCH_REPLICATION] = {"ReplicationConfigurationNotFoundError", 404,
                                 "The replication configuration was not found"},
    [S3E_NO_SUCH_PUBLIC_ACCESS_BLOCK] = {"NoSuchPublicAccessBlockConfiguration", 404,
                                         "The public access block configuration was not found"},
    [S3E_NO_SUCH_OWNERSHIP_CONTROLS] = {"OwnershipControlsNotFoundError", 404,
                                        "The bucket ownership controls were not found"},
    [S3E_ACL_NOT_SUPPORTED] = {"AccessControlListNotSupported", 400,
                               "The bucket does not allow ACLs"},
    [S3E_MALFORMED_POLICY] = {"MalformedPolicy", 400, "This policy contains invalid Json"},
    [S3E_MALFORMED_POST] = {"MalformedPOSTRequest", 400,
                            "The body of your POST request is not well-formed multipart/form-data."},
    [S3E_MAX_POST_PRE_DATA] = {"MaxPostPreDataLengthExceededError", 400,
                               "Your POST request fields preceding the upload file were too large."},
    [S3E_INVALID_POLICY_DOCUMENT] = {"InvalidPolicyDocument", 400,
                                     "The content of the form does not meet the conditions "
                                     "specified in the policy document."},
    [S3E_BAD_REQUEST] = {"BadRequest", 400, "Bad Request"},
    /* S3's spelling ("evalution"), as browsers' consoles show it */
    [S3E_CORS_FORBIDDEN] = {"AccessForbidden", 403,
                            "CORSResponse: This CORS request is not allowed. This is usually "
                            "because the evalution of Origin, request method / "
                            "Access-Control-Request-Method or Access-Control-Request-Headers are "
                            "not whitelisted by the resource's CORS spec."},
    [S3E_INVALID_TAG] = {"InvalidTag", 400, "The tag provided was not a valid tag."},
    [S3E_MISSING_REQUEST_BODY] = {"MissingRequestBodyError", 400, "Request Body is empty"},
    [S3E_INVALID_ENCRYPTION_ALGORITHM] = {"InvalidEncryptionAlgorithmError", 400,
                                          "The Encryption request you specified is not valid. "
                                          "Supported value: AES256."},
};

const struct s3_err_info *s3_err_info(enum s3_err e)
{
    if ((unsigned)e >= S3E_COUNT || !table[e].code)
        return &table[S3E_INTERNAL];
    return &table[e];
}

enum s3_err s3_err_from(int rc)
{
    switch (rc) {
    case 0: return S3E_NONE;
    /* object layer */
    case OL_EBADDIGEST: return S3E_BAD_DIGEST;
    case OL_ECHECKSUM: return S3E_BAD_DIGEST;
    case OL_ETOOLARGE: return S3E_ENTITY_TOO_LARGE;
    case OL_EINCOMPLETE: return S3E_INCOMPLETE_BODY;
    case OL_EINVALIDPART: return S3E_INVALID_PART;
    case OL_EPARTORDER: return S3E_INVALID_PART_ORDER;
    case OL_ETOOSMALL: return S3E_ENTITY_TOO_SMALL;
    case OL_ERANGE: return S3E_INVALID_RANGE;
    case OL_ELOCKED: return S3E_OBJECT_LOCKED;
    case OL_ENOKEY: return S3E_INTERNAL;     /* a handler forgot the key: a bug */
    case OL_EDECRYPT: return S3E_INTERNAL;   /* sealed bytes damaged: never served */
    /* metadata */
    case META_ENOTFOUND: return S3E_NO_SUCH_KEY;
    case META_ENOBUCKET: return S3E_NO_SUCH_BUCKET;
    case META_EEXISTS: return S3E_BUCKET_EXISTS;
    case META_EOWNED: return S3E_BUCKET_OWNED;
    case META_ENOTEMPTY: return S3E_BUCKET_NOT_EMPTY;
    case META_EPRECOND: return S3E_PRECONDITION_FAILED;
    case META_ENOUPLOAD: return S3E_NO_SUCH_UPLOAD;
    case META_ENOPART: return S3E_INVALID_PART;
    case META_EINVAL: return S3E_INVALID_ARGUMENT;
    case META_ENOCHUNK: return S3E_SLOW_DOWN; /* chunk collected under us: retry */
    case META_EFULL: return S3E_STORAGE_FULL;
    /* chunkstore */
    case CS_EUNAVAIL: return S3E_SERVICE_UNAVAILABLE;
    case CS_EHASH: return S3E_SERVICE_UNAVAILABLE;
    case CS_ECLOSED: return S3E_SERVICE_UNAVAILABLE;
    case -ENOSPC: return S3E_STORAGE_FULL;
    case -EDQUOT: return S3E_STORAGE_FULL;
    default: return S3E_INTERNAL;
    }
}
