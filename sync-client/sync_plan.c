/*
 * sync-client/sync_plan.c - see sync_plan.h.
 *
 * Each side is first reduced to one state (local: index vs disk; server:
 * index vs server), then one switch per index presence maps the pair to a
 * row of the table in the header.  Content is looked at only where the
 * table needs it.
 */
#include "sync-client/sync_plan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/hash.h"

enum local_state {
    LOCAL_ABSENT,   /* not on disk */
    LOCAL_PRESENT,  /* on disk, not in the index */
    LOCAL_SAME,     /* "=" */
    LOCAL_TOUCHED,  /* "~": stat moved, same content */
    LOCAL_CHANGED,  /* "!" */
    LOCAL_UNKNOWN,  /* stat moved, content needed */
};

enum server_state {
    SERVER_ABSENT,
    SERVER_PRESENT, /* not in the index */
    SERVER_SAME,    /* "=" */
    SERVER_CHANGED, /* "!" */
};

enum content_cmp { CONTENT_SAME, CONTENT_DIFF, CONTENT_UNKNOWN };

static const char *const action_names[SYNC_ACT_COUNT] = {
    "NOTHING", "RECORD", "FORGET", "UPLOAD", "DOWNLOAD",
    "DELETE_REMOTE", "DELETE_LOCAL", "CONFLICT", "WAIT", "CHUNK",
};

/* Each row: its name and what it decides. */
static const struct {
    const char *name;
    enum sync_action action;
    enum sync_precond precond;
} rows[SYNC_ROW_COUNT] = {
    [SYNC_ROW_WAIT] = {"W wait", SYNC_ACT_WAIT, SYNC_PRECOND_NONE},
    [SYNC_ROW_NONE] = {"A1 none", SYNC_ACT_NOTHING, SYNC_PRECOND_NONE},
    [SYNC_ROW_NEW_REMOTE] = {"A2 new-remote", SYNC_ACT_DOWNLOAD, SYNC_PRECOND_NONE},
    [SYNC_ROW_NEW_LOCAL] = {"A3 new-local", SYNC_ACT_UPLOAD, SYNC_PRECOND_ABSENT},
    [SYNC_ROW_NEW_BOTH_SAME] = {"A4 new-both-same", SYNC_ACT_RECORD, SYNC_PRECOND_NONE},
    [SYNC_ROW_NEW_BOTH_DIFF] = {"A5 new-both-diff", SYNC_ACT_CONFLICT, SYNC_PRECOND_NONE},
    [SYNC_ROW_NEW_BOTH_UNKNOWN] = {"A6 new-both-unknown", SYNC_ACT_CHUNK, SYNC_PRECOND_NONE},
    [SYNC_ROW_GONE_BOTH] = {"B1 gone-both", SYNC_ACT_FORGET, SYNC_PRECOND_NONE},
    [SYNC_ROW_GONE_LOCAL] = {"B2 gone-local", SYNC_ACT_DELETE_REMOTE, SYNC_PRECOND_MATCH},
    [SYNC_ROW_GONE_LOCAL_EDITED_REMOTE] = {"B3 gone-local-edited-remote", SYNC_ACT_DOWNLOAD,
                                           SYNC_PRECOND_NONE},
    [SYNC_ROW_LOCAL_UNKNOWN] = {"F local-unknown", SYNC_ACT_CHUNK, SYNC_PRECOND_NONE},
    [SYNC_ROW_GONE_REMOTE] = {"C1 gone-remote", SYNC_ACT_DELETE_LOCAL, SYNC_PRECOND_NONE},
    [SYNC_ROW_SAME] = {"C2 same", SYNC_ACT_NOTHING, SYNC_PRECOND_NONE},
    [SYNC_ROW_EDITED_REMOTE] = {"C3 edited-remote", SYNC_ACT_DOWNLOAD, SYNC_PRECOND_NONE},
    [SYNC_ROW_TOUCHED_GONE_REMOTE] = {"D1 touched-gone-remote", SYNC_ACT_DELETE_LOCAL,
                                      SYNC_PRECOND_NONE},
    [SYNC_ROW_TOUCHED] = {"D2 touched", SYNC_ACT_RECORD, SYNC_PRECOND_NONE},
    [SYNC_ROW_TOUCHED_EDITED_REMOTE] = {"D3 touched-edited-remote", SYNC_ACT_DOWNLOAD,
                                        SYNC_PRECOND_NONE},
    [SYNC_ROW_EDITED_LOCAL_GONE_REMOTE] = {"E1 edited-local-gone-remote", SYNC_ACT_UPLOAD,
                                           SYNC_PRECOND_ABSENT},
    [SYNC_ROW_EDITED_LOCAL] = {"E2 edited-local", SYNC_ACT_UPLOAD, SYNC_PRECOND_MATCH},
    [SYNC_ROW_EDITED_BOTH_SAME] = {"E3 edited-both-same", SYNC_ACT_RECORD, SYNC_PRECOND_NONE},
    [SYNC_ROW_EDITED_BOTH_DIFF] = {"E4 edited-both-diff", SYNC_ACT_CONFLICT, SYNC_PRECOND_NONE},
    [SYNC_ROW_EDITED_BOTH_UNKNOWN] = {"E5 edited-both-unknown", SYNC_ACT_CHUNK,
                                      SYNC_PRECOND_NONE},
};

