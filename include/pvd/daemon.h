/* Daemon plumbing shared by every pvd daemon: run directory, pidfile,
 * detaching, and SIGTERM/SIGHUP handling in the libevent loop. */
#ifndef PVD_DAEMON_H
#define PVD_DAEMON_H

#include <stddef.h>

struct event_base;
struct event;

#define PVD_RUNDIR_DEFAULT "/run/pvd"

/* $PVD_RUNDIR or /run/pvd. */
const char *pvd_rundir(void);
/* Formats "<rundir>/<name>" into buf; -ENAMETOOLONG if it does not fit. */
int pvd_rundir_path(char *buf, size_t len, const char *name);
/* mkdir -p with mode for the components it creates. */
int pvd_mkdir_p(const char *path, unsigned mode);

struct daemon_sig_cb {
	void (*fn)(void *);
	void *arg;
};

struct daemon_signals {
	struct event *term, *intr, *hup;
	struct daemon_sig_cb on_term, on_hup;
};

/* Detaches unless foreground; then writes the pidfile (if any).  Start-up
 * only: failures are fatal. */
void daemon_start(int foreground, const char *pidfile);
void daemon_remove_pidfile(const char *pidfile);

/* on_term runs for SIGTERM and SIGINT, on_hup for SIGHUP; SIGPIPE is
 * ignored.  Undo with daemon_signals_stop (idempotent). */
int daemon_signals_start(struct daemon_signals *ds, struct event_base *base,
			 void (*on_term)(void *), void (*on_hup)(void *),
			 void *arg);
void daemon_signals_stop(struct daemon_signals *ds);

#endif
