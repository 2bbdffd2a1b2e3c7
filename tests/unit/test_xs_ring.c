/* pvguest's side of the xenstore ring (tools/pvguest/xs_ring.c), against a
 * store played by the test on the same page: framing across the ring's
 * wrap, messages larger than the ring, queueing, notifications, and a
 * hostile store (indexes past each other, a reply over the payload
 * maximum, its error field, scribbles on our indexes).  The last test runs
 * the ring over the sim hypervisor: the guest's page mapped a second time
 * through its xenstore grant, and a real event channel. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tools/pvguest/xs_ring.h"

#include "pvd/hv.h"
#include "pvd/log.h"
#include "pvd/hv_sim.h"

#define MAXMSG 128

struct got {
	struct xsd_sockmsg hdr;
	char *body;
};

struct fx {
	struct xenstore_domain_interface *intf;
	struct xs_ring *r;
	unsigned notifies, brokens;
	char why[128];
	struct got msgs[MAXMSG];
	unsigned nmsgs;
	/* What the callback sends back, to test sending from a callback. */
	bool echo;
	/* Over the sim hypervisor: notify this port for real. */
	struct hv_sim_domain *dom;
	evtchn_port_t port;
};

static void cb_notify(void *arg)
{
	struct fx *f = arg;

	f->notifies++;
	if (f->dom)
		assert_int_equal(hv_sim_evtchn_notify(f->dom, f->port), 0);
}

static void cb_msg(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct fx *f = arg;

	assert_true(f->nmsgs < MAXMSG);
	assert_true(hdr->len <= XENSTORE_PAYLOAD_MAX);
	assert_int_equal(body[hdr->len], '\0');
	f->msgs[f->nmsgs].hdr = *hdr;
	f->msgs[f->nmsgs].body = malloc(hdr->len + 1);
	memcpy(f->msgs[f->nmsgs].body, body, hdr->len + 1);
	f->nmsgs++;
	if (f->echo) {
		struct xsd_sockmsg h = *hdr;

		h.req_id += 1000;
		assert_int_equal(xs_ring_send(f->r, &h, body), 0);
	}
}

static void cb_broken(void *arg, const char *why)
{
	struct fx *f = arg;

	f->brokens++;
	snprintf(f->why, sizeof(f->why), "%s", why);
}

static const struct xs_ring_cb cbs = { cb_notify, cb_msg, cb_broken };

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->intf = calloc(1, sizeof(*f->intf));
	assert_int_equal(xs_ring_create(&f->r, f->intf, &cbs, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	xs_ring_destroy(f->r);
	for (unsigned i = 0; i < f->nmsgs; i++)
		free(f->msgs[i].body);
	free(f->intf);
	free(f);
	return 0;
}

/* ---- the store's side, honest unless a test says otherwise ---- */

/* Takes up to max request bytes. */
static size_t store_take(struct xenstore_domain_interface *intf, void *buf,
			 size_t max)
{
	XENSTORE_RING_IDX cons = intf->req_cons, prod = intf->req_prod;
	size_t n = 0;

	assert_true(prod - cons <= XENSTORE_RING_SIZE);
	while (cons != prod && n < max)
		((char *)buf)[n++] = intf->req[MASK_XENSTORE_IDX(cons++)];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	intf->req_cons = cons;
	return n;
}

/* Puts up to len reply bytes; returns how many fitted. */
static size_t store_put(struct xenstore_domain_interface *intf, const void *buf,
			size_t len)
{
	XENSTORE_RING_IDX cons = intf->rsp_cons, prod = intf->rsp_prod;
	size_t n = 0;

	while (n < len && prod - cons < XENSTORE_RING_SIZE)
		intf->rsp[MASK_XENSTORE_IDX(prod++)] = ((const char *)buf)[n++];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	intf->rsp_prod = prod;
	return n;
}

static size_t frame(char *buf, uint32_t type, uint32_t req_id, const char *body,
		    uint32_t len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = req_id, .len = len };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), body, len);
	return sizeof(h) + len;
}

