/* The store connection that survives the store's restart (xsconn.h).
 *
 * Why a sentinel: libxenstore's reader thread (tools/libs/store/xs.c,
 * read_thread) closes the socket on EOF and wakes the threads blocked in
 * a call, but never writes to the watch pipe, so an event loop waiting on
 * xs_fileno sleeps forever.  Our own idle connection to the same socket
 * reads EOF when the store dies, on the same event base, without a timer.
 *
 * The dead handle is kept until a new one is open (not closed at once):
 * after read_thread its fd is -1 and every call fails at once (EBADF,
 * EINVAL), so a daemon's store sequence interrupted half-way ends
 * cleanly, and no call ever sees a NULL handle once connected.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <xenstore.h>

#include "pvd/log.h"
#include "pvd/ring_util.h"
#include "pvd/xsconn.h"

unsigned xsconn_backoff_next(unsigned cur_ms, unsigned min_ms, unsigned max_ms)
{
	unsigned next = cur_ms > max_ms / 2 ? max_ms : cur_ms * 2;

	return next < min_ms ? min_ms : next;
}

static const char *store_path(void)
{
	const char *p = xs_daemon_socket();

	return p ? p : "libxenstore's default";
}

/* A line about the connection, rate-limited (a flapping store). */
static bool conn_log_pass(struct xsconn *c)
{
	uint64_t dropped;

	if (!pvd_logrl_allow(&c->lrl, hv_now_ns(), &dropped))
		return false;
	if (dropped)
		log_warn("store: %" PRIu64 " messages suppressed", dropped);
	return true;
}

/* ---------------------------------------------------------------- sentinel */

static void lost(struct xsconn *c, const char *why);

static void on_sentinel(evutil_socket_t fd, short what, void *arg)
{
	struct xsconn *c = arg;
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	/* The store never writes to a connection that sent nothing. */
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		lost(c, n == 0 ? "the store closed the connection" : strerror(errno));
}

static void sentinel_close(struct xsconn *c)
{
	if (c->sentinel_ev)
		event_free(c->sentinel_ev);
	c->sentinel_ev = NULL;
	if (c->sentinel_fd >= 0)
		close(c->sentinel_fd);
	c->sentinel_fd = -1;
}

/* 0 (also when the store is a device: no sentinel), or -errno. */
static int sentinel_open(struct xsconn *c)
{
	const char *path = xs_daemon_socket();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (!path || stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	c->sentinel_fd = fd;
	c->sentinel_ev = event_new(c->base, fd, EV_READ | EV_PERSIST,
				   on_sentinel, c);
	if (!c->sentinel_ev || event_add(c->sentinel_ev, NULL) < 0) {
		sentinel_close(c);
		return -ENOMEM;
	}
	return 0;
}

/* ---------------------------------------------------------------- events */

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct xsconn *c = arg;
	char **ev;

	/* All of them: xs_check_watch may leave the pipe unreadable while
	 * events are still queued. */
	while (c->up && (ev = xs_check_watch(c->xs)) != NULL) {
		c->ops->event(c->arg, ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]);
		free(ev);
	}
	if (c->up && errno != EAGAIN)
		lost(c, strerror(errno));
	if (c->ops->batch_end)
		c->ops->batch_end(c->arg);
}

static void retry_arm(struct xsconn *c)
{
	struct timeval tv = { c->backoff_ms / 1000, c->backoff_ms % 1000 * 1000 };

	event_add(c->retry_ev, &tv);
}

static void lost(struct xsconn *c, const char *why)
{
	if (!c->up)
		return;
	c->up = false;
	c->st.losses++;
	c->down_since_ns = hv_now_ns();
	if (c->xs_ev)
		event_free(c->xs_ev);
	c->xs_ev = NULL;
	sentinel_close(c);
	if (conn_log_pass(c))
		log_warn("the store connection is lost (%s): serving on, "
			 "reconnecting to %s", why, store_path());
	if (c->ops->down)
		c->ops->down(c->arg);
	c->backoff_ms = XSCONN_BACKOFF_MIN_MS;
	retry_arm(c);
}

/* ---------------------------------------------------------------- connect */

/* Registers every remembered watch on a new handle: 0, or -errno when
 * the connection failed under it (a refusal is logged and skipped). */
static int watches_register(struct xsconn *c, struct xs_handle *xs)
{
	for (unsigned i = 0; i < c->nw; i++) {
		if (xs_watch(xs, c->w[i].path, c->w[i].token))
			continue;
		if (errno == EBADF || errno == EPIPE || errno == EINVAL ||
		    errno == ECONNRESET)
			return -errno;
		log_warn("cannot watch %s again: %s", c->w[i].path,
			 strerror(errno));
	}
	return 0;
}

/* Swaps the new handle in (the dead one closed now) and goes up. */
static int handle_install(struct xsconn *c, struct xs_handle *xs)
{
	struct event *ev = event_new(c->base, xs_fileno(xs), EV_READ | EV_PERSIST,
				     on_readable, c);

	if (!ev || event_add(ev, NULL) < 0) {
		if (ev)
			event_free(ev);
		return -ENOMEM;
	}
	if (c->xs_ev)
		event_free(c->xs_ev);
	if (c->xs)
		xs_close(c->xs);
	c->xs_ev = ev;
	c->xs = xs;
	c->up = true;
	c->st.connects++;
	return 0;
}

