/* sync-client/sync_config.c - see sync_config.h. */
#include "sync-client/sync_config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/uri.h"
#include "sync-client/sync_folder.h"
#include "sync-client/sync_path.h"

#define CONFIG_SECTION "sync"
#define FOLDERS_FILE_MAX (SYNC_CONFIG_FOLDERS_MAX * (PATH_MAX + 1))

/* ---- values as the INI file carries them --------------------------------- */

/* Bytes written as %XX: what inih would strip, split or take as a comment. */
static int needs_escape(unsigned char c)
{
    return c == '%' || c <= 0x20 || c == 0x7f || c == ';' || c == '#';
}

/* Length of s once escaped. */
static size_t escaped_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += needs_escape((unsigned char)*s) ? 3 : 1;
    return n;
}

static int put_value(struct buf *b, const char *key, const char *value)
{
    int rc = buf_printf(b, value[0] ? "%s = " : "%s =", key);
    for (const char *s = value; rc == 0 && *s; s++)
        rc = needs_escape((unsigned char)*s) ? buf_printf(b, "%%%02X", (unsigned char)*s)
                                             : buf_append(b, s, 1);
    return rc ? rc : buf_puts(b, "\n");
}

/* Undo %XX (uri_decode, '+' kept) into out (out_size bytes).  SYNC_EINVAL
 * for a bad escape or a NUL, SYNC_ETOOLONG if it does not fit. */
static int unescape(const char *in, char *out, size_t out_size)
{
    long n = uri_decode(in, strlen(in), out, out_size - 1, 0);
    if (n == -ENOSPC)
        return SYNC_ETOOLONG;
    if (n < 0 || memchr(out, 0, (size_t)n))
        return SYNC_EINVAL;
    out[n] = 0;
    return 0;
}

/* ---- checks ---------------------------------------------------------------- */

static int bucket_check(const char *b, size_t len)
{
    if (len < 3)
        return SYNC_EINVAL;
    if (len > SYNC_CONFIG_BUCKET_MAX)
        return SYNC_ETOOLONG;
    for (size_t i = 0; i < len; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return SYNC_EINVAL;
    }
    return 0;
}

/* p[0..len) as a prefix ("" or "x/y" with or without a final '/'),
 * normalized into out (SYNC_CONFIG_VALUE_MAX + 1 bytes). */
static int prefix_normalize(const char *p, size_t len, char *out)
{
    if (len == 0) {
        out[0] = 0;
        return 0;
    }
    if (p[len - 1] == '/' && --len == 0)
        return SYNC_EINVAL; /* "/": an empty component */
    int rc = sync_path_check(p, len);
    if (rc)
        return rc;
    char tmp[SYNC_PATH_MAX + 2];
    memcpy(tmp, p, len);
    tmp[len] = '/';
    tmp[len + 1] = 0;
    if (escaped_len(tmp) > SYNC_CONFIG_VALUE_MAX)
        return SYNC_ETOOLONG;
    memcpy(out, tmp, len + 2);
    return 0;
}

int sync_config_parse_s3_url(const char *url, char *bucket, char *prefix)
{
    char pfx[SYNC_CONFIG_VALUE_MAX + 1];
    if (!url || !bucket || !prefix || strncmp(url, "s3://", 5) != 0)
        return SYNC_EINVAL;
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    int rc = bucket_check(b, blen);
    if (rc == 0 && slash)
        rc = prefix_normalize(slash + 1, strlen(slash + 1), pfx);
    else
        pfx[0] = 0;
    if (rc)
        return rc;
    memcpy(bucket, b, blen);
    bucket[blen] = 0;
    memcpy(prefix, pfx, strlen(pfx) + 1);
    return 0;
}

int sync_config_parse_endpoint(const char *url, char *out)
{
    if (!url || !out)
        return SYNC_EINVAL;
    size_t scheme = strncmp(url, "http://", 7) == 0 ? 7 : strncmp(url, "https://", 8) == 0 ? 8 : 0;
    if (!scheme)
        return SYNC_EINVAL;
    size_t len = strlen(url);
    if (len > scheme && url[len - 1] == '/')
        len--;
    if (len == scheme)
        return SYNC_EINVAL;
    for (size_t i = scheme; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '@' || c == '%' ||
            c == ';')
            return SYNC_EINVAL;
    }
    if (len > SYNC_CONFIG_VALUE_MAX)
        return SYNC_ETOOLONG;
    memcpy(out, url, len);
    out[len] = 0;
    return 0;
}

