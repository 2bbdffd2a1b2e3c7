/* The guest side of the simulated hypervisor: what a domU kernel does with
 * Xen, for pvguest (the simulated domU) and for tests.
 *
 * A simulated domain is memory, a grant table and event channels in shared
 * memory under $PVD_RUNDIR/hv/, owned by the process that created it:
 *   dom<N>.mem   the domain's pages (npages * 4 KiB)
 *   dom<N>.gnt   its grant table: grant_entry_v1_t[HV_SIM_NR_GRANTS]
 *   dom<N>.act   the grant pin counts backends keep (Xen's active entries)
 *   dom<N>.evt   its event channel port table (read-only for others)
 *   dom<N>.sock  where backends hand it the pipes of a bound port
 *   dom<N>.lock  flock()ed while the domain lives
 * The .mem/.gnt/.act/.evt names are symlinks to sealed memfds of the owning
 * process (/proc/<pid>/fd/<n>), so no one can shrink them under a backend.
 * Backends reach all of this only through struct hv (include/pvd/hv.h).
 *
 * A domain is used by one thread at a time.  Functions return 0 or -errno.
 */
#ifndef PVD_HV_SIM_H
#define PVD_HV_SIM_H

#include <stddef.h>

#include "pvd/hv.h"

/* 32 grant frames of v1 entries, Xen's default gnttab_max_frames. */
#define HV_SIM_NR_GRANTS (32u * HV_PAGE_SIZE / sizeof(grant_entry_v1_t))
/* Largest simulated domain: 4 GiB. */
#define HV_SIM_MAX_PAGES (1u << 20)

struct hv_sim_domain;

/* Creates domain domid (1 .. DOMID_FIRST_RESERVED-1) with npages pages
 * (at least 2) under <rundir>/hv (rundir NULL: $PVD_RUNDIR or /run/pvd).
 * As Xen's toolstack does, it allocates the console and xenstore pages
 * and grants them to dom0, writable, as GNTTAB_RESERVED_CONSOLE and
 * GNTTAB_RESERVED_XENSTORE.  -EEXIST if the domain already exists. */
int hv_sim_domain_create(const char *rundir, domid_t domid, size_t npages,
			 struct hv_sim_domain **out);
/* Destroys the domain: unbinds its ports and removes its files.  Backends
 * that still map its pages keep them until they unmap.  NULL is a no-op. */
void hv_sim_domain_destroy(struct hv_sim_domain *dom);

/* For the toolstack: removes the files a dead domain left under
 * <rundir>/hv (its creator was killed, or could not remove them after
 * dropping privileges).  0, or -EBUSY while the domain lives. */
int hv_sim_domain_cleanup(const char *rundir, domid_t domid);

domid_t hv_sim_domain_id(const struct hv_sim_domain *dom);
size_t hv_sim_domain_npages(const struct hv_sim_domain *dom);
/* Page numbers (guest frame numbers) of the console and xenstore rings. */
unsigned long hv_sim_console_page(const struct hv_sim_domain *dom);
unsigned long hv_sim_xenstore_page(const struct hv_sim_domain *dom);

/* ---- memory ---- */

/* Address of page (gfn) in this process; NULL if out of range. */
void *hv_sim_page(struct hv_sim_domain *dom, unsigned long page);
/* Allocates a free page (zeroed); -ENOMEM when none is left. */
int hv_sim_page_alloc(struct hv_sim_domain *dom, unsigned long *page);
int hv_sim_page_free(struct hv_sim_domain *dom, unsigned long page);

/* ---- grants ---- */

/* Grants page to to_domid through entry ref, as gnttab_grant_foreign_access
 * does: frame and domid first, then the flags.  -EBUSY if the entry is
 * still in use (end access first). */
int hv_sim_grant(struct hv_sim_domain *dom, grant_ref_t ref,
		 unsigned long page, domid_t to_domid, int readonly);
/* Ends access like gnttab_end_foreign_access_ref: a cmpxchg that fails with
 * -EBUSY while a backend maps or copies the page (GTF_reading/writing). */
int hv_sim_end_access(struct hv_sim_domain *dom, grant_ref_t ref);
/* The shared entry itself, for tests that play a hostile guest. */
grant_entry_v1_t *hv_sim_grant_entry(struct hv_sim_domain *dom,
				     grant_ref_t ref);

/* ---- event channels (same semantics as the hv_evtchn_* calls) ---- */

int hv_sim_evtchn_fd(struct hv_sim_domain *dom);
int hv_sim_evtchn_alloc_unbound(struct hv_sim_domain *dom,
				domid_t remote_domid, evtchn_port_t *port);
int hv_sim_evtchn_bind_interdomain(struct hv_sim_domain *dom,
				   domid_t remote_domid,
				   evtchn_port_t remote_port,
				   evtchn_port_t *local);
int hv_sim_evtchn_notify(struct hv_sim_domain *dom, evtchn_port_t port);
int hv_sim_evtchn_pending(struct hv_sim_domain *dom, evtchn_port_t *port);
int hv_sim_evtchn_unmask(struct hv_sim_domain *dom, evtchn_port_t port);
int hv_sim_evtchn_unbind(struct hv_sim_domain *dom, evtchn_port_t port);
int hv_sim_evtchn_wait(struct hv_sim_domain *dom, int timeout_ms);

#endif
