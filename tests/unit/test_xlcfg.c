/* The xl-style config parser: syntax, keys, disk and vif specifications,
 * vdev encoding, errors with their line numbers, and the bounds. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../tools/pvctl/xlcfg.h"

struct fix {
	struct xlcfg cfg;
	char err[XLCFG_ERR_LEN];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	xlcfg_init(&f->cfg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	xlcfg_free(&f->cfg);
	free(f);
	return 0;
}

/* Parses text as "guest.cfg" into a fresh config. */
static int parse(struct fix *f, const char *text)
{
	xlcfg_free(&f->cfg);
	xlcfg_init(&f->cfg);
	f->err[0] = '\0';
	return xlcfg_parse(&f->cfg, "guest.cfg", text, strlen(text), f->err,
			   sizeof(f->err));
}

static void parse_ok(struct fix *f, const char *text)
{
	int rc = parse(f, text);

	if (rc != 0)
		fail_msg("parse failed (%d): %s\n--- input ---\n%s", rc, f->err, text);
}

static void parse_err(struct fix *f, const char *text, const char *want)
{
	int rc = parse(f, text);

	if (rc == 0)
		fail_msg("parse succeeded, wanted \"%s\"\n--- input ---\n%s", want, text);
	if (strcmp(f->err, want) != 0)
		fail_msg("error \"%s\", wanted \"%s\"\n--- input ---\n%s", f->err, want, text);
}

/* ---- syntax ---- */

static void test_minimal_defaults(void **state)
{
	struct fix *f = *state;

	parse_ok(f, "name = \"web\"\n");
	assert_string_equal(f->cfg.name, "web");
	assert_int_equal(f->cfg.memory_mib, XLCFG_MEMORY_DEFAULT);
	assert_int_equal(f->cfg.ndisks, 0);
	assert_int_equal(f->cfg.nvifs, 0);
	assert_string_equal(f->cfg.uuid, "");
	/* No new line at the end, single quotes. */
	parse_ok(f, "name='db'");
	assert_string_equal(f->cfg.name, "db");
}

static void test_comments_blanks_separators(void **state)
{
	struct fix *f = *state;

	parse_ok(f,
		 "# a comment line\n"
		 "\n"
		 "   \t\n"
		 "name = 'a1' # trailing comment\n"
		 "memory=128;vcpus = 2 ;\n"
		 ";\n"
		 "# memory = 1\n");
	assert_string_equal(f->cfg.name, "a1");
	assert_int_equal(f->cfg.memory_mib, 128);
	assert_int_equal(f->cfg.vcpus, 2);
	/* CRLF line ends, '#' inside a string is not a comment. */
	parse_ok(f, "name = \"x\"\r\nmemory = 32\r\ndisk = [ '/img/#1,,xvda' ]\r\n");
	assert_string_equal(f->cfg.disks[0].target, "/img/#1");
	assert_int_equal(f->cfg.memory_mib, 32);
}

static void test_numbers(void **state)
{
	struct fix *f = *state;

	parse_ok(f, "name='a'\nmemory = 0x100\n");
	assert_int_equal(f->cfg.memory_mib, 256);
	parse_ok(f, "name='a'\nmemory = 0100\n");      /* octal, as xl's strtol(,0) */
	assert_int_equal(f->cfg.memory_mib, 64);
	parse_ok(f, "name='a'\nmemory = \"512\"\n");   /* a string holding a number */
	assert_int_equal(f->cfg.memory_mib, 512);
	parse_ok(f, "name='a'\nmemory = 1048576\n");
	assert_int_equal(f->cfg.memory_mib, XLCFG_MEMORY_MAX);
}

static void test_string_escapes(void **state)
{
	struct fix *f = *state;

	parse_ok(f, "name = 'a\\x41\\102_\\x2e'\n");
	assert_string_equal(f->cfg.name, "aAB_.");
	parse_ok(f, "name = \"v\\x2d1\"\n");
	assert_string_equal(f->cfg.name, "v-1");
	parse_ok(f, "name = '\\141\\142'\n");
	assert_string_equal(f->cfg.name, "ab");
	/* every escape xl knows, and the other quote inside */
	parse_ok(f, "name = 'w'\nextra = \"\\a\\b\\f\\n\\r\\t\\v\\\\\\'\\\" 'q'\"\n");
	parse_ok(f, "name = 'w'\nextra = 'say \"hi\"'\n");
}

