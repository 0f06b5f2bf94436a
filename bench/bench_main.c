/*
 * bench/bench_main.c - cairn-bench: the command line, the phases of a run
 * and the report.  See bench/README.md for how the numbers are meant to
 * be read.
 */
#include "bench/bench.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define PREFIX_MAX 1024
#define DELIMITER_MAX 64
#define DURATION_MAX 86400.0

static void usage(FILE *f)
{
    fprintf(f,
        "usage: cairn-bench --endpoint URL --bucket B --op OP [--size S] [--concurrency N]\n"
        "                   (--count N | --duration SECONDS) [options]\n"
        "       cairn-bench --endpoint URL --bucket B --setup-keys N --size S [--concurrency N]\n"
        "       cairn-bench --no-sign --url-template URL --op put|get|head|delete ...\n"
        "\n"
        "Benchmarks an S3 endpoint (path-style URLs, SigV4 with UNSIGNED-PAYLOAD) or,\n"
        "with --no-sign, any HTTP server (plain GET/PUT/HEAD/DELETE, e.g. nginx with\n"
        "WebDAV PUT; see bench/run-reference.sh).  Objects are named PREFIX\"key-\"I for\n"
        "I in 0..keys-1, taken in turn.\n"
        "\n"
        "target:\n"
        "  --endpoint URL        S3 endpoint, e.g. http://127.0.0.1:9000\n"
        "  --access-key K        default $AWS_ACCESS_KEY_ID\n"
        "  --secret-key S        default $AWS_SECRET_ACCESS_KEY\n"
        "  --region R            signing region (default $AWS_REGION or us-east-1)\n"
        "  --bucket B            bucket (path-style)\n"
        "  --create-bucket       create the bucket first (already owned is fine)\n"
        "  --no-sign             plain HTTP without authentication; needs --url-template\n"
        "  --url-template T      URL with one %%s for the (encoded) key, e.g.\n"
        "                        http://127.0.0.1:8080/files/%%s\n"
        "\n"
        "workload:\n"
        "  --op OP               put | get | head | delete | list | mixed\n"
        "  --size S              object size: 0, 4KiB, 32MiB, 1GiB, 4k, 10MB (MB = 10^6);\n"
        "                        required for put, mixed and --setup-keys; for get it is\n"
        "                        the expected size (a different body length is an error)\n"
        "  --concurrency N, -c N requests in flight (default 1), one kept-alive\n"
        "                        connection each\n"
        "  --threads T           client threads, each driving its own curl multi loop\n"
        "                        with its share of the connections (default 1)\n"
        "  --count N, -n N       stop after N requests (list: N pages)\n"
        "  --duration SEC, -d S  stop starting requests after SEC seconds\n"
        "                        (one of --count/--duration is required; both: first wins)\n"
        "  --keys N              key space key-0..key-(N-1) (default: --count for put\n"
        "                        if given, --setup-keys if given, else 1000); get, head,\n"
        "                        delete and mixed expect these keys to exist\n"
        "  --prefix P            key prefix; for list, the listed prefix\n"
        "  --delimiter D         list: delimiter\n"
        "  --max-keys N          list: page size, 1..1000 (default 1000)\n"
        "  --mix W               mixed: weights, default get=60,put=30,head=10\n"
        "                        (delete=N allowed; a deleted key is put again)\n"
        "  --setup-keys N        first PUT key-0..key-(N-1) of --size with --concurrency\n"
        "                        (alone: just that; with --op: then run the op over them)\n"
        "  --same-content        send the same bytes in every PUT (by default each 4 KiB\n"
        "                        block is stamped so no two PUTs deduplicate)\n"
        "  --sse                 PUTs ask for server-side encryption with the server's keys\n"
        "                        (x-amz-server-side-encryption: AES256, signed)\n"
        "  --timeout SEC         per request (default 120)\n"
        "\n"
        "output:\n"
        "  --progress            a progress line every second even when stderr is not a\n"
        "                        terminal (on a terminal it is always shown)\n"
        "  --json                also print one JSON object per result line\n"
        "  --label L             first column of the table (default s3 / http)\n"
        "  -v, --verbose         more messages; twice: curl's verbose trace\n"
        "  --self-test           check the tool's own pieces and exit\n"
        "  -h, --help\n"
        "\n"
        "Exit status: 0 if every request succeeded, 1 on a usage or setup error, 2 if\n"
        "some requests failed, 3 if interrupted.\n");
}

