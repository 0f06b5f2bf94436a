/*
 * gateway/http.c - the libmicrohttpd server: request contexts, the body
 * pipeline, replies, and the gateway's lifecycle.  See s3_internal.h for
 * the life of a request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "common/xml.h"
#include "gateway/s3_cors.h"
#include "gateway/lifecycle.h"
#include "gateway/s3_internal.h"

/* ------------------------------------------------------------------ */
/* Request ids                                                         */

static atomic_uint_fast64_t request_counter;
static uint64_t request_salt;

static void make_request_id(char out[17])
{
    uint64_t n = atomic_fetch_add(&request_counter, 1) + 1;
    /* Unique per process run and not guessable across runs; a mix, so ids
     * of consecutive requests do not look alike in logs. */
    uint64_t x = (n ^ request_salt) * 0x9E3779B97F4A7C15ULL;
    x ^= x >> 31;
    snprintf(out, 17, "%016llX", (unsigned long long)x);
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

const char *s3_header(struct s3_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *s3_param(struct s3_req *r, const char *name)
{
    const struct uri_query_pair *p = uri_query_find(&r->query, name);
    return p ? p->value : NULL;
}

int s3_has_param(struct s3_req *r, const char *name)
{
    return s3_param(r, name) != NULL;
}

int s3_body_digest_or_reply(struct s3_req *r, int required)
{
    static const enum cksum_alg algs[] = {CKSUM_CRC32, CKSUM_CRC32C, CKSUM_CRC64NVME, CKSUM_SHA1,
                                          CKSUM_SHA256};
    const void *body = r->body.data ? r->body.data : "";
    int checked = 0;
    const char *md5h = s3_header(r, "Content-MD5");
    if (md5h) {
        uint8_t want[64], got[16];
        if (strlen(md5h) > 40 || base64_decode(md5h, strlen(md5h), want) != 16) {
            s3_reply_error(r, S3E_INVALID_DIGEST, NULL);
            return -1;
        }
        md5(body, r->body.len, got);
        if (memcmp(want, got, 16) != 0) {
            s3_reply_error(r, S3E_BAD_DIGEST, NULL);
            return -1;
        }
        checked = 1;
    }
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++) {
        char name[40];
        snprintf(name, sizeof name, "x-amz-checksum-%s", cksum_name(algs[i]));
        const char *want = s3_header(r, name);
        if (!want)
            want = s3_trailer(r, name);
        if (!want)
            continue;
        struct cksum c;
        uint8_t sum[CKSUM_MAX_LEN];
        char b64[64];
        if (cksum_init(&c, algs[i]) != 0) {
            s3_reply_error(r, S3E_INTERNAL, NULL);
            return -1;
        }
        cksum_update(&c, body, r->body.len);
        base64_encode(sum, cksum_final(&c, sum), b64);
        if (strcmp(want, b64) != 0) {
            s3_reply_error(r, S3E_BAD_DIGEST, NULL);
            return -1;
        }
        checked = 1;
    }
    if (required && !checked) {
        s3_reply_error(r, S3E_INVALID_REQUEST,
                       "Missing required header for this request: Content-MD5 OR x-amz-checksum-*");
        return -1;
    }
    return 0;
}

struct xml_doc *s3_xml_body_or_reply(struct s3_req *r, const char *root)
{
    struct xml_doc *doc = NULL;
    if (s3_body_digest_or_reply(r, 0) != 0)
        return NULL;
    if (xml_parse(r->body.data ? r->body.data : "", r->body.len, &doc) != 0 ||
        strcmp(xml_root(doc)->name, root) != 0) {
        xml_doc_free(doc);
        s3_reply_error(r, S3E_MALFORMED_XML, NULL);
        return NULL;
    }
    return doc;
}

void s3_set_header(struct s3_req *r, const char *name, const char *value)
{
    struct buf keep;
    buf_init(&keep, r->hdrs.max);
    for (size_t off = 0; off < r->hdrs.len;) {
        const char *n = r->hdrs.data + off;
        const char *v = n + strlen(n) + 1;
        size_t next = (size_t)(v + strlen(v) + 1 - r->hdrs.data);
        if (strcasecmp(n, name) != 0)
            buf_append(&keep, n, next - off);
        off = next;
    }
    buf_release(&r->hdrs);
    r->hdrs = keep;
    s3_add_header(r, name, value);
}

void s3_add_header(struct s3_req *r, const char *name, const char *value)
{
    /* Headers we send are bounded by what we stored; a failed append only
     * drops the header. */
    if (buf_append(&r->hdrs, name, strlen(name) + 1) == 0)
        buf_append(&r->hdrs, value, strlen(value) + 1);
}

void s3_add_error_detail(struct s3_req *r, const char *elem, const char *value)
{
    size_t before = r->err_details.len;
    if (buf_append(&r->err_details, elem, strlen(elem) + 1) != 0 ||
        buf_append(&r->err_details, value, strlen(value) + 1) != 0)
        r->err_details.len = before;
}

void s3_time_iso(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char date[24];
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.19s.%03dZ", date, (int)(ms % 1000));
}

void s3_time_http(int64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* The rest of an ISO 8601 time after the seconds: an optional fraction
 * (any number of digits, dropped) and "Z" or "+00:00" (UTC is all S3
 * clients send).  Returns the end or NULL. */
static const char *iso_time_tail(const char *p)
{
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            return NULL;
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    }
    if (strncmp(p, "+00:00", 6) == 0)
        return p + 6;
    return *p == 'Z' ? p + 1 : NULL;
}

int64_t s3_parse_http_time(const char *s)
{
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* RFC 1123 */
        "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
        "%a %b %e %H:%M:%S %Y",      /* asctime */
        "%Y-%m-%dT%H:%M:%S",         /* ISO 8601 (then [.fraction]Z), which some clients send */
    };
    const size_t iso = sizeof formats / sizeof *formats - 1;
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(s, formats[i], &tm);
        if (end && i == iso)
            end = iso_time_tail(end);
        if (end && *end == 0)
            return (int64_t)timegm(&tm) * 1000;
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Replies                                                             */

void s3_reply_response(struct s3_req *r, unsigned status, struct MHD_Response *resp)
{
    if (r->responded) {
        MHD_destroy_response(resp);
        return;
    }
    s3_cors_reply_headers(r);
    r->responded = 1;
    r->status = status;
    MHD_add_response_header(resp, "x-amz-request-id", r->id);
    MHD_add_response_header(resp, "x-amz-id-2", r->id);
    MHD_add_response_header(resp, "Server", "cairn");
    for (size_t off = 0; off < r->hdrs.len;) {
        const char *name = r->hdrs.data + off;
        const char *value = name + strlen(name) + 1;
        MHD_add_response_header(resp, name, value);
        off = (size_t)(value + strlen(value) + 1 - r->hdrs.data);
    }
    if (MHD_queue_response(r->conn, status, resp) != MHD_YES)
        log_error("could not queue response %u", status);
    MHD_destroy_response(resp);
}

static struct MHD_Response *response_from_buf(char *data, size_t len)
{
    return MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
}

void s3_reply_xml(struct s3_req *r, unsigned status, struct buf *xml)
{
    size_t len;
    char *data = buf_detach(xml, &len);
    struct MHD_Response *resp = response_from_buf(data, len);
    MHD_add_response_header(resp, "Content-Type", "application/xml");
    s3_reply_response(r, status, resp);
}

void s3_doc_begin(struct s3_doc *d, const char *root, size_t cap)
{
    buf_init(&d->buf, cap);
    xmlw_init(&d->w, &d->buf);
    xmlw_decl(&d->w);
    xmlw_open_ns(&d->w, root, "http://s3.amazonaws.com/doc/2006-03-01/");
}

void s3_doc_reply(struct s3_req *r, struct s3_doc *d)
{
    if (xmlw_finish(&d->w) != 0) {
        buf_release(&d->buf);
        s3_reply_error(r, S3E_INTERNAL, NULL);
        return;
    }
    s3_reply_xml(r, 200, &d->buf);
}

void s3_reply_json(struct s3_req *r, unsigned status, char *json)
{
    struct MHD_Response *resp = response_from_buf(json, strlen(json));
    MHD_add_response_header(resp, "Content-Type", "application/json");
    s3_reply_response(r, status, resp);
}

void s3_reply_cjson(struct s3_req *r, unsigned status, struct cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
        return;
    }
    s3_reply_json(r, status, text);
}

