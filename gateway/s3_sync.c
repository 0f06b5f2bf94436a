/*
 * gateway/s3_sync.c - the sync extension calls of docs/sync-protocol.md:
 * parameters, which chunks are missing, upload a chunk by id, commit an
 * object from a chunk list, read an object's chunk list, and the
 * long-polled change feed.  They are S3 requests like any other (SigV4,
 * bucket ownership, XML errors); only their bodies and answers are JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common/fastcdc.h"
#include "common/log.h"
#include "common/sync_proto.h"
#include "gateway/s3_internal.h"

#define SYNC_PROTOCOL 1
#define SYNC_MAX_MISSING_IDS 10000
#define SYNC_MAX_COMMIT_CHUNKS 20000 /* keeps a commit body under S3_MAX_XML_BODY */
#define SYNC_MAX_CHANGES 1000
#define SYNC_MAX_WAIT_S 60
#define SYNC_POLL_MS 200
#define SYNC_MISSING_IN_MESSAGE 20

static cJSON *chunk_id_json(const uint8_t id[32])
{
    char hex[2 * SYNC_ID_LEN + 1];
    sync_id_format(id, hex);
    return cJSON_CreateString(hex);
}

/* ------------------------------------------------------------------ */
/* GET /?cairn-sync                                                    */

static void sync_info_end(struct s3_req *r)
{
    struct cdc_params p;
    cdc_params_default(&p);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "protocol", SYNC_PROTOCOL);
    cJSON_AddNumberToObject(o, "chunk_min", p.min_size);
    cJSON_AddNumberToObject(o, "chunk_avg", p.avg_size);
    cJSON_AddNumberToObject(o, "chunk_max", p.max_size);
    cJSON_AddNumberToObject(o, "inline_max", (double)ol_inline_max(r->gw->ol));
    cJSON_AddNumberToObject(o, "max_missing_ids", SYNC_MAX_MISSING_IDS);
    cJSON_AddNumberToObject(o, "max_commit_chunks", SYNC_MAX_COMMIT_CHUNKS);
    cJSON_AddNumberToObject(o, "max_wait", SYNC_MAX_WAIT_S);
    s3_reply_cjson(r, 200, o);
}

const struct s3_handler h_sync_info = {"SyncInfo", NULL, NULL, sync_info_end, NULL};

/* ------------------------------------------------------------------ */
/* POST /BUCKET?cairn-missing                                          */

struct id_at {
    uint8_t id[SYNC_ID_LEN];
    uint32_t at;
};

static int id_at_cmp(const void *a, const void *b)
{
    const struct id_at *x = a, *y = b;
    int c = memcmp(x->id, y->id, SYNC_ID_LEN);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* skip[i] = 1 for every id that repeats an earlier one. */
static int mark_repeats(uint8_t (*ids)[SYNC_ID_LEN], size_t n, uint8_t *skip)
{
    struct id_at *sorted = malloc((n + 1) * sizeof *sorted);
    if (!sorted)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        memcpy(sorted[i].id, ids[i], SYNC_ID_LEN);
        sorted[i].at = (uint32_t)i;
    }
    qsort(sorted, n, sizeof *sorted, id_at_cmp);
    for (size_t i = 1; i < n; i++)
        if (memcmp(sorted[i].id, sorted[i - 1].id, SYNC_ID_LEN) == 0)
            skip[sorted[i].at] = 1;
    free(sorted);
    return 0;
}