/* ---- the folder's config ---------------------------------------------------- */

static int state_path(const char *folder, const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s%s%s", folder, SYNC_STATE_DIR, name ? "/" : "",
                     name ? name : "");
    return n < 0 || (size_t)n >= size ? SYNC_ETOOLONG : 0;
}

struct load_state {
    struct sync_config cfg;
    int have_endpoint, have_bucket;
    char why[160]; /* the first problem */
};

static int load_key(void *arg, const char *section, const char *name, const char *value)
{
    struct load_state *st = arg;
    char v[SYNC_CONFIG_VALUE_MAX + 1];
    int rc = 0;
    if (section[0] && strcmp(section, CONFIG_SECTION) != 0)
        return 1;
    if (unescape(value, v, sizeof v) != 0) {
        rc = SYNC_EINVAL;
    } else if (strcmp(name, "endpoint") == 0) {
        rc = sync_config_parse_endpoint(v, st->cfg.endpoint);
        st->have_endpoint = rc == 0;
    } else if (strcmp(name, "bucket") == 0) {
        rc = bucket_check(v, strlen(v));
        if (rc == 0)
            memcpy(st->cfg.bucket, v, strlen(v) + 1);
        st->have_bucket = rc == 0;
    } else if (strcmp(name, "prefix") == 0) {
        rc = prefix_normalize(v, strlen(v), st->cfg.prefix);
    } else if (strcmp(name, "region") == 0) {
        memcpy(st->cfg.region, v, strlen(v) + 1);
    } else if (strcmp(name, "profile") == 0) {
        memcpy(st->cfg.profile, v, strlen(v) + 1);
    }
    if (rc && !st->why[0])
        snprintf(st->why, sizeof st->why, "bad %s value '%.64s'", name, value);
    return rc == 0;
}

int sync_config_load(const char *folder, struct sync_config *out, char *why, size_t why_size)
{
    char path[PATH_MAX];
    struct load_state st;
    memset(&st, 0, sizeof st);
    int rc = state_path(folder, SYNC_CONFIG_FILE, path, sizeof path);
    FILE *f = rc == 0 ? fopen(path, "re") : NULL;
    if (rc == 0 && !f)
        rc = -errno;
    if (rc == 0) {
        int line = ini_parse_file(f, load_key, &st);
        fclose(f);
        if (line > 0 && !st.why[0])
            snprintf(st.why, sizeof st.why, "line %d does not parse", line);
        else if (line < 0)
            rc = -ENOMEM;
        if (rc == 0 && !st.why[0] && !st.have_endpoint)
            snprintf(st.why, sizeof st.why, "no endpoint");
        if (rc == 0 && !st.why[0] && !st.have_bucket)
            snprintf(st.why, sizeof st.why, "no bucket");
        if (rc == 0 && st.why[0])
            rc = SYNC_ECORRUPT;
    }
    if (rc) {
        if (why && why_size)
            snprintf(why, why_size, "%s: %s", path, st.why[0] ? st.why : sync_strerror(rc));
        return rc;
    }
    if (!st.cfg.region[0])
        snprintf(st.cfg.region, sizeof st.cfg.region, "%s", SYNC_CONFIG_DEFAULT_REGION);
    *out = st.cfg;
    return 0;
}

int sync_config_save(const char *folder, const struct sync_config *cfg)
{
    char path[PATH_MAX], dir[PATH_MAX], check[SYNC_CONFIG_VALUE_MAX + 1];
    struct buf b;
    int rc;
    if (!folder || !cfg || sync_config_parse_endpoint(cfg->endpoint, check) != 0 ||
        strcmp(check, cfg->endpoint) != 0 || bucket_check(cfg->bucket, strlen(cfg->bucket)) ||
        prefix_normalize(cfg->prefix, strlen(cfg->prefix), check) != 0 ||
        strcmp(check, cfg->prefix) != 0)
        return SYNC_EINVAL;
    if (escaped_len(cfg->region) > SYNC_CONFIG_VALUE_MAX ||
        escaped_len(cfg->profile) > SYNC_CONFIG_VALUE_MAX)
        return SYNC_ETOOLONG;
    if ((rc = state_path(folder, NULL, dir, sizeof dir)) != 0 ||
        (rc = state_path(folder, SYNC_CONFIG_FILE, path, sizeof path)) != 0)
        return rc;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -errno;
    buf_init(&b, 4096);
    rc = buf_puts(&b, "# cairn-sync folder config, written by `cairn-sync init`.\n"
                      "# Credentials are not kept here: see `cairn-sync init --help`.\n"
                      "[" CONFIG_SECTION "]\n");
    if (rc == 0)
        rc = put_value(&b, "endpoint", cfg->endpoint);
    if (rc == 0)
        rc = put_value(&b, "bucket", cfg->bucket);
    if (rc == 0)
        rc = put_value(&b, "prefix", cfg->prefix);
    if (rc == 0)
        rc = put_value(&b, "region", cfg->region);
    if (rc == 0)
        rc = put_value(&b, "profile", cfg->profile);
    if (rc == 0)
        rc = file_write_atomic(path, b.data, b.len, 0600);
    buf_release(&b);
    return rc;
}

