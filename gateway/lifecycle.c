/*
 * gateway/lifecycle.c - lifecycle rules: parsing and validating S3's
 * LifecycleConfiguration XML, the stored JSON form, the XML answer, and
 * the pure "is this version due" evaluation.  See lifecycle.h.
 *
 * Validation follows S3's answers (codes and messages as S3 gives them)
 * in S3's order: the number of rules and their IDs first, then each rule,
 * then the overlap of legacy prefixes, and transitions last, so that a
 * configuration S3 would refuse for another reason gets S3's answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "gateway/lifecycle.h"
#include "metadata/meta.h"

/* ------------------------------------------------------------------ */
/* Freeing                                                             */

static void filter_release(struct lifecycle_filter *f)
{
    free(f->prefix);
    for (size_t i = 0; i < f->ntags; i++) {
        free(f->tags[i].key);
        free(f->tags[i].value);
    }
    free(f->tags);
    memset(f, 0, sizeof *f);
}

void lifecycle_config_release(struct lifecycle_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->rules[i].id);
        filter_release(&c->rules[i].filter);
    }
    free(c->rules);
    memset(c, 0, sizeof *c);
}

static void rule_init(struct lifecycle_rule *r)
{
    memset(r, 0, sizeof *r);
    r->expiration_date_ms = -1;
}

/* ------------------------------------------------------------------ */
/* Parsing helpers                                                     */

/* A parse failure: the error and its message (static or in msg). */
struct parse {
    enum s3_err err;
    char *msg;
};

