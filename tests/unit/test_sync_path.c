/* Unit tests for sync-client/sync_path (the shape of a synced path, UTF-8
 * helpers) and sync_strerror. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sync-client/sync_path.h"

static void test_path_rules(void **state)
{
    (void)state;
    const char *ok[] = {"a", "a/b", ".hidden", "a/.b/c", "...", "a b/c d", "é/ü", "a\tb"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(sync_path_check(ok[i], strlen(ok[i])), 0);
    const char *bad[] = {"", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "a/..",
                         "\xc3", "\xc3\x28", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "\xf8\x88\x80\x80\x80", "\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sync_path_check(bad[i], strlen(bad[i])), SYNC_EINVAL);
    assert_int_equal(sync_path_check(NULL, 1), SYNC_EINVAL);
    assert_int_equal(sync_path_check("a\0b", 3), SYNC_EINVAL);
    char p[SYNC_PATH_MAX + 1];
    memset(p, 'a', sizeof p);
    assert_int_equal(sync_path_check(p, 255), 0);
    assert_int_equal(sync_path_check(p, 256), SYNC_ETOOLONG);
    assert_int_equal(sync_path_check(p, SYNC_PATH_MAX + 1), SYNC_ETOOLONG);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_int_equal(sync_utf8_valid("\xf0\x9f\x98\x80", 4), 1);
    assert_int_equal(sync_utf8_valid(NULL, 0), 1);
    assert_int_equal(sync_utf8_floor("a\xe2\x82\xac", 4, 3), 1);
    assert_int_equal(sync_utf8_floor("a\xe2\x82\xac", 4, 4), 4);
    assert_int_equal(sync_utf8_floor("a\xe2\x82\xac", 4, 0), 0);
    assert_int_equal(sync_utf8_floor("ab\xff", 3, 3), 3);
    assert_int_equal(sync_utf8_floor("ab\xffz", 4, 3), 3);
    assert_int_equal(sync_utf8_seq_len((const unsigned char *)"", 0), 0);
    assert_int_equal(sync_utf8_seq_len((const unsigned char *)"\xe2\x82", 2), 0);
    /* every code point's encoding is valid and has its length; surrogates
     * are not; a cut encoding is not */
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        unsigned char b[4];
        size_t n;
        if (cp < 0x80) {
            b[0] = (unsigned char)cp, n = 1;
        } else if (cp < 0x800) {
            b[0] = (unsigned char)(0xc0 | cp >> 6), b[1] = (unsigned char)(0x80 | (cp & 0x3f));
            n = 2;
        } else if (cp < 0x10000) {
            b[0] = (unsigned char)(0xe0 | cp >> 12);
            b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
            b[2] = (unsigned char)(0x80 | (cp & 0x3f));
            n = 3;
        } else {
            b[0] = (unsigned char)(0xf0 | cp >> 18);
            b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
            b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
            b[3] = (unsigned char)(0x80 | (cp & 0x3f));
            n = 4;
        }
        int surrogate = cp >= 0xd800 && cp <= 0xdfff;
        if (sync_utf8_seq_len(b, n) != (surrogate ? 0 : n))
            fail_msg("U+%04X", (unsigned)cp);
        if (n > 1 && sync_utf8_seq_len(b, n - 1) != 0)
            fail_msg("U+%04X cut", (unsigned)cp);
    }
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(sync_strerror(0), "success");
    assert_string_equal(sync_strerror(SYNC_EEXIST), "no free conflict-copy name");
    assert_string_equal(sync_strerror(-ENOENT), strerror(ENOENT));
    assert_string_equal(sync_strerror(-40000), "unknown sync error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_rules),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
