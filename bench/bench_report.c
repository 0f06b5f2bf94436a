/* bench/bench_report.c - sizes in and out, the result table and the JSON
 * lines. */
#include "bench/bench.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void bench_format_size(uint64_t size, char *out, size_t outlen)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    uint64_t v = size;
    while (u + 1 < sizeof units / sizeof units[0] && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    snprintf(out, outlen, "%" PRIu64 "%s", v, units[u]);
}

int bench_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *name;
        double mult;
    } units[] = {
        {"", 1},           {"b", 1},
        {"k", 1024.0},     {"kib", 1024.0},       {"kb", 1e3},
        {"m", 1048576.0},  {"mib", 1048576.0},    {"mb", 1e6},
        {"g", 1073741824.0}, {"gib", 1073741824.0}, {"gb", 1e9},
    };
    char *end;

    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || v < 0)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].name) != 0)
            continue;
        double bytes = v * units[i].mult;
        if (bytes > (double)BENCH_MAX_SIZE || fabs(bytes - round(bytes)) > 1e-6)
            return -1;
        *out = (uint64_t)llround(bytes);
        return 0;
    }
    return -1;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

void bench_report_row(const struct bench_opts *o, const struct bench_result *r)
{
    static int header_done;
    char size[32] = "-", keys_per_s[32] = "-";
    double secs = r->seconds > 0 ? r->seconds : 1e-9;

    if (!header_done) {
        printf("%-8s %-6s %8s %5s %9s %7s %10s %9s %9s %9s %9s %10s\n", "target", "op", "size",
               "conc", "ops", "errors", "ops/s", "MB/s", "p50 ms", "p99 ms", "max ms", "keys/s");
        header_done = 1;
    }
    if (r->op == BENCH_PUT || ((r->op == BENCH_GET || r->op == BENCH_HEAD) && o->size_given))
        bench_format_size(o->size, size, sizeof size);
    if (r->op == BENCH_LIST)
        snprintf(keys_per_s, sizeof keys_per_s, "%.0f", (double)r->keys / secs);
    printf("%-8s %-6s %8s %5u %9" PRIu64 " %7" PRIu64 " %10.1f %9.1f %9.2f %9.2f %9.2f %10s\n",
           o->label, bench_op_name(r->op), size, o->concurrency, r->ops, r->errors,
           (double)r->ops / secs, (double)r->bytes / secs / 1e6, ms(bench_hist_quantile(&r->hist, 0.5)),
           ms(bench_hist_quantile(&r->hist, 0.99)), ms(r->hist.max), keys_per_s);
    fflush(stdout);
}

/* label is the only free text; keep it JSON-safe. */
static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

void bench_report_json(const struct bench_opts *o, const struct bench_result *r, const char *phase)
{
    double secs = r->seconds > 0 ? r->seconds : 1e-9;
    printf("{\"target\":");
    json_string(o->label);
    printf(",\"phase\":\"%s\",\"op\":\"%s\",\"size\":%" PRIu64 ",\"concurrency\":%u,\"threads\":%u"
           ",\"ops\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"seconds\":%.3f"
           ",\"ops_per_s\":%.2f,\"mb_per_s\":%.2f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f",
           phase, bench_op_name(r->op), r->op == BENCH_LIST ? 0 : o->size, o->concurrency,
           o->threads, r->ops, r->errors, r->bytes, r->seconds, (double)r->ops / secs,
           (double)r->bytes / secs / 1e6, ms(bench_hist_quantile(&r->hist, 0.5)),
           ms(bench_hist_quantile(&r->hist, 0.99)), ms(r->hist.max));
    if (r->op == BENCH_LIST)
        printf(",\"keys\":%" PRIu64 ",\"keys_per_s\":%.1f,\"max_keys\":%u", r->keys,
               (double)r->keys / secs, o->max_keys);
    printf("}\n");
    fflush(stdout);
}
