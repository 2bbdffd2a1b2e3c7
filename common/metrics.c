/* Prometheus metrics over HTTP (metrics.h).
 *
 * The format is Prometheus's text exposition format 0.0.4: "# HELP" and
 * "# TYPE" once per family, then its samples; label values escape \, "
 * and newline, HELP text \ and newline; histograms are cumulative
 * _bucket{le=...} ending with le="+Inf", then _sum and _count.
 *
 * Bounds: evhttp handles one request at a time per connection (no
 * pipelined work is queued beyond its input buffer, capped by
 * max_headers_size and max_body_size); a connection idle or slow for
 * PVD_METRICS_TIMEOUT_S is closed; at most PVD_METRICS_MAX_CONNS
 * connections are served, and a request on one more is answered 503 and
 * its connection closed.  libevent 2.1 has no hook at accept time, so a
 * connection is counted from its first request: one that never sends one
 * is only held until the timeout. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "pvd/daemon.h"
#include "pvd/log.h"
#include "pvd/metrics.h"
#include "pvd/num.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct pvd_metrics {
	struct evhttp *http;
	const char *prog;
	pvd_metrics_fn *fn;
	void *arg;
	char unix_path[108];
	struct evhttp_connection *conns[PVD_METRICS_MAX_CONNS];
};

/* ------------------------------------------------------------ writing */

static void escape(struct evbuffer *out, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else if (*s == '"' && quote)
			evbuffer_add(out, "\\\"", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

void pvd_metrics_escape(struct evbuffer *out, const char *value)
{
	escape(out, value, 1);
}

void pvd_metrics_head(struct evbuffer *out, const char *name,
		      const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s ", name);
	escape(out, help, 0);
	evbuffer_add_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* name{a="x",b="y"[,le="bound"]} with the value left to the caller. */
static void sample_start(struct evbuffer *out, const char *name,
			 const struct pvd_label *l, size_t nl, const char *le)
{
	evbuffer_add_printf(out, "%s", name);
	if (!nl && !le)
		return;
	evbuffer_add(out, "{", 1);
	for (size_t i = 0; i < nl; i++) {
		evbuffer_add_printf(out, "%s%s=\"", i ? "," : "", l[i].name);
		escape(out, l[i].value ? l[i].value : "", 1);
		evbuffer_add(out, "\"", 1);
	}
	if (le)
		evbuffer_add_printf(out, "%sle=\"%s\"", nl ? "," : "", le);
	evbuffer_add(out, "}", 1);
}

void pvd_metrics_counter(struct evbuffer *out, const char *name,
			 const struct pvd_label *l, size_t nl, uint64_t v)
{
	sample_start(out, name, l, nl, NULL);
	evbuffer_add_printf(out, " %" PRIu64 "\n", v);
}

/* Go's ParseFloat reads %.17g; inf and nan have the format's spelling. */
static void put_double(struct evbuffer *out, double v)
{
	if (isnan(v))
		evbuffer_add_printf(out, "NaN");
	else if (isinf(v))
		evbuffer_add_printf(out, "%sInf", v < 0 ? "-" : "+");
	else
		evbuffer_add_printf(out, "%.17g", v);
}

void pvd_metrics_gauge(struct evbuffer *out, const char *name,
		       const struct pvd_label *l, size_t nl, double v)
{
	sample_start(out, name, l, nl, NULL);
	evbuffer_add(out, " ", 1);
	put_double(out, v);
	evbuffer_add(out, "\n", 1);
}

void pvd_metrics_histogram(struct evbuffer *out, const char *name,
			   const struct pvd_label *l, size_t nl,
			   const double *bounds, const uint64_t *counts,
			   size_t nb, double sum)
{
	char bucket[128], le[40];
	uint64_t cum = 0;

	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	for (size_t i = 0; i <= nb; i++) {
		cum += counts[i];
		if (i < nb)
			snprintf(le, sizeof(le), "%.17g", bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		sample_start(out, bucket, l, nl, le);
		evbuffer_add_printf(out, " %" PRIu64 "\n", cum);
	}
	snprintf(bucket, sizeof(bucket), "%s_sum", name);
	pvd_metrics_gauge(out, bucket, l, nl, sum);
	snprintf(bucket, sizeof(bucket), "%s_count", name);
	pvd_metrics_counter(out, bucket, l, nl, cum);
}

void pvd_metrics_render(struct evbuffer *out, const char *prog,
			pvd_metrics_fn *fn, void *arg)
{
	struct pvd_label l[] = { { "program", prog },
				 { "version", pvd_version() } };

	if (fn)
		fn(out, arg);
	pvd_metrics_head(out, "pvd_build_info", "gauge",
			 "The program and its version; always 1.");
	pvd_metrics_gauge(out, "pvd_build_info", l, 2, 1);
}

/* ------------------------------------------------------------ address */

int pvd_metrics_parse_addr(const char *addr, char *host, size_t len,
			   unsigned *port, const char **path_out)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr, *p = colon ? colon + 1 : addr;
	size_t hl = colon ? (size_t)(colon - addr) : 0;
	uint64_t v;

	*path_out = NULL;
	*port = 0;
	if (!strncmp(addr, "unix:", 5)) {
		if (!addr[5])
			return -EINVAL;
		host[0] = '\0';
		*path_out = addr + 5;
		return 0;
	}
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;	/* [v6]:port */
		hl -= 2;
	} else if (colon && memchr(addr, ':', hl)) {
		return -EINVAL;	/* a bare v6 address needs its brackets */
	}
	if (!hl) {
		h = "127.0.0.1";
		hl = strlen(h);
	}
	if (hl >= len || pvd_parse_range(p, 1, 65535, &v) < 0)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned)v;
	return 0;
}

/* -------------------------------------------------------- connections */

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct pvd_metrics *m = arg;

	for (size_t i = 0; i < PVD_METRICS_MAX_CONNS; i++)
		if (m->conns[i] == evcon)
			m->conns[i] = NULL;
}

