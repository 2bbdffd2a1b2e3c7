/* Benchmark of the hypervisor layer (sim), each figure beside a peer or
 * ceiling measured in the same run, as ratios (the machine is noisy):
 *
 *  1. event channels: notify round trips per second between a guest
 *     process and a backend process (ping-pong over two ports), beside
 *     raw eventfd and raw pipe round trips between two processes;
 *  2. grant map/unmap per second: pointer into the mapped domain (the
 *     default) beside an mmap per grant, and beside the bare mmap+munmap
 *     of a memfd page;
 *  3. grant copy MB/s, 4 KiB segments in batches of 32, both directions,
 *     beside memcpy of the same 4 KiB chunks;
 *  4. a Xen ring (RING_* from <xen/io/ring.h>) ping-pong between a guest
 *     and a backend process with event suppression and a bounded spin
 *     before sleeping (HV_RING_WAIT_*), for several spin budgets: round
 *     trips per second, notifications and CPU time per round trip.
 *
 * Each measurement runs BENCH_HV_REPS times (default 3) interleaved with
 * its peer; the median is printed.  BENCH_HV_QUICK=1 shortens everything.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pvd/hv.h"
#include "pvd/hv_sim.h"
#include "pvd/log.h"
#include "pvd/ring_util.h"

#define TIMEOUT_MS 20000
#define MAXREPS 9

struct bench_req { uint64_t id; uint64_t pad; };
struct bench_rsp { uint64_t id; uint64_t pad; };
DEFINE_RING_TYPES(bench, struct bench_req, struct bench_rsp);

/* Shared between the two processes of a measurement. */
struct xchg {
	uint32_t ready;          /* guest: domain, ports and grants are set up */
	uint32_t bound;          /* backend: bound (guest may start) */
	uint32_t done;           /* backend finished: guest may tear down */
	evtchn_port_t gport[2];
	grant_ref_t ring_ref;
	double guest_cpu, guest_wall;
	uint64_t guest_notifies;
	int guest_err;
};

/* Where the two processes of a measurement run. */
enum place { PLACE_CROSS, PLACE_SAME, PLACE_FREE };
static const char *const place_name[] = { "cross-CPU", "same CPU", "unpinned" };

struct cfg {
	char rundir[64];
	int ncpu;
	cpu_set_t orig;
	unsigned reps;
	unsigned rt_iters;       /* round trips per ping-pong run */
	double min_secs;         /* per throughput run */
	domid_t next_dom;
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_hv: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double now(void)
{
	return (double)hv_now_ns() * 1e-9;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void wait_flag(const uint32_t *flag, const char *what)
{
	double end = now() + TIMEOUT_MS / 1000.0;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (now() > end)
			die("timed out waiting for %s", what);
		usleep(200);
	}
}

static void set_flag(uint32_t *flag)
{
	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
}

/* Pins the calling process: the guest side to CPU 0, the backend side to
 * CPU 1 (or 0 for PLACE_SAME); PLACE_FREE restores the original mask. */
static void place_self(const struct cfg *c, enum place pl, int backend)
{
	cpu_set_t set;

	if (pl == PLACE_FREE || c->ncpu < 2) {
		sched_setaffinity(0, sizeof(c->orig), &c->orig);
		return;
	}
	CPU_ZERO(&set);
	CPU_SET(pl == PLACE_CROSS && backend ? 1 : 0, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity: %s", strerror(errno));
}

static struct xchg *xchg_new(void)
{
	struct xchg *x = mmap(NULL, sizeof(*x), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (x == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	memset(x, 0, sizeof(*x));
	return x;
}

static void reap(pid_t pid)
{
	double end = now() + TIMEOUT_MS / 1000.0;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0)
			die("waitpid: %s", strerror(errno));
		if (now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			die("child %d did not finish", (int)pid);
		}
		usleep(1000);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("child failed (status %#x)", st);
}

static struct hv *backend_open(const struct cfg *c, unsigned flags)
{
	struct hv_config hc = {
		.impl = "sim", .rundir = c->rundir, .flags = flags,
	};
	struct hv *hv;

	if (hv_open(&hv, &hc) < 0)
		die("hv_open failed");
	return hv;
}

/* Waits for one event on the guest's or the backend's handle and acks it. */
static void guest_wait_event(struct hv_sim_domain *dom)
{
	evtchn_port_t p;

	if (hv_sim_evtchn_wait(dom, TIMEOUT_MS) < 0)
		_exit(3);
	while (hv_sim_evtchn_pending(dom, &p) == 0)
		hv_sim_evtchn_unmask(dom, p);
}

static void backend_wait_event(struct hv *hv)
{
	evtchn_port_t p;

	if (hv_evtchn_wait(hv, TIMEOUT_MS) < 0)
		die("backend: no event within %d ms", TIMEOUT_MS);
	while (hv_evtchn_pending(hv, &p) == 0)
		hv_evtchn_unmask(hv, p);
}

/* ---------------------------------------------------------------------- */
/* 1. event channel round trips                                           */
/* ---------------------------------------------------------------------- */

static void fd_wait(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, TIMEOUT_MS) != 1)
		die("raw ping-pong stalled");
}

/* kind 0: eventfd, 1: pipe.  Returns round trips per second. */
static double raw_pingpong(const struct cfg *c, unsigned n, int kind,
			   enum place pl)
{
	int ping[2], pong[2];
	uint64_t v = 1;
	char b = 1;
	double t0, t;
	pid_t pid;

