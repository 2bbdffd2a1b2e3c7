/* pvctl: errors, the store connection, domain lookup, run-time paths. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pvd/daemon.h"
#include "pvd/num.h"
#include "pvctl.h"

void pvctl_err(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "pvctl: %s\n", buf);
}

void pvctl_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/* Why the socket cannot be reached: xs_open falls back to /dev/xen/xenbus
 * after the socket fails, so its errno describes the wrong thing. */
static int socket_errno(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		e = errno;
	close(fd);
	return e;
}

int pvctl_connect(struct pvctl *p)
{
	const char *path;
	int e, se;

	if (p->xs)
		return 0;
	p->xs = xs_open(0);
	if (p->xs)
		return 0;
	e = errno;
	path = xs_daemon_socket();
	se = socket_errno(path);
	if (se)
		e = se;
	pvctl_err("cannot connect to the store at %s: %s", path,
		  strerror(e ? e : ECONNREFUSED));
	return -(e ? e : ECONNREFUSED);
}

void pvctl_disconnect(struct pvctl *p)
{
	xs_close(p->xs);
	p->xs = NULL;
}

char *pvctl_read(struct pvctl *p, xs_transaction_t t, const char *fmt, ...)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	unsigned len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return xs_read(p->xs, t, path, &len);
}

int pvctl_stat(struct pvctl *p, xs_transaction_t t, const char *path)
{
	unsigned len;
	char *v = xs_read(p->xs, t, path, &len);

	if (!v)
		return -errno;
	free(v);
	return 0;
}

int pvctl_txn(struct pvctl *p, int (*fn)(struct pvctl *, xs_transaction_t, void *),
	      void *arg)
{
	for (int i = 0; i < PVCTL_TXN_TRIES; i++) {
		xs_transaction_t t = xs_transaction_start(p->xs);
		int rc;

		if (t == XBT_NULL)
			return -errno;
		rc = fn(p, t, arg);
		if (rc < 0) {
			int e = errno;

			xs_transaction_end(p->xs, t, true);
			errno = e;
			return rc;
		}
		if (xs_transaction_end(p->xs, t, false))
			return 0;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

int pvctl_parse_dec(const char *s, uint64_t max, uint64_t *out)
{
	/* "01" is not how anyone writes 1 in the store: refused, so that
	 * one number has one spelling (a domid names one directory). */
	if (!s || (s[0] == '0' && s[1]))
		return -EINVAL;
	return pvd_parse_uint(s, max, out);
}

int pvctl_parse_domid(const char *s, unsigned *domid)
{
	uint64_t v;

	if (pvctl_parse_dec(s, PVCTL_DOMID_MAX, &v) < 0)
		return -EINVAL;
	*domid = (unsigned)v;
	return 0;
}

int pvctl_getopt(int argc, char **argv, const char *shortopts,
		 const struct option *longopts)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == ':')
		pvctl_err("%s: option '%s' needs a value", argv[0], argv[optind - 1]);
	else if (c == '?' && optopt)
		pvctl_err("%s: unknown option '-%c'", argv[0], optopt);
	else if (c == '?')
		pvctl_err("%s: unknown option '%s'", argv[0], argv[optind - 1]);
	return c;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int pvctl_list_domids(struct pvctl *p, xs_transaction_t t, unsigned **ids,
		      unsigned *n)
{
	unsigned num = 0, k = 0;
	char **dir = xs_directory(p->xs, t, "/local/domain", &num);

	*ids = NULL;
	*n = 0;
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	*ids = calloc(num ? num : 1, sizeof(**ids));
	if (!*ids) {
		free(dir);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < num; i++)
		if (pvctl_parse_domid(dir[i], &(*ids)[k]) == 0)
			k++;
	free(dir);
	qsort(*ids, k, sizeof(**ids), cmp_uint);
	*n = k;
	return 0;
}

/* Counts the domains called name (dom0 without a name node is
 * "Domain-0"); *domid gets the first. */
int pvctl_find_name(struct pvctl *p, xs_transaction_t t, const char *name,
		    unsigned *domid)
{
	unsigned *ids, n, found = 0;
	int rc = pvctl_list_domids(p, t, &ids, &n);

	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < n; i++) {
		char *v = pvctl_read(p, t, "/local/domain/%u/name", ids[i]);
		bool hit;

		if (!v && errno != ENOENT && errno != EACCES) {
			rc = -errno;
			break;
		}
		hit = v ? strcmp(v, name) == 0 :
			ids[i] == 0 && strcmp(name, "Domain-0") == 0;
		free(v);
		if (hit && found++ == 0)
			*domid = ids[i];
	}
	free(ids);
	if (rc == 0 && found == 0 && strcmp(name, "Domain-0") == 0) {
		*domid = 0;
		found = 1;
	}
	return rc < 0 ? rc : (int)found;
}

int pvctl_lookup(struct pvctl *p, const char *arg, unsigned *domid)
{
	char path[64];
	pid_t pid;
	int rc;

	if (pvctl_parse_domid(arg, domid) == 0) {
		snprintf(path, sizeof(path), "/local/domain/%u", *domid);
		if (pvctl_stat(p, XBT_NULL, path) == 0 || *domid == 0 ||
		    guest_read_pid(p, *domid, &pid) == 0 ||
		    xs_is_domain_introduced(p->xs, *domid))
			return 0;
		pvctl_err("domain '%s' does not exist", arg);
		return -ENOENT;
	}
	rc = pvctl_find_name(p, XBT_NULL, arg, domid);
	if (rc < 0) {
		pvctl_err("cannot read the domains' names: %s", strerror(-rc));
		return rc;
	}
	if (rc == 0) {
		pvctl_err("domain '%s' does not exist", arg);
		return -ENOENT;
	}
	if (rc > 1) {
		pvctl_err("%d domains are called '%s': give a domid", rc, arg);
		return -EEXIST;
	}
	return 0;
}

int pvctl_path(struct pvctl *p, char *buf, size_t len, const char *fmt, ...)
{
	char rel[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return -ENAMETOOLONG;
	n = snprintf(buf, len, "%s/%s", p->rundir, rel);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pvctl_lock(struct pvctl *p, int *fdp)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	char path[4096];
	int fd, rc;

	rc = pvd_mkdir_p(p->rundir, 0755);
	if (rc == 0)
		rc = pvctl_path(p, path, sizeof(path), "pvctl.lock");
	if (rc < 0)
		return rc;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	/* Bounded: another pvctl holds it for one create at most. */
	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 10) {
		if (errno != EWOULDBLOCK || waited >= PVCTL_LOCK_TIMEOUT_MS ||
		    pvctl_interrupted(p)) {
			rc = errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			close(fd);
			return rc;
		}
		nanosleep(&nap, NULL);
	}
	*fdp = fd;
	return 0;
}

void pvctl_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

int pvctl_catch_signals(struct pvctl *p)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	p->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return p->sigfd < 0 ? -errno : 0;
}

bool pvctl_interrupted(struct pvctl *p)
{
	struct signalfd_siginfo si;

	while (p->sigfd >= 0 && read(p->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		p->interrupted = true;
	return p->interrupted;
}
