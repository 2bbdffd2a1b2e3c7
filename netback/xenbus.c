/* The xenbus side of pvd-netback (see xenbus.h), after Linux
 * xen-netback's xenbus.c (netback_probe, frontend_changed, connect,
 * read_xenbus_vif_flags, connect_data_rings, connect_ctrl_ring,
 * xen_net_read_rate) and Xen's vif-bridge hotplug script:
 *
 *   probe: the toolstack made backend/vif/<domid>/<devid> (frontend,
 *     frontend-id, handle, mac, bridge, rate, ip, vifname, mtu); make the
 *     tap on its bridge (the hotplug script's job) and write
 *     hotplug-status, write the features and go InitWait; a missing
 *     handle, a bad mac/ip/name or a missing bridge: error node
 *     (hotplug-status error for the tap) + Closing, nothing left;
 *   frontend Connected: read the queues, rings, event channels and
 *     features; open the tap's queues with the negotiated offloads and
 *     MTU, start the vif (vif.h) and go Connected; any failure: error
 *     node + Closing, the tap removed;
 *   frontend Closing/Closed: the vif stopped, the tap kept (Linux keeps
 *     the vif netdev for a reconnect); Closed and offline, the directory
 *     gone, or the domain dead (@releaseDomain): the tap removed.
 *
 * The frontend's nodes are the guest's: every value is parsed strictly
 * and a bad one closes only its device.  Lines about a device are
 * rate-limited per device (dev_log), the error node written only with its
 * line.  Ring references and event channels are read once, at connect:
 * a frontend that changes them while Connected is not watched (Linux's
 * netback does not watch them either), so the change is ignored until
 * the frontend reconnects.
 *
 * A restarted daemon finds vifs whose backend is Connected: it re-opens
 * the persistent tap by name and starts the vif with cfg.reattach (the
 * rings taken where the guest left them), with no state change the
 * frontend would notice.
 *
 * The store may restart under us (common/xsconn.c, as pvd-blkback): the
 * rings and taps are served on while it is away (the data path never
 * needs it), nothing is decided from a read that failed because the
 * connection did (a vif is not "gone" because the store is), and once it
 * is back every watch is set again and every vif and frontend looked at
 * anew (on_store_up). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <xenstore.h>

#include "pvd/log.h"
#include "pvd/mapfile.h"
#include "pvd/num.h"
#include "pvd/ratelimit.h"
#include "pvd/ring_util.h"
#include "pvd/sdnotify.h"
#include "pvd/xbdev.h"
#include "policy.h"
#include "tap.h"
#include "vif.h"
#include "xbstate.h"
#include "nic.h"
#include "xenbus.h"

#define PATH_LEN XBDEV_PATH_LEN

struct nb_xb_dev {
	struct nb_xenbus *xb;
	struct nb_xb_dev *next;
	struct xbdev x;                /* domid, devid, be, fe, state, lines */
	char token[48];
	char fe_watch[PATH_LEN + 8];  /* <fe>/state */
	char ifname[IFNAMSIZ];        /* vif<domid>.<devid> or vifname= */
	char bridge[IFNAMSIZ];        /* "" when none */
	char mtu_node[16];            /* the toolstack's mtu, checked at connect */
	uint8_t mac[6];
	struct nb_policy policy;
	struct nb_rate rate;
	unsigned mtu;
	bool online, watching, fe_seen, gone, seen;
	bool broken;                  /* the toolstack's nodes were refused */
	struct nb_tap tap;
	bool tap_open;
	struct nb_nic *vif;           /* its queues, on the I/O threads */
	struct event *defer;          /* a fatal vif event, handled later */
	char why[128];
};

/* ---------------------------------------------------------------- store */

/* The device's store side (reads, writes, transactions, state, error
 * node, rate-limited lines) is common/xbdev.c's: pvd/xbdev.h. */
#define dev_of(xp) xbdev_container(xp, struct nb_xb_dev, x)

/* A frontend flag: absent is 0; anything but 0/1 is 0 as well
 * (xenbus_read_unsigned's default). */
static bool xb_read_flag(struct nb_xenbus *xb, const char *dir,
			 const char *node)
{
	uint64_t v = 0;

	return xbdev_read_uint(&xb->xc, dir, node, 1, &v) == 0 && v;
}

static bool write_hotplug(struct xbdev *x, xs_transaction_t t, void *arg)
{
	return xbdev_be_write(x, t, "hotplug-status", "%s", (const char *)arg);
}

/* ---------------------------------------------------------------- nodes */

