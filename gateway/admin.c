/*
 * gateway/admin.c - cairn's own endpoints under /_cairn/: the admin API
 * (JSON, SigV4-signed by the root user) and Prometheus metrics.
 *
 *   GET    /_cairn/admin/status          server, drives, metadata counts
 *   GET    /_cairn/admin/users           list users
 *   POST   /_cairn/admin/users           {"name", "access_key"?, "secret_key"?}
 *   DELETE /_cairn/admin/users/NAME      remove a user
 *   POST   /_cairn/admin/scrub           verify every shard, rebuild bad ones
 *   POST   /_cairn/admin/gc[?grace=S]    collect unreferenced chunks now
 *   GET    /_cairn/metrics               Prometheus text (no auth)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "common/md5.h"
#include "gateway/lifecycle.h"
#include "gateway/s3_internal.h"

static void reply_json_error(struct s3_req *r, unsigned status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    s3_reply_cjson(r, status, o);
}

static void random_key(char *out, size_t len, const char *alphabet)
{
    uint8_t rnd[64];
    size_t n = strlen(alphabet);
    if (getrandom(rnd, len, 0) != (ssize_t)len)
        memset(rnd, 7, len);
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[rnd[i] % n];
    out[len] = 0;
}

static int user_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= META_NAME_MAX || strcmp(s, "root") == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '@'))
            return 0;
    }
    return 1;
}

static int key_valid(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || s[i] == '/' ||
            s[i] == ',' || s[i] == '=')
            return 0;
    return 1;
}

static void user_add(struct s3_req *r)
{
    cJSON *in = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
    const cJSON *name = in ? cJSON_GetObjectItem(in, "name") : NULL;
    const cJSON *ak = in ? cJSON_GetObjectItem(in, "access_key") : NULL;
    const cJSON *sk = in ? cJSON_GetObjectItem(in, "secret_key") : NULL;
    struct meta_user u;
    memset(&u, 0, sizeof u);
    if (!cJSON_IsString(name) || !user_name_valid(name->valuestring) ||
        (ak && (!cJSON_IsString(ak) || !key_valid(ak->valuestring, 3, 128))) ||
        (sk && (!cJSON_IsString(sk) || !key_valid(sk->valuestring, 8, 128)))) {
        cJSON_Delete(in);
        reply_json_error(r, 400, "expected {\"name\": NAME[, \"access_key\": 3-128 chars, "
                                 "\"secret_key\": 8-128 chars]}; NAME is letters, digits, "
                                 "'-_.@', not \"root\"");
        return;
    }
    snprintf(u.name, sizeof u.name, "%s", name->valuestring);
    if (ak)
        snprintf(u.access_key, sizeof u.access_key, "%s", ak->valuestring);
    else
        random_key(u.access_key, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    if (sk)
        snprintf(u.secret_key, sizeof u.secret_key, "%s", sk->valuestring);
    else
        random_key(u.secret_key, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    cJSON_Delete(in);
    if (r->gw->root_access_key && strcmp(u.access_key, r->gw->root_access_key) == 0) {
        reply_json_error(r, 409, "that access key is the root user's");
        return;
    }
    u.created_ms = ol_now_ms();
    int rc = meta_user_add(r->gw->meta, &u);
    if (rc == META_EEXISTS) {
        reply_json_error(r, 409, "a user with that name or access key exists");
        return;
    }
    if (rc) {
        reply_json_error(r, 500, meta_strerror(rc));
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", u.name);
    cJSON_AddStringToObject(o, "access_key", u.access_key);
    cJSON_AddStringToObject(o, "secret_key", u.secret_key);
    memset(&u, 0, sizeof u);
    s3_reply_cjson(r, 200, o);
}

static void user_list(struct s3_req *r)
{
    struct meta_user *us = NULL;
    size_t n = 0;
    int rc = meta_user_list(r->gw->meta, &us, &n);
    if (rc) {
        reply_json_error(r, 500, meta_strerror(rc));
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", us[i].name);
        cJSON_AddStringToObject(o, "access_key", us[i].access_key);
        cJSON_AddNumberToObject(o, "created_ms", (double)us[i].created_ms);
        cJSON_AddItemToArray(arr, o);
    }
    free(us);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "users", arr);
    s3_reply_cjson(r, 200, o);
}

static void user_remove(struct s3_req *r, const char *name)
{
    char *dec = strdup(name);
    long n = dec ? uri_decode(name, strlen(name), dec, strlen(name) + 1, 0) : -1;
    int rc = n > 0 ? meta_user_remove(r->gw->meta, dec) : META_ENOTFOUND;
    free(dec);
    if (rc == META_ENOTFOUND) {
        reply_json_error(r, 404, "no such user");
        return;
    }
    if (rc) {
        reply_json_error(r, 500, meta_strerror(rc));
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "removed", 1);
    s3_reply_cjson(r, 200, o);
}

static void scrub(struct s3_req *r)
{
    struct ol_scrub_report rep;
    pthread_mutex_lock(&r->gw->maint_lock);
    int rc = ol_scrub(r->gw->ol, &rep);
    pthread_mutex_unlock(&r->gw->maint_lock);
    if (rc) {
        reply_json_error(r, 500, ol_strerror(rc));
        return;
    }
    log_msg(LOG_INFO, r->id,
            "scrub: %llu chunks, %llu shards checked, %llu bad, %llu rewritten, %llu chunks not "
            "fully repaired, %llu lost",
            (unsigned long long)rep.chunks, (unsigned long long)rep.shards_checked,
            (unsigned long long)rep.shards_bad, (unsigned long long)rep.shards_rewritten,
            (unsigned long long)rep.chunks_unrepaired, (unsigned long long)rep.chunks_lost);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "chunks", (double)rep.chunks);
    cJSON_AddNumberToObject(o, "shards_checked", (double)rep.shards_checked);
    cJSON_AddNumberToObject(o, "shards_bad", (double)rep.shards_bad);
    cJSON_AddNumberToObject(o, "shards_rewritten", (double)rep.shards_rewritten);
    cJSON_AddNumberToObject(o, "chunks_unrepaired", (double)rep.chunks_unrepaired);
    cJSON_AddNumberToObject(o, "chunks_lost", (double)rep.chunks_lost);
    s3_reply_cjson(r, 200, o);
}

static void gc(struct s3_req *r)
{
    struct ol_gc_report rep;
    const char *grace = s3_param(r, "grace");
    int64_t now = ol_now_ms();
    /* ol_gc subtracts the configured grace; a given grace moves "now". */
    if (grace) {
        char *end;
        long long s = strtoll(grace, &end, 10);
        if (!*grace || *end || s < 0) {
            reply_json_error(r, 400, "grace must be a number of seconds");
            return;
        }
        now = now - s * 1000 + ol_gc_grace_ms(r->gw->ol);
    }
    pthread_mutex_lock(&r->gw->maint_lock);
    int rc = ol_gc(r->gw->ol, now, &rep);
    pthread_mutex_unlock(&r->gw->maint_lock);
    if (rc) {
        reply_json_error(r, 500, ol_strerror(rc));
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "chunks_removed", (double)rep.chunks_removed);
    cJSON_AddNumberToObject(o, "bytes_removed", (double)rep.bytes_removed);
    cJSON_AddNumberToObject(o, "orphan_shards_removed", (double)rep.orphan_shards_removed);
    cJSON_AddNumberToObject(o, "disk_bytes_freed", (double)rep.disk_bytes_freed);
    s3_reply_cjson(r, 200, o);
}

