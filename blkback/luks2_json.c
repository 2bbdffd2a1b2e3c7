/* The LUKS2 JSON metadata (cryptsetup's LUKS2 format spec, and
 * lib/luks2/luks2_json_metadata.c, luks2_keyslot_luks2.c,
 * luks2_digest_pbkdf2.c for what each object holds): the one crypt
 * segment (offset, size or "dynamic", iv_tweak, encryption, sector_size),
 * the pbkdf2 digest assigned to it, and the keyslots the digest names
 * (type luks2: kdf pbkdf2/argon2i/argon2id, af luks1, area raw), tried by
 * priority (high, then normal; "ignore" never), each merged key checked
 * against the digest.  Every member is checked for its JSON type and
 * range; numbers that may exceed 2^53 are decimal strings, as cryptsetup
 * writes them.  Anything this module does not do (integrity, several
 * segments as during reencryption, mandatory requirements) is -ENOTSUP,
 * never a guess. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "luks_priv.h"
#include "pvd/num.h"

#define MAX_SLOTS 32

/* Where in the JSON a check is: for the one error line. */
struct jctx {
	const struct luks_open_ctx *o;
	char where[32];
};

static int corrupt(const struct jctx *j, const char *key, const char *what)
{
	return luks_fail(j->o, -EINVAL, "corrupt LUKS2 header: %s: %s %s",
			 j->where, key, what);
}

static int jobj(const struct jctx *j, const json_t *obj, const char *key,
		json_t **out)
{
	*out = json_object_get(obj, key);
	return json_is_object(*out) ? 0 : corrupt(j, key, "not an object");
}

/* A string member of at most max bytes, without NULs. */
static int jstrn(const struct jctx *j, const json_t *obj, const char *key,
		 size_t max, const char **out)
{
	const json_t *s = json_object_get(obj, key);

	if (!json_is_string(s) || json_string_length(s) > max ||
	    strlen(json_string_value(s)) != json_string_length(s))
		return corrupt(j, key, "not a short string");
	*out = json_string_value(s);
	return 0;
}

static int jstr(const struct jctx *j, const json_t *obj, const char *key,
		const char **out)
{
	return jstrn(j, obj, key, 64, out);
}

static int jint(const struct jctx *j, const json_t *obj, const char *key,
		uint64_t lo, uint64_t hi, uint64_t *out)
{
	const json_t *n = json_object_get(obj, key);

	if (!json_is_integer(n) || json_integer_value(n) < 0 ||
	    (uint64_t)json_integer_value(n) < lo ||
	    (uint64_t)json_integer_value(n) > hi)
		return corrupt(j, key, "not an integer in range");
	*out = (uint64_t)json_integer_value(n);
	return 0;
}

/* A uint64 as cryptsetup stores it: a string of decimal digits. */
static int jnum(const struct jctx *j, const json_t *obj, const char *key,
		uint64_t *out)
{
	const char *s;

	if (jstr(j, obj, key, &s) || pvd_parse_uint(s, UINT64_MAX, out))
		return corrupt(j, key, "not a decimal string");
	return 0;
}

static int jb64(const struct jctx *j, const json_t *obj, const char *key,
		uint8_t *out, size_t max, size_t *len)
{
	uint8_t tmp[LUKS_MAX_SALT + 3];
	const char *s;
	size_t n;
	int dec;

	if (jstrn(j, obj, key, 4 * sizeof(tmp) / 3, &s))
		return -EINVAL;
	n = strlen(s);
	if (!n || n % 4 || n / 4 * 3 > sizeof(tmp))
		return corrupt(j, key, "not base64 of a short value");
	dec = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (dec < 0)
		return corrupt(j, key, "not base64");
	dec -= (s[n - 1] == '=') + (s[n - 2] == '=');
	if (dec <= 0 || (size_t)dec > max)
		return corrupt(j, key, "of a bad length");
	memcpy(out, tmp, (size_t)dec);
	*len = (size_t)dec;
	return 0;
}

/* A member that names a hash: -EINVAL if malformed, -ENOTSUP unknown. */
static int jmd(const struct jctx *j, const json_t *obj, const char *key,
	       const EVP_MD **md)
{
	const char *s;

	if (jstr(j, obj, key, &s))
		return -EINVAL;
	return (*md = luks_md(j->o, s)) ? 0 : -ENOTSUP;
}

static int cipher_parse(const struct jctx *j, const char *enc,
			unsigned key_bytes, struct luks_spec *spec)
{
	char c[65], *dash;

	luks_field_str(c, sizeof(c), enc, strlen(enc));
	if (!(dash = strchr(c, '-')))
		return luks_fail(j->o, -ENOTSUP, "unsupported cipher %s", c);
	*dash = '\0';
	return luks_spec_parse(j->o, c, dash + 1, key_bytes, spec);
}

