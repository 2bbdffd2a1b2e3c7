/* --persist: replay, torn tails, compaction, and no reply before the
 * journal is on disk (fdatasync is a link-time seam); a ring connection's
 * watches kept across a restart (a memconn flagged keep_watches stands
 * for the ring, and a copy of the file taken before the daemon stops for
 * the file a kill -9 leaves). */
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
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "../../stored/core.h"
#include "../../stored/journal.h"
#include "../../stored/conn.h"
#include "../../stored/stored.h"
#include "../../stored/watch.h"
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

/* The journal seeks to its end once, not at every sync. */
off_t __real_lseek(int fd, off_t off, int whence);
static int lseek_calls;

off_t __wrap_lseek(int fd, off_t off, int whence)
{
	lseek_calls++;
	return __real_lseek(fd, off, whence);
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
	assert_int_equal(store_owned(&f->sd.store, 5), 1);
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

/* Syncs after the first append at the offset they leave: one seek for
 * twenty batches, and every batch is there after a restart, a cut torn
 * tail included (ftruncate leaves the offset past the new end). */
static void test_one_seek(void **state)
{
	struct fx *f = *state;
	char path[32], val[8];
	FILE *fp;
	int sync0;

	for (int round = 0; round < 2; round++) {
		lseek_calls = 0;
		sync0 = sync_calls;
		for (int i = 0; i < 20; i++) {
			snprintf(path, sizeof(path), "/s%d/%d", round, i);
			snprintf(val, sizeof(val), "%d", i);
			xs_req(f->d0, XS_WRITE, 0, NULL, 2, path, val);
		}
		assert_int_equal(sync_calls - sync0, 20);
		assert_true(lseek_calls <= 1);
		stop(f);
		fp = fopen(f->path, "a");
		fwrite("\x40\0\0\0torn", 1, 8, fp);
		fclose(fp);
		start(f);
		for (int r = 0; r <= round; r++) {
			for (int i = 0; i < 20; i++) {
				snprintf(path, sizeof(path), "/s%d/%d", r, i);
				snprintf(val, sizeof(val), "%d", i);
				assert_string_equal(rd(f, path), val);
			}
		}
	}
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

/* A byte flipped inside a whole record (not a torn tail): replay must
 * stop at that record's batch, keep every batch before it, apply none
 * after it, and cut the file there so that new records follow the last
 * good batch.  Only the CRC tells such a record from a good one. */
#define NCORRUPT 5

static void write_batches(struct fx *f, uint64_t *ends)
{
	char path[16], val[16];

	for (int i = 0; i < NCORRUPT; i++) {
		snprintf(path, sizeof(path), "/r%d", i);
		snprintf(val, sizeof(val), "value-%d", i);
		assert_int_equal(xs_req(f->d0, XS_WRITE, 0, NULL, 2, path, val),
				 XS_WRITE);
		/* Each request is one batch, synced before its reply. */
		ends[i] = journal_size(f->sd.journal);
	}
}

/* Where "value-<i>" lies in the file, within batch i. */
static uint64_t find_value(struct fx *f, const uint64_t *ends, int i)
{
	char want[16], buf[4096];
	size_t wl = (size_t)snprintf(want, sizeof(want), "value-%d", i);
	size_t len = (size_t)(ends[i] - ends[i - 1]);
	FILE *fp = fopen(f->path, "rb");

	assert_non_null(fp);
	assert_true(len <= sizeof(buf));
	assert_int_equal(fseek(fp, (long)ends[i - 1], SEEK_SET), 0);
	assert_int_equal(fread(buf, 1, len, fp), len);
	fclose(fp);
	for (size_t k = 0; k + wl <= len; k++)
		if (memcmp(buf + k, want, wl) == 0)
			return ends[i - 1] + k;
	fail_msg("value-%d not in its batch", i);
	return 0;
}

static void flip_byte(const char *path, uint64_t off, uint8_t mask)
{
	FILE *fp = fopen(path, "r+b");
	int c;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, (long)off, SEEK_SET), 0);
	c = fgetc(fp);
	assert_int_not_equal(c, EOF);
	assert_int_equal(fseek(fp, (long)off, SEEK_SET), 0);
	assert_int_not_equal(fputc(c ^ mask, fp), EOF);
	assert_int_equal(fclose(fp), 0);
}

