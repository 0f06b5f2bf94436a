/*
 * bench/bench_engine.c - the request engine: worker threads, each driving
 * one curl multi handle with a fixed set of easy handles that are reused
 * for every request (so their connections stay alive), plus the payload
 * and the signing.  See bench.h for the shape of a run.
 */
#include "bench/bench.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "common/http_client.h"
#include "common/sigv4.h"
#include "common/uri.h"

#define ERRORS_PRINTED_MAX 10
#define URL_MAX 16384
#define KEY_MAX 1100 /* prefix (<= 1024, checked by main) + "key-" + digits */
/* curl's buffers, the same for every target: larger than the defaults
 * (16 KiB / 64 KiB) so that 32 MiB transfers are not callback-bound. */
#define RECV_BUFFER (512L * 1024)
#define SEND_BUFFER (512L * 1024)

const char *bench_op_name(enum bench_op op)
{
    static const char *const names[BENCH_OP_COUNT] = {"put", "get", "head", "delete", "list"};
    return (unsigned)op < BENCH_OP_COUNT ? names[op] : "?";
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- payload ------------------------------------------------------------ */

/* splitmix64: fast, and good enough to make incompressible bytes. */
static uint64_t mix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t random_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
        s = bench_now_ns() ^ ((uint64_t)getpid() << 32);
    return s;
}

void bench_payload_copy(const struct bench_ctx *ctx, uint64_t seq, uint64_t off,
                        unsigned char *dst, size_t n)
{
    if (n == 0 || ctx->payload_len == 0)
        return;
    for (size_t done = 0; done < n;) {
        size_t pos = (size_t)((off + done) % ctx->payload_len);
        size_t k = ctx->payload_len - pos;
        if (k > n - done)
            k = n - done;
        memcpy(dst + done, ctx->payload + pos, k);
        done += k;
    }
    if (ctx->o->same_content)
        return;
    uint64_t end = off + n;
    for (uint64_t b = off / BENCH_STAMP_EVERY; b * BENCH_STAMP_EVERY < end; b++) {
        uint64_t start = b * BENCH_STAMP_EVERY;
        uint64_t stamp[3] = {ctx->nonce, seq, b};
        uint64_t lo = start > off ? start : off;
        uint64_t hi = start + sizeof stamp < end ? start + sizeof stamp : end;
        if (lo < hi)
            memcpy(dst + (lo - off), (const unsigned char *)stamp + (lo - start), hi - lo);
    }
}

/* ---- context ------------------------------------------------------------ */

/* Host header value curl will send for endpoint: its authority, without
 * the scheme's default port. */
static int endpoint_host(const char *endpoint, char *out, size_t outlen)
{
    const char *p = strstr(endpoint, "://");
    int https = p && (size_t)(p - endpoint) == 5 && strncasecmp(endpoint, "https", 5) == 0;
    const char *h = p ? p + 3 : endpoint;
    size_t n = strcspn(h, "/?#");
    if (n == 0 || n >= outlen)
        return -1;
    memcpy(out, h, n);
    out[n] = '\0';
    const char *dflt = https ? ":443" : ":80";
    size_t dl = strlen(dflt);
    if (n > dl && strcmp(out + n - dl, dflt) == 0 && out[n - dl - 1] != ':')
        out[n - dl] = '\0';
    return 0;
}

int bench_ctx_init(struct bench_ctx *ctx, const struct bench_opts *o)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->o = o;
    ctx->nonce = random_seed();

    if (o->sign && endpoint_host(o->endpoint, ctx->host, sizeof ctx->host) != 0) {
        fprintf(stderr, "cairn-bench: cannot take a host from --endpoint %s\n", o->endpoint);
        return -1;
    }
    ctx->payload_len = o->size < BENCH_PAYLOAD_MAX ? (size_t)o->size : BENCH_PAYLOAD_MAX;
    if (ctx->payload_len) {
        ctx->payload = malloc(ctx->payload_len);
        if (!ctx->payload) {
            fprintf(stderr, "cairn-bench: out of memory for a %zu-byte payload\n", ctx->payload_len);
            return -1;
        }
        uint64_t st = random_seed();
        size_t i = 0;
        for (; i + 8 <= ctx->payload_len; i += 8) {
            uint64_t r = mix64(&st);
            memcpy(ctx->payload + i, &r, 8);
        }
        uint64_t r = mix64(&st);
        memcpy(ctx->payload + i, &r, ctx->payload_len - i);
    }
    return 0;
}

