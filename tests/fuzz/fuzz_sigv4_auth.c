/*
 * tests/fuzz/fuzz_sigv4_auth.c - SigV4 request authentication on hostile
 * input: the Authorization header, the x-amz-date and Date headers, the raw
 * request path and query (canonicalization), and presigned-URL parameters.
 *
 * Input layout: fields separated by '\n' (no HTTP header value can hold
 * one, so the split loses nothing the server could receive):
 *   Authorization \n x-amz-date \n Date \n raw path \n raw query...
 * A missing field is an absent header / empty path / no query; the query
 * is everything after the fourth '\n' (it may hold more '\n's).  Each
 * field is copied into its own NUL-terminated allocation, so ASan sees
 * every read past its end.
 *
 * Properties checked besides "no crash, no leak, no UB":
 *   - parse_authorization: on failure *out is untouched; on success every
 *     field is within its cap and has the documented form, and the header
 *     rebuilt from the parsed fields parses back to the same fields;
 *   - auth_set_date: on success amz_date is a valid date of the scope day
 *     and formats back to itself;
 *   - canonical URI / query: only unreserved characters and %XX escapes
 *     (and '/' in the URI, '=' '&' in the query), pairs sorted;
 *   - presigned: on success the same invariants, and expires in range;
 *   - verify agrees with explain: it succeeds exactly when the signature
 *     recomputed from explain's string to sign equals the claimed one.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/sigv2.h"
#include "common/sigv4.h"
#include "common/uri.h"
#include "tests/fuzz/fuzz_check.h"

#define NFIELDS 5
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int is_upper_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static int is_cred_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != ',' && c != '/' && c != '=' && c != ';';
}

static void check_auth(const struct sigv4_auth *a)
{
    size_t n = strnlen(a->access_key, sizeof a->access_key);
    FUZZ_CHECK(n > 0 && n <= SIGV4_ACCESS_KEY_MAX);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(a->access_key[i] == '/' || is_cred_char((unsigned char)a->access_key[i]));
    FUZZ_CHECK(strnlen(a->date, sizeof a->date) == 8);
    for (int i = 0; i < 8; i++)
        FUZZ_CHECK(a->date[i] >= '0' && a->date[i] <= '9');
    n = strnlen(a->region, sizeof a->region);
    FUZZ_CHECK(n > 0 && n <= SIGV4_REGION_MAX);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(is_cred_char((unsigned char)a->region[i]));
    n = strnlen(a->service, sizeof a->service);
    FUZZ_CHECK(n > 0 && n <= SIGV4_SERVICE_MAX);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(is_cred_char((unsigned char)a->service[i]));
    FUZZ_CHECK(strnlen(a->signature, sizeof a->signature) == 64);
    FUZZ_CHECK(is_lower_hex(a->signature, 64));

    size_t shlen = strnlen(a->signed_headers, sizeof a->signed_headers);
    FUZZ_CHECK(shlen > 0 && shlen <= SIGV4_SIGNED_HEADERS_MAX);
    FUZZ_CHECK(a->header_count >= 1 && a->header_count <= SIGV4_SIGNED_HEADER_COUNT_MAX);
    int have_host = 0;
    size_t expect_off = 0;
    for (unsigned i = 0; i < a->header_count; i++) {
        size_t off = a->header_off[i], len = a->header_len[i];
        /* the names tile the list, separated by single ';' */
        FUZZ_CHECK(off == expect_off);
        FUZZ_CHECK(len > 0 && off + len <= shlen);
        FUZZ_CHECK(off + len == shlen || a->signed_headers[off + len] == ';');
        expect_off = off + len + 1;
        for (size_t k = 0; k < len; k++) {
            char c = a->signed_headers[off + k];
            FUZZ_CHECK(c != ';' && !(c >= 'A' && c <= 'Z'));
        }
        if (len == 4 && memcmp(a->signed_headers + off, "host", 4) == 0)
            have_host = 1;
        for (unsigned j = 0; j < i; j++)
            FUZZ_CHECK(!(a->header_len[j] == len &&
                         memcmp(a->signed_headers + a->header_off[j], a->signed_headers + off, len) == 0));
    }
    FUZZ_CHECK(expect_off == shlen + 1);
    FUZZ_CHECK(have_host);

    char scope[SIGV4_SCOPE_MAX + 1];
    int rc = sigv4_scope(a, scope, sizeof scope);
    FUZZ_CHECK(rc > 0 && (size_t)rc < sizeof scope);
}

