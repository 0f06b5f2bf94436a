/*
 * cmd/admin_cli.c - `cairn admin ...` and `cairn presign ...`: clients of
 * a running server.  Credentials: CAIRN_ROOT_USER / CAIRN_ROOT_PASSWORD,
 * else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.  Endpoint: --endpoint,
 * else CAIRN_ENDPOINT, else http://127.0.0.1:9000.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cmd/cli.h"
#include "common/http_client.h"
#include "common/sigv4.h"
#include "common/uri.h"

static void admin_usage(FILE *f)
{
    fprintf(f,
            "usage: cairn admin <command> [--endpoint URL]\n"
            "\n"
            "commands:\n"
            "  user add NAME [--access-key K --secret-key S]   create a user, print its keys\n"
            "  user list                                      list users\n"
            "  user remove NAME                               remove a user\n"
            "  scrub            verify every shard, rebuild missing or corrupt ones (waits)\n"
            "  gc [--grace S]   collect chunks unreferenced for S seconds (default: server's),\n"
            "                   then compact the drives to give the space back\n"
            "  status           drives, counts, EC scheme\n"
            "\n"
            "Talks to a running server as the root user: CAIRN_ROOT_USER/CAIRN_ROOT_PASSWORD,\n"
            "else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.  Endpoint: --endpoint, else\n"
            "$CAIRN_ENDPOINT, else http://127.0.0.1:9000.\n");
}

/* Pull "--name value" out of argv (compacting it); NULL if absent. */
static const char *take_opt(int *argc, char **argv, const char *name)
{
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], name) == 0 && i + 1 < *argc) {
            const char *v = argv[i + 1];
            memmove(argv + i, argv + i + 2, (size_t)(*argc - i - 2) * sizeof *argv);
            *argc -= 2;
            return v;
        }
    }
    return NULL;
}

static int has_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

static int client_setup(struct http_client *c, const char *endpoint)
{
    const char *ak = getenv("CAIRN_ROOT_USER"), *sk = getenv("CAIRN_ROOT_PASSWORD");
    if (!ak || !sk || !*ak || !*sk) {
        ak = getenv("AWS_ACCESS_KEY_ID");
        sk = getenv("AWS_SECRET_ACCESS_KEY");
    }
    if (!ak || !sk || !*ak || !*sk) {
        fprintf(stderr, "cairn: no credentials: set CAIRN_ROOT_USER and CAIRN_ROOT_PASSWORD "
                        "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)\n");
        return -1;
    }
    if (!endpoint)
        endpoint = getenv("CAIRN_ENDPOINT");
    if (!endpoint || !*endpoint)
        endpoint = "http://127.0.0.1:9000";
    memset(c, 0, sizeof *c);
    c->endpoint = endpoint;
    c->access_key = ak;
    c->secret_key = sk;
    c->region = getenv("AWS_DEFAULT_REGION");
    return 0;
}

