/* The guest's shell in its sandbox; see sandbox.h and docs/pvguest.md,
 * "The console".
 *
 * The child is made with clone() in new user (when not root), UTS, PID
 * and mount namespaces, falling back to fewer when the kernel refuses.  It
 * makes a new pty pair from its own devpts instance when it could mount
 * one (else the host's) and hands the master back over a socket: a
 * shell's pty is out of other guests' reach (they all run as nobody).
 * With a PID namespace the child is that namespace's init: it forks the
 * shell and waits, and when it dies (sandbox_stop kills it, or pvguest
 * dies and PR_SET_PDEATHSIG kills it) the kernel kills everything the
 * shell started.  That init is a copy of pvguest (its mappings, the
 * guest's memory included, but none of its descriptors), not dumpable,
 * running our code only: it waits and reaps.  The child runs between
 * clone and exec, so it only makes system calls on data prepared
 * beforehand (struct child_args) and builds its report with the
 * async-signal-safe s_add/s_num.  A shell that exits is started again
 * once it is reaped and its pty hung up; one that keeps exiting at once
 * is given up. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "pvd/log.h"
#include "pvd/num.h"
#include "sandbox.h"

/* A shell that lives less than this is a fast exit; after FAST_EXITS_MAX
 * of them in a row it is not started again. */
#define FAST_EXIT_SECS 1
#define FAST_EXITS_MAX 5
#define CHILD_STACK (256 * 1024)
#define SHELL_ARGS_MAX 32
#define SHELL_ENV_MAX 12
#define REPORT_MAX 512
/* The pty's window: what a serial console is assumed to be. */
#define PTY_ROWS 24
#define PTY_COLS 80
/* Private mounts for the shell (bounded: tmpfs memory is the host's). */
#define TMP_OPTS "size=32m,nr_inodes=8192,mode=1777"
#define HIDE_OPTS "size=16k,nr_inodes=16,mode=755"
#define DEVPTS_OPTS "newinstance,ptmxmode=0666,mode=0600"
/* /proc/<pid>/stat fields (proc(5) numbering). */
#define STAT_SESSION 6
#define STAT_ARG_START 48
#define STAT_ARG_END 49

/* Everything the child needs, prepared before clone (see the top). */
struct child_args {
	int sock;			/* the pty's master goes back on it */
	int flags;			/* the clone namespace flags it got */
	uid_t uid;
	gid_t gid;
	char uid_map[32], gid_map[32];
	const char *hostname;
	const char *rundir;		/* hidden behind an empty tmpfs */
	const char *home;
	const char *exe;
	char *argv[SHELL_ARGS_MAX + 1];
	char *envp[SHELL_ENV_MAX + 1];
	/* pvguest's argument area, for the init's title (NULL: leave it). */
	char *title_at;
	size_t title_len;
	char title[48];
};

struct sandbox {
	struct event_base *base;
	const struct sandbox_cb *cb;
	void *cb_arg;
	bool off;			/* stopped, or given up */
	char *cmd;			/* the command line (malloc'd) */
	char *cmd_words;		/* cmd split in place, for argv */
	struct child_args args;
	char env_buf[SHELL_ENV_MAX][PATH_MAX + 16];
	char user[64];
	char exe[PATH_MAX];
	char hostname[HOST_NAME_MAX + 1];
	char rundir[PATH_MAX];
	int sock;			/* waiting for the master from the child, or -1 */
	struct event *sock_ev;
	pid_t pid;			/* the child: init of its namespace, or the shell */
	int pidfd;
	struct event *pid_ev;
	bool reaped, hung_up;
	int status;
	struct timespec started;
	unsigned fast_exits;
	struct event *respawn_ev;
};

