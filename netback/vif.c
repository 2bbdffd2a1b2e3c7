/* A vif's life: map its rings and bind its event channels
 * (xenvif_connect_data / xenvif_connect_ctrl), serve, report guest errors
 * from a fresh loop turn, and take it all down (xenvif_disconnect_data).
 *
 * Re-attach (cfg.reattach, a restarted pvd-netback): each ring is taken
 * up where the queue's journal (journal.h) says: the responses the dead
 * process wrote whole are published, the requests of the frame it was
 * answering are written back into their slots, and consumption goes on
 * from there.  Without a journal (or one for other rings) the ring is
 * taken up at its shared rsp_prod, as BACK_RING_ATTACH does.  A frame
 * taken again may reach the tap twice (the network tolerates a
 * duplicate; losing it would cost a TCP timeout); on rx the buffers of
 * a frame in answer are offered again and the frame, which was in the
 * dead process's memory, is lost. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "pvd/log.h"
#include "pvd/mapfile.h"
#include "pvd/msgq.h"
#include "vif_priv.h"

/* One frame's answer fits the journal (journal.h). */
_Static_assert(NB_TX_SCAN_MAX <= NB_JN_SLOTS, "tx chain > journal");
_Static_assert(NB_RX_FRAME_SLOTS + 1 <= NB_JN_SLOTS, "rx frame > journal");
_Static_assert(sizeof(union nb_txslot) <= NB_JN_SLOT_SIZE, "tx slot size");
_Static_assert(NB_TXBUF_SIZE >= NB_FRAME_MAX + HV_PAGE_SIZE, "tx buffer < a frame");
_Static_assert(sizeof(netif_rx_request_t) <= NB_JN_SLOT_SIZE, "rx slot size");

/* On the main thread: the callback runs there, never on the I/O thread,
 * and not for a vif nb_vif_stop has already taken down (its memory is
 * freed by a message queued behind this one). */
struct report {
	unsigned events;
	const char *why;
};

static void report_main(void *ctx, void *payload)
{
	struct nb_vif *v = ctx;
	const struct report *r = payload;
	unsigned ev = r->events;

	while (ev && !v->dead) {
		int e = __builtin_ctz(ev);

		ev &= ~(1u << e);
		v->cb(v, e, e == NB_VIF_FATAL ? r->why :
		      e == NB_VIF_CARRIER_OFF ? "rx stalled" : "rx resumed",
		      v->cb_arg);
		if (e == NB_VIF_FATAL)
			return;
	}
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
	struct nb_vif *v = arg;
	struct report r = { v->events, v->fatal_why };
	int rc;

	v->events = 0;
	rc = pvd_msgq_post(v->loop->mainq, report_main, v, &r, sizeof(r));
	if (rc < 0)
		log_err("%s: vif%u.%u: %s", __func__, (unsigned)v->cfg.domid,
			v->cfg.devid, strerror(-rc));
}

void nb_vif_note(struct nb_vif *v, enum nb_vif_event ev, const char *why)
{
	static const struct timeval zero = { 0, 0 };
	const unsigned on = 1u << NB_VIF_CARRIER_ON, off = 1u << NB_VIF_CARRIER_OFF;

	/* Reported in the order FATAL, OFF, ON.  An ON not yet reported
	 * followed by an OFF: the last report said OFF, nothing changed. */
	if (ev == NB_VIF_CARRIER_OFF && (v->events & on) && !(v->events & off)) {
		v->events &= ~on;
		return;
	}
	v->events |= 1u << ev;
	if (ev == NB_VIF_FATAL)
		v->fatal_why = why;
	evtimer_add(v->report_ev, &zero);
}

static void queue_quiesce(struct nb_queue *q)
{
	if (q->tap_ev)
		event_del(q->tap_ev);
	if (q->resume_ev)
		event_del(q->resume_ev);
	if (q->credit_ev)
		event_del(q->credit_ev);
	if (q->stall_ev)
		event_del(q->stall_ev);
}

