/* blkfront_test: a small block frontend for pvd-blkback's integration
 * tests and benchmarks, playing both the toolstack and the guest.
 *
 * It creates a simulated domain (hv_sim), writes the backend and frontend
 * directories through libxenstore as dom0 (with the owners a toolstack
 * would set), grants its ring and buffers, and follows the xenbus
 * handshake.  Then it runs commands, in order, in one process (the
 * domain lives as long as the process):
 *
 *   attach                 connect (InitWait -> Initialised -> Connected)
 *   attach-fail            connect, expect the backend to refuse: Closing
 *                          and an error node (printed)
 *   verify                 writes, reads back and compares: many shapes
 *                          (partial pages, 11 segments, indirect), flush,
 *                          barrier, discard, out-of-range
 *   discard-edge           discards past the end (from the last sector,
 *                          at the end, sector + nr wrapping) refused and
 *                          harmless; then one ending at the end done
 *   bench RW BS QD SECS    RW: randread randwrite read write; prints
 *                          "bench ... iops=N mbps=N lat_us=N"
 *   flushwrite N LOG       writes block i then flushes, for i < N; appends
 *                          i to LOG after each acknowledged flush (then
 *                          sleeps --pace-us); then reads everything back
 *   filecheck PATH LOG     every block in LOG holds its data in PATH
 *   flip N                 with writes in flight, flips the frontend
 *                          Closing/Connected N times, then closes
 *   restart                Closing, Closed, Initialising, new rings,
 *                          Connected (a frontend restarting)
 *   expect-sectors N       waits for the backend's sectors to be N
 *   expect-state S         waits for the backend's state to be S
 *   state-spam N S         a hostile frontend: writes state S (nonsense)
 *                          N times, then Closed; once the backend is
 *                          Closed (it has seen them all), prints how many
 *                          times it wrote the device's error node
 *   close                  Closing, Closed, and leaves the directories
 *                          (a toolstack's to remove: test_blkback_xlscript)
 *   detach                 Closing, Closed, removes both directories
 *   ctl CMD                one command on pvd-blkback's control socket
 *   xl-remove force|auto BE FE
 *                          libxl's device removal transaction (4.17's
 *                          libxl__initiate_device_generic_remove): force
 *                          removes FE; online=0; state Closing unless
 *                          Closed.  No domain needed
 *
 * Every wait is bounded (--timeout).  Exit status 0 on success.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "pvd/hv_sim.h"
#include "pvd/num.h"
#include "pvd/ring_util.h"
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#define MAX_Q 16
#define MAX_SETS 16
#define FIRST_REF 16

struct cfg {
	unsigned domid, devid;
	const char *params, *mode;
	bool toolstack;
	unsigned queues, order, slots, maxseg_want;
	int persistent;
	unsigned timeout_ms, spin_ns, pace_us;
	uint64_t seed;
	const char *sets[MAX_SETS];
	unsigned nsets;
};

struct fslot {
	bool busy, done;
	int16_t status;
	uint8_t op;
	uint64_t t0;
	unsigned long *pages;
	grant_ref_t *grefs;
	unsigned long ind_page;
	grant_ref_t ind_gref;
};

struct fq {
	blkif_front_ring_t ring;
	unsigned long ring_page;
	grant_ref_t refs[16];
	evtchn_port_t port;
	struct fslot *slots;
	unsigned nslots, inflight;
};

struct front {
	struct cfg c;
	struct xs_handle *xs;
	struct hv_sim_domain *dom;
	char be[128], fe[128];
	grant_ref_t next_ref;
	unsigned nq, maxseg, ring_pages;
	struct fq q[MAX_Q];
	uint64_t sectors;
	unsigned max_indirect, be_max_order, be_max_queues;
	bool feat_discard, feat_persistent;
	bool connected;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "blkfront_test: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* A number on our command line: decimal, at most max. */
static uint64_t num(const char *what, const char *v, uint64_t max)
{
	uint64_t n;

	if (pvd_parse_uint(v, max, &n) < 0)
		die("%s: want a number up to %" PRIu64 ", got %s", what, max, v);
	return n;
}

