/* hv_probe: pvd's hypervisor layer against a real Xen, run in the test's
 * dom0 (tests/xen/dom0-test.sh) while a domU lives.  What the daemons do
 * not exercise there is checked here: grant copy both ways, map and unmap
 * of a guest's page, the error statuses Xen gives for a bad reference and
 * a missing domain, event channels allocated unbound, domain liveness.
 *
 * The page used is the domU's console page, which Xen's toolstack grants
 * to dom0 as GNTTAB_RESERVED_CONSOLE.  Only its tail is written: struct
 * xencons_interface (<xen/io/console.h>) ends with its indices at 3088;
 * the rest of the page is unused by both ends.
 *
 * usage: hv_probe DOMID
 * Prints XENTEST PASS/FAIL hv-* lines; exit 0 when all passed.
 * usage: hv_probe DOMID ring
 * Prints the domU's xenstore ring indices (a copy of its page, grant
 * GNTTAB_RESERVED_XENSTORE): where a guest waiting on the store stands. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvd/hv.h"      /* before <xen/io/console.h>: it brings Xen's types */
#include <xen/io/console.h>
#include <xen/io/xs_wire.h>
#include "pvd/log.h"

#define SCRATCH_OFF 3584u
#define SCRATCH_LEN 256u

static int failures;

