/* The inter-thread message queue (include/pvd/msgq.h): several producer
 * threads against one consumer loop (every message once, each producer's
 * in order), the bound, growth, the synchronous call from another thread
 * and from the consumer itself, close. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "pvd/msgq.h"

#define PRODUCERS 4
#define PER_PRODUCER 20000

struct fixture {
	struct event_base *base;
	struct pvd_msgq *q;
	pthread_t consumer;
	bool running;
	/* Consumer thread's only, read after the join. */
	uint32_t next[PRODUCERS];
	unsigned long got, out_of_order;
	pthread_t ran_on;
};

struct item {
	uint32_t producer, seq;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	assert_int_equal(pvd_msgq_create(f->base, 0, &f->q), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pvd_msgq_destroy(f->q);
	event_base_free(f->base);
	free(f);
	return 0;
}

static void *consumer_main(void *arg)
{
	struct fixture *f = arg;

	event_base_loop(f->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void start_consumer(struct fixture *f)
{
	assert_int_equal(pthread_create(&f->consumer, NULL, consumer_main, f), 0);
	pvd_msgq_bind(f->q, f->consumer);
	f->running = true;
}

static int stop_loop(void *ctx)
{
	struct fixture *f = ctx;

	event_base_loopbreak(f->base);
	return 0;
}

static void stop_consumer(struct fixture *f)
{
	assert_int_equal(pvd_msgq_call(f->q, stop_loop, f), 0);
	assert_int_equal(pthread_join(f->consumer, NULL), 0);
	f->running = false;
}

static void on_item(void *ctx, void *payload)
{
	struct fixture *f = ctx;
	struct item it;

	memcpy(&it, payload, sizeof(it));
	if (it.producer >= PRODUCERS || it.seq != f->next[it.producer])
		f->out_of_order++;
	else
		f->next[it.producer]++;
	f->got++;
}

struct producer {
	struct fixture *f;
	uint32_t id;
	unsigned long failed;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;

	for (uint32_t i = 0; i < PER_PRODUCER; i++) {
		struct item it = { .producer = p->id, .seq = i };

		if (pvd_msgq_post(p->f->q, on_item, p->f, &it, sizeof(it)))
			p->failed++;
	}
	return NULL;
}

static void test_many_producers(void **state)
{
	struct fixture *f = *state;
	struct producer p[PRODUCERS];
	pthread_t t[PRODUCERS];

	start_consumer(f);
	for (uint32_t i = 0; i < PRODUCERS; i++) {
		p[i] = (struct producer){ .f = f, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, producer_main, &p[i]), 0);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(p[i].failed, 0);
	}
	/* The stop is queued behind every item: all have run by its return. */
	stop_consumer(f);
	assert_int_equal(f->got, (unsigned long)PRODUCERS * PER_PRODUCER);
	assert_int_equal(f->out_of_order, 0);
	for (int i = 0; i < PRODUCERS; i++)
		assert_int_equal(f->next[i], PER_PRODUCER);
	assert_int_equal(pvd_msgq_pending(f->q), 0);
}

static int where(void *ctx)
{
	struct fixture *f = ctx;

	f->ran_on = pthread_self();
	return 42;
}

static void test_call_runs_on_consumer(void **state)
{
	struct fixture *f = *state;

	start_consumer(f);
	assert_int_equal(pvd_msgq_call(f->q, where, f), 42);
	assert_true(pthread_equal(f->ran_on, f->consumer));
	assert_false(pthread_equal(f->ran_on, pthread_self()));
	stop_consumer(f);
}

/* On the consumer itself the call cannot wait for its own loop. */
static void test_call_on_consumer_is_inline(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(pvd_msgq_call(f->q, where, f), 42);
	assert_true(pthread_equal(f->ran_on, pthread_self()));
}

static void count(void *ctx, void *payload)
{
	(*(unsigned long *)ctx)++;
}

static void test_bounded(void **state)
{
	struct event_base *base = event_base_new();
	struct pvd_msgq *q;
	unsigned long n = 0;

	assert_non_null(base);
	assert_int_equal(pvd_msgq_create(base, 5, &q), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(pvd_msgq_post(q, count, &n, NULL, 0), 0);
	assert_int_equal(pvd_msgq_post(q, count, &n, NULL, 0), -EAGAIN);
	assert_int_equal(pvd_msgq_pending(q), 5);
	assert_int_equal(pvd_msgq_run(q, 2), 2);
	assert_int_equal(pvd_msgq_post(q, count, &n, NULL, 0), 0);
	assert_int_equal(pvd_msgq_run(q, SIZE_MAX), 4);
	assert_int_equal(n, 6);
	pvd_msgq_destroy(q);
	event_base_free(base);
}

static void test_grows_and_wraps(void **state)
{
	struct fixture *f = *state;

	/* Half run first so that the growth copies a wrapped ring. */
	for (uint32_t i = 0; i < 10; i++) {
		struct item it = { .producer = 0, .seq = i };

		assert_int_equal(pvd_msgq_post(f->q, on_item, f, &it, sizeof(it)), 0);
	}
	assert_int_equal(pvd_msgq_run(f->q, 8), 8);
	for (uint32_t i = 10; i < 1000; i++) {
		struct item it = { .producer = 0, .seq = i };

		assert_int_equal(pvd_msgq_post(f->q, on_item, f, &it, sizeof(it)), 0);
	}
	assert_int_equal(pvd_msgq_pending(f->q), 992);
	/* The loop delivers them in batches, in order. */
	while (pvd_msgq_pending(f->q))
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_int_equal(f->got, 1000);
	assert_int_equal(f->out_of_order, 0);
}

static void test_invalid_and_closed(void **state)
{
	struct fixture *f = *state;
	char big[PVD_MSG_INLINE + 1] = { 0 };
	unsigned long n = 0;

	assert_int_equal(pvd_msgq_post(f->q, NULL, NULL, NULL, 0), -EINVAL);
	assert_int_equal(pvd_msgq_post(f->q, count, &n, big, sizeof(big)), -EINVAL);
	assert_int_equal(pvd_msgq_post(f->q, count, &n, NULL, 0), 0);
	pvd_msgq_close(f->q);
	assert_int_equal(pvd_msgq_post(f->q, count, &n, NULL, 0), -EPIPE);
	/* What was queued before the close still runs. */
	assert_int_equal(pvd_msgq_run(f->q, SIZE_MAX), 1);
	assert_int_equal(n, 1);
}

/* destroy runs what is left, so nothing posted is silently dropped. */
static void test_destroy_runs_pending(void **state)
{
	struct event_base *base = event_base_new();
	struct pvd_msgq *q;
	unsigned long n = 0;

	assert_non_null(base);
	assert_int_equal(pvd_msgq_create(base, 0, &q), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pvd_msgq_post(q, count, &n, NULL, 0), 0);
	pvd_msgq_destroy(q);
	assert_int_equal(n, 3);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_many_producers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_runs_on_consumer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_on_consumer_is_inline, setup, teardown),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test_setup_teardown(test_grows_and_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_and_closed, setup, teardown),
		cmocka_unit_test(test_destroy_runs_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
