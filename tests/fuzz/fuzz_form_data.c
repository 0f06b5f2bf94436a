/*
 * tests/fuzz/fuzz_form_data.c - the multipart/form-data push parser
 * (common/form_data.h) on hostile bodies fed in pieces of fuzzed sizes,
 * and the Content-Type boundary parser.
 *
 * Input layout: byte 0 is the piece size minus one (pieces of b0 + 1
 * bytes); byte 1 selects the boundary length, (b1 % 16) + 1; then that
 * many bytes, each mapped onto the boundary alphabet below; the rest is
 * the body.  The whole input, up to its first NUL, is also given to
 * form_data_boundary as a Content-Type value.
 *
 * Properties:
 *   - feeding in pieces gives exactly the events and result of feeding
 *     the body at once (the split never matters);
 *   - events come in order: part_begin, part_data (never empty), part_end;
 *     data only inside a part; a part without part_end only when the
 *     result is an error;
 *   - the result is 0 or a FORM_DATA_* code; errors are sticky (feed and
 *     finish repeat them); form_data_done agrees with a 0 result;
 *   - a body that parsed is written out again with the same boundary
 *     (when its names allow plain quoting) and parses to the same events;
 *   - form_data_boundary returns 0 only with a boundary form_data_init
 *     accepts, and leaves its output untouched on error.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/form_data.h"
#include "tests/fuzz/fuzz_check.h"

static const char alphabet[] = "ab-_0123456789'()+,./:=?Z";

static int put_str(struct buf *b, const char *s)
{
    return buf_append(b, s ? s : "\1", strlen(s ? s : "\1") + 1);
}

struct result {
    int rc, open_part;
    struct buf log;
};

/* The events as a log: 'B' name NUL filename NUL content-type NUL (an
 * absent one as "\1"), 'D' 8-byte length and the part's whole content
 * (however it was cut into part_data calls), 'E'. */
struct merged {
    struct buf log;
    struct buf data; /* the current part's content so far */
    int in_part;
};

static int m_begin(void *arg, const struct form_part *p)
{
    struct merged *m = arg;
    FUZZ_CHECK(!m->in_part && p->name);
    m->in_part = 1;
    buf_reset(&m->data);
    FUZZ_CHECK(buf_append(&m->log, "B", 1) == 0);
    FUZZ_CHECK(put_str(&m->log, p->name) == 0 && put_str(&m->log, p->filename) == 0 &&
               put_str(&m->log, p->content_type) == 0);
    return 0;
}

static int m_data(void *arg, const uint8_t *p, size_t n)
{
    struct merged *m = arg;
    FUZZ_CHECK(m->in_part && n > 0);
    FUZZ_CHECK(buf_append(&m->data, p, n) == 0);
    return 0;
}

static void flush_data(struct merged *m)
{
    uint64_t n = m->data.len;
    FUZZ_CHECK(buf_append(&m->log, "D", 1) == 0 && buf_append(&m->log, &n, sizeof n) == 0);
    if (n)
        FUZZ_CHECK(buf_append(&m->log, m->data.data, m->data.len) == 0);
    buf_reset(&m->data);
}

static int m_end(void *arg)
{
    struct merged *m = arg;
    FUZZ_CHECK(m->in_part);
    flush_data(m);
    m->in_part = 0;
    FUZZ_CHECK(buf_append(&m->log, "E", 1) == 0);
    return 0;
}

static const struct form_data_callbacks mcb = {m_begin, m_data, m_end};

/* Parse body in pieces of step bytes (0: at once). */
static void parse(const char *boundary, const uint8_t *body, size_t len, size_t step,
                  struct result *res)
{
    struct form_data fd;
    struct merged m;
    memset(&m, 0, sizeof m);
    buf_init(&m.log, 1 << 20);
    buf_init(&m.data, 1 << 20);
    FUZZ_CHECK(form_data_init(&fd, boundary, &mcb, &m) == 0);
    int rc = 0;
    for (size_t pos = 0; rc == 0 && pos < len;) {
        size_t n = step && step < len - pos ? step : len - pos;
        uint8_t *piece = malloc(n); /* exact size: ASan sees any overread */
        FUZZ_CHECK(piece != NULL);
        memcpy(piece, body + pos, n);
        rc = form_data_feed(&fd, piece, n);
        free(piece);
        pos += n;
    }
    if (rc == 0)
        rc = form_data_finish(&fd);
    FUZZ_CHECK(rc == 0 || (rc <= FORM_DATA_EBOUNDARY && rc >= FORM_DATA_EINVAL));
    FUZZ_CHECK(rc != FORM_DATA_EBOUNDARY && rc != FORM_DATA_EINVAL);
    FUZZ_CHECK((rc == 0) == (form_data_done(&fd) != 0));
    if (rc) {
        uint8_t x = '-';
        FUZZ_CHECK(form_data_feed(&fd, &x, 1) == rc);
        FUZZ_CHECK(form_data_finish(&fd) == rc);
    } else {
        FUZZ_CHECK(!m.in_part);
        FUZZ_CHECK(form_data_finish(&fd) == 0);
    }
    if (m.in_part) /* a part the body left open */
        flush_data(&m);
    res->rc = rc;
    res->open_part = m.in_part;
    res->log = m.log;
    buf_release(&m.data);
    form_data_release(&fd);
}

