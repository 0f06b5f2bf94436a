/*
 * Unit tests for common/xml: the writer's output byte for byte (escaping,
 * nesting, sticky errors), and the parser on the S3 request bodies it
 * serves plus every kind of hostile input it must refuse without crashing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/xml.h"

#define S3NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* ---- writer ---- */

static void test_writer_nesting(void **state)
{
    (void)state;
    struct buf b;
    struct xml_writer w;
    buf_init(&b, 4096);
    xmlw_init(&w, &b);
    xmlw_decl(&w);
    xmlw_open_ns(&w, "ListAllMyBucketsResult", S3NS);
    xmlw_open(&w, "Owner");
    xmlw_elem(&w, "ID", "owner-1");
    xmlw_elem(&w, "DisplayName", "");
    xmlw_close(&w);
    xmlw_open(&w, "Buckets");
    for (int i = 0; i < 2; i++) {
        xmlw_open(&w, "Bucket");
        xmlw_elemf(&w, "Name", "bucket-%d", i);
        xmlw_elemf(&w, "Size", "%llu", 18446744073709551615ull);
        xmlw_close(&w);
    }
    xmlw_close(&w);
    xmlw_close(&w);
    assert_int_equal(xmlw_finish(&w), 0);
    assert_string_equal(b.data,
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                        "<ListAllMyBucketsResult xmlns=\"" S3NS "\">"
                        "<Owner><ID>owner-1</ID><DisplayName></DisplayName></Owner>"
                        "<Buckets>"
                        "<Bucket><Name>bucket-0</Name><Size>18446744073709551615</Size></Bucket>"
                        "<Bucket><Name>bucket-1</Name><Size>18446744073709551615</Size></Bucket>"
                        "</Buckets></ListAllMyBucketsResult>");
    buf_release(&b);
}

static const char *write_one(struct buf *b, const char *text, size_t len, int *rc)
{
    struct xml_writer w;
    buf_reset(b);
    xmlw_init(&w, b);
    xmlw_elem_len(&w, "K", text, len);
    *rc = xmlw_finish(&w);
    return b->data ? b->data : "";
}

