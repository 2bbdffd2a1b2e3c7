/* Receive, tap -> guest: Linux's xenvif_start_xmit + xenvif_rx_action
 * (rx.c) in user space.  Frames read from a tap queue (vnet header +
 * frame) go to the guest queue the hash picks (hash.c), into a queue
 * bounded at half the rx ring in pages (rx_queue_max, in bytes).  A full
 * queue stops reading its tap (the kernel's qdisc then holds or drops),
 * so memory stays bounded and no other vif waits.
 *
 * Delivery fully packs each frame into the guest's posted buffers (one
 * 4 KiB page each), the GSO extra-info in the slot after the first,
 * NETRXF_more_data on every slot but the last, and grant-copies the data
 * in one batch per frame.
 *
 * Stall detection (XSA-392, "xen/netback: fix rx queue stall detection"):
 * a queue is stalled when its head frame has waited rx_stall_ms without
 * the guest posting as many buffers as THAT frame needs (not "at least
 * one": a single free slot must not hide a stall); the vif's carrier
 * goes off with its first stalled queue, the queue is purged and frames
 * for it dropped, and the carrier comes back once the guest posts
 * enough.  Without feature-rx-notify the frontend never kicks us for new
 * buffers, so we poll every NB_RX_POLL_MS and, as Linux, detect no
 * stall. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/virtio_net.h>

#include "pvd/log.h"
#include "vif_priv.h"

static unsigned data_slots(uint32_t len)
{
	return len ? (len + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE : 1;
}

static const struct virtio_net_hdr *vhdr(const struct nb_rxbuf *b)
{
	return (const struct virtio_net_hdr *)b->hdr;
}

/* Xen's GSO type for the frame, or 0. */
static uint8_t gso_type(const struct nb_rxbuf *b)
{
	switch (vhdr(b)->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return XEN_NETIF_GSO_TYPE_TCPV4;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return XEN_NETIF_GSO_TYPE_TCPV6;
	default:
		return XEN_NETIF_GSO_TYPE_NONE;
	}
}

static unsigned slots_needed(const struct nb_rxbuf *b)
{
	return data_slots(b->len) + (gso_type(b) ? 1 : 0);
}

/* Whether the frontend can take the frame at all. */
static bool deliverable(const struct nb_queue *q, const struct nb_rxbuf *b)
{
	const struct nb_features *ft = &q->v->cfg.feat;
	uint8_t g = gso_type(b);

	if (vhdr(b)->gso_type != VIRTIO_NET_HDR_GSO_NONE && !g)
		return false;
	if (g == XEN_NETIF_GSO_TYPE_TCPV4 && !ft->gso_tcpv4)
		return false;
	if (g == XEN_NETIF_GSO_TYPE_TCPV6 && !ft->gso_tcpv6)
		return false;
	return ft->sg || data_slots(b->len) == 1;
}

static struct nb_rxbuf *dequeue(struct nb_queue *q)
{
	struct nb_rxbuf *b = q->rxq_head;

	if (!b)
		return NULL;
	q->rxq_head = b->next;
	if (!q->rxq_head)
		q->rxq_tail = &q->rxq_head;
	q->st.rx_queue_len -= b->len;
	return b;
}

void nb_rx_flush(struct nb_queue *q)
{
	struct nb_rxbuf *b;

	while ((b = dequeue(q))) {
		q->st.rx_drops++;
		free(b);
	}
}

