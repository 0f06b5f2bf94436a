/*
 * bench/bench.h - cairn-bench internals: options, the latency histogram,
 * the request engine (libcurl multi) and the report.  Private to bench/.
 *
 * Shape of a run (bench_main.c):
 *   1. parse the command line into struct bench_opts;
 *   2. bench_ctx_init(): the shared payload buffer (random bytes, made
 *      once), the signing parameters, the per-key state of a mixed run;
 *   3. optional phases (create bucket, --setup-keys), then the measured
 *      phase: bench_run() starts --threads worker threads, each driving one
 *      curl multi handle with its share of the --concurrency easy handles,
 *      while the calling thread prints progress once a second;
 *   4. bench_report_*() print the table (and JSON lines) from the merged
 *      per-worker statistics.
 *
 * Thread rules: struct bench_ctx is shared; after bench_ctx_init() only
 * its atomic members change during a run.  Each worker owns its curl
 * handles and its statistics; the progress printer reads only the atomic
 * counters; histograms are merged after the workers are joined.
 *
 * Boundedness: every phase is bounded by a request count or a deadline
 * (both when both are given: whichever comes first), and every request by
 * --timeout.  Once the bound is reached no new request is started and the
 * requests in flight are allowed to finish; they are counted.
 */
#ifndef CAIRN_BENCH_BENCH_H
#define CAIRN_BENCH_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Operations.  A "mixed" run issues several of the first four. */
enum bench_op {
    BENCH_PUT = 0,
    BENCH_GET,
    BENCH_HEAD,
    BENCH_DELETE,
    BENCH_LIST,
    BENCH_OP_COUNT
};

/* "put", "get"... */
const char *bench_op_name(enum bench_op op);

/* Caps on what the command line may ask for. */
#define BENCH_MAX_CONCURRENCY 4096
#define BENCH_MAX_THREADS 64
#define BENCH_MAX_SIZE (64ull << 30)          /* one object: 64 GiB */
#define BENCH_PAYLOAD_MAX (16u << 20)          /* shared random buffer, repeated past this */
#define BENCH_LIST_BODY_MAX (16u << 20)        /* one ListObjectsV2 response */
#define BENCH_ERROR_BODY_MAX 2048              /* error body kept for the message */
#define BENCH_TOKEN_MAX 4096                   /* continuation token */
#define BENCH_STAMP_EVERY 4096                 /* see bench_payload_copy() */

struct bench_opts {
    const char *endpoint;     /* "http://127.0.0.1:9000", no trailing '/' */
    const char *access_key;
    const char *secret_key;
    const char *region;       /* "us-east-1" */
    const char *bucket;
    const char *url_template; /* --no-sign: "http://h:p/files/%s" */
    int sign;                 /* 0 with --no-sign */

    int mixed;                /* --op mixed */
    enum bench_op op;         /* the op when !mixed */
    unsigned mix[BENCH_OP_COUNT]; /* weights of a mixed run (list unused) */

    uint64_t size;            /* object size for put (and expected for get) */
    int size_given;
    unsigned concurrency;
    unsigned threads;
    uint64_t count;           /* 0: not bounded by count */
    double duration;          /* seconds, 0: not bounded by time */
    uint64_t keys;            /* key space: key-0 .. key-(keys-1) */
    int keys_given;
    uint64_t setup_keys;      /* --setup-keys N: PUT N keys first */
    const char *prefix;       /* key prefix and list prefix ("" none) */
    const char *delimiter;    /* list delimiter (NULL none) */
    unsigned max_keys;        /* list page size */
    int create_bucket;
    int same_content;         /* every PUT sends the same bytes (dedup path) */
    int sse;                  /* PUTs ask for SSE-S3 (x-amz-server-side-encryption: AES256) */
    long timeout;             /* per request, seconds */
    int progress;             /* 1: always, 0: when stderr is a terminal */
    int json;
    const char *label;        /* free text for the report ("cairn", "nginx") */
    int verbose;
};

/* ---- latency histogram (bench_hist.c) ---------------------------------- */

/*
 * Log-linear histogram of nanosecond values: exact below 128, and above
 * that 128 sub-buckets per power of two, so any reported percentile is
 * within 1/128 (0.8%) of the true value.  Fixed size, no allocation.
 */
#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_BUCKETS ((64 - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB)

struct bench_hist {
    uint64_t count;
    uint64_t max;             /* exact */
    uint64_t buckets[BENCH_HIST_BUCKETS];
};

void bench_hist_add(struct bench_hist *h, uint64_t value);
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from);
/* Value at quantile q (0..1): the midpoint of the bucket holding the
 * ceil(q*count)-th smallest value, capped at max; max itself for the
 * largest rank.  0 when empty. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);

/* ---- statistics -------------------------------------------------------- */

