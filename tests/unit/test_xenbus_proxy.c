/* pvguest's xenbus socket (tools/pvguest/xenbus_proxy.c, over xenbus_xs.c and
 * xs_ring.c): several local clients multiplexed over one ring to
 * pvd-stored's real core (pvguest_fakestore.h).  Request ids, watch token
 * prefixes, transaction ownership, cleanup of a client that goes, reply
 * order, and hostile clients (oversized frames, malformed requests, not
 * reading, too many). */
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tools/pvguest/xs_ring.h"
#include "../../tools/pvguest/xenbus_xs.h"
#include "../../tools/pvguest/xenbus_proxy.h"
#include "pvguest_fakestore.h"
#include "pvd/log.h"
#include "pvd/num.h"

#define GUEST 5
#define MAXCL 40
/* Bounds on loop turns (not time): far more than any exchange needs. */
#define SETTLE_ROUNDS 40
#define RECV_ROUNDS 2000

struct fx {
	struct event_base *base;
	struct xenstore_domain_interface *intf;
	struct fakestore fs;
	struct xenbus *xb;
	struct xenbus_proxy *p;
	int cl[MAXCL];
	char body[XENSTORE_PAYLOAD_MAX + 1];
};

static void notify(void *arg) { }

static void start_proxy(struct fx *f, const struct xenbus_proxy_limits *lim)
{
	if (f->p)
		xenbus_proxy_stop(f->p);
	f->p = NULL;
	assert_int_equal(xenbus_proxy_start(&f->p, f->base, f->xb, NULL, lim), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->base = event_base_new();
	f->intf = calloc(1, sizeof(*f->intf));
	fakestore_init(&f->fs, f->base, GUEST, f->intf);
	assert_int_equal(xenbus_create(&f->xb, f->base, f->intf, notify, f), 0);
	start_proxy(f, NULL);
	for (int i = 0; i < MAXCL; i++)
		f->cl[i] = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < MAXCL; i++)
		if (f->cl[i] >= 0)
			close(f->cl[i]);
	xenbus_proxy_stop(f->p);
	xenbus_destroy(f->xb);
	fakestore_fini(&f->fs);
	event_base_free(f->base);
	free(f->intf);
	free(f);
	return 0;
}

/* One turn of everything: the loop (sockets, deferred kicks), the store,
 * the ring. */
