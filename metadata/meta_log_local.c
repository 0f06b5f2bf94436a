/*
 * metadata/meta_log_local.c - the single-node command log: each command is
 * applied in its own LMDB write transaction and committed durably (LMDB
 * fsyncs the data and meta pages at commit) before submit returns.
 *
 * LMDB serializes writers, so concurrent submits queue on its writer lock.
 * When the map fills up (MDB_MAP_FULL from a put or the commit), the
 * transaction is aborted, the map doubled and the command applied again
 * from scratch: apply is deterministic, so the retry is the same command.
 */
#include <stdlib.h>

#include "metadata/meta_log.h"

#define META_LOG_FULL_RETRIES 8

struct meta_log_local {
    struct meta_log log; /* first: the interface */
    struct meta_db *db;
};

static int local_submit(struct meta_log *log, const void *cmd, size_t len, struct meta_result *res)
{
    struct meta_log_local *l = (struct meta_log_local *)log;
    for (int tries = 0;; tries++) {
        MDB_txn *txn;
        struct meta_result r = {0};
        int rc = meta_db_write_begin(l->db, &txn);
        if (rc)
            return rc;
        uint64_t seen = l->db->mapsize; /* stable while we hold the txn */
        rc = meta_apply(l->db, txn, cmd, len, res ? &r : NULL);
        if (rc == 0)
            rc = meta_db_write_end(l->db, txn, 1);
        else
            meta_db_write_end(l->db, txn, 0);
        if (rc == 0) {
            if (res)
                *res = r;
            return 0;
        }
        meta_result_release(&r);
        if (rc != META_EFULL || tries >= META_LOG_FULL_RETRIES)
            return rc;
        rc = meta_db_grow(l->db, seen);
        if (rc)
            return rc;
    }
}

static void local_free(struct meta_log *log)
{
    free(log);
}

struct meta_log *meta_log_local_new(struct meta_db *db)
{
    struct meta_log_local *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->log.submit = local_submit;
    l->log.free = local_free;
    l->db = db;
    return &l->log;
}
