/* The domain tracker: follows the store (libxenstore, xs_open(0), which
 * honours XENSTORED_PATH) and keeps one console per console found.
 *
 * - @introduceDomain and @releaseDomain (dom0 receives them) make it
 *   enumerate /local/domain/ *; on @releaseDomain a domain that is gone
 *   from the store or that hv_domain_alive() says is dead is torn down.
 * - It watches /local/domain: a domain directory that appears or goes
 *   makes it enumerate (a toolstack may write a domain's nodes after
 *   introducing it: the store's INTRODUCE does not make the directory),
 *   and a change under a known domain's console/ or device/console/ makes
 *   it look at that domain's consoles again (console nodes written late,
 *   changed or removed).  Other events are dropped after a glance at
 *   their path.
 * - A console is (re)made when its ring-ref and port are valid and differ
 *   from what it was made from; its pty path goes to its `tty` node.
 */
#ifndef CONSOLED_TRACKER_H
#define CONSOLED_TRACKER_H

#include <stdbool.h>

struct consoled;
struct tracker;
struct console;

/* Connects to the store (waiting for it if it is not there yet, and
 * again after it restarts: include/pvd/xsconn.h), sets the watches and
 * serves every domain that has a console already (a restart gets them
 * back).  -errno only when it cannot allocate.  Undo with tracker_stop
 * (idempotent; NULL is fine). */
int tracker_start(struct consoled *cd, struct tracker **out);
/* Closes every console (removing its tty node) and the store connection. */
void tracker_stop(struct tracker *tr);
/* SIGHUP: reopen every guest log. */
void tracker_reopen_logs(struct tracker *tr);
/* Connected to the store now. */
bool tracker_store_up(const struct tracker *tr);
/* Consoles currently served (not broken). */
unsigned tracker_nconsoles(const struct tracker *tr);
/* Calls fn for each console, broken ones included (metrics.c). */
typedef void tracker_console_fn(void *arg, const struct console *c);
void tracker_each(const struct tracker *tr, tracker_console_fn *fn, void *arg);

/* Parses a domain id as the store spells it: decimal, no sign, no leading
 * zero, 1 .. DOMID_FIRST_RESERVED - 1.  0 or -EINVAL. */
int tracker_parse_domid(const char *s, unsigned *out);
/* Parses an unsigned decimal store value no greater than max. */
int tracker_parse_uint(const char *s, unsigned long max, unsigned long *out);

#endif