static void turn(struct fx *f)
{
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	fakestore_pump(&f->fs);
	xenbus_kick(f->xb);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static void settle(struct fx *f)
{
	for (int i = 0; i < SETTLE_ROUNDS; i++)
		turn(f);
}

/* small: the smallest socket buffers, so that unread output backs up
 * into the proxy at once. */
static int connect_client_buf(struct fx *f, int i, bool small)
{
	int sv[2], one = 1;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	if (small) {
		setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
	}
	f->cl[i] = sv[0];
	return xenbus_proxy_adopt(f->p, sv[1]);
}

static int connect_client(struct fx *f, int i)
{
	return connect_client_buf(f, i, false);
}

static void send_raw(struct fx *f, int i, const void *buf, size_t len)
{
	assert_int_equal(send(f->cl[i], buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Sends type with NUL-terminated args (WRITE: the value without NUL). */
static void send_req(struct fx *f, int i, uint32_t type, uint32_t req_id,
		     uint32_t tx_id, unsigned n, ...)
{
	char buf[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	struct xsd_sockmsg *h = (struct xsd_sockmsg *)buf;
	size_t off = sizeof(*h);
	va_list ap;

	va_start(ap, n);
	for (unsigned k = 0; k < n; k++) {
		const char *a = va_arg(ap, const char *);
		size_t l = strlen(a) + (type == XS_WRITE && k == n - 1 ? 0 : 1);

		memcpy(buf + off, a, l);
		off += l;
	}
	va_end(ap);
	*h = (struct xsd_sockmsg){ .type = type, .req_id = req_id,
				   .tx_id = tx_id,
				   .len = (uint32_t)(off - sizeof(*h)) };
	send_raw(f, i, buf, off);
}

/* A whole message from client i if one is there. */
static bool try_recv(struct fx *f, int i, struct xsd_sockmsg *h)
{
	ssize_t n = recv(f->cl[i], h, sizeof(*h), MSG_PEEK | MSG_DONTWAIT);
	char tmp[sizeof(*h) + XENSTORE_PAYLOAD_MAX];

	if (n < (ssize_t)sizeof(*h))
		return false;
	assert_true(h->len <= XENSTORE_PAYLOAD_MAX);
	n = recv(f->cl[i], tmp, sizeof(*h) + h->len, MSG_PEEK | MSG_DONTWAIT);
	if (n < (ssize_t)(sizeof(*h) + h->len))
		return false;
	assert_int_equal(recv(f->cl[i], tmp, sizeof(*h) + h->len, 0),
			 (ssize_t)(sizeof(*h) + h->len));
	memcpy(f->body, tmp + sizeof(*h), h->len);
	f->body[h->len] = '\0';
	return true;
}

/* The next message for client i (the test fails if none comes). */
static void recv_msg(struct fx *f, int i, struct xsd_sockmsg *h)
{
	for (int r = 0; r < RECV_ROUNDS; r++) {
		if (try_recv(f, i, h))
			return;
		turn(f);
	}
	fail_msg("client %d: no message", i);
}

static void expect_reply(struct fx *f, int i, uint32_t type, uint32_t req_id,
			 const char *body)
{
	struct xsd_sockmsg h;

	recv_msg(f, i, &h);
	assert_int_equal(h.req_id, req_id);
	if (h.type != type)
		fail_msg("client %d req %u: type %u (%s), want %u", i, req_id,
			 h.type, f->body, type);
	if (body)
		assert_string_equal(f->body, body);
}

/* The same, letting watch events come first. */
static void expect_reply_after_events(struct fx *f, int i, uint32_t type,
				      uint32_t req_id, const char *body)
{
	struct xsd_sockmsg h;

	do
		recv_msg(f, i, &h);
	while (h.type == XS_WATCH_EVENT);
	assert_int_equal(h.req_id, req_id);
	if (h.type != type)
		fail_msg("client %d req %u: type %u (%s), want %u", i, req_id,
			 h.type, f->body, type);
	if (body)
		assert_string_equal(f->body, body);
}

static void expect_event(struct fx *f, int i, const char *path, const char *token)
{
	struct xsd_sockmsg h;

	recv_msg(f, i, &h);
	assert_int_equal(h.type, XS_WATCH_EVENT);
	assert_int_equal(h.req_id, 0);
	assert_string_equal(f->body, path);
	assert_int_equal(h.len, strlen(path) + strlen(token) + 2);
	assert_string_equal(f->body + strlen(path) + 1, token);
}

static void expect_nothing(struct fx *f, int i)
{
	struct xsd_sockmsg h;

	settle(f);
	if (try_recv(f, i, &h))
		fail_msg("client %d: unexpected message type %u: %s", i, h.type, f->body);
}

/* True once the client's socket was closed by the proxy. */
static bool closed_by_proxy(struct fx *f, int i)
{
	char c;

	for (int r = 0; r < RECV_ROUNDS; r++) {
		ssize_t n = recv(f->cl[i], &c, 1, MSG_DONTWAIT);

		if (n == 0)
			return true;
		turn(f);
	}
	return false;
}

/* The transaction id of the reply just received: a whole decimal
 * number, not 0. */
static uint32_t txn_id(struct fx *f)
{
	uint64_t id;

	assert_int_equal(pvd_parse_range(f->body, 1, UINT32_MAX, &id), 0);
	return (uint32_t)id;
}

static unsigned store_watches(struct fx *f)
{
	return f->fs.guest->c->nwatches;
}

static unsigned store_txns(struct fx *f)
{
	return f->fs.guest->c->ntxns;
}

/* ------------------------------------------------------------------ */

static void test_read_write_relative(void **state)
{
	struct fx *f = *state;

	assert_int_equal(connect_client(f, 0), 0);
	send_req(f, 0, XS_WRITE, 77, 0, 2, "data/x", "hello");
	expect_reply(f, 0, XS_WRITE, 77, "OK");
	send_req(f, 0, XS_READ, 78, 0, 1, "data/x");
	expect_reply(f, 0, XS_READ, 78, "hello");
	/* The store saw domain 5 write under its home. */
	assert_int_equal(fakestore_dom0(&f->fs, XS_READ, 1, "/local/domain/5/data/x"),
			 XS_READ);
	assert_string_equal(f->fs.body, "hello");
	send_req(f, 0, XS_GET_DOMAIN_PATH, 79, 0, 1, "5");
	expect_reply(f, 0, XS_GET_DOMAIN_PATH, 79, "/local/domain/5");
}

static void test_permissions(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fakestore_dom0(&f->fs, XS_WRITE, 2, "/secret", "s"), XS_WRITE);
	assert_int_equal(connect_client(f, 0), 0);
	send_req(f, 0, XS_READ, 1, 0, 1, "/secret");
	expect_reply(f, 0, XS_ERROR, 1, "EACCES");
	send_req(f, 0, XS_WRITE, 2, 0, 2, "/secret", "mine");
	expect_reply(f, 0, XS_ERROR, 2, "EACCES");
	send_req(f, 0, XS_INTRODUCE, 3, 0, 3, "9", "1", "1");
	expect_reply(f, 0, XS_ERROR, 3, "EACCES");
	assert_int_equal(fakestore_dom0(&f->fs, XS_READ, 1, "/secret"), XS_READ);
	assert_string_equal(f->fs.body, "s");
}

/* Two clients using the same req_ids each get their own replies. */
static void test_req_ids_multiplexed(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fakestore_dom0(&f->fs, XS_WRITE, 2, "/local/domain/5/a", "A"),
			 XS_WRITE);
	assert_int_equal(fakestore_dom0(&f->fs, XS_WRITE, 2, "/local/domain/5/b", "B"),
			 XS_WRITE);
	assert_int_equal(connect_client(f, 0), 0);
	assert_int_equal(connect_client(f, 1), 0);
	/* Interleaved, all in flight together. */
	for (uint32_t id = 1; id <= 5; id++) {
		send_req(f, 0, XS_READ, id, 0, 1, "a");
		send_req(f, 1, XS_READ, id, 0, 1, "b");
	}
	for (uint32_t id = 1; id <= 5; id++) {
		expect_reply(f, 0, XS_READ, id, "A");
		expect_reply(f, 1, XS_READ, id, "B");
	}
	assert_int_equal(xenbus_pending(f->xb), 0);
}

static void test_watch_tokens(void **state)
{
	struct fx *f = *state;

	assert_int_equal(connect_client(f, 0), 0);
	assert_int_equal(connect_client(f, 1), 0);
	/* The same path and token from two clients: distinct on the ring. */
	send_req(f, 0, XS_WATCH, 1, 0, 2, "data", "tok");
	expect_reply(f, 0, XS_WATCH, 1, "OK");
	expect_event(f, 0, "data", "tok");
	send_req(f, 1, XS_WATCH, 1, 0, 2, "data", "tok");
	expect_reply(f, 1, XS_WATCH, 1, "OK");
	expect_event(f, 1, "data", "tok");
	assert_int_equal(store_watches(f), 2);

	assert_int_equal(fakestore_dom0(&f->fs, XS_WRITE, 2, "/local/domain/5/data/y", "1"),
			 XS_WRITE);
	expect_event(f, 0, "data/y", "tok");
	expect_event(f, 1, "data/y", "tok");

	send_req(f, 0, XS_UNWATCH, 2, 0, 2, "data", "tok");
	expect_reply(f, 0, XS_UNWATCH, 2, "OK");
	assert_int_equal(store_watches(f), 1);
	assert_int_equal(fakestore_dom0(&f->fs, XS_WRITE, 2, "/local/domain/5/data/z", "1"),
			 XS_WRITE);
	expect_event(f, 1, "data/z", "tok");
	expect_nothing(f, 0);

	/* A second identical watch: the store's EEXIST. */
	send_req(f, 1, XS_WATCH, 3, 0, 2, "data", "tok");
	expect_reply(f, 1, XS_ERROR, 3, "EEXIST");
	/* Unwatching what the client never watched. */
	send_req(f, 0, XS_UNWATCH, 4, 0, 2, "data", "tok");
	expect_reply(f, 0, XS_ERROR, 4, "ENOENT");
}

static void test_transactions_owned(void **state)
{
	struct fx *f = *state;
	struct xsd_sockmsg h;
	uint32_t tx;

	assert_int_equal(connect_client(f, 0), 0);
	assert_int_equal(connect_client(f, 1), 0);
	send_req(f, 0, XS_TRANSACTION_START, 1, 0, 1, "");
	recv_msg(f, 0, &h);
	assert_int_equal(h.type, XS_TRANSACTION_START);
	tx = txn_id(f);
	send_req(f, 0, XS_WRITE, 2, tx, 2, "t/a", "1");
	expect_reply(f, 0, XS_WRITE, 2, "OK");
	/* Client 1 cannot touch client 0's transaction. */
	send_req(f, 1, XS_READ, 1, tx, 1, "t/a");
	expect_reply(f, 1, XS_ERROR, 1, "ENOENT");
	send_req(f, 1, XS_TRANSACTION_END, 2, tx, 1, "T");
	expect_reply(f, 1, XS_ERROR, 2, "ENOENT");
	send_req(f, 1, XS_READ, 3, 0, 1, "t/a");
	expect_reply(f, 1, XS_ERROR, 3, "ENOENT");	/* not committed */
	assert_int_equal(store_txns(f), 1);
	/* A malformed end leaves it open; a real one commits. */
	send_req(f, 0, XS_TRANSACTION_END, 3, tx, 1, "X");
	expect_reply(f, 0, XS_ERROR, 3, "EINVAL");
	send_req(f, 0, XS_READ, 4, tx, 1, "t/a");
	expect_reply(f, 0, XS_READ, 4, "1");
	send_req(f, 0, XS_TRANSACTION_END, 5, tx, 1, "T");
	expect_reply(f, 0, XS_TRANSACTION_END, 5, "OK");
	assert_int_equal(store_txns(f), 0);
	send_req(f, 1, XS_READ, 4, 0, 1, "t/a");
	expect_reply(f, 1, XS_READ, 4, "1");
	/* Ended: no longer the client's. */
	send_req(f, 0, XS_READ, 6, tx, 1, "t/a");
	expect_reply(f, 0, XS_ERROR, 6, "ENOENT");
}

static void test_disconnect_cleans_up(void **state)
{
	struct fx *f = *state;
	struct xenbus_proxy_stats st;
	struct xsd_sockmsg h;

	assert_int_equal(connect_client(f, 0), 0);
	assert_int_equal(connect_client(f, 1), 0);
	send_req(f, 0, XS_WATCH, 1, 0, 2, "data", "a");
	send_req(f, 0, XS_WATCH, 2, 0, 2, "/local/domain/5", "b");
	send_req(f, 0, XS_TRANSACTION_START, 3, 0, 1, "");
	send_req(f, 0, XS_TRANSACTION_START, 4, 0, 1, "");
	expect_reply(f, 0, XS_WATCH, 1, "OK");
	expect_reply_after_events(f, 0, XS_WATCH, 2, "OK");
	send_req(f, 1, XS_WATCH, 1, 0, 2, "data", "keep");
	expect_reply(f, 1, XS_WATCH, 1, "OK");
	settle(f);
	assert_int_equal(store_watches(f), 3);
	assert_int_equal(store_txns(f), 2);
	/* Gone with replies unread and a request still in flight. */
	f->fs.stalled = true;
	send_req(f, 0, XS_TRANSACTION_START, 5, 0, 1, "");
	settle(f);
	close(f->cl[0]);
	f->cl[0] = -1;
	settle(f);
	xenbus_proxy_get_stats(f->p, &st);
	assert_int_equal(st.clients, 1);
	assert_int_equal(st.closing, 1);
	f->fs.stalled = false;
	settle(f);
	xenbus_proxy_get_stats(f->p, &st);
	assert_int_equal(st.closing, 0);
	/* Its watches and all three transactions are gone; client 1's
	 * watch stays and still fires. */
	assert_int_equal(store_watches(f), 1);
	assert_int_equal(store_txns(f), 0);
	while (try_recv(f, 1, &h))
		;
	assert_int_equal(fakestore_dom0(&f->fs, XS_WRITE, 2, "/local/domain/5/data/q", "1"),
			 XS_WRITE);
	expect_event(f, 1, "data/q", "keep");
}

static void test_reset_watches_own_only(void **state)
{
	struct fx *f = *state;

	assert_int_equal(connect_client(f, 0), 0);
	assert_int_equal(connect_client(f, 1), 0);
	send_req(f, 0, XS_WATCH, 1, 0, 2, "data", "a");
	expect_reply(f, 0, XS_WATCH, 1, "OK");
	send_req(f, 0, XS_WATCH, 2, 0, 2, "other", "a");
	expect_reply_after_events(f, 0, XS_WATCH, 2, "OK");
	send_req(f, 1, XS_WATCH, 1, 0, 2, "data", "b");
	expect_reply(f, 1, XS_WATCH, 1, "OK");
	settle(f);
	assert_int_equal(store_watches(f), 3);
	send_req(f, 0, XS_RESET_WATCHES, 3, 0, 1, "");
	/* Its events before; the reply once its watches are gone. */
	for (;;) {
		struct xsd_sockmsg h;

		recv_msg(f, 0, &h);
		if (h.type == XS_WATCH_EVENT)
			continue;
		assert_int_equal(h.type, XS_RESET_WATCHES);
		assert_int_equal(h.req_id, 3);
		break;
	}
	assert_int_equal(store_watches(f), 1);
	/* Inside a transaction: refused, as by the store (XSA-425). */
	send_req(f, 1, XS_TRANSACTION_START, 2, 0, 1, "");
	{
		struct xsd_sockmsg h;
		uint32_t tx;

		for (;;) {
			recv_msg(f, 1, &h);
			if (h.type != XS_WATCH_EVENT)
				break;
		}
		assert_int_equal(h.type, XS_TRANSACTION_START);
		tx = txn_id(f);
		send_req(f, 1, XS_RESET_WATCHES, 3, tx, 1, "");
		expect_reply(f, 1, XS_ERROR, 3, "EINVAL");
	}
	assert_int_equal(store_watches(f), 1);
}

/* Replies answered here wait behind earlier ones still at the store. */
static void test_reply_order(void **state)
{
	struct fx *f = *state;

	assert_int_equal(connect_client(f, 0), 0);
	f->fs.stalled = true;
	send_req(f, 0, XS_WRITE, 1, 0, 2, "o/a", "1");
	send_req(f, 0, XS_READ, 2, 12345, 1, "o/a");	/* not its tx: local */
	send_req(f, 0, 999, 3, 0, 1, "x");		/* bad type: local */
	expect_nothing(f, 0);
	f->fs.stalled = false;
	expect_reply(f, 0, XS_WRITE, 1, "OK");
	expect_reply(f, 0, XS_ERROR, 2, "ENOENT");
	expect_reply(f, 0, XS_ERROR, 3, "EINVAL");
}

static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	struct xsd_sockmsg h = { .type = XS_WATCH, .req_id = 1, .len = 4 };
	char buf[64];

	assert_int_equal(connect_client(f, 0), 0);
	/* WATCH without a token. */
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "abcd", 4);
	send_raw(f, 0, buf, sizeof(h) + 4);
	expect_reply(f, 0, XS_ERROR, 1, "EINVAL");
	h = (struct xsd_sockmsg){ .type = XS_WATCH, .req_id = 2, .len = 5 };
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "ab\0cd", 5);	/* token not terminated */
	send_raw(f, 0, buf, sizeof(h) + 5);
	expect_reply(f, 0, XS_ERROR, 2, "EINVAL");
	send_req(f, 0, XS_WATCH_EVENT, 3, 0, 2, "data", "t");
	expect_reply(f, 0, XS_ERROR, 3, "EINVAL");
	send_req(f, 0, XS_ERROR, 4, 0, 1, "EIO");
	expect_reply(f, 0, XS_ERROR, 4, "EINVAL");
	/* Bad paths are the store's to refuse. */
	send_req(f, 0, XS_READ, 5, 0, 1, "a//b");
	expect_reply(f, 0, XS_ERROR, 5, "EINVAL");
	/* A zero-length frame is a frame. */
	h = (struct xsd_sockmsg){ .type = XS_READ, .req_id = 6, .len = 0 };
	send_raw(f, 0, &h, sizeof(h));
	expect_reply(f, 0, XS_ERROR, 6, "EINVAL");
	/* A watch whose prefixed token no longer fits a payload. */
	{
		static char big[XENSTORE_PAYLOAD_MAX];
		struct xsd_sockmsg *bh = (struct xsd_sockmsg *)big;
		uint32_t len = XENSTORE_PAYLOAD_MAX - sizeof(*bh);

		memset(big, 'x', sizeof(big));
		*bh = (struct xsd_sockmsg){ .type = XS_WATCH, .req_id = 7,
					    .len = len };
		big[sizeof(*bh) + 1] = '\0';		/* path "x" */
		big[sizeof(*bh) + len - 1] = '\0';	/* the long token */
		send_raw(f, 0, big, sizeof(*bh) + len);
		expect_reply(f, 0, XS_ERROR, 7, "E2BIG");
	}
	assert_int_equal(store_watches(f), 0);
}

