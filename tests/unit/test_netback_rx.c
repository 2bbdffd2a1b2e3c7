/* pvd-netback's receive path (tap -> guest), the test playing the tap
 * and netfront: a plain frame, a GSO frame spread over buffers with its
 * extra-info slot and flags, frames too large without SG, the bounded
 * queue, the stall detection (XSA-392: one free slot does not hide a
 * stall) with the carrier going off and back on, notification
 * suppression, re-attach, and rx garbage halting only its own vif. */
#include <sys/wait.h>

#include "netback_harness.h"

static uint8_t frame[70000];

static int setup(void **state)
{
	struct nfx *f = calloc(1, sizeof(*f));

	nfx_setup(f);
	nguest_make(&f->g[0], 1, 1, true, false);
	nguest_make(&f->g[1], 2, 1, false, false);
	f->g[0].cfg.rx_stall_ms = 100;
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

/* A 1000-byte frame to g through the tap, with one buffer posted. */
static void rx_one(struct nfx *f, struct nguest *g, unsigned pg)
{
	netif_rx_response_t r;

	nframe4(frame, 1000, 17);
	nrx_post(g, 0, pg, 1);
	ntap_send(g, 0, NULL, frame, 1000);
	assert_true(NWAIT(f, nrx_avail(g, 0) >= 1));
	r = nrx_get(g, 0);
	assert_int_equal(r.status, 1000);
	assert_int_equal(r.id, pg);
	assert_int_equal(r.offset, 0);
	assert_int_equal(r.flags, 0);
	assert_memory_equal(npage(g, pg), frame, 1000);
}

static void test_plain(void **state)
{
	struct nfx *f = *state;

	start_both(f);
	rx_one(f, &f->g[0], 0);
	rx_one(f, &f->g[1], 0);
	assert_int_equal(nstats(&f->g[0], 0).rx_packets, 1);
	assert_int_equal(nstats(&f->g[0], 0).rx_bytes, 1000);
	/* The guest's front ring asked for an event: it got one. */
	assert_true(nstats(&f->g[0], 0).notify_sent >= 1);
}

/* A 10000-byte TCPv4 GSO frame with NEEDS_CSUM: four data slots plus the
 * GSO extra after the first. */
static void test_gso(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	struct virtio_net_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448,
		.csum_start = 34, .csum_offset = 16, .hdr_len = 54 };
	netif_rx_response_t r;
	struct netif_extra_info e;
	static const int16_t want[4] = { 4096, 4096, 1808 };

	start_both(f);
	nframe4(frame, 10000, 6);
	nrx_post(g, 0, 10, 5);
	ntap_send(g, 0, &h, frame, 10000);
	assert_true(NWAIT(f, nrx_avail(g, 0) >= 4));
	r = nrx_get(g, 0);
	assert_int_equal(r.status, 4096);
	assert_int_equal(r.flags, NETRXF_csum_blank | NETRXF_data_validated |
			 NETRXF_more_data | NETRXF_extra_info);
	memcpy(&e, RING_GET_RESPONSE(&g->q[0].rx, g->q[0].rx.rsp_cons),
	       sizeof(e));
	g->q[0].rx.rsp_cons++;
	assert_int_equal(e.type, XEN_NETIF_EXTRA_TYPE_GSO);
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV4);
	assert_int_equal(e.u.gso.size, 1448);
	assert_memory_equal(npage(g, r.id), frame, 4096);
	for (int i = 1; i < 3; i++) {
		r = nrx_get(g, 0);
		assert_int_equal(r.status, want[i]);
		assert_int_equal(r.flags, i < 2 ? NETRXF_more_data : 0);
		assert_memory_equal(npage(g, r.id), frame + 4096 * i, (size_t)want[i]);
	}
	assert_int_equal(nrx_avail(g, 0), 0);
	assert_int_equal(nstats(g, 0).rx_gso, 1);
}

/* Without SG a frame must fit one page: larger ones are dropped. */
static void test_no_sg_drop(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];

	g->cfg.feat.sg = false;
	start_both(f);
	nframe4(frame, 5000, 17);
	ntap_send(g, 0, NULL, frame, 5000);
	assert_true(NWAIT(f, nstats(g, 0).rx_drops == 1));
	assert_int_equal(nrx_avail(g, 0), 0);
	rx_one(f, g, 5);
}