static int plain(const char *s)
{
    return !s || !strpbrk(s, "\"\\\r\n");
}

/* Write the parts of a log out again as a body with boundary. */
static int rebuild(const struct buf *log, const char *boundary, struct buf *out)
{
    size_t i = 0;
    while (i < log->len) {
        FUZZ_CHECK(log->data[i] == 'B');
        const char *name = log->data + i + 1;
        const char *filename = name + strlen(name) + 1;
        const char *ctype = filename + strlen(filename) + 1;
        i = (size_t)(ctype + strlen(ctype) + 1 - log->data);
        if (strcmp(filename, "\1") == 0)
            filename = NULL;
        if (strcmp(ctype, "\1") == 0)
            ctype = NULL;
        if (!plain(name) || !plain(filename) || !plain(ctype) || (ctype && !*ctype))
            return -1;
        FUZZ_CHECK(log->data[i] == 'D');
        uint64_t n;
        memcpy(&n, log->data + i + 1, sizeof n);
        const char *data = log->data + i + 1 + sizeof n;
        i += 1 + sizeof n + n;
        FUZZ_CHECK(log->data[i] == 'E');
        i++;
        FUZZ_CHECK(buf_printf(out, "--%s\r\nContent-Disposition: form-data; name=\"%s\"", boundary,
                              name) == 0);
        if (filename)
            FUZZ_CHECK(buf_printf(out, "; filename=\"%s\"", filename) == 0);
        if (ctype)
            FUZZ_CHECK(buf_printf(out, "\r\nContent-Type: %s", ctype) == 0);
        FUZZ_CHECK(buf_puts(out, "\r\n\r\n") == 0);
        if (n)
            FUZZ_CHECK(buf_append(out, data, n) == 0);
        FUZZ_CHECK(buf_puts(out, "\r\n") == 0);
    }
    FUZZ_CHECK(buf_printf(out, "--%s--", boundary) == 0);
    return 0;
}

static void check_boundary_parser(const uint8_t *data, size_t size)
{
    char ct[512], out[FORM_DATA_BOUNDARY_MAX + 1];
    size_t n = size < sizeof ct - 1 ? size : sizeof ct - 1;
    memcpy(ct, data, n);
    ct[n] = 0;
    memcpy(out, "untouched", 10);
    int rc = form_data_boundary(ct, out, sizeof out);
    if (rc == 0) {
        struct form_data fd;
        struct merged m;
        memset(&m, 0, sizeof m);
        FUZZ_CHECK(strlen(out) >= 1 && strlen(out) <= FORM_DATA_BOUNDARY_MAX);
        FUZZ_CHECK(form_data_init(&fd, out, &mcb, &m) == 0);
        form_data_release(&fd);
    } else {
        FUZZ_CHECK(rc == FORM_DATA_EBOUNDARY);
        FUZZ_CHECK(strcmp(out, "untouched") == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_boundary_parser(data, size);
    if (size < 2)
        return 0;
    size_t step = (size_t)data[0] + 1;
    size_t blen = (size_t)(data[1] % 16) + 1;
    if (size < 2 + blen)
        return 0;
    char boundary[17];
    for (size_t i = 0; i < blen; i++)
        boundary[i] = alphabet[data[2 + i] % (sizeof alphabet - 1)];
    boundary[blen] = 0;
    const uint8_t *body = data + 2 + blen;
    size_t len = size - 2 - blen;

    struct result whole, split;
    parse(boundary, body, len, 0, &whole);
    parse(boundary, body, len, step, &split);
    FUZZ_CHECK(whole.rc == split.rc);
    FUZZ_CHECK(whole.open_part == split.open_part);
    FUZZ_CHECK(whole.log.len == split.log.len &&
               (whole.log.len == 0 || memcmp(whole.log.data, split.log.data, whole.log.len) == 0));
    FUZZ_CHECK(!whole.open_part || whole.rc != 0);

    if (whole.rc == 0) {
        struct buf again;
        buf_init(&again, 4u << 20);
        if (rebuild(&whole.log, boundary, &again) == 0) {
            struct result re;
            parse(boundary, (const uint8_t *)(again.data ? again.data : ""), again.len, step, &re);
            FUZZ_CHECK(re.rc == 0);
            FUZZ_CHECK(re.log.len == whole.log.len &&
                       (re.log.len == 0 || memcmp(re.log.data, whole.log.data, re.log.len) == 0));
            buf_release(&re.log);
        }
        buf_release(&again);
    }
    buf_release(&whole.log);
    buf_release(&split.log);
    return 0;
}
