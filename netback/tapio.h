/* Writes to the taps of one I/O thread, batched (tapio.c).  A transmit
 * batch's frames are queued, then written in one go: with io_uring, one
 * system call for all of them; with writev, one each. */
#ifndef PVD_NETBACK_TAPIO_H
#define PVD_NETBACK_TAPIO_H

#include <sys/uio.h>

enum nb_tapio_mode {
	NB_TAPIO_AUTO = 0,   /* io_uring where the kernel gives one, else writev */
	NB_TAPIO_URING,      /* io_uring or nothing */
	NB_TAPIO_WRITEV,     /* a writev per frame */
};

struct nb_tapio;

/* Parses "auto", "uring" or "writev": 0, or -EINVAL. */
int nb_tapio_mode_parse(const char *s, enum nb_tapio_mode *m);
/* 0, or -errno (NB_TAPIO_URING without a usable io_uring: its error). */
int nb_tapio_create(enum nb_tapio_mode m, struct nb_tapio **out);
void nb_tapio_destroy(struct nb_tapio *t);
/* "io_uring" or "writev": what the writes go through. */
const char *nb_tapio_name(const struct nb_tapio *t);
/* Queues a write of iov[0..n) to fd; *res gets the bytes written or
 * -errno by the next nb_tapio_flush (at once, with writev).  iov and the
 * data stay the caller's, unchanged, until then. */
void nb_tapio_write(struct nb_tapio *t, int fd, const struct iovec *iov,
		    unsigned n, int *res);
/* Writes what is queued and waits for the results. */
void nb_tapio_flush(struct nb_tapio *t);

#endif
