/* One simulated guest domain; see guest.h.
 *
 * The state directory is only trusted as far as our own lock goes: the
 * domain's lock (taken by hv_sim_domain_create) says no other pvguest
 * serves this domid, so whatever a previous one left in guests/dom<N>/ is
 * stale and is cleared without following links. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "frontend.h"
#include "gntalloc.h"
#include "guest.h"
#include "pvd/daemon.h"
#include "pvd/hv_sim.h"
#include "pvd/log.h"
#include "xenbus_xs.h"
#include "xenbus_proxy.h"

#define MAX_PORT_HANDLERS 64
/* Most ports handled per wake-up before the loop looks elsewhere. */
#define EVTCHN_BUDGET 256

struct port_handler {
	evtchn_port_t port;
	guest_port_fn *fn;
	void *arg;
};

struct guest {
	struct event_base *base;
	domid_t domid;
	char name[GUEST_NAME_MAX + 1];
	struct hv_sim_domain *dom;
	unsigned long store_gfn, console_gfn;
	evtchn_port_t store_port, console_port;
	struct event *evtchn_ev;
	struct xenbus *xb;
	struct xenbus_proxy *proxy;
	struct frontends *fe;
	struct gntalloc *gnt;
	const struct blkfront_config *blk;
	const struct netfront_config *net;
	struct port_handler handlers[MAX_PORT_HANDLERS];
	unsigned nhandlers;
	bool dir_made;
	/* Held open: after a change of user the run directory above may not
	 * be searchable any more, but what we own in here stays removable. */
	int dirfd;
	char dir[PATH_MAX];
	char pid_path[PATH_MAX];
	char sock_path[PATH_MAX];
};

static int path_fmt(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Empties a stale state directory (or removes whatever else is there). */
static int dir_clear(const char *path)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, rc = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0 &&
		    (errno != EISDIR || unlinkat(fd, de->d_name, AT_REMOVEDIR) < 0) &&
		    rc == 0)
			rc = -errno;
	}
	closedir(d);
	if (rc == 0)
		log_info("cleared the stale %s", path);
	return rc;
}

static int write_pidfile(const char *path)
{
	char tmp[PATH_MAX + 8], buf[32];
	int fd, n, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, n) != n || close(fd) < 0 || rename(tmp, path) < 0) {
		rc = errno ? -errno : -EIO;
		unlink(tmp);
		return rc;
	}
	return 0;
}

