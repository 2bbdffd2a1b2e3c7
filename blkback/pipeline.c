/* The request pipeline: small stages from the shared ring to the storage
 * backend and back (see queue.h).
 *
 * The guest owns the ring: it can change a request while we read it
 * (XSA-155).  A request is therefore copied off the ring once, into the
 * slot, followed by a compiler barrier; every later stage reads only that
 * copy.  A response's ring slot is zeroed before its fields are written,
 * so its padding never carries our stack or the old request (XSA-216).
 * The producer index is checked against the ring's size before anything
 * is consumed (RING_REQUEST_PROD_OVERFLOW): a guest that
 * claims more than a ring's worth halts its own ring, and nothing else.
 */
#include <errno.h>
#include <string.h>

#include "pvd/log.h"
#include "eng_util.h"
#include "loop.h"
#include "queue.h"

static void step_submit(struct blk_queue *q, struct blk_slot *s);

/* Stage 1: a free slot, or none (Xen's oo_req). */
static struct blk_slot *slot_take(struct blk_queue *q)
{
	struct blk_slot *s = q->free;

	if (!s) {
		q->st.oo_req++;
		return NULL;
	}
	q->free = s->next_free;
	if (++q->inflight > q->st.inflight_max)
		q->st.inflight_max = q->inflight;
	return s;
}

/* Stage 2: the one read of the guest's request. */
static void req_copy(struct blk_queue *q, RING_IDX idx, struct blk_slot *s)
{
	memcpy(&s->msg, RING_GET_REQUEST(&q->ring, idx), sizeof(s->msg));
	/* Stage 3: later stages must not re-read the ring in its place. */
	__asm__ __volatile__("" ::: "memory");
}

/* Slot i out of the free list, for a request the journal holds. */
static struct blk_slot *slot_take_at(struct blk_queue *q, unsigned i)
{
	struct blk_slot **pp = &q->free, *s = &q->slots[i];

	while (*pp && *pp != s)
		pp = &(*pp)->next_free;
	if (!*pp)
		return NULL;
	*pp = s->next_free;
	if (++q->inflight > q->st.inflight_max)
		q->st.inflight_max = q->inflight;
	return s;
}

/* The response stage: written into the ring's private producer slot;
 * blk_queue_push publishes it.  The journal says where before, and that
 * it is whole after (journal.c: a process killed in between leaves the
 * request to be taken again). */
static void rsp_put(struct blk_queue *q, struct blk_slot *s, int16_t status)
{
	RING_IDX r = q->ring.rsp_prod_pvt;
	unsigned i = (unsigned)(s - q->slots);

	blk_journal_answering(&q->jn, i, r);
	blk_rsp_fill(RING_GET_RESPONSE(&q->ring, r), s->req.id, s->req.op,
		     status);
	blk_journal_answered(&q->jn, i, r);
	q->ring.rsp_prod_pvt = r + 1;
	q->new_rsp++;
}

static void count_result(struct blk_queue *q, struct blk_slot *s,
			 int16_t status)
{
	const struct blk_req *r = &s->req;

	if (status == BLKIF_RSP_OKAY) {
		if (r->kind == BLK_K_READ)
			q->st.rd_sect += r->nr_sectors;
		else if (r->kind != BLK_K_DISCARD)
			q->st.wr_sect += r->nr_sectors;
	}
	blk_stats_latency(&q->st, blk_loop_now(q->loop) - s->t0);
}

/* After a slot is answered: a held barrier may go, a barrier that ends
 * unplugs the queue, a stopping queue may be drained. */
static void after_finish(struct blk_queue *q, bool was_barrier)
{
	if (was_barrier) {
		q->plugged = false;
		blk_loop_activate(q->loop, q);
	}
	if (q->held && q->inflight == 1) {
		struct blk_slot *s = q->held;

		q->held = NULL;
		step_submit(q, s);
	}
	if (q->stopping && !q->inflight)
		blk_loop_note(q->loop, q, BLK_Q_DRAINED);
}

