/*
 * common/form_data.h - a push parser for multipart/form-data bodies
 * (RFC 7578 on RFC 2046's multipart framing): the body of an HTML form
 * upload, as S3's POST Object receives it.
 *
 * The body is handed over in pieces of any size, as they arrive from the
 * network; nothing of a part's content is buffered: each part's bytes go
 * to a callback as soon as they are known not to be the start of the
 * boundary delimiter.  Only the headers of one part are held, within
 * FORM_DATA_HEADERS_MAX bytes.  A delimiter, a CRLF or a header block may
 * be split across pieces anywhere.
 *
 * Calling sequence:
 *   1. form_data_boundary(value of Content-Type, boundary, sizeof boundary)
 *   2. form_data_init(&fd, boundary, &callbacks, arg)
 *   3. form_data_feed(&fd, piece, n) for each piece of the body, in order
 *   4. form_data_finish(&fd) at the end of the body
 *   5. form_data_release(&fd)
 * For each part the callbacks see: part_begin once (its name, filename and
 * Content-Type), part_data zero or more times (its content, in order, never
 * with n == 0), part_end once when its closing delimiter was read.  A part
 * whose delimiter never comes (a truncated body) gets no part_end; finish
 * then returns FORM_DATA_EINCOMPLETE.
 *
 * Framing accepted: any preamble before the first delimiter (which may
 * also open the body with no CRLF before it); transport padding (spaces,
 * tabs) after a delimiter; header lines ending in CRLF or bare LF, folded
 * lines (continued by a space or tab); the closing "--" delimiter, after
 * which the epilogue is ignored.  Every part must carry a
 * Content-Disposition of type form-data with a name parameter.
 *
 * Errors are sticky: once feed returns an error, feed and finish return the
 * same one.  A callback that returns non-zero stops the parser with that
 * value (a positive value never collides with the codes below).
 *
 * Ownership: the boundary is copied at init; the strings of struct
 * form_part are borrowed from the parser and valid until part_end (or the
 * next feed that fails).  Not thread-safe; no global state.
 */
#ifndef CAIRN_COMMON_FORM_DATA_H
#define CAIRN_COMMON_FORM_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Error codes: -32200..-32249. */
enum form_data_error {
    FORM_DATA_EBOUNDARY = -32200,   /* Content-Type not multipart/form-data, or no valid
                                       boundary parameter (S3: MalformedPOSTRequest) */
    FORM_DATA_EMALFORMED = -32201,  /* framing or part headers malformed (MalformedPOSTRequest) */
    FORM_DATA_ETOOLONG = -32202,    /* one part's headers over FORM_DATA_HEADERS_MAX */
    FORM_DATA_EINCOMPLETE = -32203, /* body ended before the closing delimiter */
    FORM_DATA_EINVAL = -32204,      /* bad argument, or feed after finish */
};

const char *form_data_strerror(int err);

/* Caps (bytes, without the NUL). */
#define FORM_DATA_BOUNDARY_MAX 70     /* RFC 2046 */
#define FORM_DATA_HEADERS_MAX 8192    /* one part's header block */

/* What a part says of itself (Content-Disposition and Content-Type). */
struct form_part {
    const char *name;         /* the name parameter (may be "") */
    const char *filename;     /* the filename parameter as sent, NULL if absent */
    const char *content_type; /* the part's Content-Type value, NULL if absent */
};

struct form_data_callbacks {
    int (*part_begin)(void *arg, const struct form_part *part);
    int (*part_data)(void *arg, const uint8_t *p, size_t n);
    int (*part_end)(void *arg);
};

struct form_data {
    char delim[4 + FORM_DATA_BOUNDARY_MAX + 1]; /* "\r\n--" boundary */
    size_t dlen;
    size_t matched;       /* bytes of delim matched so far */
    size_t carried;       /* of those, how many came before the current piece */
    int state;
    int err;
    int in_part;          /* part_begin called, part_end not yet */
    struct buf headers;   /* the current part's header block */
    char *name, *filename, *content_type; /* the current part's (owned) */
    struct form_data_callbacks cb;
    void *arg;
};

/*
 * The boundary parameter of a Content-Type value "multipart/form-data;
 * boundary=..." (type and parameter names in any case, the value a token
 * or a quoted string) into out[cap].  Returns 0, or FORM_DATA_EBOUNDARY
 * when the type is another one, the parameter is missing, empty, longer
 * than FORM_DATA_BOUNDARY_MAX or (when cap is too small) does not fit, or
 * holds a character RFC 2046 does not allow (a CR or LF among them).
 * out is untouched on error.
 */
int form_data_boundary(const char *content_type, char *out, size_t cap);

/* Set up fd for a body with boundary (borrowed for the call).  cb is
 * copied; arg is passed to each callback.  Returns 0 or FORM_DATA_EINVAL
 * (a boundary form_data_boundary would not return, a missing callback). */
int form_data_init(struct form_data *fd, const char *boundary,
                   const struct form_data_callbacks *cb, void *arg);

/* Parse the next n bytes of the body.  Returns 0, a FORM_DATA_* error, or
 * a callback's non-zero return. */
int form_data_feed(struct form_data *fd, const uint8_t *p, size_t n);

/* The body ended.  0 if the closing delimiter was read; else
 * FORM_DATA_EINCOMPLETE (or the sticky error). */
int form_data_finish(struct form_data *fd);

/* Whether the closing delimiter has been read (the rest is epilogue). */
int form_data_done(const struct form_data *fd);

/* Free what fd holds; twice is fine. */
void form_data_release(struct form_data *fd);

#endif
