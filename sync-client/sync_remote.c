/*
 * sync-client/sync_remote.c - see sync_remote.h.  Requests are built and
 * answers read here; the protocol's id and chunk lists go through
 * common/sync_proto, so client and server parse them the same way.
 */
#include "sync-client/sync_remote.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/fastcdc.h"
#include "common/hash.h"
#include "common/uri.h"
#include "common/xml.h"

#define REMOTE_MAX_IDS 10000 /* the protocol's max_missing_ids */
#define REMOTE_MAX_KEY 4096

/* ---- requests and answers -------------------------------------------- */

/* Text of <Tag>...</Tag> in an S3 error body into out ("" if absent). */
static void xml_field(const struct buf *body, const char *tag, char *out, size_t cap)
{
    char open[32], close[32];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    out[0] = 0;
    const char *s = body->data ? strstr(body->data, open) : NULL;
    const char *e = s ? strstr(s, close) : NULL;
    if (s && e) {
        s += strlen(open);
        snprintf(out, cap, "%.*s", (int)(e - s), s);
    }
}

/* The layer's code for an answer (or its absence), last_error set. */
static int answer_code(struct sync_remote *r, int transport_rc, const struct http_response *resp)
{
    char code[64], msg[200];
    if (transport_rc != 0) {
        snprintf(r->last_error, sizeof r->last_error, "%s", resp->error);
        return SYNC_EOFFLINE;
    }
    if (resp->status >= 200 && resp->status < 300)
        return 0;
    xml_field(&resp->body, "Code", code, sizeof code);
    xml_field(&resp->body, "Message", msg, sizeof msg);
    snprintf(r->last_error, sizeof r->last_error, "HTTP %ld %s: %s", resp->status,
             code[0] ? code : "(no code)", msg);
    if (resp->status == 412 || strcmp(code, "ConditionalRequestConflict") == 0)
        return SYNC_ECONFLICT;
    if (strcmp(code, "XCairnMissingChunks") == 0)
        return SYNC_EMISSING;
    if (resp->status == 404 && strcmp(code, "NoSuchKey") == 0)
        return SYNC_ENOTFOUND;
    if (resp->status == 403 || resp->status == 401)
        return SYNC_EAUTH;
    return SYNC_ESERVER;
}

/* "/bucket/<prefix+path, encoded>" or "/bucket" (path NULL) into out. */
static int target_of(const struct sync_remote *r, const char *path, struct buf *out)
{
    buf_init(out, REMOTE_MAX_KEY);
    if (buf_printf(out, "/%s", r->bucket) != 0)
        return -ENOMEM;
    if (!path)
        return 0;
    struct buf key;
    buf_init(&key, REMOTE_MAX_KEY);
    int rc = buf_printf(&key, "%s%s", r->prefix ? r->prefix : "", path);
    if (rc == 0)
        rc = buf_append(out, "/", 1);
    if (rc == 0)
        rc = uri_encode(out, key.data, key.len, URI_KEEP_SLASH);
    buf_release(&key);
    return rc < 0 ? SYNC_ETOOLONG : 0;
}

/* One request; on success the caller owns resp (release it). */
static int call(struct sync_remote *r, const char *method, const char *path, const char *query,
                const struct http_header *h, size_t nh, const void *body, size_t len,
                struct http_response *resp)
{
    struct buf target;
    int rc = target_of(r, path, &target);
    if (rc == 0) {
        rc = answer_code(r, http_request_ex(&r->http, method, target.data, query, h, nh, body,
                                            len, resp),
                         resp);
        if (rc)
            http_response_release(resp);
    }
    buf_release(&target);
    return rc;
}

static cJSON *answer_json(struct sync_remote *r, const struct http_response *resp)
{
    cJSON *doc = cJSON_ParseWithLength(resp->body.data ? resp->body.data : "", resp->body.len);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        snprintf(r->last_error, sizeof r->last_error, "the server's answer is not a JSON object");
        return NULL;
    }
    return doc;
}

static void copy_str(const cJSON *doc, const char *name, char *out, size_t cap)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, name));
    snprintf(out, cap, "%s", v ? v : "");
}

