/*
 * common/bufpool.c - see bufpool.h.  A mutex and a stack of idle buffers:
 * gets and puts happen once per chunk (about a MiB of work), so the lock is
 * never the bottleneck.
 */
#include "common/bufpool.h"

#include <pthread.h>
#include <stdlib.h>

struct bufpool {
    size_t size;
    unsigned keep, nidle;
    pthread_mutex_t lock;
    void *idle[];
};

struct bufpool *bufpool_new(size_t size, unsigned keep)
{
    struct bufpool *p = calloc(1, sizeof *p + keep * sizeof p->idle[0]);
    if (!p)
        return NULL;
    p->size = size;
    p->keep = keep;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void *bufpool_get(struct bufpool *p)
{
    void *buf = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->nidle)
        buf = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->lock);
    if (!buf && posix_memalign(&buf, 64, p->size) != 0)
        buf = NULL;
    return buf;
}

void bufpool_put(struct bufpool *p, void *buf)
{
    if (!buf)
        return;
    pthread_mutex_lock(&p->lock);
    if (p->nidle < p->keep) {
        p->idle[p->nidle++] = buf;
        buf = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    free(buf);
}

size_t bufpool_size(const struct bufpool *p)
{
    return p->size;
}

void bufpool_free(struct bufpool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->nidle; i++)
        free(p->idle[i]);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
