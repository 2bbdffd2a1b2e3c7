/* pvctl's JSON reading over jansson (tools/pvctl/json.c), and
 * pvd-blkback's and pvd-netback's statistics as pvctl reads them
 * (tools/pvctl/blkstat.c, nicstat.c): valid and hostile documents,
 * missing members, huge numbers, bounds, the rates between two samples,
 * latency quantiles from the log2 histogram, and vdev names against
 * xlcfg's encoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../tools/pvctl/blkstat.h"
#include "../../tools/pvctl/json.h"
#include "../../tools/pvctl/nicstat.h"
#include "../../tools/pvctl/xlcfg.h"

struct fix {
	json_t *j;
	struct blkstat s, s2;
	struct nicstat n, n2;
	char err[200];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	json_decref(f->j);
	blkstat_free(&f->s);
	blkstat_free(&f->s2);
	nicstat_free(&f->n);
	nicstat_free(&f->n2);
	free(f);
	return 0;
}

static int parse(struct fix *f, const char *text)
{
	json_decref(f->j);
	f->j = NULL;
	f->err[0] = '\0';
	return pvctl_json_parse(text, strlen(text), &f->j, f->err, sizeof(f->err));
}

static void bad(struct fix *f, const char *in, const char *why)
{
	int rc = parse(f, in);

	if (rc == 0)
		fail_msg("'%s' parsed", in);
	assert_int_equal(rc, -EINVAL);
	assert_null(f->j);
	if (!strstr(f->err, why))
		fail_msg("'%s': error '%s' lacks '%s'", in, f->err, why);
}

/* What pvctl_json_print writes for what was parsed. */
static void printed(struct fix *f, const char *in, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	if (parse(f, in) != 0)
		fail_msg("'%s' did not parse: %s", in, f->err);
	m = open_memstream(&buf, &len);
	assert_non_null(m);
	assert_int_equal(pvctl_json_print(m, f->j), 0);
	fclose(m);
	assert_string_equal(buf, want);
	free(buf);
}

/* Counters are integers 0..2^63-1, exactly; other values are not. */
static void test_json_values(void **state)
{
	struct fix *f = *state;
	uint64_t v = 0;
	bool b = false;

	assert_int_equal(parse(f, " {\"n\":7,\"s\":\"x\",\"b\":true,\"f\":1.5,\"neg\":-3,"
			       "\"max\":9223372036854775807} "), 0);
	assert_true(pvctl_json_u64(f->j, "n", &v));
	assert_int_equal(v, 7);
	assert_true(pvctl_json_u64(f->j, "max", &v));
	assert_true(v == 9223372036854775807ull);
	assert_false(pvctl_json_u64(f->j, "f", &v));
	assert_false(pvctl_json_u64(f->j, "neg", &v));
	assert_false(pvctl_json_u64(f->j, "s", &v));
	assert_false(pvctl_json_u64(f->j, "none", &v));
	assert_string_equal(pvctl_json_str(f->j, "s"), "x");
	assert_null(pvctl_json_str(f->j, "n"));
	assert_true(pvctl_json_bool(f->j, "b", &b));
	assert_true(b);
	assert_false(pvctl_json_bool(f->j, "n", &b));
	assert_false(pvctl_json_u64(json_object_get(f->j, "s"), "n", &v)); /* not an object */
	{
		json_t *c5 = pvctl_json_counter(5);

		assert_int_equal(json_integer_value(c5), 5);
		json_decref(c5);
	}
	json_decref(pvctl_json_counter(0));
}

/* One escaping rule: jansson's, whatever the input's. */
static void test_json_print(void **state)
{
	struct fix *f = *state;

	printed(f, " {\"a\" : [1, 2 ,3], \"b\":{}, \"c\":[] ,\"d\":null} ",
		"{\"a\":[1,2,3],\"b\":{},\"c\":[],\"d\":null}\n");
	printed(f, "[\"a\\\"b\\\\c\\/\\n\\t\\u0041\\u00e9\\ud83d\\ude00\\u001f\"]",
		"[\"a\\\"b\\\\c/\\n\\tA\xc3\xa9\xf0\x9f\x98\x80\\u001F\"]\n");
	printed(f, "[0.1,2.5e3]", "[0.1,2500.0]\n");
}

