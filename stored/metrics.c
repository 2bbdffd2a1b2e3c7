/* pvd-stored's Prometheus families, from what struct stored counts
 * (the same figures as STATUS=).  Requests by type and quota refusals
 * are not counted by the store yet, and sd->rejected_conns is never
 * incremented, so none of them is exported. */
#include <event2/buffer.h>

#include "pvd/metrics.h"
#include "conn.h"
#include "metrics.h"
#include "stored.h"

static void gauge(struct evbuffer *out, const char *name, const char *help,
		  double v)
{
	pvd_metrics_head(out, name, "gauge", help);
	pvd_metrics_gauge(out, name, NULL, 0, v);
}

static void families(struct evbuffer *out, void *arg)
{
	const struct stored *sd = arg;
	unsigned txns = 0;

	for (const struct conn *c = sd->conns; c; c = c->next)
		txns += c->ntxns;
	gauge(out, "pvd_store_connections", "Open connections (sockets and rings).",
	      sd->nconns);
	gauge(out, "pvd_store_rings", "Domains connected through their ring.",
	      sd->nrings);
	gauge(out, "pvd_store_domains", "Domains introduced.", sd->domains.count);
	gauge(out, "pvd_store_watches", "Watches, every connection's.",
	      sd->nwatches);
	gauge(out, "pvd_store_transactions", "Transactions open.", txns);
}

int stored_metrics_start(struct pvd_metrics **out, struct event_base *base,
			 const char *addr, struct stored *sd)
{
	return pvd_metrics_start(out, base, addr, "pvd-stored", families, sd);
}