static uint64_t get_u64(const cJSON *doc, const char *name)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(doc, name);
    return cJSON_IsNumber(n) && n->valuedouble >= 0 ? (uint64_t)n->valuedouble : 0;
}

/* Kind and mode from the "meta" of a chunk-list answer or a change. */
static void object_meta(const cJSON *doc, uint8_t *kind_out, uint32_t *mode_out)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "meta");
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "cairn-kind"));
    const char *mode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "cairn-mode"));
    *kind_out = !kind                        ? SYNC_KIND_FILE
                : strcmp(kind, "symlink") == 0 ? SYNC_KIND_SYMLINK
                : strcmp(kind, "dir") == 0     ? SYNC_KIND_DIR
                                               : SYNC_KIND_FILE;
    *mode_out = mode ? (uint32_t)(strtoul(mode, NULL, 8) & 07777) : 0;
}

/* Append "&name=<value, encoded>" to q (nothing if value is NULL or ""). */
static int add_param(struct buf *q, const char *name, const char *value)
{
    if (!value || !*value)
        return 0;
    int rc = buf_printf(q, "&%s=", name);
    return rc ? rc : uri_encode(q, value, strlen(value), 0);
}

/* ---- calls ------------------------------------------------------------ */

int sync_remote_check(struct sync_remote *r)
{
    struct http_response resp;
    struct cdc_params p;
    int rc = answer_code(r, http_request_ex(&r->http, "GET", "/", "cairn-sync", NULL, 0, NULL, 0,
                                            &resp),
                         &resp);
    if (rc == 0) {
        cJSON *doc = answer_json(r, &resp);
        cdc_params_default(&p);
        if (!doc || get_u64(doc, "protocol") != 1 || get_u64(doc, "chunk_min") != p.min_size ||
            get_u64(doc, "chunk_avg") != p.avg_size || get_u64(doc, "chunk_max") != p.max_size) {
            if (doc)
                snprintf(r->last_error, sizeof r->last_error,
                         "the server speaks another sync protocol or cuts other chunks");
            rc = SYNC_EPROTO;
        } else {
            r->inline_max = get_u64(doc, "inline_max");
        }
        cJSON_Delete(doc);
    }
    http_response_release(&resp);
    return rc;
}

/* The request headers of a write: its precondition and metadata, after
 * the n already in h (room for 4 more).  mode_buf holds the mode's text. */
static size_t write_headers(const struct sync_write *w, struct http_header *h, size_t n,
                            char mode_buf[16])
{
    if (!w)
        return n;
    if (w->if_match)
        h[n++] = (struct http_header){"If-Match", w->if_match};
    else if (w->if_absent)
        h[n++] = (struct http_header){"If-None-Match", "*"};
    if (w->kind == SYNC_KIND_SYMLINK || w->kind == SYNC_KIND_DIR)
        h[n++] = (struct http_header){"x-amz-meta-cairn-kind",
                                      w->kind == SYNC_KIND_DIR ? "dir" : "symlink"};
    if (w->mode) {
        snprintf(mode_buf, 16, "%04o", (unsigned)(w->mode & 07777));
        h[n++] = (struct http_header){"x-amz-meta-cairn-mode", mode_buf};
    }
    return n;
}

/* The new version of a write's answer (ETag and version id headers). */
static void written_object(const struct http_response *resp, uint64_t size,
                           struct sync_remote_object *out)
{
    const char *etag = http_response_header(resp, "etag");
    const char *vid = http_response_header(resp, "x-amz-version-id");
    memset(out, 0, sizeof *out);
    snprintf(out->etag, sizeof out->etag, "%s", etag ? etag : "");
    snprintf(out->version_id, sizeof out->version_id, "%s", vid ? vid : "");
    out->size = size;
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, SYNC_ID_LEN);
}

