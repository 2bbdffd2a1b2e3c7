/* pvctl create and destroy.
 *
 * create: parse the config, choose the lowest free domid, start pvguest
 * and read its ready line, write every node of the domain in one
 * transaction (which re-checks, inside, that the name and the domid are
 * still free: a concurrent toolstack makes it conflict and retry), then
 * introduce the domain.  libxl also writes the domain's home before
 * introducing it; pvctl writes the devices and the console in the same
 * transaction, so that whoever watches @introduceDomain (a console daemon,
 * the guest itself) finds every node in place.  Each step that succeeded
 * is undone, in reverse, when a later one fails or pvctl is interrupted:
 * no half-created domain is left.  Creates are serialised by a lock in
 * $PVD_RUNDIR so that two do not pick the same domid.
 *
 * destroy: stop the pvguest, release the domain, remove its nodes.  Each
 * step tolerates what an earlier, interrupted destroy or a crashed guest
 * left, so destroy can always be run again. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include "pvd/hv_sim.h"
#include "pvd/num.h"
#include "devwait.h"
#include "pvctl.h"

struct create {
	struct xlcfg cfg;
	unsigned domid;
	char uuid[37];
	struct guest_ready ready;
	bool reported;          /* the transaction printed its own error */
	bool started, written;  /* what a failure must undo */
	bool introduced;
	unsigned wait_s;        /* for the devices' backends (devwait.c) */
};

static int gen_uuid(char out[37])
{
	uint8_t u[16];

	if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u))
		return errno ? -errno : -EIO;
	u[6] = (u[6] & 0x0f) | 0x40;    /* version 4: random */
	u[8] = (u[8] & 0x3f) | 0x80;    /* RFC 4122 variant */
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
		 u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

/* True if the simulated domain domid is dead: its creator held
 * hv/dom<N>.lock for its whole life (the contract of hv_domain_alive in
 * include/pvd/hv.h) and no longer does.  What such a domain left behind
 * (a guest killed by SIGKILL cannot clean up) is taken over by the next
 * pvguest with that domid. */
