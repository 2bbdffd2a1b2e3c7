/* The tree and transactions, through views. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../stored/quota.h"
#include "../../stored/tree.h"
#include "../../stored/txn.h"

struct fx {
	struct store st;
	struct quota q;
	struct changes ch;
	struct who dom0, dom5;
};

static int setup(void **state)
{
	static const struct quota q = QUOTA_DEFAULTS;
	struct fx *f = calloc(1, sizeof(*f));
	struct xs_permissions p0 = { 0, XS_PERM_NONE };
	struct perms perms = { 1, &p0 };

	assert_int_equal(store_init(&f->st), 0);
	assert_int_equal(store_install(&f->st, node_new("/", &perms, "", 0)), 0);
	f->q = q;
	changes_init(&f->ch);
	f->dom0 = (struct who){ 0, DOMID_NONE, true };
	f->dom5 = (struct who){ 5, DOMID_NONE, false };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	changes_clear(&f->ch);
	store_destroy(&f->st);
	free(f);
	return 0;
}

static struct view V(struct fx *f, struct txn *tx, const struct who *w)
{
	return (struct view){ &f->st, tx, &f->q, w, &f->ch, NULL };
}

static const char *val(struct fx *f, struct txn *tx, const char *path)
{
	static char buf[4096];
	struct view v = V(f, tx, &f->dom0);
	const struct node *n;

	if (tree_read(&v, path, &n) < 0)
		return NULL;
	memcpy(buf, n->value, n->vlen);
	buf[n->vlen] = '\0';
	return buf;
}

static void test_write_creates_parents(void **state)
{
	struct fx *f = *state;
	struct view v = V(f, NULL, &f->dom0);
	const struct node *n;

	assert_int_equal(tree_write(&v, "/a/b/c", "v", 1), 0);
	assert_string_equal(val(f, NULL, "/a/b/c"), "v");
	assert_string_equal(val(f, NULL, "/a/b"), "");
	assert_int_equal(tree_read(&v, "/a", &n), 0);
	assert_int_equal(n->childlen, 2);
	assert_string_equal(n->children, "b");
	assert_int_equal(tree_read(&v, "/", &n), 0);
	assert_string_equal(n->children, "a");
}

static void test_children_order_and_rm(void **state)
{
	struct fx *f = *state;
	struct view v = V(f, NULL, &f->dom0);
	const struct node *n;

	tree_write(&v, "/d/x", "", 0);
	tree_write(&v, "/d/y/z", "", 0);
	tree_write(&v, "/d/w", "", 0);
	assert_int_equal(tree_read(&v, "/d", &n), 0);
	assert_memory_equal(n->children, "x\0y\0w", 6);
	assert_int_equal(tree_rm(&v, "/d/y"), 0);
	assert_null(val(f, NULL, "/d/y/z"));
	assert_int_equal(tree_read(&v, "/d", &n), 0);
	assert_memory_equal(n->children, "x\0w", 4);
	/* Missing node with an existing parent is fine; without, ENOENT. */
	assert_int_equal(tree_rm(&v, "/d/nope"), 0);
	assert_int_equal(tree_rm(&v, "/nope/nope"), -ENOENT);
	assert_int_equal(tree_rm(&v, "/"), -EINVAL);
}

static void test_deep_tree_rm(void **state)
{
	struct fx *f = *state;
	struct view v = V(f, NULL, &f->dom0);
	char path[3072];
	size_t len = 0;

	/* 1000 levels: removal must not recurse (XSA-418). */
	for (int i = 0; i < 1000 && len + 3 < sizeof(path); i++) {
		memcpy(path + len, "/d", 2);
		len += 2;
	}
	path[len] = '\0';
	assert_int_equal(tree_write(&v, path, "", 0), 0);
	assert_true(f->st.nodes.count > 1000);
	assert_int_equal(tree_rm(&v, "/d"), 0);
	assert_int_equal(f->st.nodes.count, 1);
}

static void test_permissions(void **state)
{
	struct fx *f = *state;
	struct view v0 = V(f, NULL, &f->dom0), v5 = V(f, NULL, &f->dom5);
	struct xs_permissions pp[2] = { { 5, XS_PERM_NONE }, { 7, XS_PERM_READ } };
	struct perms p = { 2, pp };
	const struct node *n;

	tree_write(&v0, "/secret", "s", 1);
	assert_int_equal(tree_read(&v5, "/secret", &n), -EACCES);
	assert_int_equal(tree_write(&v5, "/secret", "x", 1), -EACCES);
	assert_int_equal(tree_write(&v5, "/secret/child", "x", 1), -EACCES);
	tree_mkdir(&v0, "/home");
	assert_int_equal(tree_set_perms(&v0, "/home", &p), 0);
	/* The owner may create below, and owns what it creates. */
	assert_int_equal(tree_write(&v5, "/home/mine", "1", 1), 0);
	assert_int_equal(tree_read(&v5, "/home/mine", &n), 0);
	assert_int_equal(n->perms.p[0].id, 5);
	/* It may not give its node away. */
	pp[0].id = 7;
	assert_int_equal(tree_set_perms(&v5, "/home/mine", &p), -EPERM);
}

