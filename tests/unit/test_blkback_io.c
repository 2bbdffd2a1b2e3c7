/* pvd-blkback's transport with simulated guests in-process (the real sim
 * hypervisor layer, the aio engine on tmpfs files and a loop device):
 * data written and read back, every operation and feature, and the
 * guest-side misbehaviour a backend must survive, each answered with an
 * error (or a halted ring) while the other guest's disk keeps working. */
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "blkback_harness.h"
#include "../../blkback/backing.h"

/* Link seam (test_blkback_io.wrap): fallocate, the hole punch behind a
 * discard on a file, can be held until the test lets it go, as a slow
 * BLKDISCARD on a real device would be: on every file, or (hold_fd >= 0)
 * on one disk's only. */
static struct {
	int gate[2];
	int hold, entered, hold_fd;
} slow_seam = { { -1, -1 }, 0, 0, -1 };

int __real_fallocate(int fd, int mode, off_t off, off_t len);
int __wrap_fallocate(int fd, int mode, off_t off, off_t len)
{
	int only = __atomic_load_n(&slow_seam.hold_fd, __ATOMIC_ACQUIRE);

	if (__atomic_load_n(&slow_seam.hold, __ATOMIC_ACQUIRE) &&
	    (only < 0 || only == fd)) {
		struct pollfd p = { .fd = slow_seam.gate[0], .events = POLLIN };

		__atomic_store_n(&slow_seam.entered, 1, __ATOMIC_RELEASE);
		poll(&p, 1, 10000);	/* bounded: the test releases it */
	}
	return __real_fallocate(fd, mode, off, len);
}

/* open: a file whose name holds "nodirect" refuses O_DIRECT, as a file
 * system without direct I/O does (tmpfs before Linux 6.6): its disk is
 * then served buffered. */
static int swap_armed, swap_opens;

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if ((flags & O_DIRECT) && strstr(path, "nodirect")) {
		errno = EINVAL;
		return -1;
	}
	/* "swapme": PATH.new is renamed over PATH before its second
	 * buffered open (the io_uring engine's), as if replaced meanwhile. */
	if (swap_armed && !(flags & O_DIRECT) && strstr(path, "swapme") &&
	    ++swap_opens == 2) {
		char repl[256];

		snprintf(repl, sizeof(repl), "%s.new", path);
		if (rename(repl, path) < 0)
			return -1;
	}
	return __real_open(path, flags, mode);
}

/* io_uring refused (an old kernel, a sandbox) while refuse_uring is set. */
static int refuse_uring;

int __real_io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
				      struct io_uring_params *p);
int __wrap_io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
				      struct io_uring_params *p)
{
	if (refuse_uring)
		return -EPERM;
	return __real_io_uring_queue_init_params(entries, ring, p);
}

#define DISK_SIZE (16 << 20)

/* Guests 3 and 4, one queue each; guest 3's disk is the file named d3. */
static int setup_with(void **state, const char *d3)
{
	struct tfx *f = calloc(1, sizeof(*f));

	tfx_setup(f, 0);
	tguest_make(f, &f->g[0], 3, 1, 0);
	tguest_make(f, &f->g[1], 4, 1, 0);
	assert_int_equal(tguest_connect(f, &f->g[0], tfile(f, d3, DISK_SIZE),
					false, true, 0), 0);
	assert_int_equal(tguest_connect(f, &f->g[1], tfile(f, "d4", DISK_SIZE),
					false, false, 0), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, "d3");
}

/* Guest 3's disk served buffered (its file refuses O_DIRECT). */
static int setup_buffered(void **state)
{
	return setup_with(state, "d3-nodirect");
}

/* The first 4 KiB of the file at path, all c. */
static void fill_first_page(const char *path, char c)
{
	char page[4096];
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	memset(page, c, sizeof(page));
	assert_int_equal(pwrite(fd, page, sizeof(page), 0), (ssize_t)sizeof(page));
	close(fd);
}

/* Guest 3's buffered file is replaced between the libaio open and the
 * io_uring one: a page of 'A's in the first file, of 'B's in the other. */
static int setup_replaced(void **state)
{
	struct tfx *f = calloc(1, sizeof(*f));
	char path[128], repl[160];

	tfx_setup(f, 0);
	tguest_make(f, &f->g[0], 3, 1, 0);
	tguest_make(f, &f->g[1], 4, 1, 0);
	snprintf(path, sizeof(path), "%s", tfile(f, "d3-nodirect-swapme", DISK_SIZE));
	snprintf(repl, sizeof(repl), "%s", tfile(f, "d3-nodirect-swapme.new", DISK_SIZE));
	fill_first_page(path, 'A');
	fill_first_page(repl, 'B');
	swap_opens = 0;
	swap_armed = 1;
	assert_int_equal(tguest_connect(f, &f->g[0], path, false, true, 0), 0);
	swap_armed = 0;
	assert_int_equal(tguest_connect(f, &f->g[1], tfile(f, "d4", DISK_SIZE),
					false, false, 0), 0);
	assert_int_equal(swap_opens, 2);
	*state = f;
	return 0;
}

/* The same where io_uring is refused. */
static int setup_buffered_no_uring(void **state)
{
	int rc;

	refuse_uring = 1;
	rc = setup_buffered(state);
	refuse_uring = 0;
	return rc;
}

static int teardown(void **state)
{
	struct tfx *f = *state;

	tfx_teardown(f);
	free(f);
	return 0;
}

/* The other guest's disk is still served, and the backend answered
 * everything it took. */
static void assert_other_served(struct tfx *f)
{
	tround_trip(f, &f->g[1], 0, 64, 4, 77);
}

static int16_t one(struct tfx *f, blkif_request_t *r)
{
	(void)r;
	return tdo(f, &f->g[0], 0, 1);
}

/* ------------------------------------------------------------ good */

static void test_round_trip(void **state)
{
	struct tfx *f = *state;

	tround_trip(f, &f->g[0], 0, 0, 1, 1);
	tround_trip(f, &f->g[0], 0, 8, 11, 2);
	tround_trip(f, &f->g[0], 0, DISK_SIZE / 512 - 88, 11, 3);
	assert_other_served(f);
}

