/* Unit tests for sync-client/sync_remote and sync_transfer: the sync
 * client's calls and its delta transfers against the real gateway (started
 * in this process on a loopback port, over the real object layer and
 * metadata store, with in-memory shard stores). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "chunkstore/chunkstore.h"
#include "common/fastcdc.h"
#include "common/hash.h"
#include "gateway/gateway.h"
#include "gateway/objlayer.h"
#include "metadata/meta.h"
#include "sync-client/sync_remote.h"
#include "sync-client/sync_transfer.h"

#define KEY "remote-test-key"
#define SECRET "remote-test-secret"

struct fixture {
    char dir[64], endpoint[64];
    struct meta *meta;
    struct shard_store *stores[6];
    struct chunkstore *cs;
    struct objlayer *ol;
    struct gateway *gw;
    struct sync_remote r;
};

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static void fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        p[i] = (uint8_t)rng;
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-remote-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(meta_open(f->dir, &f->meta), 0);
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "mem%d", i);
        f->stores[i] = mem_store_new(name);
    }
    assert_int_equal(cs_open(f->stores, 6, 4, 2, &f->cs), 0);
    struct ol_config ocfg = {128 * 1024, 3600 * 1000};
    assert_int_equal(ol_open(f->meta, f->cs, &ocfg, &f->ol), 0);
    struct gateway_config g = {.listen_host = "127.0.0.1", .port = 0, .region = "us-east-1",
                               .root_access_key = KEY, .root_secret_key = SECRET};
    assert_int_equal(gateway_start(&g, f->ol, &f->gw), 0);
    snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%u", gateway_port(f->gw));
    f->r.http = (struct http_client){.endpoint = f->endpoint, .access_key = KEY,
                                     .secret_key = SECRET, .timeout_seconds = 30};
    f->r.bucket = "sync";
    f->r.prefix = "laptop/";
    struct http_response resp;
    assert_int_equal(http_request(&f->r.http, "PUT", "/sync", NULL, NULL, 0, NULL, &resp), 0);
    assert_int_equal(resp.status, 200);
    http_response_release(&resp);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    gateway_stop(f->gw, 1);
    ol_close(f->ol);
    cs_close(f->cs);
    meta_close(f->meta);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* n chunks of the given sizes, random bytes; ids filled in. */
static uint8_t *make_chunks(struct sync_chunk_ref *c, const uint32_t *lens, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += lens[i];
    uint8_t *data = malloc(total + 1), *p = data;
    fill(data, total);
    for (int i = 0; i < n; i++) {
        sha256(p, lens[i], c[i].id);
        c[i].len = lens[i];
        p += lens[i];
    }
    return data;
}

