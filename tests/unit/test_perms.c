/* Permission strings and checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../stored/perms.h"

static void parse_ok(const char *buf, size_t len, struct perms *p)
{
	assert_int_equal(perms_parse(buf, len, 16, p), 0);
}

static void test_parse_format(void **state)
{
	static const char in[] = "r5\0b0\0w7\0n9";
	struct perms p;
	char out[64];

	parse_ok(in, sizeof(in), &p);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.p[0].id, 5);
	assert_int_equal(p.p[0].perms, XS_PERM_READ);
	assert_int_equal(p.p[1].perms, XS_PERM_READ | XS_PERM_WRITE);
	assert_int_equal(perms_format(&p, out, sizeof(out)), (int)sizeof(in));
	assert_memory_equal(out, in, sizeof(in));
	perms_free(&p);
}

static void test_parse_rejects(void **state)
{
	static const struct { const char *s; size_t len; } bad[] = {
		{ "x5", 3 }, { "r", 2 }, { "r-1", 4 }, { "r70000", 7 },
		{ "r5x", 4 }, { "r5", 2 /* no NUL */ }, { "", 0 }, { "r 5", 4 },
		{ "r0x5", 5 },
	};
	struct perms p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(perms_parse(bad[i].s, bad[i].len, 16, &p), -EINVAL);
	assert_int_equal(perms_parse("r1\0r2\0r3", 9, 2, &p), -E2BIG);
}

/* The domid is decimal digits only, as libxenstore writes it ("r5"):
 * what strtoul would have skipped or stopped at is refused. */
static void test_parse_strict_domid(void **state)
{
	static const char *const bad[] = {
		"r+5", "r 5", "r\t5", "r5 ", "r5\n", "b5x", "w-0",
		"n18446744073709551621", "r4294967301", "r65536", "r0x10",
	};
	struct perms p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(perms_parse(bad[i], strlen(bad[i]) + 1, 16, &p),
				 -EINVAL);
	parse_ok("r65535", 7, &p);
	assert_int_equal(p.p[0].id, 65535);
	perms_free(&p);
	parse_ok("b007", 5, &p);
	assert_int_equal(p.p[0].id, 7);
	perms_free(&p);
}

static void test_check(void **state)
{
	static const char in[] = "n5\0r7\0b8";
	struct perms p;
	struct who dom0 = { 0, DOMID_NONE, true };
	struct who owner = { 5, DOMID_NONE, false };
	struct who reader = { 7, DOMID_NONE, false };
	struct who both = { 8, DOMID_NONE, false };
	struct who other = { 9, DOMID_NONE, false };
	struct who stub = { 9, 5, false };	/* targets dom5 */

	parse_ok(in, sizeof(in), &p);
	assert_int_equal(perms_check(&p, &dom0), XS_PERM_READ | XS_PERM_WRITE);
	assert_int_equal(perms_check(&p, &owner), XS_PERM_READ | XS_PERM_WRITE);
	assert_int_equal(perms_check(&p, &reader), XS_PERM_READ);
	assert_int_equal(perms_check(&p, &both), XS_PERM_READ | XS_PERM_WRITE);
	assert_int_equal(perms_check(&p, &other), XS_PERM_NONE);
	assert_int_equal(perms_check(&p, &stub), XS_PERM_READ | XS_PERM_WRITE);
	perms_free(&p);
}

static void test_default_entry(void **state)
{
	static const char in[] = "r5";
	struct perms p;
	struct who other = { 9, DOMID_NONE, false };

	parse_ok(in, sizeof(in), &p);
	/* Domains not listed get the first entry's access. */
	assert_int_equal(perms_check(&p, &other), XS_PERM_READ);
	perms_free(&p);
}

static void test_revoke(void **state)
{
	static const char in[] = "b5\0r5\0r7";
	struct perms p;

	parse_ok(in, sizeof(in), &p);
	assert_true(perms_revoke(&p, 5));
	assert_int_equal(p.n, 2);
	assert_int_equal(p.p[0].id, 0);
	assert_int_equal(p.p[1].id, 7);
	assert_false(perms_revoke(&p, 5));
	perms_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_strict_domid),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_default_entry),
		cmocka_unit_test(test_revoke),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
