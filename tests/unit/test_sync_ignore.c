/* Unit tests for sync-client/sync_ignore: the built-in list, gitignore
 * syntax (comments, escapes, negation, anchoring, directories, wildcards,
 * classes, "**"), limits, files, and random input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sync-client/sync_ignore.h"

/* Build a rule set from text (NUL-terminated) or fail the test. */
static struct sync_ignore *rules(const char *text)
{
    struct sync_ignore *ig = NULL;
    size_t bad = 99;
    assert_int_equal(sync_ignore_new(text, text ? strlen(text) : 0, &bad, &ig), 0);
    assert_non_null(ig);
    return ig;
}

static int file_ignored(const struct sync_ignore *ig, const char *path)
{
    return sync_ignore_match(ig, path, strlen(path), 0);
}

static int dir_ignored(const struct sync_ignore *ig, const char *path)
{
    return sync_ignore_match(ig, path, strlen(path), 1);
}

struct ignore_case {
    const char *path;
    int is_dir;
    int want;
};

/* Check every case of a table against one rule text. */
static void check_cases(const char *text, const struct ignore_case *c, size_t n)
{
    struct sync_ignore *ig = rules(text);
    for (size_t i = 0; i < n; i++) {
        int got = sync_ignore_match(ig, c[i].path, strlen(c[i].path), c[i].is_dir);
        if (got != c[i].want)
            fail_msg("rules %s: path \"%s\" (dir %d): got %d, want %d", text, c[i].path,
                     c[i].is_dir, got, c[i].want);
    }
    sync_ignore_free(ig);
}

#define CHECK(text, ...)                                                  \
    do {                                                                  \
        static const struct ignore_case cases_[] = {__VA_ARGS__};         \
        check_cases(text, cases_, sizeof cases_ / sizeof cases_[0]);      \
    } while (0)

static void test_builtin(void **state)
{
    (void)state;
    CHECK(NULL,
          {"notes.txt~", 0, 1}, {"a/b/.notes.txt.swp", 0, 1}, {".x.swo", 0, 1},
          {".x.swx", 0, 1}, {"build.tmp", 0, 1}, {".~lock.report.odt#", 0, 1},
          {"~$report.docx", 0, 1}, {".#file.el", 0, 1}, {"#file.el#", 0, 1},
          {".DS_Store", 0, 1}, {"photos/Thumbs.db", 0, 1}, {"desktop.ini", 0, 1},
          {"4913", 0, 1}, {"a/4913", 0, 1}, {"movie.mkv.part", 0, 1}, {"x.crdownload", 0, 1},
          {"d/.cairn-sync-tmp-00ab12", 0, 1},
          /* look-alikes that are real files */
          {"report.docx", 0, 0}, {"x.swp", 0, 0}, {"tmp", 0, 0}, {"4913x", 0, 0},
          {"part", 0, 0}, {"#notes", 0, 0}, {"a~b", 0, 0}, {"DS_Store", 0, 0},
          {"x.tmp.txt", 0, 0}, {"~report", 0, 0});
    /* the daemon's folder, at any depth, file or directory */
    CHECK(NULL, {".cairn-sync", 1, 1}, {".cairn-sync/index/data.mdb", 0, 1},
          {"a/.cairn-sync", 1, 1}, {"a/.cairn-sync/x", 0, 1}, {".cairn-sync", 0, 1},
          {".cairn-syncx", 1, 0}, {"x.cairn-sync", 1, 0});
    /* built-ins can be included again; the daemon's folder cannot */
    CHECK("!*.tmp\n!.cairn-sync\n!.cairn-sync/**\n!**\n",
          {"build.tmp", 0, 0}, {"a~", 0, 0}, {".cairn-sync", 1, 1},
          {".cairn-sync/index/data.mdb", 0, 1});
    struct sync_ignore *ig = rules(NULL);
    assert_int_equal(sync_ignore_rule_count(ig), 0);
    sync_ignore_free(ig);
}