/* No buffers: the queue holds at most rx_queue_max bytes; the guest's
 * carrier goes off after the stall timeout, its queue is purged, the
 * other vif is served meanwhile; buffers bring the carrier back. */
static void test_stall(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	struct nb_qstats s;
	struct virtio_net_hdr h = { 0 };
	struct iovec iov[2] = { { &h, sizeof(h) }, { frame, 1500 } };
	int sent = 0;

	start_both(f);
	nframe4(frame, 1500, 17);
	/* 750 KiB, more than the queue's 512 KiB: the backend stops reading
	 * its tap, whose buffer then fills. */
	for (int i = 0; i < 500; i++, sent++) {
		if (writev(g->q[0].fd[1], iov, 2) < 0)
			break;
		nturn(f);
	}
	s = nstats(g, 0);
	assert_true(sent > 100);
	/* As netback: full once at the bound, so at most one frame over. */
	assert_true(s.rx_queue_len < s.rx_queue_max + 1500);
	assert_true(s.rx_queue_len >= s.rx_queue_max);
	assert_true(g->vif->q[0].tap_paused);
	rx_one(f, &f->g[1], 0);
	assert_true(NWAIT(f, g->off == 1));
	assert_false(nb_vif_carrier(g->vif));
	assert_int_equal(nstats(g, 0).rx_stalls, 1);
	assert_int_equal(nstats(g, 0).rx_queue_len, 0);
	rx_one(f, &f->g[1], 1);
	nrx_post(g, 0, 0, 1);
	assert_true(NWAIT(f, g->on == 1));
	assert_true(nb_vif_carrier(g->vif));
	ntap_send(g, 0, NULL, frame, 1500);
	assert_true(NWAIT(f, nrx_avail(g, 0) >= 1));
	assert_int_equal(nrx_get(g, 0).status, 1500);
}

/* XSA-392: the head frame needs three slots, the guest keeps one posted:
 * still a stall. */
static void test_stall_one_slot(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];

	start_both(f);
	nrx_post(g, 0, 0, 1);
	nframe4(frame, 9000, 17);
	ntap_send(g, 0, NULL, frame, 9000);
	assert_true(NWAIT(f, g->off == 1));
	assert_int_equal(nrx_avail(g, 0), 0);
	assert_int_equal(nstats(g, 0).rx_stalls, 1);
	/* Two buffers are still fewer than the frame that stalled needed,
	 * even with an event the backend did not ask for. */
	nrx_post(g, 0, 1, 1);
	hv_sim_evtchn_notify(g->dom, g->q[0].rxport);
	nturn(f);
	assert_int_equal(g->on, 0);
	nrx_post(g, 0, 2, 1);
	assert_true(NWAIT(f, g->on == 1));
	rx_one(f, &f->g[1], 0);
}

/* A guest that posts no buffers and has no rx-notify is polled, never
 * stalled. */
static void test_no_rx_notify_polls(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	netif_rx_request_t *q;

	g->cfg.feat.rx_notify = false;
	start_both(f);
	nframe4(frame, 800, 17);
	ntap_send(g, 0, NULL, frame, 800);
	nturn(f);
	/* A buffer posted without an event: the poll finds it. */
	q = RING_GET_REQUEST(&g->q[0].rx, g->q[0].rx.req_prod_pvt);
	q->id = 4;
	q->gref = g->gref[4];
	g->q[0].rx.req_prod_pvt++;
	RING_PUSH_REQUESTS(&g->q[0].rx);
	assert_true(NWAIT(f, nrx_avail(g, 0) >= 1));
	assert_int_equal(nrx_get(g, 0).status, 800);
	assert_int_equal(g->off, 0);
}

/* rx request index past the ring: only that vif halts. */
static void test_rx_garbage(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];

	start_both(f);
	g->q[0].rx.req_prod_pvt += 1000;
	nrx_post(g, 0, 0, 1);
	nframe4(frame, 100, 17);
	ntap_send(g, 0, NULL, frame, 100);
	assert_true(NWAIT(f, g->fatal == 1));
	rx_one(f, &f->g[1], 3);
}

/* A restarted backend takes the rings up where they are: requests
 * posted before and after are served, nothing is answered twice. */
/* The first backend, in a child process that dies (kill -9 as far as
 * the rings know) once it answered one rx request. */
