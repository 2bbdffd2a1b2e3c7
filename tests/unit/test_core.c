/* Request dispatch, the wire parser and watch delivery, driven through
 * in-memory connections (tests/harness/memconn.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "../../stored/conn.h"
#include "../../stored/core.h"
#include "../../stored/stored.h"
#include "../harness/memconn.h"

struct fx {
	struct event_base *base;
	struct stored sd;
	struct memconn *d0, *g5, *g7;
	char body[XENSTORE_PAYLOAD_MAX + 1];
};

static int setup(void **state)
{
	static const struct quota q = QUOTA_DEFAULTS;
	struct fx *f = calloc(1, sizeof(*f));

	f->base = event_base_new();
	assert_int_equal(stored_init(&f->sd, f->base, &q), 0);
	assert_int_equal(core_setup_tree(&f->sd), 0);
	f->d0 = memconn_new(&f->sd, 0, true);
	f->g5 = memconn_new(&f->sd, 5, false);
	f->g7 = memconn_new(&f->sd, 7, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	memconn_free(f->d0);
	memconn_free(f->g5);
	memconn_free(f->g7);
	stored_destroy(&f->sd);
	event_base_free(f->base);
	free(f);
	return 0;
}

#define OK(m, ...) assert_int_equal(xs_req(m, __VA_ARGS__), (m == m) ? xs_type_of(__VA_ARGS__) : 0)
static uint32_t xs_type_of(uint32_t t, ...) { return t; }

static void expect_err(struct fx *f, struct memconn *m, const char *err,
		       uint32_t type, uint32_t tx, unsigned n, ...)
{
	const char *argv[8];
	struct xsd_sockmsg h;
	va_list ap;

	va_start(ap, n);
	for (unsigned i = 0; i < n; i++)
		argv[i] = va_arg(ap, const char *);
	va_end(ap);
	memconn_request(m, type, tx, argv, n, type == XS_WRITE);
	assert_true(memconn_reply(m, &h, f->body));
	assert_int_equal(h.type, XS_ERROR);
	assert_string_equal(f->body, err);
}

/* Pops watch events; returns how many, the last one's path in f->body. */
static int events(struct fx *f, struct memconn *m, char *last_token)
{
	struct xsd_sockmsg h;
	int n = 0;

	while (memconn_next(m, &h, f->body)) {
		if (h.type != XS_WATCH_EVENT)
			continue;
		n++;
		if (last_token)
			strcpy(last_token, f->body + strlen(f->body) + 1);
	}
	return n;
}

static void test_read_write_reply_format(void **state)
{
	struct fx *f = *state;
	struct xsd_sockmsg h;

	OK(f->d0, XS_WRITE, 0, NULL, 2, "/a/b", "value");
	assert_int_equal(xs_req(f->d0, XS_READ, 0, f->body, 1, "/a/b"), XS_READ);
	assert_string_equal(f->body, "value");
	memconn_request(f->d0, XS_READ, 0, (const char *[]){ "/a/b" }, 1, false);
	assert_true(memconn_next(f->d0, &h, f->body));
	assert_int_equal(h.req_id, 42);
	assert_int_equal(h.len, 5);	/* no NUL on values */
	expect_err(f, f->d0, "ENOENT", XS_READ, 0, 1, "/nope");
	expect_err(f, f->d0, "EINVAL", XS_READ, 0, 1, "/bad//path");
	expect_err(f, f->d0, "EINVAL", XS_READ, 0, 1, "/bad path");
	expect_err(f, f->d0, "EINVAL", XS_READ, 0, 0);
}

