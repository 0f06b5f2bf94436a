/*
 * common/xml.h - the XML that S3 speaks: a writer for response bodies and a
 * small DOM parser for request bodies.
 *
 * WRITER.  Appends compact XML (no indentation) to a caller's struct buf.
 * Calling sequence: xmlw_init(), optionally xmlw_decl(), then any mix of
 * xmlw_open*()/xmlw_close()/xmlw_elem*(), and xmlw_finish() once, which
 * returns 0 or the first error.  The writing calls return nothing: the
 * first failure (buf full, bad name, invalid UTF-8, too deep, unbalanced
 * close) is remembered in a sticky flag, later calls do nothing, and
 * xmlw_finish() reports it; the buf then holds a partial document that the
 * caller discards.  The writer keeps the names of open elements in a fixed
 * stack (XMLW_MAX_DEPTH), so names passed in need not outlive the call.
 *
 * Text escaping (element text and the xmlns value):
 *   &  <  >  "  '          ->  &amp; &lt; &gt; &quot; &apos;
 *   TAB, LF, CR            ->  &#x9; &#xA; &#xD;  (survive parsers' line-end
 *                              and whitespace normalisation byte for byte)
 *   other C0 controls U+0001..U+001F, and U+FFFE, U+FFFF
 *                          ->  &#xN; as S3 does.  XML 1.0 has no way to carry
 *                              these (not even as references, so a strict
 *                              parser rejects the document); clients that
 *                              may see such keys ask for encoding-type=url,
 *                              as they must with S3.
 *   U+0000                 ->  refused (XML_EINVAL): no XML can carry it and
 *                              no S3 name contains it.
 *   invalid UTF-8          ->  refused (XML_EINVAL).
 * Element names must match [A-Za-z_][A-Za-z0-9._-]* (optionally with one
 * "prefix:" part) and be at most XMLW_MAX_NAME bytes.
 *
 * PARSER.  xml_parse() reads a whole request body (the caller caps its size,
 * e.g. 1 MiB) with expat into a read-only tree.  Element names are local
 * names: any namespace (S3 clients send bodies with and without
 * xmlns="http://s3.amazonaws.com/doc/2006-03-01/", some with prefixes) is
 * stripped.  A node's text is the concatenation of its own character data
 * (not its children's), entities and CDATA decoded, UTF-8, NUL-terminated,
 * whitespace kept as sent.  Attributes, comments and processing
 * instructions are ignored.  Refused as XML_EMALFORMED: anything not
 * well-formed (truncated, mismatched tags, several roots, empty body,
 * invalid UTF-8, characters XML forbids) and any DOCTYPE (so no entity
 * declarations and no entity expansion attacks).  Refused as XML_ETOOLARGE:
 * nesting deeper than XML_MAX_DEPTH, more than XML_MAX_NODES elements, or
 * len > XML_MAX_INPUT.
 *
 * Thread rules: a writer belongs to one thread.  xml_parse() is reentrant;
 * a parsed document is immutable and may be read by several threads.
 */
#ifndef CAIRN_COMMON_XML_H
#define CAIRN_COMMON_XML_H

#include <stdarg.h>
#include <stddef.h>

#include "common/buf.h"

/* Errors of this module (also: -ENOSPC from the buf, -ENOMEM). */
enum xml_error {
    XML_EMALFORMED = -29000, /* not well-formed, DOCTYPE, empty: S3 MalformedXML */
    XML_ETOOLARGE = -29001,  /* a depth, node-count or size cap was hit */
    XML_EINVAL = -29002,     /* writer misuse: bad name, bad text, unbalanced */
};

/* Message for any return code of this module ("" for 0). */
const char *xml_strerror(int err);

/* ------------------------------------------------------------------ */
/* Writer                                                              */

#define XMLW_MAX_DEPTH 16 /* open elements at once */
#define XMLW_MAX_NAME 63  /* bytes in an element name */

struct xml_writer {
    struct buf *out; /* borrowed; outlives the writer */
    int err;         /* first error, sticky */
    unsigned depth;
    char open[XMLW_MAX_DEPTH][XMLW_MAX_NAME + 1];
};

