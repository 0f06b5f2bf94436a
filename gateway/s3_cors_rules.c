/*
 * gateway/s3_cors_rules.c - CORS rules without a request: validating a
 * PutBucketCors document into the stored form, writing it back as XML,
 * matching a request against it and the headers of a match.  See
 * s3_cors.h for the stored form and the matching rules; s3_cors.c has the
 * handlers.  Depends on common/ only, so the fuzz target links it alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/s3_cors.h"

#define CORS_MAGIC "cors1"
#define CORS_MAGIC_LEN 6 /* with its NUL */

/* The elements of a CORSRule: XML name, tag in the stored form.  The order
 * is the stored order and the order GetBucketCors writes them in. */
enum { F_ID, F_METHOD, F_ORIGIN, F_HEADER, F_MAXAGE, F_EXPOSE, F_COUNT };
static const struct {
    const char *name;
    char tag;
} fields[F_COUNT] = {
    [F_ID] = {"ID", 'I'},
    [F_METHOD] = {"AllowedMethod", 'M'},
    [F_ORIGIN] = {"AllowedOrigin", 'O'},
    [F_HEADER] = {"AllowedHeader", 'H'},
    [F_MAXAGE] = {"MaxAgeSeconds", 'A'},
    [F_EXPOSE] = {"ExposeHeader", 'E'},
};

#define TAG_RULE 'R'
#define VARY "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

int s3_cors_method_valid(const char *m)
{
    static const char *const methods[] = {"GET", "PUT", "HEAD", "POST", "DELETE"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (strcmp(m, methods[i]) == 0)
            return 1;
    return 0;
}

/* ---- parsing PutBucketCors ------------------------------------------- */

static int blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == 0;
}

static int field_of(const char *name)
{
    for (int i = 0; i < F_COUNT; i++)
        if (strcmp(name, fields[i].name) == 0)
            return i;
    return -1;
}

/* MaxAgeSeconds: decimal digits only, 0..2^31-1; -1 otherwise. */
static long max_age(const char *s)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || s[n] != 0)
        return -1;
    while (n > 1 && *s == '0') {
        s++;
        n--;
    }
    if (n > 10)
        return -1;
    long v = strtol(s, NULL, 10);
    return v <= S3_CORS_MAX_AGE ? v : -1;
}

/* S3's schema: only CORSRule elements, each with only known, text-only
 * elements, ID and MaxAgeSeconds at most once and valid, at least one
 * AllowedMethod and AllowedOrigin. */
static int rule_well_formed(const struct xml_node *rule)
{
    unsigned count[F_COUNT] = {0};
    if (strcmp(rule->name, "CORSRule") != 0 || rule->children == NULL || !blank(rule->text))
        return 0;
    for (const struct xml_node *c = rule->children; c; c = c->next) {
        int f = field_of(c->name);
        if (f < 0 || c->children)
            return 0;
        count[f]++;
        if (f == F_ID && c->text_len > S3_CORS_ID_MAX)
            return 0;
        if (f == F_MAXAGE && max_age(c->text) < 0)
            return 0;
    }
    return count[F_ID] <= 1 && count[F_MAXAGE] <= 1 && count[F_METHOD] >= 1 &&
           count[F_ORIGIN] >= 1;
}

static size_t wildcards(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '*';
    return n;
}

int s3_cors_utf8_prefix(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return (int)n;
}

/* The first value of rule S3 refuses, with its message; 0 if none. */
static int rule_values_bad(const struct xml_node *rule, char *msg, size_t cap)
{
    static const char *const fmt[F_COUNT] = {
        [F_METHOD] = "Found unsupported HTTP method in CORS config. Unsupported method is %.*s",
        [F_ORIGIN] = "AllowedOrigin \"%.*s\" can not have more than one wildcard.",
        [F_HEADER] = "AllowedHeader \"%.*s\" can not have more than one wildcard.",
        [F_EXPOSE] = "ExposeHeader \"%.*s\" contains wildcard. We currently do not support "
                     "wildcard for ExposeHeader.",
    };
    static const int order[] = {F_METHOD, F_ORIGIN, F_HEADER, F_EXPOSE};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        int f = order[i];
        for (const struct xml_node *c = xml_child(rule, fields[f].name); c;
             c = xml_next_named(c, fields[f].name)) {
            int bad = f == F_METHOD   ? !s3_cors_method_valid(c->text)
                      : f == F_EXPOSE ? wildcards(c->text) > 0
                                      : wildcards(c->text) > 1;
            if (bad) {
                snprintf(msg, cap, fmt[f], s3_cors_utf8_prefix(c->text, 256), c->text);
                return 1;
            }
        }
    }
    return 0;
}

