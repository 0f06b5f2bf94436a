/* placeholder until the watcher lands */
#ifndef CAIRN_SYNC_WATCH_H
#define CAIRN_SYNC_WATCH_H
#include <stddef.h>
#include "sync-client/sync.h"
#include "sync-client/sync_ignore.h"
#define SYNC_WATCH_FINAL 1u
#define SYNC_WATCH_BUSY 2u
#define SYNC_WATCH_GONE 4u
#define SYNC_WATCH_DIR 8u
#define SYNC_WATCH_RESCAN 1
struct sync_watch;
typedef int (*sync_watch_fn)(void *arg, const char *path, size_t len, unsigned flags);
int sync_watch_new(const char *root, const struct sync_ignore *ig, struct sync_watch **out);
int sync_watch_fd(const struct sync_watch *w);
int sync_watch_read(struct sync_watch *w, sync_watch_fn fn, void *arg);
void sync_watch_set_ignore(struct sync_watch *w, const struct sync_ignore *ig);
void sync_watch_free(struct sync_watch *w);
#endif