static void test_node_quota(void **state)
{
	struct fx *f = *state;
	struct view v0 = V(f, NULL, &f->dom0), v5 = V(f, NULL, &f->dom5);
	struct xs_permissions pp[1] = { { 5, XS_PERM_NONE } };
	struct perms p = { 1, pp };
	char path[64];
	int rc = 0, i;

	f->q.nodes = 10;
	tree_mkdir(&v0, "/q");
	tree_set_perms(&v0, "/q", &p);
	for (i = 0; i < 20 && rc == 0; i++) {
		snprintf(path, sizeof(path), "/q/n%d", i);
		rc = tree_write(&v5, path, "", 0);
	}
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(store_owned(&f->st, 5), 10);
	/* Values over the size quota. */
	char big[4096] = { 0 };
	assert_int_equal(tree_write(&v5, "/q/n0", big, f->q.value_size + 1), -ENOSPC);
}

static void test_txn_isolation_and_commit(void **state)
{
	struct fx *f = *state;
	struct view v0 = V(f, NULL, &f->dom0);
	struct txn *tx = txn_new(1, 0, 1024);
	struct view vt = V(f, tx, &f->dom0);

	tree_write(&v0, "/t/a", "1", 1);
	assert_int_equal(tree_write(&vt, "/t/a", "2", 1), 0);
	assert_int_equal(tree_write(&vt, "/t/new/deep", "3", 1), 0);
	/* Outside sees the old state; inside the new one. */
	assert_string_equal(val(f, NULL, "/t/a"), "1");
	assert_null(val(f, NULL, "/t/new/deep"));
	assert_string_equal(val(f, tx, "/t/a"), "2");
	assert_string_equal(val(f, tx, "/t/new/deep"), "3");
	assert_int_equal(txn_commit(tx, &f->st, UINT_MAX), 0);
	assert_string_equal(val(f, NULL, "/t/a"), "2");
	assert_string_equal(val(f, NULL, "/t/new/deep"), "3");
	txn_free(tx);
}

static void test_txn_conflicts(void **state)
{
	struct fx *f = *state;
	struct view v0 = V(f, NULL, &f->dom0);
	struct txn *tx = txn_new(1, 0, 1024);
	struct view vt = V(f, tx, &f->dom0);

	tree_write(&v0, "/c/a", "1", 1);
	assert_string_equal(val(f, tx, "/c/a"), "1");	/* read */
	tree_write(&v0, "/c/a", "9", 1);		/* someone else */
	/* The transaction's view stays stable... */
	assert_string_equal(val(f, tx, "/c/a"), "1");
	tree_write(&vt, "/c/b", "2", 1);
	/* ...and its commit fails, applying nothing. */
	assert_int_equal(txn_commit(tx, &f->st, UINT_MAX), -EAGAIN);
	assert_null(val(f, NULL, "/c/b"));
	txn_free(tx);

	/* A node that did not exist when read, created meanwhile. */
	tx = txn_new(2, 0, 1024);
	vt = V(f, tx, &f->dom0);
	assert_null(val(f, tx, "/c/z"));
	tree_write(&v0, "/c/z", "", 0);
	tree_write(&vt, "/c/y", "", 0);
	assert_int_equal(txn_commit(tx, &f->st, UINT_MAX), -EAGAIN);
	txn_free(tx);

	/* Untouched paths changing do not conflict. */
	tx = txn_new(3, 0, 1024);
	vt = V(f, tx, &f->dom0);
	tree_write(&vt, "/other/x", "1", 1);
	tree_write(&v0, "/c/a", "10", 2);
	assert_int_equal(txn_commit(tx, &f->st, UINT_MAX), 0);
	txn_free(tx);
}

static void test_txn_rm_and_limit(void **state)
{
	struct fx *f = *state;
	struct view v0 = V(f, NULL, &f->dom0);
	struct txn *tx = txn_new(1, 0, 8);
	struct view vt = V(f, tx, &f->dom0);
	char path[32];
	int rc = 0;

	tree_write(&v0, "/r/a/b", "", 0);
	assert_int_equal(tree_rm(&vt, "/r/a"), 0);
	assert_non_null(val(f, NULL, "/r/a/b"));
	assert_null(val(f, tx, "/r/a/b"));
	for (int i = 0; i < 20 && rc == 0; i++) {
		snprintf(path, sizeof(path), "/r/n%d", i);
		rc = tree_write(&vt, path, "", 0);
	}
	assert_int_equal(rc, -ENOSPC);	/* nodes touched per transaction */
	txn_free(tx);
}

