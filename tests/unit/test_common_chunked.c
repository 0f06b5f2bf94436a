/*
 * Unit tests for common/aws_chunked: AWS's published chunked-upload
 * examples (S3 API reference, "Transferring Payload in Multiple Chunks"
 * and "Including Trailing Headers"), from the request headers through the
 * seed signature to every chunk; streaming in any split; corruption of
 * every kind; the unsigned-trailer variant with each checksum; the
 * tolerance for what real clients send; and the encoder.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "common/aws_chunked.h"
#include "common/hash.h"
#include "common/sigv4.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DATE "20130524T000000Z"
#define SCOPE "20130524/us-east-1/s3/aws4_request"

#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define SIG1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define SIG2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define SIG3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

#define TSEED "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
#define TSIG1 "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
#define TSIG2 "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
#define TSIG3 "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"
#define TTRAILER "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"

static uint8_t g_key[32];

/* ---- helpers --------------------------------------------------------- */

struct collect {
    struct buf out;
    int fail_after; /* return -EIO once this many bytes were seen; -1: never */
};

static int collect_sink(void *arg, const uint8_t *p, size_t n)
{
    struct collect *c = arg;
    if (c->fail_after >= 0 && c->out.len + n > (size_t)c->fail_after)
        return -EIO;
    return buf_append(&c->out, p, n);
}

/* Decode body[0..len) fed in pieces of step bytes (0: all at once).
 * Returns the first error of feed or finish; *payload (if not NULL) gets
 * the decoded bytes. */
static int decode(enum aws_chunked_mode mode, const char *seed, const uint8_t *body, size_t len,
                  size_t step, int64_t expected, struct buf *payload, struct aws_chunked *keep)
{
    struct aws_chunked d;
    struct collect c = {.fail_after = -1};
    buf_init(&c.out, 1 << 24);
    int rc = aws_chunked_init(&d, mode, g_key, seed, DATE, SCOPE, expected);
    assert_int_equal(rc, 0);
    size_t pos = 0;
    while (rc == 0 && pos < len) {
        size_t n = step ? step : len;
        if (n > len - pos)
            n = len - pos;
        size_t used = 0;
        rc = aws_chunked_feed(&d, body + pos, n, &used, collect_sink, &c);
        if (rc == 0)
            assert_int_equal(used, n);
        pos += n;
    }
    if (rc == 0)
        rc = aws_chunked_finish(&d);
    if (rc == 0)
        assert_int_equal(aws_chunked_decoded_length(&d), c.out.len);
    if (payload) {
        buf_reset(payload);
        if (c.out.len)
            assert_int_equal(buf_append(payload, c.out.data, c.out.len), 0);
    }
    if (keep)
        *keep = d; /* for trailer lookups; the caller releases */
    else
        aws_chunked_release(&d);
    buf_release(&c.out);
    return rc;
}

/* The published signed-chunk body: 64 KiB + 1 KiB of 'a', three signatures. */
static void doc_body(struct buf *b, const char *s1, const char *s2, const char *s3,
                     const char *trailers)
{
    static uint8_t a[65536];
    memset(a, 'a', sizeof a);
    buf_reset(b);
    assert_int_equal(buf_printf(b, "10000;chunk-signature=%s\r\n", s1), 0);
    assert_int_equal(buf_append(b, a, 65536), 0);
    assert_int_equal(buf_printf(b, "\r\n400;chunk-signature=%s\r\n", s2), 0);
    assert_int_equal(buf_append(b, a, 1024), 0);
    assert_int_equal(buf_printf(b, "\r\n0;chunk-signature=%s\r\n%s\r\n", s3, trailers), 0);
}

static const char *hdr_get(void *arg, const char *name)
{
    const char **kv = arg;
    for (int i = 0; kv[i]; i += 2)
        if (strcasecmp(kv[i], name) == 0)
            return kv[i + 1];
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    sigv4_signing_key(SECRET, "20130524", "us-east-1", "s3", g_key);
    return 0;
}

/* ---- the published examples ------------------------------------------ */

