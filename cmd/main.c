/*
 * cmd/main.c - the `cairn` command: subcommand dispatch and `cairn server`.
 *
 * `cairn server` builds the stack bottom-up (drives -> chunkstore,
 * metadata, object layer, gateway), serves until SIGTERM/SIGINT, then
 * drains requests in flight and closes everything in reverse order.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/crypto.h>


#include "chunkstore/chunkstore.h"
#include "cmd/cli.h"
#include "common/file.h"
#include "common/log.h"
#include "gateway/gateway.h"
#include "metadata/meta.h"

#define MAX_DRIVES 64

struct server_opts {
    char data[4096];
    char listen[256];
    char drives[16384];
    char ec[32];
    char domain[256];
    char region[64];
    char log_level[16];
    char sse_key_file[4096];
    long long inline_max;
    long long gc_grace_s;
    long long gc_interval_s;
    long long lifecycle_interval_ms;
    long long lifecycle_day_s;
};

static void server_usage(FILE *f)
{
    fprintf(f,
            "usage: cairn server [--data DIR] [--listen HOST:PORT] [--drives D1,D2,...] [--ec K+M]\n"
            "                    [--config FILE] [--domain DOMAIN] [--region REGION]\n"
            "                    [--inline-max BYTES] [--gc-grace SECONDS] [--gc-interval SECONDS]\n"
            "                    [--lifecycle-interval-ms MS] [--lifecycle-day-seconds N]\n"
            "                    [--log-level debug|info|warn|error] [--sse-key-file PATH]\n"
            "\n"
            "Runs the all-in-one S3 server (gateway + metadata + chunkstore).\n"
            "\n"
            "  --data DIR          data folder (default ./cairn-data)\n"
            "  --listen HOST:PORT  address to serve S3 on (default 127.0.0.1:9000)\n"
            "  --drives LIST       comma-separated drive folders (default: DIR/drive1..6)\n"
            "  --ec K+M            erasure coding: K data + M parity shards (default 4+2)\n"
            "  --config FILE       INI file; keys mirror these flags ([server] section);\n"
            "                      flags win.  Also read from $CAIRN_CONFIG.\n"
            "  --domain DOMAIN     enable virtual-hosted style: BUCKET.DOMAIN\n"
            "  --region REGION     region answered by GetBucketLocation (us-east-1)\n"
            "  --inline-max BYTES  objects smaller than this live in metadata (131072)\n"
            "  --gc-grace SECONDS  unreferenced chunks older than this are collected (3600)\n"
            "  --gc-interval SECONDS  background collection period (600; 0 = off)\n"
            "  --sse-key-file PATH master key for SSE-S3 (x-amz-server-side-encryption: AES256),\n"
            "                      outside DIR; made (mode 0600) on first use.  Without it SSE-S3\n"
            "                      requests are refused.  Losing it loses every SSE-S3 object:\n"
            "                      back it up.  See docs/encryption.md.\n"
            "  --lifecycle-interval-ms MS  how often bucket lifecycle rules are applied\n"
            "                      (3600000 = hourly; 0 = off)\n"
            "  --lifecycle-day-seconds N  testing knob: one lifecycle \"day\" lasts N seconds\n"
            "                      (86400); with 1, a rule of Days=1 expires objects 1-2 s\n"
            "                      old.  Never change it on a store with real data.\n"
            "\n"
            "Root credentials come from CAIRN_ROOT_USER / CAIRN_ROOT_PASSWORD; if unset they\n"
            "are generated on first start, kept in DIR/root-credentials and printed once.\n");
}

/* The keys a config file and the flags share. */
static const struct {
    const char *key;
    size_t off, size; /* size 0: a non-negative number (long long) */
} server_keys[] = {
    {"data", offsetof(struct server_opts, data), sizeof((struct server_opts *)0)->data},
    {"listen", offsetof(struct server_opts, listen), sizeof((struct server_opts *)0)->listen},
    {"drives", offsetof(struct server_opts, drives), sizeof((struct server_opts *)0)->drives},
    {"ec", offsetof(struct server_opts, ec), sizeof((struct server_opts *)0)->ec},
    {"domain", offsetof(struct server_opts, domain), sizeof((struct server_opts *)0)->domain},
    {"region", offsetof(struct server_opts, region), sizeof((struct server_opts *)0)->region},
    {"log-level", offsetof(struct server_opts, log_level), sizeof((struct server_opts *)0)->log_level},
    {"sse-key-file", offsetof(struct server_opts, sse_key_file),
     sizeof((struct server_opts *)0)->sse_key_file},
    {"inline-max", offsetof(struct server_opts, inline_max), 0},
    {"gc-grace", offsetof(struct server_opts, gc_grace_s), 0},
    {"gc-interval", offsetof(struct server_opts, gc_interval_s), 0},
    {"lifecycle-interval-ms", offsetof(struct server_opts, lifecycle_interval_ms), 0},
    {"lifecycle-day-seconds", offsetof(struct server_opts, lifecycle_day_s), 0},
};

