/*
 * tests/fuzz/fuzz_sync_proto.c - the sync protocol's JSON messages
 * (common/sync_proto.h), on whatever a client or server sends.
 *
 * The whole input goes to sync_ids_parse (both field names), to
 * sync_chunk_list_parse with tight limits, and its first 64 bytes (as a
 * string) to sync_id_parse.  Properties: the result is 0, -EINVAL (with a
 * reason) or -ENOMEM; outputs are untouched on failure; on success the
 * limits hold (count <= max, every length in 1..chunk_max, lengths add up
 * to size <= max_size), every id formats back to 64 lower-case hex digits
 * that parse to the same bytes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sync_proto.h"
#include "tests/fuzz/fuzz_check.h"

static void check_id_round_trip(const uint8_t id[SYNC_ID_LEN])
{
    char hex[2 * SYNC_ID_LEN + 1];
    uint8_t back[SYNC_ID_LEN];
    sync_id_format(id, hex);
    FUZZ_CHECK(strlen(hex) == 2 * SYNC_ID_LEN);
    FUZZ_CHECK(sync_id_parse(hex, back) == 0);
    FUZZ_CHECK(memcmp(back, id, SYNC_ID_LEN) == 0);
}

static void fuzz_ids(const char *in, size_t len, const char *field)
{
    uint8_t (*ids)[SYNC_ID_LEN] = (void *)1;
    size_t n = 12345;
    const char *why = NULL;
    int rc = sync_ids_parse(in, len, field, 8, &ids, &n, &why);
    if (rc) {
        FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
        FUZZ_CHECK(rc != -EINVAL || why != NULL);
        FUZZ_CHECK(ids == (void *)1 && n == 12345);
        return;
    }
    FUZZ_CHECK(ids != NULL && n <= 8);
    for (size_t i = 0; i < n; i++)
        check_id_round_trip(ids[i]);
    free(ids);
}

static void fuzz_chunk_list(const char *in, size_t len)
{
    struct sync_chunk_list l;
    const char *why = NULL;
    memset(&l, 0x77, sizeof l);
    int rc = sync_chunk_list_parse(in, len, 16, 4096, 65536, &l, &why);
    if (rc) {
        FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
        FUZZ_CHECK(rc != -EINVAL || why != NULL);
        FUZZ_CHECK(l.n == 0x77777777u && l.size == 0x7777777777777777ull);
        return;
    }
    uint64_t sum = 0;
    FUZZ_CHECK(l.chunks != NULL && l.n <= 16 && l.size <= 65536);
    for (uint32_t i = 0; i < l.n; i++) {
        FUZZ_CHECK(l.chunks[i].len >= 1 && l.chunks[i].len <= 4096);
        sum += l.chunks[i].len;
        check_id_round_trip(l.chunks[i].id);
    }
    FUZZ_CHECK(sum == l.size);
    sync_chunk_list_release(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy exactly size bytes long, so reading past it is caught */
    char *in = malloc(size ? size : 1);
    FUZZ_CHECK(in != NULL);
    memcpy(in, data, size);
    fuzz_ids(in, size, "chunks");
    fuzz_ids(in, size, "missing");
    fuzz_chunk_list(in, size);

    char id[65];
    size_t n = size < 64 ? size : 64;
    memcpy(id, data, n);
    id[n] = 0;
    uint8_t out[SYNC_ID_LEN];
    if (sync_id_parse(id, out) == 0) {
        char back[65];
        sync_id_format(out, back);
        FUZZ_CHECK(strcmp(back, id) == 0); /* the wire form is canonical */
    }
    free(in);
    return 0;
}