int sync_config_find_folder(const char *path, char *out, size_t out_size)
{
    char dir[PATH_MAX], cfg[PATH_MAX + 32];
    struct stat st;
    size_t len = strlen(path);
    if (len >= sizeof dir)
        return SYNC_ETOOLONG;
    memcpy(dir, path, len + 1);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = 0;
    for (;;) {
        snprintf(cfg, sizeof cfg, "%s/%s/%s", len == 1 && dir[0] == '/' ? "" : dir,
                 SYNC_STATE_DIR, SYNC_CONFIG_FILE);
        if (stat(cfg, &st) == 0 && S_ISREG(st.st_mode)) {
            if (len + 1 > out_size)
                return SYNC_ETOOLONG;
            memcpy(out, dir, len + 1);
            return 0;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || (len == 1 && dir[0] == '/'))
            return SYNC_ENOTFOUND;
        len = slash == dir ? 1 : (size_t)(slash - dir);
        dir[len] = 0; /* "/a/b" -> "/a", "/a" -> "/" */
    }
}

/* ---- the folder list ------------------------------------------------------- */

/* $HOME, or the password database's home; NULL if neither. */
static const char *home_dir(void)
{
    const char *home = getenv("HOME");
    if (home && home[0] == '/')
        return home;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

int sync_config_dir(char *out, size_t out_size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = NULL;
    int n;
    if (xdg && xdg[0] == '/') {
        n = snprintf(out, out_size, "%s/cairn-sync", xdg);
    } else {
        if (!(home = home_dir()))
            return -ENOENT;
        n = snprintf(out, out_size, "%s/.config/cairn-sync", home);
    }
    return n < 0 || (size_t)n >= out_size ? SYNC_ETOOLONG : 0;
}

int sync_config_folders_path(char *out, size_t out_size)
{
    char dir[PATH_MAX];
    int rc = sync_config_dir(dir, sizeof dir);
    if (rc)
        return rc;
    int n = snprintf(out, out_size, "%s/%s", dir, SYNC_CONFIG_FOLDERS_FILE);
    return n < 0 || (size_t)n >= out_size ? SYNC_ETOOLONG : 0;
}

void sync_config_folders_init(struct sync_config_folders *l)
{
    l->paths = NULL;
    l->n = 0;
}

void sync_config_folders_release(struct sync_config_folders *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    sync_config_folders_init(l);
}

int sync_config_folders_push(struct sync_config_folders *l, const char *path)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->paths[i], path) == 0)
            return 1;
    if (l->n == SYNC_CONFIG_FOLDERS_MAX)
        return SYNC_ETOOLONG;
    char **grown = realloc(l->paths, (l->n + 1) * sizeof *grown);
    char *copy = grown ? strdup(path) : NULL;
    if (grown)
        l->paths = grown;
    if (!copy)
        return -ENOMEM;
    l->paths[l->n++] = copy;
    return 0;
}

/* Parse the list's text (NUL-terminated) into *out. */
static int folders_parse(char *text, struct sync_config_folders *out)
{
    struct sync_config_folders l;
    sync_config_folders_init(&l);
    int rc = 0;
    for (char *line = text, *next; rc == 0 && line && *line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = 0;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = 0;
        if (len == 0 || line[0] == '#')
            continue;
        if (line[0] != '/')
            rc = SYNC_ECORRUPT;
        else if (len >= PATH_MAX)
            rc = SYNC_ETOOLONG;
        else if ((rc = sync_config_folders_push(&l, line)) == 1)
            rc = 0;
    }
    if (rc) {
        sync_config_folders_release(&l);
        return rc;
    }
    *out = l;
    return 0;
}

