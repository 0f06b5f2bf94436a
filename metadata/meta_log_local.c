/*
 * metadata/meta_log_local.c - the single-node command log, with group
 * commit (contract in meta_log.h).
 *
 * Why a leader and not a committer thread: the submitter at the head of
 * the queue runs the batch itself, so a lone writer pays no thread
 * hand-off (its latency and throughput are those of one transaction per
 * command), there is no thread to start, name or stop, and LMDB's writer
 * lock is always taken and released by the thread that runs the whole
 * transaction, as LMDB requires.  This is the writer queue of LevelDB and
 * of many databases' log writers.
 *
 * Queue discipline (all under mu): a submitter appends a struct waiter
 * (on its own stack) and sleeps on its own condition variable until it is
 * done or at the head.  The head takes a batch, drops mu, runs it, retakes
 * mu, pops the batch, marks each waiter done and signals it, and signals
 * the new head.  Waiters in a running batch stay queued, so the head is
 * always the running leader (or the next one); a waiter's fields are
 * written by the leader before it takes mu to set done, and read by the
 * waiter after it saw done under mu.  Signals are sent with mu held: a
 * woken waiter destroys its condition variable only after retaking mu.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "metadata/meta_log.h"

/* One submit: lives on the submitter's stack from enqueue to return. */
struct waiter {
    struct waiter *next;
    const void *cmd; /* borrowed from the submitter, which is blocked */
    size_t len;
    int want_res;
    int done;               /* the result is final (set under mu) */
    int rc;                 /* written by the leader before done */
    struct meta_result res; /* likewise; owned by the waiter */
    pthread_cond_t wake;
};

struct meta_log_local {
    struct meta_log log; /* first: the interface */
    struct meta_db *db;
    pthread_mutex_t mu;
    pthread_cond_t drained;     /* free(): inflight reached 0 */
    struct waiter *head, *tail; /* FIFO of queued submits */
    size_t queued;              /* waiters in the queue */
    size_t running;             /* of which in the batch being run */
    size_t inflight;            /* submits between enqueue and return */
    int closing;
    void (*hook)(void *arg, size_t n);
    void *hook_arg;
    struct meta_log_local_stats st;
};

/*
 * Is rc an outcome of the command and the data alone, the one it would
 * have in a transaction of its own?  Such an error is final even when
 * other commands share the transaction.  Anything else (map or
 * transaction full, ENOMEM, I/O, LMDB-level corruption) may come from the
 * batch, so the command is run again as the first of a transaction before
 * its error counts.
 */
static int error_is_final(int rc)
{
    switch (rc) {
    case META_ENOTFOUND:
    case META_ENOBUCKET:
    case META_EEXISTS:
    case META_EOWNED:
    case META_ENOTEMPTY:
    case META_EPRECOND:
    case META_ENOUPLOAD:
    case META_ENOCHUNK:
    case META_EINVAL:
    case META_ENOPART:
        return 1;
    }
    return 0;
}

static void waiter_unset(struct waiter *w)
{
    meta_result_release(&w->res);
    w->rc = 0;
}

/*
 * Apply w's command in a transaction nested in parent.  On failure the
 * nested transaction is aborted, so parent holds nothing of it.
 * *parent_ok is cleared when committing the nested transaction failed:
 * LMDB then may have left parent half-merged (flagged as failed).
 */
static int apply_nested(struct meta_log_local *l, MDB_txn *parent, struct waiter *w, int *parent_ok)
{
    MDB_txn *child = NULL;
    int rc = mdb_txn_begin(l->db->env, parent, 0, &child);
    if (rc)
        return meta_err_from_mdb(rc);
    rc = meta_apply(l->db, child, w->cmd, w->len, w->want_res ? &w->res : NULL);
    if (rc) {
        mdb_txn_abort(child);
        return rc;
    }
    rc = mdb_txn_commit(child);
    if (rc) {
        *parent_ok = 0;
        meta_result_release(&w->res);
        return meta_err_from_mdb(rc);
    }
    return 0;
}