static void check_same_auth(const struct sigv4_auth *a, const struct sigv4_auth *b)
{
    FUZZ_CHECK(strcmp(a->access_key, b->access_key) == 0);
    FUZZ_CHECK(strcmp(a->date, b->date) == 0);
    FUZZ_CHECK(strcmp(a->region, b->region) == 0);
    FUZZ_CHECK(strcmp(a->service, b->service) == 0);
    FUZZ_CHECK(strcmp(a->signed_headers, b->signed_headers) == 0);
    FUZZ_CHECK(a->header_count == b->header_count);
    for (unsigned i = 0; i < a->header_count; i++)
        FUZZ_CHECK(a->header_off[i] == b->header_off[i] && a->header_len[i] == b->header_len[i]);
    FUZZ_CHECK(strcmp(a->signature, b->signature) == 0);
}

/* The header as a strict client would write it from the parsed fields. */
static void check_reparse(const struct sigv4_auth *a)
{
    struct buf h;
    struct sigv4_auth b;
    buf_init(&h, 8192);
    int rc = buf_printf(&h, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                            "SignedHeaders=%s, Signature=%s",
                        a->access_key, a->date, a->region, a->service, a->signed_headers,
                        a->signature);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(sigv4_parse_authorization(h.data, &b) == 0);
    check_same_auth(a, &b);
    buf_release(&h);
}

/* After a successful set_date / parse_presigned. */
static void check_amz_date(const struct sigv4_auth *a)
{
    time_t t;
    char again[17];
    FUZZ_CHECK(strnlen(a->amz_date, sizeof a->amz_date) == 16);
    FUZZ_CHECK(sigv4_parse_amz_date(a->amz_date, &t) == 0);
    FUZZ_CHECK(memcmp(a->amz_date, a->date, 8) == 0);
    sigv4_format_amz_date(t, again);
    FUZZ_CHECK(strcmp(again, a->amz_date) == 0);
    FUZZ_CHECK(sigv4_check_time(a->amz_date, t, 0, 0, 0) == 0);
}

static void set_date(const struct sigv4_auth *in, const char *xdate, const char *date)
{
    struct sigv4_auth a = *in;
    int rc = sigv4_auth_set_date(&a, xdate, date);
    if (rc == 0)
        check_amz_date(&a);
    else
        FUZZ_CHECK(rc == SIGV4_EMISSINGDATE || rc == SIGV4_EBADDATE || rc == SIGV4_ESCOPEDATE);
    if (!xdate && !date)
        FUZZ_CHECK(rc == SIGV4_EMISSINGDATE);
}

static void check_canonical_uri(const char *path, size_t len)
{
    struct buf out;
    buf_init(&out, 4 * len + 16);
    int rc = sigv4_canonical_uri(path, len, &out);
    if (rc == 0) {
        FUZZ_CHECK(out.len > 0);
        for (size_t i = 0; i < out.len; i++) {
            unsigned char c = (unsigned char)out.data[i];
            if (c == '%') {
                FUZZ_CHECK(i + 2 < out.len && is_upper_hex(out.data[i + 1]) &&
                           is_upper_hex(out.data[i + 2]));
                i += 2;
            } else {
                FUZZ_CHECK(c == '/' || uri_is_unreserved(c));
            }
        }
    } else {
        FUZZ_CHECK(rc == SIGV4_EINVAL);
        FUZZ_CHECK(out.len == 0);
    }
    buf_release(&out);
}