static void test_upload_commit_download(void **state)
{
    struct fixture *f = *state;
    struct sync_remote *r = &f->r;
    const uint32_t lens[3] = {300000, 1 << 20, 12345};
    struct sync_chunk_ref c[3];
    uint8_t *data = make_chunks(c, lens, 3), missing[3];
    uint64_t size = lens[0] + lens[1] + lens[2];
    int stored = -1;

    assert_int_equal(sync_remote_check(r), 0);
    assert_int_equal(sync_remote_missing(r, c, 3, missing), 0);
    assert_true(missing[0] && missing[1] && missing[2]);
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sync_remote_put_chunk(r, c[i].id, data + off, c[i].len, &stored), 0);
        assert_int_equal(stored, 1);
        off += c[i].len;
    }
    assert_int_equal(sync_remote_put_chunk(r, c[0].id, data, c[0].len, &stored), 0);
    assert_int_equal(stored, 0);
    assert_int_equal(sync_remote_missing(r, c, 3, missing), 0);
    assert_true(!missing[0] && !missing[1] && !missing[2]);

    /* a chunk whose bytes do not match its id */
    struct sync_chunk_ref wrong = c[2];
    wrong.id[0] ^= 1;
    assert_int_equal(sync_remote_put_chunk(r, wrong.id, data, 100, NULL), SYNC_ESERVER);
    assert_non_null(strstr(r->last_error, "BadDigest"));

    struct sync_remote_object o;
    assert_int_equal(sync_remote_commit(r, "docs/a b.txt", c, 3, size, &(struct sync_write){NULL, 1, 0, 0}, &o), 0);
    char want[SYNC_COMMIT_ETAG_LEN + 3], bare[SYNC_COMMIT_ETAG_LEN + 1];
    sync_commit_etag(c, 3, bare);
    snprintf(want, sizeof want, "\"%s\"", bare);
    assert_string_equal(o.etag, want);
    assert_string_equal(o.version_id, "null");
    assert_int_equal(o.size, size);

    struct sync_remote_object got;
    struct sync_chunk_list l;
    assert_int_equal(sync_remote_chunk_list(r, "docs/a b.txt", &got, &l), 0);
    assert_string_equal(got.etag, want);
    assert_int_equal(got.size, size);
    assert_false(got.is_inline);
    assert_int_equal(l.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(l.chunks[i].id, c[i].id, SYNC_ID_LEN);
        assert_int_equal(l.chunks[i].len, c[i].len);
    }
    sync_chunk_list_release(&l);

    /* delta download: the middle chunk alone, pinned to the version */
    uint8_t *buf = malloc(lens[1]);
    assert_int_equal(sync_remote_get_range(r, "docs/a b.txt", want, lens[0], lens[1], buf), 0);
    assert_memory_equal(buf, data + lens[0], lens[1]);
    assert_int_equal(sync_remote_get_range(r, "docs/a b.txt", "\"0000-1\"", 0, 10, buf),
                     SYNC_ECONFLICT);
    free(buf);

    /* preconditions: create-only and the version last seen */
    assert_int_equal(sync_remote_commit(r, "docs/a b.txt", c, 1, lens[0], &(struct sync_write){NULL, 1, 0, 0}, NULL),
                     SYNC_ECONFLICT);
    struct sync_remote_object o2;
    assert_int_equal(sync_remote_commit(r, "docs/a b.txt", c, 1, lens[0], &(struct sync_write){want, 0, 0, 0}, &o2), 0);
    assert_int_equal(sync_remote_commit(r, "docs/a b.txt", c, 2, lens[0] + lens[1], &(struct sync_write){want, 0, 0, 0}, NULL),
                     SYNC_ECONFLICT); /* someone else's edit came first */
    /* a chunk the server never got */
    assert_int_equal(sync_remote_commit(r, "docs/other", &wrong, 1, wrong.len, &(struct sync_write){NULL, 0, 0, 0}, NULL),
                     SYNC_EMISSING);
    assert_int_equal(sync_remote_chunk_list(r, "docs/nope", &got, &l), SYNC_ENOTFOUND);
    assert_int_equal(sync_remote_commit(r, "x", c, 1, lens[0], &(struct sync_write){want, 1, 0, 0}, NULL), SYNC_EINVAL);
    free(data);
}

static void test_inline_object(void **state)
{
    struct fixture *f = *state;
    struct http_response resp;
    assert_int_equal(http_request(&f->r.http, "PUT", "/sync/laptop/small", NULL, "hello", 5, NULL,
                                  &resp), 0);
    assert_int_equal(resp.status, 200);
    http_response_release(&resp);
    struct sync_remote_object o;
    struct sync_chunk_list l;
    assert_int_equal(sync_remote_chunk_list(&f->r, "small", &o, &l), 0);
    assert_true(o.is_inline);
    assert_int_equal(o.size, 5);
    assert_int_equal(l.n, 0);
    sync_chunk_list_release(&l);
    char buf[5];
    assert_int_equal(sync_remote_get_range(&f->r, "small", o.etag, 1, 3, buf), 0);
    assert_memory_equal(buf, "ell", 3);
}

static void test_changes(void **state)
{
    struct fixture *f = *state;
    struct sync_remote *r = &f->r;
    struct sync_remote_change *ch = NULL;
    size_t n = 99;
    int more = -1;
    uint64_t cursor = SYNC_REMOTE_LATEST;
    assert_int_equal(sync_remote_changes(r, &cursor, 0, &ch, &n, &more), 0);
    assert_int_equal(n, 0);
    assert_int_equal(cursor, 0); /* an empty feed */
    sync_remote_changes_free(ch, n);

    const uint32_t lens[1] = {200000};
    struct sync_chunk_ref c[1];
    uint8_t *data = make_chunks(c, lens, 1);
    assert_int_equal(sync_remote_put_chunk(r, c[0].id, data, lens[0], NULL), 0);
    assert_int_equal(sync_remote_commit(r, "notes.md", c, 1, lens[0], &(struct sync_write){NULL, 0, 0, 0}, NULL), 0);
    /* outside the prefix: not reported, but the cursor moves past it */
    struct http_response resp;
    assert_int_equal(http_request(&r->http, "PUT", "/sync/phone/x", NULL, "x", 1, NULL, &resp), 0);
    http_response_release(&resp);
    assert_int_equal(sync_remote_changes(r, &cursor, 0, &ch, &n, &more), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ch[0].key, "notes.md");
    assert_false(ch[0].is_delete);
    assert_int_equal(ch[0].size, lens[0]);
    assert_int_equal(ch[0].seq, 1);
    assert_int_equal(cursor, 2);
    assert_int_equal(more, 0);
    sync_remote_changes_free(ch, n);
    /* nothing new: a short long-poll comes back empty */
    assert_int_equal(sync_remote_changes(r, &cursor, 1, &ch, &n, &more), 0);
    assert_int_equal(n, 0);
    assert_int_equal(cursor, 2);
    sync_remote_changes_free(ch, n);
    assert_int_equal(sync_remote_changes(r, &cursor, 61, &ch, &n, &more), SYNC_EINVAL);
    free(data);
}

