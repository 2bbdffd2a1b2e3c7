/* Encrypted disks: a LUKS volume (luks.h) between the request pipeline and
 * any storage engine (backend.h).  blk_backend_crypt is a backing-only ops
 * table: its backing wraps the engine's own backing of the image and a
 * luks_volume, so aio, uring, null and the remote engines serve LUKS
 * images without knowing it.  Engine calls (commit, reap, ...) stay with
 * the inner engine, which the loop drives as before.
 *
 * Reads go to the inner backing at payload offset + off and are decrypted
 * in place in the guest's pages when they complete (dm-crypt's
 * kcryptd_crypt_read_convert); writes are encrypted into bounce pages of a
 * bounded per-disk pool and the pages written (dm-crypt's
 * crypt_alloc_buffer): never in place, the guest may change its pages
 * under us and must never see ciphertext.  Flush passes through; discard
 * only when the disk allows it (cfg.discard). */
#ifndef PVD_BLKBACK_CRYPT_H
#define PVD_BLKBACK_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* Bounce pages per disk (4 KiB each): 4 MiB, 32 requests of 128 KiB
 * (Linux blkfront's default) or four of 1 MiB.  Allocated as used, in
 * chunks, and kept until the disk closes. */
#define BLK_CRYPT_POOL_PAGES 1024u
/* Requests in flight per disk; more wait in the disk's FIFO. */
#define BLK_CRYPT_REQS 128u
/* Longest passphrase read from a key file (cryptsetup's interactive
 * maximum is 512 characters; a key file of random bytes is usually 64
 * to 4096). */
#define BLK_CRYPT_KEY_MAX 8192u

extern const struct blk_backend_ops blk_backend_crypt;

struct blk_crypt_cfg {
	const char *keyfile;    /* the passphrase: root's (or ours), no group/other bits */
	bool discard;           /* pass discards through */
	unsigned pool_pages;    /* 0: BLK_CRYPT_POOL_PAGES */
};

/* What block-list and stats show (never a key). */
struct blk_crypt_desc {
	int version;            /* LUKS 1 or 2 */
	const char *cipher;     /* "aes-xts-plain64" */
	unsigned key_bits;
	unsigned sector_size;   /* encryption sector: 512 or up to 4096 */
	uint64_t payload_offset;
	bool discard;
	uint64_t bounce_waits;  /* writes that waited for bounce pages */
};

/* Opens the LUKS volume on params: the header is read through a private
 * instance of iops (an engine and a backing of its own, closed again),
 * then the volume wraps inner (opened by the caller on the loop's engine
 * from iops, with iinfo).  On success *out owns inner; on failure the
 * caller still does, and err holds one line naming the cause ("no
 * keyslot opens with this key", "key file ...: mode 0644 ...").
 * info: size = the payload, lbs = the encryption sector. */
int blk_crypt_open(const struct blk_backend_ops *iops, const char *params,
		   struct blk_backing *inner, const struct blk_backing_info *iinfo,
		   const struct blk_crypt_cfg *cfg, struct blk_backing **out,
		   struct blk_backing_info *info, char *err, size_t errlen);
/* b must be a blk_backend_crypt backing. */
void blk_crypt_describe(const struct blk_backing *b, struct blk_crypt_desc *d);

/* Reads the key file at path into buf (mlock'ed by the caller): refuses
 * anything but a regular file of root's or ours without group or other
 * permissions, an empty one, and one over cap bytes.  The length, or
 * -errno with err filled. */
int blk_crypt_read_key(const char *path, void *buf, size_t cap, char *err,
		       size_t errlen);

#endif
