/*
 * sync-client/sync_folder.h - the synced folder's own state folder,
 * FOLDER/.cairn-sync/, and the lock that lets one cairn-sync process at a
 * time sync a folder.
 *
 * The lock is an flock(2) on FOLDER/.cairn-sync/lock, taken without
 * waiting: a second daemon on the same folder (a second `cairn-sync run`,
 * or one started by systemd and one by hand) gets SYNC_ELOCKED instead of
 * racing the first over the same files and index.  The kernel drops the
 * lock when its holder exits, kill -9 included, so there is never a stale
 * lock to clean up.  Read-only users of the index (`cairn-sync status`)
 * do not take it.
 */
#ifndef CAIRN_SYNC_FOLDER_H
#define CAIRN_SYNC_FOLDER_H

#include "sync-client/sync.h"

#define SYNC_STATE_DIR ".cairn-sync"

/* Create root/.cairn-sync if missing (0700) and take its lock.  Returns
 * the lock's fd (>= 0; keep it open while syncing), SYNC_ELOCKED if
 * another process holds it, SYNC_ETOOLONG, or -errno. */
int sync_folder_lock(const char *root);

/* Release a lock from sync_folder_lock (closes fd; -1 ok). */
void sync_folder_unlock(int fd);

#endif
