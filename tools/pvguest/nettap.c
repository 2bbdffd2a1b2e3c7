/* The guest's network namespace and its taps; see nettap.h.
 *
 * Why a helper child makes the namespaces: after dropping root pvguest is
 * not dumpable, so /proc/self/uid_map is root's and it cannot map its own
 * uid in a user namespace it unshares.  The child closes every descriptor
 * (the domain's memory among them) before it makes itself dumpable,
 * unshares, maps its uid and gid, and waits; pvguest then joins the
 * child's namespaces with setns (it owns the new user namespace, so it
 * may) and kills the child.  As root a plain unshare(CLONE_NEWNET) does. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "nettap.h"
#include "pvd/log.h"

static int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -EIO;
}

static int link_flags(int s, const char *name, bool up)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

static int lo_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	if (s < 0)
		return -errno;
	rc = link_flags(s, "lo", true);
	close(s);
	return rc;
}

/* The child: its own namespaces, mapped, then wait to be killed. */
static void child_run(int wfd)
{
	char map[64];
	int rc = 0;
	uid_t uid = getuid();
	gid_t gid = getgid();

	for (int fd = 3; fd < 1024; fd++)
		if (fd != wfd)
			close(fd);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 1);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
		rc = -errno;
	if (!rc)
		rc = write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (!rc)
		rc = write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	if (!rc)
		rc = write_file("/proc/self/gid_map", map);
	if (write(wfd, &rc, sizeof(rc)) != sizeof(rc))
		_exit(1);
	for (;;)
		pause();
}

static int join(pid_t pid)
{
	static const char *const ns[] = { "user", "net" };
	char path[64];
	int rc = 0;

	for (unsigned i = 0; i < 2 && !rc; i++) {
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (setns(fd, 0) < 0)
			rc = -errno;
		close(fd);
	}
	return rc;
}

static int netns_unprivileged(void)
{
	int p[2], rc = -EIO;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto fail;
	}
	if (pid == 0)
		child_run(p[1]);
	close(p[1]);
	p[1] = -1;
	if (read(p[0], &rc, sizeof(rc)) != sizeof(rc))
		rc = -EIO;
	if (rc == 0)
		rc = join(pid);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
fail:
	close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return rc;
}

int nettap_netns_enter(void)
{
	int rc;

	if (geteuid() == 0)
		rc = unshare(CLONE_NEWNET) < 0 ? -errno : 0;
	else
		rc = netns_unprivileged();
	if (rc == 0)
		rc = lo_up();
	if (rc < 0)
		log_err("%s: cannot make the guest's network namespace: %s",
			__func__, strerror(-rc));
	return rc;
}

int nettap_open(const char *name, unsigned nq, int *fds)
{
	struct ifreq ifr = { 0 };
	int hdrsz = (int)sizeof(struct virtio_net_hdr);
	unsigned i;
	int rc;

	for (i = 0; i < nq; i++) {
		fds[i] = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fds[i] < 0) {
			rc = -errno;
			goto fail;
		}
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
				(nq > 1 ? IFF_MULTI_QUEUE : 0);
		if (ioctl(fds[i], TUNSETIFF, &ifr) < 0 ||
		    ioctl(fds[i], TUNSETVNETHDRSZ, &hdrsz) < 0) {
			rc = -errno;
			close(fds[i]);
			goto fail;
		}
	}
	return 0;
fail:
	log_warn("%s: tap %s queue %u: %s", __func__, name, i, strerror(-rc));
	nettap_close(fds, i);
	return rc;
}

void nettap_close(int *fds, unsigned nq)
{
	for (unsigned i = 0; i < nq; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int nettap_offload(const int *fds, unsigned nq, unsigned flags)
{
	for (unsigned i = 0; i < nq; i++)
		if (ioctl(fds[i], TUNSETOFFLOAD, (unsigned long)flags) < 0)
			return -errno;
	return 0;
}

int nettap_link_set(const char *name, const uint8_t mac[6], unsigned mtu,
		    bool up)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (s < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
		rc = -errno;
	ifr.ifr_mtu = (int)mtu;
	if (!rc && ioctl(s, SIOCSIFMTU, &ifr) < 0)
		rc = -errno;
	if (!rc)
		rc = link_flags(s, name, up);
	close(s);
	if (rc < 0)
		log_warn("%s: %s: %s", __func__, name, strerror(-rc));
	return rc;
}
