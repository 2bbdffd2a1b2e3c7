/* pvd-consoled's and the store's statistics as pvctl reads them
 * (tools/pvctl/constat.c, storestat.c): valid documents, missing
 * members, hostile ones (wrong types, bad console names, huge numbers,
 * another store's answer), display order and the rates between two
 * samples, counters that went back included. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../tools/pvctl/constat.h"
#include "../../tools/pvctl/storestat.h"

#define GOOD_CONS \
	"{\"consoles\":[{\"domid\":3,\"console\":\"2\",\"tty\":\"/dev/pts/9\"," \
	"\"out_bytes\":100,\"in_bytes\":7,\"dropped\":1,\"buffered\":0," \
	"\"rate_stalls\":2,\"log_bytes\":90,\"state\":\"connected\"}," \
	"{\"domid\":3,\"console\":\"primary\",\"tty\":\"/dev/pts/4\"," \
	"\"out_bytes\":5000,\"state\":\"rate-limited\"}]}"

static int cparse(const char *text, struct constat *s, char *err)
{
	return constat_parse(text, strlen(text), s, err, 200);
}

static void test_constat_parse(void **state)
{
	struct constat s;
	char err[200] = "";
	const struct constat_con *c;

	assert_int_equal(cparse(GOOD_CONS, &s, err), 0);
	assert_int_equal(s.ncons, 2);
	c = constat_find(&s, 3, "2");
	assert_non_null(c);
	assert_string_equal(c->tty, "/dev/pts/9");
	assert_string_equal(c->state, "connected");
	assert_true(c->out_bytes == 100 && c->in_bytes == 7 && c->dropped == 1 &&
		    c->rate_stalls == 2 && c->log_bytes == 90);
	c = constat_find(&s, 3, "primary");
	assert_non_null(c);
	/* Missing members read as 0 or "". */
	assert_true(c->out_bytes == 5000 && c->in_bytes == 0 && c->log_bytes == 0);
	assert_string_equal(c->state, "rate-limited");
	assert_null(constat_find(&s, 4, "primary"));
	/* The primary first, then secondaries by number. */
	assert_true(constat_cmp(&s.cons[1], &s.cons[0]) < 0);
	assert_true(constat_cmp(&s.cons[0], &s.cons[1]) > 0);
	constat_free(&s);
	constat_free(&s);       /* idempotent */
	assert_int_equal(cparse("{\"consoles\":[]}", &s, err), 0);
	assert_int_equal(s.ncons, 0);
	constat_free(&s);
}

static void bad_cons(const char *text, const char *why)
{
	struct constat s;
	char err[200] = "";

	assert_true(cparse(text, &s, err) < 0);
	assert_non_null(strstr(err, why));
	assert_null(s.doc);
	assert_null(s.cons);
}

static void test_constat_bad(void **state)
{
	bad_cons("not json", "");
	bad_cons("[1,2]", "not a JSON object");
	bad_cons("{\"error\":\"unknown command\"}", "pvd-consoled answered: unknown command");
	bad_cons("{\"vifs\":[]}", "no consoles array");
	bad_cons("{\"consoles\":{}}", "no consoles array");
	bad_cons("{\"consoles\":[{\"console\":\"primary\"}]}", "valid domid");
	bad_cons("{\"consoles\":[{\"domid\":65536,\"console\":\"primary\"}]}", "valid domid");
	bad_cons("{\"consoles\":[{\"domid\":-1,\"console\":\"primary\"}]}", "valid domid");
	bad_cons("{\"consoles\":[{\"domid\":1}]}", "console");
	bad_cons("{\"consoles\":[{\"domid\":1,\"console\":\"../x\"}]}", "console");
	bad_cons("{\"consoles\":[{\"domid\":1,\"console\":\"1\\u001b[2J\"}]}", "console");
	bad_cons("{\"consoles\":[{\"domid\":1,\"console\":7}]}", "console");
	bad_cons("{\"consoles\":[{\"domid\":1,\"console\":\"99999999999\"}]}", "console");
	/* Past 2^63-1: the whole answer (json.h). */
	bad_cons("{\"consoles\":[{\"domid\":1,\"console\":\"primary\","
		 "\"out_bytes\":18446744073709551615}]}", "");
	/* A good console after a bad one does not save it. */
	bad_cons("{\"consoles\":[{\"domid\":1,\"console\":\"primary\"},{\"domid\":\"1\"}]}",
		 "valid domid");
}

static void test_constat_types(void **state)
{
	struct constat s;
	char err[200];

	/* Counters of the wrong type read as 0; strings as "". */
	assert_int_equal(cparse("{\"consoles\":[{\"domid\":1,\"console\":\"primary\","
				"\"out_bytes\":-5,\"in_bytes\":1.5,\"dropped\":\"9\","
				"\"tty\":7,\"state\":null}]}", &s, err), 0);
	assert_true(s.cons[0].out_bytes == 0 && s.cons[0].in_bytes == 0 &&
		    s.cons[0].dropped == 0);
	assert_string_equal(s.cons[0].tty, "");
	assert_string_equal(s.cons[0].state, "");
	constat_free(&s);
}

