/* The guest's console frontend; see consfront.h.
 *
 * The ring, as Linux's hvc_xen (drivers/tty/hvc/hvc_xen.c):
 *   out (we produce): read out_cons once, full barrier, copy into out[],
 *   write barrier, publish out_prod, notify;
 *   in (we consume): read in_prod once, read barrier, copy out of in[],
 *   full barrier, publish in_cons, notify.
 * Our indices (out_prod, in_cons) are kept privately: what the backend
 * writes there is ignored.  The backend's index is checked against ours
 * (at most a ring apart); when it is not, nothing moves in that direction
 * (logged once) until it is sane again.
 *
 * Flow control, with no buffer beyond a ring's worth in each direction:
 * the pty master is read only for as many bytes as the out ring has room
 * for; when the ring is full the master is no longer polled until the
 * backend consumes and notifies (the shell then blocks in write, as on a
 * serial line).  The in ring is consumed only into an empty input buffer;
 * when the pty does not take it, the ring is left alone until it does.
 * The event loop never blocks.
 *
 * The shell and its pty come from sandbox.c, the device lines from
 * devlist.c; this file carries bytes between the ring and the pty. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "pvd/hv.h"	/* before <xen/io/console.h>: Xen's types */
#include <xen/io/console.h>

#include "consfront.h"
#include "devlist.h"
#include "guest.h"
#include "pvd/hv_sim.h"
#include "pvd/log.h"
#include "pvd/ring_util.h"
#include "sandbox.h"

/* Ring passes per callback before the loop looks elsewhere. */
#define PUMP_BUDGET 16

#define RING_OUT_SIZE sizeof(((struct xencons_interface *)0)->out)
#define RING_IN_SIZE sizeof(((struct xencons_interface *)0)->in)

struct consfront {
	struct event_base *base;
	struct guest *g;
	struct hv_sim_domain *dom;
	struct xencons_interface *intf;
	evtchn_port_t port;
	unsigned domid;
	char name[GUEST_NAME_MAX + 1];
	char rundir[PATH_MAX];

	/* The ring: our indices, and whether the backend's were bad. */
	XENCONS_RING_IDX out_prod, in_cons;
	bool out_bad, in_bad;
	bool pumping;
	struct event *kick_ev;		/* a pump from the loop */

	/* pvguest's own messages, ahead of the shell's output. */
	char msg[CONSFRONT_MSG_MAX];
	size_t msg_len;
	unsigned long long msg_dropped;

	/* Input taken from the in ring, not yet written to the pty. */
	char in[RING_IN_SIZE];
	size_t in_len, in_off;

	/* The shell's pty (master -1: none) and the shell (NULL: none yet,
	 * or none at all unless want_shell). */
	int master;
	struct event *rd_ev, *wr_ev;
	bool rd_on, wr_on;
	bool want_shell;		/* asked for, and not stopping */
	struct sandbox *sb;

	struct devlist *dl;
};

static void pump(struct consfront *c);

/* ------------------------------------------------------------ the ring */

/* Room in the out ring; 0 when the backend's index is not sane. */
static size_t out_room(struct consfront *c)
{
	XENCONS_RING_IDX cons = ((volatile struct xencons_interface *)c->intf)->out_cons;
	XENCONS_RING_IDX used = c->out_prod - cons;

	/* The index before the bytes: we must not overwrite what it has
	 * not consumed. */
	PVD_MB();
	if (used > RING_OUT_SIZE) {
		if (!c->out_bad)
			log_warn("console: out_cons %u is more than a ring from out_prod %u: output stops",
				 (unsigned)cons, (unsigned)c->out_prod);
		c->out_bad = true;
		return 0;
	}
	if (c->out_bad)
		log_info("console: out indices sane again");
	c->out_bad = false;
	return RING_OUT_SIZE - used;
}

static void notify(struct consfront *c)
{
	int rc = hv_sim_evtchn_notify(c->dom, c->port);

	if (rc < 0)
		log_debug("console: notify port %u: %s", c->port, strerror(-rc));
}

