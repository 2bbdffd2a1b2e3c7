/* pvctl: xl-style domain configuration (xlcfg.h).
 *
 * Why this lives in tools/pvctl and not in libpvd: only the toolstack
 * parses xl syntax.  pvd-netback reads a vif's settings from the store
 * nodes libxl writes (mac, bridge, rate), not from xl syntax, and
 * `pvctl network-attach` will use this same parser from libpvctl.
 *
 * The syntax is xl's (tools/libs/util/libxlu_cfg_[ly].[ly] in Xen): a
 * statement is `KEY = VALUE` or `KEY += VALUE` ended by a new line or ';';
 * a value is a string ('..' or "..", with C escapes), a number, or a list
 * `[ atom, atom, ]` whose items and brackets may sit on several lines; '#'
 * starts a comment.  The hand-written lexer below replaces xl's flex
 * scanner so that every bound is explicit: input size, string length, list
 * items; each byte is looked at a constant number of times.
 *
 * Settings are applied as they are parsed, so errors come in file order
 * and carry the line of the offending token.  As in xl a key given twice
 * takes the later value; `+=` appends to a list.
 *
 * Disk specifications follow xl-disk-configuration(5) and xl's own scanner
 * (libxlu_disk_l.l): positional target, format, vdev, access (a deprecated
 * prefix such as `phy:` before the target takes the format's place),
 * key=value parameters and flags anywhere, and `target=` last, taking the
 * rest of the string.  Device numbers follow xen-vbd-interface(7) and
 * libxl__device_disk_dev_number.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/random.h>
#include <unistd.h>

#include "pvd/num.h"
#include "pvd/rbd_target.h"
#include "xlcfg.h"

/* ---- small helpers ------------------------------------------------------ */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A printable, bounded copy of untrusted text for an error message. */
static const char *shown(const char *s, size_t len, char *buf, size_t blen)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 4 < blen; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (i < len && n + 4 <= blen) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

#define SHOWN(s, len) shown((s), (len), (char[48]){ 0 }, 48)
#define SHOWS(s) SHOWN((s), strlen(s))

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Decimal digits without a leading zero (xen-vbd-interface(7) names:
 * "xvda01" is not "xvda1"), at most max: pvd_parse_uint_n and that rule. */
static int parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	if (len > 1 && s[0] == '0')
		return -EINVAL;
	return pvd_parse_uint_n(s, len, 10, max, out);
}