static void sb_say(struct sandbox *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_say(struct sandbox *sb, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sb->cb->say(sb->cb_arg, line);
}

/* ------------------------------------------------------------ the child */

/* Async-signal-safe string building for the child's report. */
static void s_add(char *buf, size_t len, const char *s)
{
	size_t at = strlen(buf);

	while (*s && at + 1 < len)
		buf[at++] = *s++;
	buf[at] = '\0';
}

static void s_num(char *buf, size_t len, long v)
{
	char tmp[24];
	int i = (int)sizeof(tmp) - 1;
	bool neg = v < 0;
	unsigned long u = neg ? 0ul - (unsigned long)v : (unsigned long)v;

	tmp[i] = '\0';
	do
		tmp[--i] = (char)('0' + u % 10);
	while ((u /= 10) && i > 1);
	if (neg)
		tmp[--i] = '-';
	s_add(buf, len, tmp + i);
}

static int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	size_t len = strlen(data);

	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n != (ssize_t)len) {
		int rc = n < 0 ? -errno : -EIO;

		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

static void close_from(int first)
{
	struct rlimit rl;

	if (syscall(SYS_close_range, (unsigned)first, ~0u, 0u) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur > 65536)
		rl.rlim_cur = 65536;
	for (int fd = first; fd < (int)rl.rlim_cur; fd++)
		close(fd);
}

/* fd onto stdin, stdout and stderr. */
static int dup_stdio(int fd)
{
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
	    dup2(fd, STDERR_FILENO) < 0)
		return -1;
	return 0;
}

static __attribute__((noreturn)) void exec_shell(const struct child_args *a)
{
	char msg[PATH_MAX + 64] = "pvguest: cannot run ";

	setsid();
	/* The pty becomes the shell's controlling terminal: job control and
	 * Ctrl-C work as on a console. */
	ioctl(STDIN_FILENO, TIOCSCTTY, 0);
	execve(a->exe, a->argv, a->envp);
	s_add(msg, sizeof(msg), a->exe);
	s_add(msg, sizeof(msg), ": errno ");
	s_num(msg, sizeof(msg), errno);
	s_add(msg, sizeof(msg), "\n");
	if (write(STDERR_FILENO, msg, strlen(msg)) < 0) {
		/* Nothing left to tell. */
	}
	_exit(127);
}

/* In the child: a pty from the devpts of its namespace (its own, when it
 * could mount one); the master goes to pvguest over fd 3.  The slave: fd,
 * or -1. */
static int child_pty(bool own_devpts)
{
	struct winsize ws = { .ws_row = PTY_ROWS, .ws_col = PTY_COLS };
	char buf[1] = { 0 }, path[32] = "/dev/pts/";
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	struct cmsghdr *cm;
	int m, s, unlock = 0, n;

	m = open(own_devpts ? "/dev/pts/ptmx" : "/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || ioctl(m, TIOCSPTLCK, &unlock) < 0)
		return -1;
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (s < 0) {
		/* Before Linux 4.13: by its name. */
		if (ioctl(m, TIOCGPTN, &n) < 0)
			return -1;
		s_num(path, sizeof(path), n);
		s = open(path, O_RDWR | O_NOCTTY);
	}
	/* Ours alone: other processes of our user are other guests'. */
	if (s < 0 || fchmod(s, 0600) < 0 || ioctl(m, TIOCSWINSZ, &ws) < 0)
		return -1;
	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &m, sizeof(int));
	if (sendmsg(3, &msg, MSG_NOSIGNAL) != 1)
		return -1;
	close(m);
	close(3);
	return s;
}

/* Nothing of pvguest's (its store socket, pipes, the domain's memory
 * files and lock, its stdio, its signal handling): our socket at 3,
 * /dev/null until the pty. */
static void child_detach(const struct child_args *a)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int fd;

	/* pvguest going (even by SIGKILL) takes the shell with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (a->sock != 3 && dup2(a->sock, 3) < 0)
		_exit(126);
	close_from(4);
	fd = open("/dev/null", O_RDWR);
	if (dup_stdio(fd) < 0)
		_exit(126);
	close(fd);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The user namespace maps our ids to the same ids outside. */