/* Xen's xenvif_fatal_tx_err: the rings are never looked at again. */
void nb_vif_halt(struct nb_vif *v, const char *why)
{
	if (v->fatal)
		return;
	v->fatal = true;
	log_warn("vif%u.%u: %s: rings halted", (unsigned)v->cfg.domid,
		 v->cfg.devid, why);
	for (unsigned i = 0; i < v->nq; i++)
		queue_quiesce(&v->q[i]);
	nb_vif_note(v, NB_VIF_FATAL, why);
}

void nb_queue_notify(struct nb_queue *q, evtchn_port_t port, int notify)
{
	if (notify) {
		hv_evtchn_notify(q->v->loop->hv, port);
		q->st.notify_sent++;
	} else {
		q->st.notify_suppressed++;
	}
}

static int map_one(struct nb_vif *v, grant_ref_t ref, void **addr)
{
	int rc = hv_grant_map(v->loop->hv, v->cfg.domid, 1, &ref, 1, addr);

	if (rc < 0) {
		log_warn("vif%u.%u: mapping ring ref %u: %s",
			 (unsigned)v->cfg.domid, v->cfg.devid, ref, strerror(-rc));
		*addr = NULL;
	}
	return rc;
}

static int bind_one(struct nb_vif *v, evtchn_port_t remote,
		    evtchn_port_t *local, bool *bound)
{
	int rc = hv_evtchn_bind_interdomain(v->loop->hv, v->cfg.domid, remote,
					    local);

	if (rc < 0)
		log_warn("vif%u.%u: binding event channel %u: %s",
			 (unsigned)v->cfg.domid, v->cfg.devid, remote,
			 strerror(-rc));
	else
		*bound = true;
	return rc;
}

/* The queue's journal, kept (reattach) if it is for these rings. */
static void journal_open(struct nb_queue *q, bool reattach)
{
	const struct nb_vif_cfg *c = &q->v->cfg;
	char path[256];

	if (!c->journal_dir)
		return;
	if (pvd_journal_path(path, sizeof(path), c->journal_dir, c->domid,
				c->devid, q->index) < 0 ||
	    nb_journal_open(&q->jn, path, c->q[q->index].tx_ref,
			    c->q[q->index].rx_ref, reattach) < 0)
		log_warn("vif%u.%u queue %u: no journal: a kill -9 may lose "
			 "the frames in answer", (unsigned)c->domid, c->devid,
			 q->index);
}

/* A restarted daemon takes ring K up where its predecessor's journal
 * says (journal.h): the responses written whole are published, the
 * requests of a frame in answer written back into their slots.  The
 * index to consume from. */
static RING_IDX journal_take_up(struct nb_queue *q, enum nb_jring_kind k,
				RING_IDX *rsp_prod, RING_IDX req_prod)
{
	struct nb_journal_plan p;
	bool tx = k == NB_JN_TX;
	unsigned size = tx ? RING_SIZE(&q->tx) : RING_SIZE(&q->rx);
	size_t len = tx ? sizeof(netif_tx_request_t) : sizeof(netif_rx_request_t);
	RING_IDX was = *rsp_prod;

	if (nb_journal_recover(&q->jn, k, was, req_prod, size, &p) < 0) {
		if (q->jn.valid)
			log_warn("vif%u.%u queue %u: %s journal does not fit the "
				 "ring: attached at rsp_prod %u",
				 (unsigned)q->v->cfg.domid, q->v->cfg.devid,
				 q->index, tx ? "tx" : "rx", was);
		return was;
	}
	for (unsigned i = 0; i < p.nrestore; i++)
		memcpy(tx ? (void *)RING_GET_REQUEST(&q->tx, p.done + i) :
			    (void *)RING_GET_REQUEST(&q->rx, p.done + i),
		       nb_journal_copy(&q->jn, k, i), len);
	if (p.done != was) {
		xen_wmb();
		*rsp_prod = p.done;
	}
	if (p.done != was || p.nrestore)
		log_info("vif%u.%u queue %u: %s from the journal: %u response(s) "
			 "published, %u request(s) taken again",
			 (unsigned)q->v->cfg.domid, q->v->cfg.devid, q->index,
			 tx ? "tx" : "rx", (unsigned)(p.done - was), p.nrestore);
	return p.done;
}

