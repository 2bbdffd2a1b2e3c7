/* common/iothread.c: a call runs on the thread (not the caller's), with
 * the daemon's signals blocked there; work posted before the stop still
 * runs; stop is idempotent; the thread's CPU clock is its own; an inline
 * stand-in runs calls on the caller. */
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "pvd/iothread.h"
#include "pvd/msgq.h"

struct fx {
	struct event_base *base;
	struct pvd_msgq *q;
	struct pvd_iothread t;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	assert_int_equal(pvd_msgq_create(f->base, 0, &f->q), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pvd_iothread_stop(&f->t);
	pvd_msgq_destroy(f->q);
	event_base_free(f->base);
	free(f);
	return 0;
}

struct probe {
	pthread_t self;
	int term_blocked, hup_blocked;
	uint64_t spins;
};

static int probe_run(void *arg)
{
	struct probe *p = arg;
	sigset_t cur;

	p->self = pthread_self();
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	p->term_blocked = sigismember(&cur, SIGTERM);
	p->hup_blocked = sigismember(&cur, SIGHUP);
	/* Some CPU time of the thread's own. */
	for (volatile uint64_t i = 0; i < 20000000; i++)
		p->spins++;
	return 42;
}

static void test_call_runs_on_thread(void **state)
{
	struct fx *f = *state;
	struct probe p = { 0 };

	assert_int_equal(pvd_iothread_start(&f->t, f->base, f->q), 0);
	assert_int_equal(pvd_msgq_call(f->q, probe_run, &p), 42);
	assert_true(pthread_equal(p.self, f->t.tid));
	assert_false(pthread_equal(p.self, pthread_self()));
	assert_int_equal(p.term_blocked, 1);
	assert_int_equal(p.hup_blocked, 1);
	assert_true(pvd_iothread_cpu_ns(&f->t) > 0);
}

static void count(void *ctx, void *msg)
{
	(*(int *)ctx)++;
}

static void test_stop_runs_what_was_posted(void **state)
{
	struct fx *f = *state;
	int n = 0;

	assert_int_equal(pvd_iothread_start(&f->t, f->base, f->q), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(pvd_msgq_post(f->q, count, &n, NULL, 0), 0);
	pvd_iothread_stop(&f->t);
	assert_int_equal(n, 100);
	assert_false(f->t.running);
	pvd_iothread_stop(&f->t);	/* idempotent */
}

static void test_inline_runs_on_caller(void **state)
{
	struct fx *f = *state;
	struct probe p = { 0 };

	pvd_iothread_inline(&f->t, f->base, f->q);
	assert_int_equal(pvd_msgq_call(f->q, probe_run, &p), 42);
	assert_true(pthread_equal(p.self, pthread_self()));
	assert_true(pvd_iothread_cpu_ns(&f->t) > 0);
	pvd_iothread_stop(&f->t);	/* nothing to join */
}

/* The default thread count follows the affinity mask, as nproc(1). */
static void test_default_follows_affinity(void **state)
{
	cpu_set_t was, one;
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(was), &was), 0);
	assert_int_equal(pvd_iothread_default(1024), (unsigned)CPU_COUNT(&was));
	assert_int_equal(pvd_iothread_default(1), 1);
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &was)) {
			CPU_SET(c, &one);
			break;
		}
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	assert_int_equal(pvd_iothread_default(1024), 1);
	assert_int_equal(sched_setaffinity(0, sizeof(was), &was), 0);
	assert_true(online >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call_runs_on_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_runs_what_was_posted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_runs_on_caller, setup, teardown),
		cmocka_unit_test(test_default_follows_affinity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
