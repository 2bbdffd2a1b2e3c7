/* pvguest's network frontend (tools/pvguest/netfront.c, netpkt.c).
 *
 * The pure parts first: a frame's tx slot plan (checksum flags, GSO
 * extra, SG split, what does not fit), checksum offsets and completion,
 * the rx response chain checks and the virtio-net header of a received
 * frame.  Then the frontend against a fake backend in the same process
 * (a dom0 handle of the sim hypervisor, over pvd-stored's real core,
 * pvguest_fakestore.h), in a network namespace of the test's own (root
 * only; skipped otherwise): negotiation with every feature offered and
 * with every feature turned off, a backend without feature-rx-copy
 * refused, a frame sent through the tap onto the tx ring and one from
 * the rx ring out of the tap (AF_PACKET sockets on eth0), hostile
 * responses (bad tx id, rx producer past the requests) disabling the NIC,
 * and Closing removing the tap. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_packet.h>
#include <cmocka.h>

#include "../../tools/pvguest/xs_ring.h"
#include "../../tools/pvguest/xenbus_xs.h"
#include "../../tools/pvguest/frontend.h"
#include "../../tools/pvguest/gntalloc.h"
#include "../../tools/pvguest/netfront.h"
#include "pvguest_fakestore.h"

#include "../../tools/pvguest/guest.h"
#include "pvd/hv.h"
#include "pvd/hv_sim.h"
#include <xen/io/xenbus.h>
#include "pvd/log.h"
#include "pvd/num.h"

#define GUEST 5
#define FE "/local/domain/5/device/vif/0"
#define BE "/local/domain/0/backend/vif/5/0"
#define MAC "00:16:3e:01:02:03"
#define ROUNDS 300
#define ETHERTYPE 0x88b5	/* local experimental: nothing else sends it */

/* ---- the pure functions ---- */

static void eth(uint8_t *f, unsigned type)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, "\x00\x16\x3e\x01\x02\x03", 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
}

/* Ethernet + IPv4 (20) + TCP (20) + payload. */
static size_t ipv4_tcp(uint8_t *f, size_t payload)
{
	memset(f, 0, 54 + payload);
	eth(f, 0x0800);
	f[14] = 0x45;
	f[14 + 9] = 6;
	f[14 + 20 + 12] = 5 << 4;
	return 54 + payload;
}

static size_t ipv6_udp(uint8_t *f, size_t payload)
{
	memset(f, 0, 62 + payload);
	eth(f, 0x86dd);
	f[14] = 0x60;
	f[14 + 6] = 17;
	for (size_t i = 0; i < payload; i++)
		f[62 + i] = (uint8_t)(i * 13 + 1);
	return 62 + payload;
}

static void test_tx_plan_csum_one_slot(void **state)
{
	static uint8_t f[2048];
	struct virtio_net_hdr vh = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16,
	};
	struct netfront_txcaps caps = { .sg = true };
	struct netfront_txplan p;
	size_t len = ipv4_tcp(f, 1000);

	assert_int_equal(netfront_tx_plan(&vh, len, &caps, true, f, &p), 0);
	assert_int_equal(p.nslots, 1);
	assert_int_equal(p.size[0], len);
	assert_int_equal(p.flags, NETTXF_csum_blank | NETTXF_data_validated);
	assert_false(p.has_extra);
	assert_false(p.sw_csum);
}

static void test_tx_plan_gso_sg(void **state)
{
	static uint8_t f[NETFRONT_FRAME_MAX];
	struct virtio_net_hdr vh = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448, .hdr_len = 54,
	};
	struct netfront_txcaps caps = { .sg = true, .gso4 = true };
	struct netfront_txplan p;
	size_t len = ipv4_tcp(f, 65000);
	size_t sum = 0;

	assert_int_equal(netfront_tx_plan(&vh, len, &caps, true, f, &p), 0);
	assert_int_equal(p.nslots, (len + 4095) / 4096);
	for (unsigned k = 0; k < p.nslots; k++) {
		assert_true(p.size[k] > 0 && p.size[k] <= 4096);
		sum += p.size[k];
	}
	assert_int_equal(sum, len);
	assert_true(p.flags & NETTXF_more_data);
	assert_true(p.flags & NETTXF_extra_info);
	assert_true(p.has_extra);
	assert_int_equal(p.extra.type, XEN_NETIF_EXTRA_TYPE_GSO);
	assert_int_equal(p.extra.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV4);
	assert_int_equal(p.extra.u.gso.size, 1448);
	assert_int_equal(p.extra.flags, 0);
	/* TCPv6 maps to netif's 2. */
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	caps.gso6 = true;
	assert_int_equal(netfront_tx_plan(&vh, len, &caps, true, f, &p), 0);
	assert_int_equal(p.extra.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV6);
}

