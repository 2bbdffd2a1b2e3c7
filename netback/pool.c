/* pvd-netback's I/O threads.
 *
 * Who owns what:
 *   - Each I/O thread owns one struct nb_loop: its event_base, its own
 *     hypervisor handle (the event-channel fd delivers only the ports
 *     bound on that handle, so a thread polls exactly its vifs' ports),
 *     and the vifs placed on it.  A vif is placed whole: its queues (tx
 *     and rx rings, their grant mappings, event channels, tap fds, rx
 *     frame queues, credit/rate-limit state, counters), its control ring
 *     and its hash/steering state.  A frame read from tap queue i may be
 *     steered to guest queue j (hash.c), so the vif's queues share one
 *     thread and that hand-off stays a plain function call.
 *   - The main thread keeps the xenbus state machine, the store
 *     connection, libnl/tap set-up, the control socket and metrics.  It
 *     reaches a vif only through the nb_vif_* calls (vif.c), which run
 *     their work on the vif's thread with pvd_msgq_call and wait; the vif
 *     reports guest errors and carrier changes by posting to the main
 *     thread's queue (mainq), where the callback runs.
 *   - Placement: nb_pool_pick gives the loop with the fewest queues at
 *     connect (loop->load, touched only on the main thread);
 *     nb_pool_place one loop per queue for a NIC spread over threads
 *     (nic.c).
 *   - Disconnect: the vif's rings are unbound and unmapped on its thread
 *     (a call), then its memory is freed by a message to mainq, behind
 *     any report it posted before.
 *   - Rate limits: xl's rate= changes reach the thread as a call copying
 *     the new rate; it applies at the next replenish, as before.
 *   - kill -9: every thread dies with the process; the restarted daemon
 *     re-attaches each vif (cfg.reattach) on the thread nb_pool_pick
 *     gives it, which may differ from before: nothing of a thread
 *     survives in the shared rings.
 *   - threads 0: one loop on the main thread's base and handle; the
 *     calls run inline (pvd_msgq_call on its own consumer). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "pvd/log.h"
#include "pvd/msgq.h"
#include "tapio.h"
#include "vif_priv.h"

struct nb_pool {
	struct event_base *main_base;
	struct pvd_msgq *mainq;
	unsigned n;                   /* threads asked for (0: main thread) */
	enum nb_tapio_mode tapio;
	unsigned nloop;
	struct nb_loop **l;
	struct hv **hv;               /* opened here (threads > 0) */
	struct event_base **base;
};

static int loop_setup(struct nb_pool *p, unsigned i, struct event_base *base,
		      struct hv *hv)
{
	struct nb_loop *l;
	int rc = nb_loop_create(base, hv, p->tapio, &l);

	if (rc < 0)
		return rc;
	p->l[i] = l;
	l->index = i;
	l->mainq = p->mainq;
	return 0;
}

static int thread_start(struct nb_pool *p, unsigned i,
			const struct hv_config *hc)
{
	struct nb_loop *l;
	int rc;

	p->base[i] = event_base_new();
	if (!p->base[i])
		return -ENOMEM;
	rc = hv_open(&p->hv[i], hc);
	if (rc < 0) {
		log_err("%s: thread %u: hypervisor handle: %s", __func__, i,
			strerror(-rc));
		return rc;
	}
	rc = loop_setup(p, i, p->base[i], p->hv[i]);
	if (rc < 0)
		return rc;
	l = p->l[i];
	rc = pvd_iothread_start(&l->th, p->base[i], l->q);
	if (rc < 0)
		log_err("%s: thread %u: %s", __func__, i, strerror(-rc));
	return rc;
}

int nb_pool_start(struct event_base *main_base, struct hv *main_hv,
		  const struct hv_config *hc, unsigned threads,
		  enum nb_tapio_mode tapio, struct nb_pool **out)
{
	struct nb_pool *p = calloc(1, sizeof(*p));
	int rc = -ENOMEM;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->main_base = main_base;
	p->n = threads;
	p->tapio = tapio;
	p->nloop = threads ? threads : 1;
	p->l = calloc(p->nloop, sizeof(*p->l));
	p->hv = calloc(p->nloop, sizeof(*p->hv));
	p->base = calloc(p->nloop, sizeof(*p->base));
	if (!p->l || !p->hv || !p->base)
		goto fail;
	rc = pvd_msgq_create(main_base, 0, &p->mainq);
	if (rc < 0)
		goto fail;
	if (!threads)
		rc = loop_setup(p, 0, main_base, main_hv);
	for (unsigned i = 0; i < threads && rc == 0; i++)
		rc = thread_start(p, i, hc);
	if (rc < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	nb_pool_stop(p);
	return rc;
}

void nb_pool_stop(struct nb_pool *p)
{
	if (!p)
		return;
	for (unsigned i = 0; p->l && i < p->nloop; i++) {
		struct nb_loop *l = p->l[i];

		if (l)
			pvd_iothread_stop(&l->th);
		nb_loop_destroy(l);
		if (p->hv)
			hv_close(p->hv[i]);
		if (p->base && p->base[i])
			event_base_free(p->base[i]);
	}
	/* Runs what is left: the frees of the last vifs stopped. */
	pvd_msgq_destroy(p->mainq);
	free(p->l);
	free(p->hv);
	free(p->base);
	free(p);
}

struct nb_loop *nb_pool_pick(struct nb_pool *p)
{
	struct nb_loop *best = p->l[0];

	for (unsigned i = 1; i < p->nloop; i++)
		if (p->l[i]->load < best->load)
			best = p->l[i];
	return best;
}

/* Queues of out[0..n) placed on l. */
static unsigned placed_on(struct nb_loop *const *out, unsigned n,
			  const struct nb_loop *l)
{
	unsigned c = 0;

	for (unsigned k = 0; k < n; k++)
		c += out[k] == l;
	return c;
}

unsigned nb_pool_place(struct nb_pool *p, unsigned nq, struct nb_loop **out)
{
	unsigned used = 0;

	/* One by one on the least loaded, counting the queues placed
	 * before; a tie to the loop with fewer of this NIC's (queue 0 thus
	 * where nb_pool_pick would put a whole vif). */
	for (unsigned i = 0; i < nq; i++) {
		struct nb_loop *best = NULL;
		unsigned bl = 0, bm = 0;

		for (unsigned j = 0; j < p->nloop; j++) {
			unsigned m = placed_on(out, i, p->l[j]);
			unsigned l = p->l[j]->load + m;

			if (!best || l < bl || (l == bl && m < bm)) {
				best = p->l[j];
				bl = l;
				bm = m;
			}
		}
		used += bm == 0;
		out[i] = best;
	}
	return used;
}

json_t *nb_pool_json(const struct nb_pool *p)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < p->nloop; i++) {
		const struct nb_loop *l = p->l[i];

		json_array_append_new(a, json_pack("{sI sI sI sb}",
			"index", (json_int_t)i, "queues", (json_int_t)l->load,
			"cpu_ns", (json_int_t)pvd_iothread_cpu_ns(&l->th),
			"main", p->n == 0));
	}
	return a;
}

const char *nb_pool_tapio_name(const struct nb_pool *p)
{
	return nb_tapio_name(p->l[0]->tio);
}
