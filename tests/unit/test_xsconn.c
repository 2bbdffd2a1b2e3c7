/* common/xsconn.c against a real pvd-stored, started by the test in a
 * private directory (XENSTORED_PATH points libxenstore at its socket):
 * the backoff while the store is not there, the wait for a store that
 * comes late, loss detection (the sentinel reads EOF after a kill -9),
 * reconnection, watches registered again and firing, and a store's
 * answer told from a lost connection.  The store binary is the build's
 * (../../bin/pvd-stored beside this test, or $PVD_BIN/pvd-stored); the
 * tests are skipped without it.  Waits are bounded by a hang guard that
 * only turns a hang into a failure; nothing is timed. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <xenstore.h>

#include "pvd/xsconn.h"

#define HANG_GUARD_S 30
#define NEV 16

struct fx {
	char dir[64], sock[128], pidfile[128], log[128], bin[PATH_MAX];
	pid_t store;
	struct event_base *base;
	struct xsconn xc;
	unsigned ups, agains, downs;
	unsigned nev;
	char ev_path[NEV][64], ev_token[NEV][32];
};

static void on_up(void *arg, bool again)
{
	struct fx *f = arg;

	f->ups++;
	f->agains += again;
}

static void on_down(void *arg)
{
	((struct fx *)arg)->downs++;
}

static void on_event(void *arg, const char *path, const char *token)
{
	struct fx *f = arg;

	if (f->nev == NEV)
		return;
	snprintf(f->ev_path[f->nev], sizeof(f->ev_path[0]), "%s", path);
	snprintf(f->ev_token[f->nev], sizeof(f->ev_token[0]), "%s", token);
	f->nev++;
}

static const struct xsconn_ops ops = {
	.up = on_up, .down = on_down, .event = on_event,
};

static bool find_store(struct fx *f)
{
	const char *env = getenv("PVD_BIN");
	char self[PATH_MAX - 32];
	ssize_t n;

	if (env) {
		snprintf(f->bin, sizeof(f->bin), "%s/pvd-stored", env);
		return access(f->bin, X_OK) == 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return false;
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(f->bin, sizeof(f->bin), "%s/../../bin/pvd-stored", self);
	return access(f->bin, X_OK) == 0;
}

static void store_start(struct fx *f)
{
	unlink(f->pidfile);
	f->store = fork();
	assert_true(f->store >= 0);
	if (f->store == 0) {
		execl(f->bin, "pvd-stored", "-f", "--socket", f->sock,
		      "--pidfile", f->pidfile, "--log-file", f->log, "--hv",
		      "none", (char *)NULL);
		_exit(127);
	}
	/* It writes its pidfile once it listens. */
	for (int i = 0; i < HANG_GUARD_S * 20; i++) {
		struct stat st;

		if (stat(f->pidfile, &st) == 0 && st.st_size > 0)
			return;
		assert_int_equal(waitpid(f->store, NULL, WNOHANG), 0);
		usleep(50 * 1000);
	}
	fail_msg("pvd-stored did not start");
}

static void store_kill(struct fx *f)
{
	if (f->store <= 0)
		return;
	kill(f->store, SIGKILL);
	waitpid(f->store, NULL, 0);
	f->store = 0;
}

static bool ups_at_least(struct fx *f, unsigned n) { return f->ups >= n; }
static bool downs_at_least(struct fx *f, unsigned n) { return f->downs >= n; }
static bool events_at_least(struct fx *f, unsigned n) { return f->nev >= n; }
static bool attempts_at_least(struct fx *f, unsigned n)
{
	return f->xc.st.attempts >= n;
}

/* Runs the loop until pred(f, n) holds; the guard only stops a hang. */
static void run_until(struct fx *f, bool (*pred)(struct fx *, unsigned),
		      unsigned n)
{
	time_t end = time(NULL) + HANG_GUARD_S;

	while (!pred(f, n)) {
		struct timeval tv = { 0, 50 * 1000 };

		assert_true(time(NULL) < end);
		event_base_loopexit(f->base, &tv);
		event_base_loop(f->base, EVLOOP_ONCE);
	}
}