static void test_partial_segments(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_request_t *r;
	uint8_t *p = tpage(g, 0), *q = tpage(g, 1);

	/* Sectors 2..5 of a page written to disk sector 40. */
	memset(p, 0, HV_PAGE_SIZE);
	memset(p + 2 * 512, 0xab, 4 * 512);
	r = treq(g, 0);
	r->operation = BLKIF_OP_WRITE;
	r->id = 1;
	r->sector_number = 40;
	r->nr_segments = 1;
	r->seg[0] = (struct blkif_request_segment){ g->gref[0], 2, 5 };
	assert_int_equal(one(f, r), BLKIF_RSP_OKAY);
	/* Read 4 sectors into sectors 4..7 of another page. */
	memset(q, 0, HV_PAGE_SIZE);
	r = treq(g, 0);
	r->operation = BLKIF_OP_READ;
	r->id = 1;
	r->sector_number = 40;
	r->nr_segments = 1;
	r->seg[0] = (struct blkif_request_segment){ g->gref[1], 4, 7 };
	assert_int_equal(one(f, r), BLKIF_RSP_OKAY);
	for (unsigned i = 0; i < HV_PAGE_SIZE; i++)
		assert_int_equal(q[i], i >= 4 * 512 ? 0xab : 0);
}

static void indirect(struct tguest *g, uint8_t op, uint64_t id, uint64_t sector,
		     unsigned nseg, unsigned first)
{
	blkif_request_indirect_t *r = (void *)treq(g, 0);
	struct blkif_request_segment *s = hv_sim_page(g->dom, g->ind_page);

	for (unsigned i = 0; i < nseg; i++)
		s[i] = (struct blkif_request_segment){ g->gref[first + i], 0, 7 };
	r->operation = BLKIF_OP_INDIRECT;
	r->indirect_op = op;
	r->nr_segments = (uint16_t)nseg;
	r->id = id;
	r->sector_number = sector;
	r->indirect_grefs[0] = g->ind_ref;
}

static void test_indirect(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];

	tpattern(g, 0, 256, 9);
	indirect(g, BLKIF_OP_WRITE, 5, 2048, 256, 0);
	assert_int_equal(tdo(f, g, 0, 5), BLKIF_RSP_OKAY);
	for (unsigned i = 0; i < 20; i++)
		memset(tpage(g, 280 + i), 0, HV_PAGE_SIZE);
	/* Read back the first 20 pages with a direct request and check. */
	trw(g, 0, BLKIF_OP_READ, 6, 2048, 11, 280);
	assert_int_equal(tdo(f, g, 0, 6), BLKIF_RSP_OKAY);
	assert_true(tcheck(g, 280, 11, 9));
	assert_int_equal(g->vbd.q[0]->st.wr_sect, 2048);
}

/* Queues a discard of nr sectors from sector on queue 0 (not pushed). */
static blkif_request_discard_t *tdiscard(struct tguest *g, uint64_t id,
					 uint64_t sector, uint64_t nr)
{
	blkif_request_discard_t *d = (void *)treq(g, 0);

	d->operation = BLKIF_OP_DISCARD;
	d->id = id;
	d->sector_number = sector;
	d->nr_sectors = nr;
	return d;
}

static void test_flush_barrier_discard(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_request_t *r;

	r = treq(g, 0);
	r->operation = BLKIF_OP_FLUSH_DISKCACHE;
	r->id = 1;
	assert_int_equal(one(f, r), BLKIF_RSP_OKAY);
	r = treq(g, 0);
	r->operation = BLKIF_OP_WRITE_BARRIER;
	r->id = 1;
	assert_int_equal(one(f, r), BLKIF_RSP_OKAY);
	tpattern(g, 0, 2, 5);
	trw(g, 0, BLKIF_OP_FLUSH_DISKCACHE, 1, 800, 2, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_OKAY);
	trw(g, 0, BLKIF_OP_WRITE_BARRIER, 1, 800, 2, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_OKAY);
	tdiscard(g, 1, 800, 16);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_OKAY);
	trw(g, 0, BLKIF_OP_READ, 1, 800, 2, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_OKAY);
	for (unsigned i = 0; i < HV_PAGE_SIZE; i++)
		assert_int_equal(((uint8_t *)tpage(g, 0))[i], 0);
	assert_int_equal(g->vbd.q[0]->st.f_req, 4);
	assert_int_equal(g->vbd.q[0]->st.ds_req, 1);
}

/* A discard the storage takes long over runs in the engine's worker
 * thread: meanwhile the other guest's disk is served, and the discard is
 * answered once the storage is done. */
static void test_slow_discard_does_not_stall(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_response_t r;

	assert_true(g->vbd.disk.lim.discard);
	assert_int_equal(pipe(slow_seam.gate), 0);
	__atomic_store_n(&slow_seam.entered, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&slow_seam.hold, 1, __ATOMIC_RELEASE);
	tdiscard(g, 7, 64, 64);
	tpush(g, 0);
	for (int i = 0; i < 4000 && !__atomic_load_n(&slow_seam.entered, __ATOMIC_ACQUIRE); i++) {
		tturn(f);
		usleep(250);
	}
	assert_true(__atomic_load_n(&slow_seam.entered, __ATOMIC_ACQUIRE));
	/* The loop is free: the other disk works, this one has no answer. */
	tround_trip(f, &f->g[1], 0, 128, 2, 11);
	tturn(f);
	assert_int_equal(tavail(g, 0), 0);
	__atomic_store_n(&slow_seam.hold, 0, __ATOMIC_RELEASE);
	assert_int_equal(write(slow_seam.gate[1], "x", 1), 1);
	assert_true(twait(f, g, 0, 1));
	r = tget(g, 0);
	assert_int_equal(r.id, 7);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	close(slow_seam.gate[0]);
	close(slow_seam.gate[1]);
	slow_seam.gate[0] = slow_seam.gate[1] = -1;
}

/* A buffered file goes to io_uring, whose workers take a read or write
 * that would wait (libaio would wait inside io_submit, holding the
 * thread's other queues); the O_DIRECT disk beside it stays on libaio.
 * Reads, writes, a flush and a discard all work there. */
static void test_buffered_file_on_uring(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];

	assert_false(backing_file_of(g->vbd.disk.backing)->info.direct);
	assert_ptr_equal(g->vbd.engine, &blk_backend_uring);
	assert_ptr_equal(f->g[1].vbd.engine, &blk_backend_aio);
	tround_trip(f, g, 0, 256, 8, 5);
	trw(g, 0, BLKIF_OP_FLUSH_DISKCACHE, 7, 0, 0, 0);
	assert_int_equal(tdo(f, g, 0, 7), BLKIF_RSP_OKAY);
	tdiscard(g, 8, 1024, 64);
	assert_int_equal(tdo(f, g, 0, 8), BLKIF_RSP_OKAY);
	assert_other_served(f);
}

