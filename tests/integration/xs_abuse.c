/* Hostile raw-socket client for pvd-stored (tests/integration/
 * test_stored_badinput.sh).  Speaks the wire protocol directly (struct
 * xsd_sockmsg from <xen/io/xs_wire.h>) so that it can send what libxenstore
 * never would.  Each case prints "PASS name" or "FAIL name: why"; after each
 * case a fresh, well-behaved client must still be served and the daemon
 * must still be running.
 *
 *   xs_abuse --sock DOM0SOCK --pid DAEMONPID --guest DOMID:SOCK
 *            --guest2 DOMID:SOCK --max-connections N --quota-nodes N ...
 *            [case...]
 *
 * The quota options must repeat the values given to the daemon.
 *
 * Checks that something is NOT delivered never wait for a silence: the
 * receiver also watches a sentinel node which is written after the action
 * under test, and events on one connection arrive in order.  Socket receive
 * timeouts (HANG_GUARD_S) only turn a hang into a failure. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "pvd/num.h"

#define HANG_GUARD_S 10
#define MAX_EVENTS 200000

struct event {
	char *path, *token;
};

struct conn {
	int fd;
	uint32_t req_id;
	struct event *ev;
	size_t nev, cap;
};

struct quotas {
	long nodes, value_size, watches, transactions, outstanding, path_max,
		trans_nodes, perms;
};

struct ctx {
	const char *sock;
	const char *gsock, *gsock2;
	unsigned int gdom, gdom2;
	pid_t pid;
	long max_conn;
	struct quotas q;
	unsigned int alive_seq;
	char why[1024];
};

struct reply {
	struct xsd_sockmsg hdr;
	char body[XENSTORE_PAYLOAD_MAX + 1];
};

#define FAILF(c, ...)                                                         \
	do {                                                                  \
		snprintf((c)->why, sizeof((c)->why), __VA_ARGS__);            \
		return -1;                                                    \
	} while (0)

#define CHECK(c, cond, ...)                                                   \
	do {                                                                  \
		if (!(cond))                                                  \
			FAILF(c, __VA_ARGS__);                                \
	} while (0)

/* ------------------------------------------------------------ plumbing */

static int conn_open(struct conn *cn, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = HANG_GUARD_S };

	memset(cn, 0, sizeof(*cn));
	cn->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cn->fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(cn->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(cn->fd);
		cn->fd = -1;
		return e;
	}
	setsockopt(cn->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(cn->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cn->req_id = 1;
	return 0;
}

static void conn_clear_events(struct conn *cn)
{
	for (size_t i = 0; i < cn->nev; i++) {
		free(cn->ev[i].path);
		free(cn->ev[i].token);
	}
	cn->nev = 0;
}

static void conn_close(struct conn *cn)
{
	if (cn->fd >= 0)
		close(cn->fd);
	cn->fd = -1;
	conn_clear_events(cn);
	free(cn->ev);
	cn->ev = NULL;
	cn->cap = 0;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/* Sends one message with the given header fields; len is the header's
 * claim, plen how much payload is actually sent. */
static int send_raw(struct conn *cn, uint32_t type, uint32_t tx, uint32_t len,
		    const void *payload, size_t plen)
{
	struct xsd_sockmsg h = { .type = type, .req_id = cn->req_id++, .tx_id = tx,
				 .len = len };
	char buf[sizeof(h) + XENSTORE_PAYLOAD_MAX + 64];

	if (plen > XENSTORE_PAYLOAD_MAX + 64)
		return -EINVAL;
	memcpy(buf, &h, sizeof(h));
	if (plen)
		memcpy(buf + sizeof(h), payload, plen);
	return send_all(cn->fd, buf, sizeof(h) + plen);
}

static int send_msg(struct conn *cn, uint32_t type, uint32_t tx, const void *payload,
		    size_t len)
{
	return send_raw(cn, type, tx, (uint32_t)len, payload, len);
}

/* 0, or -EPIPE (EOF/reset), -ETIMEDOUT (hang guard), -EPROTO (bad reply). */
static int recv_exact(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -ETIMEDOUT;
		if (n < 0)
			return -EPIPE;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

static void store_event(struct conn *cn, const struct reply *r)
{
	const char *path = r->body;
	size_t pl = strnlen(path, r->hdr.len);
	const char *tok = pl < r->hdr.len ? path + pl + 1 : "";

	if (cn->nev == MAX_EVENTS)
		return;
	if (cn->nev == cn->cap) {
		size_t ncap = cn->cap ? cn->cap * 2 : 64;
		struct event *n = realloc(cn->ev, ncap * sizeof(*n));

		if (!n)
			return;
		cn->ev = n;
		cn->cap = ncap;
	}
	cn->ev[cn->nev].path = strdup(path);
	cn->ev[cn->nev].token = strdup(tok);
	cn->nev++;
}

/* Receives one message of any type. */
static int recv_any(struct conn *cn, struct reply *r)
{
	int rc = recv_exact(cn->fd, &r->hdr, sizeof(r->hdr));

	if (rc)
		return rc;
	if (r->hdr.len > XENSTORE_PAYLOAD_MAX)
		return -EPROTO;
	rc = recv_exact(cn->fd, r->body, r->hdr.len);
	if (rc)
		return rc;
	r->body[r->hdr.len] = '\0';
	return 0;
}

/* Receives the next reply, storing watch events met on the way. */
static int recv_reply(struct conn *cn, struct reply *r)
{
	for (;;) {
		int rc = recv_any(cn, r);

		if (rc)
			return rc;
		if (r->hdr.type != XS_WATCH_EVENT)
			return 0;
		store_event(cn, r);
	}
}

static int rpc(struct conn *cn, uint32_t type, uint32_t tx, const void *payload,
	       size_t len, struct reply *r)
{
	int rc = send_msg(cn, type, tx, payload, len);

	if (rc)
		return rc == -EPIPE || rc == -ECONNRESET ? -EPIPE : rc;
	return recv_reply(cn, r);
}

/* Joins NULL-terminated strings, each followed by a NUL. */
static size_t join(char *buf, size_t cap, ...)
{
	va_list ap;
	size_t n = 0;
	const char *s;

	va_start(ap, cap);
	while ((s = va_arg(ap, const char *)) != NULL) {
		size_t l = strlen(s) + 1;

		if (n + l > cap)
			break;
		memcpy(buf + n, s, l);
		n += l;
	}
	va_end(ap);
	return n;
}

static bool is_error(const struct reply *r, const char *err)
{
	return r->hdr.type == XS_ERROR && (!err || strcmp(r->body, err) == 0);
}

static const char *describe(const struct reply *r, int rc)
{
	static __thread char buf[160];

	if (rc == -EPIPE)
		return "connection closed";
	if (rc == -ETIMEDOUT)
		return "no reply (hang guard)";
	if (rc)
		return "protocol error in reply";
	if (r->hdr.type == XS_ERROR)
		snprintf(buf, sizeof(buf), "error %.100s", r->body);
	else
		snprintf(buf, sizeof(buf), "reply type %u \"%.60s\"", r->hdr.type, r->body);
	return buf;
}

/* Simple requests.  Each returns the rpc rc; *r holds the reply. */
static int x_write(struct conn *cn, uint32_t tx, const char *path, const char *val,
		   struct reply *r)
{
	char buf[XENSTORE_PAYLOAD_MAX + 64];
	size_t pl = strlen(path) + 1, vl = strlen(val);

	if (pl + vl > sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, pl);
	memcpy(buf + pl, val, vl);
	return rpc(cn, XS_WRITE, tx, buf, pl + vl, r);
}

static int x_path(struct conn *cn, uint32_t type, uint32_t tx, const char *path,
		  struct reply *r)
{
	return rpc(cn, type, tx, path, strlen(path) + 1, r);
}

static int x_watch(struct conn *cn, const char *path, const char *tok, struct reply *r)
{
	char buf[XENSTORE_PAYLOAD_MAX + 64];
	size_t n = join(buf, sizeof(buf), path, tok, (const char *)NULL);

	return rpc(cn, XS_WATCH, 0, buf, n, r);
}

static int x_set_perms(struct conn *cn, const char *path, const char *p1,
		       const char *p2, struct reply *r)
{
	char buf[512];
	size_t n = join(buf, sizeof(buf), path, p1, p2, (const char *)NULL);

	return rpc(cn, XS_SET_PERMS, 0, buf, n, r);
}

/* Requests taking a domid; INTRODUCE also gets a page and a port (pvd-stored
 * has no real ring for these test domains). */
static int x_domid(struct conn *cn, uint32_t type, unsigned int domid, struct reply *r)
{
	char buf[64], id[16];
	size_t n;

	snprintf(id, sizeof(id), "%u", domid);
	if (type == XS_INTRODUCE)
		n = join(buf, sizeof(buf), id, "1", "1", (const char *)NULL);
	else
		n = join(buf, sizeof(buf), id, (const char *)NULL);
	return rpc(cn, type, 0, buf, n, r);
}

/* After a request the daemon answered by closing: start over. */
static int reopen(struct conn *cn, const char *path)
{
	conn_close(cn);
	return conn_open(cn, path);
}

/* A GET_PERMS reply as "n0,r5". */
static const char *perms_str(const struct reply *r)
{
	static __thread char buf[256];
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->hdr.len && n + 2 < sizeof(buf); i++)
		buf[n++] = r->body[i] ? r->body[i] : ',';
	if (n && buf[n - 1] == ',')
		n--;
	buf[n] = '\0';
	return buf;
}

static bool ok_reply(const struct reply *r, int rc, uint32_t type)
{
	return rc == 0 && r->hdr.type == type;
}

/* TRANSACTION_START's reply as an id; one no transaction has (so the
 * requests that use it fail visibly) if the daemon sent no number. */
static uint32_t reply_tid(const char *body)
{
	uint64_t v;

	return pvd_parse_uint(body, UINT32_MAX, &v) == 0 ? (uint32_t)v
							  : UINT32_MAX;
}

/* Rejected: an error reply, or the daemon closed the connection. */
static bool rejected(const struct reply *r, int rc)
{
	return rc == -EPIPE || (rc == 0 && r->hdr.type == XS_ERROR);
}

/* Finds (and counts) stored events with token tok. */
static size_t count_events(const struct conn *cn, const char *tok, const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < cn->nev; i++)
		if (strcmp(cn->ev[i].token, tok) == 0 &&
		    (!path || strcmp(cn->ev[i].path, path) == 0))
			n++;
	return n;
}

/* Reads until an event with token tok and path arrives (it may already be
 * stored).  Returns 0 or the recv error. */
static int wait_event(struct conn *cn, const char *tok, const char *path)
{
	struct reply r;

	for (;;) {
		int rc;

		if (count_events(cn, tok, path))
			return 0;
		rc = recv_any(cn, &r);
		if (rc)
			return rc;
		if (r.hdr.type == XS_WATCH_EVENT)
			store_event(cn, &r);
	}
}

static bool pid_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	bool alive = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f)) {
		p = strrchr(buf, ')');
		alive = p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	}
	fclose(f);
	return alive;
}

