/* libFuzzer target: the daemons' control-socket request parser
 * (pvd_ctl_serve in common/ctl.c) on whatever a local client sends.
 * The first byte of the input picks how the rest is cut into the pieces
 * the socket would deliver (lines may arrive split anywhere).  The
 * replies must be exactly what a plain model of the protocol says: one
 * reply line per request line of at most PVD_CTL_LINE_MAX bytes (LF or
 * CRLF ended, NUL bytes and all), in order; and the client is dropped
 * exactly when an unfinished line grows past PVD_CTL_LINE_MAX.
 * (The same module serves pvd-netback and pvd-consoled.) */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "pvd/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STATS_REPLY "{\"stats\":true}\n"

static void fake_stats(struct evbuffer *out, void *arg)
{
	evbuffer_add(out, STATS_REPLY, strlen(STATS_REPLY));
}

/* The model: the reply to one line. */
static const char *model_reply(const uint8_t *l, size_t n)
{
	static const struct { const char *cmd, *reply; } t[] = {
		{ "stats", STATS_REPLY },
		{ "ping", "pong\n" },
		{ "help", "{\"commands\":[\"stats\",\"ping\",\"help\"]}\n" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (n == strlen(t[i].cmd) && memcmp(l, t[i].cmd, n) == 0)
			return t[i].reply;
	return "{\"error\":\"unknown command\"}\n";
}

/* The model on the bytes received so far (*done of them consumed):
 * appends the replies to want; -EMSGSIZE when the client is dropped. */
static int model(const uint8_t *buf, size_t len, size_t *done,
		 struct evbuffer *want)
{
	const uint8_t *nl;

	while ((nl = memchr(buf + *done, '\n', len - *done)) != NULL) {
		const uint8_t *l = buf + *done;
		size_t n = (size_t)(nl - l);

		if (n && l[n - 1] == '\r')
			n--;
		if (n <= PVD_CTL_LINE_MAX) {
			const char *r = model_reply(l, n);

			evbuffer_add(want, r, strlen(r));
		}
		*done = (size_t)(nl - buf) + 1;
	}
	return len - *done > PVD_CTL_LINE_MAX ? -EMSGSIZE : 0;
}

static void same(struct evbuffer *a, struct evbuffer *b)
{
	size_t n = evbuffer_get_length(a);

	if (n != evbuffer_get_length(b) ||
	    (n && memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), n)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pvd_ctl c;
	struct evbuffer *in, *out, *want;
	size_t piece, off = 0, done = 0;
	int rc = 0, mrc = 0;

	if (size < 1)
		return 0;
	piece = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	memset(&c, 0, sizeof(c));
	c.stats = fake_stats;
	in = evbuffer_new();
	out = evbuffer_new();
	want = evbuffer_new();
	if (!in || !out || !want)
		abort();
	while (off < size && rc == 0) {
		size_t n = size - off < piece ? size - off : piece;

		evbuffer_add(in, data + off, n);
		off += n;
		rc = pvd_ctl_serve(&c, in, out);
		mrc = model(data, off, &done, want);
		if (rc != mrc || (rc != 0 && rc != -EMSGSIZE))
			abort();
		same(out, want);
	}
	evbuffer_free(in);
	evbuffer_free(out);
	evbuffer_free(want);
	return 0;
}