static void test_bad_frames(void **state)
{
	struct fx *f = *state;
	struct xsd_sockmsg h = { 999, 1, 0, 0 };
	char path[200] = "/no/nul/here";

	/* Unknown type: an error, the connection lives. */
	memconn_feed(f->d0, &h, sizeof(h));
	assert_true(memconn_reply(f->d0, &h, f->body));
	assert_int_equal(h.type, XS_ERROR);
	/* A path without its NUL. */
	h = (struct xsd_sockmsg){ XS_READ, 2, 0, (uint32_t)strlen(path) };
	memconn_feed(f->d0, &h, sizeof(h));
	memconn_feed(f->d0, path, strlen(path));
	assert_true(memconn_reply(f->d0, &h, f->body));
	assert_string_equal(f->body, "EINVAL");
	/* Too long a payload closes the connection. */
	h = (struct xsd_sockmsg){ XS_READ, 3, 0, XENSTORE_PAYLOAD_MAX + 1 };
	memconn_feed(f->g5, &h, sizeof(h));
	assert_null(f->g5->c);
	/* Others are still served. */
	assert_int_equal(xs_req(f->g7, XS_GET_DOMAIN_PATH, 0, f->body, 1, "7"),
			 XS_GET_DOMAIN_PATH);
	assert_string_equal(f->body, "/local/domain/7");
}

static void test_relative_paths_and_perms(void **state)
{
	struct fx *f = *state;

	OK(f->d0, XS_MKDIR, 0, NULL, 1, "/local/domain/5");
	OK(f->d0, XS_SET_PERMS, 0, NULL, 3, "/local/domain/5", "n5", "r0");
	OK(f->g5, XS_WRITE, 0, NULL, 2, "data", "hi");
	assert_int_equal(xs_req(f->d0, XS_READ, 0, f->body, 1,
				"/local/domain/5/data"), XS_READ);
	assert_string_equal(f->body, "hi");
	expect_err(f, f->g7, "EACCES", XS_READ, 0, 1, "/local/domain/5/data");
	expect_err(f, f->g7, "EACCES", XS_WRITE, 0, 2, "/local/domain/5/x", "1");
	expect_err(f, f->g5, "EACCES", XS_INTRODUCE, 0, 3, "9", "1", "1");
	expect_err(f, f->g5, "EACCES", XS_CONTROL, 0, 1, "help");
	assert_int_equal(xs_req(f->g5, XS_GET_PERMS, 0, f->body, 1, "data"),
			 XS_GET_PERMS);
	assert_string_equal(f->body, "n5");
}

static void test_watch_semantics(void **state)
{
	struct fx *f = *state;
	char tok[64];

	OK(f->d0, XS_WATCH, 0, NULL, 2, "/w", "t1");
	assert_int_equal(events(f, f->d0, tok), 1);	/* fires when set */
	assert_string_equal(f->body, "/w");
	assert_string_equal(tok, "t1");
	OK(f->d0, XS_WRITE, 0, NULL, 2, "/w/a/b", "1");
	assert_int_equal(events(f, f->d0, NULL), 1);
	assert_string_equal(f->body, "/w/a/b");
	OK(f->d0, XS_WRITE, 0, NULL, 2, "/elsewhere", "1");
	assert_int_equal(events(f, f->d0, NULL), 0);
	/* Removal of an ancestor reaches a watch below it. */
	OK(f->d0, XS_WATCH, 0, NULL, 2, "/w/a/b", "t2");
	events(f, f->d0, NULL);
	OK(f->d0, XS_RM, 0, NULL, 1, "/w");
	assert_int_equal(events(f, f->d0, NULL), 2);
	expect_err(f, f->d0, "EEXIST", XS_WATCH, 0, 2, "/w", "t1");
	OK(f->d0, XS_UNWATCH, 0, NULL, 2, "/w", "t1");
	expect_err(f, f->d0, "ENOENT", XS_UNWATCH, 0, 2, "/w", "t1");
}

static void test_relative_watch(void **state)
{
	struct fx *f = *state;

	OK(f->d0, XS_MKDIR, 0, NULL, 1, "/local/domain/5");
	OK(f->d0, XS_SET_PERMS, 0, NULL, 2, "/local/domain/5", "n5");
	OK(f->g5, XS_WATCH, 0, NULL, 2, "dev", "tok");
	events(f, f->g5, NULL);
	OK(f->g5, XS_WRITE, 0, NULL, 2, "dev/x", "1");
	assert_int_equal(events(f, f->g5, NULL), 1);
	assert_string_equal(f->body, "dev/x");
}

