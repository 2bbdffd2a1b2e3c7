/* The domain tracker (tracker.h).
 *
 * Everything a guest can write is input: console/ring-ref, port, type and
 * limit, and the device/console/<id> directories are parsed strictly, and
 * a console that could not be made (or that its guest broke) is not tried
 * again until those values change, so a guest cannot make us loop or log
 * without end.  The log's name comes only from the dom0-owned
 * /local/domain/<id>/name node (XSA-57).  A guest may ask for at most
 * CONSOLED_SECONDARY_MAX secondary consoles.
 *
 * Watch events are only flags (enumerate; domain N changed): all queued
 * events are taken first, then each flagged domain is looked at once, so
 * a guest writing its console directory in a loop costs one look per
 * loop turn, not one per write.
 *
 * A console that fails with -EAGAIN (transient: the sim's hand-over of a
 * channel is full, a grant entry is busy) is tried again a second later,
 * on a timer that is armed only then: an idle daemon runs no timer.
 *
 * A guest changing its values in a loop makes a console set-up (and its
 * log lines: a refusal here and in console.c, a "no usable ring-ref"
 * when it breaks them) per change.  Set-ups are rate-limited per domain
 * (pvd_logrl: PVD_LOGRL_BURST at once, which covers a primary and every
 * secondary console, then PVD_LOGRL_PER_SEC a second): one beyond that is
 * deferred like an -EAGAIN, and one line says how many were when the
 * bucket reopens.  The lines and store writes a domain can cause are thus
 * bounded by its set-ups.
 *
 * The store may restart under us (common/xsconn.c): consoles are served
 * on while it is away (their rings and ptys do not need it), nothing is
 * torn down because a read failed with the connection, and once it is
 * back the watches are set again and every domain is enumerated and
 * scanned anew (on_store_up): a domain gone meanwhile is torn down, a new
 * one served.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <xenstore.h>

#include "console.h"
#include "consoled.h"
#include "guestlog.h"
#include "pvd/log.h"
#include "pvd/num.h"
#include "pvd/ratelimit.h"
#include "pvd/ring_util.h"
#include "pvd/sdnotify.h"
#include "pvd/xsconn.h"
#include "tracker.h"

#define PATH_LEN 128
#define RETRY_SECS 1

struct slot {
	bool used;
	int devid;			/* -1: primary */
	unsigned long ringref;
	evtchn_port_t port;
	bool failed;			/* could not be made from these values */
	struct console *c;
	size_t limit;
};

struct tdom {
	domid_t domid;
	bool dead;		/* hv says gone, its directory is still there */
	bool dirty;
	bool warned_many;	/* more secondary consoles than we serve */
	bool retry;		/* a console failed with -EAGAIN: look again */
	struct pvd_logrl setups;	/* console set-ups (and their lines) */
	struct slot prim;
	struct slot sec[CONSOLED_SECONDARY_MAX];
};

struct tracker {
	struct consoled *cd;
	struct xsconn xc;		/* the store, kept across its restarts */
	struct event *retry_ev;		/* armed only while a retry is due */
	struct tdom **doms;		/* [DOMID_FIRST_RESERVED] */
	domid_t *dirty;
	unsigned ndirty;
	bool need_enum, need_alive;
};

/* ---- parsing ---- */

/* Store names and values are canonical: no leading zero (a guest that
 * writes "07" is not talking about domain 7). */
int tracker_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	uint64_t v;

	if (!s || (s[0] == '0' && s[1]) || pvd_parse_uint(s, max, &v) < 0)
		return -EINVAL;
	*out = (unsigned long)v;
	return 0;
}

