/*
 * common/aws_chunked.h - the aws-chunked body encoding (Content-Encoding:
 * aws-chunked), decoded as a stream with every chunk signature checked,
 * and the matching encoder for cairn's own clients.
 *
 * Which variant a request uses is named by its x-amz-content-sha256:
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD          AWS_CHUNKED_SIGNED
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  AWS_CHUNKED_SIGNED_TRAILER
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER          AWS_CHUNKED_UNSIGNED_TRAILER
 *
 * Wire format (each "\r\n" is CRLF):
 *   <hex size>;chunk-signature=<64 hex>\r\n <size bytes> \r\n     (repeated)
 *   0;chunk-signature=<64 hex>\r\n                            (final chunk)
 *   [<name>:<value>\r\n ...]                                  (trailer modes)
 *   [x-amz-trailer-signature:<64 hex>\r\n]                   (signed trailer)
 *   \r\n
 * Unsigned-trailer chunks have no ";chunk-signature=" (any other chunk
 * extension after ';' is ignored there).  A chunk signature is
 *   HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" amz_date "\n" scope "\n"
 *        previous signature "\n" hex(SHA-256("")) "\n" hex(SHA-256(data)))
 * where the first "previous signature" is the seed: the request's own
 * (header) signature.  The trailer signature is
 *   HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n" amz_date "\n" scope "\n"
 *        final chunk's signature "\n" hex(SHA-256(trailer lines)))
 * with each trailer line hashed as "name:value\n" (name lower-case, value
 * trimmed) in the order received, whatever line ending the client used.
 *
 * Tolerance (what real clients send, beyond the letter of the format):
 *   - the stream may end right after the last trailer line's CRLF without
 *     the closing empty line, or in the middle of that last line without
 *     its CRLF (the .NET SDK, per MinIO's #17662 / #17774, and the AWS
 *     documentation's own examples vary here); likewise the closing CRLF
 *     after "0;chunk-signature=...\r\n" may be missing.  All signatures
 *     and lengths are still checked; this only concerns the last bytes.
 *   - in the trailer modes, one empty line between the final chunk and the
 *     trailers ("0;...\r\n\r\nx-amz-checksum-crc32:...\r\n\r\n") is
 *     accepted, as some implementations wrote it from AWS's examples.
 *   - header and trailer lines may end in a bare LF; the CRLF after chunk
 *     data must be exact.
 *   - trailer names are matched case-insensitively, values are trimmed.
 * botocore, the Java SDK v2 and the Go SDK v2 send the strict form; the
 * tolerance never lets unsigned bytes into the payload.
 *
 * Calling sequence (server): aws_chunked_init() with the signing key and
 * seed signature from sigv4_verify(), the request's amz date, the scope
 * (sigv4_scope()) and x-amz-decoded-content-length (or -1); then
 * aws_chunked_feed() for each piece of the body as it arrives; then
 * aws_chunked_finish() at the end of the body; read trailers with
 * aws_chunked_trailer(); always aws_chunked_release().
 *
 * IMPORTANT: feed() hands payload bytes to the sink as they arrive, before
 * the signature of the chunk that holds them has been checked (the
 * signature can only be checked at the end of the chunk).  The caller
 * must keep everything it writes invisible (staged chunks, no metadata
 * commit) until finish() returns 0.  Any error is final: the decoder
 * stays failed and returns the same error.
 *
 * Limits: a header or trailer line is at most AWS_CHUNKED_LINE_MAX bytes,
 * a chunk at most AWS_CHUNKED_CHUNK_MAX bytes (AWS's SDKs use 64 KiB to
 * 1 MiB), trailers at most AWS_CHUNKED_TRAILER_COUNT_MAX lines holding
 * AWS_CHUNKED_TRAILER_BYTES_MAX bytes of names and values.
 *
 * Thread rules: a decoder or encoder belongs to one thread at a time.
 */
#ifndef CAIRN_COMMON_AWS_CHUNKED_H
#define CAIRN_COMMON_AWS_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/hash.h"
#include "common/sigv4.h"

enum aws_chunked_mode {
    AWS_CHUNKED_NONE = 0,
    AWS_CHUNKED_SIGNED,           /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    AWS_CHUNKED_SIGNED_TRAILER,   /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
    AWS_CHUNKED_UNSIGNED_TRAILER, /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
};

/* Error codes: -32050..-32099; negative errno values pass through, and so
 * does whatever a sink returns.  The S3 error each maps to is noted. */
