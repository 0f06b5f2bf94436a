/*
 * gateway/s3_post.c - POST Object: an upload from an HTML form
 * (multipart/form-data POSTed to the bucket's URL), signed by a POST
 * policy instead of an Authorization header.
 *
 * The body streams through common/form_data.h.  The fields before the
 * file are kept (at most POST_FIELDS_MAX bytes, as S3's 20 KB); when the
 * part named "file" begins, everything about the upload is decided at
 * once: the key (${filename} replaced by the file's name), the policy's
 * signature (s3_auth.c: s3_post_authenticate_or_reply, which makes the
 * signer r's user), the policy itself (expiration, every condition, every
 * field covered), the bucket access check, the stored headers.  Then the
 * file's bytes go to the object layer as they arrive, as PutObject's do;
 * content-length-range is checked while they stream.  Fields after the
 * file are ignored, as S3 ignores them.  The object is committed once the
 * body has been read; the reply is a 303 redirect, 200, 201 with a
 * PostResponse document, or 204 (success_action_redirect /
 * success_action_status).
 *
 * Errors found while the body streams are answered after it (http.c keeps
 * a reply asked for during a body piece): the client reads the error
 * instead of a reset connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "common/form_data.h"
#include "common/log.h"
#include "gateway/s3_internal.h"

/* Bytes of field names and values before the file (S3: 20 KB). */
#define POST_FIELDS_MAX (20u << 10)
/* A callback's answer that stops the parser: the reply is decided. */
#define POST_STOP 1

enum part_kind { PART_FIELD, PART_FILE };

struct post_state {
    struct s3_req *r;
    struct form_data fd;
    int fd_ready;
    struct buf fields;         /* the fields before the file: attrs format, names lower-case */
    size_t field_bytes;        /* their names and values, against POST_FIELDS_MAX */
    enum part_kind kind;
    char name[256];            /* the current field's name */
    int name_too_long;
    struct buf value;          /* the current field's value */
    int file_begun, file_done, stopped;
    char *key;                 /* the object's key, ${filename} replaced */
    struct ol_writer *w;
    int werr;                  /* the object layer's error while writing */
    uint64_t size;
    int64_t range_min, range_max; /* content-length-range; -1 when none */
    int too_large;
    struct buf attrs;
    uint8_t versioning;        /* the bucket's, when the file began */
    struct s3_sse sse;         /* the field x-amz-server-side-encryption, or the bucket default */
};

/* A field's value by name (any case), NULL when absent. */
static const char *field(struct post_state *st, const char *name)
{
    const char *n, *v;
    for (uint32_t pos = 0;
         s3_attrs_next((const uint8_t *)st->fields.data, (uint32_t)st->fields.len, &pos, &n, &v);)
        if (strcasecmp(n, name) == 0)
            return v;
    return NULL;
}

/* InvalidArgument "Bucket POST must contain a field named '...'". */
static int missing_field(struct s3_req *r, const char *name)
{
    char msg[160];
    snprintf(msg, sizeof msg, "Bucket POST must contain a field named '%s'.  If it is specified, "
                              "please check the order of the fields.", name);
    s3_add_error_detail(r, "ArgumentName", name);
    s3_add_error_detail(r, "ArgumentValue", "");
    s3_reply_error(r, S3E_INVALID_ARGUMENT, msg);
    return POST_STOP;
}

/* ---- the policy ------------------------------------------------------------ */

static int policy_denied(struct s3_req *r, const char *what)
{
    char msg[1200];
    snprintf(msg, sizeof msg, "Invalid according to Policy: %s", what);
    s3_reply_error(r, S3E_ACCESS_DENIED, msg);
    return -1;
}

static int policy_invalid(struct s3_req *r, const char *what)
{
    char msg[600];
    snprintf(msg, sizeof msg, "Invalid Policy: %s", what);
    s3_reply_error(r, S3E_INVALID_POLICY_DOCUMENT, msg);
    return -1;
}

