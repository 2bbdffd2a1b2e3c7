/* pvd-consoled: guests' console rings on ptys, logged (the job of Xen's
 * xenconsoled).  Options, start-up and the event loop. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "consoled.h"
#include "ctl.h"
#include "pvd/ctl.h"
#include "pvd/daemon.h"
#include "pvd/log.h"
#include "pvd/metrics.h"
#include "pvd/num.h"
#include "pvd/sdnotify.h"
#include "metrics.h"
#include "tracker.h"

struct opts {
	struct daemon_opts d;
	struct consoled_opts c;
	const char *ctl;	/* --ctl-socket; NULL: $PVD_RUNDIR/pvd-consoled.sock */
	char ctl_path[256];
};

struct main_ctx {
	struct consoled cd;
	struct opts *o;
	struct tracker *tr;
	struct pvd_notify notify;
	struct pvd_metrics *metrics;
	struct pvd_ctl ctl;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: pvd-consoled [options]\n"
DAEMON_USAGE
"      --log-dir DIR         log each guest's console to DIR/guest-<name>.log\n"
"      --timestamps          prefix every logged line with the time\n"
"      --log-max-bytes N     rotate a guest's log to .1 past N bytes\n"
"                            (default 10M; 0: no limit)\n"
"      --rate-limit N        bytes/s one console may write (default 1M; 0: no limit)\n"
"      --rate-burst N        bytes a console may write at once (default 256K)\n"
"      --buffer-size N       output kept per console while its pty is not\n"
"                            read (default 64K; oldest dropped beyond)\n"
"      --ctl-socket PATH     control socket (default $PVD_RUNDIR/pvd-consoled.sock;\n"
"                            root and our uid only, 1 MiB of unread answers\n"
"                            per client, closed after 5 s without progress)\n"
"Sizes take a K, M, G or T suffix (powers of 1024).  The store is found\n"
"through $XENSTORED_PATH as libxenstore does.\n");
}

enum { O_LOGDIR = 256, O_TS, O_LOGMAX, O_RATE, O_BURST, O_BUF, O_CTL };

static const struct option longopts[] = {
	DAEMON_LONGOPTS,
	{ "log-dir", required_argument, NULL, O_LOGDIR },
	{ "timestamps", no_argument, NULL, O_TS },
	{ "log-max-bytes", required_argument, NULL, O_LOGMAX },
	{ "rate-limit", required_argument, NULL, O_RATE },
	{ "rate-burst", required_argument, NULL, O_BURST },
	{ "buffer-size", required_argument, NULL, O_BUF },
	{ "ctl-socket", required_argument, NULL, O_CTL },
	{ NULL, 0, NULL, 0 },
};

/* pvd-consoled's own options; 0, or -1 for one it does not know. */
static int own_opt(void *ctx, int ch, const char *name, const char *arg)
{
	struct opts *o = ctx;
	struct consoled_opts *c = &o->c;

	switch (ch) {
	case O_LOGDIR: c->log_dir = optarg; break;
	case O_TS: c->timestamps = true; break;
	case O_LOGMAX:
		c->log_max_bytes = pvd_opt_size("log-max-bytes", optarg, 0,
						1ull << 40);
		break;
	case O_RATE: c->rate = pvd_opt_size("rate-limit", optarg, 0, 1ull << 40); break;
	case O_BURST: c->burst = pvd_opt_size("rate-burst", optarg, 1, 1ull << 40); break;
	case O_CTL: o->ctl = optarg; break;
	case O_BUF:
		c->buffer_size = (size_t)pvd_opt_size("buffer-size", optarg, 1,
						      CONSOLED_BUFFER_MAX);
		break;
	default: return -1;
	}
	return 0;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	const struct daemon_args a = {
		"pvd-consoled", longopts, "sim|xen", usage, own_opt, o,
	};

	daemon_opts_default(&o->d);
	consoled_opts_default(&o->c);
	daemon_parse_args(argc, argv, &o->d, &a);
	o->c.hv_impl = o->d.hv;
	if (o->c.log_dir) {
		struct stat st;

		if (stat(o->c.log_dir, &st) < 0 || !S_ISDIR(st.st_mode))
			fatal("--log-dir %s: not a directory", o->c.log_dir);
	}
}

