/* The guest's console frontend; see console.h.
 *
 * The ring, as Linux's hvc_xen (drivers/tty/hvc/hvc_xen.c):
 *   out (we produce): read out_cons once, full barrier, copy into out[],
 *   write barrier, publish out_prod, notify;
 *   in (we consume): read in_prod once, read barrier, copy out of in[],
 *   full barrier, publish in_cons, notify.
 * Our indices (out_prod, in_cons) are kept privately: what the backend
 * writes there is ignored.  The backend's index is checked against ours
 * (at most a ring apart); when it is not, nothing moves in that direction
 * (logged once) until it is sane again.
 *
 * Flow control, with no buffer beyond a ring's worth in each direction:
 * the pty master is read only for as many bytes as the out ring has room
 * for; when the ring is full the master is no longer polled until the
 * backend consumes and notifies (the shell then blocks in write, as on a
 * serial line).  The in ring is consumed only into an empty input buffer;
 * when the pty does not take it, the ring is left alone until it does.
 * The event loop never blocks.
 *
 * The shell (see docs/pvguest.md, "The console"): the child is made with
 * clone() in new user (when not root), UTS, PID and mount namespaces,
 * falling back to fewer when the kernel refuses.  It makes a new pty pair
 * from its own devpts instance when it could mount one (else the host's)
 * and hands the master back over a socket: a shell's pty is out of other
 * guests' reach (they all run as nobody).
 * With a PID namespace the child is that namespace's init: it forks the
 * shell and waits, and when it dies (console_stop kills it, or pvguest dies
 * and PR_SET_PDEATHSIG kills it) the kernel kills everything the shell
 * started.  That init is a copy of pvguest (its mappings, the guest's
 * memory included, but none of its descriptors), not dumpable, running
 * our code only: it waits and reaps.  The child runs between clone and exec, so it only makes system
 * calls on data prepared beforehand.  A shell that exits is started again
 * once its pty hung up; one that keeps exiting at once is given up. */
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
#include <xen/io/console.h>
#include <xen/io/xs_wire.h>

#include "console.h"
#include "guest.h"
#include "pvd/hv_sim.h"
#include "pvd/log.h"
#include "pvd/ring_util.h"
#include "xenbus_xs.h"

#define CON_ROUTE "c:"
#define CON_WATCH_PATH "device"
#define DEV_NAME_MAX 15
#define DEV_TYPES_MAX 8
/* Ring passes per callback before the loop looks elsewhere. */
#define PUMP_BUDGET 16
/* A shell that lives less than this is a fast exit; after FAST_EXITS_MAX
 * of them in a row it is not started again. */
#define FAST_EXIT_SECS 1
#define FAST_EXITS_MAX 5
#define CHILD_STACK (256 * 1024)
#define SHELL_ARGS_MAX 32
#define SHELL_ENV_MAX 12
/* The pty's window: what a serial console is assumed to be. */
#define PTY_ROWS 24
#define PTY_COLS 80
/* Private mounts for the shell (bounded: tmpfs memory is the host's). */
#define TMP_OPTS "size=32m,nr_inodes=8192,mode=1777"
#define HIDE_OPTS "size=16k,nr_inodes=16,mode=755"
#define DEVPTS_OPTS "newinstance,ptmxmode=0666,mode=0600"

#define RING_OUT_SIZE sizeof(((struct xencons_interface *)0)->out)
#define RING_IN_SIZE sizeof(((struct xencons_interface *)0)->in)

struct console;

struct dtype {
	struct console *c;
	char name[DEV_NAME_MAX + 1];
	bool listing, again;
};

struct dev {
	char type[DEV_NAME_MAX + 1];
	char id[DEV_NAME_MAX + 1];
};

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

struct console {
	struct event_base *base;
	struct guest *g;
	struct hv_sim_domain *dom;
	struct xenbus *xb;
	struct xencons_interface *intf;
	evtchn_port_t port;
	unsigned domid;
	char name[GUEST_NAME_MAX + 1];
	char rundir[PATH_MAX];

	/* The ring: our indices, and whether the backend's were bad. */
	XENCONS_RING_IDX out_prod, in_cons;
	bool out_bad, in_bad;
	bool pumping;
	struct event *kick_ev;		/* a pump from the loop */

	/* pvguest's own messages, ahead of the shell's output. */
	char msg[CONSOLE_MSG_MAX];
	size_t msg_len;
	unsigned long long msg_dropped;

	/* Input taken from the in ring, not yet written to the pty. */
	char in[RING_IN_SIZE];
	size_t in_len, in_off;

