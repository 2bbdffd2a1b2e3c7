/* A virtual block device (see vbd.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pvd/log.h"
#include "pvd/mapfile.h"
#include "crypt.h"
#include "loop.h"
#include "vbd.h"

/* The engine's backing wrapped in the crypt layer (or closed). */
static int vbd_open_crypt(struct blk_vbd *v, const char *params)
{
	struct blk_crypt_cfg cc = {
		.keyfile = v->cfg.keyfile,
		/* luks.h does not say yet whether the image allows discards
		 * (LUKS2's allow-discards flag): none until it does. */
		.discard = false,
	};
	struct blk_backing *b;
	struct blk_backing_info info;
	int rc;

	rc = blk_crypt_open(v->engine, params, v->disk.backing, &v->info, &cc,
			    &b, &info, v->why, sizeof(v->why));
	if (rc < 0) {
		v->engine->close(v->disk.backing);
		v->disk.backing = NULL;
		return rc;
	}
	v->disk.ops = &blk_backend_crypt;
	v->disk.backing = b;
	v->info = info;
	v->encrypted = true;
	v->sector_size = info.lbs;
	return 0;
}

/* The engine a disk's params choose: its scheme, else the daemon's. */
static const struct blk_backend_ops *
engine_for(const char *params, const struct blk_backend_ops *dflt)
{
	if (strncmp(params, "null:", 5) == 0)
		return &blk_backend_null;
	if (blk_nbd_uri(params))
		return &blk_backend_nbd;
	if (strncmp(params, "rbd:", 4) == 0)
		return &blk_backend_rbd;
	return dflt;
}

/* A file opened buffered (its file system refuses O_DIRECT: tmpfs before
 * Linux 6.6, some FUSE file systems; or a 4Kn device's larger alignment)
 * goes to io_uring, which hands a read or write that would wait to its
 * own workers.  libaio would do it inside io_submit (only O_DIRECT is
 * asynchronous there), so every page-cache miss would hold all the
 * queues of this thread, other guests' too; QEMU refuses aio=native
 * without O_DIRECT for the same reason.  Where io_uring cannot be had
 * (an old kernel, a sandbox), libaio it stays. */
static void vbd_buffered_to_uring(struct blk_vbd *v, const char *params,
				  bool readonly)
{
	const struct blk_backend_ops *u = &blk_backend_uring;
	struct blk_backing_info info;
	struct blk_backing *b;
	struct blk_engine *e;
	int rc;

	if (v->engine != &blk_backend_aio || v->info.direct)
		return;
	rc = blk_loop_engine(v->loop, u, &e);
	if (rc == 0)
		rc = u->open(e, params, readonly, &b, &info);
	if (rc < 0) {
		log_info("%s: buffered, and io_uring unavailable (%s): libaio, "
			 "which waits for the file in the I/O thread", params,
			 strerror(-rc));
		return;
	}
	if (info.dev != v->info.dev || info.ino != v->info.ino) {
		/* Replaced between the two opens: keep the first. */
		u->close(b);
		return;
	}
	v->disk.ops->close(v->disk.backing);
	v->disk.backing = b;
	v->info = info;
	v->disk.ops = v->engine = u;
}

int blk_vbd_open(struct blk_vbd *v, struct blk_loop *l, domid_t domid,
		 const struct blk_backend_ops *dflt, const char *params,
		 bool readonly, const struct blk_vbd_cfg *cfg,
		 blk_vbd_cb *cb, void *arg)
{
	const struct blk_backend_ops *ops = engine_for(params, dflt);
	struct blk_engine *e;
	int rc;

	memset(v, 0, sizeof(*v));
	v->loop = l;
	v->domid = domid;
	v->cfg = *cfg;
	v->cb = cb;
	v->cb_arg = arg;
	rc = blk_loop_engine(l, ops, &e);
	if (rc < 0) {
		log_err("engine %s: %s", ops->name, strerror(-rc));
		return rc;
	}
	rc = ops->open(e, params, readonly, &v->disk.backing, &v->info);
	if (rc < 0)
		return rc;
	v->disk.ops = v->engine = ops;
	vbd_buffered_to_uring(v, params, readonly);
	ops = v->engine;
	v->sector_size = BLK_SECTOR_SIZE;
	if (cfg->keyfile && (rc = vbd_open_crypt(v, params)) < 0)
		return rc;
	v->cfg.keyfile = NULL;          /* the caller's string */
	v->disk.lim.sectors = v->info.size >> BLK_SECTOR_SHIFT;
	v->disk.lim.readonly = readonly;
	v->disk.lim.max_indirect = cfg->max_indirect;
	v->disk.lim.discard = cfg->discard && v->info.discard && !readonly;
	v->open = true;
	log_msg(cfg->quiet ? LOG_LVL_DEBUG : LOG_LVL_INFO, __func__,
		"dom%u: %s: %llu sectors, %s%s, %s%s", (unsigned)domid, params,
		 (unsigned long long)v->disk.lim.sectors,
		 v->encrypted ? "LUKS over " : "", ops->name,
		 readonly ? "read-only" : "read-write",
		 v->info.direct || ops == &blk_backend_null || ops->remote ? "" : ", buffered");
	return 0;
}

