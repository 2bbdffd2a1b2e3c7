/* The blkif transport: one queue is one shared ring and its event
 * channel (a disk has one per multi-queue-num-queues), the requests it
 * has in flight, and its persistent grants.  It knows nothing of files:
 * it hands struct blk_io (backend.h) to the disk's storage backend.
 *
 * The request pipeline (pipeline.c), one small stage each:
 *   take a slot -> copy the request off the ring once -> barrier ->
 *   validate the copy -> read indirect segments (copied once) -> map the
 *   grants -> submit -> complete -> respond (every byte defined) ->
 *   push responses, notify only if asked -> final check for more after a
 *   bounded spin (loop.c).
 * Everything runs on the I/O thread whose struct blk_loop serves the
 * queue (pool.h); the main thread reaches it only through blk_pool_call.
 */
#ifndef PVD_BLKBACK_QUEUE_H
#define PVD_BLKBACK_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "pvd/hv.h"
#include "backend.h"
#include "idset.h"
#include "journal.h"
#include "req.h"
#include "stats.h"

/* Xen's XENBUS_MAX_RING_GRANT_ORDER: up to 16 pages (512 requests). */
#define BLK_MAX_RING_ORDER 4
#define BLK_MAX_RING_PAGES (1u << BLK_MAX_RING_ORDER)
/* Linux's default xen_blkif_max_pgrants, per queue. */
#define BLK_MAX_PGRANTS_DEFAULT 1056

struct blk_loop;
struct blk_queue;
struct pgnt_cache;

/* An intrusive doubly-linked list (a queue can leave the loop's lists
 * from anywhere). */
struct blk_link {
	struct blk_link *prev, *next;
};

/* What the transport knows of a disk; owned by the device (vbd.c). */
struct blk_disk {
	const struct blk_backend_ops *ops;
	struct blk_backing *backing;
	struct blk_limits lim;
};

struct blk_queue_cfg {
	domid_t domid;
	unsigned index;
	unsigned nr_pages;                  /* 1 << ring-page-order */
	grant_ref_t refs[BLK_MAX_RING_PAGES];
	evtchn_port_t remote_port;
	bool persistent;                    /* both sides want it */
	unsigned max_pgrants;
	const char *journal;                /* its file (journal.h); NULL: none */
	bool reattach;                      /* a restarted daemon: keep it */
};

/* Reported after the loop's round, never from inside it. */
enum blk_queue_event {
	BLK_Q_FATAL = 1,    /* the guest broke the protocol: ring halted */
	BLK_Q_DRAINED = 2,  /* stopped and idle: freed when the callback returns */
};
typedef void blk_queue_cb(struct blk_queue *q, int event, void *arg);

/* One request in flight. */
struct blk_slot {
	union blk_msg msg;          /* the one copy of the ring entry */
	struct blk_req req;         /* validated from msg */
	struct blk_io io;
	struct blk_queue *q;
	struct blk_seg *seg;        /* [max segments] */
	struct iovec *iov;          /* [max segments] */
	void **page;                /* [max segments]: mapped pages */
	uint8_t *pgnt;              /* [max segments]: 1 if persistent */
	uint64_t t0;
	uint8_t steps[3], nsteps, step;  /* storage operations to run */
	bool in_ids;                /* its id is in the queue's idset */
	struct blk_slot *next_free;
};

struct blk_queue {
	struct blk_loop *loop;
	struct hv *hv;
	struct blk_disk *disk;
	domid_t domid;
	unsigned index;
	blkif_back_ring_t ring;
	void *ring_addr;
	unsigned nr_pages;
	evtchn_port_t port;         /* local */
	bool bound;
	struct blk_slot *slots, *free;
	unsigned nslots, inflight, max_segs;
	struct idset ids;
	struct pgnt_cache *pgnt;    /* NULL without persistent grants */
	struct blkif_request_segment *ind_tmp;  /* indirect descriptors */
	struct blk_slot *held;      /* a barrier waiting for the queue to drain */
	bool plugged;               /* take nothing: a barrier is under way */
	bool halted;                /* the guest broke the ring protocol */
	bool stopping;
	unsigned new_rsp;           /* responses written, not yet pushed */
	unsigned events;            /* BLK_Q_* to report */
	struct blk_link active;     /* on the loop's active list */
	struct blk_link noted;      /* on the loop's list of queues to report */
	struct blk_queue *next_port;
	blk_queue_cb *cb;
	void *cb_arg;
	struct blk_qstats st;
	struct blk_journal jn;      /* the requests in flight, outside us */
	unsigned *redo, nredo;      /* journal slots to take again at start */
};

/* Maps the ring, binds the event channel, starts serving.  -EIO if the
 * ring's indices are already inconsistent. */
int blk_queue_start(struct blk_loop *l, struct blk_disk *d,
		    const struct blk_queue_cfg *cfg, blk_queue_cb *cb,
		    void *arg, struct blk_queue **out);
/* Takes no more requests.  0: freed now (nothing in flight); -EBUSY: the
 * callback gets BLK_Q_DRAINED when the last request completes, and q is
 * freed after it returns.  Never call it from inside a loop round. */
int blk_queue_stop(struct blk_queue *q);
/* Frees at once: for the loop, once drained. */
void blk_queue_free(struct blk_queue *q);

/* ---- pipeline.c ---- */
/* Takes up to max requests the guest produced (as slots allow); how
 * many. */
unsigned blk_queue_consume(struct blk_queue *q, unsigned max);
/* Takes again the request journal slot i holds (a restarted daemon's
 * recovery, journal.h): into slot i, validated and issued as if new. */
void blk_queue_redo(struct blk_queue *q, unsigned i);
/* Pushes written responses and notifies the guest if it asked. */
void blk_queue_push(struct blk_queue *q);
/* Whether blk_queue_consume would find work now. */
bool blk_queue_has_work(struct blk_queue *q);
/* Re-arms req_event (RING_FINAL_CHECK_FOR_REQUESTS): true if work came. */
bool blk_queue_final_check(struct blk_queue *q);

/* ---- grant.c ---- */
int blk_pgnt_create(unsigned max, struct pgnt_cache **out);
void blk_pgnt_destroy(struct hv *hv, struct pgnt_cache *c);
/* Maps the slot's segments (persistently when allowed); 0 or -errno,
 * nothing left mapped on failure. */
int blk_map_segs(struct blk_queue *q, struct blk_slot *s);
void blk_unmap_segs(struct blk_queue *q, struct blk_slot *s);
/* Copies the indirect pages' descriptors once into q->ind_tmp. */
int blk_read_indirect(struct blk_queue *q, const struct blk_req *r);

#endif
