/* netif_bad: a hostile network frontend for pvd-netback's bad-input tests.
 *
 * It creates a simulated domain (hv_sim), writes the vif's backend and
 * frontend directories through libxenstore as dom0 (as a toolstack
 * would), waits for the backend's InitWait, sets up one tx and one rx
 * ring (all rx buffers posted) and an event channel, writes the nodes
 * Linux's netfront writes and goes Connected; then it performs ONE named
 * case (see usage) and prints what it observed, in one line a test
 * script can check:
 *
 *   case=NAME state=S tx_okay=A tx_error=B tx_dropped=C tx_null=D
 *     rx_okay=E rx_error=F ctrl=STATUS[,STATUS...] error="the backend's error node"
 *
 * (state: the backend's xenbus state at the end; ctrl: the control
 * responses' statuses, "-" when none).  It stops waiting as soon as it has
 * every response it expects or the backend left Connected, and in any
 * case after --timeout ms: every wait is bounded.  Exit 0 when the case
 * ran (whatever the backend did), 77 when the backend lacks what the case
 * needs (feature-ctrl-ring, multi-queue), 1 on a set-up failure.
 *
 * --then-good adds one well-formed frame after a transmit case's frames
 * (its OKAY shows the vif still serves); --linger MS keeps the vif (store
 * nodes, rings, grants) after the result line until stdin reaches EOF or
 * MS pass, so a script can read pvd-netback's statistics of it.
 *
 * Slot counts in the names (slots-19, ...) count every data slot of the
 * frame, the first included.  Nothing here is an assertion about the
 * backend: the test script says what it must have done. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "pvd/hv_sim.h"
#include "pvd/num.h"
#include "pvd/ring_util.h"
#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

#define FIRST_REF 16
#define PAGE HV_PAGE_SIZE
#define TXN NET_TX_RING_SIZE
#define RXN NET_RX_RING_SIZE
#define NET_TX_RING_SIZE __CONST_RING_SIZE(netif_tx, HV_PAGE_SIZE)
#define NET_RX_RING_SIZE __CONST_RING_SIZE(netif_rx, HV_PAGE_SIZE)
#define MAC "00:16:3e:5a:00:01"
#define FRAME_LEN 60u
#define BAD_GREF 0xfffffff0u

struct cfg {
	unsigned domid, devid, timeout_ms, hold_ms, linger_ms;
	const char *bridge;
	bool toolstack, then_good;
};

struct nb {
	struct cfg c;
	struct xs_handle *xs;
	struct hv_sim_domain *dom;
	char be[128], fe[128];
	grant_ref_t next_ref;
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	xen_netif_ctrl_front_ring_t cr;
	grant_ref_t tx_ref, rx_ref, cr_ref;
	evtchn_port_t port, cr_port;
	unsigned long data_page;	/* one frame, granted as data_ref */
	grant_ref_t data_ref;
	unsigned be_max_queues;
	bool be_ctrl;
	/* What came back. */
	unsigned expect, got, okay, error, dropped, null;
	unsigned rx_okay, rx_error;
	char ctrl[128];
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "netif_bad: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static const char *const cases[][2] = {
	{ "good", "one well-formed frame (the baseline): OKAY" },
	{ "prod-past-ring", "fatal: req_prod more than a ring ahead of the backend" },
	{ "more-data-past-prod", "fatal: a more_data chain past what was produced" },
	{ "slots-22", "fatal: a frame of 22 slots (21 after the first)" },
	{ "cross-page", "fatal: offset + size across the page" },
	{ "extra-type-bad", "fatal: an extra-info of type 0" },
	{ "extra-type-max", "fatal: an extra-info of type XEN_NETIF_EXTRA_TYPE_MAX" },
	{ "gso-type-bad", "fatal: a GSO extra of unknown type" },
	{ "gso-size-0", "fatal: a GSO extra of size 0" },
	{ "extra-endless", "fatal: extra-info slots with FLAG_MORE up to the producer" },
	{ "slots-19", "accepted: 19 slots (18 after the first, netfront's most)" },
	{ "slots-20", "dropped: a frame of 20 slots (19 after the first)" },
	{ "slots-21", "dropped: a frame of 21 slots (20 after the first)" },
	{ "frag-too-big", "dropped: a fragment larger than what remains of the total" },
	{ "runt", "dropped: a frame of 10 bytes" },
	{ "bad-grant", "dropped: a grant reference out of the table" },
	{ "revoked-grant", "dropped: a grant ended before the backend copies it" },
	{ "foreign-grant", "dropped: a page granted to another domain" },
	{ "zero-len-frags", "XSA-448: zero-length fragments with invalid grants after a good head" },
	{ "rx-stall", "no rx buffers posted; holds --hold ms, then one good frame" },
	{ "rx-prod-past-ring", "fatal: rx req_prod more than a ring ahead; holds --hold ms" },
	{ "rx-bad-grant", "rx buffers with grants out of the table; holds --hold ms, then one good frame" },
	{ "ctrl-prod-past-ring", "fatal: control ring req_prod more than a ring ahead" },
	{ "mq-zero", "multi-queue-num-queues = 0: the backend must refuse" },
	{ "mq-too-many", "multi-queue-num-queues = the backend's max + 1: refused" },
	{ "hash-map-past-table", "control ring: a mapping past the table's size" },
	{ "hash-map-bad-queue", "control ring: mapping entries >= the number of queues" },
	{ "hash-map-wrap", "control ring: offset + size wrapping 32 bits" },
	{ "hash-key-too-big", "control ring: a Toeplitz key of 41 bytes" },
	{ "ring-ref-change", "tx-ring-ref rewritten while connected, then a good frame" },
	{ "evtchn-change", "event-channel rewritten while connected, then a good frame" },
};

