/*
 * gateway/s3_sse.c - server-side encryption: the request headers of SSE-S3
 * and SSE-C, what an object keeps to be read again, the bucket default
 * (Put/Get/DeleteBucketEncryption), and the S3 errors of all of it.
 * docs/encryption.md is the design; common/sse_crypto.h the cryptography.
 *
 * What an encrypted object or upload keeps in its attrs blob (internal
 * entries, never sent as headers):
 *   x-cairn-sse          "AES256" (SSE-S3) or "SSE-C"
 *   x-cairn-sse-c-check  SSE-C: base64 of the key check (salt || HMAC of
 *                        the customer key), to tell a wrong key; the key
 *                        itself is never stored.
 * The object's META_OBJ_ENCRYPTED flag says its data is sealed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/xml.h"
#include "gateway/s3_internal.h"

#define SSE_ATTR "x-cairn-sse"
#define SSE_ATTR_CHECK "x-cairn-sse-c-check"
#define SSE_S3_VALUE "AES256"
#define SSE_C_VALUE "SSE-C"
#define SSE_CONFIG "encryption"

static const char msg_no_key_file[] =
    "Server-side encryption with cairn-managed keys (SSE-S3) is not enabled on this server: "
    "start it with --sse-key-file.";

void s3_sse_release(struct s3_sse *s)
{
    OPENSSL_cleanse(s, sizeof *s);
}

const struct sse_domain *s3_sse_domain(const struct s3_sse *s)
{
    return s->mode == S3_SSE_NONE ? NULL : &s->dom;
}

int s3_sse_same_domain(const struct s3_sse *a, const struct s3_sse *b)
{
    if (a->mode != b->mode)
        return 0;
    return a->mode != S3_SSE_C || CRYPTO_memcmp(a->dom.key, b->dom.key, SSE_KEY_LEN) == 0;
}

/* The SSE-S3 domain into s, or reply (no key file). */
static int sse_s3_or_reply(struct s3_req *r, struct s3_sse *s)
{
    if (!r->gw->sse_s3_ready) {
        s3_reply_error(r, S3E_NOT_IMPLEMENTED, msg_no_key_file);
        return -1;
    }
    s->mode = S3_SSE_S3;
    s->dom = r->gw->sse_s3;
    return 0;
}

static const char *prefixed_header(struct s3_req *r, const char *prefix, const char *name)
{
    char full[96];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return s3_header(r, full);
}

/*
 * An SSE-C key as sent: alg, key and md5h are the values of the three
 * "...-customer-algorithm", "-key" and "-key-MD5" headers (or form
 * fields), NULL where absent.  *present is 0 when none was sent (s
 * untouched).  Otherwise all three must be right, as S3 checks them:
 * algorithm AES256, key base64 of 32 bytes, key-MD5 the base64 MD5 of the
 * key.  Replies and returns -1 on a bad set.
 */
static int customer_key_or_reply(struct s3_req *r, const char *alg, const char *key,
                                 const char *md5h, int *present, struct s3_sse *s)
{
    uint8_t raw[64], sum[16], given[64];
    *present = alg || key || md5h;
    if (!*present)
        return 0;
    if (!alg) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT,
                       "Requests specifying Server Side Encryption with Customer provided keys "
                       "must provide a valid encryption algorithm.");
        return -1;
    }
    if (strcmp(alg, "AES256") != 0) {
        s3_reply_error(r, S3E_INVALID_ENCRYPTION_ALGORITHM, NULL);
        return -1;
    }
    if (!key) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT,
                       "Requests specifying Server Side Encryption with Customer provided keys "
                       "must provide an appropriate secret key.");
        return -1;
    }
    if (!md5h) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT,
                       "Requests specifying Server Side Encryption with Customer provided keys "
                       "must provide the client calculated MD5 of the secret key.");
        return -1;
    }
    if (strlen(key) > 64 || base64_decode(key, strlen(key), raw) != SSE_KEY_LEN) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT,
                       "The secret key was invalid for the specified algorithm.");
        return -1;
    }
    md5(raw, SSE_KEY_LEN, sum);
    if (strlen(md5h) > 64 || base64_decode(md5h, strlen(md5h), given) != 16 ||
        CRYPTO_memcmp(given, sum, 16) != 0) {
        OPENSSL_cleanse(raw, sizeof raw);
        s3_reply_error(r, S3E_INVALID_ARGUMENT,
                       "The calculated MD5 hash of the key did not match the hash that was "
                       "provided.");
        return -1;
    }
    s->mode = S3_SSE_C;
    memcpy(s->customer_key, raw, SSE_KEY_LEN);
    base64_encode(sum, 16, s->key_md5);
    int rc = sse_domain_customer(raw, &s->dom);
    OPENSSL_cleanse(raw, sizeof raw);
    if (rc) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
        return -1;
    }
    return 0;
}

