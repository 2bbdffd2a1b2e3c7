/* pvctl: the store nodes of a domain, written as libxl writes them
 * (libxl__domain_make and libxl__build_post in libxl_create.c/libxl_dom.c,
 * libxl__device_console_add, the disk and nic device_add paths, and
 * libxl__device_generic_add for the permissions), so that backends and
 * guests written for Xen find what they expect.  docs/pvctl.md lists every
 * node with its permissions and says where pvd differs (no hotplug
 * scripts, so no script node; a vif's hotplug-status is written empty, as
 * libxl does, for pvd-netback to fill).
 *
 * Permissions, for domain N (first entry: owner, and what others get):
 *   ro  n0,rN   the toolstack's, readable by the guest (home, memory, ...)
 *   rw  nN      the guest's own (control/shutdown, data, ...)
 *   fe  nN,r0   a frontend directory: the guest's, readable by its backend
 *   be  n0,rN   a backend directory: dom0's, readable by the guest */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xenbus.h>

#include "devwait.h"
#include "pvctl.h"

#define CONSOLE_LIMIT    1048576      /* LIBXL_XENCONSOLE_LIMIT */
#define CONSOLE_PROTOCOL "vt100"      /* LIBXL_XENCONSOLE_PROTOCOL */
#define DEV_PATH_LEN     96           /* a device's frontend or backend path */

/* A writer that keeps the first error and the path it happened on, so
 * that a long list of writes needs one check at the end. */
struct nw {
	struct pvctl *p;
	xs_transaction_t t;
	int rc;
	char failed[XENSTORE_ABS_PATH_MAX + 1];
};

static bool nw_path(struct nw *w, char *buf, size_t len, const char *base,
		    const char *key)
{
	int n = key ? snprintf(buf, len, "%s/%s", base, key) : snprintf(buf, len, "%s", base);

	if (n < 0 || (size_t)n >= len) {
		w->rc = -ENAMETOOLONG;
		snprintf(w->failed, sizeof(w->failed), "%s", base);
		return false;
	}
	return true;
}

static void nw_fail(struct nw *w, const char *path)
{
	w->rc = errno ? -errno : -EIO;
	snprintf(w->failed, sizeof(w->failed), "%s", path);
}

/* base/key = printf(fmt, ...); perms (if any) set on it. */
static void put(struct nw *w, const struct xs_permissions *perms, unsigned np,
		const char *base, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void put(struct nw *w, const struct xs_permissions *perms, unsigned np,
		const char *base, const char *key, const char *fmt, ...)
{
	char path[XENSTORE_ABS_PATH_MAX + 1], val[XENSTORE_PAYLOAD_MAX];
	va_list ap;
	int n;

	if (w->rc < 0 || !nw_path(w, path, sizeof(path), base, key))
		return;
	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(val)) {
		errno = E2BIG;
		nw_fail(w, path);
		return;
	}
	if (!xs_write(w->p->xs, w->t, path, val, (unsigned)n) ||
	    (np && !xs_set_permissions(w->p->xs, w->t, path,
				       (struct xs_permissions *)perms, np)))
		nw_fail(w, path);
}

/* An empty node base/key (or base) with its permissions: libxl__xs_mknod. */
static void node(struct nw *w, const struct xs_permissions *perms, unsigned np,
		 const char *base, const char *key)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];

	if (w->rc < 0 || !nw_path(w, path, sizeof(path), base, key))
		return;
	if (!xs_mkdir(w->p->xs, w->t, path) ||
	    !xs_set_permissions(w->p->xs, w->t, path, (struct xs_permissions *)perms, np))
		nw_fail(w, path);
}

static int nw_end(struct nw *w)
{
	if (w->rc < 0)
		pvctl_err("cannot write %s: %s", w->failed, strerror(-w->rc));
	return w->rc;
}

#define PERMS(name, a, ap, b, bp) \
	const struct xs_permissions name[2] = { { (a), (ap) }, { (b), (bp) } }

