/* A small regular file in the run directory mapped shared (mapfile.c):
 * what a daemon stores there survives its death, for the daemon after
 * it (pvd-blkback's and pvd-netback's journals). */
#ifndef PVD_MAPFILE_H
#define PVD_MAPFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Opens or creates PATH (0600, no symlink followed, a regular file only)
 * at LEN bytes and maps it read-write, shared.  *kept: the file already
 * had that size (its contents may be a predecessor's); otherwise it is
 * zero-filled.  0 or -errno, logged with PATH. */
int pvd_mapfile_open(const char *path, size_t len, void **map, bool *kept);
/* Unmaps; NULL is a no-op.  The file stays. */
void pvd_mapfile_close(void *map, size_t len);

/* The backends' journals: one file per queue of a device,
 * DIR/<domid>-<devid>-<queue>, in $PVD_RUNDIR/NAME (0700). */
/* Makes the directory into buf: 0, or -errno after one warning that a
 * restart after kill -9 will go without journals. */
int pvd_journal_dir(char *buf, size_t len, const char *name);
/* A queue's journal: 0 or -ENAMETOOLONG. */
int pvd_journal_path(char *buf, size_t len, const char *dir, unsigned domid,
		     unsigned devid, unsigned queue);
/* The device is forgotten: removes queues 0 .. nq-1's journals (a
 * daemon stopping leaves them to the next).  Failures are logged. */
void pvd_journal_forget(const char *dir, unsigned domid, unsigned devid,
			unsigned nq);

#endif
