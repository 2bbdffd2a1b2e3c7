/* Where the guest's frontends (block, console, network: later) plug in,
 * the role of Linux's xenbus_probe_frontend.c.
 *
 * A frontend is a struct frontend_ops for one device type ("vbd", "vif",
 * "console").  The toolstack creates a device by writing the guest's
 * device/<type>/<id>/ nodes (relative to /local/domain/<domid>); this
 * module watches "device" and calls probe for each new <id> of a type it
 * has ops for, changed for changes below a probed device, and remove when
 * the node goes (or pvguest stops).  Nothing is watched when no frontend
 * is registered. */
#ifndef PVGUEST_FRONTEND_H
#define PVGUEST_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct xenbus;
struct hv_sim_domain;
struct guest;
struct gntalloc;
struct blkfront_config;
struct netfront_config;

/* Bounds on names read from the store (ours, but the store is untrusted):
 * [A-Za-z0-9_-]. */
#define FRONTEND_TYPE_MAX 15
#define FRONTEND_ID_MAX 15
/* Most devices of one type. */
#define FRONTEND_DEVS_MAX 256

/* pvguest's event loop has FRONTEND_PRIORITIES priorities; the default
 * one (1) for descriptors, FRONTEND_PRIO_IDLE for a frontend's "look at
 * the rings again" after it delivered completions: it runs once what
 * those completions started (a reply written to a socket, a request read
 * from one) has run. */
#define FRONTEND_PRIORITIES 3
#define FRONTEND_PRIO_IDLE 2

/* What a frontend works with. */
struct frontend_env {
	struct event_base *base;
	struct xenbus *xb;		/* requests and watches (token prefix "f:") */
	struct hv_sim_domain *dom;	/* memory, grants, event channels */
	struct guest *guest;		/* guest_port_handler_set, guest_dir */
	unsigned domid;
	struct gntalloc *gnt;		/* the guest's grant references */
	const struct blkfront_config *blk;	/* vbd options, NULL: defaults */
	const struct netfront_config *net;	/* vif options, NULL: defaults */
};

struct frontend_ops;

struct frontend_dev {
	const struct frontend_ops *ops;
	char type[FRONTEND_TYPE_MAX + 1];
	char id[FRONTEND_ID_MAX + 1];
	/* "device/<type>/<id>", relative to the domain's home. */
	char nodename[8 + FRONTEND_TYPE_MAX + 1 + FRONTEND_ID_MAX + 1];
	bool probed;		/* probe succeeded: remove will be called */
	void *priv;		/* the frontend's */
	struct frontend_dev *next;
};

struct frontend_ops {
	const char *type;
	/* A new device node: set it up.  0, or -errno to leave the device
	 * alone (probed again only if its node goes and comes back). */
	int (*probe)(const struct frontend_env *env, struct frontend_dev *dev);
	/* The device's node is gone, or pvguest stops.  Optional. */
	void (*remove)(const struct frontend_env *env, struct frontend_dev *dev);
	/* Something at or below the device's node changed (path as the
	 * watch event gave it).  Optional. */
	void (*changed)(const struct frontend_env *env, struct frontend_dev *dev,
			const char *path);
};

struct frontends;

/* The frontends built into pvguest (vbd, vif); *n gets their number. */
const struct frontend_ops *const *frontend_builtin(unsigned *n);

/* Starts probing for the n frontends of table (which must outlive fe).
 * With n == 0 nothing is watched. */
int frontend_start(struct frontends **out, const struct frontend_env *env,
		   const struct frontend_ops *const *table, unsigned n);
/* Removes every device (remove callbacks) and stops.  NULL is a no-op. */
void frontend_stop(struct frontends *fe);

/* Store paths a frontend builds (its backend's nodes among them). */
#define FRONTEND_PATH_LEN 256

/* Whether p, the "backend" node a frontend read from the store (which
 * the toolstack wrote, and we trust no more than it), is a path to
 * watch and read below: absolute, no trailing '/', [A-Za-z0-9/_.@-],
 * with room left in FRONTEND_PATH_LEN for the longest key after it. */
bool frontend_backend_path_ok(const char *p);

/* XS_WATCH or XS_UNWATCH (type) of <backend>/state with the token
 * <route>state: its events come back on the frontend's xenbus route. */
int frontend_watch_state(struct xenbus *xb, const char *backend,
			 const char *route, uint32_t type);

/* The device of that type and id, or NULL. */
struct frontend_dev *frontend_find(struct frontends *fe, const char *type,
				   const char *id);

#endif
