/*
 * sync-client/sync_engine.c - see sync_engine.h.
 *
 * Who does what:
 *   - the engine thread (the caller of run) owns the set of paths to look
 *     at ("dirty", each with the time it is due), the server hints, the
 *     index writes, status.json and the log.  It never waits on a
 *     transfer or on file content; a full rescan (the server's listing and
 *     a walk of the folder) does run on it, and new events queue meanwhile.
 *   - the feed thread long-polls the server's change feed and hands the
 *     changes to the engine thread.
 *   - worker threads reconcile one path each: look at the disk, the index
 *     and the server, plan (sync_plan.h), carry the plan out, and hand
 *     back what the index must now say.  A path is in at most one worker
 *     at a time, and its index write lands before it is planned again.
 *
 * Server hints: a map path -> (ETag, size, kind) from a listing at start
 * and from the feed afterwards.  A hint only saves a request: when it
 * agrees with the index the path's server side is taken as unchanged (a
 * write carries a precondition, so a stale hint ends in a 412 and a fresh
 * look, never in an overwrite); whenever it disagrees, or a decision would
 * delete or fetch, the worker asks the server itself first.
 *
 * Index writes are batched: every result that arrived in one turn of the
 * loop lands in one LMDB transaction.  A kill -9 between a server's
 * confirmation and that transaction is harmless: the next plan recognises
 * the commit by its ETag and records it (rows A4 / E3).
 */
#include "sync-client/sync_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/file.h"
#include "common/hash.h"
#include "sync-client/sync_conflict.h"
#include "sync-client/sync_folder.h"
#include "sync-client/sync_ignore.h"
#include "sync-client/sync_index.h"
#include "sync-client/sync_path.h"
#include "sync-client/sync_plan.h"
#include "sync-client/sync_remote.h"
#include "sync-client/sync_scan.h"
#include "sync-client/sync_transfer.h"
#include "sync-client/sync_watch.h"

#define FEED_WAIT_S 25           /* long-poll of the change feed */
#define QUEUE_PER_WORKER 4       /* paths handed out ahead per worker */
#define RETRY_BUSY_MS 1000       /* a file being written */
#define RETRY_ERROR_MS 30000     /* an error that may go away */
#define OFFLINE_MAX_MS 30000     /* longest wait between tries when offline */
#define PLAN_ROUNDS 6            /* plans of one path in one job (412, conflict, chunk) */
#define MOVED_MAX 256            /* small files gone from their path, remembered */
#define MOVED_TTL_MS 10000       /* ... this long, to pair them with where they went */
#define MOVED_HOLD_MS 2000       /* the old path's delete waits for the copy */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a path-keyed hash map ------------------------------------------------ */

struct hint {
    char etag[SYNC_ETAG_MAX + 1];
    uint64_t size;
    uint8_t kind;
    uint32_t mode; /* permission bits the object records; 0 unknown */
};

struct pm_entry {
    struct pm_entry *next;
    uint64_t hash;
    char *path;
    union {
        struct { int64_t due_ms; uint32_t tries; } dirty;
        struct hint hint;
    } v;
};

struct pmap {
    struct pm_entry **b;
    size_t nb, n;
};

static uint64_t path_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static struct pm_entry *pm_find(const struct pmap *m, const char *path)
{
    if (!m->nb)
        return NULL;
    uint64_t h = path_hash(path);
    for (struct pm_entry *e = m->b[h & (m->nb - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->path, path) == 0)
            return e;
    return NULL;
}

/* The entry for path, made (zeroed) if absent; *made says which.  NULL on
 * ENOMEM. */
static struct pm_entry *pm_get(struct pmap *m, const char *path, int *made)
{
    struct pm_entry *e = pm_find(m, path);
    if (made)
        *made = !e;
    if (e)
        return e;
    if (m->n >= m->nb) { /* grow: keep the load at most 1 */
        size_t nb = m->nb ? 2 * m->nb : 256;
        struct pm_entry **b = calloc(nb, sizeof *b);
        if (!b)
            return NULL;
        for (size_t i = 0; i < m->nb; i++)
            for (struct pm_entry *x = m->b[i], *nx; x; x = nx) {
                nx = x->next;
                x->next = b[x->hash & (nb - 1)];
                b[x->hash & (nb - 1)] = x;
            }
        free(m->b);
        m->b = b;
        m->nb = nb;
    }
    if (!(e = calloc(1, sizeof *e)) || !(e->path = strdup(path))) {
        free(e);
        return NULL;
    }
    e->hash = path_hash(path);
    e->next = m->b[e->hash & (m->nb - 1)];
    m->b[e->hash & (m->nb - 1)] = e;
    m->n++;
    return e;
}

static void pm_del(struct pmap *m, const char *path)
{
    if (!m->nb)
        return;
    uint64_t h = path_hash(path);
    for (struct pm_entry **p = &m->b[h & (m->nb - 1)]; *p; p = &(*p)->next)
        if ((*p)->hash == h && strcmp((*p)->path, path) == 0) {
            struct pm_entry *e = *p;
            *p = e->next;
            free(e->path);
            free(e);
            m->n--;
            return;
        }
}

static void pm_clear(struct pmap *m)
{
    for (size_t i = 0; i < m->nb; i++)
        for (struct pm_entry *x = m->b[i], *nx; x; x = nx) {
            nx = x->next;
            free(x->path);
            free(x);
        }
    free(m->b);
    memset(m, 0, sizeof *m);
}

/* ---- jobs ------------------------------------------------------------------ */

enum index_op { IX_NONE = 0, IX_PUT, IX_DELETE };

struct job {
    struct job *next;
    char *path;
    int has_hint;            /* the server hint at dispatch */
    struct hint hint;
    /* results */
    int rc;
    enum index_op op;
    struct sync_entry entry; /* IX_PUT */
    int hint_op;             /* 0 keep, 1 set new_hint, 2 remove */
    struct hint new_hint;
    int retry_ms;            /* > 0: look again after this long */
    char also[SYNC_PATH_MAX + 1]; /* another path to look at (a conflict copy) */
    char copy_from[SYNC_PATH_MAX + 1]; /* a rename's old path: copy it on the server */
    char copy_etag[SYNC_ETAG_MAX + 1];
    uint64_t up, down;
    const char *event;       /* what was done, for the log (static) */
    char msg[SYNC_PATH_MAX + 200];
};

struct worker {
    struct sync_engine *e;
    struct sync_remote remote;
    pthread_t thread;
};

struct sync_engine {
    char *root, *endpoint, *region, *access_key, *secret_key, *bucket, *prefix;
    char host[SYNC_CONFLICT_HOST_MAX + 1];
    int workers, debounce_ms, rescan_s, quiet;
    int lock_fd;
    struct sync_index *ix;
    struct sync_ignore *ig;
    struct sync_watch *watch;
    struct sync_remote remote; /* the engine thread's */

    struct pmap dirty, hints, inflight;
    struct moved {             /* a small file gone from its path (ring) */
        uint64_t inode, size;
        int64_t at_ms;
        char etag[SYNC_ETAG_MAX + 1];
        char path[SYNC_PATH_MAX + 1];
    } *moved;
    size_t moved_next;
    int wake_fd;               /* eventfd: results or changes are waiting */

    pthread_mutex_t mu;        /* guards everything below */
    pthread_cond_t cv;
    struct job *todo_head, *todo_tail, *done;
    struct sync_remote_change *changes; /* from the feed thread */
    size_t nchanges;
    int feed_offline, stopping;
    volatile int cancel;       /* set at stop: requests in progress give up */
    uint64_t cursor;

    /* engine-thread state */
    int offline, feed_offline_seen, was_paused;
    int64_t offline_until, offline_wait;
    int64_t last_status_ms, next_rescan_ms;
    int64_t next_due_ms;       /* a marked path may be due then (or later) */
    int status_dirty, rescan_needed;
    uint64_t uploaded, downloaded;
    cJSON *errors;             /* path -> message */
    char last_error[2 * SYNC_PATH_MAX + 400];
    FILE *log;
};

/* ---- log and status --------------------------------------------------------- */

static int state_path(const struct sync_engine *e, const char *name, char *out, size_t cap);

static void engine_log(struct sync_engine *e, const char *level, const char *event,
                       const char *path, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!e->quiet)
        fprintf(stderr, "cairn-sync: %s %s%s%s\n", event, path ? path : "", path ? ": " : "", msg);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "ts_ms", (double)now_ms());
    cJSON_AddStringToObject(o, "level", level);
    cJSON_AddStringToObject(o, "event", event);
    if (path)
        cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "msg", msg);
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (line && e->log) {
        fprintf(e->log, "%s\n", line);
        fflush(e->log);
        if (ftell(e->log) > (long)SYNC_ENGINE_LOG_MAX) { /* rotate */
            char a[4200], b[4200];
            state_path(e, SYNC_ENGINE_LOG_FILE, a, sizeof a);
            state_path(e, SYNC_ENGINE_LOG_FILE ".1", b, sizeof b);
            fclose(e->log);
            rename(a, b);
            e->log = fopen(a, "a");
        }
    }
    free(line);
}

