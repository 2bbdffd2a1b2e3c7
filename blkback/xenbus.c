/* The xenbus side of pvd-blkback (see xenbus.h), after Linux
 * xen-blkback's xenbus.c:
 *
 *   probe: the toolstack made backend/vbd/<domid>/<devid> (frontend,
 *     frontend-id, params, mode); open the storage, write the features,
 *     go InitWait;
 *   frontend Initialised/Connected: read ring-ref(s), event-channel(s),
 *     protocol, queues; map and bind; write sectors & co and go
 *     Connected in one transaction;
 *   Closing/Closed/gone: as xbstate.c says; the rings are only unmapped
 *     once their I/O has completed, and nothing is reconnected before.
 *
 * The frontend's nodes are the guest's: every value is parsed strictly
 * and checked against our limits, and a bad one puts the device in
 * Closing with an error node (xenbus_dev_fatal) without touching others.
 * What a guest can make us say about its device goes through dev_log:
 * per device at most PVD_LOGRL_BURST lines at once, then
 * PVD_LOGRL_PER_SEC a second, and one "N messages suppressed" line when
 * it reopens (printk_ratelimited); the error node is written only with
 * its log line, so a guest writing nonsense in a loop costs a bounded
 * number of log lines and store writes.
 *
 * A restarted daemon finds devices whose backend is Connected: it maps
 * their rings again where the frontend left them (BACK_RING_ATTACH) and
 * serves them, without a state change the frontend would notice.
 *
 * The store may restart under us (common/xsconn.c): the rings are served
 * on while it is away (the data path never needs it), nothing is decided
 * from a read that failed because the connection did (a frontend is not
 * "gone" because the store is), and once it is back every watch is set
 * again and every device and frontend looked at anew (on_store_up).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <xenstore.h>
#include <xen/io/protocols.h>

#include "pvd/log.h"
#include "pvd/mapfile.h"
#include "pvd/num.h"
#include "pvd/ratelimit.h"
#include "pvd/sdnotify.h"
#include "pvd/xbdev.h"
#include "pvd/ctl.h"
#include "pvd/msgq.h"
#include "crypt.h"
#include "eng_util.h"
#include "loop.h"
#include "pool.h"
#include "spread.h"
#include "vbd.h"
#include "xbstate.h"
#include "xenbus.h"

#define PATH_LEN XBDEV_PATH_LEN
#define STOP_WAIT_MS 10000

struct blk_xb_dev {
	struct blk_xenbus *xb;
	struct blk_xb_dev *next;
	struct xbdev x;                /* domid, devid, be, fe, state, lines */
	char token[48];
	char fe_watch[PATH_LEN + 8];   /* <fe>/state */
	char *params;
	char *type;           /* the toolstack's: phy, file, ... (informative) */
	char *format;         /* "raw" (or absent) or "luks" */
	char *keyfile;        /* key-file: luks's passphrase (a path, dom0-only) */
	bool readonly, online, watching;
	bool fe_seen;         /* the frontend's state existed once */
	bool reeval;          /* look at the frontend again once drained */
	bool released;        /* storage closed for good */
	bool gone;            /* backend directory removed: free once drained */
	bool seen;            /* reconcile's mark */
	const char *storage;  /* remote storage's state, as last written */
	atomic_uint vbd_events; /* BLK_VBD_*, set on its threads, taken on main */
	struct blk_spread disk; /* its storage and queues, on the I/O threads */
};

static void on_vbd(struct blk_vbd *v, int event, void *arg);

/* ------------------------------------------------ the disk, on its threads */

/* The disk's vbd on its home thread: what the main thread reads of it
 * (features, sizes, why it failed) was written by calls that returned. */
#define dev_vbd(d) (&(d)->disk.home.vbd)

static int vbd_remote(struct blk_vbd *v, void *arg)
{
	if (!v->open || !v->disk.ops->remote)
		return 0;
	v->disk.ops->remote(v->disk.backing, arg);
	return 1;
}

static int vbd_state(struct blk_vbd *v, void *arg)
{
	*(const char **)arg = blk_vbd_state(v);
	return 0;
}

static int dev_vbd_connect(struct blk_xb_dev *d, const struct blk_vbd_conn *c)
{
	return blk_spread_connect(&d->disk, c);
}

static int dev_vbd_disconnect(struct blk_xb_dev *d)
{
	return blk_spread_disconnect(&d->disk);
}

static bool dev_vbd_busy(const struct blk_xb_dev *d)
{
	return blk_spread_busy(&d->disk);
}

static void dev_vbd_close(struct blk_xb_dev *d)
{
	blk_spread_close(&d->disk);
}

/* ---------------------------------------------------------------- store */

/* The device's store side (reads, writes, transactions, state, error
 * node, rate-limited lines) is common/xbdev.c's: pvd/xbdev.h. */
#define dev_of(xp) xbdev_container(xp, struct blk_xb_dev, x)

/* ---------------------------------------------------------------- nodes */

static unsigned phys_sector_size(const struct blk_vbd *v)
{
	unsigned pbs = v->info.pbs;

	/* sectors * 512 must be a multiple of it. */
	while (pbs > v->sector_size && (v->disk.lim.sectors << 9) % pbs)
		pbs /= 2;
	return pbs < v->sector_size ? v->sector_size : pbs;
}

