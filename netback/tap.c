/* Taps and bridges (see tap.h): Xen's tools/hotplug/Linux/vif-bridge
 * (setup_virtual_bridge_port, add_to_bridge) done with libnl-route-3.
 * The tun side follows Linux's drivers/net/tun.c: every queue of a
 * multi-queue tap is one TUNSETIFF on its own fd with the same flags;
 * TUNSETPERSIST keeps the device once the last fd closes; TUNSETOFFLOAD
 * bits are what the kernel may hand us (TSO only with CSUM). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>

#include "pvd/log.h"
#include "tap.h"

#define TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE)

static const uint8_t backend_mac[6] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff };

static int tun_attach(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = TAP_FLAGS;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static unsigned offload_bits(const struct nb_features *f)
{
	unsigned bits = 0;

	/* Without csum the guest cannot take a partial checksum; TSO
	 * frames always carry one. */
	if (f->csum) {
		bits |= TUN_F_CSUM;
		if (f->gso_tcpv4)
			bits |= TUN_F_TSO4;
		if (f->gso_tcpv6)
			bits |= TUN_F_TSO6;
	}
	return bits;
}

static int tun_setup_fd(int fd, const struct nb_features *f, int hdr)
{
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload_bits(f)) < 0)
		return -errno;
	return 0;
}

/* The fds, one per queue; the first makes the device if it is new. */
static int tun_open(struct nb_tap *t, const struct nb_tap_cfg *c, char *msg,
		    size_t msglen)
{
	int rc;

	for (unsigned i = 0; i < c->nqueues; i++) {
		rc = tun_attach(c->name);
		if (rc < 0) {
			snprintf(msg, msglen, "cannot open tap %s: %s", c->name,
				 strerror(-rc));
			return rc;
		}
		t->fd[i] = rc;
		t->nq = i + 1;
		rc = tun_setup_fd(t->fd[i], &c->feat, (int)t->vnet_hdr_len);
		if (rc < 0) {
			snprintf(msg, msglen, "cannot set offloads on %s: %s",
				 c->name, strerror(-rc));
			return rc;
		}
	}
	if (ioctl(t->fd[0], TUNSETPERSIST, 1L) < 0) {
		rc = -errno;
		snprintf(msg, msglen, "cannot make %s persistent: %s", c->name,
			 strerror(-rc));
		return rc;
	}
	return 0;
}

static int nl_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_OBJ_NOTFOUND: case NLE_NODEV: return -ENODEV;
	case NLE_PERM: return -EPERM;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_RANGE: return -ERANGE;
	case NLE_BUSY: return -EBUSY;
	default: return -EINVAL;
	}
}

static struct nl_sock *nl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (sk && nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		sk = NULL;
	}
	return sk;
}

/* The bridge's ifindex, made first if allowed. */
static int bridge_find(struct nl_sock *sk, const struct nb_tap_cfg *c,
		       char *msg, size_t msglen)
{
	struct rtnl_link *br = NULL;
	int rc = rtnl_link_get_kernel(sk, 0, c->bridge, &br);

	if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) {
		if (!c->create_bridge) {
			snprintf(msg, msglen, "bridge %s does not exist", c->bridge);
			return -ENODEV;
		}
		rc = rtnl_link_bridge_add(sk, c->bridge);
		if (rc >= 0)
			rc = rtnl_link_get_kernel(sk, 0, c->bridge, &br);
		if (rc >= 0) {
			struct rtnl_link *up = rtnl_link_alloc();

			if (!up)
				rc = -NLE_NOMEM;
			else {
				rtnl_link_set_flags(up, IFF_UP);
				rc = rtnl_link_change(sk, br, up, 0);
				rtnl_link_put(up);
			}
		}
	}
	if (rc >= 0 && !rtnl_link_is_bridge(br))
		rc = -NLE_OPNOTSUPP;
	if (rc < 0) {
		snprintf(msg, msglen, "bridge %s: %s", c->bridge, nl_geterror(rc));
		if (br)
			rtnl_link_put(br);
		return nl_errno(rc);
	}
	rc = rtnl_link_get_ifindex(br);
	rtnl_link_put(br);
	return rc;
}

