/* Connections: framing, the bounded output queue, closing (design in
 * conn.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "conn.h"
#include "core.h"
#include "domain.h"
#include "pvd/log.h"
#include "stored.h"
#include "txn.h"
#include "watch.h"

#define IN_READ_MAX (64 * 1024)	/* one read's worth of requests */
#define OUT_SOFT_MAX (256 * 1024)	/* stop reading above this */

const char *xs_errno_name(int err)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == err)
			return xsd_errors[i].errstring;
	return "EIO";
}

int conn_admit(struct stored *sd, unsigned domid, bool privileged)
{
	const struct quota *q = &sd->quota;
	unsigned limit = q->max_conns;
	const struct domain *d;

	if (sd->fd_conns && sd->fd_conns < limit)
		limit = sd->fd_conns;
	/* The last slots are dom0's, so that guests cannot lock it out. */
	if (!privileged)
		limit = limit > q->dom0_reserve ? limit - q->dom0_reserve : 0;
	if (sd->nconns >= limit) {
		sd->quota_refusals[QK_MAX_CONNS]++;
		sd->rejected_conns++;
		return -EMFILE;
	}
	d = domain_get(&sd->domains, domid, false);
	if (!privileged && d && d->nconns >= q->domain_conns) {
		sd->quota_refusals[QK_DOMAIN_CONNS]++;
		sd->rejected_conns++;
		return -EDQUOT;
	}
	return 0;
}

