/* The libaio engine: Linux native AIO on O_DIRECT files and block devices.
 *
 * Requests are prepared into iocbs kept in the request itself, handed to
 * the kernel in one io_submit per batch (commit), and signal an eventfd
 * that the daemon's libevent loop polls.  Completions are taken from the
 * AIO ring in user space (as fio's userspace_reap does; io_getevents when
 * the ring's layout is not the one we know), so that the transport's spin
 * can check for them without a system call.
 *
 * Requests beyond the io_context's depth wait in a FIFO and go in as
 * completions make room.  fdatasync goes through IOCB_CMD_FDSYNC (Linux
 * 4.18+); where a file refuses it, and for discard (fallocate and
 * BLKDISCARD have no AIO form), the call runs in the engine's worker
 * thread (worker.c), never in the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pvd/log.h"
#include "eng_util.h"
#include "backing.h"
#include "worker.h"

_Static_assert(sizeof(struct iocb) <= sizeof(((struct blk_io *)0)->priv),
	       "an iocb fits in blk_io.priv");

#define AIO_RING_MAGIC 0xa10a10a1u

/* The kernel's header of the AIO completion ring (fs/aio.c). */
struct aio_uring {
	unsigned id, nr, head, tail;
	unsigned magic, compat_features, incompat_features, header_length;
	struct io_event io_events[];
};

struct aio_eng {
	struct blk_engine base;
	io_context_t ctx;
	int efd;
	unsigned depth, inflight, nbatch;
	struct iocb **batch;
	struct blk_ioq wait, done;
	struct blk_worker *worker;
};

static struct aio_eng *to_eng(struct blk_engine *e)
{
	return container_of(e, struct aio_eng, base);
}

/* In the worker thread: the calls with no AIO form. */
static int aio_job(struct blk_io *io)
{
	struct backing_file *s = backing_file_of(io->backing);

	return io->op == BLK_IO_DISCARD ? backing_discard(s, io->offset, io->len)
					: backing_sync(s);
}

/* To the worker thread; inline if it cannot be started. */
static void offload(struct aio_eng *a, struct blk_io *io)
{
	if (blk_worker_submit(a->worker, io) < 0) {
		io->res = aio_job(io);
		ioq_push(&a->done, io);
	}
}

