/* bench/bench_list.c - ListObjectsV2 queries and responses for the list
 * benchmark. */
#include "bench/bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/uri.h"
#include "common/xml.h"

static int query_pair(struct buf *out, const char *name, const char *value)
{
    int rc;
    if (out->len && (rc = buf_append(out, "&", 1)) < 0)
        return rc;
    if ((rc = buf_puts(out, name)) < 0 || (rc = buf_append(out, "=", 1)) < 0)
        return rc;
    return uri_encode(out, value, strlen(value), 0);
}

int bench_list_query(const struct bench_opts *o, const char *token, struct buf *out)
{
    char max_keys[16];
    size_t mark = out->len;
    int rc;

    snprintf(max_keys, sizeof max_keys, "%u", o->max_keys);
    /* in SigV4's canonical (sorted) order, though the signer sorts anyway */
    if (token && *token && (rc = query_pair(out, "continuation-token", token)) < 0)
        goto out;
    if (o->delimiter && *o->delimiter && (rc = query_pair(out, "delimiter", o->delimiter)) < 0)
        goto out;
    if ((rc = query_pair(out, "list-type", "2")) < 0 || (rc = query_pair(out, "max-keys", max_keys)) < 0)
        goto out;
    if (o->prefix && *o->prefix && (rc = query_pair(out, "prefix", o->prefix)) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}

int bench_list_parse(const char *body, size_t len, uint64_t *keys, struct buf *token)
{
    struct xml_doc *doc = NULL;
    int rc = -1;

    buf_reset(token);
    if (xml_parse(body, len, &doc) != 0)
        goto out;
    struct xml_node *root = xml_root(doc);
    if (!root || strcmp(root->name, "ListBucketResult") != 0)
        goto out;

    const char *kc = xml_child_text(root, "KeyCount", NULL);
    uint64_t n = 0;
    if (kc && *kc) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(kc, &end, 10);
        if (errno || *end)
            goto out;
        n = v;
    } else {
        for (struct xml_node *c = xml_child(root, "Contents"); c; c = xml_next_named(c, "Contents"))
            n++;
        for (struct xml_node *c = xml_child(root, "CommonPrefixes"); c;
             c = xml_next_named(c, "CommonPrefixes"))
            n++;
    }
    if (strcmp(xml_child_text(root, "IsTruncated", "false"), "true") == 0) {
        const char *t = xml_child_text(root, "NextContinuationToken", "");
        if (!*t || buf_puts(token, t) < 0)
            goto out; /* truncated without a usable token: cannot go on */
    }
    *keys = n;
    rc = 0;
out:
    xml_doc_free(doc);
    return rc;
}
