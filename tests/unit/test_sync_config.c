/* Unit tests for sync-client/sync_config: s3:// URLs and endpoints, the
 * folder's config file, the folder list, and where credentials come
 * from.  (The --expires durations are common/sigv4's, tested in
 * test_common_sigv4.) */
#include <errno.h>
#include <limits.h>
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

#include "sync-client/sync_config.h"

static char tmp_root[64];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    static char text[8192];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    return text;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/cairn-config-XXXXXX");
    assert_non_null(mkdtemp(tmp_root));
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_PROFILE");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_root);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* ---- s3:// URLs and endpoints --------------------------------------------- */

static void expect_url(const char *url, const char *bucket, const char *prefix)
{
    char b[SYNC_CONFIG_BUCKET_MAX + 1] = "untouched", p[SYNC_CONFIG_VALUE_MAX + 1] = "untouched";
    assert_int_equal(sync_config_parse_s3_url(url, b, p), 0);
    assert_string_equal(b, bucket);
    assert_string_equal(p, prefix);
}

static void expect_bad_url(const char *url, int err)
{
    char b[SYNC_CONFIG_BUCKET_MAX + 1] = "untouched", p[SYNC_CONFIG_VALUE_MAX + 1] = "untouched";
    assert_int_equal(sync_config_parse_s3_url(url, b, p), err);
    assert_string_equal(b, "untouched");
    assert_string_equal(p, "untouched");
}

static void test_s3_url(void **state)
{
    (void)state;
    expect_url("s3://photos", "photos", "");
    expect_url("s3://photos/", "photos", "");
    expect_url("s3://photos/laptop", "photos", "laptop/");
    expect_url("s3://photos/laptop/", "photos", "laptop/");
    expect_url("s3://my.bucket-1/a/b c/d", "my.bucket-1", "a/b c/d/");
    expect_url("s3://photos/f\xc3\xbcr Oma/", "photos", "f\xc3\xbcr Oma/");
    expect_url("s3://Legacy_Bucket/x", "Legacy_Bucket", "x/");

    expect_bad_url(NULL, SYNC_EINVAL);
    expect_bad_url("", SYNC_EINVAL);
    expect_bad_url("photos/laptop", SYNC_EINVAL);
    expect_bad_url("http://photos/laptop", SYNC_EINVAL);
    expect_bad_url("S3://photos", SYNC_EINVAL);
    expect_bad_url("s3://", SYNC_EINVAL);
    expect_bad_url("s3:///laptop", SYNC_EINVAL);
    expect_bad_url("s3://ab", SYNC_EINVAL);            /* too short */
    expect_bad_url("s3://pho tos/x", SYNC_EINVAL);     /* not URL-safe */
    expect_bad_url("s3://pho%20tos", SYNC_EINVAL);
    expect_bad_url("s3://photos?x=1", SYNC_EINVAL);
    expect_bad_url("s3://photos//", SYNC_EINVAL);      /* empty component */
    expect_bad_url("s3://photos/a//b", SYNC_EINVAL);
    expect_bad_url("s3://photos/./a", SYNC_EINVAL);
    expect_bad_url("s3://photos/a/..", SYNC_EINVAL);
    expect_bad_url("s3://photos/\xff", SYNC_EINVAL);    /* not UTF-8 */

    char url[512];
    snprintf(url, sizeof url, "s3://%064d", 0);         /* 64-byte bucket */
    expect_bad_url(url, SYNC_ETOOLONG);
    snprintf(url, sizeof url, "s3://%063d", 0);
    char b[SYNC_CONFIG_BUCKET_MAX + 1], p[SYNC_CONFIG_VALUE_MAX + 1];
    assert_int_equal(sync_config_parse_s3_url(url, b, p), 0);
    /* the prefix must fit a config line: 175 bytes and the '/' do, and
     * each escaped byte takes three */
    char long_prefix[300];
    memset(long_prefix, 'a', 175);
    long_prefix[175] = 0;
    snprintf(url, sizeof url, "s3://photos/%s", long_prefix);
    assert_int_equal(sync_config_parse_s3_url(url, b, p), 0);
    assert_int_equal(strlen(p), 176);
    snprintf(url, sizeof url, "s3://photos/%sa", long_prefix);
    expect_bad_url(url, SYNC_ETOOLONG);
    memset(long_prefix, ';', 60);
    long_prefix[60] = 0;
    snprintf(url, sizeof url, "s3://photos/%s", long_prefix);
    expect_bad_url(url, SYNC_ETOOLONG);
}

