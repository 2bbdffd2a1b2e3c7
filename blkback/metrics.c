/* pvd-blkback's Prometheus families: per disk (domain, vdev = the devid,
 * as xen-blkback's sysfs names it), from the counters stats.h keeps:
 * requests and sectors by operation, error answers by cause, latency as a
 * histogram of the log2 buckets (stats.c's blk_stats_latency). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "pvd/metrics.h"
#include "backend.h"
#include "metrics.h"
#include "stats.h"
#include "xenbus.h"

struct disk {
	char domain[8], vdev[12];
	struct blk_qstats st;
};

struct disks {
	struct disk *d;
	size_t n, cap;
};

static void collect(void *arg, unsigned domid, unsigned devid,
		    const struct blk_qstats *sum)
{
	struct disks *ds = arg;
	struct disk *d;

	if (ds->n == ds->cap) {
		size_t cap = ds->cap ? 2 * ds->cap : 16;
		struct disk *nd = realloc(ds->d, cap * sizeof(*nd));

		if (!nd)
			return;	/* a scrape short of disks, not a failure */
		ds->d = nd;
		ds->cap = cap;
	}
	d = &ds->d[ds->n++];
	snprintf(d->domain, sizeof(d->domain), "%u", domid);
	snprintf(d->vdev, sizeof(d->vdev), "%u", devid);
	d->st = *sum;
}

/* One sample per disk and operation. */
static void put_ops(struct evbuffer *out, const struct disks *ds,
		    const char *name, int bytes)
{
	static const char *const ops[] = { "read", "write", "flush", "discard" };

	for (size_t i = 0; i < ds->n; i++) {
		const struct blk_qstats *s = &ds->d[i].st;
		uint64_t req[] = { s->rd_req, s->wr_req, s->f_req, s->ds_req };
		uint64_t byt[] = { s->rd_sect * 512, s->wr_sect * 512 };

		for (size_t o = 0; o < (bytes ? 2u : 4u); o++) {
			struct pvd_label l[] = { { "domain", ds->d[i].domain },
						 { "vdev", ds->d[i].vdev },
						 { "op", ops[o] } };

			pvd_metrics_counter(out, name, l, 3, bytes ? byt[o] : req[o]);
		}
	}
}

static void put_errors(struct evbuffer *out, const struct disks *ds)
{
	static const char *const why[] = { "bad_request", "grant", "io",
					   "duplicate_id", "not_supported" };

	for (size_t i = 0; i < ds->n; i++) {
		const struct blk_qstats *s = &ds->d[i].st;
		uint64_t v[] = { s->err_bad_req, s->err_grant, s->err_io,
				 s->err_dup_id, s->eopnotsupp };

		for (size_t r = 0; r < 5; r++) {
			struct pvd_label l[] = { { "domain", ds->d[i].domain },
						 { "vdev", ds->d[i].vdev },
						 { "reason", why[r] } };

			pvd_metrics_counter(out, "pvd_vbd_errors_total", l, 3, v[r]);
		}
	}
}

/* Bucket b < N-1 holds [2^(b-1), 2^b) us: its bound is 2^b us.  A latency
 * of exactly 2^b us is counted in the next bucket: conservative. */
static void put_latency(struct evbuffer *out, const struct disks *ds)
{
	double bounds[BLK_LAT_BUCKETS - 1];

	for (unsigned b = 0; b < BLK_LAT_BUCKETS - 1; b++)
		bounds[b] = (double)(1ull << b) * 1e-6;
	for (size_t i = 0; i < ds->n; i++) {
		struct pvd_label l[] = { { "domain", ds->d[i].domain },
					 { "vdev", ds->d[i].vdev } };

		pvd_metrics_histogram(out, "pvd_vbd_request_duration_seconds", l, 2,
				      bounds, ds->d[i].st.lat, BLK_LAT_BUCKETS - 1,
				      (double)ds->d[i].st.lat_sum_ns * 1e-9);
	}
}

static void put_other(struct evbuffer *out, const struct disks *ds)
{
	pvd_metrics_head(out, "pvd_vbd_ring_full_total", "counter",
			 "Requests left on the ring for want of a slot (oo_req).");
	for (size_t i = 0; i < ds->n; i++) {
		struct pvd_label l[] = { { "domain", ds->d[i].domain },
					 { "vdev", ds->d[i].vdev } };

		pvd_metrics_counter(out, "pvd_vbd_ring_full_total", l, 2,
				    ds->d[i].st.oo_req);
	}
}

/* Remote disks (nbd, rbd), one family per pass: their connection's state (a
 * sample per state, 1 for the current one), losses, requests sent again. */
struct remote_pass {
	struct evbuffer *out;
	int family;
};

static void put_remote(void *arg, unsigned domid, unsigned devid,
		       const struct blk_remote_state *r)
{
	static const char *const states[] = { "connected", "reconnecting",
					      "stalled", "error" };
	const struct remote_pass *p = arg;
	char dom[8], vdev[12];
	struct pvd_label l[3] = { { "domain", dom }, { "vdev", vdev }, { "state", NULL } };

	snprintf(dom, sizeof(dom), "%u", domid);
	snprintf(vdev, sizeof(vdev), "%u", devid);
	if (p->family == 1) {
		pvd_metrics_counter(p->out, "pvd_vbd_remote_losses_total", l, 2, r->losses);
		return;
	}
	if (p->family == 2) {
		pvd_metrics_counter(p->out, "pvd_vbd_remote_retried_total", l, 2, r->retried);
		return;
	}
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		l[2].value = states[i];
		pvd_metrics_gauge(p->out, "pvd_vbd_remote_state", l, 3,
				  strcmp(r->state, states[i]) == 0);
	}
}

static void put_remotes(struct evbuffer *out, struct blk_xenbus *xb)
{
	static const char *const fam[][3] = {
		{ "pvd_vbd_remote_state", "gauge",
		  "A remote disk's connection: connected, reconnecting, stalled or error." },
		{ "pvd_vbd_remote_losses_total", "counter",
		  "Connections to a remote disk's server lost." },
		{ "pvd_vbd_remote_retried_total", "counter",
		  "Requests sent again on a new connection after a loss." },
	};

	for (int i = 0; i < 3; i++) {
		struct remote_pass p = { out, i };

		pvd_metrics_head(out, fam[i][0], fam[i][1], fam[i][2]);
		blk_xenbus_each_remote(xb, put_remote, &p);
	}
}

static void families(struct evbuffer *out, void *arg)
{
	struct disks ds = { 0 };

	blk_xenbus_each(arg, collect, &ds);
	pvd_metrics_head(out, "pvd_vbd_requests_total", "counter",
			 "Requests taken from the guest's ring, by operation.");
	put_ops(out, &ds, "pvd_vbd_requests_total", 0);
	pvd_metrics_head(out, "pvd_vbd_bytes_total", "counter",
			 "Bytes read or written for the guest.");
	put_ops(out, &ds, "pvd_vbd_bytes_total", 1);
	pvd_metrics_head(out, "pvd_vbd_errors_total", "counter",
			 "Answers other than OKAY, by cause.");
	put_errors(out, &ds);
	pvd_metrics_head(out, "pvd_vbd_request_duration_seconds", "histogram",
			 "Time from taking a request to answering it.");
	put_latency(out, &ds);
	put_other(out, &ds);
	put_remotes(out, arg);
	free(ds.d);
}

int blk_metrics_start(struct pvd_metrics **out, struct event_base *base,
		      const char *addr, struct blk_xenbus *xb)
{
	return pvd_metrics_start(out, base, addr, "pvd-blkback", families, xb);
}
