/*
 * gateway/s3_bucket.c - bucket operations: ListBuckets, CreateBucket,
 * HeadBucket, DeleteBucket, GetBucketLocation, Get/PutBucketVersioning
 * (ACLs: s3_acl.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xml.h"
#include "gateway/s3_internal.h"

/* S3's bucket naming rules (the current ones, for new buckets). */
static int bucket_name_valid(const char *n)
{
    size_t len = strlen(n);
    int digits_and_dots = 1, dots = 0;
    if (len < 3 || len > 63)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return 0;
        if (c == '.') {
            dots++;
            if (i > 0 && (n[i - 1] == '.' || n[i - 1] == '-'))
                return 0;
        }
        if (c == '-' && i > 0 && n[i - 1] == '.')
            return 0;
        if (!(c == '.' || (c >= '0' && c <= '9')))
            digits_and_dots = 0;
    }
    if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= '0' && n[0] <= '9')))
        return 0;
    if (!((n[len - 1] >= 'a' && n[len - 1] <= 'z') || (n[len - 1] >= '0' && n[len - 1] <= '9')))
        return 0;
    if (digits_and_dots && dots == 3) /* looks like an IP address */
        return 0;
    if (strncmp(n, "xn--", 4) == 0 || strncmp(n, "sthree-", 7) == 0)
        return 0;
    if (len >= 8 && strcmp(n + len - 8, "-s3alias") == 0)
        return 0;
    if (len >= 6 && strcmp(n + len - 6, "--ol-s3") == 0)
        return 0;
    return 1;
}

static void xml_owner(struct xml_writer *w, const char *name)
{
    xmlw_open(w, "Owner");
    xmlw_elem(w, "ID", name);
    xmlw_elem(w, "DisplayName", name);
    xmlw_close(w);
}

/* ---- ListBuckets ------------------------------------------------------ */

