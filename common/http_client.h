/*
 * common/http_client.h - signed requests to an S3 endpoint (libcurl +
 * SigV4), for cairn's own tools: the admin CLI, the bench tool, the sync
 * client.
 *
 * Calling sequence: fill a struct http_client (endpoint and credentials,
 * borrowed), then call http_request() as often as needed.  Each call makes
 * its own curl handle: simple and thread-safe; the bench tool, which needs
 * connection reuse, drives libcurl itself and only borrows the signing.
 */
#ifndef CAIRN_COMMON_HTTP_CLIENT_H
#define CAIRN_COMMON_HTTP_CLIENT_H

#include <stddef.h>

#include "common/buf.h"

struct http_client {
    const char *endpoint;    /* "http://127.0.0.1:9000" (no trailing slash) */
    const char *access_key;
    const char *secret_key;
    const char *region;      /* "us-east-1" if NULL */
    long timeout_seconds;    /* whole request; 0: none */
    const volatile int *cancel; /* NULL, or: once *cancel is non-zero, a request
                                   in progress stops within about a second and
                                   fails as a transport error ("cancelled") */
};

struct http_response {
    long status;             /* HTTP status, 0 if no response */
    struct buf body;         /* response body (capped at 64 MiB) */
    struct buf headers;      /* response headers: "name\0value\0"..., names
                                lower-case (capped at 64 KiB) */
    char error[256];         /* transport error text when status is 0 */
};

/* A request header: name (any case) and value, both borrowed. */
struct http_header {
    const char *name;
    const char *value;
};

/*
 * Send method path?query with body (may be NULL/0), signed with SigV4
 * (payload hash over body).  path must already be URI-encoded; query is
 * the raw query string or NULL.  content_type may be NULL.
 * Returns 0 when a response arrived (any status: see resp->status), or -1
 * on a transport failure (resp->error says why).  resp is set up by this
 * call; release it with http_response_release().
 * Threads: any thread may call; each thread keeps one connection open
 * between its requests (keep-alive, freed when the thread exits).
 */
int http_request(const struct http_client *c, const char *method, const char *path,
                 const char *query, const void *body, size_t body_len, const char *content_type,
                 struct http_response *resp);

/* http_request() with nheaders more request headers (at most 16; signed
 * along with the others, so x-amz-* ones are allowed), e.g. Content-Type,
 * If-Match, Range.  Same returns. */
int http_request_ex(const struct http_client *c, const char *method, const char *path,
                    const char *query, const struct http_header *headers, size_t nheaders,
                    const void *body, size_t body_len, struct http_response *resp);

/* A response header's value (name in any case), NULL if absent.  Points
 * into resp (valid until http_response_release). */
const char *http_response_header(const struct http_response *resp, const char *name);
void http_response_release(struct http_response *resp);

#endif
