/*
 * gateway/s3_lock.c - S3 Object Lock: WORM protection of object versions.
 *
 * A bucket has object lock when its "object-lock" configuration exists
 * (set at CreateBucket with x-amz-bucket-object-lock-enabled: true, or by
 * PutObjectLockConfiguration on a versioning-enabled bucket).  Its stored
 * form is one line of text:
 *
 *     "Enabled"                        no default retention
 *     "Enabled GOVERNANCE 30 d"        default: 30 days, governance mode
 *     "Enabled COMPLIANCE 2 y"         default: 2 years (365 days each)
 *
 * A version's lock lives in its attrs blob as internal entries, never sent
 * as headers under those names:
 *
 *     x-cairn-lock-mode   GOVERNANCE | COMPLIANCE
 *     x-cairn-lock-until  retain-until time, ms since the epoch (decimal)
 *     x-cairn-legal-hold  ON | OFF (absent: never set; S3 then sends no
 *                         legal-hold header and GetObjectLegalHold has
 *                         nothing to return)
 *
 * They are set when the version is written (request headers, else the
 * bucket's default retention) and changed later by PutObjectRetention and
 * PutObjectLegalHold through meta_object_set_attrs (compare-and-swap).  A
 * version under a legal hold, or whose retain-until time is in the future,
 * cannot be deleted by version id (a delete without a version id only adds
 * a delete marker, which S3 allows); governance mode yields to
 * x-amz-bypass-governance-retention: true.  Versioning cannot be
 * suspended on such a bucket, so a new write never replaces a version.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xml.h"
#include "gateway/s3_internal.h"

#define LOCK_CONFIG "object-lock"
#define ATTR_MODE S3_ATTR_INTERNAL_PREFIX "lock-mode"
#define ATTR_UNTIL S3_ATTR_INTERNAL_PREFIX "lock-until"
#define ATTR_HOLD S3_ATTR_INTERNAL_PREFIX "legal-hold"
#define DAY_MS 86400000ll
#define MAX_RETENTION_DAYS 36500 /* S3's limit: 100 years */

int s3_lock_config_get(struct gateway *gw, const char *bucket, struct s3_lock_config *out)
{
    void *data = NULL;
    size_t len = 0;
    int rc = meta_bucket_config_get(gw->meta, bucket, LOCK_CONFIG, &data, &len);
    if (rc)
        return rc;
    char text[64], mode[16] = "", unit = 0;
    int n = 0;
    snprintf(text, sizeof text, "%.*s", (int)(len < sizeof text ? len : sizeof text - 1), (char *)data);
    free(data);
    memset(out, 0, sizeof *out);
    int got = sscanf(text, "Enabled %15s %d %c", mode, &n, &unit);
    if (strncmp(text, "Enabled", 7) != 0 || (got != EOF && got != 0 && got != 3))
        return META_ECORRUPT;
    if (got == 3) {
        snprintf(out->mode, sizeof out->mode, "%s", mode);
        out->days = unit == 'y' ? 0 : n;
        out->years = unit == 'y' ? n : 0;
    }
    return 0;
}

int s3_lock_enabled(struct gateway *gw, const char *bucket)
{
    struct s3_lock_config c;
    return s3_lock_config_get(gw, bucket, &c) == 0;
}

static int valid_mode(const char *m)
{
    return m && (strcmp(m, "GOVERNANCE") == 0 || strcmp(m, "COMPLIANCE") == 0);
}

static int64_t attr_until(const uint8_t *attrs, uint32_t len)
{
    const char *v = s3_attrs_get(attrs, len, ATTR_UNTIL);
    return v ? strtoll(v, NULL, 10) : 0;
}

int s3_lock_version_locked(const uint8_t *attrs, uint32_t len, int64_t now_ms, int bypass_governance)
{
    const char *hold = s3_attrs_get(attrs, len, ATTR_HOLD);
    if (hold && strcmp(hold, "ON") == 0)
        return 1;
    const char *mode = s3_attrs_get(attrs, len, ATTR_MODE);
    if (!mode || attr_until(attrs, len) <= now_ms)
        return 0;
    return strcmp(mode, "COMPLIANCE") == 0 || !bypass_governance;
}

