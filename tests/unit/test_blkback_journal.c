/* The journal of a queue's requests in flight (blkback/journal.c): what a
 * daemon killed at each point of taking and answering leaves its
 * successor, and the checks that keep a journal from another ring or
 * with indices that do not fit from being used. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../blkback/journal.h"

#define NSLOTS 32

struct ctx {
	char dir[64], path[96];
	struct blk_journal j;
	unsigned redo[NSLOTS];
	struct blk_journal_plan plan;
};

static const struct blk_journal_id ID = { 1, 8 };

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	strcpy(c->dir, "/tmp/pvd-jn-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/3-0-0", c->dir);
	assert_int_equal(blk_journal_open(&c->j, c->path, &ID, NSLOTS, false), 0);
	assert_false(c->j.valid);
	blk_journal_reset(&c->j, 0);
	c->plan.redo = c->redo;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	blk_journal_close(&c->j);
	blk_journal_close(&c->j);     /* idempotent */
	unlink(c->path);
	rmdir(c->dir);
	free(c);
	return 0;
}

static union blk_msg msg(uint64_t id)
{
	union blk_msg m;

	memset(&m, 0, sizeof(m));
	m.rw.operation = BLKIF_OP_READ;
	m.rw.id = id;
	return m;
}

/* The next daemon opens what this one left. */
static void reopen(struct ctx *c, const struct blk_journal_id *id)
{
	blk_journal_close(&c->j);
	assert_int_equal(blk_journal_open(&c->j, c->path, id, NSLOTS, true), 0);
}

static void test_every_point_of_a_kill(void **state)
{
	struct ctx *c = *state;
	union blk_msg m;

	for (unsigned i = 0; i < 5; i++) {
		m = msg(100 + i);
		blk_journal_take(&c->j, i, i, &m);
	}
	/* Slot 3 answered whole into ring index 0, slot 1 into 1; slot 4
	 * killed while its response (index 2) was being written. */
	blk_journal_answering(&c->j, 3, 0);
	blk_journal_answered(&c->j, 3, 0);
	blk_journal_answering(&c->j, 1, 1);
	blk_journal_answered(&c->j, 1, 1);
	blk_journal_answering(&c->j, 4, 2);
	reopen(c, &ID);
	assert_true(c->j.valid);
	/* One response was published before the kill: rsp_prod 1. */
	assert_int_equal(blk_journal_recover(&c->j, 1, 5, NSLOTS, &c->plan), 0);
	assert_int_equal(c->plan.rsp_done, 2);
	assert_int_equal(c->plan.req_cons, 5);
	assert_int_equal(c->plan.nredo, 3);
	assert_int_equal(c->redo[0], 0);
	assert_int_equal(c->redo[1], 2);
	assert_int_equal(c->redo[2], 4);     /* in ring order: 0, 2, 4 */
	assert_int_equal(blk_journal_msg(&c->j, 4)->rw.id, 104);
	assert_int_equal(blk_journal_msg(&c->j, 0)->rw.id, 100);
	/* Recovered, and killed again at once: the same plan. */
	reopen(c, &ID);
	assert_int_equal(blk_journal_recover(&c->j, 1, 5, NSLOTS, &c->plan), 0);
	assert_int_equal(c->plan.nredo, 3);
	assert_int_equal(c->plan.rsp_done, 2);
}

static void test_other_ring_or_bad_indices(void **state)
{
	struct ctx *c = *state;
	struct blk_journal_id other = { 1, 9 };
	union blk_msg m = msg(7);

	blk_journal_take(&c->j, 0, 0, &m);
	reopen(c, &other);
	assert_false(c->j.valid);
	assert_int_equal(blk_journal_recover(&c->j, 0, 1, NSLOTS, &c->plan), -EINVAL);
	assert_int_equal(c->plan.req_cons, 0);
	assert_int_equal(c->plan.nredo, 0);
	/* The same ring, but the guest's indices do not fit ours. */
	blk_journal_take(&c->j, 0, 0, &m);
	reopen(c, &other);
	assert_true(c->j.valid);
	assert_int_equal(blk_journal_recover(&c->j, 5, 6, NSLOTS, &c->plan), -EINVAL);
	assert_int_equal(c->plan.rsp_done, 5);
	assert_int_equal(c->plan.req_cons, 5);
	/* ... and what recovery reset is empty from then on. */
	reopen(c, &other);
	assert_int_equal(blk_journal_recover(&c->j, 5, 6, NSLOTS, &c->plan), 0);
	assert_int_equal(c->plan.nredo, 0);
	assert_int_equal(c->plan.req_cons, 5);
}

static void test_redo_in_ring_order(void **state)
{
	struct ctx *c = *state;
	union blk_msg m;

	/* Slots taken out of ring order (slot 5 for the oldest request). */
	m = msg(10);
	blk_journal_take(&c->j, 5, 0, &m);
	m = msg(11);
	blk_journal_take(&c->j, 2, 1, &m);
	m = msg(12);
	blk_journal_take(&c->j, 0, 2, &m);
	reopen(c, &ID);
	assert_int_equal(blk_journal_recover(&c->j, 0, 3, NSLOTS, &c->plan), 0);
	assert_int_equal(c->plan.nredo, 3);
	assert_int_equal(c->redo[0], 5);
	assert_int_equal(c->redo[1], 2);
	assert_int_equal(c->redo[2], 0);
}

static void test_late_answer_far_behind(void **state)
{
	struct ctx *c = *state;
	union blk_msg m = msg(1);

	/* Request 0 stays in flight while 40 others are taken and answered:
	 * the ring wrapped over it, the journal still has it. */
	blk_journal_take(&c->j, 0, 0, &m);
	for (unsigned i = 1; i <= 40; i++) {
		unsigned s = 1 + i % 4;

		m = msg(1000 + i);
		blk_journal_take(&c->j, s, i, &m);
		blk_journal_answering(&c->j, s, i - 1);
		blk_journal_answered(&c->j, s, i - 1);
	}
	reopen(c, &ID);
	assert_int_equal(blk_journal_recover(&c->j, 40, 41, NSLOTS, &c->plan), 0);
	assert_int_equal(c->plan.nredo, 1);
	assert_int_equal(c->redo[0], 0);
	assert_int_equal(c->plan.req_cons, 41);
	assert_int_equal(c->plan.rsp_done, 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_point_of_a_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_ring_or_bad_indices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redo_in_ring_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_answer_far_behind, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
