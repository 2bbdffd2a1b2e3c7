/* --persist: a journal of committed changes.
 *
 * Every change to the store appends a record (a node's full state, a
 * deletion, a domain's state) to an in-memory batch; journal_seal() ends a
 * request's batch with a commit record.  journal_sync() writes everything
 * sealed and fdatasync()s it; the daemon calls it once per event-loop turn
 * before it sends any reply (group commit), so a reply is only ever seen
 * after its change is on disk.  Replay applies whole batches only: a torn
 * tail after a crash is cut off.  When the file has grown well past the
 * live data, it is rewritten as a snapshot (temp file, fsync, rename).
 *
 * Watches: the watches of a domain's ring connection are journalled as
 * one record holding the whole list (bounded by the per-domain watch
 * quota), written whenever it changes; the last one wins.  A restarted
 * daemon keeps them on the domain (domain.h: saved) until ring_attach
 * gives them back to the re-attached connection, as xenstored keeps a
 * connection's watches across a live update.  Socket connections end
 * with the daemon, and their watches with them. */
#ifndef STORED_JOURNAL_H
#define STORED_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

struct journal;
struct node;
struct domain;
struct store;
struct domains;
struct watch;
struct conn;

int journal_open(const char *path, struct journal **out);
void journal_close(struct journal *j);
/* Replays the file into an empty store and domain table. */
int journal_load(struct journal *j, struct store *st, struct domains *ds);
int journal_log_node(struct journal *j, const struct node *n);
int journal_log_delete(struct journal *j, const char *path);
int journal_log_domain(struct journal *j, const struct domain *d);
/* The whole list of watches of domid's ring connection (NULL: none). */
int journal_log_watches(struct journal *j, unsigned domid,
			const struct watch *list);
void journal_seal(struct journal *j);
bool journal_pending(const struct journal *j);
int journal_sync(struct journal *j);
/* Rewrites the file from the live state if it has grown enough: the
 * nodes, the domains, and the watches of the ring connections in conns. */
int journal_maybe_compact(struct journal *j, const struct store *st,
			  const struct domains *ds, const struct conn *conns);
uint64_t journal_size(const struct journal *j);

#endif