static bool write_disk_info(struct xbdev *x, xs_transaction_t t, void *arg)
{
	struct blk_xb_dev *d = dev_of(x);
	const struct blk_vbd *v = dev_vbd(d);

	return xbdev_be_write(x, t, "sectors", "%" PRIu64, v->disk.lim.sectors) &&
	       xbdev_be_write(x, t, "info", "%u",
			      d->readonly ? VDISK_READONLY : 0) &&
	       xbdev_be_write(x, t, "sector-size", "%u", v->sector_size) &&
	       xbdev_be_write(x, t, "physical-sector-size", "%u",
			      phys_sector_size(v));
}

static bool write_features(struct xbdev *x, xs_transaction_t t, void *arg)
{
	struct blk_xb_dev *d = dev_of(x);
	struct blk_xenbus *xb = d->xb;
	const struct blk_xb_opts *o = &xb->o;
	bool discard = dev_vbd(d)->disk.lim.discard;
	bool ok;

	ok = xbdev_be_write(x, t, "feature-flush-cache", "%d",
			    !dev_vbd(d)->info.no_flush) &&
	     xbdev_be_write(x, t, "feature-barrier", "1") &&
	     xbdev_be_write(x, t, "feature-discard", "%d", discard) &&
	     xbdev_be_write(x, t, "feature-persistent", "%d", o->persistent) &&
	     xbdev_be_write(x, t, "max-ring-page-order", "%u",
			    o->max_ring_order) &&
	     xbdev_be_write(x, t, "multi-queue-max-queues", "%u",
			    o->max_queues) &&
	     xbdev_be_write(x, t, "hotplug-status", "connected");
	if (ok && o->max_indirect)
		ok = xbdev_be_write(x, t, "feature-max-indirect-segments",
				    "%u", o->max_indirect);
	if (ok && discard)
		ok = xbdev_be_write(x, t, "discard-granularity", "%u",
				    dev_vbd(d)->info.blockdev ? dev_vbd(d)->info.lbs : 4096u) &&
		     xbdev_be_write(x, t, "discard-alignment", "0") &&
		     xbdev_be_write(x, t, "discard-secure", "0");
	return ok && write_disk_info(x, t, arg);
}

/* Reads one ring's nodes (dir: the frontend, or its queue-N). */
static int read_ring(struct blk_xb_dev *d, const char *dir, bool multi_ref,
		     struct blk_vbd_conn *c, unsigned qi)
{
	uint64_t v;
	int rc;

	rc = xbdev_read_uint(&d->xb->xc, dir, "event-channel", UINT32_MAX, &v);
	if (rc < 0) {
		xbdev_fatal(&d->x, rc, "reading %s/event-channel", dir);
		return rc;
	}
	c->q[qi].port = (evtchn_port_t)v;
	for (unsigned i = 0; i < c->nr_pages; i++) {
		char node[24];

		if (multi_ref)
			snprintf(node, sizeof(node), "ring-ref%u", i);
		else
			snprintf(node, sizeof(node), "ring-ref");
		rc = xbdev_read_uint(&d->xb->xc, dir, node, UINT32_MAX, &v);
		if (rc < 0) {
			xbdev_fatal(&d->x, rc, "reading %s/%s", dir, node);
			return rc;
		}
		c->q[qi].refs[i] = (grant_ref_t)v;
	}
	return 0;
}

static int read_protocol(struct blk_xb_dev *d)
{
	char *p = xbdev_read(&d->xb->xc, XBT_NULL, d->x.fe, "protocol");
	int rc = 0;

	/* Absent means native.  The 32-bit layout differs from ours and is
	 * not translated: refused, like any unknown name. */
	if (p && strcmp(p, XEN_IO_PROTO_ABI_NATIVE) != 0) {
		rc = -ENOSYS;
		xbdev_fatal(&d->x, rc, "unsupported frontend protocol %.40s", p);
	}
	free(p);
	return rc;
}

