/* A queue's frame in answer, kept outside the process (journal.c).
 *
 * A netif ring slot holds a request or, once answered, its response:
 * never both, and pvd-netback answers each slot in place, in ring order
 * (tx.c respond, rx.c deliver: the response to the request at index i
 * goes into slot i).  Responses are published once a batch, so a daemon
 * killed with -9 can leave
 *   - responses written but not published: their slots, between the
 *     shared rsp_prod and our private producer, no longer hold requests;
 *   - a frame's responses half written: some of its slots hold neither
 *     (a tx response overwrites the request's grant reference; an rx
 *     response the whole request).
 * Attaching at rsp_prod (BACK_RING_ATTACH), the next daemon read those
 * slots as requests: garbage grant references (the rx side then copies
 * frames into whatever page of the guest the number names, its own
 * rings included: the guest's traffic stalls) and the guest's frames or
 * buffers answered twice or never.  Linux's netback has no such window:
 * a kernel thread is not killed mid-batch.
 *
 * The journal is a small file per queue in the run directory, mapped
 * shared (what the process stored there survives it; power loss takes
 * the guest too).  For each of the queue's two rings it holds the index
 * up to which responses are written whole, and the requests of the one
 * frame being answered, copied before its first response is written.
 * On re-attach (nb_journal_recover) the next daemon publishes the
 * responses written whole, writes the frame's requests back into their
 * slots, and consumes from there: a transmit frame in answer is sent
 * again (a duplicate on the wire, as a retransmission), a receive
 * frame's buffers are offered again (the frame, in the dead daemon's
 * memory, is lost: a drop).
 *
 * Owner: the queue's I/O thread, like the queue.  Best effort: a journal
 * that cannot be made leaves the queue working as before (one warning).
 * The control ring has none: it answers one request at a time and is
 * used at connect, not under traffic. */
#ifndef PVD_NETBACK_JOURNAL_H
#define PVD_NETBACK_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>

enum nb_jring_kind { NB_JN_TX, NB_JN_RX, NB_JN_RINGS };

/* The most slots one frame's answer takes: a transmit chain as
 * nb_tx_parse scans it (1 + extras + 20), a receive frame's 17 pages and
 * its GSO slot. */
#define NB_JN_SLOTS 32
/* A ring entry (12 bytes for tx, 8 for rx), rounded up. */
#define NB_JN_SLOT_SIZE 16

/* The file's layout (the tests build the states a kill leaves). */
struct nb_jring {
	uint32_t done;               /* responses written whole up to here */
	uint32_t pad;
	/* base | n << 32, one store: slots [base, base + n) are the frame
	 * in answer, their requests in copy[]; base + n == done once it is
	 * answered whole. */
	uint64_t pending;
	uint8_t copy[NB_JN_SLOTS][NB_JN_SLOT_SIZE];
};

struct nb_jfile {
	uint32_t magic, version;
	/* Which rings: a frontend that reconnected has new ones (and a
	 * fresh connect starts the journal anew anyway). */
	grant_ref_t tx_ref, rx_ref;
	struct nb_jring ring[NB_JN_RINGS];
};

struct nb_journal {
	struct nb_jfile *f;          /* NULL: no journal */
	bool valid;                  /* opened with what a predecessor left */
};

/* What recovery found for one ring. */
struct nb_journal_plan {
	RING_IDX done;               /* publish responses up to here, then
				      * consume from here */
	unsigned nrestore;           /* requests to write back at done.. */
};

/* Opens PATH (created 0600).  keep: a daemon re-attaching keeps what a
 * predecessor left if it is for the same rings (j->valid); otherwise the
 * journal starts empty.  0 or -errno. */
int nb_journal_open(struct nb_journal *j, const char *path,
		    grant_ref_t tx_ref, grant_ref_t rx_ref, bool keep);
/* Unmaps (the file stays, for the next daemon).  Idempotent. */
void nb_journal_close(struct nb_journal *j);
/* An empty journal for ring K, whose producer is at IDX. */
void nb_journal_reset(struct nb_journal *j, enum nb_jring_kind k,
		      RING_IDX idx);

/* Before writing the first response of a frame: its N requests, from
 * ring index IDX (== done), each SIZE bytes at SLOTS. */
void nb_journal_begin(struct nb_journal *j, enum nb_jring_kind k,
		      RING_IDX idx, const void *slots, size_t size, unsigned n);
/* ... and once every response of it is written: done = IDX. */
void nb_journal_end(struct nb_journal *j, enum nb_jring_kind k, RING_IDX idx);

/* A valid journal against ring K's shared indices (the guest's to
 * scribble on): 0 and the plan (the requests to write back are
 * nb_journal_copy(j, k, 0 .. nrestore-1)).  -EINVAL if the indices do
 * not fit each other: the ring's journal is reset at rsp_prod and the
 * caller attaches there, as without a journal. */
int nb_journal_recover(struct nb_journal *j, enum nb_jring_kind k,
		       RING_IDX rsp_prod, RING_IDX req_prod, unsigned ring_size,
		       struct nb_journal_plan *plan);
const void *nb_journal_copy(const struct nb_journal *j, enum nb_jring_kind k,
			    unsigned i);

#endif
