/* pvctl: waiting for a device's backend, as libxl does after it writes a
 * device's nodes (libxl__wait_device_connection, LIBXL_INIT_TIMEOUT 10 s):
 * the backend daemon must answer by moving to InitWait (or further) within
 * the timeout.  Unlike libxl, which only waits for the state, pvctl also
 * reads what a backend reports (xenbus_dev_error's error node, netback's
 * hotplug-status "error", a switch to Closing or Closed), so that a device
 * that cannot come up makes the command fail with the backend's own words
 * instead of leaving a device nobody serves.  The caller removes what it
 * wrote (devwait_remove, or the whole domain).
 *
 * The store's values are the backend's (dom0's) to write, but are still
 * parsed strictly and printed through pvctl_printable. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xen/io/xenbus.h>

#include "devwait.h"

#define ERR_SHOWN 160       /* bytes of a backend's error message shown */

int devwait_timeout_s(unsigned *secs)
{
	const char *v = getenv(DEVWAIT_ENV);
	uint64_t n;

	*secs = DEVWAIT_TIMEOUT_S;
	if (!v || !v[0])
		return 0;
	if (pvctl_parse_dec(v, DEVWAIT_TIMEOUT_MAX_S, &n) < 0) {
		pvctl_err("%s: want seconds, 0 to %u, got '%.32s'", DEVWAIT_ENV,
			  DEVWAIT_TIMEOUT_MAX_S, v);
		return -EINVAL;
	}
	*secs = (unsigned)n;
	return 0;
}

/* xenbus_dev_error writes "<errno> <message>": the message. */
static void error_text(const char *e, char *buf, size_t len)
{
	const char *m = e;

	while (*m >= '0' && *m <= '9')
		m++;
	if (m != e && *m == ' ')
		e = m + 1;
	snprintf(buf, len, "%s", e[0] ? e : "(empty error node)");
	pvctl_printable(buf);
}

enum devwait_verdict devwait_judge(const struct devwait_obs *o, char *why,
				   size_t len)
{
	char msg[ERR_SHOWN];

	if (o->error) {
		error_text(o->error, msg, sizeof(msg));
		snprintf(why, len, "backend error: %s", msg);
		return DEVWAIT_FAILED;
	}
	if (o->hotplug && strcmp(o->hotplug, "error") == 0) {
		snprintf(why, len, "backend error: hotplug-status is error");
		return DEVWAIT_FAILED;
	}
	if (!o->be_exists) {
		snprintf(why, len, "the backend directory vanished");
		return DEVWAIT_FAILED;
	}
	if (o->state == XenbusStateClosing || o->state == XenbusStateClosed) {
		snprintf(why, len, "backend went to %s without saying why",
			 o->state == XenbusStateClosing ? "Closing" : "Closed");
		return DEVWAIT_FAILED;
	}
	if (o->state >= XenbusStateInitWait && o->state <= XenbusStateConnected)
		return DEVWAIT_READY;
	return DEVWAIT_PENDING;
}

static void be_path(const struct devwait_dev *d, char *buf, size_t len)
{
	snprintf(buf, len, "/local/domain/%u/backend/%s/%u/%u", d->bdom, d->type,
		 d->domid, d->devid);
}

/* Where xenbus_dev_error (and pvd's backends) write: the backend
 * domain's error/<be>. */
static void err_dir(const struct devwait_dev *d, char *buf, size_t len)
{
	snprintf(buf, len, "/local/domain/%u/error/backend/%s/%u/%u", d->bdom,
		 d->type, d->domid, d->devid);
}

