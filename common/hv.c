/* Hypervisor layer: picks the implementation and dispatches to it.
 * Argument checks common to both implementations live here, so that sim
 * and xen reject the same calls the same way. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pvd/hv.h"
#include "pvd/log.h"
#include "hv_impl.h"

#define XEN_GNTDEV "/dev/xen/gntdev"

int hv_open(struct hv **out, const struct hv_config *cfg)
{
	const char *impl = cfg ? cfg->impl : NULL;

	*out = NULL;
	if (!impl || !*impl)
		impl = getenv("PVD_HV");
	if (!impl || !*impl)
		impl = access(XEN_GNTDEV, F_OK) == 0 ? "xen" : "sim";
	if (strcmp(impl, "sim") == 0)
		return hv_sim_open(out, cfg);
	if (strcmp(impl, "xen") == 0)
		return hv_xen_open(out, cfg);
	log_err("unknown hypervisor implementation \"%s\" (PVD_HV: sim or xen)",
		impl);
	return -EINVAL;
}

void hv_close(struct hv *hv)
{
	if (hv)
		hv->ops->close(hv);
}

const char *hv_impl_name(const struct hv *hv)
{
	return hv->ops->name;
}

int hv_domain_alive(struct hv *hv, domid_t domid)
{
	if (domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	return hv->ops->domain_alive(hv, domid);
}

int hv_domain_state(struct hv *hv, domid_t domid)
{
	int rc;

	if (domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (hv->ops->domain_state)
		return hv->ops->domain_state(hv, domid);
	rc = hv->ops->domain_alive(hv, domid);
	return rc < 0 ? rc : rc ? HV_DOM_RUNNING : HV_DOM_GONE;
}

int hv_evtchn_bind_virq(struct hv *hv, unsigned virq, evtchn_port_t *port)
{
	if (!port || virq >= NR_VIRQS)
		return -EINVAL;
	if (!hv->ops->evtchn_bind_virq)
		return -EOPNOTSUPP;
	return hv->ops->evtchn_bind_virq(hv, virq, port);
}

int hv_grant_map(struct hv *hv, domid_t domid, unsigned count,
		 const grant_ref_t *refs, int writable, void **addr)
{
	if (!addr)
		return -EINVAL;
	*addr = NULL;
	if (count == 0 || count > HV_MAP_MAX || !refs ||
	    domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	return hv->ops->grant_map(hv, domid, count, refs, writable, addr);
}

int hv_grant_unmap(struct hv *hv, void *addr, unsigned count)
{
	if (!addr || count == 0 || count > HV_MAP_MAX)
		return -EINVAL;
	return hv->ops->grant_unmap(hv, addr, count);
}

int hv_grant_copy(struct hv *hv, struct hv_copy_seg *segs, unsigned n)
{
	if (n == 0)
		return 0;
	if (!segs)
		return -EINVAL;
	return hv->ops->grant_copy(hv, segs, n);
}

int hv_gntst_to_errno(int gntst)
{
	switch (gntst) {
	case GNTST_okay:              return 0;
	/* Xen's verdict for a bad entry: wrong type, wrong domain, read-only
	 * for a write, unstable. */
	case GNTST_general_error:     return -EPERM;
	case GNTST_permission_denied: return -EPERM;
	case GNTST_bad_domain:        return -ESRCH;
	case GNTST_bad_gntref:        return -EINVAL;
	case GNTST_bad_handle:        return -EINVAL;
	case GNTST_bad_page:          return -EINVAL;
	case GNTST_bad_copy_arg:      return -EINVAL;
	case GNTST_bad_virt_addr:     return -EFAULT;
	case GNTST_bad_dev_addr:      return -EFAULT;
	case GNTST_address_too_big:   return -E2BIG;
	case GNTST_no_device_space:   return -ENOSPC;
	case GNTST_no_space:          return -ENOSPC;
	case GNTST_eagain:            return -EAGAIN;
	default:                      return -EIO;
	}
}

int hv_evtchn_fd(struct hv *hv)
{
	return hv->ops->evtchn_fd(hv);
}

int hv_evtchn_bind_interdomain(struct hv *hv, domid_t domid,
			       evtchn_port_t remote_port, evtchn_port_t *local)
{
	if (!local || domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	return hv->ops->evtchn_bind_interdomain(hv, domid, remote_port, local);
}

int hv_evtchn_alloc_unbound(struct hv *hv, domid_t remote_domid,
			    evtchn_port_t *port)
{
	if (!port || remote_domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	return hv->ops->evtchn_alloc_unbound(hv, remote_domid, port);
}

int hv_evtchn_notify(struct hv *hv, evtchn_port_t port)
{
	return hv->ops->evtchn_notify(hv, port);
}

int hv_evtchn_pending(struct hv *hv, evtchn_port_t *port)
{
	if (!port)
		return -EINVAL;
	return hv->ops->evtchn_pending(hv, port);
}

int hv_evtchn_unmask(struct hv *hv, evtchn_port_t port)
{
	return hv->ops->evtchn_unmask(hv, port);
}

int hv_evtchn_pending_many(struct hv *hv, evtchn_port_t *ports, unsigned max)
{
	unsigned n = 0;
	int rc = -EAGAIN;

	if (!ports || !max)
		return -EINVAL;
	if (hv->ops->evtchn_pending_many)
		return hv->ops->evtchn_pending_many(hv, ports, max);
	while (n < max && (rc = hv->ops->evtchn_pending(hv, &ports[n])) == 0)
		n++;
	return n ? (int)n : rc;
}

int hv_evtchn_unmask_many(struct hv *hv, const evtchn_port_t *ports,
			  unsigned n)
{
	int rc = 0;

	if (!ports && n)
		return -EINVAL;
	if (hv->ops->evtchn_unmask_many)
		return n ? hv->ops->evtchn_unmask_many(hv, ports, n) : 0;
	for (unsigned i = 0; i < n; i++) {
		int r = hv->ops->evtchn_unmask(hv, ports[i]);

		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
}

int hv_evtchn_take(struct hv *hv, evtchn_port_t *ports, unsigned max)
{
	int n = hv_evtchn_pending_many(hv, ports, max);

	if (n <= 0)
		return 0;
	hv_evtchn_unmask_many(hv, ports, (unsigned)n);
	return n;
}

int hv_evtchn_unbind(struct hv *hv, evtchn_port_t port)
{
	return hv->ops->evtchn_unbind(hv, port);
}

int hv_wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

int hv_evtchn_wait(struct hv *hv, int timeout_ms)
{
	return hv_wait_readable(hv_evtchn_fd(hv), timeout_ms);
}
