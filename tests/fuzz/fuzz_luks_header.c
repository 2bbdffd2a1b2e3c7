/* libFuzzer target: luks_open (blkback/luks*.c, built from the blkback
 * sources: fuzz_luks_header.srcs) on a hostile device.  The input's first
 * byte is a mode, the rest is the device, served by the read callback:
 * with mode bit 0 set, the LUKS2 checksums of both header copies are
 * recomputed first, so that mutations reach the JSON parser instead of
 * stopping at the checksum.  Whatever the bytes, luks_open returns 0 or
 * -errno with one line, and frees what it took (LeakSanitizer).
 *
 * The KDFs are replaced here (PKCS5_PBKDF2_HMAC and argon2_hash defined
 * in this program take precedence over the shared libraries'): a header
 * may legitimately ask for 2^25 iterations or 4 GiB of argon2 memory,
 * which would be a per-input timeout or RSS failure for the fuzzer, not a
 * bug.  The caps themselves are checked by test_luks. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "luks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int PKCS5_PBKDF2_HMAC(const char *pass, int passlen, const unsigned char *salt,
		      int saltlen, int iter, const EVP_MD *md, int keylen,
		      unsigned char *out)
{
	for (int i = 0; i < keylen; i++)
		out[i] = (uint8_t)(i + (saltlen ? salt[i % saltlen] : 0) + iter);
	return 1;
}

int argon2_hash(const uint32_t t_cost, const uint32_t m_cost,
		const uint32_t parallelism, const void *pwd, const size_t pwdlen,
		const void *salt, const size_t saltlen, void *hash,
		const size_t hashlen, char *encoded, const size_t encodedlen,
		int type, int version)
{
	/* Distinct bytes: OpenSSL refuses an XTS key with equal halves. */
	for (size_t i = 0; i < hashlen; i++)
		((uint8_t *)hash)[i] = (uint8_t)(i + t_cost + m_cost);
	return 0;
}

#define VIRT_SIZE (8u << 20)

struct dev {
	const uint8_t *p;
	size_t len, size;      /* bytes of input, bytes of device */
};

static int dev_read(void *arg, uint64_t off, void *buf, size_t len)
{
	struct dev *d = arg;
	size_t n;

	if (off > d->size || len > d->size - off)
		return -EIO;
	n = off < d->len ? d->len - off : 0;
	n = n < len ? n : len;
	memcpy(buf, d->p + off, n);
	memset((uint8_t *)buf + n, 0, len - n);
	return 0;
}

static void fix_csum(uint8_t *p, size_t len, uint64_t at)
{
	uint64_t size = 0;
	unsigned out;

	if (at > len || len - at < 4096)
		return;
	for (int i = 8; i < 16; i++)
		size = size << 8 | p[at + i];
	if (size < 4096 || size > len - at)
		return;
	memset(p + at + 448, 0, 64);
	EVP_Digest(p + at, size, p + at + 448, &out, EVP_sha256(), NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct luks_volume *v = NULL;
	struct dev d;
	uint8_t *copy, buf[4096];
	char err[256];
	int rc;

	if (size < 1)
		return 0;
	if (!(copy = malloc(size - 1 ? size - 1 : 1)))
		return 0;
	memcpy(copy, data + 1, size - 1);
	d = (struct dev){ copy, size - 1, size - 1 };
	if (!(data[0] & 2) && d.size < VIRT_SIZE)
		d.size = VIRT_SIZE;
	if (data[0] & 1) {
		fix_csum(copy, d.len, 0);
		if (d.len >= 16) {
			uint64_t h = 0;

			for (int i = 8; i < 16; i++)
				h = h << 8 | copy[i];
			fix_csum(copy, d.len, h);
		}
	}
	rc = luks_open(dev_read, &d, d.size, "key", 3, &v, err, sizeof(err));
	if (rc > 0 || (rc && (v || !memchr(err, '\0', sizeof(err)) || !err[0])))
		abort();
	if (!rc) {
		/* A volume that opened must en/decrypt its first sector. */
		memset(buf, 0, sizeof(buf));
		if (luks_sector_size(v) <= sizeof(buf) &&
		    luks_payload_size(v) >= luks_sector_size(v) &&
		    luks_encrypt(v, 0, buf, luks_sector_size(v)))
			abort();
	}
	luks_close(v);
	free(copy);
	return 0;
}
