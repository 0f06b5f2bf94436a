/*
 * sync-client/sync_transfer.c - see sync_transfer.h.
 *
 * Every chunk that crosses a boundary is checked against its id: a chunk
 * read back from a local file for upload (the file may have changed since
 * it was cut), a chunk reused from the old local file, and a chunk fetched
 * from the server.  So a wrong byte never reaches the server or the
 * folder, whatever happened in between.
 */
#include "sync-client/sync_transfer.h"
#include "sync-client/sync_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fastcdc.h"
#include "common/hash.h"

#define READ_BLOCK (1u << 20)

/* ---- local files ------------------------------------------------------- */

static int full_path(const char *root, const char *path, struct buf *out)
{
    buf_init(out, 4096 + SYNC_PATH_MAX);
    return buf_printf(out, "%s/%s", root, path) == 0 ? 0 : SYNC_ETOOLONG;
}

static int same_content_stat(const struct sync_stat *a, const struct sync_stat *b)
{
    return a->kind == b->kind && a->size == b->size && a->mtime_ns == b->mtime_ns &&
           a->inode == b->inode;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return SYNC_EBUSY; /* shorter than it was */
        done += (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const uint8_t *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        done += (size_t)n;
    }
    return 0;
}

/* Open root/path for reading without following a symlink; *st its stat. */
static int open_file(const char *root, const char *path, struct sync_stat *st)
{
    struct buf p;
    struct stat s;
    int rc = full_path(root, path, &p);
    int fd = rc ? rc : open(p.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    buf_release(&p);
    if (rc)
        return rc;
    if (fd < 0)
        return -errno;
    if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode)) {
        rc = S_ISREG(s.st_mode) ? -errno : SYNC_EINVAL;
        close(fd);
        return rc;
    }
    sync_stat_of(&s, st);
    return fd;
}

/* ---- chunking ------------------------------------------------------------ */

struct chunk_acc {
    struct sync_chunk_ref *v;
    uint32_t n, cap;
};

static int on_chunk(void *arg, const uint8_t *data, size_t len)
{
    struct chunk_acc *a = arg;
    if (a->n == SYNC_CHUNKS_MAX)
        return SYNC_ETOOLONG;
    if (a->n == a->cap) {
        uint32_t cap = a->cap ? 2 * a->cap : 64;
        void *p = realloc(a->v, cap * sizeof *a->v);
        if (!p)
            return -ENOMEM;
        a->v = p;
        a->cap = cap;
    }
    sha256(data, len, a->v[a->n].id);
    a->v[a->n].len = (uint32_t)len;
    a->n++;
    return 0;
}

/* The chunk list of data[0..len) into l (replacing its array). */
static int chunk_buffer(const uint8_t *data, size_t len, struct sync_chunk_list *l)
{
    struct cdc_params params;
    struct cdc_stream cdc;
    struct chunk_acc acc = {0};
    cdc_params_default(&params);
    cdc_stream_init(&cdc, &params);
    int rc = cdc_stream_feed(&cdc, data, len, on_chunk, &acc);
    if (rc == 0)
        rc = cdc_stream_finish(&cdc, on_chunk, &acc);
    cdc_stream_release(&cdc);
    if (rc == 0 && acc.n) {
        free(l->chunks);
        l->chunks = acc.v;
        l->n = acc.n;
        acc.v = NULL;
    }
    free(acc.v);
    return rc;
}

int sync_file_chunk(const char *root, const char *path, struct sync_stat *st,
                    struct sync_chunk_ref **chunks, uint32_t *n, uint8_t md5_out[16])
{
    struct cksum whole;
    struct sync_stat before, after;
    struct cdc_params params;
    struct cdc_stream cdc;
    struct chunk_acc acc = {0};
    uint8_t *block = NULL;
    uint64_t total = 0;
    struct stat s;
    int rc = 0;