static void child_id_map(const struct child_args *a, char *report)
{
	int rc;

	/* We are pvguest's copy, not dumpable after its setuid: our /proc
	 * files are root's until we say otherwise. */
	prctl(PR_SET_DUMPABLE, 1);
	rc = write_file("/proc/self/setgroups", "deny");
	if (rc == 0)
		rc = write_file("/proc/self/gid_map", a->gid_map);
	if (rc == 0)
		rc = write_file("/proc/self/uid_map", a->uid_map);
	prctl(PR_SET_DUMPABLE, 0);
	s_add(report, REPORT_MAX, " user");
	if (rc < 0) {
		s_add(report, REPORT_MAX, " (no id map: errno ");
		s_num(report, REPORT_MAX, -rc);
		s_add(report, REPORT_MAX, ")");
	}
}

static void child_namespaces(const struct child_args *a, char *report)
{
	if (a->flags & CLONE_NEWUSER)
		child_id_map(a, report);
	if (a->flags & CLONE_NEWUTS)
		s_add(report, REPORT_MAX, " uts");
	if (a->flags & CLONE_NEWPID)
		s_add(report, REPORT_MAX, " pid");
	if (a->flags & CLONE_NEWNS)
		s_add(report, REPORT_MAX, " mount");
	if (!(a->flags & (CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWNS)))
		s_add(report, REPORT_MAX, " none (not permitted)");
	if (!(a->flags & CLONE_NEWUTS)) {
		s_add(report, REPORT_MAX, "; hostname not set");
	} else if (sethostname(a->hostname, strlen(a->hostname)) == 0) {
		s_add(report, REPORT_MAX, "; hostname ");
		s_add(report, REPORT_MAX, a->hostname);
	} else {
		s_add(report, REPORT_MAX, "; hostname not set: errno ");
		s_num(report, REPORT_MAX, errno);
	}
}

/* Private mounts in the mount namespace.  True when the child has its own
 * devpts instance. */
static bool child_mounts(const struct child_args *a, char *report)
{
	bool own_devpts = false;
	struct stat st;

	/* Never propagate our mounts to the host's namespace. */
	if (!(a->flags & CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
		return false;
	if ((a->flags & CLONE_NEWPID) &&
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
		s_add(report, REPORT_MAX, "; own /proc");
	/* Its ptys (the console's too) out of other guests' reach. */
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  DEVPTS_OPTS) == 0) {
		own_devpts = true;
		s_add(report, REPORT_MAX, "; own /dev/pts");
	}
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, TMP_OPTS) == 0)
		s_add(report, REPORT_MAX, "; private /tmp");
	/* The host's run directory (other guests' files) is none of the
	 * guest's business.  Under /tmp it is gone already. */
	if (stat(a->rundir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    mount("tmpfs", a->rundir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  HIDE_OPTS) == 0)
		s_add(report, REPORT_MAX, "; run directory hidden");
	return own_devpts;
}

/* The pty becomes stdio; the report is the first thing on it. */
static void child_console(const struct child_args *a, bool own_devpts,
			  char *report)
{
	int fd = child_pty(own_devpts);

	if (dup_stdio(fd) < 0)
		_exit(126);
	if (fd > STDERR_FILENO)
		close(fd);
	if (chdir(a->home) < 0 && chdir("/") < 0) {
		/* Then wherever we are. */
	}
	s_add(report, REPORT_MAX, "\n");
	if (write(STDERR_FILENO, report, strlen(report)) < 0) {
		/* The console is gone already: the shell will find out. */
	}
}

/* The namespace's init: the shell is its only child; orphans come to us
 * and are reaped; when the shell ends, so do we, and the kernel kills
 * whatever is left in the namespace. */
