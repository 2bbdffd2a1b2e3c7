/* Private to the simulated hypervisor (common/hv_sim*.c): its shared files
 * and its event channel endpoints. */
#ifndef PVD_HV_SIM_PRIV_H
#define PVD_HV_SIM_PRIV_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "pvd/hv.h"

#define SIM_NAME_MAX 32

/* ---- shared files (common/hv_simfile.c) ---- */

/* A sealed memfd of the creating process, published in the hv directory as
 * a symlink to /proc/<pid>/fd/<fd>.  Sealed against shrinking and growing,
 * so a peer that mapped it never takes SIGBUS; with future_write, peers
 * can only map it read-only. */
struct simfile {
	int fd;
	void *addr;
	size_t len;
	char path[PATH_MAX];
};

int simfile_dir(char *buf, size_t len, const char *rundir);
/* Creates, maps (writable) and seals; simfile_publish makes it visible. */
int simfile_create(struct simfile *f, const char *hvdir, const char *name,
		   size_t len, int future_write);
int simfile_publish(struct simfile *f);
/* Unpublishes (if still ours), unmaps and closes.  Idempotent. */
void simfile_destroy(struct simfile *f);
/* Opens a peer's published file and checks it is a sealed shmem file that
 * cannot shrink.  -ESRCH when it does not exist. */
int simfile_open(const char *hvdir, const char *name, int writable,
		 int *fd, size_t *size);
/* Takes <hvdir>/<name> with flock(LOCK_EX|LOCK_NB): -EEXIST if held. */
int simfile_lock(const char *hvdir, const char *name, int *fd);

/* ---- event channel endpoints (common/hv_simev.c) ---- */

/* Ports of an endpoint: its base | 1 .. SIMEV_NPORTS-1.  A guest's base is
 * 0; a backend handle's base is hid << SIMEV_HID_SHIFT, hid claimed in the
 * hv directory, so that all of a domain's handles have distinct ports. */
#define SIMEV_HID_SHIFT 12
#define SIMEV_NPORTS    (1u << SIMEV_HID_SHIFT)
#define SIMEV_MAX_HID   1023u

struct simev;

/* A guest's endpoint "dom<domid>" (guest != 0; its lock is already held by
 * the caller) or a backend handle's (published lazily on first use). */
int simev_create(struct simev **out, const char *hvdir, domid_t domid,
		 int guest);
void simev_destroy(struct simev *ev);
int simev_fd(struct simev *ev);
int simev_alloc_unbound(struct simev *ev, domid_t remote, evtchn_port_t *port);
int simev_bind_interdomain(struct simev *ev, domid_t remote,
			   evtchn_port_t remote_port, evtchn_port_t *local);
int simev_notify(struct simev *ev, evtchn_port_t port);
int simev_pending(struct simev *ev, evtchn_port_t *port);
int simev_unmask(struct simev *ev, evtchn_port_t port);
int simev_unbind(struct simev *ev, evtchn_port_t port);

/* ---- grant pinning shared by backends (common/hv_sim.c) ---- */

/* dom<N>.act: a header, then one struct simgnt_act per grant entry.  It is
 * Xen's active grant table; here it lives in memory the guest could also
 * write, which only lets a guest confuse the bookkeeping of its own grants
 * (a backend checks every value it reads from it). */
#define SIMGNT_MAGIC   0x50564447u /* "PVDG" */
#define SIMGNT_VERSION 1u

struct simgnt_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t npages;
	uint32_t nr_grants;
	uint32_t domid;
	uint32_t dead;    /* set when the domain is destroyed */
	uint32_t pid;
	uint32_t pad[9];
};

struct simgnt_act {
	uint32_t word;    /* SIMGNT_LOCK | rw pins << 15 | ro pins */
	uint32_t frame;   /* the frame captured at the first pin */
	uint32_t domid;   /* the mapping domain captured at the first pin */
	uint32_t pad;
};

#define SIMGNT_LOCK      0x80000000u
#define SIMGNT_PIN_MAX   0x7fffu
#define SIMGNT_RO(w)     ((w) & SIMGNT_PIN_MAX)
#define SIMGNT_RW(w)     (((w) >> 15) & SIMGNT_PIN_MAX)

#endif
