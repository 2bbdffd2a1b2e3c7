/* pvguest's NBD export (tools/pvguest/nbd.c) over a memory disk: the
 * fixed newstyle handshake (GO, INFO, EXPORT_NAME, LIST, ABORT, options it
 * refuses), transmission (READ, WRITE with FUA, FLUSH, TRIM, DISC, several
 * requests in flight, out-of-order completion), hostile clients (bad
 * magic, flags, lengths, offsets, oversized options and writes, too many
 * clients), and, when installed, real clients: qemu-io, nbdinfo and
 * nbdcopy, run as child processes while the test drives the loop. */
#include <errno.h>
#include <endian.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>

#include "../../tools/pvguest/nbd.h"
#include "../../tools/pvguest/nbd_proto.h"
#include "pvd/log.h"

#define DISK (4u << 20)
#define PUMP 2000

struct mem {
	struct event_base *base;
	struct event *ev;
	uint8_t *data;
	struct blkio *pending[512];
	unsigned npending, nflush, ntrim, nfua;
	bool hold;
};

struct fx {
	char dir[64], path[128];
	struct event_base *base;
	struct mem m;
	struct nbd_export *ex;
};

/* Completes the pending requests, last first (out of order). */
static void mem_complete(evutil_socket_t fd, short what, void *arg)
{
	struct mem *m = arg;

	if (m->hold)
		return;
	while (m->npending) {
		struct blkio *io = m->pending[--m->npending];

		if (io->op == BLKIO_READ)
			memcpy(io->buf, m->data + io->offset, io->len);
		else if (io->op == BLKIO_WRITE)
			blkio_copy_data(io, 0, m->data + io->offset, io->len);
		else if (io->op == BLKIO_FLUSH)
			m->nflush++;
		else
			m->ntrim++;
		if (io->fua)
			m->nfua++;
		io->done(io, 0);
	}
}

static int mem_submit(void *disk, struct blkio *io)
{
	struct mem *m = disk;

	if (m->npending == 512)
		return -EBUSY;
	m->pending[m->npending++] = io;
	event_active(m->ev, EV_TIMEOUT, 0);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct nbd_config c = {
		.name = "51712",
		.disk = { .size = DISK, .block = 512, .can_flush = true, .can_trim = true },
		.submit = mem_submit, .max_clients = 4,
	};

	signal(SIGPIPE, SIG_IGN);
	strcpy(f->dir, "/tmp/pvd-nbd.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/vbd.nbd", f->dir);
	f->base = event_base_new();
	f->m.base = f->base;
	f->m.data = calloc(1, DISK);
	f->m.ev = event_new(f->base, -1, 0, mem_complete, &f->m);
	c.path = f->path;
	c.submit_arg = &f->m;
	assert_int_equal(nbd_export_start(&f->ex, f->base, &c), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	f->m.hold = false;
	mem_complete(-1, 0, &f->m);
	nbd_export_stop(f->ex);
	event_free(f->m.ev);
	event_base_free(f->base);
	free(f->m.data);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- a raw client ---- */

static void pump(struct fx *f)
{
	event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static int cli(struct fx *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	strcpy(sa.sun_path, f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void snd(struct fx *f, int fd, const void *buf, size_t n)
{
	const char *p = buf;

	for (int i = 0; n && i < PUMP * 10; i++) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k > 0) {
			p += k;
			n -= (size_t)k;
		}
		pump(f);
	}
	assert_int_equal(n, 0);
}

/* n bytes, or false at EOF. */
static bool rcv(struct fx *f, int fd, void *buf, size_t n)
{
	char *p = buf;

	for (int i = 0; n && i < PUMP; i++) {
		ssize_t k = recv(fd, p, n, 0);

		if (k == 0)
			return false;
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			i = 0;
		}
		pump(f);
	}
	assert_int_equal(n, 0);
	return true;
}

static bool closed(struct fx *f, int fd)
{
	char c;

	for (int i = 0; i < PUMP; i++) {
		ssize_t k = recv(fd, &c, 1, 0);

		if (k == 0 || (k < 0 && errno == ECONNRESET))
			return true;
		pump(f);
	}
	return false;
}

static void b32(uint8_t *p, uint32_t v) { v = htobe32(v); memcpy(p, &v, 4); }
static void b64(uint8_t *p, uint64_t v) { v = htobe64(v); memcpy(p, &v, 8); }
static uint16_t g16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return be16toh(v); }
static uint32_t g32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return be32toh(v); }
static uint64_t g64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }

