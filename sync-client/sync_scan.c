/*
 * sync-client/sync_scan.c - see sync_scan.h.  A depth-first walk with
 * openat/fdopendir relative to each directory's fd (so a directory renamed
 * during the walk cannot send us somewhere else), then one sort.
 */
#include "sync-client/sync_scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "sync-client/sync_folder.h"
#include "sync-client/sync_path.h"

#define SCAN_MAX_DEPTH 256

struct walk {
    const struct sync_ignore *ig;
    struct sync_scan *out;
    size_t cap, pcap;
};

void sync_stat_of(const struct stat *s, struct sync_stat *out)
{
    out->kind = S_ISREG(s->st_mode)   ? SYNC_KIND_FILE
                : S_ISDIR(s->st_mode) ? SYNC_KIND_DIR
                : S_ISLNK(s->st_mode) ? SYNC_KIND_SYMLINK
                                      : SYNC_KIND_NONE;
    out->mode = (uint32_t)(s->st_mode & 07777);
    out->size = (uint64_t)s->st_size;
    out->mtime_ns = (int64_t)s->st_mtim.tv_sec * 1000000000 + s->st_mtim.tv_nsec;
    out->inode = (uint64_t)s->st_ino;
}

static int problem(struct walk *w, const char *path, size_t len, int err)
{
    struct sync_scan *o = w->out;
    if (o->nproblems == w->pcap) {
        size_t cap = w->pcap ? 2 * w->pcap : 16;
        void *p = realloc(o->problems, cap * sizeof *o->problems);
        if (!p)
            return -ENOMEM;
        o->problems = p;
        w->pcap = cap;
    }
    char *copy = strndup(path, len);
    if (!copy)
        return -ENOMEM;
    o->problems[o->nproblems++] = (struct sync_scan_problem){copy, err};
    return 0;
}

static int add(struct walk *w, const char *path, size_t len, const struct stat *s)
{
    struct sync_scan *o = w->out;
    if (o->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        void *p = realloc(o->v, cap * sizeof *o->v);
        if (!p)
            return -ENOMEM;
        o->v = p;
        w->cap = cap;
    }
    char *copy = strndup(path, len);
    if (!copy)
        return -ENOMEM;
    o->v[o->n].path = copy;
    sync_stat_of(s, &o->v[o->n].st);
    o->n++;
    return 0;
}

/* Walk the directory open as dfd, whose folder-relative path is
 * path->data (empty for the root). */
static int walk_dir(struct walk *w, int dfd, struct buf *path, int depth)
{
    DIR *d = fdopendir(dfd);
    struct dirent *de;
    int rc = 0;
    if (!d) {
        close(dfd);
        return problem(w, path->data, path->len, -errno);
    }
    size_t base = path->len;
    while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        struct stat s;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (base == 0 && strcmp(name, SYNC_STATE_DIR) == 0)
            continue; /* the daemon's own state */
        path->len = base;
        path->data[base] = 0;
        if ((base && buf_append(path, "/", 1) != 0) || buf_puts(path, name) != 0) {
            rc = problem(w, path->data, base, SYNC_ETOOLONG);
            continue;
        }
        int bad = sync_path_check(path->data, path->len);
        if (bad) {
            rc = problem(w, path->data, path->len, bad);
            continue;
        }
        if (fstatat(dirfd(d), name, &s, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = errno == ENOENT ? 0 : problem(w, path->data, path->len, -errno);
            continue; /* gone meanwhile: the next scan or event sees it */
        }
        int is_dir = S_ISDIR(s.st_mode);
        if (w->ig && sync_ignore_match(w->ig, path->data, path->len, is_dir) == 1)
            continue;
        if (!is_dir && !S_ISREG(s.st_mode) && !S_ISLNK(s.st_mode)) {
            rc = problem(w, path->data, path->len, SYNC_EINVAL); /* socket, FIFO, device */
            continue;
        }
        rc = add(w, path->data, path->len, &s);
        if (rc || !is_dir)
            continue;
        if (depth >= SCAN_MAX_DEPTH) {
            rc = problem(w, path->data, path->len, SYNC_ETOOLONG);
            continue;
        }
        int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            rc = problem(w, path->data, path->len, -errno);
        else
            rc = walk_dir(w, sub, path, depth + 1);
    }
    path->len = base;
    path->data[base] = 0;
    closedir(d); /* closes dfd */
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct sync_scan_entry *x = a, *y = b;
    return strcmp(x->path, y->path);
}

int sync_scan_folder(const char *root, const struct sync_ignore *ig, struct sync_scan *out)
{
    struct sync_scan s = {0};
    struct walk w = {ig, &s, 0, 0};
    struct buf path;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    buf_init(&path, SYNC_PATH_MAX + SYNC_NAME_MAX + 2);
    int rc = buf_append(&path, "/", 1); /* allocates: walk_dir writes NULs at data[len] */
    if (rc == 0) {
        buf_reset(&path);
        rc = walk_dir(&w, fd, &path, 0);
    } else {
        close(fd);
    }
    buf_release(&path);
    if (rc) {
        sync_scan_release(&s);
        return rc;
    }
    if (s.n) /* an empty folder has no array at all */
        qsort(s.v, s.n, sizeof *s.v, entry_cmp);
    *out = s;
    return 0;
}

void sync_scan_release(struct sync_scan *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].path);
    for (size_t i = 0; i < s->nproblems; i++)
        free(s->problems[i].path);
    free(s->v);
    free(s->problems);
    memset(s, 0, sizeof *s);
}
