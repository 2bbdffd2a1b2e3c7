/* A backend device's store side (see pvd/xbdev.h), after Linux's
 * xenbus_client.c: xenbus_switch_state, xenbus_dev_fatal (its error node
 * under error/backend/<kind>/<domid>/<devid>), and the transactions its
 * backends write their nodes in.  The "written anew" check is ours: Linux's
 * backends learn of a removed directory from xenbus's device model, which
 * unbinds the old device before a new one is probed; a user-space backend
 * sees only watch events, possibly after the toolstack has already
 * written the directory again, so every write checks it first, in the
 * same transaction. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvd/num.h"
#include "pvd/ring_util.h"
#include "pvd/xbdev.h"

#define TXN_RETRIES 16

void xbdev_init(struct xbdev *x, struct xsconn *xc, const char *kind,
		unsigned self, const char *root, unsigned domid, unsigned devid)
{
	x->xc = xc;
	x->kind = kind;
	x->self = self;
	x->domid = domid;
	x->devid = devid;
	x->state = XenbusStateUnknown;
	snprintf(x->be, sizeof(x->be), "%s/%u/%u", root, domid, devid);
	pvd_logrl_init(&x->lrl, hv_now_ns());
}

/* Where xenbus_dev_error writes: error/backend/<kind>/<domid>/<devid>. */
static void error_dir(const struct xbdev *x, char *buf, size_t len)
{
	snprintf(buf, len, "/local/domain/%u/error/backend/%s/%u/%u",
		 x->self, x->kind, x->domid, x->devid);
}

void xbdev_clear_error(struct xbdev *x)
{
	char path[XBDEV_PATH_LEN];

	error_dir(x, path, sizeof(path));
	xs_rm(x->xc->xs, XBT_NULL, path);
}

const char *xbdev_state_name(int state)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised",
		"Connected", "Closing", "Closed", "Reconfiguring", "Reconfigured",
	};

	if (state < 0 || state >= (int)(sizeof(names) / sizeof(names[0])))
		return "invalid";
	return names[state];
}

/* ---------------------------------------------------------------- store */

char *xbdev_read(struct xsconn *xc, xs_transaction_t t, const char *dir,
		 const char *node)
{
	char path[XBDEV_PATH_LEN * 2];
	unsigned len;
	char *v;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	v = xs_read(xc->xs, t, path, &len);
	if (!v && errno != ENOENT)
		xsconn_failed(xc, path);
	return v;
}

char **xbdev_dir(struct xsconn *xc, const char *path, unsigned *n)
{
	char **v = xs_directory(xc->xs, XBT_NULL, path, n);

	if (!v && errno != ENOENT)
		xsconn_failed(xc, path);
	return v;
}

static bool parse_id(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	char buf[16];

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return pvd_parse_uint(buf, max, out) == 0;
}

void xbdev_scan(struct xsconn *xc, const char *root, xbdev_scan_fn *fn,
		void *arg)
{
	unsigned nd = 0;
	char **doms = xbdev_dir(xc, root, &nd);

	for (unsigned i = 0; doms && i < nd; i++) {
		char path[XBDEV_PATH_LEN];
		unsigned nv = 0;
		char **devs;
		uint64_t domid, devid;

		if (!parse_id(doms[i], strlen(doms[i]), DOMID_FIRST_RESERVED - 1,
			      &domid) ||
		    snprintf(path, sizeof(path), "%s/%s", root, doms[i]) >=
		    (int)sizeof(path))
			continue;
		devs = xbdev_dir(xc, path, &nv);
		for (unsigned j = 0; devs && j < nv; j++)
			if (parse_id(devs[j], strlen(devs[j]), UINT32_MAX, &devid))
				fn(arg, (domid_t)domid, (unsigned)devid);
		free(devs);
	}
	free(doms);
}

enum xbdev_event xbdev_parse_event(const char *root, const char *path,
				   domid_t *domid, unsigned *devid,
				   const char **node)
{
	size_t rl = strlen(root), dl, vl;
	const char *dom, *dev;
	uint64_t d, v;

	if (strncmp(path, root, rl) != 0 || (path[rl] && path[rl] != '/'))
		return XBDEV_EV_NONE;
	dom = path + rl;
	while (*dom == '/')
		dom++;
	dl = strcspn(dom, "/");
	dev = dom + dl;
	while (*dev == '/')
		dev++;
	vl = strcspn(dev, "/");
	if (!dl || !vl)
		return XBDEV_EV_SCAN;
	if (!parse_id(dom, dl, DOMID_FIRST_RESERVED - 1, &d) ||
	    !parse_id(dev, vl, UINT32_MAX, &v))
		return XBDEV_EV_NONE;
	*node = dev + vl;
	while (**node == '/')
		(*node)++;
	*domid = (domid_t)d;
	*devid = (unsigned)v;
	return XBDEV_EV_DEVICE;
}

int xbdev_read_uint(struct xsconn *xc, const char *dir, const char *node,
		    uint64_t max, uint64_t *out)
{
	char *v = xbdev_read(xc, XBT_NULL, dir, node);
	int rc;

	if (!v)
		return -ENOENT;
	rc = pvd_parse_uint(v, max, out);
	free(v);
	return rc;
}

