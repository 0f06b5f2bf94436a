/*
 * common/sse_crypto.c - see sse_crypto.h (the contract) and
 * docs/encryption.md (the design).  OpenSSL EVP does HKDF and HMAC-SHA256.
 * AES-256-GCM is Intel's multi-buffer crypto library on x86-64: its VAES
 * and VPCLMULQDQ code opens a chunk 3-4x faster than OpenSSL 3.0 (which
 * has no such path) on CPUs that have them, which is what keeps an SSE-S3
 * GET close to a plain one.  Elsewhere OpenSSL EVP does it.  Both are
 * standard AES-GCM: test_common_sse pins the sealed bytes.
 */
#include "common/sse_crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#ifdef CAIRN_HAVE_IPSEC_MB
#include <intel-ipsec-mb.h>
#include <pthread.h>
#endif

#include "common/buf.h"
#include "common/file.h"
#include "common/hash.h"

#define SSE_GCM_KEY 32
#define SSE_GCM_NONCE 12
#define SSE_MAX_SEAL (1u << 30)

/* HKDF-SHA256 into out (outlen bytes).  expand_only: key is already a
 * uniformly random key (a domain key), so only the Expand step runs. */
static int hkdf(const uint8_t *key, size_t keylen, int expand_only, const uint8_t *info,
                size_t infolen, uint8_t *out, size_t outlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    int ok = ctx && EVP_PKEY_derive_init(ctx) > 0 &&
             EVP_PKEY_CTX_set_hkdf_mode(ctx, expand_only ? EVP_PKEY_HKDEF_MODE_EXPAND_ONLY
                                                         : EVP_PKEY_HKDEF_MODE_EXTRACT_AND_EXPAND) > 0 &&
             EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) > 0 &&
             EVP_PKEY_CTX_set1_hkdf_key(ctx, key, (int)keylen) > 0 &&
             EVP_PKEY_CTX_add1_hkdf_info(ctx, info, (int)infolen) > 0 &&
             EVP_PKEY_derive(ctx, out, &outlen) > 0;
    EVP_PKEY_CTX_free(ctx);
    return ok ? 0 : -EIO;
}

static int domain_from(const uint8_t ikm[SSE_KEY_LEN], const char *label, struct sse_domain *out)
{
    return hkdf(ikm, SSE_KEY_LEN, 0, (const uint8_t *)label, strlen(label), out->key,
                SSE_KEY_LEN);
}

int sse_domain_s3(const uint8_t master[SSE_KEY_LEN], struct sse_domain *out)
{
    return domain_from(master, "cairn sse-s3 v1", out);
}

int sse_domain_customer(const uint8_t customer_key[SSE_KEY_LEN], struct sse_domain *out)
{
    return domain_from(customer_key, "cairn sse-c v1", out);
}

void sse_domain_wipe(struct sse_domain *d)
{
    OPENSSL_cleanse(d->key, sizeof d->key);
}

/* HMAC-SHA256(key, label || data) */
static void labelled_hmac(const uint8_t *key, size_t keylen, const char *label,
                          const uint8_t *data, size_t len, uint8_t out[32])
{
    uint8_t msg[64 + 64];
    size_t ll = strlen(label);
    memcpy(msg, label, ll);
    if (len)
        memcpy(msg + ll, data, len);
    hmac_sha256(key, keylen, msg, ll + len, out);
    OPENSSL_cleanse(msg, sizeof msg);
}

void sse_chunk_id(const struct sse_domain *d, const uint8_t plain_sha256[32],
                  uint8_t id[SSE_SEED_LEN])
{
    labelled_hmac(d->key, SSE_KEY_LEN, "cairn chunk id v1", plain_sha256, 32, id);
}

