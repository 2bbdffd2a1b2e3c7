/* A backend device's store side (common/xbdev.c): the identity, the
 * state names, and the transaction that refuses to write into a backend
 * directory the toolstack removed or wrote anew.  The store is a
 * link-time seam (test_xbdev.wrap): one backend "state" node, the writes
 * recorded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pvd/xbdev.h"

struct fake_store {
	const char *state;          /* the backend's state node; NULL: gone */
	int end_errno;              /* what the first commit fails with */
	unsigned commits, aborts, writes;
	char last_path[256], last_val[256];
};

static struct fake_store *fs;

xs_transaction_t __wrap_xs_transaction_start(struct xs_handle *h)
{
	(void)h;
	return 7;
}

bool __wrap_xs_transaction_end(struct xs_handle *h, xs_transaction_t t,
			       bool abort)
{
	(void)h;
	(void)t;
	if (abort) {
		fs->aborts++;
		return true;
	}
	if (fs->end_errno) {
		errno = fs->end_errno;
		fs->end_errno = 0;
		return false;
	}
	fs->commits++;
	return true;
}

void *__wrap_xs_read(struct xs_handle *h, xs_transaction_t t,
		     const char *path, unsigned *len)
{
	(void)h;
	(void)t;
	if (!fs->state || strcmp(path, "/local/domain/0/backend/vif/3/0/state")) {
		errno = ENOENT;
		return NULL;
	}
	*len = (unsigned)strlen(fs->state);
	return strdup(fs->state);
}

bool __wrap_xs_write(struct xs_handle *h, xs_transaction_t t,
		     const char *path, const void *data, unsigned len)
{
	(void)h;
	(void)t;
	fs->writes++;
	snprintf(fs->last_path, sizeof(fs->last_path), "%s", path);
	snprintf(fs->last_val, sizeof(fs->last_val), "%.*s", (int)len,
		 (const char *)data);
	return true;
}

