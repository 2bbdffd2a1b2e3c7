/* pvd-consoled's ring <-> pty <-> log pipeline against simulated guests
 * (the real sim hypervisor layer in a private run directory, the guests
 * played in-process with hv_sim): output to the pty and the log, input to
 * the guest, the overflow buffer and its marker with nobody attached, the
 * rate limit, and each hostile ring (indices past each other or past the
 * ring, input never consumed, output never notified) without harm to the
 * other guest's console. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <xen/io/console.h>

#include "../../consoled/console.h"
#include "../../consoled/consoled.h"
#include "pvd/hv_sim.h"
#include "pvd/ring_util.h"

/* Bounds a wait for something that must happen; decides nothing. */
#define HANG_GUARD_MS 5000

struct guest {
	struct hv_sim_domain *dom;
	struct xencons_interface *intf;
	evtchn_port_t port;
	struct console *c;
	int client;		/* a reader/writer attached to the pty, or -1 */
};

struct fx {
	char dir[64], logdir[80];
	struct event_base *base;
	struct consoled cd;
	struct consoled_opts o;
	struct guest g[2];
	char buf[1 << 20];
};

static void turn(struct fx *f)
{
	for (int i = 0; i < 8; i++)
		event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static void guest_create(struct fx *f, struct guest *g, unsigned domid)
{
	assert_int_equal(hv_sim_domain_create(f->dir, (domid_t)domid, 8, &g->dom), 0);
	g->intf = hv_sim_page(g->dom, hv_sim_console_page(g->dom));
	assert_non_null(g->intf);
	assert_int_equal(hv_sim_evtchn_alloc_unbound(g->dom, 0, &g->port), 0);
	g->client = -1;
}

static void console_start(struct fx *f, struct guest *g, const char *logname)
{
	struct console_cfg cfg = {
		.domid = hv_sim_domain_id(g->dom), .devid = -1,
		.remote_port = g->port, .log_base = logname,
	};

	assert_int_equal(console_create(&f->cd, &cfg, &g->c), 0);
	assert_string_not_equal(console_tty(g->c), "");
}

static void guest_start(struct fx *f, struct guest *g, unsigned domid,
			const char *logname)
{
	guest_create(f, g, domid);
	console_start(f, g, logname);
}

/* Puts bytes on the guest's out ring (what fits); notifies if asked. */
static size_t guest_write(struct guest *g, const void *data, size_t len,
			  bool notify)
{
	struct xencons_interface *intf = g->intf;
	XENCONS_RING_IDX prod = intf->out_prod, cons = intf->out_cons;
	size_t space = sizeof(intf->out) - (prod - cons), n = len < space ? len : space;

	for (size_t i = 0; i < n; i++)
		intf->out[MASK_XENCONS_IDX(prod + i, intf->out)] = ((const char *)data)[i];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	intf->out_prod = prod + (XENCONS_RING_IDX)n;
	if (notify)
		hv_sim_evtchn_notify(g->dom, g->port);
	return n;
}

/* Takes what is on the guest's in ring. */
static size_t guest_read(struct guest *g, char *out, size_t cap)
{
	struct xencons_interface *intf = g->intf;
	XENCONS_RING_IDX cons = intf->in_cons, prod = intf->in_prod;
	size_t n = prod - cons;

	assert_true(n <= sizeof(intf->in) && n < cap);
	for (size_t i = 0; i < n; i++)
		out[i] = intf->in[MASK_XENCONS_IDX(cons + i, intf->in)];
	out[n] = '\0';
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	intf->in_cons = cons + (XENCONS_RING_IDX)n;
	hv_sim_evtchn_notify(g->dom, g->port);
	return n;
}

/* Counts the notifications the guest got (and takes bind requests). */
static unsigned guest_events(struct guest *g)
{
	evtchn_port_t p;
	unsigned n = 0;

	while (hv_sim_evtchn_pending(g->dom, &p) == 0) {
		hv_sim_evtchn_unmask(g->dom, p);
		n += p == g->port;
	}
	return n;
}

static int attach(struct guest *g)
{
	g->client = open(console_tty(g->c), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	assert_true(g->client >= 0);
	return g->client;
}

/* Reads from the pty until `want` is in what was read (bounded by
 * HANG_GUARD_MS while nothing arrives); returns what was read. */
static char *read_until(struct fx *f, struct guest *g, const char *want)
{
	size_t n = 0;

	f->buf[0] = '\0';
	while (!strstr(f->buf, want)) {
		struct pollfd pf = { .fd = g->client, .events = POLLIN };
		ssize_t r;

		turn(f);
		if (poll(&pf, 1, HANG_GUARD_MS) <= 0)
			fail_msg("pty: no \"%s\" within the guard; got \"%s\"", want, f->buf);
		r = read(g->client, f->buf + n, sizeof(f->buf) - 1 - n);
		if (r > 0)
			n += (size_t)r;
		f->buf[n] = '\0';
		assert_true(n < sizeof(f->buf) - 1);
	}
	return f->buf;
}

/* Reads everything the pty has now (the kernel pushes master writes to
 * the slave asynchronously: a short settle is part of reading "all"). */
static size_t read_all(struct fx *f, struct guest *g)
{
	size_t n = 0;

	for (;;) {
		struct pollfd pf = { .fd = g->client, .events = POLLIN };
		ssize_t r;

		turn(f);
		if (poll(&pf, 1, 200) <= 0)
			break;
		r = read(g->client, f->buf + n, sizeof(f->buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		assert_true(n < sizeof(f->buf) - 1);
	}
	f->buf[n] = '\0';
	return n;
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (!fp)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return buf;
}

static int setup_opts(void **state, uint64_t rate, uint64_t burst,
		      size_t bufsize)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/pvd-cons-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->logdir, sizeof(f->logdir), "%s/logs", f->dir);
	assert_int_equal(mkdir(f->logdir, 0700), 0);
	setenv("PVD_RUNDIR", f->dir, 1);
	f->base = event_base_new();
	consoled_opts_default(&f->o);
	f->o.hv_impl = "sim";
	f->o.log_dir = f->logdir;
	f->o.rate = rate;
	f->o.burst = burst;
	f->o.buffer_size = bufsize;
	assert_int_equal(consoled_start(&f->cd, f->base, &f->o), 0);
	guest_start(f, &f->g[0], 3, "three");
	guest_start(f, &f->g[1], 4, "four");
	turn(f);
	for (int i = 0; i < 2; i++)
		guest_events(&f->g[i]);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_opts(state, 0, 0, 64 * 1024);
}

static int setup_small_buffer(void **state)
{
	return setup_opts(state, 0, 0, 4096);
}

static int setup_rate(void **state)
{
	/* 20 kB/s, burst 1000: a ring's worth takes ~50 ms to pass. */
	return setup_opts(state, 20000, 1000, 64 * 1024);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	for (int i = 0; i < 2; i++) {
		if (f->g[i].client >= 0)
			close(f->g[i].client);
		console_destroy(f->g[i].c);
		hv_sim_domain_destroy(f->g[i].dom);
	}
	assert_int_equal(f->cd.nconsoles, 0);
	consoled_stop(&f->cd);
	consoled_stop(&f->cd);	/* idempotent */
	event_base_free(f->base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* The other guest's console still works both ways. */
static void assert_other_served(struct fx *f)
{
	struct guest *g = &f->g[1];
	char in[64];

	if (g->client < 0)
		attach(g);
	guest_write(g, "other ok\n", 9, true);
	read_until(f, g, "other ok\n");
	assert_int_equal(write(g->client, "k", 1), 1);
	for (int i = 0; i < 200 && g->intf->in_prod == g->intf->in_cons; i++) {
		turn(f);
		usleep(5000);
	}
	assert_int_equal(guest_read(g, in, sizeof(in)), 1);
	assert_string_equal(in, "k");
	assert_false(console_broken(g->c));
}

static void test_output_to_pty_and_log(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];
	char path[128];
	struct stat st;

	/* The pty is raw and root's alone. */
	assert_int_equal(stat(console_tty(g->c), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	attach(g);
	guest_write(g, "hello\nworld\n", 12, true);
	assert_string_equal(read_until(f, g, "world\n"), "hello\nworld\n");
	assert_int_equal(g->intf->out_cons, 12);
	assert_true(guest_events(g) >= 1);	/* told it may write more */
	snprintf(path, sizeof(path), "%s/guest-three.log", f->logdir);
	assert_string_equal(slurp(path), "hello\nworld\n");
	assert_other_served(f);
}

/* Data that wraps around the end of the ring, several times. */
static void test_output_wraps(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];
	char chunk[1500];
	size_t total = 0;

	attach(g);
	for (int i = 0; i < 10; i++) {
		memset(chunk, 'a' + i, sizeof(chunk));
		chunk[sizeof(chunk) - 1] = '\n';
		while (g->intf->out_prod != g->intf->out_cons)
			turn(f);
		guest_write(g, chunk, sizeof(chunk), true);
		total += sizeof(chunk);
		turn(f);
		read_all(f, g);
		assert_int_equal(strlen(f->buf), sizeof(chunk));
		assert_int_equal(f->buf[0], 'a' + i);
		assert_int_equal(f->buf[sizeof(chunk) - 2], 'a' + i);
	}
	assert_int_equal(g->intf->out_cons, total);
}

static void test_input_to_guest(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];
	char in[64];

	attach(g);
	assert_int_equal(write(g->client, "ls -l\r", 6), 6);
	for (int i = 0; i < 200 && g->intf->in_prod == g->intf->in_cons; i++) {
		turn(f);
		usleep(5000);
	}
	assert_true(guest_events(g) >= 1);
	assert_int_equal(guest_read(g, in, sizeof(in)), 6);
	assert_string_equal(in, "ls -l\r");	/* raw: no translation */
	assert_other_served(f);
}

/* A guest that never consumes its input: at most a ring's worth goes in,
 * the pty is no longer read (its writer blocks, nobody else), and the
 * rest follows once the guest consumes and notifies. */
static void test_input_never_consumed(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];
	struct console_stats st;
	char data[3000], in[2048];
	size_t got = 0;

	memset(data, 'i', sizeof(data));
	attach(g);
	assert_int_equal(write(g->client, data, sizeof(data)), (ssize_t)sizeof(data));
	for (int i = 0; i < 200; i++) {
		turn(f);
		console_stats(g->c, &st);
		if (st.input_blocked)
			break;
		usleep(5000);
	}
	assert_true(st.input_blocked);
	assert_int_equal(g->intf->in_prod - g->intf->in_cons, sizeof(g->intf->in));
	assert_other_served(f);
	/* Consuming (and notifying) resumes the flow. */
	for (int i = 0; i < 400 && got < sizeof(data); i++) {
		got += guest_read(g, in, sizeof(in));
		turn(f);
		usleep(2000);
	}
	assert_int_equal(got, sizeof(data));
	console_stats(g->c, &st);
	assert_int_equal(st.in_bytes, sizeof(data));
}

static void test_out_indices_past_each_other(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];
	struct stat st;
	char tty[64];

	snprintf(tty, sizeof(tty), "%s", console_tty(g->c));
	g->intf->out_prod = g->intf->out_cons + sizeof(g->intf->out) + 1;
	hv_sim_evtchn_notify(g->dom, g->port);
	turn(f);
	assert_true(console_broken(g->c));
	assert_string_equal(console_tty(g->c), "");
	/* Its pty is gone (the master closed: a new open fails). */
	assert_true(stat(tty, &st) < 0 || open(tty, O_RDWR | O_NOCTTY) < 0);
	/* More events from it are ignored. */
	hv_sim_evtchn_notify(g->dom, g->port);
	turn(f);
	assert_other_served(f);
}

static void test_out_cons_past_prod(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];

	guest_write(g, "abc", 3, true);
	turn(f);
	g->intf->out_cons = g->intf->out_prod + 16;	/* consumer ahead */
	guest_write(g, "x", 1, true);
	turn(f);
	assert_true(console_broken(g->c));
	assert_other_served(f);
}

