/* Unit tests for sync-client/sync_plan: every row of the decision table
 * in sync_plan.h (table-driven), the content comparisons behind them, the
 * commit ETag, and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/hash.h"
#include "sync-client/sync_plan.h"

#define SEC 1000000000LL
#define T0 (1764300000LL * SEC) /* mtime at the last sync */

/* Three contents of 100 bytes (60 + 40), and one of 150. */
static struct sync_chunk_ref content_a[2], content_b[2], content_c[2], content_d[2];

static void content_make(struct sync_chunk_ref c[2], uint8_t tag, uint32_t len0, uint32_t len1)
{
    memset(c, 0, 2 * sizeof *c);
    memset(c[0].id, tag, SYNC_CHUNK_ID_LEN);
    memset(c[1].id, tag + 1, SYNC_CHUNK_ID_LEN);
    c[0].len = len0;
    c[1].len = len1;
}

static void etag_of(const struct sync_chunk_ref *c, uint32_t n, char *out, int quoted)
{
    char bare[SYNC_PLAN_ETAG_LEN + 1];
    assert_int_equal(sync_plan_commit_etag(c, n, bare), 0);
    snprintf(out, SYNC_ETAG_MAX + 1, quoted ? "\"%s\"" : "%s", bare);
}

/* ---- fixtures ---- */

static struct sync_entry ix_file, ix_racy, ix_racy_ahead, ix_future, ix_unknown_time, ix_dir,
    ix_nover;
static struct sync_disk d_same, d_touched, d_touched_nocontent, d_inode, d_edited_b,
    d_edited_size, d_edited_size_c, d_moving, d_short_read, d_symlink, d_racy_same,
    d_racy_nocontent, d_racy_b, d_new_b, d_new_nocontent, d_new_empty, d_new_dir, d_new_md5,
    d_older_edit, d_dir_moved, d_vanishing_inode;
static struct sync_server s_same, s_same_quoted, s_changed_c, s_changed_b, s_version_only,
    s_no_version, s_b, s_c, s_size_200, s_empty, s_dir, s_md5, s_md5_other, s_multipart,
    s_c150, s_kind_none;

static struct sync_stat stat_of(uint8_t kind, uint64_t size, int64_t mtime, uint64_t inode)
{
    return (struct sync_stat){.kind = kind, .mode = 0644, .size = size, .mtime_ns = mtime,
                              .inode = inode};
}

static struct sync_disk disk_of(struct sync_stat st, const struct sync_chunk_ref *c)
{
    struct sync_disk d = {.st = st, .looked_again = 1, .again = st};
    if (c) {
        d.has_content = 1;
        d.chunks = c;
        d.nchunks = 2;
    }
    return d;
}

static struct sync_server server_of(uint64_t size, const struct sync_chunk_ref *c, const char *version,
                                    int quoted)
{
    struct sync_server s = {.kind = SYNC_KIND_FILE, .size = size};
    if (c)
        etag_of(c, 2, s.etag, quoted);
    snprintf(s.version_id, sizeof s.version_id, "%s", version);
    return s;
}

