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

#endif
