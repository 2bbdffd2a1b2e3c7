/* A queue's requests in flight, outside the process (see journal.h).
 *
 * The order of the writes is the whole design; each is a release store,
 * so that a process killed anywhere leaves a prefix of them:
 *   take:      entry.msg, entry.req_idx; entry.state = INFLIGHT;
 *              hdr.req_cons = idx + 1
 *   answer:    entry.rsp_idx = R; entry.state = ANSWERING;
 *              (the response written into ring slot R);
 *              hdr.rsp_done = R + 1; entry.state = FREE
 * so that on recovery, D = hdr.rsp_done:
 *   - ring slots [rsp_prod, D) hold responses written whole: published;
 *   - an entry ANSWERING at R < D was answered: freed;
 *   - an entry INFLIGHT, or ANSWERING at R >= D, is taken again from its
 *     copy (its response, if half written at R, is written again there:
 *     the new producer starts at D = R);
 *   - new requests are consumed from max(hdr.req_cons, every entry's
 *     req_idx + 1).
 * Responses are written in ring order, one at a time on the queue's
 * thread, so at most one entry is ANSWERING at R >= D. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "pvd/log.h"
#include "pvd/mapfile.h"
#include "journal.h"

#define JOURNAL_MAGIC 0x70766a31u   /* "pvj1" */
#define JOURNAL_VERSION 1u

enum { ENT_FREE, ENT_INFLIGHT, ENT_ANSWERING };

struct blk_journal_hdr {
	uint32_t magic, version, nslots, msg_size;
	struct blk_journal_id id;
	uint32_t req_cons;              /* consumed up to here */
	uint32_t rsp_done;              /* responses written whole up to here */
};

struct blk_journal_ent {
	uint32_t state, req_idx, rsp_idx, pad;
	union blk_msg msg;
};

