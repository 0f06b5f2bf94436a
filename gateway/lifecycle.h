/*
 * gateway/lifecycle.h - bucket lifecycle rules (S3's LifecycleConfiguration)
 * and the background worker that applies them.  Included only by gateway/
 * files (s3_lifecycle.c: the Put/Get/DeleteBucketLifecycleConfiguration
 * handlers; http.c: the worker's start and stop; admin.c: its metrics).
 *
 * Three parts:
 *
 * RULES (lifecycle.c, pure: no I/O, no clock).  lifecycle_parse_xml()
 * reads and validates a request body the way S3 does, answering S3's error
 * codes and messages; lifecycle_to_json() / lifecycle_from_json() are the
 * stored form (the "lifecycle" bucket configuration, format in
 * docs/on-disk-format-metadata.md); lifecycle_write_xml() writes the
 * GetBucketLifecycleConfiguration answer.
 *
 * EVALUATION (lifecycle.c, pure).  Given a version's key, size, tags and
 * times, and "now", says whether a rule applies and when it falls due.
 * Times are ms since the epoch; a "day" lasts day_ms (86,400,000 normally;
 * shorter under the testing knob --lifecycle-day-seconds), and S3's
 * rounding applies: a rule of N days falls due at the first day boundary
 * (midnight UTC for real days: a multiple of day_ms since the epoch) at or
 * after start + N days.
 *
 * WORKER (lifecycle_worker.c).  One thread, "cairn-lifecycle", started and
 * stopped with the gateway; every interval it walks the buckets that have
 * a configuration and applies their rules, page by page (never a whole
 * bucket in memory), deleting with a precondition on what it saw.
 *
 * Thread rules: a struct lifecycle_config is owned by one thread at a time;
 * the evaluation functions are reentrant.
 */
#ifndef CAIRN_GATEWAY_LIFECYCLE_H
#define CAIRN_GATEWAY_LIFECYCLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/xml.h"
#include "gateway/s3_error.h"

#define LIFECYCLE_MAX_RULES 1000
#define LIFECYCLE_ID_MAX 255            /* characters of a rule ID */
#define LIFECYCLE_MAX_TAGS 10           /* tags in one filter (an object holds 10) */
#define LIFECYCLE_TAG_KEY_MAX 128       /* characters */
#define LIFECYCLE_TAG_VALUE_MAX 256
#define LIFECYCLE_SIZE_MAX 1099511627776000ULL /* ObjectSize* bound S3 accepts */
#define LIFECYCLE_DAYS_MAX 2147483647LL /* S3's schema: a 32-bit integer */
#define LIFECYCLE_MSG_MAX 2400          /* room for an error message (two prefixes) */
#define LIFECYCLE_DAY_MS 86400000LL

/* How a rule names its objects, as it was written (GET answers the same
 * form back). */
enum lifecycle_form {
    LIFECYCLE_FORM_PREFIX_V1 = 0,  /* legacy top-level <Prefix> (PutBucketLifecycle) */
    LIFECYCLE_FORM_EMPTY,          /* <Filter/> or <Filter></Filter>: every object */
    LIFECYCLE_FORM_PREFIX,         /* <Filter><Prefix> */
    LIFECYCLE_FORM_TAG,            /* <Filter><Tag> */
    LIFECYCLE_FORM_SIZE_GT,        /* <Filter><ObjectSizeGreaterThan> */
    LIFECYCLE_FORM_SIZE_LT,        /* <Filter><ObjectSizeLessThan> */
    LIFECYCLE_FORM_AND,            /* <Filter><And> */
};

struct lifecycle_tag {
    char *key, *value;
};

struct lifecycle_filter {
    enum lifecycle_form form;
    char *prefix;                  /* NULL: none ("" matches every key too) */
    struct lifecycle_tag *tags;    /* all must be on the object */
    size_t ntags;
    int has_size_gt, has_size_lt;
    uint64_t size_gt, size_lt;     /* strict bounds on the version's size */
};