/*
 * Apply b[0..n) in queue order and commit durably, in as few write
 * transactions as the rules of meta_log.h allow (one, normally).  Every
 * waiter ends with rc (and res when rc is 0).  Returns the number of
 * commits made; *fell_back is set when the batch had to be applied again
 * with nested transactions.
 *
 * Two modes.  Optimistic (the start): every command straight in the
 * parent, as most commands succeed.  A command failing after others in
 * the same parent may have left partial changes there, so the parent is
 * aborted and the batch applied again in nested mode: each command in its
 * own nested transaction, a failure aborting only that one.  Nested mode
 * is not the start because LMDB allocates about 3 MiB per nested
 * transaction (its dirty and free page lists), which costs more CPU than
 * the apply itself when malloc hands such blocks out with mmap (as the
 * server configures it: cmd/main.c) - several times the throughput of a
 * batch without failures.  A failing batch pays for its prefix twice.
 */
static uint64_t run_batch(struct meta_log_local *l, struct waiter **b, size_t n, int *fell_back)
{
    size_t start = 0; /* b[..start) have their final result */
    size_t limit = n; /* this transaction takes at most b[start..limit) */
    int tries = 0;    /* map growths without progress */
    int nested = 0;   /* nested mode, for the rest of the batch */
    uint64_t commits = 0;

    while (start < n) {
        MDB_txn *parent;
        int rc = meta_db_write_begin(l->db, &parent);
        if (rc) {
            for (size_t i = start; i < n; i++)
                b[i]->rc = rc;
            break;
        }
        uint64_t seen = l->db->mapsize; /* stable while we hold the txn */
        int use_nested = nested && limit - start > 1;
        int parent_ok = 1;
        size_t end;
        for (end = start; end < limit; end++) {
            struct waiter *w = b[end];
            if (use_nested)
                rc = apply_nested(l, parent, w, &parent_ok);
            else
                rc = meta_apply(l->db, parent, w->cmd, w->len, w->want_res ? &w->res : NULL);
            if (rc && !(use_nested && error_is_final(rc)))
                break;
            w->rc = rc;
        }

        if (end < limit && end > start && !use_nested) {
            /* b[end] failed in the parent, after others: undo it all and
             * apply the rest of the batch again in nested mode */
            meta_db_write_end(l->db, parent, 0);
            for (size_t i = start; i < end; i++)
                waiter_unset(b[i]);
            nested = 1;
            *fell_back = 1;
            continue;
        }
        if (end == start) {
            meta_db_write_end(l->db, parent, 0);
            if (use_nested) {
                /* first, nested, and not a final error: run it exactly
                 * as it would run alone before its error counts */
                limit = start + 1;
                continue;
            }
            /* what b[start] gets alone, except that a full map grows */
            if (rc == META_EFULL && tries < META_LOG_FULL_RETRIES) {
                tries++;
                int grc = meta_db_grow(l->db, seen);
                if (grc == 0)
                    continue;
                rc = grc;
            }
            b[start]->rc = rc;
            start++;
            limit = n;
            tries = 0;
            continue;
        }
        if (end < limit && !parent_ok) {
            /* b[end] broke the parent: apply b[start..end) again without it */
            meta_db_write_end(l->db, parent, 0);
            for (size_t i = start; i < end; i++)
                waiter_unset(b[i]);
            limit = end;
            continue;
        }
        /* commit b[start..end); a b[end] that failed on account of the
         * batch (nested mode) goes first in the next transaction */
        rc = meta_db_write_end(l->db, parent, 1);
        commits++;
        if (rc == 0) {
            start = end;
            limit = n;
            tries = 0;
            continue;
        }
        for (size_t i = start; i < end; i++)
            waiter_unset(b[i]);
        if (rc == META_EFULL && tries < META_LOG_FULL_RETRIES) {
            tries++;
            int grc = meta_db_grow(l->db, seen);
            if (grc == 0) {
                limit = end; /* the same commands again, from scratch */
                continue;
            }
            rc = grc;
        }
        /* nothing of b[start..end) is in the store */
        for (size_t i = start; i < end; i++)
            b[i]->rc = rc;
        start = end;
        limit = n;
        tries = 0;
    }
    return commits;
}

/* Called by the head of the queue with mu held; returns with mu held and
 * every waiter of the batch (the caller's included) done. */