static void usage(FILE *f, int status)
{
	fprintf(f,
"usage: netif_bad [--domid N] [--devid N] [--bridge BR] [--timeout MS]\n"
"                 [--hold MS] [--then-good] [--linger MS] [--no-toolstack] CASE\n"
"  A hostile guest's network frontend: sets up a vif against pvd-netback\n"
"  (store at $XENSTORED_PATH, sim domain under $PVD_RUNDIR), connects,\n"
"  performs CASE and prints one line:\n"
"    case=NAME state=S tx_okay=A tx_error=B tx_dropped=C tx_null=D\n"
"      rx_okay=E rx_error=F ctrl=ST error=\"...\"\n"
"  Defaults: --domid 1 --devid 0 --timeout 5000 --hold 2000.\n"
"  Exit 0: the case ran; 77: the backend lacks what it needs; 1: set-up failed.\n"
"Cases (slot counts include the first slot):\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fprintf(f, "  %-20s %s\n", cases[i][0], cases[i][1]);
	exit(status);
}

static uint64_t num(const char *what, const char *v, uint64_t max)
{
	uint64_t n;

	if (pvd_parse_uint(v, max, &n) < 0)
		die("%s: want a number up to %" PRIu64 ", got %s", what, max, v);
	return n;
}

static uint64_t now_ms(void)
{
	return hv_now_ns() / 1000000u;
}

/* ---- the store ---- */

static char *xread(struct nb *n, const char *dir, const char *node)
{
	char path[256];
	unsigned len;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	return xs_read(n->xs, XBT_NULL, path, &len);
}

static long long xread_num(struct nb *n, const char *dir, const char *node,
			   long long dflt)
{
	char *v = xread(n, dir, node);
	long long r = dflt;
	uint64_t u;

	if (v && pvd_parse_uint(v, INT64_MAX, &u) == 0)
		r = (long long)u;
	free(v);
	return r;
}

static void xwrite(struct nb *n, xs_transaction_t t, const char *dir,
		   const char *node, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void xwrite(struct nb *n, xs_transaction_t t, const char *dir,
		   const char *node, const char *fmt, ...)
{
	char path[256], val[256];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (!xs_write(n->xs, t, path, val, (unsigned)strlen(val)))
		die("xs_write %s: %s", path, strerror(errno));
}

static int be_state(struct nb *n)
{
	return (int)xread_num(n, n->be, "state", -1);
}

static bool wait_be_state(struct nb *n, int want)
{
	uint64_t end = now_ms() + n->c.timeout_ms;

	do {
		if (be_state(n) == want)
			return true;
		usleep(2000);
	} while (now_ms() < end);
	return false;
}

static void set_perms(struct nb *n, const char *path, unsigned owner,
		      unsigned reader)
{
	struct xs_permissions p[2] = {
		{ .id = owner, .perms = XS_PERM_NONE },
		{ .id = reader, .perms = XS_PERM_READ },
	};

	if (!xs_set_permissions(n->xs, XBT_NULL, path, p, 2))
		die("xs_set_permissions %s: %s", path, strerror(errno));
}

/* What libxl writes for a vif: both directories, one transaction. */
static void toolstack_create(struct nb *n)
{
	for (int tries = 0; tries < 16; tries++) {
		xs_transaction_t t = xs_transaction_start(n->xs);

		if (t == XBT_NULL)
			die("xs_transaction_start: %s", strerror(errno));
		xwrite(n, t, n->be, "frontend", "%s", n->fe);
		xwrite(n, t, n->be, "frontend-id", "%u", n->c.domid);
		xwrite(n, t, n->be, "handle", "%u", n->c.devid);
		xwrite(n, t, n->be, "mac", MAC);
		if (n->c.bridge)
			xwrite(n, t, n->be, "bridge", "%s", n->c.bridge);
		xwrite(n, t, n->be, "online", "1");
		xwrite(n, t, n->be, "state", "%d", XenbusStateInitialising);
		xwrite(n, t, n->fe, "backend", "%s", n->be);
		xwrite(n, t, n->fe, "backend-id", "0");
		xwrite(n, t, n->fe, "handle", "%u", n->c.devid);
		xwrite(n, t, n->fe, "mac", MAC);
		xwrite(n, t, n->fe, "state", "%d", XenbusStateInitialising);
		if (xs_transaction_end(n->xs, t, false))
			break;
		if (errno != EAGAIN)
			die("xs_transaction_end: %s", strerror(errno));
	}
	set_perms(n, n->be, 0, n->c.domid);
	set_perms(n, n->fe, n->c.domid, 0);
}

/* ---- the guest ---- */

static unsigned long page_alloc(struct nb *n)
{
	unsigned long p;
	int rc = hv_sim_page_alloc(n->dom, &p);

	if (rc < 0)
		die("page alloc: %s", strerror(-rc));
	return p;
}

static grant_ref_t grant_to(struct nb *n, unsigned long page, domid_t to,
			    int readonly)
{
	grant_ref_t ref = n->next_ref++;
	int rc;

	if (ref >= HV_SIM_NR_GRANTS)
		die("out of grant references");
	rc = hv_sim_grant(n->dom, ref, page, to, readonly);
	if (rc < 0)
		die("grant %u: %s", ref, strerror(-rc));
	return ref;
}

static grant_ref_t grant(struct nb *n, unsigned long page, int readonly)
{
	return grant_to(n, page, 0, readonly);
}

/* post_rx: 0 no rx buffers, 1 good ones, 2 with bad grant references. */
static void rings_setup(struct nb *n, int post_rx)
{
	unsigned long tp = page_alloc(n), rp = page_alloc(n);
	uint8_t *d;
	int rc;

	memset(hv_sim_page(n->dom, tp), 0, PAGE);
	memset(hv_sim_page(n->dom, rp), 0, PAGE);
	SHARED_RING_INIT((netif_tx_sring_t *)hv_sim_page(n->dom, tp));
	SHARED_RING_INIT((netif_rx_sring_t *)hv_sim_page(n->dom, rp));
	FRONT_RING_INIT(&n->tx, (netif_tx_sring_t *)hv_sim_page(n->dom, tp), PAGE);
	FRONT_RING_INIT(&n->rx, (netif_rx_sring_t *)hv_sim_page(n->dom, rp), PAGE);
	n->tx_ref = grant(n, tp, 0);
	n->rx_ref = grant(n, rp, 0);
	rc = hv_sim_evtchn_alloc_unbound(n->dom, 0, &n->port);
	if (rc < 0)
		die("evtchn_alloc_unbound: %s", strerror(-rc));
	/* The frame every case sends: broadcast, from our MAC, a local
	 * experimental ethertype. */
	n->data_page = page_alloc(n);
	d = hv_sim_page(n->dom, n->data_page);
	memset(d, 0xff, 6);
	memcpy(d + 6, "\x00\x16\x3e\x5a\x00\x01", 6);
	d[12] = 0x88;
	d[13] = 0xb5;
	for (unsigned i = 14; i < PAGE; i++)
		d[i] = (uint8_t)i;
	n->data_ref = grant(n, n->data_page, 1);
	for (unsigned i = 0; post_rx && i < RXN; i++) {
		netif_rx_request_t *r = RING_GET_REQUEST(&n->rx, n->rx.req_prod_pvt);

		r->id = (uint16_t)i;
		r->gref = post_rx == 2 ? BAD_GREF : grant(n, page_alloc(n), 0);
		n->rx.req_prod_pvt++;
	}
	RING_PUSH_REQUESTS(&n->rx);
}

static void ctrl_setup(struct nb *n)
{
	unsigned long cp = page_alloc(n);
	int rc;

	memset(hv_sim_page(n->dom, cp), 0, PAGE);
	SHARED_RING_INIT((xen_netif_ctrl_sring_t *)hv_sim_page(n->dom, cp));
	FRONT_RING_INIT(&n->cr, (xen_netif_ctrl_sring_t *)hv_sim_page(n->dom, cp), PAGE);
	n->cr_ref = grant(n, cp, 0);
	rc = hv_sim_evtchn_alloc_unbound(n->dom, 0, &n->cr_port);
	if (rc < 0)
		die("evtchn_alloc_unbound: %s", strerror(-rc));
}

/* The nodes Linux's netfront writes, then Connected.  nq_node: what to
 * write as multi-queue-num-queues (-1: nothing). */
static void write_front(struct nb *n, long long nq_node, bool ctrl)
{
	xs_transaction_t t = xs_transaction_start(n->xs);

	if (t == XBT_NULL)
		die("xs_transaction_start: %s", strerror(errno));
	if (nq_node >= 0)
		xwrite(n, t, n->fe, "multi-queue-num-queues", "%lld", nq_node);
	xwrite(n, t, n->fe, "tx-ring-ref", "%u", n->tx_ref);
	xwrite(n, t, n->fe, "rx-ring-ref", "%u", n->rx_ref);
	xwrite(n, t, n->fe, "event-channel", "%u", n->port);
	if (ctrl) {
		xwrite(n, t, n->fe, "ctrl-ring-ref", "%u", n->cr_ref);
		xwrite(n, t, n->fe, "event-channel-ctrl", "%u", n->cr_port);
	}
	xwrite(n, t, n->fe, "request-rx-copy", "1");
	xwrite(n, t, n->fe, "feature-rx-notify", "1");
	xwrite(n, t, n->fe, "feature-sg", "1");
	xwrite(n, t, n->fe, "feature-gso-tcpv4", "1");
	xwrite(n, t, n->fe, "feature-gso-tcpv6", "1");
	xwrite(n, t, n->fe, "feature-ipv6-csum-offload", "1");
	xwrite(n, t, n->fe, "state", "%d", XenbusStateConnected);
	if (!xs_transaction_end(n->xs, t, false))
		die("xs_transaction_end: %s", strerror(errno));
}

/* ---- requests and responses ---- */

static void put_tx(struct nb *n, grant_ref_t gref, uint16_t off, uint16_t flags,
		   uint16_t size)
{
	netif_tx_request_t *r = RING_GET_REQUEST(&n->tx, n->tx.req_prod_pvt);

	*r = (netif_tx_request_t){ .gref = gref, .offset = off, .flags = flags,
				   .id = (uint16_t)(n->tx.req_prod_pvt % TXN),
				   .size = size };
	n->tx.req_prod_pvt++;
	n->expect++;
}

static void put_extra(struct nb *n, uint8_t type, uint8_t flags,
		      uint16_t gso_size, uint8_t gso_type)
{
	struct netif_extra_info *x =
		(void *)RING_GET_REQUEST(&n->tx, n->tx.req_prod_pvt);

	memset(x, 0, sizeof(*x));
	x->type = type;
	x->flags = flags;
	x->u.gso.size = gso_size;
	x->u.gso.type = gso_type;
	n->tx.req_prod_pvt++;
	n->expect++;	/* answered with NETIF_RSP_NULL */
}

static void push_tx(struct nb *n)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&n->tx, notify);
	(void)notify;	/* always: a hostile guest does not save kicks */
	hv_sim_evtchn_notify(n->dom, n->port);
}

