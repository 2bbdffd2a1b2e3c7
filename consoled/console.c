/* One console: guest ring <-> pty, and the guest's log.
 *
 * The page (struct xencons_interface) is shared with a guest that may
 * change any byte of it at any time.  Every pass reads the two indices of
 * a ring once, checks that they are at most a ring apart (otherwise the
 * console is broken: logged once, no longer served, other consoles
 * unaffected), copies the bytes into our own memory, and only then
 * publishes the new index (a barrier between).  Everything downstream (the
 * log, the pty) sees only our copy.
 *
 * Output (out ring: the guest produces out_prod, we consume out_cons):
 * taken at most as fast as the console's token bucket allows.  When the
 * bucket is empty we stop consuming: the ring fills and the guest blocks,
 * as with xenconsoled's rate limit; a timer resumes when tokens are back.
 * What we consumed goes to the log at once and to the pty when it takes
 * it; what the pty does not take (nobody attached: we hold the slave open
 * ourselves, so the master never hangs up and the kernel's pty buffer
 * fills) waits in the bounded output buffer (outbuf.h), which drops the
 * oldest bytes and marks the gap.  So a console nobody watches costs no
 * CPU beyond consuming, and holds at most the buffer's size.
 *
 * Input (in ring: we produce in_prod, the guest consumes in_cons): read
 * from the pty only as much as fits in the ring.  When the ring is full we
 * stop reading the pty (a guest that never consumes only blocks its own
 * pty's writers) until the guest notifies again.
 *
 * The console protocol has no event suppression: we notify after every
 * consumption and production.  We read the rings only on the guest's
 * events (and on our own timer while rate-limited), as xenconsoled does:
 * a guest that writes without notifying gets nothing read until it does
 * (its data stays in its ring, nothing is lost, and no one else pays).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <event2/event.h>

#include "pvd/log.h"
#include "pvd/ring_util.h"
#include <xen/io/console.h>

#include "console.h"
#include "consoled.h"
#include "guestlog.h"
#include "outbuf.h"
#include "pvd/ratelimit.h"

/* Passes over the out ring per event: the guest refills while we write
 * to the pty; taking what is already there saves it a wake-up, and the
 * bound keeps one console from holding the loop. */
#define OUT_PASSES 4

struct console {
	struct consoled *cd;
	struct console *port_next;	/* consoled's port table chain */
	domid_t domid;
	int devid;
	grant_ref_t ref;
	evtchn_port_t remote_port, port;
	char label[40];
	struct xencons_interface *intf;
	int ptm, pts;
	char tty[64];
	struct event *pty_rd, *pty_wr, *timer;
	bool mapped, bound, rd_on, wr_on;
	bool input_blocked, rate_blocked, broken;
	bool pty_dead;	/* a write failed for another reason than EAGAIN */
	struct outbuf ob;
	struct ratelimit rl;
	struct guestlog log;
	uint64_t out_bytes, in_bytes, rate_stalls;
};

static void set_event(struct event *ev, bool *on, bool want,
		      const struct timeval *tv)
{
	if (!ev || *on == want)
		return;
	if (want)
		event_add(ev, tv);
	else
		event_del(ev);
	*on = want;
}

static void notify(struct console *c)
{
	if (c->bound)
		hv_evtchn_notify(c->cd->hv, c->port);
}

/* Stops serving a console the guest has broken; keeps the struct (the
 * tracker remembers it as broken until its store nodes change). */
static void console_break(struct console *c, const char *why)
{
	if (c->broken)
		return;
	c->broken = true;
	log_warn("%s: %s: console no longer served", c->label, why);
	set_event(c->pty_rd, &c->rd_on, false, NULL);
	set_event(c->pty_wr, &c->wr_on, false, NULL);
	if (c->timer)
		event_del(c->timer);
	if (c->bound) {
		consoled_port_del(c->cd, c, c->port);
		hv_evtchn_unbind(c->cd->hv, c->port);
		c->bound = false;
	}
	if (c->mapped) {
		hv_grant_unmap(c->cd->hv, c->intf, 1);
		c->mapped = false;
		c->intf = NULL;
	}
	if (c->ptm >= 0)
		close(c->ptm);
	if (c->pts >= 0)
		close(c->pts);
	c->ptm = c->pts = -1;
	c->tty[0] = '\0';
	outbuf_destroy(&c->ob);
	guestlog_free(&c->log);
	if (c->cd->on_broken)
		c->cd->on_broken(c->cd->on_broken_arg, c);
}

