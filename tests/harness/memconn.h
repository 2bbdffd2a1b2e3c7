/* An in-memory transport for driving pvd-stored's core without sockets:
 * unit tests and fuzz targets feed request bytes and read replies back. */
#ifndef TESTS_MEMCONN_H
#define TESTS_MEMCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

struct stored;
struct conn;

struct memconn {
	struct conn *c;
	struct evbuffer *pending_in;	/* bytes the "client" sent */
	struct evbuffer *got;		/* bytes the daemon sent */
	bool closed;
	bool no_drain;			/* simulate a client that never reads */
};

struct memconn *memconn_new(struct stored *sd, unsigned domid, bool privileged);
void memconn_free(struct memconn *m);
/* Feeds raw bytes and runs the daemon's processing and flush. */
void memconn_feed(struct memconn *m, const void *buf, size_t len);
/* Sends one request of type with NUL-separated args (argv strings, the
 * last one optionally without NUL when raw_last is set). */
void memconn_request(struct memconn *m, uint32_t type, uint32_t tx_id,
		     const char *const *argv, unsigned argc, bool raw_last);
/* Pops the next message the daemon sent; body NUL-terminated (buf must be
 * XENSTORE_PAYLOAD_MAX + 1).  false if none. */
bool memconn_next(struct memconn *m, struct xsd_sockmsg *hdr, char *body);
/* Pops messages until one that is not a watch event. */
bool memconn_reply(struct memconn *m, struct xsd_sockmsg *hdr, char *body);

/* One-call helpers: send a request and return the reply's type. */
uint32_t xs_req(struct memconn *m, uint32_t type, uint32_t tx_id,
		char *body, unsigned n, ...);

#endif