static void test_json_bad(void **state)
{
	struct fix *f = *state;
	int rc;

	bad(f, "", "offset 0");
	bad(f, "{", "end of file");
	bad(f, "{\"a\"}", "':' expected");
	bad(f, "[1,]", "unexpected token");
	bad(f, "[1 2]", "']' expected");
	bad(f, "{\"n\":1,\"n\":2}", "duplicate object key");
	bad(f, "[18446744073709551615]", "too big integer");
	bad(f, "[\"\\u0000\"]", "\\u0000 is not allowed");
	bad(f, "[\"\\ud800\"]", "invalid Unicode");
	bad(f, "[\"\xff\"]", "unable to decode byte 0xff");
	bad(f, "{} {}", "end of file expected");
	bad(f, "[1]\x01", "end of file expected");
	rc = pvctl_json_parse("[1]\0[2]", 7, &f->j, f->err, sizeof(f->err));
	assert_int_equal(rc, -EINVAL);
	assert_null(f->j);
	rc = pvctl_json_parse("[]", (size_t)JSON_TEXT_MAX + 1, &f->j, f->err, sizeof(f->err));
	assert_int_equal(rc, -E2BIG);
}

/* Every byte string of up to 3 bytes from a small alphabet: the parser
 * must answer (0 or an error), never crash or leak (ASan). */
static void test_json_exhaustive(void **state)
{
	static const char alpha[] = "[]{}\":,1-.e\\u tn";
	struct fix *f = *state;
	size_t na = sizeof(alpha) - 1;
	char in[4];

	for (size_t a = 0; a < na; a++)
		for (size_t b = 0; b <= na; b++)
			for (size_t c = 0; c <= na; c++) {
				size_t len = 1;

				in[0] = alpha[a];
				if (b < na) {
					in[len++] = alpha[b];
					if (c < na)
						in[len++] = alpha[c];
				}
				json_decref(f->j);
				f->j = NULL;
				(void)pvctl_json_parse(in, len, &f->j, f->err, sizeof(f->err));
			}
}

/* What pvd-blkback says (blkback/xenbus.c), two rings. */
static const char *doc(uint64_t rd, uint64_t lat_bucket5, unsigned inflight)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\"engine\":\"aio\",\"loop\":{\"rounds\":2},\"devices\":["
		 "{\"domid\":3,\"devid\":51728,\"state\":4,\"state_name\":\"Connected\","
		 "\"params\":\"/img\",\"backend\":\"aio\",\"sectors\":2048,\"readonly\":false,"
		 "\"queues\":2,\"inflight\":%u,\"rd_req\":%llu,\"wr_req\":10,\"f_req\":1,"
		 "\"ds_req\":0,\"rd_sect\":%llu,\"wr_sect\":80,\"err_bad_req\":1,"
		 "\"err_grant\":2,\"err_io\":3,\"err_dup_id\":4,\"rounds\":10,\"occ_sum\":40,"
		 "\"lat_n\":%llu,\"lat_sum_ns\":%llu,"
		 "\"lat_us_log2\":[0,0,0,0,0,%llu,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
		 "\"queue\":["
		 "{\"index\":0,\"ring_pages\":1,\"ring_size\":32,\"inflight\":%u,"
		 "\"unconsumed\":2,\"halted\":false,\"rd_req\":%llu,\"rd_sect\":%llu,"
		 "\"rounds\":10,\"occ_sum\":40,\"lat_n\":%llu,\"lat_sum_ns\":%llu,"
		 "\"lat_us_log2\":[0,0,0,0,0,%llu,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]},"
		 "{\"index\":1,\"ring_pages\":1,\"ring_size\":32,\"inflight\":0,"
		 "\"unconsumed\":0,\"halted\":true}]}]}",
		 inflight, (unsigned long long)rd, (unsigned long long)rd * 8,
		 (unsigned long long)lat_bucket5, (unsigned long long)lat_bucket5 * 20000,
		 (unsigned long long)lat_bucket5, inflight, (unsigned long long)rd,
		 (unsigned long long)rd * 8, (unsigned long long)lat_bucket5,
		 (unsigned long long)lat_bucket5 * 20000, (unsigned long long)lat_bucket5);
	return buf;
}

