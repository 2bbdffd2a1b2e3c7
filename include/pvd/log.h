/* Logging: levelled lines on stderr (journald reads them), or to a file
 * that is reopened on SIGHUP so that logrotate works. */
#ifndef PVD_LOG_H
#define PVD_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Process-wide logging state is the one exception to "no globals": every
 * module logs, and threading a logger through every call adds nothing. */
void log_init(const char *ident, enum log_level level, const char *file);
int log_reopen(void);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_parse_level(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);
void log_msg(enum log_level level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...)   log_msg(LOG_LVL_ERR, __func__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __func__, __VA_ARGS__)

/* For start-up failures only: logs and exits. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
