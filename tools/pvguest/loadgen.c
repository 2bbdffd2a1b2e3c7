/* The in-guest load generator; see loadgen.h.
 *
 * qd slots, each with its own buffer, are kept busy until the time is
 * up.  Latency (queueing in blkfront included) goes into a log-linear
 * histogram (16 sub-buckets per power of two: under 7% error).  With
 * verify, gen[block] holds the generation last written there (0: not
 * written in this run, UINT32_MAX: unknown after a failed write) and a
 * block is never in flight twice, so that a read's expected content is
 * known. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "loadgen.h"
#include "pvd/log.h"
#include "pvd/num.h"
#include "pvd/ring_util.h"

#define HBUCKETS (64 * 16)
#define MAX_BLOCKS (1u << 26)
#define GEN_UNKNOWN UINT32_MAX

struct slot {
	struct blkio io;
	struct loadgen *lg;
	uint64_t block;
	uint32_t gen;
	void *buf;
};

struct loadgen {
	struct loadgen_spec s;
	struct event_base *base;
	void (*finished)(void *arg, int status);
	void *arg;
	struct blkfront *bf;
	struct event *timer;
	bool running, stopping, verifying, done;
	uint64_t nblocks, seq_next, rng, verify_next;
	uint32_t *gen;
	uint8_t *busy;
	uint32_t gen_seq;
	struct slot *slots;
	unsigned inflight;
	uint64_t t_start, t_end, ios, bytes, errors, verified, verify_errors;
	uint64_t lat_sum, lat_max;
	uint64_t hist[HBUCKETS];
};

static unsigned hbucket(uint64_t v)
{
	unsigned e;

	if (v < 16)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	return (e - 3) * 16 + (unsigned)((v >> (e - 4)) & 15);
}

static uint64_t hvalue(unsigned b)
{
	unsigned e;

	if (b < 16)
		return b;
	e = b / 16 + 3;
	return ((uint64_t)(16 + b % 16) << (e - 4)) + ((1ull << (e - 4)) >> 1);
}

static uint64_t percentile(const struct loadgen *lg, double p)
{
	uint64_t n = 0, want = (uint64_t)((double)lg->ios * p / 100.0);

	for (unsigned b = 0; b < HBUCKETS; b++) {
		n += lg->hist[b];
		if (n > want)
			return hvalue(b);
	}
	return lg->lat_max;
}

static uint64_t rnd(struct loadgen *lg)
{
	uint64_t x = lg->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return lg->rng = x;
}

static void fill(void *buf, unsigned len, uint64_t block, uint32_t gen)
{
	uint64_t *w = buf, tag = block << 32 | gen;

	for (unsigned i = 0; i < len / 8; i++)
		w[i] = tag ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull);
}

static bool check(const void *buf, unsigned len, uint64_t block, uint32_t gen)
{
	const uint64_t *w = buf;
	uint64_t tag = block << 32 | gen;

	for (unsigned i = 0; i < len / 8; i++)
		if (w[i] != (tag ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull)))
			return false;
	return true;
}

static const char *rw_name(enum loadgen_rw rw)
{
	static const char *const n[] = { "read", "write", "randread", "randwrite",
					 "randrw" };

	return n[rw];
}

int loadgen_parse(const char *str, struct loadgen_spec *o, char *err, size_t errlen)
{
	char buf[512], *save = NULL, *kv;

	*o = (struct loadgen_spec){ .rw = LG_RANDREAD, .bs = 4096, .qd = 32,
				    .seconds = 5 };
	if (strlen(str) >= sizeof(buf)) {
		snprintf(err, errlen, "too long");
		return -EINVAL;
	}
	strcpy(buf, str);
	for (kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		uint64_t n = 0;

		if (!v) {
			snprintf(err, errlen, "'%s': want key=value", kv);
			return -EINVAL;
		}
		*v++ = 0;
		if (strcmp(kv, "devid") == 0) {
			if (!*v || strlen(v) > FRONTEND_ID_MAX) {
				snprintf(err, errlen, "devid: 1 to %u characters",
					 FRONTEND_ID_MAX);
				return -EINVAL;
			}
			strcpy(o->devid, v);
			continue;
		}
		if (strcmp(kv, "rw") == 0) {
			unsigned i;

			for (i = 0; i <= LG_RANDRW; i++)
				if (strcmp(v, rw_name((enum loadgen_rw)i)) == 0)
					break;
			if (i > LG_RANDRW) {
				snprintf(err, errlen, "rw: read, write, randread, randwrite or randrw");
				return -EINVAL;
			}
			o->rw = (enum loadgen_rw)i;
			continue;
		}
		if (pvd_parse_uint(v, UINT64_MAX, &n) < 0) {
			snprintf(err, errlen, "%s: not a number: '%s'", kv, v);
			return -EINVAL;
		}
		if (strcmp(kv, "bs") == 0 && n >= 512 && n <= (4u << 20) && n % 512 == 0)
			o->bs = (unsigned)n;
		else if (strcmp(kv, "qd") == 0 && n >= 1 && n <= 1024)
			o->qd = (unsigned)n;
		else if (strcmp(kv, "seconds") == 0 && n >= 1 && n <= 3600)
			o->seconds = (unsigned)n;
		else if (strcmp(kv, "size") == 0 && n > 0)
			o->size = n;
		else if (strcmp(kv, "verify") == 0 && n <= 1)
			o->verify = n;
		else if (strcmp(kv, "exit") == 0 && n <= 1)
			o->exit = n;
		else {
			snprintf(err, errlen, "%s=%s: unknown key or out of range", kv, v);
			return -EINVAL;
		}
	}
	if (!o->devid[0]) {
		snprintf(err, errlen, "devid is required");
		return -EINVAL;
	}
	return 0;
}

static void finish(struct loadgen *lg)
{
	double secs = (double)(lg->t_end - lg->t_start) / 1e9;
	char line[768];

	if (lg->done)
		return;
	lg->done = true;
	if (secs <= 0)
		secs = 1e-9;
	snprintf(line, sizeof(line),
		 "loadgen devid=%s rw=%s bs=%u qd=%u seconds=%.2f ios=%" PRIu64
		 " iops=%.0f mbps=%.1f lat_avg_us=%.1f lat_p50_us=%.1f lat_p90_us=%.1f"
		 " lat_p99_us=%.1f lat_p999_us=%.1f lat_max_us=%.1f errors=%" PRIu64
		 " verified=%" PRIu64 " verify_errors=%" PRIu64,
		 lg->s.devid, rw_name(lg->s.rw), lg->s.bs, lg->s.qd, secs, lg->ios,
		 (double)lg->ios / secs, (double)lg->bytes / secs / 1e6,
		 lg->ios ? (double)lg->lat_sum / (double)lg->ios / 1e3 : 0.0,
		 percentile(lg, 50) / 1e3, percentile(lg, 90) / 1e3,
		 percentile(lg, 99) / 1e3, percentile(lg, 99.9) / 1e3,
		 lg->lat_max / 1e3, lg->errors, lg->verified, lg->verify_errors);
	printf("%s\n", line);
	fflush(stdout);
	log_info("%s", line);
	if (lg->finished)
		lg->finished(lg->arg, lg->errors || lg->verify_errors ? 1 : 0);
}

static void issue(struct loadgen *lg, struct slot *sl);

static void maybe_end(struct loadgen *lg)
{
	if (lg->inflight)
		return;
	if (!lg->verifying && lg->s.verify && !lg->stopping &&
	    (lg->s.rw == LG_WRITE || lg->s.rw == LG_RANDWRITE)) {
		/* Read back everything written. */
		lg->verifying = true;
		lg->verify_next = 0;
		for (unsigned i = 0; i < lg->s.qd; i++)
			issue(lg, &lg->slots[i]);
		if (lg->inflight)
			return;
	}
	finish(lg);
}