static uint64_t now_ms(void)
{
	return hv_now_ns() / 1000000u;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ------------------------------------------------------------- store */

static char *xread(struct front *f, const char *dir, const char *node)
{
	char path[256];
	unsigned len;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	return xs_read(f->xs, XBT_NULL, path, &len);
}

static long long xread_num(struct front *f, const char *dir, const char *node,
			   long long dflt)
{
	char *v = xread(f, dir, node);
	long long n = dflt;

	if (v) {
		uint64_t u;

		if (pvd_parse_uint(v, INT64_MAX, &u) == 0)
			n = (long long)u;
		free(v);
	}
	return n;
}

static void xwrite(struct front *f, xs_transaction_t t, const char *dir,
		   const char *node, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void xwrite(struct front *f, xs_transaction_t t, const char *dir,
		   const char *node, const char *fmt, ...)
{
	char path[256], val[256];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (!xs_write(f->xs, t, path, val, (unsigned)strlen(val)))
		die("xs_write %s: %s", path, strerror(errno));
}

static void fe_state(struct front *f, int state)
{
	xwrite(f, XBT_NULL, f->fe, "state", "%d", state);
}

/* Waits for the backend's state to be want; false on timeout. */
static bool wait_be_state(struct front *f, int want, int *seen)
{
	uint64_t end = now_ms() + f->c.timeout_ms;
	int st = -1;

	do {
		st = (int)xread_num(f, f->be, "state", -1);
		if (st == want)
			break;
		usleep(2000);
	} while (now_ms() < end);
	if (seen)
		*seen = st;
	return st == want;
}

static void need_be_state(struct front *f, int want)
{
	int st;

	if (!wait_be_state(f, want, &st))
		die("backend state %d, expected %d, after %u ms", st, want,
		    f->c.timeout_ms);
}

static void set_perms(struct front *f, const char *path, unsigned owner,
		      unsigned reader)
{
	struct xs_permissions p[2] = {
		{ .id = owner, .perms = XS_PERM_NONE },
		{ .id = reader, .perms = XS_PERM_READ },
	};

	if (!xs_set_permissions(f->xs, XBT_NULL, path, p, 2))
		die("xs_set_permissions %s: %s", path, strerror(errno));
}

/* What a toolstack does for a disk: both directories, one transaction. */
static void toolstack_create(struct front *f)
{
	for (int tries = 0; tries < 16; tries++) {
		xs_transaction_t t = xs_transaction_start(f->xs);

		if (t == XBT_NULL)
			die("xs_transaction_start: %s", strerror(errno));
		xwrite(f, t, f->be, "frontend", "%s", f->fe);
		xwrite(f, t, f->be, "frontend-id", "%u", f->c.domid);
		xwrite(f, t, f->be, "params", "%s", f->c.params);
		xwrite(f, t, f->be, "mode", "%s", f->c.mode);
		xwrite(f, t, f->be, "type", "phy");
		xwrite(f, t, f->be, "online", "1");
		xwrite(f, t, f->be, "state", "%d", XenbusStateInitialising);
		xwrite(f, t, f->fe, "backend", "%s", f->be);
		xwrite(f, t, f->fe, "backend-id", "0");
		xwrite(f, t, f->fe, "virtual-device", "%u", f->c.devid);
		xwrite(f, t, f->fe, "state", "%d", XenbusStateInitialising);
		if (xs_transaction_end(f->xs, t, false))
			break;
		if (errno != EAGAIN)
			die("xs_transaction_end: %s", strerror(errno));
	}
	set_perms(f, f->be, 0, f->c.domid);
	set_perms(f, f->fe, f->c.domid, 0);
}

/* ------------------------------------------------------------- guest */

static grant_ref_t grant(struct front *f, unsigned long page, int readonly)
{
	grant_ref_t ref = f->next_ref++;
	int rc;

	if (ref >= HV_SIM_NR_GRANTS)
		die("out of grant references");
	rc = hv_sim_grant(f->dom, ref, page, 0, readonly);
	if (rc < 0)
		die("grant %u: %s", ref, strerror(-rc));
	return ref;
}

static unsigned long page_alloc(struct front *f)
{
	unsigned long p;
	int rc = hv_sim_page_alloc(f->dom, &p);

	if (rc < 0)
		die("page alloc: %s", strerror(-rc));
	return p;
}

static void slots_setup(struct front *f, struct fq *q)
{
	q->nslots = f->c.slots < RING_SIZE(&q->ring) ? f->c.slots
						      : RING_SIZE(&q->ring);
	q->slots = calloc(q->nslots, sizeof(*q->slots));
	if (!q->slots)
		die("out of memory");
	for (unsigned i = 0; i < q->nslots; i++) {
		struct fslot *s = &q->slots[i];

		s->pages = calloc(f->maxseg, sizeof(*s->pages));
		s->grefs = calloc(f->maxseg, sizeof(*s->grefs));
		if (!s->pages || !s->grefs)
			die("out of memory");
		for (unsigned j = 0; j < f->maxseg; j++) {
			s->pages[j] = page_alloc(f);
			s->grefs[j] = grant(f, s->pages[j], 0);
		}
		if (f->maxseg > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
			s->ind_page = page_alloc(f);
			s->ind_gref = grant(f, s->ind_page, 1);
		}
	}
}

/* A new ring (pages consecutive in guest memory) and event channel. */
static void ring_setup(struct front *f, struct fq *q)
{
	unsigned long first = 0;
	blkif_sring_t *sring;
	int rc;

	for (unsigned i = 0; i < f->ring_pages; i++) {
		unsigned long p = page_alloc(f);

		if (i == 0)
			first = p;
		else if (p != first + i)
			die("ring pages not consecutive");
		q->refs[i] = grant(f, p, 0);
	}
	q->ring_page = first;
	sring = hv_sim_page(f->dom, first);
	memset(sring, 0, (size_t)f->ring_pages * HV_PAGE_SIZE);
	SHARED_RING_INIT(sring);
	FRONT_RING_INIT(&q->ring, sring, (size_t)f->ring_pages * HV_PAGE_SIZE);
	rc = hv_sim_evtchn_alloc_unbound(f->dom, 0, &q->port);
	if (rc < 0)
		die("evtchn_alloc_unbound: %s", strerror(-rc));
	q->inflight = 0;
}

static void write_ring_nodes(struct front *f, xs_transaction_t t,
			     const char *dir, struct fq *q)
{
	xwrite(f, t, dir, "event-channel", "%u", q->port);
	if (f->c.order == 0) {
		xwrite(f, t, dir, "ring-ref", "%u", q->refs[0]);
		return;
	}
	for (unsigned i = 0; i < f->ring_pages; i++) {
		char node[24];

		snprintf(node, sizeof(node), "ring-ref%u", i);
		xwrite(f, t, dir, node, "%u", q->refs[i]);
	}
}

static void write_front_nodes(struct front *f)
{
	for (int tries = 0; tries < 16; tries++) {
		xs_transaction_t t = xs_transaction_start(f->xs);

		if (t == XBT_NULL)
			die("xs_transaction_start: %s", strerror(errno));
		if (f->nq == 1) {
			write_ring_nodes(f, t, f->fe, &f->q[0]);
		} else {
			xwrite(f, t, f->fe, "multi-queue-num-queues", "%u", f->nq);
			for (unsigned i = 0; i < f->nq; i++) {
				char dir[160];

				snprintf(dir, sizeof(dir), "%s/queue-%u", f->fe, i);
				write_ring_nodes(f, t, dir, &f->q[i]);
			}
		}
		if (f->c.order)
			xwrite(f, t, f->fe, "ring-page-order", "%u", f->c.order);
		xwrite(f, t, f->fe, "protocol", "%s", XEN_IO_PROTO_ABI_NATIVE);
		xwrite(f, t, f->fe, "feature-persistent", "%d",
		       f->c.persistent && f->feat_persistent);
		for (unsigned i = 0; i < f->c.nsets; i++) {
			char node[64];
			const char *eq = strchr(f->c.sets[i], '=');

			snprintf(node, sizeof(node), "%.*s",
				 (int)(eq - f->c.sets[i]), f->c.sets[i]);
			xwrite(f, t, f->fe, node, "%s", eq + 1);
		}
		xwrite(f, t, f->fe, "state", "%d", XenbusStateInitialised);
		if (xs_transaction_end(f->xs, t, false))
			return;
		if (errno != EAGAIN)
			die("xs_transaction_end: %s", strerror(errno));
	}
	die("transaction kept failing");
}

static void read_features(struct front *f)
{
	f->be_max_order = (unsigned)xread_num(f, f->be, "max-ring-page-order", 0);
	f->be_max_queues = (unsigned)xread_num(f, f->be, "multi-queue-max-queues", 1);
	f->max_indirect = (unsigned)xread_num(f, f->be, "feature-max-indirect-segments", 0);
	f->feat_persistent = xread_num(f, f->be, "feature-persistent", 0) == 1;
	f->feat_discard = xread_num(f, f->be, "feature-discard", 0) == 1;
}

/* Frontend side of the handshake, once the backend is in InitWait. */
static void connect_rings(struct front *f, bool expect_ok)
{
	need_be_state(f, XenbusStateInitWait);
	read_features(f);
	if (!f->q[0].slots) {
		unsigned m = f->c.maxseg_want;

		if (!m)
			m = f->max_indirect ? f->max_indirect : BLKIF_MAX_SEGMENTS_PER_REQUEST;
		if (m > f->max_indirect && m > BLKIF_MAX_SEGMENTS_PER_REQUEST)
			m = f->max_indirect > BLKIF_MAX_SEGMENTS_PER_REQUEST ?
			    f->max_indirect : BLKIF_MAX_SEGMENTS_PER_REQUEST;
		f->maxseg = m > 256 ? 256 : m;
	}
	f->ring_pages = 1u << (f->c.order > 4 ? 4 : f->c.order);
	f->nq = f->c.queues > MAX_Q ? MAX_Q : (f->c.queues ? f->c.queues : 1);
	for (unsigned i = 0; i < f->nq; i++) {
		ring_setup(f, &f->q[i]);
		if (!f->q[i].slots)
			slots_setup(f, &f->q[i]);
	}
	write_front_nodes(f);
	if (!expect_ok)
		return;
	need_be_state(f, XenbusStateConnected);
	f->sectors = (uint64_t)xread_num(f, f->be, "sectors", 0);
	fe_state(f, XenbusStateConnected);
	f->connected = true;
}

/* ------------------------------------------------------------- I/O */

static void pending_drain(struct front *f)
{
	evtchn_port_t p;

	while (hv_sim_evtchn_pending(f->dom, &p) == 0)
		hv_sim_evtchn_unmask(f->dom, p);
}

static void *sect_ptr(struct front *f, struct fslot *s, unsigned boff,
		      unsigned k)
{
	unsigned idx = boff + k;

	return (char *)hv_sim_page(f->dom, s->pages[idx / 8]) + (idx % 8) * 512;
}

/* Queues (does not push) a request on q; data is the slot's buffer from
 * sector boff of its first page. */
static void put_req(struct front *f, struct fq *q, struct fslot *s,
		    uint8_t op, uint64_t sector, unsigned nsec, unsigned boff)
{
	unsigned nseg = nsec ? (boff + nsec + 7) / 8 : 0;
	RING_IDX i = q->ring.req_prod_pvt++;
	uint64_t id = (uint64_t)(s - q->slots);

	if (nseg > f->maxseg)
		die("request of %u segments, max %u", nseg, f->maxseg);
	if (op == BLKIF_OP_DISCARD) {
		blkif_request_discard_t *d = (void *)RING_GET_REQUEST(&q->ring, i);

		d->operation = op;
		d->flag = 0;
		d->handle = (blkif_vdev_t)f->c.devid;
		d->id = id;
		d->sector_number = sector;
		d->nr_sectors = nsec;
	} else if (nseg <= BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		blkif_request_t *r = RING_GET_REQUEST(&q->ring, i);

		r->operation = op;
		r->nr_segments = (uint8_t)nseg;
		r->handle = (blkif_vdev_t)f->c.devid;
		r->id = id;
		r->sector_number = sector;
		for (unsigned j = 0; j < nseg; j++) {
			r->seg[j].gref = s->grefs[j];
			r->seg[j].first_sect = (uint8_t)(j ? 0 : boff);
			r->seg[j].last_sect = (uint8_t)(j + 1 < nseg ? 7 :
						       (boff + nsec - 1) % 8);
		}
	} else {
		blkif_request_indirect_t *r = (void *)RING_GET_REQUEST(&q->ring, i);
		struct blkif_request_segment *sg = hv_sim_page(f->dom, s->ind_page);

		for (unsigned j = 0; j < nseg; j++) {
			sg[j].gref = s->grefs[j];
			sg[j].first_sect = (uint8_t)(j ? 0 : boff);
			sg[j].last_sect = (uint8_t)(j + 1 < nseg ? 7 :
						   (boff + nsec - 1) % 8);
		}
		r->operation = BLKIF_OP_INDIRECT;
		r->indirect_op = op;
		r->nr_segments = (uint16_t)nseg;
		r->id = id;
		r->sector_number = sector;
		r->handle = (blkif_vdev_t)f->c.devid;
		r->indirect_grefs[0] = s->ind_gref;
	}
	s->busy = true;
	s->done = false;
	s->op = op;
	s->t0 = hv_now_ns();
	q->inflight++;
}

static void push(struct front *f, struct fq *q)
{
	HV_RING_PUSH_REQUESTS(&q->ring, hv_sim_evtchn_notify(f->dom, q->port));
}

/* Takes the responses there are; how many. */
static unsigned collect(struct fq *q)
{
	RING_IDX rp = q->ring.sring->rsp_prod, i;
	unsigned n = 0;

	PVD_RMB();
	for (i = q->ring.rsp_cons; i != rp; i++) {
		blkif_response_t r;

		memcpy(&r, RING_GET_RESPONSE(&q->ring, i), sizeof(r));
		if (r.id >= q->nslots || !q->slots[r.id].busy)
			die("response with unknown id %" PRIu64, r.id);
		q->slots[r.id].busy = false;
		q->slots[r.id].done = true;
		q->slots[r.id].status = r.status;
		if (r.operation != q->slots[r.id].op)
			die("response operation %u for request %u", r.operation,
			    q->slots[r.id].op);
		q->inflight--;
		n++;
	}
	q->ring.rsp_cons = i;
	return n;
}

/* Waits (bounded) until q has a response to take. */
static void wait_rsp(struct front *f, struct fq *q)
{
	uint64_t end = now_ms() + f->c.timeout_ms;

	while (!HV_RING_WAIT_RESPONSES(&q->ring, f->c.spin_ns)) {
		if (now_ms() > end)
			die("no response within %u ms (%u in flight)",
			    f->c.timeout_ms, q->inflight);
		hv_sim_evtchn_wait(f->dom, 100);
		pending_drain(f);
	}
}

/* Pushes what is queued and waits for slot s's answer: its status. */
static int16_t answer_of(struct front *f, struct fq *q, struct fslot *s)
{
	push(f, q);
	while (!s->done) {
		wait_rsp(f, q);
		collect(q);
	}
	return s->status;
}

static int16_t do_io(struct front *f, struct fq *q, uint8_t op, uint64_t sector,
		     unsigned nsec, unsigned boff)
{
	struct fslot *s = &q->slots[0];

	put_req(f, q, s, op, sector, nsec, boff);
	return answer_of(f, q, s);
}

static void fill(struct front *f, struct fslot *s, unsigned boff,
		 uint64_t sector, unsigned nsec, uint64_t gen)
{
	for (unsigned k = 0; k < nsec; k++) {
		uint64_t *w = sect_ptr(f, s, boff, k);

		for (unsigned i = 0; i < 64; i++)
			w[i] = (sector + k) << 24 ^ gen << 8 ^ i;
	}
}

static bool check(struct front *f, struct fslot *s, unsigned boff,
		  uint64_t sector, unsigned nsec, uint64_t gen)
{
	for (unsigned k = 0; k < nsec; k++) {
		uint64_t *w = sect_ptr(f, s, boff, k);

		for (unsigned i = 0; i < 64; i++) {
			if (w[i] != ((sector + k) << 24 ^ gen << 8 ^ i)) {
				fprintf(stderr, "sector %" PRIu64 " word %u: %" PRIx64
					" != %" PRIx64 "\n", sector + k, i, w[i],
					(sector + k) << 24 ^ gen << 8 ^ i);
				return false;
			}
		}
	}
	return true;
}

static void clear(struct front *f, struct fslot *s, unsigned boff, unsigned nsec)
{
	for (unsigned k = 0; k < nsec; k++)
		memset(sect_ptr(f, s, boff, k), 0xee, 512);
}

/* ------------------------------------------------------------- commands */

static void cmd_verify(struct front *f)
{
	struct fq *q = &f->q[0];
	struct fslot *s = &q->slots[0];
	uint64_t seed = f->c.seed | 1, gen = 1;
	struct { unsigned nsec, boff; } shapes[] = {
		{ 1, 0 }, { 8, 0 }, { 6, 1 }, { 3, 5 }, { 88, 0 }, { 80, 3 },
		{ 96, 0 }, { 2048, 0 }, { 2040, 7 }, { 17, 7 },
	};
	unsigned done = 0;

	if (!f->connected)
		die("verify: not attached");
	for (unsigned r = 0; r < 4; r++) {
		for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
			unsigned nsec = shapes[i].nsec, boff = shapes[i].boff;
			uint64_t sector;

			if ((boff + nsec + 7) / 8 > f->maxseg || nsec > f->sectors)
				continue;
			sector = rnd(&seed) % (f->sectors - nsec + 1);
			gen++;
			fill(f, s, boff, sector, nsec, gen);
			if (do_io(f, q, BLKIF_OP_WRITE, sector, nsec, boff) != 0)
				die("write of %u sectors at %" PRIu64 " failed", nsec, sector);
			clear(f, s, boff, nsec);
			if (do_io(f, q, BLKIF_OP_READ, sector, nsec, boff) != 0)
				die("read of %u sectors at %" PRIu64 " failed", nsec, sector);
			if (!check(f, s, boff, sector, nsec, gen))
				die("data mismatch: %u sectors at %" PRIu64 " (page offset %u)",
				    nsec, sector, boff);
			done++;
		}
	}
	if (do_io(f, q, BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0) != 0)
		die("empty flush failed");
	fill(f, s, 0, 8, 8, ++gen);
	if (do_io(f, q, BLKIF_OP_FLUSH_DISKCACHE, 8, 8, 0) != 0)
		die("flush with data failed");
	if (do_io(f, q, BLKIF_OP_WRITE_BARRIER, 0, 0, 0) != 0)
		die("empty barrier failed");
	fill(f, s, 0, 16, 8, ++gen);
	if (do_io(f, q, BLKIF_OP_WRITE_BARRIER, 16, 8, 0) != 0)
		die("barrier with data failed");
	clear(f, s, 0, 8);
	if (do_io(f, q, BLKIF_OP_READ, 16, 8, 0) != 0 || !check(f, s, 0, 16, 8, gen))
		die("barrier data not read back");
	if (do_io(f, q, BLKIF_OP_READ, f->sectors, 1, 0) != BLKIF_RSP_ERROR)
		die("read past the end did not fail");
	if (do_io(f, q, BLKIF_OP_READ, f->sectors - 7, 8, 0) != BLKIF_RSP_ERROR)
		die("read across the end did not fail");
	if (f->feat_discard && f->sectors >= 64) {
		fill(f, s, 0, 32, 8, ++gen);
		if (do_io(f, q, BLKIF_OP_WRITE, 32, 8, 0) != 0)
			die("write before discard failed");
		if (do_io(f, q, BLKIF_OP_DISCARD, 32, 8, 0) != 0)
			die("discard failed");
		if (do_io(f, q, BLKIF_OP_READ, 32, 8, 0) != 0)
			die("read after discard failed");
		for (unsigned k = 0; k < 8; k++) {
			const uint8_t *p = sect_ptr(f, s, 0, k);

			for (unsigned b = 0; b < 512; b++)
				if (p[b])
					die("discarded sector %u not zero", 32 + k);
		}
	}
	printf("verify ok: %u shapes written and read back, flush, barrier%s\n",
	       done, f->feat_discard ? ", discard" : "");
}

/* A discard of nr sectors from sector, nr a full 64-bit count. */
static int16_t do_discard(struct front *f, struct fq *q, uint64_t sector,
			  uint64_t nr)
{
	struct fslot *s = &q->slots[0];
	blkif_request_discard_t *d;

	put_req(f, q, s, BLKIF_OP_DISCARD, sector, 0, 0);
	d = (void *)RING_GET_REQUEST(&q->ring, q->ring.req_prod_pvt - 1);
	d->nr_sectors = nr;
	return answer_of(f, q, s);
}

/* Discards that reach past the end of the disk must be refused and must
 * not touch it: the last 8 sectors read the same before and after; then
 * the device still serves, a discard of exactly those 8 sectors (ending
 * at the end) is done and they read back as zeros.  The script compares
 * the file itself. */
static void cmd_discard_edge(struct front *f)
{
	struct fq *q = &f->q[0];
	struct fslot *s = &q->slots[0];
	uint64_t end = f->sectors, last = end - 8;
	const struct { const char *what; uint64_t sector, nr; } bad[] = {
		{ "from the last sector, one past the end", end - 1, 2 },
		{ "starting exactly at the end", end, 1 },
		/* sector + nr is 7 modulo 2^64: inside the disk if it wraps */
		{ "a count that wraps sector + nr", last, UINT64_MAX - last + 8 },
		{ "a start that wraps sector + nr", UINT64_MAX - 1, 4 },
	};
	static uint8_t before[8 * 512];

	if (!f->connected || !f->feat_discard || end < 64)
		die("discard-edge: needs an attached disk with discard, 64+ sectors");
	if (do_io(f, q, BLKIF_OP_READ, last, 8, 0) != 0)
		die("read of the last 8 sectors failed");
	for (unsigned k = 0; k < 8; k++)
		memcpy(before + k * 512, sect_ptr(f, s, 0, k), 512);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int16_t st = do_discard(f, q, bad[i].sector, bad[i].nr);

		if (st != BLKIF_RSP_ERROR)
			die("discard %s (sector %" PRIu64 ", %" PRIu64 " sectors): "
			    "status %d, not BLKIF_RSP_ERROR", bad[i].what,
			    bad[i].sector, bad[i].nr, st);
		printf("discard %s: refused\n", bad[i].what);
	}
	clear(f, s, 0, 8);
	if (do_io(f, q, BLKIF_OP_READ, last, 8, 0) != 0)
		die("read of the last 8 sectors failed after the refused discards");
	for (unsigned k = 0; k < 8; k++)
		if (memcmp(before + k * 512, sect_ptr(f, s, 0, k), 512))
			die("sector %" PRIu64 " changed by a refused discard", last + k);
	if (do_discard(f, q, last, 8) != 0)
		die("discard of the last 8 sectors failed");
	if (do_io(f, q, BLKIF_OP_READ, last, 8, 0) != 0)
		die("read after the last discard failed");
	for (unsigned k = 0; k < 8; k++)
		for (unsigned b = 0; b < 512; b++)
			if (((const uint8_t *)sect_ptr(f, s, 0, k))[b])
				die("discarded sector %" PRIu64 " not zero", last + k);
	printf("discard-edge ok: 4 refused, the end unchanged, then served\n");
}

