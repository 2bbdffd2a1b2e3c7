/* Log lines carry a syslog priority prefix ("<3>") when stderr is the
 * journal, so that journald keeps the level; otherwise a plain tag. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pvd/log.h"

struct log_state {
	const char *ident;
	enum log_level level;
	const char *file;
	int fd;
	int journal;
};

static struct log_state lg = { "pvd", LOG_LVL_INFO, NULL, STDERR_FILENO, 0 };

static const char *const level_names[] = {
	[LOG_LVL_ERR] = "error", [LOG_LVL_WARN] = "warning",
	[LOG_LVL_INFO] = "info", [LOG_LVL_DEBUG] = "debug",
};
static const int syslog_prio[] = { 3, 4, 6, 7 };

void log_init(const char *ident, enum log_level level, const char *file)
{
	lg.ident = ident;
	lg.level = level;
	lg.file = file;
	lg.journal = getenv("JOURNAL_STREAM") != NULL && file == NULL;
	if (file && log_reopen() < 0)
		fatal("cannot open log file %s: %s", file, strerror(errno));
}

int log_reopen(void)
{
	int fd;

	if (!lg.file)
		return 0;
	fd = open(lg.file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (lg.fd == STDERR_FILENO) {
		lg.fd = fd;	/* at start-up, before any other thread */
		return 0;
	}
	/* Other threads may be writing lg.fd (pvd-blkback's I/O threads):
	 * the new file takes the same descriptor number in one step, so that
	 * no write ever goes to a closed or reused descriptor. */
	if (dup3(fd, lg.fd, O_CLOEXEC) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

void log_set_level(enum log_level level) { lg.level = level; }
enum log_level log_get_level(void) { return lg.level; }

const char *log_level_name(enum log_level level)
{
	return level <= LOG_LVL_DEBUG ? level_names[level] : "?";
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i <= LOG_LVL_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	if (strcmp(s, "warn") == 0 || strcmp(s, "err") == 0) {
		*out = s[0] == 'w' ? LOG_LVL_WARN : LOG_LVL_ERR;
		return 0;
	}
	return -EINVAL;
}

static void log_vwrite(enum log_level level, const char *func,
		       const char *fmt, va_list ap)
{
	char buf[1024];
	int n = 0;

	if (lg.journal) {
		n = snprintf(buf, sizeof(buf), "<%d>", syslog_prio[level]);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = (int)strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
		n += snprintf(buf + n, sizeof(buf) - n, " %s[%d] %s: ",
			      lg.ident, (int)getpid(), level_names[level]);
	}
	if (func)
		n += snprintf(buf + n, sizeof(buf) - n, "%s: ", func);
	if (n < (int)sizeof(buf))
		n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (n >= (int)sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(lg.fd, buf, n) < 0) {
		/* Nowhere left to report it. */
	}
}

void log_msg(enum log_level level, const char *func, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (level > lg.level)
		return;
	va_start(ap, fmt);
	log_vwrite(level, func, fmt, ap);
	va_end(ap);
	errno = saved;
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
