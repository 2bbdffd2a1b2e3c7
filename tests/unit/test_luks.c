/* The LUKS module (blkback/luks*.c) on real images made at test time by
 * tests/unit/luks_images.sh with cryptsetup and qemu-img, each checked
 * against an implementation that is not ours:
 * - LUKS1: data QEMU's luks driver wrote (qemu-img convert) decrypts to
 *   the plaintext; what luks_encrypt writes reads back through qemu-img
 *   convert as the plaintext, for every supported cipher;
 * - LUKS2 (no QEMU driver): the volume key from cryptsetup luksDump
 *   --dump-volume-key and tests/unit/luks_ref.py (dm-crypt's IVs on
 *   python3-cryptography) en/decrypt the same sectors;
 * and the failures: wrong key, corrupt magic/JSON/checksum (the other
 * LUKS2 copy used when one is bad), truncated headers, unsupported
 * ciphers, requirements, absurd KDF costs and stripes, misaligned I/O.
 * Also prints luks_encrypt's MB/s on 1 MiB buffers (no threshold). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "../../blkback/luks.h"

static char dir[256];

struct mem {
	uint8_t *p;
	size_t len;
};

static int mem_read(void *arg, uint64_t off, void *buf, size_t len)
{
	struct mem *m = arg;

	if (off > m->len || len > m->len - off)
		return -EIO;
	memcpy(buf, m->p + off, len);
	return 0;
}

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static uint8_t *slurp(const char *name, size_t *len)
{
	char path[512];
	struct stat st;
	uint8_t *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(pread(fd, p, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	p[st.st_size] = 0;
	*len = (size_t)st.st_size;
	return p;
}

/* Writes p at off in file NAME; trunc: the file is only that. */
static void spill(const char *name, const void *p, size_t len, uint64_t off,
		  bool trunc)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | (trunc ? O_TRUNC : 0), 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, p, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* Opens image NAME (in memory, as m) with key file KEY. */
static int open_mem(struct mem *m, const char *key, struct luks_volume **v,
		    char *err, size_t errlen)
{
	size_t klen;
	uint8_t *k = slurp(key, &klen);
	int rc = luks_open(mem_read, m, m->len, k, klen, v, err, errlen);

	free(k);
	return rc;
}

static struct luks_volume *open_ok(const char *img, struct mem *m)
{
	struct luks_volume *v = NULL;
	char err[200] = "";

	m->p = slurp(img, &m->len);
	if (open_mem(m, "key", &v, err, sizeof(err)))
		fail_msg("%s: %s", img, err);
	return v;
}

/* Data written by QEMU's luks driver reads back as the plaintext. */
static void test_luks1_qemu_written(void **state)
{
	struct mem m;
	struct luks_volume *v = open_ok("q1.img", &m);
	size_t plen;
	uint8_t *plain = slurp("plain.raw", &plen);
	uint8_t *buf = malloc(plen);

	assert_int_equal(luks_version(v), 1);
	assert_string_equal(luks_cipher(v), "aes-xts-plain64");
	assert_int_equal(luks_key_bits(v), 512);
	assert_int_equal(luks_sector_size(v), 512);
	assert_int_equal(luks_payload_size(v), m.len - luks_payload_offset(v));
	memcpy(buf, m.p + luks_payload_offset(v), plen);
	assert_int_equal(luks_decrypt(v, 0, buf, plen), 0);
	assert_memory_equal(buf, plain, plen);
	luks_close(v);
	free(buf);
	free(plain);
	free(m.p);
}

struct img_case {
	const char *name, *cipher;
	unsigned bits, sector;
	int version;
};

