/* Unit tests for sync-client/sync_scan: what one walk of a folder reports
 * and what it skips. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "sync-client/sync_scan.h"

static char root[64];

static void touch(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void dir(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static int find_problem(const struct sync_scan *s, const char *path, int err)
{
    for (size_t i = 0; i < s->nproblems; i++)
        if (strcmp(s->problems[i].path, path) == 0 && s->problems[i].err == err)
            return 1;
    return 0;
}

static void test_scan(void **state)
{
    (void)state;
    char p[256];
    snprintf(root, sizeof root, "/tmp/cairn-scan-XXXXXX");
    assert_non_null(mkdtemp(root));
    touch("a.txt", "hello");
    dir("b");
    touch("b/c.txt", "");
    dir("b/d");
    dir("node_modules");
    touch("node_modules/x.js", "x");
    touch("notes.tmp", "editor temp");
    dir(".cairn-sync");
    touch(".cairn-sync/lock", "");
    snprintf(p, sizeof p, "%s/link", root);
    assert_int_equal(symlink("a.txt", p), 0);
    snprintf(p, sizeof p, "%s/pipe", root);
    assert_int_equal(mkfifo(p, 0644), 0);
    touch("bad\xff", "not UTF-8");
    touch(".hidden", "dot files are synced");

    struct sync_ignore *ig = NULL;
    const char *rules = "node_modules/\n";
    assert_int_equal(sync_ignore_new(rules, strlen(rules), NULL, &ig), 0);
    struct sync_scan s;
    assert_int_equal(sync_scan_folder(root, ig, &s), 0);

    static const char *want[] = {".hidden", "a.txt", "b", "b/c.txt", "b/d", "link"};
    static const uint8_t kinds[] = {SYNC_KIND_FILE, SYNC_KIND_FILE, SYNC_KIND_DIR,
                                    SYNC_KIND_FILE, SYNC_KIND_DIR, SYNC_KIND_SYMLINK};
    assert_int_equal(s.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < s.n; i++) {
        assert_string_equal(s.v[i].path, want[i]);
        assert_int_equal(s.v[i].st.kind, kinds[i]);
    }
    assert_int_equal(s.v[1].st.size, 5);
    assert_true(s.v[1].st.mtime_ns > 0 && s.v[1].st.inode > 0);
    assert_int_equal(s.v[5].st.size, 5); /* a link's size: its target's length */
    assert_true(find_problem(&s, "pipe", SYNC_EINVAL));
    assert_true(find_problem(&s, "bad\xff", SYNC_EINVAL));
    assert_int_equal(s.nproblems, 2);
    sync_scan_release(&s);
    assert_null(s.v);

    /* no rules: the ignored folder is there; .cairn-sync never is */
    assert_int_equal(sync_scan_folder(root, NULL, &s), 0);
    int saw_nm = 0, saw_state = 0;
    for (size_t i = 0; i < s.n; i++) {
        saw_nm |= strcmp(s.v[i].path, "node_modules/x.js") == 0;
        saw_state |= strncmp(s.v[i].path, ".cairn-sync", 11) == 0;
    }
    assert_true(saw_nm);
    assert_false(saw_state);
    sync_scan_release(&s);

    assert_int_equal(sync_scan_folder("/nonexistent-cairn-scan", NULL, &s), -ENOENT);
    sync_ignore_free(ig);
    snprintf(p, sizeof p, "rm -rf %s", root);
    assert_int_equal(system(p), 0);
}

/* A folder with nothing to sync (only the daemon's own folder). */
static void test_scan_empty(void **state)
{
    (void)state;
    struct sync_scan s;
    char p[128];
    snprintf(root, sizeof root, "/tmp/cairn-scan-empty-XXXXXX");
    assert_non_null(mkdtemp(root));
    dir(".cairn-sync");
    assert_int_equal(sync_scan_folder(root, NULL, &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.nproblems, 0);
    sync_scan_release(&s);
    snprintf(p, sizeof p, "rm -rf %s", root);
    assert_int_equal(system(p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_scan_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