static uint16_t first_flags(const struct nb_rxbuf *b, unsigned nd)
{
	uint16_t fl = 0;

	if (vhdr(b)->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		fl |= NETRXF_csum_blank | NETRXF_data_validated;
	else if (vhdr(b)->flags & VIRTIO_NET_HDR_F_DATA_VALID)
		fl |= NETRXF_data_validated;
	if (nd > 1)
		fl |= NETRXF_more_data;
	if (gso_type(b))
		fl |= NETRXF_extra_info;
	return fl;
}

static void put_extra(struct nb_queue *q, const struct nb_rxbuf *b)
{
	struct netif_extra_info *e = (struct netif_extra_info *)
		RING_GET_RESPONSE(&q->rx, q->rx.rsp_prod_pvt);

	memset(e, 0, sizeof(*e));
	e->type = XEN_NETIF_EXTRA_TYPE_GSO;
	e->u.gso.type = gso_type(b);
	e->u.gso.size = vhdr(b)->gso_size;
	q->rx.req_cons++;
	q->rx.rsp_prod_pvt++;
}

/* The frame's requests (data slots, the GSO slot second), copied once
 * and journalled (journal.h) before the first response overwrites them. */
static unsigned take_requests(struct nb_queue *q, const struct nb_rxbuf *b,
			      netif_rx_request_t *req)
{
	unsigned n = data_slots(b->len) + (gso_type(b) ? 1 : 0);

	for (unsigned i = 0; i < n; i++)
		RING_COPY_REQUEST(&q->rx, q->rx.req_cons + i, &req[i]);
	nb_journal_begin(&q->jn, NB_JN_RX, q->rx.req_cons, req, sizeof(*req), n);
	return n;
}

/* Fills the frame into the posted buffers; the slots are available. */
static void deliver(struct nb_queue *q, const struct nb_rxbuf *b)
{
	struct hv_copy_seg seg[NB_RX_FRAME_SLOTS];
	netif_rx_response_t *rsp[NB_RX_FRAME_SLOTS];
	netif_rx_request_t req[NB_RX_FRAME_SLOTS + 1] = { 0 };
	unsigned nd = data_slots(b->len), off = 0, k = 0;
	int rc;

	take_requests(q, b, req);
	for (unsigned i = 0; i < nd; i++, k++) {
		uint16_t len = (uint16_t)(b->len - off < HV_PAGE_SIZE ?
					  b->len - off : HV_PAGE_SIZE);

		seg[i] = (struct hv_copy_seg){ .ref = req[k].gref,
			.domid = q->v->cfg.domid, .len = len,
			.dir = HV_COPY_TO_GRANT, .local = (void *)(b->data + off) };
		rsp[i] = RING_GET_RESPONSE(&q->rx, q->rx.rsp_prod_pvt);
		rsp[i]->id = req[k].id;
		rsp[i]->offset = 0;
		rsp[i]->status = (int16_t)len;
		rsp[i]->flags = i == 0 ? first_flags(b, nd) :
				i + 1 < nd ? NETRXF_more_data : 0;
		q->rx.req_cons++;
		q->rx.rsp_prod_pvt++;
		off += len;
		if (i == 0 && gso_type(b)) {
			put_extra(q, b);
			k++;
		}
	}
	rc = hv_grant_copy(q->v->loop->hv, seg, nd);
	for (unsigned i = 0; rc < 0 && i < nd; i++)
		if (seg[i].status < 0)
			rsp[i]->status = NETIF_RSP_ERROR;
	nb_journal_end(&q->jn, NB_JN_RX, q->rx.rsp_prod_pvt);
	if (rc < 0) {
		q->st.rx_errors++;
		return;
	}
	q->st.rx_packets++;
	q->st.rx_bytes += b->len;
	if (gso_type(b))
		q->st.rx_gso++;
}

static void stall_arm(struct nb_queue *q, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000) };

	if (!evtimer_pending(q->stall_ev, NULL))
		evtimer_add(q->stall_ev, &tv);
}

static void carrier_on(struct nb_queue *q)
{
	struct nb_vif *v = q->v;

	q->stalled = false;
	q->last_rx_ns = hv_now_ns();
	if (--v->stalled_queues == 0) {
		v->carrier = true;
		nb_vif_note(v, NB_VIF_CARRIER_ON, "rx resumed");
	}
	if (q->tap_paused && !q->v->fatal) {
		q->tap_paused = false;
		event_add(q->tap_ev, NULL);
	}
}

