/* Unit tests for common/form_data: the boundary of a Content-Type, the
 * push parser on whole bodies and on the same bodies split at every byte,
 * delimiter lookalikes inside content, caps and malformed framing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/form_data.h"

/* ---- a recorder: every callback as text ---------------------------------- */

struct rec {
    struct buf log;   /* "B name|filename|type\n", "D" + content (merged), "E\n" */
    int in_data;
    int fail_at_part; /* part_begin of this part (1-based) returns 7; 0 never */
    int parts;
};

static int rec_begin(void *arg, const struct form_part *p)
{
    struct rec *r = arg;
    r->parts++;
    if (r->fail_at_part == r->parts)
        return 7;
    r->in_data = 0;
    assert_non_null(p->name);
    buf_printf(&r->log, "B %s|%s|%s\n", p->name, p->filename ? p->filename : "-",
               p->content_type ? p->content_type : "-");
    return 0;
}

static int rec_data(void *arg, const uint8_t *p, size_t n)
{
    struct rec *r = arg;
    assert_true(n > 0);
    if (!r->in_data)
        buf_puts(&r->log, "D");
    r->in_data = 1;
    buf_append(&r->log, p, n);
    return 0;
}

static int rec_end(void *arg)
{
    struct rec *r = arg;
    if (r->in_data)
        buf_puts(&r->log, "\n");
    r->in_data = 0;
    buf_puts(&r->log, "E\n");
    return 0;
}

static const struct form_data_callbacks rec_cb = {rec_begin, rec_data, rec_end};

/* Parse body in pieces of the given sizes (cycled; none: all at once) and
 * return the log with the result code appended ("= rc"); free() it. */
static char *parse(const char *boundary, const char *body, size_t len, const size_t *steps,
                   size_t nsteps, int fail_at_part)
{
    struct form_data fd;
    struct rec r = {.fail_at_part = fail_at_part};
    buf_init(&r.log, 1 << 20);
    assert_int_equal(form_data_init(&fd, boundary, &rec_cb, &r), 0);
    int rc = 0;
    size_t pos = 0, k = 0;
    while (rc == 0 && pos < len) {
        size_t n = nsteps ? steps[k++ % nsteps] : len;
        if (n > len - pos)
            n = len - pos;
        /* an exact-size copy: a read past the piece is an ASan report */
        uint8_t *piece = malloc(n ? n : 1);
        memcpy(piece, body + pos, n);
        rc = form_data_feed(&fd, piece, n);
        free(piece);
        pos += n;
    }
    if (rc == 0)
        rc = form_data_finish(&fd);
    else
        assert_int_equal(form_data_finish(&fd), rc); /* sticky */
    form_data_release(&fd);
    form_data_release(&fd);
    buf_printf(&r.log, "= %d", rc);
    return buf_detach(&r.log, NULL);
}

#define BND "----cairnBoundary7MA4YWxkTrZu0gW"

/* A body as browsers and curl send it, whose file holds every near miss of
 * the delimiter: a CR alone, CRLF, "--" + boundary without the CRLF, the
 * delimiter cut one byte short, a CR right before a real delimiter. */
static const char sample[] =
    "--" BND "\r\n"
    "Content-Disposition: form-data; name=\"key\"\r\n"
    "\r\n"
    "uploads/${filename}\r\n"
    "--" BND "\r\n"
    "Content-Disposition: form-data; name=\"x-amz-meta-note\"\r\n"
    "\r\n"
    "\r\n"
    "\r\n"
    "--" BND "\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".txt\"\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "x\ry\r\nz--" BND "\r\n-\r\n--\r\n-" BND "X" "\r\n--" "----cairnBoundary7MA4YWxkTrZu0g" "!\r\r"
    "\r\n--" BND "\r\n"
    "Content-Disposition: form-data; name=\"after\"\r\n"
    "\r\n"
    "ignored?\r\n"
    "--" BND "--\r\n"
    "epilogue\r\n";

static const char sample_log[] =
    "B key|-|-\n"
    "Duploads/${filename}\n"
    "E\n"
    "B x-amz-meta-note|-|-\n"
    "D\r\n\n"
    "E\n"
    "B file|a \"b\".txt|text/plain\n"
    "Dx\ry\r\nz--" BND "\r\n-\r\n--\r\n-" BND "X" "\r\n--" "----cairnBoundary7MA4YWxkTrZu0g" "!\r\r\n"
    "E\n"
    "B after|-|-\n"
    "Dignored?\n"
    "E\n"
    "= 0";

static void test_sample_whole(void **state)
{
    (void)state;
    char *log = parse(BND, sample, sizeof sample - 1, NULL, 0, 0);
    assert_string_equal(log, sample_log);
    free(log);
}

