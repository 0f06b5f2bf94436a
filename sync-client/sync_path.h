/*
 * sync-client/sync_path.h - the shape of a synced path, and UTF-8 helpers.
 *
 * A synced path is relative to the folder's root and is also the object
 * key below the folder's prefix, so it obeys both file-system and S3
 * rules.  sync_path_check() accepts exactly:
 *   - 1..SYNC_PATH_MAX bytes of valid UTF-8 (no overlong forms, no
 *     surrogates, nothing above U+10FFFF), no NUL byte;
 *   - '/'-separated components, each 1..SYNC_NAME_MAX bytes, none "." or
 *     ".." (so no leading, trailing or doubled '/').
 * A file whose name breaks these rules cannot be synced; the scanner
 * reports it and skips it.
 *
 * Every function here is pure and reentrant.  Inputs are borrowed for the
 * call; nothing is allocated.
 */
#ifndef CAIRN_SYNC_PATH_H
#define CAIRN_SYNC_PATH_H

#include <stddef.h>

#include "sync-client/sync.h"

/* Check path[0..len) against the rules above.  Returns 0, SYNC_ETOOLONG
 * (over SYNC_PATH_MAX bytes, or a component over SYNC_NAME_MAX), or
 * SYNC_EINVAL (NULL, empty, bad UTF-8, NUL, empty/"."/".." component). */
int sync_path_check(const char *path, size_t len);

/* 1 if s[0..len) is valid UTF-8 (as above: strict, no NUL check), else 0.
 * s may be NULL when len is 0. */
int sync_utf8_valid(const char *s, size_t len);

/* The largest n <= max (and <= len) such that s[0..n) does not end inside
 * a multi-byte UTF-8 sequence of s: the place to cut s to at most max
 * bytes without splitting a character.  For valid UTF-8 the result is
 * valid UTF-8; invalid bytes are treated as one-byte characters. */
size_t sync_utf8_floor(const char *s, size_t len, size_t max);

/* Length of the valid UTF-8 sequence at s[0..len): 1..4, or 0 if the bytes
 * there do not start a valid sequence (or len is 0). */
size_t sync_utf8_seq_len(const unsigned char *s, size_t len);

#endif