static void lg_on_done(struct blkio *io, int err)
{
	struct slot *sl = (struct slot *)io;
	struct loadgen *lg = sl->lg;
	uint64_t now = hv_now_ns(), lat = now - io->t_queued;

	lg->inflight--;
	if (lg->s.verify)
		lg->busy[sl->block] = 0;
	if (err) {
		lg->errors++;
		if (lg->errors <= 5)
			log_warn("loadgen: %s at %" PRIu64 ": %s",
				 io->op == BLKIO_READ ? "read" : "write", io->offset,
				 strerror(-err));
		if (lg->s.verify && io->op == BLKIO_WRITE)
			lg->gen[sl->block] = GEN_UNKNOWN;
	} else if (io->op == BLKIO_WRITE) {
		if (lg->s.verify)
			lg->gen[sl->block] = sl->gen;
	} else if (lg->s.verify && sl->gen && sl->gen != GEN_UNKNOWN) {
		lg->verified++;
		if (!check(sl->buf, lg->s.bs, sl->block, sl->gen)) {
			lg->verify_errors++;
			if (lg->verify_errors <= 5)
				log_err("loadgen: block %" PRIu64 " does not hold generation %u",
					sl->block, sl->gen);
		}
	}
	if (!lg->verifying) {
		lg->ios++;
		lg->bytes += lg->s.bs;
		lg->lat_sum += lat;
		if (lat > lg->lat_max)
			lg->lat_max = lat;
		lg->hist[hbucket(lat) < HBUCKETS ? hbucket(lat) : HBUCKETS - 1]++;
		if (now >= lg->t_start + (uint64_t)lg->s.seconds * 1000000000u)
			lg->stopping = true;
	}
	if (!lg->stopping || lg->verifying)
		issue(lg, sl);
	if (!lg->inflight) {
		if (!lg->verifying)
			lg->t_end = now;
		maybe_end(lg);
	}
}

