/* Receive, tap -> guest: Linux's xenvif_start_xmit + xenvif_rx_action
 * (rx.c) in user space.  Frames read from a tap queue (vnet header +
 * frame) go to the guest queue the hash picks (hash.c), into a queue
 * bounded at half the rx ring in pages (rx_queue_max, in bytes).  A full
 * queue stops reading its tap (the kernel's qdisc then holds or drops),
 * so memory stays bounded and no other vif waits.
 *
 * A frame is read from the tap straight into the buffer it is queued
 * in, trimmed to its size: no copy in user space.  Its data is
 * page-aligned (vif_priv.h, struct nb_rxbuf) as the guest's buffers
 * are, so a 4 KiB slot is one copy op.
 * The clock is read when a queue waits, not once a frame (it is a
 * system call on a PV dom0, which has no vDSO clock): rx_moved notes
 * progress, rx_waited_ms turns it into a time.
 *
 * Delivery fully packs each frame into the guest's posted buffers (one
 * 4 KiB page each), the GSO extra-info in the slot after the first,
 * NETRXF_more_data on every slot but the last.  The data of the frames
 * one turn delivers is grant-copied in one batch (one system call on
 * Xen, as xenvif_rx_action batches its copy ops), then the frames are
 * answered in ring order.
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
		nb_rxbuf_free(b);
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

/* Frames whose data goes to the guest in one grant copy (one system
 * call, as xenvif_rx_action batches its copy ops), at most one
 * hypervisor-layer chunk of segments. */
#define RX_BATCH_SEGS 64
#define RX_BATCH_FRAMES 16

struct rx_batch {
	unsigned n, nseg;
	RING_IDX cons;                          /* next request to take */
	struct nb_rxbuf *b[RX_BATCH_FRAMES];
	unsigned seg0[RX_BATCH_FRAMES];         /* its first segment */
	netif_rx_request_t req[RX_BATCH_FRAMES][NB_RX_FRAME_SLOTS + 1];
	struct hv_copy_seg seg[RX_BATCH_SEGS];
};

/* Whether the head frame joins the batch: its segments fit. */
static bool batch_room(const struct rx_batch *x, const struct nb_rxbuf *b)
{
	return x->n < RX_BATCH_FRAMES &&
	       (x->n == 0 || x->nseg + data_slots(b->len) <= RX_BATCH_SEGS);
}

/* Takes the frame's requests (data slots, the GSO slot second), copied
 * once, and points a copy segment at each data slot's buffer. */
static void batch_add(struct nb_queue *q, struct rx_batch *x,
		      struct nb_rxbuf *b)
{
	netif_rx_request_t *req = x->req[x->n];
	unsigned nd = data_slots(b->len), n = nd + (gso_type(b) ? 1 : 0);
	unsigned off = 0;

	for (unsigned i = 0; i < n; i++)
		RING_COPY_REQUEST(&q->rx, x->cons + i, &req[i]);
	x->seg0[x->n] = x->nseg;
	for (unsigned i = 0, k = 0; i < nd; i++, k++) {
		uint16_t len = (uint16_t)(b->len - off < HV_PAGE_SIZE ?
					  b->len - off : HV_PAGE_SIZE);

		x->seg[x->nseg++] = (struct hv_copy_seg){ .ref = req[k].gref,
			.domid = q->v->cfg.domid, .len = len,
			.dir = HV_COPY_TO_GRANT, .local = (void *)(b->data + off) };
		off += len;
		if (i == 0 && gso_type(b))
			k++;
	}
	x->b[x->n++] = b;
	x->cons += n;
}

/* Answers frame j of the batch, its data copied: its requests are
 * journalled (journal.h) before the first response overwrites them. */