/* Without io_uring, a buffered file is served by libaio as before. */
static void test_buffered_file_without_uring(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];

	assert_false(backing_file_of(g->vbd.disk.backing)->info.direct);
	assert_ptr_equal(g->vbd.engine, &blk_backend_aio);
	tround_trip(f, g, 0, 256, 8, 6);
	assert_other_served(f);
}

/* The file was replaced before the io_uring open: the disk stays on the
 * file the first open found, with libaio. */
static void test_buffered_file_replaced_stays(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	const char *p;

	assert_ptr_equal(g->vbd.engine, &blk_backend_aio);
	memset(tpage(g, 40), 0, HV_PAGE_SIZE);
	trw(g, 0, BLKIF_OP_READ, 9, 0, 1, 40);
	assert_int_equal(tdo(f, g, 0, 9), BLKIF_RSP_OKAY);
	p = tpage(g, 40);
	assert_int_equal(p[0], 'A');
	assert_int_equal(p[HV_PAGE_SIZE - 1], 'A');
	assert_other_served(f);
}

/* The worker is shared by every disk of an engine, but fair: one guest
 * queueing many slow discards (held in the seam) waits behind itself
 * only; another guest's discard is answered while that backlog is still
 * held, and the backlog is answered once the storage lets it go. */
static void test_discard_backlog_is_per_guest(void **state)
{
	struct tfx *f = *state;
	struct tguest *a = &f->g[0], *b = &f->g[1];
	const unsigned na = 8;
	blkif_response_t r;
	bool b_done, a_held;

	assert_true(a->vbd.disk.lim.discard && b->vbd.disk.lim.discard);
	assert_int_equal(pipe(slow_seam.gate), 0);
	__atomic_store_n(&slow_seam.entered, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&slow_seam.hold_fd,
			 backing_file_of(a->vbd.disk.backing)->fd, __ATOMIC_RELEASE);
	__atomic_store_n(&slow_seam.hold, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < na; i++)
		tdiscard(a, 100 + i, 64 * (i + 1), 64);
	tpush(a, 0);
	for (int i = 0; i < 4000 && !__atomic_load_n(&slow_seam.entered, __ATOMIC_ACQUIRE); i++) {
		tturn(f);
		usleep(250);
	}
	assert_true(__atomic_load_n(&slow_seam.entered, __ATOMIC_ACQUIRE));
	tdiscard(b, 9, 64, 64);
	tpush(b, 0);
	b_done = twait(f, b, 0, 1);
	tturn(f);
	a_held = tavail(a, 0) == 0;
	/* Let A's backlog go before any check can fail. */
	__atomic_store_n(&slow_seam.hold, 0, __ATOMIC_RELEASE);
	assert_int_equal(write(slow_seam.gate[1], "x", 1), 1);
	assert_true(b_done);
	assert_true(a_held);
	r = tget(b, 0);
	assert_int_equal(r.id, 9);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	assert_true(twait(f, a, 0, na));
	for (unsigned i = 0; i < na; i++)
		assert_int_equal(tget(a, 0).status, BLKIF_RSP_OKAY);
	__atomic_store_n(&slow_seam.hold_fd, -1, __ATOMIC_RELEASE);
	close(slow_seam.gate[0]);
	close(slow_seam.gate[1]);
	slow_seam.gate[0] = slow_seam.gate[1] = -1;
}

/* A barrier waits for what was before it, and what comes after waits
 * for it: its answer comes after the earlier ones. */
static void test_barrier_order(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_request_t *r;
	bool seen_barrier = false;

	for (unsigned i = 0; i < 8; i++)
		trw(g, 0, BLKIF_OP_WRITE, 10 + i, i * 8, 1, i);
	r = treq(g, 0);
	r->operation = BLKIF_OP_WRITE_BARRIER;
	r->id = 99;
	trw(g, 0, BLKIF_OP_WRITE, 100, 512, 1, 9);
	tpush(g, 0);
	assert_true(twait(f, g, 0, 10));
	for (unsigned i = 0; i < 10; i++) {
		blkif_response_t rsp = tget(g, 0);

		assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
		if (rsp.id == 99)
			seen_barrier = true;
		else if (rsp.id < 99)
			assert_false(seen_barrier);
		else
			assert_true(seen_barrier);
	}
}

/* Response ids whose bytes 1 and 4-7 are 0xAA: in the ring's slot they lie
 * where the response's padding goes (bytes 9 and 12-15), so a response
 * that did not zero its padding would show 0xAA there. */
#define DIRTY_ID(i) (0xaaaaaaaa0000aa00ull | (uint64_t)(i))

/* Every byte of every response is defined (XSA-216), whatever the slot
 * held: each kind of answer (data, flush, discard, error, unsupported)
 * compared whole with the bytes it must be. */
static void test_response_padding(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_front_ring_t *fr = &g->q[0].ring;
	static const struct { uint8_t op; int16_t st; } want[] = {
		{ BLKIF_OP_READ, BLKIF_RSP_OKAY },
		{ BLKIF_OP_WRITE, BLKIF_RSP_OKAY },
		{ BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY },
		{ BLKIF_OP_DISCARD, BLKIF_RSP_OKAY },
		{ BLKIF_OP_READ, BLKIF_RSP_ERROR },          /* past the end */
		{ BLKIF_OP_RESERVED_1, BLKIF_RSP_EOPNOTSUPP },
	};
	enum { N = sizeof(want) / sizeof(want[0]) };
	RING_IDX first = fr->req_prod_pvt;
	blkif_request_t *r;

	trw(g, 0, BLKIF_OP_READ, DIRTY_ID(0), 0, 1, 0);
	trw(g, 0, BLKIF_OP_WRITE, DIRTY_ID(1), 8, 1, 1);
	r = treq(g, 0);
	r->operation = BLKIF_OP_FLUSH_DISKCACHE;
	r->id = DIRTY_ID(2);
	tdiscard(g, DIRTY_ID(3), 64, 8);
	trw(g, 0, BLKIF_OP_READ, DIRTY_ID(4), DISK_SIZE / 512, 1, 2);
	r = treq(g, 0);
	r->operation = BLKIF_OP_RESERVED_1;
	r->id = DIRTY_ID(5);
	for (unsigned i = 0; i < N; i++) {
		const uint8_t *raw = (const void *)RING_GET_REQUEST(fr, first + i);

		assert_int_equal(raw[9], 0xaa);
		for (unsigned k = 12; k < 16; k++)
			assert_int_equal(raw[k], 0xaa);
	}
	tpush(g, 0);
	assert_true(twait(f, g, 0, N));
	for (unsigned k = 0; k < N; k++) {
		const uint8_t *raw = (const void *)RING_GET_RESPONSE(fr, fr->rsp_cons + k);
		uint8_t exp[sizeof(blkif_response_t)];
		uint64_t id;
		unsigned i;

		memcpy(&id, raw + offsetof(blkif_response_t, id), sizeof(id));
		i = (unsigned)(id & 0xff);
		assert_true(i < N);
		assert_true(id == DIRTY_ID(i));
		memset(exp, 0, sizeof(exp));
		memcpy(exp + offsetof(blkif_response_t, id), &id, sizeof(id));
		exp[offsetof(blkif_response_t, operation)] = want[i].op;
		memcpy(exp + offsetof(blkif_response_t, status), &want[i].st,
		       sizeof(want[i].st));
		assert_memory_equal(raw, exp, sizeof(exp));
	}
	fr->rsp_cons += N;
	assert_other_served(f);
}

