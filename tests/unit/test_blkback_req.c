/* pvd-blkback's request validation and segment arithmetic (pure
 * functions on private copies: blkback/req.c) and the in-flight id set
 * (blkback/idset.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../blkback/idset.h"
#include "../../blkback/req.h"

static const struct blk_limits lim = {
	.sectors = 1000, .max_indirect = 256, .readonly = false, .discard = true,
};

static union blk_msg rw(uint8_t op, uint64_t sector, unsigned nseg)
{
	union blk_msg m;

	memset(&m, 0, sizeof(m));
	m.rw.operation = op;
	m.rw.id = 0xabcdef;
	m.rw.sector_number = sector;
	m.rw.nr_segments = (uint8_t)nseg;
	for (unsigned i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		m.rw.seg[i] = (struct blkif_request_segment){ 100 + i, 0, 7 };
	return m;
}

static int parse(const union blk_msg *m, struct blk_req *r)
{
	struct blk_seg segs[BLKIF_MAX_SEGMENTS_PER_REQUEST];

	return blk_req_parse(m, &lim, r, segs);
}

static void test_seg_math(void **state)
{
	struct blkif_request_segment in = { 7, 2, 5 };
	struct blk_seg out;
	uint64_t n = 10;

	assert_int_equal(blk_seg_parse(&in, &out, &n), 0);
	assert_int_equal(out.gref, 7);
	assert_int_equal(out.off, 1024);
	assert_int_equal(out.len, 2048);
	assert_int_equal(n, 14);
	in = (struct blkif_request_segment){ 7, 0, 7 };
	assert_int_equal(blk_seg_parse(&in, &out, &n), 0);
	assert_int_equal(out.off + out.len, 4096);
	in = (struct blkif_request_segment){ 7, 7, 7 };
	assert_int_equal(blk_seg_parse(&in, &out, &n), 0);
	assert_int_equal(out.off, 3584);
	assert_int_equal(out.len, 512);
	in = (struct blkif_request_segment){ 7, 5, 4 };        /* first > last */
	assert_int_equal(blk_seg_parse(&in, &out, &n), BLKIF_RSP_ERROR);
	in = (struct blkif_request_segment){ 7, 0, 8 };        /* beyond the page */
	assert_int_equal(blk_seg_parse(&in, &out, &n), BLKIF_RSP_ERROR);
	in = (struct blkif_request_segment){ 7, 255, 255 };
	assert_int_equal(blk_seg_parse(&in, &out, &n), BLKIF_RSP_ERROR);
}

static void test_range(void **state)
{
	assert_true(blk_range_ok(0, 1000, 1000));
	assert_true(blk_range_ok(999, 1, 1000));
	assert_true(blk_range_ok(1000, 0, 1000));
	assert_false(blk_range_ok(1000, 1, 1000));
	assert_false(blk_range_ok(999, 2, 1000));
	assert_false(blk_range_ok(UINT64_MAX, 2, 1000));
	assert_false(blk_range_ok(2, UINT64_MAX, 1000));
	assert_false(blk_range_ok(UINT64_MAX - 1, 2, UINT64_MAX));
}

