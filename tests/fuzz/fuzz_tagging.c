/*
 * tests/fuzz/fuzz_tagging.c - the tag-set parser and validator of
 * gateway/s3_tagging.c, on what a client sends (a <Tagging> body, an
 * x-amz-tagging header) and what a damaged disk may hold (the stored
 * compact form).
 *
 * The whole input is used four ways:
 *   1. as a PutObjectTagging and a PutBucketTagging body
 *      (s3_tagset_parse_xml): the result is 0 or -1 with one of the errors
 *      documented for it; a set that is accepted obeys S3's rules, checked
 *      here by a model written from them (count, key 1..128 and value
 *      0..256 characters of well-formed UTF-8 without ASCII other than
 *      letters, digits, space and "+-=._:/@", unique keys, no "aws:"
 *      prefix), and its compact form decodes to the same tags;
 *   2. up to its first NUL as an x-amz-tagging header
 *      (s3_tagset_parse_header): the same, and the tags written back as a
 *      header (%-encoded) parse to the same set;
 *   3. as a compact form (s3_tagset_decode): 0 with at most 50 tags, each
 *      inside the input in order, or -EINVAL;
 *   4. up to its first NUL as the tags entry of an attrs blob:
 *      s3_object_tags_next walks the same tags as s3_tagset_decode when
 *      that accepts the form (and never past the value), and
 *      s3_object_tags_count agrees with the walk.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/uri.h"
#include "gateway/s3_internal.h"
#include "tests/fuzz/fuzz_check.h"

/* Characters of s[0..n) if it is well-formed UTF-8 (RFC 3629), else -1. */
static long utf8_chars(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    long chars = 0;
    for (size_t i = 0; i < n; chars++) {
        unsigned c = p[i];
        size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                                  : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!len || i + len > n)
            return -1;
        for (size_t j = 1; j < len; j++)
            if ((p[i + j] & 0xC0) != 0x80)
                return -1;
        if ((c == 0xE0 && p[i + 1] < 0xA0) || (c == 0xED && p[i + 1] >= 0xA0) ||
            (c == 0xF0 && p[i + 1] < 0x90) || (c == 0xF4 && p[i + 1] >= 0x90))
            return -1;
        i += len;
    }
    return chars;
}

static int ascii_allowed(unsigned char c)
{
    return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr(" +-=._:/@", c));
}

static void check_text(const char *s, size_t n, long min, long max)
{
    long chars = utf8_chars(s, n);
    FUZZ_CHECK(chars >= min && chars <= max);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(ascii_allowed((unsigned char)s[i]));
}

static int same_tag(const struct s3_tag *a, const struct s3_tag *b)
{
    return a->key_len == b->key_len && a->value_len == b->value_len &&
           memcmp(a->key, b->key, a->key_len) == 0 && memcmp(a->value, b->value, a->value_len) == 0;
}

/* An accepted set: S3's rules, and its compact form reads back. */
static void check_accepted(const struct s3_tagset *t, size_t max)
{
    FUZZ_CHECK(t->n <= max);
    for (size_t i = 0; i < t->n; i++) {
        const struct s3_tag *g = &t->tags[i];
        check_text(g->key, g->key_len, 1, S3_TAG_KEY_MAX);
        check_text(g->value, g->value_len, 0, S3_TAG_VALUE_MAX);
        FUZZ_CHECK(!(g->key_len >= 4 && strncasecmp(g->key, "aws:", 4) == 0));
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(!(t->tags[j].key_len == g->key_len && memcmp(t->tags[j].key, g->key, g->key_len) == 0));
    }
    FUZZ_CHECK(memchr(t->store.data ? t->store.data : "", 0, t->store.len) == NULL);
    struct s3_tagset u;
    FUZZ_CHECK(s3_tagset_decode(t->store.data, t->store.len, &u) == 0);
    FUZZ_CHECK(u.n == t->n);
    for (size_t i = 0; i < t->n; i++)
        FUZZ_CHECK(same_tag(&u.tags[i], &t->tags[i]));
    s3_tagset_release(&u);
}

static void check_xml(const char *data, size_t len, enum s3_tag_kind kind)
{
    struct s3_tagset t;
    struct s3_tag_error e;
    if (s3_tagset_parse_xml(data, len, kind, &t, &e) != 0) {
        FUZZ_CHECK(e.err == S3E_MALFORMED_XML || e.err == S3E_BAD_REQUEST || e.err == S3E_INVALID_TAG);
        return;
    }
    check_accepted(&t, kind == S3_TAGS_OBJECT ? S3_TAGS_MAX_OBJECT : S3_TAGS_MAX_BUCKET);
    s3_tagset_release(&t);
}