/* Two pieces split at every byte, and one byte at a time: the same events. */
static void test_sample_every_split(void **state)
{
    (void)state;
    size_t len = sizeof sample - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        size_t steps[2] = {cut, len};
        char *log = parse(BND, sample, len, steps, 2, 0);
        if (strcmp(log, sample_log) != 0)
            fail_msg("split at %zu:\n%s", cut, log);
        free(log);
    }
    for (size_t step = 1; step <= 7; step++) {
        char *log = parse(BND, sample, len, &step, 1, 0);
        assert_string_equal(log, sample_log);
        free(log);
    }
    /* three pieces around the file's content */
    for (size_t a = 300; a < 420 && a < len; a++)
        for (size_t b = 1; b < 60; b += 7) {
            size_t steps[3] = {a, b, len};
            char *log = parse(BND, sample, len, steps, 3, 0);
            assert_string_equal(log, sample_log);
            free(log);
        }
}

static void test_framing_variants(void **state)
{
    (void)state;
    /* a preamble, transport padding, LF-only lines, a folded header,
     * other headers, an empty content, the close right after */
    const char body[] =
        "This is the preamble.\r\n--b \t\n"
        "Content-Disposition: form-data;\n"
        "  name=key\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        "k\r\n--b\r\n"
        "content-disposition: FORM-DATA; NAME=\"file\"; filename=\"C:\\dir\\f.bin\"; filename*=UTF-8''x\r\n"
        "\r\n"
        "\r\n--b--";
    char *log = parse("b", body, sizeof body - 1, NULL, 0, 0);
    assert_string_equal(log, "B key|-|-\nDk\nE\nB file|C:\\dir\\f.bin|-\nE\n= 0");
    free(log);
    for (size_t cut = 0; cut < sizeof body; cut++) {
        size_t steps[2] = {cut, sizeof body};
        char *l2 = parse("b", body, sizeof body - 1, steps, 2, 0);
        assert_string_equal(l2, "B key|-|-\nDk\nE\nB file|C:\\dir\\f.bin|-\nE\n= 0");
        free(l2);
    }
    /* a body that opens with CRLF before the first delimiter */
    const char b2[] = "\r\n--b\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--b--\r\n";
    log = parse("b", b2, sizeof b2 - 1, NULL, 0, 0);
    assert_string_equal(log, "B a|-|-\nDv\nE\n= 0");
    free(log);
    /* nothing but a closing delimiter: no parts, fine */
    log = parse("b", "--b--", 5, NULL, 0, 0);
    assert_string_equal(log, "= 0");
    free(log);
}

