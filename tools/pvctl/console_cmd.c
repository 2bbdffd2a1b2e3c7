/* pvctl console, the command (pvd-consoled is consoled/, a guest's own
 * console tools/pvguest/consfront.c): attach to a domain's console, like
 * `xl console`.
 *
 * The console daemon (pvd-consoled, or xenconsoled) puts the console on a
 * pty and writes the slave's path to /local/domain/N/console/tty
 * (secondary consoles: /local/domain/0/backend/console/N/K/tty).  We wait a
 * bounded time for that node (the daemon may be starting), open the pty,
 * put our terminal in raw mode and copy both ways until Ctrl-] (0x1d),
 * a signal, or the pty hanging up (the daemon or the domain went).
 *
 * The tty node is not trusted blindly: it sits in or near what the guest
 * may write, and a guest that could name any pty would hand it the
 * operator's terminal.  The daemon writes it owned by dom0 (the guest may
 * only read it): the primary's at /local/domain/N/console/tty, where Xen
 * has it, a secondary's in the console's backend directory,
 * /local/domain/0/backend/console/N/K/tty, never in the guest's
 * device/console/K/.  We use a node only if dom0 owns it (the first entry
 * of its permissions, read in one transaction with its value), open only
 * /dev/pts/<number>, without following links, and only if it is a pty
 * slave (Unix98 pty major).  Buffers are bounded both ways: when one side
 * does not take its bytes, the other side is not read. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "pvd/num.h"
#include "pvctl.h"

#define ESCAPE_CHAR 0x1d	/* Ctrl-], as xl console */
#define BUF_SIZE 4096		/* per direction; <= PIPE_BUF: see write_out */
/* Unix98 pty slaves: majors 136..143 (UNIX98_PTY_SLAVE_MAJOR). */
#define PTY_SLAVE_MAJOR_MIN 136u
#define PTY_SLAVE_MAJOR_MAX 143u
#define CONSOLE_NUM_MAX 65535ul
#define WATCH_TOKEN "pvctl-console"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "/dev/pts/<1-9 digits>" only. */
static bool tty_path_ok(const char *s)
{
	const char *d = s + strlen("/dev/pts/");
	size_t n;

	if (strncmp(s, "/dev/pts/", strlen("/dev/pts/")) != 0)
		return false;
	n = strlen(d);
	return n >= 1 && n <= 9 && strspn(d, "0123456789") == n;
}

/* Opens the pty: fd, or -errno (-ENOTTY: not a pty slave). */
static int tty_open(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) ||
	    major(st.st_rdev) < PTY_SLAVE_MAJOR_MIN ||
	    major(st.st_rdev) > PTY_SLAVE_MAJOR_MAX || !isatty(fd)) {
		close(fd);
		return -ENOTTY;
	}
	return fd;
}

/* The tty node's value (NULL: missing), read in one transaction with its
 * permissions: *dom0 says whether dom0 owns it. */
static char *tty_node_read(struct pvctl *p, const char *node, bool *dom0)
{
	xs_transaction_t t = xs_transaction_start(p->xs);
	struct xs_permissions *perms;
	unsigned n = 0;
	char *val = NULL;

	*dom0 = false;
	if (t == XBT_NULL)
		return NULL;
	perms = xs_get_permissions(p->xs, t, node, &n);
	if (perms) {
		*dom0 = n >= 1 && perms[0].id == 0;
		val = pvctl_read(p, t, "%s", node);
	}
	free(perms);
	xs_transaction_end(p->xs, t, true);
	return val;
}

/* Waits (bounded) for the tty node and opens it: the fd, -EINTR on a
 * signal, or another -errno after printing why not.  A node naming a pty
 * that does not exist (left by a daemon killed with SIGKILL) is waited on
 * like a missing one: the daemon, started again, rewrites it. */
