/* common/xml.c - see xml.h. */
#include "common/xml.h"

#include <errno.h>
#include <expat.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *xml_strerror(int err)
{
    switch (err) {
    case 0:
        return "";
    case XML_EMALFORMED:
        return "XML not well-formed (or DOCTYPE, or empty)";
    case XML_ETOOLARGE:
        return "XML too deep, too many elements, or too long";
    case XML_EINVAL:
        return "XML writer: invalid name or text, or unbalanced elements";
    default:
        return err < 0 ? strerror(-err) : "unknown error";
    }
}

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */

/* Length of the well-formed UTF-8 sequence at s (n > 0 bytes available)
 * and its code point in *cp; 0 if it is not well-formed (overlong forms,
 * surrogates, beyond U+10FFFF, truncated). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */

static void xmlw_fail(struct xml_writer *w, int err)
{
    if (!w->err)
        w->err = err;
}

static void xmlw_put(struct xml_writer *w, const char *p, size_t n)
{
    if (w->err)
        return;
    int rc = buf_append(w->out, p, n);
    if (rc)
        w->err = rc;
}

/* Length of a valid element name ([A-Za-z_][A-Za-z0-9._-]*, optionally
 * "prefix:" in front), or 0. */
static size_t xmlw_name_len(const char *name)
{
    size_t i = 0;
    int colons = 0, at_start = 1;

    if (!name)
        return 0;
    for (; name[i]; i++) {
        unsigned char c = (unsigned char)name[i];
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (i >= XMLW_MAX_NAME)
            return 0;
        if (c == ':') {
            if (at_start || ++colons > 1)
                return 0;
            at_start = 1; /* the local part follows */
            continue;
        }
        if (at_start ? !alpha : !(alpha || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return 0;
        at_start = 0;
    }
    return at_start ? 0 : i;
}

/* Append s[0..n) escaped as described in xml.h.  Plain runs go out in one
 * append. */
static void xmlw_escape(struct xml_writer *w, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = 0, i = 0;
    char ref[16];

    if (n == 0)
        return;
    while (i < n && !w->err) {
        unsigned char c = u[i];
        const char *rep;
        size_t adv = 1;

        if (c >= 0x80) {
            uint32_t cp;
            size_t l = utf8_next(u + i, n - i, &cp);
            if (!l) {
                xmlw_fail(w, XML_EINVAL);
                return;
            }
            if (cp != 0xfffe && cp != 0xffff) {
                i += l;
                continue;
            }
            snprintf(ref, sizeof ref, "&#x%X;", (unsigned)cp);
            rep = ref;
            adv = l;
        } else if (c >= 0x20) {
            switch (c) {
            case '&':
                rep = "&amp;";
                break;
            case '<':
                rep = "&lt;";
                break;
            case '>':
                rep = "&gt;";
                break;
            case '"':
                rep = "&quot;";
                break;
            case '\'':
                rep = "&apos;";
                break;
            default:
                i++;
                continue;
            }
        } else if (c == 0) {
            xmlw_fail(w, XML_EINVAL);
            return;
        } else {
            snprintf(ref, sizeof ref, "&#x%X;", (unsigned)c);
            rep = ref;
        }
        xmlw_put(w, s + start, i - start);
        xmlw_put(w, rep, strlen(rep));
        i += adv;
        start = i;
    }
    xmlw_put(w, s + start, n - start);
}

void xmlw_init(struct xml_writer *w, struct buf *out)
{
    w->out = out;
    w->err = 0;
    w->depth = 0;
}

void xmlw_decl(struct xml_writer *w)
{
    static const char decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
    xmlw_put(w, decl, sizeof decl - 1);
}

/* Checks and writes "<name", pushing name.  Returns 0 if the caller may
 * go on writing the rest of the start tag. */
static int xmlw_start_tag(struct xml_writer *w, const char *name)
{
    if (w->err)
        return -1;
    size_t len = xmlw_name_len(name);
    if (!len) {
        xmlw_fail(w, XML_EINVAL);
        return -1;
    }
    if (w->depth >= XMLW_MAX_DEPTH) {
        xmlw_fail(w, XML_ETOOLARGE);
        return -1;
    }
    xmlw_put(w, "<", 1);
    xmlw_put(w, name, len);
    memcpy(w->open[w->depth], name, len + 1);
    w->depth++;
    return w->err ? -1 : 0;
}

void xmlw_open(struct xml_writer *w, const char *name)
{
    if (xmlw_start_tag(w, name) == 0)
        xmlw_put(w, ">", 1);
}

void xmlw_open_attrs(struct xml_writer *w, const char *name, const char *const *attrs)
{
    if (xmlw_start_tag(w, name) != 0)
        return;
    for (size_t i = 0; attrs && attrs[i]; i += 2) {
        size_t alen = xmlw_name_len(attrs[i]);
        if (!alen || !attrs[i + 1]) {
            xmlw_fail(w, XML_EINVAL);
            return;
        }
        xmlw_put(w, " ", 1);
        xmlw_put(w, attrs[i], alen);
        xmlw_put(w, "=\"", 2);
        xmlw_escape(w, attrs[i + 1], strlen(attrs[i + 1]));
        xmlw_put(w, "\"", 1);
    }
    xmlw_put(w, ">", 1);
}

void xmlw_open_ns(struct xml_writer *w, const char *name, const char *xmlns)
{
    const char *attrs[] = {"xmlns", xmlns, NULL};
    if (!xmlns) {
        xmlw_fail(w, XML_EINVAL);
        return;
    }
    xmlw_open_attrs(w, name, attrs);
}

void xmlw_text(struct xml_writer *w, const char *text)
{
    if (w->err)
        return;
    if (w->depth == 0) {
        xmlw_fail(w, XML_EINVAL);
        return;
    }
    xmlw_escape(w, text, strlen(text));
}

void xmlw_close(struct xml_writer *w)
{
    if (w->err)
        return;
    if (w->depth == 0) {
        xmlw_fail(w, XML_EINVAL);
        return;
    }
    const char *name = w->open[--w->depth];
    xmlw_put(w, "</", 2);
    xmlw_put(w, name, strlen(name));
    xmlw_put(w, ">", 1);
}

void xmlw_elem_len(struct xml_writer *w, const char *name, const char *text, size_t len)
{
    if (w->err)
        return;
    size_t nlen = xmlw_name_len(name);
    if (!nlen || (!text && len)) {
        xmlw_fail(w, XML_EINVAL);
        return;
    }
    xmlw_put(w, "<", 1);
    xmlw_put(w, name, nlen);
    xmlw_put(w, ">", 1);
    xmlw_escape(w, text, len);
    xmlw_put(w, "</", 2);
    xmlw_put(w, name, nlen);
    xmlw_put(w, ">", 1);
}

void xmlw_elem(struct xml_writer *w, const char *name, const char *text)
{
    if (!text) {
        xmlw_fail(w, XML_EINVAL);
        return;
    }
    xmlw_elem_len(w, name, text, strlen(text));
}

void xmlw_elemf(struct xml_writer *w, const char *name, const char *fmt, ...)
{
    char small[256];
    char *text = small;
    va_list ap;

    if (w->err)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        xmlw_fail(w, XML_EINVAL);
        return;
    }
    if ((size_t)n >= sizeof small) {
        text = malloc((size_t)n + 1);
        if (!text) {
            xmlw_fail(w, -ENOMEM);
            return;
        }
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    xmlw_elem_len(w, name, text, (size_t)n);
    if (text != small)
        free(text);
}

int xmlw_finish(struct xml_writer *w)
{
    if (!w->err && w->depth)
        w->err = XML_EINVAL;
    return w->err;
}

/* ------------------------------------------------------------------ */
/* Parser                                                              */

/* Nodes and strings of a document live in a chain of blocks freed at once. */
struct xml_block {
    struct xml_block *next;
    size_t used, cap;
    alignas(max_align_t) char data[];
};

struct xml_doc {
    struct xml_node *root;
    struct xml_block *blocks;
};

#define XML_BLOCK_MIN 4096
#define XML_BLOCK_MAX (256u * 1024)

static void *xml_alloc(struct xml_doc *doc, size_t n)
{
    struct xml_block *b = doc->blocks;
    n = (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    if (!b || b->cap - b->used < n) {
        size_t cap = b ? b->cap * 2 : XML_BLOCK_MIN;
        if (cap > XML_BLOCK_MAX)
            cap = XML_BLOCK_MAX;
        if (cap < n)
            cap = n;
        struct xml_block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        doc->blocks = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

static char *xml_strdup(struct xml_doc *doc, const char *s, size_t n)
{
    if (n == 0)
        return (char *)"";
    char *p = xml_alloc(doc, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

void xml_doc_free(struct xml_doc *doc)
{
    if (!doc)
        return;
    struct xml_block *b = doc->blocks;
    while (b) {
        struct xml_block *next = b->next;
        free(b);
        b = next;
    }
    free(doc);
}

/* expat's separator between namespace URI and local name.  Not a name
 * character, so the local name is what follows the last one. */
#define XML_NS_SEP '|'

struct xml_ctx {
    XML_Parser parser;
    struct xml_doc *doc;
    int err;
    unsigned depth;
    size_t nodes;
    struct xml_node *open[XML_MAX_DEPTH];       /* open elements */
    struct xml_node *last_child[XML_MAX_DEPTH]; /* for appending children */
    struct buf text[XML_MAX_DEPTH];             /* their character data so far */
};

static void xml_stop(struct xml_ctx *c, int err)
{
    if (!c->err)
        c->err = err;
    XML_StopParser(c->parser, XML_FALSE);
}

static void XMLCALL xml_on_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
    struct xml_ctx *c = arg;
    (void)atts;
    if (c->err)
        return;
    if (c->depth >= XML_MAX_DEPTH || c->nodes >= XML_MAX_NODES) {
        xml_stop(c, XML_ETOOLARGE);
        return;
    }
    const char *local = strrchr(name, XML_NS_SEP);
    local = local ? local + 1 : name;
    struct xml_node *n = xml_alloc(c->doc, sizeof *n);
    char *nm = n ? xml_strdup(c->doc, local, strlen(local)) : NULL;
    if (!nm) {
        xml_stop(c, -ENOMEM);
        return;
    }
    n->name = nm;
    n->text = "";
    n->text_len = 0;
    n->children = n->next = NULL;
    if (c->depth == 0) {
        n->parent = NULL;
        c->doc->root = n; /* expat allows exactly one root */
    } else {
        unsigned d = c->depth - 1;
        n->parent = c->open[d];
        if (c->last_child[d])
            c->last_child[d]->next = n;
        else
            c->open[d]->children = n;
        c->last_child[d] = n;
    }
    c->open[c->depth] = n;
    c->last_child[c->depth] = NULL;
    buf_reset(&c->text[c->depth]);
    c->depth++;
    c->nodes++;
}

static void XMLCALL xml_on_end(void *arg, const XML_Char *name)
{
    struct xml_ctx *c = arg;
    (void)name;
    if (c->err || c->depth == 0)
        return;
    c->depth--;
    struct xml_node *n = c->open[c->depth];
    struct buf *t = &c->text[c->depth];
    char *text = xml_strdup(c->doc, t->data, t->len);
    if (!text) {
        xml_stop(c, -ENOMEM);
        return;
    }
    n->text = text;
    n->text_len = t->len;
}

static void XMLCALL xml_on_text(void *arg, const XML_Char *s, int len)
{
    struct xml_ctx *c = arg;
    if (c->err || c->depth == 0 || len <= 0)
        return;
    int rc = buf_append(&c->text[c->depth - 1], s, (size_t)len);
    if (rc)
        xml_stop(c, rc == -ENOSPC ? XML_ETOOLARGE : rc);
}

static void XMLCALL xml_on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
                                   const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    xml_stop(arg, XML_EMALFORMED);
}

static void XMLCALL xml_on_entity(void *arg, const XML_Char *name, int is_param,
                                  const XML_Char *value, int value_len, const XML_Char *base,
                                  const XML_Char *sysid, const XML_Char *pubid,
                                  const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base;
    (void)sysid, (void)pubid, (void)notation;
    xml_stop(arg, XML_EMALFORMED);
}

int xml_parse(const char *data, size_t len, struct xml_doc **out)
{
    struct xml_ctx c;
    struct xml_doc *doc = NULL;
    int rc;

    memset(&c, 0, sizeof c);
    for (unsigned i = 0; i < XML_MAX_DEPTH; i++)
        buf_init(&c.text[i], len); /* a node's text never exceeds the input */
    if (len == 0) {
        rc = XML_EMALFORMED;
        goto out;
    }
    if (len > XML_MAX_INPUT) {
        rc = XML_ETOOLARGE;
        goto out;
    }
    doc = calloc(1, sizeof *doc);
    /* The encoding is fixed to UTF-8 whatever the document declares. */
    c.parser = doc ? XML_ParserCreateNS("UTF-8", XML_NS_SEP) : NULL;
    if (!c.parser) {
        rc = -ENOMEM;
        goto out;
    }
    c.doc = doc;
    XML_SetUserData(c.parser, &c);
    XML_SetElementHandler(c.parser, xml_on_start, xml_on_end);
    XML_SetCharacterDataHandler(c.parser, xml_on_text);
    XML_SetStartDoctypeDeclHandler(c.parser, xml_on_doctype);
    XML_SetEntityDeclHandler(c.parser, xml_on_entity);
    XML_SetParamEntityParsing(c.parser, XML_PARAM_ENTITY_PARSING_NEVER);

    if (XML_Parse(c.parser, data, (int)len, XML_TRUE) != XML_STATUS_OK) {
        rc = c.err ? c.err : XML_EMALFORMED;
        goto out;
    }
    if (c.err || !doc->root || c.depth != 0) {
        rc = c.err ? c.err : XML_EMALFORMED;
        goto out;
    }
    *out = doc;
    doc = NULL;
    rc = 0;
out:
    if (c.parser)
        XML_ParserFree(c.parser);
    for (unsigned i = 0; i < XML_MAX_DEPTH; i++)
        buf_release(&c.text[i]);
    xml_doc_free(doc);
    return rc;
}

struct xml_node *xml_root(const struct xml_doc *doc)
{
    return doc ? doc->root : NULL;
}

static int xml_name_is(const struct xml_node *n, const char *name)
{
    return !name || strcmp(n->name, name) == 0;
}

struct xml_node *xml_child(const struct xml_node *node, const char *name)
{
    if (!node)
        return NULL;
    for (struct xml_node *n = node->children; n; n = n->next)
        if (xml_name_is(n, name))
            return n;
    return NULL;
}

struct xml_node *xml_next_named(const struct xml_node *node, const char *name)
{
    if (!node)
        return NULL;
    for (struct xml_node *n = node->next; n; n = n->next)
        if (xml_name_is(n, name))
            return n;
    return NULL;
}

const char *xml_text(const struct xml_node *node)
{
    return node ? node->text : "";
}

const char *xml_child_text(const struct xml_node *node, const char *name, const char *def)
{
    const struct xml_node *n = xml_child(node, name);
    return n ? n->text : def;
}