void s3_reply_empty(struct s3_req *r, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    s3_reply_response(r, status, resp);
}

/* The request path as an error's Resource: as sent, except that bytes
 * which are not printable ASCII are %-escaped (a raw path may hold any
 * bytes, and XML cannot carry them). */
static void printable_path(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < cap; p++) {
        if (*p < 0x20 || *p >= 0x7f) {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = 0;
}

void s3_reply_error(struct s3_req *r, enum s3_err e, const char *msg)
{
    const struct s3_err_info *info = s3_err_info(e);
    if (r->responded)
        return;
    if (r->in_body) {
        /* libmicrohttpd takes no reply while the body streams */
        if (r->err_s3 == S3E_NONE && !r->err) {
            r->err_s3 = e;
            r->deferred_msg = msg ? strdup(msg) : NULL;
            r->err_msg = r->deferred_msg;
        }
        return;
    }
    atomic_fetch_add(&r->gw->errors, 1);
    if (info->status == 304 || strcmp(r->method, "HEAD") == 0) {
        /* No body: but S3 clients read the code from these headers. */
        s3_add_header(r, "x-amz-error-code", info->code);
        s3_reply_empty(r, info->status);
        return;
    }
    struct buf b;
    struct xml_writer w;
    buf_init(&b, 64 << 10);
    xmlw_init(&w, &b);
    xmlw_decl(&w);
    xmlw_open(&w, "Error");
    xmlw_elem(&w, "Code", info->code);
    xmlw_elem(&w, "Message", msg ? msg : info->message);
    for (size_t off = 0; off < r->err_details.len;) {
        const char *name = r->err_details.data + off;
        const char *value = name + strlen(name) + 1;
        xmlw_elem(&w, name, value);
        off = (size_t)(value + strlen(value) + 1 - r->err_details.data);
    }
    if (r->bucket && r->key)
        xmlw_elem(&w, "Key", r->key);
    if (r->bucket)
        xmlw_elem(&w, "BucketName", r->bucket);
    char resource[1024];
    printable_path(r->raw_path ? r->raw_path : "/", resource, sizeof resource);
    xmlw_elem(&w, "Resource", resource);
    xmlw_elem(&w, "RequestId", r->id);
    xmlw_elem(&w, "HostId", r->id);
    xmlw_close(&w);
    if (xmlw_finish(&w) != 0) {
        /* a message or key XML cannot carry: answer with the bare code */
        buf_reset(&b);
        buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                       "<Message>%s</Message><RequestId>%s</RequestId></Error>",
                   info->code, info->message, r->id);
    }
    s3_reply_xml(r, info->status, &b);
}

