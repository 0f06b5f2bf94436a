/*
 * sync-client/sync_main.c - the `cairn-sync` command: the daemon (`run`)
 * and the commands people use around it (init, status, conflicts, pause,
 * resume, log, share).  User guide: docs/sync-client.md.
 *
 * Exit status of every command: 0 success, 1 failure, 2 usage error.
 *
 * The daemon and the CLI share nothing but files in FOLDER/.cairn-sync/
 * (sync_engine.h lists them) and the folder list (sync_config.h), so any
 * number of CLI calls may run beside any number of daemons, each daemon
 * on folders of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/sigv4.h"
#include "sync-client/sync.h"
#include "sync-client/sync_config.h"
#include "sync-client/sync_conflict.h"
#include "sync-client/sync_engine.h"
#include "sync-client/sync_folder.h"
#include "sync-client/sync_ignore.h"
#include "sync-client/sync_index.h"
#include "sync-client/sync_path.h"
#include "sync-client/sync_remote.h"

#define PROG "cairn-sync"
#define STATUS_JSON_MAX (1u << 20)    /* bytes of status.json read at most */
#define LOG_TAIL_MAX (16u << 20)      /* bytes of a log file read for its tail */
#define POLL_NS 500000000L            /* status redraw and log -f poll: 0.5 s */
#define INIT_TIMEOUT_S 30             /* init's calls to the server */
#define BAR_WIDTH 30

/* Set by SIGTERM / SIGINT: the daemon's engines stop, `status` and `log -f`
 * end their loops. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static void errorf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errorf(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG " %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Sleep POLL_NS unless a stop signal arrives first. */
static void poll_sleep(void)
{
    struct timespec ts = {0, POLL_NS};
    if (!stop_requested)
        nanosleep(&ts, NULL); /* EINTR on a signal: fine, the caller looks at the flag */
}

/* ---- command line ---------------------------------------------------------- */

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage; /* first line: the synopsis; then the explanation */
};

static const struct command *current; /* for usage messages */

static int usage_ok(void)
{
    fputs(current->usage, stdout);
    return 0;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG " %s: ", current->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    const char *nl = strchr(current->usage, '\n');
    fprintf(stderr, "%.*s\n(" PROG " %s --help for more)\n", nl ? (int)(nl - current->usage) : 0,
            current->usage, current->name);
    return 2;
}

/*
 * getopt_long over argv (argv[0] is the command's name).  Calls on_opt
 * for each option; handles --help.  Returns -1 to go on (positional
 * arguments from optind), or an exit status.
 */
typedef int (*opt_fn)(void *arg, int opt, const char *value);
static int parse_options(int argc, char **argv, const char *shortopts,
                         const struct option *longopts, opt_fn on_opt, void *arg)
{
    int c;
    optind = 0; /* glibc: start afresh */
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == 'h')
            return usage_ok();
        if (c == '?' || c == ':')
            return usage_error("bad option or missing value: %s", argv[optind - 1]);
        int rc = on_opt(arg, c, optarg);
        if (rc >= 0)
            return rc;
    }
    return -1;
}

static int no_options(void *arg, int opt, const char *value)
{
    (void)arg;
    (void)opt;
    (void)value;
    return -1;
}

