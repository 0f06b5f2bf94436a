/*
 * Unit tests for lifecycle rules (gateway/lifecycle.c): the parser and
 * validator against S3's answers, the stored JSON form and the XML answer,
 * the due-time evaluation (S3's rounding to the next midnight UTC, dates,
 * filters, NewerNoncurrentVersions), and whole passes of the worker
 * (lifecycle_pass) over a real LMDB metadata store at chosen times:
 * expiration, noncurrent versions across listing pages, lone delete
 * markers, incomplete uploads.
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

#include "gateway/lifecycle.h"
#include "gateway/s3_internal.h"
#include "metadata/meta.h"

#define DAY LIFECYCLE_DAY_MS
/* 2014-01-15T10:30:00Z, the example of S3's documentation */
#define T_2014_01_15_1030 1389781800000LL
#define T_2014_01_19 1390089600000LL

static const char *const head = "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";

/* Parse head + rules + closing tag. */
static enum s3_err parse(const char *rules, struct lifecycle_config *c, char *msg)
{
    char *doc = malloc(strlen(head) + strlen(rules) + 64);
    sprintf(doc, "%s%s</LifecycleConfiguration>", head, rules);
    enum s3_err e = lifecycle_parse_xml(doc, strlen(doc), c, msg);
    free(doc);
    return e;
}

static void test_parse_valid_round_trip(void **state)
{
    (void)state;
    struct lifecycle_config c = {NULL, 0}, back = {NULL, 0};
    char msg[LIFECYCLE_MSG_MAX];
    const char *rules =
        "<Rule><ID>logs</ID><Status>Enabled</Status><Filter><Prefix>logs/</Prefix></Filter>"
        "<Expiration><Days>30</Days></Expiration></Rule>"
        "<Rule><ID>all</ID><Status>Disabled</Status><Filter/>"
        "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation>"
        "</AbortIncompleteMultipartUpload></Rule>"
        "<Rule><Status>Enabled</Status><Filter><And><Prefix>a/</Prefix>"
        "<Tag><Key>k1</Key><Value>v1</Value></Tag><Tag><Key>k2</Key><Value></Value></Tag>"
        "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>100</ObjectSizeLessThan>"
        "</And></Filter><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays>"
        "<NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>"
        "<Rule><ID>markers</ID><Status>Enabled</Status><Filter><ObjectSizeLessThan>5</ObjectSizeLessThan>"
        "</Filter><Expiration><Days>1</Days></Expiration></Rule>"
        "<Rule><ID>eodm</ID><Status>Enabled</Status><Filter><Prefix></Prefix></Filter>"
        "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>";
    assert_int_equal(parse(rules, &c, msg), S3E_NONE);
    assert_int_equal(c.n, 5);
    assert_string_equal(c.rules[0].id, "logs");
    assert_int_equal(c.rules[0].filter.form, LIFECYCLE_FORM_PREFIX);
    assert_int_equal(c.rules[0].expiration_days, 30);
    assert_int_equal(c.rules[1].enabled, 0);
    assert_int_equal(c.rules[1].filter.form, LIFECYCLE_FORM_EMPTY);
    assert_true(c.rules[1].expiration_date_ms == 1893456000000LL);
    assert_int_equal(c.rules[1].abort_days, 7);
    assert_int_equal(strlen(c.rules[2].id), 32); /* generated */
    assert_int_equal(c.rules[2].filter.form, LIFECYCLE_FORM_AND);
    assert_int_equal(c.rules[2].filter.ntags, 2);
    assert_string_equal(c.rules[2].filter.tags[1].value, "");
    assert_int_equal(c.rules[2].filter.size_gt, 10);
    assert_int_equal(c.rules[2].filter.size_lt, 100);
    assert_int_equal(c.rules[2].noncurrent_days, 3);
    assert_int_equal(c.rules[2].newer_noncurrent, 2);
    assert_int_equal(c.rules[3].filter.form, LIFECYCLE_FORM_SIZE_LT);
    assert_int_equal(c.rules[4].expired_marker, 1);
    assert_string_equal(c.rules[4].filter.prefix, "");

    char *json = lifecycle_to_json(&c);
    assert_non_null(json);
    assert_int_equal(lifecycle_from_json(json, strlen(json), &back), 0);
    char *json2 = lifecycle_to_json(&back);
    assert_string_equal(json, json2);

    /* the XML answer parses back to the same rules */
    struct buf b;
    struct xml_writer w;
    buf_init(&b, 1 << 20);
    xmlw_init(&w, &b);
    xmlw_open(&w, "LifecycleConfiguration");
    lifecycle_write_xml(&back, &w);
    xmlw_close(&w);
    assert_int_equal(xmlw_finish(&w), 0);
    assert_non_null(strstr(b.data, "<Date>2030-01-01T00:00:00.000Z</Date>"));
    struct lifecycle_config again = {NULL, 0};
    assert_int_equal(lifecycle_parse_xml(b.data, b.len, &again, msg), S3E_NONE);
    char *json3 = lifecycle_to_json(&again);
    assert_string_equal(json, json3);
    free(json);
    free(json2);
    free(json3);
    buf_release(&b);
    lifecycle_config_release(&c);
    lifecycle_config_release(&back);
    lifecycle_config_release(&again);
    /* stored text that is not a configuration */
    assert_int_equal(lifecycle_from_json("{\"v\":2,\"rules\":[]}", 19, &c), -EINVAL);
    assert_int_equal(lifecycle_from_json("nonsense", 8, &c), -EINVAL);
}

