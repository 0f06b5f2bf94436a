/*
 * gateway/s3_acl.c - canned ACLs: x-amz-acl on CreateBucket, PutObject,
 * CopyObject and CreateMultipartUpload, GetBucketAcl / GetObjectAcl,
 * PutBucketAcl / PutObjectAcl.
 *
 * cairn keeps ACLs as S3 keeps them on a bucket whose Object Ownership is
 * BucketOwnerEnforced - the owner has full control of every object - with
 * one addition: the canned ACLs public-read, public-read-write and
 * authenticated-read, which s3_access.c evaluates beside the bucket
 * policy.  A bucket's is the configuration S3_CONFIG_ACL, an object
 * version's the attrs entry S3_ATTR_ACL; "private" is their absence.
 * Grants to anyone else (x-amz-grant-* headers, other grantees in an
 * AccessControlPolicy body) are AccessControlListNotSupported, as S3
 * answers them with ACLs disabled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xml.h"
#include "gateway/s3_internal.h"

#define ALL_USERS "http://acs.amazonaws.com/groups/global/AllUsers"
#define AUTH_USERS "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

static const char *const grant_headers[] = {
    "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
    "x-amz-grant-full-control", NULL,
};

/* A canned ACL name as cairn stores it; NULL if cairn keeps no such ACL
 * (*known says whether S3 has it at all). */
static const char *canned_name(const char *v, int *known)
{
    static const char *const kept[] = {"public-read", "public-read-write", "authenticated-read",
                                       NULL};
    *known = 1;
    if (strcmp(v, "private") == 0 || strcmp(v, "bucket-owner-full-control") == 0 ||
        strcmp(v, "bucket-owner-read") == 0)
        return "private";
    for (int i = 0; kept[i]; i++)
        if (strcmp(v, kept[i]) == 0)
            return kept[i];
    *known = strcmp(v, "aws-exec-read") == 0 || strcmp(v, "log-delivery-write") == 0;
    return NULL;
}

int s3_acl_canned_or_reply(struct s3_req *r, const char **acl)
{
    for (int i = 0; grant_headers[i]; i++) {
        if (s3_header(r, grant_headers[i])) {
            s3_reply_error(r, S3E_ACL_NOT_SUPPORTED, NULL);
            return -1;
        }
    }
    const char *v = s3_header(r, "x-amz-acl");
    int known;
    const char *name = v ? canned_name(v, &known) : "private";
    if (!name) {
        s3_reply_error(r, known ? S3E_ACL_NOT_SUPPORTED : S3E_INVALID_ARGUMENT, NULL);
        return -1;
    }
    *acl = name;
    return 0;
}

/* attrs without its S3_ATTR_ACL entry, plus one for acl unless private. */
static int attrs_with_acl(const uint8_t *attrs, uint32_t len, const char *acl, struct buf *out)
{
    const char *n, *v;
    int rc = 0;
    for (uint32_t pos = 0; rc == 0 && s3_attrs_next(attrs, len, &pos, &n, &v);)
        if (strcmp(n, S3_ATTR_ACL) != 0)
            rc = s3_attrs_add(out, n, v);
    if (rc == 0 && strcmp(acl, "private") != 0)
        rc = s3_attrs_add(out, S3_ATTR_ACL, acl);
    return rc;
}

int s3_acl_apply_or_reply(struct s3_req *r, struct buf *attrs)
{
    const char *acl;
    struct buf out;
    if (s3_acl_canned_or_reply(r, &acl) != 0)
        return -1;
    /* making an object public is s3:PutObjectAcl, as on S3, not only a write */
    if (strcmp(acl, "private") != 0 &&
        s3_access_or_reply(r, r->bucket, r->key, "s3:PutObjectAcl", NULL, NULL) != 0)
        return -1;
    buf_init(&out, attrs->max);
    if (attrs_with_acl((const uint8_t *)attrs->data, (uint32_t)attrs->len, acl, &out) != 0) {
        buf_release(&out);
        s3_reply_error(r, S3E_METADATA_TOO_LARGE, NULL);
        return -1;
    }
    buf_release(attrs);
    *attrs = out;
    return 0;
}

/* ---- GetBucketAcl / GetObjectAcl -------------------------------------- */

static void grant(struct xml_writer *w, const char *type, const char *id, const char *perm)
{
    const char *attrs[] = {"xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance", "xsi:type",
                           type, NULL};
    xmlw_open(w, "Grant");
    xmlw_open_attrs(w, "Grantee", attrs);
    if (strcmp(type, "Group") == 0) {
        xmlw_elem(w, "URI", id);
    } else {
        xmlw_elem(w, "ID", id);
        xmlw_elem(w, "DisplayName", id);
    }
    xmlw_close(w);
    xmlw_elem(w, "Permission", perm);
    xmlw_close(w);
}