static int fixtures_setup(void **state)
{
    (void)state;
    content_make(content_a, 0xa0, 60, 40);
    content_make(content_b, 0xb0, 60, 40);
    content_make(content_c, 0xc0, 70, 30);
    content_make(content_d, 0xd0, 100, 50);

    struct sync_stat st = stat_of(SYNC_KIND_FILE, 100, T0, 7);
    sync_entry_init(&ix_file);
    sync_entry_set_path(&ix_file, "docs/a.txt", 10);
    ix_file.st = st;
    ix_file.indexed_ns = T0 + 60 * SEC;
    etag_of(content_a, 2, ix_file.etag, 1);
    strcpy(ix_file.version_id, "v1");
    ix_file.chunks = content_a; /* borrowed: never released */
    ix_file.nchunks = 2;
    ix_racy = ix_file;
    ix_racy.indexed_ns = T0 + SEC / 2; /* stat taken half a second after the edit */
    ix_racy_ahead = ix_file;
    ix_racy_ahead.indexed_ns = T0 - SEC; /* clock a second behind the file's */
    ix_future = ix_file;
    ix_future.indexed_ns = T0 - 3600 * SEC; /* an mtime an hour ahead: not racy */
    ix_unknown_time = ix_file;
    ix_unknown_time.indexed_ns = 0;
    ix_nover = ix_file;
    ix_nover.version_id[0] = 0;
    ix_dir = ix_file;
    ix_dir.st = stat_of(SYNC_KIND_DIR, 4096, T0, 8);
    ix_dir.etag[0] = 0;
    ix_dir.version_id[0] = 0;
    ix_dir.chunks = NULL;
    ix_dir.nchunks = 0;

    d_same = disk_of(st, NULL);
    d_touched = disk_of(stat_of(SYNC_KIND_FILE, 100, T0 + 5 * SEC, 7), content_a);
    d_touched_nocontent = disk_of(d_touched.st, NULL);
    d_inode = disk_of(stat_of(SYNC_KIND_FILE, 100, T0, 99), content_a);
    d_vanishing_inode = disk_of(stat_of(SYNC_KIND_FILE, 100, T0, 99), NULL);
    d_edited_b = disk_of(stat_of(SYNC_KIND_FILE, 100, T0 + 5 * SEC, 7), content_b);
    d_edited_size = disk_of(stat_of(SYNC_KIND_FILE, 150, T0 + 5 * SEC, 7), NULL);
    d_edited_size_c = d_edited_size;
    d_edited_size_c.has_content = 1;
    d_edited_size_c.chunks = content_d;
    d_edited_size_c.nchunks = 2;
    d_older_edit = disk_of(stat_of(SYNC_KIND_FILE, 120, T0 - 86400 * SEC, 7), NULL);
    d_moving = disk_of(d_edited_b.st, content_b);
    d_moving.again.size = 130;
    d_short_read = disk_of(stat_of(SYNC_KIND_FILE, 120, T0 + 5 * SEC, 7), content_b);
    d_symlink = disk_of(stat_of(SYNC_KIND_SYMLINK, 100, T0, 7), NULL);
    d_racy_same = disk_of(st, content_a);
    d_racy_nocontent = disk_of(st, NULL);
    d_racy_b = disk_of(st, content_b);
    d_new_b = disk_of(stat_of(SYNC_KIND_FILE, 100, T0, 50), content_b);
    d_new_nocontent = disk_of(d_new_b.st, NULL);
    d_new_empty = disk_of(stat_of(SYNC_KIND_FILE, 0, T0, 51), NULL);
    d_new_dir = disk_of(stat_of(SYNC_KIND_DIR, 4096, T0, 52), NULL);
    d_dir_moved = disk_of(stat_of(SYNC_KIND_DIR, 8192, T0 + 9 * SEC, 53), NULL);
    d_new_md5 = d_new_b;
    d_new_md5.has_md5 = 1;
    memset(d_new_md5.md5, 0x3c, 16);

    s_same = server_of(100, content_a, "v1", 0);
    s_same_quoted = server_of(100, content_a, "v1", 1);
    s_no_version = server_of(100, content_a, "", 1);
    s_version_only = server_of(100, content_a, "v2", 1);
    s_changed_c = server_of(100, content_c, "v2", 1);
    s_changed_b = server_of(100, content_b, "v2", 1);
    s_b = server_of(100, content_b, "null", 1);
    s_c = server_of(100, content_c, "null", 1);
    s_c150 = server_of(150, content_c, "v3", 1);
    s_size_200 = server_of(200, content_b, "v2", 1);
    s_empty = (struct sync_server){.kind = SYNC_KIND_FILE, .size = 0,
                                   .etag = "\"d41d8cd98f00b204e9800998ecf8427e\""};
    s_dir = (struct sync_server){.kind = SYNC_KIND_DIR};
    s_md5 = (struct sync_server){.kind = SYNC_KIND_FILE, .size = 100};
    uint8_t md5[16];
    memset(md5, 0x3c, 16);
    char hex[33];
    hex_encode(md5, 16, hex);
    for (int i = 0; i < 32; i++) /* hex case does not matter */
        hex[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
    snprintf(s_md5.etag, sizeof s_md5.etag, "\"%s\"", hex);
    s_md5_other = s_md5;
    s_md5_other.etag[5] = s_md5_other.etag[5] == '0' ? '1' : '0';
    s_multipart = (struct sync_server){.kind = SYNC_KIND_FILE, .size = 100,
                                       .etag = "\"0123456789abcdef0123456789abcdef-3\""};
    s_kind_none = s_b;
    s_kind_none.kind = SYNC_KIND_NONE;
    return 0;
}

/* ---- the table ---- */

struct plan_case {
    const char *name;
    const struct sync_entry *index;
    const struct sync_disk *disk;
    const struct sync_server *server;
    enum sync_plan_row row;
    enum sync_action action;
    enum sync_precond precond;
};

#define ROW(r, a, p) SYNC_ROW_##r, SYNC_ACT_##a, SYNC_PRECOND_##p

static void test_table(void **state)
{
    (void)state;
    const struct plan_case cases[] = {
        /* W */
        {"moving, not indexed", NULL, &d_moving, NULL, ROW(WAIT, WAIT, NONE)},
        {"moving, indexed", &ix_file, &d_moving, &s_same, ROW(WAIT, WAIT, NONE)},
        {"moving, server changed", &ix_file, &d_moving, &s_changed_c, ROW(WAIT, WAIT, NONE)},
        {"read fewer bytes than the size", &ix_file, &d_short_read, &s_same, ROW(WAIT, WAIT, NONE)},
        /* A: not in the index */
        {"absent everywhere", NULL, NULL, NULL, ROW(NONE, NOTHING, NONE)},
        {"new on the server", NULL, NULL, &s_b, ROW(NEW_REMOTE, DOWNLOAD, NONE)},
        {"new on disk", NULL, &d_new_b, NULL, ROW(NEW_LOCAL, UPLOAD, ABSENT)},
        {"new on disk, no content read", NULL, &d_new_nocontent, NULL, ROW(NEW_LOCAL, UPLOAD, ABSENT)},
        {"both new, same chunks", NULL, &d_new_b, &s_b, ROW(NEW_BOTH_SAME, RECORD, NONE)},
        {"both new, server kind unset", NULL, &d_new_b, &s_kind_none, ROW(NEW_BOTH_SAME, RECORD, NONE)},
        {"both new, empty", NULL, &d_new_empty, &s_empty, ROW(NEW_BOTH_SAME, RECORD, NONE)},
        {"both new, directories", NULL, &d_new_dir, &s_dir, ROW(NEW_BOTH_SAME, RECORD, NONE)},
        {"both new, same MD5", NULL, &d_new_md5, &s_md5, ROW(NEW_BOTH_SAME, RECORD, NONE)},
        {"both new, other chunks", NULL, &d_new_b, &s_c, ROW(NEW_BOTH_DIFF, CONFLICT, NONE)},
        {"both new, other size", NULL, &d_new_nocontent, &s_size_200, ROW(NEW_BOTH_DIFF, CONFLICT, NONE)},
        {"both new, dir vs file", NULL, &d_new_dir, &s_b, ROW(NEW_BOTH_DIFF, CONFLICT, NONE)},
        {"both new, file vs dir", NULL, &d_new_b, &s_dir, ROW(NEW_BOTH_DIFF, CONFLICT, NONE)},
        {"both new, other MD5", NULL, &d_new_md5, &s_md5_other, ROW(NEW_BOTH_DIFF, CONFLICT, NONE)},
        {"both new, MD5 ETag, no local MD5", NULL, &d_new_b, &s_md5, ROW(NEW_BOTH_DIFF, CONFLICT, NONE)},
        {"both new, multipart ETag", NULL, &d_new_b, &s_multipart, ROW(NEW_BOTH_DIFF, CONFLICT, NONE)},
        {"both new, content unknown", NULL, &d_new_nocontent, &s_b, ROW(NEW_BOTH_UNKNOWN, CHUNK, NONE)},
        /* B: gone from disk */
        {"gone on both sides", &ix_file, NULL, NULL, ROW(GONE_BOTH, FORGET, NONE)},
        {"deleted locally", &ix_file, NULL, &s_same, ROW(GONE_LOCAL, DELETE_REMOTE, MATCH)},
        {"deleted locally, quoted ETag", &ix_file, NULL, &s_same_quoted, ROW(GONE_LOCAL, DELETE_REMOTE, MATCH)},
        {"deleted locally, edited remotely", &ix_file, NULL, &s_changed_c, ROW(GONE_LOCAL_EDITED_REMOTE, DOWNLOAD, NONE)},
        {"deleted locally, new version id", &ix_file, NULL, &s_version_only, ROW(GONE_LOCAL_EDITED_REMOTE, DOWNLOAD, NONE)},
        /* F: stat moved, content needed */
        {"touched, not read", &ix_file, &d_touched_nocontent, &s_same, ROW(LOCAL_UNKNOWN, CHUNK, NONE)},
        {"touched, not read, server gone", &ix_file, &d_touched_nocontent, NULL, ROW(LOCAL_UNKNOWN, CHUNK, NONE)},
        {"touched, not read, server changed", &ix_file, &d_touched_nocontent, &s_changed_c, ROW(LOCAL_UNKNOWN, CHUNK, NONE)},
        {"new inode, not read", &ix_file, &d_vanishing_inode, &s_same, ROW(LOCAL_UNKNOWN, CHUNK, NONE)},
        {"racily clean, not read", &ix_racy, &d_racy_nocontent, &s_same, ROW(LOCAL_UNKNOWN, CHUNK, NONE)},
        {"racily clean (mtime just ahead), not read", &ix_racy_ahead, &d_racy_nocontent, &s_same, ROW(LOCAL_UNKNOWN, CHUNK, NONE)},
        /* C: unchanged on disk */
        {"deleted remotely", &ix_file, &d_same, NULL, ROW(GONE_REMOTE, DELETE_LOCAL, NONE)},
        {"in sync", &ix_file, &d_same, &s_same, ROW(SAME, NOTHING, NONE)},
        {"in sync, quotes differ", &ix_file, &d_same, &s_same_quoted, ROW(SAME, NOTHING, NONE)},
        {"in sync, mtime far in the future", &ix_future, &d_same, &s_same, ROW(SAME, NOTHING, NONE)},
        {"in sync, indexed_ns unknown", &ix_unknown_time, &d_same, &s_same, ROW(SAME, NOTHING, NONE)},
        {"in sync, server version unknown", &ix_file, &d_same, &s_no_version, ROW(SAME, NOTHING, NONE)},
        {"in sync, index version unknown", &ix_nover, &d_same, &s_version_only, ROW(SAME, NOTHING, NONE)},
        {"directory, mtime moved", &ix_dir, &d_dir_moved, &s_dir, ROW(SAME, NOTHING, NONE)},
        {"edited remotely", &ix_file, &d_same, &s_changed_c, ROW(EDITED_REMOTE, DOWNLOAD, NONE)},
        {"new version id remotely", &ix_file, &d_same, &s_version_only, ROW(EDITED_REMOTE, DOWNLOAD, NONE)},
        /* D: touched (same content) */
        {"touched, deleted remotely", &ix_file, &d_touched, NULL, ROW(TOUCHED_GONE_REMOTE, DELETE_LOCAL, NONE)},
        {"touched", &ix_file, &d_touched, &s_same, ROW(TOUCHED, RECORD, NONE)},
        {"new inode, same bytes", &ix_file, &d_inode, &s_same, ROW(TOUCHED, RECORD, NONE)},
        {"racily clean, same bytes", &ix_racy, &d_racy_same, &s_same, ROW(TOUCHED, RECORD, NONE)},
        {"touched, edited remotely", &ix_file, &d_touched, &s_changed_c, ROW(TOUCHED_EDITED_REMOTE, DOWNLOAD, NONE)},
        /* E: edited locally */
        {"edited, deleted remotely", &ix_file, &d_edited_size, NULL, ROW(EDITED_LOCAL_GONE_REMOTE, UPLOAD, ABSENT)},
        {"edited (size)", &ix_file, &d_edited_size, &s_same, ROW(EDITED_LOCAL, UPLOAD, MATCH)},
        {"edited (same size, other chunks)", &ix_file, &d_edited_b, &s_same, ROW(EDITED_LOCAL, UPLOAD, MATCH)},
        {"edited with an older mtime", &ix_file, &d_older_edit, &s_same, ROW(EDITED_LOCAL, UPLOAD, MATCH)},
        {"file became a symlink", &ix_file, &d_symlink, &s_same, ROW(EDITED_LOCAL, UPLOAD, MATCH)},
        {"racily clean, other bytes", &ix_racy, &d_racy_b, &s_same, ROW(EDITED_LOCAL, UPLOAD, MATCH)},
        {"edited on both sides alike (commit then kill -9)", &ix_file, &d_edited_b, &s_changed_b, ROW(EDITED_BOTH_SAME, RECORD, NONE)},
        {"edited on both sides", &ix_file, &d_edited_b, &s_changed_c, ROW(EDITED_BOTH_DIFF, CONFLICT, NONE)},
        {"edited on both sides, sizes differ", &ix_file, &d_edited_size, &s_changed_c, ROW(EDITED_BOTH_DIFF, CONFLICT, NONE)},
        {"edited on both sides, same size, read", &ix_file, &d_edited_size_c, &s_c150, ROW(EDITED_BOTH_DIFF, CONFLICT, NONE)},
        {"edited on both sides, same size, not read", &ix_file, &d_edited_size, &s_c150, ROW(EDITED_BOTH_UNKNOWN, CHUNK, NONE)},
    };
    int seen[SYNC_ROW_COUNT] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct plan_case *c = &cases[i];
        struct sync_plan_input in = {.index = c->index, .disk = c->disk, .server = c->server};
        struct sync_plan p;
        memset(&p, 0xee, sizeof p);
        int rc = sync_plan_decide(&in, &p);
        if (rc != 0)
            fail_msg("%s: %s", c->name, sync_strerror(rc));
        if (p.row != c->row || p.action != c->action || p.precond != c->precond)
            fail_msg("%s: got %s %s %s, want %s %s %s", c->name, sync_plan_row_name(p.row),
                     sync_action_name(p.action), sync_precond_name(p.precond),
                     sync_plan_row_name(c->row), sync_action_name(c->action),
                     sync_precond_name(c->precond));
        seen[p.row]++;
        /* CHUNK never loops: with the content read, the plan moves on */
        if (p.action == SYNC_ACT_CHUNK) {
            struct sync_disk d = *c->disk;
            d.has_content = 1;
            d.chunks = d.st.size == 150 ? content_d : content_b;
            d.nchunks = 2;
            in.disk = &d;
            assert_int_equal(sync_plan_decide(&in, &p), 0);
            assert_int_not_equal(p.action, SYNC_ACT_CHUNK);
        }
    }
    for (int r = 0; r < SYNC_ROW_COUNT; r++)
        if (!seen[r])
            fail_msg("row %s has no case", sync_plan_row_name((enum sync_plan_row)r));
}

