/* A guest NIC over pvd-netback's I/O threads (netback/nic.c), with the
 * real sim hypervisor and two real threads: a NIC without a control ring
 * has its two queues on two threads, each queue's frames going both ways
 * on its own thread; a NIC with a control ring, or the one-thread pool,
 * stays on one; the carrier is off while any part has a stalled queue
 * and said once; a guest error is said once, however many parts see one;
 * the placement counts the queues placed before. */
#include "netback_harness.h"
#include "../../netback/nic.h"

struct cfx {
	struct nfx n;
	struct nb_pool *pool;
	struct nb_nic *nic;
};

static void nic_cb(struct nb_nic *n, int event, const char *why, void *arg)
{
	(void)n;
	ncount(arg, event, why);
}

static void pool_start(struct cfx *f, unsigned threads)
{
	struct hv_config hc = { .impl = "sim" };

	assert_int_equal(nb_pool_start(f->n.base, f->n.hv, &hc, threads,
				       NB_TAPIO_URING, &f->pool), 0);
}

static int setup(void **state)
{
	struct cfx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	nfx_setup(&f->n);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct cfx *f = *state;

	nb_nic_stop(f->nic);
	/* The parts' memory is freed by messages to the main loop. */
	nturn(&f->n);
	nb_pool_stop(f->pool);
	nfx_teardown(&f->n);
	free(f);
	return 0;
}

static void nic_start(struct cfx *f, unsigned threads, bool ctrl)
{
	struct nguest *g = &f->n.g[0];

	pool_start(f, threads);
	nguest_make(g, 5, 2, false, ctrl);
	g->cfg.rx_stall_ms = 100;
	assert_int_equal(nb_nic_start(f->pool, &g->cfg, nic_cb, g, &f->nic), 0);
	nturn(&f->n);
}

static struct nb_qstats qst(struct cfx *f, unsigned q)
{
	struct nb_qstats s;

	nb_nic_qstats(f->nic, q, &s);
	return s;
}

/* One frame each way on queue qi. */
static void both_ways(struct cfx *f, unsigned qi, unsigned pg)
{
	struct nguest *g = &f->n.g[0];
	struct virtio_net_hdr h;
	uint8_t buf[2048];

	nframe4(npage(g, pg), 600, 17);
	ntx(g, qi, pg, 0, 600, 0);
	ntx_push(g, qi);
	assert_true(NWAIT(&f->n, ntx_avail(g, qi) >= 1));
	assert_int_equal(ntx_get(g, qi).status, NETIF_RSP_OKAY);
	assert_int_equal(ntap_recv(g, qi, &h, buf, sizeof(buf)), 600);

	nframe4(buf, 900, 17);
	nrx_post(g, qi, pg + 1, 1);
	ntap_send(g, qi, NULL, buf, 900);
	assert_true(NWAIT(&f->n, nrx_avail(g, qi) >= 1));
	assert_int_equal(nrx_get(g, qi).status, 900);
	assert_memory_equal(npage(g, pg + 1), buf, 900);
}

static void test_queues_on_two_threads(void **state)
{
	struct cfx *f = *state;

	nic_start(f, 2, false);
	assert_int_equal(nb_nic_threads(f->nic), 2);
	assert_int_equal(nb_nic_nqueues(f->nic), 2);
	assert_int_not_equal(qst(f, 0).thread, qst(f, 1).thread);
	both_ways(f, 0, 0);
	both_ways(f, 1, 10);
	assert_int_equal(qst(f, 0).tx_packets, 1);
	assert_int_equal(qst(f, 0).rx_packets, 1);
	assert_int_equal(qst(f, 1).tx_packets, 1);
	assert_int_equal(qst(f, 1).rx_packets, 1);
	assert_true(nb_nic_carrier(f->nic));
}

static void test_ctrl_ring_one_thread(void **state)
{
	struct cfx *f = *state;

	nic_start(f, 2, true);
	assert_int_equal(nb_nic_threads(f->nic), 1);
	assert_int_equal(qst(f, 0).thread, qst(f, 1).thread);
	both_ways(f, 1, 0);
}

static void test_one_thread(void **state)
{
	struct cfx *f = *state;

	nic_start(f, 1, false);
	assert_int_equal(nb_nic_threads(f->nic), 1);
	both_ways(f, 0, 0);
	both_ways(f, 1, 10);
}

/* A frame waits on queue qi with no buffer posted: that part stalls. */
static void stall(struct cfx *f, unsigned qi)
{
	uint8_t buf[1000];

	nframe4(buf, 1000, 17);
	ntap_send(&f->n.g[0], qi, NULL, buf, 1000);
}

static void test_carrier_is_the_nics(void **state)
{
	struct cfx *f = *state;
	struct nguest *g = &f->n.g[0];

	nic_start(f, 2, false);
	stall(f, 0);
	assert_true(NWAIT(&f->n, g->off == 1));
	assert_false(nb_nic_carrier(f->nic));
	stall(f, 1);
	assert_true(NWAIT(&f->n, qst(f, 1).rx_stalls == 1));
	nturn(&f->n);
	assert_int_equal(g->off, 1);
	/* Queue 0's part recovers; queue 1's still stalled: still off. */
	nrx_post(g, 0, 0, 1);
	stall(f, 0);
	assert_true(NWAIT(&f->n, nrx_avail(g, 0) >= 1));
	nturn(&f->n);
	assert_int_equal(g->on, 0);
	assert_false(nb_nic_carrier(f->nic));
	nrx_post(g, 1, 1, 1);
	assert_true(NWAIT(&f->n, g->on == 1));
	assert_true(nb_nic_carrier(f->nic));
}

static void test_fatal_said_once(void **state)
{
	struct cfx *f = *state;
	struct nguest *g = &f->n.g[0];

	nic_start(f, 2, false);
	for (unsigned qi = 0; qi < 2; qi++) {
		g->q[qi].tx.sring->req_prod = g->q[qi].tx.rsp_cons + 1000;
		hv_sim_evtchn_notify(g->dom, g->q[qi].txport);
	}
	assert_true(NWAIT(&f->n, g->fatal == 1));
	assert_string_equal(g->why, "tx: request index past the ring");
	/* Both parts halted; the second said nothing more. */
	usleep(50000);
	nturn(&f->n);
	assert_int_equal(g->fatal, 1);
}

/* nb_pool_place: each queue on the least loaded, counting those placed
 * before; a tie to the loop with fewer of the NIC's. */
static void test_place(void **state)
{
	struct cfx *f = *state;
	struct nb_loop *out[4];

	pool_start(f, 3);
	assert_int_equal(nb_pool_place(f->pool, 4, out), 3);
	assert_ptr_not_equal(out[0], out[1]);
	assert_ptr_not_equal(out[1], out[2]);
	assert_ptr_not_equal(out[0], out[2]);
	assert_true(out[3] == out[0] || out[3] == out[1] || out[3] == out[2]);
	assert_int_equal(nb_pool_place(f->pool, 1, out), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queues_on_two_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_ring_one_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_carrier_is_the_nics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fatal_said_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_place, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
