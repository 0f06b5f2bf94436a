/*
 * common/md5.c - MD5 (RFC 1321), one stream per call or sixteen at once;
 * see md5.h for the scheme.
 */
#include "common/md5.h"

#include <immintrin.h>
#include <pthread.h>
#include <string.h>

/* Per-step constants: K[i] = floor(abs(sin(i + 1)) * 2^32), the shift of
 * each step, and which message word it adds (RFC 1321, 3.4). */
static const uint32_t K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
    0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
    0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
    0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
    0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
    0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
    0xeb86d391,
};
/* The shift of step i, as a constant expression (vector rotate counts are
 * immediates, also in unoptimised builds). */
#define MD5_SHIFT4(j, s0, s1, s2, s3) ((j) == 0 ? (s0) : (j) == 1 ? (s1) : (j) == 2 ? (s2) : (s3))
#define MD5_SHIFT(i)                                                  \
    ((i) < 16   ? MD5_SHIFT4((i) & 3, 7, 12, 17, 22)                  \
     : (i) < 32 ? MD5_SHIFT4((i) & 3, 5, 9, 14, 20)                   \
     : (i) < 48 ? MD5_SHIFT4((i) & 3, 4, 11, 16, 23)                  \
                : MD5_SHIFT4((i) & 3, 6, 10, 15, 21))

static inline uint32_t word_index(int i)
{
    switch (i >> 4) {
    case 0: return (uint32_t)i;
    case 1: return (uint32_t)(5 * i + 1) & 15;
    case 2: return (uint32_t)(3 * i + 5) & 15;
    default: return (uint32_t)(7 * i) & 15;
    }
}

/* ---- One stream -------------------------------------------------------- */

static inline uint32_t rol32(uint32_t x, int s)
{
    return x << s | x >> (32 - s);
}

static void md5_blocks_scalar(uint32_t h[4], const uint8_t *p, size_t nblocks)
{
    for (; nblocks; nblocks--, p += 64) {
        uint32_t m[16];
        memcpy(m, p, 64); /* MD5 words are little-endian, as is x86 */
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
#pragma GCC unroll 64
        for (int i = 0; i < 64; i++) {
            uint32_t f;
            switch (i >> 4) {
            case 0: f = d ^ (b & (c ^ d)); break;
            case 1: f = c ^ (d & (b ^ c)); break;
            case 2: f = b ^ c ^ d; break;
            default: f = c ^ (b | ~d); break;
            }
            uint32_t t = d;
            d = c;
            c = b;
            b = b + rol32(a + f + K[i] + m[word_index(i)], MD5_SHIFT(i));
            a = t;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
    }
}

/* ---- Sixteen streams: one per 32-bit lane of a zmm register -------------- */

/* rows[i] holds lane i's block (words 0..15); afterwards rows[j] holds word
 * j of every lane.  Four rounds of shuffles: 32-bit interleave, 64-bit
 * interleave, then two 128-bit lane permutations. */
__attribute__((target("avx512f"))) static inline void transpose16(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* u[4i + c], 128-bit lane L: word 4L + c of rows 4i .. 4i + 3 */
    for (int i = 0; i < 4; i++) {
        u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int c = 0; c < 4; c++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44);
        __m512i w0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xee);
        __m512i v1 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
        __m512i w1 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xee);
        r[c] = _mm512_shuffle_i32x4(v0, v1, 0x88);
        r[4 + c] = _mm512_shuffle_i32x4(v0, v1, 0xdd);
        r[8 + c] = _mm512_shuffle_i32x4(w0, w1, 0x88);
        r[12 + c] = _mm512_shuffle_i32x4(w0, w1, 0xdd);
    }
}

/* The four round functions as vpternlogd truth tables over (b, c, d):
 * F = b ? c : d, G = d ? b : c, H = b ^ c ^ d, I = c ^ (b | ~d). */
#define MD5_STEP(fn, a, b, c, d, i)                                                             \
    a = _mm512_add_epi32(                                                                       \
        b, _mm512_rol_epi32(                                                                    \
               _mm512_add_epi32(_mm512_add_epi32(a, _mm512_ternarylogic_epi32(b, c, d, fn)),    \
                                _mm512_add_epi32(m[word_index(i)], _mm512_set1_epi32((int)K[i]))), \
               MD5_SHIFT(i)))
#define MD5_4STEPS(fn, i)                  \
    MD5_STEP(fn, a, b, c, d, (i));         \
    MD5_STEP(fn, d, a, b, c, (i) + 1);     \
    MD5_STEP(fn, c, d, a, b, (i) + 2);     \
    MD5_STEP(fn, b, c, d, a, (i) + 3)