static const struct option help_only[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

/* ---- folders --------------------------------------------------------------- */

static int join_path(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
    return n < 0 || (size_t)n >= size ? SYNC_ETOOLONG : 0;
}

/* FOLDER/.cairn-sync/name into out (PATH_MAX bytes). */
static int state_file(char *out, const char *folder, const char *name)
{
    char dir[PATH_MAX];
    int rc = join_path(dir, sizeof dir, folder, SYNC_STATE_DIR);
    return rc ? rc : join_path(out, PATH_MAX, dir, name);
}

/*
 * The folders a command works on: for each argument, the synced folder
 * holding it (the argument resolved with realpath, then its nearest
 * ancestor with a .cairn-sync/config); with no argument, every folder of
 * the list.  Returns 0 and *out, or an exit status (message printed).
 */
static int folders_for(int argc, char **argv, struct sync_config_folders *out)
{
    char real[PATH_MAX], folder[PATH_MAX], list[PATH_MAX];
    int rc = 0;
    sync_config_folders_init(out);
    for (int i = 0; i < argc && rc == 0; i++) {
        if (!realpath(argv[i], real)) {
            errorf(current->name, "%s: %s", argv[i], strerror(errno));
            rc = 1;
        } else if (sync_config_find_folder(real, folder, sizeof folder) != 0) {
            errorf(current->name, "%s is not in a synced folder (see " PROG " init --help)",
                   argv[i]);
            rc = 1;
        } else if (sync_config_folders_push(out, folder) < 0) {
            errorf(current->name, "out of memory");
            rc = 1;
        }
    }
    if (rc == 0 && argc == 0) {
        if ((rc = sync_config_folders_path(list, sizeof list)) == 0)
            rc = sync_config_folders_read(list, out);
        if (rc) {
            errorf(current->name, "cannot read the folder list %s: %s", list, sync_strerror(rc));
            rc = 1;
        } else if (out->n == 0) {
            errorf(current->name, "no synced folders yet (%s is empty): start with " PROG
                                  " init FOLDER s3://BUCKET/PREFIX --endpoint URL",
                   list);
            rc = 1;
        }
    }
    if (rc)
        sync_config_folders_release(out);
    return rc;
}

/* Load folder's config, printing why not.  0 or 1. */
static int load_config(const char *folder, struct sync_config *cfg)
{
    char why[PATH_MAX + 200];
    int rc = sync_config_load(folder, cfg, why, sizeof why);
    if (rc == -ENOENT)
        errorf(current->name, "%s is not a synced folder (no %s/%s; see " PROG " init --help)",
               folder, SYNC_STATE_DIR, SYNC_CONFIG_FILE);
    else if (rc)
        errorf(current->name, "%s", why);
    return rc ? 1 : 0;
}

/* The keys for cfg's profile, printing why not.  0 or 1. */
static int find_credentials(const struct sync_config *cfg, struct sync_credentials *cred)
{
    int rc = sync_config_credentials(cfg->profile, cred);
    if (rc == SYNC_ENOTFOUND)
        errorf(current->name,
               "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give "
               "profile '%s' aws_access_key_id and aws_secret_access_key in ~/.aws/credentials "
               "($AWS_SHARED_CREDENTIALS_FILE)",
               sync_config_profile_name(cfg->profile));
    else if (rc)
        errorf(current->name, "cannot read the credentials: %s", sync_strerror(rc));
    return rc ? 1 : 0;
}

/* ---- init ------------------------------------------------------------------ */

static const char init_usage[] =
    "usage: " PROG " init FOLDER s3://BUCKET[/PREFIX] --endpoint URL [--region R] [--profile P]\n"
    "\n"
    "Make FOLDER (created if missing) a synced folder: it will hold the same files\n"
    "as the objects under PREFIX in BUCKET on the cairn server at URL.  Checks that\n"
    "the server answers with these credentials and that the bucket exists, writes\n"
    "FOLDER/.cairn-sync/config and adds FOLDER to the folder list that `" PROG " run`\n"
    "syncs ($XDG_CONFIG_HOME/cairn-sync/folders, default ~/.config/cairn-sync/folders).\n"
    "A folder inside another synced folder, or holding one, is refused.\n"
    "\n"
    "  --endpoint URL   the server, http://host:port or https://host[:port]\n"
    "  --region R       signing region (default: $AWS_REGION, $AWS_DEFAULT_REGION,\n"
    "                   the profile's region, else us-east-1)\n"
    "  --profile P      take the keys from this AWS profile, always (default: the\n"
    "                   environment's keys, else $AWS_PROFILE, else \"default\")\n"
    "\n"
    "Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, else the profile in\n"
    "~/.aws/credentials ($AWS_SHARED_CREDENTIALS_FILE) or ~/.aws/config\n"
    "($AWS_CONFIG_FILE).  They are looked up at every start and never written into\n"
    "the folder.\n";

struct init_opts {
    const char *endpoint, *region, *profile;
};

static int init_option(void *arg, int opt, const char *value)
{
    struct init_opts *o = arg;
    if (opt == 'e')
        o->endpoint = value;
    else if (opt == 'r')
        o->region = value;
    else if (opt == 'p')
        o->profile = value;
    return -1;
}

/*
 * in as an absolute path without links, for a folder that may not exist
 * yet: realpath of its longest existing ancestor, then the missing
 * components (which cannot be links).  *missing = 1 if something is
 * missing.  Returns 0 or -errno (-EINVAL: ".." after a missing folder).
 */
static int absolute_path(const char *in, char *out, int *missing)
{
    char full[PATH_MAX], rest[PATH_MAX] = "", base[PATH_MAX];
    *missing = 0;
    if (in[0] == '/') {
        if (snprintf(full, sizeof full, "%s", in) >= (int)sizeof full)
            return -ENAMETOOLONG;
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return -errno;
        if (join_path(full, sizeof full, cwd, in) != 0)
            return -ENAMETOOLONG;
    }
    while (!realpath(full, base)) {
        if (errno != ENOENT)
            return -errno;
        *missing = 1;
        size_t len = strlen(full);
        while (len > 1 && full[len - 1] == '/')
            full[--len] = 0;
        char *slash = strrchr(full, '/');
        const char *name = slash + 1;
        if (strcmp(name, "..") == 0)
            return -EINVAL;
        if (name[0] && strcmp(name, ".") != 0) {
            char joined[PATH_MAX];
            if (snprintf(joined, sizeof joined, "%s%s%s", name, rest[0] ? "/" : "", rest) >=
                (int)sizeof joined)
                return -ENAMETOOLONG;
            memcpy(rest, joined, strlen(joined) + 1);
        }
        slash[slash == full ? 1 : 0] = 0; /* "/a/b" -> "/a", "/a" -> "/" */
    }
    if (!rest[0])
        return snprintf(out, PATH_MAX, "%s", base) >= PATH_MAX ? -ENAMETOOLONG : 0;
    return join_path(out, PATH_MAX, base, rest) ? -ENAMETOOLONG : 0;
}

/* Is `inner` strictly below `outer`? */
static int is_below(const char *inner, const char *outer)
{
    size_t n = strlen(outer);
    if (strcmp(outer, "/") == 0)
        return inner[0] == '/' && inner[1] != 0;
    return strncmp(inner, outer, n) == 0 && inner[n] == '/';
}

/* Refuse folder inside or around another synced folder: one found by
 * walking up from folder's parent, or one of the list.  0 or 1. */
static int check_nesting(const char *folder, const struct sync_config_folders *list)
{
    char parent[PATH_MAX], found[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", folder);
    char *slash = strrchr(parent, '/');
    if (slash && strcmp(folder, "/") != 0) {
        slash[slash == parent ? 1 : 0] = 0;
        if (sync_config_find_folder(parent, found, sizeof found) == 0) {
            errorf("init", "%s is inside the synced folder %s: folders cannot nest", folder, found);
            return 1;
        }
    }
    for (size_t i = 0; i < list->n; i++) {
        if (is_below(folder, list->paths[i])) {
            errorf("init", "%s is inside the synced folder %s: folders cannot nest", folder,
                   list->paths[i]);
            return 1;
        }
        if (is_below(list->paths[i], folder)) {
            errorf("init", "%s holds the synced folder %s: folders cannot nest", folder,
                   list->paths[i]);
            return 1;
        }
    }
    return 0;
}

/* The server answers with these keys, speaks our sync protocol, and has
 * the bucket.  0 or 1, with a message. */
static int check_server(const struct sync_config *cfg, const struct sync_credentials *cred)
{
    struct sync_remote r;
    struct http_response resp;
    char path[SYNC_CONFIG_BUCKET_MAX + 2];
    memset(&r, 0, sizeof r);
    r.http.endpoint = cfg->endpoint;
    r.http.access_key = cred->access_key;
    r.http.secret_key = cred->secret_key;
    r.http.region = cfg->region;
    r.http.timeout_seconds = INIT_TIMEOUT_S;
    r.bucket = cfg->bucket;
    r.prefix = cfg->prefix;
    int rc = sync_remote_check(&r);
    if (rc == SYNC_EOFFLINE) {
        errorf("init", "cannot reach %s: %s", cfg->endpoint, r.last_error);
        return 1;
    }
    if (rc == SYNC_EAUTH) {
        errorf("init", "%s refused the credentials from %s: %s", cfg->endpoint, cred->source,
               r.last_error);
        return 1;
    }
    if (rc) {
        errorf("init", "%s is not a cairn server that cairn-sync can sync with: %s",
               cfg->endpoint, r.last_error[0] ? r.last_error : sync_strerror(rc));
        return 1;
    }
    snprintf(path, sizeof path, "/%s", cfg->bucket);
    if (http_request(&r.http, "HEAD", path, NULL, NULL, 0, NULL, &resp) != 0) {
        errorf("init", "cannot reach %s: %s", cfg->endpoint, resp.error);
        rc = 1;
    } else if (resp.status == 404) {
        errorf("init", "no such bucket: %s at %s (create it first, e.g. aws --endpoint-url %s "
                       "s3 mb s3://%s)",
               cfg->bucket, cfg->endpoint, cfg->endpoint, cfg->bucket);
        rc = 1;
    } else if (resp.status == 403 || resp.status == 401) {
        errorf("init", "access to bucket %s denied for the credentials from %s", cfg->bucket,
               cred->source);
        rc = 1;
    } else if (resp.status != 200) {
        errorf("init", "bucket %s at %s: HTTP %ld", cfg->bucket, cfg->endpoint, resp.status);
        rc = 1;
    }
    http_response_release(&resp);
    return rc;
}

static const char *region_default(const char *given, const struct sync_credentials *cred)
{
    const char *env[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};
    if (given && *given)
        return given;
    for (size_t i = 0; i < 2; i++)
        if (getenv(env[i]) && *getenv(env[i]))
            return getenv(env[i]);
    return cred->region[0] ? cred->region : SYNC_CONFIG_DEFAULT_REGION;
}

static int cmd_init(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'}, {"region", required_argument, NULL, 'r'},
        {"profile", required_argument, NULL, 'p'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct init_opts o = {0};
    struct sync_config cfg, old;
    struct sync_credentials cred;
    struct sync_config_folders list;
    char folder[PATH_MAX], listfile[PATH_MAX];
    int missing, rc = parse_options(argc, argv, "h", longopts, init_option, &o);
    if (rc >= 0)
        return rc;
    if (argc - optind != 2)
        return usage_error("FOLDER and s3://BUCKET/PREFIX are required");
    const char *folder_arg = argv[optind], *url = argv[optind + 1];
    memset(&cfg, 0, sizeof cfg);
    if (!o.endpoint)
        return usage_error("--endpoint URL is required");
    rc = sync_config_parse_s3_url(url, cfg.bucket, cfg.prefix);
    if (rc)
        return usage_error("%s is not an s3://BUCKET/PREFIX URL that can be synced (%s)", url,
                           rc == SYNC_ETOOLONG ? "too long" : "bad bucket name or prefix");
    if (sync_config_parse_endpoint(o.endpoint, cfg.endpoint) != 0)
        return usage_error("--endpoint %s: expected http://HOST[:PORT] or https://HOST[:PORT]",
                           o.endpoint);
    if (o.profile && strlen(o.profile) >= sizeof cfg.profile)
        return usage_error("--profile: name too long");
    snprintf(cfg.profile, sizeof cfg.profile, "%s", o.profile ? o.profile : "");
    if (strchr(folder_arg, '\n'))
        return usage_error("FOLDER must not contain a line break");

    if ((rc = absolute_path(folder_arg, folder, &missing)) != 0) {
        errorf("init", "%s: %s", folder_arg,
               rc == -EINVAL ? "'..' after a folder that does not exist" : strerror(-rc));
        return 1;
    }
    struct stat st;
    if (!missing && (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode))) {
        errorf("init", "%s is not a folder", folder);
        return 1;
    }
    if (find_credentials(&cfg, &cred) != 0)
        return 1;
    const char *region = region_default(o.region, &cred);
    if (strlen(region) >= sizeof cfg.region) {
        explicit_bzero(&cred, sizeof cred);
        return usage_error("--region: name too long");
    }
    snprintf(cfg.region, sizeof cfg.region, "%s", region);

    /* Initialized already: fine if it is the same remote (the folder may be
     * missing from this user's list), refused otherwise: its index belongs
     * to the old one. */
    int again = 0;
    if (!missing && sync_config_load(folder, &old, NULL, 0) == 0) {
        if (strcmp(old.endpoint, cfg.endpoint) != 0 || strcmp(old.bucket, cfg.bucket) != 0 ||
            strcmp(old.prefix, cfg.prefix) != 0) {
            errorf("init", "%s is already synced with s3://%s/%s at %s", folder, old.bucket,
                   old.prefix, old.endpoint);
            explicit_bzero(&cred, sizeof cred);
            return 1;
        }
        again = 1;
    }
    rc = sync_config_folders_path(listfile, sizeof listfile);
    if (rc == 0)
        rc = sync_config_folders_read(listfile, &list);
    if (rc) {
        errorf("init", "cannot read the folder list: %s", sync_strerror(rc));
        explicit_bzero(&cred, sizeof cred);
        return 1;
    }
    rc = check_nesting(folder, &list);
    sync_config_folders_release(&list);
    if (rc == 0)
        rc = check_server(&cfg, &cred);
    explicit_bzero(&cred, sizeof cred);
    if (rc)
        return 1;

    if (missing && (rc = file_make_dirs(folder, 0777)) != 0) {
        errorf("init", "cannot create %s: %s", folder, strerror(-rc));
        return 1;
    }
    if ((rc = sync_config_save(folder, &cfg)) != 0) {
        errorf("init", "cannot write %s/%s/%s: %s", folder, SYNC_STATE_DIR, SYNC_CONFIG_FILE,
               sync_strerror(rc));
        return 1;
    }
    rc = sync_config_folders_add(listfile, folder);
    if (rc < 0) {
        errorf("init", "cannot add %s to %s: %s", folder, listfile, sync_strerror(rc));
        return 1;
    }
    printf("%s %s s3://%s/%s at %s\n", folder, again ? "was already synced with" : "will sync with",
           cfg.bucket, cfg.prefix, cfg.endpoint);
    printf("Start syncing with `" PROG " run` (or the systemd unit, see docs/sync-client.md).\n");
    return 0;
}

/* ---- run ------------------------------------------------------------------- */

static const char run_usage[] =
    "usage: " PROG " run [FOLDER...] [--workers N] [--host NAME] [--quiet]\n"
    "\n"
    "Sync in the foreground until SIGTERM or SIGINT (Ctrl-C): every folder of the\n"
    "folder list, or the synced folders given, each on a thread of its own.  One\n"
    "process at a time syncs a folder (a lock in FOLDER/.cairn-sync/); other\n"
    "processes may sync other folders beside it.\n"
    "\n"
    "  --workers N   parallel transfers per folder (default 4)\n"
    "  --host NAME   this device's name in conflict copies (default: the host name)\n"
    "  --quiet       do not print each action on stderr (FOLDER/.cairn-sync/log\n"
    "                keeps them anyway)\n"
    "\n"
    "Exit status: 0 after a clean stop; 1 if no folder could start, or one\n"
    "stopped on an error it cannot get past (credentials refused, ...).\n";

struct run_opts {
    int workers, quiet;
    const char *host;
};

static int run_option(void *arg, int opt, const char *value)
{
    struct run_opts *o = arg;
    if (opt == 'q') {
        o->quiet = 1;
    } else if (opt == 'H') {
        o->host = value;
    } else if (opt == 'w') {
        char *end;
        long n = strtol(value, &end, 10);
        if (*end || end == value || n < 1 || n > 64)
            return usage_error("--workers takes a number from 1 to 64");
        o->workers = (int)n;
    }
    return -1;
}

/* One folder's engine and the thread that runs it. */
struct runner {
    const char *folder; /* borrowed from the folder list */
    struct sync_engine *engine;
    pthread_t thread;
    int rc;
};

static void *runner_main(void *arg)
{
    struct runner *r = arg;
    r->rc = sync_engine_run(r->engine, &stop_requested);
    if (r->rc)
        errorf("run", "%s: stopped syncing: %s", r->folder, sync_strerror(r->rc));
    return NULL;
}

/* Config, keys and engine of one folder.  0, or 1 with a message. */
static int runner_open(struct runner *r, const struct run_opts *o)
{
    struct sync_config cfg;
    struct sync_credentials cred;
    if (load_config(r->folder, &cfg) != 0 || find_credentials(&cfg, &cred) != 0)
        return 1;
    struct sync_engine_config ec = {
        .root = r->folder,
        .endpoint = cfg.endpoint,
        .region = cfg.region,
        .access_key = cred.access_key,
        .secret_key = cred.secret_key,
        .bucket = cfg.bucket,
        .prefix = cfg.prefix,
        .workers = o->workers,
        .host = o->host,
        .quiet = o->quiet,
    };
    int rc = sync_engine_new(&ec, &r->engine); /* copies the strings */
    explicit_bzero(&cred, sizeof cred);
    if (rc == SYNC_ELOCKED)
        errorf("run", "another cairn-sync process syncs %s", r->folder);
    else if (rc)
        errorf("run", "cannot sync %s: %s", r->folder, sync_strerror(rc));
    else if (!o->quiet)
        fprintf(stderr, PROG ": syncing %s with s3://%s/%s at %s\n", r->folder, cfg.bucket,
                cfg.prefix, cfg.endpoint);
    return rc ? 1 : 0;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"workers", required_argument, NULL, 'w'}, {"quiet", no_argument, NULL, 'q'},
        {"host", required_argument, NULL, 'H'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct run_opts o = {0, 0, NULL};
    struct sync_config_folders folders;
    int rc = parse_options(argc, argv, "hqw:H:", longopts, run_option, &o);
    if (rc >= 0)
        return rc;
    if ((rc = folders_for(argc - optind, argv + optind, &folders)) != 0)
        return rc;
    struct runner *runners = calloc(folders.n, sizeof *runners);
    size_t started = 0;
    if (!runners) {
        errorf("run", "out of memory");
        sync_config_folders_release(&folders);
        return 1;
    }
    /* SIGTERM and SIGINT reach the main thread only: the engines' threads
     * (which inherit the mask) see no EINTR, just the flag. */
    sigset_t stop_set, old_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    catch_stop_signals();
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < folders.n && !stop_requested; i++) {
        struct runner *r = &runners[started];
        r->folder = folders.paths[i];
        if (runner_open(r, &o) != 0)
            continue;
        pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
        errno = pthread_create(&r->thread, NULL, runner_main, r);
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
        if (errno != 0) {
            errorf("run", "%s: cannot start a thread: %s", r->folder, strerror(errno));
            sync_engine_free(r->engine);
            continue;
        }
        pthread_setname_np(r->thread, "sync-folder");
        started++;
    }
    rc = started ? 0 : 1;
    for (size_t i = 0; i < started; i++) {
        pthread_join(runners[i].thread, NULL);
        if (runners[i].rc)
            rc = 1;
        sync_engine_free(runners[i].engine);
    }
    free(runners);
    sync_config_folders_release(&folders);
    return rc;
}

/* ---- status ---------------------------------------------------------------- */

static const char status_usage[] =
    "usage: " PROG " status [FOLDER...] [--json]\n"
    "\n"
    "One line per synced folder (default: every folder of the list):\n"
    "  up to date | syncing N files, M MiB left | offline | paused |\n"
    "  errors (N), with the paths below | not running\n"
    "On a terminal, while a folder is syncing, a progress bar is redrawn every\n"
    "0.5 s until every folder is done (Ctrl-C ends it).\n"
    "\n"
    "  --json   print FOLDER/.cairn-sync/status.json of each folder as a JSON\n"
    "           array, each object with \"folder\" and \"running\" added\n";

struct folder_status {
    const char *folder;
    cJSON *doc;          /* status.json; NULL if missing or unreadable */
    int running;
    char problem[200];   /* why status.json could not be read; "" fine */
    double max_pending;  /* the most pending_bytes seen, for the bar */
};

static const char *json_str(const cJSON *o, const char *name)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
    return s ? s : "";
}

