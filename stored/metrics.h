/* pvd-stored's counters, exported (metrics.c): as Prometheus families,
 * and as the JSON answer to XS_CONTROL "stats" (core.c). */
#ifndef PVD_STORED_METRICS_H
#define PVD_STORED_METRICS_H

struct event_base;
struct pvd_metrics;
struct stored;

#include <stddef.h>

/* pvd_metrics_start for pvd-stored: *out NULL when addr is NULL. */
int stored_metrics_start(struct pvd_metrics **out, struct event_base *base,
			 const char *addr, struct stored *sd);

/* The XS_CONTROL "stats" answer: one JSON object, NUL-terminated, into
 * buf (the reply payload): {"connections":{"total","sockets","rings",
 * "privileged"},"domains","nodes","watches","transactions",
 * "requests":{"<XS_* type name>":N,...},"requests_total",
 * "quota_refusals":{"<quota>":N,...},"rejected_conns"}.  Its length with
 * the NUL, or -E2BIG (buf too short) or -ENOMEM. */
int stored_stats_json(const struct stored *sd, char *buf, size_t len);

#endif
