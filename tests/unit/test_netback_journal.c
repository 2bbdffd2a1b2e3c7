/* The journal of a netback queue's frame in answer (netback/journal.c):
 * what a daemon killed at each point of answering a frame leaves its
 * successor, and the checks that keep a journal for other rings or with
 * indices that do not fit from being used. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../netback/journal.h"

#define RSIZE 256

struct ctx {
	char dir[64], path[96];
	struct nb_journal j;
	struct nb_journal_plan plan;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	strcpy(c->dir, "/tmp/pvd-njn-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/3-0-0", c->dir);
	assert_int_equal(nb_journal_open(&c->j, c->path, 8, 9, false), 0);
	assert_false(c->j.valid);
	nb_journal_reset(&c->j, NB_JN_TX, 0);
	nb_journal_reset(&c->j, NB_JN_RX, 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	nb_journal_close(&c->j);
	nb_journal_close(&c->j);     /* idempotent */
	unlink(c->path);
	rmdir(c->dir);
	free(c);
	return 0;
}

/* The next daemon opens what this one left. */
static void reopen(struct ctx *c, grant_ref_t tx, grant_ref_t rx)
{
	nb_journal_close(&c->j);
	assert_int_equal(nb_journal_open(&c->j, c->path, tx, rx, true), 0);
}

/* A frame of n 12-byte slots, each filled with its ring index. */
static void frame_begin(struct ctx *c, enum nb_jring_kind k, RING_IDX at,
			unsigned n)
{
	uint8_t s[8][12];

	for (unsigned i = 0; i < n; i++)
		memset(s[i], (int)(at + i), sizeof(s[i]));
	nb_journal_begin(&c->j, k, at, s, sizeof(s[0]), n);
}

static void recover(struct ctx *c, enum nb_jring_kind k, RING_IDX rsp_prod,
		    RING_IDX req_prod, int want)
{
	assert_int_equal(nb_journal_recover(&c->j, k, rsp_prod, req_prod, RSIZE,
					    &c->plan), want);
}

/* Frames of 2 and 3 slots answered whole, the third (2 slots) killed
 * while its responses were written; one batch was published (rsp_prod
 * 2).  Then: every earlier point of the same kill. */
static void test_every_point_of_a_kill(void **state)
{
	struct ctx *c = *state;

	frame_begin(c, NB_JN_TX, 0, 2);
	nb_journal_end(&c->j, NB_JN_TX, 2);
	frame_begin(c, NB_JN_TX, 2, 3);
	nb_journal_end(&c->j, NB_JN_TX, 5);
	frame_begin(c, NB_JN_TX, 5, 2);
	reopen(c, 8, 9);
	assert_true(c->j.valid);
	recover(c, NB_JN_TX, 2, 9, 0);
	assert_int_equal(c->plan.done, 5);       /* 3 responses to publish */
	assert_int_equal(c->plan.nrestore, 2);   /* slots 5 and 6 written back */
	assert_int_equal(*(const uint8_t *)nb_journal_copy(&c->j, NB_JN_TX, 0), 5);
	assert_int_equal(*(const uint8_t *)nb_journal_copy(&c->j, NB_JN_TX, 1), 6);
	/* Recovered and killed again before anything else: the same plan. */
	reopen(c, 8, 9);
	recover(c, NB_JN_TX, 2, 9, 0);
	assert_int_equal(c->plan.done, 5);
	assert_int_equal(c->plan.nrestore, 2);
	/* The third frame answered whole, the fourth's copies written but
	 * not its pending: nothing to write back (its slots are intact). */
	nb_journal_end(&c->j, NB_JN_TX, 7);
	frame_begin(c, NB_JN_TX, 7, 1);
	{
		/* Undo the pending store only: the kill came before it. */
		struct nb_jring *r = &c->j.f->ring[NB_JN_TX];

		r->pending = 5 | (uint64_t)2 << 32;
	}
	reopen(c, 8, 9);
	recover(c, NB_JN_TX, 2, 9, 0);
	assert_int_equal(c->plan.done, 7);
	assert_int_equal(c->plan.nrestore, 0);
	/* The receive ring is separate, and empty. */
	recover(c, NB_JN_RX, 0, 4, 0);
	assert_int_equal(c->plan.done, 0);
	assert_int_equal(c->plan.nrestore, 0);
}

