/* The exposition writers (common/metrics.c): escaping, histograms,
 * the --metrics address. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "pvd/metrics.h"

/* What was written, NUL-terminated; the buffer is drained. */
static char *text(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	assert_non_null(s);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

static void test_label_escaping(void **state)
{
	struct evbuffer *b = evbuffer_new();
	struct pvd_label l[] = { { "vdev", "a\\b\"c\nd" }, { "op", "read" } };
	char *s;

	pvd_metrics_counter(b, "pvd_x_total", l, 2, 18446744073709551615ull);
	s = text(b);
	assert_string_equal(s, "pvd_x_total{vdev=\"a\\\\b\\\"c\\nd\",op=\"read\"} "
			    "18446744073709551615\n");
	free(s);
	pvd_metrics_gauge(b, "pvd_g", NULL, 0, 0.5);
	s = text(b);
	assert_string_equal(s, "pvd_g 0.5\n");
	free(s);
	evbuffer_free(b);
}

static void test_help_escaping(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	/* HELP escapes \ and newline, not quotes. */
	pvd_metrics_head(b, "pvd_x", "gauge", "a \"q\" \\ b\nc");
	s = text(b);
	assert_string_equal(s, "# HELP pvd_x a \"q\" \\\\ b\\nc\n"
			    "# TYPE pvd_x gauge\n");
	free(s);
	evbuffer_free(b);
}

static void test_histogram_cumulative(void **state)
{
	struct evbuffer *b = evbuffer_new();
	struct pvd_label l[] = { { "domain", "3" } };
	const double bounds[] = { 1e-06, 2e-06, 4e-06 };
	const uint64_t counts[] = { 1, 0, 5, 2 };
	char *s;

	pvd_metrics_histogram(b, "pvd_h_seconds", l, 1, bounds, counts, 3, 0.25);
	s = text(b);
	assert_string_equal(s,
		"pvd_h_seconds_bucket{domain=\"3\",le=\"9.9999999999999995e-07\"} 1\n"
		"pvd_h_seconds_bucket{domain=\"3\",le=\"1.9999999999999999e-06\"} 1\n"
		"pvd_h_seconds_bucket{domain=\"3\",le=\"3.9999999999999998e-06\"} 6\n"
		"pvd_h_seconds_bucket{domain=\"3\",le=\"+Inf\"} 8\n"
		"pvd_h_seconds_sum{domain=\"3\"} 0.25\n"
		"pvd_h_seconds_count{domain=\"3\"} 8\n");
	free(s);
	/* Without labels, le is the only one. */
	pvd_metrics_histogram(b, "h", NULL, 0, bounds, counts, 0, 0);
	s = text(b);
	assert_string_equal(s, "h_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n");
	free(s);
	evbuffer_free(b);
}

static void test_render_build_info(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	pvd_metrics_render(b, "pvd-x", NULL, NULL);
	s = text(b);
	assert_non_null(strstr(s, "# TYPE pvd_build_info gauge\n"
			       "pvd_build_info{program=\"pvd-x\",version=\""));
	assert_non_null(strstr(s, "\"} 1\n"));
	free(s);
	evbuffer_free(b);
}

static void test_parse_addr(void **state)
{
	char host[64];
	unsigned port;
	const char *path;

	assert_int_equal(pvd_metrics_parse_addr("9100", host, sizeof(host),
						&port, &path), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9100);
	assert_null(path);
	assert_int_equal(pvd_metrics_parse_addr("0.0.0.0:80", host, sizeof(host),
						&port, &path), 0);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(port, 80);
	assert_int_equal(pvd_metrics_parse_addr("[::1]:9", host, sizeof(host),
						&port, &path), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(pvd_metrics_parse_addr("unix:/run/m.sock", host,
						sizeof(host), &port, &path), 0);
	assert_string_equal(path, "/run/m.sock");
	const char *bad[] = { "", "unix:", "0", "65536", "h:", "::1:80", "x:9z",
			      "-1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pvd_metrics_parse_addr(bad[i], host, sizeof(host),
							&port, &path), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_help_escaping),
		cmocka_unit_test(test_histogram_cumulative),
		cmocka_unit_test(test_render_build_info),
		cmocka_unit_test(test_parse_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
