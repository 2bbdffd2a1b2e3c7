/* Threads for the storage calls that have no asynchronous form, fair
 * between disks (worker.c): per disk (io->backing) one job at a time, in
 * order; disks served round-robin by up to BLK_WORKER_THREADS threads. */
#ifndef PVD_BLKBACK_WORKER_H
#define PVD_BLKBACK_WORKER_H

#include "eng_util.h"

#define BLK_WORKER_THREADS 4

struct blk_worker;

/* Runs io's operation in the worker thread; 0 or -errno, into io->res. */
typedef int blk_worker_fn(struct blk_io *io);

/* notify_fd: an eventfd the worker writes when it finished something (the
 * engine's, which the event loop polls). */
int blk_worker_create(blk_worker_fn *fn, int notify_fd, struct blk_worker **out);
/* Waits for the jobs running, if any; jobs not started are dropped (the
 * transport drains its requests before it destroys an engine). */
void blk_worker_destroy(struct blk_worker *w);
/* Queues io behind its disk's (io->backing) earlier jobs; -errno if no
 * thread can be started or memory is short (run it inline). */
int blk_worker_submit(struct blk_worker *w, struct blk_io *io);
/* Moves finished jobs onto done; returns how many. */
unsigned blk_worker_reap(struct blk_worker *w, struct blk_ioq *done);
/* Finished jobs waiting for reap (a hint, without the lock). */
unsigned blk_worker_ready(const struct blk_worker *w);

#endif