/* Greeting and client flags. */
static int hello(struct fx *f, uint32_t flags)
{
	int fd = cli(f);
	uint8_t g[18], fl[4];

	assert_true(rcv(f, fd, g, 18));
	assert_int_equal(g64(g), NBD_MAGIC);
	assert_int_equal(g64(g + 8), NBD_OPTS_MAGIC);
	assert_int_equal(g16(g + 16), NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	b32(fl, flags);
	snd(f, fd, fl, 4);
	return fd;
}

static void opt(struct fx *f, int fd, uint32_t o, const void *data, uint32_t len)
{
	uint8_t h[16];

	b64(h, NBD_OPTS_MAGIC);
	b32(h + 8, o);
	b32(h + 12, len);
	snd(f, fd, h, 16);
	if (len)
		snd(f, fd, data, len);
}

/* One option reply; its data in buf; returns the type. */
static uint32_t opt_rep(struct fx *f, int fd, uint32_t o, uint8_t *buf, uint32_t *len)
{
	uint8_t h[20];

	assert_true(rcv(f, fd, h, 20));
	assert_int_equal(g64(h), NBD_REP_MAGIC);
	assert_int_equal(g32(h + 8), o);
	*len = g32(h + 16);
	assert_true(*len <= 4096);
	if (*len)
		assert_true(rcv(f, fd, buf, *len));
	return g32(h + 12);
}

/* NBD_OPT_GO with name; returns the transmission flags. */
static uint16_t go(struct fx *f, int fd, const char *name)
{
	uint8_t d[64], buf[4096];
	uint32_t n = (uint32_t)strlen(name), len, t;
	uint16_t flags = 0;
	bool export = false;

	b32(d, n);
	memcpy(d + 4, name, n);
	d[4 + n] = 0;
	d[5 + n] = 1;
	d[6 + n] = 0;
	d[7 + n] = NBD_INFO_BLOCK_SIZE;
	opt(f, fd, NBD_OPT_GO, d, 8 + n);
	while ((t = opt_rep(f, fd, NBD_OPT_GO, buf, &len)) == NBD_REP_INFO) {
		if (g16(buf) == NBD_INFO_EXPORT) {
			assert_int_equal(len, 12);
			assert_int_equal(g64(buf + 2), DISK);
			flags = g16(buf + 10);
			export = true;
		} else if (g16(buf) == NBD_INFO_BLOCK_SIZE) {
			assert_int_equal(len, 14);
			assert_int_equal(g32(buf + 2), 512);
			assert_int_equal(g32(buf + 10), NBD_MAX_PAYLOAD);
		}
	}
	assert_int_equal(t, NBD_REP_ACK);
	assert_true(export);
	return flags;
}

static void req(struct fx *f, int fd, uint16_t flags, uint16_t type, uint64_t handle,
		uint64_t off, uint32_t len, const void *data)
{
	uint8_t h[28];

	b32(h, NBD_REQUEST_MAGIC);
	h[4] = (uint8_t)(flags >> 8);
	h[5] = (uint8_t)flags;
	h[6] = (uint8_t)(type >> 8);
	h[7] = (uint8_t)type;
	b64(h + 8, handle);
	b64(h + 16, off);
	b32(h + 24, len);
	snd(f, fd, h, 28);
	if (data && len)
		snd(f, fd, data, len);
}

/* A simple reply: its error; handle checked. */
static uint32_t rep(struct fx *f, int fd, uint64_t handle)
{
	uint8_t h[16];

	assert_true(rcv(f, fd, h, 16));
	assert_int_equal(g32(h), NBD_SIMPLE_REPLY_MAGIC);
	assert_int_equal(g64(h + 8), handle);
	return g32(h + 4);
}

/* ---- tests ---- */

static void test_go_read_write_flush_trim(void **state)
{
	struct fx *f = *state;
	int fd = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	uint8_t w[8192], r[8192];
	uint16_t tf = go(f, fd, "");

	assert_int_equal(tf, NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
			 NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM | NBD_FLAG_CAN_MULTI_CONN);
	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 13);
	req(f, fd, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 1, 4096, sizeof(w), w);
	assert_int_equal(rep(f, fd, 1), 0);
	assert_memory_equal(f->m.data + 4096, w, sizeof(w));
	assert_int_equal(f->m.nfua, 1);
	req(f, fd, 0, NBD_CMD_READ, 2, 4096, sizeof(r), NULL);
	assert_int_equal(rep(f, fd, 2), 0);
	assert_true(rcv(f, fd, r, sizeof(r)));
	assert_memory_equal(r, w, sizeof(w));
	req(f, fd, 0, NBD_CMD_FLUSH, 3, 0, 0, NULL);
	assert_int_equal(rep(f, fd, 3), 0);
	assert_int_equal(f->m.nflush, 1);
	req(f, fd, 0, NBD_CMD_TRIM, 4, 0, 65536, NULL);
	assert_int_equal(rep(f, fd, 4), 0);
	assert_int_equal(f->m.ntrim, 1);
	req(f, fd, 0, NBD_CMD_DISC, 5, 0, 0, NULL);
	assert_true(closed(f, fd));
	close(fd);
	assert_int_equal(nbd_export_clients(f->ex), 0);
}