/* AccessDenied naming the condition, as S3 prints it:
 * ["eq", "$key", "value"]. */
static int condition_failed(struct s3_req *r, const char *op, const char *name, const cJSON *v)
{
    char text[1024], *printed = NULL;
    if (cJSON_IsString(v))
        snprintf(text, sizeof text, "Policy Condition failed: [\"%s\", \"%s%s\", \"%s\"]", op,
                 name[0] == '$' ? "" : "$", name, v->valuestring);
    else
        snprintf(text, sizeof text, "Policy Condition failed: [\"%s\", \"%s\", %s]", op, name,
                 (printed = v ? cJSON_PrintUnformatted(v) : NULL) ? printed : "null");
    cJSON_free(printed);
    return policy_denied(r, text);
}

/* The value a condition on name (without '$') is checked against. */
static const char *condition_value(struct post_state *st, const char *name)
{
    if (strcasecmp(name, "bucket") == 0)
        return st->r->bucket;
    if (strcasecmp(name, "key") == 0)
        return st->key;
    const char *v = field(st, name);
    return v ? v : "";
}

/* starts-with on Content-Type: each of a comma-separated list must match. */
static int starts_with(const char *name, const char *v, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strcasecmp(name, "content-type") != 0 || !strchr(v, ','))
        return strncmp(v, prefix, pl) == 0;
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p && strncmp(p, prefix, pl) != 0)
            return 0;
        p += strcspn(p, ",");
    }
    return 1;
}

/* A number of a content-length-range (a JSON integer, or digits). */
static int range_bound(const cJSON *v, int64_t *out)
{
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 9e15 &&
        v->valuedouble == (double)(int64_t)v->valuedouble) {
        *out = (int64_t)v->valuedouble;
        return 0;
    }
    if (cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) <= 15 &&
        strspn(v->valuestring, "0123456789") == strlen(v->valuestring)) {
        *out = strtoll(v->valuestring, NULL, 10);
        return 0;
    }
    return -1;
}

/* One condition of the policy.  0, or replies and returns -1. */
static int check_condition(struct post_state *st, const cJSON *c)
{
    struct s3_req *r = st->r;
    if (cJSON_IsObject(c)) {
        /* {"field": "value"}: an exact match, one per member */
        for (const cJSON *m = c->child; m; m = m->next) {
            if (!cJSON_IsString(m) || strcmp(condition_value(st, m->string), m->valuestring) != 0)
                return condition_failed(r, "eq", m->string, m);
        }
        return 0;
    }
    int n = cJSON_GetArraySize(c);
    const cJSON *op = cJSON_GetArrayItem(c, 0), *a = cJSON_GetArrayItem(c, 1),
                *b = cJSON_GetArrayItem(c, 2);
    if (!cJSON_IsArray(c) || n != 3 || !cJSON_IsString(op)) {
        char *printed = cJSON_PrintUnformatted(c);
        char text[1024];
        snprintf(text, sizeof text, "Policy Condition failed: %s", printed ? printed : "?");
        cJSON_free(printed);
        return policy_denied(r, text);
    }
    if (strcasecmp(op->valuestring, "content-length-range") == 0) {
        int64_t lo, hi;
        if (range_bound(a, &lo) != 0 || range_bound(b, &hi) != 0 || lo > hi) {
            char *pa = cJSON_PrintUnformatted(a), *pb = cJSON_PrintUnformatted(b);
            char text[256];
            snprintf(text, sizeof text, "Policy Condition failed: [\"content-length-range\", %s, %s]",
                     pa ? pa : "?", pb ? pb : "?");
            cJSON_free(pa);
            cJSON_free(pb);
            return policy_denied(r, text);
        }
        st->range_min = lo;
        st->range_max = hi;
        return 0;
    }
    int eq = strcasecmp(op->valuestring, "eq") == 0;
    int sw = strcasecmp(op->valuestring, "starts-with") == 0;
    if ((!eq && !sw) || !cJSON_IsString(a) || a->valuestring[0] != '$' || !cJSON_IsString(b))
        return condition_failed(r, op->valuestring, cJSON_IsString(a) ? a->valuestring : "?", b);
    const char *v = condition_value(st, a->valuestring + 1);
    if (eq ? strcmp(v, b->valuestring) != 0 : !starts_with(a->valuestring + 1, v, b->valuestring))
        return condition_failed(r, eq ? "eq" : "starts-with", a->valuestring, b);
    return 0;
}