static void write_console(struct nw *w, const struct dom_spec *d, const char *home)
{
	unsigned n = d->domid;
	char fe[64], be[64];

	PERMS(fe_perms, n, XS_PERM_NONE, 0, XS_PERM_READ);
	PERMS(ro, 0, XS_PERM_NONE, n, XS_PERM_READ);

	/* Console 0's frontend is /local/domain/N/console, not under
	 * device/; the entries the guest must not change are dom0's. */
	snprintf(fe, sizeof(fe), "%s/console", home);
	snprintf(be, sizeof(be), "/local/domain/0/backend/console/%u/0", n);
	node(w, fe_perms, 2, fe, NULL);
	put(w, NULL, 0, fe, "backend", "%s", be);
	put(w, NULL, 0, fe, "backend-id", "0");
	put(w, ro, 2, fe, "limit", "%d", CONSOLE_LIMIT);
	put(w, ro, 2, fe, "type", "xenconsoled");
	put(w, ro, 2, fe, "output", "pty");
	put(w, ro, 2, fe, "tty", "%s", "");
	put(w, ro, 2, fe, "port", "%u", d->ready->console_port);
	put(w, ro, 2, fe, "ring-ref", "%llu", (unsigned long long)d->ready->console_gfn);
	node(w, ro, 2, be, NULL);
	put(w, NULL, 0, be, "frontend", "%s", fe);
	put(w, NULL, 0, be, "frontend-id", "%u", n);
	put(w, NULL, 0, be, "online", "1");
	put(w, NULL, 0, be, "state", "%d", XenbusStateInitialising);
	put(w, NULL, 0, be, "protocol", CONSOLE_PROTOCOL);
}

/* The frontend and backend directories of device <type>/<devid> of
 * domain n, with the nodes every device has (libxl__device_generic_add);
 * their paths into fe and be. */
static void device_dirs(struct nw *w, unsigned n, const char *type, unsigned devid,
			char fe[DEV_PATH_LEN], char be[DEV_PATH_LEN])
{
	PERMS(fe_perms, n, XS_PERM_NONE, 0, XS_PERM_READ);
	PERMS(be_perms, 0, XS_PERM_NONE, n, XS_PERM_READ);

	snprintf(fe, DEV_PATH_LEN, "/local/domain/%u/device/%s/%u", n, type, devid);
	snprintf(be, DEV_PATH_LEN, "/local/domain/0/backend/%s/%u/%u", type, n, devid);
	node(w, fe_perms, 2, fe, NULL);
	put(w, NULL, 0, fe, "backend", "%s", be);
	put(w, NULL, 0, fe, "backend-id", "0");
	put(w, NULL, 0, fe, "state", "%d", XenbusStateInitialising);
	node(w, be_perms, 2, be, NULL);
	put(w, NULL, 0, be, "frontend", "%s", fe);
	put(w, NULL, 0, be, "frontend-id", "%u", n);
	put(w, NULL, 0, be, "online", "1");
	put(w, NULL, 0, be, "state", "%d", XenbusStateInitialising);
}

static void write_vbd(struct nw *w, unsigned n, const struct xlcfg_disk *disk)
{
	char fe[DEV_PATH_LEN], be[DEV_PATH_LEN];

	device_dirs(w, n, "vbd", disk->devid, fe, be);
	put(w, NULL, 0, fe, "virtual-device", "%u", disk->devid);
	put(w, NULL, 0, fe, "device-type", "disk");
	put(w, NULL, 0, be, "params", "%s", disk->target);
	put(w, NULL, 0, be, "removable", "0");
	put(w, NULL, 0, be, "bootable", "1");
	put(w, NULL, 0, be, "dev", "%s", disk->vdev);
	put(w, NULL, 0, be, "type", "%s", xlcfg_backend_name(disk->backend));
	put(w, NULL, 0, be, "mode", "%s", disk->readwrite ? "w" : "r");
	put(w, NULL, 0, be, "device-type", "disk");
	put(w, NULL, 0, be, "discard-enable", "%d", disk->discard ? 1 : 0);
	if (disk->direct_io_safe)
		put(w, NULL, 0, be, "direct-io-safe", "1");
	if (disk->luks) {
		/* pvd's nodes (libxl has no luks format): the key file's
		 * path is dom0's alone, the guest may not even read it. */
		const struct xs_permissions dom0_only[1] = { { 0, XS_PERM_NONE } };

		put(w, NULL, 0, be, "format", "luks");
		put(w, dom0_only, 1, be, "key-file", "%s", disk->keyfile);
	}
}

