/*
 * chunkstore/drive_segment.c - the local drive engine: append-only segment
 * files plus an LMDB index, one instance per drive folder.
 *
 * Byte layouts and the durability argument: docs/on-disk-format-chunkstore.md.
 * Behaviour summary: the comment above struct drive_opts in chunkstore.h.
 * This file explains why.
 *
 * Writes.  Callers queue requests; whoever finds no batch leader becomes
 * it, takes everything queued (up to a cap), appends one record per
 * request and calls fdatasync once, then wakes everybody.  So the cost of
 * an fdatasync is shared by all writers that arrived while the previous
 * one was running (group commit), and there is exactly one writer at a
 * time without a dedicated thread.  One fdatasync per batch is all a put
 * waits for: on every drive folder of a machine, which usually share one
 * disk, that is the whole price of durability.
 *
 * Index durability.  The segments are the truth: every record carries its
 * key and CRCs, so the index can always be rebuilt by reading them.  The
 * index therefore need not be durable at every batch, only recoverable:
 *
 *  - A batch's index changes go to an in-memory overlay: a log of the
 *    records appended since the last checkpoint plus a hash table from key
 *    to the newest log entry.  Readers look there first, then in LMDB.
 *  - A checkpoint (every checkpoint_records records, 256 MiB of payload or
 *    checkpoint_ms, and at close) applies the log to LMDB in one write
 *    transaction, with the position (segment, offset) up to which the
 *    index is now complete, then empties the overlay.  The env runs with
 *    MDB_NOMETASYNC: a commit syncs its data pages (one fdatasync) but not
 *    the meta page, so an OS crash can take the index back by one
 *    checkpoint but never leave it half-written.
 *  - open replays every record after the recorded position, across any
 *    number of segment rollovers: that is at most one checkpoint interval
 *    of records (two if the last meta page was lost).
 *
 * Why not MDB_NOSYNC with a periodic mdb_env_sync?  With NOSYNC an OS
 * crash can leave LMDB's meta page pointing at pages that never reached
 * the disk (or that a later commit reused), and LMDB has no checksums to
 * tell.  Keeping unsynced changes in memory instead costs the same one
 * sync per checkpoint and leaves LMDB consistent at every instant.  We
 * still do not trust the index blindly: it carries a checksum of all its
 * entries (verified at open) and a check of its recorded position against
 * the segment bytes, and is rebuilt from the segments when either fails.
 * And every read checks the record header (chunk id, shard index, length,
 * CRCs) against what it asked for, so even a stale entry cannot return
 * wrong bytes.
 *
 * Segments are not preallocated: measured here (ext4), fallocate'd
 * (unwritten) extents made 256 KiB - 1 MiB appends + fdatasync no faster
 * and 1 MiB ones slower, as the extent conversion costs the journal commit
 * that the size update would have.  The scanner still reads a zero tail
 * (as a file system may leave after a crash) as the end of the records.
 *
 * Reads take only env_lock in read mode (held exclusively just while the
 * drive is re-opened in place), ov_lock for a hash lookup, a short LMDB
 * read txn and a preadv on a cached segment fd: they never wait for a
 * batch's fdatasync or a checkpoint.
 *
 * Lock order: env_lock -> fd_lock; q_lock, ov_lock and st_lock are leaves.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "chunkstore/chunkstore.h"
#include "common/file.h"
#include "common/hash.h"
#include "common/log.h"

#define SEG_MAGIC "CAIRNSEG"
#define SEG_HDR_LEN 64u
#define SEG_FORMAT 1u
#define REC_MAGIC "SHRD"
#define REC_HDR_LEN 64u
#define REC_FORMAT 1u
#define REC_SHARD 1u
#define REC_TOMB 2u
#define TOMB_LEN 12u /* payload of a tombstone: segment + offset it kills */
#define IDX_KEY_LEN (CHUNK_ID_LEN + 1)
#define IDX_VAL_LEN 32u
#define SEGSTAT_LEN 24u
#define STATE_LEN 40u
#define INDEX_FORMAT 2u
#define DEFAULT_SEGMENT_BYTES (256ull << 20)
#define INDEX_MAP_BYTES (32ull << 30) /* address space only; the file grows as used */
#define INDEX_MAX_READERS 1024
#define FD_CACHE 32
#define MAX_BATCH 256
#define MAX_BATCH_BYTES (64u << 20)
#define DRIVE_RESERVE_MIN (512ull << 10) /* free space kept from shards, see drive_shard_room */
#define DRIVE_RESERVE_MAX (64ull << 20)
#define REPLAY_TXN_RECORDS 4096
#define ITER_PAGE 256
#define CKPT_DEFAULT_RECORDS 8192u
#define CKPT_MAX_RECORDS (1u << 20)
#define CKPT_DEFAULT_MS 2000u
#define CKPT_MAX_BYTES (256ull << 20) /* payload logged: bounds replay after a crash */
/* tags of the entry checksum: which database an entry is in */
#define TAG_SHARDS 1u
#define TAG_SEGS 2u

struct rec_hdr {
    uint8_t type;
    uint8_t idx;
    uint8_t id[CHUNK_ID_LEN];
    uint32_t len;  /* payload bytes */
    uint32_t crc;  /* CRC32C of the payload */
    int64_t written;
    uint32_t hcrc; /* the header's own CRC (bytes 60..63) */
};

struct idx_entry {
    uint32_t seg;
    uint32_t len;
    uint64_t off; /* of the record header */
    uint32_t crc;
    int64_t written;
};

struct seg_stat {
    uint64_t live_shards;
    uint64_t live_bytes; /* payload bytes of live shards */
    uint64_t dead_bytes; /* whole records no longer live, tombstones, skipped garbage */
};

struct stat_delta {
    int64_t shards, live, dead;
};

struct seg_fd {
    uint32_t seg;
    int fd; /* -1: free slot */
    int refs;
    int stale; /* the segment was deleted: close when the last user is done */
    uint64_t used;
};

struct drive_req {
    struct drive_req *next;
    struct shard_write *w;
    int done;
};

/* One record appended since the last checkpoint (the overlay's log). */
struct ov_entry {
    uint8_t key[IDX_KEY_LEN];
    uint8_t type;    /* REC_SHARD or REC_TOMB */
    int32_t prev;    /* older log entry of the same key, -1: none */
    uint32_t seg;
    uint32_t len;
    uint32_t crc;
    uint32_t hcrc;
    uint64_t off;    /* of the record header */
    int64_t written;
};

/* The index's own record of how far it is complete (meta "state"). */
struct idx_state {
    uint32_t seg;      /* every record before (seg, off) is in the index */
    uint64_t off;
    uint32_t next_seg; /* number the next new segment gets */
    uint64_t digest;   /* sum of the entry checksums of shards + segments */
    uint64_t ck_off;   /* a header in segment seg: 0 = the segment header */
    uint32_t ck_crc;   /* ... and its CRC (bytes 60..63) */
};

struct drive {
    struct shard_store base;
    char path[PATH_MAX - 32];
    char index_path[PATH_MAX];
    uint64_t segment_bytes;
    uint64_t capacity;
    uint32_t ckpt_records;
    uint32_t ckpt_ms;

    /* Read mode: anything that uses env or the fd cache.  Write mode: only
     * drive_load/drive_unload (open, close, re-open in place). */
    pthread_rwlock_t env_lock;
    MDB_env *env; /* NULL after a failed re-open: reads fail -EIO */
    MDB_dbi dbi_shards, dbi_segs, dbi_meta;
    dev_t dev; /* identity of the folder, to notice it being replaced */
    ino_t ino;

    pthread_mutex_t fd_lock;
    struct seg_fd fds[FD_CACHE];
    uint64_t fd_tick;

    /* Group commit queue. */
    pthread_mutex_t q_lock;
    pthread_cond_t q_done;
    struct drive_req *q_head, *q_tail;
    int leader;

    /* Index overlay.  Changed only by the leader, under ov_lock; readers
     * see the first ov_visible log entries (those whose fdatasync is
     * done).  ov_slots: open addressing, -1 = empty, else the newest log
     * entry of a key. */
    pthread_mutex_t ov_lock;
    struct ov_entry *ov_log;
    int32_t *ov_slots;
    uint32_t ov_mask;
    int ov_cap;
    int ov_count;
    int ov_visible;
    uint64_t ov_bytes;  /* payload bytes in the log */
    double ckpt_last;   /* monotonic seconds */

    /* Owned by the batch leader (and by open/close, when nobody else runs). */
    struct drive_req *batch[MAX_BATCH];
    int active_fd;
    uint32_t active_seg;
    uint64_t active_end;
    uint32_t next_seg;
    uint64_t digest;       /* of the committed index */
    uint64_t digest_txn;   /* the same, inside the open write txn */
    uint32_t ck_seg;       /* newest known-good header: position check */
    uint64_t ck_off;
    uint32_t ck_crc;
    /* Sum of segment file sizes (capacity accounting).  Written only by
     * the leader, through disk_bytes_set(); stat reads it concurrently. */
    uint64_t disk_bytes;
    int lock_fd; /* flock'd <drive>/LOCK: one process per drive folder */
    int write_err;       /* sticky: set when a sync or an undo failed */
    int index_damaged;   /* atomic: LMDB reported damage; next batch rebuilds */

    pthread_mutex_t st_lock;
    uint64_t st_shards, st_live, st_dead;
    /* counters (atomic) */
    uint64_t n_writes, n_batches, n_syncs, n_ckpts;
};

static const struct shard_store_ops drive_ops;

static void disk_bytes_set(struct drive *d, uint64_t v)
{
    __atomic_store_n(&d->disk_bytes, v, __ATOMIC_RELAXED);
}

static void count(uint64_t *counter, uint64_t n)
{
    __atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

/* fdatasync, counted (every sync the drive asks for is in stat.syncs). */
static int drive_fdatasync(struct drive *d, int fd)
{
    count(&d->n_syncs, 1);
    return fdatasync(fd);
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Little-endian encoding and the two headers                          */

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Returns the header CRC it wrote. */
static uint32_t rec_hdr_encode(const struct rec_hdr *h, uint8_t out[REC_HDR_LEN])
{
    memset(out, 0, REC_HDR_LEN);
    memcpy(out, REC_MAGIC, 4);
    out[4] = REC_FORMAT;
    out[5] = h->type;
    out[6] = h->idx;
    memcpy(out + 8, h->id, CHUNK_ID_LEN);
    put_le32(out + 40, h->len);
    put_le32(out + 44, h->crc);
    put_le64(out + 48, (uint64_t)h->written);
    uint32_t hcrc = crc32c(0, out, 60);
    put_le32(out + 60, hcrc);
    return hcrc;
}

/* 0 if in is a well-formed record header, -1 if not. */
static int rec_hdr_decode(const uint8_t in[REC_HDR_LEN], struct rec_hdr *h)
{
    if (memcmp(in, REC_MAGIC, 4) != 0 || in[4] != REC_FORMAT)
        return -1;
    if (get_le32(in + 60) != crc32c(0, in, 60))
        return -1;
    h->type = in[5];
    h->idx = in[6];
    memcpy(h->id, in + 8, CHUNK_ID_LEN);
    h->len = get_le32(in + 40);
    h->crc = get_le32(in + 44);
    h->written = (int64_t)get_le64(in + 48);
    h->hcrc = get_le32(in + 60);
    if (h->type == REC_SHARD && h->len <= CS_MAX_CHUNK)
        return 0;
    if (h->type == REC_TOMB && h->len == TOMB_LEN)
        return 0;
    return -1;
}

static void seg_hdr_encode(uint32_t seg, uint8_t out[SEG_HDR_LEN])
{
    memset(out, 0, SEG_HDR_LEN);
    memcpy(out, SEG_MAGIC, 8);
    put_le32(out + 8, SEG_FORMAT);
    put_le32(out + 12, seg);
    put_le64(out + 16, (uint64_t)time(NULL));
    put_le32(out + 60, crc32c(0, out, 60));
}

static int seg_hdr_valid(const uint8_t in[SEG_HDR_LEN], uint32_t seg)
{
    return memcmp(in, SEG_MAGIC, 8) == 0 && get_le32(in + 8) == SEG_FORMAT &&
           get_le32(in + 12) == seg && get_le32(in + 60) == crc32c(0, in, 60);
}

static void idx_key(uint8_t key[IDX_KEY_LEN], const uint8_t id[CHUNK_ID_LEN], uint8_t idx)
{
    memcpy(key, id, CHUNK_ID_LEN);
    key[CHUNK_ID_LEN] = idx;
}

static void idx_val_encode(const struct idx_entry *e, uint8_t out[IDX_VAL_LEN])
{
    memset(out, 0, IDX_VAL_LEN);
    put_le32(out, e->seg);
    put_le32(out + 4, e->len);
    put_le64(out + 8, e->off);
    put_le32(out + 16, e->crc);
    put_le64(out + 24, (uint64_t)e->written);
}

static int idx_val_decode(const MDB_val *v, struct idx_entry *e)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < IDX_VAL_LEN)
        return -1;
    e->seg = get_le32(p);
    e->len = get_le32(p + 4);
    e->off = get_le64(p + 8);
    e->crc = get_le32(p + 16);
    e->written = (int64_t)get_le64(p + 24);
    return 0;
}

