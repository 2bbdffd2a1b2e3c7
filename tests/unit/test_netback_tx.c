/* pvd-netback's transmit path (guest -> tap), the test playing netfront
 * and the tap: frames, scatter-gather, GSO and checksum offsets in the
 * virtio-net header, every validation rule (fatal ones halt the vif and
 * are reported from a later loop turn while another guest's vif keeps
 * passing frames; dropped ones get NETIF_RSP_ERROR and the next good
 * frame passes), grants that are bad, revoked or another domain's, the
 * credit scheduler and anti-spoofing. */
#include "netback_harness.h"

static uint8_t frame[70000], got[70000];

static int setup(void **state)
{
	struct nfx *f = calloc(1, sizeof(*f));

	nfx_setup(f);
	nguest_make(&f->g[0], 1, 1, true, false);
	nguest_make(&f->g[1], 2, 1, false, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	nfx_teardown(*state);
	free(*state);
	return 0;
}

static void start_both(struct nfx *f)
{
	nguest_start(f, &f->g[0]);
	nguest_start(f, &f->g[1]);
}

/* One single-slot frame of len bytes from data page pg; the tap gets it. */
static void good_frame(struct nfx *f, struct nguest *g, unsigned pg,
		       size_t len)
{
	struct virtio_net_hdr h;
	netif_tx_response_t r;

	nframe4(frame, len, 17);
	memcpy(npage(g, pg), frame, len);
	ntx(g, 0, pg, 0, (uint16_t)len, 0);
	ntx_push(g, 0);
	assert_true(NWAIT(f, ntx_avail(g, 0) >= 1));
	r = ntx_get(g, 0);
	assert_int_equal(r.status, NETIF_RSP_OKAY);
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), len);
	assert_memory_equal(got, frame, len);
}

static void test_plain(void **state)
{
	struct nfx *f = *state;
	struct virtio_net_hdr h;

	start_both(f);
	good_frame(f, &f->g[0], 0, 60);
	assert_int_equal(nstats(&f->g[0], 0).tx_packets, 1);
	assert_int_equal(nstats(&f->g[0], 0).tx_bytes, 60);
	/* Nothing else came out, and no offload flag was set. */
	assert_int_equal(ntap_recv(&f->g[0], 0, &h, got, sizeof(got)), 0);
	good_frame(f, &f->g[1], 0, 1514);
}

/* A frame of 5000 bytes over three slots, the head split mid-header. */
static void test_sg(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	struct virtio_net_hdr h;

	start_both(f);
	nframe4(frame, 5000, 17);
	memcpy(npage(g, 0) + 100, frame, 20);
	memcpy(npage(g, 1), frame + 20, 4000);
	memcpy(npage(g, 2) + 96, frame + 4020, 980);
	ntx(g, 0, 0, 100, 5000, NETTXF_more_data);
	ntx(g, 0, 1, 0, 4000, NETTXF_more_data);
	ntx(g, 0, 2, 96, 980, 0);
	ntx_push(g, 0);
	assert_true(NWAIT(f, ntx_avail(g, 0) >= 3));
	for (int i = 0; i < 3; i++)
		assert_int_equal(ntx_get(g, 0).status, NETIF_RSP_OKAY);
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 5000);
	assert_memory_equal(got, frame, 5000);
}

/* GSO TCPv4 with csum_blank: gso fields, NEEDS_CSUM and the offsets. */
static void test_gso_csum4(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	struct virtio_net_hdr h;
	struct netif_extra_info *e;

	start_both(f);
	nframe4(frame, 9000, 6);
	memcpy(npage(g, 0), frame, 4000);
	memcpy(npage(g, 1), frame + 4000, 4000);
	memcpy(npage(g, 2), frame + 8000, 1000);
	ntx(g, 0, 0, 0, 9000, NETTXF_more_data | NETTXF_extra_info |
	    NETTXF_csum_blank | NETTXF_data_validated);
	e = nextra(g, 0, XEN_NETIF_EXTRA_TYPE_GSO, 0);
	e->u.gso.size = 1448;
	e->u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
	ntx(g, 0, 1, 0, 4000, NETTXF_more_data);
	ntx(g, 0, 2, 0, 1000, 0);
	ntx_push(g, 0);
	assert_true(NWAIT(f, ntx_avail(g, 0) >= 4));
	assert_int_equal(ntx_get(g, 0).status, NETIF_RSP_OKAY);
	assert_int_equal(ntx_get(g, 0).status, NETIF_RSP_NULL);
	assert_int_equal(ntx_get(g, 0).status, NETIF_RSP_OKAY);
	assert_int_equal(ntx_get(g, 0).status, NETIF_RSP_OKAY);
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 9000);
	assert_memory_equal(got, frame, 9000);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(h.gso_size, 1448);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.csum_start, 34);
	assert_int_equal(h.csum_offset, 16);
	assert_int_equal(h.hdr_len, 54);
	assert_int_equal(nstats(g, 0).tx_gso, 1);
}

