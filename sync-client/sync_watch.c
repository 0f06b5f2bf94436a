/*
 * sync-client/sync_watch.c - see sync_watch.h.
 *
 * The watched directories form a tree of nodes (parent, children) that
 * mirrors the folder, each node holding its watch descriptor and its full
 * relative path, found by either through a hash table.  The tree is what
 * lets a directory that goes away take its whole subtree's watches with
 * it in time proportional to that subtree.
 *
 * Watches are added through /proc/self/fd/N of the directory the walk has
 * just opened with O_NOFOLLOW relative to its parent's fd, so the watch is
 * on exactly the directory that is then read, even if a path component is
 * swapped for a symlink meanwhile.  The kernel hands out watch descriptors
 * cyclically, so a descriptor we removed is not reused for a long time:
 * events still queued for it find no node and are dropped.
 *
 * A directory that leaves its path (deleted, moved away) loses its node
 * and those of its subtree; its new path, if it was moved within the
 * folder, is watched and read through as a new directory.  That is simpler
 * than re-pathing a subtree, and the engine must re-plan every path below
 * the new name anyway.  The kernel's watches of a dropped subtree are not
 * removed at once but at the end of the read (or refresh), and only those
 * no walk has claimed again meanwhile: inotify_add_watch() on a directory
 * already watched returns its descriptor, so a subtree moved within the
 * folder keeps its descriptors, and moving a large tree does not queue one
 * IN_IGNORED per directory (enough of them would overflow the queue).
 */
#include "sync-client/sync_watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync-client/sync_path.h"

#define WATCH_BUF (64u * 1024) /* one read(2) of events */

/* Events a directory's watch asks for.  IN_ONLYDIR: never a watch on
 * anything else; IN_EXCL_UNLINK: nothing about files already deleted but
 * still open.  IN_IGNORED, IN_UNMOUNT and IN_Q_OVERFLOW always come. */
#define DIR_MASK                                                                    \
    (IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE | IN_MOVED_FROM | \
     IN_MOVED_TO | IN_ONLYDIR | IN_EXCL_UNLINK)
/* The root also wants to know when it is itself moved or deleted. */
#define ROOT_MASK (DIR_MASK | IN_MOVE_SELF | IN_DELETE_SELF)

/* One watched directory. */
struct wdir {
    int wd;
    unsigned gen;             /* walk that last saw it (see sweep) */
    struct wdir *parent;      /* NULL for the root */
    struct wdir *child;       /* first child */
    struct wdir *prev, *next; /* siblings */
    struct wdir *wd_chain;    /* next in the wd hash bucket */
    struct wdir *path_chain;  /* next in the path hash bucket */
    uint64_t hash;            /* of path */
    size_t len;
    char path[]; /* relative, NUL-terminated; "" for the root */
};