/* len <= out_room(). */
static void out_put(struct consfront *c, const char *buf, size_t len)
{
	size_t at = MASK_XENCONS_IDX(c->out_prod, c->intf->out);
	size_t first = len < RING_OUT_SIZE - at ? len : RING_OUT_SIZE - at;

	memcpy(c->intf->out + at, buf, first);
	memcpy(c->intf->out, buf + first, len - first);
	PVD_WMB();
	c->out_prod += (XENCONS_RING_IDX)len;
	((volatile struct xencons_interface *)c->intf)->out_prod = c->out_prod;
	notify(c);
}

/* Takes what the in ring holds into c->in (empty on entry): bytes taken. */
static size_t in_take(struct consfront *c)
{
	XENCONS_RING_IDX prod = ((volatile struct xencons_interface *)c->intf)->in_prod;
	XENCONS_RING_IDX avail = prod - c->in_cons;
	size_t at, first;

	PVD_RMB();
	if (avail > RING_IN_SIZE) {
		if (!c->in_bad)
			log_warn("console: in_prod %u is more than a ring from in_cons %u: input stops",
				 (unsigned)prod, (unsigned)c->in_cons);
		c->in_bad = true;
		return 0;
	}
	if (c->in_bad)
		log_info("console: in indices sane again");
	c->in_bad = false;
	if (!avail)
		return 0;
	at = MASK_XENCONS_IDX(c->in_cons, c->intf->in);
	first = avail < RING_IN_SIZE - at ? avail : RING_IN_SIZE - at;
	memcpy(c->in, c->intf->in + at, first);
	memcpy(c->in + first, c->intf->in, avail - first);
	/* The copy is done before the space is handed back. */
	PVD_MB();
	c->in_cons += avail;
	((volatile struct xencons_interface *)c->intf)->in_cons = c->in_cons;
	notify(c);
	c->in_len = avail;
	c->in_off = 0;
	return avail;
}

static void ev_set(struct event *ev, bool *on, bool want)
{
	if (*on == want)
		return;
	if (want ? event_add(ev, NULL) : event_del(ev)) {
		log_warn("console: cannot %s a pty event", want ? "add" : "remove");
		return;
	}
	*on = want;
}

/* Without a pty, a shell may still come: input waits for it in the ring. */
static bool shell_coming(const struct consfront *c)
{
	return c->want_shell && (!c->sb || !sandbox_is_off(c->sb));
}

/* The pty's last holder is gone, or it could not be used: closed, and
 * what the old shell was not given goes with it. */
static void pty_hangup(struct consfront *c)
{
	if (c->rd_ev) {
		event_free(c->rd_ev);
		c->rd_ev = NULL;
	}
	if (c->wr_ev) {
		event_free(c->wr_ev);
		c->wr_ev = NULL;
	}
	c->rd_on = c->wr_on = false;
	if (c->master >= 0) {
		close(c->master);
		c->master = -1;
	}
	c->in_off = c->in_len = 0;
	if (c->sb)
		sandbox_hangup(c->sb);
}

/* In ring -> pty.  Without a pty: input waits in the ring while a shell
 * is coming, and is discarded when none will. */
static void pump_in(struct consfront *c)
{
	for (int i = 0; i < PUMP_BUDGET; i++) {
		if (c->in_off == c->in_len) {
			c->in_off = c->in_len = 0;
			if (c->master < 0 && shell_coming(c))
				return;
			if (!in_take(c))
				return;
		}
		if (c->master < 0) {
			c->in_off = c->in_len;	/* nobody to read it */
			continue;
		}
		ssize_t n = write(c->master, c->in + c->in_off, c->in_len - c->in_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ev_set(c->wr_ev, &c->wr_on, true);
				return;
			}
			/* EIO: the shell's side is closed; its exit restarts it. */
			c->in_off = c->in_len;
			continue;
		}
		c->in_off += (size_t)n;
	}
	/* Budget spent: come back from the loop. */
	event_active(c->kick_ev, EV_TIMEOUT, 0);
}

