/* The xen implementation without a hypervisor.
 *
 * Without /dev/xen, hv_open must fail cleanly (the real libraries are
 * called).  The translation to libxengnttab/libxenevtchn is checked against
 * fakes of those libraries, linked in with --wrap (test_hv_xen.wrap): what
 * reaches the library for each call, and how its results come back. */
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#include "pvd/hv.h"
#include "pvd/log.h"

#define XEN_DEV "/dev/xen/gntdev"

/* The fakes' state: link seams cannot take a context argument. */
static struct {
	int fake;                /* 0: pass through to the real libraries */
	int gnt_handle, evt_handle;
	int evfd[2];
	/* last map */
	uint32_t map_count, map_domid, map_refs[8];
	int map_prot, map_errno;
	char page[2][4096];
	/* last unmap */
	void *unmap_addr;
	uint32_t unmap_count;
	/* grant copy */
	unsigned copy_calls, copy_total;
	xengnttab_grant_copy_segment_t copy_seen[128];
	int16_t copy_status[128];
	int copy_fail_errno;
	/* event channels */
	unsigned pending_calls;
	uint32_t last_domid, last_port;
	int evt_errno;
	int closed;
	/* domain info */
	int xc_handle, xc_open_errno, xc_closed;
	/* the loggers the libraries were given */
	struct xentoollog_logger *gnt_logger, *evt_logger;
	int info_n;
	xc_domaininfo_t info;
} fk;

xengnttab_handle *__real_xengnttab_open(struct xentoollog_logger *l, unsigned f);
int __real_xengnttab_close(xengnttab_handle *h);
xenevtchn_handle *__real_xenevtchn_open(struct xentoollog_logger *l, unsigned f);
int __real_xenevtchn_close(xenevtchn_handle *h);

xengnttab_handle *__wrap_xengnttab_open(struct xentoollog_logger *l, unsigned f);
xengnttab_handle *__wrap_xengnttab_open(struct xentoollog_logger *l, unsigned f)
{
	if (!fk.fake)
		return __real_xengnttab_open(l, f);
	assert_non_null(l);
	fk.gnt_logger = l;
	return (xengnttab_handle *)&fk.gnt_handle;
}

int __wrap_xengnttab_close(xengnttab_handle *h);
int __wrap_xengnttab_close(xengnttab_handle *h)
{
	if (!fk.fake)
		return __real_xengnttab_close(h);
	assert_ptr_equal(h, &fk.gnt_handle);
	fk.closed++;
	return 0;
}

xenevtchn_handle *__wrap_xenevtchn_open(struct xentoollog_logger *l, unsigned f);
xenevtchn_handle *__wrap_xenevtchn_open(struct xentoollog_logger *l, unsigned f)
{
	if (!fk.fake)
		return __real_xenevtchn_open(l, f);
	fk.evt_logger = l;
	return (xenevtchn_handle *)&fk.evt_handle;
}

int __wrap_xenevtchn_close(xenevtchn_handle *h);
int __wrap_xenevtchn_close(xenevtchn_handle *h)
{
	if (!fk.fake)
		return __real_xenevtchn_close(h);
	assert_ptr_equal(h, &fk.evt_handle);
	fk.closed++;
	return 0;
}

int __wrap_xenevtchn_fd(xenevtchn_handle *h);
int __wrap_xenevtchn_fd(xenevtchn_handle *h)
{
	return fk.evfd[0];
}

void *__wrap_xengnttab_map_domain_grant_refs(xengnttab_handle *h, uint32_t count,
					     uint32_t domid, uint32_t *refs,
					     int prot);
void *__wrap_xengnttab_map_domain_grant_refs(xengnttab_handle *h, uint32_t count,
					     uint32_t domid, uint32_t *refs,
					     int prot)
{
	assert_ptr_equal(h, &fk.gnt_handle);
	fk.map_count = count;
	fk.map_domid = domid;
	fk.map_prot = prot;
	memcpy(fk.map_refs, refs, (count < 8 ? count : 8) * sizeof(*refs));
	if (fk.map_errno) {
		errno = fk.map_errno;
		return NULL;
	}
	return fk.page;
}