static void write_vif(struct nw *w, unsigned n, const struct xlcfg_vif *vif)
{
	char fe[DEV_PATH_LEN], be[DEV_PATH_LEN], mac[18];

	PERMS(ro_front, 0, XS_PERM_NONE, n, XS_PERM_READ);

	xlcfg_format_mac(vif->mac, mac, sizeof(mac));
	device_dirs(w, n, "vif", vif->devid, fe, be);
	put(w, NULL, 0, fe, "handle", "%u", vif->devid);
	put(w, NULL, 0, fe, "mac", "%s", mac);
	put(w, NULL, 0, fe, "trusted", "1");
	put(w, ro_front, 2, fe, "mtu", "%u", vif->mtu);   /* libxl's ro_front */
	/* No script runs (pvd-netback sets the tap up itself), so no script
	 * node; hotplug-status empty as libxl writes it, for pvd-netback to
	 * set to "connected" (or "error"). */
	put(w, NULL, 0, be, "hotplug-status", "%s", "");
	put(w, NULL, 0, be, "mac", "%s", mac);
	put(w, NULL, 0, be, "bridge", "%s", vif->bridge);
	put(w, NULL, 0, be, "handle", "%u", vif->devid);
	put(w, NULL, 0, be, "type", "vif");
	if (vif->ip[0])
		put(w, NULL, 0, be, "ip", "%s", vif->ip);
	if (vif->vifname[0])
		put(w, NULL, 0, be, "vifname", "%s", vif->vifname);
	if (vif->mtu != XLCFG_MTU_DEFAULT)
		put(w, NULL, 0, be, "mtu", "%u", vif->mtu);
	if (vif->rate_usec)     /* libxl__set_xenstore_nic: "BYTES,USEC" */
		put(w, NULL, 0, be, "rate", "%llu,%u", (unsigned long long)vif->rate_bytes,
		    (unsigned)vif->rate_usec);
}

int nodes_write_vbd(struct pvctl *p, xs_transaction_t t, unsigned domid,
		    const struct xlcfg_disk *disk)
{
	struct nw w = { .p = p, .t = t };

	write_vbd(&w, domid, disk);
	return nw_end(&w);
}

int nodes_write_vif(struct pvctl *p, xs_transaction_t t, unsigned domid,
		    const struct xlcfg_vif *vif)
{
	struct nw w = { .p = p, .t = t };

	write_vif(&w, domid, vif);
	return nw_end(&w);
}