/* XSA-115: no event for a node the watcher may not read. */
static void test_watch_respects_perms(void **state)
{
	struct fx *f = *state;

	OK(f->g5, XS_WATCH, 0, NULL, 2, "/", "root");
	events(f, f->g5, NULL);
	OK(f->d0, XS_WRITE, 0, NULL, 2, "/private", "secret");
	assert_int_equal(events(f, f->g5, NULL), 0);
	OK(f->d0, XS_WRITE, 0, NULL, 2, "/public", "x");
	OK(f->d0, XS_SET_PERMS, 0, NULL, 2, "/public", "r0");
	assert_int_equal(events(f, f->g5, NULL), 1);
}

/* Special watches: unprivileged watchers hear nothing unless dom0 grants
 * them the special node. */
static void test_special_watches(void **state)
{
	struct fx *f = *state;

	OK(f->d0, XS_WATCH, 0, NULL, 2, "@introduceDomain", "i");
	OK(f->d0, XS_WATCH, 0, NULL, 2, "@releaseDomain", "r");
	OK(f->g5, XS_WATCH, 0, NULL, 2, "@releaseDomain", "r5");
	events(f, f->d0, NULL);
	events(f, f->g5, NULL);
	OK(f->d0, XS_INTRODUCE, 0, NULL, 3, "9", "1234", "7");
	assert_int_equal(events(f, f->d0, NULL), 1);
	assert_string_equal(f->body, "@introduceDomain");
	assert_int_equal(xs_req(f->d0, XS_IS_DOMAIN_INTRODUCED, 0, f->body, 1, "9"),
			 XS_IS_DOMAIN_INTRODUCED);
	assert_string_equal(f->body, "T");
	OK(f->d0, XS_RELEASE, 0, NULL, 1, "9");
	assert_int_equal(events(f, f->d0, NULL), 1);
	assert_string_equal(f->body, "@releaseDomain");
	assert_int_equal(events(f, f->g5, NULL), 0);
	xs_req(f->d0, XS_IS_DOMAIN_INTRODUCED, 0, f->body, 1, "9");
	assert_string_equal(f->body, "F");
	expect_err(f, f->d0, "ENOENT", XS_RELEASE, 0, 1, "9");
	expect_err(f, f->g5, "EACCES", XS_SET_PERMS, 0, 2, "@releaseDomain", "r5");
	/* Granted, the guest hears the next one. */
	OK(f->d0, XS_SET_PERMS, 0, NULL, 3, "@releaseDomain", "n0", "r5");
	OK(f->d0, XS_INTRODUCE, 0, NULL, 3, "9", "1234", "7");
	OK(f->d0, XS_RELEASE, 0, NULL, 1, "9");
	assert_int_equal(events(f, f->g5, NULL), 1);
}

/* XSA-324: a token that cannot fit an event is refused. */
static void test_huge_token(void **state)
{
	struct fx *f = *state;
	char tok[XENSTORE_PAYLOAD_MAX - 100];

	memset(tok, 'x', sizeof(tok) - 1);
	tok[sizeof(tok) - 1] = '\0';
	expect_err(f, f->d0, "E2BIG", XS_WATCH, 0, 2, "/w", tok);
}

