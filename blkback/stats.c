#include <inttypes.h>
#include <stddef.h>

#include <event2/buffer.h>

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

static void json_array(struct evbuffer *out, const char *name,
		       const uint64_t *v, unsigned n)
{
	evbuffer_add_printf(out, ",\"%s\":[", name);
	for (unsigned i = 0; i < n; i++)
		evbuffer_add_printf(out, "%s%" PRIu64, i ? "," : "", v[i]);
	evbuffer_add(out, "]", 1);
}

void blk_stats_json(struct evbuffer *out, const struct blk_qstats *st)
{
	const char *sep = "";

#define PUT(name, is_max) \
	evbuffer_add_printf(out, "%s\"" #name "\":%" PRIu64, sep, st->name); \
	sep = ",";
	BLK_COUNTERS(PUT)
#undef PUT
	json_array(out, "lat_us_log2", st->lat, BLK_LAT_BUCKETS);
	json_array(out, "batch_log2", st->batch, BLK_BATCH_BUCKETS);
}
