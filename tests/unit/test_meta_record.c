/* Unit tests for metadata/record and metadata/meta_cmd: every record and
 * command round-trips, and every truncation or trailing byte is
 * META_ECORRUPT (never a crash or a silently short record). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metadata/meta_cmd.h"
#include "metadata/record.h"

typedef int (*decode_fn)(const void *p, size_t len, void *out);

/* Every proper prefix and one byte of trailing garbage must be rejected. */
static void check_truncations(const uint8_t *p, size_t len, int (*dec)(const uint8_t *, size_t))
{
    for (size_t i = 0; i < len; i++)
        assert_int_equal(dec(p, i), META_ECORRUPT);
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, p, len);
    longer[len] = 0;
    assert_int_equal(dec(longer, len + 1), META_ECORRUPT);
    /* wrong type and wrong version */
    memcpy(longer, p, len);
    longer[0] ^= 0x20;
    assert_int_equal(dec(longer, len), META_ECORRUPT);
    memcpy(longer, p, len);
    longer[1] = REC_VERSION + 1;
    assert_int_equal(dec(longer, len), META_ECORRUPT);
    free(longer);
}

static int dec_user(const uint8_t *p, size_t n)
{
    struct meta_user u;
    return rec_user_decode(p, n, &u);
}

static int dec_bucket(const uint8_t *p, size_t n)
{
    struct meta_bucket b;
    return rec_bucket_decode(p, n, &b);
}

static int dec_chunk(const uint8_t *p, size_t n)
{
    struct meta_chunk c;
    return rec_chunk_decode(p, n, &c);
}

static int dec_object(const uint8_t *p, size_t n)
{
    struct meta_object o;
    int rc = rec_object_decode(p, n, &o);
    if (rc == 0)
        meta_object_release(&o);
    return rc;
}

static int dec_upload(const uint8_t *p, size_t n)
{
    struct meta_upload u;
    int rc = rec_upload_decode(p, n, &u);
    if (rc == 0)
        meta_upload_release(&u);
    return rc;
}

static int dec_part(const uint8_t *p, size_t n)
{
    struct meta_part x;
    int rc = rec_part_decode(p, n, &x);
    if (rc == 0)
        meta_part_release(&x);
    return rc;
}

static int dec_change(const uint8_t *p, size_t n)
{
    struct meta_change c = {0};
    int rc = rec_change_decode(p, n, &c);
    if (rc == 0)
        free(c.key);
    return rc;
}

static int dec_cmd(const uint8_t *p, size_t n)
{
    struct meta_cmd *c;
    int rc = meta_cmd_decode(p, n, &c);
    if (rc == 0)
        meta_cmd_free(c);
    return rc;
}

static void user_eq(const struct meta_user *a, const struct meta_user *b)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->access_key, b->access_key);
    assert_string_equal(a->secret_key, b->secret_key);
    assert_int_equal(a->created_ms, b->created_ms);
}

static void bucket_eq(const struct meta_bucket *a, const struct meta_bucket *b)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->owner, b->owner);
    assert_string_equal(a->region, b->region);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->versioning, b->versioning);
}

static void chunk_eq(const struct meta_chunk *a, const struct meta_chunk *b)
{
    assert_memory_equal(a->id, b->id, META_CHUNK_ID_LEN);
    assert_int_equal(a->len, b->len);
    assert_true(a->refcount == b->refcount);
    assert_int_equal(a->zero_since_ms, b->zero_since_ms);
    assert_int_equal(a->placement_len, b->placement_len);
    assert_memory_equal(a->placement, b->placement, a->placement_len);
}