static double json_num(const cJSON *o, const char *name)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/*
 * Is a daemon syncing the folder?  Its pid in status.json must be alive,
 * its state not "stopped", and the folder's lock held: a shared flock
 * attempt must fail.  The attempt is made only when everything else says
 * yes (the lock is then held, so the attempt cannot get in the way of a
 * daemon starting), and released at once.
 */
static int daemon_running(const char *folder, const cJSON *doc)
{
    char lock[PATH_MAX];
    double pid = json_num(doc, "pid");
    if (pid < 1 || pid > INT32_MAX || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
        return 0;
    if (strcmp(json_str(doc, "state"), "stopped") == 0)
        return 0;
    if (state_file(lock, folder, "lock") != 0)
        return 0;
    int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    int held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd); /* releases the shared lock if it was taken */
    return held;
}

/* (Re)read one folder's status. */
static void status_read(struct folder_status *fs)
{
    char path[PATH_MAX];
    struct buf b;
    cJSON_Delete(fs->doc);
    fs->doc = NULL;
    fs->running = 0;
    fs->problem[0] = 0;
    if (state_file(path, fs->folder, SYNC_ENGINE_STATUS_FILE) != 0) {
        snprintf(fs->problem, sizeof fs->problem, "path too long");
        return;
    }
    buf_init(&b, STATUS_JSON_MAX);
    int rc = file_read(path, &b);
    if (rc == 0) {
        fs->doc = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
        if (!cJSON_IsObject(fs->doc)) {
            cJSON_Delete(fs->doc);
            fs->doc = NULL;
            snprintf(fs->problem, sizeof fs->problem, SYNC_ENGINE_STATUS_FILE " is not a JSON object");
        }
    } else if (rc != -ENOENT) {
        snprintf(fs->problem, sizeof fs->problem, SYNC_ENGINE_STATUS_FILE ": %s", strerror(-rc));
    }
    buf_release(&b);
    if (fs->doc) {
        fs->running = daemon_running(fs->folder, fs->doc);
        double pending = json_num(fs->doc, "pending_bytes");
        if (pending > fs->max_pending)
            fs->max_pending = pending;
    }
}

