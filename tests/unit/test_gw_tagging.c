/*
 * Unit tests for the tag-set parser and validator of gateway/s3_tagging.c:
 * <Tagging> bodies and x-amz-tagging headers (order, unicode, empty
 * values, '+' and %-escapes), S3's limits (count, key and value length in
 * characters, allowed characters, duplicate and "aws:" keys) with the
 * error each gives, the compact stored form (round trip and malformed
 * forms) and the walk over an object's attrs blob.
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

#include "gateway/s3_internal.h"

/* The n-fold repetition of s, in a static buffer. */
static const char *rep(const char *s, size_t n)
{
    static char out[8192];
    size_t l = strlen(s);
    assert_true(l * n < sizeof out);
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * l, s, l);
    out[l * n] = 0;
    return out;
}

/* A <Tagging> document of n key/value pairs (kv[2i], kv[2i+1]). */
static char *doc_of(const char *const *kv, size_t n)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    assert_int_equal(buf_puts(&b, "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>"), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_printf(&b, "<Tag><Key>%s</Key><Value>%s</Value></Tag>", kv[2 * i],
                                    kv[2 * i + 1]), 0);
    assert_int_equal(buf_puts(&b, "</TagSet></Tagging>"), 0);
    return buf_detach(&b, NULL);
}

static int parse_kv(const char *const *kv, size_t n, enum s3_tag_kind kind, struct s3_tagset *t,
                    struct s3_tag_error *e)
{
    char *doc = doc_of(kv, n);
    int rc = s3_tagset_parse_xml(doc, strlen(doc), kind, t, e);
    free(doc);
    return rc;
}

/* One tag key/value must be refused with err and msg. */
static void refused1(const char *key, const char *value, enum s3_tag_kind kind, enum s3_err err,
                     const char *msg)
{
    const char *kv[] = {key, value};
    struct s3_tagset t;
    struct s3_tag_error e;
    assert_int_equal(parse_kv(kv, 1, kind, &t, &e), -1);
    assert_int_equal(e.err, err);
    assert_string_equal(e.msg, msg);
}

static void tag_equal(const struct s3_tag *t, const char *key, const char *value)
{
    assert_int_equal(t->key_len, strlen(key));
    assert_memory_equal(t->key, key, t->key_len);
    assert_int_equal(t->value_len, strlen(value));
    assert_memory_equal(t->value, value, t->value_len);
}

static void test_xml_round_trip(void **state)
{
    (void)state;
    const char *kv[] = {"zeta", "last", "ünï cödé", "値 ключ", "empty", "", "a+b-c=d.e_f:g/h@i", "2 + 2"};
    struct s3_tagset t;
    struct s3_tag_error e;
    assert_int_equal(parse_kv(kv, 4, S3_TAGS_OBJECT, &t, &e), 0);
    assert_int_equal(t.n, 4);
    for (size_t i = 0; i < 4; i++)
        tag_equal(&t.tags[i], kv[2 * i], kv[2 * i + 1]);
    /* the compact form reads back the same */
    struct s3_tagset u;
    assert_int_equal(s3_tagset_decode(t.store.data, t.store.len, &u), 0);
    assert_int_equal(u.n, 4);
    for (size_t i = 0; i < 4; i++)
        tag_equal(&u.tags[i], kv[2 * i], kv[2 * i + 1]);
    assert_string_equal(t.store.data, "4:zeta4:last12:ünï cödé12:値 ключ5:empty0:17:a+b-c=d.e_f:g/h@i5:2 + 2");
    s3_tagset_release(&u);
    s3_tagset_release(&t);
    /* an empty set */
    assert_int_equal(parse_kv(NULL, 0, S3_TAGS_BUCKET, &t, &e), 0);
    assert_int_equal(t.n, 0);
    assert_int_equal(t.store.len, 0);
    s3_tagset_release(&t);
}