/* Whether some condition of the policy names field name. */
static int condition_covers(const cJSON *conds, const char *name)
{
    for (const cJSON *c = conds->child; c; c = c->next) {
        if (cJSON_IsObject(c)) {
            for (const cJSON *m = c->child; m; m = m->next)
                if (strcasecmp(m->string, name) == 0)
                    return 1;
            continue;
        }
        const cJSON *a = cJSON_GetArrayItem(c, 1);
        if (cJSON_IsString(a) && a->valuestring[0] == '$' && strcasecmp(a->valuestring + 1, name) == 0)
            return 1;
    }
    return 0;
}

/* Fields no condition needs to name (S3's list, and SigV2's pair). */
static int field_exempt(const char *name)
{
    static const char *const exempt[] = {"x-amz-signature", "file", "policy", "signature",
                                         "awsaccesskeyid", NULL};
    for (int i = 0; exempt[i]; i++)
        if (strcmp(name, exempt[i]) == 0)
            return 1;
    return strncmp(name, "x-ignore-", 9) == 0;
}

/* Every form field is named by a condition.  0, or replies and returns -1. */
static int fields_covered_or_reply(struct post_state *st, const cJSON *conds)
{
    struct buf extra;
    const char *n, *v;
    int rc = 0;
    buf_init(&extra, 1000); /* names past that are left out of the message */
    for (uint32_t pos = 0;
         s3_attrs_next((const uint8_t *)st->fields.data, (uint32_t)st->fields.len, &pos, &n, &v);) {
        if (field_exempt(n) || condition_covers(conds, n))
            continue;
        rc = -1;
        buf_printf(&extra, "%s%s", extra.len ? ", " : "", n);
    }
    if (rc) {
        char text[1100];
        snprintf(text, sizeof text, "Extra input fields: %s", extra.data ? extra.data : "");
        policy_denied(st->r, text);
    }
    buf_release(&extra);
    return rc;
}

/* Decode, parse and apply the policy.  0, or replies and returns -1. */
static int policy_or_reply(struct post_state *st, const char *policy)
{
    struct s3_req *r = st->r;
    size_t len = strlen(policy), n = 0;
    char *text = malloc(len + 1);
    uint8_t *json = malloc(len / 4 * 3 + 4);
    cJSON *doc = NULL;
    int rc = -1;
    if (!text || !json) {
        s3_reply_error(r, S3E_INTERNAL, NULL);
        goto out;
    }
    /* some encoders break base64 into lines */
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", policy[i]))
            text[n++] = policy[i];
    long jl = base64_decode(text, n, json);
    if (jl < 0 || !(doc = cJSON_ParseWithLength((const char *)json, (size_t)jl)) ||
        !cJSON_IsObject(doc)) {
        policy_invalid(r, "Invalid JSON.");
        goto out;
    }
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(doc, "expiration");
    const cJSON *conds = cJSON_GetObjectItemCaseSensitive(doc, "conditions");
    if (!exp) {
        policy_invalid(r, "Policy missing expiration.");
        goto out;
    }
    int64_t exp_ms = cJSON_IsString(exp) ? s3_parse_http_time(exp->valuestring) : -1;
    if (exp_ms < 0) {
        char what[300];
        snprintf(what, sizeof what, "Invalid 'expiration' value: '%.200s'",
                 cJSON_IsString(exp) ? exp->valuestring : "");
        policy_invalid(r, what);
        goto out;
    }
    if (!cJSON_IsArray(conds)) {
        policy_invalid(r, "Policy missing conditions.");
        goto out;
    }
    if (ol_now_ms() > exp_ms) {
        policy_denied(r, "Policy expired.");
        goto out;
    }
    for (const cJSON *c = conds->child; c; c = c->next)
        if (check_condition(st, c) != 0)
            goto out;
    if (fields_covered_or_reply(st, conds) != 0)
        goto out;
    rc = 0;
out:
    cJSON_Delete(doc);
    free(text);
    free(json);
    return rc;
}

