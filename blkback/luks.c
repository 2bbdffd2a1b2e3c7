/* LUKS volumes: luks_open reads the start of the device, hands the
 * header to luks1.c or luks2.c (which unlock a keyslot and check the
 * master key against the header's digest), then keys the sector cipher
 * (luks_crypt.c).  Sector numbering follows dm-crypt as cryptsetup sets
 * it up (crypt_convert_block_skcipher): the IV of the sector at payload
 * byte off is (off / 512 + iv_offset) >> sector_shift, where LUKS2
 * tables carry iv_large_sectors (lib/libdevmapper.c) and LUKS1's sector
 * is always 512 bytes.
 *
 * Keys live in pages of their own, mlock'ed and excluded from core dumps
 * (cryptsetup's crypt_safe_alloc does the same), wiped with
 * OPENSSL_cleanse before they are unmapped. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "luks_priv.h"

/* cryptsetup's default --keyfile-size limit. */
#define LUKS_MAX_PASS (8u << 20)

int luks_fail(const struct luks_open_ctx *o, int rc, const char *fmt, ...)
{
	va_list ap;

	/* The first failure is the cause; later ones are its consequences. */
	if (o->errlen && o->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(o->err, o->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void luks_err_reset(const struct luks_open_ctx *o)
{
	if (o->errlen)
		o->err[0] = '\0';
}

void luks_field_str(char *dst, size_t dstlen, const void *src, size_t srclen)
{
	const unsigned char *s = src;
	size_t i;

	if (!dstlen)
		return;
	for (i = 0; i < srclen && i + 1 < dstlen && s[i]; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	dst[i] = '\0';
}

static size_t page_round(size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (len + pg - 1) / pg * pg;
}

void *luks_secure_alloc(size_t len)
{
	size_t n = page_round(len ? len : 1);
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mlock(p, n)) {
		munmap(p, n);
		return NULL;
	}
	madvise(p, n, MADV_DONTDUMP);
	return p;
}

void luks_secure_free(void *p, size_t len)
{
	size_t n = page_round(len ? len : 1);

	if (!p)
		return;
	OPENSSL_cleanse(p, n);
	munlock(p, n);
	munmap(p, n);
}

int luks_read(const struct luks_open_ctx *o, uint64_t off, void *buf,
	      size_t len, const char *what)
{
	int rc;

	if (off > o->dev_size || len > o->dev_size - off)
		return luks_fail(o, -EINVAL, "truncated LUKS header: %s at %llu+%zu "
				 "beyond the device's %llu bytes", what,
				 (unsigned long long)off, len,
				 (unsigned long long)o->dev_size);
	rc = o->rd(o->arg, off, buf, len);
	if (rc)
		return luks_fail(o, rc < 0 ? rc : -EIO, "cannot read the %s: %s",
				 what, strerror(rc < 0 ? -rc : EIO));
	return 0;
}

static int open_header(const struct luks_open_ctx *o, struct luks_volume *v)
{
	uint8_t hdr[592];
	unsigned version;
	int rc;

	if (o->dev_size < sizeof(hdr))
		return luks_fail(o, -EINVAL, "not a LUKS volume (%llu bytes)",
				 (unsigned long long)o->dev_size);
	if ((rc = luks_read(o, 0, hdr, sizeof(hdr), "LUKS header")))
		return rc;
	if (memcmp(hdr, "LUKS\xba\xbe", 6))
		return luks_fail(o, -EINVAL, "not a LUKS volume");
	version = (unsigned)hdr[6] << 8 | hdr[7];
	if (version == 1)
		return luks1_open(o, hdr, v);
	if (version == 2)
		return luks2_open(o, v);
	return luks_fail(o, -ENOTSUP, "unsupported LUKS version %u", version);
}

int luks_open(luks_read_fn *rd, void *arg, uint64_t dev_size,
	      const void *pass, size_t passlen, struct luks_volume **out,
	      char *err, size_t errlen)
{
	struct luks_open_ctx o = { rd, arg, dev_size, pass, passlen, err, errlen };
	struct luks_volume *v;
	int rc;

	if (errlen)
		err[0] = '\0';
	*out = NULL;
	if (passlen > LUKS_MAX_PASS || (!pass && passlen))
		return luks_fail(&o, -EINVAL, "key of %zu bytes (at most %u)",
				 passlen, LUKS_MAX_PASS);
	if (!(v = calloc(1, sizeof(*v))))
		return luks_fail(&o, -ENOMEM, "out of memory");
	if (!(v->mk = luks_secure_alloc(LUKS_MAX_KEY))) {
		rc = luks_fail(&o, -ENOMEM, "cannot lock memory for the key: %s",
			       strerror(errno));
		goto fail;
	}
	if ((rc = open_header(&o, v)))
		goto fail;
	rc = luks_crypt_create(&v->spec, v->mk, v->sector_size, &v->crypt);
	if (rc) {
		luks_fail(&o, rc, "OpenSSL refused the %s key", v->spec.name);
		goto fail;
	}
	luks_err_reset(&o);    /* a skipped keyslot's line is no failure */
	*out = v;
	return 0;
fail:
	luks_close(v);
	return rc;
}

void luks_close(struct luks_volume *v)
{
	if (!v)
		return;
	luks_crypt_destroy(v->crypt);
	luks_secure_free(v->mk, LUKS_MAX_KEY);
	OPENSSL_cleanse(v, sizeof(*v));
	free(v);
}

int luks_version(const struct luks_volume *v)
{
	return v->version;
}

const char *luks_cipher(const struct luks_volume *v)
{
	return v->spec.name;
}

unsigned luks_key_bits(const struct luks_volume *v)
{
	return v->spec.key_bytes * 8;
}

uint64_t luks_payload_offset(const struct luks_volume *v)
{
	return v->payload_off;
}

uint64_t luks_payload_size(const struct luks_volume *v)
{
	return v->payload_size;
}

unsigned luks_sector_size(const struct luks_volume *v)
{
	return v->sector_size;
}

static int run(struct luks_volume *v, uint64_t off, void *buf, size_t len,
	       bool enc)
{
	if (off % v->sector_size || len % v->sector_size ||
	    off > v->payload_size || len > v->payload_size - off)
		return -EINVAL;
	if (!len)
		return 0;
	return luks_crypt_run(v->crypt,
			      off / LUKS_SECTOR + v->iv_tweak,
			      buf, len, enc);
}

int luks_encrypt(struct luks_volume *v, uint64_t off, void *buf, size_t len)
{
	return run(v, off, buf, len, true);
}

int luks_decrypt(struct luks_volume *v, uint64_t off, void *buf, size_t len)
{
	return run(v, off, buf, len, false);
}