static void test_endpoint(void **state)
{
    (void)state;
    char out[SYNC_CONFIG_VALUE_MAX + 1];
    assert_int_equal(sync_config_parse_endpoint("http://127.0.0.1:9000", out), 0);
    assert_string_equal(out, "http://127.0.0.1:9000");
    assert_int_equal(sync_config_parse_endpoint("https://s3.example.com/", out), 0);
    assert_string_equal(out, "https://s3.example.com");
    assert_int_equal(sync_config_parse_endpoint("http://[::1]:9000", out), 0);
    assert_string_equal(out, "http://[::1]:9000");
    const char *bad[] = {"", "127.0.0.1:9000", "ftp://host", "http://", "http:///",
                         "http://host/path", "http://host?x", "http://user@host",
                         "http://ho st", "https://host//"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sync_config_parse_endpoint(bad[i], out), SYNC_EINVAL);
    assert_int_equal(sync_config_parse_endpoint(NULL, out), SYNC_EINVAL);
}

/* ---- the folder's config ---------------------------------------------------- */

static void test_config_round_trip(void **state)
{
    (void)state;
    char path[PATH_MAX], why[PATH_MAX + 200];
    struct sync_config in, out;
    struct stat st;
    memset(&in, 0, sizeof in);
    snprintf(in.endpoint, sizeof in.endpoint, "http://127.0.0.1:9000");
    snprintf(in.bucket, sizeof in.bucket, "photos");
    snprintf(in.prefix, sizeof in.prefix, "laptop/");
    snprintf(in.region, sizeof in.region, "eu-west-1");
    snprintf(in.profile, sizeof in.profile, "work");
    assert_int_equal(sync_config_save(tmp_root, &in), 0);

    snprintf(path, sizeof path, "%s/.cairn-sync", tmp_root);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/.cairn-sync/config", tmp_root);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    const char *text = read_text(path);
    assert_non_null(strstr(text, "[sync]\n"));
    assert_non_null(strstr(text, "\nendpoint = http://127.0.0.1:9000\n"));
    assert_non_null(strstr(text, "\nbucket = photos\n"));
    assert_non_null(strstr(text, "\nprefix = laptop/\n"));
    assert_non_null(strstr(text, "\nregion = eu-west-1\n"));
    assert_non_null(strstr(text, "\nprofile = work\n"));

    memset(&out, 0x55, sizeof out);
    assert_int_equal(sync_config_load(tmp_root, &out, why, sizeof why), 0);
    assert_memory_equal(&in, &out, sizeof in);

    /* what an INI line cannot carry goes through as %XX */
    snprintf(in.prefix, sizeof in.prefix, " a;b #c 100%%\t/");
    snprintf(in.profile, sizeof in.profile, "; not a comment");
    in.region[0] = 0;
    assert_int_equal(sync_config_save(tmp_root, &in), 0);
    text = read_text(path);
    assert_non_null(strstr(text, "\nprefix = %20a%3Bb%20%23c%20100%25%09/\n"));
    assert_int_equal(sync_config_load(tmp_root, &out, NULL, 0), 0);
    assert_string_equal(out.prefix, in.prefix);
    assert_string_equal(out.profile, in.profile);
    assert_string_equal(out.region, SYNC_CONFIG_DEFAULT_REGION); /* the default */

    /* save refuses what would not read back */
    struct sync_config bad = in;
    snprintf(bad.prefix, sizeof bad.prefix, "no-slash");
    assert_int_equal(sync_config_save(tmp_root, &bad), SYNC_EINVAL);
    bad = in;
    snprintf(bad.endpoint, sizeof bad.endpoint, "http://host/");
    assert_int_equal(sync_config_save(tmp_root, &bad), SYNC_EINVAL);
    bad = in;
    bad.bucket[0] = 0;
    assert_int_equal(sync_config_save(tmp_root, &bad), SYNC_EINVAL);
    assert_int_equal(sync_config_load(tmp_root, &out, NULL, 0), 0);
    assert_string_equal(out.prefix, in.prefix); /* the file is as it was */
}