static void test_xml_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "not xml", "<Tagging><TagSet>", "<Tagging></Tagging>", "<Tags><TagSet/></Tags>",
        "<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",
        "<Tagging><TagSet><Tag><Value>a</Value></Tag></TagSet></Tagging>",
        "<Tagging><TagSet><Tag><Key>\xff</Key><Value/></Tag></TagSet></Tagging>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct s3_tagset t;
        struct s3_tag_error e;
        assert_int_equal(s3_tagset_parse_xml(bad[i], strlen(bad[i]), S3_TAGS_OBJECT, &t, &e), -1);
        assert_int_equal(e.err, S3E_MALFORMED_XML);
    }
    /* <Value/> is an empty value, not a missing one */
    const char *ok = "<Tagging><TagSet><Tag><Key>a</Key><Value/></Tag></TagSet></Tagging>";
    struct s3_tagset t;
    struct s3_tag_error e;
    assert_int_equal(s3_tagset_parse_xml(ok, strlen(ok), S3_TAGS_OBJECT, &t, &e), 0);
    assert_int_equal(t.n, 1);
    tag_equal(&t.tags[0], "a", "");
    s3_tagset_release(&t);
}

static void test_counts(void **state)
{
    (void)state;
    const char *kv[2 * 51];
    char names[51][8];
    for (int i = 0; i < 51; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        kv[2 * i] = names[i];
        kv[2 * i + 1] = "v";
    }
    struct s3_tagset t;
    struct s3_tag_error e;
    assert_int_equal(parse_kv(kv, 10, S3_TAGS_OBJECT, &t, &e), 0);
    assert_int_equal(t.n, 10);
    s3_tagset_release(&t);
    assert_int_equal(parse_kv(kv, 11, S3_TAGS_OBJECT, &t, &e), -1);
    assert_int_equal(e.err, S3E_BAD_REQUEST);
    assert_string_equal(e.msg, "Object tags cannot be greater than 10");
    assert_int_equal(parse_kv(kv, 50, S3_TAGS_BUCKET, &t, &e), 0);
    assert_int_equal(t.n, 50);
    s3_tagset_release(&t);
    assert_int_equal(parse_kv(kv, 51, S3_TAGS_BUCKET, &t, &e), -1);
    assert_int_equal(e.err, S3E_BAD_REQUEST);
    assert_string_equal(e.msg, "Bucket tag count cannot be greater than 50");
}

static void test_lengths_count_characters(void **state)
{
    (void)state;
    char key[8192], value[8192];
    struct s3_tagset t;
    struct s3_tag_error e;
    /* 128 four-byte letters (512 bytes) and 256 three-byte ones */
    snprintf(key, sizeof key, "%s", rep("\xf0\x9d\x92\x9c", 128));
    snprintf(value, sizeof value, "%s", rep("\xe6\x96\x87", 256));
    const char *kv[] = {key, value};
    assert_int_equal(parse_kv(kv, 1, S3_TAGS_OBJECT, &t, &e), 0);
    tag_equal(&t.tags[0], key, value);
    s3_tagset_release(&t);
    snprintf(key, sizeof key, "%s", rep("k", 128));
    snprintf(value, sizeof value, "%s", rep("v", 256));
    assert_int_equal(parse_kv(kv, 1, S3_TAGS_OBJECT, &t, &e), 0);
    s3_tagset_release(&t);
    /* one more character is too many */
    snprintf(key, sizeof key, "%s", rep("\xf0\x9d\x92\x9c", 129));
    refused1(key, "", S3_TAGS_OBJECT, S3E_INVALID_TAG, "The TagKey you have provided is invalid");
    snprintf(value, sizeof value, "%s", rep("\xe6\x96\x87", 257));
    refused1("k", value, S3_TAGS_OBJECT, S3E_INVALID_TAG, "The TagValue you have provided is invalid");
    refused1("", "v", S3_TAGS_BUCKET, S3E_INVALID_TAG, "The TagKey you have provided is invalid");
}