static int is_syncing(const struct folder_status *fs)
{
    return fs->running && strcmp(json_str(fs->doc, "state"), "syncing") == 0;
}

/* Print fs's lines into out; with_bar adds a progress bar to "syncing". */
static void status_format(const struct folder_status *fs, int with_bar, struct buf *out)
{
    const cJSON *doc = fs->doc, *e;
    const char *state = json_str(doc, "state");
    if (fs->problem[0]) {
        buf_printf(out, "%s: status unknown (%s)\n", fs->folder, fs->problem);
        return;
    }
    if (!fs->running) {
        buf_printf(out, "%s: not running\n", fs->folder);
        return;
    }
    if (strcmp(state, "syncing") == 0) {
        double left = json_num(doc, "pending_bytes");
        buf_printf(out, "%s: syncing %.0f files, %.1f MiB left", fs->folder,
                   json_num(doc, "pending_files"), left / (1024.0 * 1024.0));
        if (with_bar) {
            double done = fs->max_pending > 0 ? 1.0 - left / fs->max_pending : 0;
            int fill = (int)(done * BAR_WIDTH + 0.5);
            buf_puts(out, " [");
            for (int i = 0; i < BAR_WIDTH; i++)
                buf_puts(out, i < fill ? "#" : "-");
            buf_printf(out, "] %3.0f%%", done * 100);
        }
        buf_puts(out, "\n");
    } else if (strcmp(state, "errors") == 0) {
        const cJSON *errs = cJSON_GetObjectItemCaseSensitive(doc, "errors");
        buf_printf(out, "%s: errors (%d)\n", fs->folder, cJSON_GetArraySize(errs));
        cJSON_ArrayForEach(e, errs)
            buf_printf(out, "  %s: %s\n", json_str(e, "path"), json_str(e, "error"));
    } else {
        buf_printf(out, "%s: %s\n", fs->folder, state[0] ? state : "unknown state");
        if (strcmp(state, "offline") == 0 && json_str(doc, "last_error")[0])
            buf_printf(out, "  last error: %s\n", json_str(doc, "last_error"));
    }
}

