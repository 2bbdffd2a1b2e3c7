/* The guest's xenbus socket; see xenbus_proxy.h.
 *
 * Each client has a FIFO of its requests (struct preq) in the order it
 * sent them.  A request is either forwarded (waiting for the store) or
 * answered here (a bad frame, a transaction id that is not the client's, a
 * limit); replies leave from the head of the FIFO only, so a client sees
 * its replies in order whatever answered them.  The FIFO's length bounds
 * what one client holds: reading from it pauses at max_queued, and while
 * its unread output is over max_output.
 *
 * The bookkeeping that cleanup relies on (the client's watches and
 * transactions) changes only on the store's replies, so it is exact once
 * nothing is in flight.  A client that goes away therefore stays, without
 * its socket, until its last request is answered; then it unwatches and
 * aborts one request at a time and is freed.  It counts against
 * max_clients meanwhile, so a store that never answers cannot make the
 * proxy hold an unbounded number of dead clients.
 *
 * Nothing here is called back from inside xenbus_request, so handling a
 * frame never re-enters the client. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <xen/io/xs_wire.h>

#include "pvd/log.h"
#include "pvd/num.h"
#include "xenbus_xs.h"
#include "xenbus_proxy.h"

#define HDR_LEN sizeof(struct xsd_sockmsg)

struct client;

struct preq {
	struct preq *next;
	struct client *c;
	uint32_t req_id, tx_id, type;	/* as the client sent them */
	bool waiting;			/* at the store */
	bool silent;			/* cleanup: no reply to the client */
	char *path, *token;		/* WATCH/UNWATCH, as the client named them */
	struct xsd_sockmsg rhdr;	/* the reply, once there */
	char *rbody;
};

struct watch_ent {
	struct watch_ent *next;
	char *path, *token;
};

struct client {
	struct client *next, *prev;
	struct xenbus_proxy *p;
	struct bufferevent *bev;	/* NULL once the client is gone */
	uint64_t id;
	char prefix[XENBUS_PREFIX_MAX + 1];
	size_t prefix_len;
	struct preq *qhead, *qtail;
	unsigned nqueued;		/* in the FIFO */
	unsigned waiting;		/* of those, at the store */
	unsigned watch_starting, txn_starting;
	struct watch_ent *watches;
	unsigned nwatches;
	uint32_t *txns;
	unsigned ntxns;
	bool reading;
	uint64_t events_dropped;
};

struct xenbus_proxy {
	struct event_base *base;
	struct xenbus *xb;
	struct xenbus_proxy_limits lim;
	struct evconnlistener *listener;
	struct event *accept_retry;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client *clients;
	unsigned nclients, nclosing;
	uint64_t next_id;
	uint64_t refused, bad_frames, events_dropped;
};

static void client_pump(struct client *c);
static void client_close(struct client *c, const char *why);

/* ---- small helpers ---------------------------------------------------- */

static char *memdup0(const void *p, size_t len)
{
	char *s = malloc(len + 1);

	if (s) {
		memcpy(s, p, len);
		s[len] = '\0';
	}
	return s;
}

static void preq_free(struct preq *q)
{
	free(q->path);
	free(q->token);
	free(q->rbody);
	free(q);
}

static const char *errno_name(int err)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == err)
			return xsd_errors[i].errstring;
	return "EIO";
}

static bool client_owns_txn(const struct client *c, uint32_t id)
{
	for (unsigned i = 0; i < c->ntxns; i++)
		if (c->txns[i] == id)
			return true;
	return false;
}

static void client_drop_txn(struct client *c, uint32_t id)
{
	for (unsigned i = 0; i < c->ntxns; i++) {
		if (c->txns[i] == id) {
			c->txns[i] = c->txns[--c->ntxns];
			return;
		}
	}
}

static bool any_client_owns_txn(const struct xenbus_proxy *p, uint32_t id)
{
	for (const struct client *c = p->clients; c; c = c->next)
		if (client_owns_txn(c, id))
			return true;
	return false;
}