enum {
    OPT_ENDPOINT = 256, OPT_ACCESS, OPT_SECRET, OPT_REGION, OPT_BUCKET, OPT_OP, OPT_SIZE,
    OPT_THREADS, OPT_KEYS, OPT_PREFIX, OPT_DELIM, OPT_MAXKEYS, OPT_CREATE, OPT_SETUP,
    OPT_NOSIGN, OPT_TEMPLATE, OPT_SAME, OPT_SSE, OPT_TIMEOUT, OPT_PROGRESS, OPT_JSON, OPT_LABEL,
    OPT_MIX, OPT_SELFTEST,
};

static const struct option long_opts[] = {
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},
    {"access-key", required_argument, NULL, OPT_ACCESS},
    {"secret-key", required_argument, NULL, OPT_SECRET},
    {"region", required_argument, NULL, OPT_REGION},
    {"bucket", required_argument, NULL, OPT_BUCKET},
    {"op", required_argument, NULL, OPT_OP},
    {"size", required_argument, NULL, OPT_SIZE},
    {"concurrency", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"count", required_argument, NULL, 'n'},
    {"duration", required_argument, NULL, 'd'},
    {"keys", required_argument, NULL, OPT_KEYS},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"delimiter", required_argument, NULL, OPT_DELIM},
    {"max-keys", required_argument, NULL, OPT_MAXKEYS},
    {"create-bucket", no_argument, NULL, OPT_CREATE},
    {"setup-keys", required_argument, NULL, OPT_SETUP},
    {"no-sign", no_argument, NULL, OPT_NOSIGN},
    {"url-template", required_argument, NULL, OPT_TEMPLATE},
    {"same-content", no_argument, NULL, OPT_SAME},
    {"sse", no_argument, NULL, OPT_SSE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"json", no_argument, NULL, OPT_JSON},
    {"label", required_argument, NULL, OPT_LABEL},
    {"mix", required_argument, NULL, OPT_MIX},
    {"verbose", no_argument, NULL, 'v'},
    {"self-test", no_argument, NULL, OPT_SELFTEST},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Positive decimal integer in [min, max]. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_op(const char *s, struct bench_opts *o)
{
    if (strcmp(s, "mixed") == 0) {
        o->mixed = 1;
        return 0;
    }
    for (int i = 0; i < BENCH_OP_COUNT; i++) {
        if (strcmp(s, bench_op_name((enum bench_op)i)) == 0) {
            o->op = (enum bench_op)i;
            return 0;
        }
    }
    return -1;
}

/* "get=60,put=30,head=10" */
static int parse_mix(const char *s, unsigned mix[BENCH_OP_COUNT])
{
    unsigned m[BENCH_OP_COUNT] = {0}, total = 0;
    while (*s) {
        size_t n = strcspn(s, "=");
        int op = -1;
        for (int i = 0; i < BENCH_LIST; i++) {
            const char *name = bench_op_name((enum bench_op)i);
            if (strlen(name) == n && strncmp(s, name, n) == 0)
                op = i;
        }
        if (op < 0 || s[n] != '=')
            return -1;
        char *end;
        errno = 0;
        unsigned long w = strtoul(s + n + 1, &end, 10);
        if (errno || end == s + n + 1 || w > 1000000 || (*end && *end != ','))
            return -1;
        m[op] = (unsigned)w;
        total += (unsigned)w;
        s = *end ? end + 1 : end;
    }
    if (total == 0)
        return -1;
    memcpy(mix, m, sizeof m);
    return 0;
}

/* ---- --self-test ---------------------------------------------------------- */

