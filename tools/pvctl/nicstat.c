/* pvctl: pvd-netback's statistics (see nicstat.h).  The document comes
 * from another process: its shape is checked, numbers are taken only
 * when they are what they should be, the counts of vifs and queues are
 * bounded, and sums saturate instead of wrapping. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nicstat.h"

static void seterr(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}


static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* Every counter, by the name netback gives it. */
#define NIC_COUNTERS(X) \
	X(tx_packets) X(tx_bytes) X(tx_drops) X(tx_errors) \
	X(rx_packets) X(rx_bytes) X(rx_drops) X(rx_errors) \
	X(tx_credit_stalls) X(rx_stalls) X(tx_spoof_drops) \
	X(notify_sent) X(notify_suppressed)

static void ctr_of(const json_t *o, struct nicstat_ctr *c)
{
#define GET(name) c->name = pvctl_json_u64_or0(o, #name);
	NIC_COUNTERS(GET)
#undef GET
}

static void ctr_add(struct nicstat_ctr *sum, const struct nicstat_ctr *c)
{
#define ADD(name) sum->name = sat_add(sum->name, c->name);
	NIC_COUNTERS(ADD)
#undef ADD
}

/* The queues of a vif (objects only, at most NICSTAT_QUEUES_MAX), and
 * their sum. */
static int queues_of(const json_t *qs, struct nicstat_vif *v, char *err,
		     size_t errlen)
{
	size_t n = json_array_size(qs);         /* 0 when not an array */

	if (n == 0)
		return 0;
	v->queues = calloc(n < NICSTAT_QUEUES_MAX ? n : NICSTAT_QUEUES_MAX,
			   sizeof(*v->queues));
	if (!v->queues) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && v->nqueues < NICSTAT_QUEUES_MAX; i++) {
		const json_t *o = json_array_get(qs, i);
		struct nicstat_queue *q = &v->queues[v->nqueues];

		if (!json_is_object(o))
			continue;
		q->index = pvctl_json_u32_or0(o, "index");
		q->tx_ring_used = pvctl_json_u64_or0(o, "tx_ring_used");
		q->rx_ring_used = pvctl_json_u64_or0(o, "rx_ring_used");
		q->rx_queue_len = pvctl_json_u64_or0(o, "rx_queue_len");
		q->has_thread = json_object_get(o, "thread") != NULL;
		q->thread = pvctl_json_u32_or0(o, "thread");
		q->thread_cpu_ns = pvctl_json_u64_or0(o, "thread_cpu_ns");
		ctr_of(o, &q->c);
		ctr_add(&v->c, &q->c);
		v->nqueues++;
	}
	return 0;
}

static int vif_of(const json_t *o, struct nicstat_vif *v, char *err,
		  size_t errlen)
{
	uint64_t domid, devid;

	if (!pvctl_json_u64(o, "domid", &domid) || !pvctl_json_u64(o, "devid", &devid) ||
	    domid > 0xffff || devid > UINT32_MAX) {
		seterr(err, errlen, "a vif without a valid domid and devid");
		return -EINVAL;
	}
	v->obj = o;
	v->domid = (unsigned)domid;
	v->devid = (unsigned)devid;
	v->state = pvctl_json_u32_or0(o, "state");
	v->name = pvctl_json_str_or_empty(o, "name");
	v->mac = pvctl_json_str_or_empty(o, "mac");
	v->bridge = pvctl_json_str_or_empty(o, "bridge");
	v->mtu = pvctl_json_u32_or0(o, "mtu");
	pvctl_json_bool(o, "carrier", &v->carrier);
	v->rate_bytes = pvctl_json_u64_or0(o, "rate_bytes");
	v->rate_usec = pvctl_json_u64_or0(o, "rate_usec");
	return queues_of(json_object_get(o, "queues"), v, err, errlen);
}

int nicstat_parse(const char *text, size_t len, struct nicstat *s, char *err,
		  size_t errlen)
{
	const json_t *vifs;
	size_t n;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = pvctl_json_parse(text, len, &s->doc, err, errlen);
	if (rc < 0)
		return rc;
	vifs = pvctl_json_stats_array(s->doc, "pvd-netback", "vifs",
				      NICSTAT_VIFS_MAX, err, errlen);
	if (!vifs) {
		rc = -EINVAL;
		goto fail;
	}
	n = json_array_size(vifs);
	if (n && !(s->vifs = calloc(n, sizeof(*s->vifs)))) {
		seterr(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		rc = vif_of(json_array_get(vifs, i), &s->vifs[s->nvifs], err, errlen);
		s->nvifs++;     /* freed with its queues even when it failed */
		if (rc < 0)
			goto fail;
	}
	return 0;
fail:
	nicstat_free(s);
	return rc;
}

void nicstat_free(struct nicstat *s)
{
	for (unsigned i = 0; s->vifs && i < s->nvifs; i++)
		free(s->vifs[i].queues);
	free(s->vifs);
	json_decref(s->doc);
	memset(s, 0, sizeof(*s));
}

const struct nicstat_vif *nicstat_find_vif(const struct nicstat *s,
					   unsigned domid, unsigned devid)
{
	for (unsigned i = 0; s && i < s->nvifs; i++)
		if (s->vifs[i].domid == domid && s->vifs[i].devid == devid)
			return &s->vifs[i];
	return NULL;
}

/* cur - prev for each counter; false if one went back. */
static bool ctr_delta(const struct nicstat_ctr *prev, const struct nicstat_ctr *cur,
		      struct nicstat_ctr *d)
{
#define D(name) if (cur->name < prev->name) return false; d->name = cur->name - prev->name;
	NIC_COUNTERS(D)
#undef D
	return true;
}

void nicstat_rate(const struct nicstat_ctr *prev, const struct nicstat_ctr *cur,
		  double secs, struct nicstat_rate *r)
{
	struct nicstat_ctr d;

	memset(r, 0, sizeof(*r));
	if (!prev || !ctr_delta(prev, cur, &d))
		d = *cur;
	if (secs <= 0)
		secs = 1e-9;
	r->tx_pps = (double)d.tx_packets / secs;
	r->rx_pps = (double)d.rx_packets / secs;
	r->tx_mbps = (double)d.tx_bytes / 1e6 / secs;
	r->rx_mbps = (double)d.rx_bytes / 1e6 / secs;
	r->drops = sat_add(d.tx_drops, d.rx_drops);
	r->errors = sat_add(d.tx_errors, d.rx_errors);
}

void nicstat_fmt_limit(uint64_t bytes, uint64_t usec, char *buf, size_t len)
{
	double bps;

	if (!bytes || !usec) {
		snprintf(buf, len, "-");
		return;
	}
	bps = (double)bytes * 8 * 1e6 / (double)usec;
	if (bps >= 1e9)
		snprintf(buf, len, "%.4gGb/s", bps / 1e9);
	else if (bps >= 1e6)
		snprintf(buf, len, "%.4gMb/s", bps / 1e6);
	else if (bps >= 1e3)
		snprintf(buf, len, "%.4gKb/s", bps / 1e3);
	else
		snprintf(buf, len, "%.4gb/s", bps);
}
