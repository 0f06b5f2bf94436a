/*
 * gateway/lifecycle_worker.c - the thread that applies lifecycle rules
 * (see lifecycle.h).
 *
 * A pass: for each bucket with a "lifecycle" configuration, walk what its
 * enabled rules need, one page (LIFECYCLE_PAGE entries) at a time, and
 * yield between pages; no transaction is held while deciding or deleting.
 *   - current versions (meta_object_list, or the version listing on a
 *     bucket that has had versioning): Expiration Days / Date.  The delete
 *     is conditional on the version seen (ETag, size, mtime to the second
 *     and, with versioning, its version id), so an object overwritten
 *     since the listing is never removed; on a versioning bucket the
 *     delete adds a delete marker, as in S3.
 *   - every version (meta_object_list_versions): noncurrent versions, each
 *     noncurrent since its successor's creation, and delete markers left
 *     alone.  Removing a noncurrent version is conditional on the key's
 *     current version still being the one seen (so it is still
 *     noncurrent); removing a lone marker on the key still having no
 *     current version.  The actions of a page are carried out after the
 *     next page was listed: the listing resumes after the page's last
 *     version, which must still exist for the key's older versions to
 *     follow.
 *   - multipart uploads (meta_upload_list): AbortIncompleteMultipartUpload.
 * Then one log line for the bucket with the counts, which also go to the
 * cairn_lifecycle_* counters.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "gateway/lifecycle.h"
#include "gateway/s3_internal.h"

#define LIFECYCLE_PAGE 1000

struct lifecycle_worker {
    struct meta *meta;
    int64_t interval_ms, day_ms;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    atomic_int stopping;
    struct lifecycle_stats stats;
};

/* One pass over the buckets. */
struct pass {
    struct meta *meta;
    int64_t now_ms, day_ms;
    struct lifecycle_stats *stats;
    const atomic_int *stop;
};

/* One bucket's part of a pass. */
struct bucket_pass {
    const struct pass *pass;
    struct meta *meta;
    const char *bucket;
    uint8_t versioning;
    const struct lifecycle_config *c;
    int64_t now_ms, day_ms;
    uint64_t expired, noncurrent_removed, markers_removed, uploads_aborted, errors;
};

static int stopping(const struct bucket_pass *bp)
{
    return bp->pass->stop && atomic_load(bp->pass->stop);
}

/* ------------------------------------------------------------------ */
/* Tags                                                                */

/* Whether the version read (arg: its struct meta_object) has the tag key
 * with this value (tags are an entry of its attrs blob, s3_tagging.c). */
static int version_has_tag(void *arg, const char *key, const char *value)
{
    const struct meta_object *o = arg;
    struct s3_tag t;
    size_t kl = strlen(key), vl = strlen(value);
    for (size_t pos = 0; s3_object_tags_next(o->attrs, o->attrs_len, &pos, &t);)
        if (t.key_len == kl && memcmp(t.key, key, kl) == 0)
            return t.value_len == vl && memcmp(t.value, value, vl) == 0;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */

enum action_kind { ACT_EXPIRE_CURRENT, ACT_REMOVE_NONCURRENT, ACT_REMOVE_MARKER };

struct action {
    enum action_kind kind;
    char *key;
    char version_id[META_VERSION_MAX];
    /* EXPIRE_CURRENT: the version seen */
    char etag[META_ETAG_MAX];
    uint64_t size;
    int64_t mtime_ms;
    /* REMOVE_NONCURRENT: the key's current version seen ("" none) */
    char current_id[META_VERSION_MAX];
};

struct plan {
    struct action *a;
    size_t n, cap;
};

static void plan_release(struct plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->a[i].key);
    free(p->a);
    memset(p, 0, sizeof *p);
}