static void test_parse_legacy_prefix(void **state)
{
    (void)state;
    struct lifecycle_config c = {NULL, 0};
    char msg[LIFECYCLE_MSG_MAX];
    assert_int_equal(parse("<Rule><ID>a</ID><Prefix>tmp/</Prefix><Status>Enabled</Status>"
                           "<Expiration><Days>2</Days></Expiration></Rule>"
                           "<Rule><ID>b</ID><Prefix>logs/</Prefix><Status>Enabled</Status>"
                           "<Expiration><Days>2</Days></Expiration></Rule>",
                           &c, msg),
                     S3E_NONE);
    assert_int_equal(c.rules[0].filter.form, LIFECYCLE_FORM_PREFIX_V1);
    assert_string_equal(c.rules[1].filter.prefix, "logs/");
    lifecycle_config_release(&c);
}

static const struct bad_case {
    const char *rules;
    enum s3_err err;
    const char *msg; /* expected message, or NULL for the table's */
} bad_cases[] = {
    {"", S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule><Junk/>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>On</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Filter/><Expiration><Days>1</Days></Expiration></Rule>", S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter/><Prefix>a</Prefix><Expiration><Days>1</Days></Expiration></Rule>",
     S3E_INVALID_REQUEST,
     "Base level prefix cannot be used in Lifecycle V2, prefixes are only supported in the Filter."},
    {"<Rule><Status>Enabled</Status><Prefix>a</Prefix><Expiration><Days>1</Days></Expiration></Rule>"
     "<Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>",
     S3E_INVALID_REQUEST, "Filter element can only be used in Lifecycle V2."},
    {"<Rule><ID>x</ID><Status>Enabled</Status><Filter/></Rule>", S3E_INVALID_REQUEST,
     "At least one action needs to be specified in a rule"},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><Days>0</Days></Expiration></Rule>",
     S3E_INVALID_ARGUMENT, "'Days' for Expiration action must be a positive integer"},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><Days>-3</Days></Expiration></Rule>",
     S3E_INVALID_ARGUMENT, "'Days' for Expiration action must be a positive integer"},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><Days>one</Days></Expiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><Days>99999999999</Days></Expiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration/></Rule>", S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days>"
     "<Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days>"
     "<ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><Date>2030-01-01T10:00:00Z</Date>"
     "</Expiration></Rule>",
     S3E_INVALID_ARGUMENT, "'Date' must be at midnight GMT"},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><Date>2030-02-30T00:00:00Z</Date>"
     "</Expiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><Date>1969-12-31T00:00:00Z</Date>"
     "</Expiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><ExpiredObjectDeleteMarker>yes"
     "</ExpiredObjectDeleteMarker></Expiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter>"
     "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
     S3E_INVALID_REQUEST, "ExpiredObjectDeleteMarker cannot be specified with Tags."},
    {"<Rule><Status>Enabled</Status><Filter><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></Filter>"
     "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
     S3E_INVALID_REQUEST, "ExpiredObjectDeleteMarker cannot be specified with Object Size."},
    {"<Rule><Status>Enabled</Status><Filter><And><Prefix>p</Prefix><Tag><Key>a</Key><Value>b</Value>"
     "</Tag></And></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1"
     "</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
     S3E_INVALID_REQUEST, "AbortIncompleteMultipartUpload cannot be specified with Tags."},
    {"<Rule><Status>Enabled</Status><Filter><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter>"
     "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
     "</AbortIncompleteMultipartUpload></Rule>",
     S3E_INVALID_REQUEST, "AbortIncompleteMultipartUpload cannot be specified with Object Size."},
    {"<Rule><Status>Enabled</Status><Filter/><AbortIncompleteMultipartUpload><DaysAfterInitiation>0"
     "</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
     S3E_INVALID_ARGUMENT,
     "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"},
    {"<Rule><Status>Enabled</Status><Filter/><AbortIncompleteMultipartUpload/></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter/><NoncurrentVersionExpiration><NoncurrentDays>0"
     "</NoncurrentDays></NoncurrentVersionExpiration></Rule>",
     S3E_INVALID_ARGUMENT,
     "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"},
    {"<Rule><Status>Enabled</Status><Filter/><NoncurrentVersionExpiration><NoncurrentDays>1"
     "</NoncurrentDays><NewerNoncurrentVersions>0</NewerNoncurrentVersions>"
     "</NoncurrentVersionExpiration></Rule>",
     S3E_INVALID_ARGUMENT, "'NewerNoncurrentVersions' must be a positive integer"},
    {"<Rule><Status>Enabled</Status><Filter/><NoncurrentVersionExpiration>"
     "<NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Prefix/><NoncurrentVersionExpiration><NoncurrentDays>1"
     "</NoncurrentDays><NewerNoncurrentVersions>1</NewerNoncurrentVersions>"
     "</NoncurrentVersionExpiration></Rule>",
     S3E_INVALID_REQUEST, "NewerNoncurrentVersions element can only be used in Lifecycle V2."},
    {"<Rule><Status>Enabled</Status><Filter><And><ObjectSizeGreaterThan>100</ObjectSizeGreaterThan>"
     "<ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter>"
     "<Expiration><Days>1</Days></Expiration></Rule>",
     S3E_INVALID_REQUEST,
     "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'."},
    {"<Rule><Status>Enabled</Status><Filter><ObjectSizeLessThan>0</ObjectSizeLessThan></Filter>"
     "<Expiration><Days>1</Days></Expiration></Rule>",
     S3E_INVALID_REQUEST, "'ObjectSizeLessThan' should be between 1 and 1099511627776000."},
    {"<Rule><Status>Enabled</Status><Filter><Prefix>a</Prefix><Tag><Key>a</Key><Value>b</Value></Tag>"
     "</Filter><Expiration><Days>1</Days></Expiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter><And><Prefix>a</Prefix></And></Filter>"
     "<Expiration><Days>1</Days></Expiration></Rule>",
     S3E_MALFORMED_XML, NULL},
    {"<Rule><Status>Enabled</Status><Filter><And><Tag><Key>a</Key><Value>b</Value></Tag>"
     "<Tag><Key>a</Key><Value>c</Value></Tag></And></Filter>"
     "<Expiration><Days>1</Days></Expiration></Rule>",
     S3E_INVALID_REQUEST, "Duplicate Tag Keys are not allowed."},
    {"<Rule><Status>Enabled</Status><Filter><Tag><Key></Key><Value>b</Value></Tag></Filter>"
     "<Expiration><Days>1</Days></Expiration></Rule>",
     S3E_INVALID_ARGUMENT, "The TagKey you have provided is invalid"},
    {"<Rule><ID>same</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>"
     "<Rule><ID>same</ID><Status>Enabled</Status><Filter/><Expiration><Days>2</Days></Expiration></Rule>",
     S3E_INVALID_ARGUMENT, "Rule ID must be unique. Found same ID for more than one rule"},
    {"<Rule><ID>a</ID><Prefix>logs/</Prefix><Status>Enabled</Status><Expiration><Days>1</Days>"
     "</Expiration></Rule><Rule><ID>b</ID><Prefix>logs/old/</Prefix><Status>Enabled</Status>"
     "<Expiration><Days>5</Days></Expiration></Rule>",
     S3E_INVALID_REQUEST, "Found overlapping prefixes 'logs/' and 'logs/old/' for same action type 'Expiration'"},
    {"<Rule><Status>Enabled</Status><Filter/><Transition><Days>30</Days>"
     "<StorageClass>GLACIER</StorageClass></Transition></Rule>",
     S3E_NOT_IMPLEMENTED, NULL},
    /* S3 answers the other fault first, transitions last */
    {"<Rule><Status>Enabled</Status><Filter/><Expiration><Days>0</Days></Expiration>"
     "<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>",
     S3E_INVALID_ARGUMENT, "'Days' for Expiration action must be a positive integer"},
};

