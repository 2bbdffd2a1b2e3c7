/* pvctl: pvd-consoled's statistics as its control socket gives them
 * ("stats": one line of JSON, consoled/ctl.c: a "consoles" array), and
 * the rates between two samples that `pvctl top` shows.  "out" is what
 * the guest wrote (its out ring, to the pty and the log), "in" what it
 * was sent.  No I/O here. */
#ifndef PVCTL_CONSTAT_H
#define PVCTL_CONSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define CONSTAT_CONS_MAX  65536     /* consoles kept */

struct constat_con {
	unsigned domid;
	char console[16];               /* "primary" or a devid; printable */
	const char *tty, *state;        /* into doc; never NULL */
	uint64_t out_bytes, in_bytes, dropped, buffered, rate_stalls, log_bytes;
	const json_t *obj;              /* the daemon's object, in doc */
};

struct constat {
	struct constat_con *cons;
	unsigned ncons;
	json_t *doc;                    /* owned (a reference) */
};

/* Parses one answer to "stats".  An {"error":...} answer, a document
 * without a consoles array, or a console without a valid domid and
 * console name is -EINVAL with err set; other missing members read as 0
 * or "". */
int constat_parse(const char *text, size_t len, struct constat *s, char *err,
		  size_t errlen);
/* Idempotent; leaves s zeroed. */
void constat_free(struct constat *s);

const struct constat_con *constat_find(const struct constat *s, unsigned domid,
				       const char *console);
/* Display order: domid, then the primary, then secondaries by number. */
int constat_cmp(const struct constat_con *x, const struct constat_con *y);

/* What happened between two samples, secs apart. */
struct constat_rate {
	double out_bps, in_bps, log_bps;        /* bytes per second */
	uint64_t dropped, rate_stalls;          /* in the interval */
};

/* prev NULL, or a counter that went back (a console made anew): the
 * interval starts at zero. */
void constat_rate(const struct constat_con *prev, const struct constat_con *cur,
		  double secs, struct constat_rate *r);

#endif