static void on_term(void *arg)
{
	struct main_ctx *m = arg;

	log_info("terminating");
	m->cd.stopping = true;
	event_base_loopbreak(m->cd.base);
}

static void on_hup(void *arg)
{
	struct main_ctx *m = arg;

	if (log_reopen() < 0)
		log_err("cannot reopen the log file");
	tracker_reopen_logs(m->cd.tr);
	log_info("logs reopened");
}

/* STATUS=: what systemctl status shows. */
static void status_line(void *arg, char *buf, size_t len)
{
	struct main_ctx *m = arg;

	snprintf(buf, len, "%sserving %u console(s)",
		 tracker_store_up(m->tr) ? "" : "waiting for the store; ",
		 tracker_nconsoles(m->tr));
}

/* The control socket ($PVD_RUNDIR/pvd-consoled.sock unless --ctl-socket). */
static void start_ctl(struct main_ctx *m, struct event_base *base,
		      struct tracker *tr)
{
	struct opts *o = m->o;

	if (!o->ctl) {
		if (pvd_mkdir_p(pvd_rundir(), 0755) < 0)
			fatal("cannot create %s", pvd_rundir());
		if (pvd_rundir_path(o->ctl_path, sizeof(o->ctl_path),
				    "pvd-consoled.sock") < 0)
			fatal("PVD_RUNDIR too long");
		o->ctl = o->ctl_path;
	}
	if (pvd_ctl_start(&m->ctl, base, o->ctl, consoled_ctl_stats, tr) < 0)
		fatal("cannot open the control socket %s", o->ctl);
}

/* Every console holds a few descriptors (pty master and slave, event
 * channel, log): take what the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the descriptor limit: %s",
				 strerror(errno));
	}
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct main_ctx m = { .o = &o };
	struct daemon_signals sigs;
	struct event_base *base;
	struct tracker *tr;
	int rc;

	parse_opts(argc, argv, &o);
	log_init("pvd-consoled", o.d.level, o.d.log_file);
	raise_nofile();
	/* Detach first: libxenstore's reader thread and the hypervisor
	 * layer's endpoints belong to the process that made them. */
	if (!o.d.foreground && daemon(0, 1) < 0)
		fatal("daemon: %s", strerror(errno));
	base = event_base_new();
	if (!base)
		fatal("cannot create the event loop");
	rc = consoled_start(&m.cd, base, &o.c);
	if (rc < 0)
		fatal("cannot open the hypervisor layer: %s", strerror(-rc));
	if (daemon_signals_start(&sigs, base, on_term, on_hup, &m) < 0)
		fatal("cannot install signal handlers");
	/* Waits for the store if it is not there yet (xsconn.h). */
	rc = tracker_start(&m.cd, &tr);
	if (rc < 0)
		fatal("cannot follow the store: %s", strerror(-rc));
	if (consoled_metrics_start(&m.metrics, base, o.d.metrics, tr) < 0)
		fatal("cannot serve metrics on %s", o.d.metrics);
	start_ctl(&m, base, tr);
	daemon_start(1, o.d.pidfile);
	log_info("serving %u console(s)%s%s", tracker_nconsoles(tr),
		 o.c.log_dir ? ", logs in " : "", o.c.log_dir ? o.c.log_dir : "");
	/* Following the store (watches set), every domain's console set up. */
	m.tr = tr;
	if (pvd_notify_start(&m.notify, base, status_line, &m) < 0)
		fatal("cannot start the systemd notifier");
	/* READY=1 comes once the store answers (tracker: on_store_up). */

	while (!m.cd.stopping)
		event_base_loop(base, EVLOOP_ONCE);

	pvd_notify_stopping();
	pvd_notify_stop(&m.notify);

	pvd_metrics_stop(m.metrics);
	pvd_ctl_stop(&m.ctl);
	tracker_stop(tr);
	consoled_stop(&m.cd);
	daemon_signals_stop(&sigs);
	event_base_free(base);
	daemon_remove_pidfile(o.d.pidfile);
	log_info("stopped");
	return m.cd.exit_code;
}