enum aws_chunked_error {
    AWS_CHUNKED_EMALFORMED = -32050,  /* framing: bad hex size, missing CRLF, bad chunk-signature
                                         syntax: IncompleteBody / InvalidRequest */
    AWS_CHUNKED_ELINE = -32051,       /* a header or trailer line past AWS_CHUNKED_LINE_MAX */
    AWS_CHUNKED_ECHUNKSIZE = -32052,  /* a chunk larger than AWS_CHUNKED_CHUNK_MAX */
    AWS_CHUNKED_ESIGNATURE = -32053,  /* a chunk signature differs: SignatureDoesNotMatch */
    AWS_CHUNKED_ETRAILER = -32054,    /* trailer malformed, unexpected or too large:
                                         MalformedTrailerError */
    AWS_CHUNKED_ETRAILERSIG = -32055, /* trailer signature missing or wrong: SignatureDoesNotMatch */
    AWS_CHUNKED_ELENGTH = -32056,     /* payload length != x-amz-decoded-content-length:
                                         IncompleteBody */
    AWS_CHUNKED_ETRUNCATED = -32057,  /* the body ended inside a chunk: IncompleteBody */
    AWS_CHUNKED_EEXTRA = -32058,      /* bytes after the end of the encoding: IncompleteBody */
    AWS_CHUNKED_EINVAL = -32059,      /* bad argument, or used after finish */
};

const char *aws_chunked_strerror(int err);

#define AWS_CHUNKED_LINE_MAX 1024
#define AWS_CHUNKED_CHUNK_MAX (16u << 20)
#define AWS_CHUNKED_TRAILER_COUNT_MAX 16
#define AWS_CHUNKED_TRAILER_BYTES_MAX 4096

/* The mode an x-amz-content-sha256 value names, or AWS_CHUNKED_NONE (a
 * hex hash, UNSIGNED-PAYLOAD, or an unsupported streaming variant such as
 * SigV4a's STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD). */
enum aws_chunked_mode aws_chunked_mode_from_hash(const char *x_amz_content_sha256);

/* Decoder state; treat as opaque. */
struct aws_chunked {
    enum aws_chunked_mode mode;
    int state;
    int err;                   /* sticky error, 0 if none */
    uint8_t key[32];
    char prev_sig[65];
    char amz_date[17];
    char scope[SIGV4_SCOPE_MAX + 1];
    char line[AWS_CHUNKED_LINE_MAX + 1];
    size_t line_len;
    uint64_t chunk_left;
    char chunk_sig[65];
    struct cksum chunk_hash;
    int hashing;               /* chunk_hash holds a live context */
    uint64_t decoded;          /* payload bytes delivered */
    int64_t expected;          /* x-amz-decoded-content-length or -1 */
    char trailers[AWS_CHUNKED_TRAILER_BYTES_MAX]; /* "name\0value\0" ... */
    size_t trailers_len;
    unsigned trailer_count;
    int trailer_signed;        /* x-amz-trailer-signature seen and verified */
    int blank_seen;            /* the empty line ended a trailer-less section */
    int blank_reopened;        /* ...and trailers came after it anyway */
};

/*
 * Set up d.
 *   mode:            one of the three modes.
 *   signing_key:     the day's key from sigv4_verify() (signed modes;
 *                    copied; may be NULL for AWS_CHUNKED_UNSIGNED_TRAILER).
 *   seed_signature:  the request's verified signature, 64 hex (signed
 *                    modes; copied).
 *   amz_date:        the request's "YYYYMMDDTHHMMSSZ" (signed modes).
 *   scope:           "20130524/us-east-1/s3/aws4_request" (signed modes).
 *   decoded_length:  x-amz-decoded-content-length, or -1 if the request
 *                    had none (then the length is not checked).
 * Returns 0 or AWS_CHUNKED_EINVAL.  d must be given to
 * aws_chunked_release() in every case.
 */
int aws_chunked_init(struct aws_chunked *d, enum aws_chunked_mode mode,
                     const uint8_t signing_key[32], const char *seed_signature,
                     const char *amz_date, const char *scope, int64_t decoded_length);

/*
 * Decode in[0..len): payload bytes go to sink(arg, p, n) in order, in
 * pieces of any size (sink may be NULL to discard); a non-zero return
 * from sink stops decoding and is returned (and kept as the error).
 * *consumed (may be NULL) gets the number of input bytes used: len on
 * success, the offset where the error was found otherwise.
 * Returns 0 or an error; after an error every call returns it again.
 */
