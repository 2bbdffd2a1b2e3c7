/* The block frontend; see blkfront.h.
 *
 * Design, after Linux's xen-blkfront.c:
 *
 *  - Xenstore is asynchronous here (xenbus_xs.h): a device runs one chain of
 *    reads at a time (struct rd), each step's reply issuing the next; a
 *    backend state event during a chain is remembered and the state is
 *    read again when the chain ends.  Writes go out in order on the one
 *    ring, so the backend sees every transport node before our state.
 *  - Data goes through a pool of guest pages (struct gpage), each with a
 *    grant reference for life.  With persistent grants a page stays
 *    granted (writable, blkif.h note 8) and is reused LIFO; without, it is
 *    granted for one request (read-only for a write) and its access ended
 *    after the response.  A page whose access cannot be ended (the backend
 *    still maps it) is quarantined, never reused while granted.  The data
 *    is copied between the user's buffer and the pages, as Linux's bounce
 *    path does: the user's memory is not guest memory here.
 *  - A request larger than one ring slot is split into sub-requests of
 *    segs_per_req pages (11, or the negotiated indirect maximum with
 *    BLKIF_OP_INDIRECT); a FUA write is the write then an empty flush.
 *  - The backend is trusted less than fully: responses are copied once
 *    (RING_COPY_RESPONSE), rsp_prod is checked (RING_RESPONSE_PROD_OVERFLOW),
 *    an id must name a request in flight with the same operation, once.
 *    Anything else breaks the connection: requests in flight fail with
 *    -EIO, the rings are torn down and we go Closed, as Linux's
 *    BLKIF_STATE_ERROR.  Xenstore values are parsed strictly.
 *  - Responses are consumed from the event channel handler and after each
 *    push, with Xen's event suppression and a bounded spin
 *    (pvd/ring_util.h).  The engine (process) is not re-entered: a done
 *    callback that submits only queues, and the engine loops. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>
#include <xen/io/xs_wire.h>

#include "blkfront.h"
#include "gntalloc.h"
#include "guest.h"
#include "nbd.h"
#include "pvd/hv_sim.h"
#include "pvd/log.h"
#include "pvd/num.h"
#include "xenbus_xs.h"

#define SECTOR 512u
#define PATH_LEN FRONTEND_PATH_LEN
#define VAL_LEN 128
#define RD_MAX 16
#define MAX_RING_PAGES (1u << BLKFRONT_MAX_RING_ORDER)
#define SECT_PER_PAGE (HV_PAGE_SIZE / SECTOR)

struct gpage {
	unsigned long gfn;
	void *p;
	grant_ref_t ref;
	bool granted;
	struct gpage *next;
};

struct shadow {
	struct blkio *io;	/* NULL: free */
	uint32_t sub;
	uint8_t op;		/* what the response must echo */
	uint16_t nseg;
	uint8_t nind;
	uint32_t next_free;
	struct gpage **pages;	/* nseg data pages, then nind indirect pages */
};

struct ring {
	struct blkfront *bf;
	unsigned idx;
	bool up;
	blkif_front_ring_t fr;
	unsigned long gfn0;		/* npages consecutive pages */
	grant_ref_t refs[MAX_RING_PAGES];
	bool ref_held[MAX_RING_PAGES];
	evtchn_port_t port;
	bool port_bound;
	unsigned size;			/* RING_SIZE */
	struct shadow *shadow;
	struct gpage **pagebuf;
	uint32_t free_head;
	unsigned inflight;
};

/* A chain of xenstore reads. */
struct rd {
	bool busy;
	unsigned n, pos;
	char paths[RD_MAX][PATH_LEN];
	char vals[RD_MAX][VAL_LEN];
	bool have[RD_MAX];
	void (*cont)(struct blkfront *bf);
};

/* A sub-request to issue again after a reconnection. */
struct retry {
	struct blkio *io;
	uint32_t sub;
	struct retry *next;
};

struct blkfront {
	struct frontend_env env;
	struct frontend_dev *dev;
	const struct blkfront_config *cfg;
	struct blkfront_opts o;
	char devid[FRONTEND_ID_MAX + 1];
	char route[XENBUS_PREFIX_MAX + 1];
	char backend[PATH_LEN];
	domid_t backend_id;
	unsigned vdev;
	bool watching, removed;
	int fstate, bstate, last_bstate;
	bool state_dirty;
	struct rd rd;
	unsigned writes_pending;
	bool write_failed;

	/* Negotiated per connection. */
	unsigned nrings, ring_order, npages;
	unsigned prev_nrings, prev_npages;	/* nodes written last time */
	struct ring rings[BLKFRONT_MAX_QUEUES];
	unsigned next_ring;
	bool persistent, flush, barrier, discard, discard_secure;
	unsigned discard_gran, discard_align;
	unsigned max_indirect, segs_per_req, ind_per_req;
	uint64_t sectors;
	unsigned sector_size, phys_sector_size, info;
	bool connected_once;

	/* Pages. */
	struct gpage *free_pages, *quarantine;
	unsigned npool, pool_max, nfree;

	/* Requests. */
	struct blkio *q_head, *q_tail;
	unsigned nqueued;
	struct retry *retry_head, *retry_tail;
	bool busy, again, broken;
	uint64_t disconnected_since;
	struct event *timer;
	struct event *kick;	/* deferred processing after submit */
	struct nbd_export *nbd;
	char nbd_path[PATH_MAX];
	char uri_path[PATH_MAX + 8];
	struct blkfront_stats st;
};

static void process(struct blkfront *bf);
static void read_state(struct blkfront *bf);
static void rings_teardown(struct blkfront *bf, bool fail_inflight);

void blkfront_opts_default(struct blkfront_opts *o)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	*o = (struct blkfront_opts){
		/* Linux: max_queues 4 but no more than the CPUs, indirect 32. */
		.max_queues = n > 0 && n < 4 ? (unsigned)n : 4,
		.max_ring_order = BLKFRONT_MAX_RING_ORDER,
		.max_indirect_segs = 32,
		.spin_ns = HV_SPIN_NS_DEFAULT,
		.timeout_s = 30,
	};
}

/* ---- parsing what the store says ---- */

/* Value i of the last chain as a number; def when missing; -EINVAL when
 * present but not a number in 0..max. */
static int rd_num(struct blkfront *bf, unsigned i, uint64_t max, uint64_t def,
		  uint64_t *out)
{
	if (!bf->rd.have[i]) {
		*out = def;
		return 0;
	}
	if (pvd_parse_uint(bf->rd.vals[i], max, out) < 0) {
		log_warn("vbd %s: %s: bad value '%.32s'", bf->devid, bf->rd.paths[i],
			 bf->rd.vals[i]);
		return -EINVAL;
	}
	return 0;
}

static bool rd_bool(struct blkfront *bf, unsigned i)
{
	uint64_t v;

	return rd_num(bf, i, UINT32_MAX, 0, &v) == 0 && v != 0;
}

/* ---- xenstore ---- */

static void bf_on_rd(void *arg, const struct xsd_sockmsg *hdr, const char *body);

static void rd_next(struct blkfront *bf)
{
	struct rd *rd = &bf->rd;
	int rc;

	if (rd->pos == rd->n) {
		rd->busy = false;
		rd->cont(bf);
		if (!bf->removed && !rd->busy && bf->state_dirty)
			read_state(bf);
		return;
	}
	rc = xenbus_request(bf->env.xb, XS_READ, 0, rd->paths[rd->pos],
			    (uint32_t)strlen(rd->paths[rd->pos]) + 1, bf_on_rd, bf);
	if (rc < 0) {
		log_warn("vbd %s: cannot read %s: %s", bf->devid, rd->paths[rd->pos],
			 strerror(-rc));
		rd->busy = false;
	}
}