int tracker_parse_domid(const char *s, unsigned *out)
{
	unsigned long v;

	if (tracker_parse_uint(s, DOMID_FIRST_RESERVED - 1, &v) < 0 || v == 0)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* ---- the store ---- */

/* An xs call failed: a missing node or a refusal is an answer; anything
 * else may be the connection (xsconn_failed probes it).  A lost
 * connection is not the end: xsconn reconnects and on_store_up looks at
 * everything again. */
static bool store_lost(struct tracker *tr, const char *what)
{
	int err = errno;

	if (err == ENOENT || err == EACCES || err == EPERM)
		return false;
	if (xsconn_failed(&tr->xc, what))
		return true;
	log_warn("store: %s: %s", what, strerror(err));
	return false;
}

/* Stop looking: the daemon stops or the store went away mid-way (what
 * was not read is not "gone"). */
static bool halted(const struct tracker *tr)
{
	return tr->cd->stopping || !xsconn_up(&tr->xc);
}

static char *xs_get(struct tracker *tr, const char *path)
{
	unsigned len;
	char *v = xs_read(tr->xc.xs, XBT_NULL, path, &len);

	if (!v)
		store_lost(tr, path);
	return v;
}

static void slot_dir(const struct tdom *d, const struct slot *s, char *buf,
		     size_t len)
{
	if (s->devid < 0)
		snprintf(buf, len, "/local/domain/%u/console", (unsigned)d->domid);
	else
		snprintf(buf, len, "/local/domain/%u/device/console/%d",
			 (unsigned)d->domid, s->devid);
}

/* Where a console's pty is published: the primary's where Xen has it
 * (console/tty), a secondary's in its backend directory, dom0's:
 * /local/domain/0/backend/console/<domid>/<devid>/tty.  Never in the
 * guest's device/console/<devid>/: the guest could rewrite it and send
 * `pvctl console --num` to any pty. */
static void tty_path(const struct tdom *d, const struct slot *s, char *buf,
		     size_t len)
{
	if (s->devid < 0)
		snprintf(buf, len, "/local/domain/%u/console/tty", (unsigned)d->domid);
	else
		snprintf(buf, len, "/local/domain/0/backend/console/%u/%d/tty",
			 (unsigned)d->domid, s->devid);
}

#define TTY_TXN_TRIES 8

/* Value and permissions in one transaction: dom0 owns the node, the
 * guest may read it.  The primary's node may exist already as the
 * guest's (made in its console directory); a write alone keeps that
 * owner, and pvctl trusts only a dom0-owned node. */
static void tty_write(struct tracker *tr, struct tdom *d, struct slot *s)
{
	struct xs_permissions perms[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = d->domid, .perms = XS_PERM_READ },
	};
	const char *tty = console_tty(s->c);
	char path[PATH_LEN];
	bool ok = false;

	tty_path(d, s, path, sizeof(path));
	for (int i = 0; !ok && i < TTY_TXN_TRIES; i++) {
		xs_transaction_t t = xs_transaction_start(tr->xc.xs);

		if (t == XBT_NULL)
			break;
		ok = xs_write(tr->xc.xs, t, path, tty, (unsigned)strlen(tty)) &&
		     xs_set_permissions(tr->xc.xs, t, path, perms, 2);
		if (!ok) {
			int e = errno;

			xs_transaction_end(tr->xc.xs, t, true);
			errno = e;
			break;
		}
		ok = xs_transaction_end(tr->xc.xs, t, false);
		if (!ok && errno != EAGAIN)
			break;
	}
	if (!ok)
		log_warn("dom%u: cannot write %s: %s", (unsigned)d->domid, path,
			 strerror(errno));
}

/* A secondary's backend directory goes with its tty node when nothing
 * else is in it (we made it): a guest cycling console ids leaves no
 * nodes behind. */
static void tty_remove(struct tracker *tr, struct tdom *d, struct slot *s)
{
	char path[PATH_LEN];
	unsigned n = 1;
	char **left;

	if ((tr->cd->stopping && tr->cd->exit_code) || !xsconn_up(&tr->xc))
		return;		/* the store is gone */
	tty_path(d, s, path, sizeof(path));
	xs_rm(tr->xc.xs, XBT_NULL, path);
	if (s->devid < 0)
		return;
	*strrchr(path, '/') = '\0';
	left = xs_directory(tr->xc.xs, XBT_NULL, path, &n);
	if (left && n == 0)
		xs_rm(tr->xc.xs, XBT_NULL, path);
	free(left);
}

