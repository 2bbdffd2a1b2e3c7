/* pvctl: the block commands' (block.c) checks of what a guest or the
 * operator gives them, exposed for tests/unit/test_pvctl_block.c.  The
 * commands themselves (cmd_block_attach, ...) are in pvctl.h. */
#ifndef PVCTL_BLOCK_H
#define PVCTL_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvctl.h"

/* True when v (a frontend's `backend` node, the guest's to write) is
 * exactly /local/domain/<B>/backend/vbd/<domid>/<devid>; *bdom gets B. */
bool block_backend_named(const char *v, unsigned domid, uint32_t devid,
			 unsigned *bdom);

/* What xl checks before it writes anything: the target exists, is a
 * regular file or a block device, and opens as the disk's access asks; an
 * rbd: target is parsed instead (pvd_rbd_parse), a snapshot must be
 * read-only and conf= readable.  0, or -errno after printing why not. */
int block_check_target(const struct xlcfg_disk *d);

/* The guest's NBD export of the disk, from the URI file pvguest writes in
 * $PVD_RUNDIR/guests/dom<N>/: "-" when there is none, "?" when the file
 * says anything but what pvguest writes. */
void block_nbd_uri(struct pvctl *p, unsigned domid, uint32_t devid, char *buf,
		   size_t len);

#endif