static int make_dir(struct guest *g, const char *rundir)
{
	char guests[PATH_MAX];
	char sub[32];
	int rc;

	rc = path_fmt(guests, sizeof(guests), rundir, "guests");
	if (rc == 0) {
		snprintf(sub, sizeof(sub), "dom%u", (unsigned)g->domid);
		rc = path_fmt(g->dir, sizeof(g->dir), guests, sub);
	}
	if (rc == 0)
		rc = path_fmt(g->pid_path, sizeof(g->pid_path), g->dir, "pid");
	if (rc == 0)
		rc = path_fmt(g->sock_path, sizeof(g->sock_path), g->dir,
			      "xenbus.sock");
	if (rc < 0) {
		log_err("run directory path too long: %s", rundir);
		return rc;
	}
	rc = pvd_mkdir_p(guests, 0755);
	if (rc < 0) {
		log_err("cannot create %s: %s", guests, strerror(-rc));
		return rc;
	}
	rc = dir_clear(g->dir);
	if (rc < 0) {
		log_err("cannot clear the stale %s: %s", g->dir, strerror(-rc));
		return rc;
	}
	if (mkdir(g->dir, 0750) < 0 && errno != EEXIST) {
		rc = -errno;
		log_err("cannot create %s: %s", g->dir, strerror(-rc));
		return rc;
	}
	g->dir_made = true;
	g->dirfd = open(g->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (g->dirfd < 0) {
		rc = -errno;
		log_err("cannot open %s: %s", g->dir, strerror(-rc));
		return rc;
	}
	/* A stale directory may belong to the user a previous guest ran as. */
	if (geteuid() == 0 &&
	    (lchown(g->dir, 0, 0) < 0 || chmod(g->dir, 0750) < 0)) {
		rc = -errno;
		log_err("cannot take %s back: %s", g->dir, strerror(-rc));
		return rc;
	}
	rc = write_pidfile(g->pid_path);
	if (rc < 0) {
		log_err("cannot write %s: %s", g->pid_path, strerror(-rc));
		return rc;
	}
	return 0;
}

static void dir_remove(struct guest *g)
{
	static const char *const files[] = { "pid", "log", "xenbus.sock" };

	if (!g->dir_made)
		return;
	if (g->dirfd >= 0) {
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			if (unlinkat(g->dirfd, files[i], 0) < 0 && errno != ENOENT)
				log_warn("cannot remove %s/%s: %s", g->dir, files[i],
					 strerror(errno));
		close(g->dirfd);
		g->dirfd = -1;
	}
	/* After a change of user, guests/ (root's) refuses: the next guest
	 * with this id, or the toolstack, removes the empty directory. */
	if (rmdir(g->dir) < 0 && errno != ENOENT)
		log_debug("cannot remove %s: %s", g->dir, strerror(errno));
	g->dir_made = false;
}

static void notify_store(void *arg)
{
	struct guest *g = arg;
	int rc = hv_sim_evtchn_notify(g->dom, g->store_port);

	if (rc < 0)
		log_warn("notify store port %u: %s", g->store_port, strerror(-rc));
}

static void on_evtchn(evutil_socket_t fd, short what, void *arg)
{
	struct guest *g = arg;
	evtchn_port_t port;

	for (int i = 0; i < EVTCHN_BUDGET; i++) {
		int rc = hv_sim_evtchn_pending(g->dom, &port);

		if (rc < 0) {
			if (rc != -EAGAIN)
				log_warn("event channels: %s", strerror(-rc));
			return;
		}
		/* Unmask first: a notification while we work fires again. */
		hv_sim_evtchn_unmask(g->dom, port);
		if (port == g->store_port) {
			xenbus_kick(g->xb);
			continue;
		}
		for (unsigned h = 0; h < g->nhandlers; h++) {
			if (g->handlers[h].port == port) {
				g->handlers[h].fn(g->handlers[h].arg, port);
				break;
			}
		}
	}
}

int guest_create(struct guest **out, struct event_base *base,
		 const struct guest_config *cfg)
{
	const char *rundir = cfg->rundir ? cfg->rundir : pvd_rundir();
	struct guest *g;
	void *page;
	int rc;

	*out = NULL;
	if (cfg->domid == 0 || cfg->domid >= DOMID_FIRST_RESERVED ||
	    cfg->memory_mib < GUEST_MEMORY_MIN_MIB ||
	    cfg->memory_mib > GUEST_MEMORY_MAX_MIB || !cfg->name ||
	    strlen(cfg->name) > GUEST_NAME_MAX)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->base = base;
	g->dirfd = -1;
	g->domid = cfg->domid;
	strcpy(g->name, cfg->name);
	rc = hv_sim_domain_create(rundir, g->domid,
				  (size_t)cfg->memory_mib << (20 - HV_PAGE_SHIFT),
				  &g->dom);
	if (rc < 0) {
		if (rc == -EEXIST)
			log_err("domain %u already exists", (unsigned)g->domid);
		else
			log_err("cannot create domain %u: %s", (unsigned)g->domid,
				strerror(-rc));
		goto fail;
	}
	rc = gntalloc_create(&g->gnt, HV_SIM_NR_GRANTS);
	if (rc < 0)
		goto fail;
	g->blk = cfg->blk;
	g->net = cfg->net;
	g->store_gfn = hv_sim_xenstore_page(g->dom);
	g->console_gfn = hv_sim_console_page(g->dom);
	if ((rc = hv_sim_evtchn_alloc_unbound(g->dom, 0, &g->store_port)) < 0 ||
	    (rc = hv_sim_evtchn_alloc_unbound(g->dom, 0, &g->console_port)) < 0) {
		log_err("domain %u: cannot allocate its event channels: %s",
			(unsigned)g->domid, strerror(-rc));
		goto fail;
	}
	rc = make_dir(g, rundir);
	if (rc < 0)
		goto fail;
	page = hv_sim_page(g->dom, g->store_gfn);
	rc = xenbus_create(&g->xb, base, page, notify_store, g);
	if (rc < 0) {
		log_err("cannot set up the xenstore ring: %s", strerror(-rc));
		goto fail;
	}
	g->evtchn_ev = event_new(base, hv_sim_evtchn_fd(g->dom),
				 EV_READ | EV_PERSIST, on_evtchn, g);
	if (!g->evtchn_ev || event_add(g->evtchn_ev, NULL) < 0) {
		log_err("cannot watch the event channels");
		rc = -ENOMEM;
		goto fail;
	}
	rc = xenbus_proxy_start(&g->proxy, base, g->xb, g->sock_path, NULL);
	if (rc < 0)
		goto fail;
	log_info("domain %u (%s): %u MiB, xenstore page %lu port %u, console page %lu port %u",
		 (unsigned)g->domid, g->name, cfg->memory_mib, g->store_gfn,
		 g->store_port, g->console_gfn, g->console_port);
	*out = g;
	return 0;
fail:
	guest_destroy(g);
	return rc;
}

int guest_boot(struct guest *g)
{
	struct frontend_env env = {
		.base = g->base, .xb = g->xb, .dom = g->dom, .guest = g,
		.domid = g->domid, .gnt = g->gnt, .blk = g->blk,
		.net = g->net,
	};
	const struct frontend_ops *const *table;
	unsigned n;
	int rc;

	table = frontend_builtin(&n);
	rc = frontend_start(&g->fe, &env, table, n);
	if (rc < 0) {
		log_err("cannot start the frontends: %s", strerror(-rc));
		return rc;
	}
	/* Anything the store left in the ring before we looked. */
	xenbus_kick(g->xb);
	return 0;
}

void guest_destroy(struct guest *g)
{
	if (!g)
		return;
	frontend_stop(g->fe);
	xenbus_proxy_stop(g->proxy);
	if (g->evtchn_ev)
		event_free(g->evtchn_ev);
	xenbus_destroy(g->xb);
	if (g->dom) {
		hv_sim_domain_destroy(g->dom);
		log_info("domain %u (%s) destroyed", (unsigned)g->domid, g->name);
	}
	dir_remove(g);
	gntalloc_destroy(g->gnt);
	free(g);
}

int guest_chown(struct guest *g, uid_t uid, gid_t gid)
{
	char log_path[PATH_MAX];
	int rc;

	if (lchown(g->dir, uid, gid) < 0 || lchown(g->pid_path, uid, gid) < 0)
		goto fail;
	rc = path_fmt(log_path, sizeof(log_path), g->dir, "log");
	if (rc < 0)
		return rc;
	if (lchown(log_path, uid, gid) < 0 && errno != ENOENT)
		goto fail;
	return 0;
fail:
	rc = -errno;
	log_err("cannot hand %s to uid %u: %s", g->dir, (unsigned)uid,
		strerror(-rc));
	return rc;
}

int guest_ready_line(const struct guest *g, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "domid=%u store_gfn=%lu store_port=%u console_gfn=%lu console_port=%u pid=%d\n",
			 (unsigned)g->domid, g->store_gfn, g->store_port,
			 g->console_gfn, g->console_port, (int)getpid());

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

const char *guest_dir(const struct guest *g)
{
	return g->dir;
}

struct xenbus *guest_xenbus(struct guest *g)
{
	return g->xb;
}

struct hv_sim_domain *guest_domain(struct guest *g)
{
	return g->dom;
}

evtchn_port_t guest_console_port(const struct guest *g)
{
	return g->console_port;
}

int guest_port_handler_set(struct guest *g, evtchn_port_t port,
			   guest_port_fn *fn, void *arg)
{
	for (unsigned i = 0; i < g->nhandlers; i++) {
		if (g->handlers[i].port == port) {
			if (fn)
				g->handlers[i] = (struct port_handler){ port, fn, arg };
			else
				g->handlers[i] = g->handlers[--g->nhandlers];
			return 0;
		}
	}
	if (!fn)
		return 0;
	if (port == g->store_port)
		return -EBUSY;
	if (g->nhandlers == MAX_PORT_HANDLERS)
		return -ENOSPC;
	g->handlers[g->nhandlers++] = (struct port_handler){ port, fn, arg };
	return 0;
}