static void answer(struct nb_queue *q, struct rx_batch *x, unsigned j)
{
	const struct nb_rxbuf *b = x->b[j];
	const netif_rx_request_t *req = x->req[j];
	const struct hv_copy_seg *seg = &x->seg[x->seg0[j]];
	unsigned nd = data_slots(b->len), k = 0;
	bool bad = false;

	nb_journal_begin(&q->jn, NB_JN_RX, q->rx.req_cons, req, sizeof(*req),
			 nd + (gso_type(b) ? 1 : 0));
	for (unsigned i = 0; i < nd; i++, k++) {
		netif_rx_response_t *r = RING_GET_RESPONSE(&q->rx,
							   q->rx.rsp_prod_pvt);

		r->id = req[k].id;
		r->offset = 0;
		r->status = seg[i].status < 0 ? NETIF_RSP_ERROR :
			    (int16_t)seg[i].len;
		r->flags = i == 0 ? first_flags(b, nd) :
			   i + 1 < nd ? NETRXF_more_data : 0;
		bad |= seg[i].status < 0;
		q->rx.req_cons++;
		q->rx.rsp_prod_pvt++;
		if (i == 0 && gso_type(b)) {
			put_extra(q, b);
			k++;
		}
	}
	nb_journal_end(&q->jn, NB_JN_RX, q->rx.rsp_prod_pvt);
	if (bad) {
		q->st.rx_errors++;
		return;
	}
	q->st.rx_packets++;
	q->st.rx_bytes += b->len;
	if (gso_type(b))
		q->st.rx_gso++;
}

/* Copies the batch's data into the guest's buffers, then answers its
 * frames in ring order.  A kill between the two leaves the requests
 * unanswered in their slots: the next daemon offers them again. */