static void carrier_off(struct nb_queue *q)
{
	struct nb_vif *v = q->v;

	q->stalled = true;
	q->st.rx_stalls++;
	nb_rx_flush(q);
	if (v->stalled_queues++ == 0) {
		v->carrier = false;
		log_info("vif%u.%u: queue %u: rx stalled, carrier off",
			 (unsigned)v->cfg.domid, v->cfg.devid, q->index);
		nb_vif_note(v, NB_VIF_CARRIER_OFF, "rx stalled");
	}
	if (q->tap_paused) {
		q->tap_paused = false;
		event_add(q->tap_ev, NULL);
	}
}

/* Requests the guest posted and we did not take: -1 when it is garbage. */
static int rx_avail(struct nb_queue *q, unsigned *avail)
{
	RING_IDX prod = q->rx.sring->req_prod;

	xen_rmb();
	*avail = prod - q->rx.req_cons;
	if (*avail > RING_SIZE(&q->rx)) {
		nb_vif_halt(q->v, "rx: request index past the ring");
		return -1;
	}
	return 0;
}

/* Delivers what fits.  1 when the head frame waits for buffers. */
static int rx_drain(struct nb_queue *q, unsigned *done)
{
	unsigned avail;
	struct nb_rxbuf *b;

	while ((b = q->rxq_head) && *done < NB_BUDGET) {
		if (rx_avail(q, &avail) < 0)
			return -1;
		if (!deliverable(q, b)) {
			q->st.rx_drops++;
			free(dequeue(q));
			continue;
		}
		q->rx_need = slots_needed(b);
		if (avail < q->rx_need)
			return 1;
		deliver(q, dequeue(q));
		free(b);
		q->last_rx_ns = hv_now_ns();
		(*done)++;
	}
	return 0;
}

static void rx_push(struct nb_queue *q)
{
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->rx, notify);
	nb_queue_notify(q, q->rx_port, notify);
}

/* Asks the guest for an event once it has posted as many buffers as
 * the waiting frame needs (not at the next one: fewer would not do);
 * true when they are there already. */
static bool rx_arm(struct nb_queue *q)
{
	unsigned need = q->rx_need ? q->rx_need : 1;

	q->rx.sring->req_event = q->rx.req_cons + need;
	xen_mb();
	return q->rx.sring->req_prod - q->rx.req_cons >= need;
}

static void rx_wait(struct nb_queue *q)
{
	struct nb_vif *v = q->v;
	uint64_t waited = (hv_now_ns() - q->last_rx_ns) / 1000000u;
	int more;

	more = rx_arm(q);
	if (!v->cfg.feat.rx_notify)
		stall_arm(q, NB_RX_POLL_MS);
	else if (!q->stalled)
		stall_arm(q, waited >= v->cfg.rx_stall_ms ? 0 :
			  v->cfg.rx_stall_ms - waited);
	if (more) {
		static const struct timeval zero = { 0, 0 };

		evtimer_add(q->resume_ev, &zero);
	}
}

void nb_rx_kick(struct nb_queue *q)
{
	static const struct timeval budget_spent = { 0, 0 };
	unsigned done = 0, avail;
	RING_IDX start = q->rx.rsp_prod_pvt;
	int rc;

	if (q->v->fatal || !q->rx_addr)
		return;
	if (q->stalled) {
		if (rx_avail(q, &avail) < 0)
			return;
		/* As many as the frame that stalled needed (XSA-392). */
		if (avail < q->rx_need) {
			if (rx_arm(q))
				evtimer_add(q->resume_ev, &budget_spent);
			return;
		}
		carrier_on(q);
	}
	rc = rx_drain(q, &done);
	if (rc < 0)
		return;
	if (q->rx.rsp_prod_pvt != start)
		rx_push(q);
	if (rc > 0)
		rx_wait(q);
	else if (q->rxq_head)
		evtimer_add(q->resume_ev, &budget_spent);
	if (q->tap_paused && q->st.rx_queue_len < q->st.rx_queue_max) {
		q->tap_paused = false;
		event_add(q->tap_ev, NULL);
	}
}

