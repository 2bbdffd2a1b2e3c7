/* pvctl network-attach, network-detach and network-list, as xl's
 * (xl_nic.c, libxl_nic.c, libxl_device.c).
 *
 * attach: the words are xl's vif syntax, parsed by xlcfg_parse_vif (the
 * parser create uses for vif= lines), and the nodes are written by
 * nodes_write_vif (create's writer) in one transaction that also picks the
 * device id, the next after the highest in use (libxl__device_nextid), and
 * checks that the domain still exists.  Then the backend must take the
 * NIC up (devwait.c); a NIC that cannot come up is removed again.
 *
 * detach: libxl's removal, as block-detach: online = 0 and Closing, a
 * bounded wait for both ends to close, then the nodes removed; --force
 * removes them after the wait anyway.  A MAC names the vif whose backend
 * (dom0's, not the guest's frontend) has that mac.
 *
 * list: the frontend's values are the guest's: parsed strictly, `?` when
 * not numbers. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devwait.h"
#include "network.h"
#include "pvctl.h"

#define PATH_LEN           (XENSTORE_ABS_PATH_MAX + 1)

/* ------------------------------------------------------------ helpers */

static int append(char *buf, size_t len, size_t *used, const char *sep,
		  const char *s, size_t n)
{
	int w = snprintf(buf + *used, len - *used, "%s%.*s", *used ? sep : "", (int)n, s);

	if (w < 0 || (size_t)w >= len - *used)
		return -E2BIG;
	*used += (size_t)w;
	return 0;
}

int network_spec(int argc, char **argv, char *spec, size_t len)
{
	char ips[XLCFG_STRING_MAX + 1];
	size_t used = 0, iused = 0;
	int rc = 0;

	spec[0] = ips[0] = '\0';
	for (int i = 0; i < argc && rc == 0; i++) {
		if (!strchr(argv[i], '='))
			return -EINVAL;
		if (strncmp(argv[i], "ip=", 3) == 0)
			rc = append(ips, sizeof(ips), &iused, " ", argv[i] + 3,
				    strlen(argv[i] + 3));
		else
			rc = append(spec, len, &used, ",", argv[i], strlen(argv[i]));
	}
	if (rc == 0 && iused) {
		rc = append(spec, len, &used, ",", "ip=", 3);
		if (rc == 0)
			rc = append(spec, len, &used, "", ips, iused);
	}
	return rc;
}

int network_which(const char *arg, unsigned *devid, uint8_t mac[6])
{
	struct xlcfg_vif v;
	char spec[40], err[XLCFG_ERR_LEN];
	uint64_t n;

	if (pvctl_parse_dec(arg, UINT32_MAX, &n) == 0) {
		*devid = (unsigned)n;
		return 1;
	}
	if (strlen(arg) != 17 || strchr(arg, ','))
		return -EINVAL;
	snprintf(spec, sizeof(spec), "mac=%s", arg);
	if (xlcfg_parse_vif(spec, 0, &v, err, sizeof(err)) < 0)
		return -EINVAL;
	memcpy(mac, v.mac, 6);
	return 2;
}

/* The numbered entries of dir: the highest, or -1 when none. */
static long highest_id(struct pvctl *p, xs_transaction_t t, const char *dir)
{
	unsigned num = 0;
	char **ents = xs_directory(p->xs, t, dir, &num);
	long hi = -1;

	for (unsigned i = 0; ents && i < num; i++) {
		uint64_t v;

		if (pvctl_parse_dec(ents[i], UINT32_MAX - 1, &v) == 0 && (long)v > hi)
			hi = (long)v;
	}
	free(ents);
	return hi;
}

/* ------------------------------------------------------------- attach */

struct nattach {
	unsigned domid;
	const char *dom_arg;
	struct xlcfg_vif vif;
	bool reported;          /* the transaction printed its own error */
};

static int nattach_txn(struct pvctl *p, xs_transaction_t t, void *arg)
{
	struct nattach *a = arg;
	char home[32], dir[64];
	long fe, be;
	int rc;

	a->reported = true;
	snprintf(home, sizeof(home), "/local/domain/%u", a->domid);
	rc = pvctl_stat(p, t, home);
	if (rc < 0) {
		pvctl_err("domain '%s': %s: %s", a->dom_arg, home,
			  rc == -ENOENT ? "gone from the store" : strerror(-rc));
		return rc;
	}
	/* libxl__device_nextid: after the highest of either side. */
	snprintf(dir, sizeof(dir), "%s/device/vif", home);
	fe = highest_id(p, t, dir);
	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u", a->domid);
	be = highest_id(p, t, dir);
	a->vif.devid = (unsigned)((fe > be ? fe : be) + 1);
	rc = nodes_write_vif(p, t, a->domid, &a->vif);
	if (rc == 0)
		a->reported = false;
	return rc;
}