static int aio_engine_create(unsigned depth, struct blk_engine **out)
{
	struct aio_eng *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return -ENOMEM;
	a->base.ops = &blk_backend_aio;
	a->depth = depth ? depth : 1024;
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	a->batch = calloc(a->depth, sizeof(*a->batch));
	if (a->efd < 0 || !a->batch) {
		rc = a->efd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	rc = blk_worker_create(aio_job, a->efd, &a->worker);
	if (rc < 0)
		goto fail;
	rc = io_setup((int)a->depth, &a->ctx);
	if (rc < 0) {
		log_err("io_setup(%u): %s", a->depth, strerror(-rc));
		goto fail;
	}
	*out = &a->base;
	return 0;
fail:
	blk_worker_destroy(a->worker);
	if (a->efd >= 0)
		close(a->efd);
	free(a->batch);
	free(a);
	return rc;
}

static void aio_engine_destroy(struct blk_engine *e)
{
	struct aio_eng *a;

	if (!e)
		return;
	a = to_eng(e);
	/* The transport drains before destroying; io_destroy waits for
	 * anything left in flight. */
	io_destroy(a->ctx);
	blk_worker_destroy(a->worker);
	close(a->efd);
	free(a->batch);
	free(a);
}

static int aio_engine_fd(struct blk_engine *e)
{
	return to_eng(e)->efd;
}

/* Fails batch[0] (refused by io_submit) and drops it from the batch. */
static void batch_fail_first(struct aio_eng *a, int err)
{
	struct blk_io *io = a->batch[0]->data;

	memmove(a->batch, a->batch + 1, --a->nbatch * sizeof(*a->batch));
	if (io->op == BLK_IO_FLUSH && err == -EINVAL) {
		/* No IOCB_CMD_FDSYNC for this file: the worker syncs. */
		backing_file_of(io->backing)->sync_fallback = true;
		offload(a, io);
		return;
	}
	io->res = err;
	ioq_push(&a->done, io);
}

static void aio_commit(struct blk_engine *e)
{
	struct aio_eng *a = to_eng(e);
	struct blk_io *io;

	while (a->inflight + a->nbatch < a->depth && (io = ioq_pop(&a->wait)))
		a->batch[a->nbatch++] = (struct iocb *)io->priv;
	while (a->nbatch) {
		int n = io_submit(a->ctx, (long)a->nbatch, a->batch);

		if (n == -EAGAIN || n == -EINTR) {
			if (a->inflight)
				return;    /* retried after the next completion */
			batch_fail_first(a, n == -EINTR ? -EIO : -EAGAIN);
			continue;
		}
		if (n < 0) {
			batch_fail_first(a, n);
			continue;
		}
		a->inflight += (unsigned)n;
		a->nbatch -= (unsigned)n;
		memmove(a->batch, a->batch + n, a->nbatch * sizeof(*a->batch));
	}
}

static void complete_event(struct aio_eng *a, const struct io_event *ev)
{
	struct blk_io *io = ev->data;

	a->inflight--;
	io->done(io, blk_io_result(io, (long long)(long)ev->res));
}

/* Takes up to max events off the kernel's ring without a system call. */
static unsigned user_reap(struct aio_eng *a, unsigned max)
{
	struct aio_uring *r = (struct aio_uring *)a->ctx;
	unsigned head = r->head, tail, n = 0;

	tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	while (head != tail && n < max) {
		struct io_event ev = r->io_events[head];

		head = head + 1 >= r->nr ? 0 : head + 1;
		__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
		complete_event(a, &ev);
		n++;
	}
	return n;
}

static unsigned aio_reap(struct blk_engine *e, unsigned max)
{
	struct aio_eng *a = to_eng(e);
	struct aio_uring *r = (struct aio_uring *)a->ctx;
	unsigned n;

	blk_worker_reap(a->worker, &a->done);
	n = ioq_complete(&a->done, max);
	if (r->magic == AIO_RING_MAGIC && r->incompat_features == 0) {
		n += user_reap(a, max - n);
	} else if (a->inflight && n < max) {
		struct io_event evs[64];
		struct timespec zero = { 0, 0 };
		int got = io_getevents(a->ctx, 0,
				       max - n < 64 ? (long)(max - n) : 64,
				       evs, &zero);

		for (int i = 0; i < got; i++)
			complete_event(a, &evs[i]);
		n += got > 0 ? (unsigned)got : 0;
	}
	if (a->wait.n || a->nbatch)
		aio_commit(e);
	return n;
}

static void aio_ack(struct blk_engine *e)
{
	uint64_t cnt;

	if (read(to_eng(e)->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_warn("eventfd: %s", strerror(errno));
}

static bool aio_ready(struct blk_engine *e)
{
	struct aio_eng *a = to_eng(e);
	struct aio_uring *r = (struct aio_uring *)a->ctx;

	if (a->done.n || blk_worker_ready(a->worker))
		return true;
	if (!a->inflight)
		return false;
	if (r->magic != AIO_RING_MAGIC)
		return true;   /* cannot tell: let reap ask the kernel */
	return __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) != r->head;
}

static void enqueue(struct aio_eng *a, struct blk_io *io, struct iocb *cb)
{
	io_set_eventfd(cb, a->efd);
	cb->data = io;
	if (a->inflight + a->nbatch < a->depth && !a->wait.n)
		a->batch[a->nbatch++] = cb;
	else
		ioq_push(&a->wait, io);
}

static int aio_submit_rw(struct blk_backing *bb, struct blk_io *io)
{
	struct backing_file *s = backing_file_of(bb);
	struct iocb *cb = (struct iocb *)io->priv;

	if (io->op == BLK_IO_READ)
		io_prep_preadv(cb, s->fd, io->iov, (int)io->iovcnt,
			       (long long)io->offset);
	else
		io_prep_pwritev(cb, s->fd, io->iov, (int)io->iovcnt,
				(long long)io->offset);
	enqueue(to_eng(bb->engine), io, cb);
	return 0;
}

static int aio_flush(struct blk_backing *bb, struct blk_io *io)
{
	struct backing_file *s = backing_file_of(bb);
	struct aio_eng *a = to_eng(bb->engine);
	struct iocb *cb = (struct iocb *)io->priv;

	if (s->sync_fallback) {
		io->backing = bb;
		offload(a, io);
		return 0;
	}
	io_prep_fdsync(cb, s->fd);
	io->backing = bb;   /* for the fallback */
	enqueue(a, io, cb);
	return 0;
}

static int aio_discard(struct blk_backing *bb, struct blk_io *io)
{
	io->backing = bb;
	offload(to_eng(bb->engine), io);
	return 0;
}

static int aio_open(struct blk_engine *e, const char *path, bool readonly,
		    struct blk_backing **out, struct blk_backing_info *info)
{
	return backing_open(&blk_backend_aio, e, path, readonly, out, info);
}

const struct blk_backend_ops blk_backend_aio = {
	.name = "aio",
	.engine_create = aio_engine_create,
	.engine_destroy = aio_engine_destroy,
	.engine_fd = aio_engine_fd,
	.ack = aio_ack,
	.commit = aio_commit,
	.reap = aio_reap,
	.ready = aio_ready,
	.open = aio_open,
	.close = backing_close,
	.submit_rw = aio_submit_rw,
	.flush = aio_flush,
	.discard = aio_discard,
	.size = backing_size,
};
