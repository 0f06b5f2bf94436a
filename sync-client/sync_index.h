/*
 * sync-client/sync_index.h - the local index of a synced folder.
 *
 * One LMDB environment per synced folder, in FOLDER/.cairn-sync/index/.
 * It remembers, for every path the daemon has synced, what the path looked
 * like on disk (size, mtime, inode, mode, kind), its chunk list, and the
 * server's ETag and version id at that sync; and, per folder, the change
 * feed cursor.  The planner (sync_plan.h) compares it with the disk and the
 * server to decide what to do.
 *
 * Calling sequence: sync_index_open() -> any number of
 *   sync_index_txn_begin() -> get/put/delete/iterate/cursor calls ->
 *   sync_index_txn_commit() or sync_index_txn_abort()
 * and of single calls with txn NULL (each runs in a transaction of its
 * own, committed before it returns) -> sync_index_close().
 *
 * Atomicity and durability: everything done in one write transaction lands
 * together or not at all (a rename is a delete and a put in one
 * transaction).  A commit returns only after LMDB's default synchronous
 * commit (data pages and meta page written and fsync'ed: no MDB_NOSYNC,
 * no MDB_NOMETASYNC), so a committed transaction survives kill -9 at any
 * moment, and power loss too; an uncommitted one leaves no trace.  Each
 * commit costs about two fsyncs: put many updates in one transaction when
 * they arrive together (a scan), and write the index after each step the
 * server confirmed, never before.
 *
 * Threads and processes: a struct sync_index may be shared by threads.  A
 * write transaction belongs to the thread that began it; only one write
 * transaction exists at a time (others wait in txn_begin, so a thread must
 * not begin a second transaction while it holds a write one).  Read
 * transactions may move between threads and run alongside the writer
 * (they see the snapshot of their begin).  Other processes (the
 * `cairn-sync status` CLI) may open the same index; one process must open
 * a given index only once (an LMDB rule).
 *
 * Keys and order: paths are up to SYNC_PATH_MAX (1024) bytes but LMDB keys
 * at most 511.  A path of up to SYNC_INDEX_KEY_PREFIX (479) bytes is its
 * own key; a longer one is keyed by its first 479 bytes followed by the
 * SHA-256 of the whole path (511 bytes), and every record also holds its
 * full path.  That keeps byte order except among long paths sharing their
 * first 479 bytes, which iterate() sorts back into place; so iteration is
 * in byte order of the full paths (the order S3 lists keys in), always.
 * The on-disk layout is in docs/sync-protocol.md ("The local index").
 *
 * Ownership: inputs are borrowed for the call.  An entry filled by
 * sync_index_get() is the caller's (its chunk array is malloc'd: release
 * with sync_entry_release()); nothing returned points into LMDB.
 * An entry handed to an iterate callback is borrowed for that call.
 *
 * Errors: 0 or a negative code (sync.h): SYNC_EINVAL (bad argument, a path
 * sync_path_check() refuses, txn from another index), SYNC_ETOOLONG,
 * SYNC_ENOTFOUND, SYNC_ECORRUPT (a record or the format marker does not
 * decode), SYNC_EFULL (map full: the transaction is then broken and can
 * only be aborted; reopen with a larger mapsize), SYNC_ERDONLY (write in a
 * read transaction), -ENOMEM, -EIO and other errno values.  A failed call
 * leaves its out-parameters untouched; a failed call with txn NULL has
 * changed nothing.
 */
#ifndef CAIRN_SYNC_INDEX_H
#define CAIRN_SYNC_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "sync-client/sync.h"

#define SYNC_INDEX_DIR ".cairn-sync/index"   /* below the synced folder */
#define SYNC_INDEX_MAPSIZE_DEFAULT (16ull << 30) /* sparse: costs no disk */
#define SYNC_INDEX_KEY_PREFIX 479            /* longest path used as its own key */
#define SYNC_INDEX_CURSOR_MAX 128            /* change-feed cursor, bytes */
#define SYNC_INDEX_FORMAT 1                  /* record and table layout version */

/* One path's record. */
struct sync_entry {
    char path[SYNC_PATH_MAX + 1]; /* NUL-terminated */
    size_t path_len;
    struct sync_stat st;          /* disk state at the last sync */
    int64_t indexed_ns;           /* wall clock when st was read (ns since the
                                     epoch; 0: unknown): an mtime this close
                                     to it may hide a later edit (sync_plan.h) */
    char etag[SYNC_ETAG_MAX + 1]; /* server state at the last sync; "" none */
    char version_id[SYNC_VERSION_MAX + 1];
    uint32_t nchunks;             /* 0..SYNC_CHUNKS_MAX */
    struct sync_chunk_ref *chunks;    /* nchunks entries, in file order */
};

/* Zero e (an empty entry that sync_entry_release() accepts). */
void sync_entry_init(struct sync_entry *e);