/* netback_probe's nodes, in its order. */
static bool write_features(struct xbdev *x, xs_transaction_t t, void *arg)
{
	struct nb_xb_dev *d = dev_of(x);
	struct nb_xenbus *xb = d->xb;

	return xbdev_be_write(x, t, "feature-sg", "1") &&
	       xbdev_be_write(x, t, "feature-gso-tcpv4", "1") &&
	       xbdev_be_write(x, t, "feature-gso-tcpv6", "1") &&
	       xbdev_be_write(x, t, "feature-ipv6-csum-offload", "1") &&
	       xbdev_be_write(x, t, "feature-rx-copy", "1") &&
	       xbdev_be_write(x, t, "feature-rx-flip", "0") &&
	       xbdev_be_write(x, t, "feature-split-event-channels", "1") &&
	       xbdev_be_write(x, t, "multi-queue-max-queues", "%u",
			xb->o.max_queues) &&
	       xbdev_be_write(x, t, "feature-ctrl-ring", "1");
}

/* One port node: 0, or -errno with the error node written. */
static int read_port(struct nb_xb_dev *d, const char *dir, const char *node,
		     evtchn_port_t *out)
{
	uint64_t v;
	int rc = xbdev_read_uint(&d->xb->xc, dir, node, UINT32_MAX, &v);

	if (rc < 0)
		xbdev_fatal(&d->x, rc, "reading %s/%s", dir, node);
	else
		*out = (evtchn_port_t)v;
	return rc;
}

/* connect_data_rings: one queue's refs and event channel(s). */
static int read_queue(struct nb_xb_dev *d, const char *dir,
		      struct nb_queue_cfg *q)
{
	uint64_t tx, rx;
	int rc;

	if (xbdev_read_uint(&d->xb->xc, dir, "tx-ring-ref", UINT32_MAX, &tx) < 0 ||
	    xbdev_read_uint(&d->xb->xc, dir, "rx-ring-ref", UINT32_MAX, &rx) < 0) {
		xbdev_fatal(&d->x, -EINVAL, "reading %s/ring-ref", dir);
		return -EINVAL;
	}
	q->tx_ref = (grant_ref_t)tx;
	q->rx_ref = (grant_ref_t)rx;
	q->tap_fd = -1;
	/* A single event-channel, else the split pair. */
	if (xbdev_read_uint(&d->xb->xc, dir, "event-channel", UINT32_MAX, &tx) == 0) {
		q->tx_port = q->rx_port = (evtchn_port_t)tx;
		return 0;
	}
	if ((rc = read_port(d, dir, "event-channel-tx", &q->tx_port)) < 0)
		return rc;
	return read_port(d, dir, "event-channel-rx", &q->rx_port);
}

/* read_xenbus_vif_flags: request-rx-copy is required. */
static int read_features(struct nb_xb_dev *d, struct nb_features *f)
{
	struct nb_xenbus *xb = d->xb;

	if (!xb_read_flag(xb, d->x.fe, "request-rx-copy")) {
		xbdev_fatal(&d->x, -EOPNOTSUPP, "%s/request-rx-copy: the frontend "
			  "must use the copying receive path", d->x.fe);
		return -EOPNOTSUPP;
	}
	f->rx_notify = xb_read_flag(xb, d->x.fe, "feature-rx-notify");
	f->sg = xb_read_flag(xb, d->x.fe, "feature-sg");
	f->gso_tcpv4 = xb_read_flag(xb, d->x.fe, "feature-gso-tcpv4");
	f->gso_tcpv6 = xb_read_flag(xb, d->x.fe, "feature-gso-tcpv6");
	f->csum = !xb_read_flag(xb, d->x.fe, "feature-no-csum-offload");
	f->ipv6_csum = xb_read_flag(xb, d->x.fe, "feature-ipv6-csum-offload");
	return 0;
}

/* connect_ctrl_ring: optional, but a ref needs its event channel. */
static int read_ctrl(struct nb_xb_dev *d, struct nb_vif_cfg *c)
{
	uint64_t ref;
	int rc = xbdev_read_uint(&d->xb->xc, d->x.fe, "ctrl-ring-ref",
				 UINT32_MAX, &ref);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		xbdev_fatal(&d->x, rc, "reading %s/ctrl-ring-ref", d->x.fe);
		return rc;
	}
	c->ctrl = true;
	c->ctrl_ref = (grant_ref_t)ref;
	return read_port(d, d->x.fe, "event-channel-ctrl", &c->ctrl_port);
}

static int read_nqueues(struct nb_xb_dev *d, unsigned *out)
{
	unsigned max = d->xb->o.max_queues;
	uint64_t nq = 1;
	int rc = xbdev_read_uint(&d->xb->xc, d->x.fe, "multi-queue-num-queues",
			      UINT32_MAX, &nq);

	if (rc == -ENOENT)
		nq = 1;
	else if (rc < 0 || nq == 0 || nq > max) {
		/* Linux's words, where it says them (connect()). */
		xbdev_fatal(&d->x, -EINVAL, "guest requested %s queues (1 to %u "
			  "offered)", rc < 0 ? "invalid" :
			  nq == 0 ? "0" : "too many", max);
		return -EINVAL;
	}
	*out = (unsigned)nq;
	return 0;
}

