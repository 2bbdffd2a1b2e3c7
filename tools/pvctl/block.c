/* pvctl block-attach, block-detach and block-list, as xl's (xl_block.c,
 * libxl_disk.c, libxl_device.c).
 *
 * attach: everything that can be checked before the store is checked
 * first (the spec, the target, the domain); then the frontend and backend
 * directories are written in one transaction that also checks, inside,
 * that the domain still exists and the device number is free, so a
 * failure or a concurrent toolstack never leaves half a disk.
 *
 * detach: libxl's removal: the backend gets online = 0 and state =
 * Closing in one transaction; the frontend (its guest watches the
 * backend's state) closes, and the backend, seeing a closed frontend and
 * online = 0, closes and lets go of the storage; once both are Closed (a
 * vanished frontend counts as closed) both directories are removed in one
 * transaction.  The wait is bounded; after it, only --force removes the
 * nodes (a guest that never answers must not make a detach hang).
 *
 * The frontend's directory is the guest's to write: its `backend` node is
 * believed only when it names this very device's directory in some
 * domain's backend tree, else dom0's is used; values the guest wrote are
 * parsed strictly and shown as `?` when they are not numbers. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xen/io/xenbus.h>

#include "pvd/rbd_target.h"
#include "blkstat.h"
#include "block.h"
#include "ctlsock.h"
#include "devwait.h"
#include "pvctl.h"
#include "statview.h"

#define PATH_LEN (XENSTORE_ABS_PATH_MAX + 1)

/* ------------------------------------------------------------- helpers */

/* The backend path the frontend names, if it is exactly
 * /local/domain/<B>/backend/vbd/<domid>/<devid>: its B. */
bool block_backend_named(const char *v, unsigned domid, uint32_t devid, unsigned *bdom)
{
	char want[64], num[8];
	const char *rest;
	size_t n;

	if (!v || strncmp(v, "/local/domain/", 14) != 0)
		return false;
	rest = strchr(v + 14, '/');
	n = rest ? (size_t)(rest - (v + 14)) : 0;
	if (!rest || n == 0 || n >= sizeof(num))
		return false;
	memcpy(num, v + 14, n);
	num[n] = '\0';
	if (pvctl_parse_domid(num, bdom) < 0)
		return false;
	snprintf(want, sizeof(want), "/backend/vbd/%u/%u", domid, (unsigned)devid);
	return strcmp(rest, want) == 0;
}

struct vbd_paths {
	unsigned domid, bdom;
	uint32_t devid;
	char fe[PATH_LEN], be[PATH_LEN];
};

/* fe and be of a device; be as the frontend names it (when believable),
 * else dom0's. */
static void vbd_paths(struct pvctl *p, xs_transaction_t t, unsigned domid,
		      uint32_t devid, struct vbd_paths *v)
{
	char *named;

	v->domid = domid;
	v->devid = devid;
	v->bdom = 0;
	snprintf(v->fe, sizeof(v->fe), "/local/domain/%u/device/vbd/%u", domid,
		 (unsigned)devid);
	named = pvctl_read(p, t, "%s/backend", v->fe);
	if (!block_backend_named(named, domid, devid, &v->bdom))
		v->bdom = 0;
	free(named);
	snprintf(v->be, sizeof(v->be), "/local/domain/%u/backend/vbd/%u/%u", v->bdom,
		 domid, (unsigned)devid);
}

/* -1 when absent, -2 when not a number. */
static long read_num(struct pvctl *p, xs_transaction_t t, const char *dir,
		     const char *node)
{
	char *v = pvctl_read(p, t, "%s/%s", dir, node);
	uint64_t n;
	long r;

	if (!v)
		return -1;
	r = pvctl_parse_dec(v, UINT32_MAX, &n) == 0 ? (long)n : -2;
	free(v);
	return r;
}

static void fmt_num(long v, char *buf, size_t len)
{
	if (v == -2)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%ld", v);
}

/* ------------------------------------------------------------- attach */