static void collect_tx(struct nb *n)
{
	RING_IDX rp = n->tx.sring->rsp_prod;

	PVD_RMB();
	/* The backend is not ours to trust either. */
	if (rp - n->tx.rsp_cons > TXN)
		rp = n->tx.rsp_cons + TXN;
	for (; n->tx.rsp_cons != rp; n->tx.rsp_cons++) {
		netif_tx_response_t r;

		RING_COPY_RESPONSE(&n->tx, n->tx.rsp_cons, &r);
		n->got++;
		if (r.status == NETIF_RSP_OKAY)
			n->okay++;
		else if (r.status == NETIF_RSP_ERROR)
			n->error++;
		else if (r.status == NETIF_RSP_DROPPED)
			n->dropped++;
		else if (r.status == NETIF_RSP_NULL)
			n->null++;
	}
}

/* rx responses: counted, never expected (the host decides what comes). */
static void collect_rx(struct nb *n)
{
	RING_IDX rp = n->rx.sring->rsp_prod;

	PVD_RMB();
	if (rp - n->rx.rsp_cons > RXN)
		rp = n->rx.rsp_cons + RXN;
	for (; n->rx.rsp_cons != rp; n->rx.rsp_cons++) {
		netif_rx_response_t r;

		RING_COPY_RESPONSE(&n->rx, n->rx.rsp_cons, &r);
		if (r.status < 0)
			n->rx_error++;
		else
			n->rx_okay++;
	}
}

