/* For pvguest's unit tests (test_xenbus_proxy.c, test_frontend.c): the
 * store's side of a guest's xenstore page, served by pvd-stored's real
 * core (libstored, through tests/harness/memconn) and driven by hand, so
 * that replies, permissions, watches and transactions are the store's
 * own.  The test stalls it to hold replies back. */
#ifndef TESTS_PVGUEST_FAKESTORE_H
#define TESTS_PVGUEST_FAKESTORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <xen/io/xs_wire.h>

#include "../../stored/conn.h"
#include "../../stored/core.h"
#include "../../stored/stored.h"
#include "../harness/memconn.h"

struct fakestore {
	struct stored sd;
	struct memconn *dom0;		/* privileged, for the test's setup */
	struct memconn *guest;		/* the guest's ring connection */
	unsigned domid;
	struct xenstore_domain_interface *intf;
	bool stalled;			/* moves nothing while set */
	char body[XENSTORE_PAYLOAD_MAX + 1];
};

/* The guest domid gets /local/domain/<domid>, its own, as a toolstack
 * makes it. */
static inline void fakestore_init(struct fakestore *fs, struct event_base *base,
				  unsigned domid,
				  struct xenstore_domain_interface *intf)
{
	static const struct quota q = QUOTA_DEFAULTS;
	char home[64];

	memset(fs, 0, sizeof(*fs));
	fs->domid = domid;
	fs->intf = intf;
	if (stored_init(&fs->sd, base, &q) < 0 || core_setup_tree(&fs->sd) < 0)
		abort();
	fs->dom0 = memconn_new(&fs->sd, 0, true);
	fs->guest = memconn_new(&fs->sd, domid, false);
	snprintf(home, sizeof(home), "/local/domain/%u", domid);
	if (xs_req(fs->dom0, XS_WRITE, 0, NULL, 2, home, "") != XS_WRITE)
		abort();
	snprintf(fs->body, sizeof(fs->body), "n%u", domid);
	if (xs_req(fs->dom0, XS_SET_PERMS, 0, NULL, 2, home, fs->body) != XS_SET_PERMS)
		abort();
}

static inline void fakestore_fini(struct fakestore *fs)
{
	memconn_free(fs->guest);
	memconn_free(fs->dom0);
	stored_destroy(&fs->sd);
}

/* Requests from the ring into the store, replies and events back into
 * the ring, as far as it has room.  True if a byte moved. */
static inline bool fakestore_pump(struct fakestore *fs)
{
	struct xenstore_domain_interface *in = fs->intf;
	XENSTORE_RING_IDX cons, prod;
	bool moved = false;
	char buf[XENSTORE_RING_SIZE];
	size_t n = 0;

	if (fs->stalled)
		return false;
	cons = in->req_cons;
	prod = in->req_prod;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	while (cons != prod && n < sizeof(buf))
		buf[n++] = in->req[MASK_XENSTORE_IDX(cons++)];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	in->req_cons = cons;
	if (n) {
		memconn_feed(fs->guest, buf, n);
		moved = true;
	}
	cons = in->rsp_cons;
	prod = in->rsp_prod;
	n = 0;
	while (prod - cons < XENSTORE_RING_SIZE &&
	       evbuffer_get_length(fs->guest->got) > 0) {
		char ch;

		evbuffer_remove(fs->guest->got, &ch, 1);
		in->rsp[MASK_XENSTORE_IDX(prod++)] = ch;
		n++;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	in->rsp_prod = prod;
	return moved || n > 0;
}

/* One request as dom0 (setup and checks); the reply body in fs->body. */
static inline uint32_t fakestore_dom0(struct fakestore *fs, uint32_t type,
				      unsigned n, ...)
{
	const char *argv[8];
	struct xsd_sockmsg h;
	va_list ap;

	va_start(ap, n);
	for (unsigned i = 0; i < n && i < 8; i++)
		argv[i] = va_arg(ap, const char *);
	va_end(ap);
	memconn_request(fs->dom0, type, 0, argv, n, type == XS_WRITE);
	if (!memconn_reply(fs->dom0, &h, fs->body))
		return XS_INVALID;
	return h.type;
}

#endif