	/* The shell. */
	bool shell_off;			/* --no-console-shell, or given up */
	char *cmd;			/* the command line (malloc'd) */
	char *cmd_words;		/* cmd split in place, for argv */
	struct child_args args;
	char env_buf[SHELL_ENV_MAX][PATH_MAX + 16];
	char user[64];
	char exe[PATH_MAX];
	int master;			/* -1: no pty */
	int sock;			/* waiting for the master from the child, or -1 */
	struct event *sock_ev;
	struct event *rd_ev, *wr_ev;
	bool rd_on, wr_on;
	pid_t pid;			/* the child: init of its namespace, or the shell */
	int pidfd;
	struct event *pid_ev;
	bool reaped, hung_up;
	int status;
	struct timespec started;
	unsigned fast_exits;
	struct event *respawn_ev;

	/* Devices announced. */
	bool watching, listing_types, types_again;
	struct dtype types[DEV_TYPES_MAX];
	unsigned ntypes;
	struct dev devs[CONSOLE_DEVS_MAX];
	unsigned ndevs;
	bool devs_full_said;
};

static void pump(struct console *c);

/* ------------------------------------------------------------ the ring */

/* Room in the out ring; 0 when the backend's index is not sane. */
static size_t out_room(struct console *c)
{
	XENCONS_RING_IDX cons = ((volatile struct xencons_interface *)c->intf)->out_cons;
	XENCONS_RING_IDX used = c->out_prod - cons;

	/* The index before the bytes: we must not overwrite what it has
	 * not consumed. */
	PVD_MB();
	if (used > RING_OUT_SIZE) {
		if (!c->out_bad)
			log_warn("console: out_cons %u is more than a ring from out_prod %u: output stops",
				 (unsigned)cons, (unsigned)c->out_prod);
		c->out_bad = true;
		return 0;
	}
	if (c->out_bad)
		log_info("console: out indices sane again");
	c->out_bad = false;
	return RING_OUT_SIZE - used;
}

static void notify(struct console *c)
{
	int rc = hv_sim_evtchn_notify(c->dom, c->port);

	if (rc < 0)
		log_debug("console: notify port %u: %s", c->port, strerror(-rc));
}

/* len <= out_room(). */
static void out_put(struct console *c, const char *buf, size_t len)
{
	size_t at = MASK_XENCONS_IDX(c->out_prod, c->intf->out);
	size_t first = len < RING_OUT_SIZE - at ? len : RING_OUT_SIZE - at;

	memcpy(c->intf->out + at, buf, first);
	memcpy(c->intf->out, buf + first, len - first);
	PVD_WMB();
	c->out_prod += (XENCONS_RING_IDX)len;
	((volatile struct xencons_interface *)c->intf)->out_prod = c->out_prod;
	notify(c);
}

/* Takes what the in ring holds into c->in (empty on entry): bytes taken. */
static size_t in_take(struct console *c)
{
	XENCONS_RING_IDX prod = ((volatile struct xencons_interface *)c->intf)->in_prod;
	XENCONS_RING_IDX avail = prod - c->in_cons;
	size_t at, first;

	PVD_RMB();
	if (avail > RING_IN_SIZE) {
		if (!c->in_bad)
			log_warn("console: in_prod %u is more than a ring from in_cons %u: input stops",
				 (unsigned)prod, (unsigned)c->in_cons);
		c->in_bad = true;
		return 0;
	}
	if (c->in_bad)
		log_info("console: in indices sane again");
	c->in_bad = false;
	if (!avail)
		return 0;
	at = MASK_XENCONS_IDX(c->in_cons, c->intf->in);
	first = avail < RING_IN_SIZE - at ? avail : RING_IN_SIZE - at;
	memcpy(c->in, c->intf->in + at, first);
	memcpy(c->in + first, c->intf->in, avail - first);
	/* The copy is done before the space is handed back. */
	PVD_MB();
	c->in_cons += avail;
	((volatile struct xencons_interface *)c->intf)->in_cons = c->in_cons;
	notify(c);
	c->in_len = avail;
	c->in_off = 0;
	return avail;
}

static void ev_set(struct event *ev, bool *on, bool want)
{
	if (*on == want)
		return;
	if (want ? event_add(ev, NULL) : event_del(ev)) {
		log_warn("console: cannot %s a pty event", want ? "add" : "remove");
		return;
	}
	*on = want;
}

static void shell_hangup(struct console *c);

/* In ring -> pty.  Without a pty: input waits in the ring while a shell
 * is coming, and is discarded when none will. */
static void pump_in(struct console *c)
{
	for (int i = 0; i < PUMP_BUDGET; i++) {
		if (c->in_off == c->in_len) {
			c->in_off = c->in_len = 0;
			if (c->master < 0 && !c->shell_off)
				return;
			if (!in_take(c))
				return;
		}
		if (c->master < 0) {
			c->in_off = c->in_len;	/* nobody to read it */
			continue;
		}
		ssize_t n = write(c->master, c->in + c->in_off, c->in_len - c->in_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ev_set(c->wr_ev, &c->wr_on, true);
				return;
			}
			/* EIO: the shell's side is closed; its exit restarts it. */
			c->in_off = c->in_len;
			continue;
		}
		c->in_off += (size_t)n;
	}
	/* Budget spent: come back from the loop. */
	event_active(c->kick_ev, EV_TIMEOUT, 0);
}

