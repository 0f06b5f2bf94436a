/* common/log.c - see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

int log_level_from_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

/* Append s JSON-escaped to out (bounded). */
static size_t json_escape(char *out, size_t cap, size_t pos, const char *s)
{
    for (; *s && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c < 0x20) {
            pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", c);
        } else {
            out[pos++] = (char)c;
        }
    }
    return pos;
}

/* Write one line: level, request id (may be NULL), msg, and the members
 * of the JSON object fields (NULL: none). */
static void log_line(enum log_level level, const char *request_id, const char *msg,
                     const char *fields)
{
    char line[4608];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t pos = (size_t)snprintf(line, sizeof line,
                                  "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\"",
                                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                  tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000), level_names[level]);
    if (request_id) {
        pos += (size_t)snprintf(line + pos, sizeof line - pos, ",\"request_id\":\"");
        pos = json_escape(line, sizeof line, pos, request_id);
        line[pos++] = '"';
    }
    pos += (size_t)snprintf(line + pos, sizeof line - pos, ",\"msg\":\"");
    pos = json_escape(line, sizeof line, pos, msg);
    line[pos++] = '"';
    /* the object's members, without its braces, if they fit whole */
    size_t flen = fields ? strlen(fields) : 0;
    if (flen > 2 && fields[0] == '{' && fields[flen - 1] == '}' && pos + flen + 3 < sizeof line) {
        line[pos++] = ',';
        memcpy(line + pos, fields + 1, flen - 2);
        pos += flen - 2;
    }
    pos += (size_t)snprintf(line + pos, sizeof line - pos, "}\n");
    if (pos > sizeof line)
        pos = sizeof line;
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
}

void log_msg(enum log_level level, const char *request_id, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_line(level, request_id, msg, NULL);
}

void log_fields(enum log_level level, const char *msg, const char *fields)
{
    if (level >= min_level)
        log_line(level, NULL, msg, fields);
}