/* LMDB codes never leave this file: map them to errno.  The codes that
 * mean the index file is damaged become -EBADMSG, which the open path
 * answers by rebuilding the index (and readers report as -EIO). */
static int mdb_err(int rc)
{
    if (rc == 0)
        return 0;
    if (rc > 0)
        return -rc;
    if (rc == MDB_MAP_FULL)
        return -ENOSPC;
    if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
        rc == MDB_VERSION_MISMATCH || rc == MDB_BAD_TXN || rc == MDB_BAD_VALSIZE)
        return -EBADMSG;
    return -EIO;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

static void seg_path(const struct drive *d, uint32_t seg, char *out, size_t cap)
{
    snprintf(out, cap, "%s/seg-%08u.dat", d->path, seg);
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return -ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -errno;
        tmp[i] = c;
    }
    return 0;
}

/* Write the record image hdr||payload at off, at most limit bytes of it.
 * Returns 0 when the whole image was written, -errno otherwise. */
static int write_record_at(int fd, uint64_t off, const uint8_t *hdr, const void *payload,
                           uint32_t len, uint64_t limit)
{
    uint64_t total = REC_HDR_LEN + (uint64_t)len, done = 0;
    if (limit > total)
        limit = total;
    while (done < limit) {
        struct iovec iov[2];
        int cnt = 0;
        if (done < REC_HDR_LEN) {
            iov[cnt].iov_base = (void *)(hdr + done);
            iov[cnt].iov_len = REC_HDR_LEN - done;
            cnt++;
            if (len) {
                iov[cnt].iov_base = (void *)payload;
                iov[cnt].iov_len = len;
                cnt++;
            }
        } else {
            iov[cnt].iov_base = (uint8_t *)payload + (done - REC_HDR_LEN);
            iov[cnt].iov_len = total - done;
            cnt++;
        }
        /* trim the vector to the limit */
        uint64_t room = limit - done;
        for (int i = 0; i < cnt; i++) {
            if (iov[i].iov_len >= room) {
                iov[i].iov_len = room;
                cnt = i + 1;
                break;
            }
            room -= iov[i].iov_len;
        }
        ssize_t n = pwritev(fd, iov, cnt, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        done += (uint64_t)n;
    }
    return done == total ? 0 : -ENOSPC;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 1; /* short: end of file */
        done += (size_t)n;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Segment fd cache (readers)                                          */

static void segfd_clear(struct drive *d)
{
    pthread_mutex_lock(&d->fd_lock);
    for (int i = 0; i < FD_CACHE; i++) {
        if (d->fds[i].fd >= 0)
            close(d->fds[i].fd);
        d->fds[i].fd = -1;
        d->fds[i].refs = 0;
        d->fds[i].stale = 0;
    }
    pthread_mutex_unlock(&d->fd_lock);
}

/* Returns an fd for segment seg (or -errno); *slot is the cache slot to
 * hand back to segfd_release, -1 for an uncached fd. */
static int segfd_acquire(struct drive *d, uint32_t seg, int *slot)
{
    char path[PATH_MAX];
    int fd, victim = -1;

    *slot = -1;
    pthread_mutex_lock(&d->fd_lock);
    for (int i = 0; i < FD_CACHE; i++) {
        if (d->fds[i].fd >= 0 && d->fds[i].seg == seg && !d->fds[i].stale) {
            d->fds[i].refs++;
            d->fds[i].used = ++d->fd_tick;
            *slot = i;
            fd = d->fds[i].fd;
            goto out;
        }
    }
    seg_path(d, seg, path, sizeof path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fd = -errno;
        goto out;
    }
    for (int i = 0; i < FD_CACHE; i++) {
        if (d->fds[i].fd < 0) {
            victim = i;
            break;
        }
        if (d->fds[i].refs == 0 && (victim < 0 || d->fds[i].used < d->fds[victim].used))
            victim = i;
    }
    if (victim >= 0) {
        if (d->fds[victim].fd >= 0)
            close(d->fds[victim].fd);
        d->fds[victim] = (struct seg_fd){.seg = seg, .fd = fd, .refs = 1, .used = ++d->fd_tick};
        *slot = victim;
    }
out:
    pthread_mutex_unlock(&d->fd_lock);
    return fd;
}

static void segfd_release(struct drive *d, int slot, int fd)
{
    if (fd < 0)
        return;
    if (slot < 0) {
        close(fd);
        return;
    }
    pthread_mutex_lock(&d->fd_lock);
    if (--d->fds[slot].refs == 0 && d->fds[slot].stale) {
        close(d->fds[slot].fd);
        d->fds[slot] = (struct seg_fd){.fd = -1};
    }
    pthread_mutex_unlock(&d->fd_lock);
}

/* Segment seg was deleted: close its cached fd now, or when its last
 * reader releases it (the file's space comes back only then). */
static void segfd_forget(struct drive *d, uint32_t seg)
{
    pthread_mutex_lock(&d->fd_lock);
    for (int i = 0; i < FD_CACHE; i++) {
        if (d->fds[i].fd < 0 || d->fds[i].seg != seg || d->fds[i].stale)
            continue;
        if (d->fds[i].refs == 0) {
            close(d->fds[i].fd);
            d->fds[i] = (struct seg_fd){.fd = -1};
        } else {
            d->fds[i].stale = 1;
        }
    }
    pthread_mutex_unlock(&d->fd_lock);
}

/* ------------------------------------------------------------------ */
/* Index                                                               */

/* The index checksum.  Every entry of `shards` and `segments` has a 64-bit
 * hash (CRC-64 of tag, key, value); the index stores their sum (mod 2^64)
 * in its state and open recomputes it, so an entry damaged on disk (or a
 * page of another snapshot) is noticed and the index rebuilt.  A sum can
 * be kept up to date per change: minus the old entry, plus the new one.
 * All changes to those two databases go through index_apply, dput and
 * dcursor_del, which keep d->digest_txn current; it becomes d->digest on
 * commit. */
static uint64_t entry_hash(uint8_t tag, const MDB_val *k, const MDB_val *v)
{
    struct cksum c;
    uint8_t out[CKSUM_MAX_LEN];
    uint64_t h = 0;
    cksum_init(&c, CKSUM_CRC64NVME); /* a CRC: cannot fail */
    cksum_update(&c, &tag, 1);
    cksum_update(&c, k->mv_data, k->mv_size);
    cksum_update(&c, v->mv_data, v->mv_size);
    cksum_final(&c, out);
    for (int i = 0; i < 8; i++)
        h = h << 8 | out[i];
    return h;
}

static int dput(struct drive *d, MDB_txn *txn, MDB_dbi dbi, uint8_t tag, MDB_val *k, MDB_val *v)
{
    MDB_val old;
    int rc = mdb_get(txn, dbi, k, &old);
    if (rc == 0)
        d->digest_txn -= entry_hash(tag, k, &old);
    else if (rc != MDB_NOTFOUND)
        return rc;
    rc = mdb_put(txn, dbi, k, v, 0);
    if (rc == 0)
        d->digest_txn += entry_hash(tag, k, v);
    return rc;
}

static int dcursor_del(struct drive *d, MDB_cursor *cur, uint8_t tag, const MDB_val *k,
                       const MDB_val *v)
{
    d->digest_txn -= entry_hash(tag, k, v);
    return mdb_cursor_del(cur, 0);
}

/* Recompute the checksum of the whole index.  Returns an LMDB code. */
static int digest_walk(struct drive *d, MDB_txn *txn, uint64_t *out)
{
    const MDB_dbi dbis[2] = {d->dbi_shards, d->dbi_segs};
    const uint8_t tags[2] = {TAG_SHARDS, TAG_SEGS};
    uint64_t sum = 0;
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        rc = mdb_cursor_open(txn, dbis[i], &cur);
        if (rc)
            break;
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            /* sizes first: a damaged node may claim gigabytes */
            if (tags[i] == TAG_SHARDS ? k.mv_size != IDX_KEY_LEN || v.mv_size != IDX_VAL_LEN
                                      : k.mv_size != 4 || v.mv_size != SEGSTAT_LEN) {
                rc = MDB_CORRUPTED;
                break;
            }
            sum += entry_hash(tags[i], &k, &v);
        }
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc == 0)
        *out = sum;
    return rc;
}

static int wtxn_begin(struct drive *d, MDB_txn **txn)
{
    d->digest_txn = d->digest;
    return mdb_txn_begin(d->env, NULL, 0, txn);
}

/* Commit (one fdatasync of the index: MDB_NOMETASYNC). */
static int wtxn_commit(struct drive *d, MDB_txn *txn)
{
    count(&d->n_syncs, 1);
    int rc = mdb_txn_commit(txn);
    if (rc == 0)
        d->digest = d->digest_txn;
    return rc;
}

static void segstat_key(uint32_t seg, uint8_t kb[4])
{
    kb[0] = (uint8_t)(seg >> 24);
    kb[1] = (uint8_t)(seg >> 16);
    kb[2] = (uint8_t)(seg >> 8);
    kb[3] = (uint8_t)seg;
}

static int segstat_get(MDB_txn *txn, struct drive *d, uint32_t seg, struct seg_stat *st)
{
    uint8_t kb[4];
    segstat_key(seg, kb);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = mdb_get(txn, d->dbi_segs, &k, &v);
    memset(st, 0, sizeof *st);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.mv_size >= SEGSTAT_LEN) {
        const uint8_t *p = v.mv_data;
        st->live_shards = get_le64(p);
        st->live_bytes = get_le64(p + 8);
        st->dead_bytes = get_le64(p + 16);
    }
    return 0;
}

static int segstat_add(MDB_txn *txn, struct drive *d, uint32_t seg, int64_t shards,
                       int64_t live, int64_t dead)
{
    struct seg_stat st;
    uint8_t kb[4];
    uint8_t vb[SEGSTAT_LEN];
    int rc = segstat_get(txn, d, seg, &st);
    if (rc)
        return rc;
    segstat_key(seg, kb);
    put_le64(vb, st.live_shards + (uint64_t)shards);
    put_le64(vb + 8, st.live_bytes + (uint64_t)live);
    put_le64(vb + 16, st.dead_bytes + (uint64_t)dead);
    MDB_val k = {sizeof kb, kb}, v = {sizeof vb, vb};
    return dput(d, txn, d->dbi_segs, TAG_SEGS, &k, &v);
}

static int meta_put(MDB_txn *txn, struct drive *d, const char *name, const void *val, size_t len)
{
    MDB_val k = {strlen(name), (void *)name}, v = {len, (void *)val};
    return mdb_put(txn, d->dbi_meta, &k, &v, 0);
}

/* 0 and *val filled (exactly len bytes stored), MDB_NOTFOUND, or an error. */
static int meta_get(MDB_txn *txn, struct drive *d, const char *name, void *val, size_t len)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(txn, d->dbi_meta, &k, &v);
    if (rc)
        return rc;
    if (v.mv_size != len)
        return MDB_NOTFOUND;
    memcpy(val, v.mv_data, len);
    return 0;
}

/* 0 and *st filled, MDB_NOTFOUND (absent or failing its CRC), or an error. */
static int state_get(MDB_txn *txn, struct drive *d, struct idx_state *st)
{
    uint8_t b[STATE_LEN];
    int rc = meta_get(txn, d, "state", b, sizeof b);
    if (rc)
        return rc;
    if (get_le32(b + 36) != crc32c(0, b, 36))
        return MDB_NOTFOUND;
    st->seg = get_le32(b);
    st->next_seg = get_le32(b + 4);
    st->off = get_le64(b + 8);
    st->digest = get_le64(b + 16);
    st->ck_off = get_le64(b + 24);
    st->ck_crc = get_le32(b + 32);
    return 0;
}

/* Record in txn that the index is complete up to (seg, off) of the
 * segment open as fd, with the running checksum.  The position check is
 * the newest header known in seg (d->ck_*), or seg's own header.  Call
 * last in a txn: the digest must be final. */