static void collect_ctrl(struct nb *n)
{
	RING_IDX rp;

	if (!n->cr.sring)
		return;
	rp = n->cr.sring->rsp_prod;
	PVD_RMB();
	if (rp - n->cr.rsp_cons > RING_SIZE(&n->cr))
		rp = n->cr.rsp_cons + RING_SIZE(&n->cr);
	for (; n->cr.rsp_cons != rp; n->cr.rsp_cons++) {
		struct xen_netif_ctrl_response r;
		size_t len = strlen(n->ctrl);

		RING_COPY_RESPONSE(&n->cr, n->cr.rsp_cons, &r);
		snprintf(n->ctrl + len, sizeof(n->ctrl) - len, "%s%u",
			 len ? "," : "", r.status);
		n->got++;
	}
}

/* Until every expected response came, the backend left Connected, or
 * --timeout. */
static void observe(struct nb *n)
{
	uint64_t end = now_ms() + n->c.timeout_ms;
	evtchn_port_t p;

	for (;;) {
		while (hv_sim_evtchn_pending(n->dom, &p) == 0)
			hv_sim_evtchn_unmask(n->dom, p);
		collect_tx(n);
		collect_rx(n);
		collect_ctrl(n);
		if (n->got >= n->expect || be_state(n) != XenbusStateConnected ||
		    now_ms() >= end)
			return;
		hv_sim_evtchn_wait(n->dom, 10);
	}
}

