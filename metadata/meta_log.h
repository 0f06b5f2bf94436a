/*
 * metadata/meta_log.h - the command log every mutation goes through
 * (private to metadata/ and its unit tests).
 *
 * A mutator encodes a command record (metadata/meta_cmd.h) and calls
 * meta_log_submit().  An implementation makes the command durable and
 * applies it with meta_apply() inside a write transaction, in log order,
 * then returns the apply's result to the submitter:
 *   - the local log (meta_log_local_new) group-commits: commands submitted
 *     concurrently are applied in one LMDB write transaction, each in its
 *     own nested transaction, and committed durably together before any
 *     of their submitters returns (details below);
 *   - a Raft log (later) appends the command to the replicated log, waits
 *     until it is committed and applied locally, and returns that result.
 *
 * Calling sequence: new -> submit (any threads, concurrently) -> free.
 * submit borrows cmd; res (may be NULL) receives what the apply hands back
 * and is owned by the caller (meta_result_release) only when submit
 * returned 0.  free only after every submit returned (meta_close's
 * contract); the local log also defends against a free that overlaps
 * queued submits (below).
 */
#ifndef CAIRN_METADATA_META_LOG_H
#define CAIRN_METADATA_META_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "metadata/meta_internal.h"

struct meta_log {
    int (*submit)(struct meta_log *log, const void *cmd, size_t len, struct meta_result *res);
    void (*free)(struct meta_log *log);
};

static inline int meta_log_submit(struct meta_log *log, const void *cmd, size_t len,
                                  struct meta_result *res)
{
    return log->submit(log, cmd, len, res);
}

static inline void meta_log_free(struct meta_log *log)
{
    if (log)
        log->free(log);
}

/*
 * Single-node log over db (borrowed; must outlive the log).  NULL on
 * ENOMEM.
 *
 * Group commit.  Submitters append themselves to one FIFO queue.  There is
 * no committer thread: the submitter at the head of the queue is the
 * leader.  It takes every queued command (at most META_LOG_BATCH_MAX
 * commands and META_LOG_BATCH_BYTES of command bytes; the first one is
 * always taken), opens one LMDB write transaction, applies the commands in
 * queue order, commits once (LMDB fsyncs), hands every submitter of the
 * batch its result, wakes them, and wakes the next head, which leads the
 * commands queued meanwhile.  So the number of commits follows the disk,
 * not the number of callers: while one batch is being synced, the next
 * one fills up.
 *
 * Failures.  The leader first applies the commands straight in the parent
 * transaction.  If one fails after others, the parent is aborted and the
 * batch applied again with each command in its own nested transaction
 * (mdb_txn_begin with the parent): a failing command aborts only its
 * nested transaction and gets its own error; the others commit.  (Nested
 * transactions are the fallback, not the rule, because LMDB allocates
 * ~3 MiB per nested transaction: with the server's fixed malloc mmap
 * threshold, nesting every command cut the durable 64-thread put rate to
 * a fifth, 1,400-2,100/s against 9,000-11,000/s.)  A lone command, or one
 * failing first in its transaction, is what it always was: one
 * transaction, aborted on error.
 *
 * Semantics are those of applying the commands one after the other in
 * queue order, each in its own transaction:
 *   - no result (success or failure) is handed out before the commit that
 *     decides it is durable; if that commit fails, every command of the
 *     batch gets the commit's error and none of them took effect;
 *   - a command that fails for a reason that depends on the batch rather
 *     than on the data (map full, LMDB transaction too big, ENOMEM, I/O,
 *     anything not a "logical" meta_error) is not reported while other
 *     commands share its transaction: the commands before it are committed
 *     and it is applied again first in a new transaction;
 *   - MDB_MAP_FULL grows the map (meta_db_grow) and applies the affected
 *     commands again from scratch (up to META_LOG_FULL_RETRIES times per
 *     command), as before.
 *
 * Close.  free() rejects new submits with -ESHUTDOWN, waits until every
 * submit already queued has been committed and has returned, and only
 * then frees.  That makes a close racing with queued submitters safe for
 * them, but the contract stays: meta_close() after every other call
 * returned (a submit that starts after free returned uses freed memory).
 */
#define META_LOG_BATCH_MAX 128
#define META_LOG_BATCH_BYTES (8u << 20)
#define META_LOG_FULL_RETRIES 8

struct meta_log *meta_log_local_new(struct meta_db *db);

/* ---- introspection for tests and metrics (local log only) ---- */

struct meta_log_local_stats {
    uint64_t batches;   /* batches taken by leaders */
    uint64_t commits;   /* commits of parent transactions attempted (a
                           batch split or retried takes several; a batch
                           whose commands all failed, none) */
    uint64_t commands;  /* commands that got a result */
    uint64_t nested_batches; /* batches applied again in nested mode */
    uint64_t max_batch; /* most commands taken by one leader */
    uint64_t waiting;   /* submitters queued behind the batch being run now */
    int closing;        /* free() has started */
};
void meta_log_local_stats(struct meta_log *log, struct meta_log_local_stats *out);

/* Call hook(arg, n) in the leader after it took a batch of n commands and
 * before it opens the transaction (NULL: none).  Tests use it to hold a
 * batch open while they queue more submitters.  Set it while no submit is
 * running. */
void meta_log_local_set_hook(struct meta_log *log, void (*hook)(void *arg, size_t n), void *arg);

#endif