static void sync_missing_end(struct s3_req *r)
{
    uint8_t (*ids)[SYNC_ID_LEN] = NULL, *skip = NULL;
    size_t n = 0;
    const char *why = NULL;
    cJSON *out = NULL;

    if (s3_bucket_access_or_reply(r, NULL) != 0 || s3_sse_sync_or_reply(r) != 0)
        return;
    int rc = sync_ids_parse(r->body.data, r->body.len, "chunks", SYNC_MAX_MISSING_IDS, &ids, &n,
                            &why);
    if (rc == -EINVAL) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, why);
        return;
    }
    if (rc == 0 && (!(skip = calloc(n + 1, 1)) || mark_repeats(ids, n, skip) != 0))
        rc = -ENOMEM;
    if (rc == 0) {
        out = cJSON_CreateObject();
        cJSON *missing = cJSON_AddArrayToObject(out, "missing");
        for (size_t i = 0; i < n && rc == 0; i++) {
            int has = skip[i] ? 1 : ol_chunk_has(r->gw->ol, ids[i]);
            if (has < 0)
                rc = has;
            else if (!has)
                cJSON_AddItemToArray(missing, chunk_id_json(ids[i]));
        }
    }
    if (rc == 0) {
        s3_reply_cjson(r, 200, out);
        out = NULL;
    } else {
        s3_reply_rc(r, rc);
    }
    cJSON_Delete(out);
    free(ids);
    free(skip);
}

const struct s3_handler h_sync_missing = {"SyncMissing", NULL, NULL, sync_missing_end, NULL};

/* ------------------------------------------------------------------ */
/* PUT /BUCKET?cairn-chunk=ID                                          */

struct chunk_upload {
    uint8_t id[32];
    uint8_t *data; /* CS_MAX_CHUNK (>= CDC_MAX, the largest chunk the protocol carries)
                      bytes from the objlayer's pool */
    size_t len;
};

static int sync_chunk_begin(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0 || s3_sse_sync_or_reply(r) != 0)
        return 0;
    struct chunk_upload *u = calloc(1, sizeof *u);
    if (!u)
        return -ENOMEM;
    r->hstate = u;
    if (sync_id_parse(s3_param(r, "cairn-chunk"), u->id) != 0) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT,
                       "cairn-chunk must be the chunk's SHA-256 in 64 lower-case hex digits.");
        return 0;
    }
    if (r->content_length > (int64_t)CDC_MAX) {
        s3_reply_error(r, S3E_ENTITY_TOO_LARGE, "A chunk is at most 4 MiB.");
        return 0;
    }
    if (!(u->data = ol_chunk_buf_get(r->gw->ol)))
        return -ENOMEM;
    return 0;
}

static int sync_chunk_body(struct s3_req *r, const uint8_t *p, size_t n)
{
    struct chunk_upload *u = r->hstate;
    if (n > CDC_MAX - u->len)
        return OL_ETOOLARGE;
    memcpy(u->data + u->len, p, n);
    u->len += n;
    return 0;
}

static void sync_chunk_end(struct s3_req *r)
{
    struct chunk_upload *u = r->hstate;
    int stored = 0;
    if (u->len == 0) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "A chunk has at least one byte.");
        return;
    }
    int rc = ol_chunk_put(r->gw->ol, u->id, u->data, u->len, &stored);
    if (rc == OL_EBADDIGEST) {
        s3_reply_error(r, S3E_BAD_DIGEST, "The chunk's bytes do not hash to the id given.");
        return;
    }
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "id", chunk_id_json(u->id));
    cJSON_AddNumberToObject(o, "len", (double)u->len);
    cJSON_AddBoolToObject(o, "stored", stored);
    s3_reply_cjson(r, 200, o);
}

static void sync_chunk_cleanup(struct s3_req *r)
{
    struct chunk_upload *u = r->hstate;
    if (u)
        ol_chunk_buf_put(r->gw->ol, u->data);
    free(u);
    r->hstate = NULL;
}

const struct s3_handler h_sync_chunk = {"SyncPutChunk", sync_chunk_begin, sync_chunk_body,
                                        sync_chunk_end, sync_chunk_cleanup};

/* ------------------------------------------------------------------ */
/* PUT /BUCKET/KEY?cairn-commit                                        */

struct commit {
    struct meta_bucket bucket;
    struct meta_precond pc;
    char if_match[META_ETAG_MAX];
    struct buf attrs;
};

