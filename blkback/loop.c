/* The I/O loop (see loop.h). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <event2/event.h>

#include "pvd/log.h"
#include "pvd/ring_util.h"
#include "eng_util.h"
#include "loop.h"

#define REAP_MAX 1024

/* Safe against removing q itself. */
#define for_each_queue(l, list, member, q)                                  \
	for (struct blk_link *it_ = (l)->list.next, *nx_ = it_->next;           \
	     it_ != &(l)->list &&                                               \
	     ((q) = container_of(it_, struct blk_queue, member), 1);           \
	     it_ = nx_, nx_ = it_->next)

static unsigned port_hash(evtchn_port_t port)
{
	return (port * 0x9E3779B1u) >> 24 & (BLK_PORT_BUCKETS - 1);
}

void blk_loop_add_port(struct blk_loop *l, struct blk_queue *q)
{
	unsigned h = port_hash(q->port);

	q->next_port = l->ports[h];
	l->ports[h] = q;
}

static struct blk_queue *port_find(struct blk_loop *l, evtchn_port_t port)
{
	struct blk_queue *q = l->ports[port_hash(port)];

	while (q && (!q->bound || q->port != port))
		q = q->next_port;
	return q;
}

void blk_loop_forget(struct blk_loop *l, struct blk_queue *q)
{
	struct blk_queue **pp = &l->ports[port_hash(q->port)];

	for (; *pp; pp = &(*pp)->next_port) {
		if (*pp == q) {
			*pp = q->next_port;
			break;
		}
	}
	blk_link_del(&q->active);
	blk_link_del(&q->noted);
}

void blk_loop_activate(struct blk_loop *l, struct blk_queue *q)
{
	if (!blk_link_linked(&q->active))
		blk_link_add(&l->active, &q->active);
}

void blk_loop_note(struct blk_loop *l, struct blk_queue *q, int event)
{
	q->events |= (unsigned)event;
	if (!blk_link_linked(&q->noted))
		blk_link_add(&l->noted, &q->noted);
}

/* One round: take, submit in one batch per engine, reap, push. */
static unsigned round_once(struct blk_loop *l)
{
	struct blk_queue *q;
	unsigned n = 0;

	l->now_valid = false;
	l->rounds++;
	for_each_queue(l, active, active, q)
		n += blk_queue_consume(q, l->batch);
	for (unsigned i = 0; i < l->neng; i++)
		l->eng[i].ops->commit(l->eng[i].e);
	/* Completions are timed after the submission, which may have taken
	 * long enough for the storage to finish. */
	l->now_valid = false;
	for (unsigned i = 0; i < l->neng; i++)
		n += l->eng[i].ops->reap(l->eng[i].e, REAP_MAX);
	for_each_queue(l, active, active, q)
		blk_queue_push(q);
	return n;
}

static bool engines_ready(struct blk_loop *l)
{
	for (unsigned i = 0; i < l->neng; i++)
		if (l->eng[i].ops->ready(l->eng[i].e))
			return true;
	return false;
}

static bool any_work(struct blk_loop *l)
{
	struct blk_queue *q;

	for_each_queue(l, active, active, q)
		if (blk_queue_has_work(q))
			return true;
	return engines_ready(l);
}

/* Re-arms every active ring; drops idle queues from the active list. */
static bool final_check(struct blk_loop *l)
{
	struct blk_queue *q;
	bool more = false;

	for_each_queue(l, active, active, q) {
		if (blk_queue_final_check(q))
			more = true;
		else if (!q->inflight && !q->new_rsp)
			blk_link_del(&q->active);
	}
	return more || engines_ready(l);
}

/* Queue events, outside the rounds: callbacks may stop or start queues. */
static unsigned report(struct blk_loop *l)
{
	unsigned n = 0;

	while (blk_link_linked(&l->noted)) {
		struct blk_queue *q = container_of(l->noted.next,
						   struct blk_queue, noted);
		unsigned ev = q->events;

		blk_link_del(&q->noted);
		q->events = 0;
		n++;
		if (ev & BLK_Q_FATAL)
			q->cb(q, BLK_Q_FATAL, q->cb_arg);
		if (ev & BLK_Q_DRAINED) {
			q->cb(q, BLK_Q_DRAINED, q->cb_arg);
			blk_queue_free(q);
		}
	}
	return n;
}