void bench_ctx_release(struct bench_ctx *ctx)
{
    free(ctx->payload);
    free((void *)ctx->key_state);
    ctx->payload = NULL;
    ctx->key_state = NULL;
}

/* ---- workers ------------------------------------------------------------ */

struct bench_worker;

/* One easy handle and the request it is doing. */
struct bench_slot {
    CURL *easy;
    struct bench_worker *w;
    enum bench_op op;
    uint64_t key;
    int key_locked;          /* mixed: holds BENCH_KEY_BUSY on key */
    uint64_t seq;            /* PUT stamp number */
    uint64_t up_off, up_len; /* PUT progress */
    uint64_t down_bytes;
    int keep_error_body;     /* -1 unknown, 0 no, 1 yes */
    uint64_t start_ns;
    struct curl_slist *headers;
    struct buf url;
    struct buf scratch;      /* path, query, Authorization */
    struct buf body;         /* list body, or the start of an error body */
    struct buf token;        /* list: continuation token ("" = first page) */
    char errbuf[CURL_ERROR_SIZE];
};

struct bench_worker {
    pthread_t thread;
    int started;
    struct bench_ctx *ctx;
    CURLM *multi;
    struct bench_slot *slots;
    unsigned nslots;
    uint64_t rng;
    struct bench_stats *stats; /* [BENCH_OP_COUNT] */
    uint64_t end_ns;
    _Atomic int done;
};

static struct curl_slist *no_sign_headers; /* "Expect:" only; made once */

static void print_error(struct bench_slot *s, CURLcode res, long code, const char *why)
{
    struct bench_ctx *ctx = s->w->ctx;
    if (atomic_fetch_add(&ctx->errors_printed, 1) >= ERRORS_PRINTED_MAX)
        return;
    char key[KEY_MAX + 2] = "";
    if (s->op != BENCH_LIST)
        snprintf(key, sizeof key, " %skey-%" PRIu64, ctx->o->prefix, s->key);
    if (why) {
        fprintf(stderr, "cairn-bench: %s%s: %s\n", bench_op_name(s->op), key, why);
    } else if (res != CURLE_OK) {
        fprintf(stderr, "cairn-bench: %s%s: %s%s%s\n", bench_op_name(s->op), key,
                curl_easy_strerror(res), s->errbuf[0] ? ": " : "", s->errbuf);
    } else {
        /* show the S3 error code if the body has one */
        const char *b = s->body.data ? s->body.data : "";
        const char *c = strstr(b, "<Code>"), *e = c ? strstr(c, "</Code>") : NULL;
        if (c && e)
            fprintf(stderr, "cairn-bench: %s%s: HTTP %ld %.*s\n", bench_op_name(s->op), key, code,
                    (int)(e - c - 6), c + 6);
        else
            fprintf(stderr, "cairn-bench: %s%s: HTTP %ld\n", bench_op_name(s->op), key, code);
    }
    if (atomic_load(&ctx->errors_printed) == ERRORS_PRINTED_MAX)
        fprintf(stderr, "cairn-bench: (further errors are counted, not printed)\n");
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    struct bench_slot *s = arg;
    size_t len = size * n;

    s->down_bytes += len;
    if (s->op == BENCH_LIST)
        return buf_append(&s->body, p, len) == 0 ? len : 0; /* 0 aborts: too big */
    if (s->keep_error_body < 0) {
        long code = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
        s->keep_error_body = code >= 300;
    }
    if (s->keep_error_body && s->body.len < BENCH_ERROR_BODY_MAX) {
        size_t room = BENCH_ERROR_BODY_MAX - s->body.len;
        buf_append(&s->body, p, len < room ? len : room);
    }
    return len;
}

static size_t on_read(char *dst, size_t size, size_t n, void *arg)
{
    struct bench_slot *s = arg;
    size_t want = size * n;
    uint64_t left = s->up_len - s->up_off;
    if (want > left)
        want = (size_t)left;
    bench_payload_copy(s->w->ctx, s->seq, s->up_off, (unsigned char *)dst, want);
    s->up_off += want;
    return want;
}