/* The log's base name: the dom0-owned name node, sanitised, else the
 * domid; "-console<N>" for secondary consoles. */
static void log_base(struct tracker *tr, struct tdom *d, int devid, char *out,
		     size_t len)
{
	char path[PATH_LEN], clean[GUESTLOG_NAME_MAX + 1];
	struct xs_permissions *perms;
	unsigned n = 0, vlen;
	char *name = NULL;
	bool ok = false;

	snprintf(path, sizeof(path), "/local/domain/%u/name", (unsigned)d->domid);
	perms = xs_get_permissions(tr->xc.xs, XBT_NULL, path, &n);
	if (perms && n >= 1 && perms[0].id == 0) {
		name = xs_read(tr->xc.xs, XBT_NULL, path, &vlen);
		ok = name && guestlog_sanitize(name, clean, sizeof(clean)) > 0;
	} else if (perms) {
		log_info("dom%u: %s is not owned by dom0: its log is named by domid",
			 (unsigned)d->domid, path);
	}
	free(perms);
	free(name);
	if (!ok)
		snprintf(clean, sizeof(clean), "%u", (unsigned)d->domid);
	if (devid < 0)
		snprintf(out, len, "%s", clean);
	else
		snprintf(out, len, "%s-console%d", clean, devid);
}

/* ---- consoles ---- */

static void slot_close(struct tracker *tr, struct tdom *d, struct slot *s,
		       bool remove_tty)
{
	if (s->c) {
		/* A secondary's node is dom0's: it goes even when the
		 * guest's directory went. */
		if ((remove_tty || s->devid >= 0) && !console_broken(s->c))
			tty_remove(tr, d, s);
		console_destroy(s->c);
	}
	s->c = NULL;
	s->used = false;
	s->failed = false;
}

/* What the store says about one console: 1 (serve it; ref, port and limit
 * set), 0 (nothing to serve), or -1 (the store is gone). */
static int slot_read(struct tracker *tr, const char *dir, unsigned long *ref,
		     evtchn_port_t *port, size_t *limit)
{
	char path[PATH_LEN + 16];
	char *v_ref, *v_port, *v_type, *v_limit;
	unsigned long p = 0, l = 0;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/ring-ref", dir);
	v_ref = xs_get(tr, path);
	snprintf(path, sizeof(path), "%s/port", dir);
	v_port = v_ref ? xs_get(tr, path) : NULL;
	snprintf(path, sizeof(path), "%s/type", dir);
	v_type = v_port ? xs_get(tr, path) : NULL;
	snprintf(path, sizeof(path), "%s/limit", dir);
	v_limit = v_port ? xs_get(tr, path) : NULL;
	if (halted(tr)) {
		rc = -1;
		goto out;
	}
	if (!v_ref || !v_port)
		goto out;
	/* Another backend's console (e.g. "ioemu"). */
	if (v_type && strcmp(v_type, "xenconsoled") != 0)
		goto out;
	if (tracker_parse_uint(v_ref, 0xffffffffu, ref) < 0 ||
	    tracker_parse_uint(v_port, 0xffffffffu, &p) < 0)
		goto out;
	*port = (evtchn_port_t)p;
	*limit = 0;
	/* The guest can write it: it may only shrink its own buffer. */
	if (v_limit && tracker_parse_uint(v_limit, ~0ul, &l) == 0 && l > 0 &&
	    l < tr->cd->opts.buffer_size)
		*limit = l;
	rc = 1;
out:
	free(v_ref);
	free(v_port);
	free(v_type);
	free(v_limit);
	return rc;
}