/* Indices huge and wrapped, but a ring apart at most: fine. */
static void test_indices_wrap_around_2_32(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];

	console_destroy(g->c);
	guest_events(g);	/* the guest sees the hang-up: port unbound again */
	g->intf->out_cons = g->intf->out_prod = 0xfffffffeu;
	console_start(f, g, "three");
	attach(g);
	guest_write(g, "wrapping\n", 9, true);
	read_until(f, g, "wrapping\n");
	assert_int_equal(g->intf->out_cons, 7);
	assert_false(console_broken(g->c));
}

static void test_in_indices_corrupt(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];

	attach(g);
	g->intf->in_cons = g->intf->in_prod + 5000;
	assert_int_equal(write(g->client, "x", 1), 1);
	for (int i = 0; i < 200 && !console_broken(g->c); i++) {
		turn(f);
		usleep(5000);
	}
	assert_true(console_broken(g->c));
	assert_other_served(f);
}

/* A guest that writes without notifying: read at its next notification
 * (as xenconsoled), nothing lost meanwhile and nothing read early. */
static void test_write_without_notify(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];

	attach(g);
	guest_write(g, "quiet ", 6, false);
	turn(f);
	assert_int_equal(g->intf->out_cons, 0);	/* no event, no read */
	assert_other_served(f);
	guest_write(g, "then loud\n", 10, true);
	assert_string_equal(read_until(f, g, "loud\n"), "quiet then loud\n");
}