int aws_chunked_feed(struct aws_chunked *d, const uint8_t *in, size_t len, size_t *consumed,
                     int (*sink)(void *arg, const uint8_t *p, size_t n), void *arg);

/*
 * The body has ended.  Returns 0 only if the encoding ended properly
 * (final chunk seen, trailers complete within the tolerance above, the
 * trailer signature verified in AWS_CHUNKED_SIGNED_TRAILER mode) and the
 * payload length equals decoded_length (when given).  Otherwise
 * AWS_CHUNKED_ETRUNCATED, ETRAILERSIG, ELENGTH, or the earlier error.
 */
int aws_chunked_finish(struct aws_chunked *d);

/* Payload bytes delivered so far. */
uint64_t aws_chunked_decoded_length(const struct aws_chunked *d);

/* Value of the trailer called name (case-insensitive, e.g.
 * "x-amz-checksum-crc32c"), or NULL.  x-amz-trailer-signature is not
 * listed.  Valid after finish() returned 0; the pointer lives until
 * release. */
const char *aws_chunked_trailer(const struct aws_chunked *d, const char *name);
/* Number of trailers, and the i-th (0-based) in arrival order.  Returns 0
 * or AWS_CHUNKED_EINVAL if i is out of range. */
unsigned aws_chunked_trailer_count(const struct aws_chunked *d);
int aws_chunked_trailer_at(const struct aws_chunked *d, unsigned i, const char **name,
                           const char **value);

/* Free what d holds (the running chunk hash).  Safe to call twice. */
void aws_chunked_release(struct aws_chunked *d);

/* ---- encoder (cairn's clients: bench tool, sync daemon, tests) -------- */

/*
 * Calling sequence: sign the request headers with x-amz-content-sha256 set
 * to the mode's name, Content-Encoding: aws-chunked,
 * x-amz-decoded-content-length and Content-Length =
 * aws_chunked_encoded_length(); sigv4_sign_headers() gives the seed
 * signature; aws_chunked_encoder_init(); aws_chunked_encode_chunk() for
 * each piece of payload (any size 1..AWS_CHUNKED_CHUNK_MAX; AWS requires
 * 8 KiB or more for all but the last); aws_chunked_encode_end() once.
 * The encoder holds no resources.
 */
struct aws_chunked_encoder {
    enum aws_chunked_mode mode;
    uint8_t key[32];
    char prev_sig[65];
    char amz_date[17];
    char scope[SIGV4_SCOPE_MAX + 1];
    int ended;
};

/* Arguments as for aws_chunked_init (key/seed/date/scope may be NULL in
 * AWS_CHUNKED_UNSIGNED_TRAILER mode).  Returns 0 or AWS_CHUNKED_EINVAL. */
int aws_chunked_encoder_init(struct aws_chunked_encoder *e, enum aws_chunked_mode mode,
                             const uint8_t signing_key[32], const char *seed_signature,
                             const char *amz_date, const char *scope);

/* Append one data chunk (len 1..AWS_CHUNKED_CHUNK_MAX) to out.  Returns 0,
 * AWS_CHUNKED_EINVAL (len 0 or too big, or after end), -ENOSPC, -ENOMEM;
 * out is restored on failure. */
int aws_chunked_encode_chunk(struct aws_chunked_encoder *e, const uint8_t *data, size_t len,
                             struct buf *out);

/* Append the final chunk, the trailers (names lower-case, e.g.
 * {"x-amz-checksum-crc32c", "sOO8/Q=="}; none allowed in
 * AWS_CHUNKED_SIGNED mode), the trailer signature in
 * AWS_CHUNKED_SIGNED_TRAILER mode, and the closing CRLF.  Returns as
 * encode_chunk. */
int aws_chunked_encode_end(struct aws_chunked_encoder *e, const struct sigv4_header *trailers,
                           size_t count, struct buf *out);

/* The Content-Length of payload_len bytes sent in chunks of chunk_size
 * (the last one shorter), ending with trailers whose "name:value\r\n"
 * lines total trailer_bytes (0 for none). */
uint64_t aws_chunked_encoded_length(enum aws_chunked_mode mode, uint64_t payload_len,
                                    size_t chunk_size, size_t trailer_bytes);

#endif
