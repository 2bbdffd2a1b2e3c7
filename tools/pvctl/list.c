/* pvctl list: the domains in the store, like `xl list`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvd/num.h"
#include "pvctl.h"

/* "vbd:2 vif:1" from /local/domain/N/device/<type>/<devid>, or "-". */
static void devices(struct pvctl *p, unsigned domid, char *buf, size_t len)
{
	char path[64], **types;
	unsigned nt = 0;
	size_t used = 0;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/local/domain/%u/device", domid);
	types = xs_directory(p->xs, XBT_NULL, path, &nt);
	for (unsigned i = 0; types && i < nt; i++) {
		char sub[XENSTORE_ABS_PATH_MAX + 1], **devs;
		unsigned nd = 0, count = 0;
		int n;

		if (snprintf(sub, sizeof(sub), "%s/%s", path, types[i]) >= (int)sizeof(sub))
			continue;
		devs = xs_directory(p->xs, XBT_NULL, sub, &nd);
		/* device/suspend holds no devices: count numbered entries. */
		for (unsigned j = 0; devs && j < nd; j++)
			count += devs[j][0] && strspn(devs[j], "0123456789") == strlen(devs[j]);
		free(devs);
		if (!count)
			continue;
		n = snprintf(buf + used, len - used, "%s%s:%u", used ? " " : "", types[i],
			     count);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	free(types);
	pvctl_printable(buf);
	if (!buf[0])
		snprintf(buf, len, "-");
}

static const char *state(struct pvctl *p, unsigned domid)
{
	pid_t pid;

	if (domid == 0)
		return "r-----";
	if (guest_read_pid(p, domid, &pid) < 0)
		return "------";        /* not started by pvctl here */
	return guest_is(pid, domid) ? "r-----" : "----c-";
}

int cmd_list(struct pvctl *p, int argc, char **argv)
{
	unsigned *ids, n;
	int rc;

	if (argc != 1)
		return pvctl_usage(pvctl_find_cmd("list"));
	if (pvctl_connect(p) < 0)
		return 1;
	rc = pvctl_list_domids(p, XBT_NULL, &ids, &n);
	if (rc < 0) {
		pvctl_err("cannot list /local/domain: %s", strerror(-rc));
		return 1;
	}
	printf("%-40s %5s %6s  %-6s  %s\n", "Name", "ID", "Mem", "State", "Devices");
	/* dom0 is listed with or without a node. */
	for (unsigned i = (n && ids[0] == 0) ? 1 : 0; i <= n; i++) {
		unsigned domid = i == 0 ? 0 : ids[i - 1];
		char *name, *target, mem[24], devs[128];
		uint64_t kib;

		name = pvctl_read(p, XBT_NULL, "/local/domain/%u/name", domid);
		target = pvctl_read(p, XBT_NULL, "/local/domain/%u/memory/target", domid);
		if (name)
			pvctl_printable(name);
		snprintf(mem, sizeof(mem), "-");
		if (target && pvd_parse_uint(target, UINT64_MAX, &kib) == 0)
			snprintf(mem, sizeof(mem), "%llu", (unsigned long long)kib / 1024);
		devices(p, domid, devs, sizeof(devs));
		printf("%-40s %5u %6s  %-6s  %s\n",
		       name ? name : domid == 0 ? "Domain-0" : "-", domid, mem,
		       state(p, domid), devs);
		free(name);
		free(target);
	}
	free(ids);
	return 0;
}