static long vm_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static long count_fds(pid_t pid)
{
	char path[64];
	struct dirent *d;
	long n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* A fresh, well-behaved dom0 client gets served. */
static int good_client(struct ctx *c)
{
	struct conn cn;
	struct reply r;
	char val[32];
	int rc;

	if (!pid_alive(c->pid))
		FAILF(c, "pvd-stored (pid %d) is not running", (int)c->pid);
	rc = conn_open(&cn, c->sock);
	if (rc)
		FAILF(c, "good client cannot connect: %s", strerror(-rc));
	snprintf(val, sizeof(val), "%u", ++c->alive_seq);
	rc = x_write(&cn, 0, "/abuse/alive", val, &r);
	if (!ok_reply(&r, rc, XS_WRITE)) {
		conn_close(&cn);
		FAILF(c, "good client write: %s", describe(&r, rc));
	}
	rc = x_path(&cn, XS_READ, 0, "/abuse/alive", &r);
	conn_close(&cn);
	if (!ok_reply(&r, rc, XS_READ) || strcmp(r.body, val) != 0)
		FAILF(c, "good client read: %s", describe(&r, rc));
	return 0;
}

/* Makes /local/domain/DOMID exist and belong to DOMID. */
static int give_home(struct ctx *c, struct conn *d0, unsigned int domid)
{
	char path[64], perm[16];
	struct reply r;
	int rc;

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	snprintf(perm, sizeof(perm), "n%u", domid);
	rc = x_path(d0, XS_MKDIR, 0, path, &r);
	CHECK(c, ok_reply(&r, rc, XS_MKDIR), "mkdir %s: %s", path, describe(&r, rc));
	rc = x_set_perms(d0, path, perm, NULL, &r);
	CHECK(c, ok_reply(&r, rc, XS_SET_PERMS), "set_perms %s: %s", path,
	      describe(&r, rc));
	return 0;
}

/* Ensures domid is introduced (domain of a guest socket may already be). */
static int ensure_introduced(struct ctx *c, struct conn *d0, unsigned int domid)
{
	struct reply r;
	int rc = x_domid(d0, XS_IS_DOMAIN_INTRODUCED, domid, &r);

	CHECK(c, ok_reply(&r, rc, XS_IS_DOMAIN_INTRODUCED), "is_domain_introduced: %s",
	      describe(&r, rc));
	if (strcmp(r.body, "T") == 0)
		return 0;
	rc = x_domid(d0, XS_INTRODUCE, domid, &r);
	CHECK(c, ok_reply(&r, rc, XS_INTRODUCE), "introduce %u: %s", domid,
	      describe(&r, rc));
	return 0;
}

/* --------------------------------------------------------------- cases */

static int case_oversize_len(struct ctx *c)
{
	static const uint32_t lens[] = { XENSTORE_PAYLOAD_MAX + 1, 65536, 0x7fffffffu,
					 0xffffffffu };
	char junk[128];

	memset(junk, 'a', sizeof(junk));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct conn cn;
		struct reply r;
		int rc = conn_open(&cn, c->sock);

		CHECK(c, rc == 0, "connect: %s", strerror(-rc));
		send_raw(&cn, XS_WRITE, 0, lens[i], junk, sizeof(junk));
		rc = recv_reply(&cn, &r);
		conn_close(&cn);
		CHECK(c, rejected(&r, rc), "len %" PRIu32 ": %s", lens[i], describe(&r, rc));
	}
	return 0;
}

static int case_unknown_type(struct ctx *c)
{
	static const uint32_t types[] = { XS_TYPE_COUNT, XS_SET_TARGET + 1, 9999,
					  XS_INVALID, 0x80000000u, XS_WATCH_EVENT,
					  XS_ERROR };
	struct conn cn;
	struct reply r;
	int rc = conn_open(&cn, c->sock);

	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		rc = rpc(&cn, types[i], 0, "/abuse\0", 7, &r);
		if (!rejected(&r, rc)) {
			conn_close(&cn);
			FAILF(c, "type %" PRIu32 ": %s", types[i], describe(&r, rc));
		}
		if (rc == -EPIPE) {
			rc = reopen(&cn, c->sock);
			CHECK(c, rc == 0, "reconnect: %s", strerror(-rc));
		}
	}
	conn_close(&cn);
	return 0;
}

static int case_path_not_nul(struct ctx *c)
{
	static const uint32_t types[] = { XS_READ, XS_WRITE, XS_DIRECTORY,
					  XS_GET_PERMS, XS_MKDIR, XS_RM, XS_WATCH,
					  XS_SET_PERMS };
	struct conn cn;
	struct reply r;
	int rc;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		rc = conn_open(&cn, c->sock);
		CHECK(c, rc == 0, "connect: %s", strerror(-rc));
		rc = rpc(&cn, types[i], 0, "/abuse/nonul", 12, &r);
		conn_close(&cn);
		CHECK(c, rejected(&r, rc), "type %" PRIu32 " without NUL: %s", types[i],
		      describe(&r, rc));
	}
	/* Empty payload. */
	rc = conn_open(&cn, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	rc = rpc(&cn, XS_READ, 0, "", 0, &r);
	CHECK(c, rejected(&r, rc), "READ with empty payload: %s", describe(&r, rc));
	conn_close(&cn);
	rc = conn_open(&cn, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	rc = x_path(&cn, XS_READ, 0, "/abuse/nonul", &r);
	conn_close(&cn);
	CHECK(c, is_error(&r, "ENOENT"), "/abuse/nonul was created: %s", describe(&r, rc));
	return 0;
}

static int case_path_too_long(struct ctx *c)
{
	char path[XENSTORE_PAYLOAD_MAX];
	struct conn cn;
	struct reply r;
	int rc = conn_open(&cn, c->sock);

	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	/* Exactly XENSTORE_ABS_PATH_MAX is allowed. */
	memset(path, 'a', sizeof(path));
	memcpy(path, "/abuse/", 7);
	path[XENSTORE_ABS_PATH_MAX] = '\0';
	rc = x_write(&cn, 0, path, "v", &r);
	if (!ok_reply(&r, rc, XS_WRITE)) {
		conn_close(&cn);
		FAILF(c, "write of a %d-byte path: %s", XENSTORE_ABS_PATH_MAX,
		      describe(&r, rc));
	}
	rc = x_path(&cn, XS_RM, 0, path, &r);
	CHECK(c, ok_reply(&r, rc, XS_RM), "rm of the max-length path: %s",
	      describe(&r, rc));
	/* One more byte, and a lot more, for several request types. */
	for (size_t len = XENSTORE_ABS_PATH_MAX + 1; len < 4000; len += 800) {
		memset(path, 'b', len);
		memcpy(path, "/abuse/", 7);
		path[len] = '\0';
		for (int t = 0; t < 4; t++) {
			if (cn.fd < 0) {
				rc = conn_open(&cn, c->sock);
				CHECK(c, rc == 0, "reconnect: %s", strerror(-rc));
			}
			if (t == 0)
				rc = x_write(&cn, 0, path, "v", &r);
			else
				rc = x_path(&cn, t == 1 ? XS_READ : t == 2 ? XS_MKDIR
					    : XS_GET_PERMS, 0, path, &r);
			if (!rejected(&r, rc)) {
				conn_close(&cn);
				FAILF(c, "%zu-byte path (request %d): %s", len, t,
				      describe(&r, rc));
			}
			if (rc)
				conn_close(&cn);
		}
	}
	conn_close(&cn);
	return 0;
}

static int case_path_bad_chars(struct ctx *c)
{
	static const char *const bad[] = {
		"/abuse/a b", "/abuse/a\x01" "b", "/abuse/a\xff" "b", "/abuse//x",
		"/abuse/x/", "", "//", "/abuse/a.b", "/abuse/a*b", "/abuse/a\\b",
		"/abuse/a:b", "/abuse/\xc3\xa4", "/abuse/a\tb", "/abuse/a\nb",
	};
	struct conn cn;
	struct reply r;
	int rc = conn_open(&cn, c->sock);

	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int t = 0; t < 2; t++) {
			if (cn.fd < 0) {
				rc = conn_open(&cn, c->sock);
				CHECK(c, rc == 0, "reconnect: %s", strerror(-rc));
			}
			rc = t == 0 ? x_write(&cn, 0, bad[i], "v", &r)
				    : x_path(&cn, XS_MKDIR, 0, bad[i], &r);
			if (!rejected(&r, rc)) {
				conn_close(&cn);
				FAILF(c, "%s of path #%zu (\"%s\"): %s",
				      t ? "MKDIR" : "WRITE", i, bad[i], describe(&r, rc));
			}
			if (rc)
				conn_close(&cn);
		}
	}
	conn_close(&cn);
	return 0;
}

