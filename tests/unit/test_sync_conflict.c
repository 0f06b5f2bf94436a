/* Unit tests for sync-client/sync_conflict: conflict-copy names, host
 * sanitizing, NAME_MAX and path limits, numbering, and the predicate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync-client/sync_conflict.h"
#include "sync-client/sync_path.h"

#define DAY 1795824000LL /* 2026-11-28 00:00:00 UTC */

static void expect_name(const char *path, const char *host, int64_t when, const char *want)
{
    char out[SYNC_PATH_MAX + 1];
    size_t n = 0;
    int rc = sync_conflict_name(path, strlen(path), host, when, NULL, NULL, out, sizeof out, &n);
    if (rc != 0)
        fail_msg("%s: %s", path, sync_strerror(rc));
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    assert_int_equal(sync_conflict_is_copy(out, n), 1);
    if (!strstr(path, "(conflicted copy"))
        assert_int_equal(sync_conflict_is_copy(path, strlen(path)), 0);
}

static void test_names(void **state)
{
    (void)state;
    expect_name("report.docx", "laptop", DAY, "report (conflicted copy 2026-11-28 laptop).docx");
    expect_name("Makefile", "laptop", DAY, "Makefile (conflicted copy 2026-11-28 laptop)");
    expect_name(".bashrc", "laptop", DAY, ".bashrc (conflicted copy 2026-11-28 laptop)");
    expect_name("archive.tar.gz", "laptop", DAY,
                "archive.tar (conflicted copy 2026-11-28 laptop).gz");
    expect_name(".config.json", "pc", DAY, ".config (conflicted copy 2026-11-28 pc).json");
    expect_name("file.", "pc", DAY, "file. (conflicted copy 2026-11-28 pc)");
    expect_name("docs/2026/a.txt", "pc", DAY, "docs/2026/a (conflicted copy 2026-11-28 pc).txt");
    expect_name("v1.2/notes", "pc", DAY, "v1.2/notes (conflicted copy 2026-11-28 pc)");
    /* the last second of the day is still that day (UTC) */
    expect_name("a.txt", "pc", DAY + 86399, "a (conflicted copy 2026-11-28 pc).txt");
    expect_name("a.txt", "pc", DAY + 86400, "a (conflicted copy 2026-11-29 pc).txt");
    expect_name("a.txt", "pc", 0, "a (conflicted copy 1970-01-01 pc).txt");
    /* an "extension" over SYNC_CONFLICT_EXT_MAX bytes is part of the name */
    expect_name("a.01234567890123456789012345678901", "pc", DAY,
                "a.01234567890123456789012345678901 (conflicted copy 2026-11-28 pc)");
    expect_name("a.0123456789012345678901234567890", "pc", DAY,
                "a (conflicted copy 2026-11-28 pc).0123456789012345678901234567890");
    /* a conflict copy of a conflict copy */
    expect_name("a (conflicted copy 2026-11-27 pc).txt", "pc", DAY,
                "a (conflicted copy 2026-11-27 pc) (conflicted copy 2026-11-28 pc).txt");
    expect_name("é.txt", "pc", DAY, "é (conflicted copy 2026-11-28 pc).txt");
    /* an extension that looks like a marker (found by fuzzing) */
    expect_name("x.doc (conflicted copy ", "pc", DAY,
                "x (conflicted copy 2026-11-28 pc).doc (conflicted copy ");
}

struct taken {
    const char *names[8];
    int calls;
    int fail_at; /* return -EIO on that call (1-based), 0: never */
    int all;     /* everything is taken */
};

static int exists_cb(void *arg, const char *path, size_t len)
{
    struct taken *t = arg;
    t->calls++;
    assert_int_equal(strlen(path), len);
    if (t->fail_at && t->calls == t->fail_at)
        return -EIO;
    if (t->all)
        return 1;
    for (int i = 0; i < 8 && t->names[i]; i++)
        if (strcmp(t->names[i], path) == 0)
            return 1;
    return 0;
}