	if (kind == 0) {
		ping[0] = ping[1] = eventfd(0, 0);
		pong[0] = pong[1] = eventfd(0, 0);
		if (ping[0] < 0 || pong[0] < 0)
			die("eventfd: %s", strerror(errno));
	} else if (pipe(ping) < 0 || pipe(pong) < 0) {
		die("pipe: %s", strerror(errno));
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		place_self(c, pl, 0);
		alarm(TIMEOUT_MS / 1000 * 3);
		for (unsigned i = 0; i < n; i++) {
			if (kind == 0) {
				if (read(ping[0], &v, 8) != 8 || write(pong[1], &v, 8) != 8)
					_exit(2);
			} else if (read(ping[0], &b, 1) != 1 || write(pong[1], &b, 1) != 1) {
				_exit(2);
			}
		}
		_exit(0);
	}
	place_self(c, pl, 1);
	t0 = now();
	for (unsigned i = 0; i < n; i++) {
		if (kind == 0) {
			if (write(ping[1], &v, 8) != 8)
				die("write");
			fd_wait(pong[0]);
			if (read(pong[0], &v, 8) != 8)
				die("read");
		} else {
			if (write(ping[1], &b, 1) != 1)
				die("write");
			fd_wait(pong[0]);
			if (read(pong[0], &b, 1) != 1)
				die("read");
		}
	}
	t = now() - t0;
	place_self(c, PLACE_FREE, 1);
	reap(pid);
	close(ping[0]);
	close(pong[0]);
	if (kind == 1) {
		close(ping[1]);
		close(pong[1]);
	}
	return n / t;
}

/* Guest: notifies port 0 and waits for the backend's notify on port 1. */
static void guest_pingpong(struct cfg *c, struct xchg *x, domid_t domid,
			   enum place pl)
{
	struct hv_sim_domain *dom;
	double t0;

