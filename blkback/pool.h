/* pvd-blkback's I/O threads (pool.c).
 *
 * Ownership: each I/O thread (struct blk_thread) owns its libevent base,
 * its hypervisor handle (the event-channel fd it polls, the grant
 * mappings of its rings), its struct blk_loop (the rings it serves, their
 * slots, persistent grants and statistics counters) and the storage
 * engines created on it (libaio context, io_uring, worker threads).  A
 * disk (struct blk_vbd) lives wholly on one thread: opened, connected,
 * disconnected, resized, read for statistics and closed there.  The main
 * thread (xenbus state machine, store connection, control socket,
 * metrics) never touches a thread's objects: it calls blk_pool_call,
 * which runs a function on that thread's loop (struct pvd_msgq) and waits.
 * What a thread reports back (a halted ring, a drained disconnect) is a
 * message posted to the main thread's queue (blk_pool_main).
 *
 * --io-threads 0: no thread; the one "thread" is the main thread itself
 * (its base, a handle of its own), blk_pool_call runs inline: the
 * behaviour before the pool.
 *
 * Placement: a disk goes to the thread with the least load (rings
 * connected plus disks open) when it is opened; every queue of a disk is
 * served by that thread (its engine's backing is that thread's). */
#ifndef PVD_BLKBACK_POOL_H
#define PVD_BLKBACK_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "pvd/hv.h"
#include "pvd/iothread.h"
#include "loop.h"

#define BLK_MAX_IO_THREADS 256

struct event_base;
struct pvd_msgq;
struct blk_pool;

struct blk_thread {
	struct blk_pool *pool;
	unsigned index;
	struct pvd_iothread th;     /* its thread (inline: the main one) */
	struct event_base *base;
	struct hv *hv;
	struct blk_loop loop;
	struct pvd_msgq *q;
	unsigned load;              /* main thread's: rings + disks on it */
};

/* What a thread says of itself (read on it). */
struct blk_thread_stats {
	unsigned index, rings;
	uint64_t cpu_ns, rounds, spins_won, sleeps, slices;
};

struct blk_pool {
	struct event_base *main_base;
	struct pvd_msgq *mainq;     /* messages to the main thread */
	unsigned n;                 /* --io-threads (0: main thread) */
	unsigned nthr;              /* threads in t: max(n, 1) */
	struct blk_thread *t;
};

struct blk_pool_cfg {
	unsigned threads;           /* 0: serve on the main thread */
	const struct hv_config *hv;
	uint32_t spin_ns;
	unsigned depth, batch;
};

int blk_pool_start(struct blk_pool *p, struct event_base *main_base,
		   const struct blk_pool_cfg *cfg);
/* Stops and joins the threads; their rings must be gone.  Idempotent. */
void blk_pool_stop(struct blk_pool *p);
/* The least-loaded thread (load counted by the caller, main thread). */
struct blk_thread *blk_pool_pick(struct blk_pool *p);
/* Runs fn(arg) on t and returns its result (then lets t's loop run, for
 * the rings the call started or stopped). */
int blk_pool_call(struct blk_thread *t, int (*fn)(void *arg), void *arg);
/* For main-thread code that used to run the loop itself: with no I/O
 * thread, runs the main thread's loop; else nothing. */
void blk_pool_run_main(struct blk_pool *p);
/* Fills s for thread i (a call on it). */
int blk_pool_thread_stats(struct blk_pool *p, unsigned i,
			  struct blk_thread_stats *s);
/* The calling thread's CPU time, ns (for the ring it serves). */
uint64_t blk_thread_cpu_ns(const struct blk_thread *t);

#endif
