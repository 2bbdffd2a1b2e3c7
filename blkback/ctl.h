/* The control socket ($PVD_RUNDIR/pvd-blkback.sock): a line protocol for
 * operators and pvctl.  A line ends in LF or CRLF and holds at most
 * BLK_CTL_LINE_MAX bytes.  "stats" answers one line of JSON; "ping"
 * answers "pong"; "help" the commands; anything else {"error":...}: one
 * reply line per request line, in order. */
#ifndef PVD_BLKBACK_CTL_H
#define PVD_BLKBACK_CTL_H

struct event_base;
struct evbuffer;
struct evconnlistener;
struct bufferevent;

#define BLK_CTL_CONN_MAX 64
#define BLK_CTL_LINE_MAX 256

typedef void blk_ctl_stats_fn(struct evbuffer *out, void *arg);

struct blk_ctl {
	struct evconnlistener *lis;
	char path[108];
	struct bufferevent *conn[BLK_CTL_CONN_MAX];
	blk_ctl_stats_fn *stats;
	void *arg;
};

int blk_ctl_start(struct blk_ctl *c, struct event_base *base, const char *path,
		  blk_ctl_stats_fn *stats, void *arg);
/* Idempotent. */
void blk_ctl_stop(struct blk_ctl *c);

/* The request parser, apart from the socket: answers every whole line of
 * what a client sent so far (taken from in) into out.  A longer line is
 * dropped unanswered.  0, or -EMSGSIZE when what is left in is already
 * longer than a line may be (the caller then drops the client). */
int blk_ctl_serve(struct blk_ctl *c, struct evbuffer *in, struct evbuffer *out);

#endif
