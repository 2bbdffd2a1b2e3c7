/* NBD export of one disk; see nbd.h.
 *
 * Each client is a bufferevent.  Input is consumed as whole messages: an
 * option (header + data, at most NBD_OPT_MAX bytes), a request header, a
 * write request with its payload (at most NBD_MAX_PAYLOAD: the input
 * buffer's high watermark is set just above, so a client cannot make us
 * buffer more).  Requests become struct blkio for the disk; their replies
 * are queued as they complete (out of order, as the protocol allows).
 * A client that has NBD_CLIENT_MAX_INFLIGHT requests or NBD_CLIENT_MAX_BYTES
 * of payload and unsent replies is not read until that drains.  A client
 * that goes away with requests in flight is freed when the last one
 * completes. */
#include <errno.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "nbd.h"
#include "nbd_proto.h"
#include "pvd/log.h"

#define NBD_IO_CHUNK		(1u << 20)	/* bytes per socket read/write */

/* An option's data: names are at most 4096 bytes (proto.md), plus the
 * GO/INFO fields; more is taken as abuse. */
#define NBD_OPT_MAX		(4096u + 1024u)
#define NBD_HANDSHAKE_SECS	30
#define REQ_HDR			28u

struct nbd_client;

struct nbd_export {
	struct event_base *base;
	char *path, *name;
	struct nbd_disk disk;
	blkio_submit_fn *submit;
	void *submit_arg;
	unsigned max_clients, nclients;
	int fd;
	struct event *listen_ev, *pause_ev;
	struct nbd_client *clients;
};

enum cstate { C_FLAGS, C_OPTS, C_TRANS };

struct nbd_client {
	struct nbd_export *ex;		/* NULL once closed */
	struct bufferevent *bev;	/* output, and errors while writing */
	struct event *rd_ev;		/* input: see nc_on_readable */
	struct evbuffer *in;
	enum cstate st;
	bool no_zeroes, closing, reading;
	unsigned nopts, inflight;
	uint64_t bytes;			/* payload of requests in flight */
	struct nbd_disk disk;		/* as negotiated */
	struct nbd_client *next;
};

/* A read's data is read into data[]; a write's payload is moved (not
 * copied) off the input into its own evbuffer, handed to the disk as the
 * iovecs of its chains. */
struct nbd_req {
	struct blkio io;
	struct nbd_client *c;
	uint8_t handle[8];
	uint16_t type;
	struct evbuffer *payload;
	struct iovec *iov;
	char data[];
};

static void nc_read(struct bufferevent *bev, void *arg);
static void nc_maybe_resume(struct nbd_client *c);

static void put16(struct evbuffer *b, uint16_t v)
{
	v = htobe16(v);
	evbuffer_add(b, &v, 2);
}

static void put32(struct evbuffer *b, uint32_t v)
{
	v = htobe32(v);
	evbuffer_add(b, &v, 4);
}

static void put64(struct evbuffer *b, uint64_t v)
{
	v = htobe64(v);
	evbuffer_add(b, &v, 8);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return be16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static uint16_t tflags(const struct nbd_disk *d)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_CAN_MULTI_CONN;

	if (d->readonly)
		f |= NBD_FLAG_READ_ONLY;
	if (d->can_flush)
		f |= NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA;
	if (d->can_trim && !d->readonly)
		f |= NBD_FLAG_SEND_TRIM;
	return f;
}

static uint32_t nbd_errno(int err)
{
	switch (-err) {
	case 0:
		return 0;
	case EPERM:
	case EROFS:
		return NBD_EPERM;
	case ENOMEM:
		return NBD_ENOMEM;
	case EINVAL:
	case EOPNOTSUPP:
		return NBD_EINVAL;
	case ENOSPC:
		return NBD_ENOSPC;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	case ENODEV:
	case ETIMEDOUT:
	case ESHUTDOWN:
		return NBD_ESHUTDOWN;
	default:
		return NBD_EIO;
	}
}

/* ---- clients ---- */