/* XSA-425: RESET_WATCHES inside a transaction is an error. */
static void test_reset_watches_in_txn(void **state)
{
	struct fx *f = *state;
	uint32_t tx;

	assert_int_equal(xs_req(f->d0, XS_TRANSACTION_START, 0, f->body, 1, ""),
			 XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(f->body, NULL, 10);
	expect_err(f, f->d0, "EINVAL", XS_RESET_WATCHES, tx, 1, "");
	OK(f->d0, XS_WATCH, 0, NULL, 2, "/x", "t");
	OK(f->d0, XS_RESET_WATCHES, 0, NULL, 1, "");
	/* The transaction went with it. */
	expect_err(f, f->d0, "ENOENT", XS_READ, tx, 1, "/");
	expect_err(f, f->d0, "ENOENT", XS_UNWATCH, 0, 2, "/x", "t");
}

static void test_transactions_on_the_wire(void **state)
{
	struct fx *f = *state;
	uint32_t t1, t2;

	OK(f->d0, XS_WRITE, 0, NULL, 2, "/t", "0");
	xs_req(f->d0, XS_TRANSACTION_START, 0, f->body, 1, "");
	t1 = (uint32_t)strtoul(f->body, NULL, 10);
	xs_req(f->d0, XS_TRANSACTION_START, 0, f->body, 1, "");
	t2 = (uint32_t)strtoul(f->body, NULL, 10);
	assert_int_not_equal(t1, t2);
	OK(f->d0, XS_READ, t1, NULL, 1, "/t");
	OK(f->d0, XS_WRITE, t1, NULL, 2, "/t", "1");
	OK(f->d0, XS_READ, t2, NULL, 1, "/t");
	OK(f->d0, XS_WRITE, t2, NULL, 2, "/t", "2");
	OK(f->d0, XS_TRANSACTION_END, t1, NULL, 1, "T");
	expect_err(f, f->d0, "EAGAIN", XS_TRANSACTION_END, t2, 1, "T");
	xs_req(f->d0, XS_READ, 0, f->body, 1, "/t");
	assert_string_equal(f->body, "1");
	expect_err(f, f->d0, "ENOENT", XS_TRANSACTION_END, t2, 1, "T");
	expect_err(f, f->d0, "EINVAL", XS_TRANSACTION_START, 5, 1, "");
	/* Quota on open transactions for a guest. */
	for (int i = 0; i < 10; i++)
		OK(f->g5, XS_TRANSACTION_START, 0, NULL, 1, "");
	expect_err(f, f->g5, "ENOSPC", XS_TRANSACTION_START, 0, 1, "");
}

static void test_directory_part(void **state)
{
	struct fx *f = *state;
	char path[64], gen[32];
	struct xsd_sockmsg h;
	unsigned total = 0, off = 0, parts = 0;
	bool done = false;

	for (int i = 0; i < 600; i++) {
		snprintf(path, sizeof(path), "/many/child-number-%04d", i);
		OK(f->d0, XS_WRITE, 0, NULL, 2, path, "");
	}
	expect_err(f, f->d0, "E2BIG", XS_DIRECTORY, 0, 1, "/many");
	while (!done && parts < 10) {
		char offs[16];
		const char *argv[2] = { "/many", offs };
		unsigned len, p;

		snprintf(offs, sizeof(offs), "%u", off);
		memconn_request(f->d0, XS_DIRECTORY_PART, 0, argv, 2, false);
		assert_true(memconn_reply(f->d0, &h, f->body));
		assert_int_equal(h.type, XS_DIRECTORY_PART);
		if (parts == 0)
			strcpy(gen, f->body);
		assert_string_equal(f->body, gen);
		len = h.len;
		p = (unsigned)strlen(f->body) + 1;
		while (p < len) {
			size_t l = strlen(f->body + p);

			if (l == 0) {
				done = true;
				break;
			}
			total++;
			off += (unsigned)l + 1;
			p += (unsigned)l + 1;
		}
		parts++;
	}
	assert_true(done);
	assert_int_equal(total, 600);
	assert_true(parts > 1);
}

static uint32_t txn_start(struct fx *f, struct memconn *m)
{
	assert_int_equal(xs_req(m, XS_TRANSACTION_START, 0, f->body, 1, ""),
			 XS_TRANSACTION_START);
	return (uint32_t)strtoul(f->body, NULL, 10);
}

/* Every transaction is within the nodes quota on its own; together they
 * are not.  The commit that would pass the quota fails with ENOSPC, as
 * xenstored answers, and changes nothing. */
static void test_txn_commit_checks_quota(void **state)
{
	struct fx *f = *state;
	char dir[8], path[16];
	uint32_t tx[4];
	int committed = 0;

	OK(f->d0, XS_CONTROL, 0, NULL, 3, "quota", "nodes", "12");
	OK(f->d0, XS_MKDIR, 0, NULL, 1, "/local/domain/5");
	OK(f->d0, XS_SET_PERMS, 0, NULL, 2, "/local/domain/5", "n5");
	for (int i = 0; i < 4; i++) {
		snprintf(dir, sizeof(dir), "t%d", i);
		OK(f->g5, XS_MKDIR, 0, NULL, 1, dir);
	}
	assert_int_equal(store_owned(&f->sd.store, 5), 5);
	/* Each adds 3 nodes under its own directory: no conflicts. */
	for (int i = 0; i < 4; i++) {
		tx[i] = txn_start(f, f->g5);
		for (int k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "t%d/n%d", i, k);
			OK(f->g5, XS_WRITE, tx[i], NULL, 2, path, "v");
		}
	}
	OK(f->d0, XS_WATCH, 0, NULL, 2, "/local/domain/5/t2", "w");
	assert_int_equal(events(f, f->d0, NULL), 1);	/* the initial one */
	for (int i = 0; i < 4; i++) {
		if (i < 2) {
			OK(f->g5, XS_TRANSACTION_END, tx[i], NULL, 1, "T");
			committed++;
		} else {
			expect_err(f, f->g5, "ENOSPC", XS_TRANSACTION_END, tx[i],
				   1, "T");
		}
		assert_true(store_owned(&f->sd.store, 5) <= 12);
	}
	assert_int_equal(committed, 2);
	assert_int_equal(store_owned(&f->sd.store, 5), 11);
	/* The failed commits left nothing: no node, no child, no event. */
	expect_err(f, f->d0, "ENOENT", XS_READ, 0, 1, "/local/domain/5/t2/n0");
	xs_req(f->d0, XS_DIRECTORY, 0, f->body, 1, "/local/domain/5/t2");
	assert_string_equal(f->body, "");
	assert_int_equal(events(f, f->d0, NULL), 0);
	/* The transactions are gone; the domain may write within quota. */
	expect_err(f, f->g5, "ENOENT", XS_TRANSACTION_END, tx[2], 1, "T");
	OK(f->g5, XS_WRITE, 0, NULL, 2, "t2/n0", "v");
	expect_err(f, f->g5, "ENOSPC", XS_WRITE, 0, 2, "t2/n1", "v");
}

