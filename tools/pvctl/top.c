/* pvctl top: like xentop, samples pvd-blkback's disks, pvd-netback's
 * NICs, pvd-consoled's consoles and the store's counters (statview.h)
 * every DELAY seconds and shows what happened in between: one row per
 * ring of a disk, one per vif, one per console, sorted by a field
 * (-s FIELD, or the s key cycling through them).  -b prints frames one
 * after the other, -i N stops after N of them, as xentop's batch mode.
 * top puts the terminal in non-canonical mode only when stdin is one, and
 * restores it on every way out, signals included (they are read from a
 * signalfd).  pvd-netback and pvd-consoled are optional: absent, no
 * section; answering garbage, one line in its place, frames go on.  The
 * store's line says "n/a" where the store is not pvd-stored. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "pvd/num.h"
#include "statview.h"
#include "pvctl.h"

#define TOP_DELAY_MIN   0.1
#define TOP_DELAY_MAX   3600.0
#define TOP_ITERATIONS_MAX 1000000000u

/* Sort fields: the highest first but for id and name.  ops is IOPS for a
 * disk, packets per second both ways for a NIC, bytes per second both
 * ways for a console (as mbps); err, errors (and a NIC's or a console's
 * drops) in the interval; lat, a disk's mean latency (NICs and consoles
 * by id). */
enum top_sort { SORT_ID, SORT_NAME, SORT_OPS, SORT_MBPS, SORT_LAT, SORT_ERR, SORT_N };

static const char *const sort_names[SORT_N] = { "id", "name", "ops", "mbps", "lat", "err" };

struct top {
	struct pvctl *p;
	struct ctlsock bc, nc, cc;
	bool batch, json, filter, tty_in, tty_saved;
	unsigned domid;
	enum top_sort sort;
	uint64_t iterations;            /* 0: until q or a signal */
	double delay;
	struct termios saved;
	struct blkstat prev, cur;
	struct nicstat nprev, ncur;
	int nic_rc;                     /* statview_sample_nic's for ncur */
	struct constat cprev, ccur;
	int con_rc;                     /* statview_sample_con's for ccur */
	struct storestat sprev, scur;
	int st_rc;                      /* statview_sample_store's for scur */
	char st_why[256];
	bool have_prev;
	uint64_t prev_ms;
};

struct disk_row {
	const struct blkstat_dev *d;
	const struct blkstat_ring *r;   /* NULL: a device without rings */
	struct blkstat_rate rt;
	char name[80];
};

struct nic_row {
	const struct nicstat_vif *v;
	struct nicstat_rate rt;
	char name[80];
};

struct con_row {
	const struct constat_con *c;
	struct constat_rate rt;
	char name[80];
};

