/* Watches: registration per connection and matching of changes.
 * An event is delivered only to a watcher that may read the changed node
 * (XSA-115), and special watches (@introduceDomain, @releaseDomain) only to
 * watchers allowed to read the special node, which is dom0's by default. */
#ifndef STORED_WATCH_H
#define STORED_WATCH_H

#include "tree.h"

struct conn;
struct stored;

int watch_add(struct conn *c, const char *path, const char *token,
	      unsigned relative);
int watch_remove(struct conn *c, const char *path, const char *token);
void watch_remove_all(struct conn *c);
/* A re-attached ring connection takes back the watches its domain had
 * (*saved, from the journal, which ends up empty): within today's quota,
 * each fired once.  Returns how many were restored. */
unsigned watch_restore(struct conn *c, struct watch **saved);
void watch_list_free(struct watch *list);
/* Sends the events for a list of changes, then clears it. */
void watch_fire_changes(struct stored *sd, struct changes *ch);
/* "@introduceDomain" / "@releaseDomain". */
void watch_fire_special(struct stored *sd, const char *name);

#endif