	place_self(c, pl, 0);
	alarm(TIMEOUT_MS / 1000 * 3);
	if (hv_sim_domain_create(c->rundir, domid, 16, &dom) < 0)
		_exit(2);
	for (int i = 0; i < 2; i++)
		if (hv_sim_evtchn_alloc_unbound(dom, 0, &x->gport[i]) < 0)
			_exit(2);
	set_flag(&x->ready);
	wait_flag(&x->bound, "backend bind");
	t0 = now();
	x->guest_cpu = cpu_now();
	for (unsigned i = 0; i < c->rt_iters; i++) {
		if (hv_sim_evtchn_notify(dom, x->gport[0]) < 0)
			_exit(4);
		guest_wait_event(dom);
	}
	x->guest_cpu = cpu_now() - x->guest_cpu;
	x->guest_wall = now() - t0;
	wait_flag(&x->done, "backend done");
	hv_sim_domain_destroy(dom);
	_exit(0);
}

static double hv_pingpong(struct cfg *c, enum place pl, double *cpu_per_rt)
{
	struct xchg *x = xchg_new();
	domid_t domid = c->next_dom++;
	evtchn_port_t bp[2];
	struct hv *hv;
	double cpu;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		guest_pingpong(c, x, domid, pl);
	wait_flag(&x->ready, "guest setup");
	hv = backend_open(c, 0);
	for (int i = 0; i < 2; i++)
		if (hv_evtchn_bind_interdomain(hv, domid, x->gport[i], &bp[i]) < 0)
			die("bind failed");
	place_self(c, pl, 1);
	cpu = cpu_now();
	set_flag(&x->bound);
	for (unsigned i = 0; i < c->rt_iters; i++) {
		evtchn_port_t p;

		if (hv_evtchn_wait(hv, TIMEOUT_MS) < 0)
			die("backend: no ping");
		while (hv_evtchn_pending(hv, &p) == 0)
			hv_evtchn_unmask(hv, p);
		if (hv_evtchn_notify(hv, bp[1]) < 0)
			die("notify failed");
	}
	cpu = cpu_now() - cpu;
	place_self(c, PLACE_FREE, 1);
	set_flag(&x->done);
	reap(pid);
	hv_close(hv);
	*cpu_per_rt = (cpu + x->guest_cpu) / c->rt_iters;
	cpu = c->rt_iters / x->guest_wall;
	munmap(x, sizeof(*x));
	return cpu;
}

/* The cost of a notify itself, with nobody waiting: hv_evtchn_notify
 * against an eventfd write and a pipe write (one process; the reader
 * drains every 64).  Nanoseconds per notify. */
static void notify_cost(struct cfg *c, double *efd_ns, double *pipe_ns,
			double *hv_ns)
{
	unsigned long n = 200000;
	struct hv_sim_domain *dom;
	evtchn_port_t gp, bp, p;
	int efd, pp[2];
	uint64_t v = 1;
	char buf[256];
	struct hv *hv;
	double t0;

	efd = eventfd(0, EFD_NONBLOCK);
	if (efd < 0 || pipe2(pp, O_NONBLOCK) < 0)
		die("eventfd/pipe: %s", strerror(errno));
	t0 = now();
	for (unsigned long i = 1; i <= n; i++) {
		if (write(efd, &v, 8) != 8)
			die("eventfd write: %s", strerror(errno));
		if (!(i & 63) && read(efd, buf, 8) != 8)
			die("eventfd read");
	}
	*efd_ns = (now() - t0) / n * 1e9;
	t0 = now();
	for (unsigned long i = 1; i <= n; i++) {
		if (write(pp[1], "!", 1) != 1)
			die("pipe write");
		if (!(i & 63) && read(pp[0], buf, sizeof(buf)) <= 0)
			die("pipe read");
	}
	*pipe_ns = (now() - t0) / n * 1e9;
	close(efd);
	close(pp[0]);
	close(pp[1]);

	if (hv_sim_domain_create(c->rundir, c->next_dom++, 4, &dom) < 0 ||
	    hv_sim_evtchn_alloc_unbound(dom, 0, &gp) < 0)
		die("domain setup failed");
	hv = backend_open(c, 0);
	if (hv_evtchn_bind_interdomain(hv, hv_sim_domain_id(dom), gp, &bp) < 0 ||
	    hv_sim_evtchn_notify(dom, gp) < 0)
		die("bind failed");
	t0 = now();
	for (unsigned long i = 1; i <= n; i++) {
		if (hv_evtchn_notify(hv, bp) < 0)
			die("notify failed");
		if (!(i & 63)) {
			while (hv_sim_evtchn_pending(dom, &p) == 0)
				hv_sim_evtchn_unmask(dom, p);
		}
	}
	*hv_ns = (now() - t0) / n * 1e9;
	hv_close(hv);
	hv_sim_domain_destroy(dom);
}

static void bench_evtchn(struct cfg *c)
{
	static const enum place pls[] = { PLACE_CROSS, PLACE_SAME };
	double ne[MAXREPS], np[MAXREPS], nh[MAXREPS], a;

	for (unsigned r = 0; r < c->reps; r++)
		notify_cost(c, &ne[r], &np[r], &nh[r]);
	a = median(ne, c->reps);
	printf("\n== event channels: the notify itself, nobody waiting "
	       "(reader drains every 64; median of %u) ==\n", c->reps);
	printf("  %-46s %7.0f ns  (peer)\n", "eventfd write", a);
	printf("  %-46s %7.0f ns  %5.2fx eventfd\n", "pipe write",
	       median(np, c->reps), median(np, c->reps) / a);
	printf("  %-46s %7.0f ns  %5.2fx eventfd\n", "hv_evtchn_notify (pipe, reader in epoll)",
	       median(nh, c->reps), median(nh, c->reps) / a);

	printf("\n== event channels: cross-process ping-pong, %u round trips, median of %u ==\n",
	       c->rt_iters, c->reps);
	fflush(stdout);
	for (unsigned k = 0; k < 2; k++) {
		double ev[MAXREPS], pp[MAXREPS], hv[MAXREPS], hcpu[MAXREPS];
		double mev, mpp, mhv;
		enum place pl = pls[k];

		for (unsigned r = 0; r < c->reps; r++) {
			ev[r] = raw_pingpong(c, c->rt_iters, 0, pl);
			pp[r] = raw_pingpong(c, c->rt_iters, 1, pl);
			hv[r] = hv_pingpong(c, pl, &hcpu[r]);
		}
		mev = median(ev, c->reps);
		mpp = median(pp, c->reps);
		mhv = median(hv, c->reps);
		printf("[%s]\n", place_name[pl]);
		printf("  %-46s %9.0f rt/s %7.1f us/rt  (peer)\n",
		       "raw eventfd, read/write", mev, 1e6 / mev);
		printf("  %-46s %9.0f rt/s %7.1f us/rt  %5.2fx eventfd\n",
		       "raw pipe, read/write", mpp, 1e6 / mpp, mpp / mev);
		printf("  %-46s %9.0f rt/s %7.1f us/rt  %5.2fx eventfd  cpu %.1f us/rt\n",
		       "hv evtchn: poll, pending, unmask, notify", mhv, 1e6 / mhv,
		       mhv / mev, median(hcpu, c->reps) * 1e6);
	}
}

/* ---------------------------------------------------------------------- */
/* 2. grant map/unmap                                                     */
/* ---------------------------------------------------------------------- */

#define NPG 64        /* pages of the map benchmark */
#define NPG_COLD 8192 /* 32 MiB: more than the last-level cache */

struct local_guest {
	struct hv_sim_domain *dom;
	unsigned n;
	unsigned long *pages;
	grant_ref_t *refs;
};

static void local_guest_setup(struct cfg *c, struct local_guest *g, unsigned n)
{
	g->n = n;
	g->pages = calloc(n, sizeof(*g->pages));
	g->refs = calloc(n, sizeof(*g->refs));
	if (!g->pages || !g->refs)
		die("alloc");
	if (hv_sim_domain_create(c->rundir, c->next_dom++, n + 8, &g->dom) < 0)
		die("domain create failed");
	for (unsigned i = 0; i < n; i++) {
		if (hv_sim_page_alloc(g->dom, &g->pages[i]) < 0)
			die("page alloc");
		g->refs[i] = 8 + i;
		memset(hv_sim_page(g->dom, g->pages[i]), (int)i, HV_PAGE_SIZE);
	}
	/* Grant in reverse, so that consecutive refs are not consecutive
	 * frames (a multi-page map then needs real remapping). */
	for (unsigned i = 0; i < n; i++)
		if (hv_sim_grant(g->dom, g->refs[i], g->pages[n - 1 - i], 0, 0) < 0)
			die("grant");
}

static void local_guest_free(struct local_guest *g)
{
	hv_sim_domain_destroy(g->dom);
	free(g->pages);
	free(g->refs);
}

/* Maps and unmaps count refs at a time (and reads a byte of each page if
 * touch); returns maps per second. */
static double map_rate(const struct cfg *c, struct hv *hv, domid_t dom,
		       const grant_ref_t *refs, unsigned count, int touch)
{
	volatile uint8_t sink = 0;
	unsigned long n = 0;
	double t0 = now(), t;

	do {
		for (unsigned k = 0; k < 256; k++, n++) {
			void *a;

			if (hv_grant_map(hv, dom, count,
					 &refs[(n * count) % (NPG - count + 1)], 1, &a) < 0)
				die("map failed");
			if (touch)
				for (unsigned i = 0; i < count; i++)
					sink += ((uint8_t *)a)[i * HV_PAGE_SIZE];
			if (hv_grant_unmap(hv, a, count) < 0)
				die("unmap failed");
		}
		t = now() - t0;
	} while (t < c->min_secs);
	(void)sink;
	return n / t;
}

static double raw_mmap_rate(const struct cfg *c, int fd, int touch)
{
	volatile uint8_t sink = 0;
	unsigned long n = 0;
	double t0 = now(), t;

	do {
		for (unsigned k = 0; k < 256; k++, n++) {
			uint8_t *a = mmap(NULL, HV_PAGE_SIZE, PROT_READ | PROT_WRITE,
					  MAP_SHARED, fd,
					  (off_t)(n % NPG) << HV_PAGE_SHIFT);

			if (a == MAP_FAILED)
				die("mmap: %s", strerror(errno));
			if (touch)
				sink += a[0];
			munmap(a, HV_PAGE_SIZE);
		}
		t = now() - t0;
	} while (t < c->min_secs);
	(void)sink;
	return n / t;
}

static void bench_map(struct cfg *c)
{
	struct local_guest g;
	struct hv *view, *per;
	domid_t dom;
	int memfd;
	double v1[MAXREPS], v1t[MAXREPS], p1[MAXREPS], p1t[MAXREPS];
	double raw[MAXREPS], rawt[MAXREPS], v8[MAXREPS], c8[MAXREPS];
	grant_ref_t contig[NPG];
	double mraw, mrawt;

	local_guest_setup(c, &g, NPG);
	dom = hv_sim_domain_id(g.dom);
	view = backend_open(c, 0);
	per = backend_open(c, HV_F_SIM_MAP_PER_GRANT);
	/* The bare syscall floor of an mmap-per-map design. */
	memfd = memfd_create("bench", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, NPG * HV_PAGE_SIZE) < 0)
		die("memfd");
	/* Refs whose frames are consecutive: the guest's pages in order. */
	for (unsigned i = 0; i < NPG; i++)
		contig[i] = g.refs[NPG - 1 - i];
	for (unsigned r = 0; r < c->reps; r++) {
		v1[r] = map_rate(c, view, dom, g.refs, 1, 0);
		v1t[r] = map_rate(c, view, dom, g.refs, 1, 1);
		p1[r] = map_rate(c, per, dom, g.refs, 1, 0);
		p1t[r] = map_rate(c, per, dom, g.refs, 1, 1);
		raw[r] = raw_mmap_rate(c, memfd, 0);
		rawt[r] = raw_mmap_rate(c, memfd, 1);
		v8[r] = map_rate(c, view, dom, g.refs, 8, 1);
		c8[r] = map_rate(c, view, dom, contig, 8, 1);
	}
	mraw = median(raw, c->reps);
	mrawt = median(rawt, c->reps);
	printf("\n== grant map+unmap (one process; per second, median of %u) ==\n",
	       c->reps);
	printf("%-44s %10.0f /s  (peer)\n", "bare mmap+munmap of a memfd page", mraw);
	printf("%-44s %10.0f /s  (peer)\n", "bare mmap+touch+munmap", mrawt);
	printf("%-44s %10.0f /s  %6.1fx bare mmap\n", "hv map+unmap 1 page (view, default)",
	       median(v1, c->reps), median(v1, c->reps) / mraw);
	printf("%-44s %10.0f /s  %6.1fx bare mmap+touch\n", "hv map+touch+unmap 1 page (view)",
	       median(v1t, c->reps), median(v1t, c->reps) / mrawt);
	printf("%-44s %10.0f /s  %6.2fx bare mmap\n", "hv map+unmap 1 page (mmap per grant)",
	       median(p1, c->reps), median(p1, c->reps) / mraw);
	printf("%-44s %10.0f /s  %6.2fx bare mmap+touch\n",
	       "hv map+touch+unmap 1 page (mmap per grant)",
	       median(p1t, c->reps), median(p1t, c->reps) / mrawt);
	printf("%-44s %10.0f /s  %6.2fx bare mmap+touch (per map)\n",
	       "hv map+touch+unmap 8 scattered pages", median(v8, c->reps),
	       median(v8, c->reps) / mrawt);
	printf("%-44s %10.0f /s  %6.1fx bare mmap+touch (per map)\n",
	       "hv map+touch+unmap 8 consecutive frames", median(c8, c->reps),
	       median(c8, c->reps) / mrawt);
	close(memfd);
	hv_close(per);
	hv_close(view);
	local_guest_free(&g);
}

