/* Unit tests for common/uri: SigV4 percent-encoding, strict decoding and
 * the bounded query splitter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/uri.h"

static void test_encode(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    const char *unres = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    assert_int_equal(uri_encode(&b, unres, strlen(unres), 0), 0);
    assert_string_equal(b.data, unres);
    buf_reset(&b);
    assert_int_equal(uri_encode(&b, "a b+c/d?e=f&g%h", 15, 0), 0);
    assert_string_equal(b.data, "a%20b%2Bc%2Fd%3Fe%3Df%26g%25h");
    buf_reset(&b);
    assert_int_equal(uri_encode(&b, "/dir/a b/", 9, URI_KEEP_SLASH), 0);
    assert_string_equal(b.data, "/dir/a%20b/");
    buf_reset(&b);
    /* UTF-8 bytes each become %XX, upper-case hex; NUL and 0xff too */
    assert_int_equal(uri_encode(&b, "\xe1\x88\xb4\x00\xff", 5, 0), 0);
    assert_string_equal(b.data, "%E1%88%B4%00%FF");
    buf_reset(&b);
    assert_int_equal(uri_encode(&b, "", 0, 0), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    buf_release(&b);
    /* the cap of the output buffer */
    buf_init(&b, 5);
    assert_int_equal(uri_encode(&b, "ab c", 4, 0), -ENOSPC);
    buf_release(&b);
    for (int c = 0; c < 256; c++) {
        int want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~';
        assert_int_equal(uri_is_unreserved((unsigned char)c), want);
    }
}

static void test_decode(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(uri_decode("a%20b%2fc%2F", 12, out, sizeof out, 0), 6);
    assert_string_equal(out, "a b/c/");
    /* '+' is a plus unless asked */
    assert_int_equal(uri_decode("a+b", 3, out, sizeof out, 0), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(uri_decode("a+b%2B", 6, out, sizeof out, URI_PLUS_SPACE), 4);
    assert_string_equal(out, "a b+");
    /* NUL bytes come through; the length tells */
    assert_int_equal(uri_decode("x%00y", 5, out, sizeof out, 0), 3);
    assert_memory_equal(out, "x\0y", 3);
    /* strict escapes */
    assert_int_equal(uri_decode("%", 1, out, sizeof out, 0), -EINVAL);
    assert_int_equal(uri_decode("a%4", 3, out, sizeof out, 0), -EINVAL);
    assert_int_equal(uri_decode("%zz", 3, out, sizeof out, 0), -EINVAL);
    assert_int_equal(uri_decode("%4g", 3, out, sizeof out, 0), -EINVAL);
    assert_int_equal(uri_decode("%%41", 4, out, sizeof out, 0), -EINVAL);
    /* "%4" at the end of a longer buffer must not read past len */
    assert_int_equal(uri_decode("ab%41", 4, out, sizeof out, 0), -EINVAL);
    /* bounded output; exactly-fitting output has no NUL */
    assert_int_equal(uri_decode("abcdef", 6, out, 5, 0), -ENOSPC);
    memset(out, 'z', sizeof out);
    assert_int_equal(uri_decode("abc", 3, out, 3, 0), 3);
    assert_int_equal(out[3], 'z');
    /* in place */
    char s[] = "%41%42c";
    assert_int_equal(uri_decode(s, strlen(s), s, sizeof s, 0), 3);
    assert_string_equal(s, "ABc");
}

static void test_query_parse(void **state)
{
    (void)state;
    struct uri_query q;
    const char *raw = "uploads&prefix=a+b%2Bc&&empty=&k%3D=v%3D1&list-type=2&";
    assert_int_equal(uri_query_parse(raw, strlen(raw), &q), 0);
    assert_int_equal(q.count, 5);
    assert_string_equal(q.pairs[0].name, "uploads");
    assert_int_equal(q.pairs[0].has_value, 0);
    assert_string_equal(q.pairs[0].value, "");
    assert_string_equal(q.pairs[1].name, "prefix");
    assert_string_equal(q.pairs[1].value, "a b+c");
    assert_int_equal(q.pairs[1].value_len, 5);
    assert_int_equal(q.pairs[2].has_value, 1);
    assert_int_equal(q.pairs[2].value_len, 0);
    assert_string_equal(q.pairs[3].name, "k=");
    assert_string_equal(q.pairs[3].value, "v=1");
    const struct uri_query_pair *p = uri_query_find(&q, "list-type");
    assert_non_null(p);
    assert_string_equal(p->value, "2");
    assert_null(uri_query_find(&q, "List-Type"));
    assert_null(uri_query_find(&q, "upload"));
    uri_query_release(&q);
    assert_int_equal(q.count, 0);
    uri_query_release(&q); /* twice is fine */

    /* value with '=' inside: split at the first */
    assert_int_equal(uri_query_parse("a=b=c", 5, &q), 0);
    assert_string_equal(q.pairs[0].value, "b=c");
    uri_query_release(&q);

    /* nothing */
    assert_int_equal(uri_query_parse(NULL, 0, &q), 0);
    assert_int_equal(q.count, 0);
    uri_query_release(&q);
    assert_int_equal(uri_query_parse("&&&", 3, &q), 0);
    assert_int_equal(q.count, 0);
    uri_query_release(&q);

    /* NUL inside a value is kept with its length */
    assert_int_equal(uri_query_parse("a=x%00y", 7, &q), 0);
    assert_int_equal(q.pairs[0].value_len, 3);
    assert_memory_equal(q.pairs[0].value, "x\0y", 3);
    uri_query_release(&q);
}

static void test_query_limits(void **state)
{
    (void)state;
    struct uri_query q = {0};
    assert_int_equal(uri_query_parse("a=%zz", 5, &q), -EINVAL);
    assert_int_equal(uri_query_parse("a%=1", 4, &q), -EINVAL);
    assert_null(q.pairs); /* untouched on failure */

    struct buf b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < URI_QUERY_MAX_PAIRS; i++)
        assert_int_equal(buf_printf(&b, "%sk%d=%d", i ? "&" : "", i, i), 0);
    assert_int_equal(uri_query_parse(b.data, b.len, &q), 0);
    assert_int_equal(q.count, URI_QUERY_MAX_PAIRS);
    assert_string_equal(q.pairs[255].name, "k255");
    uri_query_release(&q);
    assert_int_equal(buf_puts(&b, "&one-more"), 0);
    assert_int_equal(uri_query_parse(b.data, b.len, &q), -ENOSPC);

    buf_reset(&b);
    assert_int_equal(buf_puts(&b, "k="), 0);
    while (b.len < URI_QUERY_MAX_LEN)
        assert_int_equal(buf_puts(&b, "x"), 0);
    assert_int_equal(uri_query_parse(b.data, b.len, &q), 0);
    uri_query_release(&q);
    assert_int_equal(buf_puts(&b, "x"), 0);
    assert_int_equal(uri_query_parse(b.data, b.len, &q), -ENOSPC);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_query_parse),
        cmocka_unit_test(test_query_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
