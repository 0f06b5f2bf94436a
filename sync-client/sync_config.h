/*
 * sync-client/sync_config.h - what the cairn-sync CLI reads and writes
 * besides the engine's own files: each synced folder's config, the list
 * of synced folders, the user's AWS credentials, and s3:// URLs.
 *
 * The folder's config, FOLDER/.cairn-sync/config, written by `cairn-sync
 * init` (INI, read with inih):
 *
 *     # cairn-sync folder config, written by `cairn-sync init`
 *     [sync]
 *     endpoint = http://127.0.0.1:9000
 *     bucket = photos
 *     prefix = laptop/
 *     region = us-east-1
 *     profile =
 *
 *   endpoint  http:// or https:// and host[:port], nothing after it
 *   bucket    the bucket (it must exist on the server)
 *   prefix    the key prefix the folder maps to: "" (the whole bucket) or
 *             ending in '/'
 *   region    the SigV4 signing region
 *   profile   the AWS profile whose keys sync this folder; empty: the
 *             environment's keys, else $AWS_PROFILE, else "default"
 * Secrets are never written here: credentials come from the environment
 * or the AWS files at every start (sync_config_credentials).
 *
 * Values are written verbatim except for the bytes an INI line cannot
 * carry, which are written as %XX: '%' itself, control bytes, space, ';'
 * and '#'.  inih reads lines of at most 200 bytes, so a value takes at
 * most SYNC_CONFIG_VALUE_MAX bytes in that form (a prefix longer than
 * that is refused by sync_config_parse_s3_url).
 *
 * The folder list, $XDG_CONFIG_HOME/cairn-sync/folders (default
 * ~/.config/cairn-sync/folders): one absolute folder path per line, no
 * duplicates; `cairn-sync run` without arguments syncs each of them.
 * Lines that are empty or start with '#' are skipped, and so are repeats.  Changes are made
 * under an flock on "folders.lock" beside it and written with temp file,
 * fsync, rename, fsync of the directory, so concurrent `init`s lose
 * nothing and a crash leaves the old or the new list.
 *
 * Credentials, as aws-cli finds them: AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY from the environment, unless a profile was named
 * explicitly (the folder's `profile`); else the profile's
 * aws_access_key_id / aws_secret_access_key in the shared credentials
 * file ($AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials,
 * sections "[NAME]"), else in the config file ($AWS_CONFIG_FILE, default
 * ~/.aws/config, sections "[profile NAME]" and "[default]"), which also
 * gives the profile's region.
 *
 * Every function is reentrant (they read the environment; nothing is
 * kept).  Inputs are borrowed for the call.  Errors: 0 or a negative code
 * of sync.h; out-parameters are untouched on error unless said otherwise.
 */
#ifndef CAIRN_SYNC_CONFIG_H
#define CAIRN_SYNC_CONFIG_H

#include <stddef.h>

#include "sync-client/sync.h"

#define SYNC_CONFIG_FILE "config"        /* in FOLDER/.cairn-sync/ */
#define SYNC_CONFIG_FOLDERS_FILE "folders" /* in the user's config dir */
#define SYNC_CONFIG_VALUE_MAX 176        /* a value as written (after %XX) */
#define SYNC_CONFIG_BUCKET_MAX 63
#define SYNC_CONFIG_KEY_MAX 128          /* access key id */
#define SYNC_CONFIG_SECRET_MAX 128       /* secret access key */
#define SYNC_CONFIG_FOLDERS_MAX 1024     /* folders in the list */
#define SYNC_CONFIG_DEFAULT_REGION "us-east-1"

/* One synced folder's config (the INI file above).  Plain arrays: the
 * struct may be copied. */
struct sync_config {
    char endpoint[SYNC_CONFIG_VALUE_MAX + 1];
    char bucket[SYNC_CONFIG_BUCKET_MAX + 1];
    char prefix[SYNC_CONFIG_VALUE_MAX + 1]; /* "" or ending in '/' */
    char region[SYNC_CONFIG_VALUE_MAX + 1];
    char profile[SYNC_CONFIG_VALUE_MAX + 1]; /* "" none named */
};

/*
 * Split "s3://BUCKET[/PREFIX]" into bucket and prefix (each array
 * SYNC_CONFIG_BUCKET_MAX + 1 / SYNC_CONFIG_VALUE_MAX + 1 bytes).  The
 * prefix is normalized: "" for none ("s3://b", "s3://b/"), else it ends
 * in exactly one '/' ("s3://b/docs" and "s3://b/docs/" give "docs/").
 * The bucket: 3..63 bytes of letters, digits, '.', '-', '_' (what a
 * path-style URL carries unencoded; the server has the last word).  The
 * prefix without its final '/' must be a valid synced path (sync_path.h:
 * UTF-8, no empty, "." or ".." component) and fit a config line.
 * Returns 0, SYNC_EINVAL (not s3://, bad bucket or prefix) or
 * SYNC_ETOOLONG.
 */
int sync_config_parse_s3_url(const char *url, char *bucket, char *prefix);

/*
 * Check and normalize an endpoint URL into out (SYNC_CONFIG_VALUE_MAX + 1
 * bytes): "http://" or "https://", a non-empty host[:port], an optional
 * single trailing '/' (dropped), no path, query, user info or white
 * space.  Returns 0, SYNC_EINVAL or SYNC_ETOOLONG.
 */