static void test_blkstat_parse(void **state)
{
	struct fix *f = *state;
	const char *t = doc(100, 50, 3);
	const struct blkstat_dev *d;
	const struct blkstat_ring *r;

	assert_int_equal(blkstat_parse(t, strlen(t), &f->s, f->err, sizeof(f->err)), 0);
	assert_string_equal(f->s.engine, "aio");
	assert_int_equal(f->s.ndevs, 1);
	d = blkstat_find_dev(&f->s, 3, 51728);
	assert_non_null(d);
	assert_null(blkstat_find_dev(&f->s, 3, 51712));
	assert_int_equal(d->state, 4);
	assert_string_equal(d->state_name, "Connected");
	assert_string_equal(d->params, "/img");
	assert_int_equal(d->sectors, 2048);
	assert_false(d->readonly);
	assert_int_equal(d->inflight, 3);
	assert_int_equal(d->c.rd_req, 100);
	assert_int_equal(d->c.errors, 10);
	assert_int_equal(d->c.nlat, 24);
	assert_int_equal(d->nrings, 2);
	r = blkstat_find_ring(d, 1);
	assert_non_null(r);
	assert_true(r->halted);
	assert_int_equal(r->ring_size, 32);
	assert_int_equal(r->c.rd_req, 0);       /* missing counters read as 0 */
	r = blkstat_find_ring(d, 0);
	assert_int_equal(r->unconsumed, 2);
	assert_int_equal(r->c.rd_sect, 800);
	assert_null(blkstat_find_ring(d, 2));
	blkstat_free(&f->s);
	blkstat_free(&f->s);    /* idempotent */
}

static void blk_bad(struct fix *f, const char *t, const char *why)
{
	int rc = blkstat_parse(t, strlen(t), &f->s, f->err, sizeof(f->err));

	assert_int_not_equal(rc, 0);
	assert_null(f->s.doc);
	assert_null(f->s.devs);
	if (!strstr(f->err, why))
		fail_msg("'%s': error '%s' lacks '%s'", t, f->err, why);
}

static void test_blkstat_bad(void **state)
{
	struct fix *f = *state;

	blk_bad(f, "{\"error\":\"unknown command\"}", "pvd-blkback answered: unknown command");
	blk_bad(f, "[]", "not a JSON object");
	blk_bad(f, "{\"engine\":\"aio\"}", "no devices array");
	blk_bad(f, "{\"devices\":{}}", "no devices array");
	blk_bad(f, "{\"devices\":[{\"domid\":1,\"devid\":51712},{\"devid\":1}]}",
		"without a valid domid");
	blk_bad(f, "{\"devices\":[{\"domid\":65536,\"devid\":1}]}", "without a valid domid");
	blk_bad(f, "{\"devices\":[{\"domid\":1,\"devid\":4294967296}]}", "without a valid");
	blk_bad(f, "{\"devices\":[{\"domid\":-1,\"devid\":1}]}", "without a valid");
	blk_bad(f, "{\"devices\":[1]}", "without a valid");
	blk_bad(f, "{\"devices\":[", "end of file");
	blk_bad(f, "{\"devices\":[],\"devices\":[]}", "duplicate");
}

/* Hostile but well-formed: wrong types and too many rings and buckets
 * are tolerated within bounds. */
static void test_blkstat_hostile(void **state)
{
	struct fix *f = *state;
	size_t cap = 64 * 1024, n = 0;
	char *t = malloc(cap);
	const struct blkstat_dev *d;

	assert_non_null(t);
	n += (size_t)snprintf(t + n, cap - n, "{\"engine\":7,\"devices\":[{\"domid\":1,"
			      "\"devid\":2,\"state\":\"x\",\"params\":[],\"rd_req\":-5,"
			      "\"lat_us_log2\":[");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(t + n, cap - n, "%s%d", i ? "," : "", i == 99 ? 1 : 0);
	n += (size_t)snprintf(t + n, cap - n, "],\"queue\":[");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(t + n, cap - n, "%s{\"index\":%d}", i ? "," : "", i);
	snprintf(t + n, cap - n, ",7]}]}");
	assert_int_equal(blkstat_parse(t, strlen(t), &f->s, f->err, sizeof(f->err)), 0);
	free(t);
	assert_string_equal(f->s.engine, "");
	d = &f->s.devs[0];
	assert_int_equal(d->state, 0);
	assert_string_equal(d->params, "");
	assert_int_equal(d->c.rd_req, 0);
	assert_int_equal(d->c.nlat, BLKSTAT_LAT_MAX);
	assert_int_equal(d->nrings, BLKSTAT_RINGS_MAX);
}