static void bf_on_rd(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct blkfront *bf = arg;
	struct rd *rd = &bf->rd;
	unsigned i = rd->pos;

	rd->have[i] = false;
	if (hdr->type == XS_READ) {
		if (hdr->len < VAL_LEN && strlen(body) == hdr->len) {
			memcpy(rd->vals[i], body, hdr->len + 1);
			rd->have[i] = true;
		} else {
			log_warn("vbd %s: %s: value too long or not text", bf->devid,
				 rd->paths[i]);
		}
	} else if (hdr->type != XS_ERROR || strcmp(body, "ENOENT") != 0) {
		log_warn("vbd %s: reading %s: %s", bf->devid, rd->paths[i],
			 hdr->type == XS_ERROR ? body : "unexpected reply");
	}
	rd->pos++;
	rd_next(bf);
}

/* Starts a chain reading base/keys[i] for each key (base "" and a
 * relative key: our own node). */
static void rd_start(struct blkfront *bf, const char *base,
		     const char *const *keys, unsigned n,
		     void (*cont)(struct blkfront *))
{
	struct rd *rd = &bf->rd;

	rd->busy = true;
	rd->n = n;
	rd->pos = 0;
	rd->cont = cont;
	for (unsigned i = 0; i < n; i++) {
		/* frontend_backend_path_ok leaves room for the longest key. */
		if (snprintf(rd->paths[i], PATH_LEN, "%s/%s", base, keys[i]) >= PATH_LEN)
			rd->paths[i][0] = 0;
		rd->have[i] = false;
	}
	rd_next(bf);
}

static void bf_on_write(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct blkfront *bf = arg;

	if (hdr->type == XS_ERROR) {
		log_warn("vbd %s: a write to the store failed: %s", bf->devid, body);
		bf->write_failed = true;
	}
	if (bf->writes_pending)
		bf->writes_pending--;
}

/* Writes device/vbd/<id>/<key> = val. */
static int xs_put(struct blkfront *bf, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int xs_put(struct blkfront *bf, const char *key, const char *fmt, ...)
{
	char body[PATH_LEN + VAL_LEN];
	va_list ap;
	int n, m, rc;

	n = snprintf(body, sizeof(body), "%s/%s", bf->dev->nodename, key);
	if (n < 0 || (size_t)n + 1 >= sizeof(body))
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	m = vsnprintf(body + n + 1, sizeof(body) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + 1 + m) >= sizeof(body))
		return -ENAMETOOLONG;
	rc = xenbus_request(bf->env.xb, XS_WRITE, 0, body, (uint32_t)(n + 1 + m),
			    bf_on_write, bf);
	if (rc < 0) {
		log_warn("vbd %s: cannot write %s: %s", bf->devid, key, strerror(-rc));
		return rc;
	}
	bf->writes_pending++;
	return 0;
}

static void xs_rm(struct blkfront *bf, const char *key)
{
	char path[PATH_LEN];
	int n = snprintf(path, sizeof(path), "%s/%s", bf->dev->nodename, key);

	if (n > 0 && (size_t)n < sizeof(path) &&
	    xenbus_request(bf->env.xb, XS_RM, 0, path, (uint32_t)n + 1, bf_on_write,
			   bf) == 0)
		bf->writes_pending++;
}

static void switch_state(struct blkfront *bf, int state)
{
	if (bf->fstate == state)
		return;
	log_info("vbd %s: state %d -> %d (backend %d)", bf->devid, bf->fstate,
		 state, bf->bstate);
	bf->fstate = state;
	xs_put(bf, "state", "%d", state);
}

static void tell(struct blkfront *bf, enum blkfront_event ev)
{
	if (bf->cfg && bf->cfg->event)
		bf->cfg->event(bf->cfg->event_arg, bf, bf->devid, ev);
}

/* ---- pages ---- */

static void page_release(struct blkfront *bf, struct gpage *g)
{
	if (g->granted) {
		if (hv_sim_end_access(bf->env.dom, g->ref) < 0) {
			g->next = bf->quarantine;
			bf->quarantine = g;
			return;
		}
		g->granted = false;
	}
	g->next = bf->free_pages;
	bf->free_pages = g;
	bf->nfree++;
}

/* Pages whose access could not be ended: try again. */
static void quarantine_retry(struct blkfront *bf)
{
	struct gpage *q = bf->quarantine;

	bf->quarantine = NULL;
	while (q) {
		struct gpage *next = q->next;

		page_release(bf, q);
		q = next;
	}
}

/* A page granted to the backend: read-only when the backend only reads
 * it (and grants are not persistent). */
static struct gpage *page_get(struct blkfront *bf, bool backend_writes)
{
	struct gpage *g = bf->free_pages;
	int rc;

	if (g) {
		bf->free_pages = g->next;
		bf->nfree--;
	} else {
		if (bf->npool >= bf->pool_max)
			return NULL;
		g = calloc(1, sizeof(*g));
		if (!g)
			return NULL;
		if (hv_sim_page_alloc(bf->env.dom, &g->gfn) < 0) {
			free(g);
			bf->pool_max = bf->npool;	/* the guest is full */
			return NULL;
		}
		if (gntalloc_get(bf->env.gnt, &g->ref) < 0) {
			hv_sim_page_free(bf->env.dom, g->gfn);
			free(g);
			bf->pool_max = bf->npool;
			return NULL;
		}
		g->p = hv_sim_page(bf->env.dom, g->gfn);
		bf->npool++;
	}
	if (!g->granted) {
		rc = hv_sim_grant(bf->env.dom, g->ref, g->gfn, bf->backend_id,
				  !bf->persistent && !backend_writes);
		if (rc < 0) {
			log_warn("vbd %s: grant %u: %s", bf->devid, g->ref, strerror(-rc));
			g->next = bf->free_pages;
			bf->free_pages = g;
			bf->nfree++;
			return NULL;
		}
		g->granted = true;
	}
	return g;
}

/* After a response: a persistent page stays granted. */
static void page_put(struct blkfront *bf, struct gpage *g)
{
	if (bf->persistent && g->granted) {
		g->next = bf->free_pages;
		bf->free_pages = g;
		bf->nfree++;
		return;
	}
	page_release(bf, g);
}

static void pool_free(struct blkfront *bf)
{
	quarantine_retry(bf);
	while (bf->free_pages) {
		struct gpage *g = bf->free_pages;

		bf->free_pages = g->next;
		if (g->granted && hv_sim_end_access(bf->env.dom, g->ref) < 0) {
			/* The backend still maps it: never reuse page or ref. */
			bf->st.grants_leaked++;
			free(g);
			continue;
		}
		gntalloc_put(bf->env.gnt, g->ref);
		hv_sim_page_free(bf->env.dom, g->gfn);
		free(g);
	}
	while (bf->quarantine) {
		struct gpage *g = bf->quarantine;

		bf->quarantine = g->next;
		bf->st.grants_leaked++;
		free(g);
	}
	bf->npool = bf->nfree = 0;
}

/* n consecutive free pages of the guest (a multi-page ring is one
 * mapping on both sides). */
static int pages_alloc_contig(struct blkfront *bf, unsigned n, unsigned long *first)
{
	size_t max = hv_sim_domain_npages(bf->env.dom);
	unsigned long *got = calloc(max, sizeof(*got));
	size_t ngot = 0, run = 0;
	int rc = -ENOMEM;

	if (!got)
		return -ENOMEM;
	while (ngot < max && hv_sim_page_alloc(bf->env.dom, &got[ngot]) == 0) {
		run = ngot && got[ngot] == got[ngot - 1] + 1 ? run + 1 : 1;
		ngot++;
		if (run == n) {
			*first = got[ngot - n];
			ngot -= n;
			rc = 0;
			break;
		}
	}
	for (size_t i = 0; i < ngot; i++)
		hv_sim_page_free(bf->env.dom, got[i]);
	free(got);
	return rc;
}

/* ---- rings ---- */

static void bf_on_port(void *arg, evtchn_port_t port)
{
	struct ring *r = arg;

	process(r->bf);
}

