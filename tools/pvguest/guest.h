/* One simulated guest domain: its memory, grant table and event channels
 * (the sim hypervisor, include/pvd/hv_sim.h), its xenstore connection over
 * the shared ring (xenbus_xs.h), the xenbus socket (xenbus_proxy.h), the
 * frontends (frontend.h), and its state directory
 * <rundir>/guests/dom<N>/ (pid, log, xenbus.sock).
 *
 * As Xen's domain builder does, creation allocates the xenstore and
 * console pages (granted to dom0 as GNTTAB_RESERVED_XENSTORE/_CONSOLE by
 * the sim) and an event channel for each, unbound for dom0; the toolstack
 * learns them from the ready line and introduces the domain to the store. */
#ifndef PVGUEST_GUEST_H
#define PVGUEST_GUEST_H

#include <stddef.h>
#include <sys/types.h>

#include "pvd/hv.h"

struct event_base;
struct guest;
struct xenbus;
struct blkfront_config;
struct netfront_config;

#define GUEST_MEMORY_MIN_MIB 1u
#define GUEST_MEMORY_MAX_MIB 4096u
#define GUEST_NAME_MAX 64u

struct guest_config {
	const char *rundir;	/* absolute; NULL: $PVD_RUNDIR or /run/pvd */
	domid_t domid;		/* 1 .. DOMID_FIRST_RESERVED-1 */
	const char *name;	/* for the log */
	unsigned memory_mib;
	/* vbd frontend options and listener (blkfront.h); NULL: defaults.
	 * Must outlive the guest. */
	const struct blkfront_config *blk;
	/* vif frontend options (netfront.h); NULL: no NICs.  Must outlive
	 * the guest. */
	const struct netfront_config *net;
};

/* Creates the domain, its ports, its state directory (a stale one from a
 * guest that died is cleared: we hold the domain's lock), the pid file and
 * the listening xenbus.sock.  -EEXIST if domain domid exists.  Logs why it
 * failed. */
int guest_create(struct guest **out, struct event_base *base,
		 const struct guest_config *cfg);
/* Starts the frontends and the first exchange on the ring: after any
 * change of user. */
int guest_boot(struct guest *g);
/* Stops everything, destroys the domain and removes the state directory
 * (as much of it as our user may).  NULL is a no-op. */
void guest_destroy(struct guest *g);

/* Hands the state directory and the files in it we keep writing (pid,
 * log) to uid/gid, so that the guest can remove them after it stopped
 * being root.  xenbus.sock stays root's. */
int guest_chown(struct guest *g, uid_t uid, gid_t gid);

/* "domid=N store_gfn=G store_port=P console_gfn=C console_port=Q pid=PID\n" */
int guest_ready_line(const struct guest *g, char *buf, size_t len);
/* <rundir>/guests/dom<N> */
const char *guest_dir(const struct guest *g);
struct xenbus *guest_xenbus(struct guest *g);
/* For the console frontend (consfront.h): the domain and its console port. */
struct hv_sim_domain *guest_domain(struct guest *g);
evtchn_port_t guest_console_port(const struct guest *g);

/* Frontends: what to call when a port of ours fires (fn NULL: nothing). */
typedef void guest_port_fn(void *arg, evtchn_port_t port);
int guest_port_handler_set(struct guest *g, evtchn_port_t port,
			   guest_port_fn *fn, void *arg);

#endif