static void test_varints(void **state)
{
    (void)state;
    static const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        struct rec_w w;
        rec_w_init(&w, 64);
        rec_put_uvar(&w, vals[i]);
        rec_put_ivar(&w, (int64_t)vals[i]);
        rec_put_ivar(&w, -(int64_t)(vals[i] >> 1));
        assert_int_equal(rec_w_error(&w), 0);
        struct rec_r r;
        rec_r_init(&r, rec_w_data(&w), rec_w_len(&w));
        assert_true(rec_get_uvar(&r) == vals[i]);
        assert_true(rec_get_ivar(&r) == (int64_t)vals[i]);
        assert_true(rec_get_ivar(&r) == -(int64_t)(vals[i] >> 1));
        assert_int_equal(rec_r_end(&r), 0);
        rec_w_release(&w);
    }
    /* overlong: 0x80 0x00 encodes 0 in two bytes */
    struct rec_r r;
    rec_r_init(&r, "\x80\x00", 2);
    rec_get_uvar(&r);
    assert_int_equal(rec_r_end(&r), META_ECORRUPT);
    /* 11 bytes / overflow in the 10th byte */
    rec_r_init(&r, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
    rec_get_uvar(&r);
    assert_int_equal(rec_r_end(&r), META_ECORRUPT);
    rec_r_init(&r, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
    assert_true(rec_get_uvar(&r) == UINT64_MAX);
    assert_int_equal(rec_r_end(&r), 0);
    /* a string with a NUL inside, and one too long for its buffer */
    char s[4];
    rec_r_init(&r, "\x02" "a\0", 3);
    rec_get_str(&r, s, sizeof s);
    assert_int_equal(rec_r_end(&r), META_ECORRUPT);
    rec_r_init(&r, "\x04" "abcd", 5);
    rec_get_str(&r, s, sizeof s);
    assert_int_equal(rec_r_end(&r), META_ECORRUPT);
    rec_r_init(&r, "\x03" "abc", 4);
    rec_get_str(&r, s, sizeof s);
    assert_int_equal(rec_r_end(&r), 0);
    assert_string_equal(s, "abc");
    /* the writer's cap */
    struct rec_w w;
    rec_w_init(&w, 4);
    rec_put_raw(&w, "abcde", 5);
    assert_int_equal(rec_w_error(&w), -ENOSPC);
    rec_w_release(&w);
}

static void fill_chunks(struct meta_chunk_ref *c, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        for (int j = 0; j < META_CHUNK_ID_LEN; j++)
            c[i].id[j] = (uint8_t)(i * 31 + j);
        c[i].len = i * 1000003u;
    }
}

