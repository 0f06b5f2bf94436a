/* common/sigv4.c - AWS Signature Version 4, server and client side. */
#include "common/sigv4.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common/hash.h"

const char *sigv4_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case SIGV4_EMALFORMED: return "authorization header is malformed";
    case SIGV4_EQUERYMALFORMED: return "presigned query parameters are malformed or missing";
    case SIGV4_EALGORITHM: return "unsupported authorization algorithm";
    case SIGV4_EMISSINGDATE: return "no x-amz-date or Date header";
    case SIGV4_EBADDATE: return "request date is not valid";
    case SIGV4_ESCOPEDATE: return "credential scope date differs from the request date";
    case SIGV4_ESKEW: return "request time too skewed";
    case SIGV4_EEXPIRED: return "presigned request has expired";
    case SIGV4_ENOTYETVALID: return "presigned request is not valid yet";
    case SIGV4_EEXPIRES: return "X-Amz-Expires must be between 1 and 604800 seconds";
    case SIGV4_EMISSINGHEADER: return "a signed header is missing from the request";
    case SIGV4_EMISMATCH: return "signature does not match";
    case SIGV4_ETOOLONG: return "authorization input exceeds a limit";
    case SIGV4_EINVAL: return "invalid argument or percent-encoding";
    default:
        if (err < 0 && err > -4096)
            return strerror(-err);
        return "unknown sigv4 error";
    }
}

/* ---- small helpers --------------------------------------------------- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 7230 tchar: what a header name may consist of. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Printable, non-space, and not one of the separators the Authorization
 * syntax uses: what an access key, region or service may contain. */
