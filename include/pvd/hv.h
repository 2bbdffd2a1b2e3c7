/* Hypervisor layer: grant tables and event channels for pvd's backends.
 *
 * One narrow interface, shaped after libxengnttab and libxenevtchn, with two
 * implementations chosen at run time:
 *   xen  libxengnttab/libxenevtchn on a real Xen dom0 (/dev/xen/gntdev);
 *   sim  simulated guests on any Linux machine (see include/pvd/hv_sim.h and
 *        docs/hypervisor-layer.md).
 * Everything above this layer is the same code for both.
 *
 * A struct hv is used by one thread at a time; a daemon with worker threads
 * opens one handle per thread.  Every function returns 0 or -errno unless
 * documented otherwise.
 */
#ifndef PVD_HV_H
#define PVD_HV_H

#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>           /* domid_t, DOMID_FIRST_RESERVED */
#include <xen/grant_table.h>   /* grant_ref_t, grant_entry_v1_t, GTF_*, GNTST_*,
                                  GNTTAB_RESERVED_CONSOLE/_XENSTORE */
#include <xen/event_channel.h> /* evtchn_port_t */

/* Grants are always for 4 KiB pages (XC_PAGE_SIZE in xenctrl.h). */
#define HV_PAGE_SHIFT 12
#define HV_PAGE_SIZE  (1u << HV_PAGE_SHIFT)

/* Most grant references one hv_grant_map call may map. */
#define HV_MAP_MAX 1024

struct hv;

struct hv_config {
	/* "sim", "xen", or NULL: $PVD_HV if set, else "xen" when
	 * /dev/xen/gntdev exists, else "sim". */
	const char *impl;
	/* sim: the run directory ($PVD_RUNDIR or /run/pvd when NULL). */
	const char *rundir;
	/* sim: the domain this process acts as (normally 0, dom0; a driver
	 * domain's id otherwise).  xen: ignored, the kernel knows. */
	domid_t domid;
	/* HV_F_* */
	unsigned flags;
};

/* sim: give every grant mapping its own mmap instead of a pointer into the
 * domain's memory mapped once.  Slower; makes a backend's use of a page
 * after hv_grant_unmap fault, as it would on Xen.  Also set by
 * PVD_HV_SIM_MAP=mmap. */
#define HV_F_SIM_MAP_PER_GRANT 0x1u

/* Opens a handle (cfg may be NULL for the defaults).  *out is NULL on
 * failure; -ENODEV means the chosen implementation has no hypervisor. */
int hv_open(struct hv **out, const struct hv_config *cfg);
/* Unmaps what is still mapped, unbinds every port.  NULL is a no-op. */
void hv_close(struct hv *hv);
/* "sim" or "xen". */
const char *hv_impl_name(const struct hv *hv);

/* Whether domid exists and is not dying: 1, 0, or -errno.  For daemons
 * that must notice a guest's death (xenstored's @releaseDomain).  sim: the
 * domain's creator holds <rundir>/hv/dom<N>.lock while the domain lives;
 * xen: xc_domain_getinfolist (libxenctrl, /dev/xen/privcmd). */
int hv_domain_alive(struct hv *hv, domid_t domid);

/* What xenstored must know of a domain (xenstored_domain.c's
 * domain_cleanup): alive, shut down (or crashed: @releaseDomain is fired
 * once, the domain stays), or gone (dying or missing: it is released). */
enum hv_domain_state { HV_DOM_GONE, HV_DOM_RUNNING, HV_DOM_SHUTDOWN };
/* One of those, or -errno.  xen: XEN_DOMINF_shutdown / _dying from
 * xc_domain_getinfolist; sim (no shutdown): hv_domain_alive's answer. */
int hv_domain_state(struct hv *hv, domid_t domid);

/* Binds a virtual IRQ (VIRQ_* from <xen/xen.h>) to a port of this
 * handle: xenstored binds VIRQ_DOM_EXC to hear of domain deaths.  Only one
 * process may bind it (Xen: -EEXIST).  -EOPNOTSUPP in the sim, which
 * has no VIRQs (its daemons poll hv_domain_alive). */
int hv_evtchn_bind_virq(struct hv *hv, unsigned virq, evtchn_port_t *port);

/* ---- grants ---- */