static bool hv_dead(const char *hvdir, unsigned domid)
{
	char path[4200];
	bool dead;
	int fd;

	snprintf(path, sizeof(path), "%s/dom%u.lock", hvdir, domid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return false;   /* no lock to tell: the files are in use */
	dead = flock(fd, LOCK_SH | LOCK_NB) == 0;
	close(fd);
	return dead;
}

/* Marks the domids that have files in $PVD_RUNDIR/hv ("dom<N>.<what>")
 * and a living domain. */
static void mark_hv(struct pvctl *p, uint8_t *used)
{
	uint8_t files[PVCTL_DOMID_MAX / 8 + 1] = { 0 };
	char dir[4096];
	struct dirent *de;
	DIR *d;

	if (pvctl_path(p, dir, sizeof(dir), "hv") < 0 || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		const char *dot = strchr(de->d_name, '.');
		uint64_t v;

		if (strncmp(de->d_name, "dom", 3) == 0 && dot &&
		    pvd_parse_uint_n(de->d_name + 3, (size_t)(dot - de->d_name - 3), 10,
				     PVCTL_DOMID_MAX, &v) == 0)
			files[v / 8] |= (uint8_t)(1u << (v % 8));
	}
	closedir(d);
	for (unsigned v = 1; v <= PVCTL_DOMID_MAX; v++)
		if ((files[v / 8] & (1u << (v % 8))) && !hv_dead(dir, v))
			used[v / 8] |= (uint8_t)(1u << (v % 8));
}

static int pick_domid(struct pvctl *p, unsigned *out)
{
	uint8_t used[PVCTL_DOMID_MAX / 8 + 1] = { 0 };
	unsigned *ids, n;
	int rc = pvctl_list_domids(p, XBT_NULL, &ids, &n);

	if (rc < 0) {
		pvctl_err("cannot list /local/domain: %s", strerror(-rc));
		return rc;
	}
	for (unsigned i = 0; i < n; i++)
		used[ids[i] / 8] |= (uint8_t)(1u << (ids[i] % 8));
	free(ids);
	mark_hv(p, used);
	for (unsigned d = 1; d <= PVCTL_DOMID_MAX; d++) {
		if (!(used[d / 8] & (1u << (d % 8)))) {
			*out = d;
			return 0;
		}
	}
	pvctl_err("no free domid");
	return -ENOSPC;
}

static int name_taken(struct pvctl *p, xs_transaction_t t, const char *name)
{
	unsigned other;
	int rc = pvctl_find_name(p, t, name, &other);

	if (rc < 0) {
		pvctl_err("cannot read the domains' names: %s", strerror(-rc));
		return rc;
	}
	if (rc > 0) {
		pvctl_err("domain name '%s' is already in use (domain %u)", name, other);
		return -EEXIST;
	}
	return 0;
}

static int write_txn(struct pvctl *p, xs_transaction_t t, void *arg)
{
	struct create *c = arg;
	struct dom_spec d = { c->domid, &c->cfg, c->uuid, &c->ready };
	char home[32];
	int rc;

	/* Inside the transaction: a domain created meanwhile by someone
	 * else makes it conflict, and the retry sees it here. */
	c->reported = true;
	rc = name_taken(p, t, c->cfg.name);
	if (rc < 0)
		return rc;
	snprintf(home, sizeof(home), "/local/domain/%u", c->domid);
	if (pvctl_stat(p, t, home) == 0) {
		pvctl_err("%s appeared while domain %u was being created", home, c->domid);
		return -EEXIST;
	}
	rc = nodes_write_domain(p, t, &d);
	if (rc == 0)
		c->reported = false;
	return rc;
}

static int remove_txn(struct pvctl *p, xs_transaction_t t, void *arg)
{
	return nodes_remove_domain(p, t, *(unsigned *)arg);
}

/* Everything before a process is started: the config, the store, the
 * signals, the lock, the domid and the uuid.  0 or -errno (told). */
static int create_prepare(struct pvctl *p, struct create *c, const char *path,
			  int *lockfd)
{
	char err[XLCFG_ERR_LEN];
	int rc = xlcfg_parse_file(&c->cfg, path, err, sizeof(err));

	if (rc < 0) {
		pvctl_err("%s", err);
		return rc;
	}
	if ((rc = devwait_timeout_s(&c->wait_s)) < 0 || (rc = pvctl_connect(p)) < 0)
		return rc;
	if ((rc = pvctl_catch_signals(p)) < 0) {
		pvctl_err("cannot block signals: %s", strerror(-rc));
		return rc;
	}
	rc = pvctl_lock(p, lockfd);
	if (rc < 0) {
		pvctl_err("cannot take %s/pvctl.lock: %s", p->rundir, strerror(-rc));
		return rc;
	}
	if ((rc = name_taken(p, XBT_NULL, c->cfg.name)) < 0 ||
	    (rc = pick_domid(p, &c->domid)) < 0)
		return rc;
	if (c->cfg.uuid[0]) {
		memcpy(c->uuid, c->cfg.uuid, sizeof(c->uuid));
	} else if ((rc = gen_uuid(c->uuid)) < 0) {
		pvctl_err("cannot generate a uuid: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

/* Every disk's and vif's backend must take its device up (devwait.c), as
 * libxl waits for each device before it reports the domain created. */
static int create_wait(struct pvctl *p, struct create *c)
{
	unsigned n = c->cfg.ndisks + c->cfg.nvifs, k = 0;
	struct devwait_dev *devs;
	int rc;

	if (n == 0 || c->wait_s == 0)
		return 0;
	devs = calloc(n, sizeof(*devs));
	if (!devs) {
		pvctl_err("out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < c->cfg.ndisks; i++)
		devs[k++] = (struct devwait_dev){ "vbd", c->domid, c->cfg.disks[i].devid, 0 };
	for (unsigned i = 0; i < c->cfg.nvifs; i++)
		devs[k++] = (struct devwait_dev){ "vif", c->domid, c->cfg.vifs[i].devid, 0 };
	rc = devwait_backends(p, devs, n, c->wait_s);
	free(devs);
	return rc;
}

/* The guest, the nodes, the introduction: 0 or -errno (told), with
 * c->started and c->written saying what is to be undone. */
static int create_build(struct pvctl *p, struct create *c)
{
	int rc = guest_start(p, c->domid, &c->cfg, &c->ready);

	if (rc < 0)
		return rc;
	c->started = true;
	if (pvctl_interrupted(p))
		goto interrupted;
	rc = pvctl_txn(p, write_txn, c);
	if (rc < 0) {
		if (!c->reported)
			pvctl_err("cannot commit the nodes of domain %u: %s", c->domid,
				  strerror(-rc));
		return rc;
	}
	c->written = true;
	if (pvctl_interrupted(p))
		goto interrupted;
	if (!xs_introduce_domain(p->xs, c->domid, (unsigned long)c->ready.store_gfn,
				 c->ready.store_port)) {
		rc = -errno;
		pvctl_err("the store refused to introduce domain %u (store_gfn %llu, port %u): %s",
			  c->domid, (unsigned long long)c->ready.store_gfn, c->ready.store_port,
			  strerror(-rc));
		return rc;
	}
	c->introduced = true;
	return create_wait(p, c);
interrupted:
	pvctl_err("interrupted: undoing the creation of domain %u", c->domid);
	return -EINTR;
}

/* In reverse: the release (a device that did not come up fails the
 * create after the introduction), the nodes, then the guest. */
static void create_undo(struct pvctl *p, struct create *c)
{
	if (c->introduced && !xs_release_domain(p->xs, c->domid))
		pvctl_err("undo: cannot release domain %u: %s", c->domid, strerror(errno));
	if (c->written && pvctl_txn(p, remove_txn, &c->domid) < 0)
		pvctl_err("undo: cannot remove the nodes of domain %u", c->domid);
	if (c->started) {
		int s = guest_stop(c->ready.pid, c->domid);

		if (s < 0)
			pvctl_err("undo: cannot stop pvguest %d: %s", (int)c->ready.pid,
				  strerror(-s));
		guest_remove_pid(p, c->domid);
	}
}

int cmd_create(struct pvctl *p, int argc, char **argv)
{
	struct create c;
	int lockfd = -1, rc;

	if (argc != 2 || argv[1][0] == '-')
		return pvctl_usage(pvctl_find_cmd("create"));
	memset(&c, 0, sizeof(c));
	xlcfg_init(&c.cfg);
	rc = create_prepare(p, &c, argv[1], &lockfd);
	if (rc == 0) {
		rc = create_build(p, &c);
		if (rc < 0)
			create_undo(p, &c);
		else    /* Introduced: the domain is complete. */
			printf("%u\n", c.domid);
	}
	pvctl_unlock(lockfd);
	xlcfg_free(&c.cfg);
	return rc < 0 ? 1 : 0;
}

int cmd_destroy(struct pvctl *p, int argc, char **argv)
{
	unsigned domid;
	pid_t pid;
	int rc;

	if (argc != 2 || argv[1][0] == '-')
		return pvctl_usage(pvctl_find_cmd("destroy"));
	if (pvctl_connect(p) < 0 || pvctl_lookup(p, argv[1], &domid) < 0)
		return 1;
	if (domid == 0) {
		pvctl_err("cannot destroy Domain-0");
		return 1;
	}
	/* A destroy half done is worse than a late exit: finish it. */
	if ((rc = pvctl_catch_signals(p)) < 0) {
		pvctl_err("cannot block signals: %s", strerror(-rc));
		return 1;
	}
	rc = guest_read_pid(p, domid, &pid);
	if (rc == 0) {
		rc = guest_stop(pid, domid);
		if (rc < 0) {
			pvctl_err("cannot stop pvguest %d of domain %u: %s", (int)pid, domid,
				  strerror(-rc));
			return 1;
		}
	} else if (rc != -ENOENT) {
		pvctl_err("warning: ignoring the bad pid file %s/guests/dom%u/pid: %s",
			  p->rundir, domid, strerror(-rc));
	}
	/* The store may release a domain whose guest died by itself. */
	if (xs_is_domain_introduced(p->xs, domid) && !xs_release_domain(p->xs, domid)) {
		int e = errno;

		if (xs_is_domain_introduced(p->xs, domid)) {
			pvctl_err("cannot release domain %u: %s", domid, strerror(e));
			return 1;
		}
	}
	rc = pvctl_txn(p, remove_txn, &domid);
	if (rc < 0) {
		pvctl_err("cannot remove the nodes of domain %u: %s", domid, strerror(-rc));
		return 1;
	}
	guest_remove_pid(p, domid);
	/* What a guest that dropped privileges (or was killed) could not
	 * remove itself: its simulated memory, grant table and ports. */
	rc = hv_sim_domain_cleanup(p->rundir, (domid_t)domid);
	if (rc < 0 && rc != -EBUSY)
		pvctl_err("warning: cannot remove the hv files of domain %u: %s",
			  domid, strerror(-rc));
	return 0;
}
