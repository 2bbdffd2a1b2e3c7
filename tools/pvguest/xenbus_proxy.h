/* The guest's /dev/xen/xenbus: a unix socket speaking the xenstore wire
 * protocol (struct xsd_sockmsg), forwarded to the guest's one xenstore
 * ring, so that Xen's xenstore-utils and libxenstore run "inside the
 * guest" with XENSTORED_PATH pointing at it, confined by the guest's
 * permissions, relative paths resolving under /local/domain/<domid>.
 *
 * Several local clients share the ring, as with Linux's
 * drivers/xen/xenbus/xenbus_dev_frontend.c:
 *   - req_ids are rewritten to ids unique on the ring (xenbus_xs.c) and mapped
 *     back; each client gets its replies in the order it sent requests;
 *   - WATCH/UNWATCH tokens get the client's prefix "p<id>:"; events come
 *     back to that client with the prefix stripped;
 *   - a client may only use transaction ids the store gave it (ENOENT
 *     otherwise); RESET_WATCHES resets only its own watches;
 *   - when a client goes, its watches are removed and its transactions
 *     aborted (TRANSACTION_END F) once its requests in flight are answered.
 * A client is as hostile as any: a frame longer than XENSTORE_PAYLOAD_MAX
 * closes it; what it may have in flight, its watches, transactions, unread
 * output and the number of clients are bounded (struct
 * xenbus_proxy_limits). */
#ifndef PVGUEST_XENBUS_PROXY_H
#define PVGUEST_XENBUS_PROXY_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct xenbus;
struct xenbus_proxy;

struct xenbus_proxy_limits {
	unsigned max_clients;	  /* connected or still cleaning up */
	unsigned max_queued;	  /* requests of one client not yet answered */
	unsigned max_watches;	  /* per client */
	unsigned max_txns;	  /* per client */
	size_t max_output;	  /* unread bytes of a client before its
				     watch events are dropped and reading
				     from it pauses */
};

#define XENBUS_PROXY_LIMITS_DEFAULT { 32, 16, 128, 16, 256u << 10 }

/* The token prefix the proxy routes on (xenbus_route_add). */
#define XENBUS_PROXY_ROUTE "p"

/* Listens on path (a stale socket there is replaced; mode 0600), or on
 * nothing if path is NULL (clients then come from xenbus_proxy_adopt).
 * lim NULL: the defaults. */
int xenbus_proxy_start(struct xenbus_proxy **out, struct event_base *base,
		       struct xenbus *xb, const char *path,
		       const struct xenbus_proxy_limits *lim);
/* Closes every client and the socket (removing its file).  NULL is a
 * no-op. */
void xenbus_proxy_stop(struct xenbus_proxy *p);

/* Serves a connected stream socket as a client (takes fd, even on
 * failure).  -EMFILE past max_clients. */
int xenbus_proxy_adopt(struct xenbus_proxy *p, int fd);

struct xenbus_proxy_stats {
	unsigned clients;	/* connected */
	unsigned closing;	/* gone, cleanup in flight */
	uint64_t refused;	/* connections over max_clients */
	uint64_t bad_frames;	/* clients closed for a bad frame */
	uint64_t events_dropped;
	size_t output_max;	/* most unread bytes held for one client now */
};

void xenbus_proxy_get_stats(const struct xenbus_proxy *p,
			    struct xenbus_proxy_stats *st);

#endif