static void test_characters(void **state)
{
    (void)state;
    /* letters, numbers and separators of any script, and + - = . _ : / @ */
    static const char *const good[] = {
        "abc XYZ 019", "+-=._:/@", "Ελληνικά", "١٢٣", "日本語", "ひらがな", "Ⅻ½", "ß\xc2\xa0x",
        "a\xe2\x80\xa8" "b", /* U+2028, a separator (Zl) */
        "\xf0\x9d\x92\x9c",   /* MATHEMATICAL SCRIPT CAPITAL A, a letter */
    };
    static const char *const bad[] = {
        "a,b", "a;b", "a?b", "a!b", "a*b", "a#b", "a%b", "a(b)", "a\tb", "a\nb", "a&amp;b",
        "a&lt;b", "a'b", "a\"b", "a~b", "a|b", "\xf0\x9f\x98\x80" /* emoji */,
        "\xe2\x80\x8b" /* U+200B ZERO WIDTH SPACE: Cf, not Z */,
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        const char *kv[] = {good[i], good[i]};
        struct s3_tagset t;
        struct s3_tag_error e;
        assert_int_equal(parse_kv(kv, 1, S3_TAGS_OBJECT, &t, &e), 0);
        s3_tagset_release(&t);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        refused1(bad[i], "v", S3_TAGS_OBJECT, S3E_INVALID_TAG, "The TagKey you have provided is invalid");
        refused1("k", bad[i], S3_TAGS_OBJECT, S3E_INVALID_TAG,
                 "The TagValue you have provided is invalid");
    }
    assert_true(s3_tag_char_is_letter_number_space('a'));
    assert_true(s3_tag_char_is_letter_number_space(' '));
    assert_true(s3_tag_char_is_letter_number_space(0x3000)); /* IDEOGRAPHIC SPACE */
    assert_true(s3_tag_char_is_letter_number_space(0x10FFFF) == 0);
    assert_false(s3_tag_char_is_letter_number_space('-'));
    assert_false(s3_tag_char_is_letter_number_space(0));
}

static void test_keys_unique_and_not_aws(void **state)
{
    (void)state;
    const char *dup[] = {"a", "1", "b", "2", "a", "3"};
    struct s3_tagset t;
    struct s3_tag_error e;
    assert_int_equal(parse_kv(dup, 3, S3_TAGS_OBJECT, &t, &e), -1);
    assert_int_equal(e.err, S3E_INVALID_TAG);
    assert_string_equal(e.msg, "Cannot provide multiple Tags with the same key");
    assert_string_equal(e.tag_key, "a");
    refused1("aws:cost", "v", S3_TAGS_OBJECT, S3E_INVALID_TAG, "Your TagKey cannot be prefixed with aws:");
    refused1("AWS:cost", "v", S3_TAGS_OBJECT, S3E_INVALID_TAG, "Your TagKey cannot be prefixed with aws:");
    refused1("aws:x", "v", S3_TAGS_BUCKET, S3E_INVALID_TAG,
             "System tags cannot be added/updated by requester");
    /* "aws" without the colon, or later in the key, is an ordinary key */
    const char *ok[] = {"aws", "1", "awsx:1", "2", "my:aws:k", "3"};
    assert_int_equal(parse_kv(ok, 3, S3_TAGS_OBJECT, &t, &e), 0);
    s3_tagset_release(&t);
    /* the value of a refused tag comes back for the error body */
    const char *badv[] = {"key", "bad!"};
    assert_int_equal(parse_kv(badv, 1, S3_TAGS_OBJECT, &t, &e), -1);
    assert_string_equal(e.tag_key, "key");
    assert_string_equal(e.tag_value, "bad!");
}

static void test_header(void **state)
{
    (void)state;
    struct s3_tagset t;
    struct s3_tag_error e;
    assert_int_equal(s3_tagset_parse_header("a%20b=c%2Bd&e+f=g=h&k&&empty=&%C3%BC=%E6%96%87", &t, &e), 0);
    assert_int_equal(t.n, 5);
    tag_equal(&t.tags[0], "a b", "c+d");
    tag_equal(&t.tags[1], "e f", "g=h");
    tag_equal(&t.tags[2], "k", "");
    tag_equal(&t.tags[3], "empty", "");
    tag_equal(&t.tags[4], "ü", "文");
    s3_tagset_release(&t);
    assert_int_equal(s3_tagset_parse_header("", &t, &e), 0);
    assert_int_equal(t.n, 0);
    s3_tagset_release(&t);
    static const char *const bad_arg[] = {"a=1&a=2", "=1", "a=%FF", "%C3=1", "a=%zz", "a=%", "a=%00"};
    for (size_t i = 0; i < sizeof bad_arg / sizeof *bad_arg; i++) {
        assert_int_equal(s3_tagset_parse_header(bad_arg[i], &t, &e), -1);
        assert_int_equal(e.err, S3E_INVALID_ARGUMENT);
        assert_string_equal(e.msg, "The header 'x-amz-tagging' shall be encoded as UTF-8 then "
                                   "URLEncoded URL query parameters without tag name duplicates.");
    }
    assert_int_equal(s3_tagset_parse_header("a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11", &t, &e), -1);
    assert_int_equal(e.err, S3E_BAD_REQUEST);
    assert_int_equal(s3_tagset_parse_header("a%2Cb=1", &t, &e), -1);
    assert_int_equal(e.err, S3E_INVALID_TAG);
    assert_string_equal(e.tag_key, "a,b");
    assert_int_equal(s3_tagset_parse_header("aws%3Ax=1", &t, &e), -1);
    assert_int_equal(e.err, S3E_INVALID_TAG);
    assert_string_equal(e.msg, "Your TagKey cannot be prefixed with aws:");
}