/* connect_ring: everything the frontend published, checked. */
static int read_conn(struct blk_xb_dev *d, struct blk_vbd_conn *c)
{
	const struct blk_xb_opts *o = &d->xb->o;
	uint64_t nq = 1, order = 0, pers = 0;
	bool multi_ref;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = read_protocol(d)) < 0)
		return rc;
	rc = xbdev_read_uint(&d->xb->xc, d->x.fe, "multi-queue-num-queues",
			     UINT32_MAX, &nq);
	if (rc == -EINVAL || nq == 0 || nq > o->max_queues) {
		xbdev_fatal(&d->x, -ENOSYS, "guest requested %s queues, maximum %u",
			  rc == -EINVAL ? "invalid" : "bad number of", o->max_queues);
		return -ENOSYS;
	}
	rc = xbdev_read_uint(&d->xb->xc, d->x.fe, "ring-page-order", UINT32_MAX,
			     &order);
	multi_ref = rc == 0;
	if (rc == -EINVAL || order > o->max_ring_order) {
		xbdev_fatal(&d->x, -EINVAL, "requested ring page order exceeds max %u",
			  o->max_ring_order);
		return -EINVAL;
	}
	c->nqueues = (unsigned)nq;
	c->nr_pages = 1u << order;
	if (xbdev_read_uint(&d->xb->xc, d->x.fe, "feature-persistent", 1, &pers) < 0)
		pers = 0;
	c->persistent = o->persistent && pers;
	if (nq == 1)
		return read_ring(d, d->x.fe, multi_ref, c, 0);
	for (unsigned i = 0; i < nq; i++) {
		char dir[PATH_LEN + 16];

		snprintf(dir, sizeof(dir), "%s/queue-%u", d->x.fe, i);
		if ((rc = read_ring(d, dir, multi_ref, c, i)) < 0)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------- states */

static void dev_connect(struct blk_xb_dev *d, bool reattach)
{
	struct blk_vbd_conn c;
	int rc;

	if (!dev_vbd(d)->open) {
		xbdev_fatal(&d->x, -ENODEV, "no storage to connect");
		return;
	}
	if (read_conn(d, &c) < 0)
		return;
	c.journal_dir = d->xb->o.journal_dir;
	c.devid = d->x.devid;
	c.reattach = reattach;
	rc = dev_vbd_connect(d, &c);
	if (rc < 0) {
		dev_vbd_disconnect(d);
		xbdev_fatal(&d->x, rc, "mapping ring-ref port %u", c.q[0].port);
		return;
	}
	xbdev_info(&d->x, "%u queue(s) on %u I/O thread(s), %u ring page(s)%s",
		 c.nqueues, 1 + d->disk.nparts, c.nr_pages,
		 c.persistent ? ", persistent grants" : "");
	rc = xbdev_txn(&d->x, write_disk_info, NULL);
	if (rc < 0)
		xbdev_warn(&d->x, "writing disk info: %s", strerror(-rc));
	xbdev_switch(&d->x, XenbusStateConnected);
}

static void dev_release(struct blk_xb_dev *d)
{
	dev_vbd_close(d);
	d->released = true;
}

/* The device is forgotten: its queues' journals go (a daemon stopping
 * leaves them to the next). */
static void dev_forget_journals(struct blk_xb_dev *d)
{
	if (d->xb->o.journal_dir)
		pvd_journal_forget(d->xb->o.journal_dir, d->x.domid, d->x.devid,
				   BLK_MAX_QUEUES);
}

static void dev_free(struct blk_xb_dev *d)
{
	struct blk_xb_dev **pp = &d->xb->devs;

	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp)
		*pp = d->next;
	if (d->watching)
		xsconn_unwatch(&d->xb->xc, d->fe_watch, d->token);
	if (!d->xb->stopping && xsconn_up(&d->xb->xc))
		xbdev_clear_error(&d->x);
	if (!d->xb->stopping)
		dev_forget_journals(d);
	dev_vbd_close(d);
	free(d->params);
	free(d->type);
	free(d->format);
	free(d->keyfile);
	free(d);
}

static void dev_frontend_changed(struct blk_xb_dev *d)
{
	unsigned act;
	int fe;

	if (d->released || d->gone || d->xb->stopping)
		return;
	if (dev_vbd_busy(d) || !xsconn_up(&d->xb->xc)) {
		d->reeval = true;	/* once drained, or the store back */
		return;
	}
	fe = xbdev_fe_state(&d->x);
	if (!xsconn_up(&d->xb->xc)) {
		d->reeval = true;	/* the read failed with the store */
		return;
	}
	/* Not written yet; unless the toolstack is taking the device away
	 * (online=0) and the frontend went before we ever saw it. */
	if (fe == XenbusStateUnknown && !d->fe_seen && d->online)
		return;
	d->fe_seen = true;
	act = xb_frontend_changed((enum xenbus_state)d->x.state, fe, d->online);
	xbdev_debug(&d->x, "frontend %s, backend %s: actions 0x%x",
		  xbdev_state_name(fe), xbdev_state_name(d->x.state), act);
	if (act & XB_FATAL) {
		xbdev_fatal(&d->x, -EINVAL, "saw state %d at frontend", fe);
		return;
	}
	if (act & XB_INITWAIT)
		xbdev_switch(&d->x, XenbusStateInitWait);
	if ((act & XB_DISCONNECT) && dev_vbd_disconnect(d) == -EBUSY) {
		d->reeval = true;     /* the rest once I/O has drained */
		return;
	}
	if (act & XB_CONNECT)
		dev_connect(d, false);
	if (act & XB_CLOSING)
		xbdev_switch(&d->x, XenbusStateClosing);
	if (act & XB_CLOSED)
		xbdev_switch(&d->x, XenbusStateClosed);
	if (act & XB_REMOVE)
		dev_release(d);
}

static void dev_vbd_event(struct blk_xb_dev *d, int event)
{
	if (event == BLK_VBD_FATAL) {
		if (!d->gone && !d->xb->stopping)
			xbdev_fatal(&d->x, -EIO, "frontend broke the ring protocol");
		return;
	}
	/* One part drained; another thread's may still be draining. */
	if (dev_vbd_busy(d))
		return;
	if (d->gone) {
		dev_free(d);
		return;
	}
	if (d->reeval) {
		d->reeval = false;
		dev_frontend_changed(d);
	}
}

/* On the main thread: the events the I/O threads noted.  A handler may
 * free devices, so the scan starts over after each. */
static void on_vbd_main(void *arg, void *payload)
{
	struct blk_xenbus *xb = arg;
	bool again = true;

	while (again) {
		again = false;
		for (struct blk_xb_dev *d = xb->devs; d; d = d->next) {
			unsigned ev = atomic_exchange(&d->vbd_events, 0);

			if (!ev)
				continue;
			if (ev & BLK_VBD_FATAL)
				dev_vbd_event(d, BLK_VBD_FATAL);
			/* d may be gone after a drained event. */
			if (ev & BLK_VBD_DRAINED)
				dev_vbd_event(d, BLK_VBD_DRAINED);
			again = true;
			break;
		}
	}
	blk_pool_run_main(xb->pool);
}

