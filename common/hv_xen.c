/* The hypervisor layer on a real Xen dom0: libxengnttab (/dev/xen/gntdev)
 * and libxenevtchn (/dev/xen/evtchn).  A thin translation; Xen and the
 * kernel enforce the grant rules.
 *
 * xenevtchn_fd() cannot be relied on to be non-blocking (see xenevtchn.h:
 * "setting this fd to non blocking may not work"), so pending polls it
 * first and only then reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xentoollog.h>

#include "pvd/log.h"
#include "hv_impl.h"

#define COPY_CHUNK 64

struct hv_xen {
	struct hv base;
	xentoollog_logger logger;      /* libxenctrl: its levels */
	xentoollog_logger call_logger; /* libxengnttab, libxenevtchn: debug */
	xengnttab_handle *xgt;
	xenevtchn_handle *xce;
	xc_interface *xch;      /* opened on first hv_domain_alive */
	int evfd;
};

static struct hv_xen *to_xen(struct hv *hv)
{
	return (struct hv_xen *)hv;
}

/* The libraries' failures as -errno; -EIO where they leave errno 0. */
static int xen_errno(void)
{
	return errno ? -errno : -EIO;
}

/* The Xen libraries log through this: into our log, at our levels. */
static void hvx_log_vmessage(struct xentoollog_logger *logger,
			 xentoollog_level level, int errnoval,
			 const char *context, const char *format, va_list al)
{
	enum log_level lvl = level >= XTL_ERROR ? LOG_LVL_ERR :
			     level >= XTL_WARN ? LOG_LVL_WARN :
			     level >= XTL_INFO ? LOG_LVL_INFO : LOG_LVL_DEBUG;
	char buf[512];

	if (lvl > log_get_level())
		return;
	vsnprintf(buf, sizeof(buf), format, al);
	if (errnoval >= 0)
		log_msg(lvl, context ? context : "xen", "%s: %s", buf,
			strerror(errnoval));
	else
		log_msg(lvl, context ? context : "xen", "%s", buf);
}

/* What libxengnttab and libxenevtchn report is the failure of one call,
 * which is returned to our caller as -errno and logged there with the
 * guest's identity; at their own level ("gnttab: mmap failed" is an
 * error) a guest handing out bad grant references would fill the log. */
static void hvx_log_call_vmessage(struct xentoollog_logger *logger,
				  xentoollog_level level, int errnoval,
				  const char *context, const char *format,
				  va_list al)
{
	hvx_log_vmessage(logger, level < XTL_DEBUG ? level : XTL_DEBUG, errnoval,
			 context, format, al);
}

static void hvx_log_progress(struct xentoollog_logger *logger, const char *context,
			 const char *doing_what, int percent,
			 unsigned long done, unsigned long total)
{
}

static void hvx_log_destroy(struct xentoollog_logger *logger)
{
}

static int xen_grant_map(struct hv *hv, domid_t domid, unsigned count,
			 const grant_ref_t *refs, int writable, void **addr)
{
	struct hv_xen *x = to_xen(hv);
	void *p;

	/* The library does not write refs; its prototype just lacks const. */
	p = xengnttab_map_domain_grant_refs(x->xgt, count, domid,
					    (uint32_t *)refs,
					    PROT_READ | (writable ? PROT_WRITE : 0));
	if (!p) {
		int rc = xen_errno();

		log_debug("dom%u: mapping %u grants (first %u): %s",
			  (unsigned)domid, count, refs[0], strerror(-rc));
		return rc;
	}
	*addr = p;
	return 0;
}

static int xen_grant_unmap(struct hv *hv, void *addr, unsigned count)
{
	if (xengnttab_unmap(to_xen(hv)->xgt, addr, count) < 0) {
		int rc = -errno;

		log_warn("unmapping %u grants at %p: %s", count, addr,
			 strerror(-rc));
		return rc;
	}
	return 0;
}