static void test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        struct lifecycle_config c = {NULL, 0};
        char msg[LIFECYCLE_MSG_MAX];
        enum s3_err e = parse(bad_cases[i].rules, &c, msg);
        if (e != bad_cases[i].err)
            fail_msg("case %zu: error %d, expected %d (%s)", i, e, bad_cases[i].err, msg);
        if (bad_cases[i].msg)
            assert_string_equal(msg, bad_cases[i].msg);
        assert_null(c.rules);
    }
    struct lifecycle_config c = {NULL, 0};
    char msg[LIFECYCLE_MSG_MAX];
    assert_int_equal(lifecycle_parse_xml("<Other/>", 8, &c, msg), S3E_MALFORMED_XML);
    assert_int_equal(lifecycle_parse_xml("<LifecycleConfiguration>", 24, &c, msg), S3E_MALFORMED_XML);
    /* 256-character ID (multi-byte characters count once) */
    char id[256 * 2 + 1] = "";
    for (int i = 0; i < 256; i++)
        strcat(id, "\xc3\xa9");
    char rule[1024];
    snprintf(rule, sizeof rule, "<Rule><ID>%s</ID><Status>Enabled</Status><Filter/>"
             "<Expiration><Days>1</Days></Expiration></Rule>", id);
    assert_int_equal(parse(rule, &c, msg), S3E_INVALID_ARGUMENT);
    assert_string_equal(msg, "ID length should not exceed allowed limit of 255");
    id[255 * 2] = 0;
    snprintf(rule, sizeof rule, "<Rule><ID>%s</ID><Status>Enabled</Status><Filter/>"
             "<Expiration><Days>1</Days></Expiration></Rule>", id);
    assert_int_equal(parse(rule, &c, msg), S3E_NONE);
    lifecycle_config_release(&c);
    /* 1001 rules */
    struct buf b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 1001; i++)
        buf_printf(&b, "<Rule><ID>r%d</ID><Status>Enabled</Status><Filter/>"
                   "<Expiration><Days>1</Days></Expiration></Rule>", i);
    assert_int_equal(parse(b.data, &c, msg), S3E_INVALID_REQUEST);
    assert_string_equal(msg, "The number of lifecycle rules must not exceed the allowed limit of 1000 rules.");
    buf_release(&b);
}