/* ---- pty output ---- */

/* Cannot happen while we hold the slave.  Never spin on it: output then
 * goes only to the log. */
static void pty_error(struct console *c, int err)
{
	const char *p;
	size_t n;

	log_warn("%s: pty write: %s: output goes to the log only", c->label,
		 strerror(err));
	c->pty_dead = true;
	while ((n = outbuf_peek(&c->ob, &p)) > 0)
		outbuf_consume(&c->ob, n);
}

/* Writes the output buffer to the pty until it would block. */
static void pty_flush(struct console *c)
{
	const char *p;
	size_t n;

	while ((n = outbuf_peek(&c->ob, &p)) > 0) {
		ssize_t w = write(c->ptm, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN) {
			pty_error(c, errno);
			break;
		}
		if (w <= 0)
			break;
		outbuf_consume(&c->ob, (size_t)w);
	}
	set_event(c->pty_wr, &c->wr_on, !outbuf_empty(&c->ob) && !c->pty_dead,
		  NULL);
}

static void pty_emit(struct console *c, const char *data, size_t len)
{
	if (c->pty_dead)
		return;
	if (outbuf_empty(&c->ob)) {
		ssize_t w;

		do
			w = write(c->ptm, data, len);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN) {
			pty_error(c, errno);
			return;
		}
		if (w > 0) {
			data += w;
			len -= (size_t)w;
		}
	}
	if (len) {
		if (outbuf_put(&c->ob, data, len) < 0)
			log_warn("%s: out of memory for the output buffer", c->label);
		pty_flush(c);
	}
}

static void on_pty_writable(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;

	c->wr_on = false;	/* not persistent */
	pty_flush(c);
}

/* ---- guest output ---- */

static void on_timer(evutil_socket_t fd, short what, void *arg);

static void rate_block(struct console *c, uint64_t want, uint64_t now)
{
	uint64_t ns = ratelimit_wait_ns(&c->rl, want, now);
	struct timeval tv;

	if (!ns)
		ns = 1000;
	tv.tv_sec = (time_t)(ns / 1000000000u);
	tv.tv_usec = (suseconds_t)((ns % 1000000000u + 999) / 1000);
	c->rate_blocked = true;
	c->rate_stalls++;
	event_add(c->timer, &tv);
}

static void drain_out(struct console *c)
{
	struct xencons_interface *intf = c->intf;
	char tmp[sizeof(intf->out)];

	for (int pass = 0; pass < OUT_PASSES && !c->broken && !c->rate_blocked;
	     pass++) {
		XENCONS_RING_IDX cons, prod, avail, n, off, n1;
		uint64_t now = hv_now_ns();

		cons = *(volatile XENCONS_RING_IDX *)&intf->out_cons;
		prod = *(volatile XENCONS_RING_IDX *)&intf->out_prod;
		PVD_RMB();	/* indices before data */
		avail = prod - cons;
		if (avail > sizeof(intf->out)) {
			console_break(c, "out ring indices more than a ring apart");
			return;
		}
		if (!avail)
			return;
		n = (XENCONS_RING_IDX)ratelimit_take(&c->rl, avail, now);
		if (n) {
			off = MASK_XENCONS_IDX(cons, intf->out);
			n1 = sizeof(intf->out) - off < n ? sizeof(intf->out) - off : n;
			memcpy(tmp, intf->out + off, n1);
			memcpy(tmp + n1, intf->out, n - n1);
			PVD_MB();	/* the copy is complete before the slots are freed */
			intf->out_cons = cons + n;
			notify(c);
			c->out_bytes += n;
			guestlog_write(&c->log, tmp, n);
			pty_emit(c, tmp, n);
		}
		if (n < avail) {
			rate_block(c, avail - n, now);
			return;
		}
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;

	c->rate_blocked = false;
	drain_out(c);
}

/* ---- input ---- */

static void on_pty_readable(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;
	struct xencons_interface *intf = c->intf;
	XENCONS_RING_IDX cons, prod, used, space, off, n1;
	char tmp[sizeof(intf->in)];
	ssize_t r;

	if (c->broken)
		return;
	cons = *(volatile XENCONS_RING_IDX *)&intf->in_cons;
	prod = *(volatile XENCONS_RING_IDX *)&intf->in_prod;
	PVD_MB();	/* the guest's reads of the slots are done before we refill */
	used = prod - cons;
	if (used > sizeof(intf->in)) {
		console_break(c, "in ring indices more than a ring apart");
		return;
	}
	space = sizeof(intf->in) - used;
	if (!space) {
		/* Until the guest consumes and notifies. */
		c->input_blocked = true;
		set_event(c->pty_rd, &c->rd_on, false, NULL);
		return;
	}
	do
		r = read(c->ptm, tmp, space);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EAGAIN)
		return;
	if (r <= 0) {
		/* Not expected while we hold the slave; do not spin on it. */
		log_warn("%s: pty read: %s: input stopped", c->label,
			 r < 0 ? strerror(errno) : "end of file");
		set_event(c->pty_rd, &c->rd_on, false, NULL);
		return;
	}
	off = MASK_XENCONS_IDX(prod, intf->in);
	n1 = sizeof(intf->in) - off < (XENCONS_RING_IDX)r ?
	     sizeof(intf->in) - off : (XENCONS_RING_IDX)r;
	memcpy(intf->in + off, tmp, n1);
	memcpy(intf->in, tmp + n1, (size_t)r - n1);
	PVD_WMB();	/* the bytes are visible before the index */
	intf->in_prod = prod + (XENCONS_RING_IDX)r;
	c->in_bytes += (uint64_t)r;
	notify(c);
}

