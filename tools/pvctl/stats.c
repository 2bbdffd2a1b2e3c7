/* pvctl stats and pvctl top: pvd-blkback's counters, read from its
 * control socket ($PVD_RUNDIR/pvd-blkback.sock, blkback/ctl.c: the line
 * "stats" is answered with one line of JSON).
 *
 * stats prints one sample (cumulative counters since each ring
 * connected); top, like xentop, samples every DELAY seconds and shows what
 * happened in between, one row per ring.  The daemon is another process:
 * every read is bounded in size and time, and its answer is parsed, never
 * trusted (blkstat.c).  top puts the terminal in non-canonical mode only
 * when stdin is one, and restores it on every way out, signals included
 * (they are read from a signalfd). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "pvd/num.h"
#include "blkstat.h"
#include "pvctl.h"

#define CTL_TIMEOUT_MS  5000            /* one answer from pvd-blkback */
#define CTL_SOCKET      "pvd-blkback.sock"
#define TOP_DELAY_MIN   0.1
#define TOP_DELAY_MAX   3600.0
#define TOP_ITERATIONS_MAX 1000000000u

struct ctl {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char err[512];          /* why the last query failed */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int ctl_init(struct pvctl *p, struct ctl *c, const char *path)
{
	char def[4096];

	c->fd = -1;
	c->err[0] = '\0';
	if (!path) {
		if (pvctl_path(p, def, sizeof(def), CTL_SOCKET) < 0) {
			pvctl_err("$PVD_RUNDIR is too long");
			return -ENAMETOOLONG;
		}
		path = def;
	}
	if (strlen(path) >= sizeof(c->path)) {
		pvctl_err("control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	return 0;
}

static void ctl_close(struct ctl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int ctl_fail(struct ctl *c, int e, const char *what)
{
	snprintf(c->err, sizeof(c->err), "pvd-blkback at %s: %s%s%s", c->path, what,
		 e ? ": " : "", e ? strerror(e) : "");
	ctl_close(c);
	return -(e ? e : EPROTO);
}

static int ctl_connect(struct ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (c->fd >= 0)
		return 0;
	strcpy(sa.sun_path, c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return ctl_fail(c, errno, "cannot create a socket");
	/* A unix socket connects at once or fails (EAGAIN: backlog full). */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return ctl_fail(c, errno, "cannot connect");
	return 0;
}

/* Sends "stats" and reads the one line answer (malloc'd, NUL-terminated,
 * without its new line) within CTL_TIMEOUT_MS and JSON_TEXT_MAX bytes.
 * A connection that fails is dropped; the next query connects anew (a
 * restarted daemon). */
static int ctl_stats(struct ctl *c, char **out, size_t *outlen)
{
	static const char req[] = "stats\n";
	uint64_t end = mono_ms() + CTL_TIMEOUT_MS;
	size_t sent = 0, len = 0, cap = 65536;
	char *buf, *nl = NULL;
	int rc;

	*out = NULL;
	if ((rc = ctl_connect(c)) < 0)
		return rc;
	buf = malloc(cap);
	if (!buf)
		return ctl_fail(c, ENOMEM, "reading the answer");
	while (!nl) {
		struct pollfd pfd = { .fd = c->fd, .events = sent < sizeof(req) - 1 ? POLLOUT : POLLIN };
		uint64_t now = mono_ms();
		ssize_t n;

		if (now >= end) {
			free(buf);
			return ctl_fail(c, 0, "no answer within 5 s");
		}
		if (poll(&pfd, 1, (int)(end - now)) < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return ctl_fail(c, errno, "poll");
		}
		if (sent < sizeof(req) - 1) {
			n = send(c->fd, req + sent, sizeof(req) - 1 - sent, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				free(buf);
				return ctl_fail(c, errno, "sending");
			}
			if (n > 0)
				sent += (size_t)n;
			continue;
		}
		if (len + 1 >= cap) {
			char *nb;

			if (cap >= JSON_TEXT_MAX) {
				free(buf);
				return ctl_fail(c, 0, "answer longer than 64 MiB");
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return ctl_fail(c, ENOMEM, "reading the answer");
			}
			buf = nb;
			cap *= 2;
		}
		n = recv(c->fd, buf + len, cap - 1 - len, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			free(buf);
			return ctl_fail(c, errno, "reading");
		}
		if (n == 0) {
			free(buf);
			return ctl_fail(c, 0, "closed the connection");
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	*nl = '\0';
	*out = buf;
	*outlen = (size_t)(nl - buf);
	return 0;
}

/* One sample, parsed.  On failure c->err says why. */
static int sample(struct ctl *c, struct blkstat *s)
{
	char *line, err[200];
	size_t len = 0;
	int rc = ctl_stats(c, &line, &len);

	if (rc < 0)
		return rc;
	rc = blkstat_parse(line, len, s, err, sizeof(err));
	free(line);
	if (rc < 0) {
		snprintf(c->err, sizeof(c->err), "pvd-blkback at %s: bad answer: %s",
			 c->path, err);
		ctl_close(c);   /* out of step: start again */
	}
	return rc;
}

/* ------------------------------------------------------------- names */

/* The store is optional here: names are shown when it can be reached. */
static struct xs_handle *store_quiet(struct pvctl *p)
{
	if (!p->xs)
		p->xs = xs_open(0);
	return p->xs;
}

static void dom_name(struct pvctl *p, unsigned domid, char *buf, size_t len)
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

/* The devices of s in display order (domid, devid), filtered. */
static int cmp_dev(const void *a, const void *b)
{
	const struct blkstat_dev *x = *(const struct blkstat_dev *const *)a;
	const struct blkstat_dev *y = *(const struct blkstat_dev *const *)b;

	if (x->domid != y->domid)
		return x->domid < y->domid ? -1 : 1;
	return x->devid < y->devid ? -1 : x->devid > y->devid;
}

static const struct blkstat_dev **sorted(const struct blkstat *s, bool filter,
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

/* [DOMAIN]: a domid or name the store knows. */
static int domain_filter(struct pvctl *p, const char *arg, bool *filter, unsigned *domid)
{
	*filter = arg != NULL;
	if (!arg)
		return 0;
	if (pvctl_connect(p) < 0 || pvctl_lookup(p, arg, domid) < 0)
		return -ENOENT;
	return 0;
}

/* ------------------------------------------------------------- stats */

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

static void stats_text(struct pvctl *p, const struct blkstat *s,
		       const struct blkstat_dev **devs, unsigned n)
{
	fprintf(stdout, "pvd-blkback: engine %s, %u disk(s)\n", s->engine, n);
	fprintf(stdout, "%-16s %5s %-7s %4s %-12s %10s %10s %8s %8s %10s %10s %7s %6s %5s %8s %8s\n",
		"Name", "ID", "Vdev", "Ring", "State", "Reads", "Writes", "Flushes", "Discards",
		"Read-MB", "Write-MB", "OO-req", "Errors", "Infl", "Lat-avg", "Lat-p99");
	for (unsigned i = 0; i < n; i++) {
		const struct blkstat_dev *d = devs[i];
		char name[80], vdev[24], state[16], ring[16];

		dom_name(p, d->domid, name, sizeof(name));
		blkstat_vdev_name(d->devid, vdev, sizeof(vdev));
		snprintf(state, sizeof(state), "%s", d->state_name[0] ? d->state_name : "?");
		pvctl_printable(state);
		print_ctr_row(stdout, name, d->domid, vdev, "all", state, &d->c, d->inflight);
		for (unsigned r = 0; r < d->nrings; r++) {
			snprintf(ring, sizeof(ring), "%u", d->rings[r].index);
			print_ctr_row(stdout, name, d->domid, vdev, ring,
				      d->rings[r].halted ? "halted" : "-", &d->rings[r].c,
				      d->rings[r].inflight);
		}
	}
}

/* The daemon's document, its devices filtered and each given the name
 * and vdev pvctl knows them by. */
static void stats_json(struct pvctl *p, const struct blkstat *s,
		       const struct blkstat_dev **devs, unsigned n)
{
	FILE *f = stdout;

	fputc('{', f);
	for (const struct json *m = s->doc->child; m; m = m->next) {
		if (m != s->doc->child)
			fputc(',', f);
		json_write_str(f, m->key ? m->key : "");
		fputc(':', f);
		if (!m->key || strcmp(m->key, "devices") != 0) {
			json_write(f, m);
			continue;
		}
		fputc('[', f);
		for (unsigned i = 0; i < n; i++) {
			char name[80], vdev[24];

			dom_name(p, devs[i]->domid, name, sizeof(name));
			blkstat_vdev_name(devs[i]->devid, vdev, sizeof(vdev));
			fprintf(f, "%s{\"name\":", i ? "," : "");
			json_write_str(f, name);
			fputs(",\"vdev\":", f);
			json_write_str(f, vdev);
			for (const struct json *c = devs[i]->obj->child; c; c = c->next) {
				if (c->key && (strcmp(c->key, "name") == 0 ||
					       strcmp(c->key, "vdev") == 0))
					continue;
				fputc(',', f);
				json_write_str(f, c->key ? c->key : "");
				fputc(':', f);
				json_write(f, c);
			}
			fputc('}', f);
		}
		fputc(']', f);
	}
	fputs("}\n", f);
}

static const struct option stats_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "socket", required_argument, NULL, 's' },
	{ NULL, 0, NULL, 0 },
};

int cmd_stats(struct pvctl *p, int argc, char **argv)
{
	const char *sock = NULL;
	const struct blkstat_dev **devs;
	struct blkstat s;
	struct ctl c;
	bool json = false, filter;
	unsigned domid = 0, n;
	int ch;

	optind = 0;
	while ((ch = pvctl_getopt(argc, argv, ":js:", stats_opts)) != -1) {
		switch (ch) {
		case 'j': json = true; break;
		case 's': sock = optarg; break;
		default: return pvctl_usage(pvctl_find_cmd("stats"));
		}
	}
	if (argc - optind > 1)
		return pvctl_usage(pvctl_find_cmd("stats"));
	if (domain_filter(p, optind < argc ? argv[optind] : NULL, &filter, &domid) < 0 ||
	    ctl_init(p, &c, sock) < 0)
		return 1;
	if (sample(&c, &s) < 0) {
		pvctl_err("%s", c.err);
		return 1;
	}
	ctl_close(&c);
	devs = sorted(&s, filter, domid, &n);
	if (!devs) {
		blkstat_free(&s);
		pvctl_err("out of memory");
		return 1;
	}
	if (json)
		stats_json(p, &s, devs, n);
	else
		stats_text(p, &s, devs, n);
	free(devs);
	blkstat_free(&s);
	return 0;
}

/* ------------------------------------------------------------- top */

struct top {
	struct pvctl *p;
	struct ctl c;
	bool batch, json, filter, tty_in, tty_saved;
	unsigned domid;
	uint64_t iterations;            /* 0: until q or a signal */
	double delay;
	struct termios saved;
	struct blkstat prev, cur;
	bool have_prev;
	uint64_t prev_ms;
};

static void fmt_rate(double v, char *buf, size_t len)
{
	if (v >= 1e7)
		snprintf(buf, len, "%.0fk", v / 1000);
	else
		snprintf(buf, len, "%.0f", v);
}

/* One ring's row (r NULL: a device without rings). */
static void top_row(struct top *t, FILE *f, const struct blkstat_dev *d,
		    const struct blkstat_ring *r, double secs, bool *first)
{
	const struct blkstat_dev *pd = t->have_prev ?
		blkstat_find_dev(&t->prev, d->domid, d->devid) : NULL;
	const struct blkstat_ring *pr = r && pd ? blkstat_find_ring(pd, r->index) : NULL;
	struct blkstat_rate rt;
	char name[80], vdev[24], state[16], iops[16], rd[16], wr[16], avg[16], p99[16],
	     occ[32], ring[12];

	dom_name(t->p, d->domid, name, sizeof(name));
	blkstat_vdev_name(d->devid, vdev, sizeof(vdev));
	snprintf(state, sizeof(state), "%s", d->state_name[0] ? d->state_name : "?");
	pvctl_printable(state);
	if (r) {
		blkstat_rate(pr ? &pr->c : NULL, &r->c, secs, &rt);
	} else {
		memset(&rt, 0, sizeof(rt));
		rt.lat_avg_us = rt.lat_p50_us = rt.lat_p99_us = -1;
	}
	if (t->json) {
		fprintf(f, "%s{\"domid\":%u,\"name\":", *first ? "" : ",", d->domid);
		json_write_str(f, name);
		fprintf(f, ",\"devid\":%u,\"vdev\":\"%s\",\"state\":%u,\"state_name\":", d->devid,
			vdev, d->state);
		json_write_str(f, state);
		if (r)
			fprintf(f, ",\"ring\":%u", r->index);
		else
			fputs(",\"ring\":null", f);
		fprintf(f, ",\"iops\":%.1f,\"read_iops\":%.1f,\"write_iops\":%.1f,"
			"\"mbps\":%.3f,\"read_mbps\":%.3f,\"write_mbps\":%.3f,"
			"\"inflight\":%u,\"unconsumed\":%u,\"ring_size\":%u,\"occ_avg\":%.2f,",
			rt.iops, rt.rd_iops, rt.wr_iops, rt.mbps, rt.rd_mbps, rt.wr_mbps,
			r ? r->inflight : 0, r ? r->unconsumed : 0, r ? r->ring_size : 0,
			rt.occ_avg);
		if (rt.lat_avg_us >= 0)
			fprintf(f, "\"lat_avg_us\":%.1f,\"lat_p50_us\":%.0f,\"lat_p99_us\":%.0f,",
				rt.lat_avg_us, rt.lat_p50_us, rt.lat_p99_us);
		else
			fputs("\"lat_avg_us\":null,\"lat_p50_us\":null,\"lat_p99_us\":null,", f);
		fprintf(f, "\"requests\":%llu,\"errors\":%llu,\"oo_req\":%llu}",
			(unsigned long long)rt.reqs, (unsigned long long)rt.errors,
			(unsigned long long)rt.oo_req);
		*first = false;
		return;
	}
	fmt_rate(rt.iops, iops, sizeof(iops));
	fmt_rate(rt.rd_iops, rd, sizeof(rd));
	fmt_rate(rt.wr_iops, wr, sizeof(wr));
	blkstat_fmt_us(rt.lat_avg_us, avg, sizeof(avg));
	blkstat_fmt_us(rt.lat_p99_us, p99, sizeof(p99));
	if (r) {
		snprintf(ring, sizeof(ring), "%u", r->index);
		snprintf(occ, sizeof(occ), "%.1f/%u", rt.occ_avg, r->ring_size);
	} else {
		snprintf(ring, sizeof(ring), "-");
		snprintf(occ, sizeof(occ), "-");
	}
	fprintf(f, "%-16.16s %5u %-7s %-12s %4s %8s %8s %8s %8.1f %5u %11s %8s %8s %6llu\n",
		name, d->domid, vdev, state, ring, iops, rd, wr, rt.mbps,
		r ? r->inflight : 0, occ, avg, p99, (unsigned long long)rt.errors);
}

static void top_frame(struct top *t, FILE *f, double secs, const char *problem)
{
	const struct blkstat_dev **devs = NULL;
	unsigned n = 0, rings = 0;
	bool first = true;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&now, &tm));
	if (!problem) {
		devs = sorted(&t->cur, t->filter, t->domid, &n);
		if (!devs)
			problem = "out of memory";
	}
	for (unsigned i = 0; i < n; i++)
		rings += devs[i]->nrings;
	if (t->json) {
		fprintf(f, "{\"time\":%lld,\"interval_s\":%.3f,", (long long)now, secs);
		if (problem) {
			fputs("\"error\":", f);
			json_write_str(f, problem);
			fputs("}\n", f);
			free(devs);
			return;
		}
		fputs("\"engine\":", f);
		json_write_str(f, t->cur.engine);
		fputs(",\"rings\":[", f);
	} else {
		if (!t->batch)
			fputs("\033[H\033[2J", f);
		if (problem) {
			fprintf(f, "pvctl top - %s  %s\n", when, problem);
			free(devs);
			return;
		}
		fprintf(f, "pvctl top - %s  pvd-blkback: engine %s, %u disk(s), %u ring(s), interval %.2f s%s\n",
			when, t->cur.engine, n, rings, secs, t->batch ? "" : "  (q quits)");
		fprintf(f, "%-16s %5s %-7s %-12s %4s %8s %8s %8s %8s %5s %11s %8s %8s %6s\n",
			"NAME", "ID", "VDEV", "STATE", "RING", "IOPS", "READ/s", "WRITE/s",
			"MB/s", "INFL", "OCC/SIZE", "LAT-AVG", "LAT-P99", "ERR");
	}
	for (unsigned i = 0; i < n; i++) {
		if (!devs[i]->nrings)
			top_row(t, f, devs[i], NULL, secs, &first);
		for (unsigned r = 0; r < devs[i]->nrings; r++)
			top_row(t, f, devs[i], &devs[i]->rings[r], secs, &first);
	}
	if (t->json)
		fputs("]}\n", f);
	free(devs);
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
		for (ssize_t i = 0; i < n; i++)
			if (keys[i] == 'q' || keys[i] == 'Q')
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
	{ "socket", required_argument, NULL, 's' },
	{ NULL, 0, NULL, 0 },
};

/* The command line into t.  0, or the exit status. */
static int top_args(struct top *t, int argc, char **argv, const char **sock)
{
	uint64_t v;
	int ch;

	optind = 0;
	while ((ch = pvctl_getopt(argc, argv, ":bi:d:js:", top_opts)) != -1) {
		switch (ch) {
		case 'b': t->batch = true; break;
		case 'j': t->json = true; break;
		case 's': *sock = optarg; break;
		case 'i':
			if (pvd_parse_range(optarg, 1, TOP_ITERATIONS_MAX, &v) < 0) {
				pvctl_err("--iterations: want a number of frames, 1 or more, got '%s'",
					  optarg);
				return 2;
			}
			t->iterations = v;
			break;
		case 'd':
			if (!parse_delay(optarg, &t->delay)) {
				pvctl_err("--delay: want seconds, %.1f to %.0f, got '%s'",
					  TOP_DELAY_MIN, TOP_DELAY_MAX, optarg);
				return 2;
			}
			break;
		default:
			return pvctl_usage(pvctl_find_cmd("top"));
		}
	}
	if (argc - optind > 1)
		return pvctl_usage(pvctl_find_cmd("top"));
	/* Without a terminal to draw on, frames follow each other. */
	if (t->json || !isatty(STDOUT_FILENO))
		t->batch = true;
	t->tty_in = !t->batch && isatty(STDIN_FILENO);
	return 0;
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
	if (sample(&t->c, &t->cur) < 0) {
		if (t->batch) {
			/* A script wants to know, not a blank line. */
			term_restore(t);
			pvctl_err("%s", t->c.err);
			return -1;
		}
		problem = t->c.err;
	}
	now = mono_ms();
	if (*next < now)
		*next = now;    /* a slow answer: no burst of frames after it */
	top_frame(t, stdout, (double)(now - t->prev_ms) / 1000, problem);
	if (fflush(stdout) != 0)
		return -1;
	if (!problem) {
		blkstat_free(&t->prev);
		t->prev = t->cur;
		memset(&t->cur, 0, sizeof(t->cur));
		t->have_prev = true;
		t->prev_ms = now;
	}
	return 1;
}

int cmd_top(struct pvctl *p, int argc, char **argv)
{
	struct top t = { .p = p, .delay = 1.0 };
	const char *sock = NULL;
	uint64_t frames = 0, next;
	int rc = top_args(&t, argc, argv, &sock);

	if (rc != 0)
		return rc;
	if (domain_filter(p, optind < argc ? argv[optind] : NULL, &t.filter, &t.domid) < 0 ||
	    ctl_init(p, &t.c, sock) < 0)
		return 1;
	if ((rc = pvctl_catch_signals(p)) < 0) {
		pvctl_err("cannot block signals: %s", strerror(-rc));
		return 1;
	}
	/* The first sample is the base of the first frame's rates. */
	if (sample(&t.c, &t.prev) < 0) {
		pvctl_err("%s", t.c.err);
		return 1;
	}
	t.have_prev = true;
	t.prev_ms = mono_ms();
	next = t.prev_ms;
	term_raw(&t);
	do {
		rc = top_step(&t, &next);
	} while (rc > 0 && (!t.iterations || ++frames < t.iterations));
	term_restore(&t);
	ctl_close(&t.c);
	blkstat_free(&t.prev);
	blkstat_free(&t.cur);
	return rc < 0 ? 1 : 0;
}