int nodes_write_domain(struct pvctl *p, xs_transaction_t t, const struct dom_spec *d)
{
	static const char *const control_rw[] = {
		"shutdown", "feature-poweroff", "feature-reboot", "feature-suspend",
		"sysrq",
	};
	static const char *const guest_dirs[] = {
		"data", "drivers", "feature", "attr", "error",
	};
	struct nw w = { .p = p, .t = t };
	unsigned n = d->domid;
	unsigned long long kib = (unsigned long long)d->cfg->memory_mib * 1024;
	char home[32], vm[48];

	PERMS(ro, 0, XS_PERM_NONE, n, XS_PERM_READ);
	const struct xs_permissions rw[1] = { { n, XS_PERM_NONE } };

	snprintf(home, sizeof(home), "/local/domain/%u", n);
	snprintf(vm, sizeof(vm), "/vm/%s", d->uuid);
	/* libxl__domain_make */
	node(&w, ro, 2, home, NULL);
	node(&w, ro, 2, vm, NULL);
	put(&w, NULL, 0, home, "vm", "%s", vm);
	put(&w, NULL, 0, home, "name", "%s", d->cfg->name);
	put(&w, NULL, 0, vm, "name", "%s", d->cfg->name);
	put(&w, NULL, 0, vm, "uuid", "%s", d->uuid);
	node(&w, ro, 2, home, "memory");
	node(&w, ro, 2, home, "device");
	node(&w, rw, 1, home, "device/suspend/event-channel");
	node(&w, ro, 2, home, "control");
	for (size_t i = 0; i < sizeof(control_rw) / sizeof(control_rw[0]); i++) {
		char key[48];

		snprintf(key, sizeof(key), "control/%s", control_rw[i]);
		node(&w, rw, 1, home, key);
	}
	for (size_t i = 0; i < sizeof(guest_dirs) / sizeof(guest_dirs[0]); i++)
		node(&w, rw, 1, home, guest_dirs[i]);
	put(&w, NULL, 0, home, "control/platform-feature-multiprocessor-suspend", "1");
	put(&w, NULL, 0, home, "control/platform-feature-xs_reset_watches", "1");
	/* libxl__build_post */
	put(&w, NULL, 0, home, "memory/static-max", "%llu", kib);
	put(&w, NULL, 0, home, "memory/target", "%llu", kib);
	put(&w, NULL, 0, home, "domid", "%u", n);
	put(&w, NULL, 0, home, "store/port", "%u", d->ready->store_port);
	put(&w, NULL, 0, home, "store/ring-ref", "%llu",
	    (unsigned long long)d->ready->store_gfn);
	/* the console and the devices */
	write_console(&w, d, home);
	for (unsigned i = 0; i < d->cfg->ndisks; i++)
		write_vbd(&w, n, &d->cfg->disks[i]);
	for (unsigned i = 0; i < d->cfg->nvifs; i++)
		write_vif(&w, n, &d->cfg->vifs[i]);
	return nw_end(&w);
}

static bool vm_path_ok(const char *v)
{
	/* /vm/<uuid>: never remove anything else on the word of a node. */
	if (strncmp(v, "/vm/", 4) != 0 || strlen(v) != 4 + 36)
		return false;
	for (const char *c = v + 4; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || *c == '-'))
			return false;
	return true;
}

static int rm(struct pvctl *p, xs_transaction_t t, const char *path)
{
	if (xs_rm(p->xs, t, path) || errno == ENOENT)
		return 0;
	return errno ? -errno : -EIO;
}

/* What backends reported about the domain's devices (xenbus_dev_error
 * writes dom0's error/backend/<type>/N/<devid>/error), and the parents
 * that leaves empty. */
static int remove_errors(struct pvctl *p, xs_transaction_t t, unsigned domid)
{
	char path[XENSTORE_ABS_PATH_MAX + 1], **types;
	unsigned nt = 0;
	int rc = 0;

	types = xs_directory(p->xs, t, "/local/domain/0/error/backend", &nt);
	for (unsigned i = 0; types && i < nt && rc == 0; i++) {
		if (snprintf(path, sizeof(path), "/local/domain/0/error/backend/%s/%u",
			     types[i], domid) >= (int)sizeof(path))
			continue;
		rc = devwait_rm_cleanup(p, t, path, "/local/domain/0/error");
	}
	free(types);
	return rc;
}

int nodes_remove_domain(struct pvctl *p, xs_transaction_t t, unsigned domid)
{
	char path[XENSTORE_ABS_PATH_MAX + 1], *vm;
	char **types;
	unsigned nt = 0;
	int rc = 0;

	vm = pvctl_read(p, t, "/local/domain/%u/vm", domid);
	if (vm && vm_path_ok(vm))
		rc = rm(p, t, vm);
	free(vm);
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	if (rc == 0)
		rc = rm(p, t, path);
	types = xs_directory(p->xs, t, "/local/domain/0/backend", &nt);
	for (unsigned i = 0; types && i < nt && rc == 0; i++) {
		if (snprintf(path, sizeof(path), "/local/domain/0/backend/%s/%u", types[i],
			     domid) >= (int)sizeof(path))
			continue;
		rc = rm(p, t, path);
	}
	free(types);
	return rc == 0 ? remove_errors(p, t, domid) : rc;
}
