/*
 * tests/fuzz/seed_gen.c - writes the seed inputs that only cairn's own
 * encoders can make: aws-chunked bodies with valid chunk signatures,
 * SigV4 requests with valid signatures, metadata records and commands,
 * and chunker data.  The hand-written seeds (headers, query strings, S3
 * XML bodies) are plain files in corpus/ and are not touched.
 *
 * Usage: fuzz_seed_gen <corpus dir>   (writes into <dir>/<target>/gen-*)
 * The output is deterministic; rerun it after a format change and commit
 * the files.  Each file's layout is the one its fuzz_<target>.c describes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws_chunked.h"
#include "common/buf.h"
#include "common/hash.h"
#include "common/sigv4.h"
#include "metadata/meta.h"
#include "metadata/meta_cmd.h"
#include "metadata/record.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define AK "AKIAIOSFODNN7EXAMPLE"
#define AMZ_DATE "20130524T000000Z"
#define SCOPE "20130524/us-east-1/s3/aws4_request"
#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define HOST "examplebucket.s3.amazonaws.com"

static const char *g_dir;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_seed_gen: %s\n", what);
    exit(1);
}

static void write_file(const char *target, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/gen-%s", g_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        die(path);
}

/* ---- aws-chunked ----------------------------------------------------- */

static void chunked_seed(const char *name, enum aws_chunked_mode mode, unsigned action,
                         const char *payload, size_t chunk, int trailers)
{
    uint8_t key[32];
    sigv4_signing_key(SECRET, "20130524", "us-east-1", "s3", key);
    struct aws_chunked_encoder e;
    struct buf out;
    buf_init(&out, 1 << 20);
    size_t plen = strlen(payload);
    /* raw decode header: action, 4 piece sizes - 1, declared length */
    uint8_t hdr[7] = {(uint8_t)action, 6, 63, 0, 200, (uint8_t)(plen >> 8), (uint8_t)plen};
    if (buf_append(&out, hdr, sizeof hdr) < 0)
        die("buf");
    if (aws_chunked_encoder_init(&e, mode, key, SEED, AMZ_DATE, SCOPE) != 0)
        die("encoder_init");
    for (size_t off = 0; off < plen; off += chunk) {
        size_t n = plen - off < chunk ? plen - off : chunk;
        if (aws_chunked_encode_chunk(&e, (const uint8_t *)payload + off, n, &out) != 0)
            die("encode_chunk");
    }
    struct sigv4_header t[2] = {{"x-amz-checksum-crc32", "i9aeUg=="}, {"x-amz-meta-a", "b"}};
    if (aws_chunked_encode_end(&e, trailers ? t : NULL, trailers ? 2 : 0, &out) != 0)
        die("encode_end");
    write_file("fuzz_aws_chunked", name, out.data, out.len);
    buf_release(&out);
}

static void chunked_round_trip_seed(const char *name, unsigned mode, unsigned corrupt,
                                    const char *payload)
{
    struct buf out;
    buf_init(&out, 1 << 20);
    uint8_t hdr[10] = {3, (uint8_t)mode, 31, 2, (uint8_t)corrupt, 0, 77, 'X', 9, 1};
    if (buf_append(&out, hdr, sizeof hdr) < 0 || buf_puts(&out, payload) < 0)
        die("buf");
    write_file("fuzz_aws_chunked", name, out.data, out.len);
    buf_release(&out);
}

static void gen_chunked(void)
{
    const char *text = "The quick brown fox jumps over the lazy dog. "
                       "Pack my box with five dozen liquor jugs. "
                       "How vexingly quick daft zebras jump! "
                       "Sphinx of black quartz, judge my vow.";
    chunked_seed("signed", AWS_CHUNKED_SIGNED, 0, text, 64, 0);
    chunked_seed("signed-trailer", AWS_CHUNKED_SIGNED_TRAILER, 1, text, 100, 1);
    chunked_seed("unsigned-trailer", AWS_CHUNKED_UNSIGNED_TRAILER, 2, text, 50, 1);
    chunked_seed("signed-empty", AWS_CHUNKED_SIGNED, 0, "", 64, 0);
    chunked_round_trip_seed("roundtrip-signed", 0, 0, text);
    chunked_round_trip_seed("roundtrip-signed-trailer-flip", 1, 2, text);
    chunked_round_trip_seed("roundtrip-unsigned-insert", 2, 4, text);
}

/* ---- SigV4 requests ------------------------------------------------------ */

