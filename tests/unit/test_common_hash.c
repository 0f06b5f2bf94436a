/* Unit tests for common/hash: published check values of every algorithm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/hash.h"

static void digest_hex(enum cksum_alg alg, const char *in, char *hex)
{
    struct cksum c;
    uint8_t out[CKSUM_MAX_LEN];
    assert_int_equal(cksum_init(&c, alg), 0);
    /* feed in two pieces to exercise streaming */
    size_t n = strlen(in);
    cksum_update(&c, in, n / 2);
    cksum_update(&c, in + n / 2, n - n / 2);
    size_t len = cksum_final(&c, out);
    assert_int_equal(len, cksum_len(alg));
    hex_encode(out, len, hex);
}

static void test_check_values(void **state)
{
    (void)state;
    char hex[2 * CKSUM_MAX_LEN + 1];
    const char *s = "123456789";
    digest_hex(CKSUM_CRC32, s, hex);
    assert_string_equal(hex, "cbf43926");
    digest_hex(CKSUM_CRC32C, s, hex);
    assert_string_equal(hex, "e3069283");
    digest_hex(CKSUM_CRC64NVME, s, hex);
    assert_string_equal(hex, "ae8b14860a799888");
    digest_hex(CKSUM_MD5, "", hex);
    assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
    digest_hex(CKSUM_SHA1, "abc", hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    digest_hex(CKSUM_SHA256, "", hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_crc32c_incremental(void **state)
{
    (void)state;
    uint8_t buf[1000];
    for (int i = 0; i < 1000; i++)
        buf[i] = (uint8_t)(i * 7);
    uint32_t whole = crc32c(0, buf, sizeof buf);
    uint32_t part = crc32c(crc32c(0, buf, 333), buf + 333, 667);
    assert_int_equal(whole, part);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(cksum_from_name("CRC64NVME", 9), CKSUM_CRC64NVME);
    assert_int_equal(cksum_from_name("crc32c", 6), CKSUM_CRC32C);
    assert_int_equal(cksum_from_name("crc3", 4), CKSUM_NONE);
}

static void test_base64_hex(void **state)
{
    (void)state;
    char out[64];
    uint8_t back[64];
    base64_encode((const uint8_t *)"hello", 5, out);
    assert_string_equal(out, "aGVsbG8=");
    assert_int_equal(base64_decode(out, strlen(out), back), 5);
    assert_memory_equal(back, "hello", 5);
    assert_int_equal(base64_decode("abc", 3, back), -1);
    assert_int_equal(hex_decode("0aFf", 4, back, 2), 0);
    assert_int_equal(back[0], 0x0a);
    assert_int_equal(back[1], 0xff);
    assert_int_equal(hex_decode("0g", 2, back, 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_values),
        cmocka_unit_test(test_crc32c_incremental),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_base64_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