static void test_records(void **state)
{
    (void)state;
    struct rec_w w;

    /* user */
    struct meta_user u = {.created_ms = -5}, u2;
    strcpy(u.name, "alice");
    memset(u.access_key, 'A', 128);
    strcpy(u.secret_key, "s3cr3t");
    rec_w_init(&w, REC_MAX);
    rec_user_encode(&w, &u);
    assert_int_equal(rec_w_error(&w), 0);
    assert_int_equal(rec_user_decode(rec_w_data(&w), rec_w_len(&w), &u2), 0);
    user_eq(&u, &u2);
    check_truncations(rec_w_data(&w), rec_w_len(&w), dec_user);
    rec_w_release(&w);

    /* bucket (and a bad versioning value) */
    struct meta_bucket b = {.created_ms = 1700000000000, .versioning = META_VERSIONING_SUSPENDED}, b2;
    strcpy(b.name, "my.bucket-1");
    strcpy(b.owner, "alice");
    strcpy(b.region, "us-east-1");
    rec_w_init(&w, REC_MAX);
    rec_bucket_encode(&w, &b);
    assert_int_equal(rec_bucket_decode(rec_w_data(&w), rec_w_len(&w), &b2), 0);
    bucket_eq(&b, &b2);
    check_truncations(rec_w_data(&w), rec_w_len(&w), dec_bucket);
    rec_w_release(&w);
    b.versioning = 7;
    rec_w_init(&w, REC_MAX);
    rec_bucket_encode(&w, &b);
    assert_int_equal(rec_bucket_decode(rec_w_data(&w), rec_w_len(&w), &b2), META_ECORRUPT);
    rec_w_release(&w);

    /* chunk */
    struct meta_chunk c = {.len = 4u << 20, .refcount = 123456789012ull, .zero_since_ms = 42, .placement_len = META_PLACEMENT_MAX}, c2;
    memset(c.id, 0xab, sizeof c.id);
    for (int i = 0; i < META_PLACEMENT_MAX; i++)
        c.placement[i] = (uint8_t)i;
    memcpy(c2.id, c.id, sizeof c.id);
    rec_w_init(&w, REC_MAX);
    rec_chunk_encode(&w, &c);
    assert_int_equal(rec_chunk_decode(rec_w_data(&w), rec_w_len(&w), &c2), 0);
    chunk_eq(&c, &c2);
    check_truncations(rec_w_data(&w), rec_w_len(&w), dec_chunk);
    rec_w_release(&w);

    /* object version with everything */
    struct meta_chunk_ref refs[5];
    fill_chunks(refs, 5);
    uint8_t attrs[300], inl[1000];
    for (size_t i = 0; i < sizeof attrs; i++)
        attrs[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < sizeof inl; i++)
        inl[i] = (uint8_t)(i * 13);
    struct meta_object o = {.key = "ignored", .mtime_ms = 1234, .size = 5ull << 40, .flags = 0,
                            .attrs = attrs, .attrs_len = sizeof attrs, .inline_data = inl,
                            .inline_len = sizeof inl, .chunks = refs, .nchunks = 5}, o2;
    strcpy(o.version_id, "0123456789abcdef0123456789abcdef");
    strcpy(o.etag, "d41d8cd98f00b204e9800998ecf8427e-10000");
    rec_w_init(&w, REC_MAX);
    rec_object_encode(&w, &o);
    assert_int_equal(rec_object_decode(rec_w_data(&w), rec_w_len(&w), &o2), 0);
    assert_null(o2.key);
    assert_string_equal(o2.version_id, o.version_id);
    assert_string_equal(o2.etag, o.etag);
    assert_true(o2.size == o.size);
    assert_int_equal(o2.mtime_ms, 1234);
    assert_int_equal(o2.attrs_len, sizeof attrs);
    assert_memory_equal(o2.attrs, attrs, sizeof attrs);
    assert_int_equal(o2.inline_len, sizeof inl);
    assert_memory_equal(o2.inline_data, inl, sizeof inl);
    assert_int_equal(o2.nchunks, 5);
    assert_memory_equal(o2.chunks, refs, sizeof refs);
    meta_object_release(&o2);
    struct rec_object_head h;
    assert_int_equal(rec_object_decode_head(rec_w_data(&w), rec_w_len(&w), &h), 0);
    assert_string_equal(h.etag, o.etag);
    assert_true(h.size == o.size);
    check_truncations(rec_w_data(&w), rec_w_len(&w), dec_object);
    rec_w_release(&w);

    /* upload, upload reference, part */
    struct meta_upload up = {.key = "k", .initiated_ms = 99, .attrs = attrs, .attrs_len = 10}, up2;
    strcpy(up.upload_id, "u-123");
    rec_w_init(&w, REC_MAX);
    rec_upload_encode(&w, &up);
    assert_int_equal(rec_upload_decode(rec_w_data(&w), rec_w_len(&w), &up2), 0);
    assert_string_equal(up2.upload_id, "u-123");
    assert_int_equal(up2.initiated_ms, 99);
    assert_int_equal(up2.attrs_len, 10);
    assert_memory_equal(up2.attrs, attrs, 10);
    meta_upload_release(&up2);
    check_truncations(rec_w_data(&w), rec_w_len(&w), dec_upload);
    rec_w_release(&w);

    char bk[META_NAME_MAX], key[META_KEY_MAX + 1];
    rec_w_init(&w, REC_MAX);
    rec_upload_ref_encode(&w, "bkt", "some/key");
    assert_int_equal(rec_upload_ref_decode(rec_w_data(&w), rec_w_len(&w), bk, key), 0);
    assert_string_equal(bk, "bkt");
    assert_string_equal(key, "some/key");
    rec_w_release(&w);

    struct meta_part p = {.part_number = 10000, .size = 5u << 20, .mtime_ms = 7, .chunks = refs, .nchunks = 3}, p2;
    strcpy(p.etag, "abc");
    rec_w_init(&w, REC_MAX);
    rec_part_encode(&w, &p);
    assert_int_equal(rec_part_decode(rec_w_data(&w), rec_w_len(&w), &p2), 0);
    assert_int_equal(p2.part_number, 10000);
    assert_int_equal(p2.nchunks, 3);
    assert_memory_equal(p2.chunks, refs, 3 * sizeof refs[0]);
    assert_null(p2.attrs);
    meta_part_release(&p2);
    check_truncations(rec_w_data(&w), rec_w_len(&w), dec_part);
    rec_w_release(&w);

    /* change */
    struct meta_change ch = {.op = META_CHANGE_DELETE, .key = "a/b/c", .size = 77, .mtime_ms = 88}, ch2 = {.seq = 5};
    strcpy(ch.version_id, "null");
    strcpy(ch.etag, "e");
    rec_w_init(&w, REC_MAX);
    rec_change_encode(&w, &ch);
    assert_int_equal(rec_change_decode(rec_w_data(&w), rec_w_len(&w), &ch2), 0);
    assert_int_equal(ch2.seq, 5);
    assert_int_equal(ch2.op, META_CHANGE_DELETE);
    assert_string_equal(ch2.key, "a/b/c");
    assert_string_equal(ch2.version_id, "null");
    assert_int_equal(ch2.size, 77);
    free(ch2.key);
    check_truncations(rec_w_data(&w), rec_w_len(&w), dec_change);
    rec_w_release(&w);
}