/* Everything the frontend published, checked, into c (taps not yet). */
static int read_conn(struct nb_xb_dev *d, struct nb_vif_cfg *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->domid = d->x.domid;
	c->devid = d->x.devid;
	if ((rc = read_nqueues(d, &c->nqueues)) < 0 ||
	    (rc = read_features(d, &c->feat)) < 0)
		return rc;
	for (unsigned i = 0; i < c->nqueues; i++) {
		char dir[PATH_LEN + sizeof("/queue-4294967295")];

		if (c->nqueues == 1)
			snprintf(dir, sizeof(dir), "%s", d->x.fe);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", d->x.fe, i);
		if ((rc = read_queue(d, dir, &c->q[i])) < 0)
			return rc;
	}
	if ((rc = read_ctrl(d, c)) < 0)
		return rc;
	c->policy = d->policy;
	c->rate = d->rate;
	c->rx_stall_ms = d->xb->o.rx_stall_ms;
	return 0;
}

/* ---------------------------------------------------------------- connect */

/* The MTU: the toolstack's `mtu`, bounded by what SG allows. */
static unsigned dev_mtu(struct nb_xb_dev *d, bool sg)
{
	unsigned mtu = NB_MTU_DEFAULT;

	if (d->mtu_node[0] && nb_policy_parse_mtu(d->mtu_node, sg, &mtu) < 0) {
		xbdev_warn(&d->x, "mtu %s refused (%s SG): %u", d->mtu_node,
			 sg ? "with" : "without", NB_MTU_DEFAULT);
		mtu = NB_MTU_DEFAULT;
	}
	return mtu;
}

/* The tap, its fds into c; error node + hotplug-status=error on failure. */
static int dev_make_tap(struct nb_xb_dev *d, struct nb_vif_cfg *c)
{
	struct nb_tap_cfg tc = {
		.name = d->ifname, .nqueues = c->nqueues, .feat = c->feat,
		.bridge = d->bridge, .create_bridge = d->xb->o.create_bridges,
	};
	char msg[200];
	int rc;

	tc.mtu = d->mtu = dev_mtu(d, c->feat.sg);
	rc = nb_tap_create(&d->tap, &tc, msg, sizeof(msg));
	if (rc < 0) {
		/* The error node before hotplug-status: a toolstack that
		 * sees "error" reads the node for the cause (pvctl did not
		 * find it, now and then, when the order was the other). */
		xbdev_fatal(&d->x, rc, "%s: %s", d->ifname, msg);
		xbdev_txn(&d->x, write_hotplug, "error");
		return rc;
	}
	d->tap_open = true;
	for (unsigned i = 0; i < c->nqueues; i++)
		c->q[i].tap_fd = d->tap.fd[i];
	c->vnet_hdr_len = d->tap.vnet_hdr_len;
	return 0;
}

/* The hotplug script's part, at probe as vif-bridge runs before the
 * frontend connects: the tap made (one queue, persistent, no fd kept)
 * and put on its bridge, then hotplug-status.  A missing bridge is
 * refused here, so that the toolstack, which waits for InitWait, hears
 * of it. */
static int dev_prepare_tap(struct nb_xb_dev *d)
{
	struct nb_tap_cfg tc = {
		.name = d->ifname, .nqueues = 1, .mtu = NB_MTU_DEFAULT,
		.bridge = d->bridge, .create_bridge = d->xb->o.create_bridges,
	};
	char msg[200];
	int rc = nb_tap_create(&d->tap, &tc, msg, sizeof(msg));

	if (rc < 0) {
		xbdev_fatal(&d->x, rc, "%s: %s", d->ifname, msg);
		xbdev_txn(&d->x, write_hotplug, "error");
		return rc;
	}
	nb_tap_close(&d->tap);
	rc = xbdev_txn(&d->x, write_hotplug, "connected");
	if (rc < 0)
		xbdev_warn(&d->x, "writing hotplug-status: %s", strerror(-rc));
	return 0;
}

/* Stops the vif and removes the tap (keep: only close its fds). */
static void dev_disconnect(struct nb_xb_dev *d, bool keep_tap)
{
	nb_nic_stop(d->vif);
	d->vif = NULL;
	if (d->tap_open) {
		if (keep_tap)
			nb_tap_close(&d->tap);
		else
			nb_tap_destroy(&d->tap);
	}
	d->tap_open = false;
}