static int failures;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "self-test: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static int self_test(void)
{
    uint64_t v;
    char s[32];

    /* sizes */
    CHECK(bench_parse_size("4KiB", &v) == 0 && v == 4096);
    CHECK(bench_parse_size("32MiB", &v) == 0 && v == 32ull << 20);
    CHECK(bench_parse_size("4k", &v) == 0 && v == 4096);
    CHECK(bench_parse_size("10MB", &v) == 0 && v == 10000000);
    CHECK(bench_parse_size("1.5KiB", &v) == 0 && v == 1536);
    CHECK(bench_parse_size("0", &v) == 0 && v == 0);
    CHECK(bench_parse_size("1.3B", &v) != 0);
    CHECK(bench_parse_size("-1", &v) != 0);
    CHECK(bench_parse_size("5XB", &v) != 0);
    CHECK(bench_parse_size("65GiB", &v) != 0);
    bench_format_size(32ull << 20, s, sizeof s);
    CHECK(strcmp(s, "32MiB") == 0);
    bench_format_size(4096 + 1, s, sizeof s);
    CHECK(strcmp(s, "4097B") == 0);

    /* histogram: 1..100000 us, quantiles within 1/128 */
    static struct bench_hist h;
    memset(&h, 0, sizeof h);
    CHECK(bench_hist_quantile(&h, 0.5) == 0);
    for (uint64_t i = 1; i <= 100000; i++)
        bench_hist_add(&h, i * 1000);
    uint64_t p50 = bench_hist_quantile(&h, 0.5), p99 = bench_hist_quantile(&h, 0.99);
    CHECK(fabs((double)p50 - 50000000.0) / 50000000.0 < 1.0 / 128);
    CHECK(fabs((double)p99 - 99000000.0) / 99000000.0 < 1.0 / 128);
    CHECK(bench_hist_quantile(&h, 1.0) == 100000000);
    CHECK(h.max == 100000000 && h.count == 100000);
    memset(&h, 0, sizeof h);
    for (uint64_t i = 0; i < 100; i++)
        bench_hist_add(&h, i);
    CHECK(bench_hist_quantile(&h, 0.5) == 49); /* exact below 128 */
    bench_hist_add(&h, UINT64_MAX);           /* the top bucket exists */
    CHECK(bench_hist_quantile(&h, 1.0) == UINT64_MAX);

    /* list responses */
    struct buf tok;
    uint64_t keys = 0;
    buf_init(&tok, BENCH_TOKEN_MAX);
    const char *page =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>a&amp;b=</NextContinuationToken>"
        "<Contents><Key>k1</Key></Contents><Contents><Key>k2</Key></Contents></ListBucketResult>";
    CHECK(bench_list_parse(page, strlen(page), &keys, &tok) == 0 && keys == 2);
    CHECK(tok.data && strcmp(tok.data, "a&b=") == 0);
    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                       "<Contents><Key>k1</Key></Contents><CommonPrefixes><Prefix>p/</Prefix>"
                       "</CommonPrefixes></ListBucketResult>";
    CHECK(bench_list_parse(last, strlen(last), &keys, &tok) == 0 && keys == 2 && tok.len == 0);
    CHECK(bench_list_parse("<Error/>", 8, &keys, &tok) != 0);
    const char *notoken = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
    CHECK(bench_list_parse(notoken, strlen(notoken), &keys, &tok) != 0);
    buf_release(&tok);

    struct bench_opts o;
    memset(&o, 0, sizeof o);
    o.max_keys = 1000;
    o.prefix = "a b/";
    o.delimiter = "/";
    struct buf q;
    buf_init(&q, 4096);
    CHECK(bench_list_query(&o, "t+k=", &q) == 0);
    CHECK(q.data && strcmp(q.data, "continuation-token=t%2Bk%3D&delimiter=%2F&list-type=2"
                                   "&max-keys=1000&prefix=a%20b%2F") == 0);
    buf_release(&q);

    /* payload stamps: two PUTs differ in every 4 KiB block; the same PUT
     * copied in pieces gives the same bytes as in one go */
    struct bench_ctx ctx;
    o.size = 3 * BENCH_STAMP_EVERY + 100;
    CHECK(bench_ctx_init(&ctx, &o) == 0);
    size_t n = (size_t)o.size;
    unsigned char *a = malloc(n), *b = malloc(n), *c = malloc(n);
    if (a && b && c) {
        bench_payload_copy(&ctx, 1, 0, a, n);
        bench_payload_copy(&ctx, 2, 0, b, n);
        for (size_t off = 0; off < n; off += BENCH_STAMP_EVERY)
            CHECK(memcmp(a + off, b + off, 24 < n - off ? 24 : n - off) != 0);
        for (size_t off = 0; off < n;) {
            size_t k = 7 + off % 13 * 11; /* odd pieces that cross stamps */
            if (k > n - off)
                k = n - off;
            bench_payload_copy(&ctx, 1, off, c + off, k);
            off += k;
        }
        CHECK(memcmp(a, c, n) == 0);
        CHECK(memcmp(a + 24, ctx.payload + 24, BENCH_STAMP_EVERY - 24) == 0);
        o.same_content = 1;
        bench_payload_copy(&ctx, 1, 0, a, n);
        bench_payload_copy(&ctx, 2, 0, b, n);
        CHECK(memcmp(a, b, n) == 0);
    }
    free(a);
    free(b);
    free(c);
    bench_ctx_release(&ctx);

    /* mix */
    unsigned mix[BENCH_OP_COUNT];
    CHECK(parse_mix("get=60,put=30,head=10", mix) == 0 && mix[BENCH_GET] == 60 &&
          mix[BENCH_PUT] == 30 && mix[BENCH_HEAD] == 10 && mix[BENCH_DELETE] == 0);
    CHECK(parse_mix("list=5", mix) != 0);
    CHECK(parse_mix("get=0", mix) != 0);
    CHECK(parse_mix("get=1,", mix) == 0);
    CHECK(parse_mix("get", mix) != 0);

    if (failures) {
        fprintf(stderr, "self-test: %d check(s) failed\n", failures);
        return 1;
    }
    printf("self-test: ok\n");
    return 0;
}

