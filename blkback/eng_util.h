/* Helpers the engines share: a FIFO of requests (waiting for room in the
 * kernel's queue, or completed without it) and result conversion. */
#ifndef PVD_BLKBACK_ENG_UTIL_H
#define PVD_BLKBACK_ENG_UTIL_H

#include <errno.h>
#include <stddef.h>

#include "backend.h"

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct blk_ioq {
	struct blk_io *head, *tail;
	unsigned n;
};

static inline void ioq_push(struct blk_ioq *q, struct blk_io *io)
{
	io->next = NULL;
	if (q->tail)
		q->tail->next = io;
	else
		q->head = io;
	q->tail = io;
	q->n++;
}

static inline struct blk_io *ioq_pop(struct blk_ioq *q)
{
	struct blk_io *io = q->head;

	if (io) {
		q->head = io->next;
		if (!q->head)
			q->tail = NULL;
		q->n--;
	}
	return io;
}

/* A kernel result (bytes or -errno) for io: a short transfer is -EIO. */
static inline int blk_io_result(const struct blk_io *io, long long res)
{
	if (res < 0)
		return (int)res;
	if ((io->op == BLK_IO_READ || io->op == BLK_IO_WRITE) &&
	    (unsigned long long)res != io->len)
		return -EIO;
	return 0;
}

/* Runs the callbacks of everything on q (completed without the kernel's
 * queue); returns how many. */
static inline unsigned ioq_complete(struct blk_ioq *q, unsigned max)
{
	unsigned n = 0;
	struct blk_io *io;

	while (n < max && (io = ioq_pop(q)) != NULL) {
		io->done(io, io->res);
		n++;
	}
	return n;
}

#endif
