/* pvd-netback's control ring and receive hash: Toeplitz against the
 * published RSS verification vectors, every bound of the hash requests
 * (XSA-270: mapping offset + length past the table, an entry >= the
 * number of queues, an oversized key or mapping size) answered with
 * INVALID_PARAMETER and changing nothing, unknown requests NOT_SUPPORTED,
 * and a frame read from tap queue 0 steered to the guest's queue 1. */
#include "netback_harness.h"

static uint8_t frame[2000];

/* Microsoft's RSS verification key. */
static const uint8_t rss_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static void test_toeplitz(void **state)
{
	/* 66.9.149.187:2794 -> 161.142.100.80:1766 */
	static const uint8_t in4[12] = { 66, 9, 149, 187, 161, 142, 100, 80,
					 0x0a, 0xea, 0x06, 0xe6 };

	assert_int_equal(nb_toeplitz(rss_key, 40, in4, 8), 0x323e8fc2);
	assert_int_equal(nb_toeplitz(rss_key, 40, in4, 12), 0x51ccc178);
}

static int setup(void **state)
{
	struct nfx *f = calloc(1, sizeof(*f));

	nfx_setup(f);
	nguest_make(&f->g[0], 1, 2, true, true);
	nguest_make(&f->g[1], 2, 1, false, false);
	nguest_start(f, &f->g[0]);
	nguest_start(f, &f->g[1]);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	nfx_teardown(*state);
	free(*state);
	return 0;
}

/* One control request; its response's status (data into *data). */
static uint32_t ctrl(struct nfx *f, struct nguest *g, uint16_t type,
		     uint32_t d0, uint32_t d1, uint32_t d2, uint32_t *data)
{
	struct xen_netif_ctrl_request *r =
		RING_GET_REQUEST(&g->ctrl, g->ctrl.req_prod_pvt);
	struct xen_netif_ctrl_response rsp;

	r->id = (uint16_t)(g->ctrl.req_prod_pvt + 100);
	r->type = type;
	r->data[0] = d0;
	r->data[1] = d1;
	r->data[2] = d2;
	g->ctrl.req_prod_pvt++;
	HV_RING_PUSH_REQUESTS(&g->ctrl, hv_sim_evtchn_notify(g->dom, g->ctrlport));
	assert_true(NWAIT(f, g->ctrl.sring->rsp_prod != g->ctrl.rsp_cons));
	memcpy(&rsp, RING_GET_RESPONSE(&g->ctrl, g->ctrl.rsp_cons), sizeof(rsp));
	g->ctrl.rsp_cons++;
	assert_int_equal(rsp.id, r->id);
	assert_int_equal(rsp.type, type);
	if (data)
		*data = rsp.data;
	return rsp.status;
}

#define OK XEN_NETIF_CTRL_STATUS_SUCCESS
#define INVAL XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER

/* Mapping table of n entries, all = queue, written to data page 0. */
static void table(struct nguest *g, unsigned n, uint32_t queue)
{
	uint32_t *t = (uint32_t *)npage(g, 0);

	for (unsigned i = 0; i < n; i++)
		t[i] = queue;
}

static void test_ctrl_bounds(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	uint32_t d;

	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE,
			      0, 0, 0, &d), OK);
	assert_int_equal(d, NB_HASH_MAPPING_MAX);
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			      NB_HASH_MAPPING_MAX + 1, 0, 0, NULL), INVAL);
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			      16, 0, 0, NULL), OK);
	table(g, 16, 1);
	/* offset + length past the table, and wrapping around 2^32 */
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
			      g->gref[0], 10, 10, NULL), INVAL);
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
			      g->gref[0], 2, 0xffffffffu, NULL), INVAL);
	/* an entry naming a queue the vif does not have */
	table(g, 16, 1);
	((uint32_t *)npage(g, 0))[3] = 2;
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
			      g->gref[0], 16, 0, NULL), INVAL);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(g->vif->hash.mapping[i], 0);
	/* a bad grant */
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
			      7777, 4, 0, NULL), INVAL);
	/* keys: at most 40 bytes */
	memcpy(npage(g, 1), rss_key, 40);
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
			      g->gref[1], 41, 0, NULL), INVAL);
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
			      g->gref[1], 40, 0, NULL), OK);
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			      9, 0, 0, NULL), INVAL);
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
			      XEN_NETIF_CTRL_HASH_TYPE_IPV4, 0, 0, NULL), INVAL);
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING,
			      0, 0, 0, NULL), XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
	assert_int_equal(ctrl(f, g, 999, 0, 0, 0, NULL),
			 XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
	assert_int_equal(g->fatal, 0);
}

/* Toeplitz over IPv4+TCP, every mapping entry queue 1: a frame from tap
 * queue 0 lands on the guest's rx queue 1. */
static void test_steering(void **state)
{
	struct nfx *f = *state;
	struct nguest *g = &f->g[0];
	netif_rx_response_t r;

	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			      XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL), OK);
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
			      XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
			      XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, 0, 0, NULL), OK);
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			      8, 0, 0, NULL), OK);
	table(g, 8, 1);
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
			      g->gref[0], 8, 0, NULL), OK);
	nrx_post(g, 0, 10, 1);
	nrx_post(g, 1, 11, 1);
	nframe4(frame, 500, 6);
	ntap_send(g, 0, NULL, frame, 500);
	assert_true(NWAIT(f, nrx_avail(g, 1) >= 1));
	r = nrx_get(g, 1);
	assert_int_equal(r.id, 11);
	assert_int_equal(r.status, 500);
	assert_int_equal(nrx_avail(g, 0), 0);
	/* Algorithm off again: the frame stays on its tap queue's ring. */
	assert_int_equal(ctrl(f, g, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			      XEN_NETIF_CTRL_HASH_ALGORITHM_NONE, 0, 0, NULL), OK);
	ntap_send(g, 0, NULL, frame, 500);
	assert_true(NWAIT(f, nrx_avail(g, 0) >= 1));
	assert_int_equal(nrx_get(g, 0).id, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_toeplitz),
		cmocka_unit_test_setup_teardown(test_ctrl_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steering, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
