/* The nbd engine: disks served by an NBD server, through libnbd's
 * asynchronous API on pvd-blkback's event loop (no thread per request),
 * as QEMU's block/nbd.c serves them to its guests.
 *
 * A disk's params is an NBD URI (nbd://HOST[:PORT]/EXPORT,
 * nbd+unix:///EXPORT?socket=PATH, nbds:// with TLS; libnbd parses it,
 * tls-psk-file= and tls-certificates= name the credentials).  Each disk
 * has its own connection (a libnbd handle).  The ops table has one fd per
 * engine: the engine's epoll fd, itself pollable, holds every
 * connection's socket (with the direction libnbd wants, as
 * nbd_aio_get_direction says) and every disk's reconnect timerfd.
 *
 * Requests: READ and WRITE are NBD_CMD_READ / NBD_CMD_WRITE (through a
 * bounce buffer when the guest's segments are more than one: libnbd has
 * no vectored calls); FLUSH is NBD_CMD_FLUSH where the server offers it,
 * and nothing where it does not (the NBD protocol: a server without
 * NBD_FLAG_SEND_FLUSH has no volatile cache; QEMU's nbd_client_co_flush
 * does the same), and feature-flush-cache then says 0; DISCARD is
 * NBD_CMD_TRIM, in pieces of at most 1 GiB, where the server offers it
 * (feature-discard follows).  blkif has no FUA and no WRITE_ZEROES
 * request: a flush with data stays "write, then flush", because a flush
 * covers every write completed before it, which FUA would not.
 *
 * Connection loss is not data loss: a request is answered only from the
 * server's reply.  Requests libnbd aborts when the connection dies
 * (ENOTCONN), or that the server refuses while shutting down (ESHUTDOWN),
 * go back on the disk's wait queue and are sent again once a new
 * connection is up, with a backoff of 100 ms doubling to 5 s
 * (QEMU's reconnect-delay does the same without the doubling).  Writes the
 * server acknowledged after the last completed flush are made durable by
 * the next flush, sent on the new connection: a restarted server process
 * (its file in the host's page cache) still has them; a crashed server
 * host may not, and NBD cannot tell (a warning is logged).  Failing that
 * flush instead would not help: Linux's blkfront takes an error on an
 * empty flush for "not supported" and stops flushing (blkif_interrupt's
 * "empty write barrier op failed").  A disk that has been without a
 * server for NBD_GIVEUP_NS fails its waiting and new requests (state
 * "error") while it keeps trying.  The queued requests of a disk are
 * bounded by its rings' slots; at most NBD_MAX_INFLIGHT go to the server.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "pvd/log.h"
#include "eng_util.h"

#define NBD_MAX_INFLIGHT 256
#define NBD_BACKOFF_MIN_MS 100u
#define NBD_BACKOFF_MAX_MS 5000u
#define NBD_GIVEUP_NS (60ull * 1000000000ull)
#define NBD_OPEN_TIMEOUT_MS 5000
#define NBD_TRIM_MAX (1ull << 30)
#define NBD_NEV 64
#define TAG_TIMER 1u

enum nbd_state { NBD_CONNECTED, NBD_RECONNECTING, NBD_ERROR };
static const char *const state_names[] = { "connected", "reconnecting",
					   "error" };

struct nbd_eng {
	struct blk_engine base;
	int epfd;
	struct blk_ioq done;
	struct nbd_disk *disks;
	struct epoll_event ev[NBD_NEV];
	int nev;                 /* events ready() took and reap() handles */
	bool kick;               /* requests wait for commit() */
};

struct nbd_disk {
	struct blk_backing base;
	struct nbd_eng *eng;
	struct nbd_disk *next;
	char *uri;
	struct nbd_handle *h;
	int fd;                  /* h's socket in epfd, or -1 */
	uint32_t events;         /* its epoll interest */
	int tfd;                 /* reconnect timer */
	enum nbd_state st;
	bool readonly, can_flush, can_trim;
	uint64_t size;
	unsigned inflight, backoff_ms;
	struct blk_ioq wait;     /* for a connection or for room */
	uint64_t lost_ns;
	uint64_t wgen, durable_gen;  /* writes acknowledged / made durable */
	struct blk_remote_state rs;
};