static void test_csum6_udp(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	struct virtio_net_hdr h;

	start_both(f);
	nframe6(frame, 300, 17);
	memcpy(npage(g, 0), frame, 300);
	ntx(g, 0, 0, 0, 300, NETTXF_csum_blank);
	ntx(g, 0, 0, 0, 300, NETTXF_data_validated);
	ntx_push(g, 0);
	assert_true(NWAIT(f, ntx_avail(g, 0) >= 2));
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 300);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(h.csum_start, 54);
	assert_int_equal(h.csum_offset, 6);
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 300);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
}

/* ---- fatal rules: each halts guest 1's vif; guest 2 passes frames ---- */

enum bad { PAST_RING, CHAIN_PAST_PROD, TOO_MANY, CROSS_PAGE, CROSS_PAGE_FRAG,
	   EXTRA_TYPE0, EXTRA_TYPE_MAX, GSO_SIZE0, GSO_TYPE, EXTRA_MISSING,
	   EXTRA_FOREVER, EXTRA_TOO_LONG };

static void bad_chain(struct nguest *g, enum bad b)
{
	struct netif_extra_info *e;

	switch (b) {
	case PAST_RING:
		ntx(g, 0, 0, 0, 60, 0);
		g->q[0].tx.req_prod_pvt += 300;
		break;
	case CHAIN_PAST_PROD:
		ntx(g, 0, 0, 0, 200, NETTXF_more_data);
		ntx(g, 0, 1, 0, 100, NETTXF_more_data);
		break;
	case TOO_MANY:
		ntx(g, 0, 0, 0, 4000, NETTXF_more_data);
		for (int i = 0; i < 21; i++)
			ntx(g, 0, 1, 0, 10, i < 20 ? NETTXF_more_data : 0);
		break;
	case CROSS_PAGE:
		ntx(g, 0, 0, 4000, 200, 0);
		break;
	case CROSS_PAGE_FRAG:
		ntx(g, 0, 0, 0, 300, NETTXF_more_data);
		ntx(g, 0, 1, 4090, 100, 0);
		break;
	case EXTRA_TYPE0:
	case EXTRA_TYPE_MAX:
		ntx(g, 0, 0, 0, 60, NETTXF_extra_info);
		nextra(g, 0, b == EXTRA_TYPE0 ? 0 : XEN_NETIF_EXTRA_TYPE_MAX, 0);
		break;
	case GSO_SIZE0:
	case GSO_TYPE:
		ntx(g, 0, 0, 0, 60, NETTXF_extra_info);
		e = nextra(g, 0, XEN_NETIF_EXTRA_TYPE_GSO, 0);
		e->u.gso.size = b == GSO_SIZE0 ? 0 : 1448;
		e->u.gso.type = b == GSO_SIZE0 ? XEN_NETIF_GSO_TYPE_TCPV4 : 3;
		break;
	case EXTRA_MISSING:
		ntx(g, 0, 0, 0, 60, NETTXF_extra_info);
		break;
	case EXTRA_TOO_LONG:
		/* Five extras for four types: a chain that ends, too late. */
		ntx(g, 0, 0, 0, 60, NETTXF_extra_info);
		for (int i = 0; i < 5; i++)
			nextra(g, 0, XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
			       i < 4 ? XEN_NETIF_EXTRA_FLAG_MORE : 0);
		break;
	case EXTRA_FOREVER:
		ntx(g, 0, 0, 0, 60, NETTXF_extra_info);
		for (int i = 0; i < 40; i++)
			nextra(g, 0, XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
			       XEN_NETIF_EXTRA_FLAG_MORE);
		break;
	}
}

