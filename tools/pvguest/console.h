/* The guest's console frontend, the role of Linux's hvc_xen: the console
 * page (struct xencons_interface, <xen/io/console.h>) and the console event
 * channel that the domain builder made (hv_sim_console_page, the guest's
 * console port), served by pvd-consoled once the toolstack wrote the
 * console nodes.
 *
 * What goes out: pvguest's own messages (boot, memory, devices as they
 * appear, the shell coming and going), then a shell's output.  What comes
 * in goes to that shell.  The shell runs on a pty pair inside pvguest, as
 * pvguest's user, in namespaces of its own where the kernel allows them
 * (see docs/pvguest.md, "The console"). */
#ifndef PVGUEST_CONSOLE_H
#define PVGUEST_CONSOLE_H

#include <stdbool.h>

#include "pvd/hv.h"

struct event_base;
struct guest;

/* Default shell command, run as /bin/sh -c 'exec CMD'. */
#define CONSOLE_SHELL_DEFAULT "/bin/sh -i"
/* Most bytes of pvguest's own messages waiting for ring space. */
#define CONSOLE_MSG_MAX 8192u
/* Most devices announced on the console. */
#define CONSOLE_DEVS_MAX 64u

struct console_config {
	bool no_shell;		/* --no-console-shell: messages only */
	/* --console-shell CMD; NULL: $PVD_GUEST_SHELL, else
	 * CONSOLE_SHELL_DEFAULT.  Must outlive the console. */
	const char *shell;
};

struct console;

/* Starts the console of guest g (after any change of user: the shell runs
 * as the caller): prints the boot messages, watches the guest's devices,
 * starts the shell.  name is the guest's (messages, the shell's
 * hostname).  Logs why it failed. */
int console_start(struct console **out, struct event_base *base,
		  struct guest *g, const char *name,
		  const struct console_config *cfg);
/* Kills the shell (and everything it started, when it has its own PID
 * namespace) and stops.  NULL is a no-op. */
void console_stop(struct console *c);

/* A line of pvguest's own on the console ("pvguest: " is prepended, "\r\n"
 * appended).  Dropped (and counted) past CONSOLE_MSG_MAX waiting bytes. */
void console_printf(struct console *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