static int fail(struct parse *p, enum s3_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct parse *p, enum s3_err e, const char *fmt, ...)
{
    p->err = e;
    p->msg[0] = 0;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->msg, LIFECYCLE_MSG_MAX, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int malformed(struct parse *p)
{
    return fail(p, S3E_MALFORMED_XML, NULL);
}

/* Every child of node is one of names (NULL-terminated) and none of the
 * names listed in once[] appears twice.  Both lists may share names. */
static int children_ok(const struct xml_node *node, const char *const *names)
{
    for (const struct xml_node *c = node->children; c; c = c->next) {
        int known = 0;
        for (size_t i = 0; names[i]; i++)
            if (strcmp(c->name, names[i]) == 0)
                known = 1;
        if (!known)
            return 0;
    }
    return 1;
}

/* The single child named name: 1 and *out, 0 if absent, -1 if repeated. */
static int child_once(const struct xml_node *node, const char *name, const struct xml_node **out)
{
    const struct xml_node *c = xml_child(node, name);
    if (!c)
        return 0;
    if (xml_next_named(c, name))
        return -1;
    *out = c;
    return 1;
}

static int count_named(const struct xml_node *node, const char *name)
{
    int n = 0;
    for (const struct xml_node *c = xml_child(node, name); c; c = xml_next_named(c, name))
        n++;
    return n;
}

/* A decimal integer as S3's schema takes it (optional sign, digits),
 * within [LLONG_MIN/10, LIFECYCLE_SIZE_MAX * 8].  0 and *out, or -1. */
static int parse_int(const char *s, long long *out)
{
    const char *p = s;
    int neg = 0;
    long long v = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!*p)
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v > (long long)(LIFECYCLE_SIZE_MAX * 8) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* A day count that must be a positive 32-bit integer: 0 and *out, or a
 * failure (MalformedXML when not an integer, else InvalidArgument msg). */
static int parse_days(struct parse *p, const char *text, const char *msg, int64_t *out)
{
    long long v;
    if (parse_int(text, &v) != 0 || v > LIFECYCLE_DAYS_MAX || v < -LIFECYCLE_DAYS_MAX - 1)
        return malformed(p);
    if (v <= 0)
        return fail(p, S3E_INVALID_ARGUMENT, "%s", msg);
    *out = v;
    return 0;
}

static int two_digits(const char *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

/* An ISO 8601 date or date-time: YYYY-MM-DD[THH:MM:SS[.fraction]][Z|+HH:MM|-HH:MM]
 * (no zone: UTC), into ms since the epoch.  0, or -1 if malformed or not
 * a real date. */
static int parse_iso_date(const char *s, int64_t *out)
{
    int y = 0, mo, d, h = 0, mi = 0, se = 0, frac_ms = 0, zone_min = 0;
    for (int i = 0; i < 4; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        y = y * 10 + (s[i] - '0');
    }
    if (s[4] != '-' || two_digits(s + 5, &mo) || s[7] != '-' || two_digits(s + 8, &d))
        return -1;
    const char *p = s + 10;
    if (*p == 'T') {
        if (two_digits(p + 1, &h) || p[3] != ':' || two_digits(p + 4, &mi) || p[6] != ':' ||
            two_digits(p + 7, &se))
            return -1;
        p += 9;
        if (*p == '.') {
            int digits = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, digits++)
                if (digits < 3)
                    frac_ms = frac_ms * 10 + (*p - '0');
            if (digits == 0)
                return -1;
            for (; digits < 3; digits++)
                frac_ms *= 10;
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int zh, zm;
            if (two_digits(p + 1, &zh) || p[3] != ':' || two_digits(p + 4, &zm) || zh > 23 || zm > 59)
                return -1;
            zone_min = (zh * 60 + zm) * (*p == '-' ? -1 : 1);
            p += 6;
        }
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != d || back.tm_mon != mo - 1) /* Feb 30 and the like */
        return -1;
    *out = ((int64_t)t - (int64_t)zone_min * 60) * 1000 + frac_ms;
    return 0;
}

/* Characters (not bytes) of a UTF-8 string. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static int set_str(char **dst, const char *s)
{
    *dst = strdup(s);
    return *dst ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Filters                                                             */

static int parse_prefix(struct parse *p, const struct xml_node *n, struct lifecycle_filter *f)
{
    if (n->children)
        return malformed(p);
    if (strlen(xml_text(n)) > META_KEY_MAX)
        return fail(p, S3E_INVALID_ARGUMENT, "The maximum size of a prefix is 1024 bytes.");
    if (set_str(&f->prefix, xml_text(n)) != 0)
        return fail(p, S3E_INTERNAL, NULL);
    return 0;
}

static int parse_tag(struct parse *p, const struct xml_node *n, struct lifecycle_filter *f)
{
    static const char *const names[] = {"Key", "Value", NULL};
    const struct xml_node *k = NULL, *v = NULL;
    if (!children_ok(n, names) || child_once(n, "Key", &k) != 1 || child_once(n, "Value", &v) != 1 ||
        k->children || v->children)
        return malformed(p);
    const char *key = xml_text(k), *value = xml_text(v);
    if (!*key || utf8_chars(key) > LIFECYCLE_TAG_KEY_MAX)
        return fail(p, S3E_INVALID_ARGUMENT, "The TagKey you have provided is invalid");
    if (utf8_chars(value) > LIFECYCLE_TAG_VALUE_MAX)
        return fail(p, S3E_INVALID_ARGUMENT, "The TagValue you have provided is invalid");
    for (size_t i = 0; i < f->ntags; i++)
        if (strcmp(f->tags[i].key, key) == 0)
            return fail(p, S3E_INVALID_REQUEST, "Duplicate Tag Keys are not allowed.");
    if (f->ntags == LIFECYCLE_MAX_TAGS)
        return fail(p, S3E_INVALID_ARGUMENT,
                    "A filter can name at most %d tags (an object holds at most %d).",
                    LIFECYCLE_MAX_TAGS, LIFECYCLE_MAX_TAGS);
    struct lifecycle_tag *t = realloc(f->tags, (f->ntags + 1) * sizeof *t);
    if (!t)
        return fail(p, S3E_INTERNAL, NULL);
    f->tags = t;
    t[f->ntags].key = strdup(key);
    t[f->ntags].value = strdup(value);
    f->ntags++;
    if (!t[f->ntags - 1].key || !t[f->ntags - 1].value)
        return fail(p, S3E_INTERNAL, NULL);
    return 0;
}

static int parse_size(struct parse *p, const struct xml_node *n, int greater,
                      struct lifecycle_filter *f)
{
    long long v;
    if (n->children || parse_int(xml_text(n), &v) != 0)
        return malformed(p);
    if (greater) {
        if (v < 0 || (unsigned long long)v > LIFECYCLE_SIZE_MAX)
            return fail(p, S3E_INVALID_REQUEST,
                        "'ObjectSizeGreaterThan' should be between 0 and 1099511627776000.");
        f->has_size_gt = 1;
        f->size_gt = (uint64_t)v;
    } else {
        if (v < 1 || (unsigned long long)v > LIFECYCLE_SIZE_MAX)
            return fail(p, S3E_INVALID_REQUEST,
                        "'ObjectSizeLessThan' should be between 1 and 1099511627776000.");
        f->has_size_lt = 1;
        f->size_lt = (uint64_t)v;
    }
    return 0;
}

static int check_sizes(struct parse *p, const struct lifecycle_filter *f)
{
    if (f->has_size_gt && f->has_size_lt && f->size_lt <= f->size_gt)
        return fail(p, S3E_INVALID_REQUEST,
                    "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'.");
    return 0;
}

/* Prefix, Tag*, ObjectSizeGreaterThan, ObjectSizeLessThan children of n
 * (a Filter or an And) into f.  *count receives the number of predicates. */
static int parse_predicates(struct parse *p, const struct xml_node *n, int many_tags,
                            struct lifecycle_filter *f, int *count)
{
    const struct xml_node *c;
    int rc;
    *count = 0;
    if ((rc = child_once(n, "Prefix", &c)) < 0)
        return malformed(p);
    if (rc && (++*count, parse_prefix(p, c, f) != 0))
        return -1;
    int ntags = count_named(n, "Tag");
    if (ntags > 1 && !many_tags)
        return malformed(p);
    for (c = xml_child(n, "Tag"); c; c = xml_next_named(c, "Tag")) {
        ++*count;
        if (parse_tag(p, c, f) != 0)
            return -1;
    }
    if ((rc = child_once(n, "ObjectSizeGreaterThan", &c)) < 0)
        return malformed(p);
    if (rc && (++*count, parse_size(p, c, 1, f) != 0))
        return -1;
    if ((rc = child_once(n, "ObjectSizeLessThan", &c)) < 0)
        return malformed(p);
    if (rc && (++*count, parse_size(p, c, 0, f) != 0))
        return -1;
    return check_sizes(p, f);
}

static int parse_filter(struct parse *p, const struct xml_node *n, struct lifecycle_filter *f)
{
    static const char *const names[] = {"Prefix", "Tag", "And", "ObjectSizeGreaterThan",
                                        "ObjectSizeLessThan", NULL};
    static const char *const and_names[] = {"Prefix", "Tag", "ObjectSizeGreaterThan",
                                            "ObjectSizeLessThan", NULL};
    if (!children_ok(n, names))
        return malformed(p);
    const struct xml_node *and_node = NULL;
    int rc = child_once(n, "And", &and_node);
    int direct = count_named(n, "Prefix") + count_named(n, "Tag") +
                 count_named(n, "ObjectSizeGreaterThan") + count_named(n, "ObjectSizeLessThan");
    if (rc < 0 || (rc == 1 && direct) || direct > 1)
        return malformed(p); /* exactly one of Prefix, Tag, And, ObjectSize* */
    if (and_node) {
        int count;
        if (!children_ok(and_node, and_names))
            return malformed(p);
        if (parse_predicates(p, and_node, 1, f, &count) != 0)
            return -1;
        if (count < 2)
            return malformed(p); /* And combines two or more predicates */
        f->form = LIFECYCLE_FORM_AND;
        return 0;
    }
    int count;
    if (parse_predicates(p, n, 0, f, &count) != 0)
        return -1;
    if (count == 0)
        f->form = LIFECYCLE_FORM_EMPTY;
    else if (f->prefix)
        f->form = LIFECYCLE_FORM_PREFIX;
    else if (f->ntags)
        f->form = LIFECYCLE_FORM_TAG;
    else if (f->has_size_gt)
        f->form = LIFECYCLE_FORM_SIZE_GT;
    else
        f->form = LIFECYCLE_FORM_SIZE_LT;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */

static int parse_expiration(struct parse *p, const struct xml_node *n, struct lifecycle_rule *r)
{
    static const char *const names[] = {"Date", "Days", "ExpiredObjectDeleteMarker", NULL};
    const struct xml_node *date = NULL, *days = NULL, *marker = NULL;
    if (!children_ok(n, names) || child_once(n, "Date", &date) < 0 ||
        child_once(n, "Days", &days) < 0 || child_once(n, "ExpiredObjectDeleteMarker", &marker) < 0)
        return malformed(p);
    if (!!date + !!days + !!marker != 1)
        return malformed(p);
    if (days)
        return parse_days(p, xml_text(days), "'Days' for Expiration action must be a positive integer",
                          &r->expiration_days);
    if (date) {
        int64_t ms;
        if (parse_iso_date(xml_text(date), &ms) != 0 || ms < 0) /* none before 1970 */
            return malformed(p);
        if (ms % LIFECYCLE_DAY_MS != 0)
            return fail(p, S3E_INVALID_ARGUMENT, "'Date' must be at midnight GMT");
        r->expiration_date_ms = ms;
        return 0;
    }
    const char *v = xml_text(marker);
    if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
        return malformed(p);
    r->has_expired_marker = 1;
    r->expired_marker = strcmp(v, "true") == 0;
    return 0;
}

static int parse_noncurrent(struct parse *p, const struct xml_node *n, int v2,
                            struct lifecycle_rule *r)
{
    static const char *const names[] = {"NoncurrentDays", "NewerNoncurrentVersions", NULL};
    const struct xml_node *days = NULL, *newer = NULL;
    if (!children_ok(n, names) || child_once(n, "NoncurrentDays", &days) != 1 ||
        child_once(n, "NewerNoncurrentVersions", &newer) < 0)
        return malformed(p);
    if (parse_days(p, xml_text(days),
                   "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
                   &r->noncurrent_days) != 0)
        return -1;
    if (newer) {
        if (!v2)
            return fail(p, S3E_INVALID_REQUEST,
                        "NewerNoncurrentVersions element can only be used in Lifecycle V2.");
        if (parse_days(p, xml_text(newer), "'NewerNoncurrentVersions' must be a positive integer",
                       &r->newer_noncurrent) != 0)
            return -1;
    }
    return 0;
}

static int parse_abort(struct parse *p, const struct xml_node *n, struct lifecycle_rule *r)
{
    static const char *const names[] = {"DaysAfterInitiation", NULL};
    const struct xml_node *days = NULL;
    if (!children_ok(n, names) || child_once(n, "DaysAfterInitiation", &days) != 1)
        return malformed(p);
    return parse_days(p, xml_text(days),
                      "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a "
                      "positive integer",
                      &r->abort_days);
}

/* ------------------------------------------------------------------ */
/* Rules                                                               */

static int parse_rule(struct parse *p, const struct xml_node *n, int v2, struct lifecycle_rule *r,
                      int *has_transition)
{
    static const char *const names[] = {"ID", "Status", "Filter", "Prefix", "Expiration",
                                        "NoncurrentVersionExpiration",
                                        "AbortIncompleteMultipartUpload", "Transition",
                                        "NoncurrentVersionTransition", NULL};
    static const char *const once[] = {"ID", "Status", "Filter", "Prefix", "Expiration",
                                       "NoncurrentVersionExpiration",
                                       "AbortIncompleteMultipartUpload", NULL};
    const struct xml_node *c[7] = {NULL};
    if (!children_ok(n, names))
        return malformed(p);
    for (size_t i = 0; once[i]; i++)
        if (child_once(n, once[i], &c[i]) < 0)
            return malformed(p);
    const struct xml_node *status = c[1], *filter = c[2], *prefix = c[3], *exp = c[4],
                          *noncurrent = c[5], *abort_mpu = c[6];
    if (!status)
        return malformed(p);
    if (strcmp(xml_text(status), "Enabled") == 0)
        r->enabled = 1;
    else if (strcmp(xml_text(status), "Disabled") != 0)
        return malformed(p);
    if (!filter && !prefix)
        return malformed(p);
    if (prefix && v2)
        return fail(p, S3E_INVALID_REQUEST, "Base level prefix cannot be used in Lifecycle V2, "
                                            "prefixes are only supported in the Filter.");
    if (filter && !v2)
        return fail(p, S3E_INVALID_REQUEST, "Filter element can only be used in Lifecycle V2.");
    if (prefix) {
        if (parse_prefix(p, prefix, &r->filter) != 0)
            return -1;
        r->filter.form = LIFECYCLE_FORM_PREFIX_V1;
    } else if (parse_filter(p, filter, &r->filter) != 0) {
        return -1;
    }
    int transitions = count_named(n, "Transition") + count_named(n, "NoncurrentVersionTransition");
    if (!exp && !noncurrent && !abort_mpu && !transitions)
        return fail(p, S3E_INVALID_REQUEST, "At least one action needs to be specified in a rule");
    if (exp && parse_expiration(p, exp, r) != 0)
        return -1;
    if (noncurrent && parse_noncurrent(p, noncurrent, v2, r) != 0)
        return -1;
    if (abort_mpu && parse_abort(p, abort_mpu, r) != 0)
        return -1;
    int sizes = r->filter.has_size_gt || r->filter.has_size_lt;
    if (r->has_expired_marker && r->filter.ntags)
        return fail(p, S3E_INVALID_REQUEST, "ExpiredObjectDeleteMarker cannot be specified with Tags.");
    if (r->has_expired_marker && sizes)
        return fail(p, S3E_INVALID_REQUEST,
                    "ExpiredObjectDeleteMarker cannot be specified with Object Size.");
    if (r->abort_days && r->filter.ntags)
        return fail(p, S3E_INVALID_REQUEST,
                    "AbortIncompleteMultipartUpload cannot be specified with Tags.");
    if (r->abort_days && sizes)
        return fail(p, S3E_INVALID_REQUEST,
                    "AbortIncompleteMultipartUpload cannot be specified with Object Size.");
    if (transitions)
        *has_transition = 1;
    return 0;
}

/* Legacy (V1) rules may not have overlapping prefixes for the same kind
 * of action: S3's "Found overlapping prefixes" answer. */
static int check_overlap(struct parse *p, const struct lifecycle_config *c)
{
    static const char *const kinds[] = {"Expiration", "NoncurrentVersionExpiration",
                                        "AbortIncompleteMultipartUpload"};
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < c->n; i++) {
            const struct lifecycle_rule *a = &c->rules[i];
            int ta = k == 0 ? (a->expiration_days || a->expiration_date_ms >= 0 || a->has_expired_marker)
                     : k == 1 ? a->noncurrent_days != 0 : a->abort_days != 0;
            if (!ta)
                continue;
            for (size_t j = i + 1; j < c->n; j++) {
                const struct lifecycle_rule *b = &c->rules[j];
                int tb = k == 0 ? (b->expiration_days || b->expiration_date_ms >= 0 ||
                                   b->has_expired_marker)
                         : k == 1 ? b->noncurrent_days != 0 : b->abort_days != 0;
                if (!tb)
                    continue;
                const char *pa = a->filter.prefix, *pb = b->filter.prefix;
                size_t la = strlen(pa), lb = strlen(pb);
                if (strncmp(pa, pb, la < lb ? la : lb) == 0)
                    return fail(p, S3E_INVALID_REQUEST,
                                "Found overlapping prefixes '%s' and '%s' for same action type '%s'",
                                la <= lb ? pa : pb, la <= lb ? pb : pa, kinds[k]);
            }
        }
    }
    return 0;
}

