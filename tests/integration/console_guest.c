/* A simulated guest's console frontend, and the toolstack steps around it,
 * for pvd-consoled's integration tests and benchmark.
 *
 *   console_guest guest DOMID [--secondary K] [--in-file PATH] [--pages N]
 *       Creates simulated domain DOMID (hv_sim_domain_create in
 *       $PVD_RUNDIR), allocates its xenstore and console event channels
 *       for dom0 (and K secondary consoles: a page granted to dom0 as
 *       reference 10+i, and a port each), prints
 *         domid=D store_gfn=G store_port=P console_gfn=C console_port=Q
 *         [sec0_ref=R sec0_port=Q ...]
 *       and then obeys commands on stdin, one per line (EOF: quit):
 *         con K           following commands act on console K (0: primary,
 *                         1..K: secondary)
 *         write TEXT      TEXT and a newline into the out ring, notify
 *         writen TEXT     TEXT and a newline into the out ring, no notify
 *         notify          notify the console's port
 *         flood N         N bytes of numbered lines, then "FLOOD-END\n",
 *                         as fast as the ring takes them
 *         status          prints "status out_prod=.. out_cons=.. in_prod=..
 *                         in_cons=.. pending=.. flood_left=.."
 *         corrupt-out     out_prod = out_cons + 3000 (a ring and more apart)
 *         corrupt-out-back  out_cons = out_prod + 16 (consumer past producer)
 *         corrupt-in      in_cons = in_prod + 5000
 *         noconsume/consume  stop/resume consuming the in ring
 *         sync TAG        prints "sync TAG" (the test knows earlier
 *                         commands were done)
 *         quit            destroys the domain and exits
 *       What arrives on an in ring is appended to --in-file (console 0 only)
 *       and echoed into that console's out ring, as a terminal would.
 *   console_guest introduce DOMID GFN PORT   XS_INTRODUCE (as a toolstack)
 *   console_guest release DOMID              XS_RELEASE
 *   console_guest many FIRST COUNT [SECS]
 *       COUNT domains FIRST.. in one process: introduces each and writes
 *       its name and console nodes (libxenstore), waits up to SECS (60)
 *       for every console/tty, prints "ready COUNT", then waits for EOF on
 *       stdin and releases them.
 *   console_guest throughput DOMID BYTES [SECS]
 *       One domain as above; opens its pty and writes BYTES through the
 *       console ring (chunks of what fits) while a second thread reads the
 *       pty; prints "bytes=N read=R secs=S mb_per_s=X dropped=0|1"
 *       (mb_per_s: what the reader got, per second).
 *   console_guest spam PATH N V1 V2
 *       A hostile guest's store writes (made as dom0, into the guest's
 *       node): PATH written N times, V1 and V2 in turn; prints "spam N".
 *   console_guest rawpty BYTES CHUNK
 *       The peer: a raw pty pair, a thread writing CHUNK-byte writes to the
 *       master, another reading the slave; the same line.
 *
 * Every wait is bounded (HANG_GUARD_MS or SECS); nothing here decides a
 * test on timing.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "pvd/hv_sim.h"
#include "pvd/num.h"
#include "pvd/ring_util.h"
#include <xen/io/console.h>

#define HANG_GUARD_MS 10000
#define MAX_CONS 12
#define END_MARK "#END#\n"

struct con {
	struct xencons_interface *intf;
	evtchn_port_t port;
	grant_ref_t ref;
	char *pend;		/* output waiting for ring space */
	size_t npend, cappend;
	uint64_t flood_left, flood_seq;
	bool flood_end_due;
};