static void on_vif(struct nb_nic *v, int event, const char *why, void *arg)
{
	struct nb_xb_dev *d = arg;

	switch (event) {
	case NB_VIF_FATAL:
		/* nb_nic_stop may not run from here: next loop turn. */
		snprintf(d->why, sizeof(d->why), "%s", why ? why : "");
		event_active(d->defer, EV_TIMEOUT, 0);
		break;
	case NB_VIF_CARRIER_OFF:
		xbdev_warn(&d->x, "carrier off: %s", why ? why : "rx stalled");
		break;
	case NB_VIF_CARRIER_ON:
		xbdev_info(&d->x, "carrier on");
		break;
	default:
		break;
	}
}

static void on_defer(evutil_socket_t fd, short what, void *arg)
{
	struct nb_xb_dev *d = arg;

	if (!d->vif)
		return;
	dev_disconnect(d, false);
	xbdev_fatal(&d->x, -EIO, "frontend broke the netif protocol: %s", d->why);
}

/* connect(): read, tap, hotplug-status, vif, Connected. */
static void dev_connect(struct nb_xb_dev *d, bool reattach)
{
	struct nb_vif_cfg c;
	int rc;

	if (read_conn(d, &c) < 0) {
		/* Refused: the device is dead until the frontend starts
		 * over, and its tap with it. */
		nb_tap_remove_name(d->ifname);
		return;
	}
	if (dev_make_tap(d, &c) < 0)
		return;
	c.reattach = reattach;
	c.journal_dir = d->xb->o.journal_dir;
	rc = xbdev_txn(&d->x, write_hotplug, "connected");
	if (rc == 0)
		rc = nb_nic_start(d->xb->pool, &c, on_vif, d, &d->vif);
	if (rc < 0) {
		d->vif = NULL;
		dev_disconnect(d, false);
		xbdev_fatal(&d->x, rc, "mapping tx-ring-ref %u rx-ring-ref %u port %u",
			  c.q[0].tx_ref, c.q[0].rx_ref, c.q[0].tx_port);
		return;
	}
	xbdev_info(&d->x, "%s: %u queue(s) on %u I/O thread(s)%s%s%s, mtu %u%s%s",
		 d->ifname, c.nqueues, nb_nic_threads(d->vif),
		 c.feat.sg ? ", sg" : "", c.feat.gso_tcpv4 ? ", tso4" : "",
		 c.ctrl ? ", ctrl ring" : "", d->mtu, d->bridge[0] ? ", bridge " : "",
		 d->bridge);
	if (reattach)
		d->x.state = XenbusStateConnected;
	else
		xbdev_switch(&d->x, XenbusStateConnected);
}

static void dev_free(struct nb_xb_dev *d, bool keep_tap);

static void dev_frontend_changed(struct nb_xb_dev *d)
{
	unsigned act;
	int fe;

	/* A refused probe is netback_probe failing: no device to drive
	 * until the toolstack writes it again. */
	if (d->gone || d->broken || d->xb->stopping || !xsconn_up(&d->xb->xc))
		return;       /* the store back: on_store_up looks again */
	fe = xbdev_fe_state(&d->x);
	if (!xsconn_up(&d->xb->xc))
		return;       /* the read failed with the store */
	if (fe == XenbusStateUnknown && !d->fe_seen)
		return;       /* not written yet */
	d->fe_seen = true;
	act = nb_xb_frontend_changed((enum xenbus_state)d->x.state, fe, d->online);
	xbdev_debug(&d->x, "frontend %s, backend %s: actions 0x%x",
		  xbdev_state_name(fe), xbdev_state_name(d->x.state), act);
	if (act & NB_XB_FATAL) {
		xbdev_fatal(&d->x, -EINVAL, "saw state %d at frontend", fe);
		return;
	}
	/* The tap outlives a frontend's disconnect, as Linux's vif netdev
	 * does (its bridge port stays for the frontend's return); it goes
	 * with the device (REMOVE, the directory gone, a fatal error). */
	if (act & NB_XB_DISCONNECT)
		dev_disconnect(d, true);
	if (act & NB_XB_INITWAIT)
		xbdev_switch(&d->x, XenbusStateInitWait);
	if (act & NB_XB_CONNECT)
		dev_connect(d, false);
	if (act & NB_XB_CLOSING)
		xbdev_switch(&d->x, XenbusStateClosing);
	if (act & NB_XB_CLOSED)
		xbdev_switch(&d->x, XenbusStateClosed);
	if (act & NB_XB_REMOVE) {
		dev_disconnect(d, false);
		nb_tap_remove_name(d->ifname);
	}
}

/* ---------------------------------------------------------------- probe */

static bool dev_path_ok(const struct nb_xb_dev *d, const char *fe)
{
	char prefix[48];
	int n = snprintf(prefix, sizeof(prefix), "/local/domain/%u/",
			 (unsigned)d->x.domid);

	return strncmp(fe, prefix, (size_t)n) == 0 && strlen(fe) < PATH_LEN &&
	       !strstr(fe, "//") && !strstr(fe, "/..");
}