/* On the disk's I/O thread, from its loop's report: noted in d (which
 * the main thread frees only once drained and closed on this thread),
 * handled on the main thread. */
static void on_vbd(struct blk_vbd *v, int event, void *arg)
{
	struct blk_xb_dev *d = arg;
	int rc;

	atomic_fetch_or(&d->vbd_events, (unsigned)event);
	rc = pvd_msgq_post(d->xb->pool->mainq, on_vbd_main, d->xb, NULL, 0);
	if (rc < 0)
		log_err("%s: cannot tell the main thread: %s", d->x.be, strerror(-rc));
}

/* ---------------------------------------------------------------- probe */

static bool dev_path_ok(const struct blk_xb_dev *d, const char *fe)
{
	char prefix[48];
	int n = snprintf(prefix, sizeof(prefix), "/local/domain/%u/",
			 (unsigned)d->x.domid);

	return strncmp(fe, prefix, (size_t)n) == 0 && strlen(fe) < PATH_LEN &&
	       !strstr(fe, "//") && !strstr(fe, "/..");
}

/* Reads what the toolstack wrote; false if it is not all there yet. */
static bool dev_read_config(struct blk_xb_dev *d)
{
	struct blk_xenbus *xb = d->xb;
	char *fe = xbdev_read(&xb->xc, XBT_NULL, d->x.be, "frontend");
	char *mode = xbdev_read(&xb->xc, XBT_NULL, d->x.be, "mode");
	uint64_t fid, online = 1;
	bool ok = false;

	d->params = xbdev_read(&xb->xc, XBT_NULL, d->x.be, "params");
	d->type = xbdev_read(&xb->xc, XBT_NULL, d->x.be, "type");
	d->format = xbdev_read(&xb->xc, XBT_NULL, d->x.be, "format");
	d->keyfile = xbdev_read(&xb->xc, XBT_NULL, d->x.be, "key-file");
	if (!fe || !mode || !d->params || !*d->params ||
	    xbdev_read_uint(&xb->xc, d->x.be, "frontend-id",
			    DOMID_FIRST_RESERVED - 1, &fid) < 0)
		goto out;
	if (fid != d->x.domid || !dev_path_ok(d, fe)) {
		log_warn("%s: frontend %s (id %" PRIu64 ") is not domain %u's",
			 d->x.be, fe, fid, (unsigned)d->x.domid);
		goto out;
	}
	snprintf(d->x.fe, sizeof(d->x.fe), "%s", fe);
	/* As xen-blkback: read-only unless the mode has a 'w'. */
	d->readonly = !strchr(mode, 'w');
	xbdev_read_uint(&xb->xc, d->x.be, "online", 1, &online);
	d->online = online != 0;
	ok = true;
out:
	free(fe);
	free(mode);
	return ok;
}

static const char *blk_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

/* The format node (pvd's: libxl writes none for phy and file disks):
 * raw, or luks with its key-file node. */
static int dev_format(struct blk_xb_dev *d, const char **keyfile)
{
	const char *f = d->format;

	*keyfile = NULL;
	if (!f || !*f || strcmp(f, "raw") == 0)
		return 0;
	if (strcmp(f, "luks") != 0) {
		xbdev_fatal(&d->x, -EOPNOTSUPP,
			    "format '%.32s' is not supported (raw or luks)", f);
		return -EOPNOTSUPP;
	}
	if (!d->keyfile || d->keyfile[0] != '/') {
		xbdev_fatal(&d->x, -EINVAL,
			    "format luks needs a key-file node with an absolute path");
		return -EINVAL;
	}
	*keyfile = d->keyfile;
	return 0;
}

static void dev_open_storage(struct blk_xb_dev *d)
{
	const struct blk_xb_opts *o = &d->xb->o;
	struct blk_vbd_cfg cfg = {
		.max_indirect = o->max_indirect,
		.max_pgrants = o->max_pgrants,
		.discard = true,
	};
	uint64_t de = 1;
	int rc;

	if (xbdev_read_uint(&d->xb->xc, d->x.be, "discard-enable", 1, &de) == 0)
		cfg.discard = de != 0;
	rc = dev_format(d, &cfg.keyfile);
	if (rc < 0)
		return;
	rc = blk_spread_open(&d->disk, d->xb->pool, d->x.domid, d->xb->o.ops,
			     d->params, d->readonly, &cfg, on_vbd, d);
	/* The LUKS layer's line, short enough for pvctl's one line: the
	 * image's name and the cause. */
	if (rc < 0 && dev_vbd(d)->why[0])
		xbdev_fatal(&d->x, rc, "%s: %s", blk_basename(d->params), dev_vbd(d)->why);
	else if (rc < 0)
		xbdev_fatal(&d->x, rc, "opening %s", d->params);
}

static void dev_offer(struct blk_xb_dev *d)
{
	int rc = xbdev_txn(&d->x, write_features, NULL);

	if (rc < 0)
		xbdev_warn(&d->x, "writing features: %s", strerror(-rc));
	xbdev_switch(&d->x, XenbusStateInitWait);
}

/* A backend Connected in the store (a restarted daemon): map the rings
 * again where the frontend left them.  A frontend on its way out keeps
 * its Connected backend (the state machine takes it from there); one that
 * starts again is offered the rings anew. */
