/* pvctl: xl-style domain configuration: the subset of xl.cfg(5) that pvd's
 * toolstack (pvctl) understands, with xl's syntax, and the disk and vif
 * specification strings of xl-disk-configuration(5) and
 * xl-network-configuration(5).
 *
 * The parser is bounded: input over XLCFG_FILE_MAX bytes, a string over
 * XLCFG_STRING_MAX bytes, more than XLCFG_DISKS_MAX disks or XLCFG_VIFS_MAX
 * vifs is an error, and the work is linear in the input.  Errors fill a
 * caller's buffer with one line ("guest.cfg:7: unknown key 'foo'") and
 * return -EINVAL (-EFBIG for input over XLCFG_FILE_MAX, -ENOMEM, or -errno
 * for a file that cannot be read or no randomness for a mac).  Nothing is
 * logged: the caller shows the line.  See docs/pvctl.md for the syntax.
 *
 * Part of libpvctl, not libpvd: only the toolstack reads xl syntax (the
 * backends read what libxl wrote in the store), see xlcfg.c.
 */
#ifndef PVCTL_XLCFG_H
#define PVCTL_XLCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XLCFG_FILE_MAX    (1u << 20)  /* bytes in a config file */
#define XLCFG_STRING_MAX  4096        /* bytes in one string value */
#define XLCFG_NAME_MAX    64          /* bytes in a domain name */
#define XLCFG_TARGET_MAX  1024        /* bytes in a disk's target path */
#define XLCFG_VDEV_MAX    31          /* bytes in a vdev name */
#define XLCFG_IFNAME_MAX  15          /* IFNAMSIZ - 1 */
#define XLCFG_VALUE_MAX   255         /* vif script, ip */
#define XLCFG_DISKS_MAX   256
#define XLCFG_VIFS_MAX    64
#define XLCFG_MEMORY_MAX  (1u << 20)  /* MiB (1 TiB) */
#define XLCFG_VCPUS_MAX   512
#define XLCFG_ERR_LEN     320         /* a comfortable error buffer */

#define XLCFG_MEMORY_DEFAULT 64       /* MiB */
#define XLCFG_BRIDGE_DEFAULT "xenbr0"
#define XLCFG_SCRIPT_DEFAULT "vif-bridge"
#define XLCFG_MTU_DEFAULT    1500

enum xlcfg_backend {
	XLCFG_BACKEND_PHY = 1,  /* a block device */
	XLCFG_BACKEND_FILE,     /* an image file */
};

struct xlcfg_disk {
	char target[XLCFG_TARGET_MAX + 1];  /* absolute path */
	char vdev[XLCFG_VDEV_MAX + 1];      /* as written: "xvda", "hdc2", "d1p2", "51712" */
	uint32_t devid;                     /* Xen's encoding (xen-vbd-interface(7)) */
	bool readwrite;
	enum xlcfg_backend backend;
	bool discard;                       /* discard-enable, default: readwrite */
	bool direct_io_safe;
	bool luks;                          /* format=luks (pvd's): needs keyfile= */
	char keyfile[XLCFG_TARGET_MAX + 1]; /* keyfile=: absolute path; "" if none */
};

struct xlcfg_vif {
	unsigned devid;                     /* its index in the vif list */
	uint8_t mac[6];
	bool mac_generated;                 /* no mac= given: random 00:16:3e */
	char bridge[XLCFG_IFNAME_MAX + 1];
	char vifname[XLCFG_IFNAME_MAX + 1]; /* "" when not given */
	char script[XLCFG_VALUE_MAX + 1];   /* as given, default vif-bridge */
	char ip[XLCFG_VALUE_MAX + 1];       /* "" when not given; addresses, one space apart */
	unsigned mtu;
	uint64_t rate_bytes;                /* rate=: bytes per interval; 0 when not given */
	uint32_t rate_usec;                 /* rate=: the interval, microseconds */
};

struct xlcfg {
	char name[XLCFG_NAME_MAX + 1];
	char uuid[37];                      /* canonical lower case, "" when not given */
	unsigned memory_mib;
	unsigned vcpus;                     /* accepted, not used by pvd */
	struct xlcfg_disk *disks;
	unsigned ndisks;
	struct xlcfg_vif *vifs;
	unsigned nvifs;
};

/* Zeroes cfg and sets the defaults; xlcfg_free undoes it (idempotent). */
void xlcfg_init(struct xlcfg *cfg);
void xlcfg_free(struct xlcfg *cfg);

/* Parses len bytes of text (NULs are an error) into cfg, which must have
 * been through xlcfg_init.  fname only names the input in errors.  On
 * failure cfg holds whatever was parsed so far: free it. */
int xlcfg_parse(struct xlcfg *cfg, const char *fname, const char *text,
		size_t len, char *err, size_t errlen);
/* Reads and parses a file. */
int xlcfg_parse_file(struct xlcfg *cfg, const char *path, char *err,
		     size_t errlen);

/* One DISKSPEC (xl-disk-configuration(5)), on its own: pvctl's
 * block-attach uses it.  The error names no file or line. */
int xlcfg_parse_disk(const char *spec, struct xlcfg_disk *disk, char *err,
		     size_t errlen);
/* One VIFSPEC (key=value,...); a missing mac gets a random 00:16:3e one. */
int xlcfg_parse_vif(const char *spec, unsigned devid, struct xlcfg_vif *vif,
		    char *err, size_t errlen);

/* xl's rate= ("10Mb/s@20ms": [0-9]+[GMK]?[Bb]/s, then optionally
 * @[0-9]+[mu]?s?, default 50 ms) as libxl stores it (xlu_vif_parse_rate):
 * bytes per interval and the interval in microseconds; len bytes of v.
 * -EINVAL (bad syntax, zero) or -ERANGE (an overflow, or a rate that
 * rounds to 0 bytes or over 2^32-1 bytes per interval). */
int xlcfg_parse_rate(const char *v, size_t len, uint64_t *bytes, uint32_t *usec);

/* xl's ip=: IPv4 or IPv6 addresses separated by blanks (at least one). */
bool xlcfg_ip_list_valid(const char *v, size_t len);

/* A vdev name ("xvdb", "xvdaa3", "hdc", "sdb1", "d2p1", or a number) to
 * Xen's device number, as libxl does: -EINVAL if it is not one. */
int xlcfg_vdev_devid(const char *vdev, uint32_t *devid);

/* "phy" or "file". */
const char *xlcfg_backend_name(enum xlcfg_backend b);
/* "00:16:3e:12:34:56" into buf (at least 18 bytes). */
void xlcfg_format_mac(const uint8_t mac[6], char *buf, size_t len);
/* A domain name pvctl accepts: 1..XLCFG_NAME_MAX of [A-Za-z0-9_.-], not
 * starting with '-' or '.', not all digits (a domid), not "Domain-0". */
bool xlcfg_name_valid(const char *name);

#endif
