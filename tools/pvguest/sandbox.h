/* The guest's shell: a command run on a pty pair inside pvguest, as
 * pvguest's user, in namespaces of its own where the kernel allows them
 * (user when not root, UTS, PID, mount; see docs/pvguest.md, "The
 * console").  The console frontend (consfront.h) gets the pty's master
 * and carries it to and from the console ring; a shell that exits is
 * started again once its pty hung up, one that keeps exiting at once is
 * given up. */
#ifndef PVGUEST_SANDBOX_H
#define PVGUEST_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

struct event_base;
struct sandbox;

/* Default shell command, run as /bin/sh -c 'exec CMD'. */
#define SANDBOX_SHELL_DEFAULT "/bin/sh -i"

struct sandbox_config {
	/* NULL: $PVD_GUEST_SHELL, else SANDBOX_SHELL_DEFAULT. */
	const char *shell;
	const char *hostname;	/* the guest's name */
	const char *rundir;	/* pvguest's run directory: hidden from the shell */
	unsigned domid;		/* for the namespace init's title in ps */
};

/* What the sandbox tells its console, from the event loop (say also from
 * sandbox_start). */
struct sandbox_cb {
	/* A new shell's pty master (non-blocking, close-on-exec): the
	 * callee owns it and calls sandbox_hangup once it hung up (EIO),
	 * or at once if it cannot use it. */
	void (*pty)(void *arg, int master);
	/* A line for the console about the shell ("the shell exited ..."). */
	void (*say)(void *arg, const char *line);
	/* No shell will come any more (it could not start, or kept
	 * exiting): input for it may be discarded. */
	void (*off)(void *arg);
};

/* Prepares the shell (user, home, environment, argv; after any change of
 * user: the shell runs as the caller), says so and starts it.  0, or
 * -errno when it cannot be prepared (logged); a shell that fails to start
 * is reported through cb (off). */
int sandbox_start(struct sandbox **out, struct event_base *base,
		  const struct sandbox_config *cfg, const struct sandbox_cb *cb,
		  void *arg);
/* Kills the shell (and everything it started: its PID namespace, or its
 * session) and frees everything.  NULL is a no-op. */
void sandbox_stop(struct sandbox *sb);

/* The pty the shell got is gone (every holder of its slave closed it). */
void sandbox_hangup(struct sandbox *sb);
/* True once no shell will come (given up, or failed to start). */
bool sandbox_is_off(const struct sandbox *sb);
/* The running child (the shell, or its namespace's init), 0 if none. */
pid_t sandbox_pid(const struct sandbox *sb);

#endif