/* The decision never looks at mtimes across sides: whatever the disk's
 * mtime (older or newer than anything, as long as it differs from the
 * index's), a same-size edit with other bytes against an unchanged server
 * is an upload, and against a changed server a conflict. */
static void test_no_mtime_race(void **state)
{
    (void)state;
    const int64_t mtimes[] = {INT64_MIN, -1, 0, T0 - 1, T0 + 1, T0 + 86400 * SEC, INT64_MAX};
    for (size_t i = 0; i < sizeof mtimes / sizeof mtimes[0]; i++) {
        struct sync_disk d = d_edited_b;
        d.st.mtime_ns = d.again.mtime_ns = mtimes[i];
        struct sync_plan p;
        struct sync_plan_input in = {.index = &ix_file, .disk = &d, .server = &s_same};
        assert_int_equal(sync_plan_decide(&in, &p), 0);
        assert_int_equal(p.action, SYNC_ACT_UPLOAD);
        in.server = &s_changed_c;
        assert_int_equal(sync_plan_decide(&in, &p), 0);
        assert_int_equal(p.action, SYNC_ACT_CONFLICT);
    }
}

static void test_commit_etag(void **state)
{
    (void)state;
    char out[SYNC_PLAN_ETAG_LEN + 1];
    struct sync_chunk_ref c[2];
    memset(c, 0, sizeof c);
    assert_int_equal(sync_plan_commit_etag(NULL, 0, out), 0);
    assert_string_equal(out, "d41d8cd98f00b204e9800998ecf8427e-0");
    assert_int_equal(sync_plan_commit_etag(c, 1, out), 0);
    assert_string_equal(out, "70bc8f4b72a86921468bf8e8441dce51-1");
    for (int i = 0; i < 32; i++) {
        c[0].id[i] = (uint8_t)i;
        c[1].id[i] = (uint8_t)(i + 1);
    }
    c[0].len = 5; /* lengths are not part of the ETag */
    assert_int_equal(sync_plan_commit_etag(c, 2, out), 0);
    assert_string_equal(out, "78e82998622c089c8b65d465c49b11b3-2");
    assert_int_equal(sync_plan_commit_etag(NULL, 1, out), SYNC_EINVAL);
    assert_int_equal(sync_plan_commit_etag(c, SYNC_CHUNKS_MAX + 1, out), SYNC_EINVAL);
    assert_int_equal(sync_plan_commit_etag(c, 1, NULL), SYNC_EINVAL);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct sync_plan p, untouched;
    memset(&p, 0x77, sizeof p);
    untouched = p;
    struct sync_plan_input in = {.index = &ix_file, .disk = &d_same, .server = &s_same};
    assert_int_equal(sync_plan_decide(NULL, &p), SYNC_EINVAL);
    assert_int_equal(sync_plan_decide(&in, NULL), SYNC_EINVAL);
    struct sync_disk d = d_same;
    d.st.kind = SYNC_KIND_NONE;
    d.again.kind = SYNC_KIND_NONE;
    in.disk = &d;
    assert_int_equal(sync_plan_decide(&in, &p), SYNC_EINVAL);
    d = d_touched;
    d.chunks = NULL;
    assert_int_equal(sync_plan_decide(&in, &p), SYNC_EINVAL);
    d = d_touched;
    d.nchunks = SYNC_CHUNKS_MAX + 1;
    assert_int_equal(sync_plan_decide(&in, &p), SYNC_EINVAL);
    d = d_same;
    d.again.kind = 9;
    assert_int_equal(sync_plan_decide(&in, &p), SYNC_EINVAL);
    in.disk = &d_same;
    struct sync_entry e = ix_file;
    e.chunks = NULL;
    in.index = &e;
    assert_int_equal(sync_plan_decide(&in, &p), SYNC_EINVAL);
    e = ix_file;
    memset(e.etag, 'x', sizeof e.etag);
    assert_int_equal(sync_plan_decide(&in, &p), SYNC_EINVAL);
    e = ix_file;
    e.st.kind = SYNC_KIND_NONE;
    assert_int_equal(sync_plan_decide(&in, &p), SYNC_EINVAL);
    in.index = &ix_file;
    struct sync_server s = s_same;
    s.kind = 7;
    in.server = &s;
    assert_int_equal(sync_plan_decide(&in, &p), SYNC_EINVAL);
    s = s_same;
    memset(s.version_id, 'v', sizeof s.version_id);
    assert_int_equal(sync_plan_decide(&in, &p), SYNC_EINVAL);
    assert_memory_equal(&p, &untouched, sizeof p);
}