static void test_oversized_frame_closes(void **state)
{
	struct fx *f = *state;
	struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = 1,
				 .len = XENSTORE_PAYLOAD_MAX + 1 };
	struct xenbus_proxy_stats st;

	assert_int_equal(connect_client(f, 0), 0);
	assert_int_equal(connect_client(f, 1), 0);
	send_raw(f, 0, &h, sizeof(h));
	assert_true(closed_by_proxy(f, 0));
	xenbus_proxy_get_stats(f->p, &st);
	assert_int_equal(st.bad_frames, 1);
	assert_int_equal(st.clients, 1);
	/* The other client is served as before. */
	send_req(f, 1, XS_WRITE, 9, 0, 2, "ok", "1");
	expect_reply(f, 1, XS_WRITE, 9, "OK");
}

/* A client that sends and sends while the store is slow: only
 * max_queued of its requests are taken in. */
static void test_queue_bounded(void **state)
{
	struct fx *f = *state;
	struct xenbus_proxy_limits lim = XENBUS_PROXY_LIMITS_DEFAULT;

	lim.max_queued = 4;
	start_proxy(f, &lim);
	assert_int_equal(connect_client(f, 0), 0);
	f->fs.stalled = true;
	for (uint32_t id = 1; id <= 40; id++)
		send_req(f, 0, XS_WRITE, id, 0, 2, "q", "v");
	settle(f);
	assert_true(xenbus_pending(f->xb) <= 4);
	assert_true(xenbus_pending(f->xb) > 0);
	f->fs.stalled = false;
	for (uint32_t id = 1; id <= 40; id++)
		expect_reply(f, 0, XS_WRITE, id, "OK");
}

