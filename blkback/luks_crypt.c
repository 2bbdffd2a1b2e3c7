/* Cipher specs and sector en/decryption for LUKS, through OpenSSL's EVP
 * interface (AES-NI where the CPU has it: OpenSSL picks it).
 *
 * The IVs are dm-crypt's (drivers/md/dm-crypt.c): plain64 is the sector
 * number as a little-endian 64-bit integer in a zeroed 16-byte IV, plain
 * the same truncated to 32 bits, essiv the plain64 IV encrypted with
 * AES-ECB under sha256(master key) (crypt_iv_essiv_gen).  The sector
 * number is computed by the caller (LUKS2's iv_large_sectors shift,
 * iv_tweak).
 *
 * Speed: one EVP_CIPHER_CTX per direction per volume, keyed once at
 * create; per sector only the IV is set (EVP_CipherInit_ex2 with a NULL
 * cipher and key keeps the key schedule), then one EVP_CipherUpdate.
 * That set-up is OpenSSL 3's per-call cost (parameter lookups, ~0.3 us):
 * with 512-byte sectors it, not AES, bounds the rate; 4 KiB sectors
 * amortise it eight times. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "luks_priv.h"

struct luks_crypt {
	EVP_CIPHER_CTX *enc, *dec, *essiv;
	enum luks_iv iv;
	unsigned sector_size;
};

struct mode_name {
	const char *name;
	enum luks_mode mode;
	enum luks_iv iv;
};

static const struct mode_name modes[] = {
	{ "xts-plain64", LUKS_XTS, LUKS_IV_PLAIN64 },
	{ "xts-plain", LUKS_XTS, LUKS_IV_PLAIN },
	{ "cbc-essiv:sha256", LUKS_CBC, LUKS_IV_ESSIV },
	{ "cbc-plain64", LUKS_CBC, LUKS_IV_PLAIN64 },
	{ "cbc-plain", LUKS_CBC, LUKS_IV_PLAIN },
};

int luks_spec_parse(const struct luks_open_ctx *o, const char *cipher,
		    const char *mode, unsigned key_bytes, struct luks_spec *s)
{
	const struct mode_name *m = NULL;
	bool size_ok;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(mode, modes[i].name))
			m = &modes[i];
	if (strcmp(cipher, "aes") || !m)
		return luks_fail(o, -ENOTSUP, "unsupported cipher %.32s-%.40s",
				 cipher, mode);
	if (m->mode == LUKS_XTS)
		size_ok = key_bytes == 32 || key_bytes == 64;
	else
		size_ok = key_bytes == 16 || key_bytes == 24 || key_bytes == 32;
	if (!size_ok)
		return luks_fail(o, -ENOTSUP,
				 "unsupported key size %u bits for aes-%s",
				 key_bytes * 8, m->name);
	s->mode = m->mode;
	s->iv = m->iv;
	s->key_bytes = key_bytes;
	snprintf(s->name, sizeof(s->name), "aes-%s", m->name);
	return 0;
}

static const EVP_CIPHER *spec_evp(const struct luks_spec *s)
{
	if (s->mode == LUKS_XTS)
		return s->key_bytes == 32 ? EVP_aes_128_xts() : EVP_aes_256_xts();
	switch (s->key_bytes) {
	case 16: return EVP_aes_128_cbc();
	case 24: return EVP_aes_192_cbc();
	default: return EVP_aes_256_cbc();
	}
}

static EVP_CIPHER_CTX *ctx_new(const EVP_CIPHER *c, const uint8_t *key,
			       int enc)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx)
		return NULL;
	if (EVP_CipherInit_ex(ctx, c, NULL, key, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ESSIV's key: sha256 of the master key (dm-crypt's essiv:sha256). */
static EVP_CIPHER_CTX *essiv_new(const struct luks_spec *s, const uint8_t *key)
{
	uint8_t salt[32];
	unsigned len = 0;
	EVP_CIPHER_CTX *ctx = NULL;

	if (EVP_Digest(key, s->key_bytes, salt, &len, EVP_sha256(), NULL) == 1 &&
	    len == sizeof(salt))
		ctx = ctx_new(EVP_aes_256_ecb(), salt, 1);
	OPENSSL_cleanse(salt, sizeof(salt));
	return ctx;
}

