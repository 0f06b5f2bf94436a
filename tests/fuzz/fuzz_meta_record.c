/*
 * tests/fuzz/fuzz_meta_record.c - the metadata layer's record decoders
 * (metadata/record.h) and the command decoder (metadata/meta_cmd.h) on
 * arbitrary bytes.  Records come back from LMDB and, with a replicated
 * log, commands from other nodes: a damaged or hostile record must give
 * an error or a record, never a crash, a leak or an over-read.
 *
 * Every decoder is tried on the whole input (each checks the type byte
 * first, so the fuzzer finds all of them from one corpus).  Properties:
 *   - the result is 0 or META_ECORRUPT (or -ENOMEM);
 *   - on failure the output is untouched (record.h for objects, and the
 *     layer's rule for the others); rec_chunk_decode never touches out->id
 *     and rec_change_decode keeps out->seq;
 *   - the encoding is canonical: a record that decodes re-encodes to
 *     exactly the input bytes (so a decoder cannot accept two spellings
 *     of one value, nor drop or invent a field);
 *   - rec_object_decode_head agrees with the full decode;
 *   - a command that decodes re-encodes, with the encoder of its op, to the
 *     input bytes (except UPLOAD_COMPLETE carrying inline data or chunks,
 *     which its encoder never writes).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metadata/meta.h"
#include "metadata/meta_cmd.h"
#include "metadata/record.h"
#include "tests/fuzz/fuzz_check.h"

static void check_rc(int rc)
{
    FUZZ_CHECK(rc == 0 || rc == META_ECORRUPT || rc == -ENOMEM);
}

/* The writer's bytes must equal the input. */
static void check_same_bytes(struct rec_w *w, const uint8_t *data, size_t size)
{
    FUZZ_CHECK(rec_w_error(w) == 0);
    FUZZ_CHECK(rec_w_len(w) == size);
    FUZZ_CHECK(size == 0 || memcmp(rec_w_data(w), data, size) == 0);
    rec_w_release(w);
}

static void all_bytes_are(const void *p, size_t n, uint8_t v)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(b[i] == v);
}

#define POISON 0xa5

static void try_user(const uint8_t *data, size_t size)
{
    struct meta_user u;
    memset(&u, POISON, sizeof u);
    int rc = rec_user_decode(data, size, &u);
    check_rc(rc);
    if (rc) {
        all_bytes_are(&u, sizeof u, POISON);
        return;
    }
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_user_encode(&w, &u);
    check_same_bytes(&w, data, size);
}

static void try_bucket(const uint8_t *data, size_t size)
{
    struct meta_bucket b;
    memset(&b, POISON, sizeof b);
    int rc = rec_bucket_decode(data, size, &b);
    check_rc(rc);
    if (rc) {
        all_bytes_are(&b, sizeof b, POISON);
        return;
    }
    FUZZ_CHECK(b.versioning <= META_VERSIONING_SUSPENDED);
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_bucket_encode(&w, &b);
    check_same_bytes(&w, data, size);
}

static void try_chunk(const uint8_t *data, size_t size)
{
    struct meta_chunk c;
    memset(&c, POISON, sizeof c);
    int rc = rec_chunk_decode(data, size, &c);
    check_rc(rc);
    all_bytes_are(c.id, sizeof c.id, POISON); /* the id is the LMDB key */
    if (rc) {
        all_bytes_are(&c, sizeof c, POISON);
        return;
    }
    FUZZ_CHECK(c.placement_len <= META_PLACEMENT_MAX);
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_chunk_encode(&w, &c);
    check_same_bytes(&w, data, size);
}

