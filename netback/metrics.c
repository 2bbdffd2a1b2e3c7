/* pvd-netback's Prometheus families: per vif (domain, devid), the sum of
 * its queues' counters (vif.h's nb_qstats) by direction as xen-netback
 * names them: tx is guest to host, rx host to guest. */
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "pvd/metrics.h"
#include "metrics.h"
#include "nic.h"
#include "xenbus.h"

struct nic {
	char domain[8], devid[12];
	bool carrier;
	struct nb_qstats st;	/* summed over the queues */
};

struct nics {
	struct nic *n;
	size_t len, cap;
};

static void sum_queues(const struct nb_nic *vif, struct nb_qstats *sum)
{
	unsigned nq = vif ? nb_nic_nqueues(vif) : 0;

	for (unsigned q = 0; q < nq; q++) {
		struct nb_qstats s;

		nb_nic_qstats(vif, q, &s);
		sum->tx_packets += s.tx_packets;
		sum->tx_bytes += s.tx_bytes;
		sum->tx_drops += s.tx_drops;
		sum->tx_errors += s.tx_errors;
		sum->rx_packets += s.rx_packets;
		sum->rx_bytes += s.rx_bytes;
		sum->rx_drops += s.rx_drops;
		sum->rx_errors += s.rx_errors;
	}
}

static void collect(void *arg, unsigned domid, unsigned devid,
		    const struct nb_nic *vif)
{
	struct nics *ns = arg;
	struct nic *n;

	if (ns->len == ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 16;
		struct nic *nn = realloc(ns->n, cap * sizeof(*nn));

		if (!nn)
			return;	/* a scrape short of vifs, not a failure */
		ns->n = nn;
		ns->cap = cap;
	}
	n = &ns->n[ns->len++];
	*n = (struct nic){ .carrier = vif && nb_nic_carrier(vif) };
	snprintf(n->domain, sizeof(n->domain), "%u", domid);
	snprintf(n->devid, sizeof(n->devid), "%u", devid);
	sum_queues(vif, &n->st);
}

/* A family of tx/rx counters: which picks the pair from a vif's sum. */
static void put_dir(struct evbuffer *out, const struct nics *ns,
		    const char *name, const char *help,
		    void (*which)(const struct nb_qstats *, uint64_t v[2]))
{
	pvd_metrics_head(out, name, "counter", help);
	for (size_t i = 0; i < ns->len; i++) {
		uint64_t v[2];

		which(&ns->n[i].st, v);
		for (unsigned d = 0; d < 2; d++) {
			struct pvd_label l[] = { { "domain", ns->n[i].domain },
						 { "devid", ns->n[i].devid },
						 { "direction", d ? "rx" : "tx" } };

			pvd_metrics_counter(out, name, l, 3, v[d]);
		}
	}
}

static void packets(const struct nb_qstats *s, uint64_t v[2])
{
	v[0] = s->tx_packets;
	v[1] = s->rx_packets;
}

static void bytes(const struct nb_qstats *s, uint64_t v[2])
{
	v[0] = s->tx_bytes;
	v[1] = s->rx_bytes;
}

static void drops(const struct nb_qstats *s, uint64_t v[2])
{
	v[0] = s->tx_drops;
	v[1] = s->rx_drops;
}

static void errors(const struct nb_qstats *s, uint64_t v[2])
{
	v[0] = s->tx_errors;
	v[1] = s->rx_errors;
}

static void families(struct evbuffer *out, void *arg)
{
	struct nics ns = { 0 };

	nb_xenbus_each(arg, collect, &ns);
	put_dir(out, &ns, "pvd_vif_packets_total",
		"Packets: tx from the guest, rx to it.", packets);
	put_dir(out, &ns, "pvd_vif_bytes_total",
		"Bytes: tx from the guest, rx to it.", bytes);
	put_dir(out, &ns, "pvd_vif_drops_total",
		"Packets dropped: tx from the guest, rx to it.", drops);
	put_dir(out, &ns, "pvd_vif_errors_total",
		"Malformed or failed packets: tx from the guest, rx to it.", errors);
	pvd_metrics_head(out, "pvd_vif_carrier", "gauge",
			 "1 while the vif's carrier is up.");
	for (size_t i = 0; i < ns.len; i++) {
		struct pvd_label l[] = { { "domain", ns.n[i].domain },
					 { "devid", ns.n[i].devid } };

		pvd_metrics_gauge(out, "pvd_vif_carrier", l, 2, ns.n[i].carrier);
	}
	free(ns.n);
}

int nb_metrics_start(struct pvd_metrics **out, struct event_base *base,
		     const char *addr, struct nb_xenbus *xb)
{
	return pvd_metrics_start(out, base, addr, "pvd-netback", families, xb);
}
