/*
 * gateway/s3_tagging.c - object and bucket tags: PutObjectTagging,
 * GetObjectTagging, DeleteObjectTagging, PutBucketTagging,
 * GetBucketTagging, DeleteBucketTagging, the x-amz-tagging header of
 * PutObject / CreateMultipartUpload / CopyObject, and the parser and
 * validator they share.  The stored form and the limits are described in
 * s3_internal.h (S3_ATTR_TAGS).
 *
 * A tag set from any source (XML body, header) is first gathered as a list
 * of borrowed key/value pointers, then checked in S3's order (count, then
 * per tag: duplicate key, "aws:" prefix, key, value) and written in the
 * compact form, which is what a struct s3_tagset owns and points into.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/uri.h"
#include "common/xml.h"
#include "gateway/s3_internal.h"

/* Tries of a read-modify-write of one version's attrs before giving up
 * with ConditionalRequestConflict: each lost race means another writer
 * changed the attrs in between, which a handful of retries outlasts. */

static const char msg_header[] = "The header 'x-amz-tagging' shall be encoded as UTF-8 then "
                                 "URLEncoded URL query parameters without tag name duplicates.";

/* ---- characters ------------------------------------------------------- */

/* The code point at s[*i] (n bytes in all), advancing *i; -1 if the bytes
 * there are not well-formed UTF-8 (overlong forms, surrogates and values
 * past U+10FFFF included). */