int __wrap_xengnttab_unmap(xengnttab_handle *h, void *addr, uint32_t count);
int __wrap_xengnttab_unmap(xengnttab_handle *h, void *addr, uint32_t count)
{
	fk.unmap_addr = addr;
	fk.unmap_count = count;
	if (addr != fk.page) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int __wrap_xengnttab_grant_copy(xengnttab_handle *h, uint32_t count,
				xengnttab_grant_copy_segment_t *segs);
int __wrap_xengnttab_grant_copy(xengnttab_handle *h, uint32_t count,
				xengnttab_grant_copy_segment_t *segs)
{
	assert_true(count > 0 && count <= 64);
	fk.copy_calls++;
	if (fk.copy_fail_errno) {
		errno = fk.copy_fail_errno;
		return -1;
	}
	for (uint32_t i = 0; i < count; i++) {
		fk.copy_seen[fk.copy_total] = segs[i];
		segs[i].status = fk.copy_status[fk.copy_total];
		fk.copy_total++;
	}
	return 0;
}

static int evt_result(int value)
{
	if (fk.evt_errno) {
		errno = fk.evt_errno;
		return -1;
	}
	return value;
}

xenevtchn_port_or_error_t __wrap_xenevtchn_bind_interdomain(xenevtchn_handle *h,
							    uint32_t domid,
							    evtchn_port_t port);
xenevtchn_port_or_error_t __wrap_xenevtchn_bind_interdomain(xenevtchn_handle *h,
							    uint32_t domid,
							    evtchn_port_t port)
{
	fk.last_domid = domid;
	fk.last_port = port;
	return evt_result(40);
}

xenevtchn_port_or_error_t __wrap_xenevtchn_bind_unbound_port(xenevtchn_handle *h,
							     uint32_t domid);
xenevtchn_port_or_error_t __wrap_xenevtchn_bind_unbound_port(xenevtchn_handle *h,
							     uint32_t domid)
{
	fk.last_domid = domid;
	return evt_result(41);
}

int __wrap_xenevtchn_notify(xenevtchn_handle *h, evtchn_port_t port);
int __wrap_xenevtchn_notify(xenevtchn_handle *h, evtchn_port_t port)
{
	fk.last_port = port;
	return evt_result(0);
}

xenevtchn_port_or_error_t __wrap_xenevtchn_pending(xenevtchn_handle *h);
xenevtchn_port_or_error_t __wrap_xenevtchn_pending(xenevtchn_handle *h)
{
	uint32_t port;

	fk.pending_calls++;
	/* As the evtchn driver: ports are read from the fd. */
	if (read(fk.evfd[0], &port, sizeof(port)) != sizeof(port))
		return -1;
	return (xenevtchn_port_or_error_t)port;
}

int __wrap_xenevtchn_unmask(xenevtchn_handle *h, evtchn_port_t port);
int __wrap_xenevtchn_unmask(xenevtchn_handle *h, evtchn_port_t port)
{
	fk.last_port = port;
	return evt_result(0);
}

int __wrap_xenevtchn_unbind(xenevtchn_handle *h, evtchn_port_t port);
int __wrap_xenevtchn_unbind(xenevtchn_handle *h, evtchn_port_t port)
{
	fk.last_port = port;
	return evt_result(0);
}

xc_interface *__wrap_xc_interface_open(xentoollog_logger *l, xentoollog_logger *d,
				      unsigned f);
xc_interface *__wrap_xc_interface_open(xentoollog_logger *l, xentoollog_logger *d,
				      unsigned f)
{
	if (fk.xc_open_errno) {
		errno = fk.xc_open_errno;
		return NULL;
	}
	return (xc_interface *)&fk.xc_handle;
}

int __wrap_xc_interface_close(xc_interface *h);
int __wrap_xc_interface_close(xc_interface *h)
{
	assert_ptr_equal(h, &fk.xc_handle);
	fk.xc_closed++;
	return 0;
}

int __wrap_xc_domain_getinfolist(xc_interface *h, uint32_t first, unsigned max,
				 xc_domaininfo_t *info);
int __wrap_xc_domain_getinfolist(xc_interface *h, uint32_t first, unsigned max,
				 xc_domaininfo_t *info)
{
	assert_ptr_equal(h, &fk.xc_handle);
	assert_int_equal(max, 1);
	if (fk.info_n > 0)
		*info = fk.info;
	return fk.info_n;
}

static int setup_fake(void **state)
{
	memset(&fk, 0, sizeof(fk));
	fk.fake = 1;
	/* Both ways, as the evtchn device: ports read, ports written. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fk.evfd), 0);
	*state = NULL;
	assert_int_equal(hv_open((struct hv **)state,
				 &(struct hv_config){ .impl = "xen" }), 0);
	assert_string_equal(hv_impl_name(*state), "xen");
	return 0;
}

static int teardown_fake(void **state)
{
	hv_close(*state);
	assert_int_equal(fk.closed, 2);
	close(fk.evfd[0]);
	close(fk.evfd[1]);
	return 0;
}

/* ---- without Xen, for real ---- */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

static void test_open_without_xen(void **state)
{
	struct hv *hv = (struct hv *)1;

	if (access("/dev/xen", F_OK) == 0)
		skip();
	fk.fake = 0;
	assert_int_equal(hv_open(&hv, &(struct hv_config){ .impl = "xen" }),
			 -ENODEV);
	assert_null(hv);
	setenv("PVD_HV", "xen", 1);
	hv = (struct hv *)1;
	assert_int_equal(hv_open(&hv, NULL), -ENODEV);
	assert_null(hv);
	unsetenv("PVD_HV");
}

static void test_auto_selects_sim_without_gntdev(void **state)
{
	char dir[] = "/tmp/pvd-test-hvx.XXXXXX";
	struct hv *hv = NULL;

	if (access(XEN_DEV, F_OK) == 0)
		skip();
	assert_non_null(mkdtemp(dir));
	unsetenv("PVD_HV");
	assert_int_equal(hv_open(&hv, &(struct hv_config){ .rundir = dir }), 0);
	assert_string_equal(hv_impl_name(hv), "sim");
	hv_close(hv);
	assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---- the translation, against fakes ---- */

static void test_map_unmap(void **state)
{
	struct hv *hv = *state;
	grant_ref_t refs[3] = { 8, 9, 1 };
	void *addr;

	assert_int_equal(hv_grant_map(hv, 7, 3, refs, 1, &addr), 0);
	assert_ptr_equal(addr, fk.page);
	assert_int_equal(fk.map_count, 3);
	assert_int_equal(fk.map_domid, 7);
	assert_int_equal(fk.map_prot, PROT_READ | PROT_WRITE);
	assert_memory_equal(fk.map_refs, refs, sizeof(refs));
	assert_int_equal(hv_grant_unmap(hv, addr, 3), 0);
	assert_ptr_equal(fk.unmap_addr, fk.page);
	assert_int_equal(fk.unmap_count, 3);

	assert_int_equal(hv_grant_map(hv, 7, 1, refs, 0, &addr), 0);
	assert_int_equal(fk.map_prot, PROT_READ);
	fk.map_errno = EINVAL;
	assert_int_equal(hv_grant_map(hv, 7, 1, refs, 0, &addr), -EINVAL);
	assert_null(addr);
	assert_int_equal(hv_grant_unmap(hv, (char *)fk.page + 1, 1), -EINVAL);
	/* Checked before reaching Xen. */
	fk.map_count = 0;
	assert_int_equal(hv_grant_map(hv, 7, 0, refs, 0, &addr), -EINVAL);
	assert_int_equal(hv_grant_map(hv, DOMID_FIRST_RESERVED, 1, refs, 0, &addr),
			 -EINVAL);
	assert_int_equal(fk.map_count, 0);
}

static void test_copy_translation(void **state)
{
	struct hv *hv = *state;
	char a[16], b[16];
	struct hv_copy_seg segs[4] = {
		{ .ref = 5, .domid = 3, .offset = 10, .len = 16,
		  .dir = HV_COPY_FROM_GRANT, .local = a },
		{ .ref = 6, .domid = 3, .offset = 20, .len = 16,
		  .dir = HV_COPY_TO_GRANT, .local = b },
		{ .ref = 7, .domid = 3, .offset = 4090, .len = 16,   /* bad */
		  .dir = HV_COPY_TO_GRANT, .local = b },
		{ .ref = 8, .domid = 3, .len = 16,
		  .dir = HV_COPY_TO_GRANT, .local = b },
	};

	fk.copy_status[0] = GNTST_okay;
	fk.copy_status[1] = GNTST_general_error;
	fk.copy_status[2] = GNTST_bad_gntref;
	assert_int_equal(hv_grant_copy(hv, segs, 4), -EPERM);
	assert_int_equal(fk.copy_calls, 1);
	assert_int_equal(fk.copy_total, 3);   /* the bad one never reached Xen */
	assert_int_equal(fk.copy_seen[0].flags, GNTCOPY_source_gref);
	assert_int_equal(fk.copy_seen[0].source.foreign.ref, 5);
	assert_int_equal(fk.copy_seen[0].source.foreign.offset, 10);
	assert_int_equal(fk.copy_seen[0].source.foreign.domid, 3);
	assert_ptr_equal(fk.copy_seen[0].dest.virt, a);
	assert_int_equal(fk.copy_seen[0].len, 16);
	assert_int_equal(fk.copy_seen[1].flags, GNTCOPY_dest_gref);
	assert_int_equal(fk.copy_seen[1].dest.foreign.ref, 6);
	assert_int_equal(fk.copy_seen[1].dest.foreign.offset, 20);
	assert_ptr_equal(fk.copy_seen[1].source.virt, b);
	assert_int_equal(fk.copy_seen[2].dest.foreign.ref, 8);
	assert_int_equal(segs[0].status, 0);
	assert_int_equal(segs[1].status, -EPERM);
	assert_int_equal(segs[2].status, -EINVAL);
	assert_int_equal(segs[3].status, -EINVAL);
}

static void test_copy_large_batch_and_failure(void **state)
{
	struct hv *hv = *state;
	struct hv_copy_seg segs[100];
	char buf[8];

	for (unsigned i = 0; i < 100; i++)
		segs[i] = (struct hv_copy_seg){
			.ref = i, .domid = 1, .len = 8,
			.dir = HV_COPY_FROM_GRANT, .local = buf,
		};
	assert_int_equal(hv_grant_copy(hv, segs, 100), 0);
	assert_int_equal(fk.copy_calls, 2);
	assert_int_equal(fk.copy_total, 100);
	assert_int_equal(fk.copy_seen[99].source.foreign.ref, 99);
	/* The hypercall itself fails: every segment says so. */
	fk.copy_fail_errno = EFAULT;
	assert_int_equal(hv_grant_copy(hv, segs, 3), -EFAULT);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(segs[i].status, -EFAULT);
}

/* Every pending port in one read of the device, every unmask in one
 * write of it (drivers/xen/evtchn.c's ABI), without libxenevtchn's
 * one-port calls; nothing pending is -EAGAIN, not a blocked read. */
static void test_evtchn_many(void **state)
{
	struct hv *hv = *state;
	const uint32_t fired[3] = { 40, 7, 41 };
	evtchn_port_t p[8] = { 0 }, un[2] = { 40, 41 };
	uint32_t got[2] = { 0 };

	assert_int_equal(hv_evtchn_pending_many(hv, p, 8), -EAGAIN);
	assert_int_equal(write(fk.evfd[1], fired, sizeof(fired)), sizeof(fired));
	assert_int_equal(hv_evtchn_pending_many(hv, p, 2), 2);
	assert_int_equal(p[0], 40);
	assert_int_equal(p[1], 7);
	assert_int_equal(hv_evtchn_pending_many(hv, p, 8), 1);
	assert_int_equal(p[0], 41);
	assert_int_equal(hv_evtchn_pending_many(hv, p, 8), -EAGAIN);
	assert_int_equal(hv_evtchn_pending_many(hv, p, 0), -EINVAL);
	assert_int_equal(fk.pending_calls, 0);

	assert_int_equal(hv_evtchn_unmask_many(hv, un, 2), 0);
	assert_int_equal(read(fk.evfd[1], got, sizeof(got)), sizeof(got));
	assert_int_equal(got[0], 40);
	assert_int_equal(got[1], 41);
	assert_int_equal(hv_evtchn_unmask_many(hv, un, 0), 0);
	assert_int_equal(fk.last_port, 0);
}

static void test_evtchn_translation(void **state)
{
	struct hv *hv = *state;
	evtchn_port_t p;
	uint32_t fired = 40;

	assert_int_equal(hv_evtchn_fd(hv), fk.evfd[0]);
	assert_int_equal(hv_evtchn_bind_interdomain(hv, 4, 12, &p), 0);
	assert_int_equal(p, 40);
	assert_int_equal(fk.last_domid, 4);
	assert_int_equal(fk.last_port, 12);
	assert_int_equal(hv_evtchn_alloc_unbound(hv, 6, &p), 0);
	assert_int_equal(p, 41);
	assert_int_equal(fk.last_domid, 6);
	assert_int_equal(hv_evtchn_notify(hv, 40), 0);
	assert_int_equal(fk.last_port, 40);

	/* Nothing pending: -EAGAIN, and the library is not asked (its read
	 * could block). */
	assert_int_equal(hv_evtchn_pending(hv, &p), -EAGAIN);
	assert_int_equal(fk.pending_calls, 0);
	assert_int_equal(write(fk.evfd[1], &fired, sizeof(fired)), sizeof(fired));
	assert_int_equal(hv_evtchn_wait(hv, 5000), 0);
	assert_int_equal(hv_evtchn_pending(hv, &p), 0);
	assert_int_equal(p, 40);
	assert_int_equal(fk.pending_calls, 1);
	assert_int_equal(hv_evtchn_unmask(hv, 40), 0);
	assert_int_equal(fk.last_port, 40);
	assert_int_equal(hv_evtchn_unbind(hv, 41), 0);
	assert_int_equal(fk.last_port, 41);

	fk.evt_errno = ENOTCONN;
	assert_int_equal(hv_evtchn_notify(hv, 99), -ENOTCONN);
	fk.evt_errno = EINVAL;
	assert_int_equal(hv_evtchn_bind_interdomain(hv, 4, 9999, &p), -EINVAL);
}

static void test_domain_alive_translation(void **state)
{
	struct hv *hv = *state;

	fk.xc_open_errno = EACCES;
	assert_int_equal(hv_domain_alive(hv, 3), -EACCES);
	fk.xc_open_errno = 0;
	fk.info_n = 1;
	fk.info.domain = 3;
	fk.info.flags = 0;
	assert_int_equal(hv_domain_alive(hv, 3), 1);
	fk.info.flags = XEN_DOMINF_dying;
	assert_int_equal(hv_domain_alive(hv, 3), 0);
	/* The list starts at the next domain that exists: 3 is gone. */
	fk.info.domain = 5;
	fk.info.flags = 0;
	assert_int_equal(hv_domain_alive(hv, 3), 0);
	fk.info_n = 0;
	assert_int_equal(hv_domain_alive(hv, 3), 0);
	hv_close(hv);
	*state = NULL;
	assert_int_equal(fk.xc_closed, 1);
}

static void test_gntst_to_errno(void **state)
{
	assert_int_equal(hv_gntst_to_errno(GNTST_okay), 0);
	assert_int_equal(hv_gntst_to_errno(GNTST_general_error), -EPERM);
	assert_int_equal(hv_gntst_to_errno(GNTST_bad_gntref), -EINVAL);
	assert_int_equal(hv_gntst_to_errno(GNTST_bad_domain), -ESRCH);
	assert_int_equal(hv_gntst_to_errno(GNTST_permission_denied), -EPERM);
	assert_int_equal(hv_gntst_to_errno(GNTST_bad_copy_arg), -EINVAL);
	assert_int_equal(hv_gntst_to_errno(GNTST_eagain), -EAGAIN);
	assert_int_equal(hv_gntst_to_errno(-100), -EIO);
}


/* What a library says through a logger, as libxentoollog's xtl_log does. */
static void lib_says(struct xentoollog_logger *l, xentoollog_level level,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	l->vmessage(l, level, -1, "gnttab", fmt, ap);
	va_end(ap);
}

static size_t file_size(const char *path)
{
	FILE *f = fopen(path, "r");
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	fclose(f);
	return (size_t)n;
}

/* A guest's bad grant makes libxengnttab report "mmap failed" as an error;
 * the failure reaches the caller as -errno, so the library's line is kept
 * for debugging only (else a guest could fill the log).  libxenctrl's
 * messages keep their level. */
static void test_library_call_errors_at_debug(void **state)
{
	char path[] = "/tmp/test_hv_xen.logXXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	assert_non_null(fk.gnt_logger);
	assert_non_null(fk.evt_logger);
	log_init("test_hv_xen", LOG_LVL_WARN, path);
	lib_says(fk.gnt_logger, XTL_ERROR, "mmap failed");
	lib_says(fk.evt_logger, XTL_ERROR, "ioctl failed");
	assert_int_equal(file_size(path), 0);
	log_set_level(LOG_LVL_DEBUG);
	lib_says(fk.gnt_logger, XTL_ERROR, "mmap failed");
	assert_true(file_size(path) > 0);
	log_init("test_hv_xen", LOG_LVL_ERR, NULL);
	unlink(path);
}
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_without_xen),
		cmocka_unit_test(test_auto_selects_sim_without_gntdev),
		cmocka_unit_test(test_gntst_to_errno),
		cmocka_unit_test_setup_teardown(test_map_unmap, setup_fake,
						teardown_fake),
		cmocka_unit_test_setup_teardown(test_copy_translation, setup_fake,
						teardown_fake),
		cmocka_unit_test_setup_teardown(test_copy_large_batch_and_failure,
						setup_fake, teardown_fake),
		cmocka_unit_test_setup_teardown(test_evtchn_many, setup_fake,
						teardown_fake),
		cmocka_unit_test_setup_teardown(test_evtchn_translation,
						setup_fake, teardown_fake),
		cmocka_unit_test_setup_teardown(test_domain_alive_translation,
						setup_fake, teardown_fake),
		cmocka_unit_test_setup_teardown(test_library_call_errors_at_debug,
						setup_fake, teardown_fake),
	};

	log_init("test_hv_xen", LOG_LVL_ERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