/* Apply one option (from the config file or a flag).  0, or -1 if the key
 * is unknown or the value does not fit. */
static int server_set(struct server_opts *o, const char *name, const char *value)
{
    for (size_t i = 0; i < sizeof server_keys / sizeof *server_keys; i++) {
        if (strcmp(name, server_keys[i].key) != 0)
            continue;
        char *field = (char *)o + server_keys[i].off;
        if (server_keys[i].size) {
            if (strlen(value) >= server_keys[i].size)
                return -1;
            strcpy(field, value);
            return 0;
        }
        char *end;
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || v < 0)
            return -1;
        memcpy(field, &v, sizeof v);
        return 0;
    }
    return -1;
}

static int config_handler(void *arg, const char *section, const char *name, const char *value)
{
    if (strcmp(section, "server") != 0 && section[0])
        return 1; /* other sections belong to other commands */
    if (server_set(arg, name, value) != 0) {
        fprintf(stderr, "cairn: config: unknown or bad key '%s'\n", name);
        return 0;
    }
    return 1;
}

/*
 * The SSE-S3 master key from path (docs/encryption.md).  DIR/sse-key-check
 * keeps the key's fingerprint from the first start that used one, so that
 * a start with another key file, or without the one it had (a typo in the
 * path must not make a fresh key), is refused instead of leaving every
 * SSE-S3 object unreadable.  The key file is made only while no
 * fingerprint is recorded, and never inside the data folder.  0 (key set),
 * or -1 after printing why.
 */
static int sse_master_key(const char *data, const char *path, uint8_t key[SSE_KEY_LEN])
{
    char check_path[4200], fp[65], real_data[PATH_MAX], real_dir[PATH_MAX], dir[4200];
    struct buf have;
    int created = 0, rc;
    snprintf(check_path, sizeof check_path, "%s/sse-key-check", data);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    if (realpath(data, real_data) && realpath(slash ? (dir[0] ? dir : "/") : ".", real_dir)) {
        size_t n = strlen(real_data);
        if (strncmp(real_dir, real_data, n) == 0 && (real_dir[n] == '/' || real_dir[n] == 0)) {
            fprintf(stderr, "cairn server: --sse-key-file %s is inside the data folder: keep "
                            "the key apart from the data it protects\n", path);
            return -1;
        }
    }
    buf_init(&have, 256);
    int recorded = file_read(check_path, &have) == 0;
    rc = sse_keyfile_load(path, !recorded, key, &created);
    if (rc) {
        fprintf(stderr, "cairn server: --sse-key-file %s: %s%s\n", path, strerror(-rc),
                rc == -EPERM ? " (the key file must not be readable by group or others)"
                : rc == -EINVAL ? " (expected 64 hex characters)"
                : rc == -ENOENT ? " (this data folder has used a master key before: give its "
                                  "key file; a new key could not read the SSE-S3 objects)"
                                : "");
        buf_release(&have);
        return -1;
    }
    sse_master_fingerprint(key, fp);
    if (recorded && (have.len < 64 || memcmp(have.data, fp, 64) != 0)) {
        fprintf(stderr, "cairn server: --sse-key-file %s is not the master key this data folder "
                        "was used with (%s): refusing to start\n", path, check_path);
        buf_release(&have);
        return -1;
    }
    buf_release(&have);
    fp[64] = '\n';
    if (!recorded && file_write_atomic(check_path, fp, 65, 0644) != 0) {
        fprintf(stderr, "cairn server: cannot write %s\n", check_path);
        return -1;
    }
    if (created) {
        printf("Generated the SSE-S3 master key in %s: back it up; without it no SSE-S3 object "
               "can be read.\n", path);
        fflush(stdout);
    }
    return 0;
}