/* A client that never reads: its watch events are dropped past
 * max_output, the others get theirs. */
static void test_events_to_nonreader_dropped(void **state)
{
	struct fx *f = *state;
	struct xenbus_proxy_limits lim = XENBUS_PROXY_LIMITS_DEFAULT;
	struct xenbus_proxy_stats st;
	int got = 0;
	struct xsd_sockmsg h;

	lim.max_output = 2048;
	start_proxy(f, &lim);
	assert_int_equal(connect_client_buf(f, 0, true), 0);
	assert_int_equal(connect_client(f, 1), 0);
	send_req(f, 0, XS_WATCH, 1, 0, 2, "ev", "a");
	send_req(f, 1, XS_WATCH, 1, 0, 2, "ev", "b");
	expect_reply(f, 1, XS_WATCH, 1, "OK");
	expect_event(f, 1, "ev", "b");
	for (int i = 0; i < 300; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/local/domain/5/ev/%d", i);
		assert_int_equal(fakestore_dom0(&f->fs, XS_WRITE, 2, path, "0123456789"),
				 XS_WRITE);
		turn(f);
		while (try_recv(f, 1, &h))
			got++;
	}
	settle(f);
	while (try_recv(f, 1, &h))
		got++;
	assert_int_equal(got, 300);
	xenbus_proxy_get_stats(f->p, &st);
	assert_true(st.events_dropped > 0);
	/* What is held for client 0 (the most held for any client) stays
	 * near the limit. */
	assert_true(st.output_max > 0);
	assert_true(st.output_max < lim.max_output + 2 * 64);
}