/* ---- main ----------------------------------------------------------------- */

static int bad(const char *what, const char *arg)
{
    fprintf(stderr, "cairn-bench: bad %s: %s (see --help)\n", what, arg ? arg : "(missing)");
    return 1;
}

/* Print the phase's rows: the op's, or each op of a mix that ran. */
static uint64_t report(const struct bench_opts *o, const struct bench_result res[BENCH_OP_COUNT],
                       enum bench_op op, int mixed, const char *phase)
{
    uint64_t errors = 0;
    for (int i = 0; i < BENCH_OP_COUNT; i++) {
        if (mixed ? res[i].ops + res[i].errors == 0 : i != (int)op)
            continue;
        bench_report_row(o, &res[i]);
        errors += res[i].errors;
    }
    if (o->json) {
        for (int i = 0; i < BENCH_OP_COUNT; i++) {
            if (mixed ? res[i].ops + res[i].errors == 0 : i != (int)op)
                continue;
            bench_report_json(o, &res[i], phase);
        }
    }
    return errors;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    struct bench_ctx ctx;
    int have_op = 0, ctx_ready = 0, rc = 1, c;
    uint64_t u;

    memset(&o, 0, sizeof o);
    o.sign = 1;
    o.concurrency = 1;
    o.threads = 1;
    o.max_keys = 1000;
    o.timeout = 120;
    o.prefix = "";
    o.access_key = getenv("AWS_ACCESS_KEY_ID");
    o.secret_key = getenv("AWS_SECRET_ACCESS_KEY");
    o.region = getenv("AWS_REGION");
    if (!o.region || !*o.region)
        o.region = "us-east-1";
    o.mix[BENCH_GET] = 60;
    o.mix[BENCH_PUT] = 30;
    o.mix[BENCH_HEAD] = 10;