static int xen_grant_copy(struct hv *hv, struct hv_copy_seg *segs, unsigned n)
{
	struct hv_xen *x = to_xen(hv);
	xengnttab_grant_copy_segment_t xs[COPY_CHUNK];
	int first = 0;

	for (unsigned base = 0; base < n; base += COPY_CHUNK) {
		unsigned cnt = n - base < COPY_CHUNK ? n - base : COPY_CHUNK;
		unsigned idx[COPY_CHUNK], nx = 0;

		for (unsigned i = 0; i < cnt; i++) {
			struct hv_copy_seg *s = &segs[base + i];
			xengnttab_grant_copy_segment_t *g = &xs[nx];

			/* Checked here: Xen would fail the whole batch. */
			if ((s->dir != HV_COPY_FROM_GRANT &&
			     s->dir != HV_COPY_TO_GRANT) ||
			    (unsigned)s->offset + s->len > HV_PAGE_SIZE ||
			    !s->local) {
				s->status = !s->local && s->dir ? -EFAULT : -EINVAL;
				continue;
			}
			memset(g, 0, sizeof(*g));
			g->len = s->len;
			if (s->dir == HV_COPY_FROM_GRANT) {
				g->flags = GNTCOPY_source_gref;
				g->source.foreign.ref = s->ref;
				g->source.foreign.offset = s->offset;
				g->source.foreign.domid = s->domid;
				g->dest.virt = s->local;
			} else {
				g->flags = GNTCOPY_dest_gref;
				g->dest.foreign.ref = s->ref;
				g->dest.foreign.offset = s->offset;
				g->dest.foreign.domid = s->domid;
				g->source.virt = s->local;
			}
			idx[nx++] = base + i;
		}
		if (nx && xengnttab_grant_copy(x->xgt, nx, xs) < 0) {
			int rc = xen_errno();

			log_warn("grant copy of %u segments: %s", nx, strerror(-rc));
			for (unsigned i = 0; i < nx; i++)
				segs[idx[i]].status = rc;
		} else {
			for (unsigned i = 0; i < nx; i++)
				segs[idx[i]].status = hv_gntst_to_errno(xs[i].status);
		}
		for (unsigned i = 0; i < cnt && !first; i++)
			first = segs[base + i].status;
	}
	return first;
}

static int xen_evtchn_fd(struct hv *hv)
{
	return to_xen(hv)->evfd;
}

static int xen_bind_interdomain(struct hv *hv, domid_t domid,
				evtchn_port_t remote_port, evtchn_port_t *local)
{
	xenevtchn_port_or_error_t p;

	p = xenevtchn_bind_interdomain(to_xen(hv)->xce, domid, remote_port);
	if (p < 0)
		return xen_errno();
	*local = (evtchn_port_t)p;
	return 0;
}

static int xen_alloc_unbound(struct hv *hv, domid_t remote,
			     evtchn_port_t *port)
{
	xenevtchn_port_or_error_t p;

	p = xenevtchn_bind_unbound_port(to_xen(hv)->xce, remote);
	if (p < 0)
		return xen_errno();
	*port = (evtchn_port_t)p;
	return 0;
}

static int xen_notify(struct hv *hv, evtchn_port_t port)
{
	if (xenevtchn_notify(to_xen(hv)->xce, port) < 0)
		return xen_errno();
	return 0;
}

static int xen_pending(struct hv *hv, evtchn_port_t *port)
{
	struct hv_xen *x = to_xen(hv);
	struct pollfd pf = { .fd = x->evfd, .events = POLLIN };
	xenevtchn_port_or_error_t p;
	int n;

	do
		n = poll(&pf, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0 || !(pf.revents & POLLIN))
		return -EAGAIN;
	p = xenevtchn_pending(x->xce);
	if (p < 0)
		return xen_errno();
	*port = (evtchn_port_t)p;
	return 0;
}

/* Linux's evtchn device (drivers/xen/evtchn.c, evtchn_read and
 * evtchn_write) hands out every pending port it holds, up to the count
 * asked, in one read, and unmasks (late EOI) each port of an array in
 * one write: that is its ABI under libxenevtchn, whose calls take one
 * port each.  On a PV dom0 a system call costs tens of microseconds
 * under emulation, and the one-port calls cost a poll, a read and a
 * write per event.  The fd is made non-blocking at open for these. */
static int xen_pending_many(struct hv *hv, evtchn_port_t *ports, unsigned max)
{
	ssize_t n;

	if (max > HV_PAGE_SIZE / sizeof(*ports))
		max = HV_PAGE_SIZE / sizeof(*ports);
	do
		n = read(to_xen(hv)->evfd, ports, (size_t)max * sizeof(*ports));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	if ((size_t)n < sizeof(*ports))
		return -EAGAIN;
	return (int)((size_t)n / sizeof(*ports));
}

static int xen_unmask_many(struct hv *hv, const evtchn_port_t *ports,
			   unsigned n)
{
	size_t len = (size_t)n * sizeof(*ports);
	ssize_t w;

	if (len > HV_PAGE_SIZE)
		return -EINVAL;
	do
		w = write(to_xen(hv)->evfd, ports, len);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	return (size_t)w == len ? 0 : -EIO;
}

static int xen_unmask(struct hv *hv, evtchn_port_t port)
{
	if (xenevtchn_unmask(to_xen(hv)->xce, port) < 0)
		return xen_errno();
	return 0;
}

static int xen_unbind(struct hv *hv, evtchn_port_t port)
{
	if (xenevtchn_unbind(to_xen(hv)->xce, port) < 0)
		return xen_errno();
	return 0;
}