static void try_object(const uint8_t *data, size_t size)
{
    struct meta_object o;
    struct rec_object_head h;
    memset(&o, POISON, sizeof o);
    memset(&h, POISON, sizeof h);
    int rc = rec_object_decode(data, size, &o);
    int hrc = rec_object_decode_head(data, size, &h);
    check_rc(rc);
    check_rc(hrc);
    if (hrc)
        all_bytes_are(&h, sizeof h, POISON);
    else
        FUZZ_CHECK(memchr(h.version_id, 0, sizeof h.version_id) && memchr(h.etag, 0, sizeof h.etag));
    if (rc) {
        all_bytes_are(&o, sizeof o, POISON);
        return;
    }
    FUZZ_CHECK(hrc == 0);
    FUZZ_CHECK(o.key == NULL);
    FUZZ_CHECK(strcmp(h.version_id, o.version_id) == 0 && strcmp(h.etag, o.etag) == 0);
    FUZZ_CHECK(h.flags == o.flags && h.mtime_ms == o.mtime_ms && h.size == o.size);
    FUZZ_CHECK(o.attrs_len <= META_ATTRS_MAX && (o.attrs_len == 0) == (o.attrs == NULL));
    FUZZ_CHECK(o.inline_len <= META_INLINE_MAX &&
               (o.inline_len == 0) == (o.inline_data == NULL));
    FUZZ_CHECK((o.nchunks == 0) == (o.chunks == NULL));
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_object_encode(&w, &o);
    check_same_bytes(&w, data, size);
    meta_object_release(&o);
}

static void try_upload(const uint8_t *data, size_t size)
{
    struct meta_upload u;
    memset(&u, POISON, sizeof u);
    int rc = rec_upload_decode(data, size, &u);
    check_rc(rc);
    if (rc) {
        all_bytes_are(&u, sizeof u, POISON);
        return;
    }
    FUZZ_CHECK(u.attrs_len <= META_ATTRS_MAX && (u.attrs_len == 0) == (u.attrs == NULL));
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_upload_encode(&w, &u);
    check_same_bytes(&w, data, size);
    FUZZ_CHECK(u.key == NULL);
    meta_upload_release(&u);
}

static void try_upload_ref(const uint8_t *data, size_t size)
{
    char bucket[META_NAME_MAX];
    char *key = malloc(META_KEY_MAX + 1);
    FUZZ_CHECK(key != NULL);
    int rc = rec_upload_ref_decode(data, size, bucket, key);
    check_rc(rc);
    if (rc == 0) {
        FUZZ_CHECK(memchr(bucket, 0, sizeof bucket) && memchr(key, 0, META_KEY_MAX + 1));
        struct rec_w w;
        rec_w_init(&w, REC_MAX);
        rec_upload_ref_encode(&w, bucket, key);
        check_same_bytes(&w, data, size);
    }
    free(key);
}

static void try_part(const uint8_t *data, size_t size)
{
    struct meta_part p;
    memset(&p, POISON, sizeof p);
    int rc = rec_part_decode(data, size, &p);
    check_rc(rc);
    if (rc) {
        all_bytes_are(&p, sizeof p, POISON);
        return;
    }
    FUZZ_CHECK(p.attrs_len <= META_ATTRS_MAX && (p.attrs_len == 0) == (p.attrs == NULL));
    FUZZ_CHECK((p.nchunks == 0) == (p.chunks == NULL));
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_part_encode(&w, &p);
    check_same_bytes(&w, data, size);
    meta_part_release(&p);
}

static void try_change(const uint8_t *data, size_t size)
{
    struct meta_change c;
    memset(&c, POISON, sizeof c);
    c.seq = 77;
    struct meta_change before = c;
    int rc = rec_change_decode(data, size, &c);
    check_rc(rc);
    if (rc) {
        FUZZ_CHECK(memcmp(&c, &before, sizeof c) == 0);
        return;
    }
    FUZZ_CHECK(c.seq == 77);
    FUZZ_CHECK(c.key != NULL && strlen(c.key) <= META_KEY_MAX);
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    rec_change_encode(&w, &c);
    check_same_bytes(&w, data, size);
    free(c.key);
}