/* curl rewinds an upload when it must resend it (a kept-alive connection
 * that the server had closed). */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
    struct bench_slot *s = arg;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > s->up_len)
        return CURL_SEEKFUNC_FAIL;
    s->up_off = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* Mixed runs: pick the op by weight and lock a key; a read or delete of a
 * key this run deleted becomes a put, so every request can succeed. */
static int mixed_pick(struct bench_slot *s, uint64_t n)
{
    struct bench_ctx *ctx = s->w->ctx;
    const struct bench_opts *o = ctx->o;
    unsigned total = 0;
    for (int i = 0; i < BENCH_OP_COUNT; i++)
        total += o->mix[i];
    unsigned r = (unsigned)(mix64(&s->w->rng) % total);
    enum bench_op op = BENCH_PUT;
    for (int i = 0; i < BENCH_OP_COUNT; i++) {
        if (r < o->mix[i]) {
            op = (enum bench_op)i;
            break;
        }
        r -= o->mix[i];
    }
    /* keys >= concurrency (checked by main), so a free key exists */
    for (uint64_t k = 0; k < ctx->phase_keys; k++) {
        uint64_t key = (n + k) % ctx->phase_keys;
        unsigned char st = atomic_load(&ctx->key_state[key]);
        if (st & BENCH_KEY_BUSY)
            continue;
        if (!atomic_compare_exchange_strong(&ctx->key_state[key], &st,
                                            (unsigned char)(st | BENCH_KEY_BUSY)))
            continue;
        if ((st & BENCH_KEY_ABSENT) && op != BENCH_PUT)
            op = BENCH_PUT;
        s->op = op;
        s->key = key;
        s->key_locked = 1;
        return 0;
    }
    return -1;
}

static void mixed_release(struct bench_slot *s, int ok)
{
    struct bench_ctx *ctx = s->w->ctx;
    unsigned char st = atomic_load(&ctx->key_state[s->key]) & (unsigned char)~BENCH_KEY_BUSY;
    if (ok && s->op == BENCH_DELETE)
        st |= BENCH_KEY_ABSENT;
    else if (ok && s->op == BENCH_PUT)
        st &= (unsigned char)~BENCH_KEY_ABSENT;
    atomic_store(&ctx->key_state[s->key], st);
    s->key_locked = 0;
}

