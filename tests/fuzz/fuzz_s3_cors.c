/*
 * tests/fuzz/fuzz_s3_cors.c - the CORS rules (gateway/s3_cors_rules.c):
 * a PutBucketCors body, and a stored blob as a damaged disk could hold it.
 *
 * The whole input is
 *   1. validated as a PutBucketCors document: the answer is S3E_NONE,
 *      S3E_MALFORMED_XML (no message), S3E_INVALID_REQUEST (a non-empty
 *      message) or S3E_INTERNAL; the output buffer is unchanged unless it
 *      succeeds.  A document that passes: its stored form is at most
 *      len + 16 bytes and starts with the magic; written back as XML it
 *      is accepted again, to the very same stored form; and a set of
 *      probes (origins, methods, request header lists) matches only rules
 *      inside the blob, whose headers are well-formed name/value pairs
 *      starting with Access-Control-Allow-Origin and ending with Vary;
 *   2. taken as a stored blob as it is (no magic: no rules) and with the
 *      magic put in front (any bytes after it): the same probes, and
 *      writing back, never read outside it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xml.h"
#include "gateway/s3_cors.h"
#include "tests/fuzz/fuzz_check.h"

static const char *const origins[] = {"https://a.example", "http://x.y.example.com", "*", "", "null"};
static const char *const methods[] = {"GET", "PUT", "HEAD", "POST", "DELETE"};
static const char *const headers[] = {NULL, "", "content-type", "X-Amz-Date, content-type", " , a ,"};

static void check_headers(const struct buf *h)
{
    const char *p = h->data, *end = h->data + h->len, *last = NULL;
    size_t pairs = 0;
    FUZZ_CHECK(h->len > 0 && strcmp(h->data, "Access-Control-Allow-Origin") == 0);
    while (p < end) {
        const char *name_end = memchr(p, 0, (size_t)(end - p));
        FUZZ_CHECK(name_end != NULL && name_end > p && name_end + 1 < end);
        const char *value_end = memchr(name_end + 1, 0, (size_t)(end - name_end - 1));
        FUZZ_CHECK(value_end != NULL);
        last = p;
        pairs++;
        p = value_end + 1;
    }
    FUZZ_CHECK(pairs >= 2 && strcmp(last, "Vary") == 0);
}

static void probe(const char *blob, size_t len)
{
    for (size_t o = 0; o < sizeof origins / sizeof *origins; o++)
        for (size_t m = 0; m < sizeof methods / sizeof *methods; m++)
            for (size_t h = 0; h < sizeof headers / sizeof *headers; h++) {
                struct s3_cors_match match;
                if (!s3_cors_match(blob, len, origins[o], methods[m], headers[h], &match))
                    continue;
                FUZZ_CHECK(match.rule >= blob && match.rule <= match.end &&
                           match.end <= blob + len);
                struct buf out;
                buf_init(&out, 1u << 20);
                FUZZ_CHECK(s3_cors_headers(&match, origins[o], headers[h], &out) == 0);
                check_headers(&out);
                buf_release(&out);
            }
}

static int write_back(const char *blob, size_t len, struct buf *xml)
{
    struct xml_writer w;
    buf_init(xml, 4u << 20);
    xmlw_init(&w, xml);
    xmlw_open(&w, "CORSConfiguration");
    s3_cors_write_xml(blob, len, &w);
    xmlw_close(&w);
    return xmlw_finish(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > S3_CORS_MAX_BODY)
        return 0;
    const char *doc = (const char *)data;
    struct buf out, xml, again;
    char msg[512];

    /* 1. a PutBucketCors body */
    buf_init(&out, size + 16);
    enum s3_err e = s3_cors_parse(doc, size, &out, msg, sizeof msg);
    FUZZ_CHECK(e == S3E_NONE || e == S3E_MALFORMED_XML || e == S3E_INVALID_REQUEST ||
               e == S3E_INTERNAL);
    if (e == S3E_INVALID_REQUEST)
        FUZZ_CHECK(msg[0] != 0);
    if (e == S3E_MALFORMED_XML)
        FUZZ_CHECK(msg[0] == 0);
    if (e != S3E_NONE) {
        FUZZ_CHECK(out.len == 0);
    } else {
        FUZZ_CHECK(out.len <= size + 16 && out.len >= 6 && memcmp(out.data, "cors1", 6) == 0);
        FUZZ_CHECK(write_back(out.data, out.len, &xml) == 0);
        buf_init(&again, out.len + 16);
        FUZZ_CHECK(s3_cors_parse(xml.data, xml.len, &again, msg, sizeof msg) == S3E_NONE);
        FUZZ_CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
        buf_release(&again);
        buf_release(&xml);
        probe(out.data, out.len);
    }
    buf_release(&out);

    /* 2. the bytes as a stored blob, without and with the magic (in a
     * heap copy of exactly that size, so ASan sees any overread) */
    char *raw = malloc(size ? size : 1);
    memcpy(raw, data, size);
    probe(raw, size);
    int rc = write_back(raw, size, &xml);
    FUZZ_CHECK(rc == 0 || rc < 0);
    buf_release(&xml);
    free(raw);
    char *blob = malloc(size + 6);
    memcpy(blob, "cors1", 6);
    memcpy(blob + 6, data, size);
    probe(blob, size + 6);
    write_back(blob, size + 6, &xml);
    buf_release(&xml);
    free(blob);
    return 0;
}