/* Our messages, then the pty -> out ring. */
static void pump_out(struct console *c)
{
	char buf[RING_OUT_SIZE];

	for (int i = 0; i < PUMP_BUDGET; i++) {
		size_t room = out_room(c);

		if (!room) {
			/* The backend's notification resumes us. */
			if (c->master >= 0)
				ev_set(c->rd_ev, &c->rd_on, false);
			return;
		}
		if (c->msg_len) {
			size_t n = c->msg_len < room ? c->msg_len : room;

			out_put(c, c->msg, n);
			memmove(c->msg, c->msg + n, c->msg_len - n);
			c->msg_len -= n;
			continue;
		}
		if (c->master < 0)
			return;
		ev_set(c->rd_ev, &c->rd_on, true);
		ssize_t n = read(c->master, buf, room);

		if (n > 0) {
			out_put(c, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* EIO (or 0): every holder of the slave is gone; what
		 * shell_hangup says is written on the next pass. */
		shell_hangup(c);
	}
	event_active(c->kick_ev, EV_TIMEOUT, 0);
}

static void pump(struct console *c)
{
	if (c->pumping)
		return;
	c->pumping = true;
	pump_in(c);
	pump_out(c);
	c->pumping = false;
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

static void on_port(void *arg, evtchn_port_t port)
{
	pump(arg);
}

static void on_master_read(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

static void on_master_write(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;

	ev_set(c->wr_ev, &c->wr_on, false);
	pump(c);
}

void console_printf(struct console *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n = snprintf(line, sizeof(line), "pvguest: ");

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	/* The ring is no terminal: the line ending is ours to give. */
	line[n++] = '\r';
	line[n++] = '\n';
	if (c->msg_len + (size_t)n > sizeof(c->msg)) {
		if (!c->msg_dropped)
			log_warn("console: messages waiting for the ring overflow: dropped");
		c->msg_dropped += (unsigned long long)n;
		return;
	}
	memcpy(c->msg + c->msg_len, line, (size_t)n);
	c->msg_len += (size_t)n;
	if (!c->pumping)
		pump(c);
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

static int child_main(void *arg)
{
	struct child_args *a = arg;
	char report[512] = "pvguest: shell namespaces:";
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	bool own_devpts = false;
	sigset_t none;
	struct stat st;
	pid_t pid;
	int status, fd;

	/* pvguest going (even by SIGKILL) takes the shell with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Nothing of pvguest's (its store socket, pipes, the domain's
	 * memory files and lock, its stdio): our socket at 3, /dev/null
	 * until the pty. */
	if (a->sock != 3 && dup2(a->sock, 3) < 0)
		_exit(126);
	close_from(4);
	fd = open("/dev/null", O_RDWR);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
	    dup2(fd, STDERR_FILENO) < 0)
		_exit(126);
	close(fd);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (a->flags & CLONE_NEWUSER) {
		int rc;

		/* We are pvguest's copy, not dumpable after its setuid: our
		 * /proc files are root's until we say otherwise. */
		prctl(PR_SET_DUMPABLE, 1);
		rc = write_file("/proc/self/setgroups", "deny");
		if (rc == 0)
			rc = write_file("/proc/self/gid_map", a->gid_map);
		if (rc == 0)
			rc = write_file("/proc/self/uid_map", a->uid_map);
		prctl(PR_SET_DUMPABLE, 0);
		s_add(report, sizeof(report), " user");
		if (rc < 0) {
			s_add(report, sizeof(report), " (no id map: errno ");
			s_num(report, sizeof(report), -rc);
			s_add(report, sizeof(report), ")");
		}
	}
	if (a->flags & CLONE_NEWUTS)
		s_add(report, sizeof(report), " uts");
	if (a->flags & CLONE_NEWPID)
		s_add(report, sizeof(report), " pid");
	if (a->flags & CLONE_NEWNS)
		s_add(report, sizeof(report), " mount");
	if (!(a->flags & (CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWNS)))
		s_add(report, sizeof(report), " none (not permitted)");
	if (a->flags & CLONE_NEWUTS) {
		if (sethostname(a->hostname, strlen(a->hostname)) == 0) {
			s_add(report, sizeof(report), "; hostname ");
			s_add(report, sizeof(report), a->hostname);
		} else {
			s_add(report, sizeof(report), "; hostname not set: errno ");
			s_num(report, sizeof(report), errno);
		}
	} else {
		s_add(report, sizeof(report), "; hostname not set");
	}
	/* Never propagate our mounts to the host's namespace. */
	if ((a->flags & CLONE_NEWNS) &&
	    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == 0) {
		if ((a->flags & CLONE_NEWPID) &&
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) == 0)
			s_add(report, sizeof(report), "; own /proc");
		/* Its ptys (the console's too) out of other guests' reach. */
		if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
			  DEVPTS_OPTS) == 0) {
			own_devpts = true;
			s_add(report, sizeof(report), "; own /dev/pts");
		}
		if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, TMP_OPTS) == 0)
			s_add(report, sizeof(report), "; private /tmp");
		/* The host's run directory (other guests' files) is none of
		 * the guest's business.  Under /tmp it is gone already. */
		if (stat(a->rundir, &st) == 0 && S_ISDIR(st.st_mode) &&
		    mount("tmpfs", a->rundir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  HIDE_OPTS) == 0)
			s_add(report, sizeof(report), "; run directory hidden");
	}
	fd = child_pty(own_devpts);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
	    dup2(fd, STDERR_FILENO) < 0)
		_exit(126);
	if (fd > STDERR_FILENO)
		close(fd);
	if (chdir(a->home) < 0 && chdir("/") < 0) {
		/* Then wherever we are. */
	}
	s_add(report, sizeof(report), "\n");
	if (write(STDERR_FILENO, report, strlen(report)) < 0) {
		/* The console is gone already: the shell will find out. */
	}
	if (!(a->flags & CLONE_NEWPID))
		exec_shell(a);

	/* The namespace's init: the shell is its only child; orphans come to
	 * us and are reaped; when the shell ends, so do we, and the kernel
	 * kills whatever is left in the namespace. */
	pid = _Fork();
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

