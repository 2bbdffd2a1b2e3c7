/* pvguest: one simulated guest domain (domU).  See docs/pvguest.md.
 *
 *   pvguest --domid N --name NAME [--memory MiB] [--ready-fd FD]
 *           [--user USER] [-f] [--log-level LEVEL] [--blk-* ...]
 *           [--loadgen SPEC]
 *
 * Start-up, in this order, so that every failure is one line on stderr and
 * a non-zero exit status (also when detaching: the parent waits for the
 * child's word):
 *   detach (unless -f) -> create the domain, its ports, its directory and
 *   xenbus.sock -> log to <dir>/log when detached -> hand the directory to
 *   --user and drop root -> the ready line on --ready-fd (or stdout), then
 *   close it -> serve until SIGTERM.
 * The domain is created by the process that serves it: the sim hypervisor
 * publishes its memory as /proc/<pid>/fd links, and its lock dies with
 * that process, which is how the store notices a guest killed by SIGKILL. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "blkfront.h"
#include "consfront.h"
#include "guest.h"
#include "loadgen.h"
#include "pvd/daemon.h"
#include "pvd/log.h"

struct opts {
	unsigned long domid;
	const char *name;
	unsigned long memory_mib;
	int ready_fd;
	const char *user;
	int foreground;
	enum log_level level;
	struct blkfront_opts blk;
	const char *loadgen;
	struct loadgen_spec lg;
	struct consfront_config con;
};

struct ctx {
	struct opts o;
	char rundir[PATH_MAX];
	struct passwd pw;		/* --user, resolved */
	char pwbuf[4096];
	char log_path[PATH_MAX + 8];	/* detached: <dir>/log */
	int log_fd;			/* open on it until the switch */
	bool have_user;
	int status_fd;			/* to the waiting parent, or -1 */
	struct event_base *base;
	struct guest *g;
	struct blkfront_config blk;
	struct loadgen *lg;
	struct consfront *con;
	int exit_status;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: pvguest --domid N --name NAME [options]\n"
"  A simulated guest domain: memory, grant table and event channels in\n"
"  $PVD_RUNDIR/hv, a xenstore ring served by the store once the toolstack\n"
"  introduces it, and $PVD_RUNDIR/guests/dom<N>/xenbus.sock for xenstore\n"
"  clients running \"inside\" the guest.\n"
"      --domid N          domain id, 1..%u\n"
"      --name NAME        domain name (for the log)\n"
"      --memory MiB       memory size (default 64, at most %u)\n"
"      --ready-fd FD      write the ready line here (default: stdout)\n"
"      --user USER        as root: run as USER once set up\n"
"  -f, --foreground       do not detach (log on stderr)\n"
"      --log-level LEVEL  error, warning, info (default) or debug\n"
"  Block frontend (vbd) options, to exercise the backend's fallbacks:\n"
"      --blk-no-indirect      no indirect descriptors\n"
"      --blk-no-persistent    no persistent grants\n"
"      --blk-no-discard       no discard (NBD TRIM)\n"
"      --blk-no-flush         neither flush nor barrier (NBD FLUSH/FUA)\n"
"      --blk-no-nbd           no NBD export of the disks\n"
"      --blk-max-queues N     rings per disk, 1..%u (default: CPUs, at most 4)\n"
"      --blk-ring-order N     ring pages 2^N, 0..%u (default %u)\n"
"      --blk-max-indirect N   segments per indirect request, 12..%u (default 32)\n"
"      --blk-spin-ns N        spin for responses before sleeping (default %u)\n"
"      --blk-timeout S        fail requests after S seconds disconnected (default 30)\n"
"      --loadgen SPEC         run the in-guest load generator, e.g.\n"
"                             'devid=51712,rw=randread,bs=4096,qd=32,seconds=5,verify=1,exit=1'\n"
"      --no-console-shell     no shell on the console (pvguest's messages only)\n"
"      --console-shell CMD    the console's shell (default: $PVD_GUEST_SHELL, else /bin/sh -i)\n"
"  -h, --help\n"
"The ready line: domid=N store_gfn=G store_port=P console_gfn=C console_port=Q pid=PID\n",
		DOMID_FIRST_RESERVED - 1, GUEST_MEMORY_MAX_MIB, BLKFRONT_MAX_QUEUES,
		BLKFRONT_MAX_RING_ORDER, BLKFRONT_MAX_RING_ORDER,
		(unsigned)BLKFRONT_MAX_INDIRECT_SEGS, HV_SPIN_NS_DEFAULT);
}

static void die_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("pvguest: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static unsigned long parse_num(const char *opt, const char *s,
			       unsigned long min, unsigned long max)
{
	unsigned long v;
	char *e;

	errno = 0;
	v = strtoul(s, &e, 10);
	if (errno || e == s || *e || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "pvguest: %s: want a number in %lu..%lu, got '%s'\n",
			opt, min, max, s);
		exit(2);
	}
	return v;
}

