/* The xenbus side of pvd-netback, through libxenstore: finds vifs under
 * /local/domain/<self>/backend/vif/<domid>/<devid>, advertises netback's
 * features, follows the frontend's state (xbstate.c), makes the tap
 * (tap.c) and hands the rings to the data plane (vif.h). */
#ifndef PVD_NETBACK_XENBUS_H
#define PVD_NETBACK_XENBUS_H

#include <stdbool.h>

#include "pvd/hv.h"
#include "pvd/xsconn.h"

struct event_base;
struct event;
struct xs_handle;
struct nb_pool;
struct nb_xb_dev;
struct json_t;

struct nb_xb_opts {
	domid_t self;                 /* our domain (0, or a driver domain) */
	unsigned max_queues;          /* multi-queue-max-queues */
	bool create_bridges;          /* a missing bridge= is made */
	unsigned rx_stall_ms;         /* nb_vif_cfg's (0: Linux's 60 s) */
	const char *journal_dir;      /* nb_vif_cfg's (NULL: none) */
};

struct nb_xenbus {
	struct event_base *base;
	struct nb_pool *pool;          /* the I/O threads (vif.h) */
	struct hv *hv;
	struct nb_xb_opts o;
	struct xsconn xc;             /* the store, kept across its restarts */
	char root[64];                /* /local/domain/<self>/backend/vif */
	struct nb_xb_dev *devs;
	bool stopping;
};

/* Serves backend/vif once the store ($XENSTORED_PATH) answers: it waits
 * for it (xsconn.h); after a lost connection the rings are served on,
 * and the reconnection re-reads every vif and frontend.  -errno only
 * when it cannot allocate. */
int nb_xenbus_start(struct nb_xenbus *xb, struct event_base *base,
		    struct nb_pool *pool, struct hv *hv,
		    const struct nb_xb_opts *o);
/* Stops serving: stops every vif and closes its tap fds, leaving the
 * taps (persistent) and the store's states as they are so that a new
 * instance re-attaches the connected frontends.  Idempotent. */
void nb_xenbus_stop(struct nb_xenbus *xb);
/* {"vifs":[...]} (docs/pvd-netback.md), a new reference or NULL. */
struct json_t *nb_xenbus_stats(struct nb_xenbus *xb);
/* Calls fn for each vif with its domain, devid and data plane (NULL while
 * not connected): metrics.c. */
struct nb_nic;
typedef void nb_xb_vif_fn(void *arg, unsigned domid, unsigned devid,
			  const struct nb_nic *nic);
void nb_xenbus_each(const struct nb_xenbus *xb, nb_xb_vif_fn *fn, void *arg);

/* The one-line summary systemd shows (STATUS=, include/pvd/sdnotify.h). */
struct nb_xb_summary {
	unsigned vifs, connected, guests;
	bool store_up;		/* connected to the store */
	uint64_t store_losses;	/* connections to the store found dead */
};
void nb_xenbus_summary(const struct nb_xenbus *xb, struct nb_xb_summary *s);

#endif