/* One attempt: 0 when connected (ops->up has run), or -errno. */
static int try_connect(struct xsconn *c)
{
	struct xs_handle *xs = xs_open(0);
	bool again = c->st.connects > 0;
	int rc;

	if (!xs)
		return errno ? -errno : -ECONNREFUSED;
	rc = sentinel_open(c);
	if (rc == 0)
		rc = watches_register(c, xs);
	if (rc == 0)
		rc = handle_install(c, xs);
	if (rc < 0) {
		sentinel_close(c);
		xs_close(xs);
		return rc;
	}
	if (again && conn_log_pass(c))
		log_info("the store is back after %" PRIu64 " ms; %u watch(es) "
			 "registered again, re-reading the state",
			 (hv_now_ns() - c->down_since_ns) / 1000000u, c->nw);
	c->ops->up(c->arg, again);
	return 0;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct xsconn *c = arg;
	int rc = try_connect(c);

	if (rc == 0)
		return;
	c->st.attempts++;
	log_debug("store at %s: %s; next try in %u ms", store_path(),
		  strerror(-rc), c->backoff_ms);
	c->backoff_ms = xsconn_backoff_next(c->backoff_ms, XSCONN_BACKOFF_MIN_MS,
					    XSCONN_BACKOFF_MAX_MS);
	retry_arm(c);
}

int xsconn_start(struct xsconn *c, struct event_base *base,
		 const struct xsconn_ops *ops, void *arg)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->base = base;
	c->ops = ops;
	c->arg = arg;
	c->sentinel_fd = -1;
	c->backoff_ms = XSCONN_BACKOFF_MIN_MS;
	pvd_logrl_init(&c->lrl, hv_now_ns());
	c->retry_ev = evtimer_new(base, on_retry, c);
	if (!c->retry_ev)
		return -ENOMEM;
	rc = try_connect(c);
	if (rc == 0)
		return 0;
	c->st.attempts++;
	c->down_since_ns = hv_now_ns();
	log_warn("the store is not there yet (%s: %s): waiting for it "
		 "(retrying from %u ms, doubling up to %u ms)", store_path(),
		 strerror(-rc), XSCONN_BACKOFF_MIN_MS, XSCONN_BACKOFF_MAX_MS);
	retry_arm(c);
	return 0;
}

void xsconn_stop(struct xsconn *c)
{
	if (!c->base)
		return;
	if (c->retry_ev)
		event_free(c->retry_ev);
	if (c->xs_ev)
		event_free(c->xs_ev);
	c->retry_ev = c->xs_ev = NULL;
	sentinel_close(c);
	for (unsigned i = 0; i < c->nw; i++) {
		free(c->w[i].path);
		free(c->w[i].token);
	}
	free(c->w);
	c->w = NULL;
	c->nw = c->cap = 0;
	if (c->xs)
		xs_close(c->xs);
	c->xs = NULL;
	c->up = false;
	c->base = NULL;
}

/* ---------------------------------------------------------------- watches */

static int watch_find(const struct xsconn *c, const char *path,
		      const char *token)
{
	for (unsigned i = 0; i < c->nw; i++)
		if (!strcmp(c->w[i].path, path) && !strcmp(c->w[i].token, token))
			return (int)i;
	return -1;
}

static void watch_forget(struct xsconn *c, unsigned i)
{
	free(c->w[i].path);
	free(c->w[i].token);
	c->w[i] = c->w[--c->nw];
}

static bool watch_remember(struct xsconn *c, const char *path,
			   const char *token)
{
	struct xsconn_watch *w;

	if (c->nw == c->cap) {
		unsigned cap = c->cap ? c->cap * 2 : 8;

		w = realloc(c->w, cap * sizeof(*w));
		if (!w)
			return false;
		c->w = w;
		c->cap = cap;
	}
	w = &c->w[c->nw];
	w->path = strdup(path);
	w->token = strdup(token);
	if (!w->path || !w->token) {
		free(w->path);
		free(w->token);
		errno = ENOMEM;
		return false;
	}
	c->nw++;
	return true;
}

bool xsconn_watch(struct xsconn *c, const char *path, const char *token)
{
	/* A remembered watch is registered on the live connection already. */
	if (watch_find(c, path, token) >= 0)
		return true;
	if (!watch_remember(c, path, token))
		return false;
	if (!c->up || xs_watch(c->xs, path, token))
		return true;
	if (xsconn_failed(c, path))
		return true;	/* registered again once reconnected */
	watch_forget(c, (unsigned)watch_find(c, path, token));
	return false;
}

void xsconn_unwatch(struct xsconn *c, const char *path, const char *token)
{
	int i = watch_find(c, path, token);

	if (i >= 0)
		watch_forget(c, (unsigned)i);
	if (c->up)
		xs_unwatch(c->xs, path, token);
}

/* ---------------------------------------------------------------- failures */

/* The store's own refusals, as libxenstore turns them into errno. */
static bool is_answer(int err)
{
	static const int answers[] = {
		ENOENT, EACCES, EPERM, EEXIST, ENOSPC, EAGAIN, E2BIG, EISCONN,
		ENOSYS, EROFS, EBUSY, ENOTEMPTY, ENOMEM, EDQUOT,
	};

	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		if (err == answers[i])
			return true;
	return false;
}

bool xsconn_failed(struct xsconn *c, const char *what)
{
	int err = errno;
	char *p;

	if (!c->up) {
		errno = err;
		return true;
	}
	if (is_answer(err)) {
		errno = err;
		return false;
	}
	/* EINVAL is also an answer (a bad path): a request that cannot fail
	 * on a live store tells. */
	p = xs_get_domain_path(c->xs, 0);
	if (p) {
		free(p);
		errno = err;
		return false;
	}
	lost(c, what);
	errno = err;
	return true;
}