static void ring_down(struct blkfront *bf, struct ring *r)
{
	if (r->port_bound) {
		guest_port_handler_set(bf->env.guest, r->port, NULL, NULL);
		hv_sim_evtchn_unbind(bf->env.dom, r->port);
		r->port_bound = false;
	}
	for (unsigned i = 0; i < bf->npages; i++) {
		if (!r->ref_held[i])
			continue;
		if (hv_sim_end_access(bf->env.dom, r->refs[i]) < 0) {
			/* A backend that died mapping it: page and ref stay. */
			bf->st.grants_leaked++;
			r->gfn0 = ULONG_MAX;
		} else {
			gntalloc_put(bf->env.gnt, r->refs[i]);
		}
		r->ref_held[i] = false;
	}
	if (r->gfn0 != ULONG_MAX && r->up)
		for (unsigned i = 0; i < bf->npages; i++)
			hv_sim_page_free(bf->env.dom, r->gfn0 + i);
	free(r->shadow);
	free(r->pagebuf);
	r->shadow = NULL;
	r->pagebuf = NULL;
	r->up = false;
	r->inflight = 0;
}

static int ring_up(struct blkfront *bf, struct ring *r, unsigned idx)
{
	blkif_sring_t *sring;
	int rc;

	memset(r, 0, sizeof(*r));
	r->bf = bf;
	r->idx = idx;
	rc = pages_alloc_contig(bf, bf->npages, &r->gfn0);
	if (rc < 0) {
		log_err("vbd %s: no %u consecutive guest pages for ring %u",
			bf->devid, bf->npages, idx);
		r->gfn0 = ULONG_MAX;
		return rc;
	}
	r->up = true;
	sring = hv_sim_page(bf->env.dom, r->gfn0);
	memset(sring, 0, (size_t)bf->npages * HV_PAGE_SIZE);
	SHARED_RING_INIT(sring);
	FRONT_RING_ATTACH(&r->fr, sring, 0, (size_t)bf->npages * HV_PAGE_SIZE);
	r->size = RING_SIZE(&r->fr);
	for (unsigned i = 0; i < bf->npages; i++) {
		rc = gntalloc_get(bf->env.gnt, &r->refs[i]);
		if (rc < 0)
			goto fail;
		rc = hv_sim_grant(bf->env.dom, r->refs[i], r->gfn0 + i,
				  bf->backend_id, 0);
		if (rc < 0) {
			gntalloc_put(bf->env.gnt, r->refs[i]);
			goto fail;
		}
		r->ref_held[i] = true;
	}
	rc = hv_sim_evtchn_alloc_unbound(bf->env.dom, bf->backend_id, &r->port);
	if (rc < 0)
		goto fail;
	r->port_bound = true;
	rc = guest_port_handler_set(bf->env.guest, r->port, bf_on_port, r);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	log_err("vbd %s: cannot set up ring %u: %s", bf->devid, idx, strerror(-rc));
	ring_down(bf, r);
	return rc;
}

/* Shadows, once segs_per_req is known (at connect). */
static int ring_shadows(struct blkfront *bf, struct ring *r)
{
	unsigned per = bf->segs_per_req + bf->ind_per_req;

	free(r->shadow);
	free(r->pagebuf);
	r->shadow = calloc(r->size, sizeof(*r->shadow));
	r->pagebuf = calloc((size_t)r->size * per, sizeof(*r->pagebuf));
	if (!r->shadow || !r->pagebuf)
		return -ENOMEM;
	for (unsigned i = 0; i < r->size; i++) {
		r->shadow[i].next_free = i + 1;
		r->shadow[i].pages = r->pagebuf + (size_t)i * per;
	}
	r->free_head = 0;
	r->inflight = 0;
	return 0;
}

/* ---- requests ---- */

static uint64_t chunk_bytes(const struct blkfront *bf)
{
	return (uint64_t)bf->segs_per_req * HV_PAGE_SIZE;
}

static void queue_io(struct blkfront *bf, struct blkio *io)
{
	io->next = NULL;
	if (bf->q_tail)
		bf->q_tail->next = io;
	else
		bf->q_head = io;
	bf->q_tail = io;
	bf->nqueued++;
}

static void io_finish(struct blkfront *bf, struct blkio *io)
{
	int err = io->err;

	if (!err && io->fua && !io->flush_phase && (bf->flush || bf->barrier)) {
		/* The data is written: now make it stable. */
		io->flush_phase = true;
		io->nsubs = 1;
		io->next_sub = io->ndone = 0;
		queue_io(bf, io);
		bf->again = true;
		return;
	}
	io->done(io, err);
}

static void sub_done(struct blkfront *bf, struct blkio *io, int err)
{
	if (err && !io->err)
		io->err = err;
	if (++io->ndone == io->nsubs)
		io_finish(bf, io);
}

/* The ring with the most free slots. */
static struct ring *pick_ring(struct blkfront *bf)
{
	struct ring *best = NULL;
	unsigned best_free = 0;

	for (unsigned k = 0; k < bf->nrings; k++) {
		struct ring *r = &bf->rings[(bf->next_ring + k) % bf->nrings];
		unsigned f = r->size - r->inflight;

		if (f > best_free && !RING_FULL(&r->fr)) {
			best = r;
			best_free = f;
		}
	}
	bf->next_ring = (bf->next_ring + 1) % (bf->nrings ? bf->nrings : 1);
	return best;
}

/* What one sub-request is on the ring. */
struct plan {
	uint8_t op;
	bool wr;
	unsigned nseg, nind;	/* data pages, indirect pages */
	uint64_t off, len;	/* of the data, within io */
};

/* The operation and pages of sub-request sub of io.  -E2BIG when it was
 * planned for a backend that took more segments. */