static int is_credential_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != ',' && c != '/' && c != '=' && c != ';';
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Restore a caller's buf to an earlier length after a failure. */
static void buf_truncate(struct buf *b, size_t len)
{
    if (b->data && len <= b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

/* Map errors from internal bufs (whose cap is one of ours) to ours. */
static int own_cap(int rc)
{
    return rc == -ENOSPC ? SIGV4_ETOOLONG : rc;
}

/* ---- credential, signed headers, signature --------------------------- */

/* "AK/20130524/us-east-1/s3/aws4_request": the scope is the last four
 * '/'-fields, so an access key containing '/' still parses. */
static int parse_credential(const char *s, size_t len, struct sigv4_auth *a, int bad)
{
    const char *field[5];
    size_t flen[5];
    size_t end = len;
    for (int f = 4; f >= 1; f--) {
        size_t i = end;
        while (i > 0 && s[i - 1] != '/')
            i--;
        if (i == 0)
            return bad;
        field[f] = s + i;
        flen[f] = end - i;
        end = i - 1;
    }
    field[0] = s;
    flen[0] = end;

    if (flen[4] != 12 || memcmp(field[4], "aws4_request", 12) != 0)
        return bad;
    if (flen[1] != 8 || !all_digits(field[1], 8))
        return bad;
    if (flen[0] == 0 || flen[2] == 0 || flen[3] == 0)
        return bad;
    if (flen[0] > SIGV4_ACCESS_KEY_MAX || flen[2] > SIGV4_REGION_MAX || flen[3] > SIGV4_SERVICE_MAX)
        return SIGV4_ETOOLONG;
    /* the access key may hold '/', nothing else may */
    for (size_t i = 0; i < flen[0]; i++)
        if (field[0][i] != '/' && !is_credential_char((unsigned char)field[0][i]))
            return bad;
    for (int f = 2; f <= 3; f++)
        for (size_t i = 0; i < flen[f]; i++)
            if (!is_credential_char((unsigned char)field[f][i]))
                return bad;

    memcpy(a->access_key, field[0], flen[0]);
    a->access_key[flen[0]] = '\0';
    memcpy(a->date, field[1], 8);
    a->date[8] = '\0';
    memcpy(a->region, field[2], flen[2]);
    a->region[flen[2]] = '\0';
    memcpy(a->service, field[3], flen[3]);
    a->service[flen[3]] = '\0';
    return 0;
}

static int parse_signed_headers(const char *s, size_t len, struct sigv4_auth *a, int bad)
{
    if (len == 0)
        return bad;
    if (len > SIGV4_SIGNED_HEADERS_MAX)
        return SIGV4_ETOOLONG;
    unsigned count = 0;
    int have_host = 0;
    size_t pos = 0;
    while (pos <= len) {
        size_t end = pos;
        while (end < len && s[end] != ';')
            end++;
        size_t n = end - pos;
        if (n == 0)
            return bad;
        if (count == SIGV4_SIGNED_HEADER_COUNT_MAX)
            return SIGV4_ETOOLONG;
        for (size_t i = pos; i < end; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!is_tchar(c))
                return bad;
            a->signed_headers[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        for (unsigned k = 0; k < count; k++)
            if (a->header_len[k] == n &&
                memcmp(a->signed_headers + a->header_off[k], a->signed_headers + pos, n) == 0)
                return bad;
        if (n == 4 && memcmp(a->signed_headers + pos, "host", 4) == 0)
            have_host = 1;
        a->header_off[count] = (uint16_t)pos;
        a->header_len[count] = (uint16_t)n;
        count++;
        if (end < len)
            a->signed_headers[end] = ';';
        pos = end + 1;
    }
    a->signed_headers[len] = '\0';
    a->header_count = count;
    return have_host ? 0 : bad;
}

static int parse_signature(const char *s, size_t len, struct sigv4_auth *a, int bad)
{
    if (len != 64)
        return bad;
    for (size_t i = 0; i < 64; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c + 32);
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return bad;
        a->signature[i] = c;
    }
    a->signature[64] = '\0';
    return 0;
}

int sigv4_parse_authorization(const char *v, struct sigv4_auth *out)
{
    struct sigv4_auth a;
    int rc;
    if (!v || !out)
        return SIGV4_EINVAL;
    memset(&a, 0, sizeof a);

    size_t len = strlen(v);
    if (len > SIGV4_SIGNED_HEADERS_MAX + 1024)
        return SIGV4_ETOOLONG;
    size_t pos = 0;
    while (pos < len && is_blank(v[pos]))
        pos++;
    size_t alg = pos;
    while (pos < len && !is_blank(v[pos]))
        pos++;
    size_t alen = pos - alg;
    const size_t want = sizeof SIGV4_ALGORITHM - 1;
    if (alen != want || memcmp(v + alg, SIGV4_ALGORITHM, want) != 0) {
        /* "AWS4-HMAC-SHA256Credential=..." is our scheme, badly written */
        if (alen > want && memcmp(v + alg, SIGV4_ALGORITHM, want) == 0)
            return SIGV4_EMALFORMED;
        return SIGV4_EALGORITHM;
    }
    if (pos == len)
        return SIGV4_EMALFORMED;

    int seen_cred = 0, seen_sh = 0, seen_sig = 0;
    for (int last = 0; !last;) {
        /* one component: skip blanks, take up to ',' or the end, trim */
        while (pos < len && is_blank(v[pos]))
            pos++;
        size_t start = pos;
        while (pos < len && v[pos] != ',')
            pos++;
        size_t end = pos;
        while (end > start && is_blank(v[end - 1]))
            end--;
        if (pos < len)
            pos++; /* the comma: another component must follow */
        else
            last = 1;
        if (end == start)
            return SIGV4_EMALFORMED; /* empty component, ",," or trailing ',' */
        const char *eq = memchr(v + start, '=', end - start);
        if (!eq)
            return SIGV4_EMALFORMED;
        size_t klen = (size_t)(eq - (v + start));
        const char *val = eq + 1;
        size_t vlen = (size_t)((v + end) - val);
        if (klen == 10 && memcmp(v + start, "Credential", 10) == 0) {
            if (seen_cred++)
                return SIGV4_EMALFORMED;
            rc = parse_credential(val, vlen, &a, SIGV4_EMALFORMED);
        } else if (klen == 13 && memcmp(v + start, "SignedHeaders", 13) == 0) {
            if (seen_sh++)
                return SIGV4_EMALFORMED;
            rc = parse_signed_headers(val, vlen, &a, SIGV4_EMALFORMED);
        } else if (klen == 9 && memcmp(v + start, "Signature", 9) == 0) {
            if (seen_sig++)
                return SIGV4_EMALFORMED;
            rc = parse_signature(val, vlen, &a, SIGV4_EMALFORMED);
        } else {
            return SIGV4_EMALFORMED;
        }
        if (rc < 0)
            return rc;
    }
    if (!seen_cred || !seen_sh || !seen_sig)
        return SIGV4_EMALFORMED;
    *out = a;
    return 0;
}

/* ---- dates ----------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so no timezone or timegm() is involved. */
static long days_from_civil(long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

static unsigned days_in_month(long y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

static unsigned num(const char *s, int n)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    return v;
}

static int make_time(long y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                     time_t *out)
{
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
        h > 23 || mi > 59 || s > 59)
        return SIGV4_EBADDATE;
    *out = (time_t)(days_from_civil(y, mo, d) * 86400L + h * 3600L + mi * 60L + s);
    return 0;
}

int sigv4_parse_amz_date(const char *s, time_t *out)
{
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' || !all_digits(s, 8) ||
        !all_digits(s + 9, 6))
        return SIGV4_EBADDATE;
    return make_time(num(s, 4), num(s + 4, 2), num(s + 6, 2), num(s + 9, 2), num(s + 11, 2),
                     num(s + 13, 2), out);
}

void sigv4_format_amz_date(time_t t, char out[17])
{
    struct tm tm;
    unsigned v[6];
    static const int width[6] = {4, 2, 2, 2, 2, 2};
    gmtime_r(&t, &tm);
    v[0] = (unsigned)(tm.tm_year + 1900) % 10000;
    v[1] = (unsigned)tm.tm_mon + 1;
    v[2] = (unsigned)tm.tm_mday;
    v[3] = (unsigned)tm.tm_hour;
    v[4] = (unsigned)tm.tm_min;
    v[5] = (unsigned)tm.tm_sec;
    char *p = out;
    for (int f = 0; f < 6; f++) {
        if (f == 3)
            *p++ = 'T';
        for (int i = width[f] - 1; i >= 0; i--)
            p[i] = (char)('0' + v[f] % 10), v[f] /= 10;
        p += width[f];
    }
    *p++ = 'Z';
    *p = '\0';
}

/* RFC 1123 "Fri, 24 May 2013 00:00:00 GMT" (the weekday is optional and
 * not checked; "UTC" is accepted for "GMT"). */
static int parse_http_date(const char *s, time_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *comma = strchr(s, ',');
    if (comma)
        s = comma + 1;
    while (*s == ' ')
        s++;
    /* DD Mon YYYY HH:MM:SS GMT */
    if (strlen(s) != 24 || !all_digits(s, 2) || s[2] != ' ' || s[6] != ' ' ||
        !all_digits(s + 7, 4) || s[11] != ' ' || !all_digits(s + 12, 2) || s[14] != ':' ||
        !all_digits(s + 15, 2) || s[17] != ':' || !all_digits(s + 18, 2) || s[20] != ' ' ||
        (strcmp(s + 21, "GMT") != 0 && strcmp(s + 21, "UTC") != 0))
        return SIGV4_EBADDATE;
    unsigned mo = 0;
    for (unsigned i = 0; i < 12; i++)
        if (strncmp(s + 3, months + 3 * i, 3) == 0)
            mo = i + 1;
    if (mo == 0)
        return SIGV4_EBADDATE;
    return make_time(num(s + 7, 4), mo, num(s, 2), num(s + 12, 2), num(s + 15, 2), num(s + 18, 2),
                     out);
}

int sigv4_auth_set_date(struct sigv4_auth *auth, const char *x_amz_date, const char *date_header)
{
    time_t t;
    char iso[17];
    if (x_amz_date) {
        if (sigv4_parse_amz_date(x_amz_date, &t) < 0)
            return SIGV4_EBADDATE;
    } else if (date_header) {
        if (parse_http_date(date_header, &t) < 0)
            return SIGV4_EBADDATE;
    } else {
        return SIGV4_EMISSINGDATE;
    }
    sigv4_format_amz_date(t, iso);
    if (memcmp(iso, auth->date, 8) != 0)
        return SIGV4_ESCOPEDATE;
    memcpy(auth->amz_date, iso, sizeof iso);
    return 0;
}

int sigv4_check_time(const char *amz_date, time_t now, long skew_seconds, long expires,
                     int presigned)
{
    time_t t;
    if (sigv4_parse_amz_date(amz_date, &t) < 0)
        return SIGV4_EBADDATE;
    if (skew_seconds <= 0)
        skew_seconds = SIGV4_DEFAULT_SKEW;
    if (!presigned) {
        long long d = (long long)now - (long long)t;
        if (d > skew_seconds || d < -skew_seconds)
            return SIGV4_ESKEW;
        return 0;
    }
    if (expires < 1 || expires > SIGV4_EXPIRES_MAX)
        return SIGV4_EEXPIRES;
    if ((long long)t > (long long)now + skew_seconds)
        return SIGV4_ENOTYETVALID;
    if ((long long)now > (long long)t + expires)
        return SIGV4_EEXPIRED;
    return 0;
}

/* ---- presigned ------------------------------------------------------- */

/* The only pair called name; NULL if absent, *dup set if repeated. */
static const struct uri_query_pair *unique_pair(const struct uri_query *q, const char *name,
                                                int *dup)
{
    const struct uri_query_pair *found = NULL;
    size_t n = strlen(name);
    for (size_t i = 0; i < q->count; i++) {
        if (q->pairs[i].name_len == n && memcmp(q->pairs[i].name, name, n) == 0) {
            if (found)
                *dup = 1;
            found = &q->pairs[i];
        }
    }
    return found;
}

int sigv4_parse_presigned(const struct uri_query *q, struct sigv4_auth *out)
{
    struct sigv4_auth a;
    int dup = 0, rc;
    if (!q || !out)
        return SIGV4_EINVAL;
    memset(&a, 0, sizeof a);

    const struct uri_query_pair *alg = unique_pair(q, "X-Amz-Algorithm", &dup);
    const struct uri_query_pair *cred = unique_pair(q, "X-Amz-Credential", &dup);
    const struct uri_query_pair *date = unique_pair(q, "X-Amz-Date", &dup);
    const struct uri_query_pair *exp = unique_pair(q, "X-Amz-Expires", &dup);
    const struct uri_query_pair *sh = unique_pair(q, "X-Amz-SignedHeaders", &dup);
    const struct uri_query_pair *sig = unique_pair(q, "X-Amz-Signature", &dup);
    const struct uri_query_pair *tok = unique_pair(q, "X-Amz-Security-Token", &dup);
    if (dup || !alg)
        return SIGV4_EQUERYMALFORMED;
    if (strcmp(alg->value, SIGV4_ALGORITHM) != 0 || alg->value_len != sizeof SIGV4_ALGORITHM - 1)
        return SIGV4_EALGORITHM;
    if (!cred || !date || !exp || !sh || !sig)
        return SIGV4_EQUERYMALFORMED;

    if ((rc = parse_credential(cred->value, cred->value_len, &a, SIGV4_EQUERYMALFORMED)) < 0)
        return rc;
    if ((rc = parse_signed_headers(sh->value, sh->value_len, &a, SIGV4_EQUERYMALFORMED)) < 0)
        return rc;
    if ((rc = parse_signature(sig->value, sig->value_len, &a, SIGV4_EQUERYMALFORMED)) < 0)
        return rc;

    if (exp->value_len == 0 || exp->value_len > 9 || !all_digits(exp->value, exp->value_len))
        return SIGV4_EQUERYMALFORMED;
    long expires = strtol(exp->value, NULL, 10);
    if (expires < 1 || expires > SIGV4_EXPIRES_MAX)
        return SIGV4_EEXPIRES;

    time_t t;
    if (date->value_len != 16 || sigv4_parse_amz_date(date->value, &t) < 0)
        return SIGV4_EBADDATE;
    if (memcmp(date->value, a.date, 8) != 0)
        return SIGV4_ESCOPEDATE;
    memcpy(a.amz_date, date->value, 17);

    a.expires = expires;
    a.presigned = 1;
    a.has_security_token = tok != NULL;
    *out = a;
    return 0;
}

/* ---- browser POST form --------------------------------------------------- */

int sigv4_parse_post_form(const char *algorithm, const char *credential, const char *amz_date,
                          const char *signature, struct sigv4_auth *out)
{
    struct sigv4_auth a;
    int rc;
    time_t t;
    if (!out)
        return SIGV4_EINVAL;
    if (!algorithm || !credential || !amz_date || !signature)
        return SIGV4_EMALFORMED;
    if (strcmp(algorithm, SIGV4_ALGORITHM) != 0)
        return SIGV4_EALGORITHM;
    memset(&a, 0, sizeof a);
    if ((rc = parse_credential(credential, strlen(credential), &a, SIGV4_EMALFORMED)) < 0)
        return rc;
    if ((rc = parse_signature(signature, strlen(signature), &a, SIGV4_EMALFORMED)) < 0)
        return rc;
    if (strlen(amz_date) != 16 || sigv4_parse_amz_date(amz_date, &t) < 0)
        return SIGV4_EBADDATE;
    if (memcmp(amz_date, a.date, 8) != 0)
        return SIGV4_ESCOPEDATE;
    memcpy(a.amz_date, amz_date, 17);
    *out = a;
    return 0;
}

/* ---- canonical request ----------------------------------------------- */

void sigv4_signing_key(const char *secret, const char *date, const char *region,
                       const char *service, uint8_t out[32])
{
    /* the first key is "AWS4" + secret; secrets are short (40 characters
     * for AWS-style keys), so the stack holds it and the heap is only a
     * fallback for unusual ones */
    char small[256];
    uint8_t k[32];
    size_t slen = strlen(secret);
    char *k0 = slen + 4 <= sizeof small ? small : malloc(slen + 4);
    if (!k0) {
        memset(out, 0, 32); /* cannot derive; a zero key verifies nothing */
        return;
    }
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen);
    hmac_sha256(k0, slen + 4, date, strlen(date), k);
    OPENSSL_cleanse(k0, slen + 4);
    if (k0 != small)
        free(k0);
    hmac_sha256(k, 32, region, strlen(region), k);
    hmac_sha256(k, 32, service, strlen(service), k);
    hmac_sha256(k, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k, sizeof k);
}

