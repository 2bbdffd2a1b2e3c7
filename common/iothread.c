/* I/O threads (include/pvd/iothread.h).  The thread owns its loop from
 * pvd_iothread_start to pvd_iothread_stop: the stop is a message on its
 * own queue, so whatever was posted before it still runs on the thread. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "pvd/iothread.h"
#include "pvd/log.h"
#include "pvd/msgq.h"

static void *iothread_main(void *arg)
{
	struct pvd_iothread *t = arg;

	event_base_loop(t->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

void pvd_iothread_inline(struct pvd_iothread *t, struct event_base *base,
			 struct pvd_msgq *q)
{
	memset(t, 0, sizeof(*t));
	t->base = base;
	t->q = q;
	t->cpu_clock = CLOCK_THREAD_CPUTIME_ID;
}

int pvd_iothread_start(struct pvd_iothread *t, struct event_base *base,
		       struct pvd_msgq *q)
{
	sigset_t block, old;
	int rc;

	pvd_iothread_inline(t, base, q);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = -pthread_create(&t->tid, NULL, iothread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		log_err("%s: %s", __func__, strerror(-rc));
		return rc;
	}
	t->running = true;
	pvd_msgq_bind(q, t->tid);
	if (pthread_getcpuclockid(t->tid, &t->cpu_clock))
		t->cpu_clock = CLOCK_THREAD_CPUTIME_ID;
	return 0;
}

static int break_loop(void *arg)
{
	struct pvd_iothread *t = arg;

	event_base_loopbreak(t->base);
	return 0;
}

void pvd_iothread_stop(struct pvd_iothread *t)
{
	if (!t->running)
		return;
	pvd_msgq_call(t->q, break_loop, t);
	pthread_join(t->tid, NULL);
	t->running = false;
}

uint64_t pvd_iothread_cpu_ns(const struct pvd_iothread *t)
{
	struct timespec ts;

	if (clock_gettime(t->cpu_clock, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned pvd_iothread_default(unsigned max)
{
	cpu_set_t set;
	long n;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	else
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return (unsigned long)n > max ? max : (unsigned)n;
}