/* Nobody attached: the guest writes ten times the buffer.  It is never
 * blocked (everything is consumed), memory stays bounded, and a client
 * attaching later sees the marker and then the newest output. */
static void test_overflow_marker(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];
	struct console_stats st;
	char chunk[2048], *m, *end;
	size_t total = 0, n;
	unsigned seq = 0;

	while (total < 1024 * 1024) {
		size_t w;

		/* Lines "L<seq>\n" padded to a chunk. */
		memset(chunk, '.', sizeof(chunk));
		snprintf(chunk, sizeof(chunk), "L%07u", seq++);
		chunk[8] = '.';
		chunk[sizeof(chunk) - 1] = '\n';
		w = guest_write(g, chunk, sizeof(chunk), true);
		assert_int_equal(w, sizeof(chunk));	/* the ring was emptied */
		total += w;
		turn(f);
		console_stats(g->c, &st);
		assert_true(st.buffered <= 4096);
		assert_int_equal(g->intf->out_cons, g->intf->out_prod);
	}
	console_stats(g->c, &st);
	assert_true(st.dropped > 0);
	assert_int_equal(st.out_bytes, total);
	attach(g);
	n = read_all(f, g);
	assert_true(n < total);
	m = strstr(f->buf, "\r\n[pvd-consoled: ");
	assert_non_null(m);
	assert_non_null(strstr(m, " bytes dropped]\r\n"));
	/* The newest chunk is complete at the end. */
	snprintf(chunk, sizeof(chunk), "L%07u", seq - 1);
	end = strstr(f->buf, chunk);
	assert_non_null(end);
	assert_int_equal(strlen(end), 2048);
	/* The log has everything. */
	{
		char path[128];
		struct stat lst;

		snprintf(path, sizeof(path), "%s/guest-three.log", f->logdir);
		assert_int_equal(stat(path, &lst), 0);
		assert_int_equal(lst.st_size, total);
	}
	assert_other_served(f);
}