/* A request that fails inside a transaction leaves no trace there: no
 * change at commit, no watch event, no touched node. */
static void test_failed_request_no_trace_in_txn(void **state)
{
	struct fx *f = *state;
	static const char *const kids[] = { "a", "b", "c", "d" };
	char path[16];
	uint32_t tx;

	OK(f->d0, XS_MKDIR, 0, NULL, 1, "/local/domain/5");
	OK(f->d0, XS_SET_PERMS, 0, NULL, 2, "/local/domain/5", "n5");
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "s/%s", kids[i]);
		OK(f->g5, XS_WRITE, 0, NULL, 2, path, "");
		if (i < 3) {
			snprintf(path, sizeof(path), "r/%s", kids[i]);
			OK(f->g5, XS_WRITE, 0, NULL, 2, path, "");
		}
	}
	OK(f->d0, XS_WATCH, 0, NULL, 2, "/local/domain/5/r", "r");
	assert_int_equal(events(f, f->d0, NULL), 1);	/* the initial one */
	OK(f->d0, XS_WATCH, 0, NULL, 2, "/local/domain/5/s", "s");
	assert_int_equal(events(f, f->d0, NULL), 1);
	OK(f->d0, XS_CONTROL, 0, NULL, 3, "quota", "trans_nodes", "4");

	/* r and its 3 children fill the transaction; its parent does not
	 * fit: the removal fails after deleting. */
	tx = txn_start(f, f->g5);
	expect_err(f, f->g5, "ENOSPC", XS_RM, tx, 1, "r");
	/* s and 3 of its 4 children fill it: fails while collecting. */
	expect_err(f, f->g5, "ENOSPC", XS_RM, tx, 1, "s");
	OK(f->g5, XS_TRANSACTION_END, tx, NULL, 1, "T");
	assert_int_equal(events(f, f->d0, NULL), 0);
	/* Too deep a write, and a mkdir, over the transaction's size. */
	tx = txn_start(f, f->g5);
	expect_err(f, f->g5, "ENOSPC", XS_WRITE, tx, 2, "w/1/2/3", "v");
	expect_err(f, f->g5, "ENOSPC", XS_MKDIR, tx, 1, "m/1/2/3");
	/* Nothing of them was kept: a write of 2 nodes still fits. */
	OK(f->g5, XS_WRITE, tx, NULL, 2, "x", "1");
	OK(f->g5, XS_TRANSACTION_END, tx, NULL, 1, "T");
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "s/%s", kids[i]);
		OK(f->g5, XS_READ, 0, NULL, 1, path);
		if (i < 3) {
			snprintf(path, sizeof(path), "r/%s", kids[i]);
			OK(f->g5, XS_READ, 0, NULL, 1, path);
		}
	}
	xs_req(f->g5, XS_READ, 0, f->body, 1, "x");
	assert_string_equal(f->body, "1");
	expect_err(f, f->g5, "ENOENT", XS_READ, 0, 1, "w");
	expect_err(f, f->g5, "ENOENT", XS_READ, 0, 1, "m");
}

