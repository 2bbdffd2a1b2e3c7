/* A disk over pvd-blkback's I/O threads (see spread.h for who owns
 * what).  Every function here runs on the main thread; what touches a
 * part's vbd is a blk_pool_call to the part's thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pvd/log.h"
#include "spread.h"

struct part_call {
	struct blk_vbd *v;
	int (*fn)(struct blk_vbd *v, void *arg);
	void *arg;
};

static int part_run(void *arg)
{
	struct part_call *c = arg;

	return c->fn(c->v, c->arg);
}

static int part_call(const struct blk_spread_part *p,
		     int (*fn)(struct blk_vbd *v, void *arg), void *arg)
{
	struct part_call c = { (struct blk_vbd *)&p->vbd, fn, arg };

	return blk_pool_call(p->thr, part_run, &c);
}

/* Keeps the thread's load (rings) in step with the part's queues. */
static void part_count_rings(struct blk_spread_part *p)
{
	unsigned n = blk_vbd_rings(&p->vbd);  /* written by the call just returned */

	p->thr->load = p->thr->load - p->rings + n;
	p->rings = n;
}

struct open_args {
	const struct blk_spread *s;
	struct blk_loop *loop;
	const struct blk_vbd_cfg *cfg;
};

static int open_run(struct blk_vbd *v, void *arg)
{
	const struct open_args *a = arg;
	const struct blk_spread *s = a->s;
	const struct blk_vbd *home = &s->home.vbd;
	int rc;

	rc = blk_vbd_open(v, a->loop, s->domid, s->dflt, s->params,
			  s->readonly, a->cfg, s->cb, s->cb_arg);
	if (rc < 0 || v == home)
		return rc;
	/* The path may name another file now (renamed, replaced): a part
	 * serves the home's file or nothing. */
	if (v->engine != home->engine || v->info.dev != home->info.dev ||
	    v->info.ino != home->info.ino || !blk_vbd_shareable(v)) {
		blk_vbd_close(v);
		return -ESTALE;
	}
	v->info.size = home->info.size;
	v->disk.lim.sectors = home->disk.lim.sectors;
	return 0;
}

static int part_open(const struct blk_spread *s, struct blk_spread_part *p,
		     struct blk_thread *t, const struct blk_vbd_cfg *cfg)
{
	struct open_args a = { s, &t->loop, cfg };
	int rc;

	p->thr = t;
	t->load++;
	rc = part_call(p, open_run, &a);
	if (rc < 0) {
		t->load--;
		p->thr = NULL;
	}
	return rc;
}

static int close_run(struct blk_vbd *v, void *arg)
{
	struct blk_qstats *gone = arg;

	blk_vbd_stats(v, gone);
	blk_vbd_close(v);
	return 0;
}

static void part_close(struct blk_spread *s, struct blk_spread_part *p)
{
	struct blk_qstats gone;

	if (!p->thr)
		return;
	part_call(p, close_run, &gone);
	/* The home's too: a closed disk's entry keeps its counters. */
	blk_stats_add(&s->closed, &gone);
	p->thr->load -= p->rings + 1;
	p->rings = 0;
	p->thr = NULL;
}

int blk_spread_open(struct blk_spread *s, struct blk_pool *pool, domid_t domid,
		    const struct blk_backend_ops *dflt, const char *params,
		    bool readonly, const struct blk_vbd_cfg *cfg,
		    blk_vbd_cb *cb, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->pool = pool;
	s->domid = domid;
	s->dflt = dflt;
	s->params = params;
	s->readonly = readonly;
	s->cfg = *cfg;
	s->cfg.keyfile = NULL;          /* parts are never encrypted */
	s->cfg.quiet = true;
	s->cb = cb;
	s->cb_arg = arg;
	return part_open(s, &s->home, blk_pool_pick(pool), cfg);
}

/* Parts are idle here (the caller saw the disk not busy). */
static void parts_close(struct blk_spread *s)
{
	for (unsigned i = 0; i < s->nparts; i++) {
		part_close(s, s->part[i]);
		free(s->part[i]);
		s->part[i] = NULL;
	}
	s->nparts = 0;
}

void blk_spread_close(struct blk_spread *s)
{
	parts_close(s);
	part_close(s, &s->home);
}

bool blk_spread_open_p(const struct blk_spread *s)
{
	return s->home.thr && s->home.vbd.open;
}

/* Which thread serves the next queue: the least loaded, counting the
 * queues placed so far; a tie goes to the thread serving fewer of this
 * disk's queues (spread the disk), then to the lower index. */
static unsigned place(const struct blk_pool *pool, unsigned *load,
		      const unsigned *mine)
{
	unsigned best = 0;

	for (unsigned j = 1; j < pool->nthr; j++)
		if (load[j] < load[best] ||
		    (load[j] == load[best] && mine[j] < mine[best]))
			best = j;
	load[best]++;
	return best;
}

static bool spreadable(const struct blk_spread *s, const struct blk_vbd_conn *c)
{
	return s->pool->nthr > 1 && c->nqueues > 1 &&
	       blk_vbd_shareable(&s->home.vbd);
}

/* Opens a part on each thread that got queues; a thread whose part
 * cannot open gives its queues back to home.  masks: by thread index. */
