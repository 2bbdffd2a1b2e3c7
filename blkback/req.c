/* Validation of blkif requests (see req.h).  The rules are Linux
 * xen-blkback's (dispatch_rw_block_io, xen_blkbk_parse_indirect,
 * dispatch_discard_io, vbd_translate), on a private copy. */
#include <stddef.h>
#include <string.h>

#include "req.h"

bool blk_range_ok(uint64_t sector, uint64_t nr, uint64_t disk_sectors)
{
	return nr <= disk_sectors && sector <= disk_sectors - nr;
}

int blk_seg_parse(const struct blkif_request_segment *in, struct blk_seg *out,
		  uint64_t *nr_sectors)
{
	if (in->last_sect >= BLK_SECTORS_PER_PAGE ||
	    in->last_sect < in->first_sect)
		return BLKIF_RSP_ERROR;
	out->gref = in->gref;
	out->off = (uint16_t)(in->first_sect << BLK_SECTOR_SHIFT);
	out->len = (uint16_t)((in->last_sect - in->first_sect + 1u)
			      << BLK_SECTOR_SHIFT);
	*nr_sectors += (uint64_t)(in->last_sect - in->first_sect + 1u);
	return 0;
}

/* What a data-carrying request may do on this disk. */
static int rw_allowed(const struct blk_req *r, const struct blk_limits *lim)
{
	if (r->kind != BLK_K_READ && lim->readonly)
		return BLKIF_RSP_ERROR;
	if (r->nr_sectors && !blk_range_ok(r->sector, r->nr_sectors, lim->sectors))
		return BLKIF_RSP_ERROR;
	return 0;
}

static int parse_direct(const blkif_request_t *m, const struct blk_limits *lim,
			struct blk_req *r, struct blk_seg *segs)
{
	unsigned n = m->nr_segments;

	/* Only a flush or barrier may carry no data. */
	if (n > BLKIF_MAX_SEGMENTS_PER_REQUEST ||
	    (n == 0 && (r->kind == BLK_K_READ || r->kind == BLK_K_WRITE)))
		return BLKIF_RSP_ERROR;
	r->nseg = (uint16_t)n;
	r->sector = m->sector_number;
	for (unsigned i = 0; i < n; i++)
		if (blk_seg_parse(&m->seg[i], &segs[i], &r->nr_sectors))
			return BLKIF_RSP_ERROR;
	return rw_allowed(r, lim);
}

static int parse_indirect(const blkif_request_indirect_t *m,
			  const struct blk_limits *lim, struct blk_req *r)
{
	unsigned n = m->nr_segments, pages;

	if (m->indirect_op != BLKIF_OP_READ && m->indirect_op != BLKIF_OP_WRITE)
		return BLKIF_RSP_ERROR;
	r->kind = m->indirect_op == BLKIF_OP_READ ? BLK_K_READ : BLK_K_WRITE;
	if (!lim->max_indirect)
		return BLKIF_RSP_EOPNOTSUPP;
	if (n == 0 || n > lim->max_indirect)
		return BLKIF_RSP_ERROR;
	pages = (n + BLK_SEGS_PER_INDIRECT_PAGE - 1) / BLK_SEGS_PER_INDIRECT_PAGE;
	if (pages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
		return BLKIF_RSP_ERROR;
	if (r->kind == BLK_K_WRITE && lim->readonly)
		return BLKIF_RSP_ERROR;
	r->nseg = (uint16_t)n;
	r->nind = (uint8_t)pages;
	r->sector = m->sector_number;
	memcpy(r->ind, m->indirect_grefs, pages * sizeof(r->ind[0]));
	return 0;
}

static int parse_discard(const blkif_request_discard_t *m,
			 const struct blk_limits *lim, struct blk_req *r)
{
	r->sector = m->sector_number;
	r->nr_sectors = m->nr_sectors;
	r->secure = (m->flag & BLKIF_DISCARD_SECURE) != 0;
	if (r->secure || !lim->discard)
		return BLKIF_RSP_EOPNOTSUPP;
	if (lim->readonly || !blk_range_ok(r->sector, r->nr_sectors, lim->sectors))
		return BLKIF_RSP_ERROR;
	return 0;
}

int blk_req_parse(const union blk_msg *m, const struct blk_limits *lim,
		  struct blk_req *r, struct blk_seg *segs)
{
	memset(r, 0, offsetof(struct blk_req, ind));
	r->id = m->rw.id;
	r->op = m->rw.operation;
	switch (m->rw.operation) {
	case BLKIF_OP_READ:
		r->kind = BLK_K_READ;
		return parse_direct(&m->rw, lim, r, segs);
	case BLKIF_OP_WRITE:
		r->kind = BLK_K_WRITE;
		return parse_direct(&m->rw, lim, r, segs);
	case BLKIF_OP_FLUSH_DISKCACHE:
		r->kind = BLK_K_FLUSH;
		return parse_direct(&m->rw, lim, r, segs);
	case BLKIF_OP_WRITE_BARRIER:
		r->kind = BLK_K_BARRIER;
		return parse_direct(&m->rw, lim, r, segs);
	case BLKIF_OP_DISCARD:
		r->kind = BLK_K_DISCARD;
		return parse_discard(&m->discard, lim, r);
	case BLKIF_OP_INDIRECT:
		/* Answered with the operation it carries, as xen-blkback
		 * does and blkfront checks. */
		r->op = m->indirect.indirect_op;
		return parse_indirect(&m->indirect, lim, r);
	default:
		return BLKIF_RSP_EOPNOTSUPP;
	}
}

int blk_req_parse_indirect(struct blk_req *r, const struct blk_limits *lim,
			   const struct blkif_request_segment *in,
			   struct blk_seg *segs)
{
	r->nr_sectors = 0;
	for (unsigned i = 0; i < r->nseg; i++)
		if (blk_seg_parse(&in[i], &segs[i], &r->nr_sectors))
			return BLKIF_RSP_ERROR;
	r->nind = 0;
	return rw_allowed(r, lim);
}

/* Zeroed where it is written, then filled: the padding of the ring's slot
 * is whatever was there before (the guest's request), and a local copy
 * would carry our stack whenever the compiler leaves its padding alone. */
void blk_rsp_fill(void *dst, uint64_t id, uint8_t op, int16_t status)
{
	unsigned char *b = dst;

	memset(b, 0, sizeof(blkif_response_t));
	memcpy(b + offsetof(blkif_response_t, id), &id, sizeof(id));
	memcpy(b + offsetof(blkif_response_t, operation), &op, sizeof(op));
	memcpy(b + offsetof(blkif_response_t, status), &status, sizeof(status));
}