static void result(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void result(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("XENTEST %s %s ", ok ? "PASS" : "FAIL", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	failures += !ok;
}

static int copy1(struct hv *hv, domid_t dom, grant_ref_t ref, uint16_t dir,
		 uint16_t off, uint16_t len, void *buf)
{
	struct hv_copy_seg s = { .ref = ref, .domid = dom, .offset = off,
				 .len = len, .dir = dir, .local = buf };
	int rc = hv_grant_copy(hv, &s, 1);

	return rc ? rc : s.status;
}

static int ring_state(domid_t dom)
{
	static struct xenstore_domain_interface x;
	struct hv_copy_seg seg = { .ref = GNTTAB_RESERVED_XENSTORE, .domid = dom,
		.offset = 0, .len = sizeof(x), .dir = HV_COPY_FROM_GRANT,
		.local = &x };
	struct hv *hv;
	int rc = hv_open(&hv, NULL);

	if (rc == 0) {
		rc = hv_grant_copy(hv, &seg, 1);
		hv_close(hv);
	}
	if (rc < 0) {
		printf("XENTEST INFO dom%u xenstore ring: copy failed: %d\n", dom, rc);
		return 1;
	}
	printf("XENTEST INFO dom%u xenstore ring: req cons %u prod %u, rsp cons %u "
	       "prod %u, features %u, connection %u, error %u\n", dom,
	       x.req_cons, x.req_prod, x.rsp_cons, x.rsp_prod, x.server_features,
	       x.connection, x.error);
	return 0;
}

int main(int argc, char **argv)
{
	static unsigned char page[HV_PAGE_SIZE], pat[SCRATCH_LEN], back[SCRATCH_LEN];
	struct hv_copy_seg segs[3];
	struct hv *hv;
	const unsigned char *view;
	void *addr;
	grant_ref_t ref = GNTTAB_RESERVED_CONSOLE;
	evtchn_port_t port;
	domid_t dom;
	int rc;

	if (argc == 3 && strcmp(argv[2], "ring") == 0 && atoi(argv[1]) > 0)
		return ring_state((domid_t)atoi(argv[1]));
	if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) >= (int)DOMID_FIRST_RESERVED) {
		fprintf(stderr, "usage: hv_probe DOMID\n");
		return 2;
	}
	dom = (domid_t)atoi(argv[1]);
	_Static_assert(SCRATCH_OFF >= sizeof(struct xencons_interface),
		       "the scratch area overlaps the console ring");
	log_init("hv_probe", LOG_LVL_WARN, NULL);

	rc = hv_open(&hv, NULL);
	if (rc < 0) {
		result(false, "hv-open", "hv_open: %s", strerror(-rc));
		return 1;
	}
	result(strcmp(hv_impl_name(hv), "xen") == 0, "hv-open",
	       "automatic choice: %s", hv_impl_name(hv));

	rc = hv_domain_alive(hv, dom);
	result(rc == 1, "hv-alive", "dom%u alive: %d; dom%u (none): %d", dom, rc,
	       DOMID_FIRST_RESERVED - 1, hv_domain_alive(hv, DOMID_FIRST_RESERVED - 1));

	/* Copy from the grant, and the same page through a mapping. */
	rc = copy1(hv, dom, ref, HV_COPY_FROM_GRANT, 0, HV_PAGE_SIZE, page);
	if (rc == 0)
		rc = hv_grant_map(hv, dom, 1, &ref, 0, &addr);
	if (rc == 0) {
		const struct xencons_interface *ci;

		view = addr;
		ci = addr;
		/* The ring moves under us: compare the output ring's start,
		 * which the guest wrote long ago and does not rewrite until
		 * it wraps, and report the indices. */
		result(memcmp(view, page, 1024) == 0, "hv-copy-from",
		       "4096 bytes of dom%u's console page by grant copy, equal to a read-only map (out_prod %u)",
		       dom, (unsigned)ci->out_prod);
		rc = hv_grant_unmap(hv, addr, 1);
		result(rc == 0, "hv-unmap", "unmap: %d", rc);
	} else {
		result(false, "hv-copy-from", "%s", strerror(-rc));
	}

	/* Copy into the unused tail, read it back both ways. */
	for (unsigned i = 0; i < SCRATCH_LEN; i++)
		pat[i] = (unsigned char)(i * 7 + dom);
	rc = copy1(hv, dom, ref, HV_COPY_TO_GRANT, SCRATCH_OFF, SCRATCH_LEN, pat);
	if (rc == 0)
		rc = copy1(hv, dom, ref, HV_COPY_FROM_GRANT, SCRATCH_OFF, SCRATCH_LEN, back);
	if (rc == 0 && (rc = hv_grant_map(hv, dom, 1, &ref, 1, &addr)) == 0) {
		bool ok = memcmp(back, pat, SCRATCH_LEN) == 0 &&
			  memcmp((unsigned char *)addr + SCRATCH_OFF, pat, SCRATCH_LEN) == 0;

		memset((unsigned char *)addr + SCRATCH_OFF, 0, SCRATCH_LEN);
		hv_grant_unmap(hv, addr, 1);
		result(ok, "hv-copy-to", "%u bytes into the page's unused tail by grant copy, read back by copy and by a writable map",
		       SCRATCH_LEN);
	} else {
		result(false, "hv-copy-to", "%s", strerror(-rc));
	}

	/* A batch with bad segments: each fails alone, with Xen's verdict. */
	memset(segs, 0, sizeof(segs));
	segs[0] = (struct hv_copy_seg){ .ref = ref, .domid = dom, .len = 64,
		.dir = HV_COPY_FROM_GRANT, .local = back };
	segs[1] = (struct hv_copy_seg){ .ref = 1u << 20, .domid = dom, .len = 64,
		.dir = HV_COPY_FROM_GRANT, .local = back };
	segs[2] = (struct hv_copy_seg){ .ref = ref, .domid = DOMID_FIRST_RESERVED - 1,
		.len = 64, .dir = HV_COPY_FROM_GRANT, .local = back };
	rc = hv_grant_copy(hv, segs, 3);
	result(segs[0].status == 0 && segs[1].status < 0 && segs[2].status < 0 && rc == segs[1].status,
	       "hv-copy-errors", "batch of 3: good %d, ref 2^20 %d (%s), missing domain %d (%s); call %d",
	       segs[0].status, segs[1].status, strerror(-segs[1].status), segs[2].status,
	       strerror(-segs[2].status), rc);
	rc = hv_grant_map(hv, dom, 1, &(grant_ref_t){ 1u << 20 }, 0, &addr);
	result(rc < 0 && addr == NULL, "hv-map-errors", "map of ref 2^20: %d (%s)", rc,
	       strerror(-rc));

	/* Event channels: a port the domain could bind, notified while
	 * unconnected (dropped, as on Xen), unbound. */
	rc = hv_evtchn_alloc_unbound(hv, dom, &port);
	if (rc == 0) {
		int n = hv_evtchn_notify(hv, port);
		int p = hv_evtchn_pending(hv, &(evtchn_port_t){ 0 });
		int u = hv_evtchn_unbind(hv, port);

		result(n == 0 && p == -EAGAIN && u == 0, "hv-evtchn",
		       "unbound port %u for dom%u: notify %d, pending %d, unbind %d", port, dom, n, p, u);
	} else {
		result(false, "hv-evtchn", "alloc_unbound: %s", strerror(-rc));
	}
	rc = hv_evtchn_bind_interdomain(hv, dom, 4000, &port);
	result(rc < 0, "hv-evtchn-errors", "bind to dom%u's port 4000 (not offered): %d (%s)", dom, rc,
	       strerror(-rc));

	hv_close(hv);
	return failures ? 1 : 0;
}