/* Root credentials: environment, else DIR/root-credentials (made once). */
static int root_credentials(const char *data, char *user, size_t ucap, char *pass, size_t pcap)
{
    const char *eu = getenv("CAIRN_ROOT_USER"), *ep = getenv("CAIRN_ROOT_PASSWORD");
    if (eu && ep && *eu && *ep) {
        snprintf(user, ucap, "%s", eu);
        snprintf(pass, pcap, "%s", ep);
        return 0;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/root-credentials", data);
    FILE *f = fopen(path, "r");
    if (f) {
        int ok = fscanf(f, "%127s %127s", user, pass) == 2;
        fclose(f);
        (void)ucap;
        (void)pcap;
        if (!ok) {
            fprintf(stderr, "cairn: %s is malformed\n", path);
            return -1;
        }
        return 0;
    }
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const char secret_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t rnd[60];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
        return -1;
    for (int i = 0; i < 20; i++)
        user[i] = alnum[rnd[i] % 36];
    user[20] = 0;
    for (int i = 0; i < 40; i++)
        pass[i] = secret_chars[rnd[20 + i] % 62];
    pass[40] = 0;
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    char line[256];
    int n = snprintf(line, sizeof line, "%s %s\n", user, pass);
    int ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    printf("Generated root credentials (kept in %s):\n  access key: %s\n  secret key: %s\n", path,
           user, pass);
    fflush(stdout);
    return 0;
}

/*
 * The drive list is part of the data: chunk records name drives by their
 * position in it.  It is written to DIR/layout on first start and a later
 * start with a different list is refused rather than misreading data.
 */
static int check_layout(const char *data, const char *drives)
{
    char path[4200], stored[16384];
    snprintf(path, sizeof path, "%s/layout", data);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(stored, 1, sizeof stored - 1, f);
        fclose(f);
        stored[n] = 0;
        while (n && stored[n - 1] == '\n')
            stored[--n] = 0;
        if (strncmp(stored, "drives=", 7) != 0 || strcmp(stored + 7, drives) != 0) {
            fprintf(stderr,
                    "cairn: the drive list differs from the one this data folder was created "
                    "with (%s): refusing to start.\n  stored: %s\n  given:  drives=%s\n",
                    path, stored, drives);
            return -1;
        }
        return 0;
    }
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "drives=%s\n", drives);
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    fclose(f);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int parse_listen(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    size_t hl = (size_t)(colon - s);
    if (hl && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= cap)
        return -1;
    memcpy(host, s, hl);
    host[hl] = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

static int cmd_server(int argc, char **argv)
{
    struct server_opts o;
    struct shard_store *stores[MAX_DRIVES];
    int nstores = 0, k = 0, m = 0, rc = 1;
    struct chunkstore *cs = NULL;
    struct meta *meta = NULL;
    struct objlayer *ol = NULL;
    struct gateway *gw = NULL;
    char host[256], user[130], pass[130], path[4200];
    uint16_t port;

    memset(&o, 0, sizeof o);
    snprintf(o.data, sizeof o.data, "./cairn-data");
    snprintf(o.listen, sizeof o.listen, "127.0.0.1:9000");
    snprintf(o.ec, sizeof o.ec, "4+2");
    snprintf(o.log_level, sizeof o.log_level, "info");
    o.inline_max = 128 * 1024;
    o.gc_grace_s = 3600;
    o.gc_interval_s = 600;
    o.lifecycle_interval_ms = 3600 * 1000;
    o.lifecycle_day_s = 86400;

    /* config file first (flags win): --config or $CAIRN_CONFIG */
    const char *config = getenv("CAIRN_CONFIG");
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[i + 1];
    if (config && *config && ini_parse(config, config_handler, &o) != 0) {
        fprintf(stderr, "cairn: cannot read config file %s\n", config);
        return 2;
    }
    for (int i = 2; i < argc; i += 2) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            server_usage(stdout);
            return 0;
        }
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
            server_usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--config") != 0 && server_set(&o, argv[i] + 2, argv[i + 1]) != 0) {
            fprintf(stderr, "cairn server: unknown option or bad value: %s %s\n", argv[i], argv[i + 1]);
            return 2;
        }
    }
    int level = log_level_from_name(o.log_level);
    if (level < 0) {
        fprintf(stderr, "cairn server: bad --log-level %s\n", o.log_level);
        return 2;
    }
    log_set_level((enum log_level)level);
    if (sscanf(o.ec, "%d+%d", &k, &m) != 2 || k < 1 || m < 0 || k + m > CS_MAX_SHARDS) {
        fprintf(stderr, "cairn server: --ec must be K+M with K >= 1, M >= 0, K+M <= %d\n", CS_MAX_SHARDS);
        return 2;
    }
    if (o.lifecycle_day_s < 1 || o.lifecycle_day_s > 86400) {
        fprintf(stderr, "cairn server: --lifecycle-day-seconds must be 1..86400\n");
        return 2;
    }
    if (parse_listen(o.listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "cairn server: --listen must be HOST:PORT\n");
        return 2;
    }
    if (mkdir(o.data, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "cairn server: cannot create %s: %s\n", o.data, strerror(errno));
        return 1;
    }
    if (!o.drives[0]) {
        int n = k + m > 6 ? k + m : 6;
        size_t off = 0;
        for (int i = 1; i <= n; i++)
            off += (size_t)snprintf(o.drives + off, sizeof o.drives - off, "%s%s/drive%d",
                                    i > 1 ? "," : "", o.data, i);
    }
    if (check_layout(o.data, o.drives) != 0)
        return 1;

    char *list = strdup(o.drives), *save = NULL;
    for (char *d = strtok_r(list, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
        if (nstores == MAX_DRIVES) {
            fprintf(stderr, "cairn server: at most %d drives\n", MAX_DRIVES);
            goto out_list;
        }
        int drc = drive_open(d, &stores[nstores]);
        if (drc) {
            fprintf(stderr, "cairn server: drive %s: %s\n", d, cs_strerror(drc));
            goto out_list;
        }
        nstores++;
    }
    if (nstores < k + m) {
        fprintf(stderr, "cairn server: EC %d+%d needs at least %d drives, got %d\n", k, m, k + m, nstores);
        goto out_list;
    }
    int crc = cs_open(stores, nstores, k, m, &cs);
    if (crc) {
        fprintf(stderr, "cairn server: chunkstore: %s\n", cs_strerror(crc));
        goto out_list;
    }
    nstores = 0; /* owned by cs now */
    snprintf(path, sizeof path, "%s/meta", o.data);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "cairn server: cannot create %s: %s\n", path, strerror(errno));
        goto out_list;
    }
    int mrc = meta_open(path, &meta);
    if (mrc) {
        fprintf(stderr, "cairn server: metadata: %s\n", meta_strerror(mrc));
        goto out_list;
    }
    struct ol_config oc = {(size_t)o.inline_max, o.gc_grace_s * 1000};
    if (ol_open(meta, cs, &oc, &ol) != 0)
        goto out_list;
    if (root_credentials(o.data, user, sizeof user, pass, sizeof pass) != 0) {
        fprintf(stderr, "cairn server: cannot set up root credentials in %s\n", o.data);
        goto out_list;
    }

    uint8_t master[SSE_KEY_LEN];
    int have_master = 0;
    if (o.sse_key_file[0]) {
        if (sse_master_key(o.data, o.sse_key_file, master) != 0)
            goto out_list;
        have_master = 1;
    } else {
        snprintf(path, sizeof path, "%s/sse-key-check", o.data);
        if (access(path, F_OK) == 0)
            log_warn("this data folder has used an SSE-S3 master key but no --sse-key-file is "
                     "given: SSE-S3 objects cannot be read");
    }

    /* Block the stop signals before any thread starts, then wait for them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct gateway_config gc = {
        .listen_host = host,
        .port = port,
        .domain = o.domain,
        .region = o.region,
        .root_access_key = user,
        .root_secret_key = pass,
        .gc_interval_ms = o.gc_interval_s * 1000,
        .sse_master_key = have_master ? master : NULL,
        .lifecycle_interval_ms = o.lifecycle_interval_ms,
        .lifecycle_day_ms = o.lifecycle_day_s * 1000,
    };
    int grc = gateway_start(&gc, ol, &gw);
    OPENSSL_cleanse(master, sizeof master);
    if (grc) {
        fprintf(stderr, "cairn server: cannot listen on %s: %s\n", o.listen, strerror(-grc));
        goto out_list;
    }
    printf("cairn server listening on http://%s:%u (data %s, %d drives, EC %d+%d)\n", host,
           gateway_port(gw), o.data, cs_nstores(cs), k, m);
    fflush(stdout);
    log_info("server started on %s:%u", host, gateway_port(gw));
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("signal %d: draining requests in flight", sig);
    gateway_stop(gw, 30);
    gw = NULL;
    rc = 0;
    log_info("stopped cleanly");
out_list:
    free(list);
    gateway_stop(gw, 0);
    ol_close(ol);
    meta_close(meta);
    cs_close(cs);
    for (int i = 0; i < nstores; i++)
        stores[i]->ops->close(stores[i]);
    memset(pass, 0, sizeof pass);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cairn <command> [options]\n"
            "\n"
            "commands:\n"
            "  server    run the all-in-one S3 server (cairn server --help)\n"
            "  admin     users, scrub, gc, status of a running server (cairn admin --help)\n"
            "  presign   print a presigned URL for sharing an object (cairn presign --help)\n"
            "  version   print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "server") == 0) {
        /* Chunk and shard buffers (up to 4 MiB + 6 MiB per request) come
         * from mmap and go back to the kernel when freed: without a fixed
         * threshold glibc raises it after the first free and keeps such
         * buffers in its heaps, and the server's RSS only grows. */
        mallopt(M_MMAP_THRESHOLD, 256 * 1024);
        return cmd_server(argc, argv);
    }
    if (strcmp(argv[1], "admin") == 0)
        return cmd_admin(argc - 1, argv + 1);
    if (strcmp(argv[1], "presign") == 0)
        return cmd_presign(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("cairn %s\n", CAIRN_VERSION);
        return 0;
    }
    fprintf(stderr, "cairn: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