static void test_numbering(void **state)
{
    (void)state;
    char out[SYNC_PATH_MAX + 1];
    const char *p = "d/report.docx";
    struct taken t = {.names = {"d/report (conflicted copy 2026-11-28 laptop).docx"}};
    assert_int_equal(sync_conflict_name(p, strlen(p), "laptop", DAY, exists_cb, &t, out,
                                        sizeof out, NULL), 0);
    assert_string_equal(out, "d/report (conflicted copy 2026-11-28 laptop 2).docx");
    assert_int_equal(t.calls, 2);
    assert_int_equal(sync_conflict_is_copy(out, strlen(out)), 1);
    struct taken t2 = {.names = {"d/report (conflicted copy 2026-11-28 laptop).docx",
                                 "d/report (conflicted copy 2026-11-28 laptop 2).docx"}};
    assert_int_equal(sync_conflict_name(p, strlen(p), "laptop", DAY, exists_cb, &t2, out,
                                        sizeof out, NULL), 0);
    assert_string_equal(out, "d/report (conflicted copy 2026-11-28 laptop 3).docx");
    /* the callback's error stops the search; out untouched */
    strcpy(out, "untouched");
    struct taken t3 = {.names = {"d/report (conflicted copy 2026-11-28 laptop).docx"},
                       .fail_at = 2};
    assert_int_equal(sync_conflict_name(p, strlen(p), "laptop", DAY, exists_cb, &t3, out,
                                        sizeof out, NULL), -EIO);
    assert_string_equal(out, "untouched");
    /* all taken */
    struct taken t4 = {.all = 1};
    assert_int_equal(sync_conflict_name(p, strlen(p), "laptop", DAY, exists_cb, &t4, out,
                                        sizeof out, NULL), SYNC_EEXIST);
    assert_int_equal(t4.calls, SYNC_CONFLICT_TRIES);
    assert_string_equal(out, "untouched");
}

static void expect_host(const char *in, const char *want)
{
    char out[SYNC_CONFLICT_HOST_MAX + 1];
    int n = sync_conflict_host(in, out, sizeof out);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(out, want);
}

static void test_host(void **state)
{
    (void)state;
    expect_host("laptop", "laptop");
    expect_host("my/host", "my-host");
    expect_host("a\tb\nc\x7f", "a-b-c-");
    expect_host("  pad me  ", "pad me");
    expect_host("", "unknown");
    expect_host("   ", "unknown");
    expect_host(NULL, "unknown");
    expect_host("Zoë's Mac", "Zoë's Mac");
    expect_host("bad\xff\xfe utf8", "bad-- utf8");
    expect_host("(x)", "-x-");
    expect_host("a\\b:c*d?e\"f<g>h|i", "a-b-c-d-e-f-g-h-i");
    expect_host("c1\xc2\x85x", "c1-x");
    char longh[200];
    memset(longh, 'h', sizeof longh - 1);
    longh[sizeof longh - 1] = 0;
    char want[SYNC_CONFLICT_HOST_MAX + 1];
    memset(want, 'h', SYNC_CONFLICT_HOST_MAX);
    want[SYNC_CONFLICT_HOST_MAX] = 0;
    expect_host(longh, want);
    /* cut on a character boundary: 63 ASCII bytes then a 2-byte character */
    memset(longh, 'h', 63);
    strcpy(longh + 63, "éé");
    want[63] = 0;
    expect_host(longh, want);
    /* a host longer than SYNC_CONFLICT_HOST_IN_MAX is not read past it */
    char *huge = malloc(100000);
    assert_non_null(huge);
    memset(huge, 'x', 100000); /* no NUL on purpose within the first 1024 */
    huge[99999] = 0;
    char out[SYNC_CONFLICT_HOST_MAX + 1];
    assert_int_equal(sync_conflict_host(huge, out, sizeof out), SYNC_CONFLICT_HOST_MAX);
    free(huge);
    assert_int_equal(sync_conflict_host("x", out, SYNC_CONFLICT_HOST_MAX), SYNC_EINVAL);
    assert_int_equal(sync_conflict_host("x", NULL, 100), SYNC_EINVAL);
    /* the host goes into the name sanitized */
    expect_name("a.txt", "evil/../host)", DAY, "a (conflicted copy 2026-11-28 evil-..-host-).txt");
}