static void test_blkstat_rate(void **state)
{
	struct fix *f = *state;
	const char *t = doc(100, 50, 3);
	struct blkstat_rate r;
	const struct blkstat_ring *a, *b;

	assert_int_equal(blkstat_parse(t, strlen(t), &f->s, f->err, sizeof(f->err)), 0);
	t = doc(1100, 150, 1);
	assert_int_equal(blkstat_parse(t, strlen(t), &f->s2, f->err, sizeof(f->err)), 0);
	a = blkstat_find_ring(blkstat_find_dev(&f->s, 3, 51728), 0);
	b = blkstat_find_ring(blkstat_find_dev(&f->s2, 3, 51728), 0);
	/* 1000 reads of 8 sectors in 2 s; 100 completions of 20 us each. */
	blkstat_rate(&a->c, &b->c, 2.0, &r);
	assert_int_equal(r.reqs, 1000);
	assert_true(r.iops > 499.9 && r.iops < 500.1);
	assert_true(r.rd_iops > 499.9 && r.rd_iops < 500.1);
	assert_true(r.wr_iops == 0);
	assert_true(r.rd_mbps > 2.047 && r.rd_mbps < 2.049);   /* 8000*512/2 */
	assert_true(r.lat_avg_us > 19.9 && r.lat_avg_us < 20.1);
	assert_true(r.lat_p99_us == 32);        /* bucket 5: [16, 32) us */
	assert_true(r.occ_avg == 0);            /* no rounds in between */
	/* No previous sample: since the start. */
	blkstat_rate(NULL, &b->c, 1.0, &r);
	assert_int_equal(r.reqs, 1100);
	assert_true(r.occ_avg == 4);
	/* A counter that went back (the ring connected anew). */
	blkstat_rate(&b->c, &a->c, 1.0, &r);
	assert_int_equal(r.reqs, 100);
	/* Nothing happened: no latency. */
	blkstat_rate(&a->c, &a->c, 1.0, &r);
	assert_int_equal(r.reqs, 0);
	assert_true(r.lat_avg_us < 0 && r.lat_p99_us < 0);
	blkstat_rate(&a->c, &a->c, 0, &r);      /* no division by zero */
	assert_true(r.iops == 0);
}

static void test_quantile(void **state)
{
	uint64_t lat[24] = { 0 };

	(void)state;
	assert_true(blkstat_lat_quantile(lat, 24, 0.5) < 0);
	lat[0] = 1;                             /* [0, 1) us */
	assert_true(blkstat_lat_quantile(lat, 24, 0.99) == 1);
	lat[0] = 98;
	lat[10] = 2;                            /* [512, 1024) us */
	assert_true(blkstat_lat_quantile(lat, 24, 0.5) == 1);
	assert_true(blkstat_lat_quantile(lat, 24, 0.98) == 1);
	assert_true(blkstat_lat_quantile(lat, 24, 0.99) == 1024);
	assert_true(blkstat_lat_quantile(lat, 24, 1.0) == 1024);
	lat[23] = 1000;                         /* open: its lower bound 2^22 */
	assert_true(blkstat_lat_quantile(lat, 24, 0.99) == (double)(1u << 22));
}

static void test_vdev_names(void **state)
{
	static const char *const names[] = {
		"xvda", "xvdb", "xvdp", "xvda1", "xvdb15", "xvdq", "xvdz", "xvdaa",
		"xvdzz", "xvdaaa", "xvda16", "hda", "hdb", "hdc", "hdd", "hda1",
		"hdd63", "sda", "sdp", "sdb3",
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint32_t devid;

		assert_int_equal(xlcfg_vdev_devid(names[i], &devid), 0);
		blkstat_vdev_name(devid, buf, sizeof(buf));
		assert_string_equal(buf, names[i]);
	}
	blkstat_vdev_name(51712, buf, sizeof(buf));
	assert_string_equal(buf, "xvda");
	blkstat_vdev_name(1234, buf, sizeof(buf));      /* major 4: none */
	assert_string_equal(buf, "1234");
	blkstat_vdev_name(0x10000, buf, sizeof(buf));
	assert_string_equal(buf, "65536");
	blkstat_vdev_name(0xffffffffu, buf, sizeof(buf));
	assert_string_equal(buf, "xvdbgqcv255");    /* (1<<28) set: extended */
	blkstat_vdev_name(51712, buf, 3);               /* truncated, terminated */
	assert_string_equal(buf, "xv");
}

