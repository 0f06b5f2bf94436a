/*
 * sync-client/sync_transfer.h - moving one file's content between the
 * synced folder and the server, sending and fetching only the chunks the
 * other side lacks.
 *
 *   sync_file_chunk     cut a file into chunks (common/fastcdc.h, the
 *                       server's parameters) and name them (SHA-256)
 *   sync_file_upload    chunk, ask which chunks the server lacks, upload
 *                       those, commit the chunk list with a precondition
 *   sync_file_download  fetch the server's chunk list, take every chunk the
 *                       old local version already has from that file, fetch
 *                       the rest with ranged reads pinned to the ETag,
 *                       write a temporary file beside the target, fsync,
 *                       rename over it, fsync the folder
 *
 * The index is not touched here: the caller records the outcome (stat,
 * chunk list, ETag) after each call that returned 0, in one transaction.
 *
 * Files are opened relative to root with O_NOFOLLOW (a symlink is never
 * followed; callers sync symlinks as links).  A file that changes while it
 * is read (size or mtime differ before and after, or a chunk read back for
 * upload no longer hashes to its id) gives SYNC_EBUSY: try again later,
 * nothing was committed.
 *
 * Errors: those of sync_remote.h, SYNC_EBUSY, SYNC_EINVAL, SYNC_ETOOLONG,
 * and errno values of the local file system (-ENOENT, -EACCES, -ENOSPC...).
 * Thread-safe for different paths.
 */
#ifndef CAIRN_SYNC_TRANSFER_H
#define CAIRN_SYNC_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "sync-client/sync.h"
#include "sync-client/sync_remote.h"

#define SYNC_LINK_MAX 4095 /* bytes of a symlink's target (PATH_MAX - 1) */
#define SYNC_UPLOAD_SENDERS 3 /* chunks of one file in flight at once */

/* Chunk root/path: *chunks (malloc'd, free()) and *n, and the file's stat
 * as read (st may be NULL); md5_out (may be NULL) receives the MD5 of the
 * whole content (what a plain PutObject's ETag is). */
int sync_file_chunk(const char *root, const char *path, struct sync_stat *st,
                    struct sync_chunk_ref **chunks, uint32_t *n, uint8_t md5_out[16]);

/* What an upload did. */
struct sync_upload_result {
    struct sync_remote_object obj; /* the version committed */
    struct sync_stat st;           /* the file as uploaded */
    struct sync_chunk_ref *chunks; /* its chunk list (malloc'd, free()) */
    uint32_t nchunks;
    uint64_t bytes_sent;           /* chunk payload bytes uploaded */
    uint32_t chunks_sent;
};

/* Upload root/path to the key for path with pre's precondition (pre may
 * be NULL; its kind and mode are ignored: the file's own mode is
 * recorded).  SYNC_ECONFLICT means someone else's version is there now.
 * A file smaller than r->inline_max goes up whole (one PutObject); a
 * larger one by its missing chunks (SYNC_UPLOAD_SENDERS in flight, on
 * threads of this call) and a commit.  On 0, *res is filled
 * (release res->chunks). */
int sync_file_upload(struct sync_remote *r, const char *root, const char *path,
                     const struct sync_write *pre, struct sync_upload_result *res);

/* Upload the symlink root/path (never followed) as an object holding its
 * target, marked as a link; res->chunks is the one chunk of the target.
 * SYNC_EBUSY if it is no longer a link or changed while read. */
int sync_link_upload(struct sync_remote *r, const char *root, const char *path,
                     const struct sync_write *pre, struct sync_upload_result *res);

/* What a download did. */
struct sync_download_result {
    struct sync_remote_object obj; /* the version written */
    struct sync_stat st;           /* the file as written */
    struct sync_chunk_ref *chunks; /* its chunk list (malloc'd, free(); empty inline) */
    uint32_t nchunks;
    uint64_t bytes_fetched;        /* bytes read from the server */
    uint64_t bytes_reused;         /* bytes taken from the old local file */
};

/* Download the key for path into root/path (a file with the mode the
 * server recorded, or a symlink when the object is marked as one).  old/nold: the chunk list of
 * the local file as the index knows it (may be 0), whose chunks are read
 * from the file (and checked) instead of fetched.  expect_st (may be
 * NULL): the local file must still match it (kind, size, mtime, inode)
 * right before the rename, else SYNC_ECONFLICT and the file is left
 * alone: a local edit is never overwritten.  Missing folders are created. */
int sync_file_download(struct sync_remote *r, const char *root, const char *path,
                       const struct sync_chunk_ref *old, uint32_t nold,
                       const struct sync_stat *expect_st, struct sync_download_result *res);

#endif