/* ---- the upload ------------------------------------------------------------ */

/* key with every ${filename} replaced by the file's name (its last path
 * component: old browsers send the whole path) into *out (owned).  0,
 * -ENOSPC when longer than any key may be, -ENOMEM. */
static int expand_key(const char *key, const char *filename, char **out)
{
    const char *base = filename ? filename : "";
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    struct buf b;
    int rc = 0;
    buf_init(&b, META_KEY_MAX + 1);
    for (const char *p = key; *p && rc == 0;) {
        const char *at = strstr(p, "${filename}");
        size_t n = at ? (size_t)(at - p) : strlen(p);
        rc = buf_append(&b, p, n);
        if (rc == 0 && at)
            rc = buf_puts(&b, base);
        p += n + (at ? 11 : 0);
    }
    if (rc) {
        buf_release(&b);
        return rc;
    }
    *out = buf_detach(&b, NULL);
    return 0;
}

/* The file part begins: decide everything.  0, or POST_STOP (replied). */
static int file_begin(struct post_state *st, const struct form_part *part)
{
    struct s3_req *r = st->r;
    st->file_begun = 1;
    const char *key = field(st, "key");
    if (!key)
        return missing_field(r, "key");
    int rc = expand_key(key, part->filename, &st->key);
    if (rc == -ENOSPC) {
        s3_reply_error(r, S3E_KEY_TOO_LONG, NULL);
        return POST_STOP;
    }
    if (rc)
        return rc;
    if (!s3_key_valid(st->key)) {
        s3_add_error_detail(r, "ArgumentName", "key");
        s3_reply_error(r, S3E_INVALID_ARGUMENT, st->key[0] ? "The key is not valid UTF-8."
                                                           : "User key must have a length "
                                                             "greater than 0.");
        return POST_STOP;
    }

    const char *policy = field(st, "policy");
    struct s3_post_auth a = {
        policy, field(st, "x-amz-algorithm"), field(st, "x-amz-credential"),
        field(st, "x-amz-date"), field(st, "x-amz-signature"), field(st, "AWSAccessKeyId"),
        field(st, "signature"),
    };
    if (policy) {
        if (s3_post_authenticate_or_reply(r, &a) != 0 || policy_or_reply(st, policy) != 0)
            return POST_STOP;
    } else if (a.credential || a.signature || a.v2_access_key || a.v2_signature) {
        return missing_field(r, "policy");
    }
    /* s3:PutObject on the form's key: an anonymous form (no policy) goes
     * on only where the bucket's policy or ACL lets everyone write */
    struct meta_bucket b;
    if (s3_access_or_reply(r, r->bucket, st->key, "s3:PutObject", NULL, &b) != 0)
        return POST_STOP;
    st->versioning = b.versioning;
    if (s3_attrs_from_fields_or_reply(r, (const uint8_t *)st->fields.data,
                                      (uint32_t)st->fields.len, &st->attrs) != 0 ||
        s3_tagging_form_or_reply(r, field(st, "tagging"), &st->attrs) != 0 ||
        s3_lock_attrs_or_reply(r, &st->attrs) != 0 || /* the bucket's default retention */
        s3_sse_choose_or_reply(r, field(st, "x-amz-server-side-encryption"),
                               field(st, "x-amz-server-side-encryption-customer-algorithm"),
                               field(st, "x-amz-server-side-encryption-customer-key"),
                               field(st, "x-amz-server-side-encryption-customer-key-MD5"),
                               &st->sse) != 0)
        return POST_STOP;
    struct ol_writer_opts o = {1, CKSUM_NONE, OL_MAX_PUT_SIZE, s3_sse_domain(&st->sse)};
    rc = ol_writer_new(r->gw->ol, &o, &st->w);
    if (rc) {
        s3_reply_rc(r, rc);
        return POST_STOP;
    }
    return 0;
}