static void test_constat_rate(void **state)
{
	struct constat_con prev = { .out_bytes = 1000, .in_bytes = 10, .log_bytes = 900,
				    .dropped = 1, .rate_stalls = 0 };
	struct constat_con cur = { .out_bytes = 3000, .in_bytes = 30, .log_bytes = 2900,
				   .dropped = 4, .rate_stalls = 2 };
	struct constat_rate r;

	constat_rate(&prev, &cur, 2.0, &r);
	assert_true(r.out_bps == 1000.0 && r.in_bps == 10.0 && r.log_bps == 1000.0);
	assert_true(r.dropped == 3 && r.rate_stalls == 2);
	/* No earlier sample: from zero. */
	constat_rate(NULL, &cur, 1.0, &r);
	assert_true(r.out_bps == 3000.0 && r.dropped == 4);
	/* A counter that went back (the console made anew): from zero. */
	prev.in_bytes = 50;
	constat_rate(&prev, &cur, 1.0, &r);
	assert_true(r.out_bps == 3000.0 && r.in_bps == 30.0 && r.dropped == 4);
	/* No time: no division by zero. */
	constat_rate(NULL, &cur, 0, &r);
	assert_true(r.out_bps > 0);
}

#define GOOD_STORE \
	"{\"connections\":{\"total\":5,\"sockets\":3,\"rings\":2,\"privileged\":3}," \
	"\"domains\":2,\"nodes\":40,\"watches\":6,\"transactions\":1," \
	"\"requests\":{\"READ\":70,\"WRITE\":30},\"requests_total\":100," \
	"\"quota_refusals\":{\"nodes\":2,\"watches\":1,\"perms\":0}," \
	"\"rejected_conns\":4}"

static int sparse(const char *text, struct storestat *s, char *err)
{
	return storestat_parse(text, strlen(text), s, err, 200);
}

static void test_storestat_parse(void **state)
{
	struct storestat s, p;
	char err[200];
	uint64_t q;
	double rps;

	assert_int_equal(sparse(GOOD_STORE, &s, err), 0);
	assert_true(s.conns == 5 && s.sockets == 3 && s.rings == 2 && s.privileged == 3);
	assert_true(s.domains == 2 && s.nodes == 40 && s.watches == 6 && s.transactions == 1);
	assert_true(s.requests == 100 && s.refusals == 3 && s.rejected_conns == 4);
	assert_non_null(s.doc);
	p = s;
	p.requests = 60;
	p.refusals = 1;
	storestat_rate(&p, &s, 2.0, &rps, &q);
	assert_true(rps == 20.0 && q == 2);
	storestat_rate(NULL, &s, 1.0, &rps, &q);
	assert_true(rps == 100.0 && q == 3);
	/* A store restarted since (counters went back): from zero. */
	p.requests = 500;
	storestat_rate(&p, &s, 1.0, &rps, &q);
	assert_true(rps == 100.0 && q == 3);
	storestat_free(&s);
	storestat_free(&s);
	assert_null(s.doc);
}

static void bad_store(const char *text)
{
	struct storestat s;
	char err[200] = "";

	assert_true(sparse(text, &s, err) < 0);
	assert_true(err[0] != '\0');
	assert_null(s.doc);
}

static void test_storestat_bad(void **state)
{
	/* Another store's answers are not taken for pvd-stored's. */
	bad_store("OK");
	bad_store("");
	bad_store("check\nhelp\n");
	bad_store("[]");
	bad_store("{}");
	bad_store("{\"connections\":5,\"requests_total\":1}");
	bad_store("{\"connections\":{},\"requests_total\":-1}");
	bad_store("{\"connections\":{},\"requests_total\":\"1\"}");
	bad_store("{\"connections\":{},\"requests_total\":99999999999999999999}");
}

static void test_storestat_saturate(void **state)
{
	struct storestat s;
	char err[200];

	assert_int_equal(sparse("{\"connections\":{},\"requests_total\":0,"
				"\"quota_refusals\":{\"a\":9223372036854775807,"
				"\"b\":9223372036854775807,\"c\":9223372036854775807,"
				"\"d\":\"x\"}}", &s, err), 0);
	assert_true(s.refusals == UINT64_MAX);
	assert_true(s.conns == 0 && s.nodes == 0);
	storestat_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constat_parse),
		cmocka_unit_test(test_constat_bad),
		cmocka_unit_test(test_constat_types),
		cmocka_unit_test(test_constat_rate),
		cmocka_unit_test(test_storestat_parse),
		cmocka_unit_test(test_storestat_bad),
		cmocka_unit_test(test_storestat_saturate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
