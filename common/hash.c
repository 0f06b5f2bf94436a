/* common/hash.c - see hash.h.  Digests come from OpenSSL, CRC32/CRC32C from
 * isa-l; CRC64NVME (not in the isa-l Debian ships) is a table-driven
 * slice-by-8 implementation here. */
#include "common/hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <isa-l/crc.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/md5.h"

static const struct {
    const char *name;
    size_t len;
} alg_info[CKSUM_ALG_COUNT] = {
    [CKSUM_NONE] = {"", 0},
    [CKSUM_MD5] = {"md5", 16},
    [CKSUM_SHA1] = {"sha1", 20},
    [CKSUM_SHA256] = {"sha256", 32},
    [CKSUM_CRC32] = {"crc32", 4},
    [CKSUM_CRC32C] = {"crc32c", 4},
    [CKSUM_CRC64NVME] = {"crc64nvme", 8},
};

size_t cksum_len(enum cksum_alg alg)
{
    return (unsigned)alg < CKSUM_ALG_COUNT ? alg_info[alg].len : 0;
}

const char *cksum_name(enum cksum_alg alg)
{
    return (unsigned)alg < CKSUM_ALG_COUNT ? alg_info[alg].name : "";
}

enum cksum_alg cksum_from_name(const char *name, size_t len)
{
    for (int a = 1; a < CKSUM_ALG_COUNT; a++)
        if (strlen(alg_info[a].name) == len && strncasecmp(alg_info[a].name, name, len) == 0)
            return (enum cksum_alg)a;
    return CKSUM_NONE;
}

/* CRC-64/NVME: reflected polynomial 0x9A6C9329AC4BC9B5, init and xorout all
 * ones.  Slice-by-8 tables built once. */
static uint64_t crc64_table[8][256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_build(void)
{
    const uint64_t poly = 0x9A6C9329AC4BC9B5ULL;
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int j = 0; j < 8; j++)
            c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        crc64_table[0][i] = c;
    }
    for (int i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc64_table[t][i] = (crc64_table[t - 1][i] >> 8) ^
                                crc64_table[0][crc64_table[t - 1][i] & 0xff];
}

static uint64_t crc64nvme_update(uint64_t crc, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8); /* little-endian host assumed (x86_64, aarch64) */
        crc ^= v;
        crc = crc64_table[7][crc & 0xff] ^ crc64_table[6][(crc >> 8) & 0xff] ^
              crc64_table[5][(crc >> 16) & 0xff] ^ crc64_table[4][(crc >> 24) & 0xff] ^
              crc64_table[3][(crc >> 32) & 0xff] ^ crc64_table[2][(crc >> 40) & 0xff] ^
              crc64_table[1][(crc >> 48) & 0xff] ^ crc64_table[0][crc >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc64_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

static const EVP_MD *digest_of(enum cksum_alg alg)
{
    switch (alg) {
    case CKSUM_SHA1: return EVP_sha1();
    case CKSUM_SHA256: return EVP_sha256();
    default: return NULL;
    }
}

int cksum_init(struct cksum *c, enum cksum_alg alg)
{
    const EVP_MD *md = digest_of(alg);
    c->alg = alg;
    c->md = NULL;
    c->crc = 0;
    if (alg == CKSUM_MD5) {
        /* our own MD5: large updates share SIMD lanes (common/md5.h) */
        if (!(c->md = malloc(sizeof(struct md5_ctx))))
            return -ENOMEM;
        md5_init(c->md);
    } else if (md) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL)) {
            EVP_MD_CTX_free(ctx);
            return -ENOMEM;
        }
        c->md = ctx;
    } else if (alg == CKSUM_CRC64NVME) {
        pthread_once(&crc64_once, crc64_build);
        c->crc = ~0ULL;
    }
    return 0;
}

void cksum_update(struct cksum *c, const void *data, size_t len)
{
    if (len == 0)
        return;
    switch (c->alg) {
    case CKSUM_MD5:
        md5_update(c->md, data, len);
        break;
    case CKSUM_SHA1:
    case CKSUM_SHA256:
        EVP_DigestUpdate(c->md, data, len);
        break;
    case CKSUM_CRC32:
        c->crc = crc32_gzip_refl((uint32_t)c->crc, data, len);
        break;
    case CKSUM_CRC32C:
        c->crc = crc32c((uint32_t)c->crc, data, len);
        break;
    case CKSUM_CRC64NVME:
        c->crc = crc64nvme_update(c->crc, data, len);
        break;
    default:
        break;
    }
}

