/* pvd-stored: a xenstore-compatible store daemon. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "core.h"
#include "journal.h"
#include "pvd/daemon.h"
#include "pvd/log.h"
#include "ring.h"
#include "sock.h"
#include "stored.h"

#define MAX_GUEST_SOCKETS 64

struct opts {
	int foreground;
	const char *pidfile;
	const char *socket;
	const char *persist;
	const char *log_file;
	const char *hv;
	enum log_level level;
	struct quota quota;
	struct { unsigned domid; const char *path; } guest[MAX_GUEST_SOCKETS];
	unsigned nguest;
};

struct daemon_ctx {
	struct stored sd;
	struct opts *o;
	struct sock_listener *listeners[MAX_GUEST_SOCKETS + 1];
	unsigned nlisteners;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: pvd-stored [options]\n"
"  -f, --foreground          stay in the foreground\n"
"      --pidfile FILE        write the pid here once listening\n"
"      --socket PATH         dom0's socket (default $XENSTORED_PATH or\n"
"                            /var/run/xenstored/socket)\n"
"      --guest-socket D:PATH a socket whose clients act as domain D\n"
"      --persist FILE        journal every change to FILE (durable)\n"
"      --hv auto|sim|xen|none  hypervisor layer for domains' rings (auto:\n"
"                            $PVD_HV, xen on a Xen dom0, else sim); none:\n"
"                            INTRODUCE only records the domain\n"
"      --log-level LEVEL     error, warning, info (default) or debug\n"
"      --log-file FILE       log here instead of stderr (reopened on HUP)\n"
"      --quota-nodes N       nodes per domain (1000)\n"
"      --quota-value-size N  bytes per value (2048)\n"
"      --quota-watches N     watches per domain (128)\n"
"      --quota-transactions N open transactions per domain (10)\n"
"      --quota-outstanding N unanswered requests per connection (20)\n"
"      --quota-path-max N    bytes in a relative path (2048)\n"
"      --quota-trans-nodes N nodes touched per transaction (1024)\n"
"      --quota-perms N       entries per permission list (5)\n"
"      --max-connections N   open connections (4096)\n"
"      --event-queue-max N   unread watch events per connection (1024)\n"
"  -h, --help\n");
}

enum { O_PID = 256, O_SOCK, O_GSOCK, O_PERSIST, O_LEVEL, O_LOGF, O_HV, O_QUOTA };

static const struct option longopts[] = {
	{ "foreground", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "pidfile", required_argument, NULL, O_PID },
	{ "socket", required_argument, NULL, O_SOCK },
	{ "guest-socket", required_argument, NULL, O_GSOCK },
	{ "persist", required_argument, NULL, O_PERSIST },
	{ "log-level", required_argument, NULL, O_LEVEL },
	{ "log-file", required_argument, NULL, O_LOGF },
	{ "hv", required_argument, NULL, O_HV },
	{ "quota-nodes", required_argument, NULL, O_QUOTA + 0 },
	{ "quota-value-size", required_argument, NULL, O_QUOTA + 1 },
	{ "quota-watches", required_argument, NULL, O_QUOTA + 2 },
	{ "quota-transactions", required_argument, NULL, O_QUOTA + 3 },
	{ "quota-outstanding", required_argument, NULL, O_QUOTA + 4 },
	{ "quota-path-max", required_argument, NULL, O_QUOTA + 5 },
	{ "quota-trans-nodes", required_argument, NULL, O_QUOTA + 6 },
	{ "quota-perms", required_argument, NULL, O_QUOTA + 7 },
	{ "max-connections", required_argument, NULL, O_QUOTA + 8 },
	{ "event-queue-max", required_argument, NULL, O_QUOTA + 9 },
	{ NULL, 0, NULL, 0 },
};

static unsigned parse_count(const char *opt, const char *s)
{
	char *e;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &e, 10);
	if (errno || *e || !*s || v == 0 || v > 1u << 30)
		fatal("--%s: not a positive number: %s", opt, s);
	return (unsigned)v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct quota defaults = QUOTA_DEFAULTS;
	unsigned *qf[] = {
		&o->quota.nodes, &o->quota.value_size, &o->quota.watches,
		&o->quota.transactions, &o->quota.outstanding,
		&o->quota.path_max, &o->quota.trans_nodes, &o->quota.perms,
		&o->quota.max_conns, &o->quota.event_queue,
	};
	int ch, idx;

	o->quota = defaults;
	o->level = LOG_LVL_INFO;
	while ((ch = getopt_long(argc, argv, "fh", longopts, &idx)) != -1) {
		switch (ch) {
		case 'f': o->foreground = 1; break;
		case 'h': usage(stdout); exit(0);
		case O_PID: o->pidfile = optarg; break;
		case O_SOCK: o->socket = optarg; break;
		case O_PERSIST: o->persist = optarg; break;
		case O_LOGF: o->log_file = optarg; break;
		case O_HV:
			if (strcmp(optarg, "auto") && strcmp(optarg, "sim") &&
			    strcmp(optarg, "xen") && strcmp(optarg, "none"))
				fatal("--hv: want auto, sim, xen or none, got %s", optarg);
			o->hv = optarg;
			break;
		case O_LEVEL:
			if (log_parse_level(optarg, &o->level) < 0)
				fatal("--log-level: unknown level %s", optarg);
			break;
		case O_GSOCK: {
			char *colon = strchr(optarg, ':');
			char *e;
			unsigned long d;

			if (o->nguest == MAX_GUEST_SOCKETS)
				fatal("too many --guest-socket options");
			d = colon ? strtoul(optarg, &e, 10) : 0;
			if (!colon || e != colon || d == 0 || d > 0x7fef ||
			    !colon[1])
				fatal("--guest-socket: want DOMID:PATH, got %s", optarg);
			o->guest[o->nguest].domid = (unsigned)d;
			o->guest[o->nguest++].path = colon + 1;
			break;
		}
		default:
			if (ch >= O_QUOTA && ch < O_QUOTA + 10) {
				*qf[ch - O_QUOTA] =
					parse_count(longopts[idx].name, optarg);
				break;
			}
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pvd-stored: unexpected argument: %s\n", argv[optind]);
		exit(2);
	}
	if (o->quota.path_max > XENSTORE_REL_PATH_MAX)
		fatal("--quota-path-max: at most %d", XENSTORE_REL_PATH_MAX);
	if (!o->socket) {
		const char *env = getenv("XENSTORED_PATH");

		o->socket = env && *env ? env : "/var/run/xenstored/socket";
	}
}

static void on_term(void *arg)
{
	struct daemon_ctx *d = arg;

	log_info("terminating");
	d->sd.stopping = true;
	event_base_loopbreak(d->sd.base);
}

static void on_hup(void *arg)
{
	if (log_reopen() < 0)
		log_err("cannot reopen the log file");
	else
		log_info("log reopened");
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	/* Only wakes the loop so that the flush is tried again. */
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct daemon_ctx d = { .o = &o };
	struct daemon_signals sigs;
	struct event_base *base;
	struct event *retry;
	int rc;

	parse_opts(argc, argv, &o);
	log_init("pvd-stored", o.level, o.log_file);
	base = event_base_new();
	if (!base)
		fatal("cannot create the event loop");
	if (stored_init(&d.sd, base, &o.quota) < 0)
		fatal("out of memory");
	if (o.persist) {
		if (journal_open(o.persist, &d.sd.journal) < 0 ||
		    journal_load(d.sd.journal, &d.sd.store, &d.sd.domains) < 0)
			fatal("cannot use --persist %s", o.persist);
		d.sd.store.journal = d.sd.journal;
	}
	if (core_setup_tree(&d.sd) < 0)
		fatal("cannot create the initial tree");
	if (ring_start(&d.sd, o.hv ? o.hv : "auto") < 0 && o.hv &&
	    strcmp(o.hv, "auto") != 0)
		fatal("cannot open the hypervisor layer %s", o.hv);
	ring_reattach_all(&d.sd);
	if (d.sd.journal && journal_sync(d.sd.journal) < 0)
		fatal("cannot write %s", o.persist);

	rc = sock_listen(&d.sd, o.socket, 0, true, &d.listeners[d.nlisteners]);
	if (rc < 0)
		fatal("cannot listen on %s: %s", o.socket, strerror(-rc));
	d.nlisteners++;
	for (unsigned i = 0; i < o.nguest; i++) {
		rc = sock_listen(&d.sd, o.guest[i].path, o.guest[i].domid, false,
				 &d.listeners[d.nlisteners]);
		if (rc < 0)
			fatal("cannot listen on %s: %s", o.guest[i].path,
			      strerror(-rc));
		d.nlisteners++;
	}
	if (daemon_signals_start(&sigs, base, on_term, on_hup, &d) < 0)
		fatal("cannot install signal handlers");
	retry = evtimer_new(base, on_retry, NULL);
	if (!retry)
		fatal("out of memory");
	daemon_start(o.foreground, o.pidfile);
	log_info("listening on %s%s%s", o.socket, o.persist ? ", journal " : "",
		 o.persist ? o.persist : "");

	while (!d.sd.stopping) {
		/* Pending output means another turn right away. */
		event_base_loop(base, d.sd.dirty ? EVLOOP_NONBLOCK : EVLOOP_ONCE);
		if (stored_flush(&d.sd) < 0) {
			struct timeval tv = { 0, 200 * 1000 };

			evtimer_add(retry, &tv);
			event_base_loop(base, EVLOOP_ONCE);
		}
	}

	for (unsigned i = 0; i < d.nlisteners; i++)
		sock_listener_free(d.listeners[i]);
	if (d.sd.journal)
		journal_sync(d.sd.journal);
	stored_destroy(&d.sd);
	ring_stop(&d.sd);
	journal_close(d.sd.journal);
	event_free(retry);
	daemon_signals_stop(&sigs);
	event_base_free(base);
	daemon_remove_pidfile(o.pidfile);
	log_info("stopped");
	return 0;
}