int sync_config_folders_read(const char *file, struct sync_config_folders *out)
{
    struct buf b;
    buf_init(&b, FOLDERS_FILE_MAX);
    int rc = file_read(file, &b);
    if (rc == -ENOENT) {
        sync_config_folders_init(out);
        rc = 0;
    } else if (rc == 0) {
        rc = folders_parse(b.data ? b.data : (char[]){0}, out);
    } else if (rc == -EFBIG) {
        rc = SYNC_ETOOLONG;
    }
    buf_release(&b);
    return rc;
}

/* mkdir -p of the directory that holds file (new ones 0700). */
static int make_parent_dirs(const char *file)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(file, '/');
    if (!slash || slash == file)
        return 0;
    if ((size_t)(slash - file) >= sizeof dir)
        return SYNC_ETOOLONG;
    memcpy(dir, file, (size_t)(slash - file));
    dir[slash - file] = 0;
    return file_make_dirs(dir, 0700);
}

/* Take the list's lock (file + ".lock"), creating the directory. */
static int folders_lock(const char *file)
{
    char lock[PATH_MAX];
    if (snprintf(lock, sizeof lock, "%s.lock", file) >= (int)sizeof lock)
        return SYNC_ETOOLONG;
    int rc = make_parent_dirs(file);
    if (rc)
        return rc;
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            rc = -errno;
            close(fd);
            return rc;
        }
    }
    return fd;
}

static int folders_write(const char *file, const struct sync_config_folders *l)
{
    struct buf b;
    buf_init(&b, FOLDERS_FILE_MAX);
    int rc = buf_puts(&b, "# folders `cairn-sync run` syncs; `cairn-sync init` adds to it\n");
    for (size_t i = 0; rc == 0 && i < l->n; i++)
        rc = buf_printf(&b, "%s\n", l->paths[i]);
    if (rc == 0)
        rc = file_write_atomic(file, b.data, b.len, 0600);
    else
        rc = rc == -ENOSPC ? SYNC_ETOOLONG : rc;
    buf_release(&b);
    return rc;
}

/* Read, change (add != 0: append folder; else remove it), write. */
static int folders_change(const char *file, const char *folder, int add)
{
    struct sync_config_folders l;
    size_t len = folder ? strlen(folder) : 0;
    if (!file || !folder || folder[0] != '/' || strchr(folder, '\n') || strchr(folder, '\r'))
        return SYNC_EINVAL;
    if (len >= PATH_MAX)
        return SYNC_ETOOLONG;
    int fd = folders_lock(file);
    if (fd < 0)
        return fd;
    sync_config_folders_init(&l); /* a failed read leaves it untouched */
    int rc = sync_config_folders_read(file, &l);
    size_t at = l.n;
    for (size_t i = 0; rc == 0 && !add && i < l.n; i++)
        if (strcmp(l.paths[i], folder) == 0)
            at = i;
    if (rc == 0 && add) {
        rc = sync_config_folders_push(&l, folder); /* 1: listed already */
    } else if (rc == 0 && at == l.n) {
        rc = SYNC_ENOTFOUND;
    } else if (rc == 0) {
        free(l.paths[at]);
        memmove(l.paths + at, l.paths + at + 1, (l.n - at - 1) * sizeof *l.paths);
        l.n--;
    }
    if (rc == 0)
        rc = folders_write(file, &l);
    sync_config_folders_release(&l);
    close(fd); /* drops the lock */
    return rc;
}

int sync_config_folders_add(const char *file, const char *folder)
{
    return folders_change(file, folder, 1);
}

int sync_config_folders_remove(const char *file, const char *folder)
{
    return folders_change(file, folder, 0);
}

/* ---- credentials ------------------------------------------------------------- */

const char *sync_config_profile_name(const char *profile)
{
    const char *env = getenv("AWS_PROFILE");
    if (profile && *profile)
        return profile;
    return env && *env ? env : "default";
}

/* One AWS file's keys of one profile. */
struct aws_lookup {
    const char *profile;
    int config_file; /* sections are "profile NAME" (and "default") */
    char access_key[SYNC_CONFIG_KEY_MAX + 1];
    char secret_key[SYNC_CONFIG_SECRET_MAX + 1];
    char region[SYNC_CONFIG_VALUE_MAX + 1];
    int too_long;
};

/* Is section the profile's?  In the config file "[profile NAME]" (any
 * blanks between) and "[default]" for the default profile. */
