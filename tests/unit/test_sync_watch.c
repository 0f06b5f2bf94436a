/* Unit tests for sync-client/sync_watch: the inotify watcher on a real
 * temporary folder, every file-system change made by the test itself. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

#include "sync-client/sync_path.h"
#include "sync-client/sync_watch.h"

static char root[64];    /* the synced folder */
static char outside[64]; /* a folder beside it */

/* ---- the file system ---- */

static const char *at(const char *rel)
{
    static char p[2][512];
    static int i;
    i ^= 1;
    snprintf(p[i], sizeof p[i], "%s/%s", root, rel);
    return p[i];
}

static void put(const char *rel, const char *text)
{
    FILE *f = fopen(at(rel), "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void dir(const char *rel)
{
    assert_int_equal(mkdir(at(rel), 0755), 0);
}

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

/* ---- what the watcher reports ---- */

struct event {
    char *path;
    unsigned flags;
};

static struct {
    struct event *v;
    size_t n, cap;
    int fail; /* the callback's return value */
} got;

static int collect(void *arg, const char *path, size_t len, unsigned flags)
{
    assert_ptr_equal(arg, &got);
    assert_int_equal(strlen(path), len);
    assert_int_equal(sync_path_check(path, len), 0);
    unsigned kind = flags & (SYNC_WATCH_FINAL | SYNC_WATCH_BUSY | SYNC_WATCH_GONE);
    assert_true(kind == SYNC_WATCH_FINAL || kind == SYNC_WATCH_BUSY || kind == SYNC_WATCH_GONE);
    assert_int_equal(flags & ~(kind | SYNC_WATCH_DIR), 0);
    if (got.fail)
        return got.fail;
    if (got.n == got.cap) {
        got.cap = got.cap ? 2 * got.cap : 64;
        got.v = realloc(got.v, got.cap * sizeof *got.v);
        assert_non_null(got.v);
    }
    got.v[got.n].path = strdup(path);
    assert_non_null(got.v[got.n].path);
    got.v[got.n++].flags = flags;
    return 0;
}

static void forget(void)
{
    for (size_t i = 0; i < got.n; i++)
        free(got.v[i].path);
    got.n = 0;
}

/* Forget what was reported before, then read what is queued now (inotify
 * queues an event before the system call that caused it returns). */
static int drain(struct sync_watch *w)
{
    forget();
    return sync_watch_read(w, collect, &got);
}

/* Was path reported with exactly these flags? */
static int has(const char *path, unsigned flags)
{
    for (size_t i = 0; i < got.n; i++)
        if (strcmp(got.v[i].path, path) == 0 && got.v[i].flags == flags)
            return 1;
    return 0;
}

/* Was path reported as there (FINAL or BUSY)? */
static int seen(const char *path)
{
    for (size_t i = 0; i < got.n; i++)
        if (strcmp(got.v[i].path, path) == 0 && !(got.v[i].flags & SYNC_WATCH_GONE))
            return 1;
    return 0;
}

/* How many reports name prefix or a path below it? */
static size_t under(const char *prefix)
{
    size_t n = 0, len = strlen(prefix);
    for (size_t i = 0; i < got.n; i++)
        n += strncmp(got.v[i].path, prefix, len) == 0 &&
             (got.v[i].path[len] == 0 || got.v[i].path[len] == '/');
    return n;
}

/* Write rel and check that the watcher reports it as final. */
static void put_and_see(struct sync_watch *w, const char *rel)
{
    put(rel, "");
    assert_int_equal(drain(w), 0);
    assert_true(has(rel, SYNC_WATCH_FINAL));
}

/* A watcher on folder that must start. */
static struct sync_watch *start(const char *folder, const struct sync_ignore *ig)
{
    struct sync_watch *w = NULL;
    assert_int_equal(sync_watch_new(folder, ig, &w), 0);
    assert_non_null(w);
    return w;
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/cairn-watch-XXXXXX");
    snprintf(outside, sizeof outside, "/tmp/cairn-watch-out-XXXXXX");
    if (!mkdtemp(root) || !mkdtemp(outside))
        return -1;
    got.fail = 0;
    forget();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    forget();
    free(got.v);
    memset(&got, 0, sizeof got);
    rm_rf(root);
    rm_rf(outside);
    return 0;
}

/* ---- tests ---- */

static void test_files(void **state)
{
    (void)state;
    struct sync_watch *w = start(root, NULL);
    assert_int_equal(sync_watch_count(w), 1);
    assert_int_equal(sync_watch_limit_hit(w), 0);
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 0);

    /* created, written, closed: busy at creation, final at the close */
    put("a.txt", "hello");
    struct pollfd p = {.fd = sync_watch_fd(w), .events = POLLIN};
    assert_int_equal(poll(&p, 1, 0), 1);
    assert_int_equal(drain(w), 0);
    assert_true(has("a.txt", SYNC_WATCH_BUSY));
    assert_true(has("a.txt", SYNC_WATCH_FINAL));
    assert_int_equal(poll(&p, 1, 0), 0);

    /* written and still open: busy, and final only once closed */
    int fd = open(at("big"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    assert_int_equal(drain(w), 0);
    assert_true(has("big", SYNC_WATCH_BUSY));
    assert_false(has("big", SYNC_WATCH_FINAL));
    assert_int_equal(write(fd, "0123456789", 10), 10);
    assert_int_equal(drain(w), 0);
    assert_true(has("big", SYNC_WATCH_BUSY));
    assert_false(has("big", SYNC_WATCH_FINAL));
    assert_int_equal(close(fd), 0);
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 1);
    assert_true(has("big", SYNC_WATCH_FINAL));

    /* touched (attributes), renamed, deleted */
    assert_int_equal(utimensat(AT_FDCWD, at("a.txt"), NULL, 0), 0);
    assert_int_equal(drain(w), 0);
    assert_true(has("a.txt", SYNC_WATCH_FINAL));
    assert_int_equal(rename(at("a.txt"), at("b.txt")), 0);
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 2);
    assert_true(has("a.txt", SYNC_WATCH_GONE));
    assert_true(has("b.txt", SYNC_WATCH_FINAL));
    assert_int_equal(unlink(at("b.txt")), 0);
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 1);
    assert_true(has("b.txt", SYNC_WATCH_GONE));

    /* saved through a temporary: with no rules, the temporary is a file
     * like any other */
    put("doc.tmp", "draft");
    assert_int_equal(rename(at("doc.tmp"), at("doc")), 0);
    assert_int_equal(drain(w), 0);
    assert_true(has("doc.tmp", SYNC_WATCH_FINAL));
    assert_true(has("doc.tmp", SYNC_WATCH_GONE));
    assert_true(has("doc", SYNC_WATCH_FINAL));
    /* with the built-in rules (*.tmp ignored) only the final name is */
    struct sync_ignore *ig = NULL;
    assert_int_equal(sync_ignore_new(NULL, 0, NULL, &ig), 0);
    assert_int_equal(sync_watch_set_ignore(w, ig), 0);
    put("doc.tmp", "draft 2");
    assert_int_equal(rename(at("doc.tmp"), at("doc")), 0);
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 1);
    assert_true(has("doc", SYNC_WATCH_FINAL));

    /* a symlink is final when created, and is not followed */
    assert_int_equal(symlink(outside, at("out")), 0);
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 1);
    assert_true(has("out", SYNC_WATCH_FINAL));
    assert_int_equal(sync_watch_count(w), 1);
    char p2[512];
    snprintf(p2, sizeof p2, "%s/x", outside);
    FILE *f = fopen(p2, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 0);

    /* names the server cannot store are never reported, their folders
     * never watched */
    put("bad\xff", "not UTF-8");
    dir("dir\xfe");
    put("dir\xfe/inner", "below a bad name");
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 0);
    assert_int_equal(sync_watch_count(w), 1);
    char longname[300];
    memset(longname, 'n', 255);
    longname[255] = 0;
    put(longname, "the longest name is fine");
    assert_int_equal(drain(w), 0);
    assert_true(has(longname, SYNC_WATCH_FINAL));

    /* the daemon's own folder is never watched nor reported */
    dir(".cairn-sync");
    put(".cairn-sync/lock", "");
    dir("sub");
    dir("sub/.cairn-sync"); /* a nested synced folder's */
    put("sub/.cairn-sync/index", "");
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 1);
    assert_true(has("sub", SYNC_WATCH_FINAL | SYNC_WATCH_DIR));
    assert_int_equal(sync_watch_count(w), 2);

    sync_watch_free(w);
    sync_ignore_free(ig);
}