static void test_lines(void **state)
{
    (void)state;
    struct sync_ignore *ig = rules("# a comment\n\n   \n\t\n#*.c\n");
    assert_int_equal(sync_ignore_rule_count(ig), 1); /* "\t" is a pattern */
    assert_int_equal(file_ignored(ig, "x.c"), 0);
    assert_int_equal(file_ignored(ig, "\t"), 1);
    sync_ignore_free(ig);
    /* escaped '#' and '!', trailing spaces, CR, BOM, no final newline */
    CHECK("\\#hash\n\\!bang\nspaced   \nkeep\\ \nwin\r\nlast",
          {"#hash", 0, 1}, {"!bang", 0, 1}, {"bang", 0, 0}, {"spaced", 0, 1},
          {"spaced ", 0, 0}, {"keep ", 0, 1}, {"keep", 0, 0}, {"win", 0, 1}, {"last", 0, 1});
    CHECK("\xef\xbb\xbf*.bak\n", {"a.bak", 0, 1}, {"b/c.bak", 0, 1});
    /* an escaped backslash before trailing spaces: the spaces go */
    CHECK("a\\\\  \n", {"a\\", 0, 1}, {"a\\  ", 0, 0});
    /* lines that are no rule */
    ig = rules("!\n/\n!/\n#\n");
    assert_int_equal(sync_ignore_rule_count(ig), 0);
    sync_ignore_free(ig);
}

static void test_negation(void **state)
{
    (void)state;
    CHECK("*.log\n!keep.log\n",
          {"a.log", 0, 1}, {"keep.log", 0, 0}, {"x/keep.log", 0, 0}, {"x/a.log", 0, 1});
    /* the last matching rule wins */
    CHECK("!keep.log\n*.log\n", {"keep.log", 0, 1});
    CHECK("*\n!*.md\n!docs/\n", {"a.c", 0, 1}, {"README.md", 0, 0}, {"docs", 1, 0},
          {"docs", 0, 1});
}

static void test_anchoring(void **state)
{
    (void)state;
    CHECK("/build\nbin\ndoc/frotz\n/src/*.o\n",
          {"build", 1, 1}, {"src/build", 1, 0}, {"bin", 1, 1}, {"a/b/bin", 0, 1},
          {"doc/frotz", 0, 1}, {"a/doc/frotz", 0, 0}, {"src/x.o", 0, 1},
          {"src/a/x.o", 0, 0}, {"x.o", 0, 0});
}

static void test_dir_only(void **state)
{
    (void)state;
    CHECK("logs/\n/out/\na/b/\n",
          {"logs", 1, 1}, {"logs", 0, 0}, {"x/logs", 1, 1}, {"out", 1, 1}, {"x/out", 1, 0},
          {"a/b", 1, 1}, {"a/b", 0, 0}, {"x/a/b", 1, 0});
}

static void test_wildcards(void **state)
{
    (void)state;
    CHECK("*.c\na/*.h\n?.txt\nfoo*\nx/y?z\n",
          {"main.c", 0, 1}, {"a/b/main.c", 0, 1}, {".c", 0, 1}, {"main.cc", 0, 0},
          {"a/x.h", 0, 1}, {"a/b/x.h", 0, 0}, {"x.h", 0, 0},
          {"a.txt", 0, 1}, {"ab.txt", 0, 0}, {".txt", 0, 0},
          {"foo", 0, 1}, {"foobar", 0, 1}, {"a/foobar", 0, 1}, {"barfoo", 0, 0},
          {"x/y_z", 0, 1}, {"x/y/z", 0, 0});
    CHECK("a*b*c*d\n", {"abcd", 0, 1}, {"aXbYcZd", 0, 1}, {"abdc", 0, 0}, {"a/bcd", 0, 0});
}

static void test_classes(void **state)
{
    (void)state;
    CHECK("[abc].txt\n[a-c]x\n[!a]y\n[^a]w\n[]]z\n[a-]v\n[[:digit:]]*.log\n[\\]q]u\n",
          {"a.txt", 0, 1}, {"d.txt", 0, 0}, {"bx", 0, 1}, {"dx", 0, 0},
          {"by", 0, 1}, {"ay", 0, 0}, {"bw", 0, 1}, {"aw", 0, 0},
          {"]z", 0, 1}, {"az", 0, 0}, {"-v", 0, 1}, {"av", 0, 1}, {"bv", 0, 0},
          {"1x.log", 0, 1}, {"x1.log", 0, 0}, {"]u", 0, 1}, {"qu", 0, 1}, {"\\u", 0, 0});
    /* a class never matches '/'; an unclosed class or bad name matches nothing */
    CHECK("d[!x]e\n[abc\nq[[:nope:]]\nr[z-a]\n",
          {"d/e", 0, 0}, {"dqe", 0, 1}, {"[abc", 0, 0}, {"a", 0, 0}, {"qa", 0, 0},
          {"rz", 0, 0}, {"ra", 0, 0});
    CHECK("[[:upper:]][[:lower:]]\n[[:space:][:punct:]]x\n",
          {"Ab", 0, 1}, {"ab", 0, 0}, {" x", 0, 1}, {",x", 0, 1}, {"ax", 0, 0});
}

