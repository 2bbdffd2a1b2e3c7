/* A LUKS keyslot unlocked: the passphrase through the slot's KDF (PBKDF2
 * through OpenSSL, argon2i/argon2id through libargon2, as cryptsetup's
 * lib/crypto_backend does), the slot's area read and decrypted with the
 * derived key (512-byte sectors, IVs from 0: cryptsetup's
 * LUKS_decrypt_from_storage and luks2_keyslot_get_key), then the
 * anti-forensic split merged (cryptsetup's lib/luks1/af.c AF_merge: XOR
 * each stripe into a buffer, diffusing the buffer with the hash between
 * stripes).  Every buffer holding a key or key material is locked memory
 * wiped on free. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "luks_priv.h"

/* Refuses the costs a hostile header could make absurd (see the limits
 * in luks_priv.h) before any work is done. */
int luks_kdf_check(const struct luks_open_ctx *o, const struct luks_kdf *k,
		   int slot)
{
	char who[24];

	if (slot < 0)
		snprintf(who, sizeof(who), "master key digest");
	else
		snprintf(who, sizeof(who), "keyslot %d", slot);
	if (k->type == LUKS_KDF_PBKDF2) {
		if (k->iterations < 1 || k->iterations > LUKS_MAX_PBKDF2_ITER)
			return luks_fail(o, -EINVAL, "%s: PBKDF2 iterations %u "
					 "outside 1..%u", who, k->iterations,
					 LUKS_MAX_PBKDF2_ITER);
		return 0;
	}
	if (k->iterations < 1 || k->cpus < 1 || k->cpus > LUKS_MAX_ARGON_CPUS ||
	    k->memory_kb < 8 * k->cpus || k->memory_kb > LUKS_MAX_ARGON_MEM_KB ||
	    (uint64_t)k->iterations * k->memory_kb > LUKS_MAX_ARGON_WORK)
		return luks_fail(o, -EINVAL,
				 "%s: argon2 cost time=%u memory=%u KiB cpus=%u refused "
				 "(limits: memory %u KiB, cpus %u, time x memory %llu)",
				 who, k->iterations, k->memory_kb, k->cpus,
				 LUKS_MAX_ARGON_MEM_KB, LUKS_MAX_ARGON_CPUS,
				 (unsigned long long)LUKS_MAX_ARGON_WORK);
	if (k->salt_len < ARGON2_MIN_SALT_LENGTH)
		return luks_fail(o, -EINVAL, "%s: argon2 salt of %zu bytes", who,
				 k->salt_len);
	return 0;
}

static int derive(const struct luks_open_ctx *o, const struct luks_kdf *k,
		  int slot, uint8_t *out, size_t outlen)
{
	int rc;

	if (k->type == LUKS_KDF_PBKDF2) {
		rc = luks_pbkdf2(k->md, o->pass, o->passlen, k->salt, k->salt_len,
				 k->iterations, out, outlen);
		return rc ? luks_fail(o, rc, "keyslot %d: PBKDF2 failed", slot) : 0;
	}
	rc = argon2_hash(k->iterations, k->memory_kb, k->cpus, o->pass,
			 o->passlen, k->salt, k->salt_len, out, outlen, NULL, 0,
			 k->type == LUKS_KDF_ARGON2I ? Argon2_i : Argon2_id,
			 ARGON2_VERSION_13);
	if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
		return luks_fail(o, -ENOMEM, "keyslot %d: argon2 could not allocate %u KiB",
				 slot, k->memory_kb);
	if (rc != ARGON2_OK)
		return luks_fail(o, -EINVAL, "keyslot %d: argon2: %s", slot,
				 argon2_error_message(rc));
	return 0;
}

/* One diffusion step: each digest-sized block of buf replaced by
 * hash(be32(block index) || block), the last block truncated. */
static int diffuse(const EVP_MD *md, uint8_t *buf, size_t len)
{
	size_t ds = (size_t)EVP_MD_get_size(md);
	uint8_t out[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -EIO;

	if (!ctx)
		return -ENOMEM;
	for (uint32_t i = 0; (size_t)i * ds < len; i++) {
		size_t n = len - i * ds < ds ? len - i * ds : ds;
		uint8_t be[4] = { i >> 24, i >> 16, i >> 8, i };

		if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
		    EVP_DigestUpdate(ctx, be, 4) != 1 ||
		    EVP_DigestUpdate(ctx, buf + i * ds, n) != 1 ||
		    EVP_DigestFinal_ex(ctx, out, NULL) != 1)
			goto fail;
		memcpy(buf + i * ds, out, n);
	}
	rc = 0;
fail:
	OPENSSL_cleanse(out, sizeof(out));
	EVP_MD_CTX_free(ctx);
	return rc;
}

int luks_af_merge(const EVP_MD *md, const uint8_t *src, unsigned key_bytes,
		  unsigned stripes, uint8_t *dst)
{
	int rc = 0;

	memset(dst, 0, key_bytes);
	for (unsigned s = 0; s < stripes; s++) {
		for (unsigned i = 0; i < key_bytes; i++)
			dst[i] ^= src[(size_t)s * key_bytes + i];
		if (s + 1 < stripes && (rc = diffuse(md, dst, key_bytes)))
			break;
	}
	return rc;
}

int luks_slot_unlock(const struct luks_open_ctx *o, const struct luks_slot *s,
		     uint8_t *mk, unsigned mk_bytes)
{
	size_t af_len = (size_t)mk_bytes * s->stripes;
	size_t area_len = (af_len + LUKS_SECTOR - 1) / LUKS_SECTOR * LUKS_SECTOR;
	uint8_t *dk = luks_secure_alloc(LUKS_MAX_KEY);
	uint8_t *af = luks_secure_alloc(area_len);
	struct luks_crypt *c = NULL;
	int rc = -ENOMEM;

	if (!dk || !af) {
		luks_fail(o, rc, "cannot lock %zu bytes of memory for keyslot %d",
			  area_len, s->id);
		goto fail;
	}
	if (s->area_off > o->dev_size || area_len > o->dev_size - s->area_off) {
		rc = luks_fail(o, -EINVAL, "corrupt LUKS header: keyslot %d's area "
			       "beyond the device", s->id);
		goto fail;
	}
	if ((rc = derive(o, &s->kdf, s->id, dk, s->area_spec.key_bytes)) ||
	    (rc = luks_read(o, s->area_off, af, area_len, "keyslot area")))
		goto fail;
	rc = luks_crypt_create(&s->area_spec, dk, LUKS_SECTOR, &c);
	if (!rc)
		rc = luks_crypt_run(c, 0, af, area_len, false);
	if (!rc)
		rc = luks_af_merge(s->af_md, af, mk_bytes, s->stripes, mk);
	if (rc)
		luks_fail(o, rc, "keyslot %d: decryption failed in OpenSSL", s->id);
fail:
	luks_crypt_destroy(c);
	luks_secure_free(dk, LUKS_MAX_KEY);
	luks_secure_free(af, area_len);
	return rc;
}