    while ((c = getopt_long(argc, argv, "c:n:d:vh", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_ENDPOINT: o.endpoint = optarg; break;
        case OPT_ACCESS: o.access_key = optarg; break;
        case OPT_SECRET: o.secret_key = optarg; break;
        case OPT_REGION: o.region = optarg; break;
        case OPT_BUCKET: o.bucket = optarg; break;
        case OPT_OP:
            if (parse_op(optarg, &o) != 0)
                return bad("--op", optarg);
            have_op = 1;
            break;
        case OPT_SIZE:
            if (bench_parse_size(optarg, &o.size) != 0)
                return bad("--size", optarg);
            o.size_given = 1;
            break;
        case 'c':
            if (parse_u64(optarg, 1, BENCH_MAX_CONCURRENCY, &u) != 0)
                return bad("--concurrency (1..4096)", optarg);
            o.concurrency = (unsigned)u;
            break;
        case OPT_THREADS:
            if (parse_u64(optarg, 1, BENCH_MAX_THREADS, &u) != 0)
                return bad("--threads (1..64)", optarg);
            o.threads = (unsigned)u;
            break;
        case 'n':
            if (parse_u64(optarg, 1, UINT64_MAX / 2, &o.count) != 0)
                return bad("--count", optarg);
            break;
        case 'd': {
            char *end;
            errno = 0;
            o.duration = strtod(optarg, &end);
            if (errno || *end || !(o.duration > 0) || o.duration > DURATION_MAX)
                return bad("--duration (seconds, up to a day)", optarg);
            break;
        }
        case OPT_KEYS:
            if (parse_u64(optarg, 1, 1ull << 40, &o.keys) != 0)
                return bad("--keys", optarg);
            o.keys_given = 1;
            break;
        case OPT_PREFIX:
            if (strlen(optarg) > PREFIX_MAX)
                return bad("--prefix (too long)", optarg);
            o.prefix = optarg;
            break;
        case OPT_DELIM:
            if (!*optarg || strlen(optarg) > DELIMITER_MAX)
                return bad("--delimiter", optarg);
            o.delimiter = optarg;
            break;
        case OPT_MAXKEYS:
            if (parse_u64(optarg, 1, 1000, &u) != 0)
                return bad("--max-keys (1..1000)", optarg);
            o.max_keys = (unsigned)u;
            break;
        case OPT_CREATE: o.create_bucket = 1; break;
        case OPT_SETUP:
            if (parse_u64(optarg, 1, 1ull << 40, &o.setup_keys) != 0)
                return bad("--setup-keys", optarg);
            break;
        case OPT_NOSIGN: o.sign = 0; break;
        case OPT_TEMPLATE: o.url_template = optarg; break;
        case OPT_SAME: o.same_content = 1; break;
        case OPT_SSE: o.sse = 1; break;
        case OPT_TIMEOUT:
            if (parse_u64(optarg, 1, 86400, &u) != 0)
                return bad("--timeout", optarg);
            o.timeout = (long)u;
            break;
        case OPT_PROGRESS: o.progress = 1; break;
        case OPT_JSON: o.json = 1; break;
        case OPT_LABEL: o.label = optarg; break;
        case OPT_MIX:
            if (parse_mix(optarg, o.mix) != 0)
                return bad("--mix", optarg);
            break;
        case 'v': o.verbose++; break;
        case OPT_SELFTEST: return self_test();
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind < argc)
        return bad("argument", argv[optind]);

    /* ---- what the options must say together ---- */
    if (!have_op && !o.setup_keys)
        return bad("command line", "--op or --setup-keys is required");
    if (o.sign) {
        if (!o.endpoint || strncmp(o.endpoint, "http", 4) != 0)
            return bad("--endpoint (http://host:port)", o.endpoint);
        size_t el = strlen(o.endpoint);
        if (el && o.endpoint[el - 1] == '/')
            return bad("--endpoint (no trailing '/')", o.endpoint);
        if (!o.bucket || !*o.bucket)
            return bad("--bucket", NULL);
        if (!o.access_key || !*o.access_key || !o.secret_key || !*o.secret_key)
            return bad("credentials", "give --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
        if (o.url_template)
            return bad("--url-template", "only with --no-sign");
    } else {
        if (o.sse)
            return bad("--sse", "needs an S3 endpoint (not with --no-sign)");
        const char *p = o.url_template ? strstr(o.url_template, "%s") : NULL;
        if (!p || strstr(p + 2, "%s") || strncmp(o.url_template, "http", 4) != 0)
            return bad("--url-template (an http URL with exactly one %s)", o.url_template);
        if (have_op && !o.mixed && o.op == BENCH_LIST)
            return bad("--op", "list needs an S3 endpoint (not with --no-sign)");
        if (o.create_bucket)
            return bad("--create-bucket", "not with --no-sign");
    }
    if (have_op && !o.count && o.duration == 0)
        return bad("command line", "--count or --duration is required (runs are always bounded)");
    if ((o.setup_keys || (have_op && (o.mixed || o.op == BENCH_PUT))) && !o.size_given)
        return bad("command line", "--size is required for put, mixed and --setup-keys");
    if (o.threads > o.concurrency)
        o.threads = o.concurrency;
    if (!o.keys_given) {
        if (o.setup_keys)
            o.keys = o.setup_keys;
        else if (have_op && !o.mixed && o.op == BENCH_PUT && o.count)
            o.keys = o.count;
        else
            o.keys = 1000;
    }
    if (have_op && o.mixed && o.keys < o.concurrency)
        return bad("--keys", "mixed runs need at least --concurrency keys");
    if (!o.label)
        o.label = o.sign ? "s3" : "http";

    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (bench_ctx_init(&ctx, &o) != 0)
        goto out;
    ctx_ready = 1;

    if (o.verbose) {
        char sz[32];
        bench_format_size(o.size, sz, sizeof sz);
        fprintf(stderr, "cairn-bench: %s, keys %" PRIu64 ", size %s, concurrency %u, threads %u\n",
                o.sign ? o.endpoint : o.url_template, o.keys, sz, o.concurrency, o.threads);
    }
    if (o.create_bucket && bench_create_bucket(&ctx) != 0)
        goto out;

    struct bench_result res[BENCH_OP_COUNT];
    uint64_t errors = 0;
    if (o.setup_keys) {
        int r = bench_run(&ctx, BENCH_PUT, 0, o.setup_keys, 0, o.setup_keys, "setup", res);
        if (r < 0)
            goto out;
        errors += report(&o, res, BENCH_PUT, 0, "setup");
        if (r > 0) {
            rc = 3;
            goto out;
        }
    }
    if (have_op) {
        int r = bench_run(&ctx, o.op, o.mixed, o.count, o.duration, o.keys, "run", res);
        if (r < 0)
            goto out;
        errors += report(&o, res, o.op, o.mixed, "run");
        if (r > 0) {
            rc = 3;
            goto out;
        }
    }
    rc = errors ? 2 : 0;
out:
    if (ctx_ready)
        bench_ctx_release(&ctx);
    curl_global_cleanup();
    return rc;
}