static void test_doc_seed_signatures(void **state)
{
    (void)state;
    /* the request of the signed-chunk example; its signature is the seed */
    const char *h1[] = {"content-encoding", "aws-chunked", "content-length", "66824", "host",
                        "s3.amazonaws.com", "x-amz-content-sha256",
                        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "x-amz-date", DATE,
                        "x-amz-decoded-content-length", "66560", "x-amz-storage-class",
                        "REDUCED_REDUNDANCY", NULL};
    const char *authz = "AWS4-HMAC-SHA256 Credential=" AK "/" SCOPE ",SignedHeaders=content-encoding;"
                        "content-length;host;x-amz-content-sha256;x-amz-date;"
                        "x-amz-decoded-content-length;x-amz-storage-class,Signature=" SEED;
    struct sigv4_auth a;
    assert_int_equal(sigv4_parse_authorization(authz, &a), 0);
    assert_int_equal(sigv4_auth_set_date(&a, DATE, NULL), 0);
    struct sigv4_request req = {"PUT", "/examplebucket/chunkObject.txt", NULL, hdr_get, h1,
                                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"};
    uint8_t key[32];
    char seed[65], scope[SIGV4_SCOPE_MAX + 1];
    assert_int_equal(sigv4_verify(&a, &req, SECRET, key, seed), 0);
    assert_string_equal(seed, SEED);
    assert_memory_equal(key, g_key, 32);
    assert_int_equal(sigv4_scope(&a, scope, sizeof scope), (int)strlen(SCOPE));
    assert_string_equal(scope, SCOPE);
    assert_int_equal(aws_chunked_mode_from_hash(hdr_get(h1, "x-amz-content-sha256")),
                     AWS_CHUNKED_SIGNED);

    /* the trailer example's request (it signs x-amz-trailer, not content-length) */
    const char *h2[] = {"content-encoding", "aws-chunked", "host", "s3.amazonaws.com",
                        "x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                        "x-amz-date", DATE, "x-amz-decoded-content-length", "66560",
                        "x-amz-storage-class", "REDUCED_REDUNDANCY", "x-amz-trailer",
                        "x-amz-checksum-crc32c", NULL};
    struct sigv4_header sh[7];
    for (int i = 0; i < 7; i++) {
        sh[i].name = h2[2 * i];
        sh[i].value = h2[2 * i + 1];
    }
    struct sigv4_credentials cred = {AK, SECRET, "us-east-1", "s3"};
    time_t t;
    assert_int_equal(sigv4_parse_amz_date(DATE, &t), 0);
    struct buf out;
    buf_init(&out, 1024);
    assert_int_equal(sigv4_sign_headers(&cred, "PUT", "/examplebucket/chunkObject.txt", NULL, sh, 7,
                                        NULL, t, &out, seed),
                     0);
    assert_string_equal(seed, TSEED);
    buf_release(&out);
}

static void test_doc_signed_chunks(void **state)
{
    (void)state;
    struct buf body, payload;
    buf_init(&body, 1 << 20);
    buf_init(&payload, 1 << 20);
    doc_body(&body, SIG1, SIG2, SIG3, "");
    assert_int_equal(body.len, 66824); /* the example's Content-Length */
    assert_int_equal(aws_chunked_encoded_length(AWS_CHUNKED_SIGNED, 66560, 65536, 0), 66824);

    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)body.data, body.len, 0, 66560,
                            &payload, NULL),
                     0);
    assert_int_equal(payload.len, 66560);
    for (size_t i = 0; i < payload.len; i++)
        if (payload.data[i] != 'a')
            fail_msg("payload byte %zu", i);

    /* the encoder writes exactly the published body */
    static uint8_t a[65536];
    memset(a, 'a', sizeof a);
    struct aws_chunked_encoder e;
    struct buf enc;
    buf_init(&enc, 1 << 20);
    assert_int_equal(aws_chunked_encoder_init(&e, AWS_CHUNKED_SIGNED, g_key, SEED, DATE, SCOPE), 0);
    assert_int_equal(aws_chunked_encode_chunk(&e, a, 65536, &enc), 0);
    assert_int_equal(aws_chunked_encode_chunk(&e, a, 1024, &enc), 0);
    assert_int_equal(aws_chunked_encode_end(&e, NULL, 0, &enc), 0);
    assert_int_equal(enc.len, body.len);
    assert_memory_equal(enc.data, body.data, body.len);
    assert_int_equal(aws_chunked_encode_chunk(&e, a, 1, &enc), AWS_CHUNKED_EINVAL);
    buf_release(&enc);
    buf_release(&body);
    buf_release(&payload);
}

