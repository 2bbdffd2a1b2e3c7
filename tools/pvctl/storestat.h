/* pvctl: the store's statistics, as pvd-stored answers XS_CONTROL
 * "stats" (stored/metrics.c stored_stats_json: one JSON object), and
 * the request rate between two samples that `pvctl top` shows.  Xen's
 * own xenstored has no such command: then there are no statistics, which
 * is not a failure (statview_sample_store says why, "n/a").  No I/O
 * here. */
#ifndef PVCTL_STORESTAT_H
#define PVCTL_STORESTAT_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

struct storestat {
	uint64_t conns, sockets, rings, privileged;     /* connections */
	uint64_t domains, nodes, watches, transactions;
	uint64_t requests, refusals, rejected_conns;    /* cumulative */
	json_t *doc;                    /* owned (a reference); NULL: none */
};

/* Parses the answer.  Not an object, or one without a "connections"
 * object and a "requests_total" counter: -EINVAL with err set (another
 * store's answer is not taken for ours); other missing members read as
 * 0. */
int storestat_parse(const char *text, size_t len, struct storestat *s,
		    char *err, size_t errlen);
/* Idempotent; leaves s zeroed. */
void storestat_free(struct storestat *s);

/* Requests per second between two samples (prev NULL, or a store that
 * restarted since: from zero), and quota refusals in the interval. */
void storestat_rate(const struct storestat *prev, const struct storestat *cur,
		    double secs, double *req_per_s, uint64_t *refusals);

#endif