static void test_lists_multiline(void **state)
{
	struct fix *f = *state;

	parse_ok(f,
		 "name = 'a'\n"
		 "disk = [\n"
		 "    'file:/img/a.img,xvda,w',\n"
		 "\n"
		 "    \"phy:/dev/vg/b,xvdb,r\"   # a comment inside\n"
		 "    ,'/img/c.img,raw,xvdc',\n"
		 "]\n"
		 "vif = [ ]\n");
	assert_int_equal(f->cfg.ndisks, 3);
	assert_string_equal(f->cfg.disks[0].target, "/img/a.img");
	assert_string_equal(f->cfg.disks[1].target, "/dev/vg/b");
	assert_string_equal(f->cfg.disks[2].vdev, "xvdc");
	assert_int_equal(f->cfg.nvifs, 0);
	parse_ok(f, "name='a'\ndisk=['/a,,xvda']\n");
	assert_int_equal(f->cfg.ndisks, 1);
	parse_ok(f, "name='a'\ndisk=[\n]\n");
	assert_int_equal(f->cfg.ndisks, 0);
}

static void test_last_wins_and_append(void **state)
{
	struct fix *f = *state;

	parse_ok(f,
		 "name = 'first'\nname = 'second'\n"
		 "memory = 1\nmemory = 2\n"
		 "disk = ['/a,,xvda', '/b,,xvdb']\n"
		 "disk = ['/c,,xvdc']\n"
		 "disk += ['/d,,xvdd']\n"
		 "vif += ['bridge=br1']\n");
	assert_string_equal(f->cfg.name, "second");
	assert_int_equal(f->cfg.memory_mib, 2);
	assert_int_equal(f->cfg.ndisks, 2);
	assert_string_equal(f->cfg.disks[0].vdev, "xvdc");
	assert_string_equal(f->cfg.disks[1].vdev, "xvdd");
	assert_int_equal(f->cfg.nvifs, 1);
	assert_string_equal(f->cfg.vifs[0].bridge, "br1");
}

static void test_accepted_and_ignored(void **state)
{
	struct fix *f = *state;

	parse_ok(f,
		 "name = 'a'\ntype = 'pv'\nkernel = '/boot/vmlinuz'\n"
		 "ramdisk = '/boot/initrd'\nextra = 'console=hvc0'\n"
		 "cmdline = 'x'\nroot = '/dev/xvda1'\nvcpus = 4\n"
		 "uuid = '6C2A3A4E-0B2B-4C8E-9E7E-1234567890AB'\n");
	assert_int_equal(f->cfg.vcpus, 4);
	assert_string_equal(f->cfg.uuid, "6c2a3a4e-0b2b-4c8e-9e7e-1234567890ab");
	parse_ok(f, "name = 'a'\ntype = \"pvh\"\n");
}

/* ---- errors name the file and the line ---- */