/* The ring's indices: fresh, or (reattach) from the journal or the
 * shared rsp_prod. */
static int attach_rings(struct nb_queue *q, bool reattach)
{
	netif_tx_sring_t *ts = q->tx_addr;
	netif_rx_sring_t *rs = q->rx_addr;
	RING_IDX t, r;

	journal_open(q, reattach);
	if (!reattach) {
		BACK_RING_INIT(&q->tx, ts, HV_PAGE_SIZE);
		BACK_RING_INIT(&q->rx, rs, HV_PAGE_SIZE);
		/* A fresh ring: start where the frontend's init left it. */
		q->tx.rsp_prod_pvt = q->tx.req_cons = ts->rsp_prod;
		q->rx.rsp_prod_pvt = q->rx.req_cons = rs->rsp_prod;
		nb_journal_reset(&q->jn, NB_JN_TX, q->tx.req_cons);
		nb_journal_reset(&q->jn, NB_JN_RX, q->rx.req_cons);
		return 0;
	}
	BACK_RING_ATTACH(&q->tx, ts, ts->rsp_prod, HV_PAGE_SIZE);
	BACK_RING_ATTACH(&q->rx, rs, rs->rsp_prod, HV_PAGE_SIZE);
	t = journal_take_up(q, NB_JN_TX, &ts->rsp_prod, ts->req_prod);
	r = journal_take_up(q, NB_JN_RX, &rs->rsp_prod, rs->req_prod);
	q->tx.rsp_prod_pvt = q->tx.req_cons = t;
	q->rx.rsp_prod_pvt = q->rx.req_cons = r;
	if (ts->req_prod - q->tx.req_cons > RING_SIZE(&q->tx) ||
	    rs->req_prod - q->rx.req_cons > RING_SIZE(&q->rx))
		return -EIO;
	return 0;
}

static void on_tap(evutil_socket_t fd, short what, void *arg)
{
	nb_rx_tap_ready(arg);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct nb_queue *q = arg;

	nb_tx_kick(q);
	nb_rx_kick(q);
}

static void on_credit(evutil_socket_t fd, short what, void *arg)
{
	struct nb_queue *q = arg;

	q->credit_wait = false;
	nb_tx_kick(q);
}

static void on_stall(evutil_socket_t fd, short what, void *arg)
{
	nb_rx_stall_check(arg);
}

static int queue_events(struct nb_queue *q)
{
	struct event_base *b = q->v->loop->base;

	q->tap_ev = event_new(b, q->tap_fd, EV_READ | EV_PERSIST, on_tap, q);
	q->resume_ev = evtimer_new(b, on_resume, q);
	q->credit_ev = evtimer_new(b, on_credit, q);
	q->stall_ev = evtimer_new(b, on_stall, q);
	if (!q->tap_ev || !q->resume_ev || !q->credit_ev || !q->stall_ev)
		return -ENOMEM;
	return 0;
}