static void test_tx_plan_refused(void **state)
{
	static uint8_t f[NETFRONT_FRAME_MAX];
	struct virtio_net_hdr vh = { 0 };
	struct netfront_txcaps nosg = { 0 }, sg = { .sg = true };
	struct netfront_txplan p;
	size_t len = ipv4_tcp(f, 5000);

	/* No SG: one page at most. */
	assert_int_equal(netfront_tx_plan(&vh, len, &nosg, true, f, &p), -EMSGSIZE);
	assert_int_equal(netfront_tx_plan(&vh, 4096, &nosg, true, f, &p), 0);
	assert_int_equal(p.nslots, 1);
	assert_false(p.flags & NETTXF_more_data);
	/* Under an Ethernet header. */
	assert_int_equal(netfront_tx_plan(&vh, 13, &sg, true, f, &p), -EINVAL);
	/* GSO that was not negotiated, or of size 0. */
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = 1448;
	assert_int_equal(netfront_tx_plan(&vh, len, &sg, true, f, &p), -EINVAL);
	sg.gso4 = true;
	vh.gso_size = 0;
	assert_int_equal(netfront_tx_plan(&vh, len, &sg, true, f, &p), -EINVAL);
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	vh.gso_size = 1448;
	assert_int_equal(netfront_tx_plan(&vh, len, &sg, true, f, &p), -EINVAL);
	/* A checksum field past the frame. */
	vh = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				      .csum_start = 60000, .csum_offset = 16 };
	assert_int_equal(netfront_tx_plan(&vh, len, &sg, true, f, &p), -EINVAL);
}

static uint16_t fold(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)p[0] << 8 | p[1];
	if (n)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* IPv6 without feature-ipv6-csum-offload: we complete the checksum. */
static void test_tx_plan_ipv6_sw_csum(void **state)
{
	static uint8_t f[2048];
	struct virtio_net_hdr vh = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 54, .csum_offset = 6,
	};
	struct netfront_txcaps caps = { .sg = true };
	struct netfront_txplan p;
	size_t len = ipv6_udp(f, 333);

	assert_int_equal(netfront_tx_plan(&vh, len, &caps, false, f, &p), 0);
	assert_true(p.sw_csum);
	assert_false(p.flags & NETTXF_csum_blank);
	f[54 + 6] = 0x12;	/* the pseudo-header's sum, say */
	f[54 + 7] = 0x34;
	assert_int_equal(netfront_csum_fill(f, len, 54, 6), 0);
	/* Over the segment the complement sum is now all ones, less the
	 * pseudo-header part that was in the field. */
	assert_int_equal(fold(f + 54, len - 54, 0x1234), 0xffff);
	assert_int_equal(netfront_csum_fill(f, 60, 54, 6), -EINVAL);
	/* With the offload, the backend does it. */
	assert_int_equal(netfront_tx_plan(&vh, len, &caps, true, f, &p), 0);
	assert_false(p.sw_csum);
	assert_true(p.flags & NETTXF_csum_blank);
}

static void test_csum_offsets(void **state)
{
	static uint8_t f[2048];
	uint16_t start, off;
	size_t len = ipv4_tcp(f, 100);

	assert_int_equal(netfront_csum_offsets(f, len, &start, &off), 0);
	assert_int_equal(start, 34);
	assert_int_equal(off, 16);
	len = ipv6_udp(f, 100);
	assert_int_equal(netfront_csum_offsets(f, len, &start, &off), 0);
	assert_int_equal(start, 54);
	assert_int_equal(off, 6);
	/* A VLAN tag in front. */
	memmove(f + 18, f + 14, len - 14);
	f[12] = 0x81; f[13] = 0x00; f[14] = 0; f[15] = 5; f[16] = 0x86; f[17] = 0xdd;
	assert_int_equal(netfront_csum_offsets(f, len + 4, &start, &off), 0);
	assert_int_equal(start, 58);
	/* An IPv4 fragment, ARP, a truncated header. */
	len = ipv4_tcp(f, 100);
	f[14 + 6] = 0x20;
	assert_int_equal(netfront_csum_offsets(f, len, &start, &off), -EPROTONOSUPPORT);
	eth(f, 0x0806);
	assert_int_equal(netfront_csum_offsets(f, 60, &start, &off), -EPROTONOSUPPORT);
	len = ipv4_tcp(f, 0);
	assert_int_equal(netfront_csum_offsets(f, 40, &start, &off), -EPROTONOSUPPORT);
}