static struct watch_ent **watch_find(struct client *c, const char *path,
				     const char *token)
{
	struct watch_ent **pp;

	for (pp = &c->watches; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->path, path) == 0 &&
		    strcmp((*pp)->token, token) == 0)
			return pp;
	return NULL;
}

static void watch_ent_free(struct watch_ent *w)
{
	free(w->path);
	free(w->token);
	free(w);
}

/* "path\0token\0": both strings must end inside the body. */
static int split_watch(const char *body, uint32_t len, const char **path,
		       const char **token)
{
	const char *nul = memchr(body, '\0', len);

	if (!nul || !memchr(nul + 1, '\0', len - (size_t)(nul + 1 - body)))
		return -EINVAL;
	*path = body;
	*token = nul + 1;
	return 0;
}

/* "path\0<prefix><token>\0" into buf (XENSTORE_PAYLOAD_MAX bytes). */
static int watch_body(const struct client *c, const char *path,
		      const char *token, char *buf, uint32_t *len)
{
	size_t pl = strlen(path) + 1, tl = strlen(token) + 1;

	if (pl + c->prefix_len + tl > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	memcpy(buf, path, pl);
	memcpy(buf + pl, c->prefix, c->prefix_len);
	memcpy(buf + pl + c->prefix_len, token, tl);
	*len = (uint32_t)(pl + c->prefix_len + tl);
	return 0;
}

/* ---- the FIFO ------------------------------------------------------------ */

static struct preq *preq_append(struct client *c, const struct xsd_sockmsg *h)
{
	struct preq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->c = c;
	q->req_id = h->req_id;
	q->tx_id = h->tx_id;
	q->type = h->type;
	if (c->qtail)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	c->nqueued++;
	return q;
}

/* Answers q here (the store never sees it). */
static void preq_local(struct preq *q, uint32_t type, const char *body)
{
	size_t len = strlen(body) + 1;

	q->rhdr = (struct xsd_sockmsg){ .type = type, .req_id = q->req_id,
					.tx_id = q->tx_id, .len = (uint32_t)len };
	q->rbody = memdup0(body, len);
	if (!q->rbody)
		q->rhdr.len = 0;	/* an empty reply rather than none */
}

static void preq_error(struct preq *q, const char *err)
{
	preq_local(q, XS_ERROR, err);
}

/* Writes out every answered request at the head of the FIFO. */
static void client_flush(struct client *c)
{
	while (c->qhead && !c->qhead->waiting) {
		struct preq *q = c->qhead;

		c->qhead = q->next;
		if (!c->qhead)
			c->qtail = NULL;
		c->nqueued--;
		if (!q->silent && c->bev) {
			struct evbuffer *out = bufferevent_get_output(c->bev);

			evbuffer_add(out, &q->rhdr, HDR_LEN);
			if (q->rhdr.len)
				evbuffer_add(out, q->rbody, q->rhdr.len);
		}
		preq_free(q);
	}
}

/* ---- replies from the store ------------------------------------------------ */

/* The store took a WATCH: the client's watch is tracked. */
static void reply_watch(struct client *c, struct preq *q, bool ok)
{
	struct watch_ent *w;

	c->watch_starting--;
	if (!ok || watch_find(c, q->path, q->token))
		return;
	w = calloc(1, sizeof(*w));
	if (!w) {
		log_err("out of memory: client %" PRIu64 " watch not tracked", c->id);
		return;
	}
	w->path = q->path;
	w->token = q->token;
	q->path = q->token = NULL;
	w->next = c->watches;
	c->watches = w;
	c->nwatches++;
}

static void reply_unwatch(struct client *c, struct preq *q, bool ok, bool err,
			  const char *body)
{
	struct watch_ent **pp, *w;

	/* Cleanup must progress whatever the store says; ENOENT means the
	 * store has no such watch either. */
	if (!ok && !q->silent && !(err && strcmp(body, "ENOENT") == 0))
		return;
	pp = watch_find(c, q->path, q->token);
	if (!pp)
		return;
	w = *pp;
	*pp = w->next;
	watch_ent_free(w);
	c->nwatches--;
}

/* The store's new transaction id (decimal, the whole body) is the
 * client's. */
static void reply_txn_start(struct client *c, const struct xsd_sockmsg *hdr,
			    const char *body)
{
	uint64_t id;

	if (pvd_parse_range(body, 1, UINT32_MAX, &id) < 0 ||
	    hdr->len != strlen(body) + 1) {
		log_warn("client %" PRIu64 ": the store gave a bad transaction id",
			 c->id);
	} else if (any_client_owns_txn(c->p, (uint32_t)id)) {
		log_warn("the store gave transaction id %" PRIu64 " twice", id);
	} else {
		c->txns[c->ntxns++] = (uint32_t)id;
	}
}

/* What the reply means for the client's watches and transactions. */
static void reply_track(struct client *c, struct preq *q,
			const struct xsd_sockmsg *hdr, const char *body)
{
	bool ok = hdr->type == q->type;
	bool err = hdr->type == XS_ERROR;

	switch (q->type) {
	case XS_WATCH:
		reply_watch(c, q, ok);
		break;
	case XS_UNWATCH:
		reply_unwatch(c, q, ok, err, body);
		break;
	case XS_TRANSACTION_START:
		c->txn_starting--;
		if (ok)
			reply_txn_start(c, hdr, body);
		break;
	case XS_TRANSACTION_END:
		/* Only a malformed argument leaves the transaction open. */
		if (ok || q->silent || (err && strcmp(body, "EINVAL") != 0))
			client_drop_txn(c, q->tx_id);
		break;
	default:
		break;
	}
}

static void on_reply(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct preq *q = arg;
	struct client *c = q->c;

	q->waiting = false;
	c->waiting--;
	reply_track(c, q, hdr, body);
	q->rhdr = *hdr;
	q->rhdr.req_id = q->req_id;
	if (!q->silent) {
		q->rbody = memdup0(body, hdr->len);
		if (!q->rbody) {
			log_err("out of memory: client %" PRIu64 " gets EIO", c->id);
			preq_error(q, "EIO");
		}
	}
	client_pump(c);
}

/* ---- requests from the client ------------------------------------------- */

static void forward(struct client *c, struct preq *q, uint32_t type,
		    const void *body, uint32_t len)
{
	int rc = xenbus_request(c->p->xb, type, q->tx_id, body, len, on_reply, q);

	if (rc < 0) {
		preq_error(q, rc == -EBUSY ? "EBUSY" : errno_name(-rc));
		return;
	}
	q->waiting = true;
	c->waiting++;
}

static void handle_watch(struct client *c, struct preq *q, const char *body,
			 uint32_t len)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	const char *path, *token;
	uint32_t blen;
	int rc;

	if (split_watch(body, len, &path, &token) < 0) {
		preq_error(q, "EINVAL");
		return;
	}
	if (q->type == XS_WATCH &&
	    c->nwatches + c->watch_starting >= c->p->lim.max_watches) {
		preq_error(q, "E2BIG");
		return;
	}
	rc = watch_body(c, path, token, buf, &blen);
	if (rc < 0) {
		preq_error(q, "E2BIG");
		return;
	}
	q->path = strdup(path);
	q->token = strdup(token);
	if (!q->path || !q->token) {
		preq_error(q, "ENOMEM");
		return;
	}
	forward(c, q, q->type, buf, blen);
	if (q->waiting && q->type == XS_WATCH)
		c->watch_starting++;
}