static __attribute__((noreturn)) void child_init(struct child_args *a)
{
	pid_t pid = _Fork();
	int status;

	if (pid < 0)
		_exit(126);
	if (pid == 0)
		exec_shell(a);
	/* For ps: not another pvguest of this domain. */
	prctl(PR_SET_NAME, "pvguest-init");
	if (a->title_at) {
		size_t n = strlen(a->title);

		memset(a->title_at, 0, a->title_len);
		memcpy(a->title_at, a->title, n < a->title_len ? n : a->title_len - 1);
	}
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	close(STDERR_FILENO);
	for (;;) {
		pid_t w = waitpid(-1, &status, 0);

		if (w == pid)
			_exit(WIFEXITED(status) ? WEXITSTATUS(status)
						: 128 + WTERMSIG(status));
		if (w < 0 && errno != EINTR)
			_exit(126);
	}
}

static int child_main(void *arg)
{
	struct child_args *a = arg;
	char report[REPORT_MAX] = "pvguest: shell namespaces:";
	bool own_devpts;

	child_detach(a);
	child_namespaces(a, report);
	own_devpts = child_mounts(a, report);
	child_console(a, own_devpts, report);
	if (!(a->flags & CLONE_NEWPID))
		exec_shell(a);
	child_init(a);
}

/* ------------------------------------------------------------ preparing */

static bool is_simple(const char *cmd)
{
	return !strpbrk(cmd, "\"'\\$`;&|<>(){}*?[]~#=\n\t!");
}

/* The program for argv[0]: as given with a '/', else found on PATH. */
static int find_exe(const char *prog, const char *path, char *out, size_t len)
{
	const char *p = path;

	if (strchr(prog, '/'))
		return snprintf(out, len, "%s", prog) < (int)len ? 0 : -ENAMETOOLONG;
	while (*p) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);

		if (dlen && snprintf(out, len, "%.*s/%s", (int)dlen, p, prog) < (int)len &&
		    access(out, X_OK) == 0)
			return 0;
		p += dlen + (end ? 1 : 0);
	}
	return -ENOENT;
}

static int setenv_slot(struct sandbox *sb, unsigned *n, const char *k, const char *v)
{
	if (*n >= SHELL_ENV_MAX ||
	    snprintf(sb->env_buf[*n], sizeof(sb->env_buf[*n]), "%s=%s", k, v) >=
		    (int)sizeof(sb->env_buf[*n]))
		return -ENAMETOOLONG;
	sb->args.envp[*n] = sb->env_buf[*n];
	(*n)++;
	sb->args.envp[*n] = NULL;
	return 0;
}

/* /proc/<pid>/stat (path) into buf, NUL-terminated. */
static int read_stat(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	return 0;
}

/* Field k (>= 3) of a stat line, a decimal number in 0..max.  The name
 * (field 2) may hold anything: the last ')' ends it. */
static int stat_field(const char *buf, unsigned k, uint64_t max, uint64_t *out)
{
	const char *p = strrchr(buf, ')');
	unsigned field = 2;

	if (!p)
		return -EINVAL;
	for (p++; *p; ) {
		size_t n;

		p += strspn(p, " \n");
		n = strcspn(p, " \n");
		if (!n)
			break;
		if (++field == k)
			return pvd_parse_uint_n(p, n, 10, max, out);
		p += n;
	}
	return -ENOENT;
}

/* Where our argv is (arg_start, arg_end), so that the init can say what
 * it is in ps. */
static void title_prepare(struct sandbox *sb, unsigned domid)
{
	char buf[1024];
	uint64_t start, end;

	if (read_stat("/proc/self/stat", buf, sizeof(buf)) < 0 ||
	    stat_field(buf, STAT_ARG_START, UINTPTR_MAX, &start) < 0 ||
	    stat_field(buf, STAT_ARG_END, UINTPTR_MAX, &end) < 0)
		return;
	if (!start || end <= start || end - start > 65536)
		return;
	sb->args.title_at = (char *)(uintptr_t)start;
	sb->args.title_len = end - start;
	snprintf(sb->args.title, sizeof(sb->args.title), "pvguest-init dom%u", domid);
}

