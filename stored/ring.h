/* The per-domain shared-ring transport: an introduced domain's xenstore
 * page (struct xenstore_domain_interface), mapped through the hypervisor
 * layer with grant GNTTAB_RESERVED_XENSTORE, and its event channel. */
#ifndef STORED_RING_H
#define STORED_RING_H

struct stored;
struct domain;

/* Opens the hypervisor layer ("auto", "sim", "xen" or "none"). */
int ring_start(struct stored *sd, const char *impl);
void ring_stop(struct stored *sd);
/* Maps the domain's page and binds its port; a ring connection acting as
 * the domain then serves it.  -ENODEV without a hypervisor layer. */
int ring_attach(struct stored *sd, struct domain *d);
/* Serves dom0's own kernel on the page and port xenfs (mounted at xenfs,
 * normally /proc/xen) offers, with the watches the journal kept for it.
 * Xen only.  0 or -errno (logged). */
int ring_attach_dom0(struct stored *sd, const char *xenfs);
/* Re-attaches every introduced domain after a restart; those that are
 * gone are released. */
void ring_reattach_all(struct stored *sd);

#endif
