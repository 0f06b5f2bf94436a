/* sync-client/sync_folder.c - see sync_folder.h. */
#include "sync-client/sync_folder.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int sync_folder_lock(const char *root)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/%s", root, SYNC_STATE_DIR) >= (int)sizeof dir ||
        snprintf(path, sizeof path, "%s/lock", dir) >= (int)sizeof path)
        return SYNC_ETOOLONG;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -errno;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EINTR)
            continue;
        close(fd);
        return err == EWOULDBLOCK ? SYNC_ELOCKED : -err;
    }
    return fd;
}

void sync_folder_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* drops the flock */
}