static const char *const bad_why[] = {
	[PAST_RING] = "past the ring", [CHAIN_PAST_PROD] = "producer",
	[TOO_MANY] = "too many slots", [CROSS_PAGE] = "crosses its page",
	[CROSS_PAGE_FRAG] = "crosses its page", [EXTRA_TYPE0] = "extra-info type",
	[EXTRA_TYPE_MAX] = "extra-info type", [GSO_SIZE0] = "GSO size",
	[GSO_TYPE] = "GSO type", [EXTRA_MISSING] = "missing extra",
	[EXTRA_FOREVER] = "never ends", [EXTRA_TOO_LONG] = "never ends",
};

static void fatal_case(void **state, enum bad b)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];

	start_both(f);
	bad_chain(g, b);
	ntx_push(g, 0);
	struct virtio_net_hdr h;

	assert_true(NWAIT(f, g->fatal == 1));
	assert_non_null(strstr(g->why, bad_why[b]));
	/* Nothing reached the tap; more requests are never looked at. */
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 0);
	good_frame(f, &f->g[1], 0, 100);
	g->q[0].tx.req_prod_pvt = g->q[0].tx.sring->req_prod;
	ntx(g, 0, 0, 0, 60, 0);
	ntx_push(g, 0);
	nturn(f);
	assert_int_equal(nstats(g, 0).tx_packets, 0);
	assert_int_equal(g->fatal, 1);
	good_frame(f, &f->g[1], 1, 200);
}

static void test_fatal_past_ring(void **s) { fatal_case(s, PAST_RING); }
static void test_fatal_chain_past_prod(void **s) { fatal_case(s, CHAIN_PAST_PROD); }
static void test_fatal_too_many(void **s) { fatal_case(s, TOO_MANY); }
static void test_fatal_cross_page(void **s) { fatal_case(s, CROSS_PAGE); }
static void test_fatal_cross_page_frag(void **s) { fatal_case(s, CROSS_PAGE_FRAG); }
static void test_fatal_extra_type0(void **s) { fatal_case(s, EXTRA_TYPE0); }
static void test_fatal_extra_type_max(void **s) { fatal_case(s, EXTRA_TYPE_MAX); }
static void test_fatal_gso_size0(void **s) { fatal_case(s, GSO_SIZE0); }
static void test_fatal_gso_type(void **s) { fatal_case(s, GSO_TYPE); }
static void test_fatal_extra_missing(void **s) { fatal_case(s, EXTRA_MISSING); }
static void test_fatal_extra_forever(void **s) { fatal_case(s, EXTRA_FOREVER); }
static void test_fatal_extra_too_long(void **s) { fatal_case(s, EXTRA_TOO_LONG); }

/* ---- dropped: every slot NETIF_RSP_ERROR, the next frame passes ---- */

enum drop { DROP_SLOTS, DROP_FRAG_BIG, DROP_SHORT, DROP_BAD_GRANT,
	    DROP_REVOKED, DROP_FOREIGN };

static unsigned drop_chain(struct nguest *g, enum drop d)
{
	unsigned n = 1;

	switch (d) {
	case DROP_SLOTS:
		/* The first slot and 19 more: one past the 18 allowed. */
		ntx(g, 0, 0, 0, 2000, NETTXF_more_data);
		for (int i = 0; i < 19; i++)
			ntx(g, 0, 1, 0, 10, i < 18 ? NETTXF_more_data : 0);
		return 20;
	case DROP_FRAG_BIG:
		ntx(g, 0, 0, 0, 100, NETTXF_more_data);
		ntx(g, 0, 1, 0, 200, 0);
		return 2;
	case DROP_SHORT:
		ntx(g, 0, 0, 0, 20, NETTXF_more_data);
		ntx(g, 0, 1, 0, 10, 0);
		return 2;
	case DROP_BAD_GRANT:
		ntx(g, 0, 5000, 0, 60, 0);
		break;
	case DROP_REVOKED:
		assert_int_equal(hv_sim_end_access(g->dom, g->gref[3]), 0);
		ntx(g, 0, 3, 0, 60, 0);
		break;
	case DROP_FOREIGN:
		assert_int_equal(hv_sim_end_access(g->dom, g->gref[3]), 0);
		assert_int_equal(hv_sim_grant(g->dom, g->gref[3], g->data[3], 7, 0), 0);
		ntx(g, 0, 3, 0, 60, 0);
		break;
	}
	return n;
}