static void check_canonical_query(const char *query, size_t len)
{
    struct buf out;
    buf_init(&out, 4 * len + 16);
    int rc = sigv4_canonical_query(query, len, 0, &out);
    if (rc == 0) {
        /* name=value pairs joined by '&', sorted by name then value */
        const char *prev_name = NULL, *prev_value = NULL;
        size_t prev_nlen = 0, prev_vlen = 0;
        size_t pos = 0;
        while (pos < out.len) {
            size_t end = pos;
            while (end < out.len && out.data[end] != '&')
                end++;
            const char *eq = memchr(out.data + pos, '=', end - pos);
            FUZZ_CHECK(eq != NULL);
            const char *name = out.data + pos, *value = eq + 1;
            size_t nlen = (size_t)(eq - name), vlen = (size_t)(out.data + end - value);
            for (size_t i = 0; i < nlen + 1 + vlen; i++) {
                unsigned char c = (unsigned char)name[i];
                if (i == nlen) {
                    FUZZ_CHECK(c == '=');
                } else if (c == '%') {
                    FUZZ_CHECK(i + 2 < nlen + 1 + vlen && i + 2 != nlen && i + 1 != nlen &&
                               is_upper_hex(name[i + 1]) && is_upper_hex(name[i + 2]));
                    i += 2;
                } else {
                    FUZZ_CHECK(uri_is_unreserved(c));
                }
            }
            if (prev_name) {
                size_t m = prev_nlen < nlen ? prev_nlen : nlen;
                int c = memcmp(prev_name, name, m);
                if (c == 0)
                    c = prev_nlen < nlen ? -1 : prev_nlen > nlen;
                if (c == 0) {
                    m = prev_vlen < vlen ? prev_vlen : vlen;
                    c = memcmp(prev_value, value, m);
                    if (c == 0)
                        c = prev_vlen < vlen ? -1 : prev_vlen > vlen;
                }
                FUZZ_CHECK(c <= 0);
            }
            prev_name = name;
            prev_nlen = nlen;
            prev_value = value;
            prev_vlen = vlen;
            pos = end + 1;
        }
        FUZZ_CHECK(out.len == 0 || out.data[out.len - 1] != '&');
    } else {
        FUZZ_CHECK(rc == SIGV4_EINVAL || rc == SIGV4_ETOOLONG);
        FUZZ_CHECK(out.len == 0);
    }
    buf_release(&out);
}

struct fake_headers {
    const char *amz_date;
    const char *other;
};

static const char *fake_get_header(void *arg, const char *name)
{
    const struct fake_headers *h = arg;
    if (strcmp(name, "host") == 0)
        return "examplebucket.s3.amazonaws.com";
    if (strcmp(name, "x-amz-date") == 0)
        return h->amz_date;
    if (strcmp(name, "x-amz-content-sha256") == 0)
        return SIGV4_EMPTY_SHA256;
    return h->other;
}

/* verify's verdict must be the one explain's texts lead to. */
static void check_verify(const struct sigv4_auth *a, const char *path, const char *query,
                         const struct fake_headers *h)
{
    struct sigv4_request req = {
        .method = "GET",
        .raw_path = path,
        .raw_query = query,
        .get_header = fake_get_header,
        .header_arg = (void *)h,
        .payload_hash = a->presigned ? SIGV4_UNSIGNED_PAYLOAD : SIGV4_EMPTY_SHA256,
    };
    uint8_t key[32], key_out[32];
    char seed[65], sig[65];
    struct buf creq, sts;
    buf_init(&creq, SIGV4_CANONICAL_MAX + 1);
    buf_init(&sts, 4096);
    memset(key_out, 0x5a, sizeof key_out);
    memset(seed, 0x5a, sizeof seed);
    int vrc = sigv4_verify(a, &req, SECRET, key_out, seed);
    int erc = sigv4_explain(a, &req, &creq, &sts);
    if (erc != 0) {
        FUZZ_CHECK(vrc == erc);
    } else {
        /* explain's string to sign is the one built from its canonical request */
        struct buf sts2;
        buf_init(&sts2, 4096);
        FUZZ_CHECK(sigv4_string_to_sign(a, creq.data, creq.len, &sts2) == 0);
        FUZZ_CHECK(sts2.len == sts.len && memcmp(sts2.data, sts.data, sts.len) == 0);
        buf_release(&sts2);
        sigv4_signing_key(SECRET, a->date, a->region, a->service, key);
        sigv4_signature(key, sts.data, sts.len, sig);
        int match = sigv4_signature_equal(sig, a->signature);
        FUZZ_CHECK(vrc == (match ? 0 : SIGV4_EMISMATCH));
        if (vrc == 0) {
            FUZZ_CHECK(memcmp(key_out, key, 32) == 0);
            FUZZ_CHECK(strcmp(seed, a->signature) == 0);
        }
    }
    if (vrc != 0) {
        /* outputs untouched on failure */
        for (int i = 0; i < 32; i++)
            FUZZ_CHECK(key_out[i] == 0x5a);
        for (int i = 0; i < 65; i++)
            FUZZ_CHECK(seed[i] == 0x5a);
    }
    buf_release(&creq);
    buf_release(&sts);
}