enum devwait_verdict devwait_check(struct pvctl *p, const struct devwait_dev *d,
				   char *why, size_t len)
{
	char be[DEVWAIT_PATH_LEN], ed[DEVWAIT_PATH_LEN];
	char *state, *e1, *e2, *hp;
	struct devwait_obs o = { .state = -1 };
	enum devwait_verdict v;
	uint64_t n;

	be_path(d, be, sizeof(be));
	err_dir(d, ed, sizeof(ed));
	o.be_exists = pvctl_stat(p, XBT_NULL, be) == 0;
	state = pvctl_read(p, XBT_NULL, "%s/state", be);
	if (state)
		o.state = pvctl_parse_dec(state, 255, &n) == 0 ? (long)n : -2;
	e1 = pvctl_read(p, XBT_NULL, "%s/error", be);
	e2 = pvctl_read(p, XBT_NULL, "%s/error", ed);
	hp = pvctl_read(p, XBT_NULL, "%s/hotplug-status", be);
	o.error = e1 ? e1 : e2;
	o.hotplug = hp;
	v = devwait_judge(&o, why, len);
	free(state);
	free(e1);
	free(e2);
	free(hp);
	return v;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *daemon_of(const char *type)
{
	if (strcmp(type, "vbd") == 0)
		return "pvd-blkback";
	if (strcmp(type, "vif") == 0)
		return "pvd-netback";
	return "its backend daemon";
}

/* Watches (token "devwait") on each backend directory and error
 * directory: any change is a reason to look again.  false when the store
 * refuses one: the caller then looks every 100 ms. */
static bool watch_all(struct pvctl *p, const struct devwait_dev *devs, unsigned n,
		      bool on)
{
	char path[DEVWAIT_PATH_LEN];
	bool ok = true;

	for (unsigned i = 0; i < n; i++) {
		for (int k = 0; k < 2; k++) {
			if (k == 0)
				be_path(&devs[i], path, sizeof(path));
			else
				err_dir(&devs[i], path, sizeof(path));
			if (on)
				ok = ok && xs_watch(p->xs, path, "devwait");
			else
				xs_unwatch(p->xs, path, "devwait");
		}
	}
	return ok;
}

/* One look at every device: 1 all ready, 0 some pending, -EIO one failed
 * (told). */
static int look(struct pvctl *p, const struct devwait_dev *devs, unsigned n,
		unsigned *pending)
{
	char why[256];

	*pending = n;
	for (unsigned i = 0; i < n; i++) {
		enum devwait_verdict v = devwait_check(p, &devs[i], why, sizeof(why));

		if (v == DEVWAIT_FAILED) {
			pvctl_err("%s %u/%u: %s", devs[i].type, devs[i].domid, devs[i].devid,
				  why);
			return -EIO;
		}
		if (v == DEVWAIT_PENDING && *pending == n)
			*pending = i;
	}
	return *pending == n ? 1 : 0;
}

/* Sleeps until the store says something, a signal comes, or until. */
static int wait_event(struct pvctl *p, int fd, uint64_t until)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
				 { .fd = p->sigfd, .events = POLLIN } };
	uint64_t now = mono_ms(), left = until > now ? until - now : 0;
	char **ev;

	if (fd < 0 && left > 100)
		left = 100;
	if (poll(pfd, 2, (int)left) < 0 && errno != EINTR)
		return -errno;
	while (fd >= 0 && (ev = xs_check_watch(p->xs)) != NULL)
		free(ev);
	return 0;
}

int devwait_backends(struct pvctl *p, const struct devwait_dev *devs, unsigned n,
		     unsigned secs)
{
	uint64_t end = mono_ms() + (uint64_t)secs * 1000;
	bool watched;
	unsigned pending = 0;
	int fd, rc;

	if (secs == 0 || n == 0)
		return 0;
	watched = watch_all(p, devs, n, true);
	fd = watched ? xs_fileno(p->xs) : -1;
	for (;;) {
		rc = look(p, devs, n, &pending);
		if (rc != 0)
			break;
		if (pvctl_interrupted(p)) {
			rc = -EINTR;
			pvctl_err("interrupted while waiting for %s %u/%u",
				  devs[pending].type, devs[pending].domid, devs[pending].devid);
			break;
		}
		if (mono_ms() >= end) {
			rc = -ETIMEDOUT;
			pvctl_err("%s %u/%u: no backend answered within %u s (is %s running?)",
				  devs[pending].type, devs[pending].domid, devs[pending].devid,
				  secs, daemon_of(devs[pending].type));
			break;
		}
		rc = wait_event(p, fd, end);
		if (rc < 0) {
			pvctl_err("waiting for %s %u/%u: %s", devs[pending].type,
				  devs[pending].domid, devs[pending].devid, strerror(-rc));
			break;
		}
	}
	watch_all(p, devs, n, false);
	return rc == 1 ? 0 : rc;
}

int devwait_rm_cleanup(struct pvctl *p, xs_transaction_t t, const char *path,
		       const char *stop)
{
	char buf[DEVWAIT_PATH_LEN], *slash;
	size_t sl = strlen(stop);

	if (!xs_rm(p->xs, t, path) && errno != ENOENT)
		return errno ? -errno : -EIO;
	snprintf(buf, sizeof(buf), "%s", path);
	while ((slash = strrchr(buf, '/')) != NULL) {
		unsigned len = 0, nd = 0;
		char *v, **dir;
		bool empty;

		*slash = '\0';
		if (strlen(buf) <= sl || strncmp(buf, stop, sl) != 0)
			break;
		v = xs_read(p->xs, t, buf, &len);
		dir = v ? xs_directory(p->xs, t, buf, &nd) : NULL;
		empty = v && !v[0] && dir && nd == 0;
		free(v);
		free(dir);
		if (!empty)
			break;
		if (!xs_rm(p->xs, t, buf) && errno != ENOENT)
			return errno ? -errno : -EIO;
	}
	return 0;
}

static int remove_txn(struct pvctl *p, xs_transaction_t t, void *arg)
{
	const struct devwait_dev *d = arg;
	char path[DEVWAIT_PATH_LEN], stop[64];
	int rc;

	snprintf(path, sizeof(path), "/local/domain/%u/device/%s/%u", d->domid, d->type,
		 d->devid);
	snprintf(stop, sizeof(stop), "/local/domain/%u/device", d->domid);
	rc = devwait_rm_cleanup(p, t, path, stop);
	if (rc == 0) {
		be_path(d, path, sizeof(path));
		snprintf(stop, sizeof(stop), "/local/domain/%u/backend", d->bdom);
		rc = devwait_rm_cleanup(p, t, path, stop);
	}
	if (rc == 0) {
		err_dir(d, path, sizeof(path));
		snprintf(stop, sizeof(stop), "/local/domain/%u/error", d->bdom);
		rc = devwait_rm_cleanup(p, t, path, stop);
	}
	if (rc == 0) {
		/* libxl's own record (absent for pvctl's domains). */
		snprintf(stop, sizeof(stop), "/libxl/%u/device", d->domid);
		snprintf(path, sizeof(path), "%s/%s/%u", stop, d->type, d->devid);
		rc = devwait_rm_cleanup(p, t, path, stop);
	}
	return rc;
}