/* mkdir -p and files written before any watch on the new folders could
 * exist: the read-through of the new folder finds them. */
static void test_new_tree(void **state)
{
    (void)state;
    struct sync_watch *w = start(root, NULL);
    dir("a");
    dir("a/b");
    dir("a/b/c");
    put("a/b/c/f1", "1");
    put("a/b/f2", "2");
    put("a/f3", "3");
    assert_int_equal(symlink("b", at("a/lnk")), 0);
    assert_int_equal(drain(w), 0);
    assert_true(has("a", SYNC_WATCH_FINAL | SYNC_WATCH_DIR));
    assert_true(has("a/b", SYNC_WATCH_FINAL | SYNC_WATCH_DIR));
    assert_true(has("a/b/c", SYNC_WATCH_FINAL | SYNC_WATCH_DIR));
    assert_true(seen("a/b/c/f1"));
    assert_true(seen("a/b/f2"));
    assert_true(seen("a/f3"));
    assert_true(has("a/lnk", SYNC_WATCH_FINAL));
    assert_int_equal(under("a/lnk"), 1); /* the link was not followed */
    assert_int_equal(sync_watch_count(w), 4);

    /* the new folders are watched now */
    put("a/b/c/f4", "4");
    assert_int_equal(drain(w), 0);
    assert_int_equal(under("a/b/c/f4"), got.n);
    assert_true(has("a/b/c/f4", SYNC_WATCH_BUSY));
    assert_true(has("a/b/c/f4", SYNC_WATCH_FINAL));

    /* a deeper tree made in one go, read before its inner folders exist */
    char rel[256] = "deep";
    dir(rel);
    assert_int_equal(drain(w), 0);
    for (int i = 0; i < 20; i++) {
        strcat(rel, "/d");
        dir(rel);
    }
    strcat(rel, "/leaf");
    put(rel, "x");
    assert_int_equal(drain(w), 0);
    assert_true(seen(rel));
    assert_int_equal(sync_watch_count(w), 4 + 21);
    sync_watch_free(w);
}

