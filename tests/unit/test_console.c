/* pvguest's console frontend (tools/pvguest/consfront.c, with its shell
 * from sandbox.c and its device lines from devlist.c) on a simulated
 * domain in a private run directory, the test playing the console
 * backend on the guest's page (the same memory) and delivering its
 * notifications by kicking the console as its port handler does: boot
 * messages, a full out ring holding back pvguest's messages (bounded,
 * dropped and counted past CONSFRONT_MSG_MAX, order kept), a backend's bad indices in either
 * direction (nothing moves until they are sane, our own index never taken
 * from the page), input discarded without a shell, and a real shell on
 * its pty: input in, echo and output back, the shell started again after
 * it exits, everything it started gone at stop. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>

#include "../../tools/pvguest/consfront.h"
#include "../../tools/pvguest/guest.h"
#include "pvd/hv.h"	/* before <xen/io/console.h>: Xen's types */
#include "pvd/hv_sim.h"
#include "pvd/log.h"
#include <xen/io/console.h>

#define DOMID 9
/* Bounded waits on the shell (a real process): 20 s of 5 ms turns. */
#define TURNS 4000

struct fx {
	char dir[64];
	struct event_base *base;
	struct guest *g;
	struct consfront *c;
	struct consfront_config cfg;
	struct xencons_interface *intf;	/* as the backend sees it */
	char *out;			/* everything consumed so far */
	size_t out_len;
};

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct guest_config gc = { .domid = DOMID, .name = "con", .memory_mib = 2 };

	assert_non_null(f);
	strcpy(f->dir, "/tmp/pvd-test-console.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	gc.rundir = f->dir;
	f->base = event_base_new();
	assert_int_equal(guest_create(&f->g, f->base, &gc), 0);
	f->intf = hv_sim_page(guest_domain(f->g), hv_sim_console_page(guest_domain(f->g)));
	assert_non_null(f->intf);
	f->cfg.no_shell = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	consfront_stop(f->c);
	guest_destroy(f->g);
	event_base_free(f->base);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f->out);
	free(f);
	return 0;
}

static void start(struct fx *f)
{
	assert_int_equal(consfront_start(&f->c, f->base, f->g, "con", &f->cfg), 0);
}

static struct consfront_stats stats(struct fx *f)
{
	struct consfront_stats st;

	consfront_get_stats(f->c, &st);
	return st;
}

/* The backend's notification (what the guest's port handler does). */
static void kick(struct fx *f)
{
	consfront_kick(f->c);
}

/* The backend consumes everything in the out ring (checking the indices
 * the guest published), then notifies. */
static void consume(struct fx *f)
{
	XENCONS_RING_IDX cons = f->intf->out_cons, prod = f->intf->out_prod;

	assert_true(prod - cons <= sizeof(f->intf->out));
	f->out = realloc(f->out, f->out_len + (prod - cons) + 1);
	assert_non_null(f->out);
	for (; cons != prod; cons++)
		f->out[f->out_len++] = f->intf->out[MASK_XENCONS_IDX(cons, f->intf->out)];
	f->out[f->out_len] = '\0';
	f->intf->out_cons = cons;
	kick(f);
}

/* The backend produces input. */
static void input(struct fx *f, const char *s)
{
	XENCONS_RING_IDX prod = f->intf->in_prod;

	for (; *s; s++, prod++) {
		assert_true(prod - f->intf->in_cons < sizeof(f->intf->in));
		f->intf->in[MASK_XENCONS_IDX(prod, f->intf->in)] = *s;
	}
	f->intf->in_prod = prod;
	kick(f);
}

/* Turns the loop (consuming as a backend does) until the output has s;
 * bounded. */
static bool wait_out(struct fx *f, const char *s)
{
	struct timespec nap = { 0, 5 * 1000 * 1000 };

	for (int i = 0; i < TURNS; i++) {
		consume(f);
		if (f->out && strstr(f->out, s))
			return true;
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		nanosleep(&nap, NULL);
	}
	return false;
}

static void test_boot_messages(void **state)
{
	struct fx *f = *state;

	start(f);
	consume(f);
	assert_non_null(f->out);
	assert_non_null(strstr(f->out, "pvguest: domain 9 (con) booting\r\n"));
	assert_non_null(strstr(f->out, "pvguest: memory: 2 MiB\r\n"));
	assert_non_null(strstr(f->out, "event channel"));
	/* No shell asked for: none announced. */
	assert_null(strstr(f->out, "shell"));
}

static void test_full_ring_holds_messages_bounded(void **state)
{
	struct fx *f = *state;
	char want[64];
	unsigned i, sent = 0;

	start(f);
	/* Nobody consumes: the ring fills, then the message buffer, then
	 * lines are dropped and counted. */
	for (i = 0; i < 1000; i++)
		consfront_printf(f->c, "line %04u of a flood of messages", i);
	assert_int_equal(f->intf->out_prod - f->intf->out_cons, sizeof(f->intf->out));
	assert_true(stats(f).msg_queued <= CONSFRONT_MSG_MAX);
	assert_true(stats(f).msg_dropped > 0);
	/* The backend catches up: what was kept arrives, in order, whole. */
	for (i = 0; i < 20; i++)
		consume(f);
	assert_int_equal(stats(f).msg_queued, 0);
	for (i = 0; i < 1000; i++) {
		snprintf(want, sizeof(want), "pvguest: line %04u of a flood of messages\r\n", i);
		if (!strstr(f->out, want))
			break;
		sent++;
	}
	assert_true(sent > 10 && sent < 1000);
	/* Nothing torn: every line kept is whole. */
	snprintf(want, sizeof(want), "line %04u", sent);
	assert_null(strstr(f->out, want));
}