static void send_str(struct fx *f, uint32_t type, uint32_t req_id, const char *s)
{
	struct xsd_sockmsg h = { .type = type, .req_id = req_id,
				 .len = (uint32_t)strlen(s) + 1 };

	assert_int_equal(xs_ring_send(f->r, &h, s), 0);
}

/* ---- tests ---- */

static void test_request_and_reply(void **state)
{
	struct fx *f = *state;
	char buf[256], rep[64];
	struct xsd_sockmsg h;
	size_t n;

	send_str(f, XS_READ, 7, "name");
	assert_int_equal(f->notifies, 1);
	assert_int_equal(f->intf->req_prod, sizeof(h) + 5);
	n = store_take(f->intf, buf, sizeof(buf));
	assert_int_equal(n, sizeof(h) + 5);
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.type, XS_READ);
	assert_int_equal(h.req_id, 7);
	assert_int_equal(h.len, 5);
	assert_memory_equal(buf + sizeof(h), "name", 5);

	/* Nothing yet: no message, no notify. */
	assert_int_equal(xs_ring_kick(f->r), 0);
	assert_int_equal(f->nmsgs, 0);
	assert_int_equal(f->notifies, 1);

	n = frame(rep, XS_READ, 7, "vm1", 3);
	assert_int_equal(store_put(f->intf, rep, n), n);
	assert_int_equal(xs_ring_kick(f->r), 0);
	assert_int_equal(f->nmsgs, 1);
	assert_int_equal(f->msgs[0].hdr.req_id, 7);
	assert_int_equal(f->msgs[0].hdr.len, 3);
	assert_string_equal(f->msgs[0].body, "vm1");
	assert_int_equal(f->intf->rsp_cons, n);
	assert_int_equal(f->notifies, 2);	/* consumed: the store is told */
	assert_int_equal(xs_ring_received(f->r), 1);
}

/* Replies arrive a byte at a time, across the wrap, several per pass. */
static void test_reassembly_and_wrap(void **state)
{
	struct fx *f = *state;
	char stream[8192];
	size_t len = 0, off = 0;
	unsigned expect = 0;

	for (unsigned i = 0; i < 40; i++) {
		char body[200];
		uint32_t bl = (i * 37) % 190;

		memset(body, 'a' + i % 26, bl);
		len += frame(stream + len, XS_DIRECTORY, i, body, bl);
	}
	assert_true(len > 2 * XENSTORE_RING_SIZE);
	while (off < len) {
		/* Odd-sized chunks so headers straddle passes. */
		size_t chunk = 1 + (off * 7) % 23;

		if (chunk > len - off)
			chunk = len - off;
		off += store_put(f->intf, stream + off, chunk);
		assert_true(xs_ring_kick(f->r) >= 0);
	}
	while (xs_ring_kick(f->r) > 0)
		;
	assert_int_equal(f->nmsgs, 40);
	for (unsigned i = 0; i < 40; i++) {
		uint32_t bl = (i * 37) % 190;

		assert_int_equal(f->msgs[i].hdr.req_id, i);
		assert_int_equal(f->msgs[i].hdr.len, bl);
		for (uint32_t k = 0; k < bl; k++)
			assert_int_equal(f->msgs[i].body[k], 'a' + i % 26);
		expect++;
	}
	assert_int_equal(f->brokens, 0);
}

/* A 4 KiB request through a 1 KiB ring: queued, pushed as the store
 * consumes; a 4 KiB reply the same way back. */
