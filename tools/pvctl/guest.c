/* pvctl: a domain's pvguest process.
 *
 * pvguest detaches itself: the process pvctl starts forks the guest, waits
 * for it to be ready and exits 0 (or with the guest's failure).  The guest
 * keeps $PVD_RUNDIR/guests/dom<N>/ (its pid file, its log, its xenbus
 * socket) and removes it when it stops.  pvctl starts it in a session of
 * its own with stdin on /dev/null and stdout/stderr on a pipe that pvctl
 * reads during start-up (what pvguest says before it has its log file is
 * how a failure is explained), and waits, bounded, for the line pvguest
 * writes on --ready-fd once its memory, grant table, console and xenstore
 * rings exist:
 *   domid=N store_gfn=G store_port=P console_gfn=C console_port=Q pid=PID
 *
 * A PID outlives its process and may be reused, so pvctl signals one only
 * through a pidfd, after checking that the process is still pvguest for
 * that domid (/proc/PID/cmdline): a pidfd cannot be redirected to a new
 * process that took the number. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pvd/daemon.h"
#include "pvd/num.h"
#include "pvctl.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* $PVD_BIN/pvguest, else pvguest beside our own binary. */
static int guest_exe(char *buf, size_t len)
{
	const char *bin = getenv("PVD_BIN");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (bin && *bin) {
		if (snprintf(buf, len, "%s/pvguest", bin) >= (int)len)
			return -ENAMETOOLONG;
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return -errno;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		if (snprintf(buf, len, "%s/pvguest", self) >= (int)len)
			return -ENAMETOOLONG;
	}
	return access(buf, X_OK) == 0 ? 0 : -errno;
}

bool guest_is(pid_t pid, unsigned domid)
{
	char path[64], buf[4096], want[16], *a, *end;
	const char *base;
	ssize_t n;
	bool next_is_domid = false;
	int fd;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;   /* gone, or a zombie */
	buf[n] = '\0';
	end = buf + n;
	base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	if (strcmp(base, "pvguest") != 0)
		return false;
	snprintf(want, sizeof(want), "%u", domid);
	for (a = buf + strlen(buf) + 1; a < end; a += strlen(a) + 1) {
		if (next_is_domid)
			return strcmp(a, want) == 0;
		if (strcmp(a, "--domid") == 0)
			next_is_domid = true;
		else if (strncmp(a, "--domid=", 8) == 0)
			return strcmp(a + 8, want) == 0;
	}
	return false;
}

/* Waits up to ms for the process behind pidfd to exit. */
static bool pidfd_wait(int pidfd, long ms)
{
	long deadline = now_ms() + ms;

	for (;;) {
		struct pollfd pf = { .fd = pidfd, .events = POLLIN };
		long left = deadline - now_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pf, 1, (int)left);
		if (r > 0)
			return true;
		if (r == 0)
			return false;
		if (errno != EINTR)
			return false;
	}
}

int guest_stop(pid_t pid, unsigned domid)
{
	int pidfd, rc = 0;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return errno == ESRCH ? 0 : -errno;
	if (!guest_is(pid, domid))
		goto out;       /* gone already, or the number was reused */
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0 && errno != ESRCH) {
		rc = -errno;
		goto out;
	}
	if (!pidfd_wait(pidfd, PVCTL_STOP_TIMEOUT_MS)) {
		if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0 &&
		    errno != ESRCH) {
			rc = -errno;
			goto out;
		}
		if (!pidfd_wait(pidfd, PVCTL_STOP_TIMEOUT_MS))
			rc = -ETIMEDOUT;
	}
out:
	/* Our own child (a failed create) is reaped; anyone else's is not
	 * ours to wait for. */
	if (rc == 0)
		waitpid(pid, NULL, WNOHANG);
	close(pidfd);
	return rc;
}