static void check_presigned(const char *query, size_t len, const char *path,
                            const struct fake_headers *h)
{
    struct uri_query q;
    if (uri_query_parse(query, len, &q) != 0)
        return;
    struct sigv4_auth a, before;
    memset(&a, 0xa5, sizeof a);
    before = a;
    int rc = sigv4_parse_presigned(&q, &a);
    if (rc == 0) {
        FUZZ_CHECK(a.presigned == 1);
        check_auth(&a);
        check_amz_date(&a);
        FUZZ_CHECK(a.expires >= 1 && a.expires <= SIGV4_EXPIRES_MAX);
        time_t t;
        FUZZ_CHECK(sigv4_parse_amz_date(a.amz_date, &t) == 0);
        FUZZ_CHECK(sigv4_check_time(a.amz_date, t, 0, a.expires, 1) == 0);
        FUZZ_CHECK(sigv4_check_time(a.amz_date, t + a.expires + 1, 0, a.expires, 1) ==
                   SIGV4_EEXPIRED);
        check_verify(&a, path, query, h);
    } else {
        FUZZ_CHECK(memcmp(&a, &before, sizeof a) == 0);
    }
    /* SigV2's resource canonicalization reads the same query */
    struct buf res;
    buf_init(&res, 65536);
    rc = sigv2_canonical_resource(path[0] ? path : "/", &q, &res);
    FUZZ_CHECK(rc == 0 || rc == -ENOSPC);
    buf_release(&res);
    uri_query_release(&q);
}

/* A valid parsed header, to fuzz the date headers even when the fuzzed
 * Authorization header does not parse. */
static struct sigv4_auth g_template;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int rc = sigv4_parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        &g_template);
    FUZZ_CHECK(rc == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *field[NFIELDS] = {0};
    size_t flen[NFIELDS] = {0};
    size_t pos = 0;
    int nf = 0;
    while (nf < NFIELDS && pos <= size) {
        size_t end = pos;
        if (nf < NFIELDS - 1)
            while (end < size && data[end] != '\n')
                end++;
        else
            end = size;
        field[nf] = malloc(end - pos + 1);
        FUZZ_CHECK(field[nf] != NULL);
        if (end > pos)
            memcpy(field[nf], data + pos, end - pos);
        field[nf][end - pos] = '\0';
        flen[nf] = end - pos;
        nf++;
        if (end == size)
            break;
        pos = end + 1;
    }
    const char *auth_hdr = field[0];
    const char *xdate = field[1];
    const char *date = field[2];
    const char *path = field[3] ? field[3] : "";
    size_t path_len = field[3] ? strlen(field[3]) : 0;
    const char *query = field[4];
    size_t query_len = field[4] ? flen[4] : 0;

    /* 1. the Authorization header */
    struct sigv4_auth a, before;
    memset(&a, 0xa5, sizeof a);
    before = a;
    int rc = sigv4_parse_authorization(auth_hdr, &a);
    if (rc == 0) {
        FUZZ_CHECK(a.presigned == 0 && a.amz_date[0] == '\0' && a.expires == 0);
        check_auth(&a);
        check_reparse(&a);
    } else {
        FUZZ_CHECK(rc == SIGV4_EMALFORMED || rc == SIGV4_EALGORITHM || rc == SIGV4_ETOOLONG);
        FUZZ_CHECK(memcmp(&a, &before, sizeof a) == 0);
    }

    /* 2. the date headers, against the parsed header and the template */
    set_date(&g_template, xdate, date);
    set_date(&g_template, NULL, xdate);
    if (rc == 0)
        set_date(&a, xdate, date);
    if (xdate) {
        time_t t;
        if (sigv4_parse_amz_date(xdate, &t) == 0) {
            char again[17];
            sigv4_format_amz_date(t, again);
            FUZZ_CHECK(strcmp(again, xdate) == 0);
        }
    }

    /* 3. canonical path and query */
    check_canonical_uri(path, path_len);
    if (query)
        check_canonical_query(query, query_len);

    /* 4. verification of the parsed header over the fuzzed request */
    struct fake_headers h = {.amz_date = xdate, .other = date};
    if (rc == 0 && query_len == strnlen(query ? query : "", query_len + 1)) {
        struct sigv4_auth b = a;
        if (sigv4_auth_set_date(&b, xdate, date) == 0)
            check_verify(&b, path, query, &h);
    }

    /* 5. presigned parameters from the query */
    if (query)
        check_presigned(query, query_len, path, &h);

    for (int i = 0; i < nf; i++)
        free(field[i]);
    return 0;
}