static void test_rx_vnet(void **state)
{
	static uint8_t f[8192];
	struct netif_extra_info gso = { .type = XEN_NETIF_EXTRA_TYPE_GSO };
	struct virtio_net_hdr vh;
	size_t len = ipv4_tcp(f, 3000);

	gso.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
	gso.u.gso.size = 1448;
	assert_int_equal(netfront_rx_vnet(NETRXF_csum_blank | NETRXF_data_validated,
					  &gso, f, len, &vh), 0);
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vh.gso_size, 1448);
	assert_int_equal(vh.csum_start, 34);
	assert_int_equal(vh.csum_offset, 16);
	gso.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV6;
	assert_int_equal(netfront_rx_vnet(NETRXF_csum_blank, &gso, f, len, &vh), 0);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(netfront_rx_vnet(NETRXF_data_validated, NULL, f, len, &vh), 0);
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(netfront_rx_vnet(0, NULL, f, len, &vh), 0);
	assert_int_equal(vh.flags, 0);
	/* Bad GSO: unknown type, size 0, or with no checksum to complete. */
	gso.u.gso.type = 7;
	assert_int_equal(netfront_rx_vnet(NETRXF_csum_blank, &gso, f, len, &vh), -EINVAL);
	gso.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
	gso.u.gso.size = 0;
	assert_int_equal(netfront_rx_vnet(NETRXF_csum_blank, &gso, f, len, &vh), -EINVAL);
	gso.u.gso.size = 1448;
	assert_int_equal(netfront_rx_vnet(0, &gso, f, len, &vh), -EINVAL);
	/* csum_blank on what cannot be parsed: dropped. */
	eth(f, 0x0806);
	assert_int_equal(netfront_rx_vnet(NETRXF_csum_blank, NULL, f, 60, &vh),
			 -EPROTONOSUPPORT);
}

static void set_extra(struct netif_rx_response *r, uint8_t type, uint8_t flags)
{
	struct netif_extra_info *x = (struct netif_extra_info *)r;

	memset(r, 0, sizeof(*r));
	x->type = type;
	x->flags = flags;
}

static void test_rx_chain(void **state)
{
	struct netif_rx_response r[32] = { 0 };
	unsigned ns, nd;

	r[0] = (struct netif_rx_response){ .status = 100 };
	assert_int_equal(netfront_rx_chain(r, 1, &ns, &nd), 0);
	assert_int_equal(ns, 1);
	assert_int_equal(netfront_rx_chain(r, 0, &ns, &nd), -EAGAIN);
	/* First slot, GSO extra, two more data slots. */
	r[0] = (struct netif_rx_response){ .status = 4096,
		.flags = NETRXF_more_data | NETRXF_extra_info };
	set_extra(&r[1], XEN_NETIF_EXTRA_TYPE_GSO, 0);
	r[2] = (struct netif_rx_response){ .id = 2, .status = 4096, .flags = NETRXF_more_data };
	r[3] = (struct netif_rx_response){ .id = 3, .status = 10 };
	assert_int_equal(netfront_rx_chain(r, 4, &ns, &nd), 0);
	assert_int_equal(ns, 4);
	assert_int_equal(nd, 3);
	assert_int_equal(netfront_rx_chain(r, 3, &ns, &nd), -EAGAIN);
	/* offset + size across the page. */
	r[3].offset = 4090;
	assert_int_equal(netfront_rx_chain(r, 4, &ns, &nd), -EPROTO);
	assert_int_equal(ns, 4);
	r[3].offset = 0;
	/* A later slot with an error status. */
	r[3].status = NETIF_RSP_ERROR;
	assert_int_equal(netfront_rx_chain(r, 4, &ns, &nd), -EPROTO);
	assert_int_equal(ns, 4);
	/* Errors on every data slot (a failed grant copy): dropped whole,
	 * and a chain still incomplete waits for its end. */
	r[0].status = r[2].status = NETIF_RSP_ERROR;
	assert_int_equal(netfront_rx_chain(r, 3, &ns, &nd), -EAGAIN);
	assert_int_equal(netfront_rx_chain(r, 4, &ns, &nd), -EPROTO);
	assert_int_equal(ns, 4);
	r[0].status = r[2].status = 4096;
	r[3].status = 10;
	/* Extra type out of range; an extra chain that never ends. */
	set_extra(&r[1], XEN_NETIF_EXTRA_TYPE_MAX, 0);
	assert_int_equal(netfront_rx_chain(r, 4, &ns, &nd), -EPROTO);
	assert_int_equal(ns, 4);
	r[0].flags = NETRXF_extra_info;
	for (unsigned i = 1; i < 32; i++)
		set_extra(&r[i], XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_FLAG_MORE);
	assert_int_equal(netfront_rx_chain(r, 32, &ns, &nd), -EBADMSG);
	/* More data slots than any frame has. */
	for (unsigned i = 0; i < 32; i++)
		r[i] = (struct netif_rx_response){ .id = (uint16_t)i, .status = 100,
						   .flags = NETRXF_more_data };
	assert_int_equal(netfront_rx_chain(r, 32, &ns, &nd), -EBADMSG);
	r[NETFRONT_MAX_SLOTS - 1].flags = 0;
	assert_int_equal(netfront_rx_chain(r, 32, &ns, &nd), 0);
	assert_int_equal(nd, NETFRONT_MAX_SLOTS);
	/* A status below any defined error. */
	r[0] = (struct netif_rx_response){ .status = -100 };
	assert_int_equal(netfront_rx_chain(r, 1, &ns, &nd), -EPROTO);
	assert_int_equal(ns, 1);
}