enum { O_DOMID = 256, O_NAME, O_MEM, O_READY, O_USER, O_LEVEL,
       O_BLK_NO_INDIRECT, O_BLK_NO_PERSISTENT, O_BLK_NO_DISCARD, O_BLK_NO_FLUSH,
       O_BLK_NO_NBD, O_BLK_QUEUES, O_BLK_ORDER, O_BLK_INDIRECT, O_BLK_SPIN,
       O_BLK_TIMEOUT, O_LOADGEN, O_NO_CON_SHELL, O_CON_SHELL };

static const struct option longopts[] = {
	{ "domid", required_argument, NULL, O_DOMID },
	{ "name", required_argument, NULL, O_NAME },
	{ "memory", required_argument, NULL, O_MEM },
	{ "ready-fd", required_argument, NULL, O_READY },
	{ "user", required_argument, NULL, O_USER },
	{ "foreground", no_argument, NULL, 'f' },
	{ "log-level", required_argument, NULL, O_LEVEL },
	{ "blk-no-indirect", no_argument, NULL, O_BLK_NO_INDIRECT },
	{ "blk-no-persistent", no_argument, NULL, O_BLK_NO_PERSISTENT },
	{ "blk-no-discard", no_argument, NULL, O_BLK_NO_DISCARD },
	{ "blk-no-flush", no_argument, NULL, O_BLK_NO_FLUSH },
	{ "blk-no-nbd", no_argument, NULL, O_BLK_NO_NBD },
	{ "blk-max-queues", required_argument, NULL, O_BLK_QUEUES },
	{ "blk-ring-order", required_argument, NULL, O_BLK_ORDER },
	{ "blk-max-indirect", required_argument, NULL, O_BLK_INDIRECT },
	{ "blk-spin-ns", required_argument, NULL, O_BLK_SPIN },
	{ "blk-timeout", required_argument, NULL, O_BLK_TIMEOUT },
	{ "loadgen", required_argument, NULL, O_LOADGEN },
	{ "no-console-shell", no_argument, NULL, O_NO_CON_SHELL },
	{ "console-shell", required_argument, NULL, O_CON_SHELL },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void parse_opts(int argc, char **argv, struct opts *o)
{
	int ch;

	*o = (struct opts){ .memory_mib = 64, .ready_fd = -1,
			    .level = LOG_LVL_INFO };
	blkfront_opts_default(&o->blk);
	while ((ch = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
		switch (ch) {
		case O_DOMID:
			o->domid = parse_num("--domid", optarg, 1,
					     DOMID_FIRST_RESERVED - 1);
			break;
		case O_NAME:
			o->name = optarg;
			break;
		case O_MEM:
			o->memory_mib = parse_num("--memory", optarg,
						  GUEST_MEMORY_MIN_MIB,
						  GUEST_MEMORY_MAX_MIB);
			break;
		case O_READY:
			o->ready_fd = (int)parse_num("--ready-fd", optarg, 0, INT_MAX);
			break;
		case O_USER:
			o->user = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case O_LEVEL:
			if (log_parse_level(optarg, &o->level) < 0)
				die_usage("--log-level: unknown level '%s'", optarg);
			break;
		case O_BLK_NO_INDIRECT:
			o->blk.no_indirect = true;
			break;
		case O_BLK_NO_PERSISTENT:
			o->blk.no_persistent = true;
			break;
		case O_BLK_NO_DISCARD:
			o->blk.no_discard = true;
			break;
		case O_BLK_NO_FLUSH:
			o->blk.no_flush = true;
			break;
		case O_BLK_NO_NBD:
			o->blk.no_nbd = true;
			break;
		case O_BLK_QUEUES:
			o->blk.max_queues = (unsigned)parse_num("--blk-max-queues",
				optarg, 1, BLKFRONT_MAX_QUEUES);
			break;
		case O_BLK_ORDER:
			o->blk.max_ring_order = (unsigned)parse_num("--blk-ring-order",
				optarg, 0, BLKFRONT_MAX_RING_ORDER);
			break;
		case O_BLK_INDIRECT:
			o->blk.max_indirect_segs = (unsigned)parse_num("--blk-max-indirect",
				optarg, BLKIF_MAX_SEGMENTS_PER_REQUEST + 1,
				BLKFRONT_MAX_INDIRECT_SEGS);
			break;
		case O_BLK_SPIN:
			o->blk.spin_ns = (unsigned)parse_num("--blk-spin-ns", optarg, 0,
							     1000000);
			break;
		case O_BLK_TIMEOUT:
			o->blk.timeout_s = (unsigned)parse_num("--blk-timeout", optarg,
							       1, 86400);
			break;
		case O_LOADGEN: {
			char why[128];

			o->loadgen = optarg;
			if (loadgen_parse(optarg, &o->lg, why, sizeof(why)) < 0)
				die_usage("--loadgen: %s", why);
			break;
		}
		case O_NO_CON_SHELL:
			o->con.no_shell = true;
			break;
		case O_CON_SHELL:
			o->con.shell = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!o->domid)
		die_usage("%s", "--domid is required");
	if (!o->name)
		die_usage("%s", "--name is required");
	if (!o->name[0] || strlen(o->name) > GUEST_NAME_MAX)
		die_usage("--name: 1 to 64 characters, got '%s'", o->name);
	for (const char *p = o->name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/')
			die_usage("%s", "--name: no control characters or '/'");
	if (o->ready_fd >= 0 && fcntl(o->ready_fd, F_GETFD) < 0) {
		fprintf(stderr, "pvguest: --ready-fd: %d is not an open file descriptor\n",
			o->ready_fd);
		exit(2);
	}
}

/* USER as a name or a numeric uid. */
static int resolve_user(struct ctx *x)
{
	struct passwd *res = NULL;
	char *e;
	unsigned long uid;
	int rc;

	rc = getpwnam_r(x->o.user, &x->pw, x->pwbuf, sizeof(x->pwbuf), &res);
	if (!res && rc == 0) {
		errno = 0;
		uid = strtoul(x->o.user, &e, 10);
		if (!errno && *x->o.user && !*e && uid < UINT_MAX)
			rc = getpwuid_r((uid_t)uid, &x->pw, x->pwbuf,
					sizeof(x->pwbuf), &res);
	}
	if (!res) {
		fprintf(stderr, "pvguest: --user: no such user '%s'\n", x->o.user);
		return -ENOENT;
	}
	if (geteuid() != 0 && x->pw.pw_uid != geteuid()) {
		fprintf(stderr, "pvguest: --user %s: only root can change user\n",
			x->o.user);
		return -EPERM;
	}
	x->have_user = true;
	return 0;
}

static int drop_privileges(struct ctx *x)
{
	uid_t uid = x->pw.pw_uid;
	gid_t gid = x->pw.pw_gid;

	if (geteuid() != 0)
		return 0;	/* already that user (resolve_user checked) */
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		log_err("cannot become %s (uid %u): %s", x->pw.pw_name,
			(unsigned)uid, strerror(errno));
		return -errno;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		log_err("could regain root after dropping it: refusing to run");
		return -EPERM;
	}
	/* No exec of ours should ever gain anything back. */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	log_info("running as %s (uid %u, gid %u)", x->pw.pw_name, (unsigned)uid,
		 (unsigned)gid);
	return 0;
}

/* The parent waits for the child's "ready" byte and exits 0, or with the
 * child's status if it died first.  Returns (in the child) the fd to send
 * that byte on. */
static int detach(void)
{
	int p[2], st;
	pid_t pid;
	char c;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "pvguest: pipe: %s\n", strerror(errno));
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "pvguest: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(0);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : 1);
	}
	close(p[0]);
	setsid();
	return p[1];
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Points fd at /dev/null (keeps the number taken, so nothing else lands
 * there by accident). */
static void fd_to_null(int fd)
{
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (nul < 0) {
		close(fd);
		return;
	}
	if (nul != fd) {
		dup2(nul, fd);
		close(nul);
	}
}

static int absolute_rundir(struct ctx *x)
{
	const char *r = pvd_rundir();
	char cwd[PATH_MAX];
	int n;

	if (r[0] == '/') {
		n = snprintf(x->rundir, sizeof(x->rundir), "%s", r);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		n = snprintf(x->rundir, sizeof(x->rundir), "%s/%s", cwd, r);
	}
	return n < 0 || (size_t)n >= sizeof(x->rundir) ? -ENAMETOOLONG : 0;
}

static void on_term(void *arg)
{
	struct ctx *x = arg;

	log_info("terminating");
	event_base_loopbreak(x->base);
}

static void on_hup(void *arg)
{
	if (log_reopen() < 0)
		log_err("cannot reopen the log file");
}

static void loadgen_finished(void *arg, int status)
{
	struct ctx *x = arg;

	if (!x->o.lg.exit)
		return;
	log_info("load generator done: exiting with status %d", status);
	x->exit_status = status;
	event_base_loopbreak(x->base);
}

/* Everything up to the ready line; on failure the guest is destroyed. */
static int start(struct ctx *x)
{
	struct guest_config cfg = {
		.rundir = x->rundir, .domid = (domid_t)x->o.domid,
		.name = x->o.name, .memory_mib = (unsigned)x->o.memory_mib,
		.blk = &x->blk,
	};
	char line[256];
	int ready_fd = x->o.ready_fd >= 0 ? x->o.ready_fd : STDOUT_FILENO;
	int rc, n;

	x->blk.opts = x->o.blk;
	if (x->o.loadgen) {
		rc = loadgen_create(&x->lg, x->base, &x->o.lg, loadgen_finished, x);
		if (rc < 0) {
			log_err("cannot set up the load generator: %s", strerror(-rc));
			return rc;
		}
		x->blk.event = loadgen_on_event;
		x->blk.event_arg = x->lg;
	}
	rc = guest_create(&x->g, x->base, &cfg);
	if (rc < 0)
		return rc;
	if (!x->o.foreground) {
		int fd;

		snprintf(x->log_path, sizeof(x->log_path), "%s/log",
			 guest_dir(x->g));
		fd = open(x->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
			  O_NOFOLLOW, 0640);
		if (fd < 0) {
			rc = -errno;
			log_err("cannot create %s: %s", x->log_path, strerror(-rc));
			return rc;
		}
		/* Kept open: after --user the run directory may not let us
		 * reach it again by name. */
		x->log_fd = fd;
	}
	if (x->have_user) {
		rc = guest_chown(x->g, x->pw.pw_uid, x->pw.pw_gid);
		if (rc == 0)
			rc = drop_privileges(x);
		if (rc < 0)
			return rc;
	}
	rc = guest_boot(x->g);
	if (rc == 0)
		rc = consfront_start(&x->con, x->base, x->g, x->o.name, &x->o.con);
	if (rc < 0)
		return rc;
	n = guest_ready_line(x->g, line, sizeof(line));
	if (n < 0)
		return n;
	rc = write_all(ready_fd, line, (size_t)n);
	if (rc < 0) {
		log_err("cannot write the ready line: %s", strerror(-rc));
		return rc;
	}
	fd_to_null(ready_fd);
	return 0;
}

/* Detached and started: the log file from now on, stderr too (for what
 * does not go through the log: sanitizer reports). */
static void to_log_file(struct ctx *x)
{
	if (x->log_fd >= 0) {
		dup2(x->log_fd, STDERR_FILENO);
		close(x->log_fd);
		x->log_fd = -1;
	} else {
		fd_to_null(STDERR_FILENO);
	}
	/* The log is stderr, now the file. */
	log_init("pvguest", x->o.level, NULL);
}

int main(int argc, char **argv)
{
	struct ctx x = { .status_fd = -1, .log_fd = -1 };
	struct daemon_signals sigs = { 0 };
	int rc;

	parse_opts(argc, argv, &x.o);
	signal(SIGPIPE, SIG_IGN);
	/* Detaching: start-up says nothing on stderr unless it fails. */
	log_init("pvguest", x.o.foreground || x.o.level < LOG_LVL_WARN ?
		 x.o.level : LOG_LVL_WARN, NULL);
	if (absolute_rundir(&x) < 0) {
		fprintf(stderr, "pvguest: bad run directory %s\n", pvd_rundir());
		return 1;
	}
	if (x.o.user && resolve_user(&x) < 0)
		return 1;
	if (!x.o.foreground) {
		x.status_fd = detach();
		if (chdir("/") < 0) {
			/* Harmless: every path we use is absolute. */
		}
	}
	/* NBD payloads are up to 4 MiB: from the heap, not a fresh mmap
	 * (page faults and zeroing on every request); the heap is bounded
	 * by the NBD export's per-client limits. */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	x.base = event_base_new();
	if (!x.base || event_base_priority_init(x.base, FRONTEND_PRIORITIES) < 0) {
		fprintf(stderr, "pvguest: cannot create the event loop\n");
		return 1;
	}
	if (daemon_signals_start(&sigs, x.base, on_term, on_hup, &x) < 0) {
		event_base_free(x.base);
		return 1;
	}
	rc = start(&x);
	if (rc < 0) {
		consfront_stop(x.con);
		guest_destroy(x.g);
		loadgen_destroy(x.lg);
		daemon_signals_stop(&sigs);
		event_base_free(x.base);
		return 1;
	}
	if (x.status_fd >= 0)
		to_log_file(&x);
	/* Logged before the parent is released: whoever started us finds it. */
	log_info("domain %lu (%s) ready; the store serves its ring once the toolstack introduces it",
		 x.o.domid, x.o.name);
	if (x.status_fd >= 0) {
		/* The parent may go now; our stdio is not its. */
		write_all(x.status_fd, "k", 1);
		close(x.status_fd);
		fd_to_null(STDIN_FILENO);
		fd_to_null(STDOUT_FILENO);
	}
	event_base_dispatch(x.base);
	/* The guest first: its disks fail what the load generator has in
	 * flight. */
	consfront_stop(x.con);
	guest_destroy(x.g);
	loadgen_destroy(x.lg);
	daemon_signals_stop(&sigs);
	event_base_free(x.base);
	return x.exit_status;
}