    int fd = open_file(root, path, &before);
    if (fd < 0)
        return fd;
    cdc_params_default(&params);
    cdc_stream_init(&cdc, &params);
    if (md5_out && cksum_init(&whole, CKSUM_MD5) != 0)
        md5_out = NULL, rc = -ENOMEM;
    if (rc || !(block = malloc(READ_BLOCK))) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t got = read(fd, block, READ_BLOCK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            goto out;
        }
        if (got == 0)
            break;
        total += (uint64_t)got;
        if (md5_out)
            cksum_update(&whole, block, (size_t)got);
        if ((rc = cdc_stream_feed(&cdc, block, (size_t)got, on_chunk, &acc)) != 0)
            goto out;
    }
    if ((rc = cdc_stream_finish(&cdc, on_chunk, &acc)) != 0)
        goto out;
    if (fstat(fd, &s) != 0) {
        rc = -errno;
        goto out;
    }
    sync_stat_of(&s, &after);
    if (!same_content_stat(&before, &after) || total != after.size) {
        rc = SYNC_EBUSY;
        goto out;
    }
    if (!acc.v && !(acc.v = malloc(sizeof *acc.v))) { /* an empty file: no chunks */
        rc = -ENOMEM;
        goto out;
    }
    *chunks = acc.v;
    *n = acc.n;
    acc.v = NULL;
    if (st)
        *st = after;
    if (md5_out) {
        uint8_t digest[CKSUM_MAX_LEN];
        cksum_final(&whole, digest);
        memcpy(md5_out, digest, 16);
    }
out:
    if (md5_out)
        cksum_release(&whole);
    cdc_stream_release(&cdc);
    free(block);
    free(acc.v);
    close(fd);
    return rc;
}

/* ---- upload -------------------------------------------------------------- */

/* Index i of a chunk list, sortable by id (ties: file order). */
struct id_at {
    const uint8_t *id;
    uint32_t at;
};

