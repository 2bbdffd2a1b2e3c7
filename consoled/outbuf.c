/* The bounded output buffer with drop-oldest and a gap marker (outbuf.h).
 * A circular buffer: head is the oldest byte, len bytes follow it
 * (wrapping at cap). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbuf.h"

void outbuf_init(struct outbuf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap ? cap : 1;
}

static void release(struct outbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->head = 0;
	b->len = 0;
}

void outbuf_destroy(struct outbuf *b)
{
	release(b);
	b->pending_drop = 0;
	b->marker_len = b->marker_off = 0;
}

static void drop_oldest(struct outbuf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	b->head = (b->head + n) % b->cap;
	b->len -= n;
	b->pending_drop += n;
	b->dropped_total += n;
	if (!b->len)
		release(b);
}

int outbuf_set_cap(struct outbuf *b, size_t cap)
{
	char *nd = NULL;
	size_t keep;

	if (!cap)
		cap = 1;
	if (cap == b->cap)
		return 0;
	if (b->len > cap)
		drop_oldest(b, b->len - cap);
	keep = b->len;
	if (keep) {
		nd = malloc(cap);
		if (!nd)
			return -ENOMEM;
		for (size_t i = 0; i < keep; i++)
			nd[i] = b->data[(b->head + i) % b->cap];
		free(b->data);
	}
	b->data = nd;
	b->head = 0;
	b->len = keep;
	b->cap = cap;
	return 0;
}

int outbuf_empty(const struct outbuf *b)
{
	return !b->len && !b->pending_drop && b->marker_off >= b->marker_len;
}

int outbuf_put(struct outbuf *b, const void *data, size_t len)
{
	const char *p = data;
	size_t tail, n1;

	if (!len)
		return 0;
	if (len > b->cap) {
		/* Only the newest cap bytes can survive. */
		drop_oldest(b, b->len);
		b->pending_drop += len - b->cap;
		b->dropped_total += len - b->cap;
		p += len - b->cap;
		len = b->cap;
	} else if (b->len + len > b->cap) {
		drop_oldest(b, b->len + len - b->cap);
	}
	if (!b->data) {
		b->data = malloc(b->cap);
		if (!b->data) {
			b->pending_drop += len;
			b->dropped_total += len;
			return -ENOMEM;
		}
		b->head = 0;
	}
	tail = (b->head + b->len) % b->cap;
	n1 = b->cap - tail < len ? b->cap - tail : len;
	memcpy(b->data + tail, p, n1);
	memcpy(b->data, p + n1, len - n1);
	b->len += len;
	return 0;
}

size_t outbuf_peek(struct outbuf *b, const char **p)
{
	if (b->marker_off >= b->marker_len && b->pending_drop) {
		int n = snprintf(b->marker, sizeof(b->marker),
				 "\r\n[pvd-consoled: %" PRIu64 " bytes dropped]\r\n",
				 b->pending_drop);

		b->marker_len = n > 0 && (size_t)n < sizeof(b->marker) ? (size_t)n : 0;
		b->marker_off = 0;
		b->pending_drop = 0;
	}
	if (b->marker_off < b->marker_len) {
		*p = b->marker + b->marker_off;
		return b->marker_len - b->marker_off;
	}
	if (!b->len) {
		*p = NULL;
		return 0;
	}
	*p = b->data + b->head;
	return b->cap - b->head < b->len ? b->cap - b->head : b->len;
}

void outbuf_consume(struct outbuf *b, size_t n)
{
	if (b->marker_off < b->marker_len) {
		size_t m = b->marker_len - b->marker_off;

		if (n > m)
			n = m;
		b->marker_off += n;
		if (b->marker_off >= b->marker_len)
			b->marker_len = b->marker_off = 0;
		return;
	}
	if (n > b->len)
		n = b->len;
	b->head = (b->head + n) % b->cap;
	b->len -= n;
	if (!b->len)
		release(b);
}
