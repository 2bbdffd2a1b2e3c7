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
 * transaction's watch events fire.
 *
 * The nodes quota is checked again at commit: other transactions of the
 * same domain may have committed since this one counted, so a commit that
 * would leave the domain owning more than its quota fails with ENOSPC (as
 * xenstored's transaction_fix_domains) and installs nothing.
 *
 * A request that fails leaves no trace in the transaction: between
 * txn_mark and txn_undo, every entry a touch added and every node a
 * change replaced is logged, and txn_undo puts them back (txn_keep drops
 * the log once the request succeeded). */
#ifndef STORED_TXN_H
#define STORED_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "tree.h"

struct txn_undo {
	struct node *n;		/* added by a touch, or replaced by a change */
	bool fresh;		/* added: undo removes it; else puts it back */
};

struct txn {
	uint32_t id;
	unsigned domid;		/* acting domain, for the nodes quota */
	unsigned max_nodes;
	long owned_delta;	/* nodes owned by domid: created - deleted */
	struct nodetab nodes;
	struct changes changes;
	struct txn *next;
	/* Where a trans_nodes refusal is counted (struct stored's
	 * quota_refusals, set by its creator); NULL: not counted. */
	uint64_t *refusals;
	/* The request in progress, between txn_mark and txn_keep/txn_undo. */
	bool marked;
	long mark_delta;
	struct txn_undo *undo;
	size_t nundo, undocap;
};

struct txn *txn_new(uint32_t id, unsigned domid, unsigned max_nodes);
void txn_free(struct txn *tx);
int txn_get(struct txn *tx, struct store *st, const char *path,
	    const struct node **out);
int txn_put(struct txn *tx, struct node *n);
int txn_del(struct txn *tx, const char *path);
long txn_owned_delta(const struct txn *tx, unsigned domid);
/* Starts logging a request's effects on tx; then txn_keep when it
 * succeeded, txn_undo when it failed (back to the state at txn_mark). */
void txn_mark(struct txn *tx);
void txn_keep(struct txn *tx);
void txn_undo(struct txn *tx);
/* 0; -EAGAIN on conflict; -ENOSPC if the acting domain would own more
 * than max_owned nodes (UINT_MAX: no quota).  On error nothing is
 * applied.  The transaction's nodes move into the store: free it next. */
int txn_commit(struct txn *tx, struct store *st, unsigned max_owned);

#endif