static void nc_free(struct nbd_client *c)
{
	if (c->rd_ev)
		event_free(c->rd_ev);
	if (c->in)
		evbuffer_free(c->in);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c);
}

/* Drops the connection; the struct lives on while requests are in
 * flight. */
static void nc_close(struct nbd_client *c)
{
	struct nbd_export *ex = c->ex;

	if (ex) {
		for (struct nbd_client **pp = &ex->clients; *pp; pp = &(*pp)->next) {
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		}
		ex->nclients--;
		c->ex = NULL;
	}
	if (c->rd_ev) {
		event_free(c->rd_ev);
		c->rd_ev = NULL;
	}
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (!c->inflight)
		nc_free(c);
}

/* After DISC or ABORT: once everything is answered and sent. */
static void nc_close_if_done(struct nbd_client *c)
{
	if (c->closing && !c->inflight && c->bev &&
	    !evbuffer_get_length(bufferevent_get_output(c->bev)))
		nc_close(c);
}

static void nc_event(struct bufferevent *bev, short what, void *arg)
{
	/* An error or EOF while writing. */
	nc_close(arg);
}

static void nc_write(struct bufferevent *bev, void *arg)
{
	struct nbd_client *c = arg;

	if (c->closing)
		nc_close_if_done(c);	/* may free c */
	else
		nc_maybe_resume(c);
}

static bool nc_over(struct nbd_client *c)
{
	return c->inflight >= NBD_CLIENT_MAX_INFLIGHT ||
	       c->bytes + evbuffer_get_length(bufferevent_get_output(c->bev)) >=
	       NBD_CLIENT_MAX_BYTES;
}

static void nc_pause(struct nbd_client *c)
{
	if (c->reading) {
		event_del(c->rd_ev);
		c->reading = false;
	}
}

static void nc_maybe_resume(struct nbd_client *c)
{
	if (c->reading || c->closing || nc_over(c))
		return;
	c->reading = true;
	event_add(c->rd_ev, NULL);
	/* What is already buffered will not raise another read event. */
	nc_read(c->bev, c);
}

/* Input is read here rather than by the bufferevent: libevent 2.1 reads a
 * socket 4 KiB per turn of the loop (EVBUFFER_MAX_READ), which made a
 * 1 MiB write cost 256 loop turns and three system calls each.  Reads
 * until the socket is drained, NBD_IO_CHUNK at a time, never holding more
 * than the largest message (a client cannot make us buffer more). */
static void nc_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct nbd_client *c = arg;
	struct evbuffer *in = c->in;
	const size_t cap = REQ_HDR + NBD_MAX_PAYLOAD + 4096;
	size_t have = evbuffer_get_length(in);

	if (what & EV_TIMEOUT) {
		log_info("nbd: client closed: no handshake within %ds",
			 NBD_HANDSHAKE_SECS);
		nc_close(c);
		return;
	}
	while (have < cap) {
		size_t want = cap - have < NBD_IO_CHUNK ? cap - have : NBD_IO_CHUNK;
		struct evbuffer_iovec v[2];
		int nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2);
		ssize_t got;
		size_t left;

		if (nv < 1) {
			nc_close(c);
			return;
		}
		if (nv == 2 && v[0].iov_len >= want)
			nv = 1;
		got = readv(fd, v, nv);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (got <= 0) {
			/* EOF or error: the client is gone. */
			nc_close(c);
			return;
		}
		left = (size_t)got;
		for (int i = 0; i < nv; i++) {
			if (v[i].iov_len > left)
				v[i].iov_len = left;
			left -= v[i].iov_len;
		}
		evbuffer_commit_space(in, v, nv);
		have += (size_t)got;
		if ((size_t)got < want)
			break;	/* drained */
	}
	nc_read(c->bev, c);
}

static void opt_reply(struct nbd_client *c, uint32_t opt, uint32_t type,
		      const void *data, uint32_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	put64(out, NBD_REP_MAGIC);
	put32(out, opt);
	put32(out, type);
	put32(out, len);
	if (len)
		evbuffer_add(out, data, len);
}

