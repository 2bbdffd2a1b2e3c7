/* Statistics of a queue (one blkif ring) and of a disk.  The first seven
 * counters have Xen's names (xen-blkback's sysfs statistics/). */
#ifndef PVD_BLKBACK_STATS_H
#define PVD_BLKBACK_STATS_H

#include <stdint.h>

#include <jansson.h>

/* Latency buckets: [0, 1 us), [1, 2), [2, 4), ... [2^(N-2) us, inf). */
#define BLK_LAT_BUCKETS 24
/* Requests taken per round: 1, 2-3, 4-7, ... */
#define BLK_BATCH_BUCKETS 12

struct blk_qstats {
	/* Xen's */
	uint64_t oo_req;        /* requests left on the ring for want of a slot */
	uint64_t rd_req, wr_req, f_req, ds_req;
	uint64_t rd_sect, wr_sect;
	/* answers other than OKAY, by cause */
	uint64_t err_bad_req;   /* failed validation */
	uint64_t err_grant;     /* a grant could not be mapped */
	uint64_t err_io;        /* storage failed */
	uint64_t err_dup_id;    /* id already in flight */
	uint64_t eopnotsupp;
	/* the ring */
	uint64_t kicks;         /* event-channel notifications received */
	uint64_t notify_sent, notify_suppressed;
	uint64_t rounds;        /* rounds that took requests */
	uint64_t occ_sum, occ_max; /* unconsumed requests seen per round */
	uint64_t inflight_max;
	uint64_t pgnt_mapped, pgnt_hits, pgnt_full;
	uint64_t lat_n, lat_sum_ns;
	uint64_t lat[BLK_LAT_BUCKETS];
	uint64_t batch[BLK_BATCH_BUCKETS];
};

void blk_stats_latency(struct blk_qstats *st, uint64_t ns);
void blk_stats_batch(struct blk_qstats *st, unsigned n);
/* sum += add, counter by counter (maxima taken). */
void blk_stats_add(struct blk_qstats *sum, const struct blk_qstats *add);
/* Sets every counter as a member of the object o, in output order, then
 * lat_us_log2 and batch_log2.  0, or -ENOMEM (o then partly filled). */
int blk_stats_json(json_t *o, const struct blk_qstats *st);
/* A counter as a JSON integer: jansson's are signed 64-bit, so a value
 * past 2^63-1 is written as 2^63-1.  NULL: out of memory. */
json_t *blk_json_u64(uint64_t v);
/* A string as JSON; one that is not UTF-8 (jansson refuses it, and what
 * a store node holds need not be text) has its non-ASCII bytes written
 * as '?'.  NULL: out of memory. */
json_t *blk_json_str(const char *s);

#endif