static void put(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static uint32_t get(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static bool hdr_fits(const struct blk_journal_hdr *h,
		     const struct blk_journal_id *id, unsigned nslots)
{
	return h->magic == JOURNAL_MAGIC && h->version == JOURNAL_VERSION &&
	       h->nslots == nslots && h->msg_size == sizeof(union blk_msg) &&
	       !memcmp(&h->id, id, sizeof(*id));
}

int blk_journal_open(struct blk_journal *j, const char *path,
		     const struct blk_journal_id *id, unsigned nslots,
		     bool keep)
{
	size_t len = sizeof(struct blk_journal_hdr) +
		     (size_t)nslots * sizeof(struct blk_journal_ent);
	void *map;
	bool kept;
	int rc;

	memset(j, 0, sizeof(*j));
	rc = pvd_mapfile_open(path, len, &map, &kept);
	if (rc < 0)
		return rc;
	j->h = map;
	j->e = (struct blk_journal_ent *)(j->h + 1);
	j->nslots = nslots;
	j->len = len;
	j->valid = keep && kept && hdr_fits(j->h, id, nslots);
	if (!j->valid) {
		memset(map, 0, len);
		*j->h = (struct blk_journal_hdr){
			.magic = JOURNAL_MAGIC, .version = JOURNAL_VERSION,
			.nslots = nslots, .msg_size = sizeof(union blk_msg),
			.id = *id,
		};
	}
	return 0;
}

void blk_journal_close(struct blk_journal *j)
{
	pvd_mapfile_close(j->h, j->len);
	j->h = NULL;
	j->e = NULL;
}

void blk_journal_reset(struct blk_journal *j, RING_IDX rsp_prod)
{
	if (!j->h)
		return;
	for (unsigned i = 0; i < j->nslots; i++)
		put(&j->e[i].state, ENT_FREE);
	put(&j->h->rsp_done, rsp_prod);
	put(&j->h->req_cons, rsp_prod);
}

void blk_journal_take(struct blk_journal *j, unsigned slot, RING_IDX idx,
		      const union blk_msg *msg)
{
	struct blk_journal_ent *e;

	if (!j->h)
		return;
	e = &j->e[slot];
	memcpy(&e->msg, msg, sizeof(e->msg));
	e->req_idx = idx;
	put(&e->state, ENT_INFLIGHT);
	put(&j->h->req_cons, idx + 1);
}

void blk_journal_answering(struct blk_journal *j, unsigned slot, RING_IDX rsp)
{
	if (!j->h)
		return;
	j->e[slot].rsp_idx = rsp;
	put(&j->e[slot].state, ENT_ANSWERING);
	/* The response's stores (the caller's next) come after this one. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

void blk_journal_answered(struct blk_journal *j, unsigned slot, RING_IDX rsp)
{
	if (!j->h)
		return;
	put(&j->h->rsp_done, rsp + 1);
	put(&j->e[slot].state, ENT_FREE);
}

const union blk_msg *blk_journal_msg(const struct blk_journal *j,
				     unsigned slot)
{
	return &j->e[slot].msg;
}

/* b - a in ring arithmetic, within [0, max]? */
static bool within(RING_IDX a, RING_IDX b, unsigned max)
{
	return (RING_IDX)(b - a) <= max;
}

/* The ring's order (oldest first), so that a barrier taken again waits
 * for what it waited for before (insertion sort: a ring's worth). */
static void sort_by_age(const struct blk_journal *j,
			struct blk_journal_plan *plan, RING_IDX c)
{
	for (unsigned i = 1; i < plan->nredo; i++) {
		unsigned v = plan->redo[i], k = i;
		RING_IDX age = c - j->e[v].req_idx;

		while (k > 0 && c - j->e[plan->redo[k - 1]].req_idx < age) {
			plan->redo[k] = plan->redo[k - 1];
			k--;
		}
		plan->redo[k] = v;
	}
}

int blk_journal_recover(struct blk_journal *j, RING_IDX rsp_prod,
			RING_IDX req_prod, unsigned ring_size,
			struct blk_journal_plan *plan)
{
	RING_IDX d, c;

	plan->nredo = 0;
	if (!j->h || !j->valid)
		goto reset;
	d = get(&j->h->rsp_done);
	c = get(&j->h->req_cons);
	/* rsp_prod <= rsp_done <= req_cons <= req_prod, each step within a
	 * ring (the frontend produces no request over an unpublished
	 * response, so req_prod stays within a ring of rsp_prod). */
	if (!within(rsp_prod, d, ring_size) || !within(d, c, ring_size) ||
	    !within(c, req_prod, ring_size) || !within(rsp_prod, req_prod, ring_size))
		goto reset;
	for (unsigned i = 0; i < j->nslots; i++) {
		struct blk_journal_ent *e = &j->e[i];
		uint32_t st = get(&e->state);

		if (st == ENT_FREE)
			continue;
		/* Answered whole: its response is before rsp_done. */
		if (st == ENT_ANSWERING && within(e->rsp_idx + 1, d, ring_size)) {
			put(&e->state, ENT_FREE);
			continue;
		}
		if (st != ENT_INFLIGHT && st != ENT_ANSWERING)
			goto reset;
		/* A request answered late may be far behind the others (the
		 * frontend goes on producing over other answers); only one
		 * taken just before the kill can be past req_cons. */
		if (within(c, e->req_idx + 1, ring_size)) {
			if (!within(e->req_idx + 1, req_prod, ring_size))
				goto reset;
			c = e->req_idx + 1;
		}
		put(&e->state, ENT_INFLIGHT);
		plan->redo[plan->nredo++] = i;
	}
	sort_by_age(j, plan, c);
	put(&j->h->req_cons, c);
	plan->rsp_done = d;
	plan->req_cons = c;
	return 0;
reset:
	plan->nredo = 0;
	plan->rsp_done = rsp_prod;
	plan->req_cons = rsp_prod;
	blk_journal_reset(j, rsp_prod);
	return -EINVAL;
}