/* Send an admin request; parse the JSON answer.  Prints errors. */
static cJSON *admin_call(const struct http_client *c, const char *method, const char *path,
                         const char *query, const char *body)
{
    struct http_response resp;
    if (http_request(c, method, path, query, body, body ? strlen(body) : 0,
                     body ? "application/json" : NULL, &resp) != 0) {
        fprintf(stderr, "cairn: cannot reach %s: %s\n", c->endpoint, resp.error);
        http_response_release(&resp);
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len);
    if (resp.status != 200) {
        const cJSON *e = j ? cJSON_GetObjectItem(j, "error") : NULL;
        fprintf(stderr, "cairn: %s %s: HTTP %ld: %s\n", method, path, resp.status,
                cJSON_IsString(e) ? e->valuestring : (resp.body.data ? resp.body.data : ""));
        cJSON_Delete(j);
        j = NULL;
    } else if (!j) {
        fprintf(stderr, "cairn: %s %s: the server's answer is not JSON\n", method, path);
    }
    http_response_release(&resp);
    return j;
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int admin_user(const struct http_client *c, int argc, char **argv)
{
    cJSON *j = NULL;
    if (argc >= 3 && strcmp(argv[1], "add") == 0) {
        const char *ak = take_opt(&argc, argv, "--access-key");
        const char *sk = take_opt(&argc, argv, "--secret-key");
        if (argc != 3 || (!ak) != (!sk)) {
            fprintf(stderr, "usage: cairn admin user add NAME [--access-key K --secret-key S]\n");
            return 2;
        }
        cJSON *in = cJSON_CreateObject();
        cJSON_AddStringToObject(in, "name", argv[2]);
        if (ak) {
            cJSON_AddStringToObject(in, "access_key", ak);
            cJSON_AddStringToObject(in, "secret_key", sk);
        }
        char *body = cJSON_PrintUnformatted(in);
        cJSON_Delete(in);
        j = admin_call(c, "POST", "/_cairn/admin/users", NULL, body);
        free(body);
        if (!j)
            return 1;
        printf("user:       %s\naccess key: %s\nsecret key: %s\n", str(j, "name"),
               str(j, "access_key"), str(j, "secret_key"));
    } else if (argc == 2 && strcmp(argv[1], "list") == 0) {
        j = admin_call(c, "GET", "/_cairn/admin/users", NULL, NULL);
        if (!j)
            return 1;
        const cJSON *u;
        printf("%-32s %s\n", "NAME", "ACCESS KEY");
        cJSON_ArrayForEach(u, cJSON_GetObjectItem(j, "users"))
            printf("%-32s %s\n", str(u, "name"), str(u, "access_key"));
    } else if (argc == 3 && strcmp(argv[1], "remove") == 0) {
        struct buf path;
        buf_init(&path, 4096);
        buf_puts(&path, "/_cairn/admin/users/");
        uri_encode(&path, argv[2], strlen(argv[2]), 0);
        j = admin_call(c, "DELETE", path.data, NULL, NULL);
        buf_release(&path);
        if (!j)
            return 1;
        printf("removed user %s\n", argv[2]);
    } else {
        admin_usage(stderr);
        return 2;
    }
    cJSON_Delete(j);
    return 0;
}

int cmd_admin(int argc, char **argv)
{
    struct http_client c;
    if (has_flag(argc, argv, "--help") || has_flag(argc, argv, "-h") || argc < 2) {
        admin_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *endpoint = take_opt(&argc, argv, "--endpoint");
    if (client_setup(&c, endpoint) != 0)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *cmd = argv[1];
    cJSON *j = NULL;
    int rc = 0;
    if (strcmp(cmd, "user") == 0) {
        rc = admin_user(&c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "scrub") == 0 && argc == 2) {
        c.timeout_seconds = 0; /* waits until the whole store is verified */
        j = admin_call(&c, "POST", "/_cairn/admin/scrub", NULL, NULL);
        if (j)
            printf("scrub done: %.0f chunks, %.0f shards checked, %.0f bad, %.0f rebuilt, %.0f "
                   "chunks not fully repaired, %.0f chunks unrecoverable\n",
                   num(j, "chunks"), num(j, "shards_checked"), num(j, "shards_bad"),
                   num(j, "shards_rewritten"), num(j, "chunks_unrepaired"), num(j, "chunks_lost"));
        rc = j && num(j, "chunks_lost") == 0 && num(j, "chunks_unrepaired") == 0 ? 0 : 1;
    } else if (strcmp(cmd, "gc") == 0) {
        const char *grace = take_opt(&argc, argv, "--grace");
        char query[64] = "";
        if (argc != 2) {
            admin_usage(stderr);
            return 2;
        }
        if (grace)
            snprintf(query, sizeof query, "grace=%s", grace);
        j = admin_call(&c, "POST", "/_cairn/admin/gc", query, NULL);
        if (j)
            printf("gc done: %.0f chunks removed (%.0f bytes), %.0f orphan shards removed, "
                   "%.0f disk bytes freed\n",
                   num(j, "chunks_removed"), num(j, "bytes_removed"), num(j, "orphan_shards_removed"),
                   num(j, "disk_bytes_freed"));
        rc = j ? 0 : 1;
    } else if (strcmp(cmd, "status") == 0 && argc == 2) {
        j = admin_call(&c, "GET", "/_cairn/admin/status", NULL, NULL);
        if (j) {
            printf("cairn %s, EC %s\n", str(j, "version"), str(j, "ec"));
            printf("buckets %.0f, objects %.0f, multipart uploads %.0f\n", num(j, "buckets"),
                   num(j, "objects"), num(j, "uploads"));
            printf("chunks %.0f (%.0f bytes), unreferenced %.0f\n", num(j, "chunks"),
                   num(j, "chunk_bytes"), num(j, "unused_chunks"));
            const cJSON *d;
            printf("%-40s %-10s %12s %14s\n", "DRIVE", "STATE", "SHARDS", "FREE BYTES");
            cJSON_ArrayForEach(d, cJSON_GetObjectItem(j, "drives"))
                printf("%-40s %-10s %12.0f %14.0f\n", str(d, "name"), str(d, "state"),
                       num(d, "shards"), num(d, "bytes_free"));
        }
        rc = j ? 0 : 1;
    } else {
        admin_usage(stderr);
        rc = 2;
    }
    cJSON_Delete(j);
    curl_global_cleanup();
    return rc;
}

static void presign_usage(FILE *f)
{
    fprintf(f, "usage: cairn presign s3://BUCKET/KEY [--expires DURATION] [--method GET|PUT]\n"
               "                     [--endpoint URL]\n"
               "\n"
               "Prints a presigned URL anyone can use until it expires (at most 7d).\n"
               "DURATION: seconds, or a number with s, m, h or d (default 1h).\n"
               "Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else\n"
               "CAIRN_ROOT_USER/CAIRN_ROOT_PASSWORD.\n");
}

int cmd_presign(int argc, char **argv)
{
    if (has_flag(argc, argv, "--help") || has_flag(argc, argv, "-h")) {
        presign_usage(stdout);
        return 0;
    }
    const char *endpoint = take_opt(&argc, argv, "--endpoint");
    const char *expires_s = take_opt(&argc, argv, "--expires");
    const char *method = take_opt(&argc, argv, "--method");
    if (argc != 2 || strncmp(argv[1], "s3://", 5) != 0) {
        presign_usage(stderr);
        return 2;
    }
    long expires = 3600;
    if (expires_s && sigv4_parse_expires(expires_s, &expires) != 0) {
        fprintf(stderr, "cairn presign: --expires must be between 1s and 7d\n");
        return 2;
    }
    if (!method)
        method = "GET";
    if (strcmp(method, "GET") != 0 && strcmp(method, "PUT") != 0) {
        fprintf(stderr, "cairn presign: --method must be GET or PUT\n");
        return 2;
    }
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (!ak || !sk || !*ak || !*sk) {
        ak = getenv("CAIRN_ROOT_USER");
        sk = getenv("CAIRN_ROOT_PASSWORD");
    }
    if (!ak || !sk || !*ak || !*sk) {
        fprintf(stderr, "cairn presign: no credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)\n");
        return 1;
    }
    if (!endpoint)
        endpoint = getenv("CAIRN_ENDPOINT");
    if (!endpoint || !*endpoint)
        endpoint = "http://127.0.0.1:9000";
    const char *bk = argv[1] + 5;
    const char *slash = strchr(bk, '/');
    if (!slash || slash == bk || !slash[1]) {
        presign_usage(stderr);
        return 2;
    }
    struct buf url;
    buf_init(&url, 16384);
    char *bucket = strndup(bk, (size_t)(slash - bk));
    struct sigv4_credentials cred = {ak, sk, getenv("AWS_DEFAULT_REGION") ? getenv("AWS_DEFAULT_REGION") : "us-east-1", "s3"};
    int rc = bucket ? sigv4_presign_object(&cred, method, endpoint, bucket, slash + 1, expires,
                                           time(NULL), &url)
                    : -ENOMEM;
    if (rc == 0)
        printf("%s\n", url.data);
    else
        fprintf(stderr, "cairn presign: %s\n", sigv4_strerror(rc));
    free(bucket);
    buf_release(&url);
    return rc ? 1 : 0;
}
