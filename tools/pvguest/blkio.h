/* One block I/O request as the guest's block users (the NBD export, the
 * load generator) hand it to a disk: the role of Linux's struct request.
 * A disk is anything with a blkio_submit_fn (blkfront, or a memory disk
 * in tests). */
#ifndef PVGUEST_BLKIO_H
#define PVGUEST_BLKIO_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

enum blkio_op {
	BLKIO_READ,
	BLKIO_WRITE,
	BLKIO_FLUSH,	/* everything completed before is on stable storage */
	BLKIO_DISCARD,	/* a hint: the range may read back as anything */
};

struct blkio;
/* err: 0 or -errno (-EIO, -EINVAL, -ENOSPC beyond the end, -EROFS,
 * -EOPNOTSUPP, -ENODEV when the disk went away, -ETIMEDOUT when it stayed
 * disconnected too long). */
typedef void blkio_done_fn(struct blkio *io, int err);

struct blkio {
	enum blkio_op op;
	bool fua;		/* write: on stable storage when done */
	uint64_t offset;	/* bytes, a multiple of the disk's sector size */
	uint64_t len;		/* bytes, ditto; read/write at most BLKIO_MAX_LEN */
	void *buf;		/* read/write: len bytes */
	/* A write's data in pieces instead of buf (iovcnt 0: buf), so that a
	 * caller holding it in several buffers need not join them first. */
	const struct iovec *iov;
	unsigned iovcnt;
	blkio_done_fn *done;	/* called exactly once, never from submit */
	void *arg;		/* the submitter's */

	/* The disk's, set by submit. */
	struct blkio *next;
	uint64_t t_queued;	/* ns, CLOCK_MONOTONIC */
	uint32_t nsubs, next_sub, ndone;
	uint32_t chunk;		/* bytes per sub-request */
	int err;
	bool flush_phase;	/* fua: the data is written, now the flush */
};

#define BLKIO_MAX_LEN (32u << 20)

/* Copies len bytes of a write's data, from byte pos on, into dst: from
 * buf, or from the iovecs. */
static inline void blkio_copy_data(const struct blkio *io, uint64_t pos,
				   void *dst, uint64_t len)
{
	const struct iovec *v = io->iov;
	unsigned n = io->iovcnt;

	if (!n) {
		memcpy(dst, (const char *)io->buf + pos, len);
		return;
	}
	for (; n && pos >= v->iov_len; n--, v++)
		pos -= v->iov_len;
	for (; n && len; n--, v++, pos = 0) {
		uint64_t k = v->iov_len - pos < len ? v->iov_len - pos : len;

		memcpy(dst, (const char *)v->iov_base + pos, k);
		dst = (char *)dst + k;
		len -= k;
	}
}

typedef int blkio_submit_fn(void *disk, struct blkio *io);

#endif