static void random_id(char out[33])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t rnd[32];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        for (size_t i = 0; i < sizeof rnd; i++)
            rnd[i] = (uint8_t)(rand() & 0xff);
    for (size_t i = 0; i < 32; i++)
        out[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
    out[32] = 0;
}

enum s3_err lifecycle_parse_xml(const char *data, size_t len, struct lifecycle_config *out,
                                char *msg)
{
    struct xml_doc *doc = NULL;
    msg[0] = 0;
    if (xml_parse(data ? data : "", len, &doc) != 0)
        return S3E_MALFORMED_XML;
    enum s3_err e = lifecycle_parse_doc(doc, out, msg);
    xml_doc_free(doc);
    return e;
}

enum s3_err lifecycle_parse_doc(const struct xml_doc *doc, struct lifecycle_config *out, char *msg)
{
    struct parse p = {S3E_NONE, msg};
    struct lifecycle_config c = {NULL, 0};
    int has_transition = 0;
    msg[0] = 0;
    const struct xml_node *root = xml_root(doc);
    if (strcmp(root->name, "LifecycleConfiguration") != 0) {
        malformed(&p);
        goto out;
    }
    static const char *const root_names[] = {"Rule", NULL};
    if (!children_ok(root, root_names)) {
        malformed(&p);
        goto out;
    }
    int n = count_named(root, "Rule");
    if (n == 0) {
        fail(&p, S3E_MALFORMED_XML, NULL);
        goto out;
    }
    if (n > LIFECYCLE_MAX_RULES) {
        fail(&p, S3E_INVALID_REQUEST,
             "The number of lifecycle rules must not exceed the allowed limit of 1000 rules.");
        goto out;
    }
    c.rules = calloc((size_t)n, sizeof *c.rules);
    if (!c.rules) {
        fail(&p, S3E_INTERNAL, NULL);
        goto out;
    }
    /* IDs first: too long, then repeated */
    for (const struct xml_node *r = xml_child(root, "Rule"); r; r = xml_next_named(r, "Rule")) {
        const struct xml_node *id = NULL;
        if (child_once(r, "ID", &id) < 0 || (id && id->children)) {
            malformed(&p);
            goto out;
        }
        if (id && utf8_chars(xml_text(id)) > LIFECYCLE_ID_MAX) {
            fail(&p, S3E_INVALID_ARGUMENT, "ID length should not exceed allowed limit of 255");
            goto out;
        }
    }
    for (const struct xml_node *r = xml_child(root, "Rule"); r; r = xml_next_named(r, "Rule")) {
        const char *id = xml_child_text(r, "ID", "");
        if (!*id)
            continue;
        for (const struct xml_node *q = xml_next_named(r, "Rule"); q; q = xml_next_named(q, "Rule"))
            if (strcmp(id, xml_child_text(q, "ID", "")) == 0) {
                fail(&p, S3E_INVALID_ARGUMENT,
                     "Rule ID must be unique. Found same ID for more than one rule");
                goto out;
            }
    }
    /* Lifecycle V2 (Filter) or the legacy form (top-level Prefix), decided
     * by the first rule as S3 does */
    int v2 = xml_child(xml_child(root, "Rule"), "Filter") != NULL;
    for (const struct xml_node *r = xml_child(root, "Rule"); r; r = xml_next_named(r, "Rule")) {
        struct lifecycle_rule *rule = &c.rules[c.n];
        rule_init(rule);
        c.n++;
        const char *id = xml_child_text(r, "ID", "");
        char generated[33];
        if (!*id) {
            random_id(generated);
            id = generated;
        }
        if (set_str(&rule->id, id) != 0) {
            fail(&p, S3E_INTERNAL, NULL);
            goto out;
        }
        if (parse_rule(&p, r, v2, rule, &has_transition) != 0)
            goto out;
    }
    if (!v2 && check_overlap(&p, &c) != 0)
        goto out;
    if (has_transition) {
        fail(&p, S3E_NOT_IMPLEMENTED,
             "cairn keeps every object in one storage class: Transition and "
             "NoncurrentVersionTransition actions are not supported. Remove them (expiration "
             "rules work).");
        goto out;
    }
    *out = c;
    c.rules = NULL;
    c.n = 0;
out:
    lifecycle_config_release(&c);
    return p.err;
}

