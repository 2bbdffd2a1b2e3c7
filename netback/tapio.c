/* Tap writes, batched through io_uring.  On a PV dom0 every system call
 * goes through Xen (tens of microseconds under emulation), and a writev
 * per frame was one system call of the 1.75 each frame toward dom0 cost
 * (docs/xen-host.md).  Here a transmit batch's frames become one SQE
 * each and one io_uring_enter writes them all: the tap's write runs
 * inline in it, as writev would (the fd is O_NONBLOCK, so io_uring
 * issues it with IOCB_NOWAIT instead of handing it to a worker), in
 * order, and every CQE is there when the call returns.
 *
 * A write must never leave the thread waiting: RWF_NOWAIT makes a full
 * queue answer -EAGAIN (a drop, as writev's) where the kernel takes it
 * on a tap (Linux 6.12 and later; 6.1's tun refuses it with
 * -EOPNOTSUPP, and the write is then issued again without it, for good).
 * Without it, a write that would block waits for room in io_uring's poll
 * instead; a tap's socket has an unlimited send buffer (tun_chr_open),
 * so that does not happen there, and if anything ever waits TAPIO_WAIT_S,
 * the writes still out are cancelled and count as dropped.
 *
 * One struct nb_tapio per I/O thread (nb_loop), used by that thread only.
 * Without io_uring (an old kernel, a seccomp filter, the sysctl that
 * turns it off) NB_TAPIO_AUTO falls back to a writev per frame. */
#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pvd/log.h"
#include "tapio.h"

/* Writes in flight at most: a transmit batch is 16 frames. */
#define TAPIO_DEPTH 64
#define TAPIO_CANCEL UINT64_MAX         /* a cancel's user_data */
#define TAPIO_WAIT_S 1
/* Failed waits in a row before the ring is given up for writev. */
#define TAPIO_WAIT_TRIES 3

struct tapio_op {
	int fd;
	const struct iovec *iov;
	unsigned n;
	int flags;                        /* rw_flags it went with */
	int *res;                         /* NULL: given up */
};

struct nb_tapio {
	bool uring;
	bool ring_up;                     /* ring set up (to tear down) */
	struct io_uring ring;
	int rw_flags;                     /* RWF_NOWAIT until refused */
	unsigned nop;                     /* ops queued or in flight */
	unsigned out;                     /* of them, not yet answered */
	struct tapio_op op[TAPIO_DEPTH];
};

