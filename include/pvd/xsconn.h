/* A daemon's connection to the store, kept up across the store's restarts.
 *
 * libxenstore does not reconnect: when the store dies its reader thread
 * closes the socket and every later call fails (EBADF, EINVAL), and the
 * watch pipe (xs_fileno) never becomes readable again, so a daemon that
 * only waits on it stops noticing changes without a word.  This module:
 *
 * - opens the handle (xs_open(0), which honours XENSTORED_PATH) with a
 *   bounded exponential backoff while the store is not there
 *   (XSCONN_BACKOFF_MIN_MS doubling to XSCONN_BACKOFF_MAX_MS), one log
 *   line when it starts waiting and one when the store answers;
 * - puts the watch pipe on the daemon's libevent base and hands each
 *   event to the daemon (ops->event, then ops->batch_end);
 * - remembers every watch registered through it (xsconn_watch) and
 *   registers them again on the new connection (each fires once there,
 *   as any new watch does);
 * - notices a dead connection promptly: a second, idle connection to the
 *   same socket (the sentinel) reads EOF when the store goes away; and a
 *   daemon whose call failed asks xsconn_failed, which tells a store's
 *   answer (ENOENT, EACCES, ...) from a lost connection by a probe;
 * - then calls ops->down (the handle stays valid and every call on it
 *   fails at once, so code in the middle of a store sequence needs no
 *   NULL check, but must not read a failure as "the node is gone":
 *   xsconn_up says which), and reconnects with the same backoff; once
 *   connected and the watches registered, ops->up(arg, again) says
 *   "re-read your state".
 *
 * Lines about the connection are rate-limited (pvd_logrl), so a flapping
 * store costs a bounded log.  A store reached through a device
 * (/dev/xen/xenbus: the kernel keeps that connection) has no sentinel.
 */
#ifndef PVD_XSCONN_H
#define PVD_XSCONN_H

#include <stdbool.h>
#include <stdint.h>

#include "pvd/ratelimit.h"

struct event_base;
struct event;
struct xs_handle;

#define XSCONN_BACKOFF_MIN_MS 100
#define XSCONN_BACKOFF_MAX_MS 5000

struct xsconn_ops {
	/* Connected, every watch registered: (re-)read the state you serve.
	 * again: false the first time, true after a lost connection. */
	void (*up)(void *arg, bool again);
	/* The connection is lost (optional).  The handle still exists;
	 * every call on it fails until up. */
	void (*down)(void *arg);
	/* One watch event. */
	void (*event)(void *arg, const char *path, const char *token);
	/* After the events queued at one wake-up (optional). */
	void (*batch_end)(void *arg);
};

struct xsconn_watch {
	char *path, *token;
};

struct xsconn_stats {
	uint64_t connects;	/* connections made, the first included */
	uint64_t losses;	/* connections found dead */
	uint64_t attempts;	/* failed attempts to connect */
};

struct xsconn {
	struct event_base *base;
	struct xs_handle *xs;	/* NULL until the first connection */
	bool up;
	const struct xsconn_ops *ops;
	void *arg;
	struct event *xs_ev, *sentinel_ev, *retry_ev;
	int sentinel_fd;
	unsigned backoff_ms;
	uint64_t down_since_ns;
	struct xsconn_watch *w;
	unsigned nw, cap;
	struct pvd_logrl lrl;
	struct xsconn_stats st;
};

/* Connects now if the store is there, else logs once and keeps trying
 * on the base's timers: 0 either way (xsconn_up says which), -errno if
 * it cannot even allocate.  ops->up runs from within when connected. */
int xsconn_start(struct xsconn *c, struct event_base *base,
		 const struct xsconn_ops *ops, void *arg);
/* Unregisters nothing (the store drops a closed connection's watches),
 * closes the handle.  Idempotent. */
void xsconn_stop(struct xsconn *c);
static inline bool xsconn_up(const struct xsconn *c) { return c->up; }

/* Registers a watch now (when up) and again after every reconnection.
 * false: out of memory, or the store refused it (errno says). */
bool xsconn_watch(struct xsconn *c, const char *path, const char *token);
/* Forgets the watch and unregisters it when up. */
void xsconn_unwatch(struct xsconn *c, const char *path, const char *token);

/* After an xs call on c->xs returned failure (errno as it left it):
 * false when errno is the store's answer (the connection is fine), true
 * when the connection is lost; then it is marked down (ops->down) and a
 * reconnection scheduled.  errno is kept. */
bool xsconn_failed(struct xsconn *c, const char *what);

/* The backoff's next delay: doubled, capped at max (at least min). */
unsigned xsconn_backoff_next(unsigned cur_ms, unsigned min_ms, unsigned max_ms);

#endif
