/* Toolstack and hostile-client helper for tests/integration/test_pvguest.sh.
 *
 *   pvguest_xs introduce DOMID GFN PORT   xs_introduce_domain, as a toolstack
 *   pvguest_xs release DOMID              xs_release_domain
 *   pvguest_xs introduced DOMID           prints T or F (IS_DOMAIN_INTRODUCED)
 *   pvguest_xs bigframe SOCK              sends a frame longer than
 *                                         XENSTORE_PAYLOAD_MAX; exit 0 iff the
 *                                         peer closes the connection
 *   pvguest_xs badwatch SOCK              a WATCH without a token; exit 0 iff
 *                                         the reply is XS_ERROR "EINVAL"
 *
 * libxenstore finds the store through XENSTORED_PATH.  Socket receive
 * timeouts only turn a hang into a failure. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

#define HANG_GUARD_S 10

static unsigned long num(const char *s)
{
	char *e;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &e, 10);
	if (errno || e == s || *e) {
		fprintf(stderr, "pvguest_xs: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static struct xs_handle *open_store(void)
{
	struct xs_handle *h = xs_open(0);

	if (!h) {
		fprintf(stderr, "pvguest_xs: cannot reach the store: %s\n",
			strerror(errno));
		exit(1);
	}
	return h;
}

static int connect_sock(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { HANG_GUARD_S, 0 };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "pvguest_xs: path too long\n");
		exit(2);
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "pvguest_xs: connect %s: %s\n", path, strerror(errno));
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int bigframe(const char *path)
{
	struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = 1,
				 .len = XENSTORE_PAYLOAD_MAX + 1 };
	int fd = connect_sock(path);
	char buf[64];
	ssize_t n;

	if (send(fd, &h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h)) {
		fprintf(stderr, "pvguest_xs: send: %s\n", strerror(errno));
		return 1;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return 0;
	fprintf(stderr, "pvguest_xs: connection not closed (%zd, %s)\n", n,
		n < 0 ? strerror(errno) : "data");
	return 1;
}

static int badwatch(const char *path)
{
	char buf[sizeof(struct xsd_sockmsg) + 16];
	struct xsd_sockmsg h = { .type = XS_WATCH, .req_id = 9, .len = 4 };
	int fd = connect_sock(path);
	ssize_t n;

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "data", 4);
	if (send(fd, buf, sizeof(h) + 4, MSG_NOSIGNAL) != (ssize_t)(sizeof(h) + 4))
		return 1;
	n = recv(fd, buf, sizeof(buf), MSG_WAITALL);
	close(fd);
	if (n < (ssize_t)sizeof(h) + 7) {
		fprintf(stderr, "pvguest_xs: short reply (%zd)\n", n);
		return 1;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.type != XS_ERROR || h.req_id != 9 || h.len != 7 ||
	    memcmp(buf + sizeof(h), "EINVAL", 7) != 0) {
		fprintf(stderr, "pvguest_xs: unexpected reply type %u id %u\n",
			h.type, h.req_id);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct xs_handle *h;
	bool ok;

	if (argc == 5 && strcmp(argv[1], "introduce") == 0) {
		h = open_store();
		ok = xs_introduce_domain(h, (unsigned)num(argv[2]), num(argv[3]),
					 (unsigned)num(argv[4]));
		if (!ok)
			fprintf(stderr, "pvguest_xs: introduce: %s\n", strerror(errno));
		xs_close(h);
		return ok ? 0 : 1;
	}
	if (argc == 3 && strcmp(argv[1], "release") == 0) {
		h = open_store();
		ok = xs_release_domain(h, (unsigned)num(argv[2]));
		if (!ok)
			fprintf(stderr, "pvguest_xs: release: %s\n", strerror(errno));
		xs_close(h);
		return ok ? 0 : 1;
	}
	if (argc == 3 && strcmp(argv[1], "introduced") == 0) {
		h = open_store();
		errno = 0;
		ok = xs_is_domain_introduced(h, (unsigned)num(argv[2]));
		xs_close(h);
		if (!ok && errno) {
			fprintf(stderr, "pvguest_xs: introduced: %s\n", strerror(errno));
			return 1;
		}
		puts(ok ? "T" : "F");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "bigframe") == 0)
		return bigframe(argv[2]);
	if (argc == 3 && strcmp(argv[1], "badwatch") == 0)
		return badwatch(argv[2]);
	fprintf(stderr, "usage: pvguest_xs introduce DOMID GFN PORT | release DOMID |"
		" introduced DOMID | bigframe SOCK | badwatch SOCK\n");
	return 2;
}
