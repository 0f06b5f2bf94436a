/*
 * sync-client/sync_conflict.h - names for conflict copies.
 *
 * When a file changed both here and on the server since the last sync,
 * both edits are kept: the server's version takes the file's name, and the
 * local one is renamed to a conflict copy (and uploaded too):
 *
 *     report.docx   ->  report (conflicted copy 2026-11-28 laptop).docx
 *     Makefile      ->  Makefile (conflicted copy 2026-11-28 laptop)
 *     .bashrc       ->  .bashrc (conflicted copy 2026-11-28 laptop)
 *     archive.tar.gz -> archive.tar (conflicted copy 2026-11-28 laptop).gz
 *     docs/a.txt    ->  docs/a (conflicted copy 2026-11-28 laptop).txt
 *
 * The rule:
 *   - Only the last path component changes; the folder is kept.
 *   - The extension is the part of the name from its LAST dot, when that
 *     dot is neither the first nor the last byte of the name and the
 *     extension (dot included) is at most SYNC_CONFLICT_EXT_MAX bytes;
 *     otherwise the name has no extension and the marker goes at the end.
 *     So a multi-dot name keeps only its final extension after the marker
 *     ("archive.tar (...).gz"), as Dropbox does: the copy still opens with
 *     the same program, and the rule needs no list of compound extensions.
 *   - The marker is " (conflicted copy DATE HOST)", DATE the day of `when`
 *     in UTC as YYYY-MM-DD (UTC so that every device names the same
 *     moment the same way and tests do not depend on the time zone).
 *   - If that name is taken (the exists callback says so: a second
 *     conflict on the same day), " 2", " 3", ... is added inside the
 *     parentheses: "report (conflicted copy 2026-11-28 laptop 2).docx".
 *   - The host name is sanitized: control characters, invalid UTF-8 and
 *     the characters / \ : * ? " < > | ( ) become '-' (the name must be
 *     valid on every device of the folder, Windows included, and ')' must
 *     not occur so the marker can be found again); leading and trailing
 *     spaces are dropped; it is cut to SYNC_CONFLICT_HOST_MAX bytes on a
 *     character boundary; an empty result becomes "unknown".
 *   - The new name fits SYNC_NAME_MAX bytes (NAME_MAX) and the whole path
 *     SYNC_PATH_MAX bytes: the part before the extension is shortened, on
 *     a UTF-8 character boundary, as much as needed.
 *
 * Every function here is reentrant; inputs are borrowed for the call.
 */
#ifndef CAIRN_SYNC_CONFLICT_H
#define CAIRN_SYNC_CONFLICT_H

#include <stddef.h>
#include <stdint.h>

#include "sync-client/sync.h"

#define SYNC_CONFLICT_HOST_MAX 64  /* bytes of the host name in the marker */
#define SYNC_CONFLICT_EXT_MAX 32   /* longest extension, dot included */
#define SYNC_CONFLICT_TRIES 1000   /* numbered names tried before giving up */
#define SYNC_CONFLICT_HOST_IN_MAX 1024 /* bytes of host read at most */

/*
 * Is the path out[0..len) taken?  Called by sync_conflict_name() for each
 * candidate (out is NUL-terminated, borrowed for the call).  Returns 1 if
 * taken (on disk, in the index or on the server: the caller decides), 0 if
 * free, or a negative error code that stops the search and is returned.
 */
typedef int (*sync_conflict_exists_fn)(void *arg, const char *path, size_t len);

/*
 * Write the conflict-copy path for path[0..len) (a valid synced path, see
 * sync_path.h) into out (NUL-terminated), its length into *out_len (may be
 * NULL).  host: this device's name (C string, sanitized as above; NULL is
 * "unknown"; only its first SYNC_CONFLICT_HOST_IN_MAX bytes are looked
 * at).  when: the time of the conflict, seconds since the epoch (its UTC
 * date is used).  exists: NULL to take the first candidate, else called
 * with arg for each candidate until one is free.
 * out must have room for SYNC_PATH_MAX + 1 bytes (out_size at least that).
 * Returns 0, or
 *   SYNC_EINVAL    path invalid, out too small, when outside years 0..9999;
 *   SYNC_ETOOLONG  the folder part leaves no room for the marker;
 *   SYNC_EEXIST    SYNC_CONFLICT_TRIES candidates all taken;
 *   the exists callback's negative code.
 * On error out and *out_len are untouched.
 */
int sync_conflict_name(const char *path, size_t len, const char *host, int64_t when,
                       sync_conflict_exists_fn exists, void *arg, char *out, size_t out_size,
                       size_t *out_len);

/*
 * Sanitize host (C string; NULL is "unknown") as described above into out
 * (NUL-terminated, at most SYNC_CONFLICT_HOST_MAX bytes before the NUL;
 * out_size must be at least SYNC_CONFLICT_HOST_MAX + 1).  Returns the
 * length written, or SYNC_EINVAL if out is NULL or too small.
 */
int sync_conflict_host(const char *host, char *out, size_t out_size);

/*
 * Is path[0..len) (a path or a bare name; only the last component is
 * looked at) a conflict copy made by sync_conflict_name()?  That is: a
 * non-empty base, " (conflicted copy YYYY-MM-DD ", a host with no ')',
 * ")", then the end of the name or an extension (a '.' and at least one
 * byte, with no further '.').  Returns 1 or 0 (0 for NULL).  A user's file
 * that happens to look like one counts as one.
 */
int sync_conflict_is_copy(const char *path, size_t len);

#endif