static int file_data(struct post_state *st, const uint8_t *p, size_t n)
{
    uint64_t max = st->range_max >= 0 && (uint64_t)st->range_max < OL_MAX_PUT_SIZE
                       ? (uint64_t)st->range_max : OL_MAX_PUT_SIZE;
    st->size += n;
    if (st->size > max)
        st->too_large = 1; /* read on to tell the size, as S3 does */
    if (st->too_large)
        return 0;
    int rc = ol_writer_write(st->w, p, n);
    if (rc) {
        st->werr = rc;
        return POST_STOP;
    }
    return 0;
}

static int file_end(struct post_state *st)
{
    struct s3_req *r = st->r;
    char size[24], limit[24];
    st->file_done = 1;
    snprintf(size, sizeof size, "%" PRIu64, st->size);
    if (st->too_large) {
        uint64_t max = st->range_max >= 0 && (uint64_t)st->range_max < OL_MAX_PUT_SIZE
                           ? (uint64_t)st->range_max : OL_MAX_PUT_SIZE;
        snprintf(limit, sizeof limit, "%" PRIu64, max);
        s3_add_error_detail(r, "ProposedSize", size);
        s3_add_error_detail(r, "MaxSizeAllowed", limit);
        s3_reply_error(r, S3E_ENTITY_TOO_LARGE, "Your proposed upload exceeds the maximum allowed size");
    } else if (st->range_min >= 0 && st->size < (uint64_t)st->range_min) {
        snprintf(limit, sizeof limit, "%" PRId64, st->range_min);
        s3_add_error_detail(r, "ProposedSize", size);
        s3_add_error_detail(r, "MinSizeAllowed", limit);
        s3_reply_error(r, S3E_ENTITY_TOO_SMALL, "Your proposed upload is smaller than the minimum allowed size");
    }
    return POST_STOP; /* what follows the file is ignored */
}

/* ---- form_data callbacks ------------------------------------------------- */

static int on_part_begin(void *arg, const struct form_part *part)
{
    struct post_state *st = arg;
    if (strcasecmp(part->name, "file") == 0) {
        st->kind = PART_FILE;
        return file_begin(st, part);
    }
    st->kind = PART_FIELD;
    size_t nl = strlen(part->name);
    st->name_too_long = nl >= sizeof st->name;
    snprintf(st->name, sizeof st->name, "%s", part->name);
    st->field_bytes += nl;
    buf_reset(&st->value);
    if (st->field_bytes > POST_FIELDS_MAX || st->name_too_long) {
        s3_reply_error(st->r, S3E_MAX_POST_PRE_DATA, NULL);
        return POST_STOP;
    }
    return 0;
}

static int on_part_data(void *arg, const uint8_t *p, size_t n)
{
    struct post_state *st = arg;
    if (st->kind == PART_FILE)
        return file_data(st, p, n);
    st->field_bytes += n;
    if (st->field_bytes > POST_FIELDS_MAX || buf_append(&st->value, p, n) != 0) {
        s3_reply_error(st->r, S3E_MAX_POST_PRE_DATA, NULL);
        return POST_STOP;
    }
    return 0;
}