static void test_read_only_disk(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];

	tguest_free(f, g);
	tguest_make(f, g, 3, 1, 0);
	assert_int_equal(tguest_connect(f, g, tfile(f, "ro", DISK_SIZE), true,
					true, 0), 0);
	trw(g, 0, BLKIF_OP_READ, 1, 0, 2, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_OKAY);
	trw(g, 0, BLKIF_OP_WRITE, 1, 0, 2, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	indirect(g, BLKIF_OP_WRITE, 1, 0, 20, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	tdiscard(g, 1, 0, 8);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_EOPNOTSUPP);
	assert_other_served(f);
}

static void test_multi_page_multi_queue(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];

	tguest_free(f, g);
	tguest_make(f, g, 3, 3, 2);
	assert_int_equal(tguest_connect(f, g, tfile(f, "mq", DISK_SIZE), false,
					true, 0), 0);
	assert_int_equal(g->vbd.nqueues, 3);
	assert_int_equal(g->vbd.q[0]->nslots, 128);
	for (unsigned qi = 0; qi < 3; qi++)
		tround_trip(f, g, qi, qi * 1000, 3, qi + 1);
	/* A full ring's worth at once on queue 1. */
	for (unsigned i = 0; i < 128; i++)
		trw(g, 1, BLKIF_OP_READ, i, i * 8, 1, i % 64);
	tpush(g, 1);
	assert_true(twait(f, g, 1, 128));
	for (unsigned i = 0; i < 128; i++)
		assert_int_equal(tget(g, 1).status, BLKIF_RSP_OKAY);
	assert_int_equal(g->vbd.q[1]->st.rd_req, 129);
}

static void test_persistent_limit(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	struct blk_qstats *st;

	tguest_free(f, g);
	tguest_make(f, g, 3, 1, 0);
	assert_int_equal(tguest_connect(f, g, tfile(f, "pg", DISK_SIZE), false,
					true, 4), 0);
	for (unsigned i = 0; i < 5; i++)
		tround_trip(f, g, 0, i * 64, 8, i + 1);
	st = &g->vbd.q[0]->st;
	assert_int_equal(st->pgnt_mapped, 4);
	assert_true(st->pgnt_hits > 0);
	assert_true(st->pgnt_full > 0);
}

/* The io_uring engine: the same requests, the same answers. */
static void test_uring_engine(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_request_t *r;

	tguest_free(f, g);
	tguest_make(f, g, 3, 1, 0);
	assert_int_equal(tguest_connect_with(f, g, &blk_backend_uring,
					     tfile(f, "ur", DISK_SIZE), false,
					     true, 0), 0);
	assert_string_equal(g->vbd.disk.ops->name, "uring");
	tround_trip(f, g, 0, 0, 1, 31);
	tround_trip(f, g, 0, 88, 11, 32);
	tpattern(g, 0, 256, 33);
	indirect(g, BLKIF_OP_WRITE, 5, 4096, 256, 0);
	assert_int_equal(tdo(f, g, 0, 5), BLKIF_RSP_OKAY);
	trw(g, 0, BLKIF_OP_READ, 6, 4096, 11, 280);
	assert_int_equal(tdo(f, g, 0, 6), BLKIF_RSP_OKAY);
	assert_true(tcheck(g, 280, 11, 33));
	r = treq(g, 0);
	r->operation = BLKIF_OP_FLUSH_DISKCACHE;
	r->id = 1;
	assert_int_equal(one(f, r), BLKIF_RSP_OKAY);
	trw(g, 0, BLKIF_OP_WRITE_BARRIER, 1, 800, 2, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_OKAY);
	tdiscard(g, 1, 800, 16);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_OKAY);
	trw(g, 0, BLKIF_OP_READ, 1, 800, 2, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_OKAY);
	for (unsigned i = 0; i < HV_PAGE_SIZE; i++)
		assert_int_equal(((uint8_t *)tpage(g, 0))[i], 0);
	/* A full ring at once. */
	for (unsigned i = 0; i < 32; i++)
		trw(g, 0, BLKIF_OP_WRITE, i, i * 8, 1, i);
	tpush(g, 0);
	assert_true(twait(f, g, 0, 32));
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(tget(g, 0).status, BLKIF_RSP_OKAY);
	assert_other_served(f);
}

/* A storage engine that holds every request until the test lets it go:
 * I/O in flight for as long as a test needs. */
struct hold_eng {
	struct blk_engine base;
	struct blk_io *held[512];
	unsigned n;
	bool release;
	unsigned keep;                 /* released down to this many */
};

static struct hold_eng *hold_of(struct blk_engine *e)
{
	return (struct hold_eng *)(void *)e;
}

static int hold_create(unsigned depth, struct blk_engine **out);
static void hold_destroy(struct blk_engine *e) { free(e); }
static int hold_fd(struct blk_engine *e) { return -1; }
static void hold_ack(struct blk_engine *e) { }
static void hold_commit(struct blk_engine *e) { }

static unsigned hold_reap(struct blk_engine *e, unsigned max)
{
	struct hold_eng *h = hold_of(e);
	unsigned n = 0;

	while (h->release && h->n > h->keep && n < max) {
		struct blk_io *io = h->held[--h->n];

		io->done(io, 0);
		n++;
	}
	return n;
}

static bool hold_ready(struct blk_engine *e)
{
	return hold_of(e)->release && hold_of(e)->n > hold_of(e)->keep;
}