int sync_config_parse_endpoint(const char *url, char *out);

/*
 * Read FOLDER/.cairn-sync/config into *out.  endpoint and bucket are
 * required and checked as above, prefix is checked, region defaults to
 * SYNC_CONFIG_DEFAULT_REGION, profile to "".  Keys outside [sync] and
 * unknown keys are ignored.  Returns 0, -ENOENT (no config: not a synced
 * folder), SYNC_ECORRUPT (a syntax error or a missing or bad value; why,
 * if not NULL, gets a sentence for people, why_size bytes at most, also
 * on other errors), or -errno.
 */
int sync_config_load(const char *folder, struct sync_config *out, char *why, size_t why_size);

/*
 * Write cfg as FOLDER/.cairn-sync/config (creating FOLDER/.cairn-sync,
 * mode 0700, if missing; the file 0600): temp file, fsync, rename, fsync
 * of the directory.  Returns 0, SYNC_EINVAL (a field that would not read
 * back: bad endpoint, bucket or prefix), SYNC_ETOOLONG, or -errno.
 */
int sync_config_save(const char *folder, const struct sync_config *cfg);

/*
 * The folder that holds path: path itself or its nearest ancestor with a
 * .cairn-sync/config (path need not exist; it is used as given, so pass
 * an absolute, resolved path).  Writes the folder (no trailing '/') into
 * out (out_size bytes).  Returns 0, SYNC_ENOTFOUND (none up to "/"),
 * SYNC_ETOOLONG.
 */
int sync_config_find_folder(const char *path, char *out, size_t out_size);

/* ---- the folder list ---------------------------------------------------- */

/*
 * The user's cairn-sync config directory: $XDG_CONFIG_HOME/cairn-sync if
 * that variable holds an absolute path, else $HOME/.config/cairn-sync (the
 * password database's home if HOME is unset).  Returns 0, SYNC_ETOOLONG,
 * or -ENOENT (no home directory).
 */
int sync_config_dir(char *out, size_t out_size);

/* The folder list's path: sync_config_dir() + "/folders".  Same returns. */
int sync_config_folders_path(char *out, size_t out_size);

struct sync_config_folders {
    char **paths; /* n absolute paths, malloc'd, in file order */
    size_t n;
};

/* Empty list (for sync_config_folders_release). */
void sync_config_folders_init(struct sync_config_folders *l);

/* Free the paths and empty the list.  NULL is fine. */
void sync_config_folders_release(struct sync_config_folders *l);

/* Append a copy of path to l unless it is listed already.  Returns 0
 * (added), 1 (listed already), SYNC_ETOOLONG (SYNC_CONFIG_FOLDERS_MAX
 * entries), or -ENOMEM (l unchanged on errors). */
int sync_config_folders_push(struct sync_config_folders *l, const char *path);

/*
 * Read the list in file (a missing file is an empty list) into *out
 * (owned: release it).  Returns 0, SYNC_ETOOLONG (more than
 * SYNC_CONFIG_FOLDERS_MAX entries or a line longer than PATH_MAX),
 * SYNC_ECORRUPT (a line that is not an absolute path), -ENOMEM, -errno.
 */
int sync_config_folders_read(const char *file, struct sync_config_folders *out);

/*
 * Add folder (an absolute path without '\n') to the list in file,
 * creating the file and its directory (0700) if needed.  Returns 0 when
 * added, 1 when it was already listed (nothing written), SYNC_EINVAL,
 * SYNC_ETOOLONG, or the errors above.
 */
int sync_config_folders_add(const char *file, const char *folder);

/* Remove folder from the list in file.  Returns 0, SYNC_ENOTFOUND (not
 * listed), or the errors above. */
int sync_config_folders_remove(const char *file, const char *folder);

/* ---- credentials -------------------------------------------------------- */

struct sync_credentials {
    char access_key[SYNC_CONFIG_KEY_MAX + 1];
    char secret_key[SYNC_CONFIG_SECRET_MAX + 1];
    char region[SYNC_CONFIG_VALUE_MAX + 1]; /* the profile's region in the
                                               config file; "" if none */
    char source[320]; /* where the keys came from, for messages: "the
                         environment" or "profile NAME in FILE" */
};

/*
 * The profile a lookup uses: profile if not NULL or empty, else
 * $AWS_PROFILE if set and not empty, else "default".  The pointer is
 * profile, the environment's string or a literal.
 */
const char *sync_config_profile_name(const char *profile);

/*
 * Find the keys to sign with, as described at the top: the environment
 * (only when profile is NULL or empty), then the profile
 * (sync_config_profile_name(profile)) in the credentials file, then in
 * the config file.  A file that does not exist is skipped; so are lines
 * that do not parse.  A key pair is taken from one place only.  The
 * secret is wiped from the stack copies; the caller should wipe *out
 * when done.  Returns 0, SYNC_ENOTFOUND (no key pair anywhere),
 * SYNC_ETOOLONG (a key over its cap), or -errno.
 */
int sync_config_credentials(const char *profile, struct sync_credentials *out);

#endif
