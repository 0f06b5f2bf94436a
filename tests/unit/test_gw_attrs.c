/*
 * Unit tests for the attrs blob helpers of gateway/s3_attrs.c that need no
 * request: the part size list of multipart objects (encoding, lookup, the
 * length cap, malformed values) and copying entries by prefix.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/s3_internal.h"

static void attrs_with(struct buf *b, const char *value)
{
    buf_init(b, META_ATTRS_MAX);
    assert_int_equal(buf_append(b, "content-type", 13), 0);
    assert_int_equal(buf_append(b, "text/plain", 11), 0);
    assert_int_equal(buf_append(b, S3_ATTR_PART_SIZES, sizeof S3_ATTR_PART_SIZES), 0);
    assert_int_equal(buf_append(b, value, strlen(value) + 1), 0);
}

static void test_part_sizes_round_trip(void **state)
{
    (void)state;
    const uint64_t sizes[] = {5242880, 5242880, 5242880, 6000000, 777};
    uint64_t total = 5242880 * 3 + 6000000 + 777;
    struct buf b;
    buf_init(&b, META_ATTRS_MAX);
    assert_int_equal(s3_attrs_add_part_sizes(&b, sizes, 5), 0);
    assert_string_equal(s3_attrs_get((uint8_t *)b.data, (uint32_t)b.len, S3_ATTR_PART_SIZES),
                        "5242880*3,6000000,777");
    uint64_t off = 0;
    for (uint32_t n = 1; n <= 5; n++) {
        uint32_t count = 0;
        uint64_t o = 1, sz = 1;
        assert_int_equal(s3_attrs_part_range((uint8_t *)b.data, (uint32_t)b.len, total, n, &count, &o, &sz), 1);
        assert_int_equal(count, 5);
        assert_int_equal(o, off);
        assert_int_equal(sz, sizes[n - 1]);
        off += sizes[n - 1];
    }
    /* past the end: the count, the range untouched */
    uint32_t count = 0;
    uint64_t o = 42, sz = 42;
    assert_int_equal(s3_attrs_part_range((uint8_t *)b.data, (uint32_t)b.len, total, 6, &count, &o, &sz), 1);
    assert_int_equal(count, 5);
    assert_int_equal(o, 42);
    /* a list that does not add up to the object is not used */
    assert_int_equal(s3_attrs_part_range((uint8_t *)b.data, (uint32_t)b.len, total + 1, 1, &count, &o, &sz), 0);
    buf_release(&b);
}

static void test_part_sizes_cap(void **state)
{
    (void)state;
    enum { N = 10000 };
    static uint64_t sizes[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = 5242880 + i; /* all different: too long a list */
    struct buf b;
    buf_init(&b, META_ATTRS_MAX);
    assert_int_equal(buf_append(&b, "a\0b", 4), 0);
    assert_int_equal(s3_attrs_add_part_sizes(&b, sizes, N), -ENOSPC);
    assert_int_equal(b.len, 4);
    /* 10,000 equal parts fit in a few bytes */
    for (size_t i = 0; i < N; i++)
        sizes[i] = 5242880;
    assert_int_equal(s3_attrs_add_part_sizes(&b, sizes, N), 0);
    uint32_t count = 0;
    uint64_t o, sz;
    assert_int_equal(s3_attrs_part_range((uint8_t *)b.data, (uint32_t)b.len, 5242880ULL * N, N, &count, &o, &sz), 1);
    assert_int_equal(count, N);
    assert_int_equal(o, 5242880ULL * (N - 1));
    buf_release(&b);
}

static void test_part_sizes_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", ",", "1,", "1,,2", "x", "1*", "1*0", "1*10001", "5000*5001,1*5000", "-1",
        "1 2", "99999999999999999999", "6000000000", "1**2", "1*2*3", "0x10",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct buf b;
        attrs_with(&b, bad[i]);
        uint32_t count = 7;
        uint64_t o = 7, sz = 7;
        assert_int_equal(s3_attrs_part_range((uint8_t *)b.data, (uint32_t)b.len, 3, 1, &count, &o, &sz), 0);
        assert_int_equal(count, 7);
        buf_release(&b);
    }
    /* no list at all */
    uint32_t count = 7;
    uint64_t o, sz;
    assert_int_equal(s3_attrs_part_range((const uint8_t *)"a\0b", 4, 3, 1, &count, &o, &sz), 0);
    assert_int_equal(s3_attrs_part_range(NULL, 0, 0, 1, &count, &o, &sz), 0);
}

static void test_copy_by_prefix(void **state)
{
    (void)state;
    static const char blob[] = "content-type\0a\0x-amz-checksum-crc32\0b\0x-cairn-part-sizes\0c\0";
    struct buf out;
    buf_init(&out, 1024);
    assert_int_equal(s3_attrs_copy((const uint8_t *)blob, sizeof blob - 1, "x-amz-checksum-", 0, &out), 0);
    assert_int_equal(out.len, sizeof "content-type\0a\0x-cairn-part-sizes\0c\0" - 1);
    assert_memory_equal(out.data, "content-type\0a\0x-cairn-part-sizes\0c\0", out.len);
    buf_reset(&out);
    assert_int_equal(s3_attrs_copy((const uint8_t *)blob, sizeof blob - 1, "x-amz-checksum-", 1, &out), 0);
    assert_memory_equal(out.data, "x-amz-checksum-crc32\0b\0", out.len);
    buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_part_sizes_round_trip),
        cmocka_unit_test(test_part_sizes_cap),
        cmocka_unit_test(test_part_sizes_malformed),
        cmocka_unit_test(test_copy_by_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
