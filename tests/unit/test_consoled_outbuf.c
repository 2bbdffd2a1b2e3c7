/* pvd-consoled's bounded output buffer: drop-oldest, the gap marker, and
 * no memory held while empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../consoled/outbuf.h"

/* Drains everything into out (NUL-terminated); returns its length. */
static size_t drain(struct outbuf *b, char *out, size_t cap, size_t step)
{
	size_t n = 0, k;
	const char *p;

	while ((k = outbuf_peek(b, &p)) > 0) {
		if (k > step)
			k = step;
		assert_true(n + k < cap);
		memcpy(out + n, p, k);
		n += k;
		outbuf_consume(b, k);
	}
	out[n] = '\0';
	return n;
}

static void test_fits(void **state)
{
	struct outbuf b;
	char out[64];

	outbuf_init(&b, 16);
	assert_true(outbuf_empty(&b));
	assert_null(b.data);
	assert_int_equal(outbuf_put(&b, "hello ", 6), 0);
	assert_int_equal(outbuf_put(&b, "world", 5), 0);
	assert_false(outbuf_empty(&b));
	assert_int_equal(drain(&b, out, sizeof(out), 3), 11);
	assert_string_equal(out, "hello world");
	assert_true(outbuf_empty(&b));
	assert_null(b.data);	/* freed once empty */
	assert_int_equal(b.dropped_total, 0);
	outbuf_destroy(&b);
}

static void test_overflow_drops_oldest_with_marker(void **state)
{
	struct outbuf b;
	char out[128];

	outbuf_init(&b, 8);
	outbuf_put(&b, "abcdef", 6);
	outbuf_put(&b, "ghijk", 5);	/* 3 oldest go */
	assert_int_equal(b.len, 8);
	assert_int_equal(b.dropped_total, 3);
	drain(&b, out, sizeof(out), 100);
	assert_string_equal(out, "\r\n[pvd-consoled: 3 bytes dropped]\r\ndefghijk");
	assert_true(outbuf_empty(&b));
	outbuf_destroy(&b);
}

static void test_put_larger_than_cap(void **state)
{
	struct outbuf b;
	char out[128];

	outbuf_init(&b, 4);
	outbuf_put(&b, "xy", 2);
	outbuf_put(&b, "0123456789", 10);	/* keeps "6789" */
	assert_int_equal(b.dropped_total, 8);
	drain(&b, out, sizeof(out), 100);
	assert_string_equal(out, "\r\n[pvd-consoled: 8 bytes dropped]\r\n6789");
	outbuf_destroy(&b);
}

/* Drops while a marker is half written: the first marker completes, a
 * second one follows it, then the data. */
static void test_drop_during_marker(void **state)
{
	struct outbuf b;
	char out[256];
	const char *p;
	size_t k, n;

	outbuf_init(&b, 4);
	outbuf_put(&b, "abcdef", 6);			/* 2 dropped */
	k = outbuf_peek(&b, &p);
	memcpy(out, p, 5);
	outbuf_consume(&b, 5);				/* part of the marker */
	outbuf_put(&b, "ghi", 3);			/* 3 more dropped */
	n = 5 + drain(&b, out + 5, sizeof(out) - 5, 7);
	assert_true(k > 5);
	assert_int_equal(n, strlen(out));
	assert_string_equal(out, "\r\n[pvd-consoled: 2 bytes dropped]\r\n"
				 "\r\n[pvd-consoled: 3 bytes dropped]\r\nfghi");
	outbuf_destroy(&b);
}

/* Wrap-around: the circular storage hands out two pieces. */
static void test_wraps(void **state)
{
	struct outbuf b;
	char out[64];

	outbuf_init(&b, 8);
	outbuf_put(&b, "123456", 6);
	{
		const char *p;
		size_t k = outbuf_peek(&b, &p);

		assert_int_equal(k, 6);
		outbuf_consume(&b, 4);			/* "56" left at offset 4 */
	}
	outbuf_put(&b, "789abc", 6);			/* wraps */
	assert_int_equal(b.dropped_total, 0);
	drain(&b, out, sizeof(out), 100);
	assert_string_equal(out, "56789abc");
	outbuf_destroy(&b);
}

static void test_set_cap(void **state)
{
	struct outbuf b;
	char out[64];

	outbuf_init(&b, 16);
	outbuf_put(&b, "0123456789", 10);
	assert_int_equal(outbuf_set_cap(&b, 4), 0);
	assert_int_equal(b.dropped_total, 6);
	drain(&b, out, sizeof(out), 100);
	assert_string_equal(out, "\r\n[pvd-consoled: 6 bytes dropped]\r\n6789");
	assert_int_equal(outbuf_set_cap(&b, 0), 0);	/* 0 means 1 */
	assert_int_equal(b.cap, 1);
	outbuf_destroy(&b);
}

/* A long flood through a small buffer: memory stays at cap, the newest
 * bytes survive, and every byte is either delivered or counted. */
static void test_flood_bounded(void **state)
{
	struct outbuf b;
	char chunk[1000], out[4096];
	uint64_t put = 0;
	size_t n;

	outbuf_init(&b, 1024);
	for (int i = 0; i < 10000; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		outbuf_put(&b, chunk, sizeof(chunk));
		put += sizeof(chunk);
		assert_true(b.len <= 1024);
	}
	n = drain(&b, out, sizeof(out), 100);
	assert_int_equal(b.dropped_total + 1024, put);
	/* The last 1024 bytes: 24 of chunk 9998 and 1000 of chunk 9999. */
	assert_int_equal(out[n - 1], 'a' + 9999 % 26);
	assert_int_equal(out[n - 1001], 'a' + 9998 % 26);
	assert_non_null(strstr(out, "[pvd-consoled: 9998976 bytes dropped]"));
	outbuf_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_overflow_drops_oldest_with_marker),
		cmocka_unit_test(test_put_larger_than_cap),
		cmocka_unit_test(test_drop_during_marker),
		cmocka_unit_test(test_wraps),
		cmocka_unit_test(test_set_cap),
		cmocka_unit_test(test_flood_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
