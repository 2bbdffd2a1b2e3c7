/* The backing of a virtual disk when it is a file or a block device: what
 * a disk's "params" names (a regular file, a block device, an LVM volume
 * or a loop device), opened for the file-based engines (aio, uring), its
 * size, and the synchronous operations they share (discard, fdatasync).
 * ("store" is xenstore in pvd; this is where a disk's data lives.) */
#ifndef PVD_BLKBACK_BACKING_H
#define PVD_BLKBACK_BACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* The blk_backing of the file-based engines. */
struct backing_file {
	struct blk_backing base;
	int fd;
	struct blk_backing_info info;
	unsigned discard_granularity;
	bool sync_fallback;	/* aio: the file refused IOCB_CMD_FDSYNC */
};

static inline struct backing_file *backing_file_of(struct blk_backing *bb)
{
	return (struct backing_file *)(void *)((char *)bb -
		offsetof(struct backing_file, base));
}

/* The path in params: "phy:", "file:" and "raw:" prefixes are dropped. */
const char *backing_params_path(const char *params);

/* The engines' open, close and size (struct blk_backend_ops).  Opens
 * O_DIRECT (buffered if the file system refuses it or needs a larger
 * alignment than 512 bytes).  Refuses what is neither a regular file nor
 * a block device, and (-EROFS) a read-only file for writing. */
int backing_open(const struct blk_backend_ops *ops, struct blk_engine *e,
		 const char *params, bool readonly, struct blk_backing **out,
		 struct blk_backing_info *info);
void backing_close(struct blk_backing *bb);
int backing_size(struct blk_backing *bb, uint64_t *bytes);

/* Punch a hole (file) or BLKDISCARD (block device): 0 or -errno. */
int backing_discard(struct backing_file *f, uint64_t off, uint64_t len);
int backing_sync(struct backing_file *f);

#endif