static int state_put(MDB_txn *txn, struct drive *d, uint32_t seg, uint64_t off, int fd)
{
    uint8_t b[STATE_LEN];
    if (d->ck_seg != seg) {
        uint8_t sh[SEG_HDR_LEN];
        int r = pread_full(fd, sh, sizeof sh, 0);
        if (r)
            return r < 0 ? -r : EIO;
        d->ck_seg = seg;
        d->ck_off = 0;
        d->ck_crc = get_le32(sh + 60);
    }
    memset(b, 0, sizeof b);
    put_le32(b, seg);
    put_le32(b + 4, d->next_seg);
    put_le64(b + 8, off);
    put_le64(b + 16, d->digest_txn);
    put_le64(b + 24, d->ck_off);
    put_le32(b + 32, d->ck_crc);
    put_le32(b + 36, crc32c(0, b, 36));
    return meta_put(txn, d, "state", b, sizeof b);
}

/* What record h, replacing old (NULL: nothing there), does to the counts. */
static void delta_of(const struct idx_entry *old, const struct rec_hdr *h, struct stat_delta *delta)
{
    if (old) {
        delta->shards--;
        delta->live -= old->len;
        delta->dead += REC_HDR_LEN + (int64_t)old->len;
    }
    if (h->type == REC_TOMB) {
        delta->dead += REC_HDR_LEN + TOMB_LEN;
    } else {
        delta->shards++;
        delta->live += h->len;
    }
}

/* Per-segment count changes of a run of records, written to `segments`
 * once per segment instead of twice per record (a checkpoint or a replay
 * txn touches few segments, many times). */
struct seg_acc {
    uint32_t seg;
    int64_t shards, live, dead;
};

struct seg_accs {
    struct seg_acc *v;
    size_t n, cap;
};

static int acc_add(struct seg_accs *a, uint32_t seg, int64_t shards, int64_t live, int64_t dead)
{
    size_t i = a->n;
    while (i > 0 && a->v[i - 1].seg != seg)
        i--;
    if (i == 0) {
        if (a->n == a->cap) {
            size_t nc = a->cap ? a->cap * 2 : 16;
            struct seg_acc *nv = realloc(a->v, nc * sizeof *nv);
            if (!nv)
                return ENOMEM;
            a->v = nv;
            a->cap = nc;
        }
        a->v[a->n] = (struct seg_acc){.seg = seg};
        i = ++a->n;
    }
    a->v[i - 1].shards += shards;
    a->v[i - 1].live += live;
    a->v[i - 1].dead += dead;
    return 0;
}

/* Write the accumulated changes into txn and empty a.  LMDB code. */
static int acc_flush(MDB_txn *txn, struct drive *d, struct seg_accs *a)
{
    int rc = 0;
    for (size_t i = 0; i < a->n && rc == 0; i++)
        rc = segstat_add(txn, d, a->v[i].seg, a->v[i].shards, a->v[i].live, a->v[i].dead);
    a->n = 0;
    return rc;
}

/* Apply one record found at (seg, off) to the index: a shard replaces
 * whatever entry its key had, a tombstone removes it.  The superseded
 * record turns into dead bytes of its segment (counted in acc, written by
 * acc_flush).  delta may be NULL.  Returns an LMDB code. */
static int index_apply(MDB_txn *txn, struct drive *d, const struct rec_hdr *h, uint32_t seg,
                       uint64_t off, struct seg_accs *acc, struct stat_delta *delta)
{
    uint8_t kb[IDX_KEY_LEN], vb[IDX_VAL_LEN];
    MDB_val k = {sizeof kb, kb}, v, nv;
    struct idx_entry old;
    struct stat_delta ignored;
    uint64_t old_hash = 0;
    int rc, have_old = 0, exists;

    if (!delta)
        delta = &ignored;
    idx_key(kb, h->id, h->idx);
    rc = mdb_get(txn, d->dbi_shards, &k, &v);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    exists = rc == 0;
    if (exists) {
        old_hash = entry_hash(TAG_SHARDS, &k, &v);
        if (idx_val_decode(&v, &old) == 0) {
            have_old = 1;
            rc = acc_add(acc, old.seg, -1, -(int64_t)old.len, REC_HDR_LEN + (int64_t)old.len);
            if (rc)
                return rc;
        }
    }
    delta_of(have_old ? &old : NULL, h, delta);
    if (h->type == REC_TOMB) {
        if (have_old) {
            rc = mdb_del(txn, d->dbi_shards, &k, NULL);
            if (rc)
                return rc;
            d->digest_txn -= old_hash;
        }
        return acc_add(acc, seg, 0, 0, REC_HDR_LEN + TOMB_LEN);
    }
    struct idx_entry e = {.seg = seg, .len = h->len, .off = off, .crc = h->crc, .written = h->written};
    idx_val_encode(&e, vb);
    nv.mv_size = sizeof vb;
    nv.mv_data = vb;
    rc = mdb_put(txn, d->dbi_shards, &k, &nv, 0);
    if (rc)
        return rc;
    d->digest_txn += entry_hash(TAG_SHARDS, &k, &nv) - old_hash;
    return acc_add(acc, seg, 1, h->len, 0);
}

static void delta_apply(struct drive *d, const struct stat_delta *delta)
{
    pthread_mutex_lock(&d->st_lock);
    d->st_shards += (uint64_t)delta->shards;
    d->st_live += (uint64_t)delta->live;
    d->st_dead += (uint64_t)delta->dead;
    pthread_mutex_unlock(&d->st_lock);
}

/* ------------------------------------------------------------------ */
/* Index overlay: what was written since the last checkpoint           */

static uint32_t ov_hash(const uint8_t key[IDX_KEY_LEN])
{
    /* the chunk id is a SHA-256: any 4 of its bytes are a fine hash */
    return get_le32(key) ^ (uint32_t)key[CHUNK_ID_LEN] * 0x9e3779b1u;
}

/* Slot of key in the table: the one holding it, or the empty one where it
 * would go.  Caller holds ov_lock (or is the only one running). */
static uint32_t ov_slot(const struct drive *d, const uint8_t key[IDX_KEY_LEN])
{
    uint32_t i = ov_hash(key) & d->ov_mask;
    while (d->ov_slots[i] >= 0 && memcmp(d->ov_log[d->ov_slots[i]].key, key, IDX_KEY_LEN) != 0)
        i = (i + 1) & d->ov_mask;
    return i;
}

/* Newest entry for key among the first `limit` log entries, copied to *out.
 * Returns 1 if found, 0 if the overlay knows nothing of key.  Takes ov_lock. */
static int ov_find(struct drive *d, const uint8_t key[IDX_KEY_LEN], int leader_view,
                   struct ov_entry *out)
{
    int found = 0;
    pthread_mutex_lock(&d->ov_lock);
    if (d->ov_count) {
        int limit = leader_view ? d->ov_count : d->ov_visible;
        int32_t i = d->ov_slots[ov_slot(d, key)];
        while (i >= limit)
            i = d->ov_log[i].prev;
        if (i >= 0) {
            *out = d->ov_log[i];
            found = 1;
        }
    }
    pthread_mutex_unlock(&d->ov_lock);
    return found;
}

/* Leader: log the record just appended at (seg, off).  Not visible to
 * readers until ov_publish().  The caller made sure there is room. */
static void ov_add(struct drive *d, const struct rec_hdr *h, uint32_t seg, uint64_t off)
{
    pthread_mutex_lock(&d->ov_lock);
    int32_t n = d->ov_count;
    struct ov_entry *e = &d->ov_log[n];
    idx_key(e->key, h->id, h->idx);
    uint32_t slot = ov_slot(d, e->key);
    e->type = h->type;
    e->prev = d->ov_slots[slot];
    e->seg = seg;
    e->len = h->len;
    e->crc = h->crc;
    e->hcrc = h->hcrc;
    e->off = off;
    e->written = h->written;
    d->ov_slots[slot] = n;
    d->ov_count = n + 1;
    if (h->type == REC_SHARD)
        d->ov_bytes += h->len;
    pthread_mutex_unlock(&d->ov_lock);
}

/* Leader: the batch is durable, let readers see it. */
static void ov_publish(struct drive *d)
{
    pthread_mutex_lock(&d->ov_lock);
    d->ov_visible = d->ov_count;
    pthread_mutex_unlock(&d->ov_lock);
}

/* Keep only the first n log entries (n = 0: empty the overlay, after a
 * checkpoint or when the drive is re-opened; n = ov_visible: forget a
 * failed batch).  The table is rebuilt, as open addressing cannot
 * un-insert. */
static void ov_truncate(struct drive *d, int n)
{
    pthread_mutex_lock(&d->ov_lock);
    if (d->ov_slots)
        memset(d->ov_slots, 0xff, ((size_t)d->ov_mask + 1) * sizeof *d->ov_slots);
    d->ov_count = 0;
    d->ov_bytes = 0;
    for (int i = 0; i < n; i++) {
        struct ov_entry *e = &d->ov_log[i];
        uint32_t slot = ov_slot(d, e->key);
        e->prev = d->ov_slots[slot];
        d->ov_slots[slot] = i;
        d->ov_count = i + 1;
        if (e->type == REC_SHARD)
            d->ov_bytes += e->len;
    }
    d->ov_visible = d->ov_count;
    pthread_mutex_unlock(&d->ov_lock);
}

static int ov_alloc(struct drive *d)
{
    uint32_t slots = 1;
    d->ov_cap = (int)d->ckpt_records + MAX_BATCH;
    while (slots < 2u * (uint32_t)d->ov_cap)
        slots <<= 1;
    d->ov_mask = slots - 1;
    d->ov_log = malloc((size_t)d->ov_cap * sizeof *d->ov_log);
    d->ov_slots = malloc((size_t)slots * sizeof *d->ov_slots);
    if (!d->ov_log || !d->ov_slots)
        return -ENOMEM;
    ov_truncate(d, 0);
    return 0;
}

/*
 * Leader (or open/close): apply the overlay to LMDB in one transaction,
 * together with the position up to which the index is now complete (the
 * end of the active segment: every record before it is in the log or
 * already in LMDB), commit (one fdatasync), then empty the overlay.
 * Readers keep using the overlay until LMDB has it, so a lookup never
 * falls between the two.  On failure the overlay is kept (still right for
 * reads) and the next batch tries again.
 */
static int drive_checkpoint(struct drive *d)
{
    MDB_txn *txn = NULL;
    struct seg_accs acc = {0};
    int rc;

    d->ckpt_last = now_mono();
    if (!d->env || d->active_fd < 0)
        return -EIO;
    if (d->ov_count == 0)
        return 0;
    rc = wtxn_begin(d, &txn);
    for (int i = 0; rc == 0 && i < d->ov_count; i++) {
        const struct ov_entry *e = &d->ov_log[i];
        struct rec_hdr h = {.type = e->type, .idx = e->key[CHUNK_ID_LEN], .len = e->len,
                            .crc = e->crc, .written = e->written, .hcrc = e->hcrc};
        memcpy(h.id, e->key, CHUNK_ID_LEN);
        rc = index_apply(txn, d, &h, e->seg, e->off, &acc, NULL);
    }
    if (rc == 0)
        rc = acc_flush(txn, d, &acc);
    free(acc.v);
    if (rc == 0) {
        const struct ov_entry *last = &d->ov_log[d->ov_count - 1];
        if (last->seg == d->active_seg) {
            d->ck_seg = last->seg;
            d->ck_off = last->off;
            d->ck_crc = last->hcrc;
        }
        rc = state_put(txn, d, d->active_seg, d->active_end, d->active_fd);
    }
    if (rc == 0) {
        rc = wtxn_commit(d, txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    if (rc) {
        log_error("drive %s: index checkpoint failed: %s", d->path,
                  rc > 0 ? strerror(rc) : mdb_strerror(rc));
        rc = mdb_err(rc);
        if (rc == -EBADMSG)
            __atomic_store_n(&d->index_damaged, 1, __ATOMIC_RELAXED);
        return rc;
    }
    count(&d->n_ckpts, 1);
    ov_truncate(d, 0);
    return 0;
}

static int drive_checkpoint_due(const struct drive *d)
{
    if (d->ov_count == 0)
        return 0;
    return d->ov_count >= (int)d->ckpt_records || d->ov_bytes >= CKPT_MAX_BYTES ||
           (now_mono() - d->ckpt_last) * 1000.0 >= d->ckpt_ms;
}

/* Delete the index files (the env must be closed): the next index_open
 * starts an empty index, which open fills from the segments. */
static void index_remove(struct drive *d)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/data.mdb", d->index_path);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", d->index_path);
    unlink(p);
}

/* LMDB reads its file through a map larger than the file.  A damaged page
 * (garbage node offsets) can point up to 64 KiB past itself, and touching
 * the map past the end of the file is SIGBUS, not an error code.  So keep
 * the file at least 128 KiB longer than its last page (zeros LMDB never
 * uses): damage then reads as garbage, which the checks catch. */
