/* pvd-stored's connection admission (conn_admit: dom0's reserve, the
 * descriptor-derived cap, connections per domain) and what one domain may
 * hold over all its connections (unread watch events, unsent bytes),
 * driven through in-memory connections (tests/harness/memconn.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/event.h>

#include "../../stored/conn.h"
#include "../../stored/core.h"
#include "../../stored/stored.h"
#include "../harness/memconn.h"

#define MAXM 16

struct fx {
	struct event_base *base;
	struct stored sd;
	struct memconn *m[MAXM];
	unsigned nm;
	char body[XENSTORE_PAYLOAD_MAX + 1];
};

static int setup(void **state)
{
	static const struct quota q = QUOTA_DEFAULTS;
	struct fx *f = calloc(1, sizeof(*f));

	f->base = event_base_new();
	assert_int_equal(stored_init(&f->sd, f->base, &q), 0);
	assert_int_equal(core_setup_tree(&f->sd), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < f->nm; i++)
		memconn_free(f->m[i]);
	stored_destroy(&f->sd);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* A new in-memory connection; NULL if the daemon refused it. */
static struct memconn *open_conn(struct fx *f, unsigned domid)
{
	struct memconn *m = memconn_new(&f->sd, domid, domid == 0);

	assert_true(f->nm < MAXM);
	f->m[f->nm++] = m;
	return m->c ? m : NULL;
}

static void test_reserve_and_domain_limit(void **state)
{
	struct fx *f = *state;

	f->sd.quota.max_conns = 6;
	f->sd.quota.dom0_reserve = 2;
	f->sd.quota.domain_conns = 3;
	/* One domain: its own limit. */
	for (int i = 0; i < 3; i++)
		assert_non_null(open_conn(f, 5));
	assert_int_equal(conn_admit(&f->sd, 5, false), -EDQUOT);
	assert_null(open_conn(f, 5));
	/* Another: the daemon's limit less dom0's reserve. */
	assert_non_null(open_conn(f, 7));
	assert_int_equal(conn_admit(&f->sd, 8, false), -EMFILE);
	assert_null(open_conn(f, 8));
	/* dom0 takes the reserve, and no more. */
	assert_non_null(open_conn(f, 0));
	assert_non_null(open_conn(f, 0));
	assert_int_equal(conn_admit(&f->sd, 0, true), -EMFILE);
	assert_null(open_conn(f, 0));
	assert_int_equal(f->sd.nconns, 6);
}

static void test_descriptor_cap(void **state)
{
	struct fx *f = *state;

	/* What main.c derives from RLIMIT_NOFILE wins over a larger
	 * --max-connections, and dom0's reserve comes out of it. */
	f->sd.fd_conns = 3;
	f->sd.quota.dom0_reserve = 1;
	assert_non_null(open_conn(f, 5));
	assert_non_null(open_conn(f, 6));
	assert_null(open_conn(f, 7));
	assert_non_null(open_conn(f, 0));
	assert_null(open_conn(f, 0));
}

/* /local/domain/5 owned by dom5; n connections of dom5 each watch it,
 * then stop reading. */
static void watchers(struct fx *f, struct memconn *d0, struct memconn **w,
		     unsigned n, const char *token)
{
	assert_int_equal(xs_req(d0, XS_MKDIR, 0, NULL, 1, "/local/domain/5"),
			 XS_MKDIR);
	assert_int_equal(xs_req(d0, XS_SET_PERMS, 0, NULL, 2, "/local/domain/5",
				"n5"), XS_SET_PERMS);
	for (unsigned i = 0; i < n; i++) {
		char tok[1100];

		snprintf(tok, sizeof(tok), "%u%s", i, token);
		w[i] = open_conn(f, 5);
		assert_non_null(w[i]);
		assert_int_equal(xs_req(w[i], XS_WATCH, 0, NULL, 2,
					"/local/domain/5", tok), XS_WATCH);
		w[i]->no_drain = true;
	}
}

static void writes(struct memconn *d0, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/local/domain/5/n%u", i);
		assert_int_equal(xs_req(d0, XS_WRITE, 0, NULL, 2, path, "v"),
				 XS_WRITE);
	}
}

static unsigned queued_events(struct memconn **w, unsigned n)
{
	unsigned sum = 0;

	for (unsigned i = 0; i < n; i++)
		sum += w[i]->c->pending_events;
	return sum;
}

static void test_domain_events(void **state)
{
	struct fx *f = *state;
	struct memconn *d0 = open_conn(f, 0), *w[4], *dw;
	struct domain *dom;

	f->sd.quota.domain_events = 5;
	watchers(f, d0, w, 4, "t");
	/* dom0's own watcher is exempt. */
	dw = open_conn(f, 0);
	assert_int_equal(xs_req(dw, XS_WATCH, 0, NULL, 2, "/local/domain/5",
				"d"), XS_WATCH);
	dw->no_drain = true;
	writes(d0, 10);
	dom = w[0]->c->dom;
	/* Four connections, far under their own queues: the domain's total
	 * is the bound, and what was dropped is counted. */
	assert_int_equal(queued_events(w, 4), 5);
	assert_int_equal(dom->nevents, 5);
	assert_int_equal(dom->dropped_events, 4 * 10 - 5);
	assert_int_equal(dw->c->pending_events, 10);
	/* A closed connection gives its share back at once. */
	{
		unsigned mine = w[0]->c->pending_events;

		conn_close(w[0]->c, "test");
		assert_int_equal(dom->nevents, 5 - mine);
	}
}

static void test_domain_output_bytes(void **state)
{
	struct fx *f = *state;
	struct memconn *d0 = open_conn(f, 0), *w[3];
	char token[1001];
	struct domain *dom;

	memset(token, 'k', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	watchers(f, d0, w, 3, token);
	dom = w[0]->c->dom;
	/* Room for the WATCH replies queued so far and three ~1 KiB events. */
	f->sd.quota.domain_output = (unsigned)dom->out_bytes + 3 * 1100;
	writes(d0, 10);
	assert_int_equal(queued_events(w, 3), 3);
	assert_true(dom->out_bytes <= f->sd.quota.domain_output);
	assert_int_equal(dom->dropped_events, 3 * 10 - 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reserve_and_domain_limit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_descriptor_cap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_domain_events, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_domain_output_bytes, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
