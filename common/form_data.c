/*
 * common/form_data.c - multipart/form-data push parser; see form_data.h.
 *
 * The delimiter search keeps no copy of the bytes it holds back: while a
 * prefix of "\r\n--boundary" is being matched, those bytes are known to
 * equal delim[0..matched), so when the match fails the held bytes are
 * passed on from delim itself.  A CR occurs in delim only at its start
 * (the boundary may not hold one), so after a mismatch the search simply
 * starts over at the current byte: no other suffix of the matched text
 * can be a prefix of the delimiter.
 */
#include "common/form_data.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    ST_PREAMBLE,    /* before the first delimiter: skipped */
    ST_AFTER_DELIM, /* just after a delimiter: "--", padding or the line end */
    ST_PADDING,     /* transport padding after a delimiter */
    ST_DELIM_CR,    /* the CR ending a delimiter line was read */
    ST_CLOSE_DASH,  /* one '-' of the closing "--" was read */
    ST_HEADERS,     /* a part's header block */
    ST_BODY,        /* a part's content */
    ST_DONE,        /* after the closing delimiter: the epilogue is skipped */
    ST_FINISHED,    /* form_data_finish was called */
};

const char *form_data_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
    case FORM_DATA_EBOUNDARY: return "not multipart/form-data with a valid boundary";
    case FORM_DATA_EMALFORMED: return "malformed multipart/form-data body";
    case FORM_DATA_ETOOLONG: return "part headers too long";
    case FORM_DATA_EINCOMPLETE: return "body ended before the closing boundary";
    case FORM_DATA_EINVAL: return "invalid argument";
    case -ENOMEM: return "out of memory";
    default: return "callback error";
    }
}

/* ---- Content-Type ------------------------------------------------------ */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 7230 token characters. */
static int is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return 1;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 2046 bchars (the space not last is checked by the caller). */
static int is_bchar(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return 1;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return 1;
    return c && strchr("'()+_,-./:=? ", c) != NULL;
}

static const char *skip_ows(const char *p)
{
    while (is_ows(*p))
        p++;
    return p;
}

/*
 * One ";" name "=" value parameter at *pp (after optional whitespace).
 * The value (a token, or a quoted string with \" and \\ unescaped; any
 * other backslash is kept, as browsers send Windows paths unescaped) goes
 * into out[cap].  Returns 1 with *pp advanced, 0 at the end of the value,
 * -1 if malformed or too long.  name/nlen point into the input.
 */
static int next_param(const char **pp, const char **name, size_t *nlen, char *out, size_t cap)
{
    const char *p = skip_ows(*pp);
    if (!*p)
        return 0;
    if (*p != ';')
        return -1;
    p = skip_ows(p + 1);
    if (!*p) { /* a trailing ';' */
        *pp = p;
        return 0;
    }
    *name = p;
    while (is_tchar((unsigned char)*p))
        p++;
    *nlen = (size_t)(p - *name);
    p = skip_ows(p);
    if (*nlen == 0 || *p != '=')
        return -1;
    p = skip_ows(p + 1);
    size_t o = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                p++;
            if (o + 1 >= cap)
                return -1;
            out[o++] = *p;
        }
        if (*p != '"')
            return -1;
        p++;
    } else {
        for (; is_tchar((unsigned char)*p); p++) {
            if (o + 1 >= cap)
                return -1;
            out[o++] = *p;
        }
    }
    out[o] = 0;
    *pp = p;
    return 1;
}

