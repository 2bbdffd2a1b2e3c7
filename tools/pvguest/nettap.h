/* The guest's side of its NICs: its own network namespace and the taps
 * (eth<id>) in it that the network frontend (netfront.h) serves.
 *
 * The namespace is made once at start-up (main.c), after root was
 * dropped: a new user namespace owning a new network namespace, so that
 * the unprivileged guest holds CAP_NET_ADMIN there (and only there) and
 * can create taps on hot-plug.  Programs run in it from dom0 with
 * `nsenter -t <pvguest pid> -U -n --preserve-credentials CMD` (-n alone
 * when pvguest runs as root).  Links are set up with ioctls on a socket
 * of the namespace: no `ip` command runs. */
#ifndef PVGUEST_NETTAP_H
#define PVGUEST_NETTAP_H

#include <stdbool.h>
#include <stdint.h>

/* Moves this (single-threaded) process into a network namespace of its
 * own, with lo up: as root a new network namespace; otherwise a new user
 * namespace (our uid and gid mapped to themselves) owning a new network
 * namespace.  0 or -errno (logged). */
int nettap_netns_enter(void);

/* Creates tap name with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR (|IFF_MULTI_QUEUE
 * when nq > 1): fds[0..nq) its queues, non-blocking.  -errno. */
int nettap_open(const char *name, unsigned nq, int *fds);
/* Closes the queues: the tap goes with its last one. */
void nettap_close(int *fds, unsigned nq);
/* TUNSETOFFLOAD on every queue (TUN_F_* bits). */
int nettap_offload(const int *fds, unsigned nq, unsigned flags);
/* MAC address, MTU, and up or down. */
int nettap_link_set(const char *name, const uint8_t mac[6], unsigned mtu,
		    bool up);

#endif
