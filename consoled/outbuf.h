/* A console's bounded output buffer: what the guest wrote that the pty
 * could not take yet (nobody attached, or a slow reader).
 *
 * It holds at most `cap` bytes.  When more arrive, the OLDEST bytes are
 * discarded: the newest output (a panic, the last prompt) is what an
 * operator attaching later wants.  The count of discarded bytes is kept,
 * and the next drain first yields a visible marker,
 *	"\r\n[pvd-consoled: N bytes dropped]\r\n",
 * at the place of the gap, then the surviving bytes.  The marker is not
 * counted in `cap`.  Storage is allocated when the first byte is queued
 * and freed when the buffer empties, so an idle console costs nothing.
 */
#ifndef CONSOLED_OUTBUF_H
#define CONSOLED_OUTBUF_H

#include <stddef.h>
#include <stdint.h>

#define OUTBUF_MARKER_MAX 64

struct outbuf {
	char *data;		/* cap bytes, or NULL while empty */
	size_t cap;
	size_t head;		/* offset of the oldest byte */
	size_t len;
	uint64_t pending_drop;	/* dropped, marker not yet started */
	uint64_t dropped_total;
	char marker[OUTBUF_MARKER_MAX];
	size_t marker_len, marker_off;	/* a marker being written */
};

/* cap >= 1. */
void outbuf_init(struct outbuf *b, size_t cap);
/* Frees the storage; idempotent. */
void outbuf_destroy(struct outbuf *b);
/* Changes the capacity (console/limit); drops the oldest bytes if the
 * buffer holds more than the new capacity. */
int outbuf_set_cap(struct outbuf *b, size_t cap);
/* True when nothing (neither data nor a marker) waits. */
int outbuf_empty(const struct outbuf *b);
/* Appends, discarding the oldest bytes beyond cap.  -ENOMEM if the
 * storage cannot be allocated (the bytes are then counted as dropped). */
int outbuf_put(struct outbuf *b, const void *data, size_t len);
/* The next contiguous piece to write (a marker first if one is due):
 * sets *p and returns its length, 0 when empty. */
size_t outbuf_peek(struct outbuf *b, const char **p);
/* n bytes of what outbuf_peek returned were written. */
void outbuf_consume(struct outbuf *b, size_t n);

#endif
