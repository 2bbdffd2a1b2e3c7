/* The xenstore ring, server side.
 *
 * The page is shared with a guest that may change any byte of it at any
 * time.  Each pass reads the producer and consumer indexes once, checks
 * that they are no more than a ring apart (XENSTORE_ERROR_RINGIDX
 * otherwise: the connection is dropped, as xenstored does), copies the
 * bytes out, and only then publishes the new consumer index; framing and
 * payload limits are then checked on the copy by the transport-agnostic
 * layer (conn.c).  Requests: the guest produces req_prod, we consume
 * req_cons.  Replies and events: we produce rsp_prod, the guest consumes
 * rsp_cons.  Every index update is followed by a notify, as the xenstore
 * protocol has no event suppression.
 *
 * Restart (--persist): ring_reattach_all maps the pages again and gives
 * each connection back the watches the journal kept for it (journal.h),
 * as xenstored's live update keeps a connection's watches.  Its open
 * transactions are not kept: the guest's next request naming one is
 * answered EAGAIN, which a xenbus client takes as "run the transaction
 * again" (core.c), as after a forced live update.
 *
 * Domain death, as xenstored_domain.c's domain_cleanup: on Xen,
 * VIRQ_DOM_EXC fires and each introduced domain's state is asked
 * (hv_domain_state); a simulated guest that exits (even by SIGKILL) is
 * noticed by polling once a second while rings exist (on Xen too, as a
 * backstop).  Shut down or crashed: @releaseDomain fires once (libxl and
 * xl's monitor then act); dying or gone: released like XS_RELEASE, and
 * @releaseDomain fires.
 *
 * dom0's own kernel (Xen only) is one more ring connection, privileged,
 * on the page and port xenfs offers (local.c), as Xen's xenstored's
 * dom0_init; it is attached at every start, restart included. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <xen/io/xs_wire.h>

#include "conn.h"
#include "core.h"
#include "domain.h"
#include "local.h"
#include "pvd/hv.h"
#include "pvd/log.h"
#include "pvd/ring_util.h"
#include "ring.h"
#include "stored.h"
#include "watch.h"

struct ring_tp {
	struct stored *sd;
	struct conn *c;
	unsigned domid;
	struct xenstore_domain_interface *intf;
	evtchn_port_t port;
	bool bound;
	bool local;	/* dom0's page, mmapped from xenfs (local.c) */
};

static struct ring_tp *port_lookup(struct stored *sd, evtchn_port_t port)
{
	return port < sd->nring_ports ? sd->ring_ports[port] : NULL;
}

