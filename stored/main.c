/* pvd-stored: a xenstore-compatible store daemon. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "core.h"
#include "domain.h"
#include "journal.h"
#include "local.h"
#include "metrics.h"
#include "pvd/daemon.h"
#include "pvd/hv.h"
#include "pvd/log.h"
#include "pvd/metrics.h"
#include "pvd/num.h"
#include "pvd/sdnotify.h"
#include "ring.h"
#include "sock.h"
#include "stored.h"

#define MAX_GUEST_SOCKETS 64
#define QUOTA_COUNT_MAX (1u << 30)
#define NQUOTA_OPTS 15
/* Descriptors the daemon keeps for itself (stdio, log, event loop,
 * journal and its compaction, the hypervisor layer, whose simulator also
 * holds one or two per ring): not given to connections. */
#define FDS_OWN 64

struct opts {
	struct daemon_opts d;	/* -f, --pidfile, --log-*, --hv, --version */
	const char *socket;
	const char *persist;
	bool no_dom0_ring;
	struct quota quota;
	struct { unsigned domid; const char *path; } guest[MAX_GUEST_SOCKETS];
	unsigned nguest;
};

struct daemon_ctx {
	struct stored sd;
	struct opts *o;
	struct sock_listener *listeners[MAX_GUEST_SOCKETS + 1];
	unsigned nlisteners;
	struct pvd_notify notify;
	struct pvd_metrics *metrics;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: pvd-stored [options]\n"
DAEMON_USAGE
"      --hv none             no rings: INTRODUCE only records the domain\n"
"      --socket PATH         dom0's socket (default $XENSTORED_PATH or\n"
"                            /var/run/xenstored/socket)\n"
"      --guest-socket D:PATH a socket whose clients act as domain D\n"
"      --persist FILE        journal every change to FILE (durable)\n"
"      --no-dom0-ring        on Xen, do not serve dom0's kernel on its\n"
"                            own ring (/proc/xen/xsd_kva, xsd_port)\n"
"      --pid-file FILE, --no-fork  xenstored's names for --pidfile, -f\n"
"      --quota-nodes N       nodes per domain (1000)\n"
"      --quota-value-size N  bytes per value (2048)\n"
"      --quota-watches N     watches per domain (128)\n"
"      --quota-transactions N open transactions per domain (10)\n"
"      --quota-outstanding N unanswered requests per connection (20)\n"
"      --quota-path-max N    bytes in a relative path (2048)\n"
"      --quota-trans-nodes N nodes touched per transaction (1024)\n"
"      --quota-perms N       entries per permission list (5)\n"
"      --max-connections N   open connections (4096; at most what\n"
"                            RLIMIT_NOFILE allows, less 64)\n"
"      --reserve-dom0 N      of those, kept for dom0's socket (32)\n"
"      --event-queue-max N   unread watch events per connection (1024)\n"
"      --quota-domain-connections N connections per domain (32)\n"
"      --quota-socket-connections N connections per guest socket (32)\n"
"      --quota-domain-events N unread watch events per domain (2048)\n"
"      --quota-domain-output N unsent bytes per domain, K/M suffix (2M);\n"
"                            watch events beyond either are dropped\n");
}

enum { O_SOCK = 256, O_GSOCK, O_PERSIST, O_NO_DOM0, O_QUOTA };

static const struct option longopts[] = {
	DAEMON_LONGOPTS,
	/* Xen's xenstored's names, as Debian's /etc/init.d/xen passes them. */
	{ "pid-file", required_argument, NULL, DAEMON_O_PIDFILE },
	{ "no-fork", no_argument, NULL, 'f' },
	{ "no-dom0-ring", no_argument, NULL, O_NO_DOM0 },
	{ "socket", required_argument, NULL, O_SOCK },
	{ "guest-socket", required_argument, NULL, O_GSOCK },
	{ "persist", required_argument, NULL, O_PERSIST },
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
	{ "quota-domain-connections", required_argument, NULL, O_QUOTA + 10 },
	{ "quota-domain-events", required_argument, NULL, O_QUOTA + 11 },
	{ "quota-domain-output", required_argument, NULL, O_QUOTA + 12 },
	{ "quota-socket-connections", required_argument, NULL, O_QUOTA + 13 },
	{ "reserve-dom0", required_argument, NULL, O_QUOTA + 14 },
	{ NULL, 0, NULL, 0 },
};