static void test_writer_escaping(void **state)
{
    (void)state;
    struct buf b;
    int rc;
    buf_init(&b, 4096);

#define ESC(in, want)                                         \
    do {                                                      \
        const char *got_ = write_one(&b, in, sizeof in - 1, &rc); \
        assert_int_equal(rc, 0);                              \
        assert_string_equal(got_, "<K>" want "</K>");         \
    } while (0)

    ESC("plain", "plain");
    ESC("", "");
    ESC("a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    ESC("\"etag\"", "&quot;etag&quot;");
    ESC("]]>", "]]&gt;");
    ESC("t\tn\nr\r", "t&#x9;n&#xA;r&#xD;");
    ESC("\x01\x08\x0b\x0c\x1f", "&#x1;&#x8;&#xB;&#xC;&#x1F;");
    ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    ESC("\xef\xbf\xbe\xef\xbf\xbf\xef\xbf\xbd", "&#xFFFE;&#xFFFF;\xef\xbf\xbd");
    ESC("\x7f", "\x7f");
#undef ESC

    /* refused: NUL and every kind of invalid UTF-8 */
    static const struct {
        const char *s;
        size_t len;
    } bad[] = {
        { "a\0b", 3 },         /* NUL */
        { "\xc3\x28", 2 },     /* bad continuation */
        { "\xc0\x80", 2 },     /* overlong NUL */
        { "\xe0\x80\xaf", 3 }, /* overlong '/' */
        { "\xed\xa0\x80", 3 }, /* surrogate */
        { "\xf4\x90\x80\x80", 4 }, /* > U+10FFFF */
        { "\xf5\x80\x80\x80", 4 },
        { "\xe2\x82", 2 },     /* truncated */
        { "\x80", 1 },         /* lone continuation */
        { "\xff", 1 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_one(&b, bad[i].s, bad[i].len, &rc);
        assert_int_equal(rc, XML_EINVAL);
    }

    /* a long formatted text takes the heap path */
    struct xml_writer w;
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    buf_reset(&b);
    xmlw_init(&w, &b);
    xmlw_elemf(&w, "Big", "<%s>", big);
    assert_int_equal(xmlw_finish(&w), 0);
    assert_int_equal(b.len, strlen("<Big></Big>") + 999 + 8);
    assert_memory_equal(b.data, "<Big>&lt;xxx", 12);

    /* the xmlns value is escaped as well */
    buf_reset(&b);
    xmlw_init(&w, &b);
    xmlw_open_ns(&w, "R", "a\"b&c");
    xmlw_close(&w);
    assert_int_equal(xmlw_finish(&w), 0);
    assert_string_equal(b.data, "<R xmlns=\"a&quot;b&amp;c\"></R>");
    buf_release(&b);
}

static void test_writer_errors(void **state)
{
    (void)state;
    struct buf b;
    struct xml_writer w;

    /* buf full: sticky, nothing written after */
    buf_init(&b, 20);
    xmlw_init(&w, &b);
    xmlw_open(&w, "Root");
    xmlw_elem(&w, "Key", "0123456789");
    size_t len_at_error = b.len;
    xmlw_elem(&w, "K", "x");
    xmlw_close(&w);
    assert_int_equal(b.len, len_at_error);
    assert_int_equal(xmlw_finish(&w), -ENOSPC);
    assert_int_equal(xmlw_finish(&w), -ENOSPC);
    buf_release(&b);

    buf_init(&b, 1 << 16);
    /* depth cap */
    xmlw_init(&w, &b);
    for (int i = 0; i < XMLW_MAX_DEPTH; i++)
        xmlw_open(&w, "D");
    assert_int_equal(w.err, 0);
    xmlw_open(&w, "D");
    assert_int_equal(xmlw_finish(&w), XML_ETOOLARGE);

    /* close with nothing open */
    buf_reset(&b);
    xmlw_init(&w, &b);
    xmlw_elem(&w, "A", "1");
    xmlw_close(&w);
    assert_int_equal(xmlw_finish(&w), XML_EINVAL);

    /* still open at finish */
    xmlw_init(&w, &b);
    xmlw_open(&w, "A");
    assert_int_equal(xmlw_finish(&w), XML_EINVAL);

    /* NULL text */
    xmlw_init(&w, &b);
    xmlw_elem(&w, "A", NULL);
    assert_int_equal(xmlw_finish(&w), XML_EINVAL);

    /* names */
    char longname[XMLW_MAX_NAME + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    const char *bad[] = { "", "1a", "a b", "a<", "a:b:c", ":a", "a:", "-a", "a\"", "\xc3\xa9",
                          longname, NULL };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xmlw_init(&w, &b);
        xmlw_elem(&w, bad[i], "x");
        assert_int_equal(xmlw_finish(&w), XML_EINVAL);
        xmlw_init(&w, &b);
        xmlw_open(&w, bad[i]);
        assert_int_equal(xmlw_finish(&w), XML_EINVAL);
    }
    longname[XMLW_MAX_NAME] = 0; /* exactly the maximum */
    const char *good[] = { "a", "_x.y-z9", "s3:Key", longname };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        buf_reset(&b);
        xmlw_init(&w, &b);
        xmlw_open(&w, good[i]);
        xmlw_close(&w);
        assert_int_equal(xmlw_finish(&w), 0);
    }
    /* the open stack copied the name: the caller's string may change */
    char name[8] = "Outer";
    buf_reset(&b);
    xmlw_init(&w, &b);
    xmlw_open(&w, name);
    strcpy(name, "Junk");
    xmlw_close(&w);
    assert_int_equal(xmlw_finish(&w), 0);
    assert_string_equal(b.data, "<Outer></Outer>");
    buf_release(&b);

    assert_string_not_equal(xml_strerror(XML_EMALFORMED), "");
    assert_string_not_equal(xml_strerror(XML_ETOOLARGE), "");
    assert_string_not_equal(xml_strerror(XML_EINVAL), "");
    assert_string_equal(xml_strerror(0), "");
}

/* ---- parser ---- */

static struct xml_doc *parse_ok(const char *s)
{
    struct xml_doc *doc = NULL;
    int rc = xml_parse(s, strlen(s), &doc);
    if (rc)
        fprintf(stderr, "parse failed (%s): %s\n", xml_strerror(rc), s);
    assert_int_equal(rc, 0);
    assert_non_null(doc);
    return doc;
}