void console_kick(struct console *c)
{
	if (!c || c->broken)
		return;
	drain_out(c);
	if (!c->broken && c->input_blocked) {
		c->input_blocked = false;
		set_event(c->pty_rd, &c->rd_on, true, NULL);
	}
}

/* ---- set-up ---- */

static int pty_open(struct console *c)
{
	struct termios t;
	int rc;

	c->ptm = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->ptm < 0)
		return -errno;
	if (grantpt(c->ptm) < 0 || unlockpt(c->ptm) < 0 ||
	    ptsname_r(c->ptm, c->tty, sizeof(c->tty)) != 0)
		return -errno;
	/* We hold the slave ourselves: with no client attached the master
	 * neither hangs up nor loses what the kernel buffers. */
	c->pts = open(c->tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->pts < 0)
		return -errno;
	/* The console carries the guest's input: root only. */
	if (fchmod(c->pts, 0600) < 0)
		return -errno;
	if (tcgetattr(c->pts, &t) < 0)
		return -errno;
	cfmakeraw(&t);
	if (tcsetattr(c->pts, TCSANOW, &t) < 0)
		return -errno;
	rc = fcntl(c->ptm, F_GETFL);
	if (rc < 0 || fcntl(c->ptm, F_SETFL, rc | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* What console_create and console_destroy both undo: the events, the
 * pty, the mapping, the buffers.  The event channel is the callers'. */
static void console_free(struct console *c)
{
	if (c->pty_rd)
		event_free(c->pty_rd);
	if (c->pty_wr)
		event_free(c->pty_wr);
	if (c->timer)
		event_free(c->timer);
	if (c->mapped)
		hv_grant_unmap(c->cd->hv, c->intf, 1);
	if (c->ptm >= 0)
		close(c->ptm);
	if (c->pts >= 0)
		close(c->pts);
	outbuf_destroy(&c->ob);
	guestlog_free(&c->log);
	free(c);
}

/* Stage 1: the structure, nothing acquired yet. */
static struct console *console_alloc(struct consoled *cd,
				     const struct console_cfg *cfg)
{
	struct console *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cd = cd;
	c->domid = cfg->domid;
	c->devid = cfg->devid;
	c->remote_port = cfg->remote_port;
	c->ptm = c->pts = -1;
	c->log.fd = -1;
	if (cfg->devid < 0)
		snprintf(c->label, sizeof(c->label), "dom%u", (unsigned)cfg->domid);
	else
		snprintf(c->label, sizeof(c->label), "dom%u console %d",
			 (unsigned)cfg->domid, cfg->devid);
	outbuf_init(&c->ob, cfg->buffer_size ? cfg->buffer_size : cd->opts.buffer_size);
	ratelimit_init(&c->rl, cd->opts.rate, cd->opts.burst, hv_now_ns());
	return c;
}

/* Stage 2: the guest's side, its ring page and event channel.  The
 * primary console's page is the one the toolstack granted to dom0 as
 * GNTTAB_RESERVED_CONSOLE, as xenconsoled maps it: the guest's
 * console/ring-ref (a frame number) is not a reference. */
static int console_attach(struct console *c, const struct console_cfg *cfg)
{
	struct consoled *cd = c->cd;
	void *page = NULL;
	int rc;

	c->ref = cfg->devid < 0 ? GNTTAB_RESERVED_CONSOLE : cfg->ref;
	rc = hv_grant_map(cd->hv, cfg->domid, 1, &c->ref, 1, &page);
	if (rc < 0) {
		log_warn("%s: cannot map grant %u: %s", c->label, c->ref,
			 strerror(-rc));
		return rc;
	}
	c->intf = page;
	c->mapped = true;
	rc = hv_evtchn_bind_interdomain(cd->hv, cfg->domid, cfg->remote_port,
					&c->port);
	if (rc < 0) {
		log_warn("%s: cannot bind port %u: %s", c->label,
			 cfg->remote_port, strerror(-rc));
		return rc;
	}
	c->bound = true;
	return 0;
}

/* Stage 3: our side, the pty, its events and the guest's log. */
static int console_open_host(struct console *c, const struct console_cfg *cfg)
{
	struct consoled *cd = c->cd;
	int rc = pty_open(c);

	if (rc < 0) {
		log_warn("%s: cannot open a pty: %s", c->label, strerror(-rc));
		return rc;
	}
	c->pty_rd = event_new(cd->base, c->ptm, EV_READ | EV_PERSIST,
			      on_pty_readable, c);
	c->pty_wr = event_new(cd->base, c->ptm, EV_WRITE, on_pty_writable, c);
	c->timer = evtimer_new(cd->base, on_timer, c);
	if (!c->pty_rd || !c->pty_wr || !c->timer)
		return -ENOMEM;
	if (cfg->log_base && cd->opts.log_dir)
		/* A log that cannot be opened is logged, not fatal. */
		guestlog_open(&c->log, cd->opts.log_dir, cfg->log_base,
			      cd->opts.log_max_bytes, cd->opts.timestamps);
	return 0;
}

int console_create(struct consoled *cd, const struct console_cfg *cfg,
		   struct console **out)
{
	struct console *c;
	int rc;

	*out = NULL;
	c = console_alloc(cd, cfg);
	if (!c)
		return -ENOMEM;
	rc = console_attach(c, cfg);
	if (rc < 0)
		goto fail;
	rc = console_open_host(c, cfg);
	if (rc < 0)
		goto fail;
	rc = consoled_port_add(cd, c, c->port);
	if (rc < 0)
		goto fail;
	set_event(c->pty_rd, &c->rd_on, true, NULL);
	cd->nconsoles++;
	log_info("%s: console on %s (port %u, grant %u)", c->label, c->tty,
		 cfg->remote_port, c->ref);
	*out = c;
	/* The guest may have written before we came (or before a restart). */
	drain_out(c);
	notify(c);
	return 0;
fail:
	if (c->bound)
		hv_evtchn_unbind(cd->hv, c->port);
	console_free(c);
	return rc;
}

void console_destroy(struct console *c)
{
	if (!c)
		return;
	if (c->bound) {
		consoled_port_del(c->cd, c, c->port);
		hv_evtchn_unbind(c->cd->hv, c->port);
	}
	c->cd->nconsoles--;
	log_debug("%s: console closed", c->label);
	console_free(c);
}

const char *console_tty(const struct console *c) { return c->tty; }
domid_t console_domid(const struct console *c) { return c->domid; }
int console_devid(const struct console *c) { return c->devid; }
bool console_broken(const struct console *c) { return c->broken; }

void console_stats(const struct console *c, struct console_stats *st)
{
	st->out_bytes = c->out_bytes;
	st->in_bytes = c->in_bytes;
	st->dropped = c->ob.dropped_total;
	st->buffered = c->ob.len;
	st->rate_stalls = c->rate_stalls;
	st->log_bytes = c->log.written;
	st->broken = c->broken;
	st->rate_blocked = c->rate_blocked;
	st->input_blocked = c->input_blocked;
}

void console_reopen_log(struct console *c)
{
	if (!c->broken && c->log.path)
		guestlog_reopen(&c->log);
}

void console_set_buffer(struct console *c, size_t size)
{
	if (!size)
		size = c->cd->opts.buffer_size;
	if (outbuf_set_cap(&c->ob, size) < 0)
		log_warn("%s: cannot resize the output buffer", c->label);
}