int s3_lock_bypass_requested(struct s3_req *r)
{
    const char *b = s3_header(r, "x-amz-bypass-governance-retention");
    return b && strcasecmp(b, "true") == 0;
}

int s3_lock_check_delete(struct s3_req *r, const char *key, const char *version_id)
{
    if (!version_id || !s3_lock_enabled(r->gw, r->bucket))
        return 0;
    struct meta_object o;
    int rc = meta_object_get(r->gw->meta, r->bucket, key, version_id, &o);
    if (rc)
        return rc == META_ENOTFOUND ? 0 : rc; /* the delete answers for a missing version */
    int locked = !(o.flags & META_OBJ_DELETE_MARKER) &&
                 s3_lock_version_locked(o.attrs, o.attrs_len, ol_now_ms(), s3_lock_bypass_requested(r));
    meta_object_release(&o);
    return locked ? OL_ELOCKED : 0;
}

/* Parse a retain-until date (ISO 8601) that must lie in the future. */
static int until_or_reply(struct s3_req *r, const char *s, int64_t *out)
{
    int64_t ms = s ? s3_parse_http_time(s) : -1;
    if (ms < 0) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "The retain until date must be provided in ISO 8601 format");
        return -1;
    }
    if (ms <= ol_now_ms()) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "The retain until date must be in the future!");
        return -1;
    }
    *out = ms;
    return 0;
}

/* hold: 1 ON, 0 OFF, -1 never set */
static int put_lock_entries(struct buf *attrs, const char *mode, int64_t until, int hold)
{
    char v[32];
    int rc = 0;
    if (mode) {
        snprintf(v, sizeof v, "%" PRId64, until);
        rc = s3_attrs_add(attrs, ATTR_MODE, mode);
        if (rc == 0)
            rc = s3_attrs_add(attrs, ATTR_UNTIL, v);
    }
    if (rc == 0 && hold >= 0)
        rc = s3_attrs_add(attrs, ATTR_HOLD, hold ? "ON" : "OFF");
    return rc;
}

/* attrs without this module's entries, into out (initialised here). */
static int strip_lock_entries(const uint8_t *attrs, uint32_t len, struct buf *out)
{
    buf_init(out, META_ATTRS_MAX);
    const char *n, *v;
    for (uint32_t pos = 0, at = 0; s3_attrs_next(attrs, len, &pos, &n, &v); at = pos) {
        if (strcmp(n, ATTR_MODE) == 0 || strcmp(n, ATTR_UNTIL) == 0 || strcmp(n, ATTR_HOLD) == 0)
            continue;
        if (buf_append(out, attrs + at, pos - at) != 0)
            return -ENOMEM;
    }
    return 0;
}

int s3_lock_attrs_or_reply(struct s3_req *r, struct buf *attrs)
{
    const char *mode = s3_header(r, "x-amz-object-lock-mode");
    const char *until_s = s3_header(r, "x-amz-object-lock-retain-until-date");
    const char *hold_s = s3_header(r, "x-amz-object-lock-legal-hold");
    struct s3_lock_config c;
    int rc = s3_lock_config_get(r->gw, r->bucket, &c);
    if (rc && rc != META_ENOTFOUND) {
        s3_reply_rc(r, rc);
        return -1;
    }
    int enabled = rc == 0;
    if (!enabled && (mode || until_s || hold_s)) {
        s3_reply_error(r, S3E_INVALID_REQUEST, "Bucket is missing Object Lock Configuration");
        return -1;
    }
    if (!!mode != !!until_s) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "x-amz-object-lock-retain-until-date and "
                                                "x-amz-object-lock-mode must both be supplied");
        return -1;
    }
    if (mode && !valid_mode(mode)) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Unknown wormMode directive.");
        return -1;
    }
    if (hold_s && strcmp(hold_s, "ON") != 0 && strcmp(hold_s, "OFF") != 0) {
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "Legal Hold must be either of 'ON' or 'OFF'");
        return -1;
    }
    int64_t until = 0;
    if (until_s && until_or_reply(r, until_s, &until) != 0)
        return -1;
    if (!mode && enabled && c.mode[0]) {
        mode = c.mode;
        until = ol_now_ms() + DAY_MS * (c.days ? c.days : 365ll * c.years);
    }
    /* a copy's attrs may carry the source's lock: the new version's comes
     * from this request and the bucket only */
    struct buf clean;
    rc = strip_lock_entries((const uint8_t *)attrs->data, (uint32_t)attrs->len, &clean);
    if (rc == 0)
        rc = put_lock_entries(&clean, mode, until, hold_s ? strcmp(hold_s, "ON") == 0 : -1);
    if (rc == 0 && clean.len > META_ATTRS_MAX)
        rc = -E2BIG;
    if (rc) {
        buf_release(&clean);
        s3_reply_error(r, S3E_INTERNAL, NULL);
        return -1;
    }
    buf_release(attrs);
    *attrs = clean;
    return 0;
}