static uint8_t bench_op(const char *rw, bool *random)
{
	*random = strncmp(rw, "rand", 4) == 0;
	if (strcmp(rw + (*random ? 4 : 0), "read") == 0)
		return BLKIF_OP_READ;
	if (strcmp(rw + (*random ? 4 : 0), "write") == 0)
		return BLKIF_OP_WRITE;
	die("bench: RW is randread, randwrite, read or write, not %s", rw);
}

static unsigned total_inflight(struct front *f)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->nq; i++)
		n += f->q[i].inflight;
	return n;
}

static bool any_rsp(struct front *f)
{
	for (unsigned i = 0; i < f->nq; i++)
		if (RING_HAS_UNCONSUMED_RESPONSES(&f->q[i].ring))
			return true;
	return false;
}

/* Waits (bounded) until some queue has a response to take. */
static void wait_any(struct front *f)
{
	uint64_t end = now_ms() + f->c.timeout_ms;

	for (;;) {
		int more = 0;

		if (HV_SPIN_UNTIL(any_rsp(f), f->c.spin_ns))
			return;
		for (unsigned i = 0; i < f->nq && !more; i++)
			RING_FINAL_CHECK_FOR_RESPONSES(&f->q[i].ring, more);
		if (more)
			return;
		if (now_ms() > end)
			die("no response within %u ms (%u in flight)",
			    f->c.timeout_ms, total_inflight(f));
		hv_sim_evtchn_wait(f->dom, 100);
		pending_drain(f);
	}
}