static int id_at_cmp(const void *a, const void *b)
{
    const struct id_at *x = a, *y = b;
    int c = memcmp(x->id, y->id, SYNC_ID_LEN);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* Clear want[i] of every chunk that repeats an earlier one of c, so a
 * chunk that occurs several times in a file is sent once. */
static int drop_repeats(const struct sync_chunk_ref *c, uint32_t n, uint8_t *want)
{
    struct id_at *v = malloc(((size_t)n + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        v[i] = (struct id_at){c[i].id, i};
    qsort(v, n, sizeof *v, id_at_cmp);
    for (uint32_t i = 1; i < n; i++)
        if (memcmp(v[i].id, v[i - 1].id, SYNC_ID_LEN) == 0)
            want[v[i].at] = 0;
    free(v);
    return 0;
}

/* The chunk uploads of one file, shared by its sender threads: each takes
 * the next missing chunk, reads it back, checks it against its id and
 * sends it on a connection of its own. */
struct senders {
    const struct sync_remote *r;
    int fd;
    const struct sync_chunk_ref *c;
    const uint64_t *off;      /* offset of each chunk */
    const uint8_t *missing;
    uint32_t n;
    pthread_mutex_t mu;       /* guards the fields below */
    uint32_t next;
    int rc;                   /* the first failure stops every sender */
    char last_error[sizeof ((struct sync_remote *)0)->last_error];
    uint64_t bytes;
    uint32_t chunks;
};

static void *sender_main(void *arg)
{
    struct senders *s = arg;
    struct sync_remote r = *s->r; /* last_error is per sender */
    uint8_t *buf = malloc(CDC_MAX), id[SYNC_ID_LEN];
    int rc = buf ? 0 : -ENOMEM;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->next < s->n && !s->missing[s->next])
            s->next++;
        uint32_t i = s->next++;
        int stop = s->rc != 0 || i >= s->n || rc != 0;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        r.last_error[0] = 0;
        rc = pread_full(s->fd, buf, s->c[i].len, s->off[i]);
        if (rc == 0) {
            sha256(buf, s->c[i].len, id);
            if (memcmp(id, s->c[i].id, SYNC_ID_LEN) != 0)
                rc = SYNC_EBUSY; /* the file changed since it was cut */
        }
        if (rc == 0)
            rc = sync_remote_put_chunk(&r, s->c[i].id, buf, s->c[i].len, NULL);
        pthread_mutex_lock(&s->mu);
        if (rc == 0) {
            s->bytes += s->c[i].len;
            s->chunks++;
        }
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_lock(&s->mu);
    if (rc && !s->rc) {
        s->rc = rc;
        memcpy(s->last_error, r.last_error, sizeof s->last_error);
    }
    pthread_mutex_unlock(&s->mu);
    free(buf);
    return NULL;
}

/* Upload the chunks of fd the server lacks (each id once), re-reading and
 * re-hashing each, SYNC_UPLOAD_SENDERS at a time.  Adds to the counters. */
static int upload_missing(struct sync_remote *r, int fd, const struct sync_chunk_ref *c,
                          uint32_t n, struct sync_upload_result *res)
{
    uint8_t *missing = calloc((size_t)n + 1, 1);
    uint64_t *off = malloc(((size_t)n + 1) * sizeof *off);
    uint32_t want = 0;
    int rc = missing && off ? sync_remote_missing(r, c, n, missing) : -ENOMEM;
    if (rc == 0)
        rc = drop_repeats(c, n, missing);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        off[i] = i ? off[i - 1] + c[i - 1].len : 0;
        want += missing[i];
    }
    if (rc == 0 && want) {
        struct senders s = {.r = r, .fd = fd, .c = c, .off = off, .missing = missing, .n = n};
        pthread_t t[SYNC_UPLOAD_SENDERS];
        int started = 0;
        pthread_mutex_init(&s.mu, NULL);
        while (started < SYNC_UPLOAD_SENDERS && (uint32_t)started < want &&
               pthread_create(&t[started], NULL, sender_main, &s) == 0)
            started++;
        if (started == 0)
            sender_main(&s); /* no thread to spare: send them here */
        for (int k = 0; k < started; k++)
            pthread_join(t[k], NULL);
        pthread_mutex_destroy(&s.mu);
        rc = s.rc;
        if (rc)
            memcpy(r->last_error, s.last_error, sizeof r->last_error);
        res->bytes_sent += s.bytes;
        res->chunks_sent += s.chunks;
    }
    free(missing);
    free(off);
    return rc;
}

/* A small file goes up whole with PutObject: stored inline by the
 * server, one request. */
static int upload_whole(struct sync_remote *r, const char *path, int fd,
                        const struct sync_write *w, struct sync_upload_result *res)
{
    uint8_t *data = malloc(res->st.size + 1), id[SYNC_ID_LEN];
    int rc = data ? pread_full(fd, data, res->st.size, 0) : -ENOMEM;
    if (rc == 0 && res->nchunks) { /* one chunk: the bytes must still be those cut */
        sha256(data, res->st.size, id);
        if (memcmp(id, res->chunks[0].id, SYNC_ID_LEN) != 0)
            rc = SYNC_EBUSY;
    }
    if (rc == 0)
        rc = sync_remote_put(r, path, data, res->st.size, w, &res->obj);
    if (rc == 0)
        res->bytes_sent += res->st.size;
    free(data);
    return rc;
}

int sync_file_upload(struct sync_remote *r, const char *root, const char *path,
                     const struct sync_write *pre, struct sync_upload_result *res)
{
    struct sync_upload_result out = {0};
    struct sync_stat again;
    int rc = sync_file_chunk(root, path, &out.st, &out.chunks, &out.nchunks, NULL);
    if (rc)
        return rc;
    int fd = open_file(root, path, &again);
    if (fd < 0) {
        free(out.chunks);
        return fd;
    }
    struct sync_write w = {pre ? pre->if_match : NULL, pre ? pre->if_absent : 0, SYNC_KIND_FILE,
                           out.st.mode};
    rc = same_content_stat(&again, &out.st) ? 0 : SYNC_EBUSY;
    if (rc == 0 && out.st.size < r->inline_max && out.nchunks <= 1) {
        rc = upload_whole(r, path, fd, &w, &out);
        goto done;
    }
    /* A commit can still find a chunk gone (collected between the question
     * and the commit): ask again once. */
    for (int round = 0; rc == 0 && round < 2; round++) {
        rc = upload_missing(r, fd, out.chunks, out.nchunks, &out);
        if (rc == 0)
            rc = sync_remote_commit(r, path, out.chunks, out.nchunks, out.st.size, &w, &out.obj);
        if (rc != SYNC_EMISSING)
            break;
        if (round == 0)
            rc = 0;
    }
done:
    close(fd);
    if (rc) {
        free(out.chunks);
        return rc;
    }
    *res = out;
    return 0;
}

int sync_link_upload(struct sync_remote *r, const char *root, const char *path,
                     const struct sync_write *pre, struct sync_upload_result *res)
{
    struct sync_upload_result out = {0};
    struct stat s1, s2;
    struct buf p;
    char target[SYNC_LINK_MAX + 1];
    int rc = full_path(root, path, &p);
    ssize_t n = -1;
    if (rc == 0 && lstat(p.data, &s1) != 0)
        rc = -errno;
    if (rc == 0 && !S_ISLNK(s1.st_mode))
        rc = SYNC_EBUSY; /* no longer a link */
    if (rc == 0 && (n = readlink(p.data, target, sizeof target)) < 0)
        rc = -errno;
    if (rc == 0 && (size_t)n > SYNC_LINK_MAX)
        rc = SYNC_ETOOLONG;
    if (rc == 0 && (lstat(p.data, &s2) != 0 || s2.st_mtim.tv_nsec != s1.st_mtim.tv_nsec ||
                    s2.st_ino != s1.st_ino || (size_t)s2.st_size != (size_t)n))
        rc = SYNC_EBUSY;
    buf_release(&p);
    if (rc == 0 && !(out.chunks = malloc(sizeof *out.chunks)))
        rc = -ENOMEM;
    if (rc == 0) {
        struct sync_write w = {pre ? pre->if_match : NULL, pre ? pre->if_absent : 0,
                               SYNC_KIND_SYMLINK, 0};
        sync_stat_of(&s1, &out.st);
        sha256(target, (size_t)n, out.chunks[0].id);
        out.chunks[0].len = (uint32_t)n;
        out.nchunks = n > 0;
        rc = sync_remote_put(r, path, target, (size_t)n, &w, &out.obj);
        out.bytes_sent = (uint64_t)n;
    }
    if (rc) {
        free(out.chunks);
        return rc;
    }
    *res = out;
    return 0;
}

/* ---- download ------------------------------------------------------------ */

struct old_chunk {
    uint8_t id[SYNC_ID_LEN];
    uint32_t len;
    uint64_t off;
};

static int old_cmp(const void *a, const void *b)
{
    return memcmp(a, b, SYNC_ID_LEN);
}

/* mkdir -p of the folders above path, inside root. */
static int make_parents(const char *root, const char *path)
{
    struct buf p;
    int rc = full_path(root, path, &p);
    for (size_t i = strlen(root) + 1; rc == 0 && i < p.len; i++) {
        if (p.data[i] != '/')
            continue;
        p.data[i] = 0;
        if (mkdir(p.data, 0755) != 0 && errno != EEXIST)
            rc = -errno;
        p.data[i] = '/';
    }
    buf_release(&p);
    return rc;
}

/* A temporary name beside root/path: ".cairn-sync-tmp-<random>" in the
 * same folder (so the rename stays in one file system). */
static int temp_name(const char *root, const char *path, struct buf *tmp)
{
    uint64_t rnd = 0;
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) : 0;
    buf_init(tmp, 4096 + SYNC_PATH_MAX);
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd = (uint64_t)getpid() * 2654435761u;
    if (buf_printf(tmp, "%s/%.*s%s.cairn-sync-tmp-%016llx", root, dir_len, path,
                   slash ? "/" : "", (unsigned long long)rnd) != 0)
        return SYNC_ETOOLONG;
    return 0;
}

