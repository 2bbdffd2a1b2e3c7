/* A guest's console log: <dir>/guest-<name>.log.
 *
 * The name comes from the caller, who takes it from a dom0-owned node
 * only (XSA-57: never a path or name a guest can write), and is sanitised
 * here: letters, digits, '.', '_' and '-' are kept, anything else becomes
 * '_', at most GUESTLOG_NAME_MAX bytes, and a name of dots only is
 * refused, so the result is always one plain file name inside dir.  The
 * file is opened with O_NOFOLLOW (a symlink planted in the directory is
 * not followed).
 *
 * Size cap (XSA-180): when a write would take the file past max_bytes, the
 * file is renamed to <file>.1 (replacing an older .1) and a new one is
 * started, so a guest can use at most twice max_bytes of disk.  If the
 * rotation fails, logging stops with a last line saying so, until the next
 * reopen (SIGHUP) finds room.
 *
 * Timestamps: with `timestamps`, every line starts with
 * "[YYYY-MM-DD HH:MM:SS.mmm] " (local time of the daemon), as
 * xenconsoled's --timestamp=guest.
 */
#ifndef CONSOLED_GUESTLOG_H
#define CONSOLED_GUESTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUESTLOG_NAME_MAX 64

struct guestlog {
	int fd;			/* -1 when closed or stopped */
	char *path;		/* malloc'd; NULL when never opened */
	uint64_t size;		/* bytes in the current file */
	uint64_t max_bytes;	/* 0: unlimited */
	bool timestamps;
	bool at_line_start;
	bool stopped;		/* cap reached and rotation failed */
	bool warned;		/* a write error was logged */
	uint64_t written;	/* guest bytes written, all files */
};

/* Sanitises name into out (size >= GUESTLOG_NAME_MAX + 1): returns its
 * length, or -EINVAL if nothing usable is left (the caller then uses the
 * domid). */
int guestlog_sanitize(const char *name, char *out, size_t outlen);
/* Opens <dir>/guest-<base>.log for appending (base already sanitised). */
int guestlog_open(struct guestlog *g, const char *dir, const char *base,
		  uint64_t max_bytes, bool timestamps);
/* Closes the file; idempotent (also on a never-opened struct with fd -1).
 * guestlog_free also forgets the path. */
void guestlog_close(struct guestlog *g);
void guestlog_free(struct guestlog *g);
/* Logrotate: reopens the same path (a new file if it was moved away). */
int guestlog_reopen(struct guestlog *g);
/* Appends guest output.  Errors are logged once and the data dropped:
 * a full disk must not stop the console. */
void guestlog_write(struct guestlog *g, const char *data, size_t len);

#endif
