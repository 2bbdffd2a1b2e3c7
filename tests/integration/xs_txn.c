/* libxenstore client for the pvd-stored integration tests.
 *
 *   xs_txn check DOMID          transactions, watches, permissions and domain
 *                               introduction checks (DOMID: a free domid);
 *                               prints one PASS/FAIL line per check
 *   xs_txn introduce DOMID      INTRODUCE (exit 0 on success)
 *   xs_txn release DOMID        RELEASE
 *   xs_txn is-introduced DOMID  prints T or F
 *   xs_txn rewrite PATH N SIZE  writes PATH N times with SIZE-byte values,
 *                               the last one being "last"
 *   xs_txn count PATH N         writes 1..N to PATH, printing each value once
 *                               its write is acknowledged
 *   xs_txn txn-pending PATH V   writes PATH=V inside a transaction, prints
 *                               READY and blocks until stdin closes (the
 *                               test kills the daemon meanwhile)
 *
 * Connects to $XENSTORED_PATH (xs_open reads it).  With $XS_GUEST_SOCK set,
 * `check` also verifies that a client of that unprivileged socket cannot
 * introduce or release domains.
 *
 * "Not delivered" watch checks never wait for a silence: the checker also
 * watches a sentinel node, writes it after the action under test and reads
 * events until the sentinel's event arrives.  Events on one connection are
 * delivered in order, so anything the action fired is seen before it.  The
 * poll timeout below only bounds a hang; it decides no result. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>

#include "pvd/num.h"

#define HANG_GUARD_MS 10000
/* INTRODUCE arguments: pvd-stored has no grant/evtchn for a socket-only
 * test domain; any page and port will do for it. */
#define INTRO_MFN 1
#define INTRO_EVTCHN 1

struct ctx {
	struct xs_handle *h1, *h2;
	unsigned int domid;
	char why[512];
};

#define CHECK(c, cond, ...)                                                   \
	do {                                                                  \
		if (!(cond)) {                                                \
			snprintf((c)->why, sizeof((c)->why), __VA_ARGS__);    \
			return -1;                                            \
		}                                                             \
	} while (0)

/* Returns the value (caller frees) or NULL with errno. */
static char *rd(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	unsigned int len;

	return xs_read(h, t, path, &len);
}

static bool wr(struct xs_handle *h, xs_transaction_t t, const char *path,
	       const char *val)
{
	return xs_write(h, t, path, val, strlen(val));
}

/* 1 if path reads as want, 0 otherwise; *got describes what was read. */
static int reads_as(struct xs_handle *h, xs_transaction_t t, const char *path,
		    const char *want, char *got, size_t gotlen)
{
	char *v = rd(h, t, path);
	int ok;

	if (!v) {
		snprintf(got, gotlen, "<error: %s>", strerror(errno));
		return want == NULL;
	}
	snprintf(got, gotlen, "\"%s\"", v);
	ok = want && strcmp(v, want) == 0;
	free(v);
	return ok;
}

/* Waits for the next watch event; fills path/token.  -1 on hang or error. */
static int next_event(struct xs_handle *h, char *path, size_t plen, char *tok,
		      size_t tlen)
{
	struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };
	char **vec;

	for (;;) {
		vec = xs_check_watch(h);
		if (vec) {
			snprintf(path, plen, "%s", vec[XS_WATCH_PATH]);
			snprintf(tok, tlen, "%s", vec[XS_WATCH_TOKEN]);
			free(vec);
			return 0;
		}
		if (errno != EAGAIN)
			return -1;
		if (poll(&pfd, 1, HANG_GUARD_MS) <= 0)
			return -1;
	}
}

/* Sets a watch and consumes its initial event. */
static int watch_sync(struct xs_handle *h, const char *path, const char *tok)
{
	char p[256], t[256];

	if (!xs_watch(h, path, tok))
		return -1;
	for (int i = 0; i < 100; i++) {
		if (next_event(h, p, sizeof(p), t, sizeof(t)) < 0)
			return -1;
		if (strcmp(t, tok) == 0 && strcmp(p, path) == 0)
			return 0;
	}
	return -1;
}