static const struct img_case luks1_cases[] = {
	{ "c1-xts512", "aes-xts-plain64", 512, 512, 1 },
	{ "c1-xts256", "aes-xts-plain64", 256, 512, 1 },
	{ "c1-essiv", "aes-cbc-essiv:sha256", 256, 512, 1 },
	{ "c1-cbc64", "aes-cbc-plain64", 128, 512, 1 },
	{ "c1-xtsplain", "aes-xts-plain", 256, 512, 1 },
	{ "c1-cbcplain", "aes-cbc-plain", 256, 512, 1 },
	{ "c1-slot1", "aes-xts-plain64", 512, 512, 1 },
	{ "q1", "aes-xts-plain64", 512, 512, 1 },
};

static const struct img_case ref_cases[] = {
	{ "c2-pbkdf2", "aes-xts-plain64", 512, 512, 2 },
	{ "c2-argon2id", "aes-xts-plain64", 512, 4096, 2 },
	{ "c2-argon2i", "aes-cbc-essiv:sha256", 256, 1024, 2 },
	{ "c2-xts256", "aes-xts-plain64", 256, 512, 2 },
	{ "c1-cbc192", "aes-cbc-plain64", 192, 512, 1 },
};

static void check_case(struct luks_volume *v, const struct img_case *c, int ver)
{
	assert_int_equal(luks_version(v), ver);
	assert_string_equal(luks_cipher(v), c->cipher);
	assert_int_equal(luks_key_bits(v), c->bits);
	assert_int_equal(luks_sector_size(v), c->sector);
}

/* What luks_encrypt writes reads back through QEMU's luks driver. */
static void test_luks1_written_reads_in_qemu(void **state)
{
	const size_t len = 64 << 10, off = 192 << 10;
	size_t plen, olen;
	uint8_t *plain = slurp("plain.raw", &plen), *buf = malloc(len), *out;
	char name[64];

	for (size_t i = 0; i < sizeof(luks1_cases) / sizeof(luks1_cases[0]); i++) {
		const struct img_case *c = &luks1_cases[i];
		struct mem m;
		struct luks_volume *v;

		snprintf(name, sizeof(name), "%s.img", c->name);
		v = open_ok(name, &m);
		check_case(v, c, 1);
		memcpy(buf, plain + i * 4096, len);
		assert_int_equal(luks_encrypt(v, off, buf, len), 0);
		spill(name, buf, len, luks_payload_offset(v) + off, false);
		assert_int_equal(sh("qemu-img convert --object secret,id=s,file=%s/key "
				    "--image-opts driver=luks,key-secret=s,file.filename=%s/%s "
				    "-O raw %s/out.raw", dir, dir, name, dir), 0);
		out = slurp("out.raw", &olen);
		assert_true(olen >= off + len);
		if (memcmp(out + off, plain + i * 4096, len))
			fail_msg("%s: QEMU reads other data than luks_encrypt wrote", c->name);
		assert_int_equal(luks_decrypt(v, off, buf, len), 0);
		assert_memory_equal(buf, plain + i * 4096, len);
		free(out);
		luks_close(v);
		free(m.p);
	}
	free(buf);
	free(plain);
}

/* LUKS2 (and AES-192): the same sectors as luks_ref.py with
 * cryptsetup's volume key. */