static int hold_open(struct blk_engine *e, const char *path, bool ro,
		     struct blk_backing **out, struct blk_backing_info *info)
{
	struct blk_backing *s = calloc(1, sizeof(*s));

	s->engine = e;
	memset(info, 0, sizeof(*info));
	info->size = DISK_SIZE;
	info->lbs = 512;
	info->pbs = 4096;
	*out = s;
	return 0;
}

static void hold_close(struct blk_backing *s) { free(s); }

static int hold_submit(struct blk_backing *s, struct blk_io *io)
{
	struct hold_eng *h = hold_of(s->engine);

	assert_true(h->n < 512);
	h->held[h->n++] = io;
	return 0;
}

static int hold_size(struct blk_backing *s, uint64_t *b)
{
	*b = DISK_SIZE;
	return 0;
}

static const struct blk_backend_ops hold_ops = {
	.name = "hold", .engine_create = hold_create,
	.engine_destroy = hold_destroy, .engine_fd = hold_fd, .ack = hold_ack,
	.commit = hold_commit, .reap = hold_reap, .ready = hold_ready,
	.open = hold_open, .close = hold_close, .submit_rw = hold_submit,
	.flush = hold_submit, .discard = hold_submit, .size = hold_size,
};

static int hold_create(unsigned depth, struct blk_engine **out)
{
	struct hold_eng *h = calloc(1, sizeof(*h));

	h->base.ops = &hold_ops;
	*out = &h->base;
	return 0;
}

/* Guest 0 made anew, its disk on the hold engine, connected with c (its
 * ring's refs and port filled in), n writes (ids 0..n-1) taken and held. */
static struct blk_engine *hold_connect(struct tfx *f, struct blk_vbd_conn *c,
				       unsigned n)
{
	struct blk_vbd_cfg cfg = { .max_indirect = 0, .max_pgrants = 16 };
	struct tguest *g = &f->g[0];
	struct blk_engine *e;

	tguest_free(f, g);
	tguest_make(f, g, 3, 1, 0);
	assert_int_equal(blk_vbd_open(&g->vbd, &f->loop, 3, &hold_ops, "hold",
				      false, &cfg, tvbd_cb, g), 0);
	memcpy(c->q[0].refs, g->q[0].refs, sizeof(c->q[0].refs));
	c->q[0].port = g->q[0].port;
	assert_int_equal(blk_vbd_connect(&g->vbd, c), 0);
	assert_int_equal(blk_loop_engine(&f->loop, &hold_ops, &e), 0);
	for (unsigned i = 0; i < n; i++)
		trw(g, 0, BLKIF_OP_WRITE, i, i * 8, 1, i);
	tpush(g, 0);
	tturn(f);
	assert_int_equal(g->vbd.q[0]->inflight, n);
	return e;
}

/* Disconnecting with I/O in flight waits for it: the ring stays mapped
 * and nothing is reconnected until the last request completed (what a
 * frontend flipping Connected/Closing must not break: XSA-350). */
static void test_disconnect_in_flight(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	struct blk_vbd_conn c = { .nqueues = 1, .nr_pages = 1, .persistent = false };
	struct blk_engine *e = hold_connect(f, &c, 16);

	assert_int_equal(blk_vbd_disconnect(&g->vbd), -EBUSY);
	assert_true(blk_vbd_busy(&g->vbd));
	/* No second set of rings while the first drains. */
	assert_int_equal(blk_vbd_connect(&g->vbd, &c), -EBUSY);
	tturn(f);
	assert_int_equal(g->drained, 0);
	/* The guest cannot take its pages back while they are in use. */
	assert_int_equal(hv_sim_end_access(g->dom, g->gref[0]), -EBUSY);
	hold_of(e)->release = true;
	tturn(f);
	assert_int_equal(g->drained, 1);
	assert_false(blk_vbd_busy(&g->vbd));
	assert_int_equal(tavail(g, 0), 16);
	assert_int_equal(hv_sim_end_access(g->dom, g->gref[0]), 0);
	/* And it can connect again (a new port, as a frontend would). */
	assert_int_equal(hv_sim_evtchn_alloc_unbound(g->dom, 0, &g->q[0].port), 0);
	c.q[0].port = g->q[0].port;
	assert_int_equal(blk_vbd_connect(&g->vbd, &c), 0);
	trw(g, 0, BLKIF_OP_READ, 1, 0, 1, 1);
	tpush(g, 0);
	assert_true(twait(f, g, 0, 17));
	assert_other_served(f);
}

static void file_copy(const char *path, void *buf, size_t len, bool out)
{
	FILE *fp = fopen(path, out ? "r+" : "r");

	assert_non_null(fp);
	if (out)
		assert_int_equal(fwrite(buf, 1, len, fp), len);
	else
		assert_int_equal(fread(buf, 1, len, fp), len);
	fclose(fp);
}

/* A daemon killed with responses written into the ring but not published,
 * after they overwrote the slots of requests still in flight: the next
 * daemon (re-attaching, with the queue's journal, journal.h) publishes
 * the responses and takes the overwritten requests again from their
 * copies; the guest gets every id once, and nothing made of a response
 * read as a request.  Without the journal it got ids 3, 2, then whatever
 * the old responses decoded to, and 2 and 3 again. */