/* dom0's write through a handle of its own. */
static void store_write(const char *path, const char *val)
{
	struct xs_handle *xs = xs_open(0);

	assert_non_null(xs);
	assert_true(xs_write(xs, XBT_NULL, path, val, strlen(val)));
	xs_close(xs);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	if (!find_store(f)) {
		free(f);
		skip();
	}
	strcpy(f->dir, "/tmp/pvd-xsconn-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/store.sock", f->dir);
	snprintf(f->pidfile, sizeof(f->pidfile), "%s/store.pid", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/store.log", f->dir);
	setenv("XENSTORED_PATH", f->sock, 1);
	f->base = event_base_new();
	assert_non_null(f->base);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	xsconn_stop(&f->xc);
	store_kill(f);
	event_base_free(f->base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_backoff_next(void **state)
{
	assert_int_equal(xsconn_backoff_next(0, 100, 5000), 100);
	assert_int_equal(xsconn_backoff_next(100, 100, 5000), 200);
	assert_int_equal(xsconn_backoff_next(3000, 100, 5000), 5000);
	assert_int_equal(xsconn_backoff_next(5000, 100, 5000), 5000);
	assert_int_equal(xsconn_backoff_next(UINT_MAX, 100, 5000), 5000);
}

/* No store yet: start succeeds, each failed try doubles the delay; the
 * store comes and the connection is made (up, not "again"). */
static void test_waits_for_store(void **state)
{
	struct fx *f = *state;

	assert_int_equal(xsconn_start(&f->xc, f->base, &ops, f), 0);
	assert_false(xsconn_up(&f->xc));
	assert_int_equal(f->xc.st.attempts, 1);
	assert_int_equal(f->xc.backoff_ms, XSCONN_BACKOFF_MIN_MS);
	run_until(f, attempts_at_least, 3);
	assert_int_equal(f->xc.backoff_ms, 4 * XSCONN_BACKOFF_MIN_MS);
	assert_int_equal(f->ups, 0);
	store_start(f);
	run_until(f, ups_at_least, 1);
	assert_true(xsconn_up(&f->xc));
	assert_int_equal(f->agains, 0);
	assert_int_equal(f->xc.st.connects, 1);
}

/* A kill -9 of the store is noticed without any call failing (the
 * sentinel), the connection comes back when the store does, and the
 * watch is registered again: it fires once there, then on a change. */
static void test_loss_reconnect_rewatch(void **state)
{
	struct fx *f = *state;

	store_start(f);
	assert_int_equal(xsconn_start(&f->xc, f->base, &ops, f), 0);
	assert_true(xsconn_up(&f->xc));
	assert_true(xsconn_watch(&f->xc, "/w", "tok"));
	run_until(f, events_at_least, 1);
	assert_string_equal(f->ev_path[0], "/w");
	store_kill(f);
	run_until(f, downs_at_least, 1);
	assert_false(xsconn_up(&f->xc));
	assert_int_equal(f->xc.st.losses, 1);
	store_start(f);
	run_until(f, ups_at_least, 2);
	assert_int_equal(f->agains, 1);
	run_until(f, events_at_least, 2);
	assert_string_equal(f->ev_path[1], "/w");
	assert_string_equal(f->ev_token[1], "tok");
	store_write("/w", "1");
	run_until(f, events_at_least, 3);
	assert_string_equal(f->ev_path[2], "/w");
	/* A watch forgotten while up is not registered again. */
	xsconn_unwatch(&f->xc, "/w", "tok");
	assert_int_equal(f->xc.nw, 0);
}

/* ENOENT is the store's answer: the connection stays up.  A call on a
 * dead connection is a loss. */
static void test_failed_tells_answer_from_loss(void **state)
{
	struct fx *f = *state;
	unsigned len;

	store_start(f);
	assert_int_equal(xsconn_start(&f->xc, f->base, &ops, f), 0);
	assert_null(xs_read(f->xc.xs, XBT_NULL, "/nonexistent", &len));
	assert_int_equal(errno, ENOENT);
	assert_false(xsconn_failed(&f->xc, "read"));
	assert_true(xsconn_up(&f->xc));
	assert_int_equal(f->downs, 0);
	store_kill(f);
	errno = 0;
	if (xs_read(f->xc.xs, XBT_NULL, "/nonexistent", &len) == NULL &&
	    xsconn_up(&f->xc))
		assert_true(xsconn_failed(&f->xc, "read"));
	run_until(f, downs_at_least, 1);
	assert_int_equal(f->downs, 1);
	assert_int_equal(f->xc.st.losses, 1);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_next),
		T(test_waits_for_store),
		T(test_loss_reconnect_rewatch),
		T(test_failed_tells_answer_from_loss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