/* Whether the domain may have another console set-up now. */
static bool dom_may_setup(struct tdom *d)
{
	uint64_t deferred;

	if (!pvd_logrl_allow(&d->setups, hv_now_ns(), &deferred))
		return false;
	if (deferred)
		log_warn("dom%u: %llu console set-ups deferred (rate limit: %u, then %u a second)",
			 (unsigned)d->domid, (unsigned long long)deferred,
			 PVD_LOGRL_BURST, PVD_LOGRL_PER_SEC);
	return true;
}

/* Not now: look again in a second. */
static void slot_defer(struct tracker *tr, struct tdom *d, struct slot *s)
{
	struct timeval tv = { RETRY_SECS, 0 };

	s->used = false;
	s->c = NULL;
	d->retry = true;
	if (!evtimer_pending(tr->retry_ev, NULL))
		evtimer_add(tr->retry_ev, &tv);
}

static void slot_update(struct tracker *tr, struct tdom *d, struct slot *s,
			int devid)
{
	char dir[PATH_LEN], base[GUESTLOG_NAME_MAX + 24];
	struct console_cfg cfg = { 0 };
	unsigned long ref = 0;
	evtchn_port_t port = 0;
	size_t limit = 0;
	int rc;

	s->devid = devid;
	slot_dir(d, s, dir, sizeof(dir));
	rc = slot_read(tr, dir, &ref, &port, &limit);
	if (rc < 0)
		return;
	if (rc == 0) {
		if (s->used)
			log_info("dom%u: %s has no usable ring-ref/port any more",
				 (unsigned)d->domid, dir);
		slot_close(tr, d, s, true);
		return;
	}
	if (s->used && s->ringref == ref && s->port == port) {
		if (s->c && !console_broken(s->c) && s->limit != limit) {
			console_set_buffer(s->c, limit);
			s->limit = limit;
		}
		return;		/* served, broken or failed: unchanged */
	}
	slot_close(tr, d, s, false);
	s->used = true;
	s->devid = devid;
	s->ringref = ref;
	s->port = port;
	s->limit = limit;
	cfg.domid = d->domid;
	cfg.devid = devid;
	cfg.ref = (grant_ref_t)ref;
	cfg.remote_port = port;
	cfg.buffer_size = limit;
	if (!dom_may_setup(d)) {
		slot_defer(tr, d, s);
		return;
	}
	if (tr->cd->opts.log_dir) {
		log_base(tr, d, devid, base, sizeof(base));
		cfg.log_base = base;
	}
	rc = console_create(tr->cd, &cfg, &s->c);
	if (rc == -EAGAIN) {
		/* Transient (the sim's channel hand-over is full, a grant
		 * entry busy). */
		slot_defer(tr, d, s);
		return;
	}
	if (rc < 0) {
		s->failed = true;
		s->c = NULL;
		log_warn("dom%u: %s not served (%s); waiting for its nodes to change",
			 (unsigned)d->domid, dir, strerror(-rc));
		return;
	}
	if (!console_broken(s->c))
		tty_write(tr, d, s);
}