/* One batch of at most REMOTE_MAX_IDS. */
static int missing_batch(struct sync_remote *r, const struct sync_chunk_ref *chunks, size_t n,
                         uint8_t *missing)
{
    struct http_response resp;
    uint8_t (*ids)[SYNC_ID_LEN] = NULL;
    size_t nids = 0;
    const char *why = NULL;
    char hex[2 * SYNC_ID_LEN + 1];
    cJSON *doc = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(doc, "chunks");
    for (size_t i = 0; i < n; i++) {
        sync_id_format(chunks[i].id, hex);
        cJSON_AddItemToArray(list, cJSON_CreateString(hex));
    }
    char *body = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!body)
        return -ENOMEM;
    struct http_header ct = {"Content-Type", "application/json"};
    int rc = call(r, "POST", NULL, "cairn-missing", &ct, 1, body, strlen(body), &resp);
    free(body);
    if (rc)
        return rc;
    rc = sync_ids_parse(resp.body.data, resp.body.len, "missing", n, &ids, &nids, &why);
    http_response_release(&resp);
    if (rc) {
        snprintf(r->last_error, sizeof r->last_error, "missing-chunks answer: %s",
                 why ? why : "out of memory");
        return rc == -EINVAL ? SYNC_EPROTO : rc;
    }
    if (nids)
        qsort(ids, nids, SYNC_ID_LEN, id_cmp);
    for (size_t i = 0; i < n; i++)
        missing[i] = bsearch(chunks[i].id, ids, nids, SYNC_ID_LEN, id_cmp) != NULL;
    free(ids);
    return 0;
}

int sync_remote_missing(struct sync_remote *r, const struct sync_chunk_ref *chunks, size_t n,
                        uint8_t *missing)
{
    if (n && (!chunks || !missing))
        return SYNC_EINVAL;
    for (size_t done = 0; done < n;) {
        size_t part = n - done < REMOTE_MAX_IDS ? n - done : REMOTE_MAX_IDS;
        int rc = missing_batch(r, chunks + done, part, missing + done);
        if (rc)
            return rc;
        done += part;
    }
    return 0;
}

int sync_remote_put_chunk(struct sync_remote *r, const uint8_t id[SYNC_ID_LEN], const void *data,
                          size_t len, int *stored)
{
    struct http_response resp;
    char query[32 + 2 * SYNC_ID_LEN], hex[2 * SYNC_ID_LEN + 1];
    if (!data || len == 0)
        return SYNC_EINVAL;
    sync_id_format(id, hex);
    snprintf(query, sizeof query, "cairn-chunk=%s", hex);
    int rc = call(r, "PUT", NULL, query, NULL, 0, data, len, &resp);
    if (rc)
        return rc;
    cJSON *doc = answer_json(r, &resp);
    if (!doc)
        rc = SYNC_EPROTO;
    else if (stored)
        *stored = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "stored"));
    cJSON_Delete(doc);
    http_response_release(&resp);
    return rc;
}

int sync_remote_commit(struct sync_remote *r, const char *path, const struct sync_chunk_ref *chunks,
                       uint32_t n, uint64_t size, const struct sync_write *w,
                       struct sync_remote_object *out)
{
    struct http_response resp;
    struct http_header h[5] = {{"Content-Type", "application/octet-stream"}};
    char hex[2 * SYNC_ID_LEN + 1], mode[16];
    if (!path || (n && !chunks) || (w && w->if_match && w->if_absent))
        return SYNC_EINVAL;
    size_t nh = write_headers(w, h, 1, mode);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "size", (double)size);
    cJSON *list = cJSON_AddArrayToObject(doc, "chunks");
    for (uint32_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        sync_id_format(chunks[i].id, hex);
        cJSON_AddStringToObject(e, "id", hex);
        cJSON_AddNumberToObject(e, "len", chunks[i].len);
        cJSON_AddItemToArray(list, e);
    }
    char *body = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!body)
        return -ENOMEM;
    int rc = call(r, "PUT", path, "cairn-commit", h, nh, body, strlen(body), &resp);
    free(body);
    if (rc)
        return rc;
    cJSON *ans = answer_json(r, &resp);
    if (!ans) {
        rc = SYNC_EPROTO;
    } else if (out) {
        memset(out, 0, sizeof *out);
        copy_str(ans, "etag", out->etag, sizeof out->etag);
        copy_str(ans, "version_id", out->version_id, sizeof out->version_id);
        out->size = get_u64(ans, "size");
    }
    cJSON_Delete(ans);
    http_response_release(&resp);
    return rc;
}