#define MD5_16STEPS(fn, i)     \
    MD5_4STEPS(fn, (i));       \
    MD5_4STEPS(fn, (i) + 4);   \
    MD5_4STEPS(fn, (i) + 8);   \
    MD5_4STEPS(fn, (i) + 12)

__attribute__((target("avx512f"))) static void x16_blocks(uint32_t h[16][4],
                                                          const uint8_t *const p[16],
                                                          size_t nblocks)
{
    const __m512i lane_rows = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48,
                                                52, 56, 60);
    /* h is lane-major (h[lane][word]): gather word w of every lane */
    __m512i a = _mm512_i32gather_epi32(lane_rows, &h[0][0], 4);
    __m512i b = _mm512_i32gather_epi32(lane_rows, &h[0][1], 4);
    __m512i c = _mm512_i32gather_epi32(lane_rows, &h[0][2], 4);
    __m512i d = _mm512_i32gather_epi32(lane_rows, &h[0][3], 4);
    for (size_t blk = 0; blk < nblocks; blk++) {
        __m512i m[16];
        for (int i = 0; i < 16; i++)
            m[i] = _mm512_loadu_si512((const void *)(p[i] + 64 * blk));
        transpose16(m);
        __m512i a0 = a, b0 = b, c0 = c, d0 = d;
        MD5_16STEPS(0xca, 0);
        MD5_16STEPS(0xe4, 16);
        MD5_16STEPS(0x96, 32);
        MD5_16STEPS(0x39, 48);
        a = _mm512_add_epi32(a, a0);
        b = _mm512_add_epi32(b, b0);
        c = _mm512_add_epi32(c, c0);
        d = _mm512_add_epi32(d, d0);
    }
    _mm512_i32scatter_epi32(&h[0][0], lane_rows, a, 4);
    _mm512_i32scatter_epi32(&h[0][1], lane_rows, b, 4);
    _mm512_i32scatter_epi32(&h[0][2], lane_rows, c, 4);
    _mm512_i32scatter_epi32(&h[0][3], lane_rows, d, 4);
}

int md5_lanes_available(void)
{
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
}

void md5_x16_blocks(uint32_t h[16][4], const uint8_t *const p[16], size_t nblocks)
{
    x16_blocks(h, p, nblocks);
}

/* ---- The shared lanes ------------------------------------------------- */

#define LANES 16
#define SLICE_BLOCKS 256   /* 16 KiB a lane between looks at the queue */
#define SHARED_MIN_BLOCKS 64 /* smaller updates (under 4 KiB) hash inline */

/* One md5_update's whole blocks, queued or in a lane.  It lives on the
 * updating thread's stack; the combiner advances p, nblocks and *h. */
struct lane_job {
    uint32_t *h;
    const uint8_t *p;
    size_t nblocks;
    int done;      /* all blocks hashed: the owner may return */
    int promoted;  /* the owner is to take the combiner role */
    pthread_cond_t cv;
    struct lane_job *next;
};

static struct {
    pthread_mutex_t lock;
    struct lane_job *head, *tail; /* queued for a lane */
    struct lane_job *lane[LANES];
    int combining;                /* some thread holds the combiner role */
    int jobs;                     /* queued or in a lane */
    int solo;                     /* large updates hashing on their own */
    struct md5_stats stats;
} shared = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int force_scalar;
static const uint8_t idle_lane[SLICE_BLOCKS * 64]; /* idle lanes hash zeros */

void md5_force_scalar(int on)
{
    force_scalar = on;
}

void md5_stats_get(struct md5_stats *out)
{
    pthread_mutex_lock(&shared.lock);
    *out = shared.stats;
    pthread_mutex_unlock(&shared.lock);
}

/* The combiner role, with shared.lock held (dropped while hashing).  Runs
 * slices over the lanes, refilling them from the queue, until nothing is
 * left (role released) or me is done while others are not (role handed to
 * a lane's owner, who is waiting).  On return me->done is set. */
