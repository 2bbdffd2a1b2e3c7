/* A vif's tap: what Xen's vif-bridge hotplug script does, in process.
 * The device is made through /dev/net/tun (IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR | IFF_MULTI_QUEUE, one fd per queue, persistent so that a
 * killed daemon leaves it and its bridge port in place for the next one
 * to re-open by name), and set up through libnl-route-3 only: MTU, the
 * backend MAC fe:ff:ff:ff:ff:ff as Xen uses (a bridge takes its lowest
 * port MAC, never this one), up, enslaved to the bridge. */
#ifndef PVD_NETBACK_TAP_H
#define PVD_NETBACK_TAP_H

#include <net/if.h>
#include <stdbool.h>

#include "vif.h"

struct nl_sock;

struct nb_tap {
	char name[IFNAMSIZ];
	unsigned nq;
	int fd[NB_MAX_QUEUES];      /* O_NONBLOCK; -1 when closed */
	unsigned vnet_hdr_len;
	int ifindex;
};

struct nb_tap_cfg {
	const char *name;           /* vif<domid>.<devid> or vifname= */
	unsigned nqueues;           /* 1..NB_MAX_QUEUES */
	struct nb_features feat;    /* what the offloads are set from */
	unsigned mtu;
	const char *bridge;         /* NULL or "": no bridge */
	bool create_bridge;         /* a missing bridge is made (else -ENODEV) */
};

/* Opens (or re-opens, if it persists) the tap and sets it up.  0, or
 * -errno with nothing left behind that was not there before: -ENODEV for
 * a missing bridge, -EBUSY/-EINVAL for a name taken by another kind of
 * device.  msg gets one line for the error node. */
int nb_tap_create(struct nb_tap *t, const struct nb_tap_cfg *c,
		  char *msg, size_t msglen);
/* Closes the fds; the device stays (persistent).  Idempotent. */
void nb_tap_close(struct nb_tap *t);
/* Closes the fds and removes the device (persist off).  Idempotent. */
void nb_tap_destroy(struct nb_tap *t);
/* Removes a persistent tap by name (no fd of ours open): 0, -ENOENT if
 * there is none, or -errno. */
int nb_tap_remove_name(const char *name);
/* Whether the tap's link says carrier on (libnl); false on error. */
bool nb_tap_carrier(const char *name);

#endif
