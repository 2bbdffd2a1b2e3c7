/* A queue's frame in answer, outside the process (see journal.h).
 *
 * The order of the stores is the whole design; each is a release store,
 * so that a process killed anywhere leaves a prefix of them.  For each
 * frame, with D = done at its start:
 *   begin:  copy[0..n) = its requests; pending = D | n << 32
 *   (its responses written into ring slots D .. D+n-1)
 *   end:    done = D + n
 * so that on recovery, with P = pending = base | n << 32:
 *   - base == done: the frame was in answer; its slots may hold
 *     responses, requests or a mix: the copies go back into them and it
 *     is taken again;
 *   - base + n == done: it was answered whole (and copy[] may already
 *     hold the next frame's requests, whose pending was not stored:
 *     their slots are untouched);
 *   - anything else is not a state this code leaves: reset.
 * Ring slots [rsp_prod, done) hold responses written whole: published. */
#include <errno.h>
#include <string.h>

#include "pvd/log.h"
#include "pvd/mapfile.h"
#include "journal.h"

#define JOURNAL_MAGIC 0x70766e31u   /* "pvn1" */
#define JOURNAL_VERSION 1u

static void put32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void put64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

int nb_journal_open(struct nb_journal *j, const char *path,
		    grant_ref_t tx_ref, grant_ref_t rx_ref, bool keep)
{
	void *map;
	bool kept;
	int rc;

	memset(j, 0, sizeof(*j));
	rc = pvd_mapfile_open(path, sizeof(struct nb_jfile), &map, &kept);
	if (rc < 0)
		return rc;
	j->f = map;
	j->valid = keep && kept && j->f->magic == JOURNAL_MAGIC &&
		   j->f->version == JOURNAL_VERSION &&
		   j->f->tx_ref == tx_ref && j->f->rx_ref == rx_ref;
	if (!j->valid) {
		memset(j->f, 0, sizeof(*j->f));
		j->f->magic = JOURNAL_MAGIC;
		j->f->version = JOURNAL_VERSION;
		j->f->tx_ref = tx_ref;
		j->f->rx_ref = rx_ref;
	}
	return 0;
}

void nb_journal_close(struct nb_journal *j)
{
	pvd_mapfile_close(j->f, sizeof(*j->f));
	j->f = NULL;
}

void nb_journal_reset(struct nb_journal *j, enum nb_jring_kind k,
		      RING_IDX idx)
{
	if (!j->f)
		return;
	put64(&j->f->ring[k].pending, idx);
	put32(&j->f->ring[k].done, idx);
}

void nb_journal_begin(struct nb_journal *j, enum nb_jring_kind k,
		      RING_IDX idx, const void *slots, size_t size, unsigned n)
{
	struct nb_jring *r;

	if (!j->f)
		return;
	r = &j->f->ring[k];
	for (unsigned i = 0; i < n; i++)
		memcpy(r->copy[i], (const uint8_t *)slots + i * size, size);
	put64(&r->pending, (uint64_t)idx | (uint64_t)n << 32);
	/* The responses' stores (the caller's next) come after this one. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

void nb_journal_end(struct nb_journal *j, enum nb_jring_kind k, RING_IDX idx)
{
	if (j->f)
		put32(&j->f->ring[k].done, idx);
}

const void *nb_journal_copy(const struct nb_journal *j, enum nb_jring_kind k,
			    unsigned i)
{
	return j->f->ring[k].copy[i];
}

/* b - a in ring arithmetic, within [0, max]? */
static bool within(RING_IDX a, RING_IDX b, unsigned max)
{
	return (RING_IDX)(b - a) <= max;
}

int nb_journal_recover(struct nb_journal *j, enum nb_jring_kind k,
		       RING_IDX rsp_prod, RING_IDX req_prod, unsigned ring_size,
		       struct nb_journal_plan *plan)
{
	struct nb_jring *r;
	RING_IDX d, base;
	uint64_t p;
	unsigned n;

	plan->done = rsp_prod;
	plan->nrestore = 0;
	if (!j->f || !j->valid)
		goto reset;
	r = &j->f->ring[k];
	d = __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
	p = __atomic_load_n(&r->pending, __ATOMIC_ACQUIRE);
	base = (RING_IDX)p;
	n = (unsigned)(p >> 32);
	/* rsp_prod <= done <= req_prod, within a ring: the frontend
	 * produces no request over a slot it has not seen answered. */
	if (!within(rsp_prod, d, ring_size) || !within(d, req_prod, ring_size) ||
	    !within(rsp_prod, req_prod, ring_size) || n > NB_JN_SLOTS)
		goto reset;
	if (base == d && n) {
		if (!within(d + n, req_prod, ring_size))
			goto reset;
		plan->nrestore = n;
	} else if ((RING_IDX)(base + n) != d) {
		goto reset;
	}
	plan->done = d;
	return 0;
reset:
	plan->done = rsp_prod;
	plan->nrestore = 0;
	nb_journal_reset(j, k, rsp_prod);
	return -EINVAL;
}