/* Append an action for key (copied).  0 or -ENOMEM. */
static int plan_add(struct plan *p, enum action_kind kind, const char *key, const char *version_id)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct action *a = realloc(p->a, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        p->a = a;
        p->cap = cap;
    }
    struct action *a = &p->a[p->n];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->key = strdup(key);
    if (!a->key)
        return -ENOMEM;
    snprintf(a->version_id, sizeof a->version_id, "%s", version_id ? version_id : "");
    p->n++;
    return 0;
}

/* Whether object lock protects this version now (a legal hold, or a
 * retention whose date, real time, has not passed: the lifecycle clock's
 * faster days do not shorten it). */
static int version_locked(struct bucket_pass *bp, const char *key, const char *version_id)
{
    struct meta_object o;
    if (meta_object_get(bp->meta, bp->bucket, key, version_id, &o) != 0)
        return 0; /* gone: the delete finds nothing either */
    int locked = s3_lock_version_locked(o.attrs, o.attrs_len, ol_now_ms(), 0);
    meta_object_release(&o);
    return locked;
}

static void act(struct bucket_pass *bp, const struct action *a)
{
    struct meta_precond pc;
    char marker[META_VERSION_MAX];
    const char *version = NULL;
    uint64_t *count;
    memset(&pc, 0, sizeof pc);
    switch (a->kind) {
    case ACT_EXPIRE_CURRENT:
        pc.if_match_etag = a->etag;
        pc.has_if_size = 1;
        pc.if_size = a->size;
        pc.has_if_mtime = 1;
        pc.if_mtime_s = a->mtime_ms / 1000 - (a->mtime_ms % 1000 < 0);
        if (a->version_id[0])
            pc.if_version_id = a->version_id;
        count = &bp->expired;
        break;
    case ACT_REMOVE_NONCURRENT:
        if (version_locked(bp, a->key, a->version_id))
            return; /* object lock outranks lifecycle, as in S3 */
        version = a->version_id;
        /* still noncurrent: the current version is the one seen ("": the
         * key still has none, its latest is a delete marker) */
        pc.if_version_id = a->current_id;
        count = &bp->noncurrent_removed;
        break;
    default:
        version = a->version_id;
        pc.if_version_id = ""; /* still no current version */
        count = &bp->markers_removed;
        break;
    }
    s3_new_version_id(marker);
    int rc = meta_object_delete(bp->meta, bp->bucket, a->key, version, marker, bp->now_ms, &pc, NULL);
    if (rc == 0) {
        ++*count;
    } else if (rc != META_EPRECOND && rc != META_ENOTFOUND && rc != META_ENOBUCKET) {
        bp->errors++;
        log_error("lifecycle: %s/%s: %s", bp->bucket, a->key, meta_strerror(rc));
    }
}

static void plan_run(struct bucket_pass *bp, struct plan *p)
{
    for (size_t i = 0; i < p->n && !stopping(bp); i++)
        act(bp, &p->a[i]);
    plan_release(p);
}

/* Read the version's tags and ask again.  A version gone or replaced
 * since the listing is left for the next pass. */
static int due_with_tags(struct bucket_pass *bp, const char *key, const char *version_id,
                         const char *etag, uint64_t size, int64_t mtime_ms, int64_t since_ms,
                         uint64_t newer, int noncurrent)
{
    struct meta_object o;
    memset(&o, 0, sizeof o);
    if (meta_object_get(bp->meta, bp->bucket, key, version_id, &o) != 0)
        return 0;
    int due = 0;
    if (strcmp(o.etag, etag) == 0 && o.mtime_ms == mtime_ms)
        due = noncurrent ? lifecycle_noncurrent_expires(bp->c, key, size, since_ms, newer, bp->now_ms,
                                                        bp->day_ms, version_has_tag, &o, NULL)
                         : lifecycle_current_expires(bp->c, key, size, mtime_ms, bp->now_ms,
                                                     bp->day_ms, version_has_tag, &o, NULL);
    meta_object_release(&o);
    return due;
}