static void test_errors_with_lines(void **state)
{
	static const struct { const char *in, *err; } cases[] = {
		{ "name = 'a'\n\n\n\n\n\nfoo = 1\n", "guest.cfg:7: unknown key 'foo'" },
		{ "memory = 5\n", "guest.cfg: no 'name' setting (a domain needs a name)" },
		{ "name = a\n", "guest.cfg:1: the value of 'name' needs quotes: 'a'" },
		{ "name = 'a'\nmemory =\n", "guest.cfg:2: expected a value for 'memory', found a new line" },
		{ "name = 'a'\nmemory 5\n", "guest.cfg:2: expected '=' after 'memory', found a number" },
		{ "name = 'a' memory = 5\n",
		  "guest.cfg:1: expected a new line or ';' after the value of 'name', found a word" },
		{ "name = 'a\n", "guest.cfg:1: unterminated string" },
		{ "name = 'a'\n\nextra = \"abc\n\"\n", "guest.cfg:3: unterminated string" },
		{ "name = 'a'\ndisk = [ '/a,,xvda',\n\n", "guest.cfg:2: unterminated list" },
		{ "name = 'a'\ndisk = [ '/a,,xvda' '/b,,xvdb' ]\n",
		  "guest.cfg:2: expected ',' or ']' in the list of 'disk', found a string" },
		{ "name = 'a'\ndisk = [ [ '/a,,xvda' ] ]\n", "guest.cfg:2: nested lists are not supported" },
		{ "name = 'a'\ndisk = '/a,,xvda'\n", "guest.cfg:2: 'disk' must be a list: disk = [ '...' ]" },
		{ "name = ['a']\n", "guest.cfg:1: 'name' takes one value, not a list" },
		{ "name = 'a'\nmemory += 5\n", "guest.cfg:2: '+=' applies to lists, and 'memory' is not one" },
		{ "name = 'a'\n= 5\n", "guest.cfg:2: expected a key, found '='" },
		{ "name = ('a')\n", "guest.cfg:1: unexpected '(' (this is not Python: lists are [ ... ])" },
		{ "name = 'a'\nmemory = 5 + 1\n", "guest.cfg:2: unexpected character '+'" },
		{ "name = 'a'\nextra = 'x\\q'\n", "guest.cfg:2: unknown escape '\\q'" },
		{ "name = 'a'\nextra = 'x\\x4'\n", "guest.cfg:2: bad escape: \\x needs two hex digits" },
		{ "name = 'a'\nextra = 'x\\000'\n", "guest.cfg:2: NUL byte in a string" },
		{ "name = 'a'\nextra = 'x\\777'\n", "guest.cfg:2: bad escape: octal value over 255" },
		{ "name = '123'\n", "guest.cfg:1: bad name '123' (1-64 of A-Z a-z 0-9 _ . -, not all digits, not Domain-0)" },
		{ "name = 'Domain-0'\n", "guest.cfg:1: bad name 'Domain-0' (1-64 of A-Z a-z 0-9 _ . -, not all digits, not Domain-0)" },
		{ "name = 'a b'\n", "guest.cfg:1: bad name 'a b' (1-64 of A-Z a-z 0-9 _ . -, not all digits, not Domain-0)" },
		{ "name = 'a'\nmemory = 0\n", "guest.cfg:2: bad memory '0' (MiB, 1-1048576)" },
		{ "name = 'a'\nmemory = 1048577\n", "guest.cfg:2: bad memory '1048577' (MiB, 1-1048576)" },
		{ "name = 'a'\nmemory = 12abc\n", "guest.cfg:2: bad memory '12abc' (MiB, 1-1048576)" },
		{ "name = 'a'\nmemory = '-5'\n", "guest.cfg:2: bad memory '-5' (MiB, 1-1048576)" },
		{ "name = 'a'\nmemory = 099\n", "guest.cfg:2: bad memory '099' (MiB, 1-1048576)" },
		{ "name = 'a'\nvcpus = 0\n", "guest.cfg:2: bad vcpus '0' (1-512)" },
		{ "name = 'a'\nuuid = 'nope'\n",
		  "guest.cfg:2: bad uuid 'nope' (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)" },
		{ "name = 'a'\ntype = 'hvm'\n",
		  "guest.cfg:2: type 'hvm' is not supported (pvd domains are simulated PV guests)" },
		{ "name = 'a'\ntype = 'pvx'\n", "guest.cfg:2: unknown type 'pvx' (pv, pvh)" },
		{ "name = 'a'\ndisk = [\n  '/a,,xvda',\n  '/b,qcow2,xvdb',\n]\n",
		  "guest.cfg:4: disk '/b,qcow2,xvdb': format 'qcow2' is not supported (pvd serves raw and luks images)" },
		{ "name = 'a'\ndisk = [ '/a,,xvda',\n '/b,,xvda' ]\n",
		  "guest.cfg:3: disk '/b,,xvda': device 51712 (xvda) is already used by 'xvda'" },
		{ "name = 'a'\ndisk = [ '/a,,d0',\n '/b,,51712' ]\n",
		  "guest.cfg:3: disk '/b,,51712': device 51712 (51712) is already used by 'd0'" },
		{ "name = 'a'\n\nvif = [ 'bridge=xenbr0,colour=red' ]\n",
		  "guest.cfg:3: vif 'bridge=xenbr0,colour=red': unknown vif parameter 'colour'" },
		{ "name = 'a'\nvif = [ 'mac=00:16:3e:00:00:01', 'mac=00:16:3e:00:00:01' ]\n",
		  "guest.cfg:2: vif 'mac=00:16:3e:00:00:01': mac already used by vif 0" },
		{ "name = 'a'\r\nfoo = 1\r\n", "guest.cfg:2: unknown key 'foo'" },
		{ "\xef\xbb\xbfname = 'a'\n", "guest.cfg:1: unexpected character '?'" },
	};
	struct fix *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_err(f, cases[i].in, cases[i].err);
}

static void test_nul_byte(void **state)
{
	static const char in1[] = "name = 'a'\nmemory = \0 5\n";
	static const char in2[] = "name = 'a'\n\nextra = 'x\0y'\n";
	struct fix *f = *state;

	assert_int_equal(xlcfg_parse(&f->cfg, "g.cfg", in1, sizeof(in1) - 1, f->err,
				     sizeof(f->err)), -EINVAL);
	assert_string_equal(f->err, "g.cfg:2: NUL byte");
	assert_int_equal(xlcfg_parse(&f->cfg, "g.cfg", in2, sizeof(in2) - 1, f->err,
				     sizeof(f->err)), -EINVAL);
	assert_string_equal(f->err, "g.cfg:3: NUL byte in a string");
}

/* ---- disk specifications ---- */