int sync_remote_put(struct sync_remote *r, const char *path, const void *data, size_t len,
                    const struct sync_write *w, struct sync_remote_object *out)
{
    struct http_response resp;
    struct http_header h[5] = {{"Content-MD5", NULL}};
    char mode[16], b64[32];
    uint8_t digest[16];
    if (!path || (len && !data) || (w && w->if_match && w->if_absent))
        return SYNC_EINVAL;
    md5(len ? data : "", len, digest);
    base64_encode(digest, sizeof digest, b64);
    h[0].value = b64;
    size_t nh = write_headers(w, h, 1, mode);
    int rc = call(r, "PUT", path, NULL, h, nh, data, len, &resp);
    if (rc)
        return rc;
    if (out)
        written_object(&resp, len, out);
    http_response_release(&resp);
    return 0;
}

int sync_remote_copy(struct sync_remote *r, const char *from, const char *from_etag,
                     const char *path, const struct sync_write *w, struct sync_remote_object *out)
{
    struct http_response resp;
    struct http_header h[7] = {{"x-amz-copy-source", NULL},
                               {"x-amz-copy-source-if-match", from_etag},
                               {"x-amz-metadata-directive", "REPLACE"}};
    struct buf src;
    char mode[16], etag[SYNC_ETAG_MAX + 1];
    if (!from || !from_etag || !path || (w && w->if_match && w->if_absent))
        return SYNC_EINVAL;
    int rc = target_of(r, from, &src); /* "/bucket/<prefix+from, encoded>" */
    if (rc) {
        buf_release(&src);
        return rc;
    }
    h[0].value = src.data;
    size_t nh = write_headers(w, h, 3, mode);
    rc = call(r, "PUT", path, NULL, h, nh, NULL, 0, &resp);
    buf_release(&src);
    if (rc)
        return rc;
    struct xml_doc *doc = NULL; /* <CopyObjectResult><ETag>... */
    etag[0] = 0;
    if (xml_parse(resp.body.data ? resp.body.data : "", resp.body.len, &doc) == 0)
        snprintf(etag, sizeof etag, "%s", xml_child_text(xml_root(doc), "ETag", ""));
    xml_doc_free(doc);
    if (!etag[0])
        snprintf(r->last_error, sizeof r->last_error, "a copy answer without an ETag");
    if (out) {
        written_object(&resp, 0, out);
        if (etag[0])
            snprintf(out->etag, sizeof out->etag, "%s", etag);
    }
    http_response_release(&resp);
    return etag[0] ? 0 : SYNC_EPROTO;
}

int sync_remote_delete(struct sync_remote *r, const char *path, const char *if_match)
{
    struct http_response resp;
    struct http_header h[1] = {{"If-Match", if_match}};
    if (!path)
        return SYNC_EINVAL;
    int rc = call(r, "DELETE", path, NULL, h, if_match ? 1 : 0, NULL, 0, &resp);
    if (rc == SYNC_ENOTFOUND)
        return 0;
    if (rc == 0)
        http_response_release(&resp);
    return rc;
}

int sync_remote_stat(struct sync_remote *r, const char *path, struct sync_remote_object *obj)
{
    struct sync_chunk_list l = {0};
    int rc = sync_remote_chunk_list(r, path, obj, &l);
    sync_chunk_list_release(&l);
    return rc;
}


int sync_remote_chunk_list(struct sync_remote *r, const char *path, struct sync_remote_object *obj,
                           struct sync_chunk_list *list)
{
    struct http_response resp;
    struct sync_chunk_list l = {0};
    const char *why = NULL;
    if (!path || !obj || !list)
        return SYNC_EINVAL;
    int rc = call(r, "GET", path, "cairn-chunks", NULL, 0, NULL, 0, &resp);
    if (rc)
        return rc;
    cJSON *doc = answer_json(r, &resp);
    int is_inline = doc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "inline"));
    if (!doc) {
        rc = -EINVAL;
    } else if (is_inline) { /* no chunks: the size is the object's own */
        l.size = get_u64(doc, "size");
        if (l.size > CDC_MAX) { /* inline objects are small: they are read whole */
            why = "an inline object larger than a chunk";
            rc = -EINVAL;
        } else {
            rc = (l.chunks = calloc(1, sizeof *l.chunks)) ? 0 : -ENOMEM;
        }
    } else {
        rc = sync_chunk_list_parse(resp.body.data, resp.body.len, SYNC_CHUNKS_MAX, CDC_MAX,
                                   UINT64_MAX, &l, &why);
    }
    if (rc == 0) {
        memset(obj, 0, sizeof *obj);
        copy_str(doc, "etag", obj->etag, sizeof obj->etag);
        copy_str(doc, "version_id", obj->version_id, sizeof obj->version_id);
        obj->size = l.size;
        obj->mtime_ms = (int64_t)get_u64(doc, "mtime_ms");
        obj->is_inline = is_inline;
        object_meta(doc, &obj->kind, &obj->mode);
        *list = l;
    } else if (rc == -EINVAL) {
        snprintf(r->last_error, sizeof r->last_error, "chunk-list answer: %s",
                 why ? why : "not JSON");
        rc = SYNC_EPROTO;
    }
    cJSON_Delete(doc);
    http_response_release(&resp);
    return rc;
}

