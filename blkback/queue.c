/* A queue's life: map the shared ring and bind its event channel
 * (xen_blkif_map), and take it down once nothing is in flight
 * (xen_blkif_disconnect).  A request in flight has guest pages mapped and
 * storage writing into them: the ring is never unmapped, nor a slot
 * freed, before its I/O completed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pvd/log.h"
#include "loop.h"
#include "queue.h"

struct slot_mem {
	struct blk_seg *seg;
	struct iovec *iov;
	void **page;
	uint8_t *pgnt;
};

static int slots_alloc(struct blk_queue *q)
{
	size_t n = q->nslots, m = q->max_segs;
	struct blk_seg *seg = calloc(n * m, sizeof(*seg));
	struct iovec *iov = calloc(n * m, sizeof(*iov));
	void **page = calloc(n * m, sizeof(*page));
	uint8_t *pg = calloc(n * m, 1);

	q->slots = calloc(n, sizeof(*q->slots));
	q->ind_tmp = calloc(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST *
			    BLK_SEGS_PER_INDIRECT_PAGE, sizeof(*q->ind_tmp));
	if (!seg || !iov || !page || !pg || !q->slots || !q->ind_tmp) {
		free(seg);
		free(iov);
		free(page);
		free(pg);
		return -ENOMEM;
	}
	for (size_t i = n; i--;) {
		struct blk_slot *s = &q->slots[i];

		s->q = q;
		s->seg = seg + i * m;
		s->iov = iov + i * m;
		s->page = page + i * m;
		s->pgnt = pg + i * m;
		s->next_free = q->free;
		q->free = s;
	}
	return 0;
}

static void slots_free(struct blk_queue *q)
{
	if (q->slots) {
		free(q->slots[0].seg);
		free(q->slots[0].iov);
		free(q->slots[0].page);
		free(q->slots[0].pgnt);
	}
	free(q->slots);
	free(q->ind_tmp);
}

/* Maps the ring and attaches at the guest's response index (Linux's
 * BACK_RING_ATTACH), so that a restarted daemon answers what its
 * predecessor left unanswered. */
static int ring_map(struct blk_queue *q, const struct blk_queue_cfg *cfg)
{
	blkif_sring_t *sring;
	RING_IDX req_prod, rsp_prod;
	int rc;

	rc = hv_grant_map(q->hv, q->domid, cfg->nr_pages, cfg->refs, 1,
			  &q->ring_addr);
	if (rc < 0) {
		log_warn("dom%u queue %u: mapping %u ring page(s): %s",
			 (unsigned)q->domid, q->index, cfg->nr_pages,
			 strerror(-rc));
		q->ring_addr = NULL;
		return rc;
	}
	q->nr_pages = cfg->nr_pages;
	sring = q->ring_addr;
	rsp_prod = __atomic_load_n(&sring->rsp_prod, __ATOMIC_RELAXED);
	req_prod = __atomic_load_n(&sring->req_prod, __ATOMIC_RELAXED);
	BACK_RING_ATTACH(&q->ring, sring, rsp_prod,
			 (size_t)cfg->nr_pages * HV_PAGE_SIZE);
	if (req_prod - rsp_prod > RING_SIZE(&q->ring)) {
		log_warn("dom%u queue %u: ring indices inconsistent (req_prod %u, "
			 "rsp_prod %u)", (unsigned)q->domid, q->index, req_prod,
			 rsp_prod);
		return -EIO;
	}
	q->nslots = RING_SIZE(&q->ring);
	return 0;
}

/* The queue's journal (journal.h): a fresh one at rsp_prod, or, for a
 * daemon re-attaching, what its predecessor left: the responses it wrote
 * whole are published, the requests it had in flight taken again (once
 * the event channel is bound, blk_queue_start), and new requests taken
 * from where it stopped. */