static void test_kill_before_push_journal(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	struct blk_vbd_cfg cfg = { .max_indirect = 0, .max_pgrants = 16 };
	struct blk_vbd_conn c = { .nqueues = 1, .nr_pages = 1,
				  .journal_dir = f->dir, .devid = 5 };
	static unsigned char ring[HV_PAGE_SIZE], jbuf[1 << 17];
	struct blk_engine *e = hold_connect(f, &c, 4);
	blkif_sring_t *s = g->q[0].ring.sring;
	char jpath[128];
	struct stat st;
	unsigned seen = 0;

	/* The engine answers its last first: ids 3 and 2, into ring slots 0
	 * and 1, where requests 0 and 1 were. */
	hold_of(e)->keep = 2;
	hold_of(e)->release = true;
	tturn(f);
	assert_int_equal(g->vbd.q[0]->inflight, 2);
	assert_int_equal(s->rsp_prod, 2);
	/* Killed before the push: the ring and the journal as they were. */
	s->rsp_prod = 0;
	assert_int_equal(pvd_journal_path(jpath, sizeof(jpath), f->dir, 3,
					      5, 0), 0);
	assert_int_equal(stat(jpath, &st), 0);
	assert_true((size_t)st.st_size <= sizeof(jbuf));
	memcpy(ring, s, sizeof(ring));
	file_copy(jpath, jbuf, (size_t)st.st_size, false);
	/* What the old daemon does after that point is not done: its end
	 * here (the requests drained, the disk closed) is undone. */
	hold_of(e)->keep = 0;
	assert_int_equal(blk_vbd_disconnect(&g->vbd), -EBUSY);
	for (int i = 0; i < 5000 && blk_vbd_busy(&g->vbd); i++)
		tturn(f);
	assert_false(blk_vbd_busy(&g->vbd));
	blk_vbd_close(&g->vbd);
	memcpy(s, ring, sizeof(ring));
	file_copy(jpath, jbuf, (size_t)st.st_size, true);
	/* The next daemon: the same ring, re-attached (the sim's port is
	 * closed with the old binding: a new one, as in
	 * test_disconnect_in_flight). */
	assert_int_equal(hv_sim_evtchn_alloc_unbound(g->dom, 0, &g->q[0].port), 0);
	c.q[0].port = g->q[0].port;
	c.reattach = true;
	assert_int_equal(blk_vbd_open(&g->vbd, &f->loop, 3, &hold_ops, "hold",
				      false, &cfg, tvbd_cb, g), 0);
	assert_int_equal(blk_vbd_connect(&g->vbd, &c), 0);
	assert_true(twait(f, g, 0, 4));
	for (unsigned i = 0; i < 4; i++) {
		blkif_response_t r = tget(g, 0);

		assert_true(r.id < 4);
		assert_false(seen & (1u << r.id));
		seen |= 1u << r.id;
		assert_int_equal(r.operation, BLKIF_OP_WRITE);
		assert_int_equal(r.status, BLKIF_RSP_OKAY);
	}
	for (int i = 0; i < 20; i++)
		tturn(f);
	assert_int_equal(tavail(g, 0), 0);
	assert_int_equal(g->vbd.q[0]->inflight, 0);
	/* And it serves on. */
	trw(g, 0, BLKIF_OP_READ, 9, 0, 1, 0);
	assert_int_equal(tdo(f, g, 0, 9), BLKIF_RSP_OKAY);
	assert_other_served(f);
}

/* A loop device (skipped without one); detached by the teardown. */
static char loopdev[64];

static int teardown_loop(void **state)
{
	char cmd[128];
	int rc = teardown(state);

	if (loopdev[0]) {
		snprintf(cmd, sizeof(cmd), "losetup -d %s", loopdev);
		if (system(cmd) != 0)
			rc = -1;
		loopdev[0] = '\0';
	}
	return rc;
}

static void test_loop_device(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	char cmd[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "losetup -f --show %s 2>/dev/null",
		 tfile(f, "loop", DISK_SIZE));
	p = popen(cmd, "r");
	if (p && (!fgets(loopdev, sizeof(loopdev), p) ||
		  strncmp(loopdev, "/dev/loop", 9)))
		loopdev[0] = '\0';
	if (p)
		pclose(p);
	loopdev[strcspn(loopdev, "\n")] = '\0';
	if (!loopdev[0])
		skip();
	tguest_free(f, g);
	tguest_make(f, g, 3, 1, 0);
	assert_int_equal(tguest_connect(f, g, loopdev, false, true, 0), 0);
	assert_true(g->vbd.info.blockdev);
	assert_int_equal(g->vbd.disk.lim.sectors, DISK_SIZE / 512);
	tround_trip(f, g, 0, 0, 11, 21);
	tround_trip(f, g, 0, DISK_SIZE / 512 - 8, 1, 22);
	if (g->vbd.disk.lim.discard) {
		tdiscard(g, 1, 0, 64);
		assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_OKAY);
	}
	trw(g, 0, BLKIF_OP_READ, 1, DISK_SIZE / 512, 1, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	/* Closed before the teardown detaches the device. */
	tguest_free(f, g);
}

/* ------------------------------------------------------------ hostile */