static void test_name_max(void **state)
{
    (void)state;
    char name[SYNC_NAME_MAX + 1], out[SYNC_PATH_MAX + 1];
    size_t n;
    /* a 255-byte name: the base is cut so the result is 255 bytes */
    memset(name, 'a', 251);
    strcpy(name + 251, ".txt");
    assert_int_equal(sync_conflict_name(name, 255, "laptop", DAY, NULL, NULL, out, sizeof out, &n),
                     0);
    assert_int_equal(n, SYNC_NAME_MAX);
    const char *tail = " (conflicted copy 2026-11-28 laptop).txt";
    assert_string_equal(out + n - strlen(tail), tail);
    assert_int_equal(sync_conflict_is_copy(out, n), 1);
    /* a UTF-8 base is cut between characters */
    for (int shift = 0; shift < 3; shift++) {
        size_t k = 0;
        for (int i = 0; i < shift; i++)
            name[k++] = 'x';
        while (k + 3 <= 250) {
            memcpy(name + k, "\xe2\x82\xac", 3); /* euro sign */
            k += 3;
        }
        memcpy(name + k, ".txt", 4);
        k += 4;
        assert_int_equal(sync_conflict_name(name, k, "laptop", DAY, NULL, NULL, out, sizeof out,
                                            &n), 0);
        assert_true(n <= SYNC_NAME_MAX);
        assert_true(n >= SYNC_NAME_MAX - 2);
        assert_int_equal(sync_utf8_valid(out, n), 1);
        assert_int_equal(sync_path_check(out, n), 0);
        assert_int_equal(sync_conflict_is_copy(out, n), 1);
    }
    /* the whole path stays within SYNC_PATH_MAX: the name shrinks */
    char path[SYNC_PATH_MAX + 1];
    size_t k = 0;
    for (int c = 0; c < 4; c++) {
        memset(path + k, 'd', 240);
        k += 240;
        path[k++] = '/';
    } /* 964 bytes of folders */
    memset(path + k, 'f', 50);
    k += 50;
    memcpy(path + k, ".txt", 4);
    k += 4;
    assert_int_equal(sync_conflict_name(path, k, "laptop", DAY, NULL, NULL, out, sizeof out, &n),
                     0);
    assert_int_equal(n, SYNC_PATH_MAX);
    assert_memory_equal(out, path, 964);
    assert_int_equal(sync_path_check(out, n), 0);
    /* folders so deep that the marker cannot fit */
    k = 0;
    for (int c = 0; c < 4; c++) {
        memset(path + k, 'd', 250);
        k += 250;
        path[k++] = '/';
    } /* 1004 bytes */
    memcpy(path + k, "f.txt", 5);
    k += 5;
    strcpy(out, "untouched");
    assert_int_equal(sync_conflict_name(path, k, "laptop", DAY, NULL, NULL, out, sizeof out, &n),
                     SYNC_ETOOLONG);
    assert_string_equal(out, "untouched");
}

static void test_bad_args(void **state)
{
    (void)state;
    char out[SYNC_PATH_MAX + 1];
    assert_int_equal(sync_conflict_name(NULL, 0, "h", DAY, NULL, NULL, out, sizeof out, NULL),
                     SYNC_EINVAL);
    assert_int_equal(sync_conflict_name("a/", 2, "h", DAY, NULL, NULL, out, sizeof out, NULL),
                     SYNC_EINVAL);
    assert_int_equal(sync_conflict_name("..", 2, "h", DAY, NULL, NULL, out, sizeof out, NULL),
                     SYNC_EINVAL);
    assert_int_equal(sync_conflict_name("a", 1, "h", DAY, NULL, NULL, out, SYNC_PATH_MAX, NULL),
                     SYNC_EINVAL);
    assert_int_equal(sync_conflict_name("a", 1, "h", DAY, NULL, NULL, NULL, sizeof out, NULL),
                     SYNC_EINVAL);
    /* years outside 0..9999 */
    assert_int_equal(sync_conflict_name("a", 1, "h", 253402300799LL, NULL, NULL, out, sizeof out,
                                        NULL), 0);
    assert_string_equal(out, "a (conflicted copy 9999-12-31 h)");
    assert_int_equal(sync_conflict_name("a", 1, "h", 253402300800LL, NULL, NULL, out, sizeof out,
                                        NULL), SYNC_EINVAL);
    assert_int_equal(sync_conflict_name("a", 1, "h", INT64_MAX, NULL, NULL, out, sizeof out,
                                        NULL), SYNC_EINVAL);
    assert_int_equal(sync_conflict_name("a", 1, "h", INT64_MIN, NULL, NULL, out, sizeof out,
                                        NULL), SYNC_EINVAL);
}

