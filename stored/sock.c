/* The unix socket transport (sock.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "conn.h"
#include "pvd/daemon.h"
#include "pvd/log.h"
#include "sock.h"
#include "stored.h"

/* After a failed accept (EMFILE, ENFILE, ENOBUFS) the listener stops for
 * a pause, doubled while accept keeps failing, as OpenBSD's daemons do
 * (accept_pause): the connection that could not be taken stays in the
 * backlog and the socket stays readable, so retrying at once would spin. */
#define ACCEPT_PAUSE_MIN_MS 100
#define ACCEPT_PAUSE_MAX_MS 1000
#define REFUSED_LOG_EVERY 1000

struct sock_listener {
	struct stored *sd;
	struct evconnlistener *ev;
	char *path;
	unsigned domid;
	bool privileged;
	unsigned nconns;		/* open connections accepted here */
	struct event *pause_ev;		/* made on the first failed accept */
	unsigned pause_ms;		/* last pause; 0 after an accept */
	uint64_t refused;
};

struct sock_tp {
	int fd;
	struct event *rev, *wev;
	bool wev_on;
	struct sock_listener *l;
};

/* evbuffer_read() asks the kernel how much is queued (FIONREAD) before
 * every read: one system call too many per request.  Read straight into
 * reserved space instead. */
static ssize_t sock_fill(struct conn *c, struct evbuffer *buf, size_t max)
{
	struct sock_tp *s = c->tp;
	struct evbuffer_iovec v[2];
	size_t want = max - evbuffer_get_length(buf);
	int nv = evbuffer_reserve_space(buf, (ev_ssize_t)want, v, 2);
	struct iovec iov[2];
	ssize_t n, got;

	if (nv <= 0)
		return -ENOMEM;
	for (int i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	n = readv(s->fd, iov, nv);
	if (n <= 0) {
		int err = errno;

		evbuffer_commit_space(buf, v, 0);
		if (n == 0)
			return 0;
		return err == EAGAIN || err == EINTR ? -EAGAIN : -err;
	}
	got = n;
	for (int i = 0; i < nv; i++) {
		size_t take = (size_t)n < v[i].iov_len ? (size_t)n : v[i].iov_len;

		v[i].iov_len = take;
		n -= (ssize_t)take;
		if (n == 0 && i + 1 < nv) {
			nv = i + 1;
			break;
		}
	}
	evbuffer_commit_space(buf, v, nv);
	return got;
}

static ssize_t sock_drain(struct conn *c, struct evbuffer *buf)
{
	struct sock_tp *s = c->tp;
	int n = evbuffer_write(buf, s->fd);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	return n;
}

static void sock_want_write(struct conn *c, bool on)
{
	struct sock_tp *s = c->tp;

	if (on == s->wev_on)
		return;
	s->wev_on = on;
	if (on)
		event_add(s->wev, NULL);
	else
		event_del(s->wev);
}

static void sock_want_read(struct conn *c, bool on)
{
	struct sock_tp *s = c->tp;

	if (on)
		event_add(s->rev, NULL);
	else
		event_del(s->rev);
}

static void sock_destroy(struct conn *c)
{
	struct sock_tp *s = c->tp;

	if (!s)
		return;
	if (s->rev)
		event_free(s->rev);
	if (s->wev)
		event_free(s->wev);
	close(s->fd);
	s->l->nconns--;
	free(s);
}

static const struct conn_ops sock_ops = {
	.name = "socket",
	.fill = sock_fill,
	.drain = sock_drain,
	.want_write = sock_want_write,
	.want_read = sock_want_read,
	.destroy = sock_destroy,
};

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	conn_on_readable(arg);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	conn_on_writable(arg);
}

/* 0 if the listener may take one more connection, else why not: its
 * own limit (a guest socket), then the daemon's and the domain's. */
static int sock_admit(struct sock_listener *l)
{
	struct stored *sd = l->sd;

	if (!l->privileged && l->nconns >= sd->quota.socket_conns) {
		sd->quota_refusals[QK_SOCKET_CONNS]++;
		sd->rejected_conns++;
		return -EUSERS;
	}
	return conn_admit(sd, l->domid, l->privileged);
}