static int valid_boundary(const char *b)
{
    size_t n = strlen(b);
    if (n == 0 || n > FORM_DATA_BOUNDARY_MAX || b[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_bchar((unsigned char)b[i]))
            return 0;
    return 1;
}

int form_data_boundary(const char *content_type, char *out, size_t cap)
{
    static const char type[] = "multipart/form-data";
    char value[256], found[FORM_DATA_BOUNDARY_MAX + 1];
    int have = 0;
    if (!content_type || !out)
        return FORM_DATA_EBOUNDARY;
    const char *p = skip_ows(content_type);
    if (strncasecmp(p, type, sizeof type - 1) != 0)
        return FORM_DATA_EBOUNDARY;
    p += sizeof type - 1;
    for (;;) {
        const char *name;
        size_t nlen;
        int rc = next_param(&p, &name, &nlen, value, sizeof value);
        if (rc < 0)
            return FORM_DATA_EBOUNDARY;
        if (rc == 0)
            break;
        if (nlen == 8 && strncasecmp(name, "boundary", 8) == 0) {
            if (have || strlen(value) > FORM_DATA_BOUNDARY_MAX)
                return FORM_DATA_EBOUNDARY;
            have = 1;
            memcpy(found, value, strlen(value) + 1);
        }
    }
    if (!have || !valid_boundary(found) || strlen(found) >= cap)
        return FORM_DATA_EBOUNDARY;
    memcpy(out, found, strlen(found) + 1);
    return 0;
}

/* ---- set-up -------------------------------------------------------------- */

int form_data_init(struct form_data *fd, const char *boundary,
                   const struct form_data_callbacks *cb, void *arg)
{
    if (!fd || !boundary || !cb || !cb->part_begin || !cb->part_data || !cb->part_end ||
        !valid_boundary(boundary))
        return FORM_DATA_EINVAL;
    memset(fd, 0, sizeof *fd);
    fd->dlen = 4 + strlen(boundary);
    memcpy(fd->delim, "\r\n--", 4);
    memcpy(fd->delim + 4, boundary, fd->dlen - 4 + 1);
    /* The first delimiter may open the body: count a CRLF as already
     * matched before it.  In the preamble, held bytes are dropped anyway. */
    fd->matched = fd->carried = 2;
    fd->state = ST_PREAMBLE;
    buf_init(&fd->headers, FORM_DATA_HEADERS_MAX);
    fd->cb = *cb;
    fd->arg = arg;
    return 0;
}

static void part_release(struct form_data *fd)
{
    free(fd->name);
    free(fd->filename);
    free(fd->content_type);
    fd->name = fd->filename = fd->content_type = NULL;
}

void form_data_release(struct form_data *fd)
{
    if (!fd)
        return;
    part_release(fd);
    buf_release(&fd->headers);
}

int form_data_done(const struct form_data *fd)
{
    return fd->state == ST_DONE || (fd->state == ST_FINISHED && fd->err == 0);
}

/* ---- part headers ------------------------------------------------------ */

/* Content-Disposition: form-data; name="..."[; filename="..."] */
static int parse_disposition(struct form_data *fd, const char *v)
{
    static const char type[] = "form-data";
    char value[FORM_DATA_HEADERS_MAX];
    if (fd->name || strncasecmp(v, type, sizeof type - 1) != 0)
        return FORM_DATA_EMALFORMED;
    const char *p = v + sizeof type - 1;
    if (*p && *p != ';' && !is_ows(*p))
        return FORM_DATA_EMALFORMED;
    char *name = NULL, *filename = NULL;
    for (;;) {
        const char *pn;
        size_t nlen;
        int rc = next_param(&p, &pn, &nlen, value, sizeof value);
        if (rc == 0)
            break;
        char **slot = NULL;
        if (rc > 0 && nlen == 4 && strncasecmp(pn, "name", 4) == 0)
            slot = &name;
        else if (rc > 0 && nlen == 8 && strncasecmp(pn, "filename", 8) == 0)
            slot = &filename;
        if (rc < 0 || (slot && *slot)) {
            free(name);
            free(filename);
            return FORM_DATA_EMALFORMED;
        }
        if (slot && !(*slot = strdup(value))) {
            free(name);
            free(filename);
            return -ENOMEM;
        }
    }
    if (!name) {
        free(filename);
        return FORM_DATA_EMALFORMED;
    }
    fd->name = name;
    fd->filename = filename;
    return 0;
}

/* One unfolded header line "Name: value" (modified in place). */
static int parse_header(struct form_data *fd, char *line)
{
    char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return FORM_DATA_EMALFORMED;
    for (char *c = line; c < colon; c++)
        if (!is_tchar((unsigned char)*c))
            return FORM_DATA_EMALFORMED;
    *colon = 0;
    char *v = (char *)skip_ows(colon + 1);
    size_t vl = strlen(v);
    while (vl && is_ows(v[vl - 1]))
        v[--vl] = 0;
    if (strcasecmp(line, "content-disposition") == 0)
        return parse_disposition(fd, v);
    if (strcasecmp(line, "content-type") == 0) {
        if (fd->content_type)
            return FORM_DATA_EMALFORMED;
        fd->content_type = strdup(v);
        return fd->content_type ? 0 : -ENOMEM;
    }
    return 0; /* other headers (Content-Transfer-Encoding...) say nothing we use */
}

/* The header block (fd->headers, ending in its empty line) is complete. */
static int headers_done(struct form_data *fd)
{
    char *text = fd->headers.data;
    int rc = 0;
    /* drop the CRs before LFs; unfold continuation lines into one */
    size_t o = 0;
    for (size_t i = 0; i < fd->headers.len; i++) {
        char c = text[i];
        if (c == '\r' && i + 1 < fd->headers.len && text[i + 1] == '\n')
            continue;
        if (c == '\n' && i + 1 < fd->headers.len && is_ows(text[i + 1]) && o > 0)
            c = ' ';
        if (c == 0 || c == '\r')
            return FORM_DATA_EMALFORMED;
        text[o++] = c;
    }
    text[o] = 0;
    for (char *line = text; *line && rc == 0;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (*line)
            rc = parse_header(fd, line);
        line = nl ? nl + 1 : line + strlen(line);
    }
    buf_reset(&fd->headers);
    if (rc == 0 && !fd->name)
        rc = FORM_DATA_EMALFORMED;
    if (rc)
        return rc;
    struct form_part part = {fd->name, fd->filename, fd->content_type};
    fd->in_part = 1;
    return fd->cb.part_begin(fd->arg, &part);
}

/* Header bytes from p[0..n): *used gets how many belong to the block. */
static int feed_headers(struct form_data *fd, const uint8_t *p, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n) {
        const uint8_t *nl = memchr(p + i, '\n', n - i);
        size_t take = nl ? (size_t)(nl - (p + i)) + 1 : n - i;
        size_t line_start = fd->headers.len;
        /* where the line being completed began: after the previous LF */
        while (line_start > 0 && fd->headers.data[line_start - 1] != '\n')
            line_start--;
        if (buf_append(&fd->headers, p + i, take) != 0) {
            *used = i;
            return FORM_DATA_ETOOLONG;
        }
        i += take;
        if (!nl)
            break;
        size_t line_len = fd->headers.len - line_start;
        const char *line = fd->headers.data + line_start;
        if (line_len == 1 || (line_len == 2 && line[0] == '\r')) {
            /* the empty line: drop it and hand the part over */
            fd->headers.len = line_start;
            fd->headers.data[line_start] = 0;
            *used = i;
            fd->state = ST_BODY;
            fd->matched = fd->carried = 0;
            return headers_done(fd);
        }
    }
    *used = i;
    return 0;
}

