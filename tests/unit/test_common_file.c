/* Unit tests for common/file: atomic replace, mkdir -p, capped reads. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
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

#include "common/file.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/cairn-file-XXXXXX");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static int entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_write_atomic(void **state)
{
    (void)state;
    char path[PATH_MAX];
    struct stat st;
    struct buf b;
    snprintf(path, sizeof path, "%s/f", root);
    assert_int_equal(file_write_atomic(path, "one\n", 4, 0600), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(file_write_atomic(path, "second\n", 7, 0644), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* the umask does not apply */
    assert_int_equal(entries(root), 1);         /* no temporary left */
    buf_init(&b, 64);
    assert_int_equal(file_read(path, &b), 0);
    assert_int_equal(b.len, 7);
    assert_string_equal(b.data, "second\n");
    assert_int_equal(file_write_atomic(path, "", 0, 0600), 0);
    buf_reset(&b);
    assert_int_equal(file_read(path, &b), 0);
    assert_int_equal(b.len, 0);

    /* a folder that is not there: nothing written */
    snprintf(path, sizeof path, "%s/no/f", root);
    assert_int_equal(file_write_atomic(path, "x", 1, 0600), -ENOENT);
    /* a target that cannot be replaced (a non-empty folder): temp removed */
    snprintf(path, sizeof path, "%s/d/sub", root);
    assert_int_equal(file_make_dirs(path, 0700), 0);
    snprintf(path, sizeof path, "%s/d", root);
    assert_true(file_write_atomic(path, "x", 1, 0600) < 0);
    assert_int_equal(entries(root), 2);
    buf_release(&b);
}

static void test_make_dirs_read(void **state)
{
    (void)state;
    char path[PATH_MAX];
    struct stat st;
    struct buf b;
    snprintf(path, sizeof path, "%s/a/b/c", root);
    assert_int_equal(file_make_dirs(path, 0700), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(file_make_dirs(path, 0700), 0); /* exists: fine */
    snprintf(path, sizeof path, "%s/a/b/c/", root);
    assert_int_equal(file_make_dirs(path, 0700), 0);
    assert_int_equal(file_fsync_parent(path), 0);
    assert_int_equal(file_fsync_dir(root), 0);
    assert_int_equal(file_fsync_dir("/nonexistent-cairn-dir"), -ENOENT);

    /* a file in the way */
    snprintf(path, sizeof path, "%s/file", root);
    assert_int_equal(file_write_atomic(path, "0123456789", 10, 0600), 0);
    snprintf(path, sizeof path, "%s/file/x", root);
    assert_int_equal(file_make_dirs(path, 0700), -ENOTDIR);

    /* capped reads append, and leave the buffer as it was when too big */
    snprintf(path, sizeof path, "%s/file", root);
    buf_init(&b, 12);
    buf_puts(&b, "ab");
    assert_int_equal(file_read(path, &b), 0);
    assert_string_equal(b.data, "ab0123456789");
    buf_reset(&b);
    buf_puts(&b, "abc");
    assert_int_equal(file_read(path, &b), -EFBIG);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    snprintf(path, sizeof path, "%s/missing", root);
    assert_int_equal(file_read(path, &b), -ENOENT);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_make_dirs_read, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
