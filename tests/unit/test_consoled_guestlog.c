/* pvd-consoled's guest logs: name sanitising (XSA-57), timestamps, the
 * size cap (XSA-180), reopen, planted symlinks and FIFOs; and the strict
 * parsing of store values (tracker.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../consoled/guestlog.h"
#include "../../consoled/tracker.h"

struct fx {
	char dir[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/pvd-glog-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (!fp)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return buf;
}

static void test_sanitize(void **state)
{
	char out[GUESTLOG_NAME_MAX + 1];
	char longname[300];

	assert_int_equal(guestlog_sanitize("web-01.example_a", out, sizeof(out)), 16);
	assert_string_equal(out, "web-01.example_a");
	guestlog_sanitize("../../etc/passwd", out, sizeof(out));
	assert_string_equal(out, ".._.._etc_passwd");
	assert_null(strchr(out, '/'));
	guestlog_sanitize("a b\tc\n\x1b[31m\xc3\xa9", out, sizeof(out));
	assert_string_equal(out, "a_b_c___31m__");
	assert_int_equal(guestlog_sanitize("", out, sizeof(out)), -EINVAL);
	assert_int_equal(guestlog_sanitize(".", out, sizeof(out)), -EINVAL);
	assert_int_equal(guestlog_sanitize("..", out, sizeof(out)), -EINVAL);
	assert_int_equal(guestlog_sanitize(NULL, out, sizeof(out)), -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(guestlog_sanitize(longname, out, sizeof(out)), GUESTLOG_NAME_MAX);
	/* A small output buffer is respected. */
	assert_int_equal(guestlog_sanitize("abcdef", out, 4), 3);
	assert_string_equal(out, "abc");
}

static void test_plain_and_reopen(void **state)
{
	struct fx *f = *state;
	struct guestlog g;
	char path[128], moved[140];

	assert_int_equal(guestlog_open(&g, f->dir, "vm1", 0, false), 0);
	guestlog_write(&g, "line one\r\n", 10);
	snprintf(path, sizeof(path), "%s/guest-vm1.log", f->dir);
	assert_string_equal(slurp(path), "line one\r\n");
	/* logrotate: move it away, reopen, a new file starts. */
	snprintf(moved, sizeof(moved), "%s.old", path);
	assert_int_equal(rename(path, moved), 0);
	guestlog_write(&g, "two\n", 4);
	assert_int_equal(guestlog_reopen(&g), 0);
	guestlog_write(&g, "three\n", 6);
	assert_string_equal(slurp(moved), "line one\r\ntwo\n");
	assert_string_equal(slurp(path), "three\n");
	guestlog_close(&g);
	guestlog_close(&g);	/* idempotent */
	guestlog_free(&g);
	guestlog_free(&g);
}

static void test_timestamps(void **state)
{
	struct fx *f = *state;
	struct guestlog g;
	char path[128], *s, *l2;

	assert_int_equal(guestlog_open(&g, f->dir, "ts", 0, true), 0);
	guestlog_write(&g, "first\nsec", 9);
	guestlog_write(&g, "ond\n\nx", 6);
	guestlog_free(&g);
	snprintf(path, sizeof(path), "%s/guest-ts.log", f->dir);
	s = slurp(path);
	/* "[YYYY-MM-DD HH:MM:SS.mmm] " (26 bytes) at the start of every line,
	 * once. */
	assert_int_equal(s[0], '[');
	assert_int_equal(s[24], ']');
	assert_int_equal(s[25], ' ');
	assert_memory_equal(s + 26, "first\n[", 7);
	l2 = s + 26 + 6;
	assert_memory_equal(l2 + 26, "second\n[", 8);
	assert_int_equal(strlen(s), 4 * 26 + strlen("first\nsecond\n\nx"));
	assert_int_equal(s[11], ' ');
	assert_int_equal(s[20], '.');
}

static void test_cap_rotates(void **state)
{
	struct fx *f = *state;
	struct guestlog g;
	char path[128], old[140], chunk[100];

	memset(chunk, 'a', sizeof(chunk));
	assert_int_equal(guestlog_open(&g, f->dir, "big", 250, false), 0);
	for (int i = 0; i < 7; i++) {
		chunk[0] = (char)('0' + i);
		guestlog_write(&g, chunk, sizeof(chunk));
	}
	guestlog_free(&g);
	snprintf(path, sizeof(path), "%s/guest-big.log", f->dir);
	snprintf(old, sizeof(old), "%s.1", path);
	/* 700 bytes through a 250-byte cap: at most 2 x 250 on disk, and the
	 * newest bytes are in the current file. */
	assert_int_equal(strlen(slurp(path)), 200);
	assert_int_equal(slurp(path)[100], '6');
	assert_int_equal(strlen(slurp(old)), 250);
	assert_int_equal(g.written, 700);
}

