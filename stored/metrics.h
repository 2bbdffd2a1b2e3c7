/* pvd-stored's Prometheus families (metrics.c). */
#ifndef PVD_STORED_METRICS_H
#define PVD_STORED_METRICS_H

struct event_base;
struct pvd_metrics;
struct stored;

/* pvd_metrics_start for pvd-stored: *out NULL when addr is NULL. */
int stored_metrics_start(struct pvd_metrics **out, struct event_base *base,
			 const char *addr, struct stored *sd);

#endif