/* Unwatches one of c's watches; the reply updates the bookkeeping. */
static int send_unwatch(struct client *c, const struct watch_ent *w,
			bool silent, uint32_t req_id)
{
	struct xsd_sockmsg h = { .type = XS_UNWATCH, .req_id = req_id };
	char buf[XENSTORE_PAYLOAD_MAX];
	struct preq *q;
	uint32_t len;

	if (watch_body(c, w->path, w->token, buf, &len) < 0)
		return -E2BIG;	/* cannot happen: it was sent once */
	q = preq_append(c, &h);
	if (!q)
		return -ENOMEM;
	q->silent = silent;
	q->path = strdup(w->path);
	q->token = strdup(w->token);
	if (!q->path || !q->token) {
		preq_error(q, "ENOMEM");
		return -ENOMEM;
	}
	forward(c, q, XS_UNWATCH, buf, len);
	return q->waiting ? 0 : -EIO;
}

static void handle_frame(struct client *c, const struct xsd_sockmsg *h,
			 const char *body)
{
	struct preq *q;

	if (h->type == XS_RESET_WATCHES && h->tx_id == 0) {
		/* Only this client's watches: the ring is shared.  Its
		 * unwatches go first, the OK after them. */
		for (struct watch_ent *w = c->watches; w; w = w->next)
			if (send_unwatch(c, w, true, h->req_id) < 0)
				break;
		q = preq_append(c, h);
		if (q)
			preq_local(q, XS_RESET_WATCHES, "OK");
		return;
	}
	q = preq_append(c, h);
	if (!q) {
		log_err("out of memory: closing client %" PRIu64, c->id);
		client_close(c, "out of memory");
		return;
	}
	if (h->type >= XS_TYPE_COUNT || h->type == XS_WATCH_EVENT ||
	    h->type == XS_ERROR || h->type == XS_RESET_WATCHES) {
		preq_error(q, "EINVAL");
		return;
	}
	/* As Linux's xenbus device: only the client's own transactions. */
	if (h->type != XS_TRANSACTION_START && h->tx_id != 0 &&
	    !client_owns_txn(c, h->tx_id)) {
		preq_error(q, "ENOENT");
		return;
	}
	switch (h->type) {
	case XS_WATCH:
	case XS_UNWATCH:
		handle_watch(c, q, body, h->len);
		return;
	case XS_TRANSACTION_START:
		if (c->ntxns + c->txn_starting >= c->p->lim.max_txns) {
			preq_error(q, "ENOSPC");
			return;
		}
		forward(c, q, h->type, body, h->len);
		if (q->waiting)
			c->txn_starting++;
		return;
	default:
		forward(c, q, h->type, body, h->len);
		return;
	}
}

