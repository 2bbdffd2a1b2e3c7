/* LUKS1 and LUKS2 volumes (cryptsetup's on-disk formats, as written by
 * cryptsetup luksFormat and qemu-img create -f luks): the header parsed
 * as hostile input, a keyslot unlocked with a passphrase (PBKDF2 through
 * OpenSSL; argon2i/argon2id through libargon2 for LUKS2), the
 * anti-forensic split merged, the master key checked against the
 * header's digest, and sectors en/decrypted through OpenSSL's EVP
 * interface (aes-xts-plain64, aes-cbc-essiv:sha256, ...).
 *
 * This module knows nothing of rings, engines or files: the header is
 * read through a callback, sectors are buffers.  The master key lives in
 * locked memory (mlock) and is wiped by luks_close(); it is never logged.
 *
 * A volume is used by one thread at a time (it holds OpenSSL contexts).
 */
#ifndef PVD_BLKBACK_LUKS_H
#define PVD_BLKBACK_LUKS_H

#include <stddef.h>
#include <stdint.h>

struct luks_volume;

/* Reads len bytes at byte offset off of the device into buf: 0, or
 * -errno (a short read is -EIO). */
typedef int luks_read_fn(void *arg, uint64_t off, void *buf, size_t len);

/* Opens the volume on a device of dev_size bytes with the passphrase
 * (key file contents, bytes as they are).  0, or -errno with err filled
 * with one line for the operator, e.g. "no keyslot opens with this key"
 * (-EPERM), "unsupported cipher serpent-cbc-plain" (-ENOTSUP), "corrupt
 * LUKS2 header: ..." (-EINVAL), "not a LUKS volume" (-EINVAL). */
int luks_open(luks_read_fn *rd, void *arg, uint64_t dev_size,
	      const void *pass, size_t passlen, struct luks_volume **out,
	      char *err, size_t errlen);
/* Wipes the keys and frees; NULL is fine. */
void luks_close(struct luks_volume *v);

int luks_version(const struct luks_volume *v);              /* 1 or 2 */
/* "aes-xts-plain64", "aes-cbc-essiv:sha256": cryptsetup's spelling. */
const char *luks_cipher(const struct luks_volume *v);
unsigned luks_key_bits(const struct luks_volume *v);        /* master key */
uint64_t luks_payload_offset(const struct luks_volume *v);  /* bytes */
/* Bytes of payload: dev_size less the offset (LUKS2: the segment's size
 * when it is not "dynamic"). */
uint64_t luks_payload_size(const struct luks_volume *v);
/* The encryption sector: 512, or LUKS2's sector_size (up to 4096).
 * Every luks_encrypt/decrypt covers whole sectors of this size. */
unsigned luks_sector_size(const struct luks_volume *v);

/* En/decrypts len bytes in place; off is the byte offset in the payload
 * (0 = first byte after the header), a multiple of luks_sector_size, as
 * is len.  The IV of each sector follows the image's scheme (plain64,
 * essiv) as dm-crypt computes it.  0, or -EINVAL for a misaligned
 * request, -EIO if OpenSSL fails. */
int luks_encrypt(struct luks_volume *v, uint64_t off, void *buf, size_t len);
int luks_decrypt(struct luks_volume *v, uint64_t off, void *buf, size_t len);

#endif