/* Reads events on h until the sentinel token arrives; counts the events
 * carrying token `tok` and copies the path of the first one. */
static int count_until_sentinel(struct xs_handle *h, const char *tok,
				const char *sentinel_tok, int *count,
				char *first, size_t firstlen)
{
	char p[256], t[256];

	*count = 0;
	for (int i = 0; i < 10000; i++) {
		if (next_event(h, p, sizeof(p), t, sizeof(t)) < 0)
			return -1;
		if (strcmp(t, sentinel_tok) == 0)
			return 0;
		if (strcmp(t, tok) == 0) {
			if (*count == 0)
				snprintf(first, firstlen, "%s", p);
			(*count)++;
		}
	}
	return -1;
}

static int check_domain_path(struct ctx *c)
{
	char want[64], *p;

	snprintf(want, sizeof(want), "/local/domain/%u", c->domid);
	p = xs_get_domain_path(c->h1, c->domid);
	CHECK(c, p, "xs_get_domain_path(%u): %s", c->domid, strerror(errno));
	CHECK(c, strcmp(p, want) == 0, "got %s, want %s", p, want);
	free(p);
	p = xs_get_domain_path(c->h1, 0);
	CHECK(c, p && strcmp(p, "/local/domain/0") == 0, "domid 0: got %s",
	      p ? p : strerror(errno));
	free(p);
	return 0;
}

static int check_isolation_commit(struct ctx *c)
{
	char got[256];
	xs_transaction_t t;

	CHECK(c, wr(c->h1, XBT_NULL, "/txn/iso/a", "before"), "setup write: %s",
	      strerror(errno));
	t = xs_transaction_start(c->h1);
	CHECK(c, t != XBT_NULL, "transaction_start: %s", strerror(errno));
	CHECK(c, wr(c->h1, t, "/txn/iso/a", "inside"), "write in txn: %s",
	      strerror(errno));
	CHECK(c, wr(c->h1, t, "/txn/iso/new/deep", "n"), "create in txn: %s",
	      strerror(errno));
	CHECK(c, reads_as(c->h1, t, "/txn/iso/a", "inside", got, sizeof(got)),
	      "txn does not see its own write: %s", got);
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/iso/a", "before", got, sizeof(got)),
	      "uncommitted write visible outside: %s", got);
	CHECK(c, reads_as(c->h1, XBT_NULL, "/txn/iso/a", "before", got, sizeof(got)),
	      "uncommitted write visible outside on the same connection: %s", got);
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/iso/new", NULL, got, sizeof(got)),
	      "node created in uncommitted txn visible outside: %s", got);
	/* A write outside the transaction to an unrelated node is not seen
	 * inside it and does not make the commit fail. */
	CHECK(c, wr(c->h2, XBT_NULL, "/txn/other", "x"), "outside write: %s",
	      strerror(errno));
	CHECK(c, xs_transaction_end(c->h1, t, false), "commit failed: %s",
	      strerror(errno));
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/iso/a", "inside", got, sizeof(got)),
	      "committed write not visible: %s", got);
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/iso/new/deep", "n", got, sizeof(got)),
	      "committed create not visible: %s", got);
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/iso/new", "", got, sizeof(got)),
	      "implicit parent from txn: %s", got);
	return 0;
}

