/* The I/O loop of pvd-blkback: one per I/O thread (pool.h), serving the
 * queues placed on that thread; touched only by that thread.
 *
 * Wakes on the hypervisor handle's event-channel fd (a guest pushed
 * requests) and on the storage engines' eventfds (I/O completed); then
 * runs rounds: take requests from every active queue, hand them to the
 * engines in one batch each, reap completions, push responses.  When a
 * round finds nothing it spins for a bounded time (HV_SPIN_UNTIL from
 * ring_util.h) on the active rings and the engines' completion queues,
 * then re-arms each ring's req_event (RING_FINAL_CHECK_FOR_REQUESTS) and
 * goes back to libevent.
 */
#ifndef PVD_BLKBACK_LOOP_H
#define PVD_BLKBACK_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "pvd/hv.h"
#include "backend.h"
#include "queue.h"

struct event_base;
struct event;

/* aio, uring, null, nbd, rbd */
#define BLK_MAX_ENGINES 5
/* Requests taken per queue per round: small batches let answers flow
 * while the next requests are read, so that neither side waits long
 * enough to go to sleep (measured in docs/pvd-blkback.md). */
#define BLK_BATCH_DEFAULT 8
/* A busy loop goes back to libevent this often (store events, the
 * control socket and signals are served between slices; a zero timer
 * brings it back). */
#define BLK_SLICE_NS 1000000u
#define BLK_PORT_BUCKETS 256

struct blk_loop {
	struct event_base *base;
	struct hv *hv;
	struct event *evtchn_ev;
	struct event *resume_ev;    /* zero timer: the next slice */
	uint32_t spin_ns;
	unsigned depth;             /* engine queue depth */
	unsigned batch;             /* requests taken per queue per round */
	struct {
		const struct blk_backend_ops *ops;
		struct blk_engine *e;
		struct event *ev;
	} eng[BLK_MAX_ENGINES];
	unsigned neng;
	struct blk_link active;     /* queues to look at in rounds */
	struct blk_link noted;      /* queues with events to report */
	struct blk_queue *ports[BLK_PORT_BUCKETS];
	uint64_t now;               /* ns, when first asked in the round */
	bool now_valid;             /* now was read in this stage */
	bool running;
	uint64_t rounds, spins_won, sleeps, slices;
};

int blk_loop_init(struct blk_loop *l, struct event_base *base, struct hv *hv,
		  uint32_t spin_ns, unsigned depth);
/* Unbinds nothing itself: the queues must be gone first.  Idempotent. */
void blk_loop_destroy(struct blk_loop *l);
/* The engine for ops, created on first use. */
int blk_loop_engine(struct blk_loop *l, const struct blk_backend_ops *ops,
		    struct blk_engine **out);
/* Rounds until nothing is left to do, then reports queue events. */
void blk_loop_run(struct blk_loop *l);

/* The time of the current round's stage (ns): read from the clock when
 * first asked for after the round's start (requests taken) or after its
 * submissions (completions), so that a round that takes and completes
 * nothing reads no clock.  On a Xen PV dom0 under emulation
 * clock_gettime is a real system call (no vDSO clock): reading it at the
 * start of every round and before every reap made 1.7 calls per request
 * (docs/xen-host.md). */
static inline uint64_t blk_loop_now(struct blk_loop *l)
{
	if (!l->now_valid) {
		l->now = hv_now_ns();
		l->now_valid = true;
	}
	return l->now;
}

/* For queue.c. */
void blk_loop_activate(struct blk_loop *l, struct blk_queue *q);
void blk_loop_note(struct blk_loop *l, struct blk_queue *q, int event);
void blk_loop_add_port(struct blk_loop *l, struct blk_queue *q);
void blk_loop_forget(struct blk_loop *l, struct blk_queue *q);

static inline void blk_link_init(struct blk_link *h)
{
	h->prev = h->next = h;
}

static inline bool blk_link_linked(const struct blk_link *n)
{
	return n->next && n->next != n;
}

static inline void blk_link_add(struct blk_link *h, struct blk_link *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void blk_link_del(struct blk_link *n)
{
	if (!blk_link_linked(n))
		return;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#endif