static int cmp_devid(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

static void dom_scan(struct tracker *tr, struct tdom *d)
{
	char path[PATH_LEN];
	unsigned long ids[CONSOLED_SECONDARY_MAX];
	unsigned n = 0, nids = 0;
	char **names;

	slot_update(tr, d, &d->prim, -1);
	if (halted(tr))
		return;
	snprintf(path, sizeof(path), "/local/domain/%u/device/console",
		 (unsigned)d->domid);
	names = xs_directory(tr->xc.xs, XBT_NULL, path, &n);
	if (!names) {
		if (store_lost(tr, path))
			return;
		n = 0;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned long id;

		if (tracker_parse_uint(names[i], 65535, &id) < 0)
			continue;
		if (nids == CONSOLED_SECONDARY_MAX) {
			if (!d->warned_many)
				log_warn("dom%u: more than %u secondary consoles: the others are not served",
					 (unsigned)d->domid, CONSOLED_SECONDARY_MAX);
			d->warned_many = true;
			break;
		}
		ids[nids++] = id;
	}
	free(names);
	qsort(ids, nids, sizeof(ids[0]), cmp_devid);
	/* Keep each served console in its slot; close those gone. */
	for (unsigned k = 0; k < CONSOLED_SECONDARY_MAX; k++) {
		struct slot *s = &d->sec[k];
		bool keep = false;

		for (unsigned i = 0; s->used && i < nids; i++)
			keep |= (unsigned long)s->devid == ids[i];
		if (s->used && !keep)
			slot_close(tr, d, s, false);
	}
	for (unsigned i = 0; i < nids && !halted(tr); i++) {
		struct slot *s = NULL, *free_slot = NULL;

		for (unsigned k = 0; k < CONSOLED_SECONDARY_MAX; k++) {
			if (d->sec[k].used && (unsigned long)d->sec[k].devid == ids[i])
				s = &d->sec[k];
			else if (!d->sec[k].used && !free_slot)
				free_slot = &d->sec[k];
		}
		if (!s)
			s = free_slot;
		if (s)
			slot_update(tr, d, s, (int)ids[i]);
	}
}

/* ---- domains ---- */

static void mark_dirty(struct tracker *tr, struct tdom *d)
{
	if (d->dirty || d->dead)
		return;
	d->dirty = true;
	tr->dirty[tr->ndirty++] = d->domid;	/* at most one entry per domain */
}

/* Tears down a domain's consoles; in_store: its nodes are still there
 * (remove our tty nodes). */
static void dom_close(struct tracker *tr, struct tdom *d, bool in_store)
{
	slot_close(tr, d, &d->prim, in_store);
	for (unsigned k = 0; k < CONSOLED_SECONDARY_MAX; k++)
		slot_close(tr, d, &d->sec[k], in_store);
}

static void dom_free(struct tracker *tr, struct tdom *d, bool in_store)
{
	dom_close(tr, d, in_store);
	tr->doms[d->domid] = NULL;
	free(d);
}

static void dom_new(struct tracker *tr, unsigned domid)
{
	struct tdom *d = calloc(1, sizeof(*d));

	if (!d) {
		log_err("dom%u: out of memory", domid);
		return;
	}
	d->domid = (domid_t)domid;
	d->prim.devid = -1;
	pvd_logrl_init(&d->setups, hv_now_ns());
	tr->doms[domid] = d;
	if (hv_domain_alive(tr->cd->hv, d->domid) == 0) {
		d->dead = true;
		return;
	}
	mark_dirty(tr, d);
}

static void enumerate(struct tracker *tr, bool check_alive)
{
	static const size_t nbits = DOMID_FIRST_RESERVED;
	unsigned char present[DOMID_FIRST_RESERVED / 8] = { 0 };
	unsigned n = 0;
	char **names;

	names = xs_directory(tr->xc.xs, XBT_NULL, "/local/domain", &n);
	if (!names) {
		if (store_lost(tr, "/local/domain"))
			return;
		n = 0;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned id;

		if (tracker_parse_domid(names[i], &id) == 0)
			present[id / 8] |= (unsigned char)(1u << (id % 8));
	}
	free(names);
	for (size_t id = 1; id < nbits && !halted(tr); id++) {
		struct tdom *d = tr->doms[id];
		bool here = present[id / 8] & (1u << (id % 8));

		if (d && !here) {
			log_info("dom%zu is gone from the store", id);
			dom_free(tr, d, false);
		} else if (d && !d->dead && check_alive &&
			   hv_domain_alive(tr->cd->hv, (domid_t)id) == 0) {
			log_info("dom%zu is dead", id);
			dom_close(tr, d, true);
			d->dead = true;
			d->dirty = false;
		} else if (d && d->dead && !check_alive &&
			   hv_domain_alive(tr->cd->hv, (domid_t)id) == 1) {
			/* Introduced again: a new domain with the same id. */
			dom_free(tr, d, true);
			dom_new(tr, (unsigned)id);
		} else if (!d && here) {
			dom_new(tr, (unsigned)id);
		}
	}
}

static void process(struct tracker *tr)
{
	if (!xsconn_up(&tr->xc))
		return;		/* flags and dirty domains wait for it */
	if (tr->need_enum) {
		bool alive = tr->need_alive;

		tr->need_enum = tr->need_alive = false;
		enumerate(tr, alive);
	}
	for (unsigned i = 0; i < tr->ndirty && !halted(tr); i++) {
		struct tdom *d = tr->doms[tr->dirty[i]];

		if (!d || !d->dirty)
			continue;
		d->dirty = false;
		dom_scan(tr, d);
	}
	if (!xsconn_up(&tr->xc))
		return;		/* lost mid-way: on_store_up rescans all */
	tr->ndirty = 0;
}

/* An event of the watch on /local/domain: a domain we do not know yet
 * (its directory was made or removed) asks for an enumeration; a change
 * in a known domain's console directories flags that domain. */
static void on_path(struct tracker *tr, const char *path)
{
	static const char top[] = "/local/domain/";
	char id[8];
	const char *rest;
	size_t n;
	unsigned domid;

	if (strncmp(path, top, sizeof(top) - 1) != 0) {
		tr->need_enum = true;	/* /local/domain itself */
		return;
	}
	path += sizeof(top) - 1;
	rest = strchr(path, '/');
	n = rest ? (size_t)(rest - path) : strlen(path);
	if (n >= sizeof(id))
		return;
	memcpy(id, path, n);
	id[n] = '\0';
	if (tracker_parse_domid(id, &domid) < 0)
		return;
	if (!tr->doms[domid] || !rest) {
		tr->need_enum = true;
		return;
	}
	rest++;
	if (strncmp(rest, "console", 7) == 0 && (!rest[7] || rest[7] == '/'))
		mark_dirty(tr, tr->doms[domid]);
	else if (strncmp(rest, "device/console", 14) == 0 &&
		 (!rest[14] || rest[14] == '/'))
		mark_dirty(tr, tr->doms[domid]);
	else if (!strcmp(rest, "device"))
		mark_dirty(tr, tr->doms[domid]);	/* removed with its subtree */
}

static void on_xs_event(void *arg, const char *path, const char *token)
{
	struct tracker *tr = arg;

	if (strcmp(token, "intro") == 0)
		tr->need_enum = true;
	else if (strcmp(token, "release") == 0)
		tr->need_enum = tr->need_alive = true;
	else if (strcmp(token, "top") == 0)
		on_path(tr, path);
}

static void on_xs_batch_end(void *arg)
{
	process(arg);
}

/* Connected (again): the watches (set here the first time, again by
 * xsconn after) fire once on their own; after a lost connection every
 * domain is enumerated (releases may have been missed) and scanned. */
static void on_store_up(void *arg, bool again)
{
	struct tracker *tr = arg;

	if (!xsconn_watch(&tr->xc, "@introduceDomain", "intro") ||
	    !xsconn_watch(&tr->xc, "@releaseDomain", "release") ||
	    !xsconn_watch(&tr->xc, "/local/domain", "top"))
		log_err("cannot set the store watches: %s", strerror(errno));
	tr->need_enum = true;
	if (again) {
		tr->need_alive = true;
		tr->ndirty = 0;
		for (unsigned id = 1; id < DOMID_FIRST_RESERVED; id++) {
			if (tr->doms[id])
				tr->doms[id]->dirty = false;
			if (tr->doms[id])
				mark_dirty(tr, tr->doms[id]);
		}
	}
	process(tr);
	if (!again)
		pvd_notify_ready();	/* serving: connected, watching */
}

static const struct xsconn_ops store_ops = {
	.up = on_store_up,
	.event = on_xs_event,
	.batch_end = on_xs_batch_end,
};

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct tracker *tr = arg;

	for (unsigned id = 1; id < DOMID_FIRST_RESERVED; id++) {
		struct tdom *d = tr->doms[id];

		if (d && d->retry) {
			d->retry = false;
			mark_dirty(tr, d);
		}
	}
	process(tr);
}

