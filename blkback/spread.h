/* A disk served by pvd-blkback's I/O threads (spread.c).
 *
 * The disk is opened on one thread, its home (the least loaded when it is
 * opened).  When its frontend connects several queues and there are
 * several threads, queue 0 stays home and each other queue goes to the
 * thread with the least load then, as Linux's xen-blkback gives each ring
 * its own kernel thread: a multi-queue guest is served by several CPUs.
 * A thread serving some of the queues has its own part: a struct blk_vbd
 * of its own, the same params opened on that thread's engine (its own
 * file descriptor in its own io_context or io_uring) and serving only its
 * queues (blk_vbd_conn.mask).  Only storage that can be opened twice
 * without a cost or a second identity is spread (blk_vbd_shareable:
 * files, block devices, the null target); LUKS and remote storage keep
 * every queue home.
 *
 * Ordering across parts is the guest's as on Linux: a blkif queue orders
 * nothing against another, and a flush (fdatasync of the one inode or
 * block device, whichever descriptor) covers every write completed
 * before it, on any queue.
 *
 * Ownership: struct blk_spread is the main thread's.  Each part's vbd is
 * its thread's, reached only through blk_pool_call; a part reports
 * (BLK_VBD_FATAL, BLK_VBD_DRAINED) through the cb given to open, from
 * its own thread, so a drained event means one part is idle: the caller
 * asks blk_spread_busy for the whole disk. */
#ifndef PVD_BLKBACK_SPREAD_H
#define PVD_BLKBACK_SPREAD_H

#include <stdbool.h>

#include "pool.h"
#include "vbd.h"

struct blk_spread_part {
	struct blk_thread *thr;     /* NULL: not open */
	unsigned rings;             /* counted in thr->load */
	struct blk_vbd vbd;
};

struct blk_spread {
	struct blk_pool *pool;
	struct blk_spread_part home;
	/* Other threads' parts (open while connected, and after until the
	 * next connect or close). */
	struct blk_spread_part *part[BLK_MAX_QUEUES];
	unsigned nparts;
	struct blk_qstats closed;   /* counters of parts closed */
	/* What a part is opened with (the home's). */
	domid_t domid;
	const struct blk_backend_ops *dflt;
	const char *params;         /* the caller's, kept while open */
	bool readonly;
	struct blk_vbd_cfg cfg;
	blk_vbd_cb *cb;
	void *cb_arg;
};

/* Opens the disk on the least-loaded thread (blk_vbd_open's arguments;
 * params must live until close).  On failure home.vbd.why may say why. */
int blk_spread_open(struct blk_spread *s, struct blk_pool *pool, domid_t domid,
		    const struct blk_backend_ops *dflt, const char *params,
		    bool readonly, const struct blk_vbd_cfg *cfg,
		    blk_vbd_cb *cb, void *arg);
/* Closes every part; they must be disconnected and drained.  Idempotent. */
void blk_spread_close(struct blk_spread *s);
bool blk_spread_open_p(const struct blk_spread *s);
/* Places the queues and starts them (all or none). */
int blk_spread_connect(struct blk_spread *s, const struct blk_vbd_conn *c);
/* 0 when stopped, -EBUSY while a part drains.  Idempotent. */
int blk_spread_disconnect(struct blk_spread *s);
bool blk_spread_busy(const struct blk_spread *s);
/* 1 if the size changed (every part then has the new one). */
int blk_spread_resize(struct blk_spread *s);
void blk_spread_stats(const struct blk_spread *s, struct blk_qstats *sum);
/* Runs fn(vbd, arg) on each open part's thread, home first; stops at the
 * first non-zero result and returns it. */
int blk_spread_each(const struct blk_spread *s,
		    int (*fn)(struct blk_vbd *v, void *arg), void *arg);
/* Runs fn(home vbd, arg) on the home thread (0 if not open). */
int blk_spread_home(const struct blk_spread *s,
		    int (*fn)(struct blk_vbd *v, void *arg), void *arg);

#endif