/* Terminal rows text takes at cols columns (UTF-8 counted by characters). */
static int rows_of(const char *text, int cols)
{
    int rows = 0, width = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n') {
            rows += width ? (width + cols - 1) / cols : 1;
            width = 0;
        } else if ((*p & 0xC0) != 0x80) {
            width++;
        }
    }
    return rows;
}

static int status_json(struct folder_status *st, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *o = st[i].doc ? cJSON_Duplicate(st[i].doc, 1) : cJSON_CreateObject();
        cJSON_DeleteItemFromObjectCaseSensitive(o, "folder");
        cJSON_DeleteItemFromObjectCaseSensitive(o, "running");
        cJSON_AddStringToObject(o, "folder", st[i].folder);
        cJSON_AddBoolToObject(o, "running", st[i].running);
        if (!st[i].doc)
            cJSON_AddStringToObject(o, "state", "not running");
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_Print(arr);
    cJSON_Delete(arr);
    if (!text)
        return 1;
    printf("%s\n", text);
    free(text);
    return 0;
}

static int status_option(void *arg, int opt, const char *value)
{
    (void)value;
    if (opt == 'j')
        *(int *)arg = 1;
    return -1;
}

static int cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct sync_config_folders folders;
    struct sync_config cfg;
    int json = 0, rc = parse_options(argc, argv, "h", longopts, status_option, &json);
    if (rc >= 0)
        return rc;
    if ((rc = folders_for(argc - optind, argv + optind, &folders)) != 0)
        return rc;
    struct folder_status *st = calloc(folders.n, sizeof *st);
    if (!st) {
        sync_config_folders_release(&folders);
        return 1;
    }
    int syncing = 0;
    for (size_t i = 0; i < folders.n; i++) {
        st[i].folder = folders.paths[i];
        if (load_config(st[i].folder, &cfg) != 0)
            rc = 1;
        status_read(&st[i]);
        if (st[i].problem[0])
            rc = 1;
        syncing |= is_syncing(&st[i]);
    }
    if (json) {
        if (status_json(st, folders.n) != 0)
            rc = 1;
    } else {
        int live = syncing && isatty(STDOUT_FILENO), rows = 0;
        struct winsize ws;
        int cols = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
        if (live)
            catch_stop_signals();
        for (;;) {
            struct buf out;
            buf_init(&out, 1u << 24);
            for (size_t i = 0; i < folders.n; i++)
                status_format(&st[i], live, &out);
            if (rows) /* back to the first row of the previous drawing, clear below */
                printf("\033[%dF\033[J", rows);
            fputs(out.data ? out.data : "", stdout);
            fflush(stdout);
            rows = rows_of(out.data ? out.data : "", cols);
            buf_release(&out);
            if (!live || !syncing || stop_requested)
                break;
            poll_sleep();
            syncing = 0;
            for (size_t i = 0; i < folders.n; i++) {
                status_read(&st[i]);
                syncing |= is_syncing(&st[i]);
            }
        }
    }
    for (size_t i = 0; i < folders.n; i++)
        cJSON_Delete(st[i].doc);
    free(st);
    sync_config_folders_release(&folders);
    return rc;
}