static int plan_sub(const struct blkfront *bf, const struct blkio *io,
		    uint32_t sub, struct plan *p)
{
	*p = (struct plan){ 0 };
	if (io->flush_phase || io->op == BLKIO_FLUSH) {
		p->op = bf->flush ? BLKIF_OP_FLUSH_DISKCACHE : BLKIF_OP_WRITE_BARRIER;
		return 0;
	}
	if (io->op == BLKIO_DISCARD) {
		p->op = BLKIF_OP_DISCARD;
		return 0;
	}
	p->wr = io->op == BLKIO_WRITE;
	p->op = p->wr ? BLKIF_OP_WRITE : BLKIF_OP_READ;
	p->off = (uint64_t)sub * io->chunk;
	p->len = io->len - p->off < io->chunk ? io->len - p->off : io->chunk;
	p->nseg = (unsigned)((p->len + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE);
	if (p->nseg > bf->segs_per_req)
		return -E2BIG;
	if (p->nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		p->nind = (unsigned)((p->nseg + BLKFRONT_SEGS_PER_INDIRECT_PAGE - 1) /
				     BLKFRONT_SEGS_PER_INDIRECT_PAGE);
	return 0;
}

/* The shadow's pages: all or nothing (-EAGAIN). */
static int plan_pages(struct blkfront *bf, struct shadow *s, const struct plan *p)
{
	for (unsigned i = 0; i < p->nseg + p->nind; i++) {
		/* The backend writes data pages of a read; it only reads
		 * indirect pages and the pages of a write. */
		s->pages[i] = page_get(bf, i < p->nseg && !p->wr);
		if (!s->pages[i]) {
			while (i--)
				page_put(bf, s->pages[i]);
			return -EAGAIN;
		}
	}
	return 0;
}

/* The request's header: discard, indirect or direct. */
static void req_header(const struct blkfront *bf, const struct blkio *io,
		       const struct plan *p, const struct shadow *s, uint32_t id,
		       blkif_request_t *req)
{
	if (p->op == BLKIF_OP_DISCARD) {
		blkif_request_discard_t *d = (blkif_request_discard_t *)req;

		d->operation = BLKIF_OP_DISCARD;
		d->flag = 0;
		d->handle = (blkif_vdev_t)bf->vdev;
		d->id = id;
		d->sector_number = io->offset / SECTOR;
		d->nr_sectors = io->len / SECTOR;
	} else if (p->nind) {
		blkif_request_indirect_t *ind = (blkif_request_indirect_t *)req;

		ind->operation = BLKIF_OP_INDIRECT;
		ind->indirect_op = p->op;
		ind->nr_segments = (uint16_t)p->nseg;
		ind->id = id;
		ind->sector_number = (io->offset + p->off) / SECTOR;
		ind->handle = (blkif_vdev_t)bf->vdev;
		for (unsigned k = 0; k < p->nind; k++)
			ind->indirect_grefs[k] = s->pages[p->nseg + k]->ref;
	} else {
		req->operation = p->op;
		req->nr_segments = (uint8_t)p->nseg;
		req->handle = (blkif_vdev_t)bf->vdev;
		req->id = id;
		req->sector_number = (io->offset + p->off) / SECTOR;
	}
}

/* The segments (in the request, or in its indirect pages), and a write's
 * data in their pages. */
static void req_segments(const struct blkio *io, const struct plan *p,
			 const struct shadow *s, blkif_request_t *req)
{
	for (unsigned i = 0; i < p->nseg; i++) {
		uint64_t seg_len = p->len - (uint64_t)i * HV_PAGE_SIZE;
		struct blkif_request_segment seg;

		if (seg_len > HV_PAGE_SIZE)
			seg_len = HV_PAGE_SIZE;
		seg = (struct blkif_request_segment){
			.gref = s->pages[i]->ref, .first_sect = 0,
			.last_sect = (uint8_t)(seg_len / SECTOR - 1),
		};
		if (p->wr)
			blkio_copy_data(io, p->off + (uint64_t)i * HV_PAGE_SIZE,
					s->pages[i]->p, seg_len);
		if (p->nind) {
			struct blkif_request_segment *segs =
				s->pages[p->nseg + i / BLKFRONT_SEGS_PER_INDIRECT_PAGE]->p;

			segs[i % BLKFRONT_SEGS_PER_INDIRECT_PAGE] = seg;
		} else {
			req->seg[i] = seg;
		}
	}
}

/* Puts sub-request sub of io on ring r.  0, or -EAGAIN when pages ran
 * out (nothing taken). */
static int issue(struct blkfront *bf, struct ring *r, struct blkio *io,
		 uint32_t sub)
{
	blkif_request_t req = { 0 };
	uint32_t id = r->free_head;
	struct shadow *s = &r->shadow[id];
	struct plan p;
	int rc;

	rc = plan_sub(bf, io, sub, &p);
	if (rc == 0)
		rc = plan_pages(bf, s, &p);
	if (rc < 0)
		return rc;
	req_header(bf, io, &p, s, id, &req);
	req_segments(io, &p, s, &req);
	r->free_head = s->next_free;
	s->io = io;
	s->sub = sub;
	s->op = p.op;
	s->nseg = (uint16_t)p.nseg;
	s->nind = (uint8_t)p.nind;
	*RING_GET_REQUEST(&r->fr, r->fr.req_prod_pvt) = req;
	r->fr.req_prod_pvt++;
	r->inflight++;
	bf->st.requests++;
	return 0;
}

static void shadow_free(struct blkfront *bf, struct ring *r, uint32_t id)
{
	struct shadow *s = &r->shadow[id];

	for (unsigned i = 0; i < (unsigned)s->nseg + s->nind; i++)
		page_put(bf, s->pages[i]);
	s->io = NULL;
	s->next_free = r->free_head;
	r->free_head = id;
	r->inflight--;
}

static bool can_issue(struct blkfront *bf)
{
	return bf->fstate == XenbusStateConnected && !bf->broken && bf->nrings;
}

/* Issues what is queued, as far as rings and pages allow. */
static void kick_queue(struct blkfront *bf)
{
	bool pushed[BLKFRONT_MAX_QUEUES] = { false };

	if (!can_issue(bf))
		return;
	while (bf->retry_head) {
		struct retry *rt = bf->retry_head;
		struct ring *r = pick_ring(bf);

		int rc;

		if (!r || (rc = issue(bf, r, rt->io, rt->sub)) == -EAGAIN)
			goto push;
		if (rc < 0)
			sub_done(bf, rt->io, -EIO);
		else
			pushed[r->idx] = true;
		bf->retry_head = rt->next;
		if (!bf->retry_head)
			bf->retry_tail = NULL;
		free(rt);
	}
	while (bf->q_head) {
		struct blkio *io = bf->q_head;
		struct ring *r = pick_ring(bf);

		if (!r)
			break;
		if (((io->op == BLKIO_FLUSH || io->flush_phase) && !bf->flush &&
		     !bf->barrier) || (io->op == BLKIO_DISCARD && !io->len)) {
			/* Nothing to flush with (or no more: a backend may
			 * drop the feature): done, as Linux does.  Or a
			 * discard smaller than a granule. */
			bf->q_head = io->next;
			bf->nqueued--;
			if (!bf->q_head)
				bf->q_tail = NULL;
			io->ndone = io->nsubs - 1;
			sub_done(bf, io, 0);
			continue;
		}
		for (;;) {
			int rc = issue(bf, r, io, io->next_sub);
			bool last;

			if (rc == -EAGAIN)
				goto push;
			last = ++io->next_sub == io->nsubs;
			if (last) {
				/* Off the queue before sub_done may finish it:
				 * its owner may reuse it at once. */
				bf->q_head = io->next;
				bf->nqueued--;
				if (!bf->q_head)
					bf->q_tail = NULL;
			}
			if (rc < 0)
				sub_done(bf, io, -EIO);
			else
				pushed[r->idx] = true;
			if (last)
				break;
			r = pick_ring(bf);
			if (!r)
				goto push;
		}
	}
push:
	for (unsigned k = 0; k < bf->nrings; k++) {
		struct ring *r = &bf->rings[k];

		if (pushed[k])
			HV_RING_PUSH_REQUESTS(&r->fr, (bf->st.notifies++,
				hv_sim_evtchn_notify(bf->env.dom, r->port)));
	}
}

static int status_errno(int16_t status)
{
	return status == BLKIF_RSP_OKAY ? 0 :
	       status == BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP : -EIO;
}

/* Consumes the responses r holds now (no waiting).  Their count, or -1
 * when the backend broke the protocol. */
static int poll_ring(struct blkfront *bf, struct ring *r)
{
	RING_IDX i, rp;
	int got = 0;

	while (RING_HAS_UNCONSUMED_RESPONSES(&r->fr) && !bf->again) {
		rp = r->fr.sring->rsp_prod;
		PVD_RMB();
		if (RING_RESPONSE_PROD_OVERFLOW(&r->fr, rp) ||
		    rp - r->fr.rsp_cons > r->fr.req_prod_pvt - r->fr.rsp_cons) {
			log_err("vbd %s: backend claims %u responses, %u requests in flight",
				bf->devid, rp - r->fr.rsp_cons, r->inflight);
			return -1;
		}
		for (i = r->fr.rsp_cons; i != rp; i++) {
			blkif_response_t rsp;
			struct shadow *s;
			struct blkio *io;
			uint64_t id;
			int err;

			RING_COPY_RESPONSE(&r->fr, i, &rsp);
			id = rsp.id;
			if (id >= r->size || !r->shadow[id].io) {
				log_err("vbd %s: response id %" PRIu64 " names no request in flight",
					bf->devid, id);
				r->fr.rsp_cons = i;
				return -1;
			}
			s = &r->shadow[id];
			if (rsp.operation != s->op) {
				log_err("vbd %s: response to %u has operation %u",
					bf->devid, s->op, rsp.operation);
				r->fr.rsp_cons = i;
				return -1;
			}
			bf->st.responses++;
			io = s->io;
			err = status_errno(rsp.status);
			if (s->op == BLKIF_OP_FLUSH_DISKCACHE ||
			    s->op == BLKIF_OP_WRITE_BARRIER) {
				if (err == -EOPNOTSUPP || (err && s->nseg == 0)) {
					/* Linux: the backend dropped the
					 * feature; stop flushing. */
					log_warn("vbd %s: %s not supported any more",
						 bf->devid, s->op == BLKIF_OP_FLUSH_DISKCACHE ?
						 "flush" : "barrier");
					bf->flush = bf->barrier = false;
					err = 0;
				}
			} else if (s->op == BLKIF_OP_DISCARD && err == -EOPNOTSUPP) {
				bf->discard = false;
			} else if (!err && s->op == BLKIF_OP_READ) {
				uint64_t off = (uint64_t)s->sub * io->chunk;
				uint64_t left = io->len - off;

				for (unsigned k = 0; k < s->nseg; k++, left -= HV_PAGE_SIZE)
					memcpy((char *)io->buf + off + (uint64_t)k * HV_PAGE_SIZE,
					       s->pages[k]->p,
					       left < HV_PAGE_SIZE ? left : HV_PAGE_SIZE);
			}
			shadow_free(bf, r, (uint32_t)id);
			sub_done(bf, io, err);
			got++;
		}
		r->fr.rsp_cons = i;
	}
	return got;
}

static bool any_responses(struct blkfront *bf)
{
	for (unsigned k = 0; k < bf->nrings; k++)
		if (bf->rings[k].up && bf->rings[k].shadow &&
		    RING_HAS_UNCONSUMED_RESPONSES(&bf->rings[k].fr))
			return true;
	return false;
}

/* Xen's final check on every ring: asks the backend to notify on its next
 * response.  True when one arrived meanwhile. */
static bool arm_rings(struct blkfront *bf)
{
	bool work = false;

	for (unsigned k = 0; k < bf->nrings; k++) {
		struct ring *r = &bf->rings[k];
		int more;

		if (!r->up || !r->shadow)
			continue;
		RING_FINAL_CHECK_FOR_RESPONSES(&r->fr, more);
		work |= more != 0;
	}
	return work;
}

static void handle_broken(struct blkfront *bf)
{
	bf->st.bad_responses++;
	log_err("vbd %s: backend misbehaved: disconnecting (requests in flight fail)",
		bf->devid);
	rings_teardown(bf, true);
	switch_state(bf, XenbusStateClosed);
	tell(bf, BLKFRONT_DISCONNECTED);
	bf->broken = false;
}

/* Issues what is queued and consumes responses.  Once responses were
 * consumed it goes back to the event loop (bf->kick) instead of spinning:
 * their owners' work (an NBD reply to send, a request read off a socket)
 * runs there, and a client waiting for a reply shares this CPU.  Only a
 * round that found nothing spins, on all rings at once, for up to
 * spin_ns; then the rings are armed and it sleeps. */
static void process(struct blkfront *bf)
{
	if (bf->busy) {
		bf->again = true;
		return;
	}
	bf->busy = true;
	for (;;) {
		unsigned inflight = 0;
		int got = 0;

		bf->again = false;
		kick_queue(bf);
		for (unsigned k = 0; k < bf->nrings && !bf->broken; k++) {
			struct ring *r = &bf->rings[k];
			int n;

			if (!r->up || !r->shadow)
				continue;
			n = poll_ring(bf, r);
			if (n < 0)
				bf->broken = true;
			else
				got += n;
			inflight += r->inflight;
		}
		if (bf->broken || !can_issue(bf))
			break;
		if (bf->again)
			continue;
		if (got) {
			/* Armed too: should the loop stay busy with other
			 * events, the backend's next response still reaches us
			 * through the event channel. */
			event_active(bf->kick, EV_TIMEOUT, 0);
			arm_rings(bf);
			break;
		}
		if (inflight && HV_SPIN_UNTIL(any_responses(bf), bf->o.spin_ns))
			continue;
		if (!arm_rings(bf))
			break;
	}
	bf->busy = false;
	if (bf->broken)
		handle_broken(bf);
}

static void bf_on_kick(evutil_socket_t fd, short what, void *arg)
{
	process(arg);
}

int blkfront_submit(void *disk, struct blkio *io)
{
	struct blkfront *bf = disk;
	uint64_t align = bf->sector_size ? bf->sector_size : SECTOR;
	uint64_t size = bf->sectors * SECTOR;

	if (bf->removed)
		return -ENODEV;
	if (!bf->connected_once)
		return -ENOTCONN;
	io->err = 0;
	io->ndone = io->next_sub = 0;
	io->nsubs = 1;
	io->flush_phase = false;
	io->t_queued = hv_now_ns();
	io->chunk = (uint32_t)chunk_bytes(bf);
	switch (io->op) {
	case BLKIO_READ:
	case BLKIO_WRITE:
		if (!io->len || io->len > BLKIO_MAX_LEN ||
		    (!io->buf && !(io->op == BLKIO_WRITE && io->iovcnt)))
			return -EINVAL;
		if (io->op == BLKIO_WRITE && io->iovcnt) {
			uint64_t total = 0;

			for (unsigned k = 0; k < io->iovcnt; k++)
				total += io->iov[k].iov_len;
			if (total < io->len)
				return -EINVAL;
		}
		if (io->op == BLKIO_WRITE && (bf->info & VDISK_READONLY))
			return -EROFS;
		if (io->offset % align || io->len % align)
			return -EINVAL;
		if (io->offset > size || io->len > size - io->offset)
			return -ENOSPC;
		io->nsubs = (uint32_t)((io->len + io->chunk - 1) / io->chunk);
		break;
	case BLKIO_DISCARD: {
		/* Only whole granules; less is not worth a request. */
		uint64_t g = bf->discard_gran ? bf->discard_gran : align;
		uint64_t a = bf->discard_align % g, start, end;

		if (!bf->discard)
			return -EOPNOTSUPP;
		if (bf->info & VDISK_READONLY)
			return -EROFS;
		if (io->offset % align || io->len % align)
			return -EINVAL;
		if (io->offset > size || io->len > size - io->offset)
			return -ENOSPC;
		start = io->offset < a ? a : (io->offset - a + g - 1) / g * g + a;
		end = io->offset + io->len;
		end = end < a ? 0 : (end - a) / g * g + a;
		io->offset = start;
		io->len = end > start ? end - start : 0;
		break;
	}
	case BLKIO_FLUSH:
		break;
	default:
		return -EINVAL;
	}
	queue_io(bf, io);
	/* From the event loop: never complete anything inside submit, and
	 * push a burst of submissions with one notification. */
	event_active(bf->kick, EV_TIMEOUT, 0);
	return 0;
}

/* Fails everything waiting: queued requests and sub-requests to issue
 * again.  A request partly in flight completes with its last sub. */
static void fail_waiting(struct blkfront *bf, int err)
{
	struct blkio *io;

	while (bf->retry_head) {
		struct retry *rt = bf->retry_head;

		bf->retry_head = rt->next;
		sub_done(bf, rt->io, err);
		free(rt);
	}
	bf->retry_tail = NULL;
	/* Flush phases that sub_done re-queues land at the tail: loop. */
	while ((io = bf->q_head)) {
		bf->q_head = io->next;
		if (!bf->q_head)
			bf->q_tail = NULL;
		bf->nqueued--;
		if (!io->err)
			io->err = err;
		io->flush_phase = true;	/* no second phase after a failure */
		io->ndone += io->nsubs - io->next_sub - 1;
		io->next_sub = io->nsubs;
		sub_done(bf, io, err);
	}
}

/* Tears the rings down.  Requests in flight are issued again on the next
 * connection, or (fail_inflight) fail with -EIO. */
static void rings_teardown(struct blkfront *bf, bool fail_inflight)
{
	for (unsigned k = 0; k < bf->nrings; k++) {
		struct ring *r = &bf->rings[k];

		for (unsigned id = 0; r->shadow && id < r->size; id++) {
			struct shadow *s = &r->shadow[id];
			struct blkio *io = s->io;
			uint32_t sub = s->sub;

			if (!io)
				continue;
			shadow_free(bf, r, id);
			if (fail_inflight) {
				sub_done(bf, io, -EIO);
			} else {
				struct retry *rt = calloc(1, sizeof(*rt));

				if (!rt) {
					sub_done(bf, io, -ENOMEM);
					continue;
				}
				rt->io = io;
				rt->sub = sub;
				if (bf->retry_tail)
					bf->retry_tail->next = rt;
				else
					bf->retry_head = rt;
				bf->retry_tail = rt;
			}
		}
		ring_down(bf, r);
	}
	/* Persistent pages granted under the old connection: end access. */
	{
		struct gpage *g = bf->free_pages;

		bf->free_pages = NULL;
		bf->nfree = 0;
		while (g) {
			struct gpage *next = g->next;

			page_release(bf, g);
			g = next;
		}
	}
	quarantine_retry(bf);
	if (bf->nrings) {
		bf->prev_nrings = bf->nrings;
		bf->prev_npages = bf->npages;
	}
	bf->nrings = 0;
	if (!bf->disconnected_since)
		bf->disconnected_since = hv_now_ns();
}

/* ---- the state machine ---- */

static void cont_connect(struct blkfront *bf);
static void cont_resize(struct blkfront *bf);

static const char *const connect_keys[] = {
	"sectors", "info", "sector-size", "physical-sector-size",
	"feature-flush-cache", "feature-barrier", "feature-discard",
	"discard-granularity", "discard-alignment", "discard-secure",
	"feature-max-indirect-segments", "feature-persistent",
};
enum { K_SECTORS, K_INFO, K_SSIZE, K_PSSIZE, K_FLUSH, K_BARRIER, K_DISCARD,
       K_DGRAN, K_DALIGN, K_DSECURE, K_INDIRECT, K_PERSISTENT };

static void start_connect(struct blkfront *bf)
{
	rd_start(bf, bf->backend, connect_keys,
		 sizeof(connect_keys) / sizeof(connect_keys[0]), cont_connect);
}

static void cont_talk(struct blkfront *bf);

static void start_talk(struct blkfront *bf)
{
	static const char *const keys[] = {
		"max-ring-page-order", "multi-queue-max-queues",
	};

	rd_start(bf, bf->backend, keys, 2, cont_talk);
}

/* Backend InitWait: rings, event channels, the transport nodes, then
 * Initialised. */
static void cont_talk(struct blkfront *bf)
{
	uint64_t order, queues;
	char key[64];
	int rc = 0;

	if (rd_num(bf, 0, 32, 0, &order) < 0 || rd_num(bf, 1, 1024, 1, &queues) < 0)
		goto fail;
	bf->ring_order = order < bf->o.max_ring_order ? (unsigned)order :
			 bf->o.max_ring_order;
	bf->npages = 1u << bf->ring_order;
	bf->nrings = queues < bf->o.max_queues ? (unsigned)queues : bf->o.max_queues;
	if (!bf->nrings)
		bf->nrings = 1;
	for (unsigned k = 0; k < bf->nrings; k++) {
		rc = ring_up(bf, &bf->rings[k], k);
		if (rc < 0) {
			for (unsigned j = 0; j < k; j++)
				ring_down(bf, &bf->rings[j]);
			bf->nrings = 0;
			goto fail;
		}
	}
	bf->disconnected_since = bf->disconnected_since ? bf->disconnected_since :
				 hv_now_ns();
	/* Nodes of a previous connection with another layout. */
	if (bf->prev_nrings > 1 && bf->nrings == 1) {
		xs_rm(bf, "multi-queue-num-queues");
		for (unsigned k = 0; k < bf->prev_nrings; k++) {
			snprintf(key, sizeof(key), "queue-%u", k);
			xs_rm(bf, key);
		}
	}
	if (bf->prev_npages > 1 && bf->npages == 1) {
		xs_rm(bf, "ring-page-order");
		for (unsigned i = 0; i < bf->prev_npages; i++) {
			snprintf(key, sizeof(key), "ring-ref%u", i);
			xs_rm(bf, key);
		}
	}
	if (bf->npages > 1)
		rc |= xs_put(bf, "ring-page-order", "%u", bf->ring_order);
	if (bf->nrings > 1)
		rc |= xs_put(bf, "multi-queue-num-queues", "%u", bf->nrings);
	for (unsigned k = 0; k < bf->nrings; k++) {
		struct ring *r = &bf->rings[k];
		char dir[24] = "";

		if (bf->nrings > 1 &&
		    snprintf(dir, sizeof(dir), "queue-%u/", k) >= (int)sizeof(dir))
			rc = -ENAMETOOLONG;	/* k < BLKFRONT_MAX_QUEUES: never */
		if (bf->npages == 1) {
			snprintf(key, sizeof(key), "%sring-ref", dir);
			rc |= xs_put(bf, key, "%u", r->refs[0]);
		} else {
			for (unsigned i = 0; i < bf->npages; i++) {
				snprintf(key, sizeof(key), "%sring-ref%u", dir, i);
				rc |= xs_put(bf, key, "%u", r->refs[i]);
			}
		}
		snprintf(key, sizeof(key), "%sevent-channel", dir);
		rc |= xs_put(bf, key, "%u", r->port);
	}
	rc |= xs_put(bf, "protocol", "%s", XEN_IO_PROTO_ABI_NATIVE);
	rc |= xs_put(bf, "feature-persistent", "%u", bf->o.no_persistent ? 0u : 1u);
	if (rc)
		goto fail;
	log_info("vbd %s: %u ring(s) of %u page(s), backend %s (dom %u)",
		 bf->devid, bf->nrings, bf->npages, bf->backend,
		 (unsigned)bf->backend_id);
	switch_state(bf, XenbusStateInitialised);
	if (bf->bstate == XenbusStateConnected)
		start_connect(bf);
	return;
fail:
	log_err("vbd %s: cannot connect to the backend", bf->devid);
	rings_teardown(bf, false);
	switch_state(bf, XenbusStateClosed);
}

/* The disk's numbers from the backend: size, info, sector sizes,
 * discard geometry, indirect segments.  0, or -EINVAL (logged). */
static int read_disk(struct blkfront *bf, uint64_t *gran, uint64_t *align,
		     uint64_t *indirect)
{
	uint64_t sectors, info, ssize, pssize;

	if (!bf->rd.have[K_SECTORS] || !bf->rd.have[K_INFO] || !bf->rd.have[K_SSIZE]) {
		log_err("vbd %s: backend lacks sectors, info or sector-size", bf->devid);
		return -EINVAL;
	}
	if (rd_num(bf, K_SECTORS, UINT64_MAX / SECTOR, 0, &sectors) < 0 ||
	    rd_num(bf, K_INFO, UINT32_MAX, 0, &info) < 0 ||
	    rd_num(bf, K_SSIZE, 65536, 0, &ssize) < 0 ||
	    ssize < SECTOR || (ssize & (ssize - 1)) ||
	    rd_num(bf, K_PSSIZE, 1u << 20, ssize, &pssize) < 0 || pssize % ssize ||
	    rd_num(bf, K_DGRAN, UINT32_MAX, ssize, gran) < 0 ||
	    rd_num(bf, K_DALIGN, UINT32_MAX, 0, align) < 0 ||
	    rd_num(bf, K_INDIRECT, UINT32_MAX, 0, indirect) < 0) {
		log_err("vbd %s: bad disk properties from the backend", bf->devid);
		return -EINVAL;
	}
	bf->sectors = sectors;
	bf->info = (unsigned)info;
	bf->sector_size = (unsigned)ssize;
	bf->phys_sector_size = (unsigned)pssize;
	return 0;
}

/* The features we use: the backend's, less what the options turn off. */
static void pick_features(struct blkfront *bf, uint64_t gran, uint64_t align,
			  uint64_t indirect)
{
	/* As Linux: flush-cache above barrier; both off with --blk-no-flush. */
	bf->barrier = !bf->o.no_flush && rd_bool(bf, K_BARRIER);
	bf->flush = !bf->o.no_flush && rd_bool(bf, K_FLUSH);
	if (bf->flush)
		bf->barrier = false;
	bf->discard = !bf->o.no_discard && rd_bool(bf, K_DISCARD);
	bf->discard_gran = gran ? (unsigned)gran : bf->sector_size;
	bf->discard_align = (unsigned)align;
	bf->discard_secure = rd_bool(bf, K_DSECURE);
	bf->persistent = !bf->o.no_persistent && rd_bool(bf, K_PERSISTENT);
	if (indirect > bf->o.max_indirect_segs)
		indirect = bf->o.max_indirect_segs;
	if (bf->o.no_indirect || indirect <= BLKIF_MAX_SEGMENTS_PER_REQUEST)
		indirect = 0;
	bf->max_indirect = (unsigned)indirect;
	bf->segs_per_req = indirect ? (unsigned)indirect : BLKIF_MAX_SEGMENTS_PER_REQUEST;
	bf->ind_per_req = indirect ? (unsigned)((indirect + BLKFRONT_SEGS_PER_INDIRECT_PAGE - 1) /
						BLKFRONT_SEGS_PER_INDIRECT_PAGE) : 0;
}

/* Shadows for every ring, and a page pool enough for every slot of every
 * ring, within half the guest's memory. */
static int alloc_requests(struct blkfront *bf)
{
	size_t want = 0, cap = hv_sim_domain_npages(bf->env.dom) / 2;
	int rc;

	for (unsigned k = 0; k < bf->nrings; k++) {
		rc = ring_shadows(bf, &bf->rings[k]);
		if (rc < 0)
			return rc;
		want += (size_t)bf->rings[k].size * (bf->segs_per_req + bf->ind_per_req);
	}
	bf->pool_max = (unsigned)(want < cap ? want : cap);
	if (bf->pool_max < bf->segs_per_req + bf->ind_per_req) {
		log_err("vbd %s: guest memory too small for one request", bf->devid);
		return -ENOMEM;
	}
	return 0;
}

/* The disk as its NBD export offers it. */
static void nbd_disk_of(const struct blkfront *bf, struct nbd_disk *d)
{
	struct blkfront_info bi;

	blkfront_get_info(bf, &bi);
	*d = (struct nbd_disk){ .size = bi.size, .block = bi.sector_size,
				.readonly = bi.readonly, .can_flush = bi.can_flush,
				.can_trim = bi.can_discard };
}

/* The disk's NBD export, on <guest dir>/vbd-<devid>.nbd, and a file
 * beside it saying where to reach it (for pvctl block-list). */
static void nbd_start(struct blkfront *bf)
{
	struct nbd_config nc = {
		.path = bf->nbd_path, .name = bf->devid,
		.submit = blkfront_submit, .submit_arg = bf,
	};
	FILE *f;

	nbd_disk_of(bf, &nc.disk);
	if (snprintf(bf->nbd_path, sizeof(bf->nbd_path), "%s/vbd-%s.nbd",
		     guest_dir(bf->env.guest), bf->devid) >= (int)sizeof(bf->nbd_path))
		bf->nbd_path[0] = 0;	/* nbd_export_start refuses */
	if (snprintf(bf->uri_path, sizeof(bf->uri_path), "%s.uri",
		     bf->nbd_path) >= (int)sizeof(bf->uri_path))
		bf->uri_path[0] = 0;
	if (nbd_export_start(&bf->nbd, bf->env.base, &nc) < 0)
		return;
	f = fopen(bf->uri_path, "w");
	if (f) {
		fprintf(f, "nbd+unix:///?socket=%s\n", bf->nbd_path);
		fclose(f);
	}
	log_info("vbd %s: NBD export nbd+unix:///?socket=%s", bf->devid, bf->nbd_path);
}

/* A new connection or size: the export learns it (started once). */
static void nbd_refresh(struct blkfront *bf)
{
	struct nbd_disk d;

	if (bf->nbd) {
		nbd_disk_of(bf, &d);
		nbd_export_update(bf->nbd, &d);
	} else if (!bf->o.no_nbd && bf->env.guest) {
		nbd_start(bf);
	}
}

/* Backend Connected: the disk's properties and features. */
static void cont_connect(struct blkfront *bf)
{
	uint64_t gran, align, indirect;
	struct blkfront_info bi;
	bool first;

	if (bf->bstate != XenbusStateConnected || bf->fstate != XenbusStateInitialised)
		return;	/* the backend moved on meanwhile: state is read again */
	if (read_disk(bf, &gran, &align, &indirect) < 0)
		goto fail;
	pick_features(bf, gran, align, indirect);
	if (alloc_requests(bf) < 0)
		goto fail;
	first = !bf->connected_once;
	bf->connected_once = true;
	bf->disconnected_since = 0;
	switch_state(bf, XenbusStateConnected);
	blkfront_get_info(bf, &bi);
	log_info("vbd %s: connected: %" PRIu64 " bytes, sector %u, %s%s%s%s%s, %u segments per request",
		 bf->devid, bi.size, bi.sector_size, bi.readonly ? "read-only " : "",
		 bf->flush ? "flush " : bf->barrier ? "barrier " : "",
		 bf->discard ? "discard " : "", bf->persistent ? "persistent " : "",
		 bf->max_indirect ? "indirect" : "", bf->segs_per_req);
	nbd_refresh(bf);
	if (!first)
		bf->st.reconnects++;
	tell(bf, BLKFRONT_CONNECTED);
	process(bf);
	return;
fail:
	rings_teardown(bf, false);
	switch_state(bf, XenbusStateClosed);
}

static void cont_resize(struct blkfront *bf)
{
	uint64_t sectors;

	if (bf->fstate != XenbusStateConnected || !bf->rd.have[0] ||
	    rd_num(bf, 0, UINT64_MAX / SECTOR, 0, &sectors) < 0 ||
	    sectors == bf->sectors)
		return;
	log_info("vbd %s: capacity %" PRIu64 " -> %" PRIu64 " sectors", bf->devid,
		 bf->sectors, sectors);
	bf->sectors = sectors;
	if (bf->nbd)
		nbd_refresh(bf);
}

static void cont_state(struct blkfront *bf)
{
	uint64_t v;
	int bs;

	bf->state_dirty = false;
	if (!bf->rd.have[0])
		bs = XenbusStateClosed;		/* the backend is gone */
	else if (rd_num(bf, 0, 8, 0, &v) < 0)
		bs = XenbusStateUnknown;
	else
		bs = (int)v;
	bf->last_bstate = bf->bstate;
	bf->bstate = bs;
	log_debug("vbd %s: backend state %d, ours %d", bf->devid, bs, bf->fstate);
	switch (bs) {
	case XenbusStateInitWait:
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (bf->fstate == XenbusStateInitialised ||
		    bf->fstate == XenbusStateConnected) {
			/* InitWait again: the backend started over. */
			if (bs != XenbusStateInitWait ||
			    bf->last_bstate == XenbusStateInitWait)
				break;
			log_info("vbd %s: backend restarted: reconnecting", bf->devid);
			rings_teardown(bf, false);
			tell(bf, BLKFRONT_DISCONNECTED);
			bf->fstate = XenbusStateInitialising;
		} else if (bf->fstate == XenbusStateClosed ||
			   bf->fstate == XenbusStateClosing) {
			bf->fstate = XenbusStateInitialising;
		}
		if (bf->fstate == XenbusStateInitialising ||
		    bf->fstate == XenbusStateUnknown) {
			start_talk(bf);
			return;
		}
		break;
	case XenbusStateClosing:
	case XenbusStateClosed:
		if (bf->fstate != XenbusStateClosed) {
			bool was = bf->fstate == XenbusStateConnected;

			rings_teardown(bf, false);
			switch_state(bf, XenbusStateClosed);
			if (was)
				tell(bf, BLKFRONT_DISCONNECTED);
		}
		return;
	default:
		return;
	}
	if (bs == XenbusStateConnected) {
		if (bf->fstate == XenbusStateInitialised)
			start_connect(bf);
		else if (bf->fstate == XenbusStateConnected) {
			static const char *const k[] = { "sectors" };

			rd_start(bf, bf->backend, k, 1, cont_resize);
		}
	}
}

static void read_state(struct blkfront *bf)
{
	static const char *const k[] = { "state" };

	if (bf->rd.busy) {
		bf->state_dirty = true;
		return;
	}
	rd_start(bf, bf->backend, k, 1, cont_state);
}

static void on_backend_event(void *arg, const char *path, const char *token)
{
	struct blkfront *bf = arg;

	bf->state_dirty = true;
	if (!bf->rd.busy)
		read_state(bf);
}

/* Our own nodes, written by the toolstack. */
static void cont_probe(struct blkfront *bf)
{
	uint64_t bid, vdev, st;
	int rc;

	if (!bf->rd.have[0] || !frontend_backend_path_ok(bf->rd.vals[0]) ||
	    !bf->rd.have[1] || rd_num(bf, 1, DOMID_FIRST_RESERVED - 1, 0, &bid) < 0 ||
	    rd_num(bf, 2, UINT32_MAX, 0, &vdev) < 0 ||
	    rd_num(bf, 3, 8, XenbusStateInitialising, &st) < 0) {
		log_warn("vbd %s: missing or bad backend, backend-id or virtual-device: waiting",
			 bf->devid);
		return;
	}
	snprintf(bf->backend, sizeof(bf->backend), "%s", bf->rd.vals[0]);
	bf->backend_id = (domid_t)bid;
	bf->vdev = (unsigned)vdev;
	/* Whatever a previous pvguest left: we start from scratch. */
	bf->fstate = XenbusStateInitialising;
	if (st != XenbusStateInitialising)
		xs_put(bf, "state", "%d", XenbusStateInitialising);
	rc = xenbus_route_add(bf->env.xb, bf->route, on_backend_event, bf);
	if (rc == 0)
		rc = frontend_watch_state(bf->env.xb, bf->backend, bf->route, XS_WATCH);
	if (rc < 0) {
		log_warn("vbd %s: cannot watch %s/state: %s", bf->devid, bf->backend,
			 strerror(-rc));
		xenbus_route_del(bf->env.xb, bf->route);
		return;
	}
	bf->watching = true;
	log_info("vbd %s: backend %s (dom %u), virtual-device %u", bf->devid,
		 bf->backend, (unsigned)bf->backend_id, bf->vdev);
}

static void bf_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct blkfront *bf = arg;
	uint64_t limit = (uint64_t)bf->o.timeout_s * 1000000000u;
	unsigned before = bf->nqueued;

	/* Pages a backend kept mapping after their request: free again
	 * once it lets go (until then they are not reused). */
	if (bf->quarantine) {
		quarantine_retry(bf);
		if (bf->q_head || bf->retry_head)
			process(bf);
	}
	if (bf->fstate == XenbusStateConnected || !bf->disconnected_since ||
	    (!bf->q_head && !bf->retry_head) ||
	    hv_now_ns() - bf->disconnected_since < limit)
		return;
	fail_waiting(bf, -ETIMEDOUT);
	bf->st.timeouts += before;
	log_warn("vbd %s: disconnected for %us: waiting requests failed",
		 bf->devid, bf->o.timeout_s);
}

static void start_probe(struct blkfront *bf)
{
	static const char *const keys[] = {
		"backend", "backend-id", "virtual-device", "state",
	};

	rd_start(bf, bf->dev->nodename, keys, 4, cont_probe);
}

static int bf_probe(const struct frontend_env *env, struct frontend_dev *dev)
{
	struct blkfront *bf;
	struct timeval tv = { 1, 0 };

	if (!env->gnt)
		return -EINVAL;
	bf = calloc(1, sizeof(*bf));
	if (!bf)
		return -ENOMEM;
	bf->env = *env;
	bf->dev = dev;
	bf->cfg = env->blk;
	if (env->blk)
		bf->o = env->blk->opts;
	else
		blkfront_opts_default(&bf->o);
	if (!bf->o.max_queues)
		bf->o.max_queues = 1;
	if (bf->o.max_queues > BLKFRONT_MAX_QUEUES)
		bf->o.max_queues = BLKFRONT_MAX_QUEUES;
	if (bf->o.max_ring_order > BLKFRONT_MAX_RING_ORDER)
		bf->o.max_ring_order = BLKFRONT_MAX_RING_ORDER;
	if (bf->o.max_indirect_segs > BLKFRONT_MAX_INDIRECT_SEGS)
		bf->o.max_indirect_segs = BLKFRONT_MAX_INDIRECT_SEGS;
	snprintf(bf->devid, sizeof(bf->devid), "%s", dev->id);
	snprintf(bf->route, sizeof(bf->route), "b%s:", dev->id);
	bf->fstate = XenbusStateUnknown;
	bf->bstate = bf->last_bstate = XenbusStateUnknown;
	bf->timer = event_new(env->base, -1, EV_PERSIST, bf_on_timer, bf);
	bf->kick = event_new(env->base, -1, 0, bf_on_kick, bf);
	/* Fails on a loop without priorities (unit tests): harmless. */
	if (bf->kick)
		(void)event_priority_set(bf->kick, FRONTEND_PRIO_IDLE);
	if (!bf->timer || !bf->kick || event_add(bf->timer, &tv) < 0) {
		if (bf->timer)
			event_free(bf->timer);
		if (bf->kick)
			event_free(bf->kick);
		free(bf);
		return -ENOMEM;
	}
	dev->priv = bf;
	start_probe(bf);
	return 0;
}

static void bf_remove(const struct frontend_env *env, struct frontend_dev *dev)
{
	struct blkfront *bf = dev->priv;

	if (!bf)
		return;
	bf->removed = true;
	tell(bf, BLKFRONT_REMOVED);
	xenbus_cancel(env->xb, bf_on_rd, bf);
	xenbus_cancel(env->xb, bf_on_write, bf);
	if (bf->watching) {
		xenbus_route_del(env->xb, bf->route);
		frontend_watch_state(bf->env.xb, bf->backend, bf->route, XS_UNWATCH);
	}
	rings_teardown(bf, true);
	fail_waiting(bf, -ENODEV);
	if (bf->nbd) {
		nbd_export_stop(bf->nbd);
		unlink(bf->uri_path);
	}
	pool_free(bf);
	event_free(bf->timer);
	event_free(bf->kick);
	dev->priv = NULL;
	free(bf);
}

static void bf_changed(const struct frontend_env *env, struct frontend_dev *dev,
		       const char *path)
{
	struct blkfront *bf = dev->priv;

	/* The toolstack still writing our nodes when we first looked:
	 * look again.  Once set up, changes are our own writes. */
	if (bf && !bf->watching && !bf->rd.busy && !bf->removed)
		start_probe(bf);
}

const struct frontend_ops blkfront_ops = {
	.type = "vbd", .probe = bf_probe, .remove = bf_remove,
	.changed = bf_changed,
};

bool blkfront_connected(const struct blkfront *bf)
{
	return bf->fstate == XenbusStateConnected;
}

void blkfront_get_info(const struct blkfront *bf, struct blkfront_info *bi)
{
	*bi = (struct blkfront_info){
		.size = bf->sectors * SECTOR,
		.sector_size = bf->sector_size,
		.physical_sector_size = bf->phys_sector_size,
		.readonly = (bf->info & VDISK_READONLY) != 0,
		.can_flush = bf->flush || bf->barrier,
		.can_discard = bf->discard,
		.discard_granularity = bf->discard_gran,
		.discard_alignment = bf->discard_align,
		.nrings = bf->nrings, .ring_pages = bf->npages,
		.segs_per_req = bf->segs_per_req,
		.persistent = bf->persistent, .indirect = bf->max_indirect != 0,
	};
}

void blkfront_get_stats(const struct blkfront *bf, struct blkfront_stats *st)
{
	*st = bf->st;
	st->pool_pages = bf->npool;
	st->queued = bf->nqueued;
	st->inflight = 0;
	for (unsigned k = 0; k < bf->nrings; k++)
		st->inflight += bf->rings[k].inflight;
}