static long utf8_next(const char *s, size_t n, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = n - *i, len;
    unsigned long cp;
    if (p[0] < 0x80) {
        len = 1;
        cp = p[0];
    } else if ((p[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return -1;
    }
    if (len > left)
        return -1;
    for (size_t j = 1; j < len; j++) {
        if ((p[j] & 0xC0) != 0x80)
            return -1;
        cp = cp << 6 | (p[j] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *i += len;
    return (long)cp;
}

static int utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;)
        if (utf8_next(s, n, &i) < 0)
            return 0;
    return 1;
}

int s3_tag_char_is_letter_number_space(uint32_t cp)
{
    size_t lo = 0, hi = s3_tag_char_nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < s3_tag_char_ranges[mid][0])
            hi = mid;
        else if (cp > s3_tag_char_ranges[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

/* A key or value S3 accepts: min..max characters, each a letter, number or
 * separator of any script or one of "+-=._:/@". */
static int tag_text_ok(const char *s, size_t n, size_t min, size_t max)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; chars++) {
        long cp = utf8_next(s, n, &i);
        if (cp < 0 || chars >= max)
            return 0;
        if (!(cp < 0x80 && cp && strchr("+-=._:/@", (int)cp)) &&
            !s3_tag_char_is_letter_number_space((uint32_t)cp))
            return 0;
    }
    return chars >= min;
}

/* Copy n bytes of s into out (cap bytes) for an error body, cut at a
 * character boundary so that the copy stays UTF-8. */
static void copy_detail(char *out, size_t cap, const char *s, size_t n)
{
    size_t i = 0, end = 0;
    while (i < n && utf8_next(s, n, &i) >= 0 && i < cap)
        end = i;
    memcpy(out, s, end);
    out[end] = 0;
}

/* ---- the compact form ------------------------------------------------- */

static int compact_add(struct buf *b, const char *key, size_t key_len, const char *value,
                       size_t value_len)
{
    int rc = buf_printf(b, "%zu:", key_len);
    if (rc == 0)
        rc = buf_append(b, key, key_len);
    if (rc == 0)
        rc = buf_printf(b, "%zu:", value_len);
    if (rc == 0)
        rc = buf_append(b, value, value_len);
    return rc;
}

/* One "<len>:<bytes>" field at s[*pos]; -1 if malformed. */
static int compact_field(const char *s, size_t len, size_t *pos, const char **out, size_t *out_len)
{
    size_t i = *pos, n = 0;
    if (i >= len || s[i] < '0' || s[i] > '9')
        return -1;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        n = n * 10 + (size_t)(s[i++] - '0');
        if (n > len)
            return -1;
    }
    if (i >= len || s[i] != ':' || n > len - i - 1)
        return -1;
    *out = s + i + 1;
    *out_len = n;
    *pos = i + 1 + n;
    return 0;
}

/* The tag at s[*pos]: 1 (and *pos advanced), 0 at the end, -1 malformed. */
static int compact_next(const char *s, size_t len, size_t *pos, struct s3_tag *t)
{
    if (*pos >= len)
        return 0;
    size_t p = *pos;
    struct s3_tag tmp;
    if (compact_field(s, len, &p, &tmp.key, &tmp.key_len) != 0 ||
        compact_field(s, len, &p, &tmp.value, &tmp.value_len) != 0)
        return -1;
    *t = tmp;
    *pos = p;
    return 1;
}

int s3_tagset_decode(const char *s, size_t len, struct s3_tagset *t)
{
    memset(t, 0, sizeof *t);
    buf_init(&t->store, len + 1);
    int rc = len ? buf_append(&t->store, s, len) : 0;
    for (size_t pos = 0; rc == 0;) {
        struct s3_tag tag;
        int more = compact_next(t->store.data, len, &pos, &tag);
        if (more == 0)
            break;
        if (more < 0 || t->n == S3_TAGS_MAX_BUCKET)
            rc = -EINVAL;
        else
            t->tags[t->n++] = tag;
    }
    if (rc)
        s3_tagset_release(t);
    return rc;
}

void s3_tagset_release(struct s3_tagset *t)
{
    buf_release(&t->store);
    t->n = 0;
}

static const char *attrs_tags(const uint8_t *attrs, uint32_t len)
{
    return s3_attrs_get(attrs, len, S3_ATTR_TAGS);
}

int s3_object_tags_next(const uint8_t *attrs, uint32_t len, size_t *pos, struct s3_tag *tag)
{
    const char *s = attrs_tags(attrs, len);
    return s && compact_next(s, strlen(s), pos, tag) == 1;
}

size_t s3_object_tags_count(const uint8_t *attrs, uint32_t len)
{
    struct s3_tag t;
    size_t n = 0;
    for (size_t pos = 0; s3_object_tags_next(attrs, len, &pos, &t);)
        n++;
    return n;
}

/* ---- validation --------------------------------------------------------- */

static int tag_fail(struct s3_tag_error *e, enum s3_err err, const char *msg,
                    const struct s3_tag *key_of, int with_value)
{
    e->err = err;
    e->msg = msg;
    e->tag_key[0] = e->tag_value[0] = 0;
    if (key_of)
        copy_detail(e->tag_key, sizeof e->tag_key, key_of->key, key_of->key_len);
    if (key_of && with_value)
        copy_detail(e->tag_value, sizeof e->tag_value, key_of->value, key_of->value_len);
    return -1;
}

/* Check n tags (borrowed) for kind and write them into t (set up here). */
static int tagset_build(const struct s3_tag *in, size_t n, enum s3_tag_kind kind,
                        struct s3_tagset *t, struct s3_tag_error *e)
{
    int object = kind == S3_TAGS_OBJECT;
    if (n > (object ? S3_TAGS_MAX_OBJECT : S3_TAGS_MAX_BUCKET))
        return tag_fail(e, S3E_BAD_REQUEST,
                        object ? "Object tags cannot be greater than 10"
                               : "Bucket tag count cannot be greater than 50",
                        NULL, 0);
    for (size_t i = 0; i < n; i++) {
        const struct s3_tag *g = &in[i];
        for (size_t j = 0; j < i; j++)
            if (in[j].key_len == g->key_len && memcmp(in[j].key, g->key, g->key_len) == 0)
                return tag_fail(e, S3E_INVALID_TAG, "Cannot provide multiple Tags with the same key",
                                g, 0);
        if (g->key_len >= 4 && strncasecmp(g->key, "aws:", 4) == 0)
            return tag_fail(e, S3E_INVALID_TAG,
                            object ? "Your TagKey cannot be prefixed with aws:"
                                   : "System tags cannot be added/updated by requester",
                            g, 0);
        if (!tag_text_ok(g->key, g->key_len, 1, S3_TAG_KEY_MAX))
            return tag_fail(e, S3E_INVALID_TAG, "The TagKey you have provided is invalid", g, 0);
        if (!tag_text_ok(g->value, g->value_len, 0, S3_TAG_VALUE_MAX))
            return tag_fail(e, S3E_INVALID_TAG, "The TagValue you have provided is invalid", g, 1);
    }
    struct buf enc;
    buf_init(&enc, (size_t)S3_TAGS_MAX_BUCKET * (4 * (S3_TAG_KEY_MAX + S3_TAG_VALUE_MAX) + 16));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = compact_add(&enc, in[i].key, in[i].key_len, in[i].value, in[i].value_len);
    if (rc == 0)
        rc = s3_tagset_decode(enc.data ? enc.data : "", enc.len, t);
    buf_release(&enc);
    if (rc)
        return tag_fail(e, S3E_INTERNAL, NULL, NULL, 0);
    return 0;
}

int s3_tagset_from_doc(const struct xml_doc *doc, enum s3_tag_kind kind, struct s3_tagset *t,
                       struct s3_tag_error *e)
{
    struct s3_tag in[S3_TAGS_MAX_BUCKET + 1];
    size_t n = 0;
    const struct xml_node *set = NULL;
    if (strcmp(xml_root(doc)->name, "Tagging") == 0)
        set = xml_child(xml_root(doc), "TagSet");
    if (!set)
        return tag_fail(e, S3E_MALFORMED_XML, NULL, NULL, 0);
    for (const struct xml_node *g = xml_child(set, "Tag"); g; g = xml_next_named(g, "Tag")) {
        const struct xml_node *k = xml_child(g, "Key"), *v = xml_child(g, "Value");
        if (!k || !v)
            return tag_fail(e, S3E_MALFORMED_XML, NULL, NULL, 0);
        if (n < sizeof in / sizeof *in) /* past the cap only the count matters */
            in[n] = (struct s3_tag){k->text, v->text, k->text_len, v->text_len};
        n++;
    }
    return tagset_build(in, n, kind, t, e);
}

int s3_tagset_parse_xml(const char *body, size_t len, enum s3_tag_kind kind, struct s3_tagset *t,
                        struct s3_tag_error *e)
{
    struct xml_doc *doc = NULL;
    if (xml_parse(body, len, &doc) != 0)
        return tag_fail(e, S3E_MALFORMED_XML, NULL, NULL, 0);
    int rc = s3_tagset_from_doc(doc, kind, t, e);
    xml_doc_free(doc);
    return rc;
}

int s3_tagset_parse_header(const char *header, struct s3_tagset *t, struct s3_tag_error *e)
{
    struct uri_query q;
    struct s3_tag in[S3_TAGS_MAX_OBJECT + 1];
    size_t n = 0;
    if (uri_query_parse(header, strlen(header), &q) != 0)
        return tag_fail(e, S3E_INVALID_ARGUMENT, msg_header, NULL, 0);
    int rc = 0;
    for (size_t i = 0; i < q.count && rc == 0; i++) {
        const struct uri_query_pair *p = &q.pairs[i];
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = q.pairs[j].name_len == p->name_len && memcmp(q.pairs[j].name, p->name, p->name_len) == 0;
        if (!p->name_len || dup || strlen(p->name) != p->name_len ||
            strlen(p->value) != p->value_len || !utf8_valid(p->name, p->name_len) ||
            !utf8_valid(p->value, p->value_len))
            rc = tag_fail(e, S3E_INVALID_ARGUMENT, msg_header, NULL, 0);
        else if (n < sizeof in / sizeof *in)
            in[n] = (struct s3_tag){p->name, p->value, p->name_len, p->value_len};
        n++;
    }
    if (rc == 0)
        rc = tagset_build(in, n, S3_TAGS_OBJECT, t, e);
    uri_query_release(&q);
    return rc;
}

/* ---- replies ------------------------------------------------------------ */

static void reply_tag_error(struct s3_req *r, const struct s3_tag_error *e)
{
    if (e->err == S3E_INVALID_ARGUMENT) {
        s3_add_error_detail(r, "ArgumentName", "x-amz-tagging");
        const char *h = s3_header(r, "x-amz-tagging");
        if (h && utf8_valid(h, strlen(h)))
            s3_add_error_detail(r, "ArgumentValue", h);
    }
    if (e->tag_key[0] || e->err == S3E_INVALID_TAG)
        s3_add_error_detail(r, "TagKey", e->tag_key);
    if (e->tag_value[0])
        s3_add_error_detail(r, "TagValue", e->tag_value);
    s3_reply_error(r, e->err, e->msg);
}

static void reply_tagset(struct s3_req *r, const struct s3_tagset *t)
{
    struct s3_doc d;
    s3_doc_begin(&d, "Tagging", 256u << 10);
    xmlw_open(&d.w, "TagSet");
    for (size_t i = 0; i < t->n; i++) {
        xmlw_open(&d.w, "Tag");
        xmlw_elem_len(&d.w, "Key", t->tags[i].key, t->tags[i].key_len);
        xmlw_elem_len(&d.w, "Value", t->tags[i].value, t->tags[i].value_len);
        xmlw_close(&d.w);
    }
    xmlw_close(&d.w);
    xmlw_close(&d.w);
    s3_doc_reply(r, &d);
}

/* A tagging body (Content-MD5 checked when sent), parsed for kind;
 * replies and returns -1 when refused. */
static int body_tagset_or_reply(struct s3_req *r, enum s3_tag_kind kind, struct s3_tagset *t)
{
    struct s3_tag_error e;
    struct xml_doc *doc;
    if (r->body.len == 0) {
        s3_reply_error(r, S3E_MISSING_REQUEST_BODY, NULL);
        return -1;
    }
    if (!(doc = s3_xml_body_or_reply(r, "Tagging")))
        return -1;
    int rc = s3_tagset_from_doc(doc, kind, t, &e);
    xml_doc_free(doc);
    if (rc != 0)
        reply_tag_error(r, &e);
    return rc;
}

/* ---- headers of object writes ------------------------------------------ */

/* Add the tags of t (taken: released) to attrs. */
static int attrs_add_tags_or_reply(struct s3_req *r, struct s3_tagset *t, struct buf *attrs)
{
    int rc = t->n ? s3_attrs_add(attrs, S3_ATTR_TAGS, t->store.data) : 0;
    s3_tagset_release(t);
    if (rc) {
        s3_reply_error(r, S3E_METADATA_TOO_LARGE, NULL);
        return -1;
    }
    return 0;
}

int s3_tagging_header_or_reply(struct s3_req *r, struct buf *attrs)
{
    const char *h = s3_header(r, "x-amz-tagging");
    struct s3_tagset t;
    struct s3_tag_error e;
    if (!h)
        return 0;
    if (s3_tagset_parse_header(h, &t, &e) != 0) {
        reply_tag_error(r, &e);
        return -1;
    }
    return attrs_add_tags_or_reply(r, &t, attrs);
}

int s3_tagging_form_or_reply(struct s3_req *r, const char *xml, struct buf *attrs)
{
    struct s3_tagset t;
    struct s3_tag_error e;
    if (!xml)
        return 0;
    if (s3_tagset_parse_xml(xml, strlen(xml), S3_TAGS_OBJECT, &t, &e) != 0) {
        reply_tag_error(r, &e);
        return -1;
    }
    return attrs_add_tags_or_reply(r, &t, attrs);
}

int s3_copy_tags_or_reply(struct s3_req *r, const uint8_t *src_attrs, uint32_t src_len,
                          struct buf *attrs)
{
    const char *directive = s3_header(r, "x-amz-tagging-directive");
    int replace = directive && strcasecmp(directive, "REPLACE") == 0;
    if (directive && !replace && strcasecmp(directive, "COPY") != 0) {
        s3_add_error_detail(r, "ArgumentName", "x-amz-tagging-directive");
        s3_add_error_detail(r, "ArgumentValue", directive);
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Unknown tagging directive.");
        return -1;
    }
    struct buf out;
    buf_init(&out, attrs->max);
    int rc = attrs->len ? s3_attrs_copy((const uint8_t *)attrs->data, (uint32_t)attrs->len,
                                        S3_ATTR_TAGS, 0, &out)
                        : 0;
    const char *src_tags = attrs_tags(src_attrs, src_len);
    if (rc == 0 && !replace && src_tags)
        rc = s3_attrs_add(&out, S3_ATTR_TAGS, src_tags);
    if (rc) {
        buf_release(&out);
        s3_reply_error(r, S3E_METADATA_TOO_LARGE, NULL);
        return -1;
    }
    if (replace && s3_tagging_header_or_reply(r, &out) != 0) {
        buf_release(&out);
        return -1;
    }
    buf_release(attrs);
    *attrs = out;
    return 0;
}

/* ---- PutObjectTagging / GetObjectTagging / DeleteObjectTagging --------- */

/* The tags of a version replaced by arg's (a struct s3_tagset; NULL or
 * empty: none). */
static enum s3_err tags_edit(void *arg, const uint8_t *attrs, uint32_t len, struct buf *out)
{
    const struct s3_tagset *t = arg;
    int rc = s3_attrs_copy(attrs, len, S3_ATTR_TAGS, 0, out);
    if (rc == 0 && t && t->n)
        rc = s3_attrs_add(out, S3_ATTR_TAGS, t->store.data);
    return rc ? S3E_METADATA_TOO_LARGE : S3E_NONE;
}

static void put_object_tagging_end(struct s3_req *r)
{
    struct s3_tagset t;
    if (s3_bucket_access_or_reply(r, NULL) != 0 ||
        body_tagset_or_reply(r, S3_TAGS_OBJECT, &t) != 0)
        return;
    s3_object_attrs_update_or_reply(r, tags_edit, &t, 200);
    s3_tagset_release(&t);
}

static void delete_object_tagging_end(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    s3_object_attrs_update_or_reply(r, tags_edit, NULL, 204);
}

static void get_object_tagging_end(struct s3_req *r)
{
    struct meta_object o;
    struct s3_tagset t;
    if (s3_bucket_access_or_reply(r, NULL) != 0 || s3_object_or_reply(r, &o) != 0)
        return;
    const char *stored = attrs_tags(o.attrs, o.attrs_len);
    if (s3_tagset_decode(stored ? stored : "", stored ? strlen(stored) : 0, &t) != 0) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
    } else {
        s3_version_id_header(r, o.version_id);
        reply_tagset(r, &t);
        s3_tagset_release(&t);
    }
    meta_object_release(&o);
}