struct lifecycle_rule {
    char *id;
    int enabled;                   /* Status Enabled (else Disabled) */
    struct lifecycle_filter filter;
    /* Expiration: at most one of days, date, delete marker */
    int64_t expiration_days;       /* 0: none */
    int64_t expiration_date_ms;    /* -1: none; a midnight UTC */
    int has_expired_marker;        /* <ExpiredObjectDeleteMarker> given */
    int expired_marker;            /* its value (true / false) */
    /* NoncurrentVersionExpiration */
    int64_t noncurrent_days;       /* 0: none */
    int64_t newer_noncurrent;      /* 0: none given */
    /* AbortIncompleteMultipartUpload */
    int64_t abort_days;            /* 0: none */
};

struct lifecycle_config {
    struct lifecycle_rule *rules;
    size_t n;
};

/* Free what c holds and zero it.  NULL ok; safe on a zeroed struct. */
void lifecycle_config_release(struct lifecycle_config *c);

/*
 * Parse and validate a PutBucketLifecycleConfiguration body (data[0..len),
 * borrowed).  Returns S3E_NONE and fills *out (owned: release), or the S3
 * error to answer with its message in msg (LIFECYCLE_MSG_MAX bytes; "" for
 * the table's message) and *out untouched.  Rules without an ID get a
 * random one, as in S3.  Transition and NoncurrentVersionTransition
 * actions are refused (NotImplemented): cairn keeps one storage class.
 */
enum s3_err lifecycle_parse_xml(const char *data, size_t len, struct lifecycle_config *out,
                                char *msg);
/* The same for a document already parsed (borrowed). */
enum s3_err lifecycle_parse_doc(const struct xml_doc *doc, struct lifecycle_config *out, char *msg);

/* The stored form: compact JSON (a malloc'd string, free(); NULL on
 * ENOMEM), and back (0, or -EINVAL for text that is not a configuration
 * this version wrote, -ENOMEM; *out untouched on failure). */
char *lifecycle_to_json(const struct lifecycle_config *c);
int lifecycle_from_json(const char *text, size_t len, struct lifecycle_config *out);

/* Write the <Rule> elements of c into an open <LifecycleConfiguration>. */
void lifecycle_write_xml(const struct lifecycle_config *c, struct xml_writer *w);

/* ---- evaluation ------------------------------------------------------- */

/* The time a rule of days days counted from start_ms falls due: start +
 * days * day_ms, rounded up to the next multiple of day_ms (S3: "rounded
 * to the next day midnight UTC").  day_ms > 0. */
int64_t lifecycle_due_ms(int64_t start_ms, int64_t days, int64_t day_ms);

/* A tag lookup: whether the object has the tag key with this value
 * (both NUL-terminated).  arg is the caller's. */
typedef int (*lifecycle_tag_fn)(void *arg, const char *key, const char *value);

/* Whether f takes a version of key with size bytes.  Tags are looked up
 * with tag_fn (NULL: the object has no tags) only when the filter names
 * some. */
int lifecycle_filter_matches(const struct lifecycle_filter *f, const char *key, uint64_t size,
                             lifecycle_tag_fn tag_fn, void *tag_arg);

/* Whether an enabled rule of c with Expiration (Days or Date) would expire
 * the current version of key (size, created mtime_ms) at now_ms.  Filters
 * with tags are only evaluated if tag_fn is given; *needs_tags (may be
 * NULL) is set when a rule with a tag filter could have applied but no
 * tag_fn was given (the caller reads the tags and asks again). */
int lifecycle_current_expires(const struct lifecycle_config *c, const char *key, uint64_t size,
                              int64_t mtime_ms, int64_t now_ms, int64_t day_ms,
                              lifecycle_tag_fn tag_fn, void *tag_arg, int *needs_tags);

