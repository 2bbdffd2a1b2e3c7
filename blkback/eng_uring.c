/* The io_uring engine (liburing) on O_DIRECT files and block devices.
 *
 * Same shape as the libaio engine: requests become SQEs, one
 * io_uring_submit per batch (commit), an eventfd registered with the ring
 * wakes the libevent loop, and the completion queue is checked in user
 * space (io_uring_cq_ready) for the transport's spin.  fdatasync and a
 * file's hole punching are asynchronous here (IORING_OP_FSYNC,
 * IORING_OP_FALLOCATE); BLKDISCARD on a block device runs in the engine's
 * worker thread (worker.c).
 * Requests beyond what the completion queue holds wait in a FIFO.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pvd/log.h"
#include "eng_util.h"
#include "backing.h"
#include "worker.h"

struct uring_eng {
	struct blk_engine base;
	struct io_uring ring;
	int efd;
	unsigned cap, inflight, queued;
	struct blk_ioq wait, done;
	struct blk_worker *worker;
};

static struct uring_eng *to_eng(struct blk_engine *e)
{
	return container_of(e, struct uring_eng, base);
}

/* In the worker thread: BLKDISCARD, which io_uring cannot do. */
static int uring_job(struct blk_io *io)
{
	struct backing_file *s = backing_file_of(io->backing);

	return backing_discard(s, io->offset, io->len);
}

static int uring_engine_create(unsigned depth, struct blk_engine **out)
{
	struct uring_eng *u = calloc(1, sizeof(*u));
	struct io_uring_params p;
	unsigned entries;
	int rc;

	if (!u)
		return -ENOMEM;
	u->base.ops = &blk_backend_uring;
	entries = depth ? depth : 1024;
	if (entries > 4096)
		entries = 4096;
	u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->efd < 0) {
		rc = -errno;
		free(u);
		return rc;
	}
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER;
	rc = io_uring_queue_init_params(entries, &u->ring, &p);
	if (rc == -EINVAL) {
		memset(&p, 0, sizeof(p));
		rc = io_uring_queue_init_params(entries, &u->ring, &p);
	}
	if (rc < 0) {
		/* The caller says what it does without (vbd.c). */
		log_debug("io_uring_queue_init(%u): %s", entries, strerror(-rc));
		goto fail;
	}
	rc = io_uring_register_eventfd(&u->ring, u->efd);
	if (rc < 0) {
		log_err("io_uring_register_eventfd: %s", strerror(-rc));
		io_uring_queue_exit(&u->ring);
		goto fail;
	}
	u->cap = p.cq_entries;
	rc = blk_worker_create(uring_job, u->efd, &u->worker);
	if (rc < 0) {
		io_uring_queue_exit(&u->ring);
		goto fail;
	}
	*out = &u->base;
	return 0;
fail:
	close(u->efd);
	free(u);
	return rc;
}

static void uring_engine_destroy(struct blk_engine *e)
{
	struct uring_eng *u;

	if (!e)
		return;
	u = to_eng(e);
	io_uring_queue_exit(&u->ring);
	blk_worker_destroy(u->worker);
	close(u->efd);
	free(u);
}

static int uring_engine_fd(struct blk_engine *e)
{
	return to_eng(e)->efd;
}

/* Prepares one queued request as an SQE; false when the SQ is full. */
static bool prep(struct uring_eng *u, struct blk_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	struct backing_file *s = backing_file_of(io->backing);

	if (!sqe)
		return false;
	switch (io->op) {
	case BLK_IO_READ:
		io_uring_prep_readv(sqe, s->fd, io->iov, io->iovcnt, io->offset);
		break;
	case BLK_IO_WRITE:
		io_uring_prep_writev(sqe, s->fd, io->iov, io->iovcnt, io->offset);
		break;
	case BLK_IO_FLUSH:
		io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
		break;
	default:
		io_uring_prep_fallocate(sqe, s->fd,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					io->offset, io->len);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
	u->queued++;
	return true;
}

static void uring_commit(struct blk_engine *e)
{
	struct uring_eng *u = to_eng(e);

	for (;;) {
		int n;

		while (u->wait.head && u->inflight + u->queued < u->cap &&
		       prep(u, u->wait.head))
			ioq_pop(&u->wait);
		if (!u->queued)
			return;
		n = io_uring_submit(&u->ring);
		if (n == -EINTR)
			continue;
		if (n < 0) {
			/* Left in the SQ: the next commit tries again. */
			if (!u->inflight)
				log_warn("io_uring_submit: %s", strerror(-n));
			return;
		}
		u->inflight += (unsigned)n;
		u->queued -= (unsigned)n < u->queued ? (unsigned)n : u->queued;
		if (n == 0 || !u->wait.head)
			return;
	}
}

static unsigned uring_reap(struct blk_engine *e, unsigned max)
{
	struct uring_eng *u = to_eng(e);
	struct io_uring_cqe *cqes[64];
	unsigned n;

	blk_worker_reap(u->worker, &u->done);
	n = ioq_complete(&u->done, max);
	while (n < max) {
		unsigned want = max - n < 64 ? max - n : 64;
		unsigned got = io_uring_peek_batch_cqe(&u->ring, cqes, want);

		if (!got)
			break;
		for (unsigned i = 0; i < got; i++) {
			struct blk_io *io = io_uring_cqe_get_data(cqes[i]);
			int res = blk_io_result(io, cqes[i]->res);

			u->inflight--;
			io_uring_cqe_seen(&u->ring, cqes[i]);
			io->done(io, res);
		}
		n += got;
	}
	if (u->wait.head || u->queued)
		uring_commit(e);
	return n;
}

static void uring_ack(struct blk_engine *e)
{
	uint64_t cnt;

	if (read(to_eng(e)->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_warn("eventfd: %s", strerror(errno));
}

static bool uring_ready(struct blk_engine *e)
{
	struct uring_eng *u = to_eng(e);

	return u->done.n || blk_worker_ready(u->worker) ||
	       (u->inflight && io_uring_cq_ready(&u->ring));
}

static int uring_submit(struct blk_backing *bb, struct blk_io *io)
{
	struct uring_eng *u = to_eng(bb->engine);

	io->backing = bb;
	if (u->wait.head || u->inflight + u->queued >= u->cap || !prep(u, io))
		ioq_push(&u->wait, io);
	return 0;
}

static int uring_discard(struct blk_backing *bb, struct blk_io *io)
{
	struct backing_file *s = backing_file_of(bb);

	if (s->info.blockdev || s->info.readonly) {
		struct uring_eng *u = to_eng(bb->engine);

		io->backing = bb;
		if (blk_worker_submit(u->worker, io) < 0) {
			io->res = backing_discard(s, io->offset, io->len);
			ioq_push(&u->done, io);
		}
		return 0;
	}
	return uring_submit(bb, io);
}

static int uring_open(struct blk_engine *e, const char *path, bool readonly,
		    struct blk_backing **out, struct blk_backing_info *info)
{
	return backing_open(&blk_backend_uring, e, path, readonly, out, info);
}

const struct blk_backend_ops blk_backend_uring = {
	.name = "uring",
	.engine_create = uring_engine_create,
	.engine_destroy = uring_engine_destroy,
	.engine_fd = uring_engine_fd,
	.ack = uring_ack,
	.commit = uring_commit,
	.reap = uring_reap,
	.ready = uring_ready,
	.open = uring_open,
	.close = backing_close,
	.submit_rw = uring_submit,
	.flush = uring_submit,
	.discard = uring_discard,
	.size = backing_size,
};