int sigv4_scope(const struct sigv4_auth *auth, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s/%s/aws4_request", auth->date, auth->region, auth->service);
    if (n < 0 || (size_t)n >= outlen)
        return SIGV4_ETOOLONG;
    return n;
}

int sigv4_canonical_uri(const char *raw_path, size_t len, struct buf *out)
{
    size_t mark = out->len;
    int rc = 0;
    char *dec = NULL;
    if (len == 0) {
        rc = buf_append(out, "/", 1);
        goto out;
    }
    dec = malloc(len + 1);
    if (!dec) {
        rc = -ENOMEM;
        goto out;
    }
    long n = uri_decode(raw_path, len, dec, len + 1, 0);
    if (n < 0) {
        rc = SIGV4_EINVAL;
        goto out;
    }
    rc = uri_encode(out, dec, (size_t)n, URI_KEEP_SLASH);
out:
    free(dec);
    if (rc < 0)
        buf_truncate(out, mark);
    return rc;
}

struct enc_pair {
    const char *name;
    const char *value;
};

static int enc_pair_cmp(const void *x, const void *y)
{
    const struct enc_pair *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : strcmp(a->value, b->value);
}

int sigv4_canonical_query(const char *raw_query, size_t len, int drop_signature,
                          struct buf *out)
{
    struct uri_query q = {0};
    struct buf enc;
    struct enc_pair *pairs = NULL;
    size_t (*offs)[2] = NULL;
    size_t mark = out->len, n = 0;
    int rc = 0;