static void index_pad(struct drive *d, MDB_env *env)
{
    MDB_envinfo info;
    MDB_stat ms;
    char p[PATH_MAX + 16];
    struct stat st;
    if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &ms) != 0)
        return;
    uint64_t need = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize + (128u << 10);
    snprintf(p, sizeof p, "%s/data.mdb", d->index_path);
    if (stat(p, &st) == 0 && (uint64_t)st.st_size < need && truncate(p, (off_t)need) != 0)
        log_warn("drive %s: cannot pad the index file: %s", d->path, strerror(errno));
}

/* Open the env, rebuilding it from nothing if LMDB says it is unreadable. */
static int index_open(struct drive *d)
{
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        MDB_env *env = NULL;
        MDB_txn *txn = NULL;
        rc = mdb_env_create(&env);
        if (rc)
            return mdb_err(rc);
        mdb_env_set_maxdbs(env, 4);
        mdb_env_set_mapsize(env, INDEX_MAP_BYTES);
        mdb_env_set_maxreaders(env, INDEX_MAX_READERS);
        rc = mdb_env_open(env, d->index_path, MDB_NOMETASYNC | MDB_NOTLS, 0644);
        if (rc == 0) {
            index_pad(d, env);
            rc = mdb_txn_begin(env, NULL, 0, &txn);
        }
        if (rc == 0)
            rc = mdb_dbi_open(txn, "shards", MDB_CREATE, &d->dbi_shards);
        if (rc == 0)
            rc = mdb_dbi_open(txn, "segments", MDB_CREATE, &d->dbi_segs);
        if (rc == 0)
            rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &d->dbi_meta);
        if (rc == 0) {
            rc = mdb_txn_commit(txn);
            txn = NULL;
        }
        if (rc == 0) {
            d->env = env;
            return 0;
        }
        if (txn)
            mdb_txn_abort(txn);
        mdb_env_close(env);
        if (attempt == 0 && mdb_err(rc) == -EBADMSG) {
            log_warn("drive %s: index unreadable (%s), rebuilding it from the segments",
                     d->path, mdb_strerror(rc));
            index_remove(d);
            continue;
        }
        break;
    }
    log_error("drive %s: cannot open index: %s", d->path, mdb_strerror(rc));
    return mdb_err(rc);
}

/* ------------------------------------------------------------------ */
/* Open: list segments, reconcile the index with them, replay           */

struct seg_file {
    uint32_t seg;
};

static int seg_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct seg_file *)a)->seg, y = ((const struct seg_file *)b)->seg;
    return x < y ? -1 : x > y;
}

static int list_segments(struct drive *d, struct seg_file **out, size_t *nout)
{
    DIR *dir = opendir(d->path);
    struct seg_file *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;

    if (!dir)
        return -errno;
    while ((de = readdir(dir)) != NULL) {
        const char *s = de->d_name;
        /* exactly seg-NNNNNNNN.dat */
        if (strlen(s) != 16 || memcmp(s, "seg-", 4) != 0 || strcmp(s + 12, ".dat") != 0)
            continue;
        uint32_t seg = 0;
        int ok = 1;
        for (int i = 4; i < 12; i++) {
            if (s[i] < '0' || s[i] > '9')
                ok = 0;
            seg = seg * 10 + (uint32_t)(s[i] - '0');
        }
        if (!ok || seg == 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct seg_file *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                free(v);
                closedir(dir);
                return -ENOMEM;
            }
            v = nv;
            cap = nc;
        }
        v[n++].seg = seg;
    }
    closedir(dir);
    if (n)
        qsort(v, n, sizeof *v, seg_cmp);
    *out = v;
    *nout = n;
    return 0;
}

static int seg_listed(const struct seg_file *segs, size_t n, uint32_t seg)
{
    struct seg_file key = {seg};
    return bsearch(&key, segs, n, sizeof *segs, seg_cmp) != NULL;
}

/* Does the index's recorded position fit the segment files?  The applied
 * segment must exist and reach the recorded offset, and hold at ck_off the
 * header whose CRC the index remembers.  This catches an index that is
 * ahead of the segments (segments restored from an older copy, a lost
 * fsync of theirs) or belongs to other segments (copied in from another
 * folder).  Returns 1 if it fits. */
static int position_fits(struct drive *d, const struct idx_state *st)
{
    char path[PATH_MAX];
    uint8_t hb[REC_HDR_LEN];
    struct stat sb;
    struct rec_hdr h;
    int ok = 0;

    seg_path(d, st->seg, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size < st->off || st->off < SEG_HDR_LEN ||
        pread_full(fd, hb, sizeof hb, st->ck_off) != 0)
        goto out;
    if (st->ck_off == 0)
        ok = seg_hdr_valid(hb, st->seg) && get_le32(hb + 60) == st->ck_crc;
    else
        ok = rec_hdr_decode(hb, &h) == 0 && h.hcrc == st->ck_crc &&
             st->ck_off + REC_HDR_LEN + h.len <= st->off;
out:
    close(fd);
    return ok;
}

/* Make the index agree with the segment files present: drop it (rebuild
 * from scratch) when it has no state, is of an older format, no segment
 * exists any more, its position does not fit the segments or its
 * checksum does not match its entries; forget entries of segments that
 * were removed behind our back.  Sets wm_seg and wm_off to where replay
 * starts (0/0: from the first). */
static int index_reconcile(struct drive *d, const struct seg_file *segs, size_t n,
                           uint32_t *wm_seg, uint64_t *wm_off)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint32_t *missing = NULL;
    size_t nmissing = 0, capmissing = 0;
    uint8_t b[4];
    struct idx_state st;
    const char *why = NULL;
    uint64_t sum = 0;
    int rc, fmt_old = 0;

    rc = wtxn_begin(d, &txn);
    if (rc)
        goto out;
    rc = meta_get(txn, d, "format", b, 4);
    if (rc == MDB_NOTFOUND) {
        put_le32(b, INDEX_FORMAT);
        rc = meta_put(txn, d, "format", b, 4);
    } else if (rc == 0 && get_le32(b) < INDEX_FORMAT) {
        fmt_old = 1; /* a cache of an older layout: rebuild it */
    } else if (rc == 0 && get_le32(b) != INDEX_FORMAT) {
        log_error("drive %s: index format %u not supported", d->path, get_le32(b));
        rc = MDB_INCOMPATIBLE;
    }
    if (rc)
        goto out;

    d->next_seg = 1;
    int have_state = !fmt_old && state_get(txn, d, &st) == 0;
    if (fmt_old)
        why = "index of an older format";
    else if (!have_state)
        why = "index incomplete";
    else if (n == 0)
        why = "no segment files left";
    else if (!position_fits(d, &st))
        why = "index does not match the segment files";
    else if (digest_walk(d, txn, &sum) != 0 || sum != st.digest) {
        /* damaged: do not even let LMDB free its pages (mdb_drop would
         * follow the damage); start a new file */
        log_warn("drive %s: index checksum mismatch (damaged index)", d->path);
        rc = MDB_CORRUPTED;
        goto out;
    }
    if (why) {
        MDB_stat ms;
        if (mdb_stat(txn, d->dbi_shards, &ms) == 0 && ms.ms_entries)
            log_warn("drive %s: %s; dropping %zu index entries and rebuilding from the segments",
                     d->path, why, (size_t)ms.ms_entries);
        *wm_seg = 0;
        *wm_off = 0;
        rc = mdb_drop(txn, d->dbi_shards, 0);
        if (rc == 0)
            rc = mdb_drop(txn, d->dbi_segs, 0);
        if (rc == 0)
            rc = mdb_drop(txn, d->dbi_meta, 0);
        if (rc == 0) {
            put_le32(b, INDEX_FORMAT);
            rc = meta_put(txn, d, "format", b, 4);
        }
        d->digest = d->digest_txn = 0;
        d->ck_seg = 0;
        if (n && segs[n - 1].seg >= d->next_seg)
            d->next_seg = segs[n - 1].seg + 1;
        if (rc == 0) {
            rc = wtxn_commit(d, txn);
            txn = NULL;
        }
        goto out;
    }
    *wm_seg = st.seg;
    *wm_off = st.off;
    d->digest = d->digest_txn = st.digest;
    d->ck_seg = st.seg;
    d->ck_off = st.ck_off;
    d->ck_crc = st.ck_crc;
    if (st.next_seg > 0)
        d->next_seg = st.next_seg;
    if (segs[n - 1].seg >= d->next_seg)
        d->next_seg = segs[n - 1].seg + 1;

    /* Segments the index knows but the folder no longer has. */
    MDB_val k, v;
    rc = mdb_cursor_open(txn, d->dbi_segs, &cur);
    if (rc)
        goto out;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 4)
            continue;
        const uint8_t *kp = k.mv_data;
        uint32_t seg = (uint32_t)kp[0] << 24 | (uint32_t)kp[1] << 16 | (uint32_t)kp[2] << 8 | kp[3];
        if (seg_listed(segs, n, seg))
            continue;
        if (v.mv_size >= SEGSTAT_LEN && get_le64(v.mv_data) > 0) {
            if (nmissing == capmissing) {
                size_t nc = capmissing ? capmissing * 2 : 16;
                uint32_t *nm = realloc(missing, nc * sizeof *nm);
                if (!nm) {
                    rc = ENOMEM;
                    goto out;
                }
                missing = nm;
                capmissing = nc;
            }
            missing[nmissing++] = seg;
        }
        rc = dcursor_del(d, cur, TAG_SEGS, &k, &v);
        if (rc)
            goto out;
    }
    if (rc != MDB_NOTFOUND)
        goto out;
    mdb_cursor_close(cur);
    cur = NULL;
    if (nmissing) {
        size_t dropped = 0;
        log_warn("drive %s: %zu segment files with live shards are gone; forgetting them",
                 d->path, nmissing);
        rc = mdb_cursor_open(txn, d->dbi_shards, &cur);
        if (rc)
            goto out;
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            struct idx_entry e;
            if (idx_val_decode(&v, &e) != 0)
                continue;
            for (size_t i = 0; i < nmissing; i++) {
                if (missing[i] == e.seg) {
                    rc = dcursor_del(d, cur, TAG_SHARDS, &k, &v);
                    if (rc)
                        goto out;
                    dropped++;
                    break;
                }
            }
        }
        if (rc != MDB_NOTFOUND)
            goto out;
        mdb_cursor_close(cur);
        cur = NULL;
        log_warn("drive %s: dropped %zu index entries of missing segments", d->path, dropped);
    }
    if (d->digest_txn != d->digest) {
        /* the checksum changed: record it (the position stays) */
        char path[PATH_MAX];
        seg_path(d, st.seg, path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        rc = fd < 0 ? errno : state_put(txn, d, st.seg, st.off, fd);
        if (fd >= 0)
            close(fd);
        if (rc)
            goto out;
        rc = wtxn_commit(d, txn);
    } else {
        mdb_txn_abort(txn);
        rc = 0;
    }
    txn = NULL;
out:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    free(missing);
    return mdb_err(rc);
}

/* Offset of the next plausible record header in (from, size): magic, a
 * valid header CRC and a record that fits in the file.  size if none.
 * *nonzero: whether any byte before that was not zero (all zeros is a
 * tail of blocks never written, not damage). */
static uint64_t resync(int fd, uint64_t from, uint64_t size, int *nonzero)
{
    enum { WIN = 1 << 20 };
    uint8_t *buf = malloc(WIN);
    uint64_t pos = from, found = size;
    *nonzero = 1;
    if (!buf)
        return size;
    *nonzero = 0;
    while (pos + REC_HDR_LEN <= size) {
        size_t want = size - pos < WIN ? (size_t)(size - pos) : WIN;
        if (pread_full(fd, buf, want, pos) != 0)
            break;
        for (size_t i = 0; i < want; i++) {
            struct rec_hdr h;
            if (buf[i] == 0)
                continue;
            *nonzero = 1;
            if (buf[i] != 'S' || pos + i == from || i + REC_HDR_LEN > want ||
                memcmp(buf + i, REC_MAGIC, 4) != 0)
                continue;
            if (rec_hdr_decode(buf + i, &h) == 0 &&
                pos + i + REC_HDR_LEN + h.len <= size) {
                found = pos + i;
                goto out;
            }
        }
        if (want < WIN)
            break;
        pos += want - REC_HDR_LEN + 1; /* overlap so no header straddles */
    }
out:
    free(buf);
    return found;
}

enum { REC_OK = 0, REC_BAD_HDR = 1, REC_BAD_PAYLOAD = 2 };

/* Read and check the record at pos.  REC_OK, REC_BAD_HDR (no usable header
 * or the record runs past the end), REC_BAD_PAYLOAD (header fine, payload
 * CRC wrong), or -errno. */
