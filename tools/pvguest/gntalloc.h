/* Grant references of the guest's grant table, handed out to frontends
 * (the role of Linux's gnttab_alloc_grant_references).  The table itself
 * is the sim hypervisor's (hv_sim_grant); this only says which entries
 * belong to whom, so that two devices never use one entry.  Entries below
 * GNTTAB_NR_RESERVED_ENTRIES (8) are the toolstack's (console, xenstore)
 * and never handed out. */
#ifndef PVGUEST_GNTALLOC_H
#define PVGUEST_GNTALLOC_H

#include "pvd/hv.h"

struct gntalloc;

int gntalloc_create(struct gntalloc **out, unsigned nr_entries);
void gntalloc_destroy(struct gntalloc *ga);
/* -ENOSPC when every entry is taken. */
int gntalloc_get(struct gntalloc *ga, grant_ref_t *ref);
void gntalloc_put(struct gntalloc *ga, grant_ref_t ref);
unsigned gntalloc_used(const struct gntalloc *ga);

#endif