/* The sockets' paths from the command line (NULL: the default). */
struct top_socks {
	const char *blk, *nic, *con;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_sort(const char *s, enum top_sort *out)
{
	for (int i = 0; i < SORT_N; i++)
		if (strcmp(s, sort_names[i]) == 0) {
			*out = (enum top_sort)i;
			return 0;
		}
	if (strcmp(s, "iops") == 0 || strcmp(s, "pkts") == 0) {
		*out = SORT_OPS;
		return 0;
	}
	return -EINVAL;
}

/* Descending by value; equal: 0. */
static int desc(double x, double y)
{
	return x > y ? -1 : x < y;
}

static int cmp_disk(const void *a, const void *b, void *arg)
{
	const struct disk_row *x = a, *y = b;
	enum top_sort s = *(const enum top_sort *)arg;
	int c = 0;

	if (s == SORT_NAME)
		c = strcmp(x->name, y->name);
	else if (s == SORT_OPS)
		c = desc(x->rt.iops, y->rt.iops);
	else if (s == SORT_MBPS)
		c = desc(x->rt.mbps, y->rt.mbps);
	else if (s == SORT_LAT)
		c = desc(x->rt.lat_avg_us, y->rt.lat_avg_us);
	else if (s == SORT_ERR)
		c = desc((double)x->rt.errors, (double)y->rt.errors);
	if (c)
		return c;
	if (x->d->domid != y->d->domid)
		return x->d->domid < y->d->domid ? -1 : 1;
	if (x->d->devid != y->d->devid)
		return x->d->devid < y->d->devid ? -1 : 1;
	return x->r && y->r ? (x->r->index > y->r->index) - (x->r->index < y->r->index) : 0;
}

static int cmp_nic(const void *a, const void *b, void *arg)
{
	const struct nic_row *x = a, *y = b;
	enum top_sort s = *(const enum top_sort *)arg;
	int c = 0;

	if (s == SORT_NAME)
		c = strcmp(x->name, y->name);
	else if (s == SORT_OPS)
		c = desc(x->rt.rx_pps + x->rt.tx_pps, y->rt.rx_pps + y->rt.tx_pps);
	else if (s == SORT_MBPS)
		c = desc(x->rt.rx_mbps + x->rt.tx_mbps, y->rt.rx_mbps + y->rt.tx_mbps);
	else if (s == SORT_ERR)
		c = desc((double)(x->rt.drops + x->rt.errors),
			 (double)(y->rt.drops + y->rt.errors));
	if (c)
		return c;
	if (x->v->domid != y->v->domid)
		return x->v->domid < y->v->domid ? -1 : 1;
	return (x->v->devid > y->v->devid) - (x->v->devid < y->v->devid);
}

static int cmp_con(const void *a, const void *b, void *arg)
{
	const struct con_row *x = a, *y = b;
	enum top_sort s = *(const enum top_sort *)arg;
	int c = 0;

	if (s == SORT_NAME)
		c = strcmp(x->name, y->name);
	else if (s == SORT_OPS || s == SORT_MBPS)
		c = desc(x->rt.out_bps + x->rt.in_bps, y->rt.out_bps + y->rt.in_bps);
	else if (s == SORT_ERR)
		c = desc((double)x->rt.dropped, (double)y->rt.dropped);
	return c ? c : constat_cmp(x->c, y->c);
}

/* ------------------------------------------------------------- rows */

/* A row per ring of each disk shown, with its rates, sorted. */
static struct disk_row *disk_rows(struct top *t, double secs, unsigned *n,
				  unsigned *ndev_out, unsigned *nrings)
{
	unsigned ndev, cap = 0;
	const struct blkstat_dev **devs = statview_devs(&t->cur, t->filter, t->domid, &ndev);
	struct disk_row *rows;

	*n = 0;
	if (!devs)
		return NULL;
	*nrings = 0;
	for (unsigned i = 0; i < ndev; i++) {
		cap += devs[i]->nrings ? devs[i]->nrings : 1;
		*nrings += devs[i]->nrings;
	}
	*ndev_out = ndev;
	rows = calloc(cap ? cap : 1, sizeof(*rows));
	for (unsigned i = 0; rows && i < ndev; i++) {
		const struct blkstat_dev *d = devs[i];
		const struct blkstat_dev *pd = t->have_prev ?
			blkstat_find_dev(&t->prev, d->domid, d->devid) : NULL;

		for (unsigned r = 0; r < (d->nrings ? d->nrings : 1); r++) {
			struct disk_row *w = &rows[(*n)++];
			const struct blkstat_ring *pr;

			w->d = d;
			statview_dom_name(t->p, d->domid, w->name, sizeof(w->name));
			if (!d->nrings) {
				w->rt.lat_avg_us = w->rt.lat_p50_us = w->rt.lat_p99_us = -1;
				continue;
			}
			w->r = &d->rings[r];
			pr = pd ? blkstat_find_ring(pd, w->r->index) : NULL;
			blkstat_rate(pr ? &pr->c : NULL, &w->r->c, secs, &w->rt);
		}
	}
	free(devs);
	if (rows)
		qsort_r(rows, *n, sizeof(*rows), cmp_disk, &t->sort);
	return rows;
}

/* A row per vif shown, with its rates, sorted. */
static struct nic_row *nic_rows(struct top *t, double secs, unsigned *n)
{
	const struct nicstat_vif **vifs = statview_vifs(&t->ncur, t->filter, t->domid, n);
	struct nic_row *rows;

	if (!vifs)
		return NULL;
	rows = calloc(*n ? *n : 1, sizeof(*rows));
	for (unsigned i = 0; rows && i < *n; i++) {
		const struct nicstat_vif *pv = t->have_prev ?
			nicstat_find_vif(&t->nprev, vifs[i]->domid, vifs[i]->devid) : NULL;

		rows[i].v = vifs[i];
		statview_dom_name(t->p, vifs[i]->domid, rows[i].name, sizeof(rows[i].name));
		nicstat_rate(pv ? &pv->c : NULL, &vifs[i]->c, secs, &rows[i].rt);
	}
	free(vifs);
	if (rows)
		qsort_r(rows, *n, sizeof(*rows), cmp_nic, &t->sort);
	return rows;
}

/* A row per console shown, with its rates, sorted. */
static struct con_row *con_rows(struct top *t, double secs, unsigned *n)
{
	const struct constat_con **cons = statview_cons(&t->ccur, t->filter, t->domid, n);
	struct con_row *rows;