/* Set the URL and headers of s's request.  0 or -1 (printed). */
static int slot_prepare(struct bench_slot *s)
{
    struct bench_ctx *ctx = s->w->ctx;
    const struct bench_opts *o = ctx->o;
    static const char *const methods[BENCH_OP_COUNT] = {"PUT", "GET", "HEAD", "DELETE", "GET"};
    char key[KEY_MAX];
    int rc = 0;

    buf_reset(&s->url);
    buf_reset(&s->scratch);
    snprintf(key, sizeof key, "%skey-%" PRIu64, o->prefix, s->key);

    if (!o->sign) {
        const char *t = o->url_template, *pct = strstr(t, "%s");
        rc |= buf_append(&s->url, t, (size_t)(pct - t));
        rc |= uri_encode(&s->url, key, strlen(key), URI_KEEP_SLASH);
        rc |= buf_puts(&s->url, pct + 2);
        if (rc)
            goto fail;
        curl_easy_setopt(s->easy, CURLOPT_URL, s->url.data);
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, no_sign_headers);
        return 0;
    }

    /* path-style: /bucket/key, or /bucket?list-type=2... */
    struct buf *path = &s->scratch;
    rc |= buf_append(path, "/", 1);
    rc |= uri_encode(path, o->bucket, strlen(o->bucket), 0);
    if (s->op != BENCH_LIST) {
        rc |= buf_append(path, "/", 1);
        rc |= uri_encode(path, key, strlen(key), URI_KEEP_SLASH);
    }
    size_t path_len = path->len;
    rc |= buf_append(path, "", 1); /* NUL between path and query */
    size_t query_off = path->len;
    if (s->op == BENCH_LIST)
        rc |= bench_list_query(o, s->token.data ? s->token.data : "", path);
    if (rc)
        goto fail;
    const char *query = path->data + query_off;
    rc |= buf_printf(&s->url, "%s%.*s%s%s", o->endpoint, (int)path_len, path->data,
                     *query ? "?" : "", query);
    if (rc)
        goto fail;

    char amz_date[17];
    time_t now = time(NULL);
    sigv4_format_amz_date(now, amz_date);
    struct sigv4_header sh[] = {
        {"host", ctx->host},
        {"x-amz-content-sha256", SIGV4_UNSIGNED_PAYLOAD},
        {"x-amz-date", amz_date},
        {"x-amz-server-side-encryption", "AES256"}, /* sorted: last */
    };
    int nsh = o->sse && s->op == BENCH_PUT ? 4 : 3;
    struct sigv4_credentials cred = {o->access_key, o->secret_key, o->region, "s3"};
    struct buf auth;
    char line[64];
    buf_init(&auth, 4096);
    rc = buf_puts(&auth, "Authorization: ");
    if (rc == 0)
        rc = sigv4_sign_headers(&cred, methods[s->op], path->data, query, sh, nsh, NULL, now, &auth,
                                NULL);
    if (rc != 0) {
        fprintf(stderr, "cairn-bench: cannot sign %s %s: %s\n", methods[s->op], path->data,
                sigv4_strerror(rc));
        buf_release(&auth);
        return -1;
    }
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    struct curl_slist *h = NULL, *t;
    snprintf(line, sizeof line, "x-amz-date: %s", amz_date);
    if ((t = curl_slist_append(h, line)))
        h = t;
    if (t && (t = curl_slist_append(h, "x-amz-content-sha256: " SIGV4_UNSIGNED_PAYLOAD)))
        h = t;
    if (t && (t = curl_slist_append(h, "Expect:")))
        h = t;
    if (t && nsh == 4 && (t = curl_slist_append(h, "x-amz-server-side-encryption: AES256")))
        h = t;
    if (t && (t = curl_slist_append(h, auth.data)))
        h = t;
    buf_release(&auth);
    s->headers = h;
    if (!t) {
        fprintf(stderr, "cairn-bench: out of memory\n");
        return -1;
    }
    curl_easy_setopt(s->easy, CURLOPT_URL, s->url.data);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    return 0;
fail:
    fprintf(stderr, "cairn-bench: request URL too long or out of memory\n");
    return -1;
}

/* Start the next request on s if the phase's bounds allow.  1 if started,
 * 0 if the phase is over for this slot. */
static int slot_start(struct bench_slot *s)
{
    struct bench_worker *w = s->w;
    struct bench_ctx *ctx = w->ctx;

    if (atomic_load(&ctx->stop))
        return 0;
    if (ctx->deadline_ns && bench_now_ns() >= ctx->deadline_ns)
        return 0;
    uint64_t n = atomic_fetch_add(&ctx->issued, 1);
    if (ctx->phase_count && n >= ctx->phase_count)
        return 0;

    if (ctx->phase_mixed) {
        if (mixed_pick(s, n) != 0) {
            atomic_store(&ctx->stop, 1);
            fprintf(stderr, "cairn-bench: no free key (use more --keys than --concurrency)\n");
            return 0;
        }
    } else {
        s->op = ctx->phase_op;
        s->key = n % ctx->phase_keys;
    }
    if (slot_prepare(s) != 0) {
        if (s->key_locked)
            mixed_release(s, 0);
        atomic_store(&ctx->stop, 1);
        return 0;
    }

    CURL *e = s->easy;
    s->down_bytes = 0;
    s->keep_error_body = -1;
    s->errbuf[0] = '\0';
    if (s->op != BENCH_LIST)
        buf_reset(&s->body);
    /* back to a plain GET, then the method */
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    switch (s->op) {
    case BENCH_PUT:
        s->seq = atomic_fetch_add(&ctx->seq, 1);
        s->up_off = 0;
        s->up_len = ctx->o->size;
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->up_len);
        break;
    case BENCH_HEAD:
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        break;
    case BENCH_DELETE:
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
        break;
    default:
        break;
    }
    s->start_ns = bench_now_ns();
    if (curl_multi_add_handle(w->multi, e) != CURLM_OK) {
        if (s->key_locked)
            mixed_release(s, 0);
        fprintf(stderr, "cairn-bench: curl_multi_add_handle failed\n");
        atomic_store(&ctx->stop, 1);
        return 0;
    }
    return 1;
}

