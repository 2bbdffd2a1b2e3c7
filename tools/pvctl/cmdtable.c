/* pvctl: the command table, as xl's (xl_cmdtable.c), and the help and
 * usage texts drawn from it.  main.c dispatches through it. */
#include <stdio.h>
#include <string.h>

#include "pvd/daemon.h"
#include "pvctl.h"

static const struct pvctl_cmd commands[] = {
	{ "create", cmd_create, "CONFIG",
	  "Create a domain from an xl-style config file",
	  "Parses CONFIG (xl.cfg syntax: name, memory, disk, vif; see\n"
	  "docs/pvctl.md), starts the domain's pvguest, introduces the domain to\n"
	  "the store and writes its nodes as libxl does.  Prints the new domid.\n"
	  "On any failure everything done so far is undone.\n" },
	{ "destroy", cmd_destroy, "DOMAIN",
	  "Terminate a domain immediately",
	  "DOMAIN is a domid or a name.  Stops the domain's pvguest (SIGTERM,\n"
	  "then SIGKILL), releases the domain from the store and removes its\n"
	  "nodes: /local/domain/N, /vm/<uuid> and its backend directories.\n" },
	{ "list", cmd_list, "",
	  "List domains",
	  "Shows every domain in the store (/local/domain/*) with its name, id,\n"
	  "memory (MiB), state and devices.  State: r running (its pvguest is\n"
	  "alive), c crashed (its pvguest is gone), ------ not started by pvctl\n"
	  "on this host.\n" },
	{ "console", cmd_console, "DOMAIN [--num N]",
	  "Attach to a domain's console",
	  "DOMAIN is a domid or a name.  Opens the pty the console daemon\n"
	  "(pvd-consoled) named in /local/domain/D/console/tty (with --num N > 0,\n"
	  "secondary console N: /local/domain/0/backend/console/D/N/tty), waiting\n"
	  "up to 5 s for it, and copies both ways, the terminal in raw mode.  The\n"
	  "node must be owned by dom0 and name a pty (/dev/pts/K), else refused.\n"
	  "Ctrl-] detaches (exit 0).  Without a terminal on stdin it copies as is\n"
	  "(no raw mode) and, once stdin ends, keeps showing the console until\n"
	  "Ctrl-] or a signal (SIGINT, SIGTERM, SIGHUP: exit 0).  Exit 1 when the\n"
	  "console closes (the daemon or the domain went).\n" },
	{ "block-attach", cmd_block_attach, "DOMAIN DISKSPEC",
	  "Attach a virtual disk to a domain",
	  "DISKSPEC in xl's disk syntax (xl-disk-configuration(5)), e.g.\n"
	  "file:/img,xvdb,w  or  vdev=xvdb,access=rw,target=/img (target= last:\n"
	  "it takes the rest, commas included).  Checks the target (exists, a\n"
	  "file or block device, writable when attached rw), then writes the\n"
	  "frontend and backend nodes as create does, in one transaction that\n"
	  "fails if the domain is gone or the vdev is in use.\n" },
	{ "block-detach", cmd_block_detach, "[--force] [--timeout S] DOMAIN VDEV",
	  "Detach a virtual disk from a domain",
	  "Sets the backend to Closing (online = 0), waits up to S seconds\n"
	  "(default 10) for the frontend and the backend to be Closed, then\n"
	  "removes both directories.  After the wait, exit 1 unless --force,\n"
	  "which removes them anyway.\n" },
	{ "block-list", cmd_block_list, "DOMAIN...",
	  "List the virtual disks of domains",
	  "As xl block-list: Vdev (device number), BE (backend domain), handle\n"
	  "(the frontend's domain, as xl prints it), state, evt-ch and ring-ref\n"
	  "(the frontend's, queue 0's for multi-queue), BE-path; plus the URI of\n"
	  "the guest's NBD export of the disk when pvguest has one.\n" },
	{ "network-attach", cmd_network_attach,
	  "DOMAIN [bridge=BR] [mac=MAC] [rate=RATE] [ip=IP...] [vifname=NAME] [mtu=N]",
	  "Attach a virtual NIC to a domain",
	  "xl's vif syntax (xl-network-configuration(5)), one key=value per word;\n"
	  "ip= may be given more than once.  Without mac= a random 00:16:3e one.\n"
	  "Writes the frontend and backend nodes as create does for a vif= line,\n"
	  "with the next free device id, then waits up to $PVCTL_DEVICE_TIMEOUT\n"
	  "seconds (default 10, 0: no wait) for pvd-netback to take the NIC up; a\n"
	  "NIC that fails or is not answered is removed again (exit 1).\n" },
	{ "network-detach", cmd_network_detach, "[--force] [--timeout S] DOMAIN DEVID|MAC",
	  "Detach a virtual NIC from a domain",
	  "Sets the backend to Closing (online = 0), waits up to S seconds\n"
	  "(default 10) for the frontend and the backend to be Closed, then\n"
	  "removes both directories.  After the wait, exit 1 unless --force,\n"
	  "which removes them anyway.\n" },
	{ "network-list", cmd_network_list, "DOMAIN...",
	  "List the virtual NICs of domains",
	  "As xl network-list: Idx (device id), BE (backend domain), the MAC (the\n"
	  "backend's), handle, state, evt-ch and tx-/rx-ring-ref (the frontend's,\n"
	  "queue 0's for multi-queue; -1 when absent), BE-path.\n" },
	{ "stats", cmd_stats, "[--json] [--socket PATH] [--netback-socket PATH] [--consoled-socket PATH] [DOMAIN]",
	  "Show the disks', NICs', consoles' and the store's counters",
	  "One sample from pvd-blkback's control socket (default\n"
	  "$PVD_RUNDIR/pvd-blkback.sock): per disk and per ring, requests,\n"
	  "sectors, errors, requests in flight and latency since connection;\n"
	  "and, when pvd-netback runs ($PVD_RUNDIR/pvd-netback.sock), per vif\n"
	  "and per queue, packets, bytes, drops and errors each way, carrier;\n"
	  "when pvd-consoled runs ($PVD_RUNDIR/pvd-consoled.sock), per console,\n"
	  "its pty, bytes each way, drops and log bytes; and the store's\n"
	  "counts and requests (pvd-stored's CONTROL stats; n/a elsewhere).\n"
	  "--json prints the daemons' documents, filtered by DOMAIN.\n" },
	{ "top", cmd_top, "[-b] [-i N] [-d SECS] [-s FIELD] [--json] [--socket PATH] [--netback-socket PATH] [--consoled-socket PATH] [DOMAIN]",
	  "Live view of the disks' rings, the NICs, the consoles and the store, like xentop",
	  "One row per ring, per vif and per console, refreshed every SECS\n"
	  "(default 1): IOPS, MB/s, in flight, ring occupancy, latency (mean\n"
	  "and p99); packets and MB per second each way, drops, errors,\n"
	  "carrier; console bytes per second each way, drops; and a line for\n"
	  "the store (connections, nodes, watches, requests per second).\n"
	  "-s (--sort) FIELD: id (default), name, ops, mbps, lat or err; the\n"
	  "s key cycles through them, q quits.  -b (--batch) prints frames\n"
	  "one after the other, -i (--iterations) N stops after N frames,\n"
	  "--json prints each frame as one line of JSON (implies -b).\n" },
	{ "version", cmd_version, "",
	  "Print pvctl's version (as pvctl --version)", "" },
	{ "help", cmd_help, "[COMMAND]",
	  "Print help on pvctl or on one of its commands", "" },
};

