/* Domains known to the store: introduced ones, and any whose clients are
 * connected (guest sockets).  Holds their quota counts. */
#ifndef STORED_DOMAIN_H
#define STORED_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "perms.h"

struct watch;

#define DOMID_MAX_REAL 0x7fefu	/* below DOMID_FIRST_RESERVED */

struct domain {
	unsigned domid;
	bool introduced;
	bool shutdown;		/* @releaseDomain sent for it */
	unsigned target;	/* DOMID_NONE unless SET_TARGET */
	uint64_t mfn;
	unsigned port;
	unsigned nwatches, ntxns, nconns;
	/* Across all its connections (conn.c): unread watch events, unsent
	 * output bytes, and events dropped for being over the quotas. */
	unsigned nevents;
	uint64_t out_bytes;
	uint64_t dropped_events;
	/* Watches replayed from the journal for its ring connection, kept
	 * until ring_attach hands them to the re-attached connection. */
	struct watch *saved;
};

struct domains {
	struct domain **d;	/* [65536], allocated on demand */
	unsigned count;
};

int domains_init(struct domains *ds);
void domains_destroy(struct domains *ds);
struct domain *domain_get(struct domains *ds, unsigned domid, bool create);
/* Frees a domain nobody refers to any more. */
void domain_put(struct domains *ds, struct domain *d);

#endif
