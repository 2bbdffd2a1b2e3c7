/* In-process harness for pvd-netback's data plane tests: the real sim
 * hypervisor layer in a private run directory, an nb_loop, and simulated
 * guests that play netfront (or a hostile version of it) on the rings.
 * Each guest queue's "tap" is one end of a socketpair(AF_UNIX,
 * SOCK_SEQPACKET) carrying vnet-header frames; the test holds the other
 * end.  Included by tests/unit/test_netback_*.c. */
#ifndef PVD_TEST_NETBACK_HARNESS_H
#define PVD_TEST_NETBACK_HARNESS_H

/* Each test file uses some of the helpers. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <linux/virtio_net.h>

#include "../../netback/vif_priv.h"
#include "pvd/hv_sim.h"
#include "pvd/mapfile.h"

#define NG_PAGES 512
#define NG_DATA 96            /* data pages per guest */
#define NG_MAXQ 2

struct nguest {
	struct hv_sim_domain *dom;
	domid_t domid;
	unsigned nq;
	struct {
		netif_tx_front_ring_t tx;
		netif_rx_front_ring_t rx;
		unsigned long txp, rxp;
		grant_ref_t txref, rxref;
		evtchn_port_t txport, rxport;
		int fd[2];            /* [0] the backend's tap, [1] ours */
	} q[NG_MAXQ];
	xen_netif_ctrl_front_ring_t ctrl;
	unsigned long ctrlp;
	grant_ref_t ctrlref;
	evtchn_port_t ctrlport;
	unsigned long data[NG_DATA];
	grant_ref_t gref[NG_DATA];   /* data[i] granted to dom0, writable */
	grant_ref_t next_ref;
	struct nb_vif_cfg cfg;
	struct nb_vif *vif;
	int fatal, off, on;          /* callbacks seen */
	char why[80];                /* the last callback's reason */
	bool in_start;               /* a callback from inside nb_vif_start */
};

struct nfx {
	char dir[64];
	struct event_base *base;
	struct hv *hv;
	struct nb_loop *loop;
	struct nguest g[2];
};

/* Counts a report (a vif's, or a NIC's: test_netback_nic) in g. */
static void ncount(struct nguest *g, int event, const char *why)
{
	snprintf(g->why, sizeof(g->why), "%s", why ? why : "");
	if (event == NB_VIF_FATAL)
		g->fatal++;
	else if (event == NB_VIF_CARRIER_OFF)
		g->off++;
	else
		g->on++;
}

static void ncb(struct nb_vif *v, int event, const char *why, void *arg)
{
	struct nguest *g = arg;

	assert_false(g->in_start);
	ncount(g, event, why);
}

/* How the loop writes to its taps: main() may run its tests in each. */
static enum nb_tapio_mode nfx_mode = NB_TAPIO_URING;

static enum nb_tapio_mode nfx_tapio(void)
{
	return nfx_mode;
}

static void nfx_setup(struct nfx *f)
{
	struct hv_config hc = { .impl = "sim" };

	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/pvd-nbt-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	setenv("PVD_RUNDIR", f->dir, 1);
	f->base = event_base_new();
	assert_non_null(f->base);
	assert_int_equal(hv_open(&f->hv, &hc), 0);
	assert_int_equal(nb_loop_create(f->base, f->hv, nfx_tapio(), &f->loop),
			 0);
}

