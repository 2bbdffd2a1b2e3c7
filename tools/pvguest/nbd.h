/* An NBD server for one disk on a unix socket: the fixed newstyle
 * handshake (NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_EXPORT_NAME, NBD_OPT_LIST,
 * NBD_OPT_ABORT; structured replies and metadata contexts are refused with
 * NBD_REP_ERR_UNSUP), then READ, WRITE (FUA), FLUSH, TRIM and DISC with
 * simple replies, several requests in flight per client.  The protocol is
 * NBD's doc/proto.md.
 *
 * Clients are untrusted: every length and offset is checked, a client
 * that breaks the protocol is closed, and what one client may hold
 * (requests, bytes in flight, unread replies) is bounded. */
#ifndef PVGUEST_NBD_H
#define PVGUEST_NBD_H

#include <stdbool.h>
#include <stdint.h>

#include "blkio.h"

struct event_base;
struct nbd_export;

struct nbd_disk {
	uint64_t size;		/* bytes */
	unsigned block;		/* minimum block size: a power of 2, 512..65536 */
	bool readonly, can_flush, can_trim;
};

struct nbd_config {
	const char *path;	/* the socket; replaced if it exists */
	const char *name;	/* the export's name ("" is accepted too) */
	struct nbd_disk disk;
	blkio_submit_fn *submit;
	void *submit_arg;
	unsigned max_clients;	/* 0: NBD_MAX_CLIENTS */
};

#define NBD_MAX_CLIENTS 16u
/* Options one client may send during the handshake before it is closed. */
#define NBD_OPTS_PER_CLIENT 256u
/* Per client: requests in flight, and bytes of request payloads plus
 * queued replies; beyond either, reading from the client pauses. */
#define NBD_CLIENT_MAX_INFLIGHT 128u
#define NBD_CLIENT_MAX_BYTES (64u << 20)
/* Largest read or write: NBD's recommended maximum block size. */
#define NBD_MAX_PAYLOAD BLKIO_MAX_LEN

int nbd_export_start(struct nbd_export **out, struct event_base *base,
		     const struct nbd_config *cfg);
/* New size or flags (a reconnect, a resize): for the next clients;
 * connected ones keep what they negotiated, and a request beyond the new
 * end fails. */
void nbd_export_update(struct nbd_export *ex, const struct nbd_disk *disk);
/* Closes the socket and every client.  Requests in flight finish
 * first (their replies are dropped).  NULL is a no-op. */
void nbd_export_stop(struct nbd_export *ex);
unsigned nbd_export_clients(const struct nbd_export *ex);

#endif