    buf_init(&enc, 6 * URI_QUERY_MAX_LEN);
    if (len == 0)
        goto out;
    rc = uri_query_parse(raw_query, len, &q);
    if (rc == -EINVAL)
        rc = SIGV4_EINVAL;
    else if (rc == -ENOSPC)
        rc = SIGV4_ETOOLONG;
    if (rc < 0)
        goto out;
    pairs = calloc(q.count + 1, sizeof *pairs);
    offs = calloc(q.count + 1, sizeof *offs);
    if (!pairs || !offs) {
        rc = -ENOMEM;
        goto out;
    }
    /* encode every name and value NUL-terminated into one buffer; take
     * pointers only once it has stopped growing */
    for (size_t i = 0; i < q.count; i++) {
        const struct uri_query_pair *p = &q.pairs[i];
        if (drop_signature && p->name_len == 15 && memcmp(p->name, "X-Amz-Signature", 15) == 0)
            continue;
        offs[n][0] = enc.len;
        if ((rc = uri_encode(&enc, p->name, p->name_len, 0)) < 0 ||
            (rc = buf_append(&enc, "", 1)) < 0)
            goto enc_failed;
        offs[n][1] = enc.len;
        if ((rc = uri_encode(&enc, p->value, p->value_len, 0)) < 0 ||
            (rc = buf_append(&enc, "", 1)) < 0)
            goto enc_failed;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        pairs[i].name = enc.data + offs[i][0];
        pairs[i].value = enc.data + offs[i][1];
    }
    qsort(pairs, n, sizeof *pairs, enc_pair_cmp);
    for (size_t i = 0; i < n; i++) {
        if ((i && (rc = buf_append(out, "&", 1)) < 0) || (rc = buf_puts(out, pairs[i].name)) < 0 ||
            (rc = buf_append(out, "=", 1)) < 0 || (rc = buf_puts(out, pairs[i].value)) < 0)
            goto out;
    }
    goto out;
enc_failed:
    rc = own_cap(rc); /* our own buffer's cap (3x a capped query: unreachable) */
out:
    if (rc == 0 && out->data == NULL)
        rc = buf_append(out, "", 0); /* leave a valid empty string */
    free(pairs);
    free(offs);
    buf_release(&enc);
    uri_query_release(&q);
    if (rc < 0)
        buf_truncate(out, mark);
    return rc;
}