/* Ids, user name, home and environment.  path: the shell's PATH. */
static int user_prepare(struct sandbox *sb, const char *path)
{
	struct child_args *a = &sb->args;
	struct passwd pw, *res = NULL;
	char pwbuf[4096], home[PATH_MAX];
	struct stat st;
	unsigned ne = 0;
	int rc;

	a->uid = geteuid();
	a->gid = getegid();
	snprintf(a->uid_map, sizeof(a->uid_map), "%u %u 1\n", (unsigned)a->uid,
		 (unsigned)a->uid);
	snprintf(a->gid_map, sizeof(a->gid_map), "%u %u 1\n", (unsigned)a->gid,
		 (unsigned)a->gid);
	getpwuid_r(a->uid, &pw, pwbuf, sizeof(pwbuf), &res);
	snprintf(sb->user, sizeof(sb->user), "%s", res ? pw.pw_name : "guest");
	/* A home of its own if the user has one we can use (nobody's is
	 * /nonexistent); else /tmp, private to the shell when it has a mount
	 * namespace. */
	if (res && pw.pw_dir[0] == '/' && stat(pw.pw_dir, &st) == 0 &&
	    S_ISDIR(st.st_mode) && access(pw.pw_dir, W_OK | X_OK) == 0)
		snprintf(home, sizeof(home), "%s", pw.pw_dir);
	else
		snprintf(home, sizeof(home), "/tmp");
	if ((rc = setenv_slot(sb, &ne, "HOME", home)) < 0 ||
	    (rc = setenv_slot(sb, &ne, "TERM", "xterm")) < 0 ||
	    (rc = setenv_slot(sb, &ne, "PATH", path)) < 0 ||
	    (rc = setenv_slot(sb, &ne, "USER", sb->user)) < 0 ||
	    (rc = setenv_slot(sb, &ne, "LOGNAME", sb->user)) < 0 ||
	    (rc = setenv_slot(sb, &ne, "SHELL", "/bin/sh")) < 0)
		return rc;
	a->home = sb->env_buf[0] + strlen("HOME=");
	return 0;
}

/* argv and the program: a simple command runs directly (the shell is the
 * session leader, no sh -c in between), anything else under sh -c. */
static int argv_prepare(struct sandbox *sb, const char *path)
{
	struct child_args *a = &sb->args;
	unsigned na = 0;
	int rc;

	if (!is_simple(sb->cmd)) {
		a->argv[na++] = "sh";
		a->argv[na++] = "-c";
		a->argv[na++] = sb->cmd;
		a->argv[na] = NULL;
		a->exe = "/bin/sh";
		return 0;
	}
	sb->cmd_words = strdup(sb->cmd);
	if (!sb->cmd_words)
		return -ENOMEM;
	for (char *save, *w = strtok_r(sb->cmd_words, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		if (na == SHELL_ARGS_MAX)
			return -E2BIG;
		a->argv[na++] = w;
	}
	if (!na)
		return -EINVAL;
	a->argv[na] = NULL;
	rc = find_exe(a->argv[0], path, sb->exe, sizeof(sb->exe));
	if (rc < 0) {
		log_err("console shell '%s': %s not found on %s", sb->cmd,
			a->argv[0], path);
		return rc;
	}
	a->exe = sb->exe;
	return 0;
}

/* Everything the child needs, once. */
static int shell_prepare(struct sandbox *sb, const struct sandbox_config *cfg)
{
	const char *env = getenv("PVD_GUEST_SHELL");
	const char *path = geteuid() == 0
		? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		: "/usr/local/bin:/usr/bin:/bin";
	int rc;

	sb->cmd = strdup(cfg->shell ? cfg->shell :
			 env && *env ? env : SANDBOX_SHELL_DEFAULT);
	if (!sb->cmd)
		return -ENOMEM;
	rc = user_prepare(sb, path);
	if (rc < 0)
		return rc;
	title_prepare(sb, cfg->domid);
	sb->args.hostname = sb->hostname;
	sb->args.rundir = sb->rundir;
	return argv_prepare(sb, path);
}

/* ------------------------------------------------------------ the shell */

static void shell_spawn(struct sandbox *sb);
static void shell_kill(struct sandbox *sb);

/* The descriptor the child sent on sock, or -1.  -EAGAIN/-EINTR: not yet. */
static int recv_fd(int sock)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char buf[1];
	struct iovec iov = { buf, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	struct cmsghdr *cm;
	ssize_t n;
	int m = -1;

	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -errno;
	cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&m, CMSG_DATA(cm), sizeof(int));
	return m;
}