void blk_vbd_close(struct blk_vbd *v)
{
	if (!v->open)
		return;
	v->disk.ops->close(v->disk.backing);
	v->disk.backing = NULL;
	v->open = false;
}

static void on_queue(struct blk_queue *q, int event, void *arg)
{
	struct blk_vbd *v = arg;

	if (event == BLK_Q_FATAL) {
		v->cb(v, BLK_VBD_FATAL, v->cb_arg);
		return;
	}
	/* Drained: q is freed when we return. */
	blk_stats_add(&v->gone, &q->st);
	if (--v->draining == 0)
		v->cb(v, BLK_VBD_DRAINED, v->cb_arg);
}

int blk_vbd_connect(struct blk_vbd *v, const struct blk_vbd_conn *c)
{
	int rc = 0;

	if (!v->open || v->nqueues || v->draining)
		return -EBUSY;
	if (c->nqueues == 0 || c->nqueues > BLK_MAX_QUEUES)
		return -EINVAL;
	if (c->nr_pages > BLK_MAX_RING_PAGES)
		return -EINVAL;
	v->nqueues = c->nqueues;
	for (unsigned i = 0; i < c->nqueues && rc == 0; i++) {
		char journal[256];
		struct blk_queue_cfg qc = {
			.domid = v->domid,
			.index = i,
			.nr_pages = c->nr_pages,
			.remote_port = c->q[i].port,
			.persistent = c->persistent,
			.max_pgrants = v->cfg.max_pgrants,
			.reattach = c->reattach,
		};

		if (c->mask && !(c->mask & (1u << i)))
			continue;
		if (c->journal_dir &&
		    pvd_journal_path(journal, sizeof(journal), c->journal_dir,
					 v->domid, c->devid, i) == 0)
			qc.journal = journal;
		memcpy(qc.refs, c->q[i].refs, c->nr_pages * sizeof(qc.refs[0]));
		rc = blk_queue_start(v->loop, &v->disk, &qc, on_queue, v,
				     &v->q[i]);
	}
	if (rc < 0)
		blk_vbd_disconnect(v);
	return rc;
}

int blk_vbd_disconnect(struct blk_vbd *v)
{
	for (unsigned i = 0; i < v->nqueues; i++) {
		if (!v->q[i])
			continue;
		struct blk_qstats st = v->q[i]->st;

		if (blk_queue_stop(v->q[i]) == 0)
			blk_stats_add(&v->gone, &st);
		else
			v->draining++;
		v->q[i] = NULL;
	}
	v->nqueues = 0;
	return v->draining ? -EBUSY : 0;
}

bool blk_vbd_busy(const struct blk_vbd *v)
{
	return v->draining != 0;
}

unsigned blk_vbd_rings(const struct blk_vbd *v)
{
	unsigned n = 0;

	for (unsigned i = 0; i < v->nqueues; i++)
		n += v->q[i] != NULL;
	return n;
}

bool blk_vbd_shareable(const struct blk_vbd *v)
{
	return v->open && !v->encrypted && !v->disk.ops->remote;
}

int blk_vbd_resize(struct blk_vbd *v)
{
	uint64_t bytes, sectors;
	int rc;

	if (!v->open)
		return 0;
	rc = v->disk.ops->size(v->disk.backing, &bytes);
	if (rc < 0)
		return rc;
	sectors = bytes >> BLK_SECTOR_SHIFT;
	if (sectors == v->disk.lim.sectors)
		return 0;
	log_info("dom%u: size %llu -> %llu sectors", (unsigned)v->domid,
		 (unsigned long long)v->disk.lim.sectors,
		 (unsigned long long)sectors);
	v->disk.lim.sectors = sectors;
	v->info.size = bytes;
	return 1;
}

const char *blk_vbd_state(const struct blk_vbd *v)
{
	if (!v->open)
		return "closed";
	if (!v->disk.ops->remote)
		return "local";
	struct blk_remote_state r;

	v->disk.ops->remote(v->disk.backing, &r);
	return r.state;
}

void blk_vbd_stats(const struct blk_vbd *v, struct blk_qstats *sum)
{
	*sum = v->gone;
	for (unsigned i = 0; i < v->nqueues; i++)
		if (v->q[i])
			blk_stats_add(sum, &v->q[i]->st);
}