struct sync_watch {
    int fd;
    const struct sync_ignore *ig;
    struct wdir **by_wd, **by_path; /* buckets, nbuckets each (a power of 2) */
    size_t nbuckets, count;
    struct wdir *root;
    unsigned gen;
    int limit_hit; /* ENOSPC from inotify_add_watch since the last full walk */
    int rescan;    /* events were lost: the next read says SYNC_WATCH_RESCAN */
    int rewalk;    /* the watches may be incomplete: walk the tree again */
    int *dropped;  /* descriptors of forgotten nodes, to remove unless claimed again */
    size_t ndropped, dropped_cap;
    size_t root_len;
    char *abs;   /* the root, or root + "/" + a relative path, to open or lstat */
    char *event; /* the path of the event being handled */
    char buf[WATCH_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
};

/* Where reports go; fn NULL (or an earlier failure) silences them. */
struct report {
    sync_watch_fn fn;
    void *arg;
    int err;
};

static void emit(struct report *r, const char *path, size_t len, unsigned flags)
{
    if (!r || !r->fn || r->err)
        return;
    int rc = r->fn(r->arg, path, len, flags);
    if (rc)
        r->err = rc;
}

/* ---- the node tables ---- */

static uint64_t path_hash(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static size_t wd_slot(const struct sync_watch *w, int wd)
{
    return ((uint32_t)wd * 2654435761u) & (w->nbuckets - 1);
}

static struct wdir *find_wd(const struct sync_watch *w, int wd)
{
    struct wdir *d = w->by_wd[wd_slot(w, wd)];
    while (d && d->wd != wd)
        d = d->wd_chain;
    return d;
}

static struct wdir *find_path(const struct sync_watch *w, const char *path, size_t len)
{
    uint64_t h = path_hash(path, len);
    struct wdir *d = w->by_path[h & (w->nbuckets - 1)];
    while (d && (d->hash != h || d->len != len || memcmp(d->path, path, len) != 0))
        d = d->path_chain;
    return d;
}

static void hash_insert(struct sync_watch *w, struct wdir *d)
{
    size_t i = wd_slot(w, d->wd), j = d->hash & (w->nbuckets - 1);
    d->wd_chain = w->by_wd[i];
    w->by_wd[i] = d;
    d->path_chain = w->by_path[j];
    w->by_path[j] = d;
}

static void hash_remove(struct sync_watch *w, struct wdir *d)
{
    struct wdir **p = &w->by_wd[wd_slot(w, d->wd)];
    while (*p != d)
        p = &(*p)->wd_chain;
    *p = d->wd_chain;
    p = &w->by_path[d->hash & (w->nbuckets - 1)];
    while (*p != d)
        p = &(*p)->path_chain;
    *p = d->path_chain;
}

/* Double the buckets when the nodes outnumber them.  If memory is short
 * the tables stay as they are: longer chains, still correct. */
static void maybe_grow(struct sync_watch *w)
{
    if (w->count < w->nbuckets)
        return;
    size_t n = 2 * w->nbuckets;
    struct wdir **a = calloc(n, sizeof *a), **b = calloc(n, sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return;
    }
    struct wdir **old = w->by_wd;
    size_t oldn = w->nbuckets;
    free(w->by_path);
    w->by_wd = a;
    w->by_path = b;
    w->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        struct wdir *d = old[i];
        while (d) {
            struct wdir *next = d->wd_chain;
            hash_insert(w, d);
            d = next;
        }
    }
    free(old);
}

static void link_child(struct wdir *parent, struct wdir *d)
{
    d->parent = parent;
    d->prev = NULL;
    d->next = parent ? parent->child : NULL;
    if (d->next)
        d->next->prev = d;
    if (parent)
        parent->child = d;
}

static void unlink_child(struct wdir *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else if (d->parent)
        d->parent->child = d->next;
    if (d->next)
        d->next->prev = d->prev;
    d->parent = d->prev = d->next = NULL;
}

/* Forget d and everything below it, leaves first, without recursion.
 * Their kernel watches go at the next release_dropped(). */
static void drop_tree(struct sync_watch *w, struct wdir *d)
{
    struct wdir *x = d;
    for (;;) {
        while (x->child)
            x = x->child;
        struct wdir *up = x->parent;
        if (w->ndropped == w->dropped_cap) {
            size_t cap = w->dropped_cap ? 2 * w->dropped_cap : 64;
            int *v = realloc(w->dropped, cap * sizeof *v);
            if (v) {
                w->dropped = v;
                w->dropped_cap = cap;
            }
        }
        if (w->ndropped < w->dropped_cap)
            w->dropped[w->ndropped++] = x->wd;
        else
            inotify_rm_watch(w->fd, x->wd); /* no memory to wait with it */
        unlink_child(x);
        hash_remove(w, x);
        if (w->root == x)
            w->root = NULL;
        w->count--;
        free(x);
        if (x == d)
            break;
        x = up;
    }
}

/* Remove the kernel's watches of dropped nodes that no walk claimed again
 * (EINVAL for those the kernel already removed: fine). */
static void release_dropped(struct sync_watch *w)
{
    for (size_t i = 0; i < w->ndropped; i++)
        if (!find_wd(w, w->dropped[i]))
            inotify_rm_watch(w->fd, w->dropped[i]);
    w->ndropped = 0;
    if (w->dropped_cap > 4096) { /* after a big drop, give the memory back */
        free(w->dropped);
        w->dropped = NULL;
        w->dropped_cap = 0;
    }
}

/* 1 if d is a or lies below a. */
static int is_below(const struct wdir *d, const struct wdir *a)
{
    for (; d; d = d->parent)
        if (d == a)
            return 1;
    return 0;
}

/*
 * Record that watch descriptor wd is the directory at path, a child of
 * parent.  *known is set to 1 when that was already so (the directory was
 * watched, and so read through, before).  Returns the node, or NULL (out
 * of memory, or a tree changed so much under the walk that parent itself
 * would have to go: the caller forgets wd and asks for a new walk).
 */
static struct wdir *node_set(struct sync_watch *w, int wd, struct wdir *parent, const char *path,
                             size_t len, int *known)
{
    struct wdir *d = find_wd(w, wd);
    *known = 0;
    if (d && d->len == len && memcmp(d->path, path, len) == 0) {
        if (d->parent != parent) {
            unlink_child(d);
            link_child(parent, d);
        }
        d->gen = w->gen;
        *known = 1;
        return d;
    }
    if (d) {
        /* the same directory under another name: it moved while its events
         * were lost.  Its subtree's paths are stale. */
        if (is_below(parent, d))
            return NULL;
        drop_tree(w, d); /* wd is claimed again below */
    }
    struct wdir *other = find_path(w, path, len);
    if (other) /* another directory held this path before */
        drop_tree(w, other);
    d = malloc(sizeof *d + len + 1);
    if (!d)
        return NULL;
    memset(d, 0, sizeof *d);
    d->wd = wd;
    d->gen = w->gen;
    d->hash = path_hash(path, len);
    d->len = len;
    memcpy(d->path, path, len);
    d->path[len] = 0;
    link_child(parent, d);
    hash_insert(w, d);
    if (!parent)
        w->root = d;
    w->count++;
    maybe_grow(w);
    return d;
}

/* ---- adding watches, reading new directories through ---- */

static int ignored(const struct sync_watch *w, const char *path, size_t len, const char *name,
                   int is_dir)
{
    if (strcmp(name, SYNC_DAEMON_DIR) == 0)
        return 1;
    return w->ig && sync_ignore_match(w->ig, path, len, is_dir) == 1;
}

static const char *abs_path(struct sync_watch *w, const char *rel, size_t len)
{
    w->abs[w->root_len] = '/';
    memcpy(w->abs + w->root_len + 1, rel, len);
    w->abs[w->root_len + 1 + len] = 0;
    return w->abs;
}

/* Watch the directory open as dfd, at path[0..len).  Returns the node, or
 * NULL and *err (-errno) when it cannot be watched (what follows from that
 * is noted in w's flags). */
static struct wdir *watch_dir(struct sync_watch *w, int dfd, struct wdir *parent, const char *path,
                              size_t len, int *known, int *err)
{
    uint32_t mask = parent ? DIR_MASK : ROOT_MASK;
    char proc[40];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", dfd);
    int wd = inotify_add_watch(w->fd, proc, mask);
    if (wd < 0 && errno == ENOENT) /* no /proc: by name, the last component not followed */
        wd = inotify_add_watch(w->fd, abs_path(w, path, len), mask | IN_DONT_FOLLOW);
    if (wd < 0) {
        *err = -errno;
        if (errno == ENOSPC) {
            w->limit_hit = 1;
            w->rescan = 1;
        } else if (errno == ENOMEM) {
            w->rescan = w->rewalk = 1;
        } /* else gone, or not readable: the parent's events or the scan tell */
        return NULL;
    }
    struct wdir *d = node_set(w, wd, parent, path, len, known);
    if (!d) {
        if (!find_wd(w, wd)) /* else another node still holds it */
            inotify_rm_watch(w->fd, wd);
        w->rescan = w->rewalk = 1;
        *err = -ENOMEM;
    }
    return d;
}

struct walk {
    struct sync_watch *w;
    struct report *rep; /* NULL: add watches only */
    int full;           /* also read through directories already watched */
    size_t len;
    char path[SYNC_PATH_MAX + 1];
};

/* The type of a directory entry, without following a link: S_IFDIR,
 * S_IFLNK, S_IFREG, other S_IF* bits, or 0 if it is gone. */
static unsigned entry_type(DIR *dir, const struct dirent *de)
{
    switch (de->d_type) {
    case DT_DIR:
        return S_IFDIR;
    case DT_LNK:
        return S_IFLNK;
    case DT_REG:
        return S_IFREG;
    case DT_UNKNOWN:
        break;
    default:
        return S_IFIFO; /* some other special file */
    }
    struct stat st;
    if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    return st.st_mode & S_IFMT;
}

/*
 * Watch the directory open as dfd (taken: closed here), whose path is
 * k->path[0..k->len), a child of parent, at depth components; then each
 * entry below it: report it (if k->rep) and walk the directories.  A
 * directory already watched at this path is not read again unless k->full.
 * Returns 0, or why the directory itself could not be watched (-errno).
 */
static int walk_dir(struct walk *k, struct wdir *parent, int dfd, int depth)
{
    struct sync_watch *w = k->w;
    int known, rc = 0;
    struct wdir *d = watch_dir(w, dfd, parent, k->path, k->len, &known, &rc);
    if (!d || (known && !k->full)) {
        close(dfd);
        return rc;
    }
    DIR *dir = fdopendir(dfd);
    if (!dir) {
        if (errno == ENOMEM || errno == EMFILE || errno == ENFILE)
            w->rescan = w->rewalk = 1;
        close(dfd);
        return 0;
    }
    size_t base = k->len;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        const char *name = de->d_name;
        size_t nlen = strlen(name);
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        unsigned type = entry_type(dir, de);
        int is_dir = type == S_IFDIR;
        if (type == 0 || (!is_dir && !k->rep))
            continue; /* gone, or nothing to do with a file */
        size_t len = base + (base ? 1 : 0) + nlen;
        if (len > SYNC_PATH_MAX)
            continue; /* too long to sync: the scan reports it */
        if (base)
            k->path[base] = '/';
        memcpy(k->path + len - nlen, name, nlen + 1);
        if (sync_path_check(k->path, len) != 0 || ignored(w, k->path, len, name, is_dir))
            continue;
        unsigned flags = SYNC_WATCH_BUSY; /* a file may still be open for writing */
        if (is_dir)
            flags = SYNC_WATCH_FINAL | SYNC_WATCH_DIR;
        else if (type == S_IFLNK)
            flags = SYNC_WATCH_FINAL;
        emit(k->rep, k->path, len, flags);
        if (!is_dir || depth >= SYNC_WATCH_DEPTH_MAX)
            continue;
        int sub = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            if (errno == ENOMEM || errno == EMFILE || errno == ENFILE)
                w->rescan = w->rewalk = 1;
            continue; /* gone or replaced meanwhile: d's events say so */
        }
        k->len = len;
        walk_dir(k, d, sub, depth + 1); /* its failure is noted in w's flags */
        /* d stays valid: node_set() never drops a node the walk is inside */
    }
    k->len = base;
    k->path[base] = 0;
    closedir(dir);
    return 0;
}

