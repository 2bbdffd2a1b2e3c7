/* The request ids a queue has in flight, to refuse an id the guest
 * reuses before its answer (the guest matches answers by id).  Open
 * addressing with linear probing and backward-shift deletion: no
 * allocation after creation, O(1) at the ring's occupancy (the table is
 * at least twice the ring's size). */
#ifndef PVD_BLKBACK_IDSET_H
#define PVD_BLKBACK_IDSET_H

#include <stdbool.h>
#include <stdint.h>

struct idset {
	uint64_t *ids;
	uint8_t *used;
	unsigned mask, n;
};

/* For up to max ids at once. */
int idset_init(struct idset *s, unsigned max);
void idset_free(struct idset *s);
/* false if id is there already (or the set is full). */
bool idset_add(struct idset *s, uint64_t id);
void idset_del(struct idset *s, uint64_t id);

#endif
