/* pvctl stats: one sample of pvd-blkback's counters (disks) and, when
 * they run, pvd-netback's (NICs) and pvd-consoled's (consoles), read from
 * their control sockets ($PVD_RUNDIR/pvd-blkback.sock, pvd-netback.sock,
 * pvd-consoled.sock: the line "stats" is
 * answered with one line of JSON; docs/architecture.md "Control
 * sockets").  Cumulative counters since each ring connected.  The
 * daemons are other processes: every read is bounded in size and time
 * (ctlsock.c), and their answers are parsed, never trusted (blkstat.c,
 * nicstat.c, constat.c); and the store's (XS_CONTROL "stats", pvd-stored
 * only: "n/a" with any other store, storestat.c).  --json prints the daemons' documents re-encoded with
 * jansson, filtered and given the names pvctl knows them by.  The helpers
 * `pvctl top` shares (statview.h) are here too. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statview.h"
#include "pvctl.h"

/* ------------------------------------------------------------- shared */

/* The store is optional here: names are shown when it can be reached. */
static struct xs_handle *store_quiet(struct pvctl *p)
{
	if (!p->xs)
		p->xs = xs_open(0);
	return p->xs;
}

void statview_dom_name(struct pvctl *p, unsigned domid, char *buf, size_t len)
{
	char *v = store_quiet(p) ? pvctl_read(p, XBT_NULL, "/local/domain/%u/name", domid)
				 : NULL;

	if (v) {
		pvctl_printable(v);
		snprintf(buf, len, "%s", v);
		free(v);
	} else {
		snprintf(buf, len, "%s", domid == 0 ? "Domain-0" : "-");
	}
}

int statview_domain_filter(struct pvctl *p, const char *arg, bool *filter,
			   unsigned *domid)
{
	*filter = arg != NULL;
	if (!arg)
		return 0;
	if (pvctl_connect(p) < 0 || pvctl_lookup(p, arg, domid) < 0)
		return -ENOENT;
	return 0;
}

static int cmp_ids(unsigned xd, unsigned xv, unsigned yd, unsigned yv)
{
	if (xd != yd)
		return xd < yd ? -1 : 1;
	return xv < yv ? -1 : xv > yv;
}

static int cmp_dev(const void *a, const void *b)
{
	const struct blkstat_dev *x = *(const struct blkstat_dev *const *)a;
	const struct blkstat_dev *y = *(const struct blkstat_dev *const *)b;

	return cmp_ids(x->domid, x->devid, y->domid, y->devid);
}

static int cmp_con(const void *a, const void *b)
{
	return constat_cmp(*(const struct constat_con *const *)a,
			   *(const struct constat_con *const *)b);
}

static int cmp_vif(const void *a, const void *b)
{
	const struct nicstat_vif *x = *(const struct nicstat_vif *const *)a;
	const struct nicstat_vif *y = *(const struct nicstat_vif *const *)b;

	return cmp_ids(x->domid, x->devid, y->domid, y->devid);
}