static void test_parse_rw(void **state)
{
	union blk_msg m = rw(BLKIF_OP_WRITE, 10, 3);
	struct blk_seg segs[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	struct blk_req r;

	assert_int_equal(blk_req_parse(&m, &lim, &r, segs), 0);
	assert_int_equal(r.id, 0xabcdef);
	assert_int_equal(r.op, BLKIF_OP_WRITE);
	assert_int_equal(r.kind, BLK_K_WRITE);
	assert_int_equal(r.nseg, 3);
	assert_int_equal(r.nr_sectors, 24);
	assert_int_equal(r.sector, 10);
	assert_int_equal(segs[2].gref, 102);
	m = rw(BLKIF_OP_READ, 1000 - 88, 11);
	assert_int_equal(parse(&m, &r), 0);
	assert_int_equal(r.nr_sectors, 88);
}

static void test_parse_bad_counts(void **state)
{
	union blk_msg m;
	struct blk_req r;

	m = rw(BLKIF_OP_READ, 0, 0);
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	assert_int_equal(r.id, 0xabcdef);      /* still answerable */
	m = rw(BLKIF_OP_WRITE, 0, 0);
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m = rw(BLKIF_OP_READ, 0, 12);
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m = rw(BLKIF_OP_READ, 0, 255);
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	/* Flush and barrier may carry nothing. */
	m = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
	assert_int_equal(parse(&m, &r), 0);
	assert_int_equal(r.kind, BLK_K_FLUSH);
	m = rw(BLKIF_OP_WRITE_BARRIER, 0, 0);
	assert_int_equal(parse(&m, &r), 0);
	assert_int_equal(r.kind, BLK_K_BARRIER);
}

static void test_parse_range(void **state)
{
	union blk_msg m;
	struct blk_req r;

	m = rw(BLKIF_OP_READ, 1000 - 7, 1);
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m = rw(BLKIF_OP_READ, UINT64_MAX - 3, 1);
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m = rw(BLKIF_OP_WRITE_BARRIER, 1000, 1);
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m = rw(BLKIF_OP_READ, 0, 2);
	m.rw.seg[1].last_sect = 8;
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
}

static void test_parse_readonly(void **state)
{
	struct blk_limits ro = lim;
	struct blk_seg segs[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	union blk_msg m;
	struct blk_req r;

	ro.readonly = true;
	m = rw(BLKIF_OP_READ, 0, 1);
	assert_int_equal(blk_req_parse(&m, &ro, &r, segs), 0);
	m = rw(BLKIF_OP_WRITE, 0, 1);
	assert_int_equal(blk_req_parse(&m, &ro, &r, segs), BLKIF_RSP_ERROR);
	m = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
	assert_int_equal(blk_req_parse(&m, &ro, &r, segs), BLKIF_RSP_ERROR);
}

static void test_parse_discard(void **state)
{
	struct blk_limits nod = lim;
	union blk_msg m;
	struct blk_req r;
	struct blk_seg segs[1];

	memset(&m, 0, sizeof(m));
	m.discard.operation = BLKIF_OP_DISCARD;
	m.discard.id = 9;
	m.discard.sector_number = 100;
	m.discard.nr_sectors = 900;
	assert_int_equal(parse(&m, &r), 0);
	assert_int_equal(r.kind, BLK_K_DISCARD);
	assert_int_equal(r.nr_sectors, 900);
	m.discard.nr_sectors = 901;
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m.discard.nr_sectors = UINT64_MAX;
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m.discard.nr_sectors = 8;
	m.discard.flag = BLKIF_DISCARD_SECURE;
	assert_int_equal(parse(&m, &r), BLKIF_RSP_EOPNOTSUPP);
	m.discard.flag = 0;
	nod.discard = false;
	assert_int_equal(blk_req_parse(&m, &nod, &r, segs), BLKIF_RSP_EOPNOTSUPP);
}

static void test_parse_indirect(void **state)
{
	struct blk_seg segs[BLK_MAX_INDIRECT_SEGS];
	struct blkif_request_segment in[BLK_MAX_INDIRECT_SEGS];
	struct blk_limits noind = lim;
	union blk_msg m;
	struct blk_req r;

	memset(&m, 0, sizeof(m));
	m.indirect.operation = BLKIF_OP_INDIRECT;
	m.indirect.indirect_op = BLKIF_OP_READ;
	m.indirect.nr_segments = 100;
	m.indirect.id = 5;
	m.indirect.sector_number = 8;
	m.indirect.indirect_grefs[0] = 77;
	assert_int_equal(parse(&m, &r), 0);
	assert_int_equal(r.op, BLKIF_OP_READ);      /* answered as the read */
	assert_int_equal(r.nind, 1);
	assert_int_equal(r.ind[0], 77);
	for (unsigned i = 0; i < 100; i++)
		in[i] = (struct blkif_request_segment){ i, 0, 7 };
	assert_int_equal(blk_req_parse_indirect(&r, &lim, in, segs), 0);
	assert_int_equal(r.nr_sectors, 800);
	/* A segment beyond its page, found in the indirect page. */
	in[50].last_sect = 8;
	assert_int_equal(blk_req_parse_indirect(&r, &lim, in, segs), BLKIF_RSP_ERROR);
	in[50].last_sect = 7;
	/* 100 pages from sector 8: 808 > 1000?  no; from 300: past the end. */
	r.sector = 300;
	assert_int_equal(blk_req_parse_indirect(&r, &lim, in, segs), BLKIF_RSP_ERROR);
	m.indirect.nr_segments = 0;
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m.indirect.nr_segments = BLK_MAX_INDIRECT_SEGS + 1;
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m.indirect.nr_segments = 0xffff;
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m.indirect.nr_segments = 4;
	m.indirect.indirect_op = BLKIF_OP_FLUSH_DISKCACHE;
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m.indirect.indirect_op = BLKIF_OP_INDIRECT;
	assert_int_equal(parse(&m, &r), BLKIF_RSP_ERROR);
	m.indirect.indirect_op = BLKIF_OP_WRITE;
	noind.max_indirect = 0;
	assert_int_equal(blk_req_parse(&m, &noind, &r, segs), BLKIF_RSP_EOPNOTSUPP);
}

static void test_parse_unknown(void **state)
{
	union blk_msg m = rw(BLKIF_OP_RESERVED_1, 0, 1);
	struct blk_req r;

	assert_int_equal(parse(&m, &r), BLKIF_RSP_EOPNOTSUPP);
	m.rw.operation = 200;
	assert_int_equal(parse(&m, &r), BLKIF_RSP_EOPNOTSUPP);
	assert_int_equal(r.op, 200);
}

/* What a response's 16 bytes must be: the fields at their offsets, every
 * other byte zero.  Built by hand, not by the code under test. */
static void rsp_expected(unsigned char *b, uint64_t id, uint8_t op,
			 int16_t status)
{
	memset(b, 0, sizeof(blkif_response_t));
	memcpy(b + offsetof(blkif_response_t, id), &id, sizeof(id));
	b[offsetof(blkif_response_t, operation)] = op;
	memcpy(b + offsetof(blkif_response_t, status), &status, sizeof(status));
}

/* Every byte of a response is defined (XSA-216).  The slots are dirtied
 * first (0xAA, as a guest's old request or our stack could be): a fill
 * that left any padding byte alone would leave 0xAA there, whatever the
 * compiler does with locals. */
static void test_response_bytes(void **state)
{
	static const struct { uint64_t id; uint8_t op; int16_t st; } rs[] = {
		{ 0x0102030405060708ull, BLKIF_OP_WRITE, BLKIF_RSP_EOPNOTSUPP },
		{ 0, BLKIF_OP_READ, BLKIF_RSP_OKAY },
		{ UINT64_MAX, BLKIF_OP_DISCARD, BLKIF_RSP_ERROR },
		{ 0xaaaaaaaaaaaaaaaaull, 0xaa, (int16_t)0xaaaa },
	};
	enum { N = sizeof(rs) / sizeof(rs[0]) };
	unsigned char ring[N + 1][sizeof(blkif_response_t)];
	unsigned char want[sizeof(blkif_response_t)];

	assert_int_equal(sizeof(blkif_response_t), 16);
	memset(ring, 0xaa, sizeof(ring));
	for (size_t i = 0; i < N; i++)
		blk_rsp_fill(ring[i], rs[i].id, rs[i].op, rs[i].st);
	for (size_t i = 0; i < N; i++) {
		rsp_expected(want, rs[i].id, rs[i].op, rs[i].st);
		assert_memory_equal(ring[i], want, sizeof(want));
	}
	/* Nothing past the response is touched. */
	for (size_t k = 0; k < sizeof(ring[N]); k++)
		assert_int_equal(ring[N][k], 0xaa);
}

static void test_idset(void **state)
{
	struct idset s;

	assert_int_equal(idset_init(&s, 32), 0);
	for (uint64_t i = 0; i < 32; i++)
		assert_true(idset_add(&s, i * 0x100000001ull));
	assert_false(idset_add(&s, 5 * 0x100000001ull));
	idset_del(&s, 5 * 0x100000001ull);
	assert_true(idset_add(&s, 5 * 0x100000001ull));
	/* Delete everything in an order unlike insertion, re-add. */
	for (uint64_t i = 0; i < 32; i++)
		idset_del(&s, ((i * 7) % 32) * 0x100000001ull);
	assert_int_equal(s.n, 0);
	for (uint64_t i = 0; i < 32; i++)
		assert_true(idset_add(&s, i * 0x100000001ull));
	/* Deleting what is not there changes nothing. */
	idset_del(&s, 12345);
	assert_int_equal(s.n, 32);
	idset_free(&s);
}

static void test_idset_churn(void **state)
{
	struct idset s;
	uint64_t live[64] = { 0 }, x = 1;
	bool in[64] = { false };

	assert_int_equal(idset_init(&s, 64), 0);
	for (int round = 0; round < 100000; round++) {
		unsigned i;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		i = (unsigned)(x % 64);
		if (in[i]) {
			idset_del(&s, live[i]);
			in[i] = false;
		} else {
			live[i] = x >> 3 & 0xff;   /* collisions on purpose */
			bool dup = false;

			for (unsigned k = 0; k < 64; k++)
				dup |= in[k] && live[k] == live[i];
			assert_int_equal(idset_add(&s, live[i]), !dup);
			in[i] = !dup;
		}
	}
	idset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seg_math),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_parse_rw),
		cmocka_unit_test(test_parse_bad_counts),
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_parse_readonly),
		cmocka_unit_test(test_parse_discard),
		cmocka_unit_test(test_parse_indirect),
		cmocka_unit_test(test_parse_unknown),
		cmocka_unit_test(test_response_bytes),
		cmocka_unit_test(test_idset),
		cmocka_unit_test(test_idset_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
