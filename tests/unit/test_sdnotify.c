/* common/sdnotify.c against a fake NOTIFY_SOCKET: a unix datagram socket
 * the test binds, as systemd's manager does, reading what the wrapper
 * sends. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "pvd/sdnotify.h"

struct fake {
	char dir[64], path[128];
	int fd;
	struct event_base *base;
	unsigned calls;		/* of status_fn */
	const char *text;	/* what status_fn reports */
	bool serving;		/* what ready_fn reports */
};

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_sdnotify.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	strcpy(sa.sun_path, f->path);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", f->path, 1), 0);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	f->base = event_base_new();
	assert_non_null(f->base);
	f->text = "0 devices";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	event_base_free(f->base);
	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	unsetenv("NOTIFY_SOCKET");
	free(f);
	return 0;
}

/* The next datagram, or "" when none is waiting. */
static const char *next_msg(struct fake *f)
{
	static char buf[512];
	ssize_t n = recv(f->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		n = 0;
	}
	buf[n] = '\0';
	return buf;
}

static void status_fn(void *arg, char *buf, size_t len)
{
	struct fake *f = arg;

	f->calls++;
	snprintf(buf, len, "%s", f->text);
}

static void test_ready(void **state)
{
	struct fake *f = *state;

	assert_int_equal(pvd_notify_ready(), 0);
	assert_string_equal(next_msg(f), "READY=1");
	assert_int_equal(pvd_notify_stopping(), 0);
	assert_string_equal(next_msg(f), "STOPPING=1");
	assert_string_equal(next_msg(f), "");
}

static void test_status_one_line(void **state)
{
	struct fake *f = *state;
	char longer[600];

	assert_int_equal(pvd_notify_status("%u devices\n%s", 3u, "2 guests"), 0);
	assert_string_equal(next_msg(f), "STATUS=3 devices 2 guests");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(pvd_notify_status("%s", longer), 0);
	/* Truncated to PVD_NOTIFY_STATUS_MAX - 1 characters of text. */
	assert_int_equal(strlen(next_msg(f)),
			 strlen("STATUS=") + PVD_NOTIFY_STATUS_MAX - 1);
}

/* STATUS= at start, then only when the text changes. */
static void test_refresh_sends_changes(void **state)
{
	struct fake *f = *state;
	struct pvd_notify n;

	assert_int_equal(pvd_notify_start(&n, f->base, status_fn, f), 0);
	assert_non_null(n.timer);
	assert_int_equal(n.wd_usec, 0);
	assert_string_equal(next_msg(f), "STATUS=0 devices");
	pvd_notify_refresh(&n);
	assert_string_equal(next_msg(f), "");
	f->text = "1 device";
	pvd_notify_refresh(&n);
	assert_string_equal(next_msg(f), "STATUS=1 device");
	assert_int_equal(f->calls, 3);
	pvd_notify_stop(&n);
	pvd_notify_stop(&n);
	assert_null(n.timer);
	pvd_notify_refresh(&n);
	assert_int_equal(f->calls, 3);
}

/* WatchdogSec=: the loop's timer sends WATCHDOG=1 (at half the
 * interval: 20 ms here) with the status. */
static void test_watchdog(void **state)
{
	struct fake *f = *state;
	struct pvd_notify n;
	char pid[16];
	unsigned pings = 0;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	setenv("WATCHDOG_USEC", "40000", 1);
	assert_int_equal(pvd_notify_start(&n, f->base, status_fn, f), 0);
	assert_int_equal(n.wd_usec, 40000);
	assert_string_equal(next_msg(f), "STATUS=0 devices");
	for (int i = 0; i < 3; i++) {
		event_base_loop(f->base, EVLOOP_ONCE);
		if (strcmp(next_msg(f), "WATCHDOG=1") == 0)
			pings++;
	}
	assert_int_equal(pings, 3);
	pvd_notify_stop(&n);
	/* Another process's watchdog (WATCHDOG_PID): not ours to feed. */
	setenv("WATCHDOG_PID", "1", 1);
	assert_int_equal(pvd_notify_start(&n, f->base, status_fn, f), 0);
	assert_int_equal(n.wd_usec, 0);
	pvd_notify_stop(&n);
}

static bool ready_fn(void *arg)
{
	return ((struct fake *)arg)->serving;
}

/* A daemon waiting for the store: READY=1 only once it serves, once. */
static void test_ready_when(void **state)
{
	struct fake *f = *state;
	struct pvd_notify n;

	assert_int_equal(pvd_notify_start(&n, f->base, NULL, f), 0);
	pvd_notify_ready_when(&n, ready_fn);
	assert_string_equal(next_msg(f), "");
	event_base_loop(f->base, EVLOOP_ONCE);	/* a poll: still waiting */
	assert_string_equal(next_msg(f), "");
	f->serving = true;
	event_base_loop(f->base, EVLOOP_ONCE);
	assert_string_equal(next_msg(f), "READY=1");
	pvd_notify_refresh(&n);
	assert_string_equal(next_msg(f), "");
	pvd_notify_stop(&n);
	/* Serving already: at once. */
	assert_int_equal(pvd_notify_start(&n, f->base, NULL, f), 0);
	pvd_notify_ready_when(&n, ready_fn);
	assert_string_equal(next_msg(f), "READY=1");
	pvd_notify_stop(&n);
	pvd_notify_stop(&n);
}

/* Started by hand (no NOTIFY_SOCKET): everything is a harmless no-op. */
static void test_no_socket(void **state)
{
	struct fake *f = *state;
	struct pvd_notify n;

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(pvd_notify_ready(), 0);
	assert_int_equal(pvd_notify_status("x"), 0);
	assert_int_equal(pvd_notify_start(&n, f->base, status_fn, f), 0);
	assert_null(n.timer);
	pvd_notify_refresh(&n);
	pvd_notify_ready_when(&n, ready_fn);
	pvd_notify_stop(&n);
	assert_int_equal(f->calls, 0);
	assert_string_equal(next_msg(f), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_one_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_sends_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ready_when, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_socket, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