/* ---- conflicts ------------------------------------------------------------- */

static const char conflicts_usage[] =
    "usage: " PROG " conflicts [FOLDER...]\n"
    "\n"
    "List the conflict copies in each synced folder (default: every folder of the\n"
    "list), one path a line: files named \"NAME (conflicted copy DATE HOST).EXT\"\n"
    "that the folder's index knows and that are still on disk.  When a file changed\n"
    "here and on the server, the server's version keeps the name and the local one\n"
    "becomes such a copy; compare them, keep what you want, delete the copy.\n";

/* sync_index_iterate callback; arg is the folder. */
static int conflict_entry(void *arg, const struct sync_entry *e)
{
    const char *folder = arg;
    char path[PATH_MAX];
    struct stat st;
    if (e->st.kind == SYNC_KIND_DIR || !sync_conflict_is_copy(e->path, e->path_len))
        return 0;
    if (join_path(path, sizeof path, folder, e->path) == 0 && lstat(path, &st) == 0)
        printf("%s\n", path);
    return 0;
}

static int cmd_conflicts(int argc, char **argv)
{
    struct sync_config_folders folders;
    struct sync_config cfg;
    int rc = parse_options(argc, argv, "h", help_only, no_options, NULL);
    if (rc >= 0)
        return rc;
    if ((rc = folders_for(argc - optind, argv + optind, &folders)) != 0)
        return rc;
    for (size_t i = 0; i < folders.n; i++) {
        const char *folder = folders.paths[i];
        struct sync_index *ix = NULL;
        if (load_config(folder, &cfg) != 0) {
            rc = 1;
            continue;
        }
        int err = sync_index_open(folder, NULL, &ix);
        if (err == 0)
            err = sync_index_iterate(ix, NULL, NULL, 0, conflict_entry, (void *)folder);
        sync_index_close(ix);
        if (err) {
            errorf("conflicts", "%s: cannot read the index: %s", folder, sync_strerror(err));
            rc = 1;
        }
    }
    sync_config_folders_release(&folders);
    return rc;
}

/* ---- pause, resume --------------------------------------------------------- */

static const char pause_usage[] =
    "usage: " PROG " pause [FOLDER...]\n"
    "\n"
    "Stop transferring in each synced folder (default: every folder of the list)\n"
    "until `" PROG " resume`; the daemon keeps watching.  Works whether the daemon\n"
    "runs or not: it creates FOLDER/.cairn-sync/paused.\n";

static const char resume_usage[] =
    "usage: " PROG " resume [FOLDER...]\n"
    "\n"
    "Undo `" PROG " pause` (remove FOLDER/.cairn-sync/paused).\n";

static int pause_or_resume(int argc, char **argv, int pause)
{
    struct sync_config_folders folders;
    struct sync_config cfg;
    char path[PATH_MAX];
    int rc = parse_options(argc, argv, "h", help_only, no_options, NULL);
    if (rc >= 0)
        return rc;
    if ((rc = folders_for(argc - optind, argv + optind, &folders)) != 0)
        return rc;
    for (size_t i = 0; i < folders.n; i++) {
        const char *folder = folders.paths[i];
        int err = 0, fd;
        if (load_config(folder, &cfg) != 0) {
            rc = 1;
            continue;
        }
        if ((err = state_file(path, folder, SYNC_ENGINE_PAUSED_FILE)) == 0) {
            if (pause && (fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) >= 0)
                close(fd);
            else if (pause || (unlink(path) != 0 && errno != ENOENT))
                err = -errno;
        }
        if (err) {
            errorf(current->name, "%s: %s", path, sync_strerror(err));
            rc = 1;
        } else {
            printf("%s: %s\n", folder, pause ? "paused" : "resumed");
        }
    }
    sync_config_folders_release(&folders);
    return rc;
}

static int cmd_pause(int argc, char **argv)
{
    return pause_or_resume(argc, argv, 1);
}

static int cmd_resume(int argc, char **argv)
{
    return pause_or_resume(argc, argv, 0);
}

/* ---- log ------------------------------------------------------------------- */

static const char log_usage[] =
    "usage: " PROG " log [FOLDER] [-n N] [-f] [--json]\n"
    "\n"
    "Print the last N (default 20) actions of a synced folder's log\n"
    "(FOLDER/.cairn-sync/log, JSON lines) as \"DATE TIME event path: message\".\n"
    "FOLDER defaults to the synced folder holding the current directory, else the\n"
    "only folder of the list.\n"
    "\n"
    "  -n N       how many lines\n"
    "  -f         then keep printing new lines as they come (Ctrl-C ends)\n"
    "  --json     print the raw JSON lines\n";

struct log_opts {
    long lines;
    int follow, json;
};

static int log_option(void *arg, int opt, const char *value)
{
    struct log_opts *o = arg;
    if (opt == 'f') {
        o->follow = 1;
    } else if (opt == 'j') {
        o->json = 1;
    } else if (opt == 'n') {
        char *end;
        o->lines = strtol(value, &end, 10);
        if (*end || end == value || o->lines < 0 || o->lines > 1000000)
            return usage_error("-n takes a number of lines (0 to 1000000)");
    }
    return -1;
}

