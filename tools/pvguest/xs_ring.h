/* The guest side of the xenstore ring (struct xenstore_domain_interface,
 * <xen/io/xs_wire.h>), as Linux's drivers/xen/xenbus/xenbus_comms.c does
 * it: requests go into req[] (we produce req_prod, the store consumes
 * req_cons), replies and watch events come out of rsp[] (the store
 * produces rsp_prod, we consume rsp_cons).
 *
 * The store is as untrusted as any peer: each pass reads the store's index
 * once, checks it is no more than a ring away from ours, and copies bytes
 * out before releasing their slots.  A message whose header announces more
 * than XENSTORE_PAYLOAD_MAX bytes, indexes out of range, or an error the
 * store reports in the page's error field break the connection for good
 * (framing cannot be recovered); nothing is read from or written to the
 * ring after that.
 *
 * Single-threaded.  Callbacks run only from xs_ring_kick, never from
 * xs_ring_send; they may call xs_ring_send but not xs_ring_destroy. */
#ifndef PVGUEST_XS_RING_H
#define PVGUEST_XS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

/* Most bytes queued for the ring before xs_ring_send refuses (-ENOBUFS).
 * Callers bound their own requests far below this. */
#define XS_RING_QUEUE_MAX (4u << 20)

/* Most messages one xs_ring_kick delivers before it returns 1: a store
 * that keeps producing cannot hold the event loop. */
#define XS_RING_KICK_BUDGET 64u

struct xs_ring;

struct xs_ring_cb {
	/* Tells the store that an index moved (its event channel). */
	void (*notify)(void *arg);
	/* One whole message from the store: the header in host order and
	 * hdr->len bytes of body followed by a NUL (not counted). */
	void (*msg)(void *arg, const struct xsd_sockmsg *hdr, const char *body);
	/* The connection is broken (why: a short reason for the log).
	 * Called once, from xs_ring_kick. */
	void (*broken)(void *arg, const char *why);
};

/* intf is the guest's xenstore page; the ring takes the indexes it finds
 * there as its starting point. */
int xs_ring_create(struct xs_ring **out, struct xenstore_domain_interface *intf,
		   const struct xs_ring_cb *cb, void *arg);
/* NULL is a no-op. */
void xs_ring_destroy(struct xs_ring *r);

/* Queues one message and pushes what fits.  hdr->len bytes of body are
 * sent.  -EINVAL if hdr->len > XENSTORE_PAYLOAD_MAX, -ENOBUFS past
 * XS_RING_QUEUE_MAX, -EIO once broken (the broken callback then runs at
 * the next xs_ring_kick). */
int xs_ring_send(struct xs_ring *r, const struct xsd_sockmsg *hdr,
		 const void *body);

/* Makes progress after an event on the xenstore port (or at any time):
 * delivers whole messages, pushes queued bytes, notifies the store once if
 * an index moved.  0 when idle, 1 when the budget ran out and there may be
 * more (call again soon), -EIO when broken. */
int xs_ring_kick(struct xs_ring *r);

/* Bytes queued but not yet in the ring. */
size_t xs_ring_queued(const struct xs_ring *r);
bool xs_ring_is_broken(const struct xs_ring *r);
/* Messages received so far (the store has served the ring once it is
 * non-zero). */
uint64_t xs_ring_received(const struct xs_ring *r);

#endif
