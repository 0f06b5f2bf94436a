/* Unit tests for common/sigv2: AWS's published query-string example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/sigv2.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static void test_aws_example(void **state)
{
    (void)state;
    struct uri_query q;
    struct buf res, sts;
    char sig[32];
    const char *raw = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=x";
    assert_int_equal(uri_query_parse(raw, strlen(raw), &q), 0);
    buf_init(&res, 4096);
    buf_init(&sts, 4096);
    assert_int_equal(sigv2_canonical_resource("/johnsmith/photos/puppy.jpg", &q, &res), 0);
    assert_string_equal(res.data, "/johnsmith/photos/puppy.jpg");
    assert_int_equal(sigv2_string_to_sign("GET", NULL, NULL, "1175139620", "", res.data, &sts), 0);
    sigv2_signature(SECRET, sts.data, sts.len, sig);
    /* the signature AWS's Signature Version 2 documentation gives */
    assert_string_equal(sig, "NpgCjnDzrM+WFzoENXmpNDUsSn8=");
    buf_release(&res);
    buf_release(&sts);
    uri_query_release(&q);
}

static void test_subresources_sorted_and_decoded(void **state)
{
    (void)state;
    struct uri_query q;
    struct buf res;
    const char *raw = "versionId=v1&Signature=s&response-content-type=text%2Fplain&foo=bar&acl";
    assert_int_equal(uri_query_parse(raw, strlen(raw), &q), 0);
    buf_init(&res, 4096);
    assert_int_equal(sigv2_canonical_resource("/b/k%20x", &q, &res), 0);
    assert_string_equal(res.data, "/b/k%20x?acl&response-content-type=text/plain&versionId=v1");
    assert_true(sigv2_is_subresource("uploadId"));
    assert_false(sigv2_is_subresource("Signature"));
    buf_release(&res);
    uri_query_release(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_example),
        cmocka_unit_test(test_subresources_sorted_and_decoded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