static int check_rm_isolation(struct ctx *c)
{
	char got[256];
	xs_transaction_t t;

	CHECK(c, wr(c->h1, XBT_NULL, "/txn/rm/a/b", "v"), "setup: %s", strerror(errno));
	t = xs_transaction_start(c->h1);
	CHECK(c, t != XBT_NULL, "transaction_start: %s", strerror(errno));
	CHECK(c, xs_rm(c->h1, t, "/txn/rm/a"), "rm in txn: %s", strerror(errno));
	CHECK(c, reads_as(c->h1, t, "/txn/rm/a/b", NULL, got, sizeof(got)),
	      "txn still sees removed node: %s", got);
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/rm/a/b", "v", got, sizeof(got)),
	      "uncommitted rm visible outside: %s", got);
	CHECK(c, xs_transaction_end(c->h1, t, false), "commit: %s", strerror(errno));
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/rm/a", NULL, got, sizeof(got)),
	      "committed rm not visible: %s", got);
	return 0;
}

static int check_conflict_eagain(struct ctx *c)
{
	char got[256], *v;
	xs_transaction_t t1, t2;

	CHECK(c, wr(c->h1, XBT_NULL, "/txn/conf/a", "0"), "setup: %s", strerror(errno));
	/* Transaction against a plain write. */
	t1 = xs_transaction_start(c->h1);
	CHECK(c, t1 != XBT_NULL, "transaction_start: %s", strerror(errno));
	v = rd(c->h1, t1, "/txn/conf/a");
	CHECK(c, v, "read in txn: %s", strerror(errno));
	free(v);
	CHECK(c, wr(c->h1, t1, "/txn/conf/a", "txn"), "write in txn: %s",
	      strerror(errno));
	CHECK(c, wr(c->h2, XBT_NULL, "/txn/conf/a", "outside"), "outside write: %s",
	      strerror(errno));
	errno = 0;
	CHECK(c, !xs_transaction_end(c->h1, t1, false),
	      "commit of a conflicting txn succeeded");
	CHECK(c, errno == EAGAIN, "conflicting commit: errno %d (%s), want EAGAIN",
	      errno, strerror(errno));
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/conf/a", "outside", got, sizeof(got)),
	      "failed commit changed the store: %s", got);

	/* Two transactions writing the same node: the second commit loses. */
	t1 = xs_transaction_start(c->h1);
	t2 = xs_transaction_start(c->h2);
	CHECK(c, t1 != XBT_NULL && t2 != XBT_NULL, "transaction_start: %s",
	      strerror(errno));
	CHECK(c, wr(c->h1, t1, "/txn/conf/b", "one"), "write t1: %s", strerror(errno));
	CHECK(c, wr(c->h2, t2, "/txn/conf/b", "two"), "write t2: %s", strerror(errno));
	CHECK(c, xs_transaction_end(c->h2, t2, false), "first commit: %s",
	      strerror(errno));
	errno = 0;
	CHECK(c, !xs_transaction_end(c->h1, t1, false),
	      "second of two conflicting commits succeeded");
	CHECK(c, errno == EAGAIN, "second commit: errno %d (%s), want EAGAIN", errno,
	      strerror(errno));
	CHECK(c, reads_as(c->h1, XBT_NULL, "/txn/conf/b", "two", got, sizeof(got)),
	      "value after conflict: %s", got);
	/* And the retry, as clients do after EAGAIN, succeeds. */
	t1 = xs_transaction_start(c->h1);
	CHECK(c, t1 != XBT_NULL, "retry start: %s", strerror(errno));
	CHECK(c, wr(c->h1, t1, "/txn/conf/b", "one"), "retry write: %s", strerror(errno));
	CHECK(c, xs_transaction_end(c->h1, t1, false), "retry commit: %s",
	      strerror(errno));
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/conf/b", "one", got, sizeof(got)),
	      "value after retry: %s", got);
	return 0;
}