/* The bucket's default encryption (1: SSE-S3 by default, 0: none), or a
 * negative error. */
static int bucket_default(struct s3_req *r, const char *bucket)
{
    void *data = NULL;
    size_t len = 0;
    int rc = meta_bucket_config_get(r->gw->meta, bucket, SSE_CONFIG, &data, &len);
    if (rc == META_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    int on = len == strlen(SSE_S3_VALUE) && memcmp(data, SSE_S3_VALUE, len) == 0;
    free(data);
    return on;
}

/* SSE-S3 as asked by the value h of x-amz-server-side-encryption, or (h
 * NULL) by the bucket's default, into s.  Replies and returns -1. */
static int sse_s3_asked_or_reply(struct s3_req *r, const char *h, struct s3_sse *s)
{
    if (h) {
        if (strcmp(h, "aws:kms") == 0 || strcmp(h, "aws:kms:dsse") == 0) {
            s3_reply_error(r, S3E_NOT_IMPLEMENTED,
                           "Server-side encryption with AWS KMS keys is not supported: use "
                           "AES256 (SSE-S3) or customer-provided keys (SSE-C).");
            return -1;
        }
        if (strcmp(h, SSE_S3_VALUE) != 0) {
            s3_reply_error(r, S3E_INVALID_ARGUMENT,
                           "The encryption method specified is not supported");
            return -1;
        }
        return sse_s3_or_reply(r, s);
    }
    int def = bucket_default(r, r->bucket);
    if (def < 0) {
        s3_reply_rc(r, def);
        return -1;
    }
    return def ? sse_s3_or_reply(r, s) : 0;
}

int s3_sse_choose_or_reply(struct s3_req *r, const char *sse, const char *c_alg,
                           const char *c_key, const char *c_key_md5, struct s3_sse *out)
{
    struct s3_sse s;
    int has_c;
    memset(&s, 0, sizeof s);
    if (customer_key_or_reply(r, c_alg, c_key, c_key_md5, &has_c, &s) != 0)
        return -1;
    if (sse && has_c) {
        s3_sse_release(&s);
        s3_reply_error(r, S3E_INVALID_ARGUMENT,
                       "Server Side Encryption with Customer provided key is incompatible with "
                       "the encryption method specified");
        return -1;
    }
    if (!has_c && sse_s3_asked_or_reply(r, sse, &s) != 0)
        return -1;
    *out = s;
    return 0;
}

int s3_sse_request_or_reply(struct s3_req *r, struct s3_sse *out)
{
    static const char c[] = "x-amz-server-side-encryption-customer-";
    return s3_sse_choose_or_reply(r, s3_header(r, "x-amz-server-side-encryption"),
                                  prefixed_header(r, c, "algorithm"), prefixed_header(r, c, "key"),
                                  prefixed_header(r, c, "key-MD5"), out);
}

int s3_sse_attrs_add(const struct s3_sse *s, struct buf *attrs)
{
    if (s->mode == S3_SSE_S3)
        return s3_attrs_add(attrs, SSE_ATTR, SSE_S3_VALUE);
    if (s->mode != S3_SSE_C)
        return 0;
    uint8_t check[SSE_CHECK_LEN];
    char b64[96];
    int rc = sse_key_check_new(s->customer_key, check);
    if (rc)
        return rc;
    base64_encode(check, sizeof check, b64);
    rc = s3_attrs_add(attrs, SSE_ATTR, SSE_C_VALUE);
    return rc ? rc : s3_attrs_add(attrs, SSE_ATTR_CHECK, b64);
}

enum s3_sse_mode s3_sse_attrs_mode(const uint8_t *attrs, uint32_t len)
{
    const char *kind = s3_attrs_get(attrs, len, SSE_ATTR);
    if (!kind)
        return S3_SSE_NONE;
    return strcmp(kind, SSE_C_VALUE) == 0 ? S3_SSE_C : S3_SSE_S3;
}

int s3_sse_attrs_strip(const uint8_t *attrs, uint32_t len, struct buf *out)
{
    const char *n, *v;
    for (uint32_t pos = 0, at = 0; s3_attrs_next(attrs, len, &pos, &n, &v); at = pos) {
        if (strcmp(n, SSE_ATTR) == 0 || strcmp(n, SSE_ATTR_CHECK) == 0)
            continue;
        int rc = buf_append(out, attrs + at, pos - at);
        if (rc)
            return rc;
    }
    return 0;
}

int s3_sse_stored_or_reply(struct s3_req *r, const uint8_t *attrs, uint32_t len, int copy_source,
                           struct s3_sse *out)
{
    struct s3_sse s;
    int has_c;
    memset(&s, 0, sizeof s);
    const char *prefix = copy_source ? "x-amz-copy-source-server-side-encryption-customer-"
                                     : "x-amz-server-side-encryption-customer-";
    if (customer_key_or_reply(r, prefixed_header(r, prefix, "algorithm"),
                              prefixed_header(r, prefix, "key"),
                              prefixed_header(r, prefix, "key-MD5"), &has_c, &s) != 0)
        return -1;
    const char *kind = s3_attrs_get(attrs, len, SSE_ATTR);
    if (kind && strcmp(kind, SSE_C_VALUE) == 0) {
        if (!has_c) {
            s3_reply_error(r, S3E_INVALID_REQUEST,
                           "The object was stored using a form of Server Side Encryption. The "
                           "correct parameters must be provided to retrieve the object.");
            return -1;
        }
        const char *b64 = s3_attrs_get(attrs, len, SSE_ATTR_CHECK);
        uint8_t check[96];
        if (!b64 || strlen(b64) > 96 || base64_decode(b64, strlen(b64), check) != SSE_CHECK_LEN) {
            s3_sse_release(&s);
            s3_reply_error(r, S3E_INTERNAL, NULL);
            return -1;
        }
        if (!sse_key_check_verify(s.customer_key, check)) {
            s3_sse_release(&s);
            s3_reply_error(r, S3E_ACCESS_DENIED, NULL);
            return -1;
        }
    } else if (has_c) {
        s3_sse_release(&s);
        s3_reply_error(r, S3E_INVALID_REQUEST,
                       "The encryption parameters are not applicable to this object.");
        return -1;
    } else if (kind && strcmp(kind, SSE_S3_VALUE) == 0) {
        if (sse_s3_or_reply(r, &s) != 0)
            return -1;
    } else if (kind) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
        return -1;
    }
    *out = s;
    return 0;
}

