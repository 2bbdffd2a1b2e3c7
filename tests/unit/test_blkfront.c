/* pvguest's block frontend (tools/pvguest/blkfront.c) against a fake
 * backend in the same process: a dom0 handle of the sim hypervisor that
 * maps the frontend's ring(s), binds its event channel(s) and serves
 * requests from a memory buffer, over pvd-stored's real core
 * (pvguest_fakestore.h).  Negotiation (multi-page, multi-queue, features
 * turned off), I/O through direct and indirect requests with and without
 * persistent grants, flush, FUA, discard, hostile responses, a backend
 * restarting with requests in flight, Closing, and removal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tools/pvguest/xs_ring.h"
#include "../../tools/pvguest/xenbus_xs.h"
#include "../../tools/pvguest/frontend.h"
#include "../../tools/pvguest/gntalloc.h"
#include "../../tools/pvguest/nbd.h"
#include "../../tools/pvguest/blkfront.h"
#include "pvguest_fakestore.h"

#include "../../tools/pvguest/guest.h"
#include "pvd/hv.h"
#include "pvd/hv_sim.h"
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>
#include "pvd/log.h"
#include "pvd/num.h"

#define GUEST 5
#define DEVID "51712"
#define FE "/local/domain/5/device/vbd/51712"
#define BE "/local/domain/0/backend/vbd/5/51712"
#define DISK_SECTORS 8192u	/* 4 MiB */
#define ROUNDS 400

enum hostile { H_NONE, H_BAD_ID, H_DUP, H_WRONG_OP, H_PROD };

struct fring {
	blkif_back_ring_t br;
	void *addr;
	evtchn_port_t port;
};

struct fb {
	struct hv *hv;
	bool up;
	unsigned nrings, npages;
	struct fring r[4];
	uint8_t disk[DISK_SECTORS * 512];
	bool hold;
	blkif_request_t held[64];
	unsigned nheld;
	enum hostile hostile;
	unsigned nreq, nind, nflush, nbarrier, ndiscard, max_segs;
	uint64_t discard_sector, discard_nr;
	int last_op;
};

struct fx {
	char dir[64];
	struct event_base *base;
	struct xenstore_domain_interface *intf;
	struct fakestore fs;
	struct xenbus *xb;
	struct hv_sim_domain *dom;
	struct gntalloc *gnt;
	struct frontends *fe;
	struct blkfront_config cfg;
	struct {
		evtchn_port_t port;
		guest_port_fn *fn;
		void *arg;
	} h[16];
	unsigned nh;
	struct fb b;
	unsigned events[3];
};

/* Link-time seams (test_blkfront.wrap): what guest.c provides in pvguest,
 * with this fixture standing in for the guest. */
int __wrap_guest_port_handler_set(struct guest *g, evtchn_port_t port,
				  guest_port_fn *fn, void *arg);
const char *__wrap_guest_dir(const struct guest *g);

int __wrap_guest_port_handler_set(struct guest *g, evtchn_port_t port,
				  guest_port_fn *fn, void *arg)
{
	struct fx *f = (struct fx *)g;

	for (unsigned i = 0; i < f->nh; i++) {
		if (f->h[i].port == port) {
			if (fn) {
				f->h[i].fn = fn;
				f->h[i].arg = arg;
			} else {
				f->h[i] = f->h[--f->nh];
			}
			return 0;
		}
	}
	if (!fn)
		return 0;
	if (f->nh == 16)
		return -ENOSPC;
	f->h[f->nh].port = port;
	f->h[f->nh].fn = fn;
	f->h[f->nh++].arg = arg;
	return 0;
}

const char *__wrap_guest_dir(const struct guest *g)
{
	return ((const struct fx *)g)->dir;
}

static void notify(void *arg) { }

static void on_bf_event(void *arg, struct blkfront *bf, const char *devid,
			enum blkfront_event ev)
{
	struct fx *f = arg;

	f->events[ev]++;
}