static size_t depth_of(const char *path, size_t len)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += path[i] == '/';
    return n;
}

/* Walk the new directory path[0..len), a child of parent, reporting its
 * entries. */
static void walk_new(struct sync_watch *w, struct wdir *parent, const char *path, size_t len,
                     struct report *rep)
{
    size_t depth = depth_of(path, len);
    if (depth > SYNC_WATCH_DEPTH_MAX)
        return;
    int fd = open(abs_path(w, path, len), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOMEM || errno == EMFILE || errno == ENFILE)
            w->rescan = w->rewalk = 1;
        return; /* gone or replaced already: later events say so */
    }
    struct walk k = {.w = w, .rep = rep, .full = 0, .len = len};
    memcpy(k.path, path, len + 1);
    walk_dir(&k, parent, fd, (int)depth);
}

/* Forget, with their watches, the nodes the last full walk did not see.
 * A node it saw has every ancestor seen too, so the unseen nodes form
 * whole subtrees: drop each from its top. */
static void sweep(struct sync_watch *w)
{
    for (size_t i = 0; i < w->nbuckets; i++) {
        struct wdir *d = w->by_wd[i];
        while (d) {
            if (d->gen != w->gen && (!d->parent || d->parent->gen == w->gen)) {
                drop_tree(w, d);
                d = w->by_wd[i]; /* the chain changed: start it again */
            } else {
                d = d->wd_chain;
            }
        }
    }
}

