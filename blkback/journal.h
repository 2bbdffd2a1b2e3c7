/* A queue's requests in flight, kept outside the process (journal.c).
 *
 * A blkif ring slot holds a request or, once answered, its response:
 * never both.  pvd-blkback answers out of order and publishes responses
 * once a round (blk_queue_push), so a daemon killed with -9 can leave
 *   - responses written but not published: their slots, between the
 *     shared rsp_prod and our private producer, no longer hold requests;
 *   - requests consumed and in flight whose slots a response (another
 *     request's) has overwritten: nothing in the ring says they exist.
 * Attaching at rsp_prod (BACK_RING_ATTACH), the next daemon would read
 * the first as requests (garbage ids: "unknown id" in the guest's
 * blkfront, which then fails the disk) and never answer the second (the
 * guest's I/O hangs).  Linux's blkback has no such window: a kernel
 * thread is not killed mid-round.
 *
 * The journal is a small file per queue in the run directory, mapped
 * shared: what the process wrote there survives it (a process's death
 * loses no store it made; this is not about power loss, which takes the
 * guest too).  It holds the consumer index, the index up to which
 * responses are written whole, and a copy of each request in flight, in
 * the entry of its slot.  The order of the writes (journal.c) lets the
 * next daemon tell, for every entry, whether its response is in the ring
 * or must be made again, and then (blk_journal_recover): publish the
 * responses written whole, take the requests in flight again from their
 * copies, and go on consuming where its predecessor stopped.
 *
 * Owner: the queue's I/O thread, like the queue.  Best effort: a journal
 * that cannot be made leaves the queue working as before (one warning). */
#ifndef PVD_BLKBACK_JOURNAL_H
#define PVD_BLKBACK_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/io/blkif.h>

#include "req.h"

/* Which ring a journal belongs to: a frontend that reconnected has new
 * rings, and its old journal means nothing for them.  (A reconnection
 * goes through a fresh connect, which starts the journal anew anyway:
 * only a restarted daemon keeps one, for a backend left Connected.)  The
 * event channel is not part of it: the ring is what the journal is
 * about. */
struct blk_journal_id {
	uint32_t nr_pages, ref0;
};

struct blk_journal_hdr;
struct blk_journal_ent;

struct blk_journal {
	struct blk_journal_hdr *h;   /* NULL: no journal */
	struct blk_journal_ent *e;   /* [nslots] */
	unsigned nslots;
	size_t len;
	bool valid;                  /* opened with what its predecessor left */
};

/* What recovery found, for the queue to act on. */
struct blk_journal_plan {
	RING_IDX rsp_done;           /* publish responses up to here */
	RING_IDX req_cons;           /* consume new requests from here */
	unsigned nredo;              /* entries to take again ... */
	unsigned *redo;              /* ... their slots, oldest request first
				      * (caller's array, nslots) */
};

/* Opens PATH (created 0600) for a queue of NSLOTS slots.  keep: a daemon
 * re-attaching keeps what a predecessor left if it is for the same ring
 * (j->valid); otherwise the journal starts empty.  0 or -errno. */
int blk_journal_open(struct blk_journal *j, const char *path,
		     const struct blk_journal_id *id, unsigned nslots,
		     bool keep);
/* Unmaps (the file stays, for the next daemon).  Idempotent. */
void blk_journal_close(struct blk_journal *j);
/* Sets the indices of an empty journal: a fresh ring, or one whose
 * journal was not kept. */
void blk_journal_reset(struct blk_journal *j, RING_IDX rsp_prod);

/* Slot SLOT took the request at ring index IDX, copied in MSG. */
void blk_journal_take(struct blk_journal *j, unsigned slot, RING_IDX idx,
		      const union blk_msg *msg);
/* SLOT's response goes into ring index RSP next (before writing it). */
void blk_journal_answering(struct blk_journal *j, unsigned slot, RING_IDX rsp);
/* ... and was written whole; the slot is free. */
void blk_journal_answered(struct blk_journal *j, unsigned slot, RING_IDX rsp);

/* A valid journal against the ring's shared indices (the guest's to
 * scribble on): 0 and the plan; entries whose response is in the ring
 * are freed, the others (plan->redo, the copies in blk_journal_msg) are
 * in flight again, and the consumer index is the plan's.  -EINVAL if the
 * indices do not fit each other: the journal is then reset at rsp_prod
 * and the caller attaches there, as without a journal. */
int blk_journal_recover(struct blk_journal *j, RING_IDX rsp_prod,
			RING_IDX req_prod, unsigned ring_size,
			struct blk_journal_plan *plan);
const union blk_msg *blk_journal_msg(const struct blk_journal *j,
				     unsigned slot);

#endif