int luks_crypt_create(const struct luks_spec *s, const uint8_t *key,
		      unsigned sector_size, struct luks_crypt **out)
{
	struct luks_crypt *c = calloc(1, sizeof(*c));
	const EVP_CIPHER *evp = spec_evp(s);

	if (!c)
		return -ENOMEM;
	c->iv = s->iv;
	c->sector_size = sector_size;
	c->enc = ctx_new(evp, key, 1);
	c->dec = ctx_new(evp, key, 0);
	if (!c->enc || !c->dec)
		goto fail;
	if (s->iv == LUKS_IV_ESSIV && !(c->essiv = essiv_new(s, key)))
		goto fail;
	*out = c;
	return 0;
fail:
	luks_crypt_destroy(c);
	return -EIO;
}

void luks_crypt_destroy(struct luks_crypt *c)
{
	if (!c)
		return;
	/* EVP_CIPHER_CTX_free cleanses the key schedule. */
	EVP_CIPHER_CTX_free(c->enc);
	EVP_CIPHER_CTX_free(c->dec);
	EVP_CIPHER_CTX_free(c->essiv);
	free(c);
}

#define IV_BATCH 64

/* The IVs of n sectors from iv on; for essiv, encrypted in one ECB call
 * (one EVP call per batch instead of one per sector). */
static int make_ivs(struct luks_crypt *c, uint64_t iv, size_t n,
		    uint8_t ivs[IV_BATCH][16])
{
	int outl = 0;

	memset(ivs, 0, n * 16);
	/* dm-crypt counts IVs in 512-byte units whatever the sector size
	 * (cryptsetup sets iv_large_sectors for plain and BITLK mappings
	 * only, never for LUKS2). */
	for (size_t k = 0; k < n; k++, iv += c->sector_size / 512) {
		uint64_t sector = c->iv == LUKS_IV_PLAIN ? iv & 0xffffffffu : iv;

		for (int i = 0; i < 8; i++)
			ivs[k][i] = (uint8_t)(sector >> (8 * i));
	}
	if (c->iv != LUKS_IV_ESSIV)
		return 0;
	if (EVP_EncryptUpdate(c->essiv, ivs[0], &outl, ivs[0], (int)n * 16) != 1 ||
	    outl != (int)n * 16)
		return -EIO;
	return 0;
}

int luks_crypt_run(struct luks_crypt *c, uint64_t iv, uint8_t *buf,
		   size_t len, bool enc)
{
	EVP_CIPHER_CTX *ctx = enc ? c->enc : c->dec;
	size_t ss = c->sector_size, n;
	uint8_t ivs[IV_BATCH][16];
	int outl;

	if (len % ss)
		return -EINVAL;
	for (size_t off = 0; off < len; off += n * ss, iv += n * (ss / 512)) {
		n = (len - off) / ss < IV_BATCH ? (len - off) / ss : IV_BATCH;
		if (make_ivs(c, iv, n, ivs))
			return -EIO;
		for (size_t k = 0; k < n; k++) {
			uint8_t *p = buf + off + k * ss;

			if (EVP_CipherInit_ex2(ctx, NULL, NULL, ivs[k], -1, NULL) != 1 ||
			    EVP_CipherUpdate(ctx, p, &outl, p, (int)ss) != 1 ||
			    outl != (int)ss)
				return -EIO;
		}
	}
	return 0;
}

/* The hashes a header may name (PBKDF2, AF, digests): OpenSSL's default
 * provider has them all. */
const struct evp_md_st *luks_md(const struct luks_open_ctx *o,
				const char *name)
{
	static const char *const ok[] = {
		"sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160",
	};
	char shown[40];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(name, ok[i]))
			return EVP_get_digestbyname(name);
	luks_field_str(shown, sizeof(shown), name, strlen(name));
	luks_fail(o, -ENOTSUP, "unsupported hash %s", shown);
	return NULL;
}

int luks_pbkdf2(const struct evp_md_st *md, const void *pass, size_t passlen,
		const uint8_t *salt, size_t saltlen, uint32_t iter,
		uint8_t *out, size_t outlen)
{
	if (passlen > INT32_MAX || iter < 1 || iter > INT32_MAX)
		return -EINVAL;
	if (PKCS5_PBKDF2_HMAC(pass, (int)passlen, salt, (int)saltlen, (int)iter,
			      md, (int)outlen, out) != 1)
		return -EIO;
	return 0;
}
