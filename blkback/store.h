/* Opening what a disk's "params" names (a regular file, a block device,
 * an LVM volume or a loop device), its size, and the synchronous
 * operations every engine shares (discard, fdatasync). */
#ifndef PVD_BLKBACK_STORE_H
#define PVD_BLKBACK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

struct blk_file {
	int fd;
	struct blk_store_info info;
	unsigned discard_granularity;
};

/* The path in params: "phy:", "file:" and "raw:" prefixes are dropped. */
const char *blk_params_path(const char *params);
/* Opens O_DIRECT (buffered if the file system refuses it or needs a
 * larger alignment than 512 bytes).  Refuses what is neither a regular
 * file nor a block device, and (-EROFS) a read-only file for writing. */
int blk_file_open(const char *params, bool readonly, struct blk_file *f);
void blk_file_close(struct blk_file *f);
int blk_file_size(struct blk_file *f, uint64_t *bytes);
/* Punch a hole (file) or BLKDISCARD (block device): 0 or -errno. */
int blk_file_discard(struct blk_file *f, uint64_t off, uint64_t len);
int blk_file_sync(struct blk_file *f);

/* The store of the file-backed engines (aio, uring): a blk_file. */
struct blk_file_store {
	struct blk_store base;
	struct blk_file f;
	bool sync_fallback;	/* aio: the file refused IOCB_CMD_FDSYNC */
};

static inline struct blk_file_store *blk_file_store_of(struct blk_store *bs)
{
	return (struct blk_file_store *)(void *)((char *)bs -
		offsetof(struct blk_file_store, base));
}

/* The engines' open, close and size. */
int blk_file_store_open(const struct blk_backend_ops *ops, struct blk_engine *e,
			const char *path, bool readonly, struct blk_store **out,
			struct blk_store_info *info);
void blk_file_store_close(struct blk_store *bs);
int blk_file_store_size(struct blk_store *bs, uint64_t *bytes);

#endif
