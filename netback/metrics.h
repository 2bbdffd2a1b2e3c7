/* pvd-netback's Prometheus families (metrics.c). */
#ifndef PVD_NETBACK_METRICS_H
#define PVD_NETBACK_METRICS_H

struct event_base;
struct pvd_metrics;
struct nb_xenbus;

/* pvd_metrics_start for pvd-netback: *out NULL when addr is NULL. */
int nb_metrics_start(struct pvd_metrics **out, struct event_base *base,
		     const char *addr, struct nb_xenbus *xb);

#endif
