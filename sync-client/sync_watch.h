/*
 * sync-client/sync_watch.h - the inotify watcher of one synced folder:
 * which paths changed on disk, and whether their content is final yet.
 *
 * The engine owns one watcher per folder.  It polls sync_watch_fd() for
 * POLLIN together with its other fds, calls sync_watch_read() when the fd
 * is readable, debounces the paths it is handed and re-plans them.  The
 * watcher never reads file content and keeps no state per file: only a
 * table of the watched directories.
 *
 * Calling sequence: sync_watch_new() -> { poll(sync_watch_fd()) ->
 * sync_watch_read() } repeatedly, with sync_watch_set_ignore() whenever
 * .cairnignore changes and sync_watch_refresh() when the engine wants the
 * watches checked again (after a rescan while sync_watch_limit_hit()) ->
 * sync_watch_free().
 *
 * What is watched: the folder's root and every directory below it that is
 * neither ignored (sync_ignore_match() on the directory, as sync_scan
 * does, so nothing below an ignored directory is entered) nor named
 * .cairn-sync (the daemon's own state, or that of a nested synced folder),
 * whose path passes sync_path_check(), and that is at most
 * SYNC_WATCH_DEPTH_MAX components deep.  Symlinks are never followed.  A
 * directory that appears (created, or moved in from elsewhere) is watched
 * at once and then read through, every entry below it reported, because
 * files may land in it before its watch exists.
 *
 * What is reported: one call of the callback per path and event, with
 * exactly one of FINAL, BUSY, GONE, plus DIR when the path is a directory.
 * The same path may come several times in one read (the engine
 * debounces).  Paths are folder-relative and pass sync_path_check(); names
 * that do not (bad UTF-8, too long) are never reported, and directories
 * with such names are not watched (sync_scan reports them as problems).
 *
 *   event (inotify)                    flags
 *   file written and closed            FINAL          IN_CLOSE_WRITE
 *   file or link moved in / renamed    FINAL          IN_MOVED_TO
 *   file attributes, e.g. touch        FINAL          IN_ATTRIB
 *   symlink created                    FINAL          IN_CREATE (a link is final at once)
 *   file created (empty, being filled) BUSY           IN_CREATE
 *   file written, not yet closed       BUSY           IN_MODIFY
 *   deleted, moved out / renamed away  GONE           IN_DELETE, IN_MOVED_FROM
 *   directory created or moved in      FINAL|DIR      then every entry below it:
 *                                                     directories FINAL|DIR, links
 *                                                     FINAL, files BUSY (one may still
 *                                                     be open for writing; if so its
 *                                                     close comes later as FINAL)
 *   directory deleted or moved out     GONE|DIR       only the directory: the engine
 *                                                     finds what was below it in the
 *                                                     index
 *
 * BUSY means "changed, maybe not finished": the engine waits for the path
 * to settle.  A directory moved within the folder is GONE|DIR under its old
 * name and, under its new name, a new directory with all its entries;
 * later events below it carry the new name.  Attribute changes of a
 * directory are not reported (a directory has no content to sync).
 *
 * Rescans: when events were lost the read returns SYNC_WATCH_RESCAN and
 * the engine must do a full scan (sync_scan_folder()).  That happens when
 * the kernel's queue overflowed (IN_Q_OVERFLOW; the watcher then walks the
 * tree again itself, so its watches are complete before it returns), when
 * a directory could not be watched because the per-user watch limit
 * (/proc/sys/fs/inotify/max_user_watches) is reached (the watcher goes on
 * watching whatever else it can; sync_watch_limit_hit() says so until a
 * sync_watch_refresh() watches everything), when the root itself was moved,
 * deleted or unmounted, when memory or file descriptors ran out during a
 * walk, and on the read after a callback failed.
 *
 * Threads: a watcher is used by one thread at a time (the engine's loop).
 * The callback runs on the calling thread, inside sync_watch_read(), and
 * must not call sync_watch_* functions on the same watcher.  Different
 * watchers are independent.
 *
 * Memory: one 64 KiB read buffer and, per watched directory, its node (its
 * path plus about 100 bytes) in two hash tables (by watch descriptor and by
 * path); a walk keeps one open directory per level, at most
 * SYNC_WATCH_DEPTH_MAX + 1 file descriptors.  A read handles at most
 * SYNC_WATCH_READ_MAX bytes of events, then returns so that the engine's
 * other fds get their turn (the fd stays readable if more are queued).
 */
#ifndef CAIRN_SYNC_WATCH_H
#define CAIRN_SYNC_WATCH_H

#include <stddef.h>

#include "sync-client/sync.h"
#include "sync-client/sync_ignore.h"

/* Flags of a reported path: exactly one of FINAL, BUSY, GONE; DIR may be
 * added to any of them. */
