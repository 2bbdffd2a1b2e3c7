/* pvd-blkback's Prometheus families (metrics.c). */
#ifndef PVD_BLKBACK_METRICS_H
#define PVD_BLKBACK_METRICS_H

struct event_base;
struct pvd_metrics;
struct blk_xenbus;

/* pvd_metrics_start for pvd-blkback: *out NULL when addr is NULL. */
int blk_metrics_start(struct pvd_metrics **out, struct event_base *base,
		      const char *addr, struct blk_xenbus *xb);

#endif