/* ---- client life cycle ---------------------------------------------------- */

static void client_set_reading(struct client *c, bool on)
{
	if (!c->bev || c->reading == on)
		return;
	c->reading = on;
	if (on)
		bufferevent_enable(c->bev, EV_READ);
	else
		bufferevent_disable(c->bev, EV_READ);
}

static bool client_may_read(const struct client *c)
{
	return c->bev && c->nqueued < c->p->lim.max_queued &&
	       evbuffer_get_length(bufferevent_get_output(c->bev)) <
	       c->p->lim.max_output;
}

/* The client's socket is gone (EOF, error, bad frame): what it left in
 * the store is cleaned up once its requests in flight are answered. */
static void client_close(struct client *c, const char *why)
{
	if (!c->bev)
		return;
	log_debug("client %" PRIu64 ": %s", c->id, why);
	bufferevent_free(c->bev);
	c->bev = NULL;
	c->p->nclients--;
	c->p->nclosing++;
}

static void client_free(struct client *c)
{
	struct xenbus_proxy *p = c->p;

	if (c->prev)
		c->prev->next = c->next;
	else
		p->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->bev) {
		bufferevent_free(c->bev);
		p->nclients--;
	} else {
		p->nclosing--;
	}
	while (c->qhead) {
		struct preq *q = c->qhead;

		c->qhead = q->next;
		if (q->waiting)
			xenbus_cancel(p->xb, on_reply, q);
		preq_free(q);
	}
	while (c->watches) {
		struct watch_ent *w = c->watches;

		c->watches = w->next;
		watch_ent_free(w);
	}
	free(c->txns);
	free(c);
}

/* A gone client: one cleanup request at a time, then freed.  May free c. */
static void client_cleanup(struct client *c)
{
	struct xsd_sockmsg h = { .type = XS_TRANSACTION_END };
	struct preq *q;

	if (c->waiting)
		return;
	client_flush(c);
	if (c->watches) {
		struct watch_ent *w = c->watches;

		if (send_unwatch(c, w, true, 0) == 0)
			return;
		/* Broken ring or no memory: the store forgets us anyway. */
	} else if (c->ntxns) {
		h.tx_id = c->txns[0];
		q = preq_append(c, &h);
		if (q) {
			q->silent = true;
			forward(c, q, XS_TRANSACTION_END, "F", 2);
			if (q->waiting)
				return;
		}
	}
	if (c->watches || c->ntxns)
		log_warn("client %" PRIu64 ": %u watches and %u transactions left behind",
			 c->id, c->nwatches, c->ntxns);
	client_free(c);
}