static void on_broken(void *arg, struct console *c)
{
	struct tracker *tr = arg;
	struct tdom *d = tr->doms[console_domid(c)];
	struct slot *s = NULL;

	if (!d)
		return;
	if (d->prim.c == c)
		s = &d->prim;
	for (unsigned k = 0; !s && k < CONSOLED_SECONDARY_MAX; k++)
		if (d->sec[k].c == c)
			s = &d->sec[k];
	if (s)
		tty_remove(tr, d, s);
}

int tracker_start(struct consoled *cd, struct tracker **out)
{
	struct tracker *tr;
	int rc;

	*out = NULL;
	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return -ENOMEM;
	tr->cd = cd;
	tr->doms = calloc(DOMID_FIRST_RESERVED, sizeof(*tr->doms));
	/* A domain is listed at most once per flag; a domid reused within
	 * one turn can be listed twice. */
	tr->dirty = calloc(2 * DOMID_FIRST_RESERVED, sizeof(*tr->dirty));
	if (!tr->doms || !tr->dirty) {
		rc = -ENOMEM;
		goto fail;
	}
	tr->retry_ev = evtimer_new(cd->base, on_retry, tr);
	if (!tr->retry_ev) {
		rc = -ENOMEM;
		goto fail;
	}
	cd->tr = tr;
	cd->on_broken = on_broken;
	cd->on_broken_arg = tr;
	/* Serves the domains that run already (a restart) once connected:
	 * now, or when the store comes (on_store_up). */
	rc = xsconn_start(&tr->xc, cd->base, &store_ops, tr);
	if (rc < 0)
		goto fail;
	*out = tr;
	return 0;
fail:
	tracker_stop(tr);
	return rc;
}

