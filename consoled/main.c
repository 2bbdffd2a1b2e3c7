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
#include "pvd/daemon.h"
#include "pvd/log.h"
#include "tracker.h"

struct opts {
	int foreground;
	const char *pidfile;
	const char *log_file;
	enum log_level level;
	struct consoled_opts c;
};

struct main_ctx {
	struct consoled cd;
	struct opts *o;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: pvd-consoled [options]\n"
"  -f, --foreground          stay in the foreground\n"
"      --pidfile FILE        write the pid here once serving\n"
"      --log-level LEVEL     error, warning, info (default) or debug\n"
"      --log-file FILE       the daemon's log instead of stderr (reopened on HUP)\n"
"      --log-dir DIR         log each guest's console to DIR/guest-<name>.log\n"
"      --timestamps          prefix every logged line with the time\n"
"      --log-max-bytes N     rotate a guest's log to .1 past N bytes\n"
"                            (default 10M; 0: no limit)\n"
"      --rate-limit N        bytes/s one console may write (default 1M; 0: no limit)\n"
"      --rate-burst N        bytes a console may write at once (default 256K)\n"
"      --buffer-size N       output kept per console while its pty is not\n"
"                            read (default 64K; oldest dropped beyond)\n"
"      --hv auto|sim|xen     hypervisor layer (auto: $PVD_HV, xen on a Xen\n"
"                            dom0, else sim)\n"
"  -h, --help\n"
"Sizes take a K, M or G suffix (powers of 1024).  The store is found\n"
"through $XENSTORED_PATH as libxenstore does.\n");
}

enum { O_PID = 256, O_LEVEL, O_LOGF, O_LOGDIR, O_TS, O_LOGMAX, O_RATE, O_BURST,
       O_BUF, O_HV };

static const struct option longopts[] = {
	{ "foreground", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "pidfile", required_argument, NULL, O_PID },
	{ "log-level", required_argument, NULL, O_LEVEL },
	{ "log-file", required_argument, NULL, O_LOGF },
	{ "log-dir", required_argument, NULL, O_LOGDIR },
	{ "timestamps", no_argument, NULL, O_TS },
	{ "log-max-bytes", required_argument, NULL, O_LOGMAX },
	{ "rate-limit", required_argument, NULL, O_RATE },
	{ "rate-burst", required_argument, NULL, O_BURST },
	{ "buffer-size", required_argument, NULL, O_BUF },
	{ "hv", required_argument, NULL, O_HV },
	{ NULL, 0, NULL, 0 },
};

/* A size: digits and an optional K/M/G suffix; at most max. */
static uint64_t parse_size(const char *opt, const char *s, uint64_t min,
			   uint64_t max)
{
	unsigned long long v;
	char *e;
	unsigned shift = 0;

	errno = 0;
	if (!*s || *s < '0' || *s > '9')
		fatal("--%s: not a size: %s", opt, s);
	v = strtoull(s, &e, 10);
	if (*e == 'k' || *e == 'K')
		shift = 10;
	else if (*e == 'm' || *e == 'M')
		shift = 20;
	else if (*e == 'g' || *e == 'G')
		shift = 30;
	if (shift)
		e++;
	if (errno || *e || v > (max >> shift) || (v << shift) < min)
		fatal("--%s: want a size from %llu to %llu, got %s", opt,
		      (unsigned long long)min, (unsigned long long)max, s);
	return (uint64_t)v << shift;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	int ch;

	consoled_opts_default(&o->c);
	o->level = LOG_LVL_INFO;
	while ((ch = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': o->foreground = 1; break;
		case 'h': usage(stdout); exit(0);
		case O_PID: o->pidfile = optarg; break;
		case O_LOGF: o->log_file = optarg; break;
		case O_LOGDIR: o->c.log_dir = optarg; break;
		case O_TS: o->c.timestamps = true; break;
		case O_LEVEL:
			if (log_parse_level(optarg, &o->level) < 0)
				fatal("--log-level: unknown level %s", optarg);
			break;
		case O_LOGMAX:
			o->c.log_max_bytes = parse_size("log-max-bytes", optarg, 0,
							1ull << 40);
			break;
		case O_RATE:
			o->c.rate = parse_size("rate-limit", optarg, 0, 1ull << 40);
			break;
		case O_BURST:
			o->c.burst = parse_size("rate-burst", optarg, 1, 1ull << 40);
			break;
		case O_BUF:
			o->c.buffer_size = (size_t)parse_size("buffer-size", optarg, 1,
							      CONSOLED_BUFFER_MAX);
			break;
		case O_HV:
			if (strcmp(optarg, "auto") && strcmp(optarg, "sim") &&
			    strcmp(optarg, "xen"))
				fatal("--hv: want auto, sim or xen, got %s", optarg);
			o->c.hv_impl = optarg;
			break;
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pvd-consoled: unexpected argument: %s\n", argv[optind]);
		exit(2);
	}
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
	log_init("pvd-consoled", o.level, o.log_file);
	raise_nofile();
	/* Detach first: libxenstore's reader thread and the hypervisor
	 * layer's endpoints belong to the process that made them. */
	if (!o.foreground && daemon(0, 1) < 0)
		fatal("daemon: %s", strerror(errno));
	base = event_base_new();
	if (!base)
		fatal("cannot create the event loop");
	rc = consoled_start(&m.cd, base, &o.c);
	if (rc < 0)
		fatal("cannot open the hypervisor layer: %s", strerror(-rc));
	if (daemon_signals_start(&sigs, base, on_term, on_hup, &m) < 0)
		fatal("cannot install signal handlers");
	rc = tracker_start(&m.cd, &tr);
	if (rc < 0)
		fatal("cannot follow the store: %s", strerror(-rc));
	daemon_start(1, o.pidfile);
	log_info("serving %u console(s)%s%s", tracker_nconsoles(tr),
		 o.c.log_dir ? ", logs in " : "", o.c.log_dir ? o.c.log_dir : "");

	while (!m.cd.stopping)
		event_base_loop(base, EVLOOP_ONCE);

	tracker_stop(tr);
	consoled_stop(&m.cd);
	daemon_signals_stop(&sigs);
	event_base_free(base);
	daemon_remove_pidfile(o.pidfile);
	log_info("stopped");
	return m.cd.exit_code;
}