static void test_doc_signed_trailer(void **state)
{
    (void)state;
    struct buf body, payload;
    buf_init(&body, 1 << 20);
    buf_init(&payload, 1 << 20);
    doc_body(&body, TSIG1, TSIG2, TSIG3,
             "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TTRAILER "\r\n");
    struct aws_chunked d;
    assert_int_equal(decode(AWS_CHUNKED_SIGNED_TRAILER, TSEED, (uint8_t *)body.data, body.len, 0,
                            66560, &payload, &d),
                     0);
    assert_int_equal(payload.len, 66560);
    assert_string_equal(aws_chunked_trailer(&d, "x-amz-checksum-crc32c"), "sOO8/Q==");
    assert_string_equal(aws_chunked_trailer(&d, "X-Amz-Checksum-CRC32C"), "sOO8/Q==");
    assert_null(aws_chunked_trailer(&d, "x-amz-trailer-signature"));
    assert_int_equal(aws_chunked_trailer_count(&d), 1);
    aws_chunked_release(&d);

    /* the trailer is the CRC32C of the payload, as the gateway will check */
    struct cksum c;
    uint8_t crc[CKSUM_MAX_LEN];
    char b64[16];
    assert_int_equal(cksum_init(&c, CKSUM_CRC32C), 0);
    cksum_update(&c, payload.data, payload.len);
    assert_int_equal(cksum_final(&c, crc), 4);
    base64_encode(crc, 4, b64);
    assert_string_equal(b64, "sOO8/Q==");

    /* the encoder writes exactly the published body */
    struct aws_chunked_encoder e;
    struct buf enc;
    buf_init(&enc, 1 << 20);
    assert_int_equal(
        aws_chunked_encoder_init(&e, AWS_CHUNKED_SIGNED_TRAILER, g_key, TSEED, DATE, SCOPE), 0);
    assert_int_equal(aws_chunked_encode_chunk(&e, (uint8_t *)payload.data, 65536, &enc), 0);
    assert_int_equal(aws_chunked_encode_chunk(&e, (uint8_t *)payload.data, 1024, &enc), 0);
    struct sigv4_header t = {"x-amz-checksum-crc32c", "sOO8/Q=="};
    assert_int_equal(aws_chunked_encode_end(&e, &t, 1, &enc), 0);
    assert_int_equal(enc.len, body.len);
    assert_memory_equal(enc.data, body.data, body.len);
    assert_int_equal(aws_chunked_encoded_length(AWS_CHUNKED_SIGNED_TRAILER, 66560, 65536,
                                                strlen("x-amz-checksum-crc32c:sOO8/Q==\r\n")),
                     body.len);

    /* a changed trailer value, a wrong trailer signature, none at all */
    doc_body(&body, TSIG1, TSIG2, TSIG3,
             "x-amz-checksum-crc32c:sOO8/R==\r\nx-amz-trailer-signature:" TTRAILER "\r\n");
    assert_int_equal(decode(AWS_CHUNKED_SIGNED_TRAILER, TSEED, (uint8_t *)body.data, body.len, 0,
                            66560, NULL, NULL),
                     AWS_CHUNKED_ETRAILERSIG);
    doc_body(&body, TSIG1, TSIG2, TSIG3,
             "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" SIG1 "\r\n");
    assert_int_equal(decode(AWS_CHUNKED_SIGNED_TRAILER, TSEED, (uint8_t *)body.data, body.len, 0,
                            66560, NULL, NULL),
                     AWS_CHUNKED_ETRAILERSIG);
    doc_body(&body, TSIG1, TSIG2, TSIG3, "x-amz-checksum-crc32c:sOO8/Q==\r\n");
    assert_int_equal(decode(AWS_CHUNKED_SIGNED_TRAILER, TSEED, (uint8_t *)body.data, body.len, 0,
                            66560, NULL, NULL),
                     AWS_CHUNKED_ETRAILERSIG);
    /* an unsigned trailer smuggled in after the signature */
    doc_body(&body, TSIG1, TSIG2, TSIG3,
             "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TTRAILER
             "\r\nx-amz-checksum-sha1:AAAA\r\n");
    assert_int_equal(decode(AWS_CHUNKED_SIGNED_TRAILER, TSEED, (uint8_t *)body.data, body.len, 0,
                            66560, NULL, NULL),
                     AWS_CHUNKED_ETRAILER);
    /* tolerated endings: no closing CRLF; no CRLF after the signature
     * either; an empty line before the trailers */
    const char *tails[] = {
        "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TTRAILER "\r\n",
        "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TTRAILER,
        "x-amz-checksum-crc32c:sOO8/Q==\nx-amz-trailer-signature:" TTRAILER "\n\n",
        "X-Amz-Checksum-Crc32c: sOO8/Q== \r\nx-amz-trailer-signature:" TTRAILER "\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        doc_body(&body, TSIG1, TSIG2, TSIG3, "");
        body.len -= 2; /* drop the closing CRLF doc_body wrote */
        body.data[body.len] = '\0';
        assert_int_equal(buf_puts(&body, tails[i]), 0);
        int rc = decode(AWS_CHUNKED_SIGNED_TRAILER, TSEED, (uint8_t *)body.data, body.len, 0,
                        66560, NULL, NULL);
        if (rc != 0)
            fail_msg("tail %zu: %s", i, aws_chunked_strerror(rc));
    }
    doc_body(&body, TSIG1, TSIG2, TSIG3,
             "\r\nx-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TTRAILER "\r\n");
    assert_int_equal(decode(AWS_CHUNKED_SIGNED_TRAILER, TSEED, (uint8_t *)body.data, body.len, 7,
                            66560, NULL, NULL),
                     0);
    buf_release(&enc);
    buf_release(&body);
    buf_release(&payload);
}

/* ---- streaming ------------------------------------------------------- */

static void test_byte_at_a_time(void **state)
{
    (void)state;
    struct buf body, whole, piece;
    buf_init(&body, 1 << 20);
    buf_init(&whole, 1 << 20);
    buf_init(&piece, 1 << 20);
    doc_body(&body, SIG1, SIG2, SIG3, "");
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)body.data, body.len, 0, 66560,
                            &whole, NULL),
                     0);
    size_t steps[] = {1, 2, 3, 7, 88, 89, 1000, 65535, 65536, 65626, 65627};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        int rc = decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)body.data, body.len, steps[s], 66560,
                        &piece, NULL);
        if (rc != 0)
            fail_msg("step %zu: %s", steps[s], aws_chunked_strerror(rc));
        assert_int_equal(piece.len, whole.len);
        assert_memory_equal(piece.data, whole.data, whole.len);
    }
    /* the trailer example one byte at a time, trailers included */
    doc_body(&body, TSIG1, TSIG2, TSIG3,
             "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TTRAILER "\r\n");
    struct aws_chunked d;
    assert_int_equal(decode(AWS_CHUNKED_SIGNED_TRAILER, TSEED, (uint8_t *)body.data, body.len, 1,
                            66560, &piece, &d),
                     0);
    assert_string_equal(aws_chunked_trailer(&d, "x-amz-checksum-crc32c"), "sOO8/Q==");
    aws_chunked_release(&d);
    assert_int_equal(piece.len, 66560);
    buf_release(&body);
    buf_release(&whole);
    buf_release(&piece);
}

