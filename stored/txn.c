/* Transactions (design in txn.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "quota.h"
#include "txn.h"

struct txn *txn_new(uint32_t id, unsigned domid, unsigned max_nodes)
{
	struct txn *tx = calloc(1, sizeof(*tx));

	if (!tx)
		return NULL;
	if (nodetab_init(&tx->nodes, 64) < 0) {
		free(tx);
		return NULL;
	}
	tx->id = id;
	tx->domid = domid;
	tx->max_nodes = max_nodes;
	changes_init(&tx->changes);
	return tx;
}

void txn_free(struct txn *tx)
{
	if (!tx)
		return;
	txn_keep(tx);
	free(tx->undo);
	nodetab_destroy(&tx->nodes);
	changes_clear(&tx->changes);
	free(tx);
}

static unsigned owner(const struct node *n)
{
	return n->perms.n ? n->perms.p[0].id : 0;
}

/* Room for one more undo entry, taken before anything changes so that
 * logging cannot fail half-way. */
static int undo_reserve(struct txn *tx)
{
	struct txn_undo *u;
	size_t cap;

	if (!tx->marked || tx->nundo < tx->undocap)
		return 0;
	cap = tx->undocap ? tx->undocap * 2 : 16;
	u = realloc(tx->undo, cap * sizeof(*u));
	if (!u)
		return -ENOMEM;
	tx->undo = u;
	tx->undocap = cap;
	return 0;
}

/* Logs n (fresh: added by a touch) or frees it (not marked, replaced). */
static void undo_log(struct txn *tx, struct node *n, bool fresh)
{
	if (tx->marked)
		tx->undo[tx->nundo++] = (struct txn_undo){ n, fresh };
	else if (!fresh)
		node_free(n);
}

void txn_mark(struct txn *tx)
{
	txn_keep(tx);
	tx->marked = true;
	tx->mark_delta = tx->owned_delta;
}

void txn_keep(struct txn *tx)
{
	for (size_t i = 0; i < tx->nundo; i++)
		if (!tx->undo[i].fresh)
			node_free(tx->undo[i].n);
	tx->nundo = 0;
	tx->marked = false;
}

/* Newest first: a node replaced twice comes back through each step. */
void txn_undo(struct txn *tx)
{
	if (!tx->marked)
		return;
	while (tx->nundo > 0) {
		struct txn_undo *u = &tx->undo[--tx->nundo];

		if (u->fresh)
			node_free(nodetab_remove(&tx->nodes, u->n->path));
		else
			node_free(nodetab_put(&tx->nodes, u->n));
	}
	tx->owned_delta = tx->mark_delta;
	tx->marked = false;
}

/* Copies the store's node into the transaction on first touch. */
static struct node *txn_touch(struct txn *tx, struct store *st,
			      const char *path, int *err)
{
	struct node *n = nodetab_get(&tx->nodes, path);
	const struct node *sn;

	if (n)
		return n;
	if (tx->nodes.count >= tx->max_nodes) {
		if (tx->refusals)
			tx->refusals[QK_TRANS_NODES]++;
		*err = -ENOSPC;
		return NULL;
	}
	*err = undo_reserve(tx);
	if (*err < 0)
		return NULL;
	sn = nodetab_get(&st->nodes, path);
	if (sn) {
		n = node_dup(sn);
		if (n)
			n->seen_gen = sn->gen;
	} else {
		n = node_new(path, NULL, "", 0);
		if (n)
			n->absent = true;
	}
	if (!n) {
		*err = -ENOMEM;
		return NULL;
	}
	n->dirty = false;
	nodetab_put(&tx->nodes, n);
	undo_log(tx, n, true);
	return n;
}

int txn_get(struct txn *tx, struct store *st, const char *path,
	    const struct node **out)
{
	int err = 0;
	struct node *n = txn_touch(tx, st, path, &err);

	if (!n)
		return err;
	*out = n->absent ? NULL : n;
	return 0;
}

/* The tree operations always read a path before writing it, so the entry
 * exists and carries the generation seen at first touch.  The entry is
 * replaced, never changed in place, so that txn_undo can put it back. */
static int txn_replace(struct txn *tx, struct node *n)
{
	struct node *old = nodetab_get(&tx->nodes, n->path);

	if (!old || undo_reserve(tx) < 0) {
		node_free(n);
		return old ? -ENOMEM : -EINVAL;
	}
	if (!old->absent && owner(old) == tx->domid)
		tx->owned_delta--;
	if (!n->absent && owner(n) == tx->domid)
		tx->owned_delta++;
	n->seen_gen = old->seen_gen;
	n->dirty = true;
	undo_log(tx, nodetab_put(&tx->nodes, n), false);
	return 0;
}

int txn_put(struct txn *tx, struct node *n)
{
	n->absent = false;
	return txn_replace(tx, n);
}

int txn_del(struct txn *tx, const char *path)
{
	struct node *n = node_new(path, NULL, "", 0);

	if (!n)
		return -ENOMEM;
	n->absent = true;
	return txn_replace(tx, n);
}

long txn_owned_delta(const struct txn *tx, unsigned domid)
{
	return domid == tx->domid ? tx->owned_delta : 0;
}

static bool txn_conflicts(const struct txn *tx, const struct store *st)
{
	const struct nodetab *t = &tx->nodes;

	for (size_t i = 0; i < t->nb; i++) {
		for (const struct node *n = t->b[i]; n; n = n->hnext) {
			const struct node *sn = nodetab_get(&st->nodes, n->path);

			if ((sn ? sn->gen : 0) != n->seen_gen)
				return true;
		}
	}
	return false;
}

/* Moves every modified node into the store (the transaction is freed
 * next); a journal error is returned once everything is applied. */
static int txn_apply(struct txn *tx, struct store *st)
{
	struct nodetab *t = &tx->nodes;
	int rc = 0, rc2;

	for (size_t i = 0; i < t->nb; i++) {
		struct node *n = t->b[i], *next;

		t->b[i] = NULL;
		for (; n; n = next) {
			next = n->hnext;
			t->count--;
			if (!n->dirty) {
				node_free(n);
				continue;
			}
			if (n->absent) {
				rc2 = store_delete(st, n->path);
				node_free(n);
			} else {
				rc2 = store_install(st, n);
			}
			if (rc == 0)
				rc = rc2;
		}
	}
	return rc;
}

int txn_commit(struct txn *tx, struct store *st, unsigned max_owned)
{
	txn_keep(tx);
	if (txn_conflicts(tx, st))
		return -EAGAIN;
	/* Other transactions of this domain may have committed nodes since
	 * this one checked its quota request by request. */
	if (tx->owned_delta > 0 &&
	    (uint64_t)store_owned(st, tx->domid) + (uint64_t)tx->owned_delta >
	    max_owned)
		return -ENOSPC;
	return txn_apply(tx, st);
}