#define SYNC_WATCH_FINAL 0x1u /* content final: plan it once debounced */
#define SYNC_WATCH_BUSY 0x2u  /* changed, may still be changing: wait until it settles */
#define SYNC_WATCH_GONE 0x4u  /* no longer at this path (deleted or moved away) */
#define SYNC_WATCH_DIR 0x8u   /* the path is (or was) a directory */

/* sync_watch_read()'s "events were lost: do a full rescan" (positive, so
 * no error code can be taken for it). */
#define SYNC_WATCH_RESCAN 1

#define SYNC_WATCH_DEPTH_MAX 256           /* components of a watched directory (as sync_scan) */
#define SYNC_WATCH_READ_MAX (1024u * 1024) /* bytes of events one read handles */

struct sync_watch;

/*
 * Called once per reported path.  path[0..len) is folder-relative and
 * NUL-terminated at path[len]; it is borrowed and valid only during the
 * call (copy it to keep it).  flags: SYNC_WATCH_* above.  arg: as given
 * to sync_watch_read().  Return 0 to go on, or a negative error code (for
 * instance -ENOMEM from the engine's own table): the callback is then not
 * called again during this read, which still finishes updating the
 * watches and returns that code; the paths not reported are lost, so the
 * next sync_watch_read() returns SYNC_WATCH_RESCAN.
 */
typedef int (*sync_watch_fn)(void *arg, const char *path, size_t len, unsigned flags);

/*
 * Start watching the folder root (its path, copied; absolute, or relative
 * to the working directory at each use) with the rules ig (borrowed: the
 * caller keeps it alive until sync_watch_free() or until it is replaced by
 * sync_watch_set_ignore(); NULL: nothing ignored but .cairn-sync).  Walks
 * the whole tree once, adding the watches, reporting nothing: the engine
 * does its full scan after this call (events from then on are caught).
 * Returns 0 and *out (owned: sync_watch_free()), or
 *   SYNC_EINVAL    root or out NULL, or root empty;
 *   SYNC_ETOOLONG  root longer than PATH_MAX;
 *   -errno         root cannot be opened as a directory (-ENOENT,
 *                  -ENOTDIR, -EACCES ...), no inotify instance
 *                  (-EMFILE: /proc/sys/fs/inotify/max_user_instances),
 *                  not even the root can be watched (-ENOSPC: the watch
 *                  limit), -ENOMEM.
 * Hitting the watch limit during the walk is not an error: the watcher is
 * returned with sync_watch_limit_hit() true (and its first read says
 * SYNC_WATCH_RESCAN).  On error *out is untouched.
 */
int sync_watch_new(const char *root, const struct sync_ignore *ig, struct sync_watch **out);

/* The inotify fd (non-blocking, close-on-exec; owned by the watcher, do not
 * close or read it): poll it for POLLIN, then call sync_watch_read(). */
int sync_watch_fd(const struct sync_watch *w);

/*
 * Handle the events queued now, without blocking: call fn for each path
 * (see the table above), add watches for new directories, drop those of
 * directories gone.  Handles at most SYNC_WATCH_READ_MAX bytes of events.
 * Returns
 *   0                  done (also when nothing was queued);
 *   SYNC_WATCH_RESCAN  events were lost (see "Rescans" above); the paths
 *                      that were reported are still valid, the watches
 *                      are as complete as the watcher could make them;
 *   < 0                fn's error (see sync_watch_fn), or -errno from
 *                      read(2) on the inotify fd (not expected).
 */
int sync_watch_read(struct sync_watch *w, sync_watch_fn fn, void *arg);

/*
 * Use the rules ig from now on (borrowed as in sync_watch_new(); the old
 * rules may be freed once this returns), then sync_watch_refresh(): watch
 * the directories the new rules include, drop the watches of those they
 * ignore.  Nothing is reported: the engine rescans after new rules, since
 * files they include may be new to it.  Returns as sync_watch_refresh();
 * the rules are replaced even when it fails.
 */
int sync_watch_set_ignore(struct sync_watch *w, const struct sync_ignore *ig);

/*
 * Walk the whole tree again, reporting nothing: watch every directory that
 * should be watched and is not (after the watch limit was hit and watches
 * were freed or the limit raised), forget watches of directories no
 * longer there.  Clears sync_watch_limit_hit() unless the limit is hit
 * again.  Costs one open, one inotify_add_watch and one read-through per
 * directory.  Returns 0, or -errno if the root cannot be opened or watched
 * (-ENOENT, -ENOSPC, -ENOMEM ...; the watches are then left as they
 * were).
 */
int sync_watch_refresh(struct sync_watch *w);

/* Number of directories watched now (the root included). */
size_t sync_watch_count(const struct sync_watch *w);

/* 1 if a directory could not be watched because of the per-user watch
 * limit, since the watcher was made or since the last sync_watch_refresh(),
 * else 0.  For status and logs: "raise fs.inotify.max_user_watches". */
int sync_watch_limit_hit(const struct sync_watch *w);

/* Remove all watches, close the fd, free w.  NULL is fine. */
void sync_watch_free(struct sync_watch *w);

#endif