static void test_matches_reference(void **state)
{
	size_t plen, rlen;
	uint8_t *plain = slurp("plain.raw", &plen), *buf, *ref;
	char name[64], off_s[32];

	for (size_t i = 0; i < sizeof(ref_cases) / sizeof(ref_cases[0]); i++) {
		const struct img_case *c = &ref_cases[i];
		size_t len = 3 * c->sector, off = 5 * c->sector;
		struct mem m;
		struct luks_volume *v;

		snprintf(name, sizeof(name), "%s.img", c->name);
		v = open_ok(name, &m);
		check_case(v, c, c->version);
		assert_int_equal(sh("cryptsetup luksDump %s/%s | awk "
				    "'$1 == \"offset:\" { printf \"%%s\", $2; exit } "
				    "$1 == \"Payload\" { printf \"%%s\", $3 * 512; exit }' "
				    ">%s/off", dir, name, dir), 0);
		snprintf(off_s, sizeof(off_s), "%llu",
			 (unsigned long long)luks_payload_offset(v));
		buf = slurp("off", &rlen);
		assert_string_equal((char *)buf, off_s);
		free(buf);
		spill("in.bin", plain, len, 0, true);
		assert_int_equal(sh("python3 tests/unit/luks_ref.py enc %s $(cat %s/%s.mk) "
				    "%u %zu <%s/in.bin >%s/ref.bin", c->cipher, dir,
				    c->name, c->sector, off / 512, dir, dir), 0);
		ref = slurp("ref.bin", &rlen);
		assert_int_equal(rlen, len);
		buf = malloc(len);
		memcpy(buf, plain, len);
		assert_int_equal(luks_encrypt(v, off, buf, len), 0);
		if (memcmp(buf, ref, len))
			fail_msg("%s: luks_encrypt differs from the reference", c->name);
		assert_int_equal(luks_decrypt(v, off, buf, len), 0);
		assert_memory_equal(buf, plain, len);
		free(buf);
		free(ref);
		luks_close(v);
		free(m.p);
	}
	free(plain);
}

/* Opens a (modified) in-memory image of dev_size bytes: its rc, err. */
static int try_open(struct mem *m, size_t dev_size, const char *key, char *err,
		    size_t errlen)
{
	struct luks_volume *v = NULL;
	struct mem t = { m->p, dev_size };
	int rc = open_mem(&t, key, &v, err, errlen);

	if (!rc)
		assert_non_null(v);
	else
		assert_null(v);
	luks_close(v);
	return rc;
}

typedef void edit_fn(struct mem *m, const void *arg);

static void expect_edit(const char *img, edit_fn *edit, const void *arg,
			size_t dev_size, const char *key, int rc, const char *line)
{
	struct mem m;
	char err[200] = "";

	m.p = slurp(img, &m.len);
	if (edit)
		edit(&m, arg);
	if (try_open(&m, dev_size ? dev_size : m.len, key, err, sizeof(err)) != rc)
		fail_msg("%s: expected %d, got \"%s\"", img, rc, err);
	if (line && !strstr(err, line))
		fail_msg("%s: error line \"%s\" lacks \"%s\"", img, err, line);
	free(m.p);
}

static void expect(const char *img, size_t dev_size, const char *key, int rc,
		   const char *line)
{
	expect_edit(img, NULL, NULL, dev_size, key, rc, line);
}

static void test_wrong_key(void **state)
{
	const char *imgs[] = { "c1-xts512.img", "q1.img", "c2-pbkdf2.img",
			       "c2-argon2id.img", "c2-argon2i.img" };

	for (size_t i = 0; i < sizeof(imgs) / sizeof(imgs[0]); i++)
		expect(imgs[i], 0, "wrongkey", -EPERM, "no keyslot opens");
	/* Two keyslots: each key opens its own. */
	expect("c1-slot1.img", 0, "wrongkey", 0, NULL);
	expect("c1-slot1.img", 0, "key", 0, NULL);
}

/* Byte edits: a list of (offset, xor) pairs ended by a zero xor. */
struct flip {
	size_t off;
	uint8_t x;
};

static void edit_flip(struct mem *m, const void *arg)
{
	for (const struct flip *f = arg; f->x; f++)
		m->p[f->off] ^= f->x;
}

struct put32 {
	size_t off;
	uint32_t val;
};

static void edit_put32(struct mem *m, const void *arg)
{
	const struct put32 *p = arg;

	for (int i = 0; i < 4; i++)
		m->p[p->off + i] = (uint8_t)(p->val >> (24 - 8 * i));
}

static void edit_bytes(struct mem *m, const void *arg)
{
	const char *const *kv = arg;

	memcpy(m->p + strtoul(kv[0], NULL, 0), kv[1], strlen(kv[1]) + 1);
}