	if (!cons)
		return NULL;
	rows = calloc(*n ? *n : 1, sizeof(*rows));
	for (unsigned i = 0; rows && i < *n; i++) {
		const struct constat_con *pc = t->have_prev ?
			constat_find(&t->cprev, cons[i]->domid, cons[i]->console) : NULL;

		rows[i].c = cons[i];
		statview_dom_name(t->p, cons[i]->domid, rows[i].name, sizeof(rows[i].name));
		constat_rate(pc, cons[i], secs, &rows[i].rt);
	}
	free(cons);
	if (rows)
		qsort_r(rows, *n, sizeof(*rows), cmp_con, &t->sort);
	return rows;
}

/* ------------------------------------------------------------- text */

static void fmt_rate(double v, char *buf, size_t len)
{
	if (v >= 1e7)
		snprintf(buf, len, "%.0fk", v / 1000);
	else
		snprintf(buf, len, "%.0f", v);
}

static void disk_text(FILE *f, const struct disk_row *w)
{
	const struct blkstat_rate *rt = &w->rt;
	char vdev[24], state[16], iops[16], rd[16], wr[16], avg[16], p99[16], occ[32],
	     ring[12], thr[12];

	blkstat_vdev_name(w->d->devid, vdev, sizeof(vdev));
	snprintf(state, sizeof(state), "%s", w->d->state_name[0] ? w->d->state_name : "?");
	pvctl_printable(state);
	fmt_rate(rt->iops, iops, sizeof(iops));
	fmt_rate(rt->rd_iops, rd, sizeof(rd));
	fmt_rate(rt->wr_iops, wr, sizeof(wr));
	blkstat_fmt_us(rt->lat_avg_us, avg, sizeof(avg));
	blkstat_fmt_us(rt->lat_p99_us, p99, sizeof(p99));
	if (w->r) {
		snprintf(ring, sizeof(ring), "%u", w->r->index);
		snprintf(thr, sizeof(thr), "%u", w->r->thread);
		snprintf(occ, sizeof(occ), "%.1f/%u", rt->occ_avg, w->r->ring_size);
	} else {
		snprintf(ring, sizeof(ring), "-");
		snprintf(thr, sizeof(thr), "-");
		snprintf(occ, sizeof(occ), "-");
	}
	fprintf(f, "%-16.16s %5u %-7s %-12s %4s %3s %8s %8s %8s %8.1f %5u %11s %8s %8s %6llu\n",
		w->name, w->d->domid, vdev, state, ring, thr, iops, rd, wr, rt->mbps,
		w->r ? w->r->inflight : 0, occ, avg, p99, (unsigned long long)rt->errors);
}

static void nic_text(FILE *f, const struct nic_row *w)
{
	char vif[24], rxp[16], txp[16], limit[24], thr[12] = "-";

	snprintf(vif, sizeof(vif), "%s", w->v->name[0] ? w->v->name : "-");
	pvctl_printable(vif);
	fmt_rate(w->rt.rx_pps, rxp, sizeof(rxp));
	fmt_rate(w->rt.tx_pps, txp, sizeof(txp));
	nicstat_fmt_limit(w->v->rate_bytes, w->v->rate_usec, limit, sizeof(limit));
	/* A vif's queues share one I/O thread (pvd-netback places it whole). */
	if (w->v->nqueues && w->v->queues[0].has_thread)
		snprintf(thr, sizeof(thr), "%u", w->v->queues[0].thread);
	fprintf(f, "%-16.16s %5u %-10.10s %-12s %-7s %3s %9s %9s %8.2f %8.2f %6llu %6llu %12s\n",
		w->name, w->v->domid, vif, statview_state_name(w->v->state),
		w->v->carrier ? "up" : "down", thr, rxp, txp, w->rt.rx_mbps, w->rt.tx_mbps,
		(unsigned long long)w->rt.drops, (unsigned long long)w->rt.errors, limit);
}

static void nics_text(struct top *t, FILE *f, const struct nic_row *rows, unsigned n)
{
	if (t->nic_rc > 0)
		return;         /* no pvd-netback: no NIC section */
	if (t->nic_rc < 0) {
		fprintf(f, "\n%s\n", t->nc.err);
		return;
	}
	fprintf(f, "\npvd-netback: %u vif(s) (rx: to the guest, tx: from it)\n", n);
	fprintf(f, "%-16s %5s %-10s %-12s %-7s %3s %9s %9s %8s %8s %6s %6s %12s\n",
		"NAME", "ID", "VIF", "STATE", "CARRIER", "THR", "RX-PKT/s", "TX-PKT/s",
		"RX-MB/s", "TX-MB/s", "DROPS", "ERR", "RATE-LIMIT");
	for (unsigned i = 0; i < n; i++)
		nic_text(f, &rows[i]);
}

static void con_text(FILE *f, const struct con_row *w)
{
	char tty[32], state[16], out[16], in[16], logr[16];

	snprintf(tty, sizeof(tty), "%s", w->c->tty[0] ? w->c->tty : "-");
	snprintf(state, sizeof(state), "%s", w->c->state[0] ? w->c->state : "?");
	pvctl_printable(tty);
	pvctl_printable(state);
	fmt_rate(w->rt.out_bps, out, sizeof(out));
	fmt_rate(w->rt.in_bps, in, sizeof(in));
	fmt_rate(w->rt.log_bps, logr, sizeof(logr));
	fprintf(f, "%-16.16s %5u %-8s %-12.12s %-12s %9s %9s %9s %6llu %6llu %12llu\n",
		w->name, w->c->domid, w->c->console, tty, state, out, in, logr,
		(unsigned long long)w->rt.dropped, (unsigned long long)w->rt.rate_stalls,
		(unsigned long long)w->c->out_bytes);
}

static void cons_text(struct top *t, FILE *f, const struct con_row *rows, unsigned n)
{
	if (t->con_rc > 0)
		return;         /* no pvd-consoled: no console section */
	if (t->con_rc < 0) {
		fprintf(f, "\n%s\n", t->cc.err);
		return;
	}
	fprintf(f, "\npvd-consoled: %u console(s) (out: from the guest, in: to it)\n", n);
	fprintf(f, "%-16s %5s %-8s %-12s %-12s %9s %9s %9s %6s %6s %12s\n",
		"NAME", "ID", "CONSOLE", "TTY", "STATE", "OUT-B/s", "IN-B/s", "LOG-B/s",
		"DROPS", "STALLS", "OUT-TOTAL");
	for (unsigned i = 0; i < n; i++)
		con_text(f, &rows[i]);
}

/* The store's line: its counts, requests per second and refusals in the
 * interval; "n/a" and why when the store gives no statistics. */
static void store_text(struct top *t, FILE *f, double secs)
{
	char rates[128];
	uint64_t refusals = 0;
	double rps = 0;

	if (t->st_rc == 0)
		storestat_rate(t->have_prev ? &t->sprev : NULL, &t->scur, secs, &rps,
			       &refusals);
	snprintf(rates, sizeof(rates), "%.1f request(s)/s, %llu quota refusal(s)",
		 rps, (unsigned long long)refusals);
	statview_store_line(f, t->st_rc, &t->scur, t->st_why, rates);
}

struct frame {
	double secs;
	time_t now;
	struct disk_row *dr;
	unsigned nd, ndevs, nrings;
	struct nic_row *nr;
	unsigned nn;
	struct con_row *cr;
	unsigned nc;
};

static void frame_text(struct top *t, FILE *f, const struct frame *fr)
{
	const struct disk_row *dr = fr->dr;
	char when[32];
	struct tm tm;

	strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&fr->now, &tm));
	fprintf(f, "pvctl top - %s  pvd-blkback: engine %s, %u disk(s), %u ring(s), interval %.2f s, sort %s%s\n",
		when, t->cur.engine, fr->ndevs, fr->nrings, fr->secs, sort_names[t->sort],
		t->batch ? "" : "  s: sort  (q quits)");
	fprintf(f, "%-16s %5s %-7s %-12s %4s %3s %8s %8s %8s %8s %5s %11s %8s %8s %6s\n",
		"NAME", "ID", "VDEV", "STATE", "RING", "THR", "IOPS", "READ/s", "WRITE/s",
		"MB/s", "INFL", "OCC/SIZE", "LAT-AVG", "LAT-P99", "ERR");
	for (unsigned i = 0; i < fr->nd; i++)
		disk_text(f, &dr[i]);
	nics_text(t, f, fr->nr, fr->nn);
	cons_text(t, f, fr->cr, fr->nc);
	store_text(t, f, fr->secs);
}

