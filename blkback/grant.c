/* Grants of a queue: the data segments of a request, mapped one page at a
 * time (a request's pages need not be contiguous, and a single-page map
 * is the cheap case of the hypervisor layer), the indirect descriptor
 * pages (copied once, then unmapped), and persistent grants.
 *
 * Persistent grants (feature-persistent): a grant is mapped the first
 * time the guest uses it and stays mapped until the ring disconnects, up
 * to a limit per queue (Linux's xen_blkif_max_pgrants); beyond it, pages
 * are mapped per request.  They are mapped writable if the grant allows
 * (the same grant may serve a read later), else read-only: such an entry
 * serves writes and indirect pages, and a read into it is mapped per
 * request (and refused, if the grant is still read-only).  Nothing is
 * evicted: a guest that keeps handing out new grants only fills its own
 * queue's table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pvd/log.h"
#include "queue.h"

struct pgnt_ent {
	grant_ref_t gref;
	bool writable;
	void *page;         /* NULL: free */
};

struct pgnt_cache {
	struct pgnt_ent *tab;
	unsigned mask, n, max;
};

int blk_pgnt_create(unsigned max, struct pgnt_cache **out)
{
	struct pgnt_cache *c = calloc(1, sizeof(*c));
	unsigned size = 16;

	if (!c)
		return -ENOMEM;
	while (size < 2 * max)
		size *= 2;
	c->tab = calloc(size, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return -ENOMEM;
	}
	c->mask = size - 1;
	c->max = max;
	*out = c;
	return 0;
}

void blk_pgnt_destroy(struct hv *hv, struct pgnt_cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i <= c->mask; i++)
		if (c->tab[i].page)
			hv_grant_unmap(hv, c->tab[i].page, 1);
	free(c->tab);
	free(c);
}

static struct pgnt_ent *pgnt_find(struct pgnt_cache *c, grant_ref_t gref)
{
	unsigned i = (gref * 0x9E3779B1u) & c->mask;

	while (c->tab[i].page && c->tab[i].gref != gref)
		i = (i + 1) & c->mask;
	return &c->tab[i];
}

/* The persistent mapping of gref, made on first use; NULL when the table
 * is full, the grant cannot be mapped, or only read-only when we must
 * write into it. */
static void *pgnt_get(struct blk_queue *q, grant_ref_t gref, bool writable)
{
	struct pgnt_cache *c = q->pgnt;
	struct pgnt_ent *e = pgnt_find(c, gref);
	void *page;
	bool w = true;

	if (e->page) {
		if (writable && !e->writable)
			return NULL;
		q->st.pgnt_hits++;
		return e->page;
	}
	if (c->n >= c->max) {
		q->st.pgnt_full++;
		return NULL;
	}
	if (hv_grant_map(q->hv, q->domid, 1, &gref, 1, &page) < 0) {
		w = false;
		if (writable ||
		    hv_grant_map(q->hv, q->domid, 1, &gref, 0, &page) < 0)
			return NULL;
	}
	e->gref = gref;
	e->writable = w;
	e->page = page;
	c->n++;
	q->st.pgnt_mapped++;
	return page;
}

/* A page for gref, persistent if possible; writable when we must write
 * into it (a read from the disk). */
static int seg_page(struct blk_queue *q, grant_ref_t gref, bool writable,
		    void **page, uint8_t *persistent)
{
	*persistent = 0;
	if (q->pgnt) {
		*page = pgnt_get(q, gref, writable);
		if (*page) {
			*persistent = 1;
			return 0;
		}
	}
	return hv_grant_map(q->hv, q->domid, 1, &gref, writable, page);
}

int blk_map_segs(struct blk_queue *q, struct blk_slot *s)
{
	bool writable = s->req.kind == BLK_K_READ;
	unsigned i;
	int rc = 0;

	for (i = 0; i < s->req.nseg; i++) {
		rc = seg_page(q, s->seg[i].gref, writable, &s->page[i],
			      &s->pgnt[i]);
		if (rc < 0)
			break;
		s->iov[i].iov_base = (char *)s->page[i] + s->seg[i].off;
		s->iov[i].iov_len = s->seg[i].len;
	}
	if (rc < 0) {
		log_debug("dom%u queue %u: grant %u: %s", (unsigned)q->domid,
			  q->index, s->seg[i].gref, strerror(-rc));
		s->page[i] = NULL;
		blk_unmap_segs(q, s);
	}
	return rc;
}

void blk_unmap_segs(struct blk_queue *q, struct blk_slot *s)
{
	for (unsigned i = 0; i < s->req.nseg; i++) {
		if (!s->page[i])
			break;
		if (!s->pgnt[i])
			hv_grant_unmap(q->hv, s->page[i], 1);
		s->page[i] = NULL;
	}
}

int blk_read_indirect(struct blk_queue *q, const struct blk_req *r)
{
	unsigned left = r->nseg;
	size_t esz = sizeof(struct blkif_request_segment);

	for (unsigned p = 0; p < r->nind && left; p++) {
		unsigned n = left < BLK_SEGS_PER_INDIRECT_PAGE ?
			     left : BLK_SEGS_PER_INDIRECT_PAGE;
		void *page = q->pgnt ? pgnt_get(q, r->ind[p], false) : NULL;
		bool own = !page;
		int rc;

		if (own) {
			rc = hv_grant_map(q->hv, q->domid, 1, &r->ind[p],
					  0, &page);
			if (rc < 0) {
				log_debug("dom%u queue %u: indirect grant %u: %s",
					  (unsigned)q->domid, q->index,
					  r->ind[p], strerror(-rc));
				return rc;
			}
		}
		memcpy(q->ind_tmp + (size_t)p * BLK_SEGS_PER_INDIRECT_PAGE,
		       page, n * esz);
		if (own)
			hv_grant_unmap(q->hv, page, 1);
		left -= n;
	}
	/* Validation reads the copy, never the guest's page. */
	__asm__ __volatile__("" ::: "memory");
	return 0;
}