static void test_config_errors(void **state)
{
    (void)state;
    char path[PATH_MAX + 16], dir[PATH_MAX], why[PATH_MAX + 200];
    struct sync_config out, before;
    memset(&out, 0x55, sizeof out);
    before = out;
    assert_int_equal(sync_config_load(tmp_root, &out, why, sizeof why), -ENOENT);
    snprintf(dir, sizeof dir, "%s/.cairn-sync", tmp_root);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/config", dir);

    write_text(path, "[sync]\nendpoint = http://h:1\n");
    assert_int_equal(sync_config_load(tmp_root, &out, why, sizeof why), SYNC_ECORRUPT);
    assert_non_null(strstr(why, "no bucket"));
    write_text(path, "[sync]\nbucket = photos\n");
    assert_int_equal(sync_config_load(tmp_root, &out, why, sizeof why), SYNC_ECORRUPT);
    assert_non_null(strstr(why, "no endpoint"));
    write_text(path, "[sync]\nendpoint = http://h:1\nbucket = photos\nthis is not ini\n");
    assert_int_equal(sync_config_load(tmp_root, &out, why, sizeof why), SYNC_ECORRUPT);
    assert_non_null(strstr(why, "line 4"));
    write_text(path, "[sync]\nendpoint = h:1\nbucket = photos\n");
    assert_int_equal(sync_config_load(tmp_root, &out, why, sizeof why), SYNC_ECORRUPT);
    assert_non_null(strstr(why, "endpoint"));
    write_text(path, "[sync]\nendpoint = http://h:1\nbucket = photos\nprefix = a//b/\n");
    assert_int_equal(sync_config_load(tmp_root, &out, why, sizeof why), SYNC_ECORRUPT);
    write_text(path, "[sync]\nendpoint = http://h:1\nbucket = photos\nprofile = %zz\n");
    assert_int_equal(sync_config_load(tmp_root, &out, why, sizeof why), SYNC_ECORRUPT);
    assert_memory_equal(&out, &before, sizeof out); /* untouched on errors */

    /* hand-written: no section, a prefix without its '/', unknown keys,
     * keys of other sections ignored */
    write_text(path, "endpoint = http://h:1\nbucket = photos\nprefix = docs\nfuture = 1\n"
                     "[other]\nbucket = nope\n");
    assert_int_equal(sync_config_load(tmp_root, &out, why, sizeof why), 0);
    assert_string_equal(out.bucket, "photos");
    assert_string_equal(out.prefix, "docs/");
    assert_string_equal(out.profile, "");
}

static void test_find_folder(void **state)
{
    (void)state;
    char folder[PATH_MAX], path[PATH_MAX + 64], out[PATH_MAX];
    struct sync_config cfg = {.endpoint = "http://h:1", .bucket = "photos", .region = "r"};
    snprintf(folder, sizeof folder, "%s/synced", tmp_root);
    assert_int_equal(mkdir(folder, 0755), 0);
    assert_int_equal(sync_config_save(folder, &cfg), 0);
    snprintf(path, sizeof path, "%s/a/b/c.txt", folder); /* need not exist */
    assert_int_equal(sync_config_find_folder(path, out, sizeof out), 0);
    assert_string_equal(out, folder);
    snprintf(path, sizeof path, "%s/", folder);
    assert_int_equal(sync_config_find_folder(path, out, sizeof out), 0);
    assert_string_equal(out, folder);
    assert_int_equal(sync_config_find_folder(tmp_root, out, sizeof out), SYNC_ENOTFOUND);
    assert_int_equal(sync_config_find_folder("/", out, sizeof out), SYNC_ENOTFOUND);
    assert_int_equal(sync_config_find_folder(path, out, 4), SYNC_ETOOLONG);
}

/* ---- the folder list ---------------------------------------------------------- */

static void expect_list(const char *file, size_t n, ...)
{
    struct sync_config_folders l;
    va_list ap;
    assert_int_equal(sync_config_folders_read(file, &l), 0);
    assert_int_equal(l.n, n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l.paths[i], va_arg(ap, const char *));
    va_end(ap);
    sync_config_folders_release(&l);
}