/* ---- corruption ------------------------------------------------------ */

static void test_corruption(void **state)
{
    (void)state;
    struct buf body, bad;
    buf_init(&body, 1 << 20);
    buf_init(&bad, 1 << 20);
    doc_body(&body, SIG1, SIG2, SIG3, "");
    const uint8_t *b = (uint8_t *)body.data;
    size_t len = body.len;

    /* one bit flipped anywhere: every framing byte, data bytes sampled */
    for (size_t pos = 0; pos < len; pos++) {
        int framing = pos < 88 || (pos >= 65624 && pos < 65624 + 88) || pos >= len - 90;
        if (!framing && pos % 1009 != 0)
            continue;
        buf_reset(&bad);
        assert_int_equal(buf_append(&bad, b, len), 0);
        bad.data[pos] ^= 0x01;
        int rc = decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)bad.data, len, 0, 66560, NULL, NULL);
        if (rc == 0)
            fail_msg("flip at %zu (0x%02x) accepted", pos, (unsigned char)b[pos]);
    }
    /* a payload byte: that chunk's signature fails */
    buf_reset(&bad);
    assert_int_equal(buf_append(&bad, b, len), 0);
    bad.data[100] = 'b';
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)bad.data, len, 0, 66560, NULL,
                            NULL),
                     AWS_CHUNKED_ESIGNATURE);
    /* the wrong seed, a signature from another chunk, chunks swapped */
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, TSEED, b, len, 0, 66560, NULL, NULL),
                     AWS_CHUNKED_ESIGNATURE);
    doc_body(&bad, SIG1, SIG1, SIG3, "");
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)bad.data, bad.len, 0, 66560, NULL,
                            NULL),
                     AWS_CHUNKED_ESIGNATURE);
    doc_body(&bad, SIG1, SIG2, SIG2, "");
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)bad.data, bad.len, 0, 66560, NULL,
                            NULL),
                     AWS_CHUNKED_ESIGNATURE);
    /* the signature digits in upper case are the same signature */
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(SIG2[i] >= 'a' && SIG2[i] <= 'f' ? SIG2[i] - 32 : SIG2[i]);
    doc_body(&bad, SIG1, upper, SIG3, "");
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)bad.data, bad.len, 0, 66560, NULL,
                            NULL),
                     0);

    /* truncation: anywhere before the final chunk's line is complete */
    size_t cuts[] = {0, 1, 50, 88, 1000, 65624, 65625, 65626, 65700, 66700, len - 3};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        int rc = decode(AWS_CHUNKED_SIGNED, SEED, b, cuts[i], 0, -1, NULL, NULL);
        if (rc != AWS_CHUNKED_ETRUNCATED)
            fail_msg("cut at %zu: %d %s", cuts[i], rc, aws_chunked_strerror(rc));
    }
    /* ... the closing CRLF alone may be missing (tolerance) */
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, b, len - 2, 0, 66560, NULL, NULL), 0);
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, b, len - 1, 0, 66560, NULL, NULL), 0);

    /* declared length too small (found while streaming) or too large */
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, b, len, 0, 66559, NULL, NULL),
                     AWS_CHUNKED_ELENGTH);
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, b, len, 0, 66561, NULL, NULL),
                     AWS_CHUNKED_ELENGTH);
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, b, len, 0, 0, NULL, NULL),
                     AWS_CHUNKED_ELENGTH);

    /* bytes after the end; a trailer where none belongs */
    buf_reset(&bad);
    assert_int_equal(buf_append(&bad, b, len), 0);
    assert_int_equal(buf_puts(&bad, "x"), 0);
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)bad.data, bad.len, 0, 66560, NULL,
                            NULL),
                     AWS_CHUNKED_EEXTRA);
    doc_body(&bad, SIG1, SIG2, SIG3, "x-amz-checksum-crc32c:sOO8/Q==\r\n");
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)bad.data, bad.len, 0, 66560, NULL,
                            NULL),
                     AWS_CHUNKED_ETRAILER);

    /* framing errors, each with its own code */
    struct {
        const char *text;
        int rc;
    } cases[] = {
        {"zz;chunk-signature=" SIG1 "\r\n", AWS_CHUNKED_EMALFORMED},
        {";chunk-signature=" SIG1 "\r\n", AWS_CHUNKED_EMALFORMED},
        {"10000 ;chunk-signature=" SIG1 "\r\n", AWS_CHUNKED_EMALFORMED},
        {"10000;chunk-signature=" SIG1 "0\r\n", AWS_CHUNKED_EMALFORMED},
        {"10000;chunk-signature=abc\r\n", AWS_CHUNKED_EMALFORMED},
        {"10000;chunk-sig=" SIG1 "\r\n", AWS_CHUNKED_EMALFORMED},
        {"10000\r\n", AWS_CHUNKED_EMALFORMED},
        {"\r\n", AWS_CHUNKED_EMALFORMED},
        {"00000000000000010000;chunk-signature=" SIG1 "\r\n", AWS_CHUNKED_EMALFORMED},
        {"1000001;chunk-signature=" SIG1 "\r\n", AWS_CHUNKED_ECHUNKSIZE},
        {"ffffffffffffffff;chunk-signature=" SIG1 "\r\n", AWS_CHUNKED_ECHUNKSIZE},
        {"4;chunk-signature=" SIG1 "\r\naaaaXX", AWS_CHUNKED_EMALFORMED},
        {"4;chunk-signature=" SIG1 "\r\naaaa\rX", AWS_CHUNKED_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = decode(AWS_CHUNKED_SIGNED, SEED, (const uint8_t *)cases[i].text,
                        strlen(cases[i].text), 0, -1, NULL, NULL);
        if (rc != cases[i].rc)
            fail_msg("case %zu: got %d (%s)", i, rc, aws_chunked_strerror(rc));
    }
    /* an over-long line, fed a byte at a time (the cap holds while streaming) */
    buf_reset(&bad);
    for (int i = 0; i < AWS_CHUNKED_LINE_MAX + 10; i++)
        assert_int_equal(buf_puts(&bad, "0"), 0);
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)bad.data, bad.len, 1, -1, NULL,
                            NULL),
                     AWS_CHUNKED_ELINE);
    buf_release(&body);
    buf_release(&bad);
}