/* ------------------------------------------------------------- json */

/* v rounded to 1/scale (what the text shows, no noise); no libm. */
static json_t *real(double v, double scale)
{
	double x = v * scale;

	if (!(x > -1e15 && x < 1e15))   /* beyond a long long, and NaN */
		return json_real(isfinite(v) ? v : 0);
	return json_real((double)(long long)(x + (x < 0 ? -0.5 : 0.5)) / scale);
}

/* -1 (none): null. */
static json_t *real_or_null(double v, double scale)
{
	return v < 0 ? json_null() : real(v, scale);
}

static json_t *disk_json(const struct disk_row *w)
{
	const struct blkstat_rate *rt = &w->rt;
	char vdev[24];

	blkstat_vdev_name(w->d->devid, vdev, sizeof(vdev));
	return json_pack("{sI ss sI ss sI ss so so so so so so so sI sI sI so so so so sI sI sI}",
		"domid", (json_int_t)w->d->domid, "name", w->name,
		"devid", (json_int_t)w->d->devid, "vdev", vdev,
		"state", (json_int_t)w->d->state,
		"state_name", w->d->state_name[0] ? w->d->state_name : "?",
		"ring", w->r ? json_integer(w->r->index) : json_null(),
		"iops", real(rt->iops, 10), "read_iops", real(rt->rd_iops, 10),
		"write_iops", real(rt->wr_iops, 10), "mbps", real(rt->mbps, 1000),
		"read_mbps", real(rt->rd_mbps, 1000), "write_mbps", real(rt->wr_mbps, 1000),
		"inflight", (json_int_t)(w->r ? w->r->inflight : 0),
		"unconsumed", (json_int_t)(w->r ? w->r->unconsumed : 0),
		"ring_size", (json_int_t)(w->r ? w->r->ring_size : 0),
		"occ_avg", real(rt->occ_avg, 100),
		"lat_avg_us", real_or_null(rt->lat_avg_us, 10),
		"lat_p50_us", real_or_null(rt->lat_p50_us, 1),
		"lat_p99_us", real_or_null(rt->lat_p99_us, 1),
		"requests", (json_int_t)(rt->reqs > INT64_MAX ? INT64_MAX : rt->reqs),
		"errors", (json_int_t)(rt->errors > INT64_MAX ? INT64_MAX : rt->errors),
		"oo_req", (json_int_t)(rt->oo_req > INT64_MAX ? INT64_MAX : rt->oo_req));
}