/* MTU, MAC, up, and the bridge port (the master index; 0: none). */
static int link_setup(struct nl_sock *sk, struct nb_tap *t, unsigned mtu,
		      int master)
{
	struct rtnl_link *old = NULL, *chg = rtnl_link_alloc();
	struct nl_addr *addr = nl_addr_build(AF_LLC, backend_mac, 6);
	int rc = -NLE_NOMEM;

	if (!chg || !addr)
		goto fail;
	rc = rtnl_link_get_kernel(sk, 0, t->name, &old);
	if (rc < 0)
		goto fail;
	t->ifindex = rtnl_link_get_ifindex(old);
	rtnl_link_set_mtu(chg, mtu);
	rtnl_link_set_addr(chg, addr);
	rtnl_link_set_flags(chg, IFF_UP);
	if (master)
		rtnl_link_set_master(chg, master);
	rc = rtnl_link_change(sk, old, chg, 0);
fail:
	if (addr)
		nl_addr_put(addr);
	if (old)
		rtnl_link_put(old);
	if (chg)
		rtnl_link_put(chg);
	return rc;
}

static int tap_link(struct nb_tap *t, const struct nb_tap_cfg *c, char *msg,
		    size_t msglen)
{
	struct nl_sock *sk = nl_open();
	int master = 0, rc;

	if (!sk) {
		snprintf(msg, msglen, "cannot open a netlink socket");
		return -ENOMEM;
	}
	if (c->bridge && *c->bridge) {
		master = bridge_find(sk, c, msg, msglen);
		if (master < 0) {
			nl_socket_free(sk);
			return master;
		}
	}
	rc = link_setup(sk, t, c->mtu, master);
	nl_socket_free(sk);
	if (rc < 0) {
		snprintf(msg, msglen, "setting up %s (mtu %u%s%s): %s", t->name,
			 c->mtu, master ? ", bridge " : "", master ? c->bridge : "",
			 nl_geterror(rc));
		return nl_errno(rc);
	}
	return 0;
}

int nb_tap_create(struct nb_tap *t, const struct nb_tap_cfg *c,
		  char *msg, size_t msglen)
{
	int rc;

	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < NB_MAX_QUEUES; i++)
		t->fd[i] = -1;
	msg[0] = '\0';
	if (c->nqueues == 0 || c->nqueues > NB_MAX_QUEUES ||
	    strlen(c->name) >= sizeof(t->name)) {
		snprintf(msg, msglen, "bad tap name or queue count");
		return -EINVAL;
	}
	snprintf(t->name, sizeof(t->name), "%s", c->name);
	t->vnet_hdr_len = sizeof(struct virtio_net_hdr);
	rc = tun_open(t, c, msg, msglen);
	if (rc == 0)
		rc = tap_link(t, c, msg, msglen);
	if (rc < 0) {
		log_warn("%s", msg);
		nb_tap_destroy(t);
	}
	return rc;
}

void nb_tap_close(struct nb_tap *t)
{
	for (unsigned i = 0; i < t->nq; i++) {
		if (t->fd[i] >= 0)
			close(t->fd[i]);
		t->fd[i] = -1;
	}
	t->nq = 0;
}

void nb_tap_destroy(struct nb_tap *t)
{
	if (t->nq && t->fd[0] >= 0 && ioctl(t->fd[0], TUNSETPERSIST, 0L) < 0)
		log_warn("%s: persist off: %s", t->name, strerror(errno));
	nb_tap_close(t);
}

int nb_tap_remove_name(const char *name)
{
	int fd;

	if (if_nametoindex(name) == 0)
		return -ENOENT;
	fd = tun_attach(name);
	if (fd < 0)
		return fd;
	if (ioctl(fd, TUNSETPERSIST, 0L) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

bool nb_tap_carrier(const char *name)
{
	struct nl_sock *sk = nl_open();
	struct rtnl_link *l = NULL;
	bool on = false;

	if (sk && rtnl_link_get_kernel(sk, 0, name, &l) >= 0) {
		on = rtnl_link_get_carrier(l) != 0;
		rtnl_link_put(l);
	}
	if (sk)
		nl_socket_free(sk);
	return on;
}
