/*
 * tests/fuzz/fuzz_aws_chunked.c - the aws-chunked body decoder, in its
 * three modes, on hostile bodies fed in pieces of fuzzed sizes; and the
 * encoder/decoder pair.
 *
 * All signed work uses one fixed key and seed: AWS's published example
 * (secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524/us-east-1/s3,
 * seed signature 4f232c43...), so a seed body made by the encoder with the
 * same values (see seed_gen.c) passes every signature and the fuzzer can
 * mutate from there.
 *
 * Input layout.  byte 0 selects the action: (b0 & 3) == 3 is the encoder
 * round trip, otherwise a raw decode in mode SIGNED (0), SIGNED_TRAILER
 * (1) or UNSIGNED_TRAILER (2).
 *
 * Raw decode: b0, then 4 bytes of piece sizes (each size is byte + 1; the
 * body is fed in pieces cycling through them), then 2 bytes big-endian
 * x-amz-decoded-content-length (0xffff: none), then the body.  If bit 2 of
 * b0 is set the sink refuses data (returns a positive code) once more than
 * the low byte of that length has been delivered.
 *   Properties: feed consumes everything or reports an offset within the
 *   piece; errors are sticky (feed and finish repeat them); the decoded
 *   length equals what reached the sink; trailers are well formed and
 *   findable; finish is idempotent and feed after it is refused; and the
 *   result (error code, payload, trailers) is the same as when the whole
 *   body is fed at once: the split never matters.
 *
 * Round trip: b0, mode (b1 % 3), chunk size (b2 + 1), trailer count
 * (b3 % 3; none in SIGNED mode), corruption (b4 % 6: 0, 1 none; 2 flip a
 * byte; 3 truncate; 4 insert a byte; 5 delete a byte), position (b5 b6
 * big-endian, modulo the body length), value (b7), decode piece size
 * (b8 + 1), declared length given (b9 & 1); then the payload.
 *   Properties: the encoded size is aws_chunked_encoded_length(); the
 *   untouched body decodes to exactly the payload and trailers; a
 *   corrupted body in a signed mode either fails or still decodes to
 *   exactly the payload and trailers (signatures let no altered byte in).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/aws_chunked.h"
#include "common/buf.h"
#include "common/hash.h"
#include "common/sigv4.h"
#include "tests/fuzz/fuzz_check.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define AMZ_DATE "20130524T000000Z"
#define SCOPE "20130524/us-east-1/s3/aws4_request"
#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"

#define PAYLOAD_CAP (4u << 20)

static uint8_t g_key[32];

static const enum aws_chunked_mode g_modes[3] = {
    AWS_CHUNKED_SIGNED, AWS_CHUNKED_SIGNED_TRAILER, AWS_CHUNKED_UNSIGNED_TRAILER};

struct sink {
    struct buf payload;
    size_t limit; /* refuse once more than this was delivered; SIZE_MAX: never */
};

#define SINK_REFUSED 7

static int sink_fn(void *arg, const uint8_t *p, size_t n)
{
    struct sink *s = arg;
    FUZZ_CHECK(n > 0);
    if (s->limit != SIZE_MAX && s->payload.len + n > s->limit)
        return SINK_REFUSED;
    FUZZ_CHECK(buf_append(&s->payload, p, n) == 0);
    return 0;
}

struct result {
    int rc;
    struct buf payload;
    unsigned ntrailers;
    char *names[AWS_CHUNKED_TRAILER_COUNT_MAX];
    char *values[AWS_CHUNKED_TRAILER_COUNT_MAX];
};

