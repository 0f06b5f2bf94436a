/*
 * sync-client/sync_engine.h - the daemon's engine for one synced folder:
 * it watches the folder and the server's change feed, plans every path
 * that may have changed (sync_plan.h), carries the plans out
 * (sync_transfer.h), and writes the index after every step the server
 * confirmed.
 *
 * Calling sequence: fill a struct sync_engine_config -> sync_engine_new()
 * -> sync_engine_run() (blocks until *stop becomes non-zero, e.g. from a
 * SIGTERM handler; returns within about a second of that) ->
 * sync_engine_free().  One engine per folder; several engines (several
 * folders) may run in one process, each on a thread of its own.
 *
 * Files the engine keeps in FOLDER/.cairn-sync/ (besides the index and
 * the lock of sync_folder.h), for the CLI and for people:
 *
 *   config       INI, written by `cairn-sync init`, read by the CLI
 *                (sync_config.h): endpoint, bucket, prefix, region,
 *                profile.  The engine itself takes its config as a struct.
 *   status.json  rewritten atomically (temp + rename) at most once a
 *                second while something changes, and at exit:
 *                  {"state": "up to date" | "syncing" | "offline" |
 *                            "paused" | "errors" | "stopped",
 *                   "pid": P, "updated_ms": T,
 *                   "pending_files": N, "pending_bytes": B,
 *                   "uploaded_bytes": U, "downloaded_bytes": D,
 *                   "errors": [{"path": "...", "error": "..."}, ...],
 *                   "last_error": "..."}
 *                "errors" lists paths skipped for now (unreadable,
 *                locked, unstorable names), at most SYNC_ENGINE_ERRORS_MAX.
 *   paused       while this file exists, the engine transfers nothing
 *                (it keeps watching and planning; `cairn-sync pause`
 *                creates it, `resume` removes it; looked at every loop).
 *   log          JSON lines, one per action done or failed:
 *                  {"ts_ms": T, "level": "info"|"warn"|"error",
 *                   "event": "upload"|"download"|"delete_remote"|
 *                            "delete_local"|"conflict"|"error"|...,
 *                   "path": "...", "msg": "..."}
 *                rotated to log.1 at SYNC_ENGINE_LOG_MAX bytes.
 *
 * Threads: run() uses the calling thread plus a change-feed thread and
 * cfg->workers transfer threads, all joined before it returns.
 */
#ifndef CAIRN_SYNC_ENGINE_H
#define CAIRN_SYNC_ENGINE_H

#include <signal.h>
#include <stdint.h>

#include "sync-client/sync.h"

#define SYNC_ENGINE_STATUS_FILE "status.json"
#define SYNC_ENGINE_PAUSED_FILE "paused"
#define SYNC_ENGINE_LOG_FILE "log"
#define SYNC_ENGINE_LOG_MAX (4u << 20)  /* bytes before log -> log.1 */
#define SYNC_ENGINE_ERRORS_MAX 100      /* paths listed in status.json */

struct sync_engine_config {
    const char *root;       /* the synced folder (absolute path) */
    const char *endpoint;   /* http://host:port */
    const char *region;     /* NULL: "us-east-1" */
    const char *access_key;
    const char *secret_key;
    const char *bucket;
    const char *prefix;     /* "" or ending in '/' */
    const char *host;       /* device name for conflict copies; NULL: gethostname() */
    int workers;            /* parallel transfers; 0: 4 */
    int debounce_ms;        /* quiet time after a local event; 0: 300 */
    int rescan_s;           /* full rescan period; 0: 600 */
    int quiet;              /* 1: do not print actions to stderr */
};

struct sync_engine;

/* Check the config, open the index and take the folder's lock (strings
 * are copied).  Returns 0 and *out, SYNC_ELOCKED (another process syncs
 * this folder), SYNC_EINVAL, or an errno value.  Does not contact the
 * server (run() does, and waits while it is offline). */
int sync_engine_new(const struct sync_engine_config *cfg, struct sync_engine **out);

/* Sync until *stop is non-zero.  Returns 0 after a clean stop, or an error
 * that makes syncing impossible (SYNC_EAUTH: credentials refused;
 * SYNC_EPROTO: a server with other chunking).  Being offline is not an
 * error: it waits and retries with backoff. */
int sync_engine_run(struct sync_engine *e, volatile sig_atomic_t *stop);

/* Release the lock and the index, free e.  NULL is fine. */
void sync_engine_free(struct sync_engine *e);

#endif
