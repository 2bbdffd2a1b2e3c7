/* An I/O thread: a thread of its own running one libevent loop, reached
 * through a pvd_msgq bound to it (include/pvd/msgq.h).  pvd-blkback's and
 * pvd-netback's pools (blkback/pool.c, netback/pool.c) start theirs with
 * it; what the loop serves (rings, hypervisor handle, engines) stays the
 * daemon's.
 *
 * The thread starts with SIGTERM, SIGINT and SIGHUP blocked: the main
 * thread's loop takes them.  With no thread of its own ("inline", the
 * daemons' --io-threads 0) the object stands for the main thread: calls
 * on its queue run inline and its CPU clock is the caller's. */
#ifndef PVD_IOTHREAD_H
#define PVD_IOTHREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct event_base;
struct pvd_msgq;

struct pvd_iothread {
	struct event_base *base;
	struct pvd_msgq *q;	/* bound to tid when running */
	pthread_t tid;
	bool running;		/* a thread of its own, to be joined */
	clockid_t cpu_clock;
};

/* The main thread's stand-in: nothing is started. */
void pvd_iothread_inline(struct pvd_iothread *t, struct event_base *base,
			 struct pvd_msgq *q);
/* Runs base's loop on a new thread and binds q to it: 0 or -errno. */
int pvd_iothread_start(struct pvd_iothread *t, struct event_base *base,
		       struct pvd_msgq *q);
/* Breaks the loop (a call on q, so work queued before it runs) and joins
 * the thread.  Idempotent; nothing for an inline one. */
void pvd_iothread_stop(struct pvd_iothread *t);
/* CPU time the thread used, ns (the caller's own for an inline one, which
 * is the main thread). */
uint64_t pvd_iothread_cpu_ns(const struct pvd_iothread *t);
/* The default number of I/O threads: the CPUs this process may run on
 * (its affinity mask, as nproc(1) counts: a daemon started under taskset
 * or systemd's CPUAffinity= gets no more threads than its CPUs), else the
 * online CPUs; between 1 and max. */
unsigned pvd_iothread_default(unsigned max);

#endif
