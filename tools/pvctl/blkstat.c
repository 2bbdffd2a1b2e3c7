/* pvctl: pvd-blkback's statistics (see blkstat.h).  The document comes
 * from another process: its shape is checked, numbers are taken only
 * when they are what they should be, and the counts of devices, rings and
 * buckets are bounded. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkstat.h"

static void seterr(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}


/* A counter or a gauge whose member in the daemon's object has the name
 * of its field here. */
struct field {
	const char *key;
	size_t off;
};

#define FIELD(type, name) { #name, offsetof(type, name) }

static const struct field ctr_u64[] = {
	FIELD(struct blkstat_ctr, rd_req), FIELD(struct blkstat_ctr, wr_req),
	FIELD(struct blkstat_ctr, f_req), FIELD(struct blkstat_ctr, ds_req),
	FIELD(struct blkstat_ctr, rd_sect), FIELD(struct blkstat_ctr, wr_sect),
	FIELD(struct blkstat_ctr, oo_req), FIELD(struct blkstat_ctr, rounds),
	FIELD(struct blkstat_ctr, occ_sum), FIELD(struct blkstat_ctr, lat_n),
	FIELD(struct blkstat_ctr, lat_sum_ns),
};

static const struct field dev_u32[] = {
	FIELD(struct blkstat_dev, state), FIELD(struct blkstat_dev, inflight),
};

static const struct field ring_u32[] = {
	FIELD(struct blkstat_ring, index), FIELD(struct blkstat_ring, ring_pages),
	FIELD(struct blkstat_ring, ring_size), FIELD(struct blkstat_ring, inflight),
	FIELD(struct blkstat_ring, unconsumed), FIELD(struct blkstat_ring, thread),
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static void get_u64s(const json_t *o, void *base, const struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		*(uint64_t *)((char *)base + f[i].off) = pvctl_json_u64_or0(o, f[i].key);
}

static void get_u32s(const json_t *o, void *base, const struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		*(unsigned *)((char *)base + f[i].off) = pvctl_json_u32_or0(o, f[i].key);
}

static void ctr_of(const json_t *o, struct blkstat_ctr *c)
{
	const json_t *lat = json_object_get(o, "lat_us_log2");
	size_t nb = json_array_size(lat);       /* 0 when not an array */

	memset(c, 0, sizeof(*c));
	get_u64s(o, c, ctr_u64, NFIELDS(ctr_u64));
	c->errors = pvctl_json_u64_or0(o, "err_bad_req") +
		    pvctl_json_u64_or0(o, "err_grant") +
		    pvctl_json_u64_or0(o, "err_io") +
		    pvctl_json_u64_or0(o, "err_dup_id");
	for (size_t i = 0; i < nb && c->nlat < BLKSTAT_LAT_MAX; i++) {
		const json_t *b = json_array_get(lat, i);

		c->lat[c->nlat++] = json_is_integer(b) && json_integer_value(b) > 0 ?
				    (uint64_t)json_integer_value(b) : 0;
	}
}

/* The rings of a device ("queue": one object each, others skipped). */
static int rings_of(const json_t *qs, struct blkstat_dev *d, char *err,
		    size_t errlen)
{
	size_t n = json_array_size(qs);         /* 0 when not an array */

	if (n == 0)
		return 0;
	d->rings = calloc(n < BLKSTAT_RINGS_MAX ? n : BLKSTAT_RINGS_MAX,
			  sizeof(*d->rings));
	if (!d->rings) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && d->nrings < BLKSTAT_RINGS_MAX; i++) {
		const json_t *q = json_array_get(qs, i);
		struct blkstat_ring *r = &d->rings[d->nrings];

		if (!json_is_object(q))
			continue;
		get_u32s(q, r, ring_u32, NFIELDS(ring_u32));
		pvctl_json_bool(q, "halted", &r->halted);
		r->thread_cpu_ns = pvctl_json_u64_or0(q, "thread_cpu_ns");
		ctr_of(q, &r->c);
		d->nrings++;
	}
	return 0;
}

