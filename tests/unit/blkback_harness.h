/* In-process harness for pvd-blkback's transport tests: the real sim
 * hypervisor layer in a private run directory, a backend (struct
 * blk_loop + struct blk_vbd) driven without the store, and simulated
 * guests that play blkfront (or a hostile version of it) on the same
 * rings.  Data lives in files on tmpfs (O_DIRECT works there) or on a
 * loop device.  Included by tests/unit/test_blkback_*.c. */
#ifndef PVD_TEST_BLKBACK_HARNESS_H
#define PVD_TEST_BLKBACK_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "../../blkback/loop.h"
#include "../../blkback/queue.h"
#include "../../blkback/req.h"
#include "../../blkback/vbd.h"
#include "pvd/hv_sim.h"
#include "pvd/mapfile.h"
#include "pvd/ring_util.h"

#define TG_PAGES 2048
#define TG_DATA 300          /* data pages per guest */
#define TG_MAXQ 4

/* A simulated guest with one connection to a disk. */
struct tguest {
	struct hv_sim_domain *dom;
	domid_t domid;
	unsigned nq, order;
	struct {
		blkif_front_ring_t ring;
		unsigned long page;
		evtchn_port_t port;
		grant_ref_t refs[BLK_MAX_RING_PAGES];
	} q[TG_MAXQ];
	unsigned long data[TG_DATA];   /* page numbers */
	grant_ref_t gref[TG_DATA];     /* data[i] granted as gref[i], writable */
	grant_ref_t next_ref;
	unsigned long ind_page;        /* an indirect page, granted read-only */
	grant_ref_t ind_ref;
	struct blk_vbd vbd;
	int fatal, drained;            /* vbd events seen */
};

struct tfx {
	char dir[64], ddir[64];        /* run directory; data directory */
	struct event_base *base;
	struct hv *hv;
	struct blk_loop loop;
	struct tguest g[2];
};

static inline void tvbd_cb(struct blk_vbd *v, int event, void *arg)
{
	struct tguest *g = arg;

	if (event == BLK_VBD_FATAL)
		g->fatal++;
	else
		g->drained++;
}

static inline int tfx_setup(struct tfx *f, uint32_t spin_ns)
{
	struct hv_config hc = { .impl = "sim" };

	strcpy(f->dir, "/tmp/pvd-bbt-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	setenv("PVD_RUNDIR", f->dir, 1);
	/* Data on tmpfs when there is one: O_DIRECT works and is fast. */
	strcpy(f->ddir, "/dev/shm/pvd-bbd-XXXXXX");
	if (!mkdtemp(f->ddir))
		snprintf(f->ddir, sizeof(f->ddir), "%s", f->dir);
	f->base = event_base_new();
	assert_non_null(f->base);
	assert_int_equal(hv_open(&f->hv, &hc), 0);
	assert_int_equal(blk_loop_init(&f->loop, f->base, f->hv, spin_ns, 256), 0);
	return 0;
}

/* Runs the backend until nothing is left to do right now. */
static inline void tturn(struct tfx *f)
{
	for (int i = 0; i < 4; i++) {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		blk_loop_run(&f->loop);
	}
}

static inline void tguest_free(struct tfx *f, struct tguest *g);

static inline void tfx_teardown(struct tfx *f)
{
	char cmd[200];

	for (int i = 0; i < 2; i++)
		tguest_free(f, &f->g[i]);
	blk_loop_destroy(&f->loop);
	hv_close(f->hv);
	event_base_free(f->base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", f->dir, f->ddir);
	assert_int_equal(system(cmd), 0);
}

static inline char *tfile(struct tfx *f, const char *name, off_t size)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->ddir, name);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
	return path;
}

static inline grant_ref_t tgrant(struct tguest *g, unsigned long page, int ro)
{
	grant_ref_t ref = g->next_ref++;

	assert_int_equal(hv_sim_grant(g->dom, ref, page, 0, ro), 0);
	return ref;
}