/* The child's pty master: the console takes it from here. */
static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct sandbox *sb = arg;
	int m = recv_fd(sb->sock);

	if (m == -EAGAIN || m == -EINTR) {
		event_add(sb->sock_ev, NULL);
		return;
	}
	event_free(sb->sock_ev);
	sb->sock_ev = NULL;
	close(sb->sock);
	sb->sock = -1;
	if (m >= 0 && (!isatty(m) || fcntl(m, F_SETFL, O_NONBLOCK | O_RDWR) < 0)) {
		close(m);
		m = -1;
	}
	if (m < 0) {
		/* It died on the way; its exit says the rest. */
		log_warn("console: the shell's process sent no pty");
		sandbox_hangup(sb);
		return;
	}
	sb->cb->pty(sb->cb_arg, m);
}

/* clone() with as many namespaces as the kernel gives us. */
static pid_t clone_child(struct sandbox *sb, void *stack_top)
{
	static const int sets[] = {
		CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWNS,
		CLONE_NEWUTS | CLONE_NEWPID,
		CLONE_NEWUTS,
		0,
	};
	bool root = geteuid() == 0;
	pid_t pid = -1;
	int err = 0;

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		/* Unprivileged, namespaces come with a user namespace. */
		int flags = sets[i] ? sets[i] | (root ? 0 : CLONE_NEWUSER) : 0;

		sb->args.flags = flags;
		pid = clone(child_main, stack_top, flags | SIGCHLD, &sb->args);
		if (pid >= 0)
			break;
		err = errno;
		log_debug("console: clone with namespaces %#x: %s", (unsigned)flags,
			  strerror(err));
	}
	if (pid < 0)
		errno = err;
	else if (sb->args.flags != (int)(sets[0] | (root ? 0 : CLONE_NEWUSER)))
		log_info("console: the shell got fewer namespaces (%#x): %s",
			 (unsigned)sb->args.flags, strerror(err));
	return pid;
}

/* The child, with its end of a socketpair (the other: *sock).  0 or
 * -errno (logged, said). */
static int shell_clone(struct sandbox *sb, int *sock)
{
	int sv[2], rc = 0;
	void *stack;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		log_err("console: socketpair: %s", strerror(-rc));
		return rc;
	}
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		rc = -errno;
		log_err("console: cannot allocate the child's stack: %s", strerror(-rc));
		goto out;
	}
	sb->args.sock = sv[1];
	sb->pid = clone_child(sb, (char *)stack + CHILD_STACK);
	rc = sb->pid < 0 ? -errno : 0;
	/* The child has its copies. */
	munmap(stack, CHILD_STACK);
	if (rc < 0) {
		sb->pid = 0;
		log_err("console: cannot start the shell: %s", strerror(-rc));
		sb_say(sb, "cannot start the shell: %s", strerror(-rc));
	}
out:
	close(sv[1]);
	if (rc < 0)
		close(sv[0]);
	else
		*sock = sv[0];
	return rc;
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg);