static void test_larger_than_ring(void **state)
{
	struct fx *f = *state;
	static char big[XENSTORE_PAYLOAD_MAX], got[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	static char rep[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = 1,
				 .len = XENSTORE_PAYLOAD_MAX };
	size_t n = 0, rn, off = 0;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 13);
	assert_int_equal(xs_ring_send(f->r, &h, big), 0);
	assert_int_equal(f->intf->req_prod, XENSTORE_RING_SIZE);
	assert_int_equal(xs_ring_queued(f->r), sizeof(h) + sizeof(big) - XENSTORE_RING_SIZE);
	while (n < sizeof(got)) {
		n += store_take(f->intf, got + n, sizeof(got) - n);
		assert_true(xs_ring_kick(f->r) >= 0);
	}
	assert_int_equal(xs_ring_queued(f->r), 0);
	assert_memory_equal(got + sizeof(h), big, sizeof(big));

	rn = frame(rep, XS_READ, 2, big, sizeof(big));
	while (off < rn) {
		off += store_put(f->intf, rep + off, rn - off);
		assert_true(xs_ring_kick(f->r) >= 0);
	}
	assert_int_equal(f->nmsgs, 1);
	assert_int_equal(f->msgs[0].hdr.len, XENSTORE_PAYLOAD_MAX);
	assert_memory_equal(f->msgs[0].body, big, sizeof(big));
}

/* The callback may send; those bytes go out in the same kick. */
static void test_send_from_callback(void **state)
{
	struct fx *f = *state;
	char rep[64], buf[256];
	struct xsd_sockmsg h;
	size_t n;

	f->echo = true;
	n = frame(rep, XS_WATCH_EVENT, 0, "a\0tok", 6);
	store_put(f->intf, rep, n);
	assert_int_equal(xs_ring_kick(f->r), 0);
	assert_int_equal(f->nmsgs, 1);
	n = store_take(f->intf, buf, sizeof(buf));
	assert_int_equal(n, sizeof(h) + 6);
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.req_id, 1000);
}

static void test_budget(void **state)
{
	struct fx *f = *state;
	char rep[sizeof(struct xsd_sockmsg)];
	int rc;

	/* The ring holds exactly 64 empty messages. */
	for (unsigned i = 0; i < XENSTORE_RING_SIZE / sizeof(rep); i++) {
		frame(rep, XS_WATCH_EVENT, i, "", 0);
		assert_int_equal(store_put(f->intf, rep, sizeof(rep)), sizeof(rep));
	}
	/* The budget runs out with the last one: "call again", then idle. */
	rc = xs_ring_kick(f->r);
	assert_int_equal(rc, 1);
	assert_int_equal(f->nmsgs, XS_RING_KICK_BUDGET);
	assert_int_equal(xs_ring_kick(f->r), 0);
}

static void test_hostile_reply_indexes(void **state)
{
	struct fx *f = *state;
	char rep[64];
	size_t n = frame(rep, XS_READ, 1, "x", 1);

	store_put(f->intf, rep, n);
	/* A store that claims more than a ring's worth of replies. */
	f->intf->rsp_prod = f->intf->rsp_cons + XENSTORE_RING_SIZE + 1;
	assert_int_equal(xs_ring_kick(f->r), -EIO);
	assert_int_equal(f->brokens, 1);
	assert_int_equal(f->nmsgs, 0);
	assert_non_null(strstr(f->why, "reply indexes"));
	/* Broken for good: nothing is read or sent any more. */
	f->intf->rsp_prod = (XENSTORE_RING_IDX)n;
	assert_int_equal(xs_ring_kick(f->r), -EIO);
	assert_int_equal(f->nmsgs, 0);
	assert_int_equal(f->brokens, 1);
	assert_true(xs_ring_is_broken(f->r));
	{
		struct xsd_sockmsg h = { .type = XS_READ, .len = 0 };
		XENSTORE_RING_IDX before = f->intf->req_prod;

		assert_int_equal(xs_ring_send(f->r, &h, NULL), -EIO);
		assert_int_equal(f->intf->req_prod, before);
	}
}

/* rsp_prod behind rsp_cons: the difference wraps to a huge number. */
static void test_hostile_reply_prod_behind(void **state)
{
	struct fx *f = *state;
	char rep[64];
	size_t n = frame(rep, XS_READ, 1, "x", 1);

	store_put(f->intf, rep, n);
	assert_int_equal(xs_ring_kick(f->r), 0);
	assert_int_equal(f->nmsgs, 1);
	f->intf->rsp_prod -= 5;
	assert_int_equal(xs_ring_kick(f->r), -EIO);
	assert_int_equal(f->brokens, 1);
}

