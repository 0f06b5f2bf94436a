/*
 * sync-client/sync_remote.h - the server as the sync client sees it: the
 * extension calls of docs/sync-protocol.md, and the plain S3 calls the
 * client needs around them, over common/http_client (SigV4; one
 * connection per call).
 *
 * Calling sequence: fill a struct sync_remote (endpoint, keys, bucket and
 * key prefix, all borrowed and kept alive by the caller), call
 * sync_remote_check() once (it refuses a server whose chunking differs
 * from ours: chunk ids would never match), then any calls, from any
 * threads (each call uses only its arguments and r->http; last_error is
 * per call and not thread-safe: read it from the calling thread right
 * after the failure, with one thread per struct when that matters).
 *
 * Paths are folder-relative (sync.h); the object key is prefix + path.
 *
 * Errors: 0, or SYNC_EOFFLINE (no answer: retry later), SYNC_ECONFLICT (a
 * precondition failed: the object changed on the server since the client
 * looked), SYNC_EMISSING (a commit named chunks the server lacks: upload
 * them, commit again), SYNC_ENOTFOUND (no such object), SYNC_EAUTH
 * (credentials refused, access denied), SYNC_ESERVER (any other error
 * answer), SYNC_EPROTO (an answer that does not parse), SYNC_EINVAL (bad
 * arguments), -ENOMEM.  After a failure r->last_error holds the S3 error
 * code and message, or the transport error.
 */
#ifndef CAIRN_SYNC_REMOTE_H
#define CAIRN_SYNC_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "common/http_client.h"
#include "common/sync_proto.h"
#include "sync-client/sync.h"

struct sync_remote {
    struct http_client http; /* endpoint and credentials (borrowed strings) */
    const char *bucket;      /* borrowed */
    const char *prefix;      /* key prefix: "" or ending in '/' (borrowed) */
    uint64_t inline_max;     /* smaller files go up whole (sync_remote_put); set by check */
    char last_error[320];    /* why the last call failed */
};

/* What the server holds for a key. */
struct sync_remote_object {
    char etag[SYNC_ETAG_MAX + 1];          /* with its quotes, as sent */
    char version_id[SYNC_VERSION_MAX + 1];
    uint64_t size;
    int64_t mtime_ms;
    int is_inline; /* small object: no chunk list, read it whole */
    uint8_t kind;  /* enum sync_kind from its metadata (FILE when it has none) */
    uint32_t mode; /* permission bits from its metadata; 0: none recorded */
};

/*
 * How a write lands: its precondition, and what it records of the path in
 * the object's user metadata (x-amz-meta-cairn-kind: "symlink" or "dir",
 * absent for a file; x-amz-meta-cairn-mode: the permission bits in octal),
 * which sync_remote_chunk_list() reads back.  A directory is the object
 * "<path>/" (the S3 folder convention), a symlink an object holding its
 * target.  NULL: overwrite, record nothing.
 */
struct sync_write {
    const char *if_match; /* the ETag last seen, as the server sent it; NULL: none */
    int if_absent;        /* 1: the key must not exist (not with if_match) */
    uint8_t kind;         /* enum sync_kind; NONE counts as FILE */
    uint32_t mode;        /* 0: not recorded */
};

/* GET /?cairn-sync: the server speaks protocol 1 and cuts chunks with the
 * parameters of common/fastcdc.h (SYNC_EPROTO otherwise); its inline_max
 * goes to r->inline_max. */
int sync_remote_check(struct sync_remote *r);

/* Which of chunks[0..n) the server lacks: missing[i] = 1 or 0.  Asks in
 * batches of the protocol's maximum. */
int sync_remote_missing(struct sync_remote *r, const struct sync_chunk_ref *chunks, size_t n,
                        uint8_t *missing);

/* Upload one chunk (len bytes of data, borrowed) whose SHA-256 is id.
 * Durable on 0; *stored (may be NULL) = 0 if the server had it. */
int sync_remote_put_chunk(struct sync_remote *r, const uint8_t id[SYNC_ID_LEN], const void *data,
                          size_t len, int *stored);