/* ------------------------------------------------------------ the shell */

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

static int setenv_slot(struct console *c, unsigned *n, const char *k, const char *v)
{
	if (*n >= SHELL_ENV_MAX ||
	    snprintf(c->env_buf[*n], sizeof(c->env_buf[*n]), "%s=%s", k, v) >=
		    (int)sizeof(c->env_buf[*n]))
		return -ENAMETOOLONG;
	c->args.envp[*n] = c->env_buf[*n];
	(*n)++;
	c->args.envp[*n] = NULL;
	return 0;
}

/* Where our argv is (/proc/self/stat: arg_start, arg_end), so that the
 * init can say what it is in ps. */
static void title_prepare(struct console *c)
{
	char buf[1024], *p, *save;
	unsigned long start = 0, end = 0;
	ssize_t n;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), field = 2;

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* The name may hold anything: the last ')' ends it; field 3 next. */
	p = strrchr(buf, ')');
	if (!p)
		return;
	for (p = strtok_r(p + 1, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		if (++field == 48)
			start = strtoul(p, NULL, 10);
		else if (field == 49)
			end = strtoul(p, NULL, 10);
	}
	if (!start || end <= start || end - start > 65536)
		return;
	c->args.title_at = (char *)start;
	c->args.title_len = end - start;
	snprintf(c->args.title, sizeof(c->args.title), "pvguest-init dom%u", c->domid);
}

/* Everything the child needs, once: user, home, environment, argv. */
static int shell_prepare(struct console *c, const struct console_config *cfg)
{
	struct child_args *a = &c->args;
	struct passwd pw, *res = NULL;
	char pwbuf[4096], home[PATH_MAX];
	const char *env = getenv("PVD_GUEST_SHELL");
	const char *path;
	struct stat st;
	unsigned ne = 0, na = 0;
	int rc;

	c->cmd = strdup(cfg->shell ? cfg->shell :
			env && *env ? env : CONSOLE_SHELL_DEFAULT);
	if (!c->cmd)
		return -ENOMEM;
	a->uid = geteuid();
	a->gid = getegid();
	snprintf(a->uid_map, sizeof(a->uid_map), "%u %u 1\n", (unsigned)a->uid,
		 (unsigned)a->uid);
	snprintf(a->gid_map, sizeof(a->gid_map), "%u %u 1\n", (unsigned)a->gid,
		 (unsigned)a->gid);
	getpwuid_r(a->uid, &pw, pwbuf, sizeof(pwbuf), &res);
	snprintf(c->user, sizeof(c->user), "%s", res ? pw.pw_name : "guest");
	/* A home of its own if the user has one we can use (nobody's is
	 * /nonexistent); else /tmp, private to the shell when it has a mount
	 * namespace. */
	if (res && pw.pw_dir[0] == '/' && stat(pw.pw_dir, &st) == 0 &&
	    S_ISDIR(st.st_mode) && access(pw.pw_dir, W_OK | X_OK) == 0)
		snprintf(home, sizeof(home), "%s", pw.pw_dir);
	else
		snprintf(home, sizeof(home), "/tmp");
	path = a->uid == 0 ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
			   : "/usr/local/bin:/usr/bin:/bin";
	if ((rc = setenv_slot(c, &ne, "HOME", home)) < 0 ||
	    (rc = setenv_slot(c, &ne, "TERM", "xterm")) < 0 ||
	    (rc = setenv_slot(c, &ne, "PATH", path)) < 0 ||
	    (rc = setenv_slot(c, &ne, "USER", c->user)) < 0 ||
	    (rc = setenv_slot(c, &ne, "LOGNAME", c->user)) < 0 ||
	    (rc = setenv_slot(c, &ne, "SHELL", "/bin/sh")) < 0)
		return rc;
	a->home = c->env_buf[0] + strlen("HOME=");
	title_prepare(c);
	a->hostname = c->name;
	a->rundir = c->rundir;
	if (is_simple(c->cmd)) {
		/* Run directly: the shell is the session leader, no sh -c in
		 * between. */
		c->cmd_words = strdup(c->cmd);
		if (!c->cmd_words)
			return -ENOMEM;
		for (char *save, *w = strtok_r(c->cmd_words, " ", &save); w;
		     w = strtok_r(NULL, " ", &save)) {
			if (na == SHELL_ARGS_MAX)
				return -E2BIG;
			a->argv[na++] = w;
		}
		if (!na)
			return -EINVAL;
		rc = find_exe(a->argv[0], path, c->exe, sizeof(c->exe));
		if (rc < 0) {
			log_err("console shell '%s': %s not found on %s", c->cmd,
				a->argv[0], path);
			return rc;
		}
		a->exe = c->exe;
	} else {
		a->argv[na++] = "sh";
		a->argv[na++] = "-c";
		a->argv[na++] = c->cmd;
		a->exe = "/bin/sh";
	}
	a->argv[na] = NULL;
	return 0;
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg);
static void session_signal(pid_t sid, int sig);
static void shell_kill(struct console *c);
static void on_respawn(evutil_socket_t fd, short what, void *arg);