/* ---- the delimiter search ------------------------------------------------ */

static int emit(struct form_data *fd, const void *p, size_t n)
{
    if (n == 0 || fd->state != ST_BODY)
        return 0;
    return fd->cb.part_data(fd->arg, p, n);
}

/*
 * Content bytes from p[0..n) up to the next delimiter.  *used gets the
 * bytes consumed; *found is set when the delimiter ended within them.
 */
static int feed_content(struct form_data *fd, const uint8_t *p, size_t n, size_t *used, int *found)
{
    size_t i = 0, start = 0; /* p[start..] not passed on yet */
    int rc;
    *found = 0;
    while (i < n) {
        if (fd->matched == 0) {
            const uint8_t *cr = memchr(p + i, '\r', n - i);
            if (!cr) {
                i = n;
                break;
            }
            i = (size_t)(cr - p);
        }
        if (p[i] == (uint8_t)fd->delim[fd->matched]) {
            fd->matched++;
            i++;
            if (fd->matched == fd->dlen) {
                /* the content ends where the delimiter began */
                size_t in_piece = fd->dlen - fd->carried;
                rc = emit(fd, p + start, i - in_piece - start);
                fd->matched = fd->carried = 0;
                *used = i;
                *found = 1;
                return rc;
            }
            continue;
        }
        /* mismatch: what was held back is content after all */
        if (fd->carried) {
            /* it came before this piece; nothing of the piece was passed on */
            if ((rc = emit(fd, fd->delim, fd->carried)) != 0) {
                *used = i;
                return rc;
            }
            fd->carried = 0;
        }
        fd->matched = 0; /* and look at p[i] again as a possible start */
    }
    /* hold back the bytes of a partial match; pass on the rest */
    size_t held = fd->matched - fd->carried;
    rc = emit(fd, p + start, n - held - start);
    fd->carried = fd->matched;
    *used = n;
    return rc;
}