static void cmd_bench(struct front *f, const char *rw, unsigned bs, unsigned qd,
		      double secs)
{
	bool random, running = true;
	uint8_t op = bench_op(rw, &random);
	unsigned nsec = bs / 512;
	uint64_t nblocks, seed = f->c.seed | 1, ops = 0, lat_ns = 0, seq = 0;
	uint64_t t0, end;

	if (!f->connected || bs < 512 || bs % 512 || (nsec + 7) / 8 > f->maxseg ||
	    f->sectors < nsec || qd == 0)
		die("bench: bad block size %u (max %u bytes per request)", bs,
		    f->maxseg * 4096);
	nblocks = f->sectors / nsec;
	for (unsigned i = 0; i < f->nq; i++)
		if (qd > f->q[i].nslots)
			die("bench: QD %u above the %u slots (--slots)", qd,
			    f->q[i].nslots);
	t0 = hv_now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	for (unsigned i = 0; i < f->nq; i++) {
		for (unsigned j = 0; j < qd; j++) {
			uint64_t b = random ? rnd(&seed) % nblocks : seq++ % nblocks;

			put_req(f, &f->q[i], &f->q[i].slots[j], op, b * nsec, nsec, 0);
		}
		push(f, &f->q[i]);
	}
	while (running || total_inflight(f)) {
		uint64_t now = hv_now_ns();
		bool any = false;

		running = now < end;
		for (unsigned i = 0; i < f->nq; i++) {
			struct fq *q = &f->q[i];

			if (!collect(q))
				continue;
			any = true;
			for (unsigned j = 0; j < qd; j++) {
				struct fslot *s = &q->slots[j];
				uint64_t b;

				if (!s->done)
					continue;
				s->done = false;
				if (s->status != 0)
					die("bench: request failed: %d", s->status);
				ops++;
				lat_ns += now - s->t0;
				if (!running)
					continue;
				b = random ? rnd(&seed) % nblocks : seq++ % nblocks;
				put_req(f, q, s, op, b * nsec, nsec, 0);
			}
			push(f, q);
		}
		if (!any && total_inflight(f))
			wait_any(f);
	}
	secs = (double)(hv_now_ns() - t0) / 1e9;
	printf("bench rw=%s bs=%u qd=%u queues=%u ops=%" PRIu64 " secs=%.3f "
	       "iops=%.0f mbps=%.1f lat_us=%.1f\n", rw, bs, qd, f->nq, ops,
	       secs, ops / secs, ops * (double)bs / secs / 1e6,
	       ops ? lat_ns / 1e3 / ops : 0.0);
	fflush(stdout);
}