static bool pick(struct loadgen *lg, struct slot *sl, bool *write)
{
	uint64_t b = 0;

	if (lg->verifying) {
		while (lg->verify_next < lg->nblocks &&
		       (!lg->gen[lg->verify_next] ||
			lg->gen[lg->verify_next] == GEN_UNKNOWN))
			lg->verify_next++;
		if (lg->verify_next >= lg->nblocks)
			return false;
		sl->block = lg->verify_next++;
		*write = false;
		return true;
	}
	*write = lg->s.rw == LG_WRITE || lg->s.rw == LG_RANDWRITE ||
		 (lg->s.rw == LG_RANDRW && (rnd(lg) & 1));
	for (int tries = 0; tries < 8; tries++) {
		if (lg->s.rw == LG_READ || lg->s.rw == LG_WRITE)
			b = lg->seq_next++ % lg->nblocks;
		else
			b = rnd(lg) % lg->nblocks;
		if (!lg->s.verify || !lg->busy[b]) {
			sl->block = b;
			return true;
		}
	}
	return false;
}

static void issue(struct loadgen *lg, struct slot *sl)
{
	bool write;
	int rc;

	if (!lg->bf || !pick(lg, sl, &write))
		return;
	memset(&sl->io, 0, sizeof(sl->io));
	sl->io.op = write ? BLKIO_WRITE : BLKIO_READ;
	sl->io.offset = sl->block * lg->s.bs;
	sl->io.len = lg->s.bs;
	sl->io.buf = sl->buf;
	sl->io.done = lg_on_done;
	if (lg->s.verify) {
		if (write) {
			if (++lg->gen_seq == GEN_UNKNOWN)
				lg->gen_seq = 1;
			sl->gen = lg->gen_seq;
			fill(sl->buf, lg->s.bs, sl->block, sl->gen);
		} else {
			sl->gen = lg->gen[sl->block];
		}
		lg->busy[sl->block] = 1;
	}
	rc = blkfront_submit(lg->bf, &sl->io);
	if (rc < 0) {
		lg->errors++;
		if (lg->s.verify)
			lg->busy[sl->block] = 0;
		log_warn("loadgen: submit: %s", strerror(-rc));
		lg->stopping = true;
		return;
	}
	lg->inflight++;
}

static void lg_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct loadgen *lg = arg;

	/* Nothing completes (a backend gone quiet): blkfront times the
	 * requests out; here only the clock is checked. */
	if (lg->running && !lg->verifying &&
	    hv_now_ns() >= lg->t_start + (uint64_t)lg->s.seconds * 1000000000u)
		lg->stopping = true;
}