/* ---- feeding --------------------------------------------------------------- */

/* One byte in a delimiter's tail states. */
static int tail_byte(struct form_data *fd, uint8_t c)
{
    switch (fd->state) {
    case ST_AFTER_DELIM:
        if (c == '-') {
            fd->state = ST_CLOSE_DASH;
            return 0;
        }
        /* fall through */
    case ST_PADDING:
        if (is_ows((char)c))
            fd->state = ST_PADDING;
        else if (c == '\r')
            fd->state = ST_DELIM_CR;
        else if (c == '\n')
            fd->state = ST_HEADERS;
        else
            return FORM_DATA_EMALFORMED;
        return 0;
    case ST_DELIM_CR:
        if (c != '\n')
            return FORM_DATA_EMALFORMED;
        fd->state = ST_HEADERS;
        return 0;
    case ST_CLOSE_DASH:
        if (c != '-')
            return FORM_DATA_EMALFORMED;
        fd->state = ST_DONE;
        return 0;
    default:
        return FORM_DATA_EINVAL;
    }
}

int form_data_feed(struct form_data *fd, const uint8_t *p, size_t n)
{
    if (!fd)
        return FORM_DATA_EINVAL;
    if (fd->err)
        return fd->err;
    if (fd->state == ST_FINISHED)
        return fd->err = FORM_DATA_EINVAL;
    if (n && !p)
        return fd->err = FORM_DATA_EINVAL;
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        size_t used = 0;
        int found;
        switch (fd->state) {
        case ST_PREAMBLE:
        case ST_BODY:
            rc = feed_content(fd, p + i, n - i, &used, &found);
            i += used;
            if (rc == 0 && found) {
                if (fd->state == ST_BODY) {
                    fd->in_part = 0;
                    rc = fd->cb.part_end(fd->arg);
                    part_release(fd);
                }
                fd->state = ST_AFTER_DELIM;
            }
            break;
        case ST_HEADERS:
            rc = feed_headers(fd, p + i, n - i, &used);
            i += used;
            break;
        case ST_DONE:
            i = n;
            break;
        default:
            rc = tail_byte(fd, p[i++]);
            if (rc == 0 && fd->state == ST_HEADERS)
                buf_reset(&fd->headers);
            break;
        }
    }
    return fd->err = rc;
}

int form_data_finish(struct form_data *fd)
{
    if (!fd)
        return FORM_DATA_EINVAL;
    if (fd->err)
        return fd->err;
    int done = fd->state == ST_DONE || fd->state == ST_FINISHED;
    fd->state = ST_FINISHED;
    if (!done)
        fd->err = FORM_DATA_EINCOMPLETE;
    return fd->err;
}
