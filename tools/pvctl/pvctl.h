/* pvctl: pvd's operator CLI, shaped like Xen's xl.  Private header shared
 * by the command files.  pvctl talks to the store only through
 * libxenstore, so it works against pvd-stored and Xen's xenstored alike;
 * it keeps what the store cannot hold (guest PIDs, logs) under
 * $PVD_RUNDIR/guests/dom<N>/. */
#ifndef PVCTL_H
#define PVCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <xenstore.h>

#include "xlcfg.h"

#define PVCTL_DOMID_MAX        0x7fef  /* DOMID_FIRST_RESERVED - 1 */
#define PVCTL_READY_TIMEOUT_MS 10000   /* pvguest's ready line */
#define PVCTL_STOP_TIMEOUT_MS  5000    /* SIGTERM, then as long after SIGKILL */
#define PVCTL_LOCK_TIMEOUT_MS  30000   /* another pvctl creating a domain */
#define PVCTL_TXN_TRIES        16      /* a transaction that keeps conflicting */
#define PVCTL_CONSOLE_WAIT_MS  5000    /* the console daemon's tty node */

struct pvctl {
	struct xs_handle *xs;   /* NULL until pvctl_connect */
	const char *rundir;     /* $PVD_RUNDIR or /run/pvd */
	int sigfd;              /* SIGINT/SIGTERM/SIGHUP while they are blocked, or -1 */
	bool interrupted;       /* one of them arrived */
};

struct pvctl_cmd {
	const char *name;
	int (*run)(struct pvctl *p, int argc, char **argv);
	const char *args;       /* what follows the name in the usage line */
	const char *summary;    /* one line for `pvctl help` */
	const char *help;       /* the rest of `pvctl NAME --help` */
};

/* ---- cmdtable.c: the commands, their help ---- */

const struct pvctl_cmd *pvctl_find_cmd(const char *name);
/* Prints the command's usage to stderr and returns 2. */
int pvctl_usage(const struct pvctl_cmd *cmd);
/* True for -h/--help in argv[1..]. */
bool pvctl_wants_help(int argc, char **argv);
/* `pvctl help`: every command with its summary. */
void pvctl_help(FILE *f);
/* `pvctl NAME --help`. */
void pvctl_cmd_help(const struct pvctl_cmd *c, FILE *f);

/* ---- util.c ---- */

/* "pvctl: ..." and a new line on stderr: the one line an error gets. */
void pvctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* xs_open(0); on failure prints "cannot connect to the store at PATH". */
int pvctl_connect(struct pvctl *p);
void pvctl_disconnect(struct pvctl *p);

/* Reads a node (formatted path) into a malloc'd string, NULL (errno set)
 * when absent or unreadable. */
