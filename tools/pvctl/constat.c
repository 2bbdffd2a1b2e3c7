/* pvctl: pvd-consoled's statistics (see constat.h).  The document comes
 * from another process: its shape is checked, numbers are taken only
 * when they are counters, the console name is bounded and made
 * printable, and the count of consoles is bounded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "constat.h"
#include "pvd/num.h"

static void seterr(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}


/* "primary", or a devid as the store spells it. */
static bool console_name_ok(const char *s)
{
	uint64_t v;

	return s && (strcmp(s, "primary") == 0 ||
		     pvd_parse_range(s, 0, INT32_MAX, &v) == 0);
}

static int con_of(const json_t *o, struct constat_con *c, char *err, size_t errlen)
{
	const char *name = pvctl_json_str(o, "console");
	uint64_t domid;

	if (!pvctl_json_u64(o, "domid", &domid) || domid > 0xffff ||
	    !console_name_ok(name)) {
		seterr(err, errlen, "a console without a valid domid and console");
		return -EINVAL;
	}
	c->obj = o;
	c->domid = (unsigned)domid;
	snprintf(c->console, sizeof(c->console), "%s", name);
	c->tty = pvctl_json_str_or_empty(o, "tty");
	c->state = pvctl_json_str_or_empty(o, "state");
	c->out_bytes = pvctl_json_u64_or0(o, "out_bytes");
	c->in_bytes = pvctl_json_u64_or0(o, "in_bytes");
	c->dropped = pvctl_json_u64_or0(o, "dropped");
	c->buffered = pvctl_json_u64_or0(o, "buffered");
	c->rate_stalls = pvctl_json_u64_or0(o, "rate_stalls");
	c->log_bytes = pvctl_json_u64_or0(o, "log_bytes");
	return 0;
}

int constat_parse(const char *text, size_t len, struct constat *s, char *err,
		  size_t errlen)
{
	const json_t *a;
	size_t n;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = pvctl_json_parse(text, len, &s->doc, err, errlen);
	if (rc < 0)
		return rc;
	a = pvctl_json_stats_array(s->doc, "pvd-consoled", "consoles",
				   CONSTAT_CONS_MAX, err, errlen);
	if (!a) {
		rc = -EINVAL;
		goto fail;
	}
	n = json_array_size(a);
	if (n && !(s->cons = calloc(n, sizeof(*s->cons)))) {
		seterr(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		rc = con_of(json_array_get(a, i), &s->cons[s->ncons], err, errlen);
		if (rc < 0)
			goto fail;
		s->ncons++;
	}
	return 0;
fail:
	constat_free(s);
	return rc;
}

void constat_free(struct constat *s)
{
	free(s->cons);
	json_decref(s->doc);
	memset(s, 0, sizeof(*s));
}

const struct constat_con *constat_find(const struct constat *s, unsigned domid,
				       const char *console)
{
	for (unsigned i = 0; s && i < s->ncons; i++)
		if (s->cons[i].domid == domid && strcmp(s->cons[i].console, console) == 0)
			return &s->cons[i];
	return NULL;
}

/* The primary first (-1), then secondaries by number. */
static long long con_num(const char *name)
{
	return strcmp(name, "primary") == 0 ? -1 : atoll(name);
}

int constat_cmp(const struct constat_con *x, const struct constat_con *y)
{
	long long a = con_num(x->console), b = con_num(y->console);

	if (x->domid != y->domid)
		return x->domid < y->domid ? -1 : 1;
	return (a > b) - (a < b);
}

static uint64_t delta(uint64_t prev, uint64_t cur, bool *back)
{
	if (cur < prev)
		*back = true;
	return cur - prev;
}

void constat_rate(const struct constat_con *prev, const struct constat_con *cur,
		  double secs, struct constat_rate *r)
{
	struct constat_con zero = { 0 };
	uint64_t out, in, log;
	bool back = false;

	if (!prev)
		prev = &zero;
	out = delta(prev->out_bytes, cur->out_bytes, &back);
	in = delta(prev->in_bytes, cur->in_bytes, &back);
	log = delta(prev->log_bytes, cur->log_bytes, &back);
	r->dropped = delta(prev->dropped, cur->dropped, &back);
	r->rate_stalls = delta(prev->rate_stalls, cur->rate_stalls, &back);
	if (back) {
		constat_rate(NULL, cur, secs, r);
		return;
	}
	if (secs <= 0)
		secs = 1e-9;
	r->out_bps = (double)out / secs;
	r->in_bps = (double)in / secs;
	r->log_bps = (double)log / secs;
}
