/* A guest NIC over the I/O threads (see nic.h for who owns what).  Main
 * thread only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pvd/log.h"
#include "nic.h"

struct nb_nic {
	unsigned nq, nparts;
	struct nb_vif *part[NB_MAX_QUEUES];
	struct nb_vif *of[NB_MAX_QUEUES];   /* the part serving queue i */
	bool off[NB_MAX_QUEUES];            /* part k's carrier is off */
	unsigned noff;
	bool fatal;
	nb_nic_cb *cb;
	void *arg;
};

static int part_index(const struct nb_nic *n, const struct nb_vif *v)
{
	for (unsigned k = 0; k < n->nparts; k++)
		if (n->part[k] == v)
			return (int)k;
	return -1;
}

/* A part's report (main thread): the NIC's, combined. */
static void on_part(struct nb_vif *v, int event, const char *why, void *arg)
{
	struct nb_nic *n = arg;
	int k = part_index(n, v);

	if (k < 0)
		return;
	switch (event) {
	case NB_VIF_FATAL:
		if (!n->fatal) {
			n->fatal = true;
			n->cb(n, event, why, n->arg);
		}
		break;
	case NB_VIF_CARRIER_OFF:
		if (n->off[k])
			break;
		n->off[k] = true;
		if (n->noff++ == 0)
			n->cb(n, event, why, n->arg);
		break;
	case NB_VIF_CARRIER_ON:
		if (!n->off[k])
			break;
		n->off[k] = false;
		if (--n->noff == 0)
			n->cb(n, event, why, n->arg);
		break;
	default:
		break;
	}
}

static void parts_stop(struct nb_nic *n)
{
	for (unsigned k = 0; k < n->nparts; k++)
		nb_vif_stop(n->part[k]);
	n->nparts = 0;
}

/* The loops the queues go to: spread, or all on one. */
static void place(struct nb_pool *p, const struct nb_vif_cfg *cfg,
		  struct nb_loop **loop)
{
	if (cfg->ctrl || cfg->nqueues == 1 || cfg->mask) {
		struct nb_loop *l = nb_pool_pick(p);

		for (unsigned i = 0; i < cfg->nqueues; i++)
			loop[i] = l;
		return;
	}
	nb_pool_place(p, cfg->nqueues, loop);
}

static int parts_start(struct nb_nic *n, struct nb_pool *p,
		       const struct nb_vif_cfg *cfg)
{
	struct nb_loop *loop[NB_MAX_QUEUES];
	struct nb_vif_cfg pc = *cfg;
	uint32_t done = 0;
	int rc = 0;

	place(p, cfg, loop);
	for (unsigned i = 0; i < cfg->nqueues && rc == 0; i++) {
		struct nb_vif *v;

		if (done & (1u << i))
			continue;
		pc.mask = 0;
		for (unsigned j = i; j < cfg->nqueues; j++)
			if (loop[j] == loop[i])
				pc.mask |= 1u << j;
		done |= pc.mask;
		/* One part serving every queue: no mask (the vif as before). */
		if (pc.mask == (1u << cfg->nqueues) - 1)
			pc.mask = cfg->mask;
		rc = nb_vif_start(loop[i], &pc, on_part, n, &v);
		if (rc < 0)
			break;
		n->part[n->nparts++] = v;
		for (unsigned j = 0; j < cfg->nqueues; j++)
			if (nb_vif_mask(v) & (1u << j))
				n->of[j] = v;
	}
	return rc;
}

int nb_nic_start(struct nb_pool *p, const struct nb_vif_cfg *cfg,
		 nb_nic_cb *cb, void *arg, struct nb_nic **out)
{
	struct nb_nic *n;
	int rc;

	*out = NULL;
	if (cfg->nqueues == 0 || cfg->nqueues > NB_MAX_QUEUES)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->nq = cfg->nqueues;
	n->cb = cb;
	n->arg = arg;
	rc = parts_start(n, p, cfg);
	if (rc < 0) {
		parts_stop(n);
		free(n);
		return rc;
	}
	*out = n;
	return 0;
}

void nb_nic_stop(struct nb_nic *n)
{
	if (!n)
		return;
	parts_stop(n);
	free(n);
}

void nb_nic_set_rate(struct nb_nic *n, const struct nb_rate *rate)
{
	for (unsigned k = 0; k < n->nparts; k++)
		nb_vif_set_rate(n->part[k], rate);
}

unsigned nb_nic_nqueues(const struct nb_nic *n)
{
	return n->nq;
}

unsigned nb_nic_threads(const struct nb_nic *n)
{
	return n->nparts;
}

void nb_nic_qstats(const struct nb_nic *n, unsigned q, struct nb_qstats *out)
{
	if (q >= n->nq || !n->of[q]) {
		memset(out, 0, sizeof(*out));
		return;
	}
	nb_vif_qstats(n->of[q], q, out);
}

bool nb_nic_carrier(const struct nb_nic *n)
{
	for (unsigned k = 0; k < n->nparts; k++)
		if (!nb_vif_carrier(n->part[k]))
			return false;
	return n->nparts > 0;
}