static void test_disk_specs(void **state)
{
	static const struct {
		const char *spec, *target, *vdev;
		uint32_t devid;
		bool rw;
		enum xlcfg_backend be;
	} cases[] = {
		/* xl-disk-configuration(5)'s equivalent examples */
		{ "/dev/vg/guest-volume,,hda", "/dev/vg/guest-volume", "hda", 768, true, XLCFG_BACKEND_PHY },
		{ "/dev/vg/guest-volume,raw,hda,rw", "/dev/vg/guest-volume", "hda", 768, true, XLCFG_BACKEND_PHY },
		{ "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
		  "/dev/vg/guest-volume", "hda", 768, true, XLCFG_BACKEND_PHY },
		{ "raw:/dev/vg/guest-volume,hda,w", "/dev/vg/guest-volume", "hda", 768, true, XLCFG_BACKEND_PHY },
		/* deprecated prefixes take the format's place */
		{ "file:/img/a.img,xvdb,w", "/img/a.img", "xvdb", 51728, true, XLCFG_BACKEND_FILE },
		{ "phy:/dev/vg/lv,xvdc,r", "/dev/vg/lv", "xvdc", 51744, false, XLCFG_BACKEND_PHY },
		{ "phy:/img/a.img,xvdc,ro", "/img/a.img", "xvdc", 51744, false, XLCFG_BACKEND_PHY },
		{ "tap:aio:/img/a.img,xvdd", "/img/a.img", "xvdd", 51760, true, XLCFG_BACKEND_FILE },
		{ "file:/a,xvda:disk,w", "/a", "xvda", 51712, true, XLCFG_BACKEND_FILE },
		/* keyed forms in any order, target last taking the rest */
		{ "vdev=xvde,access=r,target=/img/x,y z", "/img/x,y z", "xvde", 51776, false, XLCFG_BACKEND_FILE },
		{ "access=w, backendtype=phy, vdev=xvdf, /img/f.img", "/img/f.img", "xvdf", 51792, true, XLCFG_BACKEND_PHY },
		{ "backendtype=file,target=/dev/sdz", "/dev/sdz", "", 0, true, XLCFG_BACKEND_FILE },
		{ ",,xvda,,target=/img/late.img", "/img/late.img", "xvda", 51712, true, XLCFG_BACKEND_FILE },
		/* a target without '/' gets /dev/ */
		{ "vg/lv,,xvdg", "/dev/vg/lv", "xvdg", 51808, true, XLCFG_BACKEND_PHY },
		/* flags */
		{ "/a,,xvdh,w,no-discard,direct-io-safe", "/a", "xvdh", 51824, true, XLCFG_BACKEND_FILE },
		{ "  /a , raw , xvdi , r ", "/a", "xvdi", 51840, false, XLCFG_BACKEND_FILE },
		{ "/a,,xvdj,,", "/a", "xvdj", 51856, true, XLCFG_BACKEND_FILE },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xlcfg_disk d;
		char err[XLCFG_ERR_LEN] = "";
		int rc = xlcfg_parse_disk(cases[i].spec, &d, err, sizeof(err));

		if (!cases[i].vdev[0]) {
			assert_int_equal(rc, -EINVAL);
			assert_string_equal(err, "no vdev (the guest's device name, e.g. xvda)");
			continue;
		}
		if (rc != 0)
			fail_msg("'%s': %s", cases[i].spec, err);
		assert_string_equal(d.target, cases[i].target);
		assert_string_equal(d.vdev, cases[i].vdev);
		assert_int_equal(d.devid, cases[i].devid);
		assert_int_equal(d.readwrite, cases[i].rw);
		assert_int_equal(d.backend, cases[i].be);
	}
}

static void test_disk_flags(void **state)
{
	struct xlcfg_disk d;
	char err[XLCFG_ERR_LEN];

	assert_int_equal(xlcfg_parse_disk("/a,,xvda,w", &d, err, sizeof(err)), 0);
	assert_true(d.discard);
	assert_false(d.direct_io_safe);
	assert_int_equal(xlcfg_parse_disk("/a,,xvda,r", &d, err, sizeof(err)), 0);
	assert_false(d.discard);               /* libxl: discard defaults to rw */
	assert_int_equal(xlcfg_parse_disk("/a,,xvda,r,discard", &d, err, sizeof(err)), 0);
	assert_true(d.discard);
	assert_int_equal(xlcfg_parse_disk("no-discard,direct-io-safe,/a,,xvda", &d, err,
					  sizeof(err)), 0);
	assert_false(d.discard);
	assert_true(d.direct_io_safe);
	assert_string_equal(xlcfg_backend_name(XLCFG_BACKEND_PHY), "phy");
	assert_string_equal(xlcfg_backend_name(XLCFG_BACKEND_FILE), "file");
}

