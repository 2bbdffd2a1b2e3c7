/* pvctl: waiting for a device's backend after its nodes are written, as
 * libxl does (libxl__wait_device_connection: the backend must reach
 * InitWait within LIBXL_INIT_TIMEOUT), shared by create, block-attach and
 * network-attach; and removing a device's nodes again when it did not
 * come up. */
#ifndef PVCTL_DEVWAIT_H
#define PVCTL_DEVWAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvctl.h"

#define DEVWAIT_TIMEOUT_S     10      /* libxl's LIBXL_INIT_TIMEOUT */
#define DEVWAIT_TIMEOUT_MAX_S 3600
#define DEVWAIT_ENV           "PVCTL_DEVICE_TIMEOUT"
#define DEVWAIT_PATH_LEN      (XENSTORE_ABS_PATH_MAX + 1)
#define DEVWAIT_DETACH_TIMEOUT_S     10   /* libxl's LIBXL_DESTROY_TIMEOUT */
#define DEVWAIT_DETACH_TIMEOUT_MAX_S 3600

/* One device of domain domid: type "vbd" or "vif", its devid, and the
 * domain of its backend (0: dom0; a driver domain's for a disk whose
 * frontend names one). */
struct devwait_dev {
	const char *type;
	unsigned domid;
	unsigned devid;
	unsigned bdom;
};

/* What the store says about a device's backend, as devwait_judge reads
 * it.  Strings are NULL when the node is absent. */
struct devwait_obs {
	bool be_exists;
	long state;                 /* -1 absent, -2 not a number */
	const char *error;          /* <be>/error or dom0's error/<be>/error */
	const char *hotplug;        /* <be>/hotplug-status */
};

enum devwait_verdict { DEVWAIT_PENDING, DEVWAIT_READY, DEVWAIT_FAILED };

/* The seconds to wait: $PVCTL_DEVICE_TIMEOUT (0 to DEVWAIT_TIMEOUT_MAX_S;
 * 0: do not wait) or DEVWAIT_TIMEOUT_S.  -EINVAL for a bad value. */
int devwait_timeout_s(unsigned *secs);

/* Ready once the backend is InitWait, Initialised or Connected; failed on
 * an error node, hotplug-status "error", Closing, Closed or a vanished
 * backend directory; why (when failed) says which. */
enum devwait_verdict devwait_judge(const struct devwait_obs *o, char *why,
				   size_t len);

/* Reads the store and judges one device (devwait_judge). */
enum devwait_verdict devwait_check(struct pvctl *p, const struct devwait_dev *d,
				   char *why, size_t len);

/* Waits up to secs for every device's backend to be ready.  0, or -errno
 * after printing one line naming the first device that failed or did not
 * answer ("vbd 3/51712: backend error: ...", "vif 3/0: no backend answered
 * within 10 s (is pvd-netback running?)"); -EINTR when interrupted. */
int devwait_backends(struct pvctl *p, const struct devwait_dev *devs, unsigned n,
		     unsigned secs);

/* libxl's removal, started: dom0's backend gets online = 0 and state
 * Closing (unless Closed) in one transaction.  -ENOENT when neither end
 * exists. */
int devwait_close_start(struct pvctl *p, const struct devwait_dev *d);
/* Waits up to secs for both ends to be Closed (or gone).  0, or
 * -ETIMEDOUT with their states' names in fe and be. */
int devwait_closed(struct pvctl *p, const struct devwait_dev *d, unsigned secs,
		   const char **fe, const char **be);

/* Removes the frontend, backend and error directories of the device,
 * libxl's record of it (/libxl/<domid>/device/<type>/<devid>, for a
 * domain xl made: libxl__device_destroy removes it too) and the parents
 * that are left empty, in one transaction (retried). */
int devwait_remove(struct pvctl *p, const struct devwait_dev *d);

/* A detach command's line: [--force] [--timeout S] DOMAIN WHICH. */
struct devwait_detach {
	const char *dom_arg, *which;
	unsigned timeout_s;         /* the caller's default, or --timeout */
	bool force;
};
/* Parses it for command NAME (its usage on a mistake).  0, or the exit
 * status. */
int devwait_detach_args(struct devwait_detach *d, const char *name, int argc,
			char **argv);

/* Removes path, then its parents left empty (no value, no children) down
 * to stop, which is kept: libxl__xs_path_cleanup, bounded. */
int devwait_rm_cleanup(struct pvctl *p, xs_transaction_t t, const char *path,
		       const char *stop);

#endif
