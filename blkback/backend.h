/* Storage backends of pvd-blkback: what a virtual disk's data lives on.
 *
 * The transport (queue.c, pipeline.c) and a storage backend meet here and
 * nowhere else, as in QEMU's xen-block dataplane or libvhost-user: the
 * transport hands over iovecs (guest pages it has mapped), a byte offset
 * and a completion callback; the backend knows nothing of rings, grants or
 * guests, the transport nothing of files.
 *
 * An engine (struct blk_engine) is one instance of a backend in one
 * thread: an io_context (libaio), an io_uring, or nothing (null).  Its
 * backings (struct blk_backing) are the files and block devices it
 * serves (backing.c for the file-based engines).  Requests
 * are queued by submit_*, handed to the kernel in one batch by commit(),
 * and completed by reap(), which runs their callbacks; a callback never
 * runs inside submit_* (so the transport never re-enters itself).
 */
#ifndef PVD_BLKBACK_BACKEND_H
#define PVD_BLKBACK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum blk_io_op {
	BLK_IO_READ = 1,
	BLK_IO_WRITE,
	BLK_IO_FLUSH,    /* everything completed so far reaches the disk */
	BLK_IO_DISCARD,  /* offset, len: punch a hole / BLKDISCARD */
};

struct blk_io;
typedef void blk_io_done_fn(struct blk_io *io, int res);

/* One storage request.  The transport owns it (embedded in a request
 * slot); the engine uses priv while it is in flight. */
struct blk_io {
	uint8_t op;                /* enum blk_io_op */
	const struct iovec *iov;   /* READ/WRITE */
	unsigned iovcnt;
	uint64_t offset;           /* bytes */
	uint64_t len;              /* bytes: sum of iov, or the discard length */
	blk_io_done_fn *done;      /* res: 0 or -errno (a short transfer is -EIO) */
	struct blk_io *next;       /* engine's lists while in flight */
	int res;                   /* engine: result waiting for reap() */
	/* Engine-private, while in flight (an iocb for libaio). */
	uint64_t priv[8] __attribute__((aligned(16)));
	struct blk_backing *backing;   /* engine: set by submit_* */
};

/* What open() found. */
struct blk_backing_info {
	uint64_t size;        /* bytes */
	unsigned lbs, pbs;    /* logical and physical block size */
	bool blockdev;
	bool readonly;
	bool direct;          /* opened O_DIRECT */
	bool discard;         /* discard is worth advertising */
	bool no_flush;        /* no volatile cache: feature-flush-cache 0 */
	/* Which file or device it is (st_dev, st_ino; 0 for the null
	 * target): a second open of the same params must find the same. */
	uint64_t dev, ino;
};

/* A remote backing's connection (ops->remote; local files have none). */
struct blk_remote_state {
	/* "connected", "reconnecting" (nbd: the connection was lost),
	 * "stalled" (rbd: requests waiting, no completion for 2 s), "error" */
	const char *state;
	uint64_t losses, reconnects;
	uint64_t retried;     /* requests sent again on a new connection */
	unsigned queued;      /* waiting for the connection or for room */
};

/* Each engine embeds these first in its own structures. */
struct blk_engine {
	const struct blk_backend_ops *ops;
};
struct blk_backing {
	const struct blk_backend_ops *ops;
	struct blk_engine *engine;
};

struct blk_backend_ops {
	const char *name;

	/* ---- the engine (one per thread) ---- */
	/* depth: requests the engine should expect in flight (more are
	 * queued inside the engine, not refused). */
	int (*engine_create)(unsigned depth, struct blk_engine **out);
	void (*engine_destroy)(struct blk_engine *e);
	/* Readable when completions wait for reap(); -1: poll ready() only. */
	int (*engine_fd)(struct blk_engine *e);
	/* Clears the fd's readiness: the loop calls it when the fd woke it,
	 * not in every round (a system call saved per round). */
	void (*ack)(struct blk_engine *e);
	/* Hands queued requests to the kernel (one system call per batch). */
	void (*commit)(struct blk_engine *e);
	/* Completes up to max requests (their callbacks run); returns how
	 * many. */
	unsigned (*reap)(struct blk_engine *e, unsigned max);
	/* Whether reap() would find something: a check in user space, for
	 * the transport's bounded spin. */
	bool (*ready)(struct blk_engine *e);

	/* ---- backings (files, devices) ---- */
	int (*open)(struct blk_engine *e, const char *path, bool readonly,
		    struct blk_backing **out, struct blk_backing_info *info);
	void (*close)(struct blk_backing *s);
	/* 0, or -errno when the request could not even be queued. */
	int (*submit_rw)(struct blk_backing *s, struct blk_io *io);
	int (*flush)(struct blk_backing *s, struct blk_io *io);
	int (*discard)(struct blk_backing *s, struct blk_io *io);
	/* Current size in bytes (a file or LV may grow). */
	int (*size)(struct blk_backing *s, uint64_t *bytes);
	/* Optional, remote storage (nbd, rbd): the state of its connection
	 * or cluster, for the stats JSON, metrics, the storage-state node
	 * and pvctl block-list. */
	void (*remote)(struct blk_backing *s, struct blk_remote_state *out);
};

extern const struct blk_backend_ops blk_backend_aio;
extern const struct blk_backend_ops blk_backend_uring;
extern const struct blk_backend_ops blk_backend_null;
extern const struct blk_backend_ops blk_backend_nbd;
extern const struct blk_backend_ops blk_backend_rbd;   /* "rbd:..." params */

/* Whether params is an NBD URI (nbd://, nbds://, nbd+unix://, ...). */
bool blk_nbd_uri(const char *params);

/* "aio", "uring" or "null"; NULL if unknown. */
const struct blk_backend_ops *blk_backend_find(const char *name);

#endif
