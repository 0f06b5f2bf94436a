/*
 * common/hash.h - digests, checksums and the encodings they travel in.
 *
 * One streaming interface covers every checksum S3 knows (MD5 for ETags and
 * Content-MD5, SHA-1/SHA-256 and the CRC family for x-amz-checksum-*), so a
 * PUT path can feed the same bytes to any set of them.
 *
 * Calling sequence: cksum_init(), cksum_update() any number of times,
 * cksum_final() exactly once (it also releases what init acquired).  If the
 * caller abandons a checksum before final, it calls cksum_release().
 *
 * Thread rules: a struct cksum belongs to one thread at a time; every other
 * function here is reentrant.
 */
#ifndef CAIRN_COMMON_HASH_H
#define CAIRN_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

enum cksum_alg {
    CKSUM_NONE = 0,
    CKSUM_MD5,
    CKSUM_SHA1,
    CKSUM_SHA256,
    CKSUM_CRC32,     /* IEEE 802.3, reflected: S3 "CRC32" */
    CKSUM_CRC32C,    /* Castagnoli: S3 "CRC32C", our shard checksum */
    CKSUM_CRC64NVME, /* NVMe CRC-64 (Rocksoft polynomial): S3 "CRC64NVME" */
    CKSUM_ALG_COUNT
};

#define CKSUM_MAX_LEN 32 /* largest digest: SHA-256 */

struct cksum {
    enum cksum_alg alg;
    void *md;        /* EVP_MD_CTX for the digest algorithms, else NULL */
    uint64_t crc;    /* running value for the CRC algorithms */
};

/* Digest length in bytes of alg (0 for CKSUM_NONE). */
size_t cksum_len(enum cksum_alg alg);

/* S3's name for alg as used in headers: "crc32", "crc32c", "crc64nvme",
 * "sha1", "sha256" (and "md5").  Lower case; "" for CKSUM_NONE. */
const char *cksum_name(enum cksum_alg alg);

/* Parse an algorithm name, case-insensitively ("CRC32C", "crc32c" ...).
 * Returns CKSUM_NONE when the name is unknown. */
enum cksum_alg cksum_from_name(const char *name, size_t len);

/* Set up c for alg.  Returns 0, or -ENOMEM. */
int cksum_init(struct cksum *c, enum cksum_alg alg);
void cksum_update(struct cksum *c, const void *data, size_t len);
/* Write the digest (cksum_len(alg) bytes, big-endian for CRCs as S3 sends
 * them) to out and release c.  Returns the digest length. */
size_t cksum_final(struct cksum *c, uint8_t out[CKSUM_MAX_LEN]);
/* Release c without producing a digest.  Safe on a released cksum. */
void cksum_release(struct cksum *c);

/* Whether alg is one of the CRCs (CRC32, CRC32C, CRC64NVME).  Their values
 * combine: the CRC of A||B follows from the CRCs of A and B and the length
 * of B, without the data (what S3's full-object multipart checksums need). */
int cksum_is_crc(enum cksum_alg alg);

/* CRC of A||B from crc(A) and crc(B): a (in/out) holds crc(A) and receives
 * the result, b holds crc(B), len_b is B's length in bytes.  Both are
 * digests as cksum_final writes them (cksum_len(alg) bytes, big-endian);
 * the CRC of empty data is all zero bytes, so a may start zeroed.  Returns
 * 0, or -EINVAL if alg is not a CRC (a untouched).  Reentrant. */
int cksum_crc_combine(enum cksum_alg alg, uint8_t *a, const uint8_t *b, uint64_t len_b);

/* One-shot helpers. */
void sha256(const void *data, size_t len, uint8_t out[32]);
void md5(const void *data, size_t len, uint8_t out[16]);
void hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                 uint8_t out[32]);

/* CRC32C (Castagnoli) of data, continuing from crc (start with 0).
 * Hardware accelerated through isa-l. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* Lower-case hex: writes 2*len characters and a NUL to out. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decode exactly outlen bytes from 2*outlen hex characters (either case).
 * Returns 0, or -1 if in is not that long or not hex (out untouched). */
int hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen);

/* Standard base64 with padding.  base64_encode writes a NUL-terminated
 * string of base64_encoded_len(len) characters.  base64_decode returns the
 * decoded length, or -1 on malformed input; out needs 3*inlen/4 bytes. */
size_t base64_encoded_len(size_t len);
void base64_encode(const uint8_t *in, size_t len, char *out);
long base64_decode(const char *in, size_t inlen, uint8_t *out);

#endif
