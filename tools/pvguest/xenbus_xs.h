/* The guest's xenstore client over its ring, the role of Linux's
 * drivers/xen/xenbus/xenbus_xs.c: several users share the one connection.
 *
 * Every request gets a req_id unique among those in flight; the store's
 * reply is matched by it and handed to the request's callback.  Watch
 * events are routed by the prefix of their token: each user registers a
 * prefix and puts it in front of the tokens of its watches (the xenbus
 * proxy uses "p<client>:", frontends "f:").
 *
 * A broken ring (see xs_ring.h) fails every request in flight with an
 * XS_ERROR "EIO" reply; later requests fail at once with -EIO.
 *
 * Callbacks run only from the event loop (xenbus_kick or a deferred event
 * of the xenbus), never from inside xenbus_request. */
#ifndef PVGUEST_XENBUS_XS_H
#define PVGUEST_XENBUS_XS_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

struct event_base;
struct xenbus;

/* Most requests in flight; xenbus_request answers -EBUSY beyond. */
#define XENBUS_PENDING_MAX 4096u
/* Longest watch token prefix a user may register. */
#define XENBUS_PREFIX_MAX 23u

/* The reply: hdr->req_id is the wire id (not the caller's), body has
 * hdr->len bytes and a NUL after them.  hdr->type is the request's type or
 * XS_ERROR with an errno name ("EACCES") as body. */
typedef void xenbus_reply_fn(void *arg, const struct xsd_sockmsg *hdr,
			     const char *body);
/* A watch event: path as the store sent it (relative for a relative
 * watch), token without the routing prefix. */
typedef void xenbus_event_fn(void *arg, const char *path, const char *token);

/* intf: the guest's xenstore page; notify(arg) kicks the store's event
 * channel. */
int xenbus_create(struct xenbus **out, struct event_base *base,
		  struct xenstore_domain_interface *intf,
		  void (*notify)(void *arg), void *arg);
/* Drops requests in flight without calling their callbacks.  NULL is a
 * no-op. */
void xenbus_destroy(struct xenbus *xb);

/* On every event of the xenstore port. */
void xenbus_kick(struct xenbus *xb);

/* Sends a request (body: len bytes, as they go on the wire).  0: fn(arg)
 * will be called exactly once, unless xenbus_cancel drops it first.
 * -errno: it will not (-EIO broken, -EBUSY too many in flight, -EINVAL
 * len > XENSTORE_PAYLOAD_MAX, -ENOMEM). */
int xenbus_request(struct xenbus *xb, uint32_t type, uint32_t tx_id,
		   const void *body, uint32_t len, xenbus_reply_fn *fn,
		   void *arg);
/* Forgets every request in flight with this fn and arg: their replies
 * are discarded when they come. */
void xenbus_cancel(struct xenbus *xb, xenbus_reply_fn *fn, void *arg);

/* Routes watch events whose token starts with prefix (at most
 * XENBUS_PREFIX_MAX bytes, not a prefix of another route's, nor the
 * reverse) to fn.  -EEXIST on a clash. */
int xenbus_route_add(struct xenbus *xb, const char *prefix,
		     xenbus_event_fn *fn, void *arg);
void xenbus_route_del(struct xenbus *xb, const char *prefix);

bool xenbus_is_broken(const struct xenbus *xb);
/* True once the store has answered anything: it serves the ring. */
bool xenbus_is_connected(const struct xenbus *xb);
unsigned xenbus_pending(const struct xenbus *xb);

#endif
