/*
 * common/sync_proto.c - see sync_proto.h.  cJSON does the JSON; this file
 * checks shapes, ranges and limits.
 */
#include "common/sync_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/hash.h"

static int fail(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return -EINVAL;
}

int sync_id_parse(const char *hex, uint8_t id[SYNC_ID_LEN])
{
    if (!hex || strlen(hex) != 2 * SYNC_ID_LEN)
        return -EINVAL;
    for (const char *p = hex; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return -EINVAL;
    return hex_decode(hex, 2 * SYNC_ID_LEN, id, SYNC_ID_LEN) == 0 ? 0 : -EINVAL;
}

void sync_id_format(const uint8_t id[SYNC_ID_LEN], char out[2 * SYNC_ID_LEN + 1])
{
    hex_encode(id, SYNC_ID_LEN, out);
}

/* A JSON number that is a whole number in [min, max] into *out. */
static int whole_number(const cJSON *n, double min, double max, uint64_t *out)
{
    if (!cJSON_IsNumber(n))
        return -1;
    double v = n->valuedouble;
    if (!(v >= min && v <= max) || v != (double)(uint64_t)v)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static cJSON *parse_object(const char *json, size_t len)
{
    cJSON *doc = json && len ? cJSON_ParseWithLength(json, len) : NULL;
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

int sync_ids_parse(const char *json, size_t len, const char *field, size_t max,
                   uint8_t (**ids)[SYNC_ID_LEN], size_t *n, const char **why)
{
    cJSON *doc = parse_object(json, len);
    uint8_t (*v)[SYNC_ID_LEN] = NULL;
    size_t cnt = 0;
    int rc = 0;
    if (!doc)
        return fail(why, "The body is not a JSON object.");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, field), *e;
    if (!cJSON_IsArray(list) || (size_t)cJSON_GetArraySize(list) > max) {
        rc = fail(why, "The id list is missing, not an array, or too long.");
        goto out;
    }
    if (!(v = malloc(((size_t)cJSON_GetArraySize(list) + 1) * sizeof *v))) {
        rc = -ENOMEM;
        goto out;
    }
    cJSON_ArrayForEach(e, list) {
        if (sync_id_parse(cJSON_GetStringValue(e), v[cnt]) != 0) {
            rc = fail(why, "A chunk id is not 64 lower-case hex digits.");
            goto out;
        }
        cnt++;
    }
    *ids = v;
    *n = cnt;
    v = NULL;
out:
    free(v);
    cJSON_Delete(doc);
    return rc;
}

int sync_chunk_list_parse(const char *json, size_t len, uint32_t max, uint32_t chunk_max,
                          uint64_t max_size, struct sync_chunk_list *out, const char **why)
{
    cJSON *doc = parse_object(json, len);
    struct sync_chunk_list l = {0};
    uint64_t sum = 0;
    int rc = 0;
    if (!doc)
        return fail(why, "The body is not a JSON object.");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "chunks"), *e;
    if (whole_number(cJSON_GetObjectItemCaseSensitive(doc, "size"), 0, (double)max_size,
                     &l.size) != 0 ||
        !cJSON_IsArray(list) || (uint32_t)cJSON_GetArraySize(list) > max) {
        rc = fail(why, "A chunk list needs \"size\" and \"chunks\" (not too many).");
        goto out;
    }
    if (!(l.chunks = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *l.chunks))) {
        rc = -ENOMEM;
        goto out;
    }
    cJSON_ArrayForEach(e, list) {
        uint64_t clen;
        struct sync_chunk_ref *ref = &l.chunks[l.n];
        if (sync_id_parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "id")),
                          ref->id) != 0 ||
            whole_number(cJSON_GetObjectItemCaseSensitive(e, "len"), 1, chunk_max, &clen) != 0) {
            rc = fail(why, "Each chunk needs \"id\" (64 lower-case hex digits) and \"len\" "
                           "(1 to the largest chunk).");
            goto out;
        }
        ref->len = (uint32_t)clen;
        sum += clen;
        l.n++;
    }
    if (sum != l.size) {
        rc = fail(why, "The chunk lengths do not add up to \"size\".");
        goto out;
    }
    *out = l;
    l.chunks = NULL;
out:
    free(l.chunks);
    cJSON_Delete(doc);
    return rc;
}

void sync_chunk_list_release(struct sync_chunk_list *l)
{
    free(l->chunks);
    memset(l, 0, sizeof *l);
}

void sync_commit_etag(const struct sync_chunk_ref *chunks, uint32_t n,
                      char out[SYNC_COMMIT_ETAG_LEN + 1])
{
    struct cksum md5;
    uint8_t digest[CKSUM_MAX_LEN];
    char hex[33];
    cksum_init(&md5, CKSUM_MD5);
    for (uint32_t i = 0; i < n; i++)
        cksum_update(&md5, chunks[i].id, SYNC_ID_LEN);
    cksum_final(&md5, digest);
    cksum_release(&md5);
    hex_encode(digest, 16, hex);
    snprintf(out, SYNC_COMMIT_ETAG_LEN + 1, "%s-%u", hex, (unsigned)n);
}
