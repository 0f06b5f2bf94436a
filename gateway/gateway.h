/*
 * gateway/gateway.h - the S3 HTTP endpoint.
 *
 * The only header cmd/ includes from gateway/ (with objlayer.h, which it
 * needs to build the object layer it hands over).
 *
 * Calling sequence: gateway_start() -> requests are served on the
 * gateway's own threads -> gateway_stop() (drains, then returns).
 *
 * Threads: libmicrohttpd runs one thread per connection, so a request that
 * waits on disk stalls only its own connection; shard I/O itself goes to the
 * chunkstore's per-drive workers.  A background thread collects garbage,
 * another applies bucket lifecycle rules (gateway/lifecycle.h).
 */
#ifndef CAIRN_GATEWAY_H
#define CAIRN_GATEWAY_H

#include <stdint.h>

#include "gateway/objlayer.h"

struct gateway_config {
    const char *listen_host;      /* numeric IPv4/IPv6 address, e.g. "127.0.0.1" */
    uint16_t port;
    const char *domain;           /* virtual-hosted style: BUCKET.domain; NULL/"" off */
    const char *region;           /* answered by GetBucketLocation ("us-east-1") */
    const char *root_access_key;  /* the root user's credentials */
    const char *root_secret_key;
    unsigned max_connections;     /* 0: 1024 */
    int64_t gc_interval_ms;       /* background collection period (0: off) */
    int64_t clock_skew_ms;        /* allowed request time skew (15 min) */
    /* SSE-S3 master key (SSE_KEY_LEN bytes, copied by gateway_start; the
     * caller may wipe it afterwards), or NULL: SSE-S3 requests are then
     * refused (docs/encryption.md).  SSE-C needs no server key. */
    const uint8_t *sse_master_key;
    int64_t lifecycle_interval_ms; /* lifecycle rules applied this often (0: off) */
    int64_t lifecycle_day_ms;     /* a lifecycle "day" (0: 86,400,000; shorter in tests) */
};

struct gateway;

/* Start serving.  cfg's strings are copied; ol is borrowed and must outlive
 * the gateway.  Returns 0 or -errno (e.g. -EADDRINUSE). */
int gateway_start(const struct gateway_config *cfg, struct objlayer *ol, struct gateway **out);

/* Stop accepting connections, let requests in flight finish for up to
 * drain_seconds, then close everything and free gw.  NULL ok. */
void gateway_stop(struct gateway *gw, int drain_seconds);

/* The port actually bound (useful when cfg->port was 0). */
uint16_t gateway_port(const struct gateway *gw);

#endif