/* Append "value" trimmed, with runs of blanks collapsed to one space. */
static int append_header_value(struct buf *out, const char *v)
{
    size_t len = strlen(v);
    if (len > SIGV4_HEADER_VALUE_MAX)
        return SIGV4_ETOOLONG;
    char tmp[SIGV4_HEADER_VALUE_MAX];
    size_t o = 0, i = 0;
    while (i < len && is_blank(v[i]))
        i++;
    while (i < len) {
        if (is_blank(v[i])) {
            while (i < len && is_blank(v[i]))
                i++;
            if (i < len)
                tmp[o++] = ' ';
            continue;
        }
        tmp[o++] = v[i++];
    }
    return buf_append(out, tmp, o);
}

/* The canonical request into out (which the caller created with the cap
 * SIGV4_CANONICAL_MAX). */
static int build_canonical(const struct sigv4_auth *auth, const struct sigv4_request *req,
                           struct buf *out)
{
    char name[SIGV4_SIGNED_HEADERS_MAX + 1];
    int rc;
    if (!req->method || !req->method[0] || !req->payload_hash || !req->raw_path ||
        !req->get_header || auth->amz_date[0] == '\0')
        return SIGV4_EINVAL;
    if ((rc = buf_puts(out, req->method)) < 0 || (rc = buf_append(out, "\n", 1)) < 0)
        return rc;
    if ((rc = sigv4_canonical_uri(req->raw_path, strlen(req->raw_path), out)) < 0 ||
        (rc = buf_append(out, "\n", 1)) < 0)
        return rc;
    const char *query = req->raw_query ? req->raw_query : "";
    if ((rc = sigv4_canonical_query(query, strlen(query), auth->presigned, out)) < 0 ||
        (rc = buf_append(out, "\n", 1)) < 0)
        return rc;
    for (unsigned i = 0; i < auth->header_count; i++) {
        memcpy(name, auth->signed_headers + auth->header_off[i], auth->header_len[i]);
        name[auth->header_len[i]] = '\0';
        const char *value = req->get_header(req->header_arg, name);
        if (!value)
            return SIGV4_EMISSINGHEADER;
        if ((rc = buf_puts(out, name)) < 0 || (rc = buf_append(out, ":", 1)) < 0 ||
            (rc = append_header_value(out, value)) < 0 || (rc = buf_append(out, "\n", 1)) < 0)
            return rc;
    }
    if ((rc = buf_append(out, "\n", 1)) < 0 || (rc = buf_puts(out, auth->signed_headers)) < 0 ||
        (rc = buf_append(out, "\n", 1)) < 0 || (rc = buf_puts(out, req->payload_hash)) < 0)
        return rc;
    return 0;
}