static void combine(struct lane_job *me)
{
    for (;;) {
        int active = 0, single = -1;
        size_t n = SLICE_BLOCKS;
        for (int i = 0; i < LANES; i++) {
            if (!shared.lane[i] && shared.head) {
                shared.lane[i] = shared.head;
                if (!(shared.head = shared.head->next))
                    shared.tail = NULL;
            }
            if (shared.lane[i]) {
                active++;
                single = i;
                if (shared.lane[i]->nblocks < n)
                    n = shared.lane[i]->nblocks;
            }
        }
        if (!active) {
            shared.combining = 0;
            return;
        }
        if (me->done) {
            shared.lane[single]->promoted = 1;
            pthread_cond_signal(&shared.lane[single]->cv);
            return;
        }
        /* Lanes belong to the combiner: no one else touches them, so the
         * hashing runs unlocked. */
        pthread_mutex_unlock(&shared.lock);
        if (active == 1) {
            struct lane_job *j = shared.lane[single];
            md5_blocks_scalar(j->h, j->p, n);
        } else {
            uint32_t h[LANES][4];
            const uint8_t *p[LANES];
            for (int i = 0; i < LANES; i++) {
                struct lane_job *j = shared.lane[i];
                p[i] = j ? j->p : idle_lane;
                if (j)
                    memcpy(h[i], j->h, sizeof h[i]);
                else
                    memset(h[i], 0, sizeof h[i]);
            }
            x16_blocks(h, p, n);
            for (int i = 0; i < LANES; i++)
                if (shared.lane[i])
                    memcpy(shared.lane[i]->h, h[i], sizeof h[i]);
        }
        pthread_mutex_lock(&shared.lock);
        if (active == 1) {
            shared.stats.scalar_slices++;
        } else {
            shared.stats.lane_slices++;
            shared.stats.lanes += (uint64_t)active;
        }
        for (int i = 0; i < LANES; i++) {
            struct lane_job *j = shared.lane[i];
            if (!j)
                continue;
            j->p += 64 * n;
            if ((j->nblocks -= n) == 0) {
                j->done = 1;
                shared.jobs--;
                shared.lane[i] = NULL;
                if (j != me)
                    pthread_cond_signal(&j->cv);
            }
        }
    }
}

/* Hash nblocks whole blocks into h, through the shared lanes when that
 * pays.  Sixteen lanes cost one core the same whether two or sixteen are
 * busy, and one lane runs slower than the scalar code, so an update joins
 * the lanes only when at least SHARE_AT other large updates are under way
 * (shared or solo); otherwise it hashes on its own thread, and two or
 * three streams use the cores in parallel as they would without lanes. */
#define SHARE_AT 2
static void md5_blocks(uint32_t h[4], const uint8_t *p, size_t nblocks)
{
    if (nblocks < SHARED_MIN_BLOCKS || force_scalar || !md5_lanes_available()) {
        md5_blocks_scalar(h, p, nblocks);
        return;
    }
    pthread_mutex_lock(&shared.lock);
    if (shared.jobs + shared.solo < SHARE_AT) {
        shared.solo++;
        shared.stats.solo_updates++;
        pthread_mutex_unlock(&shared.lock);
        md5_blocks_scalar(h, p, nblocks);
        pthread_mutex_lock(&shared.lock);
        shared.solo--;
        pthread_mutex_unlock(&shared.lock);
        return;
    }
    struct lane_job job = {.h = h, .p = p, .nblocks = nblocks};
    pthread_cond_init(&job.cv, NULL);
    shared.jobs++;
    shared.stats.shared_updates++;
    if (shared.tail)
        shared.tail->next = &job;
    else
        shared.head = &job;
    shared.tail = &job;
    if (!shared.combining) {
        shared.combining = 1;
        combine(&job);
    }
    while (!job.done) {
        if (job.promoted) {
            job.promoted = 0;
            combine(&job);
            continue;
        }
        pthread_cond_wait(&job.cv, &shared.lock);
    }
    pthread_mutex_unlock(&shared.lock);
    pthread_cond_destroy(&job.cv);
}

/* ---- Streaming interface ------------------------------------------------ */

void md5_init(struct md5_ctx *c)
{
    c->h[0] = 0x67452301;
    c->h[1] = 0xefcdab89;
    c->h[2] = 0x98badcfe;
    c->h[3] = 0x10325476;
    c->len = 0;
}

void md5_update(struct md5_ctx *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t have = (size_t)(c->len % 64);
    c->len += len;
    if (have) {
        size_t take = 64 - have < len ? 64 - have : len;
        memcpy(c->buf + have, p, take);
        p += take;
        len -= take;
        if (have + take < 64)
            return;
        md5_blocks_scalar(c->h, c->buf, 1);
    }
    if (len >= 64) {
        md5_blocks(c->h, p, len / 64);
        p += len / 64 * 64;
        len %= 64;
    }
    memcpy(c->buf, p, len);
}

void md5_final(struct md5_ctx *c, uint8_t out[16])
{
    uint64_t bits = c->len * 8;
    size_t have = (size_t)(c->len % 64);
    c->buf[have++] = 0x80;
    if (have > 56) {
        memset(c->buf + have, 0, 64 - have);
        md5_blocks_scalar(c->h, c->buf, 1);
        have = 0;
    }
    memset(c->buf + have, 0, 56 - have);
    for (int i = 0; i < 8; i++)
        c->buf[56 + i] = (uint8_t)(bits >> (8 * i));
    md5_blocks_scalar(c->h, c->buf, 1);
    memcpy(out, c->h, 16);
}