/* ---------------------------------------------------------------------- */
/* 3. grant copy                                                          */
/* ---------------------------------------------------------------------- */

#define BATCH 32

static double copy_rate(const struct cfg *c, struct hv *hv, struct local_guest *g,
			uint8_t *local, int dir)
{
	struct hv_copy_seg segs[BATCH];
	domid_t dom = hv_sim_domain_id(g->dom);
	unsigned long n = 0;
	double t0 = now(), t;

	do {
		for (unsigned k = 0; k < 64; k++, n++) {
			for (unsigned i = 0; i < BATCH; i++) {
				unsigned pg = (unsigned)((n * BATCH + i) % g->n);

				segs[i] = (struct hv_copy_seg){
					.ref = g->refs[pg], .domid = dom,
					.len = HV_PAGE_SIZE, .dir = (uint16_t)dir,
					.local = local + (size_t)pg * HV_PAGE_SIZE,
				};
			}
			if (hv_grant_copy(hv, segs, BATCH) < 0)
				die("grant copy failed");
		}
		t = now() - t0;
	} while (t < c->min_secs);
	return (double)n * BATCH * HV_PAGE_SIZE / t / 1e6;
}

static double memcpy_rate(const struct cfg *c, struct local_guest *g,
			  uint8_t *local, int dir)
{
	unsigned long n = 0;
	double t0 = now(), t;

	do {
		for (unsigned k = 0; k < 64; k++, n++) {
			for (unsigned i = 0; i < BATCH; i++) {
				unsigned pg = (unsigned)((n * BATCH + i) % g->n);
				uint8_t *gp = hv_sim_page(g->dom, g->pages[g->n - 1 - pg]);
				uint8_t *lp = local + (size_t)pg * HV_PAGE_SIZE;

				if (dir == HV_COPY_TO_GRANT)
					memcpy(gp, lp, HV_PAGE_SIZE);
				else
					memcpy(lp, gp, HV_PAGE_SIZE);
			}
			__asm__ __volatile__("" ::: "memory");
		}
		t = now() - t0;
	} while (t < c->min_secs);
	return (double)n * BATCH * HV_PAGE_SIZE / t / 1e6;
}