/* Per request, in blk_io.priv while in flight. */
struct nbd_iop {
	void *bounce;
	uint64_t done, cur;      /* DISCARD: bytes trimmed, the piece sent */
	uint64_t gen;            /* FLUSH: wgen when it was sent */
	bool sent;               /* libnbd holds it (its callback will run) */
};
_Static_assert(sizeof(struct nbd_iop) <= sizeof(((struct blk_io *)0)->priv),
	       "nbd_iop fits in blk_io.priv");

static struct nbd_iop *iop(struct blk_io *io)
{
	return (struct nbd_iop *)(void *)io->priv;
}

static struct nbd_eng *to_eng(struct blk_engine *e)
{
	return container_of(e, struct nbd_eng, base);
}

static struct nbd_disk *to_disk(struct blk_backing *b)
{
	return container_of(b, struct nbd_disk, base);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool blk_nbd_uri(const char *params)
{
	return strncmp(params, "nbd://", 6) == 0 ||
	       strncmp(params, "nbds://", 7) == 0 ||
	       strncmp(params, "nbd+", 4) == 0 ||
	       strncmp(params, "nbds+", 5) == 0;
}

static void complete(struct nbd_disk *d, struct blk_io *io, int res)
{
	free(iop(io)->bounce);
	iop(io)->bounce = NULL;
	io->res = res;
	ioq_push(&d->eng->done, io);
}

/* The copy between the guest's segments and a bounce buffer. */
static void copy_iov(struct blk_io *io, bool to_bounce)
{
	char *p = iop(io)->bounce;

	for (unsigned i = 0; i < io->iovcnt; i++) {
		if (to_bounce)
			memcpy(p, io->iov[i].iov_base, io->iov[i].iov_len);
		else
			memcpy(io->iov[i].iov_base, p, io->iov[i].iov_len);
		p += io->iov[i].iov_len;
	}
}

static void reply_ok(struct nbd_disk *d, struct blk_io *io)
{
	struct nbd_iop *p = iop(io);

	switch (io->op) {
	case BLK_IO_READ:
		if (p->bounce)
			copy_iov(io, false);
		break;
	case BLK_IO_WRITE:
		d->wgen++;
		break;
	case BLK_IO_FLUSH:
		if (p->gen > d->durable_gen)
			d->durable_gen = p->gen;
		break;
	case BLK_IO_DISCARD:
		p->done += p->cur;
		if (p->done < io->len) {
			ioq_push(&d->wait, io);   /* the next piece */
			return;
		}
		break;
	}
	complete(d, io, 0);
}

/* libnbd's completion callback: runs inside nbd_aio_notify_* (or when
 * the connection dies); only queues, never answers the guest itself. */
static int on_reply(void *ud, int *error)
{
	struct blk_io *io = ud;
	struct nbd_disk *d = to_disk(io->backing);

	iop(io)->sent = false;
	d->inflight--;
	if (*error == ENOTCONN || *error == ESHUTDOWN) {
		/* Not done by the server: again on the next connection. */
		d->rs.retried++;
		ioq_push(&d->wait, io);
	} else if (*error) {
		complete(d, io, -*error);
	} else {
		reply_ok(d, io);
	}
	return 1;
}

/* Sends one command: 0 sent, 1 done without the server, -ENOTCONN for
 * the next connection, other -errno for the guest. */
static int send_io(struct nbd_disk *d, struct blk_io *io)
{
	nbd_completion_callback cb = { .callback = on_reply, .user_data = io };
	struct nbd_iop *p = iop(io);
	void *buf = NULL;
	int64_t c;

	if (io->op == BLK_IO_READ || io->op == BLK_IO_WRITE) {
		if (io->iovcnt != 1 && !p->bounce) {
			p->bounce = malloc(io->len);
			if (!p->bounce)
				return -ENOMEM;
			if (io->op == BLK_IO_WRITE)
				copy_iov(io, true);
		}
		buf = p->bounce ? p->bounce : io->iov[0].iov_base;
	}
	p->sent = true;
	d->inflight++;
	switch (io->op) {
	case BLK_IO_READ:
		c = nbd_aio_pread(d->h, buf, io->len, io->offset, cb, 0);
		break;
	case BLK_IO_WRITE:
		c = nbd_aio_pwrite(d->h, buf, io->len, io->offset, cb, 0);
		break;
	case BLK_IO_FLUSH:
		p->gen = d->wgen;
		c = nbd_aio_flush(d->h, cb, 0);
		break;
	default:
		p->cur = io->len - p->done < NBD_TRIM_MAX ? io->len - p->done
							  : NBD_TRIM_MAX;
		c = nbd_aio_trim(d->h, p->cur, io->offset + p->done, cb, 0);
		break;
	}
	if (c >= 0 || !p->sent)
		return 0;
	/* Refused before it was queued: the callback will not run. */
	p->sent = false;
	d->inflight--;
	if (nbd_aio_is_dead(d->h) || nbd_aio_is_closed(d->h))
		return -ENOTCONN;
	log_warn("%s: %s", d->uri, nbd_get_error());
	return nbd_get_errno() ? -nbd_get_errno() : -EIO;
}

/* What a request needs before the server sees it: 1 when it is answered
 * here (a flush without a server cache), -errno to fail it. */
static int prepare(struct nbd_disk *d, struct blk_io *io)
{
	if (io->op == BLK_IO_FLUSH)
		return d->can_flush ? 0 : 1;
	if (io->op == BLK_IO_DISCARD && !d->can_trim)
		return -EOPNOTSUPP;
	return 0;
}

/* Sends what waits, as room allows. */
static void kick(struct nbd_disk *d)
{
	struct blk_io *io;
	int rc;

	while (d->st == NBD_CONNECTED && d->inflight < NBD_MAX_INFLIGHT &&
	       (io = ioq_pop(&d->wait))) {
		rc = prepare(d, io);
		if (rc == 0)
			rc = send_io(d, io);
		if (rc == -ENOTCONN) {
			ioq_push(&d->wait, io);
			break;
		}
		if (rc != 0)
			complete(d, io, rc > 0 ? 0 : rc);
	}
}

static void fail_waiting(struct nbd_disk *d, int err)
{
	struct blk_io *io;

	while ((io = ioq_pop(&d->wait)))
		complete(d, io, err);
}

/* The epoll interest of the connection's socket: what libnbd waits for. */
static void interest(struct nbd_disk *d)
{
	int fd = d->h ? nbd_aio_get_fd(d->h) : -1;
	unsigned dir = d->h ? nbd_aio_get_direction(d->h) : 0;
	struct epoll_event ev = {
		.events = (dir & LIBNBD_AIO_DIRECTION_READ ? EPOLLIN : 0) |
			  (dir & LIBNBD_AIO_DIRECTION_WRITE ? EPOLLOUT : 0),
		.data.u64 = (uintptr_t)d,
	};

	if (fd != d->fd) {
		if (d->fd >= 0)
			epoll_ctl(d->eng->epfd, EPOLL_CTL_DEL, d->fd, NULL);
		d->fd = -1;
		if (fd >= 0 && epoll_ctl(d->eng->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_err("%s: epoll: %s", d->uri, strerror(errno));
			return;
		}
		d->fd = fd;
	} else if (fd >= 0 && ev.events != d->events &&
		   epoll_ctl(d->eng->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
		log_err("%s: epoll: %s", d->uri, strerror(errno));
	}
	d->events = ev.events;
}

static void arm(struct nbd_disk *d, unsigned ms)
{
	struct itimerspec it = {
		.it_value = { ms / 1000, (long)(ms % 1000) * 1000000 },
	};

	if (timerfd_settime(d->tfd, 0, &it, NULL) < 0)
		log_err("%s: timerfd: %s", d->uri, strerror(errno));
}

/* Drops the handle (dead, or never up) and tries again later. */
static void drop_handle(struct nbd_disk *d)
{
	if (d->fd >= 0)
		epoll_ctl(d->eng->epfd, EPOLL_CTL_DEL, d->fd, NULL);
	d->fd = -1;
	if (d->inflight)
		log_err("%s: %u requests still in flight on a dead connection",
			d->uri, d->inflight);
	nbd_close(d->h);
	d->h = NULL;
	arm(d, d->backoff_ms);
	d->backoff_ms = d->backoff_ms * 2 > NBD_BACKOFF_MAX_MS ?
		NBD_BACKOFF_MAX_MS : d->backoff_ms * 2;
}

static void lost(struct nbd_disk *d)
{
	log_warn("%s: connection lost: %u requests to send again, reconnecting",
		 d->uri, d->wait.n + d->inflight);
	if (d->can_flush && d->wgen > d->durable_gen)
		log_warn("%s: %llu writes acknowledged since the last flush: the next flush, on the new connection, makes them durable if the server kept them",
			 d->uri, (unsigned long long)(d->wgen - d->durable_gen));
	d->durable_gen = d->wgen;
	d->st = NBD_RECONNECTING;
	d->lost_ns = now_ns();
	d->rs.losses++;
	d->backoff_ms = NBD_BACKOFF_MIN_MS;
	drop_handle(d);
}

static struct nbd_handle *new_handle(const char *uri)
{
	struct nbd_handle *h = nbd_create();

	if (!h)
		return NULL;
	/* tls-psk-file= and tls-certificates= name local files; only reads
	 * (the guest's data) need no zeroing: it is overwritten. */
	if (nbd_set_uri_allow_local_file(h, true) < 0 ||
	    nbd_set_pread_initialize(h, false) < 0 ||
	    nbd_aio_connect_uri(h, uri) < 0) {
		nbd_close(h);
		return NULL;
	}
	return h;
}

/* What the server offers, checked against what the disk needs. */
static int check_export(struct nbd_disk *d, struct nbd_handle *h, bool first)
{
	int64_t size = nbd_get_size(h);
	int ro = nbd_is_read_only(h);

	if (size < 0 || ro < 0) {
		log_warn("%s: %s", d->uri, nbd_get_error());
		return -EIO;
	}
	if (ro && !d->readonly) {
		log_warn("%s: the export is read-only: attach it read-only",
			 d->uri);
		return -EROFS;
	}
	if (!first && (uint64_t)size < d->size) {
		log_warn("%s: the export shrank from %llu to %lld bytes", d->uri,
			 (unsigned long long)d->size, (long long)size);
		return -EIO;
	}
	d->size = (uint64_t)size;
	d->can_flush = nbd_can_flush(h) == 1;
	d->can_trim = nbd_can_trim(h) == 1 && !d->readonly;
	return 0;
}

static void on_connected(struct nbd_disk *d)
{
	uint64_t ms = (now_ns() - d->lost_ns) / 1000000;

	if (check_export(d, d->h, false) < 0) {
		d->st = NBD_ERROR;
		fail_waiting(d, -EIO);
		drop_handle(d);
		return;
	}
	d->st = NBD_CONNECTED;
	d->rs.reconnects++;
	log_info("%s: reconnected after %llu ms: %u requests to send again",
		 d->uri, (unsigned long long)ms, d->wait.n);
}

/* After libnbd ran: connected, lost, or more requests to send. */
static void service(struct nbd_disk *d)
{
	if (d->h && d->st != NBD_CONNECTED && nbd_aio_is_ready(d->h))
		on_connected(d);
	if (d->h && d->st == NBD_CONNECTED)
		kick(d);
	if (d->h && (nbd_aio_is_dead(d->h) || nbd_aio_is_closed(d->h))) {
		if (d->st == NBD_CONNECTED) {
			lost(d);
		} else {
			log_debug("%s: reconnect failed: %s", d->uri,
				  nbd_get_error());
			drop_handle(d);
		}
		return;
	}
	if (d->h)
		interest(d);
}

/* The reconnect timer: another try, or give up on waiting requests. */
static void on_timer(struct nbd_disk *d)
{
	uint64_t n;

	if (read(d->tfd, &n, sizeof(n)) < 0 || d->st == NBD_CONNECTED)
		return;
	if (d->h) {
		/* A server that accepted but never finished the handshake. */
		log_warn("%s: no NBD handshake within %d ms: trying again",
			 d->uri, NBD_OPEN_TIMEOUT_MS);
		drop_handle(d);
		return;
	}
	if (d->st == NBD_RECONNECTING && now_ns() - d->lost_ns > NBD_GIVEUP_NS) {
		log_err("%s: no server for %llu s: failing %u requests until it is back",
			d->uri, NBD_GIVEUP_NS / 1000000000ull, d->wait.n);
		d->st = NBD_ERROR;
		fail_waiting(d, -EIO);
	}
	d->h = new_handle(d->uri);
	if (!d->h) {
		log_debug("%s: reconnect: %s", d->uri, nbd_get_error());
		arm(d, d->backoff_ms);
		return;
	}
	arm(d, NBD_OPEN_TIMEOUT_MS);   /* the handshake's bound */
	service(d);
}

static void on_socket(struct nbd_disk *d, uint32_t ev)
{
	unsigned dir;

	if (!d->h)
		return;
	dir = nbd_aio_get_direction(d->h);
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    (dir & LIBNBD_AIO_DIRECTION_READ))
		nbd_aio_notify_read(d->h);
	dir = nbd_aio_get_direction(d->h);
	if ((ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) &&
	    (dir & LIBNBD_AIO_DIRECTION_WRITE) &&
	    !nbd_aio_is_dead(d->h) && !nbd_aio_is_closed(d->h))
		nbd_aio_notify_write(d->h);
	service(d);
}

/* ---------------------------------------------------------------- ops */

static int nbd_engine_create(unsigned depth, struct blk_engine **out)
{
	struct nbd_eng *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->base.ops = &blk_backend_nbd;
	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (n->epfd < 0) {
		int rc = -errno;

		free(n);
		return rc;
	}
	*out = &n->base;
	return 0;
}

static void nbd_engine_destroy(struct blk_engine *e)
{
	if (!e)
		return;
	close(to_eng(e)->epfd);
	free(to_eng(e));
}

static int nbd_engine_fd(struct blk_engine *e)
{
	return to_eng(e)->epfd;
}

static void nbd_ack(struct blk_engine *e)
{
	/* Level-triggered: reap() takes what made the epoll fd readable. */
}

static void nbd_commit(struct blk_engine *e)
{
	if (!to_eng(e)->kick)
		return;
	to_eng(e)->kick = false;
	for (struct nbd_disk *d = to_eng(e)->disks; d; d = d->next) {
		if (d->wait.n && d->h && d->st == NBD_CONNECTED) {
			kick(d);
			service(d);
		}
	}
}

static unsigned nbd_reap(struct blk_engine *e, unsigned max)
{
	struct nbd_eng *n = to_eng(e);

	if (!n->nev)
		n->nev = epoll_wait(n->epfd, n->ev, NBD_NEV, 0);
	for (int i = 0; i < n->nev; i++) {
		uint64_t u = n->ev[i].data.u64;
		struct nbd_disk *d = (struct nbd_disk *)(uintptr_t)(u & ~7ull);

		if (u & TAG_TIMER)
			on_timer(d);
		else
			on_socket(d, n->ev[i].events);
	}
	n->nev = 0;
	return ioq_complete(&n->done, max);
}

static bool nbd_ready(struct blk_engine *e)
{
	struct nbd_eng *n = to_eng(e);

	if (n->done.n || n->nev > 0 || n->kick)
		return true;
	n->nev = epoll_wait(n->epfd, n->ev, NBD_NEV, 0);
	if (n->nev < 0)
		n->nev = 0;
	return n->nev > 0;
}

/* The first connection, waited for (bounded): the disk's size and
 * features must be known before the frontend sees it.  Later connections
 * never block the loop. */
static int connect_first(struct nbd_disk *d)
{
	uint64_t deadline = now_ns() + NBD_OPEN_TIMEOUT_MS * 1000000ull;
	int rc = -EIO;

	d->h = new_handle(d->uri);
	while (d->h && nbd_aio_is_connecting(d->h)) {
		uint64_t now = now_ns();

		if (now >= deadline) {
			log_warn("%s: no NBD handshake within %d ms", d->uri,
				 NBD_OPEN_TIMEOUT_MS);
			rc = -ETIMEDOUT;
			goto fail;
		}
		if (nbd_poll(d->h, (int)((deadline - now) / 1000000) + 1) < 0)
			break;
	}
	if (!d->h || !nbd_aio_is_ready(d->h)) {
		log_warn("%s: %s", d->uri, nbd_get_error());
		rc = nbd_get_errno() ? -nbd_get_errno() : -EIO;
		goto fail;
	}
	rc = check_export(d, d->h, true);
	if (rc < 0)
		goto fail;
	interest(d);
	return 0;
fail:
	nbd_close(d->h);
	d->h = NULL;
	return rc;
}

static int nbd_open(struct blk_engine *e, const char *params, bool readonly,
		    struct blk_backing **out, struct blk_backing_info *info)
{
	struct nbd_eng *n = to_eng(e);
	struct nbd_disk *d = calloc(1, sizeof(*d));
	struct epoll_event ev = { .events = EPOLLIN };
	int rc = -ENOMEM;

	if (!d)
		return -ENOMEM;
	d->base.ops = &blk_backend_nbd;
	d->base.engine = e;
	d->eng = n;
	d->fd = -1;
	d->readonly = readonly;
	d->uri = strdup(params);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ev.data.u64 = (uintptr_t)d | TAG_TIMER;
	if (!d->uri || d->tfd < 0 ||
	    epoll_ctl(n->epfd, EPOLL_CTL_ADD, d->tfd, &ev) < 0) {
		rc = d->uri ? -errno : -ENOMEM;
		goto fail;
	}
	rc = connect_first(d);
	if (rc < 0)
		goto fail;
	memset(info, 0, sizeof(*info));
	info->size = d->size;
	info->lbs = 512;
	info->pbs = 4096;
	info->readonly = readonly;
	info->discard = d->can_trim;
	info->no_flush = !d->can_flush;
	d->next = n->disks;
	n->disks = d;
	*out = &d->base;
	return 0;
fail:
	if (d->tfd >= 0)
		close(d->tfd);
	free(d->uri);
	free(d);
	return rc;
}

static void nbd_close_backing(struct blk_backing *b)
{
	struct nbd_disk *d;

	if (!b)
		return;
	d = to_disk(b);
	for (struct nbd_disk **pp = &d->eng->disks; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	d->eng->nev = 0;    /* may name d; level-triggered: they come again */
	if (d->fd >= 0)
		epoll_ctl(d->eng->epfd, EPOLL_CTL_DEL, d->fd, NULL);
	close(d->tfd);      /* leaves the epoll set */
	if (d->h)
		nbd_close(d->h);
	/* The transport drained: nothing waits, nothing is in flight. */
	fail_waiting(d, -EIO);
	free(d->uri);
	free(d);
}

static int nbd_submit(struct blk_backing *b, struct blk_io *io)
{
	struct nbd_disk *d = to_disk(b);

	memset(iop(io), 0, sizeof(struct nbd_iop));
	io->backing = b;
	if (d->st == NBD_ERROR) {
		complete(d, io, -EIO);
		return 0;
	}
	ioq_push(&d->wait, io);
	d->eng->kick = true;
	return 0;
}

static int nbd_size(struct blk_backing *b, uint64_t *bytes)
{
	*bytes = to_disk(b)->size;
	return 0;
}

static void nbd_remote(struct blk_backing *b, struct blk_remote_state *out)
{
	struct nbd_disk *d = to_disk(b);

	*out = d->rs;
	out->state = state_names[d->st];
	out->queued = d->wait.n;
}

const struct blk_backend_ops blk_backend_nbd = {
	.name = "nbd",
	.engine_create = nbd_engine_create,
	.engine_destroy = nbd_engine_destroy,
	.engine_fd = nbd_engine_fd,
	.ack = nbd_ack,
	.commit = nbd_commit,
	.reap = nbd_reap,
	.ready = nbd_ready,
	.open = nbd_open,
	.close = nbd_close_backing,
	.submit_rw = nbd_submit,
	.flush = nbd_submit,
	.discard = nbd_submit,
	.size = nbd_size,
	.remote = nbd_remote,
};
