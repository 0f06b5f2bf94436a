/* sync-client/sync_engine.c - see sync_engine.h. */
#include "sync-client/sync_engine.h"

#include <errno.h>

int sync_engine_new(const struct sync_engine_config *cfg, struct sync_engine **out)
{
    (void)cfg;
    (void)out;
    return -ENOSYS;
}

int sync_engine_run(struct sync_engine *e, volatile sig_atomic_t *stop)
{
    (void)e;
    (void)stop;
    return -ENOSYS;
}

void sync_engine_free(struct sync_engine *e)
{
    (void)e;
}