static void status(struct s3_req *r)
{
    struct meta_stats ms;
    int rc = meta_stats(r->gw->meta, &ms);
    if (rc) {
        reply_json_error(r, 500, meta_strerror(rc));
        return;
    }
    struct chunkstore *cs = ol_chunkstore(r->gw->ol);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "version", CAIRN_VERSION);
    char ec[16];
    snprintf(ec, sizeof ec, "%d+%d", cs_k(cs), cs_m(cs));
    cJSON_AddStringToObject(o, "ec", ec);
    cJSON *drives = cJSON_AddArrayToObject(o, "drives");
    for (int i = 0; i < cs_nstores(cs); i++) {
        struct shard_store *st = cs_store(cs, i);
        struct shard_store_stat ss;
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", st->name);
        if (st->ops->stat(st, &ss) == 0) {
            cJSON_AddNumberToObject(d, "bytes_total", (double)ss.bytes_total);
            cJSON_AddNumberToObject(d, "bytes_free", (double)ss.bytes_free);
            cJSON_AddNumberToObject(d, "shards", (double)ss.shards);
            cJSON_AddNumberToObject(d, "bytes_live", (double)ss.bytes_live);
            cJSON_AddNumberToObject(d, "bytes_dead", (double)ss.bytes_dead);
            cJSON_AddStringToObject(d, "state", "ok");
        } else {
            cJSON_AddStringToObject(d, "state", "unreadable");
        }
        cJSON_AddItemToArray(drives, d);
    }
    cJSON_AddNumberToObject(o, "buckets", (double)ms.buckets);
    cJSON_AddNumberToObject(o, "objects", (double)ms.objects);
    cJSON_AddNumberToObject(o, "versions", (double)ms.versions);
    cJSON_AddNumberToObject(o, "uploads", (double)ms.uploads);
    cJSON_AddNumberToObject(o, "chunks", (double)ms.chunks);
    cJSON_AddNumberToObject(o, "chunk_bytes", (double)ms.chunk_bytes);
    cJSON_AddNumberToObject(o, "unused_chunks", (double)ms.unused_chunks);
    cJSON_AddNumberToObject(o, "requests", (double)atomic_load(&r->gw->requests));
    s3_reply_cjson(r, 200, o);
}

static int admin_begin(struct s3_req *r)
{
    if (!r->is_root)
        s3_reply_error(r, S3E_ACCESS_DENIED, "The admin API is for the root user only.");
    return 0;
}