/* Errors are final, consumed tells where, and a sink's error stops it. */
static void test_errors_sticky(void **state)
{
    (void)state;
    struct buf body;
    buf_init(&body, 1 << 20);
    doc_body(&body, SIG1, SIG2, SIG3, "");
    struct aws_chunked d;
    struct collect c = {.fail_after = 1000};
    buf_init(&c.out, 1 << 20);
    size_t used;
    int rc;
    /* the sink refuses the first chunk's data */
    assert_int_equal(aws_chunked_init(&d, AWS_CHUNKED_SIGNED, g_key, SEED, DATE, SCOPE, 66560), 0);
    rc = aws_chunked_feed(&d, (uint8_t *)body.data, body.len, &used, collect_sink, &c);
    assert_int_equal(rc, -EIO);
    assert_int_equal(used, 88); /* stopped at the first data byte */
    assert_int_equal(aws_chunked_feed(&d, (uint8_t *)body.data, 1, &used, collect_sink, &c), -EIO);
    assert_int_equal(used, 0);
    assert_int_equal(aws_chunked_finish(&d), -EIO);
    aws_chunked_release(&d);

    /* a signature error is reported at the end of its chunk */
    body.data[88 + 5] = 'b';
    c.fail_after = -1;
    buf_reset(&c.out);
    assert_int_equal(aws_chunked_init(&d, AWS_CHUNKED_SIGNED, g_key, SEED, DATE, SCOPE, 66560), 0);
    rc = aws_chunked_feed(&d, (uint8_t *)body.data, body.len, &used, collect_sink, &c);
    assert_int_equal(rc, AWS_CHUNKED_ESIGNATURE);
    assert_int_equal(used, 88 + 65536 + 1); /* at the LF after the data */
    assert_int_equal(aws_chunked_finish(&d), AWS_CHUNKED_ESIGNATURE);
    aws_chunked_release(&d);
    aws_chunked_release(&d); /* twice is fine */

    /* bad init arguments */
    assert_int_equal(aws_chunked_init(&d, AWS_CHUNKED_NONE, g_key, SEED, DATE, SCOPE, -1),
                     AWS_CHUNKED_EINVAL);
    assert_int_equal(aws_chunked_init(&d, AWS_CHUNKED_SIGNED, g_key, "abc", DATE, SCOPE, -1),
                     AWS_CHUNKED_EINVAL);
    assert_int_equal(aws_chunked_init(&d, AWS_CHUNKED_SIGNED, NULL, SEED, DATE, SCOPE, -1),
                     AWS_CHUNKED_EINVAL);
    assert_int_equal(aws_chunked_feed(&d, (uint8_t *)"0\r\n", 3, &used, NULL, NULL),
                     AWS_CHUNKED_EINVAL);
    aws_chunked_release(&d);
    buf_release(&c.out);
    buf_release(&body);
}

