/* A worker thread for storage calls with no asynchronous form: BLKDISCARD
 * on a block device, hole punching and fdatasync where the engine has no
 * AIO operation for them.  A discard of a large range can take seconds on
 * a real device; run in the event loop it would stop every other disk the
 * daemon serves.
 *
 * One thread per engine, started on first use.  Jobs go in and come out
 * through two lists under one mutex; the thread writes the engine's
 * eventfd after each job, so completions reach the loop as the engine's
 * own do, and the engine's reap moves them to its done queue.  The thread
 * touches only the blk_io it was given and the file it names (the store
 * stays open: the transport drains a disk's requests before closing it).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pvd/log.h"
#include "worker.h"

struct blk_worker {
	blk_worker_fn *fn;
	int notify_fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct blk_ioq queued, done;
	unsigned ndone;		/* done.n, readable without the lock */
	bool started, stop;
};

int blk_worker_create(blk_worker_fn *fn, int notify_fd, struct blk_worker **out)
{
	struct blk_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->notify_fd = notify_fd;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	*out = w;
	return 0;
}

static void *worker_main(void *arg)
{
	struct blk_worker *w = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct blk_io *io;

		while (!w->queued.n && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		io = ioq_pop(&w->queued);
		pthread_mutex_unlock(&w->lock);
		io->res = w->fn(io);
		pthread_mutex_lock(&w->lock);
		ioq_push(&w->done, io);
		__atomic_store_n(&w->ndone, w->done.n, __ATOMIC_RELEASE);
		/* Cannot fail but for a counter at its maximum. */
		if (write(w->notify_fd, &one, sizeof(one)) < 0)
			log_warn("eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

void blk_worker_destroy(struct blk_worker *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int blk_worker_submit(struct blk_worker *w, struct blk_io *io)
{
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	if (!w->started) {
		rc = -pthread_create(&w->thread, NULL, worker_main, w);
		if (rc < 0)
			log_warn("cannot start the worker thread: %s", strerror(-rc));
		w->started = rc == 0;
	}
	if (rc == 0) {
		ioq_push(&w->queued, io);
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

unsigned blk_worker_reap(struct blk_worker *w, struct blk_ioq *done)
{
	unsigned n = 0;
	struct blk_io *io;

	if (!w || !__atomic_load_n(&w->ndone, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&w->lock);
	while ((io = ioq_pop(&w->done)) != NULL) {
		ioq_push(done, io);
		n++;
	}
	__atomic_store_n(&w->ndone, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&w->lock);
	return n;
}

unsigned blk_worker_ready(const struct blk_worker *w)
{
	return w ? __atomic_load_n(&w->ndone, __ATOMIC_ACQUIRE) : 0;
}