static void list_buckets_end(struct s3_req *r)
{
    struct meta_bucket *bs = NULL;
    size_t n = 0;
    int rc = meta_bucket_list(r->gw->meta, r->is_root ? NULL : r->user, &bs, &n);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    struct s3_doc d;
    s3_doc_begin(&d, "ListAllMyBucketsResult", 64u << 20);
    xml_owner(&d.w, r->user);
    xmlw_open(&d.w, "Buckets");
    for (size_t i = 0; i < n; i++) {
        char t[32];
        s3_time_iso(bs[i].created_ms, t);
        xmlw_open(&d.w, "Bucket");
        xmlw_elem(&d.w, "Name", bs[i].name);
        xmlw_elem(&d.w, "CreationDate", t);
        xmlw_close(&d.w);
    }
    xmlw_close(&d.w);
    xmlw_close(&d.w);
    free(bs);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_list_buckets = {"ListBuckets", NULL, NULL, list_buckets_end, NULL};

/* ---- CreateBucket ----------------------------------------------------- */

static int create_bucket_begin(struct s3_req *r)
{
    if (!bucket_name_valid(r->bucket)) {
        s3_reply_error(r, S3E_INVALID_BUCKET_NAME, NULL);
        return 0;
    }
    return 0;
}

static void create_bucket_end(struct s3_req *r)
{
    struct meta_bucket b;
    const char *acl;
    memset(&b, 0, sizeof b);
    if (s3_acl_canned_or_reply(r, &acl) != 0)
        return;
    if (r->body.len) {
        struct xml_doc *doc = NULL;
        if (xml_parse(r->body.data, r->body.len, &doc) != 0 ||
            strcmp(xml_root(doc)->name, "CreateBucketConfiguration") != 0) {
            xml_doc_free(doc);
            s3_reply_error(r, S3E_MALFORMED_XML, NULL);
            return;
        }
        const char *loc = xml_child_text(xml_root(doc), "LocationConstraint", "");
        snprintf(b.region, sizeof b.region, "%s", loc);
        xml_doc_free(doc);
    }
    if (!b.region[0])
        snprintf(b.region, sizeof b.region, "%s", r->gw->region);
    snprintf(b.name, sizeof b.name, "%s", r->bucket);
    snprintf(b.owner, sizeof b.owner, "%s", r->user);
    b.created_ms = ol_now_ms();
    const char *lock = s3_header(r, "x-amz-bucket-object-lock-enabled");
    int with_lock = lock && strcasecmp(lock, "true") == 0;
    if (with_lock)
        b.versioning = META_VERSIONING_ENABLED; /* object lock needs it, as in S3 */
    int rc = meta_bucket_create(r->gw->meta, &b);
    if (rc == 0 && with_lock)
        rc = meta_bucket_config_set(r->gw->meta, b.name, "object-lock", "Enabled", 7);
    if (rc == 0 && strcmp(acl, "private") != 0)
        rc = meta_bucket_config_set(r->gw->meta, r->bucket, S3_CONFIG_ACL, acl, strlen(acl));
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    char loc[80];
    snprintf(loc, sizeof loc, "/%s", r->bucket);
    s3_add_header(r, "Location", loc);
    s3_reply_empty(r, 200);
}

const struct s3_handler h_create_bucket = {"CreateBucket", create_bucket_begin, NULL,
                                           create_bucket_end, NULL};

/* ---- HeadBucket / DeleteBucket / GetBucketLocation ------------------- */

static void head_bucket_end(struct s3_req *r)
{
    struct meta_bucket b;
    if (s3_bucket_access_or_reply(r, &b) != 0)
        return;
    s3_add_header(r, "x-amz-bucket-region", b.region[0] ? b.region : r->gw->region);
    s3_reply_empty(r, 200);
}

const struct s3_handler h_head_bucket = {"HeadBucket", NULL, NULL, head_bucket_end, NULL};

static void delete_bucket_end(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    int rc = meta_bucket_delete(r->gw->meta, r->bucket);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    s3_reply_empty(r, 204);
}

const struct s3_handler h_delete_bucket = {"DeleteBucket", NULL, NULL, delete_bucket_end, NULL};

static void location_end(struct s3_req *r)
{
    struct meta_bucket b;
    if (s3_bucket_access_or_reply(r, &b) != 0)
        return;
    struct s3_doc d;
    /* us-east-1 is answered as an empty constraint, as S3 does. */
    const char *region = b.region[0] ? b.region : r->gw->region;
    s3_doc_begin(&d, "LocationConstraint", 4096);
    if (strcmp(region, "us-east-1") != 0)
        xmlw_text(&d.w, region);
    xmlw_close(&d.w);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_get_bucket_location = {"GetBucketLocation", NULL, NULL, location_end,
                                                 NULL};

static void versioning_end(struct s3_req *r)
{
    struct meta_bucket b;
    if (s3_bucket_access_or_reply(r, &b) != 0)
        return;
    struct s3_doc d;
    s3_doc_begin(&d, "VersioningConfiguration", 4096);
    if (b.versioning == META_VERSIONING_ENABLED)
        xmlw_elem(&d.w, "Status", "Enabled");
    else if (b.versioning == META_VERSIONING_SUSPENDED)
        xmlw_elem(&d.w, "Status", "Suspended");
    xmlw_close(&d.w);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_get_bucket_versioning = {"GetBucketVersioning", NULL, NULL,
                                                   versioning_end, NULL};

/* <VersioningConfiguration> with Status Enabled or Suspended (anything
 * else is MalformedXML, as S3 answers; no Status at all is
 * IllegalVersioningConfigurationException) and MfaDelete absent, empty or
 * Disabled: cairn has no MFA devices.  A bucket never goes back to
 * unversioned: no Status value asks for it. */
static void put_versioning_end(struct s3_req *r)
{
    struct xml_doc *doc;
    if (s3_bucket_access_or_reply(r, NULL) != 0 ||
        !(doc = s3_xml_body_or_reply(r, "VersioningConfiguration")))
        return;
    const char *status = xml_child_text(xml_root(doc), "Status", NULL);
    const char *mfa = xml_child_text(xml_root(doc), "MfaDelete", "");
    enum s3_err e = S3E_NONE;
    uint8_t want = META_VERSIONING_ENABLED;
    if (!status)
        e = S3E_ILLEGAL_VERSIONING;
    else if (strcmp(status, "Suspended") == 0)
        want = META_VERSIONING_SUSPENDED;
    else if (strcmp(status, "Enabled") != 0)
        e = S3E_MALFORMED_XML;
    if (e == S3E_NONE && mfa[0] && strcmp(mfa, "Disabled") != 0)
        e = strcmp(mfa, "Enabled") == 0 ? S3E_NOT_IMPLEMENTED : S3E_MALFORMED_XML;
    xml_doc_free(doc);
    if (e != S3E_NONE) {
        s3_reply_error(r, e, e == S3E_NOT_IMPLEMENTED ? "cairn does not support MFA Delete." : NULL);
        return;
    }
    if (want == META_VERSIONING_SUSPENDED && s3_lock_enabled(r->gw, r->bucket)) {
        s3_reply_error(r, S3E_INVALID_BUCKET_STATE, "An Object Lock configuration is present on "
                                                    "this bucket, so the versioning state cannot be "
                                                    "changed.");
        return;
    }
    int rc = meta_bucket_set_versioning(r->gw->meta, r->bucket, want);
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    s3_reply_empty(r, 200);
}

const struct s3_handler h_put_bucket_versioning = {"PutBucketVersioning", NULL, NULL,
                                                   put_versioning_end, NULL};

/* ---- bucket configurations not stored yet ---------------------------- */

/* What S3 answers when a bucket has no such configuration: an empty
 * document, or the "not found" error of that configuration. */
static const struct {
    const char *param;
    const char *root;      /* empty document's root element, or NULL */
    enum s3_err err;
} bucket_configs[] = {
    {"accelerate", "AccelerateConfiguration", S3E_NONE},
    {"logging", "BucketLoggingStatus", S3E_NONE},
    {"notification", "NotificationConfiguration", S3E_NONE},
    {"requestPayment", NULL, S3E_NONE},
    {"publicAccessBlock", NULL, S3E_NO_SUCH_PUBLIC_ACCESS_BLOCK},
    {"replication", NULL, S3E_NO_SUCH_REPLICATION},
    {"website", NULL, S3E_NO_SUCH_WEBSITE},
};

static void bucket_config_end(struct s3_req *r)
{
    if (s3_bucket_access_or_reply(r, NULL) != 0)
        return;
    for (size_t i = 0; i < sizeof bucket_configs / sizeof *bucket_configs; i++) {
        if (!s3_has_param(r, bucket_configs[i].param))
            continue;
        if (bucket_configs[i].err != S3E_NONE) {
            s3_reply_error(r, bucket_configs[i].err, NULL);
            return;
        }
        struct s3_doc d;
        s3_doc_begin(&d, bucket_configs[i].root ? bucket_configs[i].root : "RequestPaymentConfiguration", 4096);
        if (!bucket_configs[i].root)
            xmlw_elem(&d.w, "Payer", "BucketOwner");
        xmlw_close(&d.w);
        s3_doc_reply(r, &d);
        return;
    }
    s3_reply_error(r, S3E_NOT_IMPLEMENTED, NULL);
}

const struct s3_handler h_bucket_config = {"GetBucketConfig", NULL, NULL, bucket_config_end, NULL};