void tracker_stop(struct tracker *tr)
{
	if (!tr)
		return;
	if (tr->retry_ev)
		event_free(tr->retry_ev);
	tr->retry_ev = NULL;
	for (unsigned id = 1; tr->doms && id < DOMID_FIRST_RESERVED; id++)
		if (tr->doms[id])
			dom_free(tr, tr->doms[id], xsconn_up(&tr->xc) &&
				 !tr->cd->exit_code);
	if (tr->cd->tr == tr) {
		tr->cd->tr = NULL;
		tr->cd->on_broken = NULL;
	}
	xsconn_stop(&tr->xc);
	free(tr->doms);
	free(tr->dirty);
	free(tr);
}

void tracker_reopen_logs(struct tracker *tr)
{
	for (unsigned id = 1; tr && id < DOMID_FIRST_RESERVED; id++) {
		struct tdom *d = tr->doms[id];

		if (!d)
			continue;
		if (d->prim.c)
			console_reopen_log(d->prim.c);
		for (unsigned k = 0; k < CONSOLED_SECONDARY_MAX; k++)
			if (d->sec[k].c)
				console_reopen_log(d->sec[k].c);
	}
}

bool tracker_store_up(const struct tracker *tr)
{
	return tr && xsconn_up(&tr->xc);
}

void tracker_each(const struct tracker *tr, tracker_console_fn *fn, void *arg)
{
	for (unsigned id = 1; tr && id < DOMID_FIRST_RESERVED; id++) {
		const struct tdom *d = tr->doms[id];

		if (!d)
			continue;
		if (d->prim.c)
			fn(arg, d->prim.c);
		for (unsigned k = 0; k < CONSOLED_SECONDARY_MAX; k++)
			if (d->sec[k].c)
				fn(arg, d->sec[k].c);
	}
}

unsigned tracker_nconsoles(const struct tracker *tr)
{
	unsigned n = 0;

	for (unsigned id = 1; tr && id < DOMID_FIRST_RESERVED; id++) {
		const struct tdom *d = tr->doms[id];

		if (!d)
			continue;
		n += d->prim.c && !console_broken(d->prim.c);
		for (unsigned k = 0; k < CONSOLED_SECONDARY_MAX; k++)
			n += d->sec[k].c && !console_broken(d->sec[k].c);
	}
	return n;
}