/* XSA-322: after RELEASE, the domain's rights are gone, so a new domain
 * with the same id does not inherit them, nor their quota count. */
static void test_domid_reuse(void **state)
{
	struct fx *f = *state;

	OK(f->d0, XS_INTRODUCE, 0, NULL, 3, "5", "1", "1");
	OK(f->d0, XS_MKDIR, 0, NULL, 1, "/local/domain/5");
	OK(f->d0, XS_SET_PERMS, 0, NULL, 3, "/local/domain/5", "n5", "r7");
	OK(f->g5, XS_WRITE, 0, NULL, 2, "x", "1");
	assert_int_equal(store_owned(&f->sd.store, 5), 2);
	OK(f->d0, XS_WRITE, 0, NULL, 2, "/shared", "s");
	OK(f->d0, XS_SET_PERMS, 0, NULL, 3, "/shared", "n0", "r5");
	OK(f->d0, XS_RELEASE, 0, NULL, 1, "5");
	assert_null(f->g5->c);	/* its connections went with it */
	assert_int_equal(store_owned(&f->sd.store, 5), 0);
	/* Its own nodes are gone; its rights elsewhere are revoked. */
	expect_err(f, f->d0, "ENOENT", XS_READ, 0, 1, "/local/domain/5");
	xs_req(f->d0, XS_GET_PERMS, 0, f->body, 1, "/shared");
	assert_string_equal(f->body, "n0");
	assert_int_equal(f->body[3], 0);
}

/* A client that never reads: its replies and events stay bounded, and
 * everybody else is served. */
static void test_non_reading_client(void **state)
{
	struct fx *f = *state;
	struct conn *c5;
	char buf[64];

	OK(f->d0, XS_MKDIR, 0, NULL, 1, "/local/domain/5");
	OK(f->d0, XS_SET_PERMS, 0, NULL, 2, "/local/domain/5", "b5");
	OK(f->g5, XS_WATCH, 0, NULL, 2, "/local/domain/5", "t");
	f->g5->no_drain = true;
	c5 = f->g5->c;
	for (int i = 0; i < 3000; i++) {
		snprintf(buf, sizeof(buf), "/local/domain/5/n%d", i % 50);
		OK(f->d0, XS_WRITE, 0, NULL, 2, buf, "x");
	}
	assert_true(c5->pending_events <= f->sd.quota.event_queue);
	assert_true(c5->dropped_events > 0);
	/* Requests past the outstanding limit are not even read. */
	for (int i = 0; i < 100; i++)
		memconn_request(f->g5, XS_READ, 0,
				(const char *[]){ "/local/domain/5" }, 1, false);
	assert_true(c5->pending_replies <= f->sd.quota.outstanding);
	assert_int_equal(xs_req(f->g7, XS_GET_DOMAIN_PATH, 0, f->body, 1, "7"),
			 XS_GET_DOMAIN_PATH);
}