static int check_abort(struct ctx *c)
{
	char got[256];
	xs_transaction_t t;

	CHECK(c, wr(c->h1, XBT_NULL, "/txn/abort/keep", "old"), "setup: %s",
	      strerror(errno));
	t = xs_transaction_start(c->h1);
	CHECK(c, t != XBT_NULL, "transaction_start: %s", strerror(errno));
	CHECK(c, wr(c->h1, t, "/txn/abort/keep", "new"), "write: %s", strerror(errno));
	CHECK(c, wr(c->h1, t, "/txn/abort/added", "x"), "create: %s", strerror(errno));
	CHECK(c, xs_rm(c->h1, t, "/txn/abort"), "rm: %s", strerror(errno));
	CHECK(c, xs_transaction_end(c->h1, t, true), "abort failed: %s",
	      strerror(errno));
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/abort/keep", "old", got, sizeof(got)),
	      "aborted txn changed a value: %s", got);
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/abort/added", NULL, got, sizeof(got)),
	      "aborted txn created a node: %s", got);
	/* The id is gone after END. */
	CHECK(c, !wr(c->h1, t, "/txn/abort/keep", "late"),
	      "write with an ended transaction id succeeded");
	CHECK(c, reads_as(c->h2, XBT_NULL, "/txn/abort/keep", "old", got, sizeof(got)),
	      "write with an ended txn id changed the store: %s", got);
	return 0;
}

static int check_bogus_txn_id(struct ctx *c)
{
	char got[256];

	CHECK(c, !wr(c->h1, (xs_transaction_t)0x7a5e1234u, "/txn/bogus", "x"),
	      "write with a never-allocated transaction id succeeded");
	CHECK(c, reads_as(c->h1, XBT_NULL, "/txn/bogus", NULL, got, sizeof(got)),
	      "bogus-txn write reached the store: %s", got);
	return 0;
}

static int check_watch_on_commit(struct ctx *c)
{
	char first[256] = "";
	xs_transaction_t t;
	int n;

	CHECK(c, wr(c->h1, XBT_NULL, "/txn/wc", ""), "setup: %s", strerror(errno));
	CHECK(c, watch_sync(c->h2, "/txn/wc", "wc") == 0, "watch /txn/wc: %s",
	      strerror(errno));
	CHECK(c, watch_sync(c->h2, "/txn/wcsent", "sent") == 0, "watch sentinel: %s",
	      strerror(errno));
	t = xs_transaction_start(c->h1);
	CHECK(c, t != XBT_NULL, "transaction_start: %s", strerror(errno));
	CHECK(c, wr(c->h1, t, "/txn/wc/x", "1"), "write in txn: %s", strerror(errno));
	CHECK(c, wr(c->h1, XBT_NULL, "/txn/wcsent/1", "s"), "sentinel: %s",
	      strerror(errno));
	CHECK(c, count_until_sentinel(c->h2, "wc", "sent", &n, first, sizeof(first)) == 0,
	      "no sentinel event");
	CHECK(c, n == 0, "uncommitted write fired a watch (%s)", first);
	CHECK(c, xs_transaction_end(c->h1, t, false), "commit: %s", strerror(errno));
	CHECK(c, wr(c->h1, XBT_NULL, "/txn/wcsent/2", "s"), "sentinel: %s",
	      strerror(errno));
	CHECK(c, count_until_sentinel(c->h2, "wc", "sent", &n, first, sizeof(first)) == 0,
	      "no sentinel event");
	CHECK(c, n >= 1 && strcmp(first, "/txn/wc/x") == 0,
	      "commit fired %d events (first: %s), want /txn/wc/x", n, first);
	/* An aborted transaction fires nothing. */
	t = xs_transaction_start(c->h1);
	CHECK(c, t != XBT_NULL, "transaction_start: %s", strerror(errno));
	CHECK(c, wr(c->h1, t, "/txn/wc/y", "1"), "write in txn: %s", strerror(errno));
	CHECK(c, xs_transaction_end(c->h1, t, true), "abort: %s", strerror(errno));
	CHECK(c, wr(c->h1, XBT_NULL, "/txn/wcsent/3", "s"), "sentinel: %s",
	      strerror(errno));
	CHECK(c, count_until_sentinel(c->h2, "wc", "sent", &n, first, sizeof(first)) == 0,
	      "no sentinel event");
	CHECK(c, n == 0, "aborted txn fired a watch (%s)", first);
	xs_unwatch(c->h2, "/txn/wc", "wc");
	xs_unwatch(c->h2, "/txn/wcsent", "sent");
	return 0;
}

