/*
 * Unit tests for the CORS rules of gateway/s3_cors.c: validating a
 * PutBucketCors document (every MalformedXML and InvalidRequest case and
 * which one wins), the stored form written back as XML, matching origins,
 * methods and request headers, the headers of a match, and a stored blob
 * that is torn or foreign.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/s3_cors.h"

#define MINIMAL "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"

/* A CORSConfiguration of the given rules' inner XML (NULL-terminated). */
static const char *config(struct buf *doc, ...)
{
    va_list ap;
    buf_init(doc, 1u << 20);
    buf_puts(doc, "<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    va_start(ap, doc);
    for (const char *rule; (rule = va_arg(ap, const char *));)
        buf_printf(doc, "<CORSRule>%s</CORSRule>", rule);
    va_end(ap);
    buf_puts(doc, "</CORSConfiguration>");
    return doc->data;
}

static enum s3_err parse(const char *xml, struct buf *out, char *msg)
{
    buf_init(out, 1u << 20);
    return s3_cors_parse(xml, strlen(xml), out, msg, 512);
}

static void expect_malformed(const char *xml)
{
    struct buf out;
    char msg[512];
    enum s3_err e = parse(xml, &out, msg);
    if (e != S3E_MALFORMED_XML)
        fail_msg("expected MalformedXML for %s, got %d (%s)", xml, e, msg);
    assert_int_equal(out.len, 0);
    buf_release(&out);
}

static void expect_invalid(const char *xml, const char *message)
{
    struct buf out;
    char msg[512];
    assert_int_equal(parse(xml, &out, msg), S3E_INVALID_REQUEST);
    assert_string_equal(msg, message);
    assert_int_equal(out.len, 0);
    buf_release(&out);
}

static void test_malformed(void **state)
{
    (void)state;
    struct buf d;
    expect_malformed("");
    expect_malformed("<CORSConfiguration>");
    expect_malformed("<Other><CORSRule>" MINIMAL "</CORSRule></Other>");
    expect_malformed("<CORSConfiguration/>");
    expect_malformed("<CORSConfiguration>" MINIMAL "</CORSConfiguration>");
    expect_malformed("<CORSConfiguration>text<CORSRule>" MINIMAL "</CORSRule></CORSConfiguration>");
    expect_malformed("<CORSConfiguration><CORSRule>" MINIMAL "</CORSRule><Owner>x</Owner></CORSConfiguration>");
    const char *cases[] = {
        "",
        "<AllowedMethod>GET</AllowedMethod>",
        "<AllowedOrigin>*</AllowedOrigin>",
        MINIMAL "text",
        MINIMAL "<AllowedHeaders>*</AllowedHeaders>",
        MINIMAL "<allowedheader>*</allowedheader>",
        "<AllowedOrigin><Origin>*</Origin></AllowedOrigin><AllowedMethod>GET</AllowedMethod>",
        MINIMAL "<MaxAgeSeconds></MaxAgeSeconds>",
        MINIMAL "<MaxAgeSeconds>hour</MaxAgeSeconds>",
        MINIMAL "<MaxAgeSeconds>-1</MaxAgeSeconds>",
        MINIMAL "<MaxAgeSeconds>1.5</MaxAgeSeconds>",
        MINIMAL "<MaxAgeSeconds> 1</MaxAgeSeconds>",
        MINIMAL "<MaxAgeSeconds>2147483648</MaxAgeSeconds>",
        MINIMAL "<MaxAgeSeconds>99999999999999999999</MaxAgeSeconds>",
        MINIMAL "<MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>1</MaxAgeSeconds>",
        MINIMAL "<ID>a</ID><ID>b</ID>",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expect_malformed(config(&d, cases[i], NULL));
        buf_release(&d);
        /* also when an earlier rule is fine */
        expect_malformed(config(&d, MINIMAL, cases[i], NULL));
        buf_release(&d);
    }
    char id[300];
    memset(id, 'a', 256);
    id[256] = 0;
    char rule[400];
    snprintf(rule, sizeof rule, MINIMAL "<ID>%s</ID>", id);
    expect_malformed(config(&d, rule, NULL));
    buf_release(&d);

    /* 100 rules are fine, 101 are not */
    buf_init(&d, 1u << 20);
    buf_puts(&d, "<CORSConfiguration>");
    for (int i = 0; i < 100; i++)
        buf_puts(&d, "<CORSRule>" MINIMAL "</CORSRule>");
    struct buf out;
    char msg[512];
    buf_puts(&d, "</CORSConfiguration>");
    assert_int_equal(parse(d.data, &out, msg), S3E_NONE);
    buf_release(&out);
    d.len -= strlen("</CORSConfiguration>");
    buf_puts(&d, "<CORSRule>" MINIMAL "</CORSRule></CORSConfiguration>");
    expect_malformed(d.data);
    buf_release(&d);
}

static void test_invalid_request(void **state)
{
    (void)state;
    struct buf d;
    static const char *const methods[] = {"OPTIONS", "PATCH", "get", " GET", "GET,PUT", "*", ""};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        char rule[200], want[200];
        snprintf(rule, sizeof rule,
                 "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
                 "<AllowedMethod>%s</AllowedMethod>", methods[i]);
        snprintf(want, sizeof want,
                 "Found unsupported HTTP method in CORS config. Unsupported method is %s", methods[i]);
        expect_invalid(config(&d, MINIMAL, rule, NULL), want);
        buf_release(&d);
    }
    expect_invalid(config(&d, "<AllowedOrigin>http://*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>", NULL),
                   "AllowedOrigin \"http://*.*\" can not have more than one wildcard.");
    buf_release(&d);
    expect_invalid(config(&d, MINIMAL "<AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>x-*-*</AllowedHeader>", NULL),
                   "AllowedHeader \"x-*-*\" can not have more than one wildcard.");
    buf_release(&d);
    expect_invalid(config(&d, MINIMAL "<ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-amz-*</ExposeHeader>", NULL),
                   "ExposeHeader \"x-amz-*\" contains wildcard. We currently do not support wildcard for ExposeHeader.");
    buf_release(&d);
    /* escaped characters are reported as text */
    expect_invalid(config(&d, "<AllowedOrigin>*&lt;&amp;*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>", NULL),
                   "AllowedOrigin \"*<&*\" can not have more than one wildcard.");
    buf_release(&d);

    /* which error wins: methods, then origins, headers, expose headers;
     * the first bad rule; any structural error before all of them */
    const char *all_bad = "<ExposeHeader>x-*</ExposeHeader><AllowedHeader>*-*</AllowedHeader>"
                          "<AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>";
    expect_invalid(config(&d, all_bad, NULL),
                   "Found unsupported HTTP method in CORS config. Unsupported method is PATCH");
    buf_release(&d);
    expect_invalid(config(&d, "<ExposeHeader>x-*</ExposeHeader><AllowedHeader>*-*</AllowedHeader>"
                              "<AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>", NULL),
                   "AllowedOrigin \"*.*\" can not have more than one wildcard.");
    buf_release(&d);
    expect_invalid(config(&d, MINIMAL "<ExposeHeader>x-*</ExposeHeader>",
                          "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>", NULL),
                   "ExposeHeader \"x-*\" contains wildcard. We currently do not support wildcard for ExposeHeader.");
    buf_release(&d);
    expect_malformed(config(&d, all_bad, MINIMAL "<MaxAgeSeconds>x</MaxAgeSeconds>", NULL));
    buf_release(&d);
}

