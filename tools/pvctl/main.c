/* pvctl: main(): the command line to a command of cmdtable.c. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pvd/daemon.h"
#include "pvd/log.h"
#include "pvctl.h"

/* Descriptors 0-2 must be open: otherwise the store socket or a pipe could
 * land there and be written to as stdout. */
static void std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0) {
			int n = open("/dev/null", O_RDWR);

			if (n >= 0 && n != fd)
				close(n);
		}
	}
}

int main(int argc, char **argv)
{
	struct pvctl p = { .sigfd = -1 };
	const struct pvctl_cmd *c;
	int rc;

	std_fds();
	signal(SIGPIPE, SIG_IGN);
	log_init("pvctl", LOG_LVL_WARN, NULL);
	p.rundir = pvd_rundir();
	if (argc < 2) {
		pvctl_help(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help(&p, 1, argv);
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(&p, 1, argv);
	c = pvctl_find_cmd(argv[1]);
	if (!c) {
		pvctl_err("unknown command '%s' (see pvctl help)", argv[1]);
		return 2;
	}
	if (c->run != cmd_help && pvctl_wants_help(argc - 1, argv + 1)) {
		pvctl_cmd_help(c, stdout);
		return 0;
	}
	rc = c->run(&p, argc - 1, argv + 1);
	pvctl_disconnect(&p);
	if (p.sigfd >= 0)
		close(p.sigfd);
	if (fflush(stdout) != 0 && rc == 0) {
		pvctl_err("writing the output failed");
		rc = 1;
	}
	return rc;
}