/* Flips the byte at off (in batch 2 of 0..4) and checks the replay. */
static void check_corrupt_at(struct fx *f, const uint64_t *ends, uint64_t off,
			     uint8_t mask)
{
	char path[16], val[16];
	struct stat st;

	stop(f);
	flip_byte(f->path, off, mask);
	start(f);
	for (int i = 0; i < NCORRUPT; i++) {
		snprintf(path, sizeof(path), "/r%d", i);
		snprintf(val, sizeof(val), "value-%d", i);
		if (i < 2)
			assert_string_equal(rd(f, path), val);
		else
			assert_null(rd(f, path));
	}
	/* Cut right after batch 1 (start() then writes nothing: the
	 * initial nodes are there). */
	assert_int_equal(journal_size(f->sd.journal), ends[1]);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, ends[1]);
	/* New records follow the last good batch and replay. */
	xs_req(f->d0, XS_WRITE, 0, NULL, 2, "/after", "a");
	stop(f);
	start(f);
	assert_string_equal(rd(f, "/after"), "a");
	assert_string_equal(rd(f, "/r1"), "value-1");
	assert_null(rd(f, "/r2"));
}

static void test_corrupt_payload(void **state)
{
	struct fx *f = *state;
	uint64_t ends[NCORRUPT];

	write_batches(f, ends);
	/* 'v' -> 'w': a value that would replay as well-formed. */
	check_corrupt_at(f, ends, find_value(f, ends, 2), 0x01);
}

static void test_corrupt_length(void **state)
{
	struct fx *f = *state;
	uint64_t ends[NCORRUPT];

	write_batches(f, ends);
	/* The low byte of batch 2's first record's length: a plausible
	 * length, one byte off. */
	check_corrupt_at(f, ends, ends[1], 0x01);
}

static uint32_t read_u32(const char *path, uint64_t off)
{
	FILE *fp = fopen(path, "rb");
	uint32_t v;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, (long)off, SEEK_SET), 0);
	assert_int_equal(fread(&v, 1, 4, fp), 4);
	fclose(fp);
	return v;
}

/* The worst length: one byte changed so that batch 2's first record
 * swallows the second whole, and the next header read is a real one.
 * Framing alone does not notice; only the CRC does. */
static void test_corrupt_length_reframe(void **state)
{
	struct fx *f = *state;
	uint64_t ends[NCORRUPT];
	uint32_t l1, l2, merged;

	write_batches(f, ends);
	l1 = read_u32(f->path, ends[1]);
	l2 = read_u32(f->path, ends[1] + 8 + l1);
	merged = l1 + 8 + l2;
	/* The second record is not the commit, and only the low byte
	 * differs (the records are small). */
	assert_true(ends[1] + 8 + l1 + 8 + l2 < ends[2]);
	assert_int_equal(l1 & ~0xffu, merged & ~0xffu);
	check_corrupt_at(f, ends, ends[1], (uint8_t)((l1 ^ merged) & 0xff));
}

static void test_corrupt_type(void **state)
{
	struct fx *f = *state;
	uint64_t ends[NCORRUPT];

	write_batches(f, ends);
	/* The type byte follows the u32 length and u32 crc. */
	check_corrupt_at(f, ends, ends[1] + 8, 0x02);
}

/* Records with a good CRC but a shape the daemon never writes (found by
 * tests/fuzz/fuzz_journal.c): replay refuses the journal rather than
 * hand the request code a node it would overrun (a value over a
 * payload, children without their final NUL). */
static void put_rec(FILE *fp, uint8_t type, const void *p, size_t len)
{
	uint32_t l = (uint32_t)(len + 1);
	uint32_t crc = (uint32_t)crc32(crc32(0, &type, 1), p, (uInt)len);

	fwrite(&l, 4, 1, fp);
	fwrite(&crc, 4, 1, fp);
	fwrite(&type, 1, 1, fp);
	fwrite(p, 1, len, fp);
}

/* A NODE record: no perms, path, value of vlen bytes 'v', children. */
static void put_node(FILE *fp, const char *path, uint32_t vlen,
		     const char *children, uint32_t clen)
{
	size_t plen = strlen(path) + 1;
	uint8_t *b = calloc(1, 12 + plen + vlen + clen);
	uint32_t h[3] = { vlen, clen, 0 };

	memcpy(b, h, 12);
	memcpy(b + 12, path, plen);
	memset(b + 12 + plen, 'v', vlen);
	memcpy(b + 12 + plen + vlen, children, clen);
	put_rec(fp, 1, b, 12 + plen + vlen + clen);
	free(b);
}

/* A WATCHES record for dom5 of one watch: relative, path NUL token NUL
 * (len bytes). */
static void put_watches(FILE *fp, const char *w, size_t len, uint32_t rel)
{
	uint8_t b[64];
	uint32_t h[3] = { 5, 1, rel };

	memcpy(b, h, 12);
	memcpy(b + 12, w, len);
	put_rec(fp, 5, b, 12 + len);
}

/* Replays a crafted file beside the fixture's journal into a store of
 * its own. */
