/*
 * common/sigv2.h - AWS Signature Version 2 query-string authentication
 * (presigned URLs of the form ?AWSAccessKeyId=..&Expires=..&Signature=..).
 *
 * Only this form is supported, because it is what boto3's
 * generate_presigned_url() produces by default (both the Debian boto3 and
 * current ones), and people share such URLs.  Requests signed with SigV2
 * in the Authorization header are refused by the gateway.
 *
 * String to sign (AWS's definition):
 *   METHOD "\n" Content-MD5 "\n" Content-Type "\n" Expires "\n"
 *   CanonicalizedAmzHeaders CanonicalizedResource
 * where CanonicalizedAmzHeaders is every x-amz-* header, lower-cased,
 * sorted, as "name:value\n", and CanonicalizedResource is "/bucket/key"
 * exactly as the path was sent (still %-encoded; "/bucket/" for a bucket)
 * followed by the sub-resources present in the query, sorted, with their
 * decoded values ("?uploadId=x&versionId=y").  The signature is
 * base64(HMAC-SHA1(secret, string to sign)).
 *
 * All functions are reentrant; inputs are borrowed for the call.
 */
#ifndef CAIRN_COMMON_SIGV2_H
#define CAIRN_COMMON_SIGV2_H

#include <stddef.h>

#include "common/buf.h"
#include "common/uri.h"

/* Whether name is one of the sub-resources that enter the
 * CanonicalizedResource (acl, uploadId, versionId, response-content-type...). */
int sigv2_is_subresource(const char *name);

/*
 * Append the CanonicalizedResource for resource_path ("/bucket/key" as
 * sent) and the decoded query q to out.  Returns 0 or -ENOSPC/-ENOMEM.
 */
int sigv2_canonical_resource(const char *resource_path, const struct uri_query *q,
                             struct buf *out);

/*
 * Append the string to sign to out.  content_md5, content_type may be
 * NULL (empty); amz_headers is the CanonicalizedAmzHeaders text ("" if
 * none); resource the CanonicalizedResource.  Returns 0 or a buf error.
 */
int sigv2_string_to_sign(const char *method, const char *content_md5, const char *content_type,
                         const char *expires, const char *amz_headers, const char *resource,
                         struct buf *out);

/* base64(HMAC-SHA1(secret, sts)) into out (29 bytes with the NUL). */
void sigv2_signature(const char *secret, const char *sts, size_t len, char out[32]);

#endif
