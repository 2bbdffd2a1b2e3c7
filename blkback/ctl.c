/* The control socket (see ctl.h).  Clients are local and root, but a
 * line is still bounded and connections are counted. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "pvd/log.h"
#include "ctl.h"

static void conn_close(struct bufferevent *bev, struct blk_ctl *c)
{
	for (unsigned i = 0; i < BLK_CTL_CONN_MAX; i++)
		if (c->conn[i] == bev)
			c->conn[i] = NULL;
	bufferevent_free(bev);
}

/* Whether the line (n bytes, NULs and all) is exactly the command. */
static bool is_cmd(const char *line, size_t n, const char *cmd)
{
	return n == strlen(cmd) && memcmp(line, cmd, n) == 0;
}

static void answer(struct blk_ctl *c, const char *line, size_t n,
		   struct evbuffer *out)
{
	if (is_cmd(line, n, "stats"))
		c->stats(out, c->arg);
	else if (is_cmd(line, n, "ping"))
		evbuffer_add_printf(out, "pong\n");
	else if (is_cmd(line, n, "help"))
		evbuffer_add_printf(out, "{\"commands\":[\"stats\",\"ping\",\"help\"]}\n");
	else
		evbuffer_add_printf(out, "{\"error\":\"unknown command\"}\n");
}

int blk_ctl_serve(struct blk_ctl *c, struct evbuffer *in, struct evbuffer *out)
{
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		if (n <= BLK_CTL_LINE_MAX)
			answer(c, line, n, out);
		free(line);
	}
	return evbuffer_get_length(in) > BLK_CTL_LINE_MAX ? -EMSGSIZE : 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct blk_ctl *c = arg;

	if (blk_ctl_serve(c, bufferevent_get_input(bev),
			  bufferevent_get_output(bev)) < 0)
		conn_close(bev, c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(bev, arg);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd,
		      struct sockaddr *sa, int len, void *arg)
{
	struct blk_ctl *c = arg;
	struct bufferevent *bev;
	unsigned i;

	for (i = 0; i < BLK_CTL_CONN_MAX && c->conn[i]; i++)
		;
	if (i == BLK_CTL_CONN_MAX) {
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
	bufferevent_setcb(bev, on_read, NULL, on_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int blk_ctl_start(struct blk_ctl *c, struct event_base *base, const char *path,
		  blk_ctl_stats_fn *stats, void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	c->stats = stats;
	c->arg = arg;
	if (strlen(path) >= sizeof(sa.sun_path) || strlen(path) >= sizeof(c->path)) {
		log_err("control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	strcpy(c->path, path);
	unlink(path);
	c->lis = evconnlistener_new_bind(base, on_accept, c,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
					 16, (struct sockaddr *)&sa, sizeof(sa));
	if (!c->lis) {
		int rc = -errno;

		log_err("cannot listen on %s: %s", path, strerror(errno));
		c->path[0] = '\0';
		return rc ? rc : -EIO;
	}
	chmod(path, 0600);
	return 0;
}

void blk_ctl_stop(struct blk_ctl *c)
{
	for (unsigned i = 0; i < BLK_CTL_CONN_MAX; i++)
		if (c->conn[i])
			conn_close(c->conn[i], c);
	if (c->lis)
		evconnlistener_free(c->lis);
	c->lis = NULL;
	if (c->path[0])
		unlink(c->path);
	c->path[0] = '\0';
}
