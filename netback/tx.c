/* Transmit, guest -> tap: Linux's xenvif_tx_action in user space.  Each
 * frame's chain is copied off the ring once and judged by nb_tx_parse
 * (txparse.c); a good frame is grant-copied (zero-length fragments
 * skipped: XSA-448) into one linear buffer, so its headers are
 * contiguous however the guest split them (XSA-423/432), and written to
 * the tap behind its virtio-net header.  Consecutive frames share one
 * grant copy (struct tx_batch: one system call on Xen, as
 * xenvif_tx_action batches its copy ops); they are answered and sent in
 * ring order after it, their tap writes in one io_uring call (tapio.c).  Each frame starts where its second slot (the
 * first page fragment, after netfront's linear head) lands at the same
 * offset in our page as in the guest's: gntdev splits a copy segment at
 * either side's page boundary, pinning a page for each piece, so the
 * fragments then take one op each instead of two.  Responses are
 * pushed once per batch and the guest is notified only when it asked
 * (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY); the ring is re-armed with
 * RING_FINAL_CHECK_FOR_REQUESTS.  A queue serves NB_BUDGET frames a turn,
 * then yields to the loop so that no other vif waits. */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/event.h>

#include "pvd/log.h"
#include "tapio.h"
#include "vif_priv.h"

/* Answers the frame's slots in place: its requests go to the journal
 * first (journal.h), so that a kill between two of these stores leaves
 * nothing the next daemon cannot take up. */
static void respond(struct nb_queue *q, const union nb_txslot *s,
		    const struct nb_txframe *f, int16_t status)
{
	nb_journal_begin(&q->jn, NB_JN_TX, q->tx.req_cons, s, sizeof(*s),
			 f->nslots);
	for (unsigned i = 0; i < f->nslots; i++) {
		netif_tx_response_t *r = RING_GET_RESPONSE(&q->tx,
							   q->tx.rsp_prod_pvt);

		/* Extra-info slots answer NULL, as make_tx_response. */
		if (i >= 1 && i <= f->nextra) {
			r->status = NETIF_RSP_NULL;
		} else {
			r->id = f->id[i];
			r->status = status;
		}
		q->tx.rsp_prod_pvt++;
	}
	q->tx.req_cons += f->nslots;
	nb_journal_end(&q->jn, NB_JN_TX, q->tx.rsp_prod_pvt);
}

/* The chain at cons, copied once. */
static unsigned chain_copy(struct nb_queue *q, RING_IDX cons,
			   union nb_txslot *s, unsigned avail)
{
	unsigned n = avail < NB_TX_SCAN_MAX ? avail : NB_TX_SCAN_MAX;

	for (unsigned i = 0; i < n; i++)
		RING_COPY_REQUEST(&q->tx, cons + i, &s[i].req);
	return n;
}

/* Frames whose data comes from the guest in one grant copy (one system
 * call, as xenvif_tx_action batches its copy ops) into q->txbuf, one
 * after the other; answered and sent in ring order after the copy. */
#define TX_BATCH_SEGS 64
#define TX_BATCH_FRAMES 16

struct tx_batch {
	unsigned n, nseg, used;                 /* used: bytes of txbuf */
	unsigned at[TX_BATCH_FRAMES];           /* each frame's, in txbuf */
	RING_IDX cons;                          /* next request to look at */
	struct nb_txframe f[TX_BATCH_FRAMES];
	union nb_txslot s[TX_BATCH_FRAMES][NB_TX_SCAN_MAX];
	unsigned seg0[TX_BATCH_FRAMES + 1];     /* its segments: seg0[i].. */
	struct hv_copy_seg seg[TX_BATCH_SEGS];
	/* each frame's write to the tap (tapio.h), until it is answered */
	uint8_t hdr[TX_BATCH_FRAMES][NB_VNET_HDR_MAX];
	struct iovec iov[TX_BATCH_FRAMES][2];
	int wrote[TX_BATCH_FRAMES];
	bool sent[TX_BATCH_FRAMES];
};