static void bench_copy_set(struct cfg *c, unsigned npages)
{
	double mf[MAXREPS], mt[MAXREPS], cf[MAXREPS], ct[MAXREPS];
	struct local_guest g;
	uint8_t *local;
	struct hv *hv;
	double a, b;

	local_guest_setup(c, &g, npages);
	hv = backend_open(c, 0);
	local = aligned_alloc(HV_PAGE_SIZE, (size_t)npages * HV_PAGE_SIZE);
	if (!local)
		die("alloc");
	memset(local, 7, (size_t)npages * HV_PAGE_SIZE);
	for (unsigned r = 0; r < c->reps; r++) {
		mf[r] = memcpy_rate(c, &g, local, HV_COPY_FROM_GRANT);
		cf[r] = copy_rate(c, hv, &g, local, HV_COPY_FROM_GRANT);
		mt[r] = memcpy_rate(c, &g, local, HV_COPY_TO_GRANT);
		ct[r] = copy_rate(c, hv, &g, local, HV_COPY_TO_GRANT);
	}
	printf("[%u pages = %u KiB each side]\n", npages, npages * 4);
	a = median(mf, c->reps);
	b = median(cf, c->reps);
	printf("  %-42s %9.0f MB/s  (peer, %.0f ns/page)\n",
	       "memcpy 4 KiB, guest page -> local", a, HV_PAGE_SIZE / a * 1e3);
	printf("  %-42s %9.0f MB/s  %5.2fx memcpy  (%.0f ns/page)\n",
	       "hv_grant_copy from grant", b, b / a, HV_PAGE_SIZE / b * 1e3);
	a = median(mt, c->reps);
	b = median(ct, c->reps);
	printf("  %-42s %9.0f MB/s  (peer, %.0f ns/page)\n",
	       "memcpy 4 KiB, local -> guest page", a, HV_PAGE_SIZE / a * 1e3);
	printf("  %-42s %9.0f MB/s  %5.2fx memcpy  (%.0f ns/page)\n",
	       "hv_grant_copy to grant", b, b / a, HV_PAGE_SIZE / b * 1e3);
	free(local);
	hv_close(hv);
	local_guest_free(&g);
}

