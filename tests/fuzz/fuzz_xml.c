/*
 * tests/fuzz/fuzz_xml.c - the request-body XML parser (xml_parse and the
 * navigation the S3 handlers do on its tree), plus a writer round trip.
 *
 * The whole input is
 *   1. parsed as a request body; on success the whole tree is walked:
 *      parent/child/sibling links agree, depth <= XML_MAX_DEPTH, at most
 *      XML_MAX_NODES elements, names are non-empty local names (no prefix,
 *      no namespace), text is NUL-terminated with text_len bytes and no
 *      NUL inside; xml_child / xml_next_named find exactly the children a
 *      plain scan finds; and the lookups the S3 handlers make
 *      (CompleteMultipartUpload, Delete, CreateBucketConfiguration,
 *      VersioningConfiguration, Tagging) run on it;
 *   2. written as the text of an element with the XML writer, which must
 *      accept it exactly when it holds no NUL and is well-formed UTF-8
 *      (checked by a validator written here from RFC 3629); if XML 1.0
 *      can carry it (no C0 controls other than TAB, LF, CR, no U+FFFE /
 *      U+FFFF; see xml.h), the written document parses back to one
 *      element with exactly that text, otherwise the parser refuses it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xml.h"
#include "tests/fuzz/fuzz_check.h"

struct walk {
    size_t nodes;
};

/* Every child of p named name (NULL: any), by a plain scan, must be what
 * xml_child + xml_next_named visit, in order. */
static void check_lookup(const struct xml_node *p, const char *name)
{
    struct xml_node *it = xml_child(p, name);
    for (const struct xml_node *n = p->children; n; n = n->next) {
        if (name && strcmp(n->name, name) != 0)
            continue;
        FUZZ_CHECK(it == n);
        it = xml_next_named(it, name);
    }
    FUZZ_CHECK(it == NULL);
}

static void walk_node(const struct xml_node *n, unsigned depth, struct walk *w)
{
    FUZZ_CHECK(depth >= 1 && depth <= XML_MAX_DEPTH);
    w->nodes++;
    FUZZ_CHECK(w->nodes <= XML_MAX_NODES);
    FUZZ_CHECK(n->name != NULL && n->name[0] != '\0');
    FUZZ_CHECK(strchr(n->name, ':') == NULL && strchr(n->name, '|') == NULL);
    FUZZ_CHECK(n->text != NULL);
    FUZZ_CHECK(strlen(n->text) == n->text_len);
    FUZZ_CHECK(xml_text(n) == n->text);
    check_lookup(n, NULL);
    for (const struct xml_node *c = n->children; c; c = c->next) {
        FUZZ_CHECK(c->parent == n);
        check_lookup(n, c->name);
        FUZZ_CHECK(xml_child_text(n, c->name, NULL) == xml_child(n, c->name)->text);
        walk_node(c, depth + 1, w);
    }
    FUZZ_CHECK(xml_child_text(n, "\x01no such name", "def")[0] == 'd');
}

/* What the S3 handlers read from their request bodies. */
static void s3_lookups(const struct xml_node *root)
{
    size_t sink = 0;
    if (strcmp(root->name, "CompleteMultipartUpload") == 0) {
        for (struct xml_node *p = xml_child(root, "Part"); p; p = xml_next_named(p, "Part")) {
            sink += strlen(xml_child_text(p, "PartNumber", ""));
            sink += strlen(xml_child_text(p, "ETag", ""));
            sink += strlen(xml_child_text(p, "ChecksumCRC32", ""));
            sink += strlen(xml_child_text(p, "ChecksumCRC32C", ""));
            sink += strlen(xml_child_text(p, "ChecksumSHA256", ""));
            FUZZ_CHECK(strcmp(p->name, "Part") == 0 && p->parent == root);
        }
    } else if (strcmp(root->name, "Delete") == 0) {
        sink += strlen(xml_child_text(root, "Quiet", "false"));
        for (struct xml_node *o = xml_child(root, "Object"); o; o = xml_next_named(o, "Object")) {
            sink += strlen(xml_child_text(o, "Key", ""));
            sink += strlen(xml_child_text(o, "VersionId", ""));
            FUZZ_CHECK(strcmp(o->name, "Object") == 0 && o->parent == root);
        }
    } else if (strcmp(root->name, "CreateBucketConfiguration") == 0) {
        sink += strlen(xml_child_text(root, "LocationConstraint", ""));
    } else if (strcmp(root->name, "VersioningConfiguration") == 0) {
        sink += strlen(xml_child_text(root, "Status", ""));
        sink += strlen(xml_child_text(root, "MfaDelete", ""));
    } else if (strcmp(root->name, "Tagging") == 0) {
        struct xml_node *set = xml_child(root, "TagSet");
        for (struct xml_node *t = xml_child(set, "Tag"); t; t = xml_next_named(t, "Tag"))
            sink += strlen(xml_child_text(t, "Key", "")) + strlen(xml_child_text(t, "Value", ""));
    }
    /* NULL-tolerant chains */
    FUZZ_CHECK(xml_child(NULL, "X") == NULL && xml_next_named(NULL, NULL) == NULL);
    FUZZ_CHECK(xml_text(NULL)[0] == '\0');
    FUZZ_CHECK(strcmp(xml_child_text(NULL, "X", "d"), "d") == 0);
    (void)sink;
}

