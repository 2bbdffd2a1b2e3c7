/* Token bucket (include/pvd/ratelimit.h).  Tokens are whole bytes; the time that credited them is
 * advanced by exactly what they are worth, so a fraction of a byte is
 * never lost however often the bucket is looked at. */
#include "pvd/ratelimit.h"

#define NS 1000000000ull

void ratelimit_init(struct ratelimit *r, uint64_t rate, uint64_t burst,
		    uint64_t now_ns)
{
	r->rate = rate;
	r->burst = burst ? burst : (rate ? rate : 1);
	r->tokens = r->burst;
	r->last_ns = now_ns;
}

static void refill(struct ratelimit *r, uint64_t now_ns)
{
	uint64_t dt, add;

	if (now_ns <= r->last_ns)
		return;
	if (r->tokens >= r->burst) {
		r->last_ns = now_ns;	/* full: idle time earns nothing */
		return;
	}
	dt = now_ns - r->last_ns;
	/* Over a second (or more) can only fill the bucket. */
	if (dt >= NS && r->rate >= r->burst) {
		r->tokens = r->burst;
		r->last_ns = now_ns;
		return;
	}
	add = (unsigned __int128)dt * r->rate / NS;
	if (!add)
		return;
	if (r->tokens + add >= r->burst) {
		r->tokens = r->burst;
		r->last_ns = now_ns;
		return;
	}
	r->tokens += add;
	r->last_ns += (uint64_t)((unsigned __int128)add * NS / r->rate);
}

uint64_t ratelimit_take(struct ratelimit *r, uint64_t want, uint64_t now_ns)
{
	if (!r->rate)
		return want;
	refill(r, now_ns);
	if (want > r->tokens)
		want = r->tokens;
	r->tokens -= want;
	return want;
}

uint64_t ratelimit_wait_ns(struct ratelimit *r, uint64_t want, uint64_t now_ns)
{
	uint64_t missing, elapsed;

	if (!r->rate)
		return 0;
	refill(r, now_ns);
	if (want > r->burst)
		want = r->burst;
	if (!want)
		want = 1;
	if (r->tokens >= want)
		return 0;
	missing = want - r->tokens;
	/* Rounded up, less what has accrued since last_ns. */
	elapsed = now_ns > r->last_ns ? now_ns - r->last_ns : 0;
	{
		uint64_t need = (uint64_t)(((unsigned __int128)missing * NS +
					    r->rate - 1) / r->rate);

		return need > elapsed ? need - elapsed : 1;
	}
}

void pvd_logrl_init(struct pvd_logrl *l, uint64_t now_ns)
{
	ratelimit_init(&l->tb, PVD_LOGRL_PER_SEC, PVD_LOGRL_BURST, now_ns);
	l->suppressed = 0;
}

bool pvd_logrl_allow(struct pvd_logrl *l, uint64_t now_ns, uint64_t *dropped)
{
	*dropped = 0;
	if (!ratelimit_take(&l->tb, 1, now_ns)) {
		l->suppressed++;
		return false;
	}
	*dropped = l->suppressed;
	l->suppressed = 0;
	return true;
}