static int perms_equal(const struct xs_permissions *a, unsigned int na,
		       const struct xs_permissions *b, unsigned int nb)
{
	if (na != nb)
		return 0;
	for (unsigned int i = 0; i < na; i++)
		if (a[i].id != b[i].id || a[i].perms != b[i].perms)
			return 0;
	return 1;
}

static int check_perms(struct ctx *c)
{
	struct xs_permissions want[] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = 5, .perms = XS_PERM_READ },
		{ .id = 6, .perms = XS_PERM_WRITE },
		{ .id = 7, .perms = XS_PERM_READ | XS_PERM_WRITE },
	};
	struct xs_permissions other[] = { { .id = 9, .perms = XS_PERM_READ } };
	struct xs_permissions *got;
	unsigned int n;
	xs_transaction_t t;

	CHECK(c, wr(c->h1, XBT_NULL, "/txn/perm", "v"), "setup: %s", strerror(errno));
	CHECK(c, xs_set_permissions(c->h1, XBT_NULL, "/txn/perm", want, 4),
	      "set_permissions: %s", strerror(errno));
	got = xs_get_permissions(c->h2, XBT_NULL, "/txn/perm", &n);
	CHECK(c, got, "get_permissions: %s", strerror(errno));
	CHECK(c, perms_equal(got, n, want, 4), "get_permissions returned %u entries,"
	      " first id %u perms %d", n, n ? got[0].id : 0, n ? (int)got[0].perms : 0);
	free(got);

	t = xs_transaction_start(c->h1);
	CHECK(c, t != XBT_NULL, "transaction_start: %s", strerror(errno));
	CHECK(c, xs_set_permissions(c->h1, t, "/txn/perm", other, 1),
	      "set_permissions in txn: %s", strerror(errno));
	got = xs_get_permissions(c->h1, t, "/txn/perm", &n);
	CHECK(c, got && perms_equal(got, n, other, 1),
	      "txn does not see its own set_permissions");
	free(got);
	CHECK(c, xs_transaction_end(c->h1, t, true), "abort: %s", strerror(errno));
	got = xs_get_permissions(c->h2, XBT_NULL, "/txn/perm", &n);
	CHECK(c, got && perms_equal(got, n, want, 4),
	      "aborted set_permissions changed the perms");
	free(got);
	CHECK(c, !xs_get_permissions(c->h1, XBT_NULL, "/txn/noperm", &n),
	      "get_permissions of a missing node succeeded");
	CHECK(c, errno == ENOENT, "get_permissions of a missing node: %s, want ENOENT",
	      strerror(errno));
	return 0;
}

static int check_introduce_release(struct ctx *c)
{
	char p[256], t[256];
	bool found;

	CHECK(c, watch_sync(c->h2, "@introduceDomain", "intro") == 0,
	      "watch @introduceDomain: %s", strerror(errno));
	CHECK(c, watch_sync(c->h2, "@releaseDomain", "rel") == 0,
	      "watch @releaseDomain: %s", strerror(errno));
	CHECK(c, !xs_is_domain_introduced(c->h1, c->domid),
	      "domain %u introduced before INTRODUCE", c->domid);
	CHECK(c, xs_introduce_domain(c->h1, c->domid, INTRO_MFN, INTRO_EVTCHN),
	      "introduce_domain(%u): %s", c->domid, strerror(errno));
	CHECK(c, xs_is_domain_introduced(c->h1, c->domid),
	      "is_domain_introduced false after INTRODUCE");
	found = false;
	for (int i = 0; i < 100 && !found; i++) {
		CHECK(c, next_event(c->h2, p, sizeof(p), t, sizeof(t)) == 0,
		      "no @introduceDomain event");
		CHECK(c, strcmp(t, "rel") != 0, "@releaseDomain fired on INTRODUCE");
		found = strcmp(t, "intro") == 0;
	}
	CHECK(c, found && strcmp(p, "@introduceDomain") == 0,
	      "introduce event path %s", p);

	CHECK(c, xs_release_domain(c->h1, c->domid), "release_domain: %s",
	      strerror(errno));
	CHECK(c, !xs_is_domain_introduced(c->h1, c->domid),
	      "is_domain_introduced true after RELEASE");
	found = false;
	for (int i = 0; i < 100 && !found; i++) {
		CHECK(c, next_event(c->h2, p, sizeof(p), t, sizeof(t)) == 0,
		      "no @releaseDomain event");
		found = strcmp(t, "rel") == 0;
	}
	CHECK(c, found && strcmp(p, "@releaseDomain") == 0, "release event path %s", p);
	xs_unwatch(c->h2, "@introduceDomain", "intro");
	xs_unwatch(c->h2, "@releaseDomain", "rel");
	return 0;
}