static int sync_commit_begin(struct s3_req *r)
{
    struct commit *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    r->hstate = c;
    buf_init(&c->attrs, META_ATTRS_MAX);
    if (s3_bucket_access_or_reply(r, &c->bucket) != 0 || s3_sse_sync_or_reply(r) != 0 ||
        s3_write_precond_or_reply(r, &c->pc, c->if_match) != 0 ||
        s3_attrs_from_request_or_reply(r, &c->attrs) != 0)
        return 0;
    c->pc.if_version_id = s3_header(r, "x-cairn-if-version-id");
    return 0;
}

/* The chunk list of a commit body into o (o->chunks allocated, size,
 * etag).  Replies and returns -1 on a malformed one. */
static int commit_chunks_or_reply(struct s3_req *r, struct meta_object *o)
{
    _Static_assert(SYNC_COMMIT_ETAG_LEN < META_ETAG_MAX, "commit ETag fits a record");
    struct sync_chunk_list l;
    const char *why = NULL;
    int rc = sync_chunk_list_parse(r->body.data, r->body.len, SYNC_MAX_COMMIT_CHUNKS,
                                   CDC_MAX, OL_MAX_PUT_SIZE, &l, &why);
    if (rc) {
        s3_reply_error(r, rc == -EINVAL ? S3E_INVALID_ARGUMENT : S3E_INTERNAL, why);
        return -1;
    }
    o->chunks = malloc(((size_t)l.n + 1) * sizeof *o->chunks);
    if (!o->chunks) {
        sync_chunk_list_release(&l);
        s3_reply_error(r, S3E_INTERNAL, NULL);
        return -1;
    }
    for (uint32_t i = 0; i < l.n; i++) {
        memcpy(o->chunks[i].id, l.chunks[i].id, SYNC_ID_LEN);
        o->chunks[i].len = l.chunks[i].len;
    }
    o->nchunks = l.n;
    o->size = l.size;
    sync_commit_etag(l.chunks, l.n, o->etag);
    sync_chunk_list_release(&l);
    return 0;
}

/* A commit named chunks the store lacks: say which (the first few). */
static void reply_missing_chunks(struct s3_req *r, const struct meta_object *o)
{
    char msg[128 + SYNC_MISSING_IN_MESSAGE * 65];
    size_t len = (size_t)snprintf(msg, sizeof msg, "The store lacks these chunks:");
    int shown = 0;
    for (uint32_t i = 0; i < o->nchunks && shown < SYNC_MISSING_IN_MESSAGE; i++) {
        if (ol_chunk_has(r->gw->ol, o->chunks[i].id) != 0)
            continue;
        char hex[65];
        hex_encode(o->chunks[i].id, 32, hex);
        if (!strstr(msg, hex)) {
            len += (size_t)snprintf(msg + len, sizeof msg - len, " %s", hex);
            shown++;
        }
    }
    s3_reply_error(r, S3E_MISSING_CHUNKS, msg);
}

static void sync_commit_end(struct s3_req *r)
{
    struct commit *c = r->hstate;
    struct meta_object o;
    memset(&o, 0, sizeof o);
    if (commit_chunks_or_reply(r, &o) != 0)
        goto done;
    o.key = r->key;
    s3_new_version_id(o.version_id);
    o.mtime_ms = ol_now_ms();
    o.attrs = (uint8_t *)c->attrs.data;
    o.attrs_len = (uint32_t)c->attrs.len;
    int rc = ol_put(r->gw->ol, r->bucket, &o, &c->pc, NULL);
    if (rc == META_ENOCHUNK) {
        reply_missing_chunks(r, &o);
        goto done;
    }
    if (rc) {
        s3_reply_rc(r, rc);
        goto done;
    }
    const char *vid = s3_stored_version_id(c->bucket.versioning, o.version_id);
    char etag[META_ETAG_MAX + 3];
    s3_quote_etag(o.etag, etag);
    s3_add_header(r, "ETag", etag);
    s3_version_header(r, c->bucket.versioning, vid);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "etag", etag);
    cJSON_AddStringToObject(out, "version_id", vid);
    cJSON_AddNumberToObject(out, "size", (double)o.size);
    s3_reply_cjson(r, 200, out);