/* The events on the child's socket and on its end. */
static int shell_watch(struct sandbox *sb)
{
	sb->sock_ev = event_new(sb->base, sb->sock, EV_READ, on_sock, sb);
	sb->pidfd = (int)syscall(SYS_pidfd_open, sb->pid, 0);
	if (sb->pidfd < 0) {
		log_err("console: pidfd_open %d: %s", (int)sb->pid, strerror(errno));
		return -1;
	}
	sb->pid_ev = event_new(sb->base, sb->pidfd, EV_READ, on_pidfd, sb);
	if (!sb->sock_ev || !sb->pid_ev || event_add(sb->sock_ev, NULL) < 0 ||
	    event_add(sb->pid_ev, NULL) < 0) {
		log_err("console: cannot watch the shell");
		return -1;
	}
	return 0;
}

/* Drops the events on the child and its socket. */
static void shell_unwatch(struct sandbox *sb)
{
	if (sb->pid_ev) {
		event_free(sb->pid_ev);
		sb->pid_ev = NULL;
	}
	if (sb->pidfd >= 0) {
		close(sb->pidfd);
		sb->pidfd = -1;
	}
	if (sb->sock_ev) {
		event_free(sb->sock_ev);
		sb->sock_ev = NULL;
	}
	if (sb->sock >= 0) {
		close(sb->sock);
		sb->sock = -1;
	}
}

static void shell_spawn(struct sandbox *sb)
{
	if (sb->off)
		return;
	sb->reaped = sb->hung_up = false;
	if (shell_clone(sb, &sb->sock) < 0)
		goto off;
	clock_gettime(CLOCK_MONOTONIC, &sb->started);
	if (shell_watch(sb) < 0)
		goto off;
	log_info("console: shell '%s' started, pid %d", sb->cmd, (int)sb->pid);
	return;
off:
	sb->off = true;
	/* Whatever was started goes. */
	shell_kill(sb);
	shell_unwatch(sb);
	sb->hung_up = true;
	sb->cb->off(sb->cb_arg);
}

/* Once the shell is reaped and its pty hung up: start another. */
static void shell_ended(struct sandbox *sb)
{
	struct timespec now;
	struct timeval delay = { 0, 0 };
	int64_t lived_ns;

	if (!sb->reaped || !sb->hung_up || sb->off)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	lived_ns = (int64_t)(now.tv_sec - sb->started.tv_sec) * 1000000000 +
		   (now.tv_nsec - sb->started.tv_nsec);
	if (lived_ns < (int64_t)FAST_EXIT_SECS * 1000000000) {
		if (++sb->fast_exits >= FAST_EXITS_MAX) {
			sb_say(sb, "the shell keeps exiting at once: not starting it again");
			log_warn("console: the shell exited at once %u times: given up",
				 sb->fast_exits);
			sb->off = true;
			sb->cb->off(sb->cb_arg);
			return;
		}
		delay.tv_sec = FAST_EXIT_SECS;
	} else {
		sb->fast_exits = 0;
	}
	if (WIFEXITED(sb->status))
		sb_say(sb, "the shell exited (status %d); starting a new one",
		       WEXITSTATUS(sb->status));
	else
		sb_say(sb, "the shell was killed (signal %d); starting a new one",
		       WTERMSIG(sb->status));
	evtimer_add(sb->respawn_ev, &delay);
}

static void on_respawn(evutil_socket_t fd, short what, void *arg)
{
	shell_spawn(arg);
}

/* Without a PID namespace, what the shell started is found by its
 * session (the shell's pid: it called setsid).  Only while the shell is
 * not reaped: until then no other process can get that number.  What left
 * the session (setsid, a daemon) is not found. */