static int load_crafted(struct fx *f, int which)
{
	char path[128];
	uint32_t dom[6] = { 70000, 1, 0xffffffffu, 3, 5, 0 };
	struct journal *j;
	struct stored sd;
	FILE *fp;
	int rc;

	snprintf(path, sizeof(path), "%s/crafted.db", f->dir);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	fwrite("PVDSTORE1\n", 1, 10, fp);
	switch (which) {
	case 0: put_node(fp, "/", 0, "tool", 4); break;	/* no NUL */
	case 1: put_node(fp, "/", 0, "a\0\0", 3); break;	/* empty name */
	case 2: put_node(fp, "/", 0, "a/b", 4); break;	/* a '/' */
	case 3: put_node(fp, "rel", 0, "", 0); break;
	case 4: put_node(fp, "", 0, "", 0); break;
	case 5: put_node(fp, "/big", XENSTORE_PAYLOAD_MAX + 1, "", 0); break;
	case 6: put_node(fp, "@", 0, "", 0); break;
	case 7: put_rec(fp, 3, dom, sizeof(dom)); break;
	case 8: put_rec(fp, 2, "a/b", 4); break;
	case 9: put_watches(fp, "rel\0tok", 8, 0); break;	/* not absolute */
	case 10: put_watches(fp, "/w\0tok", 6, 0); break;	/* token's NUL */
	case 11: put_watches(fp, "/w\0tok", 7, 3); break;	/* relative > path */
	default:
		put_rec(fp, 3, (uint32_t[6]){ 5, 1, 0xffffu, 3, 5, 0 }, 24);
		put_watches(fp, "/w\0tok", 7, 2); put_node(fp, "/ok", XENSTORE_PAYLOAD_MAX, "x", 2); break;
	}
	put_rec(fp, 4, "", 0);
	fclose(fp);
	assert_int_equal(stored_init(&sd, f->base, &(struct quota)QUOTA_DEFAULTS), 0);
	assert_int_equal(journal_open(path, &j), 0);
	rc = journal_load(j, &sd.store, &sd.domains);
	journal_close(j);
	stored_destroy(&sd);
	return rc;
}

static void test_replay_refuses_malformed(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 12; i++)
		assert_int_equal(load_crafted(f, i), -EINVAL);
	/* The same shapes, well-formed, replay. */
	assert_int_equal(load_crafted(f, 12), 0);
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

/* ---- a ring connection's watches across a restart ---------------- */

static struct memconn *ring_guest(struct fx *f, bool reattached)
{
	struct memconn *g = memconn_new(&f->sd, 5, false);

	assert_non_null(g);
	g->c->keep_watches = true;
	g->c->reattached = reattached;
	return g;
}

/* The next message g got is a watch event for path with token. */
static void expect_event(struct fx *f, struct memconn *g, const char *path,
			 const char *token)
{
	struct xsd_sockmsg h;

	assert_true(memconn_next(g, &h, f->body));
	assert_int_equal(h.type, XS_WATCH_EVENT);
	assert_string_equal(f->body, path);
	assert_string_equal(f->body + strlen(path) + 1, token);
}

static unsigned nsaved(const struct domain *d)
{
	unsigned n = 0;

	for (const struct watch *w = d ? d->saved : NULL; w; w = w->next)
		n++;
	return n;
}

/* The file as a kill -9 now would leave it, then a clean stop (which
 * closes the connection), then a start from the kept copy. */
static void kill_and_restart(struct fx *f, struct memconn *g)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "cp %s %s.kill", f->path, f->path);
	assert_int_equal(system(cmd), 0);
	memconn_free(g);
	stop(f);
	snprintf(cmd, sizeof(cmd), "mv %s.kill %s", f->path, f->path);
	assert_int_equal(system(cmd), 0);
	start(f);
}

static void watches_survive(struct fx *f, int rewrites)
{
	struct memconn *g;
	struct domain *d;
	char val[1500];

	xs_req(f->d0, XS_INTRODUCE, 0, NULL, 3, "5", "99", "3");
	xs_req(f->d0, XS_MKDIR, 0, NULL, 1, "/local/domain/5");
	xs_req(f->d0, XS_SET_PERMS, 0, NULL, 2, "/local/domain/5", "n5");
	g = ring_guest(f, false);
	assert_int_equal(xs_req(g, XS_WATCH, 0, NULL, 2, "/local/domain/5", "abs"), XS_WATCH);
	assert_int_equal(xs_req(g, XS_WATCH, 0, NULL, 2, "device", "rel"), XS_WATCH);
	assert_int_equal(xs_req(g, XS_WATCH, 0, NULL, 2, "/gone", "x"), XS_WATCH);
	assert_int_equal(xs_req(g, XS_UNWATCH, 0, NULL, 2, "/gone", "x"), XS_UNWATCH);
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	for (int i = 0; i < rewrites; i++)
		xs_req(f->d0, XS_WRITE, 0, NULL, 2, "/same", val);
	kill_and_restart(f, g);
	d = f->sd.domains.d[5];
	assert_int_equal(nsaved(d), 2);
	g = ring_guest(f, true);
	assert_int_equal(watch_restore(g->c, &d->saved), 2);
	assert_null(d->saved);
	stored_flush(&f->sd);
	/* Each fires once, in the order they were set. */
	expect_event(f, g, "device", "rel");
	expect_event(f, g, "/local/domain/5", "abs");
	xs_req(f->d0, XS_WRITE, 0, NULL, 2, "/local/domain/5/device/vbd", "1");
	expect_event(f, g, "device/vbd", "rel");
	expect_event(f, g, "/local/domain/5/device/vbd", "abs");
	memconn_free(g);
}