/* ------------------------------------------------------------------ */
/* Stored form (JSON)                                                  */

static const char *const form_names[] = {"prefix-v1", "empty", "prefix", "tag",
                                         "size-gt", "size-lt", "and"};

char *lifecycle_to_json(const struct lifecycle_config *c)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *rules = cJSON_AddArrayToObject(root, "rules");
    cJSON_AddNumberToObject(root, "v", 1);
    for (size_t i = 0; i < c->n; i++) {
        const struct lifecycle_rule *r = &c->rules[i];
        const struct lifecycle_filter *f = &r->filter;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(rules, o);
        cJSON_AddStringToObject(o, "id", r->id);
        cJSON_AddBoolToObject(o, "enabled", r->enabled);
        cJSON_AddStringToObject(o, "form", form_names[f->form]);
        if (f->prefix)
            cJSON_AddStringToObject(o, "prefix", f->prefix);
        if (f->ntags) {
            cJSON *tags = cJSON_AddArrayToObject(o, "tags");
            for (size_t t = 0; t < f->ntags; t++) {
                cJSON *tag = cJSON_CreateObject();
                cJSON_AddStringToObject(tag, "key", f->tags[t].key);
                cJSON_AddStringToObject(tag, "value", f->tags[t].value);
                cJSON_AddItemToArray(tags, tag);
            }
        }
        if (f->has_size_gt)
            cJSON_AddNumberToObject(o, "size_gt", (double)f->size_gt);
        if (f->has_size_lt)
            cJSON_AddNumberToObject(o, "size_lt", (double)f->size_lt);
        if (r->expiration_days)
            cJSON_AddNumberToObject(o, "expiration_days", (double)r->expiration_days);
        if (r->expiration_date_ms >= 0)
            cJSON_AddNumberToObject(o, "expiration_date_ms", (double)r->expiration_date_ms);
        if (r->has_expired_marker)
            cJSON_AddBoolToObject(o, "expired_object_delete_marker", r->expired_marker);
        if (r->noncurrent_days)
            cJSON_AddNumberToObject(o, "noncurrent_days", (double)r->noncurrent_days);
        if (r->newer_noncurrent)
            cJSON_AddNumberToObject(o, "newer_noncurrent_versions", (double)r->newer_noncurrent);
        if (r->abort_days)
            cJSON_AddNumberToObject(o, "abort_days", (double)r->abort_days);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* A whole number in [lo, hi] from o[name]; absent: def. */
static int json_int(const cJSON *o, const char *name, double lo, double hi, int64_t def,
                    int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return -1;
    *out = (int64_t)v->valuedouble;
    return 0;
}

static int json_rule(const cJSON *o, struct lifecycle_rule *r)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *form = cJSON_GetObjectItemCaseSensitive(o, "form");
    const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(o, "prefix");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, "tags");
    const cJSON *marker = cJSON_GetObjectItemCaseSensitive(o, "expired_object_delete_marker");
    int64_t v;
    if (!cJSON_IsString(id) || !cJSON_IsString(form) || (prefix && !cJSON_IsString(prefix)) ||
        (tags && !cJSON_IsArray(tags)) || (marker && !cJSON_IsBool(marker)))
        return -1;
    if (set_str(&r->id, id->valuestring) != 0)
        return -1;
    r->enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "enabled"));
    size_t f;
    for (f = 0; f < sizeof form_names / sizeof *form_names; f++)
        if (strcmp(form->valuestring, form_names[f]) == 0)
            break;
    if (f == sizeof form_names / sizeof *form_names)
        return -1;
    r->filter.form = (enum lifecycle_form)f;
    if (prefix && set_str(&r->filter.prefix, prefix->valuestring) != 0)
        return -1;
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(t, "key");
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(t, "value");
        if (!cJSON_IsString(k) || !cJSON_IsString(val) || r->filter.ntags == LIFECYCLE_MAX_TAGS)
            return -1;
        struct lifecycle_tag *nt = realloc(r->filter.tags, (r->filter.ntags + 1) * sizeof *nt);
        if (!nt)
            return -1;
        r->filter.tags = nt;
        nt[r->filter.ntags].key = strdup(k->valuestring);
        nt[r->filter.ntags].value = strdup(val->valuestring);
        r->filter.ntags++;
        if (!nt[r->filter.ntags - 1].key || !nt[r->filter.ntags - 1].value)
            return -1;
    }
    const double size_max = (double)LIFECYCLE_SIZE_MAX, days_max = (double)LIFECYCLE_DAYS_MAX;
    if (cJSON_GetObjectItemCaseSensitive(o, "size_gt")) {
        if (json_int(o, "size_gt", 0, size_max, 0, &v) != 0)
            return -1;
        r->filter.has_size_gt = 1;
        r->filter.size_gt = (uint64_t)v;
    }
    if (cJSON_GetObjectItemCaseSensitive(o, "size_lt")) {
        if (json_int(o, "size_lt", 1, size_max, 0, &v) != 0)
            return -1;
        r->filter.has_size_lt = 1;
        r->filter.size_lt = (uint64_t)v;
    }
    if (json_int(o, "expiration_days", 1, days_max, 0, &r->expiration_days) != 0 ||
        json_int(o, "expiration_date_ms", -1e15, 1e15, -1, &r->expiration_date_ms) != 0 ||
        json_int(o, "noncurrent_days", 1, days_max, 0, &r->noncurrent_days) != 0 ||
        json_int(o, "newer_noncurrent_versions", 1, days_max, 0, &r->newer_noncurrent) != 0 ||
        json_int(o, "abort_days", 1, days_max, 0, &r->abort_days) != 0)
        return -1;
    if (marker) {
        r->has_expired_marker = 1;
        r->expired_marker = cJSON_IsTrue(marker);
    }
    return 0;
}