static const char *root_path(struct sync_watch *w)
{
    w->abs[w->root_len] = 0;
    return w->abs;
}

int sync_watch_refresh(struct sync_watch *w)
{
    int fd = open(root_path(w), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct walk k = {.w = w, .rep = NULL, .full = 1, .len = 0};
    int limit_hit = w->limit_hit;
    w->gen++;
    w->limit_hit = 0;
    w->rewalk = 0;
    int rc = walk_dir(&k, NULL, fd, 0);
    if (rc) { /* the root could not be watched: nothing was seen */
        w->limit_hit |= limit_hit;
        w->rewalk = 1;
        return rc;
    }
    sweep(w);
    release_dropped(w);
    return 0;
}

/* ---- events ---- */

static void handle(struct sync_watch *w, const struct inotify_event *ev, struct report *rep)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        w->rescan = w->rewalk = 1;
        return;
    }
    struct wdir *d = find_wd(w, ev->wd);
    if (!d)
        return; /* a watch already dropped */
    if (ev->mask & (IN_IGNORED | IN_UNMOUNT)) {
        /* The watch is gone (directory deleted: its parent's IN_DELETE
         * reports it) or its file system unmounted (what is there now is
         * another directory: walk again). */
        if (d == w->root || (ev->mask & IN_UNMOUNT))
            w->rescan = w->rewalk = 1;
        if (ev->mask & IN_IGNORED)
            drop_tree(w, d);
        return;
    }
    size_t nlen = ev->len ? strnlen(ev->name, ev->len) : 0;
    if (nlen == 0) { /* about the watched directory itself */
        if (d == w->root && (ev->mask & (IN_MOVE_SELF | IN_DELETE_SELF)))
            w->rescan = w->rewalk = 1;
        return;
    }
    size_t len = d->len + (d->len ? 1 : 0) + nlen;
    if (len > SYNC_PATH_MAX)
        return;
    char *path = w->event;
    memcpy(path, d->path, d->len);
    if (d->len)
        path[d->len] = '/';
    memcpy(path + len - nlen, ev->name, nlen);
    path[len] = 0;
    int is_dir = (ev->mask & IN_ISDIR) != 0;
    if (sync_path_check(path, len) != 0 || ignored(w, path, len, path + len - nlen, is_dir))
        return;
    unsigned dir = is_dir ? SYNC_WATCH_DIR : 0;
    if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
        struct wdir *gone = is_dir ? find_path(w, path, len) : NULL;
        if (gone)
            drop_tree(w, gone);
        emit(rep, path, len, SYNC_WATCH_GONE | dir);
    } else if (is_dir && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
        emit(rep, path, len, SYNC_WATCH_FINAL | SYNC_WATCH_DIR);
        walk_new(w, d, path, len, rep);
    } else if (is_dir) {
        return; /* a directory's attributes: nothing to sync */
    } else if (ev->mask & IN_CREATE) {
        struct stat st;
        int link = lstat(abs_path(w, path, len), &st) == 0 && S_ISLNK(st.st_mode);
        emit(rep, path, len, link ? SYNC_WATCH_FINAL : SYNC_WATCH_BUSY);
    } else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB)) {
        emit(rep, path, len, SYNC_WATCH_FINAL);
    } else if (ev->mask & IN_MODIFY) {
        emit(rep, path, len, SYNC_WATCH_BUSY);
    }
}