static void test_too_many_clients(void **state)
{
	struct fx *f = *state;
	struct xenbus_proxy_limits lim = XENBUS_PROXY_LIMITS_DEFAULT;
	struct xenbus_proxy_stats st;

	lim.max_clients = 3;
	start_proxy(f, &lim);
	for (int i = 0; i < 3; i++)
		assert_int_equal(connect_client(f, i), 0);
	assert_int_equal(connect_client(f, 3), -EMFILE);
	assert_true(closed_by_proxy(f, 3));
	xenbus_proxy_get_stats(f->p, &st);
	assert_int_equal(st.refused, 1);
	/* A closing client still counts until its cleanup is done. */
	f->fs.stalled = true;
	send_req(f, 0, XS_READ, 1, 0, 1, "x");
	settle(f);
	close(f->cl[0]);
	f->cl[0] = -1;
	settle(f);
	assert_int_equal(connect_client(f, 4), -EMFILE);
	f->fs.stalled = false;
	settle(f);
	assert_int_equal(connect_client(f, 5), 0);
	send_req(f, 5, XS_WRITE, 1, 0, 2, "c", "1");
	expect_reply(f, 5, XS_WRITE, 1, "OK");
}

/* The ring breaks with requests in flight: EIO for them and later ones. */
static void test_ring_broken(void **state)
{
	struct fx *f = *state;

	assert_int_equal(connect_client(f, 0), 0);
	f->fs.stalled = true;
	send_req(f, 0, XS_READ, 1, 0, 1, "x");
	settle(f);
	f->intf->rsp_prod = f->intf->rsp_cons + XENSTORE_RING_SIZE + 7;
	expect_reply(f, 0, XS_ERROR, 1, "EIO");
	send_req(f, 0, XS_READ, 2, 0, 1, "x");
	expect_reply(f, 0, XS_ERROR, 2, "EIO");
	assert_true(xenbus_is_broken(f->xb));
}