/* The domain's XEN_DOMINF_* flags: 0, -ENOENT for none, or -errno. */
static int xen_domain_flags(struct hv_xen *x, domid_t domid, uint32_t *flags)
{
	xc_domaininfo_t info;
	int n;

	if (!x->xch) {
		x->xch = xc_interface_open(&x->logger, &x->logger, 0);
		if (!x->xch) {
			int rc = xen_errno();

			log_err("xen: cannot open the control interface "
				"(/dev/xen/privcmd): %s", strerror(-rc));
			return rc;
		}
	}
	n = xc_domain_getinfolist(x->xch, domid, 1, &info);
	if (n < 0)
		return xen_errno();
	/* The list starts at the first domain >= domid. */
	if (n == 0 || info.domain != domid)
		return -ENOENT;
	*flags = info.flags;
	return 0;
}

static int xen_domain_alive(struct hv *hv, domid_t domid)
{
	uint32_t flags;
	int rc = xen_domain_flags(to_xen(hv), domid, &flags);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	return (flags & XEN_DOMINF_dying) ? 0 : 1;
}

static int xen_domain_state(struct hv *hv, domid_t domid)
{
	uint32_t flags;
	int rc = xen_domain_flags(to_xen(hv), domid, &flags);

	if (rc == -ENOENT)
		return HV_DOM_GONE;
	if (rc < 0)
		return rc;
	if (flags & XEN_DOMINF_dying)
		return HV_DOM_GONE;
	return (flags & XEN_DOMINF_shutdown) ? HV_DOM_SHUTDOWN : HV_DOM_RUNNING;
}

static int xen_bind_virq(struct hv *hv, unsigned virq, evtchn_port_t *port)
{
	xenevtchn_port_or_error_t p;

	p = xenevtchn_bind_virq(to_xen(hv)->xce, virq);
	if (p < 0)
		return xen_errno();
	*port = (evtchn_port_t)p;
	return 0;
}

static void xen_close(struct hv *hv)
{
	struct hv_xen *x = to_xen(hv);

	/* Closing the handles unmaps and unbinds what is left. */
	if (x->xce)
		xenevtchn_close(x->xce);
	if (x->xgt)
		xengnttab_close(x->xgt);
	if (x->xch)
		xc_interface_close(x->xch);
	free(x);
}

static const struct hv_ops xen_ops = {
	.name = "xen",
	.close = xen_close,
	.grant_map = xen_grant_map,
	.grant_unmap = xen_grant_unmap,
	.grant_copy = xen_grant_copy,
	.evtchn_fd = xen_evtchn_fd,
	.evtchn_bind_interdomain = xen_bind_interdomain,
	.evtchn_alloc_unbound = xen_alloc_unbound,
	.evtchn_notify = xen_notify,
	.evtchn_pending = xen_pending,
	.evtchn_unmask = xen_unmask,
	.evtchn_unbind = xen_unbind,
	.domain_alive = xen_domain_alive,
	.domain_state = xen_domain_state,
	.evtchn_bind_virq = xen_bind_virq,
	.evtchn_pending_many = xen_pending_many,
	.evtchn_unmask_many = xen_unmask_many,
};

static int open_error(const char *dev, int err)
{
	if (err == ENOENT || err == ENODEV || err == ENXIO) {
		log_err("xen: cannot open %s: %s: this is not a Xen dom0 (or the "
			"xen-gntdev/xen-evtchn modules are not loaded); "
			"PVD_HV=sim selects the simulator", dev, strerror(err));
		return -ENODEV;
	}
	log_err("xen: cannot open %s: %s", dev, strerror(err));
	return err ? -err : -EIO;
}

int hv_xen_open(struct hv **out, const struct hv_config *cfg)
{
	struct hv_xen *x;
	int rc, fl;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->base.ops = &xen_ops;
	x->logger.vmessage = hvx_log_vmessage;
	x->logger.progress = hvx_log_progress;
	x->logger.destroy = hvx_log_destroy;
	x->call_logger = x->logger;
	x->call_logger.vmessage = hvx_log_call_vmessage;
	errno = 0;
	x->xgt = xengnttab_open(&x->call_logger, 0);
	if (!x->xgt) {
		rc = open_error("/dev/xen/gntdev", errno);
		goto fail;
	}
	errno = 0;
	x->xce = xenevtchn_open(&x->call_logger, 0);
	if (!x->xce) {
		rc = open_error("/dev/xen/evtchn", errno);
		goto fail;
	}
	x->evfd = xenevtchn_fd(x->xce);
	if (x->evfd < 0) {
		rc = -EBADF;
		log_err("xen: no event channel fd");
		goto fail;
	}
	fl = fcntl(x->evfd, F_GETFL);
	if (fl < 0 || fcntl(x->evfd, F_SETFL, fl | O_NONBLOCK) < 0) {
		rc = -errno;
		log_err("xen: event channel fd non-blocking: %s", strerror(errno));
		goto fail;
	}
	*out = &x->base;
	return 0;
fail:
	xen_close(&x->base);
	return rc;
}
