/* pvd-blkback's I/O threads (blkback/pool.c) on the simulated hypervisor:
 * a call runs on the thread asked for (and inline with --io-threads 0),
 * placement picks the least loaded, the threads' statistics come from the
 * threads, stop is idempotent. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "pvd/hv.h"
#include "../../blkback/pool.h"

struct fx {
	char dir[64];
	struct event_base *base;
	struct hv_config hc;
	struct blk_pool p;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/pvd-bpool-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	setenv("PVD_RUNDIR", f->dir, 1);
	f->hc.impl = "sim";
	f->base = event_base_new();
	assert_non_null(f->base);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	blk_pool_stop(&f->p);
	event_base_free(f->base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void start(struct fx *f, unsigned threads)
{
	struct blk_pool_cfg cfg = {
		.threads = threads, .hv = &f->hc, .spin_ns = 0, .depth = 64, .batch = 8,
	};

	assert_int_equal(blk_pool_start(&f->p, f->base, &cfg), 0);
}

static int where(void *arg)
{
	*(pthread_t *)arg = pthread_self();
	return 7;
}

static void test_call_runs_on_each_thread(void **state)
{
	struct fx *f = *state;
	pthread_t on[3];

	start(f, 3);
	assert_int_equal(f->p.nthr, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(blk_pool_call(&f->p.t[i], where, &on[i]), 7);
		assert_true(pthread_equal(on[i], f->p.t[i].th.tid));
		assert_false(pthread_equal(on[i], pthread_self()));
	}
	assert_false(pthread_equal(on[0], on[1]));
	assert_false(pthread_equal(on[1], on[2]));
	/* Each thread has a hypervisor handle of its own. */
	assert_ptr_not_equal(f->p.t[0].hv, f->p.t[1].hv);
	assert_ptr_not_equal(f->p.t[1].hv, f->p.t[2].hv);
}

static void test_zero_threads_is_inline(void **state)
{
	struct fx *f = *state;
	pthread_t on;

	start(f, 0);
	assert_int_equal(f->p.nthr, 1);
	assert_int_equal(blk_pool_call(&f->p.t[0], where, &on), 7);
	assert_true(pthread_equal(on, pthread_self()));
	assert_ptr_equal(f->p.t[0].base, f->base);
}

static void test_pick_least_loaded(void **state)
{
	struct fx *f = *state;

	start(f, 3);
	f->p.t[0].load = 2;
	f->p.t[1].load = 1;
	f->p.t[2].load = 3;
	assert_ptr_equal(blk_pool_pick(&f->p), &f->p.t[1]);
	f->p.t[1].load = 5;
	assert_ptr_equal(blk_pool_pick(&f->p), &f->p.t[0]);
}

static int burn(void *arg)
{
	volatile uint64_t x = 0;

	for (uint64_t i = 0; i < 20000000; i++)
		x += i;
	return 0;
}

static void test_thread_stats(void **state)
{
	struct fx *f = *state;
	struct blk_thread_stats s0, s1;

	start(f, 2);
	assert_int_equal(blk_pool_call(&f->p.t[1], burn, NULL), 0);
	assert_int_equal(blk_pool_thread_stats(&f->p, 0, &s0), 0);
	assert_int_equal(blk_pool_thread_stats(&f->p, 1, &s1), 0);
	assert_int_equal(s0.index, 0);
	assert_int_equal(s1.index, 1);
	assert_int_equal(s0.rings, 0);
	/* The thread that worked has the CPU time, not the idle one. */
	assert_true(s1.cpu_ns > s0.cpu_ns);
	assert_int_equal(blk_pool_thread_stats(&f->p, 2, &s0), -EINVAL);
}

static void test_stop_twice(void **state)
{
	struct fx *f = *state;

	start(f, 2);
	blk_pool_stop(&f->p);
	blk_pool_stop(&f->p);
	assert_null(f->p.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call_runs_on_each_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_threads_is_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pick_least_loaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_twice, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