/* Whether a delete marker of key created at mtime_ms, the key's only
 * version, is to be removed at now_ms: an enabled rule whose filter takes
 * key (size 0) has ExpiredObjectDeleteMarker true, or Expiration Days that
 * are due counted from the marker's creation (S3 cleans up such markers
 * with the Days action too).  Rules with a tag filter never apply. */
int lifecycle_marker_expires(const struct lifecycle_config *c, const char *key, int64_t mtime_ms,
                             int64_t now_ms, int64_t day_ms);

/* Whether a noncurrent version of key (size bytes) is to be removed at
 * now_ms: it became noncurrent at noncurrent_since_ms (its successor's
 * creation) and newer noncurrent versions of the key are newer_count (0
 * for the newest noncurrent one).  An enabled rule with
 * NoncurrentVersionExpiration whose filter takes it must be due and keep
 * fewer than newer_count + 1 newer ones.  Tags as for
 * lifecycle_current_expires. */
int lifecycle_noncurrent_expires(const struct lifecycle_config *c, const char *key, uint64_t size,
                                 int64_t noncurrent_since_ms, uint64_t newer_count,
                                 int64_t now_ms, int64_t day_ms, lifecycle_tag_fn tag_fn,
                                 void *tag_arg, int *needs_tags);

/* Whether a multipart upload of key initiated at initiated_ms is to be
 * aborted at now_ms (an enabled rule with AbortIncompleteMultipartUpload
 * whose prefix takes key, due). */
int lifecycle_upload_expires(const struct lifecycle_config *c, const char *key,
                             int64_t initiated_ms, int64_t now_ms, int64_t day_ms);

/* What kinds of work c has for the worker (enabled rules only). */
#define LIFECYCLE_NEEDS_CURRENT 0x1     /* Expiration Days / Date */
#define LIFECYCLE_NEEDS_VERSIONS 0x2    /* noncurrent versions or delete markers */
#define LIFECYCLE_NEEDS_UPLOADS 0x4     /* AbortIncompleteMultipartUpload */
unsigned lifecycle_needs(const struct lifecycle_config *c);

/* ---- worker ------------------------------------------------------------ */

struct meta;

/* Totals since start (Prometheus counters). */
struct lifecycle_stats {
    atomic_uint_fast64_t passes, expired, noncurrent_removed, markers_removed, uploads_aborted,
        errors;
};

/*
 * One pass: apply the rules of every bucket of meta that has a lifecycle
 * configuration, as of now_ms (days of day_ms; <= 0: real days), adding
 * what was done to stats, and logging one line per bucket with the
 * counts.  Stops early once *stop (NULL: never) is set.  Deletes are
 * conditional on what was seen, so concurrent writes are never lost; a
 * failure is counted and logged, never fatal.  The worker calls this;
 * tests call it with a time of their choosing.
 */
void lifecycle_pass(struct meta *meta, int64_t now_ms, int64_t day_ms,
                    struct lifecycle_stats *stats, const atomic_int *stop);

struct lifecycle_worker;

/* Start the worker thread (named "cairn-lifecycle") over meta (borrowed;
 * outlives the worker): a pass every interval_ms (> 0), the first one
 * interval_ms after the start; days of day_ms.  0 or -errno. */
int lifecycle_worker_start(struct meta *meta, int64_t interval_ms, int64_t day_ms,
                           struct lifecycle_worker **out);
/* Ask the worker to stop: it leaves the pass it is in at the next key.
 * Returns at once; NULL ok. */
void lifecycle_worker_signal_stop(struct lifecycle_worker *lw);
/* Stop (if not asked yet), join and free.  NULL ok. */
void lifecycle_worker_stop(struct lifecycle_worker *lw);
/* Append the cairn_lifecycle_* counters in Prometheus text to b.  lw NULL:
 * zeros (the worker is off). */
void lifecycle_worker_metrics(const struct lifecycle_worker *lw, struct buf *b);

#endif