static int on_part_end(void *arg)
{
    struct post_state *st = arg;
    struct s3_req *r = st->r;
    if (st->kind == PART_FILE)
        return file_end(st);
    const char *v = st->value.data ? st->value.data : "";
    if (memchr(v, 0, st->value.len) || !st->name[0]) {
        s3_add_error_detail(r, "ArgumentName", st->name);
        s3_reply_error(r, S3E_INVALID_ARGUMENT, "A form field has no name or holds a NUL byte.");
        return POST_STOP;
    }
    if (field(st, st->name)) {
        char msg[320];
        snprintf(msg, sizeof msg, "The form field '%s' is given more than once.", st->name);
        s3_add_error_detail(r, "ArgumentName", st->name);
        s3_reply_error(r, S3E_INVALID_ARGUMENT, msg);
        return POST_STOP;
    }
    if (s3_attrs_add(&st->fields, st->name, v) != 0) {
        s3_reply_error(r, S3E_MAX_POST_PRE_DATA, NULL);
        return POST_STOP;
    }
    return 0;
}

static const struct form_data_callbacks post_callbacks = {on_part_begin, on_part_data, on_part_end};

/* ---- handler ------------------------------------------------------------------ */

static int post_begin(struct s3_req *r)
{
    const char *ct = s3_header(r, "Content-Type");
    char boundary[FORM_DATA_BOUNDARY_MAX + 1];
    while (ct && (*ct == ' ' || *ct == '\t'))
        ct++;
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0) {
        s3_add_error_detail(r, "Condition", "Bucket POST must be of the enclosure-type "
                                            "multipart/form-data");
        s3_reply_error(r, S3E_PRECONDITION_FAILED, NULL);
        return 0;
    }
    if (form_data_boundary(ct, boundary, sizeof boundary) != 0) {
        s3_reply_error(r, S3E_MALFORMED_POST, NULL);
        return 0;
    }
    struct post_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    r->hstate = st;
    st->r = r;
    st->range_min = st->range_max = -1;
    buf_init(&st->fields, 2 * POST_FIELDS_MAX + 1024);
    buf_init(&st->value, POST_FIELDS_MAX);
    buf_init(&st->attrs, 8192 + S3_TAGS_ATTR_MAX);
    if (form_data_init(&st->fd, boundary, &post_callbacks, st) != 0) {
        s3_reply_error(r, S3E_MALFORMED_POST, NULL);
        return 0;
    }
    st->fd_ready = 1;
    return 0;
}

static int post_body(struct s3_req *r, const uint8_t *p, size_t n)
{
    struct post_state *st = r->hstate;
    if (st->stopped)
        return 0; /* the file is in (what follows is ignored), or an error is kept */
    int rc = form_data_feed(&st->fd, p, n);
    if (rc == 0)
        return 0;
    st->stopped = 1;
    if (st->werr)
        return st->werr;
    if (rc == POST_STOP)
        return 0;
    if (rc <= FORM_DATA_EBOUNDARY && rc >= FORM_DATA_EINVAL) {
        s3_reply_error(r, rc == FORM_DATA_ETOOLONG ? S3E_MAX_POST_PRE_DATA : S3E_MALFORMED_POST,
                       NULL);
        return 0;
    }
    return rc;
}

/* https:// or http:// and something after it: where S3 redirects. */
static int redirect_url(const char *url)
{
    return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) &&
           strlen(url) > 8 && !strpbrk(url, "\r\n");
}

/* The object's URL, as S3 names it in Location. */
static void object_url(struct s3_req *r, const char *key, struct buf *out)
{
    const char *host = s3_header(r, "Host");
    const char *proto = s3_header(r, "X-Forwarded-Proto");
    buf_printf(out, "%s://%s/", proto && strcasecmp(proto, "https") == 0 ? "https" : "http",
               host ? host : "localhost");
    if (!r->vhost) {
        uri_encode(out, r->bucket, strlen(r->bucket), 0);
        buf_puts(out, "/");
    }
    uri_encode(out, key, strlen(key), URI_KEEP_SLASH);
}