int nb_tapio_mode_parse(const char *s, enum nb_tapio_mode *m)
{
	static const char *const names[] = { "auto", "uring", "writev" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*m = (enum nb_tapio_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

int nb_tapio_create(enum nb_tapio_mode m, struct nb_tapio **out)
{
	struct nb_tapio *t = calloc(1, sizeof(*t));
	int rc = 0;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	if (m != NB_TAPIO_WRITEV) {
		/* SUBMIT_ALL (5.18): an SQE that fails does not hold back
		 * the ones behind it. */
		rc = io_uring_queue_init(TAPIO_DEPTH, &t->ring,
					 IORING_SETUP_SUBMIT_ALL);
		if (rc == -EINVAL)
			rc = io_uring_queue_init(TAPIO_DEPTH, &t->ring, 0);
		if (rc == 0) {
			t->uring = t->ring_up = true;
			t->rw_flags = RWF_NOWAIT;
		} else if (m == NB_TAPIO_URING) {
			log_err("%s: io_uring: %s", __func__, strerror(-rc));
			free(t);
			return rc;
		} else {
			log_info("tap writes: no io_uring (%s), writev",
				 strerror(-rc));
		}
	}
	*out = t;
	return 0;
}

void nb_tapio_destroy(struct nb_tapio *t)
{
	if (!t)
		return;
	if (t->ring_up)
		io_uring_queue_exit(&t->ring);
	free(t);
}

const char *nb_tapio_name(const struct nb_tapio *t)
{
	return t->uring ? "io_uring" : "writev";
}

static int do_writev(int fd, const struct iovec *iov, unsigned n)
{
	ssize_t w = writev(fd, iov, (int)n);

	return w < 0 ? -errno : (int)w;
}

static bool prep(struct nb_tapio *t, unsigned i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	struct tapio_op *o = &t->op[i];

	if (!sqe)
		return false;
	io_uring_prep_writev(sqe, o->fd, o->iov, o->n, 0);
	o->flags = t->rw_flags;
	sqe->rw_flags = o->flags;
	io_uring_sqe_set_data64(sqe, i);
	return true;
}

/* The ring is given up: what is still out counts as dropped, later
 * writes go through writev.  The ring stays until destroy, which waits
 * for what the kernel still holds. */
static void give_up(struct nb_tapio *t, int err)
{
	if (t->uring)
		log_err("%s: io_uring: %s; tap writes go through writev",
			__func__, strerror(-err));
	for (unsigned i = 0; i < t->nop; i++) {
		if (t->op[i].res && *t->op[i].res == -EINPROGRESS)
			*t->op[i].res = -ECANCELED;
		t->op[i].res = NULL;
	}
	t->nop = t->out = 0;
	t->uring = false;
}

/* Until the SQ is empty (a call may take part of it): 0 or -errno, the
 * SQEs not taken still in the SQ. */
static int submit(struct nb_tapio *t)
{
	while (io_uring_sq_ready(&t->ring)) {
		int rc = io_uring_submit(&t->ring);

		if (rc < 0 && rc != -EINTR)
			return rc;
	}
	return 0;
}

/* One answer: a write's result, or its reissue without RWF_NOWAIT. */
static int answer(struct nb_tapio *t, const struct io_uring_cqe *c)
{
	uint64_t i = io_uring_cqe_get_data64(c);

	if (i >= t->nop || !t->op[i].res)
		return 0;                 /* a cancel's, or given up */
	/* Every write of the batch that went with it is refused alike. */
	if (c->res == -EOPNOTSUPP && t->op[i].flags) {
		t->rw_flags = 0;          /* this kernel's taps refuse it */
		if (prep(t, (unsigned)i))
			return submit(t);
	}
	*t->op[i].res = c->res;
	t->out--;
	return 0;
}

/* Cancels whatever is still out (it then answers -ECANCELED). */
static int cancel_all(struct nb_tapio *t)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data64(sqe, TAPIO_CANCEL);
	return submit(t);
}

static void reap(struct nb_tapio *t)
{
	unsigned failed = 0;

	while (t->out) {
		struct __kernel_timespec ts = { .tv_sec = TAPIO_WAIT_S };
		struct io_uring_cqe *c;
		int rc = io_uring_wait_cqe_timeout(&t->ring, &c, &ts);

		if (rc == 0) {
			rc = answer(t, c);
			io_uring_cqe_seen(&t->ring, c);
		} else if (rc == -ETIME) {
			log_warn("%s: %u tap writes waited %d s: cancelled",
				 __func__, t->out, TAPIO_WAIT_S);
			rc = cancel_all(t);
		} else if (rc == -EINTR) {
			rc = 0;
		}
		failed = rc < 0 ? failed + 1 : 0;
		if (failed == TAPIO_WAIT_TRIES) {
			give_up(t, rc);
			return;
		}
	}
	t->nop = 0;
}

void nb_tapio_write(struct nb_tapio *t, int fd, const struct iovec *iov,
		    unsigned n, int *res)
{
	if (t->uring && t->nop == TAPIO_DEPTH)
		nb_tapio_flush(t);
	if (!t->uring) {
		*res = do_writev(fd, iov, n);
		return;
	}
	*res = -EINPROGRESS;
	t->op[t->nop] = (struct tapio_op){ fd, iov, n, 0, res };
	if (!prep(t, t->nop)) {
		*res = do_writev(fd, iov, n);
		return;
	}
	t->nop++;
	t->out++;
}

void nb_tapio_flush(struct nb_tapio *t)
{
	int rc;

	if (!t->uring || !t->nop)
		return;
	rc = submit(t);
	if (rc < 0) {
		/* The writes the kernel did not take (the last ones queued) go
		 * one by one; the ring, its SQ holding them, is not used
		 * again once those it took are answered. */
		for (unsigned i = t->nop - io_uring_sq_ready(&t->ring);
		     i < t->nop; i++) {
			struct tapio_op *o = &t->op[i];

			*o->res = do_writev(o->fd, o->iov, o->n);
			o->res = NULL;
			t->out--;
		}
		reap(t);
		give_up(t, rc);
		return;
	}
	reap(t);
}