static void test_due_rounding(void **state)
{
    (void)state;
    /* S3's example: created 2014-01-15 10:30 UTC, 3 days -> 2014-01-19 00:00 UTC */
    assert_true(lifecycle_due_ms(T_2014_01_15_1030, 3, DAY) == T_2014_01_19);
    /* exactly at midnight: no extra day */
    assert_true(lifecycle_due_ms(T_2014_01_19 - 3 * DAY, 3, DAY) == T_2014_01_19);
    /* one ms after midnight: the next midnight */
    assert_true(lifecycle_due_ms(T_2014_01_19 - 3 * DAY + 1, 3, DAY) == T_2014_01_19 + DAY);
    /* accelerated days of one second */
    assert_true(lifecycle_due_ms(1500, 1, 1000) == 3000);
    assert_true(lifecycle_due_ms(2000, 1, 1000) == 3000);
}

/* An object tagged a=b. */
static int tags_ab(void *arg, const char *key, const char *value)
{
    (void)arg;
    return strcmp(key, "a") == 0 && strcmp(value, "b") == 0;
}

static void test_filters_and_evaluation(void **state)
{
    (void)state;
    struct lifecycle_config c = {NULL, 0};
    char msg[LIFECYCLE_MSG_MAX];
    assert_int_equal(
        parse("<Rule><ID>days</ID><Status>Enabled</Status><Filter><And><Prefix>logs/</Prefix>"
              "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>100"
              "</ObjectSizeLessThan></And></Filter><Expiration><Days>2</Days></Expiration></Rule>"
              "<Rule><ID>date</ID><Status>Enabled</Status><Filter><Prefix>old/</Prefix></Filter>"
              "<Expiration><Date>2014-01-19T00:00:00Z</Date></Expiration></Rule>"
              "<Rule><ID>off</ID><Status>Disabled</Status><Filter/><Expiration><Days>1</Days>"
              "</Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>1"
              "</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"
              "<Rule><ID>tag</ID><Status>Enabled</Status><Filter><Tag><Key>a</Key><Value>b</Value>"
              "</Tag></Filter><Expiration><Days>1</Days></Expiration></Rule>"
              "<Rule><ID>nc</ID><Status>Enabled</Status><Filter><Prefix>v/</Prefix></Filter>"
              "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
              "<NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>"
              "<AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation>"
              "</AbortIncompleteMultipartUpload></Rule>"
              "<Rule><ID>eodm</ID><Status>Enabled</Status><Filter><Prefix>m/</Prefix></Filter>"
              "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
              &c, msg),
        S3E_NONE);
    int64_t t0 = T_2014_01_15_1030, due2 = T_2014_01_15_1030 - 10 * 3600 * 1000 - 30 * 60000 + 3 * DAY;
    int needs = 0;
    /* prefix and strict size bounds */
    assert_false(lifecycle_current_expires(&c, "logs/a", 50, t0, due2 - 1, DAY, NULL, NULL, &needs));
    assert_true(lifecycle_current_expires(&c, "logs/a", 50, t0, due2, DAY, NULL, NULL, &needs));
    assert_false(lifecycle_current_expires(&c, "logs/a", 10, t0, due2, DAY, NULL, NULL, &needs));
    assert_false(lifecycle_current_expires(&c, "logs/a", 100, t0, due2, DAY, NULL, NULL, &needs));
    assert_false(lifecycle_current_expires(&c, "logz/a", 50, t0, due2, DAY, NULL, NULL, &needs));
    assert_int_equal(needs, 1); /* the tag rule could have taken these */
    /* a date: due from that midnight on, whatever the object's age */
    assert_false(lifecycle_current_expires(&c, "old/x", 1, T_2014_01_19 - 1, T_2014_01_19 - 1, DAY,
                                           tags_ab, NULL, NULL));
    assert_true(lifecycle_current_expires(&c, "old/x", 1, T_2014_01_19 - 1, T_2014_01_19, DAY, NULL,
                                          NULL, NULL));
    /* tags: only with a lookup that has them */
    assert_true(lifecycle_current_expires(&c, "any", 1, t0, t0 + 2 * DAY, DAY, tags_ab, NULL, NULL));
    assert_false(lifecycle_current_expires(&c, "any", 1, t0, t0 + 2 * DAY, DAY, NULL, NULL, NULL));
    /* noncurrent: keep the 2 newest noncurrent versions */
    assert_false(lifecycle_noncurrent_expires(&c, "v/k", 1, t0, 1, t0 + 5 * DAY, DAY, NULL, NULL, NULL));
    assert_true(lifecycle_noncurrent_expires(&c, "v/k", 1, t0, 2, t0 + 5 * DAY, DAY, NULL, NULL, NULL));
    assert_false(lifecycle_noncurrent_expires(&c, "v/k", 1, t0, 2, T_2014_01_15_1030 + DAY, DAY, NULL,
                                              NULL, NULL));
    assert_false(lifecycle_noncurrent_expires(&c, "w/k", 1, t0, 9, t0 + 5 * DAY, DAY, NULL, NULL, NULL));
    /* lone delete markers: ExpiredObjectDeleteMarker at once, Days once due */
    assert_true(lifecycle_marker_expires(&c, "m/k", t0, t0, DAY));
    assert_false(lifecycle_marker_expires(&c, "q/k", t0, t0 + 9 * DAY, DAY));
    /* uploads: the disabled rule does nothing */
    assert_false(lifecycle_upload_expires(&c, "x", t0, t0 + 9 * DAY, DAY));
    assert_false(lifecycle_upload_expires(&c, "v/x", t0, t0 + 2 * DAY, DAY)); /* 10:30 */
    assert_true(lifecycle_upload_expires(&c, "v/x", t0, due2, DAY));           /* midnight */
    assert_int_equal(lifecycle_needs(&c),
                     LIFECYCLE_NEEDS_CURRENT | LIFECYCLE_NEEDS_VERSIONS | LIFECYCLE_NEEDS_UPLOADS);
    lifecycle_config_release(&c);
}

