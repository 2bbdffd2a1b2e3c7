/* pvd-stored's context: everything the daemon owns, passed explicitly. */
#ifndef STORED_STORED_H
#define STORED_STORED_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

#include "domain.h"
#include "quota.h"
#include "tree.h"

struct event_base;
struct conn;
struct journal;
struct listener;
struct hv;
struct ring_tp;
struct req;

struct stored {
	struct event_base *base;
	struct store store;
	struct quota quota;
	struct domains domains;
	struct journal *journal;
	struct conn *conns;		/* every connection */
	struct conn *dirty;		/* connections with output to flush */
	unsigned nconns;
	/* Connections the descriptors allow (RLIMIT_NOFILE less the daemon's
	 * own, main.c); 0: not limited by descriptors. */
	unsigned fd_conns;
	unsigned nwatches;		/* across all connections */
	uint32_t next_txn_id;
	/* Connections refused by a limit (conn_admit, sock_admit): sockets
	 * at accept, rings at INTRODUCE. */
	uint64_t rejected_conns;
	/* For the metrics: requests by XS_* type (core.c) and refusals by
	 * the quota that refused (quota.h). */
	uint64_t requests[XS_TYPE_COUNT];
	uint64_t quota_refusals[QK_COUNT];
	bool stopping;
	struct req *req;		/* core.c's request buffer */
	/* The ring transport (ring.c); hv is NULL without one. */
	struct hv *hv;
	struct event *hv_ev, *hv_tick;
	struct ring_tp **ring_ports;	/* by local port */
	unsigned nring_ports, nrings;
	/* VIRQ_DOM_EXC's port (xen): Xen tells of a domain's death. */
	unsigned virq_port;
	bool has_virq;
};

int stored_init(struct stored *sd, struct event_base *base,
		const struct quota *q);
void stored_destroy(struct stored *sd);
/* After each loop turn: journal group commit, then every pending reply.
 * -errno (nothing sent) if the journal could not be written. */
int stored_flush(struct stored *sd);

#endif