/* config: mandatory requirements (reencryption, ...) are refused. */
static int config_check(struct jctx *j, const json_t *root, uint64_t hdr_size)
{
	json_t *cfg, *req, *mand;
	const json_t *r0;
	uint64_t json_size;
	char name[41];

	snprintf(j->where, sizeof(j->where), "config");
	if (jobj(j, root, "config", &cfg) || jnum(j, cfg, "json_size", &json_size))
		return -EINVAL;
	if (json_size != hdr_size - 4096)
		return corrupt(j, "json_size", "does not match the header size");
	req = json_object_get(cfg, "requirements");
	mand = req ? json_object_get(req, "mandatory") : NULL;
	if (req && (!json_is_object(req) || (mand && !json_is_array(mand))))
		return corrupt(j, "requirements", "malformed");
	if (!json_array_size(mand))
		return 0;
	r0 = json_array_get(mand, 0);
	if (!json_is_string(r0))
		return corrupt(j, "requirements", "malformed");
	luks_field_str(name, sizeof(name), json_string_value(r0),
		       strlen(json_string_value(r0)));
	return luks_fail(j->o, -ENOTSUP, "LUKS2 requirement %s not supported", name);
}

/* The one crypt segment: its id (for the digest), sector layout and
 * payload range; the cipher is parsed once the key size is known. */
static int segment_parse(struct jctx *j, const json_t *root, uint64_t hdr_size,
			 struct luks_volume *v, const char **id, const char **enc)
{
	json_t *segs, *seg;
	const char *type, *size;
	uint64_t ss, off, len;

	snprintf(j->where, sizeof(j->where), "segments");
	if (jobj(j, root, "segments", &segs))
		return -EINVAL;
	if (json_object_size(segs) != 1)
		return luks_fail(j->o, -ENOTSUP, "LUKS2 with %zu segments not "
				 "supported (reencryption?)", json_object_size(segs));
	*id = json_object_iter_key(json_object_iter(segs));
	snprintf(j->where, sizeof(j->where), "segment");
	if (jobj(j, segs, *id, &seg) || jstr(j, seg, "type", &type) ||
	    jnum(j, seg, "offset", &off) || jstr(j, seg, "size", &size) ||
	    jnum(j, seg, "iv_tweak", &v->iv_tweak) ||
	    jstr(j, seg, "encryption", enc) ||
	    jint(j, seg, "sector_size", 512, 4096, &ss))
		return -EINVAL;
	if (strcmp(type, "crypt") || json_object_get(seg, "integrity") ||
	    json_array_size(json_object_get(seg, "flags")))
		return luks_fail(j->o, -ENOTSUP, "LUKS2 segment not plain crypt "
				 "(integrity, flags) not supported");
	if (ss & (ss - 1))
		return corrupt(j, "sector_size", "not a power of two");
	if (off % ss || off < 2 * hdr_size || off > j->o->dev_size)
		return corrupt(j, "offset", "outside the device or misaligned");
	if (v->iv_tweak > UINT64_MAX / 2)
		return corrupt(j, "iv_tweak", "too large");
	v->sector_size = (unsigned)ss;
	v->payload_off = off;
	len = (j->o->dev_size - off) / ss * ss;
	if (strcmp(size, "dynamic")) {
		if (jnum(j, seg, "size", &len))
			return -EINVAL;
		if (len % ss || len > j->o->dev_size - off)
			return corrupt(j, "size", "beyond the device or misaligned");
	}
	v->payload_size = len;
	return 0;
}

static bool array_has(const json_t *arr, const char *s)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
		if (json_is_string(e) && !strcmp(json_string_value(e), s))
			return true;
	return false;
}

/* The pbkdf2 digest assigned to the segment, checked. */
struct digest {
	const EVP_MD *md;
	uint64_t iterations;
	uint8_t salt[LUKS_MAX_SALT], value[LUKS_MAX_DIGEST];
	size_t salt_len, len;
	const json_t *keyslots;
};

static int digest_parse(struct jctx *j, const json_t *root, const char *seg,
			struct digest *d)
{
	json_t *digests, *dg = NULL, *e;
	const char *key, *type;
	int rc;