static void gen_sigv4(void)
{
    const struct sigv4_credentials cred = {AK, SECRET, "us-east-1", "s3"};
    time_t now;
    char date[17];
    struct buf auth, url, seed;
    buf_init(&auth, 8192);
    buf_init(&url, 8192);
    buf_init(&seed, 16384);
    if (sigv4_parse_amz_date(AMZ_DATE, &now) != 0)
        die("date");
    sigv4_format_amz_date(now, date);

    /* header auth over exactly the headers fuzz_sigv4_auth's request has */
    struct sigv4_header h[3] = {
        {"host", HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", date}};
    if (sigv4_sign_headers(&cred, "GET", "/photos/2013/a%20b.jpg", "list-type=2&prefix=J&max-keys=2",
                           h, 3, SIGV4_EMPTY_SHA256, now, &auth, NULL) != 0)
        die("sign_headers");
    if (buf_printf(&seed, "%s\n%s\nFri, 24 May 2013 00:00:00 GMT\n/photos/2013/a%%20b.jpg\n"
                          "list-type=2&prefix=J&max-keys=2",
                   auth.data, date) < 0)
        die("buf");
    write_file("fuzz_sigv4_auth", "signed-get", seed.data, seed.len);

    /* a presigned URL: only the path and the query matter */
    if (sigv4_presign_url(&cred, "GET", "https://" HOST, "/test.txt", NULL, 86400, now, &url) != 0)
        die("presign");
    const char *q = strchr(url.data, '?');
    if (!q)
        die("presign: no query");
    buf_reset(&seed);
    if (buf_printf(&seed, "\n\n\n/test.txt\n%s", q + 1) < 0)
        die("buf");
    write_file("fuzz_sigv4_auth", "presigned", seed.data, seed.len);
    buf_release(&auth);
    buf_release(&url);
    buf_release(&seed);
}

/* ---- metadata records ---------------------------------------------------- */

static void rec_file(const char *name, struct rec_w *w)
{
    if (rec_w_error(w))
        die("rec_w");
    write_file("fuzz_meta_record", name, rec_w_data(w), rec_w_len(w));
    rec_w_release(w);
    rec_w_init(w, REC_MAX);
}

static void gen_records(void)
{
    struct rec_w w;
    rec_w_init(&w, REC_MAX);

    struct meta_user u = {.name = "alice", .access_key = AK, .secret_key = SECRET,
                          .created_ms = 1369353600000};
    rec_user_encode(&w, &u);
    rec_file("user", &w);

    struct meta_bucket b = {.name = "examplebucket", .owner = "alice",
                            .created_ms = 1369353600000, .versioning = META_VERSIONING_ENABLED,
                            .region = "us-east-1"};
    rec_bucket_encode(&w, &b);
    rec_file("bucket", &w);

    struct meta_chunk c = {.len = 1048576, .refcount = 3, .zero_since_ms = -1,
                           .placement_len = 6, .placement = {1, 2, 3, 4, 5, 6}};
    rec_chunk_encode(&w, &c);
    rec_file("chunk", &w);

    struct meta_chunk_ref refs[2];
    memset(refs, 0, sizeof refs);
    refs[0].id[0] = 0xaa;
    refs[0].len = 262144;
    refs[1].id[31] = 0x55;
    refs[1].len = 77;
    uint8_t attrs[] = "\x01\x0a" "text/plain";
    struct meta_object o = {.version_id = "null", .mtime_ms = 1369353600123, .size = 262221,
                            .etag = "d41d8cd98f00b204e9800998ecf8427e", .flags = 0,
                            .attrs = attrs, .attrs_len = sizeof attrs - 1,
                            .chunks = refs, .nchunks = 2};
    rec_object_encode(&w, &o);
    rec_file("object-chunks", &w);
    struct meta_object small = {.version_id = "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY",
                                .mtime_ms = 1, .size = 5, .etag = "5d41402abc4b2a76b9719d911017c592",
                                .inline_data = (uint8_t *)"hello", .inline_len = 5};
    rec_object_encode(&w, &small);
    rec_file("object-inline", &w);
    struct meta_object marker = {.version_id = "0123456789abcdef0123456789abcdef",
                                 .flags = META_OBJ_DELETE_MARKER, .mtime_ms = 2};
    rec_object_encode(&w, &marker);
    rec_file("object-marker", &w);

    struct meta_upload up = {.upload_id = "2~iCw_lDY8VoNlP1VA5sNTS9yEhWd7aZ",
                             .initiated_ms = 1369353600000, .attrs = attrs,
                             .attrs_len = sizeof attrs - 1};
    rec_upload_encode(&w, &up);
    rec_file("upload", &w);

    rec_upload_ref_encode(&w, "examplebucket", "videos/my-movie.m2ts");
    rec_file("upload-ref", &w);

    struct meta_part part = {.part_number = 2, .size = 5242880,
                             .etag = "7778aef83f66abc1fa1e8477f296d394", .mtime_ms = 7,
                             .chunks = refs, .nchunks = 2};
    rec_part_encode(&w, &part);
    rec_file("part", &w);

    struct meta_change ch = {.seq = 1, .op = META_CHANGE_PUT, .key = "photos/2013/a b.jpg",
                             .version_id = "null", .etag = "d41d8cd98f00b204e9800998ecf8427e",
                             .size = 0, .mtime_ms = 1369353600000};
    rec_change_encode(&w, &ch);
    rec_file("change", &w);

    /* commands */
    int64_t now = 1369353600000;
    meta_cmd_user_add(&w, now, &u);
    rec_file("cmd-user-add", &w);
    meta_cmd_bucket_create(&w, now, &b);
    rec_file("cmd-bucket-create", &w);
    meta_cmd_bucket_set_versioning(&w, now, "examplebucket", META_VERSIONING_SUSPENDED);
    rec_file("cmd-bucket-versioning", &w);
    c.id[0] = 0x42;
    meta_cmd_chunk_add(&w, now, &c);
    rec_file("cmd-chunk-add", &w);
    meta_cmd_chunk_remove_unused(&w, now, c.id, now - 3600000);
    rec_file("cmd-chunk-remove", &w);
    struct meta_precond pc = {.if_none_match_star = 0,
                              .if_match_etag = "d41d8cd98f00b204e9800998ecf8427e",
                              .if_version_id = NULL};
    o.key = "photos/2013/a b.jpg";
    meta_cmd_object_put(&w, now, "examplebucket", &o, &pc);
    rec_file("cmd-object-put", &w);
    meta_cmd_object_delete(&w, now, "examplebucket", "photos/2013/a b.jpg", NULL,
                           "0123456789abcdef0123456789abcdef", NULL);
    rec_file("cmd-object-delete", &w);
    struct meta_precond dpc = {.if_match_etag = "d41d8cd98f00b204e9800998ecf8427e",
                               .has_if_size = 1, .if_size = 1048576,
                               .has_if_mtime = 1, .if_mtime_s = 1369353600};
    meta_cmd_object_delete(&w, now, "examplebucket", "photos/2013/a b.jpg", NULL,
                           "0123456789abcdef0123456789abcdef", &dpc);
    rec_file("cmd-object-delete-if", &w);
    up.key = "videos/my-movie.m2ts";
    meta_cmd_upload_create(&w, now, "examplebucket", &up);
    rec_file("cmd-upload-create", &w);
    meta_cmd_part_put(&w, now, "examplebucket", up.key, up.upload_id, &part);
    rec_file("cmd-part-put", &w);
    uint32_t nums[2] = {1, 2};
    const char *etags[2] = {"a54357aff0632cce46d942af68356b38", "0c78aef83f66abc1fa1e8477f296d394"};
    struct meta_object done = {.key = up.key, .version_id = "null", .mtime_ms = now,
                               .size = 10485760, .etag = "d2a4f3a2e3f6c1b2a0e9c8d7f6e5d4c3-2"};
    meta_cmd_upload_complete(&w, now, "examplebucket", up.key, up.upload_id, nums, etags, 2,
                             &done, NULL);
    rec_file("cmd-upload-complete", &w);
    meta_cmd_upload_abort(&w, now, "examplebucket", up.key, up.upload_id);
    rec_file("cmd-upload-abort", &w);
    rec_w_release(&w);
}

/* ---- chunker data -------------------------------------------------------- */

static void gen_fastcdc(void)
{
    /* deterministic pseudo-random data (xorshift), 8 KiB, and text-like
     * data with repeats: small average sizes so both hold many chunks */
    uint8_t buf[5 + 8192];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 5; i < sizeof buf; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    buf[0] = 0x08; /* avg 128, min 32 -> 64, max 256 */
    buf[1] = 10, buf[2] = 0, buf[3] = 100, buf[4] = 3;
    write_file("fuzz_fastcdc", "random-avg128", buf, sizeof buf);
    buf[0] = 0x25; /* avg 4096, min 2048, max 12288 */
    buf[1] = 255, buf[2] = 1, buf[3] = 37, buf[4] = 0x83;
    write_file("fuzz_fastcdc", "random-avg4k", buf, sizeof buf);
    for (size_t i = 5; i < sizeof buf; i++)
        buf[i] = (uint8_t)"lorem ipsum dolor sit amet, "[(i * 7 / 5) % 28];
    buf[0] = 0x4a; /* avg 512, min 128, max 2048 */
    buf[1] = 3, buf[2] = 200, buf[3] = 0, buf[4] = 250;
    write_file("fuzz_fastcdc", "text-avg512", buf, sizeof buf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    gen_chunked();
    gen_sigv4();
    gen_records();
    gen_fastcdc();
    return 0;
}