static void test_failures(void **state)
{
    struct fixture *f = *state;
    struct sync_remote bad = f->r;
    bad.http.secret_key = "not-the-secret";
    assert_int_equal(sync_remote_check(&bad), SYNC_EAUTH);
    assert_non_null(strstr(bad.last_error, "SignatureDoesNotMatch"));
    struct sync_remote other = f->r;
    other.bucket = "no-such-bucket";
    uint8_t m;
    struct sync_chunk_ref c = {{0}, 1};
    assert_int_equal(sync_remote_missing(&other, &c, 1, &m), SYNC_ESERVER);
    assert_non_null(strstr(other.last_error, "NoSuchBucket"));
    struct sync_remote off = f->r;
    off.http.endpoint = "http://127.0.0.1:1"; /* nothing listens there */
    assert_int_equal(sync_remote_check(&off), SYNC_EOFFLINE);
}

static void put_small(struct sync_remote *r, const char *encoded_key)
{
    struct http_response resp;
    char path[512];
    snprintf(path, sizeof path, "/%s/%s", r->bucket, encoded_key);
    assert_int_equal(http_request(&r->http, "PUT", path, NULL, "x", 1, NULL, &resp), 0);
    assert_int_equal(resp.status, 200);
    http_response_release(&resp);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_list(void **state)
{
    struct fixture *f = *state;
    struct sync_remote *r = &f->r;
    enum { N = 1100 };
    char *want[N + 3];
    int nw = 0;
    for (int i = 0; i < N; i++) {
        char k[64];
        snprintf(k, sizeof k, "laptop/f%04d", i);
        put_small(r, k);
        want[nw++] = strdup(k + 7);
    }
    put_small(r, "laptop/a%20b%2Bc");           /* "a b+c" */
    want[nw++] = strdup("a b+c");
    put_small(r, "laptop/d%C3%A9j%C3%A0/x.txt"); /* "déjà/x.txt" */
    want[nw++] = strdup("d\xc3\xa9j\xc3\xa0/x.txt");
    put_small(r, "phone/not-mine");
    qsort(want, (size_t)nw, sizeof want[0], entry_cmp);

    char token[SYNC_REMOTE_TOKEN_MAX + 1] = "";
    int seen = 0, pages = 0;
    do {
        struct sync_remote_entry *e = NULL;
        size_t n = 0;
        assert_int_equal(sync_remote_list(r, token, &e, &n), 0);
        pages++;
        for (size_t i = 0; i < n; i++, seen++) {
            assert_true(seen < nw);
            assert_string_equal(e[i].key, want[seen]); /* byte order, prefix stripped */
            assert_int_equal(e[i].size, 1);
            assert_int_equal(e[i].etag[0], '"');
        }
        sync_remote_entries_free(e, n);
    } while (token[0] && pages < 10);
    assert_int_equal(seen, nw);
    assert_int_equal(pages, 2);
    for (int i = 0; i < nw; i++)
        free(want[i]);
}

/* ---- transfers ---- */

static void write_file(const char *dir, const char *name, const uint8_t *data, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static uint8_t *read_file(const char *dir, const char *name, size_t *n)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(stat(p, &st), 0);
    uint8_t *d = malloc((size_t)st.st_size + 1);
    FILE *fp = fopen(p, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(d, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
    fclose(fp);
    *n = (size_t)st.st_size;
    return d;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.' || strncmp(de->d_name, ".cairn-sync-tmp", 15) == 0;
    closedir(d);
    return n;
}

#define BIG (20u << 20)

static void test_delta_transfers(void **state)
{
    struct fixture *f = *state;
    struct sync_remote *r = &f->r;
    char a[96], b[96];
    snprintf(a, sizeof a, "%s/folder-a", f->dir);
    snprintf(b, sizeof b, "%s/folder-b", f->dir);
    assert_int_equal(mkdir(a, 0755), 0);
    assert_int_equal(mkdir(b, 0755), 0);
    uint8_t *big = malloc(BIG);
    fill(big, BIG);
    write_file(a, "big.bin", big, BIG);

    /* first upload: everything goes */
    struct sync_upload_result up;
    assert_int_equal(sync_file_upload(r, a, "big.bin", &(struct sync_write){NULL, 1, 0, 0}, &up), 0);
    assert_int_equal(up.bytes_sent, BIG);
    assert_int_equal(up.chunks_sent, up.nchunks);
    assert_true(up.nchunks >= 5);
    assert_int_equal(up.st.size, BIG);

    /* first download into the other folder: everything comes */
    struct sync_download_result down;
    assert_int_equal(sync_file_download(r, b, "big.bin", NULL, 0, NULL, &down), 0);
    assert_int_equal(down.bytes_fetched, BIG);
    assert_int_equal(down.bytes_reused, 0);
    assert_string_equal(down.obj.etag, up.obj.etag);
    size_t n;
    uint8_t *got = read_file(b, "big.bin", &n);
    assert_int_equal(n, BIG);
    assert_memory_equal(got, big, BIG);
    free(got);

    /* one byte edited in the middle: one or two chunks go up */
    big[BIG / 2] ^= 0xff;
    write_file(a, "big.bin", big, BIG);
    struct sync_upload_result up2;
    assert_int_equal(sync_file_upload(r, a, "big.bin", &(struct sync_write){up.obj.etag, 0, 0, 0}, &up2), 0);
    print_message("one-byte edit of 20 MiB: %u chunks, %llu bytes sent\n", up2.chunks_sent,
                  (unsigned long long)up2.bytes_sent);
    assert_true(up2.chunks_sent >= 1 && up2.chunks_sent <= 2);
    assert_true(up2.bytes_sent > 0 && up2.bytes_sent <= 2 * CDC_MAX);
    /* a second writer still holding the old version is refused */
    assert_int_equal(sync_file_upload(r, a, "big.bin", &(struct sync_write){up.obj.etag, 0, 0, 0}, &up), SYNC_ECONFLICT);

    /* the other side fetches only what changed, reusing its own chunks */
    struct sync_download_result down2;
    assert_int_equal(sync_file_download(r, b, "big.bin", down.chunks, down.nchunks, &down.st,
                                        &down2), 0);
    print_message("download of the edit: %llu bytes fetched, %llu reused\n",
                  (unsigned long long)down2.bytes_fetched, (unsigned long long)down2.bytes_reused);
    assert_int_equal(down2.bytes_fetched + down2.bytes_reused, BIG);
    assert_true(down2.bytes_fetched <= 2 * CDC_MAX);
    got = read_file(b, "big.bin", &n);
    assert_memory_equal(got, big, BIG);
    free(got);

    /* a local edit in between is never overwritten */
    write_file(b, "big.bin", (const uint8_t *)"local edit", 10);
    assert_int_equal(sync_file_download(r, b, "big.bin", down2.chunks, down2.nchunks, &down2.st,
                                        &down), SYNC_ECONFLICT);
    got = read_file(b, "big.bin", &n);
    assert_int_equal(n, 10);
    assert_memory_equal(got, "local edit", 10);
    free(got);
    assert_int_equal(count_entries(b), 1); /* no temporary left behind */

    /* the same bytes under another name (a copy, a rename): nothing sent */
    write_file(a, "copy.bin", big, BIG);
    struct sync_upload_result cp;
    assert_int_equal(sync_file_upload(r, a, "copy.bin", &(struct sync_write){NULL, 1, 0, 0}, &cp), 0);
    assert_int_equal(cp.bytes_sent, 0);
    assert_string_equal(cp.obj.etag, up2.obj.etag);

    /* nested folders are made; empty and small files go both ways */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/d", a);
    assert_int_equal(mkdir(sub, 0755), 0);
    write_file(a, "d/empty", (const uint8_t *)"", 0);
    struct sync_upload_result e;
    assert_int_equal(sync_file_upload(r, a, "d/empty", &(struct sync_write){NULL, 1, 0, 0}, &e), 0);
    assert_int_equal(e.nchunks, 0);
    struct sync_download_result de;
    assert_int_equal(sync_file_download(r, b, "d/empty", NULL, 0, NULL, &de), 0);
    got = read_file(b, "d/empty", &n);
    assert_int_equal(n, 0);
    free(got);

    /* a symlink is not followed */
    char link[160];
    snprintf(link, sizeof link, "%s/link", a);
    assert_int_equal(symlink("big.bin", link), 0);
    struct sync_upload_result lk;
    assert_int_equal(sync_file_upload(r, a, "link", &(struct sync_write){NULL, 1, 0, 0}, &lk), -ELOOP);

    free(up.chunks);
    free(up2.chunks);
    free(down.chunks);
    free(down2.chunks);
    free(cp.chunks);
    free(e.chunks);
    free(de.chunks);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upload_commit_download, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delta_transfers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