/* A chunk count larger than the remaining bytes could hold is refused
 * before anything is allocated. */
static void test_chunk_count_bound(void **state)
{
    (void)state;
    struct rec_r r;
    struct meta_chunk_ref *c;
    uint32_t n;
    rec_r_init(&r, "\xff\xff\xff\xff\x0f", 5);
    rec_get_chunks(&r, &c, &n);
    assert_null(c);
    assert_int_equal(rec_r_end(&r), META_ECORRUPT);
}

static void test_commands(void **state)
{
    (void)state;
    struct rec_w w;
    struct meta_cmd *c;
    struct meta_chunk_ref refs[4];
    fill_chunks(refs, 4);
    uint8_t id[META_CHUNK_ID_LEN];
    memset(id, 7, sizeof id);

    /* object put with preconditions */
    struct meta_object o = {.key = "dir/file.txt", .mtime_ms = 1, .size = 10, .chunks = refs, .nchunks = 4,
                            .inline_data = (uint8_t *)"hi", .inline_len = 2};
    strcpy(o.version_id, "v1");
    strcpy(o.etag, "etag1");
    struct meta_precond pc = {.if_none_match_star = 1, .if_match_etag = "abc", .if_version_id = ""};
    rec_w_init(&w, REC_MAX);
    meta_cmd_object_put(&w, 12345, "bkt", &o, &pc);
    assert_int_equal(meta_cmd_decode(rec_w_data(&w), rec_w_len(&w), &c), 0);
    assert_int_equal(c->op, META_CMD_OBJECT_PUT);
    assert_int_equal(c->now_ms, 12345);
    assert_string_equal(c->bucket, "bkt");
    assert_string_equal(c->obj.key, "dir/file.txt");
    assert_int_equal(c->obj.nchunks, 4);
    assert_memory_equal(c->obj.chunks, refs, sizeof refs);
    assert_int_equal(c->obj.inline_len, 2);
    assert_true(c->pc.if_none_match_star);
    assert_string_equal(c->pc.if_match_etag, "abc");
    assert_string_equal(c->pc.if_version_id, "");
    meta_cmd_free(c);
    check_truncations(rec_w_data(&w), rec_w_len(&w), dec_cmd);
    rec_w_release(&w);

    /* delete: absent vs empty optional strings */
    rec_w_init(&w, REC_MAX);
    meta_cmd_object_delete(&w, -1, "bkt", "k", NULL, "m1", NULL);
    assert_int_equal(meta_cmd_decode(rec_w_data(&w), rec_w_len(&w), &c), 0);
    assert_int_equal(c->has_version_id, 0);
    assert_int_equal(c->has_marker, 1);
    assert_string_equal(c->marker_version_id, "m1");
    assert_int_equal(c->now_ms, -1);
    assert_false(c->pc.if_match_star || c->pc.if_match_etag || c->pc.has_if_size ||
                 c->pc.has_if_mtime);
    meta_cmd_free(c);
    check_truncations(rec_w_data(&w), rec_w_len(&w), dec_cmd);
    rec_w_release(&w);

    /* conditional delete: every condition round trips */
    struct meta_precond dpc = {.if_match_star = 1, .if_match_etag = "e1", .has_if_size = 1,
                               .if_size = UINT64_MAX, .has_if_mtime = 1, .if_mtime_s = -5};
    rec_w_init(&w, REC_MAX);
    meta_cmd_object_delete(&w, 7, "bkt", "k", "v1", NULL, &dpc);
    assert_int_equal(meta_cmd_decode(rec_w_data(&w), rec_w_len(&w), &c), 0);
    assert_string_equal(c->version_id, "v1");
    assert_true(c->pc.if_match_star);
    assert_string_equal(c->pc.if_match_etag, "e1");
    assert_null(c->pc.if_version_id);
    assert_true(c->pc.has_if_size);
    assert_true(c->pc.if_size == UINT64_MAX);
    assert_true(c->pc.has_if_mtime);
    assert_int_equal(c->pc.if_mtime_s, -5);
    meta_cmd_free(c);
    check_truncations(rec_w_data(&w), rec_w_len(&w), dec_cmd);
    rec_w_release(&w);
    /* an unknown precondition flag is corrupt: without conditions, the
     * flags byte is the command's last */
    rec_w_init(&w, REC_MAX);
    meta_cmd_object_delete(&w, 7, "bkt", "k", "v1", NULL, NULL);
    uint8_t *flags = (uint8_t *)rec_w_data(&w) + rec_w_len(&w) - 1;
    assert_int_equal(*flags, 0);
    *flags = 0x40;
    assert_int_equal(meta_cmd_decode(rec_w_data(&w), rec_w_len(&w), &c), META_ECORRUPT);
    rec_w_release(&w);

    /* complete */
    uint32_t nums[3] = {1, 2, 5};
    const char *etags[3] = {"e1", "e2", "e5"};
    rec_w_init(&w, REC_MAX);
    meta_cmd_upload_complete(&w, 9, "bkt", "k", "up1", nums, etags, 3, &o, NULL);
    assert_int_equal(meta_cmd_decode(rec_w_data(&w), rec_w_len(&w), &c), 0);
    assert_int_equal(c->nparts, 3);
    assert_int_equal(c->part_numbers[2], 5);
    assert_string_equal(c->part_etags[1], "e2");
    assert_int_equal(c->obj.nchunks, 0); /* the list comes from the parts */
    assert_int_equal(c->obj.inline_len, 0);
    assert_null(c->pc.if_match_etag);
    meta_cmd_free(c);
    check_truncations(rec_w_data(&w), rec_w_len(&w), dec_cmd);
    rec_w_release(&w);

    /* every other op, round trip + truncations */
    struct meta_user u = {.created_ms = 3};
    strcpy(u.name, "bob");
    strcpy(u.access_key, "AK");
    strcpy(u.secret_key, "SK");
    struct meta_bucket b = {.versioning = 1};
    strcpy(b.name, "bkt");
    strcpy(b.owner, "bob");
    struct meta_chunk ch = {.len = 5, .placement_len = 3, .placement = {1, 2, 3}};
    memcpy(ch.id, id, sizeof id);
    struct meta_upload up = {.key = "k", .initiated_ms = 4};
    strcpy(up.upload_id, "up1");
    struct meta_part part = {.part_number = 3, .size = 9, .chunks = refs, .nchunks = 2};
    strcpy(part.etag, "pe");
    for (int op = META_CMD_USER_ADD; op <= META_CMD_UPLOAD_ABORT; op++) {
        rec_w_init(&w, REC_MAX);
        switch (op) {
        case META_CMD_USER_ADD: meta_cmd_user_add(&w, 1, &u); break;
        case META_CMD_USER_REMOVE: meta_cmd_user_remove(&w, 1, "bob"); break;
        case META_CMD_BUCKET_CREATE: meta_cmd_bucket_create(&w, 1, &b); break;
        case META_CMD_BUCKET_DELETE: meta_cmd_bucket_delete(&w, 1, "bkt"); break;
        case META_CMD_BUCKET_SET_VERSIONING: meta_cmd_bucket_set_versioning(&w, 1, "bkt", 2); break;
        case META_CMD_CHUNK_ADD: meta_cmd_chunk_add(&w, 1, &ch); break;
        case META_CMD_CHUNK_SET_PLACEMENT: meta_cmd_chunk_set_placement(&w, 1, id, (const uint8_t *)"xy", 2); break;
        case META_CMD_CHUNK_REMOVE_UNUSED: meta_cmd_chunk_remove_unused(&w, 1, id, 77); break;
        case META_CMD_OBJECT_PUT: meta_cmd_object_put(&w, 1, "bkt", &o, NULL); break;
        case META_CMD_OBJECT_DELETE: meta_cmd_object_delete(&w, 1, "bkt", "k", "v", NULL, &pc); break;
        case META_CMD_UPLOAD_CREATE: meta_cmd_upload_create(&w, 1, "bkt", &up); break;
        case META_CMD_PART_PUT: meta_cmd_part_put(&w, 1, "bkt", "k", "up1", &part); break;
        case META_CMD_UPLOAD_COMPLETE: meta_cmd_upload_complete(&w, 1, "bkt", "k", "up1", nums, etags, 3, &o, &pc); break;
        case META_CMD_UPLOAD_ABORT: meta_cmd_upload_abort(&w, 1, "bkt", "k", "up1"); break;
        }
        assert_int_equal(rec_w_error(&w), 0);
        assert_int_equal(meta_cmd_decode(rec_w_data(&w), rec_w_len(&w), &c), 0);
        assert_int_equal(c->op, op);
        switch (op) {
        case META_CMD_USER_ADD: user_eq(&c->user, &u); break;
        case META_CMD_BUCKET_CREATE: bucket_eq(&c->brec, &b); break;
        case META_CMD_BUCKET_SET_VERSIONING: assert_int_equal(c->versioning, 2); break;
        case META_CMD_CHUNK_ADD: chunk_eq(&c->chunk, &ch); break;
        case META_CMD_CHUNK_SET_PLACEMENT: assert_int_equal(c->chunk.placement_len, 2); break;
        case META_CMD_CHUNK_REMOVE_UNUSED: assert_int_equal(c->cutoff_ms, 77); break;
        case META_CMD_OBJECT_DELETE: assert_string_equal(c->version_id, "v"); assert_false(c->has_marker); break;
        case META_CMD_UPLOAD_CREATE: assert_string_equal(c->upload.upload_id, "up1"); break;
        case META_CMD_PART_PUT: assert_int_equal(c->part.part_number, 3); assert_int_equal(c->part.nchunks, 2); break;
        case META_CMD_UPLOAD_ABORT: assert_string_equal(c->upload_id, "up1"); break;
        default: break;
        }
        meta_cmd_free(c);
        check_truncations(rec_w_data(&w), rec_w_len(&w), dec_cmd);
        rec_w_release(&w);
    }

    /* unknown op */
    rec_w_init(&w, REC_MAX);
    rec_put_header(&w, REC_COMMAND);
    rec_put_u8(&w, 200);
    rec_put_ivar(&w, 0);
    assert_int_equal(meta_cmd_decode(rec_w_data(&w), rec_w_len(&w), &c), META_ECORRUPT);
    rec_w_release(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varints),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_chunk_count_bound),
        cmocka_unit_test(test_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