/* Creates guest domid with nq rings of 2^order pages, and its disk. */
static inline void tguest_make(struct tfx *f, struct tguest *g, domid_t domid,
			unsigned nq, unsigned order)
{
	unsigned long p;

	memset(g, 0, sizeof(*g));
	g->domid = domid;
	g->nq = nq;
	g->order = order;
	g->next_ref = 8;
	assert_int_equal(hv_sim_domain_create(f->dir, domid, TG_PAGES, &g->dom), 0);
	for (unsigned i = 0; i < nq; i++) {
		blkif_sring_t *s;

		for (unsigned k = 0; k < (1u << order); k++) {
			assert_int_equal(hv_sim_page_alloc(g->dom, &p), 0);
			if (k == 0)
				g->q[i].page = p;
			assert_int_equal(p, g->q[i].page + k);
			g->q[i].refs[k] = tgrant(g, p, 0);
		}
		s = hv_sim_page(g->dom, g->q[i].page);
		SHARED_RING_INIT(s);
		FRONT_RING_INIT(&g->q[i].ring, s, (size_t)HV_PAGE_SIZE << order);
		assert_int_equal(hv_sim_evtchn_alloc_unbound(g->dom, 0, &g->q[i].port), 0);
	}
	for (unsigned i = 0; i < TG_DATA; i++) {
		assert_int_equal(hv_sim_page_alloc(g->dom, &g->data[i]), 0);
		g->gref[i] = tgrant(g, g->data[i], 0);
	}
	assert_int_equal(hv_sim_page_alloc(g->dom, &g->ind_page), 0);
	g->ind_ref = tgrant(g, g->ind_page, 1);
}

/* Opens the disk at path with engine ops and connects the guest's rings. */
static inline int tguest_connect_with(struct tfx *f, struct tguest *g,
			       const struct blk_backend_ops *ops, const char *path,
			       bool ro, bool persistent, unsigned max_pgrants)
{
	struct blk_vbd_cfg cfg = { .max_indirect = BLK_MAX_INDIRECT_SEGS,
				   .max_pgrants = max_pgrants, .discard = true };
	struct blk_vbd_conn c = { .nqueues = g->nq, .nr_pages = 1u << g->order,
				  .persistent = persistent };
	int rc;

	assert_int_equal(blk_vbd_open(&g->vbd, &f->loop, g->domid, ops,
				      path, ro, &cfg, tvbd_cb, g), 0);
	for (unsigned i = 0; i < g->nq; i++) {
		memcpy(c.q[i].refs, g->q[i].refs, sizeof(c.q[i].refs));
		c.q[i].port = g->q[i].port;
	}
	rc = blk_vbd_connect(&g->vbd, &c);
	tturn(f);
	return rc;
}

static inline int tguest_connect(struct tfx *f, struct tguest *g, const char *path,
			  bool ro, bool persistent, unsigned max_pgrants)
{
	return tguest_connect_with(f, g, &blk_backend_aio, path, ro, persistent,
				   max_pgrants);
}

static inline void tguest_free(struct tfx *f, struct tguest *g)
{
	if (!g->dom)
		return;
	if (blk_vbd_disconnect(&g->vbd) == -EBUSY) {
		for (int i = 0; i < 5000 && blk_vbd_busy(&g->vbd); i++) {
			tturn(f);
			usleep(1000);
		}
	}
	assert_false(blk_vbd_busy(&g->vbd));
	blk_vbd_close(&g->vbd);
	hv_sim_domain_destroy(g->dom);
	g->dom = NULL;
}

static inline void *tpage(struct tguest *g, unsigned i)
{
	return hv_sim_page(g->dom, g->data[i]);
}

/* The next request slot of queue qi (zeroed). */
static inline blkif_request_t *treq(struct tguest *g, unsigned qi)
{
	blkif_request_t *r = RING_GET_REQUEST(&g->q[qi].ring,
					      g->q[qi].ring.req_prod_pvt++);

	memset(r, 0, sizeof(*r));
	return r;
}

