/* libFuzzer target: the xl-style config parser (tools/pvctl/xlcfg.c).  The
 * input is parsed as a whole config file, then (NUL-terminated) as one
 * disk spec, one vif spec and one vdev name.  Each run frees what it
 * parsed, so LeakSanitizer sees any leak; results that break the parser's
 * promises (docs/pvctl.md) trap. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_disk(const struct xlcfg_disk *d)
{
	uint32_t devid;

	/* A path, or a remote target (a URI: nbd://..., or rbd:...). */
	if ((d->target[0] != '/' && strncmp(d->target, "rbd:", 4) != 0 &&
	     !strstr(d->target, "://")) ||
	    strlen(d->target) > XLCFG_TARGET_MAX ||
	    xlcfg_vdev_devid(d->vdev, &devid) != 0 || devid != d->devid ||
	    (d->backend != XLCFG_BACKEND_PHY && d->backend != XLCFG_BACKEND_FILE))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[XLCFG_ERR_LEN];
	struct xlcfg cfg;
	struct xlcfg_disk disk;
	struct xlcfg_vif vif;
	uint32_t devid;
	char *s;

	xlcfg_init(&cfg);
	if (xlcfg_parse(&cfg, "fuzz.cfg", (const char *)data, size, err, sizeof(err)) == 0) {
		if (!xlcfg_name_valid(cfg.name) || cfg.memory_mib == 0 ||
		    cfg.memory_mib > XLCFG_MEMORY_MAX || cfg.ndisks > XLCFG_DISKS_MAX ||
		    cfg.nvifs > XLCFG_VIFS_MAX)
			__builtin_trap();
		for (unsigned i = 0; i < cfg.ndisks; i++)
			check_disk(&cfg.disks[i]);
		for (unsigned i = 0; i < cfg.nvifs; i++)
			if (cfg.vifs[i].devid != i || (cfg.vifs[i].mac[0] & 1))
				__builtin_trap();
	} else if (!memchr(err, '\0', sizeof(err))) {
		__builtin_trap();
	}
	xlcfg_free(&cfg);

	if (size > 2 * XLCFG_STRING_MAX)
		size = 2 * XLCFG_STRING_MAX;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (xlcfg_parse_disk(s, &disk, err, sizeof(err)) == 0)
		check_disk(&disk);
	if (xlcfg_parse_vif(s, 0, &vif, err, sizeof(err)) == 0 && (vif.mac[0] & 1))
		__builtin_trap();
	if (xlcfg_vdev_devid(s, &devid) == 0 && strlen(s) > XLCFG_VDEV_MAX)
		__builtin_trap();
	free(s);
	return 0;
}