static int add_field(struct buf *out, char tag, const char *value)
{
    if (buf_append(out, &tag, 1) != 0)
        return -1;
    return buf_append(out, value, strlen(value) + 1);
}

enum s3_err s3_cors_parse(const char *xml, size_t len, struct buf *out, char *msg,
                          size_t msg_cap)
{
    struct xml_doc *doc = NULL;
    enum s3_err e = S3E_MALFORMED_XML;
    size_t before = out->len, rules = 0;
    if (msg_cap)
        msg[0] = 0;
    if (xml_parse(xml, len, &doc) != 0)
        goto out;
    const struct xml_node *root = xml_root(doc);
    if (strcmp(root->name, "CORSConfiguration") != 0 || !blank(root->text))
        goto out;
    for (const struct xml_node *rule = root->children; rule; rule = rule->next)
        if (++rules > S3_CORS_MAX_RULES || !rule_well_formed(rule))
            goto out;
    if (rules == 0)
        goto out;
    e = S3E_INVALID_REQUEST;
    for (const struct xml_node *rule = root->children; rule; rule = rule->next)
        if (rule_values_bad(rule, msg, msg_cap))
            goto out;
    e = S3E_INTERNAL;
    if (buf_append(out, CORS_MAGIC, CORS_MAGIC_LEN) != 0)
        goto out;
    for (const struct xml_node *rule = root->children; rule; rule = rule->next) {
        if (add_field(out, TAG_RULE, "") != 0)
            goto out;
        for (int f = 0; f < F_COUNT; f++) {
            for (const struct xml_node *c = xml_child(rule, fields[f].name); c;
                 c = xml_next_named(c, fields[f].name)) {
                char age[16];
                const char *v = c->text;
                if (f == F_MAXAGE) {
                    snprintf(age, sizeof age, "%ld", max_age(c->text));
                    v = age;
                }
                if (add_field(out, fields[f].tag, v) != 0)
                    goto out;
            }
        }
    }
    e = S3E_NONE;
out:
    if (e != S3E_NONE)
        out->len = before;
    xml_doc_free(doc);
    return e;
}

/* ---- walking the stored form ----------------------------------------- */

/* The next field at *p before end: its tag and NUL-terminated value.
 * 0 at the end or at a torn field. */
static int next_field(const char **p, const char *end, char *tag, const char **value)
{
    if (*p >= end)
        return 0;
    const char *nul = memchr(*p, 0, (size_t)(end - *p));
    if (!nul || nul == *p)
        return 0;
    *tag = **p;
    *value = *p + 1;
    *p = nul + 1;
    return 1;
}

/* The rule after *p: [*rule, *rule_end) its fields, *p moved past them.
 * 0 when none is left. */
static int next_rule(const char **p, const char *end, const char **rule, const char **rule_end)
{
    char tag = 0;
    const char *v, *q;
    while (tag != TAG_RULE)
        if (!next_field(p, end, &tag, &v))
            return 0;
    *rule = *p;
    for (q = *p; next_field(&q, end, &tag, &v) && tag != TAG_RULE;)
        *p = q;
    *rule_end = *p;
    return 1;
}

static const char *blob_start(const char *blob, size_t len)
{
    if (len < CORS_MAGIC_LEN || memcmp(blob, CORS_MAGIC, CORS_MAGIC_LEN) != 0)
        return blob + len;
    return blob + CORS_MAGIC_LEN;
}

void s3_cors_write_xml(const char *blob, size_t len, struct xml_writer *w)
{
    const char *p = blob_start(blob, len), *end = blob + len, *rule, *rule_end;
    while (next_rule(&p, end, &rule, &rule_end)) {
        xmlw_open(w, "CORSRule");
        char tag;
        const char *v;
        for (const char *q = rule; next_field(&q, rule_end, &tag, &v);)
            for (int f = 0; f < F_COUNT; f++)
                if (tag == fields[f].tag)
                    xmlw_elem(w, fields[f].name, v);
        xmlw_close(w);
    }
}