static void first_backend(struct nguest *g)
{
	struct hv_config hc = { .impl = "sim" };
	struct event_base *base = event_base_new();
	struct nb_loop *l;
	struct hv *hv;
	struct nb_vif *v;

	if (!base || hv_open(&hv, &hc) < 0 ||
	    nb_loop_create(base, hv, nfx_tapio(), &l) < 0 ||
	    nb_vif_start(l, &g->cfg, ncb, g, &v) < 0)
		_exit(2);
	for (int i = 0; i < 5000; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (g->q[0].rx.sring->rsp_prod == 1)
			_exit(0);
		usleep(1000);
	}
	_exit(3);
}

/* A restarted backend takes the rings up where they are: the buffer
 * posted while it was away is served, nothing is answered twice. */
static void test_reattach(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	int st = -1;
	pid_t pid;

	nframe4(frame, 1000, 17);
	nrx_post(g, 0, 0, 1);
	ntap_send(g, 0, NULL, frame, 1000);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		first_backend(g);
	for (int i = 0; i < 10000 && waitpid(pid, &st, WNOHANG) == 0; i++) {
		ndrain_events(g);
		usleep(1000);
	}
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(nrx_get(g, 0).id, 0);
	nrx_post(g, 0, 1, 1);
	ndrain_events(g);
	g->cfg.reattach = true;
	nguest_start(f, g);
	ntap_send(g, 0, NULL, frame, 1000);
	assert_true(NWAIT(f, nrx_avail(g, 0) >= 1));
	assert_int_equal(nrx_get(g, 0).id, 1);
	rx_one(f, g, 2);
}

/* A backend killed after pushing a response but before its event left
 * the guest asleep on it (its rsp_event is already passed, so no later
 * push would wake it): the restarted backend sends one event. */
static bool rx_event_seen(struct nguest *g)
{
	evtchn_port_t p;
	bool seen = false;

	while (hv_sim_evtchn_pending(g->dom, &p) == 0) {
		seen |= p == g->q[0].rxport;
		hv_sim_evtchn_unmask(g->dom, p);
	}
	return seen;
}

static void test_reattach_wakes_guest(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	netif_rx_sring_t *s = g->q[0].rx.sring;
	netif_rx_response_t *rsp;

	nrx_post(g, 0, 0, 2);
	ndrain_events(g);
	/* The dead backend's last act: a response pushed, no event. */
	rsp = RING_GET_RESPONSE(&g->q[0].rx, 0);
	rsp->id = 0;
	rsp->offset = 0;
	rsp->flags = 0;
	rsp->status = 60;
	xen_wmb();
	s->rsp_prod = 1;
	g->cfg.reattach = true;
	nguest_start(f, g);
	assert_true(NWAIT(f, rx_event_seen(g)));
	assert_int_equal(nrx_get(g, 0).id, 0);
}

/* A daemon killed while answering the second of two frames, before any
 * push: slot 0 holds a whole response, slot 1 a response over its
 * request.  The next one (journal.h) publishes the first and offers the
 * second's buffer again: the second frame (in the dead daemon's memory)
 * is lost, the next one lands in that buffer.  Without the journal it
 * read the responses as requests (grant reference = flags | status <<
 * 16: a page the guest never granted, or any page it did). */
static void test_kill_before_push_journal(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	netif_rx_sring_t *s = g->q[0].rx.sring;
	netif_rx_response_t r;

	g->cfg.journal_dir = f->dir;
	start_both(f);
	nrx_post(g, 0, 0, 2);
	nframe4(frame, 1000, 17);
	ntap_send(g, 0, NULL, frame, 1000);
	ntap_send(g, 0, NULL, frame, 1000);
	assert_true(NWAIT(f, nrx_avail(g, 0) == 2));
	nguest_kill(f, g);
	memset(npage(g, 0), 0, 1000);
	memset(npage(g, 1), 0, 1000);
	s->rsp_prod = 0;
	njournal_kill_at(f, g, 0, NB_JN_RX, 1);
	nguest_reattach(f, g);
	assert_true(NWAIT(f, nrx_avail(g, 0) == 1));
	r = nrx_get(g, 0);
	assert_int_equal(r.id, 0);
	assert_int_equal(r.status, 1000);
	nframe4(frame, 600, 6);
	ntap_send(g, 0, NULL, frame, 600);
	assert_true(NWAIT(f, nrx_avail(g, 0) == 1));
	r = nrx_get(g, 0);
	assert_int_equal(r.id, 1);
	assert_int_equal(r.status, 600);
	assert_memory_equal(npage(g, 1), frame, 600);
	assert_int_equal(nstats(g, 0).rx_errors, 0);
	rx_one(f, g, 2);
	rx_one(f, &f->g[1], 0);
}