const struct pvctl_cmd *pvctl_find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void pvctl_help(FILE *f)
{
	fprintf(f, "Usage: pvctl COMMAND [ARGS]\n\n"
		"pvd's toolstack, shaped like xl.  The store is found through\n"
		"XENSTORED_PATH (as libxenstore does), guest state is kept in\n"
		"$PVD_RUNDIR (default %s).\n\nCommands:\n", PVD_RUNDIR_DEFAULT);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n`pvctl COMMAND --help` describes a command.\n");
}

void pvctl_cmd_help(const struct pvctl_cmd *c, FILE *f)
{
	fprintf(f, "Usage: pvctl %s%s%s\n\n%s.\n", c->name, c->args[0] ? " " : "",
		c->args, c->summary);
	if (c->help[0])
		fprintf(f, "\n%s", c->help);
}

int pvctl_usage(const struct pvctl_cmd *cmd)
{
	fprintf(stderr, "Usage: pvctl %s%s%s\n", cmd->name, cmd->args[0] ? " " : "",
		cmd->args);
	return 2;
}

bool pvctl_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

int cmd_version(struct pvctl *p, int argc, char **argv)
{
	if (argc != 1)
		return pvctl_usage(pvctl_find_cmd("version"));
	pvd_print_version("pvctl");
	return 0;
}

int cmd_help(struct pvctl *p, int argc, char **argv)
{
	const struct pvctl_cmd *c;

	if (argc < 2) {
		pvctl_help(stdout);
		return 0;
	}
	if (argc > 2)
		return pvctl_usage(pvctl_find_cmd("help"));
	c = pvctl_find_cmd(argv[1]);
	if (!c) {
		pvctl_err("unknown command '%s' (see pvctl help)", argv[1]);
		return 2;
	}
	pvctl_cmd_help(c, stdout);
	return 0;
}