static int read_record(int fd, uint64_t pos, uint64_t size, struct rec_hdr *h, uint8_t **buf,
                       size_t *cap)
{
    uint8_t hb[REC_HDR_LEN];
    int rc;
    if (size - pos < REC_HDR_LEN)
        return REC_BAD_HDR;
    rc = pread_full(fd, hb, sizeof hb, pos);
    if (rc < 0)
        return rc;
    if (rc > 0 || rec_hdr_decode(hb, h) != 0)
        return REC_BAD_HDR;
    if (pos + REC_HDR_LEN + h->len > size)
        return REC_BAD_HDR;
    if (h->len > *cap) {
        uint8_t *nb = realloc(*buf, h->len);
        if (!nb)
            return -ENOMEM;
        *buf = nb;
        *cap = h->len;
    }
    rc = pread_full(fd, *buf, h->len, pos + REC_HDR_LEN);
    if (rc < 0)
        return rc;
    if (rc > 0)
        return REC_BAD_HDR;
    if (crc32c(0, *buf, h->len) != h->crc)
        return REC_BAD_PAYLOAD;
    return REC_OK;
}

/*
 * Apply every record from (wm_seg, wm_off) to the end of the last segment.
 * Normally that is nothing, or what was written since the last index
 * checkpoint if the process or the machine died; after an index loss it is
 * everything.  A bad stretch followed by a good record is bit rot: skipped
 * and counted dead.  A bad stretch running to the end of the last segment
 * is a write torn by a crash (never acknowledged: everything acknowledged
 * was fdatasync'd, and the batches before it are whole), or zeros where a
 * crash kept a size but not the data: truncated away.
 */
static int replay(struct drive *d, const struct seg_file *segs, size_t n, uint32_t wm_seg,
                  uint64_t wm_off)
{
    MDB_txn *txn = NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, nrec = 0, total = 0;
    struct stat_delta delta = {0};
    struct seg_accs acc = {0};
    int fd = -1, rc = 0;

    for (size_t i = 0; i < n; i++) {
        uint32_t seg = segs[i].seg;
        int last = i == n - 1;
        char path[PATH_MAX];
        struct stat st;
        uint8_t sh[SEG_HDR_LEN];

        if (seg < wm_seg)
            continue;
        seg_path(d, seg, path, sizeof path);
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0) {
            rc = -errno;
            goto out;
        }
        uint64_t size = (uint64_t)st.st_size;
        uint64_t pos = seg == wm_seg && wm_off > SEG_HDR_LEN ? wm_off : SEG_HDR_LEN;
        if (size < SEG_HDR_LEN || pread_full(fd, sh, sizeof sh, 0) != 0 || !seg_hdr_valid(sh, seg)) {
            if (last && size <= SEG_HDR_LEN) {
                /* created by a writer that crashed before its header was
                 * durable: write the header again */
                seg_hdr_encode(seg, sh);
                if (ftruncate(fd, 0) != 0 || pwrite(fd, sh, sizeof sh, 0) != (ssize_t)sizeof sh ||
                    drive_fdatasync(d, fd) != 0) {
                    rc = -errno;
                    goto out;
                }
                size = SEG_HDR_LEN;
            } else {
                log_warn("drive %s: segment %u has a bad header; scanning it anyway", d->path, seg);
            }
        }
        while (pos < size) {
            struct rec_hdr h;
            int r = read_record(fd, pos, size, &h, &buf, &cap);
            if (r < 0) {
                rc = r;
                goto out;
            }
            if (!txn) {
                rc = wtxn_begin(d, &txn);
                if (rc) {
                    rc = mdb_err(rc);
                    goto out;
                }
            }
            if (r == REC_OK) {
                rc = index_apply(txn, d, &h, seg, pos, &acc, &delta);
                if (rc) {
                    rc = mdb_err(rc);
                    goto out;
                }
                d->ck_seg = seg;
                d->ck_off = pos;
                d->ck_crc = h.hcrc;
                pos += REC_HDR_LEN + h.len;
                total++;
                if (++nrec >= REPLAY_TXN_RECORDS) {
                    rc = acc_flush(txn, d, &acc);
                    if (rc == 0)
                        rc = state_put(txn, d, seg, pos, fd);
                    if (rc == 0)
                        rc = wtxn_commit(d, txn);
                    else
                        mdb_txn_abort(txn);
                    txn = NULL;
                    nrec = 0;
                    if (rc) {
                        rc = mdb_err(rc);
                        goto out;
                    }
                }
                continue;
            }
            int nonzero = 1;
            uint64_t next = r == REC_BAD_PAYLOAD ? pos + REC_HDR_LEN + h.len
                                                 : resync(fd, pos, size, &nonzero);
            if (next >= size && last) {
                if (nonzero)
                    log_warn("drive %s: truncating a torn record at segment %u offset %llu "
                             "(%llu bytes)", d->path, seg, (unsigned long long)pos,
                             (unsigned long long)(size - pos));
                if (ftruncate(fd, (off_t)pos) != 0 || drive_fdatasync(d, fd) != 0) {
                    rc = -errno;
                    goto out;
                }
                size = pos;
                break;
            }
            if (nonzero) /* zeros: a range compaction punched out */
                log_warn("drive %s: skipping %llu unreadable bytes at segment %u offset %llu",
                         d->path, (unsigned long long)(next - pos), seg, (unsigned long long)pos);
            rc = segstat_add(txn, d, seg, 0, 0, (int64_t)(next - pos));
            if (rc) {
                rc = mdb_err(rc);
                goto out;
            }
            pos = next;
        }
        if (!txn) {
            rc = wtxn_begin(d, &txn);
            if (rc) {
                rc = mdb_err(rc);
                goto out;
            }
        }
        rc = acc_flush(txn, d, &acc);
        if (rc == 0)
            rc = state_put(txn, d, seg, pos > size ? pos : size, fd);
        if (rc) {
            rc = mdb_err(rc);
            goto out;
        }
        close(fd);
        fd = -1;
    }
    if (txn) {
        rc = mdb_err(wtxn_commit(d, txn));
        txn = NULL;
    }
    if (total && rc == 0)
        log_info("drive %s: replayed %zu records into the index", d->path, total);
out:
    if (txn)
        mdb_txn_abort(txn);
    if (fd >= 0)
        close(fd);
    free(buf);
    free(acc.v);
    return rc;
}

/* Create segment d->next_seg and make it the active one.  The caller has
 * made the previous active segment durable.  The index learns the new
 * number at its next checkpoint (open also takes it from the file names). */
static int create_segment(struct drive *d)
{
    char path[PATH_MAX];
    uint8_t sh[SEG_HDR_LEN];
    uint32_t seg = d->next_seg;
    int fd = -1, rc = 0;

    if (d->capacity && d->disk_bytes + SEG_HDR_LEN > d->capacity)
        return -ENOSPC;
    seg_path(d, seg, path, sizeof path);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    seg_hdr_encode(seg, sh);
    if (pwrite(fd, sh, sizeof sh, 0) != (ssize_t)sizeof sh) {
        rc = errno ? -errno : -EIO;
        goto fail;
    }
    if (drive_fdatasync(d, fd) != 0) {
        rc = -errno;
        goto fail;
    }
    count(&d->n_syncs, 1);
    rc = file_fsync_dir(d->path);
    if (rc)
        goto fail;
    d->next_seg = seg + 1;
    if (d->active_fd >= 0)
        close(d->active_fd);
    d->active_fd = fd;
    d->active_seg = seg;
    d->active_end = SEG_HDR_LEN;
    d->ck_seg = seg;
    d->ck_off = 0;
    d->ck_crc = get_le32(sh + 60);
    disk_bytes_set(d, d->disk_bytes + SEG_HDR_LEN);
    return 0;
fail:
    unlink(path);
    close(fd);
    return rc;
}

static int activate_segment(struct drive *d, const struct seg_file *segs, size_t n)
{
    if (n && segs[n - 1].seg == d->next_seg - 1) {
        char path[PATH_MAX];
        struct stat st;
        seg_path(d, segs[n - 1].seg, path, sizeof path);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0) {
            int rc = -errno;
            if (fd >= 0)
                close(fd);
            return rc;
        }
        if ((uint64_t)st.st_size >= SEG_HDR_LEN && (uint64_t)st.st_size < d->segment_bytes) {
            d->active_fd = fd;
            d->active_seg = segs[n - 1].seg;
            d->active_end = (uint64_t)st.st_size;
            return 0;
        }
        close(fd);
    }
    return create_segment(d);
}

static int load_stats(struct drive *d, const struct seg_file *segs, size_t n)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    MDB_stat ms;
    uint64_t live = 0, dead = 0;
    int rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        goto out;
    rc = mdb_stat(txn, d->dbi_shards, &ms);
    if (rc)
        goto out;
    rc = mdb_cursor_open(txn, d->dbi_segs, &cur);
    if (rc)
        goto out;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (v.mv_size < SEGSTAT_LEN)
            continue;
        live += get_le64((const uint8_t *)v.mv_data + 8);
        dead += get_le64((const uint8_t *)v.mv_data + 16);
    }
    if (rc != MDB_NOTFOUND)
        goto out;
    rc = 0;
    pthread_mutex_lock(&d->st_lock);
    d->st_shards = ms.ms_entries;
    d->st_live = live;
    d->st_dead = dead;
    pthread_mutex_unlock(&d->st_lock);

    /* capacity accounting: what the segment files occupy now */
    uint64_t disk = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat st;
        seg_path(d, segs[i].seg, path, sizeof path);
        if (stat(path, &st) == 0)
            disk += (uint64_t)st.st_size;
    }
    disk_bytes_set(d, disk);
out:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    return mdb_err(rc);
}

/* Close env and files.  flush (a close): checkpoint the index and sync
 * its meta page, so the next open has nothing to replay.  Without flush
 * (the folder vanished, or a failed open) the overlay is just dropped.
 * Caller holds env_lock for writing (or is alone). */
static void drive_unload(struct drive *d, int flush)
{
    if (flush && d->env && d->active_fd >= 0)
        drive_checkpoint(d);
    ov_truncate(d, 0);
    if (d->env) {
        count(&d->n_syncs, 1);
        mdb_env_sync(d->env, 1); /* the meta page NOMETASYNC left behind */
        mdb_env_close(d->env);
        d->env = NULL;
    }
    if (d->active_fd >= 0)
        close(d->active_fd);
    d->active_fd = -1;
    segfd_clear(d);
    if (d->lock_fd >= 0)
        close(d->lock_fd); /* releases the flock */
    d->lock_fd = -1;
}

/* Two processes appending to one folder would interleave records and each
 * index only its own; refuse the second one. */
static int drive_lock(struct drive *d)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/LOCK", d->path);
    d->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d->lock_fd < 0)
        return -errno;
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        if (rc == -EBUSY)
            log_error("drive %s: in use by another process (or opened twice)", d->path);
        close(d->lock_fd);
        d->lock_fd = -1;
        return rc;
    }
    return 0;
}

/* Bring the drive up from whatever the folder holds.  Caller holds
 * env_lock for writing (or is alone).  On failure everything is closed. */
static int drive_load(struct drive *d, int fresh_index)
{
    struct seg_file *segs = NULL;
    size_t n = 0;
    uint32_t wm_seg = 0;
    uint64_t wm_off = 0;
    struct stat st;
    int rc;

    rc = mkdir_p(d->path);
    if (rc == 0 && stat(d->path, &st) != 0)
        rc = -errno;
    if (rc)
        goto out;
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    d->ck_seg = 0;
    d->digest = 0;
    d->ckpt_last = now_mono();
    rc = drive_lock(d);
    if (rc)
        goto out;
    if (mkdir(d->index_path, 0755) != 0 && errno != EEXIST) {
        rc = -errno;
        goto out;
    }
    if (fresh_index)
        index_remove(d);
    for (int attempt = 0;; attempt++) {
        rc = index_open(d);
        if (rc)
            goto out;
        free(segs);
        segs = NULL;
        rc = list_segments(d, &segs, &n);
        if (rc)
            goto out;
        rc = index_reconcile(d, segs, n, &wm_seg, &wm_off);
        if (rc == 0)
            rc = replay(d, segs, n, wm_seg, wm_off);
        if (rc != -EBADMSG || attempt > 0)
            break;
        /* LMDB found damage its checks at open did not: start over with
         * an empty index */
        log_warn("drive %s: index damaged; rebuilding it from the segments", d->path);
        mdb_env_close(d->env);
        d->env = NULL;
        index_remove(d);
    }
    if (rc)
        goto out;
    rc = load_stats(d, segs, n);
    if (rc)
        goto out;
    rc = activate_segment(d, segs, n);
    if (rc)
        goto out;
    d->write_err = 0;
out:
    if (rc) {
        log_error("drive %s: open failed: %s", d->path, cs_strerror(rc));
        drive_unload(d, 0);
    }
    free(segs);
    return rc;
}

/* Re-open in place: for a folder that vanished or was replaced under us
 * (or, with fresh_index, an index found damaged while running). */