static bool export_name_ok(const struct nbd_export *ex, const uint8_t *name, uint32_t len)
{
	return len == 0 || (len == strlen(ex->name) && memcmp(name, ex->name, len) == 0);
}

static void enter_transmission(struct nbd_client *c)
{
	c->st = C_TRANS;
	c->disk = c->ex->disk;
	/* No more handshake timeout (event_add(NULL) would keep it). */
	if (c->reading) {
		event_del(c->rd_ev);
		event_add(c->rd_ev, NULL);
	}
}

/* NBD_OPT_INFO and NBD_OPT_GO.  False: close the client. */
static void opt_info_go(struct nbd_client *c, uint32_t opt, const uint8_t *d,
			uint32_t len)
{
	struct nbd_export *ex = c->ex;
	struct evbuffer *info;
	uint32_t namelen;
	uint16_t nreq;
	bool want_name = false, want_desc = false;
	uint8_t buf[64];

	if (len < 6 || (namelen = get32(d)) > len - 6) {
		opt_reply(c, opt, NBD_REP_ERR_INVALID, NULL, 0);
		return;
	}
	nreq = get16(d + 4 + namelen);
	if ((uint64_t)4 + namelen + 2 + 2ull * nreq != len) {
		opt_reply(c, opt, NBD_REP_ERR_INVALID, NULL, 0);
		return;
	}
	for (unsigned i = 0; i < nreq; i++) {
		uint16_t t = get16(d + 6 + namelen + 2 * i);

		want_name |= t == NBD_INFO_NAME;
		want_desc |= t == NBD_INFO_DESCRIPTION;
	}
	if (!export_name_ok(ex, d + 4, namelen)) {
		opt_reply(c, opt, NBD_REP_ERR_UNKNOWN, NULL, 0);
		return;
	}
	/* NBD_INFO_EXPORT: always. */
	{
		uint16_t t = htobe16(NBD_INFO_EXPORT), f = htobe16(tflags(&ex->disk));
		uint64_t sz = htobe64(ex->disk.size);

		memcpy(buf, &t, 2);
		memcpy(buf + 2, &sz, 8);
		memcpy(buf + 10, &f, 2);
		opt_reply(c, opt, NBD_REP_INFO, buf, 12);
	}
	/* The block sizes: sent unasked too (allowed); requests outside
	 * them fail with EINVAL anyway. */
	{
		uint16_t t = htobe16(NBD_INFO_BLOCK_SIZE);
		uint32_t mn = htobe32(ex->disk.block);
		uint32_t pref = htobe32(ex->disk.block > 4096 ? ex->disk.block : 4096);
		uint32_t mx = htobe32(NBD_MAX_PAYLOAD);

		memcpy(buf, &t, 2);
		memcpy(buf + 2, &mn, 4);
		memcpy(buf + 6, &pref, 4);
		memcpy(buf + 10, &mx, 4);
		opt_reply(c, opt, NBD_REP_INFO, buf, 14);
	}
	info = evbuffer_new();
	if (info && want_name) {
		put16(info, NBD_INFO_NAME);
		evbuffer_add(info, ex->name, strlen(ex->name));
		opt_reply(c, opt, NBD_REP_INFO, evbuffer_pullup(info, -1),
			  (uint32_t)evbuffer_get_length(info));
		evbuffer_drain(info, evbuffer_get_length(info));
	}
	if (info && want_desc) {
		put16(info, NBD_INFO_DESCRIPTION);
		evbuffer_add_printf(info, "pvguest virtual block device %s", ex->name);
		opt_reply(c, opt, NBD_REP_INFO, evbuffer_pullup(info, -1),
			  (uint32_t)evbuffer_get_length(info));
	}
	if (info)
		evbuffer_free(info);
	opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
	if (opt == NBD_OPT_GO)
		enter_transmission(c);
}