void s3_reply_rc(struct s3_req *r, int rc)
{
    enum s3_err e = s3_err_from(rc);
    if (e == S3E_INTERNAL)
        log_msg(LOG_ERROR, r->id, "%s %s: internal error %d (%s)", r->method, r->target, rc,
                ol_strerror(rc));
    s3_reply_error(r, e, NULL);
}

/* ------------------------------------------------------------------ */
/* libmicrohttpd callbacks                                             */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct gateway *gw = cls;
    struct s3_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->gw = gw;
    r->conn = conn;
    r->target = strdup(uri ? uri : "/");
    r->content_length = -1;
    r->start_ms = ol_now_ms();
    make_request_id(r->id);
    buf_init(&r->body, S3_MAX_XML_BODY);
    buf_init(&r->hdrs, 64 << 10);
    buf_init(&r->err_details, 4096);
    atomic_fetch_add(&gw->requests, 1);
    atomic_fetch_add(&gw->active, 1);
    return r;
}

static void req_free(struct s3_req *r)
{
    if (r->h && r->h->cleanup)
        r->h->cleanup(r);
    s3_auth_release(r);
    uri_query_release(&r->query);
    free(r->target);
    free(r->raw_path);
    free(r->bucket);
    free(r->key);
    buf_release(&r->body);
    buf_release(&r->hdrs);
    buf_release(&r->err_details);
    free(r->deferred_msg);
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct gateway *gw = cls;
    struct s3_req *r = *con_cls;
    (void)conn;
    if (!r)
        return;
    log_msg(LOG_INFO, r->id, "%s %s -> %u %s (%lld ms, %llu bytes in)%s", r->method ? r->method : "?",
            r->target, r->status, r->h ? r->h->op : "-", (long long)(ol_now_ms() - r->start_ms),
            (unsigned long long)r->body_len,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " [connection ended early]");
    atomic_fetch_add(&gw->bytes_in, r->body_len);
    atomic_fetch_sub(&gw->active, 1);
    req_free(r);
    *con_cls = NULL;
}

