/* pvd-netback's parsers of the toolstack's vif nodes (netback/policy.c):
 * rate as libxl writes it, mac, ip lists, mtu, vifname; bad values. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../netback/policy.h"

static void test_rate(void **state)
{
	struct nb_rate r = { 7, 7 };

	/* xl's 10Mb/s@20ms: 1250000 bytes/s * 20 ms. */
	assert_int_equal(nb_policy_parse_rate("25000,20000", &r), 0);
	assert_int_equal(r.bytes, 25000);
	assert_int_equal(r.usec, 20000);
	assert_int_equal(nb_policy_parse_rate("0,50000", &r), 0);
	assert_int_equal(r.bytes, 0);
	r.bytes = r.usec = 7;
	static const char *const bad[] = {
		"", ",", "100", "100,", ",100", "100,0", "-1,100", "100,-1",
		"1 ,100", "100, 100", "100,100x", "0x10,100", "10Mb/s@20ms",
		"99999999999999999999,1", "1,99999999999", "1,2,3",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(nb_policy_parse_rate(bad[i], &r), -EINVAL);
		assert_int_equal(r.bytes, 7);   /* untouched */
	}
	assert_int_equal(nb_policy_parse_rate(NULL, &r), -EINVAL);
}

static void test_mac(void **state)
{
	uint8_t m[6] = { 0 };
	char s[18];

	assert_int_equal(nb_policy_parse_mac("00:16:3E:0a:bc:FF", m), 0);
	nb_policy_mac_str(m, s);
	assert_string_equal(s, "00:16:3e:0a:bc:ff");
	static const char *const bad[] = {
		"", "00:16:3e:0a:bc", "00:16:3e:0a:bc:ff:", "00-16-3e-0a-bc-ff",
		"0:16:3e:0a:bc:ff0", "00:16:3e:0a:bc:fg", "01:16:3e:0a:bc:ff",
		"ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", " 0:16:3e:0a:bc:ff",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(nb_policy_parse_mac(bad[i], m), -EINVAL);
	assert_int_equal(nb_policy_parse_mac(NULL, m), -EINVAL);
	assert_string_equal((nb_policy_mac_str(m, s), s), "00:16:3e:0a:bc:ff");
}

static void test_ips(void **state)
{
	struct nb_policy p;
	struct in_addr a;

	memset(&p, 0, sizeof(p));
	assert_int_equal(nb_policy_parse_ips(" 10.0.0.2  fe80::1 192.168.1.1 ", &p), 0);
	assert_true(p.check);
	assert_int_equal(p.nip4, 2);
	assert_int_equal(p.nip6, 1);
	inet_pton(AF_INET, "192.168.1.1", &a);
	assert_memory_equal(&p.ip4[1], &a, sizeof(a));
	assert_int_equal(nb_policy_parse_ips("", &p), 0);
	assert_false(p.check);
	assert_int_equal(nb_policy_parse_ips(NULL, &p), 0);
	assert_false(p.check);
	assert_int_equal(nb_policy_parse_ips("10.0.0.2", &p), 0);
	static const char *const bad[] = {
		"10.0.0", "10.0.0.256", "10.0.0.1/24", "010.0.0.1", "::g",
		"10.0.0.1,10.0.0.2", "host.example", "1.1.1.1 x",
		"11111111111111111111111111111111111111111111111111",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(nb_policy_parse_ips(bad[i], &p), -EINVAL);
		assert_int_equal(p.nip4, 1);    /* unchanged on error */
	}
	assert_int_equal(nb_policy_parse_ips("1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 "
					     "1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8", &p), 0);
	assert_int_equal(nb_policy_parse_ips("1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 "
					     "1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 1.1.1.9",
					     &p), -E2BIG);
	assert_int_equal(p.nip4, 8);
}

static void test_mtu_and_name(void **state)
{
	unsigned mtu = 0;

	assert_int_equal(nb_policy_parse_mtu("9000", true, &mtu), 0);
	assert_int_equal(mtu, 9000);
	assert_int_equal(nb_policy_parse_mtu("65517", true, &mtu), 0);
	assert_int_equal(nb_policy_parse_mtu("65518", true, &mtu), -ERANGE);
	assert_int_equal(nb_policy_parse_mtu("1501", false, &mtu), -ERANGE);
	assert_int_equal(nb_policy_parse_mtu("67", true, &mtu), -ERANGE);
	assert_int_equal(nb_policy_parse_mtu("9k", true, &mtu), -EINVAL);
	assert_int_equal(mtu, 65517);
	assert_true(nb_policy_ifname_ok("vif1.0"));
	assert_true(nb_policy_ifname_ok("xenbr0"));
	assert_true(nb_policy_ifname_ok("abcdefghijklmno"));
	assert_false(nb_policy_ifname_ok("abcdefghijklmnop"));
	assert_false(nb_policy_ifname_ok(""));
	assert_false(nb_policy_ifname_ok(NULL));
	assert_false(nb_policy_ifname_ok("."));
	assert_false(nb_policy_ifname_ok(".."));
	assert_false(nb_policy_ifname_ok("a/b"));
	assert_false(nb_policy_ifname_ok("a b"));
	assert_false(nb_policy_ifname_ok("eth0:1"));
	assert_false(nb_policy_ifname_ok("a\nb"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_ips),
		cmocka_unit_test(test_mtu_and_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