/* A LUKS2 JSON edit in one header copy (0 primary, 1 secondary) with
 * its seqid set when nonzero, the checksum recomputed: the copy stays
 * valid as cryptsetup sees it, only its content changes. */
struct json_edit {
	const char *from, *to;
	int copy;
	uint8_t seqid;
};

static void edit_copy(struct mem *m, const struct json_edit *e)
{
	uint64_t size = 0, h;
	char *json, *at, *tmp;
	size_t area, n;
	unsigned len;

	for (int i = 8; i < 16; i++)
		size = size << 8 | m->p[i];
	h = e->copy ? size : 0;
	json = (char *)m->p + h + 4096;
	area = size - 4096;
	assert_non_null(at = strstr(json, e->from));
	assert_non_null(tmp = malloc(area));
	n = (size_t)(at - json);
	snprintf(tmp, area, "%.*s%s%s", (int)n, json, e->to, at + strlen(e->from));
	memset(json, 0, area);
	memcpy(json, tmp, strlen(tmp));
	free(tmp);
	if (e->seqid)
		m->p[h + 23] = e->seqid;
	memset(m->p + h + 448, 0, 64);
	assert_int_equal(EVP_Digest(m->p + h, size, m->p + h + 448, &len,
				    EVP_sha256(), NULL), 1);
}

/* The same edit in both copies. */
static void edit_json(struct mem *m, const void *arg)
{
	const char *const *ft = arg;

	for (int c = 0; c < 2; c++)
		edit_copy(m, &(struct json_edit){ ft[0], ft[1], c, 0 });
}

/* Edits in the copies (the list ends with a NULL from). */
static void edit_copies(struct mem *m, const void *arg)
{
	for (const struct json_edit *e = arg; e->from; e++)
		edit_copy(m, e);
}

/* Two good copies that differ: the higher seqid is used, as cryptsetup
 * does (here a serpent cipher in one of them tells which was read). */
static void test_seqid_chooses_copy(void **state)
{
	static const char enc[] = "\"encryption\":\"aes-xts-plain64\",\"sector";
	static const char bad[] = "\"encryption\":\"serpent-xts-plain64\",\"sector";
	static const struct json_edit newer2[] = {
		{ enc, bad, 0, 5 }, { "\"tokens\"", "\"tokens\"", 1, 6 }, { NULL } };
	static const struct json_edit newer1[] = {
		{ enc, bad, 0, 7 }, { "\"tokens\"", "\"tokens\"", 1, 6 }, { NULL } };

	expect_edit("c2-pbkdf2.img", edit_copies, newer2, 0, "key", 0, NULL);
	expect_edit("c2-pbkdf2.img", edit_copies, newer1, 0, "key", -ENOTSUP,
		    "serpent");
}

static void test_corrupt_headers(void **state)
{
	static const struct flip magic[] = { { 1, 0x20 }, { 0, 0 } };
	static const struct flip json1[] = { { 4096 + 20, 0x01 }, { 0, 0 } };
	static const struct flip json2[] = { { 4096 + 20, 0x01 },
					     { 16384 + 4096 + 20, 0x01 }, { 0, 0 } };
	static const struct flip csum1[] = { { 448, 0x80 }, { 0, 0 } };
	static const struct flip csum2[] = { { 448, 0x80 }, { 16384 + 448, 0x80 },
					     { 0, 0 } };
	static const struct flip magic2[] = { { 16384 + 3, 0x01 },
					      { 4096 + 20, 0x01 }, { 0, 0 } };

	expect_edit("c1-xts512.img", edit_flip, magic, 0, "key", -EINVAL,
		    "not a LUKS volume");
	expect_edit("c2-pbkdf2.img", edit_flip, magic, 0, "key", -EINVAL,
		    "not a LUKS volume");
	/* One bad copy: the other one is used, as cryptsetup does. */
	expect_edit("c2-pbkdf2.img", edit_flip, json1, 0, "key", 0, NULL);
	expect_edit("c2-argon2id.img", edit_flip, csum1, 0, "key", 0, NULL);
	expect_edit("c2-pbkdf2.img", edit_flip, json2, 0, "key", -EINVAL,
		    "corrupt LUKS2 header: primary: checksum mismatch; "
		    "secondary: checksum mismatch");
	expect_edit("c2-argon2id.img", edit_flip, csum2, 0, "key", -EINVAL,
		    "checksum mismatch");
	expect_edit("c2-argon2i.img", edit_flip, magic2, 0, "key", -EINVAL,
		    "corrupt LUKS2 header: primary: checksum mismatch; secondary: bad magic");
}

