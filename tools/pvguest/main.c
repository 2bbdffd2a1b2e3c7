/* pvguest: one simulated guest domain (domU).  See docs/pvguest.md.
 *
 *   pvguest --domid N --name NAME [--memory MiB] [--ready-fd FD]
 *           [--user USER] [-f] [--log-level LEVEL] [--blk-* ...]
 *           [--loadgen SPEC] [--console-shell CMD | --no-console-shell]
 *   pvguest --version
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
#include "netfront.h"
#include "nettap.h"
#include "pvd/daemon.h"
#include "pvd/log.h"
#include "pvd/num.h"

struct opts {
	unsigned long domid;
	const char *name;
	unsigned long memory_mib;
	int ready_fd;
	const char *user;
	int foreground;
	enum log_level level;
	struct blkfront_opts blk;
	struct netfront_opts net;
	bool no_netns;
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
	struct netfront_config net;
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
"  Network frontend (vif) options; NICs are taps eth<id> in the guest's own\n"
"  network namespace (nsenter -t PID -U -n --preserve-credentials CMD):\n"
"      --net-no-sg            feature-sg = 0 (one slot per frame, MTU 1500)\n"
"      --net-no-gso           no GSO (feature-gso-tcpv4/6 = 0)\n"
"      --net-no-csum6         feature-ipv6-csum-offload = 0\n"
"      --net-no-split         one event channel per queue\n"
"      --net-no-rx-notify     feature-rx-notify = 0\n"
"      --net-no-ctrl          no control ring (no hash key or mapping)\n"
"      --net-max-queues N     queues per NIC, 1..%u (default: CPUs, at most 4)\n"
"      --net-no-netns         no network namespace of its own: NICs are ignored\n"
"      --loadgen SPEC         run the in-guest load generator, e.g.\n"
"                             'devid=51712,rw=randread,bs=4096,qd=32,seconds=5,verify=1,exit=1'\n"
"      --no-console-shell     no shell on the console (pvguest's messages only)\n"
"      --console-shell CMD    the console's shell (default: $PVD_GUEST_SHELL, else /bin/sh -i)\n"
"      --version          print the version and exit\n"
"  -h, --help\n"
"The ready line: domid=N store_gfn=G store_port=P console_gfn=C console_port=Q pid=PID\n",
		DOMID_FIRST_RESERVED - 1, GUEST_MEMORY_MAX_MIB, BLKFRONT_MAX_QUEUES,
		BLKFRONT_MAX_RING_ORDER, BLKFRONT_MAX_RING_ORDER,
		(unsigned)BLKFRONT_MAX_INDIRECT_SEGS, HV_SPIN_NS_DEFAULT,
		NETFRONT_MAX_QUEUES);
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
	uint64_t v;

	if (pvd_parse_range(s, min, max, &v) < 0)
		die_usage("%s: want a number in %lu..%lu, got '%s'", opt, min, max, s);
	return (unsigned long)v;
}

enum { O_DOMID = 256, O_NAME, O_MEM, O_READY, O_USER, O_LEVEL,
       O_BLK_NO_INDIRECT, O_BLK_NO_PERSISTENT, O_BLK_NO_DISCARD, O_BLK_NO_FLUSH,
       O_BLK_NO_NBD, O_BLK_QUEUES, O_BLK_ORDER, O_BLK_INDIRECT, O_BLK_SPIN,
       O_BLK_TIMEOUT, O_NET_NO_SG, O_NET_NO_GSO, O_NET_NO_CSUM6, O_NET_NO_SPLIT,
       O_NET_NO_RX_NOTIFY, O_NET_NO_CTRL, O_NET_QUEUES, O_NET_NO_NETNS, O_LOADGEN, O_NO_CON_SHELL, O_CON_SHELL, O_VERSION };

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
	{ "net-no-sg", no_argument, NULL, O_NET_NO_SG },
	{ "net-no-gso", no_argument, NULL, O_NET_NO_GSO },
	{ "net-no-csum6", no_argument, NULL, O_NET_NO_CSUM6 },
	{ "net-no-split", no_argument, NULL, O_NET_NO_SPLIT },
	{ "net-no-rx-notify", no_argument, NULL, O_NET_NO_RX_NOTIFY },
	{ "net-no-ctrl", no_argument, NULL, O_NET_NO_CTRL },
	{ "net-max-queues", required_argument, NULL, O_NET_QUEUES },
	{ "net-no-netns", no_argument, NULL, O_NET_NO_NETNS },
	{ "loadgen", required_argument, NULL, O_LOADGEN },
	{ "no-console-shell", no_argument, NULL, O_NO_CON_SHELL },
	{ "console-shell", required_argument, NULL, O_CON_SHELL },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* The domain's and the process's options; false: not one of them. */
