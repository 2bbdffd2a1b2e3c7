/* The domain table (domain.h): one slot per domid, freed once nothing
 * refers to the domain. */
#include <errno.h>
#include <stdlib.h>

#include "domain.h"
#include "watch.h"

int domains_init(struct domains *ds)
{
	ds->d = calloc(65536, sizeof(*ds->d));
	ds->count = 0;
	return ds->d ? 0 : -ENOMEM;
}

void domains_destroy(struct domains *ds)
{
	/* Up to the last domain in use, not through every slot. */
	for (unsigned i = 0; ds->d && ds->count && i < 65536; i++) {
		if (ds->d[i]) {
			ds->count--;
			watch_list_free(ds->d[i]->saved);
		}
		free(ds->d[i]);
	}
	free(ds->d);
	ds->d = NULL;
	ds->count = 0;
}

struct domain *domain_get(struct domains *ds, unsigned domid, bool create)
{
	struct domain *d;

	if (domid > 0xffff)
		return NULL;
	d = ds->d[domid];
	if (d || !create)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->domid = domid;
	d->target = DOMID_NONE;
	ds->d[domid] = d;
	ds->count++;
	return d;
}

void domain_put(struct domains *ds, struct domain *d)
{
	if (!d || d->domid == 0 || d->introduced || d->nconns || d->nwatches ||
	    d->ntxns)
		return;
	ds->d[d->domid] = NULL;
	ds->count--;
	watch_list_free(d->saved);
	free(d);
}
