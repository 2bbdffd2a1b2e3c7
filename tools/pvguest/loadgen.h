/* A load generator inside the guest (pvguest --loadgen SPEC): drives one
 * vbd through blkfront directly, without NBD, for benchmarks of the ring
 * and the backend alone.  Prints one key=value line (stdout and the log):
 *
 *   loadgen devid=51712 rw=randread bs=4096 qd=32 seconds=5 ios=N
 *     iops=X mbps=Y lat_avg_us=.. lat_p50_us=.. lat_p90_us=.. lat_p99_us=..
 *     lat_p999_us=.. lat_max_us=.. errors=0 verified=N verify_errors=0
 *
 * SPEC: comma-separated key=value: devid (required), rw (read, write,
 * randread, randwrite, randrw; default randread), bs (512..4 MiB, a
 * multiple of 512; default 4096), qd (1..1024; 32), seconds (1..3600; 5),
 * size (bytes of the disk to use from offset 0; default all), verify
 * (0/1: writes carry a pattern of block and generation; reads of blocks
 * written in this run are checked, and after a write-only run every
 * written block is read back and checked), exit (0/1: stop pvguest when
 * done, status 0 if there were no errors).  It starts when the device
 * connects. */
#ifndef PVGUEST_LOADGEN_H
#define PVGUEST_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blkfront.h"

struct event_base;
struct loadgen;

enum loadgen_rw { LG_READ, LG_WRITE, LG_RANDREAD, LG_RANDWRITE, LG_RANDRW };

struct loadgen_spec {
	char devid[FRONTEND_ID_MAX + 1];
	enum loadgen_rw rw;
	unsigned bs, qd, seconds;
	uint64_t size;
	bool verify, exit;
};

/* 0, or -EINVAL with a reason in err. */
int loadgen_parse(const char *s, struct loadgen_spec *out, char *err, size_t errlen);

/* finished(arg, status) when the run is over (status 0: no errors). */
int loadgen_create(struct loadgen **out, struct event_base *base,
		   const struct loadgen_spec *spec,
		   void (*finished)(void *arg, int status), void *arg);
void loadgen_destroy(struct loadgen *lg);
/* The blkfront listener (blkfront_config.event, arg = the loadgen). */
void loadgen_on_event(void *arg, struct blkfront *bf, const char *devid,
		      enum blkfront_event ev);

#endif