static bool opt_guest(struct opts *o, int ch, const char *arg)
{
	switch (ch) {
	case O_DOMID:
		o->domid = parse_num("--domid", arg, 1, DOMID_FIRST_RESERVED - 1);
		return true;
	case O_NAME:
		o->name = arg;
		return true;
	case O_MEM:
		o->memory_mib = parse_num("--memory", arg, GUEST_MEMORY_MIN_MIB,
					  GUEST_MEMORY_MAX_MIB);
		return true;
	case O_READY:
		o->ready_fd = (int)parse_num("--ready-fd", arg, 0, INT_MAX);
		return true;
	case O_USER:
		o->user = arg;
		return true;
	case 'f':
		o->foreground = 1;
		return true;
	case O_LEVEL:
		if (log_parse_level(arg, &o->level) < 0)
			die_usage("--log-level: unknown level '%s'", arg);
		return true;
	}
	return false;
}

/* --blk-*: the block frontend's; false: not one of them. */
static bool opt_blk(struct blkfront_opts *b, int ch, const char *arg)
{
	switch (ch) {
	case O_BLK_NO_INDIRECT:
		b->no_indirect = true;
		return true;
	case O_BLK_NO_PERSISTENT:
		b->no_persistent = true;
		return true;
	case O_BLK_NO_DISCARD:
		b->no_discard = true;
		return true;
	case O_BLK_NO_FLUSH:
		b->no_flush = true;
		return true;
	case O_BLK_NO_NBD:
		b->no_nbd = true;
		return true;
	case O_BLK_QUEUES:
		b->max_queues = (unsigned)parse_num("--blk-max-queues", arg, 1,
						    BLKFRONT_MAX_QUEUES);
		return true;
	case O_BLK_ORDER:
		b->max_ring_order = (unsigned)parse_num("--blk-ring-order", arg, 0,
							BLKFRONT_MAX_RING_ORDER);
		return true;
	case O_BLK_INDIRECT:
		b->max_indirect_segs = (unsigned)parse_num("--blk-max-indirect", arg,
			BLKIF_MAX_SEGMENTS_PER_REQUEST + 1, BLKFRONT_MAX_INDIRECT_SEGS);
		return true;
	case O_BLK_SPIN:
		b->spin_ns = (unsigned)parse_num("--blk-spin-ns", arg, 0, 1000000);
		return true;
	case O_BLK_TIMEOUT:
		b->timeout_s = (unsigned)parse_num("--blk-timeout", arg, 1, 86400);
		return true;
	}
	return false;
}

/* --net-*: the network frontend's; false: not one of them. */
static bool opt_net(struct opts *o, int ch, const char *arg)
{
	struct netfront_opts *n = &o->net;

	switch (ch) {
	case O_NET_NO_SG:
		n->no_sg = true;
		return true;
	case O_NET_NO_GSO:
		n->no_gso = true;
		return true;
	case O_NET_NO_CSUM6:
		n->no_csum6 = true;
		return true;
	case O_NET_NO_SPLIT:
		n->no_split = true;
		return true;
	case O_NET_NO_RX_NOTIFY:
		n->no_rx_notify = true;
		return true;
	case O_NET_NO_CTRL:
		n->no_ctrl = true;
		return true;
	case O_NET_QUEUES:
		n->max_queues = (unsigned)parse_num("--net-max-queues", arg, 1,
						    NETFRONT_MAX_QUEUES);
		return true;
	case O_NET_NO_NETNS:
		o->no_netns = true;
		return true;
	}
	return false;
}

/* What runs inside the guest: the load generator, the console's shell;
 * false: not one of them. */
static bool opt_inside(struct opts *o, int ch, const char *arg)
{
	char why[128];

	switch (ch) {
	case O_LOADGEN:
		o->loadgen = arg;
		if (loadgen_parse(arg, &o->lg, why, sizeof(why)) < 0)
			die_usage("--loadgen: %s", why);
		return true;
	case O_NO_CON_SHELL:
		o->con.no_shell = true;
		return true;
	case O_CON_SHELL:
		o->con.shell = arg;
		return true;
	}
	return false;
}