/* A hostile store: replies nobody asked for, events with foreign or
 * malformed tokens; the client sees none of it. */
static void test_store_junk_ignored(void **state)
{
	struct fx *f = *state;
	char buf[128];
	struct xsd_sockmsg h;
	size_t off = 0;

	assert_int_equal(connect_client(f, 0), 0);
	send_req(f, 0, XS_WATCH, 1, 0, 2, "data", "t");
	expect_reply(f, 0, XS_WATCH, 1, "OK");
	expect_event(f, 0, "data", "t");
	f->fs.stalled = true;
	h = (struct xsd_sockmsg){ .type = XS_READ, .req_id = 4242, .len = 2 };
	memcpy(buf + off, &h, sizeof(h));
	memcpy(buf + off + sizeof(h), "x", 2);
	off += sizeof(h) + 2;
	h = (struct xsd_sockmsg){ .type = XS_WATCH_EVENT, .len = 9 };
	memcpy(buf + off, &h, sizeof(h));
	memcpy(buf + off + sizeof(h), "data\0p99:", 9);	/* no such client */
	off += sizeof(h) + 9;
	h = (struct xsd_sockmsg){ .type = XS_WATCH_EVENT, .len = 4 };
	memcpy(buf + off, &h, sizeof(h));
	memcpy(buf + off + sizeof(h), "data", 4);	/* no token */
	off += sizeof(h) + 4;
	for (size_t i = 0; i < off; i++)
		f->intf->rsp[MASK_XENSTORE_IDX(f->intf->rsp_prod + i)] = buf[i];
	f->intf->rsp_prod += (XENSTORE_RING_IDX)off;
	expect_nothing(f, 0);
	f->fs.stalled = false;
	send_req(f, 0, XS_WRITE, 2, 0, 2, "data/k", "1");
	expect_reply(f, 0, XS_WRITE, 2, "OK");
	expect_event(f, 0, "data/k", "t");
	assert_false(xenbus_is_broken(f->xb));
}

