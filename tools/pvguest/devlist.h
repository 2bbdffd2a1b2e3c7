/* The guest's devices as the console announces them: the store's
 * device/<type>/<id> nodes (relative to the domain's home), watched and
 * listed over the guest's xenstore connection (xenbus_xs.h), each device
 * reported once when it appears and once when it goes.
 *
 * Only what the toolstack wrote is listed, and the store is untrusted:
 * types and ids are [A-Za-z0-9_-] of at most DEVLIST_NAME_MAX bytes, ids
 * numeric; at most DEVLIST_TYPES_MAX types and DEVLIST_MAX devices are
 * tracked (DEVLIST_FULL is reported once when more come). */
#ifndef PVGUEST_DEVLIST_H
#define PVGUEST_DEVLIST_H

struct xenbus;
struct devlist;

#define DEVLIST_NAME_MAX 15u
#define DEVLIST_TYPES_MAX 8u
/* Most devices announced. */
#define DEVLIST_MAX 64u

enum devlist_change { DEVLIST_ADDED, DEVLIST_REMOVED, DEVLIST_FULL };
/* type and id are NULL for DEVLIST_FULL. */
typedef void devlist_fn(void *arg, enum devlist_change ch, const char *type,
			const char *id);

/* Watches "device" (route "c:" on xb); fn(arg, ...) runs from the event
 * loop for every change, the devices already there included. */
int devlist_start(struct devlist **out, struct xenbus *xb, devlist_fn *fn,
		  void *arg);
/* Unwatches and drops listings in flight.  NULL is a no-op. */
void devlist_stop(struct devlist *dl);

#endif