/* Commit path as the object made of chunks[0..n) (size bytes in all),
 * with w's precondition and metadata (w may be NULL).  out (may be NULL)
 * receives the new version. */
int sync_remote_commit(struct sync_remote *r, const char *path, const struct sync_chunk_ref *chunks,
                       uint32_t n, uint64_t size, const struct sync_write *w,
                       struct sync_remote_object *out);

/* PutObject of len bytes (borrowed; Content-MD5 sent) at path, with w's
 * precondition and metadata (w may be NULL): for small files, symlinks and
 * directory markers.  out (may be NULL) receives the new version. */
int sync_remote_put(struct sync_remote *r, const char *path, const void *data, size_t len,
                    const struct sync_write *w, struct sync_remote_object *out);

/* CopyObject: the object at from, only while it is version from_etag, to
 * path, with w's precondition and metadata (the copy's own, replacing
 * the source's).  A server-side copy: no content is sent.  out (may be
 * NULL) receives the new version (its size is not known here: 0).
 * SYNC_ECONFLICT: the source changed or the precondition on path failed;
 * SYNC_ENOTFOUND: no source. */
int sync_remote_copy(struct sync_remote *r, const char *from, const char *from_etag,
                     const char *path, const struct sync_write *w, struct sync_remote_object *out);

/* DeleteObject of path, only while it is version if_match (NULL: any).
 * An absent key is no error (S3 deletes are idempotent). */
int sync_remote_delete(struct sync_remote *r, const char *path, const char *if_match);

/* What the server holds at path (its chunk list dropped). */
int sync_remote_stat(struct sync_remote *r, const char *path, struct sync_remote_object *obj);

/* The object at path and (unless inline) its chunk list (*list released
 * with sync_chunk_list_release; empty for an inline object). */
int sync_remote_chunk_list(struct sync_remote *r, const char *path, struct sync_remote_object *obj,
                           struct sync_chunk_list *list);

/* Bytes [off, off+len) of the object at path into buf, only if it still
 * has ETag if_match (SYNC_ECONFLICT if it changed).  len may be 0 only for
 * an empty range at the end. */
int sync_remote_get_range(struct sync_remote *r, const char *path, const char *if_match,
                          uint64_t off, size_t len, void *buf);

/* One object under the prefix, from a listing: key relative to the
 * prefix. */
struct sync_remote_entry {
    char *key; /* owned by the array */
    char etag[SYNC_ETAG_MAX + 1];
    uint64_t size;
};

/* A page of the objects under the prefix (ListObjectsV2, keys in byte
 * order, at most 1000).  *token: "" to start; on return the continuation
 * token, "" when this was the last page (cap SYNC_REMOTE_TOKEN_MAX).
 * *out (free with sync_remote_entries_free) and *n.  A full scan with the
 * feed cursor taken first (SYNC_REMOTE_LATEST) misses nothing. */
#define SYNC_REMOTE_TOKEN_MAX 2048
int sync_remote_list(struct sync_remote *r, char token[SYNC_REMOTE_TOKEN_MAX + 1],
                     struct sync_remote_entry **out, size_t *n);
void sync_remote_entries_free(struct sync_remote_entry *e, size_t n);

/* One change of the feed: key is relative to the prefix (changes outside
 * it are not returned). */
struct sync_remote_change {
    uint64_t seq;
    int is_delete;
    char *key; /* owned by the array */
    char etag[SYNC_ETAG_MAX + 1];
    char version_id[SYNC_VERSION_MAX + 1];
    uint64_t size;
    uint8_t kind;  /* of a put, from its metadata as in sync_remote_object */
    uint32_t mode; /* of a put; 0: none recorded */
};

/* Changes after cursor *after (SYNC_REMOTE_LATEST: from now on), waiting
 * up to wait_s seconds for one; *after is advanced past what was looked
 * at.  *out (free with sync_remote_changes_free) and *n; *more = 1 if more
 * are waiting already. */
#define SYNC_REMOTE_LATEST UINT64_MAX
int sync_remote_changes(struct sync_remote *r, uint64_t *after, int wait_s,
                        struct sync_remote_change **out, size_t *n, int *more);
void sync_remote_changes_free(struct sync_remote_change *c, size_t n);

#endif