/* One log line, as people read it (or raw with json). */
static void log_print(const char *line, size_t len, int json)
{
    cJSON *j = json ? NULL : cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(j)) {
        printf("%.*s\n", (int)len, line);
        cJSON_Delete(j);
        return;
    }
    char when[32] = "";
    time_t t = (time_t)(json_num(j, "ts_ms") / 1000);
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    const char *level = json_str(j, "level"), *event = json_str(j, "event");
    const char *path = json_str(j, "path"), *msg = json_str(j, "msg");
    printf("%s", when);
    if (level[0] && strcmp(level, "info") != 0)
        printf(" [%s]", level);
    printf(" %s", event[0] ? event : "-");
    if (path[0])
        printf(" %s", path);
    if (msg[0])
        printf(": %s", msg);
    putchar('\n');
    cJSON_Delete(j);
}

/* Print every complete line of b from *done on; *done moves past them. */
static void log_print_lines(const struct buf *b, size_t *done, int json)
{
    const char *nl;
    while (*done < b->len && (nl = memchr(b->data + *done, '\n', b->len - *done))) {
        size_t len = (size_t)(nl - (b->data + *done));
        if (len)
            log_print(b->data + *done, len, json);
        *done += len + 1;
    }
}

/* Up to LOG_TAIL_MAX bytes at the end of fd (the part from its first
 * line start when cut), into out. */
static int read_tail(int fd, struct buf *out)
{
    struct stat st;
    char block[65536];
    if (fstat(fd, &st) != 0)
        return -errno;
    off_t off = st.st_size > (off_t)LOG_TAIL_MAX ? st.st_size - (off_t)LOG_TAIL_MAX : 0;
    int cut = off > 0;
    if (lseek(fd, off, SEEK_SET) < 0)
        return -errno;
    for (;;) {
        ssize_t n = read(fd, block, sizeof block);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0 || buf_append(out, block, (size_t)n) != 0)
            break;
    }
    if (cut && out->len) {
        const char *nl = memchr(out->data, '\n', out->len);
        size_t skip = nl ? (size_t)(nl - out->data) + 1 : out->len;
        memmove(out->data, out->data + skip, out->len - skip + 1);
        out->len -= skip;
    }
    return 0;
}

/* Offset in b where its last n complete lines begin. */
static size_t last_lines(const struct buf *b, long n, long *found)
{
    size_t end = b->len;
    *found = 0;
    while (end && b->data[end - 1] != '\n') /* a line being written: not yet */
        end--;
    size_t start = end;
    while (start && *found < n) {
        size_t p = start - 1; /* the '\n' ending a line */
        while (p && b->data[p - 1] != '\n')
            p--;
        start = p;
        ++*found;
    }
    return start;
}

/* The folder log works on: the argument's, the current directory's, or
 * the list's only one.  0, or an exit status. */
static int log_folder(int argc, char **argv, char *folder)
{
    struct sync_config_folders l;
    char cwd[PATH_MAX];
    if (argc > 1)
        return usage_error("one FOLDER at most");
    if (argc == 0 && getcwd(cwd, sizeof cwd) &&
        sync_config_find_folder(cwd, folder, PATH_MAX) == 0)
        return 0;
    int rc = folders_for(argc, argv, &l);
    if (rc)
        return rc;
    if (l.n != 1)
        rc = usage_error("%zu synced folders: name one", l.n);
    else
        snprintf(folder, PATH_MAX, "%s", l.paths[0]);
    sync_config_folders_release(&l);
    return rc;
}

static int cmd_log(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'}, {"follow", no_argument, NULL, 'f'},
        {"lines", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct log_opts o = {20, 0, 0};
    struct sync_config cfg;
    char folder[PATH_MAX], path[PATH_MAX], old[PATH_MAX + 8];
    int rc = parse_options(argc, argv, "hfn:", longopts, log_option, &o);
    if (rc >= 0)
        return rc;
    if ((rc = log_folder(argc - optind, argv + optind, folder)) != 0)
        return rc;
    if (load_config(folder, &cfg) != 0 || state_file(path, folder, SYNC_ENGINE_LOG_FILE) != 0)
        return 1;
    snprintf(old, sizeof old, "%s.1", path);

    /* the tail: log, and the rotated log.1 before it if log is short */
    struct buf cur, prev;
    long found = 0, found_prev = 0;
    buf_init(&cur, LOG_TAIL_MAX);
    buf_init(&prev, LOG_TAIL_MAX);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        errorf("log", "%s: %s", path, strerror(errno));
        return 1;
    }
    if (fd >= 0 && (rc = read_tail(fd, &cur)) != 0) {
        errorf("log", "%s: %s", path, strerror(-rc));
        close(fd);
        buf_release(&cur);
        return 1;
    }
    size_t start = last_lines(&cur, o.lines, &found), start_prev = 0;
    if (found < o.lines) {
        int ofd = open(old, O_RDONLY | O_CLOEXEC);
        if (ofd >= 0 && read_tail(ofd, &prev) == 0)
            start_prev = last_lines(&prev, o.lines - found, &found_prev);
        if (ofd >= 0)
            close(ofd);
        if (prev.len && prev.data[prev.len - 1] != '\n')
            buf_append(&prev, "\n", 1);
        log_print_lines(&prev, &start_prev, o.json);
    }
    log_print_lines(&cur, &start, o.json);
    buf_release(&prev);
    fflush(stdout);

    if (o.follow) {
        /* keep reading the open file; when it is rotated (a new inode at
         * path), finish the old one and go on with the new one from 0 */
        catch_stop_signals();
        size_t done = start;
        char block[65536];
        while (!stop_requested) {
            ssize_t n = 0;
            while (fd >= 0 && (n = read(fd, block, sizeof block)) > 0) {
                if (buf_append(&cur, block, (size_t)n) != 0) /* cap: drop what is printed */
                    break;
                log_print_lines(&cur, &done, o.json);
            }
            if (done) {
                memmove(cur.data, cur.data + done, cur.len - done + 1);
                cur.len -= done;
                done = 0;
            }
            fflush(stdout);
            struct stat now, mine;
            if (stat(path, &now) == 0 &&
                (fd < 0 || (fstat(fd, &mine) == 0 && (now.st_ino != mine.st_ino ||
                                                      now.st_dev != mine.st_dev)))) {
                if (fd >= 0)
                    close(fd);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                buf_reset(&cur);
                if (fd >= 0)
                    continue; /* read the new file at once */
            }
            if (fd >= 0 && fstat(fd, &mine) == 0 && lseek(fd, 0, SEEK_CUR) > mine.st_size) {
                lseek(fd, 0, SEEK_SET); /* truncated */
                buf_reset(&cur);
            }
            poll_sleep();
        }
    }
    if (fd >= 0)
        close(fd);
    buf_release(&cur);
    return 0;
}