/* txn_undo takes the transaction back to txn_mark: what a failed
 * request touched, changed or deleted, however often. */
static void test_txn_undo(void **state)
{
	struct fx *f = *state;
	struct view v0 = V(f, NULL, &f->dom0);
	struct txn *tx = txn_new(1, 5, 1024);
	struct view vt = V(f, tx, &f->dom0);
	size_t touched;

	tree_write(&v0, "/u/a/b", "1", 1);
	assert_int_equal(tree_write(&vt, "/u/a/b", "2", 1), 0);
	touched = tx->nodes.count;
	txn_mark(tx);
	assert_int_equal(tree_write(&vt, "/u/a/b", "3", 1), 0);
	assert_int_equal(tree_write(&vt, "/u/new/deep", "4", 1), 0);
	assert_int_equal(tree_rm(&vt, "/u/a"), 0);
	txn_undo(tx);
	assert_int_equal(tx->nodes.count, touched);
	assert_string_equal(val(f, tx, "/u/a/b"), "2");
	assert_null(val(f, tx, "/u/new"));
	txn_mark(tx);
	assert_int_equal(tree_write(&vt, "/u/c", "5", 1), 0);
	txn_keep(tx);
	txn_undo(tx);		/* nothing marked: nothing to undo */
	assert_int_equal(txn_commit(tx, &f->st, UINT_MAX), 0);
	assert_string_equal(val(f, NULL, "/u/a/b"), "2");
	assert_string_equal(val(f, NULL, "/u/c"), "5");
	assert_null(val(f, NULL, "/u/new"));
	txn_free(tx);
}

/* Two transactions of one domain, each within the nodes quota: the
 * second commit would pass it and fails, applying nothing. */
static void test_txn_commit_quota(void **state)
{
	struct fx *f = *state;
	struct view v0 = V(f, NULL, &f->dom0);
	struct xs_permissions pp[1] = { { 5, XS_PERM_NONE } };
	struct perms p = { 1, pp };
	struct txn *t1 = txn_new(1, 5, 1024), *t2 = txn_new(2, 5, 1024);
	struct view w1 = V(f, t1, &f->dom5), w2 = V(f, t2, &f->dom5);
	uint64_t gen;

	f->q.nodes = 5;
	tree_mkdir(&v0, "/q/a");
	tree_mkdir(&v0, "/q/b");
	tree_set_perms(&v0, "/q/a", &p);
	tree_set_perms(&v0, "/q/b", &p);
	assert_int_equal(tree_write(&w1, "/q/a/x/y", "", 0), 0);
	assert_int_equal(tree_write(&w2, "/q/b/x/y", "", 0), 0);
	assert_int_equal(txn_commit(t1, &f->st, f->q.nodes), 0);
	assert_int_equal(store_owned(&f->st, 5), 4);
	gen = f->st.gen;
	assert_int_equal(txn_commit(t2, &f->st, f->q.nodes), -ENOSPC);
	assert_int_equal(store_owned(&f->st, 5), 4);
	assert_int_equal(f->st.gen, gen);
	assert_null(val(f, NULL, "/q/b/x"));
	txn_free(t1);
	txn_free(t2);
}

static void test_paths(void **state)
{
	char parent[64];

	assert_true(path_valid("/a/b-c_d@e/0", 3072));
	assert_false(path_valid("", 3072));
	assert_false(path_valid("a", 3072));
	assert_false(path_valid("/a/", 3072));
	assert_false(path_valid("/a//b", 3072));
	assert_false(path_valid("/a b", 3072));
	assert_false(path_valid("/a.b", 3072));
	assert_false(path_valid("/abcd", 3));
	assert_true(path_valid("/", 3072));
	assert_string_equal(path_split("/a/b", parent, sizeof(parent)), "b");
	assert_string_equal(parent, "/a");
	assert_string_equal(path_split("/a", parent, sizeof(parent)), "a");
	assert_string_equal(parent, "/");
	assert_true(path_is_child("/a/b", "/a"));
	assert_true(path_is_child("/a", "/a"));
	assert_false(path_is_child("/ab", "/a"));
	assert_true(path_is_child("/x", "/"));
}

static void test_changes_recorded(void **state)
{
	struct fx *f = *state;
	struct view v = V(f, NULL, &f->dom0);
	unsigned exact = 0, removed = 0;

	tree_write(&v, "/w/a/b", "", 0);
	changes_clear(&f->ch);
	tree_rm(&v, "/w");
	for (struct change *c = f->ch.head; c; c = c->next) {
		exact += c->kind == CHANGE_EXACT;
		removed += c->kind == CHANGE_REMOVED;
	}
	assert_int_equal(removed, 1);
	assert_int_equal(exact, 2);	/* /w/a and /w/a/b */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_creates_parents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_children_order_and_rm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep_tree_rm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_isolation_and_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_rm_and_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_commit_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_recorded, setup, teardown),
		cmocka_unit_test(test_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
