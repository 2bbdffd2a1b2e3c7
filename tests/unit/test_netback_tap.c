/* pvd-netback's taps (netback/tap.c) against the real kernel: taps and
 * bridges made in a private network namespace (unshare(CLONE_NEWNET) at
 * start, so the host is untouched), checked through libnl: MTU, the
 * backend MAC, up, the bridge port, persistence across a closed fd (the
 * restart model), removal, a missing bridge leaving nothing behind, a
 * name taken by another kind of device.  Root and /dev/net/tun needed:
 * otherwise it skips (77). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>

#include "../../netback/tap.h"

static const uint8_t fe_mac[6] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff };

/* The kernel's view of a link; NULL when there is none. */
static struct rtnl_link *link_get(const char *name)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *l = NULL;

	assert_non_null(sk);
	assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
	if (rtnl_link_get_kernel(sk, 0, name, &l) < 0)
		l = NULL;
	nl_socket_free(sk);
	return l;
}

/* Whether the link exists (the reference dropped: no leak under ASan). */
static bool link_present(const char *name)
{
	struct rtnl_link *l = link_get(name);

	if (l)
		rtnl_link_put(l);
	return l != NULL;
}

static int ifindex(const char *name)
{
	struct rtnl_link *l = link_get(name);
	int i = l ? rtnl_link_get_ifindex(l) : 0;

	if (l)
		rtnl_link_put(l);
	return i;
}

static void bridge_add(const char *name)
{
	struct nl_sock *sk = nl_socket_alloc();

	assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
	assert_int_equal(rtnl_link_bridge_add(sk, name), 0);
	nl_socket_free(sk);
}

static struct nb_tap_cfg cfg(const char *name, unsigned nq, unsigned mtu,
			     const char *br)
{
	struct nb_tap_cfg c = {
		.name = name, .nqueues = nq, .mtu = mtu, .bridge = br,
		.feat = { .sg = true, .csum = true, .gso_tcpv4 = true,
			  .gso_tcpv6 = true },
	};
	return c;
}

/* The tap is set up as vif-bridge would: MTU, MAC, up, bridge port. */
static void check_link(const char *name, unsigned mtu, const char *br)
{
	struct rtnl_link *l = link_get(name);
	struct nl_addr *a;

	assert_non_null(l);
	assert_int_equal(rtnl_link_get_mtu(l), mtu);
	a = rtnl_link_get_addr(l);
	assert_non_null(a);
	assert_int_equal(nl_addr_get_len(a), 6);
	assert_memory_equal(nl_addr_get_binary_addr(a), fe_mac, 6);
	assert_true(rtnl_link_get_flags(l) & IFF_UP);
	assert_int_equal(rtnl_link_get_master(l), br ? ifindex(br) : 0);
	rtnl_link_put(l);
}

static void test_bridge_port(void **state)
{
	struct nb_tap_cfg c = cfg("vif5.0", 2, 9000, "nbtbr0");
	struct nb_tap t;
	char msg[200];
	int hdr = 0;

	bridge_add("nbtbr0");
	assert_int_equal(nb_tap_create(&t, &c, msg, sizeof(msg)), 0);
	assert_int_equal(t.nq, 2);
	assert_true(t.fd[0] >= 0 && t.fd[1] >= 0);
	assert_int_equal(t.fd[2], -1);
	assert_int_equal(ioctl(t.fd[1], TUNGETVNETHDRSZ, &hdr), 0);
	assert_int_equal(hdr, (int)t.vnet_hdr_len);
	assert_int_equal(t.ifindex, ifindex("vif5.0"));
	check_link("vif5.0", 9000, "nbtbr0");

	/* kill -9: the fds go, the tap and its port stay. */
	nb_tap_close(&t);
	nb_tap_close(&t);
	check_link("vif5.0", 9000, "nbtbr0");
	/* The next daemon re-opens it by name (another queue count). */
	c.nqueues = 1;
	assert_int_equal(nb_tap_create(&t, &c, msg, sizeof(msg)), 0);
	check_link("vif5.0", 9000, "nbtbr0");
	nb_tap_destroy(&t);
	nb_tap_destroy(&t);
	assert_false(link_present("vif5.0"));
	assert_true(link_present("nbtbr0"));
}

static void test_missing_bridge(void **state)
{
	struct nb_tap_cfg c = cfg("vif6.0", 1, 1500, "nosuchbr");
	struct nb_tap t;
	char msg[200];

	assert_int_equal(nb_tap_create(&t, &c, msg, sizeof(msg)), -ENODEV);
	assert_non_null(strstr(msg, "nosuchbr"));
	assert_false(link_present("vif6.0"));
	assert_false(link_present("nosuchbr"));
	/* Asked to, it makes the bridge, up. */
	c.create_bridge = true;
	assert_int_equal(nb_tap_create(&t, &c, msg, sizeof(msg)), 0);
	check_link("vif6.0", 1500, "nosuchbr");
	{
		struct rtnl_link *br = link_get("nosuchbr");

		assert_non_null(br);
		assert_true(rtnl_link_get_flags(br) & IFF_UP);
		rtnl_link_put(br);
	}
	nb_tap_destroy(&t);
	assert_false(link_present("vif6.0"));
}

static void test_no_bridge_and_names(void **state)
{
	struct nb_tap_cfg c = cfg("myguest", 1, 1500, NULL);
	struct nb_tap t;
	char msg[200];

	assert_int_equal(nb_tap_create(&t, &c, msg, sizeof(msg)), 0);
	check_link("myguest", 1500, NULL);
	nb_tap_close(&t);
	assert_int_equal(nb_tap_remove_name("myguest"), 0);
	assert_false(link_present("myguest"));
	assert_int_equal(nb_tap_remove_name("myguest"), -ENOENT);
	/* A name taken by a bridge: refused, the bridge untouched. */
	bridge_add("taken0");
	c.name = "taken0";
	assert_true(nb_tap_create(&t, &c, msg, sizeof(msg)) < 0);
	assert_true(link_present("taken0"));
	assert_true(nb_tap_remove_name("taken0") < 0);
	assert_true(link_present("taken0"));
	/* A bridge= that is not a bridge: refused, nothing left. */
	c = cfg("vif7.0", 1, 1500, "lo");
	assert_true(nb_tap_create(&t, &c, msg, sizeof(msg)) < 0);
	assert_false(link_present("vif7.0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge_port),
		cmocka_unit_test(test_missing_bridge),
		cmocka_unit_test(test_no_bridge_and_names),
	};

	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) < 0) {
		printf("SKIP: needs root and /dev/net/tun\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: cannot make a network namespace: %s\n", strerror(errno));
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