static int tty_wait_open(struct pvctl *p, int sigfd, const char *what,
			 const char *node, char *tty, size_t ttylen)
{
	long long deadline = now_ms() + PVCTL_CONSOLE_WAIT_MS;
	bool watching = xs_watch(p->xs, node, WATCH_TOKEN);
	int fd = -ENOENT, last = 0;
	char *val = NULL;
	bool dom0;

	tty[0] = '\0';
	for (;;) {
		struct pollfd pf[2] = {
			{ .fd = watching ? xs_fileno(p->xs) : -1, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
		};
		long long left;

		free(val);
		val = tty_node_read(p, node, &dom0);
		if (val && *val) {
			if (!dom0) {
				pvctl_err("%s: the tty node %s is not owned by dom0: refused",
					  what, node);
				fd = -EPERM;
				break;
			}
			if (!tty_path_ok(val)) {
				pvctl_printable(val);
				pvctl_err("%s: the tty node names '%s', not a pty", what, val);
				fd = -EINVAL;
				break;
			}
			snprintf(tty, ttylen, "%s", val);
			fd = tty_open(val);
			if (fd >= 0)
				break;
			last = -fd;
			if (fd != -ENOENT && fd != -ENXIO && fd != -EIO) {
				pvctl_err("%s: cannot open %s: %s", what, val,
					  fd == -ENOTTY ? "not a pty" : strerror(-fd));
				break;
			}
		} else {
			tty[0] = '\0';
		}
		left = deadline - now_ms();
		if (left <= 0) {
			if (!tty[0])
				pvctl_err("%s has no tty after %d s: is pvd-consoled running?",
					  what, PVCTL_CONSOLE_WAIT_MS / 1000);
			else
				pvctl_err("%s: cannot open %s: %s (is pvd-consoled running?)",
					  what, tty, strerror(last));
			fd = -ETIMEDOUT;
			break;
		}
		/* The watch wakes us when the node changes; without one
		 * (or for a stale node) we look again every 100 ms. */
		if (left > 100)
			left = 100;
		if (poll(pf, 2, (int)left) > 0) {
			char **ev;

			if (pf[1].revents & POLLIN) {
				fd = -EINTR;	/* interrupted: nothing to say */
				break;
			}
			while (watching && (ev = xs_check_watch(p->xs)))
				free(ev);
		}
	}
	free(val);
	if (watching)
		xs_unwatch(p->xs, node, WATCH_TOKEN);
	return fd;
}

struct relay {
	int tty, sigfd;
	char in[BUF_SIZE], out[BUF_SIZE];	/* to the tty, to stdout */
	size_t in_len, in_off, out_len, out_off;
	bool in_eof;
};

enum relay_end { END_NONE, END_DETACH, END_SIGNAL, END_HANGUP, END_ERROR };

/* Writes what fits without blocking for long: at most BUF_SIZE after
 * POLLOUT (a pipe then has a free page). */
static int write_some(int fd, const char *buf, size_t *off, size_t len)
{
	ssize_t n = write(fd, buf + *off, len - *off);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	*off += (size_t)n;
	return 0;
}

/* Which side to poll for what: a side is read only when what it gave
 * before is gone. */
static void relay_events(const struct relay *r, struct pollfd pf[4])
{
	if (!r->in_eof && r->in_len == r->in_off)
		pf[0].events = POLLIN;
	if (r->out_len == r->out_off)
		pf[1].events = POLLIN;
	if (r->in_len > r->in_off)
		pf[1].events |= POLLOUT;
	if (r->out_len > r->out_off)
		pf[2].events = POLLOUT;
	if (!pf[0].events)
		pf[0].fd = -1;
	if (!pf[2].events)
		pf[2].fd = -1;
}

/* The pty's output to stdout, stdin's to the pty, once each can take it. */
static enum relay_end relay_write(struct relay *r, const struct pollfd pf[4],
				  const char **why)
{
	if (pf[2].revents & (POLLOUT | POLLERR | POLLHUP)) {
		if (write_some(STDOUT_FILENO, r->out, &r->out_off, r->out_len) < 0) {
			*why = "writing the output failed";
			return END_ERROR;
		}
		if (r->out_off == r->out_len)
			r->out_off = r->out_len = 0;
	}
	if (pf[1].revents & POLLOUT) {
		if (write_some(r->tty, r->in, &r->in_off, r->in_len) < 0)
			return END_HANGUP;
		if (r->in_off == r->in_len)
			r->in_off = r->in_len = 0;
	}
	return END_NONE;
}

static enum relay_end relay_read_tty(struct relay *r)
{
	ssize_t n = read(r->tty, r->out, sizeof(r->out));

	if (n > 0) {
		r->out_off = 0;
		r->out_len = (size_t)n;
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		/* EIO: the daemon closed the master. */
		return END_HANGUP;
	}
	return END_NONE;
}

static enum relay_end relay_read_stdin(struct relay *r)
{
	ssize_t n = read(STDIN_FILENO, r->in, sizeof(r->in));
	char *esc;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return END_NONE;
	if (n <= 0) {
		/* Not a terminal, and its input ended: keep showing the
		 * console until told to stop. */
		r->in_eof = true;
		return END_NONE;
	}
	r->in_off = 0;
	r->in_len = (size_t)n;
	esc = memchr(r->in, ESCAPE_CHAR, r->in_len);
	if (!esc)
		return END_NONE;
	/* What came before it, if the pty takes it now: a console that
	 * stopped reading must not keep us from detaching. */
	r->in_len = (size_t)(esc - r->in);
	write_some(r->tty, r->in, &r->in_off, r->in_len);
	return END_DETACH;
}

static enum relay_end relay_run(struct relay *r, const char **why)
{
	for (;;) {
		struct pollfd pf[4] = {
			{ .fd = STDIN_FILENO }, { .fd = r->tty }, { .fd = STDOUT_FILENO },
			{ .fd = r->sigfd, .events = POLLIN },
		};
		enum relay_end end = END_NONE;

		relay_events(r, pf);
		if (poll(pf, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			return END_ERROR;
		}
		if (pf[3].revents & POLLIN)
			return END_SIGNAL;
		end = relay_write(r, pf, why);
		if (end == END_NONE && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
			end = relay_read_tty(r);
		if (end == END_NONE && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			end = relay_read_stdin(r);
		if (end != END_NONE)
			return end;
	}
}

/* What `pvctl console` is working on. */
struct session {
	const char *dom;        /* as given: a domid or a name */
	uint64_t num;           /* the console: 0 or a secondary one */
	unsigned domid;
	char *dname;            /* dom, printable */
	char node[128];         /* the console's directory, then its tty node */
	char what[160];         /* "domain 'web'" or "domain 'web' console 1" */
	char tty[64];
	struct relay r;
};

/* DOMAIN [--num N]: 0, or the exit status. */
static int console_args(struct session *s, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;

		if (strcmp(argv[i], "--num") == 0 || strcmp(argv[i], "-n") == 0) {
			if (++i == argc)
				return pvctl_usage(pvctl_find_cmd("console"));
			v = argv[i];
		} else if (strncmp(argv[i], "--num=", 6) == 0) {
			v = argv[i] + 6;
		} else if (argv[i][0] == '-' || s->dom) {
			return pvctl_usage(pvctl_find_cmd("console"));
		} else {
			s->dom = argv[i];
		}
		if (v && pvd_parse_uint(v, CONSOLE_NUM_MAX, &s->num) < 0) {
			pvctl_err("--num: want a console number in 0..%lu, got '%s'",
				  CONSOLE_NUM_MAX, v);
			return 2;
		}
	}
	return s->dom ? 0 : pvctl_usage(pvctl_find_cmd("console"));
}

/* The domain, and its console's tty node: 0 or -errno (told). */
static int console_node(struct pvctl *p, struct session *s)
{
	unsigned long num = (unsigned long)s->num;

	if (pvctl_connect(p) < 0 || pvctl_lookup(p, s->dom, &s->domid) < 0)
		return -ENOENT;
	s->dname = strdup(s->dom);
	if (!s->dname)
		return -ENOMEM;
	pvctl_printable(s->dname);
	if (num == 0) {
		snprintf(s->what, sizeof(s->what), "domain '%s'", s->dname);
		snprintf(s->node, sizeof(s->node), "/local/domain/%u/console", s->domid);
	} else {
		snprintf(s->what, sizeof(s->what), "domain '%s' console %lu", s->dname, num);
		snprintf(s->node, sizeof(s->node), "/local/domain/%u/device/console/%lu",
			 s->domid, num);
	}
	if (pvctl_stat(p, XBT_NULL, s->node) < 0) {
		if (num == 0)
			pvctl_err("domain '%s' has no console", s->dname);
		else
			pvctl_err("domain '%s' has no console %lu", s->dname, num);
		return -ENOENT;
	}
	/* The secondary's tty is in its backend directory, dom0's. */
	if (num == 0)
		strncat(s->node, "/tty", sizeof(s->node) - strlen(s->node) - 1);
	else
		snprintf(s->node, sizeof(s->node),
			 "/local/domain/0/backend/console/%u/%lu/tty", s->domid, num);
	return 0;
}

/* Signals end the session like Ctrl-]: the terminal is restored. */
static int console_signals(struct session *s)
{
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) < 0 ||
	    (s->r.sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		int e = errno;

		pvctl_err("cannot block signals: %s", strerror(e));
		return -e;
	}
	return 0;
}

/* The relay, the terminal in raw mode when stdin is one: the exit status. */
static int console_session(struct session *s)
{
	struct termios saved, raw;
	const char *why = NULL;
	enum relay_end end;
	bool term = false;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
			pvctl_err("cannot put the terminal in raw mode: %s", strerror(errno));
			return 1;
		}
		term = true;
		/* As virsh console: where we are and how to leave (raw mode
		 * now: the line ending is ours). */
		fprintf(stderr, "Connected to %s (%s); Ctrl-] detaches\r\n", s->what, s->tty);
	}
	end = relay_run(&s->r, &why);
	if (term)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (end == END_DETACH || end == END_SIGNAL)
		return 0;
	/* After a raw session the cursor may be anywhere. */
	if (term)
		fputc('\n', stderr);
	if (end == END_HANGUP)
		pvctl_err("%s: the console closed (%s hung up)", s->what, s->tty);
	else
		pvctl_err("%s: %s", s->what, why);
	return 1;
}

int cmd_console(struct pvctl *p, int argc, char **argv)
{
	struct session s = { .r = { .tty = -1, .sigfd = -1 } };
	int rc = console_args(&s, argc, argv);

	if (rc != 0)
		return rc;
	rc = 1;
	if (console_node(p, &s) < 0 || console_signals(&s) < 0)
		goto out;
	s.r.tty = tty_wait_open(p, s.r.sigfd, s.what, s.node, s.tty, sizeof(s.tty));
	if (s.r.tty < 0) {
		if (s.r.tty == -EINTR)
			rc = 130;
		goto out;
	}
	/* The store is not needed any more. */
	pvctl_disconnect(p);
	rc = console_session(&s);
out:
	if (s.r.tty >= 0)
		close(s.r.tty);
	if (s.r.sigfd >= 0)
		close(s.r.sigfd);
	free(s.dname);
	return rc;
}