int s3_sse_reader_or_reply(struct s3_req *r, struct ol_reader *rd, int copy_source,
                           struct s3_sse *out)
{
    const struct meta_object *o = ol_reader_object(rd);
    struct s3_sse s;
    if (s3_sse_stored_or_reply(r, o->attrs, o->attrs_len, copy_source, &s) != 0)
        return -1;
    int sealed = (o->flags & META_OBJ_ENCRYPTED) != 0;
    int rc = sealed != (s.mode != S3_SSE_NONE) ? META_ECORRUPT : 0;
    if (rc == 0 && sealed)
        rc = ol_reader_set_sse(rd, &s.dom);
    if (rc) {
        s3_sse_release(&s);
        s3_reply_rc(r, rc);
        return -1;
    }
    *out = s;
    return 0;
}

void s3_sse_reply_headers(struct s3_req *r, const struct s3_sse *s)
{
    if (s->mode == S3_SSE_S3) {
        s3_add_header(r, "x-amz-server-side-encryption", SSE_S3_VALUE);
    } else if (s->mode == S3_SSE_C) {
        s3_add_header(r, "x-amz-server-side-encryption-customer-algorithm", "AES256");
        if (s->key_md5[0])
            s3_add_header(r, "x-amz-server-side-encryption-customer-key-MD5", s->key_md5);
    }
}

void s3_sse_etag(const struct s3_sse *s, const uint8_t md5_sum[16], char out[META_ETAG_MAX])
{
    if (s->mode != S3_SSE_C) {
        hex_encode(md5_sum, 16, out);
        return;
    }
    /* As S3, an SSE-C object's ETag is not the MD5 of its data (which
     * would tell the data apart to anyone reading the metadata): a keyed
     * hash of it. */
    uint8_t mac[32];
    hmac_sha256(s->dom.key, SSE_KEY_LEN, md5_sum, 16, mac);
    hex_encode(mac, 16, out);
}

int s3_sse_sync_or_reply(struct s3_req *r)
{
    int def = bucket_default(r, r->bucket);
    if (def < 0) {
        s3_reply_rc(r, def);
        return -1;
    }
    if (def) {
        s3_reply_error(r, S3E_INVALID_REQUEST,
                       "The cairn sync extension cannot be used on a bucket with default "
                       "encryption: chunks are named by their plaintext hash there.");
        return -1;
    }
    return 0;
}

/* ---- Put/Get/DeleteBucketEncryption ----------------------------------- */

/* The algorithm of a ServerSideEncryptionConfiguration body: S3E_NONE and
 * the configuration is AES256, or the error to answer. */
