/* Transactions (design in txn.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	nodetab_destroy(&tx->nodes);
	changes_clear(&tx->changes);
	free(tx);
}

static unsigned owner(const struct node *n)
{
	return n->perms.n ? n->perms.p[0].id : 0;
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
		*err = -ENOSPC;
		return NULL;
	}
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
 * exists and carries the generation seen at first touch. */
int txn_put(struct txn *tx, struct node *n)
{
	struct node *old = nodetab_get(&tx->nodes, n->path);

	if (!old) {
		node_free(n);
		return -EINVAL;
	}
	if (!old->absent && owner(old) == tx->domid)
		tx->owned_delta--;
	if (owner(n) == tx->domid)
		tx->owned_delta++;
	n->seen_gen = old->seen_gen;
	n->absent = false;
	n->dirty = true;
	node_free(nodetab_put(&tx->nodes, n));
	return 0;
}

int txn_del(struct txn *tx, const char *path)
{
	struct node *n = nodetab_get(&tx->nodes, path);

	if (!n)
		return -EINVAL;
	if (!n->absent && owner(n) == tx->domid)
		tx->owned_delta--;
	n->absent = true;
	n->dirty = true;
	return 0;
}

long txn_owned_delta(const struct txn *tx, unsigned domid)
{
	return domid == tx->domid ? tx->owned_delta : 0;
}

int txn_commit(struct txn *tx, struct store *st)
{
	struct nodetab *t = &tx->nodes;
	int rc;

	for (size_t i = 0; i < t->nb; i++) {
		for (struct node *n = t->b[i]; n; n = n->hnext) {
			const struct node *sn = nodetab_get(&st->nodes, n->path);

			if ((sn ? sn->gen : 0) != n->seen_gen)
				return -EAGAIN;
		}
	}
	for (size_t i = 0; i < t->nb; i++) {
		for (struct node *n = t->b[i]; n; n = n->hnext) {
			struct node *copy;

			if (!n->dirty)
				continue;
			if (n->absent) {
				rc = store_delete(st, n->path);
			} else {
				copy = node_dup(n);
				rc = copy ? store_install(st, copy) : -ENOMEM;
			}
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}
