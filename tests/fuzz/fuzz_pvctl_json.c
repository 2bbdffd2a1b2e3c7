/* libFuzzer target: pvctl's reading of pvd-blkback's control-socket
 * answers (tools/pvctl/json.c, tools/pvctl/blkstat.c).  The input is
 * parsed as JSON; a document that parses is written out compactly and
 * must parse again to the very same text (json_write's output is JSON,
 * and a second round changes nothing).  The input then goes through
 * blkstat_parse, the reading of a "stats" answer, whose promises
 * (blkstat.h: bounded devices, rings and buckets, strings never NULL) are
 * checked, and through the rates `pvctl top` computes.  Each run frees
 * what it parsed, so LeakSanitizer sees any leak; broken promises trap. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkstat.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* j as compact JSON, malloc'd; *len its length. */
static char *written(const struct json *j, size_t *len)
{
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);

	if (!m)
		return NULL;
	json_write(m, j);
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The counts a parser promises, at every level. */
static void check_tree(const struct json *j, unsigned depth)
{
	unsigned n = 0;

	if (depth > JSON_DEPTH_MAX + 1)
		__builtin_trap();
	if ((j->type == JSON_STR) != (j->s != NULL))
		__builtin_trap();
	if (j->type == JSON_NUM && j->is_u64 && (double)j->u != j->d &&
	    j->u < (1ull << 53))
		__builtin_trap();
	for (const struct json *c = j->child; c; c = c->next) {
		if (j->type == JSON_OBJ ? !c->key : c->key != NULL)
			__builtin_trap();
		check_tree(c, depth + 1);
		n++;
	}
	if (n != j->n)
		__builtin_trap();
}

static void roundtrip(const char *text, size_t size)
{
	struct json *j = NULL, *k = NULL;
	char err[200], *once, *twice;
	size_t l1 = 0, l2 = 0;

	if (json_parse(text, size, &j, err, sizeof(err)) != 0) {
		if (j || !memchr(err, '\0', sizeof(err)))
			__builtin_trap();
		return;
	}
	check_tree(j, 0);
	once = written(j, &l1);
	if (once) {
		if (json_parse(once, l1, &k, err, sizeof(err)) != 0)
			__builtin_trap();       /* we wrote something we cannot read */
		twice = written(k, &l2);
		if (twice && (l1 != l2 || memcmp(once, twice, l1) != 0))
			__builtin_trap();
		free(twice);
		json_free(k);
	}
	free(once);
	json_free(j);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blkstat s;
	char err[200];

	roundtrip((const char *)data, size);
	if (blkstat_parse((const char *)data, size, &s, err, sizeof(err)) == 0) {
		if (!s.doc || !s.engine || s.ndevs > BLKSTAT_DEVS_MAX)
			__builtin_trap();
		for (unsigned i = 0; i < s.ndevs; i++)
			check_dev(&s.devs[i]);
	} else if (s.doc || s.devs || !memchr(err, '\0', sizeof(err))) {
		__builtin_trap();
	}
	blkstat_free(&s);
	return 0;
}