static void test_parse_delete(void **state)
{
    (void)state;
    const char *body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<Delete xmlns=\"" S3NS "\">\n"
                       "  <Quiet>true</Quiet>\n"
                       "  <Object><Key>a&amp;b</Key><VersionId>v</VersionId></Object>\n"
                       "  <Object><Key> spaced &lt;key&gt; \xc3\xa9 </Key></Object>\n"
                       "  <Object><Key><![CDATA[x<y&z]]></Key></Object>\n"
                       "  <!-- a comment --><?pi ignored?>\n"
                       "  <Object><Key>line&#xD;&#10;break&#9;</Key></Object>\n"
                       "</Delete>\n";
    struct xml_doc *doc = parse_ok(body);
    const struct xml_node *root = xml_root(doc);
    assert_string_equal(root->name, "Delete");
    assert_null(root->parent);
    assert_string_equal(xml_child_text(root, "Quiet", "false"), "true");
    const char *want_keys[] = { "a&b", " spaced <key> \xc3\xa9 ", "x<y&z", "line\r\nbreak\t" };
    size_t count = 0;
    for (const struct xml_node *o = xml_child(root, "Object"); o; o = xml_next_named(o, "Object")) {
        assert_true(count < 4);
        assert_ptr_equal(o->parent, root);
        const struct xml_node *k = xml_child(o, "Key");
        assert_non_null(k);
        assert_string_equal(xml_text(k), want_keys[count]);
        assert_int_equal(k->text_len, strlen(want_keys[count]));
        if (count == 0)
            assert_string_equal(xml_child_text(o, "VersionId", NULL), "v");
        else
            assert_null(xml_child_text(o, "VersionId", NULL));
        count++;
    }
    assert_int_equal(count, 4);
    /* container text is the whitespace between children, kept as sent */
    assert_true(strspn(xml_text(root), " \n") == strlen(xml_text(root)));
    /* NULL-tolerant chaining and any-name iteration */
    assert_null(xml_child(NULL, "X"));
    assert_null(xml_child(root, "Missing"));
    assert_string_equal(xml_text(NULL), "");
    assert_string_equal(xml_child_text(xml_child(root, "Missing"), "Key", "dflt"), "dflt");
    assert_string_equal(xml_child(root, NULL)->name, "Quiet");
    size_t any = 0;
    for (const struct xml_node *n = xml_child(root, NULL); n; n = xml_next_named(n, NULL))
        any++;
    assert_int_equal(any, 5);
    xml_doc_free(doc);
    xml_doc_free(NULL);
}

static void check_complete(const char *body)
{
    struct xml_doc *doc = parse_ok(body);
    const struct xml_node *root = xml_root(doc);
    assert_string_equal(root->name, "CompleteMultipartUpload");
    const struct xml_node *p = xml_child(root, "Part");
    assert_non_null(p);
    assert_string_equal(xml_child_text(p, "PartNumber", ""), "1");
    assert_string_equal(xml_child_text(p, "ETag", ""), "\"abc\"");
    p = xml_next_named(p, "Part");
    assert_non_null(p);
    assert_string_equal(xml_child_text(p, "PartNumber", ""), "2");
    assert_string_equal(xml_child_text(p, "ETag", ""), "\"def\"");
    assert_string_equal(xml_child_text(p, "ChecksumCRC32", ""), "AAAAAA==");
    assert_null(xml_next_named(p, "Part"));
    xml_doc_free(doc);
}

static void test_parse_complete_multipart(void **state)
{
    (void)state;
    /* with the S3 namespace, without, and with a prefix */
    check_complete("<CompleteMultipartUpload xmlns=\"" S3NS "\">"
                   "<Part><PartNumber>1</PartNumber><ETag>\"abc\"</ETag></Part>"
                   "<Part><PartNumber>2</PartNumber><ETag>&quot;def&quot;</ETag>"
                   "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
                   "</CompleteMultipartUpload>");
    check_complete("<CompleteMultipartUpload>"
                   "<Part><PartNumber>1</PartNumber><ETag>\"abc\"</ETag></Part>"
                   "<Part><ETag>\"def\"</ETag><PartNumber>2</PartNumber>"
                   "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
                   "</CompleteMultipartUpload>");
    check_complete("<s3:CompleteMultipartUpload xmlns:s3=\"" S3NS "\">"
                   "<s3:Part><s3:PartNumber>1</s3:PartNumber><s3:ETag>\"abc\"</s3:ETag></s3:Part>"
                   "<s3:Part><s3:PartNumber>2</s3:PartNumber><s3:ETag>\"def\"</s3:ETag>"
                   "<s3:ChecksumCRC32>AAAAAA==</s3:ChecksumCRC32></s3:Part>"
                   "</s3:CompleteMultipartUpload>");
}