static void report(struct nb *n, const char *name)
{
	char *err = xread(n, n->be, "error");
	char *ferr;

	if (!err) {
		/* libxl's place: error/<backend path relative>/error. */
		char path[256];

		snprintf(path, sizeof(path), "/local/domain/0/error%s/error",
			 n->be + strlen("/local/domain/0"));
		ferr = xs_read(n->xs, XBT_NULL, path, &(unsigned){ 0 });
		err = ferr;
	}
	for (char *c = err; c && *c; c++)
		if (*c == '"' || *c == '\n')
			*c = '\'';
	printf("case=%s state=%d tx_okay=%u tx_error=%u tx_dropped=%u tx_null=%u "
	       "rx_okay=%u rx_error=%u ctrl=%s error=\"%s\"\n", name, be_state(n),
	       n->okay, n->error, n->dropped, n->null, n->rx_okay, n->rx_error,
	       n->ctrl[0] ? n->ctrl : "-", err ? err : "");
	free(err);
}

/* ---- the cases ---- */

static void tx_slots(struct nb *n, unsigned nslots)
{
	put_tx(n, n->data_ref, 0, nslots > 1 ? NETTXF_more_data : 0,
	       (uint16_t)(nslots * FRAME_LEN));
	for (unsigned k = 1; k < nslots; k++)
		put_tx(n, n->data_ref, 0, k + 1 < nslots ? NETTXF_more_data : 0,
		       FRAME_LEN);
}

