/* Unit tests for common/sse_crypto: derivations are deterministic and
 * separate the domains, sealing round-trips and is convergent, GCM detects
 * every kind of tampering, the SSE-C key check, the key file rules. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/hash.h"
#include "common/sse_crypto.h"

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static void test_domains(void **state)
{
    (void)state;
    uint8_t master[32], other[32];
    struct sse_domain a, b, c, d;
    fill(master, 32, 1);
    fill(other, 32, 2);
    assert_int_equal(sse_domain_s3(master, &a), 0);
    assert_int_equal(sse_domain_s3(master, &b), 0);
    assert_memory_equal(a.key, b.key, 32); /* deterministic */
    assert_int_equal(sse_domain_customer(master, &c), 0);
    assert_memory_not_equal(a.key, c.key, 32); /* same bytes, other kind of key */
    assert_memory_not_equal(a.key, master, 32);
    assert_int_equal(sse_domain_s3(other, &d), 0);
    assert_memory_not_equal(a.key, d.key, 32);
    /* pinned value: the derivation is part of the data format */
    uint8_t zero[32] = {0};
    char hex[65];
    assert_int_equal(sse_domain_s3(zero, &d), 0);
    hex_encode(d.key, 32, hex);
    /* RFC 5869 HKDF-SHA256, salt empty, computed independently */
    assert_string_equal(hex, "0e1ec0657cd8cc4d859a35b143712a6a5471a610f55fbb6ffe0eafefc8231f63");
    struct sse_domain again;
    assert_int_equal(sse_domain_s3(zero, &again), 0);
    assert_memory_equal(d.key, again.key, 32);
    sse_domain_wipe(&again);
    uint8_t wiped[32] = {0};
    assert_memory_equal(again.key, wiped, 32);
}

static void test_chunk_ids(void **state)
{
    (void)state;
    uint8_t m[32], h1[32], h2[32], id1[32], id1b[32], id2[32], id3[32];
    struct sse_domain a, b;
    fill(m, 32, 3);
    sse_domain_s3(m, &a);
    sse_domain_customer(m, &b);
    sha256("one", 3, h1);
    sha256("two", 3, h2);
    sse_chunk_id(&a, h1, id1);
    sse_chunk_id(&a, h1, id1b);
    sse_chunk_id(&a, h2, id2);
    sse_chunk_id(&b, h1, id3);
    assert_memory_equal(id1, id1b, 32);       /* convergent within a domain */
    assert_memory_not_equal(id1, id2, 32);
    assert_memory_not_equal(id1, id3, 32);    /* nothing shared across domains */
    assert_memory_not_equal(id1, h1, 32);     /* the plaintext hash does not show */
}

static void test_seal_open(void **state)
{
    (void)state;
    uint8_t m[32], seed[32], seed2[32];
    struct sse_domain d, e;
    fill(m, 32, 4);
    fill(seed, 32, 5);
    fill(seed2, 32, 6);
    sse_domain_s3(m, &d);
    sse_domain_customer(m, &e);
    for (size_t len = 1; len <= (1u << 20); len = len * 7 + 3) {
        uint8_t *pt = malloc(len), *ct = malloc(len + SSE_TAG_LEN), *ct2 = malloc(len + SSE_TAG_LEN);
        uint8_t *back = malloc(len);
        fill(pt, len, (uint32_t)len);
        assert_int_equal(sse_seal(&d, seed, pt, len, ct), 0);
        assert_int_equal(sse_seal(&d, seed, pt, len, ct2), 0);
        assert_memory_equal(ct, ct2, len + SSE_TAG_LEN); /* deterministic: dedup */
        if (len >= 16)
            assert_memory_not_equal(ct, pt, len);
        assert_int_equal(sse_open(&d, seed, ct, len + SSE_TAG_LEN, back), 0);
        assert_memory_equal(back, pt, len);
        /* another seed or domain gives other bytes */
        assert_int_equal(sse_seal(&d, seed2, pt, len, ct2), 0);
        assert_memory_not_equal(ct, ct2, len + SSE_TAG_LEN);
        assert_int_equal(sse_seal(&e, seed, pt, len, ct2), 0);
        assert_memory_not_equal(ct, ct2, len + SSE_TAG_LEN);
        /* in place */
        memcpy(ct2, pt, len);
        assert_int_equal(sse_seal(&d, seed, ct2, len, ct2), 0);
        assert_memory_equal(ct2, ct, len + SSE_TAG_LEN);
        assert_int_equal(sse_open(&d, seed, ct2, len + SSE_TAG_LEN, ct2), 0);
        assert_memory_equal(ct2, pt, len);
        free(pt);
        free(ct);
        free(ct2);
        free(back);
    }
    uint8_t one = 1, buf[64];
    assert_int_equal(sse_seal(&d, seed, &one, 0, buf), -EINVAL);
    assert_int_equal(sse_open(&d, seed, buf, SSE_TAG_LEN, buf), -EINVAL);
}