static int queue_start(struct nb_vif *v, unsigned i)
{
	const struct nb_queue_cfg *c = &v->cfg.q[i];
	struct nb_queue *q = &v->q[i];
	void *txbuf;
	int rc;

	q->v = v;
	q->index = i;
	q->tap_fd = c->tap_fd;
	q->rxq_tail = &q->rxq_head;
	q->st.rx_queue_max = (uint64_t)(NB_RX_RING_SIZE / 2) * HV_PAGE_SIZE;
	if (posix_memalign(&txbuf, HV_PAGE_SIZE, NB_TXBUF_SIZE) != 0)
		return -ENOMEM;
	q->txbuf = txbuf;
	q->rxspare = nb_rxbuf_new();
	if (!q->rxspare)
		return -ENOMEM;
	rc = map_one(v, c->tx_ref, &q->tx_addr);
	if (rc == 0)
		rc = map_one(v, c->rx_ref, &q->rx_addr);
	if (rc == 0)
		rc = attach_rings(q, v->cfg.reattach);
	if (rc == 0)
		rc = bind_one(v, c->tx_port, &q->tx_port, &q->tx_bound);
	if (rc == 0 && c->rx_port != c->tx_port)
		rc = bind_one(v, c->rx_port, &q->rx_port, &q->rx_bound);
	if (rc == 0 && c->rx_port == c->tx_port) {
		q->rx_port = q->tx_port;
		q->rx_bound = true;
	}
	if (rc == 0)
		rc = queue_events(q);
	if (rc == 0 && event_add(q->tap_ev, NULL) < 0)
		rc = -ENOMEM;
	return rc;
}

/* Also for a queue a failed start never reached (q->v unset). */
static void queue_stop(struct nb_queue *q)
{
	struct hv *hv;

	if (!q->v)
		return;
	hv = q->v->loop->hv;
	if (q->tx_bound)
		hv_evtchn_unbind(hv, q->tx_port);
	if (q->rx_bound && (!q->tx_bound || q->rx_port != q->tx_port))
		hv_evtchn_unbind(hv, q->rx_port);
	q->tx_bound = q->rx_bound = false;
	if (q->tx_addr)
		hv_grant_unmap(hv, q->tx_addr, 1);
	if (q->rx_addr)
		hv_grant_unmap(hv, q->rx_addr, 1);
	q->tx_addr = q->rx_addr = NULL;
	nb_journal_close(&q->jn);
	nb_rx_flush(q);
	if (q->tap_ev)
		event_free(q->tap_ev);
	if (q->resume_ev)
		event_free(q->resume_ev);
	if (q->credit_ev)
		event_free(q->credit_ev);
	if (q->stall_ev)
		event_free(q->stall_ev);
	q->tap_ev = q->resume_ev = q->credit_ev = q->stall_ev = NULL;
	free(q->txbuf);
	nb_rxbuf_free(q->rxspare);
	q->txbuf = NULL;
	q->rxspare = NULL;
}

static int ctrl_start(struct nb_vif *v)
{
	xen_netif_ctrl_sring_t *s;
	int rc = map_one(v, v->cfg.ctrl_ref, &v->ctrl_addr);

	if (rc < 0)
		return rc;
	s = v->ctrl_addr;
	BACK_RING_ATTACH(&v->ctrl, s, s->rsp_prod, HV_PAGE_SIZE);
	if (s->req_prod - v->ctrl.req_cons > RING_SIZE(&v->ctrl))
		return -EIO;
	return bind_one(v, v->cfg.ctrl_port, &v->ctrl_port, &v->ctrl_bound);
}

static int cfg_check(const struct nb_vif_cfg *c)
{
	if (c->nqueues == 0 || c->nqueues > NB_MAX_QUEUES)
		return -EINVAL;
	if (c->vnet_hdr_len != 10 && c->vnet_hdr_len != 12)
		return -EINVAL;
	/* A control ring's hash steers to any queue: one vif serves all. */
	if (c->mask && ((c->mask >> c->nqueues) || (c->ctrl && c->mask != (1u << c->nqueues) - 1)))
		return -EINVAL;
	for (unsigned i = 0; i < c->nqueues; i++)
		if ((!c->mask || (c->mask & (1u << i))) && c->q[i].tap_fd < 0)
			return -EINVAL;
	return 0;
}