/* Reopening a file that is over the cap already (a restart) rotates at
 * the first write. */
static void test_cap_counts_existing(void **state)
{
	struct fx *f = *state;
	struct guestlog g;
	char path[128], old[140];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/guest-prev.log", f->dir);
	fp = fopen(path, "w");
	fputs("0123456789012345678901234567890123456789", fp);
	fclose(fp);
	assert_int_equal(guestlog_open(&g, f->dir, "prev", 40, false), 0);
	guestlog_write(&g, "new\n", 4);
	guestlog_free(&g);
	snprintf(old, sizeof(old), "%s.1", path);
	assert_string_equal(slurp(path), "new\n");
	assert_int_equal(strlen(slurp(old)), 40);
}

/* Rotation impossible (the .1 name is a directory): logging stops with a
 * last line, nothing grows past that. */
static void test_cap_stops_when_rotation_fails(void **state)
{
	struct fx *f = *state;
	struct guestlog g;
	char path[128], old[140];
	char chunk[64];

	snprintf(path, sizeof(path), "%s/guest-stuck.log", f->dir);
	snprintf(old, sizeof(old), "%s.1", path);
	assert_int_equal(mkdir(old, 0700), 0);
	{
		/* a non-empty directory cannot be replaced by rename */
		char inner[160];

		snprintf(inner, sizeof(inner), "%s/x", old);
		fclose(fopen(inner, "w"));
	}
	memset(chunk, 'z', sizeof(chunk));
	assert_int_equal(guestlog_open(&g, f->dir, "stuck", 100, false), 0);
	for (int i = 0; i < 10; i++)
		guestlog_write(&g, chunk, sizeof(chunk));
	assert_true(g.stopped);
	assert_non_null(strstr(slurp(path), "logging stopped]"));
	assert_true(strlen(slurp(path)) < 100 + 120);
	guestlog_free(&g);
}

static void test_symlink_and_fifo_refused(void **state)
{
	struct fx *f = *state;
	struct guestlog g;
	char path[128], target[128];

	snprintf(target, sizeof(target), "%s/target", f->dir);
	snprintf(path, sizeof(path), "%s/guest-evil.log", f->dir);
	assert_int_equal(symlink(target, path), 0);
	assert_true(guestlog_open(&g, f->dir, "evil", 0, false) < 0);
	assert_int_equal(access(target, F_OK), -1);	/* not created through it */
	guestlog_write(&g, "x", 1);			/* harmless */
	guestlog_free(&g);
	snprintf(path, sizeof(path), "%s/guest-fifo.log", f->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* Would block forever without O_NONBLOCK (nobody reads the FIFO). */
	assert_true(guestlog_open(&g, f->dir, "fifo", 0, false) < 0);
	guestlog_free(&g);
}

static void test_parse_store_values(void **state)
{
	unsigned d;
	unsigned long v;

	assert_int_equal(tracker_parse_domid("1", &d), 0);
	assert_int_equal(d, 1);
	assert_int_equal(tracker_parse_domid("32751", &d), 0);
	assert_int_equal(tracker_parse_domid("32752", &d), -EINVAL);	/* DOMID_FIRST_RESERVED */
	assert_int_equal(tracker_parse_domid("0", &d), -EINVAL);
	assert_int_equal(tracker_parse_domid("07", &d), -EINVAL);
	assert_int_equal(tracker_parse_domid("-1", &d), -EINVAL);
	assert_int_equal(tracker_parse_domid("", &d), -EINVAL);
	assert_int_equal(tracker_parse_domid("5x", &d), -EINVAL);
	assert_int_equal(tracker_parse_domid(NULL, &d), -EINVAL);
	assert_int_equal(tracker_parse_uint("4294967295", 0xffffffffu, &v), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(tracker_parse_uint("4294967296", 0xffffffffu, &v), -EINVAL);
	assert_int_equal(tracker_parse_uint("99999999999999999999999", ~0ul, &v), -EINVAL);
	assert_int_equal(tracker_parse_uint(" 1", 10, &v), -EINVAL);
	assert_int_equal(tracker_parse_uint("0", 10, &v), 0);
	assert_int_equal(v, 0);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		T(test_plain_and_reopen),
		T(test_timestamps),
		T(test_cap_rotates),
		T(test_cap_counts_existing),
		T(test_cap_stops_when_rotation_fails),
		T(test_symlink_and_fifo_refused),
		cmocka_unit_test(test_parse_store_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
