/* xs_bench: a fixed xenstore workload through libxenstore, run in the
 * real-Xen test's dom0 against pvd-stored and then against Xen's own
 * xenstored in the same boot (tests/xen/dom0-part-zstore.sh), so that the
 * two stores are compared on the same machine and the same kernel.
 *
 * One process, one connection: what is timed is the store, not process
 * start-up (which dominates xenstore-write and friends under emulation).
 * The connection is libxenstore's default (the unix socket), or dom0's
 * own kernel ring when XENSTORED_PATH=/dev/xen/xenbus.
 *
 * In a domU (tests/xen/domu-init.sh's zstore mode) the same program runs
 * over the guest's own ring, and leaves its line in the store for dom0
 * to collect ($XS_BENCH_RESULT names the node).  $XS_BENCH_DENIED names
 * a node the caller must not read (another domain's): the read must fail
 * with EACCES, and the line says so ("denied PATH").  $XS_BENCH_QUOTA_VALUE
 * (bytes, above the store's value-size quota for a guest: 2048 in both
 * stores) is a write that must be refused ("a N-byte value refused").
 *
 * usage: xs_bench LABEL N
 * Writes N nodes under data/xs-bench in the caller's home, reads them back,
 * lists the directory N/10 times, runs N/4 transactions (start, read,
 * write, commit), removes the tree; prints one line
 *   XENTEST FIGURE store LABEL write W/s read R/s ls L/s txn T/s total S s
 * Exit 0, or 1 with the failing call on stderr. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenstore.h>

/* Relative: under the caller's home, /local/domain/<domid>. */
#define BASE "data/xs-bench"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "xs_bench: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

static int phase_write(struct xs_handle *h, unsigned n)
{
	char path[128], val[64];

	for (unsigned i = 0; i < n; i++) {
		snprintf(path, sizeof(path), BASE "/n%u", i);
		snprintf(val, sizeof(val), "value-%u", i);
		if (!xs_write(h, XBT_NULL, path, val, strlen(val)))
			return fail("write", path);
	}
	return 0;
}

static int phase_read(struct xs_handle *h, unsigned n)
{
	char path[128], want[64];

	for (unsigned i = 0; i < n; i++) {
		unsigned len;
		char *v;

		snprintf(path, sizeof(path), BASE "/n%u", i);
		v = xs_read(h, XBT_NULL, path, &len);
		if (!v)
			return fail("read", path);
		snprintf(want, sizeof(want), "value-%u", i);
		if (strcmp(v, want) != 0) {
			fprintf(stderr, "xs_bench: %s read '%s', want '%s'\n", path, v, want);
			free(v);
			return 1;
		}
		free(v);
	}
	return 0;
}

static int phase_ls(struct xs_handle *h, unsigned n, unsigned want)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned num;
		char **d = xs_directory(h, XBT_NULL, BASE, &num);

		if (!d)
			return fail("directory", BASE);
		free(d);
		if (num != want) {
			fprintf(stderr, "xs_bench: %s has %u entries, want %u\n", BASE, num, want);
			return 1;
		}
	}
	return 0;
}

static int phase_txn(struct xs_handle *h, unsigned n)
{
	char path[128];

	for (unsigned i = 0; i < n; i++) {
		xs_transaction_t t;
		unsigned len;
		char *v;

		snprintf(path, sizeof(path), BASE "/t%u", i % 8);
		t = xs_transaction_start(h);
		if (t == XBT_NULL)
			return fail("transaction_start", path);
		v = xs_read(h, t, path, &len);
		free(v);	/* absent the first time round */
		if (!xs_write(h, t, path, "x", 1)) {
			xs_transaction_end(h, t, true);
			return fail("write in transaction", path);
		}
		if (!xs_transaction_end(h, t, false) && errno != EAGAIN)
			return fail("transaction_end", path);
	}
	return 0;
}

/* The permission check: $XS_BENCH_DENIED must not be readable. */
static int check_denied(struct xs_handle *h, char *out, size_t len)
{
	const char *path = getenv("XS_BENCH_DENIED");
	unsigned n;
	char *v;

	if (!path)
		return 0;
	v = xs_read(h, XBT_NULL, path, &n);
	if (v) {
		fprintf(stderr, "xs_bench: %s is readable ('%s'), want EACCES\n", path, v);
		free(v);
		return 1;
	}
	if (errno != EACCES)
		return fail("read (want EACCES)", path);
	snprintf(out, len, "; denied %s: EACCES", path);
	return 0;
}

/* The quota check: a value over the guest's value-size quota. */
static int check_quota(struct xs_handle *h, char *out, size_t len)
{
	const char *e = getenv("XS_BENCH_QUOTA_VALUE");
	size_t n = e ? strtoul(e, NULL, 10) : 0;
	char *big;
	bool ok;

	if (!n)
		return 0;
	if (n > 4000) {
		fprintf(stderr, "xs_bench: XS_BENCH_QUOTA_VALUE %zu: at most 4000\n", n);
		return 1;
	}
	big = malloc(n);
	if (!big)
		return fail("malloc", "");
	memset(big, 'q', n);
	ok = xs_write(h, XBT_NULL, BASE "-big", big, (unsigned)n);
	free(big);
	if (ok) {
		fprintf(stderr, "xs_bench: a %zu-byte value was accepted\n", n);
		xs_rm(h, XBT_NULL, BASE "-big");
		return 1;
	}
	snprintf(out, len, "; a %zu-byte value refused: %s", n, strerrorname_np(errno));
	return 0;
}

int main(int argc, char **argv)
{
	struct xs_handle *h;
	double t0, t1, t2, t3, t4;
	char line[448], denied[160] = "", quota[64] = "";
	unsigned n;
	int rc = 1;

	if (argc != 3 || (n = (unsigned)strtoul(argv[2], NULL, 10)) < 10) {
		fprintf(stderr, "usage: xs_bench LABEL N (N >= 10)\n");
		return 2;
	}
	h = xs_open(0);
	if (!h)
		return fail("open", getenv("XENSTORED_PATH") ? getenv("XENSTORED_PATH") : "(default)");
	xs_rm(h, XBT_NULL, BASE);
	t0 = now();
	if (phase_write(h, n))
		goto out;
	t1 = now();
	if (phase_read(h, n))
		goto out;
	t2 = now();
	if (phase_ls(h, n / 10, n))
		goto out;
	t3 = now();
	if (phase_txn(h, n / 4))
		goto out;
	t4 = now();
	if (check_denied(h, denied, sizeof(denied)) ||
	    check_quota(h, quota, sizeof(quota)))
		goto out;
	snprintf(line, sizeof(line),
		 "XENTEST FIGURE store %s write %.0f/s read %.0f/s ls %.0f/s txn %.0f/s total %.3f s (N=%u)%s%s",
		 argv[1], n / (t1 - t0), n / (t2 - t1), (n / 10) / (t3 - t2),
		 (n / 4) / (t4 - t3), t4 - t0, n, denied, quota);
	printf("%s\n", line);
	rc = 0;
	if (getenv("XS_BENCH_RESULT") &&
	    !xs_write(h, XBT_NULL, getenv("XS_BENCH_RESULT"), line, strlen(line)))
		rc = fail("write", getenv("XS_BENCH_RESULT"));
out:
	xs_rm(h, XBT_NULL, BASE);
	xs_close(h);
	return rc;
}