/* The completion stage: unmap, count, respond, free the slot. */
static void slot_finish(struct blk_queue *q, struct blk_slot *s,
			int16_t status)
{
	bool barrier = s->req.kind == BLK_K_BARRIER && s->nsteps;

	blk_unmap_segs(q, s);
	count_result(q, s, status);
	rsp_put(q, s, status);
	if (s->in_ids)
		idset_del(&q->ids, s->req.id);
	s->in_ids = false;
	s->next_free = q->free;
	q->free = s;
	q->inflight--;
	after_finish(q, barrier);
}

static void slot_io_done(struct blk_io *io, int res)
{
	struct blk_slot *s = container_of(io, struct blk_slot, io);
	struct blk_queue *q = s->q;

	if (res < 0) {
		if (res == -EOPNOTSUPP)
			q->st.eopnotsupp++;
		else
			q->st.err_io++;
		log_debug("dom%u queue %u: request %llu: %s", (unsigned)q->domid,
			  q->index, (unsigned long long)s->req.id, strerror(-res));
		slot_finish(q, s, res == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP
						     : BLKIF_RSP_ERROR);
		return;
	}
	if (++s->step < s->nsteps)
		step_submit(q, s);
	else
		slot_finish(q, s, BLKIF_RSP_OKAY);
}

/* The submit stage: the slot's current storage operation. */
static void step_submit(struct blk_queue *q, struct blk_slot *s)
{
	const struct blk_backend_ops *ops = q->disk->ops;
	struct blk_io *io = &s->io;
	int rc;

	io->op = s->steps[s->step];
	io->done = slot_io_done;
	io->offset = s->req.sector << BLK_SECTOR_SHIFT;
	io->len = s->req.nr_sectors << BLK_SECTOR_SHIFT;
	io->iov = s->iov;
	io->iovcnt = s->req.nseg;
	if (io->op == BLK_IO_READ || io->op == BLK_IO_WRITE)
		rc = ops->submit_rw(q->disk->backing, io);
	else if (io->op == BLK_IO_FLUSH)
		rc = ops->flush(q->disk->backing, io);
	else
		rc = ops->discard(q->disk->backing, io);
	if (rc < 0)
		slot_io_done(io, rc);
}

/* What storage operations a request is: a flush with data is the write
 * and then an fdatasync (it may not be answered before both); a barrier
 * is an fdatasync of what completed before, the write, and another. */
static void plan_steps(struct blk_slot *s)
{
	const struct blk_req *r = &s->req;
	uint8_t *st = s->steps;
	uint8_t n = 0;

	switch (r->kind) {
	case BLK_K_READ:
		st[n++] = BLK_IO_READ;
		break;
	case BLK_K_WRITE:
		st[n++] = BLK_IO_WRITE;
		break;
	case BLK_K_FLUSH:
		if (r->nseg)
			st[n++] = BLK_IO_WRITE;
		st[n++] = BLK_IO_FLUSH;
		break;
	case BLK_K_BARRIER:
		st[n++] = BLK_IO_FLUSH;
		if (r->nseg) {
			st[n++] = BLK_IO_WRITE;
			st[n++] = BLK_IO_FLUSH;
		}
		break;
	case BLK_K_DISCARD:
		if (r->nr_sectors)
			st[n++] = BLK_IO_DISCARD;
		break;
	}
	s->nsteps = n;
	s->step = 0;
}

static void count_request(struct blk_queue *q, const struct blk_req *r)
{
	switch (r->kind) {
	case BLK_K_READ: q->st.rd_req++; break;
	case BLK_K_WRITE: q->st.wr_req++; break;
	case BLK_K_FLUSH: case BLK_K_BARRIER: q->st.f_req++; break;
	case BLK_K_DISCARD: q->st.ds_req++; break;
	}
}

/* The validation stage (and the indirect descriptors, read once). */
static int16_t slot_validate(struct blk_queue *q, struct blk_slot *s)
{
	const struct blk_limits *lim = &q->disk->lim;
	int st = blk_req_parse(&s->msg, lim, &s->req, s->seg);

	count_request(q, &s->req);
	if (st == 0 && s->req.nind) {
		if (blk_read_indirect(q, &s->req) < 0) {
			q->st.err_grant++;
			return BLKIF_RSP_ERROR;
		}
		st = blk_req_parse_indirect(&s->req, lim, q->ind_tmp, s->seg);
	}
	if (st == BLKIF_RSP_EOPNOTSUPP)
		q->st.eopnotsupp++;
	else if (st)
		q->st.err_bad_req++;
	return (int16_t)st;
}