static void cmd_flushwrite(struct front *f, unsigned n, const char *log)
{
	struct fq *q = &f->q[0];
	struct fslot *s = &q->slots[0];
	FILE *lf = fopen(log, "a");

	if (!lf)
		die("%s: %s", log, strerror(errno));
	if ((uint64_t)n * 8 > f->sectors)
		die("flushwrite: %u blocks do not fit", n);
	for (unsigned i = 0; i < n; i++) {
		fill(f, s, 0, (uint64_t)i * 8, 8, f->c.seed);
		if (do_io(f, q, BLKIF_OP_WRITE, (uint64_t)i * 8, 8, 0) != 0)
			die("flushwrite: write %u failed", i);
		if (do_io(f, q, BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0) != 0)
			die("flushwrite: flush after %u failed", i);
		fprintf(lf, "%u\n", i);
		fflush(lf);
		if (f->c.pace_us)
			usleep(f->c.pace_us);
	}
	fclose(lf);
	for (unsigned i = 0; i < n; i++) {
		clear(f, s, 0, 8);
		if (do_io(f, q, BLKIF_OP_READ, (uint64_t)i * 8, 8, 0) != 0 ||
		    !check(f, s, 0, (uint64_t)i * 8, 8, f->c.seed))
			die("flushwrite: block %u not read back", i);
	}
	printf("flushwrite ok: %u blocks acknowledged and read back\n", n);
}