/* Runs the backend until nothing is left to do right now. */
static void nturn(struct nfx *f)
{
	for (int i = 0; i < 4; i++)
		event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static void nguest_free(struct nguest *g)
{
	if (!g->dom)
		return;
	nb_vif_stop(g->vif);
	g->vif = NULL;
	for (unsigned i = 0; i < g->nq; i++) {
		close(g->q[i].fd[0]);
		close(g->q[i].fd[1]);
	}
	hv_sim_domain_destroy(g->dom);
	g->dom = NULL;
}

static void nfx_teardown(struct nfx *f)
{
	char cmd[128];

	for (int i = 0; i < 2; i++)
		nguest_free(&f->g[i]);
	nb_loop_destroy(f->loop);
	hv_close(f->hv);
	event_base_free(f->base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
}

static grant_ref_t ngrant(struct nguest *g, unsigned long page)
{
	grant_ref_t ref = g->next_ref++;

	assert_int_equal(hv_sim_grant(g->dom, ref, page, 0, 0), 0);
	return ref;
}

static unsigned long npage_new(struct nguest *g)
{
	unsigned long p;

	assert_int_equal(hv_sim_page_alloc(g->dom, &p), 0);
	return p;
}

static void nqueue_make(struct nguest *g, unsigned i, bool split)
{
	netif_tx_sring_t *ts;
	netif_rx_sring_t *rs;

	g->q[i].txp = npage_new(g);
	g->q[i].rxp = npage_new(g);
	g->q[i].txref = ngrant(g, g->q[i].txp);
	g->q[i].rxref = ngrant(g, g->q[i].rxp);
	ts = hv_sim_page(g->dom, g->q[i].txp);
	rs = hv_sim_page(g->dom, g->q[i].rxp);
	SHARED_RING_INIT(ts);
	SHARED_RING_INIT(rs);
	FRONT_RING_INIT(&g->q[i].tx, ts, HV_PAGE_SIZE);
	FRONT_RING_INIT(&g->q[i].rx, rs, HV_PAGE_SIZE);
	assert_int_equal(hv_sim_evtchn_alloc_unbound(g->dom, 0, &g->q[i].txport), 0);
	g->q[i].rxport = g->q[i].txport;
	if (split)
		assert_int_equal(hv_sim_evtchn_alloc_unbound(g->dom, 0, &g->q[i].rxport), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, g->q[i].fd), 0);
	assert_int_equal(fcntl(g->q[i].fd[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(g->q[i].fd[1], F_SETFL, O_NONBLOCK), 0);
	g->cfg.q[i] = (struct nb_queue_cfg){ .tx_ref = g->q[i].txref,
		.rx_ref = g->q[i].rxref, .tx_port = g->q[i].txport,
		.rx_port = g->q[i].rxport, .tap_fd = g->q[i].fd[0] };
}

static void nctrl_make(struct nguest *g)
{
	xen_netif_ctrl_sring_t *s;

	g->ctrlp = npage_new(g);
	g->ctrlref = ngrant(g, g->ctrlp);
	s = hv_sim_page(g->dom, g->ctrlp);
	SHARED_RING_INIT(s);
	FRONT_RING_INIT(&g->ctrl, s, HV_PAGE_SIZE);
	assert_int_equal(hv_sim_evtchn_alloc_unbound(g->dom, 0, &g->ctrlport), 0);
	g->cfg.ctrl = true;
	g->cfg.ctrl_ref = g->ctrlref;
	g->cfg.ctrl_port = g->ctrlport;
}

/* Creates guest domid with nq queues; the cfg is filled with every
 * feature on; the caller may change it before nguest_start. */
static void nguest_make(struct nguest *g, domid_t domid, unsigned nq,
			bool split, bool ctrl)
{
	memset(g, 0, sizeof(*g));
	g->domid = domid;
	g->nq = nq;
	g->next_ref = 8;
	assert_int_equal(hv_sim_domain_create(NULL, domid, NG_PAGES, &g->dom), 0);
	g->cfg.domid = domid;
	g->cfg.nqueues = nq;
	g->cfg.vnet_hdr_len = 10;
	g->cfg.feat = (struct nb_features){ true, true, true, true, true, true };
	for (unsigned i = 0; i < nq; i++)
		nqueue_make(g, i, split);
	if (ctrl)
		nctrl_make(g);
	for (unsigned i = 0; i < NG_DATA; i++) {
		g->data[i] = npage_new(g);
		g->gref[i] = ngrant(g, g->data[i]);
	}
}

static void nguest_start(struct nfx *f, struct nguest *g)
{
	g->in_start = true;
	assert_int_equal(nb_vif_start(f->loop, &g->cfg, ncb, g, &g->vif), 0);
	g->in_start = false;
	nturn(f);
}

/* The daemon gone (the rings as it left them): the test then sets up
 * what a kill at a given point leaves. */
static void nguest_kill(struct nfx *f, struct nguest *g)
{
	nb_vif_stop(g->vif);
	g->vif = NULL;
	nturn(f);
}

/* The next daemon: re-attaching, with new bindings of the guest's event
 * channels (the sim closes the remote ports with the old ones). */
static void nguest_reattach(struct nfx *f, struct nguest *g)
{
	for (unsigned i = 0; i < g->nq; i++) {
		bool split = g->q[i].rxport != g->q[i].txport;

		assert_int_equal(hv_sim_evtchn_alloc_unbound(g->dom, 0,
							     &g->q[i].txport), 0);
		g->q[i].rxport = g->q[i].txport;
		if (split)
			assert_int_equal(hv_sim_evtchn_alloc_unbound(
					 g->dom, 0, &g->q[i].rxport), 0);
		g->cfg.q[i].tx_port = g->q[i].txport;
		g->cfg.q[i].rx_port = g->q[i].rxport;
	}
	g->cfg.reattach = true;
	nguest_start(f, g);
}

/* What a daemon killed mid-frame leaves in queue qi's journal
 * (netback/journal.h): ring K's responses written whole only up to
 * DONE, the frame at DONE in answer (its pending as begin stored it). */
static void njournal_kill_at(struct nfx *f, struct nguest *g, unsigned qi,
			     enum nb_jring_kind k, RING_IDX done)
{
	struct nb_journal j;
	char path[256];
	uint64_t p;

	assert_int_equal(pvd_journal_path(path, sizeof(path), f->dir,
					     g->domid, g->cfg.devid, qi), 0);
	assert_int_equal(nb_journal_open(&j, path, g->cfg.q[qi].tx_ref,
					 g->cfg.q[qi].rx_ref, true), 0);
	assert_true(j.valid);
	p = j.f->ring[k].pending;
	assert_int_equal((RING_IDX)p, done);
	j.f->ring[k].done = done;
	nb_journal_close(&j);
}

static uint8_t *npage(struct nguest *g, unsigned i)
{
	return hv_sim_page(g->dom, g->data[i]);
}

/* ---- transmit ---- */

static netif_tx_request_t *ntx(struct nguest *g, unsigned qi, unsigned page,
			       uint16_t off, uint16_t size, uint16_t flags)
{
	netif_tx_front_ring_t *r = &g->q[qi].tx;
	netif_tx_request_t *t = RING_GET_REQUEST(r, r->req_prod_pvt);

	t->gref = page < NG_DATA ? g->gref[page] : (grant_ref_t)page;
	t->offset = off;
	t->size = size;
	t->flags = flags;
	t->id = (uint16_t)r->req_prod_pvt;
	r->req_prod_pvt++;
	return t;
}

static struct netif_extra_info *nextra(struct nguest *g, unsigned qi,
				       uint8_t type, uint8_t flags)
{
	netif_tx_front_ring_t *r = &g->q[qi].tx;
	struct netif_extra_info *e =
		(struct netif_extra_info *)RING_GET_REQUEST(r, r->req_prod_pvt);

	memset(e, 0, sizeof(netif_tx_request_t));
	e->type = type;
	e->flags = flags;
	r->req_prod_pvt++;
	return e;
}

static void ntx_push(struct nguest *g, unsigned qi)
{
	HV_RING_PUSH_REQUESTS(&g->q[qi].tx,
			      hv_sim_evtchn_notify(g->dom, g->q[qi].txport));
}

static unsigned ntx_avail(struct nguest *g, unsigned qi)
{
	return g->q[qi].tx.sring->rsp_prod - g->q[qi].tx.rsp_cons;
}

static void ndrain_events(struct nguest *g)
{
	evtchn_port_t p;

	while (hv_sim_evtchn_pending(g->dom, &p) == 0)
		hv_sim_evtchn_unmask(g->dom, p);
}

/* Runs the backend until cond holds (bounded: about 5 s). */
#define NWAIT(f, cond) ({                                                  \
	bool ok_ = false;                                                  \
	for (int i_ = 0; i_ < 5000 && !ok_; i_++) {                        \
		nturn(f);                                                  \
		if ((cond))                                                \
			ok_ = true;                                        \
		else                                                       \
			usleep(1000);                                      \
	}                                                                  \
	ok_;                                                               \
})

static netif_tx_response_t ntx_get(struct nguest *g, unsigned qi)
{
	netif_tx_response_t r;

	assert_true(ntx_avail(g, qi) > 0);
	memcpy(&r, RING_GET_RESPONSE(&g->q[qi].tx, g->q[qi].tx.rsp_cons),
	       sizeof(r));
	g->q[qi].tx.rsp_cons++;
	return r;
}

/* A frame from the "tap": its length (0: none), header and data. */
static ssize_t ntap_recv(struct nguest *g, unsigned qi,
			 struct virtio_net_hdr *h, uint8_t *buf, size_t len)
{
	struct iovec iov[2] = { { h, sizeof(*h) }, { buf, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n = recvmsg(g->q[qi].fd[1], &m, 0);

	if (n < 0)
		return 0;
	assert_true(n >= (ssize_t)sizeof(*h));
	return n - (ssize_t)sizeof(*h);
}

/* ---- receive ---- */

static void ntap_send(struct nguest *g, unsigned qi,
		      const struct virtio_net_hdr *h, const uint8_t *buf,
		      size_t len)
{
	struct virtio_net_hdr z = { 0 };
	struct iovec iov[2] = { { (void *)(h ? h : &z), sizeof(z) },
				{ (void *)buf, len } };

	assert_int_equal(writev(g->q[qi].fd[1], iov, 2),
			 (ssize_t)(sizeof(z) + len));
}

/* Posts n rx buffers: data pages first .. first+n-1. */
static void nrx_post(struct nguest *g, unsigned qi, unsigned first, unsigned n)
{
	netif_rx_front_ring_t *r = &g->q[qi].rx;

	for (unsigned i = 0; i < n; i++) {
		netif_rx_request_t *q = RING_GET_REQUEST(r, r->req_prod_pvt);

		q->id = (uint16_t)(first + i);
		q->gref = g->gref[first + i];
		r->req_prod_pvt++;
	}
	HV_RING_PUSH_REQUESTS(r, hv_sim_evtchn_notify(g->dom, g->q[qi].rxport));
}

static unsigned nrx_avail(struct nguest *g, unsigned qi)
{
	return g->q[qi].rx.sring->rsp_prod - g->q[qi].rx.rsp_cons;
}

static netif_rx_response_t nrx_get(struct nguest *g, unsigned qi)
{
	netif_rx_response_t r;

	assert_true(nrx_avail(g, qi) > 0);
	memcpy(&r, RING_GET_RESPONSE(&g->q[qi].rx, g->q[qi].rx.rsp_cons),
	       sizeof(r));
	g->q[qi].rx.rsp_cons++;
	return r;
}

static struct nb_qstats nstats(struct nguest *g, unsigned qi)
{
	struct nb_qstats s;

	nb_vif_qstats(g->vif, qi, &s);
	return s;
}

/* A minimal Ethernet/IPv4/TCP (proto 6) or UDP (17) frame of len bytes
 * from src MAC 00:16:3e:00:00:01, 10.0.0.2 -> 10.0.0.1. */
static void nframe4(uint8_t *b, size_t len, uint8_t proto)
{
	memset(b, 0, len);
	memcpy(b, "\x00\x16\x3e\x00\x00\x02\x00\x16\x3e\x00\x00\x01\x08\x00", 14);
	b[14] = 0x45;
	b[14 + 2] = (uint8_t)((len - 14) >> 8);
	b[14 + 3] = (uint8_t)(len - 14);
	b[14 + 8] = 64;
	b[14 + 9] = proto;
	memcpy(b + 26, "\x0a\x00\x00\x02\x0a\x00\x00\x01", 8);
	b[34] = 0x30; b[35] = 0x39; b[36] = 0x00; b[37] = 0x50;
	if (proto == 6)
		b[34 + 12] = 5 << 4;
	for (size_t i = 54; i < len; i++)
		b[i] = (uint8_t)(i * 7);
}

/* Ethernet/IPv6/UDP (17) or TCP (6) from fd00::2 to fd00::1. */
static void nframe6(uint8_t *b, size_t len, uint8_t proto)
{
	memset(b, 0, len);
	memcpy(b, "\x00\x16\x3e\x00\x00\x02\x00\x16\x3e\x00\x00\x01\x86\xdd", 14);
	b[14] = 0x60;
	b[14 + 4] = (uint8_t)((len - 54) >> 8);
	b[14 + 5] = (uint8_t)(len - 54);
	b[14 + 6] = proto;
	b[14 + 7] = 64;
	b[22] = 0xfd; b[22 + 15] = 2;
	b[38] = 0xfd; b[38 + 15] = 1;
	if (proto == 6)
		b[54 + 12] = 5 << 4;
	for (size_t i = 62 + (proto == 6 ? 12 : 0); i < len; i++)
		b[i] = (uint8_t)(i * 3);
}

#endif