static int check_guest_unprivileged(struct ctx *c)
{
	const char *gs = getenv("XS_GUEST_SOCK");
	const char *dom0 = getenv("XENSTORED_PATH");
	struct xs_handle *g;
	char saved[4096];

	if (!gs)
		return 0;
	snprintf(saved, sizeof(saved), "%s", dom0 ? dom0 : "");
	setenv("XENSTORED_PATH", gs, 1);
	g = xs_open(0);
	setenv("XENSTORED_PATH", saved, 1);
	CHECK(c, g, "xs_open(%s): %s", gs, strerror(errno));
	if (xs_introduce_domain(g, c->domid + 1, INTRO_MFN, INTRO_EVTCHN)) {
		xs_close(g);
		CHECK(c, 0, "guest INTRODUCE succeeded");
	}
	CHECK(c, !xs_is_domain_introduced(c->h1, c->domid + 1),
	      "guest INTRODUCE took effect");
	CHECK(c, xs_introduce_domain(c->h1, c->domid + 1, INTRO_MFN, INTRO_EVTCHN),
	      "dom0 introduce: %s", strerror(errno));
	if (xs_release_domain(g, c->domid + 1)) {
		xs_close(g);
		CHECK(c, 0, "guest RELEASE succeeded");
	}
	xs_close(g);
	CHECK(c, xs_is_domain_introduced(c->h1, c->domid + 1),
	      "guest RELEASE took effect");
	CHECK(c, xs_release_domain(c->h1, c->domid + 1), "dom0 release: %s",
	      strerror(errno));
	return 0;
}

struct check {
	const char *name;
	int (*fn)(struct ctx *);
};

static const struct check checks[] = {
	{ "get_domain_path", check_domain_path },
	{ "txn_isolation_and_commit", check_isolation_commit },
	{ "txn_rm_isolation", check_rm_isolation },
	{ "txn_conflict_eagain", check_conflict_eagain },
	{ "txn_abort_discards", check_abort },
	{ "txn_bogus_id_refused", check_bogus_txn_id },
	{ "txn_watch_fires_on_commit_only", check_watch_on_commit },
	{ "set_get_permissions", check_perms },
	{ "introduce_release_watches", check_introduce_release },
	{ "guest_cannot_introduce_release", check_guest_unprivileged },
};