static void cmd_filecheck(struct front *f, const char *path, const char *log)
{
	FILE *lf = fopen(log, "r");
	int fd = open(path, O_RDONLY);
	unsigned i, n = 0;
	uint64_t buf[512];

	if (!lf || fd < 0)
		die("filecheck: %s", strerror(errno));
	while (fscanf(lf, "%u", &i) == 1) {
		if (pread(fd, buf, 4096, (off_t)i * 4096) != 4096)
			die("filecheck: block %u not in %s", i, path);
		for (unsigned k = 0; k < 8; k++)
			for (unsigned w = 0; w < 64; w++)
				if (buf[k * 64 + w] != (((uint64_t)i * 8 + k) << 24 ^
							f->c.seed << 8 ^ w))
					die("filecheck: acknowledged block %u is not on disk", i);
		n++;
	}
	fclose(lf);
	close(fd);
	printf("filecheck ok: %u acknowledged blocks on disk\n", n);
}

static void close_front(struct front *f)
{
	fe_state(f, XenbusStateClosing);
	wait_be_state(f, XenbusStateClosing, NULL);
	fe_state(f, XenbusStateClosed);
	need_be_state(f, XenbusStateClosed);
	/* Whatever was in flight got answered before the backend closed. */
	for (unsigned i = 0; i < f->nq; i++)
		collect(&f->q[i]);
	f->connected = false;
}

static void cmd_flip(struct front *f, unsigned n)
{
	struct fq *q = &f->q[0];

	if (!f->connected)
		die("flip: not attached");
	for (unsigned j = 0; j < q->nslots; j++)
		put_req(f, q, &q->slots[j], BLKIF_OP_WRITE, (uint64_t)j * 8, 8, 0);
	push(f, q);
	for (unsigned i = 0; i < n; i++) {
		fe_state(f, XenbusStateClosing);
		fe_state(f, i % 2 ? XenbusStateInitialised : XenbusStateConnected);
	}
	close_front(f);
	printf("flip ok: %u flips, backend Closed\n", n);
}

static void cmd_restart(struct front *f)
{
	if (f->connected)
		close_front(f);
	fe_state(f, XenbusStateInitialising);
	connect_rings(f, true);
	printf("restart ok: connected again\n");
}

static void cmd_detach(struct front *f)
{
	if (f->connected)
		close_front(f);
	xs_rm(f->xs, XBT_NULL, f->fe);
	xs_rm(f->xs, XBT_NULL, f->be);
	printf("detach ok\n");
}