static void local_lead(struct meta_log_local *l)
{
    struct waiter *batch[META_LOG_BATCH_MAX];
    size_t n = 0, bytes = 0;
    for (struct waiter *w = l->head; w && n < META_LOG_BATCH_MAX; w = w->next) {
        if (n > 0 && bytes + w->len > META_LOG_BATCH_BYTES)
            break;
        batch[n++] = w;
        bytes += w->len;
    }
    l->running = n;
    l->st.batches++;
    if (n > l->st.max_batch)
        l->st.max_batch = n;
    void (*hook)(void *, size_t) = l->hook;
    void *hook_arg = l->hook_arg;
    pthread_mutex_unlock(&l->mu);

    if (hook)
        hook(hook_arg, n);
    int fell_back = 0;
    uint64_t commits = run_batch(l, batch, n, &fell_back);

    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        struct waiter *w = l->head; /* == batch[i] */
        l->head = w->next;
        w->done = 1;
        pthread_cond_signal(&w->wake);
    }
    if (!l->head)
        l->tail = NULL;
    else
        pthread_cond_signal(&l->head->wake); /* the next leader */
    l->queued -= n;
    l->running = 0;
    l->st.commits += commits;
    l->st.nested_batches += (uint64_t)fell_back;
    l->st.commands += n;
}

static int local_submit(struct meta_log *log, const void *cmd, size_t len, struct meta_result *res)
{
    struct meta_log_local *l = (struct meta_log_local *)log;
    struct waiter w;
    memset(&w, 0, sizeof w);
    w.cmd = cmd;
    w.len = len;
    w.want_res = res != NULL;
    int rc = pthread_cond_init(&w.wake, NULL);
    if (rc)
        return -rc;

    pthread_mutex_lock(&l->mu);
    if (l->closing) {
        pthread_mutex_unlock(&l->mu);
        pthread_cond_destroy(&w.wake);
        return -ESHUTDOWN;
    }
    l->inflight++;
    if (l->tail)
        l->tail->next = &w;
    else
        l->head = &w;
    l->tail = &w;
    l->queued++;
    while (!w.done && l->head != &w)
        pthread_cond_wait(&w.wake, &l->mu);
    if (!w.done)
        local_lead(l);
    l->inflight--;
    if (l->closing && l->inflight == 0)
        pthread_cond_broadcast(&l->drained);
    pthread_mutex_unlock(&l->mu);
    pthread_cond_destroy(&w.wake);

    if (w.rc == 0 && res)
        *res = w.res;
    else
        meta_result_release(&w.res);
    return w.rc;
}

static void local_free(struct meta_log *log)
{
    struct meta_log_local *l = (struct meta_log_local *)log;
    pthread_mutex_lock(&l->mu);
    l->closing = 1;
    if (l->inflight)
        log_warn("metadata: store closed with %zu writes in flight; waiting for them",
                 l->inflight);
    while (l->inflight)
        pthread_cond_wait(&l->drained, &l->mu);
    pthread_mutex_unlock(&l->mu);
    pthread_cond_destroy(&l->drained);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

struct meta_log *meta_log_local_new(struct meta_db *db)
{
    struct meta_log_local *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        return NULL;
    }
    if (pthread_cond_init(&l->drained, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        free(l);
        return NULL;
    }
    l->log.submit = local_submit;
    l->log.free = local_free;
    l->db = db;
    return &l->log;
}

void meta_log_local_stats(struct meta_log *log, struct meta_log_local_stats *out)
{
    struct meta_log_local *l = (struct meta_log_local *)log;
    pthread_mutex_lock(&l->mu);
    *out = l->st;
    out->waiting = l->queued - l->running;
    out->closing = l->closing;
    pthread_mutex_unlock(&l->mu);
}

void meta_log_local_set_hook(struct meta_log *log, void (*hook)(void *arg, size_t n), void *arg)
{
    struct meta_log_local *l = (struct meta_log_local *)log;
    pthread_mutex_lock(&l->mu);
    l->hook = hook;
    l->hook_arg = arg;
    pthread_mutex_unlock(&l->mu);
}