static int collect_body(void *arg, const uint8_t *p, size_t n)
{
    struct s3_req *r = arg;
    if (buf_append(&r->body, p, n) != 0) {
        r->err_s3 = S3E_MAX_MESSAGE_LENGTH;
        return -1;
    }
    return 0;
}

static int handler_body(void *arg, const uint8_t *p, size_t n)
{
    struct s3_req *r = arg;
    return r->h->body(r, p, n);
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    size_t *n = cls;
    (void)kind;
    *n += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* The first call: route, authenticate, begin. */
static void request_begin(struct s3_req *r)
{
    size_t header_bytes = 0;
    /* libmicrohttpd's own cap on the header section is the connection
     * memory, far above what S3 accepts: answer S3's error instead. */
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &header_bytes);
    if (header_bytes > S3_MAX_HEADER_BYTES) {
        s3_reply_error(r, S3E_HEADERS_TOO_LARGE, NULL);
        return;
    }
    if (s3_route_or_reply(r) != 0)
        return;
    if (r->h == &h_metrics) {
        r->h->end(r);
        return;
    }
    if (r->h == &h_cors_preflight) {
        /* the one S3 request without credentials: browsers send none with
         * a preflight, which is answered from the bucket's CORS rules */
        r->h->end(r);
        return;
    }
    if (s3_authenticate_or_reply(r) != 0)
        return;
    if (r->anonymous && s3_anonymous_or_reply(r) != 0)
        return;
    int rc = r->h->begin ? r->h->begin(r) : 0;
    if (rc && !r->responded)
        s3_reply_rc(r, rc);
}

static void request_end(struct s3_req *r)
{
    if (!r->err && r->err_s3 == S3E_NONE) {
        enum s3_err e = s3_body_finish(r);
        if (e != S3E_NONE)
            r->err_s3 = e;
    }
    if (r->err_s3 != S3E_NONE) {
        s3_reply_error(r, r->err_s3, r->err_msg);
        return;
    }
    if (r->err) {
        s3_reply_rc(r, r->err);
        return;
    }
    r->h->end(r);
    if (!r->responded)
        s3_reply_error(r, S3E_INTERNAL, NULL);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct s3_req *r = *con_cls;
    (void)cls;
    (void)url;
    (void)version;
    if (!r)
        return MHD_NO;
    if (!r->started) {
        r->started = 1;
        r->method = method;
        request_begin(r);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->responded || r->err || r->err_s3 != S3E_NONE)
            return MHD_YES; /* drain and discard: the error is answered at the end */
        r->in_body = 1;
        int rc = s3_body_feed(r, (const uint8_t *)upload_data, n,
                              r->h->body ? handler_body : collect_body, r);
        r->in_body = 0;
        if (rc && !r->err && r->err_s3 == S3E_NONE)
            r->err = rc;
        return MHD_YES;
    }
    if (!r->responded)
        request_end(r);
    return MHD_YES;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    log_msg(LOG_WARN, NULL, "http: %s", msg);
}

/* ------------------------------------------------------------------ */
/* Background collection                                               */

static void *gc_main(void *arg)
{
    struct gateway *gw = arg;
    pthread_setname_np(pthread_self(), "cairn-gc");
    pthread_mutex_lock(&gw->gc_lock);
    while (!gw->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (gw->cfg.gc_interval_ms % 1000) * 1000000;
        ts.tv_sec += gw->cfg.gc_interval_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&gw->gc_cond, &gw->gc_lock, &ts);
        if (gw->stopping)
            break;
        pthread_mutex_unlock(&gw->gc_lock);
        struct ol_gc_report rep;
        pthread_mutex_lock(&gw->maint_lock);
        int rc = ol_gc(gw->ol, ol_now_ms(), &rep);
        pthread_mutex_unlock(&gw->maint_lock);
        if (rc)
            log_error("gc: %s", ol_strerror(rc));
        else if (rep.chunks_removed || rep.orphan_shards_removed || rep.disk_bytes_freed)
            log_info("gc: removed %llu chunks (%llu bytes), %llu orphan shards; %llu disk bytes "
                     "freed", (unsigned long long)rep.chunks_removed,
                     (unsigned long long)rep.bytes_removed,
                     (unsigned long long)rep.orphan_shards_removed,
                     (unsigned long long)rep.disk_bytes_freed);
        pthread_mutex_lock(&gw->gc_lock);
    }
    pthread_mutex_unlock(&gw->gc_lock);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