static unsigned served(const struct nb_vif *v)
{
	return (unsigned)__builtin_popcount(v->mask);
}

static int vif_setup(struct nb_vif *v)
{
	int rc = 0;

	v->report_ev = evtimer_new(v->loop->base, on_report, v);
	if (!v->report_ev)
		return -ENOMEM;
	for (unsigned i = 0; i < v->nq && rc == 0; i++)
		if (nb_vif_serves(v, i))
			rc = queue_start(v, i);
	if (rc == 0 && v->cfg.ctrl)
		rc = ctrl_start(v);
	return rc;
}

/* The I/O thread's half of a vif's start and stop. */
struct start_call {
	struct nb_loop *l;
	const struct nb_vif_cfg *cfg;
	nb_vif_cb *cb;
	void *arg;
	struct nb_vif *v;
};

static void vif_teardown(struct nb_vif *v)
{
	nb_loop_del(v->loop, v);
	for (unsigned i = 0; i < v->nq; i++)
		queue_stop(&v->q[i]);
	if (v->ctrl_bound)
		hv_evtchn_unbind(v->loop->hv, v->ctrl_port);
	v->ctrl_bound = false;
	if (v->ctrl_addr)
		hv_grant_unmap(v->loop->hv, v->ctrl_addr, 1);
	v->ctrl_addr = NULL;
	if (v->report_ev)
		event_free(v->report_ev);
	v->report_ev = NULL;
}

static void reattach_notify(struct nb_vif *v)
{
	for (unsigned i = 0; i < v->nq; i++) {
		if (!nb_vif_serves(v, i))
			continue;
		nb_queue_notify(&v->q[i], v->q[i].tx_port, 1);
		if (v->q[i].rx_port != v->q[i].tx_port)
			nb_queue_notify(&v->q[i], v->q[i].rx_port, 1);
	}
	if (v->cfg.ctrl)
		hv_evtchn_notify(v->loop->hv, v->ctrl_port);
}

static int start_on_thread(void *arg)
{
	struct start_call *c = arg;
	struct nb_vif *v = calloc(1, sizeof(*v));
	int rc;

	if (!v)
		return -ENOMEM;
	v->loop = c->l;
	v->cfg = *c->cfg;
	v->cb = c->cb;
	v->cb_arg = c->arg;
	v->nq = c->cfg->nqueues;
	v->mask = c->cfg->mask ? c->cfg->mask : (1u << v->nq) - 1;
	v->carrier = true;
	v->rate = c->cfg->rate;
	v->policy = c->cfg->policy;
	if (!v->cfg.rx_stall_ms)
		v->cfg.rx_stall_ms = NB_RX_STALL_MS_DEFAULT;
	nb_loop_add(c->l, v);
	rc = vif_setup(v);
	if (rc < 0)
		goto fail;
	/* Whatever the guest queued already (a restart) is served now. */
	for (unsigned i = 0; i < v->nq; i++) {
		if (!nb_vif_serves(v, i))
			continue;
		nb_tx_kick(&v->q[i]);
		nb_rx_kick(&v->q[i]);
	}
	if (v->cfg.ctrl)
		nb_ctrl_kick(v);
	/* A predecessor killed between pushing responses and notifying left
	 * the frontend asleep on responses it has not seen; later pushes need
	 * not cross its rsp_event again, so without this event the guest and
	 * we wait on each other (its rx ring full of unread responses, ours
	 * "rx stalled").  A spare event is harmless. */
	if (v->cfg.reattach)
		reattach_notify(v);
	c->v = v;
	return 0;
fail:
	v->events = 0;
	vif_teardown(v);
	free(v);
	return rc;
}