/* A ring ref the guest never granted, in the first queue of two and then
 * in the second: the start fails, undoes what it made (the queue it never
 * reached included), and the other guest is served. */
static void test_start_bad_ref(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	struct nb_vif *v = NULL;

	nguest_free(g);
	nguest_make(g, 1, 2, true, false);
	g->cfg.q[0].tx_ref = 4000;
	assert_int_equal(nb_vif_start(f->loop, &g->cfg, ncb, g, &v), -EPERM);
	assert_null(v);
	g->cfg.q[0].tx_ref = g->q[0].txref;
	g->cfg.q[1].rx_ref = 4001;
	assert_int_equal(nb_vif_start(f->loop, &g->cfg, ncb, g, &v), -EPERM);
	assert_null(v);
	nguest_start(f, &f->g[1]);
	rx_one(f, &f->g[1], 0);
	g->cfg.q[1].rx_ref = g->q[1].rxref;
	nguest_start(f, g);
	rx_one(f, g, 0);
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

/* Frames read together are grant-copied into the guest's buffers in
 * one batch (not one copy a frame), answered in order, each in its own
 * buffers; a buffer with a bad grant fails its own frame only. */
static void test_batch(void **state)
{
	static const size_t len[] = { 100, 1000, 10000, 60, 9000, 1500, 200,
				      300, 400, 500 };
	static const unsigned nlen = sizeof(len) / sizeof(len[0]), bad = 3;
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	netif_rx_front_ring_t *ring = &g->q[0].rx;
	unsigned pg = 0;

	start_both(f);
	for (unsigned i = 0; i < nlen; i++) {
		for (size_t off = 0; off < len[i]; off += HV_PAGE_SIZE, pg++) {
			netif_rx_request_t *q = RING_GET_REQUEST(ring,
							ring->req_prod_pvt++);

			q->id = (uint16_t)pg;
			q->gref = i == bad ? 5000 : g->gref[pg];
		}
	}
	HV_RING_PUSH_REQUESTS(ring, hv_sim_evtchn_notify(g->dom, g->q[0].rxport));
	for (unsigned i = 0; i < nlen; i++) {
		nframe4(frame, len[i], 17);
		ntap_send(g, 0, NULL, frame, len[i]);
	}
	copies = splits = 0;
	assert_true(NWAIT(f, nrx_avail(g, 0) >= pg));
	pg = 0;
	for (unsigned i = 0; i < nlen; i++) {
		nframe4(frame, len[i], 17);
		for (size_t off = 0; off < len[i]; off += HV_PAGE_SIZE, pg++) {
			netif_rx_response_t r = nrx_get(g, 0);
			size_t k = len[i] - off < HV_PAGE_SIZE ?
				   len[i] - off : HV_PAGE_SIZE;

			assert_int_equal(r.id, pg);
			assert_int_equal(r.flags & NETRXF_more_data,
					 off + k < len[i] ? NETRXF_more_data : 0);
			if (i == bad) {
				assert_int_equal(r.status, NETIF_RSP_ERROR);
				continue;
			}
			assert_int_equal(r.status, k);
			assert_memory_equal(npage(g, pg), frame + off, k);
		}
	}
	assert_int_equal(nrx_avail(g, 0), 0);
	assert_int_equal(nstats(g, 0).rx_packets, nlen - 1);
	assert_int_equal(nstats(g, 0).rx_errors, 1);
	assert_in_range(copies, 1, 2);
	/* The frames' data is page-aligned as the guest's buffers are: the
	 * trim keeps it in place with glibc (the sanitizers' allocators move every
	 * realloc'd block, which costs only the alignment). */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	assert_int_equal(splits, 0);
#endif
	rx_one(f, g, 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_plain), T(test_gso), T(test_no_sg_drop), T(test_stall),
		T(test_stall_one_slot), T(test_no_rx_notify_polls),
		T(test_rx_garbage), T(test_reattach),
		T(test_reattach_wakes_guest), T(test_start_bad_ref),
		T(test_kill_before_push_journal), T(test_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
