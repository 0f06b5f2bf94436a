/*
 * tests/fuzz/fuzz_sync_ignore.c - the .cairnignore parser and matcher
 * (a .cairnignore arrives from other devices through the server), and the
 * conflict namer on the same paths.
 *
 * Input layout: the bytes before the first "\0\0" are the .cairnignore
 * text (all of the input if there is none); after it, paths separated by
 * '\n', each preceded by one byte whose low bit is is_dir.
 *
 * Properties:
 *   - sync_ignore_new() returns 0 or SYNC_ETOOLONG (then *out untouched);
 *   - for every path: match() and path() both return SYNC_EINVAL /
 *     SYNC_ETOOLONG exactly when sync_path_check() refuses the path, and
 *     0 or 1 otherwise; path() is 1 whenever match() is; a path with a
 *     ".cairn-sync" component is always ignored; judging a path is
 *     deterministic;
 *   - for every valid path: sync_conflict_name() succeeds or says
 *     SYNC_ETOOLONG (only when the folder part leaves no room), and its
 *     result is a valid path in the same folder, within SYNC_NAME_MAX for
 *     the last component, recognised by sync_conflict_is_copy().
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sync-client/sync_conflict.h"
#include "sync-client/sync_ignore.h"
#include "sync-client/sync_path.h"
#include "tests/fuzz/fuzz_check.h"

static int has_daemon_component(const char *p, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        if (i - start == 11 && memcmp(p + start, ".cairn-sync", 11) == 0)
            return 1;
        start = i + 1;
    }
    return 0;
}

static void check_conflict(const char *p, size_t n)
{
    char out[SYNC_PATH_MAX + 1];
    size_t m = 0;
    int rc = sync_conflict_name(p, n, "fuzz host", 1795824000, NULL, NULL, out, sizeof out, &m);
    const char *slash = memrchr(p, '/', n);
    size_t dir = slash ? (size_t)(slash - p) + 1 : 0;
    if (rc == SYNC_ETOOLONG) {
        FUZZ_CHECK(dir > SYNC_PATH_MAX - 80); /* marker + extension + a character */
        return;
    }
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(m == strlen(out));
    FUZZ_CHECK(sync_path_check(out, m) == 0);
    FUZZ_CHECK(memcmp(out, p, dir) == 0);
    FUZZ_CHECK(m - dir <= SYNC_NAME_MAX);
    FUZZ_CHECK(sync_conflict_is_copy(out, m) == 1);
}

static void check_path(const struct sync_ignore *ig, const char *p, size_t n, int is_dir)
{
    int valid = sync_path_check(p, n);
    int r1 = sync_ignore_match(ig, p, n, is_dir);
    int r2 = sync_ignore_path(ig, p, n, is_dir);
    if (valid != 0) {
        FUZZ_CHECK(r1 == valid && r2 == valid);
        return;
    }
    FUZZ_CHECK(r1 == 0 || r1 == 1);
    FUZZ_CHECK(r2 == 0 || r2 == 1);
    FUZZ_CHECK(r1 == 0 || r2 == 1);
    if (has_daemon_component(p, n))
        FUZZ_CHECK(r1 == 1 && r2 == 1);
    FUZZ_CHECK(sync_ignore_match(ig, p, n, is_dir) == r1);
    check_conflict(p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *sep = size >= 2 ? memmem(in, size, "\0\0", 2) : NULL;
    size_t text_len = sep ? (size_t)(sep - in) : size;
    struct sync_ignore *ig = (struct sync_ignore *)&ig; /* must stay untouched on error */
    struct sync_ignore *before = ig;
    size_t bad = 0;
    int rc = sync_ignore_new(in, text_len, &bad, &ig);
    FUZZ_CHECK(rc == 0 || rc == SYNC_ETOOLONG);
    if (rc != 0) {
        FUZZ_CHECK(ig == before);
        return 0;
    }
    FUZZ_CHECK(sync_ignore_rule_count(ig) <= SYNC_IGNORE_RULES_MAX);
    size_t pos = sep ? text_len + 2 : size;
    while (pos < size) {
        int is_dir = data[pos++] & 1;
        const char *nl = memchr(in + pos, '\n', size - pos);
        size_t n = nl ? (size_t)(nl - (in + pos)) : size - pos;
        check_path(ig, in + pos, n, is_dir);
        pos += n + 1;
    }
    sync_ignore_free(ig);
    return 0;
}
