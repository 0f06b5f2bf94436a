/*
 * sync-client/sync_scan.h - one full walk of a synced folder: every path
 * that is synced (not ignored), with what lstat says of it.
 *
 * The daemon scans at start, after an inotify queue overflow, and
 * periodically, and hands each path with its index entry and the server's
 * state to the planner.  The walk:
 *   - never follows a symlink (a link is reported as a link: kind SYNC_KIND_SYMLINK);
 *   - never descends into an ignored directory (sync_ignore_match on the
 *     directory itself, so .cairn-sync/ and the user's ignored folders cost
 *     nothing);
 *   - skips, and counts as a problem, names the server cannot store (bad
 *     UTF-8, over SYNC_PATH_MAX / SYNC_NAME_MAX) and entries it cannot read
 *     (a folder without permission), so one bad entry never stops the rest;
 *   - reports sockets, FIFOs and devices as problems (not synced);
 *   - returns paths in byte order (the order of the index and of S3
 *     listings, so the three can be merged in one pass).
 */
#ifndef CAIRN_SYNC_SCAN_H
#define CAIRN_SYNC_SCAN_H

#include <stddef.h>

#include "sync-client/sync.h"
#include "sync-client/sync_ignore.h"

struct sync_scan_entry {
    char *path; /* folder-relative, owned by the scan */
    struct sync_stat st;
};

/* Something the walk skipped, for the log and `cairn-sync status`. */
struct sync_scan_problem {
    char *path; /* as far as it could be formed (owned) */
    int err;    /* SYNC_EINVAL / SYNC_ETOOLONG (name), -EACCES..., SYNC_EINVAL (special file) */
};

struct sync_scan {
    struct sync_scan_entry *v;
    size_t n;
    struct sync_scan_problem *problems;
    size_t nproblems;
};

/* Walk root with ig (may be NULL: nothing ignored but .cairn-sync).
 * Returns 0 with *out filled (release with sync_scan_release), or -errno
 * if root itself cannot be read, or -ENOMEM. */
int sync_scan_folder(const char *root, const struct sync_ignore *ig, struct sync_scan *out);
void sync_scan_release(struct sync_scan *s);

/* What lstat/fstat said (*s), as the layer records it. */
struct stat;
void sync_stat_of(const struct stat *s, struct sync_stat *out);

#endif