static json_t *nic_json(const struct nic_row *w)
{
	const struct nicstat_vif *v = w->v;

	return json_pack("{sI ss sI ss sI ss sb so so so so so so sI sI}",
		"domid", (json_int_t)v->domid, "name", w->name,
		"devid", (json_int_t)v->devid, "vif", v->name,
		"state", (json_int_t)v->state, "state_name", statview_state_name(v->state),
		"carrier", v->carrier,
		"rx_pps", real(w->rt.rx_pps, 10), "tx_pps", real(w->rt.tx_pps, 10),
		"rx_mbps", real(w->rt.rx_mbps, 1000), "tx_mbps", real(w->rt.tx_mbps, 1000),
		"drops", pvctl_json_counter(w->rt.drops),
		"errors", pvctl_json_counter(w->rt.errors),
		"rate_bytes", (json_int_t)(v->rate_bytes > INT64_MAX ? INT64_MAX : v->rate_bytes),
		"rate_usec", (json_int_t)(v->rate_usec > INT64_MAX ? INT64_MAX : v->rate_usec));
}

static json_t *con_json(const struct con_row *w)
{
	const struct constat_con *c = w->c;

	return json_pack("{sI ss ss ss ss so so so so so so so}",
		"domid", (json_int_t)c->domid, "name", w->name, "console", c->console,
		"tty", c->tty, "state", c->state,
		"out_bps", real(w->rt.out_bps, 10), "in_bps", real(w->rt.in_bps, 10),
		"log_bps", real(w->rt.log_bps, 10),
		"dropped", pvctl_json_counter(w->rt.dropped),
		"rate_stalls", pvctl_json_counter(w->rt.rate_stalls),
		"out_bytes", pvctl_json_counter(c->out_bytes),
		"in_bytes", pvctl_json_counter(c->in_bytes));
}

