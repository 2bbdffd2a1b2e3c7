/* One console: a guest's struct xencons_interface (<xen/io/console.h>)
 * mapped through the hypervisor layer, its event channel, a pty, the
 * guest's log, the bounded output buffer and the rate limit.  See the
 * design comment at the top of console.c. */
#ifndef CONSOLED_CONSOLE_H
#define CONSOLED_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvd/hv.h"

struct consoled;
struct console;

struct console_cfg {
	domid_t domid;
	int devid;		/* -1: the primary console (GNTTAB_RESERVED_CONSOLE) */
	grant_ref_t ref;	/* secondary consoles: the guest's grant reference */
	evtchn_port_t remote_port;
	size_t buffer_size;	/* 0: the daemon's default */
	const char *log_base;	/* sanitised; NULL: no log */
};

struct console_stats {
	uint64_t out_bytes;	/* consumed from the guest's out ring */
	uint64_t in_bytes;	/* produced into its in ring */
	uint64_t dropped;	/* discarded from the output buffer */
	size_t buffered;	/* waiting for the pty */
	uint64_t rate_stalls;	/* times the rate limit stopped consumption */
	uint64_t log_bytes;	/* guest bytes written to its log, all files */
	bool broken;
	bool rate_blocked;
	bool input_blocked;
};

/* Maps, binds, opens the pty (and the log); consumes what the guest wrote
 * already.  -errno on failure, nothing left behind. */
int console_create(struct consoled *cd, const struct console_cfg *cfg,
		   struct console **out);
/* Unbinds, unmaps, closes the pty and the log.  NULL is a no-op. */
void console_destroy(struct console *c);

/* The pty's slave path ("/dev/pts/N"); "" once broken. */
const char *console_tty(const struct console *c);
domid_t console_domid(const struct console *c);
int console_devid(const struct console *c);
bool console_broken(const struct console *c);
void console_stats(const struct console *c, struct console_stats *st);
/* The guest notified: consume its output, resume blocked input. */
void console_kick(struct console *c);
/* SIGHUP: reopen the log file. */
void console_reopen_log(struct console *c);
/* console/limit changed: a new output buffer capacity. */
void console_set_buffer(struct console *c, size_t size);

#endif
