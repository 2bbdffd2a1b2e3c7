/* One disk's queues over pvd-blkback's I/O threads (blkback/spread.c), on
 * the simulated hypervisor with real threads and a real file: the queues
 * land on different threads, a write through one queue is read back
 * through another, a path that names another file by then keeps every
 * queue home (and its data in the file opened first), one thread keeps
 * everything home, a resize reaches every part, and counters survive a
 * reconnect and the close. */
#include "blkback_harness.h"
#include "../../blkback/pool.h"
#include "../../blkback/spread.h"
#include "../../blkback/eng_util.h"

struct sfx {
	struct tfx t;
	struct blk_pool pool;
	struct blk_spread s;
	struct tguest *g;
	char path[128];
};

static void scb(struct blk_vbd *v, int event, void *arg)
{
	(void)v;
	(void)event;
	(void)arg;
}

static void pool_start(struct sfx *f, unsigned threads)
{
	struct hv_config hc = { .impl = "sim" };
	struct blk_pool_cfg cfg = {
		.threads = threads, .hv = &hc, .spin_ns = 0, .depth = 64, .batch = 8,
	};

	assert_int_equal(blk_pool_start(&f->pool, f->t.base, &cfg), 0);
}

static int setup(void **state)
{
	struct sfx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tfx_setup(&f->t, 0);
	f->g = &f->t.g[0];
	tguest_make(&f->t, f->g, 5, 3, 0);
	snprintf(f->path, sizeof(f->path), "%s", tfile(&f->t, "disk.img", 8 << 20));
	*state = f;
	return 0;
}

static void spread_drain(struct sfx *f)
{
	for (int i = 0; i < 5000 && blk_spread_disconnect(&f->s) == -EBUSY; i++)
		usleep(1000);
	assert_false(blk_spread_busy(&f->s));
}

static void spread_stop(struct sfx *f)
{
	spread_drain(f);
	blk_spread_close(&f->s);
	blk_spread_close(&f->s);	/* idempotent */
}

static int teardown(void **state)
{
	struct sfx *f = *state;

	if (f->pool.t) {
		spread_stop(f);
		blk_pool_stop(&f->pool);
	}
	tfx_teardown(&f->t);
	free(f);
	return 0;
}

static void spread_open(struct sfx *f)
{
	struct blk_vbd_cfg cfg = { .max_indirect = BLK_MAX_INDIRECT_SEGS,
				   .max_pgrants = 64, .discard = true };

	assert_int_equal(blk_spread_open(&f->s, &f->pool, f->g->domid, &blk_backend_aio,
					 f->path, false, &cfg, scb, NULL), 0);
}

static int spread_connect(struct sfx *f)
{
	struct blk_vbd_conn c = { .nqueues = f->g->nq, .nr_pages = 1 };

	for (unsigned i = 0; i < f->g->nq; i++) {
		memcpy(c.q[i].refs, f->g->q[i].refs, sizeof(c.q[i].refs));
		c.q[i].port = f->g->q[i].port;
	}
	return blk_spread_connect(&f->s, &c);
}

/* A pool of threads and the guest's disk connected on it. */
static void connected(struct sfx *f, unsigned threads)
{
	pool_start(f, threads);
	spread_open(f);
	assert_int_equal(spread_connect(f), 0);
}

/* Which thread serves each queue (on the parts' threads). */
struct where {
	int thread[TG_MAXQ];
	uint64_t sectors[BLK_MAX_IO_THREADS];
	unsigned parts;
};

static int where_run(struct blk_vbd *v, void *arg)
{
	struct where *w = arg;
	const struct blk_thread *t = container_of(v->loop, struct blk_thread, loop);

	for (unsigned i = 0; i < v->nqueues && i < TG_MAXQ; i++)
		if (v->q[i])
			w->thread[i] = (int)t->index;
	w->sectors[w->parts++] = v->disk.lim.sectors;
	return 0;
}

static struct where where_are(struct sfx *f)
{
	struct where w;

	memset(&w, 0, sizeof(w));
	for (unsigned i = 0; i < TG_MAXQ; i++)
		w.thread[i] = -1;
	assert_int_equal(blk_spread_each(&f->s, where_run, &w), 0);
	return w;
}