static enum s3_err parse_config(struct s3_req *r, const char **msg)
{
    struct xml_doc *doc = NULL;
    enum s3_err e = S3E_MALFORMED_XML;
    *msg = NULL;
    if (xml_parse(r->body.data ? r->body.data : "", r->body.len, &doc) != 0 ||
        strcmp(xml_root(doc)->name, "ServerSideEncryptionConfiguration") != 0)
        goto out;
    const struct xml_node *rule = xml_child(xml_root(doc), "Rule");
    if (!rule || xml_next_named(rule, "Rule"))
        goto out; /* S3 takes exactly one rule */
    const struct xml_node *def = xml_child(rule, "ApplyServerSideEncryptionByDefault");
    const char *alg = def ? xml_child_text(def, "SSEAlgorithm", NULL) : NULL;
    const char *bke = xml_child_text(rule, "BucketKeyEnabled", "false");
    if (!alg || (strcmp(bke, "true") != 0 && strcmp(bke, "false") != 0))
        goto out;
    if (strcmp(alg, "aws:kms") == 0 || strcmp(alg, "aws:kms:dsse") == 0) {
        e = S3E_NOT_IMPLEMENTED;
        *msg = "Server-side encryption with AWS KMS keys is not supported: use AES256.";
        goto out;
    }
    if (strcmp(alg, SSE_S3_VALUE) != 0)
        goto out;
    if (xml_child(def, "KMSMasterKeyID")) {
        e = S3E_INVALID_ARGUMENT;
        *msg = "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms "
               "or aws:kms:dsse";
        goto out;
    }
    e = S3E_NONE;
out:
    xml_doc_free(doc);
    return e;
}

static void bucket_encryption_end(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    struct meta *m = r->gw->meta;
    int rc;
    if (strcmp(r->method, "GET") == 0) {
        rc = bucket_default(r, r->bucket);
        if (rc <= 0) {
            if (rc == 0)
                s3_reply_error(r, S3E_NO_SUCH_ENCRYPTION, NULL);
            else
                s3_reply_rc(r, rc);
            return;
        }
        struct s3_doc d;
        s3_doc_begin(&d, "ServerSideEncryptionConfiguration", 4096);
        xmlw_open(&d.w, "Rule");
        xmlw_open(&d.w, "ApplyServerSideEncryptionByDefault");
        xmlw_elem(&d.w, "SSEAlgorithm", SSE_S3_VALUE);
        xmlw_close(&d.w);
        xmlw_elem(&d.w, "BucketKeyEnabled", "false");
        xmlw_close(&d.w);
        xmlw_close(&d.w);
        s3_doc_reply(r, &d);
        return;
    }
    if (strcmp(r->method, "DELETE") == 0) {
        rc = meta_bucket_config_set(m, r->bucket, SSE_CONFIG, NULL, 0);
        if (rc)
            s3_reply_rc(r, rc);
        else
            s3_reply_empty(r, 204);
        return;
    }
    if (strcmp(r->method, "PUT") != 0) {
        s3_reply_error(r, S3E_METHOD_NOT_ALLOWED, NULL);
        return;
    }
    if (s3_body_digest_or_reply(r, 0) != 0)
        return;
    const char *msg;
    enum s3_err e = parse_config(r, &msg);
    if (e != S3E_NONE) {
        s3_reply_error(r, e, msg);
        return;
    }
    if (!r->gw->sse_s3_ready) {
        s3_reply_error(r, S3E_NOT_IMPLEMENTED, msg_no_key_file);
        return;
    }
    rc = meta_bucket_config_set(m, r->bucket, SSE_CONFIG, SSE_S3_VALUE, strlen(SSE_S3_VALUE));
    if (rc)
        s3_reply_rc(r, rc);
    else
        s3_reply_empty(r, 200);
}

const struct s3_handler h_bucket_encryption = {"BucketEncryption", NULL, NULL,
                                               bucket_encryption_end, NULL};

int s3_copy_stream(struct ol_reader *rd, uint64_t first, uint64_t len, struct ol_writer *w)
{
    uint8_t *tmp = malloc(1u << 20);
    int rc = tmp ? 0 : -ENOMEM;
    for (uint64_t done = 0; rc == 0 && done < len;) {
        size_t want = len - done < (1u << 20) ? (size_t)(len - done) : (1u << 20);
        long n = ol_reader_read(rd, first + done, tmp, want);
        if (n <= 0) {
            rc = n ? (int)n : CS_EUNAVAIL;
            break;
        }
        rc = ol_writer_write(w, tmp, (size_t)n);
        done += (uint64_t)n;
    }
    free(tmp);
    return rc;
}