int gateway_start(const struct gateway_config *cfg, struct objlayer *ol, struct gateway **out)
{
    struct gateway *gw = calloc(1, sizeof *gw);
    struct sockaddr_storage ss;
    socklen_t sslen;
    int rc = 0;
    if (!gw)
        return -ENOMEM;
    if (getrandom(&request_salt, sizeof request_salt, 0) != sizeof request_salt)
        request_salt = (uint64_t)time(NULL);
    gw->cfg = *cfg;
    gw->listen_host = dup_or_null(cfg->listen_host);
    gw->domain = dup_or_null(cfg->domain);
    gw->region = strdup(cfg->region && *cfg->region ? cfg->region : "us-east-1");
    gw->root_access_key = dup_or_null(cfg->root_access_key);
    gw->root_secret_key = dup_or_null(cfg->root_secret_key);
    gw->ol = ol;
    gw->meta = ol_meta(ol);
    gw->cfg.sse_master_key = NULL;
    if (cfg->sse_master_key && sse_domain_s3(cfg->sse_master_key, &gw->sse_s3) == 0)
        gw->sse_s3_ready = 1;
    else if (cfg->sse_master_key)
        log_error("cannot derive the SSE-S3 key domain: SSE-S3 stays off");
    if (!gw->cfg.clock_skew_ms)
        gw->cfg.clock_skew_ms = 15 * 60 * 1000;
    pthread_mutex_init(&gw->gc_lock, NULL);
    pthread_cond_init(&gw->gc_cond, NULL);
    pthread_mutex_init(&gw->maint_lock, NULL);

    memset(&ss, 0, sizeof ss);
    if (strchr(gw->listen_host ? gw->listen_host : "127.0.0.1", ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(cfg->port);
        if (inet_pton(AF_INET6, gw->listen_host, &a6->sin6_addr) != 1)
            rc = -EINVAL;
        sslen = sizeof *a6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons(cfg->port);
        if (inet_pton(AF_INET, gw->listen_host ? gw->listen_host : "127.0.0.1", &a4->sin_addr) != 1)
            rc = -EINVAL;
        sslen = sizeof *a4;
    }
    (void)sslen;
    if (rc)
        goto fail;

    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    gw->mhd = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, on_access, gw, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, gw,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, gw, MHD_OPTION_NOTIFY_COMPLETED, on_completed, gw,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256u << 10), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(cfg->max_connections ? cfg->max_connections : 1024),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!gw->mhd) {
        rc = -EADDRINUSE;
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(gw->mhd, MHD_DAEMON_INFO_BIND_PORT);
    gw->port = di ? di->port : cfg->port;

    if (cfg->gc_interval_ms > 0) {
        if (pthread_create(&gw->gc_thread, NULL, gc_main, gw) == 0)
            gw->gc_running = 1;
    }
    if (cfg->lifecycle_interval_ms > 0 &&
        (rc = lifecycle_worker_start(gw->meta, cfg->lifecycle_interval_ms, cfg->lifecycle_day_ms,
                                     &gw->lifecycle)) != 0)
        goto fail;
    *out = gw;
    return 0;
fail:
    gateway_stop(gw, 0);
    return rc;
}

uint16_t gateway_port(const struct gateway *gw)
{
    return gw->port;
}

void gateway_stop(struct gateway *gw, int drain_seconds)
{
    if (!gw)
        return;
    /* the lifecycle worker leaves its pass at once, not after the drain */
    lifecycle_worker_signal_stop(gw->lifecycle);
    if (gw->mhd) {
        atomic_store(&gw->draining, 1);
        MHD_quiesce_daemon(gw->mhd);
        for (int i = 0; i < drain_seconds * 10 && atomic_load(&gw->active) > 0; i++) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(gw->mhd);
    }
    pthread_mutex_lock(&gw->gc_lock);
    gw->stopping = 1;
    pthread_cond_broadcast(&gw->gc_cond);
    pthread_mutex_unlock(&gw->gc_lock);
    if (gw->gc_running)
        pthread_join(gw->gc_thread, NULL);
    lifecycle_worker_stop(gw->lifecycle);
    pthread_mutex_destroy(&gw->gc_lock);
    pthread_cond_destroy(&gw->gc_cond);
    pthread_mutex_destroy(&gw->maint_lock);
    free(gw->listen_host);
    free(gw->domain);
    free(gw->region);
    free(gw->root_access_key);
    free(gw->root_secret_key);
    sse_domain_wipe(&gw->sse_s3);
    free(gw);
}
