/* blkif requests: the copy taken off the ring, and its validation.
 *
 * Pure functions on private copies (never on the shared ring), so that
 * they can be unit-tested alone.  A guest controls every byte of a
 * request; every check a later stage relies on is made here.
 */
#ifndef PVD_BLKBACK_REQ_H
#define PVD_BLKBACK_REQ_H

#include <stdbool.h>
#include <stdint.h>

#include "pvd/ring_util.h"   /* barriers for <xen/io/ring.h> */
#include <xen/io/blkif.h>

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE (1u << BLK_SECTOR_SHIFT)
/* blkif sectors are 512 bytes whatever the disk's, and segments are
 * within one 4 KiB page. */
#define BLK_SECTORS_PER_PAGE (4096u >> BLK_SECTOR_SHIFT)
/* Segment descriptors in one indirect page. */
#define BLK_SEGS_PER_INDIRECT_PAGE \
	(4096u / sizeof(struct blkif_request_segment))
/* The most we advertise in feature-max-indirect-segments (Linux's
 * MAX_INDIRECT_SEGMENTS): 1 MiB per request in 4 KiB segments. */
#define BLK_MAX_INDIRECT_SEGS 256u
_Static_assert(BLK_MAX_INDIRECT_SEGS <=
	       BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * BLK_SEGS_PER_INDIRECT_PAGE,
	       "indirect segments fit in the indirect pages a request names");

/* A ring entry: every request layout of <xen/io/blkif.h>.  All of them
 * are the size of the ring's entry, and the operation and id are at the
 * same place in each. */
union blk_msg {
	blkif_request_t rw;
	blkif_request_discard_t discard;
	blkif_request_indirect_t indirect;
};
_Static_assert(sizeof(union blk_msg) == sizeof(blkif_request_t),
	       "request layouts share the ring entry");

enum blk_kind {
	BLK_K_READ = 1,
	BLK_K_WRITE,
	BLK_K_FLUSH,      /* FLUSH_DISKCACHE, with or without data */
	BLK_K_BARRIER,    /* WRITE_BARRIER, with or without data */
	BLK_K_DISCARD,
};

/* One data segment: a granted page and the bytes of it to transfer. */
struct blk_seg {
	grant_ref_t gref;
	uint16_t off, len;   /* bytes within the page */
};

/* A validated request. */
struct blk_req {
	uint64_t id;
	uint64_t sector;        /* first 512-byte sector */
	uint64_t nr_sectors;
	uint8_t op;             /* operation echoed in the response */
	uint8_t kind;           /* enum blk_kind */
	uint8_t nind;           /* indirect pages still to read */
	bool secure;            /* discard: BLKIF_DISCARD_SECURE */
	uint16_t nseg;
	grant_ref_t ind[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};

/* What the disk allows. */
struct blk_limits {
	uint64_t sectors;       /* size in 512-byte sectors */
	unsigned max_indirect;  /* 0: no indirect requests */
	bool readonly;
	bool discard;
};

/* Validates the header of request m against lim.  Fills r (id and op are
 * always filled, so that an error can be answered) and, for a direct
 * request, its segments.  An indirect request's segments are still to be
 * read (r->nind pages, r->nseg segments): blk_req_parse_indirect.
 * Returns 0 or the response status (BLKIF_RSP_ERROR, BLKIF_RSP_EOPNOTSUPP). */
int blk_req_parse(const union blk_msg *m, const struct blk_limits *lim,
		  struct blk_req *r, struct blk_seg *segs);
/* Validates r->nseg descriptors copied from the indirect pages and
 * checks the range; 0 or BLKIF_RSP_ERROR. */
int blk_req_parse_indirect(struct blk_req *r, const struct blk_limits *lim,
			   const struct blkif_request_segment *in,
			   struct blk_seg *segs);
/* One segment descriptor: first_sect <= last_sect < 8.  Adds its sectors
 * to *nr_sectors; 0 or BLKIF_RSP_ERROR. */
int blk_seg_parse(const struct blkif_request_segment *in, struct blk_seg *out,
		  uint64_t *nr_sectors);
/* Whether [sector, sector + nr) lies within the disk (no overflow). */
bool blk_range_ok(uint64_t sector, uint64_t nr, uint64_t disk_sectors);
/* Writes the response to (id, op, status) at dst, every byte defined
 * (XSA-216): the padding of blkif_response_t is zero, never stack
 * contents nor what dst held before. */
void blk_rsp_fill(void *dst, uint64_t id, uint8_t op, int16_t status);

#endif