static void test_parse_create_bucket(void **state)
{
    (void)state;
    struct xml_doc *doc =
        parse_ok("<CreateBucketConfiguration xmlns=\"" S3NS "\">\r\n"
                 "   <LocationConstraint>eu-west-1</LocationConstraint>\r\n"
                 "</CreateBucketConfiguration>");
    assert_string_equal(xml_root(doc)->name, "CreateBucketConfiguration");
    assert_string_equal(xml_child_text(xml_root(doc), "LocationConstraint", ""), "eu-west-1");
    xml_doc_free(doc);
    /* an empty configuration element */
    doc = parse_ok("<CreateBucketConfiguration/>");
    assert_null(xml_root(doc)->children);
    assert_string_equal(xml_text(xml_root(doc)), "");
    assert_string_equal(xml_child_text(xml_root(doc), "LocationConstraint", "us-east-1"),
                        "us-east-1");
    xml_doc_free(doc);
    /* a declaration of another encoding does not change how bytes read */
    doc = parse_ok("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><A>\xc3\xa9</A>");
    assert_string_equal(xml_text(xml_root(doc)), "\xc3\xa9");
    xml_doc_free(doc);
}

static void parse_fails(const char *s, size_t len, int want)
{
    struct xml_doc *doc = (struct xml_doc *)&doc; /* must stay untouched */
    struct xml_doc *before = doc;
    int rc = xml_parse(s, len, &doc);
    if (rc != want)
        fprintf(stderr, "want %d got %d for: %.*s\n", want, rc, (int)(len > 200 ? 200 : len), s);
    assert_int_equal(rc, want);
    assert_ptr_equal(doc, before);
}

#define FAILS(lit, want) parse_fails(lit, sizeof lit - 1, want)

static void test_parse_malformed(void **state)
{
    (void)state;
    FAILS("", XML_EMALFORMED);
    FAILS("   \n", XML_EMALFORMED);
    FAILS("just text", XML_EMALFORMED);
    FAILS("<?xml version=\"1.0\"?>", XML_EMALFORMED);
    FAILS("<A><B></A></B>", XML_EMALFORMED);
    FAILS("<A></B>", XML_EMALFORMED);
    FAILS("<A/><B/>", XML_EMALFORMED);
    FAILS("<A></A>trailing", XML_EMALFORMED);
    FAILS("<A>&undefined;</A>", XML_EMALFORMED);
    FAILS("<A>&#0;</A>", XML_EMALFORMED);
    FAILS("<A>&#x1;</A>", XML_EMALFORMED); /* what XML 1.0 cannot carry */
    FAILS("<A>\x01</A>", XML_EMALFORMED);
    FAILS("<A>a\0b</A>", XML_EMALFORMED);
    FAILS("<A>\xc3\x28</A>", XML_EMALFORMED);
    FAILS("<A>\xed\xa0\x80</A>", XML_EMALFORMED);
    FAILS("<A>\xff</A>", XML_EMALFORMED);
    FAILS("<\xc3\xa9\xff/>", XML_EMALFORMED);
    FAILS("<p:A/>", XML_EMALFORMED); /* unbound prefix */
    FAILS("<A b=\"1\" b=\"2\"/>", XML_EMALFORMED);
    /* DOCTYPE in every form, including the classic entity expansion bomb */
    FAILS("<!DOCTYPE A><A/>", XML_EMALFORMED);
    FAILS("<!DOCTYPE A SYSTEM \"file:///etc/passwd\"><A/>", XML_EMALFORMED);
    FAILS("<!DOCTYPE A [<!ENTITY e \"x\">]><A>&e;</A>", XML_EMALFORMED);
    FAILS("<!DOCTYPE A [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><A>&x;</A>", XML_EMALFORMED);
    FAILS("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
          " <!ENTITY lol \"lol\">\n"
          " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
          " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
          " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
          "]>\n<lolz>&lol3;</lolz>",
          XML_EMALFORMED);
    FAILS("<!DOCTYPE A [<!ENTITY % p \"x\"> %p;]><A/>", XML_EMALFORMED);

    /* every truncation of a valid body fails */
    const char *good = "<?xml version=\"1.0\"?><Delete xmlns=\"" S3NS "\"><Object><Key>a&amp;b"
                       "</Key></Object></Delete>";
    size_t glen = strlen(good);
    for (size_t n = 0; n < glen - 1; n++) {
        struct xml_doc *doc = NULL;
        int rc = xml_parse(good, n, &doc);
        assert_int_equal(rc, XML_EMALFORMED);
        assert_null(doc);
    }
    struct xml_doc *doc = NULL;
    assert_int_equal(xml_parse(good, glen, &doc), 0);
    xml_doc_free(doc);
}