/* Header bytes quoted in the error line (jansson's "near '...'") are
 * printable: no terminal escapes reach the operator's log. */
static void test_error_line_printable(void **state)
{
	static const char *const j_esc[] = { "\"tokens\":{}",
					     "\"tokens\":{\x1b[2J\x07}" };
	struct mem m;
	char err[200] = "";

	m.p = slurp("c2-pbkdf2.img", &m.len);
	edit_json(&m, j_esc);
	assert_int_equal(try_open(&m, m.len, "key", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "JSON: "));
	for (const char *p = err; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			fail_msg("control byte 0x%02x in \"%s\"", *p, err);
	free(m.p);
}

static void test_truncated(void **state)
{
	expect("c1-xts512.img", 100, "key", -EINVAL, "not a LUKS volume");
	expect("c1-xts512.img", 4096, "key", -EINVAL, "payload offset");
	expect("q1.img", 600, "key", -EINVAL, NULL);
	expect("c2-pbkdf2.img", 600, "key", -EINVAL, "header beyond the device");
	expect("c2-pbkdf2.img", 20000, "key", -EINVAL, "segment: offset outside");
}

static void test_unsupported(void **state)
{
	static const char *const serpent[] = { "8", "serpent" };
	static const char *const twofish[] = { "8", "twofish" };
	static const char *const mode[] = { "40", "ctr-plain64" };
	static const char *const hash[] = { "72", "md4" };
	static const char *const j_serpent[] = { "\"encryption\":\"aes-xts-plain64\",\"sector",
						 "\"encryption\":\"serpent-xts-plain64\",\"sector" };
	static const char *const j_req[] = { "\"config\":{",
		"\"config\":{\"requirements\":{\"mandatory\":[\"online-reencrypt\"]}," };
	static const char *const j_integ[] = { "\"sector_size\"",
		"\"integrity\":{\"type\":\"hmac(sha256)\"},\"sector_size\"" };
	static const char *const j_kdf[] = { "\"type\":\"argon2id\"", "\"type\":\"scrypt\"" };

	expect_edit("c1-xts512.img", edit_bytes, serpent, 0, "key", -ENOTSUP,
		    "unsupported cipher serpent-xts-plain64");
	expect_edit("c1-essiv.img", edit_bytes, twofish, 0, "key", -ENOTSUP,
		    "unsupported cipher twofish-cbc-essiv:sha256");
	expect_edit("c1-xts512.img", edit_bytes, mode, 0, "key", -ENOTSUP,
		    "unsupported cipher aes-ctr-plain64");
	expect_edit("c1-xts512.img", edit_bytes, hash, 0, "key", -ENOTSUP,
		    "unsupported hash md4");
	expect_edit("c2-pbkdf2.img", edit_json, j_serpent, 0, "key", -ENOTSUP,
		    "unsupported cipher serpent-xts-plain64");
	expect_edit("c2-pbkdf2.img", edit_json, j_req, 0, "key", -ENOTSUP,
		    "LUKS2 requirement online-reencrypt not supported");
	expect_edit("c2-pbkdf2.img", edit_json, j_integ, 0, "key", -ENOTSUP,
		    "integrity");
	expect_edit("c2-argon2id.img", edit_json, j_kdf, 0, "key", -ENOTSUP,
		    "keyslot 0: KDF not supported");
}

/* Values a hostile header could make absurd: refused before any work. */
static void test_hostile_values(void **state)
{
	static const struct put32 stripes = { 208 + 44, 0xffffffff };
	static const struct put32 iter = { 208 + 4, 0xffffffff };
	static const struct put32 keybytes = { 108, 1000 };
	static const struct put32 slotoff = { 208 + 40, 0xfffffff0 };
	static const struct put32 state0 = { 208, 0x12345678 };
	static const char *const j_mem[] = { "\"memory\":32", "\"memory\":4000000000" };
	static const char *const j_stripes[] = { "\"stripes\":4000", "\"stripes\":400000" };
	static const char *const j_ss[] = { "\"sector_size\":512", "\"sector_size\":\"512\"" };
	static const char *const j_ss3[] = { "\"sector_size\":512", "\"sector_size\":1536" };
	static const char *const j_iter[] = { "\"iterations\":1000,\"salt\"",
					      "\"iterations\":4000000000,\"salt\"" };
	static const char *const j_salt[] = { "\"salt\":\"", "\"salt\":\"!!!!" };
	static const char *const j_off[] = { "\"offset\":\"32768\"", "\"offset\":\"99999999999\"" };
	static const char *const j_neg[] = { "\"key_size\":64", "\"key_size\":-64" };

	expect_edit("c1-xts512.img", edit_put32, &stripes, 0, "key", -EINVAL, "stripes");
	expect_edit("c1-xts512.img", edit_put32, &iter, 0, "key", -EINVAL,
		    "PBKDF2 iterations 4294967295");
	expect_edit("c1-xts512.img", edit_put32, &keybytes, 0, "key", -EINVAL, "key of 1000");
	expect_edit("c1-xts512.img", edit_put32, &slotoff, 0, "key", -EINVAL, "area");
	expect_edit("c1-xts512.img", edit_put32, &state0, 0, "key", -EINVAL, "state");
	expect_edit("c2-argon2id.img", edit_json, j_mem, 0, "key", -EINVAL, "argon2 cost");
	expect_edit("c2-argon2id.img", edit_json, j_stripes, 0, "key", -EINVAL, "stripes");
	expect_edit("c2-pbkdf2.img", edit_json, j_ss, 0, "key", -EINVAL, "sector_size");
	expect_edit("c2-pbkdf2.img", edit_json, j_ss3, 0, "key", -EINVAL, "sector_size");
	expect_edit("c2-pbkdf2.img", edit_json, j_iter, 0, "key", -EINVAL, "iterations");
	expect_edit("c2-pbkdf2.img", edit_json, j_salt, 0, "key", -EINVAL, "salt");
	expect_edit("c2-pbkdf2.img", edit_json, j_off, 0, "key", -EINVAL, "area");
	expect_edit("c2-pbkdf2.img", edit_json, j_neg, 0, "key", -EINVAL, "key_size");
}

static void test_misaligned(void **state)
{
	struct mem m1, m2;
	struct luks_volume *v1 = open_ok("c1-xts512.img", &m1);
	struct luks_volume *v2 = open_ok("c2-argon2id.img", &m2);
	static uint8_t buf[8192];
	uint64_t end = luks_payload_size(v1);

	assert_int_equal(luks_encrypt(v1, 100, buf, 512), -EINVAL);
	assert_int_equal(luks_decrypt(v1, 0, buf, 100), -EINVAL);
	assert_int_equal(luks_encrypt(v1, end, buf, 512), -EINVAL);
	assert_int_equal(luks_encrypt(v1, end - 512, buf, 512), 0);
	assert_int_equal(luks_decrypt(v2, 512, buf, 4096), -EINVAL);
	assert_int_equal(luks_decrypt(v2, 4096, buf, 512), -EINVAL);
	assert_int_equal(luks_decrypt(v2, 4096, buf, 8192), 0);
	luks_close(v1);
	luks_close(v2);
	luks_close(NULL);
	free(m1.p);
	free(m2.p);
}

static double secs(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* MB/s of 64 x 1 MiB through luks_en/decrypt (best of 5 rounds: the box
 * is shared). */
static double luks_mbps(struct luks_volume *v, uint8_t *buf, size_t len,
			bool enc)
{
	double best = 0;

	for (int r = 0; r < 5; r++) {
		double t0 = secs(), dt;

		for (int k = 0; k < 64; k++)
			assert_int_equal(enc ? luks_encrypt(v, 0, buf, len) :
					 luks_decrypt(v, 0, buf, len), 0);
		dt = secs() - t0;
		if (64 * (double)len / 1e6 / dt > best)
			best = 64 * (double)len / 1e6 / dt;
	}
	return best;
}

/* The peer, as `openssl speed -evp aes-256-xts` measures it: one IV for
 * the whole 1 MiB, no per-sector set-up. */
static double evp_mbps(uint8_t *buf, size_t len)
{
	static const uint8_t key[64] = { 1, 2, 3 }, iv[16];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	double best = 0;
	int outl;

	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_256_xts(), NULL, key, iv), 1);
	for (int r = 0; r < 5; r++) {
		double t0 = secs(), dt;

		for (int k = 0; k < 64; k++) {
			EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv);
			EVP_EncryptUpdate(ctx, buf, &outl, buf, (int)len);
		}
		dt = secs() - t0;
		if (64 * (double)len / 1e6 / dt > best)
			best = 64 * (double)len / 1e6 / dt;
	}
	EVP_CIPHER_CTX_free(ctx);
	return best;
}