static int drive_reset(struct drive *d, int fresh_index)
{
    pthread_rwlock_wrlock(&d->env_lock);
    drive_unload(d, 0);
    int rc = drive_load(d, fresh_index);
    pthread_rwlock_unlock(&d->env_lock);
    return rc;
}

/* Did someone remove the folder or our active segment?  (rm -rf while we
 * run: our fds still work, but nothing we append would survive.) */
static int drive_lost(struct drive *d)
{
    struct stat st;
    if (!d->env || d->active_fd < 0)
        return 1;
    if (stat(d->path, &st) != 0 || st.st_dev != d->dev || st.st_ino != d->ino)
        return 1;
    if (fstat(d->active_fd, &st) != 0 || st.st_nlink == 0)
        return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Writes                                                              */

/* Drop [from, to) of a segment from the page cache once it is durable.
 * Written shards are rarely read soon (parity almost never), and keeping
 * them would make every write allocate fresh page-cache pages: measured
 * here, buffered appends + fdatasync cost 0.9 ns of CPU a byte, and
 * 0.2 ns with the synced range dropped (pages are then recycled), at a
 * higher write rate.  Reads still go through the cache. */
static void drop_cached(int fd, uint64_t from, uint64_t to)
{
    if (to > from)
        (void)posix_fadvise(fd, (off_t)from, (off_t)(to - from), POSIX_FADV_DONTNEED);
}

/* Leader: start a new active segment.  The old one is made durable first,
 * so a torn record can only ever sit at the end of the last segment. */
static int drive_rollover(struct drive *d)
{
    if (drive_fdatasync(d, d->active_fd) != 0) {
        int rc = -errno;
        d->write_err = -EIO;
        return rc;
    }
    drop_cached(d->active_fd, 0, d->active_end);
    return create_segment(d);
}

/* Append one record to the active segment, rolling over first if it would
 * not fit.  On failure nothing of the record remains in the file.  Sets
 * h->hcrc. */
static int drive_append(struct drive *d, struct rec_hdr *h, const void *payload, uint32_t *seg,
                        uint64_t *off)
{
    uint8_t hb[REC_HDR_LEN];
    uint64_t rec_len = REC_HDR_LEN + (uint64_t)h->len;
    uint64_t limit = UINT64_MAX;
    int rc;

    if (d->active_end > SEG_HDR_LEN && d->active_end + rec_len > d->segment_bytes) {
        rc = drive_rollover(d);
        if (rc)
            return rc;
    }
    if (d->capacity)
        limit = d->capacity > d->disk_bytes ? d->capacity - d->disk_bytes : 0;
    h->hcrc = rec_hdr_encode(h, hb);
    rc = write_record_at(d->active_fd, d->active_end, hb, payload, h->len, limit);
    if (rc) {
        if (ftruncate(d->active_fd, (off_t)d->active_end) != 0) {
            log_error("drive %s: cannot truncate a failed write: %s", d->path, strerror(errno));
            d->write_err = -EIO;
        }
        return rc;
    }
    *seg = d->active_seg;
    *off = d->active_end;
    d->active_end += rec_len;
    disk_bytes_set(d, d->disk_bytes + rec_len);
    return 0;
}

/* Take back everything a failed batch appended (from start_seg/start_end
 * on), so the files hold only the records the index (overlay included)
 * knows again. */
static void drive_undo(struct drive *d, uint32_t start_seg, uint64_t start_end,
                       uint64_t start_disk)
{
    for (uint32_t seg = start_seg; seg <= d->active_seg; seg++) {
        uint64_t keep = seg == start_seg ? start_end : SEG_HDR_LEN;
        int ok;
        if (seg == d->active_seg) {
            ok = ftruncate(d->active_fd, (off_t)keep) == 0 &&
                 drive_fdatasync(d, d->active_fd) == 0;
        } else {
            char path[PATH_MAX];
            seg_path(d, seg, path, sizeof path);
            int fd = open(path, O_RDWR | O_CLOEXEC);
            ok = fd >= 0 && ftruncate(fd, (off_t)keep) == 0 && drive_fdatasync(d, fd) == 0;
            if (fd >= 0)
                close(fd);
        }
        if (!ok) {
            log_error("drive %s: cannot undo a failed batch in segment %u: %s", d->path, seg,
                      strerror(errno));
            d->write_err = -EIO;
        }
    }
    d->active_end = d->active_seg == start_seg ? start_end : SEG_HDR_LEN;
    disk_bytes_set(d, start_disk + (uint64_t)(d->active_seg - start_seg) * SEG_HDR_LEN);
}

/* The current entry of a key, as the leader sees it: the overlay
 * (including this batch's records so far), else LMDB (rtxn).  Returns 1
 * and fills *e when the shard is live, 0 when absent, or -errno. */
static int drive_lookup_leader(struct drive *d, MDB_txn *rtxn, const uint8_t key[IDX_KEY_LEN],
                               struct idx_entry *e)
{
    struct ov_entry o;
    if (ov_find(d, key, 1, &o)) {
        if (o.type != REC_SHARD)
            return 0;
        *e = (struct idx_entry){.seg = o.seg, .len = o.len, .off = o.off, .crc = o.crc,
                                .written = o.written};
        return 1;
    }
    MDB_val k = {IDX_KEY_LEN, (void *)key}, v;
    int r = mdb_get(rtxn, d->dbi_shards, &k, &v);
    if (r == MDB_NOTFOUND)
        return 0;
    if (r)
        return mdb_err(r);
    return idx_val_decode(&v, e) == 0;
}

/* Size and free space (for unprivileged writers) of the drive's file
 * system, in bytes.  0, or -1 if it cannot tell. */
static int fs_space(const struct drive *d, uint64_t *total, uint64_t *avail)
{
    struct statvfs vfs;
    if (statvfs(d->path, &vfs) != 0)
        return -1;
    *total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    *avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    return 0;
}

/* Bytes a batch may still append as shards: the file system's free space
 * less a reserve (1/32 of it, 512 KiB to 64 MiB) kept for what must still
 * work on a full drive: tombstones (deleting is how space comes back), the
 * index's checkpoints, and re-opening after a crash. */
static uint64_t drive_shard_room(const struct drive *d)
{
    uint64_t total, avail;
    if (fs_space(d, &total, &avail) != 0)
        return UINT64_MAX; /* the write itself will tell */
    uint64_t reserve = total / 32;
    if (reserve < DRIVE_RESERVE_MIN)
        reserve = DRIVE_RESERVE_MIN;
    if (reserve > DRIVE_RESERVE_MAX)
        reserve = DRIVE_RESERVE_MAX;
    return avail > reserve ? avail - reserve : 0;
}

/* The batch leader's work: append every record, one fdatasync, then make
 * the records visible in the overlay.  No index commit here (see
 * drive_checkpoint). */
static void drive_run_batch(struct drive *d, struct drive_req **reqs, int n)
{
    MDB_txn *rtxn = NULL;
    struct stat_delta delta = {0};
    uint32_t start_seg = 0;
    uint64_t start_end = 0, start_disk = 0;
    int wrote = 0, rc = 0;
    int64_t now = (int64_t)time(NULL);

    if (drive_lost(d)) {
        log_warn("drive %s: folder or active segment is gone; re-opening it", d->path);
        rc = drive_reset(d, 0);
        if (rc)
            goto fail;
    }
    if (__atomic_load_n(&d->index_damaged, __ATOMIC_RELAXED)) {
        /* everything is in the (synced) segments: a fresh index loses nothing */
        log_warn("drive %s: index damaged; rebuilding it from the segments", d->path);
        __atomic_store_n(&d->index_damaged, 0, __ATOMIC_RELAXED);
        rc = drive_reset(d, 1);
        if (rc)
            goto fail;
    }
    if (d->write_err) {
        rc = d->write_err;
        goto fail;
    }
    if (d->ov_count + n > d->ov_cap) {
        /* a checkpoint failed earlier and the overlay is full */
        rc = drive_checkpoint(d);
        if (rc)
            goto fail;
    }
    start_seg = d->active_seg;
    start_end = d->active_end;
    start_disk = d->disk_bytes;
    rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &rtxn);
    if (rc) {
        rc = mdb_err(rc);
        goto fail;
    }
    uint64_t room = drive_shard_room(d);
    for (int i = 0; i < n; i++) {
        struct shard_write *w = reqs[i]->w;
        struct rec_hdr h = {.idx = w->shard_idx, .written = now};
        uint8_t tomb[TOMB_LEN], key[IDX_KEY_LEN];
        struct idx_entry old;
        const void *payload;
        uint32_t seg = 0;
        uint64_t off = 0;

        memcpy(h.id, w->chunk_id, CHUNK_ID_LEN);
        if (w->data && w->len > CS_MAX_CHUNK) {
            w->err = CS_EINVAL;
            continue;
        }
        idx_key(key, w->chunk_id, w->shard_idx);
        int have_old = drive_lookup_leader(d, rtxn, key, &old);
        if (have_old < 0) {
            rc = have_old;
            if (rc == -EBADMSG) {
                __atomic_store_n(&d->index_damaged, 1, __ATOMIC_RELAXED);
                rc = -EIO;
            }
            goto fail;
        }
        if (w->data) {
            if (REC_HDR_LEN + (uint64_t)w->len > room) {
                w->err = -ENOSPC;
                continue;
            }
            room -= REC_HDR_LEN + (uint64_t)w->len;
            h.type = REC_SHARD;
            h.len = w->len;
            payload = w->data;
        } else {
            if (!have_old) {
                w->err = 0; /* absent: nothing to write */
                continue;
            }
            h.type = REC_TOMB;
            h.len = TOMB_LEN;
            put_le32(tomb, old.seg);
            put_le64(tomb + 4, old.off);
            payload = tomb;
        }
        h.crc = crc32c(0, payload, h.len);
        int r = drive_append(d, &h, payload, &seg, &off);
        if (r) {
            w->err = r;
            if (d->write_err) {
                rc = d->write_err;
                goto fail;
            }
            continue;
        }
        wrote++;
        ov_add(d, &h, seg, off);
        delta_of(have_old ? &old : NULL, &h, &delta);
        w->err = 0;
    }
    mdb_txn_abort(rtxn);
    rtxn = NULL;
    if (!wrote)
        return;
    if (drive_fdatasync(d, d->active_fd) != 0) {
        rc = -errno;
        log_error("drive %s: fdatasync failed (%s); refusing writes until re-opened", d->path,
                  strerror(errno));
        d->write_err = -EIO;
        goto fail;
    }
    drop_cached(d->active_fd, start_seg == d->active_seg ? start_end : 0, d->active_end);
    ov_publish(d);
    delta_apply(d, &delta);
    count(&d->n_batches, 1);
    count(&d->n_writes, (uint64_t)wrote);
    return;

fail:
    if (rtxn)
        mdb_txn_abort(rtxn);
    if (wrote) {
        drive_undo(d, start_seg, start_end, start_disk);
        ov_truncate(d, d->ov_visible);
    }
    for (int i = 0; i < n; i++)
        if (reqs[i]->w->err == 0)
            reqs[i]->w->err = rc;
}

/* Become the one thread that writes (batch leader) / stop being it. */
static void drive_lead(struct drive *d)
{
    pthread_mutex_lock(&d->q_lock);
    while (d->leader)
        pthread_cond_wait(&d->q_done, &d->q_lock);
    d->leader = 1;
    pthread_mutex_unlock(&d->q_lock);
}

static void drive_unlead(struct drive *d)
{
    pthread_mutex_lock(&d->q_lock);
    d->leader = 0;
    pthread_cond_broadcast(&d->q_done);
    pthread_mutex_unlock(&d->q_lock);
}