static void drop_case(void **state, enum drop d)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	struct virtio_net_hdr h;
	unsigned n;

	start_both(f);
	nframe4(npage(g, 3), 60, 17);
	n = drop_chain(g, d);
	ntx_push(g, 0);
	assert_true(NWAIT(f, ntx_avail(g, 0) >= n));
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(ntx_get(g, 0).status, NETIF_RSP_ERROR);
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 0);
	assert_int_equal(nstats(g, 0).tx_drops + nstats(g, 0).tx_errors, 1);
	if (d == DROP_SLOTS)
		assert_int_equal(nstats(g, 0).tx_frag_overflow, 1);
	good_frame(f, g, 0, 60);
	assert_int_equal(g->fatal, 0);
}

static void test_drop_slots(void **s) { drop_case(s, DROP_SLOTS); }
static void test_drop_frag_big(void **s) { drop_case(s, DROP_FRAG_BIG); }
static void test_drop_short(void **s) { drop_case(s, DROP_SHORT); }
static void test_drop_bad_grant(void **s) { drop_case(s, DROP_BAD_GRANT); }
static void test_drop_revoked(void **s) { drop_case(s, DROP_REVOKED); }
static void test_drop_foreign(void **s) { drop_case(s, DROP_FOREIGN); }

/* 19 slots in all (18 after the first) is what netfront may send. */
static void test_max_slots_pass(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	struct virtio_net_hdr h;

	start_both(f);
	nframe4(npage(g, 0), 1000, 17);
	ntx(g, 0, 0, 0, 1180, NETTXF_more_data);
	for (int i = 0; i < 18; i++)
		ntx(g, 0, 1, 0, 10, i < 17 ? NETTXF_more_data : 0);
	ntx_push(g, 0);
	assert_true(NWAIT(f, ntx_avail(g, 0) >= 19));
	for (int i = 0; i < 19; i++)
		assert_int_equal(ntx_get(g, 0).status, NETIF_RSP_OKAY);
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 1180);
}

/* XSA-448: zero-length fragments with bad grants are never touched. */
static void test_zero_len_frags(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	struct virtio_net_hdr h;

	start_both(f);
	nframe4(npage(g, 0), 60, 17);
	ntx(g, 0, 0, 0, 60, NETTXF_more_data);
	for (int i = 0; i < 5; i++)
		ntx(g, 0, 9000 + i, 0, 0, i < 4 ? NETTXF_more_data : 0);
	ntx_push(g, 0);
	assert_true(NWAIT(f, ntx_avail(g, 0) >= 6));
	for (int i = 0; i < 6; i++)
		assert_int_equal(ntx_get(g, 0).status, NETIF_RSP_OKAY);
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 60);
}

/* rate=: 1000 bytes per 300 ms.  A second frame in the window waits for
 * the timer; nothing is dropped. */
static void test_credit(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	struct virtio_net_hdr h;

	g->cfg.rate = (struct nb_rate){ .bytes = 1000, .usec = 300000 };
	start_both(f);
	nframe4(npage(g, 0), 800, 17);
	ntx(g, 0, 0, 0, 800, 0);
	ntx(g, 0, 0, 0, 800, 0);
	ntx_push(g, 0);
	assert_true(NWAIT(f, ntx_avail(g, 0) >= 1));
	nturn(f);
	assert_int_equal(ntx_avail(g, 0), 1);
	assert_int_equal(nstats(g, 0).tx_credit_stalls, 1);
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 800);
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 0);
	/* The other vif is not held up. */
	good_frame(f, &f->g[1], 0, 1500);
	assert_true(NWAIT(f, ntx_avail(g, 0) >= 2));
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 800);
	assert_int_equal(nstats(g, 0).tx_drops, 0);
}

static void spoof_policy(struct nguest *g)
{
	static const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x01 };

	memcpy(g->cfg.policy.mac, mac, 6);
	g->cfg.policy.check = true;
	g->cfg.policy.nip4 = 1;
	g->cfg.policy.ip4[0].s_addr = htonl(0x0a000002);
	g->cfg.policy.nip6 = 1;
	g->cfg.policy.ip6[0].s6_addr[0] = 0xfd;
	g->cfg.policy.ip6[0].s6_addr[15] = 2;
}

/* One frame; whether it reached the tap. */
static bool send_one(struct nfx *f, struct nguest *g, const uint8_t *b,
		     size_t len)
{
	struct virtio_net_hdr h;

	memcpy(npage(g, 0), b, len);
	ntx(g, 0, 0, 0, (uint16_t)len, 0);
	ntx_push(g, 0);
	assert_true(NWAIT(f, ntx_avail(g, 0) >= 1));
	assert_int_equal(ntx_get(g, 0).status, NETIF_RSP_OKAY);
	return ntap_recv(g, 0, &h, got, sizeof(got)) == (ssize_t)len;
}