static json_t *store_json(struct top *t, double secs)
{
	const struct storestat *s = &t->scur;
	uint64_t refusals;
	double rps;

	storestat_rate(t->have_prev ? &t->sprev : NULL, s, secs, &rps, &refusals);
	return json_pack("{so so so so so so so so so so}",
		"connections", pvctl_json_counter(s->conns),
		"sockets", pvctl_json_counter(s->sockets),
		"rings", pvctl_json_counter(s->rings),
		"domains", pvctl_json_counter(s->domains),
		"nodes", pvctl_json_counter(s->nodes),
		"watches", pvctl_json_counter(s->watches),
		"transactions", pvctl_json_counter(s->transactions),
		"requests", pvctl_json_counter(s->requests),
		"requests_per_s", real(rps, 10),
		"quota_refusals", pvctl_json_counter(refusals));
}

/* The consoles ("con_error" when pvd-consoled answered garbage, nothing
 * when it does not run) and the store ("store_error": why n/a). */
static int frame_json_extras(struct top *t, const struct frame *fr, json_t *o)
{
	json_t *cons = json_array();
	int rc = !cons;

	for (unsigned i = 0; !rc && i < fr->nc; i++)
		rc = json_array_append_new(cons, con_json(&fr->cr[i]));
	if (!rc && t->con_rc == 0)
		rc = json_object_set(o, "consoles", cons);
	else if (!rc && t->con_rc < 0)
		rc = json_object_set_new(o, "con_error", json_string(t->cc.err));
	json_decref(cons);
	if (!rc && t->st_rc == 0)
		rc = json_object_set_new(o, "store", store_json(t, fr->secs));
	else if (!rc)
		rc = json_object_set_new(o, "store_error", json_string(t->st_why));
	return rc;
}

/* One frame as one JSON object: its rings, and its vifs when
 * pvd-netback answered ("nic_error" when it answered garbage). */
static json_t *frame_json(struct top *t, const struct frame *fr, const char *problem)
{
	json_t *o = json_pack("{sI sf}", "time", (json_int_t)fr->now,
			      "interval_s", (double)(long long)(fr->secs * 1000 + 0.5) / 1000);
	json_t *rings = json_array(), *vifs = json_array();
	int rc = !o || !rings || !vifs;

	if (!rc && problem) {
		rc = json_object_set_new(o, "error", json_string(problem));
		goto out;
	}
	for (unsigned i = 0; !rc && i < fr->nd; i++)
		rc = json_array_append_new(rings, disk_json(&fr->dr[i]));
	for (unsigned i = 0; !rc && i < fr->nn; i++)
		rc = json_array_append_new(vifs, nic_json(&fr->nr[i]));
	if (!rc)
		rc = json_object_set_new(o, "engine", json_string(t->cur.engine)) ||
		     json_object_set_new(o, "sort", json_string(sort_names[t->sort])) ||
		     json_object_set(o, "rings", rings);
	if (!rc && t->nic_rc == 0)
		rc = json_object_set(o, "vifs", vifs);
	else if (!rc && t->nic_rc < 0)
		rc = json_object_set_new(o, "nic_error", json_string(t->nc.err));
	if (!rc)
		rc = frame_json_extras(t, fr, o);
out:
	json_decref(rings);
	json_decref(vifs);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ------------------------------------------------------------- frames */

static int top_frame(struct top *t, FILE *f, double secs, const char *problem)
{
	struct frame fr = { .secs = secs, .now = time(NULL) };
	int rc = 0;

	if (!problem) {
		fr.dr = disk_rows(t, secs, &fr.nd, &fr.ndevs, &fr.nrings);
		fr.nr = nic_rows(t, secs, &fr.nn);
		fr.cr = con_rows(t, secs, &fr.nc);
		if (!fr.dr || !fr.nr || !fr.cr)
			problem = "out of memory";
	}
	if (t->json) {
		json_t *o = frame_json(t, &fr, problem);

		rc = o ? pvctl_json_print(f, o) : -ENOMEM;
		json_decref(o);
	} else {
		if (!t->batch)
			fputs("\033[H\033[2J", f);
		if (problem)
			fprintf(f, "pvctl top - %s\n", problem);
		else
			frame_text(t, f, &fr);
	}
	free(fr.dr);
	free(fr.nr);
	free(fr.cr);
	return rc;
}

static void term_restore(struct top *t)
{
	if (t->tty_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
	t->tty_saved = false;
}

static void term_raw(struct top *t)
{
	struct termios tio;

	if (!t->tty_in || tcgetattr(STDIN_FILENO, &t->saved) < 0)
		return;
	tio = t->saved;
	tio.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	tio.c_cc[VMIN] = 0;
	tio.c_cc[VTIME] = 0;
	/* TCSANOW: a key typed before this is kept, not flushed. */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &tio) == 0)
		t->tty_saved = true;
}

/* Keys read: 0 for q, 1 otherwise (s moves to the next sort field, used
 * from the next frame). */
