/* The daemons' control socket (include/pvd/ctl.h): pvd-blkback's,
 * pvd-netback's and pvd-consoled's, one module.  Clients are local: only root and the
 * daemon's own user are served (SO_PEERCRED), so the mode of the socket
 * file is not the only gate.  Each client may owe us at most a line of
 * request and be owed at most c->out_max bytes of answers: past that its
 * requests are left unread (the kernel's buffers then hold the client
 * back), and a client that reads nothing for c->stall_secs is closed
 * (the bufferevent's write timeout, armed only while it is over). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <jansson.h>

#include "pvd/daemon.h"
#include "pvd/log.h"
#include "pvd/ctl.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void conn_close(struct bufferevent *bev, struct pvd_ctl *c)
{
	for (unsigned i = 0; i < PVD_CTL_CONN_MAX; i++)
		if (c->conn[i] == bev)
			c->conn[i] = NULL;
	bufferevent_free(bev);
}

/* Whether the line (n bytes, NULs and all) is exactly the command. */
static bool is_cmd(const char *line, size_t n, const char *cmd)
{
	return n == strlen(cmd) && memcmp(line, cmd, n) == 0;
}

void pvd_ctl_put_json(struct evbuffer *out, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (s)
		evbuffer_add_printf(out, "%s\n", s);
	else
		evbuffer_add_printf(out, "{\"error\":\"out of memory\"}\n");
	free(s);
	json_decref(j);
}

static void answer(struct pvd_ctl *c, const char *line, size_t n,
		   struct evbuffer *out)
{
	if (is_cmd(line, n, "stats"))
		c->stats(out, c->arg);
	else if (is_cmd(line, n, "ping"))
		evbuffer_add_printf(out, "pong\n");
	else if (is_cmd(line, n, "help"))
		pvd_ctl_put_json(out, json_pack("{s:[sss]}", "commands", "stats",
						"ping", "help"));
	else
		pvd_ctl_put_json(out, json_pack("{s:s}", "error", "unknown command"));
}

int pvd_ctl_serve(struct pvd_ctl *c, struct evbuffer *in, struct evbuffer *out)
{
	char *line;
	size_t n;

	for (;;) {
		if (c->out_max && evbuffer_get_length(out) > c->out_max)
			return 1;
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		if (!line)
			break;
		if (n <= PVD_CTL_LINE_MAX)
			answer(c, line, n, out);
		free(line);
	}
	return evbuffer_get_length(in) > PVD_CTL_LINE_MAX ? -EMSGSIZE : 0;
}

/* Answers what the client asked; over the bound, stops reading it and
 * arms the stall timeout; under it again, reads it again. */
static void pump(struct bufferevent *bev, struct pvd_ctl *c)
{
	int rc = pvd_ctl_serve(c, bufferevent_get_input(bev),
			       bufferevent_get_output(bev));

	if (rc < 0) {
		conn_close(bev, c);
	} else if (rc == 1) {
		struct timeval tv = { (time_t)c->stall_secs, 0 };

		bufferevent_disable(bev, EV_READ);
		bufferevent_set_timeouts(bev, NULL, &tv);
	} else if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_set_timeouts(bev, NULL, NULL);
		bufferevent_enable(bev, EV_READ);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	pump(bev, arg);
}

/* Its output is all taken (the write low watermark is 0). */
static void on_write(struct bufferevent *bev, void *arg)
{
	if (!(bufferevent_get_enabled(bev) & EV_READ))
		pump(bev, arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_TIMEOUT)
		log_warn("control client closed: it read none of its answers "
			 "for %u s", ((struct pvd_ctl *)arg)->stall_secs);
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_close(bev, arg);
}

/* Root and our own user only, whatever the socket file's mode. */
static bool peer_allowed(struct pvd_ctl *c, int fd)
{
	struct ucred cr = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cr);
	uint64_t dropped = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 &&
	    len == sizeof(cr) && (cr.uid == 0 || cr.uid == geteuid()))
		return true;
	if (pvd_logrl_allow(&c->refused_rl, now_ns(), &dropped)) {
		if (dropped)
			log_warn("%llu control clients refused without a log line",
				 (unsigned long long)dropped);
		log_warn("control client refused: pid %d uid %d is neither root nor uid %d",
			 (int)cr.pid, (int)cr.uid, (int)geteuid());
	}
	return false;
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd,
		      struct sockaddr *sa, int len, void *arg)
{
	struct pvd_ctl *c = arg;
	struct bufferevent *bev;
	unsigned i;

	for (i = 0; i < PVD_CTL_CONN_MAX && c->conn[i]; i++)
		;
	if (i == PVD_CTL_CONN_MAX || !peer_allowed(c, fd)) {
		close(fd);
		return;
	}
	bev = bufferevent_socket_new(evconnlistener_get_base(lis), fd,
				     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		close(fd);
		return;
	}
	c->conn[i] = bev;
	bufferevent_setcb(bev, on_read, on_write, on_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int pvd_ctl_start(struct pvd_ctl *c, struct event_base *base, const char *path,
		  pvd_ctl_stats_fn *stats, void *arg)
{
	int fd;

	memset(c, 0, sizeof(*c));
	c->stats = stats;
	c->arg = arg;
	c->out_max = PVD_CTL_OUT_MAX;
	c->stall_secs = PVD_CTL_STALL_SECS;
	pvd_logrl_init(&c->refused_rl, now_ns());
	if (strlen(path) >= sizeof(c->path)) {
		log_err("control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	fd = pvd_unix_listen(path, 0600, 16);
	if (fd < 0) {
		log_err("cannot listen on %s: %s", path, strerror(-fd));
		return fd;
	}
	strcpy(c->path, path);
	c->lis = evconnlistener_new(base, on_accept, c,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				    0, fd);
	if (!c->lis) {
		log_err("cannot listen on %s: out of memory", path);
		close(fd);
		pvd_ctl_stop(c);
		return -ENOMEM;
	}
	return 0;
}

void pvd_ctl_stop(struct pvd_ctl *c)
{
	for (unsigned i = 0; i < PVD_CTL_CONN_MAX; i++)
		if (c->conn[i])
			conn_close(c->conn[i], c);
	if (c->lis)
		evconnlistener_free(c->lis);
	c->lis = NULL;
	if (c->path[0])
		unlink(c->path);
	c->path[0] = '\0';
}