static void dev_reattach(struct blk_xb_dev *d)
{
	int fe = xbdev_fe_state(&d->x);

	d->x.state = XenbusStateConnected;
	if (fe == XenbusStateClosing || fe == XenbusStateClosed)
		return;
	d->x.state = XenbusStateInitWait;   /* not connected until mapped */
	if (fe != XenbusStateInitialised && fe != XenbusStateConnected) {
		d->x.state = XenbusStateConnected;
		dev_offer(d);
		return;
	}
	dev_connect(d, true);
	if (d->x.state == XenbusStateConnected)
		xbdev_info(&d->x, "re-attached to the frontend's rings");
}

static void dev_probe(struct blk_xenbus *xb, domid_t domid, unsigned devid)
{
	struct blk_xb_dev *d = calloc(1, sizeof(*d));
	uint64_t st = XenbusStateUnknown;

	if (!d)
		return;
	d->xb = xb;
	xbdev_init(&d->x, &xb->xc, "vbd", xb->o.self, xb->root, domid, devid);
	if (!dev_read_config(d)) {
		free(d->params);
		free(d->type);
		free(d->format);
		free(d->keyfile);
		free(d);
		return;
	}
	d->next = xb->devs;
	xb->devs = d;
	xbdev_read_uint(&xb->xc, d->x.be, "state", XenbusStateReconfigured, &st);
	d->x.state = (int)st;
	xbdev_info(&d->x, "%s (type %s, mode %s) for %s", d->params,
		 d->type ? d->type : "-", d->readonly ? "r" : "w", d->x.fe);
	dev_open_storage(d);
	if (dev_vbd(d)->open && st == XenbusStateConnected) {
		dev_reattach(d);
	} else if (dev_vbd(d)->open && st != XenbusStateClosing &&
		   st != XenbusStateClosed) {
		dev_offer(d);
	}
	snprintf(d->token, sizeof(d->token), "fe/%u/%u", (unsigned)domid, devid);
	snprintf(d->fe_watch, sizeof(d->fe_watch), "%s/state", d->x.fe);
	d->watching = xsconn_watch(&xb->xc, d->fe_watch, d->token);
	if (!d->watching)
		xbdev_warn(&d->x, "cannot watch %s", d->fe_watch);
}

/* The backend directory is gone: drop the device (once drained). */
static void dev_gone(struct blk_xb_dev *d)
{
	xbdev_info(&d->x, "removed");
	d->gone = true;
	/* Now, not once drained: a device written anew at the same path
	 * watches the same node with the same token. */
	if (d->watching)
		xsconn_unwatch(&d->xb->xc, d->fe_watch, d->token);
	d->watching = false;
	if (dev_vbd_disconnect(d) == 0)
		dev_free(d);
}

/* Written anew by the toolstack (xbdev_written_anew): the old device
 * goes, the new one is probed.  True if so (d is then gone). */
static bool dev_renewed(struct blk_xb_dev *d)
{
	struct blk_xenbus *xb = d->xb;
	domid_t domid = d->x.domid;
	unsigned devid = d->x.devid;

	if (!xbdev_written_anew(&d->x))
		return false;
	xbdev_info(&d->x, "written anew by the toolstack");
	dev_gone(d);
	dev_probe(xb, domid, devid);
	return true;
}

/* ---------------------------------------------------------------- events */

static struct blk_xb_dev *dev_find(struct blk_xenbus *xb, domid_t domid,
				   unsigned devid)
{
	struct blk_xb_dev *d;

	for (d = xb->devs; d; d = d->next)
		if (d->x.domid == domid && d->x.devid == devid && !d->gone)
			return d;
	return NULL;
}

static void reconcile_one(void *arg, domid_t domid, unsigned devid)
{
	struct blk_xenbus *xb = arg;
	struct blk_xb_dev *d = dev_find(xb, domid, devid);

	if (!d) {
		dev_probe(xb, domid, devid);
		d = dev_find(xb, domid, devid);
	}
	if (d)
		d->seen = true;
}

/* Every device under root, probing new ones and dropping vanished ones. */
static void reconcile(struct blk_xenbus *xb)
{
	struct blk_xb_dev *d, *nx;

	for (d = xb->devs; d; d = d->next)
		d->seen = false;
	xbdev_scan(&xb->xc, xb->root, reconcile_one, xb);
	if (!xsconn_up(&xb->xc))
		return;		/* unread is not gone */
	for (d = xb->devs; d; d = nx) {
		nx = d->next;
		if (!d->seen && !d->gone)
			dev_gone(d);
	}
}

/* Nodes we write ourselves: their events are our own echo. */
static bool own_node(const char *node)
{
	static const char *const own[] = {
		"state", "sectors", "info", "sector-size", "physical-sector-size",
		"max-ring-page-order", "multi-queue-max-queues", "hotplug-status",
		"discard-granularity", "discard-alignment", "discard-secure",
	};

	if (strncmp(node, "feature-", 8) == 0)
		return true;
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strcmp(node, own[i]) == 0)
			return true;
	return false;
}

