/* Transactions.
 *
 * A transaction is a private table of the nodes it has touched, layered on
 * the store.  The first touch of a path copies the store's node (or notes
 * that it does not exist) together with the generation it had; later reads
 * in the transaction see that copy, so the transaction's view of every node
 * it touched is stable, and writes change only the copies.
 *
 * Commit checks that every touched node still has the generation seen at
 * first touch (0 = still absent).  Generations are global and only grow, so
 * any change, including delete-and-recreate, is a conflict: the commit fails
 * with EAGAIN and the client retries, as with xenstored.  Otherwise the
 * modified copies are installed in the store, as one journal batch, and the
 * transaction's watch events fire. */
#ifndef STORED_TXN_H
#define STORED_TXN_H

#include <stdint.h>

#include "tree.h"

struct txn {
	uint32_t id;
	unsigned domid;		/* acting domain, for the nodes quota */
	unsigned max_nodes;
	long owned_delta;	/* nodes owned by domid: created - deleted */
	struct nodetab nodes;
	struct changes changes;
	struct txn *next;
};

struct txn *txn_new(uint32_t id, unsigned domid, unsigned max_nodes);
void txn_free(struct txn *tx);
int txn_get(struct txn *tx, struct store *st, const char *path,
	    const struct node **out);
int txn_put(struct txn *tx, struct node *n);
int txn_del(struct txn *tx, const char *path);
long txn_owned_delta(const struct txn *tx, unsigned domid);
/* 0, or -EAGAIN on conflict (nothing applied). */
int txn_commit(struct txn *tx, struct store *st);

#endif