/* One option.  False: close the client. */
static bool handle_opt(struct nbd_client *c, uint32_t opt, const uint8_t *d,
		       uint32_t len)
{
	struct nbd_export *ex = c->ex;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	switch (opt) {
	case NBD_OPT_EXPORT_NAME: {
		static const uint8_t zeroes[124];

		if (!export_name_ok(ex, d, len)) {
			log_info("nbd: unknown export asked with NBD_OPT_EXPORT_NAME");
			return false;
		}
		put64(out, ex->disk.size);
		put16(out, tflags(&ex->disk));
		if (!c->no_zeroes)
			evbuffer_add(out, zeroes, sizeof(zeroes));
		enter_transmission(c);
		return true;
	}
	case NBD_OPT_ABORT:
		opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
		c->closing = true;
		nc_pause(c);
		return true;
	case NBD_OPT_LIST:
		if (len) {
			opt_reply(c, opt, NBD_REP_ERR_INVALID, NULL, 0);
			return true;
		}
		put64(out, NBD_REP_MAGIC);
		put32(out, opt);
		put32(out, NBD_REP_SERVER);
		put32(out, 4 + (uint32_t)strlen(ex->name));
		put32(out, (uint32_t)strlen(ex->name));
		evbuffer_add(out, ex->name, strlen(ex->name));
		opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
		return true;
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		opt_info_go(c, opt, d, len);
		return true;
	default:
		/* STARTTLS (we run without TLS), STRUCTURED_REPLY, metadata
		 * contexts, extended headers, anything newer. */
		opt_reply(c, opt, NBD_REP_ERR_UNSUP, NULL, 0);
		return true;
	}
}

static void simple_reply(struct nbd_client *c, const uint8_t handle[8],
			 uint32_t err)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	put32(out, NBD_SIMPLE_REPLY_MAGIC);
	put32(out, err);
	evbuffer_add(out, handle, 8);
}

static void req_free(struct nbd_req *r)
{
	if (r->payload)
		evbuffer_free(r->payload);
	free(r->iov);
	free(r);
}

static void req_cleanup(const void *data, size_t len, void *arg)
{
	req_free(arg);
}

static void req_done(struct blkio *io, int err)
{
	struct nbd_req *r = (struct nbd_req *)io;
	struct nbd_client *c = r->c;

	c->inflight--;
	if (r->type == NBD_CMD_WRITE || r->type == NBD_CMD_READ)
		c->bytes -= r->io.len;
	if (!c->bev) {
		req_free(r);
		if (!c->inflight)
			nc_free(c);
		return;
	}
	simple_reply(c, r->handle, nbd_errno(err));
	if (!err && r->type == NBD_CMD_READ && r->io.len) {
		/* The reply owns the buffer now: no copy. */
		if (evbuffer_add_reference(bufferevent_get_output(c->bev), r->data,
					   r->io.len, req_cleanup, r) < 0) {
			req_free(r);
			nc_close(c);
			return;
		}
	} else {
		req_free(r);
	}
	if (c->closing)
		nc_close_if_done(c);	/* may free c */
	else if (c->ex)
		nc_maybe_resume(c);
}

/* Moves a write's len bytes of payload off the input into r->payload and
 * points r->io at its chains. */
static int take_payload(struct nbd_req *r, struct evbuffer *in, uint32_t len)
{
	int n;

	r->payload = evbuffer_new();
	if (!r->payload) {
		evbuffer_drain(in, len);
		return -ENOMEM;
	}
	n = evbuffer_remove_buffer(in, r->payload, len);
	if (n != (int)len) {
		/* The message must leave the input all the same. */
		evbuffer_drain(in, len - (uint32_t)(n > 0 ? n : 0));
		return -ENOMEM;
	}
	n = evbuffer_peek(r->payload, -1, NULL, NULL, 0);
	r->iov = n > 0 ? calloc((size_t)n, sizeof(*r->iov)) : NULL;
	if (!r->iov || evbuffer_peek(r->payload, -1, NULL, r->iov, n) != n)
		return -ENOMEM;
	r->io.iov = r->iov;
	r->io.iovcnt = (unsigned)n;
	return 0;
}

/* One request: header h, and (a write) its payload still in the input
 * buffer after the header.  Drains the message. */