static void cmd_attach_fail(struct front *f)
{
	uint64_t end = now_ms() + f->c.timeout_ms;
	char path[160], *err;
	int st;

	/* Refused at once (storage), or once the rings are offered. */
	do {
		st = (int)xread_num(f, f->be, "state", -1);
		if (st == XenbusStateInitWait || st == XenbusStateClosing)
			break;
		usleep(2000);
	} while (now_ms() < end);
	if (st == XenbusStateInitWait)
		connect_rings(f, false);
	if (!wait_be_state(f, XenbusStateClosing, &st))
		die("attach-fail: backend state %d, not Closing", st);
	snprintf(path, sizeof(path), "/local/domain/0/error/backend/vbd/%u/%u",
		 f->c.domid, f->c.devid);
	err = xread(f, path, "error");
	printf("refused: %s\n", err ? err : "(no error node)");
	if (!err)
		die("attach-fail: no error node");
	free(err);
	fe_state(f, XenbusStateClosed);
	need_be_state(f, XenbusStateClosed);
}

static unsigned drain_watch(struct front *f, const char *token)
{
	unsigned n = 0;
	char **ev;

	while ((ev = xs_check_watch(f->xs)) != NULL) {
		n += strcmp(ev[XS_WATCH_TOKEN], token) == 0;
		free(ev);
	}
	return n;
}

/* The backend answers each write of a nonsense state with Closing and an
 * error node; it handles our writes in order, so once it is Closed (our
 * last write) every error-node write it made has been notified to us. */
static void cmd_state_spam(struct front *f, unsigned n, unsigned st)
{
	char path[160];
	unsigned ev;

	snprintf(path, sizeof(path), "/local/domain/0/error/backend/vbd/%u/%u/error",
		 f->c.domid, f->c.devid);
	if (!xs_watch(f->xs, path, "spam-err"))
		die("xs_watch %s: %s", path, strerror(errno));
	for (unsigned i = 0; i < n; i++)
		fe_state(f, (int)st);
	fe_state(f, XenbusStateClosed);
	need_be_state(f, XenbusStateClosed);
	for (unsigned i = 0; i < f->nq; i++)
		collect(&f->q[i]);
	f->connected = false;
	/* Less the event every new watch fires once. */
	ev = drain_watch(f, "spam-err");
	xs_unwatch(f->xs, path, "spam-err");
	printf("state-spam ok: %u writes, %u error-node writes\n", n,
	       ev ? ev - 1 : 0);
}

/* libxl's remove, one transaction: what pvd-blkback sees of xl
 * block-detach (auto) and xl destroy (force). */
static void cmd_xl_remove(const char *how, const char *be, const char *fe)
{
	struct xs_handle *xs = xs_open(0);
	char path[256];

	if (!xs)
		die("xs_open: %s", strerror(errno));
	for (int tries = 0; tries < 16; tries++) {
		xs_transaction_t t = xs_transaction_start(xs);
		unsigned len;
		char *st;
		bool ok = true;

		if (t == XBT_NULL)
			die("xs_transaction_start: %s", strerror(errno));
		if (!strcmp(how, "force"))
			xs_rm(xs, t, fe);
		snprintf(path, sizeof(path), "%s/state", be);
		st = xs_read(xs, t, path, &len);
		if (!st)
			die("xl-remove: no %s", path);
		snprintf(path, sizeof(path), "%s/online", be);
		ok = xs_write(xs, t, path, "0", 1);
		if (ok && atoi(st) != XenbusStateClosed) {
			snprintf(path, sizeof(path), "%s/state", be);
			ok = xs_write(xs, t, path, "5", 1);
		}
		free(st);
		if (!ok)
			die("xl-remove: write: %s", strerror(errno));
		if (xs_transaction_end(xs, t, false))
			break;
		if (errno != EAGAIN)
			die("xs_transaction_end: %s", strerror(errno));
	}
	xs_close(xs);
	printf("xl-remove ok\n");
}

static void cmd_ctl(const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *dir = getenv("PVD_RUNDIR");
	char buf[65536];
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint64_t end = now_ms() + 10000;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/pvd-blkback.sock",
		 dir ? dir : "/run/pvd");
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("ctl: %s: %s", sa.sun_path, strerror(errno));
	if (write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) < 0)
		die("ctl: write: %s", strerror(errno));
	while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 1000) <= 0 && now_ms() > end)
			die("ctl: no answer");
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	fputs(buf, stdout);
	close(fd);
}

static void cmd_expect_sectors(struct front *f, uint64_t want)
{
	uint64_t end = now_ms() + f->c.timeout_ms;
	long long got;

	while ((got = xread_num(f, f->be, "sectors", -1)) != (long long)want) {
		if (now_ms() > end)
			die("sectors %lld, expected %" PRIu64, got, want);
		usleep(5000);
	}
	f->sectors = want;
	printf("sectors %" PRIu64 "\n", want);
}

/* ------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr,
"usage: blkfront_test [--domid N] [--devid N] [--params P] [--mode r|w]\n"
"         [--no-toolstack] [--queues N] [--ring-order N] [--slots N]\n"
"         [--max-seg N] [--persistent 0|1] [--set NODE=VALUE]\n"
"         [--timeout MS] [--spin-ns N] [--pace-us N] [--seed N] COMMAND...\n");
	exit(2);
}

static unsigned need_args(int i, int argc, int n)
{
	if (i + n >= argc)
		usage();
	return (unsigned)n;
}

/* filecheck and ctl alone need no domain. */
static bool needs_domain(char **argv, int i, int argc)
{
	return strcmp(argv[i], "filecheck") && strcmp(argv[i], "ctl") &&
	       strcmp(argv[i], "xl-remove");
}

