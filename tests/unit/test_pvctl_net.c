/* pvctl's network commands and the wait for a device's backend
 * (tools/pvctl/network.c, devwait.c, xlcfg.c's vif parsing, through
 * network.h, devwait.h and xlcfg.h, linked from libpvctl.a): xl's vif
 * words, rate= as libxl stores it, ip= lists, DEVID or MAC; the verdict on
 * a backend's state, error node and hotplug-status; the wait itself
 * against a fake store (xs_read, xs_watch and xs_unwatch are link-time
 * seams, test_pvctl_net.wrap). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../tools/pvctl/devwait.h"
#include "../../tools/pvctl/network.h"
#include "../../tools/pvctl/pvctl.h"

/* ---------------------------------------------------------- fake store */

#define FAKE_MAX 16
static struct { const char *path, *val; } fake[FAKE_MAX];
static unsigned nfake;

static void fake_set(const char *path, const char *val)
{
	assert_true(nfake < FAKE_MAX);
	fake[nfake].path = path;
	fake[nfake++].val = val;
}

void *__wrap_xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
		     unsigned *len);
void *__wrap_xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
		     unsigned *len)
{
	for (unsigned i = 0; i < nfake; i++) {
		if (strcmp(fake[i].path, path) == 0) {
			*len = (unsigned)strlen(fake[i].val);
			return strdup(fake[i].val);
		}
	}
	errno = ENOENT;
	return NULL;
}

bool __wrap_xs_watch(struct xs_handle *h, const char *path, const char *token);
bool __wrap_xs_watch(struct xs_handle *h, const char *path, const char *token)
{
	errno = EACCES;         /* no watches: devwait looks every 100 ms */
	return false;
}

bool __wrap_xs_unwatch(struct xs_handle *h, const char *path, const char *token);
bool __wrap_xs_unwatch(struct xs_handle *h, const char *path, const char *token)
{
	return true;
}

static int reset(void **state)
{
	nfake = 0;
	unsetenv(DEVWAIT_ENV);
	return 0;
}

#define BE "/local/domain/0/backend/vif/3/0"

/* ------------------------------------------------------------- parsing */

static void test_rate(void **state)
{
	uint64_t b = 0;
	uint32_t u = 0;

	/* 10 Mbit/s = 1250000 B/s; over 20 ms: 25000 bytes. */
	assert_int_equal(xlcfg_parse_rate("10Mb/s@20ms", 11, &b, &u), 0);
	assert_int_equal(b, 25000);
	assert_int_equal(u, 20000);
	/* No interval: xl's 50 ms. */
	assert_int_equal(xlcfg_parse_rate("1MB/s", 5, &b, &u), 0);
	assert_int_equal(b, 50000);
	assert_int_equal(u, 50000);
	assert_int_equal(xlcfg_parse_rate("100Kb/s@1s", 10, &b, &u), 0);
	assert_int_equal(b, 12500);
	assert_int_equal(u, 1000000);
	assert_int_equal(xlcfg_parse_rate("8000b/s@500us", 13, &b, &u), -ERANGE); /* 0.5 B */
	assert_int_equal(xlcfg_parse_rate("1GB/s@2", 7, &b, &u), 0);
	assert_int_equal(b, 2000000000ull);
	assert_int_equal(u, 2000000);
	assert_int_equal(xlcfg_parse_rate("10GB/s@1s", 9, &b, &u), -ERANGE);
	assert_int_equal(xlcfg_parse_rate("10Mb/s@5000s", 12, &b, &u), -ERANGE);
	assert_int_equal(xlcfg_parse_rate("10Mb/s@", 7, &b, &u), -EINVAL);
	assert_int_equal(xlcfg_parse_rate("10Mbit/s", 8, &b, &u), -EINVAL);
	assert_int_equal(xlcfg_parse_rate("10Tb/s", 6, &b, &u), -EINVAL);
	assert_int_equal(xlcfg_parse_rate("0Mb/s", 5, &b, &u), -EINVAL);
	assert_int_equal(xlcfg_parse_rate("-1Mb/s", 6, &b, &u), -EINVAL);
	assert_int_equal(xlcfg_parse_rate("10Mb/s@20ms@1s", 14, &b, &u), -EINVAL);
	assert_int_equal(xlcfg_parse_rate("", 0, &b, &u), -EINVAL);
	assert_int_equal(xlcfg_parse_rate("99999999999Mb/s", 15, &b, &u), -EINVAL);
}