static void handle_req(struct nbd_client *c, const uint8_t *h,
		       struct evbuffer *in)
{
	uint16_t flags = get16(h + 4), type = get16(h + 6);
	uint64_t off = get64(h + 16);
	uint32_t len = get32(h + 24);
	const struct nbd_disk *d = &c->disk;
	uint16_t ok_flags = d->can_flush ? NBD_CMD_FLAG_FUA : 0;
	struct nbd_req *r;
	uint32_t err = 0;
	bool data = type == NBD_CMD_READ || type == NBD_CMD_WRITE;
	int rc;

	evbuffer_drain(in, REQ_HDR);
	if (type == NBD_CMD_DISC) {
		c->closing = true;
		nc_pause(c);
		return;
	}
	if (flags & ~ok_flags)
		err = NBD_EINVAL;
	else if (type == NBD_CMD_WRITE && d->readonly)
		err = NBD_EPERM;
	else if (type == NBD_CMD_TRIM && (d->readonly || !d->can_trim))
		err = d->readonly ? NBD_EPERM : NBD_EINVAL;
	else if (type == NBD_CMD_FLUSH && !d->can_flush)
		err = NBD_EINVAL;
	else if (type != NBD_CMD_READ && type != NBD_CMD_WRITE &&
		 type != NBD_CMD_TRIM && type != NBD_CMD_FLUSH)
		err = NBD_EINVAL;
	else if (type != NBD_CMD_FLUSH &&
		 (off % d->block || len % d->block || (data && len > NBD_MAX_PAYLOAD)))
		err = NBD_EINVAL;
	else if (type != NBD_CMD_FLUSH && (off > d->size || len > d->size - off))
		err = type == NBD_CMD_WRITE ? NBD_ENOSPC : NBD_EINVAL;
	r = err || (type != NBD_CMD_FLUSH && len == 0) ? NULL :
	    malloc(sizeof(*r) + (type == NBD_CMD_READ ? len : 0));
	if (!r) {
		if (type == NBD_CMD_WRITE)
			evbuffer_drain(in, len);
		simple_reply(c, h + 8, err || (type != NBD_CMD_FLUSH && len == 0) ?
			     err : NBD_ENOMEM);
		return;
	}
	memset(&r->io, 0, sizeof(r->io));
	r->payload = NULL;
	r->iov = NULL;
	r->c = c;
	memcpy(r->handle, h + 8, 8);
	r->type = type;
	r->io.op = type == NBD_CMD_READ ? BLKIO_READ : type == NBD_CMD_WRITE ?
		   BLKIO_WRITE : type == NBD_CMD_TRIM ? BLKIO_DISCARD : BLKIO_FLUSH;
	r->io.fua = (flags & NBD_CMD_FLAG_FUA) && type != NBD_CMD_READ &&
		    type != NBD_CMD_FLUSH;
	r->io.offset = type == NBD_CMD_FLUSH ? 0 : off;
	r->io.len = type == NBD_CMD_FLUSH ? 0 : len;
	r->io.buf = type == NBD_CMD_READ ? r->data : NULL;
	r->io.done = req_done;
	if (type == NBD_CMD_WRITE && (rc = take_payload(r, in, len)) < 0)
		goto fail;
	rc = c->ex->submit(c->ex->submit_arg, &r->io);
	if (rc < 0)
		goto fail;
	c->inflight++;
	if (data)
		c->bytes += len;
	return;
fail:
	simple_reply(c, h + 8, nbd_errno(rc));
	req_free(r);
}

/* What one step of nc_read did: took a message (look for the next),
 * waits for more input (or for the client to drain), or closed the
 * client (which may be freed). */
enum nc_step { NC_NEXT, NC_WAIT, NC_GONE };

/* The client's flags, right after our greeting. */
static enum nc_step nc_read_flags(struct nbd_client *c, size_t avail)
{
	uint8_t b[4];
	uint32_t fl;

