/* sync-client/sync_conflict.c - see sync_conflict.h. */
#include "sync-client/sync_conflict.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sync-client/sync_path.h"

#define MARKER " (conflicted copy "
#define MARKER_LEN (sizeof MARKER - 1)
#define DATE_LEN 10 /* YYYY-MM-DD */

/* Is the (valid UTF-8) character s[0..n) one a host name may not keep? */
static int host_char_bad(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0] < 0x20 || s[0] == 0x7f || strchr("/\\:*?\"<>|()", s[0]) != NULL;
    return n == 2 && s[0] == 0xc2 && s[1] < 0xa0; /* C1 controls U+0080..U+009F */
}

int sync_conflict_host(const char *host, char *out, size_t out_size)
{
    if (!out || out_size < SYNC_CONFLICT_HOST_MAX + 1)
        return SYNC_EINVAL;
    const unsigned char *h = (const unsigned char *)(host ? host : "");
    size_t len = strnlen((const char *)h, SYNC_CONFLICT_HOST_IN_MAX);
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t k = sync_utf8_seq_len(h + i, len - i);
        int bad = k == 0 || host_char_bad(h + i, k);
        size_t step = k ? k : 1;
        size_t add = bad ? 1 : k;
        if (n == 0 && !bad && h[i] == ' ') { /* leading spaces */
            i += step;
            continue;
        }
        if (n + add > SYNC_CONFLICT_HOST_MAX)
            break;
        if (bad)
            out[n] = '-';
        else
            memcpy(out + n, h + i, k);
        n += add;
        i += step;
    }
    while (n && out[n - 1] == ' ')
        n--;
    if (n == 0) {
        memcpy(out, "unknown", 7);
        n = 7;
    }
    out[n] = 0;
    return (int)n;
}

/* Split name[0..n) into base and extension (see the rule in the header):
 * returns the base length; the extension is the rest. */
static size_t name_base_len(const char *name, size_t n)
{
    const char *dot = memrchr(name, '.', n);
    if (!dot || dot == name || dot == name + n - 1)
        return n;
    if (n - (size_t)(dot - name) > SYNC_CONFLICT_EXT_MAX)
        return n;
    return (size_t)(dot - name);
}

struct conflict_parts {
    const char *dir, *base, *ext;
    size_t dir_len, base_len, ext_len;
    char date[DATE_LEN + 1];
    char host[SYNC_CONFLICT_HOST_MAX + 1];
};

/*
 * Candidate number k (1: no number) into out (SYNC_PATH_MAX + 1 bytes).
 * Returns its length, or SYNC_ETOOLONG if the marker does not fit.
 */
static int conflict_candidate(const struct conflict_parts *p, unsigned k, char *out)
{
    char marker[MARKER_LEN + DATE_LEN + SYNC_CONFLICT_HOST_MAX + 16];
    int mlen = k > 1 ? snprintf(marker, sizeof marker, MARKER "%s %s %u)", p->date, p->host, k)
                     : snprintf(marker, sizeof marker, MARKER "%s %s)", p->date, p->host);
    if (mlen < 0 || (size_t)mlen >= sizeof marker)
        return SYNC_EINVAL;
    size_t budget = SYNC_PATH_MAX - p->dir_len;
    if (budget > SYNC_NAME_MAX)
        budget = SYNC_NAME_MAX;
    if ((size_t)mlen + p->ext_len >= budget)
        return SYNC_ETOOLONG;
    size_t keep = sync_utf8_floor(p->base, p->base_len, budget - (size_t)mlen - p->ext_len);
    if (keep == 0)
        return SYNC_ETOOLONG;
    char *o = out;
    memcpy(o, p->dir, p->dir_len);
    o += p->dir_len;
    memcpy(o, p->base, keep);
    o += keep;
    memcpy(o, marker, (size_t)mlen);
    o += mlen;
    memcpy(o, p->ext, p->ext_len);
    o += p->ext_len;
    *o = 0;
    return (int)(o - out);
}