static void test_other_rings_or_bad_indices(void **state)
{
	struct ctx *c = *state;

	frame_begin(c, NB_JN_RX, 0, 2);
	nb_journal_end(&c->j, NB_JN_RX, 2);
	/* Another frontend's rings (new grant references). */
	reopen(c, 8, 10);
	assert_false(c->j.valid);
	recover(c, NB_JN_RX, 0, 4, -EINVAL);
	assert_int_equal(c->plan.done, 0);
	/* The same rings, indices that do not fit: done past req_prod, or
	 * rsp_prod past done, or a frame in answer past req_prod. */
	frame_begin(c, NB_JN_RX, 0, 2);
	nb_journal_end(&c->j, NB_JN_RX, 2);
	reopen(c, 8, 10);
	assert_true(c->j.valid);
	recover(c, NB_JN_RX, 0, 1, -EINVAL);
	assert_int_equal(c->plan.done, 0);
	assert_int_equal(c->plan.nrestore, 0);
	/* ... which reset it at rsp_prod: empty from then on. */
	reopen(c, 8, 10);
	recover(c, NB_JN_RX, 0, 1, 0);
	assert_int_equal(c->plan.done, 0);
	nb_journal_end(&c->j, NB_JN_RX, 4);
	reopen(c, 8, 10);
	recover(c, NB_JN_RX, 5, 6, -EINVAL);
	assert_int_equal(c->plan.done, 5);
	frame_begin(c, NB_JN_RX, 5, 3);
	reopen(c, 8, 10);
	recover(c, NB_JN_RX, 5, 7, -EINVAL);
	/* A pending that is neither in answer at done nor answered. */
	c->j.f->ring[NB_JN_RX].pending = 1 | (uint64_t)1 << 32;
	c->j.f->ring[NB_JN_RX].done = 5;
	reopen(c, 8, 10);
	recover(c, NB_JN_RX, 5, 7, -EINVAL);
	/* More slots than a frame has. */
	c->j.f->ring[NB_JN_RX].pending = 5 | (uint64_t)(NB_JN_SLOTS + 1) << 32;
	reopen(c, 8, 10);
	recover(c, NB_JN_RX, 5, 200, -EINVAL);
}

/* Ring indices wrap at 2^32 like the ring's own. */
static void test_index_wrap(void **state)
{
	struct ctx *c = *state;
	RING_IDX at = 0xfffffffeu;

	nb_journal_reset(&c->j, NB_JN_TX, at);
	frame_begin(c, NB_JN_TX, at, 3);
	reopen(c, 8, 9);
	recover(c, NB_JN_TX, at, at + 5, 0);
	assert_int_equal(c->plan.done, at);
	assert_int_equal(c->plan.nrestore, 3);
}

/* A journal file of another size (an older layout) is started anew. */
static void test_stale_size(void **state)
{
	struct ctx *c = *state;

	frame_begin(c, NB_JN_TX, 0, 1);
	nb_journal_close(&c->j);
	assert_int_equal(truncate(c->path, 100), 0);
	assert_int_equal(nb_journal_open(&c->j, c->path, 8, 9, true), 0);
	assert_false(c->j.valid);
	recover(c, NB_JN_TX, 0, 1, -EINVAL);
}

/* A symbolic link in the journal's place is not followed. */
static void test_no_symlink(void **state)
{
	struct ctx *c = *state;
	char link[128];
	struct nb_journal j;

	snprintf(link, sizeof(link), "%s/link", c->dir);
	assert_int_equal(symlink(c->path, link), 0);
	assert_int_equal(nb_journal_open(&j, link, 8, 9, true), -ELOOP);
	assert_null(j.f);
	unlink(link);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_point_of_a_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_rings_or_bad_indices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_symlink, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