static void test_compact_form(void **state)
{
    (void)state;
    static const char *const bad[] = {"3:ab", "x:", "1:a", "1:a1", "1:a1:", "1:a2:b", ":a0:",
                                      "99999999999999999999999:a0:", "1a0:", "-1:a0:"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct s3_tagset t;
        assert_int_equal(s3_tagset_decode(bad[i], strlen(bad[i]), &t), -EINVAL);
    }
    struct s3_tagset t;
    assert_int_equal(s3_tagset_decode("1:a0:3:b:c2:x:", 14, &t), 0);
    assert_int_equal(t.n, 2);
    tag_equal(&t.tags[0], "a", "");
    tag_equal(&t.tags[1], "b:c", "x:");
    s3_tagset_release(&t);
    /* more tags than any set may hold */
    struct buf b;
    buf_init(&b, 4096);
    for (int i = 0; i < S3_TAGS_MAX_BUCKET + 1; i++)
        assert_int_equal(buf_puts(&b, "1:k0:"), 0);
    assert_int_equal(s3_tagset_decode(b.data, b.len, &t), -EINVAL);
    buf_release(&b);
}

static void test_object_attrs_walk(void **state)
{
    (void)state;
    struct buf a;
    buf_init(&a, META_ATTRS_MAX);
    assert_int_equal(s3_attrs_add(&a, "content-type", "text/plain"), 0);
    assert_int_equal(s3_object_tags_count((uint8_t *)a.data, (uint32_t)a.len), 0);
    assert_int_equal(s3_attrs_add(&a, S3_ATTR_TAGS, "3:env4:prod4:note0:"), 0);
    assert_int_equal(s3_attrs_add(&a, "x-amz-meta-k", "v"), 0);
    struct s3_tag tag;
    size_t pos = 0;
    assert_int_equal(s3_object_tags_next((uint8_t *)a.data, (uint32_t)a.len, &pos, &tag), 1);
    tag_equal(&tag, "env", "prod");
    assert_int_equal(s3_object_tags_next((uint8_t *)a.data, (uint32_t)a.len, &pos, &tag), 1);
    tag_equal(&tag, "note", "");
    assert_int_equal(s3_object_tags_next((uint8_t *)a.data, (uint32_t)a.len, &pos, &tag), 0);
    assert_int_equal(s3_object_tags_count((uint8_t *)a.data, (uint32_t)a.len), 2);
    buf_release(&a);
    /* a malformed stored form ends the walk */
    buf_init(&a, META_ATTRS_MAX);
    assert_int_equal(s3_attrs_add(&a, S3_ATTR_TAGS, "1:a1:b9:c"), 0);
    pos = 0;
    assert_int_equal(s3_object_tags_next((uint8_t *)a.data, (uint32_t)a.len, &pos, &tag), 1);
    assert_int_equal(s3_object_tags_next((uint8_t *)a.data, (uint32_t)a.len, &pos, &tag), 0);
    buf_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_round_trip),
        cmocka_unit_test(test_xml_malformed),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_lengths_count_characters),
        cmocka_unit_test(test_characters),
        cmocka_unit_test(test_keys_unique_and_not_aws),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_compact_form),
        cmocka_unit_test(test_object_attrs_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
