/* The one number parser (include/pvd/num.h): every edge strtoul lets
 * through must be refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pvd/num.h"

static int dec(const char *s, uint64_t max, uint64_t *v)
{
	return pvd_parse_uint(s, max, v);
}

static void test_plain_decimal(void **state)
{
	uint64_t v = 7;

	assert_int_equal(dec("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(dec("10", 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(dec("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	/* Leading zeros are digits, as xenstored reads them. */
	assert_int_equal(dec("007", 10, &v), 0);
	assert_int_equal(v, 7);
}

static void test_refused_forms(void **state)
{
	static const char *const bad[] = {
		"", "+1", "-1", " 1", "1 ", "\t1", "1\n", "1x", "0x10", "1.0",
		"1,2", "--1", "+", "-", "1e3", "١",
	};
	uint64_t v = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dec(bad[i], UINT64_MAX, &v), -EINVAL);
		assert_int_equal(v, 42); /* untouched on error */
	}
}

static void test_overflow(void **state)
{
	uint64_t v = 42;

	assert_int_equal(dec("11", 10, &v), -ERANGE);
	assert_int_equal(dec("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(dec("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
	/* A malformed tail after an overflow is still malformed. */
	assert_int_equal(dec("99999999999999999999999x", UINT64_MAX, &v),
			 -EINVAL);
	assert_int_equal(v, 42);
}

static void test_bounded_length(void **state)
{
	uint64_t v = 0;

	/* Only len bytes are read: "12:rest" parses as 12 when len is 2. */
	assert_int_equal(pvd_parse_uint_n("12:rest", 2, 10, 100, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(pvd_parse_uint_n("12:rest", 3, 10, 100, &v), -EINVAL);
	assert_int_equal(pvd_parse_uint_n("12", 0, 10, 100, &v), -EINVAL);
}

static void test_bases(void **state)
{
	uint64_t v = 0;

	assert_int_equal(pvd_parse_uint_n("ff", 2, 16, 255, &v), 0);
	assert_int_equal(v, 255);
	assert_int_equal(pvd_parse_uint_n("FF", 2, 16, 254, &v), -ERANGE);
	assert_int_equal(pvd_parse_uint_n("0xff", 4, 16, 255, &v), -EINVAL);
	assert_int_equal(pvd_parse_uint_n("fg", 2, 16, 255, &v), -EINVAL);
	/* xl's reading: 0x hex, 0 octal, else decimal. */
	assert_int_equal(pvd_parse_uint_n("0x1A", 4, PVD_BASE_XL, 100, &v), 0);
	assert_int_equal(v, 26);
	assert_int_equal(pvd_parse_uint_n("017", 3, PVD_BASE_XL, 100, &v), 0);
	assert_int_equal(v, 15);
	assert_int_equal(pvd_parse_uint_n("08", 2, PVD_BASE_XL, 100, &v),
			 -EINVAL);
	assert_int_equal(pvd_parse_uint_n("0x", 2, PVD_BASE_XL, 100, &v),
			 -EINVAL);
	assert_int_equal(pvd_parse_uint_n("0", 1, PVD_BASE_XL, 100, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pvd_parse_uint_n("1", 1, 7, 100, &v), -EINVAL);
}

static void test_range(void **state)
{
	uint64_t v = 0;

	assert_int_equal(pvd_parse_range("5", 5, 9, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(pvd_parse_range("4", 5, 9, &v), -ERANGE);
	assert_int_equal(pvd_parse_range("10", 5, 9, &v), -ERANGE);
	assert_int_equal(pvd_parse_range("+6", 5, 9, &v), -EINVAL);
}

static void test_size(void **state)
{
	uint64_t v = 0;

	assert_int_equal(pvd_parse_size("64K", 0, 1ull << 40, &v), 0);
	assert_int_equal(v, 64 << 10);
	assert_int_equal(pvd_parse_size("2m", 0, 1ull << 40, &v), 0);
	assert_int_equal(v, 2 << 20);
	assert_int_equal(pvd_parse_size("1G", 0, 1ull << 40, &v), 0);
	assert_int_equal(v, 1 << 30);
	assert_int_equal(pvd_parse_size("100", 0, 1ull << 40, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(pvd_parse_size("K", 0, 1ull << 40, &v), -EINVAL);
	assert_int_equal(pvd_parse_size("1KB", 0, 1ull << 40, &v), -EINVAL);
	assert_int_equal(pvd_parse_size("1T", 0, 1ull << 40, &v), 0);
	assert_true(v == 1ull << 40);
	assert_int_equal(pvd_parse_size("2T", 0, 1ull << 40, &v), -ERANGE);
	assert_int_equal(pvd_parse_size("1P", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(pvd_parse_size(" 1K", 0, 1ull << 40, &v), -EINVAL);
	assert_int_equal(pvd_parse_size("2K", 0, 1024, &v), -ERANGE);
	assert_int_equal(pvd_parse_size("1K", 2048, 1 << 20, &v), -ERANGE);
	/* v << shift must not wrap past the limit. */
	assert_int_equal(pvd_parse_size("17179869184G", 0, UINT64_MAX, &v),
			 -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_decimal),
		cmocka_unit_test(test_refused_forms),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_bounded_length),
		cmocka_unit_test(test_bases),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