static void test_is_copy(void **state)
{
    (void)state;
    const char *yes[] = {
        "a (conflicted copy 2026-11-28 laptop).txt",
        "a (conflicted copy 2026-11-28 laptop)",
        "dir/a (conflicted copy 2026-11-28 laptop 12).txt",
        "a (conflicted copy 2026-11-28 my host)",
        "a (conflicted copy 2026-11-27 x) (conflicted copy 2026-11-28 y).gz",
        "a (conflicted copy 2026-11-28 x).b (conflicted copy 2026-11-28 y",
    };
    const char *no[] = {
        "report.docx",
        "a (conflicted copy).txt",
        "a (conflicted copy 2026-11-28 ).txt",
        " (conflicted copy 2026-11-28 x)",
        "(conflicted copy 2026-11-28 x)",
        "a (conflicted copy 2026-1-28 x)",
        "a (conflicted copy 2026-11-28x)",
        "a (conflicted copy 2026-11-28 x.txt",
        "a (conflicted copy 2026-11-28 x).tar.gz",
        "a (conflicted copy 2026-11-28 x).",
        "a (conflicted copy 2026-11-28 x)b",
        "dir (conflicted copy 2026-11-28 x)/file",
        "a (Conflicted Copy 2026-11-28 x)",
        "",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (sync_conflict_is_copy(yes[i], strlen(yes[i])) != 1)
            fail_msg("should be a conflict copy: \"%s\"", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (sync_conflict_is_copy(no[i], strlen(no[i])) != 0)
            fail_msg("should not be a conflict copy: \"%s\"", no[i]);
    assert_int_equal(sync_conflict_is_copy(NULL, 5), 0);
    /* the length bounds the look: the marker past len does not count */
    const char *s = "a (conflicted copy 2026-11-28 x)";
    assert_int_equal(sync_conflict_is_copy(s, strlen(s) - 1), 0);
}

/* Random valid names: the copy is a valid path, a conflict copy, within
 * the limits, and keeps the folder. */
static void test_random(void **state)
{
    (void)state;
    static const char *pieces[] = {"a", "b", ".", " ", "é", "\xe2\x82\xac", "x.y", "(", ")",
                                   "-", "tar", "gz", "\xf0\x9f\x98\x80"};
    unsigned seed = 7;
    char path[SYNC_PATH_MAX + 1], out[SYNC_PATH_MAX + 1];
    for (int round = 0; round < 5000; round++) {
        size_t n = 0;
        int comps = 1 + rand_r(&seed) % 3;
        for (int c = 0; c < comps; c++) {
            if (c)
                path[n++] = '/';
            size_t start = n;
            int want = 1 + rand_r(&seed) % 120;
            for (int k = 0; k < want; k++) {
                const char *p = pieces[rand_r(&seed) % (sizeof pieces / sizeof pieces[0])];
                if (n - start + strlen(p) > SYNC_NAME_MAX)
                    break;
                memcpy(path + n, p, strlen(p));
                n += strlen(p);
            }
        }
        if (sync_path_check(path, n) != 0)
            continue; /* "." or ".." components */
        size_t m = 0;
        int rc = sync_conflict_name(path, n, "host", DAY + rand_r(&seed), NULL, NULL, out,
                                    sizeof out, &m);
        assert_int_equal(rc, 0);
        assert_int_equal(sync_path_check(out, m), 0);
        assert_int_equal(sync_conflict_is_copy(out, m), 1);
        const char *slash = memrchr(path, '/', n);
        size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
        assert_memory_equal(out, path, dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),    cmocka_unit_test(test_numbering),
        cmocka_unit_test(test_host),     cmocka_unit_test(test_name_max),
        cmocka_unit_test(test_bad_args), cmocka_unit_test(test_is_copy),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