static void put_be(uint8_t *out, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

size_t cksum_final(struct cksum *c, uint8_t out[CKSUM_MAX_LEN])
{
    size_t n = cksum_len(c->alg);
    if (c->alg == CKSUM_MD5 && c->md) {
        md5_final(c->md, out);
    } else if (c->md) {
        unsigned int l = 0;
        EVP_DigestFinal_ex(c->md, out, &l);
    } else if (c->alg == CKSUM_CRC64NVME) {
        put_be(out, ~c->crc, 8);
    } else if (n == 4) {
        put_be(out, c->crc, 4);
    }
    cksum_release(c);
    return n;
}

void cksum_release(struct cksum *c)
{
    if (c->alg == CKSUM_MD5)
        free(c->md);
    else
        EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

/* ---- CRC combination ------------------------------------------------
 *
 * The three CRCs are reflected, with init and final xor all ones.  For
 * such a CRC, crc(A||B) = crc(A) * x^(8*len(B)) mod P  xor  crc(B): the
 * all-ones init and xorout cancel (the reasoning of zlib's crc32_combine).
 * Polynomials are in the reflected bit order the tables above use: the
 * top bit of a width-bit value is x^0. */

struct crc_poly {
    uint64_t poly;  /* reflected */
    unsigned width; /* 32 or 64 */
};

static int crc_poly_of(enum cksum_alg alg, struct crc_poly *p)
{
    switch (alg) {
    case CKSUM_CRC32: *p = (struct crc_poly){0xEDB88320u, 32}; return 0;
    case CKSUM_CRC32C: *p = (struct crc_poly){0x82F63B78u, 32}; return 0;
    case CKSUM_CRC64NVME: *p = (struct crc_poly){0x9A6C9329AC4BC9B5ULL, 64}; return 0;
    default: return -EINVAL;
    }
}

/* a * b mod P, both reflected polynomials of p->width bits. */
static uint64_t gf2_mulmod(uint64_t a, uint64_t b, const struct crc_poly *p)
{
    uint64_t m = 1ULL << (p->width - 1), prod = 0;
    while (m) {
        if (a & m)
            prod ^= b;
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ p->poly : b >> 1;
    }
    return prod;
}

/* x^(8n) mod P, by squaring. */
static uint64_t x_pow_8n(uint64_t n, const struct crc_poly *p)
{
    uint64_t one = 1ULL << (p->width - 1);
    uint64_t sq = one >> 1; /* x^1 */
    for (int i = 0; i < 3; i++)
        sq = gf2_mulmod(sq, sq, p); /* x^2, x^4, x^8 */
    uint64_t r = one;
    while (n) {
        if (n & 1)
            r = gf2_mulmod(sq, r, p);
        sq = gf2_mulmod(sq, sq, p);
        n >>= 1;
    }
    return r;
}

static uint64_t get_be(const uint8_t *in, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | in[i];
    return v;
}

int cksum_is_crc(enum cksum_alg alg)
{
    struct crc_poly p;
    return crc_poly_of(alg, &p) == 0;
}

int cksum_crc_combine(enum cksum_alg alg, uint8_t *a, const uint8_t *b, uint64_t len_b)
{
    struct crc_poly p;
    if (crc_poly_of(alg, &p) != 0)
        return -EINVAL;
    size_t n = p.width / 8;
    uint64_t crc = gf2_mulmod(x_pow_8n(len_b, &p), get_be(a, n), &p) ^ get_be(b, n);
    put_be(a, crc, n);
    return 0;
}

void sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int l = 32;
    EVP_Digest(data, len, out, &l, EVP_sha256(), NULL);
}

void md5(const void *data, size_t len, uint8_t out[16])
{
    struct md5_ctx c;
    md5_init(&c);
    md5_update(&c, data, len);
    md5_final(&c, out);
}

void hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                 uint8_t out[32])
{
    unsigned int l = 32;
    HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &l);
}

uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
    /* isa-l's crc32_iscsi works on the raw register: invert around it to get
     * the standard CRC-32C (init and xorout all ones). */
    return ~crc32_iscsi((unsigned char *)data, (int)len, ~crc);
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
    if (inlen != 2 * outlen)
        return -1;
    for (size_t i = 0; i < inlen; i++)
        if (hexval(in[i]) < 0)
            return -1;
    for (size_t i = 0; i < outlen; i++)
        out[i] = (uint8_t)(hexval(in[2 * i]) << 4 | hexval(in[2 * i + 1]));
    return 0;
}

size_t base64_encoded_len(size_t len)
{
    return 4 * ((len + 2) / 3);
}

void base64_encode(const uint8_t *in, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

long base64_decode(const char *in, size_t inlen, uint8_t *out)
{
    if (inlen % 4 != 0)
        return -1;
    if (inlen == 0)
        return 0;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)inlen);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock counts padding as zero bytes; take them back off. */
    if (in[inlen - 1] == '=') n--;
    if (in[inlen - 2] == '=') n--;
    return n;
}