/* ---- share ----------------------------------------------------------------- */

static const char share_usage[] =
    "usage: " PROG " share PATH [--expires DURATION]\n"
    "\n"
    "Print a link that downloads the file PATH (in a synced folder) from the\n"
    "server, for anyone who has it, until it expires: a presigned GET URL of the\n"
    "object, made with the folder's endpoint and credentials.  The file must have\n"
    "been synced for the link to work.\n"
    "\n"
    "  --expires DURATION   seconds (3600), or minutes, hours or days (15m, 12h,\n"
    "                       7d); default 1h, at most 7d\n";

static int share_option(void *arg, int opt, const char *value)
{
    if (opt == 'e')
        *(const char **)arg = value;
    return -1;
}

static int cmd_share(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"expires", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *expires_arg = NULL;
    long expires = 3600;
    struct sync_config cfg;
    struct sync_credentials cred;
    struct sync_ignore *ig = NULL;
    struct stat st;
    char dir[PATH_MAX], abs[PATH_MAX], folder[PATH_MAX], key[2 * PATH_MAX];
    int rc = parse_options(argc, argv, "h", longopts, share_option, &expires_arg);
    if (rc >= 0)
        return rc;
    if (argc - optind != 1)
        return usage_error("one PATH is required");
    if (expires_arg && (rc = sigv4_parse_expires(expires_arg, &expires)) != 0)
        return usage_error(rc == SIGV4_EEXPIRES
                               ? "--expires %s: a shared link lasts at least 1s and at most 7 "
                                 "days (7d)"
                               : "--expires %s: expected seconds, or a number with s, m, h or d",
                           expires_arg);
    const char *arg = argv[optind];
    if (lstat(arg, &st) != 0) {
        errorf("share", "%s: %s", arg, strerror(errno));
        return 1;
    }
    if (S_ISDIR(st.st_mode)) {
        errorf("share", "%s is a folder: share a file", arg);
        return 1;
    }
    /* resolve the folder that holds it, not the file itself: a link is
     * synced as a link */
    snprintf(dir, sizeof dir, "%s", arg);
    char *slash = strrchr(dir, '/');
    const char *name = slash ? slash + 1 : arg;
    if (slash == dir)
        snprintf(dir, sizeof dir, "/");
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    if (!realpath(dir, abs)) {
        errorf("share", "%s: %s", arg, strerror(errno));
        return 1;
    }
    if (strlen(abs) + 1 + strlen(name) >= sizeof abs) {
        errorf("share", "%s: %s", arg, strerror(ENAMETOOLONG));
        return 1;
    }
    if (sync_config_find_folder(abs, folder, sizeof folder) != 0) {
        errorf("share", "%s is not in a synced folder", arg);
        return 1;
    }
    snprintf(abs + strlen(abs), sizeof abs - strlen(abs), "%s%s", strcmp(abs, "/") ? "/" : "",
             name);
    const char *rel = abs + strlen(folder) + (strcmp(folder, "/") ? 1 : 0);
    if (sync_path_check(rel, strlen(rel)) != 0) {
        errorf("share", "%s: this name cannot be synced, so it is not on the server", arg);
        return 1;
    }
    char ignore_file[PATH_MAX];
    int ignored = join_path(ignore_file, sizeof ignore_file, folder, SYNC_IGNORE_FILE) == 0 &&
                  sync_ignore_new_from_file(ignore_file, NULL, &ig) == 0 &&
                  sync_ignore_path(ig, rel, strlen(rel), 0) == 1;
    sync_ignore_free(ig);
    if (ignored) {
        errorf("share", "%s is ignored (built-in rules or %s), so it is not on the server", arg,
               SYNC_IGNORE_FILE);
        return 1;
    }
    if (load_config(folder, &cfg) != 0 || find_credentials(&cfg, &cred) != 0)
        return 1;
    snprintf(key, sizeof key, "%s%s", cfg.prefix, rel);
    struct sigv4_credentials sc = {cred.access_key, cred.secret_key, cfg.region, "s3"};
    struct buf url;
    buf_init(&url, 65536);
    rc = sigv4_presign_object(&sc, "GET", cfg.endpoint, cfg.bucket, key, expires, time(NULL),
                              &url);
    explicit_bzero(&cred, sizeof cred);
    if (rc == 0)
        printf("%s\n", url.data);
    else
        errorf("share", "cannot sign the link: %s", sigv4_strerror(rc));
    buf_release(&url);
    return rc ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------ */

static const struct command commands[] = {
    {"init", cmd_init, init_usage},
    {"run", cmd_run, run_usage},
    {"status", cmd_status, status_usage},
    {"conflicts", cmd_conflicts, conflicts_usage},
    {"pause", cmd_pause, pause_usage},
    {"resume", cmd_resume, resume_usage},
    {"log", cmd_log, log_usage},
    {"share", cmd_share, share_usage},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " <command> [options]\n"
               "\n"
               "Keeps local folders in sync with a cairn server, sending only the chunks\n"
               "that changed.\n"
               "\n"
               "commands:\n"
               "  init FOLDER s3://BUCKET/PREFIX --endpoint URL   make FOLDER a synced folder\n"
               "  run [FOLDER...]        sync in the foreground until SIGTERM/Ctrl-C\n"
               "  status [FOLDER...]     up to date, syncing, offline, paused, errors?\n"
               "  conflicts [FOLDER...]  list the conflict copies\n"
               "  pause [FOLDER...]      stop transferring until resume\n"
               "  resume [FOLDER...]\n"
               "  log [FOLDER] [-n N] [-f]   recent actions\n"
               "  share PATH [--expires 7d]  print a download link for a synced file\n"
               "  version                print the version\n"
               "\n"
               "`" PROG " COMMAND --help` explains each.  Guide: docs/sync-client.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf(PROG " %s\n", CAIRN_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        current = &commands[i];
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = commands[i].run(argc - 1, argv + 1);
        curl_global_cleanup();
        return rc;
    }
    fprintf(stderr, PROG ": unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}
