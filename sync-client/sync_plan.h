/*
 * sync-client/sync_plan.h - the planner: what to do with one path, from
 * the three-way comparison of the index (the state at the last sync), the
 * disk and the server (docs/sync-protocol.md, "Client algorithm").
 *
 * The planner is a pure function: it reads its inputs, does no I/O, keeps
 * no state, and answers one action.  Carrying the action out (and
 * re-checking the disk right before touching it) is the executor's job;
 * after every step the server confirms, the executor writes the index.
 *
 * What "changed" means:
 *   - local (disk vs index): kind, size, mtime or inode differ.  When only
 *     mtime or inode differ (same kind and size), the content decides: the
 *     disk's chunk list against the index's, so a touch, a copy-over with
 *     the same bytes or an editor's save-by-rename of unchanged bytes is
 *     no edit.  Mode bits are not compared here (the engine syncs a change
 *     of them alone, see sync_engine.c).  Directories have no
 *     content: a directory is unchanged while it stays a directory.
 *     "Racily clean": when the index's mtime is within SYNC_PLAN_RACY_NS
 *     (either way) of the moment that stat was taken (indexed_ns; 0 means
 *     unknown and is never racy), an edit in the same timestamp tick
 *     would leave size and mtime equal, so an equal stat is not trusted
 *     and the content decides too (coarse-timestamp file systems: FAT,
 *     SMB, exFAT; the kernel's tick elsewhere).  Such an entry is read
 *     once more and recorded again (row D2) with a later indexed_ns.
 *   - server (now vs index): the ETag or the version id differ (quotes
 *     around ETags and hex case ignored; a version id empty on either
 *     side is not compared).
 *   - "same content" of disk and server (both sides created or both
 *     edited): same kind, same size, and then: both empty; or the commit
 *     ETag of the disk's chunk list (sync_plan_commit_etag) equals the
 *     server's ETag; or, for a plain-MD5 server ETag (an object put
 *     without cairn-commit), the disk's MD5 equals it.  A multipart ETag
 *     never equals: such a pair is a conflict (both kept; nothing lost).
 * Never by comparing mtimes of the two sides: clocks differ, and an older
 * edit is still an edit.
 *
 * Decision table (first matching row wins; "-" absent, "=" unchanged,
 * "~" stat moved but same content, "!" changed, "?" content unknown):
 *
 *  row  SYNC_ROW_...                  index disk     server   action (precondition)
 *  W    WAIT                          any   moving   any      WAIT
 *  A1   NONE                          -     -        -        NOTHING
 *  A2   NEW_REMOTE                    -     -        present  DOWNLOAD
 *  A3   NEW_LOCAL                     -     present  -        UPLOAD (ABSENT)
 *  A4   NEW_BOTH_SAME                 -     present  same     RECORD
 *  A5   NEW_BOTH_DIFF                 -     present  other    CONFLICT
 *  A6   NEW_BOTH_UNKNOWN              -     present  ?        CHUNK
 *  B1   GONE_BOTH                     yes   -        -        FORGET
 *  B2   GONE_LOCAL                    yes   -        =        DELETE_REMOTE (MATCH)
 *  B3   GONE_LOCAL_EDITED_REMOTE      yes   -        !        DOWNLOAD
 *  F    LOCAL_UNKNOWN                 yes   ?        any      CHUNK
 *  C1   GONE_REMOTE                   yes   =        -        DELETE_LOCAL
 *  C2   SAME                          yes   =        =        NOTHING
 *  C3   EDITED_REMOTE                 yes   =        !        DOWNLOAD
 *  D1   TOUCHED_GONE_REMOTE           yes   ~        -        DELETE_LOCAL
 *  D2   TOUCHED                       yes   ~        =        RECORD
 *  D3   TOUCHED_EDITED_REMOTE         yes   ~        !        DOWNLOAD
 *  E1   EDITED_LOCAL_GONE_REMOTE      yes   !        -        UPLOAD (ABSENT)
 *  E2   EDITED_LOCAL                  yes   !        =        UPLOAD (MATCH)
 *  E3   EDITED_BOTH_SAME              yes   !        !, same  RECORD
 *  E4   EDITED_BOTH_DIFF              yes   !        !, other CONFLICT
 *  E5   EDITED_BOTH_UNKNOWN           yes   !        !, ?     CHUNK
 *
 * In rows A4..A6 and E3..E5 "same / other / ?" is the disk's content
 * against the server's (see "same content" above; "?" when the sizes
 * agree but the disk's content was not read).  In row F, "?" is a stat
 * that moved (same kind and size) or a racily clean entry, without the
 * content to tell.
 *
 * Notes on the rows:
 *   W   the disk was looked at twice (before and after reading it) and
 *       kind, size, mtime or inode moved, or the content read does not
 *       add up to the size: the file is being written.  Plan it later.
 *   A1  nothing anywhere (an event for a path that came and went).
 *   B3, E1  an edit beats a delete: deleted on one side, edited on the
 *       other, the edit is kept (downloaded / uploaded again).
 *   A4, E3  both sides hold the same bytes: record them in the index, send
 *       nothing.  E3 is also what a kill -9 between a commit and its index
 *       write looks like, so the daemon never uploads that file again.
 *   D2  a touch: record the new stat, upload nothing.
 *   A5, E4  keep both: the local file is renamed to its conflict copy
 *       (sync_conflict.h) and uploaded as a new key; the server's version
 *       is downloaded under the name.
 *   CHUNK  the decision needs the local content: cut the file with the
 *       shared FastCDC, fill sync_disk's chunks (and md5 for files the
 *       server may hold under a plain MD5 ETag), look again, plan again.
 *       A call with has_content set never answers CHUNK, so this cannot
 *       loop.
 * Preconditions for the commit or delete on the server: ABSENT is
 * "If-None-Match: *" (the key must not exist); MATCH is "If-Match" on the
 * index's ETag (and its version id on a versioning bucket).  A 412 answer
 * means the server moved: fetch its state and plan again (it lands in E3,
 * E4 or A4, A5).  Other actions carry SYNC_PRECOND_NONE.
 *
 * Every function here is pure and reentrant; inputs are borrowed.
 */
