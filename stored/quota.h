/* Limits, set on the command line; defaults follow xenstored's.  Per-domain
 * quotas apply to unprivileged domains, as in xenstored; the connection
 * limits apply to every client.
 *
 * What one unprivileged domain may make the daemon hold, across all its
 * connections (XSA-326): domain_conns connections, each with at most
 * outstanding replies (4 KiB each) and 64 KiB of unprocessed input; and
 * at most domain_events watch events and domain_output bytes of unsent
 * output (replies included) before its further watch events are dropped,
 * as xenstored drops an event that would pass a domain's memory quota.
 * Descriptors: max_conns is also clipped at start-up to what
 * RLIMIT_NOFILE leaves (main.c), and the last dom0_reserve of those slots
 * are dom0's socket's only, so that guests cannot lock dom0 out. */
#ifndef STORED_QUOTA_H
#define STORED_QUOTA_H

struct quota {
	unsigned nodes;		/* nodes owned per domain */
	unsigned value_size;	/* bytes in one node's value */
	unsigned watches;	/* watches per domain */
	unsigned transactions;	/* open transactions per domain */
	unsigned outstanding;	/* unanswered requests per connection */
	unsigned path_max;	/* bytes in a relative path */
	unsigned trans_nodes;	/* nodes touched by one transaction */
	unsigned perms;		/* entries in a permission list */
	unsigned max_conns;	/* open connections */
	unsigned event_queue;	/* unread watch events per connection */
	unsigned domain_conns;	/* connections per domain (rings, sockets) */
	unsigned domain_events;	/* unread watch events per domain */
	unsigned domain_output;	/* unsent output bytes per domain */
	unsigned socket_conns;	/* connections per guest socket */
	unsigned dom0_reserve;	/* slots only dom0's socket may take */
};

/* Which limit refused something, for pvd_store_quota_refusals_total
 * (struct stored's quota_refusals; metrics.c names them after the
 * fields above).  outstanding is not here: it pauses reading, it
 * refuses nothing. */
enum quota_kind {
	QK_NODES, QK_VALUE_SIZE, QK_WATCHES, QK_TRANSACTIONS, QK_TRANS_NODES,
	QK_PERMS, QK_MAX_CONNS, QK_EVENT_QUEUE, QK_DOMAIN_CONNS,
	QK_DOMAIN_EVENTS, QK_DOMAIN_OUTPUT, QK_SOCKET_CONNS, QK_COUNT
};

#define QUOTA_DEFAULTS { \
	.nodes = 1000, .value_size = 2048, .watches = 128, \
	.transactions = 10, .outstanding = 20, .path_max = 2048, \
	.trans_nodes = 1024, .perms = 5, .max_conns = 4096, \
	.event_queue = 1024, .domain_conns = 32, .domain_events = 2048, \
	.domain_output = 2 * 1024 * 1024, .socket_conns = 32, \
	.dom0_reserve = 32 }

#endif