/* The child's pty master: the shell's output starts flowing. */
static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;
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

	n = recvmsg(c->sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		event_add(c->sock_ev, NULL);
		return;
	}
	cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&m, CMSG_DATA(cm), sizeof(int));
	event_free(c->sock_ev);
	c->sock_ev = NULL;
	close(c->sock);
	c->sock = -1;
	if (m >= 0 && (!isatty(m) || fcntl(m, F_SETFL, O_NONBLOCK | O_RDWR) < 0)) {
		close(m);
		m = -1;
	}
	if (m < 0) {
		/* It died on the way; its exit says the rest. */
		log_warn("console: the shell's process sent no pty");
		shell_hangup(c);
		return;
	}
	c->master = m;
	c->rd_ev = event_new(c->base, m, EV_READ | EV_PERSIST, on_master_read, c);
	c->wr_ev = event_new(c->base, m, EV_WRITE, on_master_write, c);
	if (!c->rd_ev || !c->wr_ev) {
		log_err("console: out of memory");
		shell_hangup(c);
		return;
	}
	ev_set(c->rd_ev, &c->rd_on, true);
	pump(c);
}

/* clone() with as many namespaces as the kernel gives us. */
static pid_t clone_child(struct console *c, void *stack_top)
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

		c->args.flags = flags;
		pid = clone(child_main, stack_top, flags | SIGCHLD, &c->args);
		if (pid >= 0)
			break;
		err = errno;
		log_debug("console: clone with namespaces %#x: %s", (unsigned)flags,
			  strerror(err));
	}
	if (pid < 0)
		errno = err;
	else if (c->args.flags != (int)(sets[0] | (root ? 0 : CLONE_NEWUSER)))
		log_info("console: the shell got fewer namespaces (%#x): %s",
			 (unsigned)c->args.flags, strerror(err));
	return pid;
}

static void shell_spawn(struct console *c)
{
	void *stack;
	int sv[2] = { -1, -1 }, rc;

	if (c->shell_off)
		return;
	c->reaped = c->hung_up = false;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("console: socketpair: %s", strerror(errno));
		goto off;
	}
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		log_err("console: cannot allocate the child's stack: %s", strerror(errno));
		goto off;
	}
	c->args.sock = sv[1];
	c->pid = clone_child(c, (char *)stack + CHILD_STACK);
	rc = errno;
	/* The child has its copies. */
	munmap(stack, CHILD_STACK);
	close(sv[1]);
	sv[1] = -1;
	if (c->pid < 0) {
		log_err("console: cannot start the shell: %s", strerror(rc));
		console_printf(c, "cannot start the shell: %s", strerror(rc));
		goto off;
	}
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	c->sock = sv[0];
	sv[0] = -1;
	c->sock_ev = event_new(c->base, c->sock, EV_READ, on_sock, c);
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (c->pidfd < 0) {
		log_err("console: pidfd_open %d: %s", (int)c->pid, strerror(errno));
		goto off;
	}
	c->pid_ev = event_new(c->base, c->pidfd, EV_READ, on_pidfd, c);
	if (!c->sock_ev || !c->pid_ev || event_add(c->sock_ev, NULL) < 0 ||
	    event_add(c->pid_ev, NULL) < 0) {
		log_err("console: cannot watch the shell");
		goto off;
	}
	log_info("console: shell '%s' started, pid %d", c->cmd, (int)c->pid);
	return;