/* The listening socket, as xenstore clients reach it. */
static void test_listen_socket(void **state)
{
	struct fx *f = *state;
	char dir[] = "/tmp/pvd-test-xbp.XXXXXX", path[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/xenbus.sock", dir);
	/* A stale file there is replaced. */
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	xenbus_proxy_stop(f->p);
	f->p = NULL;
	assert_int_equal(xenbus_proxy_start(&f->p, f->base, f->xb, path, NULL), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	f->cl[0] = fd;
	send_req(f, 0, XS_WRITE, 1, 0, 2, "s", "1");
	expect_reply(f, 0, XS_WRITE, 1, "OK");
	xenbus_proxy_stop(f->p);
	f->p = NULL;
	assert_int_equal(stat(path, &st), -1);
	rmdir(dir);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_read_write_relative),
		T(test_permissions),
		T(test_req_ids_multiplexed),
		T(test_watch_tokens),
		T(test_transactions_owned),
		T(test_disconnect_cleans_up),
		T(test_reset_watches_own_only),
		T(test_reply_order),
		T(test_bad_requests),
		T(test_oversized_frame_closes),
		T(test_queue_bounded),
		T(test_events_to_nonreader_dropped),
		T(test_too_many_clients),
		T(test_ring_broken),
		T(test_store_junk_ignored),
		T(test_listen_socket),
	};

	log_init("test_xenbus_proxy", LOG_LVL_ERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