	snprintf(j->where, sizeof(j->where), "digests");
	if (jobj(j, root, "digests", &digests))
		return -EINVAL;
	json_object_foreach(digests, key, e)
		if (json_is_object(e) && array_has(json_object_get(e, "segments"), seg))
			dg = e;
	if (!dg)
		return corrupt(j, "segment", "has no digest");
	snprintf(j->where, sizeof(j->where), "digest");
	if (jstr(j, dg, "type", &type))
		return -EINVAL;
	if (strcmp(type, "pbkdf2"))
		return luks_fail(j->o, -ENOTSUP, "LUKS2 digest type not supported");
	if ((rc = jmd(j, dg, "hash", &d->md)))
		return rc;
	d->keyslots = json_object_get(dg, "keyslots");
	if (jint(j, dg, "iterations", 1, LUKS_MAX_PBKDF2_ITER, &d->iterations) ||
	    jb64(j, dg, "salt", d->salt, sizeof(d->salt), &d->salt_len) ||
	    jb64(j, dg, "digest", d->value, (size_t)EVP_MD_get_size(d->md), &d->len))
		return -EINVAL;
	if (!json_is_array(d->keyslots))
		return corrupt(j, "keyslots", "not an array");
	return 0;
}

static bool digest_ok(const struct digest *d, const uint8_t *mk, unsigned len)
{
	uint8_t out[LUKS_MAX_DIGEST];
	bool ok;

	ok = !luks_pbkdf2(d->md, mk, len, d->salt, d->salt_len,
			  (uint32_t)d->iterations, out, d->len) &&
	     !CRYPTO_memcmp(out, d->value, d->len);
	OPENSSL_cleanse(out, sizeof(out));
	return ok;
}

struct kslot {
	struct luks_slot s;
	uint64_t prio, key_size;
};

static int kdf_parse(struct jctx *j, const json_t *ks, int id,
		     struct luks_kdf *k)
{
	json_t *kdf;
	const char *type;
	uint64_t t = 0, m = 0, c = 0;
	int rc;

	if (jobj(j, ks, "kdf", &kdf) || jstr(j, kdf, "type", &type))
		return -EINVAL;
	if (!strcmp(type, "pbkdf2")) {
		k->type = LUKS_KDF_PBKDF2;
		if ((rc = jmd(j, kdf, "hash", &k->md)) ||
		    (rc = jint(j, kdf, "iterations", 0, UINT32_MAX, &t)))
			return rc;
	} else if (!strcmp(type, "argon2i") || !strcmp(type, "argon2id")) {
		k->type = strcmp(type, "argon2i") ? LUKS_KDF_ARGON2ID : LUKS_KDF_ARGON2I;
		if (jint(j, kdf, "time", 0, UINT32_MAX, &t) ||
		    jint(j, kdf, "memory", 0, UINT32_MAX, &m) ||
		    jint(j, kdf, "cpus", 0, UINT32_MAX, &c))
			return -EINVAL;
	} else {
		return luks_fail(j->o, -ENOTSUP, "keyslot %d: KDF not supported", id);
	}
	k->iterations = (uint32_t)t;
	k->memory_kb = (uint32_t)m;
	k->cpus = (uint32_t)c;
	if (jb64(j, kdf, "salt", k->salt, sizeof(k->salt), &k->salt_len))
		return -EINVAL;
	return luks_kdf_check(j->o, k, id);
}

static int area_parse(struct jctx *j, const json_t *ks, uint64_t hdr_size,
		      struct kslot *k)
{
	json_t *af, *area;
	const char *type, *enc;
	uint64_t stripes, off, size, key;
	int rc;

	if (jobj(j, ks, "af", &af) || jstr(j, af, "type", &type) ||
	    jint(j, af, "stripes", 1, LUKS_MAX_STRIPES, &stripes))
		return -EINVAL;
	if (strcmp(type, "luks1"))
		return luks_fail(j->o, -ENOTSUP, "keyslot %d: AF not supported", k->s.id);
	if ((rc = jmd(j, af, "hash", &k->s.af_md)))
		return rc;
	if (jobj(j, ks, "area", &area) || jstr(j, area, "type", &type) ||
	    jnum(j, area, "offset", &off) || jnum(j, area, "size", &size) ||
	    jstr(j, area, "encryption", &enc) ||
	    jint(j, area, "key_size", 1, LUKS_MAX_KEY, &key))
		return -EINVAL;
	if (strcmp(type, "raw"))
		return luks_fail(j->o, -ENOTSUP, "keyslot %d: area not supported", k->s.id);
	if (off % LUKS_SECTOR || off < 2 * hdr_size || off > j->o->dev_size ||
	    size > j->o->dev_size - off ||
	    size < (k->key_size * stripes + LUKS_SECTOR - 1) / LUKS_SECTOR * LUKS_SECTOR)
		return corrupt(j, "area", "outside the device or too small");
	k->s.stripes = (uint32_t)stripes;
	k->s.area_off = off;
	return cipher_parse(j, enc, (unsigned)key, &k->s.area_spec);
}