static char *repeat(const char *open, const char *close, size_t n, const char *mid)
{
    size_t len = n * (strlen(open) + strlen(close)) + strlen(mid) + 1;
    char *s = malloc(len), *p = s;
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        p = stpcpy(p, open);
    p = stpcpy(p, mid);
    for (size_t i = 0; i < n; i++)
        p = stpcpy(p, close);
    return s;
}

static void test_parse_caps(void **state)
{
    (void)state;
    struct xml_doc *doc = NULL;

    /* depth: XML_MAX_DEPTH levels parse, one more does not */
    char *s = repeat("<a>", "</a>", XML_MAX_DEPTH, "deep");
    assert_int_equal(xml_parse(s, strlen(s), &doc), 0);
    const struct xml_node *n = xml_root(doc);
    int depth = 1;
    while (n->children) {
        n = n->children;
        depth++;
    }
    assert_int_equal(depth, XML_MAX_DEPTH);
    assert_string_equal(xml_text(n), "deep");
    xml_doc_free(doc);
    free(s);
    s = repeat("<a>", "</a>", XML_MAX_DEPTH + 1, "");
    parse_fails(s, strlen(s), XML_ETOOLARGE);
    free(s);
    /* a depth bomb, unterminated and huge */
    s = repeat("<a>", "", 100000, "");
    parse_fails(s, strlen(s), XML_ETOOLARGE);
    free(s);

    /* element count: XML_MAX_NODES in all parse, one more does not */
    s = repeat("<b/>", "", XML_MAX_NODES - 1, "");
    size_t len = strlen(s);
    char *body = malloc(len + 16);
    assert_non_null(body);
    sprintf(body, "<r>%s</r>", s);
    assert_int_equal(xml_parse(body, strlen(body), &doc), 0);
    xml_doc_free(doc);
    sprintf(body, "<r>%s<b/></r>", s);
    parse_fails(body, strlen(body), XML_ETOOLARGE);
    free(body);
    free(s);

    /* size cap */
    char tiny[] = "<a/>";
    parse_fails(tiny, (size_t)XML_MAX_INPUT + 1, XML_ETOOLARGE); /* refused before reading */
}

