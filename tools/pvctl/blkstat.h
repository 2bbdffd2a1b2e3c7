/* pvctl: pvd-blkback's statistics as its control socket gives them
 * ("stats": one line of JSON, blkback/xenbus.c blk_xenbus_stats_json),
 * turned into devices and rings, and the rates between two samples that
 * `pvctl top` shows.  No I/O here: stats.c talks to the socket. */
#ifndef PVCTL_BLKSTAT_H
#define PVCTL_BLKSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define BLKSTAT_LAT_MAX   64    /* latency buckets kept (the daemon has 24) */
#define BLKSTAT_RINGS_MAX 64    /* rings per device kept */
#define BLKSTAT_DEVS_MAX  65536 /* devices kept */

/* Cumulative counters of a ring or a device (blkback/stats.h). */
struct blkstat_ctr {
	uint64_t rd_req, wr_req, f_req, ds_req;
	uint64_t rd_sect, wr_sect;      /* 512-byte sectors */
	uint64_t oo_req;                /* left on the ring for want of a slot */
	uint64_t errors;                /* err_bad_req + err_grant + err_io + err_dup_id */
	uint64_t rounds, occ_sum;       /* requests seen on the ring, summed per round */
	uint64_t lat_n, lat_sum_ns;
	uint64_t lat[BLKSTAT_LAT_MAX];  /* [0,1us), [1,2), [2,4), ..., [2^(n-2), inf) */
	unsigned nlat;
};

struct blkstat_ring {
	unsigned index, ring_pages, ring_size;
	unsigned inflight, unconsumed;  /* now */
	unsigned thread;                /* the I/O thread serving it */
	uint64_t thread_cpu_ns;         /* that thread's CPU time */
	bool halted;
	struct blkstat_ctr c;
};

struct blkstat_dev {
	unsigned domid, devid;
	unsigned state;                 /* the backend's xenbus state */
	const char *state_name, *params, *backend;  /* into doc; never NULL */
	const char *remote;             /* a remote disk's connection ("connected",
					 * "reconnecting", "error"); "" if local */
	uint64_t sectors;
	bool readonly;
	unsigned inflight;
	struct blkstat_ctr c;           /* every ring, those gone included */
	/* An encrypted disk: "luks1"/"luks2" and its cipher (into doc);
	 * enc_format NULL for a raw one. */
	const char *enc_format, *enc_cipher;
	unsigned enc_key_bits, enc_sector_size;
	struct blkstat_ring *rings;
	unsigned nrings;
	const json_t *obj;              /* the daemon's object, in doc */
};

struct blkstat {
	const char *engine;             /* into doc, never NULL */
	struct blkstat_dev *devs;
	unsigned ndevs;
	json_t *doc;                    /* owned (a reference) */
};

/* Parses one answer to "stats".  An {"error":...} answer or a document
 * without a devices array is -EINVAL with err set.  Devices whose domid or
 * devid is missing are an error too; other missing counters read as 0. */
int blkstat_parse(const char *text, size_t len, struct blkstat *s, char *err,
		  size_t errlen);
/* Idempotent; leaves s zeroed. */
void blkstat_free(struct blkstat *s);

const struct blkstat_dev *blkstat_find_dev(const struct blkstat *s,
					   unsigned domid, unsigned devid);
const struct blkstat_ring *blkstat_find_ring(const struct blkstat_dev *d,
					     unsigned index);

/* What happened between two samples, secs apart. */
struct blkstat_rate {
	double iops, rd_iops, wr_iops;  /* requests per second (all: + flush, discard) */
	double mbps, rd_mbps, wr_mbps;  /* 10^6 bytes per second */
	double occ_avg;                 /* requests waiting on the ring, per round */
	double lat_avg_us;              /* -1: no request completed */
	double lat_p50_us, lat_p99_us;  /* bucket upper bounds, -1: none */
	uint64_t reqs, errors, oo_req;  /* in the interval */
};

/* prev NULL, or a counter that went back (a ring connected anew): the
 * interval starts at zero. */
void blkstat_rate(const struct blkstat_ctr *prev, const struct blkstat_ctr *cur,
		  double secs, struct blkstat_rate *r);
/* The q-quantile (0 < q <= 1) of a latency histogram in microseconds:
 * the upper bound of its bucket (the lower bound for the last, open
 * bucket); -1 when empty. */
double blkstat_lat_quantile(const uint64_t *lat, unsigned n, double q);

/* Xen's device number to its name (xen-vbd-interface(7)): "xvda",
 * "xvdb3", "xvdaa", "hdc", "sda1"; the number itself when it is none of
 * those. */
void blkstat_vdev_name(uint32_t devid, char *buf, size_t len);

/* "85us", "1.25ms", "2.0s", "-" for a negative value; buf >= 16 bytes. */
void blkstat_fmt_us(double us, char *buf, size_t len);

#endif