#ifndef CAIRN_SYNC_PLAN_H
#define CAIRN_SYNC_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "sync-client/sync.h"
#include "sync-client/sync_index.h"

#define SYNC_PLAN_RACY_NS (2ll * 1000 * 1000 * 1000) /* 2 s: FAT's mtime resolution */
#define SYNC_PLAN_ETAG_LEN SYNC_COMMIT_ETAG_LEN /* "<32 hex>-<count>" */

enum sync_action {
    SYNC_ACT_NOTHING = 0,
    SYNC_ACT_RECORD,        /* write the index from disk and server state; no transfer */
    SYNC_ACT_FORGET,        /* remove the index entry; no transfer */
    SYNC_ACT_UPLOAD,        /* send the local file (missing chunks, commit) */
    SYNC_ACT_DOWNLOAD,      /* fetch the server's version into place */
    SYNC_ACT_DELETE_REMOTE, /* delete the object */
    SYNC_ACT_DELETE_LOCAL,  /* delete the local file */
    SYNC_ACT_CONFLICT,      /* keep both (see A5, E4) */
    SYNC_ACT_WAIT,          /* being written: plan again later */
    SYNC_ACT_CHUNK,         /* read the local content, then plan again */
    SYNC_ACT_COUNT
};

enum sync_precond {
    SYNC_PRECOND_NONE = 0,
    SYNC_PRECOND_ABSENT, /* If-None-Match: * */
    SYNC_PRECOND_MATCH,  /* If-Match: the index's ETag (and version id) */
};

