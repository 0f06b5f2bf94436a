/*
 * common/uri.h - percent-encoding the way SigV4 and S3 see it, and a
 * bounded query-string splitter.
 *
 * Encoding (uri_encode) follows the SigV4 rules exactly: the unreserved
 * characters A-Z a-z 0-9 '-' '.' '_' '~' are copied, every other byte
 * (including every byte of a multi-byte UTF-8 sequence) becomes "%XX" with
 * upper-case hex.  Space is "%20", never '+'.  URI_KEEP_SLASH keeps '/' as
 * is (object key paths); without it '/' becomes "%2F" (query values).
 *
 * Decoding (uri_decode) is strict: '%' must be followed by two hex digits
 * (either case), otherwise the input is rejected.  The decoded bytes may
 * contain NUL ("%00"), so lengths are always returned; callers that need a
 * C string check for embedded NULs themselves.
 *
 * '+' in query strings.  HTML forms encode a space as '+', and S3 follows
 * that for query strings: "?prefix=a+b" lists keys beginning "a b", and a
 * literal '+' must be sent as "%2B".  SigV4 canonicalization on the server
 * agrees: the canonical query is built from the decoded values re-encoded,
 * so "a+b" and "a%20b" both canonicalize to "a%20b" (MinIO does the same).
 * The SDKs (botocore, Go, Java) always send "%20" for a space and "%2B"
 * for a plus, so for them the question never arises.  The request PATH is
 * different: there '+' is a literal plus (S3 keys may contain '+', and the
 * SDKs send it unescaped in the path), so path decoding never maps '+'.
 * Hence the flag URI_PLUS_SPACE, which uri_query_parse always uses and
 * sigv4's path canonicalization never does.
 *
 * Thread rules: every function is reentrant; a struct uri_query belongs to
 * one thread at a time (read-only use may be shared).
 *
 * Errors are negative errno values: -EINVAL for a malformed escape,
 * -ENOSPC when a cap is exceeded, -ENOMEM.
 */
#ifndef CAIRN_COMMON_URI_H
#define CAIRN_COMMON_URI_H

#include <stddef.h>

#include "common/buf.h"

/* uri_encode flag: keep '/' unencoded. */
#define URI_KEEP_SLASH 0x1
/* uri_decode flag: decode '+' as a space (query strings). */
#define URI_PLUS_SPACE 0x2

/* Caps of uri_query_parse. */
#define URI_QUERY_MAX_LEN 16384  /* raw query string, bytes */
#define URI_QUERY_MAX_PAIRS 256  /* name[=value] segments */

/*
 * Append the SigV4 encoding of in[0..len) to out.  flags: URI_KEEP_SLASH.
 * Returns 0, -ENOSPC (out's cap reached; out may hold part of the
 * encoding, as with any buf append), or -ENOMEM.
 */
int uri_encode(struct buf *out, const char *in, size_t len, int flags);

/* True if c is one of SigV4's unreserved characters. */
int uri_is_unreserved(unsigned char c);

/*
 * Decode in[0..len) into out, which has room for outcap bytes.  A NUL is
 * written after the decoded bytes when there is room for it; the decoded
 * length is never more than len, so outcap = len + 1 always suffices, and
 * out may equal in (decoding in place).  flags: URI_PLUS_SPACE.
 * Returns the decoded length (>= 0), -EINVAL on a malformed escape ("%",
 * "%4", "%zz"), or -ENOSPC if outcap is too small.  On error, out's
 * contents are unspecified (they may be partly written).
 */
long uri_decode(const char *in, size_t len, char *out, size_t outcap, int flags);

/* One decoded query pair.  name and value are NUL-terminated (they may
 * also contain NUL bytes: use the lengths).  value is "" when the segment
 * had no '=' (has_value == 0, e.g. "?uploads") or an empty one ("a="). */
struct uri_query_pair {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    int has_value;
};

/* A split query string; owns its storage.  pairs are in request order. */
struct uri_query {
    struct uri_query_pair *pairs;
    size_t count;
    char *storage; /* decoded strings, one allocation */
};

/*
 * Split raw (the bytes after '?', without it; may be NULL when len is 0)
 * at '&', each segment at its first '=', and decode names and values with
 * URI_PLUS_SPACE.  Empty segments ("a=1&&b=2", a trailing '&') are
 * skipped.  q is set up by this call (no init needed) and must be given to
 * uri_query_release() after a success; on failure q is left untouched and
 * owns nothing.
 * Returns 0, -ENOSPC (raw longer than URI_QUERY_MAX_LEN or more than
 * URI_QUERY_MAX_PAIRS segments), -EINVAL (malformed escape), or -ENOMEM.
 */
int uri_query_parse(const char *raw, size_t len, struct uri_query *q);

/* First pair whose name is exactly name (case-sensitive, as S3's
 * sub-resources are), or NULL.  The pointer lives until release. */
const struct uri_query_pair *uri_query_find(const struct uri_query *q, const char *name);

/* Free what q owns; q is left empty.  Safe on an empty or released q. */
void uri_query_release(struct uri_query *q);

#endif