static void test_move_and_delete_dir(void **state)
{
    (void)state;
    dir("d");
    dir("d/e");
    put("d/e/f", "f");
    struct sync_watch *w = start(root, NULL);
    assert_int_equal(sync_watch_count(w), 3);

    /* moved within the folder: the old name is gone, the new one is a new
     * folder with everything in it */
    assert_int_equal(rename(at("d"), at("m")), 0);
    assert_int_equal(drain(w), 0);
    assert_true(has("d", SYNC_WATCH_GONE | SYNC_WATCH_DIR));
    assert_int_equal(under("d"), 1);
    assert_true(has("m", SYNC_WATCH_FINAL | SYNC_WATCH_DIR));
    assert_true(has("m/e", SYNC_WATCH_FINAL | SYNC_WATCH_DIR));
    assert_true(has("m/e/f", SYNC_WATCH_BUSY));
    assert_int_equal(sync_watch_count(w), 3);

    /* later changes below it carry the new name */
    put("m/e/g", "g");
    assert_int_equal(unlink(at("m/e/f")), 0);
    assert_int_equal(drain(w), 0);
    assert_true(has("m/e/g", SYNC_WATCH_FINAL));
    assert_true(has("m/e/f", SYNC_WATCH_GONE));
    assert_int_equal(under("d"), 0);

    /* a subfolder renamed in place */
    assert_int_equal(rename(at("m/e"), at("m/e2")), 0);
    put("m/e2/h", "h");
    assert_int_equal(drain(w), 0);
    assert_true(has("m/e", SYNC_WATCH_GONE | SYNC_WATCH_DIR));
    assert_true(has("m/e2", SYNC_WATCH_FINAL | SYNC_WATCH_DIR));
    assert_true(seen("m/e2/g"));
    assert_true(seen("m/e2/h"));
    assert_int_equal(under("m/e"), 1);
    assert_int_equal(sync_watch_count(w), 3);

    /* moved out of the folder: gone, and no longer watched */
    char there[128];
    snprintf(there, sizeof there, "%s/m", outside);
    assert_int_equal(rename(at("m"), there), 0);
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 1);
    assert_true(has("m", SYNC_WATCH_GONE | SYNC_WATCH_DIR));
    assert_int_equal(sync_watch_count(w), 1);
    char p[160];
    snprintf(p, sizeof p, "%s/e2/outside-edit", there);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 0);

    /* moved back in under another name: all of it is new */
    assert_int_equal(rename(there, at("n")), 0);
    assert_int_equal(drain(w), 0);
    assert_true(has("n", SYNC_WATCH_FINAL | SYNC_WATCH_DIR));
    assert_true(has("n/e2", SYNC_WATCH_FINAL | SYNC_WATCH_DIR));
    assert_true(seen("n/e2/g"));
    assert_true(seen("n/e2/h"));
    assert_true(seen("n/e2/outside-edit"));
    assert_int_equal(sync_watch_count(w), 3);

    /* deleted: gone, watches dropped */
    rm_rf(at("n"));
    assert_int_equal(drain(w), 0);
    assert_true(has("n", SYNC_WATCH_GONE | SYNC_WATCH_DIR));
    assert_true(has("n/e2", SYNC_WATCH_GONE | SYNC_WATCH_DIR));
    assert_true(has("n/e2/g", SYNC_WATCH_GONE));
    assert_int_equal(sync_watch_count(w), 1);

    /* a new folder of the same name is watched afresh */
    dir("n");
    put("n/again", "");
    assert_int_equal(drain(w), 0);
    assert_true(has("n", SYNC_WATCH_FINAL | SYNC_WATCH_DIR));
    assert_true(seen("n/again"));
    assert_int_equal(sync_watch_count(w), 2);
    sync_watch_free(w);
}