static void arp(uint8_t *b, const uint8_t *smac, uint32_t sip)
{
	memset(b, 0, 60);
	memcpy(b, "\xff\xff\xff\xff\xff\xff", 6);
	memcpy(b + 6, smac, 6);
	b[12] = 0x08; b[13] = 0x06;
	memcpy(b + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	memcpy(b + 22, smac, 6);
	sip = htonl(sip);
	memcpy(b + 28, &sip, 4);
}

static void test_spoof(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	uint8_t b[200];

	spoof_policy(g);
	start_both(f);
	nframe4(b, 100, 17);
	assert_true(send_one(f, g, b, 100));
	b[26 + 3] = 9;                         /* 10.0.0.9: not listed */
	assert_false(send_one(f, g, b, 100));
	nframe4(b, 100, 17);
	b[11] = 0x77;                          /* another source MAC */
	assert_false(send_one(f, g, b, 100));
	nframe6(b, 100, 17);
	assert_true(send_one(f, g, b, 100));
	b[22 + 15] = 3;                        /* fd00::3 */
	assert_false(send_one(f, g, b, 100));
	arp(b, g->cfg.policy.mac, 0x0a000002);
	assert_true(send_one(f, g, b, 60));
	arp(b, g->cfg.policy.mac, 0x0a000001);  /* claims the gateway's IP */
	assert_false(send_one(f, g, b, 60));
	assert_int_equal(nstats(g, 0).tx_spoof_drops, 4);
	assert_int_equal(nstats(g, 0).tx_packets, 3);
}

/* A daemon killed while answering the third of three frames, before
 * any push: slots 0 and 1 hold whole responses, slot 2 a response over
 * its request.  The next one (journal.h) publishes the two, writes the
 * third request back and sends its frame again: every id answered once,
 * OKAY.  Without the journal it read the responses as requests (grant
 * reference = id | status << 16) and answered garbage. */
static void test_kill_before_push_journal(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	netif_tx_sring_t *s = g->q[0].tx.sring;
	struct virtio_net_hdr h;
	unsigned seen = 0;

	g->cfg.journal_dir = f->dir;
	start_both(f);
	for (unsigned i = 0; i < 3; i++) {
		nframe4(npage(g, i), 100 + 10 * i, 17);
		ntx(g, 0, i, 0, (uint16_t)(100 + 10 * i), 0);
	}
	ntx_push(g, 0);
	assert_true(NWAIT(f, ntx_avail(g, 0) == 3));
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 100 + 10 * i);
	nguest_kill(f, g);
	s->rsp_prod = 0;
	njournal_kill_at(f, g, 0, NB_JN_TX, 2);
	nguest_reattach(f, g);
	assert_true(NWAIT(f, ntx_avail(g, 0) == 3));
	for (unsigned i = 0; i < 3; i++) {
		netif_tx_response_t r = ntx_get(g, 0);

		assert_true(r.id < 3);
		assert_false(seen & (1u << r.id));
		seen |= 1u << r.id;
		assert_int_equal(r.status, NETIF_RSP_OKAY);
	}
	/* The frame in answer, sent again; nothing else. */
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 120);
	nframe4(frame, 120, 17);
	assert_memory_equal(got, frame, 120);
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 0);
	assert_int_equal(nstats(g, 0).tx_errors, 0);
	/* And it serves on, beside the other guest. */
	good_frame(f, g, 5, 300);
	good_frame(f, &f->g[1], 0, 60);
}

/* Grant copies the daemon asked for (a link-time seam), and the
 * segments among them that cross a page of our memory (gntdev splits
 * each into two ops, two pages pinned). */
static unsigned copies, splits;
int __real_hv_grant_copy(struct hv *hv, struct hv_copy_seg *segs, unsigned n);
int __wrap_hv_grant_copy(struct hv *hv, struct hv_copy_seg *segs, unsigned n)
{
	copies++;
	for (unsigned i = 0; i < n; i++)
		if ((uintptr_t)segs[i].local % HV_PAGE_SIZE + segs[i].len > HV_PAGE_SIZE)
			splits++;
	return __real_hv_grant_copy(hv, segs, n);
}