int sync_remote_get_range(struct sync_remote *r, const char *path, const char *if_match,
                          uint64_t off, size_t len, void *buf)
{
    struct http_response resp;
    struct http_header h[2];
    char range[64];
    size_t nh = 0;
    if (!path || (len && !buf))
        return SYNC_EINVAL;
    if (len == 0)
        return 0;
    snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
    h[nh++] = (struct http_header){"Range", range};
    if (if_match)
        h[nh++] = (struct http_header){"If-Match", if_match};
    int rc = call(r, "GET", path, NULL, h, nh, NULL, 0, &resp);
    if (rc)
        return rc;
    if (resp.body.len != len) {
        snprintf(r->last_error, sizeof r->last_error, "asked for %zu bytes, got %zu", len,
                 resp.body.len);
        rc = SYNC_EPROTO;
    } else {
        memcpy(buf, resp.body.data, len);
    }
    http_response_release(&resp);
    return rc;
}

void sync_remote_changes_free(struct sync_remote_change *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        free(c[i].key);
    free(c);
}

/* The changes of a feed answer into *out (keys without the prefix). */
static int parse_changes(struct sync_remote *r, const cJSON *doc, struct sync_remote_change **out,
                         size_t *n)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "changes"), *e;
    size_t plen = r->prefix ? strlen(r->prefix) : 0, cnt = 0;
    if (!cJSON_IsArray(list))
        return SYNC_EPROTO;
    struct sync_remote_change *v = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *v);
    if (!v)
        return -ENOMEM;
    cJSON_ArrayForEach(e, list) {
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "key"));
        const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "op"));
        if (!key || !op || strncmp(key, r->prefix ? r->prefix : "", plen) != 0)
            continue;
        struct sync_remote_change *c = &v[cnt];
        if (!(c->key = strdup(key + plen))) {
            sync_remote_changes_free(v, cnt);
            return -ENOMEM;
        }
        c->seq = get_u64(e, "seq");
        c->is_delete = strcmp(op, "delete") == 0;
        copy_str(e, "etag", c->etag, sizeof c->etag);
        copy_str(e, "version_id", c->version_id, sizeof c->version_id);
        c->size = get_u64(e, "size");
        object_meta(e, &c->kind, &c->mode);
        cnt++;
    }
    *out = v;
    *n = cnt;
    return 0;
}

int sync_remote_changes(struct sync_remote *r, uint64_t *after, int wait_s,
                        struct sync_remote_change **out, size_t *n, int *more)
{
    struct http_response resp;
    struct buf q;
    if (!after || !out || !n || wait_s < 0 || wait_s > 60)
        return SYNC_EINVAL;
    buf_init(&q, REMOTE_MAX_KEY);
    int rc = *after == SYNC_REMOTE_LATEST ? buf_puts(&q, "after=latest")
                                          : buf_printf(&q, "after=%" PRIu64, *after);
    if (rc == 0)
        rc = buf_printf(&q, "&cairn-changes&wait=%d", wait_s);
    if (rc == 0)
        rc = add_param(&q, "prefix", r->prefix);
    if (rc < 0) {
        buf_release(&q);
        return SYNC_ETOOLONG;
    }
    rc = call(r, "GET", NULL, q.data, NULL, 0, NULL, 0, &resp);
    buf_release(&q);
    if (rc)
        return rc;
    cJSON *doc = answer_json(r, &resp);
    rc = doc ? parse_changes(r, doc, out, n) : SYNC_EPROTO;
    if (rc == 0) {
        *after = get_u64(doc, "next");
        if (more)
            *more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "truncated"));
    }
    cJSON_Delete(doc);
    http_response_release(&resp);
    return rc;
}