static void backend_event(struct blk_xenbus *xb, const char *path)
{
	const char *node;
	domid_t domid;
	unsigned devid;
	uint64_t online;
	struct blk_xb_dev *d;

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
	if (!d) {
		dev_probe(xb, domid, devid);
		return;
	}
	if (dev_renewed(d))
		return;
	if (!*node) {
		char *v = xs_read(xb->xc.xs, XBT_NULL, d->x.be, &(unsigned){ 0 });

		if (!v && !xsconn_failed(&xb->xc, d->x.be))
			dev_gone(d);
		free(v);
	} else if (strcmp(node, "online") == 0 &&
		   xbdev_read_uint(&xb->xc, d->x.be, "online", 1, &online) == 0) {
		bool was = d->online;

		d->online = online != 0;
		/* libxl's remove: online=0 (and state Closing) written with
		 * the frontend directory removed, in one transaction when
		 * forced (xl destroy); a frontend already Closed or gone
		 * lets the device close now. */
		if (was && !d->online)
			dev_frontend_changed(d);
	}
}

static void on_xs_event(void *arg, const char *path, const char *token)
{
	struct blk_xenbus *xb = arg;
	struct blk_xb_dev *d;

	if (strcmp(token, "be") == 0) {
		backend_event(xb, path);
	} else if (strncmp(token, "fe/", 3) == 0) {
		for (d = xb->devs; d; d = d->next)
			if (!d->gone && strcmp(d->token, token) == 0)
				break;
		if (d && !dev_renewed(d))
			dev_frontend_changed(d);
	}
}

static void on_xs_batch_end(void *arg)
{
	struct blk_xenbus *xb = arg;

	/* Store work may have started or stopped queues. */
	blk_pool_run_main(xb->pool);
}

/* Connected (again): the backend watch fires once on its own; after a
 * lost connection every device is looked at now, what changed while the
 * store was away included (a device added or removed, a frontend that
 * moved on). */
static void on_store_up(void *arg, bool again)
{
	struct blk_xenbus *xb = arg;
	struct blk_xb_dev *d, *nx;

	if (!xsconn_watch(&xb->xc, xb->root, "be"))
		log_err("cannot watch %s: %s", xb->root, strerror(errno));
	if (!again) {
		pvd_notify_ready();	/* serving: connected, watching */
		return;
	}
	reconcile(xb);
	for (d = xb->devs; d && xsconn_up(&xb->xc); d = nx) {
		nx = d->next;
		d->reeval = false;
		dev_frontend_changed(d);
	}
	blk_pool_run_main(xb->pool);
}

static const struct xsconn_ops store_ops = {
	.up = on_store_up,
	.event = on_xs_event,
	.batch_end = on_xs_batch_end,
};

static bool write_resized(struct xbdev *x, xs_transaction_t t, void *arg)
{
	struct blk_xb_dev *d = dev_of(x);
	/* The frontend re-reads sectors when it sees state written. */
	return xbdev_be_write(&d->x, t, "sectors", "%" PRIu64,
			dev_vbd(d)->disk.lim.sectors) &&
	       xbdev_be_write(&d->x, t, "state", "%d", d->x.state);
}

static bool write_storage(struct xbdev *x, xs_transaction_t t, void *arg)
{
	struct blk_xb_dev *d = dev_of(x);
	return xbdev_be_write(&d->x, t, "storage-state", "%s",
			      (const char *)arg);
}

/* A remote disk's state (nbd or rbd: backend.h's remote op) in the backend's
 * storage-state node, for pvctl block-list: written when it changes. */
static void dev_note_storage(struct blk_xb_dev *d)
{
	const char *st = "closed";

	if (d->gone || !dev_vbd(d)->open || !dev_vbd(d)->disk.ops->remote)
		return;
	blk_spread_home(&d->disk, vbd_state, &st);
	if (d->storage && strcmp(d->storage, st) == 0)
		return;
	if (xbdev_txn(&d->x, write_storage, (void *)st) == 0) {
		xbdev_info(&d->x, "storage %s", st);
		d->storage = st;
	}
}

static void on_resize_timer(evutil_socket_t fd, short what, void *arg)
{
	struct blk_xenbus *xb = arg;

	if (!xsconn_up(&xb->xc))
		return;		/* sizes are written once it is back */
	for (struct blk_xb_dev *d = xb->devs; d; d = d->next) {
		int rc;

		dev_note_storage(d);

		if (d->gone || d->x.state != XenbusStateConnected ||
		    blk_spread_resize(&d->disk) <= 0)
			continue;
		rc = xbdev_txn(&d->x, write_resized, NULL);
		if (rc < 0)
			xbdev_warn(&d->x, "writing the new size: %s", strerror(-rc));
	}
}

/* ---------------------------------------------------------------- start */

int blk_xenbus_start(struct blk_xenbus *xb, struct event_base *base,
		     struct blk_pool *pool, const struct blk_xb_opts *o)
{
	int rc;