static void result_release(struct result *r)
{
    buf_release(&r->payload);
    for (unsigned i = 0; i < r->ntrailers; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    r->ntrailers = 0;
}

static int is_known_error(int rc)
{
    return rc == SINK_REFUSED || (rc <= AWS_CHUNKED_EMALFORMED && rc >= AWS_CHUNKED_EEXTRA) ||
           rc == -ENOMEM;
}

static void check_trailers(const struct aws_chunked *d, struct result *r)
{
    unsigned n = aws_chunked_trailer_count(d);
    FUZZ_CHECK(n <= AWS_CHUNKED_TRAILER_COUNT_MAX);
    size_t bytes = 0;
    for (unsigned i = 0; i < n; i++) {
        const char *name = NULL, *value = NULL;
        FUZZ_CHECK(aws_chunked_trailer_at(d, i, &name, &value) == 0);
        FUZZ_CHECK(name && value && name[0]);
        size_t nl = strlen(name), vl = strlen(value);
        bytes += nl + vl + 2;
        for (size_t k = 0; k < nl; k++)
            FUZZ_CHECK(name[k] > 0x20 && name[k] < 0x7f && !(name[k] >= 'A' && name[k] <= 'Z') &&
                       name[k] != ':');
        FUZZ_CHECK(strcmp(name, "x-amz-trailer-signature") != 0);
        for (size_t k = 0; k < vl; k++)
            FUZZ_CHECK((unsigned char)value[k] >= 0x20 || value[k] == '\t');
        FUZZ_CHECK(vl == 0 || (value[0] != ' ' && value[0] != '\t' && value[vl - 1] != ' ' &&
                               value[vl - 1] != '\t'));
        /* lookup finds the first of that name, in any case */
        const char *found = aws_chunked_trailer(d, name);
        FUZZ_CHECK(found != NULL);
        for (unsigned k = 0; k < i; k++) {
            const char *pn, *pv;
            FUZZ_CHECK(aws_chunked_trailer_at(d, k, &pn, &pv) == 0);
            if (strcasecmp(pn, name) == 0) {
                FUZZ_CHECK(found == pv);
                break;
            }
        }
        if (r) {
            r->names[i] = strdup(name);
            r->values[i] = strdup(value);
            FUZZ_CHECK(r->names[i] && r->values[i]);
        }
    }
    FUZZ_CHECK(bytes <= AWS_CHUNKED_TRAILER_BYTES_MAX);
    FUZZ_CHECK(aws_chunked_trailer_at(d, n, NULL, NULL) == AWS_CHUNKED_EINVAL);
    if (r)
        r->ntrailers = n;
}

/* Decode body[0..len) fed in pieces (sizes cycling through steps[0..nsteps),
 * or all at once when nsteps is 0). */
static void decode(enum aws_chunked_mode mode, const uint8_t *body, size_t len,
                   const size_t *steps, size_t nsteps, int64_t expected, size_t limit,
                   struct result *r)
{
    struct aws_chunked d;
    struct sink s = {.limit = limit};
    buf_init(&s.payload, PAYLOAD_CAP);
    memset(r, 0, sizeof *r);
    int rc = aws_chunked_init(&d, mode, g_key, SEED, AMZ_DATE, SCOPE, expected);
    FUZZ_CHECK(rc == 0);
    size_t pos = 0, k = 0;
    while (rc == 0 && pos < len) {
        size_t n = nsteps ? steps[k++ % nsteps] : len;
        if (n > len - pos)
            n = len - pos;
        /* an exact-size copy: a read past the piece is an ASan report */
        uint8_t *piece = malloc(n);
        FUZZ_CHECK(piece != NULL);
        memcpy(piece, body + pos, n);
        size_t used = (size_t)-1;
        rc = aws_chunked_feed(&d, piece, n, &used, sink_fn, &s);
        free(piece);
        if (rc == 0)
            FUZZ_CHECK(used == n);
        else
            FUZZ_CHECK(used <= n);
        pos += n;
        FUZZ_CHECK(aws_chunked_decoded_length(&d) == s.payload.len);
    }
    if (rc == 0)
        rc = aws_chunked_finish(&d);
    FUZZ_CHECK(aws_chunked_decoded_length(&d) == s.payload.len);
    if (rc == 0) {
        FUZZ_CHECK(expected < 0 || s.payload.len == (uint64_t)expected);
        check_trailers(&d, r);
        FUZZ_CHECK(aws_chunked_finish(&d) == 0);
        uint8_t byte = '0';
        FUZZ_CHECK(aws_chunked_feed(&d, &byte, 1, NULL, sink_fn, &s) == AWS_CHUNKED_EINVAL);
    } else {
        FUZZ_CHECK(is_known_error(rc));
        /* sticky */
        uint8_t byte = '\n';
        size_t used = 99;
        FUZZ_CHECK(aws_chunked_feed(&d, &byte, 1, &used, sink_fn, &s) == rc);
        FUZZ_CHECK(used == 0);
        FUZZ_CHECK(aws_chunked_finish(&d) == rc);
    }
    aws_chunked_release(&d);
    aws_chunked_release(&d); /* twice is fine */
    r->rc = rc;
    r->payload = s.payload;
}

static void check_same(const struct result *a, const struct result *b)
{
    FUZZ_CHECK(a->rc == b->rc);
    if (a->rc != 0)
        return;
    FUZZ_CHECK(a->payload.len == b->payload.len);
    FUZZ_CHECK(a->payload.len == 0 || memcmp(a->payload.data, b->payload.data, a->payload.len) == 0);
    FUZZ_CHECK(a->ntrailers == b->ntrailers);
    for (unsigned i = 0; i < a->ntrailers; i++) {
        FUZZ_CHECK(strcmp(a->names[i], b->names[i]) == 0);
        FUZZ_CHECK(strcmp(a->values[i], b->values[i]) == 0);
    }
}

static void raw_decode(const uint8_t *data, size_t size)
{
    if (size < 7)
        return;
    enum aws_chunked_mode mode = g_modes[data[0] & 3];
    size_t steps[4];
    for (int i = 0; i < 4; i++)
        steps[i] = (size_t)data[1 + i] + 1;
    unsigned declared = (unsigned)data[5] << 8 | data[6];
    int64_t expected = declared == 0xffff ? -1 : (int64_t)declared;
    size_t limit = (data[0] & 4) ? data[6] : SIZE_MAX;
    const uint8_t *body = data + 7;
    size_t len = size - 7;

    struct result split, whole;
    decode(mode, body, len, steps, 4, expected, limit, &split);
    decode(mode, body, len, NULL, 0, expected, limit, &whole);
    check_same(&split, &whole);
    result_release(&split);
    result_release(&whole);
}

/* "name:value\r\n" bytes of trailers. */
static size_t trailer_bytes(const struct sigv4_header *t, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(t[i].name) + 1 + strlen(t[i].value) + 2;
    return total;
}

static void round_trip(const uint8_t *data, size_t size)
{
    if (size < 10)
        return;
    enum aws_chunked_mode mode = g_modes[data[1] % 3];
    size_t chunk = (size_t)data[2] + 1;
    size_t ntrailers = mode == AWS_CHUNKED_SIGNED ? 0 : data[3] % 3;
    unsigned corrupt = data[4] % 6;
    size_t where = (size_t)data[5] << 8 | data[6];
    uint8_t value = data[7];
    size_t step = (size_t)data[8] + 1;
    int give_length = data[9] & 1;
    const uint8_t *payload = data + 10;
    size_t plen = size - 10;

    /* trailers: the payload's CRC32C as S3 clients send it, and a plain one */
    uint32_t crc = crc32c(0, payload, plen);
    uint8_t be[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    char crc_b64[16];
    base64_encode(be, 4, crc_b64);
    struct sigv4_header trailers[2] = {
        {"x-amz-checksum-crc32c", crc_b64},
        {"x-amz-meta-fuzz", "a value with  inner spaces"},
    };

    struct aws_chunked_encoder e;
    struct buf body;
    /* the cap is the predicted size: one byte more would be an -ENOSPC */
    buf_init(&body, aws_chunked_encoded_length(mode, plen, chunk, trailer_bytes(trailers, ntrailers)));
    FUZZ_CHECK(aws_chunked_encoder_init(&e, mode, g_key, SEED, AMZ_DATE, SCOPE) == 0);
    for (size_t off = 0; off < plen; off += chunk) {
        size_t n = plen - off < chunk ? plen - off : chunk;
        FUZZ_CHECK(aws_chunked_encode_chunk(&e, payload + off, n, &body) == 0);
    }
    FUZZ_CHECK(aws_chunked_encode_end(&e, ntrailers ? trailers : NULL, ntrailers, &body) == 0);
    FUZZ_CHECK(aws_chunked_encode_end(&e, NULL, 0, &body) == AWS_CHUNKED_EINVAL);
    FUZZ_CHECK(body.len ==
               aws_chunked_encoded_length(mode, plen, chunk, trailer_bytes(trailers, ntrailers)));

    int64_t expected = give_length ? (int64_t)plen : -1;
    struct result r;

    /* untouched: exactly the payload and the trailers */
    decode(mode, (const uint8_t *)body.data, body.len, &step, 1, expected, SIZE_MAX, &r);
    FUZZ_CHECK(r.rc == 0);
    FUZZ_CHECK(r.payload.len == plen && (plen == 0 || memcmp(r.payload.data, payload, plen) == 0));
    FUZZ_CHECK(r.ntrailers == ntrailers);
    for (size_t i = 0; i < ntrailers; i++) {
        FUZZ_CHECK(strcmp(r.names[i], trailers[i].name) == 0);
        FUZZ_CHECK(strcmp(r.values[i], trailers[i].value) == 0);
    }
    result_release(&r);

    if (corrupt < 2 || body.len == 0) {
        buf_release(&body);
        return;
    }
    /* corrupted */
    uint8_t *bad = malloc(body.len + 1);
    FUZZ_CHECK(bad != NULL);
    memcpy(bad, body.data, body.len);
    size_t blen = body.len;
    where %= blen;
    switch (corrupt) {
    case 2:
        bad[where] ^= value ? value : 1;
        break;
    case 3:
        blen = where;
        break;
    case 4:
        memmove(bad + where + 1, bad + where, blen - where);
        bad[where] = value;
        blen++;
        break;
    case 5:
        memmove(bad + where, bad + where + 1, blen - where - 1);
        blen--;
        break;
    }
    decode(mode, bad, blen, &step, 1, expected, SIZE_MAX, &r);
    if (r.rc == 0 && mode != AWS_CHUNKED_UNSIGNED_TRAILER) {
        FUZZ_CHECK(r.payload.len == plen &&
                   (plen == 0 || memcmp(r.payload.data, payload, plen) == 0));
        FUZZ_CHECK(r.ntrailers == ntrailers);
        for (size_t i = 0; i < ntrailers; i++) {
            FUZZ_CHECK(strcmp(r.names[i], trailers[i].name) == 0);
            FUZZ_CHECK(strcmp(r.values[i], trailers[i].value) == 0);
        }
    }
    result_release(&r);
    free(bad);
    buf_release(&body);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sigv4_signing_key(SECRET, "20130524", "us-east-1", "s3", g_key);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if ((data[0] & 3) == 3)
        round_trip(data, size);
    else
        raw_decode(data, size);
    return 0;
}