void blk_loop_run(struct blk_loop *l)
{
	uint64_t start = 0;   /* the first round with work */

	if (l->running)
		return;
	l->running = true;
	do {
		for (;;) {
			if (round_once(l)) {
				uint64_t now = blk_loop_now(l);

				if (!start)
					start = now;
				if (now - start < BLK_SLICE_NS)
					continue;
				/* Let the rest of the daemon run; back at once. */
				struct timeval zero = { 0, 0 };

				evtimer_add(l->resume_ev, &zero);
				l->slices++;
				break;
			}
			if (blk_link_linked(&l->active) &&
			    HV_SPIN_UNTIL(any_work(l), l->spin_ns)) {
				l->spins_won++;
				continue;
			}
			if (!final_check(l)) {
				l->sleeps++;
				break;
			}
		}
	} while (report(l));
	l->running = false;
}

static void on_evtchn(evutil_socket_t fd, short what, void *arg)
{
	struct blk_loop *l = arg;
	evtchn_port_t port[HV_EVTCHN_BATCH];
	int n = hv_evtchn_take(l->hv, port, HV_EVTCHN_BATCH);

	for (int i = 0; i < n; i++) {
		struct blk_queue *q = port_find(l, port[i]);

		if (q) {
			q->st.kicks++;
			blk_loop_activate(l, q);
		}
	}
	blk_loop_run(l);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	blk_loop_run(arg);
}

static void on_engine(evutil_socket_t fd, short what, void *arg)
{
	struct blk_loop *l = arg;

	for (unsigned i = 0; i < l->neng; i++)
		if (l->eng[i].ops->engine_fd(l->eng[i].e) == fd)
			l->eng[i].ops->ack(l->eng[i].e);
	blk_loop_run(l);
}

int blk_loop_init(struct blk_loop *l, struct event_base *base, struct hv *hv,
		  uint32_t spin_ns, unsigned depth)
{
	memset(l, 0, sizeof(*l));
	l->base = base;
	l->hv = hv;
	l->spin_ns = spin_ns;
	l->depth = depth;
	l->batch = BLK_BATCH_DEFAULT;
	blk_link_init(&l->active);
	blk_link_init(&l->noted);
	l->evtchn_ev = event_new(base, hv_evtchn_fd(hv), EV_READ | EV_PERSIST,
				 on_evtchn, l);
	l->resume_ev = evtimer_new(base, on_resume, l);
	if (!l->evtchn_ev || !l->resume_ev || event_add(l->evtchn_ev, NULL) < 0) {
		log_err("cannot watch the event channels");
		blk_loop_destroy(l);
		return -ENOMEM;
	}
	return 0;
}

void blk_loop_destroy(struct blk_loop *l)
{
	for (unsigned i = 0; i < l->neng; i++) {
		if (l->eng[i].ev)
			event_free(l->eng[i].ev);
		l->eng[i].ops->engine_destroy(l->eng[i].e);
	}
	l->neng = 0;
	if (l->evtchn_ev)
		event_free(l->evtchn_ev);
	if (l->resume_ev)
		event_free(l->resume_ev);
	l->evtchn_ev = l->resume_ev = NULL;
}

int blk_loop_engine(struct blk_loop *l, const struct blk_backend_ops *ops,
		    struct blk_engine **out)
{
	struct blk_engine *e;
	struct event *ev = NULL;
	int rc, fd;

	for (unsigned i = 0; i < l->neng; i++) {
		if (l->eng[i].ops == ops) {
			*out = l->eng[i].e;
			return 0;
		}
	}
	if (l->neng == BLK_MAX_ENGINES)
		return -ENOSPC;
	rc = ops->engine_create(l->depth, &e);
	if (rc < 0)
		return rc;
	fd = ops->engine_fd(e);
	if (fd >= 0) {
		ev = event_new(l->base, fd, EV_READ | EV_PERSIST, on_engine, l);
		if (!ev || event_add(ev, NULL) < 0) {
			if (ev)
				event_free(ev);
			ops->engine_destroy(e);
			return -ENOMEM;
		}
	}
	l->eng[l->neng].ops = ops;
	l->eng[l->neng].e = e;
	l->eng[l->neng].ev = ev;
	l->neng++;
	*out = e;
	return 0;
}