static void test_double_star(void **state)
{
    (void)state;
    CHECK("**/foo\n**/bar/baz\nabc/**\na/**/b\nq**r\n",
          {"foo", 0, 1}, {"x/foo", 0, 1}, {"x/y/foo", 1, 1}, {"xfoo", 0, 0},
          {"bar/baz", 0, 1}, {"x/bar/baz", 0, 1}, {"bar/x/baz", 0, 0},
          {"abc/x", 0, 1}, {"abc/x/y", 0, 1}, {"abc", 1, 0},
          {"a/b", 0, 1}, {"a/x/b", 0, 1}, {"a/x/y/b", 0, 1}, {"a/xb", 0, 0}, {"ax/b", 0, 0},
          {"qr", 0, 1}, {"qxxr", 0, 1}, {"q/r", 0, 0});
    CHECK("**\n", {"a", 0, 1}, {"a/b/c", 0, 1});
    CHECK("/**/x\n", {"x", 0, 1}, {"a/b/x", 0, 1});
    CHECK("a/**/\n", {"a/b", 1, 1}, {"a/b", 0, 0}, {"a/b/c", 1, 1});
    CHECK("**/a/**/b/**\n", {"a/b/c", 0, 1}, {"x/a/y/b/z/w", 0, 1}, {"a/b", 1, 0});
}

static void test_escapes(void **state)
{
    (void)state;
    CHECK("\\*\n\\?x\nfoo\\\n\\[a]\n", {"*", 0, 1}, {"a", 0, 0}, {"?x", 0, 1}, {"ax", 0, 0},
          {"foo", 0, 0}, {"foo\\", 0, 0}, {"[a]", 0, 1}, {"a", 0, 0});
}

static void test_ancestors(void **state)
{
    (void)state;
    struct sync_ignore *ig = rules("build/\n!build/keep.c\nnode_modules\n");
    const char *p = "build/x/y.c";
    assert_int_equal(sync_ignore_match(ig, p, strlen(p), 0), 0);
    assert_int_equal(sync_ignore_path(ig, p, strlen(p), 0), 1);
    p = "build/keep.c"; /* cannot be included again below an ignored directory */
    assert_int_equal(sync_ignore_match(ig, p, strlen(p), 0), 0);
    assert_int_equal(sync_ignore_path(ig, p, strlen(p), 0), 1);
    p = "web/node_modules/react/index.js";
    assert_int_equal(sync_ignore_path(ig, p, strlen(p), 0), 1);
    p = "web/src/index.js";
    assert_int_equal(sync_ignore_path(ig, p, strlen(p), 0), 0);
    p = "build"; /* a file named build is not the directory */
    assert_int_equal(sync_ignore_path(ig, p, strlen(p), 0), 0);
    p = "x/.cairn-sync/y/z";
    assert_int_equal(sync_ignore_path(ig, p, strlen(p), 0), 1);
    sync_ignore_free(ig);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct sync_ignore *ig = rules("*.o\n");
    assert_int_equal(sync_ignore_match(NULL, "a", 1, 0), SYNC_EINVAL);
    assert_int_equal(sync_ignore_path(NULL, "a", 1, 0), SYNC_EINVAL);
    assert_int_equal(sync_ignore_match(ig, NULL, 0, 0), SYNC_EINVAL);
    assert_int_equal(sync_ignore_match(ig, "", 0, 0), SYNC_EINVAL);
    const char *bad[] = {"/abs.o", "a//b.o", "a/", "./a.o", "a/../b.o", "..", "\xff.o",
                         "a\xc0\x80.o"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sync_ignore_match(ig, bad[i], strlen(bad[i]), 0), SYNC_EINVAL);
        assert_int_equal(sync_ignore_path(ig, bad[i], strlen(bad[i]), 0), SYNC_EINVAL);
    }
    assert_int_equal(sync_ignore_match(ig, "a\0b", 3, 0), SYNC_EINVAL);
    char longp[SYNC_PATH_MAX + 2];
    memset(longp, 'a', sizeof longp);
    for (size_t i = 100; i < sizeof longp; i += 100)
        longp[i] = '/';
    assert_int_equal(sync_ignore_match(ig, longp, SYNC_PATH_MAX + 1, 0), SYNC_ETOOLONG);
    longp[SYNC_PATH_MAX - 2] = '.';
    longp[SYNC_PATH_MAX - 1] = 'o';
    assert_int_equal(sync_ignore_match(ig, longp, SYNC_PATH_MAX, 0), 1);
    memset(longp, 'b', 256); /* a 256-byte component */
    assert_int_equal(sync_ignore_match(ig, longp, 256, 0), SYNC_ETOOLONG);
    sync_ignore_free(ig);
    /* NUL bytes inside the text are harmless */
    ig = NULL;
    assert_int_equal(sync_ignore_new("a\0b\n*.x", 7, NULL, &ig), 0);
    assert_int_equal(file_ignored(ig, "q.x"), 1);
    sync_ignore_free(ig);
    assert_int_equal(sync_ignore_new(NULL, 3, NULL, &ig), SYNC_EINVAL);
    assert_int_equal(sync_ignore_new("x", 1, NULL, NULL), SYNC_EINVAL);
    sync_ignore_free(NULL);
    assert_int_equal(sync_ignore_rule_count(NULL), 0);
}