/* ---- the frontend against a fake backend ---- */

struct fx {
	char dir[64];
	struct event_base *base;
	struct xenstore_domain_interface *intf;
	struct fakestore fs;
	struct xenbus *xb;
	struct hv_sim_domain *dom;
	struct gntalloc *gnt;
	struct frontends *fe;
	struct netfront_config cfg;
	struct {
		evtchn_port_t port;
		guest_port_fn *fn;
		void *arg;
	} h[64];
	unsigned nh;
	/* The backend. */
	struct hv *hv;
	bool up;
	void *txa, *rxa;
	netif_tx_back_ring_t tx;
	netif_rx_back_ring_t rx;
	evtchn_port_t port;
	unsigned ntx;
	uint8_t last[4096];
	size_t last_len;
	uint16_t last_flags;
};

int __wrap_guest_port_handler_set(struct guest *g, evtchn_port_t port,
				  guest_port_fn *fn, void *arg);
const char *__wrap_guest_dir(const struct guest *g);

int __wrap_guest_port_handler_set(struct guest *g, evtchn_port_t port,
				  guest_port_fn *fn, void *arg)
{
	struct fx *f = (struct fx *)g;

	for (unsigned i = 0; i < f->nh; i++) {
		if (f->h[i].port == port) {
			if (fn) {
				f->h[i].fn = fn;
				f->h[i].arg = arg;
			} else {
				f->h[i] = f->h[--f->nh];
			}
			return 0;
		}
	}
	if (!fn)
		return 0;
	if (f->nh == 64)
		return -ENOSPC;
	f->h[f->nh].port = port;
	f->h[f->nh].fn = fn;
	f->h[f->nh++].arg = arg;
	return 0;
}

const char *__wrap_guest_dir(const struct guest *g)
{
	return ((const struct fx *)g)->dir;
}

static void notify(void *arg) { }

static void d0_write(struct fx *f, const char *path, const char *val)
{
	assert_int_equal(fakestore_dom0(&f->fs, XS_WRITE, 2, path, val), XS_WRITE);
}

static bool d0_read(struct fx *f, const char *path, char *out, size_t len)
{
	if (fakestore_dom0(&f->fs, XS_READ, 1, path) != XS_READ ||
	    strlen(f->fs.body) >= len)
		return false;
	strcpy(out, f->fs.body);
	return true;
}

static unsigned d0_num(struct fx *f, const char *path)
{
	char v[64];
	uint64_t n;

	if (!d0_read(f, path, v, sizeof(v)))
		return ~0u;
	assert_int_equal(pvd_parse_uint(v, UINT32_MAX - 1, &n), 0);
	return (unsigned)n;
}

static void be_write(struct fx *f, const char *key, const char *val)
{
	char p[256];

	snprintf(p, sizeof(p), BE "/%s", key);
	d0_write(f, p, val);
	assert_int_equal(fakestore_dom0(&f->fs, XS_SET_PERMS, 3, p, "n0", "r5"),
			 XS_SET_PERMS);
}

static void fb_serve_tx(struct fx *f)
{
	int more;

	do {
		while (RING_HAS_UNCONSUMED_REQUESTS(&f->tx)) {
			netif_tx_request_t req;
			netif_tx_response_t *rsp;

			RING_COPY_REQUEST(&f->tx, f->tx.req_cons, &req);
			f->tx.req_cons++;
			assert_true(req.size <= 4096);	/* no SG here: one slot */
			struct hv_copy_seg c = {
				.ref = req.gref, .domid = GUEST, .offset = req.offset,
				.len = req.size, .dir = HV_COPY_FROM_GRANT, .local = f->last,
			};
			assert_int_equal(hv_grant_copy(f->hv, &c, 1), 0);
			f->last_len = req.size;
			f->last_flags = req.flags;
			f->ntx++;
			rsp = RING_GET_RESPONSE(&f->tx, f->tx.rsp_prod_pvt);
			rsp->id = req.id;
			rsp->status = NETIF_RSP_OKAY;
			f->tx.rsp_prod_pvt++;
		}
		HV_RING_PUSH_RESPONSES(&f->tx, hv_evtchn_notify(f->hv, f->port));
		RING_FINAL_CHECK_FOR_REQUESTS(&f->tx, more);
	} while (more);
}