static int top_keys(struct top *t, const char *keys, ssize_t n)
{
	for (ssize_t i = 0; i < n; i++) {
		if (keys[i] == 'q' || keys[i] == 'Q')
			return 0;
		if (keys[i] == 's' || keys[i] == 'S')
			t->sort = (enum top_sort)((t->sort + 1) % SORT_N);
	}
	return 1;
}

/* Waits until the monotonic time `until` (ms): 1 to go on, 0 to quit
 * (q, a signal, or the end of stdin). */
static int top_wait(struct top *t, uint64_t until)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = t->p->sigfd, .events = POLLIN },
			{ .fd = t->tty_in ? STDIN_FILENO : -1, .events = POLLIN },
		};
		uint64_t now = mono_ms();
		char keys[64];
		ssize_t n;

		if (pvctl_interrupted(t->p))
			return 0;
		if (now >= until)
			return 1;
		if (poll(pfd, 2, (int)(until - now)) < 0 && errno != EINTR)
			return 1;
		if (!(pfd[1].revents & (POLLIN | POLLHUP)))
			continue;
		n = read(STDIN_FILENO, keys, sizeof(keys));
		if (n == 0)
			t->tty_in = false;      /* nothing more to read: time and signals only */
		if (!top_keys(t, keys, n))
			return 0;
	}
}

static bool parse_delay(const char *s, double *v)
{
	char *e;

	errno = 0;
	*v = strtod(s, &e);
	return !errno && e != s && !*e && isfinite(*v) && *v >= TOP_DELAY_MIN &&
	       *v <= TOP_DELAY_MAX;
}

static const struct option top_opts[] = {
	{ "batch", no_argument, NULL, 'b' },
	{ "iterations", required_argument, NULL, 'i' },
	{ "delay", required_argument, NULL, 'd' },
	{ "json", no_argument, NULL, 'j' },
	{ "sort", required_argument, NULL, 's' },
	{ "socket", required_argument, NULL, 'S' },
	{ "netback-socket", required_argument, NULL, 'N' },
	{ "consoled-socket", required_argument, NULL, 'C' },
	{ NULL, 0, NULL, 0 },
};

/* One option's value into t: 0, or the exit status. */
static int top_opt(struct top *t, int ch, struct top_socks *so)
{
	uint64_t v;

	switch (ch) {
	case 'b': t->batch = true; return 0;
	case 'j': t->json = true; return 0;
	case 'S': so->blk = optarg; return 0;
	case 'N': so->nic = optarg; return 0;
	case 'C': so->con = optarg; return 0;
	case 's':
		if (parse_sort(optarg, &t->sort) == 0)
			return 0;
		pvctl_err("--sort: want id, name, ops, mbps, lat or err, got '%s'", optarg);
		return 2;
	case 'i':
		if (pvd_parse_range(optarg, 1, TOP_ITERATIONS_MAX, &v) == 0) {
			t->iterations = v;
			return 0;
		}
		pvctl_err("--iterations: want a number of frames, 1 or more, got '%s'", optarg);
		return 2;
	case 'd':
		if (parse_delay(optarg, &t->delay))
			return 0;
		pvctl_err("--delay: want seconds, %.1f to %.0f, got '%s'",
			  TOP_DELAY_MIN, TOP_DELAY_MAX, optarg);
		return 2;
	default:
		return pvctl_usage(pvctl_find_cmd("top"));
	}
}

/* The command line into t.  0, or the exit status. */
static int top_args(struct top *t, int argc, char **argv, struct top_socks *so)
{
	int ch, rc;

	optind = 0;
	while ((ch = pvctl_getopt(argc, argv, ":bi:d:js:", top_opts)) != -1)
		if ((rc = top_opt(t, ch, so)) != 0)
			return rc;
	if (argc - optind > 1)
		return pvctl_usage(pvctl_find_cmd("top"));
	/* Without a terminal to draw on, frames follow each other. */
	if (t->json || !isatty(STDOUT_FILENO))
		t->batch = true;
	t->tty_in = !t->batch && isatty(STDIN_FILENO);
	return 0;
}

/* The samples just shown become the base of the next frame's rates. */
static void top_shift(struct top *t, uint64_t now)
{
	blkstat_free(&t->prev);
	t->prev = t->cur;
	memset(&t->cur, 0, sizeof(t->cur));
	nicstat_free(&t->nprev);
	t->nprev = t->ncur;
	memset(&t->ncur, 0, sizeof(t->ncur));
	constat_free(&t->cprev);
	t->cprev = t->ccur;
	memset(&t->ccur, 0, sizeof(t->ccur));
	storestat_free(&t->sprev);
	t->sprev = t->scur;
	memset(&t->scur, 0, sizeof(t->scur));
	t->have_prev = true;
	t->prev_ms = now;
}