static void bench_copy(struct cfg *c)
{
	printf("\n== grant copy: 4 KiB segments, batches of %u (MB/s, median of %u) ==\n",
	       BATCH, c->reps);
	bench_copy_set(c, NPG);
	bench_copy_set(c, NPG_COLD);
}

/* ---------------------------------------------------------------------- */
/* 4. ring ping-pong with event suppression and busy-poll                  */
/* ---------------------------------------------------------------------- */

static void guest_ring(struct cfg *c, struct xchg *x, domid_t domid,
		       uint32_t spin_ns, enum place pl, uint32_t pace_ns)
{
	unsigned iters = pace_ns ? c->rt_iters / 10 : c->rt_iters;
	struct bench_front_ring front;
	struct bench_sring *sring;
	struct hv_sim_domain *dom;
	unsigned long page;
	uint64_t notifies = 0;
	double t0;

	place_self(c, pl, 0);
	alarm(TIMEOUT_MS / 1000 * 3);
	if (hv_sim_domain_create(c->rundir, domid, 16, &dom) < 0 ||
	    hv_sim_page_alloc(dom, &page) < 0 ||
	    hv_sim_grant(dom, 8, page, 0, 0) < 0 ||
	    hv_sim_evtchn_alloc_unbound(dom, 0, &x->gport[0]) < 0)
		_exit(2);
	sring = hv_sim_page(dom, page);
	SHARED_RING_INIT(sring);
	FRONT_RING_INIT(&front, sring, HV_PAGE_SIZE);
	x->ring_ref = 8;
	set_flag(&x->ready);
	wait_flag(&x->bound, "backend bind");
	t0 = now();
	x->guest_cpu = cpu_now();
	for (unsigned i = 0; i < iters; i++) {
		struct bench_req *req = RING_GET_REQUEST(&front, front.req_prod_pvt);
		struct bench_rsp *rsp;

		req->id = i;
		front.req_prod_pvt++;
		if (HV_RING_PUSH_REQUESTS(&front, (notifies++,
		    hv_sim_evtchn_notify(dom, x->gport[0]))) < 0)
			_exit(4);
		while (!HV_RING_WAIT_RESPONSES(&front, spin_ns))
			guest_wait_event(dom);
		xen_rmb();
		rsp = RING_GET_RESPONSE(&front, front.rsp_cons);
		if (rsp->id != i) {
			x->guest_err = 1;
			_exit(5);
		}
		front.rsp_cons++;
		if (pace_ns) {
			/* An idle gap: the other side's spin cannot succeed. */
			struct timespec ts = { 0, (long)pace_ns };

			nanosleep(&ts, NULL);
		}
	}
	x->guest_cpu = cpu_now() - x->guest_cpu;
	x->guest_wall = now() - t0;
	x->guest_notifies = notifies;
	wait_flag(&x->done, "backend done");
	hv_sim_domain_destroy(dom);
	_exit(0);
}

