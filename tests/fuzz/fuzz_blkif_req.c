/* libFuzzer target: pvd-blkback's validation of guest requests
 * (blkback/req.c, built from the blkback sources: fuzz_blkif_req.srcs)
 * on whatever bytes a hostile guest puts in a ring entry and in its
 * indirect descriptor pages.  The input is the disk's limits
 * (16 bytes), one ring entry (sizeof(blkif_request_t)), then indirect
 * descriptors.  Whenever validation accepts a request, everything the
 * later stages rely on must hold: segments within their page, whole
 * sectors, the sector count their sum, the range inside the disk, no
 * write to a read-only disk, counts within the limits. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_segs(const struct blk_req *r, const struct blk_seg *segs,
		       const struct blk_limits *lim)
{
	uint64_t sum = 0;

	if (r->nseg > (lim->max_indirect > BLKIF_MAX_SEGMENTS_PER_REQUEST ?
		       lim->max_indirect : BLKIF_MAX_SEGMENTS_PER_REQUEST))
		abort();
	for (unsigned i = 0; i < r->nseg; i++) {
		if (!segs[i].len || segs[i].len % 512 || segs[i].off % 512 ||
		    (unsigned)segs[i].off + segs[i].len > 4096)
			abort();
		sum += segs[i].len / 512;
	}
	if (sum != r->nr_sectors)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct blkif_request_segment ind[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST *
						BLK_SEGS_PER_INDIRECT_PAGE];
	static struct blk_seg segs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST *
				   BLK_SEGS_PER_INDIRECT_PAGE];
	struct blk_limits lim;
	union blk_msg m;
	struct blk_req r;
	uint64_t sectors;
	uint8_t rsp[sizeof(blkif_response_t)];
	int st;

	if (size < 16 + sizeof(m))
		return 0;
	memcpy(&sectors, data, 8);
	lim.sectors = sectors >> (data[8] & 63);
	lim.readonly = data[9] & 1;
	lim.discard = data[9] & 2;
	lim.max_indirect = (data[10] & 1) ? BLK_MAX_INDIRECT_SEGS : 0;
	memcpy(&m, data + 16, sizeof(m));
	data += 16 + sizeof(m);
	size -= 16 + sizeof(m);
	memset(ind, 0xff, sizeof(ind));
	memcpy(ind, data, size < sizeof(ind) ? size : sizeof(ind));

	st = blk_req_parse(&m, &lim, &r, segs);
	if (st != 0 && st != BLKIF_RSP_ERROR && st != BLKIF_RSP_EOPNOTSUPP)
		abort();
	if (st == 0 && r.nind) {
		if (r.nind > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST || !lim.max_indirect)
			abort();
		st = blk_req_parse_indirect(&r, &lim, ind, segs);
	}
	if (st == 0) {
		if (r.kind < BLK_K_READ || r.kind > BLK_K_DISCARD || r.nind)
			abort();
		if (r.kind != BLK_K_DISCARD)
			check_segs(&r, segs, &lim);
		if (r.nr_sectors && !blk_range_ok(r.sector, r.nr_sectors, lim.sectors))
			abort();
		/* A flush or barrier without data has no range. */
		if (r.nr_sectors && (r.sector + r.nr_sectors < r.sector ||
				     r.sector + r.nr_sectors > lim.sectors))
			abort();
		if (lim.readonly && r.kind != BLK_K_READ)
			abort();
		if ((r.kind == BLK_K_READ || r.kind == BLK_K_WRITE) && !r.nseg)
			abort();
	}
	blk_rsp_fill(rsp, r.id, r.op, (int16_t)st);
	if (rsp[9] || rsp[12] || rsp[13] || rsp[14] || rsp[15])
		abort();
	return 0;
}
