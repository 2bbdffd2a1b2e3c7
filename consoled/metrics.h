/* pvd-consoled's Prometheus families (metrics.c). */
#ifndef PVD_CONSOLED_METRICS_H
#define PVD_CONSOLED_METRICS_H

struct event_base;
struct pvd_metrics;
struct tracker;

/* pvd_metrics_start for pvd-consoled: *out NULL when addr is NULL. */
int consoled_metrics_start(struct pvd_metrics **out, struct event_base *base,
			   const char *addr, struct tracker *tr);

#endif