static void test_inflight_out_of_order(void **state)
{
	struct fx *f = *state;
	int fd = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	uint8_t r[512];
	bool seen[16] = { false };

	go(f, fd, "51712");
	memset(f->m.data, 0x77, 16 * 512);
	f->m.hold = true;
	for (uint64_t i = 0; i < 16; i++)
		req(f, fd, 0, NBD_CMD_READ, 100 + i, i * 512, 512, NULL);
	for (int i = 0; i < 50; i++)
		pump(f);
	assert_int_equal(f->m.npending, 16);	/* all in flight at once */
	f->m.hold = false;
	mem_complete(-1, 0, &f->m);
	for (int i = 0; i < 16; i++) {
		uint8_t h[16];

		assert_true(rcv(f, fd, h, 16));
		assert_int_equal(g32(h + 4), 0);
		assert_true(g64(h + 8) >= 100 && g64(h + 8) < 116);
		assert_false(seen[g64(h + 8) - 100]);
		seen[g64(h + 8) - 100] = true;
		assert_true(rcv(f, fd, r, 512));
		assert_int_equal(r[0], 0x77);
	}
	close(fd);
}

static void test_options(void **state)
{
	struct fx *f = *state;
	int fd = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	uint8_t buf[4096], d[32];
	uint32_t len;

	/* Refused options, the session goes on. */
	opt(f, fd, 8 /* STRUCTURED_REPLY */, NULL, 0);
	assert_int_equal(opt_rep(f, fd, 8, buf, &len), NBD_REP_ERR_UNSUP);
	opt(f, fd, NBD_OPT_STARTTLS, NULL, 0);
	assert_int_equal(opt_rep(f, fd, NBD_OPT_STARTTLS, buf, &len), NBD_REP_ERR_UNSUP);
	opt(f, fd, 12345, "junk", 4);
	assert_int_equal(opt_rep(f, fd, 12345, buf, &len), NBD_REP_ERR_UNSUP);
	/* LIST */
	opt(f, fd, NBD_OPT_LIST, NULL, 0);
	assert_int_equal(opt_rep(f, fd, NBD_OPT_LIST, buf, &len), NBD_REP_SERVER);
	assert_int_equal(len, 9);
	assert_int_equal(g32(buf), 5);
	assert_memory_equal(buf + 4, "51712", 5);
	assert_int_equal(opt_rep(f, fd, NBD_OPT_LIST, buf, &len), NBD_REP_ACK);
	opt(f, fd, NBD_OPT_LIST, "x", 1);
	assert_int_equal(opt_rep(f, fd, NBD_OPT_LIST, buf, &len), NBD_REP_ERR_INVALID);
	/* INFO: bad lengths, unknown name, then a good one. */
	b32(d, 100);
	opt(f, fd, NBD_OPT_INFO, d, 6);
	assert_int_equal(opt_rep(f, fd, NBD_OPT_INFO, buf, &len), NBD_REP_ERR_INVALID);
	b32(d, 0);
	d[4] = 0;
	d[5] = 3;	/* three requests announced, none sent */
	opt(f, fd, NBD_OPT_INFO, d, 6);
	assert_int_equal(opt_rep(f, fd, NBD_OPT_INFO, buf, &len), NBD_REP_ERR_INVALID);
	b32(d, 3);
	memcpy(d + 4, "foo", 3);
	d[7] = d[8] = 0;
	opt(f, fd, NBD_OPT_INFO, d, 9);
	assert_int_equal(opt_rep(f, fd, NBD_OPT_INFO, buf, &len), NBD_REP_ERR_UNKNOWN);
	b32(d, 0);
	d[4] = 0;
	d[5] = 2;
	d[6] = 0;
	d[7] = NBD_INFO_NAME;
	d[8] = 0;
	d[9] = NBD_INFO_DESCRIPTION;
	opt(f, fd, NBD_OPT_INFO, d, 10);
	{
		uint32_t t;
		bool name = false;

		while ((t = opt_rep(f, fd, NBD_OPT_INFO, buf, &len)) == NBD_REP_INFO)
			if (g16(buf) == NBD_INFO_NAME)
				name = len == 7 && memcmp(buf + 2, "51712", 5) == 0;
		assert_int_equal(t, NBD_REP_ACK);
		assert_true(name);
	}
	/* Still in negotiation: ABORT is acknowledged, then closed. */
	opt(f, fd, NBD_OPT_ABORT, NULL, 0);
	assert_int_equal(opt_rep(f, fd, NBD_OPT_ABORT, buf, &len), NBD_REP_ACK);
	assert_true(closed(f, fd));
	close(fd);
}

