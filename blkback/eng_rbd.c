/* The rbd engine: disks on Ceph RBD images through librbd's C API, as
 * QEMU's block/rbd.c (qemu_rbd_open, qemu_rbd_start_co) and fio's rbd
 * engine (its poll mode) do it.
 *
 * Requests become rbd_aio_readv/writev/flush/discard with a completion
 * whose argument is the blk_io; no thread of ours waits for them.  Each
 * image is told to signal the engine's one eventfd when a completion is
 * ready (rbd_set_image_notification, EVENT_TYPE_EVENTFD), which the
 * libevent loop polls; the completions are then taken with
 * rbd_poll_io_events in the loop's thread, so that callbacks run there,
 * never in librbd's threads.
 *
 * One rados handle per (conf, id, options) is shared by the engine's
 * images (referenced; shut down with the last).  pvd's defaults, which a
 * ceph.conf or the target's options override: rbd_cache off (a write is
 * acknowledged once the OSDs have it, as krbd under Linux's blkback);
 * client_mount_timeout and rados_mon_op_timeout 5 s, which bound how long
 * an attach can hold the event loop when the monitors are unreachable
 * (rados_connect is synchronous); rados_osd_op_timeout 30 s, which bounds
 * how long a request stalls while the OSDs are unreachable (librados
 * resends it meanwhile) before it fails as an I/O error.  What a disk can
 * have queued is bounded by its rings (the transport's slots).
 *
 * Opening an image needs the OSDs: rbd_aio_open is waited for at most
 * RBD_OPEN_WAIT_MS; past that the attach fails and the open is parked,
 * to be closed when it completes.  Closing is rbd_aio_close, parked the
 * same way, so that neither blocks the loop on a dead cluster.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rbd/librbd.h>

#include "pvd/log.h"
#include "pvd/rbd_target.h"
#include "pvd/ring_util.h"
#include "eng_util.h"

#define RBD_OPEN_WAIT_MS 5000
/* No completion for this long while requests wait: "stalled". */
#define RBD_STALL_NS (2ull * 1000000000ull)
#define RBD_POLL_BATCH 64
#define RBD_KEY_MAX (PVD_RBD_TARGET_MAX + 64)
/* A request of this many segments or more goes to librbd as one buffer
 * (gathered, or scattered on completion): librbd copies a write's iovecs
 * into as many buffers, which travel to the OSD as a fragmented message;
 * one buffer made 1 MiB writes twice as fast (docs/pvd-blkback.md). */
#define RBD_BOUNCE_MIN_IOV 16

struct rbd_cluster {
	struct rbd_cluster *next;
	char key[RBD_KEY_MAX];      /* conf, id and options */
	rados_t rados;
	unsigned refs;
};

/* An open that outlived its wait, or a close: done when comp is. */
struct rbd_park {
	struct rbd_park *next;
	rbd_completion_t comp;
	rbd_image_t img;
	rados_ioctx_t io;
	struct rbd_cluster *c;
	bool closing;
};

struct rbd_disk {
	struct blk_backing base;
	struct rbd_disk *next;
	struct rbd_cluster *c;
	rados_ioctx_t io;
	rbd_image_t img;
	unsigned inflight;
	uint64_t since;             /* ns: the last completion, or the first request */
	int last_err;               /* of the last completion */
};

struct rbd_eng {
	struct blk_engine base;
	int efd;
	struct rbd_cluster *clusters;
	struct rbd_disk *disks;
	struct rbd_park *parked;
	struct blk_ioq done;
};

static struct rbd_eng *to_eng(struct blk_engine *e)
{
	return container_of(e, struct rbd_eng, base);
}

static struct rbd_disk *to_disk(struct blk_backing *bb)
{
	return container_of(bb, struct rbd_disk, base);
}

/* ---------------------------------------------------------------- rados */

static void cluster_key(const struct pvd_rbd_target *t, char *key, size_t len)
{
	size_t n = (size_t)snprintf(key, len, "%s\n%s", t->conf ? t->conf : "",
				    t->id ? t->id : "");

	for (unsigned i = 0; i < t->nopts && n < len; i++)
		n += (size_t)snprintf(key + n, len - n, "\n%s=%s", t->opt[i].key,
				      t->opt[i].val);
}