static void test_ring_watches_survive(void **state)
{
	watches_survive(*state, 0);
}

/* Compaction rewrites the file from the live state: the watches too. */
static void test_ring_watches_survive_compaction(void **state)
{
	struct fx *f = *state;
	struct stat st;

	watches_survive(f, 3000);
	stat(f->path, &st);
	assert_true(st.st_size < 2 * 1024 * 1024);
}

/* A released domain's watches are gone, and so are those of a ring that
 * closed (broken) before the daemon stopped; a socket connection's are
 * never kept. */
static void test_ring_watches_released(void **state)
{
	struct fx *f = *state;
	struct memconn *g;

	xs_req(f->d0, XS_INTRODUCE, 0, NULL, 3, "5", "99", "3");
	g = ring_guest(f, false);
	xs_req(g, XS_WATCH, 0, NULL, 2, "/a", "t");
	xs_req(f->d0, XS_RELEASE, 0, NULL, 1, "5");
	xs_req(f->d0, XS_INTRODUCE, 0, NULL, 3, "5", "99", "3");
	kill_and_restart(f, g);
	assert_int_equal(nsaved(f->sd.domains.d[5]), 0);
	g = ring_guest(f, true);
	xs_req(g, XS_WATCH, 0, NULL, 2, "/a", "t");
	memconn_free(g);
	stop(f);
	start(f);
	assert_non_null(f->sd.domains.d[5]);
	assert_int_equal(nsaved(f->sd.domains.d[5]), 0);
	g = memconn_new(&f->sd, 5, false);	/* a guest socket */
	xs_req(g, XS_WATCH, 0, NULL, 2, "/a", "t");
	kill_and_restart(f, g);
	assert_int_equal(nsaved(f->sd.domains.d[5]), 0);
}

/* The restored list honours today's quota. */

static void test_ring_watches_quota(void **state)
{
	struct fx *f = *state;
	struct memconn *g;
	char path[32];

	xs_req(f->d0, XS_INTRODUCE, 0, NULL, 3, "5", "99", "3");
	g = ring_guest(f, false);
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "/w%d", i);
		xs_req(g, XS_WATCH, 0, NULL, 2, path, "t");
	}
	kill_and_restart(f, g);
	f->sd.quota.watches = 3;
	g = ring_guest(f, true);
	assert_int_equal(watch_restore(g->c, &f->sd.domains.d[5]->saved), 3);
	assert_int_equal(g->c->nwatches, 3);
	memconn_free(g);
}

/* A transaction of the daemon that died is answered EAGAIN on the
 * re-attached ring (the guest runs it again); elsewhere ENOENT. */
static void test_reattached_txn_eagain(void **state)
{
	struct fx *f = *state;
	struct memconn *g;

	xs_req(f->d0, XS_INTRODUCE, 0, NULL, 3, "5", "99", "3");
	g = ring_guest(f, false);
	assert_int_equal(xs_req(g, XS_READ, 7, f->body, 1, "/tool"), XS_ERROR);
	assert_string_equal(f->body, "ENOENT");
	g->c->reattached = true;
	assert_int_equal(xs_req(g, XS_READ, 7, f->body, 1, "/tool"), XS_ERROR);
	assert_string_equal(f->body, "EAGAIN");
	assert_int_equal(xs_req(g, XS_TRANSACTION_END, 7, f->body, 1, "T"), XS_ERROR);
	assert_string_equal(f->body, "EAGAIN");
	memconn_free(g);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_replay),
		T(test_torn_tail),
		T(test_one_seek),
		T(test_uncommitted_batch_dropped),
		T(test_corrupt_payload),
		T(test_corrupt_length),
		T(test_corrupt_length_reframe),
		T(test_corrupt_type),
		T(test_replay_refuses_malformed),
		T(test_compaction),
		T(test_no_reply_before_durable),
		T(test_ring_watches_survive),
		T(test_ring_watches_survive_compaction),
		T(test_ring_watches_released),
		T(test_ring_watches_quota),
		T(test_reattached_txn_eagain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