static void test_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *body, *log;
    } cases[] = {
        /* no closing delimiter: the open part gets no part_end */
        {"--b\r\nContent-Disposition: form-data; name=file\r\n\r\ndata",
         "B file|-|-\nDdata= -32203"},
        {"--b\r\nContent-Disposition: form-data; name=file\r\n\r\ndata\r\n--b",
         "B file|-|-\nDdata\nE\n= -32203"},
        {"--b\r\nContent-Disposition: form-data; name=file\r\n\r\ndata\r\n--b-",
         "B file|-|-\nDdata\nE\n= -32203"},
        {"", "= -32203"},
        {"no delimiter at all", "= -32203"},
        /* garbage after a delimiter */
        {"--bX\r\n", "= -32201"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--b-x", "B a|-|-\nDv\nE\n= -32201"},
        {"--b\rX", "= -32201"},
        /* part headers */
        {"--b\r\n\r\nv\r\n--b--", "= -32201"},                                   /* none */
        {"--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--", "= -32201"},       /* no disposition */
        {"--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--", "= -32201"}, /* no name */
        {"--b\r\nContent-Disposition: attachment; name=a\r\n\r\n\r\n--b--", "= -32201"},
        {"--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n\r\n--b--", "= -32201"},
        {"--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\n\r\n--b--", "= -32201"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data; "
         "name=a\r\n\r\n\r\n--b--", "= -32201"},
        {"--b\r\nno colon here\r\n\r\n\r\n--b--", "= -32201"},
        {"--b\r\nContent-Disposition: form-data; name=a\rb\r\n\r\n\r\n--b--", "= -32201"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = strlen(cases[i].body);
        char *log = parse("b", cases[i].body, len, NULL, 0, 0);
        if (strcmp(log, cases[i].log) != 0)
            fail_msg("case %zu: got\n%s\nwant\n%s", i, log, cases[i].log);
        free(log);
        for (size_t cut = 0; cut <= len; cut++) {
            size_t steps[2] = {cut, len};
            char *l2 = parse("b", cases[i].body, len, steps, 2, 0);
            if (strcmp(l2, cases[i].log) != 0)
                fail_msg("case %zu split at %zu: got\n%s", i, cut, l2);
            free(l2);
        }
    }
}

static void test_limits_and_callbacks(void **state)
{
    (void)state;
    /* one part's headers: FORM_DATA_HEADERS_MAX fits, one byte more does not */
    struct buf b;
    buf_init(&b, 64 << 10);
    const char *head = "--b\r\nContent-Disposition: form-data; name=a\r\nX-Pad: ";
    size_t fixed = strlen("Content-Disposition: form-data; name=a\r\nX-Pad: ") + 4;
    for (int extra = 0; extra <= 1; extra++) {
        buf_reset(&b);
        buf_puts(&b, head);
        for (size_t i = fixed; i < FORM_DATA_HEADERS_MAX + (size_t)extra; i++)
            buf_puts(&b, "p");
        buf_puts(&b, "\r\n\r\nv\r\n--b--");
        char *log = parse("b", b.data, b.len, NULL, 0, 0);
        assert_string_equal(log, extra ? "= -32202" : "B a|-|-\nDv\nE\n= 0");
        free(log);
    }
    buf_release(&b);
    /* a callback's error stops the parser and sticks */
    char *log = parse(BND, sample, sizeof sample - 1, NULL, 0, 2);
    assert_string_equal(log, "B key|-|-\nDuploads/${filename}\nE\n= 7");
    free(log);
    /* arguments */
    struct form_data fd;
    struct rec r = {0};
    assert_int_equal(form_data_init(&fd, "", &rec_cb, &r), FORM_DATA_EINVAL);
    assert_int_equal(form_data_init(&fd, "a\r\nb", &rec_cb, &r), FORM_DATA_EINVAL);
    struct form_data_callbacks none = {rec_begin, NULL, rec_end};
    assert_int_equal(form_data_init(&fd, "b", &none, &r), FORM_DATA_EINVAL);
    buf_init(&r.log, 1024);
    assert_int_equal(form_data_init(&fd, "b", &rec_cb, &r), 0);
    assert_int_equal(form_data_feed(&fd, (const uint8_t *)"--b--", 5), 0);
    assert_true(form_data_done(&fd));
    assert_int_equal(form_data_feed(&fd, (const uint8_t *)"junk", 4), 0); /* epilogue */
    assert_int_equal(form_data_finish(&fd), 0);
    assert_int_equal(form_data_finish(&fd), 0);
    assert_int_equal(form_data_feed(&fd, (const uint8_t *)"x", 1), FORM_DATA_EINVAL);
    form_data_release(&fd);
    buf_release(&r.log);
    assert_string_equal(form_data_strerror(FORM_DATA_EINCOMPLETE),
                        "body ended before the closing boundary");
}

static void test_boundary(void **state)
{
    (void)state;
    char out[FORM_DATA_BOUNDARY_MAX + 1];
    static const struct {
        const char *ct, *want; /* want NULL: FORM_DATA_EBOUNDARY */
    } cases[] = {
        {"multipart/form-data; boundary=abc", "abc"},
        {"Multipart/Form-Data;BOUNDARY=abc", "abc"},
        {"multipart/form-data; charset=utf-8; boundary=\"a b:c\"", "a b:c"},
        {"multipart/form-data; boundary=\"----WebKitFormBoundary7MA4YWxkTrZu0gW\"",
         "----WebKitFormBoundary7MA4YWxkTrZu0gW"},
        {"multipart/form-data ; boundary = x ;", "x"},
        {"multipart/form-data", NULL},
        {"multipart/form-data; boundary=", NULL},
        {"multipart/form-data; boundary=\"\"", NULL},
        {"multipart/form-data; boundary=\"a \"", NULL},   /* space last */
        {"multipart/form-data; boundary=\"a\rb\"", NULL},
        {"multipart/form-data; boundary=\"a\\\"b\"", NULL}, /* '"' is no bchar */
        {"multipart/form-data; boundary=a; boundary=b", NULL},
        {"multipart/form-data; boundary=\"abc", NULL},
        {"multipart/mixed; boundary=abc", NULL},
        {"multipart/form-dataX; boundary=abc", NULL},
        {"application/x-www-form-urlencoded", NULL},
        {"multipart/form-data; boundary=123456789012345678901234567890123456789012345678901234567890"
         "1234567890", "123456789012345678901234567890123456789012345678901234567890"
         "1234567890"},
        {"multipart/form-data; boundary=123456789012345678901234567890123456789012345678901234567890"
         "12345678901", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        strcpy(out, "untouched");
        int rc = form_data_boundary(cases[i].ct, out, sizeof out);
        if (cases[i].want) {
            if (rc != 0)
                fail_msg("case %zu: %d", i, rc);
            assert_string_equal(out, cases[i].want);
        } else {
            if (rc != FORM_DATA_EBOUNDARY)
                fail_msg("case %zu accepted: %s", i, out);
            assert_string_equal(out, "untouched");
        }
    }
    char small[4];
    assert_int_equal(form_data_boundary("multipart/form-data; boundary=abcd", small, sizeof small),
                     FORM_DATA_EBOUNDARY);
    assert_int_equal(form_data_boundary(NULL, out, sizeof out), FORM_DATA_EBOUNDARY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_whole),
        cmocka_unit_test(test_sample_every_split),
        cmocka_unit_test(test_framing_variants),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits_and_callbacks),
        cmocka_unit_test(test_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