static void admin_end(struct s3_req *r)
{
    const char *path = r->raw_path + strlen("/_cairn/admin");
    const char *m = r->method;
    if (strcmp(path, "/status") == 0 && strcmp(m, "GET") == 0)
        status(r);
    else if (strcmp(path, "/users") == 0 && strcmp(m, "GET") == 0)
        user_list(r);
    else if (strcmp(path, "/users") == 0 && strcmp(m, "POST") == 0)
        user_add(r);
    else if (strncmp(path, "/users/", 7) == 0 && strcmp(m, "DELETE") == 0)
        user_remove(r, path + 7);
    else if (strcmp(path, "/scrub") == 0 && strcmp(m, "POST") == 0)
        scrub(r);
    else if (strcmp(path, "/gc") == 0 && strcmp(m, "POST") == 0)
        gc(r);
    else
        reply_json_error(r, 404, "no such admin endpoint");
}

const struct s3_handler h_admin = {"Admin", admin_begin, NULL, admin_end, NULL};

/* ---- metrics ---------------------------------------------------------- */

/* How well PUT bodies share the MD5 lanes (common/md5.h). */
static void md5_metrics(struct buf *b)
{
    struct md5_stats ms;
    md5_stats_get(&ms);
    buf_printf(b,
               "# HELP cairn_md5_shared_updates_total Large MD5 updates hashed in the shared lanes.\n"
               "# TYPE cairn_md5_shared_updates_total counter\ncairn_md5_shared_updates_total %llu\n"
               "# HELP cairn_md5_solo_updates_total Large MD5 updates hashed on their own thread.\n"
               "# TYPE cairn_md5_solo_updates_total counter\ncairn_md5_solo_updates_total %llu\n"
               "# HELP cairn_md5_lane_slices_total Slices run by the sixteen-lane MD5 kernel.\n"
               "# TYPE cairn_md5_lane_slices_total counter\ncairn_md5_lane_slices_total %llu\n"
               "# HELP cairn_md5_lanes_total Busy lanes summed over those slices.\n"
               "# TYPE cairn_md5_lanes_total counter\ncairn_md5_lanes_total %llu\n",
               (unsigned long long)ms.shared_updates, (unsigned long long)ms.solo_updates,
               (unsigned long long)ms.lane_slices, (unsigned long long)ms.lanes);
}

static void metrics_end(struct s3_req *r)
{
    struct gateway *gw = r->gw;
    struct buf b;
    struct meta_stats ms;
    struct chunkstore *cs = ol_chunkstore(gw->ol);
    buf_init(&b, 1u << 20);
    buf_printf(&b,
               "# TYPE cairn_requests_total counter\ncairn_requests_total %llu\n"
               "# TYPE cairn_errors_total counter\ncairn_errors_total %llu\n"
               "# TYPE cairn_received_bytes_total counter\ncairn_received_bytes_total %llu\n"
               "# TYPE cairn_sent_bytes_total counter\ncairn_sent_bytes_total %llu\n"
               "# TYPE cairn_requests_in_flight gauge\ncairn_requests_in_flight %llu\n",
               (unsigned long long)atomic_load(&gw->requests), (unsigned long long)atomic_load(&gw->errors),
               (unsigned long long)atomic_load(&gw->bytes_in), (unsigned long long)atomic_load(&gw->bytes_out),
               (unsigned long long)atomic_load(&gw->active) - 1);
    if (meta_stats(gw->meta, &ms) == 0)
        buf_printf(&b,
                   "# TYPE cairn_buckets gauge\ncairn_buckets %llu\n"
                   "# TYPE cairn_objects gauge\ncairn_objects %llu\n"
                   "# TYPE cairn_chunks gauge\ncairn_chunks %llu\n"
                   "# TYPE cairn_chunk_bytes gauge\ncairn_chunk_bytes %llu\n"
                   "# TYPE cairn_unused_chunks gauge\ncairn_unused_chunks %llu\n",
                   (unsigned long long)ms.buckets, (unsigned long long)ms.objects,
                   (unsigned long long)ms.chunks, (unsigned long long)ms.chunk_bytes,
                   (unsigned long long)ms.unused_chunks);
    buf_puts(&b, "# TYPE cairn_drive_free_bytes gauge\n# TYPE cairn_drive_shards gauge\n");
    for (int i = 0; i < cs_nstores(cs); i++) {
        struct shard_store *st = cs_store(cs, i);
        struct shard_store_stat ss;
        if (st->ops->stat(st, &ss) != 0)
            continue;
        buf_printf(&b, "cairn_drive_free_bytes{drive=\"%d\"} %llu\ncairn_drive_shards{drive=\"%d\"} %llu\n",
                   i, (unsigned long long)ss.bytes_free, i, (unsigned long long)ss.shards);
    }
    lifecycle_worker_metrics(gw->lifecycle, &b);
    md5_metrics(&b);
    char *text = buf_detach(&b, NULL);
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
    s3_reply_response(r, 200, resp);
}

const struct s3_handler h_metrics = {"Metrics", NULL, NULL, metrics_end, NULL};
