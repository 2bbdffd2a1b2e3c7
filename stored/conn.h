/* Connections: message framing, the output queue and its limits, and the
 * per-connection watches and transactions.  A transport supplies bytes in
 * and takes bytes out through conn_ops; everything above it is
 * transport-agnostic.  There are two: the unix sockets (sock.c: dom0's
 * and the guest sockets) and an introduced domain's shared xenstore ring
 * through the hypervisor layer (ring.c); the unit tests add an in-memory
 * one (tests/harness/memconn.c).
 *
 * Bounded memory: input is read only while the connection's unsent output
 * is under a limit (a client that does not read its replies stalls only
 * itself), and watch events beyond the per-connection queue limit, or
 * beyond what the connection's domain may hold over all its connections
 * (events, unsent bytes: quota.h), are dropped and counted rather than
 * queued.  Admission (conn_admit) bounds connections per domain and keeps
 * the last slots for dom0. */
#ifndef STORED_CONN_H
#define STORED_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <xen/io/xs_wire.h>

#include "perms.h"

struct evbuffer;
struct stored;
struct conn;
struct txn;
struct domain;

struct conn_ops {
	const char *name;
	/* Moves available input into buf: bytes read, 0 at EOF, -EAGAIN. */
	ssize_t (*fill)(struct conn *c, struct evbuffer *buf, size_t max);
	/* Sends from buf: bytes sent (may be short), or -errno. */
	ssize_t (*drain)(struct conn *c, struct evbuffer *buf);
	/* Ask to be told (conn_on_writable) when more can be sent. */
	void (*want_write)(struct conn *c, bool on);
	/* Stop or restart delivering input (conn_on_readable). */
	void (*want_read)(struct conn *c, bool on);
	void (*destroy)(struct conn *c);
};

struct watch {
	char *path;		/* absolute, or "@..." */
	char *token;
	unsigned relative;	/* bytes of prefix to strip from events */
	struct watch *next;
};

struct out_mark {
	uint64_t end;		/* out_added after this message */
	bool is_event;
};

struct conn {
	struct stored *sd;
	const struct conn_ops *ops;
	void *tp;			/* transport state */
	struct domain *dom;
	struct who who;
	struct evbuffer *in, *out;
	uint64_t out_added, out_sent;
	struct out_mark *marks;
	unsigned mhead, mcount, mcap;
	unsigned pending_replies, pending_events;
	uint64_t dropped_events;
	struct watch *watches;
	unsigned nwatches;
	struct txn *txns;
	unsigned ntxns;
	bool on_dirty, read_paused, dead;
	/* A domain's ring connection: its watches are journalled, and
	 * outlive a restart of the daemon (journal.h). */
	bool keep_watches;
	/* Re-attached after a restart: its transactions were aborted. */
	bool reattached;
	struct conn *next, **pprev;	/* sd->conns */
	struct conn *dnext;		/* sd->dirty */
};

/* Whether one more connection acting as domid may be made: 0, -EMFILE
 * (the daemon's limit, less dom0's reserve for a guest) or -EDQUOT (the
 * domain's own limit).  conn_new checks it too. */
int conn_admit(struct stored *sd, unsigned domid, bool privileged);
/* Creates a connection acting as domid (privileged for dom0); NULL if
 * conn_admit refuses it or out of memory. */
struct conn *conn_new(struct stored *sd, const struct conn_ops *ops,
		      void *tp, unsigned domid, bool privileged);
/* Tears down watches, transactions and the transport (idempotent via
 * the dead flag; the memory is released at the next flush). */
void conn_close(struct conn *c, const char *why);
void conn_on_readable(struct conn *c);
void conn_on_writable(struct conn *c);

/* Queues one message; the flush after this loop turn sends it. */
int conn_send(struct conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
	      const void *body, unsigned len, bool is_event);
int conn_send_error(struct conn *c, const struct xsd_sockmsg *req, int err);
/* Writes what may be sent; false once the connection is gone. */
bool conn_flush(struct conn *c);
void conn_reap(struct stored *sd);

const char *xs_errno_name(int err);

#endif