static void acl_end(struct s3_req *r)
{
    struct meta_bucket b;
    char acl[32] = "private";
    if (s3_bucket_access_or_reply(r, &b) != 0)
        return;
    if (r->key) {
        struct meta_object o;
        if (s3_object_or_reply(r, &o) != 0)
            return;
        const char *v = s3_attrs_get(o.attrs, o.attrs_len, S3_ATTR_ACL);
        snprintf(acl, sizeof acl, "%s", v ? v : "private");
        meta_object_release(&o);
    } else {
        void *data = NULL;
        size_t len = 0;
        int rc = meta_bucket_config_get(r->gw->meta, r->bucket, S3_CONFIG_ACL, &data, &len);
        if (rc && rc != META_ENOTFOUND) {
            s3_reply_rc(r, rc);
            return;
        }
        if (rc == 0)
            snprintf(acl, sizeof acl, "%.*s", (int)(len < sizeof acl ? len : sizeof acl - 1),
                     (const char *)data);
        free(data);
    }
    struct s3_doc d;
    s3_doc_begin(&d, "AccessControlPolicy", 4096);
    xmlw_open(&d.w, "Owner");
    xmlw_elem(&d.w, "ID", b.owner);
    xmlw_elem(&d.w, "DisplayName", b.owner);
    xmlw_close(&d.w);
    xmlw_open(&d.w, "AccessControlList");
    grant(&d.w, "CanonicalUser", b.owner, "FULL_CONTROL");
    if (strcmp(acl, "public-read") == 0 || strcmp(acl, "public-read-write") == 0)
        grant(&d.w, "Group", ALL_USERS, "READ");
    if (strcmp(acl, "public-read-write") == 0)
        grant(&d.w, "Group", ALL_USERS, "WRITE");
    if (strcmp(acl, "authenticated-read") == 0)
        grant(&d.w, "Group", AUTH_USERS, "READ");
    xmlw_close(&d.w);
    xmlw_close(&d.w);
    s3_doc_reply(r, &d);
}

const struct s3_handler h_get_acl = {"GetAcl", NULL, NULL, acl_end, NULL};

/* ---- PutBucketAcl / PutObjectAcl --------------------------------------- */

/* The canned ACL an AccessControlPolicy body amounts to, or NULL when it
 * grants what no canned ACL does (or is not one). */
static const char *acl_from_body(struct s3_req *r, const char *owner, enum s3_err *err)
{
    struct xml_doc *doc = NULL;
    const char *acl = NULL;
    int all_read = 0, all_write = 0, auth_read = 0, other = 0;
    if (xml_parse(r->body.data, r->body.len, &doc) != 0 ||
        strcmp(xml_root(doc)->name, "AccessControlPolicy") != 0) {
        *err = S3E_MALFORMED_XML;
        goto out;
    }
    const struct xml_node *list = xml_child(xml_root(doc), "AccessControlList");
    for (const struct xml_node *g = xml_child(list, "Grant"); g; g = xml_next_named(g, "Grant")) {
        const struct xml_node *who = xml_child(g, "Grantee");
        const char *perm = xml_child_text(g, "Permission", "");
        const char *uri = xml_child_text(who, "URI", "");
        if (strcmp(xml_child_text(who, "ID", ""), owner) == 0 && strcmp(perm, "FULL_CONTROL") == 0)
            continue;
        if (strcmp(uri, ALL_USERS) == 0 && strcmp(perm, "READ") == 0)
            all_read = 1;
        else if (strcmp(uri, ALL_USERS) == 0 && strcmp(perm, "WRITE") == 0)
            all_write = 1;
        else if (strcmp(uri, AUTH_USERS) == 0 && strcmp(perm, "READ") == 0)
            auth_read = 1;
        else
            other = 1;
    }
    *err = S3E_ACL_NOT_SUPPORTED;
    if (other || (all_write && !all_read) || (auth_read && all_read))
        goto out;
    *err = S3E_NONE;
    acl = all_write ? "public-read-write" : all_read ? "public-read" : auth_read ? "authenticated-read"
                                                                           : "private";
out:
    xml_doc_free(doc);
    return acl;
}

/* A version's attrs with the canned ACL arg (a string) in place of its own. */
static enum s3_err acl_edit(void *arg, const uint8_t *attrs, uint32_t len, struct buf *out)
{
    return attrs_with_acl(attrs, len, arg, out) ? S3E_METADATA_TOO_LARGE : S3E_NONE;
}

static void put_acl_end(struct s3_req *r)
{
    struct meta_bucket b;
    const char *acl;
    int rc;
    if (s3_bucket_access_or_reply(r, &b) != 0)
        return;
    if (r->key && s3_object_or_reply(r, NULL) != 0)
        return; /* before the body is judged: NoSuchKey wins, as on S3 */
    if (s3_acl_canned_or_reply(r, &acl) != 0)
        return;
    if (r->body.len && !s3_header(r, "x-amz-acl")) {
        enum s3_err e;
        acl = acl_from_body(r, b.owner, &e);
        if (!acl) {
            s3_reply_error(r, e, NULL);
            return;
        }
    }
    if (r->key) {
        s3_object_attrs_update_or_reply(r, acl_edit, (void *)acl, 200);
        return;
    }
    rc = meta_bucket_config_set(r->gw->meta, r->bucket, S3_CONFIG_ACL, acl,
                                strcmp(acl, "private") == 0 ? 0 : strlen(acl));
    if (rc) {
        s3_reply_rc(r, rc);
        return;
    }
    s3_reply_empty(r, 200);
}

const struct s3_handler h_put_acl = {"PutAcl", NULL, NULL, put_acl_end, NULL};