/* Fill the parts of path (checked) for time when. */
static int conflict_split(struct conflict_parts *p, const char *path, size_t len, const char *host,
                          int64_t when)
{
    time_t t = (time_t)when;
    struct tm tm;
    if ((int64_t)t != when || !gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 ||
        tm.tm_year + 1900 > 9999)
        return SYNC_EINVAL;
    /* the ranges are checked above; the modulos only tell the compiler */
    snprintf(p->date, sizeof p->date, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
    sync_conflict_host(host, p->host, sizeof p->host);
    const char *slash = memrchr(path, '/', len);
    p->dir = path;
    p->dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *name = path + p->dir_len;
    size_t name_len = len - p->dir_len;
    p->base = name;
    p->base_len = name_base_len(name, name_len);
    p->ext = name + p->base_len;
    p->ext_len = name_len - p->base_len;
    return 0;
}

int sync_conflict_name(const char *path, size_t len, const char *host, int64_t when,
                       sync_conflict_exists_fn exists, void *arg, char *out, size_t out_size,
                       size_t *out_len)
{
    struct conflict_parts p;
    char cand[SYNC_PATH_MAX + 1];
    int rc = sync_path_check(path, len);
    if (rc == 0 && (!out || out_size < SYNC_PATH_MAX + 1))
        rc = SYNC_EINVAL;
    if (rc == 0)
        rc = conflict_split(&p, path, len, host, when);
    if (rc)
        return rc;
    for (unsigned k = 1; k <= SYNC_CONFLICT_TRIES; k++) {
        int n = conflict_candidate(&p, k, cand);
        if (n < 0)
            return n;
        int taken = exists ? exists(arg, cand, (size_t)n) : 0;
        if (taken < 0)
            return taken;
        if (taken)
            continue;
        if (sync_path_check(cand, (size_t)n) != 0)
            return SYNC_EINVAL; /* cannot happen: every part is checked */
        memcpy(out, cand, (size_t)n + 1);
        if (out_len)
            *out_len = (size_t)n;
        return 0;
    }
    return SYNC_EEXIST;
}

static int is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* "YYYY-MM-DD " at s[0..n)? */
static int is_date_space(const char *s, size_t n)
{
    return n >= DATE_LEN + 1 && is_digits(s, 4) && s[4] == '-' && is_digits(s + 5, 2) &&
           s[7] == '-' && is_digits(s + 8, 2) && s[10] == ' ';
}

/* Does name[0..n) have, at m, a marker followed by the rest of a conflict
 * copy's shape (date, host, ')', end or one extension)? */
static int copy_shape_at(const char *name, size_t n, const char *m)
{
    if (m == name)
        return 0; /* the base may not be empty */
    const char *d = m + MARKER_LEN;
    size_t rest = n - (size_t)(d - name);
    if (!is_date_space(d, rest))
        return 0;
    const char *h = d + DATE_LEN + 1;
    const char *close = memchr(h, ')', rest - (DATE_LEN + 1));
    if (!close || close == h)
        return 0;
    const char *ext = close + 1;
    size_t ext_len = n - (size_t)(ext - name);
    if (ext_len == 0)
        return 1;
    return ext[0] == '.' && ext_len >= 2 && !memchr(ext + 1, '.', ext_len - 1);
}

int sync_conflict_is_copy(const char *path, size_t len)
{
    if (!path)
        return 0;
    const char *slash = memrchr(path, '/', len);
    const char *name = slash ? slash + 1 : path;
    size_t n = len - (size_t)(name - path);
    /* any marker may be ours: the extension can hold marker-like text, and
     * a conflict copy of a conflict copy has two */
    for (const char *s = name; (s = memmem(s, n - (size_t)(s - name), MARKER, MARKER_LEN));
         s++)
        if (copy_shape_at(name, n, s))
            return 1;
    return 0;
}
