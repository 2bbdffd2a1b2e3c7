/* The guest's xenstore client: request ids, replies, watch routing.  See
 * xenbus_xs.h.
 *
 * The store answers a connection's requests in order, so a reply almost
 * always matches the oldest request in flight; the list is searched from
 * there.  A reply whose id matches nothing (a hostile or confused store, or
 * a cancelled request) is dropped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "pvd/log.h"
#include "xenbus_xs.h"
#include "xs_ring.h"

#define MAX_ROUTES 8

struct pending {
	struct pending *next, *prev;
	uint32_t req_id, tx_id;
	xenbus_reply_fn *fn;
	void *arg;
};

struct route {
	char prefix[XENBUS_PREFIX_MAX + 1];
	size_t len;
	xenbus_event_fn *fn;
	void *arg;
};

struct xenbus {
	struct xs_ring *ring;
	struct event *kick_ev;
	void (*notify)(void *arg);
	void *notify_arg;
	struct pending *head, *tail;
	unsigned npending;
	uint32_t next_id;
	bool broken, connected;
	struct route routes[MAX_ROUTES];
	unsigned nroutes;
	uint64_t dropped_replies, dropped_events;
};

static void unlink_pending(struct xenbus *xb, struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		xb->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		xb->tail = p->prev;
	p->next = p->prev = NULL;
	xb->npending--;
}

static struct pending *find_pending(struct xenbus *xb, uint32_t req_id)
{
	for (struct pending *p = xb->head; p; p = p->next)
		if (p->req_id == req_id)
			return p;
	return NULL;
}

static void fail_all(struct xenbus *xb)
{
	static const char eio[] = "EIO";
	struct pending *list = xb->head;

	/* Detached first: callbacks may issue (failing) requests. */
	xb->head = xb->tail = NULL;
	xb->npending = 0;
	while (list) {
		struct pending *p = list;
		struct xsd_sockmsg h = {
			.type = XS_ERROR, .req_id = p->req_id, .tx_id = p->tx_id,
			.len = sizeof(eio),
		};

		list = p->next;
		p->fn(p->arg, &h, eio);
		free(p);
	}
}

static void deliver_event(struct xenbus *xb, const struct xsd_sockmsg *hdr,
			  const char *body)
{
	const char *nul = memchr(body, '\0', hdr->len);
	const char *token;

	/* "path\0token\0".  The body always has a NUL after len, so the
	 * token is terminated even if the store left its NUL out. */
	if (!nul) {
		log_warn("malformed watch event from the store (%u bytes)", hdr->len);
		xb->dropped_events++;
		return;
	}
	token = nul + 1;
	for (unsigned i = 0; i < xb->nroutes; i++) {
		struct route *r = &xb->routes[i];

		if (strncmp(token, r->prefix, r->len) == 0) {
			r->fn(r->arg, body, token + r->len);
			return;
		}
	}
	log_debug("watch event for %s with unrouted token dropped", body);
	xb->dropped_events++;
}

static void on_msg(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct xenbus *xb = arg;
	struct pending *p;

	if (!xb->connected) {
		xb->connected = true;
		log_info("the store serves our xenstore ring");
	}
	if (hdr->type == XS_WATCH_EVENT) {
		deliver_event(xb, hdr, body);
		return;
	}
	p = find_pending(xb, hdr->req_id);
	if (!p) {
		log_debug("reply %u (type %u) matches no request: dropped",
			  hdr->req_id, hdr->type);
		xb->dropped_replies++;
		return;
	}
	unlink_pending(xb, p);
	p->fn(p->arg, hdr, body);
	free(p);
}

static void on_broken(void *arg, const char *why)
{
	struct xenbus *xb = arg;

	xb->broken = true;
	log_err("xenstore connection lost (%s): %u requests fail with EIO",
		why, xb->npending);
	fail_all(xb);
}

static void on_notify(void *arg)
{
	struct xenbus *xb = arg;

	xb->notify(xb->notify_arg);
}

static const struct xs_ring_cb ring_cb = {
	.notify = on_notify,
	.msg = on_msg,
	.broken = on_broken,
};

void xenbus_kick(struct xenbus *xb)
{
	int rc = xs_ring_kick(xb->ring);

	/* More than one kick's budget waiting: another turn soon, after
	 * the loop has looked at everything else. */
	if (rc > 0)
		event_active(xb->kick_ev, EV_TIMEOUT, 0);
}