int guest_read_pid(struct pvctl *p, unsigned domid, pid_t *pid)
{
	char path[PATH_MAX], buf[32];
	uint64_t v;
	ssize_t n;
	int fd, rc;

	rc = pvctl_path(p, path, sizeof(path), "guests/dom%u/pid", domid);
	if (rc < 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	/* "PID\n", as pvguest and guest_write_pid write it. */
	if (buf[n - 1] == '\n')
		n--;
	if (pvd_parse_uint_n(buf, (size_t)n, 10, INT_MAX, &v) < 0 || v <= 1)
		return -EINVAL;
	*pid = (pid_t)v;
	return 0;
}

int guest_write_pid(struct pvctl *p, unsigned domid, pid_t pid)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, rc;

	if ((rc = pvctl_path(p, path, sizeof(path), "guests/dom%u/pid", domid)) < 0 ||
	    (rc = pvctl_path(p, tmp, sizeof(tmp), "guests/dom%u/pid.tmp", domid)) < 0)
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (dprintf(fd, "%d\n", (int)pid) < 0 || close(fd) < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return 0;
}

void guest_remove_pid(struct pvctl *p, unsigned domid)
{
	char path[PATH_MAX];

	/* pvguest removes its directory when it stops; after a SIGKILL the
	 * pid file must go (the domain is no more), the rest is cleared by
	 * the next pvguest with this domid. */
	if (pvctl_path(p, path, sizeof(path), "guests/dom%u/pid", domid) == 0)
		unlink(path);
	if (pvctl_path(p, path, sizeof(path), "guests/dom%u", domid) == 0)
		rmdir(path);
}

/* The keys of the ready line, each a decimal number in min..max. */
static const struct ready_key {
	const char *name;
	uint64_t min, max;
} ready_keys[] = {
	{ "domid", 0, PVCTL_DOMID_MAX },
	{ "store_gfn", 0, UINT64_MAX },
	{ "store_port", 0, UINT32_MAX },
	{ "console_gfn", 0, UINT64_MAX },
	{ "console_port", 0, UINT32_MAX },
	{ "pid", 2, INT_MAX },
};
#define READY_KEYS (sizeof(ready_keys) / sizeof(ready_keys[0]))

/* "domid=N store_gfn=G store_port=P console_gfn=C console_port=Q pid=PID";
 * unknown keys are skipped (a later pvguest may say more). */
static int parse_ready(char *line, struct guest_ready *r)
{
	uint64_t v[READY_KEYS];
	unsigned seen = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		unsigned k;

		if (!eq || eq == tok || !eq[1])
			return -EINVAL;
		*eq = '\0';
		for (k = 0; k < READY_KEYS && strcmp(tok, ready_keys[k].name) != 0; k++)
			;
		if (k == READY_KEYS)
			continue;
		if (pvd_parse_uint(eq + 1, ready_keys[k].max, &v[k]) < 0 ||
		    v[k] < ready_keys[k].min)
			return -EINVAL;
		seen |= 1u << k;
	}
	if (seen != (1u << READY_KEYS) - 1)
		return -EINVAL;
	r->domid = (unsigned)v[0];
	r->store_gfn = v[1];
	r->store_port = (unsigned)v[2];
	r->console_gfn = v[3];
	r->console_port = (unsigned)v[4];
	r->pid = (pid_t)v[5];
	return 0;
}

/* The last bytes pvguest wrote on stdout/stderr during start-up. */
struct output {
	char buf[2048];
	size_t len;
	bool eof;
};

static void output_read(struct output *o, int fd)
{
	char tmp[sizeof(o->buf) / 2];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		o->eof = true;
		return;
	}
	if (n < 0)
		return;
	/* tmp is smaller than buf: keep buf's tail and append. */
	if (o->len + (size_t)n > sizeof(o->buf)) {
		size_t drop = o->len + (size_t)n - sizeof(o->buf);

		memmove(o->buf, o->buf + drop, o->len - drop);
		o->len -= drop;
	}
	memcpy(o->buf + o->len, tmp, (size_t)n);
	o->len += (size_t)n;
}

/* Its last non-empty line, printable. */
static void output_last_line(const struct output *o, char *out, size_t len)
{
	size_t e = o->len, b;

	while (e > 0 && (o->buf[e - 1] == '\n' || o->buf[e - 1] == '\r'))
		e--;
	for (b = e; b > 0 && o->buf[b - 1] != '\n'; b--)
		;
	if (e - b >= len)
		b = e - (len - 1);
	memcpy(out, o->buf + b, e - b);
	out[e - b] = '\0';
	pvctl_printable(out);
}

/* Reads the ready line, and pvguest's output meanwhile: 0, -ETIMEDOUT,
 * -EPIPE (closed first: pvguest failed), -EINTR (we were told to stop),
 * -EINVAL (garbled). */
static int read_ready(struct pvctl *p, int fd, int outfd, struct output *o,
		      struct guest_ready *r)
{
	char buf[512];
	size_t n = 0;
	long deadline = now_ms() + PVCTL_READY_TIMEOUT_MS;