/* Counters the progress printer reads while workers update them. */
struct bench_counters {
    _Atomic uint64_t ops;     /* requests that succeeded */
    _Atomic uint64_t errors;  /* requests that failed (any reason) */
    _Atomic uint64_t bytes;   /* payload bytes sent (put) or received */
    _Atomic uint64_t keys;    /* list: keys + common prefixes seen */
};

struct bench_stats {
    struct bench_counters c;
    struct bench_hist hist;   /* worker-private until joined */
};

/* Result of one phase, merged over the workers. */
struct bench_result {
    enum bench_op op;
    uint64_t ops, errors, bytes, keys;
    double seconds;           /* start to the last completion */
    struct bench_hist hist;
};

/* ---- shared context (bench_engine.c) ----------------------------------- */

struct bench_ctx {
    const struct bench_opts *o;

    /* payload: random bytes made once; every PUT streams from it */
    unsigned char *payload;
    size_t payload_len;
    uint64_t nonce;           /* per run, goes into every stamp */

    char host[256];           /* Host header as curl sends it (signed) */

    /* mixed runs: one byte per key, BENCH_KEY_* bits */
    _Atomic unsigned char *key_state;

    /* the phase being run */
    enum bench_op phase_op;   /* ignored when phase_mixed */
    int phase_mixed;
    uint64_t phase_count;     /* 0: none */
    uint64_t phase_keys;
    uint64_t deadline_ns;     /* 0: none */
    _Atomic uint64_t issued;  /* requests started (claims op numbers) */
    _Atomic int stop;         /* set by SIGINT: start nothing new */
    _Atomic uint64_t seq;     /* PUT stamps: unique per request */
    _Atomic unsigned errors_printed; /* only the first few are printed */
};

#define BENCH_KEY_ABSENT 0x1  /* deleted in this mixed run */
#define BENCH_KEY_BUSY 0x2    /* a request on it is in flight */

/* Set up ctx for o (borrowed for ctx's life).  Prints why and returns -1
 * on failure; release with bench_ctx_release() either way. */
int bench_ctx_init(struct bench_ctx *ctx, const struct bench_opts *o);
void bench_ctx_release(struct bench_ctx *ctx);

/*
 * Fill dst[0..n) with bytes [off, off+n) of the object a PUT with stamp
 * number seq sends: the shared payload repeated, and unless --same-content
 * the first 24 bytes of every BENCH_STAMP_EVERY-byte block replaced with
 * (run nonce, seq, block number).  So no two PUTs, and no two blocks of
 * one PUT, carry the same bytes: cairn's content-defined dedup would
 * otherwise skip the writes after the first and flatter PUT numbers.
 */
void bench_payload_copy(const struct bench_ctx *ctx, uint64_t seq, uint64_t off,
                        unsigned char *dst, size_t n);

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/*
 * Run one phase: op (or the mix when mixed) bounded by count requests
 * and/or duration seconds over keys keys, with o->concurrency handles on
 * o->threads threads.  Prints progress when asked.  Fills out[op] for
 * every op (zeros for ops not run).  Returns 0, or -1 if the phase could
 * not start (curl setup); request failures are counted, not returned.
 */
int bench_run(struct bench_ctx *ctx, enum bench_op op, int mixed, uint64_t count,
              double duration, uint64_t keys, const char *phase_name,
              struct bench_result out[BENCH_OP_COUNT]);

/* One signed request outside the measured phases (create bucket): 0 if
 * the answer was 2xx or 409 BucketAlreadyOwnedByYou, else -1 (printed). */
int bench_create_bucket(const struct bench_ctx *ctx);

/* ---- list responses (bench_list.c) ------------------------------------ */

/* Append the ListObjectsV2 query (sorted, encoded) to out: list-type=2,
 * max-keys, prefix, delimiter, continuation-token (token may be "").
 * Returns 0 or -ENOSPC/-ENOMEM. */
struct buf;
int bench_list_query(const struct bench_opts *o, const char *token, struct buf *out);

/*
 * Parse a ListObjectsV2 body: *keys gets KeyCount (or the number of
 * Contents + CommonPrefixes), and token (reset first) gets
 * NextContinuationToken when IsTruncated is true, else stays empty.
 * Returns 0, or -1 if the body is not a ListBucketResult.
 */
int bench_list_parse(const char *body, size_t len, uint64_t *keys, struct buf *token);

/* ---- report (bench_report.c) ------------------------------------------ */

/* "4KiB", "32MiB", "1.5GiB", "100B". */
void bench_format_size(uint64_t size, char *out, size_t outlen);
/* Parse "4KiB", "4k", "32MiB", "32M", "1GiB", "100", "0", "10KB" (KB =
 * 1000).  Returns 0 or -1. */
int bench_parse_size(const char *s, uint64_t *out);

/* The table (stdout): the header once per process, then one row per
 * result; the JSON line (stdout, one object per line) when o->json. */
void bench_report_row(const struct bench_opts *o, const struct bench_result *r);
void bench_report_json(const struct bench_opts *o, const struct bench_result *r,
                       const char *phase);

#endif