/* Maps count grant references of domid into one contiguous region of
 * count pages, writable or read-only.  All or nothing: on failure nothing
 * stays mapped.  Errors follow Xen's GNTST_* codes (hv_gntst_to_errno):
 * -EINVAL for a reference out of range, -EPERM for an entry that does not
 * permit access, is granted to another domain, or is read-only when
 * writable is set, -ESRCH for an unknown domain. */
int hv_grant_map(struct hv *hv, domid_t domid, unsigned count,
		 const grant_ref_t *refs, int writable, void **addr);
/* Undoes one hv_grant_map (same address and count). */
int hv_grant_unmap(struct hv *hv, void *addr, unsigned count);

enum hv_copy_dir {
	HV_COPY_FROM_GRANT = 1, /* granted page -> local */
	HV_COPY_TO_GRANT = 2,   /* local -> granted page (needs a writable grant) */
};

/* One segment of a grant copy, in the spirit of
 * xengnttab_grant_copy_segment_t: one side is a granted page, the other
 * local memory.  offset + len must not exceed HV_PAGE_SIZE. */
struct hv_copy_seg {
	grant_ref_t ref;
	domid_t domid;
	uint16_t offset;  /* within the granted page */
	uint16_t len;
	uint16_t dir;     /* enum hv_copy_dir */
	void *local;
	int status;       /* out: 0 or -errno */
};

/* Copies a batch.  Every segment gets its own status; a bad segment does
 * not stop the others.  Returns 0 if all succeeded, else the first
 * failing segment's status. */
int hv_grant_copy(struct hv *hv, struct hv_copy_seg *segs, unsigned n);

/* Xen's GNTST_* status -> 0 or -errno. */
int hv_gntst_to_errno(int gntst);

/* ---- event channels ---- */

/* The handle's pollable fd: readable when hv_evtchn_pending has a port. */
int hv_evtchn_fd(struct hv *hv);
/* Connects to remote_port of domid, which that domain allocated unbound
 * for us.  -EINVAL if the port does not exist or is not unbound for us,
 * -ESRCH if the domain does not exist. */
int hv_evtchn_bind_interdomain(struct hv *hv, domid_t domid,
			       evtchn_port_t remote_port, evtchn_port_t *local);
/* Allocates a local port that remote_domid may bind to. */
int hv_evtchn_alloc_unbound(struct hv *hv, domid_t remote_domid,
			    evtchn_port_t *port);
/* Notifying a port that is allocated but not (or no longer) connected does
 * nothing, as on Xen.  -ENOTCONN for a port this handle does not own. */
int hv_evtchn_notify(struct hv *hv, evtchn_port_t port);
/* Which port fired, like xenevtchn_pending; -EAGAIN when none.  The port
 * stays masked until hv_evtchn_unmask.  Call it in a loop when the fd is
 * readable, until -EAGAIN; -EAGAIN may come while a newer event is
 * arriving, which then leaves the fd readable. */
int hv_evtchn_pending(struct hv *hv, evtchn_port_t *port);
int hv_evtchn_unmask(struct hv *hv, evtchn_port_t port);
/* The ports that fired, up to max, taken at once (one read of Xen's
 * evtchn device): how many, or -EAGAIN when none.  Fewer than max may
 * come while more are arriving, which then leave the fd readable: an
 * event loop calls it once each time the fd is readable. */
int hv_evtchn_pending_many(struct hv *hv, evtchn_port_t *ports, unsigned max);
/* Unmasks n ports at once (one write on Xen): 0, or the first error. */
int hv_evtchn_unmask_many(struct hv *hv, const evtchn_port_t *ports,
			  unsigned n);
/* An event loop's readable callback: the ports that fired (up to max),
 * unmasked before the caller looks at their rings, so that an event
 * while it works fires again; how many (0 when none).  Ports beyond max
 * keep the fd readable for the next callback. */
#define HV_EVTCHN_BATCH 64
int hv_evtchn_take(struct hv *hv, evtchn_port_t *ports, unsigned max);
int hv_evtchn_unbind(struct hv *hv, evtchn_port_t port);
/* Waits up to timeout_ms (-1: forever) for the fd to become readable:
 * 0, -ETIMEDOUT, or -errno.  For code without an event loop. */
int hv_evtchn_wait(struct hv *hv, int timeout_ms);

#endif
