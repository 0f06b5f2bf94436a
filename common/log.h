/*
 * common/log.h - JSON-lines logging to stderr.
 *
 * One line per event: {"ts":"...","level":"info","msg":"...", ...}.  The
 * request id travels as a field so that a client's x-amz-request-id finds
 * the server's lines.  Thread-safe: each line is written with one write().
 */
#ifndef CAIRN_COMMON_LOG_H
#define CAIRN_COMMON_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Lines below level are dropped (default LOG_INFO). */
void log_set_level(enum log_level level);
/* Parse "debug", "info", "warn", "error"; -1 if unknown. */
int log_level_from_name(const char *name);

/* msg is printf-formatted and JSON-escaped; request_id may be NULL. */
void log_msg(enum log_level level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line with fields of its own: fields is the text of a JSON object
 * (borrowed; NULL for none) whose members follow "msg" in the line, so
 * tools read them without parsing the message.  The caller makes it valid
 * JSON (cJSON_PrintUnformatted); an object too long for the line (4 KiB)
 * is left out. */
void log_fields(enum log_level level, const char *msg, const char *fields);

#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)

#endif
