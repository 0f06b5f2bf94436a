/*
 * common/sse_crypto.h - the cryptography of server-side encryption:
 * key domains, convergent chunk ids, AES-256-GCM sealing, the SSE-C key
 * check, and the master key file.  docs/encryption.md is the design; this
 * header is the exact contract.
 *
 * Key domains.  Every encrypted byte belongs to one domain, named by a
 * 32-byte domain key:
 *   - SSE-S3: one domain for the whole store,
 *     D = HKDF-SHA256(ikm = master key, salt = "", info = "cairn sse-s3 v1");
 *   - SSE-C: one domain per customer key,
 *     D = HKDF-SHA256(ikm = customer key, salt = "", info = "cairn sse-c v1").
 *
 * A chunk of plaintext P in domain D:
 *   seed  = HMAC-SHA256(D, "cairn chunk id v1" || SHA-256(P))  (its chunk id)
 *   K||N  = HKDF-Expand(D, info = "cairn chunk key v1" || seed, 44 bytes)
 *   sealed = AES-256-GCM(K, nonce N, aad = seed, P) || 16-byte tag
 * So identical plaintext in one domain gives the identical id and sealed
 * bytes (dedup works inside a domain), nothing is shared across domains,
 * and an id reveals nothing of SHA-256(P) without D.  Each key K seals one
 * plaintext only (K is a function of P), so the fixed nonce is never
 * reused with a different message.  Small (inline) objects are sealed the
 * same way under a random seed (no dedup wanted, no equality leaked).
 *
 * All functions are reentrant and thread-safe.  Errors: 0 or a negative
 * value (SSE_EAUTH, -ENOMEM, -EIO for an OpenSSL failure, other -errno).
 */
#ifndef CAIRN_COMMON_SSE_CRYPTO_H
#define CAIRN_COMMON_SSE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define SSE_KEY_LEN 32   /* master, customer and domain keys */
#define SSE_SEED_LEN 32  /* a sealed chunk's id / an inline object's seed */
#define SSE_TAG_LEN 16   /* GCM tag appended to every sealed payload */
#define SSE_CHECK_LEN 48 /* SSE-C key check: 16-byte salt || 32-byte HMAC */

enum sse_error {
    SSE_EAUTH = -34000, /* GCM tag mismatch: wrong key or altered bytes */
};

/* A domain key (see above).  Plain data: copy freely, wipe with
 * sse_domain_wipe when done. */
struct sse_domain {
    uint8_t key[SSE_KEY_LEN];
};

/* Derive the SSE-S3 domain from the master key, or an SSE-C domain from a
 * customer key (both SSE_KEY_LEN bytes, borrowed).  0 or -EIO. */
int sse_domain_s3(const uint8_t master[SSE_KEY_LEN], struct sse_domain *out);
int sse_domain_customer(const uint8_t customer_key[SSE_KEY_LEN], struct sse_domain *out);
void sse_domain_wipe(struct sse_domain *d);

/* The id of a chunk whose plaintext has SHA-256 plain_sha256, in domain d:
 * the seed of sse_seal.  Deterministic. */
void sse_chunk_id(const struct sse_domain *d, const uint8_t plain_sha256[32],
                  uint8_t id[SSE_SEED_LEN]);

/* Seal len bytes of in (len >= 1, <= 1 GiB) under d and seed into out,
 * which receives len + SSE_TAG_LEN bytes (ciphertext then tag).  in and
 * out may be the same buffer (then it must hold len + SSE_TAG_LEN).
 * 0 or -EIO / -EINVAL. */
int sse_seal(const struct sse_domain *d, const uint8_t seed[SSE_SEED_LEN], const void *in,
             size_t len, uint8_t *out);

/* Open a sealed payload of len bytes (>= SSE_TAG_LEN + 1) into out
 * (len - SSE_TAG_LEN bytes; may be in itself).  SSE_EAUTH if the tag does
 * not verify (a wrong domain or seed, or altered bytes): out then holds no
 * plaintext (it is zeroed).  0, SSE_EAUTH, -EINVAL or -EIO. */
int sse_open(const struct sse_domain *d, const uint8_t seed[SSE_SEED_LEN], const void *in,
             size_t len, uint8_t *out);

/* SSE-C: what the store keeps to recognise a customer key without keeping
 * the key: salt || HMAC-SHA256(key, "cairn sse-c check v1" || salt).
 * sse_key_check_new draws a fresh random salt (0 or -EIO);
 * sse_key_check_verify returns 1 if key matches check, else 0
 * (constant-time comparison). */
int sse_key_check_new(const uint8_t key[SSE_KEY_LEN], uint8_t check[SSE_CHECK_LEN]);
int sse_key_check_verify(const uint8_t key[SSE_KEY_LEN], const uint8_t check[SSE_CHECK_LEN]);

/* The master key's public fingerprint (hex, 64 characters + NUL):
 * HMAC-SHA256(master, "cairn master key check v1").  Kept in the data
 * folder so that a start with another key file is refused. */
void sse_master_fingerprint(const uint8_t master[SSE_KEY_LEN], char out[65]);

/*
 * The master key file: 64 hex characters (optionally followed by a
 * newline), nothing else.  sse_keyfile_load reads path into key.  If the
 * file does not exist and create is set, a fresh random key is written
 * there first (mode 0600, durably: temporary name, fsync, rename, fsync of
 * the folder) and *created is set to 1.  A file readable or writable by
 * group or others is refused (-EPERM), as is malformed content (-EINVAL).
 * Returns 0 or -errno (-ENOENT: absent and not created).
 */
int sse_keyfile_load(const char *path, int create, uint8_t key[SSE_KEY_LEN], int *created);

#endif
