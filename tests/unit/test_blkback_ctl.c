/* The daemons' control-socket requests (pvd_ctl_serve, common/ctl.c:
 * pvd-blkback's, pvd-netback's and pvd-consoled's) without a socket: whole lines answered in order, CRLF, lines too long,
 * and a line is the command only when every byte of it is (a NUL inside
 * used to end the comparison early, found by fuzz_blkback_ctl); what a
 * client that does not read is owed is bounded (out_max); and the socket
 * gets its mode without a chmod by path: an attacker swapping a symlink
 * in right after bind (the seams below, on listen and chmod) cannot make
 * pvd_ctl_start change another file's mode. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "pvd/ctl.h"

#define UNKNOWN "{\"error\":\"unknown command\"}\n"

struct fx {
	struct pvd_ctl c;
	struct evbuffer *in, *out;
	int nstats;
};

static void stats(struct evbuffer *out, void *arg)
{
	struct fx *f = arg;

	f->nstats++;
	evbuffer_add_printf(out, "{\"stats\":%d}\n", f->nstats);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->c.stats = stats;
	f->c.arg = f;
	f->in = evbuffer_new();
	f->out = evbuffer_new();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	evbuffer_free(f->in);
	evbuffer_free(f->out);
	free(f);
	return 0;
}

/* Feeds n bytes; returns pvd_ctl_serve's result, the replies in *reply
 * (NUL-terminated, static). */
static int feed(struct fx *f, const void *b, size_t n, const char **reply)
{
	static char buf[4096];
	size_t len;
	int rc;

	evbuffer_add(f->in, b, n);
	rc = pvd_ctl_serve(&f->c, f->in, f->out);
	len = evbuffer_get_length(f->out);
	assert_true(len < sizeof(buf));
	evbuffer_remove(f->out, buf, len);
	buf[len] = '\0';
	*reply = buf;
	return rc;
}

static void test_commands_in_order(void **state)
{
	struct fx *f = *state;
	const char *r;

	assert_int_equal(feed(f, "ping\nstats\r\nhelp\nnope\n", 22, &r), 0);
	assert_string_equal(r, "pong\n{\"stats\":1}\n"
			    "{\"commands\":[\"stats\",\"ping\",\"help\"]}\n" UNKNOWN);
}

static void test_split_line(void **state)
{
	struct fx *f = *state;
	const char *r;

	assert_int_equal(feed(f, "pi", 2, &r), 0);
	assert_string_equal(r, "");
	assert_int_equal(feed(f, "ng\r", 3, &r), 0);
	assert_string_equal(r, "");
	assert_int_equal(feed(f, "\n", 1, &r), 0);
	assert_string_equal(r, "pong\n");
}

/* A NUL byte inside a line is part of it: "stats\0junk" is no command. */
static void test_nul_inside_line(void **state)
{
	struct fx *f = *state;
	const char *r;

	assert_int_equal(feed(f, "stats\0junk\n", 11, &r), 0);
	assert_string_equal(r, UNKNOWN);
	assert_int_equal(f->nstats, 0);
	assert_int_equal(feed(f, "ping\0\n", 6, &r), 0);
	assert_string_equal(r, UNKNOWN);
	assert_int_equal(feed(f, "\0\n", 2, &r), 0);
	assert_string_equal(r, UNKNOWN);
}

static void test_line_limits(void **state)
{
	struct fx *f = *state;
	char line[PVD_CTL_LINE_MAX + 2];
	const char *r;

	/* The longest line is answered; one byte more is dropped. */
	memset(line, 'a', sizeof(line));
	line[PVD_CTL_LINE_MAX] = '\n';
	assert_int_equal(feed(f, line, PVD_CTL_LINE_MAX + 1, &r), 0);
	assert_string_equal(r, UNKNOWN);
	line[PVD_CTL_LINE_MAX] = 'a';
	line[PVD_CTL_LINE_MAX + 1] = '\n';
	assert_int_equal(feed(f, line, PVD_CTL_LINE_MAX + 2, &r), 0);
	assert_string_equal(r, "");
	assert_int_equal(feed(f, "ping\n", 5, &r), 0);
	assert_string_equal(r, "pong\n");
	/* An unfinished line may grow to the limit, not past it. */
	memset(line, 'b', sizeof(line));
	assert_int_equal(feed(f, line, PVD_CTL_LINE_MAX, &r), 0);
	assert_int_equal(feed(f, "b", 1, &r), -EMSGSIZE);
}