/* Defaults, the conf file, the target's options, in that order. */
static int cluster_configure(rados_t r, const struct pvd_rbd_target *t)
{
	static const char *const dflt[][2] = {
		{ "rbd_cache", "false" },
		/* A discard reads back as zeros, as a punched hole does. */
		{ "rbd_skip_partial_discard", "false" },
		{ "client_mount_timeout", "5" },
		{ "rados_mon_op_timeout", "5" },
		{ "rados_osd_op_timeout", "30" },
	};
	int rc;

	for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++)
		rados_conf_set(r, dflt[i][0], dflt[i][1]);
	/* As QEMU: the default ceph.conf when none is named, if any. */
	rc = rados_conf_read_file(r, t->conf);
	if (rc < 0 && t->conf) {
		log_warn("reading %s: %s", t->conf, strerror(-rc));
		return rc;
	}
	for (unsigned i = 0; i < t->nopts; i++) {
		rc = rados_conf_set(r, t->opt[i].key, t->opt[i].val);
		if (rc < 0) {
			log_warn("Ceph option %s=%s: %s", t->opt[i].key,
				 t->opt[i].val, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int cluster_get(struct rbd_eng *e, const struct pvd_rbd_target *t,
		       struct rbd_cluster **out)
{
	struct rbd_cluster *c;
	char key[RBD_KEY_MAX];
	int rc;

	cluster_key(t, key, sizeof(key));
	for (c = e->clusters; c; c = c->next) {
		if (strcmp(c->key, key) == 0) {
			c->refs++;
			*out = c;
			return 0;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memcpy(c->key, key, sizeof(key));
	rc = rados_create(&c->rados, t->id);
	if (rc < 0) {
		log_warn("rados_create(%s): %s", t->id ? t->id : "admin",
			 strerror(-rc));
		free(c);
		return rc;
	}
	rc = cluster_configure(c->rados, t);
	if (rc == 0) {
		rc = rados_connect(c->rados);
		if (rc < 0)
			log_warn("connecting to the Ceph cluster (%s): %s",
				 t->conf ? t->conf : "default ceph.conf", strerror(-rc));
	}
	if (rc < 0)
		goto fail;
	c->refs = 1;
	c->next = e->clusters;
	e->clusters = c;
	*out = c;
	return 0;
fail:
	rados_shutdown(c->rados);
	free(c);
	return rc;
}

static void cluster_put(struct rbd_eng *e, struct rbd_cluster *c)
{
	struct rbd_cluster **pp;

	if (--c->refs)
		return;
	for (pp = &e->clusters; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	rados_shutdown(c->rados);
	free(c);
}

/* ------------------------------------------------------------- parking */

/* Moves parked opens and closes on once complete. */
static void park_collect(struct rbd_eng *e)
{
	struct rbd_park **pp = &e->parked, *p;

	while ((p = *pp) != NULL) {
		ssize_t r;

		if (!rbd_aio_is_complete(p->comp)) {
			pp = &p->next;
			continue;
		}
		r = rbd_aio_get_return_value(p->comp);
		rbd_aio_release(p->comp);
		if (!p->closing && r == 0 &&
		    rbd_aio_create_completion(NULL, NULL, &p->comp) == 0) {
			p->closing = true;
			if (rbd_aio_close(p->img, p->comp) == 0)
				continue;	/* looked at again */
			rbd_aio_release(p->comp);
		}
		*pp = p->next;
		rados_ioctx_destroy(p->io);
		cluster_put(e, p->c);
		free(p);
	}
}

/* ---------------------------------------------------------------- engine */

static int rbde_engine_create(unsigned depth, struct blk_engine **out)
{
	struct rbd_eng *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->base.ops = &blk_backend_rbd;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0) {
		int rc = -errno;

		free(r);
		return rc;
	}
	*out = &r->base;
	return 0;
}

static void rbde_engine_destroy(struct blk_engine *e)
{
	struct rbd_eng *r;

	if (!e)
		return;
	r = to_eng(e);
	/* The disks are closed (parked) by now: their closes are waited
	 * for, but not for ever when the cluster is gone (at exit). */
	for (unsigned i = 0; r->parked && i < RBD_OPEN_WAIT_MS; i++) {
		struct timespec ms = { 0, 1000000 };

		park_collect(r);
		nanosleep(&ms, NULL);
	}
	if (r->parked) {
		log_warn("closing RBD images: no answer from the cluster, given up");
		return;
	}
	while (r->clusters) {
		log_warn("a rados handle still referenced at exit");
		r->clusters->refs = 1;
		cluster_put(r, r->clusters);
	}
	close(r->efd);
	free(r);
}

static int rbde_engine_fd(struct blk_engine *e)
{
	return to_eng(e)->efd;
}

static void rbde_ack(struct blk_engine *e)
{
	uint64_t cnt;

	if (read(to_eng(e)->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_warn("eventfd: %s", strerror(errno));
}

static void rbde_commit(struct blk_engine *e)
{
	/* librbd sends each request as it is queued. */
}

/* librbd's result: bytes for a read (a short one is -EIO), 0 or the
 * length for the others, or -errno. */
static int rbde_result(const struct blk_io *io, ssize_t r)
{
	if (r < 0)
		return (int)r;
	if (io->op == BLK_IO_READ && (uint64_t)r != io->len)
		return -EIO;
	return 0;
}

/* Moves the completions librbd has ready onto the engine's done list
 * (no callback runs); how many. */
/* The request's bounce buffer (RBD_BOUNCE_MIN_IOV), in priv[0]. */
static char *bounce_of(struct blk_io *io)
{
	return (char *)(uintptr_t)io->priv[0];
}

static void bounce_copy(struct blk_io *io, bool to_iov)
{
	char *b = bounce_of(io);

	for (unsigned i = 0; i < io->iovcnt; i++) {
		if (to_iov)
			memcpy(io->iov[i].iov_base, b, io->iov[i].iov_len);
		else
			memcpy(b, io->iov[i].iov_base, io->iov[i].iov_len);
		b += io->iov[i].iov_len;
	}
}

/* A completion's result; a bounce buffer is scattered and freed. */
static void finish_io(struct blk_io *io, ssize_t r)
{
	io->res = rbde_result(io, r);
	if (bounce_of(io)) {
		if (io->op == BLK_IO_READ && io->res == 0)
			bounce_copy(io, true);
		free(bounce_of(io));
		io->priv[0] = 0;
	}
}

static unsigned harvest(struct rbd_eng *r)
{
	rbd_completion_t comps[RBD_POLL_BATCH];
	unsigned n = 0;

	for (struct rbd_disk *d = r->disks; d; d = d->next) {
		int got = RBD_POLL_BATCH;

		while (d->inflight && got == RBD_POLL_BATCH) {
			got = rbd_poll_io_events(d->img, comps, RBD_POLL_BATCH);
			if (got <= 0)
				break;
			d->since = hv_now_ns();
			for (int i = 0; i < got; i++) {
				struct blk_io *io = rbd_aio_get_arg(comps[i]);

				finish_io(io, rbd_aio_get_return_value(comps[i]));
				rbd_aio_release(comps[i]);
				d->inflight--;
				d->last_err = io->res;
				ioq_push(&r->done, io);
			}
			n += (unsigned)got;
		}
	}
	return n;
}

static unsigned rbde_reap(struct blk_engine *e, unsigned max)
{
	struct rbd_eng *r = to_eng(e);

	if (r->parked)
		park_collect(r);
	harvest(r);
	return ioq_complete(&r->done, max);
}

static bool rbde_ready(struct blk_engine *e)
{
	struct rbd_eng *r = to_eng(e);

	return r->done.n || harvest(r);
}

/* ---------------------------------------------------------------- images */

/* rbd_aio_open, waited for at most RBD_OPEN_WAIT_MS: the image, or
 * -errno (-ETIMEDOUT: parked, the io context and cluster reference with
 * it). */
static int open_bounded(struct rbd_eng *r, struct rbd_disk *d,
			const struct pvd_rbd_target *t, bool readonly)
{
	struct rbd_park *p = calloc(1, sizeof(*p));
	struct timespec ms = { 0, 1000000 };
	int rc;

	if (!p)
		return -ENOMEM;
	rc = rbd_aio_create_completion(NULL, NULL, &p->comp);
	if (rc < 0)
		goto fail;
	rc = readonly ? rbd_aio_open_read_only(d->io, t->image, &p->img, t->snap, p->comp)
		      : rbd_aio_open(d->io, t->image, &p->img, t->snap, p->comp);
	if (rc < 0) {
		rbd_aio_release(p->comp);
		goto fail;
	}
	for (unsigned i = 0; i < RBD_OPEN_WAIT_MS && !rbd_aio_is_complete(p->comp); i++)
		nanosleep(&ms, NULL);
	if (!rbd_aio_is_complete(p->comp)) {
		p->io = d->io;
		p->c = d->c;
		d->io = NULL;
		d->c = NULL;
		p->next = r->parked;
		r->parked = p;
		return -ETIMEDOUT;
	}
	rc = (int)rbd_aio_get_return_value(p->comp);
	rbd_aio_release(p->comp);
	d->img = p->img;
fail:
	free(p);
	return rc;
}

/* The pool's io context and the image, with its size. */
static int open_image(struct rbd_eng *r, struct rbd_disk *d,
		      const struct pvd_rbd_target *t, bool readonly,
		      struct blk_backing_info *info)
{
	const char *what = "rados_ioctx_create";
	int rc = rados_ioctx_create(d->c->rados, t->pool, &d->io);

	if (rc == 0 && t->nspace)
		rados_ioctx_set_namespace(d->io, t->nspace);
	if (rc == 0) {
		what = "opening the image";
		rc = open_bounded(r, d, t, readonly);
	}
	if (rc == 0) {
		what = "rbd_set_image_notification";
		rc = rbd_set_image_notification(d->img, r->efd, EVENT_TYPE_EVENTFD);
	}
	if (rc == 0) {
		what = "rbd_get_size";
		rc = rbd_get_size(d->img, &info->size);
	}
	if (rc < 0)
		log_warn("pool %s, image %s: %s: %s", t->pool, t->image, what,
			 rc == -ETIMEDOUT ? "no answer from the cluster" : strerror(-rc));
	return rc;
}

/* Undoes what open_image and cluster_get did; closes are parked. */
static void disk_release(struct rbd_eng *r, struct rbd_disk *d)
{
	struct rbd_park *p = NULL;

	if (d->img && (p = calloc(1, sizeof(*p))) != NULL &&
	    rbd_aio_create_completion(NULL, NULL, &p->comp) == 0) {
		p->closing = true;
		if (rbd_aio_close(d->img, p->comp) == 0) {
			p->img = d->img;
			p->io = d->io;
			p->c = d->c;
			p->next = r->parked;
			r->parked = p;
			return;
		}
		rbd_aio_release(p->comp);
	}
	free(p);
	if (d->img)
		rbd_close(d->img);
	if (d->io)
		rados_ioctx_destroy(d->io);
	if (d->c)
		cluster_put(r, d->c);
}

static int rbde_open(struct blk_engine *e, const char *params, bool readonly,
		    struct blk_backing **out, struct blk_backing_info *info)
{
	struct rbd_eng *r = to_eng(e);
	struct pvd_rbd_target *t = malloc(sizeof(*t));
	struct rbd_disk *d = calloc(1, sizeof(*d));
	char err[160];
	int rc = -ENOMEM;

	if (!t || !d)
		goto fail;
	rc = pvd_rbd_parse(params, t, err, sizeof(err));
	if (rc < 0) {
		log_warn("%s", err);
		goto fail;
	}
	if (t->snap && !readonly) {
		log_warn("snapshot %s@%s is read-only: attach it read-only",
			 t->image, t->snap);
		rc = -EROFS;
		goto fail;
	}
	rc = cluster_get(r, t, &d->c);
	if (rc == 0)
		rc = open_image(r, d, t, readonly || t->snap, info);
	if (rc < 0) {
		disk_release(r, d);
		goto fail;
	}
	d->base.ops = &blk_backend_rbd;
	d->base.engine = e;
	info->lbs = 512;
	info->pbs = 4096;
	info->blockdev = false;
	info->readonly = readonly;
	info->direct = true;        /* no host page cache; rbd_cache is off */
	info->discard = true;
	d->next = r->disks;
	r->disks = d;
	*out = &d->base;
	free(t);
	return 0;
fail:
	free(t);
	free(d);
	return rc;
}

static void rbde_close_backing(struct blk_backing *bb)
{
	struct rbd_eng *r;
	struct rbd_disk *d, **pp;

	if (!bb)
		return;
	d = to_disk(bb);
	r = to_eng(bb->engine);
	for (pp = &r->disks; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	disk_release(r, d);
	free(d);
}

static int rbde_submit(struct blk_backing *bb, struct blk_io *io)
{
	struct rbd_disk *d = to_disk(bb);
	rbd_completion_t c;
	int rc;

	io->backing = bb;
	rc = rbd_aio_create_completion(io, NULL, &c);
	if (rc < 0)
		return rc;
	io->priv[0] = 0;
	if ((io->op == BLK_IO_READ || io->op == BLK_IO_WRITE) &&
	    io->iovcnt >= RBD_BOUNCE_MIN_IOV) {
		char *b = malloc(io->len);

		io->priv[0] = (uintptr_t)b;
		if (b && io->op == BLK_IO_WRITE)
			bounce_copy(io, false);
	}
	switch (io->op) {
	case BLK_IO_READ:
		rc = bounce_of(io) ? rbd_aio_read(d->img, io->offset, io->len, bounce_of(io), c)
				   : rbd_aio_readv(d->img, io->iov, (int)io->iovcnt, io->offset, c);
		break;
	case BLK_IO_WRITE:
		rc = bounce_of(io) ? rbd_aio_write(d->img, io->offset, io->len, bounce_of(io), c)
				   : rbd_aio_writev(d->img, io->iov, (int)io->iovcnt, io->offset, c);
		break;
	case BLK_IO_FLUSH:
		rc = rbd_aio_flush(d->img, c);
		break;
	default:
		rc = rbd_aio_discard(d->img, io->offset, io->len, c);
		break;
	}
	if (rc < 0) {
		free(bounce_of(io));
		io->priv[0] = 0;
		rbd_aio_release(c);
		return rc;
	}
	if (d->inflight++ == 0)
		d->since = hv_now_ns();
	return 0;
}

/* The image's size as librbd knows it: its header watch learns of an
 * `rbd resize`, and the refresh that follows may read the header. */
static int rbde_size(struct blk_backing *bb, uint64_t *bytes)
{
	return rbd_get_size(to_disk(bb)->img, bytes);
}

/* The cluster as this disk sees it (backend.h's remote op, shared with
 * the nbd engine): librbd reconnects to monitors and OSDs by itself and
 * retries inside, so there are no losses or resends to count here, only
 * requests that stopped completing ("stalled") or a failed last one. */
static void rbde_remote(struct blk_backing *bb, struct blk_remote_state *out)
{
	struct rbd_disk *d = to_disk(bb);

	*out = (struct blk_remote_state){ .state = "connected" };
	if (d->inflight && hv_now_ns() - d->since > RBD_STALL_NS)
		out->state = "stalled";
	else if (d->last_err < 0)
		out->state = "error";
}

const struct blk_backend_ops blk_backend_rbd = {
	.name = "rbd",
	.engine_create = rbde_engine_create,
	.engine_destroy = rbde_engine_destroy,
	.engine_fd = rbde_engine_fd,
	.ack = rbde_ack,
	.commit = rbde_commit,
	.reap = rbde_reap,
	.ready = rbde_ready,
	.open = rbde_open,
	.close = rbde_close_backing,
	.submit_rw = rbde_submit,
	.flush = rbde_submit,
	.discard = rbde_submit,
	.size = rbde_size,
	.remote = rbde_remote,
};