/* pvd's format=luks with keyfile= (any order, positional format too). */
static void test_disk_luks(void **state)
{
	static const struct { const char *spec, *err; } bad[] = {
		{ "/a,luks,xvda", "format=luks needs keyfile=PATH (the passphrase's file in dom0)" },
		{ "/a,,xvda,keyfile=/k", "keyfile= is only for format=luks" },
		{ "/a,,xvda,format=luks,keyfile=k", "keyfile 'k' is not an absolute path" },
		{ "/a,,xvda,format=luks,keyfile=", "keyfile '' is not an absolute path" },
		{ "/a,,xvda,format=luks,keyfile=/k,keyfile=/k", "keyfile given twice" },
	};
	struct xlcfg_disk d;
	char err[XLCFG_ERR_LEN];

	assert_int_equal(xlcfg_parse_disk("format=luks,keyfile=/etc/pvd/keys/g1,vdev=xvda,target=/img/a",
					  &d, err, sizeof(err)), 0);
	assert_true(d.luks);
	assert_string_equal(d.keyfile, "/etc/pvd/keys/g1");
	assert_string_equal(d.target, "/img/a");
	assert_int_equal(xlcfg_parse_disk("/img/b,luks,xvdb,w,keyfile=/k", &d, err, sizeof(err)), 0);
	assert_true(d.luks);
	assert_string_equal(d.keyfile, "/k");
	assert_int_equal(xlcfg_parse_disk("/img/b,raw,xvdb", &d, err, sizeof(err)), 0);
	assert_false(d.luks);
	assert_string_equal(d.keyfile, "");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(xlcfg_parse_disk(bad[i].spec, &d, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad[i].err);
	}
}