static int nattach_parse(struct nattach *a, int argc, char **argv)
{
	char spec[XLCFG_STRING_MAX + 1], err[XLCFG_ERR_LEN], shown[64];
	int rc = network_spec(argc - 2, argv + 2, spec, sizeof(spec));

	if (rc == -EINVAL)
		return pvctl_usage(pvctl_find_cmd("network-attach"));
	if (rc < 0) {
		pvctl_err("vif specification longer than %u bytes", XLCFG_STRING_MAX);
		return 1;
	}
	if (xlcfg_parse_vif(spec, 0, &a->vif, err, sizeof(err)) < 0) {
		snprintf(shown, sizeof(shown), "%.*s", (int)sizeof(shown) - 1, spec);
		pvctl_printable(shown);
		pvctl_err("vif '%s%s': %s", shown, strlen(spec) >= sizeof(shown) ? "..." : "",
			  err);
		return 1;
	}
	return 0;
}

int cmd_network_attach(struct pvctl *p, int argc, char **argv)
{
	struct nattach a = { .reported = false };
	struct devwait_dev d = { .type = "vif" };
	unsigned secs;
	int rc;

	if (argc < 2 || argv[1][0] == '-')
		return pvctl_usage(pvctl_find_cmd("network-attach"));
	rc = nattach_parse(&a, argc, argv);
	if (rc != 0)
		return rc;
	if (devwait_timeout_s(&secs) < 0 || pvctl_connect(p) < 0 ||
	    pvctl_lookup(p, argv[1], &a.domid) < 0)
		return 1;
	a.dom_arg = argv[1];
	rc = pvctl_txn(p, nattach_txn, &a);
	if (rc < 0) {
		if (!a.reported)
			pvctl_err("cannot commit the nodes of a vif of domain %u: %s", a.domid,
				  strerror(-rc));
		return 1;
	}
	d.domid = a.domid;
	d.devid = a.vif.devid;
	if (devwait_backends(p, &d, 1, secs) < 0) {
		devwait_remove(p, &d);
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------- detach */

struct ndetach {
	struct devwait_detach a;
	unsigned domid, devid;
};

/* The vif whose dom0 backend has this mac: 0 and *devid, or -ENOENT. */
static int find_mac(struct pvctl *p, unsigned domid, const uint8_t mac[6],
		    unsigned *devid)
{
	char dir[64], want[18];
	unsigned num = 0;
	char **ents;
	int rc = -ENOENT;

	xlcfg_format_mac(mac, want, sizeof(want));
	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u", domid);
	ents = xs_directory(p->xs, XBT_NULL, dir, &num);
	for (unsigned i = 0; ents && i < num && rc < 0; i++) {
		char *m = pvctl_read(p, XBT_NULL, "%s/%s/mac", dir, ents[i]);
		uint64_t v;

		if (m && strcasecmp(m, want) == 0 &&
		    pvctl_parse_dec(ents[i], UINT32_MAX, &v) == 0) {
			*devid = (unsigned)v;
			rc = 0;
		}
		free(m);
	}
	free(ents);
	return rc;
}

/* The domain (a domid whose backend directory is left counts, as for
 * block-detach) and the vif. */
static int ndetach_find(struct pvctl *p, struct ndetach *d)
{
	char dir[64], shown[40];
	uint8_t mac[6];
	int kind = network_which(d->a.which, &d->devid, mac);

	snprintf(shown, sizeof(shown), "%s", d->a.which);
	pvctl_printable(shown);
	if (kind < 0) {
		pvctl_err("'%s' is neither a vif's devid nor a mac", shown);
		return -EINVAL;
	}
	if (pvctl_parse_domid(d->a.dom_arg, &d->domid) == 0)
		snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u", d->domid);
	if (!(pvctl_parse_domid(d->a.dom_arg, &d->domid) == 0 &&
	      pvctl_stat(p, XBT_NULL, dir) == 0) &&
	    pvctl_lookup(p, d->a.dom_arg, &d->domid) < 0)
		return -ENOENT;
	if (kind == 2 && find_mac(p, d->domid, mac, &d->devid) < 0) {
		pvctl_err("domain %u has no vif with mac %s", d->domid, shown);
		return -ENOENT;
	}
	return 0;
}

int cmd_network_detach(struct pvctl *p, int argc, char **argv)
{
	struct ndetach d = { .a = { .timeout_s = DEVWAIT_DETACH_TIMEOUT_S } };
	struct devwait_dev dev = { .type = "vif" };
	const char *fes, *bes;
	int rc = devwait_detach_args(&d.a, "network-detach", argc, argv);

	if (rc != 0)
		return rc;
	if (pvctl_connect(p) < 0 || ndetach_find(p, &d) < 0)
		return 1;
	dev.domid = d.domid;
	dev.devid = d.devid;
	rc = devwait_close_start(p, &dev);
	if (rc < 0) {
		if (rc == -ENOENT)
			pvctl_err("domain %u has no vif %u", d.domid, d.devid);
		else
			pvctl_err("cannot close vif %u/%u: %s", d.domid, d.devid, strerror(-rc));
		return 1;
	}
	rc = devwait_closed(p, &dev, d.a.timeout_s, &fes, &bes);
	if (rc < 0 && (rc != -ETIMEDOUT || !d.a.force)) {
		if (rc == -ETIMEDOUT)
			pvctl_err("vif %u/%u did not close within %u s (frontend %s, backend %s); --force removes it anyway",
				  d.domid, d.devid, d.a.timeout_s, fes, bes);
		else
			pvctl_err("waiting for vif %u/%u to close: %s", d.domid, d.devid,
				  strerror(-rc));
		return 1;
	}
	if (rc < 0)
		pvctl_err("warning: vif %u/%u did not close within %u s (frontend %s, backend %s): removing it anyway",
			  d.domid, d.devid, d.a.timeout_s, fes, bes);
	return devwait_remove(p, &dev) < 0 ? 1 : 0;
}

/* --------------------------------------------------------------- list */

/* dir/node as a number: "?" when not one, "-1" when absent (xl's). */
static void num_of(struct pvctl *p, const char *dir, const char *const *nodes,
		   char *buf, size_t len)
{
	snprintf(buf, len, "-1");
	for (; *nodes; nodes++) {
		char *v = pvctl_read(p, XBT_NULL, "%s/%s", dir, *nodes);
		uint64_t n;

		if (!v)
			continue;
		if (pvctl_parse_dec(v, UINT32_MAX, &n) == 0)
			snprintf(buf, len, "%llu", (unsigned long long)n);
		else
			snprintf(buf, len, "?");
		free(v);
		return;
	}
}

static void list_vif(struct pvctl *p, unsigned domid, unsigned devid)
{
	static const char *const state[] = { "state", NULL };
	static const char *const evtch[] = { "event-channel", "event-channel-tx",
		"queue-0/event-channel", "queue-0/event-channel-tx", NULL };
	static const char *const tx[] = { "tx-ring-ref", "queue-0/tx-ring-ref", NULL };
	static const char *const rx[] = { "rx-ring-ref", "queue-0/rx-ring-ref", NULL };
	char fe[64], be[64], st[16], ev[16], t[16], r[16], *mac;
	uint8_t m[6];
	unsigned dummy;

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/%u", domid, devid);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/%u", domid, devid);
	mac = pvctl_read(p, XBT_NULL, "%s/mac", be);
	num_of(p, fe, state, st, sizeof(st));
	num_of(p, fe, evtch, ev, sizeof(ev));
	num_of(p, fe, tx, t, sizeof(t));
	num_of(p, fe, rx, r, sizeof(r));
	printf("%-3u %-2u %-17s %6u %5s %6s %5s/%-11s %s\n", devid, 0u,
	       mac && network_which(mac, &dummy, m) == 2 ? mac : "?", devid, st, ev, t, r,
	       be);
	free(mac);
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* Every vif of domid: numbered entries of its frontend and backend dirs. */
static void list_domain(struct pvctl *p, unsigned domid)
{
	enum { MAX_VIFS = 1024 };
	unsigned ids[MAX_VIFS], n = 0;

	for (int side = 0; side < 2; side++) {
		char dir[64], **ents;
		unsigned num = 0;

		if (side == 0)
			snprintf(dir, sizeof(dir), "/local/domain/%u/device/vif", domid);
		else
			snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u", domid);
		ents = xs_directory(p->xs, XBT_NULL, dir, &num);
		for (unsigned i = 0; ents && i < num && n < MAX_VIFS; i++) {
			uint64_t v;
			bool dup = false;

			if (pvctl_parse_dec(ents[i], UINT32_MAX, &v) < 0)
				continue;
			for (unsigned j = 0; j < n && !dup; j++)
				dup = ids[j] == v;
			if (!dup)
				ids[n++] = (unsigned)v;
		}
		free(ents);
	}
	qsort(ids, n, sizeof(ids[0]), cmp_uint);
	for (unsigned i = 0; i < n; i++)
		list_vif(p, domid, ids[i]);
}

int cmd_network_list(struct pvctl *p, int argc, char **argv)
{
	unsigned *doms;
	int rc = 0;

	if (argc < 2)
		return pvctl_usage(pvctl_find_cmd("network-list"));
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-')
			return pvctl_usage(pvctl_find_cmd("network-list"));
	if (pvctl_connect(p) < 0)
		return 1;
	doms = calloc((size_t)argc, sizeof(*doms));
	if (!doms) {
		pvctl_err("out of memory");
		return 1;
	}
	for (int i = 1; i < argc; i++)
		if (pvctl_lookup(p, argv[i], &doms[i]) < 0)
			rc = 1;
	if (rc == 0) {
		printf("%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-11s %s\n", "Idx", "BE",
		       "Mac Addr.", "handle", "state", "evt-ch", "tx-", "rx-ring-ref",
		       "BE-path");
		for (int i = 1; i < argc; i++)
			list_domain(p, doms[i]);
	}
	free(doms);
	return rc;
}
