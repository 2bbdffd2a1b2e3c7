/* Token buckets, two uses:
 *
 * - bytes: pvd-consoled's per-console bucket (bytes per second, with a
 *   burst), so that a guest writing flat out cannot take the daemon from
 *   the others.  When the bucket is empty the daemon stops consuming that
 *   guest's ring: the ring fills and the guest blocks, as with
 *   xenconsoled's rate limit, and nothing is lost.
 * - log lines: `struct pvd_logrl`, Linux's printk_ratelimited for one
 *   source (a device, a domain): whatever a guest can make a daemon log
 *   (or write into the store beside the log line) passes at most
 *   PVD_LOGRL_BURST times at once, then PVD_LOGRL_PER_SEC times a second;
 *   what was dropped is counted and said in one line when it reopens.
 *
 * The caller supplies the clock (nanoseconds, monotonic) so that the
 * arithmetic is testable. */
#ifndef PVD_RATELIMIT_H
#define PVD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	uint64_t rate;		/* bytes per second; 0: unlimited */
	uint64_t burst;		/* bucket size in bytes (>= 1) */
	uint64_t tokens;
	uint64_t last_ns;	/* time up to which tokens were credited */
};

/* Starts full.  burst 0 means one second's worth. */
void ratelimit_init(struct ratelimit *r, uint64_t rate, uint64_t burst,
		    uint64_t now_ns);
/* How many of `want` bytes may pass now (and takes them). */
uint64_t ratelimit_take(struct ratelimit *r, uint64_t want, uint64_t now_ns);
/* Nanoseconds until `want` bytes (at most burst) may pass; 0 if now. */
uint64_t ratelimit_wait_ns(struct ratelimit *r, uint64_t want, uint64_t now_ns);

/* Guest-triggered log lines, per source. */
#define PVD_LOGRL_BURST 10
#define PVD_LOGRL_PER_SEC 1

struct pvd_logrl {
	struct ratelimit tb;
	uint64_t suppressed;	/* dropped since the last line that passed */
};

/* Starts full (PVD_LOGRL_BURST lines). */
void pvd_logrl_init(struct pvd_logrl *l, uint64_t now_ns);
/* Whether a line may be logged now.  When it may and lines were dropped
 * before it, *dropped is their count (the caller says so first), else 0;
 * the count starts again. */
bool pvd_logrl_allow(struct pvd_logrl *l, uint64_t now_ns, uint64_t *dropped);

#endif