static void on_kick_ev(evutil_socket_t fd, short what, void *arg)
{
	xenbus_kick(arg);
}

int xenbus_create(struct xenbus **out, struct event_base *base,
		  struct xenstore_domain_interface *intf,
		  void (*notify)(void *arg), void *arg)
{
	struct xenbus *xb;
	int rc;

	*out = NULL;
	xb = calloc(1, sizeof(*xb));
	if (!xb)
		return -ENOMEM;
	xb->notify = notify;
	xb->notify_arg = arg;
	xb->next_id = 1;
	xb->kick_ev = event_new(base, -1, 0, on_kick_ev, xb);
	if (!xb->kick_ev) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = xs_ring_create(&xb->ring, intf, &ring_cb, xb);
	if (rc < 0)
		goto fail;
	*out = xb;
	return 0;
fail:
	xenbus_destroy(xb);
	return rc;
}

void xenbus_destroy(struct xenbus *xb)
{
	if (!xb)
		return;
	while (xb->head) {
		struct pending *p = xb->head;

		unlink_pending(xb, p);
		free(p);
	}
	if (xb->kick_ev)
		event_free(xb->kick_ev);
	xs_ring_destroy(xb->ring);
	free(xb);
}

int xenbus_request(struct xenbus *xb, uint32_t type, uint32_t tx_id,
		   const void *body, uint32_t len, xenbus_reply_fn *fn,
		   void *arg)
{
	struct xsd_sockmsg h;
	struct pending *p;
	int rc;

	if (xb->broken || xs_ring_is_broken(xb->ring))
		return -EIO;
	if (len > XENSTORE_PAYLOAD_MAX)
		return -EINVAL;
	if (xb->npending >= XENBUS_PENDING_MAX)
		return -EBUSY;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	/* Unique among requests in flight (ids wrap after 2^32). */
	do
		p->req_id = xb->next_id++;
	while (find_pending(xb, p->req_id));
	p->tx_id = tx_id;
	p->fn = fn;
	p->arg = arg;
	h = (struct xsd_sockmsg){ .type = type, .req_id = p->req_id,
				  .tx_id = tx_id, .len = len };
	rc = xs_ring_send(xb->ring, &h, body);
	if (rc < 0) {
		free(p);
		/* A break found while pushing is reported from the loop. */
		if (rc == -EIO)
			event_active(xb->kick_ev, EV_TIMEOUT, 0);
		return rc;
	}
	p->prev = xb->tail;
	if (xb->tail)
		xb->tail->next = p;
	else
		xb->head = p;
	xb->tail = p;
	xb->npending++;
	return 0;
}

void xenbus_cancel(struct xenbus *xb, xenbus_reply_fn *fn, void *arg)
{
	struct pending *p = xb->head;

	while (p) {
		struct pending *next = p->next;

		if (p->fn == fn && p->arg == arg) {
			unlink_pending(xb, p);
			free(p);
		}
		p = next;
	}
}

int xenbus_route_add(struct xenbus *xb, const char *prefix,
		     xenbus_event_fn *fn, void *arg)
{
	size_t len = strlen(prefix);
	struct route *r;

	if (len == 0 || len > XENBUS_PREFIX_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < xb->nroutes; i++) {
		size_t l = xb->routes[i].len < len ? xb->routes[i].len : len;

		if (strncmp(xb->routes[i].prefix, prefix, l) == 0)
			return -EEXIST;
	}
	if (xb->nroutes == MAX_ROUTES)
		return -ENOSPC;
	r = &xb->routes[xb->nroutes++];
	memcpy(r->prefix, prefix, len + 1);
	r->len = len;
	r->fn = fn;
	r->arg = arg;
	return 0;
}

void xenbus_route_del(struct xenbus *xb, const char *prefix)
{
	for (unsigned i = 0; i < xb->nroutes; i++) {
		if (strcmp(xb->routes[i].prefix, prefix) == 0) {
			xb->routes[i] = xb->routes[--xb->nroutes];
			return;
		}
	}
}

bool xenbus_is_broken(const struct xenbus *xb)
{
	return xb->broken || xs_ring_is_broken(xb->ring);
}

bool xenbus_is_connected(const struct xenbus *xb)
{
	return xb->connected;
}

unsigned xenbus_pending(const struct xenbus *xb)
{
	return xb->npending;
}
