/* A Ceph RBD disk target in QEMU's syntax (block/rbd.c,
 * qemu_rbd_parse_filename):
 *
 *   rbd:POOL[/NAMESPACE]/IMAGE[@SNAP][:KEY=VALUE]...
 *
 * with `\` escaping a `:`, `/`, `@`, `=` or `\` in any part.  KEY id
 * (the client's name, without "client.") and conf (a ceph.conf) are
 * pvd's; every other key is a Ceph option handed to rados_conf_set, as
 * QEMU does, except `key` (a secret does not belong in the store: name a
 * keyring file in conf= or keyring=).  Shared by pvd-blkback (which opens
 * it) and pvctl (which checks it before it writes the disk's nodes). */
#ifndef PVD_RBD_TARGET_H
#define PVD_RBD_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#define PVD_RBD_PREFIX "rbd:"
#define PVD_RBD_TARGET_MAX 1024
#define PVD_RBD_MAX_OPTS 16

struct pvd_rbd_target {
	char buf[PVD_RBD_TARGET_MAX + 1];   /* the parts point into it */
	const char *pool, *nspace, *image, *snap;   /* nspace, snap: NULL if absent */
	const char *id, *conf;              /* NULL if absent */
	unsigned nopts;                     /* the other KEY=VALUEs, in order */
	struct {
		const char *key, *val;
	} opt[PVD_RBD_MAX_OPTS];
};

/* Whether s names an RBD image (starts with "rbd:"). */
bool pvd_rbd_is_target(const char *s);
/* Parses s into t.  0, or -EINVAL with the reason in err (one line,
 * without the target itself). */
int pvd_rbd_parse(const char *s, struct pvd_rbd_target *t, char *err,
		  size_t errlen);

#endif