/* From a copied request to storage, or straight to an error answer. */
static void slot_dispatch(struct blk_queue *q, struct blk_slot *s)
{
	int16_t st;

	s->t0 = blk_loop_now(q->loop);
	s->nsteps = 0;
	s->in_ids = false;
	st = slot_validate(q, s);
	if (st) {
		slot_finish(q, s, st);
		return;
	}
	if (!idset_add(&q->ids, s->req.id)) {
		q->st.err_dup_id++;
		slot_finish(q, s, BLKIF_RSP_ERROR);
		return;
	}
	s->in_ids = true;
	if (s->req.nseg && blk_map_segs(q, s) < 0) {
		q->st.err_grant++;
		slot_finish(q, s, BLKIF_RSP_ERROR);
		return;
	}
	plan_steps(s);
	if (!s->nsteps) {
		slot_finish(q, s, BLKIF_RSP_OKAY);
		return;
	}
	if (s->req.kind == BLK_K_BARRIER) {
		q->plugged = true;
		if (q->inflight > 1) {
			q->held = s;   /* goes when the others are answered */
			return;
		}
	}
	step_submit(q, s);
}

static void halt(struct blk_queue *q, RING_IDX prod)
{
	log_warn("dom%u queue %u: frontend produced bogus ring requests "
		 "(req_prod %u, rsp_prod %u, ring size %u): halting the ring",
		 (unsigned)q->domid, q->index, prod, q->ring.rsp_prod_pvt,
		 RING_SIZE(&q->ring));
	q->halted = true;
	blk_loop_note(q->loop, q, BLK_Q_FATAL);
}

unsigned blk_queue_consume(struct blk_queue *q, unsigned max)
{
	RING_IDX rc, rp;
	unsigned n = 0;

	if (q->halted || q->stopping || q->plugged)
		return 0;
	rc = q->ring.req_cons;
	rp = __atomic_load_n(&q->ring.sring->req_prod, __ATOMIC_RELAXED);
	PVD_RMB();  /* the requests up to rp are visible */
	if (RING_REQUEST_PROD_OVERFLOW(&q->ring, rp)) {
		halt(q, rp);
		return 0;
	}
	q->st.occ_sum += rp - rc;
	if (rp - rc > q->st.occ_max)
		q->st.occ_max = rp - rc;
	while (rc != rp && n < max && !q->plugged &&
	       !RING_REQUEST_CONS_OVERFLOW(&q->ring, rc)) {
		struct blk_slot *s = slot_take(q);

		if (!s)
			break;
		req_copy(q, rc, s);
		blk_journal_take(&q->jn, (unsigned)(s - q->slots), rc, &s->msg);
		q->ring.req_cons = ++rc;
		slot_dispatch(q, s);
		n++;
	}
	if (n) {
		q->st.rounds++;
		blk_stats_batch(&q->st, n);
	}
	return n;
}

void blk_queue_redo(struct blk_queue *q, unsigned i)
{
	struct blk_slot *s = slot_take_at(q, i);

	if (!s)
		return;
	memcpy(&s->msg, blk_journal_msg(&q->jn, i), sizeof(s->msg));
	slot_dispatch(q, s);
}

void blk_queue_push(struct blk_queue *q)
{
	int notify;

	if (!q->new_rsp)
		return;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->ring, notify);
	q->new_rsp = 0;
	if (notify) {
		hv_evtchn_notify(q->hv, q->port);
		q->st.notify_sent++;
	} else {
		q->st.notify_suppressed++;
	}
}

bool blk_queue_has_work(struct blk_queue *q)
{
	return !q->halted && !q->stopping && !q->plugged && q->free &&
	       RING_HAS_UNCONSUMED_REQUESTS(&q->ring);
}

bool blk_queue_final_check(struct blk_queue *q)
{
	int more;

	if (q->halted || q->stopping)
		return false;
	RING_FINAL_CHECK_FOR_REQUESTS(&q->ring, more);
	return more && !q->plugged && q->free;
}
