/* The xenbus side of pvd-blkback, through libxenstore: finds backend
 * devices under /local/domain/<self>/backend/vbd/<domid>/<devid>, opens
 * their storage, advertises features, and follows the frontend's state
 * (xbstate.c) to map and unmap its rings (vbd.c).
 *
 * Threads: everything here runs on the main thread; a device's disk
 * (struct blk_vbd) lives on the I/O thread it was placed on (pool.h) and
 * is reached only through blk_pool_call.  What the disk reports (a halted
 * ring, a drained disconnect) comes back as a message to the main
 * thread. */
#ifndef PVD_BLKBACK_XENBUS_H
#define PVD_BLKBACK_XENBUS_H

#include <stdbool.h>
#include <stdint.h>

#include "pvd/hv.h"
#include "pvd/xsconn.h"
#include "backend.h"

struct event_base;
struct event;
struct evbuffer;
struct xs_handle;
struct blk_pool;
struct blk_xb_dev;

struct blk_xb_opts {
	domid_t self;                 /* our domain (0, or a driver domain) */
	unsigned max_queues;          /* multi-queue-max-queues */
	unsigned max_ring_order;      /* max-ring-page-order */
	unsigned max_indirect;        /* feature-max-indirect-segments (0: off) */
	unsigned max_pgrants;         /* persistent grants per queue */
	bool persistent;              /* feature-persistent */
	unsigned resize_ms;           /* how often sizes are checked (0: never) */
	const char *journal_dir;      /* the queues' journals; NULL: none */
	const struct blk_backend_ops *ops;
};

struct blk_xenbus {
	struct event_base *base;
	struct blk_pool *pool;        /* the I/O threads (pool.h) */
	struct blk_xb_opts o;
	struct xsconn xc;             /* the store, kept across its restarts */
	struct event *resize_ev;
	char root[64];                /* /local/domain/<self>/backend/vbd */
	struct blk_xb_dev *devs;
	bool stopping;
};

/* Serves once the store answers (it waits for it, xsconn.h); after a lost
 * connection the rings are served on, and the reconnection re-reads every
 * device and frontend and acts on what changed.  -errno only when it
 * cannot allocate. */
int blk_xenbus_start(struct blk_xenbus *xb, struct event_base *base,
		     struct blk_pool *pool, const struct blk_xb_opts *o);
/* Stops serving: waits (bounded) for I/O in flight, unmaps every ring and
 * closes storage, leaving the store's states as they are so that a new
 * instance takes over the connected frontends.  Idempotent. */
void blk_xenbus_stop(struct blk_xenbus *xb);
/* {"devices":[...]} */
void blk_xenbus_stats_json(struct blk_xenbus *xb, struct evbuffer *out);
struct blk_qstats;
/* Calls fn for each device with its domain, devid and the sum of its
 * queues' statistics (metrics.c). */
typedef void blk_xb_dev_fn(void *arg, unsigned domid, unsigned devid,
			   const struct blk_qstats *sum);
void blk_xenbus_each(const struct blk_xenbus *xb, blk_xb_dev_fn *fn, void *arg);
struct blk_remote_state;
/* Calls fn for each open remote disk (nbd) with its connection's state. */
typedef void blk_xb_remote_fn(void *arg, unsigned domid, unsigned devid,
			      const struct blk_remote_state *r);
void blk_xenbus_each_remote(const struct blk_xenbus *xb, blk_xb_remote_fn *fn,
			    void *arg);

/* The one-line summary systemd shows (STATUS=, include/pvd/sdnotify.h). */
struct blk_xb_summary {
	unsigned devices, connected, guests;
	uint64_t errors;	/* answers other than OKAY, every device */
	bool store_up;		/* connected to the store */
	uint64_t store_losses;	/* connections to the store found dead */
};
void blk_xenbus_summary(const struct blk_xenbus *xb, struct blk_xb_summary *s);

#endif