/* frontend and frontend-id: false if not all there yet (or not the
 * domain's), the probe then waits for the next event. */
static bool dev_read_frontend(struct nb_xb_dev *d)
{
	char *fe = xbdev_read(&d->xb->xc, XBT_NULL, d->x.be, "frontend");
	uint64_t fid;
	bool ok = false;

	if (!fe || xbdev_read_uint(&d->xb->xc, d->x.be, "frontend-id",
				DOMID_FIRST_RESERVED - 1, &fid) < 0)
		goto out;
	if (fid != d->x.domid || !dev_path_ok(d, fe)) {
		log_warn("%s: frontend %s (id %" PRIu64 ") is not domain %u's",
			 d->x.be, fe, fid, (unsigned)d->x.domid);
		goto out;
	}
	snprintf(d->x.fe, sizeof(d->x.fe), "%s", fe);
	ok = true;
out:
	free(fe);
	return ok;
}

/* An optional interface name node into buf ("" when absent). */
static int read_ifname(struct nb_xb_dev *d, const char *node, char *buf)
{
	char *v = xbdev_read(&d->xb->xc, XBT_NULL, d->x.be, node);
	int rc = 0;

	buf[0] = '\0';
	if (v && !nb_policy_ifname_ok(v)) {
		xbdev_fatal(&d->x, -EINVAL, "%s/%s: not an interface name", d->x.be, node);
		rc = -EINVAL;
	} else if (v) {
		snprintf(buf, IFNAMSIZ, "%s", v);
	}
	free(v);
	return rc;
}

/* rate (watched): unparsable means unlimited, as xen_net_read_rate. */
static void read_rate(struct nb_xb_dev *d)
{
	char *v = xbdev_read(&d->xb->xc, XBT_NULL, d->x.be, "rate");
	struct nb_rate r = { 0, 0 };

	if (v && nb_policy_parse_rate(v, &r) < 0)
		xbdev_warn(&d->x, "rate %.40s: not BYTES,USEC; unlimited", v);
	free(v);
	d->rate = r;
}

/* handle, mac, ip: what netback_probe and the hotplug script insist on. */
static int read_policy(struct nb_xb_dev *d)
{
	uint64_t handle;
	char *mac = NULL, *ip = NULL;
	int rc;

	rc = xbdev_read_uint(&d->xb->xc, d->x.be, "handle", UINT32_MAX, &handle);
	if (rc < 0) {
		xbdev_fatal(&d->x, rc, "reading handle");
		return rc;
	}
	mac = xbdev_read(&d->xb->xc, XBT_NULL, d->x.be, "mac");
	rc = nb_policy_parse_mac(mac, d->policy.mac);
	if (rc < 0) {
		xbdev_fatal(&d->x, rc, "parsing %s/mac", d->x.be);
		goto out;
	}
	ip = xbdev_read(&d->xb->xc, XBT_NULL, d->x.be, "ip");
	rc = nb_policy_parse_ips(ip, &d->policy);
	if (rc < 0)
		xbdev_fatal(&d->x, rc, "parsing %s/ip", d->x.be);
out:
	free(mac);
	free(ip);
	return rc;
}

/* The toolstack's nodes; 0, or -errno with the error node written. */
static int dev_read_config(struct nb_xb_dev *d)
{
	uint64_t online = 1;
	char *mtu;
	int rc;

	if ((rc = read_policy(d)) < 0 ||
	    (rc = read_ifname(d, "bridge", d->bridge)) < 0 ||
	    (rc = read_ifname(d, "vifname", d->ifname)) < 0)
		return rc;
	if (!d->ifname[0])
		snprintf(d->ifname, sizeof(d->ifname), "vif%u.%u",
			 (unsigned)d->x.domid, d->x.devid);
	memcpy(d->mac, d->policy.mac, sizeof(d->mac));
	read_rate(d);
	mtu = xbdev_read(&d->xb->xc, XBT_NULL, d->x.be, "mtu");
	snprintf(d->mtu_node, sizeof(d->mtu_node), "%s", mtu ? mtu : "");
	d->mtu = NB_MTU_DEFAULT;      /* until the frontend says whether SG */
	free(mtu);
	xbdev_read_uint(&d->xb->xc, d->x.be, "online", 1, &online);
	d->online = online != 0;
	return 0;
}

static void dev_offer(struct nb_xb_dev *d)
{
	int rc = xbdev_txn(&d->x, write_features, NULL);

	if (rc < 0)
		xbdev_warn(&d->x, "writing features: %s", strerror(-rc));
	xbdev_switch(&d->x, XenbusStateInitWait);
}

/* A backend Connected in the store (a restarted daemon): the tap re-opened
 * by name, the rings taken where the frontend left them.  A frontend on
 * its way out keeps its Connected backend (the state machine follows); a
 * frontend starting over is offered the rings anew. */
