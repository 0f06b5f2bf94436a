/*
 * common/sync_proto.h - the JSON messages of the sync protocol
 * (docs/sync-protocol.md) that carry chunk ids and chunk lists, parsed in
 * one place for the server (gateway/s3_sync.c) and the sync client.
 *
 * Every parser takes untrusted bytes: it never reads past len, caps what
 * it accepts (max entries, chunk sizes), and on failure returns -EINVAL
 * with *why (may be NULL) set to a static, client-presentable sentence,
 * leaving its outputs untouched.  -ENOMEM if memory runs out.
 */
#ifndef CAIRN_COMMON_SYNC_PROTO_H
#define CAIRN_COMMON_SYNC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define SYNC_ID_LEN 32

struct sync_chunk_ref {
    uint8_t id[SYNC_ID_LEN];
    uint32_t len;
};

/* A chunk id in its wire form: exactly 64 lower-case hex digits (NUL-
 * terminated string; NULL is invalid).  0 or -EINVAL. */
int sync_id_parse(const char *hex, uint8_t id[SYNC_ID_LEN]);
/* The wire form of id into out (65 bytes with the NUL). */
void sync_id_format(const uint8_t id[SYNC_ID_LEN], char out[2 * SYNC_ID_LEN + 1]);

/* {"<field>": ["<id>", ...]} with at most max ids: *ids (owned, free())
 * and *n.  Other members are ignored.  Used for a missing-chunks request
 * ("chunks") and its answer ("missing"). */
int sync_ids_parse(const char *json, size_t len, const char *field, size_t max,
                   uint8_t (**ids)[SYNC_ID_LEN], size_t *n, const char **why);

/* A chunk list: {"size": N, "chunks": [{"id": "<id>", "len": L}, ...]}
 * with at most max entries, each 1..chunk_max bytes, adding up to N (at
 * most max_size).  Other members are ignored.  Used for a commit body and
 * a chunk-list answer. */
struct sync_chunk_list {
    uint64_t size;
    struct sync_chunk_ref *chunks; /* owned; never NULL after success */
    uint32_t n;
};
int sync_chunk_list_parse(const char *json, size_t len, uint32_t max, uint32_t chunk_max,
                          uint64_t max_size, struct sync_chunk_list *out, const char **why);
void sync_chunk_list_release(struct sync_chunk_list *l); /* zeroed or parsed */

/* The ETag of an object committed from a chunk list: lower-case hex MD5 of
 * the concatenated 32-byte ids, '-', the number of chunks; no quotes.
 * Server and client both compute it here, so they always agree. */
#define SYNC_COMMIT_ETAG_LEN (32 + 1 + 10)
void sync_commit_etag(const struct sync_chunk_ref *chunks, uint32_t n,
                      char out[SYNC_COMMIT_ETAG_LEN + 1]);

#endif