/* A listing packed as xs_directory packs it: one block, freed at once. */
static char **pack(const char *const *v, unsigned n, unsigned *num)
{
	size_t len = n * sizeof(char *);
	char **out, *p;

	for (unsigned i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	out = malloc(len);
	p = (char *)(out + n);
	for (unsigned i = 0; i < n; i++) {
		out[i] = strcpy(p, v[i]);
		p += strlen(v[i]) + 1;
	}
	*num = n;
	return out;
}

/* backend/vif: domains 1 (devices 0, 5 and garbage), "x", 70000 (out of
 * range), 2 (unreadable). */
char **__wrap_xs_directory(struct xs_handle *h, xs_transaction_t t,
			   const char *path, unsigned *num)
{
	static const char *const root[] = { "1", "x", "70000", "2" };
	static const char *const dom1[] = { "0", "5", "abc", "4294967296" };

	(void)h;
	(void)t;
	if (!strcmp(path, "/local/domain/0/backend/vif"))
		return pack(root, 4, num);
	if (!strcmp(path, "/local/domain/0/backend/vif/1"))
		return pack(dom1, 4, num);
	errno = EACCES;
	return NULL;
}

bool __wrap_xsconn_failed(struct xsconn *c, const char *what)
{
	(void)c;
	(void)what;
	return false;
}

struct ctx {
	struct fake_store store;
	struct xsconn xc;
	struct xbdev x;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	fs = &c->store;
	xbdev_init(&c->x, &c->xc, "vif", 0, "/local/domain/0/backend/vif", 3, 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	fs = NULL;
	return 0;
}

static bool write_node(struct xbdev *x, xs_transaction_t t, void *arg)
{
	return xbdev_be_write(x, t, "feature-sg", "%s", (const char *)arg);
}

static void test_init_and_names(void **state)
{
	struct ctx *c = *state;

	assert_string_equal(c->x.be, "/local/domain/0/backend/vif/3/0");
	assert_int_equal(c->x.state, XenbusStateUnknown);
	assert_string_equal(xbdev_state_name(XenbusStateConnected), "Connected");
	assert_string_equal(xbdev_state_name(-1), "invalid");
	assert_string_equal(xbdev_state_name(9), "invalid");
}

static void test_renewed_state(void **state)
{
	struct ctx *c = *state;

	/* Initialising under a device past it: written anew. */
	c->x.state = XenbusStateInitWait;
	assert_true(xbdev_renewed_state(&c->x, "1"));
	assert_false(xbdev_renewed_state(&c->x, "2"));
	assert_false(xbdev_renewed_state(&c->x, NULL));
	/* A device that has not left Initialising yet: its own. */
	c->x.state = XenbusStateInitialising;
	assert_false(xbdev_renewed_state(&c->x, "1"));
}

static void test_written_anew(void **state)
{
	struct ctx *c = *state;

	c->x.state = XenbusStateConnected;
	c->store.state = "1";
	assert_true(xbdev_written_anew(&c->x));
	c->store.state = "4";
	assert_false(xbdev_written_anew(&c->x));
	c->store.state = NULL;              /* gone is not "anew" */
	assert_false(xbdev_written_anew(&c->x));
	c->x.state = XenbusStateInitialising;
	c->store.state = "1";
	assert_false(xbdev_written_anew(&c->x));
}

static void test_txn_writes_into_own_directory(void **state)
{
	struct ctx *c = *state;

	c->x.state = XenbusStateInitWait;
	c->store.state = "2";
	c->store.end_errno = EAGAIN;        /* retried once */
	assert_int_equal(xbdev_txn(&c->x, write_node, "1"), 0);
	assert_int_equal(c->store.commits, 1);
	assert_string_equal(c->store.last_path,
			    "/local/domain/0/backend/vif/3/0/feature-sg");
	assert_string_equal(c->store.last_val, "1");
}

static void test_txn_refuses_gone_and_renewed(void **state)
{
	struct ctx *c = *state;

	c->x.state = XenbusStateConnected;
	c->store.state = NULL;              /* directory removed */
	assert_int_equal(xbdev_txn(&c->x, write_node, "1"), -ENOENT);
	c->store.state = "1";               /* removed and written anew */
	assert_int_equal(xbdev_txn(&c->x, write_node, "1"), -ESTALE);
	assert_int_equal(c->store.writes, 0);
	assert_int_equal(c->store.commits, 0);
	assert_int_equal(c->store.aborts, 2);
	/* A switch into a directory written anew leaves our state alone. */
	assert_int_equal(xbdev_switch(&c->x, XenbusStateClosing), -ESTALE);
	assert_int_equal(c->x.state, XenbusStateConnected);
}

static void test_switch_and_fatal(void **state)
{
	struct ctx *c = *state;

	c->x.state = XenbusStateInitWait;
	c->store.state = "2";
	assert_int_equal(xbdev_switch(&c->x, XenbusStateConnected), 0);
	assert_int_equal(c->x.state, XenbusStateConnected);
	assert_string_equal(c->store.last_val, "4");
	/* Already there: nothing written. */
	c->store.writes = 0;
	assert_int_equal(xbdev_switch(&c->x, XenbusStateConnected), 0);
	assert_int_equal(c->store.writes, 0);
	/* xenbus_dev_fatal: the error node, then Closing. */
	c->store.state = "4";
	xbdev_fatal(&c->x, -EINVAL, "bad %s", "ring");
	assert_int_equal(c->store.writes, 2);
	assert_int_equal(c->x.state, XenbusStateClosing);
	assert_string_equal(c->store.last_val, "5");
}

static void test_fatal_leaves_new_device_alone(void **state)
{
	struct ctx *c = *state;

	c->x.state = XenbusStateConnected;
	c->store.state = "1";
	xbdev_fatal(&c->x, -EINVAL, "bad ring");
	/* Neither the new device's error node nor its state. */
	assert_int_equal(c->store.writes, 0);
	assert_int_equal(c->x.state, XenbusStateConnected);
}

static void scan_one(void *arg, domid_t domid, unsigned devid)
{
	char *seen = arg;

	snprintf(seen + strlen(seen), 64 - strlen(seen), "%u/%u ",
		 (unsigned)domid, devid);
}

static void test_scan(void **state)
{
	struct ctx *c = *state;
	char seen[64] = "";

	xbdev_scan(&c->xc, "/local/domain/0/backend/vif", scan_one, seen);
	assert_string_equal(seen, "1/0 1/5 ");
}

static void test_parse_event(void **state)
{
	const char *root = "/local/domain/0/backend/vbd", *node = NULL;
	domid_t d = 0;
	unsigned v = 0;

	assert_int_equal(xbdev_parse_event(root, "/local/domain/0/backend/vbd/3/51712/state",
					   &d, &v, &node), XBDEV_EV_DEVICE);
	assert_int_equal(d, 3);
	assert_int_equal(v, 51712);
	assert_string_equal(node, "state");
	assert_int_equal(xbdev_parse_event(root, "/local/domain/0/backend/vbd/3/7",
					   &d, &v, &node), XBDEV_EV_DEVICE);
	assert_int_equal(v, 7);
	assert_string_equal(node, "");
	assert_int_equal(xbdev_parse_event(root, "/local/domain/0/backend/vbd/3/7/a/b",
					   &d, &v, &node), XBDEV_EV_DEVICE);
	assert_string_equal(node, "a/b");
	/* The root and a domain's directory: scan again. */
	assert_int_equal(xbdev_parse_event(root, root, &d, &v, &node), XBDEV_EV_SCAN);
	assert_int_equal(xbdev_parse_event(root, "/local/domain/0/backend/vbd/3",
					   &d, &v, &node), XBDEV_EV_SCAN);
	/* Not ours: another root, a longer name, ids out of range. */
	assert_int_equal(xbdev_parse_event(root, "/local/domain/0/backend/vif/3/0",
					   &d, &v, &node), XBDEV_EV_NONE);
	assert_int_equal(xbdev_parse_event(root, "/local/domain/0/backend/vbdx/3/0",
					   &d, &v, &node), XBDEV_EV_NONE);
	assert_int_equal(xbdev_parse_event(root, "/local/domain/0/backend/vbd/32752/0",
					   &d, &v, &node), XBDEV_EV_NONE);
	assert_int_equal(xbdev_parse_event(root, "/local/domain/0/backend/vbd/1/4294967296",
					   &d, &v, &node), XBDEV_EV_NONE);
	assert_int_equal(xbdev_parse_event(root, "/local/domain/0/backend/vbd/-1/0",
					   &d, &v, &node), XBDEV_EV_NONE);
	assert_int_equal(xbdev_parse_event(root, "/local/domain/0/backend/vbd/1/0x5",
					   &d, &v, &node), XBDEV_EV_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_and_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renewed_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_written_anew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_writes_into_own_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_refuses_gone_and_renewed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_switch_and_fatal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fatal_leaves_new_device_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_event, NULL, NULL),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