static int drive_write_batch(struct shard_store *s, struct shard_write *w, int n)
{
    struct drive *d = (struct drive *)s;
    struct drive_req stack_reqs[8], *reqs = stack_reqs;
    int first = 0;

    if (n <= 0)
        return 0;
    if (n > (int)(sizeof stack_reqs / sizeof stack_reqs[0])) {
        reqs = malloc((size_t)n * sizeof *reqs);
        if (!reqs) {
            for (int i = 0; i < n; i++)
                w[i].err = -ENOMEM;
            return -ENOMEM;
        }
    }
    for (int i = 0; i < n; i++) {
        w[i].err = 0;
        reqs[i] = (struct drive_req){.next = i + 1 < n ? &reqs[i + 1] : NULL, .w = &w[i]};
    }

    pthread_mutex_lock(&d->q_lock);
    if (d->q_tail)
        d->q_tail->next = &reqs[0];
    else
        d->q_head = &reqs[0];
    d->q_tail = &reqs[n - 1];
    /* The queue is FIFO and batches take from its head, so our last
     * request finishing means all of ours have. */
    while (!reqs[n - 1].done) {
        if (d->leader) {
            pthread_cond_wait(&d->q_done, &d->q_lock);
            continue;
        }
        int cnt = 0;
        uint64_t bytes = 0;
        d->leader = 1;
        while (d->q_head && cnt < MAX_BATCH && (cnt == 0 || bytes < MAX_BATCH_BYTES)) {
            struct drive_req *r = d->q_head;
            d->q_head = r->next;
            if (!d->q_head)
                d->q_tail = NULL;
            d->batch[cnt++] = r;
            bytes += r->w->data ? r->w->len : 0;
        }
        pthread_mutex_unlock(&d->q_lock);
        drive_run_batch(d, d->batch, cnt);
        pthread_mutex_lock(&d->q_lock);
        for (int i = 0; i < cnt; i++)
            d->batch[i]->done = 1;
        pthread_cond_broadcast(&d->q_done);
        if (drive_checkpoint_due(d)) {
            /* The batch's writers are already released; the next batch
             * waits for this one sync. */
            pthread_mutex_unlock(&d->q_lock);
            drive_checkpoint(d);
            pthread_mutex_lock(&d->q_lock);
        }
        d->leader = 0;
        pthread_cond_broadcast(&d->q_done);
    }
    pthread_mutex_unlock(&d->q_lock);

    for (int i = 0; i < n && !first; i++)
        first = w[i].err;
    if (reqs != stack_reqs)
        free(reqs);
    return first;
}

static int drive_put(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx,
                     const void *data, uint32_t len)
{
    static const uint8_t empty[1];
    struct shard_write w = {.chunk_id = id, .shard_idx = idx, .data = data ? data : empty, .len = len};
    if (len > CS_MAX_CHUNK || (!data && len))
        return CS_EINVAL;
    return drive_write_batch(s, &w, 1);
}

static int drive_del(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx)
{
    struct shard_write w = {.chunk_id = id, .shard_idx = idx, .data = NULL};
    return drive_write_batch(s, &w, 1);
}

/* ------------------------------------------------------------------ */
/* Compaction                                                          */

/*
 * A segment whose records are mostly dead (deleted or superseded shards,
 * tombstones) is compacted: its live records are copied to the active
 * segment, the index is checkpointed, and the file is deleted.
 *
 * Copying goes slice by slice (COMPACT_SLICE_BYTES of the old segment per
 * turn as batch leader, one fdatasync per slice), so writes and deletes go
 * on between slices; each record is checked against the index under the
 * leadership, so a shard deleted or rewritten meanwhile is not copied.
 * After each slice the index is checkpointed and the slice's range of the
 * old file is punched out (FALLOC_FL_PUNCH_HOLE), so compaction needs
 * free space for one slice's copies only, not for the whole segment: a
 * full drive can compact too.  Copies may use the drive's reserve
 * (drive_shard_room) but for COMPACT_MARGIN, kept for the index.  A live
 * record bigger than all the room there is, with nothing before it to
 * copy or punch, stays where it is: compaction goes on past it (so the
 * dead records behind it are punched all the same) and keeps the segment,
 * which a later compaction, with the room this one made, empties.
 * Reads go on throughout: a reader that found the old position re-reads
 * the index when the file has gone (drive_get).
 *
 * Tombstones are not copied: they go with their segment.  A tombstone only
 * matters to a full rebuild of the index from the segments, where, gone,
 * it lets an older record of its shard count as live again.  Shards are
 * content-addressed (a key is a chunk id and shard index, whose bytes
 * never change), so such a shard is either the very bytes a live chunk
 * has, or a shard no chunk names, which the collector's orphan pass
 * removes after the grace period.  Dropping them is what keeps tombstones
 * from piling up forever.
 *
 * Crash safety: the copies are durable before the checkpoint that points
 * the index at them, and the file is deleted after it.  A crash in
 * between leaves both copies (the newer wins on replay) and a segment
 * that is compacted again next time.
 */
#define COMPACT_SLICE_BYTES (16ull << 20)
#define COMPACT_MIN_DEAD (1ull << 20)
#define COMPACT_MARGIN (128ull << 10)

/* Room for compaction's copies: the free space but COMPACT_MARGIN. */
static uint64_t compact_room(const struct drive *d)
{
    uint64_t total, avail;
    if (fs_space(d, &total, &avail) != 0)
        return UINT64_MAX;
    return avail > COMPACT_MARGIN ? avail - COMPACT_MARGIN : 0;
}

/* Leader: copy the live records of segment seg found in [*pos, size), at
 * most COMPACT_SLICE_BYTES of it and as many as there is room for, to the
 * active segment, and make the copies durable and visible.  Advances *pos
 * past what it looked at (nothing live is left before it, so the caller
 * may punch the range); *moved += payload bytes copied.  Except: when the
 * first record looked at is live and bigger than all the room (nothing
 * copied, nothing to punch before it), it is left in place, *pos moves
 * past it and *kept is set: the range holds that live record. */
static int compact_slice(struct drive *d, int fd, uint32_t seg, uint64_t size, uint64_t *pos,
                         uint8_t **buf, size_t *cap, uint64_t *moved, int *kept)
{
    const uint64_t first = *pos, stop = *pos + COMPACT_SLICE_BYTES;
    const uint32_t start_seg = d->active_seg;
    const uint64_t start_end = d->active_end, start_disk = d->disk_bytes;
    uint64_t room = compact_room(d);
    struct stat_delta delta = {0};
    MDB_txn *rtxn = NULL;
    int wrote = 0, rc;

    if (!d->env)
        return -EIO;
    if (d->write_err)
        return d->write_err;
    rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &rtxn);
    if (rc)
        return mdb_err(rc);
    while (*pos < size && *pos < stop && d->ov_count < d->ov_cap) {
        struct rec_hdr h;
        struct idx_entry cur;
        uint8_t key[IDX_KEY_LEN];
        uint64_t at = *pos;
        int r = read_record(fd, at, size, &h, buf, cap);
        if (r < 0) {
            rc = r;
            break;
        }
        if (r != REC_OK) {
            int nonzero;
            *pos = r == REC_BAD_PAYLOAD ? at + REC_HDR_LEN + h.len : resync(fd, at, size, &nonzero);
            continue;
        }
        *pos = at + REC_HDR_LEN + h.len;
        if (h.type != REC_SHARD)
            continue; /* tombstones go with the segment */
        idx_key(key, h.id, h.idx);
        int live = drive_lookup_leader(d, rtxn, key, &cur);
        if (live < 0) {
            rc = live;
            break;
        }
        if (!live || cur.seg != seg || cur.off != at)
            continue; /* dead here */
        if (REC_HDR_LEN + (uint64_t)h.len > room) {
            if (wrote || at > first)
                *pos = at; /* the next slice has the room this one frees
                            * (the copies made, the dead records passed,
                            * punched first) */
            else
                *kept = 1; /* no room to be made before it: leave it */
            rc = 0;
            break;
        }
        uint32_t nseg;
        uint64_t noff;
        rc = drive_append(d, &h, *buf, &nseg, &noff); /* same id, index, CRC, time */
        if (rc) {
            *pos = at;
            break;
        }
        room -= REC_HDR_LEN + (uint64_t)h.len;
        wrote++;
        ov_add(d, &h, nseg, noff);
        delta_of(&cur, &h, &delta);
        *moved += h.len;
    }
    mdb_txn_abort(rtxn);
    if (!wrote)
        return rc;
    if (drive_fdatasync(d, d->active_fd) != 0) {
        log_error("drive %s: fdatasync failed (%s); refusing writes until re-opened", d->path,
                  strerror(errno));
        d->write_err = -EIO;
        drive_undo(d, start_seg, start_end, start_disk);
        ov_truncate(d, d->ov_visible);
        return -EIO;
    }
    /* the copies made before a failure are good: keep them */
    drop_cached(d->active_fd, start_seg == d->active_seg ? start_end : 0, d->active_end);
    ov_publish(d);
    delta_apply(d, &delta);
    count(&d->n_writes, (uint64_t)wrote);
    return rc;
}

/* Leader: the index is checkpointed and holds no live shard in segment
 * seg: delete its file, then its row.  (A crash between the two leaves a
 * row without a file, which open drops.) */
static int compact_drop(struct drive *d, uint32_t seg)
{
    char path[PATH_MAX];
    struct seg_stat st;
    struct stat fst;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint8_t kb[4];
    MDB_val k = {sizeof kb, kb}, v;

    int rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return mdb_err(rc);
    rc = segstat_get(txn, d, seg, &st);
    mdb_txn_abort(txn);
    txn = NULL;
    if (rc)
        return mdb_err(rc);
    if (st.live_shards) {
        /* every live record was copied, so nothing should ever get here */
        log_warn("drive %s: segment %u still has %llu live shards after compaction", d->path, seg,
                 (unsigned long long)st.live_shards);
        return -EAGAIN;
    }
    seg_path(d, seg, path, sizeof path);
    if (stat(path, &fst) != 0 || unlink(path) != 0)
        return -errno;
    rc = file_fsync_dir(d->path);
    segfd_forget(d, seg);
    disk_bytes_set(d, d->disk_bytes > (uint64_t)fst.st_size ? d->disk_bytes - (uint64_t)fst.st_size
                                                             : 0);
    delta_apply(d, &(struct stat_delta){.dead = -(int64_t)st.dead_bytes});
    if (rc)
        return rc;

    segstat_key(seg, kb);
    rc = wtxn_begin(d, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, d->dbi_segs, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
        if (rc == 0)
            rc = dcursor_del(d, cur, TAG_SEGS, &k, &v);
        else if (rc == MDB_NOTFOUND)
            rc = 0;
        mdb_cursor_close(cur);
    }
    if (rc == 0) {
        rc = wtxn_commit(d, txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    return mdb_err(rc);
}

/* Compact segment seg (not the active one).  *freed += the file system
 * space it gave back (the whole file, or the ranges punched before a
 * failure). */
static int compact_segment(struct drive *d, uint32_t seg, uint64_t *freed, uint64_t *moved)
{
    char path[PATH_MAX];
    struct stat st;
    uint8_t *buf = NULL;
    size_t cap = 0;
    uint64_t pos = SEG_HDR_LEN;
    int rc = 0, punch = 1, kept_any = 0;

    seg_path(d, seg, path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    const uint64_t size = (uint64_t)st.st_size, held = (uint64_t)st.st_blocks * 512;
    while (rc == 0 && pos < size) {
        uint64_t from = pos;
        int kept = 0;
        drive_lead(d);
        rc = compact_slice(d, fd, seg, size, &pos, &buf, &cap, moved, &kept);
        /* the index must not point into a range before it is punched */
        if (rc == 0 && d->ov_count)
            rc = drive_checkpoint(d);
        drive_unlead(d);
        kept_any |= kept;
        if (rc == 0 && punch && !kept && pos > from &&
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)from,
                      (off_t)(pos - from)) != 0)
            punch = 0; /* not supported here: the space comes back with the file */
    }
    if (rc == 0 && kept_any)
        log_info("drive %s: segment %u keeps live shards too big for the free space; "
                 "compacted around them, a later compaction moves them", d->path, seg);
    if (rc == 0 && !kept_any) {
        drive_lead(d);
        rc = d->ov_count ? drive_checkpoint(d) : 0;
        if (rc == 0)
            rc = compact_drop(d, seg);
        drive_unlead(d);
    }
    if (rc == 0 && !kept_any)
        *freed += held;
    else if (fstat(fd, &st) == 0 && held > (uint64_t)st.st_blocks * 512)
        *freed += held - (uint64_t)st.st_blocks * 512;
out:
    close(fd);
    free(buf);
    return rc;
}

/* Segments worth compacting: at least half dead (an eighth when the file
 * system is more than 7/8 full: then every bit counts), and at least
 * COMPACT_MIN_DEAD (an eighth of a segment if that is less).  Leader; checkpoints first so the counts are current.
 * The active segment qualifies too: it is closed (a new one started) so
 * that it can be compacted. */
static int compact_candidates(struct drive *d, uint32_t **out, size_t *nout)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint32_t *segs = NULL;
    size_t n = 0, capn = 0;
    int rc = d->ov_count ? drive_checkpoint(d) : 0, roll = 0;
    uint64_t min_dead = d->segment_bytes / 8 < COMPACT_MIN_DEAD ? d->segment_bytes / 8
                                                                : COMPACT_MIN_DEAD;
    uint64_t fs_total, fs_avail;
    int tight = fs_space(d, &fs_total, &fs_avail) == 0 && fs_avail < fs_total / 8;

    if (rc == 0 && !d->env)
        rc = -EIO;
    if (rc)
        return rc;
    rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, d->dbi_segs, &cur);
    for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        rc = mdb_cursor_get(cur, &k, &v, op);
        if (rc)
            break;
        if (k.mv_size != 4 || v.mv_size < SEGSTAT_LEN)
            continue;
        const uint8_t *kp = k.mv_data;
        uint32_t seg = (uint32_t)kp[0] << 24 | (uint32_t)kp[1] << 16 | (uint32_t)kp[2] << 8 | kp[3];
        uint64_t shards = get_le64(v.mv_data), live = get_le64((uint8_t *)v.mv_data + 8);
        uint64_t dead = get_le64((uint8_t *)v.mv_data + 16);
        uint64_t size = shards * REC_HDR_LEN + live + dead;
        if (dead < min_dead || dead < (tight ? size / 8 : size / 2))
            continue;
        if (n == capn) {
            size_t nc = capn ? 2 * capn : 16;
            uint32_t *p = realloc(segs, nc * sizeof *p);
            if (!p) {
                rc = ENOMEM;
                break;
            }
            segs = p;
            capn = nc;
        }
        segs[n++] = seg;
        roll |= seg == d->active_seg;
    }
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    rc = rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
    if (rc == 0 && roll)
        rc = drive_rollover(d);
    if (rc) {
        free(segs);
        return rc;
    }
    *out = segs;
    *nout = n;
    return 0;
}