int lifecycle_from_json(const char *text, size_t len, struct lifecycle_config *out)
{
    struct lifecycle_config c = {NULL, 0};
    int rc = -EINVAL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *rules = root ? cJSON_GetObjectItemCaseSensitive(root, "rules") : NULL;
    const cJSON *v = root ? cJSON_GetObjectItemCaseSensitive(root, "v") : NULL;
    if (!cJSON_IsArray(rules) || !cJSON_IsNumber(v) || v->valuedouble != 1)
        goto out;
    int n = cJSON_GetArraySize(rules);
    if (n < 1 || n > LIFECYCLE_MAX_RULES)
        goto out;
    c.rules = calloc((size_t)n, sizeof *c.rules);
    if (!c.rules) {
        rc = -ENOMEM;
        goto out;
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, rules)
    {
        rule_init(&c.rules[c.n]);
        c.n++;
        if (json_rule(o, &c.rules[c.n - 1]) != 0)
            goto out;
    }
    *out = c;
    c.rules = NULL;
    c.n = 0;
    rc = 0;
out:
    lifecycle_config_release(&c);
    cJSON_Delete(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* GetBucketLifecycleConfiguration's answer                            */

static void write_tag(struct xml_writer *w, const struct lifecycle_tag *t)
{
    xmlw_open(w, "Tag");
    xmlw_elem(w, "Key", t->key);
    xmlw_elem(w, "Value", t->value);
    xmlw_close(w);
}

static void write_predicates(struct xml_writer *w, const struct lifecycle_filter *f)
{
    if (f->prefix)
        xmlw_elem(w, "Prefix", f->prefix);
    for (size_t i = 0; i < f->ntags; i++)
        write_tag(w, &f->tags[i]);
    if (f->has_size_gt)
        xmlw_elemf(w, "ObjectSizeGreaterThan", "%llu", (unsigned long long)f->size_gt);
    if (f->has_size_lt)
        xmlw_elemf(w, "ObjectSizeLessThan", "%llu", (unsigned long long)f->size_lt);
}

void lifecycle_write_xml(const struct lifecycle_config *c, struct xml_writer *w)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct lifecycle_rule *r = &c->rules[i];
        xmlw_open(w, "Rule");
        if (r->expiration_days || r->expiration_date_ms >= 0 || r->has_expired_marker) {
            xmlw_open(w, "Expiration");
            if (r->expiration_days)
                xmlw_elemf(w, "Days", "%lld", (long long)r->expiration_days);
            if (r->expiration_date_ms >= 0) {
                time_t t = (time_t)(r->expiration_date_ms / 1000);
                struct tm tm;
                char date[40];
                gmtime_r(&t, &tm);
                strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
                xmlw_elem(w, "Date", date);
            }
            if (r->has_expired_marker)
                xmlw_elem(w, "ExpiredObjectDeleteMarker", r->expired_marker ? "true" : "false");
            xmlw_close(w);
        }
        xmlw_elem(w, "ID", r->id);
        if (r->filter.form == LIFECYCLE_FORM_PREFIX_V1) {
            xmlw_elem(w, "Prefix", r->filter.prefix ? r->filter.prefix : "");
        } else {
            xmlw_open(w, "Filter");
            if (r->filter.form == LIFECYCLE_FORM_AND) {
                xmlw_open(w, "And");
                write_predicates(w, &r->filter);
                xmlw_close(w);
            } else {
                write_predicates(w, &r->filter);
            }
            xmlw_close(w);
        }
        xmlw_elem(w, "Status", r->enabled ? "Enabled" : "Disabled");
        if (r->noncurrent_days) {
            xmlw_open(w, "NoncurrentVersionExpiration");
            xmlw_elemf(w, "NoncurrentDays", "%lld", (long long)r->noncurrent_days);
            if (r->newer_noncurrent)
                xmlw_elemf(w, "NewerNoncurrentVersions", "%lld", (long long)r->newer_noncurrent);
            xmlw_close(w);
        }
        if (r->abort_days) {
            xmlw_open(w, "AbortIncompleteMultipartUpload");
            xmlw_elemf(w, "DaysAfterInitiation", "%lld", (long long)r->abort_days);
            xmlw_close(w);
        }
        xmlw_close(w);
    }
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                          */

int64_t lifecycle_due_ms(int64_t start_ms, int64_t days, int64_t day_ms)
{
    int64_t t = start_ms + days * day_ms;
    /* C division truncates towards zero: that already rounds up below 0 */
    int64_t q = t / day_ms + (t % day_ms > 0);
    return q * day_ms;
}

int lifecycle_filter_matches(const struct lifecycle_filter *f, const char *key, uint64_t size,
                             lifecycle_tag_fn tag_fn, void *tag_arg)
{
    if (f->prefix && strncmp(key, f->prefix, strlen(f->prefix)) != 0)
        return 0;
    if (f->has_size_gt && !(size > f->size_gt))
        return 0;
    if (f->has_size_lt && !(size < f->size_lt))
        return 0;
    for (size_t i = 0; i < f->ntags; i++)
        if (!tag_fn || !tag_fn(tag_arg, f->tags[i].key, f->tags[i].value))
            return 0;
    return 1;
}

/* Whether r's filter takes the version; tags only when tag_fn is given,
 * else *needs_tags is set for a rule that depends on them. */
static int rule_takes(const struct lifecycle_rule *r, const char *key, uint64_t size,
                      lifecycle_tag_fn tag_fn, void *tag_arg, int *needs_tags)
{
    if (r->filter.ntags && !tag_fn) {
        /* everything but the tags first: ask for them only if they decide */
        struct lifecycle_filter untagged = r->filter;
        untagged.ntags = 0;
        if (lifecycle_filter_matches(&untagged, key, size, NULL, NULL) && needs_tags)
            *needs_tags = 1;
        return 0;
    }
    return lifecycle_filter_matches(&r->filter, key, size, tag_fn, tag_arg);
}

int lifecycle_current_expires(const struct lifecycle_config *c, const char *key, uint64_t size,
                              int64_t mtime_ms, int64_t now_ms, int64_t day_ms,
                              lifecycle_tag_fn tag_fn, void *tag_arg, int *needs_tags)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct lifecycle_rule *r = &c->rules[i];
        if (!r->enabled || (!r->expiration_days && r->expiration_date_ms < 0))
            continue;
        int due = r->expiration_days ? lifecycle_due_ms(mtime_ms, r->expiration_days, day_ms) <= now_ms
                                     : r->expiration_date_ms <= now_ms;
        if (due && rule_takes(r, key, size, tag_fn, tag_arg, needs_tags))
            return 1;
    }
    return 0;
}