/* What the options say together. */
static void opts_check(int argc, char **argv, const struct opts *o)
{
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

static void parse_opts(int argc, char **argv, struct opts *o)
{
	int ch;

	*o = (struct opts){ .memory_mib = 64, .ready_fd = -1,
			    .level = LOG_LVL_INFO };
	blkfront_opts_default(&o->blk);
	netfront_opts_default(&o->net);
	while ((ch = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
		if (opt_guest(o, ch, optarg) || opt_blk(&o->blk, ch, optarg) ||
		    opt_net(o, ch, optarg) || opt_inside(o, ch, optarg))
			continue;
		if (ch == O_VERSION) {
			pvd_print_version("pvguest");
			exit(0);
		}
		if (ch == 'h') {
			usage(stdout);
			exit(0);
		}
		usage(stderr);
		exit(2);
	}
	opts_check(argc, argv, o);
}

/* USER as a name or a numeric uid. */
static int resolve_user(struct ctx *x)
{
	struct passwd *res = NULL;
	uint64_t uid;
	int rc;

	rc = getpwnam_r(x->o.user, &x->pw, x->pwbuf, sizeof(x->pwbuf), &res);
	if (!res && rc == 0 && pvd_parse_uint(x->o.user, UINT_MAX - 1, &uid) == 0)
		rc = getpwuid_r((uid_t)uid, &x->pw, x->pwbuf, sizeof(x->pwbuf), &res);
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

/* As --user: every directory above the guest's own must be searchable,
 * or the sockets made later in it (a disk's NBD export) cannot be bound,
 * nor reached by the user's clients, and the guest would run with devices
 * that silently fail.  Checked with faccessat(AT_EACCESS) under the
 * user's effective ids, so ACLs and groups count as the kernel counts
 * them, while still root (a failed start then removes everything).  One
 * line naming the directory and the user; the command that started us
 * (pvctl create) fails with it. */
static int check_reach_walk(struct ctx *x)
{
	char path[PATH_MAX];
	const char *dir = guest_dir(x->g);
	struct stat st;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + 1; ; p++) {
		bool last = *p == 0;

		if (*p != '/' && !last)
			continue;
		*p = 0;
		if (faccessat(AT_FDCWD, path, last ? X_OK | W_OK : X_OK,
			      AT_EACCESS) < 0) {
			int rc = -errno;

			if (stat(path, &st) < 0)
				st = (struct stat){ 0 };
			fprintf(stderr, "pvguest: user %s (uid %u) cannot reach %s (mode %04o, owner uid %u): %s; the guest's sockets below it would be unreachable\n",
				x->pw.pw_name, (unsigned)x->pw.pw_uid, path,
				(unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
				strerror(-rc));
			return rc;
		}
		if (last)
			return 0;
		*p = '/';
	}
}

static int check_reach(struct ctx *x)
{
	gid_t gid = x->pw.pw_gid;
	int rc;

	if (geteuid() != 0)
		return check_reach_walk(x);	/* already that user */
	if (setgroups(1, &gid) < 0 || setegid(gid) < 0 ||
	    seteuid(x->pw.pw_uid) < 0) {
		rc = -errno;
		log_err("cannot act as %s: %s", x->pw.pw_name, strerror(-rc));
		return rc;
	}
	rc = check_reach_walk(x);
	if (seteuid(0) < 0 || setegid(0) < 0) {
		log_err("cannot return to root: %s", strerror(errno));
		return -EPERM;
	}
	return rc;
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
		.blk = &x->blk, .net = &x->net,
	};
	char line[256];
	int ready_fd = x->o.ready_fd >= 0 ? x->o.ready_fd : STDOUT_FILENO;
	int rc, n;

	x->blk.opts = x->o.blk;
	x->net.opts = x->o.net;
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
			rc = check_reach(x);
		if (rc == 0)
			rc = drop_privileges(x);
		if (rc < 0)
			return rc;
	}
	/* After dropping root (the namespaces are then the user's), before
	 * the frontends and the console's shell, which live in them. */
	if (!x->o.no_netns)
		x->net.own_netns = nettap_netns_enter() == 0;
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
