/* common/aws_chunked.c - aws-chunked decoder and encoder. */
#include "common/aws_chunked.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

/* Decoder states. */
enum {
    ST_HEADER,  /* reading a chunk header line */
    ST_DATA,    /* inside chunk data, chunk_left > 0 */
    ST_DATA_CR, /* expecting the CR after chunk data */
    ST_DATA_LF, /* expecting the LF after chunk data */
    ST_TRAILER, /* after the final chunk: trailer lines up to an empty one */
    ST_DONE,    /* the empty line has been read */
    ST_FINISHED,
    ST_FAILED,
};

const char *aws_chunked_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case AWS_CHUNKED_EMALFORMED: return "aws-chunked framing is malformed";
    case AWS_CHUNKED_ELINE: return "aws-chunked header or trailer line too long";
    case AWS_CHUNKED_ECHUNKSIZE: return "aws-chunked chunk too large";
    case AWS_CHUNKED_ESIGNATURE: return "aws-chunked chunk signature does not match";
    case AWS_CHUNKED_ETRAILER: return "aws-chunked trailer malformed, unexpected or too large";
    case AWS_CHUNKED_ETRAILERSIG: return "aws-chunked trailer signature missing or wrong";
    case AWS_CHUNKED_ELENGTH: return "aws-chunked payload length differs from the declared one";
    case AWS_CHUNKED_ETRUNCATED: return "aws-chunked body ended early";
    case AWS_CHUNKED_EEXTRA: return "data after the end of the aws-chunked body";
    case AWS_CHUNKED_EINVAL: return "invalid aws-chunked argument";
    default:
        if (err < 0 && err > -4096)
            return strerror(-err);
        return "unknown aws-chunked error";
    }
}

