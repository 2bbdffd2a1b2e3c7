/* The guest side of the xenstore ring; see xs_ring.h.
 *
 * Ordering, as xenbus_comms.c (xb_write/xb_read):
 *   write: read req_cons, full barrier (the slots are free before we fill
 *          them), copy, write barrier (the bytes are visible before the
 *          index), publish req_prod, notify;
 *   read:  read rsp_prod, read barrier (the bytes are read after the
 *          index), copy out, full barrier (the copy is complete before the
 *          slots are released), publish rsp_cons, notify.
 * Linux notifies only when the other side may be waiting; we notify after
 * every pass that moved an index, a superset that cannot lose a wake-up
 * whatever the store's idea of when to look (pvd-stored looks only when
 * notified).
 *
 * Our own indexes (req_prod, rsp_cons) are kept privately and only ever
 * written to the page: what a hostile store writes there is ignored.  The
 * store's indexes are read once per pass and checked against ours. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "pvd/log.h"
#include "pvd/ring_util.h"
#include "xs_ring.h"

#define HDR_LEN sizeof(struct xsd_sockmsg)

struct xs_ring {
	struct xenstore_domain_interface *intf;
	struct xs_ring_cb cb;
	void *arg;
	XENSTORE_RING_IDX req_prod;	/* ours */
	XENSTORE_RING_IDX rsp_cons;	/* ours */
	struct evbuffer *txq;
	bool broken, reported;
	char why[96];
	uint64_t received;
	/* The message being reassembled: header, body, a NUL. */
	size_t rx_have;
	struct xsd_sockmsg rx_hdr;
	char rx[HDR_LEN + XENSTORE_PAYLOAD_MAX + 1];
};