static void fb_serve(struct fx *f)
{
	evtchn_port_t p;

	if (!f->up)
		return;
	while (hv_evtchn_pending(f->hv, &p) == 0)
		hv_evtchn_unmask(f->hv, p);
	fb_serve_tx(f);
}

static void turn(struct fx *f)
{
	evtchn_port_t port;

	event_base_loop(f->base, EVLOOP_NONBLOCK);
	fakestore_pump(&f->fs);
	xenbus_kick(f->xb);
	fb_serve(f);
	while (hv_sim_evtchn_pending(f->dom, &port) == 0) {
		hv_sim_evtchn_unmask(f->dom, port);
		for (unsigned i = 0; i < f->nh; i++)
			if (f->h[i].port == port)
				f->h[i].fn(f->h[i].arg, port);
	}
}

static void settle(struct fx *f)
{
	for (int i = 0; i < ROUNDS; i++)
		turn(f);
}

static struct netfront *dev(struct fx *f)
{
	struct frontend_dev *d = frontend_find(f->fe, "vif", "0");

	return d ? d->priv : NULL;
}

/* The frontend connected with one queue and one event channel: map and
 * bind, as netback's connect. */
static void fb_connect(struct fx *f)
{
	grant_ref_t tref = d0_num(f, FE "/tx-ring-ref");
	grant_ref_t rref = d0_num(f, FE "/rx-ring-ref");
	evtchn_port_t port = d0_num(f, FE "/event-channel");

	assert_int_not_equal(tref, ~0u);
	assert_int_not_equal(port, ~0u);
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &tref, 1, &f->txa), 0);
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &rref, 1, &f->rxa), 0);
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, GUEST, port, &f->port), 0);
	BACK_RING_INIT(&f->tx, (netif_tx_sring_t *)f->txa, HV_PAGE_SIZE);
	BACK_RING_INIT(&f->rx, (netif_rx_sring_t *)f->rxa, HV_PAGE_SIZE);
	f->up = true;
}

static void fb_release(struct fx *f)
{
	if (!f->up)
		return;
	hv_grant_unmap(f->hv, f->txa, 1);
	hv_grant_unmap(f->hv, f->rxa, 1);
	hv_evtchn_unbind(f->hv, f->port);
	f->up = false;
}

static void toolstack_nodes(struct fx *f)
{
	d0_write(f, FE "/backend", BE);
	d0_write(f, FE "/backend-id", "0");
	d0_write(f, FE "/handle", "0");
	d0_write(f, FE "/mac", MAC);
	d0_write(f, FE "/state", "1");
	be_write(f, "frontend", FE);
	be_write(f, "frontend-id", "5");
	be_write(f, "handle", "0");
	be_write(f, "mac", MAC);
	be_write(f, "state", "1");
}

static void be_features(struct fx *f, bool all)
{
	be_write(f, "feature-rx-copy", "1");
	be_write(f, "feature-rx-flip", "0");
	be_write(f, "feature-sg", "1");
	be_write(f, "feature-gso-tcpv4", "1");
	be_write(f, "feature-gso-tcpv6", "1");
	be_write(f, "feature-ipv6-csum-offload", "1");
	if (all) {
		be_write(f, "feature-split-event-channels", "1");
		be_write(f, "multi-queue-max-queues", "8");
		be_write(f, "feature-ctrl-ring", "1");
	}
}

static bool in_own_netns;