/* Replies out, requests in, while the limits allow.  May free c. */
static void client_pump(struct client *c)
{
	char body[XENSTORE_PAYLOAD_MAX + 1];

	client_flush(c);
	while (client_may_read(c)) {
		struct evbuffer *in = bufferevent_get_input(c->bev);
		struct xsd_sockmsg h;

		if (evbuffer_copyout(in, &h, HDR_LEN) < (ev_ssize_t)HDR_LEN)
			break;
		if (h.len > XENSTORE_PAYLOAD_MAX) {
			log_warn("client %" PRIu64 ": frame of %u bytes: closing it",
				 c->id, h.len);
			c->p->bad_frames++;
			client_close(c, "bad frame");
			break;
		}
		if (evbuffer_get_length(in) < HDR_LEN + h.len) {
			/* Wake us when the rest is there. */
			bufferevent_setwatermark(c->bev, EV_READ, HDR_LEN + h.len,
						 4 * (HDR_LEN + XENSTORE_PAYLOAD_MAX));
			break;
		}
		bufferevent_setwatermark(c->bev, EV_READ, 0,
					 4 * (HDR_LEN + XENSTORE_PAYLOAD_MAX));
		evbuffer_drain(in, HDR_LEN);
		evbuffer_remove(in, body, h.len);
		body[h.len] = '\0';
		handle_frame(c, &h, body);
		client_flush(c);
	}
	if (!c->bev) {
		client_cleanup(c);
		return;
	}
	client_set_reading(c, client_may_read(c));
}

static void on_read(struct bufferevent *bev, void *arg)
{
	client_pump(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	/* Output drained: reading may resume. */
	client_pump(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		client_close(c, what & BEV_EVENT_EOF ? "disconnected" : "socket error");
		client_pump(c);
	}
}

int xenbus_proxy_adopt(struct xenbus_proxy *p, int fd)
{
	struct client *c;

	if (p->nclients + p->nclosing >= p->lim.max_clients) {
		if (p->refused++ == 0)
			log_warn("more than %u clients: refusing connections",
				 p->lim.max_clients);
		close(fd);
		return -EMFILE;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->txns = calloc(p->lim.max_txns ? p->lim.max_txns : 1, sizeof(uint32_t));
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	c->bev = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->txns || !c->bev) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			close(fd);
		free(c->txns);
		free(c);
		return -ENOMEM;
	}
	c->p = p;
	c->id = ++p->next_id;
	c->prefix_len = (size_t)snprintf(c->prefix, sizeof(c->prefix),
					 XENBUS_PROXY_ROUTE "%" PRIx64 ":", c->id);
	c->next = p->clients;
	if (p->clients)
		p->clients->prev = c;
	p->clients = c;
	p->nclients++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0,
				 4 * (HDR_LEN + XENSTORE_PAYLOAD_MAX));
	c->reading = true;
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_debug("client %" PRIu64 " connected", c->id);
	return 0;
}

/* ---- watch events ----------------------------------------------------------- */

static void on_event_routed(void *arg, const char *path, const char *token)
{
	struct xenbus_proxy *p = arg;
	struct evbuffer *out;
	struct xsd_sockmsg h = { .type = XS_WATCH_EVENT };
	struct client *c;
	const char *colon = strchr(token, ':');
	uint64_t id;
	size_t pl, tl;

	/* "<client id in hex>:<the client's token>" */
	if (!colon || pvd_parse_uint_n(token, (size_t)(colon - token), 16,
				       UINT64_MAX, &id) < 0)
		return;
	for (c = p->clients; c && c->id != id; c = c->next)
		;
	if (!c || !c->bev)
		return;		/* gone: its unwatch is on the way */
	token = colon + 1;
	out = bufferevent_get_output(c->bev);
	pl = strlen(path) + 1;
	tl = strlen(token) + 1;
	if (evbuffer_get_length(out) >= p->lim.max_output) {
		if (c->events_dropped++ == 0)
			log_warn("client %" PRIu64 " does not read: dropping its watch events",
				 c->id);
		p->events_dropped++;
		return;
	}
	h.len = (uint32_t)(pl + tl);
	evbuffer_add(out, &h, HDR_LEN);
	evbuffer_add(out, path, pl);
	evbuffer_add(out, token, tl);
}