static void test_parse_large_bodies(void **state)
{
    (void)state;
    struct buf b;
    struct xml_writer w;
    char key[64];

    /* 1000-object Delete (the S3 maximum), written by our own writer */
    buf_init(&b, 1 << 20);
    xmlw_init(&w, &b);
    xmlw_decl(&w);
    xmlw_open_ns(&w, "Delete", S3NS);
    xmlw_elem(&w, "Quiet", "false");
    for (int i = 0; i < 1000; i++) {
        xmlw_open(&w, "Object");
        snprintf(key, sizeof key, "dir/<%d>&'\"\r\n\t\xc3\xa9", i);
        xmlw_elem(&w, "Key", key);
        xmlw_close(&w);
    }
    xmlw_close(&w);
    assert_int_equal(xmlw_finish(&w), 0);
    struct xml_doc *doc = NULL;
    assert_int_equal(xml_parse(b.data, b.len, &doc), 0);
    int count = 0;
    for (const struct xml_node *o = xml_child(xml_root(doc), "Object"); o;
         o = xml_next_named(o, "Object")) {
        snprintf(key, sizeof key, "dir/<%d>&'\"\r\n\t\xc3\xa9", count);
        assert_string_equal(xml_child_text(o, "Key", ""), key); /* round trip, CR kept */
        count++;
    }
    assert_int_equal(count, 1000);
    xml_doc_free(doc);

    /* 10000-part CompleteMultipartUpload (the S3 maximum) with checksums */
    buf_reset(&b);
    b.max = 4 << 20;
    xmlw_init(&w, &b);
    xmlw_open(&w, "CompleteMultipartUpload");
    for (int i = 1; i <= 10000; i++) {
        xmlw_open(&w, "Part");
        xmlw_elemf(&w, "PartNumber", "%d", i);
        xmlw_elemf(&w, "ETag", "\"%032x\"", i);
        xmlw_elem(&w, "ChecksumCRC32C", "AAAAAA==");
        xmlw_close(&w);
    }
    xmlw_close(&w);
    assert_int_equal(xmlw_finish(&w), 0);
    assert_int_equal(xml_parse(b.data, b.len, &doc), 0);
    count = 0;
    for (const struct xml_node *p = xml_child(xml_root(doc), "Part"); p;
         p = xml_next_named(p, "Part")) {
        count++;
        assert_int_equal(atoi(xml_child_text(p, "PartNumber", "0")), count);
    }
    assert_int_equal(count, 10000);
    xml_doc_free(doc);
    buf_release(&b);
}

/* Random damage to valid bodies: any result is fine, a crash or a leak is
 * not (run under ASan in CI). */
static void test_parse_mutations(void **state)
{
    (void)state;
    const char *seeds[] = {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete xmlns=\"" S3NS "\"><Quiet>true"
        "</Quiet><Object><Key>a&amp;b</Key><VersionId>v</VersionId></Object></Delete>",
        "<s3:CompleteMultipartUpload xmlns:s3=\"" S3NS "\"><s3:Part><s3:PartNumber>1"
        "</s3:PartNumber><s3:ETag>&quot;abc&quot;</s3:ETag></s3:Part></s3:CompleteMultipartUpload>",
        "<A><![CDATA[x]]><!-- c --><B>&#xe9;&#233;\xc3\xa9</B></A>",
    };
    uint64_t rng = 12345;
    char buf[512];
    int ok = 0, bad = 0;
    for (int iter = 0; iter < 6000; iter++) {
        const char *seed = seeds[iter % 3];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        int edits = 1 + (int)(rng % 4);
        for (int e = 0; e < edits; e++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(rng >> 33) % len;
            unsigned char v = (unsigned char)(rng >> 20);
            switch ((rng >> 10) % 3) {
            case 0:
                buf[pos] = (char)v;
                break;
            case 1: /* delete a byte */
                memmove(buf + pos, buf + pos + 1, len - pos - 1);
                len--;
                break;
            default: /* duplicate a byte */
                if (len + 1 < sizeof buf) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    len++;
                }
            }
        }
        struct xml_doc *doc = NULL;
        int rc = xml_parse(buf, len, &doc);
        if (rc == 0) {
            assert_non_null(xml_root(doc));
            /* walk the whole tree */
            const struct xml_node *n = xml_root(doc);
            while (n) {
                assert_non_null(n->name);
                assert_int_equal(strlen(n->text), n->text_len);
                if (n->children) {
                    n = n->children;
                    continue;
                }
                while (n && !n->next)
                    n = n->parent;
                if (n)
                    n = n->next;
            }
            xml_doc_free(doc);
            ok++;
        } else {
            assert_true(rc == XML_EMALFORMED || rc == XML_ETOOLARGE);
            assert_null(doc);
            bad++;
        }
    }
    assert_true(ok > 0 && bad > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_nesting),
        cmocka_unit_test(test_writer_escaping),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_parse_delete),
        cmocka_unit_test(test_parse_complete_multipart),
        cmocka_unit_test(test_parse_create_bucket),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_caps),
        cmocka_unit_test(test_parse_large_bodies),
        cmocka_unit_test(test_parse_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
