/* Node permissions: an owner plus per-domain r/w/b/n entries, Xen's
 * format ("r5", "b0", ...); the first entry names the owner and the
 * access of every domain not listed. */
#ifndef STORED_PERMS_H
#define STORED_PERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <xenstore_lib.h>

#define DOMID_NONE 0xffffffffu

/* The identity a request is checked against. */
struct who {
	unsigned domid;
	unsigned target;	/* SET_TARGET: acts for this domain too */
	bool privileged;	/* dom0 / control domain */
};

struct perms {
	unsigned n;
	struct xs_permissions *p;
};

/* Parses n NUL-terminated strings from buf[0..len).  -EINVAL on any
 * malformed entry; -E2BIG past max entries. */
int perms_parse(const char *buf, size_t len, unsigned max, struct perms *out);
/* Writes "r5\0b0\0..." into buf; returns the length or -E2BIG. */
int perms_format(const struct perms *p, char *buf, size_t len);
int perms_dup(const struct perms *src, struct perms *dst);
void perms_free(struct perms *p);
bool perms_equal(const struct perms *a, const struct perms *b);
/* Effective XS_PERM_READ|XS_PERM_WRITE bits of who on a node. */
unsigned perms_check(const struct perms *p, const struct who *who);
/* XSA-322: drop every reference to domid; nodes it owned go to dom0.
 * Returns true if anything changed. */
bool perms_revoke(struct perms *p, unsigned domid);

#endif
