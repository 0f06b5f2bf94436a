/* Unit tests for common/hash: published check values of every algorithm,
 * CRC combination. */
#include <errno.h>
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

/* combine(crc(a), crc(b), len(b)) == crc(a||b) for random data and cuts,
 * including empty pieces, for the three CRCs. */
static void crc_of(enum cksum_alg alg, const uint8_t *p, size_t n, uint8_t out[CKSUM_MAX_LEN])
{
    struct cksum c;
    assert_int_equal(cksum_init(&c, alg), 0);
    cksum_update(&c, p, n);
    cksum_final(&c, out);
}

static void test_crc_combine(void **state)
{
    (void)state;
    static const enum cksum_alg algs[] = {CKSUM_CRC32, CKSUM_CRC32C, CKSUM_CRC64NVME};
    enum { N = 70000 };
    static uint8_t data[N];
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        data[i] = (uint8_t)x;
    }
    for (size_t ai = 0; ai < sizeof algs / sizeof *algs; ai++) {
        enum cksum_alg alg = algs[ai];
        size_t len = cksum_len(alg);
        assert_true(cksum_is_crc(alg));
        for (int round = 0; round < 40; round++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t total = round < 4 ? (size_t)round : (size_t)(x % N);
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t cut = total ? (size_t)(x % (total + 1)) : 0;
            if (round == 5)
                cut = 0;
            if (round == 6)
                cut = total;
            uint8_t a[CKSUM_MAX_LEN], b[CKSUM_MAX_LEN], whole[CKSUM_MAX_LEN];
            crc_of(alg, data, cut, a);
            crc_of(alg, data + cut, total - cut, b);
            crc_of(alg, data, total, whole);
            assert_int_equal(cksum_crc_combine(alg, a, b, total - cut), 0);
            assert_memory_equal(a, whole, len);
        }
        /* three pieces folded from an all-zero start, as a multipart
         * upload's parts are */
        uint8_t acc[CKSUM_MAX_LEN] = {0}, piece[CKSUM_MAX_LEN], whole[CKSUM_MAX_LEN];
        size_t cuts[] = {0, 1000, 1000, 65536, N};
        for (size_t i = 0; i + 1 < sizeof cuts / sizeof *cuts; i++) {
            crc_of(alg, data + cuts[i], cuts[i + 1] - cuts[i], piece);
            assert_int_equal(cksum_crc_combine(alg, acc, piece, cuts[i + 1] - cuts[i]), 0);
        }
        crc_of(alg, data, N, whole);
        assert_memory_equal(acc, whole, len);
    }
    uint8_t a[CKSUM_MAX_LEN] = {1}, b[CKSUM_MAX_LEN] = {2};
    assert_false(cksum_is_crc(CKSUM_SHA256));
    assert_int_equal(cksum_crc_combine(CKSUM_SHA256, a, b, 1), -EINVAL);
    assert_int_equal(a[0], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_values),
        cmocka_unit_test(test_crc32c_incremental),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_base64_hex),
        cmocka_unit_test(test_crc_combine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