/* Our messages, then the pty -> out ring. */
static void pump_out(struct consfront *c)
{
	char buf[RING_OUT_SIZE];

	for (int i = 0; i < PUMP_BUDGET; i++) {
		size_t room = out_room(c);

		if (!room) {
			/* The backend's notification resumes us. */
			if (c->master >= 0)
				ev_set(c->rd_ev, &c->rd_on, false);
			return;
		}
		if (c->msg_len) {
			size_t n = c->msg_len < room ? c->msg_len : room;

			out_put(c, c->msg, n);
			memmove(c->msg, c->msg + n, c->msg_len - n);
			c->msg_len -= n;
			continue;
		}
		if (c->master < 0)
			return;
		ev_set(c->rd_ev, &c->rd_on, true);
		ssize_t n = read(c->master, buf, room);

		if (n > 0) {
			out_put(c, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* EIO (or 0): every holder of the slave is gone; what the
		 * sandbox says about it is written on the next pass. */
		pty_hangup(c);
	}
	event_active(c->kick_ev, EV_TIMEOUT, 0);
}

static void pump(struct consfront *c)
{
	if (c->pumping)
		return;
	c->pumping = true;
	pump_in(c);
	pump_out(c);
	c->pumping = false;
}

void consfront_kick(struct consfront *c)
{
	pump(c);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

static void on_port(void *arg, evtchn_port_t port)
{
	pump(arg);
}

static void on_master_read(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

static void on_master_write(evutil_socket_t fd, short what, void *arg)
{
	struct consfront *c = arg;

	ev_set(c->wr_ev, &c->wr_on, false);
	pump(c);
}

void consfront_printf(struct consfront *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n = snprintf(line, sizeof(line), "pvguest: ");

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	/* The ring is no terminal: the line ending is ours to give. */
	line[n++] = '\r';
	line[n++] = '\n';
	if (c->msg_len + (size_t)n > sizeof(c->msg)) {
		if (!c->msg_dropped)
			log_warn("console: messages waiting for the ring overflow: dropped");
		c->msg_dropped += (unsigned long long)n;
		return;
	}
	memcpy(c->msg + c->msg_len, line, (size_t)n);
	c->msg_len += (size_t)n;
	if (!c->pumping)
		pump(c);
}

/* ------------------------------------------------------------ the shell */

/* A new shell's pty: its output starts flowing. */
static void on_pty(void *arg, int master)
{
	struct consfront *c = arg;

	c->master = master;
	c->rd_ev = event_new(c->base, master, EV_READ | EV_PERSIST, on_master_read, c);
	c->wr_ev = event_new(c->base, master, EV_WRITE, on_master_write, c);
	if (!c->rd_ev || !c->wr_ev) {
		log_err("console: out of memory");
		pty_hangup(c);
		return;
	}
	ev_set(c->rd_ev, &c->rd_on, true);
	pump(c);
}

static void on_say(void *arg, const char *line)
{
	consfront_printf(arg, "%s", line);
}

/* No shell any more: input is discarded from now on. */
static void on_shell_off(void *arg)
{
	pump(arg);
}

static const struct sandbox_cb sandbox_cb = {
	.pty = on_pty, .say = on_say, .off = on_shell_off,
};

static void on_device(void *arg, enum devlist_change ch, const char *type,
		      const char *id)
{
	struct consfront *c = arg;

	switch (ch) {
	case DEVLIST_ADDED:
		consfront_printf(c, "device %s/%s", type, id);
		break;
	case DEVLIST_REMOVED:
		consfront_printf(c, "device %s/%s removed", type, id);
		break;
	case DEVLIST_FULL:
		consfront_printf(c, "more than %u devices: no more announced",
				 DEVLIST_MAX);
		break;
	}
}

/* ------------------------------------------------------------ start, stop */

/* <rundir> from <rundir>/guests/dom<N>. */
static void rundir_of(struct consfront *c, const char *gdir)
{
	char *s;

	snprintf(c->rundir, sizeof(c->rundir), "%s", gdir);
	for (int i = 0; i < 2; i++) {
		s = strrchr(c->rundir, '/');
		if (!s || s == c->rundir) {
			c->rundir[0] = '\0';
			return;
		}
		*s = '\0';
	}
}

/* The page, our indices and events, the port's handler. */
static int ring_start(struct consfront *c)
{
	unsigned long gfn = hv_sim_console_page(c->dom);
	int rc;

	c->intf = hv_sim_page(c->dom, gfn);
	if (!c->intf) {
		log_err("console: no console page (%lu)", gfn);
		return -EINVAL;
	}
	/* A new domain's page is zeroed; whatever is there is the start. */
	c->out_prod = c->intf->out_prod;
	c->in_cons = c->intf->in_cons;
	c->kick_ev = event_new(c->base, -1, 0, on_kick, c);
	if (!c->kick_ev)
		return -ENOMEM;
	rc = guest_port_handler_set(c->g, c->port, on_port, c);
	if (rc < 0) {
		log_err("console: cannot handle port %u: %s", c->port, strerror(-rc));
		return rc;
	}
	consfront_printf(c, "domain %u (%s) booting", c->domid, c->name);
	consfront_printf(c, "memory: %zu MiB", hv_sim_domain_npages(c->dom) >>
					       (20 - HV_PAGE_SHIFT));
	consfront_printf(c, "console: page %lu, event channel %u", gfn, c->port);
	return 0;
}

int consfront_start(struct consfront **out, struct event_base *base,
		    struct guest *g, const char *name,
		    const struct consfront_config *cfg)
{
	struct sandbox_config sc = { .shell = cfg->shell };
	struct consfront *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->base = base;
	c->g = g;
	c->dom = guest_domain(g);
	c->port = guest_console_port(g);
	c->domid = hv_sim_domain_id(c->dom);
	c->master = -1;
	c->want_shell = !cfg->no_shell;
	snprintf(c->name, sizeof(c->name), "%s", name);
	rundir_of(c, guest_dir(g));
	rc = ring_start(c);
	if (rc < 0)
		goto fail;
	rc = devlist_start(&c->dl, guest_xenbus(g), on_device, c);
	if (rc < 0) {
		log_err("console: cannot watch the devices: %s", strerror(-rc));
		goto fail;
	}
	if (c->want_shell) {
		sc.hostname = c->name;
		sc.rundir = c->rundir;
		sc.domid = c->domid;
		rc = sandbox_start(&c->sb, base, &sc, &sandbox_cb, c);
		if (rc < 0)
			goto fail;
	}
	*out = c;
	return 0;
fail:
	consfront_stop(c);
	return rc;
}

void consfront_stop(struct consfront *c)
{
	if (!c)
		return;
	c->want_shell = false;
	sandbox_stop(c->sb);
	c->sb = NULL;
	if (c->rd_ev)
		event_free(c->rd_ev);
	if (c->wr_ev)
		event_free(c->wr_ev);
	if (c->master >= 0)
		close(c->master);
	devlist_stop(c->dl);
	if (c->intf) {
		c->master = -1;
		c->rd_ev = c->wr_ev = NULL;
		/* A last word, if the ring has room: the backend logs it. */
		consfront_printf(c, "domain %u (%s) shutting down", c->domid, c->name);
		guest_port_handler_set(c->g, c->port, NULL, NULL);
	}
	if (c->kick_ev)
		event_free(c->kick_ev);
	free(c);
}

void consfront_get_stats(const struct consfront *c, struct consfront_stats *st)
{
	*st = (struct consfront_stats){
		.msg_queued = c->msg_len, .msg_dropped = c->msg_dropped,
		.out_stopped = c->out_bad, .in_stopped = c->in_bad,
		.in_held = c->in_len - c->in_off, .pty_full = c->wr_on,
		.shell_pid = c->sb ? sandbox_pid(c->sb) : 0,
	};
}