/* Queues frame i's write to the tap behind its virtio-net header;
 * false when it is not sent. */
static bool frame_queue(struct nb_queue *q, struct tx_batch *x, unsigned i)
{
	const struct nb_txframe *f = &x->f[i];
	uint8_t *frame = q->txbuf + x->at[i];

	if (!nb_tx_allowed(&q->v->policy, frame, f->size)) {
		q->st.tx_spoof_drops++;
		q->st.tx_drops++;
		return false;
	}
	memset(x->hdr[i], 0, sizeof(x->hdr[i]));
	if (nb_tx_vnet_hdr(f, frame, f->size, x->hdr[i]) < 0) {
		q->st.tx_errors++;
		return false;
	}
	x->iov[i][0] = (struct iovec){ x->hdr[i], q->v->cfg.vnet_hdr_len };
	x->iov[i][1] = (struct iovec){ frame, f->size };
	nb_tapio_write(q->v->loop->tio, q->tap_fd, x->iov[i], 2, &x->wrote[i]);
	return true;
}

/* Counts frame i once its write is answered.  The tap never blocks us:
 * a full tap queue drops, as a full backlog does in the kernel. */
static void frame_sent(struct nb_queue *q, const struct tx_batch *x,
		       unsigned i)
{
	const struct nb_txframe *f = &x->f[i];

	if (x->wrote[i] < 0) {
		q->st.tx_drops++;
		return;
	}
	q->st.tx_packets++;
	q->st.tx_bytes += f->size;
	if (f->gso)
		q->st.tx_gso++;
}

/* Where frame f goes in txbuf after used bytes: its second slot (its
 * only one, if so) at that slot's offset within a page.  A dropped
 * frame has no data: it takes no room. */
static unsigned tx_at(unsigned used, const struct nb_txframe *f)
{
	unsigned k = f->nfrag > 1 ? 1 : 0;
	unsigned end = used + (k ? f->frag[0].size : 0);

	if (f->verdict == NB_TX_DROP)
		return used;
	return used + ((f->frag[k].offset - end) & (HV_PAGE_SIZE - 1));
}

/* Whether frame f (not yet in the batch) fits its buffer and segments;
 * the first always does (NB_TXBUF_SIZE holds a largest frame and a
 * page). */
static bool batch_room(const struct tx_batch *x, const struct nb_txframe *f)
{
	if (x->n == TX_BATCH_FRAMES)
		return false;
	return x->n == 0 ||
	       (tx_at(x->used, f) + f->size <= NB_TXBUF_SIZE &&
		x->nseg + f->nfrag <= TX_BATCH_SEGS);
}

/* Adds the frame (its slots in x->s[x->n]), with a copy segment for
 * each data slot unless it is dropped. */
static void batch_add(struct nb_queue *q, struct tx_batch *x)
{
	struct nb_txframe *f = &x->f[x->n];
	unsigned off = tx_at(x->used, f);

	x->at[x->n] = off;
	x->seg0[x->n] = x->nseg;
	for (unsigned i = 0; f->verdict != NB_TX_DROP && i < f->nfrag; i++) {
		if (!f->frag[i].size)
			continue;
		x->seg[x->nseg++] = (struct hv_copy_seg){
			.ref = f->frag[i].gref, .domid = q->v->cfg.domid,
			.offset = f->frag[i].offset, .len = f->frag[i].size,
			.dir = HV_COPY_FROM_GRANT, .local = q->txbuf + off };
		off += f->frag[i].size;
	}
	if (f->verdict != NB_TX_DROP)
		x->used = x->at[x->n] + f->size;
	x->seg0[++x->n] = x->nseg;
	x->cons += f->nslots;
}

/* Copies the batch's data, then answers its frames and writes them to
 * the tap in ring order (a dropped frame answers an error in its turn);
 * the writes go together (nb_tapio_flush), then are counted. */