/* What xl checks before it writes anything (libxl__device_disk_set_backend
 * stats the target), and what pvd-blkback would find when it opens it:
 * a read-only target attached rw is refused here, not after the guest saw
 * a disk come and go. */
/* An rbd: target is not stat()ed (it is no path): its syntax is checked
 * with pvd-blkback's own parser, its conf= file must be readable, and a
 * snapshot must be attached read-only. */
static int check_rbd_target(const struct xlcfg_disk *d)
{
	struct pvd_rbd_target *t = malloc(sizeof(*t));
	char err[160];
	int rc = 0;

	if (!t) {
		pvctl_err("out of memory");
		return -ENOMEM;
	}
	if (pvd_rbd_parse(d->target, t, err, sizeof(err)) < 0) {
		pvctl_err("disk target %s: %s", d->target, err);
		rc = -EINVAL;
	} else if (t->snap && d->readwrite) {
		pvctl_err("disk target %s is a snapshot, which is read-only: attach it read-only (access=ro)",
			  d->target);
		rc = -EROFS;
	} else if (t->conf && access(t->conf, R_OK) < 0) {
		rc = -errno;
		pvctl_err("disk target %s: Ceph configuration %s: %s", d->target, t->conf,
			  strerror(-rc));
	}
	free(t);
	return rc;
}

/* An NBD URI served by pvd-blkback's nbd engine: nothing to stat here
 * (the server may be on another host); the scheme and the parts libnbd
 * needs are checked, and a TLS key file named in it must be readable. */
static int check_nbd_uri(const struct xlcfg_disk *d)
{
	static const char *const schemes[] = { "nbd://", "nbds://",
		"nbd+unix://", "nbds+unix://", "nbd+vsock://", "nbds+vsock://" };
	const char *t = d->target, *rest = NULL, *psk;
	char path[XLCFG_TARGET_MAX + 1];

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]) && !rest; i++)
		if (strncmp(t, schemes[i], strlen(schemes[i])) == 0)
			rest = t + strlen(schemes[i]);
	if (!rest || (strstr(t, "+unix://") ? !strstr(rest, "socket=") : !*rest ||
		      *rest == '/' || *rest == '?')) {
		pvctl_err("disk target %s: not an NBD URI (nbd://HOST[:PORT]/EXPORT, "
			  "nbd+unix:///EXPORT?socket=PATH, nbds://...)", t);
		return -EINVAL;
	}
	psk = strstr(rest, "tls-psk-file=");
	if (psk) {
		snprintf(path, sizeof(path), "%s", psk + 13);
		path[strcspn(path, "&#")] = '\0';
		if (access(path, R_OK) < 0) {
			int e = errno;

			pvctl_err("disk target %s: TLS key file %s: %s", t, path, strerror(e));
			return -e;
		}
	}
	return 0;
}