int sync_watch_read(struct sync_watch *w, sync_watch_fn fn, void *arg)
{
    struct report rep = {fn, arg, 0};
    int rc = 0;
    for (size_t done = 0; done < SYNC_WATCH_READ_MAX;) {
        ssize_t n = read(w->fd, w->buf, sizeof w->buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno != EAGAIN)
                rc = -errno;
            break;
        }
        if (n == 0)
            break;
        done += (size_t)n;
        for (size_t off = 0; off + sizeof(struct inotify_event) <= (size_t)n;) {
            const struct inotify_event *ev = (const void *)(w->buf + off);
            off += sizeof *ev + ev->len;
            if (off > (size_t)n)
                break;
            handle(w, ev, &rep);
        }
    }
    if (w->rewalk)
        sync_watch_refresh(w); /* on failure rewalk stays set for the next read */
    release_dropped(w);
    if (rep.err) {
        w->rescan = 1; /* what fn did not see is lost */
        return rep.err;
    }
    if (rc)
        return rc;
    if (w->rescan) {
        w->rescan = 0;
        return SYNC_WATCH_RESCAN;
    }
    return 0;
}

/* ---- the rest of the API ---- */

int sync_watch_new(const char *root, const struct sync_ignore *ig, struct sync_watch **out)
{
    if (!root || !*root || !out)
        return SYNC_EINVAL;
    size_t rlen = strlen(root);
    if (rlen >= PATH_MAX)
        return SYNC_ETOOLONG;
    struct sync_watch *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->fd = -1;
    w->ig = ig;
    w->root_len = rlen;
    w->nbuckets = 256;
    w->by_wd = calloc(w->nbuckets, sizeof *w->by_wd);
    w->by_path = calloc(w->nbuckets, sizeof *w->by_path);
    w->abs = malloc(rlen + 1 + SYNC_PATH_MAX + 1);
    w->event = malloc(SYNC_PATH_MAX + 1);
    int rc = -ENOMEM;
    if (!w->by_wd || !w->by_path || !w->abs || !w->event)
        goto fail;
    memcpy(w->abs, root, rlen + 1);
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = sync_watch_refresh(w);
    if (rc)
        goto fail;
    *out = w;
    return 0;
fail:
    sync_watch_free(w);
    return rc;
}

int sync_watch_set_ignore(struct sync_watch *w, const struct sync_ignore *ig)
{
    w->ig = ig;
    return sync_watch_refresh(w);
}

int sync_watch_fd(const struct sync_watch *w)
{
    return w->fd;
}

size_t sync_watch_count(const struct sync_watch *w)
{
    return w->count;
}

int sync_watch_limit_hit(const struct sync_watch *w)
{
    return w->limit_hit;
}

void sync_watch_free(struct sync_watch *w)
{
    if (!w)
        return;
    if (w->by_wd) {
        for (size_t i = 0; i < w->nbuckets; i++) {
            struct wdir *d = w->by_wd[i];
            while (d) {
                struct wdir *next = d->wd_chain;
                free(d);
                d = next;
            }
        }
    }
    if (w->fd >= 0)
        close(w->fd); /* removes every watch */
    free(w->by_wd);
    free(w->by_path);
    free(w->abs);
    free(w->event);
    free(w->dropped);
    free(w);
}