static void test_fmt_us(void **state)
{
	char buf[16];

	(void)state;
	blkstat_fmt_us(-1, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	blkstat_fmt_us(85.2, buf, sizeof(buf));
	assert_string_equal(buf, "85us");
	blkstat_fmt_us(1250, buf, sizeof(buf));
	assert_string_equal(buf, "1.25ms");
	blkstat_fmt_us(2e6, buf, sizeof(buf));
	assert_string_equal(buf, "2.0s");
}

/* What pvd-netback says (netback/xenbus.c nb_xenbus_stats): one vif,
 * two queues. */
static const char *nicdoc(uint64_t rx_pkts, uint64_t tx_bytes)
{
	static char buf[4096];
	static const char q[] =
		"{\"index\":%u,\"tx_packets\":10,\"tx_bytes\":%llu,\"tx_drops\":1,"
		"\"tx_errors\":2,\"rx_packets\":%llu,\"rx_bytes\":3000,\"rx_drops\":3,"
		"\"rx_errors\":4,\"tx_ring_used\":5,\"rx_ring_used\":6,\"notify_sent\":7,"
		"\"notify_suppressed\":8,\"tx_credit_stalls\":9,\"rx_stalls\":1,"
		"\"tx_spoof_drops\":2,\"tx_gso\":0,\"rx_gso\":0,\"tx_frag_overflow\":0,"
		"\"rx_queue_len\":11,\"rx_queue_max\":512}";
	char q0[1024], q1[1024];

	snprintf(q0, sizeof(q0), q, 0u, (unsigned long long)tx_bytes,
		 (unsigned long long)rx_pkts);
	snprintf(q1, sizeof(q1), q, 1u, (unsigned long long)tx_bytes,
		 (unsigned long long)rx_pkts);
	snprintf(buf, sizeof(buf),
		 "{\"vifs\":[{\"domid\":3,\"devid\":0,\"name\":\"vif3.0\",\"state\":4,"
		 "\"mac\":\"00:16:3e:00:00:01\",\"bridge\":\"br0\",\"mtu\":1500,"
		 "\"carrier\":true,\"rate_bytes\":12500,\"rate_usec\":20000,"
		 "\"queues\":[%s,%s]}]}", q0, q1);
	return buf;
}

static void test_nicstat_parse(void **state)
{
	struct fix *f = *state;
	const char *t = nicdoc(100, 5000);
	const struct nicstat_vif *v;

	assert_int_equal(nicstat_parse(t, strlen(t), &f->n, f->err, sizeof(f->err)), 0);
	assert_int_equal(f->n.nvifs, 1);
	v = nicstat_find_vif(&f->n, 3, 0);
	assert_non_null(v);
	assert_null(nicstat_find_vif(&f->n, 3, 1));
	assert_string_equal(v->name, "vif3.0");
	assert_string_equal(v->mac, "00:16:3e:00:00:01");
	assert_string_equal(v->bridge, "br0");
	assert_int_equal(v->state, 4);
	assert_int_equal(v->mtu, 1500);
	assert_true(v->carrier);
	assert_int_equal(v->rate_bytes, 12500);
	assert_int_equal(v->rate_usec, 20000);
	assert_int_equal(v->nqueues, 2);
	assert_int_equal(v->queues[1].index, 1);
	assert_int_equal(v->queues[1].rx_queue_len, 11);
	assert_int_equal(v->queues[0].c.rx_packets, 100);
	/* The vif is its queues summed. */
	assert_int_equal(v->c.rx_packets, 200);
	assert_int_equal(v->c.tx_bytes, 10000);
	assert_int_equal(v->c.tx_packets, 20);
	assert_int_equal(v->c.rx_bytes, 6000);
	assert_int_equal(v->c.tx_drops, 2);
	assert_int_equal(v->c.rx_errors, 8);
	assert_int_equal(v->c.tx_spoof_drops, 4);
	nicstat_free(&f->n);
	nicstat_free(&f->n);    /* idempotent */
	t = "{\"vifs\":[]}";
	assert_int_equal(nicstat_parse(t, strlen(t), &f->n, f->err, sizeof(f->err)), 0);
	assert_int_equal(f->n.nvifs, 0);
}

/* Members missing or of the wrong type read as 0, "" or false. */
static void test_nicstat_missing(void **state)
{
	struct fix *f = *state;
	const char *t = "{\"vifs\":[{\"domid\":1,\"devid\":2,\"name\":7,\"carrier\":\"yes\","
			"\"queues\":[{\"index\":0,\"rx_packets\":-4,\"tx_packets\":1.5},"
			"7,{\"rx_bytes\":9}]},{\"domid\":2,\"devid\":0,\"queues\":{}}]}";
	const struct nicstat_vif *v;

	assert_int_equal(nicstat_parse(t, strlen(t), &f->n, f->err, sizeof(f->err)), 0);
	v = nicstat_find_vif(&f->n, 1, 2);
	assert_non_null(v);
	assert_string_equal(v->name, "");
	assert_string_equal(v->mac, "");
	assert_string_equal(v->bridge, "");
	assert_false(v->carrier);
	assert_int_equal(v->mtu, 0);
	assert_int_equal(v->nqueues, 2);        /* the 7 skipped */
	assert_int_equal(v->c.rx_packets, 0);
	assert_int_equal(v->c.tx_packets, 0);
	assert_int_equal(v->c.rx_bytes, 9);
	v = nicstat_find_vif(&f->n, 2, 0);
	assert_non_null(v);
	assert_int_equal(v->nqueues, 0);
	assert_null(v->queues);
}

static void nic_bad(struct fix *f, const char *t, const char *why)
{
	int rc = nicstat_parse(t, strlen(t), &f->n, f->err, sizeof(f->err));

	assert_int_not_equal(rc, 0);
	assert_null(f->n.doc);
	assert_null(f->n.vifs);
	assert_int_equal(f->n.nvifs, 0);
	if (!strstr(f->err, why))
		fail_msg("'%s': error '%s' lacks '%s'", t, f->err, why);
}

/* One more entry than a parser keeps is refused whole, with or without a
 * place for the reason (pvctl_json_stats_array, shared by every view). */
static void test_stats_too_many(void **state)
{
	struct fix *f = *state;
	const char *keys[] = { "devices", "vifs" };

	for (unsigned k = 0; k < 2; k++) {
		size_t n = 65537, len = 0, cap = n * 2 + 32;
		char *t = malloc(cap), want[32];
		struct blkstat b;
		struct nicstat v;

		assert_non_null(t);
		len = (size_t)snprintf(t, cap, "{\"%s\":[", keys[k]);
		for (size_t i = 0; i < n; i++) {
			if (i)
				t[len++] = ',';
			t[len++] = '0';
		}
		len += (size_t)snprintf(t + len, cap - len, "]}");
		snprintf(want, sizeof(want), "too many %s", keys[k]);
		if (k == 0) {
			blk_bad(f, t, want);
			assert_int_equal(blkstat_parse(t, len, &b, NULL, 0), -EINVAL);
			assert_null(b.doc);
		} else {
			nic_bad(f, t, want);
			assert_int_equal(nicstat_parse(t, len, &v, NULL, 0), -EINVAL);
			assert_null(v.doc);
		}
		free(t);
	}
}

static void test_nicstat_garbage(void **state)
{
	struct fix *f = *state;

	nic_bad(f, "", "offset 0");
	nic_bad(f, "pong", "expected near 'pong'");
	nic_bad(f, "{\"vifs\":[", "end of file");
	nic_bad(f, "[]", "not a JSON object");
	nic_bad(f, "{\"error\":\"unknown command\"}", "pvd-netback answered: unknown command");
	nic_bad(f, "{}", "no vifs array");
	nic_bad(f, "{\"vifs\":{}}", "no vifs array");
	nic_bad(f, "{\"vifs\":[7]}", "without a valid domid");
	nic_bad(f, "{\"vifs\":[{\"domid\":1,\"devid\":0},{\"devid\":1}]}", "without a valid");
	nic_bad(f, "{\"vifs\":[{\"domid\":65536,\"devid\":0}]}", "without a valid");
	nic_bad(f, "{\"vifs\":[{\"domid\":1,\"devid\":-1}]}", "without a valid");
	nic_bad(f, "{\"vifs\":[],\"vifs\":[]}", "duplicate");
}

/* 2^63-1 is read exactly and sums saturate; past it, the answer fails
 * as a whole (jansson's integers are 64-bit signed). */
static void test_nicstat_huge(void **state)
{
	struct fix *f = *state;
	const char *t = nicdoc(9223372036854775807ull, 9223372036854775807ull);
	const struct nicstat_vif *v;
	struct nicstat_rate r;
	size_t cap = 64 * 1024, n = 0;
	char *big;

	assert_int_equal(nicstat_parse(t, strlen(t), &f->n, f->err, sizeof(f->err)), 0);
	v = &f->n.vifs[0];
	assert_true(v->queues[0].c.rx_packets == 9223372036854775807ull);
	assert_true(v->c.rx_packets == 18446744073709551614ull);
	nicstat_free(&f->n);
	t = "{\"vifs\":[{\"domid\":1,\"devid\":0,\"queues\":["
	    "{\"rx_packets\":9223372036854775807},{\"rx_packets\":9223372036854775807},"
	    "{\"rx_packets\":9223372036854775807}]}]}";
	assert_int_equal(nicstat_parse(t, strlen(t), &f->n, f->err, sizeof(f->err)), 0);
	assert_true(f->n.vifs[0].c.rx_packets == UINT64_MAX);   /* saturated */
	nicstat_rate(NULL, &f->n.vifs[0].c, 1.0, &r);
	assert_true(r.rx_pps > 1e19);
	nicstat_free(&f->n);
	nic_bad(f, "{\"vifs\":[{\"domid\":1,\"devid\":0,\"queues\":[{\"rx_packets\":"
		   "9223372036854775808}]}]}", "too big integer");
	/* More queues than kept: bounded. */
	big = malloc(cap);
	assert_non_null(big);
	n += (size_t)snprintf(big + n, cap - n, "{\"vifs\":[{\"domid\":1,\"devid\":0,\"queues\":[");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(big + n, cap - n, "%s{\"index\":%d,\"tx_packets\":1}",
				      i ? "," : "", i);
	snprintf(big + n, cap - n, "]}]}");
	assert_int_equal(nicstat_parse(big, strlen(big), &f->n, f->err, sizeof(f->err)), 0);
	free(big);
	assert_int_equal(f->n.vifs[0].nqueues, NICSTAT_QUEUES_MAX);
	assert_int_equal(f->n.vifs[0].c.tx_packets, NICSTAT_QUEUES_MAX);
}

static void test_nicstat_rate(void **state)
{
	struct fix *f = *state;
	const char *t = nicdoc(100, 5000);
	struct nicstat_rate r;
	char buf[32];

	assert_int_equal(nicstat_parse(t, strlen(t), &f->n, f->err, sizeof(f->err)), 0);
	t = nicdoc(150, 7500);
	assert_int_equal(nicstat_parse(t, strlen(t), &f->n2, f->err, sizeof(f->err)), 0);
	nicstat_rate(&f->n.vifs[0].c, &f->n2.vifs[0].c, 0.5, &r);
	assert_true(r.rx_pps == 200);           /* 2 queues x 50 in 0.5 s */
	assert_true(r.tx_mbps == 0.01);         /* 2 x 2500 bytes in 0.5 s */
	assert_true(r.tx_pps == 0);
	assert_int_equal(r.drops, 0);
	/* A counter that went back: a vif connected anew, from zero. */
	nicstat_rate(&f->n2.vifs[0].c, &f->n.vifs[0].c, 1.0, &r);
	assert_true(r.rx_pps == 200);
	assert_int_equal(r.drops, 8);
	assert_int_equal(r.errors, 12);
	nicstat_fmt_limit(12500, 20000, buf, sizeof(buf));
	assert_string_equal(buf, "5Mb/s");
	nicstat_fmt_limit(0, 0, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	nicstat_fmt_limit(125, 1000000, buf, sizeof(buf));
	assert_string_equal(buf, "1Kb/s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_print, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_exhaustive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blkstat_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blkstat_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blkstat_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blkstat_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nicstat_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nicstat_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nicstat_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nicstat_huge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nicstat_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_too_many, setup, teardown),
		cmocka_unit_test(test_quantile),
		cmocka_unit_test(test_vdev_names),
		cmocka_unit_test(test_fmt_us),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