static int run_checks(unsigned int domid, int argc, char **argv)
{
	struct ctx c = { .domid = domid };
	int failed = 0;

	c.h1 = xs_open(0);
	c.h2 = xs_open(0);
	if (!c.h1 || !c.h2) {
		printf("FAIL connect: xs_open: %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		bool want = argc == 0;

		for (int a = 0; a < argc; a++)
			want |= strcmp(argv[a], checks[i].name) == 0;
		if (!want)
			continue;
		c.why[0] = '\0';
		if (checks[i].fn(&c) == 0) {
			printf("PASS %s\n", checks[i].name);
		} else {
			printf("FAIL %s: %s\n", checks[i].name, c.why);
			failed++;
		}
		fflush(stdout);
	}
	xs_close(c.h1);
	xs_close(c.h2);
	return failed ? 1 : 0;
}

static int rewrite(const char *path, long n, long size)
{
	struct xs_handle *h = xs_open(0);
	char *buf;

	if (!h || size < 5 || size > 4000) {
		fprintf(stderr, "rewrite: bad args or xs_open: %s\n", strerror(errno));
		return 1;
	}
	buf = malloc(size);
	if (!buf)
		return 1;
	for (long i = 0; i < n; i++) {
		memset(buf, 'a' + i % 26, size);
		if (i == n - 1) {
			memcpy(buf, "last", 4);
			size = 4;
		}
		if (!xs_write(h, XBT_NULL, path, buf, size)) {
			fprintf(stderr, "rewrite #%ld: %s\n", i, strerror(errno));
			free(buf);
			return 1;
		}
	}
	free(buf);
	xs_close(h);
	return 0;
}

static int count(const char *path, long n)
{
	struct xs_handle *h = xs_open(0);
	char v[32];

	if (!h)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (long i = 1; i <= n; i++) {
		snprintf(v, sizeof(v), "%ld", i);
		if (!wr(h, XBT_NULL, path, v))
			return 1;
		printf("%ld\n", i);
	}
	xs_close(h);
	return 0;
}

static int txn_pending(const char *path, const char *val)
{
	struct xs_handle *h = xs_open(0);
	xs_transaction_t t;
	char c;

	if (!h)
		return 1;
	t = xs_transaction_start(h);
	if (t == XBT_NULL || !wr(h, t, path, val)) {
		fprintf(stderr, "txn-pending: %s\n", strerror(errno));
		return 1;
	}
	printf("READY\n");
	fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: xs_txn check DOMID [CHECK...] | introduce DOMID | "
		"release DOMID | is-introduced DOMID | rewrite PATH N SIZE | "
		"count PATH N | txn-pending PATH VALUE\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct xs_handle *h;
	unsigned int domid;
	bool ok;

	if (argc < 3)
		return usage();
	if (strcmp(argv[1], "rewrite") == 0 && argc == 5)
		return rewrite(argv[2], (long)pvd_opt_range("N", argv[3], 0, LONG_MAX),
			       (long)pvd_opt_range("SIZE", argv[4], 0, LONG_MAX));
	if (strcmp(argv[1], "count") == 0 && argc == 4)
		return count(argv[2], (long)pvd_opt_range("N", argv[3], 0, LONG_MAX));
	if (strcmp(argv[1], "txn-pending") == 0 && argc == 4)
		return txn_pending(argv[2], argv[3]);
	domid = (unsigned int)pvd_opt_range("DOMID", argv[2], 0, 0xffff);
	if (strcmp(argv[1], "check") == 0)
		return run_checks(domid, argc - 3, argv + 3);
	if (argc != 3)
		return usage();
	h = xs_open(0);
	if (!h) {
		fprintf(stderr, "xs_open: %s\n", strerror(errno));
		return 1;
	}
	if (strcmp(argv[1], "introduce") == 0) {
		ok = xs_introduce_domain(h, domid, INTRO_MFN, INTRO_EVTCHN);
	} else if (strcmp(argv[1], "release") == 0) {
		ok = xs_release_domain(h, domid);
	} else if (strcmp(argv[1], "is-introduced") == 0) {
		errno = 0;
		ok = xs_is_domain_introduced(h, domid);
		if (!ok && errno) {
			fprintf(stderr, "is_domain_introduced: %s\n", strerror(errno));
			return 1;
		}
		printf("%c\n", ok ? 'T' : 'F');
		ok = true;
	} else {
		return usage();
	}
	if (!ok)
		fprintf(stderr, "%s %u: %s\n", argv[1], domid, strerror(errno));
	xs_close(h);
	return ok ? 0 : 1;
}