static void test_hostile_request_indexes(void **state)
{
	struct fx *f = *state;
	struct xsd_sockmsg h = { .type = XS_READ, .len = 2 };

	/* The store "consumes" past what we produced. */
	f->intf->req_cons = 100;
	assert_int_equal(xs_ring_send(f->r, &h, "a"), -EIO);
	assert_int_equal(f->intf->req_prod, 0);
	/* Reported from the kick, once. */
	assert_int_equal(f->brokens, 0);
	assert_int_equal(xs_ring_kick(f->r), -EIO);
	assert_int_equal(f->brokens, 1);
	assert_non_null(strstr(f->why, "request indexes"));
}

static void test_hostile_oversized_reply(void **state)
{
	struct fx *f = *state;
	struct xsd_sockmsg h = { .type = XS_READ, .req_id = 1,
				 .len = XENSTORE_PAYLOAD_MAX + 1 };
	char pad[512] = { 0 };

	store_put(f->intf, &h, sizeof(h));
	store_put(f->intf, pad, sizeof(pad));
	assert_int_equal(xs_ring_kick(f->r), -EIO);
	assert_int_equal(f->brokens, 1);
	assert_int_equal(f->nmsgs, 0);
	assert_non_null(strstr(f->why, "payload maximum"));
	/* Only the header was taken: we read no further. */
	assert_int_equal(f->intf->rsp_cons, sizeof(h));
}

/* A length of 2^32-1 must not wrap any arithmetic either. */
static void test_hostile_huge_reply_length(void **state)
{
	struct fx *f = *state;
	struct xsd_sockmsg h = { .type = XS_READ, .req_id = 1, .len = UINT32_MAX };

	store_put(f->intf, &h, sizeof(h));
	assert_int_equal(xs_ring_kick(f->r), -EIO);
	assert_int_equal(f->nmsgs, 0);
}

static void test_hostile_error_field(void **state)
{
	struct fx *f = *state;

	f->intf->server_features = XENSTORE_SERVER_FEATURE_ERROR;
	assert_int_equal(xs_ring_kick(f->r), 0);
	f->intf->error = XENSTORE_ERROR_RINGIDX;
	assert_int_equal(xs_ring_kick(f->r), -EIO);
	assert_int_equal(f->brokens, 1);
	assert_non_null(strstr(f->why, "error 2"));
}

/* Our indexes are ours: a store writing them changes nothing. */
static void test_hostile_scribbles_our_indexes(void **state)
{
	struct fx *f = *state;
	char rep[64], buf[64];
	size_t n;

	send_str(f, XS_READ, 1, "a");
	store_take(f->intf, buf, sizeof(buf));
	f->intf->req_prod = 9999;	/* ours */
	f->intf->rsp_cons = 777;	/* ours */
	n = frame(rep, XS_READ, 1, "v", 1);
	/* An honest put relative to our real consumer index (0). */
	for (size_t i = 0; i < n; i++)
		f->intf->rsp[i] = rep[i];
	f->intf->rsp_prod = (XENSTORE_RING_IDX)n;
	assert_int_equal(xs_ring_kick(f->r), 0);
	assert_int_equal(f->nmsgs, 1);
	assert_string_equal(f->msgs[0].body, "v");
	assert_int_equal(f->intf->rsp_cons, n);
	send_str(f, XS_READ, 2, "b");
	assert_int_equal(f->intf->req_prod, 2 * (sizeof(struct xsd_sockmsg) + 2));
}