struct conn *conn_new(struct stored *sd, const struct conn_ops *ops,
		      void *tp, unsigned domid, bool privileged)
{
	struct conn *c;

	if (conn_admit(sd, domid, privileged) < 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->sd = sd;
	c->ops = ops;
	c->tp = tp;
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->dom = domain_get(&sd->domains, domid, true);
	if (!c->in || !c->out || !c->dom) {
		if (c->in)
			evbuffer_free(c->in);
		if (c->out)
			evbuffer_free(c->out);
		free(c);
		return NULL;
	}
	c->dom->nconns++;
	c->who.domid = domid;
	c->who.privileged = privileged;
	c->who.target = c->dom->target;
	c->next = sd->conns;
	if (sd->conns)
		sd->conns->pprev = &c->next;
	c->pprev = &sd->conns;
	sd->conns = c;
	sd->nconns++;
	return c;
}

static void mark_dirty(struct conn *c)
{
	if (c->on_dirty)
		return;
	c->on_dirty = true;
	c->dnext = c->sd->dirty;
	c->sd->dirty = c;
}

void conn_close(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	log_debug("closing %s connection (dom%u): %s", c->ops->name,
		  c->who.domid, why);
	c->dead = true;
	/* Its output is never sent now: the domain's totals forget it at
	 * once (a domain released and introduced again starts from zero). */
	c->dom->out_bytes -= c->out_added - c->out_sent;
	c->dom->nevents -= c->pending_events;
	watch_remove_all(c);
	core_txn_abort_all(c);
	c->ops->destroy(c);
	c->tp = NULL;
	mark_dirty(c);		/* reaped at the next flush */
}

static void conn_free(struct conn *c)
{
	struct stored *sd = c->sd;

	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	sd->nconns--;
	c->dom->nconns--;
	domain_put(&sd->domains, c->dom);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	free(c->marks);
	free(c);
}

static bool over_limits(const struct conn *c)
{
	if (evbuffer_get_length(c->out) > OUT_SOFT_MAX)
		return true;
	return !c->who.privileged &&
	       c->pending_replies >= c->sd->quota.outstanding;
}

/* Processes every complete request in the input buffer, unless the
 * client has too much unread output, in which case reading pauses until
 * the flush has sent some of it. */
static void conn_process(struct conn *c)
{
	struct xsd_sockmsg hdr;
	char body[XENSTORE_PAYLOAD_MAX + 1];

	while (!c->dead) {
		if (over_limits(c)) {
			if (!c->read_paused) {
				c->read_paused = true;
				c->ops->want_read(c, false);
			}
			return;
		}
		if (evbuffer_copyout(c->in, &hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return;
		if (hdr.len > XENSTORE_PAYLOAD_MAX) {
			/* As xenstored: a client that breaks the framing
			 * cannot be resynchronised. */
			conn_close(c, "payload over XENSTORE_PAYLOAD_MAX");
			return;
		}
		if (evbuffer_get_length(c->in) < sizeof(hdr) + hdr.len)
			return;
		evbuffer_drain(c->in, sizeof(hdr));
		evbuffer_remove(c->in, body, hdr.len);
		body[hdr.len] = '\0';
		core_dispatch(c, &hdr, body);
	}
}

void conn_on_readable(struct conn *c)
{
	ssize_t n;

	if (c->dead || c->read_paused)
		return;
	if (evbuffer_get_length(c->in) < IN_READ_MAX) {
		n = c->ops->fill(c, c->in, IN_READ_MAX);
		if (n == 0) {
			conn_close(c, "end of file");
			return;
		}
		if (n < 0 && n != -EAGAIN) {
			conn_close(c, strerror((int)-n));
			return;
		}
	}
	conn_process(c);
}

void conn_on_writable(struct conn *c)
{
	mark_dirty(c);
}

/* Whether one more event of len bytes would pass the connection's queue
 * or, for a guest, its domain's totals over all its connections
 * (XSA-326: a domain that opens many connections gets no more). */
static bool event_over_quota(const struct conn *c, unsigned len,
			     enum quota_kind *k)
{
	const struct quota *q = &c->sd->quota;

	*k = QK_EVENT_QUEUE;
	if (c->pending_events >= q->event_queue)
		return true;
	if (c->who.privileged)
		return false;
	*k = QK_DOMAIN_EVENTS;
	if (c->dom->nevents >= q->domain_events)
		return true;
	*k = QK_DOMAIN_OUTPUT;
	return c->dom->out_bytes + sizeof(struct xsd_sockmsg) + len >
	       q->domain_output;
}

int conn_send(struct conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
	      const void *body, unsigned len, bool is_event)
{
	struct xsd_sockmsg hdr = { type, req_id, tx_id, len };
	enum quota_kind k;

	if (c->dead)
		return -EPIPE;
	if (is_event && event_over_quota(c, len, &k)) {
		c->sd->quota_refusals[k]++;
		c->dom->dropped_events++;
		if (c->dropped_events++ == 0)
			log_warn("dom%u: watch events not read (%u queued here, "
				 "%u for the domain): dropping", c->who.domid,
				 c->pending_events, c->dom->nevents);
		return -ENOSPC;
	}
	if (c->mcount == c->mcap) {
		unsigned ncap = c->mcap ? c->mcap * 2 : 16;
		struct out_mark *m = malloc(ncap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		for (unsigned i = 0; i < c->mcount; i++)
			m[i] = c->marks[(c->mhead + i) % c->mcap];
		free(c->marks);
		c->marks = m;
		c->mcap = ncap;
		c->mhead = 0;
	}
	if (evbuffer_add(c->out, &hdr, sizeof(hdr)) < 0 ||
	    evbuffer_add(c->out, body, len) < 0)
		return -ENOMEM;
	c->out_added += sizeof(hdr) + len;
	c->dom->out_bytes += sizeof(hdr) + len;
	c->marks[(c->mhead + c->mcount++) % c->mcap] =
		(struct out_mark){ c->out_added, is_event };
	if (is_event) {
		c->pending_events++;
		c->dom->nevents++;
	} else
		c->pending_replies++;
	mark_dirty(c);
	return 0;
}

int conn_send_error(struct conn *c, const struct xsd_sockmsg *req, int err)
{
	const char *s = xs_errno_name(err);

	return conn_send(c, XS_ERROR, req->req_id, req->tx_id, s,
			 strlen(s) + 1, false);
}

static void marks_retire(struct conn *c)
{
	while (c->mcount && c->marks[c->mhead].end <= c->out_sent) {
		if (c->marks[c->mhead].is_event) {
			c->pending_events--;
			c->dom->nevents--;
		} else
			c->pending_replies--;
		c->mhead = (c->mhead + 1) % c->mcap;
		c->mcount--;
	}
}

bool conn_flush(struct conn *c)
{
	ssize_t n;

	if (c->dead)
		return false;
	while (evbuffer_get_length(c->out)) {
		n = c->ops->drain(c, c->out);
		if (n == -EAGAIN || n == 0)
			break;
		if (n < 0) {
			conn_close(c, "write failed");
			return false;
		}
		c->out_sent += (uint64_t)n;
		c->dom->out_bytes -= (uint64_t)n;
	}
	marks_retire(c);
	c->ops->want_write(c, evbuffer_get_length(c->out) > 0);
	if (c->read_paused && !over_limits(c)) {
		c->read_paused = false;
		c->ops->want_read(c, true);
		/* Requests already buffered, and what waits in the
		 * transport: a ring's guest notified once and will not
		 * again (ring_want_read arms nothing). */
		conn_on_readable(c);
	}
	return true;
}

void conn_reap(struct stored *sd)
{
	struct conn *c = sd->dirty, *next;

	sd->dirty = NULL;
	for (; c; c = next) {
		next = c->dnext;
		c->on_dirty = false;
		if (c->dead)
			conn_free(c);
		else
			conn_flush(c);
		/* conn_flush may put c back on sd->dirty: with new replies
		 * (buffered requests processed), or dead (a failed write
		 * closes it); the next reap sends or frees it. */
	}
}