	for (;;) {
		struct pollfd pf[3] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = o->eof ? -1 : outfd, .events = POLLIN },
			{ .fd = p->sigfd, .events = POLLIN },
		};
		long left = deadline - now_ms();
		char *nl;
		ssize_t got;
		int pr;

		if (left <= 0)
			return -ETIMEDOUT;
		pr = poll(pf, 3, (int)left);
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pvctl_interrupted(p))
			return -EINTR;
		if (pr <= 0)
			continue;
		if (pf[1].revents)
			output_read(o, outfd);
		if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		got = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EPIPE;
		n += (size_t)got;
		buf[n] = '\0';
		nl = memchr(buf, '\n', n);
		if (nl) {
			*nl = '\0';
			return parse_ready(buf, r);
		}
		if (n == sizeof(buf) - 1)
			return -EINVAL;
	}
}

/* Reads the rest of pvguest's start-up output, for up to ms. */
static void output_drain(struct output *o, int fd, long ms)
{
	long deadline = now_ms() + ms;

	while (!o->eof) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		long left = deadline - now_ms();

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return;
		output_read(o, fd);
	}
}

/* Waits up to ms for our child to exit: its status, or -ETIMEDOUT. */
static int reap(pid_t pid, long ms)
{
	long deadline = now_ms() + ms;
	int st;

	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			return st;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		nap_ms(5);
	}
}

static void describe(int st, char *buf, size_t len)
{
	if (st == -ETIMEDOUT)
		snprintf(buf, len, "closed its ready descriptor but kept running");
	else if (st < 0)
		snprintf(buf, len, "could not be waited for: %s", strerror(-st));
	else if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "was killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "stopped");
}

