/* The guest's console frontend, the role of Linux's hvc_xen: the console
 * page (struct xencons_interface, <xen/io/console.h>) and the console event
 * channel that the domain builder made (hv_sim_console_page, the guest's
 * console port), served by pvd-consoled once the toolstack wrote the
 * console nodes.
 *
 * What goes out: pvguest's own messages (boot, memory, devices as they
 * appear (devlist.h), the shell coming and going), then a shell's output.
 * What comes in goes to that shell (sandbox.h), which runs on a pty pair
 * inside pvguest, as pvguest's user, in namespaces of its own where the
 * kernel allows them (see docs/pvguest.md, "The console"). */
#ifndef PVGUEST_CONSFRONT_H
#define PVGUEST_CONSFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct event_base;
struct guest;

/* Most bytes of pvguest's own messages waiting for ring space. */
#define CONSFRONT_MSG_MAX 8192u

struct consfront_config {
	bool no_shell;		/* --no-console-shell: messages only */
	/* --console-shell CMD; NULL: $PVD_GUEST_SHELL, else
	 * SANDBOX_SHELL_DEFAULT.  Must outlive the console. */
	const char *shell;
};

struct consfront;

/* Starts the console of guest g (after any change of user: the shell runs
 * as the caller): prints the boot messages, watches the guest's devices,
 * starts the shell.  name is the guest's (messages, the shell's
 * hostname).  Logs why it failed. */
int consfront_start(struct consfront **out, struct event_base *base,
		    struct guest *g, const char *name,
		    const struct consfront_config *cfg);
/* Kills the shell (and everything it started, when it has its own PID
 * namespace) and stops.  NULL is a no-op. */
void consfront_stop(struct consfront *c);

/* A line of pvguest's own on the console ("pvguest: " is prepended, "\r\n"
 * appended).  Dropped (and counted) past CONSFRONT_MSG_MAX waiting bytes. */
void consfront_printf(struct consfront *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The console port fired (what the guest calls on its event): moves what
 * the rings and the pty allow. */
void consfront_kick(struct consfront *c);

/* Where the console stands, for tests and the log. */
struct consfront_stats {
	size_t msg_queued;		/* bytes of our messages waiting */
	unsigned long long msg_dropped;	/* bytes of messages dropped */
	bool out_stopped, in_stopped;	/* the backend's index is not sane */
	size_t in_held;			/* input taken from the ring, not yet
					   taken by the pty */
	bool pty_full;			/* waiting for the pty to take input */
	pid_t shell_pid;		/* the shell's process (or its init), 0: none */
};
void consfront_get_stats(const struct consfront *c, struct consfront_stats *st);

#endif