static void dev_reattach(struct nb_xb_dev *d)
{
	int fe = xbdev_fe_state(&d->x);

	d->x.state = XenbusStateConnected;
	if (fe == XenbusStateClosing || fe == XenbusStateClosed)
		return;
	if (fe != XenbusStateConnected) {
		dev_offer(d);
		return;
	}
	dev_connect(d, true);
	if (d->vif)
		xbdev_info(&d->x, "re-attached to the frontend's rings and %s", d->ifname);
}

static struct nb_xb_dev *dev_new(struct nb_xenbus *xb, domid_t domid,
				 unsigned devid)
{
	struct nb_xb_dev *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->xb = xb;
	xbdev_init(&d->x, &xb->xc, "vif", xb->o.self, xb->root, domid, devid);
	snprintf(d->token, sizeof(d->token), "fe/%u/%u", (unsigned)domid, devid);
	d->defer = event_new(xb->base, -1, 0, on_defer, d);
	if (!d->defer || !dev_read_frontend(d)) {
		if (d->defer)
			event_free(d->defer);
		free(d);
		return NULL;
	}
	snprintf(d->fe_watch, sizeof(d->fe_watch), "%s/state", d->x.fe);
	return d;
}

/* What a probe does by the backend's state in the store.  A refusal
 * (d->broken) is netback_probe failing: the frontend is not followed. */
static void dev_start(struct nb_xb_dev *d, int st)
{
	d->broken = dev_read_config(d) < 0;
	if (d->broken)
		return;
	xbdev_info(&d->x, "%s for %s", d->ifname, d->x.fe);
	if (st == XenbusStateConnected) {
		dev_reattach(d);
	} else if (st != XenbusStateClosing && st != XenbusStateClosed) {
		d->broken = dev_prepare_tap(d) < 0;
		if (!d->broken)
			dev_offer(d);
	}
}

static void dev_probe(struct nb_xenbus *xb, domid_t domid, unsigned devid)
{
	struct nb_xb_dev *d = dev_new(xb, domid, devid);
	uint64_t st = XenbusStateUnknown;

	if (!d)
		return;
	d->next = xb->devs;
	xb->devs = d;
	xbdev_read_uint(&xb->xc, d->x.be, "state", XenbusStateReconfigured, &st);
	d->x.state = (int)st;
	dev_start(d, (int)st);
	d->watching = xsconn_watch(&xb->xc, d->fe_watch, d->token);
	if (!d->watching)
		xbdev_warn(&d->x, "cannot watch %s", d->fe_watch);
}

/* The device is forgotten: its queues' journals go (a daemon stopping
 * leaves them to the next). */
static void dev_forget_journals(struct nb_xb_dev *d)
{
	if (d->xb->o.journal_dir)
		pvd_journal_forget(d->xb->o.journal_dir, d->x.domid, d->x.devid,
				   NB_MAX_QUEUES);
}

static void dev_free(struct nb_xb_dev *d, bool keep_tap)
{
	struct nb_xb_dev **pp = &d->xb->devs;

	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp)
		*pp = d->next;
	if (d->watching)
		xsconn_unwatch(&d->xb->xc, d->fe_watch, d->token);
	if (!keep_tap && xsconn_up(&d->xb->xc)) {
		xbdev_clear_error(&d->x);
	}
	dev_disconnect(d, keep_tap);
	if (!keep_tap)
		dev_forget_journals(d);
	event_free(d->defer);
	free(d);
}

/* The backend directory is gone, or the domain died. */
static void dev_gone(struct nb_xb_dev *d, const char *why)
{
	char name[IFNAMSIZ];

	xbdev_info(&d->x, "%s: %s removed", why, d->ifname);
	memcpy(name, d->ifname, sizeof(name));
	dev_free(d, false);
	/* Made at probe and kept without an fd, or left by a killed
	 * daemon: persistent either way. */
	nb_tap_remove_name(name);
}

/* Written anew by the toolstack (xbdev_written_anew): the old vif goes,
 * tap and all, and the new one is probed (with its own bridge and
 * settings).  True if so (d is then freed). */
static bool dev_renewed(struct nb_xb_dev *d)
{
	struct nb_xenbus *xb = d->xb;
	domid_t domid = d->x.domid;
	unsigned devid = d->x.devid;

	if (!xbdev_written_anew(&d->x))
		return false;
	dev_gone(d, "written anew by the toolstack");
	dev_probe(xb, domid, devid);
	return true;
}

/* ---------------------------------------------------------------- events */

static struct nb_xb_dev *dev_find(struct nb_xenbus *xb, domid_t domid,
				  unsigned devid)
{
	for (struct nb_xb_dev *d = xb->devs; d; d = d->next)
		if (d->x.domid == domid && d->x.devid == devid)
			return d;
	return NULL;
}

