/* pvd-consoled's Prometheus families: per console (domain, and console:
 * "primary" or a secondary's devid), from console_stats. */
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "pvd/metrics.h"
#include "console.h"
#include "metrics.h"
#include "tracker.h"

struct cons {
	char domain[8], id[12];
	struct console_stats st;
};

struct conses {
	struct cons *c;
	size_t n, cap;
};

static void collect(void *arg, const struct console *c)
{
	struct conses *cs = arg;
	struct cons *e;

	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? 2 * cs->cap : 16;
		struct cons *nc = realloc(cs->c, cap * sizeof(*nc));

		if (!nc)
			return;	/* a scrape short of consoles, not a failure */
		cs->c = nc;
		cs->cap = cap;
	}
	e = &cs->c[cs->n++];
	snprintf(e->domain, sizeof(e->domain), "%u", (unsigned)console_domid(c));
	if (console_devid(c) < 0)
		snprintf(e->id, sizeof(e->id), "primary");
	else
		snprintf(e->id, sizeof(e->id), "%d", console_devid(c));
	console_stats(c, &e->st);
}

static void put_bytes(struct evbuffer *out, const struct conses *cs)
{
	pvd_metrics_head(out, "pvd_console_bytes_total", "counter",
			 "Bytes: out of the guest's out ring, in to its in ring.");
	for (size_t i = 0; i < cs->n; i++) {
		uint64_t v[] = { cs->c[i].st.out_bytes, cs->c[i].st.in_bytes };

		for (unsigned d = 0; d < 2; d++) {
			struct pvd_label l[] = { { "domain", cs->c[i].domain },
						 { "console", cs->c[i].id },
						 { "direction", d ? "in" : "out" } };

			pvd_metrics_counter(out, "pvd_console_bytes_total", l, 3, v[d]);
		}
	}
}

/* A family with one counter per console. */
static void put_one(struct evbuffer *out, const struct conses *cs,
		    const char *name, const char *help, int which)
{
	pvd_metrics_head(out, name, "counter", help);
	for (size_t i = 0; i < cs->n; i++) {
		struct pvd_label l[] = { { "domain", cs->c[i].domain },
					 { "console", cs->c[i].id } };
		const struct console_stats *s = &cs->c[i].st;

		pvd_metrics_counter(out, name, l, 2,
				    which ? s->rate_stalls : s->dropped);
	}
}

static void families(struct evbuffer *out, void *arg)
{
	struct conses cs = { 0 };

	tracker_each(arg, collect, &cs);
	put_bytes(out, &cs);
	put_one(out, &cs, "pvd_console_dropped_bytes_total",
		"Output discarded for want of room (no reader on the pty).", 0);
	put_one(out, &cs, "pvd_console_rate_limited_total",
		"Times the rate limit stopped reading the guest's output.", 1);
	pvd_metrics_head(out, "pvd_console_broken", "gauge",
			 "1 once the console is broken (bad ring, pty gone).");
	for (size_t i = 0; i < cs.n; i++) {
		struct pvd_label l[] = { { "domain", cs.c[i].domain },
					 { "console", cs.c[i].id } };

		pvd_metrics_gauge(out, "pvd_console_broken", l, 2, cs.c[i].st.broken);
	}
	free(cs.c);
}

int consoled_metrics_start(struct pvd_metrics **out, struct event_base *base,
			   const char *addr, struct tracker *tr)
{
	return pvd_metrics_start(out, base, addr, "pvd-consoled", families, tr);
}