void s3_lock_headers(struct s3_req *r, const uint8_t *attrs, uint32_t len)
{
    const char *mode = s3_attrs_get(attrs, len, ATTR_MODE);
    const char *hold = s3_attrs_get(attrs, len, ATTR_HOLD);
    if (mode) {
        char t[32];
        s3_time_iso(attr_until(attrs, len), t);
        s3_add_header(r, "x-amz-object-lock-mode", mode);
        s3_add_header(r, "x-amz-object-lock-retain-until-date", t);
    }
    if (hold)
        s3_add_header(r, "x-amz-object-lock-legal-hold", hold);
}

/* ---- bucket: Put/GetObjectLockConfiguration ---------------------------- */

static int lock_bucket_or_reply(struct s3_req *r, struct s3_lock_config *c)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return -1;
    int rc = s3_lock_config_get(r->gw, r->bucket, c);
    if (rc == META_ENOTFOUND) {
        s3_reply_error(r, S3E_INVALID_REQUEST, "Bucket is missing Object Lock Configuration");
        return -1;
    }
    if (rc) {
        s3_reply_rc(r, rc);
        return -1;
    }
    return 0;
}

static void put_lock_config_end(struct s3_req *r)
{
    struct meta_bucket b;
    struct xml_doc *doc = NULL;
    if (s3_bucket_access_or_reply(r, &b) != 0)
        return;
    if (b.versioning != META_VERSIONING_ENABLED) {
        s3_reply_error(r, S3E_INVALID_BUCKET_STATE,
                       "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration");
        return;
    }
    if (!(doc = s3_xml_body_or_reply(r, "ObjectLockConfiguration")))
        return;
    struct xml_node *root = xml_root(doc);
    if (strcmp(xml_child_text(root, "ObjectLockEnabled", ""), "Enabled") != 0)
        goto malformed;
    char text[64] = "Enabled";
    struct xml_node *rule = xml_child(root, "Rule");
    if (rule) {
        struct xml_node *dr = xml_child(rule, "DefaultRetention");
        if (!dr)
            goto malformed;
        const char *mode = xml_child_text(dr, "Mode", NULL);
        const char *days = xml_child_text(dr, "Days", NULL);
        const char *years = xml_child_text(dr, "Years", NULL);
        if (!valid_mode(mode) || !!days == !!years)
            goto malformed;
        char *end;
        long n = strtol(days ? days : years, &end, 10);
        if (*end || end == (days ? days : years) || n <= 0 ||
            n > (days ? MAX_RETENTION_DAYS : MAX_RETENTION_DAYS / 365)) {
            xml_doc_free(doc);
            s3_reply_error(r, S3E_INVALID_ARGUMENT, "Default retention period must be a positive "
                                                    "integer value.");
            return;
        }
        snprintf(text, sizeof text, "Enabled %s %ld %c", mode, n, days ? 'd' : 'y');
    }
    xml_doc_free(doc);
    int rc = meta_bucket_config_set(r->gw->meta, r->bucket, LOCK_CONFIG, text, strlen(text));
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    s3_reply_empty(r, 200);
    return;
malformed:
    xml_doc_free(doc);
    s3_reply_error(r, S3E_MALFORMED_XML, NULL);
}

const struct s3_handler h_put_object_lock_config = {"PutObjectLockConfiguration", NULL, NULL,
                                                    put_lock_config_end, NULL};