int block_check_target(const struct xlcfg_disk *d)
{
	int flags = (d->readwrite ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat st;
	int fd, e, ro = 0;

	if (pvd_rbd_is_target(d->target))
		return check_rbd_target(d);
	if (strncmp(d->target, "nbd", 3) == 0 && strstr(d->target, "://"))
		return check_nbd_uri(d);
	if (stat(d->target, &st) < 0) {
		e = errno;
		pvctl_err("disk target %s: %s", d->target, strerror(e));
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		pvctl_err("disk target %s is a directory", d->target);
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		pvctl_err("disk target %s is neither a regular file nor a block device",
			  d->target);
		return -EINVAL;
	}
	fd = open(d->target, flags);
	if (fd < 0) {
		e = errno;
		if (d->readwrite && (e == EACCES || e == EPERM || e == EROFS || e == ETXTBSY))
			pvctl_err("disk target %s cannot be opened for writing (%s): attach it read-only (access=ro)",
				  d->target, strerror(e));
		else
			pvctl_err("cannot open disk target %s: %s", d->target, strerror(e));
		return -e;
	}
	if (d->readwrite && S_ISBLK(st.st_mode) && ioctl(fd, BLKROGET, &ro) == 0 && ro) {
		close(fd);
		pvctl_err("disk target %s is a read-only block device: attach it read-only (access=ro)",
			  d->target);
		return -EROFS;
	}
	close(fd);
	return 0;
}

struct attach {
	unsigned domid;
	const char *dom_arg;
	struct xlcfg_disk disk;
	bool reported;          /* the transaction printed its own error */
};

static int attach_txn(struct pvctl *p, xs_transaction_t t, void *arg)
{
	struct attach *a = arg;
	struct vbd_paths v;
	char home[32];
	int rc;

	a->reported = true;
	snprintf(home, sizeof(home), "/local/domain/%u", a->domid);
	rc = pvctl_stat(p, t, home);
	if (rc == -ENOENT) {
		pvctl_err("domain '%s' does not exist in the store (no %s)", a->dom_arg, home);
		return rc;
	}
	if (rc < 0) {
		pvctl_err("cannot read %s: %s", home, strerror(-rc));
		return rc;
	}
	/* Both directories must be free: a leftover backend would otherwise
	 * be taken over with its old state. */
	snprintf(v.fe, sizeof(v.fe), "/local/domain/%u/device/vbd/%u", a->domid,
		 (unsigned)a->disk.devid);
	snprintf(v.be, sizeof(v.be), "/local/domain/0/backend/vbd/%u/%u", a->domid,
		 (unsigned)a->disk.devid);
	for (int i = 0; i < 2; i++) {
		const char *path = i == 0 ? v.fe : v.be;

		rc = pvctl_stat(p, t, path);
		if (rc == 0) {
			pvctl_err("domain %u already has a disk %s (device %u): %s exists",
				  a->domid, a->disk.vdev, (unsigned)a->disk.devid, path);
			return -EEXIST;
		}
		if (rc != -ENOENT) {
			pvctl_err("cannot read %s: %s", path, strerror(-rc));
			return rc;
		}
	}
	rc = nodes_write_vbd(p, t, a->domid, &a->disk);
	if (rc == 0)
		a->reported = false;
	return rc;
}

/* The backend must take the disk up (devwait.c); a disk it refuses or
 * nobody serves is removed again, so that a failed attach leaves nothing. */
static int attach_wait(struct pvctl *p, const struct attach *a, unsigned secs)
{
	struct devwait_dev d = { "vbd", a->domid, (unsigned)a->disk.devid, 0 };

	if (devwait_backends(p, &d, 1, secs) == 0)
		return 0;
	devwait_remove(p, &d);
	return 1;
}

int cmd_block_attach(struct pvctl *p, int argc, char **argv)
{
	struct attach a = { .reported = false };
	char spec[XLCFG_STRING_MAX + 1], err[XLCFG_ERR_LEN];
	size_t used = 0;
	unsigned secs;
	int rc;

	if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-')
		return pvctl_usage(pvctl_find_cmd("block-attach"));
	/* xl joins the spec's words with commas: `xvdb w /img` is fine. */
	spec[0] = '\0';
	for (int i = 2; i < argc; i++) {
		int n = snprintf(spec + used, sizeof(spec) - used, "%s%s", i > 2 ? "," : "",
				 argv[i]);

		if (n < 0 || (size_t)n >= sizeof(spec) - used) {
			pvctl_err("disk specification longer than %u bytes", XLCFG_STRING_MAX);
			return 1;
		}
		used += (size_t)n;
	}
	if (xlcfg_parse_disk(spec, &a.disk, err, sizeof(err)) < 0) {
		char shown[64];

		snprintf(shown, sizeof(shown), "%s", spec);
		pvctl_printable(shown);
		/* xl's rule that surprises: target= takes the rest of the
		 * spec, commas included (paths may hold commas). */
		if (strncmp(spec, "target=", 7) == 0 && strstr(spec, ",vdev="))
			pvctl_err("disk '%s%s': %s (target= takes the rest of the spec, commas included: put it last)",
				  shown, strlen(spec) >= sizeof(shown) ? "..." : "", err);
		else
			pvctl_err("disk '%s%s': %s", shown,
				  strlen(spec) >= sizeof(shown) ? "..." : "", err);
		return 1;
	}
	if (block_check_target(&a.disk) < 0 || devwait_timeout_s(&secs) < 0)
		return 1;
	if (pvctl_connect(p) < 0 || pvctl_lookup(p, argv[1], &a.domid) < 0)
		return 1;
	a.dom_arg = argv[1];
	rc = pvctl_txn(p, attach_txn, &a);
	if (rc < 0) {
		if (!a.reported)
			pvctl_err("cannot commit the nodes of disk %s of domain %u: %s",
				  a.disk.vdev, a.domid, strerror(-rc));
		return 1;
	}
	return attach_wait(p, &a, secs);
}

/* ------------------------------------------------------------- detach */

/* libxl's removal (devwait.h): online 0 and Closing, a bounded wait for
 * both ends to close, then the nodes removed. */
struct detach {
	struct vbd_paths v;
	struct devwait_detach a;
};

/* The virtual device named on the command line.  0, or the exit status. */
static int detach_vdev(struct detach *d)
{
	char shown[40];

	if (xlcfg_vdev_devid(d->a.which, &d->v.devid) == 0)
		return 0;
	snprintf(shown, sizeof(shown), "%s", d->a.which);
	pvctl_printable(shown);
	pvctl_err("'%s' is not a virtual device (xvdb, hdc, sda, d1p2 or a device number)",
		  shown);
	return 1;
}

/* dom0's backend directory of the device exists. */
static bool backend_left(struct pvctl *p, unsigned domid, uint32_t devid)
{
	char path[PATH_LEN];

	snprintf(path, sizeof(path), "/local/domain/0/backend/vbd/%u/%u", domid,
		 (unsigned)devid);
	return pvctl_stat(p, XBT_NULL, path) == 0;
}

/* The domain: a domid or a name.  A domain gone from the store (destroyed
 * by xl, which does not know the disks pvctl attached) leaves their
 * backend directories: its domid still names them, so that they can be
 * removed. */
static int detach_domain(struct pvctl *p, struct detach *d)
{
	unsigned domid;

	if (!(pvctl_parse_domid(d->a.dom_arg, &domid) == 0 &&
	      backend_left(p, domid, d->v.devid)) &&
	    pvctl_lookup(p, d->a.dom_arg, &domid) < 0)
		return -ENOENT;
	d->v.domid = domid;
	return 0;
}

int cmd_block_detach(struct pvctl *p, int argc, char **argv)
{
	struct detach d = { .a = { .timeout_s = DEVWAIT_DETACH_TIMEOUT_S } };
	struct devwait_dev dev = { .type = "vbd" };
	const char *fes, *bes;
	int rc = devwait_detach_args(&d.a, "block-detach", argc, argv);

	if (rc == 0)
		rc = detach_vdev(&d);
	if (rc != 0)
		return rc;
	if (pvctl_connect(p) < 0 || detach_domain(p, &d) < 0)
		return 1;
	/* The backend where the frontend says it is, when believable. */
	vbd_paths(p, XBT_NULL, d.v.domid, d.v.devid, &d.v);
	dev.domid = d.v.domid;
	dev.devid = (unsigned)d.v.devid;
	dev.bdom = d.v.bdom;
	rc = devwait_close_start(p, &dev);
	if (rc < 0) {
		if (rc == -ENOENT)
			pvctl_err("domain %u has no disk %s", dev.domid, d.a.which);
		else
			pvctl_err("cannot close disk %s of domain %u: %s", d.a.which,
				  dev.domid, strerror(-rc));
		return 1;
	}
	rc = devwait_closed(p, &dev, d.a.timeout_s, &fes, &bes);
	if (rc < 0 && (rc != -ETIMEDOUT || !d.a.force)) {
		if (rc == -ETIMEDOUT)
			pvctl_err("disk %s of domain %u did not close within %u s (frontend %s, backend %s); --force removes it anyway",
				  d.a.which, dev.domid, d.a.timeout_s, fes, bes);
		else
			pvctl_err("waiting for disk %s of domain %u to close: %s",
				  d.a.which, dev.domid, strerror(-rc));
		return 1;
	}
	if (rc < 0)
		pvctl_err("warning: disk %s of domain %u did not close within %u s (frontend %s, backend %s): removing it anyway",
			  d.a.which, dev.domid, d.a.timeout_s, fes, bes);
	return devwait_remove(p, &dev) < 0 ? 1 : 0;
}

/* ------------------------------------------------------------- list */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The numbered entries of dir appended to ids (at most max in all). */
static void add_ids(struct pvctl *p, const char *dir, uint32_t *ids, unsigned *n,
		    unsigned max)
{
	unsigned num = 0;
	char **ents = xs_directory(p->xs, XBT_NULL, dir, &num);

	for (unsigned i = 0; ents && i < num && *n < max; i++) {
		uint64_t v;
		bool dup = false;

		if (pvctl_parse_dec(ents[i], UINT32_MAX, &v) < 0)
			continue;
		for (unsigned j = 0; j < *n && !dup; j++)
			dup = ids[j] == v;
		if (!dup)
			ids[(*n)++] = (uint32_t)v;
	}
	free(ents);
}

/* The guest's NBD export of the disk, from the URI file pvguest writes
 * next to its socket.  The directory is the guest's: the file is opened
 * without following links, and shown only when it says what pvguest
 * writes, so that it cannot make pvctl print anything else. */
void block_nbd_uri(struct pvctl *p, unsigned domid, uint32_t devid, char *buf,
		   size_t len)
{
	char sock[4096], path[4200], want[4300], got[4300];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(buf, len, "-");
	if (pvctl_path(p, sock, sizeof(sock), "guests/dom%u/vbd-%u.nbd", domid,
		       (unsigned)devid) < 0)
		return;
	snprintf(path, sizeof(path), "%s.uri", sock);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(buf, len, "?");
		return;
	}
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	got[n > 0 ? n : 0] = '\0';
	if (n > 0 && got[n - 1] == '\n')
		got[n - 1] = '\0';
	snprintf(want, sizeof(want), "nbd+unix:///?socket=%s", sock);
	snprintf(buf, len, "%s", strcmp(got, want) == 0 ? want : "?");
}