static void sock_refuse(struct sock_listener *l, int err)
{
	const char *why = err == EUSERS ? "--quota-socket-connections" :
			  err == EDQUOT ? "--quota-domain-connections" :
			  "--max-connections, descriptors or --reserve-dom0";

	if (l->refused++ % REFUSED_LOG_EVERY == 0)
		log_warn("%s (dom%u): connection refused (limit: %s); %" PRIu64
			 " refused so far", l->path, l->domid, why, l->refused);
}

static void on_accept(struct evconnlistener *ev, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct sock_listener *l = arg;
	struct stored *sd = l->sd;
	struct sock_tp *s;
	struct conn *c;
	int rc;

	l->pause_ms = 0;
	rc = sock_admit(l);
	if (rc < 0) {
		sock_refuse(l, -rc);
		close(fd);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return;
	}
	s->fd = fd;
	s->l = l;
	c = conn_new(sd, &sock_ops, s, l->domid, l->privileged);
	if (!c) {
		close(fd);
		free(s);
		return;
	}
	l->nconns++;
	s->rev = event_new(sd->base, fd, EV_READ | EV_PERSIST, on_read, c);
	s->wev = event_new(sd->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	if (!s->rev || !s->wev || event_add(s->rev, NULL) < 0)
		conn_close(c, "out of memory");
}

static void on_pause_end(evutil_socket_t fd, short what, void *arg)
{
	struct sock_listener *l = arg;

	evconnlistener_enable(l->ev);
}

static void on_accept_error(struct evconnlistener *ev, void *arg)
{
	struct sock_listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv;

	if (!l->pause_ev)
		l->pause_ev = evtimer_new(l->sd->base, on_pause_end, l);
	if (!l->pause_ev) {
		log_warn("accept on %s: %s", l->path,
			 evutil_socket_error_to_string(err));
		return;
	}
	l->pause_ms = l->pause_ms ? 2 * l->pause_ms : ACCEPT_PAUSE_MIN_MS;
	if (l->pause_ms > ACCEPT_PAUSE_MAX_MS)
		l->pause_ms = ACCEPT_PAUSE_MAX_MS;
	evconnlistener_disable(ev);
	tv.tv_sec = l->pause_ms / 1000;
	tv.tv_usec = (l->pause_ms % 1000) * 1000;
	evtimer_add(l->pause_ev, &tv);
	/* One line per pause, not per failure. */
	log_warn("accept on %s: %s; not accepting for %u ms", l->path,
		 evutil_socket_error_to_string(err), l->pause_ms);
}

int sock_listen(struct stored *sd, const char *path, unsigned domid,
		bool privileged, struct sock_listener **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sock_listener *l;
	char dir[sizeof(sun.sun_path)];
	char *slash;
	int rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		rc = pvd_mkdir_p(dir, 0755);
		if (rc < 0)
			return rc;
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->path = strdup(path))) {
		free(l);
		return -ENOMEM;
	}
	l->sd = sd;
	l->domid = domid;
	l->privileged = privileged;
	/* dom0's socket is protected by its directory and mode, as
	 * xenstored's; a guest socket is for that guest's clients.  The mode
	 * is given at bind, never by a chmod of the path (pvd_unix_listen). */
	rc = pvd_unix_listen(path, privileged ? 0600 : 0666, 128);
	l->ev = rc < 0 ? NULL : evconnlistener_new(sd->base, on_accept, l,
						   LEV_OPT_CLOSE_ON_FREE |
						   LEV_OPT_CLOSE_ON_EXEC, 0, rc);
	if (!l->ev) {
		log_err("cannot listen on %s: %s", path,
			strerror(rc < 0 ? -rc : ENOMEM));
		if (rc >= 0) {
			close(rc);
			unlink(path);
		}
		free(l->path);
		free(l);
		return rc < 0 ? rc : -ENOMEM;
	}
	evconnlistener_set_error_cb(l->ev, on_accept_error);
	*out = l;
	return 0;
}

void sock_listener_free(struct sock_listener *l)
{
	if (!l)
		return;
	if (l->pause_ev)
		event_free(l->pause_ev);
	evconnlistener_free(l->ev);
	unlink(l->path);
	free(l->path);
	free(l);
}