enum aws_chunked_mode aws_chunked_mode_from_hash(const char *v)
{
    if (!v)
        return AWS_CHUNKED_NONE;
    if (strcmp(v, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") == 0)
        return AWS_CHUNKED_SIGNED;
    if (strcmp(v, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") == 0)
        return AWS_CHUNKED_SIGNED_TRAILER;
    if (strcmp(v, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") == 0)
        return AWS_CHUNKED_UNSIGNED_TRAILER;
    return AWS_CHUNKED_NONE;
}

static int is_signed(enum aws_chunked_mode m)
{
    return m == AWS_CHUNKED_SIGNED || m == AWS_CHUNKED_SIGNED_TRAILER;
}

static int has_trailers(enum aws_chunked_mode m)
{
    return m == AWS_CHUNKED_SIGNED_TRAILER || m == AWS_CHUNKED_UNSIGNED_TRAILER;
}

static int is_hex64(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < 64; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* Lower-cased copy of a 64-digit hex signature into out[65]. */
static void copy_sig(char out[65], const char *s)
{
    for (int i = 0; i < 64; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] + 32 : s[i]);
    out[64] = '\0';
}

/* Shared by both directions: hex(HMAC(key, prefix \n date \n scope \n
 * prev \n [empty-hash \n] hash)). */
static void sign_step(const uint8_t key[32], const char *prefix, const char *amz_date,
                      const char *scope, const char *prev, int with_empty, const char *hash_hex,
                      char out[65])
{
    char sts[64 + 17 + SIGV4_SCOPE_MAX + 65 + 65 + 65 + 8];
    int n = snprintf(sts, sizeof sts, "%s\n%s\n%s\n%s\n%s%s%s", prefix, amz_date, scope, prev,
                     with_empty ? SIGV4_EMPTY_SHA256 : "", with_empty ? "\n" : "", hash_hex);
    sigv4_signature(key, sts, (size_t)n, out);
}

static void chunk_signature(const uint8_t key[32], const char *amz_date, const char *scope,
                            const char *prev, const char *data_hash_hex, char out[65])
{
    sign_step(key, "AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, 1, data_hash_hex, out);
}

static void trailer_signature(const uint8_t key[32], const char *amz_date, const char *scope,
                              const char *prev, const char *trailer_hash_hex, char out[65])
{
    sign_step(key, "AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev, 0, trailer_hash_hex, out);
}

/* ---- decoder --------------------------------------------------------- */

int aws_chunked_init(struct aws_chunked *d, enum aws_chunked_mode mode,
                     const uint8_t signing_key[32], const char *seed_signature,
                     const char *amz_date, const char *scope, int64_t decoded_length)
{
    memset(d, 0, sizeof *d);
    d->state = ST_FAILED;
    d->err = AWS_CHUNKED_EINVAL;
    if (mode != AWS_CHUNKED_SIGNED && mode != AWS_CHUNKED_SIGNED_TRAILER &&
        mode != AWS_CHUNKED_UNSIGNED_TRAILER)
        return AWS_CHUNKED_EINVAL;
    if (is_signed(mode)) {
        if (!signing_key || !seed_signature || !is_hex64(seed_signature, strlen(seed_signature)) ||
            !amz_date || strlen(amz_date) != 16 || !scope || strlen(scope) > SIGV4_SCOPE_MAX)
            return AWS_CHUNKED_EINVAL;
        memcpy(d->key, signing_key, 32);
        copy_sig(d->prev_sig, seed_signature);
        memcpy(d->amz_date, amz_date, 17);
        strcpy(d->scope, scope);
    }
    d->mode = mode;
    d->expected = decoded_length < 0 ? -1 : decoded_length;
    d->state = ST_HEADER;
    d->err = 0;
    return 0;
}

static int fail(struct aws_chunked *d, int err)
{
    if (d->hashing) {
        cksum_release(&d->chunk_hash);
        d->hashing = 0;
    }
    d->err = err;
    d->state = ST_FAILED;
    return err;
}

/* "<hex>[;chunk-signature=<sig>]" (or any extension in unsigned mode). */
static int header_line(struct aws_chunked *d, const char *line, size_t n)
{
    size_t i = 0;
    uint64_t size = 0;
    while (i < n && line[i] != ';') {
        char c = line[i];
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return AWS_CHUNKED_EMALFORMED;
        if (i >= 16)
            return AWS_CHUNKED_EMALFORMED;
        size = size << 4 | (uint64_t)v;
        i++;
    }
    if (i == 0)
        return AWS_CHUNKED_EMALFORMED;
    if (size > AWS_CHUNKED_CHUNK_MAX)
        return AWS_CHUNKED_ECHUNKSIZE;

    static const char ext[] = ";chunk-signature=";
    const size_t extlen = sizeof ext - 1;
    if (is_signed(d->mode)) {
        if (n - i != extlen + 64 || memcmp(line + i, ext, extlen) != 0 ||
            !is_hex64(line + i + extlen, 64))
            return AWS_CHUNKED_EMALFORMED;
        copy_sig(d->chunk_sig, line + i + extlen);
    }
    /* unsigned: whatever follows ';' is an extension we do not use */

    if (d->expected >= 0 && d->decoded + size > (uint64_t)d->expected)
        return AWS_CHUNKED_ELENGTH;

    if (size == 0) {
        if (is_signed(d->mode)) {
            char want[65];
            chunk_signature(d->key, d->amz_date, d->scope, d->prev_sig, SIGV4_EMPTY_SHA256, want);
            if (!sigv4_signature_equal(want, d->chunk_sig))
                return AWS_CHUNKED_ESIGNATURE;
            memcpy(d->prev_sig, want, 65);
        }
        d->state = ST_TRAILER;
        return 0;
    }
    if (is_signed(d->mode)) {
        int rc = cksum_init(&d->chunk_hash, CKSUM_SHA256);
        if (rc < 0)
            return rc;
        d->hashing = 1;
    }
    d->chunk_left = size;
    d->state = ST_DATA;
    return 0;
}

/* The whole chunk has been read: check its signature. */
static int chunk_end(struct aws_chunked *d)
{
    if (!is_signed(d->mode))
        return 0;
    uint8_t h[CKSUM_MAX_LEN];
    char hex[65], want[65];
    cksum_final(&d->chunk_hash, h);
    d->hashing = 0;
    hex_encode(h, 32, hex);
    chunk_signature(d->key, d->amz_date, d->scope, d->prev_sig, hex, want);
    if (!sigv4_signature_equal(want, d->chunk_sig))
        return AWS_CHUNKED_ESIGNATURE;
    memcpy(d->prev_sig, want, 65);
    return 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static int check_trailer_signature(struct aws_chunked *d, const char *sig, size_t n)
{
    if (!is_hex64(sig, n))
        return AWS_CHUNKED_ETRAILERSIG;
    struct cksum c;
    int rc = cksum_init(&c, CKSUM_SHA256);
    if (rc < 0)
        return rc;
    const char *p = d->trailers;
    for (unsigned i = 0; i < d->trailer_count; i++) {
        size_t nl = strlen(p);
        const char *v = p + nl + 1;
        size_t vl = strlen(v);
        cksum_update(&c, p, nl);
        cksum_update(&c, ":", 1);
        cksum_update(&c, v, vl);
        cksum_update(&c, "\n", 1);
        p = v + vl + 1;
    }
    uint8_t h[CKSUM_MAX_LEN];
    char hex[65], want[65], got[65];
    cksum_final(&c, h);
    hex_encode(h, 32, hex);
    trailer_signature(d->key, d->amz_date, d->scope, d->prev_sig, hex, want);
    copy_sig(got, sig);
    if (!sigv4_signature_equal(want, got))
        return AWS_CHUNKED_ETRAILERSIG;
    memcpy(d->prev_sig, want, 65);
    d->trailer_signed = 1;
    return 0;
}

/* One line of the trailer section (without its line ending). */
static int trailer_line(struct aws_chunked *d, const char *line, size_t n)
{
    if (n == 0) {
        if (d->blank_reopened && d->trailer_count == 0 && !d->trailer_signed)
            return AWS_CHUNKED_EEXTRA; /* a second empty line, not trailers */
        if (has_trailers(d->mode) && d->trailer_count == 0 && !d->trailer_signed &&
            !d->blank_reopened)
            d->blank_seen = 1; /* trailers may still follow: see the header */
        d->state = ST_DONE;
        return 0;
    }
    if (!has_trailers(d->mode) || d->trailer_signed)
        return AWS_CHUNKED_ETRAILER; /* nothing may follow the signature */
    const char *colon = memchr(line, ':', n);
    if (!colon || colon == line)
        return AWS_CHUNKED_ETRAILER;
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    trim(&v, &vl);
    char name[AWS_CHUNKED_LINE_MAX + 1];
    for (size_t i = 0; i < nl; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
            return AWS_CHUNKED_ETRAILER;
        name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    name[nl] = '\0';
    if (strcmp(name, "x-amz-trailer-signature") == 0) {
        if (d->mode != AWS_CHUNKED_SIGNED_TRAILER)
            return AWS_CHUNKED_ETRAILER;
        return check_trailer_signature(d, v, vl);
    }
    for (size_t i = 0; i < vl; i++)
        if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
            return AWS_CHUNKED_ETRAILER;
    if (d->trailer_count == AWS_CHUNKED_TRAILER_COUNT_MAX ||
        d->trailers_len + nl + vl + 2 > sizeof d->trailers)
        return AWS_CHUNKED_ETRAILER;
    memcpy(d->trailers + d->trailers_len, name, nl + 1);
    d->trailers_len += nl + 1;
    memcpy(d->trailers + d->trailers_len, v, vl);
    d->trailers[d->trailers_len + vl] = '\0';
    d->trailers_len += vl + 1;
    d->trailer_count++;
    return 0;
}

/* Collect a line; returns 1 when line[0..line_len) is complete (ending
 * removed), 0 if more input is needed, or an error.  *used gets the bytes
 * taken from in. */
static int take_line(struct aws_chunked *d, const uint8_t *in, size_t len, size_t *used, int err)
{
    const uint8_t *nl = memchr(in, '\n', len);
    size_t n = nl ? (size_t)(nl - in) : len;
    if (d->line_len + n > AWS_CHUNKED_LINE_MAX + 1) /* +1: room for a CR */
        return err;
    memcpy(d->line + d->line_len, in, n);
    d->line_len += n;
    *used = n + (nl ? 1 : 0);
    if (!nl)
        return 0;
    if (d->line_len && d->line[d->line_len - 1] == '\r')
        d->line_len--;
    if (d->line_len > AWS_CHUNKED_LINE_MAX)
        return err;
    return 1;
}

int aws_chunked_feed(struct aws_chunked *d, const uint8_t *in, size_t len, size_t *consumed,
                     int (*sink)(void *arg, const uint8_t *p, size_t n), void *arg)
{
    size_t i = 0;
    int rc = 0;
    if (d->state == ST_FAILED) {
        rc = d->err;
        goto out;
    }
    if (d->state == ST_FINISHED) {
        rc = AWS_CHUNKED_EINVAL;
        goto out;
    }
    while (i < len) {
        size_t used = 0;
        switch (d->state) {
        case ST_HEADER:
        case ST_TRAILER:
            rc = take_line(d, in + i, len - i, &used, AWS_CHUNKED_ELINE);
            if (rc <= 0)
                break;
            i += used;
            used = 0;
            rc = d->state == ST_HEADER ? header_line(d, d->line, d->line_len)
                                       : trailer_line(d, d->line, d->line_len);
            d->line_len = 0;
            break;
        case ST_DATA: {
            size_t n = len - i;
            if (n > d->chunk_left)
                n = (size_t)d->chunk_left;
            if (d->hashing)
                cksum_update(&d->chunk_hash, in + i, n);
            if (sink && (rc = sink(arg, in + i, n)) != 0)
                break;
            d->decoded += n;
            d->chunk_left -= n;
            used = n;
            if (d->chunk_left == 0)
                d->state = ST_DATA_CR;
            break;
        }
        case ST_DATA_CR:
            if (in[i] != '\r') {
                rc = AWS_CHUNKED_EMALFORMED;
                break;
            }
            used = 1;
            d->state = ST_DATA_LF;
            break;
        case ST_DATA_LF:
            if (in[i] != '\n') {
                rc = AWS_CHUNKED_EMALFORMED;
                break;
            }
            used = 1;
            rc = chunk_end(d);
            d->state = ST_HEADER;
            break;
        case ST_DONE:
            if (d->blank_seen) {
                /* "0;...\r\n\r\n" then trailers after all */
                d->blank_seen = 0;
                d->blank_reopened = 1;
                d->state = ST_TRAILER;
                break;
            }
            rc = AWS_CHUNKED_EEXTRA;
            break;
        default:
            rc = AWS_CHUNKED_EINVAL;
            break;
        }
        /* take_line's "complete" (1) has been replaced by the line's
         * result above; anything non-zero now is an error (a sink's may be
         * positive) */
        if (rc != 0)
            break;
        i += used;
    }
    if (rc != 0)
        fail(d, rc);
out:
    if (consumed)
        *consumed = i;
    return rc;
}

int aws_chunked_finish(struct aws_chunked *d)
{
    int rc = 0;
    switch (d->state) {
    case ST_FAILED:
        return d->err;
    case ST_FINISHED:
        return 0;
    case ST_TRAILER:
        /* the last line without its line ending, or no closing empty line */
        if (d->line_len) {
            size_t n = d->line_len;
            if (d->line[n - 1] == '\r')
                n--;
            rc = n > AWS_CHUNKED_LINE_MAX ? AWS_CHUNKED_ELINE : trailer_line(d, d->line, n);
            d->line_len = 0;
        }
        break;
    case ST_DONE:
        break;
    default:
        rc = AWS_CHUNKED_ETRUNCATED;
        break;
    }
    if (rc == 0 && d->mode == AWS_CHUNKED_SIGNED_TRAILER && !d->trailer_signed)
        rc = AWS_CHUNKED_ETRAILERSIG;
    if (rc == 0 && d->expected >= 0 && d->decoded != (uint64_t)d->expected)
        rc = AWS_CHUNKED_ELENGTH;
    if (rc != 0)
        return fail(d, rc);
    d->state = ST_FINISHED;
    return 0;
}

uint64_t aws_chunked_decoded_length(const struct aws_chunked *d)
{
    return d->decoded;
}

int aws_chunked_trailer_at(const struct aws_chunked *d, unsigned i, const char **name,
                           const char **value)
{
    if (i >= d->trailer_count)
        return AWS_CHUNKED_EINVAL;
    const char *p = d->trailers;
    for (unsigned k = 0; k < i; k++) {
        p += strlen(p) + 1;
        p += strlen(p) + 1;
    }
    if (name)
        *name = p;
    if (value)
        *value = p + strlen(p) + 1;
    return 0;
}

unsigned aws_chunked_trailer_count(const struct aws_chunked *d)
{
    return d->trailer_count;
}

const char *aws_chunked_trailer(const struct aws_chunked *d, const char *name)
{
    const char *n, *v;
    for (unsigned i = 0; aws_chunked_trailer_at(d, i, &n, &v) == 0; i++)
        if (strcasecmp(n, name) == 0)
            return v;
    return NULL;
}

void aws_chunked_release(struct aws_chunked *d)
{
    if (d->hashing) {
        cksum_release(&d->chunk_hash);
        d->hashing = 0;
    }
    OPENSSL_cleanse(d->key, sizeof d->key);
}

/* ---- encoder --------------------------------------------------------- */

int aws_chunked_encoder_init(struct aws_chunked_encoder *e, enum aws_chunked_mode mode,
                             const uint8_t signing_key[32], const char *seed_signature,
                             const char *amz_date, const char *scope)
{
    memset(e, 0, sizeof *e);
    e->ended = 1;
    if (mode != AWS_CHUNKED_SIGNED && mode != AWS_CHUNKED_SIGNED_TRAILER &&
        mode != AWS_CHUNKED_UNSIGNED_TRAILER)
        return AWS_CHUNKED_EINVAL;
    if (is_signed(mode)) {
        if (!signing_key || !seed_signature || !is_hex64(seed_signature, strlen(seed_signature)) ||
            !amz_date || strlen(amz_date) != 16 || !scope || strlen(scope) > SIGV4_SCOPE_MAX)
            return AWS_CHUNKED_EINVAL;
        memcpy(e->key, signing_key, 32);
        copy_sig(e->prev_sig, seed_signature);
        memcpy(e->amz_date, amz_date, 17);
        strcpy(e->scope, scope);
    }
    e->mode = mode;
    e->ended = 0;
    return 0;
}

static void restore(struct buf *b, size_t len)
{
    if (b->data && len <= b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

/* "<hex>[;chunk-signature=<sig>]\r\n" for a chunk whose data hashes to hash. */
static int chunk_header(struct aws_chunked_encoder *e, size_t len, const char *hash_hex,
                        struct buf *out)
{
    if (!is_signed(e->mode))
        return buf_printf(out, "%zx\r\n", len);
    char sig[65];
    chunk_signature(e->key, e->amz_date, e->scope, e->prev_sig, hash_hex, sig);
    memcpy(e->prev_sig, sig, 65);
    return buf_printf(out, "%zx;chunk-signature=%s\r\n", len, sig);
}

int aws_chunked_encode_chunk(struct aws_chunked_encoder *e, const uint8_t *data, size_t len,
                             struct buf *out)
{
    if (e->ended || len == 0 || len > AWS_CHUNKED_CHUNK_MAX || !data)
        return AWS_CHUNKED_EINVAL;
    char saved[65];
    memcpy(saved, e->prev_sig, 65);
    size_t mark = out->len;
    char hex[65] = "";
    if (is_signed(e->mode)) {
        uint8_t h[32];
        sha256(data, len, h);
        hex_encode(h, 32, hex);
    }
    int rc;
    if ((rc = chunk_header(e, len, hex, out)) < 0 || (rc = buf_append(out, data, len)) < 0 ||
        (rc = buf_append(out, "\r\n", 2)) < 0) {
        restore(out, mark);
        memcpy(e->prev_sig, saved, 65);
        return rc;
    }
    return 0;
}

int aws_chunked_encode_end(struct aws_chunked_encoder *e, const struct sigv4_header *trailers,
                           size_t count, struct buf *out)
{
    if (e->ended || (count && !trailers) || (count && !has_trailers(e->mode)))
        return AWS_CHUNKED_EINVAL;
    char saved[65];
    memcpy(saved, e->prev_sig, 65);
    size_t mark = out->len;
    struct cksum c = {0};
    int hashing = 0, rc;
    if ((rc = chunk_header(e, 0, SIGV4_EMPTY_SHA256, out)) < 0)
        goto out;
    if (e->mode == AWS_CHUNKED_SIGNED_TRAILER) {
        if ((rc = cksum_init(&c, CKSUM_SHA256)) < 0)
            goto out;
        hashing = 1;
    }
    for (size_t i = 0; i < count; i++) {
        if (!trailers[i].name || !trailers[i].value) {
            rc = AWS_CHUNKED_EINVAL;
            goto out;
        }
        if ((rc = buf_printf(out, "%s:%s\r\n", trailers[i].name, trailers[i].value)) < 0)
            goto out;
        if (hashing) {
            cksum_update(&c, trailers[i].name, strlen(trailers[i].name));
            cksum_update(&c, ":", 1);
            cksum_update(&c, trailers[i].value, strlen(trailers[i].value));
            cksum_update(&c, "\n", 1);
        }
    }
    if (hashing) {
        uint8_t h[CKSUM_MAX_LEN];
        char hex[65], sig[65];
        cksum_final(&c, h);
        hashing = 0;
        hex_encode(h, 32, hex);
        trailer_signature(e->key, e->amz_date, e->scope, e->prev_sig, hex, sig);
        memcpy(e->prev_sig, sig, 65);
        if ((rc = buf_printf(out, "x-amz-trailer-signature:%s\r\n", sig)) < 0)
            goto out;
    }
    rc = buf_append(out, "\r\n", 2);
out:
    if (hashing)
        cksum_release(&c);
    if (rc < 0) {
        restore(out, mark);
        memcpy(e->prev_sig, saved, 65);
        return rc;
    }
    e->ended = 1;
    return 0;
}

static unsigned hex_digits(uint64_t v)
{
    unsigned n = 1;
    while (v >>= 4)
        n++;
    return n;
}

uint64_t aws_chunked_encoded_length(enum aws_chunked_mode mode, uint64_t payload_len,
                                    size_t chunk_size, size_t trailer_bytes)
{
    const uint64_t sig = is_signed(mode) ? sizeof ";chunk-signature=" - 1 + 64 : 0;
    uint64_t total = 0;
    if (chunk_size == 0)
        chunk_size = 1;
    uint64_t full = payload_len / chunk_size, rest = payload_len % chunk_size;
    if (full)
        total += full * (hex_digits(chunk_size) + sig + 2 + chunk_size + 2);
    if (rest)
        total += hex_digits(rest) + sig + 2 + rest + 2;
    total += 1 + sig + 2; /* final chunk */
    if (has_trailers(mode))
        total += trailer_bytes;
    if (mode == AWS_CHUNKED_SIGNED_TRAILER)
        total += sizeof "x-amz-trailer-signature:" - 1 + 64 + 2;
    return total + 2;
}