static void test_control(void **state)
{
	struct fx *f = *state;

	OK(f->d0, XS_CONTROL, 0, NULL, 2, "print", "hello from a test");
	assert_int_equal(xs_req(f->d0, XS_CONTROL, 0, f->body, 1, "quota"),
			 XS_CONTROL);
	assert_non_null(strstr(f->body, "nodes"));
	OK(f->d0, XS_CONTROL, 0, NULL, 3, "quota", "watches", "2");
	assert_int_equal(f->sd.quota.watches, 2);
	OK(f->g5, XS_WATCH, 0, NULL, 2, "/a", "1");
	OK(f->g5, XS_WATCH, 0, NULL, 2, "/a", "2");
	expect_err(f, f->g5, "E2BIG", XS_WATCH, 0, 2, "/a", "3");
	expect_err(f, f->d0, "EINVAL", XS_CONTROL, 0, 3, "quota", "bogus", "1");
	expect_err(f, f->d0, "EINVAL", XS_CONTROL, 0, 1, "nonsense");
}

/* CONTROL stats (stored_stats_json): dom0's only, valid JSON that fits a
 * reply, the counters moving with what is done. */
static json_int_t stat_of(struct fx *f, const char *path)
{
	json_t *doc, *v;
	json_int_t n;
	char key[64], *k, *save;

	assert_int_equal(xs_req(f->d0, XS_CONTROL, 0, f->body, 1, "stats"), XS_CONTROL);
	doc = json_loads(f->body, 0, NULL);
	assert_non_null(doc);
	snprintf(key, sizeof(key), "%s", path);
	v = doc;
	for (k = strtok_r(key, ".", &save); k; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	assert_true(json_is_integer(v));
	n = json_integer_value(v);
	json_decref(doc);
	return n;
}

static void test_control_stats(void **state)
{
	struct fx *f = *state;
	json_int_t reads = stat_of(f, "requests.READ"), nodes = stat_of(f, "nodes");

	expect_err(f, f->g5, "EACCES", XS_CONTROL, 0, 1, "stats");
	OK(f->d0, XS_WRITE, 0, NULL, 2, "/stats/a", "1");
	assert_int_equal(xs_req(f->d0, XS_READ, 0, f->body, 1, "/stats/a"), XS_READ);
	assert_int_equal(stat_of(f, "requests.READ"), reads + 1);
	assert_true(stat_of(f, "nodes") >= nodes + 2);
	assert_int_equal(stat_of(f, "watches"), 0);
	OK(f->g5, XS_WATCH, 0, NULL, 2, "/stats", "t");
	assert_int_equal(stat_of(f, "watches"), 1);
	assert_true(stat_of(f, "connections.total") >= 2);
	assert_int_equal(stat_of(f, "connections.rings"), 0);
	assert_int_equal(stat_of(f, "quota_refusals.perms"), 0);
	assert_true(stat_of(f, "requests_total") > reads);
	assert_true(stat_of(f, "requests.CONTROL") > 0);
}

static void test_introduce_validation(void **state)
{
	struct fx *f = *state;

	expect_err(f, f->d0, "EINVAL", XS_INTRODUCE, 0, 3, "0", "1", "1");
	expect_err(f, f->d0, "EINVAL", XS_INTRODUCE, 0, 3, "70000", "1", "1");
	expect_err(f, f->d0, "EINVAL", XS_INTRODUCE, 0, 3, "3", "x", "1");
	OK(f->d0, XS_INTRODUCE, 0, NULL, 3, "3", "10", "2");
	OK(f->d0, XS_INTRODUCE, 0, NULL, 3, "3", "10", "2");
	expect_err(f, f->d0, "EEXIST", XS_INTRODUCE, 0, 3, "3", "11", "2");
	OK(f->d0, XS_SET_TARGET, 0, NULL, 2, "3", "5");
	OK(f->d0, XS_RESUME, 0, NULL, 1, "3");
	expect_err(f, f->d0, "ENOENT", XS_RESUME, 0, 1, "4");
}

/* Numbers on the wire are decimal digits only, as libxenstore, the
 * xenstore utilities and Linux's xenbus write them ("%u", "%lu"):
 * a sign, a blank, a trailing byte or an overflow is EINVAL, as
 * xenstored answers; what legitimate clients send is taken. */
static void test_wire_numbers_strict(void **state)
{
	static const char *const bad[] = {
		"+3", " 3", "3 ", "3\n", "\t3", "3x", "-3", "0x3", "",
		"18446744073709551616", "99999999999999999999999",
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *b = bad[i];

		expect_err(f, f->d0, "EINVAL", XS_INTRODUCE, 0, 3, b, "10", "2");
		expect_err(f, f->d0, "EINVAL", XS_INTRODUCE, 0, 3, "3", b, "2");
		expect_err(f, f->d0, "EINVAL", XS_INTRODUCE, 0, 3, "3", "10", b);
		expect_err(f, f->d0, "EINVAL", XS_GET_DOMAIN_PATH, 0, 1, b);
		expect_err(f, f->d0, "EINVAL", XS_IS_DOMAIN_INTRODUCED, 0, 1, b);
		expect_err(f, f->d0, "EINVAL", XS_DIRECTORY_PART, 0, 2, "/tool", b);
		expect_err(f, f->d0, "EINVAL", XS_CONTROL, 0, 3, "quota", "nodes", b);
		expect_err(f, f->d0, "EINVAL", XS_SET_PERMS, 0, 2, "/tool",
			   b[0] ? b : "r");
	}
	/* The quota did not move; the store still answers. */
	assert_int_equal(f->sd.quota.nodes, 1000);
	/* Ports up to 2^32 - 1 and any "%lu" mfn are taken. */
	OK(f->d0, XS_INTRODUCE, 0, NULL, 3, "3", "18446744073709551615",
	   "4294967295");
	expect_err(f, f->d0, "EINVAL", XS_INTRODUCE, 0, 3, "4", "1", "4294967296");
	assert_int_equal(xs_req(f->d0, XS_GET_DOMAIN_PATH, 0, f->body, 1,
				"65535"), XS_GET_DOMAIN_PATH);
	assert_string_equal(f->body, "/local/domain/65535");
	expect_err(f, f->d0, "EINVAL", XS_GET_DOMAIN_PATH, 0, 1, "65536");
	assert_int_equal(xs_req(f->d0, XS_DIRECTORY_PART, 0, f->body, 2, "/tool",
				"0"), XS_DIRECTORY_PART);
	OK(f->d0, XS_CONTROL, 0, NULL, 3, "quota", "nodes", "4294967295");
	expect_err(f, f->d0, "EINVAL", XS_CONTROL, 0, 3, "quota", "nodes",
		   "4294967296");
	expect_err(f, f->d0, "EINVAL", XS_CONTROL, 0, 3, "quota", "nodes", "0");
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_read_write_reply_format),
		T(test_bad_frames),
		T(test_relative_paths_and_perms),
		T(test_watch_semantics),
		T(test_relative_watch),
		T(test_watch_respects_perms),
		T(test_special_watches),
		T(test_huge_token),
		T(test_reset_watches_in_txn),
		T(test_transactions_on_the_wire),
		T(test_txn_commit_checks_quota),
		T(test_failed_request_no_trace_in_txn),
		T(test_directory_part),
		T(test_domid_reuse),
		T(test_non_reading_client),
		T(test_control),
		T(test_control_stats),
		T(test_introduce_validation),
		T(test_wire_numbers_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