static void test_bad_out_indices(void **state)
{
	struct fx *f = *state;
	XENCONS_RING_IDX prod;

	start(f);
	consume(f);
	prod = f->intf->out_prod;
	/* A backend claiming to have consumed more than was produced. */
	f->intf->out_cons = prod + 5000;
	consfront_printf(f->c, "while the indices are bad");
	assert_int_equal(f->intf->out_prod, prod);
	assert_true(stats(f).out_stopped);
	/* Our own index is ours: what the page says is not taken. */
	f->intf->out_prod = 12345;
	f->intf->out_cons = prod;
	kick(f);
	assert_false(stats(f).out_stopped);
	assert_int_equal(f->intf->out_prod, prod + strlen("pvguest: while the indices are bad\r\n"));
	consume(f);
	assert_non_null(strstr(f->out, "pvguest: while the indices are bad\r\n"));
}

static void test_bad_in_indices_and_no_shell(void **state)
{
	struct fx *f = *state;
	XENCONS_RING_IDX cons;

	start(f);
	/* Without a shell, input is taken and discarded. */
	input(f, "nobody reads this\r");
	assert_int_equal(f->intf->in_cons, f->intf->in_prod);
	/* A producer more than a ring ahead: nothing is taken. */
	cons = f->intf->in_cons;
	f->intf->in_prod = cons + 5000;
	kick(f);
	assert_int_equal(f->intf->in_cons, cons);
	assert_true(stats(f).in_stopped);
	/* Our consumer index is ours too. */
	f->intf->in_cons = 777;
	f->intf->in_prod = cons;
	kick(f);
	assert_false(stats(f).in_stopped);
	f->intf->in[MASK_XENCONS_IDX(cons, f->intf->in)] = 'x';
	f->intf->in_prod = cons + 1;
	kick(f);
	assert_int_equal(f->intf->in_cons, cons + 1);
}

static void test_shell(void **state)
{
	struct fx *f = *state;
	pid_t pid;

	f->cfg.no_shell = false;
	f->cfg.shell = "/bin/sh -i";
	start(f);
	assert_true(wait_out(f, "pvguest: shell namespaces:"));
	input(f, "echo out-$((20+22))\r");
	assert_true(wait_out(f, "out-42\r\n"));
	/* The shell exits: another one comes. */
	input(f, "exit 3\r");
	assert_true(wait_out(f, "pvguest: the shell exited (status 3); starting a new one\r\n"));
	f->out_len = 0;
	f->out[0] = '\0';
	assert_true(wait_out(f, "pvguest: shell namespaces:"));
	/* A background job of the new shell goes with it at stop. */
	input(f, "sleep 1000 & echo job-$!\r");
	assert_true(wait_out(f, "job-"));
	pid = stats(f).shell_pid;
	assert_true(pid > 0);
	consfront_stop(f->c);
	f->c = NULL;
	/* Reaped by consfront_stop: the pid names nothing of ours now. */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* Input the shell does not read: once the pty takes no more, the in ring
 * is no longer consumed (it fills: the backend stops reading its pty) and
 * the guest holds at most a ring's worth. */
static void test_input_backpressure(void **state)
{
	struct fx *f = *state;
	char chunk[1001];
	XENCONS_RING_IDX last = 0;
	int still = 0, i;

	f->cfg.no_shell = false;
	/* Raw: the line discipline keeps what it is given (canonical mode
	 * would discard past a full line). */
	f->cfg.shell = "stty raw -echo; echo ready-$((1+1)); exec sleep 1000";
	start(f);
	assert_true(wait_out(f, "ready-2"));
	memset(chunk, 'z', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = '\0';
	/* At most 2 MB: far more than a pty buffers. */
	for (i = 0; i < 2000 && still < 50; i++) {
		if (f->intf->in_prod - f->intf->in_cons + (sizeof(chunk) - 1) <=
		    sizeof(f->intf->in))
			input(f, chunk);
		kick(f);
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		if (f->intf->in_cons == last)
			still++;
		else
			still = 0;
		last = f->intf->in_cons;
	}
	assert_int_equal(still, 50);
	/* The ring stays full, the guest waits for the pty to take more. */
	assert_true(f->intf->in_prod - f->intf->in_cons > sizeof(f->intf->in) - sizeof(chunk));
	assert_true(stats(f).pty_full);
	assert_true(stats(f).in_held > 0);
	assert_true(stats(f).in_held <= sizeof(f->intf->in));
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_boot_messages),
		T(test_full_ring_holds_messages_bounded),
		T(test_bad_out_indices),
		T(test_bad_in_indices_and_no_shell),
		T(test_shell),
		T(test_input_backpressure),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_console", LOG_LVL_ERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