void nb_rx_stall_check(struct nb_queue *q)
{
	struct nb_vif *v = q->v;
	unsigned avail;

	if (v->fatal)
		return;
	if (v->cfg.feat.rx_notify && !q->stalled && q->rxq_head &&
	    hv_now_ns() - q->last_rx_ns >= (uint64_t)v->cfg.rx_stall_ms * 1000000u) {
		if (rx_avail(q, &avail) < 0)
			return;
		q->rx_need = slots_needed(q->rxq_head);
		if (avail < q->rx_need) {
			carrier_off(q);
			return;
		}
	}
	nb_rx_kick(q);
}

/* One frame off the tap into b: 1, 0 when there is none, -1 on error. */
static int tap_read(struct nb_queue *q, uint8_t *hdr, uint8_t *data,
		    uint32_t *len)
{
	unsigned hl = q->v->cfg.vnet_hdr_len;
	struct iovec iov[2] = { { hdr, hl }, { data, NB_FRAME_MAX } };
	ssize_t n = readv(q->tap_fd, iov, 2);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if ((size_t)n < hl + NB_ETH_HLEN)
		return n == 0 ? -1 : 1 + (int)(*len = 0);
	*len = (uint32_t)((size_t)n - hl);
	return 1;
}

static void enqueue(struct nb_queue *t, const uint8_t *hdr,
		    const uint8_t *data, uint32_t len)
{
	struct nb_rxbuf *b;

	if (t->stalled || t->v->fatal ||
	    t->st.rx_queue_len >= t->st.rx_queue_max ||
	    !(b = malloc(sizeof(*b) + len))) {
		t->st.rx_drops++;
		return;
	}
	b->next = NULL;
	b->len = len;
	memset(b->hdr, 0, sizeof(b->hdr));
	memcpy(b->hdr, hdr, sizeof(struct virtio_net_hdr));
	memcpy(b->data, data, len);
	if (!t->rxq_head)
		t->last_rx_ns = hv_now_ns();
	*t->rxq_tail = b;
	t->rxq_tail = &b->next;
	t->st.rx_queue_len += len;
}

void nb_rx_tap_ready(struct nb_queue *q)
{
	struct nb_vif *v = q->v;
	uint8_t *hdr = q->rxbuf, *data = q->rxbuf + NB_VNET_HDR_MAX;
	bool kick[NB_MAX_QUEUES] = { false };
	uint32_t len;
	int rc = 1;

	for (unsigned i = 0; i < NB_BUDGET && !v->fatal; i++) {
		if (q->st.rx_queue_len >= q->st.rx_queue_max && !q->stalled) {
			q->tap_paused = true;
			event_del(q->tap_ev);
			break;
		}
		rc = tap_read(q, hdr, data, &len);
		if (rc <= 0)
			break;
		if (len) {
			unsigned t = nb_hash_queue(v, q->index, data, len);

			/* A vif serving some queues has no hash: t is q's own. */
			if (!nb_vif_serves(v, t))
				t = q->index;
			enqueue(&v->q[t], hdr, data, len);
			kick[t] = true;
		}
	}
	if (rc < 0 && !q->tap_paused) {
		log_warn("vif%u.%u: queue %u: reading the tap: %s",
			 (unsigned)v->cfg.domid, v->cfg.devid, q->index,
			 strerror(errno));
		q->tap_paused = true;
		event_del(q->tap_ev);
	}
	for (unsigned t = 0; t < v->nq; t++)
		if (kick[t])
			nb_rx_kick(&v->q[t]);
}