static void reconcile_one(void *arg, domid_t domid, unsigned devid)
{
	struct nb_xenbus *xb = arg;
	struct nb_xb_dev *d = dev_find(xb, domid, devid);

	if (!d) {
		dev_probe(xb, domid, devid);
		d = dev_find(xb, domid, devid);
	}
	if (d)
		d->seen = true;
}

/* Every device under root: new ones probed, vanished ones dropped. */
static void reconcile(struct nb_xenbus *xb)
{
	struct nb_xb_dev *d, *nx;

	for (d = xb->devs; d; d = d->next)
		d->seen = false;
	xbdev_scan(&xb->xc, xb->root, reconcile_one, xb);
	if (!xsconn_up(&xb->xc))
		return;		/* unread is not gone */
	for (d = xb->devs; d; d = nx) {
		nx = d->next;
		if (!d->seen)
			dev_gone(d, "backend directory gone");
	}
}

/* Nodes we write ourselves: their events are our own echo. */
static bool own_node(const char *node)
{
	return strncmp(node, "feature-", 8) == 0 || !strcmp(node, "state") ||
	       !strcmp(node, "multi-queue-max-queues") ||
	       !strcmp(node, "hotplug-status");
}

/* A node of a known device changed. */
static void dev_node_changed(struct nb_xb_dev *d, const char *node)
{
	uint64_t online;

	if (!*node) {
		char *v = xs_read(d->xb->xc.xs, XBT_NULL, d->x.be, &(unsigned){ 0 });

		if (!v && !xsconn_failed(&d->xb->xc, d->x.be))
			dev_gone(d, "backend directory gone");
		free(v);
	} else if (!strcmp(node, "online")) {
		if (xbdev_read_uint(&d->xb->xc, d->x.be, "online", 1, &online) == 0)
			d->online = online != 0;
	} else if (!strcmp(node, "rate")) {
		read_rate(d);
		if (d->vif)
			nb_nic_set_rate(d->vif, &d->rate);
		xbdev_info(&d->x, "rate %" PRIu64 " bytes per %" PRIu64 " us",
			 d->rate.bytes, d->rate.usec);
	}
}

static void backend_event(struct nb_xenbus *xb, const char *path)
{
	const char *node;
	domid_t domid;
	unsigned devid;
	struct nb_xb_dev *d;

	switch (xbdev_parse_event(xb->root, path, &domid, &devid, &node)) {
	case XBDEV_EV_SCAN:
		reconcile(xb);
		return;
	case XBDEV_EV_NONE:
		return;
	case XBDEV_EV_DEVICE:
		break;
	}
	if (*node && own_node(node))
		return;
	d = dev_find(xb, domid, devid);
	if (!d)
		dev_probe(xb, domid, devid);
	else if (!dev_renewed(d))
		dev_node_changed(d, node);
}

/* @releaseDomain: the vifs of dead domains go, taps and all. */
static void domains_released(struct nb_xenbus *xb)
{
	struct nb_xb_dev *d, *nx;

	for (d = xb->devs; d; d = nx) {
		nx = d->next;
		if (hv_domain_alive(xb->hv, d->x.domid) == 0)
			dev_gone(d, "domain dead");
	}
}

static void on_xs_event(void *arg, const char *path, const char *token)
{
	struct nb_xenbus *xb = arg;
	struct nb_xb_dev *d;

	if (strcmp(token, "be") == 0) {
		backend_event(xb, path);
	} else if (strcmp(token, "rel") == 0) {
		domains_released(xb);
	} else if (strncmp(token, "fe/", 3) == 0) {
		for (d = xb->devs; d; d = d->next)
			if (strcmp(d->token, token) == 0)
				break;
		if (d && !dev_renewed(d))
			dev_frontend_changed(d);
	}
}

/* Connected (again): the backend watch fires once on its own (the initial
 * scan); after a lost connection every vif is looked at now, what changed
 * while the store was away included (a vif added or removed, a frontend
 * that moved on, a domain that died). */
static void on_store_up(void *arg, bool again)
{
	struct nb_xenbus *xb = arg;
	struct nb_xb_dev *d, *nx;

	if (!xsconn_watch(&xb->xc, "@releaseDomain", "rel"))
		log_warn("cannot watch @releaseDomain: %s", strerror(errno));
	if (!xsconn_watch(&xb->xc, xb->root, "be"))
		log_err("cannot watch %s: %s", xb->root, strerror(errno));
	if (!again) {
		pvd_notify_ready();	/* serving: connected, watching */
		return;
	}
	log_info("store back: looking at every vif again");
	reconcile(xb);
	domains_released(xb);
	for (d = xb->devs; d && xsconn_up(&xb->xc); d = nx) {
		nx = d->next;
		dev_frontend_changed(d);
	}
}

