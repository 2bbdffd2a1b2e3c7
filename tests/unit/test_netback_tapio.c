/* pvd-netback's batched tap writes (netback/tapio.c), each test in both
 * modes, against a SOCK_SEQPACKET socketpair standing in for a tap (one
 * write, one frame, as a tap's): results, order, a full peer answering
 * -EAGAIN without a wait, and the reissue without RWF_NOWAIT for a file
 * that refuses it (/proc/self/comm, as 6.1's tun does).  A link-time seam
 * on io_uring_queue_init stands in for a process refused io_uring
 * (seccomp, kernel.io_uring_disabled): the cause reaches the caller. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>
#include <liburing.h>

#include "../../netback/tapio.h"
#include "../../netback/vif.h"
#include "pvd/hv.h"

/* io_uring_setup's answer when not 0: what a refused process gets. */
static int uring_refused;

int __real_io_uring_queue_init(unsigned entries, struct io_uring *ring,
			       unsigned flags);
int __wrap_io_uring_queue_init(unsigned entries, struct io_uring *ring,
			       unsigned flags)
{
	if (uring_refused)
		return uring_refused;
	return __real_io_uring_queue_init(entries, ring, flags);
}

struct tfx {
	struct nb_tapio *t;
	int fd[2];
};

static enum nb_tapio_mode mode = NB_TAPIO_URING;

static int setup(void **state)
{
	static struct tfx f;

	assert_int_equal(nb_tapio_create(mode, &f.t), 0);
	assert_string_equal(nb_tapio_name(f.t),
			    mode == NB_TAPIO_URING ? "io_uring" : "writev");
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK,
				    0, f.fd), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct tfx *f = *state;

	nb_tapio_destroy(f->t);
	close(f->fd[0]);
	close(f->fd[1]);
	return 0;
}

/* Frames of two parts (header, data) arrive whole and in order. */
static void test_order(void **state)
{
	struct tfx *f = *state;
	char hdr[10][4], data[10][32], got[64];
	struct iovec iov[10][2];
	int res[10];

	for (int i = 0; i < 10; i++) {
		snprintf(hdr[i], sizeof(hdr[i]), "h%02d", i);
		snprintf(data[i], sizeof(data[i]), "frame %d", i);
		iov[i][0] = (struct iovec){ hdr[i], 3 };
		iov[i][1] = (struct iovec){ data[i], strlen(data[i]) };
		nb_tapio_write(f->t, f->fd[0], iov[i], 2, &res[i]);
	}
	nb_tapio_flush(f->t);
	for (int i = 0; i < 10; i++) {
		char want[64];
		ssize_t n = read(f->fd[1], got, sizeof(got));

		assert_int_equal(res[i], 3 + (int)strlen(data[i]));
		assert_int_equal(n, res[i]);
		snprintf(want, sizeof(want), "h%02dframe %d", i, i);
		assert_memory_equal(got, want, (size_t)n);
	}
	assert_int_equal(read(f->fd[1], got, sizeof(got)), -1);
	assert_int_equal(errno, EAGAIN);
}

/* More writes than the ring holds go in several flushes, in order. */
static void test_many(void **state)
{
	struct tfx *f = *state;
	unsigned char b[200];
	struct iovec iov[200];
	int res[200], sz = 200000;

	assert_int_equal(setsockopt(f->fd[0], SOL_SOCKET, SO_SNDBUF, &sz,
				    sizeof(sz)), 0);
	for (int i = 0; i < 200; i++) {
		b[i] = (unsigned char)i;
		iov[i] = (struct iovec){ &b[i], 1 };
		nb_tapio_write(f->t, f->fd[0], &iov[i], 1, &res[i]);
	}
	nb_tapio_flush(f->t);
	for (int i = 0; i < 200; i++) {
		unsigned char c;

		assert_int_equal(res[i], 1);
		assert_int_equal(read(f->fd[1], &c, 1), 1);
		assert_int_equal(c, i);
	}
}

/* A peer that takes no more: the writes answer -EAGAIN (dropped), and
 * the flush does not wait for room. */
static void test_full(void **state)
{
	struct tfx *f = *state;
	static char big[60000];
	struct iovec iov = { big, sizeof(big) };
	struct timespec a, b;
	int res[16], ok = 0, again = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < 16; i++)
			nb_tapio_write(f->t, f->fd[0], &iov, 1, &res[i]);
		nb_tapio_flush(f->t);
		for (int i = 0; i < 16; i++) {
			if (res[i] == (int)sizeof(big))
				ok++;
			else if (res[i] == -EAGAIN)
				again++;
			else
				fail_msg("write %d: %d", i, res[i]);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(ok > 0);
	assert_true(again > 0);
	assert_int_equal(ok + again, 128);
	/* Not a timing threshold: the wait for room, if any, lasts
	 * TAPIO_WAIT_S (1 s) a flush; eight of them would be 8 s. */
	assert_true(b.tv_sec - a.tv_sec < 4);
}

