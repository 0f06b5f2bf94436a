#include "sync-client/sync_watch.h"
#include <errno.h>
int sync_watch_new(const char *root, const struct sync_ignore *ig, struct sync_watch **out) { (void)root; (void)ig; (void)out; return -ENOSYS; }
int sync_watch_fd(const struct sync_watch *w) { (void)w; return -1; }
int sync_watch_read(struct sync_watch *w, sync_watch_fn fn, void *arg) { (void)w; (void)fn; (void)arg; return 0; }
void sync_watch_set_ignore(struct sync_watch *w, const struct sync_ignore *ig) { (void)w; (void)ig; }
void sync_watch_free(struct sync_watch *w) { (void)w; }