/* Re-encode a decoded command with the encoder of its op. */
static void try_command(const uint8_t *data, size_t size)
{
    struct meta_cmd *c = (struct meta_cmd *)&c;
    struct meta_cmd *before = c;
    int rc = meta_cmd_decode(data, size, &c);
    check_rc(rc);
    if (rc) {
        FUZZ_CHECK(c == before);
        return;
    }
    FUZZ_CHECK(c != NULL);
    struct rec_w w;
    rec_w_init(&w, REC_MAX);
    int compare = 1;
    switch (c->op) {
    case META_CMD_USER_ADD:
        meta_cmd_user_add(&w, c->now_ms, &c->user);
        break;
    case META_CMD_USER_REMOVE:
        meta_cmd_user_remove(&w, c->now_ms, c->name);
        break;
    case META_CMD_BUCKET_CREATE:
        meta_cmd_bucket_create(&w, c->now_ms, &c->brec);
        break;
    case META_CMD_BUCKET_DELETE:
        meta_cmd_bucket_delete(&w, c->now_ms, c->bucket);
        break;
    case META_CMD_BUCKET_SET_VERSIONING:
        meta_cmd_bucket_set_versioning(&w, c->now_ms, c->bucket, c->versioning);
        break;
    case META_CMD_CHUNK_ADD:
        meta_cmd_chunk_add(&w, c->now_ms, &c->chunk);
        break;
    case META_CMD_CHUNK_SET_PLACEMENT:
        meta_cmd_chunk_set_placement(&w, c->now_ms, c->chunk_id, c->chunk.placement,
                                     c->chunk.placement_len);
        break;
    case META_CMD_CHUNK_REMOVE_UNUSED:
        meta_cmd_chunk_remove_unused(&w, c->now_ms, c->chunk_id, c->cutoff_ms);
        break;
    case META_CMD_OBJECT_PUT:
        FUZZ_CHECK(c->obj.key == c->key);
        meta_cmd_object_put(&w, c->now_ms, c->bucket, &c->obj, &c->pc);
        break;
    case META_CMD_OBJECT_DELETE:
        meta_cmd_object_delete(&w, c->now_ms, c->bucket, c->key,
                               c->has_version_id ? c->version_id : NULL,
                               c->has_marker ? c->marker_version_id : NULL, &c->pc);
        break;
    case META_CMD_UPLOAD_CREATE:
        FUZZ_CHECK(c->upload.key == c->key);
        meta_cmd_upload_create(&w, c->now_ms, c->bucket, &c->upload);
        break;
    case META_CMD_PART_PUT:
        meta_cmd_part_put(&w, c->now_ms, c->bucket, c->key, c->upload_id, &c->part);
        break;
    case META_CMD_UPLOAD_COMPLETE: {
        const char **etags = calloc(c->nparts ? c->nparts : 1, sizeof *etags);
        FUZZ_CHECK(etags != NULL);
        for (size_t i = 0; i < c->nparts; i++)
            etags[i] = c->part_etags[i];
        compare = c->obj.inline_len == 0 && c->obj.nchunks == 0;
        meta_cmd_upload_complete(&w, c->now_ms, c->bucket, c->key, c->upload_id, c->part_numbers,
                                 etags, c->nparts, &c->obj, &c->pc);
        free(etags);
        break;
    }
    case META_CMD_UPLOAD_ABORT:
        meta_cmd_upload_abort(&w, c->now_ms, c->bucket, c->key, c->upload_id);
        break;
    case META_CMD_BUCKET_SET_CONFIG:
        meta_cmd_bucket_set_config(&w, c->now_ms, c->bucket, c->config_name, c->blob, c->blob_len);
        break;
    case META_CMD_OBJECT_SET_ATTRS:
        meta_cmd_object_set_attrs(&w, c->now_ms, c->bucket, c->key,
                                  c->has_version_id ? c->version_id : NULL, c->expect,
                                  c->expect_len, c->blob, c->blob_len);
        break;
    default:
        FUZZ_CHECK(!"decoded a command with an unknown op");
    }
    if (compare)
        check_same_bytes(&w, data, size);
    else
        rec_w_release(&w);
    meta_cmd_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    /* exact-size copy: a read past the record is an ASan report */
    uint8_t *data = malloc(size ? size : 1);
    FUZZ_CHECK(data != NULL);
    if (size)
        memcpy(data, in, size);
    try_user(data, size);
    try_bucket(data, size);
    try_chunk(data, size);
    try_object(data, size);
    try_upload(data, size);
    try_upload_ref(data, size);
    try_part(data, size);
    try_change(data, size);
    try_command(data, size);
    free(data);
    return 0;
}
