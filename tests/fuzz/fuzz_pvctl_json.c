/* libFuzzer target: pvctl's reading of the daemons' control-socket
 * answers: the parse-and-extract layer over jansson (tools/pvctl/json.c,
 * blkstat.c for pvd-blkback's "stats", nicstat.c for pvd-netback's,
 * constat.c for pvd-consoled's, storestat.c for pvd-stored's CONTROL
 * stats).
 * The input is parsed; a document that parses is written out as
 * pvctl_json_print writes it and must parse again to an equal document
 * (what pvctl prints, pvctl reads).  The input then goes through
 * blkstat_parse, nicstat_parse, constat_parse and storestat_parse, whose
 * promises (bounded devices, rings, buckets, vifs, queues and consoles,
 * console names "primary" or a number, strings never NULL, a failure leaving
 * nothing behind) are checked, and through the rates `pvctl top`
 * computes.  Each run frees what it parsed, so LeakSanitizer sees any
 * leak; broken promises trap. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkstat.h"
#include "constat.h"
#include "json.h"
#include "nicstat.h"
#include "storestat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const char *text, size_t size)
{
	json_t *j = NULL, *k = NULL;
	char err[200], *buf = NULL;
	size_t len = 0;
	FILE *m;

	if (pvctl_json_parse(text, size, &j, err, sizeof(err)) != 0) {
		if (j || !memchr(err, '\0', sizeof(err)))
			__builtin_trap();
		return;
	}
	m = open_memstream(&buf, &len);
	if (m && pvctl_json_print(m, j) == 0 && fclose(m) == 0) {
		if (pvctl_json_parse(buf, len, &k, err, sizeof(err)) != 0 ||
		    !json_equal(j, k))
			__builtin_trap();       /* we wrote something we cannot read back */
	} else if (m) {
		fclose(m);
	}
	free(buf);
	json_decref(k);
	json_decref(j);
}

static void check_dev(const struct blkstat_dev *d)
{
	struct blkstat_rate r;
	char buf[32];

	if (!d->state_name || !d->params || !d->backend || !d->obj ||
	    d->domid > 0xffff || d->nrings > BLKSTAT_RINGS_MAX ||
	    d->c.nlat > BLKSTAT_LAT_MAX)
		__builtin_trap();
	blkstat_vdev_name(d->devid, buf, sizeof(buf));
	blkstat_rate(NULL, &d->c, 1.0, &r);
	for (unsigned i = 0; i < d->nrings; i++) {
		if (d->rings[i].c.nlat > BLKSTAT_LAT_MAX ||
		    blkstat_find_ring(d, d->rings[i].index) == NULL)
			__builtin_trap();
		blkstat_rate(&d->c, &d->rings[i].c, 0.5, &r);
	}
}

static void blk(const char *text, size_t size)
{
	struct blkstat s;
	char err[200];

	if (blkstat_parse(text, size, &s, err, sizeof(err)) == 0) {
		if (!s.doc || !s.engine || s.ndevs > BLKSTAT_DEVS_MAX)
			__builtin_trap();
		for (unsigned i = 0; i < s.ndevs; i++)
			check_dev(&s.devs[i]);
	} else if (s.doc || s.devs || !memchr(err, '\0', sizeof(err))) {
		__builtin_trap();
	}
	blkstat_free(&s);
}

static void check_vif(const struct nicstat_vif *v)
{
	struct nicstat_ctr sum = { 0 };
	struct nicstat_rate r;
	char buf[32];

	if (!v->name || !v->mac || !v->bridge || !v->obj || v->domid > 0xffff ||
	    v->nqueues > NICSTAT_QUEUES_MAX || (v->nqueues && !v->queues))
		__builtin_trap();
	for (unsigned i = 0; i < v->nqueues; i++) {
		uint64_t a = sum.rx_packets, b = v->queues[i].c.rx_packets;

		sum.rx_packets = a + b < a ? UINT64_MAX : a + b;
		nicstat_rate(&v->c, &v->queues[i].c, 0.5, &r);
	}
	if (sum.rx_packets != v->c.rx_packets)  /* the vif is its queues summed */
		__builtin_trap();
	nicstat_rate(NULL, &v->c, 1.0, &r);
	nicstat_fmt_limit(v->rate_bytes, v->rate_usec, buf, sizeof(buf));
}

static void nic(const char *text, size_t size)
{
	struct nicstat s;
	char err[200];

	if (nicstat_parse(text, size, &s, err, sizeof(err)) == 0) {
		if (!s.doc || s.nvifs > NICSTAT_VIFS_MAX)
			__builtin_trap();
		for (unsigned i = 0; i < s.nvifs; i++)
			check_vif(&s.vifs[i]);
	} else if (s.doc || s.vifs || s.nvifs || !memchr(err, '\0', sizeof(err))) {
		__builtin_trap();
	}
	nicstat_free(&s);
}

static void con(const char *text, size_t size)
{
	struct constat s;
	struct constat_rate r;
	char err[200];

	if (constat_parse(text, size, &s, err, sizeof(err)) == 0) {
		if (!s.doc || s.ncons > CONSTAT_CONS_MAX)
			__builtin_trap();
		for (unsigned i = 0; i < s.ncons; i++) {
			const struct constat_con *c = &s.cons[i];

			if (!c->tty || !c->state || !c->obj || c->domid > 0xffff ||
			    !memchr(c->console, '\0', sizeof(c->console)) ||
			    (strcmp(c->console, "primary") != 0 &&
			     strspn(c->console, "0123456789") != strlen(c->console)) ||
			    constat_find(&s, c->domid, c->console) == NULL)
				__builtin_trap();
			constat_rate(i ? &s.cons[i - 1] : NULL, c, 0.5, &r);
			if (i)
				constat_cmp(&s.cons[i - 1], c);
		}
	} else if (s.doc || s.cons || s.ncons || !memchr(err, '\0', sizeof(err))) {
		__builtin_trap();
	}
	constat_free(&s);
}

static void store(const char *text, size_t size)
{
	struct storestat s, z = { 0 };
	char err[200];
	uint64_t q;
	double rps;

	if (storestat_parse(text, size, &s, err, sizeof(err)) == 0) {
		if (!s.doc)
			__builtin_trap();
		storestat_rate(&z, &s, 1.0, &rps, &q);
		storestat_rate(NULL, &s, 0, &rps, &q);
	} else if (s.doc || !memchr(err, '\0', sizeof(err))) {
		__builtin_trap();
	}
	storestat_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	roundtrip((const char *)data, size);
	blk((const char *)data, size);
	nic((const char *)data, size);
	con((const char *)data, size);
	store((const char *)data, size);
	return 0;
}