const struct s3_handler h_put_object_tagging = {"PutObjectTagging", NULL, NULL,
                                                put_object_tagging_end, NULL};
const struct s3_handler h_get_object_tagging = {"GetObjectTagging", NULL, NULL,
                                                get_object_tagging_end, NULL};
const struct s3_handler h_delete_object_tagging = {"DeleteObjectTagging", NULL, NULL,
                                                   delete_object_tagging_end, NULL};

/* ---- PutBucketTagging / GetBucketTagging / DeleteBucketTagging --------- */

static void put_bucket_tagging_end(struct s3_req *r)
{
    struct s3_tagset t;
    if (s3_bucket_access_or_reply(r, NULL) != 0 ||
        body_tagset_or_reply(r, S3_TAGS_BUCKET, &t) != 0)
        return;
    /* an empty tag set is stored as none (length 0 deletes) */
    int rc = meta_bucket_config_set(r->gw->meta, r->bucket, "tagging", t.store.data, t.store.len);
    s3_tagset_release(&t);
    if (rc)
        s3_reply_rc(r, rc);
    else
        s3_reply_empty(r, 204);
}

static void get_bucket_tagging_end(struct s3_req *r)
{
    void *data = NULL;
    size_t len = 0;
    struct s3_tagset t;
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    int rc = meta_bucket_config_get(r->gw->meta, r->bucket, "tagging", &data, &len);
    if (rc == META_ENOTFOUND)
        s3_reply_error(r, S3E_NO_SUCH_TAG_SET, NULL);
    else if (rc)
        s3_reply_rc(r, rc);
    else if (s3_tagset_decode(data, len, &t) != 0)
        s3_reply_error(r, S3E_INTERNAL, NULL);
    else {
        reply_tagset(r, &t);
        s3_tagset_release(&t);
    }
    free(data);
}

static void delete_bucket_tagging_end(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    int rc = meta_bucket_config_set(r->gw->meta, r->bucket, "tagging", NULL, 0);
    if (rc)
        s3_reply_rc(r, rc);
    else
        s3_reply_empty(r, 204);
}

const struct s3_handler h_put_bucket_tagging = {"PutBucketTagging", NULL, NULL,
                                                put_bucket_tagging_end, NULL};
const struct s3_handler h_get_bucket_tagging = {"GetBucketTagging", NULL, NULL,
                                                get_bucket_tagging_end, NULL};
const struct s3_handler h_delete_bucket_tagging = {"DeleteBucketTagging", NULL, NULL,
                                                   delete_bucket_tagging_end, NULL};
