#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "../../stored/conn.h"
#include "../../stored/stored.h"
#include "memconn.h"

static ssize_t mem_fill(struct conn *c, struct evbuffer *buf, size_t max)
{
	struct memconn *m = c->tp;
	size_t n = evbuffer_get_length(m->pending_in);

	if (n == 0)
		return m->closed ? 0 : -EAGAIN;
	if (n > max - evbuffer_get_length(buf))
		n = max - evbuffer_get_length(buf);
	return evbuffer_remove_buffer(m->pending_in, buf, n);
}

static ssize_t mem_drain(struct conn *c, struct evbuffer *buf)
{
	struct memconn *m = c->tp;
	size_t n = evbuffer_get_length(buf);

	if (m->no_drain)
		return -EAGAIN;
	evbuffer_remove_buffer(buf, m->got, n);
	return (ssize_t)n;
}

static void mem_want(struct conn *c, bool on) { }

static void mem_destroy(struct conn *c)
{
	struct memconn *m = c->tp;

	m->c = NULL;
}

static const struct conn_ops mem_ops = {
	.name = "memory",
	.fill = mem_fill,
	.drain = mem_drain,
	.want_write = mem_want,
	.want_read = mem_want,
	.destroy = mem_destroy,
};

struct memconn *memconn_new(struct stored *sd, unsigned domid, bool privileged)
{
	struct memconn *m = calloc(1, sizeof(*m));

	m->pending_in = evbuffer_new();
	m->got = evbuffer_new();
	m->c = conn_new(sd, &mem_ops, m, domid, privileged);
	return m;
}

void memconn_free(struct memconn *m)
{
	if (!m)
		return;
	if (m->c) {
		struct stored *sd = m->c->sd;

		conn_close(m->c, "test done");
		stored_flush(sd);
	}
	evbuffer_free(m->pending_in);
	evbuffer_free(m->got);
	free(m);
}

void memconn_feed(struct memconn *m, const void *buf, size_t len)
{
	struct stored *sd;

	if (!m->c)
		return;
	sd = m->c->sd;
	evbuffer_add(m->pending_in, buf, len);
	/* Let the daemon take as many turns as it would. */
	for (int i = 0; i < 64 && m->c; i++) {
		conn_on_readable(m->c);
		stored_flush(sd);
		if (evbuffer_get_length(m->pending_in) == 0 &&
		    (!m->c || evbuffer_get_length(m->c->in) < sizeof(struct xsd_sockmsg)))
			break;
	}
}

void memconn_request(struct memconn *m, uint32_t type, uint32_t tx_id,
		     const char *const *argv, unsigned argc, bool raw_last)
{
	char buf[sizeof(struct xsd_sockmsg) + 65536];
	struct xsd_sockmsg *h = (struct xsd_sockmsg *)buf;
	size_t off = sizeof(*h);

	for (unsigned i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + (raw_last && i == argc - 1 ? 0 : 1);

		if (off + l > sizeof(buf))
			break;
		memcpy(buf + off, argv[i], l);
		off += l;
	}
	h->type = type;
	h->req_id = 42;
	h->tx_id = tx_id;
	h->len = (uint32_t)(off - sizeof(*h));
	memconn_feed(m, buf, off);
}

bool memconn_next(struct memconn *m, struct xsd_sockmsg *hdr, char *body)
{
	if (evbuffer_copyout(m->got, hdr, sizeof(*hdr)) < (ssize_t)sizeof(*hdr))
		return false;
	if (evbuffer_get_length(m->got) < sizeof(*hdr) + hdr->len ||
	    hdr->len > XENSTORE_PAYLOAD_MAX)
		return false;
	evbuffer_drain(m->got, sizeof(*hdr));
	evbuffer_remove(m->got, body, hdr->len);
	body[hdr->len] = '\0';
	return true;
}

bool memconn_reply(struct memconn *m, struct xsd_sockmsg *hdr, char *body)
{
	while (memconn_next(m, hdr, body))
		if (hdr->type != XS_WATCH_EVENT)
			return true;
	return false;
}

uint32_t xs_req(struct memconn *m, uint32_t type, uint32_t tx_id,
		char *body, unsigned n, ...)
{
	const char *argv[8];
	struct xsd_sockmsg hdr;
	char tmp[XENSTORE_PAYLOAD_MAX + 1];
	va_list ap;

	va_start(ap, n);
	for (unsigned i = 0; i < n && i < 8; i++)
		argv[i] = va_arg(ap, const char *);
	va_end(ap);
	memconn_request(m, type, tx_id, argv, n, type == XS_WRITE);
	if (!memconn_reply(m, &hdr, body ? body : tmp))
		return XS_INVALID;
	return hdr.type;
}
