/* Private to common/hv*.c: the ops table behind struct hv. */
#ifndef PVD_HV_IMPL_H
#define PVD_HV_IMPL_H

#include "pvd/hv.h"

struct hv_ops {
	const char *name;
	void (*close)(struct hv *hv);
	int (*grant_map)(struct hv *hv, domid_t domid, unsigned count,
			 const grant_ref_t *refs, int writable, void **addr);
	int (*grant_unmap)(struct hv *hv, void *addr, unsigned count);
	int (*grant_copy)(struct hv *hv, struct hv_copy_seg *segs, unsigned n);
	int (*evtchn_fd)(struct hv *hv);
	int (*evtchn_bind_interdomain)(struct hv *hv, domid_t domid,
				       evtchn_port_t remote_port,
				       evtchn_port_t *local);
	int (*evtchn_alloc_unbound)(struct hv *hv, domid_t remote_domid,
				    evtchn_port_t *port);
	int (*evtchn_notify)(struct hv *hv, evtchn_port_t port);
	int (*evtchn_pending)(struct hv *hv, evtchn_port_t *port);
	int (*evtchn_unmask)(struct hv *hv, evtchn_port_t port);
	int (*evtchn_unbind)(struct hv *hv, evtchn_port_t port);
	int (*domain_alive)(struct hv *hv, domid_t domid);
	/* Optional (NULL: from domain_alive; -EOPNOTSUPP). */
	int (*domain_state)(struct hv *hv, domid_t domid);
	int (*evtchn_bind_virq)(struct hv *hv, unsigned virq,
				evtchn_port_t *port);
	/* Optional (NULL: one port at a time through the calls above). */
	int (*evtchn_pending_many)(struct hv *hv, evtchn_port_t *ports,
				   unsigned max);
	int (*evtchn_unmask_many)(struct hv *hv, const evtchn_port_t *ports,
				  unsigned n);
};

/* Each implementation embeds this as its first member. */
struct hv {
	const struct hv_ops *ops;
};

int hv_sim_open(struct hv **out, const struct hv_config *cfg);
/* Waits for fd to be readable (EINTR retried): 0, -ETIMEDOUT or -errno.
 * hv_evtchn_wait and hv_sim_evtchn_wait share it. */
int hv_wait_readable(int fd, int timeout_ms);
int hv_xen_open(struct hv **out, const struct hv_config *cfg);

#endif