	if (avail < 4)
		return NC_WAIT;
	evbuffer_remove(c->in, b, 4);
	fl = get32(b);
	if (fl & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
		log_info("nbd: client sent unknown flags %#x: closed", fl);
		nc_close(c);
		return NC_GONE;
	}
	c->no_zeroes = fl & NBD_FLAG_C_NO_ZEROES;
	c->st = C_OPTS;
	return NC_NEXT;
}

/* One option of the handshake, whole. */
static enum nc_step nc_read_option(struct nbd_client *c, size_t avail)
{
	uint8_t hdr[16], *msg;
	uint32_t opt, len;

	if (avail < 16)
		return NC_WAIT;
	evbuffer_copyout(c->in, hdr, 16);
	opt = get32(hdr + 8);
	len = get32(hdr + 12);
	if (get64(hdr) != NBD_OPTS_MAGIC || len > NBD_OPT_MAX ||
	    c->nopts >= NBD_OPTS_PER_CLIENT) {
		log_info("nbd: bad option header (or too many options): closed");
		nc_close(c);
		return NC_GONE;
	}
	if (avail < 16 + (size_t)len)
		return NC_WAIT;
	c->nopts++;
	msg = evbuffer_pullup(c->in, 16 + (ssize_t)len);
	if (!msg || !handle_opt(c, opt, msg + 16, len)) {
		nc_close(c);
		return NC_GONE;
	}
	evbuffer_drain(c->in, 16 + (size_t)len);
	if (c->closing) {
		nc_close_if_done(c);	/* may free c */
		return NC_GONE;
	}
	return NC_NEXT;
}

/* One request of the transmission phase, a write with its payload. */
static enum nc_step nc_read_request(struct nbd_client *c, size_t avail)
{
	uint8_t hdr[REQ_HDR];
	uint32_t len;

	if (nc_over(c)) {
		nc_pause(c);
		return NC_WAIT;
	}
	if (avail < REQ_HDR)
		return NC_WAIT;
	evbuffer_copyout(c->in, hdr, REQ_HDR);
	if (get32(hdr) != NBD_REQUEST_MAGIC) {
		log_info("nbd: bad request magic: closed");
		nc_close(c);
		return NC_GONE;
	}
	len = get32(hdr + 24);
	if (get16(hdr + 6) == NBD_CMD_WRITE) {
		if (len > NBD_MAX_PAYLOAD) {
			/* Cannot be skipped safely. */
			log_info("nbd: write of %u bytes: closed", len);
			nc_close(c);
			return NC_GONE;
		}
		if (avail < REQ_HDR + (size_t)len)
			return NC_WAIT;
	}
	handle_req(c, hdr, c->in);
	if (c->closing) {
		nc_close_if_done(c);	/* may free c */
		return NC_GONE;
	}
	return NC_NEXT;
}

static void nc_read(struct bufferevent *bev, void *arg)
{
	struct nbd_client *c = arg;
	enum nc_step step = NC_NEXT;

	while (step == NC_NEXT && c->bev && c->reading) {
		size_t avail = evbuffer_get_length(c->in);

		if (c->st == C_FLAGS)
			step = nc_read_flags(c, avail);
		else if (c->st == C_OPTS)
			step = nc_read_option(c, avail);
		else
			step = nc_read_request(c, avail);
	}
}

static void nbd_on_resume_accept(evutil_socket_t fd, short what, void *arg)
{
	struct nbd_export *ex = arg;

	event_add(ex->listen_ev, NULL);
}

