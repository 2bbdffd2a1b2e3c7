/* pvctl's JSON reader and writer (tools/pvctl/json.c) and pvd-blkback's
 * statistics as pvctl reads them (tools/pvctl/blkstat.c): valid and
 * hostile documents, bounds, the rates between two samples, latency
 * quantiles from the log2 histogram, and vdev names against xlcfg's
 * encoding. */
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
#include "../../tools/pvctl/xlcfg.h"

struct fix {
	struct json *j;
	struct blkstat s, s2;
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

	json_free(f->j);
	blkstat_free(&f->s);
	blkstat_free(&f->s2);
	free(f);
	return 0;
}

static int parse(struct fix *f, const char *text)
{
	json_free(f->j);
	f->j = NULL;
	f->err[0] = '\0';
	return json_parse(text, strlen(text), &f->j, f->err, sizeof(f->err));
}

/* The compact form of what was parsed. */
static char *written(const struct json *j)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	json_write(m, j);
	fclose(m);
	return buf;
}

static void roundtrip(struct fix *f, const char *in, const char *want)
{
	char *out;

	if (parse(f, in) != 0)
		fail_msg("'%s' did not parse: %s", in, f->err);
	out = written(f->j);
	assert_string_equal(out, want);
	free(out);
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

static void test_json_values(void **state)
{
	struct fix *f = *state;

	roundtrip(f, " {\"a\" : [1, 2 ,3], \"b\":{}, \"c\":[] ,\"d\":null} ",
		  "{\"a\":[1,2,3],\"b\":{},\"c\":[],\"d\":null}");
	roundtrip(f, "[true,false,null]", "[true,false,null]");
	roundtrip(f, "18446744073709551615", "18446744073709551615");
	assert_true(f->j->is_u64);
	assert_true(f->j->u == UINT64_MAX);
	roundtrip(f, "18446744073709551616", "1.8446744073709552e+19");
	assert_false(f->j->is_u64);
	roundtrip(f, "-3", "-3");
	assert_false(f->j->is_u64);
	roundtrip(f, "0.5e1", "5");
	roundtrip(f, "\"a\\\"b\\\\c\\/\\n\\t\\u0041\\u00e9\\ud83d\\ude00\"",
		  "\"a\\\"b\\\\c/\\u000a\\u0009A\xc3\xa9\xf0\x9f\x98\x80\"");
	roundtrip(f, "\"\x7f\"", "\"\\u007f\"");
}

static void test_json_lookup(void **state)
{
	struct fix *f = *state;
	uint64_t v = 0;
	bool b = false;

	assert_int_equal(parse(f, "{\"n\":7,\"s\":\"x\",\"b\":true,\"f\":1.5,\"n\":8}"), 0);
	assert_true(json_get_u64(f->j, "n", &v));
	assert_int_equal(v, 7);         /* the first of a repeated member */
	assert_false(json_get_u64(f->j, "f", &v));
	assert_false(json_get_u64(f->j, "s", &v));
	assert_false(json_get_u64(f->j, "none", &v));
	assert_string_equal(json_get_str(f->j, "s"), "x");
	assert_null(json_get_str(f->j, "n"));
	assert_true(json_get_bool(f->j, "b", &b));
	assert_true(b);
	assert_null(json_get(f->j->child, "n"));     /* not an object */
	assert_int_equal(f->j->n, 5);
}

static void test_json_bad(void **state)
{
	struct fix *f = *state;
	char deep[200];
	int rc;

	bad(f, "", "unexpected end");
	bad(f, "   ", "unexpected end");
	bad(f, "{", "expected a member name");
	bad(f, "{\"a\"}", "expected ':'");
	bad(f, "{\"a\":1,}", "expected a member name");
	bad(f, "[1,]", "unexpected character ']'");
	bad(f, "[1 2]", "expected ',' or ']'");
	bad(f, "{\"a\":1 \"b\":2}", "expected ',' or '}'");
	bad(f, "01", "trailing data");
	bad(f, "1.", "bad number");
	bad(f, "1e", "bad number");
	bad(f, "-", "bad number");
	bad(f, "+1", "unexpected character '+'");
	bad(f, "tru", "unexpected character 't'");
	bad(f, "nul", "unexpected character 'n'");
	bad(f, "\"abc", "unterminated string");
	bad(f, "\"abc\\", "unterminated string");
	bad(f, "\"a\nb\"", "control character");
	bad(f, "\"\\x\"", "bad escape");
	bad(f, "\"\\u12\"", "bad \\u escape");
	bad(f, "\"\\u0000\"", "NUL in a string");
	bad(f, "\"\\ud800\"", "unpaired surrogate");
	bad(f, "\"\\udc00\"", "unpaired surrogate");
	bad(f, "\"\\ud800\\u0041\"", "unpaired surrogate");
	bad(f, "{} {}", "trailing data");
	bad(f, "[1]\x01", "trailing data");
	/* A byte that is not text, in the middle: offset given. */
	bad(f, "[1,\x01]", "offset 3");
	/* Nesting: JSON_DEPTH_MAX levels pass, one more does not. */
	memset(deep, '[', JSON_DEPTH_MAX);
	memset(deep + JSON_DEPTH_MAX, ']', JSON_DEPTH_MAX);
	deep[2 * JSON_DEPTH_MAX] = '\0';
	assert_int_equal(parse(f, deep), 0);
	memset(deep, '[', JSON_DEPTH_MAX + 1);
	memset(deep + JSON_DEPTH_MAX + 1, ']', JSON_DEPTH_MAX + 1);
	deep[2 * JSON_DEPTH_MAX + 2] = '\0';
	bad(f, deep, "nested more than");
	/* A NUL inside the given length is not the end. */
	json_free(f->j);
	f->j = NULL;
	rc = json_parse("[1]\0[2]", 7, &f->j, f->err, sizeof(f->err));
	assert_int_equal(rc, -EINVAL);
	rc = json_parse("[]", (size_t)JSON_TEXT_MAX + 1, &f->j, f->err, sizeof(f->err));
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
				json_free(f->j);
				f->j = NULL;
				(void)json_parse(in, len, &f->j, f->err, sizeof(f->err));
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
	blk_bad(f, "{\"devices\":[", "unexpected end");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_exhaustive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blkstat_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blkstat_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blkstat_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blkstat_rate, setup, teardown),
		cmocka_unit_test(test_quantile),
		cmocka_unit_test(test_vdev_names),
		cmocka_unit_test(test_fmt_us),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
