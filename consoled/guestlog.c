/* Guest console logs (guestlog.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guestlog.h"
#include "pvd/log.h"

#define STOP_LINE "\n[pvd-consoled: log size limit reached and the log cannot be rotated: logging stopped]\n"

int guestlog_sanitize(const char *name, char *out, size_t outlen)
{
	size_t n = 0;
	bool dots_only = true;

	if (!name || outlen < 2)
		return -EINVAL;
	for (const unsigned char *p = (const unsigned char *)name;
	     *p && n < GUESTLOG_NAME_MAX && n + 1 < outlen; p++) {
		unsigned char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			c = '_';
		if (c != '.')
			dots_only = false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	if (!n || dots_only)
		return -EINVAL;
	return (int)n;
}

static int open_file(struct guestlog *g)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK: a FIFO planted in the directory must not block us. */
	fd = open(g->path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
		  O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0640);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	g->fd = fd;
	g->size = (uint64_t)st.st_size;
	g->stopped = false;
	g->warned = false;
	return 0;
}

int guestlog_open(struct guestlog *g, const char *dir, const char *base,
		  uint64_t max_bytes, bool timestamps)
{
	int rc;

	memset(g, 0, sizeof(*g));
	g->fd = -1;
	g->max_bytes = max_bytes;
	g->timestamps = timestamps;
	g->at_line_start = true;
	if (asprintf(&g->path, "%s/guest-%s.log", dir, base) < 0) {
		g->path = NULL;
		return -ENOMEM;
	}
	rc = open_file(g);
	if (rc < 0)
		log_warn("cannot open %s: %s", g->path, strerror(-rc));
	return rc;
}

void guestlog_close(struct guestlog *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}

void guestlog_free(struct guestlog *g)
{
	guestlog_close(g);
	free(g->path);
	g->path = NULL;
}

int guestlog_reopen(struct guestlog *g)
{
	int rc;

	if (!g->path)
		return 0;
	guestlog_close(g);
	rc = open_file(g);
	if (rc < 0)
		log_warn("cannot reopen %s: %s", g->path, strerror(-rc));
	return rc;
}

static int raw_write(struct guestlog *g, const char *p, size_t len)
{
	while (len && g->fd >= 0) {
		ssize_t w = write(g->fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!g->warned)
				log_warn("%s: %s: guest output is not logged",
					 g->path, w < 0 ? strerror(errno) : "short write");
			g->warned = true;
			return -EIO;
		}
		p += w;
		len -= (size_t)w;
		g->size += (uint64_t)w;
	}
	return 0;
}

/* Renames the full file to .1 and starts a new one. */
static void rotate(struct guestlog *g)
{
	char *old = NULL;
	int rc;

	if (asprintf(&old, "%s.1", g->path) < 0 || rename(g->path, old) < 0) {
		rc = old ? -errno : -ENOMEM;
		free(old);
		log_warn("%s reached %llu bytes and cannot be rotated (%s): logging stopped",
			 g->path, (unsigned long long)g->max_bytes, strerror(-rc));
		raw_write(g, STOP_LINE, sizeof(STOP_LINE) - 1);
		g->stopped = true;
		return;
	}
	free(old);
	guestlog_close(g);
	rc = open_file(g);
	if (rc < 0) {
		log_warn("cannot start a new %s: %s", g->path, strerror(-rc));
		return;
	}
	log_info("%s rotated at %llu bytes", g->path,
		 (unsigned long long)g->max_bytes);
}

/* Writes with the size cap applied. */
static void capped_write(struct guestlog *g, const char *p, size_t len)
{
	while (len && g->fd >= 0 && !g->stopped) {
		size_t n = len;

		if (g->max_bytes) {
			if (g->size >= g->max_bytes) {
				rotate(g);
				continue;
			}
			if (n > g->max_bytes - g->size)
				n = (size_t)(g->max_bytes - g->size);
		}
		if (raw_write(g, p, n) < 0)
			return;
		p += n;
		len -= n;
	}
}

static size_t stamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "[%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, len - n, ".%03ld] ", ts.tv_nsec / 1000000);
	return n < len ? n : len - 1;
}

void guestlog_write(struct guestlog *g, const char *data, size_t len)
{
	char buf[8192];
	size_t n = 0;

	if (g->fd < 0 || g->stopped || !len)
		return;
	g->written += len;
	if (!g->timestamps) {
		capped_write(g, data, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (n + 64 > sizeof(buf)) {
			capped_write(g, buf, n);
			n = 0;
		}
		if (g->at_line_start) {
			n += stamp(buf + n, sizeof(buf) - n);
			g->at_line_start = false;
		}
		buf[n++] = data[i];
		if (data[i] == '\n')
			g->at_line_start = true;
	}
	capped_write(g, buf, n);
}
