/*
 * common/file.h - small file helpers: replace a file atomically and
 * durably, create a folder with its parents, read a small file with a cap.
 *
 * file_write_atomic() is the lockfile pattern of CONVENTIONS.md
 * (Durability): write a temporary name beside the target, fsync, rename
 * over the target, fsync the directory, and remove the temporary on
 * every failure path.  Readers see the old content or the new one, never
 * a mix, and after a crash the file holds one of the two.
 *
 * Inputs are borrowed for the call; the functions are reentrant.  Errors
 * are negative errno values.
 */
#ifndef CAIRN_COMMON_FILE_H
#define CAIRN_COMMON_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"

/*
 * Replace (or create) path with data[0..len), file mode `mode` (the
 * umask does not apply).  The temporary is "path.tmp.XXXXXX" in the same
 * directory, so two writers never share one; the last rename wins.
 * Returns 0, or -errno (path is then as it was).
 */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* fsync the directory dir.  Returns 0 or -errno. */
int file_fsync_dir(const char *dir);

/* fsync the directory that holds path (its last component removed,
 * trailing '/' ignored; "." for a bare name), making a create, rename or
 * unlink there durable.
 * Returns 0 or -errno. */
int file_fsync_parent(const char *path);

/* mkdir -p: create path and its missing parents with mode (less the
 * umask); existing ones are fine.  Returns 0 or -errno (-ENAMETOOLONG). */
int file_make_dirs(const char *path, mode_t mode);

/*
 * Append the whole content of path to out (which caps it: -EFBIG if the
 * file is larger than out->max allows; out is then restored).  Returns 0
 * or -errno (-ENOENT: no such file).
 */
int file_read(const char *path, struct buf *out);

#endif