static int case_half_message_close(struct ctx *c)
{
	struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = 1, .len = 100 };
	struct conn cn;
	struct reply r;
	int rc;

	/* Half a header. */
	rc = conn_open(&cn, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	send_all(cn.fd, &h, 8);
	conn_close(&cn);
	/* A header and part of its payload. */
	rc = conn_open(&cn, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	send_all(cn.fd, &h, sizeof(h));
	send_all(cn.fd, "/abuse/half\0", 12);
	conn_close(&cn);
	/* Half a header, then shut down writing and wait: the daemon must
	 * close (or keep waiting), never hang other clients. */
	rc = conn_open(&cn, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	send_all(cn.fd, &h, 8);
	shutdown(cn.fd, SHUT_WR);
	if (good_client(c) < 0) {
		conn_close(&cn);
		return -1;
	}
	conn_close(&cn);
	/* Requests whose replies are never read: the peer is gone when the
	 * daemon answers (EPIPE, not SIGPIPE). */
	for (int i = 0; i < 20; i++) {
		rc = conn_open(&cn, c->sock);
		CHECK(c, rc == 0, "connect: %s", strerror(-rc));
		send_msg(&cn, XS_WRITE, 0, "/abuse/half\0v", 13);
		send_msg(&cn, XS_DIRECTORY, 0, "/\0", 2);
		conn_close(&cn);
	}
	rc = conn_open(&cn, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	rc = x_path(&cn, XS_RM, 0, "/abuse/half", &r);
	conn_close(&cn);
	CHECK(c, ok_reply(&r, rc, XS_RM), "cleanup: %s", describe(&r, rc));
	return 0;
}

/* One client watches a busy node many times over and never reads, and
 * floods requests without reading replies; another keeps working.  If the
 * daemon queued everything for the stuck client, it would need hundreds of
 * MiB. */
static int case_nonreader(struct ctx *c)
{
	enum { NWATCH = 100, TOKLEN = 600, NWRITES = 400, NREADS = 40000 };
	char tok[TOKLEN + 16], path[2100], big[3001];
	struct conn a, b;
	struct reply r;
	long rss0, rss1;
	int rc, sent = 0;

	rc = conn_open(&b, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	memset(big, 'B', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rc = x_write(&b, 0, "/abuse/bigval", big, &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "write bigval: %s", describe(&r, rc));
	rc = conn_open(&a, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	for (int i = 0; i < NWATCH; i++) {
		memset(tok, 'k', TOKLEN);
		snprintf(tok, 16, "t%04d", i);
		tok[5] = 'k';
		tok[TOKLEN] = '\0';
		rc = x_watch(&a, "/abuse/flood", tok, &r);
		if (!ok_reply(&r, rc, XS_WATCH)) {
			conn_close(&a);
			conn_close(&b);
			FAILF(c, "watch #%d: %s", i, describe(&r, rc));
		}
	}
	conn_clear_events(&a);
	rss0 = vm_rss_kib(c->pid);

	/* From now on `a` never reads. */
	fcntl(a.fd, F_SETFL, fcntl(a.fd, F_GETFL) | O_NONBLOCK);
	for (int i = 0; i < NREADS; i++) {
		rc = send_msg(&a, XS_READ, 0, "/abuse/bigval", 14);
		if (rc)
			break;	/* buffer full (daemon stopped reading) or closed */
		sent++;
	}
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	memcpy(path, "/abuse/flood/", 13);
	for (int i = 0; i < NWRITES; i++) {
		char v[16];

		snprintf(v, sizeof(v), "%d", i);
		rc = x_write(&b, 0, path, v, &r);
		if (!ok_reply(&r, rc, XS_WRITE)) {
			conn_close(&a);
			conn_close(&b);
			FAILF(c, "busy client write #%d not served: %s", i, describe(&r, rc));
		}
	}
	if (good_client(c) < 0) {
		conn_close(&a);
		conn_close(&b);
		return -1;
	}
	rss1 = vm_rss_kib(c->pid);
	printf("# nonreader: %d requests pipelined, %d events generated, "
	       "VmRSS %ld -> %ld KiB\n", sent, NWATCH * NWRITES, rss0, rss1);
	conn_close(&a);
	rc = x_path(&b, XS_RM, 0, "/abuse/flood", &r);
	conn_close(&b);
	CHECK(c, ok_reply(&r, rc, XS_RM), "cleanup: %s", describe(&r, rc));
	CHECK(c, rss0 > 0 && rss1 > 0, "cannot read VmRSS of %d", (int)c->pid);
	CHECK(c, rss1 - rss0 < 64 * 1024, "VmRSS grew by %ld KiB (%ld -> %ld) while "
	      "a client did not read", rss1 - rss0, rss0, rss1);
	return 0;
}

static int case_many_connections(struct ctx *c)
{
	enum { NMAX = 10000 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rlimit rl = { NMAX + 256, NMAX + 256 };
	struct pollfd *pfd = NULL;
	struct conn g, fresh;
	struct reply r;
	long fds, refused = 0, served = 0, closed = 0, pending = 0;
	int rc, nfd = 0, ret = -1;
	time_t deadline;

	long N = NMAX;

	/* Unprivileged, the hard limit may be lower: flood with what we may,
	 * as long as it is well past the daemon's limit. */
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if ((long)rl.rlim_cur - 64 < N)
			N = (long)rl.rlim_cur - 64;
		printf("# many_connections: RLIMIT_NOFILE %ld, flooding with %ld\n",
		       (long)rl.rlim_cur, N);
		CHECK(c, N > 2 * c->max_conn, "RLIMIT_NOFILE %ld too low to flood past "
		      "--max-connections %ld", (long)rl.rlim_cur, c->max_conn);
	}
	rc = conn_open(&g, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	rc = x_write(&g, 0, "/abuse/conn", "before", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "good client before: %s", describe(&r, rc));

	pfd = calloc(N, sizeof(*pfd));
	if (!pfd) {
		conn_close(&g);
		FAILF(c, "out of memory");
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->sock);
	for (long i = 0; i < N; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			snprintf(c->why, sizeof(c->why), "socket #%ld: %s", i, strerror(errno));
			goto out;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			refused++;	/* backlog full: also a way to refuse */
			close(fd);
			continue;
		}
		pfd[nfd].fd = fd;
		pfd[nfd].events = POLLIN;
		nfd++;
	}
	/* One request per connection; the excess connections must be closed,
	 * the others served.  The deadline only bounds a hang. */
	for (int i = 0; i < nfd; i++) {
		struct xsd_sockmsg h = { .type = XS_READ, .req_id = 7, .len = 13 };
		char m[sizeof(h) + 13];

		memcpy(m, &h, sizeof(h));
		memcpy(m + sizeof(h), "/abuse/conn\0", 13);
		if (send(pfd[i].fd, m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m) &&
		    errno != EAGAIN) {
			closed++;
			close(pfd[i].fd);
			pfd[i].fd = -1;
		}
	}
	rc = x_write(&g, 0, "/abuse/conn", "during", &r);
	if (!ok_reply(&r, rc, XS_WRITE)) {
		snprintf(c->why, sizeof(c->why), "connected client not served during the "
			 "flood: %s", describe(&r, rc));
		goto out;
	}
	fds = count_fds(c->pid);
	deadline = time(NULL) + 3 * HANG_GUARD_S;
	for (;;) {
		pending = 0;
		for (int i = 0; i < nfd; i++)
			pending += pfd[i].fd >= 0;
		/* The connection that was in before the flood keeps being
		 * served (a new one may be refused: the limit is full). */
		rc = x_write(&g, 0, "/abuse/conn", "polling", &r);
		if (pending && !ok_reply(&r, rc, XS_WRITE)) {
			snprintf(c->why, sizeof(c->why), "connected client not served "
				 "while the flood is pending: %s", describe(&r, rc));
			goto out;
		}
		if (!pending || time(NULL) > deadline)
			break;
		if (poll(pfd, nfd, 1000) < 0)
			break;
		for (int i = 0; i < nfd; i++) {
			char buf[256];
			ssize_t n;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			n = recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n > 0) {
				/* Keep it open: served ones must stay within the
				 * limit all at once. */
				served++;
				pfd[i].fd = -pfd[i].fd - 1;
			} else {
				closed++;
				close(pfd[i].fd);
				pfd[i].fd = -1;
			}
		}
	}
	printf("# many_connections: %d connected, %ld refused at connect, %ld served, "
	       "%ld closed, %ld unanswered; daemon had %ld fds\n", nfd, refused, served,
	       closed, pending, fds);
	if (pending) {
		snprintf(c->why, sizeof(c->why), "%ld connections neither served nor "
			 "closed after %ds", pending, 3 * HANG_GUARD_S);
		goto out;
	}
	if (served > c->max_conn) {
		snprintf(c->why, sizeof(c->why), "%ld connections served, limit %ld",
			 served, c->max_conn);
		goto out;
	}
	if (fds > c->max_conn + 64) {
		snprintf(c->why, sizeof(c->why), "daemon held %ld fds, limit %ld "
			 "connections", fds, c->max_conn);
		goto out;
	}
	rc = x_write(&g, 0, "/abuse/conn", "after", &r);
	if (!ok_reply(&r, rc, XS_WRITE)) {
		snprintf(c->why, sizeof(c->why), "connected client not served after the "
			 "flood: %s", describe(&r, rc));
		goto out;
	}
	for (int i = 0; i < nfd; i++) {
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
		else if (pfd[i].fd < -1)
			close(-pfd[i].fd - 1);
		pfd[i].fd = -1;
	}
	/* Once the flood is gone a new client gets in (the daemon may need a
	 * moment to notice the closed connections: bounded retries). */
	for (int i = 0; i < 100; i++) {
		rc = conn_open(&fresh, c->sock);
		if (rc == 0) {
			rc = x_path(&fresh, XS_READ, 0, "/abuse/conn", &r);
			conn_close(&fresh);
			if (ok_reply(&r, rc, XS_READ))
				break;
		}
		usleep(100 * 1000);
	}
	if (!ok_reply(&r, rc, XS_READ)) {
		snprintf(c->why, sizeof(c->why), "new client refused after the flood "
			 "ended: %s", describe(&r, rc));
		goto out;
	}
	ret = 0;
out:
	for (int i = 0; i < nfd; i++) {
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
		else if (pfd[i].fd < -1)
			close(-pfd[i].fd - 1);
	}
	free(pfd);
	conn_close(&g);
	return ret;
}

static int case_watch_every_node(struct ctx *c)
{
	enum { N = 1000 };
	struct conn w, b;
	struct reply r;
	char path[64], tok[16];
	unsigned char *seen;
	size_t nseen = 0;
	int rc, ret = -1;

	rc = conn_open(&b, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	rc = conn_open(&w, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	seen = calloc(N, 1);
	if (!seen)
		FAILF(c, "out of memory");
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "/abuse/every/n%d", i);
		rc = x_write(&b, 0, path, "v", &r);
		if (!ok_reply(&r, rc, XS_WRITE)) {
			snprintf(c->why, sizeof(c->why), "write %s: %s", path,
				 describe(&r, rc));
			goto out;
		}
		snprintf(tok, sizeof(tok), "%d", i);
		rc = x_watch(&w, path, tok, &r);
		if (!ok_reply(&r, rc, XS_WATCH)) {
			snprintf(c->why, sizeof(c->why), "watch %s: %s", path,
				 describe(&r, rc));
			goto out;
		}
	}
	rc = x_watch(&w, "/", "root", &r);
	if (!ok_reply(&r, rc, XS_WATCH)) {
		snprintf(c->why, sizeof(c->why), "watch /: %s", describe(&r, rc));
		goto out;
	}
	conn_clear_events(&w);
	rc = x_path(&b, XS_RM, 0, "/abuse/every", &r);
	if (!ok_reply(&r, rc, XS_RM)) {
		snprintf(c->why, sizeof(c->why), "rm: %s", describe(&r, rc));
		goto out;
	}
	/* Every watch fires for the removal. */
	while (nseen < N) {
		rc = recv_any(&w, &r);
		if (rc) {
			snprintf(c->why, sizeof(c->why), "after %zu of %d events: %s", nseen,
				 N, describe(&r, rc));
			goto out;
		}
		if (r.hdr.type == XS_WATCH_EVENT) {
			size_t pl = strnlen(r.body, r.hdr.len);
			const char *t = pl < r.hdr.len ? r.body + pl + 1 : "";
			uint64_t i;

			if (pvd_parse_uint(t, N - 1, &i) == 0 && !seen[i]) {
				seen[i] = 1;
				nseen++;
			}
		}
	}
	ret = 0;
out:
	free(seen);
	conn_close(&w);
	conn_close(&b);
	return ret;
}

static int case_huge_watch_token(struct ctx *c)
{
	char tok[4000], child[3001];
	struct conn cn;
	struct reply r;
	int rc = conn_open(&cn, c->sock);
	bool accepted;

	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	/* A reasonable token is fine. */
	memset(tok, 't', 200);
	tok[200] = '\0';
	rc = x_watch(&cn, "/abuse/hw", tok, &r);
	CHECK(c, ok_reply(&r, rc, XS_WATCH), "200-byte token refused: %s",
	      describe(&r, rc));
	/* One whose event could not fit in XENSTORE_PAYLOAD_MAX is not. */
	memset(tok, 'T', sizeof(tok) - 1);
	tok[sizeof(tok) - 1] = '\0';
	rc = x_watch(&cn, "/abuse/hw", tok, &r);
	accepted = ok_reply(&r, rc, XS_WATCH);
	if (rc == -EPIPE) {
		rc = reopen(&cn, c->sock);
		CHECK(c, rc == 0, "reconnect: %s", strerror(-rc));
	}
	/* Fire it anyway with a long event path: no crash, no oversized
	 * message on the wire (recv_any rejects len > PAYLOAD_MAX). */
	memset(child, 'c', sizeof(child) - 1);
	child[sizeof(child) - 1] = '\0';
	memcpy(child, "/abuse/hw/", 10);
	{
		struct conn b;

		rc = conn_open(&b, c->sock);
		CHECK(c, rc == 0, "connect: %s", strerror(-rc));
		rc = x_write(&b, 0, child, "v", &r);
		CHECK(c, ok_reply(&r, rc, XS_WRITE), "write long child: %s", describe(&r, rc));
		rc = x_path(&b, XS_RM, 0, "/abuse/hw", &r);
		conn_close(&b);
		CHECK(c, ok_reply(&r, rc, XS_RM), "rm: %s", describe(&r, rc));
	}
	/* The watcher's stream must still be well-formed. */
	rc = x_path(&cn, XS_READ, 0, "/abuse/alive", &r);
	conn_close(&cn);
	CHECK(c, rc == 0 || rc == -EPIPE, "watcher stream after event: %s",
	      describe(&r, rc));
	CHECK(c, !accepted, "WATCH with a %zu-byte token was accepted", strlen(tok));
	return 0;
}

static int deep_path(char *buf, size_t cap, const char *root, int levels)
{
	size_t n = strlen(root);

	if (n + 2 * (size_t)levels + 1 > cap)
		return -1;
	memcpy(buf, root, n);
	for (int i = 0; i < levels; i++) {
		buf[n++] = '/';
		buf[n++] = 'd';
	}
	buf[n] = '\0';
	return 0;
}

static int case_deep_tree(struct ctx *c)
{
	char path[XENSTORE_ABS_PATH_MAX + 8], tid[32];
	struct conn cn, w;
	struct reply r;
	int rc;

	rc = conn_open(&cn, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	rc = conn_open(&w, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	/* 1000 levels. */
	deep_path(path, sizeof(path), "/abuse/deep", 1000);
	rc = x_write(&cn, 0, path, "bottom", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "write 1000 levels: %s", describe(&r, rc));
	rc = x_path(&cn, XS_READ, 0, path, &r);
	CHECK(c, ok_reply(&r, rc, XS_READ) && strcmp(r.body, "bottom") == 0,
	      "read 1000 levels: %s", describe(&r, rc));
	rc = x_path(&cn, XS_GET_PERMS, 0, path, &r);
	CHECK(c, ok_reply(&r, rc, XS_GET_PERMS), "get_perms: %s", describe(&r, rc));
	rc = x_watch(&w, path, "deep", &r);
	CHECK(c, ok_reply(&r, rc, XS_WATCH), "watch: %s", describe(&r, rc));
	conn_clear_events(&w);
	/* As deep as XENSTORE_ABS_PATH_MAX allows; an error is acceptable. */
	deep_path(path, sizeof(path), "/abuse/deep",
		  (XENSTORE_ABS_PATH_MAX - (int)strlen("/abuse/deep")) / 2);
	rc = x_write(&cn, 0, path, "max", &r);
	CHECK(c, rc == 0, "write %zu-byte deep path: %s", strlen(path), describe(&r, rc));
	rc = x_path(&cn, XS_RM, 0, "/abuse/deep", &r);
	CHECK(c, ok_reply(&r, rc, XS_RM), "rm deep tree: %s", describe(&r, rc));
	rc = x_path(&cn, XS_READ, 0, "/abuse/deep", &r);
	CHECK(c, is_error(&r, "ENOENT"), "deep tree after rm: %s", describe(&r, rc));
	deep_path(path, sizeof(path), "/abuse/deep", 1000);
	rc = wait_event(&w, "deep", path);
	CHECK(c, rc == 0, "no watch event for the deepest node: %s", describe(&r, rc));
	conn_close(&w);

	/* The same inside a transaction. */
	rc = rpc(&cn, XS_TRANSACTION_START, 0, "", 1, &r);
	CHECK(c, ok_reply(&r, rc, XS_TRANSACTION_START), "txn start: %s", describe(&r, rc));
	snprintf(tid, sizeof(tid), "%.20s", r.body);
	rc = x_write(&cn, reply_tid(tid), path, "t", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "txn write deep: %s", describe(&r, rc));
	rc = rpc(&cn, XS_TRANSACTION_END, reply_tid(tid), "T", 2, &r);
	CHECK(c, ok_reply(&r, rc, XS_TRANSACTION_END), "txn commit: %s", describe(&r, rc));
	rc = rpc(&cn, XS_TRANSACTION_START, 0, "", 1, &r);
	CHECK(c, ok_reply(&r, rc, XS_TRANSACTION_START), "txn start: %s", describe(&r, rc));
	snprintf(tid, sizeof(tid), "%.20s", r.body);
	rc = x_path(&cn, XS_RM, reply_tid(tid), "/abuse/deep", &r);
	CHECK(c, ok_reply(&r, rc, XS_RM), "txn rm deep: %s", describe(&r, rc));
	rc = rpc(&cn, XS_TRANSACTION_END, reply_tid(tid), "T", 2, &r);
	CHECK(c, ok_reply(&r, rc, XS_TRANSACTION_END), "txn commit rm: %s",
	      describe(&r, rc));
	rc = x_path(&cn, XS_READ, 0, "/abuse/deep", &r);
	conn_close(&cn);
	CHECK(c, is_error(&r, "ENOENT"), "deep tree after txn rm: %s", describe(&r, rc));
	return 0;
}

/* Guest fills its node quota: ENOSPC; removing nodes gives quota back. */
static int case_quota_nodes(struct ctx *c)
{
	struct conn d0, g;
	struct reply r;
	char path[64];
	long ok = 0;
	int rc;

	rc = conn_open(&d0, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	if (give_home(c, &d0, c->gdom) < 0)
		return -1;
	rc = conn_open(&g, c->gsock);
	CHECK(c, rc == 0, "guest connect: %s", strerror(-rc));
	for (long i = 0; i < c->q.nodes + 10; i++) {
		snprintf(path, sizeof(path), "q/n%ld", i);
		rc = x_write(&g, 0, path, "x", &r);
		if (!ok_reply(&r, rc, XS_WRITE))
			break;
		ok++;
	}
	CHECK(c, rc == 0 && is_error(&r, "ENOSPC"), "after %ld nodes: %s, want ENOSPC",
	      ok, describe(&r, rc));
	CHECK(c, ok <= c->q.nodes && ok >= c->q.nodes / 2,
	      "guest created %ld nodes with --quota-nodes %ld", ok, c->q.nodes);
	/* dom0 is not limited, even under the guest's directory. */
	snprintf(path, sizeof(path), "/local/domain/%u/q/dom0", c->gdom);
	rc = x_write(&d0, 0, path, "x", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "dom0 write: %s", describe(&r, rc));
	rc = x_path(&g, XS_RM, 0, "q", &r);
	CHECK(c, ok_reply(&r, rc, XS_RM), "guest rm: %s", describe(&r, rc));
	rc = x_write(&g, 0, "q/again", "x", &r);
	conn_close(&g);
	conn_close(&d0);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "after rm, guest still over quota: %s",
	      describe(&r, rc));
	return 0;
}

static int case_quota_value_size(struct ctx *c)
{
	char *val = malloc(c->q.value_size + 2);
	struct conn d0, g;
	struct reply r;
	char path[64];
	int rc;

	CHECK(c, val && c->q.value_size + 100 < XENSTORE_PAYLOAD_MAX,
	      "bad --quota-value-size");
	memset(val, 'v', c->q.value_size + 1);
	val[c->q.value_size + 1] = '\0';
	rc = conn_open(&d0, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	if (give_home(c, &d0, c->gdom) < 0)
		return -1;
	rc = conn_open(&g, c->gsock);
	CHECK(c, rc == 0, "guest connect: %s", strerror(-rc));
	rc = x_write(&g, 0, "big", val, &r);
	CHECK(c, rejected(&r, rc), "guest wrote %ld bytes with --quota-value-size %ld: %s",
	      c->q.value_size + 1, c->q.value_size, describe(&r, rc));
	if (rc)
		reopen(&g, c->gsock);
	val[c->q.value_size] = '\0';
	rc = x_write(&g, 0, "big", val, &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "guest write of exactly the quota: %s",
	      describe(&r, rc));
	val[c->q.value_size] = 'v';
	snprintf(path, sizeof(path), "/local/domain/%u/big", c->gdom);
	rc = x_write(&d0, 0, path, val, &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "dom0 big write: %s", describe(&r, rc));
	rc = x_path(&d0, XS_RM, 0, path, &r);
	conn_close(&g);
	conn_close(&d0);
	free(val);
	return 0;
}

static int case_quota_watches(struct ctx *c)
{
	struct conn g;
	struct reply r;
	char tok[32];
	long ok = 0;
	int rc = conn_open(&g, c->gsock);

	CHECK(c, rc == 0, "guest connect: %s", strerror(-rc));
	for (long i = 0; i < c->q.watches + 10; i++) {
		snprintf(tok, sizeof(tok), "w%ld", i);
		rc = x_watch(&g, "wq", tok, &r);
		if (!ok_reply(&r, rc, XS_WATCH))
			break;
		ok++;
	}
	conn_close(&g);
	CHECK(c, rejected(&r, rc) && ok <= c->q.watches && ok >= c->q.watches / 2,
	      "guest set %ld watches with --quota-watches %ld, then %s", ok,
	      c->q.watches, describe(&r, rc));
	return 0;
}

static int case_quota_transactions(struct ctx *c)
{
	struct conn g;
	struct reply r;
	long ok = 0;
	int rc = conn_open(&g, c->gsock);

	CHECK(c, rc == 0, "guest connect: %s", strerror(-rc));
	for (long i = 0; i < c->q.transactions + 10; i++) {
		rc = rpc(&g, XS_TRANSACTION_START, 0, "", 1, &r);
		if (!ok_reply(&r, rc, XS_TRANSACTION_START))
			break;
		ok++;
	}
	conn_close(&g);
	CHECK(c, rejected(&r, rc) && ok <= c->q.transactions && ok >= 1,
	      "guest opened %ld transactions with --quota-transactions %ld, then %s", ok,
	      c->q.transactions, describe(&r, rc));
	return 0;
}

static int case_quota_perms(struct ctx *c)
{
	char buf[1024];
	struct conn d0, g;
	struct reply r;
	size_t n;
	int rc;

	rc = conn_open(&d0, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	if (give_home(c, &d0, c->gdom) < 0)
		return -1;
	conn_close(&d0);
	rc = conn_open(&g, c->gsock);
	CHECK(c, rc == 0, "guest connect: %s", strerror(-rc));
	rc = x_write(&g, 0, "pq", "x", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "guest write: %s", describe(&r, rc));
	n = snprintf(buf, sizeof(buf), "pq") + 1;
	for (long i = 0; i <= c->q.perms + 3; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%c%ld", i ? 'r' : 'n',
			      i ? 100 + i : (long)c->gdom) + 1;
	rc = rpc(&g, XS_SET_PERMS, 0, buf, n, &r);
	CHECK(c, rejected(&r, rc), "guest set %ld perms with --quota-perms %ld: %s",
	      c->q.perms + 4, c->q.perms, describe(&r, rc));
	if (rc)
		reopen(&g, c->gsock);
	rc = x_path(&g, XS_RM, 0, "pq", &r);
	conn_close(&g);
	return 0;
}

static int case_quota_path_max(struct ctx *c)
{
	char rel[600], abs[700];
	struct conn d0, g;
	struct reply r;
	int rc;

	CHECK(c, c->q.path_max + 50 < (long)sizeof(rel), "bad --quota-path-max");
	rc = conn_open(&d0, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	if (give_home(c, &d0, c->gdom) < 0)
		return -1;
	rc = conn_open(&g, c->gsock);
	CHECK(c, rc == 0, "guest connect: %s", strerror(-rc));
	memset(rel, 'p', c->q.path_max + 20);
	rel[c->q.path_max + 20] = '\0';
	rc = x_write(&g, 0, rel, "x", &r);
	CHECK(c, rejected(&r, rc), "guest wrote a %zu-byte relative path with "
	      "--quota-path-max %ld: %s", strlen(rel), c->q.path_max, describe(&r, rc));
	if (rc)
		reopen(&g, c->gsock);
	rel[40] = '\0';
	rc = x_write(&g, 0, rel, "x", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "guest short path: %s", describe(&r, rc));
	rc = x_path(&g, XS_RM, 0, rel, &r);
	conn_close(&g);
	rel[40] = 'p';
	snprintf(abs, sizeof(abs), "/local/domain/%u/%s", c->gdom, rel);
	rc = x_write(&d0, 0, abs, "x", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "dom0 long path: %s", describe(&r, rc));
	rc = x_path(&d0, XS_RM, 0, abs, &r);
	conn_close(&d0);
	return 0;
}

/* A guest pipelines many requests without reading: dom0 is still served,
 * and the guest eventually gets every reply (backpressure, not loss). */
static int case_quota_outstanding(struct ctx *c)
{
	enum { N = 200 };
	struct conn g;
	struct reply r;
	int rc = conn_open(&g, c->gsock), got = 0;

	CHECK(c, rc == 0, "guest connect: %s", strerror(-rc));
	for (int i = 0; i < N; i++) {
		rc = send_msg(&g, XS_READ, 0, "nonexistent\0", 12);
		CHECK(c, rc == 0, "guest send #%d: %s", i, strerror(-rc));
	}
	if (good_client(c) < 0) {
		conn_close(&g);
		return -1;
	}
	while (got < N) {
		rc = recv_any(&g, &r);
		if (rc)
			break;
		if (r.hdr.type != XS_WATCH_EVENT)
			got++;
	}
	conn_close(&g);
	CHECK(c, got == N, "guest got %d of %d pipelined replies: %s", got, N,
	      describe(&r, rc));
	return 0;
}

static int case_quota_trans_nodes(struct ctx *c)
{
	struct conn d0, g;
	struct reply r;
	char path[64];
	uint32_t tid;
	long ok = 0;
	int rc;

	rc = conn_open(&d0, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	if (give_home(c, &d0, c->gdom) < 0)
		return -1;
	conn_close(&d0);
	CHECK(c, c->q.trans_nodes + 10 < c->q.nodes, "--quota-trans-nodes must be "
	      "well below --quota-nodes for this case");
	rc = conn_open(&g, c->gsock);
	CHECK(c, rc == 0, "guest connect: %s", strerror(-rc));
	rc = rpc(&g, XS_TRANSACTION_START, 0, "", 1, &r);
	CHECK(c, ok_reply(&r, rc, XS_TRANSACTION_START), "txn start: %s", describe(&r, rc));
	tid = reply_tid(r.body);
	for (long i = 0; i < c->q.trans_nodes + 5; i++) {
		snprintf(path, sizeof(path), "tq%ld", i);
		rc = x_write(&g, tid, path, "x", &r);
		if (!ok_reply(&r, rc, XS_WRITE))
			break;
		ok++;
	}
	if (ok_reply(&r, rc, XS_WRITE)) {
		/* Not refused on access: then the commit must be. */
		rc = rpc(&g, XS_TRANSACTION_END, tid, "T", 2, &r);
		conn_close(&g);
		CHECK(c, rejected(&r, rc), "guest committed a transaction touching %ld "
		      "nodes with --quota-trans-nodes %ld: %s", ok, c->q.trans_nodes,
		      describe(&r, rc));
		return 0;
	}
	CHECK(c, rejected(&r, rc) && ok <= c->q.trans_nodes,
	      "guest touched %ld nodes in a transaction with --quota-trans-nodes %ld, "
	      "then %s", ok, c->q.trans_nodes, describe(&r, rc));
	if (rc == 0)
		rpc(&g, XS_TRANSACTION_END, tid, "F", 2, &r);
	conn_close(&g);
	return 0;
}

/* Guests may not use the privileged requests. */
static int case_guest_privileged_ops(struct ctx *c)
{
#define REQ(t, s) { t, s, sizeof(s) - 1 }
	static const struct {
		uint32_t type;
		const char *payload;
		size_t len;
	} reqs[] = {
		REQ(XS_INTRODUCE, "91\0" "1\0" "1\0"),
		REQ(XS_RELEASE, "0\0"),
		REQ(XS_RESUME, "0\0"),
		REQ(XS_SET_TARGET, "91\0" "5\0"),
		REQ(XS_CONTROL, "help\0"),
		REQ(XS_WRITE, "../escape\0" "x"),
		REQ(XS_WRITE, "/local/domain/0/x\0" "x"),
		REQ(XS_SET_PERMS, "/\0" "b0\0"),
		REQ(XS_RM, "/local\0"),
	};
#undef REQ
	struct conn g;
	struct reply r;
	int rc;

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		rc = conn_open(&g, c->gsock);
		CHECK(c, rc == 0, "guest connect: %s", strerror(-rc));
		rc = rpc(&g, reqs[i].type, 0, reqs[i].payload, reqs[i].len, &r);
		conn_close(&g);
		CHECK(c, rejected(&r, rc), "guest request type %" PRIu32 " (\"%s\"): %s",
		      reqs[i].type, reqs[i].payload, describe(&r, rc));
	}
	return 0;
}

/* XSA-322: a released domain's nodes and perms do not pass to the next
 * domain with the same id, nor do its quota counts. */
static int case_domid_reuse(struct ctx *c)
{
	struct conn d0, g;
	struct reply r;
	char path[96], home[64], perm[16];
	long before = 0, after = 0;
	int rc;

	snprintf(home, sizeof(home), "/local/domain/%u", c->gdom2);
	snprintf(perm, sizeof(perm), "r%u", c->gdom2);
	rc = conn_open(&d0, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	if (ensure_introduced(c, &d0, c->gdom2) < 0 || give_home(c, &d0, c->gdom2) < 0)
		return -1;
	rc = x_write(&d0, 0, "/abuse/shared", "s", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "write shared: %s", describe(&r, rc));
	rc = x_set_perms(&d0, "/abuse/shared", "n0", perm, &r);
	CHECK(c, ok_reply(&r, rc, XS_SET_PERMS), "set_perms shared: %s", describe(&r, rc));

	rc = conn_open(&g, c->gsock2);
	CHECK(c, rc == 0, "guest connect: %s", strerror(-rc));
	rc = x_path(&g, XS_READ, 0, "/abuse/shared", &r);
	CHECK(c, ok_reply(&r, rc, XS_READ), "guest cannot read a node shared with it: %s",
	      describe(&r, rc));
	rc = x_write(&g, 0, "reuse/a", "mine", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "guest write: %s", describe(&r, rc));
	for (long i = 0; i < c->q.nodes + 10; i++) {
		snprintf(path, sizeof(path), "reuse/n%ld", i);
		rc = x_write(&g, 0, path, "x", &r);
		if (!ok_reply(&r, rc, XS_WRITE))
			break;
		before++;
	}
	CHECK(c, rc == 0 && is_error(&r, "ENOSPC"), "filling quota: %s",
	      describe(&r, rc));
	conn_close(&g);
	snprintf(path, sizeof(path), "%s/reuse/a", home);
	rc = x_path(&d0, XS_GET_PERMS, 0, path, &r);
	snprintf(perm, sizeof(perm), "n%u", c->gdom2);
	CHECK(c, ok_reply(&r, rc, XS_GET_PERMS) && strcmp(perms_str(&r), perm) == 0,
	      "perms of the guest's node before release: %s (%s), want %s",
	      describe(&r, rc), perms_str(&r), perm);

	rc = x_domid(&d0, XS_RELEASE, c->gdom2, &r);
	CHECK(c, ok_reply(&r, rc, XS_RELEASE), "release: %s", describe(&r, rc));
	rc = x_domid(&d0, XS_INTRODUCE, c->gdom2, &r);
	CHECK(c, ok_reply(&r, rc, XS_INTRODUCE), "re-introduce: %s", describe(&r, rc));

	/* The released domain's own nodes are removed (or, had they
	 * survived, would belong to dom0): nothing of it is left for the new
	 * domain with the same id. */
	rc = x_path(&d0, XS_GET_PERMS, 0, path, &r);
	CHECK(c, is_error(&r, "ENOENT") ||
	      (ok_reply(&r, rc, XS_GET_PERMS) && strcmp(perms_str(&r), "n0") == 0),
	      "old guest node %s after the domid was reused: %s (%s), want gone or n0",
	      path, describe(&r, rc), perms_str(&r));
	rc = x_path(&d0, XS_GET_PERMS, 0, "/abuse/shared", &r);
	CHECK(c, ok_reply(&r, rc, XS_GET_PERMS), "get_perms shared: %s", describe(&r, rc));
	CHECK(c, strcmp(perms_str(&r), "n0") == 0,
	      "/abuse/shared has perms \"%s\" after the domid was reused, want \"n0\"",
	      perms_str(&r));

	rc = conn_open(&g, c->gsock2);
	CHECK(c, rc == 0, "guest reconnect: %s", strerror(-rc));
	rc = x_path(&g, XS_READ, 0, "reuse/a", &r);
	CHECK(c, rejected(&r, rc), "new domain reads the old domain's node: %s",
	      describe(&r, rc));
	rc = x_path(&g, XS_READ, 0, "/abuse/shared", &r);
	CHECK(c, rejected(&r, rc), "new domain reads a node shared with the old one: %s",
	      describe(&r, rc));
	conn_close(&g);
	/* The toolstack gives the new domain a home; its quota starts afresh. */
	snprintf(perm, sizeof(perm), "n%u", c->gdom2);
	rc = x_path(&d0, XS_MKDIR, 0, home, &r);
	CHECK(c, ok_reply(&r, rc, XS_MKDIR), "mkdir home: %s", describe(&r, rc));
	rc = x_set_perms(&d0, home, perm, NULL, &r);
	CHECK(c, ok_reply(&r, rc, XS_SET_PERMS), "chown home: %s", describe(&r, rc));
	rc = conn_open(&g, c->gsock2);
	CHECK(c, rc == 0, "guest reconnect: %s", strerror(-rc));
	for (long i = 0; i < c->q.nodes + 10; i++) {
		snprintf(path, sizeof(path), "fresh/n%ld", i);
		rc = x_write(&g, 0, path, "x", &r);
		if (!ok_reply(&r, rc, XS_WRITE))
			break;
		after++;
	}
	conn_close(&g);
	rc = x_path(&d0, XS_RM, 0, home, &r);
	conn_close(&d0);
	CHECK(c, after >= c->q.nodes / 2, "new domain could create only %ld nodes "
	      "(old domain had %ld, --quota-nodes %ld): quota counts survived the "
	      "domid reuse", after, before, c->q.nodes);
	return 0;
}

/* XSA-115: watch events must not reveal nodes the watcher cannot read;
 * special watches of a guest must not report other domains. */
static int case_watch_leak(struct ctx *c)
{
	struct conn d0, g;
	struct reply r;
	char path[96], perm[16];
	size_t bad = 0;
	int rc;

	snprintf(perm, sizeof(perm), "r%u", c->gdom);
	rc = conn_open(&d0, c->sock);
	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	if (give_home(c, &d0, c->gdom) < 0)
		return -1;
	rc = x_write(&d0, 0, "/abuse/secret/base", "s", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "setup: %s", describe(&r, rc));
	rc = x_write(&d0, 0, "/abuse/pub", "p", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "setup: %s", describe(&r, rc));
	rc = x_set_perms(&d0, "/abuse/pub", "n0", perm, &r);
	CHECK(c, ok_reply(&r, rc, XS_SET_PERMS), "setup: %s", describe(&r, rc));

	rc = conn_open(&g, c->gsock);
	CHECK(c, rc == 0, "guest connect: %s", strerror(-rc));
	rc = x_watch(&g, "/abuse/secret", "sec", &r);
	CHECK(c, rejected(&r, rc) || ok_reply(&r, rc, XS_WATCH), "watch secret: %s",
	      describe(&r, rc));
	if (rc)
		reopen(&g, c->gsock);
	rc = x_watch(&g, "/abuse/pub", "pub", &r);
	CHECK(c, ok_reply(&r, rc, XS_WATCH), "watch pub: %s", describe(&r, rc));
	rc = x_watch(&g, "sentinel", "sent", &r);
	CHECK(c, ok_reply(&r, rc, XS_WATCH), "watch sentinel: %s", describe(&r, rc));
	rc = x_watch(&g, "@releaseDomain", "rel", &r);
	CHECK(c, ok_reply(&r, rc, XS_WATCH) || is_error(&r, NULL),
	      "watch @releaseDomain: %s", describe(&r, rc));
	/* Everything before sentinel/p1 is initial events. */
	snprintf(path, sizeof(path), "/local/domain/%u/sentinel/p1", c->gdom);
	rc = x_write(&d0, 0, path, "1", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "sentinel: %s", describe(&r, rc));
	rc = wait_event(&g, "sent", "sentinel/p1");
	CHECK(c, rc == 0, "guest got no sentinel event: %s", describe(&r, rc));
	for (size_t i = 0; i < g.nev; i++)
		if (strcmp(g.ev[i].token, "sec") == 0 &&
		    strcmp(g.ev[i].path, "/abuse/secret") != 0)
			FAILF(c, "initial event of an unreadable watch leaked %s",
			      g.ev[i].path);
	conn_clear_events(&g);

	/* Actions on unreadable nodes, one readable change, a foreign domain
	 * coming and going, then the sentinel. */
	rc = x_write(&d0, 0, "/abuse/secret/x", "1", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "dom0 write: %s", describe(&r, rc));
	rc = x_write(&d0, 0, "/abuse/secret/x", "2", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "dom0 write: %s", describe(&r, rc));
	rc = x_write(&d0, 0, "/abuse/secret/base", "changed", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "dom0 write: %s", describe(&r, rc));
	rc = x_set_perms(&d0, "/abuse/secret/x", "n0", NULL, &r);
	CHECK(c, ok_reply(&r, rc, XS_SET_PERMS), "dom0 set_perms: %s", describe(&r, rc));
	rc = x_path(&d0, XS_RM, 0, "/abuse/secret/x", &r);
	CHECK(c, ok_reply(&r, rc, XS_RM), "dom0 rm: %s", describe(&r, rc));
	rc = x_write(&d0, 0, "/abuse/pub/y", "1", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "dom0 write: %s", describe(&r, rc));
	rc = x_domid(&d0, XS_INTRODUCE, 77, &r);
	CHECK(c, ok_reply(&r, rc, XS_INTRODUCE), "introduce 77: %s", describe(&r, rc));
	rc = x_domid(&d0, XS_RELEASE, 77, &r);
	CHECK(c, ok_reply(&r, rc, XS_RELEASE), "release 77: %s", describe(&r, rc));
	snprintf(path, sizeof(path), "/local/domain/%u/sentinel/p2", c->gdom);
	rc = x_write(&d0, 0, path, "2", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "sentinel: %s", describe(&r, rc));
	rc = wait_event(&g, "sent", "sentinel/p2");
	CHECK(c, rc == 0, "guest got no sentinel event: %s", describe(&r, rc));
	for (size_t i = 0; i < g.nev; i++) {
		if (strcmp(g.ev[i].token, "sec") == 0 || strcmp(g.ev[i].token, "rel") == 0) {
			printf("# leaked to guest: %s (token %s)\n", g.ev[i].path,
			       g.ev[i].token);
			bad++;
		}
	}
	rc = (int)count_events(&g, "pub", "/abuse/pub/y");
	conn_close(&g);
	x_path(&d0, XS_RM, 0, "/abuse/secret", &r);
	x_path(&d0, XS_RM, 0, "/abuse/pub", &r);
	conn_close(&d0);
	CHECK(c, bad == 0, "%zu events for unreadable nodes or foreign domains were "
	      "delivered to the guest", bad);
	CHECK(c, rc >= 1, "control: no event for a node the guest may read");
	return 0;
}

/* XSA-425: RESET_WATCHES inside a transaction is refused with EINVAL. */
static int case_reset_watches_in_txn(struct ctx *c)
{
	struct conn cn;
	struct reply r;
	uint32_t tid;
	int rc = conn_open(&cn, c->sock);

	CHECK(c, rc == 0, "connect: %s", strerror(-rc));
	rc = x_watch(&cn, "/abuse/rw", "rw", &r);
	CHECK(c, ok_reply(&r, rc, XS_WATCH), "watch: %s", describe(&r, rc));
	rc = rpc(&cn, XS_TRANSACTION_START, 0, "", 1, &r);
	CHECK(c, ok_reply(&r, rc, XS_TRANSACTION_START), "txn start: %s", describe(&r, rc));
	tid = reply_tid(r.body);
	rc = x_write(&cn, tid, "/abuse/rw/t", "x", &r);
	CHECK(c, ok_reply(&r, rc, XS_WRITE), "txn write: %s", describe(&r, rc));
	rc = rpc(&cn, XS_RESET_WATCHES, tid, "", 1, &r);
	CHECK(c, rc == 0 && is_error(&r, "EINVAL"), "RESET_WATCHES in a transaction: %s, "
	      "want error EINVAL", describe(&r, rc));
	rc = rpc(&cn, XS_TRANSACTION_END, tid, "T", 2, &r);
	CHECK(c, ok_reply(&r, rc, XS_TRANSACTION_END), "txn still usable after the "
	      "refused RESET_WATCHES: %s", describe(&r, rc));
	rc = rpc(&cn, XS_RESET_WATCHES, 0, "", 1, &r);
	CHECK(c, ok_reply(&r, rc, XS_RESET_WATCHES), "RESET_WATCHES outside a "
	      "transaction: %s", describe(&r, rc));
	rc = x_path(&cn, XS_RM, 0, "/abuse/rw", &r);
	conn_close(&cn);
	CHECK(c, ok_reply(&r, rc, XS_RM), "cleanup: %s", describe(&r, rc));
	return 0;
}

struct abuse_case {
	const char *name;
	int (*fn)(struct ctx *);
};

static const struct abuse_case cases[] = {
	{ "oversize_len", case_oversize_len },
	{ "unknown_type", case_unknown_type },
	{ "path_not_nul_terminated", case_path_not_nul },
	{ "path_too_long", case_path_too_long },
	{ "path_bad_chars", case_path_bad_chars },
	{ "half_message_then_close", case_half_message_close },
	{ "nonreader_bounded_memory", case_nonreader },
	{ "many_connections", case_many_connections },
	{ "watch_every_node", case_watch_every_node },
	{ "huge_watch_token_xsa324", case_huge_watch_token },
	{ "deep_tree_xsa418", case_deep_tree },
	{ "quota_nodes", case_quota_nodes },
	{ "quota_value_size", case_quota_value_size },
	{ "quota_watches", case_quota_watches },
	{ "quota_transactions", case_quota_transactions },
	{ "quota_perms", case_quota_perms },
	{ "quota_path_max", case_quota_path_max },
	{ "quota_outstanding", case_quota_outstanding },
	{ "quota_trans_nodes", case_quota_trans_nodes },
	{ "guest_privileged_ops", case_guest_privileged_ops },
	{ "domid_reuse_xsa322", case_domid_reuse },
	{ "watch_leak_xsa115", case_watch_leak },
	{ "reset_watches_in_txn_xsa425", case_reset_watches_in_txn },
};

static int parse_guest(const char *arg, unsigned int *domid, const char **sock)
{
	const char *colon = strchr(arg, ':');
	uint64_t d;

	if (!colon || !colon[1] ||
	    pvd_parse_uint_n(arg, (size_t)(colon - arg), 10, 0xffff, &d) < 0)
		return -1;
	*domid = (unsigned int)d;
	*sock = colon + 1;
	return 0;
}

/* ------------------------------------------------- subcommands
 *
 * For tests/integration/test_stored_limits.sh (issue 11), which starts its
 * own daemons with their own limits:
 *
 *   xs_abuse guest-flood --sock DOM0SOCK --guest D:SOCK --count N
 *	[--settle S] [--no-dom0]
 *	N connections to the guest socket, one request on each, then a dom0
 *	client (bounded by HANG_GUARD_S) while they are all held; then how
 *	many guest connections were served, closed, refused or left pending
 *	after at most S seconds (15).
 *   xs_abuse domain-flood --sock DOM0SOCK --guest D:SOCK --pid PID
 *	--count N --watches W --writes K
 *	N connections of domain D each set W watches on one node and never
 *	read; dom0 writes K times below it (events of ~4 KiB); the daemon's
 *	VmRSS before and after the writes.
 *
 * Each prints a "# " summary line and key=value lines for the script. */

struct sub_args {
	const char *sock, *gsock;
	unsigned int gdom;
	pid_t pid;
	long count, watches, writes, settle;
	bool no_dom0;
};

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* dom0 is served: a write and a read back on a fresh connection. */
static int dom0_probe(struct ctx *c)
{
	struct conn cn;
	struct reply r;
	int rc = conn_open(&cn, c->sock);

	CHECK(c, rc == 0, "dom0 cannot connect: %s", strerror(-rc));
	rc = x_write(&cn, 0, "/limits/probe", "1", &r);
	if (ok_reply(&r, rc, XS_WRITE))
		rc = x_path(&cn, XS_READ, 0, "/limits/probe", &r);
	conn_close(&cn);
	CHECK(c, ok_reply(&r, rc, XS_READ), "dom0 not answered: %s",
	      describe(&r, rc));
	return 0;
}

/* Classifies the held connections: a reply (kept open), end of file or an
 * error (closed), nothing within the deadline (pending). */
static void flood_settle(struct pollfd *pfd, int nfd, long settle,
			 long *served, long *closed, long *pending)
{
	time_t deadline = time(NULL) + settle;

	for (;;) {
		*pending = 0;
		for (int i = 0; i < nfd; i++)
			*pending += pfd[i].fd >= 0;
		if (!*pending || time(NULL) > deadline ||
		    poll(pfd, nfd, 1000) < 0)
			return;
		for (int i = 0; i < nfd; i++) {
			char buf[256];
			ssize_t n;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			n = recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n > 0) {
				(*served)++;
				pfd[i].fd = -pfd[i].fd - 1;
			} else {
				(*closed)++;
				close(pfd[i].fd);
				pfd[i].fd = -1;
			}
		}
	}
}

static int sub_guest_flood(const struct sub_args *a)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct xsd_sockmsg h = { .type = XS_READ, .req_id = 7, .len = 2 };
	struct pollfd *pfd = calloc(a->count, sizeof(*pfd));
	struct ctx c = { .sock = a->sock };
	long refused = 0, served = 0, closed = 0, pending = 0;
	char m[sizeof(h) + 2];
	int nfd = 0, dom0;

	if (!pfd)
		return 2;
	memcpy(m, &h, sizeof(h));
	memcpy(m + sizeof(h), "/", 2);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a->gsock);
	for (long i = 0; i < a->count; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			printf("# socket #%ld: %s\n", i, strerror(errno));
			return 2;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			refused++;
			close(fd);
			continue;
		}
		if (send(fd, m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m) &&
		    errno != EAGAIN) {
			closed++;
			close(fd);
			continue;
		}
		pfd[nfd].fd = fd;
		pfd[nfd++].events = POLLIN;
	}
	/* While every guest connection is held. */
	dom0 = a->no_dom0 ? 0 : dom0_probe(&c);
	flood_settle(pfd, nfd, a->settle, &served, &closed, &pending);
	printf("# guest-flood: %ld guest connections: %ld refused at connect, "
	       "%ld served, %ld closed, %ld pending; dom0 %s%s\n", a->count,
	       refused, served, closed, pending,
	       a->no_dom0 ? "not tried" : dom0 == 0 ? "answered" :
	       "NOT answered: ", c.why);
	printf("refused=%ld\nserved=%ld\nclosed=%ld\npending=%ld\ndom0=%s\n",
	       refused, served, closed, pending,
	       a->no_dom0 ? "skipped" : dom0 == 0 ? "ok" : "fail");
	for (int i = 0; i < nfd; i++)
		if (pfd[i].fd != -1)
			close(pfd[i].fd < 0 ? -pfd[i].fd - 1 : pfd[i].fd);
	free(pfd);
	return dom0 == 0 && pending == 0 ? 0 : 1;
}

/* Connection i of domain-flood: W watches on path with 1000-byte tokens
 * (the most a token may have, XSA-324); with the ~3 KiB path of the node
 * that changes, each event is as large as the protocol allows. */
static int flood_watches(struct conn *cn, const char *gsock, const char *path,
			 long i, long nwatch)
{
	char tok[XENSTORE_PAYLOAD_MAX];
	size_t tlen = 1000;
	struct reply r;
	int rc = conn_open(cn, gsock);

	if (rc)
		return rc;
	memset(tok, 'w', tlen);
	tok[tlen] = '\0';
	for (long w = 0; w < nwatch; w++) {
		int n = snprintf(tok, 32, "c%ld-w%ld-", i, w);

		tok[n] = 'w';
		rc = x_watch(cn, path, tok, &r);
		if (!ok_reply(&r, rc, XS_WATCH)) {
			conn_close(cn);
			return rc ? rc : -EPROTO;
		}
	}
	conn_clear_events(cn);
	return 0;
}

static int sub_domain_flood(const struct sub_args *a)
{
	struct ctx c = { .sock = a->sock, .pid = a->pid };
	struct conn d0, *g = calloc(a->count, sizeof(*g));
	char path[64], node[3000], val[32];
	long admitted = 0, refused = 0, rss0, rss1;
	struct reply r;
	int rc, ret = 1;
	bool seen = false;

	if (!g || conn_open(&d0, a->sock) < 0)
		return 2;
	snprintf(path, sizeof(path), "/local/domain/%u/flood", a->gdom);
	memset(node, 'p', sizeof(node) - 1);
	node[sizeof(node) - 1] = '\0';
	memcpy(node, path, strlen(path));
	node[strlen(path)] = '/';
	if (give_home(&c, &d0, a->gdom) < 0) {
		printf("# setup: %s\n", c.why);
		goto out;
	}
	rc = x_write(&d0, 0, path, "0", &r);
	if (!ok_reply(&r, rc, XS_WRITE)) {
		printf("# setup: %s %s\n", c.why, describe(&r, rc));
		goto out;
	}
	for (long i = 0; i < a->count; i++) {
		g[i].fd = -1;
		if (flood_watches(&g[i], a->gsock, path, i, a->watches) == 0)
			admitted++;
		else
			refused++;
	}
	rss0 = vm_rss_kib(a->pid);
	for (long k = 0; k < a->writes; k++) {
		snprintf(val, sizeof(val), "%ld", k);
		rc = x_write(&d0, 0, node, val, &r);
		if (!ok_reply(&r, rc, XS_WRITE)) {
			printf("# dom0 write #%ld: %s\n", k, describe(&r, rc));
			goto out;
		}
	}
	rss1 = vm_rss_kib(a->pid);
	/* The events were sent: a watcher has some waiting (not vacuous). */
	for (long i = 0; i < a->count && !seen; i++)
		seen = g[i].fd >= 0 &&
		       recv(g[i].fd, val, sizeof(val), MSG_DONTWAIT) > 0;
	printf("# domain-flood: %ld connections of dom%u (%ld admitted, %ld "
	       "refused), %ld watches each, %ld writes; VmRSS %ld -> %ld KiB\n",
	       a->count, a->gdom, admitted, refused, a->watches, a->writes,
	       rss0, rss1);
	printf("admitted=%ld\nrefused=%ld\nrss0=%ld\nrss1=%ld\nevents=%s\n",
	       admitted, refused, rss0, rss1, seen ? "yes" : "no");
	ret = rss0 > 0 && rss1 > 0 ? 0 : 1;
out:
	for (long i = 0; i < a->count; i++)
		if (g[i].fd >= 0)
			conn_close(&g[i]);
	conn_close(&d0);
	free(g);
	return ret;
}

static int sub_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sock", 1, NULL, 's' },
		{ "guest", 1, NULL, 'g' },
		{ "pid", 1, NULL, 'p' },
		{ "count", 1, NULL, 'n' },
		{ "watches", 1, NULL, 'w' },
		{ "writes", 1, NULL, 'W' },
		{ "settle", 1, NULL, 'S' },
		{ "no-dom0", 0, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	struct sub_args a = { .count = 100, .watches = 1, .writes = 100,
			      .settle = 15 };
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': a.sock = optarg; break;
		case 'g':
			if (parse_guest(optarg, &a.gdom, &a.gsock) < 0)
				return 2;
			break;
		case 'p': a.pid = (pid_t)pvd_opt_range("pid", optarg, 1, INT_MAX); break;
		case 'n': a.count = (long)pvd_opt_range("count", optarg, 1, 100000); break;
		case 'w': a.watches = (long)pvd_opt_range("watches", optarg, 1, 1000); break;
		case 'W': a.writes = (long)pvd_opt_range("writes", optarg, 1, 1000000); break;
		case 'S': a.settle = (long)pvd_opt_range("settle", optarg, 0, 60); break;
		case 'D': a.no_dom0 = true; break;
		default: return 2;
		}
	}
	if (!a.sock || !a.gsock)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	raise_nofile();
	if (strcmp(argv[0], "guest-flood") == 0)
		return sub_guest_flood(&a);
	if (strcmp(argv[0], "domain-flood") == 0 && a.pid > 0)
		return sub_domain_flood(&a);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sock", 1, NULL, 's' },
		{ "pid", 1, NULL, 'p' },
		{ "guest", 1, NULL, 'g' },
		{ "guest2", 1, NULL, 'G' },
		{ "max-connections", 1, NULL, 'm' },
		{ "quota-nodes", 1, NULL, 1 },
		{ "quota-value-size", 1, NULL, 2 },
		{ "quota-watches", 1, NULL, 3 },
		{ "quota-transactions", 1, NULL, 4 },
		{ "quota-outstanding", 1, NULL, 5 },
		{ "quota-path-max", 1, NULL, 6 },
		{ "quota-trans-nodes", 1, NULL, 7 },
		{ "quota-perms", 1, NULL, 8 },
		{ NULL, 0, NULL, 0 },
	};
	struct ctx c = { .max_conn = -1 };
	long *qv[] = { NULL, &c.q.nodes, &c.q.value_size, &c.q.watches,
		       &c.q.transactions, &c.q.outstanding, &c.q.path_max,
		       &c.q.trans_nodes, &c.q.perms };
	int opt, failed = 0, ran = 0;

	if (argc > 1 && argv[1][0] != '-')
		return sub_main(argc - 1, argv + 1);
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': c.sock = optarg; break;
		case 'p': c.pid = (pid_t)pvd_opt_range("pid", optarg, 1, INT_MAX); break;
		case 'g':
			if (parse_guest(optarg, &c.gdom, &c.gsock) < 0)
				goto usage;
			break;
		case 'G':
			if (parse_guest(optarg, &c.gdom2, &c.gsock2) < 0)
				goto usage;
			break;
		case 'm':
			c.max_conn = (long)pvd_opt_range("max-connections", optarg,
							 1, 1u << 30);
			break;
		case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8:
			*qv[opt] = (long)pvd_opt_range(opts[opt + 4].name, optarg,
						       1, 1u << 30);
			break;
		default:
			goto usage;
		}
	}
	if (!c.sock || c.pid <= 0 || !c.gsock || !c.gsock2 || c.max_conn <= 0 ||
	    !c.q.nodes || !c.q.value_size || !c.q.watches || !c.q.transactions ||
	    !c.q.path_max || !c.q.trans_nodes || !c.q.perms)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool want = optind == argc;

		for (int a = optind; a < argc; a++)
			want |= strcmp(argv[a], cases[i].name) == 0;
		if (!want)
			continue;
		ran++;
		c.why[0] = '\0';
		if (cases[i].fn(&c) == 0 && good_client(&c) == 0) {
			printf("PASS %s\n", cases[i].name);
		} else {
			printf("FAIL %s: %s\n", cases[i].name, c.why);
			failed++;
		}
	}
	printf("# %d cases, %d failed\n", ran, failed);
	return failed || !ran ? 1 : 0;
usage:
	fprintf(stderr, "usage: xs_abuse --sock PATH --pid PID --guest DOMID:PATH "
		"--guest2 DOMID:PATH --max-connections N --quota-nodes N "
		"--quota-value-size N --quota-watches N --quota-transactions N "
		"--quota-path-max N --quota-trans-nodes N --quota-perms N "
		"[--quota-outstanding N] [case...]\n");
	return 2;
}