/* ---- unsigned trailer ------------------------------------------------ */

static void checksum_b64(enum cksum_alg alg, const void *p, size_t n, char *out)
{
    struct cksum c;
    uint8_t d[CKSUM_MAX_LEN];
    assert_int_equal(cksum_init(&c, alg), 0);
    cksum_update(&c, p, n);
    size_t len = cksum_final(&c, d);
    base64_encode(d, len, out);
}

static void test_unsigned_trailer(void **state)
{
    (void)state;
    size_t n = 200000;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 31 + (i >> 8));
    enum cksum_alg algs[] = {CKSUM_CRC32, CKSUM_CRC32C, CKSUM_CRC64NVME, CKSUM_SHA1, CKSUM_SHA256};
    struct buf body, payload;
    buf_init(&body, 1 << 20);
    buf_init(&payload, 1 << 20);
    for (size_t k = 0; k < sizeof algs / sizeof algs[0]; k++) {
        char name[64], value[64];
        snprintf(name, sizeof name, "x-amz-checksum-%s", cksum_name(algs[k]));
        checksum_b64(algs[k], data, n, value);
        struct aws_chunked_encoder e;
        assert_int_equal(
            aws_chunked_encoder_init(&e, AWS_CHUNKED_UNSIGNED_TRAILER, NULL, NULL, NULL, NULL), 0);
        buf_reset(&body);
        for (size_t off = 0; off < n; off += 65536)
            assert_int_equal(
                aws_chunked_encode_chunk(&e, data + off, n - off < 65536 ? n - off : 65536, &body), 0);
        struct sigv4_header t = {name, value};
        assert_int_equal(aws_chunked_encode_end(&e, &t, 1, &body), 0);
        assert_int_equal(aws_chunked_encoded_length(AWS_CHUNKED_UNSIGNED_TRAILER, n, 65536,
                                                    strlen(name) + 1 + strlen(value) + 2),
                         body.len);
        /* the format: no chunk signatures */
        assert_null(strstr(body.data, "chunk-signature"));
        assert_memory_equal(body.data, "10000\r\n", 7);

        for (size_t step = 0; step <= 3; step += 3) {
            struct aws_chunked d;
            int rc = decode(AWS_CHUNKED_UNSIGNED_TRAILER, NULL, (uint8_t *)body.data, body.len,
                            step, (int64_t)n, &payload, &d);
            if (rc != 0)
                fail_msg("%s: %s", name, aws_chunked_strerror(rc));
            assert_int_equal(payload.len, n);
            assert_memory_equal(payload.data, data, n);
            assert_string_equal(aws_chunked_trailer(&d, name), value);
            /* what the gateway does: recompute over the payload and compare */
            char again[64];
            checksum_b64(cksum_from_name(name + 15, strlen(name + 15)), payload.data, payload.len,
                         again);
            assert_string_equal(again, aws_chunked_trailer(&d, name));
            aws_chunked_release(&d);
        }
    }

    /* tolerated variants of the end of a small body */
    const char *ok[] = {
        "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
        "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n",
        "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==",
        "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r",
        "5\r\nhello\r\n0\r\n\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
        "5\nhello\r\n0\nx-amz-checksum-crc32:NhCmhg==\n\n",
        "5;ext=1\r\nhello\r\n0;x=y\r\nX-Amz-Checksum-CRC32:  NhCmhg==  \r\n\r\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct aws_chunked d;
        int rc = decode(AWS_CHUNKED_UNSIGNED_TRAILER, NULL, (const uint8_t *)ok[i], strlen(ok[i]),
                        0, 5, &payload, &d);
        if (rc != 0)
            fail_msg("ok %zu: %s", i, aws_chunked_strerror(rc));
        assert_memory_equal(payload.data, "hello", 5);
        assert_string_equal(aws_chunked_trailer(&d, "x-amz-checksum-crc32"), "NhCmhg==");
        aws_chunked_release(&d);
        /* and one byte at a time */
        assert_int_equal(decode(AWS_CHUNKED_UNSIGNED_TRAILER, NULL, (const uint8_t *)ok[i],
                                strlen(ok[i]), 1, 5, NULL, NULL),
                         0);
    }
    /* the hello's CRC32 really is that */
    char crc[16];
    checksum_b64(CKSUM_CRC32, "hello", 5, crc);
    assert_string_equal(crc, "NhCmhg==");
    /* no trailer at all is fine in the unsigned mode */
    assert_int_equal(decode(AWS_CHUNKED_UNSIGNED_TRAILER, NULL, (const uint8_t *)"5\r\nhello\r\n0\r\n\r\n",
                            15, 0, 5, NULL, NULL),
                     0);

    const struct {
        const char *text;
        int rc;
    } bad[] = {
        {"5\r\nhello\r\n0\r\nx-amz-checksum-crc32\r\n\r\n", AWS_CHUNKED_ETRAILER},
        {"5\r\nhello\r\n0\r\n:NhCmhg==\r\n\r\n", AWS_CHUNKED_ETRAILER},
        {"5\r\nhello\r\n0\r\nx-amz-checksum-crc32 :NhCmhg==\r\n\r\n", AWS_CHUNKED_ETRAILER},
        {"5\r\nhello\r\n0\r\nx-amz-trailer-signature:" SIG1 "\r\n\r\n", AWS_CHUNKED_ETRAILER},
        {"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\nx", AWS_CHUNKED_EEXTRA},
        {"5\r\nhello\r\n0\r\n\r\n\r\n", AWS_CHUNKED_EEXTRA},
        {"5\r\nhello\r\n0\r\n\r\na:b\r\n\r\nc:d\r\n", AWS_CHUNKED_EEXTRA},
        {"5\r\nhello\r\n", AWS_CHUNKED_ETRUNCATED},
        {"5\r\nhel", AWS_CHUNKED_ETRUNCATED},
        {"5\r\nhello\r\n0", AWS_CHUNKED_ETRUNCATED},
        {"5\r\nhelloo\r\n0\r\n\r\n", AWS_CHUNKED_EMALFORMED},
        {"6\r\nhelloo\r\n0\r\n\r\n", AWS_CHUNKED_ELENGTH},
        {"4\r\nhell\r\n0\r\n\r\n", AWS_CHUNKED_ELENGTH},
        {"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:a\x01z\r\n\r\n", AWS_CHUNKED_ETRAILER},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = decode(AWS_CHUNKED_UNSIGNED_TRAILER, NULL, (const uint8_t *)bad[i].text,
                        strlen(bad[i].text), 0, 5, NULL, NULL);
        if (rc != bad[i].rc)
            fail_msg("bad %zu: got %d (%s)", i, rc, aws_chunked_strerror(rc));
    }
    /* trailer caps: 17 lines, or too many bytes */
    buf_reset(&body);
    assert_int_equal(buf_puts(&body, "5\r\nhello\r\n0\r\n"), 0);
    for (int i = 0; i < AWS_CHUNKED_TRAILER_COUNT_MAX + 1; i++)
        assert_int_equal(buf_printf(&body, "x-amz-meta-%d:v\r\n", i), 0);
    assert_int_equal(buf_puts(&body, "\r\n"), 0);
    assert_int_equal(decode(AWS_CHUNKED_UNSIGNED_TRAILER, NULL, (uint8_t *)body.data, body.len, 0,
                            5, NULL, NULL),
                     AWS_CHUNKED_ETRAILER);
    buf_reset(&body);
    assert_int_equal(buf_puts(&body, "5\r\nhello\r\n0\r\n"), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(buf_printf(&body, "x-amz-meta-%d:", i), 0);
        for (int k = 0; k < 1000; k++)
            assert_int_equal(buf_puts(&body, "v"), 0);
        assert_int_equal(buf_puts(&body, "\r\n"), 0);
    }
    assert_int_equal(decode(AWS_CHUNKED_UNSIGNED_TRAILER, NULL, (uint8_t *)body.data, body.len, 0,
                            5, NULL, NULL),
                     AWS_CHUNKED_ETRAILER);
    free(data);
    buf_release(&body);
    buf_release(&payload);
}

