/* Transmit, guest -> tap: Linux's xenvif_tx_action in user space.  Each
 * frame's chain is copied off the ring once and judged by nb_tx_parse
 * (txparse.c); a good frame is grant-copied (one batch per frame, zero-
 * length fragments skipped: XSA-448) into one linear buffer, so its
 * headers are contiguous however the guest split them (XSA-423/432),
 * and written to the tap behind its virtio-net header.  Responses are
 * pushed once per batch and the guest is notified only when it asked
 * (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY); the ring is re-armed with
 * RING_FINAL_CHECK_FOR_REQUESTS.  A queue serves NB_BUDGET frames a turn,
 * then yields to the loop so that no other vif waits. */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/event.h>

#include "pvd/log.h"
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

/* Grant-copies the frame's data into buf; 0 or the first -errno. */
static int frame_copy(struct nb_queue *q, const struct nb_txframe *f,
		      uint8_t *buf)
{
	struct hv_copy_seg seg[1 + NB_TX_LEGACY_SLOTS];
	unsigned n = 0, off = 0;

	for (unsigned i = 0; i < f->nfrag; i++) {
		if (!f->frag[i].size)
			continue;
		seg[n] = (struct hv_copy_seg){
			.ref = f->frag[i].gref, .domid = q->v->cfg.domid,
			.offset = f->frag[i].offset, .len = f->frag[i].size,
			.dir = HV_COPY_FROM_GRANT, .local = buf + off };
		off += f->frag[i].size;
		n++;
	}
	return n ? hv_grant_copy(q->v->loop->hv, seg, n) : 0;
}

static void frame_send(struct nb_queue *q, const struct nb_txframe *f,
		       uint8_t *frame)
{
	uint8_t hdr[NB_VNET_HDR_MAX] = { 0 };
	struct iovec iov[2] = {
		{ hdr, q->v->cfg.vnet_hdr_len }, { frame, f->size } };

	if (!nb_tx_allowed(&q->v->policy, frame, f->size)) {
		q->st.tx_spoof_drops++;
		q->st.tx_drops++;
		return;
	}
	if (nb_tx_vnet_hdr(f, frame, f->size, hdr) < 0) {
		q->st.tx_errors++;
		return;
	}
	/* The tap never blocks us: a full tap queue drops, as a full
	 * backlog does in the kernel. */
	if (writev(q->tap_fd, iov, 2) < 0) {
		q->st.tx_drops++;
		return;
	}
	q->st.tx_packets++;
	q->st.tx_bytes += f->size;
	if (f->gso)
		q->st.tx_gso++;
}

/* The chain at req_cons, copied once. */
static unsigned chain_copy(struct nb_queue *q, union nb_txslot *s,
			   unsigned avail)
{
	unsigned n = avail < NB_TX_SCAN_MAX ? avail : NB_TX_SCAN_MAX;

	for (unsigned i = 0; i < n; i++)
		RING_COPY_REQUEST(&q->tx, q->tx.req_cons + i, &s[i].req);
	return n;
}

/* One frame: 1 served (or dropped), 0 nothing to do or waiting for
 * credit, -1 fatal. */
static int tx_one(struct nb_queue *q)
{
	union nb_txslot s[NB_TX_SCAN_MAX];
	struct nb_txframe f;
	RING_IDX prod = q->tx.sring->req_prod;
	unsigned avail, n;

	xen_rmb();
	avail = prod - q->tx.req_cons;
	if (avail > RING_SIZE(&q->tx)) {
		nb_vif_halt(q->v, "tx: request index past the ring");
		return -1;
	}
	if (!avail)
		return 0;
	n = chain_copy(q, s, avail);
	if (q->v->rate.bytes && nb_credit_exceeded(q, s[0].req.size))
		return 0;
	nb_tx_parse(s, n, avail, &f);
	if (f.verdict == NB_TX_FATAL) {
		nb_vif_halt(q->v, f.why);
		return -1;
	}
	if (f.verdict == NB_TX_DROP) {
		q->st.tx_drops++;
		if (f.nslots > 1 + f.nextra + NB_TX_LEGACY_SLOTS)
			q->st.tx_frag_overflow++;
		respond(q, s, &f, NETIF_RSP_ERROR);
		return 1;
	}
	nb_credit_take(q, f.size);
	if (frame_copy(q, &f, q->txbuf) < 0) {
		q->st.tx_errors++;
		respond(q, s, &f, NETIF_RSP_ERROR);
		return 1;
	}
	respond(q, s, &f, NETIF_RSP_OKAY);
	frame_send(q, &f, q->txbuf);
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
	unsigned done = 0;
	int rc = 1, more;

	if (q->v->fatal || q->credit_wait || !q->tx_addr)
		return;
	do {
		RING_IDX start = q->tx.rsp_prod_pvt;

		while (done < NB_BUDGET && (rc = tx_one(q)) > 0)
			done++;
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