/* ---- the store ---- */

static void d0_write(struct fx *f, const char *path, const char *val)
{
	assert_int_equal(fakestore_dom0(&f->fs, XS_WRITE, 2, path, val), XS_WRITE);
}

static bool d0_read(struct fx *f, const char *path, char *out, size_t len)
{
	if (fakestore_dom0(&f->fs, XS_READ, 1, path) != XS_READ)
		return false;
	if (strlen(f->fs.body) >= len)
		return false;
	strcpy(out, f->fs.body);
	return true;
}

static unsigned d0_num(struct fx *f, const char *path)
{
	char v[64];
	uint64_t n;

	if (!d0_read(f, path, v, sizeof(v)))
		return ~0u;
	assert_int_equal(pvd_parse_uint(v, UINT32_MAX - 1, &n), 0);
	return (unsigned)n;
}

static void be_write(struct fx *f, const char *key, const char *val)
{
	char p[256];

	snprintf(p, sizeof(p), BE "/%s", key);
	d0_write(f, p, val);
	assert_int_equal(fakestore_dom0(&f->fs, XS_SET_PERMS, 3, p, "n0", "r5"),
			 XS_SET_PERMS);
}

static unsigned fe_state(struct fx *f)
{
	return d0_num(f, FE "/state");
}

/* ---- the fake backend ---- */

static void fb_respond(struct fx *f, struct fring *r, uint64_t id, uint8_t op,
		       int16_t st)
{
	blkif_response_t *rsp = RING_GET_RESPONSE(&r->br, r->br.rsp_prod_pvt);

	rsp->id = id;
	rsp->operation = op;
	rsp->status = st;
	r->br.rsp_prod_pvt++;
}

static int16_t fb_segs(struct fx *f, const struct blkif_request_segment *segs,
		       unsigned n, uint64_t sector, bool write)
{
	uint64_t pos = sector * 512;

	for (unsigned i = 0; i < n; i++) {
		struct hv_copy_seg c = {
			.ref = segs[i].gref, .domid = GUEST,
			.offset = (uint16_t)(segs[i].first_sect * 512),
			.len = (uint16_t)((segs[i].last_sect - segs[i].first_sect + 1) * 512),
			.dir = write ? HV_COPY_FROM_GRANT : HV_COPY_TO_GRANT,
		};

		if (segs[i].last_sect > 7 || segs[i].first_sect > segs[i].last_sect ||
		    pos + c.len > sizeof(f->b.disk))
			return BLKIF_RSP_ERROR;
		c.local = f->b.disk + pos;
		if (hv_grant_copy(f->b.hv, &c, 1) < 0)
			return BLKIF_RSP_ERROR;
		pos += c.len;
	}
	return BLKIF_RSP_OKAY;
}