static void test_limits(void **state)
{
    (void)state;
    struct sync_ignore *ig = NULL;
    size_t bad = 99;
    size_t big = SYNC_IGNORE_TEXT_MAX + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '\n', big);
    assert_int_equal(sync_ignore_new(text, big, &bad, &ig), SYNC_ETOOLONG);
    assert_int_equal(bad, 0);
    assert_null(ig);
    /* a line of exactly SYNC_IGNORE_LINE_MAX bytes is fine, one more is not */
    memset(text, 'a', SYNC_IGNORE_LINE_MAX);
    assert_int_equal(sync_ignore_new(text, SYNC_IGNORE_LINE_MAX, &bad, &ig), 0);
    sync_ignore_free(ig);
    ig = NULL;
    memcpy(text, "x\ny\n", 4);
    memset(text + 4, '*', SYNC_IGNORE_LINE_MAX + 1);
    assert_int_equal(sync_ignore_new(text, SYNC_IGNORE_LINE_MAX + 5, &bad, &ig), SYNC_ETOOLONG);
    assert_int_equal(bad, 3);
    assert_null(ig);
    /* the rule count */
    size_t n = 0;
    for (int i = 0; i < SYNC_IGNORE_RULES_MAX; i++)
        n += (size_t)sprintf(text + n, "r%d\n", i);
    assert_int_equal(sync_ignore_new(text, n, &bad, &ig), 0);
    assert_int_equal(sync_ignore_rule_count(ig), SYNC_IGNORE_RULES_MAX);
    assert_int_equal(file_ignored(ig, "r4095"), 1);
    assert_int_equal(file_ignored(ig, "r4096"), 0);
    sync_ignore_free(ig);
    ig = NULL;
    n += (size_t)sprintf(text + n, "\n# fine\nlast\n");
    assert_int_equal(sync_ignore_new(text, n, &bad, &ig), SYNC_ETOOLONG);
    assert_int_equal(bad, SYNC_IGNORE_RULES_MAX + 3);
    free(text);
}