/* A frame of len bytes over whole pages from page pg on; its slots. */
static unsigned sg_frame(struct nguest *g, unsigned pg, size_t len)
{
	unsigned n = 0;

	nframe4(frame, len, 17);
	for (size_t off = 0; off < len; off += HV_PAGE_SIZE, n++) {
		size_t k = len - off < HV_PAGE_SIZE ? len - off : HV_PAGE_SIZE;

		memcpy(npage(g, pg + n), frame + off, k);
		ntx(g, 0, pg + n, 0, (uint16_t)(n ? k : len),
		    off + k < len ? NETTXF_more_data : 0);
	}
	return n;
}

/* Frames pushed together are grant-copied in batches (not one copy a
 * frame), and answered and sent in ring order: a dropped frame and one
 * whose grant is bad answer errors in their turn, and the frame that
 * would pass the batch's 64 segments starts the next one.  Each slot of
 * a page lands in a page of ours at its guest offset: no segment
 * crosses a page boundary of our buffer. */
static void test_batch(void **state)
{
	static const size_t len[] = { 60, 1514, 60000, 0, 60000, 5000, 1,
				      60000, 100, 200, 300, 400, 500, 600,
				      60000 };
	static const unsigned nlen = sizeof(len) / sizeof(len[0]);
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	struct virtio_net_hdr h;
	unsigned slots[sizeof(len) / sizeof(len[0])], pg = 0, total = 0;

	start_both(f);
	for (unsigned i = 0; i < nlen; i++) {
		if (len[i] == 0) {              /* too short: dropped */
			ntx(g, 0, pg, 0, 20, NETTXF_more_data);
			ntx(g, 0, pg + 1, 0, 10, 0);
			slots[i] = 2;
		} else if (len[i] == 1) {       /* a bad grant: an error */
			ntx(g, 0, 5000, 0, 60, 0);
			slots[i] = 1;
		} else {
			slots[i] = sg_frame(g, pg, len[i]);
		}
		pg += slots[i];
		total += slots[i];
	}
	copies = splits = 0;
	ntx_push(g, 0);
	assert_true(NWAIT(f, ntx_avail(g, 0) >= total));
	for (unsigned i = 0; i < nlen; i++)
		for (unsigned k = 0; k < slots[i]; k++)
			assert_int_equal(ntx_get(g, 0).status, len[i] > 1 ?
					 NETIF_RSP_OKAY : NETIF_RSP_ERROR);
	for (unsigned i = 0; i < nlen; i++) {
		if (len[i] <= 1)
			continue;
		nframe4(frame, len[i], 17);
		assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), len[i]);
		assert_memory_equal(got, frame, len[i]);
	}
	assert_int_equal(ntap_recv(g, 0, &h, got, sizeof(got)), 0);
	assert_int_equal(nstats(g, 0).tx_packets, nlen - 2);
	assert_int_equal(nstats(g, 0).tx_drops + nstats(g, 0).tx_errors, 2);
	/* 56 segments for the first 14 frames, 15 more for the last. */
	assert_int_equal(copies, 2);
	assert_int_equal(splits, 0);
	good_frame(f, g, 0, 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_plain), T(test_sg), T(test_gso_csum4), T(test_csum6_udp),
		T(test_fatal_past_ring), T(test_fatal_chain_past_prod),
		T(test_fatal_too_many), T(test_fatal_cross_page),
		T(test_fatal_cross_page_frag), T(test_fatal_extra_type0),
		T(test_fatal_extra_type_max), T(test_fatal_gso_size0),
		T(test_fatal_gso_type), T(test_fatal_extra_missing),
		T(test_fatal_extra_forever), T(test_fatal_extra_too_long),
		T(test_drop_slots), T(test_drop_frag_big), T(test_drop_short),
		T(test_drop_bad_grant), T(test_drop_revoked), T(test_drop_foreign),
		T(test_max_slots_pass), T(test_zero_len_frags), T(test_credit),
		T(test_spoof), T(test_kill_before_push_journal),
		T(test_batch),
	};
	int failed;

	/* Every test with each way of writing to the taps (tapio.h). */
	nfx_mode = NB_TAPIO_URING;
	failed = cmocka_run_group_tests_name("io_uring", tests, NULL, NULL);
	nfx_mode = NB_TAPIO_WRITEV;
	return failed + cmocka_run_group_tests_name("writev", tests, NULL,
						    NULL);
}