static inline XENSTORE_RING_IDX idx_read(const XENSTORE_RING_IDX *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void idx_write(XENSTORE_RING_IDX *p, XENSTORE_RING_IDX v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static void set_broken(struct xs_ring *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_broken(struct xs_ring *r, const char *fmt, ...)
{
	va_list ap;

	if (r->broken)
		return;
	r->broken = true;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	log_err("xenstore ring broken: %s", r->why);
}

int xs_ring_create(struct xs_ring **out, struct xenstore_domain_interface *intf,
		   const struct xs_ring_cb *cb, void *arg)
{
	struct xs_ring *r;

	*out = NULL;
	if (!intf || !cb || !cb->notify || !cb->msg || !cb->broken)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->txq = evbuffer_new();
	if (!r->txq) {
		free(r);
		return -ENOMEM;
	}
	r->intf = intf;
	r->cb = *cb;
	r->arg = arg;
	/* Our own indexes: the page is ours, whatever is there is what we
	 * (or the domain builder) left. */
	r->req_prod = idx_read(&intf->req_prod);
	r->rsp_cons = idx_read(&intf->rsp_cons);
	*out = r;
	return 0;
}

void xs_ring_destroy(struct xs_ring *r)
{
	if (!r)
		return;
	evbuffer_free(r->txq);
	free(r);
}

/* Moves queued bytes into req[]; *moved is set if req_prod advanced. */
static void push(struct xs_ring *r, bool *moved)
{
	struct xenstore_domain_interface *intf = r->intf;

	while (!r->broken && evbuffer_get_length(r->txq) > 0) {
		XENSTORE_RING_IDX cons, used, space, off, n, n1;

		cons = idx_read(&intf->req_cons);
		PVD_MB();	/* slots are free before we write them */
		used = r->req_prod - cons;
		if (used > XENSTORE_RING_SIZE) {
			set_broken(r, "request indexes out of range (prod %u, cons %u)",
				   r->req_prod, cons);
			return;
		}
		space = XENSTORE_RING_SIZE - used;
		if (space == 0)
			return;
		n = evbuffer_get_length(r->txq) < space ?
			(XENSTORE_RING_IDX)evbuffer_get_length(r->txq) : space;
		off = MASK_XENSTORE_IDX(r->req_prod);
		n1 = XENSTORE_RING_SIZE - off < n ? XENSTORE_RING_SIZE - off : n;
		evbuffer_remove(r->txq, intf->req + off, n1);
		if (n > n1)
			evbuffer_remove(r->txq, intf->req, n - n1);
		PVD_WMB();	/* bytes before the index */
		r->req_prod += n;
		idx_write(&intf->req_prod, r->req_prod);
		*moved = true;
	}
}

int xs_ring_send(struct xs_ring *r, const struct xsd_sockmsg *hdr,
		 const void *body)
{
	bool moved = false;

	if (r->broken)
		return -EIO;
	if (hdr->len > XENSTORE_PAYLOAD_MAX)
		return -EINVAL;
	if (evbuffer_get_length(r->txq) + HDR_LEN + hdr->len > XS_RING_QUEUE_MAX)
		return -ENOBUFS;
	if (evbuffer_add(r->txq, hdr, HDR_LEN) < 0 ||
	    (hdr->len && evbuffer_add(r->txq, body, hdr->len) < 0))
		return -ENOMEM;
	push(r, &moved);
	if (moved)
		r->cb.notify(r->arg);
	return r->broken ? -EIO : 0;
}

/* Copies from rsp[] until the message being reassembled is whole: 1 when
 * it is, 0 when the ring has no more bytes for now, -EIO when broken. */
static int rx_fill(struct xs_ring *r, bool *moved)
{
	struct xenstore_domain_interface *intf = r->intf;

	for (;;) {
		XENSTORE_RING_IDX prod, avail, off, n, n1;
		size_t need;

		if (r->rx_have < HDR_LEN)
			need = HDR_LEN - r->rx_have;
		else
			need = HDR_LEN + r->rx_hdr.len - r->rx_have;
		if (need == 0)
			return 1;
		prod = idx_read(&intf->rsp_prod);
		PVD_RMB();	/* bytes after the index */
		avail = prod - r->rsp_cons;
		if (avail > XENSTORE_RING_SIZE) {
			set_broken(r, "reply indexes out of range (prod %u, cons %u)",
				   prod, r->rsp_cons);
			return -EIO;
		}
		if (avail == 0)
			return 0;
		n = need < avail ? (XENSTORE_RING_IDX)need : avail;
		off = MASK_XENSTORE_IDX(r->rsp_cons);
		n1 = XENSTORE_RING_SIZE - off < n ? XENSTORE_RING_SIZE - off : n;
		memcpy(r->rx + r->rx_have, intf->rsp + off, n1);
		memcpy(r->rx + r->rx_have + n1, intf->rsp, n - n1);
		PVD_MB();	/* copied before the slots are released */
		r->rsp_cons += n;
		idx_write(&intf->rsp_cons, r->rsp_cons);
		*moved = true;
		r->rx_have += n;
		if (r->rx_have == HDR_LEN) {
			/* Our copy of the header, checked once. */
			memcpy(&r->rx_hdr, r->rx, HDR_LEN);
			if (r->rx_hdr.len > XENSTORE_PAYLOAD_MAX) {
				set_broken(r, "reply of %u bytes (type %u) exceeds the payload maximum",
					   r->rx_hdr.len, r->rx_hdr.type);
				return -EIO;
			}
		}
	}
}

static void check_error_field(struct xs_ring *r)
{
	uint32_t feat = __atomic_load_n(&r->intf->server_features, __ATOMIC_RELAXED);
	uint32_t err;

	if (!(feat & XENSTORE_SERVER_FEATURE_ERROR))
		return;
	err = __atomic_load_n(&r->intf->error, __ATOMIC_RELAXED);
	if (err != XENSTORE_ERROR_NONE)
		set_broken(r, "the store reports error %u", err);
}

int xs_ring_kick(struct xs_ring *r)
{
	unsigned delivered = 0;
	bool moved = false;
	int rc = 0;

	if (!r->broken)
		check_error_field(r);
	while (!r->broken) {
		int got = rx_fill(r, &moved);

		if (got <= 0)
			break;
		r->received++;
		r->rx[HDR_LEN + r->rx_hdr.len] = '\0';
		r->rx_have = 0;
		/* The callback may send (push touches only the request side)
		 * but not start another message: rx is free again. */
		r->cb.msg(r->arg, &r->rx_hdr, r->rx + HDR_LEN);
		if (++delivered == XS_RING_KICK_BUDGET) {
			rc = 1;
			break;
		}
	}
	push(r, &moved);
	if (moved)
		r->cb.notify(r->arg);
	if (r->broken) {
		if (!r->reported) {
			r->reported = true;
			evbuffer_drain(r->txq, evbuffer_get_length(r->txq));
			r->cb.broken(r->arg, r->why);
		}
		return -EIO;
	}
	return rc;
}

size_t xs_ring_queued(const struct xs_ring *r)
{
	return evbuffer_get_length(r->txq);
}

bool xs_ring_is_broken(const struct xs_ring *r)
{
	return r->broken;
}

uint64_t xs_ring_received(const struct xs_ring *r)
{
	return r->received;
}