int sigv4_canonical_request(const struct sigv4_auth *auth, const struct sigv4_request *req,
                            struct buf *out)
{
    struct buf tmp;
    buf_init(&tmp, SIGV4_CANONICAL_MAX);
    int rc = own_cap(build_canonical(auth, req, &tmp));
    if (rc == 0)
        rc = buf_append(out, tmp.data, tmp.len);
    buf_release(&tmp);
    return rc;
}

int sigv4_string_to_sign(const struct sigv4_auth *auth, const char *canonical_request,
                         size_t len, struct buf *out)
{
    char scope[SIGV4_SCOPE_MAX + 1];
    uint8_t h[32];
    char hex[65];
    size_t mark = out->len;
    if (auth->amz_date[0] == '\0')
        return SIGV4_EINVAL;
    int rc = sigv4_scope(auth, scope, sizeof scope);
    if (rc < 0)
        return rc;
    sha256(canonical_request, len, h);
    hex_encode(h, 32, hex);
    rc = buf_printf(out, "%s\n%s\n%s\n%s", SIGV4_ALGORITHM, auth->amz_date, scope, hex);
    if (rc < 0)
        buf_truncate(out, mark);
    return rc;
}

void sigv4_signature(const uint8_t key[32], const char *string_to_sign, size_t len, char out[65])
{
    uint8_t mac[32];
    hmac_sha256(key, 32, string_to_sign, len, mac);
    hex_encode(mac, 32, out);
}

int sigv4_signature_equal(const char *a, const char *b)
{
    if (strlen(a) != 64 || strlen(b) != 64)
        return 0;
    return CRYPTO_memcmp(a, b, 64) == 0;
}

/* Canonical request and string to sign into two caller-initialized bufs. */
static int compute(const struct sigv4_auth *auth, const struct sigv4_request *req,
                   struct buf *creq, struct buf *sts)
{
    int rc = own_cap(build_canonical(auth, req, creq));
    if (rc < 0)
        return rc;
    return sigv4_string_to_sign(auth, creq->data, creq->len, sts);
}

int sigv4_verify(const struct sigv4_auth *auth, const struct sigv4_request *req,
                 const char *secret, uint8_t signing_key_out[32], char seed_signature_out[65])
{
    struct buf creq, sts;
    uint8_t key[32];
    char sig[65];
    int rc;
    buf_init(&creq, SIGV4_CANONICAL_MAX);
    buf_init(&sts, 1024);
    if (!auth || !req || !secret) {
        rc = SIGV4_EINVAL;
        goto out;
    }
    if ((rc = compute(auth, req, &creq, &sts)) < 0)
        goto out;
    sigv4_signing_key(secret, auth->date, auth->region, auth->service, key);
    sigv4_signature(key, sts.data, sts.len, sig);
    if (!sigv4_signature_equal(sig, auth->signature)) {
        rc = SIGV4_EMISMATCH;
        goto out;
    }
    if (signing_key_out)
        memcpy(signing_key_out, key, 32);
    if (seed_signature_out)
        memcpy(seed_signature_out, sig, 65);
out:
    OPENSSL_cleanse(key, sizeof key);
    buf_release(&creq);
    buf_release(&sts);
    return rc;
}

int sigv4_explain(const struct sigv4_auth *auth, const struct sigv4_request *req,
                  struct buf *canonical_request, struct buf *string_to_sign)
{
    struct buf creq, sts;
    buf_init(&creq, SIGV4_CANONICAL_MAX);
    buf_init(&sts, 1024);
    size_t m1 = canonical_request ? canonical_request->len : 0;
    int rc = compute(auth, req, &creq, &sts);
    if (rc == 0 && canonical_request)
        rc = buf_append(canonical_request, creq.data, creq.len);
    if (rc == 0 && string_to_sign)
        rc = buf_append(string_to_sign, sts.data, sts.len);
    if (rc < 0 && canonical_request)
        buf_truncate(canonical_request, m1);
    buf_release(&creq);
    buf_release(&sts);
    return rc;
}

/* ---- client side ----------------------------------------------------- */

struct header_list {
    const struct sigv4_header *h;
    size_t n;
};

static const char *header_list_get(void *arg, const char *name)
{
    const struct header_list *l = arg;
    for (size_t i = 0; i < l->n; i++)
        if (strcasecmp(l->h[i].name, name) == 0)
            return l->h[i].value;
    return NULL;
}