static void check_parse(const char *data, size_t len)
{
    struct xml_doc *doc = (struct xml_doc *)&doc; /* untouched on failure */
    struct xml_doc *before = doc;
    int rc = xml_parse(data, len, &doc);
    if (rc != 0) {
        FUZZ_CHECK(rc == XML_EMALFORMED || rc == XML_ETOOLARGE || rc == -ENOMEM);
        FUZZ_CHECK(doc == before);
        return;
    }
    struct xml_node *root = xml_root(doc);
    FUZZ_CHECK(root != NULL && root->parent == NULL && root->next == NULL);
    struct walk w = {0};
    walk_node(root, 1, &w);
    s3_lookups(root);
    xml_doc_free(doc);
}

/* Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * past U+10FFFF.  Written from the table in the RFC, independently of
 * xml.c's decoder. */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c == 0xe0) {
            len = 3, lo = 0xa0;
        } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
            len = 3;
        } else if (c == 0xed) {
            len = 3, hi = 0x9f;
        } else if (c == 0xf0) {
            len = 4, lo = 0x90;
        } else if (c >= 0xf1 && c <= 0xf3) {
            len = 4;
        } else if (c == 0xf4) {
            len = 4, hi = 0x8f;
        } else {
            return 0;
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return 0;
        i += len;
    }
    return 1;
}

/* Can XML 1.0 carry text (valid UTF-8 assumed)? */
static int xml_can_carry(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
        if (i + 2 < n && s[i] == 0xef && s[i + 1] == 0xbf && (s[i + 2] == 0xbe || s[i + 2] == 0xbf))
            return 0;
    }
    return 1;
}

static void check_writer(const char *text, size_t len)
{
    struct buf out;
    struct xml_writer w;
    buf_init(&out, 16 * len + 256);
    xmlw_init(&w, &out);
    xmlw_decl(&w);
    xmlw_open_ns(&w, "Root", "http://s3.amazonaws.com/doc/2006-03-01/");
    xmlw_elem_len(&w, "Key", text, len);
    xmlw_close(&w);
    int rc = xmlw_finish(&w);
    /* refused exactly when the text holds a NUL or is not UTF-8 */
    int acceptable = memchr(text, 0, len) == NULL && valid_utf8((const unsigned char *)text, len);
    if (rc != 0) {
        FUZZ_CHECK(rc == XML_EINVAL && !acceptable);
        buf_release(&out);
        return;
    }
    FUZZ_CHECK(acceptable);
    struct xml_doc *doc = NULL;
    rc = xml_parse(out.data, out.len, &doc);
    if (xml_can_carry((const unsigned char *)text, len)) {
        FUZZ_CHECK(rc == 0);
        struct xml_node *root = xml_root(doc);
        FUZZ_CHECK(strcmp(root->name, "Root") == 0 && root->text_len == 0);
        struct xml_node *key = xml_child(root, "Key");
        FUZZ_CHECK(key != NULL && key->next == NULL && key->children == NULL);
        FUZZ_CHECK(key->text_len == len && memcmp(key->text, text, len) == 0);
    } else {
        /* control characters go out as references, which XML 1.0 parsers
         * (expat included) refuse */
        FUZZ_CHECK(rc == XML_EMALFORMED);
    }
    xml_doc_free(doc);
    buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size copy: xml_parse must not read past len (no NUL needed) */
    char *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL);
    if (size)
        memcpy(copy, data, size);
    check_parse(copy, size);
    check_writer(copy, size);
    free(copy);
    return 0;
}