static void start(struct loadgen *lg, struct blkfront *bf)
{
	struct blkfront_info bi;
	uint64_t size;

	blkfront_get_info(bf, &bi);
	size = lg->s.size && lg->s.size < bi.size ? lg->s.size : bi.size;
	if (lg->s.bs % bi.sector_size || size < lg->s.bs ||
	    (lg->s.rw != LG_READ && lg->s.rw != LG_RANDREAD && bi.readonly)) {
		log_err("loadgen: bs %u does not fit vbd %s (%" PRIu64 " bytes, sector %u%s)",
			lg->s.bs, lg->s.devid, bi.size, bi.sector_size,
			bi.readonly ? ", read-only" : "");
		lg->errors++;
		lg->done = false;
		finish(lg);
		return;
	}
	lg->nblocks = size / lg->s.bs;
	if (lg->nblocks > MAX_BLOCKS)
		lg->nblocks = MAX_BLOCKS;
	if (lg->s.verify) {
		lg->gen = calloc(lg->nblocks, sizeof(*lg->gen));
		lg->busy = calloc(lg->nblocks, 1);
		if (!lg->gen || !lg->busy) {
			log_err("loadgen: out of memory");
			lg->errors++;
			finish(lg);
			return;
		}
	}
	lg->bf = bf;
	lg->running = true;
	lg->t_start = hv_now_ns();
	log_info("loadgen: vbd %s: %s bs=%u qd=%u for %us over %" PRIu64 " blocks",
		 lg->s.devid, rw_name(lg->s.rw), lg->s.bs, lg->s.qd, lg->s.seconds,
		 lg->nblocks);
	for (unsigned i = 0; i < lg->s.qd && !lg->stopping; i++)
		issue(lg, &lg->slots[i]);
	if (!lg->inflight) {
		lg->t_end = hv_now_ns();
		finish(lg);
	}
}

void loadgen_on_event(void *arg, struct blkfront *bf, const char *devid,
		      enum blkfront_event ev)
{
	struct loadgen *lg = arg;

	if (strcmp(devid, lg->s.devid) != 0)
		return;
	if (ev == BLKFRONT_CONNECTED && !lg->running && !lg->done)
		start(lg, bf);
	else if (ev == BLKFRONT_REMOVED && lg->bf == bf) {
		/* Its requests have failed already; no new ones. */
		lg->bf = NULL;
		lg->stopping = true;
		if (!lg->inflight) {
			if (!lg->t_end)
				lg->t_end = hv_now_ns();
			finish(lg);
		}
	}
}

int loadgen_create(struct loadgen **out, struct event_base *base,
		   const struct loadgen_spec *spec,
		   void (*finished)(void *arg, int status), void *arg)
{
	struct timeval tv = { 0, 100000 };
	struct loadgen *lg = calloc(1, sizeof(*lg));

	*out = NULL;
	if (!lg)
		return -ENOMEM;
	lg->s = *spec;
	lg->base = base;
	lg->finished = finished;
	lg->arg = arg;
	lg->rng = 0x2545f4914f6cdd1dull ^ hv_now_ns();
	lg->slots = calloc(spec->qd, sizeof(*lg->slots));
	if (!lg->slots)
		goto fail;
	for (unsigned i = 0; i < spec->qd; i++) {
		lg->slots[i].lg = lg;
		if (posix_memalign(&lg->slots[i].buf, 4096, spec->bs))
			goto fail;
	}
	lg->timer = event_new(base, -1, EV_PERSIST, lg_on_timer, lg);
	if (!lg->timer || event_add(lg->timer, &tv) < 0)
		goto fail;
	*out = lg;
	return 0;
fail:
	loadgen_destroy(lg);
	return -ENOMEM;
}

void loadgen_destroy(struct loadgen *lg)
{
	if (!lg)
		return;
	if (lg->timer)
		event_free(lg->timer);
	for (unsigned i = 0; lg->slots && i < lg->s.qd; i++)
		free(lg->slots[i].buf);
	free(lg->slots);
	free(lg->gen);
	free(lg->busy);
	free(lg);
}