static int port_set(struct stored *sd, evtchn_port_t port, struct ring_tp *t)
{
	if (port >= sd->nring_ports) {
		unsigned n = port + 64;
		struct ring_tp **p = realloc(sd->ring_ports, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		memset(p + sd->nring_ports, 0,
		       (n - sd->nring_ports) * sizeof(*p));
		sd->ring_ports = p;
		sd->nring_ports = n;
	}
	sd->ring_ports[port] = t;
	return 0;
}

static void ring_broken(struct ring_tp *t, uint32_t err)
{
	t->intf->error = err;
	log_warn("dom%u: xenstore ring broken (error %u): disconnecting",
		 t->domid, err);
}

/* One pass: copies what the guest produced (at most room bytes), then
 * publishes the new consumer index.  Returns the bytes taken, -EAGAIN for
 * none, -EPROTO for broken indexes. */
static ssize_t fill_once(struct ring_tp *t, struct evbuffer *buf, size_t room)
{
	struct xenstore_domain_interface *intf = t->intf;
	XENSTORE_RING_IDX cons, prod, avail, off, n1;
	char tmp[XENSTORE_RING_SIZE];

	cons = *(volatile XENSTORE_RING_IDX *)&intf->req_cons;
	prod = *(volatile XENSTORE_RING_IDX *)&intf->req_prod;
	PVD_RMB();
	avail = prod - cons;
	if (avail > XENSTORE_RING_SIZE) {
		ring_broken(t, XENSTORE_ERROR_RINGIDX);
		return -EPROTO;
	}
	if (avail > room)
		avail = (XENSTORE_RING_IDX)room;
	if (avail == 0)
		return -EAGAIN;
	off = MASK_XENSTORE_IDX(cons);
	n1 = XENSTORE_RING_SIZE - off < avail ? XENSTORE_RING_SIZE - off : avail;
	memcpy(tmp, intf->req + off, n1);
	memcpy(tmp + n1, intf->req, avail - n1);
	if (evbuffer_add(buf, tmp, avail) < 0)
		return -ENOMEM;	/* the bytes stay in the ring */
	PVD_MB();	/* the copy is complete before the slot is released */
	intf->req_cons = cons + avail;
	/* And the new index is visible before req_prod is read again. */
	PVD_MB();
	return avail;
}

/* Linux's xenbus (xb_write) notifies only when its write found the ring
 * empty (old req_prod <= req_cons): bytes it adds while we have not yet
 * published our consumer index come with no event.  So, as xenstored's
 * main loop does, read again until the ring is seen empty after our
 * index was published; a single pass stalled a real domU's boot with
 * its requests sitting in the ring (docs/xen-host.md). */
static ssize_t ring_fill(struct conn *c, struct evbuffer *buf, size_t max)
{
	struct ring_tp *t = c->tp;
	size_t room = max - evbuffer_get_length(buf);
	ssize_t n, total = 0;

	while (room > 0) {
		n = fill_once(t, buf, room);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return n;
		total += n;
		room -= (size_t)n;
	}
	if (total > 0)
		hv_evtchn_notify(t->sd->hv, t->port);
	return total > 0 ? total : -EAGAIN;
}

static ssize_t ring_drain(struct conn *c, struct evbuffer *buf)
{
	struct ring_tp *t = c->tp;
	struct xenstore_domain_interface *intf = t->intf;
	XENSTORE_RING_IDX cons, prod, used, space, off, n1;
	char tmp[XENSTORE_RING_SIZE];

	cons = *(volatile XENSTORE_RING_IDX *)&intf->rsp_cons;
	prod = *(volatile XENSTORE_RING_IDX *)&intf->rsp_prod;
	PVD_MB();
	used = prod - cons;
	if (used > XENSTORE_RING_SIZE) {
		ring_broken(t, XENSTORE_ERROR_RINGIDX);
		return -EPROTO;
	}
	space = XENSTORE_RING_SIZE - used;
	if (space > evbuffer_get_length(buf))
		space = (XENSTORE_RING_IDX)evbuffer_get_length(buf);
	if (space == 0)
		return -EAGAIN;
	evbuffer_remove(buf, tmp, space);
	off = MASK_XENSTORE_IDX(prod);
	n1 = XENSTORE_RING_SIZE - off < space ? XENSTORE_RING_SIZE - off : space;
	memcpy(intf->rsp + off, tmp, n1);
	memcpy(intf->rsp, tmp + n1, space - n1);
	PVD_WMB();	/* the bytes are visible before the index */
	intf->rsp_prod = prod + space;
	hv_evtchn_notify(t->sd->hv, t->port);
	return space;
}

/* The guest notifies when it consumes replies: nothing to arm. */
static void ring_want_write(struct conn *c, bool on) { }
static void ring_want_read(struct conn *c, bool on) { }

static void ring_destroy(struct conn *c)
{
	struct ring_tp *t = c->tp;

	if (!t)
		return;
	port_set(t->sd, t->port, NULL);
	hv_evtchn_unbind(t->sd->hv, t->port);
	if (t->local)
		local_store_close(t->intf);
	else
		hv_grant_unmap(t->sd->hv, t->intf, 1);
	t->sd->nrings--;
	free(t);
}

static const struct conn_ops ring_ops = {
	.name = "ring",
	.fill = ring_fill,
	.drain = ring_drain,
	.want_write = ring_want_write,
	.want_read = ring_want_read,
	.destroy = ring_destroy,
};

static void check_one(struct stored *sd, unsigned domid)
{
	struct domain *d = domain_get(&sd->domains, domid, false);
	int st = hv_domain_state(sd->hv, (domid_t)domid);

	if (!d || st < 0)
		return;
	if (st == HV_DOM_GONE) {
		log_info("dom%u is gone", domid);
		core_release_domain(sd, domid, true);
	} else if (st == HV_DOM_SHUTDOWN && !d->shutdown) {
		/* Once: the toolstack reads the reason and destroys it. */
		log_info("dom%u has shut down", domid);
		d->shutdown = true;
		watch_fire_special(sd, "@releaseDomain");
	}
}

static void check_deaths(struct stored *sd)
{
	for (unsigned i = 0; i < sd->nring_ports; i++) {
		struct ring_tp *t = sd->ring_ports[i];

		if (t && t->domid != 0)
			check_one(sd, t->domid);
	}
}

static void on_evtchn(evutil_socket_t fd, short what, void *arg)
{
	struct stored *sd = arg;
	evtchn_port_t port[HV_EVTCHN_BATCH];
	/* More than a batch waits its turn in the loop (the fd stays
	 * readable), so a flood of kicks cannot hold it. */
	int n = hv_evtchn_take(sd->hv, port, HV_EVTCHN_BATCH);

	for (int i = 0; i < n; i++) {
		struct ring_tp *t = port_lookup(sd, port[i]);
		struct conn *c;

		if (sd->has_virq && port[i] == sd->virq_port) {
			check_deaths(sd);
			continue;
		}
		if (!t)
			continue;
		/* Reading may close the connection and free t; the conn
		 * itself lives until the next reap. */
		c = t->c;
		conn_on_readable(c);
		conn_on_writable(c);	/* replies may fit now */
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct stored *sd = arg;

	if (sd->nrings)
		check_deaths(sd);
}

/* Only one process may bind VIRQ_DOM_EXC: -EEXIST says another xenstored
 * serves this host, whose dom0 ring must not be taken from it. */
static int bind_dom_exc(struct stored *sd)
{
	evtchn_port_t port;
	int rc = hv_evtchn_bind_virq(sd->hv, VIRQ_DOM_EXC, &port);

	if (rc == -EOPNOTSUPP)
		return 0;	/* sim: polled */
	if (rc == -EEXIST) {
		log_err("VIRQ_DOM_EXC is bound already: another xenstored "
			"(xenstored, oxenstored) runs on this host");
		return rc;
	}
	if (rc < 0) {
		log_err("cannot bind VIRQ_DOM_EXC: %s", strerror(-rc));
		return rc;
	}
	sd->virq_port = port;
	sd->has_virq = true;
	return 0;
}

int ring_start(struct stored *sd, const char *impl)
{
	struct hv_config cfg = { 0 };
	struct timeval tv = { 1, 0 };
	int rc;

	if (impl && strcmp(impl, "none") == 0)
		return 0;
	cfg.impl = impl && strcmp(impl, "auto") != 0 ? impl : NULL;
	rc = hv_open(&sd->hv, &cfg);
	if (rc < 0) {
		log_warn("no hypervisor layer (%s): domains are not served over rings",
			 strerror(-rc));
		return rc;
	}
	sd->hv_ev = event_new(sd->base, hv_evtchn_fd(sd->hv), EV_READ | EV_PERSIST,
			      on_evtchn, sd);
	sd->hv_tick = event_new(sd->base, -1, EV_PERSIST, on_tick, sd);
	if (!sd->hv_ev || !sd->hv_tick || event_add(sd->hv_ev, NULL) < 0 ||
	    event_add(sd->hv_tick, &tv) < 0) {
		ring_stop(sd);
		return -ENOMEM;
	}
	rc = bind_dom_exc(sd);
	if (rc < 0) {
		ring_stop(sd);
		return rc;
	}
	log_info("serving domains over rings (%s)", hv_impl_name(sd->hv));
	return 0;
}

void ring_stop(struct stored *sd)
{
	if (sd->hv_ev)
		event_free(sd->hv_ev);
	if (sd->hv_tick)
		event_free(sd->hv_tick);
	sd->hv_ev = sd->hv_tick = NULL;
	if (sd->has_virq)
		hv_evtchn_unbind(sd->hv, sd->virq_port);
	sd->has_virq = false;
	free(sd->ring_ports);
	sd->ring_ports = NULL;
	sd->nring_ports = 0;
	hv_close(sd->hv);
	sd->hv = NULL;
}

/* The page: a guest's through its reserved grant (as C xenstored's
 * map_interface; the gfn INTRODUCE names is not used), dom0's from xenfs
 * (dir; its port is read there too). */
static int map_page(struct stored *sd, struct domain *d, const char *dir,
		    void **page)
{
	grant_ref_t ref = GNTTAB_RESERVED_XENSTORE;
	evtchn_port_t port;
	int rc;

	if (dir) {
		rc = local_store_open(dir, page, &port);
		if (rc == 0)
			d->port = port;
		return rc;
	}
	rc = hv_grant_map(sd->hv, (domid_t)d->domid, 1, &ref, 1, page);
	if (rc < 0)
		log_warn("dom%u: cannot map its xenstore page: %s", d->domid,
			 strerror(-rc));
	return rc;
}

/* Binds the port and makes the connection; t holds the page. */
static int connect_ring(struct stored *sd, struct domain *d,
			struct ring_tp *t)
{
	int rc = hv_evtchn_bind_interdomain(sd->hv, (domid_t)d->domid, d->port,
					    &t->port);

	if (rc < 0) {
		log_warn("dom%u: cannot bind port %u: %s", d->domid, d->port,
			 strerror(-rc));
		return rc;
	}
	t->bound = true;
	rc = port_set(sd, t->port, t);
	if (rc < 0)
		return rc;
	t->c = conn_new(sd, &ring_ops, t, d->domid, d->domid == 0);
	if (!t->c) {
		port_set(sd, t->port, NULL);
		return -ENOMEM;
	}
	return 0;
}

static int attach(struct stored *sd, struct domain *d, bool again,
		  const char *dir)
{
	struct ring_tp *t;
	void *page = NULL;
	int rc;

	if (!sd->hv)
		return -ENODEV;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->sd = sd;
	t->domid = d->domid;
	t->local = dir != NULL;
	rc = map_page(sd, d, dir, &page);
	if (rc < 0)
		goto fail;
	t->intf = page;
	rc = connect_ring(sd, d, t);
	if (rc < 0)
		goto fail;
	sd->nrings++;
	t->intf->server_features = XENSTORE_SERVER_FEATURE_ERROR;
	t->intf->error = XENSTORE_ERROR_NONE;
	t->c->keep_watches = true;
	t->c->reattached = again;
	if (again && d->saved)
		log_info("dom%u: %u watches restored", d->domid,
			 watch_restore(t->c, &d->saved));
	/* Requests may already be waiting; dom0's kernel waits for a first
	 * event before it takes the store as up (xenstored's dom0_init). */
	conn_on_readable(t->c);
	hv_evtchn_notify(sd->hv, t->port);
	return 0;
fail:
	if (t->bound)
		hv_evtchn_unbind(sd->hv, t->port);
	if (page && dir)
		local_store_close(page);
	else if (page)
		hv_grant_unmap(sd->hv, page, 1);
	free(t);
	return rc;
}

int ring_attach_dom0(struct stored *sd, const char *xenfs)
{
	struct domain *d = domain_get(&sd->domains, 0, false);
	int rc;

	if (!d || !sd->hv)
		return -ENODEV;
	/* Watches the journal kept for dom0's kernel (a restart) go back
	 * to it, as a guest's do. */
	rc = attach(sd, d, d->saved != NULL, xenfs);
	if (rc == 0)
		log_info("dom0's kernel served on its own ring (port %u)",
			 d->port);
	return rc;
}

int ring_attach(struct stored *sd, struct domain *d)
{
	/* A new introduction starts afresh (xenstored-facts.md: INTRODUCE
	 * resets the ring's watches). */
	watch_list_free(d->saved);
	d->saved = NULL;
	return attach(sd, d, false, NULL);
}

void ring_reattach_all(struct stored *sd)
{
	for (unsigned id = 1; id < 65536; id++) {
		struct domain *d = sd->domains.d[id];

		if (!d || !d->introduced)
			continue;
		if (!sd->hv)
			continue;	/* bookkeeping only, as before */
		if (attach(sd, d, true, NULL) < 0) {
			log_info("dom%u did not survive the restart", id);
			core_release_domain(sd, id, true);
		}
	}
}
