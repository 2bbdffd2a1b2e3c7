/* libFuzzer target: pvguest's NBD server (tools/pvguest/nbd.c) as a
 * hostile client sees it.  The input is what one client sends, from the
 * client flags on (the greeting is read and thrown away), delivered in
 * chunks whose sizes come from the input's first byte, over a real unix
 * socket, to an export of a 1 MiB memory disk whose requests complete
 * from the event loop.  Then the client hangs up with whatever is in
 * flight.  ASan/UBSan and LeakSanitizer see the server's handling of it;
 * the server must never write outside the disk (checked by a trap). */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "nbd.h"
#include "pvd/log.h"

#define FDISK (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fstate {
	struct event_base *base;
	struct event *ev;
	struct nbd_export *ex;
	char path[108];
	uint8_t *disk;
	struct blkio *pending[256];
	unsigned n;
};

static void fcomplete(evutil_socket_t fd, short what, void *arg)
{
	struct fstate *s = arg;

	while (s->n) {
		struct blkio *io = s->pending[--s->n];

		if (io->offset > FDISK || io->len > FDISK - io->offset)
			__builtin_trap();
		if (io->op == BLKIO_READ)
			memcpy(io->buf, s->disk + io->offset, io->len);
		else if (io->op == BLKIO_WRITE)
			blkio_copy_data(io, 0, s->disk + io->offset, io->len);
		io->done(io, io->op == BLKIO_DISCARD ? -EIO : 0);
	}
}

static int fsubmit(void *arg, struct blkio *io)
{
	struct fstate *s = arg;

	if (s->n == 256)
		return -EBUSY;
	s->pending[s->n++] = io;
	event_active(s->ev, EV_TIMEOUT, 0);
	return 0;
}

static struct fstate *state(void)
{
	static struct fstate s;
	struct nbd_config c = {
		.name = "d", .disk = { .size = FDISK, .block = 512, .can_flush = true,
				       .can_trim = true },
		.submit = fsubmit, .submit_arg = &s,
	};

	if (s.base)
		return &s;
	log_init("fuzz_nbd", LOG_LVL_ERR, NULL);
	signal(SIGPIPE, SIG_IGN);	/* as pvguest: replies to a client gone */
	s.base = event_base_new();
	s.ev = event_new(s.base, -1, 0, fcomplete, &s);
	s.disk = calloc(1, FDISK);
	snprintf(s.path, sizeof(s.path), "/tmp/fuzz_nbd.%d.sock", (int)getpid());
	c.path = s.path;
	if (!s.base || !s.ev || !s.disk || nbd_export_start(&s.ex, s.base, &c) < 0)
		abort();
	return &s;
}

static void spin(struct fstate *s, int fd, int rounds)
{
	char sink[65536];

	for (int i = 0; i < rounds; i++) {
		event_base_loop(s->base, EVLOOP_NONBLOCK);
		while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fstate *s = state();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t chunk, off = 1;
	int fd;

	if (size < 1)
		return 0;
	chunk = 1 + (size_t)data[0] * 4;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, s->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	spin(s, fd, 3);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		ssize_t k = send(fd, data + off, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k < 0 && errno != EAGAIN)
			break;	/* the server closed us */
		if (k > 0)
			off += (size_t)k;
		spin(s, fd, 2);
	}
	spin(s, fd, 4);
	close(fd);
	spin(s, fd, 4);
	/* Whatever was in flight completes after the client left. */
	fcomplete(-1, 0, s);
	spin(s, -1, 20);
	if (nbd_export_clients(s->ex) != 0)
		__builtin_trap();
	return 0;
}
