/* The store-facing half of a backend device, shared by pvd-blkback and
 * pvd-netback: what Linux's drivers/xen/xenbus/xenbus_client.c gives its
 * backends (xenbus_switch_state, xenbus_dev_fatal, transactions on the
 * backend directory) over a daemon's store connection (pvd/xsconn.h).
 *
 * A daemon embeds struct xbdev in its device and fills in the identity
 * (xc, kind, self, domid, devid, be, fe); state is ours as last written.
 * Every write into the backend directory goes through xbdev_txn, which
 * first reads the backend's state in the same transaction: a directory
 * removed meanwhile is not written (that would recreate it), and one the
 * toolstack removed and wrote anew (state Initialising under a device
 * already past it, xbdev_renewed_state) gets nothing of the old device:
 * -ESTALE, and the watch events the toolstack's writes queued replace the
 * device.  Lines about a device are rate-limited per device (lrl), and
 * the error node is written only with its line. */
#ifndef PVD_XBDEV_H
#define PVD_XBDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xenstore.h>
#include <xen/xen.h>
#include <xen/io/xenbus.h>

#include "pvd/log.h"
#include "pvd/ratelimit.h"
#include "pvd/xsconn.h"

#define XBDEV_PATH_LEN 128

struct xbdev {
	struct xsconn *xc;          /* the daemon's store connection */
	const char *kind;           /* "vbd", "vif": error/backend/<kind>/... */
	unsigned self;              /* the backend's domid */
	unsigned domid, devid;
	char be[XBDEV_PATH_LEN], fe[XBDEV_PATH_LEN];
	int state;                  /* ours, as last written */
	struct pvd_logrl lrl;       /* this device's lines and error node */
};

/* Fills in the identity: be = ROOT/<domid>/<devid>, state Unknown, a
 * fresh log bucket (fe stays the caller's to read). */
void xbdev_init(struct xbdev *x, struct xsconn *xc, const char *kind,
		unsigned self, const char *root, unsigned domid, unsigned devid);
/* Removes the device's error directory (the device is forgotten). */
void xbdev_clear_error(struct xbdev *x);
/* The daemon's device around its struct xbdev. */
#define xbdev_container(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* "Connected", ..., "invalid" for a number outside XenbusState. */
const char *xbdev_state_name(int state);

/* The store's calls on DIR/NODE.  A failure for another reason than
 * ENOENT may be the connection: xsconn_failed is asked, and marks it down
 * if so. */
char *xbdev_read(struct xsconn *xc, xs_transaction_t t, const char *dir,
		 const char *node);
char **xbdev_dir(struct xsconn *xc, const char *path, unsigned *n);
/* Every device directory under a backend root (ROOT/<domid>/<devid>,
 * each id a decimal number in range): fn for each, in the store's order.
 * What could not be listed is left out; the caller asks xsconn_up before
 * taking a device that was not listed as gone. */
typedef void xbdev_scan_fn(void *arg, domid_t domid, unsigned devid);
void xbdev_scan(struct xsconn *xc, const char *root, xbdev_scan_fn *fn,
		void *arg);
/* A watch event on PATH under a backend root: */
enum xbdev_event {
	XBDEV_EV_NONE,      /* not under ROOT, or ids out of range */
	XBDEV_EV_SCAN,      /* ROOT or a domain's directory: scan again */
	XBDEV_EV_DEVICE,    /* *domid, *devid; *node is what follows
			     * "<domid>/<devid>/" in PATH ("": the device
			     * directory itself) */
};
enum xbdev_event xbdev_parse_event(const char *root, const char *path,
				   domid_t *domid, unsigned *devid,
				   const char **node);

/* A decimal number in [0, max]: 0, -ENOENT, or -EINVAL/-ERANGE. */
int xbdev_read_uint(struct xsconn *xc, const char *dir, const char *node,
		    uint64_t max, uint64_t *out);
bool xbdev_write(struct xsconn *xc, xs_transaction_t t, const char *dir,
		 const char *node, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* xbdev_write into the backend directory, in transaction t. */
bool xbdev_be_write(struct xbdev *x, xs_transaction_t t, const char *node,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Takes a line's token from the device's bucket; on the first line after
 * some were dropped, says how many. */
bool xbdev_log_pass(struct xbdev *x, const char *func);
/* A line about the device, "<backend path>: ...", rate-limited. */
void xbdev_log(struct xbdev *x, enum log_level lvl, const char *func,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define xbdev_warn(x, ...) xbdev_log((x), LOG_LVL_WARN, __func__, __VA_ARGS__)
#define xbdev_info(x, ...) xbdev_log((x), LOG_LVL_INFO, __func__, __VA_ARGS__)
#define xbdev_debug(x, ...) xbdev_log((x), LOG_LVL_DEBUG, __func__, __VA_ARGS__)

/* The frontend's state, XenbusStateUnknown when missing or not a number. */
int xbdev_fe_state(struct xbdev *x);
/* ST, the backend's state node as read, says the directory was written
 * anew by the toolstack (see above). */
bool xbdev_renewed_state(const struct xbdev *x, const char *st);

/* Reads the backend's state: Initialising under a device past it says
 * the toolstack removed the directory and wrote it anew between two of
 * our looks (a detach and an attach of the same devid, back to back);
 * the daemon then lets the old device go and probes the new one, as
 * Linux's xenbus unregisters a removed device and probes a new one. */
bool xbdev_written_anew(struct xbdev *x);

typedef bool xbdev_txn_fn(struct xbdev *x, xs_transaction_t t, void *arg);
/* Runs fn in a transaction on the backend directory, retried on EAGAIN:
 * 0, -ENOENT (directory gone, or fn said no), -ESTALE (written anew), or
 * the store's -errno. */
int xbdev_txn(struct xbdev *x, xbdev_txn_fn *fn, void *arg);
/* xenbus_switch_state: writes our state (nothing when it is already);
 * 0 or xbdev_txn's error, each logged. */
int xbdev_switch(struct xbdev *x, int state);
/* xenbus_dev_fatal: error/backend/<kind>/<domid>/<devid>/error holds
 * "<errno> <message>" (not in a directory written anew), then Closing. */
void xbdev_fatal(struct xbdev *x, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