struct guest {
	struct hv_sim_domain *dom;
	struct con c[MAX_CONS];
	unsigned ncons, cur;
	bool consume;
	FILE *in_file;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "console_guest: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- the ring, guest side ---- */

/* Puts what fits of data into the out ring; returns bytes written. */
static size_t ring_put(struct con *c, const char *data, size_t len)
{
	struct xencons_interface *intf = c->intf;
	XENCONS_RING_IDX cons = *(volatile XENCONS_RING_IDX *)&intf->out_cons;
	XENCONS_RING_IDX prod = intf->out_prod;
	size_t space, n;

	PVD_MB();
	space = sizeof(intf->out) - (prod - cons);
	if (space > sizeof(intf->out))
		space = 0;	/* indices we broke on purpose */
	n = len < space ? len : space;
	for (size_t i = 0; i < n; i++)
		intf->out[MASK_XENCONS_IDX(prod + i, intf->out)] = data[i];
	PVD_WMB();
	intf->out_prod = prod + (XENCONS_RING_IDX)n;
	return n;
}

static void pend_add(struct con *c, const char *data, size_t len)
{
	if (c->npend + len > c->cappend) {
		size_t cap = (c->npend + len) * 2;
		char *p = realloc(c->pend, cap);

		if (!p)
			die("realloc", ENOMEM);
		c->pend = p;
		c->cappend = cap;
	}
	memcpy(c->pend + c->npend, data, len);
	c->npend += len;
}

/* Moves pending output and flood lines into the ring; notifies if any. */
static void con_pump(struct guest *g, struct con *c)
{
	bool wrote = false;

	for (;;) {
		size_t n;

		if (!c->npend && c->flood_left) {
			char line[128];
			int l = snprintf(line, sizeof(line),
					 "F%08llu ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789\n",
					 (unsigned long long)c->flood_seq++);
			size_t take = (uint64_t)l < c->flood_left ? (size_t)l : (size_t)c->flood_left;

			pend_add(c, line, take);
			c->flood_left -= take;
			if (!c->flood_left)
				c->flood_end_due = true;
		}
		if (!c->npend && c->flood_end_due) {
			pend_add(c, "\nFLOOD-END\n", 11);
			c->flood_end_due = false;
		}
		if (!c->npend)
			break;
		n = ring_put(c, c->pend, c->npend);
		if (!n)
			break;
		memmove(c->pend, c->pend + n, c->npend - n);
		c->npend -= n;
		wrote = true;
	}
	if (wrote)
		hv_sim_evtchn_notify(g->dom, c->port);
}

/* Takes what arrived on the in ring. */
static void con_input(struct guest *g, unsigned idx)
{
	struct con *c = &g->c[idx];
	struct xencons_interface *intf = c->intf;
	XENCONS_RING_IDX cons, prod;
	char buf[sizeof(intf->in)];
	size_t n;

	if (!g->consume)
		return;
	cons = intf->in_cons;
	prod = *(volatile XENCONS_RING_IDX *)&intf->in_prod;
	PVD_RMB();
	n = prod - cons;
	if (n > sizeof(intf->in))
		return;		/* we broke it on purpose */
	for (size_t i = 0; i < n; i++)
		buf[i] = intf->in[MASK_XENCONS_IDX(cons + i, intf->in)];
	PVD_MB();
	intf->in_cons = cons + (XENCONS_RING_IDX)n;
	if (!n)
		return;
	hv_sim_evtchn_notify(g->dom, c->port);
	if (idx == 0 && g->in_file) {
		fwrite(buf, 1, n, g->in_file);
		fflush(g->in_file);
	}
	pend_add(c, buf, n);	/* echo */
}

static void on_events(struct guest *g)
{
	evtchn_port_t port;

	while (hv_sim_evtchn_pending(g->dom, &port) == 0) {
		hv_sim_evtchn_unmask(g->dom, port);
		for (unsigned i = 0; i < g->ncons; i++)
			if (g->c[i].port == port)
				con_input(g, i);
	}
	for (unsigned i = 0; i < g->ncons; i++)
		con_pump(g, &g->c[i]);
}

static void command(struct guest *g, char *line)
{
	struct con *c = &g->c[g->cur];
	struct xencons_interface *intf = c->intf;
	char *arg = strchr(line, ' ');

	if (arg)
		*arg++ = '\0';
	else
		arg = line + strlen(line);
	if (!strcmp(line, "con")) {
		uint64_t k;

		if (pvd_parse_uint(arg, UINT_MAX, &k) == 0 && k < g->ncons)
			g->cur = (unsigned)k;
	} else if (!strcmp(line, "write")) {
		pend_add(c, arg, strlen(arg));
		pend_add(c, "\n", 1);
		con_pump(g, c);
	} else if (!strcmp(line, "writen")) {
		size_t l = strlen(arg);

		arg[l] = '\n';
		ring_put(c, arg, l + 1);
	} else if (!strcmp(line, "notify")) {
		hv_sim_evtchn_notify(g->dom, c->port);
	} else if (!strcmp(line, "flood")) {
		if (pvd_parse_uint(arg, UINT64_MAX, &c->flood_left) < 0)
			c->flood_left = 0;
		con_pump(g, c);
	} else if (!strcmp(line, "status")) {
		printf("status out_prod=%u out_cons=%u in_prod=%u in_cons=%u pending=%zu flood_left=%llu\n",
		       intf->out_prod, intf->out_cons, intf->in_prod, intf->in_cons,
		       c->npend, (unsigned long long)c->flood_left);
	} else if (!strcmp(line, "corrupt-out")) {
		intf->out_prod = intf->out_cons + 3000;
		hv_sim_evtchn_notify(g->dom, c->port);
	} else if (!strcmp(line, "corrupt-out-back")) {
		intf->out_cons = intf->out_prod + 16;
		hv_sim_evtchn_notify(g->dom, c->port);
	} else if (!strcmp(line, "corrupt-in")) {
		intf->in_cons = intf->in_prod + 5000;
		hv_sim_evtchn_notify(g->dom, c->port);
	} else if (!strcmp(line, "noconsume")) {
		g->consume = false;
	} else if (!strcmp(line, "consume")) {
		g->consume = true;
		on_events(g);
		for (unsigned i = 0; i < g->ncons; i++)
			con_input(g, i);
	} else if (!strcmp(line, "sync")) {
		printf("sync %s\n", arg);
	} else if (!strcmp(line, "quit")) {
		hv_sim_domain_destroy(g->dom);
		exit(0);
	} else {
		fprintf(stderr, "console_guest: unknown command %s\n", line);
	}
	fflush(stdout);
}

static int parse_uint(const char *s, unsigned long *out)
{
	uint64_t v;
	int rc = pvd_parse_uint(s, ULONG_MAX, &v);

	if (rc == 0)
		*out = (unsigned long)v;
	return rc;
}

static void guest_setup(struct guest *g, unsigned domid, size_t pages,
			unsigned nsec, evtchn_port_t *store_port)
{
	int rc;

	memset(g, 0, sizeof(*g));
	g->consume = true;
	rc = hv_sim_domain_create(NULL, (domid_t)domid, pages, &g->dom);
	if (rc < 0)
		die("hv_sim_domain_create", rc);
	rc = hv_sim_evtchn_alloc_unbound(g->dom, 0, store_port);
	if (rc < 0)
		die("alloc store port", rc);
	g->c[0].intf = hv_sim_page(g->dom, hv_sim_console_page(g->dom));
	rc = hv_sim_evtchn_alloc_unbound(g->dom, 0, &g->c[0].port);
	if (rc < 0)
		die("alloc console port", rc);
	g->ncons = 1;
	for (unsigned i = 0; i < nsec && g->ncons < MAX_CONS; i++) {
		struct con *c = &g->c[g->ncons++];
		unsigned long page;

		if ((rc = hv_sim_page_alloc(g->dom, &page)) < 0 ||
		    (rc = hv_sim_grant(g->dom, 10 + i, page, 0, 0)) < 0 ||
		    (rc = hv_sim_evtchn_alloc_unbound(g->dom, 0, &c->port)) < 0)
			die("secondary console", rc);
		c->intf = hv_sim_page(g->dom, page);
		c->ref = 10 + i;
	}
}

static int run_guest(int argc, char **argv)
{
	struct guest g;
	unsigned long domid, pages = 16, nsec = 0;
	const char *in_path = NULL;
	evtchn_port_t sport;
	char line[4096];
	size_t nline = 0;

	if (argc < 3 || parse_uint(argv[2], &domid) < 0)
		die("usage: guest DOMID [--secondary K] [--in-file PATH] [--pages N]", EINVAL);
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--secondary"))
			parse_uint(argv[i + 1], &nsec);
		else if (!strcmp(argv[i], "--in-file"))
			in_path = argv[i + 1];
		else if (!strcmp(argv[i], "--pages"))
			parse_uint(argv[i + 1], &pages);
	}
	guest_setup(&g, (unsigned)domid, pages, (unsigned)nsec, &sport);
	if (in_path) {
		g.in_file = fopen(in_path, "a");
		if (!g.in_file)
			die(in_path, errno);
	}
	printf("domid=%lu store_gfn=%lu store_port=%u console_gfn=%lu console_port=%u",
	       domid, hv_sim_xenstore_page(g.dom), sport,
	       hv_sim_console_page(g.dom), g.c[0].port);
	for (unsigned i = 1; i < g.ncons; i++)
		printf(" sec%u_ref=%u sec%u_port=%u", i - 1, g.c[i].ref, i - 1,
		       g.c[i].port);
	printf("\n");
	fflush(stdout);