/* ---- encoder round trips with signed modes and odd chunk sizes -------- */

static void test_encoder_round_trip(void **state)
{
    (void)state;
    size_t sizes[] = {1, 8192, 65536, 100000, 300001};
    enum aws_chunked_mode modes[] = {AWS_CHUNKED_SIGNED, AWS_CHUNKED_SIGNED_TRAILER,
                                     AWS_CHUNKED_UNSIGNED_TRAILER};
    uint8_t *data = malloc(300001);
    assert_non_null(data);
    for (size_t i = 0; i < 300001; i++)
        data[i] = (uint8_t)(i ^ (i >> 9));
    struct buf body, payload;
    buf_init(&body, 1 << 22);
    buf_init(&payload, 1 << 22);
    for (size_t m = 0; m < 3; m++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s], chunk = 65536;
            struct aws_chunked_encoder e;
            assert_int_equal(aws_chunked_encoder_init(&e, modes[m], g_key, SEED, DATE, SCOPE), 0);
            buf_reset(&body);
            for (size_t off = 0; off < n; off += chunk)
                assert_int_equal(
                    aws_chunked_encode_chunk(&e, data + off, n - off < chunk ? n - off : chunk, &body),
                    0);
            struct sigv4_header t[2] = {{"x-amz-checksum-sha256", "AAAA"},
                                        {"x-amz-checksum-crc32", "BBBB"}};
            size_t tcount = modes[m] == AWS_CHUNKED_SIGNED ? 0 : 2;
            assert_int_equal(aws_chunked_encode_end(&e, t, tcount, &body), 0);
            size_t tbytes = tcount ? strlen("x-amz-checksum-sha256:AAAA\r\n") +
                                         strlen("x-amz-checksum-crc32:BBBB\r\n")
                                   : 0;
            assert_int_equal(aws_chunked_encoded_length(modes[m], n, chunk, tbytes), body.len);
            struct aws_chunked d;
            int rc = decode(modes[m], SEED, (uint8_t *)body.data, body.len, 4093, (int64_t)n,
                            &payload, &d);
            if (rc != 0)
                fail_msg("mode %zu size %zu: %s", m, n, aws_chunked_strerror(rc));
            assert_int_equal(payload.len, n);
            assert_memory_equal(payload.data, data, n);
            assert_int_equal(aws_chunked_trailer_count(&d), tcount);
            if (tcount) {
                const char *nm, *v;
                assert_int_equal(aws_chunked_trailer_at(&d, 1, &nm, &v), 0);
                assert_string_equal(nm, "x-amz-checksum-crc32");
                assert_string_equal(v, "BBBB");
                assert_int_equal(aws_chunked_trailer_at(&d, 2, &nm, &v), AWS_CHUNKED_EINVAL);
            }
            aws_chunked_release(&d);
            /* a decoder keyed for another seed refuses signed bodies */
            if (modes[m] != AWS_CHUNKED_UNSIGNED_TRAILER)
                assert_int_equal(decode(modes[m], TSEED, (uint8_t *)body.data, body.len, 0,
                                        (int64_t)n, NULL, NULL),
                                 AWS_CHUNKED_ESIGNATURE);
        }
    }
    /* the encoder refuses trailers in the plain signed mode, and empty chunks */
    struct aws_chunked_encoder e;
    struct sigv4_header t = {"x-amz-checksum-crc32", "BBBB"};
    assert_int_equal(aws_chunked_encoder_init(&e, AWS_CHUNKED_SIGNED, g_key, SEED, DATE, SCOPE), 0);
    buf_reset(&body);
    assert_int_equal(aws_chunked_encode_chunk(&e, data, 0, &body), AWS_CHUNKED_EINVAL);
    assert_int_equal(aws_chunked_encode_end(&e, &t, 1, &body), AWS_CHUNKED_EINVAL);
    assert_int_equal(body.len, 0);
    /* a full output buffer leaves it as it was, and the chain intact */
    struct buf tiny;
    buf_init(&tiny, 100);
    assert_int_equal(aws_chunked_encode_chunk(&e, data, 50, &tiny), -ENOSPC);
    assert_int_equal(tiny.len, 0);
    buf_release(&tiny);
    assert_int_equal(aws_chunked_encode_chunk(&e, data, 50, &body), 0);
    assert_int_equal(aws_chunked_encode_end(&e, NULL, 0, &body), 0);
    assert_int_equal(decode(AWS_CHUNKED_SIGNED, SEED, (uint8_t *)body.data, body.len, 0, 50, NULL,
                            NULL),
                     0);
    free(data);
    buf_release(&body);
    buf_release(&payload);
}