const struct blkstat_dev **statview_devs(const struct blkstat *s, bool filter,
					 unsigned domid, unsigned *n)
{
	const struct blkstat_dev **v = calloc(s->ndevs ? s->ndevs : 1, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (unsigned i = 0; i < s->ndevs; i++)
		if (!filter || s->devs[i].domid == domid)
			v[(*n)++] = &s->devs[i];
	qsort(v, *n, sizeof(*v), cmp_dev);
	return v;
}

const struct nicstat_vif **statview_vifs(const struct nicstat *s, bool filter,
					 unsigned domid, unsigned *n)
{
	const struct nicstat_vif **v = calloc(s->nvifs ? s->nvifs : 1, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (unsigned i = 0; i < s->nvifs; i++)
		if (!filter || s->vifs[i].domid == domid)
			v[(*n)++] = &s->vifs[i];
	qsort(v, *n, sizeof(*v), cmp_vif);
	return v;
}

const struct constat_con **statview_cons(const struct constat *s, bool filter,
					 unsigned domid, unsigned *n)
{
	const struct constat_con **v = calloc(s->ncons ? s->ncons : 1, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (unsigned i = 0; i < s->ncons; i++)
		if (!filter || s->cons[i].domid == domid)
			v[(*n)++] = &s->cons[i];
	qsort(v, *n, sizeof(*v), cmp_con);
	return v;
}

int statview_sample_blk(struct ctlsock *c, struct blkstat *s)
{
	char *line, err[200];
	size_t len = 0;
	int rc = ctlsock_query(c, "stats", &line, &len);

	memset(s, 0, sizeof(*s));
	if (rc < 0)
		return rc;
	rc = blkstat_parse(line, len, s, err, sizeof(err));
	free(line);
	return rc < 0 ? ctlsock_bad_answer(c, err) : 0;
}

int statview_sample_nic(struct ctlsock *c, struct nicstat *s)
{
	char *line, err[200];
	size_t len = 0;
	int rc = ctlsock_query(c, "stats", &line, &len);

	memset(s, 0, sizeof(*s));
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		return 1;       /* not running: no NICs to show */
	if (rc < 0)
		return rc;
	rc = nicstat_parse(line, len, s, err, sizeof(err));
	free(line);
	return rc < 0 ? ctlsock_bad_answer(c, err) : 0;
}

int statview_sample_con(struct ctlsock *c, struct constat *s)
{
	char *line, err[200];
	size_t len = 0;
	int rc = ctlsock_query(c, "stats", &line, &len);

	memset(s, 0, sizeof(*s));
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		return 1;       /* not running: no consoles to show */
	if (rc < 0)
		return rc;
	rc = constat_parse(line, len, s, err, sizeof(err));
	free(line);
	return rc < 0 ? ctlsock_bad_answer(c, err) : 0;
}

/* XS_CONTROL "stats" (libxenstore's xs_control_command, as
 * xenstore-control sends it): pvd-stored answers dom0 (EACCES to
 * others); Xen's xenstored does not know it (EINVAL). */
int statview_sample_store(struct pvctl *p, struct storestat *s, char *why,
			  size_t len)
{
	char *ans, err[200];
	int rc;

	memset(s, 0, sizeof(*s));
	if (!store_quiet(p)) {
		snprintf(why, len, "cannot reach the store: %s", strerror(errno));
		return 1;
	}
	ans = xs_control_command(p->xs, "stats", NULL, 0);
	if (!ans) {
		snprintf(why, len, "%s", errno == EINVAL ?
			 "the store has no statistics (not pvd-stored)" : strerror(errno));
		return 1;
	}
	rc = storestat_parse(ans, strlen(ans), s, err, sizeof(err));
	free(ans);
	if (rc < 0) {
		snprintf(why, len, "%s", err);
		return 1;
	}
	return 0;
}

const char *statview_state_name(unsigned state)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

/* ------------------------------------------------------------- text */

static void print_ctr_row(FILE *f, const char *name, unsigned domid, const char *vdev,
			  const char *ring, const char *state, const struct blkstat_ctr *c,
			  unsigned inflight)
{
	char avg[16], p99[16];

	blkstat_fmt_us(c->lat_n ? (double)c->lat_sum_ns / (double)c->lat_n / 1000 : -1,
		       avg, sizeof(avg));
	blkstat_fmt_us(blkstat_lat_quantile(c->lat, c->nlat, 0.99), p99, sizeof(p99));
	fprintf(f, "%-16.16s %5u %-7s %4s %-12s %10llu %10llu %8llu %8llu %10.1f %10.1f %7llu %6llu %5u %8s %8s\n",
		name, domid, vdev, ring, state, (unsigned long long)c->rd_req,
		(unsigned long long)c->wr_req, (unsigned long long)c->f_req,
		(unsigned long long)c->ds_req, (double)c->rd_sect * 512 / 1e6,
		(double)c->wr_sect * 512 / 1e6, (unsigned long long)c->oo_req,
		(unsigned long long)c->errors, inflight, avg, p99);
}

/* An encrypted disk: its format and cipher (never a key), on a line of
 * its own under the disk's rows. */
static void print_enc_row(const char *name, const struct blkstat_dev *d,
			  const char *vdev)
{
	char fmt[16], cipher[64];

	snprintf(fmt, sizeof(fmt), "%s", d->enc_format);
	snprintf(cipher, sizeof(cipher), "%s", d->enc_cipher);
	pvctl_printable(fmt);
	pvctl_printable(cipher);
	fprintf(stdout, "%-16.16s %5u %-7s encrypted: %s %s, %u-bit key, %u-byte sectors\n",
		name, d->domid, vdev, fmt, cipher, d->enc_key_bits, d->enc_sector_size);
}

static void disks_text(struct pvctl *p, const struct blkstat *s,
		       const struct blkstat_dev **devs, unsigned n)
{
	fprintf(stdout, "pvd-blkback: engine %s, %u disk(s)\n", s->engine, n);
	fprintf(stdout, "%-16s %5s %-7s %4s %-12s %10s %10s %8s %8s %10s %10s %7s %6s %5s %8s %8s\n",
		"Name", "ID", "Vdev", "Ring", "State", "Reads", "Writes", "Flushes", "Discards",
		"Read-MB", "Write-MB", "OO-req", "Errors", "Infl", "Lat-avg", "Lat-p99");
	for (unsigned i = 0; i < n; i++) {
		const struct blkstat_dev *d = devs[i];
		char name[80], vdev[24], state[16], ring[16], thr[16];

		statview_dom_name(p, d->domid, name, sizeof(name));
		blkstat_vdev_name(d->devid, vdev, sizeof(vdev));
		snprintf(state, sizeof(state), "%s", d->state_name[0] ? d->state_name : "?");
		pvctl_printable(state);
		print_ctr_row(stdout, name, d->domid, vdev, "all", state, &d->c, d->inflight);
		for (unsigned r = 0; r < d->nrings; r++) {
			snprintf(ring, sizeof(ring), "%u", d->rings[r].index);
			/* The I/O thread serving the ring (pvd-blkback
			 * --io-threads; 0 with none). */
			snprintf(thr, sizeof(thr), "thread %u", d->rings[r].thread);
			print_ctr_row(stdout, name, d->domid, vdev, ring,
				      d->rings[r].halted ? "halted" : thr, &d->rings[r].c,
				      d->rings[r].inflight);
		}
		if (d->enc_format)
			print_enc_row(name, d, vdev);
	}
}

static void print_nic_row(FILE *f, const char *name, unsigned domid, const char *vif,
			  const char *queue, const char *state, const char *carrier,
			  const struct nicstat_ctr *c)
{
	fprintf(f, "%-16.16s %5u %-10.10s %5s %-12s %-7s %10llu %10.1f %7llu %6llu %10llu %10.1f %7llu %6llu\n",
		name, domid, vif, queue, state, carrier,
		(unsigned long long)c->rx_packets, (double)c->rx_bytes / 1e6,
		(unsigned long long)c->rx_drops, (unsigned long long)c->rx_errors,
		(unsigned long long)c->tx_packets, (double)c->tx_bytes / 1e6,
		(unsigned long long)c->tx_drops, (unsigned long long)c->tx_errors);
}

static void nics_text(struct pvctl *p, const struct nicstat_vif **vifs, unsigned n)
{
	fprintf(stdout, "\npvd-netback: %u vif(s) (rx: to the guest, tx: from it)\n", n);
	fprintf(stdout, "%-16s %5s %-10s %5s %-12s %-7s %10s %10s %7s %6s %10s %10s %7s %6s\n",
		"Name", "ID", "Vif", "Queue", "State", "Carrier", "RX-pkts", "RX-MB",
		"RX-drop", "RX-err", "TX-pkts", "TX-MB", "TX-drop", "TX-err");
	for (unsigned i = 0; i < n; i++) {
		const struct nicstat_vif *v = vifs[i];
		char name[80], vif[24], queue[16], thr[24];

		statview_dom_name(p, v->domid, name, sizeof(name));
		snprintf(vif, sizeof(vif), "%s", v->name[0] ? v->name : "-");
		pvctl_printable(vif);
		print_nic_row(stdout, name, v->domid, vif, "all",
			      statview_state_name(v->state), v->carrier ? "up" : "down", &v->c);
		for (unsigned q = 0; q < v->nqueues; q++) {
			snprintf(queue, sizeof(queue), "%u", v->queues[q].index);
			/* A queue's state column: the I/O thread serving it. */
			if (v->queues[q].has_thread)
				snprintf(thr, sizeof(thr), "thread %u",
					 v->queues[q].thread);
			else
				snprintf(thr, sizeof(thr), "-");
			print_nic_row(stdout, name, v->domid, vif, queue, thr, "-",
				      &v->queues[q].c);
		}
	}
}

static void consoles_text(struct pvctl *p, const struct constat_con **cons, unsigned n)
{
	fprintf(stdout, "\npvd-consoled: %u console(s) (out: from the guest, in: to it)\n", n);
	fprintf(stdout, "%-16s %5s %-8s %-12s %-12s %12s %12s %10s %12s %8s\n",
		"Name", "ID", "Console", "TTY", "State", "Out-bytes", "In-bytes",
		"Dropped", "Log-bytes", "Stalls");
	for (unsigned i = 0; i < n; i++) {
		const struct constat_con *c = cons[i];
		char name[80], tty[32], state[16];

		statview_dom_name(p, c->domid, name, sizeof(name));
		snprintf(tty, sizeof(tty), "%s", c->tty[0] ? c->tty : "-");
		snprintf(state, sizeof(state), "%s", c->state[0] ? c->state : "?");
		pvctl_printable(tty);
		pvctl_printable(state);
		fprintf(stdout, "%-16.16s %5u %-8s %-12.12s %-12s %12llu %12llu %10llu %12llu %8llu\n",
			name, c->domid, c->console, tty, state,
			(unsigned long long)c->out_bytes, (unsigned long long)c->in_bytes,
			(unsigned long long)c->dropped, (unsigned long long)c->log_bytes,
			(unsigned long long)c->rate_stalls);
	}
}

/* What stats shows after the store's counts: cumulative totals. */
static const char *store_totals(const struct storestat *s, char *buf, size_t len)
{
	snprintf(buf, len, "%llu request(s), %llu quota refusal(s)",
		 (unsigned long long)s->requests, (unsigned long long)s->refusals);
	return buf;
}

/* One line: the store's figures, or why there are none. */
void statview_store_line(FILE *f, int rc, const struct storestat *s, const char *why,
			 const char *rates)
{
	if (rc) {
		fprintf(f, "\nstore: n/a (%s)\n", why);
		return;
	}
	fprintf(f, "\npvd-stored: %llu connection(s) (%llu socket(s), %llu ring(s)), "
		"%llu domain(s), %llu node(s), %llu watch(es), %llu transaction(s); %s\n",
		(unsigned long long)s->conns, (unsigned long long)s->sockets,
		(unsigned long long)s->rings, (unsigned long long)s->domains,
		(unsigned long long)s->nodes, (unsigned long long)s->watches,
		(unsigned long long)s->transactions, rates);
}

/* ------------------------------------------------------------- json */

/* The daemon's object o with "name" (the domain's) and extra first. */
static json_t *named(struct pvctl *p, const json_t *o, unsigned domid,
		     const char *name_key, const char *extra_key, const char *extra)
{
	json_t *n = json_object();
	const char *k;
	json_t *v;
	char name[80];

	if (!n)
		return NULL;
	statview_dom_name(p, domid, name, sizeof(name));
	if (json_object_set_new(n, name_key, json_string(name)) < 0 ||
	    (extra_key && json_object_set_new(n, extra_key, json_string(extra)) < 0))
		goto fail;
	json_object_foreach((json_t *)o, k, v) {
		if (strcmp(k, name_key) == 0 || (extra_key && strcmp(k, extra_key) == 0))
			continue;
		if (json_object_set(n, k, v) < 0)
			goto fail;
	}
	return n;
fail:
	json_decref(n);
	return NULL;
}

/* pvd-blkback's document, its devices filtered and named, and, when
 * pvd-netback answered, its vifs as "vifs" (each with "domain_name"). */
static json_t *stats_doc(struct pvctl *p, const struct blkstat *s,
			 const struct blkstat_dev **devs, unsigned ndevs,
			 const struct nicstat_vif **vifs, unsigned nvifs, bool nics)
{
	json_t *out = json_object(), *da = json_array(), *va = json_array(), *v;
	const char *k;
	char vdev[24];
	int rc = !out || !da || !va;

	for (unsigned i = 0; !rc && i < ndevs; i++) {
		blkstat_vdev_name(devs[i]->devid, vdev, sizeof(vdev));
		rc = json_array_append_new(da, named(p, devs[i]->obj, devs[i]->domid,
						     "name", "vdev", vdev));
	}
	for (unsigned i = 0; !rc && i < nvifs; i++)
		rc = json_array_append_new(va, named(p, vifs[i]->obj, vifs[i]->domid,
						     "domain_name", NULL, NULL));
	json_object_foreach(rc ? NULL : s->doc, k, v) {
		if ((rc = json_object_set(out, k, strcmp(k, "devices") ? v : da)) < 0)
			break;
	}
	if (!rc && nics)
		rc = json_object_set(out, "vifs", va);
	json_decref(da);
	json_decref(va);
	if (rc) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* The consoles (each with "domain_name") when pvd-consoled answered, and
 * the store's document as "store", or why there is none as "store_error". */
static int extras_doc(struct pvctl *p, json_t *out, const struct constat_con **cons,
		      unsigned ncons, bool consoles, const struct storestat *st,
		      const char *st_why)
{
	json_t *ca = json_array();
	int rc = !ca;

	for (unsigned i = 0; !rc && i < ncons; i++)
		rc = json_array_append_new(ca, named(p, cons[i]->obj, cons[i]->domid,
						     "domain_name", NULL, NULL));
	if (!rc && consoles)
		rc = json_object_set(out, "consoles", ca);
	if (!rc)
		rc = st->doc ? json_object_set(out, "store", st->doc) :
		     json_object_set_new(out, "store_error", json_string(st_why));
	json_decref(ca);
	return rc ? -ENOMEM : 0;
}

/* ------------------------------------------------------------- stats */

struct stats_run {
	struct pvctl *p;
	bool json, filter;
	unsigned domid;
	const char *blk_path, *nic_path, *con_path;
	struct blkstat b;
	struct nicstat nic;
	struct constat con;
	struct storestat st;
	int nic_rc, con_rc;     /* statview_sample_nic's, _con's */
	int st_rc;              /* statview_sample_store's */
	char st_why[256];
};

/* The samples of the optional parts: NICs, consoles, the store. */
static int stats_extras(struct stats_run *r, struct ctlsock *nc, struct ctlsock *cc)
{
	r->nic_rc = statview_sample_nic(nc, &r->nic);
	ctlsock_close(nc);
	r->con_rc = statview_sample_con(cc, &r->con);
	ctlsock_close(cc);
	r->st_rc = statview_sample_store(r->p, &r->st, r->st_why, sizeof(r->st_why));
	return 0;
}

static int stats_show(struct stats_run *r)
{
	const struct blkstat_dev **devs;
	const struct nicstat_vif **vifs;
	const struct constat_con **cons;
	unsigned ndevs, nvifs, ncons;
	char tot[128];
	int rc = 0;

	devs = statview_devs(&r->b, r->filter, r->domid, &ndevs);
	vifs = statview_vifs(&r->nic, r->filter, r->domid, &nvifs);
	cons = statview_cons(&r->con, r->filter, r->domid, &ncons);
	if (!devs || !vifs || !cons) {
		rc = -ENOMEM;
	} else if (r->json) {
		json_t *doc = stats_doc(r->p, &r->b, devs, ndevs, vifs, nvifs, r->nic_rc == 0);

		rc = doc ? extras_doc(r->p, doc, cons, ncons, r->con_rc == 0, &r->st,
				      r->st_why) : -ENOMEM;
		if (rc == 0)
			rc = pvctl_json_print(stdout, doc);
		json_decref(doc);
	} else {
		disks_text(r->p, &r->b, devs, ndevs);
		if (r->nic_rc == 0)
			nics_text(r->p, vifs, nvifs);
		if (r->con_rc == 0)
			consoles_text(r->p, cons, ncons);
		statview_store_line(stdout, r->st_rc, &r->st, r->st_why,
				    store_totals(&r->st, tot, sizeof(tot)));
	}
	free(devs);
	free(vifs);
	free(cons);
	if (rc < 0)
		pvctl_err("%s", strerror(-rc));
	return rc;
}

static const struct option stats_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "socket", required_argument, NULL, 'S' },
	{ "netback-socket", required_argument, NULL, 'N' },
	{ "consoled-socket", required_argument, NULL, 'C' },
	{ NULL, 0, NULL, 0 },
};

static int stats_args(struct stats_run *r, int argc, char **argv)
{
	int ch;

	optind = 0;
	while ((ch = pvctl_getopt(argc, argv, ":j", stats_opts)) != -1) {
		switch (ch) {
		case 'j': r->json = true; break;
		case 'S': r->blk_path = optarg; break;
		case 'N': r->nic_path = optarg; break;
		case 'C': r->con_path = optarg; break;
		default: return pvctl_usage(pvctl_find_cmd("stats"));
		}
	}
	if (argc - optind > 1)
		return pvctl_usage(pvctl_find_cmd("stats"));
	return 0;
}

int cmd_stats(struct pvctl *p, int argc, char **argv)
{
	struct stats_run r = { .p = p };
	struct ctlsock bc, nc, cc;
	int rc = stats_args(&r, argc, argv);

	if (rc != 0)
		return rc;
	if (statview_domain_filter(p, optind < argc ? argv[optind] : NULL, &r.filter,
				   &r.domid) < 0 ||
	    ctlsock_init(p, &bc, "pvd-blkback", STATVIEW_BLK_SOCKET, r.blk_path) < 0 ||
	    ctlsock_init(p, &nc, "pvd-netback", STATVIEW_NIC_SOCKET, r.nic_path) < 0 ||
	    ctlsock_init(p, &cc, "pvd-consoled", STATVIEW_CON_SOCKET, r.con_path) < 0)
		return 1;
	if (statview_sample_blk(&bc, &r.b) < 0) {
		pvctl_err("%s", bc.err);
		return 1;
	}
	ctlsock_close(&bc);
	stats_extras(&r, &nc, &cc);
	rc = stats_show(&r);
	/* The disks are shown; a daemon that answers garbage is one line. */
	if (r.nic_rc < 0)
		pvctl_err("%s", nc.err);
	if (r.con_rc < 0)
		pvctl_err("%s", cc.err);
	blkstat_free(&r.b);
	nicstat_free(&r.nic);
	constat_free(&r.con);
	storestat_free(&r.st);
	return rc < 0 || r.nic_rc < 0 || r.con_rc < 0 ? 1 : 0;
}
