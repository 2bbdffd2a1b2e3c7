/* The data plane's event loop: it owns the hypervisor handle's
 * event-channel fd and routes each pending port to the queue (or control
 * ring) bound to it.  As Linux's xenvif_interrupt / xenvif_tx_interrupt /
 * xenvif_rx_interrupt, a port is unmasked before its ring is looked at
 * (late EOI is not needed: each kick only schedules bounded work, XSA-332),
 * and an unknown port is ignored.  The ports that fired are taken and
 * unmasked together (hv_evtchn_take: one read and one write on Xen for
 * them all). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "pvd/log.h"
#include "pvd/msgq.h"
#include "tapio.h"
#include "vif_priv.h"

static void route(struct nb_loop *l, evtchn_port_t port)
{
	for (struct nb_vif *v = l->vifs; v; v = v->next) {
		if (v->ctrl_bound && v->ctrl_port == port) {
			nb_ctrl_kick(v);
			return;
		}
		for (unsigned i = 0; i < v->nq; i++) {
			struct nb_queue *q = &v->q[i];
			bool hit = false;

			if (q->tx_bound && q->tx_port == port) {
				nb_tx_kick(q);
				hit = true;
			}
			if (q->rx_bound && q->rx_port == port) {
				nb_rx_kick(q);
				hit = true;
			}
			if (hit)
				return;
		}
	}
}

static void on_evtchn(evutil_socket_t fd, short what, void *arg)
{
	struct nb_loop *l = arg;
	evtchn_port_t port[HV_EVTCHN_BATCH];
	int n = hv_evtchn_take(l->hv, port, HV_EVTCHN_BATCH);

	for (int i = 0; i < n; i++)
		route(l, port[i]);
}

int nb_loop_create(struct event_base *base, struct hv *hv,
		   enum nb_tapio_mode tapio, struct nb_loop **out)
{
	struct nb_loop *l = calloc(1, sizeof(*l));
	int rc = -ENOMEM;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->base = base;
	l->hv = hv;
	/* Alone (no pool: unit tests) the loop's thread is also the one its
	 * vifs report to; the pool points mainq at the main thread's. */
	rc = pvd_msgq_create(base, 0, &l->q);
	if (rc < 0) {
		log_err("%s: no message queue: %s", __func__, strerror(-rc));
		goto fail;
	}
	l->mainq = l->q;
	rc = nb_tapio_create(tapio, &l->tio);
	if (rc < 0)
		goto fail;
	pvd_iothread_inline(&l->th, base, l->q);
	rc = -ENOMEM;
	l->evtchn_ev = event_new(base, hv_evtchn_fd(hv), EV_READ | EV_PERSIST,
				 on_evtchn, l);
	if (!l->evtchn_ev || event_add(l->evtchn_ev, NULL) < 0) {
		log_err("%s: cannot watch the event channels", __func__);
		goto fail;
	}
	*out = l;
	return 0;
fail:
	nb_loop_destroy(l);
	return rc;
}

void nb_loop_destroy(struct nb_loop *l)
{
	if (!l)
		return;
	if (l->vifs)
		log_warn("vifs still running; they are leaked");
	if (l->evtchn_ev)
		event_free(l->evtchn_ev);
	nb_tapio_destroy(l->tio);
	pvd_msgq_destroy(l->q);
	free(l);
}

void nb_loop_add(struct nb_loop *l, struct nb_vif *v)
{
	v->next = l->vifs;
	l->vifs = v;
}

void nb_loop_del(struct nb_loop *l, struct nb_vif *v)
{
	for (struct nb_vif **pp = &l->vifs; *pp; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			return;
		}
	}
}