static void nbd_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct nbd_export *ex = arg;
	static const struct timeval hs = { NBD_HANDSHAKE_SECS, 0 };
	struct nbd_client *c;
	int fd;

	for (int i = 0; i < 16; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS) {
				struct timeval tv = { 1, 0 };

				log_warn("nbd: accept: %s: pausing", strerror(errno));
				event_del(ex->listen_ev);
				event_add(ex->pause_ev, &tv);
			}
			return;
		}
		if (ex->nclients >= ex->max_clients) {
			log_warn("nbd: %u clients already: connection refused",
				 ex->nclients);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->ex = ex;
		c->bev = bufferevent_socket_new(ex->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev) {
			close(fd);
			free(c);
			continue;
		}
		bufferevent_setcb(c->bev, NULL, nc_write, nc_event, c);
		/* libevent writes 16 KiB per turn of the loop by default. */
		bufferevent_set_max_single_write(c->bev, NBD_IO_CHUNK);
		/* Not the bufferevent's input: it keeps that one frozen. */
		c->in = evbuffer_new();
		c->rd_ev = event_new(ex->base, fd, EV_READ | EV_PERSIST,
				     nc_on_readable, c);
		if (!c->in || !c->rd_ev || event_add(c->rd_ev, &hs) < 0) {
			nc_free(c);
			continue;
		}
		c->next = ex->clients;
		ex->clients = c;
		ex->nclients++;
		{
			struct evbuffer *out = bufferevent_get_output(c->bev);

			put64(out, NBD_MAGIC);
			put64(out, NBD_OPTS_MAGIC);
			put16(out, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
		}
		c->reading = true;
		bufferevent_enable(c->bev, EV_WRITE);
	}
}

int nbd_export_start(struct nbd_export **out, struct event_base *base,
		     const struct nbd_config *cfg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct nbd_export *ex;
	int rc;

	*out = NULL;
	if (!cfg->path || strlen(cfg->path) >= sizeof(sa.sun_path) || !cfg->submit ||
	    cfg->disk.block < 512 || cfg->disk.block > 65536 ||
	    (cfg->disk.block & (cfg->disk.block - 1))) {
		log_err("nbd: bad configuration (socket path too long?): %s",
			cfg->path ? cfg->path : "(none)");
		return -EINVAL;
	}
	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	ex->fd = -1;
	ex->base = base;
	ex->disk = cfg->disk;
	ex->submit = cfg->submit;
	ex->submit_arg = cfg->submit_arg;
	ex->max_clients = cfg->max_clients ? cfg->max_clients : NBD_MAX_CLIENTS;
	ex->path = strdup(cfg->path);
	ex->name = strdup(cfg->name ? cfg->name : "");
	if (!ex->path || !ex->name) {
		rc = -ENOMEM;
		goto fail;
	}
	strcpy(sa.sun_path, cfg->path);
	ex->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ex->fd < 0) {
		rc = -errno;
		goto fail;
	}
	unlink(cfg->path);
	if (bind(ex->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(cfg->path, 0660) < 0 || listen(ex->fd, 64) < 0) {
		rc = -errno;
		log_err("nbd: cannot listen on %s: %s", cfg->path, strerror(-rc));
		goto fail;
	}
	ex->listen_ev = event_new(base, ex->fd, EV_READ | EV_PERSIST, nbd_on_accept, ex);
	ex->pause_ev = event_new(base, -1, 0, nbd_on_resume_accept, ex);
	if (!ex->listen_ev || !ex->pause_ev || event_add(ex->listen_ev, NULL) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = ex;
	return 0;
fail:
	if (ex->fd >= 0 && ex->path)
		unlink(ex->path);
	nbd_export_stop(ex);
	return rc;
}

void nbd_export_update(struct nbd_export *ex, const struct nbd_disk *disk)
{
	if (disk->block >= 512 && disk->block <= 65536 &&
	    !(disk->block & (disk->block - 1)))
		ex->disk = *disk;
	/* Connected clients: a smaller disk must not be written past its
	 * end, whatever they negotiated. */
	for (struct nbd_client *c = ex->clients; c; c = c->next)
		if (c->st == C_TRANS && c->disk.size > disk->size)
			c->disk.size = disk->size;
}

void nbd_export_stop(struct nbd_export *ex)
{
	if (!ex)
		return;
	while (ex->clients)
		nc_close(ex->clients);
	if (ex->listen_ev)
		event_free(ex->listen_ev);
	if (ex->pause_ev)
		event_free(ex->pause_ev);
	if (ex->fd >= 0) {
		close(ex->fd);
		unlink(ex->path);
	}
	free(ex->path);
	free(ex->name);
	free(ex);
}

unsigned nbd_export_clients(const struct nbd_export *ex)
{
	return ex->nclients;
}