/* ---- the listener ------------------------------------------------------------ */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	xenbus_proxy_adopt(arg, fd);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct xenbus_proxy *p = arg;

	evconnlistener_enable(p->listener);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct xenbus_proxy *p = arg;
	struct timeval tv = { 0, 100 * 1000 };
	int err = EVUTIL_SOCKET_ERROR();

	/* EMFILE and the like: the socket stays readable, so pause instead
	 * of spinning, and never give up. */
	log_warn("accept on %s: %s", p->path, strerror(err));
	evconnlistener_disable(l);
	evtimer_add(p->accept_retry, &tv);
}

static int listen_on(struct xenbus_proxy *p, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* The caller owns the directory: anything there is stale. */
	if (unlink(path) < 0 && errno != ENOENT) {
		rc = -errno;
		log_err("cannot remove stale %s: %s", path, strerror(-rc));
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		log_err("cannot listen on %s: %s", path, strerror(-rc));
		unlink(path);
		goto fail;
	}
	strcpy(p->path, path);
	p->listener = evconnlistener_new(p->base, on_accept, p,
					 LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (!p->listener) {
		unlink(path);
		p->path[0] = '\0';
		rc = -ENOMEM;
		goto fail;
	}
	evconnlistener_set_error_cb(p->listener, on_accept_error);
	return 0;
fail:
	close(fd);
	return rc;
}

int xenbus_proxy_start(struct xenbus_proxy **out, struct event_base *base,
		       struct xenbus *xb, const char *path,
		       const struct xenbus_proxy_limits *lim)
{
	static const struct xenbus_proxy_limits def = XENBUS_PROXY_LIMITS_DEFAULT;
	struct xenbus_proxy *p;
	int rc;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->base = base;
	p->xb = xb;
	p->lim = lim ? *lim : def;
	if (p->lim.max_queued == 0 || p->lim.max_clients == 0) {
		free(p);
		return -EINVAL;
	}
	p->accept_retry = evtimer_new(base, on_accept_retry, p);
	if (!p->accept_retry) {
		free(p);
		return -ENOMEM;
	}
	rc = xenbus_route_add(xb, XENBUS_PROXY_ROUTE, on_event_routed, p);
	if (rc < 0) {
		log_err("cannot route watch events: %s", strerror(-rc));
		event_free(p->accept_retry);
		free(p);
		return rc;
	}
	if (path) {
		rc = listen_on(p, path);
		if (rc < 0) {
			xenbus_proxy_stop(p);
			return rc;
		}
	}
	*out = p;
	return 0;
}

void xenbus_proxy_stop(struct xenbus_proxy *p)
{
	if (!p)
		return;
	while (p->clients)
		client_free(p->clients);
	if (p->listener)
		evconnlistener_free(p->listener);
	if (p->path[0])
		unlink(p->path);
	event_free(p->accept_retry);
	xenbus_route_del(p->xb, XENBUS_PROXY_ROUTE);
	free(p);
}

void xenbus_proxy_get_stats(const struct xenbus_proxy *p,
			    struct xenbus_proxy_stats *st)
{
	*st = (struct xenbus_proxy_stats){
		.clients = p->nclients, .closing = p->nclosing,
		.refused = p->refused, .bad_frames = p->bad_frames,
		.events_dropped = p->events_dropped,
	};
	for (const struct client *c = p->clients; c; c = c->next) {
		size_t n = c->bev ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;

		if (n > st->output_max)
			st->output_max = n;
	}
}