/* GetBucketCors' elements for a stored blob. */
static void written(const struct buf *blob, struct buf *xml)
{
    struct xml_writer w;
    buf_init(xml, 1u << 20);
    xmlw_init(&w, xml);
    xmlw_open(&w, "CORSConfiguration");
    s3_cors_write_xml(blob->data, blob->len, &w);
    xmlw_close(&w);
    assert_int_equal(xmlw_finish(&w), 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct buf d, out, xml, again;
    char msg[512];
    /* elements in any order come back in S3's; MaxAgeSeconds normalised */
    config(&d,
           "<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>0600</MaxAgeSeconds>"
           "<AllowedHeader>*</AllowedHeader><AllowedOrigin>https://a.example.com</AllowedOrigin>"
           "<AllowedOrigin>https://*.b.example</AllowedOrigin><AllowedMethod>PUT</AllowedMethod>"
           "<AllowedMethod>GET</AllowedMethod><ID>rule &amp; one</ID>",
           "<AllowedMethod>HEAD</AllowedMethod><AllowedOrigin></AllowedOrigin><ID></ID>", NULL);
    assert_int_equal(parse(d.data, &out, msg), S3E_NONE);
    written(&out, &xml);
    assert_string_equal(xml.data,
                        "<CORSConfiguration><CORSRule><ID>rule &amp; one</ID>"
                        "<AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod>"
                        "<AllowedOrigin>https://a.example.com</AllowedOrigin>"
                        "<AllowedOrigin>https://*.b.example</AllowedOrigin>"
                        "<AllowedHeader>*</AllowedHeader><MaxAgeSeconds>600</MaxAgeSeconds>"
                        "<ExposeHeader>ETag</ExposeHeader></CORSRule>"
                        "<CORSRule><ID></ID><AllowedMethod>HEAD</AllowedMethod>"
                        "<AllowedOrigin></AllowedOrigin></CORSRule></CORSConfiguration>");
    /* and what GetBucketCors answers is accepted again, to the same form */
    assert_int_equal(parse(xml.data, &again, msg), S3E_NONE);
    assert_int_equal(again.len, out.len);
    assert_memory_equal(again.data, out.data, out.len);
    buf_release(&again);
    buf_release(&xml);
    buf_release(&out);
    buf_release(&d);
}

static const char *rules_doc =
    "<CORSConfiguration>"
    "<CORSRule><ID>site</ID><AllowedOrigin>https://example.com</AllowedOrigin>"
    "<AllowedOrigin>http://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
    "<AllowedMethod>PUT</AllowedMethod><AllowedMethod>DELETE</AllowedMethod>"
    "<AllowedHeader>Content-Type</AllowedHeader><AllowedHeader>x-amz-*</AllowedHeader>"
    "<ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-amz-request-id</ExposeHeader>"
    "<MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>"
    "<CORSRule><ID>public</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
    "<AllowedMethod>HEAD</AllowedMethod></CORSRule>"
    "</CORSConfiguration>";

static const char *matched_id(const struct buf *blob, const char *origin, const char *method,
                              const char *headers)
{
    struct s3_cors_match m;
    if (!s3_cors_match(blob->data, blob->len, origin, method, headers, &m))
        return NULL;
    /* the rule's first field is its ID here */
    assert_int_equal(m.rule[0], 'I');
    return m.rule + 1;
}

static void test_match(void **state)
{
    (void)state;
    struct buf blob;
    char msg[512];
    assert_int_equal(parse(rules_doc, &blob, msg), S3E_NONE);
    const struct {
        const char *origin, *method, *headers, *id;
    } cases[] = {
        {"https://example.com", "PUT", NULL, "site"},
        {"https://example.com", "GET", NULL, "site"},
        {"https://example.com", "HEAD", NULL, "public"},
        {"https://example.com", "POST", NULL, NULL},
        {"https://example.com", "get", NULL, NULL},
        {"https://EXAMPLE.com", "PUT", NULL, NULL},
        {"https://example.com:8443", "PUT", NULL, NULL},
        {"https://example.org", "PUT", NULL, NULL},
        {"https://example.org", "GET", NULL, "public"},
        {"http://www.example.com", "DELETE", NULL, "site"},
        {"http://a.b.example.com", "DELETE", NULL, "site"},
        {"http://.example.com", "DELETE", NULL, "site"},
        {"http://example.com", "DELETE", NULL, NULL},
        {"https://www.example.com", "DELETE", NULL, NULL},
        {"http://www.example.com.evil", "DELETE", NULL, NULL},
        /* request headers: every one allowed, any case, wildcard rule */
        {"https://example.com", "PUT", "content-type", "site"},
        {"https://example.com", "PUT", "Content-Type, X-Amz-Date ,x-amz-meta-a", "site"},
        {"https://example.com", "PUT", " , ,", "site"},
        {"https://example.com", "PUT", "", "site"},
        {"https://example.com", "PUT", "content-type, authorization", NULL},
        {"https://example.com", "GET", "authorization", NULL},
        {"https://example.com", "GET", "x-amz", NULL},
        {"https://example.com", "GET", "x-amz-", "site"},
        /* a rule without AllowedHeader allows no request header */
        {"https://example.org", "GET", "content-type", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = matched_id(&blob, cases[i].origin, cases[i].method, cases[i].headers);
        if (!cases[i].id != !got || (got && strcmp(got, cases[i].id) != 0))
            fail_msg("case %zu (%s %s %s): got %s, want %s", i, cases[i].origin, cases[i].method,
                     cases[i].headers ? cases[i].headers : "-", got ? got : "none",
                     cases[i].id ? cases[i].id : "none");
    }
    buf_release(&blob);
}

/* The value of header name in a "name\0value\0" list; NULL if absent. */
static const char *header_in(const struct buf *h, const char *name)
{
    for (size_t off = 0; off < h->len;) {
        const char *n = h->data + off, *v = n + strlen(n) + 1;
        if (strcmp(n, name) == 0)
            return v;
        off = (size_t)(v + strlen(v) + 1 - h->data);
    }
    return NULL;
}

static void test_headers(void **state)
{
    (void)state;
    struct buf blob, h;
    char msg[512];
    struct s3_cors_match m;
    assert_int_equal(parse(rules_doc, &blob, msg), S3E_NONE);

    assert_true(s3_cors_match(blob.data, blob.len, "http://app.example.com", "PUT",
                              "Content-Type,X-Amz-Date", &m));
    buf_init(&h, 1u << 20);
    assert_int_equal(s3_cors_headers(&m, "http://app.example.com", "Content-Type,X-Amz-Date", &h), 0);
    assert_string_equal(header_in(&h, "Access-Control-Allow-Origin"), "http://app.example.com");
    assert_string_equal(header_in(&h, "Access-Control-Allow-Methods"), "GET, PUT, DELETE");
    assert_string_equal(header_in(&h, "Access-Control-Allow-Headers"), "content-type, x-amz-date");
    assert_string_equal(header_in(&h, "Access-Control-Expose-Headers"), "ETag, x-amz-request-id");
    assert_string_equal(header_in(&h, "Access-Control-Max-Age"), "3000");
    assert_string_equal(header_in(&h, "Access-Control-Allow-Credentials"), "true");
    assert_string_equal(header_in(&h, "Vary"),
                        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
    /* S3's order */
    assert_string_equal(h.data, "Access-Control-Allow-Origin");
    buf_release(&h);

    /* the literal "*": no credentials, no echo; no headers asked, none allowed */
    assert_true(s3_cors_match(blob.data, blob.len, "https://example.org", "HEAD", NULL, &m));
    assert_true(m.any_origin);
    buf_init(&h, 1u << 20);
    assert_int_equal(s3_cors_headers(&m, "https://example.org", NULL, &h), 0);
    assert_string_equal(header_in(&h, "Access-Control-Allow-Origin"), "*");
    assert_string_equal(header_in(&h, "Access-Control-Allow-Methods"), "GET, HEAD");
    assert_null(header_in(&h, "Access-Control-Allow-Headers"));
    assert_null(header_in(&h, "Access-Control-Expose-Headers"));
    assert_null(header_in(&h, "Access-Control-Max-Age"));
    assert_null(header_in(&h, "Access-Control-Allow-Credentials"));
    assert_non_null(header_in(&h, "Vary"));
    buf_release(&h);
    buf_release(&blob);
}

static void test_foreign_and_torn(void **state)
{
    (void)state;
    struct buf blob;
    char msg[512];
    struct s3_cors_match m;
    struct buf xml;
    assert_int_equal(parse(rules_doc, &blob, msg), S3E_NONE);
    /* the public rule matches only once its AllowedOrigin "*" is whole */
    const char *star = memmem(blob.data, blob.len, "O*", 3);
    assert_non_null(star);
    size_t whole = (size_t)(star - blob.data) + 3;
    /* every cut of the blob is walked safely and matches only when whole */
    for (size_t cut = 0; cut <= blob.len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, blob.data, cut);
        int got = s3_cors_match(copy, cut, "https://example.org", "HEAD", NULL, &m);
        assert_int_equal(got, cut >= whole);
        if (got)
            assert_true(m.end <= copy + cut);
        struct buf part = {copy, cut, cut, cut};
        written(&part, &xml);
        buf_release(&xml);
        free(copy);
    }
    assert_true(s3_cors_match(blob.data, blob.len, "https://example.org", "HEAD", NULL, &m));
    /* not our magic: no rules */
    const char foreign[] = "<CORSConfiguration/>";
    assert_false(s3_cors_match(foreign, sizeof foreign, "https://example.org", "HEAD", NULL, &m));
    buf_release(&blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed),       cmocka_unit_test(test_invalid_request),
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_match),
        cmocka_unit_test(test_headers),         cmocka_unit_test(test_foreign_and_torn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