static void check_header(const char *h)
{
    struct s3_tagset t, u;
    struct s3_tag_error e;
    if (s3_tagset_parse_header(h, &t, &e) != 0) {
        FUZZ_CHECK(e.err == S3E_INVALID_ARGUMENT || e.err == S3E_BAD_REQUEST || e.err == S3E_INVALID_TAG);
        return;
    }
    check_accepted(&t, S3_TAGS_MAX_OBJECT);
    struct buf again;
    buf_init(&again, 1u << 20);
    for (size_t i = 0; i < t.n; i++) {
        FUZZ_CHECK(i == 0 || buf_puts(&again, "&") == 0);
        FUZZ_CHECK(uri_encode(&again, t.tags[i].key, t.tags[i].key_len, 0) == 0);
        FUZZ_CHECK(buf_puts(&again, "=") == 0);
        FUZZ_CHECK(uri_encode(&again, t.tags[i].value, t.tags[i].value_len, 0) == 0);
    }
    FUZZ_CHECK(s3_tagset_parse_header(again.data ? again.data : "", &u, &e) == 0);
    FUZZ_CHECK(u.n == t.n);
    for (size_t i = 0; i < t.n; i++)
        FUZZ_CHECK(same_tag(&u.tags[i], &t.tags[i]));
    s3_tagset_release(&u);
    buf_release(&again);
    s3_tagset_release(&t);
}

static void check_stored(const char *data, size_t len, const char *cstr)
{
    struct s3_tagset t;
    int rc = s3_tagset_decode(data, len, &t);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0) {
        FUZZ_CHECK(t.n <= S3_TAGS_MAX_BUCKET);
        const char *prev_end = t.store.data;
        for (size_t i = 0; i < t.n; i++) {
            const struct s3_tag *g = &t.tags[i];
            FUZZ_CHECK(g->key > prev_end && g->value > g->key + g->key_len);
            FUZZ_CHECK(g->value + g->value_len <= t.store.data + len);
            prev_end = g->value + g->value_len;
        }
        FUZZ_CHECK(t.n == 0 || prev_end == t.store.data + len);
        s3_tagset_release(&t);
    }
    /* the same bytes (to their first NUL) as an object's tags entry */
    struct buf attrs;
    buf_init(&attrs, 2 * len + 64);
    FUZZ_CHECK(s3_attrs_add(&attrs, "content-type", "x/y") == 0);
    FUZZ_CHECK(s3_attrs_add(&attrs, S3_ATTR_TAGS, cstr) == 0);
    size_t clen = strlen(cstr), walked = 0, pos = 0;
    const uint8_t *a = (const uint8_t *)attrs.data;
    const char *value = s3_attrs_get(a, (uint32_t)attrs.len, S3_ATTR_TAGS);
    int whole = s3_tagset_decode(cstr, clen, &t) == 0;
    struct s3_tag g;
    while (s3_object_tags_next(a, (uint32_t)attrs.len, &pos, &g)) {
        FUZZ_CHECK(g.key >= value && g.value + g.value_len <= value + clen);
        if (whole && walked < t.n)
            FUZZ_CHECK(g.key_len == t.tags[walked].key_len &&
                       memcmp(g.key, t.tags[walked].key, g.key_len) == 0 &&
                       g.value_len == t.tags[walked].value_len &&
                       memcmp(g.value, t.tags[walked].value, g.value_len) == 0);
        walked++;
    }
    FUZZ_CHECK(!whole || walked == t.n);
    FUZZ_CHECK(s3_object_tags_count(a, (uint32_t)attrs.len) == walked);
    if (whole)
        s3_tagset_release(&t);
    buf_release(&attrs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    char *cstr = malloc(size + 1);
    FUZZ_CHECK(cstr != NULL);
    memcpy(cstr, data, size);
    cstr[size] = 0;
    check_xml((const char *)data, size, S3_TAGS_OBJECT);
    check_xml((const char *)data, size, S3_TAGS_BUCKET);
    check_header(cstr);
    check_stored((const char *)data, size, cstr);
    free(cstr);
    return 0;
}
