/* The control socket ($PVD_RUNDIR/pvd-blkback.sock): a line protocol for
 * operators and pvctl.  "stats" answers one line of JSON; "ping" answers
 * "pong"; anything else {"error":...}. */
#ifndef PVD_BLKBACK_CTL_H
#define PVD_BLKBACK_CTL_H

struct event_base;
struct evbuffer;
struct evconnlistener;
struct bufferevent;

#define BLK_CTL_CONN_MAX 64

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

#endif