static void slot_done(struct bench_slot *s, CURLcode res)
{
    struct bench_ctx *ctx = s->w->ctx;
    const struct bench_opts *o = ctx->o;
    uint64_t lat = bench_now_ns() - s->start_ns;
    long code = 0;
    uint64_t bytes = 0, keys = 0;
    const char *why = NULL;
    char whybuf[128];

    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    int ok = res == CURLE_OK && code >= 200 && code < 300;
    if (ok) {
        switch (s->op) {
        case BENCH_PUT:
            bytes = s->up_len;
            break;
        case BENCH_GET:
            bytes = s->down_bytes;
            if (o->size_given && s->down_bytes != o->size) {
                snprintf(whybuf, sizeof whybuf, "got %" PRIu64 " bytes, expected %" PRIu64,
                         s->down_bytes, o->size);
                why = whybuf;
                ok = 0;
            }
            break;
        case BENCH_LIST:
            bytes = s->down_bytes;
            if (bench_list_parse(s->body.data ? s->body.data : "", s->body.len, &keys, &s->token) != 0) {
                why = "response is not a ListBucketResult";
                ok = 0;
            }
            break;
        default:
            break;
        }
    }
    if (s->op == BENCH_LIST) {
        if (!ok)
            buf_reset(&s->token); /* start the listing over */
        buf_reset(&s->body);
    }
    if (s->key_locked)
        mixed_release(s, ok);

    struct bench_stats *st = &s->w->stats[s->op];
    if (ok) {
        bench_hist_add(&st->hist, lat);
        atomic_fetch_add_explicit(&st->c.ops, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->c.bytes, bytes, memory_order_relaxed);
        if (keys)
            atomic_fetch_add_explicit(&st->c.keys, keys, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&st->c.errors, 1, memory_order_relaxed);
        print_error(s, res, code, why);
    }
}

static void *worker_main(void *arg)
{
    struct bench_worker *w = arg;
    unsigned active = 0;

    for (unsigned i = 0; i < w->nslots; i++) {
        if (!slot_start(&w->slots[i]))
            break;
        active++;
    }
    while (active > 0) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(w->multi, &running);
        if (mc != CURLM_OK) {
            fprintf(stderr, "cairn-bench: curl_multi_perform: %s\n", curl_multi_strerror(mc));
            atomic_store(&w->ctx->stop, 1);
            break;
        }
        CURLMsg *msg;
        int queued;
        while ((msg = curl_multi_info_read(w->multi, &queued))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            CURLcode res = msg->data.result; /* msg dies with remove_handle */
            struct bench_slot *s = NULL;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
            curl_multi_remove_handle(w->multi, e);
            slot_done(s, res);
            if (!slot_start(s))
                active--;
        }
        if (active == 0)
            break;
        mc = curl_multi_poll(w->multi, NULL, 0, 100, NULL);
        if (mc != CURLM_OK) {
            fprintf(stderr, "cairn-bench: curl_multi_poll: %s\n", curl_multi_strerror(mc));
            atomic_store(&w->ctx->stop, 1);
            break;
        }
    }
    /* only on a multi failure are requests still attached */
    for (unsigned i = 0; i < w->nslots; i++)
        curl_multi_remove_handle(w->multi, w->slots[i].easy);
    w->end_ns = bench_now_ns();
    atomic_store(&w->done, 1);
    return NULL;
}

static void worker_release(struct bench_worker *w)
{
    for (unsigned i = 0; w->slots && i < w->nslots; i++) {
        struct bench_slot *s = &w->slots[i];
        if (s->easy)
            curl_easy_cleanup(s->easy);
        curl_slist_free_all(s->headers);
        buf_release(&s->url);
        buf_release(&s->scratch);
        buf_release(&s->body);
        buf_release(&s->token);
    }
    free(w->slots);
    if (w->multi)
        curl_multi_cleanup(w->multi);
    free(w->stats);
    w->slots = NULL;
    w->multi = NULL;
    w->stats = NULL;
}