static void test_ignore(void **state)
{
    (void)state;
    put(".cairnignore", "node_modules/\nbuild/\n");
    dir("node_modules");
    dir("node_modules/pkg");
    put("node_modules/pkg/x.js", "x");
    char path[128];
    snprintf(path, sizeof path, "%s/.cairnignore", root);
    struct sync_ignore *ig = NULL, *fewer = NULL;
    assert_int_equal(sync_ignore_new_from_file(path, NULL, &ig), 0);
    struct sync_watch *w = start(root, ig);
    assert_int_equal(sync_watch_count(w), 1);

    /* nothing in an ignored folder, old or new, is watched or reported */
    put("node_modules/pkg/y.js", "y");
    dir("build");
    dir("build/sub");
    put("build/sub/out.o", "o");
    put("notes.tmp", "a built-in rule");
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 0);
    assert_int_equal(sync_watch_count(w), 1);
    put_and_see(w, "kept.txt");

    /* .cairnignore edited: the folder is included again */
    put(".cairnignore", "build/\n");
    assert_int_equal(drain(w), 0);
    assert_true(has(".cairnignore", SYNC_WATCH_FINAL));
    assert_int_equal(sync_ignore_new_from_file(path, NULL, &fewer), 0);
    assert_int_equal(sync_watch_set_ignore(w, fewer), 0);
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 0); /* the engine rescans after new rules */
    assert_int_equal(sync_watch_count(w), 3);
    put_and_see(w, "node_modules/pkg/z.js");

    /* and ignored again: its watches go */
    assert_int_equal(sync_watch_set_ignore(w, ig), 0);
    sync_ignore_free(fewer);
    assert_int_equal(sync_watch_count(w), 1);
    put("node_modules/pkg/w.js", "w");
    assert_int_equal(drain(w), 0);
    assert_int_equal(got.n, 0);
    sync_watch_free(w);
    sync_ignore_free(ig);
}