static const struct xsconn_ops store_ops = {
	.up = on_store_up,
	.event = on_xs_event,
};

/* ---------------------------------------------------------------- start */

int nb_xenbus_start(struct nb_xenbus *xb, struct event_base *base,
		    struct nb_pool *pool, struct hv *hv,
		    const struct nb_xb_opts *o)
{
	int rc;

	memset(xb, 0, sizeof(*xb));
	xb->base = base;
	xb->pool = pool;
	xb->hv = hv;
	xb->o = *o;
	snprintf(xb->root, sizeof(xb->root), "/local/domain/%u/backend/vif",
		 (unsigned)o->self);
	/* Connects now or once the store is there (xsconn.h). */
	rc = xsconn_start(&xb->xc, base, &store_ops, xb);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	xsconn_stop(&xb->xc);
	return rc;
}

void nb_xenbus_stop(struct nb_xenbus *xb)
{
	if (xb->stopping || !xb->base)
		return;
	xb->stopping = true;
	while (xb->devs)
		dev_free(xb->devs, true);
	xsconn_stop(&xb->xc);
}

/* ---------------------------------------------------------------- stats */

/* Every field of struct nb_qstats, by its name. */
static json_t *queue_json(const struct nb_nic *v, unsigned i)
{
	json_t *o = json_object();
	struct nb_qstats s;

	if (!o)
		return NULL;
	nb_nic_qstats(v, i, &s);
#define F(x) json_object_set_new(o, #x, json_integer((json_int_t)s.x))
	json_object_set_new(o, "index", json_integer(i));
	F(tx_packets); F(tx_bytes); F(tx_drops); F(tx_errors);
	F(rx_packets); F(rx_bytes); F(rx_drops); F(rx_errors);
	F(tx_ring_used); F(rx_ring_used);
	F(notify_sent); F(notify_suppressed);
	F(tx_credit_stalls); F(rx_stalls); F(tx_spoof_drops);
	F(tx_gso); F(rx_gso); F(tx_frag_overflow);
	F(rx_queue_len); F(rx_queue_max);
	F(thread); F(thread_cpu_ns);
#undef F
	return o;
}

static json_t *vif_json(const struct nb_xb_dev *d)
{
	json_t *q = json_array();
	char mac[18];
	unsigned nq = d->vif ? nb_nic_nqueues(d->vif) : 0;

	nb_policy_mac_str(d->mac, mac);
	for (unsigned i = 0; q && i < nq; i++)
		json_array_append_new(q, queue_json(d->vif, i));
	return json_pack("{sI sI ss si ss ss sI sb sI sI so*}",
			 "domid", (json_int_t)d->x.domid,
			 "devid", (json_int_t)d->x.devid,
			 "name", d->ifname, "state", d->x.state, "mac", mac,
			 "bridge", d->bridge, "mtu", (json_int_t)d->mtu,
			 "carrier", d->vif ? nb_nic_carrier(d->vif) : false,
			 "rate_bytes", (json_int_t)d->rate.bytes,
			 "rate_usec", (json_int_t)d->rate.usec, "queues", q);
}

json_t *nb_xenbus_stats(struct nb_xenbus *xb)
{
	json_t *vifs = json_array();

	for (const struct nb_xb_dev *d = xb->devs; vifs && d; d = d->next)
		json_array_append_new(vifs, vif_json(d));
	return json_pack("{so* so* s{sbsIsI}}", "vifs", vifs,
			 "threads", nb_pool_json(xb->pool),
			 "store", "connected", (int)xsconn_up(&xb->xc),
			 "connects", (json_int_t)xb->xc.st.connects,
			 "losses", (json_int_t)xb->xc.st.losses);
}

void nb_xenbus_each(const struct nb_xenbus *xb, nb_xb_vif_fn *fn, void *arg)
{
	for (const struct nb_xb_dev *d = xb->devs; d; d = d->next)
		fn(arg, d->x.domid, d->x.devid, d->vif);
}

/* For STATUS= (pvd_notify): vifs, those connected, distinct guests. */
void nb_xenbus_summary(const struct nb_xenbus *xb, struct nb_xb_summary *s)
{
	static const unsigned words = DOMID_FIRST_RESERVED / 64;
	uint64_t seen[DOMID_FIRST_RESERVED / 64] = { 0 };

	memset(s, 0, sizeof(*s));
	s->store_up = xsconn_up(&xb->xc);
	s->store_losses = xb->xc.st.losses;
	for (const struct nb_xb_dev *d = xb->devs; d; d = d->next) {
		unsigned w = d->x.domid / 64;

		s->vifs++;
		if (d->x.state == XenbusStateConnected)
			s->connected++;
		if (w < words && !(seen[w] & (1ull << (d->x.domid % 64)))) {
			seen[w] |= 1ull << (d->x.domid % 64);
			s->guests++;
		}
	}
}