static void test_ip_list(void **state)
{
	assert_true(xlcfg_ip_list_valid("10.0.0.1", 8));
	assert_true(xlcfg_ip_list_valid("10.0.0.1 fe80::1  192.168.1.2", 29));
	assert_false(xlcfg_ip_list_valid("", 0));
	assert_false(xlcfg_ip_list_valid("   ", 3));
	assert_false(xlcfg_ip_list_valid("10.0.0.256", 10));
	assert_false(xlcfg_ip_list_valid("10.0.0.1,10.0.0.2", 17));
	assert_false(xlcfg_ip_list_valid("10.0.0.1/24", 11));
	assert_false(xlcfg_ip_list_valid("host.example", 12));
}

static void test_vif_spec(void **state)
{
	char *w1[] = { "bridge=br0", "ip=10.0.0.1", "rate=10Mb/s@20ms", "ip=fe80::1",
		       "mac=00:16:3e:01:02:03" };
	char *bad[] = { "bridge=br0", "br1" };
	char spec[256], err[XLCFG_ERR_LEN], mac[18];
	struct xlcfg_vif v;

	assert_int_equal(network_spec(5, w1, spec, sizeof(spec)), 0);
	assert_string_equal(spec,
			    "bridge=br0,rate=10Mb/s@20ms,mac=00:16:3e:01:02:03,ip=10.0.0.1 fe80::1");
	assert_int_equal(xlcfg_parse_vif(spec, 0, &v, err, sizeof(err)), 0);
	assert_string_equal(v.bridge, "br0");
	assert_string_equal(v.ip, "10.0.0.1 fe80::1");
	assert_int_equal(v.rate_bytes, 25000);
	assert_int_equal(v.rate_usec, 20000);
	xlcfg_format_mac(v.mac, mac, sizeof(mac));
	assert_string_equal(mac, "00:16:3e:01:02:03");
	assert_int_equal(network_spec(2, bad, spec, sizeof(spec)), -EINVAL);
	assert_int_equal(network_spec(5, w1, spec, 20), -E2BIG);
	/* The parser's refusals. */
	assert_int_equal(xlcfg_parse_vif("mac=00:16:3e:zz:00:01", 0, &v, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "bad mac"));
	assert_int_equal(xlcfg_parse_vif("mac=01:16:3e:00:00:01", 0, &v, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(xlcfg_parse_vif("rate=fast", 0, &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad rate"));
	assert_int_equal(xlcfg_parse_vif("ip=10.1", 0, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(xlcfg_parse_vif("rate=1Mb/s,rate=2Mb/s", 0, &v, err, sizeof(err)),
			 -EINVAL);
	/* No rate= given: none written. */
	assert_int_equal(xlcfg_parse_vif("bridge=br0", 0, &v, err, sizeof(err)), 0);
	assert_int_equal(v.rate_usec, 0);
	assert_true(v.mac_generated);
	assert_int_equal(v.mac[0], 0x00);
	assert_int_equal(v.mac[2], 0x3e);
}

static void test_which(void **state)
{
	uint8_t mac[6];
	unsigned devid = 9;

	assert_int_equal(network_which("0", &devid, mac), 1);
	assert_int_equal(devid, 0);
	assert_int_equal(network_which("12", &devid, mac), 1);
	assert_int_equal(devid, 12);
	assert_int_equal(network_which("00:16:3E:0a:0b:0c", &devid, mac), 2);
	assert_int_equal(mac[3], 0x0a);
	assert_int_equal(mac[5], 0x0c);
	assert_int_equal(network_which("012", &devid, mac), -EINVAL);
	assert_int_equal(network_which("00:16:3e:0a:0b", &devid, mac), -EINVAL);
	assert_int_equal(network_which("mac=00:16:3e:0", &devid, mac), -EINVAL);
	assert_int_equal(network_which("", &devid, mac), -EINVAL);
}

/* --------------------------------------------------------- the verdict */

static void test_judge(void **state)
{
	struct devwait_obs o = { .be_exists = true, .state = 1 };
	char why[256];

	assert_int_equal(devwait_judge(&o, why, sizeof(why)), DEVWAIT_PENDING);
	o.state = -1;
	assert_int_equal(devwait_judge(&o, why, sizeof(why)), DEVWAIT_PENDING);
	o.state = -2;
	assert_int_equal(devwait_judge(&o, why, sizeof(why)), DEVWAIT_PENDING);
	for (long s = 2; s <= 4; s++) {
		o.state = s;
		assert_int_equal(devwait_judge(&o, why, sizeof(why)), DEVWAIT_READY);
	}
	o.state = 5;
	assert_int_equal(devwait_judge(&o, why, sizeof(why)), DEVWAIT_FAILED);
	assert_string_equal(why, "backend went to Closing without saying why");
	o.state = 6;
	assert_int_equal(devwait_judge(&o, why, sizeof(why)), DEVWAIT_FAILED);
	/* An error node wins over any state, InitWait included. */
	o.state = 2;
	o.error = "19 bridge pvdbr9 does not exist";
	assert_int_equal(devwait_judge(&o, why, sizeof(why)), DEVWAIT_FAILED);
	assert_string_equal(why, "backend error: bridge pvdbr9 does not exist");
	o.error = "no errno \033[2J here";
	assert_int_equal(devwait_judge(&o, why, sizeof(why)), DEVWAIT_FAILED);
	assert_string_equal(why, "backend error: no errno ?[2J here");
	o.error = NULL;
	o.hotplug = "error";
	assert_int_equal(devwait_judge(&o, why, sizeof(why)), DEVWAIT_FAILED);
	o.hotplug = "connected";
	assert_int_equal(devwait_judge(&o, why, sizeof(why)), DEVWAIT_READY);
	o.be_exists = false;
	assert_int_equal(devwait_judge(&o, why, sizeof(why)), DEVWAIT_FAILED);
	assert_string_equal(why, "the backend directory vanished");
}

static void test_timeout_env(void **state)
{
	unsigned s = 0;

	assert_int_equal(devwait_timeout_s(&s), 0);
	assert_int_equal(s, DEVWAIT_TIMEOUT_S);
	setenv(DEVWAIT_ENV, "0", 1);
	assert_int_equal(devwait_timeout_s(&s), 0);
	assert_int_equal(s, 0);
	setenv(DEVWAIT_ENV, "3600", 1);
	assert_int_equal(devwait_timeout_s(&s), 0);
	assert_int_equal(s, 3600);
	setenv(DEVWAIT_ENV, "3601", 1);
	assert_int_equal(devwait_timeout_s(&s), -EINVAL);
	setenv(DEVWAIT_ENV, "-1", 1);
	assert_int_equal(devwait_timeout_s(&s), -EINVAL);
}

/* ------------------------------------------------- against a fake store */

static void test_check_store(void **state)
{
	struct pvctl p = { .sigfd = -1 };
	struct devwait_dev d = { "vif", 3, 0, 0 };
	char why[256];

	assert_int_equal(devwait_check(&p, &d, why, sizeof(why)), DEVWAIT_FAILED);
	fake_set(BE, "");
	fake_set(BE "/state", "1");
	fake_set(BE "/hotplug-status", "");
	assert_int_equal(devwait_check(&p, &d, why, sizeof(why)), DEVWAIT_PENDING);
	/* Where xenbus_dev_error writes. */
	fake_set("/local/domain/0/error/backend/vif/3/0/error", "19 no bridge");
	assert_int_equal(devwait_check(&p, &d, why, sizeof(why)), DEVWAIT_FAILED);
	assert_string_equal(why, "backend error: no bridge");
	nfake = 0;
	fake_set(BE, "");
	fake_set(BE "/state", "2");
	assert_int_equal(devwait_check(&p, &d, why, sizeof(why)), DEVWAIT_READY);
	fake_set(BE "/error", "22 bad mac");
	assert_int_equal(devwait_check(&p, &d, why, sizeof(why)), DEVWAIT_FAILED);
	assert_string_equal(why, "backend error: bad mac");
}

static void test_wait(void **state)
{
	struct pvctl p = { .sigfd = -1 };
	struct devwait_dev d[2] = { { "vbd", 3, 51712, 0 }, { "vif", 3, 0, 0 } };

	fake_set("/local/domain/0/backend/vbd/3/51712", "");
	fake_set("/local/domain/0/backend/vbd/3/51712/state", "4");
	fake_set(BE, "");
	fake_set(BE "/state", "1");
	/* 0 s: no wait at all, whatever the store says. */
	assert_int_equal(devwait_backends(&p, d, 2, 0), 0);
	assert_int_equal(devwait_backends(&p, d, 1, 1), 0);
	assert_int_equal(devwait_backends(&p, d, 2, 1), -ETIMEDOUT);
	fake_set(BE "/hotplug-status", "error");
	assert_int_equal(devwait_backends(&p, d, 2, 1), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_rate, reset),
		cmocka_unit_test_setup(test_ip_list, reset),
		cmocka_unit_test_setup(test_vif_spec, reset),
		cmocka_unit_test_setup(test_which, reset),
		cmocka_unit_test_setup(test_judge, reset),
		cmocka_unit_test_setup(test_timeout_env, reset),
		cmocka_unit_test_setup(test_check_store, reset),
		cmocka_unit_test_setup(test_wait, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