static long proc_number(const char *path)
{
    long v = -1;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* More events than the kernel queues: the read says rescan, and the
 * watcher has walked the tree again (a folder made while events were
 * being dropped is watched). */
static void test_overflow(void **state)
{
    (void)state;
    long max = proc_number("/proc/sys/fs/inotify/max_queued_events");
    if (max <= 0 || max > (1L << 20)) {
        print_message("max_queued_events %ld: overflow not tested\n", max);
        skip();
    }
    put("a", "");
    put("b", "");
    struct sync_watch *w = start(root, NULL);
    /* alternate the names: inotify merges an event only with an identical
     * one just before it */
    for (long i = 0; i <= max; i++)
        assert_int_equal(utimensat(AT_FDCWD, at(i & 1 ? "a" : "b"), NULL, 0), 0);
    dir("late");
    put("late/f", "");
    int rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++)
        rc = drain(w);
    assert_int_equal(rc, SYNC_WATCH_RESCAN);
    assert_false(seen("late"));
    assert_int_equal(sync_watch_count(w), 2);
    assert_int_equal(drain(w), 0);
    put_and_see(w, "late/g");
    sync_watch_free(w);
}

/* A callback that fails: its error comes back, the watches are still
 * kept up to date, and the next read asks for a rescan. */
static void test_callback_error(void **state)
{
    (void)state;
    struct sync_watch *w = start(root, NULL);
    dir("x");
    dir("x/y");
    put("x/y/z", "");
    got.fail = -ENOMEM;
    assert_int_equal(drain(w), -ENOMEM);
    got.fail = 0;
    assert_int_equal(sync_watch_count(w), 3);
    assert_int_equal(drain(w), SYNC_WATCH_RESCAN);
    assert_int_equal(drain(w), 0);
    put_and_see(w, "x/y/later");
    sync_watch_free(w);
}

/* The folder itself deleted: a rescan (which will find it missing), then
 * nothing is watched. */
static void test_root_gone(void **state)
{
    (void)state;
    char inner[128];
    snprintf(inner, sizeof inner, "%s/folder", outside);
    assert_int_equal(mkdir(inner, 0755), 0);
    struct sync_watch *w = start(inner, NULL);
    assert_int_equal(rmdir(inner), 0);
    assert_int_equal(drain(w), SYNC_WATCH_RESCAN);
    assert_int_equal(sync_watch_count(w), 0);
    assert_int_equal(sync_watch_refresh(w), -ENOENT);
    /* back again: refresh watches it */
    assert_int_equal(mkdir(inner, 0755), 0);
    assert_int_equal(sync_watch_refresh(w), 0);
    assert_int_equal(sync_watch_count(w), 1);
    snprintf(inner, sizeof inner, "%s/folder/new", outside);
    FILE *f = fopen(inner, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(drain(w), 0);
    assert_true(has("new", SYNC_WATCH_FINAL));
    sync_watch_free(w);
}

static void test_args(void **state)
{
    (void)state;
    struct sync_watch *w = NULL;
    assert_int_equal(sync_watch_new(NULL, NULL, &w), SYNC_EINVAL);
    assert_int_equal(sync_watch_new("", NULL, &w), SYNC_EINVAL);
    assert_int_equal(sync_watch_new(root, NULL, NULL), SYNC_EINVAL);
    assert_int_equal(sync_watch_new("/nonexistent-cairn-watch", NULL, &w), -ENOENT);
    put("file", "");
    assert_int_equal(sync_watch_new(at("file"), NULL, &w), -ENOTDIR);
    assert_null(w);
    sync_watch_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_and_delete_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_args, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
