/*
 * sync-client/sync.h - what every module of cairn-sync shares: the layer's
 * error codes, its limits, and the small types the index, the planner and
 * the transfer code pass between them.
 *
 * The sync client is a top layer: it talks to the server over HTTP and
 * links only common/.  Its modules each have a header of their own, all
 * of which include this one:
 *
 *   sync_path.h      relative path and UTF-8 checks
 *   sync_ignore.h    .cairnignore patterns and the built-in ignore list
 *   sync_conflict.h  "name (conflicted copy DATE HOST).ext" names
 *   sync_index.h     the local LMDB index in FOLDER/.cairn-sync/index/
 *   sync_plan.h      the three-way decision (index, disk, server)
 *   sync_remote.h    the server's calls, as the client makes them
 *   sync_transfer.h  one file's content both ways, by missing chunks
 *   sync_folder.h    FOLDER/.cairn-sync/ and the one-daemon lock
 *   sync_scan.h      one full walk of the folder
 *   sync_watch.h     inotify over the folder: which paths changed, and
 *                    whether their content is final
 *
 * Errors: every function of the layer returns 0 (or a documented
 * non-negative value) or a negative code: an errno value passed through
 * unchanged (-ENOMEM, -EIO, -EACCES ...) or one of enum sync_error below.
 * sync_strerror() names both.
 *
 * Paths: every path the layer handles is relative to the synced folder's
 * root, '/'-separated, UTF-8, 1..SYNC_PATH_MAX bytes, with no leading or
 * trailing '/', no empty, "." or ".." component and no NUL byte (the rules
 * are in sync_path.h).  The path is also the object key below the
 * folder's prefix on the server.
 */
#ifndef CAIRN_SYNC_H
#define CAIRN_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "common/sync_proto.h"

enum sync_error {
    SYNC_EINVAL = -34000,    /* malformed argument (path, pattern, struct field) */
    SYNC_ETOOLONG = -34001,  /* a path, name, list or text over its cap */
    SYNC_ENOTFOUND = -34002, /* no index entry (or no stored cursor) */
    SYNC_ECORRUPT = -34003,  /* a stored record does not decode; wrong format */
    SYNC_EFULL = -34004,     /* the index map is full */
    SYNC_EEXIST = -34005,    /* no free conflict-copy name left */
    SYNC_ERDONLY = -34006,   /* a write in a read-only transaction */
    /* talking to the server (sync_remote.h) */
    SYNC_EOFFLINE = -34010,  /* no answer: the server is down or unreachable */
    SYNC_ECONFLICT = -34011, /* a precondition failed: the object changed there */
    SYNC_EMISSING = -34012,  /* a commit named chunks the server lacks */
    SYNC_EAUTH = -34013,     /* credentials refused or access denied */
    SYNC_ESERVER = -34014,   /* any other error answer (see last_error) */
    SYNC_EPROTO = -34015,    /* an answer that does not parse, or other parameters */
    SYNC_EBUSY = -34016,     /* a file changed while it was read: try later */
    SYNC_ELOCKED = -34017,   /* another cairn-sync process syncs this folder */
};

/* Static string naming err: a sync_error, a negated errno value, or 0. */
const char *sync_strerror(int err);

#define SYNC_PATH_MAX 1024      /* relative path, bytes (the S3 key limit) */
#define SYNC_NAME_MAX 255       /* one path component, bytes (NAME_MAX) */
#define SYNC_CHUNK_ID_LEN SYNC_ID_LEN /* SHA-256 of the chunk's bytes */
#define SYNC_CHUNKS_MAX 200000  /* chunks of one file the index keeps (about 200 GiB); a
                                   commit carries at most the server's max_commit_chunks
                                   (20000): larger files go up by multipart upload */
#define SYNC_ETAG_MAX 80        /* ETag text, quotes included if any */
#define SYNC_VERSION_MAX 128    /* version id text */

/* What a path is on disk (or in the index).  The values are stored in the
 * index: never renumber. */
enum sync_kind {
    SYNC_KIND_NONE = 0,    /* unknown / absent */
    SYNC_KIND_FILE = 1,
    SYNC_KIND_SYMLINK = 2, /* content: the link's target bytes */
    SYNC_KIND_DIR = 3,     /* no content; only presence and kind count */
};

/* One chunk of a file, in file order: struct sync_chunk_ref of
 * common/sync_proto.h (its id, the SHA-256, and its length), the same
 * type the protocol messages carry. */

/* What one lstat() says about a path.  mode is recorded, not compared: a
 * change of mode bits alone is not a change of the file. */
struct sync_stat {
    uint8_t kind;     /* enum sync_kind */
    uint32_t mode;    /* st_mode permission bits (07777) */
    uint64_t size;    /* bytes (a symlink: length of its target) */
    int64_t mtime_ns; /* st_mtim, ns since the epoch */
    uint64_t inode;   /* st_ino */
};

#endif
