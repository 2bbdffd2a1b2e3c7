/* Worker threads for storage calls with no asynchronous form: BLKDISCARD
 * on a block device, hole punching and fdatasync where the engine has no
 * AIO operation for them.  A discard of a large range can take seconds on
 * a real device; run in the event loop it would stop every other disk the
 * daemon serves.
 *
 * Shared by every disk of an engine, so fair between them: each disk
 * (backing) has its own FIFO here, and at most one of its jobs runs at a
 * time (its jobs keep their order); the disks with jobs waiting are served
 * round-robin, by up to BLK_WORKER_THREADS threads started as needed (a
 * new one when a job comes and none is idle).  A guest queueing
 * whole-disk discards thus occupies one thread and delays only itself:
 * another disk's job goes to another thread, or comes next in turn.
 *
 * Jobs go in and come out under one mutex; a thread writes the engine's
 * eventfd after each job, so completions reach the loop as the engine's
 * own do, and the engine's reap moves them to its done queue.  A thread
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

/* One disk's jobs; exists while one runs or some wait. */
struct wsrc {
	const struct blk_backing *key;
	struct blk_ioq q;
	bool running;
	struct wsrc *next;	/* all sources */
	struct wsrc *rr_next;	/* the round-robin FIFO: waiting, not running */
};

struct blk_worker {
	blk_worker_fn *fn;
	int notify_fd;
	pthread_t thread[BLK_WORKER_THREADS];
	unsigned nthreads, nidle;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct wsrc *srcs;
	struct wsrc *rr_head, *rr_tail;
	struct blk_ioq done;
	unsigned ndone;		/* done.n, readable without the lock */
	bool stop;
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

static void rr_push(struct blk_worker *w, struct wsrc *s)
{
	s->rr_next = NULL;
	if (w->rr_tail)
		w->rr_tail->rr_next = s;
	else
		w->rr_head = s;
	w->rr_tail = s;
}

static struct wsrc *rr_pop(struct blk_worker *w)
{
	struct wsrc *s = w->rr_head;

	if (s) {
		w->rr_head = s->rr_next;
		if (!w->rr_head)
			w->rr_tail = NULL;
	}
	return s;
}

static void src_free(struct blk_worker *w, struct wsrc *s)
{
	struct wsrc **pp = &w->srcs;

	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	free(s);
}

/* A job of s finished: s waits for its next turn, or goes. */
static void src_done(struct blk_worker *w, struct wsrc *s, struct blk_io *io)
{
	uint64_t one = 1;

	ioq_push(&w->done, io);
	__atomic_store_n(&w->ndone, w->done.n, __ATOMIC_RELEASE);
	/* Cannot fail but for a counter at its maximum. */
	if (write(w->notify_fd, &one, sizeof(one)) < 0)
		log_warn("eventfd: %s", strerror(errno));
	s->running = false;
	if (s->q.n)
		rr_push(w, s);
	else
		src_free(w, s);
}

static void *worker_main(void *arg)
{
	struct blk_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct blk_io *io;
		struct wsrc *s;

		while (!w->rr_head && !w->stop) {
			w->nidle++;
			pthread_cond_wait(&w->cond, &w->lock);
			w->nidle--;
		}
		if (w->stop)
			break;
		s = rr_pop(w);
		io = ioq_pop(&s->q);
		s->running = true;
		pthread_mutex_unlock(&w->lock);
		io->res = w->fn(io);
		pthread_mutex_lock(&w->lock);
		src_done(w, s, io);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

void blk_worker_destroy(struct blk_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->thread[i], NULL);
	while (w->srcs)
		src_free(w, w->srcs);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* Another thread when none is idle (at most BLK_WORKER_THREADS); -errno
 * only if there is none at all. */
static int worker_grow(struct blk_worker *w)
{
	int rc;

	if (w->nidle || w->nthreads == BLK_WORKER_THREADS)
		return 0;
	rc = -pthread_create(&w->thread[w->nthreads], NULL, worker_main, w);
	if (rc == 0) {
		w->nthreads++;
		return 0;
	}
	log_warn("cannot start a worker thread: %s", strerror(-rc));
	return w->nthreads ? 0 : rc;
}

static struct wsrc *src_get(struct blk_worker *w, const struct blk_backing *key)
{
	struct wsrc *s;

	for (s = w->srcs; s; s = s->next)
		if (s->key == key)
			return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->key = key;
	s->next = w->srcs;
	w->srcs = s;
	return s;
}

int blk_worker_submit(struct blk_worker *w, struct blk_io *io)
{
	struct wsrc *s = NULL;
	int rc;

	pthread_mutex_lock(&w->lock);
	rc = worker_grow(w);
	if (rc == 0 && !(s = src_get(w, io->backing)))
		rc = -ENOMEM;
	if (rc == 0) {
		ioq_push(&s->q, io);
		/* Not running and nothing queued before: not in the FIFO. */
		if (!s->running && s->q.n == 1)
			rr_push(w, s);
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
