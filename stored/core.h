/* Request dispatch: one table entry per xs_wire message type, checked
 * centrally for privilege and transaction use, as xenstored's core.c. */
#ifndef STORED_CORE_H
#define STORED_CORE_H

#include <stdbool.h>

#include <xen/io/xs_wire.h>

struct conn;
struct stored;

/* body is hdr->len bytes plus a terminating NUL added by the caller. */
void core_dispatch(struct conn *c, const struct xsd_sockmsg *hdr, char *body);
void core_txn_abort_all(struct conn *c);
/* Creates the nodes every store starts with (/, /tool, special nodes). */
int core_setup_tree(struct stored *sd);
/* XSA-322: a released domain's rights on every node are revoked. */
int core_revoke_domain(struct stored *sd, unsigned domid);
/* RELEASE, or the domain died: its connections go, the nodes it owns are
 * removed, its rights elsewhere revoked, and @releaseDomain fires (now, or
 * by the caller after its reply when fire is false). */
int core_release_domain(struct stored *sd, unsigned domid, bool fire);
/* The name of request type (READ, WRITE...), NULL for one not served. */
const char *core_type_name(unsigned type);

#endif