static void tx_extra(struct nb *n, uint8_t type, uint16_t gso_size,
		     uint8_t gso_type)
{
	put_tx(n, n->data_ref, 0, NETTXF_extra_info | NETTXF_csum_blank, FRAME_LEN);
	put_extra(n, type, 0, gso_size, gso_type);
}

static void pause_ms(struct nb *n, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end && be_state(n) == XenbusStateConnected)
		usleep(10000);
}

static void ctrl_req(struct nb *n, uint16_t type, uint32_t d0, uint32_t d1,
		     uint32_t d2)
{
	struct xen_netif_ctrl_request *r =
		RING_GET_REQUEST(&n->cr, n->cr.req_prod_pvt);

	*r = (struct xen_netif_ctrl_request){ .id = (uint16_t)n->cr.req_prod_pvt,
		.type = type, .data = { d0, d1, d2 } };
	n->cr.req_prod_pvt++;
	n->expect++;
}

static void ctrl_body(struct nb *n, const char *name)
{
	unsigned long pg = page_alloc(n);
	uint32_t *map = hv_sim_page(n->dom, pg);
	grant_ref_t ref;

	for (unsigned i = 0; i < PAGE / 4; i++)
		map[i] = strcmp(name, "hash-map-bad-queue") == 0 ? 1 : 0;
	ref = grant(n, pg, 1);
	ctrl_req(n, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		 XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0);
	if (strcmp(name, "hash-key-too-big") == 0) {
		ctrl_req(n, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, ref, 41, 0);
	} else {
		ctrl_req(n, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 64, 0, 0);
		/* data[1] is the size in entries, data[2] the offset. */
		if (strcmp(name, "hash-map-past-table") == 0)
			ctrl_req(n, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ref, 60, 10);
		else if (strcmp(name, "hash-map-wrap") == 0)
			ctrl_req(n, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ref, 2,
				 UINT32_MAX);
		else
			ctrl_req(n, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ref, 64, 0);
	}
	RING_PUSH_REQUESTS(&n->cr);
	hv_sim_evtchn_notify(n->dom, n->cr_port);
}

static void ctrl_case(struct nb *n, const char *name)
{
	if (!strcmp(name, "ctrl-prod-past-ring")) {
		n->cr.req_prod_pvt = n->cr.rsp_cons + RING_SIZE(&n->cr) + 1;
		n->expect = 1;
		RING_PUSH_REQUESTS(&n->cr);
		hv_sim_evtchn_notify(n->dom, n->cr_port);
		return;
	}
	ctrl_body(n, name);
}

/* Something of the connection changed under the backend, then a frame
 * on the rings it mapped at connect. */
static void change_case(struct nb *n, const char *name)
{
	if (strcmp(name, "ring-ref-change") == 0) {
		grant_ref_t ref = grant(n, page_alloc(n), 0);

		xwrite(n, XBT_NULL, n->fe, "tx-ring-ref", "%u", ref);
	} else {
		evtchn_port_t port;
		int rc = hv_sim_evtchn_alloc_unbound(n->dom, 0, &port);

		if (rc < 0)
			die("evtchn_alloc_unbound: %s", strerror(-rc));
		xwrite(n, XBT_NULL, n->fe, "event-channel", "%u", port);
	}
	pause_ms(n, n->c.hold_ms);
	tx_slots(n, 1);
}