/* Per-seed AES key and nonce. */
static int chunk_key(const struct sse_domain *d, const uint8_t seed[SSE_SEED_LEN],
                     uint8_t kn[SSE_GCM_KEY + SSE_GCM_NONCE])
{
    static const char label[] = "cairn chunk key v1";
    uint8_t info[sizeof label - 1 + SSE_SEED_LEN];
    memcpy(info, label, sizeof label - 1);
    memcpy(info + sizeof label - 1, seed, SSE_SEED_LEN);
    return hkdf(d->key, SSE_KEY_LEN, 1, info, sizeof info, kn, SSE_GCM_KEY + SSE_GCM_NONCE);
}

#ifdef CAIRN_HAVE_IPSEC_MB
/* One manager for the process: the direct GCM calls keep all their state
 * in the key and context structs, the manager only picks the code for this
 * CPU, so every thread can use it. */
static IMB_MGR *gcm_mgr;
static pthread_once_t gcm_mgr_once = PTHREAD_ONCE_INIT;

static void gcm_mgr_init(void)
{
    IMB_MGR *m = alloc_mb_mgr(0);
    if (m)
        init_mb_mgr_auto(m, NULL);
    gcm_mgr = m;
}

static int gcm_with_key(const uint8_t kn[SSE_GCM_KEY + SSE_GCM_NONCE],
                        const uint8_t seed[SSE_SEED_LEN], int encrypt, const void *in, size_t plen,
                        uint8_t *out, uint8_t tag[SSE_TAG_LEN])
{
    /* The header gives gcm_key_data its 64-byte alignment only when LINUX
     * is defined; the assembly relies on it, so ask for it here. */
    _Alignas(64) struct gcm_key_data key;
    struct gcm_context_data ctx;
    uint8_t got[SSE_TAG_LEN];
    int rc = 0;
    pthread_once(&gcm_mgr_once, gcm_mgr_init);
    if (!gcm_mgr)
        return -ENOMEM;
    IMB_AES256_GCM_PRE(gcm_mgr, kn, &key);
    IMB_AES256_GCM_INIT(gcm_mgr, &key, &ctx, kn + SSE_GCM_KEY, seed, SSE_SEED_LEN);
    if (encrypt) {
        IMB_AES256_GCM_ENC_UPDATE(gcm_mgr, &key, &ctx, out, in, plen);
        IMB_AES256_GCM_ENC_FINALIZE(gcm_mgr, &key, &ctx, tag, SSE_TAG_LEN);
    } else {
        IMB_AES256_GCM_DEC_UPDATE(gcm_mgr, &key, &ctx, out, in, plen);
        IMB_AES256_GCM_DEC_FINALIZE(gcm_mgr, &key, &ctx, got, SSE_TAG_LEN);
        if (CRYPTO_memcmp(got, tag, SSE_TAG_LEN) != 0)
            rc = SSE_EAUTH;
    }
    OPENSSL_cleanse(&key, sizeof key);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    return rc;
}
#else
static int gcm_with_key(const uint8_t kn[SSE_GCM_KEY + SSE_GCM_NONCE],
                        const uint8_t seed[SSE_SEED_LEN], int encrypt, const void *in, size_t plen,
                        uint8_t *out, uint8_t tag[SSE_TAG_LEN])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, rc = -EIO;
    if (!ctx)
        return -ENOMEM;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, kn, kn + SSE_GCM_KEY, encrypt) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &n, seed, SSE_SEED_LEN) != 1 ||
        EVP_CipherUpdate(ctx, out, &n, in, (int)plen) != 1 ||
        (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SSE_TAG_LEN, tag) != 1))
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + n, &n) != 1) {
        rc = encrypt ? -EIO : SSE_EAUTH;
        goto out;
    }
    if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SSE_TAG_LEN, tag) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}
#endif

/* AES-256-GCM of plen bytes of in into out (may be in) under the key and
 * nonce of seed, with seed as additional data.  Encrypting writes the tag
 * to tag; decrypting checks it (SSE_EAUTH). */
