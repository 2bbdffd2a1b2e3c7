/* pvd-stored's Prometheus families, and the same counters as the JSON
 * answer to XS_CONTROL "stats" (stored_stats_json), from what struct
 * stored counts
 * (the same figures as STATUS=), requests by XS_* type (core.c) and
 * refusals by quota (quota.h; named as the fields of struct quota, as
 * `xenstore-control quota` names them), and connections refused by a
 * limit (sd->rejected_conns). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "pvd/metrics.h"
#include "conn.h"
#include "core.h"
#include "metrics.h"
#include "stored.h"

static void gauge(struct evbuffer *out, const char *name, const char *help,
		  double v)
{
	pvd_metrics_head(out, name, "gauge", help);
	pvd_metrics_gauge(out, name, NULL, 0, v);
}

static const char *const quota_names[QK_COUNT] = {
	[QK_NODES] = "nodes", [QK_VALUE_SIZE] = "value_size",
	[QK_WATCHES] = "watches", [QK_TRANSACTIONS] = "transactions",
	[QK_TRANS_NODES] = "trans_nodes", [QK_PERMS] = "perms",
	[QK_MAX_CONNS] = "max_conns", [QK_EVENT_QUEUE] = "event_queue",
	[QK_DOMAIN_CONNS] = "domain_conns",
	[QK_DOMAIN_EVENTS] = "domain_events",
	[QK_DOMAIN_OUTPUT] = "domain_output",
	[QK_SOCKET_CONNS] = "socket_conns",
};

/* Every type served and every quota, zeros included, so that a series
 * exists before its first increment (rate() needs it). */
static void counters(struct evbuffer *out, const struct stored *sd)
{
	struct pvd_label l;

	pvd_metrics_head(out, "pvd_store_requests_total", "counter",
			 "Requests received, by XS_* type.");
	l.name = "type";
	for (unsigned t = 0; t < XS_TYPE_COUNT; t++) {
		l.value = core_type_name(t);
		if (l.value)
			pvd_metrics_counter(out, "pvd_store_requests_total",
					    &l, 1, sd->requests[t]);
	}
	pvd_metrics_head(out, "pvd_store_quota_refusals_total", "counter",
			 "Requests, connections and watch events a quota refused.");
	l.name = "quota";
	for (unsigned k = 0; k < QK_COUNT; k++) {
		l.value = quota_names[k];
		pvd_metrics_counter(out, "pvd_store_quota_refusals_total", &l,
				    1, sd->quota_refusals[k]);
	}
	pvd_metrics_head(out, "pvd_store_rejected_connections_total", "counter",
			 "Connections refused by a limit (sockets at accept, rings at INTRODUCE).");
	pvd_metrics_counter(out, "pvd_store_rejected_connections_total", NULL, 0,
			    sd->rejected_conns);
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
	counters(out, sd);
}

int stored_metrics_start(struct pvd_metrics **out, struct event_base *base,
			 const char *addr, struct stored *sd)
{
	return pvd_metrics_start(out, base, addr, "pvd-stored", families, sd);
}

/* ---- XS_CONTROL "stats" ------------------------------------------------ */

/* Counters past a signed 64-bit integer saturate (json_int_t). */
static json_t *counter(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Requests by type and refusals by quota, zeros included; the total. */
static json_t *by_name(const struct stored *sd, bool requests, uint64_t *total)
{
	json_t *o = json_object();
	unsigned n = requests ? XS_TYPE_COUNT : QK_COUNT;

	*total = 0;
	for (unsigned i = 0; o && i < n; i++) {
		const char *name = requests ? core_type_name(i) : quota_names[i];
		uint64_t v = requests ? sd->requests[i] : sd->quota_refusals[i];

		if (!name)
			continue;
		*total += v;
		if (json_object_set_new(o, name, counter(v)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *stats_doc(const struct stored *sd)
{
	unsigned txns = 0, priv = 0;
	uint64_t reqs, refusals;
	json_t *rq = by_name(sd, true, &reqs), *qr = by_name(sd, false, &refusals);

	for (const struct conn *c = sd->conns; c; c = c->next) {
		txns += c->ntxns;
		priv += c->who.privileged;
	}
	if (!rq || !qr) {
		json_decref(rq);
		json_decref(qr);
		return NULL;
	}
	return json_pack("{s{sIsIsIsI} sI sI sI sI so so so so}",
		"connections", "total", (json_int_t)sd->nconns,
		"sockets", (json_int_t)(sd->nconns - sd->nrings),
		"rings", (json_int_t)sd->nrings, "privileged", (json_int_t)priv,
		"domains", (json_int_t)sd->domains.count,
		"nodes", (json_int_t)sd->store.nodes.count,
		"watches", (json_int_t)sd->nwatches, "transactions", (json_int_t)txns,
		"requests", rq, "requests_total", counter(reqs),
		"quota_refusals", qr, "rejected_conns", counter(sd->rejected_conns));
}

int stored_stats_json(const struct stored *sd, char *buf, size_t len)
{
	json_t *doc = stats_doc(sd);
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	size_t n = s ? strlen(s) + 1 : 0;
	int rc = !s ? -ENOMEM : n > len ? -E2BIG : (int)n;

	if (rc > 0)
		memcpy(buf, s, n);
	free(s);
	json_decref(doc);
	return rc;
}