/* Free e->chunks and zero e.  NULL is fine. */
void sync_entry_release(struct sync_entry *e);

/* Copy path[0..len) into e->path / e->path_len after sync_path_check().
 * Returns 0, SYNC_EINVAL or SYNC_ETOOLONG (e untouched on error). */
int sync_entry_set_path(struct sync_entry *e, const char *path, size_t len);

struct sync_index;
struct sync_index_txn;

struct sync_index_opts {
    uint64_t mapsize; /* 0: SYNC_INDEX_MAPSIZE_DEFAULT */
};

/*
 * Open (creating if needed) the index of the synced folder `folder` (an
 * existing directory): FOLDER/.cairn-sync/ and its index/ are created with
 * mode 0700, and fsync'ed into their parents when new.  Clears reader slots
 * left by dead processes.  o may be NULL (defaults).
 * Returns 0 and *out (owned: sync_index_close()), SYNC_ECORRUPT for an
 * index of another format, or -errno (-ENOENT: no such folder,
 * -ENAMETOOLONG).
 */
int sync_index_open(const char *folder, const struct sync_index_opts *o, struct sync_index **out);

/* Close the index.  Every transaction must have ended.  NULL is fine. */
void sync_index_close(struct sync_index *ix);

/*
 * Begin a transaction: write != 0 for a write transaction (waits while
 * another one is open, in this or another process), 0 for a read-only
 * snapshot.  Returns 0 and *out (owned: it ends with commit or abort),
 * SYNC_EINVAL, or an errno value.
 */
int sync_index_txn_begin(struct sync_index *ix, int write, struct sync_index_txn **out);

/*
 * Commit and free t.  On 0 every change of t is durable (see above).  On
 * error nothing of t happened.  t is freed in both cases.  Committing a
 * read transaction just ends it.
 */
int sync_index_txn_commit(struct sync_index_txn *t);

/* Drop every change of t and free it.  NULL is fine. */
void sync_index_txn_abort(struct sync_index_txn *t);

/*
 * Read the entry of path[0..len) into *out (overwritten: release a
 * previous content first; on success release it with sync_entry_release).
 * txn: a transaction of ix, or NULL.  SYNC_ENOTFOUND if absent.
 */
int sync_index_get(struct sync_index *ix, struct sync_index_txn *txn, const char *path,
                   size_t len, struct sync_entry *out);

/*
 * Insert or replace the entry for e->path.  Checks: the path
 * (sync_path_check, path_len matching), kind FILE/SYMLINK/DIR, etag and
 * version_id NUL-terminated within their arrays, nchunks <= SYNC_CHUNKS_MAX
 * with chunks non-NULL when nchunks > 0: SYNC_EINVAL / SYNC_ETOOLONG
 * otherwise (the transaction stays usable).  e is borrowed.
 */
int sync_index_put(struct sync_index *ix, struct sync_index_txn *txn, const struct sync_entry *e);

/* Remove the entry of path[0..len).  SYNC_ENOTFOUND if absent. */
int sync_index_delete(struct sync_index *ix, struct sync_index_txn *txn, const char *path,
                      size_t len);

/*
 * Call fn(arg, entry) for every entry whose path starts with the bytes
 * prefix[0..prefix_len) (prefix_len 0: every entry; the prefix is raw
 * bytes: "docs/" for what is under docs), in byte order of the paths.
 * The entry is borrowed for the call; fn must not use txn (or write to the
 * index from this thread) while iterating.  fn returns 0 to go on; any
 * other value stops the walk and is returned.  Returns 0 after the last
 * entry, fn's value, or an error.  Memory: O(1) except for long paths
 * that share their first 479 bytes, whose paths are gathered and sorted
 * (about 1 KiB each).
 */
typedef int (*sync_index_iter_fn)(void *arg, const struct sync_entry *e);
int sync_index_iterate(struct sync_index *ix, struct sync_index_txn *txn, const char *prefix,
                       size_t prefix_len, sync_index_iter_fn fn, void *arg);

/* Number of entries, into *n. */
int sync_index_count(struct sync_index *ix, struct sync_index_txn *txn, uint64_t *n);

/*
 * The folder's change-feed cursor (the feed's "next", kept as opaque bytes
 * without NUL, 1..SYNC_INDEX_CURSOR_MAX of them).  set with len 0 removes
 * it (a fresh listing will follow).  get copies it into out (NUL-
 * terminated; out_size must exceed its length, else SYNC_ETOOLONG) and its
 * length into *out_len (may be NULL); SYNC_ENOTFOUND if none is stored.
 * Write the cursor in the same transaction as the entries it covers.
 */
int sync_index_cursor_set(struct sync_index *ix, struct sync_index_txn *txn, const char *cursor,
                          size_t len);
int sync_index_cursor_get(struct sync_index *ix, struct sync_index_txn *txn, char *out,
                          size_t out_size, size_t *out_len);

#endif
