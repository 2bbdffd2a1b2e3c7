/* Watches (watch.h): registration and delivery of changes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "domain.h"
#include "journal.h"
#include "pvd/log.h"
#include "stored.h"
#include "watch.h"

/* A ring connection's list goes to the journal whenever it changes
 * (journal.h).  Closing connections at shutdown is not a change. */
static void journal_watches(struct conn *c)
{
	struct stored *sd = c->sd;

	if (!c->keep_watches || !sd->journal || sd->stopping)
		return;
	if (journal_log_watches(sd->journal, c->who.domid, c->watches) < 0)
		log_err("dom%u: cannot journal its watches", c->who.domid);
}

static int watch_insert(struct conn *c, const char *path, const char *token,
			unsigned relative)
{
	struct watch *w;

	for (w = c->watches; w; w = w->next)
		if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0)
			return -EEXIST;
	if (!c->who.privileged && c->dom->nwatches >= c->sd->quota.watches) {
		c->sd->quota_refusals[QK_WATCHES]++;
		return -E2BIG;
	}
	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path)) || !(w->token = strdup(token))) {
		if (w)
			free(w->path);
		free(w);
		return -ENOMEM;
	}
	w->relative = relative;
	w->next = c->watches;
	c->watches = w;
	c->nwatches++;
	c->dom->nwatches++;
	c->sd->nwatches++;
	return 0;
}

int watch_add(struct conn *c, const char *path, const char *token,
	      unsigned relative)
{
	int rc = watch_insert(c, path, token, relative);

	if (rc == 0)
		journal_watches(c);
	return rc;
}

static void watch_free(struct conn *c, struct watch *w)
{
	c->nwatches--;
	c->dom->nwatches--;
	c->sd->nwatches--;
	free(w->path);
	free(w->token);
	free(w);
}

int watch_remove(struct conn *c, const char *path, const char *token)
{
	for (struct watch **pp = &c->watches; *pp; pp = &(*pp)->next) {
		struct watch *w = *pp;

		if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0) {
			*pp = w->next;
			watch_free(c, w);
			journal_watches(c);
			return 0;
		}
	}
	return -ENOENT;
}

void watch_remove_all(struct conn *c)
{
	struct watch *w, *next;
	bool had = c->watches != NULL;

	for (w = c->watches; w; w = next) {
		next = w->next;
		watch_free(c, w);
	}
	c->watches = NULL;
	if (had)
		journal_watches(c);
}

void watch_list_free(struct watch *list)
{
	struct watch *next;

	for (; list; list = next) {
		next = list->next;
		free(list->path);
		free(list->token);
		free(list);
	}
}

static void send_event(struct conn *c, const struct watch *w,
		       const char *epath)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t plen, tlen;

	/* A relative watch sees relative paths (same base). */
	if (w->relative && strlen(epath) > w->relative)
		epath += w->relative;
	plen = strlen(epath) + 1;
	tlen = strlen(w->token) + 1;
	if (plen + tlen > sizeof(buf))
		return;		/* cannot happen: WATCH bounds the token */
	memcpy(buf, epath, plen);
	memcpy(buf + plen, w->token, tlen);
	conn_send(c, XS_WATCH_EVENT, 0, 0, buf, (unsigned)(plen + tlen), true);
}

/* The journal's replay builds *saved in reverse (journal.c), and
 * watch_insert prepends: the connection gets its list back in order.  Each
 * restored watch fires once, as a new WATCH does: an event the old daemon
 * had queued but not yet put on the ring died with it, and a spurious
 * event is harmless (xenstore.txt: a watcher re-reads what it watches). */
unsigned watch_restore(struct conn *c, struct watch **saved)
{
	unsigned n = 0;

	for (struct watch *w = *saved; w; w = w->next) {
		int rc = watch_insert(c, w->path, w->token, w->relative);

		if (rc < 0 && rc != -EEXIST)
			log_warn("dom%u: watch %s not restored: %s", c->who.domid,
				 w->path, strerror(-rc));
		else if (rc == 0)
			n++;
	}
	watch_list_free(*saved);
	*saved = NULL;
	journal_watches(c);
	for (struct watch *w = c->watches; w; w = w->next)
		send_event(c, w, w->path);
	return n;
}

static void fire_one(struct stored *sd, const struct change *ch)
{
	for (struct conn *c = sd->conns; c; c = c->next) {
		if (c->dead || !c->watches)
			continue;
		/* Each removed node is its own CHANGE_EXACT, checked against
		 * its own permissions, so a watcher below a removed
		 * ancestor hears of it only if it could read its node. */
		if (!(perms_check(&ch->perms, &c->who) & XS_PERM_READ))
			continue;
		for (struct watch *w = c->watches; w; w = w->next) {
			if (ch->kind == CHANGE_EXACT) {
				if (strcmp(w->path, ch->path) == 0)
					send_event(c, w, ch->path);
			} else if (path_is_child(ch->path, w->path)) {
				send_event(c, w, ch->path);
			}
		}
	}
}

void watch_fire_changes(struct stored *sd, struct changes *ch)
{
	if (sd->nwatches) {
		for (const struct change *c = ch->head; c; c = c->next)
			fire_one(sd, c);
	}
	changes_clear(ch);
}

void watch_fire_special(struct stored *sd, const char *name)
{
	const struct node *n = nodetab_get(&sd->store.nodes, name);

	for (struct conn *c = sd->conns; c; c = c->next) {
		if (c->dead || !c->watches)
			continue;
		if (!c->who.privileged &&
		    (!n || !(perms_check(&n->perms, &c->who) & XS_PERM_READ)))
			continue;
		for (struct watch *w = c->watches; w; w = w->next)
			if (strcmp(w->path, name) == 0)
				send_event(c, w, name);
	}
}
