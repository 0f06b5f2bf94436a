/*
 * metadata/meta_log.h - the command log every mutation goes through
 * (private to metadata/).
 *
 * A mutator encodes a command record (metadata/meta_cmd.h) and calls
 * meta_log_submit().  An implementation makes the command durable and
 * applies it with meta_apply() inside a write transaction, in log order,
 * then returns the apply's result to the submitter:
 *   - the local log (meta_log_local_new) applies at once: one LMDB write
 *     transaction per command, committed durably before submit returns;
 *   - a Raft log (later) appends the command to the replicated log, waits
 *     until it is committed and applied locally, and returns that result.
 *
 * Calling sequence: new -> submit (any threads, concurrently) -> free.
 * submit borrows cmd; res (may be NULL) receives what the apply hands back
 * and is owned by the caller (meta_result_release) only when submit
 * returned 0.
 */
#ifndef CAIRN_METADATA_META_LOG_H
#define CAIRN_METADATA_META_LOG_H

#include <stddef.h>

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

/* Single-node log over db (borrowed; must outlive the log).  NULL on ENOMEM. */
struct meta_log *meta_log_local_new(struct meta_db *db);

#endif