/* --guest-socket DOMID:PATH, DOMID a real guest's (1..DOMID_MAX_REAL). */
static void parse_guest_socket(struct opts *o, const char *arg)
{
	const char *colon = strchr(arg, ':');
	uint64_t d;

	if (o->nguest == MAX_GUEST_SOCKETS)
		fatal("too many --guest-socket options");
	if (!colon || !colon[1] ||
	    pvd_parse_uint_n(arg, (size_t)(colon - arg), 10, DOMID_MAX_REAL,
			     &d) < 0 || d == 0)
		fatal("--guest-socket: want DOMID:PATH, got %s", arg);
	o->guest[o->nguest].domid = (unsigned)d;
	o->guest[o->nguest++].path = colon + 1;
}

/* pvd-stored's own options; 0, or -1 for one it does not know. */
static int parse_own_opt(void *ctx, int ch, const char *name, const char *arg)
{
	struct opts *o = ctx;
	unsigned *qf[] = {
		&o->quota.nodes, &o->quota.value_size, &o->quota.watches,
		&o->quota.transactions, &o->quota.outstanding,
		&o->quota.path_max, &o->quota.trans_nodes, &o->quota.perms,
		&o->quota.max_conns, &o->quota.event_queue,
		&o->quota.domain_conns, &o->quota.domain_events,
		&o->quota.domain_output, &o->quota.socket_conns,
		&o->quota.dom0_reserve,
	};

	switch (ch) {
	case O_SOCK: o->socket = arg; return 0;
	case O_PERSIST: o->persist = arg; return 0;
	case O_NO_DOM0: o->no_dom0_ring = true; return 0;
	case O_GSOCK: parse_guest_socket(o, arg); return 0;
	default: break;
	}
	if (ch < O_QUOTA || ch >= O_QUOTA + NQUOTA_OPTS)
		return -1;
	if (qf[ch - O_QUOTA] == &o->quota.domain_output)
		/* At least one whole event (header and payload). */
		o->quota.domain_output = (unsigned)pvd_opt_size(name, arg,
				sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX,
				QUOTA_COUNT_MAX);
	else
		*qf[ch - O_QUOTA] = (unsigned)pvd_opt_range(name, arg, 1,
							    QUOTA_COUNT_MAX);
	return 0;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct quota defaults = QUOTA_DEFAULTS;
	const struct daemon_args a = {
		"pvd-stored", longopts, "sim|xen|none", usage, parse_own_opt, o,
	};

	daemon_opts_default(&o->d);
	o->quota = defaults;
	daemon_parse_args(argc, argv, &o->d, &a);
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

/* The store as the journal left it, the initial nodes, the rings. */
static void open_store(struct daemon_ctx *d, struct event_base *base)
{
	struct opts *o = d->o;
	int rc;

	if (stored_init(&d->sd, base, &o->quota) < 0)
		fatal("out of memory");
	if (o->persist) {
		if (journal_open(o->persist, &d->sd.journal) < 0 ||
		    journal_load(d->sd.journal, &d->sd.store, &d->sd.domains) < 0)
			fatal("cannot use --persist %s", o->persist);
		d->sd.store.journal = d->sd.journal;
	}
	if (core_setup_tree(&d->sd) < 0)
		fatal("cannot create the initial tree");
	/* auto (NULL) falls back to no rings; a named layer must open, and
	 * another xenstored on this host is never served beside. */
	rc = ring_start(&d->sd, o->d.hv ? o->d.hv : "auto");
	if (rc == -EEXIST || (rc < 0 && o->d.hv))
		fatal("cannot serve rings (hypervisor layer %s): %s",
		      o->d.hv ? o->d.hv : "auto", strerror(-rc));
	/* On Xen, dom0's kernel as Xen's xenstored serves it (dom0_init). */
	if (d->sd.hv && strcmp(hv_impl_name(d->sd.hv), "xen") == 0 &&
	    !o->no_dom0_ring && ring_attach_dom0(&d->sd, LOCAL_XENFS) < 0)
		fatal("cannot serve dom0's kernel on its ring (%s/xsd_kva, "
		      "xsd_port; --no-dom0-ring not to)", LOCAL_XENFS);
	ring_reattach_all(&d->sd);
	if (d->sd.journal && journal_sync(d->sd.journal) < 0)
		fatal("cannot write %s", o->persist);
}

/* Descriptors: the soft limit raised to the hard one (systemd's default
 * soft limit is 1024), and the connections they allow once the daemon's
 * own are set aside, so that accept() never runs out (dom0's reserve
 * included) while a flood of guest connections is refused. */
static void limit_fds(struct daemon_ctx *d)
{
	struct quota *q = &d->sd.quota;
	struct rlimit rl;
	uint64_t own = FDS_OWN + 1 + d->o->nguest, avail;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fatal("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > UINT32_MAX)
		return;
	if (rl.rlim_cur < own + 2)
		fatal("RLIMIT_NOFILE is %llu: at least %llu descriptors needed",
		      (unsigned long long)rl.rlim_cur,
		      (unsigned long long)own + 2);
	avail = rl.rlim_cur - own;
	d->sd.fd_conns = (unsigned)avail;
	if (q->dom0_reserve > avail / 2) {
		log_warn("--reserve-dom0 %u: only %u with %llu descriptors",
			 q->dom0_reserve, (unsigned)(avail / 2),
			 (unsigned long long)rl.rlim_cur);
		q->dom0_reserve = (unsigned)(avail / 2);
	}
	log_info("%llu descriptors: at most %u connections, %u of them "
		 "for dom0 only", (unsigned long long)rl.rlim_cur,
		 q->max_conns < avail ? q->max_conns : (unsigned)avail,
		 q->dom0_reserve);
}

/* STATUS=: what systemctl status shows. */
static void status_line(void *arg, char *buf, size_t len)
{
	struct daemon_ctx *d = arg;

	snprintf(buf, len, "serving %u connection(s), %u domain(s), %u ring(s), "
		 "%u watch(es); %llu connection(s) refused", d->sd.nconns,
		 d->sd.domains.count, d->sd.nrings, d->sd.nwatches,
		 (unsigned long long)d->sd.rejected_conns);
}

static void listen_one(struct daemon_ctx *d, const char *path,
		       unsigned domid, bool privileged)
{
	int rc = sock_listen(&d->sd, path, domid, privileged,
			     &d->listeners[d->nlisteners]);

	if (rc < 0)
		fatal("cannot listen on %s: %s", path, strerror(-rc));
	d->nlisteners++;
}

static void serve(struct daemon_ctx *d, struct event *retry)
{
	while (!d->sd.stopping) {
		/* Pending output means another turn right away. */
		event_base_loop(d->sd.base,
				d->sd.dirty ? EVLOOP_NONBLOCK : EVLOOP_ONCE);
		if (stored_flush(&d->sd) < 0) {
			struct timeval tv = { 0, 200 * 1000 };

			evtimer_add(retry, &tv);
			event_base_loop(d->sd.base, EVLOOP_ONCE);
		}
	}
}

static void close_store(struct daemon_ctx *d)
{
	if (d->sd.journal)
		journal_sync(d->sd.journal);
	stored_destroy(&d->sd);
	/* After their connections: closing one updates its listener. */
	for (unsigned i = 0; i < d->nlisteners; i++)
		sock_listener_free(d->listeners[i]);
	ring_stop(&d->sd);
	journal_close(d->sd.journal);
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct daemon_ctx d = { .o = &o };
	struct daemon_signals sigs;
	struct event_base *base;
	struct event *retry;

	parse_opts(argc, argv, &o);
	log_init("pvd-stored", o.d.level, o.d.log_file);
	/* Detached first, as Xen's xenstored forks first: grant mappings
	 * (gntdev's are VM_DONTCOPY on a PV dom0) and the event loop do not
	 * survive a fork, so the rings are opened by the process that serves
	 * them.  The pid file is still written only once serving. */
	daemon_start(o.d.foreground, NULL);
	base = event_base_new();
	if (!base)
		fatal("cannot create the event loop");
	open_store(&d, base);
	limit_fds(&d);
	listen_one(&d, o.socket, 0, true);
	for (unsigned i = 0; i < o.nguest; i++)
		listen_one(&d, o.guest[i].path, o.guest[i].domid, false);
	if (stored_metrics_start(&d.metrics, base, o.d.metrics, &d.sd) < 0)
		fatal("cannot serve metrics on %s", o.d.metrics);
	if (daemon_signals_start(&sigs, base, on_term, on_hup, &d) < 0)
		fatal("cannot install signal handlers");
	retry = evtimer_new(base, on_retry, NULL);
	if (!retry)
		fatal("out of memory");
	daemon_start(1, o.d.pidfile);
	log_info("listening on %s%s%s", o.socket, o.persist ? ", journal " : "",
		 o.persist ? o.persist : "");
	/* Listening, the journal loaded and the rings re-attached. */
	if (pvd_notify_start(&d.notify, base, status_line, &d) < 0)
		fatal("cannot start the systemd notifier");
	pvd_notify_ready();
	serve(&d, retry);
	pvd_notify_stopping();
	pvd_notify_stop(&d.notify);
	pvd_metrics_stop(d.metrics);
	close_store(&d);
	event_free(retry);
	daemon_signals_stop(&sigs);
	event_base_free(base);
	daemon_remove_pidfile(o.d.pidfile);
	log_info("stopped");
	return 0;
}
