/* common/sigv2.c - see sigv2.h. */
#include "common/sigv2.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/hash.h"

/* Sorted: the order they take in the CanonicalizedResource. */
static const char *const subresources[] = {
    "acl", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
    "policy", "requestPayment", "response-cache-control", "response-content-disposition",
    "response-content-encoding", "response-content-language", "response-content-type",
    "response-expires", "restore", "tagging", "torrent", "uploadId", "uploads", "versionId",
    "versioning", "versions", "website",
};

int sigv2_is_subresource(const char *name)
{
    for (size_t i = 0; i < sizeof subresources / sizeof *subresources; i++)
        if (strcmp(name, subresources[i]) == 0)
            return 1;
    return 0;
}

int sigv2_canonical_resource(const char *resource_path, const struct uri_query *q,
                             struct buf *out)
{
    int rc = buf_puts(out, resource_path);
    char sep = '?';
    /* walking the sorted table keeps the output sorted */
    for (size_t i = 0; rc == 0 && i < sizeof subresources / sizeof *subresources; i++) {
        const struct uri_query_pair *p = uri_query_find(q, subresources[i]);
        if (!p)
            continue;
        rc = buf_append(out, &sep, 1);
        sep = '&';
        if (rc == 0)
            rc = buf_puts(out, subresources[i]);
        if (rc == 0 && p->has_value)
            rc = buf_printf(out, "=%s", p->value);
    }
    return rc;
}

int sigv2_string_to_sign(const char *method, const char *content_md5, const char *content_type,
                         const char *expires, const char *amz_headers, const char *resource,
                         struct buf *out)
{
    return buf_printf(out, "%s\n%s\n%s\n%s\n%s%s", method, content_md5 ? content_md5 : "",
                      content_type ? content_type : "", expires, amz_headers, resource);
}

void sigv2_signature(const char *secret, const char *sts, size_t len, char out[32])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)sts, len, mac, &maclen);
    base64_encode(mac, maclen, out);
}
