/* The token bucket (common/ratelimit.c: pvd-consoled's bytes, the
 * daemons' guest-triggered log lines), against a made-up clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pvd/ratelimit.h"

#define MS 1000000ull
#define S  1000000000ull

static void test_unlimited(void **state)
{
	struct ratelimit r;

	ratelimit_init(&r, 0, 0, 0);
	assert_int_equal(ratelimit_take(&r, 1ull << 40, 0), 1ull << 40);
	assert_int_equal(ratelimit_wait_ns(&r, 100, 0), 0);
}

static void test_burst_then_rate(void **state)
{
	struct ratelimit r;
	uint64_t t = 5 * S;

	ratelimit_init(&r, 1000, 500, t);
	assert_int_equal(ratelimit_take(&r, 2048, t), 500);	/* the burst */
	assert_int_equal(ratelimit_take(&r, 2048, t), 0);
	/* 100 ms later: 100 bytes. */
	assert_int_equal(ratelimit_take(&r, 2048, t + 100 * MS), 100);
	assert_int_equal(ratelimit_take(&r, 2048, t + 100 * MS), 0);
	/* Idle for an hour: never more than the burst. */
	assert_int_equal(ratelimit_take(&r, 1 << 20, t + 3600 * S), 500);
}

/* Looking at the bucket often loses no fraction of a byte. */
static void test_no_rounding_loss(void **state)
{
	struct ratelimit r;
	uint64_t got = 0, t = 0;

	ratelimit_init(&r, 3, 1000, 0);
	ratelimit_take(&r, 1000, 0);
	for (int i = 0; i < 10000; i++) {
		t += 1 * MS;	/* 0.003 bytes per look */
		got += ratelimit_take(&r, 1000, t);
	}
	assert_int_equal(got, 30);	/* 10 s at 3 B/s */
}

static void test_wait_ns(void **state)
{
	struct ratelimit r;
	uint64_t w;

	ratelimit_init(&r, 1000, 1000, 0);
	ratelimit_take(&r, 1000, 0);
	w = ratelimit_wait_ns(&r, 250, 0);
	assert_int_equal(w, 250 * MS);
	/* After that long, exactly that much may pass. */
	assert_int_equal(ratelimit_take(&r, 1000, w), 250);
	/* More than the burst: waits for the burst only. */
	assert_int_equal(ratelimit_wait_ns(&r, 1 << 30, w), 1000 * MS);
	/* Part of the wait already passed. */
	assert_int_equal(ratelimit_wait_ns(&r, 100, w + 40 * MS), 60 * MS);
	/* Enough tokens: no wait. */
	assert_int_equal(ratelimit_wait_ns(&r, 10, w + 1 * S), 0);
}

/* A rate that does not divide a second, and huge values. */
static void test_big_numbers(void **state)
{
	struct ratelimit r;

	ratelimit_init(&r, 1ull << 40, 1ull << 40, 0);
	assert_int_equal(ratelimit_take(&r, 1ull << 41, 0), 1ull << 40);
	assert_int_equal(ratelimit_take(&r, 1ull << 41, S / 2), 1ull << 39);
	ratelimit_init(&r, 7, 7, 0);
	ratelimit_take(&r, 7, 0);
	assert_int_equal(ratelimit_wait_ns(&r, 1, 0), (S + 6) / 7);
	assert_int_equal(ratelimit_take(&r, 7, (S + 6) / 7), 1);
}

/* The clock going backwards (it should not; a bad caller) costs nothing. */
static void test_clock_backwards(void **state)
{
	struct ratelimit r;

	ratelimit_init(&r, 100, 100, 10 * S);
	ratelimit_take(&r, 100, 10 * S);
	assert_int_equal(ratelimit_take(&r, 100, 5 * S), 0);
	assert_int_equal(ratelimit_take(&r, 100, 10 * S + S / 2), 50);
}

/* printk_ratelimited: the burst, then one a second, and the count of
 * what was dropped handed to the first line that passes again. */
static void test_logrl(void **state)
{
	struct pvd_logrl l;
	uint64_t dropped = 99, t = 5 * S;
	unsigned passed = 0;

	pvd_logrl_init(&l, t);
	for (unsigned i = 0; i < 5000; i++) {
		if (pvd_logrl_allow(&l, t, &dropped)) {
			passed++;
			assert_int_equal(dropped, 0);
		}
	}
	assert_int_equal(passed, PVD_LOGRL_BURST);
	assert_false(pvd_logrl_allow(&l, t + S / 2, &dropped));
	assert_true(pvd_logrl_allow(&l, t + S, &dropped));
	assert_int_equal(dropped, 5000 - PVD_LOGRL_BURST + 1);
	assert_false(pvd_logrl_allow(&l, t + S, &dropped));
	assert_int_equal(dropped, 0);
	/* A long quiet time gives the burst back, not more. */
	passed = 0;
	for (unsigned i = 0; i < 100; i++)
		passed += pvd_logrl_allow(&l, t + 3600 * S, &dropped);
	assert_int_equal(passed, PVD_LOGRL_BURST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_no_rounding_loss),
		cmocka_unit_test(test_wait_ns),
		cmocka_unit_test(test_big_numbers),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_logrl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