static void batch_flush(struct nb_queue *q, struct tx_batch *x)
{
	if (x->nseg)
		hv_grant_copy(q->v->loop->hv, x->seg, x->nseg);
	for (unsigned i = 0; i < x->n; i++) {
		const struct nb_txframe *f = &x->f[i];
		bool bad = false;

		for (unsigned k = x->seg0[i]; k < x->seg0[i + 1]; k++)
			bad |= x->seg[k].status < 0;
		if (f->verdict == NB_TX_DROP) {
			q->st.tx_drops++;
			if (f->nslots > 1 + f->nextra + NB_TX_LEGACY_SLOTS)
				q->st.tx_frag_overflow++;
		} else if (bad) {
			q->st.tx_errors++;
		}
		respond(q, x->s[i], f, f->verdict == NB_TX_DROP || bad ?
			NETIF_RSP_ERROR : NETIF_RSP_OKAY);
		x->sent[i] = f->verdict != NB_TX_DROP && !bad &&
			     frame_queue(q, x, i);
	}
	nb_tapio_flush(q->v->loop->tio);
	for (unsigned i = 0; i < x->n; i++)
		if (x->sent[i])
			frame_sent(q, x, i);
	x->n = x->nseg = x->used = 0;
	x->seg0[0] = 0;
	x->cons = q->tx.req_cons;
}

/* The frame at x->cons into the batch (flushed first when it does not
 * fit): 1 taken, 0 nothing to do or waiting for credit, -1 fatal. */
static int tx_take(struct nb_queue *q, struct tx_batch *x)
{
	union nb_txslot *s;
	struct nb_txframe f;
	RING_IDX prod = q->tx.sring->req_prod;
	unsigned avail, n;

	xen_rmb();
	if (x->n == TX_BATCH_FRAMES)
		batch_flush(q, x);
	s = x->s[x->n];
	avail = prod - x->cons;
	/* Also a producer moved back behind what the batch took. */
	if (prod - q->tx.req_cons > RING_SIZE(&q->tx) ||
	    avail > RING_SIZE(&q->tx)) {
		nb_vif_halt(q->v, "tx: request index past the ring");
		return -1;
	}
	if (!avail)
		return 0;
	n = chain_copy(q, x->cons, s, avail);
	if (q->v->rate.bytes && nb_credit_exceeded(q, s[0].req.size))
		return 0;
	nb_tx_parse(s, n, avail, &f);
	if (f.verdict == NB_TX_FATAL) {
		nb_vif_halt(q->v, f.why);
		return -1;
	}
	if (!batch_room(x, &f)) {
		batch_flush(q, x);      /* leaves x->s[old n], s, alone */
		memcpy(x->s[0], s, n * sizeof(*s));
	}
	if (f.verdict != NB_TX_DROP)
		nb_credit_take(q, f.size);
	x->f[x->n] = f;
	batch_add(q, x);
	return 1;
}

static void push(struct nb_queue *q)
{
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->tx, notify);
	nb_queue_notify(q, q->tx_port, notify);
}

void nb_tx_kick(struct nb_queue *q)
{
	static const struct timeval zero = { 0, 0 };
	struct tx_batch x;
	unsigned done = 0;
	int rc = 1, more;

	if (q->v->fatal || q->credit_wait || !q->tx_addr)
		return;
	x.n = x.nseg = x.used = 0;
	x.seg0[0] = 0;
	x.cons = q->tx.req_cons;
	do {
		RING_IDX start = q->tx.rsp_prod_pvt;

		while (done < NB_BUDGET && (rc = tx_take(q, &x)) > 0)
			done++;
		/* The frames before a fatal one go, as they did one by one. */
		batch_flush(q, &x);
		if (rc < 0)
			return;
		if (q->tx.rsp_prod_pvt != start)
			push(q);
		if (q->credit_wait)
			return;
		if (done >= NB_BUDGET) {
			evtimer_add(q->resume_ev, &zero);
			return;
		}
		RING_FINAL_CHECK_FOR_REQUESTS(&q->tx, more);
	} while (more);
}
