/* RBD targets in QEMU's syntax (include/pvd/rbd_target.h): the parts, the
 * escapes, the options, and everything refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pvd/rbd_target.h"

static struct pvd_rbd_target t;
static char err[160];

static int parse(const char *s)
{
	err[0] = '\0';
	return pvd_rbd_parse(s, &t, err, sizeof(err));
}

static void test_parts(void **state)
{
	assert_int_equal(parse("rbd:pool/img"), 0);
	assert_string_equal(t.pool, "pool");
	assert_string_equal(t.image, "img");
	assert_null(t.snap);
	assert_null(t.nspace);
	assert_null(t.id);
	assert_null(t.conf);
	assert_int_equal(t.nopts, 0);

	assert_int_equal(parse("rbd:p/ns/img@snap:id=guest:conf=/etc/ceph/c.conf"), 0);
	assert_string_equal(t.pool, "p");
	assert_string_equal(t.nspace, "ns");
	assert_string_equal(t.image, "img");
	assert_string_equal(t.snap, "snap");
	assert_string_equal(t.id, "guest");
	assert_string_equal(t.conf, "/etc/ceph/c.conf");
}

static void test_escapes_and_options(void **state)
{
	/* QEMU's escapes: a ':' in a path, an '@' in a name. */
	assert_int_equal(parse("rbd:p/a\\@b:conf=/x\\:y.conf:rados_osd_op_timeout=10:mon_host=1.2.3.4\\:6789"), 0);
	assert_string_equal(t.image, "a@b");
	assert_null(t.snap);
	assert_string_equal(t.conf, "/x:y.conf");
	assert_int_equal(t.nopts, 2);
	assert_string_equal(t.opt[0].key, "rados_osd_op_timeout");
	assert_string_equal(t.opt[0].val, "10");
	assert_string_equal(t.opt[1].key, "mon_host");
	assert_string_equal(t.opt[1].val, "1.2.3.4:6789");
	assert_true(pvd_rbd_is_target("rbd:x"));
	assert_false(pvd_rbd_is_target("/dev/rbd0"));
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"rbd:", "rbd:pool", "rbd:/img", "rbd:pool/", "rbd:pool/img@",
		"rbd:a/b/c/d", "rbd:p//i", "rbd:p/i:", "rbd:p/i:id", "rbd:p/i:id=",
		"rbd:p/i:=x", "rbd:p/i:Bad-Key=1", "rbd:p/i:id=a:id=b",
		"rbd:p/i:conf=a:conf=b", "rbd:p/i\\", "rbd:p/i\n", "nbd:p/i",
		"rbd:p/i:a=1:b=1:c=1:d=1:e=1:f=1:g=1:h=1:i=1:j=1:k=1:l=1:m=1:n=1:o=1:p=1:q=1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i]) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
	}
	/* A secret does not go into the store. */
	assert_int_equal(parse("rbd:p/i:key=AQBsecret=="), -EINVAL);
	assert_non_null(strstr(err, "keyring"));
}

static void test_length(void **state)
{
	char s[PVD_RBD_TARGET_MAX + 16];

	memset(s, 'a', sizeof(s));
	memcpy(s, "rbd:p/", 6);
	s[4 + PVD_RBD_TARGET_MAX] = '\0';
	assert_int_equal(parse(s), 0);
	s[4 + PVD_RBD_TARGET_MAX] = 'a';
	s[5 + PVD_RBD_TARGET_MAX] = '\0';
	assert_int_equal(parse(s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_escapes_and_options),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
