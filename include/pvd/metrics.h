/* Prometheus metrics: every daemon's statistics over HTTP (--metrics),
 * in the text exposition format 0.0.4, served by libevent's evhttp.
 *
 * A daemon registers one callback that writes its families into an
 * evbuffer with the helpers below: pvd_metrics_head once per family, then
 * its samples.  Names follow Prometheus's conventions (docs/operations.md
 * "Metrics" lists every family). */
#ifndef PVD_METRICS_H
#define PVD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct event_base;
struct pvd_metrics;

/* A label: name (a Prometheus label name, the caller's constant) and
 * value (any bytes but NUL: escaped). */
struct pvd_label {
	const char *name;
	const char *value;
};

/* Writes the daemon's families (no pvd_build_info: the server adds it). */
typedef void pvd_metrics_fn(struct evbuffer *out, void *arg);

/* Limits of the server: a scrape is small and local. */
#define PVD_METRICS_MAX_CONNS   16	/* connections that sent a request */
#define PVD_METRICS_TIMEOUT_S   5	/* idle or slow connection: closed */

/* addr: "PORT" (127.0.0.1), "HOST:PORT", "[V6]:PORT" or "unix:PATH"
 * (mode 0600, a stale socket replaced).  Into host (len bytes) and *port,
 * or host "" and path into *path_out (pointing into addr).  0 or -EINVAL. */
int pvd_metrics_parse_addr(const char *addr, char *host, size_t len,
			   unsigned *port, const char **path_out);

/* Serves GET /metrics at addr: fn's families, then pvd_build_info for
 * prog.  *out is NULL when addr is NULL (metrics off).  0 or -errno
 * (logged). */
int pvd_metrics_start(struct pvd_metrics **out, struct event_base *base,
		      const char *addr, const char *prog, pvd_metrics_fn *fn,
		      void *arg);
/* Closes the listener and every connection.  NULL is a no-op. */
void pvd_metrics_stop(struct pvd_metrics *m);

/* The text for one scrape (what GET /metrics answers). */
void pvd_metrics_render(struct evbuffer *out, const char *prog,
			pvd_metrics_fn *fn, void *arg);

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram). */
void pvd_metrics_head(struct evbuffer *out, const char *name,
		      const char *type, const char *help);
/* A sample: name{labels} value. */
void pvd_metrics_counter(struct evbuffer *out, const char *name,
			 const struct pvd_label *l, size_t nl, uint64_t v);
void pvd_metrics_gauge(struct evbuffer *out, const char *name,
		       const struct pvd_label *l, size_t nl, double v);
/* A histogram's samples from per-bucket (not cumulative) counts:
 * name_bucket{...,le="bound"} cumulative for each of the nb bounds
 * (ascending), then le="+Inf" with counts[nb] added, name_sum and
 * name_count.  counts has nb + 1 entries. */
void pvd_metrics_histogram(struct evbuffer *out, const char *name,
			   const struct pvd_label *l, size_t nl,
			   const double *bounds, const uint64_t *counts,
			   size_t nb, double sum);
/* A label value escaped per the format (\\, \", \n) into out. */
void pvd_metrics_escape(struct evbuffer *out, const char *value);

#endif