static void batch_deliver(struct nb_queue *q, struct rx_batch *x)
{
	if (!x->n)
		return;
	hv_grant_copy(q->v->loop->hv, x->seg, x->nseg);
	for (unsigned j = 0; j < x->n; j++) {
		answer(q, x, j);
		nb_rxbuf_free(x->b[j]);
	}
	q->rx_moved = true;
	x->n = x->nseg = 0;
	x->cons = q->rx.req_cons;
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
	q->rx_moved = true;
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
	struct rx_batch x;
	unsigned avail;
	struct nb_rxbuf *b;
	int rc = 0;

	x.n = x.nseg = 0;
	x.cons = q->rx.req_cons;
	while ((b = q->rxq_head) && *done < NB_BUDGET) {
		if (rx_avail(q, &avail) < 0)
			goto fail;
		if (avail < x.cons - q->rx.req_cons) {
			nb_vif_halt(q->v, "rx: request producer moved back");
			goto fail;
		}
		avail -= x.cons - q->rx.req_cons;
		if (!deliverable(q, b)) {
			q->st.rx_drops++;
			nb_rxbuf_free(dequeue(q));
			continue;
		}
		q->rx_need = slots_needed(b);
		if (avail < q->rx_need) {
			rc = 1;
			break;
		}
		if (!batch_room(&x, b))
			batch_deliver(q, &x);
		batch_add(q, &x, dequeue(q));
		(*done)++;
	}
	batch_deliver(q, &x);
	return rc;
fail:
	batch_deliver(q, &x);   /* the frames taken before the garbage */
	return -1;
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

/* How long the head frame has waited since the queue last moved. */
static uint64_t rx_waited_ms(struct nb_queue *q)
{
	uint64_t now = hv_now_ns();

	if (q->rx_moved) {
		q->last_rx_ns = now;
		q->rx_moved = false;
	}
	return (now - q->last_rx_ns) / 1000000u;
}

static void rx_wait(struct nb_queue *q)
{
	struct nb_vif *v = q->v;
	uint64_t waited = rx_waited_ms(q);
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
	    rx_waited_ms(q) >= v->cfg.rx_stall_ms) {
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
static int tap_read(struct nb_queue *q, struct nb_rxbuf *b)
{
	unsigned hl = q->v->cfg.vnet_hdr_len;
	struct iovec iov[2] = { { b->hdr, hl }, { b->data, NB_FRAME_MAX } };
	ssize_t n = readv(q->tap_fd, iov, 2);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if ((size_t)n < hl + NB_ETH_HLEN)
		return n == 0 ? -1 : 1 + (int)(b->len = 0);
	b->len = (uint32_t)((size_t)n - hl);
	return 1;
}

/* Where the entry lies behind len bytes of data. */
static size_t rxbuf_meta(size_t len)
{
	return (len + 15) & ~(size_t)15;
}

struct nb_rxbuf *nb_rxbuf_new(void)
{
	struct nb_rxbuf *b;
	void *m;

	if (posix_memalign(&m, HV_PAGE_SIZE,
			   rxbuf_meta(NB_FRAME_MAX) + sizeof(*b)) != 0)
		return NULL;
	b = (struct nb_rxbuf *)((uint8_t *)m + rxbuf_meta(NB_FRAME_MAX));
	memset(b, 0, sizeof(*b));
	b->data = m;
	return b;
}

void nb_rxbuf_free(struct nb_rxbuf *b)
{
	if (b)
		free(b->data);
}

/* b cut to its frame: the entry moves behind the data, then the
 * allocation shrinks (glibc shrinks in place, so the data stays
 * aligned; an allocator that moves it costs only the alignment).
 * Without memory to shrink, b stays whole. */
static struct nb_rxbuf *rxbuf_trim(struct nb_rxbuf *b)
{
	size_t at = rxbuf_meta(b->len);
	uint8_t *m;
	struct nb_rxbuf *t = (struct nb_rxbuf *)(b->data + at);

	memmove(t, b, sizeof(*b));
	m = realloc(t->data, at + sizeof(*t));
	if (!m)
		return t;
	t = (struct nb_rxbuf *)(m + at);
	t->data = m;
	return t;
}

/* The buffer the next frame is read into (q->rxspare), of the largest
 * frame's size; without memory, q->rxlast (over q->txbuf: this
 * thread's too, free between transmits) takes the frame, which is then
 * dropped. */
static struct nb_rxbuf *rx_spare(struct nb_queue *q)
{
	if (!q->rxspare)
		q->rxspare = nb_rxbuf_new();
	if (q->rxspare)
		return q->rxspare;
	q->rxlast.data = q->txbuf;
	return &q->rxlast;
}

/* Queues b on t, trimmed to its frame; false when it is dropped (b is
 * then still the caller's). */
static bool enqueue(struct nb_queue *t, struct nb_rxbuf *b)
{
	if (t->stalled || t->v->fatal ||
	    t->st.rx_queue_len >= t->st.rx_queue_max) {
		t->st.rx_drops++;
		return false;
	}
	b = rxbuf_trim(b);
	b->next = NULL;
	if (!t->rxq_head)
		t->rx_moved = true;
	*t->rxq_tail = b;
	t->rxq_tail = &b->next;
	t->st.rx_queue_len += b->len;
	return true;
}

void nb_rx_tap_ready(struct nb_queue *q)
{
	struct nb_vif *v = q->v;
	bool kick[NB_MAX_QUEUES] = { false };
	struct nb_rxbuf *b;
	int rc = 1;

	for (unsigned i = 0; i < NB_BUDGET && !v->fatal; i++) {
		if (q->st.rx_queue_len >= q->st.rx_queue_max && !q->stalled) {
			q->tap_paused = true;
			event_del(q->tap_ev);
			break;
		}
		b = rx_spare(q);
		rc = tap_read(q, b);
		if (rc <= 0)
			break;
		if (b->len) {
			unsigned t = nb_hash_queue(v, q->index, b->data, b->len);

			/* A vif serving some queues has no hash: t is q's own. */
			if (!nb_vif_serves(v, t))
				t = q->index;
			if (b != q->rxspare)
				v->q[t].st.rx_drops++;
			else if (enqueue(&v->q[t], b))
				q->rxspare = NULL;
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