/* ------------------------------------------------------------------ */
/* Passes over a real metadata store                                   */

struct fixture {
    char dir[64];
    struct meta *meta;
    struct lifecycle_stats stats;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-lc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(meta_open(f->dir, &f->meta), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    meta_close(f->meta);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void make_bucket(struct fixture *f, const char *name, uint8_t versioning, const char *rules)
{
    struct meta_bucket b = {.created_ms = 1};
    snprintf(b.name, sizeof b.name, "%s", name);
    snprintf(b.owner, sizeof b.owner, "root");
    assert_int_equal(meta_bucket_create(f->meta, &b), 0);
    if (versioning)
        assert_int_equal(meta_bucket_set_versioning(f->meta, name, versioning), 0);
    struct lifecycle_config c = {NULL, 0};
    char msg[LIFECYCLE_MSG_MAX];
    assert_int_equal(parse(rules, &c, msg), S3E_NONE);
    char *json = lifecycle_to_json(&c);
    assert_int_equal(meta_bucket_config_set(f->meta, name, "lifecycle", json, strlen(json)), 0);
    free(json);
    lifecycle_config_release(&c);
}

static void put(struct fixture *f, const char *bucket, const char *key, const char *vid,
                uint64_t size, int64_t mtime_ms)
{
    struct meta_object o;
    memset(&o, 0, sizeof o);
    o.key = (char *)key;
    snprintf(o.version_id, sizeof o.version_id, "%s", vid);
    snprintf(o.etag, sizeof o.etag, "etag-%s", vid);
    o.size = size;
    o.mtime_ms = mtime_ms;
    assert_int_equal(meta_object_put(f->meta, bucket, &o, NULL, NULL), 0);
}

/* Versions of key, newest first, into ids (comma-separated; "M" marks
 * delete markers). */
static void versions_of(struct fixture *f, const char *bucket, const char *key, char *ids, size_t cap)
{
    struct meta_version_list_req req = {bucket, key, NULL, NULL, NULL, 100000};
    struct meta_list_res res;
    assert_int_equal(meta_object_list_versions(f->meta, &req, &res), 0);
    ids[0] = 0;
    for (size_t i = 0; i < res.n; i++)
        if (strcmp(res.entries[i].key, key) == 0)
            snprintf(ids + strlen(ids), cap - strlen(ids), "%s%s%s", ids[0] ? "," : "",
                     res.entries[i].flags & META_OBJ_DELETE_MARKER ? "M" : "",
                     res.entries[i].version_id);
    meta_list_res_release(&res);
}

static void test_pass_unversioned_expiration(void **state)
{
    struct fixture *f = *state;
    int64_t t0 = T_2014_01_15_1030;
    make_bucket(f, "plain", 0,
                "<Rule><ID>logs</ID><Status>Enabled</Status><Filter><And><Prefix>logs/</Prefix>"
                "<ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></And></Filter>"
                "<Expiration><Days>3</Days></Expiration></Rule>"
                "<Rule><ID>up</ID><Status>Enabled</Status><Filter><Prefix>up/</Prefix></Filter>"
                "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
                "</AbortIncompleteMultipartUpload></Rule>");
    put(f, "plain", "logs/big", "x", 50, t0);
    put(f, "plain", "logs/small", "x", 5, t0);
    put(f, "plain", "logs/new", "x", 50, t0 + DAY);
    put(f, "plain", "other", "x", 50, t0);
    struct meta_upload u = {.upload_id = "u-old", .key = "up/a", .initiated_ms = t0};
    assert_int_equal(meta_upload_create(f->meta, "plain", &u), 0);
    struct meta_upload u2 = {.upload_id = "u-new", .key = "up/b", .initiated_ms = t0 + 3 * DAY};
    assert_int_equal(meta_upload_create(f->meta, "plain", &u2), 0);
    struct meta_upload u3 = {.upload_id = "u-out", .key = "down/c", .initiated_ms = t0};
    assert_int_equal(meta_upload_create(f->meta, "plain", &u3), 0);

    /* a ms before the midnight after t0 + 3 days: nothing */
    lifecycle_pass(f->meta, T_2014_01_19 - 1, DAY, &f->stats, NULL);
    assert_int_equal(atomic_load(&f->stats.expired), 0);
    assert_int_equal(atomic_load(&f->stats.uploads_aborted), 1); /* up/a: due 2014-01-17 */
    lifecycle_pass(f->meta, T_2014_01_19, DAY, &f->stats, NULL);
    assert_int_equal(atomic_load(&f->stats.expired), 1);
    struct meta_object o;
    assert_int_equal(meta_object_get(f->meta, "plain", "logs/big", NULL, &o), META_ENOTFOUND);
    assert_int_equal(meta_object_get(f->meta, "plain", "logs/small", NULL, &o), 0);
    meta_object_release(&o);
    assert_int_equal(meta_object_get(f->meta, "plain", "other", NULL, &o), 0);
    meta_object_release(&o);
    /* uploads: the young one and the one outside the prefix stay */
    struct meta_upload_list_req lr = {"plain", NULL, NULL, NULL, 100};
    struct meta_upload *us = NULL;
    size_t n = 0;
    assert_int_equal(meta_upload_list(f->meta, &lr, &us, &n, NULL), 0);
    assert_int_equal(n, 2);
    meta_upload_array_free(us, n);
    lifecycle_pass(f->meta, T_2014_01_19 + 10 * DAY, DAY, &f->stats, NULL);
    assert_int_equal(atomic_load(&f->stats.expired), 2); /* logs/new */
    assert_int_equal(atomic_load(&f->stats.uploads_aborted), 2);
    assert_int_equal(atomic_load(&f->stats.errors), 0);
    assert_int_equal(atomic_load(&f->stats.passes), 3);
}

/* Tag filters read the tags kept in the version's attrs blob. */
static void test_pass_tag_filter(void **state)
{
    struct fixture *f = *state;
    int64_t t0 = 1000 * DAY;
    make_bucket(f, "tagged", 0,
                "<Rule><ID>tmp</ID><Status>Enabled</Status><Filter><And><Prefix>t/</Prefix>"
                "<Tag><Key>env</Key><Value>tmp</Value></Tag><Tag><Key>team</Key><Value>a b</Value>"
                "</Tag></And></Filter><Expiration><Days>1</Days></Expiration></Rule>");
    static const struct {
        const char *key, *tags;
    } objs[] = {
        {"t/both", "3:env3:tmp4:team3:a b"},
        {"t/reordered", "4:team3:a b3:env3:tmp4:more0:"},
        {"t/one", "3:env3:tmp"},
        {"t/other-value", "3:env4:prod4:team3:a b"},
        {"t/none", NULL},
        {"u/both", "3:env3:tmp4:team3:a b"},
    };
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) {
        struct buf attrs;
        struct meta_object o;
        buf_init(&attrs, META_ATTRS_MAX);
        assert_int_equal(s3_attrs_add(&attrs, "content-type", "text/plain"), 0);
        if (objs[i].tags)
            assert_int_equal(s3_attrs_add(&attrs, S3_ATTR_TAGS, objs[i].tags), 0);
        memset(&o, 0, sizeof o);
        o.key = (char *)objs[i].key;
        snprintf(o.version_id, sizeof o.version_id, "null");
        snprintf(o.etag, sizeof o.etag, "e%zu", i);
        o.mtime_ms = t0;
        o.attrs = (uint8_t *)attrs.data;
        o.attrs_len = (uint32_t)attrs.len;
        assert_int_equal(meta_object_put(f->meta, "tagged", &o, NULL, NULL), 0);
        buf_release(&attrs);
    }
    lifecycle_pass(f->meta, t0 + 2 * DAY, DAY, &f->stats, NULL);
    assert_int_equal(atomic_load(&f->stats.expired), 2);
    struct meta_object o;
    assert_int_equal(meta_object_get(f->meta, "tagged", "t/both", NULL, &o), META_ENOTFOUND);
    assert_int_equal(meta_object_get(f->meta, "tagged", "t/reordered", NULL, &o), META_ENOTFOUND);
    const char *kept[] = {"t/one", "t/other-value", "t/none", "u/both"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(meta_object_get(f->meta, "tagged", kept[i], NULL, &o), 0);
        meta_object_release(&o);
    }
}

static void test_pass_versions(void **state)
{
    struct fixture *f = *state;
    int64_t t0 = 1000 * DAY;
    char ids[4096];
    make_bucket(f, "vers", META_VERSIONING_ENABLED,
                "<Rule><ID>nc</ID><Status>Enabled</Status><Filter><Prefix>k</Prefix></Filter>"
                "<NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays>"
                "<NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration>"
                "</Rule>"
                "<Rule><ID>m</ID><Status>Enabled</Status><Filter><Prefix>m</Prefix></Filter>"
                "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker>"
                "</Expiration></Rule>"
                "<Rule><ID>exp</ID><Status>Enabled</Status><Filter><Prefix>e</Prefix></Filter>"
                "<Expiration><Days>1</Days></Expiration></Rule>");
    /* k: v1..v5, one day apart; v5 current */
    for (int i = 1; i <= 5; i++) {
        char vid[8];
        snprintf(vid, sizeof vid, "v%d", i);
        put(f, "vers", "k", vid, 10, t0 + (i - 1) * DAY);
    }
    /* m: one version, then a marker, then the version removed: a lone marker */
    put(f, "vers", "m", "m1", 10, t0);
    assert_int_equal(meta_object_delete(f->meta, "vers", "m", NULL, "mark", t0, NULL, NULL), 0);
    assert_int_equal(meta_object_delete(f->meta, "vers", "m", "m1", NULL, t0, NULL, NULL), 0);
    /* m2: a marker over a version: not alone, stays */
    put(f, "vers", "m2", "a1", 10, t0);
    assert_int_equal(meta_object_delete(f->meta, "vers", "m2", NULL, "mark2", t0, NULL, NULL), 0);
    /* e: expires (a marker is added, as in S3) */
    put(f, "vers", "e", "e1", 10, t0);

    /* t0 + 4 days + 1 ms: v1 noncurrent since t0+1d -> due t0+3d; v2 since
     * t0+2d -> due t0+4d; v3 since t0+3d -> due t0+5d (not yet); v4 is
     * the newest noncurrent, kept by NewerNoncurrentVersions 1 anyway */
    lifecycle_pass(f->meta, t0 + 4 * DAY + 1, DAY, &f->stats, NULL);
    versions_of(f, "vers", "k", ids, sizeof ids);
    assert_string_equal(ids, "v5,v4,v3");
    versions_of(f, "vers", "m", ids, sizeof ids);
    assert_string_equal(ids, "");
    versions_of(f, "vers", "m2", ids, sizeof ids);
    assert_string_equal(ids, "Mmark2,a1");
    versions_of(f, "vers", "e", ids, sizeof ids);
    assert_int_equal(ids[0], 'M');
    assert_non_null(strstr(ids, ",e1"));
    assert_int_equal(atomic_load(&f->stats.noncurrent_removed), 2);
    assert_int_equal(atomic_load(&f->stats.markers_removed), 1);
    assert_int_equal(atomic_load(&f->stats.expired), 1);
    /* much later: v3 goes, v4 is kept (one newer noncurrent version) */
    lifecycle_pass(f->meta, t0 + 40 * DAY, DAY, &f->stats, NULL);
    versions_of(f, "vers", "k", ids, sizeof ids);
    assert_string_equal(ids, "v5,v4");
    assert_int_equal(atomic_load(&f->stats.errors), 0);
}

/* Versions of one key across several listing pages: the walk resumes
 * after each page's last version, which is removed only after the next
 * page was listed. */
static void test_pass_versions_across_pages(void **state)
{
    struct fixture *f = *state;
    int64_t t0 = 1000 * DAY;
    make_bucket(f, "many", META_VERSIONING_ENABLED,
                "<Rule><ID>nc</ID><Status>Enabled</Status><Filter/>"
                "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
                "</NoncurrentVersionExpiration></Rule>");
    const int n = 1003; /* every version is a durable commit: keep it short */
    for (int i = 0; i < n; i++) {
        char vid[16];
        snprintf(vid, sizeof vid, "v%05d", i);
        put(f, "many", "a", vid, 1, t0 + i);
    }
    put(f, "many", "b", "b1", 1, t0);
    lifecycle_pass(f->meta, t0 + 5 * DAY, DAY, &f->stats, NULL);
    char ids[256];
    versions_of(f, "many", "a", ids, sizeof ids);
    assert_string_equal(ids, "v01002");
    versions_of(f, "many", "b", ids, sizeof ids);
    assert_string_equal(ids, "b1");
    assert_int_equal(atomic_load(&f->stats.noncurrent_removed), n - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid_round_trip),
        cmocka_unit_test(test_parse_legacy_prefix),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_due_rounding),
        cmocka_unit_test(test_filters_and_evaluation),
        cmocka_unit_test_setup_teardown(test_pass_unversioned_expiration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pass_tag_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pass_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pass_versions_across_pages, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