struct ring_result {
	double rate, cpu_per_rt, notifies_per_rt;
};

static void ring_pingpong(struct cfg *c, uint32_t spin_ns, enum place pl,
			  uint32_t pace_ns, struct ring_result *res)
{
	unsigned iters = pace_ns ? c->rt_iters / 10 : c->rt_iters;
	struct xchg *x = xchg_new();
	domid_t domid = c->next_dom++;
	struct bench_back_ring back;
	uint64_t notifies = 0;
	unsigned done = 0;
	evtchn_port_t bp;
	struct hv *hv;
	void *ring;
	double cpu;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		guest_ring(c, x, domid, spin_ns, pl, pace_ns);
	wait_flag(&x->ready, "guest setup");
	hv = backend_open(c, 0);
	if (hv_evtchn_bind_interdomain(hv, domid, x->gport[0], &bp) < 0 ||
	    hv_grant_map(hv, domid, 1, &x->ring_ref, 1, &ring) < 0)
		die("backend connect failed");
	BACK_RING_INIT(&back, (struct bench_sring *)ring, HV_PAGE_SIZE);
	place_self(c, pl, 1);
	cpu = cpu_now();
	set_flag(&x->bound);
	while (done < iters) {
		if (!HV_RING_WAIT_REQUESTS(&back, spin_ns)) {
			backend_wait_event(hv);
			continue;
		}
		xen_rmb();
		while (RING_HAS_UNCONSUMED_REQUESTS(&back)) {
			struct bench_req req = *RING_GET_REQUEST(&back, back.req_cons);
			struct bench_rsp *rsp = RING_GET_RESPONSE(&back, back.rsp_prod_pvt);

			back.req_cons++;
			rsp->id = req.id;
			back.rsp_prod_pvt++;
			done++;
		}
		if (HV_RING_PUSH_RESPONSES(&back, (notifies++,
		    hv_evtchn_notify(hv, bp))) < 0)
			die("notify failed");
	}
	cpu = cpu_now() - cpu;
	place_self(c, PLACE_FREE, 1);
	set_flag(&x->done);
	reap(pid);
	hv_grant_unmap(hv, ring, 1);
	hv_close(hv);
	res->rate = iters / x->guest_wall;
	res->cpu_per_rt = (cpu + x->guest_cpu) / iters;
	res->notifies_per_rt = (double)(notifies + x->guest_notifies) / iters;
	munmap(x, sizeof(*x));
}

