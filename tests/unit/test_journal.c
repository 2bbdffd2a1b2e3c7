/* --persist: replay, torn tails, compaction, and no reply before the
 * journal is on disk (fdatasync is a link-time seam). */
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

#include <event2/buffer.h>
#include <event2/event.h>

#include "../../stored/core.h"
#include "../../stored/journal.h"
#include "../../stored/stored.h"
#include "../harness/memconn.h"

int __real_fdatasync(int fd);
static int fail_sync;
static int sync_calls;

int __wrap_fdatasync(int fd)
{
	sync_calls++;
	if (fail_sync) {
		errno = EIO;
		return -1;
	}
	return __real_fdatasync(fd);
}

struct fx {
	char dir[64], path[96];
	struct event_base *base;
	struct stored sd;
	struct memconn *d0;
	char body[XENSTORE_PAYLOAD_MAX + 1];
};

static void start(struct fx *f)
{
	static const struct quota q = QUOTA_DEFAULTS;

	f->base = event_base_new();
	assert_int_equal(stored_init(&f->sd, f->base, &q), 0);
	assert_int_equal(journal_open(f->path, &f->sd.journal), 0);
	assert_int_equal(journal_load(f->sd.journal, &f->sd.store, &f->sd.domains), 0);
	f->sd.store.journal = f->sd.journal;
	assert_int_equal(core_setup_tree(&f->sd), 0);
	assert_int_equal(journal_sync(f->sd.journal), 0);
	f->d0 = memconn_new(&f->sd, 0, true);
}

static void stop(struct fx *f)
{
	memconn_free(f->d0);
	f->d0 = NULL;
	stored_destroy(&f->sd);
	journal_close(f->sd.journal);
	event_base_free(f->base);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/pvd-journal-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	fail_sync = 0;
	start(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	stop(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const char *rd(struct fx *f, const char *path)
{
	if (xs_req(f->d0, XS_READ, 0, f->body, 1, path) != XS_READ)
		return NULL;
	return f->body;
}

static void test_replay(void **state)
{
	struct fx *f = *state;

	xs_req(f->d0, XS_WRITE, 0, NULL, 2, "/a/b", "1");
	xs_req(f->d0, XS_WRITE, 0, NULL, 2, "/a/c", "2");
	xs_req(f->d0, XS_SET_PERMS, 0, NULL, 3, "/a/c", "n5", "r7");
	xs_req(f->d0, XS_RM, 0, NULL, 1, "/a/b");
	xs_req(f->d0, XS_INTRODUCE, 0, NULL, 3, "5", "99", "3");
	stop(f);
	start(f);
	assert_null(rd(f, "/a/b"));
	assert_string_equal(rd(f, "/a/c"), "2");
	xs_req(f->d0, XS_GET_PERMS, 0, f->body, 1, "/a/c");
	assert_memory_equal(f->body, "n5\0r7", 6);
	xs_req(f->d0, XS_DIRECTORY, 0, f->body, 1, "/a");
	assert_string_equal(f->body, "c");
	xs_req(f->d0, XS_IS_DOMAIN_INTRODUCED, 0, f->body, 1, "5");
	assert_string_equal(f->body, "T");
	assert_int_equal(f->sd.store.owned[5], 1);
}

static void test_torn_tail(void **state)
{
	struct fx *f = *state;
	struct stat st;
	FILE *fp;

	xs_req(f->d0, XS_WRITE, 0, NULL, 2, "/keep", "1");
	stop(f);
	fp = fopen(f->path, "a");
	fwrite("\x40\0\0\0garbage", 1, 11, fp);
	fclose(fp);
	start(f);
	assert_string_equal(rd(f, "/keep"), "1");
	stat(f->path, &st);
	assert_int_equal((uint64_t)st.st_size, journal_size(f->sd.journal));
	xs_req(f->d0, XS_WRITE, 0, NULL, 2, "/after", "2");
	stop(f);
	start(f);
	assert_string_equal(rd(f, "/after"), "2");
}

static void test_uncommitted_batch_dropped(void **state)
{
	struct fx *f = *state;
	struct stat st;
	struct node *n;

	/* A batch without its commit record (a crash mid-write) is not
	 * applied. */
	n = node_new("/half", &(struct perms){ 0, NULL }, "x", 1);
	journal_log_node(f->sd.journal, n);
	node_free(n);
	journal_seal(f->sd.journal);
	assert_int_equal(journal_sync(f->sd.journal), 0);
	stop(f);
	/* Cut the batch's final commit record (9 bytes). */
	stat(f->path, &st);
	assert_int_equal(truncate(f->path, st.st_size - 9), 0);
	start(f);
	assert_null(rd(f, "/half"));
}

static void test_compaction(void **state)
{
	struct fx *f = *state;
	char val[1500];
	struct stat st;

	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	for (int i = 0; i < 3000; i++)
		xs_req(f->d0, XS_WRITE, 0, NULL, 2, "/same", val);
	stat(f->path, &st);
	/* 3000 rewrites of 1.5 KB would be 4.5 MB uncompacted. */
	assert_true(st.st_size < 2 * 1024 * 1024);
	stop(f);
	start(f);
	assert_int_equal(strlen(rd(f, "/same")), sizeof(val) - 1);
}

static void test_no_reply_before_durable(void **state)
{
	struct fx *f = *state;
	const char *argv[2] = { "/d", "1" };
	struct xsd_sockmsg h;

	fail_sync = 1;
	memconn_request(f->d0, XS_WRITE, 0, argv, 2, true);
	assert_false(memconn_next(f->d0, &h, f->body));
	fail_sync = 0;
	stored_flush(&f->sd);
	assert_true(memconn_next(f->d0, &h, f->body));
	assert_int_equal(h.type, XS_WRITE);
	/* One sync per turn, whatever the number of requests. */
	sync_calls = 0;
	xs_req(f->d0, XS_WRITE, 0, NULL, 2, "/e", "1");
	assert_int_equal(sync_calls, 1);
	xs_req(f->d0, XS_READ, 0, NULL, 1, "/e");
	assert_int_equal(sync_calls, 1);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_replay),
		T(test_torn_tail),
		T(test_uncommitted_batch_dropped),
		T(test_compaction),
		T(test_no_reply_before_durable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
