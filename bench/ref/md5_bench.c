/*
 * cairn-md5-bench: MD5 throughput of cairn's shared-lane MD5 (common/md5.h)
 * against OpenSSL's, in the same run, for T threads each hashing its own
 * stream the way PUT bodies arrive (updates of --piece bytes).
 *
 *   cairn-md5-bench [--threads 1,4,16] [--mib 64] [--piece 256] [--rounds 3]
 *
 * Prints aggregate MB/s per (threads, implementation) as the median of the
 * rounds (the implementations alternate within a round, so a noisy
 * neighbour hurts both alike), the ratio cairn / OpenSSL, and the mean lane
 * occupancy of the sixteen-lane kernel.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/md5.h"

#define MAX_THREADS 64
#define MAX_ROUNDS 15

struct worker {
    pthread_t tid;
    pthread_barrier_t *start;
    int use_openssl;
    const uint8_t *data;
    size_t len, piece;
    uint8_t digest[16];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    if (w->use_openssl) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned int l = 0;
        EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
        for (size_t off = 0; off < w->len; off += w->piece)
            EVP_DigestUpdate(ctx, w->data + off, w->len - off < w->piece ? w->len - off : w->piece);
        EVP_DigestFinal_ex(ctx, w->digest, &l);
        EVP_MD_CTX_free(ctx);
    } else {
        struct md5_ctx c;
        md5_init(&c);
        for (size_t off = 0; off < w->len; off += w->piece)
            md5_update(&c, w->data + off, w->len - off < w->piece ? w->len - off : w->piece);
        md5_final(&c, w->digest);
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Aggregate MB/s of nthreads streams of len bytes each; 0 on a mismatch
 * between the two implementations' digests. */
static double run(int nthreads, int use_openssl, uint8_t *const *data, size_t len, size_t piece,
                  uint8_t (*digests)[16])
{
    struct worker w[MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){.start = &start, .use_openssl = use_openssl, .data = data[i],
                               .len = len, .piece = piece};
        pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
    }
    pthread_barrier_wait(&start);
    double t0 = now_s();
    for (int i = 0; i < nthreads; i++)
        pthread_join(w[i].tid, NULL);
    double secs = now_s() - t0;
    pthread_barrier_destroy(&start);
    for (int i = 0; i < nthreads; i++) {
        if (use_openssl)
            memcpy(digests[i], w[i].digest, 16);
        else if (memcmp(digests[i], w[i].digest, 16) != 0)
            return 0;
    }
    return (double)nthreads * (double)len / secs / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    const char *threads_arg = "1,4,16";
    size_t mib = 64, piece_kib = 256;
    int rounds = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads_arg = argv[++i];
        } else if (!strcmp(argv[i], "--mib") && i + 1 < argc) {
            mib = strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--piece") && i + 1 < argc) {
            piece_kib = strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else {
            fprintf(stderr,
                    "usage: cairn-md5-bench [--threads 1,4,16] [--mib 64] [--piece KIB]"
                    " [--rounds 3]\n"
                    "  T threads each hash their own MIB MiB stream in updates of KIB KiB,\n"
                    "  with OpenSSL's MD5 and with cairn's shared-lane MD5, alternately.\n");
            return 2;
        }
    }
    if (!mib || !piece_kib || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "cairn-md5-bench: bad --mib, --piece or --rounds\n");
        return 2;
    }
    size_t len = mib << 20, piece = piece_kib << 10;
    printf("sixteen-lane kernel (AVX-512F): %s\n", md5_lanes_available() ? "yes" : "no");
    printf("%8s %14s %14s %8s %10s\n", "threads", "openssl MB/s", "cairn MB/s", "ratio",
           "mean lanes");
    char *list = strdup(threads_arg);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int nt = atoi(tok);
        if (nt < 1 || nt > MAX_THREADS) {
            fprintf(stderr, "cairn-md5-bench: threads must be 1..%d\n", MAX_THREADS);
            return 2;
        }
        uint8_t *data[MAX_THREADS], digests[MAX_THREADS][16];
        for (int i = 0; i < nt; i++) {
            if (!(data[i] = malloc(len))) {
                fprintf(stderr, "cairn-md5-bench: out of memory\n");
                return 1;
            }
            for (size_t j = 0; j < len; j++)
                data[i][j] = (uint8_t)(j * 131 + (size_t)i * 7 + (j >> 12));
        }
        double ossl[MAX_ROUNDS], ours[MAX_ROUNDS];
        struct md5_stats s0, s1;
        md5_stats_get(&s0);
        for (int r = 0; r < rounds; r++) {
            ossl[r] = run(nt, 1, data, len, piece, digests);
            ours[r] = run(nt, 0, data, len, piece, digests);
            if (ours[r] == 0) {
                fprintf(stderr, "cairn-md5-bench: digests differ from OpenSSL's\n");
                return 1;
            }
        }
        md5_stats_get(&s1);
        double o = median(ossl, rounds), c = median(ours, rounds);
        uint64_t slices = s1.lane_slices - s0.lane_slices;
        printf("%8d %14.0f %14.0f %7.2fx %10.1f\n", nt, o, c, c / o,
               slices ? (double)(s1.lanes - s0.lanes) / (double)slices : 0.0);
        for (int i = 0; i < nt; i++)
            free(data[i]);
    }
    free(list);
    return 0;
}
