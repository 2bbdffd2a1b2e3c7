/* systemd's readiness protocol for pvd's daemons: a thin wrapper over
 * libsystemd's sd_notify (sd_notify(3)).
 *
 * Every call is a harmless no-op when the daemon was not started by
 * systemd (no NOTIFY_SOCKET): tests and hand-started daemons need
 * nothing.  A daemon sends READY=1 once it serves (the store: listening;
 * a backend: connected to the store with its watches registered), STATUS=
 * a one-line summary whenever it changes, and, when the unit sets
 * WatchdogSec=, WATCHDOG=1 from its event loop at half the interval, so
 * that a loop stuck in a call never ping and systemd restarts it. */
#ifndef PVD_SDNOTIFY_H
#define PVD_SDNOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct event;

/* STATUS= is refreshed at least this often (and the watchdog fed at
 * half of WATCHDOG_USEC when that is shorter). */
#define PVD_NOTIFY_STATUS_MS 5000
#define PVD_NOTIFY_STATUS_MAX 256
/* How often a daemon not yet serving is asked again (pvd_notify_ready_when). */
#define PVD_NOTIFY_READY_POLL_MS 100

/* Writes the daemon's one-line summary into buf (NUL-terminated). */
typedef void (*pvd_notify_status_fn)(void *arg, char *buf, size_t len);
/* true once the daemon serves (e.g. connected to the store). */
typedef bool (*pvd_notify_ready_fn)(void *arg);

struct pvd_notify {
	struct event *timer;	/* status refresh and watchdog; NULL: off */
	uint64_t wd_usec;	/* WATCHDOG_USEC, 0 when no watchdog */
	pvd_notify_status_fn status;
	pvd_notify_ready_fn ready;	/* NULL once READY=1 is sent */
	struct event *poll;	/* asks ready() until it holds */
	void *arg;
	char last[PVD_NOTIFY_STATUS_MAX];	/* the STATUS= last sent */
};

/* READY=1: the daemon serves.  0, or -errno from sd_notify. */
int pvd_notify_ready(void);
/* STATUS=<text>, one line (newlines become spaces). */
int pvd_notify_status(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* STOPPING=1, before a clean shutdown's slow part. */
int pvd_notify_stopping(void);

/* Starts the periodic timer on base when NOTIFY_SOCKET is set: every
 * tick sends WATCHDOG=1 when sd_watchdog_enabled() says so, and STATUS=
 * from status(arg) when the text changed.  status may be NULL.  Without
 * NOTIFY_SOCKET n stays off and 0 is returned. */
int pvd_notify_start(struct pvd_notify *n, struct event_base *base,
		     pvd_notify_status_fn status, void *arg);
/* READY=1 now if ready(arg) holds, else as soon as it does (asked every
 * PVD_NOTIFY_READY_POLL_MS and at every refresh): a daemon that waits for
 * the store before it serves.  Once only.  A no-op when n is off. */
void pvd_notify_ready_when(struct pvd_notify *n, pvd_notify_ready_fn ready);
/* Asks status(arg) now and sends it if it changed (call when the daemon's
 * numbers move; cheap when they did not). */
void pvd_notify_refresh(struct pvd_notify *n);
/* Idempotent; n may never have been started (zeroed). */
void pvd_notify_stop(struct pvd_notify *n);

#endif