/* The tx cases: what goes on the ring.  false: not one of them. */
static bool tx_case(struct nb *n, const char *c)
{
	if (!strcmp(c, "good"))
		tx_slots(n, 1);
	else if (!strcmp(c, "prod-past-ring")) {
		n->tx.req_prod_pvt = n->tx.rsp_cons + TXN + 1;
		n->expect = 1;
	} else if (!strcmp(c, "more-data-past-prod")) {
		put_tx(n, n->data_ref, 0, NETTXF_more_data, 2 * FRAME_LEN);
		put_tx(n, n->data_ref, 0, NETTXF_more_data, FRAME_LEN);
	} else if (!strncmp(c, "slots-", 6))
		tx_slots(n, (unsigned)num("slots", c + 6, 64));
	else if (!strcmp(c, "cross-page"))
		put_tx(n, n->data_ref, PAGE - 96, 0, 200);
	else if (!strcmp(c, "extra-type-bad"))
		tx_extra(n, XEN_NETIF_EXTRA_TYPE_NONE, 0, 0);
	else if (!strcmp(c, "extra-type-max"))
		tx_extra(n, XEN_NETIF_EXTRA_TYPE_MAX, 0, 0);
	else if (!strcmp(c, "gso-type-bad"))
		tx_extra(n, XEN_NETIF_EXTRA_TYPE_GSO, 1000, 7);
	else if (!strcmp(c, "gso-size-0"))
		tx_extra(n, XEN_NETIF_EXTRA_TYPE_GSO, 0, XEN_NETIF_GSO_TYPE_TCPV4);
	else if (!strcmp(c, "extra-endless")) {
		put_tx(n, n->data_ref, 0, NETTXF_extra_info, FRAME_LEN);
		for (unsigned k = 0; k < 30; k++)
			put_extra(n, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_FLAG_MORE,
				  1000, XEN_NETIF_GSO_TYPE_TCPV4);
	} else if (!strcmp(c, "frag-too-big")) {
		put_tx(n, n->data_ref, 0, NETTXF_more_data, 100);
		put_tx(n, n->data_ref, 0, 0, 200);
	} else if (!strcmp(c, "runt"))
		put_tx(n, n->data_ref, 0, 0, 10);
	else if (!strcmp(c, "bad-grant"))
		put_tx(n, BAD_GREF, 0, 0, FRAME_LEN);
	else if (!strcmp(c, "revoked-grant")) {
		grant_ref_t g = grant(n, n->data_page, 1);

		if (hv_sim_end_access(n->dom, g) < 0)
			die("cannot end access to grant %u", g);
		put_tx(n, g, 0, 0, FRAME_LEN);
	} else if (!strcmp(c, "foreign-grant"))
		put_tx(n, grant_to(n, n->data_page, 7, 1), 0, 0, FRAME_LEN);
	else if (!strcmp(c, "zero-len-frags")) {
		put_tx(n, n->data_ref, 0, NETTXF_more_data, FRAME_LEN);
		put_tx(n, BAD_GREF, 0, NETTXF_more_data, 0);
		put_tx(n, BAD_GREF, 0, NETTXF_more_data, 0);
		put_tx(n, BAD_GREF, 0, 0, 0);
	} else
		return false;
	return true;
}

static bool known(const char *c)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(cases[i][0], c))
			return true;
	return false;
}

/* Connects, performs case c, observes.  77 when it cannot run here. */
static int run_case(struct nb *n, const char *c)
{
	bool mq = !strncmp(c, "mq-", 3);
	bool hash = !strncmp(c, "hash-", 5) || !strncmp(c, "ctrl-", 5);
	uint64_t end;

	if (!wait_be_state(n, XenbusStateInitWait)) {
		fprintf(stderr, "netif_bad: backend %s never reached InitWait (state %d)\n",
			n->be, be_state(n));
		return 1;
	}
	n->be_max_queues = (unsigned)xread_num(n, n->be, "multi-queue-max-queues", 0);
	n->be_ctrl = xread_num(n, n->be, "feature-ctrl-ring", 0) != 0;
	if ((mq && !n->be_max_queues) || (hash && !n->be_ctrl)) {
		printf("case=%s skipped: the backend offers no %s\n", c,
		       mq ? "multi-queue-max-queues" : "feature-ctrl-ring");
		return 77;
	}
	rings_setup(n, !strcmp(c, "rx-stall") ? 0 : !strcmp(c, "rx-bad-grant") ? 2 : 1);
	if (hash)
		ctrl_setup(n);
	write_front(n, !strcmp(c, "mq-zero") ? 0 : !strcmp(c, "mq-too-many") ?
		    (long long)n->be_max_queues + 1 : -1, hash);
	if (mq) {
		/* Refused: the backend moves on from InitWait, not to Connected. */
		end = now_ms() + n->c.timeout_ms;
		while (now_ms() < end && be_state(n) <= XenbusStateInitialised)
			usleep(2000);
		return 0;
	}
	if (!wait_be_state(n, XenbusStateConnected))
		return 0;	/* reported as is */
	if (hash)
		ctrl_case(n, c);
	else if (!strncmp(c, "rx-", 3)) {
		/* The host sends what it sends (a script broadcasts meanwhile). */
		if (!strcmp(c, "rx-prod-past-ring")) {
			n->rx.sring->req_prod = n->rx.req_prod_pvt + RXN + 1;
			hv_sim_evtchn_notify(n->dom, n->port);
		}
		pause_ms(n, n->c.hold_ms);
		tx_slots(n, 1);
	} else if (!strcmp(c, "ring-ref-change") || !strcmp(c, "evtchn-change"))
		change_case(n, c);
	else if (tx_case(n, c) && n->c.then_good)
		tx_slots(n, 1);
	if (!hash)
		push_tx(n);
	observe(n);
	return 0;
}

