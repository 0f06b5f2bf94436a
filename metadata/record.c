/* metadata/record.c - see record.h. */
#include "metadata/record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Writer                                                              */

void rec_w_init(struct rec_w *w, size_t max)
{
    buf_init(&w->b, max);
    w->err = 0;
}

void rec_w_release(struct rec_w *w)
{
    buf_release(&w->b);
    w->err = 0;
}

void rec_put_raw(struct rec_w *w, const void *p, size_t n)
{
    if (w->err || n == 0)
        return;
    int rc = buf_append(&w->b, p, n);
    if (rc)
        w->err = rc;
}

void rec_put_u8(struct rec_w *w, uint8_t v)
{
    rec_put_raw(w, &v, 1);
}

void rec_put_header(struct rec_w *w, enum rec_type type)
{
    uint8_t h[2] = {(uint8_t)type, REC_VERSION};
    rec_put_raw(w, h, 2);
}

void rec_put_uvar(struct rec_w *w, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        tmp[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    rec_put_raw(w, tmp, n);
}

void rec_put_ivar(struct rec_w *w, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    rec_put_uvar(w, u);
}

void rec_put_bytes(struct rec_w *w, const void *p, size_t n)
{
    rec_put_uvar(w, n);
    rec_put_raw(w, p, n);
}

void rec_put_str(struct rec_w *w, const char *s)
{
    rec_put_bytes(w, s, s ? strlen(s) : 0);
}

/* ------------------------------------------------------------------ */
/* Reader                                                              */

void rec_r_init(struct rec_r *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->err = 0;
}

static void rec_fail(struct rec_r *r, int err)
{
    if (!r->err)
        r->err = err;
}

static const uint8_t *rec_take(struct rec_r *r, size_t n)
{
    if (r->err)
        return NULL;
    if (n > r->len - r->off) {
        rec_fail(r, META_ECORRUPT);
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

void rec_get_raw(struct rec_r *r, void *dst, size_t n)
{
    const uint8_t *p = rec_take(r, n);
    if (p)
        memcpy(dst, p, n);
    else if (n)
        memset(dst, 0, n);
}

uint8_t rec_get_u8(struct rec_r *r)
{
    const uint8_t *p = rec_take(r, 1);
    return p ? *p : 0;
}

void rec_get_header(struct rec_r *r, enum rec_type type)
{
    uint8_t t = rec_get_u8(r);
    uint8_t v = rec_get_u8(r);
    if (!r->err && (t != (uint8_t)type || v != REC_VERSION))
        rec_fail(r, META_ECORRUPT);
}

uint64_t rec_get_uvar(struct rec_r *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        const uint8_t *p = rec_take(r, 1);
        if (!p)
            return 0;
        uint8_t b = *p;
        /* the 10th byte may only carry the top bit of a 64-bit value */
        if (shift == 63 && (b & 0xfe)) {
            rec_fail(r, META_ECORRUPT);
            return 0;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            /* reject overlong encodings (a final zero byte after the first) */
            if (b == 0 && shift > 0) {
                rec_fail(r, META_ECORRUPT);
                return 0;
            }
            return v;
        }
    }
}

int64_t rec_get_ivar(struct rec_r *r)
{
    uint64_t u = rec_get_uvar(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

const uint8_t *rec_get_bytes(struct rec_r *r, size_t *n, size_t max)
{
    *n = 0;
    uint64_t len = rec_get_uvar(r);
    if (r->err)
        return NULL;
    if (len > max) {
        rec_fail(r, META_ECORRUPT);
        return NULL;
    }
    const uint8_t *p = rec_take(r, (size_t)len);
    if (!p)
        return NULL;
    *n = (size_t)len;
    return len ? p : NULL;
}

void rec_get_str(struct rec_r *r, char *dst, size_t cap)
{
    size_t n;
    const uint8_t *p = rec_get_bytes(r, &n, cap - 1);
    if (r->err || (n && memchr(p, 0, n))) {
        rec_fail(r, META_ECORRUPT);
        dst[0] = 0;
        return;
    }
    if (n)
        memcpy(dst, p, n);
    dst[n] = 0;
}

char *rec_get_strdup(struct rec_r *r, size_t max)
{
    size_t n;
    const uint8_t *p = rec_get_bytes(r, &n, max);
    if (r->err)
        return NULL;
    if (n && memchr(p, 0, n)) {
        rec_fail(r, META_ECORRUPT);
        return NULL;
    }
    char *s = malloc(n + 1);
    if (!s) {
        rec_fail(r, -ENOMEM);
        return NULL;
    }
    if (n)
        memcpy(s, p, n);
    s[n] = 0;
    return s;
}

void rec_get_blob(struct rec_r *r, uint8_t **out, uint32_t *n, size_t max)
{
    size_t len;
    *out = NULL;
    *n = 0;
    if (max > UINT32_MAX)
        max = UINT32_MAX;
    const uint8_t *p = rec_get_bytes(r, &len, max);
    if (r->err || len == 0)
        return;
    uint8_t *c = malloc(len);
    if (!c) {
        rec_fail(r, -ENOMEM);
        return;
    }
    memcpy(c, p, len);
    *out = c;
    *n = (uint32_t)len;
}

void rec_r_fail(struct rec_r *r)
{
    rec_fail(r, META_ECORRUPT);
}

int rec_r_end(const struct rec_r *r)
{
    if (r->err)
        return r->err;
    return r->off == r->len ? 0 : META_ECORRUPT;
}

/* ------------------------------------------------------------------ */
/* Chunk lists                                                         */

void rec_put_chunks(struct rec_w *w, const struct meta_chunk_ref *c, uint32_t n)
{
    rec_put_uvar(w, n);
    for (uint32_t i = 0; i < n; i++) {
        rec_put_raw(w, c[i].id, META_CHUNK_ID_LEN);
        rec_put_uvar(w, c[i].len);
    }
}

void rec_get_chunks(struct rec_r *r, struct meta_chunk_ref **out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    uint64_t cnt = rec_get_uvar(r);
    if (r->err || cnt == 0)
        return;
    /* every entry takes at least 33 bytes: bounds the allocation by the input */
    if (cnt > (r->len - r->off) / (META_CHUNK_ID_LEN + 1)) {
        rec_fail(r, META_ECORRUPT);
        return;
    }
    struct meta_chunk_ref *c = calloc((size_t)cnt, sizeof *c);
    if (!c) {
        rec_fail(r, -ENOMEM);
        return;
    }
    for (uint64_t i = 0; i < cnt; i++) {
        rec_get_raw(r, c[i].id, META_CHUNK_ID_LEN);
        uint64_t len = rec_get_uvar(r);
        if (len > UINT32_MAX)
            rec_fail(r, META_ECORRUPT);
        c[i].len = (uint32_t)len;
    }
    if (r->err) {
        free(c);
        return;
    }
    *out = c;
    *n = (uint32_t)cnt;
}

/* ------------------------------------------------------------------ */
/* Users and buckets                                                   */

void rec_user_encode(struct rec_w *w, const struct meta_user *u)
{
    rec_put_header(w, REC_USER);
    rec_put_str(w, u->name);
    rec_put_str(w, u->access_key);
    rec_put_str(w, u->secret_key);
    rec_put_ivar(w, u->created_ms);
}

int rec_user_decode(const void *p, size_t len, struct meta_user *out)
{
    struct rec_r r;
    struct meta_user u;
    memset(&u, 0, sizeof u);
    rec_r_init(&r, p, len);
    rec_get_header(&r, REC_USER);
    rec_get_str(&r, u.name, sizeof u.name);
    rec_get_str(&r, u.access_key, sizeof u.access_key);
    rec_get_str(&r, u.secret_key, sizeof u.secret_key);
    u.created_ms = rec_get_ivar(&r);
    int rc = rec_r_end(&r);
    if (rc == 0)
        *out = u;
    return rc;
}

void rec_bucket_encode(struct rec_w *w, const struct meta_bucket *b)
{
    rec_put_header(w, REC_BUCKET);
    rec_put_str(w, b->name);
    rec_put_str(w, b->owner);
    rec_put_ivar(w, b->created_ms);
    rec_put_u8(w, b->versioning);
    rec_put_str(w, b->region);
}

int rec_bucket_decode(const void *p, size_t len, struct meta_bucket *out)
{
    struct rec_r r;
    struct meta_bucket b;
    memset(&b, 0, sizeof b);
    rec_r_init(&r, p, len);
    rec_get_header(&r, REC_BUCKET);
    rec_get_str(&r, b.name, sizeof b.name);
    rec_get_str(&r, b.owner, sizeof b.owner);
    b.created_ms = rec_get_ivar(&r);
    b.versioning = rec_get_u8(&r);
    rec_get_str(&r, b.region, sizeof b.region);
    int rc = rec_r_end(&r);
    if (rc == 0 && b.versioning > META_VERSIONING_SUSPENDED)
        rc = META_ECORRUPT;
    if (rc == 0)
        *out = b;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Chunks                                                              */

void rec_chunk_encode(struct rec_w *w, const struct meta_chunk *c)
{
    rec_put_header(w, REC_CHUNK);
    rec_put_uvar(w, c->len);
    rec_put_uvar(w, c->refcount);
    rec_put_ivar(w, c->zero_since_ms);
    rec_put_bytes(w, c->placement, c->placement_len);
}

int rec_chunk_decode(const void *p, size_t len, struct meta_chunk *out)
{
    struct rec_r r;
    rec_r_init(&r, p, len);
    rec_get_header(&r, REC_CHUNK);
    uint64_t clen = rec_get_uvar(&r);
    uint64_t refs = rec_get_uvar(&r);
    int64_t zs = rec_get_ivar(&r);
    size_t plen;
    const uint8_t *pl = rec_get_bytes(&r, &plen, META_PLACEMENT_MAX);
    int rc = rec_r_end(&r);
    if (rc == 0 && clen > UINT32_MAX)
        rc = META_ECORRUPT;
    if (rc)
        return rc;
    out->len = (uint32_t)clen;
    out->refcount = refs;
    out->zero_since_ms = zs;
    out->placement_len = (uint16_t)plen;
    memset(out->placement, 0, sizeof out->placement);
    if (plen)
        memcpy(out->placement, pl, plen);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Object versions                                                     */

void rec_object_body_encode(struct rec_w *w, const struct meta_object *o)
{
    rec_put_str(w, o->version_id);
    rec_put_uvar(w, o->flags);
    rec_put_ivar(w, o->mtime_ms);
    rec_put_uvar(w, o->size);
    rec_put_str(w, o->etag);
    rec_put_bytes(w, o->attrs, o->attrs_len);
    rec_put_bytes(w, o->inline_data, o->inline_len);
    rec_put_chunks(w, o->chunks, o->nchunks);
}

static void rec_object_head_fields(struct rec_r *r, struct rec_object_head *h)
{
    rec_get_str(r, h->version_id, sizeof h->version_id);
    uint64_t flags = rec_get_uvar(r);
    if (flags > UINT32_MAX)
        rec_fail(r, META_ECORRUPT);
    h->flags = (uint32_t)flags;
    h->mtime_ms = rec_get_ivar(r);
    h->size = rec_get_uvar(r);
    rec_get_str(r, h->etag, sizeof h->etag);
}

void rec_object_body_decode(struct rec_r *r, struct meta_object *o)
{
    struct rec_object_head h;
    memset(o, 0, sizeof *o);
    rec_object_head_fields(r, &h);
    memcpy(o->version_id, h.version_id, sizeof o->version_id);
    o->flags = h.flags;
    o->mtime_ms = h.mtime_ms;
    o->size = h.size;
    memcpy(o->etag, h.etag, sizeof o->etag);
    rec_get_blob(r, &o->attrs, &o->attrs_len, META_ATTRS_MAX);
    rec_get_blob(r, &o->inline_data, &o->inline_len, META_INLINE_MAX);
    rec_get_chunks(r, &o->chunks, &o->nchunks);
}

void rec_object_encode(struct rec_w *w, const struct meta_object *o)
{
    rec_put_header(w, REC_OBJECT);
    rec_object_body_encode(w, o);
}

int rec_object_decode(const void *p, size_t len, struct meta_object *out)
{
    struct rec_r r;
    struct meta_object o;
    rec_r_init(&r, p, len);
    rec_get_header(&r, REC_OBJECT);
    rec_object_body_decode(&r, &o);
    int rc = rec_r_end(&r);
    if (rc) {
        meta_object_release(&o);
        return rc;
    }
    *out = o;
    return 0;
}

int rec_object_decode_head(const void *p, size_t len, struct rec_object_head *out)
{
    struct rec_r r;
    struct rec_object_head h;
    rec_r_init(&r, p, len);
    rec_get_header(&r, REC_OBJECT);
    rec_object_head_fields(&r, &h);
    if (r.err)
        return r.err;
    *out = h;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Uploads and parts                                                   */

void rec_upload_encode(struct rec_w *w, const struct meta_upload *u)
{
    rec_put_header(w, REC_UPLOAD);
    rec_put_str(w, u->upload_id);
    rec_put_ivar(w, u->initiated_ms);
    rec_put_bytes(w, u->attrs, u->attrs_len);
}

int rec_upload_decode(const void *p, size_t len, struct meta_upload *out)
{
    struct rec_r r;
    struct meta_upload u;
    memset(&u, 0, sizeof u);
    rec_r_init(&r, p, len);
    rec_get_header(&r, REC_UPLOAD);
    rec_get_str(&r, u.upload_id, sizeof u.upload_id);
    u.initiated_ms = rec_get_ivar(&r);
    rec_get_blob(&r, &u.attrs, &u.attrs_len, META_ATTRS_MAX);
    int rc = rec_r_end(&r);
    if (rc) {
        free(u.attrs);
        return rc;
    }
    *out = u;
    return 0;
}

void rec_upload_ref_encode(struct rec_w *w, const char *bucket, const char *key)
{
    rec_put_header(w, REC_UPLOAD_REF);
    rec_put_str(w, bucket);
    rec_put_str(w, key);
}

int rec_upload_ref_decode(const void *p, size_t len, char bucket[META_NAME_MAX], char *key)
{
    struct rec_r r;
    rec_r_init(&r, p, len);
    rec_get_header(&r, REC_UPLOAD_REF);
    rec_get_str(&r, bucket, META_NAME_MAX);
    rec_get_str(&r, key, META_KEY_MAX + 1);
    return rec_r_end(&r);
}

void rec_part_body_encode(struct rec_w *w, const struct meta_part *p)
{
    rec_put_uvar(w, p->part_number);
    rec_put_uvar(w, p->size);
    rec_put_str(w, p->etag);
    rec_put_ivar(w, p->mtime_ms);
    rec_put_bytes(w, p->attrs, p->attrs_len);
    rec_put_chunks(w, p->chunks, p->nchunks);
}

void rec_part_body_decode(struct rec_r *r, struct meta_part *p)
{
    memset(p, 0, sizeof *p);
    uint64_t num = rec_get_uvar(r);
    if (num > UINT32_MAX)
        rec_fail(r, META_ECORRUPT);
    p->part_number = (uint32_t)num;
    p->size = rec_get_uvar(r);
    rec_get_str(r, p->etag, sizeof p->etag);
    p->mtime_ms = rec_get_ivar(r);
    rec_get_blob(r, &p->attrs, &p->attrs_len, META_ATTRS_MAX);
    rec_get_chunks(r, &p->chunks, &p->nchunks);
}

void rec_part_encode(struct rec_w *w, const struct meta_part *p)
{
    rec_put_header(w, REC_PART);
    rec_part_body_encode(w, p);
}

int rec_part_decode(const void *p, size_t len, struct meta_part *out)
{
    struct rec_r r;
    struct meta_part part;
    rec_r_init(&r, p, len);
    rec_get_header(&r, REC_PART);
    rec_part_body_decode(&r, &part);
    int rc = rec_r_end(&r);
    if (rc) {
        meta_part_release(&part);
        return rc;
    }
    *out = part;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Changes                                                             */

void rec_change_encode(struct rec_w *w, const struct meta_change *c)
{
    rec_put_header(w, REC_CHANGE);
    rec_put_u8(w, c->op);
    rec_put_str(w, c->key);
    rec_put_str(w, c->version_id);
    rec_put_str(w, c->etag);
    rec_put_uvar(w, c->size);
    rec_put_ivar(w, c->mtime_ms);
}

int rec_change_decode(const void *p, size_t len, struct meta_change *out)
{
    struct rec_r r;
    struct meta_change c;
    memset(&c, 0, sizeof c);
    rec_r_init(&r, p, len);
    rec_get_header(&r, REC_CHANGE);
    c.op = rec_get_u8(&r);
    c.key = rec_get_strdup(&r, META_KEY_MAX);
    rec_get_str(&r, c.version_id, sizeof c.version_id);
    rec_get_str(&r, c.etag, sizeof c.etag);
    c.size = rec_get_uvar(&r);
    c.mtime_ms = rec_get_ivar(&r);
    int rc = rec_r_end(&r);
    if (rc) {
        free(c.key);
        return rc;
    }
    c.seq = out->seq; /* the key carries it; keep what the caller set */
    *out = c;
    return 0;
}