/* ---- listing ------------------------------------------------------------- */

void sync_remote_entries_free(struct sync_remote_entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++)
        free(e[i].key);
    free(e);
}

/* The entries of a ListObjectsV2 answer (encoding-type=url) into *out. */
static int parse_listing(struct sync_remote *r, const struct xml_doc *doc,
                         struct sync_remote_entry **out, size_t *n, char *token)
{
    const struct xml_node *root = xml_root(doc), *o;
    size_t plen = r->prefix ? strlen(r->prefix) : 0, cnt = 0, cap = 0;
    struct sync_remote_entry *v = NULL;
    if (!root || strcmp(root->name, "ListBucketResult") != 0)
        return SYNC_EPROTO;
    for (o = xml_child(root, "Contents"); o; o = xml_next_named(o, "Contents"))
        cap++;
    if (!(v = calloc(cap + 1, sizeof *v)))
        return -ENOMEM;
    for (o = xml_child(root, "Contents"); o; o = xml_next_named(o, "Contents")) {
        const char *enc = xml_child_text(o, "Key", NULL);
        size_t elen = enc ? strlen(enc) : 0;
        char *key = enc ? malloc(elen + 1) : NULL;
        long klen = key ? uri_decode(enc, elen, key, elen + 1, URI_PLUS_SPACE) : -1;
        if (klen < 0 || (size_t)klen < plen || strncmp(key, r->prefix ? r->prefix : "", plen)) {
            free(key);
            sync_remote_entries_free(v, cnt);
            return key ? SYNC_EPROTO : -ENOMEM;
        }
        memmove(key, key + plen, (size_t)klen - plen + 1);
        v[cnt].key = key;
        snprintf(v[cnt].etag, sizeof v[cnt].etag, "%s", xml_child_text(o, "ETag", ""));
        v[cnt].size = strtoull(xml_child_text(o, "Size", "0"), NULL, 10);
        cnt++;
    }
    const char *next = strcmp(xml_child_text(root, "IsTruncated", "false"), "true") == 0
                           ? xml_child_text(root, "NextContinuationToken", "")
                           : "";
    if (strlen(next) > SYNC_REMOTE_TOKEN_MAX) {
        sync_remote_entries_free(v, cnt);
        return SYNC_EPROTO;
    }
    strcpy(token, next);
    *out = v;
    *n = cnt;
    return 0;
}

int sync_remote_list(struct sync_remote *r, char token[SYNC_REMOTE_TOKEN_MAX + 1],
                     struct sync_remote_entry **out, size_t *n)
{
    struct http_response resp;
    struct xml_doc *doc = NULL;
    struct buf q;
    if (!token || !out || !n)
        return SYNC_EINVAL;
    buf_init(&q, 3 * SYNC_REMOTE_TOKEN_MAX + REMOTE_MAX_KEY);
    int rc = buf_puts(&q, "list-type=2&encoding-type=url&max-keys=1000");
    if (rc == 0)
        rc = add_param(&q, "continuation-token", token);
    if (rc == 0)
        rc = add_param(&q, "prefix", r->prefix);
    if (rc < 0) {
        buf_release(&q);
        return SYNC_ETOOLONG;
    }
    rc = call(r, "GET", NULL, q.data, NULL, 0, NULL, 0, &resp);
    buf_release(&q);
    if (rc)
        return rc;
    if (xml_parse(resp.body.data ? resp.body.data : "", resp.body.len, &doc) != 0) {
        snprintf(r->last_error, sizeof r->last_error, "the listing is not well-formed XML");
        rc = SYNC_EPROTO;
    } else {
        rc = parse_listing(r, doc, out, n, token);
    }
    xml_doc_free(doc);
    http_response_release(&resp);
    return rc;
}