/* A direct read/write of nseg full pages (data pages from first). */
static inline void trw(struct tguest *g, unsigned qi, uint8_t op, uint64_t id,
		uint64_t sector, unsigned nseg, unsigned first)
{
	blkif_request_t *r = treq(g, qi);

	r->operation = op;
	r->id = id;
	r->sector_number = sector;
	r->nr_segments = (uint8_t)nseg;
	for (unsigned i = 0; i < nseg; i++) {
		r->seg[i].gref = g->gref[first + i];
		r->seg[i].first_sect = 0;
		r->seg[i].last_sect = 7;
	}
}

static inline void tpush(struct tguest *g, unsigned qi)
{
	HV_RING_PUSH_REQUESTS(&g->q[qi].ring, hv_sim_evtchn_notify(g->dom, g->q[qi].port));
}

static inline unsigned tavail(struct tguest *g, unsigned qi)
{
	return g->q[qi].ring.sring->rsp_prod - g->q[qi].ring.rsp_cons;
}

/* Runs the backend until queue qi has n responses unread (bounded). */
static inline bool twait(struct tfx *f, struct tguest *g, unsigned qi, unsigned n)
{
	for (int i = 0; i < 20000; i++) {
		evtchn_port_t p;

		tturn(f);
		while (hv_sim_evtchn_pending(g->dom, &p) == 0)
			hv_sim_evtchn_unmask(g->dom, p);
		if (tavail(g, qi) >= n)
			return true;
		usleep(250);
	}
	return false;
}

/* Takes the next response. */
static inline blkif_response_t tget(struct tguest *g, unsigned qi)
{
	blkif_response_t r;

	assert_true(tavail(g, qi) > 0);
	memcpy(&r, RING_GET_RESPONSE(&g->q[qi].ring, g->q[qi].ring.rsp_cons), sizeof(r));
	g->q[qi].ring.rsp_cons++;
	return r;
}

/* Pushes what was queued, waits for one response, returns its status. */
static inline int16_t tdo(struct tfx *f, struct tguest *g, unsigned qi, uint64_t id)
{
	blkif_response_t r;

	tpush(g, qi);
	assert_true(twait(f, g, qi, 1));
	r = tget(g, qi);
	assert_int_equal(r.id, id);
	return r.status;
}

static inline void tpattern(struct tguest *g, unsigned first, unsigned n, uint32_t seed)
{
	for (unsigned i = 0; i < n; i++) {
		uint32_t *w = tpage(g, first + i);

		for (unsigned k = 0; k < HV_PAGE_SIZE / 4; k++)
			w[k] = seed * 2654435761u + i * 4096 + k;
	}
}

static inline bool tcheck(struct tguest *g, unsigned first, unsigned n, uint32_t seed)
{
	for (unsigned i = 0; i < n; i++) {
		uint32_t *w = tpage(g, first + i);

		for (unsigned k = 0; k < HV_PAGE_SIZE / 4; k++)
			if (w[k] != seed * 2654435761u + i * 4096 + k)
				return false;
	}
	return true;
}

/* A write of n pages from data page first then a read into data pages
 * first2..: the data came back. */
static inline void tround_trip(struct tfx *f, struct tguest *g, unsigned qi,
			uint64_t sector, unsigned n, uint32_t seed)
{
	tpattern(g, 0, n, seed);
	trw(g, qi, BLKIF_OP_WRITE, 100, sector, n, 0);
	assert_int_equal(tdo(f, g, qi, 100), BLKIF_RSP_OKAY);
	for (unsigned i = 0; i < n; i++)
		memset(tpage(g, 20 + i), 0, HV_PAGE_SIZE);
	trw(g, qi, BLKIF_OP_READ, 101, sector, n, 20);
	assert_int_equal(tdo(f, g, qi, 101), BLKIF_RSP_OKAY);
	assert_true(tcheck(g, 20, n, seed));
}

#endif