static void test_export_name(void **state)
{
	struct fx *f = *state;
	int fd = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	uint8_t buf[10 + 124];

	opt(f, fd, NBD_OPT_EXPORT_NAME, "", 0);
	assert_true(rcv(f, fd, buf, sizeof(buf)));	/* with the zeroes */
	assert_int_equal(g64(buf), DISK);
	req(f, fd, 0, NBD_CMD_FLUSH, 9, 0, 0, NULL);
	assert_int_equal(rep(f, fd, 9), 0);
	close(fd);
	fd = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	opt(f, fd, NBD_OPT_EXPORT_NAME, "nope", 4);
	assert_true(closed(f, fd));
	close(fd);
}

static void test_bad_requests_get_errors(void **state)
{
	struct fx *f = *state;
	int fd = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	uint8_t w[512] = { 0 };

	go(f, fd, "");
	req(f, fd, 0, NBD_CMD_READ, 1, 100, 512, NULL);
	assert_int_equal(rep(f, fd, 1), NBD_EINVAL);		/* unaligned */
	req(f, fd, 0, NBD_CMD_READ, 2, DISK, 512, NULL);
	assert_int_equal(rep(f, fd, 2), NBD_EINVAL);		/* beyond */
	req(f, fd, 0, NBD_CMD_READ, 3, UINT64_MAX - 511, 512, NULL);
	assert_int_equal(rep(f, fd, 3), NBD_EINVAL);		/* wraps */
	req(f, fd, 0, NBD_CMD_WRITE, 4, DISK - 512 + 512, 512, w);
	assert_int_equal(rep(f, fd, 4), NBD_ENOSPC);
	req(f, fd, 0, NBD_CMD_READ, 5, 0, NBD_MAX_PAYLOAD + 512, NULL);
	assert_int_equal(rep(f, fd, 5), NBD_EINVAL);		/* too large */
	req(f, fd, 0x80, NBD_CMD_READ, 6, 0, 512, NULL);
	assert_int_equal(rep(f, fd, 6), NBD_EINVAL);		/* unknown flag */
	req(f, fd, 0, 77, 7, 0, 0, NULL);
	assert_int_equal(rep(f, fd, 7), NBD_EINVAL);		/* unknown command */
	req(f, fd, 0, NBD_CMD_TRIM, 8, DISK, 512, NULL);
	assert_int_equal(rep(f, fd, 8), NBD_EINVAL);
	req(f, fd, 0, NBD_CMD_WRITE, 9, 0, 0, NULL);
	assert_int_equal(rep(f, fd, 9), 0);			/* empty: fine */
	/* Still usable. */
	req(f, fd, 0, NBD_CMD_WRITE, 10, 0, 512, w);
	assert_int_equal(rep(f, fd, 10), 0);
	close(fd);
}

