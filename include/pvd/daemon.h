/* Daemon plumbing shared by every pvd daemon: run directory, pidfile,
 * detaching, and SIGTERM/SIGHUP handling in the libevent loop. */
#ifndef PVD_DAEMON_H
#define PVD_DAEMON_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "pvd/log.h"

struct event_base;
struct event;

#define PVD_RUNDIR_DEFAULT "/run/pvd"

/* $PVD_RUNDIR or /run/pvd. */
const char *pvd_rundir(void);
/* Formats "<rundir>/<name>" into buf; -ENAMETOOLONG if it does not fit. */
int pvd_rundir_path(char *buf, size_t len, const char *name);
/* mkdir -p with mode for the components it creates. */
int pvd_mkdir_p(const char *path, unsigned mode);

struct daemon_sig_cb {
	void (*fn)(void *);
	void *arg;
};

struct daemon_signals {
	struct event *term, *intr, *hup;
	struct daemon_sig_cb on_term, on_hup;
};

/* The options every daemon takes, parsed in one place.  A daemon puts
 * DAEMON_LONGOPTS first in its getopt_long table, DAEMON_SHORTOPTS in its
 * short options and DAEMON_USAGE at the top of its usage text, and hands
 * each option to daemon_opt before its own switch. */
struct daemon_opts {
	int foreground;
	const char *pidfile;
	const char *log_file;
	enum log_level level;
	const char *hv;		/* --hv as given; NULL when absent or "auto" */
	const char *metrics;	/* --metrics ADDR (metrics.h); NULL: off */
};

enum {
	DAEMON_O_PIDFILE = 0x1000, DAEMON_O_LOG_LEVEL, DAEMON_O_LOG_FILE,
	DAEMON_O_HV, DAEMON_O_VERSION, DAEMON_O_METRICS,
};

#define DAEMON_SHORTOPTS "fh"
#define DAEMON_LONGOPTS							\
	{ "foreground", no_argument, NULL, 'f' },			\
	{ "help", no_argument, NULL, 'h' },				\
	{ "version", no_argument, NULL, DAEMON_O_VERSION },		\
	{ "pidfile", required_argument, NULL, DAEMON_O_PIDFILE },	\
	{ "log-level", required_argument, NULL, DAEMON_O_LOG_LEVEL },	\
	{ "log-file", required_argument, NULL, DAEMON_O_LOG_FILE },	\
	{ "hv", required_argument, NULL, DAEMON_O_HV },			\
	{ "metrics", required_argument, NULL, DAEMON_O_METRICS }
#define DAEMON_USAGE							\
"  -f, --foreground          stay in the foreground\n"		\
"      --pidfile FILE        write the pid here once serving\n"	\
"      --log-level LEVEL     error, warning, info (default) or debug\n" \
"      --log-file FILE       log here instead of stderr (reopened on HUP)\n" \
"      --hv auto|sim|xen     hypervisor layer (auto: $PVD_HV, xen on a\n" \
"                            Xen dom0, else sim)\n"			\
"      --metrics ADDR        serve Prometheus metrics at PORT, HOST:PORT\n" \
"                            or unix:PATH (default: off)\n"	\
"      --version             print the version and exit\n"		\
"  -h, --help                this text\n"

/* Defaults: background, no pidfile, info level, stderr, hv auto. */
void daemon_opts_default(struct daemon_opts *d);
/* 1 when ch was a common option (taken into d; --version prints and
 * exits), 0 when it is the daemon's own; 'h' is the daemon's own (its
 * usage).  hv_choices: the --hv values this daemon takes besides "auto",
 * e.g. "sim|xen"; a bad value is fatal. */
int daemon_opt(struct daemon_opts *d, const char *prog, int ch,
	       const char *arg, const char *hv_choices);

/* One command line, read the same way by every daemon: the common options
 * into d, each other option to own() (0: taken; -1: not an option of this
 * daemon), -h to usage(stdout) and exit 0, anything unknown or a stray
 * argument to usage(stderr) and exit 2.  own() gets the option's long name
 * for its messages. */
struct daemon_args {
	const char *prog;
	const struct option *longopts;
	const char *hv_choices;	/* see daemon_opt */
	void (*usage)(FILE *f);
	int (*own)(void *ctx, int ch, const char *name, const char *arg);
	void *ctx;
};
void daemon_parse_args(int argc, char **argv, struct daemon_opts *d,
		       const struct daemon_args *a);

/* "PROG (pvd) VERSION" on stdout: every program answers --version. */
void pvd_print_version(const char *prog);
const char *pvd_version(void);

/* Detaches unless foreground; then writes the pidfile (if any), through
 * "<pidfile>.tmp" made with O_EXCL|O_NOFOLLOW (a link planted there is
 * removed, never followed) and renamed.  Start-up only: failures are
 * fatal. */
void daemon_start(int foreground, const char *pidfile);
void daemon_remove_pidfile(const char *pidfile);

/* A listening unix stream socket at path, made safely: an old socket
 * there is removed only if it is a socket (lstat; a symlink or any other
 * file is left alone and refused with -EEXIST, logged), and the file is
 * created with exactly mode by bind itself, never chmod-ed by path.
 * Changes the umask for the bind: start-up only, before threads make
 * files.  The fd (listening, non-blocking, close-on-exec) or -errno. */
int pvd_unix_listen(const char *path, unsigned mode, int backlog);

/* on_term runs for SIGTERM and SIGINT, on_hup for SIGHUP; SIGPIPE is
 * ignored.  Undo with daemon_signals_stop (idempotent). */
int daemon_signals_start(struct daemon_signals *ds, struct event_base *base,
			 void (*on_term)(void *), void (*on_hup)(void *),
			 void *arg);
void daemon_signals_stop(struct daemon_signals *ds);

#endif
