/* pvd-blkback's I/O threads (see pool.h for who owns what).
 *
 * Hand-overs: connect, disconnect, resize and statistics are
 * blk_pool_call's from the main thread, so the thread's rings change only
 * between its rounds.  kill -9 loses every thread at once; the restarted
 * daemon re-attaches each ring from the store on the thread its disk is
 * placed on, as the single-threaded daemon did. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "pvd/log.h"
#include "pvd/msgq.h"
#include "pool.h"

static int thread_init(struct blk_thread *t, struct event_base *base,
		       const struct blk_pool_cfg *cfg)
{
	int rc;

	t->base = base;
	rc = hv_open(&t->hv, cfg->hv);
	if (rc < 0) {
		log_err("thread %u: hypervisor handle: %s", t->index, strerror(-rc));
		return rc;
	}
	rc = blk_loop_init(&t->loop, base, t->hv, cfg->spin_ns, cfg->depth);
	if (rc < 0)
		return rc;
	t->loop.batch = cfg->batch;
	return pvd_msgq_create(base, 0, &t->q);
}

static int thread_start(struct blk_thread *t, const struct blk_pool_cfg *cfg)
{
	struct event_base *base = event_base_new();
	int rc;

	if (!base)
		return -ENOMEM;
	rc = thread_init(t, base, cfg);
	if (rc < 0)
		return rc;
	rc = pvd_iothread_start(&t->th, base, t->q);
	if (rc < 0)
		log_err("thread %u: %s", t->index, strerror(-rc));
	return rc;
}

int blk_pool_start(struct blk_pool *p, struct event_base *main_base,
		   const struct blk_pool_cfg *cfg)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->main_base = main_base;
	p->n = cfg->threads;
	p->nthr = p->n ? p->n : 1;
	p->t = calloc(p->nthr, sizeof(*p->t));
	if (!p->t)
		return -ENOMEM;
	rc = pvd_msgq_create(main_base, 0, &p->mainq);
	if (rc < 0)
		goto fail;
	for (unsigned i = 0; i < p->nthr; i++) {
		p->t[i].pool = p;
		p->t[i].index = i;
	}
	if (!p->n) {
		rc = thread_init(&p->t[0], main_base, cfg);
		if (rc < 0)
			goto fail;
		pvd_iothread_inline(&p->t[0].th, main_base, p->t[0].q);
		return 0;
	}
	for (unsigned i = 0; i < p->nthr; i++) {
		rc = thread_start(&p->t[i], cfg);
		if (rc < 0)
			goto fail;
	}
	return 0;
fail:
	blk_pool_stop(p);
	return rc;
}

void blk_pool_stop(struct blk_pool *p)
{
	if (!p->t)
		return;
	for (unsigned i = 0; i < p->nthr; i++) {
		struct blk_thread *t = &p->t[i];

		pvd_iothread_stop(&t->th);
		pvd_msgq_destroy(t->q);
		blk_loop_destroy(&t->loop);
		hv_close(t->hv);
		if (p->n && t->base)
			event_base_free(t->base);
	}
	pvd_msgq_destroy(p->mainq);
	free(p->t);
	p->t = NULL;
}

struct blk_thread *blk_pool_pick(struct blk_pool *p)
{
	struct blk_thread *best = &p->t[0];

	for (unsigned i = 1; i < p->nthr; i++)
		if (p->t[i].load < best->load)
			best = &p->t[i];
	return best;
}

struct pool_call {
	struct blk_thread *t;
	int (*fn)(void *arg);
	void *arg;
};

static int call_run(void *arg)
{
	struct pool_call *c = arg;
	int rc = c->fn(c->arg);

	blk_loop_run(&c->t->loop);
	return rc;
}

int blk_pool_call(struct blk_thread *t, int (*fn)(void *arg), void *arg)
{
	struct pool_call c = { t, fn, arg };

	return pvd_msgq_call(t->q, call_run, &c);
}

void blk_pool_run_main(struct blk_pool *p)
{
	if (!p->n && p->t)
		blk_loop_run(&p->t[0].loop);
}

uint64_t blk_thread_cpu_ns(const struct blk_thread *t)
{
	return pvd_iothread_cpu_ns(&t->th);
}

struct stats_call {
	struct blk_thread *t;
	struct blk_thread_stats *s;
};

static int stats_run(void *arg)
{
	struct stats_call *c = arg;
	const struct blk_loop *l = &c->t->loop;
	unsigned rings = 0;

	for (unsigned i = 0; i < BLK_PORT_BUCKETS; i++)
		for (const struct blk_queue *q = l->ports[i]; q; q = q->next_port)
			rings++;
	*c->s = (struct blk_thread_stats){
		.index = c->t->index, .rings = rings,
		.cpu_ns = blk_thread_cpu_ns(c->t), .rounds = l->rounds,
		.spins_won = l->spins_won, .sleeps = l->sleeps,
		.slices = l->slices,
	};
	return 0;
}

int blk_pool_thread_stats(struct blk_pool *p, unsigned i,
			  struct blk_thread_stats *s)
{
	struct stats_call c = { NULL, s };

	if (!p->t || i >= p->nthr)
		return -EINVAL;
	c.t = &p->t[i];
	return pvd_msgq_call(p->t[i].q, stats_run, &c);
}
