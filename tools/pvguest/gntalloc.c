/* Grant reference allocator; see gntalloc.h.  A bitmap and a rotating
 * hint: references are not reused at once, which makes a backend's use
 * of a stale reference fail instead of landing on another request. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "gntalloc.h"
#include "pvd/log.h"

#define RESERVED 8u	/* GNTTAB_NR_RESERVED_ENTRIES */

struct gntalloc {
	unsigned n, used, hint;
	uint64_t bits[];
};

int gntalloc_create(struct gntalloc **out, unsigned nr_entries)
{
	struct gntalloc *ga;

	*out = NULL;
	if (nr_entries <= RESERVED)
		return -EINVAL;
	ga = calloc(1, sizeof(*ga) + (nr_entries + 63) / 64 * sizeof(uint64_t));
	if (!ga)
		return -ENOMEM;
	ga->n = nr_entries;
	ga->hint = RESERVED;
	for (unsigned r = 0; r < RESERVED; r++)
		ga->bits[r / 64] |= 1ull << (r % 64);
	*out = ga;
	return 0;
}

void gntalloc_destroy(struct gntalloc *ga)
{
	free(ga);
}

int gntalloc_get(struct gntalloc *ga, grant_ref_t *ref)
{
	for (unsigned i = 0; i < ga->n; i++) {
		unsigned r = ga->hint + i;

		if (r >= ga->n)
			r -= ga->n - RESERVED;
		if (r >= ga->n)
			continue;
		if (!(ga->bits[r / 64] & (1ull << (r % 64)))) {
			ga->bits[r / 64] |= 1ull << (r % 64);
			ga->used++;
			ga->hint = r + 1 < ga->n ? r + 1 : RESERVED;
			*ref = r;
			return 0;
		}
	}
	return -ENOSPC;
}

void gntalloc_put(struct gntalloc *ga, grant_ref_t ref)
{
	if (ref < RESERVED || ref >= ga->n ||
	    !(ga->bits[ref / 64] & (1ull << (ref % 64)))) {
		log_warn("grant reference %u is not allocated", (unsigned)ref);
		return;
	}
	ga->bits[ref / 64] &= ~(1ull << (ref % 64));
	ga->used--;
}

unsigned gntalloc_used(const struct gntalloc *ga)
{
	return ga->used;
}