/* Taps are made only in a namespace of the test's own. */
static int group_setup(void **state)
{
	FILE *fp;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		return 0;
	in_own_netns = true;
	/* No router solicitations or MLD reports on the tap. */
	fp = fopen("/proc/sys/net/ipv6/conf/default/disable_ipv6", "w");
	if (fp) {
		fputs("1", fp);
		fclose(fp);
	}
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct hv_config hc = { .impl = "sim", .domid = 0 };

	strcpy(f->dir, "/tmp/pvd-netfront.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->base = event_base_new();
	f->intf = calloc(1, sizeof(*f->intf));
	fakestore_init(&f->fs, f->base, GUEST, f->intf);
	assert_int_equal(xenbus_create(&f->xb, f->base, f->intf, notify, f), 0);
	assert_int_equal(hv_sim_domain_create(f->dir, GUEST, 8192, &f->dom), 0);
	assert_int_equal(gntalloc_create(&f->gnt, HV_SIM_NR_GRANTS), 0);
	hc.rundir = f->dir;
	assert_int_equal(hv_open(&f->hv, &hc), 0);
	netfront_opts_default(&f->cfg.opts);
	f->cfg.opts.max_queues = 2;
	f->cfg.own_netns = in_own_netns;
	*state = f;
	return 0;
}

static void start_fe(struct fx *f)
{
	const struct frontend_ops *ops = &netfront_ops;
	struct frontend_env env = {
		.base = f->base, .xb = f->xb, .dom = f->dom,
		.guest = (struct guest *)f, .domid = GUEST, .gnt = f->gnt,
		.net = &f->cfg,
	};

	assert_int_equal(frontend_start(&f->fe, &env, &ops, 1), 0);
	settle(f);
}

static int teardown_fx(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	frontend_stop(f->fe);
	fb_release(f);
	hv_close(f->hv);
	gntalloc_destroy(f->gnt);
	hv_sim_domain_destroy(f->dom);
	xenbus_destroy(f->xb);
	fakestore_fini(&f->fs);
	event_base_free(f->base);
	free(f->intf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void need_netns(void)
{
	if (!in_own_netns)
		skip();
}

static bool link_mac_mtu(const char *name, uint8_t mac[6], int *mtu)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	bool ok;

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ok = ioctl(s, SIOCGIFHWADDR, &ifr) == 0;
	if (ok)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	ok = ok && ioctl(s, SIOCGIFMTU, &ifr) == 0;
	*mtu = ifr.ifr_mtu;
	close(s);
	return ok;
}

static void bring_up(struct fx *f, bool all)
{
	start_fe(f);
	toolstack_nodes(f);
	settle(f);
	assert_non_null(dev(f));
	be_features(f, all);
	be_write(f, "state", "2");
	settle(f);
}

static void test_negotiate_all(void **state)
{
	struct fx *f = *state;
	uint8_t mac[6];
	int mtu;

	need_netns();
	bring_up(f, true);
	assert_int_equal(d0_num(f, FE "/state"), XenbusStateConnected);
	assert_int_equal(d0_num(f, FE "/multi-queue-num-queues"), 2);
	for (unsigned k = 0; k < 2; k++) {
		char p[128];

		snprintf(p, sizeof(p), FE "/queue-%u/tx-ring-ref", k);
		assert_int_not_equal(d0_num(f, p), ~0u);
		snprintf(p, sizeof(p), FE "/queue-%u/rx-ring-ref", k);
		assert_int_not_equal(d0_num(f, p), ~0u);
		snprintf(p, sizeof(p), FE "/queue-%u/event-channel-tx", k);
		assert_int_not_equal(d0_num(f, p), ~0u);
		snprintf(p, sizeof(p), FE "/queue-%u/event-channel-rx", k);
		assert_int_not_equal(d0_num(f, p), ~0u);
	}
	assert_int_equal(d0_num(f, FE "/tx-ring-ref"), ~0u);
	assert_int_not_equal(d0_num(f, FE "/ctrl-ring-ref"), ~0u);
	assert_int_not_equal(d0_num(f, FE "/event-channel-ctrl"), ~0u);
	assert_int_equal(d0_num(f, FE "/request-rx-copy"), 1);
	assert_int_equal(d0_num(f, FE "/feature-rx-notify"), 1);
	assert_int_equal(d0_num(f, FE "/feature-sg"), 1);
	assert_int_equal(d0_num(f, FE "/feature-gso-tcpv4"), 1);
	assert_int_equal(d0_num(f, FE "/feature-gso-tcpv6"), 1);
	assert_int_equal(d0_num(f, FE "/feature-ipv6-csum-offload"), 1);
	assert_true(netfront_connected(dev(f)));
	assert_true(link_mac_mtu("eth0", mac, &mtu));
	assert_memory_equal(mac, "\x00\x16\x3e\x01\x02\x03", 6);
	assert_int_equal(mtu, 1500);
}

static void test_negotiate_all_off(void **state)
{
	struct fx *f = *state;
	uint8_t mac[6];
	int mtu;

	need_netns();
	f->cfg.opts = (struct netfront_opts){
		.no_sg = true, .no_gso = true, .no_split = true, .no_rx_notify = true,
		.no_ctrl = true, .no_csum6 = true, .max_queues = 1,
	};
	d0_write(f, FE "/mtu", "9000");	/* no SG: 1500 at most */
	bring_up(f, true);
	assert_int_equal(d0_num(f, FE "/state"), XenbusStateConnected);
	/* The backend offered a max: we say how many, flat nodes for one. */
	assert_int_equal(d0_num(f, FE "/multi-queue-num-queues"), 1);
	assert_int_not_equal(d0_num(f, FE "/tx-ring-ref"), ~0u);
	assert_int_not_equal(d0_num(f, FE "/event-channel"), ~0u);
	assert_int_equal(d0_num(f, FE "/event-channel-tx"), ~0u);
	assert_int_equal(d0_num(f, FE "/queue-0/tx-ring-ref"), ~0u);
	assert_int_equal(d0_num(f, FE "/ctrl-ring-ref"), ~0u);
	assert_int_equal(d0_num(f, FE "/feature-sg"), 0);
	assert_int_equal(d0_num(f, FE "/feature-gso-tcpv4"), 0);
	assert_int_equal(d0_num(f, FE "/feature-rx-notify"), 0);
	assert_int_equal(d0_num(f, FE "/feature-ipv6-csum-offload"), 0);
	assert_true(link_mac_mtu("eth0", mac, &mtu));
	assert_int_equal(mtu, 1500);
}

static void test_no_rx_copy_refused(void **state)
{
	struct fx *f = *state;

	need_netns();
	start_fe(f);
	toolstack_nodes(f);
	settle(f);
	be_write(f, "feature-sg", "1");
	be_write(f, "state", "2");
	settle(f);
	assert_int_equal(d0_num(f, FE "/state"), XenbusStateClosed);
	assert_int_equal(d0_num(f, FE "/tx-ring-ref"), ~0u);
	assert_int_equal(if_nametoindex("eth0"), 0);
}

/* Connected with one queue, one event channel, no SG: the fake backend
 * maps the rings. */
static void up_simple(struct fx *f)
{
	f->cfg.opts.max_queues = 1;
	f->cfg.opts.no_sg = true;
	bring_up(f, false);
	assert_int_equal(d0_num(f, FE "/state"), XenbusStateConnected);
	fb_connect(f);
	be_write(f, "state", "4");
	settle(f);
}

static int packet_socket(void)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET, .sll_protocol = htons(ETHERTYPE),
		.sll_ifindex = (int)if_nametoindex("eth0"),
	};
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETHERTYPE));

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return s;
}

