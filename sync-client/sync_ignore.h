/*
 * sync-client/sync_ignore.h - which paths cairn-sync leaves alone: the
 * built-in list and the folder's .cairnignore (gitignore-style patterns).
 *
 * Calling sequence: sync_ignore_new() or sync_ignore_new_from_file() ->
 * sync_ignore_match() / sync_ignore_path() any number of times, from any
 * number of threads -> sync_ignore_free().  A rule set is immutable once
 * built; to pick up an edited .cairnignore, build a new one and swap it in.
 *
 * One .cairnignore, at the root of the synced folder; its patterns are
 * relative to that root.  (Unlike git, a .cairnignore in a subfolder means
 * nothing.)  The file is an ordinary synced file, so every device of the
 * folder shares it.
 *
 * Pattern syntax (git's gitignore(5), case-sensitive; a line is one rule):
 *   - blank lines match nothing; a line starting with '#' is a comment;
 *     "\#" and "\!" start a pattern with a literal '#' or '!'.
 *   - trailing spaces are dropped unless escaped ("a\ "); a trailing CR
 *     (a file edited on Windows) is dropped; a UTF-8 BOM is skipped.
 *   - '!' negates: a path matched by a later '!' rule is included again.
 *     The LAST rule that matches a path decides.
 *   - a trailing '/' makes the rule match directories only.
 *   - a leading '/', or a '/' in the middle, anchors the pattern to the
 *     root: it is matched against the whole relative path.  A pattern with
 *     no '/' (other than a trailing one) matches the last component of the
 *     path, at any depth.
 *   - '*' matches any run of bytes except '/'; '?' one byte except '/';
 *     "[abc]", "[a-z]", "[!x]" / "[^x]", "[]x]" and the POSIX classes
 *     "[[:alpha:]]" (alnum alpha blank cntrl digit graph lower print punct
 *     space upper xdigit, ASCII only) match one byte, never '/'.
 *   - "**": a leading "**" + "/" matches in every directory ("**" + "/foo" is
 *     foo anywhere); a trailing "/" + "**" matches everything inside
 *     ("logs/" + "**"); "/" + "**" + "/" in the middle matches zero or more
 *     directories ("a/" + "**" + "/b": a/b, a/x/b, a/x/y/b).  Any other run
 *     of stars is a single '*': "a**" followed by "/b" means "a*" then
 *     "/b".  (git 2.39 lets such stars cross '/' too, a side effect of its
 *     literal-prefix shortcut; we follow gitignore(5) as documented.)
 *   - '\' escapes the next byte.  A pattern ending in a lone '\' or with an
 *     unclosed '[' is accepted and matches nothing (as in git).
 *   Matching is byte-wise: '?' and classes see one byte of a multi-byte
 *   UTF-8 character, as in git.
 *
 * Built-in rules, always applied, before the file's rules (so a '!' rule
 * in .cairnignore can include them again):
 *     *~  .*.swp  .*.swo  .*.swx  *.tmp  .~lock.*#  ~$*  .#*  #*#
 *     .DS_Store  Thumbs.db  desktop.ini  4913  *.part  *.crdownload
 * (editor backups and swap files, LibreOffice and MS Office lock files,
 * Emacs lock and autosave files, vim's write probe "4913", macOS and
 * Windows folder metadata, partial downloads).  And one that nothing can
 * undo: a path with a component named ".cairn-sync" (the daemon's own
 * folder, or that of a synced folder nested inside this one) is ignored.
 *
 * Directories: as in git, nothing below an ignored directory can be
 * included again.  sync_ignore_match() judges one path by itself (a tree
 * walk that does not descend into ignored directories needs no more);
 * sync_ignore_path() also checks every ancestor directory (for a full path
 * from a file-system event).
 *
 * Limits: the text is at most SYNC_IGNORE_TEXT_MAX bytes, a line at most
 * SYNC_IGNORE_LINE_MAX bytes, at most SYNC_IGNORE_RULES_MAX rules.  The cost
 * of one match is at most (path bytes) x (pattern tokens) per rule tried,
 * with no backtracking; most rules are rejected by their literal head or
 * tail in a few byte compares.
 */
#ifndef CAIRN_SYNC_IGNORE_H
#define CAIRN_SYNC_IGNORE_H

#include <stddef.h>

#include "sync-client/sync.h"

#define SYNC_IGNORE_FILE ".cairnignore"    /* at the folder's root */
#define SYNC_DAEMON_DIR ".cairn-sync"      /* the daemon's own folder */
#define SYNC_IGNORE_TEXT_MAX (256u * 1024) /* bytes of .cairnignore */
#define SYNC_IGNORE_LINE_MAX 1024          /* bytes of one line */
#define SYNC_IGNORE_RULES_MAX 4096         /* rules from the text */

struct sync_ignore;

/*
 * Build a rule set from the built-in rules and text[0..len) (the content
 * of a .cairnignore; text may be NULL when len is 0: built-in rules only).
 * text is borrowed for the call.
 * Returns 0 and *out (owned: sync_ignore_free()), or
 *   SYNC_ETOOLONG  len over SYNC_IGNORE_TEXT_MAX, a line over
 *                  SYNC_IGNORE_LINE_MAX, or more than SYNC_IGNORE_RULES_MAX
 *                  rules; *bad_line (if not NULL) is then the 1-based number
 *                  of the offending line (0 for the whole text);
 *   SYNC_EINVAL    out NULL, or text NULL with len > 0;
 *   -ENOMEM.
 * Malformed patterns are not errors: they match nothing.
 * On error *out and *bad_line are untouched except as said.
 */
int sync_ignore_new(const char *text, size_t len, size_t *bad_line, struct sync_ignore **out);

/*
 * sync_ignore_new() with the content of the file at path (normally
 * FOLDER/.cairnignore).  A missing file (ENOENT) gives the built-in rules
 * only and returns 0.  Other read errors are returned as -errno; a file
 * over SYNC_IGNORE_TEXT_MAX is SYNC_ETOOLONG with *bad_line 0.
 */
int sync_ignore_new_from_file(const char *path, size_t *bad_line, struct sync_ignore **out);

/* Free a rule set.  NULL is fine. */
void sync_ignore_free(struct sync_ignore *ig);

/*
 * Is path[0..len) ignored, judging the path alone (not its ancestors)?
 * path is relative to the folder's root (rules in sync_path.h; borrowed
 * for the call); is_dir says whether it names a directory.
 * Returns 1 (ignored), 0 (synced), or SYNC_EINVAL / SYNC_ETOOLONG for a
 * path sync_path_check() refuses (or ig NULL).
 */
int sync_ignore_match(const struct sync_ignore *ig, const char *path, size_t len, int is_dir);

/*
 * Like sync_ignore_match(), but a path below an ignored directory is
 * ignored too: each ancestor "a", "a/b", ... is judged as a directory
 * first.  Same returns.
 */
int sync_ignore_path(const struct sync_ignore *ig, const char *path, size_t len, int is_dir);

/* Number of rules built from the text (built-in rules not counted). */
size_t sync_ignore_rule_count(const struct sync_ignore *ig);

#endif