static void test_send_limits(void **state)
{
	struct fx *f = *state;
	struct xsd_sockmsg h = { .type = XS_WRITE, .len = XENSTORE_PAYLOAD_MAX + 1 };
	static char body[XENSTORE_PAYLOAD_MAX];
	unsigned sent = 0;
	int rc;

	assert_int_equal(xs_ring_send(f->r, &h, body), -EINVAL);
	h.len = XENSTORE_PAYLOAD_MAX;
	/* A store that never consumes: the queue is bounded. */
	while ((rc = xs_ring_send(f->r, &h, body)) == 0)
		sent++;
	assert_int_equal(rc, -ENOBUFS);
	assert_true(xs_ring_queued(f->r) <= XS_RING_QUEUE_MAX);
	assert_true(sent > 100);
}

/* ---- over the sim hypervisor ---- */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void test_over_sim_hypervisor(void **state)
{
	char dir[] = "/tmp/pvd-test-xsring.XXXXXX";
	struct hv_config cfg = { .impl = "sim", .rundir = dir, .domid = 0 };
	grant_ref_t ref = GNTTAB_RESERVED_XENSTORE;
	struct hv_sim_domain *dom;
	struct xenstore_domain_interface *store_view;
	struct xs_ring *r;
	struct hv *hv;
	evtchn_port_t gport, sport, p;
	struct fx f = { 0 };
	char buf[128], rep[64];
	void *page = NULL;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(hv_sim_domain_create(dir, 9, 16, &dom), 0);
	assert_int_equal(hv_sim_evtchn_alloc_unbound(dom, 0, &gport), 0);
	f.intf = hv_sim_page(dom, hv_sim_xenstore_page(dom));
	f.dom = dom;
	f.port = gport;
	assert_int_equal(xs_ring_create(&r, f.intf, &cbs, &f), 0);
	f.r = r;
	/* The guest writes before the store is there, as a booting guest
	 * does: the notify goes nowhere, the bytes wait in the ring. */
	send_str(&f, XS_READ, 3, "domid");

	/* The store: a second mapping through the grant, and the port. */
	assert_int_equal(hv_open(&hv, &cfg), 0);
	assert_int_equal(hv_grant_map(hv, 9, 1, &ref, 1, &page), 0);
	store_view = page;
	assert_ptr_not_equal(store_view, f.intf);
	assert_int_equal(hv_evtchn_bind_interdomain(hv, 9, gport, &sport), 0);

	n = store_take(store_view, buf, sizeof(buf));
	assert_int_equal(n, sizeof(struct xsd_sockmsg) + 6);
	assert_string_equal(buf + sizeof(struct xsd_sockmsg), "domid");
	assert_int_equal(hv_evtchn_notify(hv, sport), 0);
	n = frame(rep, XS_READ, 3, "9", 1);
	store_put(store_view, rep, n);
	assert_int_equal(hv_evtchn_notify(hv, sport), 0);

	/* The guest wakes on its port and reads the reply. */
	assert_int_equal(hv_sim_evtchn_wait(dom, 5000), 0);
	assert_int_equal(hv_sim_evtchn_pending(dom, &p), 0);
	assert_int_equal(p, gport);
	assert_int_equal(hv_sim_evtchn_unmask(dom, p), 0);
	assert_int_equal(xs_ring_kick(r), 0);
	assert_int_equal(f.nmsgs, 1);
	assert_string_equal(f.msgs[0].body, "9");
	/* Its consume notified the store. */
	assert_int_equal(hv_evtchn_wait(hv, 5000), 0);
	assert_int_equal(hv_evtchn_pending(hv, &p), 0);
	assert_int_equal(p, sport);

	xs_ring_destroy(r);
	free(f.msgs[0].body);
	hv_grant_unmap(hv, page, 1);
	hv_close(hv);
	hv_sim_domain_destroy(dom);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_and_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reassembly_and_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_larger_than_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_reply_indexes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_reply_prod_behind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_request_indexes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_oversized_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_huge_reply_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_error_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_scribbles_our_indexes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_limits, setup, teardown),
		cmocka_unit_test(test_over_sim_hypervisor),
	};

	log_init("test_xs_ring", LOG_LVL_ERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