/* The optional parts' samples (none when the disks failed). */
static void top_sample_extras(struct top *t, bool skip)
{
	nicstat_free(&t->ncur);
	constat_free(&t->ccur);
	storestat_free(&t->scur);
	t->nic_rc = skip ? 1 : statview_sample_nic(&t->nc, &t->ncur);
	t->con_rc = skip ? 1 : statview_sample_con(&t->cc, &t->ccur);
	t->st_rc = skip ? 1 : statview_sample_store(t->p, &t->scur, t->st_why,
						    sizeof(t->st_why));
}

/* One frame after waiting for its time: 1 to go on, 0 to stop (q, a
 * signal, the last frame), -1 for a failure (told on stderr). */
static int top_step(struct top *t, uint64_t *next)
{
	const char *problem = NULL;
	uint64_t now;

	*next += (uint64_t)(t->delay * 1000);
	if (!top_wait(t, *next))
		return 0;
	if (statview_sample_blk(&t->bc, &t->cur) < 0) {
		if (t->batch) {
			/* A script wants to know, not a blank line. */
			term_restore(t);
			pvctl_err("%s", t->bc.err);
			return -1;
		}
		problem = t->bc.err;
	}
	top_sample_extras(t, problem != NULL);
	now = mono_ms();
	if (*next < now)
		*next = now;    /* a slow answer: no burst of frames after it */
	if (top_frame(t, stdout, (double)(now - t->prev_ms) / 1000, problem) < 0 ||
	    fflush(stdout) != 0)
		return -1;
	if (!problem)
		top_shift(t, now);
	return 1;
}

static int top_start(struct top *t, int argc, char **argv)
{
	struct top_socks so = { NULL, NULL, NULL };
	int rc = top_args(t, argc, argv, &so);

	if (rc != 0)
		return rc;
	if (statview_domain_filter(t->p, optind < argc ? argv[optind] : NULL, &t->filter,
				   &t->domid) < 0 ||
	    ctlsock_init(t->p, &t->bc, "pvd-blkback", STATVIEW_BLK_SOCKET, so.blk) < 0 ||
	    ctlsock_init(t->p, &t->nc, "pvd-netback", STATVIEW_NIC_SOCKET, so.nic) < 0 ||
	    ctlsock_init(t->p, &t->cc, "pvd-consoled", STATVIEW_CON_SOCKET, so.con) < 0)
		return 1;
	if ((rc = pvctl_catch_signals(t->p)) < 0) {
		pvctl_err("cannot block signals: %s", strerror(-rc));
		return 1;
	}
	/* The first samples are the base of the first frame's rates. */
	if (statview_sample_blk(&t->bc, &t->prev) < 0) {
		pvctl_err("%s", t->bc.err);
		return 1;
	}
	if (statview_sample_nic(&t->nc, &t->nprev) < 0)
		nicstat_free(&t->nprev);        /* told in the frames */
	if (statview_sample_con(&t->cc, &t->cprev) < 0)
		constat_free(&t->cprev);
	statview_sample_store(t->p, &t->sprev, t->st_why, sizeof(t->st_why));
	return 0;
}

int cmd_top(struct pvctl *p, int argc, char **argv)
{
	struct top t = { .p = p, .delay = 1.0, .bc.fd = -1, .nc.fd = -1, .cc.fd = -1 };
	uint64_t frames = 0, next;
	int rc = top_start(&t, argc, argv);

	if (rc == 0) {
		t.have_prev = true;
		t.prev_ms = mono_ms();
		next = t.prev_ms;
		term_raw(&t);
		do {
			rc = top_step(&t, &next);
		} while (rc > 0 && (!t.iterations || ++frames < t.iterations));
		term_restore(&t);
		rc = rc < 0 ? 1 : 0;
	}
	ctlsock_close(&t.bc);
	ctlsock_close(&t.nc);
	ctlsock_close(&t.cc);
	constat_free(&t.cprev);
	constat_free(&t.ccur);
	storestat_free(&t.sprev);
	storestat_free(&t.scur);
	blkstat_free(&t.prev);
	blkstat_free(&t.cur);
	nicstat_free(&t.nprev);
	nicstat_free(&t.ncur);
	return rc;
}
