/* pvctl: a daemon's control-socket client (see ctlsock.h). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctlsock.h"
#include "json.h"
#include "pvctl.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ctlsock_init(struct pvctl *p, struct ctlsock *c, const char *daemon,
		 const char *name, const char *path)
{
	char def[4096];

	c->fd = -1;
	c->daemon = daemon;
	c->err[0] = '\0';
	if (!path) {
		if (pvctl_path(p, def, sizeof(def), "%s", name) < 0) {
			pvctl_err("$PVD_RUNDIR is too long");
			return -ENAMETOOLONG;
		}
		path = def;
	}
	if (strlen(path) >= sizeof(c->path)) {
		pvctl_err("control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	return 0;
}

void ctlsock_close(struct ctlsock *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int fail(struct ctlsock *c, int e, const char *what)
{
	snprintf(c->err, sizeof(c->err), "%s at %s: %s%s%s", c->daemon, c->path, what,
		 e ? ": " : "", e ? strerror(e) : "");
	ctlsock_close(c);
	return -(e ? e : EPROTO);
}

int ctlsock_bad_answer(struct ctlsock *c, const char *why)
{
	snprintf(c->err, sizeof(c->err), "%s at %s: bad answer: %s", c->daemon,
		 c->path, why);
	ctlsock_close(c);
	return -EPROTO;
}

static int sock_connect(struct ctlsock *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (c->fd >= 0)
		return 0;
	strcpy(sa.sun_path, c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return fail(c, errno, "cannot create a socket");
	/* A unix socket connects at once or fails (EAGAIN: backlog full). */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail(c, errno, "cannot connect");
	return 0;
}

struct rd {
	char *buf;
	size_t len, cap;
};

/* Room for one more read in r: 0, or the error (c closed). */
static int grow(struct ctlsock *c, struct rd *r)
{
	char *nb;

	if (r->len + 1 < r->cap)
		return 0;
	if (r->cap >= JSON_TEXT_MAX)
		return fail(c, 0, "answer longer than 64 MiB");
	nb = realloc(r->buf, r->cap * 2);
	if (!nb)
		return fail(c, ENOMEM, "reading the answer");
	r->buf = nb;
	r->cap *= 2;
	return 0;
}

/* One step of the exchange once poll said so: 1 for the whole line
 * read, 0 to go on, or the error (c closed). */
static int step(struct ctlsock *c, const char *req, size_t *sent, struct rd *r)
{
	size_t rlen = strlen(req);
	ssize_t n;
	int rc;

	if (*sent < rlen) {
		n = send(c->fd, req + *sent, rlen - *sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return fail(c, errno, "sending");
		*sent += n > 0 ? (size_t)n : 0;
		return 0;
	}
	if ((rc = grow(c, r)) < 0)
		return rc;
	n = recv(c->fd, r->buf + r->len, r->cap - 1 - r->len, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : fail(c, errno, "reading");
	if (n == 0)
		return fail(c, 0, "closed the connection");
	r->len += (size_t)n;
	return memchr(r->buf + r->len - (size_t)n, '\n', (size_t)n) != NULL;
}

int ctlsock_query(struct ctlsock *c, const char *req, char **out, size_t *outlen)
{
	uint64_t end = mono_ms() + CTLSOCK_TIMEOUT_MS;
	char line[64];
	struct rd r = { .cap = 65536 };
	size_t sent = 0;
	int rc = 0;

	*out = NULL;
	snprintf(line, sizeof(line), "%s\n", req);
	if ((rc = sock_connect(c)) < 0)
		return rc;
	if (!(r.buf = malloc(r.cap)))
		return fail(c, ENOMEM, "reading the answer");
	while (rc == 0) {
		struct pollfd pfd = { .fd = c->fd,
				      .events = sent < strlen(line) ? POLLOUT : POLLIN };
		uint64_t now = mono_ms();

		if (now >= end)
			rc = fail(c, 0, "no answer within 5 s");
		else if (poll(&pfd, 1, (int)(end - now)) < 0)
			rc = errno == EINTR ? 0 : fail(c, errno, "poll");
		else
			rc = step(c, line, &sent, &r);
	}
	if (rc < 0) {
		free(r.buf);
		return rc;
	}
	*outlen = (size_t)((char *)memchr(r.buf, '\n', r.len) - r.buf);
	r.buf[*outlen] = '\0';
	*out = r.buf;
	return 0;
}