static int state_path(const struct sync_engine *e, const char *name, char *out, size_t cap)
{
    return snprintf(out, cap, "%s/%s/%s", e->root, SYNC_STATE_DIR, name) < (int)cap ? 0
                                                                                     : SYNC_ETOOLONG;
}

static int is_paused(const struct sync_engine *e)
{
    char p[4200];
    return state_path(e, SYNC_ENGINE_PAUSED_FILE, p, sizeof p) == 0 && access(p, F_OK) == 0;
}

static void write_status(struct sync_engine *e, const char *force_state)
{
    char p[4200], tmp[4300];
    int nerr = cJSON_GetArraySize(e->errors);
    uint64_t pending = e->dirty.n + e->inflight.n; /* paths in error wait to be tried again */
    pending = pending > (uint64_t)nerr ? pending - (uint64_t)nerr : 0;
    const char *state = force_state         ? force_state
                        : e->offline        ? "offline"
                        : is_paused(e)      ? "paused"
                        : pending           ? "syncing"
                        : nerr              ? "errors"
                                            : "up to date";
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", state);
    cJSON_AddNumberToObject(o, "pid", getpid());
    cJSON_AddNumberToObject(o, "updated_ms", (double)now_ms());
    cJSON_AddNumberToObject(o, "pending_files", (double)pending);
    uint64_t bytes = 0;
    for (size_t i = 0; i < e->inflight.nb; i++)
        for (struct pm_entry *x = e->inflight.b[i]; x; x = x->next)
            bytes += x->v.hint.size;
    cJSON_AddNumberToObject(o, "pending_bytes", (double)bytes);
    cJSON_AddNumberToObject(o, "uploaded_bytes", (double)e->uploaded);
    cJSON_AddNumberToObject(o, "downloaded_bytes", (double)e->downloaded);
    cJSON *errs = cJSON_AddArrayToObject(o, "errors");
    const cJSON *x;
    cJSON_ArrayForEach(x, e->errors) {
        if (cJSON_GetArraySize(errs) >= SYNC_ENGINE_ERRORS_MAX)
            break;
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "path", x->string);
        cJSON_AddStringToObject(item, "error", cJSON_GetStringValue(x));
        cJSON_AddItemToArray(errs, item);
    }
    cJSON_AddStringToObject(o, "last_error", e->last_error);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (text && state_path(e, SYNC_ENGINE_STATUS_FILE, p, sizeof p) == 0) {
        snprintf(tmp, sizeof tmp, "%s.tmp", p);
        FILE *f = fopen(tmp, "w");
        if (f && fputs(text, f) >= 0 && fclose(f) == 0)
            rename(tmp, p);
        else if (f)
            fclose(f);
    }
    free(text);
    e->last_status_ms = now_ms();
    e->status_dirty = 0;
}

static void set_error(struct sync_engine *e, const char *path, const char *msg)
{
    cJSON_DeleteItemFromObjectCaseSensitive(e->errors, path);
    if (msg)
        cJSON_AddStringToObject(e->errors, path, msg);
    e->status_dirty = 1;
}

/* ---- dirty paths ------------------------------------------------------------ */

/* Look at path again at due_ms at the latest (an earlier due stays). */
static void mark(struct sync_engine *e, const char *path, int64_t due_ms)
{
    int made;
    struct pm_entry *d = pm_get(&e->dirty, path, &made);
    if (!d)
        return;
    if (made || d->v.dirty.due_ms > due_ms)
        d->v.dirty.due_ms = due_ms;
    if (due_ms < e->next_due_ms)
        e->next_due_ms = due_ms;
    e->status_dirty = 1;
}

/* Mark every index entry below dir/ too (a folder gone or moved). */
static int mark_below_cb(void *arg, const struct sync_entry *en)
{
    struct sync_engine *e = arg;
    mark(e, en->path, now_ms());
    return 0;
}

static void mark_below(struct sync_engine *e, const char *dir)
{
    char prefix[SYNC_PATH_MAX + 2];
    int n = snprintf(prefix, sizeof prefix, "%s/", dir);
    if (n > 0 && n < (int)sizeof prefix)
        sync_index_iterate(e->ix, NULL, prefix, (size_t)n, mark_below_cb, e);
}

/* ---- the worker: one path, planned and carried out ------------------------ */

/* An ETag without its quotes: *len bytes at the result. */
static const char *etag_bare(const char *s, size_t *len)
{
    *len = strlen(s);
    if (*len >= 2 && s[0] == '"' && s[*len - 1] == '"') {
        *len -= 2;
        return s + 1;
    }
    return s;
}

