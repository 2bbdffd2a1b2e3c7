/* A per-console token bucket (bytes per second, with a burst), so that a
 * guest writing flat out cannot take the daemon from the others.  When
 * the bucket is empty the daemon stops consuming that guest's ring: the
 * ring fills and the guest blocks, as with xenconsoled's rate limit, and
 * nothing is lost.  The caller supplies the clock (nanoseconds, monotonic)
 * so that the arithmetic is testable. */
#ifndef CONSOLED_RATELIMIT_H
#define CONSOLED_RATELIMIT_H

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

#endif