static void enc_of(const json_t *e, struct blkstat_dev *d)
{
	uint64_t bits = pvctl_json_u64_or0(e, "key_bits");
	uint64_t ss = pvctl_json_u64_or0(e, "sector_size");

	if (!json_is_object(e))
		return;
	d->enc_format = pvctl_json_str_or_empty(e, "format");
	d->enc_cipher = pvctl_json_str_or_empty(e, "cipher");
	d->enc_key_bits = bits > 65536 ? 0 : (unsigned)bits;
	d->enc_sector_size = ss > 65536 ? 0 : (unsigned)ss;
}

static int dev_of(const json_t *o, struct blkstat_dev *d, char *err,
		  size_t errlen)
{
	uint64_t domid, devid;

	if (!pvctl_json_u64(o, "domid", &domid) ||
	    !pvctl_json_u64(o, "devid", &devid) || domid > 0xffff || devid > UINT32_MAX) {
		seterr(err, errlen, "a device without a valid domid and devid");
		return -EINVAL;
	}
	d->obj = o;
	d->domid = (unsigned)domid;
	d->devid = (unsigned)devid;
	get_u32s(o, d, dev_u32, NFIELDS(dev_u32));
	d->state_name = pvctl_json_str_or_empty(o, "state_name");
	d->params = pvctl_json_str_or_empty(o, "params");
	d->backend = pvctl_json_str_or_empty(o, "backend");
	d->remote = json_object_get(o, "remote") ?
		pvctl_json_str_or_empty(json_object_get(o, "remote"), "state") : "";
	d->sectors = pvctl_json_u64_or0(o, "sectors");
	pvctl_json_bool(o, "readonly", &d->readonly);
	ctr_of(o, &d->c);
	enc_of(json_object_get(o, "encryption"), d);
	return rings_of(json_object_get(o, "queue"), d, err, errlen);
}