/* Is evcon one of the connections served, or can it become one? */
static int conn_admit(struct pvd_metrics *m, struct evhttp_connection *evcon)
{
	struct evhttp_connection **slot = NULL;

	for (size_t i = 0; i < PVD_METRICS_MAX_CONNS; i++) {
		if (m->conns[i] == evcon)
			return 1;
		if (!m->conns[i] && !slot)
			slot = &m->conns[i];
	}
	if (!slot)
		return 0;
	*slot = evcon;
	evhttp_connection_set_closecb(evcon, on_conn_close, m);
	return 1;
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct pvd_metrics *m = arg;
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (!conn_admit(m, evhttp_request_get_connection(req))) {
		log_warn("more than %u connections: refused", PVD_METRICS_MAX_CONNS);
		evhttp_add_header(hdr, "Connection", "close");
		evhttp_send_error(req, HTTP_SERVUNAVAIL, NULL);
		evbuffer_free(body);
		return;
	}
	pvd_metrics_render(body, m->prog, m->fn, m->arg);
	evhttp_add_header(hdr, "Content-Type", CONTENT_TYPE);
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

/* ------------------------------------------------------------ serving */

static int bind_addr(struct pvd_metrics *m, const char *addr)
{
	char host[256];
	const char *path;
	unsigned port;
	int fd;

	if (pvd_metrics_parse_addr(addr, host, sizeof(host), &port, &path) < 0) {
		log_err("--metrics: want PORT, HOST:PORT or unix:PATH, got %s", addr);
		return -EINVAL;
	}
	if (!path)
		return evhttp_bind_socket_with_handle(m->http, host, port) ?
		       0 : -EADDRNOTAVAIL;
	if (strlen(path) >= sizeof(m->unix_path))
		return -ENAMETOOLONG;
	fd = pvd_unix_listen(path, 0600, 16);
	if (fd < 0)
		return fd;
	if (!evhttp_accept_socket_with_handle(m->http, fd)) {
		evutil_closesocket(fd);
		return -ENOMEM;
	}
	strcpy(m->unix_path, path);
	return 0;
}

int pvd_metrics_start(struct pvd_metrics **out, struct event_base *base,
		      const char *addr, const char *prog, pvd_metrics_fn *fn,
		      void *arg)
{
	struct pvd_metrics *m;
	int rc = -ENOMEM;

	*out = NULL;
	if (!addr)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->http = evhttp_new(base)))
		goto fail;
	*m = (struct pvd_metrics){ .http = m->http, .prog = prog, .fn = fn,
				   .arg = arg };
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET);
	evhttp_set_timeout(m->http, PVD_METRICS_TIMEOUT_S);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	if (evhttp_set_cb(m->http, "/metrics", on_metrics, m) < 0)
		goto fail;
	rc = bind_addr(m, addr);
	if (rc < 0)
		goto fail;
	log_info("metrics on %s", addr);
	*out = m;
	return 0;
fail:
	log_err("cannot serve metrics on %s: %s", addr, strerror(-rc));
	pvd_metrics_stop(m);
	return rc;
}

void pvd_metrics_stop(struct pvd_metrics *m)
{
	if (!m)
		return;
	if (m->http)
		evhttp_free(m->http);
	if (m->unix_path[0])
		unlink(m->unix_path);
	free(m);
}