static void test_modes_and_strerror(void **state)
{
    (void)state;
    assert_int_equal(aws_chunked_mode_from_hash("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                     AWS_CHUNKED_SIGNED);
    assert_int_equal(aws_chunked_mode_from_hash("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
                     AWS_CHUNKED_SIGNED_TRAILER);
    assert_int_equal(aws_chunked_mode_from_hash("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                     AWS_CHUNKED_UNSIGNED_TRAILER);
    assert_int_equal(aws_chunked_mode_from_hash("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"),
                     AWS_CHUNKED_NONE);
    assert_int_equal(aws_chunked_mode_from_hash("UNSIGNED-PAYLOAD"), AWS_CHUNKED_NONE);
    assert_int_equal(aws_chunked_mode_from_hash(SIGV4_EMPTY_SHA256), AWS_CHUNKED_NONE);
    assert_int_equal(aws_chunked_mode_from_hash(NULL), AWS_CHUNKED_NONE);
    for (int e = AWS_CHUNKED_EMALFORMED; e >= AWS_CHUNKED_EINVAL; e--)
        assert_string_not_equal(aws_chunked_strerror(e), "unknown aws-chunked error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_seed_signatures),
        cmocka_unit_test(test_doc_signed_chunks),
        cmocka_unit_test(test_doc_signed_trailer),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_errors_sticky),
        cmocka_unit_test(test_unsigned_trailer),
        cmocka_unit_test(test_encoder_round_trip),
        cmocka_unit_test(test_modes_and_strerror),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