int blkstat_parse(const char *text, size_t len, struct blkstat *s, char *err,
		  size_t errlen)
{
	const json_t *devs;
	size_t n;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = pvctl_json_parse(text, len, &s->doc, err, errlen);
	if (rc < 0)
		return rc;
	devs = pvctl_json_stats_array(s->doc, "pvd-blkback", "devices",
				      BLKSTAT_DEVS_MAX, err, errlen);
	if (!devs)
		goto inval;
	n = json_array_size(devs);
	s->engine = pvctl_json_str_or_empty(s->doc, "engine");
	if (n) {
		s->devs = calloc(n, sizeof(*s->devs));
		if (!s->devs) {
			seterr(err, errlen, "out of memory");
			blkstat_free(s);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++) {
		rc = dev_of(json_array_get(devs, i), &s->devs[s->ndevs], err, errlen);
		s->ndevs++;     /* freed with its rings even when it failed */
		if (rc < 0) {
			blkstat_free(s);
			return rc;
		}
	}
	return 0;
inval:
	blkstat_free(s);
	return -EINVAL;
}

void blkstat_free(struct blkstat *s)
{
	for (unsigned i = 0; s->devs && i < s->ndevs; i++)
		free(s->devs[i].rings);
	free(s->devs);
	json_decref(s->doc);
	memset(s, 0, sizeof(*s));
}

const struct blkstat_dev *blkstat_find_dev(const struct blkstat *s,
					   unsigned domid, unsigned devid)
{
	for (unsigned i = 0; s && i < s->ndevs; i++)
		if (s->devs[i].domid == domid && s->devs[i].devid == devid)
			return &s->devs[i];
	return NULL;
}

const struct blkstat_ring *blkstat_find_ring(const struct blkstat_dev *d,
					     unsigned index)
{
	for (unsigned i = 0; d && i < d->nrings; i++)
		if (d->rings[i].index == index)
			return &d->rings[i];
	return NULL;
}

double blkstat_lat_quantile(const uint64_t *lat, unsigned n, double q)
{
	uint64_t total = 0, seen = 0;
	double want;

	for (unsigned i = 0; i < n; i++)
		total += lat[i];
	if (!total)
		return -1;
	want = q * (double)total;
	for (unsigned i = 0; i < n; i++) {
		seen += lat[i];
		if ((double)seen >= want && lat[i]) {
			if (i + 1 == n)         /* open: its lower bound */
				return i ? (double)(1ull << (i - 1)) : 0;
			return (double)(1ull << i);
		}
	}
	return (double)(1ull << (n > 1 ? n - 2 : 0));
}

/* cur - prev for each counter; false if one went back. */
static bool ctr_delta(const struct blkstat_ctr *prev, const struct blkstat_ctr *cur,
		      struct blkstat_ctr *d)
{
#define D(f) do { if (cur->f < prev->f) return false; d->f = cur->f - prev->f; } while (0)
	D(rd_req); D(wr_req); D(f_req); D(ds_req); D(rd_sect); D(wr_sect);
	D(oo_req); D(errors); D(rounds); D(occ_sum); D(lat_n); D(lat_sum_ns);
	d->nlat = cur->nlat;
	for (unsigned i = 0; i < cur->nlat; i++) {
		uint64_t p = i < prev->nlat ? prev->lat[i] : 0;

		if (cur->lat[i] < p)
			return false;
		d->lat[i] = cur->lat[i] - p;
	}
#undef D
	return true;
}

void blkstat_rate(const struct blkstat_ctr *prev, const struct blkstat_ctr *cur,
		  double secs, struct blkstat_rate *r)
{
	struct blkstat_ctr d;

	memset(r, 0, sizeof(*r));
	if (!prev || !ctr_delta(prev, cur, &d))
		d = *cur;
	if (secs <= 0)
		secs = 1e-9;
	r->reqs = d.rd_req + d.wr_req + d.f_req + d.ds_req;
	r->iops = (double)r->reqs / secs;
	r->rd_iops = (double)d.rd_req / secs;
	r->wr_iops = (double)d.wr_req / secs;
	r->rd_mbps = (double)d.rd_sect * 512 / 1e6 / secs;
	r->wr_mbps = (double)d.wr_sect * 512 / 1e6 / secs;
	r->mbps = r->rd_mbps + r->wr_mbps;
	r->occ_avg = d.rounds ? (double)d.occ_sum / (double)d.rounds : 0;
	r->lat_avg_us = d.lat_n ? (double)d.lat_sum_ns / (double)d.lat_n / 1000 : -1;
	r->lat_p50_us = blkstat_lat_quantile(d.lat, d.nlat, 0.5);
	r->lat_p99_us = blkstat_lat_quantile(d.lat, d.nlat, 0.99);
	r->errors = d.errors;
	r->oo_req = d.oo_req;
}

/* Bijective base 26: 0 a, 25 z, 26 aa. */
static void letters(unsigned disk, char *buf, size_t len)
{
	char tmp[8];
	size_t n = 0;
	unsigned v = disk + 1;

	while (v && n < sizeof(tmp)) {
		v--;
		tmp[n++] = (char)('a' + v % 26);
		v /= 26;
	}
	for (size_t i = 0; i < n && i + 1 < len; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n < len ? n : len - 1] = '\0';
}

void blkstat_vdev_name(uint32_t devid, char *buf, size_t len)
{
	unsigned major = (devid >> 8) & 0xfff, minor = devid & 0xff;
	unsigned disk, part;
	const char *prefix;
	char l[8];

	if (devid & (1u << 28)) {
		prefix = "xvd";
		disk = (devid >> 8) & 0xfffff;
		part = devid & 0xff;
	} else if (devid >> 16) {
		snprintf(buf, len, "%u", devid);
		return;
	} else if (major == 202) {
		prefix = "xvd";
		disk = minor >> 4;
		part = minor & 15;
	} else if (major == 8) {
		prefix = "sd";
		disk = minor >> 4;
		part = minor & 15;
	} else if (major == 3 || major == 22) {
		prefix = "hd";
		disk = (major == 22 ? 2 : 0) + (minor >> 6);
		part = minor & 63;
	} else {
		snprintf(buf, len, "%u", devid);
		return;
	}
	letters(disk, l, sizeof(l));
	if (part)
		snprintf(buf, len, "%s%s%u", prefix, l, part);
	else
		snprintf(buf, len, "%s%s", prefix, l);
}

void blkstat_fmt_us(double us, char *buf, size_t len)
{
	if (us < 0)
		snprintf(buf, len, "-");
	else if (us < 1000)
		snprintf(buf, len, "%.0fus", us);
	else if (us < 1e6)
		snprintf(buf, len, "%.2fms", us / 1000);
	else
		snprintf(buf, len, "%.1fs", us / 1e6);
}