/* Over out_max, nothing more is answered: the lines wait in `in` until
 * out has been taken, then are answered in order. */
static void test_output_bound(void **state)
{
	struct fx *f = *state;
	const char *r;
	size_t left;

	f->c.out_max = 40;
	for (int i = 0; i < 20; i++)
		evbuffer_add(f->in, "stats\n", 6);
	assert_int_equal(pvd_ctl_serve(&f->c, f->in, f->out), 1);
	/* {"stats":N}\n is 12 bytes: answers up to the first past 40. */
	assert_int_equal(f->nstats, 4);
	assert_int_equal(evbuffer_get_length(f->out), 48);
	left = evbuffer_get_length(f->in);
	assert_int_equal(left, 16 * 6);
	evbuffer_drain(f->out, evbuffer_get_length(f->out));
	assert_int_equal(feed(f, "", 0, &r), 1);
	assert_string_equal(r, "{\"stats\":5}\n{\"stats\":6}\n{\"stats\":7}\n{\"stats\":8}\n");
	/* A full `in` of whole lines held back is not "a line too long". */
	f->c.out_max = 0;
	assert_int_equal(feed(f, "", 0, &r), 0);
	assert_int_equal(f->nstats, 20);
}

/* ---- the socket's mode, with an attacker in the window after bind ---- */

static char g_path[256], g_target[256];
static bool g_armed;

/* Replaces the socket at g_path by a symlink to g_target (once). */
static void plant(void)
{
	char lnk[300];

	if (!g_armed)
		return;
	g_armed = false;
	snprintf(lnk, sizeof(lnk), "%s.lnk", g_path);
	assert_int_equal(symlink(g_target, lnk), 0);
	assert_int_equal(rename(lnk, g_path), 0);
}

int __real_chmod(const char *path, mode_t mode);
int __wrap_chmod(const char *path, mode_t mode)
{
	plant();
	return __real_chmod(path, mode);
}

int __real_listen(int fd, int backlog);
int __wrap_listen(int fd, int backlog)
{
	plant();
	return __real_listen(fd, backlog);
}

static void test_socket_mode_no_chmod_by_path(void **state)
{
	char dir[] = "/tmp/test_blkback_ctl.XXXXXX";
	struct event_base *base = event_base_new();
	struct pvd_ctl c;
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(base);
	assert_non_null(mkdtemp(dir));
	snprintf(g_path, sizeof(g_path), "%s/ctl.sock", dir);
	snprintf(g_target, sizeof(g_target), "%s/victim", dir);
	fd = open(g_target, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(g_target, 0644), 0);
	g_armed = true;
	assert_int_equal(pvd_ctl_start(&c, base, g_path, stats, NULL), 0);
	assert_false(g_armed);
	assert_int_equal(stat(g_target, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	pvd_ctl_stop(&c);
	/* A symlink already there is refused, not removed nor followed. */
	assert_int_equal(symlink(g_target, g_path), 0);
	assert_int_equal(pvd_ctl_start(&c, base, g_path, stats, NULL), -EEXIST);
	assert_int_equal(lstat(g_path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	unlink(g_path);
	/* Without an attacker the socket is born 0600. */
	assert_int_equal(pvd_ctl_start(&c, base, g_path, stats, NULL), 0);
	assert_int_equal(lstat(g_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	pvd_ctl_stop(&c);
	unlink(g_target);
	rmdir(dir);
	event_base_free(base);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_commands_in_order),
		T(test_split_line),
		T(test_nul_inside_line),
		T(test_line_limits),
		T(test_output_bound),
		cmocka_unit_test(test_socket_mode_no_chmod_by_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