static void post_reply(struct s3_req *r, struct post_state *st, const char *etag)
{
    char quoted[META_ETAG_MAX + 3];
    s3_quote_etag(etag, quoted); /* the ETag header is s3_put_commit's */
    const char *redirect = field(st, "success_action_redirect");
    if (!redirect)
        redirect = field(st, "redirect");
    struct buf url;
    buf_init(&url, 16384);
    if (redirect_url(redirect)) {
        buf_printf(&url, "%s%s", redirect, strchr(redirect, '?') ? "&" : "?");
        buf_puts(&url, "bucket=");
        uri_encode(&url, r->bucket, strlen(r->bucket), 0);
        buf_puts(&url, "&key=");
        uri_encode(&url, st->key, strlen(st->key), 0);
        buf_puts(&url, "&etag=");
        uri_encode(&url, quoted, strlen(quoted), 0);
        s3_add_header(r, "Location", url.data ? url.data : redirect);
        buf_release(&url);
        s3_reply_empty(r, 303);
        return;
    }
    object_url(r, st->key, &url);
    s3_add_header(r, "Location", url.data ? url.data : "");
    const char *status = field(st, "success_action_status");
    if (status && strcmp(status, "201") == 0) {
        struct buf b;
        struct xml_writer w;
        buf_init(&b, 64 << 10);
        xmlw_init(&w, &b);
        xmlw_decl(&w);
        xmlw_open(&w, "PostResponse");
        xmlw_elem(&w, "Location", url.data ? url.data : "");
        xmlw_elem(&w, "Bucket", r->bucket);
        xmlw_elem(&w, "Key", st->key);
        xmlw_elem(&w, "ETag", quoted);
        xmlw_close(&w);
        buf_release(&url);
        if (xmlw_finish(&w) != 0) {
            buf_release(&b);
            s3_reply_error(r, S3E_INTERNAL, NULL);
            return;
        }
        s3_reply_xml(r, 201, &b);
        return;
    }
    buf_release(&url);
    s3_reply_empty(r, status && strcmp(status, "200") == 0 ? 200 : 204);
}

static void post_end(struct s3_req *r)
{
    struct post_state *st = r->hstate;
    if (!st->file_begun) {
        int rc = form_data_finish(&st->fd);
        if (rc == 0) {
            s3_add_error_detail(r, "ArgumentName", "file");
            s3_add_error_detail(r, "ArgumentValue", "0");
            s3_reply_error(r, S3E_INVALID_ARGUMENT,
                           "POST requires exactly one file upload per request.");
        } else {
            s3_reply_error(r, S3E_MALFORMED_POST, NULL);
        }
        return;
    }
    if (!st->file_done) {
        s3_reply_error(r, S3E_MALFORMED_POST, NULL);
        return;
    }
    int rc = ol_writer_finish(st->w);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    char etag[META_ETAG_MAX];
    rc = s3_put_commit(r, st->w, st->key, &st->attrs, NULL, st->versioning, &st->sse, etag);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    post_reply(r, st, etag);
}

static void post_cleanup(struct s3_req *r)
{
    struct post_state *st = r->hstate;
    if (!st)
        return;
    if (st->fd_ready)
        form_data_release(&st->fd);
    ol_writer_free(st->w);
    /* the fields (and a field being read) may hold an SSE-C key */
    if (st->fields.data)
        OPENSSL_cleanse(st->fields.data, st->fields.len);
    if (st->value.data)
        OPENSSL_cleanse(st->value.data, st->value.len);
    buf_release(&st->fields);
    buf_release(&st->value);
    buf_release(&st->attrs);
    s3_sse_release(&st->sse);
    free(st->key);
    free(st);
    r->hstate = NULL;
}

const struct s3_handler h_post_object = {"PostObject", post_begin, post_body, post_end,
                                         post_cleanup};
