/* Limits, set on the command line; defaults follow xenstored's.  Per-domain
 * quotas apply to unprivileged domains, as in xenstored; the connection
 * limits apply to every client. */
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
};

#define QUOTA_DEFAULTS { \
	.nodes = 1000, .value_size = 2048, .watches = 128, \
	.transactions = 10, .outstanding = 20, .path_max = 2048, \
	.trans_nodes = 1024, .perms = 5, .max_conns = 4096, \
	.event_queue = 1024 }

#endif