static void parts_open(struct blk_spread *s, uint32_t *masks)
{
	unsigned home = s->home.thr->index;

	for (unsigned j = 0; j < s->pool->nthr; j++) {
		struct blk_spread_part *p;
		int rc = -ENOMEM;

		if (j == home || !masks[j])
			continue;
		p = calloc(1, sizeof(*p));
		if (p && (rc = part_open(s, p, &s->pool->t[j], &s->cfg)) == 0) {
			s->part[s->nparts++] = p;
			continue;
		}
		log_warn("dom%u: %s: queues 0x%x stay on thread %u: %s",
			 (unsigned)s->domid, s->params, masks[j], home, strerror(-rc));
		free(p);
		masks[home] |= masks[j];
		masks[j] = 0;
	}
}

static int connect_run(struct blk_vbd *v, void *arg)
{
	return blk_vbd_connect(v, arg);
}

static int part_connect(struct blk_spread_part *p, const struct blk_vbd_conn *c,
			uint32_t mask)
{
	struct blk_vbd_conn pc = *c;
	int rc;

	pc.mask = mask;
	rc = part_call(p, connect_run, &pc);
	part_count_rings(p);
	return rc;
}

int blk_spread_connect(struct blk_spread *s, const struct blk_vbd_conn *c)
{
	uint32_t masks[BLK_MAX_IO_THREADS] = { 0 };
	unsigned load[BLK_MAX_IO_THREADS], mine[BLK_MAX_IO_THREADS] = { 0 };
	unsigned home;
	int rc;

	if (!blk_spread_open_p(s))
		return -ENODEV;
	/* Connected, or a part still draining: its parts are in use. */
	if (s->home.vbd.nqueues || blk_spread_busy(s))
		return -EBUSY;
	for (unsigned i = 0; i < s->nparts; i++)
		if (s->part[i]->vbd.nqueues)
			return -EBUSY;
	parts_close(s);
	home = s->home.thr->index;
	masks[home] = 1;
	if (spreadable(s, c)) {
		for (unsigned j = 0; j < s->pool->nthr; j++)
			load[j] = s->pool->t[j].load + (j == home);
		mine[home] = 1;
		for (unsigned i = 1; i < c->nqueues; i++) {
			unsigned j = place(s->pool, load, mine);

			masks[j] |= 1u << i;
			mine[j]++;
		}
		parts_open(s, masks);
	} else {
		masks[home] = c->nqueues >= 32 ? UINT32_MAX : (1u << c->nqueues) - 1;
	}
	rc = part_connect(&s->home, c, masks[home]);
	for (unsigned i = 0; rc == 0 && i < s->nparts; i++)
		rc = part_connect(s->part[i], c, masks[s->part[i]->thr->index]);
	if (rc < 0)
		blk_spread_disconnect(s);
	return rc;
}

static int disconnect_run(struct blk_vbd *v, void *arg)
{
	(void)arg;
	return blk_vbd_disconnect(v);
}

static int busy_run(struct blk_vbd *v, void *arg)
{
	(void)arg;
	return blk_vbd_busy(v);
}

int blk_spread_disconnect(struct blk_spread *s)
{
	int rc = 0;

	if (!s->home.thr)
		return 0;
	if (part_call(&s->home, disconnect_run, NULL) == -EBUSY)
		rc = -EBUSY;
	part_count_rings(&s->home);
	for (unsigned i = 0; i < s->nparts; i++) {
		if (part_call(s->part[i], disconnect_run, NULL) == -EBUSY)
			rc = -EBUSY;
		part_count_rings(s->part[i]);
	}
	return rc;
}

bool blk_spread_busy(const struct blk_spread *s)
{
	return s->home.thr && blk_spread_each(s, busy_run, NULL) > 0;
}

static int resize_run(struct blk_vbd *v, void *arg)
{
	(void)arg;
	return blk_vbd_resize(v);
}

/* A part takes the home's size, so that every queue checks requests
 * against the same one. */
static int size_run(struct blk_vbd *v, void *arg)
{
	const struct blk_vbd *home = arg;

	v->info.size = home->info.size;
	v->disk.lim.sectors = home->disk.lim.sectors;
	return 0;
}

int blk_spread_resize(struct blk_spread *s)
{
	int rc;

	if (!s->home.thr)
		return 0;
	rc = part_call(&s->home, resize_run, NULL);
	for (unsigned i = 0; rc == 1 && i < s->nparts; i++)
		part_call(s->part[i], size_run, &s->home.vbd);
	return rc;
}

static int stats_run(struct blk_vbd *v, void *arg)
{
	struct blk_qstats *sum = arg, st;

	blk_vbd_stats(v, &st);
	blk_stats_add(sum, &st);
	return 0;
}

void blk_spread_stats(const struct blk_spread *s, struct blk_qstats *sum)
{
	*sum = s->closed;
	blk_spread_each(s, stats_run, sum);
}

int blk_spread_each(const struct blk_spread *s,
		    int (*fn)(struct blk_vbd *v, void *arg), void *arg)
{
	int rc;

	if (!s->home.thr)
		return 0;
	rc = part_call(&s->home, fn, arg);
	for (unsigned i = 0; rc == 0 && i < s->nparts; i++)
		rc = part_call(s->part[i], fn, arg);
	return rc;
}

int blk_spread_home(const struct blk_spread *s,
		    int (*fn)(struct blk_vbd *v, void *arg), void *arg)
{
	return s->home.thr ? part_call(&s->home, fn, arg) : 0;
}