static int worker_init(struct bench_worker *w, struct bench_ctx *ctx, unsigned nslots)
{
    memset(w, 0, sizeof *w);
    w->ctx = ctx;
    w->nslots = nslots;
    w->rng = random_seed();
    w->stats = calloc(BENCH_OP_COUNT, sizeof *w->stats);
    w->slots = calloc(nslots, sizeof *w->slots);
    w->multi = curl_multi_init();
    if (!w->stats || !w->slots || !w->multi)
        return -1;
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)nslots * 2);
    for (unsigned i = 0; i < nslots; i++) {
        struct bench_slot *s = &w->slots[i];
        s->w = w;
        buf_init(&s->url, URL_MAX);
        buf_init(&s->scratch, URL_MAX);
        buf_init(&s->body, BENCH_LIST_BODY_MAX);
        buf_init(&s->token, BENCH_TOKEN_MAX);
        CURL *e = s->easy = curl_easy_init();
        if (!e)
            return -1;
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)s);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT, ctx->o->timeout);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, s);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, s);
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RECV_BUFFER);
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, SEND_BUFFER);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_VERBOSE, ctx->o->verbose > 1 ? 1L : 0L);
    }
    return 0;
}

/* ---- a phase ------------------------------------------------------------ */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1; /* SA_RESETHAND: a second ^C kills */
}

static void sum_counters(struct bench_worker *ws, unsigned nw, uint64_t *ops, uint64_t *errors,
                         uint64_t *bytes, uint64_t *keys)
{
    *ops = *errors = *bytes = *keys = 0;
    for (unsigned i = 0; i < nw; i++) {
        for (int op = 0; op < BENCH_OP_COUNT; op++) {
            struct bench_counters *c = &ws[i].stats[op].c;
            *ops += atomic_load_explicit(&c->ops, memory_order_relaxed);
            *errors += atomic_load_explicit(&c->errors, memory_order_relaxed);
            *bytes += atomic_load_explicit(&c->bytes, memory_order_relaxed);
            *keys += atomic_load_explicit(&c->keys, memory_order_relaxed);
        }
    }
}

int bench_run(struct bench_ctx *ctx, enum bench_op op, int mixed, uint64_t count,
              double duration, uint64_t keys, const char *phase_name,
              struct bench_result out[BENCH_OP_COUNT])
{
    const struct bench_opts *o = ctx->o;
    unsigned nw = o->threads;
    struct bench_worker *ws = NULL;
    int rc = -1;

    if (!no_sign_headers)
        no_sign_headers = curl_slist_append(NULL, "Expect:");
    ctx->phase_op = op;
    ctx->phase_mixed = mixed;
    ctx->phase_count = count;
    ctx->phase_keys = keys ? keys : 1;
    atomic_store(&ctx->issued, 0);
    atomic_store(&ctx->stop, 0);
    free((void *)ctx->key_state);
    ctx->key_state = NULL;
    if (mixed) {
        /* the keys are assumed to exist at the start (put them first) */
        ctx->key_state = calloc(ctx->phase_keys, 1);
        if (!ctx->key_state) {
            fprintf(stderr, "cairn-bench: out of memory for %" PRIu64 " keys\n", keys);
            goto out;
        }
    }