	for (;;) {
		struct pollfd pf[2] = {
			{ .fd = 0, .events = POLLIN },
			{ .fd = hv_sim_evtchn_fd(g.dom), .events = POLLIN },
		};

		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			die("poll", errno);
		if (pf[1].revents)
			on_events(&g);
		if (pf[0].revents) {
			ssize_t r = read(0, line + nline, sizeof(line) - 1 - nline);
			char *nl;

			if (r <= 0)
				break;
			nline += (size_t)r;
			while ((nl = memchr(line, '\n', nline)) != NULL) {
				*nl = '\0';
				command(&g, line);
				nline -= (size_t)(nl + 1 - line);
				memmove(line, nl + 1, nline);
			}
			if (nline == sizeof(line) - 1)
				nline = 0;	/* an overlong line: dropped */
		}
	}
	hv_sim_domain_destroy(g.dom);
	return 0;
}

/* ---- toolstack steps ---- */

static struct xs_handle *xs_or_die(void)
{
	struct xs_handle *xs = xs_open(0);

	if (!xs)
		die("xs_open", errno);
	return xs;
}

static void xs_put(struct xs_handle *xs, unsigned domid, const char *node,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void xs_put(struct xs_handle *xs, unsigned domid, const char *node,
		   const char *fmt, ...)
{
	char path[128], val[64];
	va_list ap;

	snprintf(path, sizeof(path), "/local/domain/%u/%s", domid, node);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (!xs_write(xs, XBT_NULL, path, val, strlen(val)))
		die(path, errno);
}

/* What a toolstack writes for a console: name, console/ring-ref, port,
 * type; the console directory belongs to the guest (it may write it). */
static void xs_console_nodes(struct xs_handle *xs, struct guest *g,
			     unsigned domid, evtchn_port_t sport)
{
	struct xs_permissions perms[2] = {
		{ .id = (unsigned)domid, .perms = XS_PERM_NONE },
		{ .id = 0, .perms = XS_PERM_READ },
	};
	char path[128];

	if (!xs_introduce_domain(xs, domid, hv_sim_xenstore_page(g->dom), sport))
		die("xs_introduce_domain", errno);
	xs_put(xs, domid, "name", "bench-%u", domid);
	snprintf(path, sizeof(path), "/local/domain/%u/console", domid);
	if (!xs_mkdir(xs, XBT_NULL, path) ||
	    !xs_set_permissions(xs, XBT_NULL, path, perms, 2))
		die(path, errno);
	xs_put(xs, domid, "console/type", "xenconsoled");
	xs_put(xs, domid, "console/port", "%u", g->c[0].port);
	xs_put(xs, domid, "console/ring-ref", "%lu", hv_sim_console_page(g->dom));
}

static char *wait_tty(struct xs_handle *xs, unsigned domid, unsigned secs)
{
	char path[128];
	uint64_t end = now_ns() + (uint64_t)secs * 1000000000u;

	snprintf(path, sizeof(path), "/local/domain/%u/console/tty", domid);
	for (;;) {
		unsigned len;
		char *v = xs_read(xs, XBT_NULL, path, &len);

		if (v && len)
			return v;
		free(v);
		if (now_ns() > end)
			return NULL;
		usleep(2000);
	}
}

static void xs_forget(struct xs_handle *xs, unsigned domid)
{
	char path[64];

	xs_release_domain(xs, domid);
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	xs_rm(xs, XBT_NULL, path);
}

/* Takes what arrived on the domains' event channels (the daemon's bind
 * requests, its notifications), as running guests do: a guest that never
 * looks leaves the daemon's bind messages queued on its socket. */
static void many_drain(struct guest *gs, unsigned long n, struct pollfd *pf,
		       int timeout_ms)
{
	for (unsigned long i = 0; i < n; i++)
		pf[i] = (struct pollfd){ .fd = hv_sim_evtchn_fd(gs[i].dom), .events = POLLIN };
	if (poll(pf, n, timeout_ms) <= 0)
		return;
	for (unsigned long i = 0; i < n; i++) {
		evtchn_port_t p;

		if (!pf[i].revents)
			continue;
		while (hv_sim_evtchn_pending(gs[i].dom, &p) == 0)
			hv_sim_evtchn_unmask(gs[i].dom, p);
	}
}

static int run_many(int argc, char **argv)
{
	unsigned long first, count, secs = 60, done = 0;
	struct xs_handle *xs;
	struct guest *gs;
	struct pollfd *pf;
	uint64_t end;
	char buf[64];

	if (argc < 4 || parse_uint(argv[2], &first) < 0 ||
	    parse_uint(argv[3], &count) < 0 || !count || first + count >= DOMID_FIRST_RESERVED ||
	    (argc > 4 && parse_uint(argv[4], &secs) < 0))
		die("usage: many FIRST COUNT [SECS]", EINVAL);
	raise_nofile();
	gs = calloc(count, sizeof(*gs));
	pf = calloc(count + 1, sizeof(*pf));
	if (!gs || !pf)
		die("calloc", ENOMEM);
	xs = xs_or_die();
	for (unsigned long i = 0; i < count; i++) {
		evtchn_port_t sport;

		guest_setup(&gs[i], (unsigned)(first + i), 4, 0, &sport);
		xs_console_nodes(xs, &gs[i], (unsigned)(first + i), sport);
		if (i % 16 == 15)
			many_drain(gs, i + 1, pf, 0);
	}
	end = now_ns() + (uint64_t)secs * 1000000000u;
	while (done < count) {
		char path[128];
		unsigned len;
		char *v;

		snprintf(path, sizeof(path), "/local/domain/%lu/console/tty", first + done);
		v = xs_read(xs, XBT_NULL, path, &len);
		if (v && len) {
			done++;
		} else if (now_ns() > end) {
			fprintf(stderr, "console_guest: dom%lu got no console/tty\n",
				first + done);
			return 1;
		} else {
			many_drain(gs, count, pf, 5);
		}
		free(v);
	}
	printf("ready %lu\n", count);
	fflush(stdout);
	for (;;) {
		/* Idle guests: sleep until stdin closes (or an event comes). */
		pf[count] = (struct pollfd){ .fd = 0, .events = POLLIN };
		many_drain(gs, count, pf, 0);
		pf[count] = (struct pollfd){ .fd = 0, .events = POLLIN };
		if (poll(&pf[count], 1, 1000) == 1 && read(0, buf, sizeof(buf)) <= 0)
			break;
	}
	for (unsigned long i = 0; i < count; i++)
		xs_forget(xs, (unsigned)(first + i));
	for (unsigned long i = 0; i < count; i++)
		hv_sim_domain_destroy(gs[i].dom);
	xs_close(xs);
	free(gs);
	free(pf);
	return 0;
}

/* ---- throughput ---- */

struct reader {
	int fd;
	uint64_t bytes, end_ns;
	bool dropped, done;
};

/* Reads until END_MARK; the pattern has no '#', and neither has the
 * daemon's drop marker. */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	static char buf[65536];
	char tail[8] = "";
	size_t tl = 0;

	for (;;) {
		struct pollfd pf = { .fd = r->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, HANG_GUARD_MS) <= 0)
			return NULL;
		n = read(r->fd, buf, sizeof(buf));
		if (n <= 0)
			return NULL;
		r->bytes += (uint64_t)n;
		if (memmem(buf, (size_t)n, "dropped]", 8))
			r->dropped = true;
		/* END_MARK may be split across reads. */
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '#' || tl) {
				tail[tl++] = buf[i];
				if (tl == sizeof(END_MARK) - 1) {
					if (!memcmp(tail, END_MARK, tl)) {
						r->end_ns = now_ns();
						r->done = true;
						return NULL;
					}
					tl = 0;
				}
			}
		}
	}
}