static int slot_parse(struct jctx *j, const json_t *keyslots, const char *id,
		      uint64_t hdr_size, struct kslot *k)
{
	json_t *ks;
	const char *type;
	uint64_t n;
	int rc;

	snprintf(j->where, sizeof(j->where), "keyslot");
	if (pvd_parse_uint(id, MAX_SLOTS - 1, &n))
		return corrupt(j, "id", "not a number below 32");
	snprintf(j->where, sizeof(j->where), "keyslot %d", (int)n);
	k->s.id = (int)n;
	k->prio = 1;
	if (jobj(j, keyslots, id, &ks) || jstr(j, ks, "type", &type) ||
	    jint(j, ks, "key_size", 1, LUKS_MAX_KEY, &k->key_size))
		return -EINVAL;
	if (json_object_get(ks, "priority") &&
	    jint(j, ks, "priority", 0, 2, &k->prio))
		return -EINVAL;
	if (strcmp(type, "luks2"))
		return luks_fail(j->o, -ENOTSUP, "keyslot %d: type not supported",
				 k->s.id);
	if ((rc = area_parse(j, ks, hdr_size, k)))
		return rc;
	return kdf_parse(j, ks, k->s.id, &k->s.kdf);
}

/* Every keyslot the digest names: a corrupt one fails the open; one this
 * module cannot use (-ENOTSUP: its line kept) is left out. */
static int slots_parse(struct jctx *j, const json_t *root,
		       const struct digest *d, uint64_t hdr_size,
		       struct kslot *ks, bool *usable, size_t *n, unsigned *vk)
{
	json_t *keyslots, *e;
	size_t i;
	int rc;

	snprintf(j->where, sizeof(j->where), "keyslots");
	if (jobj(j, root, "keyslots", &keyslots))
		return -EINVAL;
	if (json_array_size(d->keyslots) > MAX_SLOTS)
		return corrupt(j, "digest", "names more than 32 keyslots");
	json_array_foreach(d->keyslots, i, e) {
		if (!json_is_string(e))
			return corrupt(j, "digest", "keyslot not a string");
		memset(&ks[i], 0, sizeof(ks[i]));
		rc = slot_parse(j, keyslots, json_string_value(e), hdr_size, &ks[i]);
		if (rc && rc != -ENOTSUP)
			return rc;
		usable[i] = !rc;
		if (!rc && !*vk)
			*vk = (unsigned)ks[i].key_size;
		else if (!rc && ks[i].key_size != *vk)
			return corrupt(j, "key_size", "differs between keyslots");
	}
	*n = json_array_size(d->keyslots);
	return 0;
}

/* Priority high (2) first, then normal (1); ignore (0) never, as
 * cryptsetup's keyslot_open_by_digest without a named slot. */
static int slots_try(const struct luks_open_ctx *o, const struct kslot *ks,
		     const bool *usable, size_t n, const struct digest *d,
		     struct luks_volume *v)
{
	unsigned vk = v->spec.key_bytes;
	bool tried = false;
	int rc;

	for (uint64_t prio = 2; prio >= 1; prio--) {
		for (size_t i = 0; i < n; i++) {
			if (!usable[i] || ks[i].prio != prio)
				continue;
			tried = true;
			if ((rc = luks_slot_unlock(o, &ks[i].s, v->mk, vk)))
				return rc;
			if (digest_ok(d, v->mk, vk))
				return 0;
		}
	}
	OPENSSL_cleanse(v->mk, LUKS_MAX_KEY);
	if (!tried && o->errlen && o->err[0])
		return -ENOTSUP;
	luks_err_reset(o);
	return luks_fail(o, -EPERM, "no keyslot opens with this key");
}

int luks2_json_open(const struct luks_open_ctx *o, json_t *root,
		    uint64_t hdr_size, struct luks_volume *v)
{
	struct jctx j = { .o = o };
	struct kslot ks[MAX_SLOTS];
	bool usable[MAX_SLOTS];
	struct digest d;
	const char *seg = NULL, *enc = NULL;
	size_t n = 0;
	unsigned vk = 0;
	int rc;

	if ((rc = config_check(&j, root, hdr_size)) ||
	    (rc = segment_parse(&j, root, hdr_size, v, &seg, &enc)) ||
	    (rc = digest_parse(&j, root, seg, &d)) ||
	    (rc = slots_parse(&j, root, &d, hdr_size, ks, usable, &n, &vk)))
		return rc;
	if (!vk && o->errlen && o->err[0])
		return -ENOTSUP;
	if (!vk)
		return luks_fail(o, -EPERM, "no keyslot opens with this key "
				 "(the header has none)");
	if ((rc = cipher_parse(&j, enc, vk, &v->spec)))
		return rc;
	return slots_try(o, ks, usable, n, &d, v);
}