static int drive_compact(struct shard_store *s, uint64_t *freed)
{
    struct drive *d = (struct drive *)s;
    uint32_t *segs = NULL;
    size_t n = 0;
    uint64_t moved = 0;

    *freed = 0;
    drive_lead(d);
    int rc = compact_candidates(d, &segs, &n);
    drive_unlead(d);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = compact_segment(d, segs[i], freed, &moved);
    free(segs);
    if (*freed || rc)
        log_info("drive %s: compacted %zu segments: %llu bytes freed, %llu live bytes copied%s%s",
                 d->path, n, (unsigned long long)*freed, (unsigned long long)moved,
                 rc ? ", stopped: " : "", rc ? cs_strerror(rc) : "");
    return rc;
}

/* ------------------------------------------------------------------ */
/* Reads                                                               */

static int drive_get(struct shard_store *s, const uint8_t id[CHUNK_ID_LEN], uint8_t idx,
                     void *buf, uint32_t cap, uint32_t *len)
{
    struct drive *d = (struct drive *)s;
    uint8_t kb[IDX_KEY_LEN], hb[REC_HDR_LEN];
    MDB_val k = {sizeof kb, kb}, v;
    MDB_txn *txn = NULL;
    struct idx_entry e;
    int retried = 0;
    struct ov_entry o;
    struct rec_hdr h;
    struct stat st;
    int slot = -1, fd = -1, rc;

    idx_key(kb, id, idx);
    pthread_rwlock_rdlock(&d->env_lock);
    if (!d->env) {
        rc = -EIO;
        goto out;
    }
again:
    /* The overlay first: it is newer than LMDB, and it is emptied only
     * after LMDB has its contents, so one of the two always has the key. */
    if (ov_find(d, kb, 0, &o)) {
        rc = o.type == REC_SHARD ? 0 : MDB_NOTFOUND;
        e = (struct idx_entry){.seg = o.seg, .len = o.len, .off = o.off, .crc = o.crc,
                               .written = o.written};
    } else {
        rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn);
        if (rc) {
            rc = mdb_err(rc);
            goto out;
        }
        rc = mdb_get(txn, d->dbi_shards, &k, &v);
        if (rc == 0 && idx_val_decode(&v, &e) != 0)
            rc = MDB_CORRUPTED;
        mdb_txn_abort(txn);
    }
    if (rc == MDB_NOTFOUND) {
        rc = CS_ENOTFOUND;
        goto out;
    }
    if (rc) {
        rc = mdb_err(rc);
        if (rc == -EBADMSG) {
            __atomic_store_n(&d->index_damaged, 1, __ATOMIC_RELAXED);
            rc = -EIO;
        }
        goto out;
    }
    if (e.len > cap) {
        rc = CS_EINVAL;
        goto out;
    }
    /* The place the index gave may be gone by the time we read it:
     * compaction moves shards, then deletes or punches out their old
     * segment.  Any failure below is therefore retried once with a fresh
     * lookup; only a second one counts. */
    fd = segfd_acquire(d, e.seg, &slot);
    if (fd < 0) {
        rc = fd == -ENOENT ? CS_ENOTFOUND : fd;
        goto failed;
    }
    struct iovec iov[2] = {{hb, REC_HDR_LEN}, {buf, e.len}};
    ssize_t got = preadv(fd, iov, e.len ? 2 : 1, (off_t)e.off);
    if (got < 0) {
        rc = -errno;
        goto failed;
    }
    /* Whatever the index said, the bytes must prove they are this shard:
     * a stale or damaged entry ends here, never as wrong bytes. */
    if ((uint64_t)got != REC_HDR_LEN + (uint64_t)e.len || rec_hdr_decode(hb, &h) != 0 ||
        h.type != REC_SHARD || h.idx != idx || memcmp(h.id, id, CHUNK_ID_LEN) != 0 ||
        h.len != e.len || h.crc != e.crc || crc32c(0, buf, e.len) != e.crc) {
        rc = CS_ECORRUPT;
        goto failed;
    }
    /* A segment unlinked under us reads fine until we close it, but if the
     * folder was emptied the shard is gone for good: report it absent so
     * it gets rebuilt. */
    if (fstat(fd, &st) == 0 && st.st_nlink == 0) {
        rc = CS_ENOTFOUND;
        goto failed;
    }
    *len = e.len;
    rc = 0;
    goto out;
failed:
    segfd_release(d, slot, fd);
    fd = -1;
    slot = -1;
    if (!retried++)
        goto again;
    if (rc == CS_ECORRUPT) {
        char hex[2 * CHUNK_ID_LEN + 1];
        hex_encode(id, CHUNK_ID_LEN, hex);
        log_warn("drive %s: shard %s/%u is corrupt (segment %u offset %llu)", d->path, hex, idx,
                 e.seg, (unsigned long long)e.off);
    }
out:
    segfd_release(d, slot, fd);
    pthread_rwlock_unlock(&d->env_lock);
    return rc;
}

/* Checkpoints the index (so LMDB holds every write that returned before
 * the call), then pages through it (ITER_PAGE entries per read txn) so
 * that no txn is held while fn runs; fn may call back into the drive. */
static int drive_iterate(struct shard_store *s, shard_iter_fn fn, void *arg)
{
    struct drive *d = (struct drive *)s;
    struct item {
        uint8_t key[IDX_KEY_LEN];
        uint32_t len;
        int64_t written;
    } *items = malloc(ITER_PAGE * sizeof *items);
    uint8_t last[IDX_KEY_LEN];
    int have_last = 0, rc = 0;

    if (!items)
        return -ENOMEM;
    drive_lead(d);
    if (d->ov_count)
        rc = drive_checkpoint(d);
    drive_unlead(d);
    if (rc) {
        free(items);
        return rc;
    }
    for (;;) {
        MDB_txn *txn = NULL;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        int cnt = 0, r;

        pthread_rwlock_rdlock(&d->env_lock);
        if (!d->env) {
            pthread_rwlock_unlock(&d->env_lock);
            rc = -EIO;
            break;
        }
        r = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn);
        if (r == 0)
            r = mdb_cursor_open(txn, d->dbi_shards, &cur);
        if (r == 0) {
            if (have_last) {
                k.mv_size = sizeof last;
                k.mv_data = last;
                r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
                if (r == 0 && k.mv_size == sizeof last && memcmp(k.mv_data, last, sizeof last) == 0)
                    r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            } else {
                r = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
            }
            for (; r == 0 && cnt < ITER_PAGE; r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                struct idx_entry e;
                if (k.mv_size != IDX_KEY_LEN || idx_val_decode(&v, &e) != 0)
                    continue;
                memcpy(items[cnt].key, k.mv_data, IDX_KEY_LEN);
                items[cnt].len = e.len;
                items[cnt].written = e.written;
                cnt++;
            }
        }
        if (cur)
            mdb_cursor_close(cur);
        if (txn)
            mdb_txn_abort(txn);
        pthread_rwlock_unlock(&d->env_lock);
        if (r && r != MDB_NOTFOUND) {
            rc = mdb_err(r);
            break;
        }
        for (int i = 0; i < cnt && rc == 0; i++)
            rc = fn(arg, items[i].key, items[i].key[CHUNK_ID_LEN], items[i].len, items[i].written);
        if (rc || cnt < ITER_PAGE)
            break;
        memcpy(last, items[cnt - 1].key, sizeof last);
        have_last = 1;
    }
    free(items);
    return rc;
}

static int drive_stat(struct shard_store *s, struct shard_store_stat *out)
{
    struct drive *d = (struct drive *)s;
    struct statvfs vfs;
    if (statvfs(d->path, &vfs) != 0)
        return -errno;
    pthread_mutex_lock(&d->st_lock);
    out->shards = d->st_shards;
    out->bytes_live = d->st_live;
    out->bytes_dead = d->st_dead;
    pthread_mutex_unlock(&d->st_lock);
    out->writes = __atomic_load_n(&d->n_writes, __ATOMIC_RELAXED);
    out->write_batches = __atomic_load_n(&d->n_batches, __ATOMIC_RELAXED);
    out->syncs = __atomic_load_n(&d->n_syncs, __ATOMIC_RELAXED);
    out->index_checkpoints = __atomic_load_n(&d->n_ckpts, __ATOMIC_RELAXED);
    out->bytes_total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    out->bytes_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (d->capacity) {
        out->bytes_total = d->capacity;
        uint64_t used = __atomic_load_n(&d->disk_bytes, __ATOMIC_RELAXED);
        out->bytes_free = d->capacity > used ? d->capacity - used : 0;
    }
    return 0;
}

static void drive_free(struct drive *d)
{
    pthread_rwlock_destroy(&d->env_lock);
    pthread_mutex_destroy(&d->fd_lock);
    pthread_mutex_destroy(&d->q_lock);
    pthread_cond_destroy(&d->q_done);
    pthread_mutex_destroy(&d->st_lock);
    pthread_mutex_destroy(&d->ov_lock);
    free(d->ov_log);
    free(d->ov_slots);
    free(d);
}

static void drive_close(struct shard_store *s)
{
    struct drive *d = (struct drive *)s;
    if (!d)
        return;
    drive_unload(d, 1);
    drive_free(d);
}

static const struct shard_store_ops drive_ops = {
    .compact = drive_compact,
    .put = drive_put,
    .get = drive_get,
    .del = drive_del,
    .iterate = drive_iterate,
    .stat = drive_stat,
    .close = drive_close,
    .write_batch = drive_write_batch,
};

int drive_open_opts(const char *path, const struct drive_opts *opts, struct shard_store **out)
{
    struct drive *d = NULL;
    pthread_rwlockattr_t ra;
    int rc;

    if (!path || !*path || strlen(path) + 32 > sizeof d->path)
        return CS_EINVAL;
    d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->base.ops = &drive_ops;
    snprintf(d->base.name, sizeof d->base.name, "%.*s", (int)sizeof d->base.name - 1, path);
    snprintf(d->path, sizeof d->path, "%s", path);
    /* trailing slashes would only make the paths ugly */
    for (size_t l = strlen(d->path); l > 1 && d->path[l - 1] == '/'; l--)
        d->path[l - 1] = '\0';
    snprintf(d->index_path, sizeof d->index_path, "%s/index", d->path);
    d->segment_bytes = opts && opts->segment_bytes ? opts->segment_bytes : DEFAULT_SEGMENT_BYTES;
    d->capacity = opts ? opts->capacity_bytes : 0;
    d->ckpt_records = opts && opts->checkpoint_records ? opts->checkpoint_records
                                                       : CKPT_DEFAULT_RECORDS;
    if (d->ckpt_records > CKPT_MAX_RECORDS)
        d->ckpt_records = CKPT_MAX_RECORDS;
    d->ckpt_ms = opts && opts->checkpoint_ms ? opts->checkpoint_ms : CKPT_DEFAULT_MS;
    d->active_fd = -1;
    d->lock_fd = -1;
    for (int i = 0; i < FD_CACHE; i++)
        d->fds[i].fd = -1;

    /* Writer preference: a re-open in place must not starve behind a
     * steady stream of readers. */
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&d->env_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&d->fd_lock, NULL);
    pthread_mutex_init(&d->q_lock, NULL);
    pthread_cond_init(&d->q_done, NULL);
    pthread_mutex_init(&d->st_lock, NULL);
    pthread_mutex_init(&d->ov_lock, NULL);

    rc = ov_alloc(d);
    if (rc == 0)
        rc = drive_load(d, 0);
    if (rc) {
        drive_free(d);
        return rc;
    }
    *out = &d->base;
    return 0;
}

int drive_open(const char *path, struct shard_store **out)
{
    return drive_open_opts(path, NULL, out);
}