static void test_names(void **state)
{
    (void)state;
    for (int a = 0; a < SYNC_ACT_COUNT; a++)
        assert_string_not_equal(sync_action_name((enum sync_action)a), "?");
    assert_string_equal(sync_action_name(SYNC_ACT_COUNT), "?");
    assert_string_equal(sync_action_name((enum sync_action)-1), "?");
    assert_string_equal(sync_action_name(SYNC_ACT_DELETE_REMOTE), "DELETE_REMOTE");
    for (int r = 0; r < SYNC_ROW_COUNT; r++) {
        const char *n = sync_plan_row_name((enum sync_plan_row)r);
        assert_string_not_equal(n, "?");
        for (int q = 0; q < r; q++)
            assert_string_not_equal(n, sync_plan_row_name((enum sync_plan_row)q));
    }
    assert_string_equal(sync_plan_row_name(SYNC_ROW_COUNT), "?");
    assert_string_equal(sync_plan_row_name(SYNC_ROW_EDITED_LOCAL), "E2 edited-local");
    assert_string_equal(sync_precond_name(SYNC_PRECOND_MATCH), "MATCH");
    assert_string_equal(sync_precond_name((enum sync_precond)5), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),       cmocka_unit_test(test_no_mtime_race),
        cmocka_unit_test(test_commit_etag), cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, fixtures_setup, NULL);
}
