/* dom0's own xenstore ring (local.h).
 *
 * Followed: Xen 4.17's xenstored_posix.c (xenbus_map: mmap of one page of
 * /proc/xen/xsd_kva, PROT_READ|PROT_WRITE, MAP_SHARED, offset 0) and
 * xenstored_domain.c (dom0_init: the port read as decimal text from
 * /proc/xen/xsd_port).  A PV dom0 whose start info names no store event
 * channel expects a local xenstored: its kernel allocated the page and an
 * unbound port for dom0 itself, and waits for the daemon's first event
 * (Linux's xenbus_probe.c, xenstored_local_init / xenbus_probe_thread). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "local.h"
#include "pvd/hv.h"
#include "pvd/log.h"
#include "pvd/num.h"

static int read_port(const char *dir, evtchn_port_t *port)
{
	char path[256], buf[32];
	uint64_t v;
	ssize_t n;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/xsd_port", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		log_err("cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (rc == 0 && (n <= 0 ||
	    pvd_parse_uint_n(buf, (size_t)n, 10, UINT32_MAX, &v) < 0 || v == 0))
		rc = -EINVAL;
	if (rc < 0) {
		log_err("%s does not hold a port number: %s", path,
			strerror(-rc));
		return rc;
	}
	*port = (evtchn_port_t)v;
	return 0;
}

int local_store_open(const char *dir, void **page, evtchn_port_t *port)
{
	char path[256];
	void *p;
	int fd, rc;

	*page = NULL;
	rc = read_port(dir, port);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/xsd_kva", dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		log_err("cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	p = mmap(NULL, HV_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rc = p == MAP_FAILED ? -errno : 0;
	close(fd);
	if (rc < 0) {
		log_err("cannot map %s: %s", path, strerror(-rc));
		return rc;
	}
	*page = p;
	return 0;
}

void local_store_close(void *page)
{
	if (page)
		munmap(page, HV_PAGE_SIZE);
}