int devwait_remove(struct pvctl *p, const struct devwait_dev *d)
{
	int rc = pvctl_txn(p, remove_txn, (void *)d);

	if (rc < 0)
		pvctl_err("cannot remove the nodes of %s %u/%u: %s", d->type, d->domid,
			  d->devid, strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------- closing */

static int close_txn(struct pvctl *p, xs_transaction_t t, void *arg)
{
	const struct devwait_dev *d = arg;
	char be[DEVWAIT_PATH_LEN], fe[DEVWAIT_PATH_LEN], path[DEVWAIT_PATH_LEN + 16];
	char *st;
	bool have_be;

	be_path(d, be, sizeof(be));
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/%s/%u", d->domid, d->type,
		 d->devid);
	have_be = pvctl_stat(p, t, be) == 0;
	if (!have_be)
		return pvctl_stat(p, t, fe) == 0 ? 0 : -ENOENT;
	snprintf(path, sizeof(path), "%s/online", be);
	if (!xs_write(p->xs, t, path, "0", 1))
		return errno ? -errno : -EIO;
	st = pvctl_read(p, t, "%s/state", be);
	if (!st || strcmp(st, "6") != 0) {
		snprintf(path, sizeof(path), "%s/state", be);
		if (!xs_write(p->xs, t, path, "5", 1)) {
			free(st);
			return errno ? -errno : -EIO;
		}
	}
	free(st);
	return 0;
}

int devwait_close_start(struct pvctl *p, const struct devwait_dev *d)
{
	return pvctl_txn(p, close_txn, (void *)d);
}

static const char *state_name(const char *dir, struct pvctl *p, bool *closed)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured",
	};
	char *v = pvctl_read(p, XBT_NULL, "%s/state", dir);
	uint64_t n = 0;
	bool num = v && pvctl_parse_dec(v, 255, &n) == 0;

	*closed = !v || (num && n == XenbusStateClosed);
	free(v);
	if (!v)
		return "gone";
	return num && n < sizeof(names) / sizeof(names[0]) ? names[n] : "invalid";
}

int devwait_closed(struct pvctl *p, const struct devwait_dev *d, unsigned secs,
		   const char **fe_state, const char **be_state)
{
	char fe[DEVWAIT_PATH_LEN], be[DEVWAIT_PATH_LEN];
	uint64_t end = mono_ms() + (uint64_t)secs * 1000;
	bool watched, fe_ok, be_ok;
	int fd, rc = 0;

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/%s/%u", d->domid, d->type,
		 d->devid);
	be_path(d, be, sizeof(be));
	watched = xs_watch(p->xs, fe, "devwait-fe") && xs_watch(p->xs, be, "devwait-be");
	fd = watched ? xs_fileno(p->xs) : -1;
	for (;;) {
		*fe_state = state_name(fe, p, &fe_ok);
		*be_state = state_name(be, p, &be_ok);
		if (fe_ok && be_ok)
			break;
		if (mono_ms() >= end) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = wait_event(p, fd, end);
		if (rc < 0)
			break;
	}
	xs_unwatch(p->xs, fe, "devwait-fe");
	xs_unwatch(p->xs, be, "devwait-be");
	return rc;
}

/* -------------------------------------------------------------- detach */

static const struct option detach_opts[] = {
	{ "force", no_argument, NULL, 'f' },
	{ "timeout", required_argument, NULL, 't' },
	{ NULL, 0, NULL, 0 },
};

int devwait_detach_args(struct devwait_detach *d, const char *name, int argc,
			char **argv)
{
	uint64_t v;
	int c;

	optind = 0;     /* GNU getopt: start afresh */
	while ((c = pvctl_getopt(argc, argv, ":ft:", detach_opts)) != -1) {
		if (c == 'f') {
			d->force = true;
		} else if (c == 't') {
			if (pvctl_parse_dec(optarg, DEVWAIT_DETACH_TIMEOUT_MAX_S, &v) < 0) {
				pvctl_err("--timeout: want seconds, 0 to %u, got '%s'",
					  DEVWAIT_DETACH_TIMEOUT_MAX_S, optarg);
				return 2;
			}
			d->timeout_s = (unsigned)v;
		} else {
			return pvctl_usage(pvctl_find_cmd(name));
		}
	}
	if (argc - optind != 2)
		return pvctl_usage(pvctl_find_cmd(name));
	d->dom_arg = argv[optind];
	d->which = argv[optind + 1];
	return 0;
}