static void test_tamper_detected(void **state)
{
    (void)state;
    enum { N = 5000 };
    uint8_t m[32], seed[32], pt[N], ct[N + SSE_TAG_LEN], bad[N + SSE_TAG_LEN], out[N];
    struct sse_domain d, other;
    fill(m, 32, 7);
    fill(seed, 32, 8);
    fill(pt, N, 9);
    sse_domain_s3(m, &d);
    sse_domain_customer(m, &other);
    assert_int_equal(sse_seal(&d, seed, pt, N, ct), 0);
    /* a flipped bit anywhere: ciphertext start, middle, end, tag */
    const size_t at[] = {0, 1, N / 2, N - 1, N, N + SSE_TAG_LEN - 1};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        memcpy(bad, ct, sizeof ct);
        bad[at[i]] ^= 0x10;
        memset(out, 0xAA, N);
        assert_int_equal(sse_open(&d, seed, bad, sizeof bad, out), SSE_EAUTH);
        uint8_t zero[N];
        memset(zero, 0, N);
        assert_memory_equal(out, zero, N); /* no unauthenticated plaintext left */
    }
    /* the wrong domain, the wrong seed (another chunk's id), a truncation */
    assert_int_equal(sse_open(&other, seed, ct, sizeof ct, out), SSE_EAUTH);
    uint8_t seed2[32];
    memcpy(seed2, seed, 32);
    seed2[31] ^= 1;
    assert_int_equal(sse_open(&d, seed2, ct, sizeof ct, out), SSE_EAUTH);
    assert_int_equal(sse_open(&d, seed, ct, sizeof ct - 1, out), SSE_EAUTH);
    assert_int_equal(sse_open(&d, seed, ct, sizeof ct, out), 0);
    assert_memory_equal(out, pt, N);
}

static void test_key_check(void **state)
{
    (void)state;
    uint8_t k1[32], k2[32], c1[SSE_CHECK_LEN], c2[SSE_CHECK_LEN];
    fill(k1, 32, 10);
    fill(k2, 32, 11);
    assert_int_equal(sse_key_check_new(k1, c1), 0);
    assert_int_equal(sse_key_check_new(k1, c2), 0);
    assert_memory_not_equal(c1, c2, SSE_CHECK_LEN); /* salted: no linking */
    assert_int_equal(sse_key_check_verify(k1, c1), 1);
    assert_int_equal(sse_key_check_verify(k1, c2), 1);
    assert_int_equal(sse_key_check_verify(k2, c1), 0);
    c1[20] ^= 1;
    assert_int_equal(sse_key_check_verify(k1, c1), 0);
    char f1[65], f2[65];
    sse_master_fingerprint(k1, f1);
    sse_master_fingerprint(k1, f2);
    assert_string_equal(f1, f2);
    sse_master_fingerprint(k2, f2);
    assert_string_not_equal(f1, f2);
}

static void test_keyfile(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-sse-unit.XXXXXX", path[128];
    uint8_t k1[32], k2[32];
    int created = -1;
    struct stat st;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/master.key", dir);
    assert_int_equal(sse_keyfile_load(path, 0, k1, &created), -ENOENT);
    assert_int_equal(sse_keyfile_load(path, 1, k1, &created), 0);
    assert_int_equal(created, 1);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(sse_keyfile_load(path, 1, k2, &created), 0);
    assert_int_equal(created, 0);
    assert_memory_equal(k1, k2, 32);
    chmod(path, 0640);
    assert_int_equal(sse_keyfile_load(path, 1, k2, &created), -EPERM);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abcd\n", 5), 5);
    close(fd);
    assert_int_equal(sse_keyfile_load(path, 1, k2, &created), -EINVAL);
    unlink(path);
    rmdir(dir);
}

