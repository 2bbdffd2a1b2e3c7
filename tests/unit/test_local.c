/* dom0's own store page and port as xenfs offers them (stored/local.c),
 * against a directory standing in for /proc/xen: the port read from
 * xsd_port, the page from xsd_kva mapped shared and writable, and every
 * malformed or missing file refused with nothing left mapped. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../stored/local.h"

struct fx {
	char dir[64];
};

static void put(struct fx *f, const char *name, const void *data, size_t len)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	static char page[4096];

	assert_non_null(f);
	strcpy(f->dir, "/tmp/pvd-local-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	put(f, "xsd_kva", page, sizeof(page));
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

static void good(void **state)
{
	struct fx *f = *state;
	evtchn_port_t port = 0;
	char path[128], buf[8] = { 0 };
	void *page;
	FILE *fp;

	put(f, "xsd_port", "9\n", 2);
	assert_int_equal(local_store_open(f->dir, &page, &port), 0);
	assert_int_equal(port, 9);
	/* Shared: what the daemon writes is the kernel's page. */
	memcpy((char *)page + 2064, "feat", 4);
	local_store_close(page);
	snprintf(path, sizeof(path), "%s/xsd_kva", f->dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 2064, SEEK_SET), 0);
	assert_int_equal(fread(buf, 1, 4, fp), 4);
	fclose(fp);
	assert_string_equal(buf, "feat");
	local_store_close(NULL);
}

static void bad_port(void **state)
{
	static const char *bad[] = { "", "\n", "x1", "0", "-1", "12a",
				     "4294967296", " 3" };
	struct fx *f = *state;
	evtchn_port_t port = 77;
	void *page = (void *)1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(f, "xsd_port", bad[i], strlen(bad[i]));
		assert_int_equal(local_store_open(f->dir, &page, &port), -EINVAL);
		assert_null(page);
		assert_int_equal(port, 77);
	}
}

static void missing(void **state)
{
	struct fx *f = *state;
	char path[128];
	evtchn_port_t port;
	void *page = (void *)1;

	assert_int_equal(local_store_open(f->dir, &page, &port), -ENOENT);
	assert_null(page);
	put(f, "xsd_port", "5", 1);
	snprintf(path, sizeof(path), "%s/xsd_kva", f->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(local_store_open(f->dir, &page, &port), -ENOENT);
	assert_null(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(good, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_port, setup, teardown),
		cmocka_unit_test_setup_teardown(missing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