done:
    free(o.chunks);
}

static void sync_commit_cleanup(struct s3_req *r)
{
    struct commit *c = r->hstate;
    if (c)
        buf_release(&c->attrs);
    free(c);
    r->hstate = NULL;
}

const struct s3_handler h_sync_commit = {"SyncCommit", sync_commit_begin, NULL, sync_commit_end,
                                         sync_commit_cleanup};

/* ------------------------------------------------------------------ */
/* GET /BUCKET/KEY?cairn-chunks                                        */

/* The object's user metadata as "meta": {name without "x-amz-meta-":
 * value}: the sync client keeps a file's kind and mode there, and needs
 * them to restore it. */
static void add_user_meta(cJSON *out, const struct meta_object *o)
{
    cJSON *meta = cJSON_AddObjectToObject(out, "meta");
    const char *n, *v;
    for (uint32_t pos = 0; s3_attrs_next(o->attrs, o->attrs_len, &pos, &n, &v);)
        if (strncmp(n, "x-amz-meta-", 11) == 0)
            cJSON_AddStringToObject(meta, n + 11, v);
}

static void sync_chunks_end(struct s3_req *r)
{
    struct meta_object o;
    char etag[META_ETAG_MAX + 3];
    if (s3_bucket_access_or_reply(r, NULL) != 0 || s3_sse_sync_or_reply(r) != 0 ||
        s3_object_or_reply(r, &o) != 0)
        return;
    if (o.flags & META_OBJ_ENCRYPTED) {
        meta_object_release(&o);
        s3_reply_error(r, S3E_INVALID_REQUEST,
                       "The object is encrypted: its chunk list cannot be read through the "
                       "cairn sync extension.");
        return;
    }
    s3_quote_etag(o.etag, etag);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "size", (double)o.size);
    cJSON_AddStringToObject(out, "etag", etag);
    cJSON_AddStringToObject(out, "version_id", o.version_id);
    cJSON_AddNumberToObject(out, "mtime_ms", (double)o.mtime_ms);
    cJSON_AddBoolToObject(out, "inline", o.nchunks == 0 && o.size > 0);
    add_user_meta(out, &o);
    cJSON *list = cJSON_AddArrayToObject(out, "chunks");
    for (uint32_t i = 0; i < o.nchunks; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "id", chunk_id_json(o.chunks[i].id));
        cJSON_AddNumberToObject(e, "len", o.chunks[i].len);
        cJSON_AddItemToArray(list, e);
    }
    meta_object_release(&o);
    s3_reply_cjson(r, 200, out);
}

const struct s3_handler h_sync_chunks = {"SyncGetChunks", NULL, NULL, sync_chunks_end, NULL};

/* ------------------------------------------------------------------ */
/* GET /BUCKET?cairn-changes                                           */

struct feed_query {
    uint64_t after;
    const char *prefix;
    uint64_t max, wait_s;
};

/* Parse the feed's parameters; after=latest is resolved here.  Replies and
 * returns -1 on bad ones. */