off:
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	c->shell_off = true;
	/* Whatever was started goes. */
	shell_kill(c);
	if (c->pidfd >= 0) {
		close(c->pidfd);
		c->pidfd = -1;
	}
	if (c->pid_ev) {
		event_free(c->pid_ev);
		c->pid_ev = NULL;
	}
	if (c->sock_ev) {
		event_free(c->sock_ev);
		c->sock_ev = NULL;
	}
	if (c->sock >= 0) {
		close(c->sock);
		c->sock = -1;
	}
	shell_hangup(c);
}

/* Once the shell is reaped and its pty hung up: start another. */
static void shell_ended(struct console *c)
{
	struct timespec now;
	struct timeval delay = { 0, 0 };
	int64_t lived_ns;

	if (!c->reaped || !c->hung_up || c->shell_off)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	lived_ns = (int64_t)(now.tv_sec - c->started.tv_sec) * 1000000000 +
		   (now.tv_nsec - c->started.tv_nsec);
	if (lived_ns < (int64_t)FAST_EXIT_SECS * 1000000000) {
		if (++c->fast_exits >= FAST_EXITS_MAX) {
			console_printf(c, "the shell keeps exiting at once: not starting it again");
			log_warn("console: the shell exited at once %u times: given up",
				 c->fast_exits);
			c->shell_off = true;
			pump(c);	/* input is discarded from now on */
			return;
		}
		delay.tv_sec = FAST_EXIT_SECS;
	} else {
		c->fast_exits = 0;
	}
	if (WIFEXITED(c->status))
		console_printf(c, "the shell exited (status %d); starting a new one",
			       WEXITSTATUS(c->status));
	else
		console_printf(c, "the shell was killed (signal %d); starting a new one",
			       WTERMSIG(c->status));
	evtimer_add(c->respawn_ev, &delay);
}

static void on_respawn(evutil_socket_t fd, short what, void *arg)
{
	shell_spawn(arg);
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;
	pid_t w;

	/* Without a PID namespace, the shell's jobs get what a hangup gives
	 * them (with one, the kernel killed them with the init). */
	if (!(c->args.flags & CLONE_NEWPID))
		session_signal(c->pid, SIGHUP);
	do
		w = waitpid(c->pid, &c->status, WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w == 0) {
		/* Not yet: EV_READ is one-shot, look again. */
		event_add(c->pid_ev, NULL);
		return;
	}
	if (w < 0)
		c->status = 0;	/* reaped by someone else: nothing to say */
	event_free(c->pid_ev);
	c->pid_ev = NULL;
	close(c->pidfd);
	c->pidfd = -1;
	log_info("console: shell pid %d ended (wait status %#x)", (int)c->pid,
		 (unsigned)c->status);
	c->pid = 0;
	c->reaped = true;
	shell_ended(c);
}

/* The pty's last holder is gone (or the shell never started). */
static void shell_hangup(struct console *c)
{
	if (c->rd_ev) {
		event_free(c->rd_ev);
		c->rd_ev = NULL;
	}
	if (c->wr_ev) {
		event_free(c->wr_ev);
		c->wr_ev = NULL;
	}
	c->rd_on = c->wr_on = false;
	if (c->master >= 0) {
		close(c->master);
		c->master = -1;
	}
	/* What the old shell was not given goes with it. */
	c->in_off = c->in_len = 0;
	c->hung_up = true;
	shell_ended(c);
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
		char path[64], buf[512], *p;
		long pid = strtol(de->d_name, &p, 10);
		int fd, sess = 0;
		ssize_t n;

		if (*p || pid <= 0 || pid == sid)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "pid (comm) state ppid pgrp session ...": comm may hold
		 * anything, the last ')' ends it. */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %*c %*d %*d %d", &sess) == 1 && sess == sid)
			kill((pid_t)pid, sig);
	}
	closedir(d);
}

/* Kills the child and everything in its namespaces (or its session);
 * bounded wait. */
static void shell_kill(struct console *c)
{
	if (c->pid <= 0)
		return;
	if (!(c->args.flags & CLONE_NEWPID))
		session_signal(c->pid, SIGKILL);
	kill(c->pid, SIGKILL);
	for (int i = 0; i < 100; i++) {
		pid_t w = waitpid(c->pid, NULL, WNOHANG);

		if (w == c->pid || (w < 0 && errno != EINTR))
			break;
		usleep(10000);
	}
	c->pid = 0;
}

/* ------------------------------------------------------------ devices */