/* Start writing to out (borrowed, appended to; not reset). */
void xmlw_init(struct xml_writer *w, struct buf *out);
/* <?xml version="1.0" encoding="UTF-8"?> */
void xmlw_decl(struct xml_writer *w);
/* <name> and push it; more than XMLW_MAX_DEPTH open -> XML_ETOOLARGE. */
void xmlw_open(struct xml_writer *w, const char *name);
/* <name xmlns="xmlns"> (xmlns escaped) and push it. */
void xmlw_open_ns(struct xml_writer *w, const char *name, const char *xmlns);
/* </name> of the innermost open element; none open -> XML_EINVAL. */
void xmlw_close(struct xml_writer *w);
/* <name a1="v1" a2="v2">: attrs is a NULL-terminated list of name, value
 * pairs (values escaped). */
void xmlw_open_attrs(struct xml_writer *w, const char *name, const char *const *attrs);
/* Escaped text inside the innermost open element. */
void xmlw_text(struct xml_writer *w, const char *text);
/* <name>escaped text</name>.  text is NUL-terminated UTF-8. */
void xmlw_elem(struct xml_writer *w, const char *name, const char *text);
/* Same with len bytes of UTF-8 text (no NUL needed; an embedded NUL byte
 * is refused, see above). */
void xmlw_elem_len(struct xml_writer *w, const char *name, const char *text, size_t len);
/* Same with printf-formatted text (the result is escaped). */
void xmlw_elemf(struct xml_writer *w, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 0 if everything was written and every element closed; else the first
 * error: -ENOSPC (buf cap), -ENOMEM, XML_EINVAL, XML_ETOOLARGE.  Elements
 * still open at finish are an error (XML_EINVAL). */
int xmlw_finish(struct xml_writer *w);

/* ------------------------------------------------------------------ */
/* Parser                                                              */

#define XML_MAX_DEPTH 32                  /* nesting levels, root = 1 */
#define XML_MAX_NODES 65536               /* elements in one document */
#define XML_MAX_INPUT (64u * 1024 * 1024) /* absolute cap; callers cap lower */

struct xml_node {
    const char *name;           /* local name, namespace stripped */
    const char *text;           /* own character data, NUL-terminated, never NULL */
    size_t text_len;            /* bytes in text */
    struct xml_node *parent;    /* NULL for the root */
    struct xml_node *children;  /* first child element, or NULL */
    struct xml_node *next;      /* next sibling element, or NULL */
};

struct xml_doc; /* opaque; owns every node and string of one document */

/*
 * Parse data[0..len) (borrowed for the call; need not be NUL-terminated).
 * On success returns 0 and sets *out to a new document the caller frees
 * with xml_doc_free().  Otherwise returns XML_EMALFORMED, XML_ETOOLARGE or
 * -ENOMEM, and *out is untouched.
 */
int xml_parse(const char *data, size_t len, struct xml_doc **out);

/* Free doc and every node and string in it (NULL is fine). */
void xml_doc_free(struct xml_doc *doc);

/*
 * Navigation.  Every pointer returned lives as long as the document; the
 * nodes are the document's and read-only (they are not const only so that
 * callers may keep plain struct xml_node pointers, as with strchr).  All
 * accept a NULL node (and then return NULL, or "" / def for the text
 * getters), so lookups chain: xml_child_text(xml_child(root, "A"), "B", "").
 * A NULL name matches any element.
 */
struct xml_node *xml_root(const struct xml_doc *doc);
/* First child element of node with that local name, or NULL. */
struct xml_node *xml_child(const struct xml_node *node, const char *name);
/* Next sibling after node with that local name, or NULL.  Iterate with
 *   for (n = xml_child(p, "Object"); n; n = xml_next_named(n, "Object")) */
struct xml_node *xml_next_named(const struct xml_node *node, const char *name);
/* node's text; "" for NULL. */
const char *xml_text(const struct xml_node *node);
/* Text of the first child named name; def if there is no such child. */
const char *xml_child_text(const struct xml_node *node, const char *name, const char *def);

#endif
