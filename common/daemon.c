/* Daemon plumbing (daemon.h).  Files a root daemon makes in its run
 * directory (the pidfile, listening sockets) are made so that nothing
 * planted at their names beforehand or meanwhile is followed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "pvd/daemon.h"
#include "pvd/log.h"

const char *pvd_rundir(void)
{
	const char *d = getenv("PVD_RUNDIR");

	return d && *d ? d : PVD_RUNDIR_DEFAULT;
}

int pvd_rundir_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", pvd_rundir(), name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pvd_mkdir_p(const char *path, unsigned mode)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(tmp, mode) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

/* The temporary file is made afresh, never through a link: O_EXCL with
 * O_NOFOLLOW refuses anything already at its name (a symlink planted there
 * to make a root daemon truncate another file), and what is there is
 * unlinked once (unlink removes a link, never its target) before the one
 * retry.  rename() then replaces the pidfile's name itself. */
static int pidfile_tmp_open(const char *tmp)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = open(tmp, flags, 0644);

	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, flags, 0644);
	return fd;
}

static void pidfile_write(const char *pidfile)
{
	char buf[32];
	char tmp[4096];
	int fd, n;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile) >= (int)sizeof(tmp))
		fatal("pidfile path too long: %s", pidfile);
	fd = pidfile_tmp_open(tmp);
	if (fd < 0)
		fatal("cannot create pidfile %s: %s", tmp, strerror(errno));
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, n) != n || close(fd) < 0)
		fatal("cannot write pidfile %s: %s", tmp, strerror(errno));
	if (rename(tmp, pidfile) < 0)
		fatal("cannot rename pidfile to %s: %s", pidfile, strerror(errno));
}

/* What is at a listening socket's path before bind: nothing, or an old
 * socket (removed).  Anything else, a symlink included, is not ours to
 * remove or follow: -EEXIST, said once. */
static int stale_socket_remove(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s: %s exists and is not a socket: left alone", __func__, path);
		return -EEXIST;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int pvd_unix_listen(const char *path, unsigned mode, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	rc = stale_socket_remove(path);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* bind makes the file with the socket inode's mode less the umask:
	 * both are set so that it is born with exactly mode (no chmod by
	 * path afterwards, which would follow a link swapped in meanwhile).
	 * bind never follows a link at path: it fails with EADDRINUSE. */
	if (fchmod(fd, mode & 0777) < 0)
		goto fail;
	old = umask(~mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(fd, backlog) < 0)
		goto fail;
	return fd;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

void daemon_start(int foreground, const char *pidfile)
{
	if (!foreground && daemon(0, 1) < 0)
		fatal("daemon: %s", strerror(errno));
	if (pidfile)
		pidfile_write(pidfile);
}

void daemon_remove_pidfile(const char *pidfile)
{
	if (pidfile)
		unlink(pidfile);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_sig_cb *cb = arg;

	if (cb && cb->fn)
		cb->fn(cb->arg);
}

int daemon_signals_start(struct daemon_signals *ds, struct event_base *base,
			 void (*on_term)(void *), void (*on_hup)(void *),
			 void *arg)
{
	memset(ds, 0, sizeof(*ds));
	ds->on_term = (struct daemon_sig_cb){ on_term, arg };
	ds->on_hup = (struct daemon_sig_cb){ on_hup, arg };
	signal(SIGPIPE, SIG_IGN);
	ds->term = evsignal_new(base, SIGTERM, on_signal, &ds->on_term);
	ds->intr = evsignal_new(base, SIGINT, on_signal, &ds->on_term);
	ds->hup = evsignal_new(base, SIGHUP, on_signal, &ds->on_hup);
	if (!ds->term || !ds->intr || !ds->hup)
		goto fail;
	if (evsignal_add(ds->term, NULL) < 0 || evsignal_add(ds->intr, NULL) < 0 ||
	    evsignal_add(ds->hup, NULL) < 0)
		goto fail;
	return 0;
fail:
	log_err("cannot install signal handlers");
	daemon_signals_stop(ds);
	return -ENOMEM;
}

void daemon_signals_stop(struct daemon_signals *ds)
{
	struct event **evs[] = { &ds->term, &ds->intr, &ds->hup };

	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		if (*evs[i]) {
			event_free(*evs[i]);
			*evs[i] = NULL;
		}
	}
}

void daemon_opts_default(struct daemon_opts *d)
{
	memset(d, 0, sizeof(*d));
	d->level = LOG_LVL_INFO;
}

/* Is word one of the '|'-separated choices? */
static int is_choice(const char *choices, const char *word)
{
	size_t n = strlen(word);
	const char *p = choices;

	while (n && p && *p) {
		if (!strncmp(p, word, n) && (p[n] == '|' || p[n] == '\0'))
			return 1;
		p = strchr(p, '|');
		p = p ? p + 1 : NULL;
	}
	return 0;
}

int daemon_opt(struct daemon_opts *d, const char *prog, int ch,
	       const char *arg, const char *hv_choices)
{
	switch (ch) {
	case 'f':
		d->foreground = 1;
		return 1;
	case DAEMON_O_VERSION:
		pvd_print_version(prog);
		exit(0);
	case DAEMON_O_PIDFILE:
		d->pidfile = arg;
		return 1;
	case DAEMON_O_LOG_FILE:
		d->log_file = arg;
		return 1;
	case DAEMON_O_METRICS:
		d->metrics = arg;
		return 1;
	case DAEMON_O_LOG_LEVEL:
		if (log_parse_level(arg, &d->level) < 0)
			fatal("--log-level: unknown level %s", arg);
		return 1;
	case DAEMON_O_HV:
		if (strcmp(arg, "auto") && !is_choice(hv_choices, arg))
			fatal("--hv: want auto|%s, got %s", hv_choices, arg);
		d->hv = strcmp(arg, "auto") ? arg : NULL;
		return 1;
	default:
		return 0;
	}
}

void daemon_parse_args(int argc, char **argv, struct daemon_opts *d,
		       const struct daemon_args *a)
{
	int ch, idx;

	for (idx = -1; (ch = getopt_long(argc, argv, DAEMON_SHORTOPTS,
					 a->longopts, &idx)) != -1; idx = -1) {
		const char *name = idx >= 0 ? a->longopts[idx].name : "";

		if (daemon_opt(d, a->prog, ch, optarg, a->hv_choices))
			continue;
		if (ch == 'h') {
			a->usage(stdout);
			exit(0);
		}
		if (a->own(a->ctx, ch, name, optarg) < 0) {
			a->usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument: %s\n", a->prog,
			argv[optind]);
		exit(2);
	}
}