static void fb_handle(struct fx *f, struct fring *r, const blkif_request_t *req)
{
	struct fb *b = &f->b;
	int16_t st = BLKIF_RSP_OKAY;
	uint8_t op = req->operation;

	b->nreq++;
	b->last_op = op;
	if (op == BLKIF_OP_INDIRECT) {
		const blkif_request_indirect_t *ind = (const void *)req;
		struct blkif_request_segment segs[BLKFRONT_MAX_INDIRECT_SEGS];
		unsigned n = ind->nr_segments, npg = (n + 511) / 512;

		b->nind++;
		op = ind->indirect_op;
		if (n > b->max_segs)
			b->max_segs = n;
		assert_true(n > BLKIF_MAX_SEGMENTS_PER_REQUEST && npg <= 8);
		for (unsigned k = 0; k < npg; k++) {
			void *p;
			unsigned cnt = n - k * 512 < 512 ? n - k * 512 : 512;

			assert_int_equal(hv_grant_map(b->hv, GUEST, 1,
						      &ind->indirect_grefs[k], 0, &p), 0);
			memcpy(segs + k * 512, p, cnt * sizeof(segs[0]));
			hv_grant_unmap(b->hv, p, 1);
		}
		st = fb_segs(f, segs, n, ind->sector_number, op == BLKIF_OP_WRITE);
	} else if (op == BLKIF_OP_READ || op == BLKIF_OP_WRITE) {
		if (req->nr_segments > b->max_segs)
			b->max_segs = req->nr_segments;
		assert_true(req->nr_segments <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
		st = fb_segs(f, req->seg, req->nr_segments, req->sector_number,
			     op == BLKIF_OP_WRITE);
	} else if (op == BLKIF_OP_FLUSH_DISKCACHE) {
		b->nflush++;
	} else if (op == BLKIF_OP_WRITE_BARRIER) {
		b->nbarrier++;
	} else if (op == BLKIF_OP_DISCARD) {
		const blkif_request_discard_t *d = (const void *)req;

		b->ndiscard++;
		b->discard_sector = d->sector_number;
		b->discard_nr = d->nr_sectors;
	} else {
		st = BLKIF_RSP_EOPNOTSUPP;
	}
	switch (b->hostile) {
	case H_BAD_ID:
		fb_respond(f, r, req->id + 1000, op, st);
		return;
	case H_DUP:
		fb_respond(f, r, req->id, op, st);
		fb_respond(f, r, req->id, op, st);
		return;
	case H_WRONG_OP:
		fb_respond(f, r, req->id, op == BLKIF_OP_READ ? BLKIF_OP_WRITE :
			   BLKIF_OP_READ, st);
		return;
	case H_PROD:
		fb_respond(f, r, req->id, op, st);
		r->br.rsp_prod_pvt += 1000;
		return;
	case H_NONE:
		break;
	}
	fb_respond(f, r, req->id, op, st);
}

static void fb_serve(struct fx *f)
{
	struct fb *b = &f->b;
	evtchn_port_t p;

	if (!b->up)
		return;
	while (hv_evtchn_pending(b->hv, &p) == 0)
		hv_evtchn_unmask(b->hv, p);
	for (unsigned k = 0; k < b->nrings; k++) {
		struct fring *r = &b->r[k];
		int more;

		do {
			while (RING_HAS_UNCONSUMED_REQUESTS(&r->br)) {
				blkif_request_t req;

				RING_COPY_REQUEST(&r->br, r->br.req_cons, &req);
				r->br.req_cons++;
				if (b->hold && b->nheld < 64) {
					b->held[b->nheld++] = req;
					continue;
				}
				fb_handle(f, r, &req);
			}
			HV_RING_PUSH_RESPONSES(&r->br, hv_evtchn_notify(b->hv, r->port));
			RING_FINAL_CHECK_FOR_REQUESTS(&r->br, more);
		} while (more);
	}
}

static void fb_release(struct fx *f)
{
	struct fb *b = &f->b;

	for (unsigned k = 0; k < b->nrings; k++) {
		if (b->r[k].addr)
			hv_grant_unmap(b->hv, b->r[k].addr, b->npages);
		hv_evtchn_unbind(b->hv, b->r[k].port);
		b->r[k].addr = NULL;
	}
	b->up = false;
	b->nheld = 0;
}

/* Frontend Initialised: map and bind, as blkback's connect_ring. */
static void fb_connect(struct fx *f)
{
	struct fb *b = &f->b;
	char dir[128], key[160];
	unsigned order = d0_num(f, FE "/ring-page-order");
	unsigned nq = d0_num(f, FE "/multi-queue-num-queues");

	char proto[32];

	assert_true(d0_read(f, FE "/protocol", proto, sizeof(proto)));
	assert_string_equal(proto, XEN_IO_PROTO_ABI_NATIVE);
	b->npages = order == ~0u ? 1 : 1u << order;
	b->nrings = nq == ~0u ? 1 : nq;
	assert_true(b->nrings <= 4);
	for (unsigned k = 0; k < b->nrings; k++) {
		grant_ref_t refs[16];
		evtchn_port_t port;

		if (b->nrings > 1)
			snprintf(dir, sizeof(dir), FE "/queue-%u", k);
		else
			snprintf(dir, sizeof(dir), FE);
		for (unsigned i = 0; i < b->npages; i++) {
			if (b->npages == 1)
				snprintf(key, sizeof(key), "%s/ring-ref", dir);
			else
				snprintf(key, sizeof(key), "%s/ring-ref%u", dir, i);
			refs[i] = d0_num(f, key);
			assert_int_not_equal(refs[i], ~0u);
		}
		snprintf(key, sizeof(key), "%s/event-channel", dir);
		port = d0_num(f, key);
		assert_int_equal(hv_grant_map(b->hv, GUEST, b->npages, refs, 1,
					      &b->r[k].addr), 0);
		assert_int_equal(hv_evtchn_bind_interdomain(b->hv, GUEST, port,
							    &b->r[k].port), 0);
		BACK_RING_INIT(&b->r[k].br, (blkif_sring_t *)b->r[k].addr,
			       (size_t)b->npages * HV_PAGE_SIZE);
	}
	b->up = true;
}

/* ---- the loop ---- */

static void turn(struct fx *f)
{
	evtchn_port_t port;

	event_base_loop(f->base, EVLOOP_NONBLOCK);
	fakestore_pump(&f->fs);
	xenbus_kick(f->xb);
	fb_serve(f);
	while (hv_sim_evtchn_pending(f->dom, &port) == 0) {
		hv_sim_evtchn_unmask(f->dom, port);
		for (unsigned i = 0; i < f->nh; i++)
			if (f->h[i].port == port)
				f->h[i].fn(f->h[i].arg, port);
	}
}

static void settle(struct fx *f)
{
	for (int i = 0; i < ROUNDS; i++)
		turn(f);
}

static struct blkfront *dev(struct fx *f)
{
	struct frontend_dev *d = frontend_find(f->fe, "vbd", DEVID);

	return d ? d->priv : NULL;
}

static void toolstack_nodes(struct fx *f)
{
	d0_write(f, FE "/backend", BE);
	d0_write(f, FE "/backend-id", "0");
	d0_write(f, FE "/virtual-device", DEVID);
	d0_write(f, FE "/device-type", "disk");
	d0_write(f, FE "/state", "1");
	be_write(f, "frontend", FE);
	be_write(f, "frontend-id", "5");
	be_write(f, "state", "1");
}

/* The backend's probe: features, then InitWait. */
static void be_initwait(struct fx *f, unsigned order, unsigned queues,
			unsigned indirect, bool persistent)
{
	char v[32];

	snprintf(v, sizeof(v), "%u", order);
	be_write(f, "max-ring-page-order", v);
	snprintf(v, sizeof(v), "%u", queues);
	be_write(f, "multi-queue-max-queues", v);
	snprintf(v, sizeof(v), "%u", indirect);
	be_write(f, "feature-max-indirect-segments", v);
	be_write(f, "feature-persistent", persistent ? "1" : "0");
	be_write(f, "feature-flush-cache", "1");
	be_write(f, "feature-discard", "1");
	be_write(f, "discard-granularity", "4096");
	be_write(f, "discard-alignment", "0");
	be_write(f, "state", "2");
	settle(f);
}

/* The backend's connect: map, then the disk's properties, Connected. */
static void be_connect(struct fx *f)
{
	char v[32];

	assert_int_equal(fe_state(f), XenbusStateInitialised);
	fb_connect(f);
	snprintf(v, sizeof(v), "%u", DISK_SECTORS);
	be_write(f, "sectors", v);
	be_write(f, "info", "0");
	be_write(f, "sector-size", "512");
	be_write(f, "state", "4");
	settle(f);
}

static void bring_up(struct fx *f, unsigned order, unsigned queues,
		     unsigned indirect, bool persistent)
{
	toolstack_nodes(f);
	settle(f);
	assert_non_null(dev(f));
	be_initwait(f, order, queues, indirect, persistent);
	be_connect(f);
	assert_int_equal(fe_state(f), XenbusStateConnected);
	assert_true(blkfront_connected(dev(f)));
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct hv_config hc = { .impl = "sim", .domid = 0 };

	strcpy(f->dir, "/tmp/pvd-blkfront.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->base = event_base_new();
	f->intf = calloc(1, sizeof(*f->intf));
	fakestore_init(&f->fs, f->base, GUEST, f->intf);
	assert_int_equal(xenbus_create(&f->xb, f->base, f->intf, notify, f), 0);
	assert_int_equal(hv_sim_domain_create(f->dir, GUEST, 4096, &f->dom), 0);
	assert_int_equal(gntalloc_create(&f->gnt, HV_SIM_NR_GRANTS), 0);
	hc.rundir = f->dir;
	assert_int_equal(hv_open(&f->b.hv, &hc), 0);
	blkfront_opts_default(&f->cfg.opts);
	f->cfg.opts.max_queues = 1;
	f->cfg.opts.max_ring_order = 0;
	f->cfg.opts.no_nbd = true;
	f->cfg.event = on_bf_event;
	f->cfg.event_arg = f;
	*state = f;
	return 0;
}

static void start_fe(struct fx *f)
{
	struct frontend_env env = {
		.base = f->base, .xb = f->xb, .dom = f->dom,
		.guest = (struct guest *)f, .domid = GUEST, .gnt = f->gnt,
		.blk = &f->cfg,
	};

	assert_int_equal(frontend_start(&f->fe, &env, frontend_builtin(&(unsigned){0}),
					1), 0);
	settle(f);
}

static int teardown_fx(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	frontend_stop(f->fe);
	fb_release(f);
	hv_close(f->b.hv);
	gntalloc_destroy(f->gnt);
	hv_sim_domain_destroy(f->dom);
	xenbus_destroy(f->xb);
	fakestore_fini(&f->fs);
	event_base_free(f->base);
	free(f->intf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* ---- I/O helpers ---- */

struct waiter {
	struct blkio io;
	bool done;
	int err;
};

static void w_done(struct blkio *io, int err)
{
	struct waiter *w = (struct waiter *)io;

	w->done = true;
	w->err = err;
}

static int do_io(struct fx *f, enum blkio_op op, uint64_t off, uint64_t len,
		 void *buf, bool fua)
{
	struct waiter w = { .io = { .op = op, .offset = off, .len = len, .buf = buf,
				    .fua = fua, .done = w_done } };
	int rc = blkfront_submit(dev(f), &w.io);

	if (rc < 0)
		return rc;
	assert_false(w.done);	/* never from inside submit */
	for (int i = 0; i < ROUNDS * 5 && !w.done; i++)
		turn(f);
	assert_true(w.done);
	return w.err;
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed + i / 4096);
}

static void roundtrip(struct fx *f, uint64_t off, uint64_t len, unsigned seed)
{
	uint8_t *w = malloc(len), *r = calloc(1, len);

	pattern(w, len, seed);
	assert_int_equal(do_io(f, BLKIO_WRITE, off, len, w, false), 0);
	assert_memory_equal(f->b.disk + off, w, len);
	assert_int_equal(do_io(f, BLKIO_READ, off, len, r, false), 0);
	assert_memory_equal(r, w, len);
	free(w);
	free(r);
}

/* Grant entries in use besides the reserved ones and the rings'. */
static unsigned granted_entries(struct fx *f)
{
	unsigned n = 0;

	for (grant_ref_t r = 8; r < 4096; r++)
		if (hv_sim_grant_entry(f->dom, r)->flags)
			n++;
	return n;
}

/* ---- tests ---- */

static void test_negotiate_defaults(void **state)
{
	struct fx *f = *state;
	struct blkfront_info bi;
	char v[64];

	start_fe(f);
	bring_up(f, 0, 1, 256, true);
	assert_true(d0_read(f, FE "/feature-persistent", v, sizeof(v)));
	assert_string_equal(v, "1");
	assert_false(d0_read(f, FE "/ring-page-order", v, sizeof(v)));
	assert_false(d0_read(f, FE "/multi-queue-num-queues", v, sizeof(v)));
	blkfront_get_info(dev(f), &bi);
	assert_int_equal(bi.size, (uint64_t)DISK_SECTORS * 512);
	assert_int_equal(bi.sector_size, 512);
	assert_true(bi.can_flush);
	assert_true(bi.can_discard);
	assert_true(bi.persistent);
	assert_true(bi.indirect);
	assert_int_equal(bi.segs_per_req, 32);	/* Linux's default cap */
	assert_int_equal(f->events[BLKFRONT_CONNECTED], 1);
}

static void test_io_direct_indirect_persistent(void **state)
{
	struct fx *f = *state;
	unsigned before;

	start_fe(f);
	bring_up(f, 0, 1, 256, true);
	roundtrip(f, 0, 512, 1);
	roundtrip(f, 4096, 4096, 2);
	roundtrip(f, 8192 + 512, 44 * 1024, 3);	/* 11 segments: direct */
	assert_int_equal(f->b.nind, 0);
	roundtrip(f, 65536, 128 * 1024, 4);		/* 32 segments: indirect */
	assert_true(f->b.nind > 0);
	assert_int_equal(f->b.max_segs, 32);
	before = f->b.nreq;
	roundtrip(f, 1 << 20, 1 << 20, 5);		/* split in 32-segment requests */
	assert_int_equal(f->b.nreq - before, 2 * 8);
	/* Persistent: the pages stay granted. */
	assert_true(granted_entries(f) > 1);
	/* Beyond the end, unaligned, read-only checks. */
	{
		uint8_t b[4096];

		assert_int_equal(do_io(f, BLKIO_READ, (uint64_t)DISK_SECTORS * 512, 512,
				       b, false), -ENOSPC);
		assert_int_equal(do_io(f, BLKIO_READ, 100, 512, b, false), -EINVAL);
		assert_int_equal(do_io(f, BLKIO_READ, 0, 100, b, false), -EINVAL);
		assert_int_equal(do_io(f, BLKIO_READ, 0, 0, b, false), -EINVAL);
	}
}

static void test_no_indirect_no_persistent(void **state)
{
	struct fx *f = *state;
	char v[16];

	f->cfg.opts.no_indirect = true;
	f->cfg.opts.no_persistent = true;
	start_fe(f);
	bring_up(f, 0, 1, 256, true);
	assert_true(d0_read(f, FE "/feature-persistent", v, sizeof(v)));
	assert_string_equal(v, "0");
	roundtrip(f, 0, 256 * 1024, 7);
	assert_int_equal(f->b.nind, 0);
	assert_int_equal(f->b.max_segs, BLKIF_MAX_SEGMENTS_PER_REQUEST);
	/* Access ended after every response: only the ring is granted. */
	assert_int_equal(granted_entries(f), 1);
}

static void test_multi_page_multi_queue(void **state)
{
	struct fx *f = *state;
	char v[16];

	f->cfg.opts.max_queues = 2;
	f->cfg.opts.max_ring_order = 2;
	start_fe(f);
	bring_up(f, 4, 2, 0, false);
	assert_true(d0_read(f, FE "/ring-page-order", v, sizeof(v)));
	assert_string_equal(v, "2");
	assert_true(d0_read(f, FE "/multi-queue-num-queues", v, sizeof(v)));
	assert_string_equal(v, "2");
	assert_true(d0_read(f, FE "/queue-1/ring-ref3", v, sizeof(v)));
	assert_false(d0_read(f, FE "/ring-ref", v, sizeof(v)));
	assert_int_equal(f->b.nrings, 2);
	assert_int_equal(f->b.npages, 4);
	/* No indirect from this backend: 11 segments at most. */
	roundtrip(f, 0, 512 * 1024, 9);
	assert_int_equal(f->b.nind, 0);
	/* Both rings carried requests. */
	assert_true(f->b.r[0].br.req_cons > 0);
	assert_true(f->b.r[1].br.req_cons > 0);
}

static void test_flush_fua_discard(void **state)
{
	struct fx *f = *state;
	uint8_t b[4096] = { 1 };

	start_fe(f);
	bring_up(f, 0, 1, 0, false);
	assert_int_equal(do_io(f, BLKIO_FLUSH, 0, 0, NULL, false), 0);
	assert_int_equal(f->b.nflush, 1);
	assert_int_equal(do_io(f, BLKIO_WRITE, 0, 4096, b, true), 0);
	assert_int_equal(f->b.nflush, 2);	/* the write, then a flush */
	assert_int_equal(f->b.last_op, BLKIF_OP_FLUSH_DISKCACHE);
	/* Discard: whole 4 KiB granules only. */
	assert_int_equal(do_io(f, BLKIO_DISCARD, 512, 3 * 4096, NULL, false), 0);
	assert_int_equal(f->b.ndiscard, 1);
	assert_int_equal(f->b.discard_sector, 8);
	assert_int_equal(f->b.discard_nr, 16);
	assert_int_equal(do_io(f, BLKIO_DISCARD, 512, 1024, NULL, false), 0);
	assert_int_equal(f->b.ndiscard, 1);	/* less than a granule */
}

static void test_no_flush_no_discard(void **state)
{
	struct fx *f = *state;
	struct blkfront_info bi;
	uint8_t b[512] = { 0 };

	f->cfg.opts.no_flush = true;
	f->cfg.opts.no_discard = true;
	start_fe(f);
	bring_up(f, 0, 1, 0, false);
	blkfront_get_info(dev(f), &bi);
	assert_false(bi.can_flush);
	assert_false(bi.can_discard);
	assert_int_equal(do_io(f, BLKIO_FLUSH, 0, 0, NULL, false), 0);
	assert_int_equal(do_io(f, BLKIO_WRITE, 0, 512, b, true), 0);
	assert_int_equal(f->b.nflush, 0);
	assert_int_equal(blkfront_submit(dev(f), &(struct blkio){
		.op = BLKIO_DISCARD, .len = 4096, .done = w_done }), -EOPNOTSUPP);
}

static void hostile(void **state, enum hostile h)
{
	struct fx *f = *state;
	uint8_t b[4096];

	start_fe(f);
	bring_up(f, 0, 1, 0, false);
	f->b.hostile = h;
	assert_int_equal(do_io(f, BLKIO_READ, 0, 4096, b, false), -EIO);
	settle(f);
	assert_int_equal(fe_state(f), XenbusStateClosed);
	assert_false(blkfront_connected(dev(f)));
	assert_true(f->events[BLKFRONT_DISCONNECTED] >= 1);
	/* The backend is reset (blkback re-probing): we connect again. */
	f->b.hostile = H_NONE;
	fb_release(f);
	be_write(f, "state", "1");
	settle(f);
	be_write(f, "state", "2");
	settle(f);
	be_connect(f);
	assert_int_equal(fe_state(f), XenbusStateConnected);
	roundtrip(f, 0, 8192, 11);
}

static void test_hostile_bad_id(void **state) { hostile(state, H_BAD_ID); }
static void test_hostile_dup(void **state) { hostile(state, H_DUP); }
static void test_hostile_wrong_op(void **state) { hostile(state, H_WRONG_OP); }
static void test_hostile_prod(void **state) { hostile(state, H_PROD); }

static void test_backend_restart_requeues(void **state)
{
	struct fx *f = *state;
	uint8_t *w = malloc(64 * 1024), *r = calloc(1, 64 * 1024);
	struct waiter ws[4];

	start_fe(f);
	bring_up(f, 0, 1, 0, false);
	pattern(w, 64 * 1024, 13);
	f->b.hold = true;
	for (int i = 0; i < 4; i++) {
		ws[i] = (struct waiter){ .io = { .op = BLKIO_WRITE,
			.offset = (uint64_t)i * 16384, .len = 16384,
			.buf = w + i * 16384, .done = w_done } };
		assert_int_equal(blkfront_submit(dev(f), &ws[i].io), 0);
	}
	settle(f);
	assert_true(f->b.nheld > 0);
	for (int i = 0; i < 4; i++)
		assert_false(ws[i].done);
	/* The backend dies and a new one starts over. */
	f->b.hold = false;
	fb_release(f);
	be_write(f, "state", "1");
	settle(f);
	be_write(f, "state", "2");
	settle(f);
	assert_int_equal(fe_state(f), XenbusStateInitialised);
	be_connect(f);
	for (int i = 0; i < ROUNDS && !(ws[0].done && ws[1].done && ws[2].done &&
					 ws[3].done); i++)
		turn(f);
	for (int i = 0; i < 4; i++) {
		assert_true(ws[i].done);
		assert_int_equal(ws[i].err, 0);
	}
	assert_memory_equal(f->b.disk, w, 64 * 1024);
	assert_int_equal(do_io(f, BLKIO_READ, 0, 64 * 1024, r, false), 0);
	assert_memory_equal(r, w, 64 * 1024);
	assert_int_equal(f->events[BLKFRONT_CONNECTED], 2);
	free(w);
	free(r);
}

static void test_closing_then_remove_fails_inflight(void **state)
{
	struct fx *f = *state;
	uint8_t b[4096];
	struct waiter w = { .io = { .op = BLKIO_READ, .len = 4096, .buf = b,
				    .done = w_done } };

	start_fe(f);
	bring_up(f, 0, 1, 0, false);
	fb_release(f);	/* a backend unmaps before Closing */
	be_write(f, "state", "5");
	settle(f);
	assert_int_equal(fe_state(f), XenbusStateClosed);
	/* Queued while disconnected: waits. */
	assert_int_equal(blkfront_submit(dev(f), &w.io), 0);
	settle(f);
	assert_false(w.done);
	/* The toolstack removes the device: it fails. */
	assert_int_equal(fakestore_dom0(&f->fs, XS_RM, 1, FE), XS_RM);
	settle(f);
	assert_true(w.done);
	assert_int_equal(w.err, -ENODEV);
	assert_null(frontend_find(f->fe, "vbd", DEVID));
	assert_int_equal(f->events[BLKFRONT_REMOVED], 1);
	assert_int_equal(gntalloc_used(f->gnt), 0);
}

static void test_bad_nodes_ignored(void **state)
{
	struct fx *f = *state;

	start_fe(f);
	d0_write(f, FE "/backend", "not/absolute");
	d0_write(f, FE "/backend-id", "0");
	d0_write(f, FE "/virtual-device", DEVID);
	d0_write(f, FE "/state", "1");
	settle(f);
	assert_int_equal(fe_state(f), 1);
	/* Bad numbers from the backend: no connection, no crash. */
	d0_write(f, FE "/backend", BE);
	assert_int_equal(fakestore_dom0(&f->fs, XS_RM, 1, FE), XS_RM);
	settle(f);
	toolstack_nodes(f);
	settle(f);
	be_write(f, "max-ring-page-order", "99999999999999999999999");
	be_write(f, "state", "2");
	settle(f);
	assert_int_equal(fe_state(f), XenbusStateClosed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_negotiate_defaults, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_io_direct_indirect_persistent, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_no_indirect_no_persistent, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_multi_page_multi_queue, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_flush_fua_discard, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_no_flush_no_discard, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_hostile_bad_id, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_hostile_dup, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_hostile_wrong_op, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_hostile_prod, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_backend_restart_requeues, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_closing_then_remove_fails_inflight, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_bad_nodes_ignored, setup, teardown_fx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