/* Whether s[0..n) matches pattern: equal, or with its one '*' any run. */
static int wild_match(const char *pattern, const char *s, size_t n, int icase)
{
    int (*cmp)(const char *, const char *, size_t) = icase ? strncasecmp : strncmp;
    const char *star = strchr(pattern, '*');
    if (!star)
        return strlen(pattern) == n && cmp(pattern, s, n) == 0;
    size_t pre = (size_t)(star - pattern), suf = strlen(star + 1);
    return n >= pre + suf && cmp(pattern, s, pre) == 0 && cmp(star + 1, s + n - suf, suf) == 0;
}

/* Next name of a comma-separated header list, blanks around it trimmed;
 * empty names are skipped.  0 at the end. */
static int next_name(const char **list, const char **name, size_t *n)
{
    const char *p = *list;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *s = p, *e = p + len;
        p = *e ? e + 1 : e;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            *list = p;
            *name = s;
            *n = (size_t)(e - s);
            return 1;
        }
    }
    *list = p;
    return 0;
}

static int rule_has(const char *rule, const char *end, char want, const char *s, size_t n,
                    int wild, int icase)
{
    char tag;
    const char *v;
    for (const char *q = rule; next_field(&q, end, &tag, &v);)
        if (tag == want && (wild ? wild_match(v, s, n, icase) : strlen(v) == n && memcmp(v, s, n) == 0))
            return 1;
    return 0;
}

int s3_cors_match(const char *blob, size_t len, const char *origin, const char *method,
                  const char *request_headers, struct s3_cors_match *m)
{
    const char *p = blob_start(blob, len), *end = blob + len, *rule, *rule_end;
    while (next_rule(&p, end, &rule, &rule_end)) {
        if (!rule_has(rule, rule_end, 'M', method, strlen(method), 0, 0) ||
            !rule_has(rule, rule_end, 'O', origin, strlen(origin), 1, 0))
            continue;
        int headers_ok = 1;
        const char *list = request_headers ? request_headers : "", *name;
        size_t n;
        while (headers_ok && next_name(&list, &name, &n))
            headers_ok = rule_has(rule, rule_end, 'H', name, n, 1, 1);
        if (!headers_ok)
            continue;
        m->rule = rule;
        m->end = rule_end;
        m->any_origin = rule_has(rule, rule_end, 'O', "*", 1, 0, 0);
        return 1;
    }
    return 0;
}

static int add_pair(struct buf *out, const char *name, const char *value)
{
    if (buf_append(out, name, strlen(name) + 1) != 0)
        return -1;
    return buf_append(out, value, strlen(value) + 1);
}

/* The rule's values of one tag joined with ", " into list (reset first);
 * whether there was any. */
static int join_tag(const struct s3_cors_match *m, char want, struct buf *list)
{
    char tag;
    const char *v;
    int any = 0;
    buf_reset(list);
    for (const char *q = m->rule; next_field(&q, m->end, &tag, &v);)
        if (tag == want) {
            buf_printf(list, "%s%s", any ? ", " : "", v);
            any = 1;
        }
    return any;
}

int s3_cors_headers(const struct s3_cors_match *m, const char *origin,
                    const char *request_headers, struct buf *out)
{
    struct buf list;
    int rc = 0;
    /* a rule fits in S3_CORS_MAX_BODY; the requested header names in
     * less than the 16 KiB header section the gateway accepts */
    buf_init(&list, S3_CORS_MAX_BODY + (64u << 10));
    rc |= add_pair(out, "Access-Control-Allow-Origin", m->any_origin ? "*" : origin);
    if (join_tag(m, 'M', &list))
        rc |= add_pair(out, "Access-Control-Allow-Methods", list.data);
    buf_reset(&list);
    const char *names = request_headers ? request_headers : "", *name;
    size_t n;
    while (next_name(&names, &name, &n)) {
        size_t at = list.len + (list.len ? 2 : 0);
        if (buf_printf(&list, "%s%.*s", list.len ? ", " : "", (int)n, name) == 0)
            for (char *c = list.data + at; *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    }
    if (list.len)
        rc |= add_pair(out, "Access-Control-Allow-Headers", list.data);
    if (join_tag(m, 'E', &list))
        rc |= add_pair(out, "Access-Control-Expose-Headers", list.data);
    if (join_tag(m, 'A', &list))
        rc |= add_pair(out, "Access-Control-Max-Age", list.data);
    if (!m->any_origin)
        rc |= add_pair(out, "Access-Control-Allow-Credentials", "true");
    rc |= add_pair(out, "Vary", VARY);
    buf_release(&list);
    return rc ? -ENOSPC : 0;
}