char *pvctl_read(struct pvctl *p, xs_transaction_t t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 0 when the node exists, -errno otherwise. */
int pvctl_stat(struct pvctl *p, xs_transaction_t t, const char *path);
/* Runs fn in a transaction, retried while the commit conflicts (EAGAIN).
 * fn returns 0 or -errno; on error the transaction is aborted. */
int pvctl_txn(struct pvctl *p, int (*fn)(struct pvctl *, xs_transaction_t, void *),
	      void *arg);

/* A number as the store and pvctl's command lines write one: decimal
 * digits only, no sign, no blanks, no leading zero (pvd/num.h's rules
 * plus that one), at most max.  0, -EINVAL (NULL too) or -ERANGE. */
int pvctl_parse_dec(const char *s, uint64_t max, uint64_t *out);
/* "3" -> 3 (pvctl_parse_dec, 0..PVCTL_DOMID_MAX): 0 or -EINVAL. */
int pvctl_parse_domid(const char *s, unsigned *domid);
/* getopt_long over a command's argv (argv[0] is the command); an unknown
 * option or a missing value is explained on stderr ('?' or ':'). */
int pvctl_getopt(int argc, char **argv, const char *shortopts,
		 const struct option *longopts);
/* The domids under /local/domain, sorted; *ids is malloc'd. */
int pvctl_list_domids(struct pvctl *p, xs_transaction_t t, unsigned **ids,
		      unsigned *n);
/* The domain named name: 1 and *domid, 0 when none, -errno. */
int pvctl_find_name(struct pvctl *p, xs_transaction_t t, const char *name,
		    unsigned *domid);
/* A domid or a name given on the command line, to a domain that exists
 * (in the store, or with a guest PID file): 0, or prints why not. */
int pvctl_lookup(struct pvctl *p, const char *arg, unsigned *domid);

/* "<rundir>/<formatted>" into buf. */
int pvctl_path(struct pvctl *p, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Serialises pvctl instances that create domains (domid choice). */
int pvctl_lock(struct pvctl *p, int *fd);
void pvctl_unlock(int fd);
/* Blocks SIGINT/SIGTERM/SIGHUP and reads them from p->sigfd instead, so
 * that a create interrupted half way can undo its work. */
int pvctl_catch_signals(struct pvctl *p);
/* True once one of them arrived. */
bool pvctl_interrupted(struct pvctl *p);
/* Replaces what a terminal would interpret: values come from the store. */
void pvctl_printable(char *s);

/* ---- guest.c: the pvguest process of a domain ---- */

struct guest_ready {
	unsigned domid;
	uint64_t store_gfn, console_gfn;
	unsigned store_port, console_port;
	pid_t pid;
};

/* Starts pvguest for domid, detached, and waits (bounded) for its ready
 * line.  On failure nothing is left running. */
int guest_start(struct pvctl *p, unsigned domid, const struct xlcfg *cfg,
		struct guest_ready *r);
/* SIGTERM, bounded wait, SIGKILL: only if pid still is domid's pvguest.
 * 0 when it is gone (or was not running). */
int guest_stop(pid_t pid, unsigned domid);
/* The PID recorded in guests/dom<N>/pid: 0, -ENOENT, -EINVAL. */
int guest_read_pid(struct pvctl *p, unsigned domid, pid_t *pid);
int guest_write_pid(struct pvctl *p, unsigned domid, pid_t pid);
void guest_remove_pid(struct pvctl *p, unsigned domid);
/* True if pid is alive and is the pvguest of domid. */
bool guest_is(pid_t pid, unsigned domid);

/* ---- nodes.c: what create writes to the store, as libxl does ---- */

struct dom_spec {
	unsigned domid;
	const struct xlcfg *cfg;
	const char *uuid;
	const struct guest_ready *ready;
};

/* The domain's home, /vm/<uuid>, console, disks and vifs, in t. */
int nodes_write_domain(struct pvctl *p, xs_transaction_t t, const struct dom_spec *d);
int nodes_write_vbd(struct pvctl *p, xs_transaction_t t, unsigned domid,
		    const struct xlcfg_disk *disk);
int nodes_write_vif(struct pvctl *p, xs_transaction_t t, unsigned domid,
		    const struct xlcfg_vif *vif);
/* Removes /local/domain/N, its /vm/<uuid> and every backend directory
 * /local/domain/0/backend/<type>/N, in t.  Absent nodes are fine. */
int nodes_remove_domain(struct pvctl *p, xs_transaction_t t, unsigned domid);

/* ---- the commands ---- */

int cmd_create(struct pvctl *p, int argc, char **argv);
int cmd_destroy(struct pvctl *p, int argc, char **argv);
int cmd_list(struct pvctl *p, int argc, char **argv);
int cmd_console(struct pvctl *p, int argc, char **argv);
int cmd_block_attach(struct pvctl *p, int argc, char **argv);
int cmd_block_detach(struct pvctl *p, int argc, char **argv);
int cmd_block_list(struct pvctl *p, int argc, char **argv);
int cmd_network_attach(struct pvctl *p, int argc, char **argv);
int cmd_network_detach(struct pvctl *p, int argc, char **argv);
int cmd_network_list(struct pvctl *p, int argc, char **argv);
int cmd_stats(struct pvctl *p, int argc, char **argv);
int cmd_top(struct pvctl *p, int argc, char **argv);
int cmd_version(struct pvctl *p, int argc, char **argv);
int cmd_help(struct pvctl *p, int argc, char **argv);

#endif