static int aws_section_is(const struct aws_lookup *q, const char *section)
{
    if (!q->config_file)
        return strcmp(section, q->profile) == 0;
    if (strcmp(q->profile, "default") == 0 && strcmp(section, "default") == 0)
        return 1;
    if (strncmp(section, "profile", 7) != 0 || (section[7] != ' ' && section[7] != '\t'))
        return 0;
    section += 7;
    section += strspn(section, " \t");
    return strcmp(section, q->profile) == 0;
}

static void copy_capped(struct aws_lookup *q, char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n >= cap) {
        q->too_long = 1;
        return;
    }
    memcpy(dst, v, n + 1);
}

static int aws_key(void *arg, const char *section, const char *name, const char *value)
{
    struct aws_lookup *q = arg;
    if (!aws_section_is(q, section))
        return 1;
    if (strcasecmp(name, "aws_access_key_id") == 0)
        copy_capped(q, q->access_key, sizeof q->access_key, value);
    else if (strcasecmp(name, "aws_secret_access_key") == 0)
        copy_capped(q, q->secret_key, sizeof q->secret_key, value);
    else if (strcasecmp(name, "region") == 0)
        copy_capped(q, q->region, sizeof q->region, value);
    return 1;
}

/* The AWS file named by env_name, else ~/.aws/dflt, into out. */
static int aws_file(const char *env_name, const char *dflt, char *out, size_t size)
{
    const char *env = getenv(env_name), *home;
    int n;
    if (env && *env) {
        n = snprintf(out, size, "%s", env);
    } else {
        if (!(home = home_dir()))
            return -ENOENT;
        n = snprintf(out, size, "%s/.aws/%s", home, dflt);
    }
    return n < 0 || (size_t)n >= size ? SYNC_ETOOLONG : 0;
}

/* Look the profile up in one file; a missing file is an empty one. */
static int aws_read(const char *path, struct aws_lookup *q)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    int rc = ini_parse_file(f, aws_key, q); /* > 0: a line did not parse: skipped */
    fclose(f);
    if (rc < 0)
        return -ENOMEM;
    return q->too_long ? SYNC_ETOOLONG : 0;
}

int sync_config_credentials(const char *profile, struct sync_credentials *out)
{
    struct sync_credentials c;
    struct aws_lookup q;
    char path[PATH_MAX];
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    int rc = 0, first_err = 0, found = 0;
    if (!out)
        return SYNC_EINVAL;
    memset(&c, 0, sizeof c);
    if (!(profile && *profile) && ak && *ak && sk && *sk) {
        if (strlen(ak) > SYNC_CONFIG_KEY_MAX || strlen(sk) > SYNC_CONFIG_SECRET_MAX)
            return SYNC_ETOOLONG;
        memcpy(c.access_key, ak, strlen(ak) + 1);
        memcpy(c.secret_key, sk, strlen(sk) + 1);
        snprintf(c.source, sizeof c.source, "the environment");
        found = 1;
    }
    /* The credentials file, then the config file, which also gives the
     * region (wanted even when the keys come from elsewhere).  A file that
     * cannot be read matters only if no keys turn up at all. */
    for (int config_file = 0; config_file < 2; config_file++) {
        memset(&q, 0, sizeof q);
        q.profile = sync_config_profile_name(profile);
        q.config_file = config_file;
        rc = config_file ? aws_file("AWS_CONFIG_FILE", "config", path, sizeof path)
                         : aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials", path, sizeof path);
        if (rc == 0)
            rc = aws_read(path, &q);
        if (rc == 0 && !found && q.access_key[0] && q.secret_key[0]) {
            memcpy(c.access_key, q.access_key, sizeof c.access_key);
            memcpy(c.secret_key, q.secret_key, sizeof c.secret_key);
            snprintf(c.source, sizeof c.source, "profile %.64s in %.240s", q.profile, path);
            found = 1;
        }
        if (rc == 0 && config_file)
            memcpy(c.region, q.region, sizeof c.region);
        if (rc && rc != -ENOENT && !first_err) /* -ENOENT: no home, so no files */
            first_err = rc;
        explicit_bzero(q.secret_key, sizeof q.secret_key);
    }
    rc = found ? 0 : first_err ? first_err : SYNC_ENOTFOUND;
    if (rc == 0)
        *out = c;
    explicit_bzero(&c, sizeof c);
    return rc;
}