static int name_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int valid_field(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_credential_char((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Fill the identity part of an auth from client credentials and a time. */
static int client_auth(const struct sigv4_credentials *cred, time_t now, struct sigv4_auth *a)
{
    memset(a, 0, sizeof *a);
    if (!cred || !cred->secret || !valid_field(cred->access_key, SIGV4_ACCESS_KEY_MAX) ||
        !valid_field(cred->region, SIGV4_REGION_MAX) ||
        !valid_field(cred->service, SIGV4_SERVICE_MAX))
        return SIGV4_EINVAL;
    strcpy(a->access_key, cred->access_key);
    strcpy(a->region, cred->region);
    strcpy(a->service, cred->service);
    sigv4_format_amz_date(now, a->amz_date);
    memcpy(a->date, a->amz_date, 8);
    a->date[8] = '\0';
    return 0;
}

int sigv4_sign_headers(const struct sigv4_credentials *cred, const char *method,
                       const char *path, const char *query,
                       const struct sigv4_header *headers, size_t count,
                       const char *payload_hash, time_t now,
                       struct buf *authorization, char signature_out[65])
{
    struct sigv4_auth a;
    struct buf creq, sts;
    const char *names[SIGV4_SIGNED_HEADER_COUNT_MAX];
    char lower[SIGV4_SIGNED_HEADER_COUNT_MAX][128];
    uint8_t key[32];
    char sig[65], scope[SIGV4_SCOPE_MAX + 1];
    size_t mark = authorization ? authorization->len : 0;
    int rc;

    buf_init(&creq, SIGV4_CANONICAL_MAX);
    buf_init(&sts, 1024);
    if (!method || !path || path[0] != '/' || !headers || count == 0 || !authorization) {
        rc = SIGV4_EINVAL;
        goto out;
    }
    if (count > SIGV4_SIGNED_HEADER_COUNT_MAX) {
        rc = SIGV4_ETOOLONG;
        goto out;
    }
    if ((rc = client_auth(cred, now, &a)) < 0)
        goto out;

    /* lower-case, check and sort the names */
    for (size_t i = 0; i < count; i++) {
        const char *nm = headers[i].name;
        size_t n = nm ? strlen(nm) : 0;
        if (n == 0 || n >= sizeof lower[0] || !headers[i].value) {
            rc = n >= sizeof lower[0] ? SIGV4_ETOOLONG : SIGV4_EINVAL;
            goto out;
        }
        for (size_t k = 0; k <= n; k++) {
            unsigned char c = (unsigned char)nm[k];
            if (k < n && !is_tchar(c)) {
                rc = SIGV4_EINVAL;
                goto out;
            }
            lower[i][k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        names[i] = lower[i];
    }
    qsort(names, count, sizeof names[0], name_cmp);
    struct buf list;
    buf_init(&list, SIGV4_SIGNED_HEADERS_MAX);
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (i && strcmp(names[i], names[i - 1]) == 0)
            rc = SIGV4_EINVAL;
        else if ((i && (rc = buf_append(&list, ";", 1)) < 0) || (rc = buf_puts(&list, names[i])) < 0)
            rc = own_cap(rc);
    }
    if (rc == 0)
        rc = parse_signed_headers(list.data, list.len, &a, SIGV4_EINVAL); /* needs host */
    buf_release(&list);
    if (rc < 0)
        goto out;

    struct header_list hl = {headers, count};
    const char *date = header_list_get(&hl, "x-amz-date");
    if (!date || strcmp(date, a.amz_date) != 0) {
        rc = SIGV4_EINVAL;
        goto out;
    }
    if (!payload_hash)
        payload_hash = header_list_get(&hl, "x-amz-content-sha256");
    if (!payload_hash) {
        rc = SIGV4_EINVAL;
        goto out;
    }
    struct sigv4_request req = {
        .method = method,
        .raw_path = path,
        .raw_query = query,
        .get_header = header_list_get,
        .header_arg = &hl,
        .payload_hash = payload_hash,
    };
    if ((rc = compute(&a, &req, &creq, &sts)) < 0)
        goto out;
    sigv4_signing_key(cred->secret, a.date, a.region, a.service, key);
    sigv4_signature(key, sts.data, sts.len, sig);
    OPENSSL_cleanse(key, sizeof key);
    if ((rc = sigv4_scope(&a, scope, sizeof scope)) < 0)
        goto out;
    rc = buf_printf(authorization, "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                    SIGV4_ALGORITHM, a.access_key, scope, a.signed_headers, sig);
    if (rc < 0)
        goto out;
    if (signature_out)
        memcpy(signature_out, sig, 65);
out:
    if (rc < 0 && authorization)
        buf_truncate(authorization, mark);
    buf_release(&creq);
    buf_release(&sts);
    return rc;
}

int sigv4_presign_url(const struct sigv4_credentials *cred, const char *method,
                      const char *endpoint, const char *path, const char *query,
                      long expires, time_t now, struct buf *url_out)
{
    struct sigv4_auth a;
    struct buf q, creq, sts, credential;
    char host[256], scope[SIGV4_SCOPE_MAX + 1], sig[65];
    uint8_t key[32];
    size_t mark = url_out ? url_out->len : 0;
    int rc;

    buf_init(&q, URI_QUERY_MAX_LEN);
    buf_init(&creq, SIGV4_CANONICAL_MAX);
    buf_init(&sts, 1024);
    buf_init(&credential, 512);
    if (!method || !endpoint || !path || path[0] != '/' || !url_out) {
        rc = SIGV4_EINVAL;
        goto out;
    }
    if (expires < 1 || expires > SIGV4_EXPIRES_MAX) {
        rc = SIGV4_EEXPIRES;
        goto out;
    }
    if ((rc = client_auth(cred, now, &a)) < 0)
        goto out;

    /* host = authority of the endpoint, default port dropped */
    const char *auth_start;
    int https = 0;
    if (strncmp(endpoint, "http://", 7) == 0) {
        auth_start = endpoint + 7;
    } else if (strncmp(endpoint, "https://", 8) == 0) {
        auth_start = endpoint + 8;
        https = 1;
    } else {
        rc = SIGV4_EINVAL;
        goto out;
    }
    size_t hlen = strlen(auth_start);
    if (hlen == 0 || hlen >= sizeof host || strchr(auth_start, '/') || strchr(auth_start, '?')) {
        rc = SIGV4_EINVAL;
        goto out;
    }
    memcpy(host, auth_start, hlen + 1);
    const char *dflt = https ? ":443" : ":80";
    size_t dlen = strlen(dflt);
    if (hlen > dlen && strcmp(host + hlen - dlen, dflt) == 0)
        host[hlen - dlen] = '\0';

    if ((rc = parse_signed_headers("host", 4, &a, SIGV4_EINVAL)) < 0)
        goto out;
    if ((rc = sigv4_scope(&a, scope, sizeof scope)) < 0)
        goto out;
    if ((rc = buf_printf(&credential, "%s/%s", a.access_key, scope)) < 0)
        goto out;
    if ((query && query[0] && ((rc = buf_puts(&q, query)) < 0 || (rc = buf_append(&q, "&", 1)) < 0)) ||
        (rc = buf_printf(&q, "X-Amz-Algorithm=%s&X-Amz-Credential=", SIGV4_ALGORITHM)) < 0 ||
        (rc = uri_encode(&q, credential.data, credential.len, 0)) < 0 ||
        (rc = buf_printf(&q, "&X-Amz-Date=%s&X-Amz-Expires=%ld&X-Amz-SignedHeaders=host",
                         a.amz_date, expires)) < 0) {
        rc = own_cap(rc);
        goto out;
    }

    struct sigv4_header hh = {"host", host};
    struct header_list hl = {&hh, 1};
    struct sigv4_request req = {
        .method = method,
        .raw_path = path,
        .raw_query = q.data,
        .get_header = header_list_get,
        .header_arg = &hl,
        .payload_hash = SIGV4_UNSIGNED_PAYLOAD,
    };
    if ((rc = compute(&a, &req, &creq, &sts)) < 0)
        goto out;
    sigv4_signing_key(cred->secret, a.date, a.region, a.service, key);
    sigv4_signature(key, sts.data, sts.len, sig);
    OPENSSL_cleanse(key, sizeof key);
    rc = buf_printf(url_out, "%s%s?%s&X-Amz-Signature=%s", endpoint, path, q.data, sig);
out:
    if (rc < 0 && url_out)
        buf_truncate(url_out, mark);
    buf_release(&q);
    buf_release(&creq);
    buf_release(&sts);
    buf_release(&credential);
    return rc;
}

int sigv4_presign_object(const struct sigv4_credentials *cred, const char *method,
                         const char *endpoint, const char *bucket, const char *key,
                         long expires, time_t now, struct buf *url_out)
{
    if (!bucket || !*bucket || !key || !*key)
        return SIGV4_EINVAL;
    struct buf path;
    buf_init(&path, 16384); /* an S3 key (1 KiB) encodes to at most 3 KiB */
    int rc = buf_printf(&path, "/%s/", bucket);
    if (rc == 0)
        rc = uri_encode(&path, key, strlen(key), URI_KEEP_SLASH);
    if (rc == 0)
        rc = sigv4_presign_url(cred, method, endpoint, path.data, NULL, expires, now, url_out);
    else
        rc = own_cap(rc);
    buf_release(&path);
    return rc;
}

int sigv4_parse_expires(const char *s, long *seconds)
{
    long v = 0, unit = 1;
    const char *p = s;
    if (!s || !seconds || *p < '0' || *p > '9')
        return SIGV4_EINVAL;
    int too_big = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > SIGV4_EXPIRES_MAX) {
            too_big = 1; /* keep reading: a malformed tail still counts */
            v = SIGV4_EXPIRES_MAX + 1;
        }
    }
    switch (*p) {
    case '\0': break;
    case 's': unit = 1; p++; break;
    case 'm': unit = 60; p++; break;
    case 'h': unit = 3600; p++; break;
    case 'd': unit = 86400; p++; break;
    default: return SIGV4_EINVAL;
    }
    if (*p)
        return SIGV4_EINVAL;
    if (too_big || v < 1 || v > SIGV4_EXPIRES_MAX / unit)
        return SIGV4_EEXPIRES;
    *seconds = v * unit;
    return 0;
}
