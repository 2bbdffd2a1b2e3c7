/* A daemon's control socket ($PVD_RUNDIR/pvd-blkback.sock,
 * pvd-netback.sock, pvd-consoled.sock; --ctl-socket): a line protocol for
 * operators and pvctl, the same in every daemon (docs/architecture.md
 * "Control sockets").  A line ends in LF or CRLF and holds at most
 * PVD_CTL_LINE_MAX bytes.  "stats" answers one line of JSON; "ping"
 * answers "pong"; "help" the commands; anything else {"error":...}: one
 * reply line per request line, in order.
 *
 * Who may connect: root and the daemon's own user (SO_PEERCRED, checked
 * on accept whatever the socket's mode); others are closed at once, with
 * a log line bounded by rate (struct pvd_logrl).  What a client is owed
 * is bounded: once its unread answers pass PVD_CTL_OUT_MAX its requests
 * are not read (nor answered) until it has taken them, and a client that
 * takes nothing of them for PVD_CTL_STALL_SECS is closed. */
#ifndef PVD_CTL_H
#define PVD_CTL_H

#include "pvd/ratelimit.h"

struct event_base;
struct evbuffer;
struct evconnlistener;
struct bufferevent;
struct json_t;

#define PVD_CTL_CONN_MAX 64
#define PVD_CTL_LINE_MAX 256
#define PVD_CTL_OUT_MAX (1u << 20)	/* bytes of unread answers, per client */
#define PVD_CTL_STALL_SECS 5		/* over it without progress: closed */

typedef void pvd_ctl_stats_fn(struct evbuffer *out, void *arg);

struct pvd_ctl {
	struct evconnlistener *lis;
	char path[108];
	struct bufferevent *conn[PVD_CTL_CONN_MAX];
	pvd_ctl_stats_fn *stats;
	void *arg;
	size_t out_max;			/* PVD_CTL_OUT_MAX (tests lower it) */
	unsigned stall_secs;		/* PVD_CTL_STALL_SECS */
	struct pvd_logrl refused_rl;	/* "refused" log lines */
};

/* Listens on path (made by pvd_unix_listen, mode 0600). */
int pvd_ctl_start(struct pvd_ctl *c, struct event_base *base, const char *path,
		  pvd_ctl_stats_fn *stats, void *arg);
/* Idempotent. */
void pvd_ctl_stop(struct pvd_ctl *c);

/* The request parser, apart from the socket: answers every whole line of
 * what a client sent so far (taken from in) into out, while out holds at
 * most c->out_max bytes (0: no bound).  A longer line is dropped
 * unanswered.  0 when every whole line was answered; 1 when out passed
 * the bound (the lines left stay in in: serve again once out has been
 * taken); -EMSGSIZE when what is left in is already longer than a line
 * may be (the caller then drops the client). */
int pvd_ctl_serve(struct pvd_ctl *c, struct evbuffer *in, struct evbuffer *out);

/* Appends j (taken: its reference is dropped) as one line of compact
 * JSON, json_dumps's escaping; NULL or a failure to encode is
 * {"error":"out of memory"}.  Every answer but "pong" goes through it. */
void pvd_ctl_put_json(struct evbuffer *out, struct json_t *j);

#endif