/* The disk's format: the store's format node ("raw" when absent); an
 * encrypted disk with its cipher when pvd-blkback serves it (bs: its
 * stats, or NULL when it did not answer). */
static void disk_format(struct pvctl *p, const char *be, const struct blkstat *bs,
			unsigned domid, uint32_t devid, char *buf, size_t len)
{
	char *f = pvctl_read(p, XBT_NULL, "%s/format", be);
	const struct blkstat_dev *d = bs ? blkstat_find_dev(bs, domid, devid) : NULL;

	if (d && d->enc_format)
		snprintf(buf, len, "%s:%s", d->enc_format, d->enc_cipher);
	else
		snprintf(buf, len, "%s", f && *f ? f : "raw");
	pvctl_printable(buf);
	free(f);
}

/* A remote disk's state (nbd or rbd), shown as " remote:STATE" after its
 * line: pvd-blkback's stats when it answers, else the backend's
 * storage-state node it last wrote (the same word).  Empty for local
 * disks. */
static void remote_of(struct pvctl *p, const char *be, const struct blkstat *s,
		      unsigned domid, uint32_t devid, char *buf, size_t len)
{
	const struct blkstat_dev *d = s ? blkstat_find_dev(s, domid, devid) : NULL;
	char *node = NULL;

	if (d && d->remote[0]) {
		snprintf(buf, len, "%s", d->remote);
	} else if (!d && (node = pvctl_read(p, XBT_NULL, "%s/storage-state", be))) {
		snprintf(buf, len, "%s", node);
		pvctl_printable(buf);
	} else {
		buf[0] = '\0';
	}
	free(node);
}

