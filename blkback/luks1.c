/* LUKS1 headers (cryptsetup's "LUKS On-Disk Format Specification" 1.2.3
 * and lib/luks1/keymanage.c, LUKS_read_phdr / LUKS_check_keyslots /
 * LUKS_open_key): the 592-byte phdr with big-endian fields, 8 keyslots
 * each unlocked with PBKDF2 of the header's hash over its salt, the split
 * key at keyMaterialOffset sectors decrypted with the payload's cipher,
 * and the merged key checked with PBKDF2(mk, mkDigestSalt) against the
 * 20-byte mkDigest.  Every field is checked before it is used: offsets
 * inside the device, slots before the payload, counts and costs capped. */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "luks_priv.h"

#define PHDR_CIPHER       8
#define PHDR_MODE         40
#define PHDR_HASH         72
#define PHDR_PAYLOAD      104
#define PHDR_KEYBYTES     108
#define PHDR_MKDIGEST     112
#define PHDR_MKSALT       132
#define PHDR_MKITER       164
#define PHDR_SLOTS        208
#define PHDR_SLOT_SIZE    48
#define PHDR_LEN          592
#define LUKS1_SLOTS       8
#define SLOT_ENABLED      0x00AC71F3u
#define SLOT_DISABLED     0x0000DEADu
#define MKDIGEST_LEN      20
#define SALT_LEN          32

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* A slot's fields checked into s; 1 if it is active, 0 if not. */
static int slot_parse(const struct luks_open_ctx *o, const uint8_t *hdr,
		      int i, const struct luks_volume *v, const EVP_MD *md,
		      struct luks_slot *s)
{
	const uint8_t *k = hdr + PHDR_SLOTS + i * PHDR_SLOT_SIZE;
	uint32_t state = be32(k), stripes = be32(k + 44);
	uint64_t off = (uint64_t)be32(k + 40) * LUKS_SECTOR, len;
	int rc;

	if (state == SLOT_DISABLED)
		return 0;
	if (state != SLOT_ENABLED)
		return luks_fail(o, -EINVAL, "corrupt LUKS1 header: keyslot %d "
				 "state 0x%08x", i, state);
	if (stripes < 1 || stripes > LUKS_MAX_STRIPES)
		return luks_fail(o, -EINVAL, "corrupt LUKS1 header: keyslot %d "
				 "stripes %u outside 1..%u", i, stripes,
				 LUKS_MAX_STRIPES);
	len = ((uint64_t)v->spec.key_bytes * stripes + LUKS_SECTOR - 1) /
	      LUKS_SECTOR * LUKS_SECTOR;
	if (off < 2 * LUKS_SECTOR || off + len > v->payload_off)
		return luks_fail(o, -EINVAL, "corrupt LUKS1 header: keyslot %d "
				 "area %llu+%llu outside the header", i,
				 (unsigned long long)off, (unsigned long long)len);
	*s = (struct luks_slot){ .id = i, .area_spec = v->spec, .area_off = off,
				 .stripes = stripes, .af_md = md };
	s->kdf = (struct luks_kdf){ .type = LUKS_KDF_PBKDF2, .md = md,
				    .iterations = be32(k + 4), .salt_len = SALT_LEN };
	memcpy(s->kdf.salt, k + 8, SALT_LEN);
	if ((rc = luks_kdf_check(o, &s->kdf, i)))
		return rc;
	return 1;
}

static int digest_ok(const uint8_t *hdr, const EVP_MD *md, const uint8_t *mk,
		     unsigned key_bytes)
{
	uint8_t d[MKDIGEST_LEN];
	int ok;

	ok = !luks_pbkdf2(md, mk, key_bytes, hdr + PHDR_MKSALT, SALT_LEN,
			  be32(hdr + PHDR_MKITER), d, sizeof(d)) &&
	     !CRYPTO_memcmp(d, hdr + PHDR_MKDIGEST, sizeof(d));
	OPENSSL_cleanse(d, sizeof(d));
	return ok;
}

/* The header's fixed fields: cipher (refused early if unsupported),
 * hash, payload offset, master-key digest cost. */
static int phdr_parse(const struct luks_open_ctx *o, const uint8_t *hdr,
		      struct luks_volume *v, const EVP_MD **md)
{
	char cipher[33], mode[33], hash[33];
	struct luks_kdf mkd = { .type = LUKS_KDF_PBKDF2 };
	uint32_t key_bytes = be32(hdr + PHDR_KEYBYTES);
	int rc;

	luks_field_str(cipher, sizeof(cipher), hdr + PHDR_CIPHER, 32);
	luks_field_str(mode, sizeof(mode), hdr + PHDR_MODE, 32);
	luks_field_str(hash, sizeof(hash), hdr + PHDR_HASH, 32);
	if (key_bytes > LUKS_MAX_KEY)
		return luks_fail(o, -EINVAL, "corrupt LUKS1 header: key of %u bytes",
				 key_bytes);
	if ((rc = luks_spec_parse(o, cipher, mode, key_bytes, &v->spec)))
		return rc;
	if (!(*md = luks_md(o, hash)))
		return -ENOTSUP;
	v->version = 1;
	v->sector_size = LUKS_SECTOR;
	v->payload_off = (uint64_t)be32(hdr + PHDR_PAYLOAD) * LUKS_SECTOR;
	if (v->payload_off < 2 * LUKS_SECTOR || v->payload_off > o->dev_size)
		return luks_fail(o, -EINVAL, "corrupt LUKS1 header: payload offset "
				 "%llu outside the device's %llu bytes",
				 (unsigned long long)v->payload_off,
				 (unsigned long long)o->dev_size);
	v->payload_size = (o->dev_size - v->payload_off) / LUKS_SECTOR * LUKS_SECTOR;
	mkd.iterations = be32(hdr + PHDR_MKITER);
	return luks_kdf_check(o, &mkd, -1);
}

int luks1_open(const struct luks_open_ctx *o, const uint8_t *hdr,
	       struct luks_volume *v)
{
	struct luks_slot slots[LUKS1_SLOTS];
	bool active[LUKS1_SLOTS];
	const EVP_MD *md = NULL;
	int rc;

	if ((rc = phdr_parse(o, hdr, v, &md)))
		return rc;
	/* The whole header is checked before any slot is tried. */
	for (int i = 0; i < LUKS1_SLOTS; i++) {
		if ((rc = slot_parse(o, hdr, i, v, md, &slots[i])) < 0)
			return rc;
		active[i] = rc;
	}
	for (int i = 0; i < LUKS1_SLOTS; i++) {
		if (!active[i])
			continue;
		if ((rc = luks_slot_unlock(o, &slots[i], v->mk, v->spec.key_bytes)))
			return rc;
		if (digest_ok(hdr, md, v->mk, v->spec.key_bytes))
			return 0;
	}
	OPENSSL_cleanse(v->mk, LUKS_MAX_KEY);
	luks_err_reset(o);
	return luks_fail(o, -EPERM, "no keyslot opens with this key");
}