	memset(xb, 0, sizeof(*xb));
	xb->base = base;
	xb->pool = pool;
	xb->o = *o;
	snprintf(xb->root, sizeof(xb->root), "/local/domain/%u/backend/vbd",
		 (unsigned)o->self);
	if (o->resize_ms) {
		struct timeval tv = { o->resize_ms / 1000, o->resize_ms % 1000 * 1000 };

		xb->resize_ev = event_new(base, -1, EV_PERSIST, on_resize_timer, xb);
		if (!xb->resize_ev || event_add(xb->resize_ev, &tv) < 0) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	/* Connects now or once the store is there; the backend watch (set
	 * in on_store_up) fires once at once: the initial scan. */
	rc = xsconn_start(&xb->xc, base, &store_ops, xb);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	if (xb->resize_ev)
		event_free(xb->resize_ev);
	xb->resize_ev = NULL;
	xsconn_stop(&xb->xc);
	return rc;
}

void blk_xenbus_stop(struct blk_xenbus *xb)
{
	struct blk_xb_dev *d, *nx;
	uint64_t end = hv_now_ns() + (uint64_t)STOP_WAIT_MS * 1000000u;

	if (!xb->xc.base)
		return;
	xb->stopping = true;
	if (xb->resize_ev)
		event_free(xb->resize_ev);
	xb->resize_ev = NULL;
	for (d = xb->devs; d; d = d->next) {
		d->gone = true;
		dev_vbd_disconnect(d);
	}
	/* I/O in flight writes into guest pages: wait for it. */
	for (;;) {
		bool busy = false;

		for (d = xb->devs; d; d = d->next)
			busy |= dev_vbd_busy(d);
		if (!busy || hv_now_ns() > end)
			break;
		/* Completions wake the loop; the timeout bounds each turn. */
		event_base_loopexit(xb->base, &(struct timeval){ 0, 100000 });
		event_base_loop(xb->base, EVLOOP_ONCE);
		blk_pool_run_main(xb->pool);
	}
	for (d = xb->devs; d; d = nx) {
		nx = d->next;
		if (dev_vbd_busy(d))
			log_err("%s: I/O still in flight after %u ms", d->x.be,
				STOP_WAIT_MS);
		else
			dev_free(d);
	}
	xsconn_stop(&xb->xc);
}

/* ---------------------------------------------------------------- stats */

/* The "stats" answer, built with jansson (pvd_ctl_put_json: one line,
 * json_dumps's escaping; members in the order they are set, which jansson
 * keeps).  The shape is stable: docs/architecture.md "Control sockets". */
static json_t *queue_json(const struct blk_queue *q)
{
	/* The guest's producer, read once. */
	unsigned pending = (unsigned)(q->ring.sring->req_prod - q->ring.req_cons);
	const struct blk_thread *t = container_of(q->loop, struct blk_thread, loop);
	json_t *o = json_pack("{sI sI so sI sI sI sI sb}", "index", (json_int_t)q->index,
			      "thread", (json_int_t)t->index,
			      "thread_cpu_ns", blk_json_u64(blk_thread_cpu_ns(t)),
			      "ring_pages", (json_int_t)q->nr_pages,
			      "ring_size", (json_int_t)q->nslots,
			      "inflight", (json_int_t)q->inflight,
			      "unconsumed", (json_int_t)(pending <= q->nslots ? pending : q->nslots),
			      "halted", (int)q->halted);

	if (o && blk_stats_json(o, &q->st) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* What an encrypted disk is (never its key). */
static json_t *crypt_json(const struct blk_vbd *v)
{
	struct blk_crypt_desc c;
	char fmt[8];

	blk_crypt_describe(v->disk.backing, &c);
	snprintf(fmt, sizeof(fmt), "luks%d", c.version);
	return json_pack("{ss ss sI sI sI sb so}", "format", fmt,
			 "cipher", c.cipher, "key_bits", (json_int_t)c.key_bits,
			 "sector_size", (json_int_t)c.sector_size,
			 "payload_offset", (json_int_t)c.payload_offset,
			 "discard", (int)c.discard,
			 "bounce_waits", blk_json_u64(c.bounce_waits));
}

/* A remote disk's connection (nbd): "remote": {"state": ...}. */
static int remote_json(json_t *o, const struct blk_vbd *v)
{
	struct blk_remote_state r;

	if (!v->open || !v->disk.ops->remote)
		return 0;
	v->disk.ops->remote(v->disk.backing, &r);
	return json_object_set_new(o, "remote", json_pack("{ss so so so sI}",
		"state", r.state, "losses", blk_json_u64(r.losses),
		"reconnects", blk_json_u64(r.reconnects),
		"retried", blk_json_u64(r.retried),
		"queued", (json_int_t)r.queued));
}

/* What the parts give a device's entry: their queues' objects (by
 * index), requests in flight and counters. */
struct parts_json {
	json_t *q[BLK_MAX_QUEUES];
	unsigned inflight;
	struct blk_qstats sum;
};

/* On a part's thread. */
static int part_json(struct blk_vbd *v, void *arg)
{
	struct parts_json *pj = arg;
	struct blk_qstats st;

	for (unsigned i = 0; i < v->nqueues; i++) {
		if (!v->q[i])
			continue;
		pj->inflight += v->q[i]->inflight;
		if (!(pj->q[i] = queue_json(v->q[i])))
			return -ENOMEM;
	}
	blk_vbd_stats(v, &st);
	blk_stats_add(&pj->sum, &st);
	return 0;
}

/* On the home thread: what only it has. */
static int home_json(struct blk_vbd *v, void *arg)
{
	json_t *o = arg;

	if (remote_json(o, v) < 0)
		return -ENOMEM;
	if (v->open && v->encrypted &&
	    json_object_set_new(o, "encryption", crypt_json(v)) < 0)
		return -ENOMEM;
	return 0;
}

static json_t *dev_json(const struct blk_xb_dev *d)
{
	const struct blk_vbd *v = dev_vbd(d);
	struct parts_json pj = { .sum = d->disk.closed };
	json_t *o = NULL, *qs = json_array();
	int rc = !qs || blk_spread_each(&d->disk, part_json, &pj) < 0;

	if (!rc)
		o = json_pack("{sI sI si ss sb so so ss so sb sI sI}",
		      "domid", (json_int_t)d->x.domid, "devid", (json_int_t)d->x.devid,
		      "state", d->x.state, "state_name", xbdev_state_name(d->x.state),
		      "watching", (int)d->watching, "params", blk_json_str(d->params),
		      "type", blk_json_str(d->type ? d->type : ""),
		      "backend", v->open ? v->engine->name : "none",
		      "sectors", blk_json_u64(v->disk.lim.sectors),
		      "readonly", (int)d->readonly, "queues", (json_int_t)v->nqueues,
		      "inflight", (json_int_t)pj.inflight);
	rc = rc || !o || blk_stats_json(o, &pj.sum) < 0 ||
	     blk_spread_home(&d->disk, home_json, o) < 0;
	for (unsigned i = 0; !rc && i < v->nqueues; i++)
		if (pj.q[i]) {
			rc = json_array_append_new(qs, pj.q[i]);
			pj.q[i] = NULL;
		}
	if (!rc)
		rc = json_object_set(o, "queue", qs);
	for (unsigned i = 0; i < BLK_MAX_QUEUES; i++)
		json_decref(pj.q[i]);
	json_decref(qs);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* "threads": what each I/O thread serves and its CPU time; sum: the
 * loops' counters together (the "loop" object, as before threads). */
static json_t *threads_json(struct blk_pool *p, struct blk_thread_stats *sum)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < p->nthr; i++) {
		struct blk_thread_stats s;

		if (blk_pool_thread_stats(p, i, &s) < 0)
			continue;
		sum->rounds += s.rounds;
		sum->spins_won += s.spins_won;
		sum->sleeps += s.sleeps;
		sum->slices += s.slices;
		json_array_append_new(a, json_pack("{sI sI so so so so so}",
			"index", (json_int_t)s.index, "rings", (json_int_t)s.rings,
			"cpu_ns", blk_json_u64(s.cpu_ns),
			"rounds", blk_json_u64(s.rounds),
			"spins_won", blk_json_u64(s.spins_won),
			"sleeps", blk_json_u64(s.sleeps),
			"slices", blk_json_u64(s.slices)));
	}
	return a;
}

void blk_xenbus_stats_json(struct blk_xenbus *xb, struct evbuffer *out)
{
	json_t *devs = json_array();
	int rc = !devs;

	for (struct blk_xb_dev *d = xb->devs; !rc && d; d = d->next) {
		/* Its queues' counters are their threads': read there. */
		rc = json_array_append_new(devs, dev_json(d));
	}
	if (rc) {
		json_decref(devs);
		pvd_ctl_put_json(out, NULL);
		return;
	}
	struct blk_thread_stats sum = { 0 };
	json_t *thr = threads_json(xb->pool, &sum);

	pvd_ctl_put_json(out, json_pack("{ss sI s{sosososo} so so s{sbsoso}}",
		"engine", xb->o.ops->name,
		"io_threads", (json_int_t)xb->pool->n,
		"loop", "rounds", blk_json_u64(sum.rounds),
		"spins_won", blk_json_u64(sum.spins_won),
		"sleeps", blk_json_u64(sum.sleeps),
		"slices", blk_json_u64(sum.slices),
		"threads", thr ? thr : json_array(),
		"devices", devs,
		"store", "connected", (int)xsconn_up(&xb->xc),
		"connects", blk_json_u64(xb->xc.st.connects),
		"losses", blk_json_u64(xb->xc.st.losses)));
}

void blk_xenbus_each(const struct blk_xenbus *xb, blk_xb_dev_fn *fn, void *arg)
{
	for (const struct blk_xb_dev *d = xb->devs; d; d = d->next) {
		struct blk_qstats sum;

		blk_spread_stats(&d->disk, &sum);
		fn(arg, d->x.domid, d->x.devid, &sum);
	}
}

void blk_xenbus_each_remote(const struct blk_xenbus *xb, blk_xb_remote_fn *fn,
			    void *arg)
{
	for (const struct blk_xb_dev *d = xb->devs; d; d = d->next) {
		struct blk_remote_state r;

		if (blk_spread_home(&d->disk, vbd_remote, &r) <= 0)
			continue;
		fn(arg, d->x.domid, d->x.devid, &r);
	}
}

/* For STATUS= (pvd_notify): devices, those connected, distinct guests,
 * answers other than OKAY. */
void blk_xenbus_summary(const struct blk_xenbus *xb, struct blk_xb_summary *s)
{
	static const unsigned words = DOMID_FIRST_RESERVED / 64;
	uint64_t seen[DOMID_FIRST_RESERVED / 64] = { 0 };

	memset(s, 0, sizeof(*s));
	s->store_up = xsconn_up(&xb->xc);
	s->store_losses = xb->xc.st.losses;
	for (const struct blk_xb_dev *d = xb->devs; d; d = d->next) {
		struct blk_qstats sum;
		unsigned w = d->x.domid / 64;

		s->devices++;
		if (d->x.state == XenbusStateConnected)
			s->connected++;
		if (w < words && !(seen[w] & (1ull << (d->x.domid % 64)))) {
			seen[w] |= 1ull << (d->x.domid % 64);
			s->guests++;
		}
		blk_spread_stats(&d->disk, &sum);
		s->errors += sum.err_bad_req + sum.err_grant + sum.err_io +
			     sum.err_dup_id;
	}
}