/* A file that refuses RWF_NOWAIT gets its write all the same. */
static void test_refused_nowait(void **state)
{
	struct tfx *f = *state;
	char name[16] = "tapio-reissued", now[17] = { 0 };
	struct iovec iov = { name, strlen(name) };
	int fd = open("/proc/self/comm", O_WRONLY | O_NONBLOCK), res[2];
	char was[17] = { 0 };

	assert_true(fd >= 0);
	assert_int_equal(prctl(PR_GET_NAME, was), 0);
	nb_tapio_write(f->t, fd, &iov, 1, &res[0]);
	nb_tapio_flush(f->t);
	assert_int_equal(res[0], (int)strlen(name));
	assert_int_equal(prctl(PR_GET_NAME, now), 0);
	assert_string_equal(now, name);
	/* And the next writes still go. */
	iov = (struct iovec){ was, strlen(was) };
	nb_tapio_write(f->t, fd, &iov, 1, &res[1]);
	nb_tapio_flush(f->t);
	assert_int_equal(res[1], (int)strlen(was));
	close(fd);
}

/* Several refused in one batch: each is issued again, in order. */
static void test_refused_batch(void **state)
{
	struct tfx *f = *state;
	char was[17] = { 0 }, now[17] = { 0 };
	static const char *const names[4] = { "tapio-a", "tapio-b",
					      "tapio-c", "tapio-last" };
	struct iovec iov[5];
	int fd = open("/proc/self/comm", O_WRONLY | O_NONBLOCK), res[5];

	assert_true(fd >= 0);
	assert_int_equal(prctl(PR_GET_NAME, was), 0);
	for (int i = 0; i < 4; i++) {
		iov[i] = (struct iovec){ (void *)names[i], strlen(names[i]) };
		nb_tapio_write(f->t, fd, &iov[i], 1, &res[i]);
	}
	nb_tapio_flush(f->t);
	for (int i = 0; i < 4; i++)
		assert_int_equal(res[i], (int)strlen(names[i]));
	assert_int_equal(prctl(PR_GET_NAME, now), 0);
	assert_string_equal(now, "tapio-last");
	iov[4] = (struct iovec){ was, strlen(was) };
	nb_tapio_write(f->t, fd, &iov[4], 1, &res[4]);
	nb_tapio_flush(f->t);
	assert_int_equal(res[4], (int)strlen(was));
	close(fd);
}

/* A closed fd: the error comes back as the result. */
static void test_bad_fd(void **state)
{
	struct tfx *f = *state;
	char c = 'x';
	struct iovec iov = { &c, 1 };
	int res;

	nb_tapio_write(f->t, 1000, &iov, 1, &res);
	nb_tapio_flush(f->t);
	assert_int_equal(res, -EBADF);
}

static void test_mode_parse(void **state)
{
	enum nb_tapio_mode m;

	(void)state;
	assert_int_equal(nb_tapio_mode_parse("writev", &m), 0);
	assert_int_equal(m, NB_TAPIO_WRITEV);
	assert_int_equal(nb_tapio_mode_parse("uring", &m), 0);
	assert_int_equal(m, NB_TAPIO_URING);
	assert_int_equal(nb_tapio_mode_parse("auto", &m), 0);
	assert_int_equal(m, NB_TAPIO_AUTO);
	assert_int_equal(nb_tapio_mode_parse("aio", &m), -EINVAL);
}

/* No io_uring: "uring" fails with the cause, "auto" writes through
 * writev, and an I/O thread's loop hands the cause on (the daemon's fatal
 * line names it, not a made-up -ENOMEM). */
static void test_refused_uring(void **state)
{
	struct hv_config hc = { .impl = "sim" };
	struct event_base *base = event_base_new();
	struct nb_loop *l;
	struct nb_tapio *t;
	struct hv *hv;

	(void)state;
	assert_non_null(base);
	assert_int_equal(hv_open(&hv, &hc), 0);
	uring_refused = -EPERM;
	assert_int_equal(nb_tapio_create(NB_TAPIO_URING, &t), -EPERM);
	assert_null(t);
	assert_int_equal(nb_tapio_create(NB_TAPIO_AUTO, &t), 0);
	assert_string_equal(nb_tapio_name(t), "writev");
	nb_tapio_destroy(t);
	assert_int_equal(nb_loop_create(base, hv, NB_TAPIO_URING, &l), -EPERM);
	assert_null(l);
	assert_int_equal(nb_loop_create(base, hv, NB_TAPIO_AUTO, &l), 0);
	assert_non_null(l);
	nb_loop_destroy(l);
	uring_refused = 0;
	hv_close(hv);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_order), T(test_many), T(test_full),
		T(test_refused_nowait), T(test_refused_batch), T(test_bad_fd),
		cmocka_unit_test(test_mode_parse),
		cmocka_unit_test(test_refused_uring),
	};
	int failed;

	failed = cmocka_run_group_tests_name("io_uring", tests, NULL, NULL);
	mode = NB_TAPIO_WRITEV;
	return failed + cmocka_run_group_tests_name("writev", tests, NULL,
						    NULL);
}
