/* pvctl: the client of a daemon's control socket (common/ctl.c, in
 * pvd-blkback, pvd-netback and pvd-consoled: a line protocol, one JSON
 * line per request line; see docs/architecture.md "Control sockets").  Every read is bounded in
 * size (JSON_TEXT_MAX) and time (CTLSOCK_TIMEOUT_MS).  A connection that
 * fails is dropped; the next query connects anew (a restarted daemon). */
#ifndef PVCTL_CTLSOCK_H
#define PVCTL_CTLSOCK_H

#include <stddef.h>
#include <sys/un.h>

struct pvctl;

#define CTLSOCK_TIMEOUT_MS 5000         /* one answer */

struct ctlsock {
	int fd;
	const char *daemon;             /* "pvd-blkback": for messages */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char err[512];                  /* why the last query failed */
};

/* path, or $PVD_RUNDIR/name when path is NULL.  0, or -ENAMETOOLONG
 * (told on stderr). */
int ctlsock_init(struct pvctl *p, struct ctlsock *c, const char *daemon,
		 const char *name, const char *path);
/* Idempotent. */
void ctlsock_close(struct ctlsock *c);
/* Sends req (a line without its new line) and reads the one line answer
 * (malloc'd, NUL-terminated, without its new line).  0, or -errno with
 * c->err set: -ENOENT or -ECONNREFUSED when no daemon listens there. */
int ctlsock_query(struct ctlsock *c, const char *req, char **out, size_t *outlen);
/* Marks the answer just read as bad (c->err says why) and drops the
 * connection: out of step, start again.  Returns -EPROTO. */
int ctlsock_bad_answer(struct ctlsock *c, const char *why);

#endif