static void bench_ring(struct cfg *c)
{
	/* pace: the guest sleeps that long between round trips, so that
	 * spinning never finds work: what a spin costs on an idle ring. */
	static const struct { uint32_t spin; enum place pl; uint32_t pace; } runs[] = {
		{ 0, PLACE_CROSS, 0 }, { 5000, PLACE_CROSS, 0 },
		{ HV_SPIN_NS_DEFAULT, PLACE_CROSS, 0 }, { 50000, PLACE_CROSS, 0 },
		{ 0, PLACE_SAME, 0 }, { HV_SPIN_NS_DEFAULT, PLACE_SAME, 0 },
		{ 0, PLACE_FREE, 0 }, { HV_SPIN_NS_DEFAULT, PLACE_FREE, 0 },
		{ 0, PLACE_CROSS, 200000 }, { HV_SPIN_NS_DEFAULT, PLACE_CROSS, 200000 },
		{ 50000, PLACE_CROSS, 200000 },
	};
	enum { NR = sizeof(runs) / sizeof(runs[0]) };
	struct ring_result rr[NR][MAXREPS];
	double base = 0, base_cpu = 0;

	for (unsigned r = 0; r < c->reps; r++) {
		for (unsigned k = 0; k < NR; k++)
			ring_pingpong(c, runs[k].spin, runs[k].pl, runs[k].pace,
				      &rr[k][r]);
	}
	printf("\n== ring ping-pong (RING_* macros), guest <-> backend process, event "
	       "suppression + spin, %u round trips, median of %u ==\n",
	       c->rt_iters, c->reps);
	for (unsigned k = 0; k < NR; k++) {
		double rate[MAXREPS], cpu[MAXREPS], nt[MAXREPS];
		double mr, mc, mn;
		char name[64];

		for (unsigned r = 0; r < c->reps; r++) {
			rate[r] = rr[k][r].rate;
			cpu[r] = rr[k][r].cpu_per_rt;
			nt[r] = rr[k][r].notifies_per_rt;
		}
		mr = median(rate, c->reps);
		mc = median(cpu, c->reps);
		mn = median(nt, c->reps);
		snprintf(name, sizeof(name), "%s, spin %u us%s", place_name[runs[k].pl],
			 runs[k].spin / 1000, runs[k].pace ? ", 200 us gaps" : "");
		if (!runs[k].pace) {
			if (k == 0)
				base = mr;
			printf("  %-40s %9.0f rt/s %7.1f us/rt %7.2fx cross spin 0  "
			       "cpu %6.1f us/rt  %.2f notifies/rt\n",
			       name, mr, 1e6 / mr, mr / base, mc * 1e6, mn);
			continue;
		}
		if (runs[k].spin == 0) {
			base_cpu = mc;
			printf("  (with 200 us gaps between round trips, %u of them: spinning "
			       "never finds work; what it costs)\n", c->rt_iters / 10);
		}
		printf("  %-40s %9.0f rt/s %7.1f us/rt  cpu %6.1f us/rt %5.2fx cpu of spin 0  "
		       "%.2f notifies/rt\n", name, mr, 1e6 / mr, mc * 1e6,
		       base_cpu > 0 ? mc / base_cpu : 0, mn);
	}
}

/* ---------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* The run directory goes away however the benchmark ends (die() exits);
 * atexit handlers take no argument, hence this one static. */
static struct {
	char dir[64];
	pid_t owner;
} cleanup;

static void remove_rundir(void)
{
	if (cleanup.dir[0] && getpid() == cleanup.owner)
		nftw(cleanup.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
	const char *quick = getenv("BENCH_HV_QUICK");
	const char *reps = getenv("BENCH_HV_REPS");
	const char *only = argc > 1 ? argv[1] : "all";
	const char *base;
	struct cfg c = { .reps = 3, .rt_iters = 20000, .min_secs = 0.3,
			 .next_dom = 100 };

	log_init("bench_hv", LOG_LVL_WARN, NULL);
	c.ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (sched_getaffinity(0, sizeof(c.orig), &c.orig) < 0)
		die("sched_getaffinity: %s", strerror(errno));
	if (quick && *quick == '1') {
		c.reps = 1;
		c.rt_iters = 2000;
		c.min_secs = 0.05;
	}
	if (reps)
		c.reps = (unsigned)atoi(reps);
	if (c.reps < 1 || c.reps > MAXREPS)
		die("BENCH_HV_REPS must be 1..%d", MAXREPS);
	base = getenv("PVD_RUNDIR");
	if (snprintf(c.rundir, sizeof(c.rundir), "%s/pvd-bench-hv.XXXXXX",
		     base && *base ? base : "/tmp") >= (int)sizeof(c.rundir))
		die("PVD_RUNDIR too long");
	if (!mkdtemp(c.rundir))
		die("mkdtemp: %s", strerror(errno));
	memcpy(cleanup.dir, c.rundir, sizeof(cleanup.dir));
	cleanup.owner = getpid();
	atexit(remove_rundir);
	printf("bench_hv: sim hypervisor layer, %ld CPUs, run dir %s\n",
	       sysconf(_SC_NPROCESSORS_ONLN), c.rundir);
	fflush(stdout);
	if (!strcmp(only, "all") || !strcmp(only, "evtchn"))
		bench_evtchn(&c);
	fflush(stdout);
	if (!strcmp(only, "all") || !strcmp(only, "map"))
		bench_map(&c);
	fflush(stdout);
	if (!strcmp(only, "all") || !strcmp(only, "copy"))
		bench_copy(&c);
	fflush(stdout);
	if (!strcmp(only, "all") || !strcmp(only, "ring"))
		bench_ring(&c);
	return 0;
}