static void journal_start(struct blk_queue *q, const struct blk_queue_cfg *cfg)
{
	struct blk_journal_id id = { cfg->nr_pages, cfg->refs[0] };
	RING_IDX rsp_prod = q->ring.rsp_prod_pvt, req_prod;
	struct blk_journal_plan plan = { 0 };

	if (!cfg->journal ||
	    blk_journal_open(&q->jn, cfg->journal, &id, q->nslots,
			     cfg->reattach) < 0)
		return;
	if (!q->jn.valid) {
		blk_journal_reset(&q->jn, rsp_prod);
		return;
	}
	req_prod = __atomic_load_n(&q->ring.sring->req_prod, __ATOMIC_ACQUIRE);
	plan.redo = calloc(q->nslots, sizeof(*plan.redo));
	if (!plan.redo) {
		blk_journal_reset(&q->jn, rsp_prod);
		return;
	}
	if (blk_journal_recover(&q->jn, rsp_prod, req_prod,
				RING_SIZE(&q->ring), &plan) < 0) {
		log_warn("dom%u queue %u: journal does not fit the ring (rsp_prod "
			 "%u, req_prod %u): attaching at rsp_prod",
			 (unsigned)q->domid, q->index, rsp_prod, req_prod);
		free(plan.redo);
		return;
	}
	q->ring.rsp_prod_pvt = plan.rsp_done;
	q->new_rsp = plan.rsp_done - rsp_prod;
	q->ring.req_cons = plan.req_cons;
	q->redo = plan.redo;
	q->nredo = plan.nredo;
	if (q->new_rsp || q->nredo || plan.req_cons != rsp_prod)
		log_info("dom%u queue %u: from the journal: %u response(s) "
			 "written, %u request(s) in flight taken again, requests "
			 "from %u (rsp_prod was %u)", (unsigned)q->domid,
			 q->index, q->new_rsp, q->nredo, plan.req_cons, rsp_prod);
}

static int queue_setup(struct blk_queue *q, const struct blk_queue_cfg *cfg)
{
	int rc = ring_map(q, cfg);

	if (rc < 0)
		return rc;
	q->max_segs = q->disk->lim.max_indirect > BLKIF_MAX_SEGMENTS_PER_REQUEST ?
		      q->disk->lim.max_indirect : BLKIF_MAX_SEGMENTS_PER_REQUEST;
	rc = slots_alloc(q);
	if (rc == 0)
		rc = idset_init(&q->ids, q->nslots);
	if (rc == 0)
		journal_start(q, cfg);
	if (rc == 0 && cfg->persistent)
		rc = blk_pgnt_create(cfg->max_pgrants ? cfg->max_pgrants :
				     BLK_MAX_PGRANTS_DEFAULT, &q->pgnt);
	if (rc < 0)
		return rc;
	rc = hv_evtchn_bind_interdomain(q->hv, q->domid, cfg->remote_port,
					&q->port);
	if (rc < 0) {
		log_warn("dom%u queue %u: binding event channel %u: %s",
			 (unsigned)q->domid, q->index, cfg->remote_port,
			 strerror(-rc));
		return rc;
	}
	q->bound = true;
	return 0;
}

void blk_queue_free(struct blk_queue *q)
{
	if (!q)
		return;
	blk_loop_forget(q->loop, q);
	if (q->ring_addr)
		blk_queue_push(q);
	if (q->bound)
		hv_evtchn_unbind(q->hv, q->port);
	blk_pgnt_destroy(q->hv, q->pgnt);
	if (q->ring_addr)
		hv_grant_unmap(q->hv, q->ring_addr, q->nr_pages);
	slots_free(q);
	idset_free(&q->ids);
	blk_journal_close(&q->jn);
	free(q->redo);
	free(q);
}

int blk_queue_start(struct blk_loop *l, struct blk_disk *d,
		    const struct blk_queue_cfg *cfg, blk_queue_cb *cb,
		    void *arg, struct blk_queue **out)
{
	struct blk_queue *q;
	int rc;

	*out = NULL;
	if (cfg->nr_pages == 0 || cfg->nr_pages > BLK_MAX_RING_PAGES ||
	    (cfg->nr_pages & (cfg->nr_pages - 1)))
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->loop = l;
	q->hv = l->hv;
	q->disk = d;
	q->domid = cfg->domid;
	q->index = cfg->index;
	q->cb = cb;
	q->cb_arg = arg;
	blk_link_init(&q->active);
	blk_link_init(&q->noted);
	rc = queue_setup(q, cfg);
	if (rc < 0) {
		blk_queue_free(q);
		return rc;
	}
	blk_loop_add_port(l, q);
	/* What the predecessor had in flight, then whatever the guest queued
	 * already (a restart) is served now. */
	for (unsigned i = 0; i < q->nredo; i++)
		blk_queue_redo(q, q->redo[i]);
	q->nredo = 0;
	blk_queue_push(q);
	blk_loop_activate(l, q);
	/* A predecessor killed between pushing responses and notifying left
	 * the frontend asleep on responses it has not seen, and new pushes
	 * need not cross its rsp_event again: one event wakes it (a spare
	 * one is harmless, the frontend just finds nothing new). */
	if (q->ring.rsp_prod_pvt != 0)
		hv_evtchn_notify(q->hv, q->port);
	*out = q;
	return 0;
}

int blk_queue_stop(struct blk_queue *q)
{
	q->stopping = true;
	if (q->inflight || q->loop->running) {
		if (!q->inflight)
			blk_loop_note(q->loop, q, BLK_Q_DRAINED);
		return -EBUSY;
	}
	blk_queue_free(q);
	return 0;
}
