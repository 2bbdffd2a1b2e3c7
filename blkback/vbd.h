/* A virtual block device: its storage and its queues, independent of the
 * store.  xenbus.c drives it from the frontend's and toolstack's nodes;
 * tests drive it directly. */
#ifndef PVD_BLKBACK_VBD_H
#define PVD_BLKBACK_VBD_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "queue.h"
#include "stats.h"

/* Most queues a frontend may ask for (multi-queue-num-queues). */
#define BLK_MAX_QUEUES 16

struct blk_loop;
struct blk_vbd;

/* What a frontend published for its rings. */
struct blk_vbd_conn {
	unsigned nqueues;
	unsigned nr_pages;          /* per ring: 1 << ring-page-order */
	bool persistent;
	/* The queues' journals (journal.h): DIR/<domid>-<devid>-<queue>;
	 * NULL: none.  reattach: a restarted daemon, which keeps them. */
	const char *journal_dir;
	unsigned devid;
	bool reattach;
	/* The queues this device serves (bit i: queue i); 0: all.  A disk
	 * spread over I/O threads is one blk_vbd per thread, each opened on
	 * its thread's engine and serving its share (xenbus.c). */
	uint32_t mask;
	struct {
		grant_ref_t refs[BLK_MAX_RING_PAGES];
		evtchn_port_t port;
	} q[BLK_MAX_QUEUES];
};

enum blk_vbd_event {
	BLK_VBD_FATAL = 1,     /* a queue was halted: the guest misbehaved */
	BLK_VBD_DRAINED = 2,   /* a disconnect that had I/O in flight ended */
};
typedef void blk_vbd_cb(struct blk_vbd *v, int event, void *arg);

struct blk_vbd_cfg {
	unsigned max_indirect;      /* 0: no indirect requests */
	unsigned max_pgrants;       /* persistent grants per queue */
	bool discard;               /* discard-enable */
	const char *keyfile;        /* format luks: the key file; NULL: raw */
	bool quiet;                 /* another thread's share: no open line */
};

struct blk_vbd {
	struct blk_loop *loop;
	domid_t domid;
	struct blk_vbd_cfg cfg;
	struct blk_disk disk;
	struct blk_backing_info info;
	const struct blk_backend_ops *engine;  /* disk.ops, or under crypt's */
	bool encrypted;             /* disk.ops is blk_backend_crypt */
	unsigned sector_size;       /* logical: 512, or LUKS2's sector_size */
	char why[192];              /* why open failed, when it knows */
	bool open;
	unsigned nqueues;           /* the frontend's; q[i] NULL if not ours */
	struct blk_queue *q[BLK_MAX_QUEUES];
	unsigned draining;          /* stopped queues still in flight */
	struct blk_qstats gone;     /* counters of queues that are gone */
	blk_vbd_cb *cb;
	void *cb_arg;
};

/* Opens the storage that params names, with the loop's engine for
 * dflt, or with the engine its scheme names ("null:...", NBD URIs,
 * "rbd:..."); a cfg with a keyfile opens it as a LUKS volume (crypt.h).
 * On failure v->why may hold one line for the operator. */
int blk_vbd_open(struct blk_vbd *v, struct blk_loop *l, domid_t domid,
		 const struct blk_backend_ops *dflt, const char *params,
		 bool readonly, const struct blk_vbd_cfg *cfg,
		 blk_vbd_cb *cb, void *arg);
/* Closes the storage; the device must be disconnected and drained. */
void blk_vbd_close(struct blk_vbd *v);
/* Starts the queues (all or none). */
int blk_vbd_connect(struct blk_vbd *v, const struct blk_vbd_conn *c);
/* Stops the queues: 0 when done, -EBUSY while I/O drains (then
 * BLK_VBD_DRAINED).  Idempotent. */
int blk_vbd_disconnect(struct blk_vbd *v);
bool blk_vbd_busy(const struct blk_vbd *v);
/* Rings it serves now. */
unsigned blk_vbd_rings(const struct blk_vbd *v);
/* Whether its queues may be served by other threads, each opening the
 * same params on its own engine: plain files, block devices and the null
 * target.  Not LUKS (a key derivation and a cipher context per open),
 * nor remote storage (a connection or cluster handle per open). */
bool blk_vbd_shareable(const struct blk_vbd *v);
/* Re-reads the storage's size: 1 if the sector count changed. */
int blk_vbd_resize(struct blk_vbd *v);
/* The storage's state: a remote disk's (backend.h's remote op:
 * "connected", "reconnecting", "stalled", "error"), "local" (a file or
 * device), "closed". */
const char *blk_vbd_state(const struct blk_vbd *v);
/* Counters since open: the queues gone plus the live ones. */
void blk_vbd_stats(const struct blk_vbd *v, struct blk_qstats *sum);

#endif
