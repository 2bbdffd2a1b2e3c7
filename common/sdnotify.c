/* systemd's notify protocol through libsystemd (include/pvd/sdnotify.h).
 *
 * Follows sd_notify(3) and sd_watchdog_enabled(3): the watchdog is fed at
 * half of WATCHDOG_USEC, as the man page advises, from a libevent timer,
 * so that a daemon whose loop is stuck stops feeding it.  STATUS= is sent
 * only when the text changed: systemd keeps the last one anyway. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "pvd/log.h"
#include "pvd/sdnotify.h"

/* sd_notify: >0 sent, 0 no NOTIFY_SOCKET, <0 -errno. */
static int notify(const char *msg)
{
	int rc = sd_notify(0, msg);

	if (rc < 0) {
		log_debug("%s: %s", msg, strerror(-rc));
		return rc;
	}
	return 0;
}

int pvd_notify_ready(void)
{
	return notify("READY=1");
}

int pvd_notify_stopping(void)
{
	return notify("STOPPING=1");
}

/* "STATUS=" + text on one line, truncated to what fits. */
static int send_status(const char *text)
{
	char msg[PVD_NOTIFY_STATUS_MAX + 8];

	snprintf(msg, sizeof(msg), "STATUS=%s", text);
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return notify(msg);
}

int pvd_notify_status(const char *fmt, ...)
{
	char text[PVD_NOTIFY_STATUS_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return send_status(text);
}

/* READY=1 once ready() holds; the poll stops then. */
static void check_ready(struct pvd_notify *n)
{
	if (!n->ready || !n->ready(n->arg))
		return;
	n->ready = NULL;
	if (n->poll)
		event_del(n->poll);
	pvd_notify_ready();
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct pvd_notify *n = arg;

	check_ready(n);
	pvd_notify_refresh(n);
}

void pvd_notify_ready_when(struct pvd_notify *n, pvd_notify_ready_fn ready)
{
	struct timeval tv = { 0, PVD_NOTIFY_READY_POLL_MS * 1000 };

	if (!n->timer)
		return;
	n->ready = ready;
	check_ready(n);
	if (!n->ready)
		return;
	n->poll = event_new(event_get_base(n->timer), -1, EV_PERSIST, on_poll, n);
	if (!n->poll || event_add(n->poll, &tv) < 0) {
		/* The status tick still asks, only less often. */
		log_warn("cannot poll for readiness: every %d ms instead",
			 PVD_NOTIFY_STATUS_MS);
	}
}

void pvd_notify_refresh(struct pvd_notify *n)
{
	char text[PVD_NOTIFY_STATUS_MAX];

	if (!n->timer)
		return;
	check_ready(n);
	if (!n->status)
		return;
	text[0] = '\0';
	n->status(n->arg, text, sizeof(text));
	text[sizeof(text) - 1] = '\0';
	if (strcmp(text, n->last) == 0)
		return;
	if (send_status(text) == 0)
		memcpy(n->last, text, sizeof(text));
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pvd_notify *n = arg;

	if (n->wd_usec)
		notify("WATCHDOG=1");
	pvd_notify_refresh(n);
}

/* The tick: PVD_NOTIFY_STATUS_MS, or half the watchdog when shorter. */
static struct timeval tick_interval(uint64_t wd_usec)
{
	uint64_t us = (uint64_t)PVD_NOTIFY_STATUS_MS * 1000;
	struct timeval tv;

	if (wd_usec && wd_usec / 2 < us)
		us = wd_usec / 2 ? wd_usec / 2 : 1;
	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	return tv;
}

int pvd_notify_start(struct pvd_notify *n, struct event_base *base,
		     pvd_notify_status_fn status, void *arg)
{
	uint64_t usec = 0;
	struct timeval tv;
	int rc;

	memset(n, 0, sizeof(*n));
	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	/* >0: enabled for this pid; 0: no WatchdogSec=; <0: bad variables. */
	rc = sd_watchdog_enabled(0, &usec);
	if (rc < 0)
		log_warn("ignoring the watchdog settings: %s", strerror(-rc));
	n->wd_usec = rc > 0 ? usec : 0;
	n->status = status;
	n->arg = arg;
	n->timer = event_new(base, -1, EV_PERSIST, on_tick, n);
	if (!n->timer) {
		log_err("out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	tv = tick_interval(n->wd_usec);
	if (event_add(n->timer, &tv) < 0) {
		log_err("cannot arm the timer");
		rc = -EIO;
		goto fail;
	}
	if (n->wd_usec)
		log_info("watchdog: fed every %ld.%03ld s",
			 (long)tv.tv_sec, (long)tv.tv_usec / 1000);
	pvd_notify_refresh(n);
	return 0;
fail:
	pvd_notify_stop(n);
	return rc;
}

void pvd_notify_stop(struct pvd_notify *n)
{
	if (n->poll) {
		event_free(n->poll);
		n->poll = NULL;
	}
	n->ready = NULL;
	if (n->timer) {
		event_free(n->timer);
		n->timer = NULL;
	}
}