static void test_hostile_clients_closed(void **state)
{
	struct fx *f = *state;
	uint8_t h[16];
	int fd;

	fd = hello(f, 0x80);			/* unknown client flag */
	assert_true(closed(f, fd));
	close(fd);
	fd = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	b64(h, 0x1122334455667788ull);		/* bad option magic */
	b32(h + 8, NBD_OPT_GO);
	b32(h + 12, 0);
	snd(f, fd, h, 16);
	assert_true(closed(f, fd));
	close(fd);
	fd = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	b64(h, NBD_OPTS_MAGIC);			/* a 1 GiB option */
	b32(h + 8, NBD_OPT_GO);
	b32(h + 12, 1u << 30);
	snd(f, fd, h, 16);
	assert_true(closed(f, fd));
	close(fd);
	fd = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	go(f, fd, "");
	req(f, fd, 0, NBD_CMD_WRITE, 1, 0, NBD_MAX_PAYLOAD + 512, NULL);
	assert_true(closed(f, fd));		/* cannot be skipped */
	close(fd);
	fd = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	go(f, fd, "");
	memset(h, 0xee, sizeof(h));		/* bad request magic */
	snd(f, fd, h, 16);
	snd(f, fd, h, 12);
	assert_true(closed(f, fd));
	close(fd);
	/* Too many options. */
	fd = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	for (unsigned i = 0; i <= NBD_OPTS_PER_CLIENT; i++) {
		uint8_t buf[64];
		uint32_t len;

		opt(f, fd, 12345, NULL, 0);
		if (i < NBD_OPTS_PER_CLIENT)
			assert_int_equal(opt_rep(f, fd, 12345, buf, &len), NBD_REP_ERR_UNSUP);
	}
	assert_true(closed(f, fd));
	close(fd);
	for (int i = 0; i < 50; i++)
		pump(f);
	assert_int_equal(nbd_export_clients(f->ex), 0);
}

static void test_client_limit_and_gone_with_inflight(void **state)
{
	struct fx *f = *state;
	int fds[5];

	for (int i = 0; i < 4; i++)
		fds[i] = hello(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	fds[4] = cli(f);
	assert_true(closed(f, fds[4]));		/* the fifth */
	close(fds[4]);
	go(f, fds[0], "");
	f->m.hold = true;
	req(f, fds[0], 0, NBD_CMD_READ, 1, 0, 4096, NULL);
	for (int i = 0; i < 50; i++)
		pump(f);
	assert_int_equal(f->m.npending, 1);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	for (int i = 0; i < 50; i++)
		pump(f);
	assert_int_equal(nbd_export_clients(f->ex), 0);
	/* The request completes after its client left: no use after free
	 * (make check SAN=1). */
	f->m.hold = false;
	mem_complete(-1, 0, &f->m);
}

/* A real client as a child process; the loop runs until it exits. */
static int run_child(struct fx *f, char *const argv[])
{
	pid_t pid = fork();
	int st = -1;

	assert_true(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		dup2(nul, 0);
		if (!getenv("TEST_NBD_VERBOSE"))
			dup2(nul, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 200000; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(100);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	fail_msg("%s did not finish", argv[0]);
	return -1;
}

static bool have(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static void test_real_clients(void **state)
{
	struct fx *f = *state;
	char uri[256], file[128];
	int ran = 0;

	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s", f->path);
	if (have("qemu-io")) {
		char *a[] = { "qemu-io", "-f", "raw", "-c", "write -P 0x5a 65536 1M",
			      "-c", "read -P 0x5a 65536 1M", "-c", "flush",
			      "-c", "discard 0 64k", uri, NULL };
		char *b[] = { "qemu-io", "-f", "raw", "-c", "read -P 0x5b 65536 1M",
			      uri, NULL };

		assert_int_equal(run_child(f, a), 0);
		assert_int_equal(f->m.data[65536], 0x5a);
		assert_int_equal(f->m.data[65536 + (1 << 20) - 1], 0x5a);
		assert_int_not_equal(run_child(f, b), 0);	/* the check can fail */
		ran++;
	}
	if (have("qemu-img")) {
		char *a[] = { "qemu-img", "info", uri, NULL };

		assert_int_equal(run_child(f, a), 0);
		ran++;
	}
	if (have("nbdinfo")) {
		char *a[] = { "nbdinfo", uri, NULL };

		assert_int_equal(run_child(f, a), 0);
		ran++;
	}
	if (have("nbdcopy")) {
		char *a[] = { "nbdcopy", uri, file, NULL };

		snprintf(file, sizeof(file), "%s/copy.img", f->dir);
		assert_int_equal(run_child(f, a), 0);
		{
			FILE *fp = fopen(file, "rb");
			uint8_t *buf = malloc(DISK);

			assert_non_null(fp);
			assert_int_equal(fread(buf, 1, DISK, fp), DISK);
			fclose(fp);
			assert_memory_equal(buf, f->m.data, DISK);
			free(buf);
		}
		unlink(file);
		ran++;
	}
	if (!ran)
		skip();
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_go_read_write_flush_trim),
		T(test_inflight_out_of_order),
		T(test_options),
		T(test_export_name),
		T(test_bad_requests_get_errors),
		T(test_hostile_clients_closed),
		T(test_client_limit_and_gone_with_inflight),
		T(test_real_clients),
	};

	log_init("test_nbd", LOG_LVL_ERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