int nb_vif_start(struct nb_loop *l, const struct nb_vif_cfg *cfg,
		 nb_vif_cb *cb, void *arg, struct nb_vif **out)
{
	struct start_call c = { l, cfg, cb, arg, NULL };
	int rc;

	*out = NULL;
	rc = cfg_check(cfg);
	if (rc < 0)
		return rc;
	rc = pvd_msgq_call(l->q, start_on_thread, &c);
	if (rc < 0)
		return rc;
	l->load += served(c.v);
	*out = c.v;
	return 0;
}

static int stop_on_thread(void *arg)
{
	vif_teardown(arg);
	return 0;
}

static void free_main(void *ctx, void *payload)
{
	(void)payload;
	free(ctx);
}

void nb_vif_stop(struct nb_vif *v)
{
	int rc;

	if (!v)
		return;
	v->dead = true;
	v->loop->load -= served(v);
	rc = pvd_msgq_call(v->loop->q, stop_on_thread, v);
	if (rc < 0) {
		/* The thread is gone (shutdown): nothing of it runs any more. */
		log_warn("%s: vif%u.%u: %s", __func__, (unsigned)v->cfg.domid,
			 v->cfg.devid, strerror(-rc));
		vif_teardown(v);
	}
	/* Reports the thread posted before it stopped are still queued on
	 * the main thread: free v behind them. */
	if (pvd_msgq_post(v->loop->mainq, free_main, v, NULL, 0) < 0)
		free(v);
}

struct set_call {
	struct nb_vif *v;
	const void *src;
	void *dst;
	size_t len;
};

static int copy_on_thread(void *arg)
{
	struct set_call *c = arg;

	memcpy(c->dst, c->src, c->len);
	return 0;
}

static void set_on_thread(struct nb_vif *v, void *dst, const void *src,
			  size_t len)
{
	struct set_call c = { v, src, dst, len };
	int rc = pvd_msgq_call(v->loop->q, copy_on_thread, &c);

	if (rc < 0)
		log_warn("%s: %s", __func__, strerror(-rc));
}

void nb_vif_set_rate(struct nb_vif *v, const struct nb_rate *rate)
{
	set_on_thread(v, &v->rate, rate, sizeof(*rate));
}

void nb_vif_set_policy(struct nb_vif *v, const struct nb_policy *p)
{
	set_on_thread(v, &v->policy, p, sizeof(*p));
}

unsigned nb_vif_nqueues(const struct nb_vif *v)
{
	return v->nq;
}

uint32_t nb_vif_mask(const struct nb_vif *v)
{
	return v->mask;
}

struct qstats_call {
	const struct nb_vif *v;
	unsigned q;
	struct nb_qstats *out;
	bool carrier;
};

static int qstats_on_thread(void *arg)
{
	struct qstats_call *c = arg;
	const struct nb_vif *v = c->v;
	const struct nb_queue *nq;

	c->carrier = v->carrier;
	if (!c->out || c->q >= v->nq || !nb_vif_serves(v, c->q))
		return 0;
	nq = &v->q[c->q];
	*c->out = nq->st;
	if (nq->tx_addr)
		c->out->tx_ring_used = nq->tx.sring->req_prod - nq->tx.req_cons;
	if (nq->rx_addr)
		c->out->rx_ring_used = nq->rx.sring->req_prod - nq->rx.req_cons;
	c->out->thread = v->loop->index;
	c->out->thread_cpu_ns = pvd_iothread_cpu_ns(&v->loop->th);
	return 0;
}

void nb_vif_qstats(const struct nb_vif *v, unsigned q, struct nb_qstats *out)
{
	struct qstats_call c = { v, q, out, false };

	memset(out, 0, sizeof(*out));
	if (pvd_msgq_call(v->loop->q, qstats_on_thread, &c) < 0)
		log_warn("%s: no answer from thread %u", __func__, v->loop->index);
}

bool nb_vif_carrier(const struct nb_vif *v)
{
	struct qstats_call c = { v, 0, NULL, false };

	pvd_msgq_call(v->loop->q, qstats_on_thread, &c);
	return c.carrier;
}