static void list_domain(struct pvctl *p, unsigned domid, const struct blkstat *bs)
{
	enum { MAX_DISKS = 4096 };
	uint32_t *ids = calloc(MAX_DISKS, sizeof(*ids));
	char dir[64];
	unsigned n = 0;

	if (!ids) {
		pvctl_err("out of memory");
		return;
	}
	snprintf(dir, sizeof(dir), "/local/domain/%u/device/vbd", domid);
	add_ids(p, dir, ids, &n, MAX_DISKS);
	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vbd/%u", domid);
	add_ids(p, dir, ids, &n, MAX_DISKS);
	qsort(ids, n, sizeof(*ids), cmp_u32);
	for (unsigned i = 0; i < n; i++) {
		struct vbd_paths v;
		char state[16], evtch[16], rref[16], uri[4400], fmt[48], rs[24];
		long s, e, r;

		vbd_paths(p, XBT_NULL, domid, ids[i], &v);
		/* libxl_device_disk_getinfo: the frontend's view.  Multi-queue
		 * and multi-page rings have no top-level nodes: queue 0's and
		 * page 0's are shown instead. */
		s = read_num(p, XBT_NULL, v.fe, "state");
		e = read_num(p, XBT_NULL, v.fe, "event-channel");
		if (e == -1)
			e = read_num(p, XBT_NULL, v.fe, "queue-0/event-channel");
		r = read_num(p, XBT_NULL, v.fe, "ring-ref");
		if (r == -1)
			r = read_num(p, XBT_NULL, v.fe, "ring-ref0");
		if (r == -1)
			r = read_num(p, XBT_NULL, v.fe, "queue-0/ring-ref");
		if (r == -1)
			r = read_num(p, XBT_NULL, v.fe, "queue-0/ring-ref0");
		if (s == -1)
			snprintf(state, sizeof(state), "-");
		else
			fmt_num(s, state, sizeof(state));
		fmt_num(e, evtch, sizeof(evtch));
		fmt_num(r, rref, sizeof(rref));
		block_nbd_uri(p, domid, ids[i], uri, sizeof(uri));
		disk_format(p, v.be, bs, domid, ids[i], fmt, sizeof(fmt));
		remote_of(p, v.be, bs, domid, ids[i], rs, sizeof(rs));
		printf("%-5u %-3u %-6u %-5s %-6s %-8s %-30s %-6s %s%s%s\n", (unsigned)ids[i], v.bdom,
		       domid, state, evtch, rref, v.be, fmt, uri, rs[0] ? " remote:" : "", rs);
	}
	free(ids);
}

