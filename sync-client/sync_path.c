/* sync-client/sync_path.c - see sync_path.h. */
#include "sync-client/sync_path.h"

#include <string.h>

size_t sync_utf8_seq_len(const unsigned char *s, size_t len)
{
    if (len == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, 0xc0, 0xc1, 0xf5.. */
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

int sync_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = sync_utf8_seq_len(p + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

size_t sync_utf8_floor(const char *s, size_t len, size_t max)
{
    if (max >= len)
        return len;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = sync_utf8_seq_len(p + i, len - i);
        if (n == 0)
            n = 1; /* an invalid byte counts as a character of its own */
        if (i + n > max)
            break;
        i += n;
    }
    return i;
}

/* One component [s, s+n): non-empty, not "." or "..", not too long. */
static int sync_path_check_component(const char *s, size_t n)
{
    if (n == 0)
        return SYNC_EINVAL;
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return SYNC_EINVAL;
    if (n > SYNC_NAME_MAX)
        return SYNC_ETOOLONG;
    return 0;
}

int sync_path_check(const char *path, size_t len)
{
    if (!path || len == 0)
        return SYNC_EINVAL;
    if (len > SYNC_PATH_MAX)
        return SYNC_ETOOLONG;
    if (memchr(path, 0, len) || !sync_utf8_valid(path, len))
        return SYNC_EINVAL;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        int rc = sync_path_check_component(path + start, i - start);
        if (rc)
            return rc;
        start = i + 1;
    }
    return 0;
}