static int etag_same(const char *a, const char *b)
{
    size_t la, lb;
    a = etag_bare(a, &la);
    b = etag_bare(b, &lb);
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* The server key of path as kind: a directory is "<path>/". */
static void key_of(const char *path, uint8_t kind, char *out)
{
    snprintf(out, SYNC_PATH_MAX + 2, "%s%s", path, kind == SYNC_KIND_DIR ? "/" : "");
}

/* What the server holds for path (*present 0 if nothing), asked now.
 * kind_hint says which key to ask first. */
static int server_now(struct sync_remote *r, const char *path, uint8_t kind_hint,
                      struct sync_server *out, int *present)
{
    char key[SYNC_PATH_MAX + 2];
    struct sync_remote_object o;
    int rc = SYNC_ENOTFOUND;
    for (int i = 0; i < 2 && rc == SYNC_ENOTFOUND; i++) {
        uint8_t kind = (kind_hint == SYNC_KIND_DIR) == (i == 0) ? SYNC_KIND_DIR : SYNC_KIND_FILE;
        key_of(path, kind, key);
        rc = sync_remote_stat(r, key, &o);
        if (rc == 0) {
            memset(out, 0, sizeof *out);
            out->kind = kind == SYNC_KIND_DIR ? SYNC_KIND_DIR : o.kind;
            out->size = o.size;
            out->mode = o.mode;
            snprintf(out->etag, sizeof out->etag, "%s", o.etag);
            snprintf(out->version_id, sizeof out->version_id, "%s", o.version_id);
        }
    }
    *present = rc == 0;
    return rc == SYNC_ENOTFOUND ? 0 : rc;
}

struct content {
    struct sync_chunk_ref *chunks;
    uint32_t n;
    uint8_t md5[16];
    struct sync_stat st;
};

/* root/path: room for any root up to PATH_MAX and any synced path, so it
 * is never cut short. */
#define ABS_PATH_MAX (PATH_MAX + 1 + SYNC_PATH_MAX + 1)
static void abs_path(const struct sync_engine *e, const char *path, char out[ABS_PATH_MAX])
{
    snprintf(out, ABS_PATH_MAX, "%s/%s", e->root, path);
}

/* Read the disk's content of path (kind from st) for the planner. */
static int read_content(struct sync_engine *e, const char *path, const struct sync_stat *st,
                        int want_md5, struct content *c)
{
    memset(c, 0, sizeof *c);
    if (st->kind == SYNC_KIND_FILE)
        return sync_file_chunk(e->root, path, &c->st, &c->chunks, &c->n, want_md5 ? c->md5 : NULL);
    c->st = *st;
    if (st->kind == SYNC_KIND_DIR)
        return (c->chunks = malloc(sizeof *c->chunks)) ? 0 : -ENOMEM;
    char full[ABS_PATH_MAX], target[SYNC_LINK_MAX + 1];
    abs_path(e, path, full);
    ssize_t n = readlink(full, target, sizeof target);
    if (n < 0)
        return -errno;
    if ((size_t)n > SYNC_LINK_MAX || (uint64_t)n != st->size)
        return SYNC_EBUSY;
    if (!(c->chunks = malloc(sizeof *c->chunks)))
        return -ENOMEM;
    sha256(target, (size_t)n, c->chunks[0].id);
    c->chunks[0].len = (uint32_t)n;
    c->n = 1;
    md5(target, (size_t)n, c->md5);
    return 0;
}

static int disk_now(struct sync_engine *e, const char *path, struct sync_stat *st)
{
    char full[ABS_PATH_MAX];
    struct stat s;
    abs_path(e, path, full);
    if (lstat(full, &s) != 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    sync_stat_of(&s, st);
    if (st->kind == SYNC_KIND_NONE)
        return SYNC_EINVAL; /* a socket, FIFO or device: not synced */
    return 1;
}

/* Fill j->entry for an index put of path. */
static int entry_of(struct job *j, const struct sync_stat *st, const struct sync_chunk_ref *chunks,
                    uint32_t n, const char *etag, const char *version_id)
{
    struct sync_entry *en = &j->entry;
    sync_entry_release(en);
    int rc = sync_entry_set_path(en, j->path, strlen(j->path));
    if (rc)
        return rc;
    en->st = *st;
    en->indexed_ns = now_ms() * 1000000;
    snprintf(en->etag, sizeof en->etag, "%s", etag);
    snprintf(en->version_id, sizeof en->version_id, "%s", version_id);
    if (n && !(en->chunks = malloc((size_t)n * sizeof *chunks)))
        return -ENOMEM;
    if (n)
        memcpy(en->chunks, chunks, (size_t)n * sizeof *chunks);
    en->nchunks = n;
    j->op = IX_PUT;
    return 0;
}

static void hint_set(struct job *j, const char *etag, uint64_t size, uint8_t kind, uint32_t mode)
{
    j->hint_op = 1;
    snprintf(j->new_hint.etag, sizeof j->new_hint.etag, "%s", etag);
    j->new_hint.size = size;
    j->new_hint.kind = kind;
    j->new_hint.mode = mode & 07777;
}

struct exists_arg {
    struct sync_engine *e;
};

static int conflict_exists(void *arg, const char *path, size_t len)
{
    struct exists_arg *a = arg;
    struct sync_stat st;
    struct sync_entry en;
    (void)len;
    if (disk_now(a->e, path, &st) != 0)
        return 1;
    sync_entry_init(&en);
    int rc = sync_index_get(a->e->ix, NULL, path, strlen(path), &en);
    sync_entry_release(&en);
    return rc == 0;
}

/* Keep both: move the local file aside to its conflict-copy name. */
static int make_conflict_copy(struct sync_engine *e, struct job *j)
{
    char to[SYNC_PATH_MAX + 1], a[ABS_PATH_MAX], b[ABS_PATH_MAX];
    struct exists_arg ea = {e};
    int rc = sync_conflict_name(j->path, strlen(j->path), e->host, now_ms() / 1000,
                                conflict_exists, &ea, to, sizeof to, NULL);
    if (rc)
        return rc;
    abs_path(e, j->path, a);
    abs_path(e, to, b);
    if (rename(a, b) != 0)
        return -errno;
    snprintf(j->also, sizeof j->also, "%s", to); /* the engine logs it and uploads it */
    return 0;
}

static int stop_at_first(void *arg, const struct sync_entry *en)
{
    (void)arg, (void)en;
    return 1;
}

/* Does the index hold a path below dir? */
static int synced_below(struct sync_engine *e, const char *dir)
{
    char prefix[SYNC_PATH_MAX + 2];
    int n = snprintf(prefix, sizeof prefix, "%s/", dir);
    return n > 0 && n < (int)sizeof prefix &&
           sync_index_iterate(e->ix, NULL, prefix, (size_t)n, stop_at_first, NULL) == 1;
}

/* A renamed small file: if its content is still the old path's object
 * (MD5 against that ETag), copy that object on the server.  Returns 1 with
 * j's results filled, or 0 to upload as usual (*rc set only for an error
 * that should stop the job: offline, credentials). */
static int try_copy(struct sync_remote *r, struct sync_engine *e, struct job *j,
                    const struct sync_write *pre, struct sync_upload_result *up, int *rc)
{
    uint8_t md5sum[16];
    char hex[33];
    size_t blen;
    const char *bare = etag_bare(j->copy_etag, &blen);
    int err = sync_file_chunk(e->root, j->path, &up->st, &up->chunks, &up->nchunks, md5sum);
    if (err) {
        free(up->chunks);
        up->chunks = NULL;
        return 0;
    }
    hex_encode(md5sum, 16, hex);
    if (blen != 32 || strncasecmp(bare, hex, 32) != 0) {
        free(up->chunks);
        up->chunks = NULL;
        return 0;
    }
    struct sync_write w = {NULL, pre->if_absent, SYNC_KIND_FILE, up->st.mode};
    err = sync_remote_copy(r, j->copy_from, j->copy_etag, j->path, &w, &up->obj);
    if (err == 0) {
        *rc = entry_of(j, &up->st, up->chunks, up->nchunks, up->obj.etag, up->obj.version_id);
        hint_set(j, up->obj.etag, up->st.size, SYNC_KIND_FILE, up->st.mode);
        j->event = "upload";
        snprintf(j->msg, sizeof j->msg, "renamed from %s: copied on the server, nothing sent",
                 j->copy_from);
    } else if (err == SYNC_EOFFLINE || err == SYNC_EAUTH) {
        *rc = err;
    }
    free(up->chunks);
    up->chunks = NULL;
    return err == 0;
}

/* Plan and carry out j->path; fills j's results. */
static void reconcile(struct worker *w, struct job *j)
{
    struct sync_engine *e = w->e;
    struct sync_remote *r = &w->remote;
    struct sync_entry ix;
    struct content c = {0};
    int fresh = 0, rc = 0;
    sync_entry_init(&ix);
    j->event = NULL;

    for (int round = 0; round < PLAN_ROUNDS; round++) {
        struct sync_stat st = {0};
        struct sync_server srv;
        struct sync_disk disk = {0};
        struct sync_plan plan;
        int on_disk, in_index, on_server = 0;

        sync_entry_release(&ix);
        if ((rc = on_disk = disk_now(e, j->path, &st)) < 0)
            break;
        rc = sync_index_get(e->ix, NULL, j->path, strlen(j->path), &ix);
        if (rc && rc != SYNC_ENOTFOUND)
            break;
        in_index = rc == 0;
        rc = 0;
        /* the server: from the hint when it agrees with the index, else asked */
        if (!fresh && in_index && j->has_hint && etag_same(ix.etag, j->hint.etag) &&
            (!j->hint.mode || ix.st.kind != SYNC_KIND_FILE ||
             j->hint.mode == (ix.st.mode & 07777))) {
            memset(&srv, 0, sizeof srv);
            srv.kind = ix.st.kind;
            srv.size = j->hint.size;
            srv.mode = j->hint.mode;
            snprintf(srv.etag, sizeof srv.etag, "%s", ix.etag);
            snprintf(srv.version_id, sizeof srv.version_id, "%s", ix.version_id);
            on_server = 1;
        } else if (!fresh && !in_index && !j->has_hint) {
            on_server = 0;
        } else {
            uint8_t kh = in_index ? ix.st.kind : on_disk ? st.kind : j->hint.kind;
            if ((rc = server_now(r, j->path, kh, &srv, &on_server)) != 0)
                break;
            fresh = 1;
        }
        /* the disk, with its content if it was read this round */
        if (on_disk) {
            disk.st = st;
            if (c.chunks) {
                disk.looked_again = 1;
                disk.again = c.st;
                disk.has_content = 1;
                disk.chunks = c.chunks;
                disk.nchunks = c.n;
                disk.has_md5 = 1;
                memcpy(disk.md5, c.md5, 16);
            }
        }
        struct sync_plan_input in = {in_index ? &ix : NULL, on_disk ? &disk : NULL,
                                     on_server ? &srv : NULL};
        if ((rc = sync_plan_decide(&in, &plan)) != 0)
            break;
        /* Permission bits, which the planner leaves alone: with the same
         * content on both sides, a local change of them goes up (a commit
         * of the same chunks: no chunk sent), the server's comes down. */
        int mode_here = 0, mode_there = 0;
        if (in_index && on_disk && on_server && st.kind == SYNC_KIND_FILE &&
            ix.st.kind == SYNC_KIND_FILE &&
            (plan.action == SYNC_ACT_NOTHING || plan.row == SYNC_ROW_TOUCHED)) {
            mode_here = (st.mode & 07777) != (ix.st.mode & 07777);
            mode_there = srv.mode && srv.mode != (ix.st.mode & 07777);
            if (mode_here) { /* ours wins when both changed them */
                plan.action = SYNC_ACT_UPLOAD;
                plan.precond = SYNC_PRECOND_MATCH;
            }
        }
        if (mode_there && !mode_here) {
            char full[ABS_PATH_MAX];
            struct stat s;
            struct sync_stat now = st;
            abs_path(e, j->path, full);
            if (plan.action == SYNC_ACT_NOTHING || plan.row == SYNC_ROW_TOUCHED) {
                int read = plan.action == SYNC_ACT_RECORD; /* touched: the content was read */
                if (chmod(full, srv.mode) != 0 || lstat(full, &s) != 0) {
                    rc = -errno;
                    goto out;
                }
                sync_stat_of(&s, &now);
                if (now.size != st.size || now.mtime_ns != st.mtime_ns || now.inode != st.inode)
                    continue; /* edited this very moment: plan again */
                rc = entry_of(j, &now, read ? c.chunks : ix.chunks, read ? c.n : ix.nchunks,
                              srv.etag, srv.version_id);
                hint_set(j, srv.etag, srv.size, SYNC_KIND_FILE, srv.mode);
                j->event = "download";
                snprintf(j->msg, sizeof j->msg, "permissions %04o", (unsigned)srv.mode);
                goto out;
            }
        }
        struct sync_write pre = {plan.precond == SYNC_PRECOND_MATCH ? ix.etag : NULL,
                                 plan.precond == SYNC_PRECOND_ABSENT, st.kind, st.mode};
        switch (plan.action) {
        case SYNC_ACT_NOTHING:
            goto out;
        case SYNC_ACT_WAIT:
            j->retry_ms = RETRY_BUSY_MS;
            goto out;
        case SYNC_ACT_CHUNK: {
            int want_md5 = !on_server || !strchr(srv.etag, '-');
            free(c.chunks);
            rc = read_content(e, j->path, &st, want_md5, &c);
            if (rc == -ENOENT) { /* gone since the look: plan again */
                rc = 0;
                continue;
            }
            if (rc == SYNC_EBUSY) {
                j->retry_ms = RETRY_BUSY_MS;
                rc = 0;
                goto out;
            }
            if (rc)
                goto out;
            continue;
        }
        case SYNC_ACT_RECORD: {
            const struct sync_stat *now = disk.looked_again ? &disk.again : &st;
            rc = entry_of(j, now, c.chunks, c.n, srv.etag, srv.version_id);
            hint_set(j, srv.etag, srv.size, srv.kind, srv.mode);
            goto out;
        }
        case SYNC_ACT_FORGET:
            j->op = IX_DELETE;
            goto out;
        case SYNC_ACT_UPLOAD: {
            struct sync_upload_result up = {0};
            if (st.kind == SYNC_KIND_FILE && pre.if_absent && j->copy_from[0]) {
                int copied = try_copy(r, e, j, &pre, &up, &rc);
                j->copy_from[0] = 0; /* one try */
                if (copied || rc)
                    goto out;
            }
            if (st.kind == SYNC_KIND_FILE) {
                rc = sync_file_upload(r, e->root, j->path, &pre, &up);
            } else if (st.kind == SYNC_KIND_SYMLINK) {
                rc = sync_link_upload(r, e->root, j->path, &pre, &up);
            } else {
                char key[SYNC_PATH_MAX + 2];
                key_of(j->path, SYNC_KIND_DIR, key);
                pre.kind = SYNC_KIND_DIR;
                up.st = st;
                rc = sync_remote_put(r, key, "", 0, &pre, &up.obj);
            }
            if (rc == SYNC_ECONFLICT || rc == SYNC_EBUSY || rc == -ENOENT) { /* look again */
                free(up.chunks);
                fresh = 1;
                free(c.chunks);
                c.chunks = NULL;
                if (rc == SYNC_EBUSY) {
                    j->retry_ms = RETRY_BUSY_MS;
                    rc = 0;
                    goto out;
                }
                rc = 0; /* gone or changed meanwhile: plan again */
                continue;
            }
            if (rc == 0) {
                rc = entry_of(j, &up.st, up.chunks, up.nchunks, up.obj.etag, up.obj.version_id);
                hint_set(j, up.obj.etag, up.st.size, st.kind,
                         st.kind == SYNC_KIND_FILE ? up.st.mode : 0);
                j->up += up.bytes_sent;
                j->event = "upload";
                if (st.kind == SYNC_KIND_DIR)
                    snprintf(j->msg, sizeof j->msg, "folder");
                else
                    snprintf(j->msg, sizeof j->msg, "%" PRIu64 " bytes sent of %" PRIu64,
                             up.bytes_sent, up.st.size);
            }
            free(up.chunks);
            goto out;
        }
        case SYNC_ACT_DOWNLOAD: {
            struct sync_download_result down = {0};
            struct sync_stat expect = on_disk ? st : (struct sync_stat){0};
            if (srv.kind == SYNC_KIND_DIR) {
                char full[ABS_PATH_MAX];
                struct stat s;
                abs_path(e, j->path, full);
                if ((rc = file_make_dirs(full, 0755)) != 0)
                    ; /* a file in the way, permissions ... */
                else if (lstat(full, &s) != 0)
                    rc = -errno;
                else if (!S_ISDIR(s.st_mode))
                    rc = SYNC_ECONFLICT;
                if (rc == 0) {
                    sync_stat_of(&s, &down.st);
                    rc = entry_of(j, &down.st, NULL, 0, srv.etag, srv.version_id);
                    hint_set(j, srv.etag, 0, SYNC_KIND_DIR, 0);
                    j->event = "download";
                    snprintf(j->msg, sizeof j->msg, "folder");
                }
                goto out;
            }
            rc = sync_file_download(r, e->root, j->path, in_index ? ix.chunks : NULL,
                                    in_index ? ix.nchunks : 0, &expect, &down);
            if (rc == SYNC_ECONFLICT || rc == -ENOENT) { /* it changed here or there meanwhile */
                rc = 0;
                fresh = 1;
                free(c.chunks);
                c.chunks = NULL;
                continue;
            }
            if (rc == 0) {
                rc = entry_of(j, &down.st, down.chunks, down.nchunks, down.obj.etag,
                              down.obj.version_id);
                hint_set(j, down.obj.etag, down.obj.size, down.st.kind, down.obj.mode);
                j->down += down.bytes_fetched;
                j->event = "download";
                snprintf(j->msg, sizeof j->msg,
                         "%" PRIu64 " bytes fetched, %" PRIu64 " reused from the old file",
                         down.bytes_fetched, down.bytes_reused);
            }
            free(down.chunks);
            goto out;
        }
        case SYNC_ACT_DELETE_REMOTE: {
            char key[SYNC_PATH_MAX + 2];
            key_of(j->path, ix.st.kind, key);
            rc = sync_remote_delete(r, key, ix.etag);
            if (rc == SYNC_ECONFLICT) {
                fresh = 1;
                continue;
            }
            if (rc == 0) {
                j->op = IX_DELETE;
                j->hint_op = 2;
                j->event = "delete_remote";
                snprintf(j->msg, sizeof j->msg, "deleted here");
            }
            goto out;
        }
        case SYNC_ACT_DELETE_LOCAL: {
            char full[ABS_PATH_MAX];
            if (!fresh) { /* only on the server's own word */
                fresh = 1;
                continue;
            }
            abs_path(e, j->path, full);
            if (st.kind == SYNC_KIND_DIR) {
                if (rmdir(full) != 0 && errno != ENOENT) {
                    rc = -errno;
                    if (rc == -ENOTEMPTY || rc == -EEXIST) {
                        /* its synced files go first; files that are not synced
                         * (ignored, or new here) keep it, untouched, and the
                         * periodic rescan looks again */
                        j->retry_ms = synced_below(e, j->path) ? 500 : 0;
                        rc = 0;
                    }
                    goto out;
                }
            } else {
                struct sync_stat again;
                if (disk_now(e, j->path, &again) != 1 || again.mtime_ns != st.mtime_ns ||
                    again.size != st.size || again.inode != st.inode)
                    continue; /* edited this very moment: plan again */
                if (unlink(full) != 0 && errno != ENOENT) {
                    rc = -errno;
                    goto out;
                }
            }
            j->op = IX_DELETE;
            j->hint_op = 2;
            j->event = "delete_local";
            snprintf(j->msg, sizeof j->msg, "deleted on the server");
            goto out;
        }
        case SYNC_ACT_CONFLICT:
            if ((rc = make_conflict_copy(e, j)) != 0)
                goto out;
            free(c.chunks);
            c.chunks = NULL;
            fresh = 1;
            continue;
        default:
            rc = SYNC_EINVAL;
            goto out;
        }
    }
    if (rc == 0) /* it kept moving under every plan: later */
        j->retry_ms = RETRY_BUSY_MS;
out:
    j->rc = rc;
    if (rc && rc != SYNC_EOFFLINE)
        snprintf(j->msg, sizeof j->msg, "%s%s%s", sync_strerror(rc), r->last_error[0] ? ": " : "",
                 rc <= SYNC_EOFFLINE && rc >= SYNC_EPROTO ? r->last_error : "");
    sync_entry_release(&ix);
    free(c.chunks);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct sync_engine *e = w->e;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->todo_head && !e->stopping)
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->stopping)
            break;
        struct job *j = e->todo_head;
        e->todo_head = j->next;
        if (!e->todo_head)
            e->todo_tail = NULL;
        pthread_mutex_unlock(&e->mu);
        w->remote.last_error[0] = 0;
        reconcile(w, j);
        pthread_mutex_lock(&e->mu);
        j->next = e->done;
        e->done = j;
        uint64_t one = 1;
        if (write(e->wake_fd, &one, sizeof one) < 0) { /* the counter cannot overflow here */
        }
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---- the change feed thread ----------------------------------------------- */

struct feed {
    struct sync_engine *e;
    struct sync_remote remote;
    pthread_t thread;
};

static void *feed_main(void *arg)
{
    struct feed *f = arg;
    struct sync_engine *e = f->e;
    int64_t wait_ms = 500;
    pthread_mutex_lock(&e->mu);
    uint64_t cursor = e->cursor;
    while (!e->stopping) {
        pthread_mutex_unlock(&e->mu);
        struct sync_remote_change *ch = NULL;
        size_t n = 0;
        int more = 0;
        int rc = sync_remote_changes(&f->remote, &cursor, FEED_WAIT_S, &ch, &n, &more);
        pthread_mutex_lock(&e->mu);
        if (rc == 0) {
            wait_ms = 500;
            e->feed_offline = 0;
            if (n) {
                struct sync_remote_change *all =
                    realloc(e->changes, (e->nchanges + n) * sizeof *all);
                if (all) {
                    memcpy(all + e->nchanges, ch, n * sizeof *ch);
                    e->changes = all;
                    e->nchanges += n;
                    free(ch); /* the keys moved into e->changes */
                    ch = NULL;
                }
                uint64_t one = 1;
                if (write(e->wake_fd, &one, sizeof one) < 0) {
                }
            }
            e->cursor = cursor;
        } else {
            e->feed_offline = 1;
        }
        pthread_mutex_unlock(&e->mu);
        sync_remote_changes_free(ch, n);
        if (rc) { /* wait a little, stop promptly */
            for (int64_t t = 0; t < wait_ms; t += 100) {
                struct timespec ts = {0, 100 * 1000000};
                nanosleep(&ts, NULL);
                pthread_mutex_lock(&e->mu);
                int stop = e->stopping;
                pthread_mutex_unlock(&e->mu);
                if (stop)
                    break;
            }
            wait_ms = wait_ms * 2 > OFFLINE_MAX_MS ? OFFLINE_MAX_MS : wait_ms * 2;
        }
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---- the engine thread ------------------------------------------------------ */

/* A server key under the prefix, as a path and kind; 0 if it is not one
 * this folder syncs. */
static int path_of_key(struct sync_engine *e, const char *key, char *path, uint8_t *kind)
{
    size_t n = strlen(key);
    *kind = SYNC_KIND_FILE;
    if (n && key[n - 1] == '/') {
        n--;
        *kind = SYNC_KIND_DIR;
    }
    if (n == 0 || n > SYNC_PATH_MAX || sync_path_check(key, n) != 0)
        return 0;
    memcpy(path, key, n);
    path[n] = 0;
    return sync_ignore_path(e->ig, path, n, *kind == SYNC_KIND_DIR) == 0;
}

static void hint_put(struct sync_engine *e, const char *path, const char *etag, uint64_t size,
                     uint8_t kind, uint32_t mode)
{
    struct pm_entry *h = pm_get(&e->hints, path, NULL);
    if (!h)
        return;
    snprintf(h->v.hint.etag, sizeof h->v.hint.etag, "%s", etag);
    h->v.hint.size = size;
    h->v.hint.kind = kind;
    h->v.hint.mode = mode;
}

static int load_ignore(struct sync_engine *e)
{
    char p[4200];
    struct sync_ignore *ig = NULL;
    snprintf(p, sizeof p, "%s/%s", e->root, SYNC_IGNORE_FILE);
    int rc = sync_ignore_new_from_file(p, NULL, &ig);
    if (rc) {
        engine_log(e, "warn", "ignore", SYNC_IGNORE_FILE, "not used: %s", sync_strerror(rc));
        if ((rc = sync_ignore_new(NULL, 0, NULL, &ig)) != 0)
            return rc;
    }
    if (e->watch)
        sync_watch_set_ignore(e->watch, ig);
    sync_ignore_free(e->ig);
    e->ig = ig;
    return 0;
}

struct full_arg {
    struct sync_engine *e;
    const struct sync_scan *scan;
};

static int scan_has(const struct sync_scan *s, const char *path)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->v[mid].path, path);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int index_side(void *arg, const struct sync_entry *en)
{
    struct full_arg *a = arg;
    struct pm_entry *h = pm_find(&a->e->hints, en->path);
    if (!scan_has(a->scan, en->path) || !h || !etag_same(h->v.hint.etag, en->etag))
        mark(a->e, en->path, now_ms());
    return 0;
}

/* The full look at everything: list the server (after taking the feed's
 * cursor, so nothing between the two is missed), walk the disk and the
 * index, and mark every path where the three may disagree. */
static int full_reconcile(struct sync_engine *e)
{
    struct sync_scan scan = {0};
    char token[SYNC_REMOTE_TOKEN_MAX + 1] = "";
    uint64_t cursor = SYNC_REMOTE_LATEST;
    struct sync_remote_change *none = NULL;
    size_t nn = 0;
    int rc = sync_remote_changes(&e->remote, &cursor, 0, &none, &nn, NULL);
    sync_remote_changes_free(none, nn);
    if (rc)
        return rc;
    load_ignore(e);
    struct pmap fresh = {0};
    do {
        struct sync_remote_entry *v = NULL;
        size_t n = 0;
        if ((rc = sync_remote_list(&e->remote, token, &v, &n)) != 0) {
            pm_clear(&fresh);
            return rc;
        }
        for (size_t i = 0; i < n; i++) {
            char path[SYNC_PATH_MAX + 1];
            uint8_t kind;
            if (!path_of_key(e, v[i].key, path, &kind))
                continue;
            struct pm_entry *h = pm_get(&fresh, path, NULL);
            if (h) {
                snprintf(h->v.hint.etag, sizeof h->v.hint.etag, "%s", v[i].etag);
                h->v.hint.size = v[i].size;
                h->v.hint.kind = kind;
            }
        }
        sync_remote_entries_free(v, n);
    } while (token[0]);
    pm_clear(&e->hints);
    e->hints = fresh;
    if ((rc = sync_scan_folder(e->root, e->ig, &scan)) != 0)
        return rc;
    for (size_t i = 0; i < scan.nproblems; i++)
        set_error(e, scan.problems[i].path, sync_strerror(scan.problems[i].err));
    /* disk side: anything not exactly as indexed */
    struct sync_index_txn *t = NULL;
    sync_index_txn_begin(e->ix, 0, &t);
    for (size_t i = 0; i < scan.n; i++) {
        struct sync_entry en;
        const struct sync_stat *st = &scan.v[i].st;
        sync_entry_init(&en);
        int got = sync_index_get(e->ix, t, scan.v[i].path, strlen(scan.v[i].path), &en) == 0;
        struct pm_entry *h = pm_find(&e->hints, scan.v[i].path);
        int clean = got && h && etag_same(h->v.hint.etag, en.etag) && en.st.kind == st->kind &&
                    (st->kind == SYNC_KIND_DIR ||
                     (en.st.size == st->size && en.st.mtime_ns == st->mtime_ns &&
                      en.st.inode == st->inode && (en.st.mode & 07777) == (st->mode & 07777) &&
                      llabs(en.indexed_ns - en.st.mtime_ns) > SYNC_PLAN_RACY_NS));
        if (!clean)
            mark(e, scan.v[i].path, now_ms());
        sync_entry_release(&en);
    }
    /* index side: gone from disk, or the server moved */
    struct full_arg fa = {e, &scan};
    sync_index_iterate(e->ix, t, NULL, 0, index_side, &fa);
    /* server side: never synced here */
    for (size_t i = 0; i < e->hints.nb; i++)
        for (struct pm_entry *x = e->hints.b[i]; x; x = x->next) {
            struct sync_entry en;
            sync_entry_init(&en);
            if (sync_index_get(e->ix, t, x->path, strlen(x->path), &en) != 0)
                mark(e, x->path, now_ms());
            sync_entry_release(&en);
        }
    sync_index_txn_abort(t);
    sync_scan_release(&scan);
    pthread_mutex_lock(&e->mu);
    e->cursor = cursor;
    pthread_mutex_unlock(&e->mu);
    if (e->watch && sync_watch_limit_hit(e->watch)) {
        set_error(e, ".", "the inotify watch limit is reached: some folders are only "
                          "looked at by the periodic rescan (raise fs.inotify.max_user_watches)");
        sync_watch_refresh(e->watch);
    }
    e->next_rescan_ms = now_ms() + (int64_t)e->rescan_s * 1000;
    e->rescan_needed = 0;
    return 0;
}

/* A small synced file left path: remember it for a while, so that if it
 * turns up under another name (same inode and size) the new name is made
 * by a server-side copy instead of sending its bytes again.  (A larger
 * file's new name sends no chunk anyway: the server has them all.)
 * Returns 1 if it was remembered. */
static int remember_moved(struct sync_engine *e, const char *path)
{
    struct sync_entry en;
    int kept = 0;
    sync_entry_init(&en);
    if (sync_index_get(e->ix, NULL, path, strlen(path), &en) == 0 &&
        en.st.kind == SYNC_KIND_FILE && en.st.size > 0 && en.st.size < e->remote.inline_max &&
        en.etag[0] && !strchr(en.etag, '-')) {
        struct moved *m = &e->moved[e->moved_next++ % MOVED_MAX];
        m->inode = en.st.inode;
        m->size = en.st.size;
        m->at_ms = now_ms();
        snprintf(m->etag, sizeof m->etag, "%s", en.etag);
        snprintf(m->path, sizeof m->path, "%s", path);
        kept = 1;
    }
    sync_entry_release(&en);
    return kept;
}

/* Is the file st at path where a remembered one went?  Then j copies it,
 * and the old path's delete waits until the copy is done. */
static void pair_moved(struct sync_engine *e, struct job *j, const struct sync_stat *st)
{
    int64_t now = now_ms();
    for (size_t i = 0; i < MOVED_MAX; i++) {
        struct moved *m = &e->moved[i];
        if (!m->at_ms || now - m->at_ms > MOVED_TTL_MS || m->inode != st->inode ||
            m->size != st->size || strcmp(m->path, j->path) == 0)
            continue;
        snprintf(j->copy_from, sizeof j->copy_from, "%s", m->path);
        snprintf(j->copy_etag, sizeof j->copy_etag, "%s", m->etag);
        struct pm_entry *d = pm_find(&e->dirty, m->path);
        if (d && d->v.dirty.due_ms < now + MOVED_HOLD_MS)
            d->v.dirty.due_ms = now + MOVED_HOLD_MS;
        m->at_ms = 0;
        return;
    }
}

static int on_watch(void *arg, const char *path, size_t len, unsigned flags)
{
    struct sync_engine *e = arg;
    char p[SYNC_PATH_MAX + 1];
    if (len > SYNC_PATH_MAX)
        return 0;
    memcpy(p, path, len);
    p[len] = 0;
    if (strcmp(p, SYNC_IGNORE_FILE) == 0)
        e->rescan_needed = 1; /* new rules: look at everything again */
    int64_t due = now_ms() + e->debounce_ms;
    if (flags & SYNC_WATCH_BUSY)
        due += RETRY_BUSY_MS;
    mark(e, p, due);
    if ((flags & SYNC_WATCH_GONE) || (flags & SYNC_WATCH_DIR))
        mark_below(e, p);
    if ((flags & SYNC_WATCH_GONE) && !(flags & SYNC_WATCH_DIR) && remember_moved(e, p)) {
        struct pm_entry *d = pm_find(&e->dirty, p); /* its delete waits for a pairing */
        if (d && d->v.dirty.due_ms < now_ms() + MOVED_HOLD_MS)
            d->v.dirty.due_ms = now_ms() + MOVED_HOLD_MS;
    }
    return 0;
}

/* Take in what the feed thread brought. */
static void take_changes(struct sync_engine *e)
{
    pthread_mutex_lock(&e->mu);
    struct sync_remote_change *ch = e->changes;
    size_t n = e->nchanges;
    e->changes = NULL;
    e->nchanges = 0;
    int feed_offline = e->feed_offline;
    pthread_mutex_unlock(&e->mu);
    if (feed_offline != e->feed_offline_seen) { /* the feed lost (or found) the server */
        e->feed_offline_seen = feed_offline;
        if (feed_offline && !e->offline) {
            e->offline = 1;
            e->offline_until = now_ms();
            e->offline_wait = 500;
            engine_log(e, "warn", "offline", NULL, "the server does not answer");
        }
    }
    for (size_t i = 0; i < n; i++) {
        char path[SYNC_PATH_MAX + 1];
        uint8_t kind;
        if (!path_of_key(e, ch[i].key, path, &kind))
            continue;
        if (ch[i].is_delete)
            pm_del(&e->hints, path);
        else
            hint_put(e, path, ch[i].etag, ch[i].size, kind, ch[i].mode);
        mark(e, path, now_ms());
    }
    sync_remote_changes_free(ch, n);
}

/* Take in the workers' results: index writes in one transaction. */
static void take_results(struct sync_engine *e)
{
    pthread_mutex_lock(&e->mu);
    struct job *done = e->done;
    e->done = NULL;
    pthread_mutex_unlock(&e->mu);
    if (!done)
        return;
    struct sync_index_txn *t = NULL;
    int rc = sync_index_txn_begin(e->ix, 1, &t);
    for (struct job *j = done; j && rc == 0; j = j->next) {
        if (j->rc)
            continue;
        if (j->op == IX_PUT)
            rc = sync_index_put(e->ix, t, &j->entry);
        else if (j->op == IX_DELETE && (rc = sync_index_delete(e->ix, t, j->path,
                                                               strlen(j->path))) == SYNC_ENOTFOUND)
            rc = 0;
    }
    rc = rc ? rc : sync_index_txn_commit(t);
    if (rc) {
        sync_index_txn_abort(t);
        snprintf(e->last_error, sizeof e->last_error, "index: %s", sync_strerror(rc));
        engine_log(e, "error", "index", NULL, "%s", sync_strerror(rc));
    }
    for (struct job *j = done, *next; j; j = next) {
        next = j->next;
        pm_del(&e->inflight, j->path);
        if (rc) { /* nothing of this turn was written: all of it again */
            mark(e, j->path, now_ms() + RETRY_BUSY_MS);
        } else if (j->rc == SYNC_EOFFLINE) {
            mark(e, j->path, now_ms());
            if (!e->offline) {
                e->offline = 1;
                e->offline_until = now_ms() + 500;
                e->offline_wait = 500;
                engine_log(e, "warn", "offline", NULL, "the server does not answer");
            }
        } else if (j->rc) {
            set_error(e, j->path, j->msg);
            snprintf(e->last_error, sizeof e->last_error, "%s: %s", j->path, j->msg);
            engine_log(e, "error", "error", j->path, "%s", j->msg);
            mark(e, j->path, now_ms() + RETRY_ERROR_MS);
        } else {
            set_error(e, j->path, NULL);
            if (j->hint_op == 1)
                hint_put(e, j->path, j->new_hint.etag, j->new_hint.size, j->new_hint.kind,
                         j->new_hint.mode);
            else if (j->hint_op == 2)
                pm_del(&e->hints, j->path);
            if (j->retry_ms)
                mark(e, j->path, now_ms() + j->retry_ms);
            if (j->event)
                engine_log(e, "info", j->event, j->path, "%s", j->msg);
            e->uploaded += j->up;
            e->downloaded += j->down;
        }
        if (j->also[0]) { /* a conflict copy was made, whatever happened next */
            engine_log(e, "warn", "conflict", j->path,
                       "changed here and on the server: the local edit is kept as %s", j->also);
            mark(e, j->also, now_ms());
        }
        sync_entry_release(&j->entry);
        free(j->path);
        free(j);
    }
    e->status_dirty = 1;
}

/* Is path ignored by the folder's rules (judged as what it is on disk,
 * or as a file when it is not there)? */
static int ignored(struct sync_engine *e, const char *path, struct sync_stat *st)
{
    memset(st, 0, sizeof *st);
    int is_dir = disk_now(e, path, st) == 1 && st->kind == SYNC_KIND_DIR;
    return sync_ignore_path(e->ig, path, strlen(path), is_dir) == 1;
}

/* Hand out due paths, up to the queue's length.  Returns when the next
 * path not handed out falls due (INT64_MAX: none; when the queue filled up
 * first, results will wake the loop before that matters). */
static int64_t dispatch(struct sync_engine *e)
{
    int64_t now = now_ms(), next = INT64_MAX;
    size_t room = (size_t)e->workers * QUEUE_PER_WORKER;
    struct job *head = NULL, *tail = NULL;
    for (size_t i = 0; i < e->dirty.nb && e->inflight.n < room; i++) {
        struct pm_entry **p = &e->dirty.b[i];
        while (*p && e->inflight.n < room) {
            struct pm_entry *d = *p;
            if (d->v.dirty.due_ms > now || pm_find(&e->inflight, d->path)) {
                if (d->v.dirty.due_ms < next)
                    next = d->v.dirty.due_ms;
                p = &d->next;
                continue;
            }
            struct sync_stat st;
            if (ignored(e, d->path, &st)) { /* never synced, or no longer (the rules changed) */
                *p = d->next;
                free(d->path);
                free(d);
                e->dirty.n--;
                continue;
            }
            struct job *j = calloc(1, sizeof *j);
            struct pm_entry *f = j ? pm_get(&e->inflight, d->path, NULL) : NULL;
            if (!f) {
                free(j);
                break;
            }
            struct pm_entry *h = pm_find(&e->hints, d->path);
            j->path = d->path; /* the dirty entry's string moves into the job */
            if (h) {
                j->has_hint = 1;
                j->hint = h->v.hint;
                f->v.hint.size = h->v.hint.size;
            }
            sync_entry_init(&j->entry);
            if (st.kind == SYNC_KIND_FILE)
                pair_moved(e, j, &st);
            *p = d->next;
            free(d);
            e->dirty.n--;
            if (tail)
                tail->next = j;
            else
                head = j;
            tail = j;
        }
    }
    if (head) {
        pthread_mutex_lock(&e->mu);
        if (e->todo_tail)
            e->todo_tail->next = head;
        else
            e->todo_head = head;
        e->todo_tail = tail;
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
    }
    return next;
}

static void remote_init(struct sync_engine *e, struct sync_remote *r, long timeout_s)
{
    memset(r, 0, sizeof *r);
    r->http.endpoint = e->endpoint;
    r->http.access_key = e->access_key;
    r->http.secret_key = e->secret_key;
    r->http.region = e->region;
    r->http.timeout_seconds = timeout_s;
    r->bucket = e->bucket;
    r->prefix = e->prefix;
    r->inline_max = e->remote.inline_max;
    r->http.cancel = &e->cancel;
}

/* Wait for the server (backoff); 0 once it answers, or a fatal error. */
static int connect_server(struct sync_engine *e, volatile sig_atomic_t *stop)
{
    int64_t wait = 500;
    while (!*stop) {
        int rc = sync_remote_check(&e->remote);
        if (rc == 0) {
            e->offline = 0;
            return 0;
        }
        if (rc == SYNC_EAUTH || rc == SYNC_EPROTO) {
            engine_log(e, "error", "server", NULL, "%s: %s", sync_strerror(rc),
                       e->remote.last_error);
            return rc;
        }
        if (!e->offline)
            engine_log(e, "warn", "offline", NULL, "%s", e->remote.last_error);
        e->offline = 1;
        write_status(e, NULL);
        for (int64_t t = 0; t < wait && !*stop; t += 100) {
            struct timespec ts = {0, 100 * 1000000};
            nanosleep(&ts, NULL);
        }
        wait = wait * 2 > OFFLINE_MAX_MS ? OFFLINE_MAX_MS : wait * 2;
    }
    return 0;
}

int sync_engine_run(struct sync_engine *e, volatile sig_atomic_t *stop)
{
    struct worker *ws = NULL;
    struct feed feed = {.e = e};
    int nstarted = 0, feed_started = 0;
    int rc = connect_server(e, stop);
    if (rc || *stop)
        goto out;
    engine_log(e, "info", "start", NULL, "syncing %s with s3://%s/%s at %s", e->root, e->bucket,
               e->prefix, e->endpoint);
    rc = sync_watch_new(e->root, e->ig, &e->watch);
    if (rc) {
        engine_log(e, "warn", "watch", NULL, "no watcher (%s): periodic rescans only",
                   sync_strerror(rc));
        e->watch = NULL;
        if (e->rescan_s > 10)
            e->rescan_s = 10;
    }
    while (!*stop && (rc = full_reconcile(e)) == SYNC_EOFFLINE)
        if ((rc = connect_server(e, stop)) != 0)
            goto out;
    if (rc || *stop)
        goto out;
    if (!(ws = calloc((size_t)e->workers, sizeof *ws))) {
        rc = -ENOMEM;
        goto out;
    }
    for (; nstarted < e->workers; nstarted++) {
        ws[nstarted].e = e;
        remote_init(e, &ws[nstarted].remote, 600);
        if (pthread_create(&ws[nstarted].thread, NULL, worker_main, &ws[nstarted]) != 0)
            break;
    }
    remote_init(e, &feed.remote, FEED_WAIT_S + 30);
    feed_started = pthread_create(&feed.thread, NULL, feed_main, &feed) == 0;
    write_status(e, NULL);

    while (!*stop) {
        struct pollfd pf[2] = {{e->wake_fd, POLLIN, 0}, {e->watch ? sync_watch_fd(e->watch) : -1,
                                                          POLLIN, 0}};
        int64_t now = now_ms();
        int64_t due = e->next_due_ms;
        int timeout = due <= now ? 0 : due - now > 500 ? 500 : (int)(due - now);
        poll(pf, 2, timeout);
        if (pf[0].revents & POLLIN) {
            uint64_t cnt;
            if (read(e->wake_fd, &cnt, sizeof cnt) < 0) {
            }
        }
        if (e->watch && (pf[1].revents & POLLIN)) {
            int w = sync_watch_read(e->watch, on_watch, e);
            if (w == SYNC_WATCH_RESCAN) {
                engine_log(e, "warn", "rescan", NULL,
                           "too many changes at once for the watcher: looking at everything");
                e->rescan_needed = 1;
            }
        }
        take_changes(e);
        take_results(e);
        now = now_ms();
        if (e->offline && now >= e->offline_until) {
            if (sync_remote_check(&e->remote) == 0) {
                e->offline = 0;
                engine_log(e, "info", "online", NULL, "the server answers again");
                e->rescan_needed = 1;
            } else {
                e->offline_wait = e->offline_wait * 2 > OFFLINE_MAX_MS ? OFFLINE_MAX_MS
                                                                       : e->offline_wait * 2;
                e->offline_until = now + e->offline_wait;
            }
            e->status_dirty = 1;
        }
        if (!e->offline && (e->rescan_needed || now >= e->next_rescan_ms)) {
            int r2 = full_reconcile(e);
            if (r2 == SYNC_EOFFLINE) {
                e->offline = 1;
                e->offline_until = now + 500;
                e->offline_wait = 500;
            } else if (r2) {
                engine_log(e, "error", "rescan", NULL, "%s", sync_strerror(r2));
                e->next_rescan_ms = now + RETRY_ERROR_MS;
                e->rescan_needed = 0;
            }
        }
        int paused = is_paused(e);
        if (paused != e->was_paused) { /* `cairn-sync pause` / `resume` show at once */
            e->was_paused = paused;
            e->status_dirty = 1;
            engine_log(e, "info", paused ? "pause" : "resume", NULL,
                       paused ? "paused: nothing is sent or fetched" : "syncing again");
        }
        e->next_due_ms = !e->offline && !paused ? dispatch(e) : now + 500;
        if (e->status_dirty && now - e->last_status_ms >= 1000)
            write_status(e, NULL);
        else if (now - e->last_status_ms >= 5000)
            write_status(e, NULL);
    }
out:
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    e->cancel = 1; /* the feed's long poll and transfers in progress end now */
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < nstarted; i++)
        pthread_join(ws[i].thread, NULL);
    if (feed_started)
        pthread_join(feed.thread, NULL);
    take_results(e); /* confirmed work lands in the index before we go */
    for (struct job *j = e->todo_head, *next; j; j = next) {
        next = j->next;
        free(j->path);
        free(j);
    }
    e->todo_head = e->todo_tail = NULL;
    free(ws);
    write_status(e, "stopped");
    engine_log(e, "info", "stop", NULL, "%s", rc ? sync_strerror(rc) : "stopped");
    return rc;
}

/* ---- set-up ------------------------------------------------------------------ */

static char *dup_or(const char *s, const char *def)
{
    return strdup(s ? s : def);
}

int sync_engine_new(const struct sync_engine_config *cfg, struct sync_engine **out)
{
    if (!cfg || !out || !cfg->root || !cfg->endpoint || !cfg->bucket || !cfg->access_key ||
        !cfg->secret_key)
        return SYNC_EINVAL;
    const char *prefix = cfg->prefix ? cfg->prefix : "";
    if (*prefix && prefix[strlen(prefix) - 1] != '/')
        return SYNC_EINVAL;
    struct sync_engine *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->lock_fd = -1;
    e->wake_fd = -1;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->root = dup_or(cfg->root, "");
    e->endpoint = dup_or(cfg->endpoint, "");
    e->region = dup_or(cfg->region, "us-east-1");
    e->access_key = dup_or(cfg->access_key, "");
    e->secret_key = dup_or(cfg->secret_key, "");
    e->bucket = dup_or(cfg->bucket, "");
    e->prefix = dup_or(prefix, "");
    e->workers = cfg->workers > 0 ? cfg->workers : 4;
    e->debounce_ms = cfg->debounce_ms > 0 ? cfg->debounce_ms : 300;
    e->rescan_s = cfg->rescan_s > 0 ? cfg->rescan_s : 600;
    e->quiet = cfg->quiet;
    char hostbuf[256] = "";
    if (!cfg->host)
        gethostname(hostbuf, sizeof hostbuf - 1);
    sync_conflict_host(cfg->host ? cfg->host : hostbuf, e->host, sizeof e->host);
    e->errors = cJSON_CreateObject();
    e->moved = calloc(MOVED_MAX, sizeof *e->moved);
    int rc = 0;
    if (!e->root || !e->endpoint || !e->region || !e->access_key || !e->secret_key ||
        !e->bucket || !e->prefix || !e->errors || !e->moved)
        rc = -ENOMEM;
    if (rc == 0 && (e->lock_fd = sync_folder_lock(e->root)) < 0)
        rc = e->lock_fd;
    if (rc == 0)
        rc = sync_index_open(e->root, NULL, &e->ix);
    if (rc == 0 && (e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        rc = -errno;
    if (rc == 0) {
        char p[4200];
        state_path(e, SYNC_ENGINE_LOG_FILE, p, sizeof p);
        e->log = fopen(p, "a");
        rc = load_ignore(e);
    }
    if (rc == 0) {
        remote_init(e, &e->remote, 60);
    }
    if (rc) {
        sync_engine_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void sync_engine_free(struct sync_engine *e)
{
    if (!e)
        return;
    sync_watch_free(e->watch);
    sync_ignore_free(e->ig);
    sync_index_close(e->ix);
    sync_folder_unlock(e->lock_fd);
    if (e->wake_fd >= 0)
        close(e->wake_fd);
    if (e->log)
        fclose(e->log);
    pm_clear(&e->dirty);
    pm_clear(&e->hints);
    pm_clear(&e->inflight);
    sync_remote_changes_free(e->changes, e->nchanges);
    cJSON_Delete(e->errors);
    free(e->moved);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e->root);
    free(e->endpoint);
    free(e->region);
    free(e->access_key);
    free(e->secret_key);
    free(e->bucket);
    free(e->prefix);
    free(e);
}
