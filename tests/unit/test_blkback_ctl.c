/* pvd-blkback's control-socket requests (blk_ctl_serve, blkback/ctl.c)
 * without a socket: whole lines answered in order, CRLF, lines too long,
 * and a line is the command only when every byte of it is (a NUL inside
 * used to end the comparison early, found by fuzz_blkback_ctl). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "../../blkback/ctl.h"

#define UNKNOWN "{\"error\":\"unknown command\"}\n"

struct fx {
	struct blk_ctl c;
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

/* Feeds n bytes; returns blk_ctl_serve's result, the replies in *reply
 * (NUL-terminated, static). */
static int feed(struct fx *f, const void *b, size_t n, const char **reply)
{
	static char buf[4096];
	size_t len;
	int rc;

	evbuffer_add(f->in, b, n);
	rc = blk_ctl_serve(&f->c, f->in, f->out);
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
	char line[BLK_CTL_LINE_MAX + 2];
	const char *r;

	/* The longest line is answered; one byte more is dropped. */
	memset(line, 'a', sizeof(line));
	line[BLK_CTL_LINE_MAX] = '\n';
	assert_int_equal(feed(f, line, BLK_CTL_LINE_MAX + 1, &r), 0);
	assert_string_equal(r, UNKNOWN);
	line[BLK_CTL_LINE_MAX] = 'a';
	line[BLK_CTL_LINE_MAX + 1] = '\n';
	assert_int_equal(feed(f, line, BLK_CTL_LINE_MAX + 2, &r), 0);
	assert_string_equal(r, "");
	assert_int_equal(feed(f, "ping\n", 5, &r), 0);
	assert_string_equal(r, "pong\n");
	/* An unfinished line may grow to the limit, not past it. */
	memset(line, 'b', sizeof(line));
	assert_int_equal(feed(f, line, BLK_CTL_LINE_MAX, &r), 0);
	assert_int_equal(feed(f, "b", 1, &r), -EMSGSIZE);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_commands_in_order),
		T(test_split_line),
		T(test_nul_inside_line),
		T(test_line_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
