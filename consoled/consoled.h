/* pvd-consoled's context: options, the hypervisor handle and its event,
 * and the local event-channel port -> console table.  The store side
 * (tracker.c) and the per-console pipeline (console.c) hang off it; unit
 * tests build one without a store. */
#ifndef CONSOLED_CONSOLED_H
#define CONSOLED_CONSOLED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvd/hv.h"

struct event_base;
struct event;
struct console;
struct tracker;
struct consoled_port_bucket;

/* Defaults (docs/pvd-consoled.md). */
#define CONSOLED_RATE_DEFAULT     (1024u * 1024u)	/* bytes/s per console */
#define CONSOLED_BURST_DEFAULT    (256u * 1024u)
#define CONSOLED_BUFFER_DEFAULT   (64u * 1024u)		/* per console */
#define CONSOLED_BUFFER_MAX       (16u * 1024u * 1024u)
#define CONSOLED_LOG_MAX_DEFAULT  (10ull * 1024 * 1024)
/* Secondary consoles (device/console/<id>) served per domain: a guest
 * creating thousands must not exhaust our ptys and descriptors. */
#define CONSOLED_SECONDARY_MAX    8u

struct consoled_opts {
	const char *log_dir;	/* NULL: guests' output is not logged */
	bool timestamps;
	uint64_t log_max_bytes;	/* 0: unlimited */
	uint64_t rate;		/* bytes/s per console, 0: unlimited */
	uint64_t burst;
	size_t buffer_size;	/* per console, before console/limit */
	const char *hv_impl;	/* NULL/"auto", "sim" or "xen" */
};

#define CONSOLED_PORT_BUCKETS 1024u

struct consoled {
	struct event_base *base;
	struct consoled_opts opts;
	struct hv *hv;
	struct event *hv_ev;
	struct consoled_port_bucket *ports;	/* [CONSOLED_PORT_BUCKETS] */
	unsigned nconsoles;	/* created and not yet destroyed */
	struct tracker *tr;	/* NULL without a store (unit tests) */
	/* Called when a console breaks (tracker.c removes its tty node). */
	void (*on_broken)(void *arg, struct console *c);
	void *on_broken_arg;
	bool stopping;
	int exit_code;
};

void consoled_opts_default(struct consoled_opts *o);
/* Opens the hypervisor layer and watches its event fd.  Undo with
 * consoled_stop (idempotent). */
int consoled_start(struct consoled *cd, struct event_base *base,
		   const struct consoled_opts *o);
void consoled_stop(struct consoled *cd);
/* Ends the event loop with an exit code (e.g. the store went away). */
void consoled_fail(struct consoled *cd, int code);

/* The port table, used by console.c. */
int consoled_port_add(struct consoled *cd, struct console *c,
		      evtchn_port_t port);
void consoled_port_del(struct consoled *cd, struct console *c,
		       evtchn_port_t port);

#endif