static __attribute__((noreturn)) void child(const char *exe, char *const argv[],
					     int nullfd, int outfd, int readyfd)
{
	sigset_t none;

	setsid();
	if (dup2(nullfd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
		_exit(127);
	if (readyfd == 3) {
		if (fcntl(3, F_SETFD, 0) < 0)
			_exit(127);
	} else if (dup2(readyfd, 3) < 0) {
		_exit(127);
	}
	if (syscall(SYS_close_range, 4u, ~0u, 0u) < 0)
		for (int fd = 4; fd < 1024; fd++)
			close(fd);
	/* Neither our blocked signals nor ignored SIGPIPE are pvguest's. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(exe, argv);
	dprintf(2, "pvctl: cannot run %s: %s\n", exe, strerror(errno));
	_exit(127);
}

/* After a failed start: whatever pvguest got to run for domid goes.  The
 * guest writes its pid file before it is ready, so a guest that is slow
 * (we gave up waiting) is found there. */
static void kill_leftovers(struct pvctl *p, pid_t pid, const struct guest_ready *r,
			   unsigned domid)
{
	pid_t gp;

	if (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (r->pid > 0 && r->pid != pid)
		guest_stop(r->pid, domid);
	if (guest_read_pid(p, domid, &gp) == 0 && gp != pid)
		guest_stop(gp, domid);
}

/* A start under way: the pipes to pvguest and what it said. */
struct start {
	unsigned domid;
	pid_t pid;              /* the process we forked */
	int rp[2], op[2];       /* the ready pipe, the output pipe */
	int nullfd;
	struct output out;
};

/* pvguest's descriptors, its argv, fork and exec: 0 or -errno (told). */
static int start_spawn(struct start *st, const char *exe, const struct xlcfg *cfg)
{
	char sdomid[16], smem[16], *argv[16];
	int ac = 0, rc;

	st->nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (st->nullfd < 0 || pipe2(st->rp, O_CLOEXEC) < 0 ||
	    pipe2(st->op, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		pvctl_err("cannot set up pvguest's descriptors: %s", strerror(-rc));
		return rc;
	}
	snprintf(sdomid, sizeof(sdomid), "%u", st->domid);
	snprintf(smem, sizeof(smem), "%u", cfg->memory_mib);
	argv[ac++] = (char *)exe;
	argv[ac++] = "--domid";
	argv[ac++] = sdomid;
	argv[ac++] = "--name";
	argv[ac++] = (char *)cfg->name;
	argv[ac++] = "--memory";
	argv[ac++] = smem;
	argv[ac++] = "--ready-fd";
	argv[ac++] = "3";
	if (geteuid() == 0) {
		/* A guest is hostile to dom0: it runs without root. */
		argv[ac++] = "--user";
		argv[ac++] = "nobody";
	}
	argv[ac] = NULL;
	st->pid = fork();
	if (st->pid < 0) {
		rc = -errno;
		pvctl_err("fork: %s", strerror(-rc));
		return rc;
	}
	if (st->pid == 0)
		child(exe, argv, st->nullfd, st->op[1], st->rp[1]);
	close(st->rp[1]);
	close(st->op[1]);
	st->rp[1] = st->op[1] = -1;
	return 0;
}

/* The ready line, and that it is true: the domid asked for, a pvguest
 * alive under the pid it gave, and our child gone with status 0 once it
 * detached the guest.  0, or -errno for start_explain; *status gets our
 * child's status when it was reaped. */
static int start_ready(struct pvctl *p, struct start *st, struct guest_ready *r,
		       int *status)
{
	int rc = read_ready(p, st->rp[0], st->op[0], &st->out, r);

	if (rc == 0 && r->domid != st->domid)
		rc = -EINVAL;
	if (rc == 0 && !guest_is(r->pid, st->domid))
		rc = -ESRCH;
	if (rc == 0 && r->pid != st->pid) {
		/* The process we started detached the guest and now exits 0. */
		*status = reap(st->pid, PVCTL_STOP_TIMEOUT_MS);
		if (*status < 0 || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
			rc = -ECHILD;
	}
	return rc;
}

/* Why the start failed (rc from start_ready), in words, into why. */
static void start_explain(struct start *st, const struct guest_ready *r, int rc,
			  int status, char *why, size_t len)
{
	switch (rc) {
	case -EPIPE:
		describe(reap(st->pid, 2000), why, len);
		output_drain(&st->out, st->op[0], 500);
		break;
	case -ECHILD:
		describe(status, why, len);
		break;
	case -ETIMEDOUT:
		snprintf(why, len, "did not report ready within %d s",
			 PVCTL_READY_TIMEOUT_MS / 1000);
		break;
	case -EINTR:
		snprintf(why, len, "was stopped: pvctl was interrupted");
		break;
	case -EINVAL:
		snprintf(why, len, "wrote a bad ready line");
		break;
	case -ESRCH:
		/* Ready, then gone: its parent tells how, its output why. */
		reap(st->pid, 2000);
		output_drain(&st->out, st->op[0], 500);
		snprintf(why, len, "reported ready as pid %d, which then exited",
			 (int)r->pid);
		break;
	default:
		snprintf(why, len, "could not be read from: %s", strerror(-rc));
		break;
	}
}

/* pvguest records its PID; make sure destroy will find it. */
static int start_record(struct pvctl *p, struct start *st, const struct guest_ready *r)
{
	pid_t recorded;
	int rc = 0;

	if (guest_read_pid(p, st->domid, &recorded) < 0 || recorded != r->pid)
		rc = guest_write_pid(p, st->domid, r->pid);
	if (rc < 0) {
		pvctl_err("cannot record pvguest's pid in %s/guests/dom%u/pid: %s",
			  p->rundir, st->domid, strerror(-rc));
		kill_leftovers(p, st->pid, r, st->domid);
	}
	return rc;
}

static void start_close(struct start *st)
{
	for (int i = 0; i < 2; i++) {
		if (st->rp[i] >= 0)
			close(st->rp[i]);
		if (st->op[i] >= 0)
			close(st->op[i]);
	}
	if (st->nullfd >= 0)
		close(st->nullfd);
}

int guest_start(struct pvctl *p, unsigned domid, const struct xlcfg *cfg,
		struct guest_ready *r)
{
	struct start st = { .domid = domid, .rp = { -1, -1 }, .op = { -1, -1 },
			    .nullfd = -1 };
	char exe[PATH_MAX], why[128], last[256];
	int rc, status = 0;

	memset(r, 0, sizeof(*r));
	rc = guest_exe(exe, sizeof(exe));
	if (rc < 0) {
		pvctl_err("cannot find pvguest (%s: %s); set PVD_BIN to its directory",
			  exe, strerror(-rc));
		return rc;
	}
	rc = start_spawn(&st, exe, cfg);
	if (rc < 0)
		goto out;
	rc = start_ready(p, &st, r, &status);
	if (rc == 0) {
		rc = start_record(p, &st, r);
		goto out;
	}
	start_explain(&st, r, rc, status, why, sizeof(why));
	kill_leftovers(p, st.pid, r, domid);
	output_last_line(&st.out, last, sizeof(last));
	pvctl_err("pvguest for domain %u %s%s%s", domid, why, last[0] ? ": " : "", last);
out:
	start_close(&st);
	return rc;
}