/* Not a check: luks_en/decrypt's speed on 1 MiB buffers beside OpenSSL's
 * own bound for the cipher, measured in the same run. */
static void test_speed(void **state)
{
	const char *imgs[] = { "c1-xts512.img", "c1-xts256.img", "c1-essiv.img",
			       "c2-argon2id.img" };
	size_t len = 1 << 20;
	uint8_t *buf = calloc(1, len);
	double peer = evp_mbps(buf, len);

	printf("# EVP aes-256-xts, one IV per 1 MiB (openssl speed's way): %.0f MB/s\n",
	       peer);
	for (size_t i = 0; i < sizeof(imgs) / sizeof(imgs[0]); i++) {
		struct mem m;
		struct luks_volume *v = open_ok(imgs[i], &m);
		double e = luks_mbps(v, buf, len, true), d = luks_mbps(v, buf, len, false);

		printf("# luks %s %u-bit, %u-byte sectors: encrypt %.0f MB/s (%.2f of "
		       "EVP xts-512), decrypt %.0f MB/s\n", luks_cipher(v),
		       luks_key_bits(v), luks_sector_size(v), e, e / peer, d);
		luks_close(v);
		free(m.p);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_luks1_qemu_written),
		cmocka_unit_test(test_luks1_written_reads_in_qemu),
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_corrupt_headers),
		cmocka_unit_test(test_error_line_printable),
		cmocka_unit_test(test_seqid_chooses_copy),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_hostile_values),
		cmocka_unit_test(test_misaligned),
		cmocka_unit_test(test_speed),
	};
	const char *tmp = getenv("TMPDIR");
	int rc;

	if (access("tests/unit/luks_images.sh", R_OK)) {
		fprintf(stderr, "run from the source tree's root (tests/unit/luks_images.sh)\n");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/pvd-test-luks.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	rc = sh("bash tests/unit/luks_images.sh %s", dir);
	if (rc == 0)
		rc = cmocka_run_group_tests(tests, NULL, NULL);
	else if (rc != 77)   /* 77: the script's "SKIP: ..." line is the last */
		fprintf(stderr, "tests/unit/luks_images.sh failed (%d)\n", rc);
	sh("rm -rf %s", dir);
	return rc;
}