static int copy_str(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

const char *xlcfg_backend_name(enum xlcfg_backend b)
{
	return b == XLCFG_BACKEND_PHY ? "phy" : b == XLCFG_BACKEND_FILE ? "file" : "?";
}

void xlcfg_format_mac(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

bool xlcfg_name_valid(const char *name)
{
	size_t n = strlen(name);
	bool digits = true;

	if (n == 0 || n > XLCFG_NAME_MAX || name[0] == '-' || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return false;
		digits &= isdigit(c) != 0;
	}
	return !digits && strcmp(name, "Domain-0") != 0;
}

/* ---- vdev names (xen-vbd-interface(7)) ---------------------------------- */

/* prefix, then drive letters (bijective base 26: a=0 .. z=25, aa=26),
 * then an optional partition number without leading zeroes. */
static bool vdev_matches(const char *v, const char *prefix, unsigned max_disk,
			 unsigned max_part, unsigned *disk, unsigned *part)
{
	size_t pl = strlen(prefix);
	unsigned long idx = 0;
	uint64_t p = 0;
	bool any = false;

	if (strncmp(v, prefix, pl) != 0)
		return false;
	v += pl;
	for (; *v >= 'a' && *v <= 'z'; v++) {
		idx = any ? (idx + 1) * 26 + (unsigned)(*v - 'a') : (unsigned)(*v - 'a');
		any = true;
		if (idx > max_disk)
			return false;
	}
	if (!any)
		return false;
	if (*v && (parse_dec(v, strlen(v), max_part, &p) < 0 || p == 0))
		return false;
	*disk = (unsigned)idx;
	*part = (unsigned)p;
	return true;
}

int xlcfg_vdev_devid(const char *vdev, uint32_t *devid)
{
	unsigned disk, part;
	uint64_t n, d, p = 0;
	const char *ps;

	if (!vdev || !*vdev || strlen(vdev) > XLCFG_VDEV_MAX)
		return -EINVAL;
	/* d<disk>[p<partition>] */
	if (vdev[0] == 'd' && isdigit((unsigned char)vdev[1])) {
		ps = strchr(vdev, 'p');
		if (parse_dec(vdev + 1, ps ? (size_t)(ps - vdev - 1) : strlen(vdev + 1),
			      (1ul << 20) - 1, &d) < 0 ||
		    (ps && parse_dec(ps + 1, strlen(ps + 1), 255, &p) < 0))
			return -EINVAL;
		disk = (unsigned)d;
		part = (unsigned)p;
		goto xvd;
	}
	if (vdev_matches(vdev, "xvd", (1u << 20) - 1, 255, &disk, &part))
		goto xvd;
	/* The number to write, given directly (hex, octal or decimal). */
	if (isdigit((unsigned char)vdev[0])) {
		if (pvd_parse_uint_n(vdev, strlen(vdev), PVD_BASE_XL, 0x7fffffff, &n) < 0)
			return -EINVAL;
		*devid = (uint32_t)n;
		return 0;
	}
	if (vdev_matches(vdev, "hd", 3, 63, &disk, &part)) {
		*devid = ((disk < 2 ? 3u : 22u) << 8) | ((disk & 1) << 6) | part;
		return 0;
	}
	if (vdev_matches(vdev, "sd", 15, 15, &disk, &part)) {
		*devid = (8u << 8) | (disk << 4) | part;
		return 0;
	}
	return -EINVAL;
xvd:
	if (disk <= 15 && part <= 15)
		*devid = (202u << 8) | (disk << 4) | part;
	else
		*devid = (1u << 28) | (disk << 8) | part;
	return 0;
}

/* ---- disk specifications ------------------------------------------------ */

struct dspec {
	struct xlcfg_disk *d;
	bool target_set, format_set, vdev_set, access_set, had_prefix;
	bool backend_set, discard_set;
	bool access_kw;         /* access came as access= */
	char *err;
	size_t errlen;
};

#define DERR(ds, ...) (seterr((ds)->err, (ds)->errlen, __VA_ARGS__), -EINVAL)

static int d_format(struct dspec *ds, const char *v, size_t len)
{
	static const char *const other[] = { "qcow", "qcow2", "vhd", "qed" };

	if (len == 0 || (len == 3 && memcmp(v, "raw", 3) == 0) ||
	    (len == 4 && memcmp(v, "luks", 4) == 0)) {
		ds->format_set = true;
		ds->d->luks = len == 4;
		return 0;
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (strlen(other[i]) == len && memcmp(v, other[i], len) == 0)
			return DERR(ds, "format '%s' is not supported (pvd serves raw and luks images)",
				    other[i]);
	if (len == 5 && memcmp(v, "empty", 5) == 0)
		return DERR(ds, "empty (CD-ROM) drives are not supported");
	return DERR(ds, "unknown format '%s'", SHOWN(v, len));
}

static int d_access(struct dspec *ds, const char *v, size_t len)
{
	if (ds->access_set)
		return DERR(ds, "access given twice");
	ds->access_set = true;
	if ((len == 1 && v[0] == 'r') || (len == 2 && memcmp(v, "ro", 2) == 0))
		ds->d->readwrite = false;
	else if (len == 0 || (len == 1 && v[0] == 'w') ||
		 (len == 2 && memcmp(v, "rw", 2) == 0))
		ds->d->readwrite = true;
	else
		return DERR(ds, "unknown access '%s' (want r, ro, w or rw)", SHOWN(v, len));
	return 0;
}

/* "xvda" or the deprecated "xvda:disk"; ":cdrom" is refused. */
static int d_vdev(struct dspec *ds, const char *v, size_t len)
{
	const char *colon = memchr(v, ':', len);

	if (ds->vdev_set && ds->d->vdev[0])
		return DERR(ds, "vdev given twice");
	if (colon) {
		size_t tl = len - (size_t)(colon - v) - 1;

		if (tl == 5 && memcmp(colon + 1, "cdrom", 5) == 0)
			return DERR(ds, "CD-ROM devices are not supported");
		if (!(tl == 4 && memcmp(colon + 1, "disk", 4) == 0))
			return DERR(ds, "unknown device type '%s'", SHOWN(colon + 1, tl));
		len = (size_t)(colon - v);
	}
	if (copy_str(ds->d->vdev, sizeof(ds->d->vdev), v, len) < 0)
		return DERR(ds, "vdev '%s' is too long", SHOWN(v, len));
	ds->vdev_set = true;
	return 0;
}

static int d_target(struct dspec *ds, const char *v, size_t len)
{
	if (ds->target_set && ds->d->target[0])
		return DERR(ds, "target given twice");
	if (copy_str(ds->d->target, sizeof(ds->d->target), v, len) < 0)
		return DERR(ds, "target longer than %u bytes", XLCFG_TARGET_MAX);
	ds->target_set = true;
	return 0;
}

static int d_backendtype(struct dspec *ds, const char *v, size_t len)
{
	enum xlcfg_backend b;

	if (len == 3 && memcmp(v, "phy", 3) == 0)
		b = XLCFG_BACKEND_PHY;
	else if (len == 4 && memcmp(v, "file", 4) == 0)
		b = XLCFG_BACKEND_FILE;
	else if ((len == 3 && memcmp(v, "tap", 3) == 0) ||
		 (len == 5 && memcmp(v, "qdisk", 5) == 0) ||
		 (len == 10 && memcmp(v, "standalone", 10) == 0))
		return DERR(ds, "backendtype '%s' is not supported (pvd-blkback is phy or file)",
			    SHOWN(v, len));
	else
		return DERR(ds, "unknown backendtype '%s'", SHOWN(v, len));
	if (ds->backend_set && ds->d->backend != b)
		return DERR(ds, "backend type given twice");
	ds->d->backend = b;
	ds->backend_set = true;
	return 0;
}

static bool is(const char *v, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(v, word, len) == 0;
}

/* keyfile= (pvd's, with format=luks): the passphrase's file in dom0, an
 * absolute path; the key itself never goes near the store. */
static int d_keyfile(struct dspec *ds, const char *v, size_t len)
{
	if (ds->d->keyfile[0])
		return DERR(ds, "keyfile given twice");
	if (len == 0 || v[0] != '/')
		return DERR(ds, "keyfile '%s' is not an absolute path", SHOWN(v, len));
	if (copy_str(ds->d->keyfile, sizeof(ds->d->keyfile), v, len) < 0)
		return DERR(ds, "keyfile longer than %u bytes", XLCFG_TARGET_MAX);
	if (has_ctl(ds->d->keyfile))
		return DERR(ds, "keyfile contains control characters");
	return 0;
}

static int d_keyword(struct dspec *ds, const char *k, size_t kl,
		     const char *v, size_t vl)
{
	if (is(k, kl, "format"))
		return d_format(ds, v, vl);
	if (is(k, kl, "access")) {
		ds->access_kw = true;
		return d_access(ds, v, vl);
	}
	if (is(k, kl, "vdev"))
		return d_vdev(ds, v, vl);
	if (is(k, kl, "backendtype"))
		return d_backendtype(ds, v, vl);
	if (is(k, kl, "devtype")) {
		if (is(v, vl, "disk"))
			return 0;
		if (is(v, vl, "cdrom"))
			return DERR(ds, "CD-ROM devices are not supported");
		return DERR(ds, "unknown devtype '%s'", SHOWN(v, vl));
	}
	if (is(k, kl, "backend")) {
		if (vl == 0 || is(v, vl, "0") || is(v, vl, "Domain-0"))
			return 0;
		return DERR(ds, "backend '%s': only dom0 serves disks", SHOWN(v, vl));
	}
	if (is(k, kl, "specification")) {
		if (is(v, vl, "xen"))
			return 0;
		return DERR(ds, "specification '%s' is not supported", SHOWN(v, vl));
	}
	if (is(k, kl, "script"))
		return DERR(ds, "block scripts are not supported");
	if (is(k, kl, "keyfile"))
		return d_keyfile(ds, v, vl);
	return DERR(ds, "unknown parameter '%s'", SHOWN(k, kl));
}

static int d_flag(struct dspec *ds, const char *v, size_t len, bool *matched)
{
	*matched = true;
	if (is(v, len, "discard") || is(v, len, "no-discard")) {
		ds->d->discard = v[0] == 'd';
		ds->discard_set = true;
	} else if (is(v, len, "direct-io-safe")) {
		ds->d->direct_io_safe = true;
	} else if (is(v, len, "cdrom")) {
		return DERR(ds, "CD-ROM devices are not supported");
	} else {
		*matched = false;
	}
	return 0;
}

/* Strips xl's deprecated prefixes ("phy:", "tap:aio:", "raw:") from the
 * start of the target parameter. */
static int d_prefixes(struct dspec *ds, const char **pv, size_t *plen)
{
	static const char *const ignored[] = {
		"tapdisk", "tap", "tap2", "aio", "ioemu",
	};
	const char *v = *pv;
	size_t len = *plen;

	for (;;) {
		size_t w = 0;

		if (len == 0 || !islower((unsigned char)v[0]))
			break;
		while (w < len && (islower((unsigned char)v[w]) || isdigit((unsigned char)v[w])))
			w++;
		/* "word://": a URI (nbd://host/export), not a prefix. */
		if (w == len || v[w] != ':' || (w + 2 < len && v[w + 1] == '/' && v[w + 2] == '/'))
			break;
		if (is(v, w, "phy") || is(v, w, "file")) {
			enum xlcfg_backend b = v[0] == 'p' ? XLCFG_BACKEND_PHY : XLCFG_BACKEND_FILE;

			if (ds->backend_set && ds->d->backend != b)
				return DERR(ds, "backend type given twice");
			ds->d->backend = b;
			ds->backend_set = true;
		} else if (is(v, w, "raw")) {
			ds->format_set = true;
		} else if (is(v, w, "qcow") || is(v, w, "qcow2") || is(v, w, "vhd")) {
			return d_format(ds, v, w);
		} else if (is(v, w, "iscsi") || is(v, w, "nbd") || is(v, w, "enbd") ||
			   is(v, w, "drbd")) {
			return DERR(ds, "block scripts ('%s:') are not supported", SHOWN(v, w));
		} else {
			bool known = false;

			for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
				known |= is(v, w, ignored[i]);
			/* An unknown "word:" followed by a letter or digit is
			 * not a prefix (xl's rule) but part of the value. */
			if (!known && w + 1 < len && isalnum((unsigned char)v[w + 1]))
				break;
			if (!known)
				return DERR(ds, "unknown deprecated disk prefix '%s:'", SHOWN(v, w));
		}
		ds->had_prefix = true;
		v += w + 1;
		len -= w + 1;
	}
	*pv = v;
	*plen = len;
	return 0;
}

static int d_positional(struct dspec *ds, const char *v, size_t len)
{
	int rc;

	if (!ds->target_set) {
		rc = d_prefixes(ds, &v, &len);
		return rc < 0 ? rc : d_target(ds, v, len);
	}
	if (!ds->had_prefix && !ds->format_set)
		return d_format(ds, v, len);
	if (!ds->vdev_set)
		return d_vdev(ds, v, len);
	if (!ds->access_set)
		return d_access(ds, v, len);
	if (ds->access_kw)
		return DERR(ds, "access given twice");
	return DERR(ds, "too many positional parameters at '%s'", SHOWN(v, len));
}

/* A remote target is no path: a URI (nbd://host/export) or rbd:pool/image. */
static bool is_remote(const char *target)
{
	return strstr(target, "://") || pvd_rbd_is_target(target);
}

int xlcfg_parse_disk(const char *spec, struct xlcfg_disk *disk, char *err,
		     size_t errlen)
{
	struct dspec ds = { .d = disk, .err = err, .errlen = errlen };
	const char *s = spec;
	size_t total = strlen(spec);
	int rc;

	memset(disk, 0, sizeof(*disk));
	disk->readwrite = true;
	if (total > XLCFG_STRING_MAX)
		return DERR(&ds, "disk specification longer than %u bytes", XLCFG_STRING_MAX);
	while (*s) {
		const char *comma, *eq, *next;
		size_t len;
		bool flag;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (!*s)
			break;
		if (strncmp(s, "target=", 7) == 0) {
			/* It takes the rest, trailing blanks included (xl). */
			len = strlen(s + 7);
			if (len && s[7 + len - 1] == ',')
				len--;
			if (ds.target_set && disk->target[0])
				return DERR(&ds, "target given twice");
			ds.target_set = false;
			rc = d_target(&ds, s + 7, len);
			if (rc < 0)
				return rc;
			break;
		}
		comma = strchr(s, ',');
		len = comma ? (size_t)(comma - s) : strlen(s);
		next = comma ? comma + 1 : s + len;
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n'))
			len--;
		eq = memchr(s, '=', len);
		if (eq) {
			rc = d_keyword(&ds, s, (size_t)(eq - s), eq + 1,
				       len - (size_t)(eq - s) - 1);
		} else {
			rc = d_flag(&ds, s, len, &flag);
			if (rc == 0 && !flag)
				rc = d_positional(&ds, s, len);
		}
		if (rc < 0)
			return rc;
		s = next;
	}
	if (!disk->target[0])
		return DERR(&ds, "no target (empty CD-ROM drives are not supported)");
	if (!disk->vdev[0])
		return DERR(&ds, "no vdev (the guest's device name, e.g. xvda)");
	if (xlcfg_vdev_devid(disk->vdev, &disk->devid) < 0)
		return DERR(&ds, "unsupported virtual device '%s'", SHOWS(disk->vdev));
	if (has_ctl(disk->target))
		return DERR(&ds, "target contains control characters");
	if (!is_remote(disk->target) && disk->target[0] != '/') {
		/* xl: "/dev will be prepended if the path doesn't start with
		 * a '/'". */
		char tmp[XLCFG_TARGET_MAX + 1];

		if (snprintf(tmp, sizeof(tmp), "/dev/%s", disk->target) >= (int)sizeof(tmp))
			return DERR(&ds, "target longer than %u bytes", XLCFG_TARGET_MAX);
		memcpy(disk->target, tmp, sizeof(tmp));
	}
	if (!ds.backend_set)
		disk->backend = strncmp(disk->target, "/dev/", 5) == 0 ?
			XLCFG_BACKEND_PHY : XLCFG_BACKEND_FILE;
	if (!ds.discard_set)
		disk->discard = disk->readwrite;
	if (disk->luks && !disk->keyfile[0])
		return DERR(&ds, "format=luks needs keyfile=PATH (the passphrase's file in dom0)");
	if (!disk->luks && disk->keyfile[0])
		return DERR(&ds, "keyfile= is only for format=luks");
	return 0;
}

/* ---- vif specifications ------------------------------------------------- */

static int parse_mac(const char *v, size_t len, uint8_t mac[6])
{
	static const char hex[] = "0123456789abcdef";

	if (len != 17)
		return -EINVAL;
	for (unsigned i = 0; i < 6; i++) {
		const char *h = v + i * 3, *a, *b;

		if (i < 5 && h[2] != ':')
			return -EINVAL;
		a = strchr(hex, tolower((unsigned char)h[0]));
		b = strchr(hex, tolower((unsigned char)h[1]));
		if (!h[0] || !h[1] || !a || !b)
			return -EINVAL;
		mac[i] = (uint8_t)(((a - hex) << 4) | (b - hex));
	}
	return 0;
}

static bool ifname_ok(const char *v, size_t len)
{
	if (len == 0 || len > XLCFG_IFNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '.' && v[i] != '-')
			return false;
	return true;
}

static bool printable(const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			return false;
	return true;
}

/* A VIFSPEC is parsed as a row of stages: defaults, then each key=value
 * item through its key's setter (each key at most once), then a random
 * mac when none was given. */
struct vspec {
	struct xlcfg_vif *vif;
	unsigned seen;          /* bit i: vif_keys[i] was given */
	char *err;
	size_t errlen;
};

#define VERR(vs, ...) (seterr((vs)->err, (vs)->errlen, __VA_ARGS__), -EINVAL)

/* A key of a VIFSPEC; a string value goes to the field at off. */
struct vif_key {
	const char *name;
	int (*set)(struct vspec *vs, const struct vif_key *k, const char *v, size_t vl);
	size_t off;
};

static int v_mac(struct vspec *vs, const struct vif_key *k, const char *v, size_t vl)
{
	if (parse_mac(v, vl, vs->vif->mac) < 0)
		return VERR(vs, "bad mac '%s' (want xx:xx:xx:xx:xx:xx)", SHOWN(v, vl));
	if (vs->vif->mac[0] & 1)
		return VERR(vs, "mac '%s' is a multicast address", SHOWN(v, vl));
	return 0;
}

/* bridge, vifname: an interface name. */
static int v_ifname(struct vspec *vs, const struct vif_key *k, const char *v, size_t vl)
{
	if (!ifname_ok(v, vl))
		return VERR(vs, "bad %s '%s' (1-%u of A-Z a-z 0-9 _ . -)", k->name,
			    SHOWN(v, vl), XLCFG_IFNAME_MAX);
	copy_str((char *)vs->vif + k->off, XLCFG_IFNAME_MAX + 1, v, vl);
	return 0;
}

/* script, ip: printable text, kept as given. */
static int v_text(struct vspec *vs, const struct vif_key *k, const char *v, size_t vl)
{
	if (vl == 0 || vl > XLCFG_VALUE_MAX || !printable(v, vl))
		return VERR(vs, "bad %s '%s'", k->name, SHOWN(v, vl));
	copy_str((char *)vs->vif + k->off, XLCFG_VALUE_MAX + 1, v, vl);
	return 0;
}

/* [0-9]+ at *p (at most 10 digits): the number, *p moved past it. */
static int rate_num(const char **p, const char *end, uint64_t *n)
{
	const char *s = *p;

	while (*p < end && **p >= '0' && **p <= '9' && *p - s < 10)
		(*p)++;
	if (*p == s || (*p < end && **p >= '0' && **p <= '9'))
		return -EINVAL;
	return pvd_parse_uint_n(s, (size_t)(*p - s), 10, UINT64_MAX, n) < 0 ? -EINVAL : 0;
}

/* [0-9]+[GMK]?[Bb]/s as bytes per second (xlu's
 * vif_parse_rate_bytes_per_sec: a 'b' anywhere divides by 8). */
static int rate_bps(const char *p, const char *end, uint64_t *bps)
{
	uint64_t n;

	if (rate_num(&p, end, &n) < 0 || n == 0)
		return -EINVAL;
	if (p < end && (*p == 'G' || *p == 'M' || *p == 'K')) {
		n *= *p == 'G' ? 1000000000ull : *p == 'M' ? 1000000ull : 1000ull;
		p++;
	}
	if (end - p != 3 || (p[0] != 'b' && p[0] != 'B') || p[1] != '/' || p[2] != 's')
		return -EINVAL;
	*bps = p[0] == 'b' ? n / 8 : n;
	return 0;
}

/* [0-9]+[mu]?s? as microseconds (no unit: seconds). */
static int rate_interval(const char *p, const char *end, uint64_t *usec)
{
	uint64_t n, mul = 1000000;

	if (rate_num(&p, end, &n) < 0 || n == 0)
		return -EINVAL;
	if (p < end && (*p == 'm' || *p == 'u')) {
		mul = *p == 'm' ? 1000 : 1;
		p++;
	}
	if (p < end && *p == 's')
		p++;
	if (p != end)
		return -EINVAL;
	*usec = n * mul;
	return *usec > UINT32_MAX ? -ERANGE : 0;
}

int xlcfg_parse_rate(const char *v, size_t len, uint64_t *bytes, uint32_t *usec)
{
	const char *at = memchr(v, '@', len), *end = v + len;
	uint64_t bps, us = 50000;       /* xl's default interval, 50 ms */
	int rc;

	rc = rate_bps(v, at ? at : end, &bps);
	if (rc == 0 && at)
		rc = rate_interval(at + 1, end, &us);
	if (rc < 0)
		return rc;
	if (bps > UINT64_MAX / us)
		return -ERANGE;
	*bytes = bps * us / 1000000;
	*usec = (uint32_t)us;
	/* libxl takes any value; netback's credit is an unsigned long, and
	 * a rate rounding to 0 bytes would stop the vif altogether. */
	return *bytes == 0 || *bytes > UINT32_MAX ? -ERANGE : 0;
}

bool xlcfg_ip_list_valid(const char *v, size_t len)
{
	size_t i = 0, n = 0;

	while (i < len) {
		char addr[INET6_ADDRSTRLEN + 1];
		unsigned char bin[16];
		size_t s;

		while (i < len && (v[i] == ' ' || v[i] == '\t'))
			i++;
		for (s = i; i < len && v[i] != ' ' && v[i] != '\t'; i++)
			;
		if (i == s)
			break;
		if (i - s >= sizeof(addr))
			return false;
		memcpy(addr, v + s, i - s);
		addr[i - s] = '\0';
		if (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1)
			return false;
		n++;
	}
	return n > 0;
}

static int v_rate(struct vspec *vs, const struct vif_key *k, const char *v, size_t vl)
{
	int rc = xlcfg_parse_rate(v, vl, &vs->vif->rate_bytes, &vs->vif->rate_usec);

	if (rc == -ERANGE)
		return VERR(vs, "rate '%s' out of range (1 to 2^32-1 bytes per interval)",
			    SHOWN(v, vl));
	if (rc < 0)
		return VERR(vs, "bad rate '%s' (want e.g. 10Mb/s@20ms)", SHOWN(v, vl));
	return 0;
}

/* ip: addresses separated by blanks, as xl's vif-bridge reads them. */
static int v_ip(struct vspec *vs, const struct vif_key *k, const char *v, size_t vl)
{
	if (vl > XLCFG_VALUE_MAX || !xlcfg_ip_list_valid(v, vl))
		return VERR(vs, "bad ip '%s' (want IPv4 or IPv6 addresses, blank separated)",
			    SHOWN(v, vl));
	copy_str(vs->vif->ip, sizeof(vs->vif->ip), v, vl);
	return 0;
}

static int v_mtu(struct vspec *vs, const struct vif_key *k, const char *v, size_t vl)
{
	uint64_t m;

	if (pvd_parse_uint_n(v, vl, PVD_BASE_XL, 65535, &m) < 0 || m < 68)
		return VERR(vs, "bad mtu '%s' (68-65535)", SHOWN(v, vl));
	vs->vif->mtu = (unsigned)m;
	return 0;
}

static int v_type(struct vspec *vs, const struct vif_key *k, const char *v, size_t vl)
{
	if (!is(v, vl, "vif"))
		return VERR(vs, "vif type '%s' is not supported (only vif)", SHOWN(v, vl));
	return 0;
}

static int v_backend(struct vspec *vs, const struct vif_key *k, const char *v, size_t vl)
{
	if (!(vl == 0 || is(v, vl, "0") || is(v, vl, "Domain-0")))
		return VERR(vs, "backend '%s': only dom0 serves vifs", SHOWN(v, vl));
	return 0;
}

static const struct vif_key vif_keys[] = {
	{ "mac", v_mac, 0 },
	{ "bridge", v_ifname, offsetof(struct xlcfg_vif, bridge) },
	{ "script", v_text, offsetof(struct xlcfg_vif, script) },
	{ "ip", v_ip, 0 },
	{ "vifname", v_ifname, offsetof(struct xlcfg_vif, vifname) },
	{ "mtu", v_mtu, 0 },
	{ "type", v_type, 0 },
	{ "backend", v_backend, 0 },
	{ "rate", v_rate, 0 },
};

/* One "key=value" item (len bytes at k, blanks around either allowed). */
static int v_item(struct vspec *vs, const char *k, size_t len)
{
	const char *eq = memchr(k, '=', len), *v;
	size_t kl, vl, i;

	if (!eq)
		return VERR(vs, "'%s' is not key=value", SHOWN(k, len));
	kl = (size_t)(eq - k);
	v = eq + 1;
	vl = len - kl - 1;
	trim(&k, &kl);
	trim(&v, &vl);
	for (i = 0; i < sizeof(vif_keys) / sizeof(vif_keys[0]); i++)
		if (is(k, kl, vif_keys[i].name))
			break;
	if (i == sizeof(vif_keys) / sizeof(vif_keys[0]))
		return VERR(vs, "unknown vif parameter '%s'", SHOWN(k, kl));
	if (vs->seen & (1u << i))
		return VERR(vs, "'%s' given twice", SHOWN(k, kl));
	vs->seen |= 1u << i;
	return vif_keys[i].set(vs, &vif_keys[i], v, vl);
}

/* Xen's OUI and 23 random bits, as libxl generates a mac. */
static int v_random_mac(struct vspec *vs)
{
	uint8_t r[3];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		int e = errno ? errno : EIO;

		seterr(vs->err, vs->errlen, "cannot generate a mac: %s", strerror(e));
		return -e;
	}
	vs->vif->mac[0] = 0x00;
	vs->vif->mac[1] = 0x16;
	vs->vif->mac[2] = 0x3e;
	vs->vif->mac[3] = r[0] & 0x7f;
	vs->vif->mac[4] = r[1];
	vs->vif->mac[5] = r[2];
	vs->vif->mac_generated = true;
	return 0;
}

int xlcfg_parse_vif(const char *spec, unsigned devid, struct xlcfg_vif *vif,
		    char *err, size_t errlen)
{
	struct vspec vs = { .vif = vif, .err = err, .errlen = errlen };
	const char *s = spec;

	memset(vif, 0, sizeof(*vif));
	vif->devid = devid;
	vif->mtu = XLCFG_MTU_DEFAULT;
	strcpy(vif->bridge, XLCFG_BRIDGE_DEFAULT);
	strcpy(vif->script, XLCFG_SCRIPT_DEFAULT);
	if (strlen(spec) > XLCFG_STRING_MAX)
		return VERR(&vs, "vif specification longer than %u bytes", XLCFG_STRING_MAX);
	while (*s) {
		const char *comma = strchr(s, ','), *k = s;
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		int rc;

		s = comma ? comma + 1 : s + len;
		trim(&k, &len);
		if (len == 0)
			continue;
		rc = v_item(&vs, k, len);
		if (rc < 0)
			return rc;
	}
	/* vif_keys[0] is mac. */
	return vs.seen & 1u ? 0 : v_random_mac(&vs);
}

/* ---- the config file ---------------------------------------------------- */

enum tok {
	T_EOF, T_NL, T_SEMI, T_EQ, T_PLUSEQ, T_LBR, T_RBR, T_COMMA,
	T_IDENT, T_STRING, T_NUMBER,
};

struct parser {
	struct xlcfg *cfg;
	const char *fname;
	const char *p, *end;
	unsigned line;
	char *err;
	size_t errlen;
	bool have_name;
	/* the current token */
	enum tok t;
	unsigned tline;
	const char *tstart;     /* its text (IDENT, NUMBER) */
	size_t tlen;
	char s[XLCFG_STRING_MAX + 1]; /* an atom's value, NUL-terminated */
	size_t slen;
};

static int perr(struct parser *ps, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct parser *ps, unsigned line, const char *fmt, ...)
{
	char msg[XLCFG_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		seterr(ps->err, ps->errlen, "%s:%u: %s", ps->fname, line, msg);
	else
		seterr(ps->err, ps->errlen, "%s: %s", ps->fname, msg);
	return -EINVAL;
}

static const char *tok_name(enum tok t)
{
	static const char *const names[] = {
		[T_EOF] = "the end of the file", [T_NL] = "a new line",
		[T_SEMI] = "';'", [T_EQ] = "'='", [T_PLUSEQ] = "'+='",
		[T_LBR] = "'['", [T_RBR] = "']'", [T_COMMA] = "','",
		[T_IDENT] = "a word", [T_STRING] = "a string",
		[T_NUMBER] = "a number",
	};
	return names[t];
}

static int lex_string(struct parser *ps)
{
	char quote = *ps->p++;

	ps->slen = 0;
	for (;;) {
		unsigned c;

		if (ps->p == ps->end || *ps->p == '\n')
			return perr(ps, ps->tline, "unterminated string");
		c = (unsigned char)*ps->p++;
		if (c == (unsigned char)quote)
			break;
		if (c == '\\') {
			unsigned e, n = 0;

			if (ps->p == ps->end || *ps->p == '\n')
				return perr(ps, ps->tline, "unterminated string");
			e = (unsigned char)*ps->p++;
			switch (e) {
			case '\\': case '\'': case '"': c = e; break;
			case 'a': c = '\a'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'v': c = '\v'; break;
			case 'x':
				for (c = 0; n < 2 && ps->p < ps->end &&
				     isxdigit((unsigned char)*ps->p); n++, ps->p++)
					c = c * 16 + (unsigned)(isdigit((unsigned char)*ps->p) ?
						*ps->p - '0' : tolower((unsigned char)*ps->p) - 'a' + 10);
				if (n != 2)
					return perr(ps, ps->line, "bad escape: \\x needs two hex digits");
				break;
			default:
				if (e < '0' || e > '7')
					return perr(ps, ps->line, "unknown escape '\\%c'",
						    e >= 0x20 && e < 0x7f ? (char)e : '?');
				for (c = e - '0'; n < 2 && ps->p < ps->end &&
				     *ps->p >= '0' && *ps->p <= '7'; n++, ps->p++)
					c = c * 8 + (unsigned)(*ps->p - '0');
				if (c > 255)
					return perr(ps, ps->line, "bad escape: octal value over 255");
				break;
			}
		}
		if (c == 0)
			return perr(ps, ps->line, "NUL byte in a string");
		if (ps->slen == XLCFG_STRING_MAX)
			return perr(ps, ps->tline, "string longer than %u bytes",
				    XLCFG_STRING_MAX);
		ps->s[ps->slen++] = (char)c;
	}
	ps->s[ps->slen] = '\0';
	ps->t = T_STRING;
	return 0;
}

/* Reads the next token into ps->t. */
static int lex(struct parser *ps)
{
	char c;

	for (;;) {
		while (ps->p < ps->end &&
		       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r'))
			ps->p++;
		if (ps->p < ps->end && *ps->p == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
			continue;
		}
		break;
	}
	ps->tline = ps->line;
	ps->tstart = ps->p;
	ps->tlen = 0;
	if (ps->p == ps->end) {
		ps->t = T_EOF;
		return 0;
	}
	c = *ps->p;
	switch (c) {
	case '\n': ps->line++; ps->p++; ps->t = T_NL; return 0;
	case ';': ps->p++; ps->t = T_SEMI; return 0;
	case '=': ps->p++; ps->t = T_EQ; return 0;
	case '[': ps->p++; ps->t = T_LBR; return 0;
	case ']': ps->p++; ps->t = T_RBR; return 0;
	case ',': ps->p++; ps->t = T_COMMA; return 0;
	case '+':
		if (ps->end - ps->p >= 2 && ps->p[1] == '=') {
			ps->p += 2;
			ps->t = T_PLUSEQ;
			return 0;
		}
		break;
	case '\'':
	case '"':
		return lex_string(ps);
	default:
		break;
	}
	if (isdigit((unsigned char)c) || isalpha((unsigned char)c) || c == '_') {
		bool num = isdigit((unsigned char)c);

		while (ps->p < ps->end && (isalnum((unsigned char)*ps->p) ||
		       *ps->p == '_' || (!num && *ps->p == '.')))
			ps->p++;
		ps->tlen = (size_t)(ps->p - ps->tstart);
		if (num) {
			if (ps->tlen > XLCFG_STRING_MAX)
				return perr(ps, ps->tline, "number too long");
			memcpy(ps->s, ps->tstart, ps->tlen);
			ps->s[ps->tlen] = '\0';
			ps->slen = ps->tlen;
		}
		ps->t = num ? T_NUMBER : T_IDENT;
		return 0;
	}
	if (c == '\0')
		return perr(ps, ps->line, "NUL byte");
	if (c == '(' || c == ')' || c == '{' || c == '}')
		return perr(ps, ps->line, "unexpected '%c' (this is not Python: lists are [ ... ])", c);
	return perr(ps, ps->line, "unexpected character '%s'", SHOWN(&c, 1));
}

static int lex_skip_nl(struct parser *ps)
{
	int rc;

	do {
		rc = lex(ps);
	} while (rc == 0 && ps->t == T_NL);
	return rc;
}

/* ---- keys ---- */

enum kind { K_STR, K_INT, K_LIST };

struct key {
	const char *name;
	enum kind kind;
	/* K_STR/K_INT: the value; K_LIST: one item (reset first on '='). */
	int (*set)(struct parser *ps, const char *v, size_t len, unsigned line);
	void (*reset)(struct parser *ps);
};

static int k_name(struct parser *ps, const char *v, size_t len, unsigned line)
{
	if (len > XLCFG_NAME_MAX || !xlcfg_name_valid(v))
		return perr(ps, line, "bad name '%s' (1-%u of A-Z a-z 0-9 _ . -, not all digits, not Domain-0)",
			    SHOWN(v, len), XLCFG_NAME_MAX);
	memcpy(ps->cfg->name, v, len + 1);
	ps->have_name = true;
	return 0;
}

static int k_memory(struct parser *ps, const char *v, size_t len, unsigned line)
{
	uint64_t m;

	if (pvd_parse_uint_n(v, len, PVD_BASE_XL, XLCFG_MEMORY_MAX, &m) < 0 || m == 0)
		return perr(ps, line, "bad memory '%s' (MiB, 1-%u)", SHOWN(v, len),
			    XLCFG_MEMORY_MAX);
	ps->cfg->memory_mib = (unsigned)m;
	return 0;
}

static int k_vcpus(struct parser *ps, const char *v, size_t len, unsigned line)
{
	uint64_t n;

	if (pvd_parse_uint_n(v, len, PVD_BASE_XL, XLCFG_VCPUS_MAX, &n) < 0 || n == 0)
		return perr(ps, line, "bad vcpus '%s' (1-%u)", SHOWN(v, len), XLCFG_VCPUS_MAX);
	ps->cfg->vcpus = (unsigned)n;
	return 0;
}

static int k_uuid(struct parser *ps, const char *v, size_t len, unsigned line)
{
	char u[37];

	if (len != 36)
		goto bad;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? v[i] != '-' : !isxdigit((unsigned char)v[i]))
			goto bad;
		u[i] = (char)tolower((unsigned char)v[i]);
	}
	u[36] = '\0';
	memcpy(ps->cfg->uuid, u, sizeof(u));
	return 0;
bad:
	return perr(ps, line, "bad uuid '%s' (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
		    SHOWN(v, len));
}

static int k_type(struct parser *ps, const char *v, size_t len, unsigned line)
{
	if (is(v, len, "pv") || is(v, len, "pvh"))
		return 0;
	if (is(v, len, "hvm"))
		return perr(ps, line, "type 'hvm' is not supported (pvd domains are simulated PV guests)");
	return perr(ps, line, "unknown type '%s' (pv, pvh)", SHOWN(v, len));
}

static int k_ignored(struct parser *ps, const char *v, size_t len, unsigned line)
{
	return 0;
}

static void k_disk_reset(struct parser *ps)
{
	ps->cfg->ndisks = 0;
}

static void k_vif_reset(struct parser *ps)
{
	ps->cfg->nvifs = 0;
}

/* Grows an array of elem-sized items to hold n + 1. */
static int grow(void **arr, unsigned n, size_t elem)
{
	void *a;

	/* Capacity: 4, then doubling; n = 0 (re)starts the array. */
	if (n != 0 && (n < 4 || (n & (n - 1))))
		return 0;
	a = realloc(*arr, (n < 4 ? 4 : 2 * (size_t)n) * elem);
	if (!a)
		return -ENOMEM;
	*arr = a;
	return 0;
}

static int k_disk(struct parser *ps, const char *v, size_t len, unsigned line)
{
	struct xlcfg *cfg = ps->cfg;
	struct xlcfg_disk *d;
	char msg[XLCFG_ERR_LEN];

	if (cfg->ndisks == XLCFG_DISKS_MAX)
		return perr(ps, line, "more than %u disks", XLCFG_DISKS_MAX);
	if (grow((void **)&cfg->disks, cfg->ndisks, sizeof(*d)) < 0) {
		perr(ps, line, "out of memory");
		return -ENOMEM;
	}
	d = &cfg->disks[cfg->ndisks];
	if (xlcfg_parse_disk(v, d, msg, sizeof(msg)) < 0)
		return perr(ps, line, "disk '%s': %s", SHOWN(v, len), msg);
	for (unsigned i = 0; i < cfg->ndisks; i++)
		if (cfg->disks[i].devid == d->devid)
			return perr(ps, line, "disk '%s': device %u (%s) is already used by '%s'",
				    SHOWN(v, len), d->devid, d->vdev,
				    SHOWS(cfg->disks[i].vdev));
	cfg->ndisks++;
	return 0;
}

static int k_vif(struct parser *ps, const char *v, size_t len, unsigned line)
{
	struct xlcfg *cfg = ps->cfg;
	struct xlcfg_vif *f;
	char msg[XLCFG_ERR_LEN];
	int rc;

	if (cfg->nvifs == XLCFG_VIFS_MAX)
		return perr(ps, line, "more than %u vifs", XLCFG_VIFS_MAX);
	if (grow((void **)&cfg->vifs, cfg->nvifs, sizeof(*f)) < 0) {
		perr(ps, line, "out of memory");
		return -ENOMEM;
	}
	f = &cfg->vifs[cfg->nvifs];
	rc = xlcfg_parse_vif(v, cfg->nvifs, f, msg, sizeof(msg));
	if (rc < 0) {
		perr(ps, line, "vif '%s': %s", SHOWN(v, len), msg);
		return rc;
	}
	for (unsigned i = 0; i < cfg->nvifs; i++)
		if (memcmp(cfg->vifs[i].mac, f->mac, 6) == 0)
			return perr(ps, line, "vif '%s': mac already used by vif %u",
				    SHOWN(v, len), i);
	cfg->nvifs++;
	return 0;
}

/* Accepted for xl compatibility and ignored (docs/pvctl.md says why). */
static const struct key keys[] = {
	{ "name", K_STR, k_name, NULL },
	{ "memory", K_INT, k_memory, NULL },
	{ "disk", K_LIST, k_disk, k_disk_reset },
	{ "vif", K_LIST, k_vif, k_vif_reset },
	{ "uuid", K_STR, k_uuid, NULL },
	{ "vcpus", K_INT, k_vcpus, NULL },
	{ "type", K_STR, k_type, NULL },
	{ "kernel", K_STR, k_ignored, NULL },
	{ "ramdisk", K_STR, k_ignored, NULL },
	{ "extra", K_STR, k_ignored, NULL },
	{ "cmdline", K_STR, k_ignored, NULL },
	{ "root", K_STR, k_ignored, NULL },
};

static const struct key *find_key(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (is(name, len, keys[i].name))
			return &keys[i];
	return NULL;
}

static bool is_atom(enum tok t)
{
	return t == T_STRING || t == T_NUMBER;
}

static int parse_list(struct parser *ps, const struct key *k)
{
	unsigned open_line = ps->tline;
	int rc;

	rc = lex_skip_nl(ps);
	if (rc < 0)
		return rc;
	if (ps->t == T_RBR)
		return 0;
	for (;;) {
		if (ps->t == T_LBR)
			return perr(ps, ps->tline, "nested lists are not supported");
		if (ps->t == T_EOF)
			return perr(ps, open_line, "unterminated list");
		if (!is_atom(ps->t))
			return perr(ps, ps->tline, "expected a list item for '%s', found %s",
				    k->name, tok_name(ps->t));
		rc = k->set(ps, ps->s, ps->slen, ps->tline);
		if (rc < 0)
			return rc;
		rc = lex_skip_nl(ps);
		if (rc < 0)
			return rc;
		if (ps->t == T_RBR)
			return 0;
		if (ps->t == T_EOF)
			return perr(ps, open_line, "unterminated list");
		if (ps->t != T_COMMA)
			return perr(ps, ps->tline, "expected ',' or ']' in the list of '%s', found %s",
				    k->name, tok_name(ps->t));
		rc = lex_skip_nl(ps);
		if (rc < 0)
			return rc;
		if (ps->t == T_RBR)
			return 0;  /* a trailing comma */
	}
}

static int parse_setting(struct parser *ps)
{
	const struct key *k;
	char kname[48];
	unsigned kline = ps->tline;
	bool append;
	int rc;

	k = find_key(ps->tstart, ps->tlen);
	shown(ps->tstart, ps->tlen, kname, sizeof(kname));
	if (!k)
		return perr(ps, kline, "unknown key '%s'", kname);
	rc = lex(ps);
	if (rc < 0)
		return rc;
	if (ps->t != T_EQ && ps->t != T_PLUSEQ)
		return perr(ps, ps->tline, "expected '=' after '%s', found %s", kname,
			    tok_name(ps->t));
	append = ps->t == T_PLUSEQ;
	if (append && k->kind != K_LIST)
		return perr(ps, ps->tline, "'+=' applies to lists, and '%s' is not one", kname);
	rc = lex(ps);
	if (rc < 0)
		return rc;
	if (ps->t == T_LBR) {
		if (k->kind != K_LIST)
			return perr(ps, ps->tline, "'%s' takes one value, not a list", kname);
		if (!append)
			k->reset(ps);
		rc = parse_list(ps, k);
	} else if (is_atom(ps->t)) {
		if (k->kind == K_LIST)
			return perr(ps, ps->tline, "'%s' must be a list: %s = [ '...' ]",
				    kname, kname);
		rc = k->set(ps, ps->s, ps->slen, ps->tline);
	} else if (ps->t == T_IDENT) {
		return perr(ps, ps->tline, "the value of '%s' needs quotes: '%s'", kname,
			    SHOWN(ps->tstart, ps->tlen));
	} else {
		return perr(ps, ps->tline, "expected a value for '%s', found %s", kname,
			    tok_name(ps->t));
	}
	if (rc < 0)
		return rc;
	rc = lex(ps);
	if (rc < 0)
		return rc;
	if (ps->t != T_NL && ps->t != T_SEMI && ps->t != T_EOF)
		return perr(ps, ps->tline, "expected a new line or ';' after the value of '%s', found %s",
			    kname, tok_name(ps->t));
	return 0;
}

void xlcfg_init(struct xlcfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->memory_mib = XLCFG_MEMORY_DEFAULT;
	cfg->vcpus = 1;
}

void xlcfg_free(struct xlcfg *cfg)
{
	if (!cfg)
		return;
	free(cfg->disks);
	free(cfg->vifs);
	cfg->disks = NULL;
	cfg->vifs = NULL;
	cfg->ndisks = cfg->nvifs = 0;
}

int xlcfg_parse(struct xlcfg *cfg, const char *fname, const char *text,
		size_t len, char *err, size_t errlen)
{
	struct parser *ps;
	int rc;

	if (len > XLCFG_FILE_MAX) {
		seterr(err, errlen, "%s: larger than %u bytes", fname, XLCFG_FILE_MAX);
		return -EFBIG;
	}
	ps = calloc(1, sizeof(*ps));
	if (!ps) {
		seterr(err, errlen, "%s: out of memory", fname);
		return -ENOMEM;
	}
	ps->cfg = cfg;
	ps->fname = fname;
	ps->p = text;
	ps->end = text + len;
	ps->line = 1;
	ps->err = err;
	ps->errlen = errlen;
	for (;;) {
		rc = lex(ps);
		if (rc < 0 || ps->t == T_EOF)
			break;
		if (ps->t == T_NL || ps->t == T_SEMI)
			continue;
		if (ps->t != T_IDENT) {
			rc = perr(ps, ps->tline, "expected a key, found %s", tok_name(ps->t));
			break;
		}
		rc = parse_setting(ps);
		if (rc < 0)
			break;
	}
	if (rc == 0 && !ps->have_name)
		rc = perr(ps, 0, "no 'name' setting (a domain needs a name)");
	free(ps);
	return rc;
}

int xlcfg_parse_file(struct xlcfg *cfg, const char *path, char *err,
		     size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		seterr(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	buf = malloc(XLCFG_FILE_MAX + 1);
	if (!buf) {
		rc = -ENOMEM;
		seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	/* One byte more than allowed tells a file that is too big. */
	while (len <= XLCFG_FILE_MAX) {
		ssize_t n = read(fd, buf + len, XLCFG_FILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			seterr(err, errlen, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	rc = xlcfg_parse(cfg, path, buf, len, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}
