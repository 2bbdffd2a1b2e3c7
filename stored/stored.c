/* The daemon context and the flush after each loop turn (stored.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "journal.h"
#include "pvd/log.h"
#include "stored.h"

int stored_init(struct stored *sd, struct event_base *base,
		const struct quota *q)
{
	int rc;

	memset(sd, 0, sizeof(*sd));
	sd->base = base;
	sd->quota = *q;
	rc = store_init(&sd->store);
	if (rc < 0)
		return rc;
	rc = domains_init(&sd->domains);
	if (rc < 0) {
		store_destroy(&sd->store);
		return rc;
	}
	/* dom0 always exists. */
	if (!domain_get(&sd->domains, 0, true)) {
		stored_destroy(sd);
		return -ENOMEM;
	}
	return 0;
}

void stored_destroy(struct stored *sd)
{
	/* Closing connections now is no change of state for the journal:
	 * the rings' watches stay for the next start (watch.c). */
	sd->stopping = true;
	for (struct conn *c = sd->conns; c; c = c->next)
		conn_close(c, "shutting down");
	conn_reap(sd);
	domains_destroy(&sd->domains);
	store_destroy(&sd->store);
	free(sd->req);
	sd->req = NULL;
}

int stored_flush(struct stored *sd)
{
	int rc;

	/* What was logged outside a request (a ring connection closed, and
	 * its watches with it) is its own batch. */
	if (sd->journal)
		journal_seal(sd->journal);
	/* Replies go out only after the changes they acknowledge are on
	 * disk: one fdatasync covers every request of this loop turn.  If
	 * the disk fails, nothing is acknowledged until it works again (the
	 * caller retries); clients wait, none is told a lie. */
	if (sd->journal && journal_pending(sd->journal)) {
		rc = journal_sync(sd->journal);
		if (rc < 0)
			return rc;
		journal_maybe_compact(sd->journal, &sd->store, &sd->domains,
				      sd->conns);
	}
	conn_reap(sd);
	return 0;
}