static void test_tx_frame_crosses_ring(void **state)
{
	struct fx *f = *state;
	uint8_t frame[200];
	int s;

	need_netns();
	up_simple(f);
	s = packet_socket();
	eth(frame, ETHERTYPE);
	for (unsigned i = 14; i < sizeof(frame); i++)
		frame[i] = (uint8_t)i;
	assert_int_equal(send(s, frame, sizeof(frame), 0), sizeof(frame));
	for (int i = 0; i < ROUNDS && !f->ntx; i++)
		turn(f);
	assert_int_equal(f->ntx, 1);
	assert_int_equal(f->last_len, sizeof(frame));
	assert_memory_equal(f->last, frame, sizeof(frame));
	settle(f);
	{
		struct netfront_stats st;

		netfront_get_stats(dev(f), &st);
		assert_int_equal(st.tx_packets, 1);
		assert_int_equal(st.bad_responses, 0);
	}
	close(s);
}

/* The backend puts a frame in the guest's next posted buffer. */
static void fb_rx_frame(struct fx *f, const uint8_t *frame, size_t len)
{
	netif_rx_request_t req;
	netif_rx_response_t *rsp;

	assert_true(RING_HAS_UNCONSUMED_REQUESTS(&f->rx));
	RING_COPY_REQUEST(&f->rx, f->rx.req_cons, &req);
	f->rx.req_cons++;
	struct hv_copy_seg c = {
		.ref = req.gref, .domid = GUEST, .offset = 0, .len = (uint16_t)len,
		.dir = HV_COPY_TO_GRANT, .local = (void *)frame,
	};
	assert_int_equal(hv_grant_copy(f->hv, &c, 1), 0);
	rsp = RING_GET_RESPONSE(&f->rx, f->rx.rsp_prod_pvt);
	*rsp = (netif_rx_response_t){ .id = req.id, .status = (int16_t)len };
	f->rx.rsp_prod_pvt++;
	HV_RING_PUSH_RESPONSES(&f->rx, hv_evtchn_notify(f->hv, f->port));
}