int main(int argc, char **argv)
{
	struct front f;
	int i;

	memset(&f, 0, sizeof(f));
	f.c = (struct cfg){ .domid = 1, .devid = 51712, .mode = "w",
			    .toolstack = true, .queues = 1, .slots = 32,
			    .persistent = 1, .timeout_ms = 20000,
			    .spin_ns = HV_SPIN_NS_DEFAULT, .seed = 12345 };
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--no-toolstack")) {
			f.c.toolstack = false;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--domid")) f.c.domid = (unsigned)num(a, v, UINT_MAX);
		else if (!strcmp(a, "--devid")) f.c.devid = (unsigned)num(a, v, UINT_MAX);
		else if (!strcmp(a, "--params")) f.c.params = v;
		else if (!strcmp(a, "--mode")) f.c.mode = v;
		else if (!strcmp(a, "--queues")) f.c.queues = (unsigned)num(a, v, UINT_MAX);
		else if (!strcmp(a, "--ring-order")) f.c.order = (unsigned)num(a, v, UINT_MAX);
		else if (!strcmp(a, "--slots")) f.c.slots = (unsigned)num(a, v, UINT_MAX);
		else if (!strcmp(a, "--max-seg")) f.c.maxseg_want = (unsigned)num(a, v, UINT_MAX);
		else if (!strcmp(a, "--persistent")) f.c.persistent = (int)num(a, v, INT_MAX);
		else if (!strcmp(a, "--timeout")) f.c.timeout_ms = (unsigned)num(a, v, UINT_MAX);
		else if (!strcmp(a, "--spin-ns")) f.c.spin_ns = (unsigned)num(a, v, UINT_MAX);
		else if (!strcmp(a, "--pace-us")) f.c.pace_us = (unsigned)num(a, v, UINT_MAX);
		else if (!strcmp(a, "--seed")) f.c.seed = num(a, v, UINT64_MAX);
		else if (!strcmp(a, "--set") && strchr(v, '=') && f.c.nsets < MAX_SETS)
			f.c.sets[f.c.nsets++] = v;
		else
			usage();
	}
	if (i >= argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (needs_domain(argv, i, argc)) {
		size_t npages;
		unsigned slots = f.c.slots ? f.c.slots : 1;
		int rc;

		f.xs = xs_open(0);
		if (!f.xs)
			die("xs_open: %s", strerror(errno));
		snprintf(f.be, sizeof(f.be), "/local/domain/0/backend/vbd/%u/%u",
			 f.c.domid, f.c.devid);
		snprintf(f.fe, sizeof(f.fe), "/local/domain/%u/device/vbd/%u",
			 f.c.domid, f.c.devid);
		/* Rings and two sets of them for a restart, buffers of up to
		 * 256 pages per slot, indirect pages. */
		npages = (size_t)(f.c.queues ? f.c.queues : 1) *
			 (3 * 16 + (size_t)slots * 258) + 64;
		if (npages > HV_SIM_MAX_PAGES)
			die("too much memory asked");
		rc = hv_sim_domain_create(NULL, (domid_t)f.c.domid, npages, &f.dom);
		if (rc < 0)
			die("hv_sim_domain_create: %s", strerror(-rc));
		f.next_ref = FIRST_REF;
		if (f.c.toolstack) {
			if (!f.c.params)
				die("--params is needed");
			toolstack_create(&f);
		}
	}
	for (; i < argc; i++) {
		const char *c = argv[i];

		if (!strcmp(c, "attach")) {
			connect_rings(&f, true);
			printf("attached: %" PRIu64 " sectors, %u queue(s), %u ring "
			       "page(s), %u segments per request%s\n", f.sectors,
			       f.nq, f.ring_pages, f.maxseg,
			       f.c.persistent && f.feat_persistent ? ", persistent" : "");
		} else if (!strcmp(c, "attach-fail")) {
			cmd_attach_fail(&f);
		} else if (!strcmp(c, "verify")) {
			cmd_verify(&f);
		} else if (!strcmp(c, "discard-edge")) {
			cmd_discard_edge(&f);
		} else if (!strcmp(c, "bench")) {
			need_args(i, argc, 4);
			cmd_bench(&f, argv[i + 1],
				  (unsigned)num("bench BS", argv[i + 2], UINT_MAX),
				  (unsigned)num("bench QD", argv[i + 3], UINT_MAX),
				  atof(argv[i + 4]));
			i += 4;
		} else if (!strcmp(c, "flushwrite")) {
			need_args(i, argc, 2);
			cmd_flushwrite(&f, (unsigned)num(c, argv[i + 1], UINT_MAX), argv[i + 2]);
			i += 2;
		} else if (!strcmp(c, "filecheck")) {
			need_args(i, argc, 2);
			cmd_filecheck(&f, argv[i + 1], argv[i + 2]);
			i += 2;
		} else if (!strcmp(c, "flip")) {
			need_args(i, argc, 1);
			cmd_flip(&f, (unsigned)num(c, argv[i + 1], UINT_MAX));
			i++;
		} else if (!strcmp(c, "restart")) {
			cmd_restart(&f);
		} else if (!strcmp(c, "expect-sectors")) {
			need_args(i, argc, 1);
			cmd_expect_sectors(&f, num(c, argv[i + 1], UINT64_MAX));
			i++;
		} else if (!strcmp(c, "expect-state")) {
			need_args(i, argc, 1);
			need_be_state(&f, (int)num(c, argv[i + 1], INT_MAX));
			i++;
			printf("backend state %s\n", argv[i]);
		} else if (!strcmp(c, "state-spam")) {
			need_args(i, argc, 2);
			cmd_state_spam(&f, (unsigned)num(c, argv[i + 1], UINT_MAX),
				       (unsigned)num(c, argv[i + 2], 255));
			i += 2;
		} else if (!strcmp(c, "close")) {
			if (f.connected)
				close_front(&f);
			printf("close ok\n");
		} else if (!strcmp(c, "detach")) {
			cmd_detach(&f);
		} else if (!strcmp(c, "xl-remove")) {
			need_args(i, argc, 3);
			cmd_xl_remove(argv[i + 1], argv[i + 2], argv[i + 3]);
			i += 3;
		} else if (!strcmp(c, "ctl")) {
			need_args(i, argc, 1);
			cmd_ctl(argv[++i]);
		} else {
			die("unknown command %s", c);
		}
	}
	for (unsigned q = 0; q < MAX_Q; q++) {
		for (unsigned k = 0; f.q[q].slots && k < f.q[q].nslots; k++) {
			free(f.q[q].slots[k].pages);
			free(f.q[q].slots[k].grefs);
		}
		free(f.q[q].slots);
	}
	if (f.dom)
		hv_sim_domain_destroy(f.dom);
	if (f.xs)
		xs_close(f.xs);
	return 0;
}