static int open_temp(const char *root, const char *path, struct buf *tmp)
{
    int rc = temp_name(root, path, tmp);
    if (rc)
        return rc;
    int fd = open(tmp->data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

static int fsync_parent(const char *root, const char *path)
{
    struct buf p;
    int rc = full_path(root, path, &p);
    if (rc)
        return rc;
    char *slash = strrchr(p.data, '/');
    *slash = 0;
    int fd = open(p.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rc = fd < 0 || fsync(fd) != 0 ? -errno : 0;
    if (fd >= 0)
        close(fd);
    buf_release(&p);
    return rc;
}

/* Write the new version into fd: reused chunks from oldfd (checked),
 * the rest fetched from the server (checked). */
static int write_chunks(struct sync_remote *r, const char *path, int fd, int oldfd,
                        const struct old_chunk *old, uint32_t nold, const struct sync_chunk_list *l,
                        struct sync_download_result *res)
{
    uint8_t *buf = malloc(CDC_MAX), id[SYNC_ID_LEN];
    uint64_t off = 0;
    int rc = buf ? 0 : -ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < l->n; off += l->chunks[i].len, i++) {
        const struct sync_chunk_ref *c = &l->chunks[i];
        const struct old_chunk *o = oldfd >= 0 && nold
                                        ? bsearch(c->id, old, nold, sizeof *old, old_cmp) : NULL;
        int reused = 0;
        if (c->len > CDC_MAX) {
            rc = SYNC_EPROTO;
            break;
        }
        if (o && o->len == c->len && pread_full(oldfd, buf, c->len, o->off) == 0) {
            sha256(buf, c->len, id);
            reused = memcmp(id, c->id, SYNC_ID_LEN) == 0;
        }
        if (!reused) {
            rc = sync_remote_get_range(r, path, res->obj.etag, off, c->len, buf);
            if (rc)
                break;
            sha256(buf, c->len, id);
            if (memcmp(id, c->id, SYNC_ID_LEN) != 0) {
                snprintf(r->last_error, sizeof r->last_error,
                         "a fetched chunk does not match its id");
                rc = SYNC_EPROTO;
                break;
            }
        }
        rc = write_full(fd, buf, c->len);
        if (reused)
            res->bytes_reused += c->len;
        else
            res->bytes_fetched += c->len;
    }
    free(buf);
    return rc;
}

/* The last look before a rename into place: the local file is still what
 * the caller saw (expect_st; NULL: no check), else SYNC_ECONFLICT: a local
 * edit since then is never overwritten. */
static int still_expected(const char *root, const char *path, const struct sync_stat *expect_st)
{
    struct buf target;
    struct stat s;
    struct sync_stat cur = {0};
    if (!expect_st)
        return 0;
    int here = full_path(root, path, &target) == 0 && lstat(target.data, &s) == 0;
    buf_release(&target);
    if (here)
        sync_stat_of(&s, &cur);
    if (expect_st->kind == SYNC_KIND_NONE ? here : !here || !same_content_stat(&cur, expect_st))
        return SYNC_ECONFLICT;
    return 0;
}

/* A symlink: its target is the object's bytes; made under a temporary
 * name beside path, then renamed over it. */
static int download_link(struct sync_remote *r, const char *root, const char *path,
                         const struct sync_remote_object *obj, const struct sync_stat *expect_st,
                         struct sync_download_result *res)
{
    struct sync_download_result out = {.obj = *obj};
    char target[SYNC_LINK_MAX + 1];
    struct buf tmp = {0}, dst = {0};
    struct stat s;
    int made = 0;
    int rc = obj->size == 0 || obj->size > SYNC_LINK_MAX ? SYNC_EPROTO : 0;
    if (rc == 0)
        rc = sync_remote_get_range(r, path, obj->etag, 0, obj->size, target);
    if (rc == 0)
        target[obj->size] = 0;
    if (rc == 0 && strlen(target) != obj->size)
        rc = SYNC_EPROTO; /* a NUL byte cannot be in a link */
    if (rc == 0)
        rc = make_parents(root, path);
    if (rc == 0)
        rc = temp_name(root, path, &tmp);
    if (rc == 0)
        rc = symlink(target, tmp.data) == 0 ? (made = 1, 0) : -errno;
    if (rc == 0)
        rc = still_expected(root, path, expect_st);
    if (rc == 0 && (rc = full_path(root, path, &dst)) == 0 && rename(tmp.data, dst.data) != 0)
        rc = -errno;
    if (rc == 0)
        rc = fsync_parent(root, path);
    if (rc == 0)
        rc = lstat(dst.data, &s) == 0 ? 0 : -errno;
    if (rc == 0 && !(out.chunks = malloc(sizeof *out.chunks)))
        rc = -ENOMEM;
    if (rc == 0) {
        sync_stat_of(&s, &out.st);
        sha256(target, obj->size, out.chunks[0].id);
        out.chunks[0].len = (uint32_t)obj->size;
        out.nchunks = 1;
        out.bytes_fetched = obj->size;
        *res = out;
    } else if (made) {
        unlink(tmp.data);
    }
    buf_release(&tmp);
    buf_release(&dst);
    return rc;
}

int sync_file_download(struct sync_remote *r, const char *root, const char *path,
                       const struct sync_chunk_ref *old, uint32_t nold,
                       const struct sync_stat *expect_st, struct sync_download_result *res)
{
    struct sync_download_result out = {0};
    struct sync_chunk_list l = {0};
    struct old_chunk *idx = NULL;
    struct sync_stat cur = {0};
    struct buf tmp = {0}, target = {0};
    int fd = -1, oldfd = -1;

    int rc = sync_remote_chunk_list(r, path, &out.obj, &l);
    if (rc)
        return rc;
    if (out.obj.kind == SYNC_KIND_SYMLINK) {
        sync_chunk_list_release(&l);
        return download_link(r, root, path, &out.obj, expect_st, res);
    }
    if (out.obj.kind == SYNC_KIND_DIR) { /* a directory's content lives in its own keys */
        sync_chunk_list_release(&l);
        snprintf(r->last_error, sizeof r->last_error, "a directory marker without its '/'");
        return SYNC_EPROTO;
    }
    if (nold && !(idx = malloc((size_t)nold * sizeof *idx)))
        rc = -ENOMEM;
    uint64_t old_off = 0;
    for (uint32_t i = 0; rc == 0 && i < nold; old_off += old[i].len, i++) {
        memcpy(idx[i].id, old[i].id, SYNC_ID_LEN);
        idx[i].len = old[i].len;
        idx[i].off = old_off;
    }
    if (idx)
        qsort(idx, nold, sizeof *idx, old_cmp);
    if (rc == 0)
        rc = make_parents(root, path);
    if (rc == 0 && (fd = open_temp(root, path, &tmp)) < 0)
        rc = fd;
    if (rc == 0 && nold)
        oldfd = open_file(root, path, &cur); /* no old file: fetch everything */
    if (rc == 0 && out.obj.is_inline) {
        uint8_t *all = malloc(out.obj.size + 1);
        rc = all ? sync_remote_get_range(r, path, out.obj.etag, 0, out.obj.size, all) : -ENOMEM;
        if (rc == 0)
            rc = write_full(fd, all, out.obj.size);
        out.bytes_fetched = out.obj.size;
        if (rc == 0) /* the server keeps no chunk list for it: cut one */
            rc = chunk_buffer(all, out.obj.size, &l);
        free(all);
    } else if (rc == 0) {
        rc = write_chunks(r, path, fd, oldfd, idx, nold, &l, &out);
    }
    if (rc == 0 && out.obj.mode && fchmod(fd, out.obj.mode & 07777) != 0)
        rc = -errno;
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (rc == 0)
        rc = still_expected(root, path, expect_st);
    if (rc == 0 && (rc = full_path(root, path, &target)) == 0 && rename(tmp.data, target.data) != 0)
        rc = -errno;
    if (rc == 0)
        rc = fsync_parent(root, path);
    if (rc == 0) {
        struct stat s;
        if (fstat(fd, &s) != 0)
            rc = -errno;
        else
            sync_stat_of(&s, &out.st);
    }
    if (rc && tmp.data && fd >= 0)
        unlink(tmp.data);
    if (fd >= 0)
        close(fd);
    if (oldfd >= 0)
        close(oldfd);
    buf_release(&tmp);
    buf_release(&target);
    free(idx);
    if (rc) {
        sync_chunk_list_release(&l);
        return rc;
    }
    out.chunks = l.chunks;
    out.nchunks = l.n;
    *res = out;
    return 0;
}
