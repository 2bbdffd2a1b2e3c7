/* The block frontend (vbd), the guest side of <xen/io/blkif.h> as Linux's
 * drivers/block/xen-blkfront.c does it.  See docs/pvguest.md.
 *
 * Registered as the "vbd" frontend (frontend.h).  A probed device follows
 * its backend's state: at InitWait it reads the transport parameters,
 * sets up the ring(s) (multi-page, multi-queue), grants them, allocates
 * the event channel(s) and goes Initialised; at Connected it reads the
 * disk's size and features and goes Connected.  Closing/Closed, the
 * backend's node going away and a backend starting again (InitWait while
 * we are connected) tear the rings down; requests in flight then are
 * issued again on the next connection, as Linux's blkif_recover does.
 *
 * Users submit struct blkio (blkio.h); each connected disk is also
 * exported over NBD (nbd.h) on <guest dir>/vbd-<devid>.nbd. */
#ifndef PVGUEST_BLKFRONT_H
#define PVGUEST_BLKFRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "pvd/ring_util.h"	/* before blkif.h: ring.h's barriers */
#include <xen/io/blkif.h>

#include "blkio.h"
#include "frontend.h"

struct blkfront;

/* Options (pvguest --blk-*): every feature can be turned off, to drive
 * the backend's fallbacks. */
struct blkfront_opts {
	bool no_indirect;		/* never BLKIF_OP_INDIRECT */
	bool no_persistent;		/* feature-persistent = 0 */
	bool no_discard;
	bool no_flush;			/* neither flush nor barrier */
	bool no_nbd;			/* no NBD export */
	unsigned max_queues;		/* 1..BLKFRONT_MAX_QUEUES */
	unsigned max_ring_order;	/* 0..BLKFRONT_MAX_RING_ORDER */
	unsigned max_indirect_segs;	/* 12..BLKFRONT_MAX_INDIRECT_SEGS */
	unsigned spin_ns;		/* bounded spin for responses */
	unsigned timeout_s;		/* fail queued I/O after this long disconnected */
};

#define BLKFRONT_MAX_QUEUES 16u
#define BLKFRONT_MAX_RING_ORDER 4u	/* XENBUS_MAX_RING_GRANT_ORDER */
/* Segments that fit the indirect pages of one request. */
#define BLKFRONT_SEGS_PER_INDIRECT_PAGE \
	(HV_PAGE_SIZE / sizeof(struct blkif_request_segment))
#define BLKFRONT_MAX_INDIRECT_SEGS \
	(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * BLKFRONT_SEGS_PER_INDIRECT_PAGE)

enum blkfront_event { BLKFRONT_CONNECTED, BLKFRONT_DISCONNECTED, BLKFRONT_REMOVED };
typedef void blkfront_event_fn(void *arg, struct blkfront *bf, const char *devid,
			       enum blkfront_event ev);

struct blkfront_config {
	struct blkfront_opts opts;
	/* Told about every device's connection and removal (the load
	 * generator listens here); may be NULL. */
	blkfront_event_fn *event;
	void *event_arg;
};

void blkfront_opts_default(struct blkfront_opts *o);

extern const struct frontend_ops blkfront_ops;

/* What the disk is, once connected. */
struct blkfront_info {
	uint64_t size;			/* bytes */
	unsigned sector_size;		/* logical block, bytes */
	unsigned physical_sector_size;
	bool readonly, can_flush, can_discard;
	unsigned discard_granularity, discard_alignment;	/* bytes */
	unsigned nrings, ring_pages, segs_per_req;
	bool persistent, indirect;
};
bool blkfront_connected(const struct blkfront *bf);
void blkfront_get_info(const struct blkfront *bf, struct blkfront_info *info);

/* Queues io (blkio.h); io->done is called from the event loop.  -EINVAL
 * for a bad op, length or alignment, -ENOSPC beyond the end, -EROFS for a
 * write to a read-only disk, -ENODEV once removed.  While the disk is
 * disconnected the request waits (at most opts.timeout_s). */
int blkfront_submit(void *bf, struct blkio *io);

/* Counters, for tests and the log. */
struct blkfront_stats {
	uint64_t requests, responses, notifies, bad_responses, reconnects;
	uint64_t grants_leaked, timeouts;
	unsigned pool_pages, inflight, queued;
};
void blkfront_get_stats(const struct blkfront *bf, struct blkfront_stats *st);

#endif
