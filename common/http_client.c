/* common/http_client.c - see http_client.h. */
#include "common/http_client.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <pthread.h>

#include <curl/curl.h>

#include "common/hash.h"
#include "common/sigv4.h"

#define HTTP_MAX_HEADERS 16

/* One libcurl handle per thread, kept between requests, so that its
 * connection to the server is reused (HTTP keep-alive): a new connection
 * per request costs a TCP handshake here and a thread and a connection
 * buffer on the server.  Freed when the thread exits. */
static pthread_key_t curl_key;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_key_free(void *c)
{
    curl_easy_cleanup(c);
}

static void curl_key_init(void)
{
    pthread_key_create(&curl_key, curl_key_free);
}

static CURL *thread_curl(void)
{
    pthread_once(&curl_once, curl_key_init);
    CURL *c = pthread_getspecific(curl_key);
    if (!c && (c = curl_easy_init()) != NULL && pthread_setspecific(curl_key, c) != 0) {
        curl_easy_cleanup(c);
        c = NULL;
    }
    return c;
}

/* Stop a transfer whose caller asked to cancel (a non-zero return aborts). */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return *(const volatile int *)arg != 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct http_response *resp = arg;
    return buf_append(&resp->body, p, size * n) == 0 ? size * n : 0;
}

/* One header line as curl hands it over; a status line (a new response,
 * after a 100 Continue or a redirect) starts the list again. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct http_response *resp = arg;
    size_t len = size * n, name_len;
    while (len && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        buf_reset(&resp->headers);
        return size * n;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return size * n;
    name_len = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    for (size_t i = 0; i < name_len; i++) {
        char ch = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] - 'A' + 'a') : p[i];
        if (buf_append(&resp->headers, &ch, 1) != 0)
            return 0;
    }
    if (buf_append(&resp->headers, "", 1) != 0 || buf_append(&resp->headers, v, (size_t)(end - v)) != 0 ||
        buf_append(&resp->headers, "", 1) != 0)
        return 0;
    return size * n;
}

const char *http_response_header(const struct http_response *resp, const char *name)
{
    const char *p = resp->headers.data, *end = p + resp->headers.len;
    while (p && p < end) {
        const char *v = p + strlen(p) + 1;
        if (v >= end)
            break;
        if (strcasecmp(p, name) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

int http_request(const struct http_client *c, const char *method, const char *path,
                 const char *query, const void *body, size_t body_len, const char *content_type,
                 struct http_response *resp)
{
    struct http_header ct = {"Content-Type", content_type};
    return http_request_ex(c, method, path, query, &ct, content_type ? 1 : 0, body, body_len,
                           resp);
}

int http_request_ex(const struct http_client *c, const char *method, const char *path,
                    const char *query, const struct http_header *headers, size_t nheaders,
                    const void *body, size_t body_len, struct http_response *resp)
{
    CURL *curl = NULL;
    struct curl_slist *hdrs = NULL;
    struct buf url, authz, h;
    char amz_date[17], payload_hash[65], host[256];
    char lower[HTTP_MAX_HEADERS][64];
    uint8_t sum[32];
    int rc = -1;

    memset(resp, 0, sizeof *resp);
    buf_init(&resp->body, 64u << 20);
    buf_init(&resp->headers, 64u << 10);
    buf_init(&url, 16384);
    buf_init(&authz, 4096);
    buf_init(&h, 4096);

    /* host[:port] from the endpoint */
    const char *hs = strstr(c->endpoint, "://");
    hs = hs ? hs + 3 : c->endpoint;
    snprintf(host, sizeof host, "%.*s", (int)strcspn(hs, "/"), hs);

    time_t now = time(NULL);
    sigv4_format_amz_date(now, amz_date);
    sha256(body ? body : "", body_len, sum);
    hex_encode(sum, 32, payload_hash);
    struct sigv4_header sh[3 + HTTP_MAX_HEADERS] = {
        {"host", host},
        {"x-amz-content-sha256", payload_hash},
        {"x-amz-date", amz_date},
    };
    if (nheaders > HTTP_MAX_HEADERS) {
        snprintf(resp->error, sizeof resp->error, "too many request headers");
        goto out;
    }
    for (size_t i = 0; i < nheaders; i++) {
        snprintf(lower[i], sizeof lower[i], "%s", headers[i].name);
        for (char *q = lower[i]; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q - 'A' + 'a');
        sh[3 + i] = (struct sigv4_header){lower[i], headers[i].value};
    }
    struct sigv4_credentials cred = {c->access_key, c->secret_key, c->region ? c->region : "us-east-1", "s3"};
    char sig[65];
    if (sigv4_sign_headers(&cred, method, path, query, sh, 3 + nheaders, payload_hash, now, &authz,
                           sig) != 0) {
        snprintf(resp->error, sizeof resp->error, "could not sign the request");
        goto out;
    }
    buf_printf(&url, "%s%s%s%s", c->endpoint, path, query && *query ? "?" : "", query ? query : "");

    curl = thread_curl();
    if (!curl) {
        snprintf(resp->error, sizeof resp->error, "curl_easy_init failed");
        goto out;
    }
    buf_printf(&h, "Authorization: %s", authz.data);
    hdrs = curl_slist_append(hdrs, h.data);
    buf_reset(&h);
    buf_printf(&h, "x-amz-content-sha256: %s", payload_hash);
    hdrs = curl_slist_append(hdrs, h.data);
    buf_reset(&h);
    buf_printf(&h, "x-amz-date: %s", amz_date);
    hdrs = curl_slist_append(hdrs, h.data);
    hdrs = curl_slist_append(hdrs, "Expect:");
    for (size_t i = 0; i < nheaders; i++) {
        buf_reset(&h);
        buf_printf(&h, "%s: %s", headers[i].name, headers[i].value);
        hdrs = curl_slist_append(hdrs, h.data);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url.data);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (body || strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (c->timeout_seconds > 0)
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, c->timeout_seconds);
    if (c->cancel) { /* libcurl calls this at least once a second, and on progress */
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)c->cancel);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    }
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        snprintf(resp->error, sizeof resp->error, "%s", curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    rc = 0;
out:
    curl_slist_free_all(hdrs);
    if (curl) /* the handle (and its connection) stays with the thread */
        curl_easy_reset(curl);
    buf_release(&url);
    buf_release(&authz);
    buf_release(&h);
    return rc;
}

void http_response_release(struct http_response *resp)
{
    buf_release(&resp->body);
    buf_release(&resp->headers);
}