static void fill_pattern(char *buf, size_t len)
{
	static const char pat[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,-\n";

	for (size_t i = 0; i < len; i++)
		buf[i] = pat[i % (sizeof(pat) - 1)];
}

/* mb_per_s counts what reached the reader (with drop markers, if the
 * daemon had to drop: then dropped=1). */
static void report(struct reader *r, uint64_t total, uint64_t t0)
{
	double secs = (double)(r->end_ns - t0) / 1e9;

	printf("bytes=%llu read=%llu secs=%.4f mb_per_s=%.2f dropped=%d\n",
	       (unsigned long long)total, (unsigned long long)r->bytes, secs,
	       (double)r->bytes / secs / 1e6, r->dropped ? 1 : 0);
}

static int run_throughput(int argc, char **argv)
{
	unsigned long domid, bytes, secs = 30;
	struct xs_handle *xs;
	struct guest g;
	evtchn_port_t sport;
	struct reader r = { 0 };
	pthread_t th;
	char *tty, chunk[2048];
	uint64_t left, t0, end;
	struct con *c;

	if (argc < 4 || parse_uint(argv[2], &domid) < 0 ||
	    parse_uint(argv[3], &bytes) < 0 ||
	    (argc > 4 && parse_uint(argv[4], &secs) < 0))
		die("usage: throughput DOMID BYTES [SECS]", EINVAL);
	guest_setup(&g, (unsigned)domid, 16, 0, &sport);
	xs = xs_or_die();
	xs_console_nodes(xs, &g, (unsigned)domid, sport);
	tty = wait_tty(xs, (unsigned)domid, 10);
	if (!tty)
		die("no console/tty", ETIMEDOUT);
	r.fd = open(tty, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (r.fd < 0)
		die(tty, errno);
	free(tty);
	fill_pattern(chunk, sizeof(chunk));
	c = &g.c[0];
	if (pthread_create(&th, NULL, reader_main, &r))
		die("pthread_create", errno);
	t0 = now_ns();
	end = t0 + (uint64_t)secs * 1000000000u;
	for (left = bytes; left && now_ns() < end;) {
		size_t n = ring_put(c, chunk, left < sizeof(chunk) ? (size_t)left : sizeof(chunk));

		if (n) {
			left -= n;
			hv_sim_evtchn_notify(g.dom, c->port);
			continue;
		}
		/* Full: the daemon notifies when it consumed. */
		if (hv_sim_evtchn_wait(g.dom, 100) == 0) {
			evtchn_port_t p;

			while (hv_sim_evtchn_pending(g.dom, &p) == 0)
				hv_sim_evtchn_unmask(g.dom, p);
		}
	}
	while (!ring_put(c, END_MARK, sizeof(END_MARK) - 1) && now_ns() < end) {
		evtchn_port_t p;

		hv_sim_evtchn_wait(g.dom, 100);
		while (hv_sim_evtchn_pending(g.dom, &p) == 0)
			hv_sim_evtchn_unmask(g.dom, p);
	}
	hv_sim_evtchn_notify(g.dom, c->port);
	pthread_join(th, NULL);
	if (!r.done || left) {
		fprintf(stderr, "console_guest: the end mark did not arrive (%llu bytes read)\n",
			(unsigned long long)r.bytes);
		return 1;
	}
	report(&r, bytes, t0);
	xs_forget(xs, (unsigned)domid);
	xs_close(xs);
	hv_sim_domain_destroy(g.dom);
	return 0;
}

struct writer {
	int fd;
	uint64_t bytes;
	size_t chunk;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char *buf = malloc(w->chunk);

	if (!buf)
		return NULL;
	fill_pattern(buf, w->chunk);
	for (uint64_t left = w->bytes; left;) {
		ssize_t n = write(w->fd, buf, left < w->chunk ? (size_t)left : w->chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		left -= (uint64_t)n;
	}
	if (write(w->fd, END_MARK, sizeof(END_MARK) - 1) < 0)
		perror("write");
	free(buf);
	return NULL;
}

static int run_rawpty(int argc, char **argv)
{
	unsigned long bytes, chunk;
	struct writer w;
	struct reader r = { 0 };
	struct termios t;
	pthread_t tw, tr;
	char name[64];
	int ptm, pts;
	uint64_t t0;

	if (argc < 4 || parse_uint(argv[2], &bytes) < 0 ||
	    parse_uint(argv[3], &chunk) < 0 || !chunk)
		die("usage: rawpty BYTES CHUNK", EINVAL);
	ptm = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (ptm < 0 || grantpt(ptm) || unlockpt(ptm) ||
	    ptsname_r(ptm, name, sizeof(name)))
		die("posix_openpt", errno);
	pts = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (pts < 0 || tcgetattr(pts, &t) < 0)
		die(name, errno);
	cfmakeraw(&t);
	if (tcsetattr(pts, TCSANOW, &t) < 0)
		die("tcsetattr", errno);
	w = (struct writer){ .fd = ptm, .bytes = bytes, .chunk = chunk };
	r.fd = pts;
	t0 = now_ns();
	if (pthread_create(&tr, NULL, reader_main, &r) ||
	    pthread_create(&tw, NULL, writer_main, &w))
		die("pthread_create", errno);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	if (!r.done) {
		fprintf(stderr, "console_guest: rawpty: the end mark did not arrive\n");
		return 1;
	}
	report(&r, bytes, t0);
	return 0;
}

static int run_spam(int argc, char **argv)
{
	struct xs_handle *xs;
	unsigned long n;

	if (argc != 6 || parse_uint(argv[3], &n))
		die("usage: spam PATH N V1 V2", EINVAL);
	xs = xs_or_die();
	for (unsigned long i = 0; i < n; i++) {
		const char *v = argv[4 + (i & 1)];

		if (!xs_write(xs, XBT_NULL, argv[2], v, (unsigned)strlen(v)))
			die("xs_write", errno);
	}
	xs_close(xs);
	printf("spam %lu\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long domid, gfn, port;

	if (argc < 2)
		die("usage: guest|introduce|release|many|throughput|rawpty|spam ...", EINVAL);
	if (!strcmp(argv[1], "guest"))
		return run_guest(argc, argv);
	if (!strcmp(argv[1], "many"))
		return run_many(argc, argv);
	if (!strcmp(argv[1], "throughput"))
		return run_throughput(argc, argv);
	if (!strcmp(argv[1], "rawpty"))
		return run_rawpty(argc, argv);
	if (!strcmp(argv[1], "spam"))
		return run_spam(argc, argv);
	if (!strcmp(argv[1], "introduce") && argc == 5 &&
	    !parse_uint(argv[2], &domid) && !parse_uint(argv[3], &gfn) &&
	    !parse_uint(argv[4], &port)) {
		struct xs_handle *xs = xs_or_die();

		if (!xs_introduce_domain(xs, (unsigned)domid, gfn, (unsigned)port))
			die("xs_introduce_domain", errno);
		xs_close(xs);
		return 0;
	}
	if (!strcmp(argv[1], "release") && argc == 3 && !parse_uint(argv[2], &domid)) {
		struct xs_handle *xs = xs_or_die();

		if (!xs_release_domain(xs, (unsigned)domid))
			die("xs_release_domain", errno);
		xs_close(xs);
		return 0;
	}
	die("bad arguments", EINVAL);
}