static void test_rx_frame_reaches_tap(void **state)
{
	struct fx *f = *state;
	uint8_t frame[300], got[400];
	struct pollfd pfd;
	ssize_t n = -1;
	int s;

	need_netns();
	up_simple(f);
	/* Every buffer posted. */
	assert_int_equal(f->rx.sring->req_prod, 256);
	s = packet_socket();
	eth(frame, ETHERTYPE);
	memcpy(frame, "\x00\x16\x3e\x01\x02\x03", 6);	/* to us */
	for (unsigned i = 14; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 3);
	fb_rx_frame(f, frame, sizeof(frame));
	pfd = (struct pollfd){ .fd = s, .events = POLLIN };
	for (int i = 0; i < ROUNDS && n < 0; i++) {
		turn(f);
		if (poll(&pfd, 1, 0) == 1)
			n = recv(s, got, sizeof(got), 0);
	}
	assert_int_equal(n, sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	settle(f);
	/* The slot was posted again. */
	assert_int_equal(f->rx.sring->req_prod, 257);
	close(s);
}

static void test_bad_tx_id_disables(void **state)
{
	struct fx *f = *state;
	netif_tx_response_t *rsp;
	struct netfront_stats st;
	uint8_t mac[6];
	int mtu;
	struct ifreq ifr = { 0 };
	int s;

	need_netns();
	up_simple(f);
	/* One frame in flight, held by the backend. */
	f->up = false;
	s = packet_socket();
	{
		uint8_t frame[100];

		eth(frame, ETHERTYPE);
		assert_int_equal(send(s, frame, sizeof(frame), 0), sizeof(frame));
	}
	settle(f);
	assert_int_equal(f->tx.sring->req_prod, 1);
	/* Its response names an id never sent. */
	rsp = RING_GET_RESPONSE(&f->tx, f->tx.rsp_prod_pvt);
	rsp->id = 200;
	rsp->status = NETIF_RSP_OKAY;
	f->tx.rsp_prod_pvt++;
	settle(f);
	HV_RING_PUSH_RESPONSES(&f->tx, hv_evtchn_notify(f->hv, f->port));
	settle(f);
	netfront_get_stats(dev(f), &st);
	assert_int_equal(st.bad_responses, 1);
	assert_false(netfront_connected(dev(f)));
	assert_true(link_mac_mtu("eth0", mac, &mtu));
	snprintf(ifr.ifr_name, IFNAMSIZ, "eth0");
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	assert_false(ifr.ifr_flags & IFF_UP);
	close(s);
	f->up = true;
}

static void test_rx_prod_past_requests_disables(void **state)
{
	struct fx *f = *state;
	struct netfront_stats st;

	need_netns();
	up_simple(f);
	/* Well-formed responses in every slot, the producer 5 past the 256
	 * buffers posted: only the producer check can tell. */
	for (unsigned i = 0; i < 256; i++)
		*RING_GET_RESPONSE(&f->rx, i) = (netif_rx_response_t){
			.id = (uint16_t)i, .status = 60 };
	f->rx.sring->rsp_prod = f->rx.sring->req_prod + 5;
	hv_evtchn_notify(f->hv, f->port);
	settle(f);
	netfront_get_stats(dev(f), &st);
	assert_int_equal(st.bad_responses, 1);
	assert_false(netfront_connected(dev(f)));
}

static void test_closing_removes_tap(void **state)
{
	struct fx *f = *state;

	need_netns();
	up_simple(f);
	assert_int_not_equal(if_nametoindex("eth0"), 0);
	be_write(f, "state", "5");
	settle(f);
	assert_int_equal(d0_num(f, FE "/state"), XenbusStateClosed);
	assert_int_equal(if_nametoindex("eth0"), 0);
	fb_release(f);
}

static void test_no_netns_ignored(void **state)
{
	struct fx *f = *state;

	f->cfg.own_netns = false;
	start_fe(f);
	toolstack_nodes(f);
	settle(f);
	assert_null(dev(f));
	assert_int_equal(d0_num(f, FE "/state"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_plan_csum_one_slot),
		cmocka_unit_test(test_tx_plan_gso_sg),
		cmocka_unit_test(test_tx_plan_refused),
		cmocka_unit_test(test_tx_plan_ipv6_sw_csum),
		cmocka_unit_test(test_csum_offsets),
		cmocka_unit_test(test_rx_vnet),
		cmocka_unit_test(test_rx_chain),
		cmocka_unit_test_setup_teardown(test_negotiate_all, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_negotiate_all_off, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_no_rx_copy_refused, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_tx_frame_crosses_ring, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_rx_frame_reaches_tap, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_bad_tx_id_disables, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_rx_prod_past_requests_disables, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_closing_removes_tap, setup, teardown_fx),
		cmocka_unit_test_setup_teardown(test_no_netns_ignored, setup, teardown_fx),
	};

	log_init("test_netfront", LOG_LVL_ERR, NULL);
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