/* Until stdin's EOF or --linger ms, whichever comes first. */
static void linger(struct nb *n)
{
	uint64_t end = now_ms() + n->c.linger_ms;
	char buf[256];

	while (now_ms() < end) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		int r = poll(&p, 1, (int)(end - now_ms()));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || read(0, buf, sizeof(buf)) <= 0)
			return;
	}
}

static void cleanup(struct nb *n)
{
	if (n->c.toolstack) {
		xs_rm(n->xs, XBT_NULL, n->fe);
		xs_rm(n->xs, XBT_NULL, n->be);
	}
	if (n->dom)
		hv_sim_domain_destroy(n->dom);
	xs_close(n->xs);
}

static const char *parse_args(struct nb *n, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			usage(stdout, 0);
		if (!strcmp(a, "--no-toolstack")) {
			n->c.toolstack = false;
			continue;
		}
		if (!strcmp(a, "--then-good")) {
			n->c.then_good = true;
			continue;
		}
		if (!v)
			usage(stderr, 2);
		i++;
		if (!strcmp(a, "--domid")) n->c.domid = (unsigned)num(a, v, DOMID_FIRST_RESERVED - 1);
		else if (!strcmp(a, "--devid")) n->c.devid = (unsigned)num(a, v, 65535);
		else if (!strcmp(a, "--timeout")) n->c.timeout_ms = (unsigned)num(a, v, 600000);
		else if (!strcmp(a, "--hold")) n->c.hold_ms = (unsigned)num(a, v, 600000);
		else if (!strcmp(a, "--linger")) n->c.linger_ms = (unsigned)num(a, v, 600000);
		else if (!strcmp(a, "--bridge")) n->c.bridge = v;
		else
			usage(stderr, 2);
	}
	if (i + 1 != argc || !known(argv[i]))
		usage(stderr, 2);
	return argv[i];
}

int main(int argc, char **argv)
{
	struct nb n = { .c = { .domid = 1, .timeout_ms = 5000, .hold_ms = 2000,
			       .toolstack = true } };
	const char *c = parse_args(&n, argc, argv);
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	n.xs = xs_open(0);
	if (!n.xs)
		die("xs_open: %s", strerror(errno));
	snprintf(n.be, sizeof(n.be), "/local/domain/0/backend/vif/%u/%u",
		 n.c.domid, n.c.devid);
	snprintf(n.fe, sizeof(n.fe), "/local/domain/%u/device/vif/%u",
		 n.c.domid, n.c.devid);
	/* Rings, RXN rx buffers, a few pages for the cases. */
	rc = hv_sim_domain_create(NULL, (domid_t)n.c.domid, RXN + 64, &n.dom);
	if (rc < 0)
		die("hv_sim_domain_create: %s", strerror(-rc));
	n.next_ref = FIRST_REF;
	if (n.c.toolstack)
		toolstack_create(&n);
	rc = run_case(&n, c);
	if (rc == 0) {
		report(&n, c);
		linger(&n);
	}
	cleanup(&n);
	return rc;
}