static void session_signal(pid_t sid, int sig)
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[64], buf[512];
		uint64_t pid, sess;

		if (pvd_parse_uint(de->d_name, INT_MAX, &pid) < 0 || pid == 0 ||
		    pid == (uint64_t)sid)
			continue;
		snprintf(path, sizeof(path), "/proc/%llu/stat", (unsigned long long)pid);
		if (read_stat(path, buf, sizeof(buf)) == 0 &&
		    stat_field(buf, STAT_SESSION, INT_MAX, &sess) == 0 &&
		    sess == (uint64_t)sid)
			kill((pid_t)pid, sig);
	}
	closedir(d);
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg)
{
	struct sandbox *sb = arg;
	pid_t w;

	/* Without a PID namespace, the shell's jobs get what a hangup gives
	 * them (with one, the kernel killed them with the init). */
	if (!(sb->args.flags & CLONE_NEWPID))
		session_signal(sb->pid, SIGHUP);
	do
		w = waitpid(sb->pid, &sb->status, WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w == 0) {
		/* Not yet: EV_READ is one-shot, look again. */
		event_add(sb->pid_ev, NULL);
		return;
	}
	if (w < 0)
		sb->status = 0;	/* reaped by someone else: nothing to say */
	event_free(sb->pid_ev);
	sb->pid_ev = NULL;
	close(sb->pidfd);
	sb->pidfd = -1;
	log_info("console: shell pid %d ended (wait status %#x)", (int)sb->pid,
		 (unsigned)sb->status);
	sb->pid = 0;
	sb->reaped = true;
	shell_ended(sb);
}

/* Kills the child and everything in its namespaces (or its session);
 * bounded wait. */
static void shell_kill(struct sandbox *sb)
{
	if (sb->pid <= 0)
		return;
	if (!(sb->args.flags & CLONE_NEWPID))
		session_signal(sb->pid, SIGKILL);
	kill(sb->pid, SIGKILL);
	for (int i = 0; i < 100; i++) {
		pid_t w = waitpid(sb->pid, NULL, WNOHANG);

		if (w == sb->pid || (w < 0 && errno != EINTR))
			break;
		usleep(10000);
	}
	sb->pid = 0;
}

/* ------------------------------------------------------------ the API */

int sandbox_start(struct sandbox **out, struct event_base *base,
		  const struct sandbox_config *cfg, const struct sandbox_cb *cb,
		  void *arg)
{
	struct sandbox *sb;
	int rc;

	*out = NULL;
	sb = calloc(1, sizeof(*sb));
	if (!sb)
		return -ENOMEM;
	sb->base = base;
	sb->cb = cb;
	sb->cb_arg = arg;
	sb->sock = sb->pidfd = -1;
	snprintf(sb->hostname, sizeof(sb->hostname), "%s", cfg->hostname);
	snprintf(sb->rundir, sizeof(sb->rundir), "%s", cfg->rundir);
	sb->respawn_ev = evtimer_new(base, on_respawn, sb);
	if (!sb->respawn_ev) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = shell_prepare(sb, cfg);
	if (rc < 0) {
		log_err("console: cannot prepare the shell '%s': %s",
			sb->cmd ? sb->cmd : "", strerror(-rc));
		goto fail;
	}
	sb_say(sb, "starting the shell: %s (as %s)", sb->cmd, sb->user);
	/* Set before the callbacks of a failed start run. */
	*out = sb;
	shell_spawn(sb);
	return 0;
fail:
	sandbox_stop(sb);
	return rc;
}

void sandbox_stop(struct sandbox *sb)
{
	if (!sb)
		return;
	sb->off = true;
	shell_kill(sb);
	shell_unwatch(sb);
	if (sb->respawn_ev)
		event_free(sb->respawn_ev);
	free(sb->cmd);
	free(sb->cmd_words);
	free(sb);
}

void sandbox_hangup(struct sandbox *sb)
{
	sb->hung_up = true;
	shell_ended(sb);
}

bool sandbox_is_off(const struct sandbox *sb)
{
	return sb->off;
}

pid_t sandbox_pid(const struct sandbox *sb)
{
	return sb->pid;
}