/* The rate limit stops consumption (the guest's ring stays full, it would
 * block) and a timer resumes it; nothing is lost. */
static void test_rate_limit(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];
	struct console_stats st;
	char chunk[2048];
	size_t total = 0;

	memset(chunk, 'r', sizeof(chunk));
	attach(g);
	guest_write(g, chunk, sizeof(chunk), true);
	turn(f);
	console_stats(g->c, &st);
	assert_true(st.rate_blocked);
	assert_int_equal(g->intf->out_cons, 1000);	/* the burst */
	/* The other guest is not held up by it. */
	assert_other_served(f);
	/* Wait (bounded) for the timer to let the rest through. */
	for (int i = 0; i < 500 && g->intf->out_cons != 2048; i++) {
		event_base_loop(f->base, EVLOOP_ONCE);
	}
	assert_int_equal(g->intf->out_cons, 2048);
	total = read_all(f, g);
	while (total < 2048) {
		read_until(f, g, "r");
		total += strlen(f->buf);
	}
	assert_int_equal(total, 2048);
	console_stats(g->c, &st);
	assert_true(st.rate_stalls >= 1);
}

/* A guest that dies with its console open: the console is torn down
 * without touching freed memory, the client sees the end. */
static void test_guest_dies(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];
	char c;

	attach(g);
	hv_sim_domain_destroy(g->dom);
	g->dom = NULL;
	turn(f);
	console_destroy(g->c);
	g->c = NULL;
	assert_true(read(g->client, &c, 1) <= 0);	/* EIO: master closed */
	assert_other_served(f);
}