const char *sync_action_name(enum sync_action a)
{
    return (unsigned)a < SYNC_ACT_COUNT ? action_names[a] : "?";
}

const char *sync_precond_name(enum sync_precond p)
{
    switch (p) {
    case SYNC_PRECOND_NONE: return "NONE";
    case SYNC_PRECOND_ABSENT: return "ABSENT";
    case SYNC_PRECOND_MATCH: return "MATCH";
    }
    return "?";
}

const char *sync_plan_row_name(enum sync_plan_row r)
{
    return (unsigned)r < SYNC_ROW_COUNT ? rows[r].name : "?";
}

int sync_plan_commit_etag(const struct sync_chunk_ref *chunks, uint32_t n,
                          char out[SYNC_PLAN_ETAG_LEN + 1])
{
    if (!out || (n && !chunks) || n > SYNC_CHUNKS_MAX)
        return SYNC_EINVAL;
    sync_commit_etag(chunks, n, out);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Comparisons                                                         */

/* s without one pair of surrounding double quotes. */
static void etag_bare(const char *s, const char **p, size_t *n)
{
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    *p = s;
    *n = len;
}

static int etag_equal(const char *a, const char *b)
{
    const char *pa, *pb;
    size_t na, nb;
    etag_bare(a, &pa, &na);
    etag_bare(b, &pb, &nb);
    return na == nb && strncasecmp(pa, pb, na) == 0;
}

static int stat_equal(const struct sync_stat *a, const struct sync_stat *b)
{
    return a->kind == b->kind && a->size == b->size && a->mtime_ns == b->mtime_ns &&
           a->inode == b->inode;
}

static int chunks_equal(const struct sync_chunk_ref *a, uint32_t na, const struct sync_chunk_ref *b,
                        uint32_t nb)
{
    if (na != nb)
        return 0;
    for (uint32_t i = 0; i < na; i++)
        if (a[i].len != b[i].len || memcmp(a[i].id, b[i].id, SYNC_CHUNK_ID_LEN) != 0)
            return 0;
    return 1;
}

/* The disk moved between its two looks, or what was read is not st.size
 * bytes long: the file is being written. */
static int disk_moving(const struct sync_disk *d)
{
    if (d->looked_again && !stat_equal(&d->st, &d->again))
        return 1;
    if (d->has_content && d->st.kind != SYNC_KIND_DIR) {
        uint64_t total = 0;
        for (uint32_t i = 0; i < d->nchunks; i++)
            total += d->chunks[i].len;
        return total != d->st.size;
    }
    return 0;
}

/* Index entry i present, disk d present: is the content the same? */
static enum local_state local_by_content(const struct sync_entry *i, const struct sync_disk *d)
{
    if (!d->has_content)
        return LOCAL_UNKNOWN;
    return chunks_equal(i->chunks, i->nchunks, d->chunks, d->nchunks) ? LOCAL_TOUCHED
                                                                      : LOCAL_CHANGED;
}

/* Was the entry's stat taken so soon after its mtime that a later edit
 * in the same timestamp tick would not show?  (An mtime far in the future
 * is not: an edit would set it to the present.) */
static int entry_racy(const struct sync_entry *i)
{
    if (i->indexed_ns == 0)
        return 0;
    int64_t a = i->indexed_ns, b = i->st.mtime_ns;
    uint64_t gap = a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
    return gap <= (uint64_t)SYNC_PLAN_RACY_NS;
}

static enum local_state local_state(const struct sync_entry *i, const struct sync_disk *d)
{
    if (!d)
        return LOCAL_ABSENT;
    if (!i)
        return LOCAL_PRESENT;
    if (i->st.kind != d->st.kind)
        return LOCAL_CHANGED;
    if (d->st.kind == SYNC_KIND_DIR)
        return LOCAL_SAME;
    if (stat_equal(&i->st, &d->st))
        return entry_racy(i) ? local_by_content(i, d) : LOCAL_SAME;
    if (i->st.size != d->st.size)
        return LOCAL_CHANGED;
    return local_by_content(i, d);
}

static enum server_state server_state(const struct sync_entry *i, const struct sync_server *s)
{
    if (!s)
        return SERVER_ABSENT;
    if (!i)
        return SERVER_PRESENT;
    if (!etag_equal(i->etag, s->etag))
        return SERVER_CHANGED;
    if (i->version_id[0] && s->version_id[0] && strcmp(i->version_id, s->version_id) != 0)
        return SERVER_CHANGED;
    return SERVER_SAME;
}

/* Does the disk hold the server's bytes?  (Both present.) */
static int content_vs_server(const struct sync_disk *d, const struct sync_server *s,
                             enum content_cmp *out)
{
    uint8_t skind = s->kind ? s->kind : SYNC_KIND_FILE;
    const char *etag;
    size_t etag_len;
    *out = CONTENT_DIFF;
    if (d->st.kind != skind)
        return 0;
    *out = CONTENT_SAME;
    if (skind == SYNC_KIND_DIR)
        return 0;
    *out = CONTENT_DIFF;
    if (d->st.size != s->size)
        return 0;
    *out = CONTENT_SAME;
    if (s->size == 0)
        return 0;
    *out = CONTENT_UNKNOWN;
    if (!d->has_content)
        return 0;
    etag_bare(s->etag, &etag, &etag_len);
    if (memchr(etag, '-', etag_len)) {
        char mine[SYNC_PLAN_ETAG_LEN + 1];
        int rc = sync_plan_commit_etag(d->chunks, d->nchunks, mine);
        if (rc)
            return rc;
        *out = etag_equal(mine, s->etag) ? CONTENT_SAME : CONTENT_DIFF;
    } else if (d->has_md5) {
        char hex[33];
        hex_encode(d->md5, 16, hex);
        *out = etag_equal(hex, s->etag) ? CONTENT_SAME : CONTENT_DIFF;
    } else {
        *out = CONTENT_DIFF; /* cannot tell: keep both rather than guess */
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

/* Rows A1..A6: not in the index. */
static int decide_unindexed(const struct sync_plan_input *in, enum sync_plan_row *row)
{
    enum content_cmp cmp;
    if (!in->disk) {
        *row = in->server ? SYNC_ROW_NEW_REMOTE : SYNC_ROW_NONE;
        return 0;
    }
    if (!in->server) {
        *row = SYNC_ROW_NEW_LOCAL;
        return 0;
    }
    int rc = content_vs_server(in->disk, in->server, &cmp);
    if (rc)
        return rc;
    *row = cmp == CONTENT_SAME ? SYNC_ROW_NEW_BOTH_SAME
         : cmp == CONTENT_DIFF ? SYNC_ROW_NEW_BOTH_DIFF
                               : SYNC_ROW_NEW_BOTH_UNKNOWN;
    return 0;
}

/* Rows E3..E5: edited on both sides. */
static int decide_edited_both(const struct sync_plan_input *in, enum sync_plan_row *row)
{
    enum content_cmp cmp;
    int rc = content_vs_server(in->disk, in->server, &cmp);
    if (rc)
        return rc;
    *row = cmp == CONTENT_SAME ? SYNC_ROW_EDITED_BOTH_SAME
         : cmp == CONTENT_DIFF ? SYNC_ROW_EDITED_BOTH_DIFF
                               : SYNC_ROW_EDITED_BOTH_UNKNOWN;
    return 0;
}

/* Rows B1..E5: in the index.  Indexed by [local][server] for the rows that
 * need no further look. */
static int decide_indexed(const struct sync_plan_input *in, enum sync_plan_row *row)
{
    static const enum sync_plan_row table[][3] = {
        /*                  server: ABSENT, SAME, CHANGED */
        [LOCAL_ABSENT] = {SYNC_ROW_GONE_BOTH, SYNC_ROW_GONE_LOCAL,
                          SYNC_ROW_GONE_LOCAL_EDITED_REMOTE},
        [LOCAL_SAME] = {SYNC_ROW_GONE_REMOTE, SYNC_ROW_SAME, SYNC_ROW_EDITED_REMOTE},
        [LOCAL_TOUCHED] = {SYNC_ROW_TOUCHED_GONE_REMOTE, SYNC_ROW_TOUCHED,
                           SYNC_ROW_TOUCHED_EDITED_REMOTE},
        [LOCAL_CHANGED] = {SYNC_ROW_EDITED_LOCAL_GONE_REMOTE, SYNC_ROW_EDITED_LOCAL,
                           SYNC_ROW_COUNT /* content decides */},
    };
    enum local_state l = local_state(in->index, in->disk);
    enum server_state s = server_state(in->index, in->server);
    int col = s == SERVER_ABSENT ? 0 : s == SERVER_SAME ? 1 : 2;
    if (l == LOCAL_UNKNOWN) {
        *row = SYNC_ROW_LOCAL_UNKNOWN;
        return 0;
    }
    if (l == LOCAL_CHANGED && col == 2)
        return decide_edited_both(in, row);
    *row = table[l][col];
    return 0;
}

static int chunks_valid(const struct sync_chunk_ref *c, uint32_t n)
{
    return n <= SYNC_CHUNKS_MAX && (n == 0 || c != NULL);
}

static int kind_valid(uint8_t k, int none_ok)
{
    return (none_ok && k == SYNC_KIND_NONE) || (k >= SYNC_KIND_FILE && k <= SYNC_KIND_DIR);
}

static int input_valid(const struct sync_plan_input *in)
{
    const struct sync_entry *i = in->index;
    const struct sync_disk *d = in->disk;
    const struct sync_server *s = in->server;
    if (i && (!kind_valid(i->st.kind, 0) || !chunks_valid(i->chunks, i->nchunks) ||
              !memchr(i->etag, 0, sizeof i->etag) ||
              !memchr(i->version_id, 0, sizeof i->version_id)))
        return 0;
    if (d && (!kind_valid(d->st.kind, 0) || (d->looked_again && !kind_valid(d->again.kind, 0)) ||
              (d->has_content && !chunks_valid(d->chunks, d->nchunks))))
        return 0;
    if (s && (!kind_valid(s->kind, 1) || !memchr(s->etag, 0, sizeof s->etag) ||
              !memchr(s->version_id, 0, sizeof s->version_id)))
        return 0;
    return 1;
}

int sync_plan_decide(const struct sync_plan_input *in, struct sync_plan *out)
{
    enum sync_plan_row row;
    int rc;
    if (!in || !out || !input_valid(in))
        return SYNC_EINVAL;
    if (in->disk && disk_moving(in->disk)) {
        row = SYNC_ROW_WAIT;
        rc = 0;
    } else {
        rc = in->index ? decide_indexed(in, &row) : decide_unindexed(in, &row);
    }
    if (rc)
        return rc;
    out->row = row;
    out->action = rows[row].action;
    out->precond = rows[row].precond;
    return 0;
}