static bool dev_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= DEV_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static bool numeric(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

static void list_type(struct console *c, struct dtype *t);

static void on_type_dir(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct dtype *t = arg;
	struct console *c = t->c;
	const char *names[CONSOLE_DEVS_MAX];
	unsigned n = 0;

	t->listing = false;
	if (hdr->type == XS_DIRECTORY) {
		for (const char *s = body; s < body + hdr->len; s += strlen(s) + 1)
			if (numeric(s) && dev_name_ok(s) && n < CONSOLE_DEVS_MAX)
				names[n++] = s;
	} else if (hdr->type != XS_ERROR || strcmp(body, "ENOENT") != 0) {
		log_debug("console: cannot list device/%s", t->name);
		goto again;
	}
	for (unsigned i = 0; i < c->ndevs;) {
		struct dev *d = &c->devs[i];
		bool found = strcmp(d->type, t->name) != 0;

		for (unsigned j = 0; j < n && !found; j++)
			found = strcmp(names[j], d->id) == 0;
		if (found) {
			i++;
			continue;
		}
		console_printf(c, "device %s/%s removed", d->type, d->id);
		*d = c->devs[--c->ndevs];
	}
	for (unsigned j = 0; j < n; j++) {
		bool known = false;

		for (unsigned i = 0; i < c->ndevs && !known; i++)
			known = strcmp(c->devs[i].type, t->name) == 0 &&
				strcmp(c->devs[i].id, names[j]) == 0;
		if (known)
			continue;
		if (c->ndevs == CONSOLE_DEVS_MAX) {
			if (!c->devs_full_said)
				console_printf(c, "more than %u devices: no more announced",
					       CONSOLE_DEVS_MAX);
			c->devs_full_said = true;
			break;
		}
		snprintf(c->devs[c->ndevs].type, sizeof(c->devs[0].type), "%s", t->name);
		snprintf(c->devs[c->ndevs].id, sizeof(c->devs[0].id), "%s", names[j]);
		c->ndevs++;
		console_printf(c, "device %s/%s", t->name, names[j]);
	}
again:
	if (t->again)
		list_type(c, t);
}

static void list_type(struct console *c, struct dtype *t)
{
	char path[sizeof(CON_WATCH_PATH) + DEV_NAME_MAX + 1];
	int n;

	if (t->listing) {
		t->again = true;
		return;
	}
	t->again = false;
	n = snprintf(path, sizeof(path), CON_WATCH_PATH "/%s", t->name);
	if (xenbus_request(c->xb, XS_DIRECTORY, 0, path, (uint32_t)n + 1,
			   on_type_dir, t) == 0)
		t->listing = true;
}

static struct dtype *type_get(struct console *c, const char *name, size_t len)
{
	struct dtype *t;

	for (unsigned i = 0; i < c->ntypes; i++)
		if (strlen(c->types[i].name) == len &&
		    memcmp(c->types[i].name, name, len) == 0)
			return &c->types[i];
	if (c->ntypes == DEV_TYPES_MAX || len > DEV_NAME_MAX)
		return NULL;
	t = &c->types[c->ntypes++];
	t->c = c;
	memcpy(t->name, name, len);
	t->name[len] = '\0';
	if (!dev_name_ok(t->name)) {
		c->ntypes--;
		return NULL;
	}
	return t;
}

static void list_types(struct console *c);

static void on_types_dir(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct console *c = arg;

	c->listing_types = false;
	if (hdr->type == XS_DIRECTORY) {
		for (const char *s = body; s < body + hdr->len; s += strlen(s) + 1) {
			struct dtype *t = type_get(c, s, strlen(s));

			if (t)
				list_type(c, t);
		}
	}
	if (c->types_again)
		list_types(c);
}

static void list_types(struct console *c)
{
	if (c->listing_types) {
		c->types_again = true;
		return;
	}
	c->types_again = false;
	if (xenbus_request(c->xb, XS_DIRECTORY, 0, CON_WATCH_PATH, sizeof(CON_WATCH_PATH),
			   on_types_dir, c) == 0)
		c->listing_types = true;
}

/* "device", "device/<type>", "device/<type>/<id>/...": list what may
 * have changed; events below a known device cost nothing. */
static void con_device_event(void *arg, const char *path, const char *token)
{
	struct console *c = arg;
	const char *type, *end, *id, *idend;
	struct dtype *t;
	size_t tlen, ilen;

	if (strcmp(path, CON_WATCH_PATH) == 0) {
		list_types(c);
		return;
	}
	if (strncmp(path, CON_WATCH_PATH "/", sizeof(CON_WATCH_PATH)) != 0)
		return;
	type = path + sizeof(CON_WATCH_PATH);
	end = strchr(type, '/');
	tlen = end ? (size_t)(end - type) : strlen(type);
	t = type_get(c, type, tlen);
	if (!t)
		return;
	if (end) {
		id = end + 1;
		idend = strchr(id, '/');
		ilen = idend ? (size_t)(idend - id) : strlen(id);
		for (unsigned i = 0; idend && i < c->ndevs; i++)
			if (strcmp(c->devs[i].type, t->name) == 0 &&
			    strlen(c->devs[i].id) == ilen &&
			    memcmp(c->devs[i].id, id, ilen) == 0)
				return;
	}
	list_type(c, t);
}

static void con_ignore_reply(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
}

static int devices_start(struct console *c)
{
	static const char watch[] = CON_WATCH_PATH "\0" CON_ROUTE CON_WATCH_PATH;
	int rc;

	rc = xenbus_route_add(c->xb, CON_ROUTE, con_device_event, c);
	if (rc < 0)
		return rc;
	/* Fires once at once: the first listing. */
	rc = xenbus_request(c->xb, XS_WATCH, 0, watch, sizeof(watch), con_ignore_reply, NULL);
	if (rc < 0) {
		xenbus_route_del(c->xb, CON_ROUTE);
		return rc;
	}
	c->watching = true;
	return 0;
}

static void devices_stop(struct console *c)
{
	static const char watch[] = CON_WATCH_PATH "\0" CON_ROUTE CON_WATCH_PATH;

	if (!c->watching)
		return;
	xenbus_route_del(c->xb, CON_ROUTE);
	xenbus_request(c->xb, XS_UNWATCH, 0, watch, sizeof(watch), con_ignore_reply, NULL);
	xenbus_cancel(c->xb, on_types_dir, c);
	for (unsigned i = 0; i < c->ntypes; i++)
		xenbus_cancel(c->xb, on_type_dir, &c->types[i]);
	c->watching = false;
}

/* ------------------------------------------------------------ start, stop */

/* <rundir> from <rundir>/guests/dom<N>. */
static void rundir_of(struct console *c, const char *gdir)
{
	char *s;

	snprintf(c->rundir, sizeof(c->rundir), "%s", gdir);
	for (int i = 0; i < 2; i++) {
		s = strrchr(c->rundir, '/');
		if (!s || s == c->rundir) {
			c->rundir[0] = '\0';
			return;
		}
		*s = '\0';
	}
}

int console_start(struct console **out, struct event_base *base,
		  struct guest *g, const char *name, const struct console_config *cfg)
{
	struct console *c;
	unsigned long gfn;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->base = base;
	c->g = g;
	c->dom = guest_domain(g);
	c->xb = guest_xenbus(g);
	c->port = guest_console_port(g);
	c->domid = hv_sim_domain_id(c->dom);
	c->master = c->pidfd = c->sock = -1;
	snprintf(c->name, sizeof(c->name), "%s", name);
	rundir_of(c, guest_dir(g));
	gfn = hv_sim_console_page(c->dom);
	c->intf = hv_sim_page(c->dom, gfn);
	if (!c->intf) {
		log_err("console: no console page (%lu)", gfn);
		rc = -EINVAL;
		goto fail;
	}
	/* A new domain's page is zeroed; whatever is there is the start. */
	c->out_prod = c->intf->out_prod;
	c->in_cons = c->intf->in_cons;
	c->kick_ev = event_new(base, -1, 0, on_kick, c);
	c->respawn_ev = evtimer_new(base, on_respawn, c);
	if (!c->kick_ev || !c->respawn_ev) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = guest_port_handler_set(g, c->port, on_port, c);
	if (rc < 0) {
		log_err("console: cannot handle port %u: %s", c->port, strerror(-rc));
		goto fail;
	}
	console_printf(c, "domain %u (%s) booting", c->domid, c->name);
	console_printf(c, "memory: %zu MiB", hv_sim_domain_npages(c->dom) >>
					     (20 - HV_PAGE_SHIFT));
	console_printf(c, "console: page %lu, event channel %u", gfn, c->port);
	rc = devices_start(c);
	if (rc < 0) {
		log_err("console: cannot watch the devices: %s", strerror(-rc));
		goto fail;
	}
	c->shell_off = cfg->no_shell;
	if (!c->shell_off) {
		rc = shell_prepare(c, cfg);
		if (rc < 0) {
			log_err("console: cannot prepare the shell '%s': %s",
				c->cmd ? c->cmd : "", strerror(-rc));
			goto fail;
		}
		console_printf(c, "starting the shell: %s (as %s)", c->cmd, c->user);
		shell_spawn(c);
	}
	*out = c;
	return 0;
fail:
	console_stop(c);
	return rc;
}

void console_stop(struct console *c)
{
	if (!c)
		return;
	c->shell_off = true;
	shell_kill(c);
	if (c->pid_ev)
		event_free(c->pid_ev);
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->sock_ev)
		event_free(c->sock_ev);
	if (c->sock >= 0)
		close(c->sock);
	if (c->respawn_ev)
		event_free(c->respawn_ev);
	if (c->rd_ev)
		event_free(c->rd_ev);
	if (c->wr_ev)
		event_free(c->wr_ev);
	if (c->master >= 0)
		close(c->master);
	devices_stop(c);
	if (c->intf) {
		c->master = -1;
		c->rd_ev = c->wr_ev = NULL;
		/* A last word, if the ring has room: the backend logs it. */
		console_printf(c, "domain %u (%s) shutting down", c->domid, c->name);
		guest_port_handler_set(c->g, c->port, NULL, NULL);
	}
	if (c->kick_ev)
		event_free(c->kick_ev);
	free(c->cmd);
	free(c->cmd_words);
	free(c);
}