/* Plan the expiration of a current version if a rule says so. */
static int plan_current(struct bucket_pass *bp, struct plan *p, const struct meta_list_entry *e,
                        int versioned)
{
    int needs_tags = 0;
    const char *vid = versioned ? e->version_id : NULL;
    int due = lifecycle_current_expires(bp->c, e->key, e->size, e->mtime_ms, bp->now_ms,
                                        bp->day_ms, NULL, NULL, &needs_tags);
    if (!due && needs_tags)
        due = due_with_tags(bp, e->key, vid, e->etag, e->size, e->mtime_ms, 0, 0, 0);
    if (!due)
        return 0;
    if (plan_add(p, ACT_EXPIRE_CURRENT, e->key, vid) != 0)
        return -ENOMEM;
    struct action *a = &p->a[p->n - 1];
    snprintf(a->etag, sizeof a->etag, "%s", e->etag);
    a->size = e->size;
    a->mtime_ms = e->mtime_ms;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Walks                                                               */

/* Current versions only (a bucket that never had versioning, or rules
 * that look at nothing else). */
static int walk_current(struct bucket_pass *bp, int versioned)
{
    char *after = NULL;
    int rc = 0;
    while (!stopping(bp)) {
        struct meta_list_req req = {bp->bucket, NULL, NULL, after, LIFECYCLE_PAGE};
        struct meta_list_res res;
        struct plan p = {NULL, 0, 0};
        memset(&res, 0, sizeof res);
        rc = meta_object_list(bp->meta, &req, &res);
        if (rc)
            break;
        for (size_t i = 0; i < res.n && rc == 0; i++)
            if (!res.entries[i].is_prefix)
                rc = plan_current(bp, &p, &res.entries[i], versioned);
        /* start_after need not exist: the plan can run at once */
        plan_run(bp, &p);
        free(after);
        after = res.n ? strdup(res.entries[res.n - 1].key) : NULL;
        int more = res.truncated && after;
        meta_list_res_release(&res);
        if (rc || !more)
            break;
        sched_yield();
    }
    free(after);
    return rc;
}

/* Where the version walk is within one key, across pages. */
struct key_state {
    char *key;                         /* NULL before the first entry */
    uint64_t seen;                     /* versions of key seen so far */
    int64_t successor_mtime_ms;        /* creation of the version seen last */
    char current_id[META_VERSION_MAX]; /* the live latest version, "" if a marker */
    int lone_marker;                   /* the latest is a marker, nothing else seen yet */
    char marker_id[META_VERSION_MAX];
    int64_t marker_mtime_ms;
};

/* The key is over: a delete marker that was its only version may go. */
static int key_end(struct bucket_pass *bp, struct key_state *ks, struct plan *p)
{
    if (ks->key && ks->lone_marker &&
        lifecycle_marker_expires(bp->c, ks->key, ks->marker_mtime_ms, bp->now_ms, bp->day_ms))
        if (plan_add(p, ACT_REMOVE_MARKER, ks->key, ks->marker_id) != 0)
            return -ENOMEM;
    ks->lone_marker = 0;
    return 0;
}

static int version_entry(struct bucket_pass *bp, struct key_state *ks, struct plan *p,
                         const struct meta_list_entry *e)
{
    int rc = 0;
    if (!ks->key || strcmp(ks->key, e->key) != 0) {
        if ((rc = key_end(bp, ks, p)) != 0)
            return rc;
        free(ks->key);
        if (!(ks->key = strdup(e->key)))
            return -ENOMEM;
        ks->seen = 0;
        ks->current_id[0] = 0;
    }
    int marker = (e->flags & META_OBJ_DELETE_MARKER) != 0;
    if (ks->seen == 0) {
        if (marker) {
            ks->lone_marker = 1;
            snprintf(ks->marker_id, sizeof ks->marker_id, "%s", e->version_id);
            ks->marker_mtime_ms = e->mtime_ms;
        } else {
            snprintf(ks->current_id, sizeof ks->current_id, "%s", e->version_id);
            rc = plan_current(bp, p, e, 1);
        }
    } else {
        ks->lone_marker = 0;
        int needs_tags = 0;
        uint64_t newer = ks->seen - 1;
        int64_t since = ks->successor_mtime_ms;
        uint64_t size = marker ? 0 : e->size;
        int due = lifecycle_noncurrent_expires(bp->c, e->key, size, since, newer, bp->now_ms,
                                               bp->day_ms, NULL, NULL, &needs_tags);
        if (!due && needs_tags && !marker)
            due = due_with_tags(bp, e->key, e->version_id, e->etag, size, e->mtime_ms, since, newer, 1);
        if (due) {
            rc = plan_add(p, ACT_REMOVE_NONCURRENT, e->key, e->version_id);
            if (rc == 0)
                snprintf(p->a[p->n - 1].current_id, META_VERSION_MAX, "%s", ks->current_id);
        }
    }
    ks->seen++;
    ks->successor_mtime_ms = e->mtime_ms;
    return rc;
}

/* Every version of every key, newest first per key. */
static int walk_versions(struct bucket_pass *bp)
{
    struct key_state ks;
    struct plan p = {NULL, 0, 0};
    char *key_marker = NULL, version_marker[META_VERSION_MAX] = "";
    int rc = 0;
    memset(&ks, 0, sizeof ks);
    while (!stopping(bp)) {
        struct meta_version_list_req req = {bp->bucket, NULL, NULL, key_marker, version_marker,
                                            LIFECYCLE_PAGE};
        struct meta_list_res res;
        memset(&res, 0, sizeof res);
        rc = meta_object_list_versions(bp->meta, &req, &res);
        /* the previous page's actions, now that this page is listed */
        plan_run(bp, &p);
        if (rc)
            break;
        for (size_t i = 0; i < res.n && rc == 0; i++)
            if (!res.entries[i].is_prefix)
                rc = version_entry(bp, &ks, &p, &res.entries[i]);
        int more = res.truncated && res.n;
        if (more) {
            free(key_marker);
            key_marker = strdup(res.entries[res.n - 1].key);
            snprintf(version_marker, sizeof version_marker, "%s", res.entries[res.n - 1].version_id);
            if (!key_marker)
                rc = -ENOMEM;
        }
        meta_list_res_release(&res);
        if (rc || !more)
            break;
        sched_yield();
    }
    if (rc == 0 && !stopping(bp))
        rc = key_end(bp, &ks, &p);
    plan_run(bp, &p);
    free(ks.key);
    free(key_marker);
    return rc;
}

static int walk_uploads(struct bucket_pass *bp)
{
    char *key_marker = NULL, id_marker[META_UPLOAD_ID_MAX] = "";
    int rc = 0;
    while (!stopping(bp)) {
        struct meta_upload_list_req req = {bp->bucket, NULL, key_marker, id_marker, LIFECYCLE_PAGE};
        struct meta_upload *u = NULL;
        size_t n = 0;
        int truncated = 0;
        rc = meta_upload_list(bp->meta, &req, &u, &n, &truncated);
        if (rc)
            break;
        for (size_t i = 0; i < n && !stopping(bp); i++) {
            if (!lifecycle_upload_expires(bp->c, u[i].key, u[i].initiated_ms, bp->now_ms,
                                          bp->day_ms))
                continue;
            int arc = meta_upload_abort(bp->meta, bp->bucket, u[i].key, u[i].upload_id);
            if (arc == 0) {
                bp->uploads_aborted++;
            } else if (arc != META_ENOUPLOAD && arc != META_ENOBUCKET) {
                bp->errors++;
                log_error("lifecycle: %s/%s: abort upload %s: %s", bp->bucket, u[i].key,
                          u[i].upload_id, meta_strerror(arc));
            }
        }
        /* the markers need not exist: "after this key and id" */
        if (n) {
            free(key_marker);
            key_marker = strdup(u[n - 1].key);
            snprintf(id_marker, sizeof id_marker, "%s", u[n - 1].upload_id);
        }
        meta_upload_array_free(u, n);
        if (!truncated || !n || !key_marker)
            break;
        sched_yield();
    }
    free(key_marker);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Passes                                                              */

static void bucket_log(const struct bucket_pass *bp, int64_t took_ms)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bucket", bp->bucket);
    cJSON_AddNumberToObject(o, "expired", (double)bp->expired);
    cJSON_AddNumberToObject(o, "noncurrent_removed", (double)bp->noncurrent_removed);
    cJSON_AddNumberToObject(o, "delete_markers_removed", (double)bp->markers_removed);
    cJSON_AddNumberToObject(o, "uploads_aborted", (double)bp->uploads_aborted);
    cJSON_AddNumberToObject(o, "errors", (double)bp->errors);
    cJSON_AddNumberToObject(o, "ms", (double)took_ms);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    log_fields(bp->errors ? LOG_WARN : LOG_INFO, "lifecycle pass", text);
    free(text);
}

static void bucket_run(const struct pass *ps, const struct meta_bucket *b)
{
    void *data = NULL;
    size_t len = 0;
    struct lifecycle_config c = {NULL, 0};
    int rc = meta_bucket_config_get(ps->meta, b->name, "lifecycle", &data, &len);
    if (rc == META_ENOTFOUND || rc == META_ENOBUCKET)
        return;
    if (rc == 0)
        rc = lifecycle_from_json(data, len, &c);
    free(data);
    if (rc) {
        atomic_fetch_add(&ps->stats->errors, 1);
        log_error("lifecycle: bucket %s: cannot read its configuration: %s", b->name,
                  meta_strerror(rc));
        return;
    }
    struct bucket_pass bp;
    memset(&bp, 0, sizeof bp);
    bp.pass = ps;
    bp.meta = ps->meta;
    bp.bucket = b->name;
    bp.versioning = b->versioning;
    bp.c = &c;
    bp.now_ms = ps->now_ms;
    bp.day_ms = ps->day_ms;
    int64_t started = ol_now_ms();
    unsigned needs = lifecycle_needs(&c);
    int versioned = b->versioning != META_VERSIONING_OFF;
    if (versioned && (needs & LIFECYCLE_NEEDS_VERSIONS))
        rc = walk_versions(&bp);
    else if (needs & LIFECYCLE_NEEDS_CURRENT)
        rc = walk_current(&bp, versioned);
    if (rc == 0 && (needs & LIFECYCLE_NEEDS_UPLOADS))
        rc = walk_uploads(&bp);
    if (rc && rc != META_ENOBUCKET) {
        bp.errors++;
        log_error("lifecycle: bucket %s: %s", b->name, meta_strerror(rc));
    }
    lifecycle_config_release(&c);
    atomic_fetch_add(&ps->stats->expired, bp.expired);
    atomic_fetch_add(&ps->stats->noncurrent_removed, bp.noncurrent_removed);
    atomic_fetch_add(&ps->stats->markers_removed, bp.markers_removed);
    atomic_fetch_add(&ps->stats->uploads_aborted, bp.uploads_aborted);
    atomic_fetch_add(&ps->stats->errors, bp.errors);
    bucket_log(&bp, ol_now_ms() - started);
}

void lifecycle_pass(struct meta *meta, int64_t now_ms, int64_t day_ms,
                    struct lifecycle_stats *stats, const atomic_int *stop)
{
    struct pass ps = {meta, now_ms, day_ms > 0 ? day_ms : LIFECYCLE_DAY_MS, stats, stop};
    struct meta_bucket *bs = NULL;
    size_t n = 0;
    int rc = meta_bucket_list(meta, NULL, &bs, &n);
    if (rc) {
        atomic_fetch_add(&stats->errors, 1);
        log_error("lifecycle: cannot list buckets: %s", meta_strerror(rc));
        return;
    }
    for (size_t i = 0; i < n && !(stop && atomic_load(stop)); i++)
        bucket_run(&ps, &bs[i]);
    free(bs);
    atomic_fetch_add(&stats->passes, 1);
}

static void *worker_main(void *arg)
{
    struct lifecycle_worker *lw = arg;
    pthread_setname_np(pthread_self(), "cairn-lifecycle");
    pthread_mutex_lock(&lw->lock);
    while (!atomic_load(&lw->stopping)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (lw->interval_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(lw->interval_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (!atomic_load(&lw->stopping) &&
               pthread_cond_timedwait(&lw->cond, &lw->lock, &ts) != ETIMEDOUT)
            ;
        if (atomic_load(&lw->stopping))
            break;
        pthread_mutex_unlock(&lw->lock);
        lifecycle_pass(lw->meta, ol_now_ms(), lw->day_ms, &lw->stats, &lw->stopping);
        pthread_mutex_lock(&lw->lock);
    }
    pthread_mutex_unlock(&lw->lock);
    return NULL;
}

int lifecycle_worker_start(struct meta *meta, int64_t interval_ms, int64_t day_ms,
                           struct lifecycle_worker **out)
{
    struct lifecycle_worker *lw = calloc(1, sizeof *lw);
    pthread_condattr_t ca;
    if (!lw)
        return -ENOMEM;
    lw->meta = meta;
    lw->interval_ms = interval_ms > 0 ? interval_ms : 1;
    lw->day_ms = day_ms > 0 ? day_ms : LIFECYCLE_DAY_MS;
    pthread_mutex_init(&lw->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lw->cond, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&lw->thread, NULL, worker_main, lw);
    if (rc) {
        pthread_cond_destroy(&lw->cond);
        pthread_mutex_destroy(&lw->lock);
        free(lw);
        return -rc;
    }
    lw->started = 1;
    *out = lw;
    return 0;
}

void lifecycle_worker_signal_stop(struct lifecycle_worker *lw)
{
    if (!lw)
        return;
    pthread_mutex_lock(&lw->lock);
    atomic_store(&lw->stopping, 1);
    pthread_cond_broadcast(&lw->cond);
    pthread_mutex_unlock(&lw->lock);
}

void lifecycle_worker_stop(struct lifecycle_worker *lw)
{
    if (!lw)
        return;
    lifecycle_worker_signal_stop(lw);
    if (lw->started)
        pthread_join(lw->thread, NULL);
    pthread_cond_destroy(&lw->cond);
    pthread_mutex_destroy(&lw->lock);
    free(lw);
}

void lifecycle_worker_metrics(const struct lifecycle_worker *lw, struct buf *b)
{
    static const struct {
        const char *name, *help;
    } counters[] = {
        {"cairn_lifecycle_passes_total", "Lifecycle passes over all buckets."},
        {"cairn_lifecycle_expired_total", "Current versions expired by lifecycle rules."},
        {"cairn_lifecycle_noncurrent_removed_total", "Noncurrent versions removed by lifecycle rules."},
        {"cairn_lifecycle_delete_markers_removed_total", "Expired delete markers removed."},
        {"cairn_lifecycle_uploads_aborted_total", "Incomplete multipart uploads aborted."},
        {"cairn_lifecycle_errors_total", "Lifecycle actions or walks that failed."},
    };
    uint64_t v[6] = {0};
    if (lw) {
        v[0] = atomic_load(&lw->stats.passes);
        v[1] = atomic_load(&lw->stats.expired);
        v[2] = atomic_load(&lw->stats.noncurrent_removed);
        v[3] = atomic_load(&lw->stats.markers_removed);
        v[4] = atomic_load(&lw->stats.uploads_aborted);
        v[5] = atomic_load(&lw->stats.errors);
    }
    for (size_t i = 0; i < 6; i++)
        buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[i].name,
                   counters[i].help, counters[i].name, counters[i].name,
                   (unsigned long long)v[i]);
}