static int feed_query_or_reply(struct s3_req *r, struct feed_query *q)
{
    const char *after = s3_param(r, "after"), *max = s3_param(r, "max-changes");
    const char *wait = s3_param(r, "wait");
    char *end;
    q->prefix = s3_param(r, "prefix");
    q->max = SYNC_MAX_CHANGES;
    q->wait_s = 0;
    if (!after || !*after) {
        q->after = 0;
    } else if (strcmp(after, "latest") == 0) {
        int rc = meta_change_last(r->gw->meta, r->bucket, &q->after);
        if (rc) {
            s3_reply_rc(r, rc);
            return -1;
        }
    } else {
        errno = 0;
        q->after = strtoull(after, &end, 10);
        if (errno || *end || after[0] == '-' || after[0] == '+') {
            s3_reply_error(r, S3E_INVALID_ARGUMENT, "after must be a change number or \"latest\".");
            return -1;
        }
    }
    if (max && (!*max || (q->max = strtoull(max, &end, 10)) < 1 || q->max > SYNC_MAX_CHANGES ||
                *end)) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "max-changes must be 1 to 1000.");
        return -1;
    }
    if (wait && (!*wait || (q->wait_s = strtoull(wait, &end, 10)) > SYNC_MAX_WAIT_S || *end)) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "wait must be 0 to 60 seconds.");
        return -1;
    }
    return 0;
}

static const char *change_op_name(uint8_t op)
{
    return op == META_CHANGE_DELETE ? "delete" : "put";
}

static cJSON *change_json(struct s3_req *r, const struct meta_change *c)
{
    char etag[META_ETAG_MAX + 3] = "";
    cJSON *e = cJSON_CreateObject();
    if (c->etag[0])
        s3_quote_etag(c->etag, etag);
    cJSON_AddNumberToObject(e, "seq", (double)c->seq);
    cJSON_AddStringToObject(e, "op", change_op_name(c->op));
    cJSON_AddStringToObject(e, "key", c->key);
    cJSON_AddStringToObject(e, "version_id", c->version_id);
    cJSON_AddStringToObject(e, "etag", etag);
    cJSON_AddNumberToObject(e, "size", (double)c->size);
    cJSON_AddNumberToObject(e, "mtime_ms", (double)c->mtime_ms);
    struct meta_object o;
    if (c->op == META_CHANGE_PUT &&
        meta_object_get(r->gw->meta, r->bucket, c->key, c->version_id, &o) == 0) {
        add_user_meta(e, &o); /* a client sees a new mode without asking */
        meta_object_release(&o);
    }
    return e;
}

static void sync_changes_end(struct s3_req *r)
{
    struct feed_query q;
    if (s3_bucket_access_or_reply(r, NULL) != 0 || s3_sse_sync_or_reply(r) != 0 ||
        feed_query_or_reply(r, &q) != 0)
        return;
    /* Long poll by looking again every SYNC_POLL_MS: the feed lives in the
     * metadata store, which other gateways of a cluster write too. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cJSON *out = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(out, "changes");
    uint64_t next = q.after;
    int truncated = 0, found = 0;
    size_t plen = q.prefix ? strlen(q.prefix) : 0;
    for (;;) {
        struct meta_change *ch = NULL;
        size_t n = 0;
        int rc = meta_change_list(r->gw->meta, r->bucket, next, (size_t)q.max, &ch, &n);
        if (rc) {
            cJSON_Delete(out);
            s3_reply_rc(r, rc);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            next = ch[i].seq;
            if (plen && strncmp(ch[i].key, q.prefix, plen) != 0)
                continue;
            cJSON_AddItemToArray(list, change_json(r, &ch[i]));
            found++;
        }
        truncated = n == q.max;
        meta_change_array_free(ch, n);
        if (found || truncated || q.wait_s == 0 || atomic_load(&r->gw->draining))
            break;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t waited_ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (waited_ms >= (int64_t)q.wait_s * 1000)
            break;
        struct timespec nap = {0, SYNC_POLL_MS * 1000000L};
        nanosleep(&nap, NULL);
    }
    cJSON_AddNumberToObject(out, "next", (double)next);
    cJSON_AddBoolToObject(out, "truncated", truncated);
    s3_reply_cjson(r, 200, out);
}

const struct s3_handler h_sync_changes = {"SyncChanges", NULL, NULL, sync_changes_end, NULL};