static int gcm_run(const struct sse_domain *d, const uint8_t seed[SSE_SEED_LEN], int encrypt,
                   const void *in, size_t plen, uint8_t *out, uint8_t tag[SSE_TAG_LEN])
{
    uint8_t kn[SSE_GCM_KEY + SSE_GCM_NONCE];
    int rc = chunk_key(d, seed, kn);
    if (rc == 0)
        rc = gcm_with_key(kn, seed, encrypt, in, plen, out, tag);
    OPENSSL_cleanse(kn, sizeof kn);
    return rc;
}

int sse_seal(const struct sse_domain *d, const uint8_t seed[SSE_SEED_LEN], const void *in,
             size_t len, uint8_t *out)
{
    if (len == 0 || len > SSE_MAX_SEAL)
        return -EINVAL;
    return gcm_run(d, seed, 1, in, len, out, out + len);
}

int sse_open(const struct sse_domain *d, const uint8_t seed[SSE_SEED_LEN], const void *in,
             size_t len, uint8_t *out)
{
    uint8_t tag[SSE_TAG_LEN];
    if (len <= SSE_TAG_LEN || len - SSE_TAG_LEN > SSE_MAX_SEAL)
        return -EINVAL;
    size_t plen = len - SSE_TAG_LEN;
    memcpy(tag, (const uint8_t *)in + plen, SSE_TAG_LEN); /* before an in-place decrypt */
    int rc = gcm_run(d, seed, 0, in, plen, out, tag);
    if (rc)
        OPENSSL_cleanse(out, plen); /* never hand out unauthenticated bytes */
    return rc;
}

int sse_key_check_new(const uint8_t key[SSE_KEY_LEN], uint8_t check[SSE_CHECK_LEN])
{
    if (getrandom(check, 16, 0) != 16)
        return -EIO;
    labelled_hmac(key, SSE_KEY_LEN, "cairn sse-c check v1", check, 16, check + 16);
    return 0;
}

int sse_key_check_verify(const uint8_t key[SSE_KEY_LEN], const uint8_t check[SSE_CHECK_LEN])
{
    uint8_t mac[32];
    labelled_hmac(key, SSE_KEY_LEN, "cairn sse-c check v1", check, 16, mac);
    return CRYPTO_memcmp(mac, check + 16, 32) == 0;
}

void sse_master_fingerprint(const uint8_t master[SSE_KEY_LEN], char out[65])
{
    uint8_t mac[32];
    labelled_hmac(master, SSE_KEY_LEN, "cairn master key check v1", NULL, 0, mac);
    hex_encode(mac, 32, out);
}

int sse_keyfile_load(const char *path, int create, uint8_t key[SSE_KEY_LEN], int *created)
{
    struct stat st;
    struct buf b;
    int rc;
    *created = 0;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT || !create)
            return -errno;
        uint8_t k[SSE_KEY_LEN];
        char hex[2 * SSE_KEY_LEN + 2];
        if (getrandom(k, sizeof k, 0) != sizeof k)
            return -EIO;
        hex_encode(k, sizeof k, hex);
        hex[2 * SSE_KEY_LEN] = '\n';
        hex[2 * SSE_KEY_LEN + 1] = 0;
        rc = file_write_atomic(path, hex, 2 * SSE_KEY_LEN + 1, 0600);
        OPENSSL_cleanse(hex, sizeof hex);
        if (rc == 0) {
            memcpy(key, k, SSE_KEY_LEN);
            *created = 1;
        }
        OPENSSL_cleanse(k, sizeof k);
        return rc;
    }
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    if (st.st_mode & 077)
        return -EPERM;
    buf_init(&b, 256);
    rc = file_read(path, &b);
    if (rc == 0) {
        size_t n = b.len;
        while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
            n--;
        if (n != 2 * SSE_KEY_LEN || hex_decode(b.data, n, key, SSE_KEY_LEN) != 0)
            rc = -EINVAL;
    }
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    buf_release(&b);
    return rc;
}