int lifecycle_marker_expires(const struct lifecycle_config *c, const char *key, int64_t mtime_ms,
                             int64_t now_ms, int64_t day_ms)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct lifecycle_rule *r = &c->rules[i];
        if (!r->enabled || r->filter.ntags)
            continue;
        int applies = (r->has_expired_marker && r->expired_marker) ||
                      (r->expiration_days &&
                       lifecycle_due_ms(mtime_ms, r->expiration_days, day_ms) <= now_ms);
        if (applies && lifecycle_filter_matches(&r->filter, key, 0, NULL, NULL))
            return 1;
    }
    return 0;
}

int lifecycle_noncurrent_expires(const struct lifecycle_config *c, const char *key, uint64_t size,
                                 int64_t noncurrent_since_ms, uint64_t newer_count,
                                 int64_t now_ms, int64_t day_ms, lifecycle_tag_fn tag_fn,
                                 void *tag_arg, int *needs_tags)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct lifecycle_rule *r = &c->rules[i];
        if (!r->enabled || !r->noncurrent_days)
            continue;
        if (newer_count < (uint64_t)r->newer_noncurrent)
            continue;
        if (lifecycle_due_ms(noncurrent_since_ms, r->noncurrent_days, day_ms) > now_ms)
            continue;
        if (rule_takes(r, key, size, tag_fn, tag_arg, needs_tags))
            return 1;
    }
    return 0;
}

int lifecycle_upload_expires(const struct lifecycle_config *c, const char *key,
                             int64_t initiated_ms, int64_t now_ms, int64_t day_ms)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct lifecycle_rule *r = &c->rules[i];
        if (!r->enabled || !r->abort_days || r->filter.ntags)
            continue;
        if (lifecycle_due_ms(initiated_ms, r->abort_days, day_ms) > now_ms)
            continue;
        if (!r->filter.prefix || strncmp(key, r->filter.prefix, strlen(r->filter.prefix)) == 0)
            return 1;
    }
    return 0;
}

unsigned lifecycle_needs(const struct lifecycle_config *c)
{
    unsigned needs = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct lifecycle_rule *r = &c->rules[i];
        if (!r->enabled)
            continue;
        if (r->expiration_days || r->expiration_date_ms >= 0)
            needs |= LIFECYCLE_NEEDS_CURRENT;
        if (r->noncurrent_days || (r->has_expired_marker && r->expired_marker) || r->expiration_days)
            needs |= LIFECYCLE_NEEDS_VERSIONS;
        if (r->abort_days)
            needs |= LIFECYCLE_NEEDS_UPLOADS;
    }
    return needs;
}