static void test_disk_errors(void **state)
{
	static const struct { const char *spec, *err; } cases[] = {
		{ "", "no target (empty CD-ROM drives are not supported)" },
		{ ",,hdc", "no target (empty CD-ROM drives are not supported)" },
		{ "/a", "no vdev (the guest's device name, e.g. xvda)" },
		/* without a prefix the second positional is the format */
		{ "/img,xvdb,w", "unknown format 'xvdb'" },
		{ "/a,qcow2,xvda", "format 'qcow2' is not supported (pvd serves raw and luks images)" },
		{ "format=vhd,vdev=xvda,target=/a", "format 'vhd' is not supported (pvd serves raw and luks images)" },
		{ "qcow:/a,xvda", "format 'qcow' is not supported (pvd serves raw and luks images)" },
		{ "/a,,xvda,x", "unknown access 'x' (want r, ro, w or rw)" },
		{ "/a,,xvda,w,extra", "too many positional parameters at 'extra'" },
		{ "/a,,xvda:cdrom", "CD-ROM devices are not supported" },
		{ "/a,,xvda,cdrom", "CD-ROM devices are not supported" },
		{ "/a,,xvda,devtype=cdrom", "CD-ROM devices are not supported" },
		{ "/a,,xvda:floppy", "unknown device type 'floppy'" },
		{ ",empty,hdc:cdrom,r", "empty (CD-ROM) drives are not supported" },
		{ "/a,,xvda,colour=red", "unknown parameter 'colour'" },
		{ "/a,,xvda,script=block-iscsi", "block scripts are not supported" },
		{ "iscsi:/a,xvda", "block scripts ('iscsi:') are not supported" },
		{ "foo:/a,xvda", "unknown deprecated disk prefix 'foo:'" },
		{ "/a,,xvda,backendtype=qdisk", "backendtype 'qdisk' is not supported (pvd-blkback is phy or file)" },
		{ "/a,,xvda,backendtype=nope", "unknown backendtype 'nope'" },
		{ "phy:/a,xvda,backendtype=file", "backend type given twice" },
		{ "/a,,xvda,backend=dd", "backend 'dd': only dom0 serves disks" },
		{ "/a,,xvda,specification=virtio", "specification 'virtio' is not supported" },
		{ "vdev=xvda,vdev=xvdb,target=/a", "vdev given twice" },
		{ "access=r,/a,,xvda,w", "access given twice" },
		{ "/a,,xvda,target=/b", "target given twice" },
		{ "/a,,floppy0", "unsupported virtual device 'floppy0'" },
		{ "/a,,xvda0", "unsupported virtual device 'xvda0'" },
		{ "/a,,hde", "unsupported virtual device 'hde'" },
		{ "/a,,sdq", "unsupported virtual device 'sdq'" },
		{ "vdev=xvda,target=/a\tb", "target contains control characters" },
		{ "/a,,vdev-name-much-longer-than-thirty-one", "vdev 'vdev-name-much-longer-than-thirty-one' is too long" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xlcfg_disk d;
		char err[XLCFG_ERR_LEN] = "";

		if (xlcfg_parse_disk(cases[i].spec, &d, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' parsed, wanted \"%s\"", cases[i].spec, cases[i].err);
		if (strcmp(err, cases[i].err) != 0)
			fail_msg("'%s': \"%s\", wanted \"%s\"", cases[i].spec, err, cases[i].err);
	}
}

static void test_disk_long_target(void **state)
{
	char spec[XLCFG_TARGET_MAX + 64], err[XLCFG_ERR_LEN];
	struct xlcfg_disk d;

	memset(spec, 'a', sizeof(spec));
	memcpy(spec, "vdev=xvda,target=/", 18);
	spec[18 + XLCFG_TARGET_MAX - 1] = '\0';  /* exactly the maximum */
	assert_int_equal(xlcfg_parse_disk(spec, &d, err, sizeof(err)), 0);
	assert_int_equal(strlen(d.target), XLCFG_TARGET_MAX);
	spec[18 + XLCFG_TARGET_MAX - 1] = 'a';
	spec[18 + XLCFG_TARGET_MAX] = '\0';
	assert_int_equal(xlcfg_parse_disk(spec, &d, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "target longer than 1024 bytes");
	/* "/dev/" pushed over the limit */
	memset(spec, 'a', sizeof(spec));
	memcpy(spec, "vdev=xvda,target=", 17);
	spec[17 + XLCFG_TARGET_MAX - 2] = '\0';
	assert_int_equal(xlcfg_parse_disk(spec, &d, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "target longer than 1024 bytes");
}

/* ---- vdev encoding (xen-vbd-interface(7)) ---- */

static void test_vdev_encoding(void **state)
{
	static const struct { const char *vdev; uint32_t devid; } ok[] = {
		{ "xvda", 51712 },                   /* (202<<8) */
		{ "xvdb", 51728 },                   /* disk 1 */
		{ "xvda1", 51713 },
		{ "xvdp15", (202 << 8) | (15 << 4) | 15 },
		{ "xvdq", (1u << 28) | (16 << 8) },  /* disk 16: the extended form */
		{ "xvda16", (1u << 28) | 16 },       /* partition 16: extended */
		{ "xvdz", (1u << 28) | (25 << 8) },
		{ "xvdaa", (1u << 28) | (26 << 8) },
		{ "xvdtq37", (1u << 28) | (536 << 8) | 37 }, /* the man page's example */
		{ "d0", 51712 },
		{ "d0p0", 51712 },
		{ "d1p2", 51730 },
		{ "d536p37", (1u << 28) | (536 << 8) | 37 },
		{ "hda", 3 << 8 },
		{ "hdb", (3 << 8) | (1 << 6) },
		{ "hdc", 22 << 8 },
		{ "hdc2", (22 << 8) | 2 },
		{ "hdd63", (22 << 8) | (1 << 6) | 63 },
		{ "sda", 8 << 8 },
		{ "sdb3", (8 << 8) | (1 << 4) | 3 },
		{ "sdp15", (8 << 8) | (15 << 4) | 15 },
		{ "51712", 51712 },                  /* a number is written as is */
		{ "0xca00", 51712 },
		{ "0", 0 },
	};
	static const char *const bad[] = {
		"", "xvd", "xvda0", "xvda01", "xvda256", "xvdA", "hde", "hda64",
		"sdq", "sda16", "d", "dp1", "d1p256", "d1048576", "d01", "vda",
		"-1", "0x80000000", "12a", " xvda", "xvda ", "xvdaaaaaaaaaa",
	};
	uint32_t devid;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (xlcfg_vdev_devid(ok[i].vdev, &devid) != 0)
			fail_msg("'%s' refused", ok[i].vdev);
		if (devid != ok[i].devid)
			fail_msg("'%s' -> %u, wanted %u", ok[i].vdev, devid, ok[i].devid);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (xlcfg_vdev_devid(bad[i], &devid) != -EINVAL)
			fail_msg("'%s' accepted as %u", bad[i], devid);
	/* the largest extended disk */
	assert_int_equal(xlcfg_vdev_devid("d1048575p255", &devid), 0);
	assert_int_equal(devid, (1u << 28) | (1048575u << 8) | 255);
}

/* ---- vif specifications ---- */

static void test_vif_specs(void **state)
{
	struct xlcfg_vif v;
	char err[XLCFG_ERR_LEN], mac[18];

	assert_int_equal(xlcfg_parse_vif("mac=00:16:3E:0a:0B:0c, bridge=xenbr1", 3, &v,
					 err, sizeof(err)), 0);
	xlcfg_format_mac(v.mac, mac, sizeof(mac));
	assert_string_equal(mac, "00:16:3e:0a:0b:0c");
	assert_false(v.mac_generated);
	assert_string_equal(v.bridge, "xenbr1");
	assert_int_equal(v.devid, 3);
	assert_string_equal(v.script, XLCFG_SCRIPT_DEFAULT);
	assert_int_equal(v.mtu, XLCFG_MTU_DEFAULT);
	assert_string_equal(v.ip, "");
	assert_string_equal(v.vifname, "");

	assert_int_equal(xlcfg_parse_vif("type=vif,script=/etc/xen/scripts/vif-nat,ip=10.0.0.2,"
					 "vifname=web.0,mtu=9000,backend=0,", 0, &v, err,
					 sizeof(err)), 0);
	assert_string_equal(v.bridge, XLCFG_BRIDGE_DEFAULT);
	assert_string_equal(v.script, "/etc/xen/scripts/vif-nat");
	assert_string_equal(v.ip, "10.0.0.2");
	assert_string_equal(v.vifname, "web.0");
	assert_int_equal(v.mtu, 9000);
	assert_true(v.mac_generated);
}

static void test_vif_random_mac(void **state)
{
	struct xlcfg_vif a, b;
	char err[XLCFG_ERR_LEN];
	int same = 0;

	/* 00:16:3e (Xen's OUI), then 23 random bits (libxl clears the top
	 * bit of the fourth byte).  Sixteen pairs alike would mean no
	 * randomness at all. */
	for (int i = 0; i < 16; i++) {
		assert_int_equal(xlcfg_parse_vif("", 0, &a, err, sizeof(err)), 0);
		assert_int_equal(xlcfg_parse_vif("bridge=br0", 1, &b, err, sizeof(err)), 0);
		assert_true(a.mac_generated && b.mac_generated);
		assert_memory_equal(a.mac, "\x00\x16\x3e", 3);
		assert_memory_equal(b.mac, "\x00\x16\x3e", 3);
		assert_int_equal(a.mac[3] & 0x80, 0);
		same += memcmp(a.mac, b.mac, 6) == 0;
	}
	assert_true(same < 16);
}

static void test_vif_errors(void **state)
{
	static const struct { const char *spec, *err; } cases[] = {
		{ "bridge", "'bridge' is not key=value" },
		{ "colour=red", "unknown vif parameter 'colour'" },
		{ "mac=00:16:3e:00:00", "bad mac '00:16:3e:00:00' (want xx:xx:xx:xx:xx:xx)" },
		{ "mac=00:16:3e:00:00:0g", "bad mac '00:16:3e:00:00:0g' (want xx:xx:xx:xx:xx:xx)" },
		{ "mac=00-16-3e-00-00-01", "bad mac '00-16-3e-00-00-01' (want xx:xx:xx:xx:xx:xx)" },
		{ "mac=01:16:3e:00:00:01", "mac '01:16:3e:00:00:01' is a multicast address" },
		{ "mac=00:16:3e:00:00:01,mac=00:16:3e:00:00:02", "'mac' given twice" },
		{ "bridge=", "bad bridge '' (1-15 of A-Z a-z 0-9 _ . -)" },
		{ "bridge=this-name-is-too-long", "bad bridge 'this-name-is-too-long' (1-15 of A-Z a-z 0-9 _ . -)" },
		{ "bridge=br/0", "bad bridge 'br/0' (1-15 of A-Z a-z 0-9 _ . -)" },
		{ "vifname=a b", "bad vifname 'a b' (1-15 of A-Z a-z 0-9 _ . -)" },
		{ "mtu=67", "bad mtu '67' (68-65535)" },
		{ "mtu=65536", "bad mtu '65536' (68-65535)" },
		{ "type=ioemu", "vif type 'ioemu' is not supported (only vif)" },
		{ "backend=drv", "backend 'drv': only dom0 serves vifs" },
		{ "script=a\tb", "bad script 'a?b'" },
		{ "ip=", "bad ip '' (want IPv4 or IPv6 addresses, blank separated)" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xlcfg_vif v;
		char err[XLCFG_ERR_LEN] = "";

		if (xlcfg_parse_vif(cases[i].spec, 0, &v, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' parsed, wanted \"%s\"", cases[i].spec, cases[i].err);
		if (strcmp(err, cases[i].err) != 0)
			fail_msg("'%s': \"%s\", wanted \"%s\"", cases[i].spec, err, cases[i].err);
	}
}

static void test_vif_devids_in_config(void **state)
{
	struct fix *f = *state;

	parse_ok(f, "name='a'\nvif = [ 'bridge=br0', 'bridge=br1', '' ]\n");
	assert_int_equal(f->cfg.nvifs, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(f->cfg.vifs[i].devid, i);
	assert_string_equal(f->cfg.vifs[2].bridge, XLCFG_BRIDGE_DEFAULT);
}

/* ---- bounds ---- */

static char *repeat(const char *head, const char *item, unsigned n, const char *tail)
{
	size_t hl = strlen(head), il = strlen(item), tl = strlen(tail);
	char *s = malloc(hl + il * n + tl + 1), *p;

	assert_non_null(s);
	memcpy(s, head, hl);
	p = s + hl;
	for (unsigned i = 0; i < n; i++, p += il)
		memcpy(p, item, il);
	memcpy(p, tail, tl + 1);
	return s;
}

static void test_limit_disks(void **state)
{
	struct fix *f = *state;
	size_t cap = (XLCFG_DISKS_MAX + 1) * 32 + 64;
	char *s = malloc(cap);
	size_t n;

	assert_non_null(s);
	n = (size_t)snprintf(s, cap, "name='a'\ndisk=[\n");
	for (unsigned i = 0; i < XLCFG_DISKS_MAX; i++)
		n += (size_t)snprintf(s + n, cap - n, "'/a,,d%up0',\n", i);
	snprintf(s + n, cap - n, "]\n");
	parse_ok(f, s);
	assert_int_equal(f->cfg.ndisks, XLCFG_DISKS_MAX);
	/* one more, by += on a later line */
	n += (size_t)snprintf(s + n, cap - n, "]\ndisk += ['/a,,d999']\n");
	parse_err(f, s, "guest.cfg:260: more than 256 disks");
	free(s);
}

static void test_limit_vifs(void **state)
{
	struct fix *f = *state;
	char *s = repeat("name='a'\nvif=[", "'',", XLCFG_VIFS_MAX + 1, "]\n");

	parse_err(f, s, "guest.cfg:2: more than 64 vifs");
	free(s);
}

static void test_limit_string(void **state)
{
	struct fix *f = *state;
	char *s = repeat("name='a'\nextra='", "x", XLCFG_STRING_MAX, "'\n");

	parse_ok(f, s);
	free(s);
	s = repeat("name='a'\nextra='", "x", XLCFG_STRING_MAX + 1, "'\n");
	parse_err(f, s, "guest.cfg:2: string longer than 4096 bytes");
	free(s);
	s = repeat("name='a'\nmemory=", "1", XLCFG_STRING_MAX + 1, "\n");
	parse_err(f, s, "guest.cfg:2: number too long");
	free(s);
}

static void test_limit_file(void **state)
{
	struct fix *f = *state;
	char *s = repeat("name='a'\n", "#", XLCFG_FILE_MAX, "\n");

	assert_int_equal(xlcfg_parse(&f->cfg, "big.cfg", s, strlen(s), f->err,
				     sizeof(f->err)), -EFBIG);
	assert_string_equal(f->err, "big.cfg: larger than 1048576 bytes");
	free(s);
}

static void test_parse_file(void **state)
{
	struct fix *f = *state;
	char path[] = "/tmp/test_xlcfg.XXXXXX";
	static const char text[] = "name = 'fromfile'\nmemory = 96\n";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (int)sizeof(text) - 1);
	close(fd);
	assert_int_equal(xlcfg_parse_file(&f->cfg, path, f->err, sizeof(f->err)), 0);
	assert_string_equal(f->cfg.name, "fromfile");
	assert_int_equal(f->cfg.memory_mib, 96);
	/* a file one byte too big */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, XLCFG_FILE_MAX + 1), 0);
	close(fd);
	xlcfg_free(&f->cfg);
	xlcfg_init(&f->cfg);
	assert_int_equal(xlcfg_parse_file(&f->cfg, path, f->err, sizeof(f->err)), -EFBIG);
	unlink(path);
	assert_int_equal(xlcfg_parse_file(&f->cfg, path, f->err, sizeof(f->err)), -ENOENT);
	assert_non_null(strstr(f->err, "No such file or directory"));
}

static void test_name_valid(void **state)
{
	assert_true(xlcfg_name_valid("web-1"));
	assert_true(xlcfg_name_valid("a.b_c"));
	assert_true(xlcfg_name_valid("1a"));
	assert_false(xlcfg_name_valid(""));
	assert_false(xlcfg_name_valid("42"));
	assert_false(xlcfg_name_valid("-x"));
	assert_false(xlcfg_name_valid(".x"));
	assert_false(xlcfg_name_valid("a/b"));
	assert_false(xlcfg_name_valid("Domain-0"));
	assert_true(xlcfg_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_false(xlcfg_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_minimal_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comments_blanks_separators, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_string_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lists_multiline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_wins_and_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accepted_and_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_with_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
		cmocka_unit_test(test_disk_specs),
		cmocka_unit_test(test_disk_flags),
		cmocka_unit_test(test_disk_luks),
		cmocka_unit_test(test_disk_errors),
		cmocka_unit_test(test_disk_long_target),
		cmocka_unit_test(test_vdev_encoding),
		cmocka_unit_test(test_vif_specs),
		cmocka_unit_test(test_vif_random_mac),
		cmocka_unit_test(test_vif_errors),
		cmocka_unit_test_setup_teardown(test_vif_devids_in_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_disks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_vifs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_string, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_file, setup, teardown),
		cmocka_unit_test(test_name_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