/* A client that attaches and goes away changes nothing. */
static void test_client_goes_away(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];

	attach(g);
	guest_write(g, "one\n", 4, true);
	read_until(f, g, "one\n");
	close(g->client);
	g->client = -1;
	guest_write(g, "two\n", 4, true);
	turn(f);
	attach(g);
	guest_write(g, "three\n", 6, true);
	assert_string_equal(read_until(f, g, "three\n"), "two\nthree\n");
}

static void test_log_reopen(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];
	char path[128], moved[140];

	snprintf(path, sizeof(path), "%s/guest-three.log", f->logdir);
	snprintf(moved, sizeof(moved), "%s.0", path);
	guest_write(g, "before\n", 7, true);
	turn(f);
	assert_int_equal(rename(path, moved), 0);
	console_reopen_log(g->c);
	guest_write(g, "after\n", 6, true);
	turn(f);
	assert_string_equal(slurp(moved), "before\n");
	assert_string_equal(slurp(path), "after\n");
}

/* A secondary console: a real grant reference; a bad one fails cleanly. */
static void test_secondary_console(void **state)
{
	struct fx *f = *state;
	struct guest *g = &f->g[0];
	struct guest s = { .dom = g->dom, .client = -1 };
	struct console_cfg cfg = { .domid = 3, .devid = 1, .ref = 12 };
	struct console *bad;
	unsigned long page;
	unsigned before = f->cd.nconsoles;

	assert_int_equal(hv_sim_page_alloc(g->dom, &page), 0);
	assert_int_equal(hv_sim_evtchn_alloc_unbound(g->dom, 0, &s.port), 0);
	cfg.remote_port = s.port;
	/* Not granted yet. */
	assert_int_equal(console_create(&f->cd, &cfg, &bad), -EPERM);
	assert_null(bad);
	/* Granted read-only: we need to write the in ring and indices. */
	assert_int_equal(hv_sim_grant(g->dom, 12, page, 0, 1), 0);
	assert_int_equal(console_create(&f->cd, &cfg, &bad), -EPERM);
	assert_int_equal(hv_sim_end_access(g->dom, 12), 0);
	assert_int_equal(hv_sim_grant(g->dom, 12, page, 0, 0), 0);
	/* A port that is not the guest's. */
	cfg.remote_port = 4000;
	assert_int_equal(console_create(&f->cd, &cfg, &bad), -EINVAL);
	assert_int_equal(f->cd.nconsoles, before);
	cfg.remote_port = s.port;
	assert_int_equal(console_create(&f->cd, &cfg, &s.c), 0);
	s.intf = hv_sim_page(g->dom, page);
	attach(&s);
	guest_write(&s, "second console\n", 15, true);
	read_until(f, &s, "second console\n");
	close(s.client);
	console_destroy(s.c);
	assert_int_equal(f->cd.nconsoles, before);
	assert_other_served(f);
}

/* A domain that does not exist. */
static void test_no_such_domain(void **state)
{
	struct fx *f = *state;
	struct console_cfg cfg = { .domid = 99, .devid = -1, .remote_port = 1 };
	struct console *c;

	assert_int_equal(console_create(&f->cd, &cfg, &c), -ESRCH);
	assert_null(c);
	assert_other_served(f);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_output_to_pty_and_log),
		T(test_output_wraps),
		T(test_input_to_guest),
		T(test_input_never_consumed),
		T(test_out_indices_past_each_other),
		T(test_out_cons_past_prod),
		T(test_indices_wrap_around_2_32),
		T(test_in_indices_corrupt),
		T(test_write_without_notify),
		cmocka_unit_test_setup_teardown(test_overflow_marker, setup_small_buffer, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup_rate, teardown),
		T(test_guest_dies),
		T(test_client_goes_away),
		T(test_log_reopen),
		T(test_secondary_console),
		T(test_no_such_domain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