/* pvd-blkback's stats for the ciphers, if it answers (block-list works
 * from the store alone without it). */
static bool blk_stats_quiet(struct pvctl *p, struct blkstat *bs)
{
	struct ctlsock c;
	bool ok;

	memset(bs, 0, sizeof(*bs));
	if (ctlsock_init(p, &c, "pvd-blkback", STATVIEW_BLK_SOCKET, NULL) < 0)
		return false;
	ok = statview_sample_blk(&c, bs) == 0;
	ctlsock_close(&c);
	return ok;
}

int cmd_block_list(struct pvctl *p, int argc, char **argv)
{
	unsigned *doms;
	int rc = 0;

	if (argc < 2)
		return pvctl_usage(pvctl_find_cmd("block-list"));
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-')
			return pvctl_usage(pvctl_find_cmd("block-list"));
	if (pvctl_connect(p) < 0)
		return 1;
	doms = calloc((size_t)argc, sizeof(*doms));
	if (!doms) {
		pvctl_err("out of memory");
		return 1;
	}
	/* Every domain is looked up before anything is printed. */
	for (int i = 1; i < argc; i++)
		if (pvctl_lookup(p, argv[i], &doms[i]) < 0)
			rc = 1;
	if (rc == 0) {
		struct blkstat bs;
		bool have = blk_stats_quiet(p, &bs);

		printf("%-5s %-3s %-6s %-5s %-6s %-8s %-30s %-6s %s\n", "Vdev", "BE", "handle",
		       "state", "evt-ch", "ring-ref", "BE-path", "Format", "NBD-URI");
		for (int i = 1; i < argc; i++)
			list_domain(p, doms[i], have ? &bs : NULL);
		blkstat_free(&bs);
	}
	free(doms);
	return rc;
}