static void get_lock_config_end(struct s3_req *r)
{
    struct s3_lock_config c;
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    int rc = s3_lock_config_get(r->gw, r->bucket, &c);
    if (rc) {
        s3_reply_error(r, rc == META_ENOTFOUND ? S3E_NO_SUCH_OBJECT_LOCK : s3_err_from(rc), NULL);
        return;
    }
    struct s3_doc d;
    s3_doc_begin(&d, "ObjectLockConfiguration", 4096);
    xmlw_elem(&d.w, "ObjectLockEnabled", "Enabled");
    if (c.mode[0]) {
        xmlw_open(&d.w, "Rule");
        xmlw_open(&d.w, "DefaultRetention");
        xmlw_elem(&d.w, "Mode", c.mode);
        xmlw_elemf(&d.w, c.days ? "Days" : "Years", "%d", c.days ? c.days : c.years);
        xmlw_close(&d.w);
        xmlw_close(&d.w);
    }
    xmlw_close(&d.w);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_get_object_lock_config = {"GetObjectLockConfiguration", NULL, NULL,
                                                    get_lock_config_end, NULL};

/* ---- object: retention and legal hold ---------------------------------- */

/* The version r names (?versionId, else the latest), which must be an
 * object, not a delete marker (s3_object_or_reply's answers otherwise). */
static int lock_version_or_reply(struct s3_req *r, struct meta_object *o)
{
    if (s3_object_or_reply(r, o) != 0)
        return -1;
    s3_version_id_header(r, o->version_id);
    return 0;
}

/* What a retention or legal-hold change does to a version's attrs. */
struct lock_change {
    int set_retention;      /* else: legal hold */
    const char *mode;       /* NULL: remove the retention */
    int64_t until;
    int hold;
};

/* 0, or the S3 error the change meets on a version with these attrs. */
static enum s3_err lock_change_allowed(const struct lock_change *ch, const uint8_t *attrs,
                                       uint32_t len, int bypass)
{
    if (!ch->set_retention)
        return S3E_NONE;
    const char *mode = s3_attrs_get(attrs, len, ATTR_MODE);
    int64_t until = attr_until(attrs, len);
    if (!mode || until <= ol_now_ms())
        return S3E_NONE; /* nothing in force */
    /* keeping the mode and not shortening is always allowed */
    int weaker = !ch->mode || ch->until < until || strcmp(ch->mode, mode) != 0;
    if (!weaker)
        return S3E_NONE;
    if (strcmp(mode, "COMPLIANCE") == 0)
        return S3E_ACCESS_DENIED;
    /* governance: a stricter mode needs no bypass, anything weaker does */
    if (ch->mode && strcmp(ch->mode, "COMPLIANCE") == 0 && ch->until >= until)
        return S3E_NONE;
    return bypass ? S3E_NONE : S3E_ACCESS_DENIED;
}

struct lock_edit {
    const struct lock_change *ch;
    int bypass;
};

/* A version's attrs with the change applied, if it is allowed on them. */
static enum s3_err lock_edit(void *arg, const uint8_t *attrs, uint32_t len, struct buf *out)
{
    const struct lock_edit *le = arg;
    const struct lock_change *ch = le->ch;
    enum s3_err e = lock_change_allowed(ch, attrs, len, le->bypass);
    if (e != S3E_NONE)
        return e;
    const char *mode = s3_attrs_get(attrs, len, ATTR_MODE);
    const char *hold = s3_attrs_get(attrs, len, ATTR_HOLD);
    int64_t until = attr_until(attrs, len);
    int hold_on = hold ? strcmp(hold, "ON") == 0 : -1;
    char mode_copy[16];
    snprintf(mode_copy, sizeof mode_copy, "%s", mode ? mode : "");
    if (ch->set_retention) {
        snprintf(mode_copy, sizeof mode_copy, "%s", ch->mode ? ch->mode : "");
        until = ch->until;
    } else {
        hold_on = ch->hold;
    }
    struct buf clean;
    int rc = strip_lock_entries(attrs, len, &clean);
    if (rc == 0)
        rc = put_lock_entries(&clean, mode_copy[0] ? mode_copy : NULL, until, hold_on);
    if (rc == 0)
        rc = buf_append(out, clean.data, clean.len);
    buf_release(&clean);
    return rc ? S3E_METADATA_TOO_LARGE : S3E_NONE;
}

static void lock_change_apply_or_reply(struct s3_req *r, const struct lock_change *ch)
{
    struct lock_edit le = {ch, s3_lock_bypass_requested(r)};
    s3_object_attrs_update_or_reply(r, lock_edit, &le, 200);
}

static void put_retention_end(struct s3_req *r)
{
    struct s3_lock_config c;
    struct xml_doc *doc = NULL;
    struct lock_change ch = {.set_retention = 1};
    if (lock_bucket_or_reply(r, &c) != 0)
        return;
    if (!(doc = s3_xml_body_or_reply(r, "Retention")))
        return;
    const char *mode = xml_child_text(xml_root(doc), "Mode", NULL);
    const char *until = xml_child_text(xml_root(doc), "RetainUntilDate", NULL);
    int rc = 0;
    if (!!mode != !!until || (mode && !valid_mode(mode))) {
        s3_reply_error(r, S3E_MALFORMED_XML, NULL);
        rc = -1;
    } else if (until) {
        rc = until_or_reply(r, until, &ch.until);
    }
    char mode_copy[16];
    snprintf(mode_copy, sizeof mode_copy, "%s", mode ? mode : "");
    xml_doc_free(doc);
    if (rc)
        return;
    ch.mode = mode_copy[0] ? mode_copy : NULL;
    lock_change_apply_or_reply(r, &ch);
}

const struct s3_handler h_put_object_retention = {"PutObjectRetention", NULL, NULL,
                                                  put_retention_end, NULL};

static void put_legal_hold_end(struct s3_req *r)
{
    struct s3_lock_config c;
    struct xml_doc *doc = NULL;
    struct lock_change ch = {.set_retention = 0};
    if (lock_bucket_or_reply(r, &c) != 0)
        return;
    if (!(doc = s3_xml_body_or_reply(r, "LegalHold")))
        return;
    const char *status = xml_child_text(xml_root(doc), "Status", "");
    int on = strcmp(status, "ON") == 0, off = strcmp(status, "OFF") == 0;
    xml_doc_free(doc);
    if (!on && !off) {
        s3_reply_error(r, S3E_MALFORMED_XML, NULL);
        return;
    }
    ch.hold = on;
    lock_change_apply_or_reply(r, &ch);
}

const struct s3_handler h_put_object_legal_hold = {"PutObjectLegalHold", NULL, NULL,
                                                   put_legal_hold_end, NULL};

static void get_retention_end(struct s3_req *r)
{
    struct s3_lock_config c;
    struct meta_object o;
    if (lock_bucket_or_reply(r, &c) != 0 || lock_version_or_reply(r, &o) != 0)
        return;
    const char *mode = s3_attrs_get(o.attrs, o.attrs_len, ATTR_MODE);
    if (!mode) {
        meta_object_release(&o);
        s3_reply_error(r, S3E_NO_OBJECT_RETENTION, NULL);
        return;
    }
    char t[32];
    s3_time_iso(attr_until(o.attrs, o.attrs_len), t);
    struct s3_doc d;
    s3_doc_begin(&d, "Retention", 4096);
    xmlw_elem(&d.w, "Mode", mode);
    xmlw_elem(&d.w, "RetainUntilDate", t);
    xmlw_close(&d.w);
    meta_object_release(&o);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_get_object_retention = {"GetObjectRetention", NULL, NULL,
                                                  get_retention_end, NULL};

static void get_legal_hold_end(struct s3_req *r)
{
    struct s3_lock_config c;
    struct meta_object o;
    if (lock_bucket_or_reply(r, &c) != 0 || lock_version_or_reply(r, &o) != 0)
        return;
    const char *hold = s3_attrs_get(o.attrs, o.attrs_len, ATTR_HOLD);
    if (!hold) {
        meta_object_release(&o);
        s3_reply_error(r, S3E_NO_OBJECT_RETENTION, NULL);
        return;
    }
    struct s3_doc d;
    s3_doc_begin(&d, "LegalHold", 4096);
    xmlw_elem(&d.w, "Status", hold);
    xmlw_close(&d.w);
    meta_object_release(&o);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_get_object_legal_hold = {"GetObjectLegalHold", NULL, NULL,
                                                   get_legal_hold_end, NULL};
