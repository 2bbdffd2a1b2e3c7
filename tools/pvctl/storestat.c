/* pvctl: the store's statistics (see storestat.h).  The answer comes
 * from the store, another process: numbers are taken only when they are
 * counters, and the shape must be pvd-stored's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "storestat.h"

int storestat_parse(const char *text, size_t len, struct storestat *s,
		    char *err, size_t errlen)
{
	const json_t *c;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = pvctl_json_parse(text, len, &s->doc, err, errlen);
	if (rc < 0)
		return rc;
	c = json_object_get(s->doc, "connections");     /* NULL: not an object */
	if (!json_is_object(c) || !pvctl_json_u64(s->doc, "requests_total", &s->requests)) {
		if (err && errlen)
			snprintf(err, errlen, "not pvd-stored's statistics");
		storestat_free(s);
		return -EINVAL;
	}
	s->conns = pvctl_json_u64_or0(c, "total");
	s->sockets = pvctl_json_u64_or0(c, "sockets");
	s->rings = pvctl_json_u64_or0(c, "rings");
	s->privileged = pvctl_json_u64_or0(c, "privileged");
	s->domains = pvctl_json_u64_or0(s->doc, "domains");
	s->nodes = pvctl_json_u64_or0(s->doc, "nodes");
	s->watches = pvctl_json_u64_or0(s->doc, "watches");
	s->transactions = pvctl_json_u64_or0(s->doc, "transactions");
	s->rejected_conns = pvctl_json_u64_or0(s->doc, "rejected_conns");
	/* Refusals: the sum of the quotas' counters, saturated. */
	c = json_object_get(s->doc, "quota_refusals");
	if (json_is_object(c)) {
		const char *k;
		json_t *v;

		json_object_foreach((json_t *)c, k, v) {
			uint64_t n = pvctl_json_u64_or0(c, k);

			s->refusals = s->refusals + n < s->refusals ? UINT64_MAX :
				      s->refusals + n;
		}
	}
	return 0;
}

void storestat_free(struct storestat *s)
{
	json_decref(s->doc);
	memset(s, 0, sizeof(*s));
}

void storestat_rate(const struct storestat *prev, const struct storestat *cur,
		    double secs, double *req_per_s, uint64_t *refusals)
{
	uint64_t r = cur->requests, q = cur->refusals;

	if (prev && prev->doc && cur->requests >= prev->requests &&
	    cur->refusals >= prev->refusals) {
		r -= prev->requests;
		q -= prev->refusals;
	}
	if (secs <= 0)
		secs = 1e-9;
	*req_per_s = (double)r / secs;
	*refusals = q;
}