static void test_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-ignore-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/.cairnignore", dir);
    struct sync_ignore *ig = NULL;
    size_t bad = 99;
    /* missing: built-in rules only */
    assert_int_equal(sync_ignore_new_from_file(path, &bad, &ig), 0);
    assert_int_equal(sync_ignore_rule_count(ig), 0);
    assert_int_equal(file_ignored(ig, "x.tmp"), 1);
    sync_ignore_free(ig);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# build output\n/build/\n*.o\n", f);
    fclose(f);
    assert_int_equal(sync_ignore_new_from_file(path, &bad, &ig), 0);
    assert_int_equal(sync_ignore_rule_count(ig), 2);
    assert_int_equal(dir_ignored(ig, "build"), 1);
    assert_int_equal(file_ignored(ig, "src/a.o"), 1);
    sync_ignore_free(ig);
    ig = NULL;
    /* too big */
    f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i <= SYNC_IGNORE_TEXT_MAX / 8; i++)
        fputs("*.abcd\n\n", f);
    fclose(f);
    assert_int_equal(sync_ignore_new_from_file(path, &bad, &ig), SYNC_ETOOLONG);
    assert_int_equal(bad, 0);
    assert_null(ig);
    /* a directory cannot be read */
    assert_int_equal(sync_ignore_new_from_file(dir, &bad, &ig), -EISDIR);
    assert_int_equal(sync_ignore_new_from_file(NULL, &bad, &ig), SYNC_EINVAL);
    unlink(path);
    rmdir(dir);
}

/* Random pattern texts and paths: never a crash, answers 0 or 1, and a
 * fixed time bound even for patterns made to backtrack. */
static void test_random(void **state)
{
    (void)state;
    static const char pat_chars[] = "ab*?[]!^-/\\# \n:.\r";
    static const char path_chars[] = "ab/.*?[]\\ -#";
    unsigned seed = 12345;
    char text[512], path[64];
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(rand_r(&seed) % (sizeof text));
        for (size_t i = 0; i < n; i++)
            text[i] = pat_chars[rand_r(&seed) % (sizeof pat_chars - 1)];
        struct sync_ignore *ig = NULL;
        assert_int_equal(sync_ignore_new(text, n, NULL, &ig), 0);
        for (int k = 0; k < 20; k++) {
            size_t m = 1 + (size_t)(rand_r(&seed) % (sizeof path - 1));
            for (size_t i = 0; i < m; i++)
                path[i] = path_chars[rand_r(&seed) % (sizeof path_chars - 1)];
            int is_dir = rand_r(&seed) & 1;
            int r1 = sync_ignore_match(ig, path, m, is_dir);
            int r2 = sync_ignore_path(ig, path, m, is_dir);
            assert_true(r1 == 0 || r1 == 1 || r1 == SYNC_EINVAL);
            assert_true(r2 == 0 || r2 == 1 || r2 == SYNC_EINVAL);
            assert_true(r1 != SYNC_EINVAL || r2 == SYNC_EINVAL);
            assert_true(r1 != 1 || r2 == 1); /* ancestors only add */
        }
        sync_ignore_free(ig);
    }
    /* a pattern that would make a backtracking matcher crawl */
    char evil[SYNC_IGNORE_LINE_MAX + 1];
    size_t n = 0;
    while (n + 2 < SYNC_IGNORE_LINE_MAX - 2) {
        evil[n++] = '*';
        evil[n++] = 'a';
    }
    evil[n++] = 'b';
    struct sync_ignore *ig = NULL;
    assert_int_equal(sync_ignore_new(evil, n, NULL, &ig), 0);
    char subject[SYNC_NAME_MAX];
    memset(subject, 'a', sizeof subject);
    subject[sizeof subject - 1] = 'c';
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(sync_ignore_match(ig, subject, sizeof subject, 0), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs < 5.0);
    sync_ignore_free(ig);
}

/* The daemon asks for every path of every scan: the common case must be
 * cheap (quick rejects), so a typical rule set on many paths is fast. */
static void test_many_paths(void **state)
{
    (void)state;
    struct sync_ignore *ig = rules("node_modules/\n*.o\n/build/\n**/cache/**\n!important.o\n");
    char path[128];
    int ignored = 0;
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(path, sizeof path, "src/module%d/file%d.%s", i % 100, i,
                         i % 3 == 0 ? "o" : "c");
        int r = sync_ignore_path(ig, path, (size_t)n, 0);
        assert_true(r == 0 || r == 1);
        ignored += r;
    }
    assert_int_equal(ignored, 33334);
    sync_ignore_free(ig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin),   cmocka_unit_test(test_lines),
        cmocka_unit_test(test_negation),  cmocka_unit_test(test_anchoring),
        cmocka_unit_test(test_dir_only),  cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_classes),   cmocka_unit_test(test_double_star),
        cmocka_unit_test(test_escapes),   cmocka_unit_test(test_ancestors),
        cmocka_unit_test(test_bad_input), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_file),      cmocka_unit_test(test_random),
        cmocka_unit_test(test_many_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
