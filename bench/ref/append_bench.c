/*
 * cairn-append-bench: the disk's ceiling for what the drive engine does -
 * buffered appends to several files at once, an fdatasync after every
 * few, the synced range dropped from the page cache - with no erasure
 * coding, hashing, network or metadata.  A PUT of large objects with EC
 * k+m writes (k+m)/k bytes per body byte this way, so this number over
 * (k+m)/k bounds PUT throughput on the same disk.
 *
 *   cairn-append-bench --dir DIR [--files 6] [--write-kib 1024]
 *                      [--per-sync 4] [--seconds 5]
 *
 * One thread per file (as one drive folder each); prints MB/s in all.
 * Removes its files when done.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 64

struct appender {
    pthread_t tid;
    char path[4096];
    size_t write_len;
    int per_sync;
    double seconds;
    unsigned long long bytes;
    int failed;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *append_main(void *arg)
{
    struct appender *a = arg;
    int fd = open(a->path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    uint8_t *buf = malloc(a->write_len);
    if (fd < 0 || !buf) {
        a->failed = 1;
        goto out;
    }
    for (size_t i = 0; i < a->write_len; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    off_t off = 0, synced = 0;
    double t0 = now_s();
    while (now_s() - t0 < a->seconds) {
        for (int i = 0; i < a->per_sync; i++) {
            if (pwrite(fd, buf, a->write_len, off) != (ssize_t)a->write_len) {
                a->failed = 1;
                goto out;
            }
            off += (off_t)a->write_len;
        }
        if (fdatasync(fd) != 0) {
            a->failed = 1;
            goto out;
        }
        posix_fadvise(fd, synced, off - synced, POSIX_FADV_DONTNEED);
        synced = off;
    }
    a->bytes = (unsigned long long)off;
out:
    free(buf);
    if (fd >= 0) {
        close(fd);
        unlink(a->path);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int files = 6, per_sync = 4;
    size_t write_kib = 1024;
    double seconds = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--files") && i + 1 < argc)
            files = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--write-kib") && i + 1 < argc)
            write_kib = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--per-sync") && i + 1 < argc)
            per_sync = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else
            dir = NULL, i = argc;
    }
    if (!dir || files < 1 || files > MAX_FILES || !write_kib || write_kib > 65536 ||
        per_sync < 1 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "usage: cairn-append-bench --dir DIR [--files 1..%d] [--write-kib N]"
                        " [--per-sync N] [--seconds S]\n",
                MAX_FILES);
        return 2;
    }
    struct appender a[MAX_FILES];
    double t0 = now_s();
    for (int i = 0; i < files; i++) {
        a[i] = (struct appender){.write_len = write_kib << 10, .per_sync = per_sync,
                                 .seconds = seconds};
        snprintf(a[i].path, sizeof a[i].path, "%s/cairn-append-bench.%d.%d", dir, (int)getpid(), i);
        pthread_create(&a[i].tid, NULL, append_main, &a[i]);
    }
    unsigned long long total = 0;
    int failed = 0;
    for (int i = 0; i < files; i++) {
        pthread_join(a[i].tid, NULL);
        total += a[i].bytes;
        failed |= a[i].failed;
    }
    if (failed) {
        perror("cairn-append-bench: write, fdatasync or open failed");
        return 1;
    }
    printf("%d files, %zu KiB writes, fdatasync every %d: %.0f MB/s\n", files, write_kib,
           per_sync, (double)total / (now_s() - t0) / 1e6);
    return 0;
}