static void test_bad_segment_counts(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_request_t *r;

	trw(g, 0, BLKIF_OP_READ, 1, 0, 0, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	trw(g, 0, BLKIF_OP_WRITE, 1, 0, 0, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	r = treq(g, 0);
	r->operation = BLKIF_OP_READ;
	r->id = 1;
	r->nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST + 1;
	assert_int_equal(one(f, r), BLKIF_RSP_ERROR);
	r = treq(g, 0);
	r->operation = BLKIF_OP_READ;
	r->id = 1;
	r->nr_segments = 255;
	assert_int_equal(one(f, r), BLKIF_RSP_ERROR);
	assert_int_equal(g->vbd.q[0]->st.err_bad_req, 4);
	assert_other_served(f);
}

static void test_bad_sectors_in_page(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_request_t *r;

	trw(g, 0, BLKIF_OP_READ, 1, 0, 2, 0);
	r = RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->seg[1].first_sect = 5;
	r->seg[1].last_sect = 4;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	trw(g, 0, BLKIF_OP_WRITE, 1, 0, 1, 0);
	r = RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->seg[0].last_sect = 8;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	trw(g, 0, BLKIF_OP_WRITE, 1, 0, 1, 0);
	r = RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->seg[0].first_sect = 255;
	r->seg[0].last_sect = 255;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	assert_other_served(f);
}

static void test_range_past_end(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_request_discard_t *d;

	trw(g, 0, BLKIF_OP_READ, 1, DISK_SIZE / 512, 1, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	trw(g, 0, BLKIF_OP_WRITE, 1, DISK_SIZE / 512 - 7, 1, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	/* sector + count wraps around 2^64 */
	trw(g, 0, BLKIF_OP_READ, 1, UINT64_MAX - 3, 1, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	trw(g, 0, BLKIF_OP_FLUSH_DISKCACHE, 1, UINT64_MAX, 1, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	tdiscard(g, 1, 8, UINT64_MAX - 4);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	d = tdiscard(g, 1, 0, 8);
	d->flag = BLKIF_DISCARD_SECURE;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_EOPNOTSUPP);
	assert_other_served(f);
}

static void test_bad_grants(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	grant_ref_t ro, foreign, revoked;
	blkif_request_t *r;
	unsigned long p;

	/* Beyond the grant table, and never granted. */
	trw(g, 0, BLKIF_OP_READ, 1, 0, 1, 0);
	r = RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->seg[0].gref = HV_SIM_NR_GRANTS + 5;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	trw(g, 0, BLKIF_OP_WRITE, 1, 0, 1, 0);
	r = RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->seg[0].gref = 5000;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	/* Read-only: good for a write, not for a read. */
	assert_int_equal(hv_sim_page_alloc(g->dom, &p), 0);
	ro = tgrant(g, p, 1);
	trw(g, 0, BLKIF_OP_WRITE, 1, 0, 1, 0);
	r = RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->seg[0].gref = ro;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_OKAY);
	trw(g, 0, BLKIF_OP_READ, 1, 0, 1, 0);
	r = RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->seg[0].gref = ro;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	/* Granted to another domain. */
	foreign = g->next_ref++;
	assert_int_equal(hv_sim_grant(g->dom, foreign, p, 9, 0), 0);
	trw(g, 0, BLKIF_OP_WRITE, 1, 0, 1, 0);
	r = RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->seg[0].gref = foreign;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	/* Revoked: the guest ended access (not persistently mapped yet). */
	revoked = tgrant(g, p, 0);
	assert_int_equal(hv_sim_end_access(g->dom, revoked), 0);
	trw(g, 0, BLKIF_OP_WRITE, 1, 0, 2, 0);
	r = RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->seg[1].gref = revoked;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	/* The guest wrote the entry's flags to garbage. */
	hv_sim_grant_entry(g->dom, revoked)->flags = 0xffff;
	trw(g, 0, BLKIF_OP_WRITE, 1, 0, 1, 0);
	r = RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->seg[0].gref = revoked;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	assert_true(g->vbd.q[0]->st.err_grant >= 5);
	/* Nothing of the failed requests stays mapped: the grants can be
	 * ended. */
	assert_int_equal(hv_sim_end_access(g->dom, ro), -EBUSY);  /* persistent */
	assert_other_served(f);
}

static void test_bad_indirect(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_request_indirect_t *r;
	struct blkif_request_segment *s = hv_sim_page(g->dom, g->ind_page);

	indirect(g, BLKIF_OP_READ, 1, 0, 0, 0);           /* no segments */
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	indirect(g, BLKIF_OP_READ, 1, 0, 200, 0);
	r = (void *)RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->nr_segments = BLK_MAX_INDIRECT_SEGS + 1;        /* above the limit */
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	r = (void *)treq(g, 0);
	r->operation = BLKIF_OP_INDIRECT;
	r->indirect_op = BLKIF_OP_DISCARD;                 /* not read/write */
	r->nr_segments = 1;
	r->id = 1;
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	indirect(g, BLKIF_OP_READ, 1, 0, 20, 0);
	r = (void *)RING_GET_REQUEST(&g->q[0].ring, g->q[0].ring.req_prod_pvt - 1);
	r->indirect_grefs[0] = 9999;                       /* bad page */
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	indirect(g, BLKIF_OP_READ, 1, 0, 20, 0);
	s[13].last_sect = 9;                               /* bad segment */
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR);
	indirect(g, BLKIF_OP_WRITE, 1, DISK_SIZE / 512 - 8, 20, 0);
	assert_int_equal(tdo(f, g, 0, 1), BLKIF_RSP_ERROR); /* past the end */
	assert_other_served(f);
}

static void test_unknown_operations(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	uint8_t ops[] = { BLKIF_OP_RESERVED_1, 7, 77, 255 };

	for (size_t i = 0; i < sizeof(ops); i++) {
		blkif_request_t *r = treq(g, 0);

		r->operation = ops[i];
		r->id = 1;
		r->nr_segments = 3;
		assert_int_equal(one(f, r), BLKIF_RSP_EOPNOTSUPP);
	}
	assert_int_equal(g->vbd.q[0]->st.eopnotsupp, 4);
	assert_other_served(f);
}

static void test_id_reused_in_flight(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_response_t a, b;

	trw(g, 0, BLKIF_OP_WRITE, 42, 0, 4, 0);
	trw(g, 0, BLKIF_OP_WRITE, 42, 64, 4, 0);
	tpush(g, 0);
	assert_true(twait(f, g, 0, 2));
	a = tget(g, 0);
	b = tget(g, 0);
	assert_int_equal(a.id, 42);
	assert_int_equal(b.id, 42);
	/* One of them ran, the other was refused. */
	assert_int_equal(a.status + b.status, BLKIF_RSP_ERROR);
	assert_int_equal(g->vbd.q[0]->st.err_dup_id, 1);
	/* Once answered, the id is free again. */
	trw(g, 0, BLKIF_OP_READ, 42, 0, 1, 0);
	assert_int_equal(tdo(f, g, 0, 42), BLKIF_RSP_OKAY);
	assert_other_served(f);
}

/* req_prod more than a ring ahead: the ring is halted, the device
 * reported, nothing answered for the bogus requests. */
static void test_prod_overflow(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_sring_t *s = g->q[0].ring.sring;

	s->req_prod = s->rsp_prod + RING_SIZE(&g->q[0].ring) + 1;
	hv_sim_evtchn_notify(g->dom, g->q[0].port);
	tturn(f);
	assert_int_equal(g->fatal, 1);
	assert_true(g->vbd.q[0]->halted);
	assert_int_equal(tavail(g, 0), 0);
	assert_int_equal(g->vbd.q[0]->inflight, 0);
	/* Wrapped around: the same. */
	s->req_prod = s->rsp_prod - 1;
	hv_sim_evtchn_notify(g->dom, g->q[0].port);
	tturn(f);
	assert_int_equal(tavail(g, 0), 0);
	assert_other_served(f);
}

/* Inconsistent indices at connection time: refused. */
static void test_connect_bad_indices(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_sring_t *s;

	tguest_free(f, g);
	tguest_make(f, g, 3, 1, 0);
	s = g->q[0].ring.sring;
	s->req_prod = 1000;
	s->rsp_prod = 3;
	assert_int_equal(tguest_connect(f, g, tfile(f, "bi", DISK_SIZE), false,
					true, 0), -EIO);
	assert_int_equal(g->vbd.nqueues, 0);
	assert_other_served(f);
}

/* A daemon killed after pushing a response but before its event left
 * the guest asleep on it (its rsp_event is passed already): the next
 * connection to the ring (the restarted daemon) sends one event. */
static void test_reattach_wakes_guest(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_sring_t *s;
	evtchn_port_t p;
	bool seen = false;

	tguest_free(f, g);
	tguest_make(f, g, 3, 1, 0);
	s = g->q[0].ring.sring;
	trw(g, 0, BLKIF_OP_READ, 7, 0, 1, 0);
	g->q[0].ring.sring->req_prod = g->q[0].ring.req_prod_pvt;
	RING_GET_RESPONSE(&g->q[0].ring, 0)->id = 7;
	RING_GET_RESPONSE(&g->q[0].ring, 0)->status = BLKIF_RSP_OKAY;
	s->rsp_prod = 1;
	while (hv_sim_evtchn_pending(g->dom, &p) == 0)
		hv_sim_evtchn_unmask(g->dom, p);
	assert_int_equal(tguest_connect(f, g, tfile(f, "rw", DISK_SIZE), false,
					true, 0), 0);
	for (int i = 0; i < 2000 && !seen; i++) {
		tturn(f);
		while (hv_sim_evtchn_pending(g->dom, &p) == 0) {
			seen |= p == g->q[0].port;
			hv_sim_evtchn_unmask(g->dom, p);
		}
		usleep(1000);
	}
	assert_true(seen);
	assert_int_equal(tget(g, 0).id, 7);
	assert_other_served(f);
}

/* A guest that never reads its responses (rsp_cons and rsp_event stay
 * put) and keeps producing: answered, bounded, never waited for. */
static void test_responses_never_consumed(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	blkif_front_ring_t *fr = &g->q[0].ring;
	unsigned size = RING_SIZE(fr);

	for (unsigned round = 0; round < 40; round++) {
		RING_IDX rsp = fr->sring->rsp_prod;

		for (unsigned i = 0; i < size; i++) {
			blkif_request_t *r = RING_GET_REQUEST(fr, rsp + i);

			memset(r, 0, sizeof(*r));
			r->operation = BLKIF_OP_READ;
			r->id = i;
			r->sector_number = i * 8;
			r->nr_segments = 1;
			r->seg[0] = (struct blkif_request_segment){ g->gref[i], 0, 7 };
		}
		fr->req_prod_pvt = rsp + size;
		RING_PUSH_REQUESTS(fr);
		hv_sim_evtchn_notify(g->dom, g->q[0].port);
		for (int i = 0; i < 4000 && fr->sring->rsp_prod != rsp + size; i++) {
			tturn(f);
			usleep(250);
		}
		assert_int_equal(fr->sring->rsp_prod, rsp + size);
	}
	assert_int_equal(g->vbd.q[0]->st.rd_req, 40 * size);
	assert_true(g->vbd.q[0]->st.inflight_max <= size);
	assert_int_equal(g->fatal, 0);
	assert_other_served(f);
}

/* Ring fields changed by the guest while the backend reads them: another
 * thread scribbles over the request slots (and the producer index, within
 * and beyond its limits) while the backend serves the ring. */
struct scribble {
	struct tguest *g;
	volatile int stop;
};

static void *scribbler(void *arg)
{
	struct scribble *sc = arg;
	blkif_front_ring_t *fr = &sc->g->q[0].ring;
	uint64_t x = 88172645463325252ull;

	while (!sc->stop) {
		unsigned i;
		uint8_t *b;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		i = (unsigned)x % RING_SIZE(fr);
		b = (uint8_t *)&fr->sring->ring[i].req;
		b[(x >> 8) % sizeof(blkif_request_t)] = (uint8_t)(x >> 16);
		if ((x & 0xf) == 0) {
			/* Forward, never beyond a ring's worth. */
			RING_IDX rp = fr->sring->req_prod;
			RING_IDX lim = fr->sring->rsp_prod + RING_SIZE(fr);

			if ((int)(lim - rp) > 0)
				fr->sring->req_prod = rp + 1 +
					(unsigned)(x >> 32) % (lim - rp);
		}
	}
	return NULL;
}

static void test_guest_changes_ring_while_read(void **state)
{
	struct tfx *f = *state;
	struct tguest *g = &f->g[0];
	struct scribble sc = { .g = g };
	blkif_front_ring_t *fr = &g->q[0].ring;
	pthread_t th;

	/* Valid-looking requests to start from. */
	for (unsigned i = 0; i < RING_SIZE(fr); i++) {
		blkif_request_t *r = &fr->sring->ring[i].req;

		r->operation = (uint8_t)(i % 2);
		r->nr_segments = (uint8_t)(1 + i % 11);
		r->id = i;
		r->sector_number = i * 64;
		for (unsigned k = 0; k < BLKIF_MAX_SEGMENTS_PER_REQUEST; k++)
			r->seg[k] = (struct blkif_request_segment){ g->gref[k], 0, 7 };
	}
	assert_int_equal(pthread_create(&th, NULL, scribbler, &sc), 0);
	for (int i = 0; i < 3000; i++) {
		/* A ring's worth each time, never more. */
		fr->sring->req_prod = fr->sring->rsp_prod + RING_SIZE(fr);
		hv_sim_evtchn_notify(g->dom, g->q[0].port);
		tturn(f);
		if (g->vbd.q[0]->halted)
			break;
	}
	sc.stop = 1;
	pthread_join(th, NULL);
	/* Whatever it took is answered; nothing is left in flight. */
	for (int i = 0; i < 4000 && g->vbd.q[0]->inflight; i++) {
		tturn(f);
		usleep(250);
	}
	assert_int_equal(g->vbd.q[0]->inflight, 0);
	assert_true(g->vbd.q[0]->st.rd_req + g->vbd.q[0]->st.wr_req > 0);
	assert_other_served(f);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_partial_segments),
		T(test_indirect),
		T(test_flush_barrier_discard),
		T(test_slow_discard_does_not_stall),
		cmocka_unit_test_setup_teardown(test_buffered_file_on_uring,
						setup_buffered, teardown),
		cmocka_unit_test_setup_teardown(test_buffered_file_without_uring,
						setup_buffered_no_uring, teardown),
		cmocka_unit_test_setup_teardown(test_buffered_file_replaced_stays,
						setup_replaced, teardown),
		T(test_discard_backlog_is_per_guest),
		T(test_barrier_order),
		T(test_response_padding),
		T(test_read_only_disk),
		T(test_multi_page_multi_queue),
		T(test_persistent_limit),
		T(test_uring_engine),
		T(test_disconnect_in_flight),
		T(test_kill_before_push_journal),
		cmocka_unit_test_setup_teardown(test_loop_device, setup, teardown_loop),
		T(test_bad_segment_counts),
		T(test_bad_sectors_in_page),
		T(test_range_past_end),
		T(test_bad_grants),
		T(test_bad_indirect),
		T(test_unknown_operations),
		T(test_id_reused_in_flight),
		T(test_prod_overflow),
		T(test_connect_bad_indices),
		T(test_reattach_wakes_guest),
		T(test_responses_never_consumed),
		T(test_guest_changes_ring_while_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