enum sync_plan_row {
    SYNC_ROW_WAIT = 0,
    SYNC_ROW_NONE,
    SYNC_ROW_NEW_REMOTE,
    SYNC_ROW_NEW_LOCAL,
    SYNC_ROW_NEW_BOTH_SAME,
    SYNC_ROW_NEW_BOTH_DIFF,
    SYNC_ROW_NEW_BOTH_UNKNOWN,
    SYNC_ROW_GONE_BOTH,
    SYNC_ROW_GONE_LOCAL,
    SYNC_ROW_GONE_LOCAL_EDITED_REMOTE,
    SYNC_ROW_LOCAL_UNKNOWN,
    SYNC_ROW_GONE_REMOTE,
    SYNC_ROW_SAME,
    SYNC_ROW_EDITED_REMOTE,
    SYNC_ROW_TOUCHED_GONE_REMOTE,
    SYNC_ROW_TOUCHED,
    SYNC_ROW_TOUCHED_EDITED_REMOTE,
    SYNC_ROW_EDITED_LOCAL_GONE_REMOTE,
    SYNC_ROW_EDITED_LOCAL,
    SYNC_ROW_EDITED_BOTH_SAME,
    SYNC_ROW_EDITED_BOTH_DIFF,
    SYNC_ROW_EDITED_BOTH_UNKNOWN,
    SYNC_ROW_COUNT
};

/* What the disk holds at the path. */
struct sync_disk {
    struct sync_stat st;      /* first look (lstat) */
    int looked_again;         /* 1: `again` is a second lstat, taken after the content was read */
    struct sync_stat again;
    int has_content;          /* 1: chunks (and md5 if has_md5) are of the bytes read */
    const struct sync_chunk_ref *chunks; /* nchunks, file order; borrowed */
    uint32_t nchunks;         /* <= SYNC_CHUNKS_MAX */
    int has_md5;
    uint8_t md5[16];          /* MD5 of the whole content */
};

/* What the server holds at the path's key (NULL input: no object, or a
 * delete marker as the latest version). */
struct sync_server {
    uint8_t kind;             /* enum sync_kind; NONE counts as FILE */
    uint64_t size;
    char etag[SYNC_ETAG_MAX + 1];          /* as the server sends it, quotes or not */
    char version_id[SYNC_VERSION_MAX + 1]; /* "" when unknown */
    uint32_t mode;            /* permission bits it records; 0 unknown (the
                                 planner ignores them: see the engine) */
};

struct sync_plan_input {
    const struct sync_entry *index;   /* NULL: not in the index */
    const struct sync_disk *disk;     /* NULL: absent on disk */
    const struct sync_server *server; /* NULL: absent on the server */
};

struct sync_plan {
    enum sync_action action;
    enum sync_precond precond;
    enum sync_plan_row row;    /* the table row that decided, for logs and tests */
};

/*
 * Decide for one path.  Returns 0 with *out filled, SYNC_EINVAL (in or out
 * NULL, a kind out of range, nchunks over SYNC_CHUNKS_MAX or chunks NULL
 * with nchunks > 0, ETag or version id not NUL-terminated in its array),
 * or -ENOMEM (hashing for the commit ETag).  *out is untouched on error.
 */
int sync_plan_decide(const struct sync_plan_input *in, struct sync_plan *out);

/*
 * The ETag the server gives an object committed from this chunk list
 * (docs/sync-protocol.md): lower-case hex MD5 of the concatenated 32-byte
 * chunk ids, '-', the number of chunks; no quotes.  Writes it NUL-
 * terminated to out (common/sync_proto.h computes it, for the server
 * too).  Returns 0 or SYNC_EINVAL (chunks NULL with n > 0, n over
 * SYNC_CHUNKS_MAX).
 */
int sync_plan_commit_etag(const struct sync_chunk_ref *chunks, uint32_t n,
                          char out[SYNC_PLAN_ETAG_LEN + 1]);

/* Static names for logs ("UPLOAD", "E2 edited-local" ...); "?" when out of
 * range. */
const char *sync_action_name(enum sync_action a);
const char *sync_precond_name(enum sync_precond p);
const char *sync_plan_row_name(enum sync_plan_row r);

#endif