static void test_queues_on_different_threads(void **state)
{
	struct sfx *f = *state;
	struct blk_qstats st;
	blkif_request_t *r;
	struct where w;

	connected(f, 3);
	/* Connected: a second connect leaves the parts alone. */
	assert_int_equal(spread_connect(f), -EBUSY);
	w = where_are(f);
	assert_int_equal(w.parts, 3);
	assert_int_not_equal(w.thread[0], w.thread[1]);
	assert_int_not_equal(w.thread[0], w.thread[2]);
	assert_int_not_equal(w.thread[1], w.thread[2]);
	assert_int_equal(f->s.home.rings + f->s.part[0]->rings + f->s.part[1]->rings, 3);

	/* Written through queue 1, flushed through 2, read through 0. */
	tpattern(f->g, 0, 8, 77);
	trw(f->g, 1, BLKIF_OP_WRITE, 10, 2048, 8, 0);
	assert_int_equal(tdo(&f->t, f->g, 1, 10), BLKIF_RSP_OKAY);
	r = treq(f->g, 2);
	r->operation = BLKIF_OP_FLUSH_DISKCACHE;
	r->id = 11;
	assert_int_equal(tdo(&f->t, f->g, 2, 11), BLKIF_RSP_OKAY);
	trw(f->g, 0, BLKIF_OP_READ, 12, 2048, 8, 20);
	assert_int_equal(tdo(&f->t, f->g, 0, 12), BLKIF_RSP_OKAY);
	assert_true(tcheck(f->g, 20, 8, 77));

	blk_spread_stats(&f->s, &st);
	assert_int_equal(st.wr_req, 1);
	assert_int_equal(st.f_req, 1);
	assert_int_equal(st.rd_req, 1);
}

static void test_one_thread_keeps_queues_home(void **state)
{
	struct sfx *f = *state;
	struct where w;

	connected(f, 1);
	w = where_are(f);
	assert_int_equal(f->s.nparts, 0);
	assert_int_equal(w.parts, 1);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(w.thread[i], 0);
	assert_int_equal(f->s.home.rings, 3);
	tround_trip(&f->t, f->g, 2, 64, 4, 5);
}

/* The toolstack's path names another file by the time the frontend
 * connects: the other threads would open that one; every queue stays on
 * the file the disk was opened on. */
static void test_replaced_file_keeps_queues_home(void **state)
{
	struct sfx *f = *state;
	char other[160];
	struct where w;
	int fd;
	uint32_t word = 0;

	pool_start(f, 3);
	spread_open(f);
	snprintf(other, sizeof(other), "%s.new", f->path);
	fd = open(other, O_CREAT | O_RDWR | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8 << 20), 0);
	close(fd);
	assert_int_equal(rename(other, f->path), 0);

	assert_int_equal(spread_connect(f), 0);
	w = where_are(f);
	assert_int_equal(f->s.nparts, 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(w.thread[i], w.thread[0]);
	tpattern(f->g, 0, 1, 9);
	trw(f->g, 2, BLKIF_OP_WRITE, 20, 0, 1, 0);
	assert_int_equal(tdo(&f->t, f->g, 2, 20), BLKIF_RSP_OKAY);
	/* Not in the file the path names now. */
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &word, 4, 0), 4);
	close(fd);
	assert_int_equal(word, 0);
}

static void test_resize_reaches_every_part(void **state)
{
	struct sfx *f = *state;
	struct where w;

	connected(f, 3);
	assert_int_equal(blk_spread_resize(&f->s), 0);
	assert_int_equal(truncate(f->path, 16 << 20), 0);
	assert_int_equal(blk_spread_resize(&f->s), 1);
	w = where_are(f);
	assert_int_equal(w.parts, 3);
	for (unsigned i = 0; i < w.parts; i++)
		assert_int_equal(w.sectors[i], (16 << 20) >> 9);
	/* A part checks requests against the new size. */
	tround_trip(&f->t, f->g, 1, ((16 << 20) >> 9) - 8, 1, 3);
}

static void test_counters_survive_reconnect(void **state)
{
	struct sfx *f = *state;
	struct blk_qstats st;
	blkif_request_t *r;

	connected(f, 2);
	assert_int_equal(f->s.nparts, 1);
	tround_trip(&f->t, f->g, 1, 0, 1, 1);
	spread_drain(f);
	assert_int_equal(f->s.home.rings + f->s.part[0]->rings, 0);
	/* The guest's rings start over. */
	for (unsigned i = 0; i < 3; i++) {
		SHARED_RING_INIT(f->g->q[i].ring.sring);
		FRONT_RING_INIT(&f->g->q[i].ring, f->g->q[i].ring.sring, HV_PAGE_SIZE);
		assert_int_equal(hv_sim_evtchn_alloc_unbound(f->g->dom, 0, &f->g->q[i].port), 0);
	}
	assert_int_equal(spread_connect(f), 0);
	assert_int_equal(f->s.nparts, 1);
	tround_trip(&f->t, f->g, 1, 8, 1, 2);
	blk_spread_stats(&f->s, &st);
	assert_int_equal(st.wr_req, 2);
	assert_int_equal(st.rd_req, 2);
	/* Closed (the guest gone): the disk's entry keeps every part's
	 * counters, the home's among them (a flush through queue 0). */
	r = treq(f->g, 0);
	r->operation = BLKIF_OP_FLUSH_DISKCACHE;
	r->id = 30;
	assert_int_equal(tdo(&f->t, f->g, 0, 30), BLKIF_RSP_OKAY);
	spread_drain(f);
	blk_spread_close(&f->s);
	blk_spread_stats(&f->s, &st);
	assert_int_equal(st.wr_req, 2);
	assert_int_equal(st.rd_req, 2);
	assert_int_equal(st.f_req, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queues_on_different_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_thread_keeps_queues_home, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_file_keeps_queues_home, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resize_reaches_every_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_survive_reconnect, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
