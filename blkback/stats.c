/* Statistics of a queue and of a disk (see stats.h), and their JSON for
 * the control socket, built with jansson as every daemon's answers are:
 * one escaping rule (json_dumps) everywhere. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static unsigned log2_bucket(uint64_t v, unsigned nb)
{
	unsigned b = 0;

	while (v && b < nb - 1) {
		v >>= 1;
		b++;
	}
	return b;
}

void blk_stats_latency(struct blk_qstats *st, uint64_t ns)
{
	st->lat[log2_bucket(ns / 1000, BLK_LAT_BUCKETS)]++;
	st->lat_n++;
	st->lat_sum_ns += ns;
}

void blk_stats_batch(struct blk_qstats *st, unsigned n)
{
	if (n)
		st->batch[log2_bucket(n, BLK_BATCH_BUCKETS + 1) - 1]++;
}

/* Every counter, in output order; maxima are marked. */
#define BLK_COUNTERS(X) \
	X(oo_req, 0) X(rd_req, 0) X(wr_req, 0) X(f_req, 0) X(ds_req, 0) \
	X(rd_sect, 0) X(wr_sect, 0) X(err_bad_req, 0) X(err_grant, 0) \
	X(err_io, 0) X(err_dup_id, 0) X(eopnotsupp, 0) X(kicks, 0) \
	X(notify_sent, 0) X(notify_suppressed, 0) X(rounds, 0) \
	X(occ_sum, 0) X(occ_max, 1) X(inflight_max, 1) X(pgnt_mapped, 0) \
	X(pgnt_hits, 0) X(pgnt_full, 0) X(lat_n, 0) X(lat_sum_ns, 0)

void blk_stats_add(struct blk_qstats *sum, const struct blk_qstats *add)
{
#define ADD(name, is_max) \
	if (is_max) { if (add->name > sum->name) sum->name = add->name; } \
	else sum->name += add->name;
	BLK_COUNTERS(ADD)
#undef ADD
	for (unsigned i = 0; i < BLK_LAT_BUCKETS; i++)
		sum->lat[i] += add->lat[i];
	for (unsigned i = 0; i < BLK_BATCH_BUCKETS; i++)
		sum->batch[i] += add->batch[i];
}

json_t *blk_json_u64(uint64_t v)
{
	return json_integer(v > (uint64_t)LLONG_MAX ? LLONG_MAX : (json_int_t)v);
}

json_t *blk_json_str(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j || !s)
		return j;
	/* Not UTF-8 (json_string checks): keep ASCII, the rest is '?'. */
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *u64_array(const uint64_t *v, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < n; i++)
		if (json_array_append_new(a, blk_json_u64(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int blk_stats_json(json_t *o, const struct blk_qstats *st)
{
	int rc = 0;

#define PUT(name, is_max) \
	rc |= json_object_set_new(o, #name, blk_json_u64(st->name));
	BLK_COUNTERS(PUT)
#undef PUT
	rc |= json_object_set_new(o, "lat_us_log2", u64_array(st->lat, BLK_LAT_BUCKETS));
	rc |= json_object_set_new(o, "batch_log2", u64_array(st->batch, BLK_BATCH_BUCKETS));
	return rc ? -ENOMEM : 0;
}