/* The sealed format is data on disk: pinned against an independent
 * implementation (Python hmac/hashlib and the cryptography package's
 * AESGCM, following docs/encryption.md): master key all zeros, chunk
 * "hello, sealed world". */
static void test_format_pinned(void **state)
{
    (void)state;
    static const char pt[] = "hello, sealed world";
    uint8_t zero[32] = {0}, h[32], id[32], sealed[sizeof pt - 1 + SSE_TAG_LEN];
    char hex[2 * sizeof sealed + 1];
    struct sse_domain d;
    assert_int_equal(sse_domain_s3(zero, &d), 0);
    sha256(pt, sizeof pt - 1, h);
    sse_chunk_id(&d, h, id);
    hex_encode(id, 32, hex);
    assert_string_equal(hex, "8fa91aa58b57101a6cba8cdd09ce437075c1db275256ed520180443f026b31fa");
    assert_int_equal(sse_seal(&d, id, pt, sizeof pt - 1, sealed), 0);
    hex_encode(sealed, sizeof sealed, hex);
    assert_string_equal(hex, "7753a7c3a4f2f05890133d140712dbe40adc87d24b0c8e1a378527de48918ba06"
                             "2554d");
}

/* Every length class the AES-GCM code has (partial blocks, whole blocks,
 * long runs) seals to the bytes the original OpenSSL-based build wrote:
 * SHA-256 of the sealed output, pinned. */
static void test_lengths_pinned(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        const char *sha256;
    } cases[] = {
        {1, "1792597c306437aaba9758c66e9c25b2ddc7a5a6502bcfb616b76cb8dcc98b33"},
        {15, "8f0ed5049fda3efd86c3e4a221ccf4b4fd4b85f63dc0b960d647126fed6360c7"},
        {16, "39836875ec4de2827a0b7dca7959ce8413bf0ecfea69695c8a3b1bfd2e2d5763"},
        {17, "b9b789f2163d2df18da3857ddc40dee54ce61737d3c783aed8d4fbdb74dcd01e"},
        {255, "fb08b35078bc0abb0466bb22cc150389e4aae105566b15b94c32599ef3d3699b"},
        {256, "0464ceb3e5451e87b56b67528bea064f2a09f0c77d56bf217f57ead34280aa11"},
        {4099, "cecebe23988ddddb02528bb3a19c7c9f1b167a125cc964604ee3e42475ca43d2"},
        {65543, "0489d7cd0f1f86460e476cd344b36343f53367856b8885e3f387608b345cb45c"},
        {1048581, "962e22fceb7b9c284313e4cff96ba98f9d19c7e6e6e1a5d8d9fad01976040a6f"},
    };
    uint8_t m[32], seed[32], h[32];
    char hex[65];
    struct sse_domain d;
    fill(m, 32, 41);
    fill(seed, 32, 42);
    assert_int_equal(sse_domain_s3(m, &d), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].len;
        uint8_t *buf = malloc(n + SSE_TAG_LEN), *back = malloc(n);
        assert_non_null(buf);
        assert_non_null(back);
        fill(buf, n, (uint32_t)n);
        assert_int_equal(sse_seal(&d, seed, buf, n, buf), 0);
        sha256(buf, n + SSE_TAG_LEN, h);
        hex_encode(h, 32, hex);
        if (strcmp(hex, cases[i].sha256) != 0)
            print_message("len %zu: %s\n", n, hex);
        assert_string_equal(hex, cases[i].sha256);
        assert_int_equal(sse_open(&d, seed, buf, n + SSE_TAG_LEN, back), 0);
        fill(buf, n, (uint32_t)n);
        assert_memory_equal(back, buf, n);
        free(buf);
        free(back);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domains),
        cmocka_unit_test(test_chunk_ids),
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_tamper_detected),
        cmocka_unit_test(test_key_check),
        cmocka_unit_test(test_keyfile),
        cmocka_unit_test(test_format_pinned),
        cmocka_unit_test(test_lengths_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