    ws = calloc(nw, sizeof *ws);
    if (!ws || !no_sign_headers)
        goto out;
    for (unsigned i = 0; i < nw; i++) {
        unsigned n = o->concurrency / nw + (i < o->concurrency % nw);
        if (worker_init(&ws[i], ctx, n) != 0) {
            fprintf(stderr, "cairn-bench: cannot set up curl handles\n");
            goto out;
        }
    }

    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old);

    uint64_t t0 = bench_now_ns();
    ctx->deadline_ns = duration > 0 ? t0 + (uint64_t)(duration * 1e9) : 0;
    for (unsigned i = 0; i < nw; i++) {
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "cairn-bench: cannot start a thread\n");
            atomic_store(&ctx->stop, 1);
            break;
        }
        ws[i].started = 1;
    }

    /* progress, once a second, until every worker is done */
    int tty = isatty(STDERR_FILENO);
    int show = o->progress || tty;
    uint64_t last_t = t0, last_ops = 0, last_bytes = 0, last_keys = 0, next_tick = t0 + 1000000000ull;
    int printed = 0;
    for (;;) {
        unsigned done = 0;
        for (unsigned i = 0; i < nw; i++)
            done += !ws[i].started || atomic_load(&ws[i].done);
        if (done == nw)
            break;
        if (interrupted && !atomic_load(&ctx->stop)) {
            atomic_store(&ctx->stop, 1);
            fprintf(stderr, "\ncairn-bench: interrupted, finishing the requests in flight\n");
        }
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
        uint64_t now = bench_now_ns();
        if (!show || now < next_tick)
            continue;
        next_tick += 1000000000ull;
        uint64_t ops, errors, bytes, k;
        sum_counters(ws, nw, &ops, &errors, &bytes, &k);
        double dt = (double)(now - last_t) / 1e9;
        char line[256];
        int len = snprintf(line, sizeof line, "[%5.1fs] %s %s: ops %" PRIu64 " (%.0f/s)  %.1f MB/s",
                           (double)(now - t0) / 1e9, phase_name, mixed ? "mixed" : bench_op_name(op),
                           ops, (double)(ops - last_ops) / dt, (double)(bytes - last_bytes) / dt / 1e6);
        if (!mixed && op == BENCH_LIST && len > 0 && (size_t)len < sizeof line)
            len += snprintf(line + len, sizeof line - (size_t)len, "  keys %" PRIu64 " (%.0f/s)", k,
                            (double)(k - last_keys) / dt);
        if (len > 0 && (size_t)len < sizeof line)
            snprintf(line + len, sizeof line - (size_t)len, "  errors %" PRIu64, errors);
        if (tty && !o->progress)
            fprintf(stderr, "\r%s\033[K", line);
        else
            fprintf(stderr, "%s\n", line);
        printed = 1;
        last_t = now;
        last_ops = ops;
        last_bytes = bytes;
        last_keys = k;
    }
    if (printed && tty && !o->progress)
        fputc('\n', stderr);
    uint64_t t_end = t0;
    for (unsigned i = 0; i < nw; i++) {
        if (!ws[i].started)
            continue;
        pthread_join(ws[i].thread, NULL);
        if (ws[i].end_ns > t_end)
            t_end = ws[i].end_ns;
    }
    sigaction(SIGINT, &old, NULL);

    for (int k = 0; k < BENCH_OP_COUNT; k++) {
        struct bench_result *r = &out[k];
        memset(r, 0, sizeof *r);
        r->op = (enum bench_op)k;
        r->seconds = (double)(t_end - t0) / 1e9;
        for (unsigned i = 0; i < nw; i++) {
            struct bench_stats *st = &ws[i].stats[k];
            r->ops += atomic_load(&st->c.ops);
            r->errors += atomic_load(&st->c.errors);
            r->bytes += atomic_load(&st->c.bytes);
            r->keys += atomic_load(&st->c.keys);
            bench_hist_merge(&r->hist, &st->hist);
        }
    }
    rc = interrupted ? 1 : 0;
out:
    for (unsigned i = 0; ws && i < nw; i++)
        worker_release(&ws[i]);
    free(ws);
    return rc;
}

/* ---- outside the measured phases ---------------------------------------- */

int bench_create_bucket(const struct bench_ctx *ctx)
{
    const struct bench_opts *o = ctx->o;
    struct http_client c = {o->endpoint, o->access_key, o->secret_key, o->region, o->timeout, NULL};
    struct http_response resp;
    struct buf path;
    int rc = -1;

    buf_init(&path, 1024);
    if (buf_append(&path, "/", 1) < 0 || uri_encode(&path, o->bucket, strlen(o->bucket), 0) < 0) {
        fprintf(stderr, "cairn-bench: bucket name too long\n");
        buf_release(&path);
        return -1;
    }
    if (http_request(&c, "PUT", path.data, NULL, NULL, 0, NULL, &resp) != 0) {
        fprintf(stderr, "cairn-bench: create bucket: %s\n", resp.error);
        goto out;
    }
    const char *body = resp.body.data ? resp.body.data : "";
    if ((resp.status >= 200 && resp.status < 300) ||
        (resp.status == 409 && strstr(body, "BucketAlreadyOwnedByYou"))) {
        rc = 0;
    } else {
        fprintf(stderr, "cairn-bench: create bucket %s: HTTP %ld %.300s\n", o->bucket, resp.status,
                body);
    }
out:
    http_response_release(&resp);
    buf_release(&path);
    return rc;
}