static void test_folder_list(void **state)
{
    (void)state;
    char file[PATH_MAX], dir[PATH_MAX];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/xdg", tmp_root);
    setenv("XDG_CONFIG_HOME", dir, 1);
    assert_int_equal(sync_config_folders_path(file, sizeof file), 0);
    snprintf(dir, sizeof dir, "%s/xdg/cairn-sync/folders", tmp_root);
    assert_string_equal(file, dir);

    expect_list(file, 0); /* no file yet: empty */
    assert_int_equal(sync_config_folders_add(file, "/home/u/Photos"), 0);
    snprintf(dir, sizeof dir, "%s/xdg/cairn-sync", tmp_root);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(sync_config_folders_add(file, "/home/u/Docs"), 0);
    assert_int_equal(sync_config_folders_add(file, "/home/u/Photos"), 1); /* listed already */
    assert_int_equal(sync_config_folders_add(file, "/home/u/My Files"), 0);
    expect_list(file, 3, "/home/u/Photos", "/home/u/Docs", "/home/u/My Files");
    const char *text = read_text(file);
    assert_non_null(strstr(text, "\n/home/u/Photos\n/home/u/Docs\n/home/u/My Files\n"));

    assert_int_equal(sync_config_folders_remove(file, "/home/u/Docs"), 0);
    assert_int_equal(sync_config_folders_remove(file, "/home/u/Docs"), SYNC_ENOTFOUND);
    expect_list(file, 2, "/home/u/Photos", "/home/u/My Files");
    assert_int_equal(sync_config_folders_remove(file, "/home/u/Photos"), 0);
    assert_int_equal(sync_config_folders_remove(file, "/home/u/My Files"), 0);
    expect_list(file, 0);

    assert_int_equal(sync_config_folders_add(file, "relative/path"), SYNC_EINVAL);
    assert_int_equal(sync_config_folders_add(file, "/a\nb"), SYNC_EINVAL);
    assert_int_equal(sync_config_folders_add(file, NULL), SYNC_EINVAL);

    /* hand-edited: comments, blank lines, CRLF */
    write_text(file, "# mine\n\n/x\r\n/y\n/x\n");
    expect_list(file, 2, "/x", "/y");
    assert_int_equal(sync_config_folders_add(file, "/z"), 0);
    expect_list(file, 3, "/x", "/y", "/z");
    write_text(file, "/x\nnot/absolute\n");
    struct sync_config_folders l = {(char **)1, 7};
    assert_int_equal(sync_config_folders_read(file, &l), SYNC_ECORRUPT);
    assert_int_equal(l.n, 7); /* untouched */
    assert_int_equal(sync_config_folders_add(file, "/w"), SYNC_ECORRUPT);
    sync_config_folders_release(NULL);

    /* where the list lives without XDG_CONFIG_HOME (or with a relative one) */
    setenv("XDG_CONFIG_HOME", "relative", 1);
    setenv("HOME", "/home/someone", 1);
    assert_int_equal(sync_config_folders_path(file, sizeof file), 0);
    assert_string_equal(file, "/home/someone/.config/cairn-sync/folders");
    unsetenv("XDG_CONFIG_HOME");
    assert_int_equal(sync_config_dir(file, sizeof file), 0);
    assert_string_equal(file, "/home/someone/.config/cairn-sync");
    assert_int_equal(sync_config_dir(file, 8), SYNC_ETOOLONG);
}

/* ---- credentials ------------------------------------------------------------- */