static bool vwrite(struct xsconn *xc, xs_transaction_t t, const char *dir,
		   const char *node, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static bool vwrite(struct xsconn *xc, xs_transaction_t t, const char *dir,
		   const char *node, const char *fmt, va_list ap)
{
	char path[XBDEV_PATH_LEN * 2], val[128];
	int n = vsnprintf(val, sizeof(val), fmt, ap);

	if (n < 0 || (size_t)n >= sizeof(val))
		return false;
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	return xs_write(xc->xs, t, path, val, (unsigned)n);
}

bool xbdev_write(struct xsconn *xc, xs_transaction_t t, const char *dir,
		 const char *node, const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = vwrite(xc, t, dir, node, fmt, ap);
	va_end(ap);
	return ok;
}

bool xbdev_be_write(struct xbdev *x, xs_transaction_t t, const char *node,
		    const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = vwrite(x->xc, t, x->be, node, fmt, ap);
	va_end(ap);
	return ok;
}

/* ---------------------------------------------------------------- log */

bool xbdev_log_pass(struct xbdev *x, const char *func)
{
	uint64_t dropped;

	if (!pvd_logrl_allow(&x->lrl, hv_now_ns(), &dropped))
		return false;
	if (dropped)
		log_msg(LOG_LVL_WARN, func, "%s: %" PRIu64 " messages suppressed",
			x->be, dropped);
	return true;
}

void xbdev_log(struct xbdev *x, enum log_level lvl, const char *func,
	       const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	if (lvl > log_get_level() || !xbdev_log_pass(x, func))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(lvl, func, "%s: %s", x->be, msg);
}

/* ---------------------------------------------------------------- state */

int xbdev_fe_state(struct xbdev *x)
{
	uint64_t v;

	if (xbdev_read_uint(x->xc, x->fe, "state", 255, &v) < 0)
		return XenbusStateUnknown;
	return (int)v;
}

/* Initialising is written only by a toolstack making the directory. */
bool xbdev_renewed_state(const struct xbdev *x, const char *st)
{
	return st && x->state != XenbusStateInitialising && !strcmp(st, "1");
}

bool xbdev_written_anew(struct xbdev *x)
{
	uint64_t st;

	return x->state != XenbusStateInitialising &&
	       xbdev_read_uint(x->xc, x->be, "state", XenbusStateReconfigured,
			       &st) == 0 &&
	       st == XenbusStateInitialising;
}

int xbdev_txn(struct xbdev *x, xbdev_txn_fn *fn, void *arg)
{
	struct xs_handle *xs = x->xc->xs;

	for (int i = 0; i < TXN_RETRIES; i++) {
		xs_transaction_t t = xs_transaction_start(xs);
		char *st;
		bool ok;

		if (t == XBT_NULL)
			return -errno;
		st = xbdev_read(x->xc, t, x->be, "state");
		if (xbdev_renewed_state(x, st)) {
			free(st);
			xs_transaction_end(xs, t, true);
			return -ESTALE;
		}
		ok = st && fn(x, t, arg);
		free(st);
		if (!ok) {
			xs_transaction_end(xs, t, true);
			return -ENOENT;
		}
		if (xs_transaction_end(xs, t, false))
			return 0;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

static bool write_state(struct xbdev *x, xs_transaction_t t, void *arg)
{
	return xbdev_be_write(x, t, "state", "%d", *(int *)arg);
}

int xbdev_switch(struct xbdev *x, int state)
{
	int rc;

	if (x->state == state)
		return 0;
	rc = xbdev_txn(x, write_state, &state);
	if (rc == -ESTALE) {
		xbdev_log(x, LOG_LVL_INFO, __func__,
			  "not switching to %s: written anew by the toolstack",
			  xbdev_state_name(state));
		return rc;
	}
	if (rc < 0) {
		xbdev_log(x, LOG_LVL_WARN, __func__, "cannot switch to %s: %s",
			  xbdev_state_name(state), strerror(-rc));
		return rc;
	}
	xbdev_log(x, LOG_LVL_INFO, __func__, "%s -> %s",
		  xbdev_state_name(x->state), xbdev_state_name(state));
	x->state = state;
	return 0;
}

void xbdev_fatal(struct xbdev *x, int err, const char *fmt, ...)
{
	char msg[256], path[XBDEV_PATH_LEN + 64], val[300], *st;
	bool renewed;
	va_list ap;
	int n;

	if (!xbdev_log_pass(x, __func__))
		goto out;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("%s: %s (%s)", x->be, msg, strerror(-err));
	error_dir(x, path, sizeof(path) - 8);
	strcat(path, "/error");
	n = snprintf(val, sizeof(val), "%d %s", -err, msg);
	/* A device written anew is the new one's: its error node too. */
	st = xbdev_read(x->xc, XBT_NULL, x->be, "state");
	renewed = xbdev_renewed_state(x, st);
	free(st);
	if (renewed)
		goto out;
	if (n > 0 && !xs_write(x->xc->xs, XBT_NULL, path, val, (unsigned)n))
		xbdev_log(x, LOG_LVL_WARN, __func__, "cannot write %s", path);
out:
	xbdev_switch(x, XenbusStateClosing);
}