static void test_credentials(void **state)
{
    (void)state;
    char creds[PATH_MAX], config[PATH_MAX];
    struct sync_credentials c;
    snprintf(creds, sizeof creds, "%s/credentials", tmp_root);
    snprintf(config, sizeof config, "%s/config", tmp_root);
    setenv("AWS_SHARED_CREDENTIALS_FILE", creds, 1);
    setenv("AWS_CONFIG_FILE", config, 1);
    setenv("HOME", tmp_root, 1);

    /* nothing anywhere */
    assert_int_equal(sync_config_credentials(NULL, &c), SYNC_ENOTFOUND);
    assert_string_equal(sync_config_profile_name(NULL), "default");
    assert_string_equal(sync_config_profile_name(""), "default");

    write_text(creds, "[default]\n"
                      "aws_access_key_id = DEFAULTKEY\n"
                      "aws_secret_access_key = default/secret\n"
                      "\n"
                      "[work]\n"
                      "aws_access_key_id=WORKKEY ; a comment\n"
                      "AWS_SECRET_ACCESS_KEY = work+secret\n"
                      "[half]\n"
                      "aws_access_key_id = HALFKEY\n");
    write_text(config, "[default]\n"
                       "region = eu-central-1\n"
                       "[profile work]\n"
                       "region = us-west-2\n"
                       "s3 =\n"
                       "    signature_version = s3v4\n"
                       "[profile  cfgonly]\n"
                       "aws_access_key_id = CFGKEY\n"
                       "aws_secret_access_key = cfgsecret\n"
                       "[cfgonly]\n"
                       "region = not-a-config-file-section\n");

    assert_int_equal(sync_config_credentials(NULL, &c), 0);
    assert_string_equal(c.access_key, "DEFAULTKEY");
    assert_string_equal(c.secret_key, "default/secret");
    assert_string_equal(c.region, "eu-central-1");
    assert_non_null(strstr(c.source, "profile default in "));

    assert_int_equal(sync_config_credentials("work", &c), 0);
    assert_string_equal(c.access_key, "WORKKEY");
    assert_string_equal(c.secret_key, "work+secret");
    assert_string_equal(c.region, "us-west-2");

    setenv("AWS_PROFILE", "work", 1);
    assert_string_equal(sync_config_profile_name(NULL), "work");
    assert_int_equal(sync_config_credentials(NULL, &c), 0);
    assert_string_equal(c.access_key, "WORKKEY");
    assert_int_equal(sync_config_credentials("default", &c), 0); /* named beats $AWS_PROFILE */
    assert_string_equal(c.access_key, "DEFAULTKEY");
    unsetenv("AWS_PROFILE");

    /* keys in the config file; a profile with half a pair has none */
    assert_int_equal(sync_config_credentials("cfgonly", &c), 0);
    assert_string_equal(c.access_key, "CFGKEY");
    assert_string_equal(c.region, "");
    memset(&c, 0x55, sizeof c);
    struct sync_credentials before = c;
    assert_int_equal(sync_config_credentials("half", &c), SYNC_ENOTFOUND);
    assert_int_equal(sync_config_credentials("nosuch", &c), SYNC_ENOTFOUND);
    assert_memory_equal(&c, &before, sizeof c);

    /* the environment's keys win, unless a profile is named */
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    assert_int_equal(sync_config_credentials(NULL, &c), 0);
    assert_string_equal(c.access_key, "ENVKEY");
    assert_string_equal(c.secret_key, "envsecret");
    assert_string_equal(c.source, "the environment");
    assert_string_equal(c.region, "eu-central-1"); /* still the profile's region */
    setenv("AWS_PROFILE", "work", 1);
    assert_int_equal(sync_config_credentials(NULL, &c), 0);
    assert_string_equal(c.access_key, "ENVKEY"); /* as aws-cli does */
    unsetenv("AWS_PROFILE");
    assert_int_equal(sync_config_credentials("work", &c), 0);
    assert_string_equal(c.access_key, "WORKKEY");
    setenv("AWS_SECRET_ACCESS_KEY", "", 1); /* half a pair in the environment */
    assert_int_equal(sync_config_credentials(NULL, &c), 0);
    assert_string_equal(c.access_key, "DEFAULTKEY");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    /* default file places: ~/.aws/ */
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_CONFIG_FILE");
    assert_int_equal(sync_config_credentials(NULL, &c), SYNC_ENOTFOUND);
    char aws[PATH_MAX + 32];
    snprintf(aws, sizeof aws, "%s/.aws", tmp_root);
    assert_int_equal(mkdir(aws, 0700), 0);
    snprintf(aws, sizeof aws, "%s/.aws/credentials", tmp_root);
    write_text(aws, "[default]\naws_access_key_id = HOMEKEY\naws_secret_access_key = s\n");
    assert_int_equal(sync_config_credentials(NULL, &c), 0);
    assert_string_equal(c.access_key, "HOMEKEY");

    /* a key over its cap */
    char big[400];
    snprintf(big, sizeof big, "[default]\naws_access_key_id = %0150d\naws_secret_access_key = s\n",
             0);
    write_text(aws, big);
    assert_int_equal(sync_config_credentials(NULL, &c), SYNC_ETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_url),
        cmocka_unit_test(test_endpoint),
        cmocka_unit_test_setup_teardown(test_config_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
